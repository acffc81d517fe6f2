//! [`AuditLayer`]: the audit pipeline as a `tracing_subscriber::Layer` (feature `tracing`).
//!
//! A second front door to the pipeline `init_*` installs: the same config (YAML or
//! `.properties`), appenders, filters and encoders, reloaded, flushed and shut down through the
//! same [`Handle`]. An event whose target the audit config routes (`dku.audit.generic` and so
//! on) becomes a `log` record, its fields the record's key-values in their order and JSON
//! types, and goes through the pipeline on the caller's thread as a `log` record does: encoded
//! into the same per-thread buffer, then written. Events the config does not route are left to
//! the other layers.
//!
//! The enclosing spans are the event's context: their fields are MDC entries over the
//! thread's own (innermost wins), and the innermost span with an `apiCall` field started the
//! call `callTime` measures. Spans follow tasks across `.await` and threads, so the context
//! does too. [`audit!`](crate::audit) events get the same context from the current span when
//! the subscriber is built on tracing-subscriber's `Registry`.

mod fields;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::Path;

use tracing_core::span::{Attributes, Id, Record as SpanRecord};
use tracing_core::{Event, Interest, Level, LevelFilter, Metadata, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, Registry, SpanRef};
use tracing_subscriber::Layer;

use crate::context::{self, SpanFields as EventContext};
use crate::logger::{pipeline, AuditLogger};
use crate::{AlreadyInstalled, AuditConfig, Handle, InitError};
use fields::{EventFields, SpanFields};

/// The audit pipeline as a `tracing` Layer; compose it with the service's other layers.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let dir = tempfile::tempdir()?;
/// let config = dir.path().join("audit.yaml");
/// std::fs::write(&config, format!(
///     "appenders:\n  audit: {{ kind: audit_file, path: {}/audit.log }}\n\
///      loggers:\n  dku.audit: {{ level: info, appenders: [audit], additive: false }}\n",
///     dir.path().display()))?;
///
/// let (layer, handle) = log4rs_audit::AuditLayer::from_file(&config)?;
/// let subscriber = tracing_subscriber::registry().with(layer);
/// tracing::subscriber::with_default(subscriber, || {
///     let _call = tracing::info_span!("call", apiCall = "/api/login", user = "bob").entered();
///     tracing::info!(target: "dku.audit.generic", msgType = "login", authUser = "bob", attempts = 1);
/// });
/// handle.flush();
///
/// let line = std::fs::read_to_string(dir.path().join("audit.log"))?;
/// assert!(line.starts_with(r#"{"severity":"INFO","logger":"dku.audit.generic","message":{"msgType":"login","authUser":"bob","attempts":1},"mdc":{"apiCall":"/api/login","user":"bob"},"callTime":"#));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct AuditLayer {
    logger: AuditLogger,
}

impl fmt::Debug for AuditLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLayer").finish_non_exhaustive()
    }
}

impl AuditLayer {
    /// Builds the pipeline from a config file (`.yaml`, `.yml`, `.json` or `.properties`), as
    /// [`crate::init_file`] does, and makes it the one [`audit!`](crate::audit) reaches. With
    /// `refresh_rate` set the file is watched and reloaded as under `init_file`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<(AuditLayer, Handle), InitError> {
        Self::from_config(AuditConfig::from_file(path.as_ref())?)
    }

    /// Builds the pipeline from a config built in code or read elsewhere. Fails if another
    /// audit pipeline (`init_*` or another `AuditLayer`) is installed in this process.
    pub fn from_config(config: AuditConfig) -> Result<(AuditLayer, Handle), InitError> {
        if pipeline::is_installed() {
            return Err(AlreadyInstalled.into());
        }
        let (logger, handle) = AuditLogger::new(config)?;
        pipeline::install(&logger, true)?;
        Ok((AuditLayer { logger }, handle))
    }

    /// A Layer over `logger` that is not installed as the pipeline `audit!` reaches: for a
    /// second subscriber beside the process-wide one, or a test's `with_default`.
    pub fn from_logger(logger: AuditLogger) -> AuditLayer {
        AuditLayer { logger }
    }

    /// Turns `event` into a record and delivers it, if the audit config routes it.
    fn deliver(&self, event: &Event<'_>, scope: impl FnOnce(&mut EventContext)) {
        let normalized = event.normalized_metadata();
        let metadata = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let level = log_level(*metadata.level());
        if !self.logger.routes(metadata.target(), level) {
            return;
        }
        crate::local::with_local(&EVENT_FIELDS, |fields| {
            fields.start(normalized.is_some());
            event.record(fields);
            let kvs = fields.key_values();
            let log = |args: fmt::Arguments<'_>| {
                use log::Log;
                self.logger.log(
                    &log::Record::builder()
                        .args(args)
                        .level(level)
                        .target(metadata.target())
                        .module_path(metadata.module_path())
                        .file(metadata.file())
                        .line(metadata.line())
                        .key_values(&kvs)
                        .build(),
                );
            };
            context::with_span_fields(scope, || match fields.message() {
                "" => log(format_args!("")),
                message => log(format_args!("{message}")),
            });
        });
    }
}

thread_local! {
    static EVENT_FIELDS: std::cell::RefCell<EventFields> = std::cell::RefCell::new(EventFields::default());
}

/// `tracing`'s level as `log`'s.
fn log_level(level: Level) -> log::Level {
    match level {
        Level::ERROR => log::Level::Error,
        Level::WARN => log::Level::Warn,
        Level::INFO => log::Level::Info,
        Level::DEBUG => log::Level::Debug,
        Level::TRACE => log::Level::Trace,
    }
}

/// `log`'s level filter as `tracing`'s.
fn tracing_level(level: log::LevelFilter) -> LevelFilter {
    match level {
        log::LevelFilter::Off => LevelFilter::OFF,
        log::LevelFilter::Error => LevelFilter::ERROR,
        log::LevelFilter::Warn => LevelFilter::WARN,
        log::LevelFilter::Info => LevelFilter::INFO,
        log::LevelFilter::Debug => LevelFilter::DEBUG,
        log::LevelFilter::Trace => LevelFilter::TRACE,
    }
}

/// The MDC entries and call start of `span` and its parents, outermost first.
fn fill_from<'a, R: LookupSpan<'a>>(span: SpanRef<'a, R>, context: &mut EventContext) {
    for span in span.scope().from_root() {
        if let Some(fields) = span.extensions().get::<SpanFields>() {
            for (k, v) in &fields.entries {
                context.push(k, v);
            }
            if fields.call_start.is_some() {
                context.call_start = fields.call_start;
            }
        }
    }
}

/// Runs an `audit!` delivery with the current span's context, when the current subscriber is
/// built on tracing-subscriber's `Registry` (which keeps the spans' fields).
pub(crate) fn with_current_spans<R>(deliver: impl FnOnce() -> R) -> R {
    let mut deliver = Some(deliver);
    let done = tracing_core::dispatcher::get_default(|dispatch| {
        let registry = dispatch.downcast_ref::<Registry>()?;
        let current = dispatch.current_span();
        let span = registry.span(current.id()?)?;
        let deliver = deliver.take()?;
        Some(context::with_span_fields(|c| fill_from(span, c), deliver))
    });
    match (done, deliver) {
        (Some(result), _) => result,
        (None, Some(deliver)) => deliver(),
        (None, None) => unreachable!("`deliver` runs exactly once"),
    }
}

impl<S> Layer<S> for AuditLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // Which events the config routes can change with a reload: asked per event.
        Interest::sometimes()
    }

    fn enabled(&self, _: &Metadata<'_>, _: Context<'_, S>) -> bool {
        // Never a filter for the other layers: routing is decided in `on_event`.
        true
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(tracing_level(self.logger.max_level()))
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = SpanFields::default();
        attrs.record(&mut fields);
        if fields.entries.is_empty() {
            return;
        }
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &SpanRecord<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        match extensions.get_mut::<SpanFields>() {
            Some(fields) => values.record(fields),
            None => {
                let mut fields = SpanFields::default();
                values.record(&mut fields);
                extensions.insert(fields);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        self.deliver(event, |context| {
            if let Some(span) = ctx.event_span(event) {
                fill_from(span, context);
            }
        });
    }
}
