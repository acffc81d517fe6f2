//! A `kafka` destination (cargo feature `kafka`): the Event Server hands every event it takes
//! to a Kafka cluster **inside the group commit**, so that a `200` still means "stored": in
//! every filesystem destination and confirmed by Kafka.
//!
//! ```yaml
//! destinations:
//!   - name: bus
//!     type: kafka
//!     brokers: 127.0.0.1:9092         # host:port[,host:port…], ${VAR} expanded
//!     topic: dss-audit-{topic}        # {topic}: the audit topic (dss-audit-authfail, …)
//!     key: routing_key                # routing_key (default; no key without one) | none
//!     payload: envelope               # envelope (the stored line) | message (the event object)
//!     properties: { compression.type: zstd }   # librdkafka properties, passed through
//!     delivery_timeout: 10s           # librdkafka's message.timeout.ms (default 10s)
//!     topics: ALL                     # the filters of every destination
//!     routing_keys: ALL
//!     required_auth_key: null
//! ```
//!
//! The options are the `kafka` appender's (checked by the same code,
//! `crate::append::kafka::config::check_connection`), except that `payload: envelope` is the
//! server's stored line (`{"clientEvent":…,"origAddress":…,"serverTimestamp":…}`, without its
//! `\n`) and `message` is the client's event object (on one line); there is no spool (the
//! clients' spools are the queue) and `delivery_timeout` defaults to 10s, not 30s, because a
//! request waits for it and should get its answer before the clients' `request_timeout` (30s).
//!
//! # One message per event
//!
//! Value as above; key the routing key (with `key: routing_key`, when the event has one); the
//! timestamp the server's receive time; headers:
//!
//! | header | value |
//! |---|---|
//! | `audit-topic` | the audit topic's wire name (`generic`, `authfail`, …) |
//! | `routing-key` | the routing key, when the event has one |
//! | `audit-node` | the sending node's id (the wire format's `node`) |
//! | `audit-seq` | the event's sequence number on that node, in decimal (`seq`) |
//!
//! # In the group commit
//!
//! The writer thread (see [`super::store`]) renders a group's messages with its lines, and
//! after the journal's `begin`: hands them to librdkafka ([`KafkaDestination::send`]), appends
//! and fsyncs the files, then waits for **every** delivery report ([`KafkaDestination::finish`],
//! at most `delivery_timeout` + [`REPORT_GRACE`]) before the journal's `commit` and the answers.
//! The producer (`ThreadedProducer`, `enable.idempotence=true`, `acks=all`, one per destination,
//! kept across groups) keeps the order per partition, so events of one routing key arrive in
//! the order they were stored.
//!
//! If Kafka does not confirm every message (broker down, topic missing, not authorized, …),
//! the group fails like a failed write: the journal's undo cuts the files back, every batch of
//! the group gets `503` with `Retry-After`, and the clients resend. Nothing is acknowledged
//! that Kafka did not confirm. The one exception is a message Kafka can never take (larger than
//! `message.max.bytes`): its batch gets `400` naming the line, so the client's `event_server`
//! target moves that one event to its dead-letter file and resends the others, instead of
//! retrying forever.
//!
//! # Duplicates: at-least-once, deduplicated by `audit-node` + `audit-seq`
//!
//! Kafka can hold an event twice, in two cases: the server stopped (crash, power loss) after
//! Kafka confirmed a group but before the journal's commit was on disk, or a group failed after
//! some of its messages were delivered (a partition failed while another took its messages, or a
//! file write failed). Either way the client was not acknowledged and resends the event with
//! the same `node` and `seq`, which the server cannot recognise as a resend (its marks did not
//! move) and produces again. Each copy carries the same `audit-node` and `audit-seq` headers:
//! a consumer that must see each event once skips a pair it has already processed (e.g. a
//! unique key on both in the table it writes to). The filesystem destinations are not affected:
//! their lines of a failed group are cut back.

use std::net::IpAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::{Condvar, Mutex};
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use serde::de::value::{Error as ValueError, StrDeserializer};
use serde::Deserialize;

use super::config::{DestinationConfig, DestinationTarget, KafkaDestinationConfig};
use super::failure::{GroupFailure, Refusal};
use super::metrics::Metrics;
use super::route::DestinationRoute;
use crate::append::kafka::config::{check_connection, client_properties};
use crate::append::{KafkaKey, KafkaPayload};
use crate::encode::Timezone;
use crate::protocol::record::write_stored_line;
use crate::protocol::wire::{write_json_one_line, Item, RoutingKey};
use crate::Topic;

/// The `delivery_timeout` of a `kafka` destination when none is given: requests wait for it.
pub const DEFAULT_DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// How much longer than `delivery_timeout` a group waits for librdkafka's last reports (it
/// notices timed-out messages on a periodic scan).
pub const REPORT_GRACE: Duration = Duration::from_secs(5);

/// librdkafka's default `message.max.bytes`.
const LIBRDKAFKA_MESSAGE_MAX_BYTES: usize = 1_000_000;

/// The header naming the audit topic.
pub const HEADER_TOPIC: &str = "audit-topic";
/// The header holding the routing key (absent without one).
pub const HEADER_ROUTING_KEY: &str = "routing-key";
/// The header holding the sending node's id.
pub const HEADER_NODE: &str = "audit-node";
/// The header holding the event's sequence number on its node, in decimal.
pub const HEADER_SEQ: &str = "audit-seq";

/// The checked options of a `kafka` destination.
#[derive(Clone, Debug)]
pub struct KafkaOptions {
    /// `brokers`, `${VAR}` expanded.
    pub brokers: String,
    /// The Kafka topic of each audit topic (in [`Topic::ALL`]'s order).
    topics: Vec<String>,
    /// `key`.
    pub key: KafkaKey,
    /// `payload`.
    pub payload: KafkaPayload,
    /// `delivery_timeout`.
    pub delivery_timeout: Duration,
    /// librdkafka properties, this crate's defaults first (without `bootstrap.servers`).
    client: Vec<(String, String)>,
    /// librdkafka's `message.max.bytes`: a message larger than this is refused before
    /// anything of its group is sent (see [`KafkaDestination::send`]).
    max_message_bytes: usize,
}

impl KafkaOptions {
    /// Checks a `kafka` destination's options without connecting (librdkafka checks the
    /// properties' names and values); an error starts with the option's name.
    pub fn from_config(d: &KafkaDestinationConfig) -> Result<KafkaOptions, String> {
        let brokers = d
            .brokers
            .as_deref()
            .ok_or("brokers: required for a kafka destination (host:port[,host:port…])")?;
        let topic = d
            .topic
            .as_deref()
            .ok_or("topic: required for a kafka destination (may contain {topic})")?;
        let connection = check_connection(
            brokers,
            topic,
            d.properties.as_ref().unwrap_or(&Default::default()),
            &d.delivery_timeout,
            DEFAULT_DELIVERY_TIMEOUT,
        )
        .map_err(|e| e.to_string())?;
        let key = word::<KafkaKey>("key", d.key.as_deref())?;
        let payload = word::<KafkaPayload>("payload", d.payload.as_deref())?;
        let client = client_properties(connection.delivery_timeout, &connection.properties);
        // Let librdkafka check every property now, so a typo is a config error.
        let mut probe = ClientConfig::new();
        probe.set("bootstrap.servers", &connection.brokers);
        for (k, v) in &client {
            probe.set(k, v);
        }
        probe
            .create_native_config()
            .map_err(|e| format!("properties: {e}"))?;
        Ok(KafkaOptions {
            brokers: connection.brokers,
            topics: Topic::ALL
                .iter()
                .map(|t| connection.topic.join(t.wire_name()))
                .collect(),
            key,
            payload,
            delivery_timeout: connection.delivery_timeout,
            max_message_bytes: client
                .iter()
                .rev()
                .find(|(k, _)| k == "message.max.bytes")
                .and_then(|(_, v)| v.trim().parse().ok())
                .unwrap_or(LIBRDKAFKA_MESSAGE_MAX_BYTES),
            client,
        })
    }

    /// The Kafka topic of `topic`'s events.
    pub fn topic_of(&self, topic: Topic) -> &str {
        let i = Topic::ALL.iter().position(|t| *t == topic).unwrap_or(0);
        &self.topics[i]
    }
}

/// `key` and `payload`: parsed like the appender's, so both accept the same words.
fn word<'de, T: Deserialize<'de> + Default>(
    option: &str,
    text: Option<&'de str>,
) -> Result<T, String> {
    match text {
        None => Ok(T::default()),
        Some(t) => T::deserialize(StrDeserializer::<ValueError>::new(t))
            .map_err(|e| format!("{option}: {e}")),
    }
}

/// One group's messages for one `kafka` destination, rendered before anything is written.
#[derive(Default)]
pub struct KafkaBatch<'a> {
    values: Vec<u8>,
    messages: Vec<Pending<'a>>,
}

struct Pending<'a> {
    item: &'a Item,
    value: Range<usize>,
    /// The batch (index in the group) and its 1-based line, for a refusal.
    job: usize,
    line: usize,
    /// The server's receive time, in ms since the epoch.
    timestamp: i64,
}

impl KafkaBatch<'_> {
    /// Whether it has no message.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
}

/// Messages handed to librdkafka whose reports [`KafkaDestination::finish`] waits for.
#[derive(Debug)]
pub struct InFlight {
    sent: usize,
    deadline: Instant,
}

/// Delivery reports of the current group, filled by librdkafka's polling thread.
#[derive(Default)]
struct Inbox {
    tally: Mutex<Tally>,
    changed: Condvar,
    /// librdkafka's last warning or error (e.g. "Connect to … failed"), to explain failures.
    last_log: Mutex<Option<String>>,
}

/// Reports for the messages of ids `first..end` (earlier ids are from a group that gave up
/// waiting; their reports are ignored).
#[derive(Default)]
struct Tally {
    first: usize,
    end: usize,
    delivered: usize,
    /// Index in the group, and the error.
    failed: Vec<(usize, KafkaError)>,
}

/// librdkafka's callbacks. Its log lines do not go to `log` (this process may be logging its
/// own audit through it); warnings and errors are kept to explain a failed group.
struct Reporter(Arc<Inbox>);

impl ClientContext for Reporter {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        if (level as i32) <= RDKafkaLogLevel::Warning as i32 {
            *self.0.last_log.lock() = Some(format!("librdkafka {fac}: {message}"));
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        *self.0.last_log.lock() = Some(format!("librdkafka: {error}: {reason}"));
    }
}

impl ProducerContext for Reporter {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, id: usize) {
        let mut t = self.0.tally.lock();
        if id < t.first || id >= t.end {
            return;
        }
        match result {
            Ok(_) => t.delivered += 1,
            Err((e, _)) => {
                let index = id - t.first;
                t.failed.push((index, e.clone()));
            }
        }
        drop(t);
        self.0.changed.notify_all();
    }
}

type Kafka = ThreadedProducer<Reporter>;

/// Errors of one message that no retry can fix: its event is refused (its client
/// dead-letters it). Errors of a topic or the cluster (unknown topic, not authorized, …) are
/// not here: they are fixed by the operator, meanwhile the clients keep the events.
fn refused(e: &KafkaError) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        e.rdkafka_error_code(),
        Some(C::MessageSizeTooLarge | C::InvalidMessageSize | C::InvalidRecord)
    )
}

/// A `kafka` destination, ready to deliver: its filters, options and producer.
pub struct KafkaDestination {
    /// Its configured name.
    pub name: String,
    route: DestinationRoute,
    options: KafkaOptions,
    producer: Kafka,
    inbox: Arc<Inbox>,
    /// The id of the next message (the delivery opaque).
    next_id: usize,
    /// Why the last group failed, until one succeeds (state changes go to stderr once).
    failing: Option<String>,
}

impl KafkaDestination {
    /// From its config (checked by [`KafkaOptions::from_config`]); `required_key` is the index
    /// of its `required_auth_key`. Creates the producer, which connects in the background: a
    /// cluster that is down does not stop the server from starting (its groups fail with 503
    /// until it is up).
    pub fn new(
        config: &DestinationConfig,
        required_key: Option<usize>,
    ) -> Result<KafkaDestination, String> {
        let at = format!("destination `{}`", config.name);
        let DestinationTarget::Kafka(k) = &config.target else {
            return Err(format!("{at}: not a kafka destination"));
        };
        let options = KafkaOptions::from_config(k).map_err(|e| format!("{at}: {e}"))?;
        let inbox = Arc::new(Inbox::default());
        let producer = connect(&options, &inbox).map_err(|e| format!("{at}: {e}"))?;
        Ok(KafkaDestination {
            name: config.name.clone(),
            route: DestinationRoute::new(config, required_key),
            options,
            producer,
            inbox,
            next_id: 0,
            failing: None,
        })
    }

    /// Whether it takes an event of `topic` and `routing_key` sent with event key `key`.
    pub fn accepts(&self, topic: Topic, routing_key: Option<&RoutingKey>, key: usize) -> bool {
        self.route.accepts(topic, routing_key, key)
    }

    /// Renders `item`'s message into `batch` (`job` and `line` locate it for a refusal).
    pub fn render<'a>(
        &self,
        batch: &mut KafkaBatch<'a>,
        item: &'a Item,
        (peer, received, tz): (IpAddr, SystemTime, Timezone),
        (job, line): (usize, usize),
    ) {
        let start = batch.values.len();
        match self.options.payload {
            KafkaPayload::Envelope => {
                write_stored_line(&mut batch.values, &item.event, peer, received, tz);
                batch.values.pop(); // its `\n`
            }
            KafkaPayload::Message => write_json_one_line(&mut batch.values, &item.event),
        }
        let timestamp = received
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        batch.messages.push(Pending {
            item,
            value: start..batch.values.len(),
            job,
            line,
            timestamp,
        });
    }

    /// Hands the group's messages to librdkafka (waiting while its queue is full, up to the
    /// deadline). A failure here leaves the messages already handed over to be delivered or
    /// not: their reports are ignored, the group fails anyway.
    ///
    /// A message whose key, value and headers alone exceed `message.max.bytes` is refused
    /// before anything is handed over, so refusing it never leaves copies of the other events
    /// of its group in Kafka; one that only its framing makes too large is refused by
    /// librdkafka in the loop below, after the messages before it were handed over.
    pub fn send(
        &mut self,
        batch: &KafkaBatch<'_>,
        metrics: &Metrics,
    ) -> Result<InFlight, GroupFailure> {
        let oversized = self.oversized(batch);
        if !oversized.is_empty() {
            metrics.kafka_failed(&self.name, oversized.len() as u64);
            return Err(GroupFailure::Refused(oversized));
        }
        let deadline = Instant::now() + self.options.delivery_timeout + REPORT_GRACE;
        let first = self.next_id;
        {
            let mut t = self.inbox.tally.lock();
            *t = Tally {
                first,
                end: first + batch.messages.len(),
                delivered: 0,
                failed: Vec::new(),
            };
        }
        self.next_id = first + batch.messages.len();
        let mut seq = itoa::Buffer::new();
        for (i, m) in batch.messages.iter().enumerate() {
            let item = m.item;
            let topic = self.options.topic_of(item.topic);
            let mut headers = OwnedHeaders::new_with_capacity(4).insert(Header {
                key: HEADER_TOPIC,
                value: Some(item.topic.wire_name()),
            });
            if let Some(rk) = &item.routing_key {
                headers = headers.insert(Header {
                    key: HEADER_ROUTING_KEY,
                    value: Some(rk.as_str()),
                });
            }
            headers = headers
                .insert(Header {
                    key: HEADER_NODE,
                    value: Some(item.node.as_str()),
                })
                .insert(Header {
                    key: HEADER_SEQ,
                    value: Some(seq.format(item.seq)),
                });
            let mut record = BaseRecord::with_opaque_to(topic, first + i)
                .payload(&batch.values[m.value.clone()])
                .headers(headers)
                .timestamp(m.timestamp);
            if self.options.key == KafkaKey::RoutingKey {
                if let Some(rk) = &item.routing_key {
                    record = record.key(rk.as_str());
                }
            }
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r))
                        if Instant::now() < deadline =>
                    {
                        // The polling thread frees room as reports come in.
                        record = r;
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err((e, _)) => {
                        metrics.kafka_failed(&self.name, 1);
                        if refused(&e) {
                            let why = format!(
                                "kafka destination `{}` refuses it: producing to `{topic}`: {e}",
                                self.name
                            );
                            return Err(GroupFailure::Refused(vec![Refusal {
                                job: m.job,
                                line: m.line,
                                reason: why,
                            }]));
                        }
                        let what = format!(
                            "kafka destination `{}`: producing to `{topic}`: {e}",
                            self.name
                        );
                        let what = self.explain(what, metrics);
                        self.reconnect_if_fatal();
                        return Err(GroupFailure::Unavailable(what));
                    }
                }
            }
        }
        Ok(InFlight {
            sent: batch.messages.len(),
            deadline,
        })
    }

    /// The first message of each batch that is larger than `message.max.bytes` without even
    /// counting its framing: librdkafka would refuse it.
    fn oversized(&self, batch: &KafkaBatch<'_>) -> Vec<Refusal> {
        let mut refusals: Vec<Refusal> = Vec::new();
        let mut digits = itoa::Buffer::new();
        for m in &batch.messages {
            let item = m.item;
            let rk = item.routing_key.as_ref().map_or(0, |k| k.as_str().len());
            let key = if self.options.key == KafkaKey::RoutingKey {
                rk
            } else {
                0
            };
            let headers = HEADER_TOPIC.len()
                + item.topic.wire_name().len()
                + HEADER_NODE.len()
                + item.node.as_str().len()
                + HEADER_SEQ.len()
                + digits.format(item.seq).len()
                + if rk > 0 {
                    HEADER_ROUTING_KEY.len() + rk
                } else {
                    0
                };
            let size = m.value.len() + key + headers;
            if size > self.options.max_message_bytes && refusals.iter().all(|r| r.job != m.job) {
                refusals.push(Refusal {
                    job: m.job,
                    line: m.line,
                    reason: format!(
                        "kafka destination `{}` refuses it: a message of {size} bytes or more, over message.max.bytes ({})",
                        self.name, self.options.max_message_bytes
                    ),
                });
            }
        }
        refusals
    }

    /// Waits until librdkafka reported on every message [`Self::send`] handed over, or the
    /// deadline; `Ok` only if Kafka confirmed all of them. Counts the stored messages and the
    /// failed deliveries in `metrics`.
    pub fn finish(
        &mut self,
        flight: InFlight,
        batch: &KafkaBatch<'_>,
        metrics: &Metrics,
    ) -> Result<(), GroupFailure> {
        let mut t = self.inbox.tally.lock();
        while t.delivered + t.failed.len() < flight.sent {
            if self
                .inbox
                .changed
                .wait_until(&mut t, flight.deadline)
                .timed_out()
            {
                break;
            }
        }
        let delivered = t.delivered;
        let mut failed = std::mem::take(&mut t.failed);
        // Stop counting: late reports of this group are ignored.
        t.end = t.first;
        drop(t);
        if delivered == flight.sent {
            metrics.stored_in(&self.name, delivered as u64);
            if self.failing.take().is_some() {
                metrics.kafka_failing(&self.name, None);
                eprintln!(
                    "event-server: kafka destination `{}`: delivering again",
                    self.name
                );
            }
            return Ok(());
        }
        let missing = flight.sent - delivered - failed.len();
        metrics.kafka_failed(&self.name, (failed.len() + missing) as u64);
        failed.sort_by_key(|(i, _)| *i);
        let mut refusals: Vec<Refusal> = Vec::new();
        for (i, e) in failed.iter().filter(|(_, e)| refused(e)) {
            let m = &batch.messages[*i];
            if refusals.iter().all(|r| r.job != m.job) {
                let topic = self.options.topic_of(m.item.topic);
                refusals.push(Refusal {
                    job: m.job,
                    line: m.line,
                    reason: format!(
                        "kafka destination `{}` refuses it: delivery to `{topic}`: {e}",
                        self.name
                    ),
                });
            }
        }
        if !refusals.is_empty() {
            return Err(GroupFailure::Refused(refusals));
        }
        let what = match failed.first() {
            Some((i, e)) => {
                let topic = self.options.topic_of(batch.messages[*i].item.topic);
                format!(
                    "kafka destination `{}`: {} of {} messages not delivered; to `{topic}`: {e}",
                    self.name,
                    failed.len() + missing,
                    flight.sent
                )
            }
            None => format!(
                "kafka destination `{}`: no delivery report for {missing} of {} messages within {:?}",
                self.name,
                flight.sent,
                self.options.delivery_timeout + REPORT_GRACE
            ),
        };
        let what = self.explain(what, metrics);
        self.reconnect_if_fatal();
        Err(GroupFailure::Unavailable(what))
    }

    /// Adds librdkafka's last complaint (e.g. "Connect to … failed"), reports the failure on
    /// stderr when it starts, and in `/stats` until a group is confirmed again.
    fn explain(&mut self, what: String, metrics: &Metrics) -> String {
        let what = match self.inbox.last_log.lock().take() {
            Some(log) => format!("{what} ({log})"),
            None => what,
        };
        if self.failing.is_none() {
            eprintln!("event-server: {what}; answering 503 until Kafka confirms again");
        }
        metrics.kafka_failing(&self.name, Some(&what));
        self.failing = Some(what.clone());
        what
    }

    /// After a fatal error (e.g. the idempotent producer's state is lost), the producer can
    /// send nothing more: replace it.
    fn reconnect_if_fatal(&mut self) {
        let Some((code, reason)) = self.producer.client().fatal_error() else {
            return;
        };
        eprintln!(
            "event-server: kafka destination `{}`: fatal producer error {code:?}: {reason}; starting a new producer",
            self.name
        );
        match connect(&self.options, &self.inbox) {
            Ok(p) => self.producer = p,
            Err(e) => eprintln!("event-server: kafka destination `{}`: {e}", self.name),
        }
    }
}

/// A producer for `options`, reporting into `inbox`.
fn connect(options: &KafkaOptions, inbox: &Arc<Inbox>) -> Result<Kafka, String> {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &options.brokers);
    for (k, v) in &options.client {
        config.set(k, v);
    }
    config
        .create_with_context(Reporter(Arc::clone(inbox)))
        .map_err(|e| format!("kafka producer for {}: {e}", options.brokers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::ServerConfig;

    fn kafka(extra: &str) -> Result<KafkaOptions, String> {
        let yaml = format!(
            "event_keys: [k]\nstate_dir: /tmp/s\ndestinations:\n  - {{ name: bus, type: kafka, {extra} }}\n"
        );
        let c = ServerConfig::from_yaml(&yaml).map_err(|e| e.to_string())?;
        let DestinationTarget::Kafka(k) = &c.destinations[0].target else {
            panic!("a kafka destination");
        };
        KafkaOptions::from_config(k)
    }

    #[test]
    fn options_parse_with_the_appenders_defaults() {
        let o = kafka("brokers: 'h1:9092,h2:9092', topic: 'audit-{topic}'").unwrap();
        assert_eq!(o.brokers, "h1:9092,h2:9092");
        assert_eq!(o.topic_of(Topic::Authfail), "audit-authfail");
        assert_eq!(o.topic_of(Topic::ApinodeQuery), "audit-apinode-query");
        assert_eq!(
            (o.key, o.payload),
            (KafkaKey::RoutingKey, KafkaPayload::Envelope)
        );
        assert_eq!(o.delivery_timeout, DEFAULT_DELIVERY_TIMEOUT);
        let get = |k: &str| {
            o.client
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("enable.idempotence"), Some("true"));
        assert_eq!(get("acks"), Some("all"));
        assert_eq!(get("message.timeout.ms"), Some("10000"));

        let o = kafka(
            "brokers: h:1, topic: all, key: none, payload: message, delivery_timeout: 2s, properties: { linger.ms: 1, compression.type: gzip }",
        )
        .unwrap();
        assert_eq!(o.topic_of(Topic::Generic), "all");
        assert_eq!((o.key, o.payload), (KafkaKey::None, KafkaPayload::Message));
        assert_eq!(o.delivery_timeout, Duration::from_secs(2));
        let get = |k: &str| {
            o.client
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("linger.ms"), Some("1"));
        assert_eq!(get("compression.type"), Some("gzip"));
        assert_eq!(get("message.timeout.ms"), Some("2000"));
    }

    #[test]
    fn bad_options_name_the_field() {
        let cases = [
            ("topic: t", "destinations[0] (`bus`).brokers: required"),
            ("brokers: h:1", "destinations[0] (`bus`).topic: required"),
            (
                "brokers: h:1, topic: 'a b'",
                "destinations[0] (`bus`).topic: `a b` is not a Kafka topic name",
            ),
            (
                "brokers: '', topic: t",
                "destinations[0] (`bus`).brokers: empty",
            ),
            (
                "brokers: h:1, topic: t, key: user",
                "destinations[0] (`bus`).key: unknown variant `user`",
            ),
            (
                "brokers: h:1, topic: t, payload: line",
                "destinations[0] (`bus`).payload: unknown variant `line`",
            ),
            (
                "brokers: h:1, topic: t, delivery_timeout: soon",
                "destinations[0] (`bus`).delivery_timeout: `soon`",
            ),
            (
                "brokers: h:1, topic: t, properties: { no.such.property: 1 }",
                "destinations[0] (`bus`).properties: ",
            ),
            (
                "brokers: h:1, topic: t, properties: { acks: sometimes }",
                "destinations[0] (`bus`).properties: ",
            ),
            (
                "brokers: h:1, topic: t, properties: { bootstrap.servers: x }",
                "destinations[0] (`bus`).properties.bootstrap.servers: use `brokers`",
            ),
            (
                "brokers: h:1, topic: t, root: /r",
                "destinations[0] (`bus`).root: not an option of a `kafka` destination",
            ),
            (
                "brokers: h:1, topic: t, integrity: {}",
                "destinations[0] (`bus`).integrity: not an option of a `kafka` destination",
            ),
        ];
        for (extra, expected) in cases {
            let e = kafka(extra).unwrap_err();
            assert!(e.starts_with(expected), "{extra}: {e}");
        }
        let e = kafka("brokers: h:1, topic: t, properties: { no.such.property: 1 }").unwrap_err();
        assert!(e.contains("no.such.property"), "{e}");
        // A filesystem destination with a Kafka option.
        let e = ServerConfig::from_yaml(
            "event_keys: [k]\ndestinations:\n  - { name: d, type: filesystem, root: /r, brokers: h:1 }\n",
        )
        .unwrap_err().to_string();
        assert!(
            e.starts_with(
                "destinations[0] (`d`).brokers: not an option of a `filesystem` destination"
            ),
            "{e}"
        );
        // Without a filesystem destination the journal needs its own folder.
        let e = ServerConfig::from_yaml(
            "event_keys: [k]\ndestinations:\n  - { name: bus, type: kafka, brokers: h:1, topic: t }\n",
        )
        .unwrap_err().to_string();
        assert!(e.starts_with("state_dir: required"), "{e}");
    }
}
