//! The Event Server's read API on a big destination: how long `GET /api/events` takes for the
//! newest 100 matching lines, with and without filters, deep in the paging, and a report over
//! the whole destination through `GET /api/reports/<name>`.
//!
//! ```sh
//! cargo bench --bench read_api [-- --gb 2 --rounds 5]
//! ```
//!
//! The destination is written in the server's own layout (`<topic>/<routing key>/YYYY/mm/dd/HH/
//! events.log`, stored lines `{"clientEvent",…,"origAddress","serverTimestamp"}`, ~300 bytes
//! each, 6 topics × routing keys, 200 users plus one rare user every ~200,000 lines) under
//! the target folder, then read once to warm the page cache; the real `log4rs-audit
//! event-server` serves it on 127.0.0.1. Each request is timed end to end by an HTTP client on
//! a keep-alive connection; the median of `rounds` is shown.
//!
//! `/api/events` reads each folder backwards from its newest partition (see
//! `server/read_api/newest.rs`): its time depends on how far back the matches are, not on
//! the size of the destination.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const READ_KEY: &str = "bench-read";
const TOPICS: [(&str, &str); 6] = [
    ("generic", "_none"),
    ("generic", "dss-node-2"),
    ("authfail", "sso"),
    ("apinode-query", "fraud-svc"),
    ("compute-resource-usage", "_none"),
    ("apicalls", "_none"),
];

struct Args {
    gb: f64,
    rounds: usize,
}

fn args() -> Args {
    let mut a = Args { gb: 2.0, rounds: 5 };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().cloned().unwrap_or_default();
        match flag.as_str() {
            "--gb" => a.gb = value().parse().expect("--gb 2"),
            "--rounds" => a.rounds = value().parse().expect("--rounds 5"),
            _ => {} // `cargo bench` passes --bench
        }
    }
    a
}

/// Writes about `bytes` of stored lines, one hour per partition, every folder in step.
fn write_destination(root: &Path, bytes: u64) -> (u64, u64) {
    let mut written = 0u64;
    let mut lines = 0u64;
    let lines_per_hour_per_folder = 20_000u64;
    let mut hour = 0u64;
    let mut line = String::with_capacity(512);
    while written < bytes {
        let (day, h) = (1 + hour / 24, hour % 24);
        for (t, (topic, rk)) in TOPICS.iter().enumerate() {
            let dir = root.join(format!("{topic}/{rk}/2026/11/{day:02}/{h:02}"));
            std::fs::create_dir_all(&dir).expect("create partition folder");
            let file = std::fs::File::create(dir.join("events.log")).expect("create partition");
            let mut out = BufWriter::with_capacity(1 << 20, file);
            for i in 0..lines_per_hour_per_folder {
                let n = lines + i * TOPICS.len() as u64 + t as u64;
                let ms = i * 3_600_000 / lines_per_hour_per_folder;
                let user = if n % 200_003 == 0 {
                    "rare-auditor".to_owned()
                } else {
                    format!("user{}", n % 200)
                };
                line.clear();
                let event = match *topic {
                    "authfail" => format!(
                        r#"{{"msgType":"login-failed","authUser":"{user}","authSource":"LOCAL","reason":"bad password"}}"#
                    ),
                    "apinode-query" => format!(
                        r#"{{"msgType":"prediction-query","authUser":"{user}","serviceId":"fraud","endpointId":"score","latencyMs":{}}}"#,
                        n % 97
                    ),
                    "compute-resource-usage" => format!(
                        r#"{{"msgType":"compute-resource-usage-complete","authUser":"{user}","computeResourceUsage":{{"type":"LOCAL_PROCESS","startTime":{n},"endTime":{},"localProcess":{{"userTimeMS":{},"systemTimeMS":12,"rssMBSeconds":3.5}}}}}}"#,
                        n + 900,
                        n % 1000
                    ),
                    _ => format!(
                        r#"{{"msgType":"dataset-read-data-sample","authUser":"{user}","projectKey":"PROJECT_{}","datasetName":"customers_{}","rows":10000,"params":{{"format":"csv"}}}}"#,
                        n % 13,
                        n % 31
                    ),
                };
                let _ = write!(
                    line,
                    r#"{{"clientEvent":{event},"origAddress":"10.0.0.{}","serverTimestamp":"2026-11-{day:02}T{h:02}:{:02}:{:02}.{:03}+0000"}}"#,
                    n % 7,
                    ms / 60_000,
                    ms / 1000 % 60,
                    ms % 1000
                );
                line.push('\n');
                out.write_all(line.as_bytes()).expect("write partition");
                written += line.len() as u64;
            }
            out.flush().expect("flush partition");
        }
        lines += lines_per_hour_per_folder * TOPICS.len() as u64;
        hour += 1;
    }
    (written, lines)
}

fn warm(root: &Path) {
    let mut stack = vec![root.to_path_buf()];
    let mut buf = vec![0u8; 1 << 20];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("read dir").flatten() {
            let p: PathBuf = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(mut f) = std::fs::File::open(&p) {
                while f.read(&mut buf).map_or(0, |n| n) > 0 {}
            }
        }
    }
}

struct Timed {
    ms: f64,
    lines: usize,
    bytes: usize,
    next: Option<String>,
}

fn get(agent: &ureq::Agent, url: &str) -> Timed {
    let started = Instant::now();
    let r = agent
        .get(url)
        .set("Authorization", &format!("Bearer {READ_KEY}"))
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let next = r.header("x-next-cursor").map(str::to_owned);
    let body = r.into_string().expect("body");
    Timed {
        ms: started.elapsed().as_secs_f64() * 1000.0,
        lines: body.lines().count(),
        bytes: body.len(),
        next,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let a = args();
    let dir = tempfile::Builder::new()
        .prefix("read-api-bench")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temp dir");
    let root = dir.path().join("events");
    let started = Instant::now();
    let (bytes, lines) = write_destination(&root, (a.gb * 1e9) as u64);
    println!(
        "command: cargo bench --bench read_api -- --gb {} --rounds {}",
        a.gb, a.rounds
    );
    println!(
        "destination: {:.2} GB, {lines} stored lines, {} folders, written in {:.1} s",
        bytes as f64 / 1e9,
        TOPICS.len(),
        started.elapsed().as_secs_f64()
    );
    warm(&root);
    let config = dir.path().join("server.yaml");
    std::fs::write(
        &config,
        format!("listen: 127.0.0.1:0\nevent_keys: [bench-key]\nread_keys: [{READ_KEY}]\ntimezone: utc\ndestinations:\n  - {{ name: disk, type: filesystem, root: events }}\n"),
    )
    .expect("config");
    let mut server = Command::new(env!("CARGO_BIN_EXE_log4rs-audit"))
        .args(["event-server", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server (cargo builds it for benches)");
    let mut first = String::new();
    BufReader::new(server.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("server output");
    let base = first
        .trim()
        .strip_prefix("event-server listening on ")
        .expect("listening line")
        .to_owned();
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(600))
        .build();

    println!();
    println!("| request | lines | ms (median of {}) |", a.rounds);
    println!("|---|---:|---:|");
    let cases = [
        ("newest 100", "limit=100"),
        (
            "newest 100, annotate=1 (no integrity)",
            "limit=100&annotate=1",
        ),
        (
            "newest 100 of one user (1 line in 200)",
            "limit=100&user=user7",
        ),
        (
            "newest 100 login-failed of topic authfail",
            "limit=100&topic=authfail&msgType=login-failed",
        ),
        (
            "newest 1000 of one project (where)",
            "limit=1000&where=projectKey%3DPROJECT_3",
        ),
        (
            "newest 100 before the last day (until)",
            "limit=100&until=2026-11-02",
        ),
    ];
    for (name, query) in cases {
        let url = format!("{base}/api/events?{query}");
        let runs: Vec<Timed> = (0..a.rounds).map(|_| get(&agent, &url)).collect();
        let lines = runs[0].lines;
        println!(
            "| `/api/events` {name} | {lines} | {:.1} |",
            median(runs.iter().map(|r| r.ms).collect())
        );
    }
    // Deep paging: the 50th page of 100.
    let mut cursor: Option<String> = None;
    let mut last = None;
    for _ in 0..50 {
        let url = match &cursor {
            Some(c) => format!("{base}/api/events?limit=100&cursor={c}"),
            None => format!("{base}/api/events?limit=100"),
        };
        let t = get(&agent, &url);
        cursor = t.next.clone();
        last = Some(t);
    }
    if let Some(t) = last {
        println!(
            "| `/api/events` page 50 of 100 (cursor) | {} | {:.1} |",
            t.lines, t.ms
        );
    }
    // A rare user: pages until its lines are found (each page bounded by the scan budget).
    let mut url = format!("{base}/api/events?limit=100&user=rare-auditor");
    let (mut total_ms, mut found, mut pages) = (0.0, 0, 0);
    loop {
        let t = get(&agent, &url);
        total_ms += t.ms;
        found += t.lines;
        pages += 1;
        match t.next {
            Some(c) if found < 100 => {
                url = format!("{base}/api/events?limit=100&user=rare-auditor&cursor={c}")
            }
            _ => break,
        }
    }
    println!(
        "| `/api/events` a rare user (1 line in 200,003), every page to the start: {pages} pages | {found} | {total_ms:.1} |"
    );
    for report in ["last-activity", "usage"] {
        let url = format!("{base}/api/reports/{report}");
        let runs: Vec<Timed> = (0..a.rounds.min(3)).map(|_| get(&agent, &url)).collect();
        let ms = median(runs.iter().map(|r| r.ms).collect());
        println!(
            "| `/api/reports/{report}` over the whole destination ({:.0} MB/s) | {} B | {ms:.0} |",
            bytes as f64 / 1e6 / (ms / 1000.0),
            runs[0].bytes
        );
    }
    let _ = server.kill();
    let _ = server.wait();
}
