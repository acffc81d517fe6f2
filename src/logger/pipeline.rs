//! The installed audit pipeline, which [`audit!`](crate::audit) reaches without going through
//! `log`.
//!
//! `log` lets any code in the process turn a record away before a logger sees it:
//! `log::set_max_level(LevelFilter::Off)` at run time, `max_level_*` / `release_max_level_*`
//! features at build time, or another global logger (tracing's `LogTracer`) installed first.
//! An audit trail must not depend on any of them, so the first front door installed
//! ([`crate::init_config`] and friends, or `AuditLayer` (feature `tracing`)) registers its
//! logger here once, for the life of the process, and `audit!` hands its record to it
//! directly. Only the audit config (its `dku.audit` loggers, levels and targets) then decides
//! where the event goes. Plain `log::info!(target: "dku.audit.…")` calls still take the `log`
//! path, as any `log` record does.

use std::sync::OnceLock;

use log::{Log, Record};

use super::AuditLogger;

/// The installed pipeline and how `audit!` events reach it.
struct Pipeline {
    logger: AuditLogger,
    /// Installed by the tracing Layer: the spans each thread entered, whose fields `audit!`
    /// events also take as their MDC, as the Layer's own events do.
    #[cfg(feature = "tracing")]
    spans: Option<std::sync::Arc<crate::layer::Entered>>,
}

static PIPELINE: OnceLock<Pipeline> = OnceLock::new();

/// Another audit pipeline is installed already; `audit!` keeps going to that one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an audit pipeline is already installed in this process (by init_file, init_config, init_default, AuditLogger::install or AuditLayer)")]
pub struct AlreadyInstalled;

/// Whether a pipeline is installed.
pub(crate) fn is_installed() -> bool {
    PIPELINE.get().is_some()
}

/// Makes `logger` the destination of every `audit!` event from now on; fails if another one
/// is installed (the first stays: nothing can swap the trail away once it runs).
pub(crate) fn install(logger: AuditLogger) -> Result<(), AlreadyInstalled> {
    PIPELINE
        .set(Pipeline {
            logger,
            #[cfg(feature = "tracing")]
            spans: None,
        })
        .map_err(|_| AlreadyInstalled)
}

/// [`install`] for the tracing Layer, whose entered spans give `audit!` events their context.
#[cfg(feature = "tracing")]
pub(crate) fn install_layer(
    logger: AuditLogger,
    entered: std::sync::Arc<crate::layer::Entered>,
) -> Result<(), AlreadyInstalled> {
    PIPELINE
        .set(Pipeline {
            logger,
            spans: Some(entered),
        })
        .map_err(|_| AlreadyInstalled)
}

/// After a reload: tracing caches the most verbose level any layer wants, so an
/// `AuditLayer`'s new levels are asked for again (a no-op in a process without tracing
/// callsites; reloads are rare).
pub(crate) fn config_changed() {
    #[cfg(feature = "tracing")]
    tracing_core::callsite::rebuild_interest_cache();
}

/// Delivers an `audit!` record: to the installed pipeline whatever `log`'s levels say, or,
/// when none is installed, to `log`'s global logger as `log::info!` would have.
pub(crate) fn dispatch(record: &Record) {
    match PIPELINE.get() {
        Some(pipeline) => {
            #[cfg(feature = "tracing")]
            if let Some(entered) = &pipeline.spans {
                return entered.deliver(|| pipeline.logger.log(record));
            }
            pipeline.logger.log(record)
        }
        None => {
            let level = record.level();
            if level <= log::STATIC_MAX_LEVEL && level <= log::max_level() {
                log::logger().log(record);
            }
        }
    }
}
