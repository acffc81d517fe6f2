//! The Event Server's limits against hostile clients and careless operators, each against a
//! real server process on 127.0.0.1 or the real `--check` (issue 11): destination roots that
//! overlap however they are spelled, events with a key given twice, the body budget under
//! stalled uploads, and memory under many concurrent bodies.
#![cfg(feature = "server")] // the Event Server is the `log4rs-audit event-server` binary

#[path = "support/server.rs"]
mod support;

use std::path::Path;
use std::process::Command;

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
        (200, r#"{"stored":2,"duplicates":0}"#)
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
