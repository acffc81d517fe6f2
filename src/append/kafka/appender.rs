//! The `kafka` appender itself: formats on the caller, appends to the spool, reports stats.

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::Ordering;

use log::kv::Key;
use log::Record;
use log4rs::append::Append;

use super::config::{self, KafkaConfig, KafkaKey, KafkaPayload};
use super::producer::{self, KafkaDelivery};
use super::record;
use crate::encode::AuditEnvelopeEncoder;
use crate::event::{Topic, ROUTING_KEY_KEY};
use crate::spool::channel::Channel;

thread_local! {
    static SCRATCH: RefCell<(Vec<u8>, String)> = RefCell::new((Vec::with_capacity(1024), String::new()));
}

/// Delivery counters of a [`KafkaAppender`] since it started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KafkaStats {
    /// Messages whose delivery Kafka confirmed.
    pub delivered: u64,
    /// Deliveries that failed and were queued for another attempt.
    pub failed: u64,
    /// Messages given up on and written to the dead-letter file.
    pub dead_lettered: u64,
    /// Messages in the spool not yet delivered.
    pub pending: u64,
    /// The last delivery problem, cleared once everything pending was delivered.
    pub last_error: Option<String>,
}

/// Sends audit events to Kafka; the appender kind `kafka`. See the [module docs](super) and
/// [`KafkaConfig`].
pub struct KafkaAppender {
    checked: config::ValidKafkaConfig,
    encoder: AuditEnvelopeEncoder,
    channel: Channel<KafkaDelivery>,
}

impl fmt::Debug for KafkaAppender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaAppender")
            .field("brokers", &self.checked.brokers)
            .field("spool_dir", &self.channel.dir())
            .finish_non_exhaustive()
    }
}

/// librdkafka properties: this crate's defaults, then the user's.
fn client_properties(c: &config::ValidKafkaConfig) -> Vec<(String, String)> {
    config::client_properties(c.delivery_timeout, &c.properties)
}

impl KafkaAppender {
    pub(super) fn start(checked: config::ValidKafkaConfig) -> anyhow::Result<KafkaAppender> {
        // Let librdkafka check the properties now, so a typo is a config error.
        let mut probe = rdkafka::ClientConfig::new();
        for (k, v) in client_properties(&checked) {
            probe.set(k, v);
        }
        probe
            .create_native_config()
            .map_err(|e| anyhow::anyhow!("properties: {e}"))?;
        let settings = producer::Settings {
            brokers: checked.brokers.clone(),
            client: client_properties(&checked),
            retry_max: checked.retry_max,
            flush_timeout: checked.flush_timeout,
        };
        let channel = Channel::join(checked.spool.clone(), settings)?;
        Ok(KafkaAppender {
            encoder: AuditEnvelopeEncoder::new(checked.timezone),
            checked,
            channel,
        })
    }

    /// Delivery counters of this appender's spool (shared by every appender of the same
    /// `spool_dir`).
    pub fn stats(&self) -> KafkaStats {
        let shared = self.channel.shared();
        KafkaStats {
            delivered: shared.target.delivered.load(Ordering::Relaxed),
            failed: shared.target.failed.load(Ordering::Relaxed),
            dead_lettered: shared.target.dead_lettered.load(Ordering::Relaxed),
            pending: self.channel.pending(),
            last_error: shared.last_error.lock().clone(),
        }
    }

    /// The spool directory (canonical).
    pub fn spool_dir(&self) -> &std::path::Path {
        self.channel.dir()
    }

    /// Writes the spool record of `record` into `out`.
    fn format(&self, out: &mut Vec<u8>, text: &mut String, record: &Record) -> anyhow::Result<()> {
        let c = &self.checked;
        let logger = record.target();
        let audit_topic: std::borrow::Cow<str> = match Topic::from_logger_name(logger)
            .or_else(|| logger.strip_prefix("dku::audit::")?.parse().ok())
        {
            Some(t) => t.wire_name().into(),
            None => logger.replace("::", ".").into(),
        };
        let topic = c.topic.join(&audit_topic);
        if !config::valid_topic(&topic) {
            anyhow::bail!("logger `{logger}` makes `{topic}`, not a Kafka topic name");
        }
        let routing_key = record
            .key_values()
            .get(Key::from_str(ROUTING_KEY_KEY))
            .map(|v| {
                text.clear();
                match v.to_borrowed_str() {
                    Some(s) => text.push_str(s),
                    None => {
                        use std::fmt::Write;
                        let _ = write!(text, "{v}");
                    }
                }
                text.as_str()
            });
        record::header(
            out,
            &topic,
            &audit_topic,
            routing_key,
            c.key == KafkaKey::RoutingKey,
        );
        match c.payload {
            KafkaPayload::Envelope => {
                self.encoder.encode_into(out, record);
                if out.last() == Some(&b'\n') {
                    out.pop();
                }
            }
            KafkaPayload::Message => crate::encode::write_message_json(out, record),
        }
        Ok(())
    }
}

impl Append for KafkaAppender {
    /// Formats the message and spools it; an error if it cannot be spooled.
    fn append(&self, record: &Record) -> anyhow::Result<()> {
        crate::local::with_local(&SCRATCH, |(out, text)| {
            out.clear();
            self.format(out, text, record)?;
            let r = self.channel.submit(out);
            if out.capacity() > 1 << 20 {
                *out = Vec::with_capacity(1024);
            }
            r.map(drop)
                .map_err(|e| anyhow::anyhow!("kafka event not spooled: {e}"))
        })
    }

    /// Waits (at most `flush_timeout`) until every message spooled before the call was
    /// delivered; what is left stays in the spool (reported on stderr).
    fn flush(&self) {
        self.channel.flush_or_warn();
    }
}

crate::config::remote_kind!(
    /// The `kafka` appender kind.
    KafkaAppenderDeserializer,
    "kafka",
    KafkaConfig,
    super::log4j::CLASSES
);
