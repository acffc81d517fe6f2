//! Anchors off the host (issue 15), end to end: a signed trail written by `log4rs-audit demo`,
//! anchored with `log4rs-audit anchor` to a real Event Server, then each attack a host owner
//! can make with the host's own key, caught by `verify --anchors URL` and by `--anchors DIR`;
//! and the server's rules: duplicates, forks, gaps, pinned keys, auth, restarts and `kill -9`.
#![cfg(feature = "server")]

use crate::support::ServerProcess;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine;
use log4rs_audit::integrity::chain::Chain;
use log4rs_audit::integrity::checkpoint::{line_digest, Record};
use log4rs_audit::secret::Secret;

const BIN: &str = env!("CARGO_BIN_EXE_log4rs-audit");

fn cli(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn write_secret(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn server_config(anchors: bool) -> String {
    let mut s = r#"listen: 127.0.0.1:0
event_keys: [ "k-node-1", "k-node-2" ]
read_keys: [ "k-read" ]
state_dir: state
timezone: utc
destinations:
  - name: disk
    type: filesystem
    root: events
"#
    .to_owned();
    if anchors {
        s += "anchors: { signing_key: { file: skeys/audit.key } }\n";
    }
    s
}

/// A folder with the host's key pair (`keys/`), the server's anchor key pair (`skeys/`), the
/// event and read keys in files, a trail in `logs/` written by the demo (several size rolls,
/// signed checkpoints), and a server with anchors running there.
fn setup() -> (tempfile::TempDir, ServerProcess) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for sub in ["keys", "skeys", "keys2"] {
        let (code, text) = cli(d, &["keygen", "--out", sub]);
        assert_eq!(code, 0, "{text}");
    }
    write_secret(&d.join("event.key"), "k-node-1\n");
    write_secret(&d.join("read.key"), "k-read\n");
    std::fs::write(
        d.join("audit.yaml"),
        "appenders:\n  audit:\n    kind: audit_file\n    path: logs/audit.log\n    \
         policy: { max_size: 24 KB, max_backups: 20 }\n    \
         integrity: { signing_key: { file: keys/audit.key }, checkpoint_lines: 20, checkpoint_seconds: 60 }\n\
         loggers:\n  dku.audit: { level: info, appenders: [audit], additive: false }\n",
    )
    .unwrap();
    demo(d);
    let server = ServerProcess::start(d, &server_config(true));
    (dir, server)
}

fn demo(d: &Path) {
    let (code, text) = cli(
        d,
        &[
            "demo",
            "--config",
            "audit.yaml",
            "--events",
            "600",
            "--threads",
            "2",
        ],
    );
    assert_eq!(code, 0, "{text}");
}

fn anchor(d: &Path, server: &ServerProcess) -> String {
    let (code, text) = cli(
        d,
        &[
            "anchor",
            "logs/audit.log",
            "--server",
            &server.url,
            "--key-file",
            "event.key",
            "--public-key",
            "keys/audit.pub",
        ],
    );
    assert_eq!(code, 0, "{text}");
    text
}

/// `verify logs/audit.log` with the host's (or `key`) public key, against the server's
/// ledger by URL and against a copy of its folder: both answers.
fn verify_both(d: &Path, server: &ServerProcess, key: &str, extra: &[&str]) -> [(i32, String); 2] {
    let copy = d.join("ledger-copy");
    let _ = std::fs::remove_dir_all(&copy);
    copy_tree(&d.join("state/anchors"), &copy);
    let base = ["verify", "logs/audit.log", "--public-key", key];
    let mut by_url: Vec<&str> = base.to_vec();
    by_url.extend([
        "--anchors",
        &server.url,
        "--read-key-file",
        "read.key",
        "--anchors-key",
        "skeys/audit.pub",
    ]);
    by_url.extend_from_slice(extra);
    let mut by_dir: Vec<&str> = base.to_vec();
    by_dir.extend([
        "--anchors",
        "ledger-copy",
        "--anchors-key",
        "skeys/audit.pub",
    ]);
    by_dir.extend_from_slice(extra);
    [cli(d, &by_url), cli(d, &by_dir)]
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

fn assert_caught(results: &[(i32, String); 2], expected: &[&str]) {
    for (code, text) in results {
        assert_eq!(*code, 1, "verify did not fail:\n{text}");
        for e in expected {
            assert!(text.contains(e), "`{e}` not in:\n{text}");
        }
    }
}

fn plain_verify(d: &Path, key: &str) -> (i32, String) {
    cli(d, &["verify", "logs/audit.log", "--public-key", key])
}

fn sidecar_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn signing_key(path: &Path) -> ed25519_dalek::SigningKey {
    log4rs_audit::integrity::load_signing_key(&Secret::File {
        file: path.to_owned(),
    })
    .unwrap()
}

fn trail_files(d: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(d.join("logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    v.sort();
    v
}

/// An untouched anchored trail verifies against the ledger, both ways; anchoring again
/// stores nothing (every record a duplicate).
#[test]
fn an_anchored_trail_verifies_and_resending_is_idempotent() {
    let (dir, server) = setup();
    let d = dir.path();
    let first = anchor(d, &server);
    assert!(first.contains("already anchored"), "{first}");
    assert!(!first.contains(" 0 records stored, 0"), "{first}");
    let again = anchor(d, &server);
    assert!(again.contains("anchored: 0 records stored"), "{again}");
    for (code, text) in verify_both(d, &server, "keys/audit.pub", &["--strict"]) {
        assert_eq!(code, 0, "{text}");
        assert!(
            text.contains("records compared with the anchor ledger"),
            "{text}"
        );
    }
    // More lines written after anchoring: not yet anchored (a note; --strict fails).
    demo(d);
    for (code, text) in verify_both(d, &server, "keys/audit.pub", &[]) {
        assert_eq!(code, 0, "{text}");
        assert!(text.contains("not yet anchored"), "{text}");
    }
    assert_caught(
        &verify_both(d, &server, "keys/audit.pub", &["--strict"]),
        &["not yet anchored (the anchor ledger ends at #"],
    );
}

/// (a) audit.log and its sidecar cut back to an earlier checkpoint (and the writer's state
/// deleted, so nothing local can tell): the ledger's later records prove it.
#[test]
fn a_trail_cut_back_to_an_earlier_checkpoint_is_caught() {
    let (dir, server) = setup();
    let d = dir.path();
    anchor(d, &server);
    let sc = d.join("logs/audit.log.digest");
    let lines = sidecar_lines(&sc);
    assert!(lines.len() >= 4, "{lines:?}");
    let keep = &lines[..lines.len() - 2];
    let last = Record::parse(keep.last().unwrap()).unwrap();
    std::fs::write(&sc, keep.join("\n") + "\n").unwrap();
    let log = d.join("logs/audit.log");
    let f = std::fs::OpenOptions::new().write(true).open(&log).unwrap();
    f.set_len(last.bytes).unwrap();
    std::fs::remove_file(d.join("logs/.audit.log.trail")).unwrap();
    let (code, text) = plain_verify(d, "keys/audit.pub");
    assert_eq!(code, 0, "without anchors the cut is not seen:\n{text}");
    assert_caught(
        &verify_both(d, &server, "keys/audit.pub", &[]),
        &[
            "rolled back: the anchor ledger holds record #",
            "beyond the last record here",
        ],
    );
}

/// (b) the newest file set deleted and the older ones renamed down.
#[test]
fn the_newest_files_deleted_and_the_rest_renamed_down_is_caught() {
    let (dir, server) = setup();
    let d = dir.path();
    anchor(d, &server);
    let logs = d.join("logs");
    std::fs::remove_file(logs.join("audit.log")).unwrap();
    std::fs::remove_file(logs.join("audit.log.digest")).unwrap();
    std::fs::remove_file(logs.join(".audit.log.trail")).unwrap();
    let mut i = 1;
    while logs.join(format!("audit.log.{i}")).exists() {
        let to = if i == 1 {
            "audit.log".to_owned()
        } else {
            format!("audit.log.{}", i - 1)
        };
        std::fs::rename(logs.join(format!("audit.log.{i}")), logs.join(&to)).unwrap();
        std::fs::rename(
            logs.join(format!("audit.log.{i}.digest")),
            logs.join(format!("{to}.digest")),
        )
        .unwrap();
        i += 1;
    }
    assert!(i > 2, "the demo should roll several times");
    assert_caught(
        &verify_both(d, &server, "keys/audit.pub", &[]),
        &["rolled back: the anchor ledger holds record #"],
    );
}

/// (c) every file of the trail deleted.
#[test]
fn every_file_deleted_is_caught() {
    let (dir, server) = setup();
    let d = dir.path();
    anchor(d, &server);
    for p in trail_files(d) {
        std::fs::remove_file(p).unwrap();
    }
    std::fs::remove_file(d.join("logs/.audit.log.trail")).unwrap();
    assert_caught(
        &verify_both(d, &server, "keys/audit.pub", &[]),
        &["but none of its files is here and no prune record covers them: deleted"],
    );
}

/// Rebuilds the sidecar of `log` from its (edited) lines, signed with `key`: what a host
/// owner with the signing key can do.
fn rebuild_sidecar(log: &Path, key: &ed25519_dalek::SigningKey) {
    let sc = PathBuf::from(format!("{}.digest", log.display()));
    let data = std::fs::read(log).unwrap();
    let lines: Vec<&[u8]> = data.split_inclusive(|&b| b == b'\n').collect();
    let mut out = String::new();
    let mut chain: Option<Chain> = None;
    let mut prev: Option<String> = None;
    let mut done = 0usize;
    for text in sidecar_lines(&sc) {
        let mut r = Record::parse(&text).unwrap();
        let c = chain.get_or_insert_with(|| Chain::starting_at(r.head));
        while (done as u64) < r.lines {
            c.absorb_line(lines[done]);
            done += 1;
        }
        r.head = c.head;
        if prev.is_some() {
            r.tags = c.take_tags();
        } else {
            c.take_tags();
        }
        if let Some(p) = &prev {
            r.prev = line_digest(p);
        }
        let sealed = r.seal_line(Some(key));
        out += &sealed;
        out.push('\n');
        prev = Some(sealed);
    }
    std::fs::write(&sc, out).unwrap();
}

/// (d) a line edited and the sidecar rebuilt and re-signed with the host's own key: local
/// verify is satisfied, the ledger is not.
#[test]
fn a_line_edited_and_re_signed_with_the_host_key_is_caught() {
    let (dir, server) = setup();
    let d = dir.path();
    anchor(d, &server);
    let log = d.join("logs/audit.log");
    let text = std::fs::read_to_string(&log).unwrap();
    let edited = text.replacen("\"timestamp\":\"20", "\"timestamp\":\"19", 1);
    assert_ne!(edited, text);
    std::fs::write(&log, edited).unwrap();
    rebuild_sidecar(&log, &signing_key(&d.join("keys/audit.key")));
    std::fs::remove_file(d.join("logs/.audit.log.trail")).unwrap();
    let (code, text) = plain_verify(d, "keys/audit.pub");
    assert_eq!(code, 0, "the rebuilt sidecar verifies locally:\n{text}");
    assert_caught(
        &verify_both(d, &server, "keys/audit.pub", &[]),
        &[
            "differs from the anchored record #",
            "rewritten and re-signed",
            "another chain head",
        ],
    );
}

/// (e) the whole trail re-signed with another key, and verify given that key.
#[test]
fn a_trail_re_signed_with_another_key_is_caught() {
    let (dir, server) = setup();
    let d = dir.path();
    anchor(d, &server);
    let forger = signing_key(&d.join("keys2/audit.key"));
    // Every record of the trail, in record order across its files, re-signed and re-chained.
    let mut all: Vec<(u64, PathBuf, usize, String)> = Vec::new();
    for p in trail_files(d) {
        if p.to_string_lossy().ends_with(".digest") {
            for (i, l) in sidecar_lines(&p).into_iter().enumerate() {
                all.push((Record::parse(&l).unwrap().n, p.clone(), i, l));
            }
        }
    }
    all.sort_by_key(|a| a.0);
    let mut prev: Option<String> = None;
    let mut rewritten: std::collections::BTreeMap<PathBuf, Vec<(usize, String)>> =
        Default::default();
    for (_, p, i, l) in all {
        let mut r = Record::parse(&l).unwrap();
        if let Some(p) = &prev {
            r.prev = line_digest(p);
        }
        let sealed = r.seal_line(Some(&forger));
        rewritten.entry(p).or_default().push((i, sealed.clone()));
        prev = Some(sealed);
    }
    for (p, mut lines) in rewritten {
        lines.sort();
        let text: String = lines.into_iter().map(|(_, l)| l + "\n").collect();
        std::fs::write(p, text).unwrap();
    }
    std::fs::remove_file(d.join("logs/.audit.log.trail")).unwrap();
    let (code, text) = plain_verify(d, "keys2/audit.pub");
    assert_eq!(
        code, 0,
        "re-signed with another key, it verifies locally:\n{text}"
    );
    assert_caught(
        &verify_both(d, &server, "keys2/audit.pub", &[]),
        &[
            "but the anchor ledger pinned key",
            "re-signed with another key",
        ],
    );
}

fn post_anchors(
    server: &ServerProcess,
    key: Option<&str>,
    public: Option<&Path>,
    body: &str,
) -> (u16, String) {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build();
    let mut req = agent.post(&format!("{}/anchors", server.url));
    if let Some(k) = key {
        req = req.set("Authorization", &format!("Bearer {k}"));
    }
    if let Some(p) = public {
        let k = log4rs_audit::integrity::load_public_key(p).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(k.as_bytes());
        req = req.set("X-Audit-Public-Keys", &b64);
    }
    match req.send_string(body) {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(c, r)) => (c, r.into_string().unwrap()),
        Err(e) => panic!("{e}"),
    }
}

fn get(url: &str, key: Option<&str>) -> (u16, String) {
    let mut req = ureq::get(url);
    if let Some(k) = key {
        req = req.set("Authorization", &format!("Bearer {k}"));
    }
    match req.call() {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(c, r)) => (c, r.into_string().unwrap()),
        Err(e) => panic!("{e}"),
    }
}

/// The server's rules: 401 without a key, forks kept and refused, gaps refused naming the
/// missing numbers, another key for a pinned origin refused, another event key for a bound
/// origin refused; the ledger survives a clean restart and a `kill -9` right after the answer.
#[test]
fn the_server_refuses_forks_gaps_and_other_keys_and_keeps_its_ledger() {
    let (dir, mut server) = setup();
    let d = dir.path();
    let sc = d.join("logs/audit.log.digest");
    let lines = sidecar_lines(&sc);
    let (code, text) = post_anchors(&server, None, Some(&d.join("keys/audit.pub")), &lines[0]);
    assert_eq!(code, 401, "{text}");
    let (code, text) = get(&format!("{}/api/anchors", server.url), None);
    assert_eq!(code, 401, "{text}");
    let (code, text) = get(&format!("{}/api/anchors", server.url), Some("k-node-1"));
    assert_eq!(code, 401, "an event key does not read the ledger: {text}");
    anchor(d, &server);
    let host = signing_key(&d.join("keys/audit.key"));
    let last = Record::parse(lines.last().unwrap()).unwrap();

    // A fork: record #n of the trail, altered and re-signed with the host's key.
    let mut forked = Record::parse(&lines[1]).unwrap();
    forked.time = "2000-01-01T00:00:00.000Z".into();
    let forked_line = forked.seal_line(Some(&host));
    let (code, text) = post_anchors(&server, Some("k-node-1"), None, &forked_line);
    assert_eq!(code, 409, "{text}");
    assert!(text.contains("fork"), "{text}");
    let forks: Vec<PathBuf> = std::fs::read_dir(d.join("state/anchors"))
        .unwrap()
        .map(|e| e.unwrap().path().join("forks.ndjson"))
        .filter(|p| p.exists())
        .collect();
    assert_eq!(forks.len(), 1);
    assert!(std::fs::read_to_string(&forks[0])
        .unwrap()
        .contains("2000-01-01"));
    // The server's stderr is read by a thread of the test: wait for the line (bounded).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !server.log_text().contains("ANCHOR FORK") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        server.log_text().contains("ANCHOR FORK"),
        "{}",
        server.log_text()
    );

    // A gap: a record five numbers after the last anchored one.
    let mut gap = last.clone();
    gap.n += 5;
    gap.prev = line_digest(lines.last().unwrap());
    let (code, text) = post_anchors(&server, Some("k-node-1"), None, &gap.seal_line(Some(&host)));
    assert_eq!(code, 409, "{text}");
    assert!(
        text.contains(&format!(
            "records #{}-#{} are missing",
            last.n + 1,
            last.n + 4
        )),
        "{text}"
    );

    // The next record, but signed by another key than the pinned one (and offering it).
    let mut next = last.clone();
    next.n += 1;
    next.prev = line_digest(lines.last().unwrap());
    let other = signing_key(&d.join("keys2/audit.key"));
    let (code, text) = post_anchors(
        &server,
        Some("k-node-1"),
        Some(&d.join("keys2/audit.pub")),
        &next.clone().seal_line(Some(&other)),
    );
    assert_eq!(code, 403, "{text}");
    assert!(text.contains("pinned to key"), "{text}");
    // The right key, but another event key than the one that anchored the origin.
    let (code, text) = post_anchors(
        &server,
        Some("k-node-2"),
        None,
        &next.clone().seal_line(Some(&host)),
    );
    assert_eq!(code, 403, "{text}");
    assert!(text.contains("another event key"), "{text}");

    // The ledger as the read API gives it, before and after a clean restart.
    let ledger_url = format!("{}/api/anchors", server.url);
    let (code, before) = get(&ledger_url, Some("k-read"));
    assert_eq!(code, 200);
    let records = before.lines().count();
    assert!(records > 10, "{before}");
    let (code, key) = get(&format!("{}/api/anchors/key", server.url), None);
    assert_eq!(code, 200);
    assert_eq!(
        key.trim(),
        std::fs::read_to_string(d.join("skeys/audit.pub"))
            .unwrap()
            .trim()
    );
    server.stop();
    server.restart();
    assert_eq!(get(&ledger_url, Some("k-read")).1, before);
    let again = anchor(d, &server);
    assert!(again.contains("anchored: 0 records stored"), "{again}");

    // More records, anchored, then kill -9 right after the answer: all there after restart.
    demo(d);
    let more = anchor(d, &server);
    assert!(!more.contains("anchored: 0 records stored"), "{more}");
    server.kill9();
    server.restart();
    let (_, after) = get(&ledger_url, Some("k-read"));
    assert!(after.lines().count() > records, "{after}");
    let again = anchor(d, &server);
    assert!(again.contains("anchored: 0 records stored"), "{again}");
    for (code, text) in verify_both(d, &server, "keys/audit.pub", &["--strict"]) {
        assert_eq!(code, 0, "{text}");
    }
}

/// Without `anchors:` in the config, the endpoints say so with 404.
#[test]
fn without_an_anchors_block_the_endpoints_answer_404() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &server_config(false));
    let (code, text) = post_anchors(&server, Some("k-node-1"), None, "{}");
    assert_eq!(code, 404, "{text}");
    assert!(text.contains("anchors are not configured"), "{text}");
    let (code, _) = get(&format!("{}/api/anchors/key", server.url), None);
    assert_eq!(code, 404);
}
