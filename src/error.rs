//! Errors reported while logging (not returned to the caller of `log::info!`, which cannot
//! take them), and the handler they go to.

use std::sync::Arc;

use crate::config::{ConfigError, Located};

/// A problem met while the logger runs.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// An appender failed to take an event (the event is named by the appender's error).
    #[error("appender `{appender}`: {error:#}")]
    Append {
        /// The appender's name.
        appender: String,
        /// Why.
        error: anyhow::Error,
    },
    /// An event no target may write (a key given twice, nesting too deep); nothing of it was
    /// written anywhere.
    #[error("event of logger `{logger}` refused: {why}")]
    Refused {
        /// The record's target.
        logger: String,
        /// Why, naming the key.
        why: String,
    },
    /// A changed config file could not be used; the running config stays.
    #[error("config not reloaded, keeping the running one: {0}")]
    Reload(ConfigError),
    /// A config was used, but part of it was left out or read with a default.
    #[error("warning: {0}")]
    ConfigWarning(Located),
}

/// Receives every [`AuditError`]; the default prints it to stderr.
pub type ErrorHandler = Arc<dyn Fn(&AuditError) + Send + Sync>;

/// Prints errors to stderr, prefixed with the crate name.
pub fn default_handler() -> ErrorHandler {
    Arc::new(|e| eprintln!("log4rs-audit: {e}"))
}
