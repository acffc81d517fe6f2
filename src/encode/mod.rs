//! Encoders: the standard audit envelope and its building blocks.

mod envelope;
pub mod json;
mod timestamp;

pub use envelope::{
    AuditEnvelopeConfig, AuditEnvelopeEncoder, AuditEnvelopeEncoderDeserializer, TEXT_KEY,
};
pub use timestamp::{
    format_timestamp, write_timestamp, Clock, FixedClock, InvalidTimezone, SystemClock, Timezone,
};
