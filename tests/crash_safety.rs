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
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The logger's own start comes first; killed, it wrote no `audit-logger-stop`.
    assert_eq!(events[0]["message"]["msgType"], "audit-logger-start");
    assert!(events
        .iter()
        .all(|e| e["message"]["msgType"] != "audit-logger-stop"));
    let stored: Vec<u64> = events[1..]
        .iter()
        .map(|e| e["message"]["seq"].as_u64().unwrap())
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

const FILE_CHILD_ENV: &str = "LOG4RS_AUDIT_FILE_CHILD";

/// A rolling `audit_file` with integrity and gzip, `max_size` as given.
fn rolling_yaml(path: &std::path::Path, max_size: &str) -> String {
    format!(
        "appenders:\n  audit:\n    kind: audit_file\n    path: '{}'\n    \
         policy: {{ max_size: {max_size}, max_backups: 5, compress: gzip }}\n    \
         integrity: {{ checkpoint_lines: 100 }}\n\
         loggers:\n  dku.audit: {{ level: info, appenders: [audit], additive: false }}\n",
        path.display()
    )
}

/// The child of the tests below: `open|<path>` opens the file and says whether it could;
/// `exit|<path>` logs until a roll happened, drops the handle and exits at once.
#[test]
fn file_child() {
    let Ok(spec) = std::env::var(FILE_CHILD_ENV) else {
        return;
    };
    let (mode, path) = spec.split_once('|').unwrap();
    let path = std::path::Path::new(path);
    match mode {
        "open" => {
            let config = AuditConfig::from_yaml(&rolling_yaml(path, "1 MB"), None).unwrap();
            match log4rs_audit::AuditLogger::new(config) {
                Ok(_) => println!("child: opened"),
                Err(e) => println!("child: refused: {e}"),
            }
        }
        "exit" => {
            let config = AuditConfig::from_yaml(&rolling_yaml(path, "4 MB"), None).unwrap();
            let handle = log4rs_audit::init_config(config).unwrap();
            let (rolled, gz) = (
                path.with_file_name("audit.log.1"),
                path.with_file_name("audit.log.1.gz"),
            );
            let mut seq = 0u64;
            while !rolled.exists() && !gz.exists() {
                audit!(generic, "numbered", seq = seq, pad = "p".repeat(200));
                seq += 1;
            }
            drop(handle);
            // No destructor runs after this: what the handle did not finish stays unfinished.
            std::process::exit(0);
        }
        other => panic!("unknown mode {other}"),
    }
}

fn run_file_child(mode: &str, path: &std::path::Path) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "file_child", "--nocapture", "--test-threads=1"])
        .env(FILE_CHILD_ENV, format!("{mode}|{}", path.display()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{out:?}");
    text
}

/// Two processes writing one file would interleave rolls and hash chains: the second is
/// refused with an error naming the file (issue 11, item 16).
#[test]
fn a_second_process_writing_the_same_file_is_refused() {
    if std::env::var(FILE_CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let config = AuditConfig::from_yaml(&rolling_yaml(&path, "1 MB"), None).unwrap();
    let (logger, handle) = log4rs_audit::AuditLogger::new(config).unwrap();
    let text = run_file_child("open", &path);
    assert!(text.contains("child: refused: "), "{text}");
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("another process"), "{text}");
    drop(logger);
    drop(handle);
    // Closed: the next process may write it.
    let text = run_file_child("open", &path);
    assert!(text.contains("child: opened"), "{text}");
}

/// Dropping the handle finishes the compression of rolled files, so an exiting process leaves
/// no `.1` beside a `.1.gz.tmp` (issue 11, item 20).
#[test]
fn dropping_the_handle_finishes_compression_before_exit() {
    if std::env::var(FILE_CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    run_file_child("exit", &path);
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "audit.log",
            "audit.log.1.digest",
            "audit.log.1.gz",
            "audit.log.digest"
        ]
    );
}
