//! Appenders and the file machinery beneath them.

mod file;
pub mod roll;
mod sink;

pub use file::{
    expand_env, AuditFileAppender, AuditFileAppenderDeserializer, FileConfig, FileOptions,
    DEFAULT_BUFFER_SIZE, DEFAULT_FLUSH_INTERVAL, DEFAULT_MAX_BACKUPS,
};
pub use sink::{Durability, Fsync};
