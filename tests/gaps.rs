//! `report gaps` end to end: real application processes log through the `event_server` target
//! with a heartbeat to a real Event Server; one is killed with SIGKILL and started again, one
//! stops in order and starts again, one is killed and never comes back. The server's folders
//! then answer `log4rs-audit report gaps` (and `/api/reports/gaps`) with a crash-restart, an
//! orderly restart and a silent node.
#![cfg(feature = "server")] // the Event Server is the `log4rs-audit event-server` binary

#[path = "support/server.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::ServerProcess;

const CHILD_ENV: &str = "LOG4RS_AUDIT_GAPS_CHILD";
const BIN: &str = env!("CARGO_BIN_EXE_log4rs-audit");

/// The application: `<url>|<spool dir>|<host tag>|<beats to wait for>|<hang>`; logs one event,
/// waits until its heartbeats are delivered, then stops in order or hangs (to be killed).
#[test]
fn gaps_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let parts: Vec<&str> = spec.split('|').collect();
    let yaml = format!(
        r#"audit:
  heartbeat: 100ms
appenders:
  central:
    kind: event_server
    url: {url}
    auth_key: k-node-1
    spool_dir: '{spool}'
    linger: 10ms
root: {{ level: warn, appenders: [] }}
loggers:
  dku.audit:
    level: info
    appenders: [central]
    additive: false
"#,
        url = parts[0],
        spool = parts[1],
    );
    let config = log4rs_audit::AuditConfig::from_yaml(&yaml, None).unwrap();
    let handle = log4rs_audit::init_config(config).unwrap();
    log4rs_audit::audit!(generic, "login", authUser = parts[2]);
    let beats: u64 = parts[3].parse().unwrap();
    // The heartbeats are delivered by the spool's sender; give them time (bounded).
    std::thread::sleep(Duration::from_millis(100 * beats + 300));
    println!("ready");
    if parts[4] == "hang" {
        std::thread::sleep(Duration::from_secs(600));
    }
    handle.flush();
    drop(handle);
}

fn app(server: &ServerProcess, spool: &Path, tag: &str, beats: u64, hang: bool) -> Child {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "gaps_child", "--nocapture", "--test-threads=1"])
        .env(
            CHILD_ENV,
            format!(
                "{}|{}|{tag}|{beats}|{}",
                server.url,
                spool.display(),
                if hang { "hang" } else { "" }
            ),
        )
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    // Read the child's output to its end (a closed pipe would fail its last prints).
    let (ready, said) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if line.contains("ready") {
                let _ = ready.send(());
            }
        }
    });
    said.recv_timeout(Duration::from_secs(60))
        .expect("the application never got ready");
    child
}

fn report(args: &[&str], root: &Path) -> Vec<serde_json::Value> {
    let out = Command::new(BIN)
        .args(["report", "gaps"])
        .arg(root)
        .args(args)
        .args(["--format", "ndjson"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The kinds of the rows, in order, without `stall`: on a loaded machine a heartbeat may
/// reach the server more than three intervals after the one before (the server's receive time
/// is the line's time), which is a true stall of delivery but not what these tests provoke.
fn kinds_of(rows: &[serde_json::Value]) -> Vec<&str> {
    rows.iter()
        .map(|r| r["kind"].as_str().unwrap())
        .filter(|k| *k != "stall")
        .collect()
}

/// Waits until the server has stored at least `n` heartbeats (bounded).
fn wait_for_beats(root: &Path, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let beats: usize = support::stored_files(root)
            .iter()
            .map(|f| {
                std::fs::read_to_string(f)
                    .unwrap_or_default()
                    .matches("\"audit-heartbeat\"")
                    .count()
            })
            .sum();
        if beats >= n {
            return;
        }
        assert!(Instant::now() < deadline, "only {beats} heartbeats stored");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_node_killed_with_sigkill_shows_in_report_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let config = support::config("read_keys: [ \"k-read\" ]\n");
    let server = ServerProcess::start(dir.path(), &config);
    let root = dir.path().join("events");
    // One node, one spool: killed with SIGKILL, then started again (same node id).
    let spool = dir.path().join("spool-a");
    let mut a = app(&server, &spool, "a", 3, true);
    wait_for_beats(&root, 3);
    a.kill().unwrap();
    a.wait().unwrap();
    let a2 = app(&server, &spool, "a", 3, false).wait().unwrap();
    assert!(a2.success());
    let rows = report(&["--until", "2999-01-01"], &root);
    let kinds = kinds_of(&rows);
    assert_eq!(kinds, ["crash-restart"], "{rows:?}");
    assert!(rows[0]["detail"]
        .as_str()
        .unwrap()
        .starts_with("no audit-logger-stop"));
    assert_eq!(rows[0]["node"], "127.0.0.1");
    // An orderly stop and start: a restart, not a crash.
    let a3 = app(&server, &spool, "a", 2, false).wait().unwrap();
    assert!(a3.success());
    let rows = report(&["--until", "2999-01-01"], &root);
    let kinds = kinds_of(&rows);
    assert_eq!(kinds, ["crash-restart", "restart"], "{rows:?}");
    // Killed and never back: silent once three intervals passed without a heartbeat.
    let mut b = app(&server, &spool, "a", 2, true);
    std::thread::sleep(Duration::from_millis(300));
    b.kill().unwrap();
    b.wait().unwrap();
    std::thread::sleep(Duration::from_millis(600));
    let rows = report(&[], &root);
    let kinds = kinds_of(&rows);
    assert_eq!(
        kinds,
        ["crash-restart", "restart", "restart", "silent"],
        "{rows:?}"
    );
    // The read API answers the same.
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build();
    let body = agent
        .get(&format!("{}/api/reports/gaps?destination=disk", server.url))
        .set("Authorization", "Bearer k-read")
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(kinds_of(v["rows"].as_array().unwrap()), kinds);
}
