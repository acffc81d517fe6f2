//! The producer thread: spool → librdkafka's `ThreadedProducer`, checking every delivery report
//! (see the module docs of [`super`]).

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;

use super::record;
use crate::append::dead_letter::{self, DeadItem};
use crate::protocol::wire::NodeId;
use crate::spool::channel::{self, Delivery};
use crate::spool::Spool;

const RETRY_MIN: Duration = Duration::from_millis(100);
const POLL: Duration = Duration::from_millis(20);
const BATCH_MAX_RECORDS: usize = 2000;
const BATCH_MAX_BYTES: usize = 1 << 20;
/// Records handed to librdkafka and not yet reported on; reading the spool pauses above this.
const INFLIGHT_MAX: usize = 100_000;

/// How the producer connects; replaced when a reloaded config joins the spool.
pub(crate) struct Settings {
    pub brokers: String,
    /// librdkafka properties, this crate's defaults first.
    pub client: Vec<(String, String)>,
    pub retry_max: Duration,
    pub flush_timeout: Duration,
}

impl Settings {
    fn key(&self) -> ProducerKey {
        (self.brokers.clone(), self.client.clone())
    }
}

/// The Kafka target's part of a spool's [`Channel`](crate::spool::channel::Channel): its
/// counters, and the delivery reports librdkafka's polling thread hands to the producer thread.
#[derive(Default)]
pub(crate) struct KafkaDelivery {
    pub delivered: AtomicU64,
    /// Deliveries that failed and were queued for another attempt.
    pub failed: AtomicU64,
    /// Messages given up on for good, written to the dead-letter file.
    pub dead_lettered: AtomicU64,
    /// Delivery reports, pushed by librdkafka's polling thread.
    reports: Mutex<Vec<(u64, Result<(), KafkaError>)>>,
}

type Shared = channel::Shared<KafkaDelivery>;

impl Delivery for KafkaDelivery {
    const KIND: &'static str = "kafka";
    const THREAD_NAME: &'static str = "log4rs-audit-kafka";
    type Settings = Settings;

    fn open(_: &Spool) -> anyhow::Result<Self> {
        Ok(KafkaDelivery::default())
    }

    fn run(shared: Arc<Shared>) {
        let node = NodeId::new(shared.spool.node_id().to_owned()).ok();
        Worker {
            spool: Arc::clone(&shared.spool),
            dead_letter: shared.dir.join(dead_letter::FILE_NAME),
            shared,
            node,
            inflight: BTreeMap::new(),
            retry: VecDeque::new(),
            next_retry: Instant::now(),
            backoff: RETRY_MIN,
            highest_read: 0,
        }
        .run()
    }

    fn flush_timeout(settings: &Settings) -> Duration {
        settings.flush_timeout
    }

    fn undelivered(settings: &Settings, left: u64) -> String {
        format!(
            "kafka: {left} messages not yet delivered to {}",
            settings.brokers
        )
    }
}

/// librdkafka's callbacks. Its log lines never go to `log` (this crate's logger may be the one
/// sending them to Kafka): warnings and errors become `last_error`.
struct Context(Arc<Shared>);

impl ClientContext for Context {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        if (level as i32) <= RDKafkaLogLevel::Warning as i32 {
            self.0.set_error(format!("librdkafka {fac}: {message}"));
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.0.set_error(format!("librdkafka: {error}: {reason}"));
    }
}

impl ProducerContext for Context {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, seq: usize) {
        let outcome = match result {
            Ok(_) => Ok(()),
            Err((e, _)) => Err(e.clone()),
        };
        self.0.target.reports.lock().push((seq as u64, outcome));
    }
}

/// Errors retrying cannot fix: the message goes to the dead-letter file.
fn permanent(e: &KafkaError) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        e.rdkafka_error_code(),
        Some(
            C::MessageSizeTooLarge
                | C::InvalidMessageSize
                | C::InvalidMessage
                | C::InvalidTopic
                | C::MessageBatchTooLarge
                | C::InvalidRecord
                | C::TopicAuthorizationFailed
                | C::UnsupportedForMessageFormat
        )
    )
}

struct Worker {
    spool: Arc<Spool>,
    shared: Arc<Shared>,
    dead_letter: PathBuf,
    node: Option<NodeId>,
    /// Handed to librdkafka, waiting for their delivery report: seq → spool record.
    inflight: BTreeMap<u64, Vec<u8>>,
    /// Failed deliveries waiting for another attempt, in order.
    retry: VecDeque<(u64, Vec<u8>)>,
    next_retry: Instant,
    backoff: Duration,
    highest_read: u64,
}

type Kafka = ThreadedProducer<Context>;
/// What a producer was made from: brokers and properties.
type ProducerKey = (String, Vec<(String, String)>);

impl Worker {
    fn connect(&self, settings: &Settings) -> Result<Kafka, KafkaError> {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &settings.brokers);
        for (k, v) in &settings.client {
            config.set(k, v);
        }
        config.create_with_context(Context(Arc::clone(&self.shared)))
    }

    fn run(mut self) {
        self.highest_read = self.shared.acked();
        let mut producer: Option<(Kafka, ProducerKey)> = None;
        while !self.shared.stopping() {
            let settings = self.shared.settings();
            if producer.as_ref().is_some_and(|(_, k)| *k != settings.key()) {
                // A reloaded config changed the destination: finish with the old producer,
                // whatever it did not deliver goes to the new one.
                if let Some((old, _)) = producer.take() {
                    let _ = old.flush(settings.flush_timeout);
                    drop(old);
                }
                self.handle_reports();
                self.requeue_inflight();
            }
            if let Some((_, why)) = producer
                .as_ref()
                .and_then(|(p, _)| p.client().fatal_error())
            {
                // The idempotent producer gave up (a sequence gap it cannot explain, …): that
                // instance refuses every message from now on. Drop it (what it holds comes
                // back as failed) and start a new one; nothing leaves the spool meanwhile.
                let what = format!("kafka producer: fatal error, starting a new one: {why}");
                eprintln!("log4rs-audit: {what}");
                producer = None;
                self.handle_reports();
                self.requeue_inflight();
                self.shared.set_error(what);
            }
            if producer.is_none() {
                match self.connect(&settings) {
                    Ok(p) => producer = Some((p, settings.key())),
                    Err(e) => {
                        self.shared
                            .set_error(format!("kafka producer for {}: {e}", settings.brokers));
                        self.shared.pause(Duration::from_secs(1));
                        continue;
                    }
                }
            }
            let Some((p, _)) = producer.as_ref() else {
                continue;
            };
            self.handle_reports();
            if !self.retry.is_empty() && Instant::now() >= self.next_retry {
                let retry = std::mem::take(&mut self.retry);
                for (seq, rec) in retry {
                    self.send(p, seq, rec);
                }
            }
            // While a failed delivery waits for its next attempt, newer records stay in the
            // spool: sent now, they could be delivered before it (order per key).
            if self.inflight.len() < INFLIGHT_MAX && self.retry.is_empty() {
                match self
                    .spool
                    .read_batch(BATCH_MAX_RECORDS, BATCH_MAX_BYTES, POLL)
                {
                    Ok(batch) => {
                        for r in batch {
                            self.highest_read = self.highest_read.max(r.seq);
                            self.send(p, r.seq, r.payload);
                        }
                    }
                    Err(e) => {
                        self.shared.set_error(format!("spool: {e}"));
                        self.shared.pause(Duration::from_secs(1));
                    }
                }
            } else {
                self.shared.pause(POLL);
            }
            self.handle_reports();
            self.ack();
        }
        // Shutting down: wait (bounded) for what librdkafka still holds, record the outcome.
        if let Some((p, _)) = producer.take() {
            let _ = p.flush(self.shared.settings().flush_timeout);
            drop(p);
        }
        self.handle_reports();
        self.ack();
    }

    /// Hands one record to librdkafka (waiting while its queue is full).
    fn send(&mut self, p: &Kafka, seq: u64, rec: Vec<u8>) {
        let m = match record::decode(&rec) {
            Ok(m) => m,
            Err(why) => {
                self.dead(seq, &rec, &format!("unreadable spool record: {why}"));
                return;
            }
        };
        let mut headers = OwnedHeaders::new().insert(Header {
            key: "audit-topic",
            value: Some(m.audit_topic),
        });
        if let Some(k) = m.routing_key {
            headers = headers.insert(Header {
                key: "routing-key",
                value: Some(k),
            });
        }
        let mut base = BaseRecord::with_opaque_to(m.topic, seq as usize)
            .payload(m.value)
            .headers(headers);
        if m.key_is_routing_key {
            if let Some(k) = m.routing_key {
                base = base.key(k);
            }
        }
        loop {
            match p.send(base) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), b)) => {
                    base = b;
                    self.handle_reports();
                    std::thread::sleep(Duration::from_millis(5));
                    if self.shared.stopping() {
                        // Not handed over: it stays in the spool for the next start.
                        self.retry.push_back((seq, rec));
                        return;
                    }
                }
                Err((e, _)) => {
                    let what = format!("produce to `{}`: {e}", m.topic);
                    if permanent(&e) {
                        self.dead(seq, &rec, &what);
                    } else {
                        self.failed(seq, rec, what);
                    }
                    return;
                }
            }
        }
        self.inflight.insert(seq, rec);
    }

    fn handle_reports(&mut self) {
        let reports = std::mem::take(&mut *self.shared.target.reports.lock());
        for (seq, outcome) in reports {
            let Some(rec) = self.inflight.remove(&seq) else {
                continue;
            };
            match outcome {
                Ok(()) => {
                    self.shared.target.delivered.fetch_add(1, Ordering::Relaxed);
                    self.backoff = RETRY_MIN;
                }
                Err(e) => {
                    let topic = record::decode(&rec).map(|m| m.topic.to_owned());
                    let what = format!("delivery to `{}`: {e}", topic.unwrap_or_default());
                    if permanent(&e) {
                        self.dead(seq, &rec, &what);
                    } else {
                        self.failed(seq, rec, what);
                    }
                }
            }
        }
    }

    /// A delivery failed for now: counted, reported, and queued for another attempt (the
    /// record stays in the spool meanwhile).
    fn failed(&mut self, seq: u64, rec: Vec<u8>, what: String) {
        let n = self.shared.target.failed.fetch_add(1, Ordering::Relaxed);
        if n == 0 || self.retry.is_empty() {
            eprintln!("log4rs-audit: kafka: {what}; retrying (the message stays in the spool)");
        }
        self.shared.set_error(what);
        let at = self.retry.partition_point(|(s, _)| *s < seq);
        self.retry.insert(at, (seq, rec));
        let retry_max = self.shared.settings().retry_max;
        self.next_retry = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(retry_max);
    }

    fn requeue_inflight(&mut self) {
        for (seq, rec) in std::mem::take(&mut self.inflight) {
            let at = self.retry.partition_point(|(s, _)| *s < seq);
            self.retry.insert(at, (seq, rec));
        }
    }

    /// Gives up on a message: it goes to the dead-letter file in the spool directory.
    fn dead(&mut self, seq: u64, rec: &[u8], reason: &str) {
        let value = record::decode(rec).map_or(rec, |m| m.value);
        let url = format!("kafka://{}", self.shared.settings().brokers);
        let written = match &self.node {
            Some(node) => dead_letter::write(
                &self.dead_letter,
                self.spool.file_mode(),
                &[DeadItem::Unreadable {
                    node,
                    seq,
                    payload: value,
                }],
                None,
                reason,
                &url,
            ),
            None => Err(std::io::Error::other("the spool's node id is not valid")),
        };
        match written {
            Ok(()) => {
                self.shared
                    .target
                    .dead_lettered
                    .fetch_add(1, Ordering::Relaxed);
                eprintln!(
                    "log4rs-audit: kafka: {reason}; message {seq} written to {}",
                    self.dead_letter.display()
                );
                self.shared.set_error(reason.to_owned());
            }
            Err(e) => {
                // Cannot keep it aside: keep it in the spool and try again later.
                self.shared
                    .set_error(format!("{reason}; dead-letter file: {e}"));
                let at = self.retry.partition_point(|(s, _)| *s < seq);
                self.retry.insert(at, (seq, rec.to_vec()));
                self.next_retry = Instant::now() + Duration::from_secs(1);
            }
        }
    }

    /// Acknowledges in the spool every record below the first one still waiting.
    fn ack(&mut self) {
        let first_waiting = [
            self.inflight.keys().next().copied(),
            self.retry.front().map(|r| r.0),
        ]
        .into_iter()
        .flatten()
        .min();
        let up_to = match first_waiting {
            Some(s) => s - 1,
            None => self.highest_read,
        };
        if up_to > self.shared.acked() {
            match self.spool.ack(up_to) {
                Ok(()) => {
                    if self.retry.is_empty() {
                        self.shared.set_acked_clearing_error(up_to);
                    } else {
                        self.shared.set_acked(up_to);
                    }
                }
                Err(e) => self.shared.set_error(format!("spool ack: {e}")),
            }
        }
    }
}
