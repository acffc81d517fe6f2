//! The `kafka` target under injected faults, against librdkafka's mock cluster
//! (`rdkafka::mocking::MockCluster`, in process, on a loopback port; no broker to install):
//! retriable produce errors, the broker down then up, errors no retry can fix, flush while the
//! broker is down, and a fatal error of the idempotent producer. The appender is driven through
//! its public API; what it sent is read back with an rdkafka consumer using `assign()`.
#![cfg(feature = "kafka")]

#[path = "support/audit_kafka.rs"]
mod audit_kafka;
#[path = "support/tansu.rs"]
mod tansu;

use std::path::Path;
use std::time::{Duration, Instant};

use log4rs::append::Append;
use log4rs_audit::append::{KafkaAppender, KafkaStats};
use rdkafka::config::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

use audit_kafka::{appender, check_sequence, header, json, log_numbered, numbers_per_key};
use tansu::consume;

type Mock = MockCluster<'static, DefaultProducerContext>;

/// A one-broker mock cluster with `topic` (`partitions` partitions) created.
fn mock(topic: &str, partitions: i32) -> Mock {
    let m = MockCluster::new(1).unwrap();
    m.create_topic(topic, partitions, 1).unwrap();
    m
}

fn kafka_appender(m: &Mock, topic: &str, spool: &Path, extra: &str) -> KafkaAppender {
    appender(&format!(
        "brokers: {}\ntopic: {topic}\nspool_dir: {}\n{extra}",
        m.bootstrap_servers(),
        spool.display()
    ))
}

/// Waits (at most `timeout`) until `what` holds for the appender's stats; panics with them if not.
fn wait_for(
    a: &KafkaAppender,
    timeout: Duration,
    what: impl Fn(&KafkaStats) -> bool,
) -> KafkaStats {
    let deadline = Instant::now() + timeout;
    loop {
        let stats = a.stats();
        if what(&stats) {
            return stats;
        }
        assert!(Instant::now() < deadline, "timed out: {stats:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a plain producer (no retries) gets one message into `topic` now: the proof that
/// every error pushed on the mock's produce stack was used up by the appender's requests.
fn produce_once(m: &Mock, topic: &str) -> bool {
    let p: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", m.bootstrap_servers())
        .set("retries", "0")
        .set("message.timeout.ms", "5000")
        .create()
        .unwrap();
    p.send(BaseRecord::<(), str>::to(topic).payload("probe"))
        .unwrap();
    // flush() is Ok only if the delivery report was a success.
    let flushed = p.flush(Duration::from_secs(10));
    flushed.is_ok() && p.in_flight_count() == 0
}

/// Every `n` of `0..per_key` once per key and in order, no other message.
fn assert_once_in_order(messages: &[rdkafka::message::OwnedMessage], keys: &[&str], per_key: u64) {
    let got = numbers_per_key(messages);
    let names: Vec<&str> = got.keys().map(String::as_str).collect();
    assert_eq!(names, keys, "message keys");
    for key in keys {
        let s = check_sequence(&got[*key], per_key);
        assert_eq!(s, Default::default(), "{key}: {s:?}");
    }
    assert_eq!(messages.len() as u64, keys.len() as u64 * per_key);
}

/// Every `n` of `0..per_key` once under key `k`, no other message; out of order at most as many
/// as deliveries `failed`. With `delivery_timeout: 1s`, a loaded machine can time out records
/// before the (mock) broker answers, while later ones go through; sent again by the appender,
/// those arrive after them: the documented exception to the order per key (only failed
/// deliveries can arrive late).
fn assert_once_late_only_if_failed(
    messages: &[rdkafka::message::OwnedMessage],
    per_key: u64,
    failed: u64,
) {
    let got = numbers_per_key(messages);
    let names: Vec<&str> = got.keys().map(String::as_str).collect();
    assert_eq!(names, ["k"], "message keys");
    let s = check_sequence(&got["k"], per_key);
    assert_eq!((s.missing_count, s.duplicates), (0, 0), "{s:?}");
    assert!(s.unexpected.is_empty(), "{s:?}");
    assert!(
        s.out_of_order_count as u64 <= failed,
        "{s:?}, failed: {failed}"
    );
    assert_eq!(messages.len() as u64, per_key);
}

#[test]
fn retriable_produce_errors_are_retried_and_everything_arrives_once_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let m = mock("retriable", 2);
    use RDKafkaRespErr::*;
    let errors = [
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
    ];
    m.request_errors(RDKafkaApiKey::Produce, &errors);
    let a = kafka_appender(
        &m,
        "retriable",
        &tmp.path().join("spool"),
        "flush_timeout: 60s\n",
    );
    const PER_KEY: u64 = 500;
    std::thread::scope(|s| {
        for key in ["svc-a", "svc-b"] {
            let a = &a;
            s.spawn(move || {
                for n in 0..PER_KEY {
                    log_numbered(a, "dku.audit.generic", Some(key), n);
                }
            });
        }
    });
    a.flush();
    let stats = a.stats();
    // librdkafka retried within delivery_timeout: no delivery failed for the appender.
    assert_eq!(
        (
            stats.delivered,
            stats.failed,
            stats.dead_lettered,
            stats.pending
        ),
        (2 * PER_KEY, 0, 0, 0),
        "{stats:?}"
    );
    assert_eq!(stats.last_error, None);
    assert!(
        produce_once(&m, "retriable"),
        "the injected errors were not all met by the appender's requests"
    );
    let got = consume(
        &m.bootstrap_servers(),
        "retriable",
        2,
        2 * PER_KEY as usize + 1,
        Duration::from_secs(30),
    );
    let (probe, events): (Vec<_>, Vec<_>) = got
        .into_iter()
        .partition(|m| rdkafka::Message::payload(m) == Some(b"probe"));
    assert_eq!(probe.len(), 1);
    for m in &events {
        assert_eq!(header(m, "audit-topic").as_deref(), Some("generic"));
    }
    assert_once_in_order(&events, &["svc-a", "svc-b"], PER_KEY);
}

#[test]
fn produce_errors_past_delivery_timeout_are_counted_and_retried_by_the_appender() {
    let tmp = tempfile::tempdir().unwrap();
    let m = mock("slow", 1);
    // More errors than librdkafka can retry within delivery_timeout (100 ms backoff, growing).
    let errors = [RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS; 30];
    m.request_errors(RDKafkaApiKey::Produce, &errors);
    let a = kafka_appender(
        &m,
        "slow",
        &tmp.path().join("spool"),
        "delivery_timeout: 1s\nretry_max: 500ms\nflush_timeout: 60s\n",
    );
    const N: u64 = 200;
    for n in 0..N {
        log_numbered(&a, "dku.audit.generic", Some("k"), n);
    }
    let stats = wait_for(&a, Duration::from_secs(30), |s| s.failed > 0);
    assert!(
        stats
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("delivery"),
        "{stats:?}"
    );
    a.flush();
    let stats = a.stats();
    assert_eq!(
        (stats.delivered, stats.dead_lettered, stats.pending),
        (N, 0, 0),
        "{stats:?}"
    );
    assert!(stats.failed > 0, "{stats:?}");
    assert_eq!(
        stats.last_error, None,
        "cleared once everything was delivered"
    );
    let got = consume(
        &m.bootstrap_servers(),
        "slow",
        1,
        N as usize,
        Duration::from_secs(30),
    );
    assert_eq!(got.len() as u64, N);
    let s = check_sequence(&numbers_per_key(&got)["k"], N);
    // The broker refused every failed attempt (nothing persisted), so no re-send shows twice.
    assert_eq!((s.missing_count, s.duplicates), (0, 0), "{s:?}");
    // Order: a message that timed out is sent again by the appender after its backoff, when
    // later ones (whose own deadline had not passed) may already be delivered. That is the
    // documented exception to the order per key: only failed deliveries can arrive late.
    assert!(
        s.out_of_order_count as u64 <= stats.failed,
        "{s:?}, {stats:?}"
    );
    eprintln!(
        "{} deliveries failed and were retried; {} events arrived after a later one",
        stats.failed, s.out_of_order_count
    );
}

#[test]
fn broker_down_then_up_loses_nothing_and_reports_while_down() {
    let tmp = tempfile::tempdir().unwrap();
    let m = mock("downup", 1);
    let a = kafka_appender(
        &m,
        "downup",
        &tmp.path().join("spool"),
        "delivery_timeout: 1s\nretry_max: 1s\nflush_timeout: 60s\n",
    );
    for n in 0..10 {
        log_numbered(&a, "dku.audit.generic", Some("k"), n);
    }
    a.flush();
    assert_eq!(a.stats().delivered, 10, "{:?}", a.stats());
    m.broker_down(-1).unwrap();
    for n in 10..110 {
        log_numbered(&a, "dku.audit.generic", Some("k"), n);
    }
    let stats = wait_for(&a, Duration::from_secs(30), |s| s.failed > 0);
    assert!(stats.last_error.is_some(), "{stats:?}");
    assert_eq!(stats.pending, 100, "{stats:?}");
    assert_eq!(stats.delivered, 10, "{stats:?}");
    // Still down: failures keep being counted, nothing leaves the spool.
    std::thread::sleep(Duration::from_secs(2));
    let stats = a.stats();
    assert_eq!((stats.pending, stats.delivered), (100, 10), "{stats:?}");
    m.broker_up(-1).unwrap();
    a.flush();
    let stats = a.stats();
    assert_eq!(
        (stats.pending, stats.delivered, stats.dead_lettered),
        (0, 110, 0),
        "{stats:?}"
    );
    assert_eq!(stats.last_error, None, "{stats:?}");
    let got = consume(
        &m.bootstrap_servers(),
        "downup",
        1,
        110,
        Duration::from_secs(30),
    );
    assert_once_late_only_if_failed(&got, 110, stats.failed);
}

fn dead_letters(spool: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(spool.join("dead-letter.ndjson"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_produce_error_no_retry_can_fix_dead_letters_the_event_and_later_ones_deliver() {
    let tmp = tempfile::tempdir().unwrap();
    let spool = tmp.path().join("spool");
    let m = mock("toolarge", 1);
    m.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE],
    );
    let a = kafka_appender(&m, "toolarge", &spool, "flush_timeout: 30s\n");
    log_numbered(&a, "dku.audit.generic", Some("k"), 0);
    a.flush();
    let stats = a.stats();
    assert_eq!(
        (
            stats.dead_lettered,
            stats.delivered,
            stats.pending,
            stats.failed
        ),
        (1, 0, 0, 0),
        "{stats:?}"
    );
    let dead = dead_letters(&spool);
    assert_eq!(dead.len(), 1);
    let reason = dead[0]["deadLetter"]["reason"].as_str().unwrap();
    assert!(reason.contains("toolarge"), "{reason}");
    assert!(
        reason.to_ascii_lowercase().contains("too large"),
        "{reason}"
    );
    assert_eq!(dead[0]["deadLetter"]["status"], serde_json::Value::Null);
    assert_eq!(
        dead[0]["deadLetter"]["url"],
        format!("kafka://{}", m.bootstrap_servers())
    );
    let payload: serde_json::Value =
        serde_json::from_str(dead[0]["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["message"]["n"], 0);
    // The idempotent producer goes on after the failed batch.
    for n in 1..=20 {
        log_numbered(&a, "dku.audit.generic", Some("k"), n);
    }
    a.flush();
    let stats = a.stats();
    assert_eq!(
        (stats.dead_lettered, stats.delivered, stats.pending),
        (1, 20, 0),
        "{stats:?}"
    );
    let got = consume(
        &m.bootstrap_servers(),
        "toolarge",
        1,
        20,
        Duration::from_secs(30),
    );
    let ns: Vec<u64> = got
        .iter()
        .map(|m| json(m)["message"]["n"].as_u64().unwrap())
        .collect();
    assert_eq!(ns, (1..=20).collect::<Vec<_>>());
}

#[test]
fn an_unauthorized_topic_dead_letters_its_events_while_other_topics_deliver() {
    let tmp = tempfile::tempdir().unwrap();
    let spool = tmp.path().join("spool");
    let m = mock("audit-generic", 1);
    m.create_topic("audit-authfail", 1, 1).unwrap();
    m.topic_error(
        "audit-authfail",
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
    )
    .unwrap();
    let a = kafka_appender(&m, "audit-{topic}", &spool, "flush_timeout: 30s\n");
    for n in 0..10 {
        log_numbered(&a, "dku.audit.generic", Some("k"), n);
        if n % 3 == 0 {
            log_numbered(&a, "dku.audit.authfail", Some("k"), 100 + n);
        }
    }
    a.flush();
    let stats = a.stats();
    assert_eq!(
        (stats.delivered, stats.dead_lettered, stats.pending),
        (10, 4, 0),
        "{stats:?}"
    );
    let dead = dead_letters(&spool);
    let mut ns: Vec<u64> = dead
        .iter()
        .map(|d| {
            let reason = d["deadLetter"]["reason"].as_str().unwrap();
            assert!(reason.contains("audit-authfail"), "{reason}");
            assert!(reason.to_ascii_lowercase().contains("authoriz"), "{reason}");
            let p: serde_json::Value =
                serde_json::from_str(d["payload"].as_str().unwrap()).unwrap();
            p["message"]["n"].as_u64().unwrap()
        })
        .collect();
    ns.sort_unstable();
    assert_eq!(ns, [100, 103, 106, 109]);
    let got = consume(
        &m.bootstrap_servers(),
        "audit-generic",
        1,
        10,
        Duration::from_secs(30),
    );
    assert_once_in_order(&got, &["k"], 10);
}

#[test]
fn flush_while_the_broker_is_down_is_bounded_and_a_new_appender_delivers_the_spool() {
    let tmp = tempfile::tempdir().unwrap();
    let spool = tmp.path().join("spool");
    let m = mock("later", 1);
    m.broker_down(-1).unwrap();
    let options = "delivery_timeout: 1s\nretry_max: 1s\nflush_timeout: 2s\n";
    let a = kafka_appender(&m, "later", &spool, options);
    for n in 0..50 {
        log_numbered(&a, "dku.audit.generic", Some("k"), n);
    }
    let t = Instant::now();
    a.flush();
    let took = t.elapsed();
    // It waits for flush_timeout (2 s) and then returns: bounded, not a hang (the upper bound
    // only tells a hang from a slow machine).
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(60),
        "flush took {took:?}"
    );
    let stats = a.stats();
    assert_eq!((stats.pending, stats.delivered), (50, 0), "{stats:?}");
    // Dropping waits for flush_timeout once more, then stops the producer (bounded as well).
    let t = Instant::now();
    drop(a);
    let took = t.elapsed();
    assert!(took < Duration::from_secs(60), "drop took {took:?}");
    // The spool on disk still holds the 50 events: a new appender picks them up.
    let b = kafka_appender(
        &m,
        "later",
        &spool,
        "delivery_timeout: 1s\nretry_max: 1s\nflush_timeout: 60s\n",
    );
    assert_eq!(b.stats().pending, 50, "{:?}", b.stats());
    m.broker_up(-1).unwrap();
    b.flush();
    let stats = b.stats();
    assert_eq!((stats.pending, stats.delivered), (0, 50), "{stats:?}");
    let got = consume(
        &m.bootstrap_servers(),
        "later",
        1,
        50,
        Duration::from_secs(30),
    );
    assert_once_late_only_if_failed(&got, 50, stats.failed);
}

#[test]
fn a_fatal_idempotent_producer_error_does_not_stop_delivery() {
    // An out-of-order sequence on the first request is fatal for librdkafka's idempotent
    // producer (it cannot know what the broker kept): that producer instance refuses every
    // message from then on. The appender must notice and start a new one.
    let tmp = tempfile::tempdir().unwrap();
    let m = mock("fatal", 1);
    m.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER],
    );
    let a = kafka_appender(
        &m,
        "fatal",
        &tmp.path().join("spool"),
        "retry_max: 500ms\nflush_timeout: 30s\n",
    );
    for n in 0..20 {
        log_numbered(&a, "dku.audit.generic", Some("k"), n);
    }
    a.flush();
    let stats = a.stats();
    assert_eq!(
        (stats.delivered, stats.pending, stats.dead_lettered),
        (20, 0, 0),
        "{stats:?}"
    );
    assert!(stats.failed > 0, "{stats:?}");
    let got = consume(
        &m.bootstrap_servers(),
        "fatal",
        1,
        20,
        Duration::from_secs(30),
    );
    let s = check_sequence(&numbers_per_key(&got)["k"], 20);
    assert_eq!((s.missing_count, s.out_of_order.len()), (0, 0), "{s:?}");
    // The broker refused the first attempt, so nothing is there twice.
    assert_eq!(s.duplicates, 0, "{s:?}");
}

#[test]
fn check_sequence_tells_resends_from_reordering() {
    use audit_kafka::Sequence;
    assert_eq!(check_sequence(&[0, 1, 2, 3], 4), Sequence::default());
    let s = check_sequence(&[0, 1, 2, 1, 2, 3], 4);
    assert_eq!((s.duplicates, s.out_of_order.len()), (2, 0));
    let s = check_sequence(&[0, 2, 1, 3], 4);
    assert_eq!((s.duplicates, s.out_of_order), (0, vec![1]));
    let s = check_sequence(&[0, 3, 9], 4);
    assert_eq!((s.missing, s.unexpected), (vec![1, 2], vec![9]));
}
