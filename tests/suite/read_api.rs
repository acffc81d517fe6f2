//! The Event Server's read API against a real server process: `GET /api/events` (keys, newest
//! first, cursor paging with no gap and no duplicate while events keep arriving, filters,
//! annotations with each file's integrity state, hostile parameters) and
//! `GET /api/reports/<name>` (the same rows as `log4rs-audit report … --format ndjson` over the
//! server's folders).
#![cfg(feature = "server")] // the Event Server is the `log4rs-audit event-server` binary

use crate::support;

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::{post, stored_files, ServerProcess};

const BIN: &str = env!("CARGO_BIN_EXE_log4rs-audit");
const READ_KEY: &str = "k-read";

fn config() -> String {
    r#"listen: 127.0.0.1:0
event_keys: [ "k-node-1" ]
stats_keys: [ "k-stats" ]
read_keys: [ "k-read" ]
people: people.csv
timezone: utc
destinations:
  - name: disk
    type: filesystem
    root: events
    partitioning_period: HOUR
    integrity: { signing_key: { file: keys/audit.key }, checkpoint_lines: 40, checkpoint_seconds: 1 }
  - name: plain
    type: filesystem
    root: plain
    topics: [authfail]
"#
    .to_owned()
}

fn start() -> (tempfile::TempDir, ServerProcess) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["keygen", "--out"])
        .arg(dir.path().join("keys"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    std::fs::write(
        dir.path().join("people.csv"),
        "user,department\nu1,sales\nu2,it\n",
    )
    .unwrap();
    let server = ServerProcess::start(dir.path(), &config());
    (dir, server)
}

/// The events of batch `b` (node `web-1`, sequence numbers from `first`): users u0..u4, topics
/// generic / authfail / apinode-query / compute-resource-usage, routing keys on some.
fn batch(first: u64, count: u64) -> String {
    let mut body = String::new();
    for n in first..first + count {
        let user = format!("u{}", n % 5);
        let (topic, rk, event) = match n % 4 {
            0 => (
                "generic",
                None,
                format!(
                    r#"{{"msgType":"dataset-export","authUser":"{user}","projectKey":"P{}","datasetName":"d","n":{n}}}"#,
                    n % 3
                ),
            ),
            1 => (
                "authfail",
                Some("sso"),
                format!(r#"{{"msgType":"login-failed","authUser":"{user}","n":{n}}}"#),
            ),
            2 => (
                "apinode-query",
                Some("fraud-svc"),
                format!(
                    r#"{{"msgType":"prediction-query","authUser":"{user}","latencyMs":{},"n":{n}}}"#,
                    n % 17
                ),
            ),
            _ => (
                "compute-resource-usage",
                None,
                format!(
                    r#"{{"msgType":"compute-resource-usage-complete","authUser":"{user}","computeResourceUsage":{{"type":"LOCAL_PROCESS","startTime":1000,"endTime":{},"localProcess":{{"userTimeMS":{n},"systemTimeMS":1,"rssMBSeconds":2}}}},"n":{n}}}"#,
                    2000 + n
                ),
            ),
        };
        body += &support::item("web-1", n, topic, rk, &event);
    }
    body
}

fn send(server: &ServerProcess, first: u64, count: u64) {
    let (code, text) = post(
        &server.events_url(),
        "k-node-1",
        batch(first, count).as_bytes(),
    );
    assert_eq!(code, 200, "{text}");
}

struct Answer {
    status: u16,
    body: String,
    next: Option<String>,
}

fn get(server: &ServerProcess, path: &str, key: Option<&str>) -> Answer {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build();
    let mut req = agent.get(&format!("{}{path}", server.url));
    if let Some(k) = key {
        req = req.set("Authorization", &format!("Bearer {k}"));
    }
    let (status, r) = match req.call() {
        Ok(r) => (r.status(), r),
        Err(ureq::Error::Status(code, r)) => (code, r),
        Err(e) => panic!("GET {path}: {e}"),
    };
    let next = r.header("x-next-cursor").map(str::to_owned);
    Answer {
        status,
        body: r.into_string().unwrap(),
        next,
    }
}

fn lines(body: &str) -> Vec<Value> {
    body.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Every stored line of both destinations, as (destination, text).
fn stored(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, root) in [("disk", "events"), ("plain", "plain")] {
        for f in stored_files(&dir.join(root)) {
            for l in std::fs::read_to_string(&f).unwrap().lines() {
                out.push((name.to_owned(), l.to_owned()));
            }
        }
    }
    out
}

/// Pages through `/api/events?{query}` with `limit`, returning the annotated lines.
fn page_all(server: &ServerProcess, query: &str, limit: usize) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10_000 {
        let mut path = format!("/api/events?annotate=1&limit={limit}{query}");
        if let Some(c) = &cursor {
            path += &format!("&cursor={c}");
        }
        let a = get(server, &path, Some(READ_KEY));
        assert_eq!(a.status, 200, "{}", a.body);
        all.extend(lines(&a.body));
        match a.next {
            Some(c) => cursor = Some(c),
            None => return all,
        }
    }
    panic!("paging did not end");
}

#[test]
fn read_keys_are_required_and_parameters_are_checked() {
    let (_dir, server) = start();
    send(&server, 1, 8);
    for key in [None, Some("k-node-1"), Some("k-stats"), Some("k-read-not")] {
        for path in ["/api/events", "/api/reports/usage"] {
            let a = get(&server, path, key);
            assert_eq!(a.status, 401, "{path} with {key:?}: {}", a.body);
        }
    }
    let refused = |path: &str, status: u16, says: &str| {
        let a = get(&server, path, Some(READ_KEY));
        assert_eq!(a.status, status, "{path}: {}", a.body);
        assert!(a.body.contains(says), "{path}: {}", a.body);
    };
    refused("/api/events?limit=0", 400, "limit: between 1 and 1000");
    refused("/api/events?limit=5&limit=6", 400, "limit: given twice");
    refused("/api/events?usr=bob", 400, "unknown parameter `usr`");
    refused("/api/events?since=soon", 400, "since: ");
    refused("/api/events?cursor=AAAA", 400, "cursor: ");
    refused("/api/events?cursor=%ZZ", 400, "cursor: not valid UTF-8");
    refused("/api/events?destination=nope", 404, "destination `nope`");
    refused("/api/reports/nope", 404, "no report `nope`");
    refused("/api/reports/usage?by=user", 400, "unknown parameter `by`");
    refused("/api/reports/cru?by=team", 400, "by: expected");
    refused("/api/reports/authfail?window=0s", 400, "window: ");
    // A valid read key with an empty result is still 200.
    let a = get(&server, "/api/events?user=nobody", Some(READ_KEY));
    assert_eq!((a.status, a.body.as_str(), a.next), (200, "", None));
}

#[test]
fn events_come_newest_first_and_paging_loses_and_repeats_nothing() {
    let (dir, server) = start();
    // Several batches: many events share a millisecond, across folders of both destinations.
    for b in 0..6 {
        send(&server, 1 + b * 150, 150);
    }
    let all = page_all(&server, "", 37);
    let expected = stored(dir.path());
    assert_eq!(all.len(), expected.len());
    // Every stored line exactly once, as stored.
    let got: HashSet<(String, String)> = all
        .iter()
        .map(|a| {
            (
                a["destination"].as_str().unwrap().to_owned(),
                a["line"].to_string(),
            )
        })
        .collect();
    assert_eq!(got.len(), all.len(), "a line came twice");
    let want: HashSet<(String, String)> = expected
        .iter()
        .map(|(d, l)| {
            (
                d.clone(),
                serde_json::from_str::<Value>(l).unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(got, want);
    // Newest first.
    let times: Vec<String> = all
        .iter()
        .map(|a| a["line"]["serverTimestamp"].as_str().unwrap().to_owned())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "not newest first");
    // Within one folder, storage order reversed.
    let disk_n: Vec<u64> = all
        .iter()
        .filter(|a| a["destination"] == "disk" && a["topic"] == "generic")
        .map(|a| a["line"]["clientEvent"]["n"].as_u64().unwrap())
        .collect();
    assert!(disk_n.windows(2).all(|w| w[0] > w[1]), "{disk_n:?}");
    // Annotations: topic and routing key from the folders, integrity per destination.
    let first_authfail = all
        .iter()
        .find(|a| a["topic"] == "authfail" && a["destination"] == "disk")
        .unwrap();
    assert_eq!(first_authfail["routingKey"], "sso");
    assert!(all
        .iter()
        .all(|a| a["destination"] != "plain" || a["integrity"] == "none"));
    assert!(all.iter().all(|a| a["destination"] != "disk"
        || ["sealed", "pending"].contains(&a["integrity"].as_str().unwrap())));
}

#[test]
fn a_cursor_holds_while_events_keep_arriving() {
    let (_dir, server) = start();
    send(&server, 1, 200);
    let first = get(
        &server,
        "/api/events?limit=30&destination=disk",
        Some(READ_KEY),
    );
    assert_eq!(first.status, 200);
    let page1 = lines(&first.body);
    // New events arrive (newer than page 1, in the same and in new folders).
    send(&server, 201, 120);
    let mut seen: Vec<u64> = page1
        .iter()
        .map(|l| l["clientEvent"]["n"].as_u64().unwrap())
        .collect();
    let mut cursor = first.next.expect("more lines");
    loop {
        let a = get(
            &server,
            &format!("/api/events?limit=50&destination=disk&cursor={cursor}"),
            Some(READ_KEY),
        );
        assert_eq!(a.status, 200, "{}", a.body);
        seen.extend(
            lines(&a.body)
                .iter()
                .map(|l| l["clientEvent"]["n"].as_u64().unwrap()),
        );
        match a.next {
            Some(c) => cursor = c,
            None => break,
        }
    }
    // Exactly the first 200 events, each once: nothing newer slipped into later pages.
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (1..=200).collect::<Vec<u64>>());
}

#[test]
fn filters_match_what_query_prints_and_tampering_shows_as_failed() {
    let (dir, server) = start();
    send(&server, 1, 400);
    // Wait for the checkpoint of the last lines (checkpoint_seconds: 1).
    std::thread::sleep(Duration::from_millis(2500));
    let api = page_all(
        &server,
        "&user=u2&topic=generic,apinode-query&destination=disk",
        1000,
    );
    let cli = Command::new(BIN)
        .args(["query", "--user", "u2", "--topic", "generic,apinode-query"])
        .arg(dir.path().join("events"))
        .output()
        .unwrap();
    assert!(cli.status.success());
    let mut from_cli: Vec<String> = String::from_utf8(cli.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap().to_string())
        .collect();
    let mut from_api: Vec<String> = api.iter().map(|a| a["line"].to_string()).collect();
    assert!(!from_api.is_empty());
    assert!(
        api.iter().all(|a| a["integrity"] == "sealed"),
        "{:?}",
        api[0]
    );
    from_cli.sort();
    from_api.sort();
    assert_eq!(from_api, from_cli);
    // Change one stored byte of a generic file: its lines show as failed, others stay sealed.
    let victim = stored_files(&dir.path().join("events"))
        .into_iter()
        .find(|p| p.to_string_lossy().contains("/generic/"))
        .unwrap();
    let text = std::fs::read_to_string(&victim).unwrap();
    std::fs::write(&victim, text.replacen("\"u2\"", "\"u3\"", 1)).unwrap();
    let after = page_all(&server, "&destination=disk", 1000);
    for a in &after {
        let in_victim = victim.ends_with(a["file"].as_str().unwrap());
        let want = if in_victim { "failed" } else { "sealed" };
        assert_eq!(a["integrity"], want, "{}", a["file"]);
    }
}

#[test]
fn reports_answer_what_the_cli_answers_over_the_same_folders() {
    let (dir, server) = start();
    for b in 0..4 {
        send(&server, 1 + b * 100, 100);
    }
    let cases: [(&str, &str, &[&str]); 8] = [
        ("last-activity", "", &[]),
        ("exports", "", &[]),
        ("usage", "?period=month", &["--period", "month"]),
        (
            "authfail",
            "?burst=3&window=1h",
            &["--burst", "3", "--window", "1h"],
        ),
        (
            "cru",
            "?by=department",
            &["--by", "department", "--people", "people.csv"],
        ),
        (
            "cru",
            "?by=project&user=u1",
            &["--by", "project", "--user", "u1"],
        ),
        ("apinode", "", &[]),
        (
            "last-activity",
            "?destination=disk&topic=generic",
            &["--topic", "generic"],
        ),
    ];
    for (name, query, args) in cases {
        let a = get(
            &server,
            &format!("/api/reports/{name}{query}"),
            Some(READ_KEY),
        );
        assert_eq!(a.status, 200, "{name}{query}: {}", a.body);
        let v: Value = serde_json::from_str(&a.body).unwrap();
        assert_eq!(v["report"], name);
        let mut paths = vec!["events"];
        if !query.contains("destination=disk") {
            paths.push("plain");
        }
        let cli = Command::new(BIN)
            .arg("report")
            .arg(name)
            .args(&paths)
            .args(args)
            .args(["--format", "ndjson"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            cli.status.success(),
            "{}",
            String::from_utf8_lossy(&cli.stderr)
        );
        let rows: Vec<Value> = lines(&String::from_utf8(cli.stdout).unwrap());
        assert!(!rows.is_empty(), "{name}{query}: no rows to compare");
        assert_eq!(v["rows"].as_array().unwrap(), &rows, "{name}{query}");
        assert!(v["read"]["records"].as_u64().unwrap() > 0);
    }
}

/// Reads run beside ingest, never in its way: while six whole-destination reports queue for
/// the two read slots, every POST is stored and answered before the last report is.
#[test]
fn ingest_goes_on_while_reports_read() {
    let (dir, server) = start();
    // An older day of stored lines, written in the server's layout (about 12 MB).
    let old = dir.path().join("events/generic/_none/2026/11/01/10");
    std::fs::create_dir_all(&old).unwrap();
    let line = r#"{"clientEvent":{"msgType":"dataset-read-data-sample","authUser":"u1","projectKey":"P","datasetName":"customers","rows":10000,"params":{"format":"csv"}}},"origAddress":"10.0.0.9","serverTimestamp":"2026-11-01T10:00:00.000+0000"}"#;
    let text: String = std::iter::repeat_n(format!("{line}\n"), 60_000).collect();
    std::fs::write(old.join("events.log"), text).unwrap();
    let url = server.url.clone();
    let reports: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(300))
                    .build();
                let r = agent
                    .get(&format!("{url}/api/reports/last-activity"))
                    .set("Authorization", &format!("Bearer {READ_KEY}"))
                    .call()
                    .unwrap();
                assert_eq!(r.status(), 200);
                std::time::Instant::now()
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    for b in 0..20 {
        send(&server, 1 + b * 5, 5);
    }
    let posted = std::time::Instant::now();
    let last_report = reports
        .into_iter()
        .map(|h| h.join().unwrap())
        .max()
        .unwrap();
    assert!(
        posted < last_report,
        "the reports ended before ingest did: the test proves nothing (make the trail bigger)"
    );
    assert_eq!(server.events_stored("k-stats"), 100);
}
