//! Reading speed of the trail reader, against a plain `serde_json` baseline (one core), and of
//! every report (`log4rs-audit report …`) against DuckDB answering the same question in SQL.
//!
//! ```text
//! scripts/install-bench-peers.sh          # once: DuckDB in ~/.cache/log4rs-audit/bench-venv
//! cargo bench --bench read [-- --gb G | --events N] [--rounds R] [--reports a,b]
//! ```
//!
//! The trail is written by the real `log4rs-audit demo` (2 threads; the default config's file,
//! `run/audit/audit.log` rolling at 100 MB, with enough backups to keep every line) in a temp
//! dir: `--gb 2` (the default) asks for about 2 GB, `--events N` for N events (`--gb 0.1` for a
//! quick run). It is read once to warm the page cache (and its lines counted: all the events
//! must be there), then `rounds` rounds (default 3) run every contender once each, interleaved;
//! the median round is shown. MB/s counts the bytes of the lines (uncompressed) over wall time.
//!
//! Reading (lines/s too; "cores busy" is CPU time over wall time, from `/proc/self/stat`):
//! - **baseline**: `BufReader::lines` + `serde_json::from_str::<serde_json::Value>` per line,
//!   then `msgType` looked up (what a quick script does);
//! - **ours: records**: our reader, each line parsed into a `Record` (envelope, raw event);
//! - **ours: fields**: plus the event's `msgType` / `authUser` / `projectKey` / … and the time,
//!   what the filters and reports read per line;
//! - **ours: query**: `run_query` with `--msg-type dataset-export` to a sink (ndjson).
//!
//! Reports (each of [`BENCHED`], default options as `Report::by_name`; `gaps`, which reads only
//! the logger's few lifecycle events, has no SQL twin):
//! - **ours**: the library's `run_report` over the `discover`ed files, then `Report::write` in
//!   ndjson to a `Vec`, timed in a fresh process of this bench per report and round (as many
//!   threads as `run_report` uses); the peak RSS is that process's (`VmHWM`);
//! - **DuckDB**: `benches/read_duckdb.py` in a fresh Python process per report and round
//!   (PyPI `duckdb`, pinned by `scripts/install-bench-peers.sh`; that venv's python, or
//!   `$DUCKDB_PYTHON`): `read_json` over the same files and SQL written to the report's rules,
//!   the result materialised in a temp table, timed from `connect()` (Python's start and
//!   `import duckdb` not counted), DuckDB's default threads (every core); the peak RSS is that
//!   process's (`VmHWM`), Python included. Ours and DuckDB alternate which goes first.
//!   In the first round the answers are compared (`check_answers`: every row's key columns,
//!   in order, for last-activity, usage, authfail, cru and apinode; counts for exports): the
//!   bench panics if they differ. Where the SQL is the closest honest equivalent
//!   rather than an exact one (ties within a millisecond, which SQL cannot order by reading
//!   order), the printed notes say so.
//!
//! The report table is markdown, ready to paste, followed by the command line that made it.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use log4rs_audit::query::files::{discover, TrailFile};
use log4rs_audit::query::filter::Filter;
use log4rs_audit::query::format::{Format, QueryWriter};
use log4rs_audit::query::progress::Progress;
use log4rs_audit::query::reader::read_trail;
use log4rs_audit::query::reports::{run_report, Report};

/// The reports measured beside DuckDB.
const BENCHED: [&str; 6] = [
    "last-activity",
    "exports",
    "usage",
    "authfail",
    "cru",
    "apinode",
];
use log4rs_audit::query::run_query;
use serde_json::{json, Value};

const CONTENDERS: [&str; 4] = ["baseline", "ours: records", "ours: fields", "ours: query"];
/// Bytes per event of the demo's trail (measured), to turn `--gb` into events.
const BYTES_PER_EVENT: f64 = 360.0;
/// The demo config's roll size.
const ROLL_BYTES: f64 = 100e6;
const INSTALL: &str = "scripts/install-bench-peers.sh";
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/read_duckdb.py");

struct Args {
    events: u64,
    /// What to print as the command line.
    size_arg: String,
    rounds: usize,
    reports: Vec<String>,
}

/// One run of a report by one side.
#[derive(Clone, Default)]
struct Run {
    seconds: f64,
    cpu_seconds: f64,
    peak_rss_kb: Option<u64>,
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some(CHILD) {
        return child(&argv[2..]);
    }
    let args = parse_args();
    let python = duckdb_python();
    let duckdb = duckdb_version(&python);
    let mut command = format!(
        "cargo bench --bench read -- {} --rounds {}",
        args.size_arg, args.rounds
    );
    if args.reports.len() != BENCHED.len() {
        command += &format!(" --reports {}", args.reports.join(","));
    }
    println!("command: {command}");
    println!(
        "DuckDB {duckdb} (Python: {}); cores: {}",
        python.display(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let dir = tempfile::tempdir().expect("create a temp dir");
    let files = write_trail(dir.path(), args.events);
    let bytes: u64 = files.iter().map(|f| f.size).sum();
    let mb = bytes as f64 / 1e6;
    println!(
        "trail: {} file(s), {mb:.1} MB, {} events (written by `log4rs-audit demo`)\n",
        files.len(),
        args.events
    );
    // Warm the page cache, and check that every event is there (beside the logger's own
    // audit-logger-start and audit-logger-stop).
    let lines = warm(&files);
    assert_eq!(
        lines,
        args.events + 2,
        "the trail has {lines} lines, the demo wrote {} events and the logger its start and stop",
        args.events
    );

    let mut seconds: Vec<Vec<f64>> = vec![Vec::new(); CONTENDERS.len()];
    let mut cpu_busy: Vec<Vec<f64>> = vec![Vec::new(); CONTENDERS.len()];
    let mut ours: Vec<Vec<Run>> = vec![Vec::new(); args.reports.len()];
    let mut theirs: Vec<Vec<Run>> = vec![Vec::new(); args.reports.len()];
    let mut checked: Vec<String> = vec![String::new(); args.reports.len()];
    let mut idle_rss_kb = 0;
    let mut threads = Value::Null;
    for round in 0..args.rounds {
        eprintln!("round {}/{}", round + 1, args.rounds);
        for (i, name) in CONTENDERS.iter().enumerate() {
            let cpu = cpu_seconds();
            let start = Instant::now();
            let n = run(name, &files);
            seconds[i].push(start.elapsed().as_secs_f64());
            cpu_busy[i].push((cpu_seconds() - cpu) / start.elapsed().as_secs_f64());
            assert!(n > 0, "{name} read nothing");
        }
        for (r, name) in args.reports.iter().enumerate() {
            let check = round == 0;
            let (run, out, answer) = if round % 2 == 0 {
                let (run, out) = run_ours(name, dir.path(), lines);
                (run, out, run_duckdb(&python, name, &files, check))
            } else {
                let answer = run_duckdb(&python, name, &files, check);
                let (run, out) = run_ours(name, dir.path(), lines);
                (run, out, answer)
            };
            ours[r].push(run);
            theirs[r].push(Run {
                seconds: answer["seconds"].as_f64().expect("seconds"),
                cpu_seconds: answer["cpuSeconds"].as_f64().expect("cpuSeconds"),
                peak_rss_kb: answer["maxRssKb"].as_u64(),
            });
            idle_rss_kb = answer["idleRssKb"].as_u64().unwrap_or(0);
            threads = answer["threads"].clone();
            eprintln!(
                "  {name}: ours {:.2} s, DuckDB {:.2} s",
                ours[r].last().map_or(0.0, |x| x.seconds),
                theirs[r].last().map_or(0.0, |x| x.seconds)
            );
            if check {
                checked[r] = check_answers(name, &out, &answer).unwrap_or_else(|diff| {
                    panic!("{name}: DuckDB's answer differs from ours, the bench compares different questions:\n{diff}")
                });
            }
        }
    }

    let medians: Vec<f64> = seconds.iter_mut().map(|v| median(v)).collect();
    println!("Reading the whole trail ({mb:.0} MB):\n");
    println!("| contender | MB/s | lines/s | vs baseline | cores busy |");
    println!("|---|---:|---:|---:|---:|");
    for ((name, s), busy) in CONTENDERS.iter().zip(&medians).zip(&mut cpu_busy) {
        println!(
            "| {name} | {:.0} | {:.0} | {:.2}× | {:.1} |",
            mb / s,
            args.events as f64 / s,
            medians[0] / s,
            median(busy)
        );
    }

    println!(
        "\nReports over a {:.1} GB trail ({} file(s), {} events of `log4rs-audit demo`), \
         page cache warm, {} cores; median of {} rounds; DuckDB {duckdb} (`read_json` + SQL, \
         {threads} threads):\n",
        bytes as f64 / 1e9,
        files.len(),
        args.events,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        args.rounds,
    );
    println!("| report | ours | DuckDB {duckdb} | ours / DuckDB speed | cores busy (ours / DuckDB) | peak RSS (ours / DuckDB) | answers agree on |");
    println!("|---|---:|---:|---:|---:|---:|---|");
    for (r, name) in args.reports.iter().enumerate() {
        let (a, b) = (summarise(&ours[r]), summarise(&theirs[r]));
        println!(
            "| {name} | {:.2} s, {:.0} MB/s | {:.2} s, {:.0} MB/s | {:.2}× | {:.1} / {:.1} | {} / {} | {} |",
            a.seconds,
            mb / a.seconds,
            b.seconds,
            mb / b.seconds,
            b.seconds / a.seconds,
            a.cpu_seconds / a.seconds,
            b.cpu_seconds / b.seconds,
            rss(a.peak_rss_kb),
            rss(b.peak_rss_kb),
            checked[r]
        );
    }
    println!(
        "\nNotes: MB/s is trail bytes over wall time. Ours: the library's `run_report` + ndjson \
         output to a `Vec`, in a fresh process of the bench (its RSS counted). DuckDB: from `connect()` to the result \
         materialised in a temp table, in a fresh Python process (its start and `import duckdb`, \
         about {} of RSS, not timed; its RSS counted). The SQL (benches/read_duckdb.py) reads \
         the log-file envelope with the columns each report needs (`read_json(…, columns=)`, \
         no sampling); exports sets `asof_loop_join_threshold = 0` (else DuckDB's planner, \
         misestimating the filtered rows, runs its ASOF joins as a quadratic nested loop). Where the SQL is only the \
         closest equivalent: ties within one millisecond, which our reports break by reading \
         order and SQL cannot (`read_json` has no line number): last-activity's msgType and \
         topic of the latest event are not compared; exports counts a sample read of the same \
         millisecond as before the export (ours: only if read before it), so the check is that \
         ours' count of exports with a sample read before lies between DuckDB's \
         strictly-earlier and same-millisecond-or-earlier counts.",
        rss(Some(idle_rss_kb))
    );
    println!("\ncommand: {command}");
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median time and CPU, highest peak RSS.
fn summarise(runs: &[Run]) -> Run {
    let mut seconds: Vec<f64> = runs.iter().map(|r| r.seconds).collect();
    let mut cpu: Vec<f64> = runs.iter().map(|r| r.cpu_seconds).collect();
    Run {
        seconds: median(&mut seconds),
        cpu_seconds: median(&mut cpu),
        peak_rss_kb: runs.iter().filter_map(|r| r.peak_rss_kb).max(),
    }
}

fn rss(kb: Option<u64>) -> String {
    kb.map_or_else(
        || "n/a".into(),
        |kb| format!("{:.0} MB", kb as f64 / 1024.0),
    )
}

/// The python of the bench venv, or `$DUCKDB_PYTHON`; panics naming the install script.
fn duckdb_python() -> PathBuf {
    let python = match std::env::var_os("DUCKDB_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => {
            let home = std::env::var_os("HOME").expect("$HOME for ~/.cache");
            Path::new(&home).join(".cache/log4rs-audit/bench-venv/bin/python")
        }
    };
    assert!(
        python.exists(),
        "no Python with DuckDB at {}: run {INSTALL} (or set $DUCKDB_PYTHON)",
        python.display()
    );
    python
}

fn duckdb_version(python: &Path) -> String {
    let out = Command::new(python)
        .args([SCRIPT, "--version"])
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}; run {INSTALL}", python.display()));
    assert!(
        out.status.success(),
        "{} cannot import duckdb ({}): run {INSTALL}",
        python.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Runs `log4rs-audit demo` in `dir` for `events` events; returns the trail's files.
fn write_trail(dir: &Path, events: u64) -> Vec<TrailFile> {
    // The default config, with backups enough for the whole trail.
    let backups = ((events as f64 * BYTES_PER_EVENT * 1.2 / ROLL_BYTES) as u64 + 5).max(20);
    let config = dir.join("bench.yaml");
    std::fs::write(
        &config,
        format!(
            "appenders:\n  audit:\n    kind: audit_file\n    path: run/audit/audit.log\n    \
             encoder: {{ kind: audit_envelope, timezone: local }}\n    \
             policy: {{ max_size: 100 MB, max_backups: {backups} }}\n    \
             durability: immediate\n    fsync: none\n\
             root: {{ level: warn, appenders: [] }}\n\
             loggers:\n  dku.audit: {{ level: info, appenders: [audit], additive: false }}\n"
        ),
    )
    .expect("write the demo's config");
    let start = Instant::now();
    let demo = Command::new(env!("CARGO_BIN_EXE_log4rs-audit"))
        .args(["demo", "--threads", "2", "--events", &events.to_string()])
        .arg("--config")
        .arg(&config)
        .current_dir(dir)
        .output()
        .expect("run log4rs-audit demo");
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    eprintln!(
        "demo: {events} events in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    discover(&[dir.join("run/audit")]).expect("list the trail")
}

/// Reads every byte once; returns the lines.
fn warm(files: &[TrailFile]) -> u64 {
    let mut buf = vec![0u8; 1 << 20];
    let mut lines = 0u64;
    for f in files {
        let mut file = File::open(&f.path).expect("open a trail file");
        loop {
            let n = file.read(&mut buf).expect("read a trail file");
            if n == 0 {
                break;
            }
            lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        }
    }
    lines
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

/// Our report `name` over the trail in `dir`, as the library runs it, in a fresh process of
/// this bench (see [`child`]), so its peak RSS is its own; returns the run and the ndjson.
fn run_ours(name: &str, dir: &Path, records: u64) -> (Run, Vec<u8>) {
    let exe = std::env::current_exe().expect("the bench's own path");
    let out = Command::new(exe)
        .arg(CHILD)
        .args([name, &records.to_string()])
        .arg(dir)
        .output()
        .expect("run the bench's child");
    assert!(
        out.status.success(),
        "ours ({name}) failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let newline = out
        .stdout
        .iter()
        .position(|&b| b == b'\n')
        .expect("the child's stats line");
    let stats: Value = serde_json::from_slice(&out.stdout[..newline]).expect("the child's stats");
    (
        Run {
            seconds: stats["seconds"].as_f64().expect("seconds"),
            cpu_seconds: stats["cpuSeconds"].as_f64().expect("cpuSeconds"),
            peak_rss_kb: stats["peakRssKb"].as_u64(),
        },
        out.stdout[newline + 1..].to_vec(),
    )
}

/// The first argument of the bench's child: `CHILD report records dir` (records: the lines it must read).
const CHILD: &str = "--run-report-child";

/// The child of [`run_ours`]: `discover`, `run_report` and `Report::write` (ndjson, to a `Vec`)
/// timed; prints a JSON line (seconds, CPU seconds, peak RSS) then the ndjson.
fn child(args: &[String]) {
    let [name, events, dir] = args else {
        panic!("{CHILD} REPORT EVENTS DIR");
    };
    let events: u64 = events.parse().expect("events");
    let files = discover(&[Path::new(dir).join("run/audit")]).expect("list the trail");
    let cpu = cpu_seconds();
    let start = Instant::now();
    let mut report = Report::by_name(name).expect("a report name");
    let mut problems = 0u64;
    let summary = run_report(
        &files,
        &Filter::default(),
        &mut report,
        &Progress::hidden(),
        |_| problems += 1,
    );
    let mut out = Vec::new();
    report
        .write(&mut out, Format::Ndjson)
        .expect("write to a Vec");
    let seconds = start.elapsed().as_secs_f64();
    let cpu_seconds = cpu_seconds() - cpu;
    assert_eq!(problems, 0, "{name}: problems reading the demo's trail");
    assert_eq!(summary.records, events, "{name}: records read");
    let stats = json!({"seconds": seconds, "cpuSeconds": cpu_seconds, "peakRssKb": peak_rss_kb()});
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{stats}").expect("write the stats");
    stdout.write_all(&out).expect("write the ndjson");
}

/// DuckDB's answer to report `name` (see `benches/read_duckdb.py`).
fn run_duckdb(python: &Path, name: &str, files: &[TrailFile], check: bool) -> Value {
    let paths: Vec<String> = files
        .iter()
        .map(|f| f.path.to_str().expect("a UTF-8 temp path").to_owned())
        .collect();
    let spec = json!({"report": name, "files": paths, "check": check});
    let mut child = Command::new(python)
        .arg(SCRIPT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {}: {e}", python.display()));
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(spec.to_string().as_bytes())
        .expect("write the spec");
    let out = child.wait_with_output().expect("wait for DuckDB");
    assert!(
        out.status.success(),
        "DuckDB ({name}) failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "DuckDB ({name}) printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// This process's peak RSS (`VmHWM`), in KiB.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User + system time of this process (all threads), from `/proc/self/stat` (in USER_HZ,
/// 100 per second on Linux).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which is in parentheses and may hold spaces):
    // state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => 0.0,
    }
}

/// Compares DuckDB's answer with ours (ndjson); returns what was compared, or the differences.
fn check_answers(name: &str, ours: &[u8], duck: &Value) -> Result<String, String> {
    let ours: Vec<Value> = ours
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("our ndjson"))
        .collect();
    if name == "exports" {
        return check_exports(&ours, &duck["summary"]);
    }
    let keys: &[&str] = match name {
        // msgType and topic of the latest event: ties within a millisecond (see the notes).
        "last-activity" => &["user", "lastTime", "events"],
        "usage" => &["period", "node", "activeUsers", "events"],
        "authfail" => &[
            "user",
            "source",
            "failures",
            "first",
            "last",
            "maxInWindow",
            "burst",
        ],
        "cru" => &["user", "usages", "cpuMs", "rssMBSeconds", "wallMs"],
        "apinode" => &[
            "service", "msgType", "queries", "failures", "p50Ms", "p95Ms", "p99Ms",
        ],
        other => return Err(format!("no check for report {other}: add one to the bench")),
    };
    let theirs = duck["rows"].as_array().cloned().unwrap_or_default();
    let mut diffs = Vec::new();
    if ours.len() != theirs.len() {
        diffs.push(format!(
            "rows: ours {}, DuckDB {}",
            ours.len(),
            theirs.len()
        ));
    }
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        for key in keys {
            if !same(&a[key], &b[key]) {
                diffs.push(format!(
                    "row {i} {key}: ours {}, DuckDB {}\n  ours:   {a}\n  DuckDB: {b}",
                    a[key], b[key]
                ));
            }
        }
    }
    if ours.is_empty() {
        diffs.push("no rows: nothing to compare".into());
    }
    if diffs.is_empty() {
        Ok(format!("{} rows × {}", ours.len(), keys.join(", ")))
    } else {
        diffs.truncate(20);
        Err(diffs.join("\n"))
    }
}

fn check_exports(ours: &[Value], duck: &Value) -> Result<String, String> {
    let count = |f: &dyn Fn(&Value) -> bool| ours.iter().filter(|r| f(r)).count() as u64;
    let mine = [
        ("rows", ours.len() as u64),
        (
            "datasetExports",
            count(&|r| r["msgType"] == "dataset-export"),
        ),
        (
            "projectExports",
            count(&|r| r["msgType"] == "project-export-download"),
        ),
        ("readsByCodeRows", count(&|r| r["readsByCode"].is_u64())),
        (
            "readsByCode",
            ours.iter().filter_map(|r| r["readsByCode"].as_u64()).sum(),
        ),
    ];
    let mut diffs = Vec::new();
    for (key, n) in mine {
        if duck[key].as_u64() != Some(n) {
            diffs.push(format!("{key}: ours {n}, DuckDB {}", duck[key]));
        }
    }
    let before = count(&|r| r["sampleReadBefore"] == true);
    let (low, high) = (
        duck["sampleReadStrictlyBefore"].as_u64().unwrap_or(0),
        duck["sampleReadBefore"].as_u64().unwrap_or(0),
    );
    if !(low..=high).contains(&before) {
        diffs.push(format!(
            "sampleReadBefore: ours {before}, DuckDB {low} (strictly earlier) to {high} (same millisecond or earlier)"
        ));
    }
    if ours.is_empty() {
        diffs.push("no rows: nothing to compare".into());
    }
    if diffs.is_empty() {
        Ok(format!(
            "{} rows; per msgType, reads by code; sample read before: ours {before}, SQL {low}–{high}",
            ours.len()
        ))
    } else {
        Err(diffs.join("\n"))
    }
}

/// Equal, numbers to a relative 1e-9 (sums in another order).
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
        _ => a == b,
    }
}

fn parse_args() -> Args {
    let mut gb = 2.0f64;
    let mut events = None;
    let mut rounds = 3;
    let mut reports: Vec<String> = BENCHED.iter().map(|s| s.to_string()).collect();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_default();
        match arg.as_str() {
            "--gb" => gb = value().parse().expect("--gb: a number of GB"),
            "--events" => events = Some(value().parse().expect("--events: a number")),
            "--rounds" => rounds = value().parse::<usize>().expect("--rounds: a number").max(1),
            "--reports" => {
                reports = value().split(',').map(str::to_owned).collect();
                for r in &reports {
                    assert!(
                        BENCHED.contains(&r.as_str()),
                        "--reports: {r} is none of {BENCHED:?}"
                    );
                }
            }
            _ => {} // cargo bench's own (--bench)
        }
    }
    let (events, size_arg) = match events {
        Some(n) => (n, format!("--events {n}")),
        None => ((gb * 1e9 / BYTES_PER_EVENT) as u64, format!("--gb {gb}")),
    };
    Args {
        events,
        size_arg,
        rounds,
        reports,
    }
}
