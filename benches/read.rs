//! Reading speed of the trail reader against a plain `serde_json` baseline, on one core.
//!
//! ```text
//! cargo bench --bench read [-- --events N] [--rounds R]
//! ```
//!
//! The trail is written by the real `log4rs-audit demo` (default config: `run/audit/audit.log`,
//! rolling at 100 MB) in a temp dir, read once to warm the page cache, then every contender
//! reads all of its files `rounds` times, interleaved; the median round is shown. MB/s counts
//! the bytes of the lines (uncompressed).
//!
//! - **baseline**: `BufReader::lines` + `serde_json::from_str::<serde_json::Value>` per line,
//!   then `msgType` looked up (what a quick script does);
//! - **ours: records**: our reader, each line parsed into a `Record` (envelope, raw event);
//! - **ours: fields**: plus the event's `msgType` / `authUser` / `projectKey` / … and the time,
//!   what the filters and reports read per line;
//! - **ours: query**: `run_query` with `--msg-type dataset-export` to a sink (ndjson).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::ops::ControlFlow;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use log4rs_audit::query::files::{discover, TrailFile};
use log4rs_audit::query::filter::Filter;
use log4rs_audit::query::format::{Format, QueryWriter};
use log4rs_audit::query::progress::Progress;
use log4rs_audit::query::reader::read_trail;
use log4rs_audit::query::run_query;

const CONTENDERS: [&str; 4] = ["baseline", "ours: records", "ours: fields", "ours: query"];

fn main() {
    let (events, rounds) = parse_args();
    println!("command: cargo bench --bench read -- --events {events} --rounds {rounds}");
    let dir = tempfile::tempdir().expect("create a temp dir");
    let demo = Command::new(env!("CARGO_BIN_EXE_log4rs-audit"))
        .args(["demo", "--threads", "2", "--events", &events.to_string()])
        .current_dir(dir.path())
        .output()
        .expect("run log4rs-audit demo");
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let files = discover(&[dir.path().join("run/audit")]).expect("list the trail");
    let bytes: u64 = files.iter().map(|f| f.size).sum();
    println!(
        "trail: {} files, {:.1} MB, {events} events (written by `log4rs-audit demo`)\n",
        files.len(),
        bytes as f64 / 1e6
    );
    // Warm the page cache.
    run("baseline", &files);

    let mut seconds: Vec<Vec<f64>> = vec![Vec::new(); CONTENDERS.len()];
    for _ in 0..rounds {
        for (i, name) in CONTENDERS.iter().enumerate() {
            let start = Instant::now();
            let n = run(name, &files);
            seconds[i].push(start.elapsed().as_secs_f64());
            assert!(n > 0, "{name} read nothing");
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let medians: Vec<f64> = seconds.iter_mut().map(median).collect();
    println!("| contender | MB/s | lines/s | vs baseline |");
    println!("|---|---:|---:|---:|");
    for (name, s) in CONTENDERS.iter().zip(&medians) {
        println!(
            "| {name} | {:.0} | {:.0} | {:.2}× |",
            bytes as f64 / 1e6 / s,
            events as f64 / s,
            medians[0] / s
        );
    }
}

/// Reads the whole trail once; returns the lines (or matches) seen.
fn run(name: &str, files: &[TrailFile]) -> u64 {
    match name {
        "baseline" => files.iter().map(|f| baseline(&f.path)).sum(),
        "ours: records" => {
            read_trail(
                files,
                &Progress::hidden(),
                |_| ControlFlow::Continue(()),
                |_| {},
            )
            .records
        }
        "ours: fields" => {
            let mut typed = 0u64;
            read_trail(
                files,
                &Progress::hidden(),
                |record| {
                    let fields = record.fields();
                    let user = record.user_with(&fields);
                    if fields.msg_type.is_some() && record.time().is_some() && user.is_some() {
                        typed += 1;
                    }
                    ControlFlow::Continue(())
                },
                |_| {},
            );
            typed
        }
        _ => {
            let filter = Filter {
                msg_types: vec!["dataset-export".into()],
                ..Filter::default()
            };
            let mut out = QueryWriter::new(std::io::sink(), Format::Ndjson, &[]);
            let outcome = run_query(files, &filter, &mut out, &Progress::hidden(), |_| {})
                .expect("write to a sink");
            outcome.summary.records
        }
    }
}

fn baseline(path: &Path) -> u64 {
    let file = File::open(path).expect("open a trail file");
    let mut n = 0;
    for line in BufReader::new(file).lines() {
        let line = line.expect("read a line");
        let value: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
        if value["message"]["msgType"].is_string() {
            n += 1;
        }
    }
    n
}

fn parse_args() -> (u64, usize) {
    let mut events = 600_000;
    let mut rounds = 3;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().and_then(|v| v.parse().ok());
        match arg.as_str() {
            "--events" => events = value().unwrap_or(events as usize) as u64,
            "--rounds" => rounds = value().unwrap_or(rounds).max(1),
            _ => {}
        }
    }
    (events, rounds)
}
