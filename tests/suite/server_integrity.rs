//! Tamper evidence on Event Server destinations, end to end: a real server with `integrity`,
//! real HTTP clients, a clean stop, a `kill -9` mid-ingest, and the real `log4rs-audit verify`
//! over the destination's root folder.
#![cfg(feature = "server")] // the Event Server is the `log4rs-audit event-server` binary

use crate::support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{post, stored_events, stored_files, ServerProcess};

const BIN: &str = env!("CARGO_BIN_EXE_log4rs-audit");

fn config() -> String {
    r#"listen: 127.0.0.1:0
event_keys: [ "k-node-1" ]
stats_keys: [ "k-stats" ]
timezone: utc
destinations:
  - name: disk
    type: filesystem
    root: events
    partitioning_period: HOUR
    integrity: { signing_key: { file: keys/audit.key }, checkpoint_lines: 50, checkpoint_seconds: 1 }
  - name: plain
    type: filesystem
    root: plain
    topics: [authfail]
"#
    .to_owned()
}

/// Sends events `from..=to` of `node` in batches of `batch`, each resent until acknowledged.
fn send_numbered(url: &str, node: &str, from: u64, to: u64, batch: u64) -> u64 {
    let mut attempts = 0;
    let mut next = from;
    while next <= to {
        let last = (next + batch - 1).min(to);
        let mut body = String::new();
        for n in next..=last {
            // Routing keys spread the events over several folders (trails).
            let rk = format!("rk-{}", n % 3);
            body += &format!(
                "{{\"node\":\"{node}\",\"seq\":{n},\"topic\":\"generic\",\"routingKey\":\"{rk}\",\"event\":{{\"msgType\":\"seq-check\",\"node\":\"{node}\",\"n\":{n}}}}}\n"
            );
        }
        loop {
            attempts += 1;
            assert!(attempts < 100_000, "too many attempts");
            match post(url, "k-node-1", body.as_bytes()) {
                (200, _) => break,
                (0 | 500 | 503, _) => std::thread::sleep(Duration::from_millis(50)),
                (code, text) => panic!("{code}: {text}"),
            }
        }
        next = last + 1;
    }
    attempts
}

struct Verified {
    code: i32,
    text: String,
}

fn verify(root: &Path, public: &Path) -> Verified {
    let out = Command::new(BIN)
        .arg("verify")
        .arg(root)
        .arg("--public-key")
        .arg(public)
        .output()
        .unwrap();
    Verified {
        code: out.status.code().unwrap_or(-1),
        text: String::from_utf8_lossy(&out.stdout).into_owned(),
    }
}

/// Every stored line verifies and is sealed (nothing "not yet sealed").
fn assert_fully_verified(root: &Path, public: &Path, lines: usize) {
    let v = verify(root, public);
    assert_eq!(v.code, 0, "{}", v.text);
    let files = stored_files(root).len();
    assert!(files >= 3, "{files} files");
    let summary = format!("OK: {files} files, {lines} sealed lines verified; signatures checked");
    assert!(v.text.contains(&summary), "want `{summary}`:\n{}", v.text);
    assert!(!v.text.contains("not yet sealed"), "{}", v.text);
}

/// Each node's numbers stored once each, in order.
fn assert_each_once(root: &Path, nodes: &[&str], total: u64) {
    let mut seen: std::collections::HashMap<String, Vec<u64>> = Default::default();
    for e in stored_events(root) {
        let node = e["node"].as_str().unwrap().to_owned();
        seen.entry(node).or_default().push(e["n"].as_u64().unwrap());
    }
    for node in nodes {
        let mut got = seen.remove(*node).unwrap_or_default();
        got.sort_unstable();
        assert_eq!(got, (1..=total).collect::<Vec<_>>(), "{node}");
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn server_trails_verify_after_a_clean_stop_and_a_crash_and_name_a_changed_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["keygen", "--out"])
        .arg(dir.path().join("keys"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let public = dir.path().join("keys/audit.pub");
    let root = dir.path().join("events");
    let nodes = ["node-a", "node-b", "node-c"];

    // 1. Batches in, a clean stop: every file is sealed and verifies.
    let mut server = ServerProcess::start(dir.path(), &config());
    let url = server.events_url();
    for node in nodes {
        send_numbered(&url, node, 1, 130, 20);
    }
    server.stop();
    assert_each_once(&root, &nodes, 130);
    assert_fully_verified(&root, &public, 3 * 130);
    // Sidecars beside each events.log; the journal's hidden folder is not a trail.
    for f in stored_files(&root) {
        let sidecar = format!("{}.digest", f.display());
        assert!(Path::new(&sidecar).exists(), "{sidecar}");
    }

    // 1b. `events.log` and its sidecar swapped between two routing-key folders (on a copy):
    // each trail's origin names its folder, so both fail (issue 15).
    let copy = dir.path().join("swapped");
    copy_tree(&root, &copy);
    let files: Vec<_> = stored_files(&copy)
        .into_iter()
        .filter(|f| f.to_string_lossy().contains("/generic/"))
        .collect();
    let a = files
        .iter()
        .find(|f| f.to_string_lossy().contains("/rk-0/"))
        .unwrap();
    let b = files
        .iter()
        .find(|f| f.to_string_lossy().contains("/rk-1/"))
        .unwrap();
    for ext in ["", ".digest"] {
        let (pa, pb) = (
            format!("{}{ext}", a.display()),
            format!("{}{ext}", b.display()),
        );
        std::fs::rename(&pa, format!("{pa}.tmp")).unwrap();
        std::fs::rename(&pb, &pa).unwrap();
        std::fs::rename(format!("{pa}.tmp"), &pb).unwrap();
    }
    let v = verify(&copy, &public);
    assert_eq!(v.code, 1, "{}", v.text);
    for f in [a, b] {
        let want = format!("FAILED: {}: not where its trail was written", f.display());
        assert!(v.text.contains(&want), "want `{want}`:\n{}", v.text);
    }
    assert!(
        v.text.contains("stored by destination disk as generic/rk-"),
        "{}",
        v.text
    );
    std::fs::remove_dir_all(&copy).unwrap();

    // 2. Killed mid-ingest, restarted, finished, stopped: still verifies, fully sealed.
    server.restart();
    let total = 2_000;
    let clients: Vec<_> = nodes
        .iter()
        .map(|&node| {
            let url = url.clone();
            std::thread::spawn(move || send_numbered(&url, node, 131, total, 20))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.events_stored("k-stats") < 1_000 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill9();
    std::thread::sleep(Duration::from_millis(300));
    server.restart();
    for c in clients {
        c.join().unwrap();
    }
    server.stop();
    assert_each_once(&root, &nodes, total);
    assert_fully_verified(&root, &public, 3 * total as usize);
    let records = |f: &Path| {
        std::fs::read_to_string(format!("{}.digest", f.display()))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    let kinds: Vec<String> = stored_files(&root)
        .iter()
        .flat_map(|f| records(f))
        .map(|r| r["kind"].as_str().unwrap().to_owned())
        .collect();
    assert!(kinds.iter().any(|k| k == "resume"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "checkpoint"), "{kinds:?}");

    // 3. One byte of one stored line changed: verify names the file and the line, exit 1.
    // (The largest file: a test that crosses an hour boundary has small ones too.)
    let victim = stored_files(&root)
        .into_iter()
        .max_by_key(|f| std::fs::metadata(f).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(&victim).unwrap();
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(
            bytes
                .iter()
                .enumerate()
                .filter(|(_, &b)| b == b'\n')
                .map(|(i, _)| i + 1),
        )
        .collect();
    let at = line_starts[4]
        + bytes[line_starts[4]..]
            .windows(9)
            .position(|w| w == b"seq-check")
            .unwrap();
    bytes[at] = b'S';
    std::fs::write(&victim, bytes).unwrap();
    let v = verify(&root, &public);
    assert_eq!(v.code, 1, "{}", v.text);
    let want = format!("FAILED: {} line 5: modified", victim.display());
    assert!(v.text.contains(&want), "want `{want}`:\n{}", v.text);
    assert!(v.text.contains("FAILED: 1 problems"), "{}", v.text);
}
