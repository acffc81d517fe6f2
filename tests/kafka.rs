//! The `kafka` target against a real Kafka-protocol broker: Tansu 0.6 (installed by
//! scripts/install-tansu.sh), each test with its own broker on a free loopback port and the
//! in-memory storage engine. Topics are created explicitly (`tansu topic create`); messages are
//! read back with an rdkafka consumer using `assign()` (no consumer group), until the expected
//! number arrived or a timeout. Without Tansu the tests are skipped, or fail when CI=true.
#![cfg(feature = "kafka")]

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use log4rs::append::Append;
use log4rs_audit::append::{KafkaAppender, KafkaConfig};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message, OwnedMessage};
use rdkafka::{Offset, TopicPartitionList};

fn tansu_bin() -> Option<PathBuf> {
    static BIN: OnceLock<Option<PathBuf>> = OnceLock::new();
    BIN.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-tansu.sh");
        let out = Command::new(script)
            .stderr(Stdio::inherit())
            .output()
            .ok()?;
        let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        (out.status.success() && path.is_file()).then_some(path)
    })
    .clone()
}

fn have_tansu() -> bool {
    if tansu_bin().is_some() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("Tansu is missing: run scripts/install-tansu.sh");
    }
    eprintln!("skipped: Tansu not installed (scripts/install-tansu.sh)");
    false
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Broker {
    port: u16,
    child: Option<Child>,
    log: PathBuf,
}

impl Broker {
    fn start(dir: &Path) -> Broker {
        Broker::start_on(dir, free_port())
    }

    fn start_on(dir: &Path, port: u16) -> Broker {
        let log = dir.join(format!("tansu-{port}.log"));
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(tansu_bin().unwrap())
            .arg("broker")
            .args(["--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new().append(true).open(&log).unwrap(),
            ))
            .spawn()
            .unwrap();
        let b = Broker {
            port,
            child: Some(child),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not start: {}",
                b.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        b
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Creates `name`; a producer's metadata request may have created it first (then
    /// "already exists" is fine). Retried while the broker is still starting.
    fn create_topic(&self, name: &str, partitions: u32) {
        let mut last = String::new();
        for _ in 0..20 {
            let out = Command::new(tansu_bin().unwrap())
                .args(["topic", "create", name, "--partitions"])
                .arg(partitions.to_string())
                .args(["--broker", &format!("tcp://127.0.0.1:{}", self.port)])
                .output()
                .unwrap();
            last = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            if out.status.success() || last.to_ascii_lowercase().contains("exists") {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!("topic create {name}: {last}");
    }

    /// Reads `topic` from the beginning until `n` messages arrived (then half a second more,
    /// so duplicates show) or `timeout`.
    fn consume(
        &self,
        topic: &str,
        partitions: i32,
        n: usize,
        timeout: Duration,
    ) -> Vec<OwnedMessage> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.brokers())
            .set("group.id", "log4rs-audit-test")
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .unwrap();
        }
        consumer.assign(&tpl).unwrap();
        let mut out = Vec::new();
        let deadline = Instant::now() + timeout;
        let mut settle: Option<Instant> = None;
        while Instant::now() < deadline && !settle.is_some_and(|s| Instant::now() >= s) {
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => out.push(m.detach()),
                Some(Err(e)) => eprintln!("consumer: {e}"),
                None => {}
            }
            if out.len() >= n && settle.is_none() {
                settle = Some(Instant::now() + Duration::from_millis(500));
            }
        }
        out
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn appender(yaml: &str) -> KafkaAppender {
    let config: KafkaConfig = serde_yaml::from_str(yaml).unwrap();
    config.build().unwrap()
}

fn log_numbered(a: &dyn Append, target: &str, key: Option<&str>, n: u64) {
    let mut kvs: Vec<(&str, log::kv::Value)> = vec![("msgType", "numbered".into())];
    if let Some(k) = key {
        kvs.push(("routingKey", k.into()));
    }
    kvs.push(("n", n.into()));
    a.append(
        &log::Record::builder()
            .target(target)
            .level(log::Level::Info)
            .key_values(&kvs)
            .args(format_args!(""))
            .build(),
    )
    .unwrap();
}

fn header(m: &OwnedMessage, name: &str) -> Option<String> {
    let h = m.headers()?;
    h.iter()
        .find(|h| h.key == name)
        .and_then(|h| h.value)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

fn json(m: &OwnedMessage) -> serde_json::Value {
    serde_json::from_slice(m.payload().unwrap()).unwrap()
}

#[test]
fn fifty_thousand_events_from_two_threads_arrive_once_in_order_per_key() {
    if !have_tansu() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let broker = Broker::start(tmp.path());
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

#[test]
fn topic_per_audit_topic_message_payload_and_no_key() {
    if !have_tansu() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let broker = Broker::start(tmp.path());
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
    let broker = Broker::start_on(tmp.path(), port);
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
    let broker = Broker::start(tmp.path());
    broker.create_topic("small", 1);
    let spool = tmp.path().join("spool");
    let a = appender(&format!(
        "brokers: {}\ntopic: small\nproperties: {{ message.max.bytes: 2000 }}\nspool_dir: {}\n",
        broker.brokers(),
        spool.display()
    ));
    let big = "x".repeat(5000);
    a.append(
        &log::Record::builder()
            .target("dku.audit.generic")
            .level(log::Level::Info)
            .key_values(&[("msgType", "big"), ("blob", big.as_str())])
            .args(format_args!(""))
            .build(),
    )
    .unwrap();
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
fn yaml_config_example_delivers_through_the_demo() {
    if !have_tansu() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let broker = Broker::start(tmp.path());
    let topics = [
        "generic",
        "generic-failure",
        "authfail",
        "apinode-query",
        "compute-resource-usage",
        "apicalls",
    ];
    for t in topics {
        broker.create_topic(&format!("dss-audit-{t}"), 1);
    }
    let text = std::fs::read_to_string(examples().join("audit-kafka.yaml")).unwrap();
    let config = tmp.path().join("audit-kafka.yaml");
    std::fs::write(&config, text.replace("127.0.0.1:9092", &broker.brokers())).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_log4rs-audit"))
        .args(["demo", "--events", "300", "--config"])
        .arg(&config)
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut total = 0;
    for t in topics {
        let got = broker.consume(&format!("dss-audit-{t}"), 1, 1, Duration::from_secs(5));
        for m in &got {
            assert_eq!(header(m, "audit-topic").as_deref(), Some(t));
            assert_eq!(json(m)["logger"], format!("dku.audit.{t}"));
        }
        total += got.len();
    }
    assert_eq!(total, 300);
}

#[test]
fn seed_product_kafka_log4j_snippet_works_unchanged() {
    if !have_tansu() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let broker = Broker::start(tmp.path());
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
