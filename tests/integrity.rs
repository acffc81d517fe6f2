//! Tamper evidence end to end: trails written through the logger by real processes (size rolls,
//! gzip, a restart), tampered with on disk, and checked by the real `log4rs-audit verify`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use log4rs_audit::integrity::chain::{self, GENESIS};
use log4rs_audit::integrity::checkpoint::{line_digest, Kind, Record};
use log4rs_audit::{audit, lifecycle, AuditConfig};

#[path = "support/lifecycle_lines.rs"]
mod lifecycle_lines;
use lifecycle_lines::{lifecycle_types, without_lifecycle};

const CHILD_ENV: &str = "LOG4RS_AUDIT_INTEGRITY_CHILD";
const BIN: &str = env!("CARGO_BIN_EXE_log4rs-audit");

/// The child: logs `<count>` numbered events into `<dir>/logs/audit.log` with integrity, then
/// closes the appender (as a process shutting down does).
#[test]
fn integrity_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (dir, rest) = spec.split_once('|').unwrap();
    let (from, count) = rest.split_once('|').unwrap();
    let (from, count): (u64, u64) = (from.parse().unwrap(), count.parse().unwrap());
    let yaml = format!(
        "appenders:\n  audit:\n    kind: audit_file\n    path: '{dir}/logs/audit.log'\n    \
         policy: {{ max_size: 24 KB, max_backups: 10, compress: gzip }}\n    \
         integrity: {{ signing_key: {{ file: '{dir}/keys/audit.key' }}, checkpoint_lines: 40, checkpoint_seconds: 60 }}\n\
         loggers:\n  dku.audit: {{ level: info, appenders: [audit], additive: false }}\n"
    );
    let handle = log4rs_audit::init_config(AuditConfig::from_yaml(&yaml, None).unwrap()).unwrap();
    for seq in from..from + count {
        audit!(
            generic,
            "numbered",
            seq = seq,
            pad = "p".repeat((seq % 97) as usize)
        );
    }
    // Replacing the config drops the appender: compression finishes, the last lines are sealed.
    handle
        .set_config(AuditConfig::from_yaml("root: { level: off }", None).unwrap())
        .unwrap();
}

fn run_child(dir: &Path, from: u64, count: u64) {
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "integrity_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, format!("{}|{from}|{count}", dir.display()))
        .status()
        .unwrap();
    assert!(status.success());
}

/// A trail of ~1100 lines over several rolled, gzipped files, written by two processes.
fn write_trail() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["keygen", "--out"])
        .arg(dir.path().join("keys"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    run_child(dir.path(), 0, 600);
    run_child(dir.path(), 600, 500); // a restart: the chain resumes
    dir
}

struct Verified {
    ok: bool,
    text: String,
}

/// `verify` of the trail under `dir` (copies: `--moved`, their origins name another folder).
fn verify(dir: &Path, key: Option<&Path>) -> Verified {
    let mut args = vec!["--moved".to_owned()];
    match key {
        Some(key) => args.extend(["--public-key".to_owned(), key.display().to_string()]),
        None => args.push("--allow-unsigned".to_owned()),
    }
    verify_args(dir, &args)
}

fn verify_args(dir: &Path, args: &[String]) -> Verified {
    let mut cmd = Command::new(BIN);
    cmd.arg("verify").arg(dir.join("logs/audit.log")).args(args);
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.code().is_some_and(|c| c < 2), "{out:?}");
    Verified {
        ok: out.status.success(),
        text,
    }
}

fn public(dir: &Path) -> PathBuf {
    dir.join("keys/audit.pub")
}

/// A copy of the trail to tamper with.
fn copy_trail(src: &Path) -> tempfile::TempDir {
    let dst = tempfile::tempdir().unwrap();
    for sub in ["logs", "keys"] {
        std::fs::create_dir_all(dst.path().join(sub)).unwrap();
        for e in std::fs::read_dir(src.join(sub)).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), dst.path().join(sub).join(e.file_name())).unwrap();
        }
    }
    dst
}

fn read_lines(path: &Path) -> Vec<Vec<u8>> {
    let raw = std::fs::read(path).unwrap();
    let data = if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        raw
    };
    data.split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

fn write_lines(path: &Path, lines: &[Vec<u8>]) {
    let data = lines.concat();
    if path.extension().is_some_and(|e| e == "gz") {
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(path).unwrap(),
            flate2::Compression::default(),
        );
        enc.write_all(&data).unwrap();
        enc.finish().unwrap();
    } else {
        std::fs::write(path, data).unwrap();
    }
}

/// The rolled file `audit.log.<i>`, gzipped or not.
fn rolled(dir: &Path, i: u32) -> PathBuf {
    let plain = dir.join(format!("logs/audit.log.{i}"));
    let gz = dir.join(format!("logs/audit.log.{i}.gz"));
    if gz.exists() {
        gz
    } else {
        plain
    }
}

fn assert_fails(v: &Verified, expected: &[&str]) {
    assert!(!v.ok, "verify passed:\n{}", v.text);
    for e in expected {
        assert!(v.text.contains(e), "`{e}` not in:\n{}", v.text);
    }
}

#[test]
fn untouched_trail_with_rolls_and_a_restart_verifies() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let trail = write_trail();
    let dir = trail.path();
    let names: Vec<String> = std::fs::read_dir(dir.join("logs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.iter().any(|n| n == "audit.log.3.gz"), "{names:?}");
    assert!(names.iter().any(|n| n == "audit.log.3.digest"), "{names:?}");
    let v = verify(dir, Some(&public(dir)));
    assert!(v.ok, "{}", v.text);
    assert!(v.text.contains("signatures checked"), "{}", v.text);
    assert!(!v.text.contains("not yet sealed"), "{}", v.text);
    // Every line of every file is there once, in order.
    let mut seqs = Vec::new();
    for i in (1..=10).rev() {
        let p = rolled(dir, i);
        if p.exists() {
            seqs.extend(read_lines(&p));
        }
    }
    seqs.extend(read_lines(&dir.join("logs/audit.log")));
    let text: Vec<String> = seqs
        .iter()
        .map(|l| String::from_utf8(l.clone()).unwrap().trim_end().to_owned())
        .collect();
    // The logger's own events are in the chain too: each process starts the trail, and its
    // reload to no target is written to the target it removes.
    assert_eq!(
        lifecycle_types(&text),
        [
            lifecycle::START,
            lifecycle::CONFIG_CHANGE,
            lifecycle::START,
            lifecycle::CONFIG_CHANGE
        ]
    );
    let numbered: Vec<u64> = without_lifecycle(&text)
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["message"]["msgType"], "numbered", "{l}");
            v["message"]["seq"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(numbered, (0..1100).collect::<Vec<_>>());
    // The restart wrote a `resume` record.
    let all: String = std::fs::read_dir(dir.join("logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".digest"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    assert!(all.contains("\"kind\":\"resume\""));
    // Without the key: the chain only, and it says so.
    let v = verify(dir, None);
    assert!(
        v.ok && v.text.contains("signatures NOT checked"),
        "{}",
        v.text
    );

    // Lines after the last checkpoint are reported as not yet sealed, not as verified.
    let t = copy_trail(dir);
    let current = t.path().join("logs/audit.log");
    let mut lines = read_lines(&current);
    lines.push(read_lines(&rolled(t.path(), 1))[0].clone());
    write_lines(&current, &lines);
    let v = verify(t.path(), Some(&public(t.path())));
    assert!(v.ok, "{}", v.text);
    let n = lines.len();
    assert!(
        v.text
            .contains(&format!("logs/audit.log: lines {n}-{n} not yet sealed")),
        "{}",
        v.text
    );

    tampering(dir);
}

fn tampering(dir: &Path) {
    let edit = |i: u32, f: &dyn Fn(&mut Vec<Vec<u8>>)| {
        let t = copy_trail(dir);
        let p = rolled(t.path(), i);
        let mut lines = read_lines(&p);
        f(&mut lines);
        write_lines(&p, &lines);
        let v = verify(t.path(), Some(&public(t.path())));
        (v, p.file_name().unwrap().to_string_lossy().into_owned())
    };
    // A modified byte.
    let (v, name) = edit(2, &|l| {
        let at = l[10].iter().position(|&b| b == b'p').unwrap();
        l[10][at] = b'q';
    });
    assert_fails(
        &v,
        &[&format!("{name} line 11: modified"), "proved by record #"],
    );
    // A deleted line.
    let (v, name) = edit(2, &|l| {
        l.remove(20);
    });
    assert_fails(&v, &[&format!("{name} line 21: deleted")]);
    // An inserted line.
    let (v, name) = edit(3, &|l| {
        let copy = l[5].clone();
        l.insert(7, copy);
    });
    assert_fails(&v, &[&format!("{name} line 8: inserted")]);
    // Two lines swapped.
    let (v, name) = edit(1, &|l| l.swap(30, 31));
    assert_fails(
        &v,
        &[&format!(
            "{name} line 31: reordered: lines 31 and 32 were swapped"
        )],
    );
    // A truncated file.
    let (v, name) = edit(2, &|l| l.truncate(50));
    assert_fails(&v, &[&format!("{name} line 51: truncated")]);

    // A whole rolled file deleted.
    let t = copy_trail(dir);
    std::fs::remove_file(rolled(t.path(), 2)).unwrap();
    let v = verify(t.path(), Some(&public(t.path())));
    assert_fails(
        &v,
        &["audit.log.2: missing", "are missing: a file was deleted"],
    );
    // Deleted with its sidecar: the chain still shows the gap.
    let t = copy_trail(dir);
    std::fs::remove_file(rolled(t.path(), 2)).unwrap();
    std::fs::remove_file(t.path().join("logs/audit.log.2.digest")).unwrap();
    let v = verify(t.path(), Some(&public(t.path())));
    assert_fails(
        &v,
        &[
            "records #",
            "are missing: a file was deleted or renamed away",
        ],
    );

    // A rolled file renamed.
    let t = copy_trail(dir);
    let from = rolled(t.path(), 2);
    let to = PathBuf::from(
        from.to_string_lossy()
            .replace("audit.log.2", "audit.log.77"),
    );
    std::fs::rename(&from, &to).unwrap();
    let v = verify(t.path(), Some(&public(t.path())));
    assert_fails(
        &v,
        &["audit.log.77.gz: no digest sidecar", "audit.log.2: missing"],
    );
    // Renamed with its sidecar, swapping places with another file.
    let t = copy_trail(dir);
    let logs = t.path().join("logs");
    for (a, b) in [
        ("audit.log.2.gz", "audit.log.3.gz"),
        ("audit.log.2.digest", "audit.log.3.digest"),
    ] {
        std::fs::rename(logs.join(a), logs.join("tmp")).unwrap();
        std::fs::rename(logs.join(b), logs.join(a)).unwrap();
        std::fs::rename(logs.join("tmp"), logs.join(b)).unwrap();
    }
    let v = verify(t.path(), Some(&public(t.path())));
    assert_fails(&v, &["files were renamed or swapped"]);

    // A forged sidecar: a line changed and every record rebuilt, signed with another key.
    let t = copy_trail(dir);
    let p = rolled(t.path(), 2);
    let mut lines = read_lines(&p);
    lines[3] = lines[3]
        .iter()
        .map(|&b| if b == b'p' { b'P' } else { b })
        .collect();
    write_lines(&p, &lines);
    let sidecar = t.path().join("logs/audit.log.2.digest");
    let forger = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let old = std::fs::read_to_string(&sidecar).unwrap();
    let mut out = String::new();
    let mut prev: Option<String> = None;
    let mut head = GENESIS;
    let mut done = 0usize;
    for (i, line) in old.lines().enumerate() {
        let mut r = Record::parse(line).unwrap();
        if i == 0 {
            head = r.head;
        } else {
            r.prev = line_digest(prev.as_deref().unwrap());
        }
        for l in &lines[done..r.lines as usize] {
            head = chain::link(&head, l);
        }
        done = r.lines as usize;
        r.head = head;
        r.tags = lines[..done]
            .iter()
            .skip(done - r.tags.len() / 4)
            .flat_map(|l| chain::tag(l).to_le_bytes())
            .collect();
        assert!(matches!(
            r.kind,
            Kind::Start | Kind::Checkpoint | Kind::Seal | Kind::Resume | Kind::Close
        ));
        let sealed = r.seal_line(Some(&forger));
        out.push_str(&sealed);
        out.push('\n');
        prev = Some(sealed);
    }
    std::fs::write(&sidecar, out).unwrap();
    let v = verify(t.path(), Some(&public(t.path())));
    assert_fails(
        &v,
        &[
            "audit.log.2.digest line 1 (record #",
            "is signed by another key",
        ],
    );
}

/// A kill -9 during a size roll's shift leaves a log at `.i+1` and its sidecar at `.i` (the
/// roll renames one file at a time): the next start moves the sidecar after its log, and the
/// trail verifies, also after later rolls (issue 11, item 15).
#[test]
fn a_size_roll_killed_between_renames_is_finished_at_the_next_start() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let trail = write_trail();
    let dir = trail.path();
    let logs = dir.join("logs");
    let name = |i: u32, ext: &str| logs.join(format!("audit.log.{i}{ext}"));
    let log_of = |i: u32| rolled(dir, i);
    let top = (1..=10).rev().find(|&i| log_of(i).exists()).unwrap();
    assert!(top >= 3, "too few rolls: {top}");
    // What the roll did before the kill: the oldest backup deleted if the limit was reached,
    // `.top`..`.3` shifted up by one entirely, then `.2`'s log moved; its sidecar did not.
    let mut top = top;
    if top == 10 {
        std::fs::remove_file(log_of(10)).unwrap();
        std::fs::remove_file(name(10, ".digest")).unwrap();
        top = 9;
    }
    let shift = |i: u32, sidecar: bool| {
        let log = log_of(i);
        let gz = if log.extension().is_some_and(|e| e == "gz") {
            ".gz"
        } else {
            ""
        };
        std::fs::rename(&log, name(i + 1, gz)).unwrap();
        if sidecar {
            std::fs::rename(name(i, ".digest"), name(i + 1, ".digest")).unwrap();
        }
    };
    for i in (3..=top).rev() {
        shift(i, true);
    }
    shift(2, false);
    let v = verify(dir, Some(&public(dir)));
    assert!(
        !v.ok,
        "the half-shifted trail must fail before the repair:\n{}",
        v.text
    );

    // The next start repairs it; rolls after it shift consistent pairs.
    run_child(dir, 1100, 300);
    let v = verify(dir, Some(&public(dir)));
    assert!(v.ok, "{}", v.text);
}

const ROLL_KILL_ENV: &str = "LOG4RS_AUDIT_ROLL_KILL_CHILD";

/// The child of the test below: logs numbered events forever into `<dir>/logs/audit.log`, with
/// integrity and tiny size rolls over many backups, so most of its time is spent shifting them.
#[test]
fn roll_kill_child() {
    let Ok(dir) = std::env::var(ROLL_KILL_ENV) else {
        return;
    };
    let yaml = format!(
        "appenders:\n  audit:\n    kind: audit_file\n    path: '{dir}/logs/audit.log'\n    \
         policy: {{ max_size: 2 KB, max_backups: 300, compress: gzip }}\n    \
         integrity: {{ checkpoint_lines: 20 }}\n\
         loggers:\n  dku.audit: {{ level: info, appenders: [audit], additive: false }}\n"
    );
    let _handle = log4rs_audit::init_config(AuditConfig::from_yaml(&yaml, None).unwrap()).unwrap();
    let mut out = std::io::stdout().lock();
    for seq in 0u64.. {
        audit!(generic, "numbered", seq = seq, pad = "p".repeat(100));
        writeln!(out, "logged {seq}").unwrap();
        out.flush().unwrap();
    }
}

/// Real processes killed with SIGKILL while they roll: each restart finishes what the kill
/// left half done, and the trail verifies at the end (issue 11, item 15).
#[test]
fn processes_killed_during_size_rolls_leave_a_trail_that_verifies() {
    if std::env::var(ROLL_KILL_ENV).is_ok() {
        return;
    }
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    for round in 0..8u32 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "roll_kill_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ROLL_KILL_ENV, dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
        let wanted = 300 + 97 * round as usize;
        let (mut logged, mut line) = (0, String::new());
        while logged < wanted {
            line.clear();
            if reader.read_line(&mut line).unwrap() == 0 {
                break;
            }
            if line.contains("logged ") {
                logged += 1;
            }
        }
        // Let it run on a little (a few ms, different each round): it spends most of its time
        // shifting backups, so the SIGKILL most likely lands in the middle of a roll.
        std::thread::sleep(std::time::Duration::from_micros(
            700 + 1300 * u64::from(round),
        ));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(logged >= wanted, "round {round}: the child stopped early");
    }
    // One clean start repairs the last kill's leftovers; then check the whole trail.
    run_child_config_only(dir.path());
    let options = log4rs_audit::integrity::VerifyOptions::default();
    let report =
        log4rs_audit::integrity::verify_paths(&[dir.path().join("logs/audit.log")], &options)
            .unwrap();
    assert!(report.ok(), "{}", report.to_text());
}

/// Opens the roll-kill config once and closes it, as a clean restart and shutdown.
fn run_child_config_only(dir: &Path) {
    let yaml = format!(
        "appenders:\n  audit:\n    kind: audit_file\n    path: '{}/logs/audit.log'\n    \
         policy: {{ max_size: 2 KB, max_backups: 300, compress: gzip }}\n    \
         integrity: {{ checkpoint_lines: 20 }}\n\
         loggers:\n  dku.audit: {{ level: info, appenders: [audit], additive: false }}\n",
        dir.display()
    );
    let (logger, handle) =
        log4rs_audit::AuditLogger::new(AuditConfig::from_yaml(&yaml, None).unwrap()).unwrap();
    drop(logger);
    drop(handle);
}
