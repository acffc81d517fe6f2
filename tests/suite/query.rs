//! `log4rs-audit query` and `report` through the real binary: on trails written by
//! `log4rs-audit demo`, and on a hand-written trail with known answers (a gzip rolled set with a
//! torn last line and integrity sidecars beside it, plus an Event Server folder tree) whose
//! outputs are pinned by `tests/golden/query/*.txt`. Regenerate those with
//! `UPDATE_GOLDEN=1 cargo test --test query` and review the diff.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use flate2::write::GzEncoder;

fn cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_log4rs-audit"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run log4rs-audit")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("UTF-8 output")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = cli(dir, args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

/// A demo trail: (temp dir, events per topic as the demo printed them).
fn demo(events: u64) -> (tempfile::TempDir, BTreeMap<String, u64>) {
    let dir = tempfile::tempdir().unwrap();
    let text = ok(
        dir.path(),
        &["demo", "--threads", "3", "--events", &events.to_string()],
    );
    let per_topic = text
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let (topic, n) = (words.next()?, words.next()?.parse().ok()?);
            Some((topic.to_owned(), n))
        })
        .collect();
    (dir, per_topic)
}

#[test]
fn demo_trail_every_line_unchanged_and_filters_count_right() {
    let (dir, per_topic) = demo(3_000);
    let stored = std::fs::read_to_string(dir.path().join("run/audit/audit.log")).unwrap();
    // ndjson: the stored lines, unchanged, in order.
    assert_eq!(ok(dir.path(), &["query", "run/audit"]), stored);
    // One topic, as csv: a header and one row per event of that topic.
    for topic in ["authfail", "apinode-query", "compute-resource-usage"] {
        let csv = ok(
            dir.path(),
            &["query", "run/audit", "--topic", topic, "--format", "csv"],
        );
        let mut lines = csv.lines();
        assert_eq!(
            lines.next(),
            Some("time,topic,msgType,user,message"),
            "{topic}"
        );
        assert!(lines.clone().all(|l| l.split(',').nth(1) == Some(topic)));
        assert_eq!(lines.count() as u64, per_topic[topic], "{topic}");
    }
    // msgType and user against a plain serde_json count of the file.
    let values: Vec<serde_json::Value> = stored
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let count =
        |pred: &dyn Fn(&serde_json::Value) -> bool| values.iter().filter(|v| pred(v)).count();
    let exports = count(&|v| {
        v["message"]["msgType"] == "dataset-export" && v["message"]["authUser"] == "bob"
    });
    let got = ok(
        dir.path(),
        &[
            "query",
            "run/audit",
            "--msg-type",
            "dataset-export",
            "--user",
            "bob",
        ],
    );
    assert_eq!(got.lines().count(), exports);
    assert!(exports > 0);
    let limitless = count(&|v| {
        v["message"]["params"]["limit"].is_null() && v["message"]["msgType"] == "dataset-export"
    });
    let got = ok(
        dir.path(),
        &[
            "query",
            "run/audit",
            "--where",
            "params.limit=null",
            "--msg-type",
            "dataset-export",
            "--format",
            "table",
        ],
    );
    assert_eq!(got.lines().count(), limitless + 1);
    assert!(got.starts_with("time "));
    assert!(got.lines().next().unwrap().ends_with("  params.limit"));

    // last-activity: every user of the demo once, most recent first.
    let report = ok(
        dir.path(),
        &["report", "last-activity", "run/audit", "--format", "csv"],
    );
    let rows: Vec<Vec<&str>> = report
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let mut users: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    users.sort_unstable();
    assert_eq!(
        users,
        ["admin", "alice", "apikey:svc", "bob", "carol", "dave"]
    );
    let times: Vec<&str> = rows.iter().map(|r| r[1]).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let total: u64 = rows.iter().map(|r| r[4].parse::<u64>().unwrap()).sum();
    assert_eq!(total, 3_000);

    // exports: one row per export event of the file (then the reads by code, one row per user,
    // project and dataset, checked against Python in reports_python.rs).
    let report = ok(
        dir.path(),
        &["report", "exports", "run/audit", "--format", "ndjson"],
    );
    let expected = count(&|v| {
        v["message"]["msgType"] == "dataset-export"
            || v["message"]["msgType"] == "project-export-download"
    });
    let rows: Vec<serde_json::Value> = report
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &serde_json::Value| r["msgType"] != "dataset-read-data")
        .collect();
    assert_eq!(rows.len(), expected);
    for row in rows {
        let before = row["sampleReadBefore"].as_bool().unwrap();
        assert_eq!(before, row["sampleReadAt"].is_string(), "{row}");
        if row["msgType"] == "dataset-export" && before {
            assert_eq!(row["sampleDataset"], row["dataset"]);
        }
    }
}

#[test]
fn demo_trail_rolled_and_gzipped_reads_in_write_order() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("small.yaml");
    std::fs::write(
        &config,
        "appenders:\n  audit:\n    kind: audit_file\n    path: run/audit/audit.log\n    policy: { max_size: 20KB, max_backups: 50, compress: gzip }\nroot: { level: warn }\nloggers:\n  dku.audit: { level: info, appenders: [audit], additive: false }\n",
    )
    .unwrap();
    ok(
        dir.path(),
        &[
            "demo",
            "--threads",
            "1",
            "--events",
            "2000",
            "--config",
            "small.yaml",
        ],
    );
    let names: Vec<String> = std::fs::read_dir(dir.path().join("run/audit"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().filter(|n| n.ends_with(".gz")).count() > 5,
        "{names:?}"
    );
    // One thread: the demo's events were written in time order, so the times read back must
    // never go backwards across the rolled files.
    let csv = ok(
        dir.path(),
        &[
            "query",
            "run/audit",
            "--format",
            "csv",
            "--where",
            "msgType=__none__",
        ],
    );
    assert_eq!(csv, "time,topic,msgType,user,msgType\n");
    let all = ok(dir.path(), &["query", "run/audit"]);
    let lines: Vec<&str> = all.lines().collect();
    // The logger's own start and stop, first and last in write order, around the events.
    crate::lifecycle_lines::assert_started_and_stopped(&lines, "query run/audit");
    assert_eq!(
        crate::lifecycle_lines::lifecycle_types(&lines),
        [
            log4rs_audit::lifecycle::START,
            log4rs_audit::lifecycle::STOP
        ]
    );
    let times: Vec<String> = lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["timestamp"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        crate::lifecycle_lines::without_lifecycle(&lines).len(),
        2000
    );
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
}

fn gz(path: &Path, text: &str) {
    let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(text.as_bytes()).unwrap();
    std::fs::write(path, enc.finish().unwrap()).unwrap();
}

fn log_line(time: &str, logger: &str, message: &str, user: &str) -> String {
    format!(
        r#"{{"severity":"INFO","logger":"dku.audit.{logger}","message":{message},"mdc":{{"apiCall":"/api/x","user":"{user}"}},"callTime":3,"timestamp":"2026-11-24T{time}.000+0000"}}"#
    ) + "\n"
}

fn server_line(time: &str, event: &str) -> String {
    format!(
        r#"{{"clientEvent":{event},"origAddress":"10.0.0.5","serverTimestamp":"2026-11-24T{time}.000+0000"}}"#
    ) + "\n"
}

/// The hand-written trail: a rolled set in `node1/` and an Event Server tree in `events/`.
fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let node = dir.path().join("node1");
    std::fs::create_dir_all(&node).unwrap();
    gz(
        &node.join("audit.log.2.gz"),
        &(log_line(
            "08:00:00",
            "generic",
            r#"{"msgType":"login","authUser":"alice","authSource":"LDAP"}"#,
            "alice",
        ) + &log_line(
            "08:01:00",
            "generic",
            r#"{"msgType":"dataset-read-data-sample","authUser":"alice","projectKey":"P1","datasetName":"customers","rows":10000}"#,
            "alice",
        )),
    );
    gz(
        &node.join("audit.log.1.gz"),
        &(log_line(
            "09:00:00",
            "generic",
            r#"{"msgType":"dataset-export","authUser":"alice","projectKey":"P1","datasetName":"customers","params":{"format":"csv","limit":null}}"#,
            "alice",
        ) + &log_line(
            "09:05:00",
            "generic",
            r#"{"msgType":"dataset-export","authUser":"bob","projectKey":"P1","datasetName":"customers","params":{"format":"excel","limit":100}}"#,
            "bob",
        )),
    );
    std::fs::write(
        node.join("audit.log"),
        log_line("10:00:00", "generic", r#"{"msgType":"project-export-download","authUser":"bob","projectKey":"P2","exportId":7}"#, "bob")
            // No authUser: the MDC's user counts.
            + &log_line("10:01:00", "authfail", r#"{"msgType":"authentication-failed","reason":"invalid password"}"#, "carol")
            + r#"{"severity":"INFO","logger":"dku.audit.gen"#,
    )
    .unwrap();
    // Integrity sidecars and a half-compressed file: never read.
    std::fs::write(node.join("audit.log.sig"), "sig: not a log line\n").unwrap();
    std::fs::write(node.join("audit.log.1.digest"), "digest\n").unwrap();
    std::fs::write(node.join("audit.log.3.gz.tmp"), "partial").unwrap();
    let events = dir.path().join("events");
    let put = |rel: &str, text: String| {
        let path = events.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    put(
        "generic/_none/2026/11/24/09/events.log",
        server_line(
            "09:59:00",
            r#"{"msgType":"dataset-read-data-sample","authUser":"bob","projectKey":"P2","datasetName":"orders"}"#,
        ),
    );
    put(
        "apinode-query/fraud-svc/2026/11/24/11/events.log",
        server_line(
            "11:00:00",
            r#"{"msgType":"prediction-query","serviceId":"fraud-svc","latencyMs":3}"#,
        ) + &server_line(
            "11:00:01",
            r#"{"msgType":"prediction-query","serviceId":"fraud-svc","latencyMs":12}"#,
        ),
    );
    put(".event-server/journal", "binary junk\n".into());
    dir
}

fn golden(name: &str, got: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/query")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, got).unwrap();
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert_eq!(got, want, "{name} differs from tests/golden/query/{name}");
}

#[test]
fn hand_written_trail_golden_outputs() {
    let dir = fixture();
    let d = dir.path();
    let cases: [(&str, &[&str]); 7] = [
        ("all.ndjson", &["query", "node1", "events"]),
        (
            "all-table.txt",
            &["query", "node1", "events", "--format", "table"],
        ),
        (
            "window.csv",
            &[
                "query",
                "node1",
                "events",
                "--since",
                "2026-11-24T09:00:00Z",
                "--until",
                "2026-11-24T10:00:00.000+0000",
                "--format",
                "csv",
            ],
        ),
        (
            "where.csv",
            &[
                "query",
                "node1",
                "events",
                "--where",
                "params.format=csv",
                "--where",
                "params.limit=null",
                "--format",
                "csv",
            ],
        ),
        (
            "apinode.txt",
            &[
                "query",
                "events",
                "--topic",
                "apinode-query",
                "--where",
                "latencyMs=12",
                "--format",
                "table",
            ],
        ),
        (
            "last-activity.txt",
            &["report", "last-activity", "node1", "events"],
        ),
        ("exports.txt", &["report", "exports", "node1", "events"]),
    ];
    for (name, args) in cases {
        let out = cli(d, args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        golden(name, &stdout(&out));
        // The torn last line is a warning naming the file and line, every time node1 is read.
        if args.contains(&"node1") {
            let err = stderr(&out);
            assert!(
                err.contains("warning: ")
                    && err.contains(
                        "audit.log:3: torn last line (42 bytes without a newline), skipped"
                    ),
                "{err}"
            );
        }
    }
    // Users: authUser, else the MDC's user.
    let carol = ok(d, &["query", "node1", "--user", "carol", "--format", "csv"]);
    assert_eq!(carol.lines().count(), 2, "{carol}");
}

#[test]
fn malformed_lines_and_bad_arguments() {
    let dir = fixture();
    let d = dir.path();
    std::fs::write(
        d.join("node1/audit.log"),
        log_line(
            "10:00:00",
            "generic",
            r#"{"msgType":"a","authUser":"bob"}"#,
            "bob",
        ) + "not json\n"
            + &log_line(
                "10:00:01",
                "generic",
                r#"{"msgType":"b","authUser":"bob"}"#,
                "bob",
            ),
    )
    .unwrap();
    let out = cli(d, &["query", "node1/audit.log"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out).lines().count(),
        2,
        "the good lines are still printed"
    );
    assert!(
        stderr(&out).contains("node1/audit.log:2: expected ident"),
        "{}",
        stderr(&out)
    );

    let out = cli(d, &["query", "missing"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("missing: "), "{}", stderr(&out));
    for bad in [
        ["--since", "yesterday"],
        ["--where", "=x"],
        ["--format", "xml"],
    ] {
        let out = cli(d, &["query", "events", bad[0], bad[1]]);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
    // A truncated gzip file: reported, and the rest of the trail is still read.
    std::fs::write(d.join("node1/audit.log.1.gz"), b"\x1f\x8b\x08\x00").unwrap();
    let out = cli(d, &["query", "node1", "--format", "csv"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("audit.log.1.gz: after line 0: "),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout(&out).lines().count(), 1 + 2 + 2);
}

/// Hostile files in a trail folder (issue 11, item 11): a FIFO and a link to `/dev/zero` named
/// like log files, a line far over the limit in a plain and in a gzip file. Each is reported
/// naming the file (and the line's offset), nothing hangs or grows without bound, and the good
/// lines around them are all printed.
#[cfg(unix)]
#[test]
fn fifos_devices_and_overlong_lines_are_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let trail = d.join("trail");
    std::fs::create_dir(&trail).unwrap();
    let good = |n: u32| {
        log_line(
            &format!("10:00:0{n}"),
            "generic",
            &format!(r#"{{"msgType":"m{n}","authUser":"bob"}}"#),
            "bob",
        )
    };
    // 17 MiB without a newline between two good lines: over the 16 MiB limit.
    let huge = "x".repeat(17 << 20);
    std::fs::write(trail.join("a.log"), good(1) + &huge + "\n" + &good(2)).unwrap();
    gz(
        &trail.join("b.log.1.gz"),
        &(good(3) + &huge + "\n" + &good(4)),
    );
    let fifo = trail.join("c.log");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    std::os::unix::fs::symlink("/dev/zero", trail.join("d.log")).unwrap();
    let out = cli(d, &["query", "trail", "--format", "ndjson"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(stdout(&out).lines().count(), 4, "{err}");
    let first_len = good(1).len();
    for want in [
        format!("trail/a.log:2: line of {} bytes at byte {first_len} is longer than the 16 MiB limit, skipped", 17 << 20),
        format!("trail/b.log.1.gz:2: line of {} bytes at byte {} (inflated) is longer", 17 << 20, good(3).len()),
        "trail/c.log: not a regular file, skipped".to_owned(),
        "trail/d.log: not a regular file, skipped".to_owned(),
    ] {
        assert!(err.contains(&want), "missing {want:?} in {err}");
    }
    // Named on the command line, a FIFO is refused the same way, never opened.
    let out = cli(d, &["query", "trail/c.log"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );
}
