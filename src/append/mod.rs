//! Appenders and the file machinery beneath them: `audit_file`, `event_server`, `syslog`, `null`, `async`.
//! What several targets share lives here too, not in one of them: the dead-letter file
//! ([`dead_letter`]) and the TLS client settings (`tls.rs`).

pub mod async_appender;
pub mod dead_letter;
pub mod event_server;
pub(crate) mod file;
#[cfg(feature = "kafka")]
pub mod kafka;
#[cfg(not(feature = "kafka"))]
pub(crate) mod kafka;
pub(crate) mod null;
pub(crate) mod registry;
pub mod roll;
mod sink;
pub mod syslog;
mod tls;

/// `$ENV{NAME}` expansion (its home is [`crate::config::expand_env`]).
pub use crate::config::expand_env;
pub use async_appender::{
    AsyncAppender, AsyncAppenderDeserializer, AsyncConfig, AsyncStats, WhenFull,
};
pub use event_server::{
    EventServerAppender, EventServerAppenderDeserializer, EventServerConfig, EventServerStats,
};
pub use file::{
    AuditFileAppender, AuditFileAppenderDeserializer, FileConfig, FileOptions, DEFAULT_BUFFER_SIZE,
    DEFAULT_FLUSH_INTERVAL, DEFAULT_MAX_BACKUPS,
};
#[cfg(feature = "kafka")]
pub use kafka::{
    KafkaAppender, KafkaAppenderDeserializer, KafkaConfig, KafkaKey, KafkaPayload, KafkaStats,
};
pub use null::{NullAppender, NullAppenderDeserializer};
pub use sink::{Durability, Fsync};
pub use syslog::{SyslogAppender, SyslogAppenderDeserializer, SyslogConfig, SyslogStats};
