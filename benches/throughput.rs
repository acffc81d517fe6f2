//! Throughput and caller latency of audit logging to a file, against a hand-written floor,
//! log4rs's `JsonEncoder` and `tracing-subscriber`'s JSON formatter; and of the non-blocking
//! mode (`async`) against tracing-appender's `non_blocking` and slog-async; and of the tracing
//! Layer (`AuditLayer`) into the same file, against the `log` path and tracing's JSON layer.
//!
//! ```text
//! cargo bench --bench throughput [-- --events N] [--rounds R] [--only NAME] [--rate EV_PER_S]
//! ```
//!
//! Every contender writes `events` events of the demo's `dataset-export` shape, from 1 thread
//! and from 2 threads (the same total, split), to a file in a fresh temp dir. Wall time runs
//! from the start barrier to the end of the final flush; latency is measured around each call.
//! The non-blocking contenders also run paced: one thread emitting at `--rate` events/s
//! (default 500,000), each call started on its schedule, so the latency is what a busy service
//! sees at that sustained rate rather than at saturation.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use log::Log;
use log4rs::append::Append;
use log4rs_audit::{AuditConfig, AuditLogger, CallScope};
use parking_lot::Mutex;
use serde::Serialize;

const TARGET: &str = "dku.audit.generic";
const API_CALL: &str = "/api/datasets/export";
const USER: &str = "alice";
const BUF_SIZE: usize = 64 * 1024;
const CONTENDERS: [&str; 11] = [
    "floor",
    "audit buffered",
    "audit buffered+integrity",
    "audit immediate",
    "log4rs json",
    "tracing json",
    "audit layer buffered",
    "audit layer immediate",
    "audit async",
    "tracing-appender non_blocking",
    "slog-async",
];
/// The non-blocking contenders, also run paced at `--rate`.
const PACED: [&str; 3] = ["audit async", "tracing-appender non_blocking", "slog-async"];
/// Queue capacity of every non-blocking contender (events or lines).
const QUEUE: usize = 65536;
const FLOOR: &str = CONTENDERS[0];
const LOG4RS: &str = CONTENDERS[4];
const TRACING_JSON: &str = CONTENDERS[5];

fn main() {
    let (events, only, rounds, rate) = parse_args();
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let extra: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(" -- {}", extra.join(" "))
    };
    println!("command: cargo bench --bench throughput{extra}");
    println!("nproc: {nproc}");
    println!("events per run: {events}, rounds: {rounds} (median shown, min–max beside it)\n");

    // Warm-up (not reported): the first run in a process otherwise pays for cold caches, file
    // system allocation and CPU ramp-up, which made whichever contender ran first look slow.
    {
        let dir = tempfile::tempdir().expect("create a temp dir");
        let path = dir.path().join("warmup.log");
        let warmup = events.min(200_000);
        floor(&path, 1, warmup).finish(FLOOR, 1, &path, warmup);
    }

    // This machine is noisy (a shared 2-core VM): every contender runs `rounds` times,
    // interleaved, and the table shows the median round by events/s with the spread beside it.
    let mut runs: Vec<Vec<Stats>> = Vec::new();
    for round in 0..rounds {
        for (threads, pace) in [(1, None), (2, None), (1, Some(rate))] {
            for name in CONTENDERS {
                if only.as_deref().is_some_and(|o| o != slug(name)) {
                    continue;
                }
                if pace.is_some() && !PACED.contains(&name) {
                    continue;
                }
                let dir = tempfile::tempdir().expect("create a temp dir");
                let path = dir.path().join("bench.log");
                PACE.with(|p| p.set(pace));
                let stats = match name {
                    "floor" => floor(&path, threads, events),
                    "audit buffered" => audit(&path, threads, events, "buffered"),
                    // Signed checkpoints every 1000 lines (the defaults), key from keygen.
                    "audit buffered+integrity" => {
                        audit(&path, threads, events, "buffered+integrity")
                    }
                    "audit immediate" => audit(&path, threads, events, "immediate"),
                    "audit layer buffered" => audit_layer(&path, threads, events, "buffered"),
                    "audit layer immediate" => audit_layer(&path, threads, events, "immediate"),
                    "log4rs json" => log4rs_json(&path, threads, events),
                    "audit async" => audit(&path, threads, events, "async"),
                    "tracing-appender non_blocking" => tracing_non_blocking(&path, threads, events),
                    "slog-async" => slog_async(&path, threads, events),
                    _ => tracing_json(&path, threads, events),
                };
                let mut stats = stats.finish(name, threads, &path, events);
                stats.pace = pace;
                eprintln!(
                    "round {}: {name} × {threads} thread(s){} in {:.2?}",
                    round + 1,
                    pace.map_or(String::new(), |r| format!(" at {r:.0} ev/s")),
                    stats.wall
                );
                match runs
                    .iter_mut()
                    .find(|r| r[0].name == name && r[0].threads == threads && r[0].pace == pace)
                {
                    Some(r) => r.push(stats),
                    None => runs.push(vec![stats]),
                }
            }
        }
    }
    let rows: Vec<Stats> = runs
        .into_iter()
        .map(|mut r| {
            r.sort_by(|a, b| a.events_per_sec().total_cmp(&b.events_per_sec()));
            let (low, high) = (r[0].events_per_sec(), r[r.len() - 1].events_per_sec());
            let mut median = r.swap_remove(r.len() / 2);
            median.spread = (low, high);
            median
        })
        .collect();
    print_table(&rows);
}

/// `--events N`, `--rounds R`, `--rate EV_PER_S` and `--only NAME` (NAME as in the table,
/// spaces may be written as `-`); cargo's own `--bench` is ignored.
fn parse_args() -> (u64, Option<String>, usize, f64) {
    let mut events = 1_000_000u64;
    let mut rate = 500_000f64;
    let mut only = None;
    let mut rounds = 3usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bench" => {}
            "--events" => {
                let n = args.next().expect("--events needs a number");
                events = n.replace('_', "").parse().expect("--events needs a number");
            }
            "--rate" => {
                let n = args.next().expect("--rate needs events per second");
                rate = n.replace('_', "").parse().expect("--rate needs a number");
                assert!(rate > 0.0, "--rate must be positive");
            }
            "--rounds" => {
                let n = args.next().expect("--rounds needs a number");
                rounds = n.parse::<usize>().expect("--rounds needs a number").max(1);
            }
            "--only" => {
                let name = slug(&args.next().expect("--only needs a contender name"));
                if !CONTENDERS.iter().any(|c| slug(c) == name) {
                    eprintln!("unknown contender `{name}`; expected one of {CONTENDERS:?}");
                    std::process::exit(2);
                }
                only = Some(name);
            }
            other => eprintln!("ignoring argument `{other}`"),
        }
    }
    (events.max(1), only, rounds, rate)
}

thread_local! {
    /// The pace of the run being set up (`None`: as fast as possible), read by [`run`].
    static PACE: std::cell::Cell<Option<f64>> = const { std::cell::Cell::new(None) };
}

fn slug(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace([' ', '_'], "-")
}

// ---------------------------------------------------------------------------------------------
// Measurement
// ---------------------------------------------------------------------------------------------

/// One contender × thread count.
struct Stats {
    name: &'static str,
    threads: usize,
    events: u64,
    wall: Duration,
    bytes: u64,
    /// Per-call latencies of all threads, sorted (ns, saturating at `u32::MAX`).
    latencies: Vec<u32>,
    /// Lowest and highest events/s over the rounds.
    spread: (f64, f64),
    /// Events/s the callers were paced at (`None`: saturation).
    pace: Option<f64>,
}

impl Stats {
    fn events_per_sec(&self) -> f64 {
        self.events as f64 / self.wall.as_secs_f64()
    }

    fn mb_per_sec(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.wall.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> u32 {
        if self.latencies.is_empty() {
            return 0;
        }
        let i = ((self.latencies.len() as f64 * p).ceil() as usize).clamp(1, self.latencies.len());
        self.latencies[i - 1]
    }
}

/// What [`run`] measured, before the file is checked.
struct Measured {
    wall: Duration,
    latencies: Vec<u32>,
}

impl Measured {
    /// Names the run, reads the file's size and checks it holds one line per event.
    fn finish(self, name: &'static str, threads: usize, path: &Path, events: u64) -> Stats {
        let data = std::fs::read(path).expect("read the bench output");
        let lines = data.iter().filter(|&&b| b == b'\n').count() as u64;
        if lines != events {
            eprintln!("ERROR: {name} × {threads}: {lines} lines in the file, expected {events}");
        }
        assert_eq!(lines, events, "{name} × {threads}: line count");
        Stats {
            name,
            threads,
            events,
            wall: self.wall,
            bytes: data.len() as u64,
            latencies: self.latencies,
            spread: (0.0, 0.0),
            pace: None,
        }
    }
}

/// One worker's share of a run: drives the timed loop and keeps its latencies.
struct Lane<'a> {
    barrier: &'a Barrier,
    first: u64,
    quota: u64,
    latencies: Vec<u32>,
    /// Nanoseconds between this lane's calls when paced.
    interval_ns: Option<f64>,
}

impl Lane<'_> {
    /// Waits for every lane, then calls `emit(i)` for this lane's event indexes, timing each;
    /// when paced, each call waits (spinning) for its scheduled start.
    fn drive(&mut self, mut emit: impl FnMut(u64)) {
        self.barrier.wait();
        let begin = Instant::now();
        for (n, i) in (self.first..self.first + self.quota).enumerate() {
            if let Some(interval) = self.interval_ns {
                let due = begin + Duration::from_nanos((n as f64 * interval) as u64);
                while Instant::now() < due {
                    std::hint::spin_loop();
                }
            }
            let start = Instant::now();
            emit(i);
            let ns = start.elapsed().as_nanos();
            self.latencies.push(u32::try_from(ns).unwrap_or(u32::MAX));
        }
    }
}

/// Runs `body` on `threads` threads (each sets up its own context, then calls
/// [`Lane::drive`]), splitting `events` among them, then calls `flush`. Wall time covers the
/// timed loops and the flush.
fn run(
    threads: usize,
    events: u64,
    body: impl Fn(&mut Lane) + Sync,
    flush: impl FnOnce(),
) -> Measured {
    let barrier = Barrier::new(threads + 1);
    let per = events / threads as u64;
    let interval_ns = PACE
        .with(|p| p.get())
        .map(|rate| 1e9 * threads as f64 / rate);
    let (mut latencies, wall) = std::thread::scope(|s| {
        let mut first = 0;
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let quota = per + u64::from((t as u64) < events % threads as u64);
                let mut lane = Lane {
                    barrier: &barrier,
                    first,
                    quota,
                    latencies: Vec::with_capacity(quota as usize),
                    interval_ns,
                };
                first += quota;
                let body = &body;
                s.spawn(move || {
                    body(&mut lane);
                    assert_eq!(
                        lane.latencies.len() as u64,
                        lane.quota,
                        "lane did not drive"
                    );
                    lane.latencies
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let mut all = Vec::with_capacity(events as usize);
        for w in workers {
            all.extend(w.join().expect("bench worker panicked"));
        }
        flush();
        (all, start.elapsed())
    });
    latencies.sort_unstable();
    Measured { wall, latencies }
}

// ---------------------------------------------------------------------------------------------
// Contenders
// ---------------------------------------------------------------------------------------------

#[derive(Serialize)]
struct Envelope<'a> {
    severity: &'a str,
    logger: &'a str,
    message: Message<'a>,
    mdc: Mdc<'a>,
    #[serde(rename = "callTime")]
    call_time: u64,
    timestamp: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Message<'a> {
    msg_type: &'a str,
    auth_user: &'a str,
    project_key: &'a str,
    dataset_name: &'a str,
    rows: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Mdc<'a> {
    api_call: &'a str,
    user: &'a str,
}

/// `YYYY-MM-DDTHH:MM:SS.mmm±HHMM` in local time; chrono runs only when the second changes.
#[derive(Default)]
struct TimestampCache {
    second: Option<u64>,
    /// `YYYY-MM-DDTHH:MM:SS.` and `±HHMM` of `second`.
    head: String,
    offset: String,
    out: String,
}

impl TimestampCache {
    fn now(&mut self) -> &str {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let second = since.as_secs();
        if self.second != Some(second) {
            let at = chrono::DateTime::from_timestamp(second as i64, 0)
                .unwrap_or_default()
                .with_timezone(&chrono::Local);
            self.head = at.format("%Y-%m-%dT%H:%M:%S.").to_string();
            self.offset = at.format("%z").to_string();
            self.second = Some(second);
        }
        let ms = since.subsec_millis();
        self.out.clear();
        self.out.push_str(&self.head);
        for d in [ms / 100, ms / 10 % 10, ms % 10] {
            self.out.push(char::from(b'0' + d as u8));
        }
        self.out.push_str(&self.offset);
        &self.out
    }
}

/// The fastest reasonable hand-written code: serde_json into a per-thread buffer, then one
/// `write_all` into a shared 64 KiB `BufWriter` under a mutex.
fn floor(path: &Path, threads: usize, events: u64) -> Measured {
    let file = File::create(path).expect("create the floor file");
    let out = Mutex::new(BufWriter::with_capacity(BUF_SIZE, file));
    run(
        threads,
        events,
        |lane| {
            let call_start = Instant::now();
            let mut clock = TimestampCache::default();
            let mut line = Vec::with_capacity(512);
            lane.drive(|i| {
                let call_time = call_start.elapsed().as_millis() as u64;
                let envelope = Envelope {
                    severity: "INFO",
                    logger: TARGET,
                    message: Message {
                        msg_type: "dataset-export",
                        auth_user: USER,
                        project_key: "P1",
                        dataset_name: "customers",
                        rows: i,
                    },
                    mdc: Mdc {
                        api_call: API_CALL,
                        user: USER,
                    },
                    call_time,
                    timestamp: clock.now(),
                };
                line.clear();
                serde_json::to_writer(&mut line, &envelope).expect("serialize the envelope");
                line.push(b'\n');
                out.lock().write_all(&line).expect("write the floor file");
            });
        },
        || out.lock().flush().expect("flush the floor file"),
    )
}

/// The event every `tracing` contender receives, in the span that carries the call
/// (`apiCall`, `user`), as `dispatch` handles it.
fn drive_tracing(dispatch: &tracing::Dispatch, lane: &mut Lane) {
    tracing::dispatcher::with_default(dispatch, || {
        let span = tracing::info_span!("call", apiCall = API_CALL, user = USER);
        let _entered = span.enter();
        lane.drive(|i| {
            tracing::info!(
                target: "dku.audit.generic",
                msgType = "dataset-export",
                authUser = USER,
                projectKey = "P1",
                datasetName = "customers",
                rows = i,
            );
        });
    });
}

/// The record every `log` contender receives.
fn emit_record(log: &dyn Log, i: u64) {
    let kvs: [(&str, log::kv::Value); 5] = [
        ("msgType", "dataset-export".into()),
        ("authUser", USER.into()),
        ("projectKey", "P1".into()),
        ("datasetName", "customers".into()),
        ("rows", i.into()),
    ];
    log.log(
        &log::Record::builder()
            .target(TARGET)
            .level(log::Level::Info)
            .args(format_args!(""))
            .key_values(&kvs)
            .build(),
    );
}

/// Our logger and its handle, writing the audit file at `path` with `durability`.
fn audit_logger(path: &Path, durability: &str) -> (AuditLogger, log4rs_audit::Handle) {
    let (durability, integrity) = match durability.split_once('+') {
        Some((d, _)) => {
            let dir = path.parent().expect("bench dir");
            let pair = log4rs_audit::integrity::keygen(&dir.join("keys")).expect("keygen");
            let key = format!(
                "\n    integrity: {{ signing_key: {{ file: '{}' }} }}",
                pair.secret.display()
            );
            (d, key)
        }
        None => (durability, String::new()),
    };
    // `async`: the file behind the non-blocking queue; its writer thread writes each batch it
    // takes with one write(2) (`immediate` inside: no second buffer, no second thread).
    let (kind, durability) = match durability {
        "async" => (
            format!("async\n    capacity: {QUEUE}\n    appender:\n      kind: audit_file"),
            "immediate",
        ),
        d => ("audit_file".to_owned(), d),
    };
    let indent = if kind == "audit_file" {
        "    "
    } else {
        "      "
    };
    let yaml = format!(
        "appenders:\n  a:\n    kind: {kind}\n{indent}path: {path}\n{indent}durability: {durability}{integrity}\n{indent}\
         encoder: {{ kind: audit_envelope, timezone: local }}\n\
         root: {{ level: warn, appenders: [] }}\n\
         loggers:\n  dku.audit: {{ level: info, appenders: [a], additive: false }}\n",
        path = path.display(),
    );
    let config = AuditConfig::from_yaml(&yaml, None).expect("bench config");
    AuditLogger::new(config).expect("build the audit logger")
}

/// Our logger (not installed globally), `durability` = `buffered`, `immediate`, `async` or
/// `buffered+integrity`, fed through `log`'s `Log::log` in a `CallScope`.
fn audit(path: &Path, threads: usize, events: u64, durability: &str) -> Measured {
    let (logger, handle) = audit_logger(path, durability);
    let measured = run(
        threads,
        events,
        |lane| {
            let _call = CallScope::enter(API_CALL).user(USER);
            lane.drive(|i| emit_record(&logger, i));
        },
        || Log::flush(&logger),
    );
    drop(handle);
    measured
}

/// The same logger behind `AuditLayer` in a tracing registry, fed by the `tracing::info!` call
/// tracing's JSON contender gets, in the same span (`apiCall`, `user`).
fn audit_layer(path: &Path, threads: usize, events: u64, durability: &str) -> Measured {
    use tracing_subscriber::layer::SubscriberExt;
    let (logger, handle) = audit_logger(path, durability);
    let layer = log4rs_audit::AuditLayer::from_logger(logger.clone());
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let measured = run(
        threads,
        events,
        |lane| {
            drive_tracing(&dispatch, lane);
        },
        || Log::flush(&logger),
    );
    drop(handle);
    measured
}

/// log4rs's `FileAppender` + `JsonEncoder`, called through `Append` directly. The appender
/// flushes its (1 KiB) buffer after every record.
fn log4rs_json(path: &Path, threads: usize, events: u64) -> Measured {
    let appender = log4rs::append::file::FileAppender::builder()
        .encoder(Box::new(log4rs::encode::json::JsonEncoder::new()))
        .build(path)
        .expect("build the log4rs file appender");
    struct Direct<'a>(&'a log4rs::append::file::FileAppender);
    impl Log for Direct<'_> {
        fn enabled(&self, _: &log::Metadata) -> bool {
            true
        }
        fn log(&self, record: &log::Record) {
            self.0.append(record).expect("log4rs append");
        }
        fn flush(&self) {
            Append::flush(self.0);
        }
    }
    let direct = Direct(&appender);
    run(
        threads,
        events,
        |lane| {
            let _call = CallScope::enter(API_CALL).user(USER);
            lane.drive(|i| emit_record(&direct, i));
        },
        || direct.flush(),
    )
}

/// `MakeWriter` over a shared 64 KiB `BufWriter<File>`, so the bench can flush it at the end.
#[derive(Clone)]
struct SharedFile(Arc<Mutex<BufWriter<File>>>);

struct SharedFileGuard<'a>(parking_lot::MutexGuard<'a, BufWriter<File>>);

impl Write for SharedFileGuard<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.0.write_all(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for SharedFile {
    type Writer = SharedFileGuard<'a>;
    fn make_writer(&'a self) -> Self::Writer {
        SharedFileGuard(self.0.lock())
    }
}

/// `tracing_subscriber::fmt().json()`; the call scope is a span carrying `apiCall` and `user`.
fn tracing_json(path: &Path, threads: usize, events: u64) -> Measured {
    let file = File::create(path).expect("create the tracing file");
    let shared = SharedFile(Arc::new(Mutex::new(BufWriter::with_capacity(
        BUF_SIZE, file,
    ))));
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(shared.clone())
        .finish();
    let dispatch = tracing::Dispatch::new(subscriber);
    run(
        threads,
        events,
        |lane| {
            drive_tracing(&dispatch, lane);
        },
        || shared.0.lock().flush().expect("flush the tracing file"),
    )
}

/// `tracing_subscriber::fmt().json()` over tracing-appender's `non_blocking` writer (a worker
/// thread writing to a 64 KiB `BufWriter<File>`); `lossy(false)` so it keeps every line like
/// the others (its default drops lines when the channel is full).
fn tracing_non_blocking(path: &Path, threads: usize, events: u64) -> Measured {
    let file = File::create(path).expect("create the tracing-appender file");
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(QUEUE)
        .finish(BufWriter::with_capacity(BUF_SIZE, file));
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(writer)
        .finish();
    let dispatch = tracing::Dispatch::new(subscriber);
    run(
        threads,
        events,
        |lane| {
            drive_tracing(&dispatch, lane);
        },
        // The guard's drop waits for the worker (at most about a second).
        || drop(guard),
    )
}

/// slog with `slog-json` behind `slog-async` (`OverflowStrategy::Block`, the same queue size),
/// writing to a 64 KiB `BufWriter<File>`; `apiCall` and `user` are the logger's context.
fn slog_async(path: &Path, threads: usize, events: u64) -> Measured {
    use slog::Drain;
    let file = File::create(path).expect("create the slog file");
    let json = slog_json::Json::new(BufWriter::with_capacity(BUF_SIZE, file))
        .add_default_keys()
        .build()
        .fuse();
    let (drain, guard) = slog_async::Async::new(json)
        .chan_size(QUEUE)
        .overflow_strategy(slog_async::OverflowStrategy::Block)
        .build_with_guard();
    let root = slog::Logger::root(drain.fuse(), slog::o!());
    let guard = Mutex::new(Some(guard));
    run(
        threads,
        events,
        |lane| {
            let log = root.new(slog::o!("apiCall" => API_CALL, "user" => USER));
            lane.drive(|i| {
                slog::info!(log, "";
                    "msgType" => "dataset-export",
                    "authUser" => USER,
                    "projectKey" => "P1",
                    "datasetName" => "customers",
                    "rows" => i,
                );
            });
        },
        // Dropping the guard stops and joins the worker, which drops (so flushes) the file.
        || drop(guard.lock().take()),
    )
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

fn print_table(rows: &[Stats]) {
    let rate_of = |name: &str, threads: usize| {
        rows.iter()
            .find(|r| r.name == name && r.threads == threads)
            .map(Stats::events_per_sec)
    };
    let ratio = |r: &Stats, base: &str| {
        if r.pace.is_some() {
            // A paced row's rate is the pace: no ratio to compare.
            return "–".to_owned();
        }
        rate_of(base, r.threads).map_or_else(
            || "–".to_owned(),
            |b| format!("{:.2}×", r.events_per_sec() / b),
        )
    };
    println!(
        "| contender | threads | paced | events/s | (min–max) | MB/s | B/event | p50 ns | p99 ns | p99.9 ns | vs floor | vs log4rs json | vs tracing json |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {} | {:.0} | {:.0}–{:.0} | {:.1} | {:.0} | {} | {} | {} | {} | {} | {} |",
            r.name,
            r.threads,
            r.pace
                .map_or("–".to_owned(), |p| format!("{:.0}k/s", p / 1000.0)),
            r.events_per_sec(),
            r.spread.0,
            r.spread.1,
            r.mb_per_sec(),
            r.bytes as f64 / r.events as f64,
            r.percentile(0.50),
            r.percentile(0.99),
            r.percentile(0.999),
            ratio(r, FLOOR),
            ratio(r, LOG4RS),
            ratio(r, TRACING_JSON),
        );
    }
    println!();
    for durability in ["buffered", "immediate"] {
        for threads in [1, 2] {
            let layer = rate_of(&format!("audit layer {durability}"), threads);
            let log_path = rate_of(&format!("audit {durability}"), threads);
            if let (Some(layer), Some(log_path)) = (layer, log_path) {
                println!(
                    "audit layer {durability} × {threads}: {:.2}× the log path",
                    layer / log_path
                );
            }
        }
    }
}
