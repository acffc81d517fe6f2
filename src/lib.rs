//! # log4rs-audit
//!
//! An audit trail on top of `log` and `log4rs`: applications log audit events with
//! [`audit!`] (or plain `log` macros under `dku.audit.<topic>`), and ops decide in a log4rs
//! YAML file where each topic goes. Every event is written as one line of the standard
//! envelope:
//!
//! ```text
//! {"severity":"INFO","logger":"dku.audit.generic","message":{"msgType":"dataset-export",…},"mdc":{"apiCall":"/api/datasets/export","user":"alice"},"callTime":9,"timestamp":"2020-02-19T16:05:02.441+0100"}
//! ```
//!
//! The logger follows log4j's hierarchy (`dku.audit` governs `dku.audit.generic`; `.` and `::`
//! are the same separator) and drives log4rs components, so log4rs's appenders take our
//! encoder and our appenders take log4rs's encoders.
//!
//! ```no_run
//! use log4rs_audit::{audit, CallScope};
//!
//! let _handle = log4rs_audit::init_default()?; // run/audit/audit.log, 100 MB × 20
//! let _call = CallScope::enter("/api/datasets/export").user("alice");
//! audit!(generic, "dataset-export", authUser = "alice", projectKey = "P1", rows = 1200);
//! # Ok::<(), log4rs_audit::InitError>(())
//! ```

#![warn(missing_docs)]

/// The reference pages of `docs/` (the README links them), as rustdoc pages: one per area.
/// Their examples are checked with the doc tests.
pub mod guide {
    #[doc = include_str!("../docs/configuration.md")]
    pub mod configuration {}
    #[doc = include_str!("../docs/targets.md")]
    pub mod targets {}
    #[doc = include_str!("../docs/event-server.md")]
    pub mod event_server {}
    #[doc = include_str!("../docs/integrity.md")]
    pub mod integrity {}
    #[doc = include_str!("../docs/reading.md")]
    pub mod reading {}
    #[doc = include_str!("../docs/log4j.md")]
    pub mod log4j {}
    #[cfg(feature = "tracing")]
    #[doc = include_str!("../docs/tracing.md")]
    pub mod tracing {}
    #[doc = include_str!("../docs/performance.md")]
    pub mod performance {}
    #[doc = include_str!("../docs/dependencies.md")]
    pub mod dependencies {}
}

pub mod append;
mod calendar_names;
pub mod config;
mod context;
mod delivery;
#[cfg(feature = "cli")]
pub mod demo;
pub mod encode;
mod error;
mod event;
pub mod file_mode;
pub mod filter;
pub mod integrity;
#[cfg(feature = "tracing")]
mod layer;
#[path = "lifecycle_names.rs"]
pub mod lifecycle;
mod local;
mod logger;
pub mod protocol;
pub mod query;
pub mod secret;
pub mod server;
pub mod spool;

use std::path::Path;

pub use config::{AuditConfig, ConfigError};
pub use context::{
    call_start, call_time_ms, AuditContext, CallScope, ContextGuard, InAuditContext,
    WithAuditContext, MDC_API_CALL, MDC_USER,
};
pub use error::{AuditError, ErrorHandler};
pub use event::{Topic, UnknownTopic, AUDIT_LOGGER_PREFIX, MSG_TYPE_KEY, ROUTING_KEY_KEY};
pub use file_mode::{FileMode, FileModeError};
#[cfg(feature = "tracing")]
pub use layer::AuditLayer;
pub use logger::{AlreadyInstalled, AppenderDestination, AuditLogger, Handle};

/// What `audit!` expands to; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use log;

    /// Delivers one `audit!` event (level INFO, empty text) to the audit pipeline.
    pub fn emit(
        target: &str,
        kvs: &[(log::kv::Key<'_>, log::kv::Value<'_>)],
        module_path: &'static str,
        file: &'static str,
        line: u32,
    ) {
        crate::logger::pipeline::dispatch(
            &log::Record::builder()
                .args(format_args!(""))
                .level(log::Level::Info)
                .target(target)
                .module_path_static(Some(module_path))
                .file_static(Some(file))
                .line(Some(line))
                .key_values(&kvs)
                .build(),
        );
    }
}

/// Why the logger could not be installed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// The config is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Another `log` logger is already installed.
    #[error("a global logger is already installed: {0}")]
    SetLogger(#[from] log::SetLoggerError),
    /// Another audit pipeline (`init_*` or an `AuditLayer`) is already installed.
    #[error(transparent)]
    AlreadyInstalled(#[from] AlreadyInstalled),
}

/// Installs the logger from a config file (`.yaml`, `.yml` or `.json`). With `refresh_rate`
/// set, the file is watched: a changed valid file replaces the running config, an invalid one
/// is reported (file, line, key) and the running config stays.
pub fn init_file(path: impl AsRef<Path>) -> Result<Handle, InitError> {
    init_config(AuditConfig::from_file(path.as_ref())?)
}

/// Installs the logger from a config built in code or read elsewhere.
///
/// Fails with [`InitError::AlreadyInstalled`] before building anything when an audit pipeline
/// (`init_*` or an `AuditLayer`) is installed already: no file is opened and nothing (not even
/// `audit-logger-start`) is written to the trail of the refused config.
pub fn init_config(config: AuditConfig) -> Result<Handle, InitError> {
    if logger::pipeline::is_installed() {
        return Err(AlreadyInstalled.into());
    }
    let (logger, handle) = AuditLogger::new(config)?;
    logger.install()?;
    Ok(handle)
}

/// Installs the default storage: audit topics to `run/audit/audit.log` (relative to the
/// working directory), rolling at 100 MB with 20 backups.
pub fn init_default() -> Result<Handle, InitError> {
    init_config(AuditConfig::default_storage())
}
