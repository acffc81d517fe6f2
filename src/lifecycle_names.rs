//! The `msgType`s of the events the logger writes about itself, so a reader can pick them out
//! of a trail (or leave them out) without spelling the strings.
//!
//! Every audit target gets `audit-logger-start` first when the logger is built,
//! `audit-config-change` / `audit-config-change-refused` for each reload, `audit-heartbeat`
//! every `heartbeat`, and `audit-logger-stop` when the [`Handle`](crate::Handle) drops: all
//! [`LOGGER`] (`dku.audit.generic`) events at `INFO` in the standard envelope, `msgType` first
//! (see [the configuration guide](crate::guide::configuration)).
//!
//! ```
//! use log4rs_audit::{audit, lifecycle, AuditConfig};
//!
//! let dir = tempfile::tempdir()?;
//! let config = |dir: &std::path::Path| AuditConfig::from_yaml(&format!(
//!     "appenders:\n  a: {{ kind: audit_file, path: '{}/audit.log' }}\n\
//!      loggers:\n  dku.audit: {{ level: info, appenders: [a], additive: false }}\n",
//!     dir.display()), None);
//! let handle = log4rs_audit::init_config(config(dir.path())?)?;
//! audit!(generic, "dataset-export", authUser = "alice");
//!
//! // A second pipeline is refused before it is built: its trail gets no start (nor stop).
//! let other = tempfile::tempdir()?;
//! let refused = log4rs_audit::init_config(config(other.path())?).unwrap_err();
//! assert!(matches!(refused, log4rs_audit::InitError::AlreadyInstalled(_)));
//! assert!(!other.path().join("audit.log").exists());
//!
//! drop(handle); // writes audit-logger-stop, then flushes
//!
//! let trail = std::fs::read_to_string(dir.path().join("audit.log"))?;
//! let msg_types: Vec<String> = trail
//!     .lines()
//!     .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
//!     .map(|e| e["message"]["msgType"].as_str().unwrap_or_default().to_owned())
//!     .collect();
//! assert_eq!(msg_types, [lifecycle::START, "dataset-export", lifecycle::STOP]);
//!
//! // The application's own events: everything but the logger's.
//! let app: Vec<&String> = msg_types.iter().filter(|t| !lifecycle::is_lifecycle(t)).collect();
//! assert_eq!(app, ["dataset-export"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

/// The logger lifecycle events are written under (topic `generic`).
pub const LOGGER: &str = "dku.audit.generic";

/// `msgType` of the event written to each audit target when a logger is built (`init_*`,
/// `AuditLogger::new`, `AuditLayer`): the first line it writes there.
pub const START: &str = "audit-logger-start";
/// `msgType` of the event written when a reload is applied.
pub const CONFIG_CHANGE: &str = "audit-config-change";
/// `msgType` of the event written when a reload is refused (unreadable or invalid, or
/// lowering coverage under `lock: true`).
pub const CONFIG_CHANGE_REFUSED: &str = "audit-config-change-refused";
/// `msgType` of the event written every `heartbeat`.
pub const HEARTBEAT: &str = "audit-heartbeat";
/// `msgType` of the event written when the [`Handle`](crate::Handle) is dropped (the orderly
/// shutdown): the last of the logger's own events in a trail.
pub const STOP: &str = "audit-logger-stop";

/// Every lifecycle `msgType`, in the order a trail meets them.
pub const ALL: [&str; 5] = [START, CONFIG_CHANGE, CONFIG_CHANGE_REFUSED, HEARTBEAT, STOP];

/// Whether `msg_type` is one of the logger's own events.
///
/// ```
/// use log4rs_audit::lifecycle;
///
/// assert!(lifecycle::is_lifecycle(lifecycle::START));
/// assert!(lifecycle::is_lifecycle("audit-heartbeat"));
/// assert!(!lifecycle::is_lifecycle("dataset-export"));
/// ```
pub fn is_lifecycle(msg_type: &str) -> bool {
    ALL.contains(&msg_type)
}
