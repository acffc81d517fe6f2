//! Every file in `config-examples/` runs the demo through the real CLI, and the events land where
//! the example says.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use log4rs_audit::lifecycle;

use crate::lifecycle_lines::{
    assert_started_and_stopped, is_lifecycle, lifecycle_types, without_lifecycle,
};

const EVENTS: u64 = 3_000;

struct Run {
    dir: tempfile::TempDir,
    stdout: String,
    per_topic: BTreeMap<String, u64>,
}

impl Run {
    fn file(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    /// (logger, routingKey) of every event of a file, after checking that the logger's own
    /// events are there: its start first, its stop last (the demo drops its handle), no other.
    fn events(&self, rel: &str) -> Vec<(String, Option<String>)> {
        let text = std::fs::read_to_string(self.file(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let lines: Vec<&str> = text.lines().collect();
        assert_started_and_stopped(&lines, rel);
        assert_eq!(
            lifecycle_types(&lines),
            [lifecycle::START, lifecycle::STOP],
            "{rel}"
        );
        without_lifecycle(lines)
            .into_iter()
            .map(|l| {
                let v: serde_json::Value =
                    serde_json::from_str(l).unwrap_or_else(|e| panic!("{rel}: {e}: {l}"));
                (
                    v["logger"].as_str().unwrap().to_owned(),
                    v["message"]["routingKey"].as_str().map(str::to_owned),
                )
            })
            .collect()
    }
    fn count(&self, topic: &str) -> u64 {
        self.per_topic.get(topic).copied().unwrap_or(0)
    }
}

fn run_demo(config: &Path) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let run = crate::demo::run(
        config,
        dir.path(),
        EVENTS,
        &[("DIP_HOME", &dir.path().join("dss"))],
    );
    let (stdout, per_topic) = (run.stdout, run.per_topic);
    Run {
        dir,
        stdout,
        per_topic,
    }
}

fn topic_of(logger: &str) -> &str {
    logger.strip_prefix("dku.audit.").unwrap()
}

fn check_default(run: &Run) {
    let events = run.events("run/audit/audit.log");
    assert_eq!(events.len() as u64, EVENTS);
    assert!(
        run.stdout
            .contains("audit (audit_file): run/audit/audit.log"),
        "{}",
        run.stdout
    );
    for topic in [
        "generic",
        "authfail",
        "apinode-query",
        "compute-resource-usage",
        "apicalls",
    ] {
        let n = events.iter().filter(|(l, _)| topic_of(l) == topic).count() as u64;
        assert_eq!(n, run.count(topic), "{topic}");
    }
}

fn check_per_topic(run: &Run) {
    let files: [(&str, &[&str], Option<&str>); 5] = [
        (
            "run/audit/generic.log",
            &["generic", "generic-failure"],
            None,
        ),
        ("run/audit/authfail.log", &["authfail"], None),
        (
            "run/audit/apinode/fraud-svc.log",
            &["apinode-query"],
            Some("fraud-svc"),
        ),
        (
            "run/audit/apinode/churn-svc.log",
            &["apinode-query"],
            Some("churn-svc"),
        ),
        (
            "run/audit/compute-resource-usage.log",
            &["compute-resource-usage", "apicalls"],
            None,
        ),
    ];
    let mut total = 0;
    for (file, topics, key) in files {
        let events = run.events(file);
        for (logger, rk) in &events {
            assert!(topics.contains(&topic_of(logger)), "{file}: {logger}");
            if key.is_some() {
                assert_eq!(rk.as_deref(), key, "{file}");
            }
        }
        total += events.len() as u64;
    }
    // Every event went to exactly one target.
    assert_eq!(total, EVENTS);
    let queries = run.events("run/audit/apinode/fraud-svc.log").len()
        + run.events("run/audit/apinode/churn-svc.log").len();
    assert_eq!(queries as u64, run.count("apinode-query"));
    assert_eq!(
        run.events("run/audit/authfail.log").len() as u64,
        run.count("authfail")
    );
}

fn check_authfail_console(run: &Run) {
    assert_eq!(run.events("run/audit/audit.log").len() as u64, EVENTS);
    let envelopes: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("{\"severity\""))
        .collect();
    // The console copy is an audit target: the logger's start reaches it too, first, and its
    // stop, last (the demo releases stdout before the handle drops, so the async console
    // writer can write it).
    let own = lifecycle_types(&envelopes);
    assert_eq!(own, [lifecycle::START, lifecycle::STOP], "{}", run.stdout);
    assert!(is_lifecycle(envelopes[0]), "{}", run.stdout);
    assert!(
        is_lifecycle(envelopes[envelopes.len() - 1]),
        "{}",
        run.stdout
    );
    let console = without_lifecycle(envelopes);
    assert!(run.count("authfail") > 0);
    assert_eq!(console.len() as u64, run.count("authfail"));
    for l in console {
        assert!(
            l.starts_with("{\"severity\":\"INFO\",\"logger\":\"dku.audit.authfail\""),
            "{l}"
        );
        assert!(l.ends_with("+0000\"}"), "console copy is in UTC: {l}");
    }
}

fn check_dku_log4j(run: &Run) {
    // ${DIP_HOME} from the environment; JSONAuditLayout is the envelope.
    let events = run.events("dss/run/audit/audit.log");
    assert_eq!(events.len() as u64, EVENTS);
    assert!(
        run.stdout.contains("AUDITFILE (audit_file): "),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("/dss/run/audit/audit.log"),
        "{}",
        run.stdout
    );
}

fn check_app_and_audit(run: &Run) {
    assert_eq!(run.events("run/audit/audit.log").len() as u64, EVENTS);
    let app = std::fs::read_to_string(run.file("run/logs/app.log")).unwrap();
    let finished: Vec<&str> = app
        .lines()
        .filter(|l| l.contains("demo worker finished"))
        .collect();
    assert_eq!(finished.len(), 3, "{app}");
    assert!(
        finished[0].contains(
            " INFO log4rs_audit::demo [] demo worker finished: 1000 audit events emitted"
        ),
        "{}",
        finished[0]
    );
    assert!(
        !app.contains("dku.audit"),
        "audit events must not reach the app log (additive: false)"
    );
    assert!(
        !app.contains("starting with"),
        "debug lines are below the root level"
    );
}

/// `async` over `audit_file` (and, in YAML, over a console copy of authfail): every event is in
/// the file once the demo returns, and the destination is the wrapped file.
fn check_async(run: &Run) {
    let events = run.events("run/audit/audit.log");
    assert_eq!(events.len() as u64, EVENTS);
    assert!(
        run.stdout.contains("audit (async): run/audit/audit.log")
            || run
                .stdout
                .contains("audit (audit_file): run/audit/audit.log"),
        "{}",
        run.stdout
    );
    if run.stdout.contains("authfail_copy") {
        check_authfail_console(run);
    }
}

/// `tracing.yaml` (read by `AuditLayer` in `examples/tracing_service.rs`, run by
/// `tests/tracing_layer.rs`) is an ordinary config: through `init_file` too, API-node queries go
/// to their own file and every other topic to `audit.log`.
fn check_tracing(run: &Run) {
    let apinode = run.events("run/audit/apinode-query.log");
    assert_eq!(apinode.len() as u64, run.count("apinode-query"));
    assert!(apinode
        .iter()
        .all(|(l, k)| l == "dku.audit.apinode-query" && k.is_some()));
    let rest = run.events("run/audit/audit.log");
    assert_eq!((rest.len() + apinode.len()) as u64, EVENTS);
    assert!(rest.iter().all(|(l, _)| l != "dku.audit.apinode-query"));
}

#[test]
fn every_config_example_runs_and_routes_as_documented() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config-examples");
    let checks: BTreeMap<&str, fn(&Run)> = BTreeMap::from([
        ("default.yaml", check_default as fn(&Run)),
        ("per-topic-files.yaml", check_per_topic),
        ("authfail-console.yaml", check_authfail_console),
        ("app-and-audit.yaml", check_app_and_audit),
        ("dku-log4j.properties", check_dku_log4j),
        ("authfail-console.properties", check_authfail_console),
        ("async-audit.yaml", check_async),
        ("async-audit.properties", check_async),
        ("tracing.yaml", check_tracing),
    ]);
    let mut examples: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".yaml") || n.ends_with(".yml") || n.ends_with(".properties"))
        .collect();
    examples.sort();
    let known: Vec<&str> = checks.keys().copied().collect();
    assert_eq!(examples, known, "every example needs a check here");
    for (name, check) in checks {
        check(&run_demo(&dir.join(name)));
    }
}

#[test]
fn demo_without_config_uses_the_embedded_default() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_log4rs-audit"))
        .args(["demo", "--events", "500"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success());
    assert!(
        stdout.starts_with("demo: 500 events from 4 threads"),
        "{stdout}"
    );
    assert!(stdout.contains("(config: embedded default)"));
    assert!(stdout.contains("audit (audit_file): run/audit/audit.log"));
    let text = std::fs::read_to_string(dir.path().join("run/audit/audit.log")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(without_lifecycle(lines.iter()).len(), 500);
    assert_started_and_stopped(&lines, "audit.log");
    assert_eq!(lines.iter().filter(|l| is_lifecycle(l)).count(), 2);
}

#[test]
fn demo_with_a_bad_config_fails_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.yaml");
    std::fs::write(
        &cfg,
        "appenders:\n  a:\n    kind: audit_file\n    path: x.log\n    policy: { max_size: lots }\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_log4rs-audit"))
        .args(["demo", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(&format!(
            "{}:2: appenders.a: kind `audit_file`",
            cfg.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("lots"), "{stderr}");
}

/// `demo | head -1`: a reader that stops early is no error; the events are all written.
#[test]
fn demo_into_a_closed_pipe_still_succeeds_and_writes_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_log4rs-audit"))
        .args(["demo", "--events", "400"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader is gone before the summary is printed
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let trail = std::fs::read_to_string(dir.path().join("run/audit/audit.log")).unwrap();
    let lines: Vec<&str> = trail.lines().collect();
    assert_eq!(without_lifecycle(lines.iter()).len(), 400);
    // The closed pipe did not stop the orderly shutdown: the stop is the last line.
    assert_started_and_stopped(&lines, "audit.log");
    assert_eq!(lines.iter().filter(|l| is_lifecycle(l)).count(), 2);
}
