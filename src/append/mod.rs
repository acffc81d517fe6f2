//! Appenders and the file machinery beneath them: `audit_file`, `event_server`, `syslog`, `null`, `async`.

pub mod async_appender;
pub mod event_server;
mod file;
#[cfg(feature = "kafka")]
pub mod kafka;
mod null;
pub(crate) mod registry;
pub mod roll;
mod sink;
pub mod syslog;

pub use async_appender::{
    AsyncAppender, AsyncAppenderDeserializer, AsyncConfig, AsyncStats, WhenFull,
};
pub use event_server::{
    EventServerAppender, EventServerAppenderDeserializer, EventServerConfig, EventServerStats,
};
pub use file::{
    expand_env, AuditFileAppender, AuditFileAppenderDeserializer, FileConfig, FileOptions,
    DEFAULT_BUFFER_SIZE, DEFAULT_FLUSH_INTERVAL, DEFAULT_MAX_BACKUPS,
};
#[cfg(feature = "kafka")]
pub use kafka::{
    KafkaAppender, KafkaAppenderDeserializer, KafkaConfig, KafkaKey, KafkaPayload, KafkaStats,
};
pub use null::{NullAppender, NullAppenderDeserializer};
pub use sink::{Durability, Fsync};
pub use syslog::{SyslogAppender, SyslogAppenderDeserializer, SyslogConfig, SyslogStats};
