//! Errors reported while logging (not returned to the caller of `log::info!`, which cannot
//! take them), and the handler they go to.

use std::sync::Arc;

use crate::config::{ConfigError, Located};

/// A problem met while the logger runs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
    /// An `async` appender with `when_full: drop` dropped events: reported directly (not as an
    /// event through the wrapped target, which may refuse it), every one counted, by shutdown.
    #[error(
        "async appender ({appender}): {count} events dropped: the queue was full (when_full: drop)"
    )]
    Dropped {
        /// What the `async` appender wraps.
        appender: String,
        /// Events dropped since the last report.
        count: u64,
    },
    /// A background writer met a problem no later logging call will return.
    #[error("{0}")]
    Background(String),
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

/// The error handler of one logger and its count, shared with the appenders it built so their
/// background threads report to it directly.
pub(crate) struct Reporter {
    handler: parking_lot::RwLock<ErrorHandler>,
    /// The handler was replaced: it may not print to stderr.
    custom: std::sync::atomic::AtomicBool,
    count: std::sync::atomic::AtomicU64,
}

impl Reporter {
    pub(crate) fn new() -> Reporter {
        Reporter {
            handler: parking_lot::RwLock::new(default_handler()),
            custom: std::sync::atomic::AtomicBool::new(false),
            count: std::sync::atomic::AtomicU64::new(0),
        }
    }

    pub(crate) fn report(&self, error: AuditError) {
        if !matches!(error, AuditError::ConfigWarning(_)) {
            self.count
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let handler = self.handler.read().clone();
        handler(&error);
    }

    pub(crate) fn set_handler(&self, handler: ErrorHandler) {
        *self.handler.write() = handler;
        self.custom
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Reports `error` and makes sure it is on stderr too (the default handler prints it).
    pub(crate) fn report_and_print(&self, error: AuditError) {
        if self.custom.load(std::sync::atomic::Ordering::Relaxed) {
            eprintln!("log4rs-audit: {error}");
        }
        self.report(error);
    }

    pub(crate) fn count(&self) -> u64 {
        self.count.load(std::sync::atomic::Ordering::Relaxed)
    }
}

thread_local! {
    static BUILDING: std::cell::RefCell<Option<Arc<Reporter>>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` (building a logger's appenders) with `reporter` as the one they report to.
pub(crate) fn building_with<R>(reporter: &Arc<Reporter>, f: impl FnOnce() -> R) -> R {
    let previous = BUILDING.with(|b| b.borrow_mut().replace(Arc::clone(reporter)));
    let result = f();
    BUILDING.with(|b| *b.borrow_mut() = previous);
    result
}

/// The reporter of the logger whose appenders are being built on this thread, if any.
pub(crate) fn building_reporter() -> Option<Arc<Reporter>> {
    BUILDING.with(|b| b.borrow().clone())
}
