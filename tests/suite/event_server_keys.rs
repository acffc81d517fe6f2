//! Issue 11, items 2, 3 (second half), 6 and 7, against a real `log4rs-audit event-server`
//! process on 127.0.0.1: node ids bound to the event key that first sent them (also across a
//! restart), the node ids per key capped, unrouted events counted apart from stored ones, and
//! a destination file that cannot be written failing only its own batches, with no server path
//! in any answer. The `event_server` target's side is tested against the same real server.
#![cfg(feature = "server")] // the Event Server is the `log4rs-audit event-server` binary

use crate::support;

use std::path::Path;
use std::time::{Duration, Instant};

use log::kv::Value;
use log4rs::append::Append;
use log4rs_audit::append::{EventServerAppender, EventServerConfig};
use support::{config, item, post, stored_events, ServerProcess};

fn ev(name: &str) -> String {
    format!(r#"{{"msgType":"{name}"}}"#)
}

fn stats(server: &ServerProcess) -> serde_json::Value {
    let text = ureq::get(&format!("{}/stats", server.url))
        .set("Authorization", "Bearer k-stats")
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Item 2: a node id belongs to the key that first sent it. Another key sending it (even with
/// the highest `seq`) gets 403 naming the node id and never the secret, nothing is stored, and
/// the real node's later events are stored; the binding survives a kill -9 and a restart.
#[test]
fn a_node_id_is_bound_to_the_key_that_first_sent_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(dir.path(), &config(""));
    let url = server.events_url();
    let root = dir.path().join("events");
    let first = item("web-2", 1, "generic", None, &ev("real-1"));
    assert_eq!(
        post(&url, "k-node-2", first.as_bytes()),
        (200, r#"{"stored":1,"duplicates":0,"unrouted":0}"#.into())
    );
    let attack = item("web-2", u64::MAX, "generic", None, &ev("forged"))
        + &item("web-9", 1, "generic", None, &ev("forged-too"));
    for round in 0..2 {
        let (code, text) = post(&url, "k-node-1", attack.as_bytes());
        assert_eq!(code, 403, "round {round}: {text}");
        assert!(
            text.contains("node id `web-2` is bound to another event key"),
            "{text}"
        );
        assert!(!text.contains("k-node"), "a secret in the answer: {text}");
        let next = item("web-2", 2 + round, "generic", None, &ev("real"));
        assert_eq!(
            post(&url, "k-node-2", next.as_bytes()),
            (200, r#"{"stored":1,"duplicates":0,"unrouted":0}"#.into()),
            "round {round}"
        );
        if round == 0 {
            server.kill9();
            server.restart();
        }
    }
    let events = stored_events(&root);
    let names: Vec<_> = events
        .iter()
        .map(|e| e["msgType"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["real-1", "real", "real"],
        "nothing forged is stored"
    );
    // web-9 came in a refused batch: it is still free for its own key.
    let own = item("web-9", 1, "generic", None, &ev("web-9"));
    assert_eq!(post(&url, "k-node-1", own.as_bytes()).0, 200);
    // Counted since the restart.
    assert_eq!(
        stats(&server)["batchesRejected"]["node_bound_to_another_key"],
        1
    );
}

/// Item 7: `max_nodes_per_key` caps the node ids one key binds; a new node id past it gets 403
/// naming the cap, nothing stored, while its bound nodes and other keys go on; the count
/// survives a restart.
#[test]
fn node_ids_per_key_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(dir.path(), &config("max_nodes_per_key: 3\n"));
    let url = server.events_url();
    for n in 1..=3 {
        let body = item(&format!("n{n}"), 1, "generic", None, &ev("ok"));
        assert_eq!(post(&url, "k-node-1", body.as_bytes()).0, 200, "n{n}");
    }
    let fourth = item("n4", 1, "generic", None, &ev("over"));
    let (code, text) = post(&url, "k-node-1", fourth.as_bytes());
    assert_eq!(code, 403, "{text}");
    assert!(text.contains("max_nodes_per_key (3)"), "{text}");
    server.stop();
    server.restart();
    assert_eq!(post(&url, "k-node-1", fourth.as_bytes()).0, 403);
    let again = item("n1", 2, "generic", None, &ev("ok"));
    assert_eq!(post(&url, "k-node-1", again.as_bytes()).0, 200);
    let other = item("n4", 1, "generic", None, &ev("other-key"));
    assert_eq!(post(&url, "k-node-2", other.as_bytes()).0, 200);
    let names: Vec<_> = stored_events(&dir.path().join("events"))
        .iter()
        .map(|e| e["msgType"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names.iter().filter(|n| *n == "over").count(), 0);
    assert_eq!(names.len(), 5, "{names:?}");
    // A config error for 0.
    let bad = dir.path().join("zero.yaml");
    std::fs::write(&bad, config("max_nodes_per_key: 0\n")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_log4rs-audit"))
        .args(["event-server", "--check", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("max_nodes_per_key: must be greater than 0"),
        "{stderr}"
    );
}

/// Item 3: an event no destination takes is answered as `unrouted`, never as stored, and
/// counted so in `/stats`; its resend is a duplicate like any other.
#[test]
fn unrouted_events_are_not_counted_as_stored() {
    let dir = tempfile::tempdir().unwrap();
    // `disk` takes `generic` only; `authfail-only` takes `authfail`: `apicalls` goes nowhere.
    let yaml = config("").replacen("topics: ALL", "topics: [generic]", 1);
    let server = ServerProcess::start(dir.path(), &yaml);
    let body = item("web-1", 1, "generic", None, &ev("kept"))
        + &item("web-1", 2, "apicalls", None, &ev("nowhere"));
    assert_eq!(
        post(&server.events_url(), "k-node-1", body.as_bytes()),
        (200, r#"{"stored":1,"duplicates":0,"unrouted":1}"#.into())
    );
    assert_eq!(
        post(&server.events_url(), "k-node-1", body.as_bytes()),
        (200, r#"{"stored":0,"duplicates":2,"unrouted":0}"#.into())
    );
    let s = stats(&server);
    assert_eq!(
        (&s["eventsStored"], &s["eventsUnrouted"]),
        (&1.into(), &1.into()),
        "{s}"
    );
    assert_eq!(stored_events(&dir.path().join("events")).len(), 1);
}

/// Item 6: a destination file whose digest sidecar is corrupt fails only the batches with
/// events for it (500, naming the destination and no server path); the server's log names the
/// file; batches for other files, sent at the same time, are stored; once the sidecar is
/// repaired the failed batch is stored (its events were not taken as sent).
#[test]
fn a_corrupt_sidecar_fails_only_the_batches_for_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = config("").replacen(
        "    partitioning_period: HOUR\n",
        "    partitioning_period: HOUR\n    integrity: { checkpoint_lines: 1 }\n",
        1,
    );
    assert!(yaml.contains("integrity"), "{yaml}");
    let server = ServerProcess::start(dir.path(), &yaml);
    let url = server.events_url();
    // The `bad` routing key's file, this hour and the next (the test may cross an hour).
    let now = chrono::Utc::now();
    let mut sidecars = Vec::new();
    for t in [now, now + chrono::Duration::hours(1)] {
        let folder = dir
            .path()
            .join("events/generic/bad")
            .join(t.format("%Y/%m/%d/%H").to_string());
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("events.log"), "").unwrap();
        std::fs::write(folder.join("events.log.digest"), "not a record\n").unwrap();
        sidecars.push(folder.join("events.log.digest"));
    }
    // Many senders at once, so that good and bad batches share group commits.
    let results: Vec<(bool, u16, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let url = url.clone();
                s.spawn(move || {
                    let bad = i % 4 == 0;
                    let rk = if bad { "bad" } else { "good" };
                    let mut body = String::new();
                    for seq in 1..=20 {
                        body += &item(&format!("w{i}"), seq, "generic", Some(rk), &ev("e"));
                    }
                    let (code, text) = post(&url, "k-node-1", body.as_bytes());
                    (bad, code, text)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (bad, code, text) in &results {
        if *bad {
            assert_eq!(*code, 500, "{text}");
            assert!(text.contains("destination `disk`"), "{text}");
            assert!(!text.contains('/') && !text.contains(".digest"), "{text}");
        } else {
            assert_eq!(
                (*code, text.as_str()),
                (200, r#"{"stored":20,"duplicates":0,"unrouted":0}"#),
            );
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.log_text().contains("events.log") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = server.log_text();
    assert!(
        log.contains("destination `disk`") && log.contains("/generic/bad/"),
        "the server's log names the file: {log}"
    );
    for s in &sidecars {
        std::fs::remove_file(s).unwrap();
    }
    let retry: String = (1..=20)
        .map(|seq| item("w0", seq, "generic", Some("bad"), &ev("e")))
        .collect();
    assert_eq!(
        post(&url, "k-node-1", retry.as_bytes()),
        (200, r#"{"stored":20,"duplicates":0,"unrouted":0}"#.into())
    );
    // Every good batch (12 × 20) and the retried bad one.
    assert_eq!(
        stored_events(&dir.path().join("events")).len(),
        12 * 20 + 20
    );
}

// ---------------------------------------------------------------------------------------------
// The `event_server` target against the same server

fn target(server: &ServerProcess, key: &str, spool: &Path) -> EventServerAppender {
    let yaml = format!(
        "url: {}\nauth_key: {key}\nspool_dir: {}\nretry_min: 10ms\nretry_max: 100ms\n\
         request_timeout: 5s\nconnect_timeout: 1s\nflush_timeout: 20s\n",
        server.url,
        spool.display()
    );
    let config: EventServerConfig = serde_yaml::from_str(&yaml).unwrap();
    config.build().unwrap()
}

fn log_to(a: &EventServerAppender, topic: &str, n: i64) -> anyhow::Result<()> {
    let target = format!("dku.audit.{topic}");
    let kvs: [(&str, Value); 2] = [("msgType", Value::from("e")), ("n", Value::from(n))];
    a.append(
        &log::Record::builder()
            .target(&target)
            .key_values(&kvs)
            .args(format_args!(""))
            .build(),
    )
}

/// Waits (bounded) until `done` holds for the appender's stats.
fn wait_for(
    a: &EventServerAppender,
    done: impl Fn(&log4rs_audit::append::EventServerStats) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done(&a.stats()) {
        assert!(Instant::now() < deadline, "timed out: {:?}", a.stats());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Item 2, the target's side: a spool whose node id another process already used (a copied
/// `spool_dir`, a reset spool) gets a "duplicates" answer for events it never sent: they are
/// dead-lettered and reported as a probable node id collision, not counted as delivered.
#[test]
fn the_target_reports_a_node_id_collision_instead_of_counting_it_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &config(""));
    let (one, two) = (dir.path().join("spool-1"), dir.path().join("spool-2"));
    let a = target(&server, "k-node-1", &one);
    for n in 1..=3 {
        log_to(&a, "generic", n).unwrap();
    }
    a.flush();
    assert_eq!(a.stats().delivered, 3);
    // A second spool with the same node id, starting again at seq 1.
    std::fs::create_dir_all(&two).unwrap();
    std::fs::copy(one.join("node-id"), two.join("node-id")).unwrap();
    let b = target(&server, "k-node-1", &two);
    assert_eq!(a.node_id(), b.node_id());
    log_to(&b, "generic", 101).unwrap();
    log_to(&b, "generic", 102).unwrap();
    wait_for(&b, |s| s.pending == 0);
    let s = b.stats();
    assert_eq!((s.delivered, s.dead_lettered), (0, 2), "{s:?}");
    let e = log_to(&b, "generic", 103).unwrap_err().to_string();
    assert!(e.contains("probable node id collision"), "{e}");
    let dead = std::fs::read_to_string(two.join("dead-letter.ndjson")).unwrap();
    assert_eq!(dead.lines().count(), 2, "{dead}");
    assert!(
        dead.contains("\"n\":101") && dead.contains("\"n\":102"),
        "{dead}"
    );
    // The server kept only the first spool's events.
    assert_eq!(stored_events(&dir.path().join("events")).len(), 3);
}

/// Items 2 and 3, the target's side: a spool copied to a node that sends with another key
/// gets 403 for its node id; that is reported and the events stay in the spool. Once the first
/// key is no longer configured, the binding is stale and the same events are delivered. An
/// unrouted answer reaches the error handler.
#[test]
fn the_target_keeps_refused_node_ids_in_the_spool_and_reports_unrouted() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = config("").replacen("topics: ALL", "topics: [generic, authfail]", 1);
    let mut server = ServerProcess::start(dir.path(), &yaml);
    let (one, two) = (dir.path().join("spool-1"), dir.path().join("spool-2"));
    let a = target(&server, "k-node-1", &one);
    for n in 1..=5 {
        log_to(&a, "generic", n).unwrap();
    }
    a.flush();
    assert_eq!(a.stats().delivered, 5);
    drop(a);
    // The whole spool copied (a cloned VM image), then used with the other key.
    std::fs::create_dir_all(&two).unwrap();
    for e in std::fs::read_dir(&one).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, two.join(p.file_name().unwrap())).unwrap();
        }
    }
    let b = target(&server, "k-node-2", &two);
    for n in 11..=12 {
        log_to(&b, "generic", n).unwrap();
    }
    wait_for(&b, |s| {
        s.last_error
            .as_deref()
            .is_some_and(|e| e.contains("HTTP 403"))
    });
    let s = b.stats();
    assert_eq!(
        (s.pending, s.delivered, s.dead_lettered),
        (2, 0, 0),
        "{s:?}"
    );
    let e = log_to(&b, "generic", 13).unwrap_err().to_string();
    assert!(
        e.contains("HTTP 403")
            && e.contains("is bound to another event key")
            && e.contains("stay in the spool"),
        "{e}"
    );
    // The operator retires k-node-1: its node ids may be taken by the key now sending them.
    // (SIGKILL: a clean stop waits up to `read_timeout` for the client's kept-alive
    // connection, which its retries keep busy.)
    server.kill9();
    let text = std::fs::read_to_string(&server.config).unwrap();
    std::fs::write(&server.config, text.replace("\"k-node-1\", ", "")).unwrap();
    server.restart();
    wait_for(&b, |s| s.pending == 0);
    let s = b.stats();
    assert_eq!((s.delivered, s.dead_lettered), (3, 0), "{s:?}");
    // An event no destination takes (`apicalls`): accepted by the server, reported unrouted.
    let _ = log_to(&b, "apicalls", 14);
    wait_for(&b, |s| s.unrouted == 1);
    let e = log_to(&b, "generic", 15).unwrap_err().to_string();
    assert!(e.contains("none of its destinations takes"), "{e}");
    b.flush();
    assert_eq!(b.stats().delivered, 4);
    let ns: Vec<_> = stored_events(&dir.path().join("events"))
        .iter()
        .filter_map(|e| e["n"].as_i64())
        .collect();
    assert_eq!(ns, [1, 2, 3, 4, 5, 11, 12, 13, 15]);
}
