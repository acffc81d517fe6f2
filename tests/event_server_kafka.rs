//! The Event Server's `kafka` destination end to end: the real `log4rs-audit event-server`
//! process, real clients (the `event_server` target with its spool, the demo, plain HTTP) and a
//! real Kafka-protocol broker, Tansu 0.6 (scripts/install-tansu.sh), each test with its own
//! broker on a free loopback port and the in-memory storage engine. Topics are created
//! explicitly; messages are read back with an rdkafka consumer using `assign()` until the
//! expected number arrived (then half a second more, so duplicates show) or a timeout.
//! Without Tansu the broker tests are skipped, or fail when CI=true.
#![cfg(all(feature = "kafka", feature = "server"))]

#[path = "support/audit_kafka.rs"]
mod audit_kafka;
#[path = "support/demo.rs"]
mod demo;
#[path = "support/lifecycle_lines.rs"]
mod lifecycle_lines;
#[path = "support/server.rs"]
mod support;
#[path = "support/tansu.rs"]
mod tansu;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use audit_kafka::{header, log_big};
use log::kv::Value;
use log4rs::append::Append;
use log4rs_audit::append::{EventServerAppender, EventServerConfig};
use log4rs_audit::lifecycle;
use rdkafka::message::{Message, OwnedMessage};
use support::{stored_files, ServerProcess};
use tansu::{free_port, have_tansu, Storage, Tansu, AUDIT_TOPICS};

// Helpers of this file (Tansu: tests/support/tansu.rs).

fn value(m: &OwnedMessage) -> String {
    String::from_utf8(m.payload().unwrap().to_vec()).unwrap()
}

fn key(m: &OwnedMessage) -> Option<String> {
    m.key().map(|k| String::from_utf8(k.to_vec()).unwrap())
}

/// An `event_server` target posting to `url`, spooling in `spool`.
fn client(url: &str, spool: &Path) -> EventServerAppender {
    let yaml = format!(
        "url: {url}\nauth_key: k-node-1\nspool_dir: {}\nbatch_max_events: 40\nlinger: 5ms\n\
         retry_min: 50ms\nretry_max: 1s\nrequest_timeout: 30s\nconnect_timeout: 2s\nflush_timeout: 90s\n",
        spool.display()
    );
    let config: EventServerConfig = serde_yaml::from_str(&yaml).unwrap();
    config.build().unwrap()
}

/// Logs a numbered event of `topic` through the target (`routingKey` when `rk` is given).
fn log_numbered(a: &EventServerAppender, topic: &str, rk: Option<&str>, n: u64) {
    let target = format!("dku.audit.{topic}");
    let mut kvs: Vec<(&str, Value)> = vec![("msgType", "numbered".into())];
    if let Some(k) = rk {
        kvs.push(("routingKey", k.into()));
    }
    kvs.push(("n", n.into()));
    a.append(
        &log::Record::builder()
            .target(&target)
            .level(log::Level::Info)
            .key_values(&kvs)
            .args(format_args!(""))
            .build(),
    )
    .unwrap();
}

/// Every stored line under `root`, as written (without `\n`).
fn stored_lines(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for f in stored_files(root) {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(text.is_empty() || text.ends_with('\n'), "{}", f.display());
        out.extend(text.lines().map(str::to_owned));
    }
    out
}

/// The `clientEvent` of a stored line, byte for byte.
fn client_event(line: &str) -> &str {
    let rest = line.strip_prefix("{\"clientEvent\":").unwrap();
    &rest[..rest.rfind(",\"origAddress\":").unwrap()]
}

fn get(url: &str, key: &str) -> String {
    ureq::get(url)
        .set("Authorization", &format!("Bearer {key}"))
        .call()
        .unwrap()
        .into_string()
        .unwrap()
}

fn stats(server: &ServerProcess) -> serde_json::Value {
    serde_json::from_str(&get(&format!("{}/stats", server.url), "k-stats")).unwrap()
}

/// POSTs `body`: status, `Retry-After`, body text.
fn post(url: &str, body: &str) -> (u16, Option<String>, String) {
    let r = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .build()
        .post(url)
        .set("Authorization", "Bearer k-node-1")
        .set("Content-Type", "application/x-ndjson")
        .send_string(body);
    let r = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let retry = r.header("Retry-After").map(str::to_owned);
    (r.status(), retry, r.into_string().unwrap())
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Checks the headers every message carries and returns its (node, seq).
fn checked_id(m: &OwnedMessage, topic: &str, node: &str) -> (String, u64) {
    assert_eq!(header(m, "audit-topic").as_deref(), Some(topic));
    assert_eq!(header(m, "audit-node").as_deref(), Some(node));
    let seq: u64 = header(m, "audit-seq").unwrap().parse().unwrap();
    (node.to_owned(), seq)
}

// ---------------------------------------------------------------------------------------------
// Tests

/// A filesystem and two kafka destinations: every event a real client sends is in Kafka once,
/// in order per routing key, with its headers, split per audit topic, as the stored line
/// (byte for byte what the filesystem destination has) or as the bare event object.
#[test]
fn events_reach_kafka_once_in_order_with_headers_and_the_files_too() {
    if !have_tansu() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let broker = Tansu::start(tmp.path(), Storage::Memory);
    broker.create_topic("audit-generic", 3);
    broker.create_topic("audit-authfail", 3);
    broker.create_topic("audit-failures", 1);
    let server = ServerProcess::start(
        tmp.path(),
        &format!(
            r#"listen: 127.0.0.1:0
event_keys: [ "k-node-1" ]
stats_keys: [ "k-stats" ]
timezone: utc
destinations:
  - {{ name: disk, type: filesystem, root: events }}
  - name: bus
    type: kafka
    brokers: {0}
    topic: audit-{{topic}}
    key: routing_key
    payload: envelope
  - name: failures
    type: kafka
    brokers: {0}
    topic: audit-failures
    topics: [authfail]
    key: none
    payload: message
    properties: {{ linger.ms: 1 }}
    delivery_timeout: 20s
"#,
            broker.brokers()
        ),
    );
    const PER_KEY: u64 = 150;
    const NO_KEY: u64 = 30;
    let keys = ["svc-a", "svc-b", "svc-c"];
    let a = client(&server.events_url(), &tmp.path().join("spool"));
    // Per (audit topic, routing key): the numbers in the order they were logged.
    let mut expected: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
    for n in 1..=PER_KEY {
        for k in keys {
            let topic = if n % 3 == 0 { "authfail" } else { "generic" };
            log_numbered(&a, topic, Some(k), n);
            expected
                .entry((topic.to_owned(), k.to_owned()))
                .or_default()
                .push(n);
        }
    }
    for n in 1..=NO_KEY {
        log_numbered(&a, "generic", None, n);
    }
    a.flush();
    let s = a.stats();
    let total = PER_KEY * 3 + NO_KEY;
    assert_eq!(
        (s.pending, s.delivered, s.dead_lettered),
        (0, total, 0),
        "{s:?}"
    );
    let node = a.node_id().to_owned();

    let authfail_count = (PER_KEY / 3 * 3) as usize;
    let generic_count = total as usize - authfail_count;
    let timeout = Duration::from_secs(60);
    let generic = broker.consume("audit-generic", 3, generic_count, timeout);
    let authfail = broker.consume("audit-authfail", 3, authfail_count, timeout);
    let failures = broker.consume("audit-failures", 1, authfail_count, timeout);
    assert_eq!(
        (generic.len(), authfail.len(), failures.len()),
        (generic_count, authfail_count, authfail_count)
    );

    // `bus`: exactly once, in order per routing key, keyed and with headers.
    let mut ids = BTreeSet::new();
    let mut got: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
    let mut seqs: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
    let mut no_key = BTreeSet::new();
    let mut bus_values = Vec::new();
    for (topic, messages) in [("generic", &generic), ("authfail", &authfail)] {
        for m in messages {
            let id = checked_id(m, topic, &node);
            assert!(ids.insert(id.clone()), "{id:?} twice");
            let v: serde_json::Value = serde_json::from_str(&value(m)).unwrap();
            let fields: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
            assert_eq!(fields, ["clientEvent", "origAddress", "serverTimestamp"]);
            assert_eq!(v["origAddress"], "127.0.0.1");
            assert!(m.timestamp().to_millis().unwrap() > 0);
            let n = v["clientEvent"]["n"].as_u64().unwrap();
            match header(m, "routing-key") {
                Some(rk) => {
                    assert_eq!(key(m).as_deref(), Some(rk.as_str()));
                    assert_eq!(v["clientEvent"]["routingKey"], rk.as_str());
                    seqs.entry((topic.to_owned(), rk.clone()))
                        .or_default()
                        .push(id.1);
                    got.entry((topic.to_owned(), rk)).or_default().push(n);
                }
                None => {
                    assert_eq!(key(m), None);
                    assert_eq!(topic, "generic");
                    assert!(no_key.insert(n));
                }
            }
            bus_values.push(value(m));
        }
    }
    assert_eq!(got, expected, "not each once and in order per routing key");
    assert_eq!(no_key, (1..=NO_KEY).collect::<BTreeSet<_>>());
    for (rk, s) in &seqs {
        assert!(
            s.windows(2).all(|w| w[0] < w[1]),
            "{rk:?}: seqs out of order"
        );
    }
    // The filesystem destination has the same events: the `envelope` payload is its line.
    let mut lines = stored_lines(&tmp.path().join("events"));
    assert_eq!(lines.len(), total as usize);
    lines.sort();
    bus_values.sort();
    assert!(
        lines == bus_values,
        "kafka values differ from the stored lines"
    );

    // `failures`: only authfail, unkeyed, the client's event object byte for byte.
    let mut objects = Vec::new();
    for m in &failures {
        checked_id(m, "authfail", &node);
        assert_eq!(key(m), None);
        assert!(header(m, "routing-key").is_some());
        objects.push(value(m));
    }
    objects.sort();
    let mut authfail_events: Vec<String> = lines
        .iter()
        .filter(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["clientEvent"]["n"].as_u64().unwrap() % 3 == 0
                && v["clientEvent"]["routingKey"].is_string()
        })
        .map(|l| client_event(l).to_owned())
        .collect();
    authfail_events.sort();
    assert!(objects == authfail_events, "message payloads differ");

    // Counted per destination.
    let st = stats(&server);
    assert_eq!(st["storedByDestination"]["disk"], total);
    assert_eq!(st["storedByDestination"]["bus"], total);
    assert_eq!(st["storedByDestination"]["failures"], authfail_count);
    assert_eq!(st["kafkaDeliveryFailures"]["bus"], 0);
    assert_eq!(st["kafkaFailing"], serde_json::json!({}));
    let text = get(&format!("{}/metrics", server.url), "k-stats");
    assert!(text.contains(&format!(
        "audit_destination_events_stored_total{{destination=\"bus\"}} {total}\n"
    )));
    assert!(text.contains("audit_kafka_delivery_failures_total{destination=\"failures\"} 0\n"));
    drop(a);
    let mut server = server;
    server.stop();
}

/// Kafka down when the server starts: a post gets 503 with Retry-After once the delivery
/// timeout passed, and nothing of it is stored; a client's spool keeps its events and, once the
/// broker is up, delivers all of them, once, to the files and to Kafka.
#[test]
fn kafka_down_at_start_gets_503_then_the_client_spool_delivers_once() {
    if !have_tansu() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = ServerProcess::start(
        tmp.path(),
        &format!(
            r#"listen: 127.0.0.1:0
event_keys: [ "k-node-1" ]
stats_keys: [ "k-stats" ]
destinations:
  - {{ name: disk, type: filesystem, root: events }}
  - {{ name: bus, type: kafka, brokers: "127.0.0.1:{port}", topic: "audit-{{topic}}", delivery_timeout: 2s }}
"#
        ),
    );
    let batch = concat!(
        r#"{"node":"curl-1","seq":1,"topic":"generic","routingKey":"svc-a","event":{"msgType":"by-hand","n":1}}"#,
        "\n",
        r#"{"node":"curl-1","seq":2,"topic":"generic","routingKey":"svc-a","event":{"msgType":"by-hand","n":2}}"#,
        "\n"
    );
    let started = Instant::now();
    let (status, retry_after, body) = post(&server.events_url(), batch);
    assert_eq!(status, 503, "{body}");
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert!(body.contains("kafka destination `bus`"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(stored_lines(&tmp.path().join("events")).is_empty());
    let st = stats(&server);
    assert_eq!(st["eventsStored"], 0);
    assert!(
        st["kafkaDeliveryFailures"]["bus"].as_u64().unwrap() >= 2,
        "{st}"
    );
    assert!(st["kafkaFailing"]["bus"].is_string(), "{st}");
    assert_eq!(st["batchesRejected"]["destination_unavailable"], 1, "{st}");

    // A client logs while Kafka is down: its events wait in its spool.
    const EVENTS: u64 = 100;
    let a = client(&server.events_url(), &tmp.path().join("spool"));
    for n in 1..=EVENTS {
        let rk = if n % 2 == 0 { "svc-a" } else { "svc-b" };
        log_numbered(&a, "generic", Some(rk), n);
    }
    wait_until("the client to get a 503", Duration::from_secs(30), || {
        a.stats().retries >= 1
    });
    assert_eq!(a.stats().pending, EVENTS);
    assert!(stored_lines(&tmp.path().join("events")).is_empty());

    // Kafka comes up: everything is delivered, once.
    let broker = Tansu::start_on(tmp.path(), port, Storage::Memory);
    // The producer's metadata requests may auto-create it first, with Tansu's default of 3.
    broker.create_topic("audit-generic", 3);
    a.flush();
    let s = a.stats();
    assert_eq!(
        (s.pending, s.delivered, s.dead_lettered),
        (0, EVENTS, 0),
        "{s:?}"
    );
    // The batch sent by hand, sent again, is stored now.
    let (status, _, body) = post(&server.events_url(), batch);
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"stored":2,"duplicates":0,"unrouted":0}"#)
    );

    let total = EVENTS as usize + 2;
    let got = broker.consume("audit-generic", 3, total, Duration::from_secs(60));
    let mut ids = BTreeSet::new();
    let mut per_key: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for m in &got {
        let node = header(m, "audit-node").unwrap();
        let id = checked_id(m, "generic", &node);
        assert!(ids.insert(id.clone()), "{id:?} twice");
        let v: serde_json::Value = serde_json::from_str(&value(m)).unwrap();
        if node == a.node_id() {
            per_key
                .entry(key(m).unwrap())
                .or_default()
                .push(v["clientEvent"]["n"].as_u64().unwrap());
        }
    }
    assert_eq!(got.len(), total);
    assert_eq!(
        per_key["svc-a"],
        (1..=EVENTS).filter(|n| n % 2 == 0).collect::<Vec<_>>()
    );
    assert_eq!(
        per_key["svc-b"],
        (1..=EVENTS).filter(|n| n % 2 == 1).collect::<Vec<_>>()
    );
    let mut lines = stored_lines(&tmp.path().join("events"));
    let mut values: Vec<String> = got.iter().map(value).collect();
    lines.sort();
    values.sort();
    assert!(lines == values, "files and Kafka differ");
    let st = stats(&server);
    assert_eq!(st["storedByDestination"]["bus"], total);
    assert_eq!(st["kafkaFailing"], serde_json::json!({}), "{st}");
    drop(a);
    let mut server = server;
    server.stop();
}

/// An event larger than the producer's `message.max.bytes` can never be delivered: its batch
/// is refused naming the line, the client sets that one event aside in its dead-letter file
/// and the others are stored everywhere.
#[test]
fn an_event_kafka_can_never_take_is_refused_by_line_and_dead_lettered_by_the_client() {
    if !have_tansu() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let broker = Tansu::start(tmp.path(), Storage::Memory);
    broker.create_topic("small", 1);
    let server = ServerProcess::start(
        tmp.path(),
        &format!(
            "listen: 127.0.0.1:0\nevent_keys: [ \"k-node-1\" ]\nstats_keys: [ \"k-stats\" ]\ndestinations:\n  \
             - {{ name: disk, type: filesystem, root: events }}\n  \
             - {{ name: bus, type: kafka, brokers: \"{}\", topic: small, properties: {{ message.max.bytes: 4000 }} }}\n",
            broker.brokers()
        ),
    );
    let spool = tmp.path().join("spool");
    let a = client(&server.events_url(), &spool);
    log_numbered(&a, "generic", Some("k"), 1);
    log_big(&a, 10_000);
    log_numbered(&a, "generic", Some("k"), 3);
    a.flush();
    let s = a.stats();
    assert_eq!(
        (s.pending, s.delivered, s.dead_lettered),
        (0, 2, 1),
        "{s:?}"
    );
    let dead = std::fs::read_to_string(spool.join("dead-letter.ndjson")).unwrap();
    assert!(
        dead.contains("kafka destination `bus` refuses it"),
        "{dead}"
    );
    assert!(dead.contains(&"x".repeat(10_000)));
    let got = broker.consume("small", 1, 2, Duration::from_secs(30));
    let ns: Vec<u64> = got
        .iter()
        .map(|m| {
            let v: serde_json::Value = serde_json::from_str(&value(m)).unwrap();
            v["clientEvent"]["n"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(ns, [1, 3]);
    assert_eq!(stored_lines(&tmp.path().join("events")).len(), 2);
    assert_eq!(
        stats(&server)["batchesRejected"]["refused_by_destination"],
        1
    );
    drop(a);
    let mut server = server;
    server.stop();
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config-examples/event-server")
}

/// `event-server --check` with a server config in `dir`: exit code, stdout, stderr.
fn check(dir: &Path, yaml: &str) -> (Option<i32>, String, String) {
    let path = dir.join("server.yaml");
    std::fs::write(&path, yaml).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_log4rs-audit"))
        .args(["event-server", "--check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Config errors name the destination and the field (or the line), and the example checks.
#[test]
fn config_errors_name_the_field_or_line() {
    let tmp = tempfile::tempdir().unwrap();
    let base = "event_keys: [k]\ndestinations:\n  - { name: disk, type: filesystem, root: events }\n  - name: bus\n    type: kafka\n";
    let cases = [
        (
            "    topic: t\n",
            "destinations[1] (`bus`).brokers: required for a kafka destination",
        ),
        (
            "    brokers: h:1\n",
            "destinations[1] (`bus`).topic: required",
        ),
        (
            "    brokers: h:1\n    topic: t\n    properties: { no.such.property: 1 }\n",
            "destinations[1] (`bus`).properties: ",
        ),
        (
            "    brokers: h:1\n    topic: 'audit {topic}'\n",
            "destinations[1] (`bus`).topic: `audit {topic}` is not a Kafka topic name",
        ),
        (
            "    brokers: h:1\n    topic: t\n    root: /r\n",
            "destinations[1] (`bus`).root: not an option of a `kafka` destination",
        ),
        (
            "    brokers: h:1\n    topic: t\n    key: [a]\n",
            "destinations[1].key: invalid type",
        ),
    ];
    for (extra, expected) in cases {
        let (code, _, stderr) = check(tmp.path(), &format!("{base}{extra}"));
        assert_eq!(code, Some(2), "{extra}: {stderr}");
        assert!(stderr.contains(expected), "{extra}: {stderr}");
    }
    let (_, _, stderr) = check(
        tmp.path(),
        &format!(
            "{base}    brokers: h:1\n    topic: t\n    properties: {{ no.such.property: 1 }}\n"
        ),
    );
    assert!(stderr.contains("no.such.property"), "{stderr}");
    let (_, _, stderr) = check(
        tmp.path(),
        &format!("{base}    brokers: h:1\n    topic: t\n    key: [a]\n"),
    );
    assert!(stderr.contains("line 8"), "{stderr}");

    let out = Command::new(env!("CARGO_BIN_EXE_log4rs-audit"))
        .args(["event-server", "--check", "--config"])
        .arg(examples().join("server-kafka.yaml"))
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "destination all-events (filesystem): ",
        "destination audit-bus (kafka): kafka://127.0.0.1:9092/dss-audit-{topic}",
        "destination api-queries-bus (kafka): kafka://127.0.0.1:9092/dss-apinode-queries",
    ] {
        assert!(stdout.contains(line), "{stdout}");
    }
}

/// The example server config, with the demo and the central-audit client example: every
/// event is in its audit topic's Kafka topic and on the server's disk, the queries also as
/// bare objects in their own topic.
#[test]
fn the_kafka_server_example_delivers_the_demo() {
    if !have_tansu() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let broker = Tansu::start(tmp.path(), Storage::Memory);
    let topics = AUDIT_TOPICS;
    broker.create_topic_per_audit_topic("dss-audit-");
    broker.create_topic("dss-apinode-queries", 1);
    let dir = tmp.path().join("server");
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    std::fs::copy(
        examples().join("keys/node-2.key"),
        dir.join("keys/node-2.key"),
    )
    .unwrap();
    let text = std::fs::read_to_string(examples().join("server-kafka.yaml")).unwrap();
    assert!(text.contains("listen: 127.0.0.1:11004") && text.contains("127.0.0.1:9092"));
    let text = text
        .replace("listen: 127.0.0.1:11004", "listen: 127.0.0.1:0")
        .replace("127.0.0.1:9092", &broker.brokers());
    let mut server = ServerProcess::start(&dir, &text);

    const EVENTS: u64 = 1_000;
    let node = tmp.path().join("node");
    std::fs::create_dir_all(&node).unwrap();
    let client = std::fs::read_to_string(examples().join("central-audit.yaml")).unwrap();
    let config = node.join("central-audit.yaml");
    std::fs::write(
        &config,
        client.replace("http://127.0.0.1:11004", &server.url),
    )
    .unwrap();
    // The demo prints `<topic> <count>` lines.
    let per_topic: BTreeMap<String, usize> = demo::run(&config, &node, EVENTS, &[])
        .per_topic
        .into_iter()
        .map(|(topic, n)| (topic, n as usize))
        .collect();
    // The logger's own start and stop (topic generic) travel with the events.
    let own_per_topic = |t: &str| if t == "generic" { 2 } else { 0 };
    for t in topics {
        let n = per_topic.get(t).copied().unwrap_or(0);
        let own = own_per_topic(t);
        let got = broker.consume(
            &format!("dss-audit-{t}"),
            1,
            n + own,
            Duration::from_secs(30),
        );
        assert_eq!(got.len(), n + own, "{t}");
        let values: Vec<String> = got.iter().map(value).collect();
        let own_types = lifecycle_lines::lifecycle_types(&values);
        if own > 0 {
            assert_eq!(own_types, [lifecycle::START, lifecycle::STOP], "{t}");
        } else {
            assert!(own_types.is_empty(), "{t}: {own_types:?}");
        }
        for m in &got {
            assert_eq!(header(m, "audit-topic").as_deref(), Some(t));
            let v: serde_json::Value = serde_json::from_str(&value(m)).unwrap();
            assert!(v["clientEvent"]["msgType"].is_string());
        }
    }
    let queries = per_topic.get("apinode-query").copied().unwrap_or(0);
    let got = broker.consume("dss-apinode-queries", 1, queries, Duration::from_secs(30));
    assert_eq!(got.len(), queries);
    for m in &got {
        let v: serde_json::Value = serde_json::from_str(&value(m)).unwrap();
        assert!(v["msgType"].is_string(), "{v}");
    }
    server.stop();
    let disk = stored_lines(&dir.join("run/event-server-kafka/events"));
    assert_eq!(
        lifecycle_lines::lifecycle_types(&disk),
        [lifecycle::START, lifecycle::STOP]
    );
    assert_eq!(
        lifecycle_lines::without_lifecycle(&disk).len(),
        EVENTS as usize
    );
}
