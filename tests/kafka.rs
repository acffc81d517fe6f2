//! The `kafka` target against a real Kafka-protocol broker: Tansu 0.6 (installed by
//! scripts/install-tansu.sh; helpers in tests/support/tansu.rs), each test with its own broker
//! on a free loopback port and the in-memory storage engine (sqlite for the restart test, from
//! `scripts/install-tansu.sh --sqlite`). Topics are created explicitly (`tansu topic create`);
//! messages are read back with an rdkafka consumer using `assign()` (no consumer group), until
//! the expected number arrived or a timeout. Without Tansu the tests are skipped, or fail when
//! CI=true. Fault injection without a broker: tests/kafka_faults.rs.
#![cfg(feature = "kafka")]

#[path = "support/audit_kafka.rs"]
mod audit_kafka;
#[path = "support/lifecycle_lines.rs"]
mod lifecycle_lines;
#[path = "support/tansu.rs"]
mod tansu;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use log4rs::append::Append;
use log4rs_audit::append::KafkaConfig;
use log4rs_audit::lifecycle;
use rdkafka::message::Message;

use audit_kafka::{appender, check_sequence, header, json, log_big, log_numbered, numbers_per_key};
use tansu::{free_port, have_tansu, have_tansu_storage, Storage, Tansu, AUDIT_TOPICS};

#[test]
fn fifty_thousand_events_from_two_threads_arrive_once_in_order_per_key() {
    if !have_tansu() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let broker = Tansu::start(tmp.path(), Storage::Memory);
    broker.create_topic("audit50k", 3);
    let a = appender(&format!(
        "brokers: {}\ntopic: audit50k\nspool_dir: {}\nflush_timeout: 60s\n",
        broker.brokers(),
        tmp.path().join("spool").display()
    ));
    const PER_THREAD: u64 = 25_000;
    std::thread::scope(|s| {
        for key in ["svc-a", "svc-b"] {
            let a = &a;
            s.spawn(move || {
                for n in 0..PER_THREAD {
                    log_numbered(a, "dku.audit.generic", Some(key), n);
                }
            });
        }
    });
    a.flush();
    let stats = a.stats();
    assert_eq!(stats.pending, 0, "{stats:?}");
    assert_eq!(stats.delivered, 2 * PER_THREAD, "{stats:?}");
    let messages = broker.consume("audit50k", 3, 50_000, Duration::from_secs(120));
    let mut per_key: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for m in &messages {
        let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
        assert_eq!(header(m, "routing-key").as_deref(), Some(key.as_str()));
        assert_eq!(header(m, "audit-topic").as_deref(), Some("generic"));
        let v = json(m);
        assert_eq!(v["logger"], "dku.audit.generic");
        per_key
            .entry(key)
            .or_default()
            .push(v["message"]["n"].as_u64().unwrap());
    }
    assert_eq!(messages.len(), 50_000, "{:?}", per_key.keys());
    let expected: Vec<u64> = (0..PER_THREAD).collect();
    for key in ["svc-a", "svc-b"] {
        assert!(
            per_key[key] == expected,
            "{key}: not each once and in order"
        );
    }
}

/// How the broker goes away in [`restart_mid_run`].
#[derive(Clone, Copy, Debug, PartialEq)]
enum Outage {
    /// SIGKILL: a crash.
    Kill,
    /// SIGTERM: a clean stop.
    Stop,
}

/// Logs 5,000 numbered events from 2 threads (one routing key each, 5 ms apart, so logging goes
/// on through both outages) through a `kafka` appender while the broker (sqlite storage, kept
/// across restarts) goes away once per `outages` entry (after 1,000 then 3,000 deliveries),
/// stays down 2 s and is restarted on the same port with the same file. Then checks, after `flush()`, by reading the topic back: every
/// number arrived; per key, first arrivals are in order; a number arrives twice only as a
/// re-send (at-least-once) and there are at most as many duplicates as events were in doubt
/// (logged, not yet confirmed) when the broker went away.
///
/// Why 5,000 and not more: Tansu 0.6.0's sqlite engine reads a record's headers by scanning its
/// whole `header` table (no index on `(topition, offset_id)`), so reading a topic back costs
/// records × headers: 5,000 records (2 headers each) read back in about 15 s on 2 busy cores,
/// 20,000 did not in 120 s (seen in CI: the broker held all 20,000, the consumer got none).
fn restart_mid_run(outages: &[Outage]) {
    let tmp = tempfile::tempdir().unwrap();
    let storage = Storage::Sqlite(tmp.path().join("tansu.db"));
    if !have_tansu_storage(&storage) {
        return;
    }
    let mut broker = Tansu::start(tmp.path(), storage);
    broker.create_topic("restart", 2);
    let a = appender(&format!(
        "brokers: {}\ntopic: restart\nflush_timeout: 120s\nspool_dir: {}\n",
        broker.brokers(),
        tmp.path().join("spool").display()
    ));
    const PER_KEY: u64 = 2_500;
    let logged = AtomicU64::new(0);
    let mut in_doubt = 0;
    let mut seen = Vec::new();
    std::thread::scope(|s| {
        for key in ["svc-a", "svc-b"] {
            let (a, logged) = (&a, &logged);
            s.spawn(move || {
                for n in 0..PER_KEY {
                    log_numbered(a, "dku.audit.generic", Some(key), n);
                    logged.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(5));
                }
            });
        }
        for (&outage, at) in outages.iter().zip([PER_KEY * 2 / 5, PER_KEY * 6 / 5]) {
            let deadline = Instant::now() + Duration::from_secs(120);
            while a.stats().delivered < at {
                assert!(Instant::now() < deadline, "{:?}", a.stats());
                std::thread::sleep(Duration::from_millis(5));
            }
            let delivered = a.stats().delivered;
            match outage {
                Outage::Kill => broker.kill(),
                Outage::Stop => assert!(broker.stop(), "tansu did not exit on SIGTERM"),
            }
            let logged_then = logged.load(Ordering::Relaxed);
            in_doubt += logged_then - delivered;
            // Down for 2 s: the appender says so (librdkafka's connection errors in
            // last_error) and keeps what it could not deliver in the spool.
            let up_at = Instant::now() + Duration::from_secs(2);
            let mut reported = None;
            while Instant::now() < up_at {
                reported = reported.or(a.stats().last_error);
                std::thread::sleep(Duration::from_millis(20));
            }
            seen.push((outage, delivered, logged_then, reported));
            broker.restart();
        }
    });
    a.flush();
    let stats = a.stats();
    eprintln!("outages (how, delivered, logged, last_error while down): {seen:?}; {stats:?}");
    for (outage, _, _, reported) in &seen {
        assert!(reported.is_some(), "{outage:?}: no last_error while down");
    }
    assert_eq!(
        (stats.pending, stats.dead_lettered, stats.delivered),
        (0, 0, 2 * PER_KEY),
        "{stats:?}; tansu: {}",
        broker.logs()
    );
    let read_from = Instant::now();
    let got = broker.consume("restart", 2, 2 * PER_KEY as usize, Duration::from_secs(300));
    eprintln!("read back in {:?}", read_from.elapsed());
    let per_key = numbers_per_key(&got);
    let names: Vec<&str> = per_key.keys().map(String::as_str).collect();
    assert_eq!(names, ["svc-a", "svc-b"]);
    let mut duplicates = 0;
    for (key, ns) in &per_key {
        let s = check_sequence(ns, PER_KEY);
        assert_eq!(
            (s.missing_count, s.out_of_order_count, s.unexpected.len()),
            (0, 0, 0),
            "{key}: {s:?}"
        );
        duplicates += s.duplicates as u64;
    }
    eprintln!(
        "{} messages read, {duplicates} duplicates ({in_doubt} events were in doubt)",
        got.len()
    );
    assert!(
        duplicates <= in_doubt,
        "{duplicates} duplicates, only {in_doubt} in doubt"
    );
}

/// The broker crashes (SIGKILL) twice in the middle of a run: nothing is lost, order per key
/// holds, duplicates only as re-sends.
#[test]
fn broker_killed_and_restarted_mid_run_loses_nothing() {
    restart_mid_run(&[Outage::Kill, Outage::Kill]);
}

/// The same with a clean stop (SIGTERM). Ignored: Tansu 0.6.0's sqlite engine breaks. While
/// stopping it answers the produce requests in flight with UNKNOWN_SERVER_ERROR; librdkafka's
/// idempotent producer then bumps its epoch itself (as Kafka allows); after the restart the
/// first produce with that epoch finds no row in Tansu's producer_epoch table and
/// tansu-storage's `query_one` panics ("more or less than one row", lite.rs:503) in the task
/// that serves every storage request, so every request from then on fails (produce answers
/// UNKNOWN_SERVER_ERROR) until Tansu restarts, and the same producer kills it again. The appender
/// keeps everything in its spool and retries (tested here: pending stays, nothing is lost).
/// Run with `--ignored` against a fixed Tansu.
#[test]
#[ignore = "Tansu 0.6.0 sqlite: a client-bumped producer epoch panics its storage task"]
fn broker_stopped_cleanly_and_restarted_mid_run_loses_nothing() {
    restart_mid_run(&[Outage::Kill, Outage::Stop]);
}

#[test]
fn topic_per_audit_topic_message_payload_and_no_key() {
    if !have_tansu() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let broker = Tansu::start(tmp.path(), Storage::Memory);
    broker.create_topic("audit-generic", 1);
    broker.create_topic("audit-authfail", 1);
    let a = appender(&format!(
        "brokers: {}\ntopic: audit-{{topic}}\nkey: none\npayload: message\nspool_dir: {}\n",
        broker.brokers(),
        tmp.path().join("spool").display()
    ));
    log_numbered(&a, "dku.audit.generic", Some("svc-a"), 1);
    log_numbered(&a, "dku.audit.authfail", None, 2);
    a.flush();
    let g = broker.consume("audit-generic", 1, 1, Duration::from_secs(30));
    let f = broker.consume("audit-authfail", 1, 1, Duration::from_secs(30));
    assert_eq!((g.len(), f.len()), (1, 1));
    assert_eq!(g[0].key(), None);
    assert_eq!(header(&g[0], "routing-key").as_deref(), Some("svc-a"));
    assert_eq!(header(&f[0], "routing-key"), None);
    assert_eq!(header(&f[0], "audit-topic").as_deref(), Some("authfail"));
    assert_eq!(
        json(&g[0]),
        serde_json::json!({"msgType": "numbered", "routingKey": "svc-a", "n": 1})
    );
    assert_eq!(json(&f[0])["n"], 2);
}

#[test]
fn failed_deliveries_are_counted_reported_and_retried_until_the_broker_is_up() {
    if !have_tansu() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let a = appender(&format!(
        "brokers: 127.0.0.1:{port}\ntopic: late\ndelivery_timeout: 1s\nretry_max: 1s\nflush_timeout: 30s\nspool_dir: {}\n",
        tmp.path().join("spool").display()
    ));
    for n in 0..20 {
        log_numbered(&a, "dku.audit.generic", Some("k"), n);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while a.stats().failed == 0 {
        assert!(Instant::now() < deadline, "{:?}", a.stats());
        std::thread::sleep(Duration::from_millis(100));
    }
    let stats = a.stats();
    assert_eq!(stats.pending, 20, "{stats:?}");
    assert!(stats.last_error.is_some(), "{stats:?}");
    let broker = Tansu::start_on(tmp.path(), port, Storage::Memory);
    // The producer's metadata requests may auto-create it first, with Tansu's default of 3.
    broker.create_topic("late", 3);
    a.flush();
    let stats = a.stats();
    assert_eq!((stats.pending, stats.delivered), (0, 20), "{stats:?}");
    let got = broker.consume("late", 3, 20, Duration::from_secs(30));
    let mut ns: Vec<u64> = got
        .iter()
        .map(|m| json(m)["message"]["n"].as_u64().unwrap())
        .collect();
    ns.sort_unstable();
    ns.dedup();
    assert_eq!(ns, (0..20).collect::<Vec<_>>());
}

#[test]
fn a_message_kafka_can_never_take_goes_to_the_dead_letter_file() {
    if !have_tansu() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let broker = Tansu::start(tmp.path(), Storage::Memory);
    broker.create_topic("small", 1);
    let spool = tmp.path().join("spool");
    let a = appender(&format!(
        "brokers: {}\ntopic: small\nproperties: {{ message.max.bytes: 2000 }}\nspool_dir: {}\n",
        broker.brokers(),
        spool.display()
    ));
    log_big(&a, 5000);
    log_numbered(&a, "dku.audit.generic", None, 7);
    a.flush();
    let stats = a.stats();
    assert_eq!(
        (stats.pending, stats.delivered, stats.dead_lettered),
        (0, 1, 1),
        "{stats:?}"
    );
    let dead = std::fs::read_to_string(spool.join("dead-letter.ndjson")).unwrap();
    let line: serde_json::Value = serde_json::from_str(dead.trim()).unwrap();
    assert!(line["deadLetter"]["reason"]
        .as_str()
        .unwrap()
        .contains("small"));
    let payload: serde_json::Value =
        serde_json::from_str(line["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["message"]["blob"].as_str().unwrap().len(), 5000);
    let got = broker.consume("small", 1, 1, Duration::from_secs(30));
    assert_eq!(got.len(), 1);
    assert_eq!(json(&got[0])["message"]["n"], 7);
}

#[test]
fn bad_properties_and_options_are_config_errors() {
    let build = |yaml: &str| {
        serde_yaml::from_str::<KafkaConfig>(yaml)
            .unwrap()
            .build()
            .map(drop)
            .unwrap_err()
            .to_string()
    };
    let tmp = tempfile::tempdir().unwrap();
    let spool = tmp.path().join("s");
    let e = build(&format!(
        "brokers: h:1\ntopic: t\nproperties: {{ no.such.property: 1 }}\nspool_dir: {}\n",
        spool.display()
    ));
    assert!(e.contains("no.such.property"), "{e}");
    let e = build(&format!(
        "brokers: h:1\ntopic: 'bad topic'\nspool_dir: {}\n",
        spool.display()
    ));
    assert!(e.contains("topic"), "{e}");
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config-examples/kafka")
}

#[test]
fn config_examples_yaml_and_properties_deliver_through_the_demo() {
    if !have_tansu() {
        return;
    }
    // The same setup twice: audit-kafka.yaml, and its properties twin (this crate's
    // KafkaAppender class, behind the async queue).
    for name in ["audit-kafka.yaml", "audit-kafka.properties"] {
        let tmp = tempfile::tempdir().unwrap();
        let broker = Tansu::start(tmp.path(), Storage::Memory);
        let topics = AUDIT_TOPICS;
        broker.create_topic_per_audit_topic("dss-audit-");
        let text = std::fs::read_to_string(examples().join(name)).unwrap();
        let config = tmp.path().join(name);
        std::fs::write(&config, text.replace("127.0.0.1:9092", &broker.brokers())).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_log4rs-audit"))
            .args(["demo", "--events", "300", "--config"])
            .arg(&config)
            .current_dir(tmp.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: {stderr}");
        assert!(!stderr.contains("warning"), "{name}: {stderr}");
        let mut total = 0;
        let mut own = Vec::new();
        for t in topics {
            let got = broker.consume(&format!("dss-audit-{t}"), 1, 1, Duration::from_secs(5));
            for m in &got {
                assert_eq!(header(m, "audit-topic").as_deref(), Some(t), "{name}");
                assert_eq!(json(m)["logger"], format!("dku.audit.{t}"), "{name}");
            }
            let payloads: Vec<String> = got
                .iter()
                .map(|m| String::from_utf8_lossy(m.payload().unwrap()).into_owned())
                .collect();
            own.extend(lifecycle_lines::lifecycle_types(&payloads));
            total += lifecycle_lines::without_lifecycle(&payloads).len();
        }
        assert_eq!(total, 300, "{name}");
        // The logger's own start and stop (topic generic) went to Kafka too, once each.
        assert_eq!(own, [lifecycle::START, lifecycle::STOP], "{name}");
        let local = std::fs::read_to_string(tmp.path().join("run/audit/audit.log")).unwrap();
        let local: Vec<&str> = local.lines().collect();
        assert_eq!(
            lifecycle_lines::without_lifecycle(&local).len(),
            300,
            "{name}: the local file too"
        );
        lifecycle_lines::assert_started_and_stopped(&local, name);
    }
}

#[test]
fn seed_product_kafka_log4j_snippet_works_unchanged() {
    if !have_tansu() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let broker = Tansu::start(tmp.path(), Storage::Memory);
    broker.create_topic("dss-apinode-queries", 1);
    let text = std::fs::read_to_string(examples().join("apinode-queries.properties")).unwrap();
    let text = text.replace("localhost:9092", &broker.brokers()).replace(
        "log4j.appender.QUERIES_KAFKA.Topic",
        &format!(
            "log4j.appender.QUERIES_KAFKA.SpoolDir={}\nlog4j.appender.QUERIES_KAFKA.Topic",
            tmp.path().join("spool").display()
        ),
    );
    let config = tmp.path().join("apinode-queries.properties");
    std::fs::write(&config, &text).unwrap();
    // The snippet as shipped has nothing to warn about.
    let c = log4rs_audit::config::from_properties(
        &std::fs::read_to_string(examples().join("apinode-queries.properties")).unwrap(),
        None,
        &Default::default(),
    )
    .unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let handle = log4rs_audit::init_file(&config).unwrap();
    log::info!(target: "dku.apinode.audit.queries", msgType = "query", service = "fraud"; "");
    log::info!(target: "dku.apinode.audit.queries", msgType = "query", service = "churn"; "");
    log::logger().flush();
    let got = broker.consume("dss-apinode-queries", 1, 2, Duration::from_secs(30));
    drop(handle);
    assert_eq!(got.len(), 2);
    let v = json(&got[0]);
    assert_eq!(v["logger"], "dku.apinode.audit.queries");
    assert_eq!(v["message"]["service"], "fraud");
    assert_eq!(
        header(&got[0], "audit-topic").as_deref(),
        Some("dku.apinode.audit.queries")
    );
}

#[test]
fn kafka_log4j_appender_options_map_with_warnings_naming_lines() {
    use log4rs_audit::config::{from_properties, PropertiesOptions};
    let text = "log4j.rootLogger=INFO, K\n\
                log4j.appender.K=org.apache.kafka.log4jappender.KafkaLog4jAppender\n\
                log4j.appender.K.BrokerList=b1:9092,b2:9092\n\
                log4j.appender.K.Topic=audit\n\
                log4j.appender.K.CompressionType=GZIP\n\
                log4j.appender.K.RequiredNumAcks=1\n\
                log4j.appender.K.SyncSend=true\n\
                log4j.appender.K.SecurityProtocol=SASL_PLAINTEXT\n\
                log4j.appender.K.SaslKerberosServiceName=kafka\n\
                log4j.appender.K.ClientJaasConfPath=/etc/kafka/jaas.conf\n\
                log4j.appender.K.layout=com.dataiku.dip.logging.JSONAuditLayout\n";
    let c = from_properties(
        text,
        Some(Path::new("k.properties")),
        &PropertiesOptions::default(),
    )
    .unwrap();
    let spec = &c.appenders[0];
    assert_eq!(spec.config.kind, "kafka");
    let options: BTreeMap<String, serde_value::Value> =
        spec.config.config.clone().deserialize_into().unwrap();
    let get = |k: &str| format!("{:?}", options.get(k).unwrap());
    assert_eq!(get("brokers"), "String(\"b1:9092,b2:9092\")");
    assert_eq!(get("topic"), "String(\"audit\")");
    assert_eq!(get("spool_dir"), "String(\"run/audit/spool-K\")");
    let props = get("properties");
    for p in [
        "compression.type",
        "gzip",
        "security.protocol",
        "sasl_plaintext",
        "sasl.kerberos.service.name",
    ] {
        assert!(props.contains(p), "{props}");
    }
    let w: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(w.len(), 3, "{w:?}");
    for (line, option) in [
        (6, "requirednumacks"),
        (7, "syncsend"),
        (10, "clientjaasconfpath"),
    ] {
        assert!(
            w.iter()
                .any(|m| m.contains(&format!(":{line}")) && m.contains(option)),
            "line {line} {option}: {w:?}"
        );
    }
    // Without BrokerList it is an error naming the appender.
    let e = from_properties(
        "log4j.rootLogger=INFO, K\nlog4j.appender.K=org.apache.kafka.log4jappender.KafkaLog4jAppender\nlog4j.appender.K.Topic=t\n",
        None,
        &PropertiesOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("BrokerList"), "{e}");
}
