//! The viewer page (`/ui/`) in a real headless Chromium against a real Event Server: the server
//! runs as a child process on 127.0.0.1 with a temporary root (one destination, with
//! integrity), takes a known set of events through `POST /events`, and `tests/ui/run.mjs`
//! (playwright-core driving Debian's `/usr/bin/chromium`) checks the page against the read API's
//! own answers: the key prompt, a search and its paging, the integrity badges, every report tab,
//! hostile HTML kept as text, the key's storage. See `run.mjs` for the list.
//!
//! Needs `/usr/bin/chromium`, `node` and `tests/ui/node_modules` (`scripts/install-browser.sh`
//! installs them). Without them the test says it was skipped and passes, except under `CI=true`,
//! where a missing browser must not pass unnoticed.
#![cfg(feature = "server")] // the Event Server is the `log4rs-audit event-server` binary

#[path = "support/server.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{post, ServerProcess};

const BIN: &str = env!("CARGO_BIN_EXE_log4rs-audit");
const CHROMIUM: &str = "/usr/bin/chromium";
const READ_KEY: &str = "k-read";
/// The script's own bound is 100 s (`UI_TEST_DEADLINE_MS`); this one also covers a hung node.
const SCRIPT_BOUND: Duration = Duration::from_secs(120);

/// What the browser test needs that is not there, if anything.
fn missing_tools(ui_dir: &Path) -> Vec<String> {
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push(format!("{CHROMIUM} (Debian's chromium)"));
    }
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !node.is_ok_and(|s| s.success()) {
        missing.push("node".to_owned());
    }
    if !ui_dir
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        missing.push(format!(
            "{} (npm ci)",
            ui_dir.join("node_modules/playwright-core").display()
        ));
    }
    missing
}

fn server_config() -> String {
    format!(
        r#"listen: 127.0.0.1:0
event_keys: [ "k-node-1", "k-node-2" ]
read_keys: [ "{READ_KEY}" ]
timezone: utc
destinations:
  - name: disk
    type: filesystem
    root: events
    partitioning_period: HOUR
    integrity: {{ signing_key: {{ file: keys/audit.key }}, checkpoint_lines: 5, checkpoint_seconds: 1 }}
"#
    )
}

/// Numbers each node's items in order, as a client's spool would.
#[derive(Default)]
struct Batches {
    seqs: std::collections::HashMap<String, u64>,
}

impl Batches {
    fn item(&mut self, node: &str, topic: &str, rk: Option<&str>, event: Value) -> String {
        let seq = self.seqs.entry(node.to_owned()).or_default();
        *seq += 1;
        let mut item = json!({ "node": node, "seq": *seq, "topic": topic });
        if let Some(rk) = rk {
            item["routingKey"] = json!(rk);
        }
        item["event"] = event;
        format!("{item}\n")
    }
}

/// The fixture `run.mjs` knows: alice's 12 numbered events (`n`, one batch each, so they page
/// with `limit=5` over several server timestamps), bob's logins and dataset export, carol's
/// reads by code, dave's compute usage, API-node queries (one failed) under a routing key,
/// mallory's 6 authentication failures (a burst at 5, none at 10), and one event whose user,
/// msgType, a value and a key are HTML and script payloads.
fn post_fixture(server: &ServerProcess) -> usize {
    let url = server.events_url();
    let mut b = Batches::default();
    let mut batches: Vec<(&str, String)> = Vec::new();
    for n in 1..=12 {
        let msg_type = ["project-open", "login", "dataset-read-data-sample"][n % 3];
        let event = json!({"msgType": msg_type, "authUser": "alice", "n": n,
                           "projectKey": "P1", "datasetName": "d1"});
        batches.push(("k-node-1", b.item("web-1", "generic", None, event)));
    }
    let bob: String = (0..3)
        .map(|i| {
            let event = json!({"msgType": "login", "authUser": "bob", "n": 100 + i});
            b.item("web-1", "generic", None, event)
        })
        .collect();
    batches.push(("k-node-1", bob));
    let reads: String = [10, 20]
        .iter()
        .map(|rows| {
            let event = json!({"msgType": "dataset-read-data", "authUser": "carol",
                "projectKey": "P1", "datasetName": "d1", "readBy": "python-recipe", "rows": rows});
            b.item("web-1", "generic", None, event)
        })
        .collect();
    batches.push(("k-node-1", reads));
    let export = json!({"msgType": "dataset-export", "authUser": "bob", "projectKey": "P1",
                        "datasetName": "d2", "params": {"format": "csv", "limit": null}});
    batches.push(("k-node-1", b.item("web-1", "generic", None, export)));
    let cru = json!({"msgType": "compute-resource-usage-complete", "authUser": "dave",
        "projectKey": "P1", "computeResourceUsage": {"id": "cru-1", "type": "SPARK_K8S_JOB",
        "startTime": 1_796_593_193_970_u64, "endTime": 1_796_593_340_130_u64,
        "context": {"type": "JOB_ACTIVITY", "projectKey": "P1", "initiator": "dave"},
        "localProcess": {"userTimeMS": 36520, "systemTimeMS": 3974, "childrenUserTimeMS": 3652,
                         "childrenSystemTimeMS": 397, "rssMBSeconds": 74833.92}}});
    batches.push((
        "k-node-2",
        b.item("web-2", "compute-resource-usage", None, cru),
    ));
    let queries: String = (0..4)
        .map(|i| {
            let mut event = json!({"msgType": "prediction-query", "serviceId": "churn-svc",
                                   "latencyMs": 10 + i});
            if i == 2 {
                event["error"] = json!("model not loaded");
            }
            b.item("web-2", "apinode-query", Some("churn-svc"), event)
        })
        .collect();
    batches.push(("k-node-2", queries));
    let fails: String = (0..6)
        .map(|_| {
            let event = json!({"msgType": "authentication-failed", "authUser": "mallory",
                               "reason": "invalid password", "sourceIp": "127.0.0.2"});
            b.item("web-2", "authfail", None, event)
        })
        .collect();
    batches.push(("k-node-2", fails));
    let hostile = json!({
        "msgType": "</script><script>window.__xss=2</script>",
        "authUser": "<img src=x onerror=\"window.__xss=1\">",
        "note": "<img src=x onerror=alert(1)></td></tr></table><script>window.__xss=3</script>",
        "<b>key</b>": "</script>"
    });
    batches.push(("k-node-1", b.item("web-1", "generic", None, hostile)));

    let mut stored = 0;
    for (key, body) in &batches {
        let (code, text) = post(&url, key, body.as_bytes());
        assert_eq!(code, 200, "{text}");
        let answer: Value = serde_json::from_str(&text).unwrap();
        stored += answer["stored"].as_u64().unwrap() as usize;
        // Distinct server timestamps between batches, so "newest first" has an order to show.
        std::thread::sleep(Duration::from_millis(3));
    }
    stored
}

/// Runs `node run.mjs <base> <key>` in its own process group, printing its lines; kills the
/// group (node and its Chromium) if it outlives `SCRIPT_BOUND`.
fn run_script(ui_dir: &Path, base: &str) -> (Option<i32>, String) {
    let mut child = Command::new("node")
        .arg(ui_dir.join("run.mjs"))
        .arg(base)
        .arg(READ_KEY)
        .current_dir(ui_dir)
        .env("UI_TEST_DEADLINE_MS", "100000")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("start node");
    let pid = child.id() as i32;
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            eprintln!("[ui] {line}");
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            eprintln!("[ui stderr] {line}");
        }
    });
    let deadline = Instant::now() + SCRIPT_BOUND;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            // SAFETY: kill(2) on the group this test created; no memory is involved.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // The group may still hold a Chromium that outlived node: end it too.
    // SAFETY: as above; ESRCH when the group is already gone.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    let text = reader.join().unwrap_or_default();
    (status.and_then(|s| s.code()), text)
}

#[test]
fn viewer_page_in_headless_chromium_shows_what_the_read_api_answers() {
    let ui_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    let missing = missing_tools(&ui_dir);
    if !missing.is_empty() {
        let what = missing.join(", ");
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("the browser test needs {what}: run scripts/install-browser.sh");
        }
        eprintln!("ui_browser: SKIPPED, missing {what} (scripts/install-browser.sh installs them)");
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["keygen", "--out"])
        .arg(dir.path().join("keys"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let server = ServerProcess::start(dir.path(), &server_config());
    assert!(
        server.url.starts_with("http://127.0.0.1:"),
        "{}",
        server.url
    );
    let stored = post_fixture(&server);
    assert_eq!(stored, 12 + 3 + 2 + 1 + 1 + 4 + 6 + 1);

    let (code, text) = run_script(&ui_dir, &server.url);
    assert!(
        code == Some(0),
        "run.mjs exited with {code:?} (None: killed after {SCRIPT_BOUND:?}):\n{text}{}",
        server.log_text()
    );
    assert!(text.contains(" passed, 0 failed"), "{text}");
}
