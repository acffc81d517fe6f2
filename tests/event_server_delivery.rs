//! The `event_server` target and the Event Server, both real processes on 127.0.0.1: events
//! logged by client processes are stored exactly once, in per-node order, while the server is
//! killed, down for a while, or the client itself is killed.
#![cfg(feature = "server")] // the Event Server is the `log4rs-audit event-server` binary

#[path = "support/certs.rs"]
mod certs;
#[path = "support/lifecycle_lines.rs"]
mod lifecycle_lines;
#[path = "support/server.rs"]
mod support;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lifecycle_lines::{is_lifecycle_event, lifecycle_types_of};
use log4rs_audit::{audit, lifecycle};
use support::{stored_events, ServerProcess};

const CHILD_CONFIG: &str = "LOG4RS_AUDIT_DELIVERY_CHILD_CONFIG";
const CHILD_NAME: &str = "LOG4RS_AUDIT_DELIVERY_CHILD_NAME";
const CHILD_EVENTS: &str = "LOG4RS_AUDIT_DELIVERY_CHILD_EVENTS";
const CHILD_THREADS: &str = "LOG4RS_AUDIT_DELIVERY_CHILD_THREADS";
const CHILD_HOLD: &str = "LOG4RS_AUDIT_DELIVERY_CHILD_HOLD";

const SERVER: &str = r#"listen: 127.0.0.1:0
event_keys: [ "k-node-1" ]
stats_keys: [ "k-stats" ]
timezone: utc
destinations:
  - { name: disk, type: filesystem, root: events }
  - { name: generic-by-day, type: filesystem, root: by-day, topics: [generic], folder_by_routing_key: false, partitioning_period: DAY }
"#;

/// The client: logs `events` numbered events per thread through the config's `event_server`
/// target, prints `spooled` once every logging call returned, then (unless told to hang on,
/// to be killed) drops the handle, which waits for delivery.
#[test]
fn delivery_child() {
    let Ok(config) = std::env::var(CHILD_CONFIG) else {
        return;
    };
    let name = std::env::var(CHILD_NAME).unwrap();
    let events: u64 = std::env::var(CHILD_EVENTS).unwrap().parse().unwrap();
    let threads: u64 = std::env::var(CHILD_THREADS).unwrap().parse().unwrap();
    let handle = log4rs_audit::init_file(Path::new(&config)).unwrap();
    handle.set_error_handler(|e| eprintln!("child audit error: {e}"));
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let stream = format!("{name}-t{t}");
            std::thread::spawn(move || {
                for n in 1..=events {
                    audit!(generic, "seq-check", stream = stream.as_str(), n = n);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    println!("spooled");
    if std::env::var(CHILD_HOLD).is_ok() {
        std::thread::sleep(Duration::from_secs(600));
    }
    let errors = handle.error_count();
    drop(handle);
    println!("done errors={errors}");
}

fn client_config(dir: &Path, name: &str, url: &str) -> PathBuf {
    let spool = dir.join(format!("spool-{name}"));
    let path = dir.join(format!("client-{name}.yaml"));
    std::fs::write(
        &path,
        format!(
            "appenders:\n  central:\n    kind: event_server\n    url: {url}\n    auth_key: k-node-1\n    \
             spool_dir: {}\n    retry_min: 20ms\n    retry_max: 500ms\n    flush_timeout: 120s\n    gzip: true\n\
             loggers:\n  dku.audit: {{ level: info, appenders: [central], additive: false }}\n",
            spool.display()
        ),
    )
    .unwrap();
    path
}

struct Client {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Client {
    fn start(config: &Path, name: &str, events: u64, threads: u64, hold: bool) -> Client {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--exact",
            "delivery_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_CONFIG, config)
        .env(CHILD_NAME, name)
        .env(CHILD_EVENTS, events.to_string())
        .env(CHILD_THREADS, threads.to_string())
        .stdout(Stdio::piped());
        if hold {
            cmd.env(CHILD_HOLD, "1");
        }
        let mut child = cmd.spawn().unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Client { child, lines }
    }

    /// Waits for a line containing `what` (libtest may print before it on the same line).
    fn expect(&self, what: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(what) => return line,
                Ok(_) => {}
                Err(_) => panic!("client never printed `{what}`"),
            }
        }
    }

    fn finish(mut self, within: Duration) {
        let line = self.expect("done errors=", within);
        assert!(line.ends_with("done errors=0"), "{line}");
        assert!(self.child.wait().unwrap().success());
    }
}

/// Stored `n` per stream, checked: 1..=events each exactly once, in order; and the logger's
/// own events beside them, each exactly once: `starts` `audit-logger-start`s (one per client
/// run) and `stops` `audit-logger-stop`s (one per run that dropped its handle), nothing else.
fn seq_check(root: &Path, streams: &[String], events: u64, starts: usize, stops: usize) {
    let stored = stored_events(root);
    let own = lifecycle_types_of(&stored);
    let count = |t: &str| own.iter().filter(|o| *o == t).count();
    assert_eq!(
        (count(lifecycle::START), count(lifecycle::STOP), own.len()),
        (starts, stops, starts + stops),
        "{}: the logger's own events {own:?}",
        root.display()
    );
    let mut seen: HashMap<String, Vec<u64>> = HashMap::new();
    for e in stored.into_iter().filter(|e| !is_lifecycle_event(e)) {
        assert_eq!(e["msgType"], "seq-check");
        let stream = e["stream"].as_str().unwrap().to_owned();
        seen.entry(stream)
            .or_default()
            .push(e["n"].as_u64().unwrap());
    }
    let mut report = BTreeMap::new();
    for s in streams {
        let got = seen.remove(s).unwrap_or_default();
        if got.len() as u64 != events
            || got.windows(2).any(|w| w[1] != w[0] + 1)
            || got.first() != Some(&1)
        {
            let distinct: std::collections::BTreeSet<_> = got.iter().collect();
            report.insert(
                s.clone(),
                format!("{} stored, {} distinct", got.len(), distinct.len()),
            );
        }
    }
    assert!(report.is_empty(), "{}: {report:?}", root.display());
    assert!(seen.is_empty(), "unexpected streams {:?}", seen.keys());
}

#[test]
fn three_clients_100k_events_server_killed_twice_exactly_once() {
    if std::env::var(CHILD_CONFIG).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(dir.path(), SERVER);
    let (events, threads) = (16_667, 2);
    let names = ["web-1", "web-2", "api-1"];
    let clients: Vec<Client> = names
        .iter()
        .map(|n| {
            Client::start(
                &client_config(dir.path(), n, &server.url),
                n,
                events,
                threads,
                false,
            )
        })
        .collect();
    for threshold in [15_000, 15_000] {
        let deadline = Instant::now() + Duration::from_secs(120);
        while server.events_stored("k-stats") < threshold && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        server.kill9();
        std::thread::sleep(Duration::from_millis(500));
        server.restart();
    }
    for c in clients {
        c.finish(Duration::from_secs(300));
    }
    // The third server process stored the rest: both kills fell in the middle of the run.
    assert!(server.events_stored("k-stats") > 0);
    server.stop();
    let streams: Vec<String> = names
        .iter()
        .flat_map(|n| (0..threads).map(move |t| format!("{n}-t{t}")))
        .collect();
    assert_eq!(streams.len() as u64 * events, 100_002);
    // Every destination that takes the events has each exactly once, in order, and each
    // client's start and stop (topic generic) exactly once.
    seq_check(&dir.path().join("events"), &streams, events, 3, 3);
    seq_check(&dir.path().join("by-day"), &streams, events, 3, 3);
}

#[test]
fn server_down_for_a_while_the_spool_grows_then_drains() {
    if std::env::var(CHILD_CONFIG).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(dir.path(), SERVER);
    server.stop();
    let config = client_config(dir.path(), "edge", &server.url);
    let client = Client::start(&config, "edge", 5_000, 1, false);
    client.expect("spooled", Duration::from_secs(120));
    // Down: everything waits in the spool.
    let spool = dir.path().join("spool-edge");
    let spooled: u64 = std::fs::read_dir(&spool)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "seg"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert!(
        spooled > 5_000 * 40,
        "spool holds the events ({spooled} bytes)"
    );
    std::thread::sleep(Duration::from_secs(1));
    server.restart();
    client.finish(Duration::from_secs(120));
    server.stop();
    seq_check(
        &dir.path().join("events"),
        &["edge-t0".to_owned()],
        5_000,
        1,
        1,
    );
    let ack = log4rs_audit::spool::acknowledged(&spool).unwrap();
    assert_eq!(
        ack, 5002,
        "the spool knows everything was delivered (the start, 5000 events, the stop)"
    );
}

#[test]
fn a_client_killed_after_spooling_delivers_on_restart() {
    if std::env::var(CHILD_CONFIG).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(dir.path(), SERVER);
    server.stop();
    let config = client_config(dir.path(), "killed", &server.url);
    let mut client = Client::start(&config, "killed", 3_000, 2, true);
    client.expect("spooled", Duration::from_secs(120));
    client.child.kill().unwrap();
    client.child.wait().unwrap();
    server.restart();
    // The next run of the app logs nothing new; opening the spool resumes delivery.
    Client::start(&config, "killed", 0, 1, false).finish(Duration::from_secs(120));
    server.stop();
    let streams = ["killed-t0".to_owned(), "killed-t1".to_owned()];
    // Two runs started; only the second stopped in order (the first was killed).
    seq_check(&dir.path().join("events"), &streams, 3_000, 2, 1);
}

#[test]
fn https_with_a_ca_file_or_trust_all_and_refused_without() {
    if std::env::var(CHILD_CONFIG).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (cert, _) = certs::self_signed(dir.path());
    let server = ServerProcess::start(
        dir.path(),
        &format!("{SERVER}tls: {{ cert: cert.pem, key: key.pem }}\n"),
    );
    assert!(server.url.starts_with("https://"));
    let cases = [
        ("ca", format!("ca_file: {}", cert.display())),
        ("trustall", "trust_all_certificates: true".to_owned()),
        ("untrusted", String::new()),
    ];
    for (name, tls) in cases {
        let yaml = format!(
            "appenders:\n  central:\n    kind: event_server\n    url: {}\n    auth_key: k-node-1\n    \
             spool_dir: {}\n    retry_min: 20ms\n    retry_max: 200ms\n    flush_timeout: 3s\n    {tls}\n\
             loggers:\n  dku.audit: {{ level: info, appenders: [central], additive: false }}\n",
            server.url,
            dir.path().join(format!("spool-{name}")).display()
        );
        let (logger, handle) = log4rs_audit::AuditLogger::new(
            log4rs_audit::AuditConfig::from_yaml(&yaml, None).unwrap(),
        )
        .unwrap();
        let errors = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&errors);
        handle.set_error_handler(move |e| sink.lock().unwrap().push(e.to_string()));
        for n in 1..=100u64 {
            let stream = format!("{name}-t0");
            let kvs: [(&str, log::kv::Value); 3] = [
                ("msgType", "seq-check".into()),
                ("stream", log::kv::Value::from(stream.as_str())),
                ("n", n.into()),
            ];
            log::Log::log(
                &logger,
                &log::Record::builder()
                    .target("dku.audit.generic")
                    .key_values(&kvs)
                    .args(format_args!(""))
                    .build(),
            );
        }
        handle.flush();
        let spool = dir.path().join(format!("spool-{name}"));
        let ack = log4rs_audit::spool::acknowledged(&spool).unwrap_or_default();
        // The logger's start and the 100 events (the stop comes with the handle's drop).
        if name == "untrusted" {
            // The server's certificate is not trusted: nothing delivered, everything kept.
            assert_ne!(ack, 101);
        } else {
            assert_eq!(ack, 101, "{name}: {:?}", errors.lock().unwrap());
        }
        drop(handle);
        drop(logger);
    }
    let mut server = server;
    server.stop();
    seq_check(
        &dir.path().join("events"),
        &["ca-t0".to_owned(), "trustall-t0".to_owned()],
        100,
        2,
        2,
    );
}

/// `async` with `when_full: drop` around `event_server`: every event is either delivered or
/// counted in a drop report that reached the error handler, the last ones included (reported
/// when the logger shuts down, not as an event `event_server` would refuse).
#[test]
fn async_drops_around_event_server_are_all_reported_by_shutdown() {
    if std::env::var(CHILD_CONFIG).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(dir.path(), SERVER);
    let yaml = format!(
        "appenders:\n  central:\n    kind: async\n    capacity: 2\n    when_full: drop\n    \
         appender: {{ kind: event_server, url: {}, auth_key: k-node-1, spool_dir: {}, retry_min: 20ms, \
         retry_max: 200ms, flush_timeout: 20s }}\n\
         loggers:\n  dku.audit: {{ level: info, appenders: [central], additive: false }}\n",
        server.url,
        dir.path().join("spool").display()
    );
    let (logger, handle) =
        log4rs_audit::AuditLogger::new(log4rs_audit::AuditConfig::from_yaml(&yaml, None).unwrap())
            .unwrap();
    let dropped = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let others = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (d, o) = (
        std::sync::Arc::clone(&dropped),
        std::sync::Arc::clone(&others),
    );
    handle.set_error_handler(move |e| match e {
        log4rs_audit::AuditError::Dropped { count, .. } => {
            d.fetch_add(*count, std::sync::atomic::Ordering::Relaxed);
        }
        other => o.lock().unwrap().push(other.to_string()),
    });
    let sent = 5_000u64;
    // On its own thread, whose cached routes go with it: dropping the logger then stops both
    // appenders (the sender's connection closes).
    let caller = logger.clone();
    std::thread::spawn(move || {
        for n in 1..=sent {
            let kvs: [(&str, log::kv::Value); 3] = [
                ("msgType", "seq-check".into()),
                ("stream", "drop-t0".into()),
                ("n", n.into()),
            ];
            log::Log::log(
                &caller,
                &log::Record::builder()
                    .target("dku.audit.generic")
                    .key_values(&kvs)
                    .args(format_args!(""))
                    .build(),
            );
        }
    })
    .join()
    .unwrap();
    drop(handle);
    drop(logger);
    let dropped = dropped.load(std::sync::atomic::Ordering::Relaxed);
    // The logger's start and stop go through the same queue: each is delivered or dropped
    // (and counted) like the application's events.
    let own = 2;
    let deadline = Instant::now() + Duration::from_secs(30);
    let stored = loop {
        let stored = stored_events(&dir.path().join("events"));
        if stored.len() as u64 + dropped >= sent + own || Instant::now() > deadline {
            break stored;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    server.stop();
    let own_delivered = lifecycle_types_of(&stored);
    // The start found the queue empty; the stop may have met it full.
    assert!(
        own_delivered == [lifecycle::START] || own_delivered == [lifecycle::START, lifecycle::STOP],
        "{own_delivered:?}"
    );
    let delivered = (stored.len() - own_delivered.len()) as u64;
    let own_dropped = own - own_delivered.len() as u64;
    assert!(
        dropped > 0,
        "a queue of 2 behind a spool drops some of {sent}"
    );
    assert_eq!(
        delivered + dropped,
        sent + own_dropped,
        "errors: {:?}",
        others.lock().unwrap()
    );
    assert!(
        others.lock().unwrap().is_empty(),
        "{:?}",
        others.lock().unwrap()
    );
}
