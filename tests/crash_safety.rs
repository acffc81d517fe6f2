//! `durability: immediate`: a line is handed to the OS before the logging call returns, so a
//! process killed with SIGKILL loses nothing it had logged and leaves no torn line.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use log4rs_audit::{audit, AuditConfig};

const CHILD_ENV: &str = "LOG4RS_AUDIT_KILL9_CHILD_FILE";

/// The child: logs numbered events forever, printing each number after its call returned.
#[test]
fn kill9_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let yaml = format!(
        "appenders:\n  audit: {{ kind: audit_file, path: '{path}', durability: immediate }}\n\
         loggers:\n  dku.audit: {{ level: info, appenders: [audit], additive: false }}\n"
    );
    let _handle = log4rs_audit::init_config(AuditConfig::from_yaml(&yaml, None).unwrap()).unwrap();
    let mut out = std::io::stdout().lock();
    for seq in 0u64.. {
        audit!(
            generic,
            "numbered",
            seq = seq,
            pad = "p".repeat((seq % 500) as usize)
        );
        std::io::Write::write_fmt(&mut out, format_args!("logged {seq}\n")).unwrap();
        std::io::Write::flush(&mut out).unwrap();
    }
}

/// libtest prints `test kill9_child ... ` before the child's first line, so search the line.
fn confirmed_number(line: &str) -> Option<u64> {
    let (_, n) = line.split_once("logged ")?;
    n.trim().parse().ok()
}

#[test]
fn kill9_loses_nothing_already_logged() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.log");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "kill9_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &file)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut confirmed = Vec::new();
    let mut line = String::new();
    while confirmed.len() < 3_000 {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(n) = confirmed_number(&line) {
            confirmed.push(n);
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // Numbers printed before the kill but not read yet are confirmed too.
    for line in reader.lines() {
        if let Some(n) = confirmed_number(&line.unwrap()) {
            confirmed.push(n);
        }
    }
    assert!(confirmed.len() >= 3_000, "child stopped early");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.ends_with('\n'), "torn last line");
    let stored: Vec<u64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["message"]["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    // Everything confirmed is stored, in order; at most the one call in flight is beyond it.
    assert!(
        stored.len() >= confirmed.len(),
        "{} stored < {} confirmed",
        stored.len(),
        confirmed.len()
    );
    if let Some(i) = (0..confirmed.len()).find(|&i| stored[i] != confirmed[i]) {
        panic!(
            "line {i}: stored {} but confirmed {}",
            stored[i], confirmed[i]
        );
    }
    assert!(
        stored.len() <= confirmed.len() + 1,
        "{} stored, {} confirmed",
        stored.len(),
        confirmed.len()
    );
}
