//! The `async` appender: nothing lost at shutdown behind a slow sink (compared with
//! tracing-appender's non_blocking in the same test), byte-identical lines, opt-in drops with a
//! warning event, errors and timeouts reported.

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

use log::kv::Value;
use log::{Level, Log, Record};
use log4rs::append::Append;
use log4rs_audit::append::{AsyncAppender, AuditFileAppender, FileOptions, WhenFull};
use log4rs_audit::encode::{AuditEnvelopeEncoder, FixedClock, Timezone};
use log4rs_audit::{lifecycle, AuditConfig, AuditLogger, CallScope};

use crate::lifecycle_lines::{
    assert_started, assert_started_and_stopped, lifecycle_types, without_lifecycle,
};

/// An appender that takes `delay` per event and remembers what it got.
#[derive(Debug)]
struct SlowSink {
    delay: Duration,
    got: Arc<Mutex<Vec<String>>>,
    fail: bool,
}

impl Append for SlowSink {
    fn append(&self, record: &Record) -> anyhow::Result<()> {
        std::thread::sleep(self.delay);
        if self.fail {
            anyhow::bail!("disk on fire");
        }
        self.got
            .lock()
            .unwrap()
            .push(format!("{} {}", record.level(), record.args()));
        Ok(())
    }
    fn flush(&self) {}
}

fn slow(delay: Duration) -> (SlowSink, Arc<Mutex<Vec<String>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    (
        SlowSink {
            delay,
            got: Arc::clone(&got),
            fail: false,
        },
        got,
    )
}

fn event(appender: &dyn Append, n: usize) {
    let kvs = [("msgType", Value::from("e")), ("n", Value::from(n as u64))];
    appender
        .append(
            &Record::builder()
                .level(Level::Info)
                .target("dku.audit.generic")
                .args(format_args!("event {n}"))
                .key_values(&kvs)
                .build(),
        )
        .unwrap();
}

/// A writer for tracing-appender that takes `delay` per write and counts lines.
struct SlowWriter {
    delay: Duration,
    lines: Arc<AtomicU64>,
}

impl std::io::Write for SlowWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::thread::sleep(self.delay);
        self.lines.fetch_add(
            buf.iter().filter(|b| **b == b'\n').count() as u64,
            Ordering::Relaxed,
        );
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn shutdown_delivers_every_event_behind_a_slow_sink() {
    const EVENTS: usize = 4000;
    const THREADS: usize = 4;
    let delay = Duration::from_micros(500); // 2000 events/s at most: the queue fills up
    let (sink, got) = slow(delay);
    let appender =
        Arc::new(AsyncAppender::for_appender(Box::new(sink), 256, WhenFull::Block).unwrap());
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let appender = Arc::clone(&appender);
            s.spawn(move || {
                for i in 0..EVENTS / THREADS {
                    event(&*appender, t * EVENTS + i);
                }
            });
        }
    });
    let logged = started.elapsed();
    let stats = appender.stats();
    assert_eq!(stats.accepted, EVENTS as u64);
    assert_eq!(stats.dropped, 0);
    drop(Arc::into_inner(appender).unwrap()); // shutdown drains
    let ours = got.lock().unwrap().len();
    assert_eq!(ours, EVENTS, "every event reaches the wrapped appender");

    // The same load through tracing-appender's non_blocking (defaults: lossy, 128k lines).
    let lines = Arc::new(AtomicU64::new(0));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(256)
        .finish(SlowWriter {
            delay,
            lines: Arc::clone(&lines),
        });
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let mut writer = writer.clone();
            s.spawn(move || {
                for i in 0..EVENTS / THREADS {
                    let _ = writeln!(writer, "event {}", t * EVENTS + i);
                }
            });
        }
    });
    drop(writer);
    drop(guard);
    let theirs = lines.load(Ordering::Relaxed);
    println!(
        "slow sink (500 µs/event), {EVENTS} events from {THREADS} threads, queue 256: async kept {ours} ({:.0}%, callers blocked {:.2} s in all); tracing-appender non_blocking kept {theirs} ({:.0}%)",
        100.0 * ours as f64 / EVENTS as f64,
        logged.as_secs_f64(),
        100.0 * theirs as f64 / EVENTS as f64
    );
}

#[test]
fn flush_waits_until_every_accepted_event_is_written() {
    let (sink, got) = slow(Duration::from_micros(200));
    let appender = AsyncAppender::for_appender(Box::new(sink), 65536, WhenFull::Block).unwrap();
    for i in 0..500 {
        event(&appender, i);
    }
    appender.flush();
    assert_eq!(got.lock().unwrap().len(), 500);
}

#[test]
fn a_flush_over_the_bound_is_reported_to_the_next_caller() {
    let (sink, got) = slow(Duration::from_millis(20));
    let appender = AsyncAppender::for_appender(Box::new(sink), 1024, WhenFull::Block)
        .unwrap()
        .with_shutdown_timeout(Duration::from_millis(50));
    for i in 0..20 {
        event(&appender, i);
    }
    appender.flush();
    // Bounded: flush gave up after the 50 ms shutdown timeout, long before the sink (20 ms per
    // event) took all 20 (what it did not take is still queued, nothing is lost).
    let taken = got.lock().unwrap().len();
    assert!(taken < 20, "flush waited for all {taken} events");
    let kvs = [("msgType", Value::from("e"))];
    let err = appender
        .append(&Record::builder().key_values(&kvs).build())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not yet handed to the wrapped appender after 50ms (flush)"),
        "{err}"
    );
}

#[test]
fn drop_mode_counts_and_logs_a_warning_event() {
    let (sink, got) = slow(Duration::from_millis(2));
    let appender = AsyncAppender::for_appender(Box::new(sink), 8, WhenFull::Drop).unwrap();
    for i in 0..200 {
        event(&appender, i);
    }
    let stats = appender.stats();
    assert!(stats.dropped > 0, "{stats:?}");
    assert_eq!(stats.accepted + stats.dropped, 200);
    drop(appender);
    let got = got.lock().unwrap();
    let events = got.iter().filter(|l| l.starts_with("INFO")).count() as u64;
    assert_eq!(events, stats.accepted);
    let warned: u64 = got
        .iter()
        .filter(|l| l.starts_with("WARN"))
        .map(|l| l.split(' ').nth(1).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(
        warned,
        stats.dropped,
        "{:?}",
        got.iter()
            .filter(|l| l.starts_with("WARN"))
            .collect::<Vec<_>>()
    );
}

#[test]
fn wrapped_appender_errors_reach_the_next_caller() {
    let (mut sink, _) = slow(Duration::ZERO);
    sink.fail = true;
    let appender = AsyncAppender::for_appender(Box::new(sink), 16, WhenFull::Block).unwrap();
    event(&appender, 1);
    appender.flush();
    let kvs = [("msgType", Value::from("e"))];
    let err = appender
        .append(&Record::builder().key_values(&kvs).build())
        .unwrap_err();
    assert!(format!("{err:#}").contains("disk on fire"), "{err:#}");
}

#[derive(serde::Serialize)]
struct Params {
    zeta: u32,
    alpha: Vec<&'static str>,
    nested: Option<f64>,
}

/// Logs the same events (every value type, MDC, callTime) through `appender`.
fn log_mix(appender: &dyn Append, mono: Instant) {
    let params = Params {
        zeta: 1,
        alpha: vec!["x", "y\"z"],
        nested: Some(2.5),
    };
    let _call = CallScope::enter("/api/datasets/export")
        .user("alice")
        .started_at(mono - Duration::from_millis(1234));
    let kvs: Vec<(&str, Value)> = vec![
        ("authUser", Value::from("alice")),
        ("rows", Value::from(1200u64)),
        ("delta", Value::from(-3i64)),
        ("ratio", Value::from(0.25f64)),
        ("ok", Value::from(true)),
        ("none", Value::null()),
        ("big", Value::from(u128::MAX)),
        ("params", Value::from_serde(&params)),
        ("shown", Value::from_display(&"disp\tlay")),
        ("msgType", Value::from("dataset-export")),
    ];
    for i in 0..3 {
        appender
            .append(
                &Record::builder()
                    .level(Level::Warn)
                    .target("dku.audit.generic")
                    .args(format_args!("text {i}"))
                    .key_values(&kvs)
                    .build(),
            )
            .unwrap();
    }
    appender
        .append(
            &Record::builder()
                .target("dku.audit.generic")
                .args(format_args!("{{\"msgType\": \"raw\", \"n\": {}}}", 7))
                .build(),
        )
        .unwrap();
}

fn encoder(mono: Instant) -> AuditEnvelopeEncoder {
    let wall = UNIX_EPOCH + Duration::from_millis(1_582_124_702_441);
    AuditEnvelopeEncoder::new(Timezone::Utc).with_clock(FixedClock::new(wall, mono))
}

#[test]
fn async_lines_are_byte_identical_to_synchronous_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mono = Instant::now();
    let file = |name: &str| {
        AuditFileAppender::new(dir.path().join(name), encoder(mono), FileOptions::default())
            .unwrap()
    };
    log_mix(&file("sync.log"), mono);
    // audit_file wrapped: encoded on the caller.
    log_mix(
        &AsyncAppender::for_file(file("lines.log"), 2, WhenFull::Block).unwrap(),
        mono,
    );
    // Any other appender (log4rs's FileAppender with the envelope encoder): replayed on the
    // writer thread with the caller's MDC, call start and key-values.
    let log4rs_file = log4rs::append::file::FileAppender::builder()
        .encoder(Box::new(encoder(mono)))
        .build(dir.path().join("replayed.log"))
        .unwrap();
    log_mix(
        &AsyncAppender::for_appender(Box::new(log4rs_file), 2, WhenFull::Block).unwrap(),
        mono,
    );
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    let sync = read("sync.log");
    assert_eq!(sync.lines().count(), 4);
    assert!(sync.contains("\"callTime\":1234,"), "{sync}");
    assert!(
        sync.contains("\"params\":{\"zeta\":1,\"alpha\":[\"x\",\"y\\\"z\"],\"nested\":2.5}"),
        "{sync}"
    );
    assert_eq!(read("lines.log"), sync);
    assert_eq!(read("replayed.log"), sync);
}

#[test]
fn replayed_records_carry_the_callers_wall_time() {
    // A slow wrapped appender: the line must still say when the caller logged.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replayed.log");
    #[derive(Debug)]
    struct Slow(log4rs::append::file::FileAppender);
    impl Append for Slow {
        fn append(&self, record: &Record) -> anyhow::Result<()> {
            std::thread::sleep(Duration::from_millis(300));
            self.0.append(record)
        }
        fn flush(&self) {}
    }
    let inner = log4rs::append::file::FileAppender::builder()
        .encoder(Box::new(AuditEnvelopeEncoder::new(Timezone::Utc)))
        .build(&path)
        .unwrap();
    let appender = AsyncAppender::for_appender(Box::new(Slow(inner)), 16, WhenFull::Block).unwrap();
    let before = chrono::Utc::now();
    event(&appender, 1);
    drop(appender);
    let line = std::fs::read_to_string(&path).unwrap();
    let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    let ts = chrono::DateTime::parse_from_str(
        v["timestamp"].as_str().unwrap(),
        "%Y-%m-%dT%H:%M:%S%.3f%z",
    )
    .unwrap();
    let lag = ts.signed_duration_since(before).num_milliseconds();
    assert!(
        (0..200).contains(&lag),
        "timestamp {ts} is {lag} ms after the call"
    );
}

#[test]
fn through_the_logger_flush_and_handle_drop_drain() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "
appenders:
  audit:
    kind: async
    appender: {{ kind: audit_file, path: '{0}/audit.log', durability: buffered }}
    capacity: 64
    when_full: block
    shutdown_timeout: 10s
root: {{ level: off }}
loggers:
  dku.audit: {{ level: info, appenders: [audit], additive: false }}
",
        dir.path().display()
    );
    let (logger, handle) = AuditLogger::new(AuditConfig::from_yaml(&yaml, None).unwrap()).unwrap();
    let kvs = [("msgType", Value::from("login"))];
    for _ in 0..1000 {
        logger.log(
            &Record::builder()
                .level(Level::Info)
                .target("dku.audit.generic")
                .key_values(&kvs)
                .build(),
        );
    }
    Log::flush(&logger);
    let trail = |p: &str| -> Vec<String> {
        std::fs::read_to_string(dir.path().join(p))
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    };
    // The application's lines: the logger's own events (start first) left out.
    let count = |p: &str| without_lifecycle(trail(p)).len();
    assert_eq!(
        count("audit.log"),
        1000,
        "flush returns after every line is written"
    );
    assert_started(&trail("audit.log"), "audit.log");
    for _ in 0..1000 {
        logger.log(
            &Record::builder()
                .level(Level::Info)
                .target("dku.audit.generic")
                .key_values(&kvs)
                .build(),
        );
    }
    drop(handle);
    drop(logger);
    assert_eq!(count("audit.log"), 2000);
    // The handle's drop wrote the stop through the queue, after every event.
    assert_started_and_stopped(&trail("audit.log"), "audit.log");
    assert_eq!(
        lifecycle_types(trail("audit.log")),
        [lifecycle::START, lifecycle::STOP]
    );
}

#[test]
fn check_config_validates_the_wrapped_appender_without_side_effects() {
    let dir = tempfile::tempdir().unwrap();
    let check = |appender: &str| {
        let yaml = format!(
            "appenders:\n  a:\n    kind: async\n    {appender}\nroot: {{ level: info, appenders: [a] }}\n"
        );
        let config = AuditConfig::from_yaml(&yaml, None).unwrap();
        log4rs_audit::config::check::validate(&config, &log4rs_audit::config::deserializers())
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let path = dir.path().join("sub/audit.log");
    assert_eq!(
        check(&format!(
            "appender: {{ kind: audit_file, path: '{}' }}",
            path.display()
        )),
        ""
    );
    assert!(!path.parent().unwrap().exists(), "nothing created");
    let e = check(&format!(
        "appender: {{ kind: audit_file, path: '{}', durabilty: buffered }}",
        path.display()
    ));
    assert!(
        e.contains("kind `async`: appender: kind `audit_file`: Unknown field durabilty"),
        "{e}"
    );
    let e = check("appender: { kind: console, encoder: { kind: audit_envelope, timezone: mars } }");
    assert!(e.contains("appender: kind `console`"), "{e}");
    let e = check("appender: { kind: \"null\" }\n    when_full: sometimes");
    assert!(e.contains("when_full"), "{e}");
    let e = check("appender: { kind: \"null\" }\n    shutdown_timeout: soon");
    assert!(e.contains("shutdown_timeout"), "{e}");
}

#[test]
fn audit_file_mode_async_is_checked_and_drains() {
    let dir = tempfile::tempdir().unwrap();
    let errors = |options: &str| {
        let yaml = format!(
            "appenders:\n  a: {{ kind: audit_file, path: '{}/a.log', {options} }}\nroot: {{ level: info, appenders: [a] }}\n",
            dir.path().display()
        );
        let config = AuditConfig::from_yaml(&yaml, None).unwrap();
        log4rs_audit::config::check::validate(&config, &log4rs_audit::config::deserializers())
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        errors("mode: async, capacity: 8, when_full: drop, shutdown_timeout: 1s"),
        ""
    );
    assert!(errors("capacity: 8").contains("capacity: needs `mode: async`"));
    assert!(errors("mode: later").contains("mode: `later` (expected sync or async)"));

    let yaml = format!(
        "appenders:\n  a: {{ kind: audit_file, path: '{}/a.log', mode: async, capacity: 4 }}\nroot: {{ level: info, appenders: [a] }}\n",
        dir.path().display()
    );
    let (logger, handle) = AuditLogger::new(AuditConfig::from_yaml(&yaml, None).unwrap()).unwrap();
    let kvs = [("msgType", Value::from("login"))];
    for _ in 0..100 {
        logger.log(
            &Record::builder()
                .target("dku.audit.generic")
                .key_values(&kvs)
                .build(),
        );
    }
    drop(handle);
    drop(logger);
    let text = std::fs::read_to_string(dir.path().join("a.log")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(without_lifecycle(lines.iter()).len(), 100);
    // Drained on the drop, the logger's stop included, last.
    assert_started_and_stopped(&lines, "a.log");
    assert_eq!(lifecycle_types(&lines), [lifecycle::START, lifecycle::STOP]);
}
