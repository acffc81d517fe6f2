//! Encoders: the standard audit envelope and its building blocks, and log4j 1.2's
//! PatternLayout.

mod envelope;
pub mod json;
pub mod pattern;
mod timestamp;

pub(crate) use envelope::write_message_json;
pub use envelope::{
    AuditEnvelopeConfig, AuditEnvelopeEncoder, AuditEnvelopeEncoderDeserializer, TEXT_KEY,
};
pub(crate) use json::depth as json_depth;
pub use pattern::{
    Log4jPatternConfig, Log4jPatternEncoder, Log4jPatternEncoderDeserializer, PatternError,
    PatternErrorKind, PatternLayoutKind, MAX_WIDTH,
};
pub(crate) use timestamp::replay_now;
pub use timestamp::{
    format_timestamp, write_timestamp, Clock, FixedClock, InvalidTimezone, SystemClock, Timezone,
};
