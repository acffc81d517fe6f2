//! Appenders and the file machinery beneath them: `audit_file`, `event_server`, `null`.

pub mod event_server;
mod file;
mod null;
pub mod roll;
mod sink;

pub use event_server::{
    EventServerAppender, EventServerAppenderDeserializer, EventServerConfig, EventServerStats,
};
pub use file::{
    expand_env, AuditFileAppender, AuditFileAppenderDeserializer, FileConfig, FileOptions,
    DEFAULT_BUFFER_SIZE, DEFAULT_FLUSH_INTERVAL, DEFAULT_MAX_BACKUPS,
};
pub use null::{NullAppender, NullAppenderDeserializer};
pub use sink::{Durability, Fsync};
