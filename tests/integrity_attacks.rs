//! The attacks on a local trail that `verify` catches without an off-host anchor (issue 15),
//! one test each, on real files written by real writer processes (size rolls, `kill -9`,
//! restarts) and checked by the real `log4rs-audit verify`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use log4rs_audit::append::roll::{Compression, RollPolicy, RollingFile};
use log4rs_audit::integrity::checkpoint::{line_digest, Record};
use log4rs_audit::integrity::{IntegrityConfig, IntegrityOptions};

const CHILD_ENV: &str = "LOG4RS_AUDIT_ATTACK_CHILD";
const BIN: &str = env!("CARGO_BIN_EXE_log4rs-audit");

/// How a writer process is run: `<dir>|<first>|<count>|<max_backups>|<key>|<previous key>|<hang>`.
#[derive(Clone)]
struct Writer {
    first: u64,
    count: u64,
    max_backups: u32,
    key: &'static str,
    previous: &'static str,
    /// Stay alive after writing (to be killed with SIGKILL).
    hang: bool,
}

impl Writer {
    fn lines(first: u64, count: u64) -> Writer {
        Writer {
            first,
            count,
            max_backups: 50,
            key: "keys/audit.key",
            previous: "",
            hang: false,
        }
    }
}

/// The child: writes numbered lines to `<dir>/logs/audit.log` through a real rolling file with
/// integrity (size rolls of 2 KB, a checkpoint every 10 lines), then closes it or hangs.
#[test]
fn attack_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let parts: Vec<&str> = spec.split('|').collect();
    let dir = Path::new(parts[0]);
    let (first, count): (u64, u64) = (parts[1].parse().unwrap(), parts[2].parse().unwrap());
    let max_backups: u32 = parts[3].parse().unwrap();
    let mut yaml = format!(
        "{{ signing_key: {{ file: '{}' }}, checkpoint_lines: 10, checkpoint_seconds: 3600",
        dir.join(parts[4]).display()
    );
    if !parts[5].is_empty() {
        yaml += &format!(
            ", previous_signing_key: {{ file: '{}' }}",
            dir.join(parts[5]).display()
        );
    }
    yaml += " }";
    let config: IntegrityConfig = serde_yaml::from_str(&yaml).unwrap();
    let options = config.build(false).unwrap();
    let policy = RollPolicy {
        max_size: Some(2048),
        max_backups,
        compress: Compression::None,
        ..RollPolicy::never()
    };
    let mut f =
        RollingFile::open_with_integrity(&dir.join("logs/audit.log"), policy, Some(options))
            .unwrap();
    for seq in first..first + count {
        let line = format!(
            "{{\"msgType\":\"numbered\",\"seq\":{seq},\"pad\":\"{}\"}}\n",
            "p".repeat(40)
        );
        f.write_lines(line.as_bytes(), SystemTime::now()).unwrap();
    }
    if parts[6] == "hang" {
        println!("ready");
        std::io::stdout().flush().unwrap();
        std::thread::sleep(Duration::from_secs(600));
    }
    drop(f);
}

/// Runs a writer to its end; returns its stderr.
fn run(dir: &Path, w: &Writer) -> String {
    let out = child(dir, w).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn child(dir: &Path, w: &Writer) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "attack_child", "--nocapture", "--test-threads=1"])
        .env(
            CHILD_ENV,
            format!(
                "{}|{}|{}|{}|{}|{}|{}",
                dir.display(),
                w.first,
                w.count,
                w.max_backups,
                w.key,
                w.previous,
                if w.hang { "hang" } else { "" }
            ),
        );
    cmd
}

fn keygen(dir: &Path, sub: &str) {
    let out = Command::new(BIN)
        .args(["keygen", "--out"])
        .arg(dir.join(sub))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// A fresh folder with a key pair in `keys/` and a trail of `count` lines (several rolls).
fn trail(count: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    keygen(dir.path(), "keys");
    run(dir.path(), &Writer::lines(0, count));
    dir
}

struct Verified {
    code: i32,
    text: String,
}

fn verify(dir: &Path, args: &[&str]) -> Verified {
    let out = Command::new(BIN)
        .arg("verify")
        .arg(dir.join("logs/audit.log"))
        .args(args)
        .output()
        .unwrap();
    Verified {
        code: out.status.code().unwrap_or(-1),
        text: String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr),
    }
}

fn verify_key(dir: &Path, extra: &[&str]) -> Verified {
    let key = dir.join("keys/audit.pub").display().to_string();
    let mut args = vec!["--public-key", key.as_str()];
    args.extend_from_slice(extra);
    let key = key.clone();
    let _ = key;
    verify(dir, &args)
}

fn assert_fails(v: &Verified, expected: &[&str]) {
    assert_eq!(v.code, 1, "verify did not fail:\n{}", v.text);
    for e in expected {
        assert!(v.text.contains(e), "`{e}` not in:\n{}", v.text);
    }
}

fn assert_ok(v: &Verified) {
    assert_eq!(v.code, 0, "{}", v.text);
}

fn logs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

fn remove_trail_files(dir: &Path) {
    // As `rm logs/audit.log*` does: the writer's hidden state file stays.
    for p in logs(dir) {
        if !p.file_name().unwrap().to_string_lossy().starts_with('.') {
            std::fs::remove_file(p).unwrap();
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Row 1: every file deleted: nothing verified is a failure, not `OK: 0 files`.
#[test]
fn deleting_every_file_fails_as_nothing_verified() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let t = trail(120);
    assert_ok(&verify_key(t.path(), &[]));
    remove_trail_files(t.path());
    let v = verify_key(t.path(), &[]);
    assert_fails(&v, &["nothing was verified", "the writer's state"]);
    // The state file gone too (`rm -rf logs/`, then an empty folder): still a failure.
    std::fs::remove_dir_all(t.path().join("logs")).unwrap();
    std::fs::create_dir_all(t.path().join("logs")).unwrap();
    let v = verify_key(t.path(), &[]);
    assert_fails(&v, &["nothing was verified"]);
    let out = Command::new(BIN)
        .arg("verify")
        .arg(t.path().join("logs"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

/// Row 2: deleting the trail and restarting the app, replacing the trail with another one
/// signed by the same key, or rolling it back to an older copy: each is flagged.
#[test]
fn a_replaced_restarted_or_rolled_back_trail_is_flagged() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    // Deleted, then the app restarted: the new trail names its predecessor, which is gone.
    let t = trail(120);
    remove_trail_files(t.path());
    let stderr = run(t.path(), &Writer::lines(500, 15));
    assert!(
        stderr.contains("a new trail starts, naming the previous one"),
        "{stderr}"
    );
    let v = verify_key(t.path(), &[]);
    assert_fails(
        &v,
        &["whose files are not here and no prune record covers them: deleted"],
    );

    // Replaced by another trail signed by the same key (written elsewhere, copied over).
    let t = trail(120);
    let other = tempfile::tempdir().unwrap();
    copy_dir(&t.path().join("keys"), &other.path().join("keys"));
    run(other.path(), &Writer::lines(9000, 130));
    remove_trail_files(t.path());
    for p in logs(other.path()) {
        let name = p.file_name().unwrap().to_owned();
        if !name.to_string_lossy().starts_with('.') {
            std::fs::copy(&p, t.path().join("logs").join(name)).unwrap();
        }
    }
    let v = verify_key(t.path(), &["--moved"]);
    assert_fails(&v, &["the trail was replaced"]);

    // Rolled back: a copy taken earlier put back after more lines were written.
    let t = trail(120);
    let snapshot = tempfile::tempdir().unwrap();
    copy_dir(&t.path().join("logs"), snapshot.path());
    run(t.path(), &Writer::lines(120, 30));
    remove_trail_files(t.path());
    for e in std::fs::read_dir(snapshot.path()).unwrap() {
        let e = e.unwrap();
        if !e.file_name().to_string_lossy().starts_with('.') {
            std::fs::copy(e.path(), t.path().join("logs").join(e.file_name())).unwrap();
        }
    }
    let v = verify_key(t.path(), &[]);
    assert_fails(&v, &["rolled back to an older copy"]);

    // A new trail that claims no predecessor while another trail of the file is here.
    let t = trail(120);
    std::fs::remove_file(t.path().join("logs/.audit.log.trail")).unwrap();
    std::fs::remove_file(t.path().join("logs/audit.log.digest")).unwrap();
    std::fs::write(t.path().join("logs/audit.log"), "").unwrap();
    run(t.path(), &Writer::lines(700, 5));
    let v = verify_key(t.path(), &[]);
    assert_fails(&v, &["is not in the history of the current trail"]);

    // Untouched restarts verify: a trail of three writer runs.
    let t = trail(120);
    run(t.path(), &Writer::lines(120, 40));
    assert_ok(&verify_key(t.path(), &["--strict"]));
}

/// Row 4: lines edited after the last checkpoint, then `kill -9` and a restart: the resume
/// record says which lines it sealed unwitnessed, the writer says so, `--strict` fails.
#[test]
fn lines_edited_before_a_kill_9_are_reported_unwitnessed() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    keygen(dir.path(), "keys");
    let w = Writer {
        max_backups: 50,
        hang: true,
        ..Writer::lines(0, 25)
    };
    let mut c = child(dir.path(), &w)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(c.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("ready") {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "the writer ended");
    }
    // Lines 21-25 are not sealed yet (checkpoints every 10 lines): edit one, then kill.
    let log = dir.path().join("logs/audit.log");
    let text = std::fs::read_to_string(&log).unwrap();
    let lines = text.lines().count();
    let edited = text.replacen("\"seq\":23,", "\"seq\":23,\"admin\":true,", 1);
    assert_ne!(edited, text);
    std::fs::write(&log, edited).unwrap();
    c.kill().unwrap();
    c.wait().unwrap();
    let stderr = run(dir.path(), &Writer::lines(25, 0));
    let unsealed = (lines - lines % 10 + 1, lines);
    let want = format!(
        "lines {}-{} were written after the last record",
        unsealed.0, unsealed.1
    );
    assert!(
        stderr.contains(&want) && stderr.contains("unwitnessed"),
        "{stderr}"
    );
    let sidecar = std::fs::read_to_string(dir.path().join("logs/audit.log.digest")).unwrap();
    let want = format!("\"unwitnessed\":[{},{}]", unsealed.0, unsealed.1);
    assert!(sidecar.contains(&want), "{sidecar}");
    let v = verify_key(dir.path(), &[]);
    assert_ok(&v);
    assert!(v.text.contains("unwitnessed"), "{}", v.text);
    let v = verify_key(dir.path(), &["--strict"]);
    assert_fails(&v, &["unwitnessed", "(--strict)"]);
}

/// Row 5: lines appended after the last checkpoint are not "ok" under `--strict`; the
/// defaults are lower.
#[test]
fn forged_lines_after_the_last_checkpoint_fail_under_strict() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let t = trail(120);
    let log = t.path().join("logs/audit.log");
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    f.write_all(b"{\"msgType\":\"numbered\",\"seq\":999,\"forged\":true}\n")
        .unwrap();
    drop(f);
    let v = verify_key(t.path(), &[]);
    assert_ok(&v);
    assert!(v.text.contains("not yet sealed"), "{}", v.text);
    let v = verify_key(t.path(), &["--strict"]);
    assert_fails(&v, &["not yet sealed", "(--strict)"]);
    let v = verify_key(t.path(), &["--strict", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(v.text.lines().next().unwrap()).unwrap();
    assert_eq!(json["ok"], false, "{json}");
    assert_eq!(json["failures"][0]["kind"], "not yet sealed", "{json}");
    let defaults = IntegrityConfig::default().build(false).unwrap();
    assert_eq!(
        (defaults.checkpoint_lines, defaults.checkpoint_every),
        (100, Duration::from_secs(5))
    );
}

/// Row 6: an unknown field, or a space after `sig`, in the last record is refused.
#[test]
fn an_unknown_field_or_a_space_in_a_record_fails() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let t = trail(40);
    let sidecar = t.path().join("logs/audit.log.digest");
    let text = std::fs::read_to_string(&sidecar).unwrap();
    let last = text.lines().last().unwrap().to_owned();
    for forged in [
        last.replacen("{\"v\":2,", "{\"v\":2,\"approved\":true,", 1),
        last.replacen("\"sig\":\"", "\"sig\": \"", 1),
        last.replacen("\"sig\":", "\"sig\" :", 1),
    ] {
        assert_ne!(forged, last);
        std::fs::write(&sidecar, text.replace(&last, &forged)).unwrap();
        let v = verify_key(t.path(), &[]);
        assert_fails(&v, &["audit.log.digest: line "]);
    }
}

/// Row 7: files deleted by `max_backups` are covered by signed prune records; a file
/// deleted by hand is not.
#[test]
fn max_backups_deletions_are_told_from_tampering() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    keygen(dir.path(), "keys");
    let w = Writer {
        max_backups: 2,
        ..Writer::lines(0, 200)
    };
    run(dir.path(), &w);
    let names: Vec<String> = logs(dir.path())
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n == "audit.log.3"), "{names:?}");
    let all: String = logs(dir.path())
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".digest"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    assert!(all.contains("\"kind\":\"prune\""), "{all}");
    let v = verify_key(dir.path(), &["--strict"]);
    assert_ok(&v);
    assert!(
        v.text.contains("deleted by the retention policy"),
        "{}",
        v.text
    );
    // The oldest remaining file deleted by hand (with its sidecar): no prune covers it.
    std::fs::remove_file(dir.path().join("logs/audit.log.2")).unwrap();
    std::fs::remove_file(dir.path().join("logs/audit.log.2.digest")).unwrap();
    let v = verify_key(dir.path(), &[]);
    assert_fails(
        &v,
        &["no prune record covers them: older files were deleted"],
    );
}

/// Row 8: a key rotation with a rekey record verifies (given both keys); records re-signed
/// with another key without one fail, even given that key.
#[test]
fn a_key_change_needs_a_rekey_record() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let t = trail(120);
    keygen(t.path(), "keys2");
    let rotated = Writer {
        key: "keys2/audit.key",
        previous: "keys/audit.key",
        ..Writer::lines(120, 40)
    };
    let stderr = run(t.path(), &rotated);
    assert!(stderr.contains("key rotated"), "{stderr}");
    let old = t.path().join("keys/audit.pub").display().to_string();
    let new = t.path().join("keys2/audit.pub").display().to_string();
    let both = ["--public-key", old.as_str(), "--public-key", new.as_str()];
    assert_ok(&verify(t.path(), &both));
    let v = verify(t.path(), &["--public-key", old.as_str()]);
    assert_fails(&v, &["is signed by another key"]);

    // The current file's records re-signed with the second key, no rekey record.
    let t = trail(120);
    keygen(t.path(), "keys2");
    let forger = log4rs_audit::integrity::load_signing_key(&log4rs_audit::secret::Secret::File {
        file: t.path().join("keys2/audit.key"),
    })
    .unwrap();
    let sidecar = t.path().join("logs/audit.log.digest");
    let mut out = String::new();
    let mut prev: Option<String> = None;
    for line in std::fs::read_to_string(&sidecar).unwrap().lines() {
        let mut r = Record::parse(line).unwrap();
        if let Some(p) = &prev {
            r.prev = line_digest(p);
        }
        let sealed = r.seal_line(Some(&forger));
        out += &sealed;
        out.push('\n');
        prev = Some(sealed);
    }
    std::fs::write(&sidecar, out).unwrap();
    let new = t.path().join("keys2/audit.pub").display().to_string();
    let both = ["--public-key", old.as_str(), "--public-key", new.as_str()];
    let v = verify(t.path(), &both);
    let _ = old;
    assert_fails(&v, &["without a rekey record"]);
}

/// Row 9: a signed trail checked without `--public-key` fails unless `--allow-unsigned`.
#[test]
fn a_signed_trail_without_a_public_key_fails_unless_allowed() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let t = trail(40);
    let v = verify(t.path(), &[]);
    assert_fails(
        &v,
        &["the records are signed but no --public-key was given"],
    );
    let v = verify(t.path(), &["--allow-unsigned"]);
    assert_ok(&v);
    assert!(v.text.contains("signatures NOT checked"), "{}", v.text);
}

/// Row 10: a key file group or others may read, and inline key material, are refused.
#[test]
fn exposed_and_inline_signing_keys_are_refused() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    keygen(dir.path(), "keys");
    let key = dir.path().join("keys/audit.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let yaml = format!("{{ signing_key: {{ file: '{}' }} }}", key.display());
    let config: IntegrityConfig = serde_yaml::from_str(&yaml).unwrap();
    let e = config.build(false).unwrap_err().to_string();
    assert!(
        e.contains(&key.display().to_string())
            && e.contains("mode 0644")
            && e.contains("chmod 600"),
        "{e}"
    );
    let inline = std::fs::read_to_string(&key).unwrap();
    let config: IntegrityConfig =
        serde_yaml::from_str(&format!("{{ signing_key: '{}' }}", inline.trim())).unwrap();
    let e = config.build(false).unwrap_err().to_string();
    assert!(
        e.contains("inline key material in the config is refused"),
        "{e}"
    );
    // Through a whole audit config, too.
    let yaml = format!(
        "appenders:\n  a:\n    kind: audit_file\n    path: '{}/a.log'\n    integrity: {{ signing_key: '{}' }}\nroot: {{ level: info, appenders: [a] }}\n",
        dir.path().display(),
        inline.trim()
    );
    let e = match log4rs_audit::AuditConfig::from_yaml(&yaml, None)
        .map_err(|e| e.to_string())
        .and_then(|c| {
            log4rs_audit::AuditLogger::new(c)
                .map(drop)
                .map_err(|e| e.to_string())
        }) {
        Ok(()) => panic!("an inline key was accepted"),
        Err(e) => e,
    };
    assert!(e.contains("inline key material"), "{e}");
}

/// Trails written before origins and trail links (format 1) still verify, and say so.
#[test]
fn format_1_trails_still_verify() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("logs/audit.log");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let lines = b"a\nb\n";
    std::fs::write(&log, lines).unwrap();
    let mut chain =
        log4rs_audit::integrity::chain::Chain::starting_at(log4rs_audit::integrity::chain::GENESIS);
    let mut out = String::new();
    let mut start = Record {
        v: 1,
        kind: log4rs_audit::integrity::checkpoint::Kind::Start,
        trail: [5; 16],
        n: 0,
        boot: 0,
        origin: String::new(),
        file: "audit.log".into(),
        lines: 0,
        bytes: 0,
        head: chain.head,
        time: "2026-01-01T00:00:00.000Z".into(),
        prev: [0; 32],
        key: None,
        tags: Vec::new(),
        extra: log4rs_audit::integrity::checkpoint::Extra::None,
        sig: None,
    };
    let first = start.seal_line(None);
    chain.absorb(lines);
    let mut close = Record {
        kind: log4rs_audit::integrity::checkpoint::Kind::Close,
        n: 1,
        lines: 2,
        bytes: 4,
        head: chain.head,
        prev: line_digest(&first),
        tags: chain.take_tags(),
        ..start.clone()
    };
    out += &first;
    out += "\n";
    out += &close.seal_line(None);
    out += "\n";
    std::fs::write(dir.path().join("logs/audit.log.digest"), out).unwrap();
    let v = verify(dir.path(), &["--allow-unsigned"]);
    assert_ok(&v);
    assert!(v.text.contains("format 1"), "{}", v.text);
    let _ = Arc::new(IntegrityOptions::default());
}
