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

use std::cell::RefCell;
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use thread_local::ThreadLocal;
use tracing_core::span::{Attributes, Id, Record as SpanRecord};
use tracing_core::{Event, Interest, Level, LevelFilter, Metadata, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, Registry, SpanRef};
use tracing_subscriber::Layer;

use crate::context::{self, SpanContext};
use crate::logger::{pipeline, AuditLogger};
use crate::{AlreadyInstalled, AuditConfig, Handle, InitError};
use fields::{EventFields, SpanFields};

/// Counts field recordings into existing spans (`span.record(…)`), process-wide: a span
/// context built before the latest one may miss a parent's new value and is rebuilt at use.
static EPOCH: AtomicU64 = AtomicU64::new(1);

fn epoch() -> u64 {
    EPOCH.load(Ordering::Acquire)
}

/// The spans each thread has entered under this Layer's subscriber, innermost last, each with
/// the context its events get: an event's context is the top's, with no lookup in the span
/// store (which costs more than the rest of the event).
#[derive(Default)]
pub(crate) struct Entered {
    stacks: ThreadLocal<RefCell<Stack>>,
}

/// One thread's entered spans, innermost last.
type Stack = Vec<(Id, Arc<SpanContext>)>;

impl Entered {
    fn push(&self, id: &Id, context: Arc<SpanContext>) {
        self.stacks
            .get_or_default()
            .borrow_mut()
            .push((id.clone(), context));
    }

    /// Removes `id`'s innermost entry (spans may be exited out of order).
    fn pop(&self, id: &Id) {
        let mut stack = self.stacks.get_or_default().borrow_mut();
        if let Some(i) = stack.iter().rposition(|(e, _)| e == id) {
            stack.remove(i);
        }
    }

    /// The innermost entered span and its context.
    fn top(&self) -> Option<(Id, Arc<SpanContext>)> {
        self.stacks.get()?.try_borrow().ok()?.last().cloned()
    }

    /// The current span's context for an `audit!` event: the top's, rebuilt through the
    /// current subscriber (if it is a `Registry`) when a field was recorded since.
    pub(crate) fn deliver<R>(&self, deliver: impl FnOnce() -> R) -> R {
        let context = match self.top() {
            Some((_, c)) if c.epoch == epoch() => Some(c),
            Some((id, _)) => tracing_core::dispatcher::get_default(|dispatch| {
                let registry = dispatch.downcast_ref::<Registry>()?;
                Some(context_of(&registry.span(&id)?))
            }),
            None => None,
        };
        match context {
            Some(c) if !c.is_empty() => context::with_span_context(c, deliver),
            _ => deliver(),
        }
    }
}

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
/// let trail = std::fs::read_to_string(dir.path().join("audit.log"))?;
/// // The logger's own `audit-logger-start` comes first, then the event.
/// let mut lines = trail.lines();
/// assert!(lines.next().unwrap().contains(&format!(r#""msgType":"{}""#, log4rs_audit::lifecycle::START)));
/// let line = lines.next().unwrap();
/// assert!(line.starts_with(r#"{"severity":"INFO","logger":"dku.audit.generic","message":{"msgType":"login","authUser":"bob","attempts":1},"mdc":{"apiCall":"/api/login","user":"bob"},"callTime":"#));
/// assert_eq!(lines.next(), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct AuditLayer {
    logger: AuditLogger,
    entered: Arc<Entered>,
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
        let layer = AuditLayer::from_logger(logger);
        pipeline::install_layer(layer.logger.clone(), Arc::clone(&layer.entered))?;
        Ok((layer, handle))
    }

    /// A Layer over `logger` that is not installed as the pipeline `audit!` reaches: for a
    /// second subscriber beside the process-wide one, or a test's `with_default`.
    pub fn from_logger(logger: AuditLogger) -> AuditLayer {
        AuditLayer {
            logger,
            entered: Arc::default(),
        }
    }

    /// Turns `event` into a record and delivers it, if the audit config routes it.
    fn deliver(&self, event: &Event<'_>, context: impl FnOnce() -> Option<Arc<SpanContext>>) {
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
            let send = || match fields.message() {
                "" => log(format_args!("")),
                message => log(format_args!("{message}")),
            };
            match context() {
                Some(c) if !c.is_empty() => context::with_span_context(c, send),
                _ => send(),
            }
        });
    }
}

thread_local! {
    static EVENT_FIELDS: RefCell<EventFields> = RefCell::new(EventFields::default());
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

/// The context of `span`'s events: the one kept in its extensions, rebuilt from the root (and
/// kept again) if a field was recorded into some span since it was built.
fn context_of<'a, R: LookupSpan<'a>>(span: &SpanRef<'a, R>) -> Arc<SpanContext> {
    let now = epoch();
    if let Some(fields) = span.extensions().get::<SpanFields>() {
        if let Some(context) = fields.context.as_ref().filter(|c| c.epoch == now) {
            return Arc::clone(context);
        }
    }
    let mut context: Option<Arc<SpanContext>> = None;
    for s in span.scope().from_root() {
        let mut extensions = s.extensions_mut();
        let Some(fields) = extensions.get_mut::<SpanFields>() else {
            continue;
        };
        let rebuilt = child_context(context, fields, now);
        fields.context = Some(Arc::clone(&rebuilt));
        context = Some(rebuilt);
    }
    context.unwrap_or_else(|| Arc::new(SpanContext::empty(now)))
}

/// The context of a span with `own` fields under `parent`'s: the parent's itself when the span
/// adds nothing (no copy per span).
fn child_context(
    parent: Option<Arc<SpanContext>>,
    own: &SpanFields,
    epoch: u64,
) -> Arc<SpanContext> {
    match parent {
        Some(parent) if own.adds_nothing() => parent,
        parent => Arc::new(SpanContext::child(
            parent.as_deref(),
            &own.entries,
            own.call_start,
            epoch,
        )),
    }
}

impl<S> Layer<S> for AuditLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // Never a filter for the other layers (and never asked per event): which events the
        // config routes, which a reload may change, is decided in `on_event`.
        Interest::always()
    }

    fn enabled(&self, _: &Metadata<'_>, _: Context<'_, S>) -> bool {
        true
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(tracing_level(self.logger.max_level()))
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut fields = SpanFields::new();
        attrs.record(&mut fields);
        let now = epoch();
        let parent = span.parent().map(|p| context_of(&p));
        fields.context = Some(child_context(parent, &fields, now));
        span.extensions_mut().insert(fields);
    }

    fn on_record(&self, id: &Id, values: &SpanRecord<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        // Every context built so far may hold this span's old values: rebuilt at use.
        EPOCH.fetch_add(1, Ordering::AcqRel);
        let mut extensions = span.extensions_mut();
        if let Some(fields) = extensions.get_mut::<SpanFields>() {
            values.record(fields);
            fields.context = None; // rebuilt by `context_of`
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            self.entered.push(id, context_of(&span));
        }
    }

    fn on_exit(&self, id: &Id, _: Context<'_, S>) {
        self.entered.pop(id);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        self.deliver(event, || {
            if event.is_contextual() {
                let (id, context) = self.entered.top()?;
                if context.epoch == epoch() {
                    return Some(context);
                }
                ctx.span(&id).map(|s| context_of(&s))
            } else {
                ctx.span(event.parent()?).map(|s| context_of(&s))
            }
        });
    }
}
