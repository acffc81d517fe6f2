//! Files only their owner can read: a real client process (`log4rs-audit demo`) and a real
//! Event Server, both under a permissive umask (022), create every file 0640 and folder 0750
//! (the audit file, its rolled and gzip copies, sidecar and lock, the spool, the server's
//! trees, sidecars, layout record and journal); `file_mode: '0600'` is applied exactly; an
//! existing file keeps its mode; and a bad `file_mode` is refused naming the option.

#![cfg(unix)]

use crate::support as server;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use server::ServerProcess;

/// The umask of a careless host: group and others may read whatever is created plainly.
fn permissive_umask() {
    // SAFETY: umask only sets the process's file-creation mask; every test here sets the same.
    unsafe {
        libc::umask(0o022);
    }
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Every file and folder under `root` (itself included) with its mode.
fn modes(root: &Path) -> BTreeMap<PathBuf, u32> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(p) = stack.pop() {
        out.insert(p.clone(), mode(&p));
        if p.is_dir() {
            for e in fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
    }
    out
}

/// Asserts every entry under `root` has `file` (files) or `dir` (folders) as its mode, and
/// that the names in `expected` are among them; returns the names seen.
fn assert_modes(root: &Path, file: u32, dir: u32, expected: &[&str]) -> Vec<String> {
    let all = modes(root);
    let mut wrong = Vec::new();
    for (p, m) in &all {
        let want = if p.is_dir() { dir } else { file };
        if *m != want {
            wrong.push(format!("{} is {m:04o}, not {want:04o}", p.display()));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let names: Vec<String> = all
        .keys()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    for e in expected {
        assert!(
            names
                .iter()
                .any(|n| n == e || (e.ends_with('*') && n.starts_with(&e[..e.len() - 1]))),
            "{e} not created under {}: {names:?}",
            root.display()
        );
    }
    names
}

/// The client's config: a small rolling, gzipped, integrity-checked file and an Event Server
/// target, with `file_mode` (a YAML line, or empty) on both.
fn client_config(url: &str, file_mode: &str) -> String {
    format!(
        r#"appenders:
  local:
    kind: audit_file
    path: run/audit/audit.log
    policy: {{ max_size: 20 KB, max_backups: 3, compress: gzip }}
    integrity: {{ checkpoint_lines: 50 }}
    {file_mode}
  central:
    kind: event_server
    url: {url}
    auth_key: k-node-1
    spool_dir: run/audit/spool
    linger: 5ms
    flush_timeout: 30s
    {file_mode}
root: {{ level: warn, appenders: [] }}
loggers:
  dku.audit:
    level: info
    appenders: [local, central]
    additive: false
"#
    )
}

fn run_demo(dir: &Path, config: &str, events: u32) {
    let path = dir.join("client.yaml");
    fs::write(&path, config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_log4rs-audit"))
        .args([
            "demo",
            "--threads",
            "2",
            "--events",
            &events.to_string(),
            "--config",
        ])
        .arg(&path)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "demo: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits (bounded) until the server stored `n` events.
fn wait_stored(server: &ServerProcess, n: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while server.events_stored("k-stats") < n {
        assert!(
            std::time::Instant::now() < deadline,
            "server stored fewer than {n} events"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn server_with_integrity(extra: &str) -> String {
    server::config(extra).replace(
        "    partitioning_period: HOUR\n",
        "    partitioning_period: HOUR\n    integrity: { checkpoint_lines: 50 }\n",
    )
}

#[test]
fn client_and_server_create_owner_and_group_only_files_under_a_permissive_umask() {
    permissive_umask();
    let sdir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(sdir.path(), &server_with_integrity(""));
    let cdir = tempfile::tempdir().unwrap();
    run_demo(cdir.path(), &client_config(&server.url, ""), 600);
    wait_stored(&server, 600);

    let names = assert_modes(
        &cdir.path().join("run"),
        0o640,
        0o750,
        &[
            "audit.log",
            "audit.log.digest",
            ".audit.log.lock",
            "audit.log.1.gz",
            "audit.log.1.digest",
            "spool",
            "node-id",
            "ack",
            "lock",
        ],
    );
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");

    for tree in ["events", "authfail"] {
        assert_modes(
            &sdir.path().join(tree),
            0o640,
            0o750,
            &["events.log", ".audit-layout"],
        );
    }
    assert_modes(
        &sdir.path().join("events"),
        0o640,
        0o750,
        &["events.log.digest"],
    );
    assert_modes(
        &sdir.path().join("events/.event-server"),
        0o640,
        0o750,
        &["journal"],
    );
}

#[test]
fn a_configured_mode_is_applied_exactly_and_existing_files_keep_theirs() {
    permissive_umask();
    let sdir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(sdir.path(), &server::config("file_mode: '0600'\n"));
    let cdir = tempfile::tempdir().unwrap();
    // The operator's own file, made readable on purpose, with a line already in it.
    let audit = cdir.path().join("run/audit");
    fs::create_dir_all(&audit).unwrap();
    fs::set_permissions(cdir.path().join("run"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&audit, fs::Permissions::from_mode(0o755)).unwrap();
    let old = "{\"severity\":\"INFO\",\"logger\":\"dku.audit.generic\",\"message\":{\"msgType\":\"old\"}}\n";
    fs::write(audit.join("audit.log"), old).unwrap();
    fs::set_permissions(audit.join("audit.log"), fs::Permissions::from_mode(0o644)).unwrap();

    let config = client_config(&server.url, "file_mode: '0600'")
        // No roll: the existing file stays the current one.
        .replace("max_size: 20 KB", "max_size: 100 MB");
    run_demo(cdir.path(), &config, 200);
    wait_stored(&server, 200);

    // Existing: kept, and what belongs to it (sidecar, lock) takes its mode.
    for name in ["audit.log", "audit.log.digest", ".audit.log.lock"] {
        assert_eq!(mode(&audit.join(name)), 0o644, "{name}");
    }
    assert_eq!(mode(&audit), 0o755);
    assert!(fs::read_to_string(audit.join("audit.log"))
        .unwrap()
        .starts_with(old));
    // New: exactly the configured mode, past the umask.
    assert_modes(
        &audit.join("spool"),
        0o600,
        0o700,
        &["node-id", "ack", "lock"],
    );
    for tree in ["events", "authfail"] {
        assert_modes(
            &sdir.path().join(tree),
            0o600,
            0o700,
            &["events.log", ".audit-layout"],
        );
    }

    // A roll then creates the next file with the configured mode; the rolled one keeps its own.
    // (Backups enough that the operator's file is not pruned.)
    let rolling = client_config(&server.url, "file_mode: '0600'")
        .replace("max_backups: 3", "max_backups: 50");
    run_demo(cdir.path(), &rolling, 600);
    assert_eq!(mode(&audit.join("audit.log")), 0o600);
    let rolled: Vec<u32> = fs::read_dir(&audit)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".gz"))
        .map(|p| mode(&p))
        .collect();
    assert!(
        rolled.contains(&0o644),
        "the operator's file, rolled and compressed: {rolled:?}"
    );
    assert!(
        rolled.iter().all(|m| *m == 0o644 || *m == 0o600),
        "{rolled:?}"
    );
}

#[test]
fn bad_modes_are_refused_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    for (value, why) in [
        ("640", "quoted octal string"),
        ("'0777'", "only read and write bits"),
        ("'0606'", "writable by every local user"),
        ("'0440'", "owner needs read and write"),
        ("'rw-r-----'", "not an octal mode"),
    ] {
        let client = client_config("http://127.0.0.1:9", &format!("file_mode: {value}"));
        let path = dir.path().join("client.yaml");
        fs::write(&path, &client).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_log4rs-audit"))
            .arg("check-config")
            .arg(&path)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{value}: accepted\n{text}");
        assert!(
            text.contains("file_mode") && text.contains(why),
            "{value}: {text}"
        );

        let server_yaml = dir.path().join("server.yaml");
        fs::write(
            &server_yaml,
            server::config(&format!("file_mode: {value}\n")),
        )
        .unwrap();
        for check in [true, false] {
            let err = server::refused_config(dir.path(), &server_yaml, check);
            assert!(
                err.contains("file_mode") && err.contains(why),
                "{value}: {err}"
            );
        }
    }
}
