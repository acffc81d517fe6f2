//! The `kafka` appender (cargo feature `kafka`; its log4j classes are read without it): audit events to Kafka through librdkafka
//! (`rdkafka`, no tokio), one message per event.
//!
//! - **On the caller**: the message (topic with `{topic}` replaced, key, headers `audit-topic`
//!   and `routing-key`, value = the envelope line or the event object) is appended to a durable
//!   spool ([`crate::spool::Spool`]); the caller never waits on the network.
//! - **The producer thread** reads the spool in order and hands each message to a
//!   `ThreadedProducer` with idempotence on and `acks=all` (librdkafka retries within
//!   `delivery_timeout` and keeps the order per partition). Every delivery report is checked:
//!   a record leaves the spool only once it and every record before it were delivered.
//! - **No silent loss**: a delivery that finally fails (broker down past `delivery_timeout`,
//!   unknown topic, …) is counted ([`KafkaStats::failed`]), reported on stderr and in
//!   [`KafkaStats::last_error`], and attempted again with exponential backoff (100 ms up to
//!   `retry_max`) while the record stays in the spool; newer records wait in the spool until it
//!   was sent again. After a fatal error of the idempotent producer a new producer is started
//!   and what the old one held is sent again. Errors no retry can fix (message too
//!   large, invalid topic, not authorized) send the message to the spool's dead-letter file,
//!   `dead-letter.ndjson`, the Event Server target's format ([`KafkaStats::dead_lettered`]).
//!   Delivery is **at-least-once**: a message retried after a failure the broker did in fact
//!   take, or resent after a restart, can arrive twice.
//! - `flush()` and shutdown wait (at most `flush_timeout`) until every spooled message was
//!   delivered; what is left stays in the spool for the next start.

#[cfg(feature = "kafka")]
mod appender;
#[cfg(feature = "kafka")]
pub(crate) mod config;
pub(crate) mod log4j;
#[cfg(feature = "kafka")]
mod producer;
#[cfg(feature = "kafka")]
mod record;

#[cfg(feature = "kafka")]
pub(crate) use appender::KIND;
#[cfg(feature = "kafka")]
pub use appender::{KafkaAppender, KafkaAppenderDeserializer, KafkaStats};
#[cfg(feature = "kafka")]
pub use config::{KafkaConfig, KafkaKey, KafkaPayload};

/// Kind `kafka` in a build without the `kafka` feature: building it says so.
#[cfg(not(feature = "kafka"))]
pub(crate) const KIND: crate::config::AppenderKind = crate::config::AppenderKind {
    name: "kafka",
    register: |d| d.insert("kafka", NoKafka),
    check: |options, d| {
        d.deserialize::<dyn log4rs::append::Append>("kafka", options)
            .map(drop)
    },
    describe: |options, _| {
        use crate::config::check::{map_get, text};
        let [brokers, topic] =
            ["brokers", "topic"].map(|k| text(map_get(options, k)).unwrap_or_else(|| "-".into()));
        format!("kafka://{brokers}/{topic}")
    },
    path: |_| None,
    log4j: log4j::CLASSES,
};

/// Kind `kafka` in a build without the `kafka` feature: a clear error instead of "unknown kind".
#[cfg(not(feature = "kafka"))]
struct NoKafka;

#[cfg(not(feature = "kafka"))]
impl log4rs::config::Deserialize for NoKafka {
    type Trait = dyn log4rs::append::Append;
    type Config = serde_value::Value;

    fn deserialize(
        &self,
        _: serde_value::Value,
        _: &log4rs::config::Deserializers,
    ) -> anyhow::Result<Box<dyn log4rs::append::Append>> {
        anyhow::bail!(
            "appender kind `kafka`: log4rs-audit was built without the `kafka` feature (cargo build --features kafka)"
        )
    }
}

#[cfg(all(test, not(feature = "kafka")))]
mod tests {
    #[test]
    fn kafka_without_the_feature_is_a_clear_error() {
        let e = crate::config::deserializers()
            .deserialize::<dyn log4rs::append::Append>("kafka", serde_value::Value::Unit)
            .map(drop)
            .unwrap_err()
            .to_string();
        assert!(e.contains("built without the `kafka` feature"), "{e}");
    }
}
