//! The Event Server's limits against hostile clients and careless operators, each against a
//! real server process on 127.0.0.1 or the real `--check` (issue 11): destination roots that
//! overlap however they are spelled, events with a key given twice, the body budget under
//! stalled uploads, and memory under many concurrent bodies.
#![cfg(feature = "server")] // the Event Server is the `log4rs-audit event-server` binary

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{config, item, post, refused_config, stored_events, ServerProcess};

/// Issue 11, item 9: a key given twice in one object of an event, at the top or nested, gets
/// a 400 naming the line and the key, and nothing of that batch is stored.
#[test]
fn an_event_with_a_key_given_twice_is_refused_naming_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &config(""));
    let ok = item(
        "web-1",
        1,
        "generic",
        None,
        r#"{"msgType":"login","authUser":"alice"}"#,
    );
    let cases = [
        (
            r#"{"msgType":"dataset-export","authUser":"alice","authUser":"mallory"}"#,
            "line 2: bad event: duplicate key `authUser` in `event`",
        ),
        (
            r#"{"msgType":"x","ctx":{"who":[{"id":1},{"id":2,"\u0069d":3}]}}"#,
            "line 2: bad event: duplicate key `id` in `event.ctx.who[1]`",
        ),
    ];
    for (event, want) in cases {
        let body = ok.clone() + &item("web-1", 2, "generic", None, event);
        let (status, answer) = post(&server.events_url(), "k-node-1", body.as_bytes());
        assert_eq!(status, 400, "{answer}");
        let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["error"], want);
    }
    assert!(stored_events(&dir.path().join("events")).is_empty());
    // The same key in different objects is fine, and the good line alone is stored.
    let body = ok
        + &item(
            "web-1",
            2,
            "generic",
            None,
            r#"{"msgType":"x","id":1,"a":{"id":2}}"#,
        );
    let (status, answer) = post(&server.events_url(), "k-node-1", body.as_bytes());
    assert_eq!(
        (status, answer.as_str()),
        (200, r#"{"stored":2,"duplicates":0,"unrouted":0}"#)
    );
    assert_eq!(stored_events(&dir.path().join("events")).len(), 2);
}

/// A third destination, `extra`, with this root, after the two of [`config`] (`events` and
/// `authfail`).
fn with_third_root(root: &str) -> String {
    config(&format!(
        "  - name: extra\n    type: filesystem\n    root: {root}\n    topics: [generic]\n"
    ))
}

fn write_config(dir: &Path, yaml: &str) -> std::path::PathBuf {
    let path = dir.join("server.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// Issue 11, item 4: roots that lead into another destination's folder through `..` or a
/// symlink are refused by `--check` and at start, naming both destinations; distinct roots
/// still pass.
#[test]
fn overlapping_roots_by_dot_dot_or_symlink_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("events/generic")).unwrap();
    std::fs::create_dir_all(d.join("other")).unwrap();
    std::os::unix::fs::symlink(d.join("events"), d.join("alias")).unwrap();
    std::os::unix::fs::symlink(d.join("events/generic"), d.join("other/gen")).unwrap();
    for root in [
        "authfail/../events/generic",
        "alias",
        "alias/generic/x",
        "other/gen/../x",
        "./other/../authfail/./",
    ] {
        let path = write_config(d, &with_third_root(root));
        for check in [true, false] {
            let stderr = refused_config(d, &path, check);
            assert!(
                stderr.contains(&format!(
                    "destinations[2] (`extra`).root: {}",
                    d.join(root).display()
                )) && stderr.contains("overlaps the root of `")
                    && stderr.contains("once `..` and symlinks are resolved"),
                "{root} (check: {check}): {stderr}"
            );
            let other = if root.contains("authfail/") && !root.contains("events") {
                "`authfail-only`"
            } else {
                "`disk`"
            };
            assert!(stderr.contains(other), "{root}: {stderr}");
        }
    }
    // A root beside the others (through a symlink and `..` too) passes.
    for root in ["other", "other/gen/../../fresh", "alias/../elsewhere"] {
        let path = write_config(d, &with_third_root(root));
        let out = Command::new(env!("CARGO_BIN_EXE_log4rs-audit"))
            .args(["event-server", "--check", "--config"])
            .arg(&path)
            .current_dir(d)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{root}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `GET /stats` as JSON.
fn stats(server: &ServerProcess) -> serde_json::Value {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build();
    let text = agent
        .get(&format!("{}/stats", server.url))
        .set("Authorization", "Bearer k-stats")
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Issue 11, item 5: uploads that declare large bodies and stall after one byte hold only
/// what they sent, so another client is served at once (not `503` until `read_timeout`).
#[test]
fn stalled_uploads_declaring_large_bodies_do_not_starve_others() {
    let dir = tempfile::tempdir().unwrap();
    // The budget is the size of one body: eight declared bodies would take it eight times.
    let yaml = config("read_timeout: 120s\nidle_timeout: 120s\nqueue_max_bytes: 1048576\n")
        .replace("max_body_bytes: 65536", "max_body_bytes: 1048576");
    let server = ServerProcess::start(dir.path(), &yaml);
    let addr = server.url.trim_start_matches("http://").to_owned();
    let stalled: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.write_all(
                b"POST /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k-node-1\r\nContent-Length: 1048576\r\n\r\n{",
            )
            .unwrap();
            s
        })
        .collect();
    // Wait (bounded) until the server holds all eight.
    let deadline = Instant::now() + Duration::from_secs(30);
    while stats(&server)["connections"].as_u64().unwrap() < 9 {
        assert!(
            Instant::now() < deadline,
            "the stalled uploads never arrived"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let held = stats(&server)["bodyBytes"].as_u64().unwrap();
    assert!(
        held <= 8 * 8192,
        "eight one-byte uploads hold {held} bytes of the budget"
    );
    // A normal client: served at once, first try.
    let body = item("web-1", 1, "generic", None, r#"{"msgType":"ok"}"#);
    let (status, answer) = post(&server.events_url(), "k-node-1", body.as_bytes());
    assert_eq!(
        (status, answer.as_str()),
        (200, r#"{"stored":1,"duplicates":0,"unrouted":0}"#)
    );
    // The stalled uploads were not refused either: they are still waited for.
    for mut s in stalled {
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut buf = [0u8; 64];
        let r = s.read(&mut buf);
        assert!(
            matches!(&r, Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)),
            "a stalled upload was answered: {r:?} {}",
            String::from_utf8_lossy(&buf)
        );
    }
    assert_eq!(stored_events(&dir.path().join("events")).len(), 1);
}

/// Issue 11, item 8: many concurrent bodies; what the server holds of them, every copy
/// counted (raw, parsed, queued), never passes `queue_max_bytes`, and every event is stored
/// once the clients' retries after `503` are through.
#[test]
fn concurrent_bodies_stay_within_queue_max_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let queue_max = 512 * 1024;
    let yaml = config(&format!("queue_max_bytes: {queue_max}\n"));
    let server = ServerProcess::start(dir.path(), &yaml);
    let (threads, batches, per_batch) = (48u64, 6u64, 300u64);
    let senders: Vec<_> = (0..threads)
        .map(|t| {
            let url = server.events_url();
            std::thread::spawn(move || {
                let node = format!("n{t}");
                let mut busy = 0;
                for b in 0..batches {
                    let body: String = (1..=per_batch)
                        .map(|i| {
                            let seq = b * per_batch + i;
                            item(
                                &node,
                                seq,
                                "generic",
                                None,
                                &format!(
                                    r#"{{"msgType":"m","seq":{seq},"pad":"{}"}}"#,
                                    "p".repeat(100)
                                ),
                            )
                        })
                        .collect();
                    assert!(body.len() < 65536);
                    let deadline = Instant::now() + Duration::from_secs(120);
                    loop {
                        let (status, answer) = post(&url, "k-node-1", body.as_bytes());
                        match status {
                            200 => break,
                            503 | 0 => {
                                busy += 1;
                                assert!(Instant::now() < deadline, "{answer}");
                                std::thread::sleep(Duration::from_millis(20));
                            }
                            _ => panic!("{status} {answer}"),
                        }
                    }
                }
                busy
            })
        })
        .collect();
    let busy: u64 = senders.into_iter().map(|s| s.join().unwrap()).sum();
    eprintln!("503 answers: {busy}");
    let s = stats(&server);
    let peak = s["bodyBytesPeak"].as_u64().unwrap();
    assert!(
        peak > 0 && peak <= queue_max,
        "held {peak} bytes of bodies at most, the limit is {queue_max} ({busy} answers 503)"
    );
    assert_eq!(s["bodyBytes"].as_u64(), Some(0), "all given back");
    let stored = stored_events(&dir.path().join("events"));
    assert_eq!(stored.len() as u64, threads * batches * per_batch);
}
