//! The trail's own events, end to end on real files: `audit-logger-start` first in every audit
//! target (with the config file's SHA-256), `audit-config-change` on an applied reload,
//! `audit-config-change-refused` when `lock: true` refuses one (and the old config still
//! writing everywhere), heartbeats, and `audit-logger-stop` last at the handle's drop.
//!
//! Loggers are built with `AuditLogger::new` and not installed, so the tests share no
//! process-wide state; the binary's test runs `log4rs-audit demo` and `query`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use log::Log;
use log4rs_audit::{AuditConfig, AuditError, AuditLogger, ConfigError, Handle};
use serde_json::Value;
use sha2::Digest;

/// The folder of the test, in config texts given to [`start`] (which replaces it).
const DIR: &str = "{dir}";

/// The lines of an envelope file, parsed.
fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn msg_type(line: &Value) -> &str {
    line["message"]["msgType"].as_str().unwrap_or("")
}

fn of_type<'a>(lines: &'a [Value], t: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| msg_type(l) == t).collect()
}

fn sha256_of(path: &Path) -> String {
    let digest = sha2::Sha256::digest(std::fs::read(path).unwrap());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Logs one `generic` and one `authfail` event, named `tag`.
fn log_events(logger: &AuditLogger, tag: &str) {
    for target in ["dku.audit.generic", "dku.audit.authfail"] {
        let kvs = [("msgType", log::kv::Value::from(tag))];
        logger.log(
            &log::Record::builder()
                .target(target)
                .level(log::Level::Info)
                .args(format_args!(""))
                .key_values(&kvs)
                .build(),
        );
    }
}

/// A YAML config in `dir`: `all` takes every audit topic, `fails` only `authfail` (through a
/// route filter), plus whatever `extra` adds under `appenders:`; `head` goes at the top.
fn yaml(
    dir: impl AsRef<Path>,
    head: &str,
    all_opts: &str,
    fails_topics: &str,
    extra: &str,
) -> String {
    let d = dir.as_ref().display();
    let extra_names: Vec<&str> = extra
        .lines()
        .filter_map(|l| l.strip_prefix("  ")?.split(':').next())
        .filter(|n| !n.starts_with(' '))
        .collect();
    let mut appenders = vec!["all", "fails"];
    appenders.extend(extra_names);
    format!(
        "{head}appenders:\n  all: {{ kind: audit_file, path: '{d}/all.log'{all_opts} }}\n  \
         fails:\n    kind: audit_file\n    path: '{d}/fails.log'\n    filters:\n      - {{ kind: audit_route, topics: {fails_topics} }}\n\
         {extra}loggers:\n  dku.audit: {{ level: info, appenders: [{}], additive: false }}\n",
        appenders.join(", ")
    )
}

struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
    logger: AuditLogger,
    handle: Handle,
}

fn start(text: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let text = text.replace("{dir}", &dir.path().display().to_string());
    let config = dir.path().join("audit.yaml");
    std::fs::write(&config, text).unwrap();
    let (logger, handle) = AuditLogger::new(AuditConfig::from_file(&config).unwrap()).unwrap();
    Setup {
        dir,
        config,
        logger,
        handle,
    }
}

/// A file in the test's folder (a function, so it is usable once the handle is moved out).
fn at(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

impl Setup {
    fn rewrite(&self, text: &str) {
        let text = text.replace("{dir}", &self.dir.path().display().to_string());
        std::fs::write(&self.config, text).unwrap();
    }
}

#[test]
fn start_is_first_and_stop_last_in_every_target_even_one_routing_other_topics() {
    let text = yaml(DIR, "", "", "[authfail]", "");
    let s = start(&text);
    let sha = sha256_of(&s.config);
    log_events(&s.logger, "work");
    drop(s.handle);
    for name in ["all.log", "fails.log"] {
        let got = lines(&at(&s.dir, name));
        let first = &got[0];
        assert_eq!(msg_type(first), "audit-logger-start", "{name}: {first}");
        assert_eq!(first["logger"], "dku.audit.generic");
        assert_eq!(first["severity"], "INFO");
        let m = &first["message"];
        assert_eq!(m["configSha256"], sha.as_str(), "{name}");
        assert_eq!(m["configFile"], s.config.display().to_string());
        assert_eq!(m["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(m["pid"], std::process::id());
        assert!(m["host"].as_str().is_some_and(|h| !h.is_empty()));
        // Field order, on the raw line (serde_json's Value sorts keys).
        let raw = std::fs::read_to_string(at(&s.dir, name)).unwrap();
        let raw = raw.lines().next().unwrap();
        let prefix = r#"{"severity":"INFO","logger":"dku.audit.generic","message":{"msgType":"audit-logger-start","version":""#;
        assert!(raw.starts_with(prefix), "{raw}");
        for (a, b) in [
            ("\"version\"", "\"configFile\""),
            ("\"configFile\"", "\"configSha256\""),
            ("\"configSha256\"", "\"targets\""),
            ("\"targets\"", "\"pid\""),
            ("\"pid\"", "\"host\""),
            (
                r#"{"name":"all","kind":"audit_file","destination":"#,
                r#""topics":"all","routingKeys":"all","integrity":false}"#,
            ),
        ] {
            assert!(raw.find(a) < raw.find(b), "{a} before {b}: {raw}");
        }
        let targets = m["targets"].as_array().unwrap();
        assert_eq!(targets.len(), 2, "{m}");
        assert_eq!(targets[0]["name"], "all");
        assert_eq!(targets[0]["kind"], "audit_file");
        assert_eq!(targets[0]["topics"], "all");
        assert_eq!(targets[1]["name"], "fails");
        assert_eq!(targets[1]["topics"], serde_json::json!(["authfail"]));
        assert_eq!(targets[1]["routingKeys"], "all");
        assert_eq!(targets[1]["integrity"], false);
        let last = got.last().unwrap();
        assert_eq!(msg_type(last), "audit-logger-stop", "{name}");
        assert_eq!(last["message"]["configSha256"], sha.as_str());
    }
    // Routing still applies to everything else: `fails` got the authfail event only.
    let fails = lines(&at(&s.dir, "fails.log"));
    let work: Vec<_> = of_type(&fails, "work");
    assert_eq!(work.len(), 1);
    assert_eq!(work[0]["logger"], "dku.audit.authfail");
    assert_eq!(of_type(&lines(&at(&s.dir, "all.log")), "work").len(), 2);
}

#[test]
fn a_reload_adding_a_target_is_an_audit_config_change_listing_it() {
    let before = yaml(DIR, "", "", "[authfail]", "");
    let s = start(&before);
    let old_sha = sha256_of(&s.config);
    let extra = format!(
        "  more: {{ kind: audit_file, path: '{}/more.log' }}\n",
        s.dir.path().display()
    );
    s.rewrite(&yaml(s.dir.path(), "", "", "[authfail]", &extra));
    let new_sha = sha256_of(&s.config);
    s.handle.reload().unwrap();
    log_events(&s.logger, "after");
    drop(s.handle);
    for name in ["all.log", "fails.log", "more.log"] {
        let got = lines(&at(&s.dir, name));
        let changes = of_type(&got, "audit-config-change");
        assert_eq!(changes.len(), 1, "{name}: {got:?}");
        let m = &changes[0]["message"];
        assert_eq!(m["oldSha256"], old_sha.as_str());
        assert_eq!(m["newSha256"], new_sha.as_str());
        assert_eq!(m["added"][0]["name"], "more", "{m}");
        assert_eq!(m["added"].as_array().unwrap().len(), 1);
        assert_eq!(m["removed"], serde_json::json!([]));
        assert_eq!(m["changed"], serde_json::json!([]));
    }
    let more = lines(&at(&s.dir, "more.log"));
    assert_eq!(
        msg_type(&more[0]),
        "audit-config-change",
        "the new target's first line"
    );
    assert_eq!(of_type(&more, "after").len(), 2);
    assert_eq!(msg_type(more.last().unwrap()), "audit-logger-stop");
}

#[test]
fn without_lock_a_removed_target_ends_with_the_change_that_removed_it() {
    let s = start(&yaml(DIR, "", "", "[authfail]", ""));
    let d = s.dir.path().display().to_string();
    s.rewrite(&format!(
        "appenders:\n  all: {{ kind: audit_file, path: '{d}/all.log' }}\n\
         loggers:\n  dku.audit: {{ level: info, appenders: [all], additive: false }}\n"
    ));
    s.handle.reload().unwrap();
    drop(s.handle);
    let fails = lines(&at(&s.dir, "fails.log"));
    let last = fails.last().unwrap();
    assert_eq!(msg_type(last), "audit-config-change");
    assert_eq!(last["message"]["removed"][0]["name"], "fails");
    let all = lines(&at(&s.dir, "all.log"));
    assert_eq!(of_type(&all, "audit-config-change").len(), 1);
    assert_eq!(msg_type(all.last().unwrap()), "audit-logger-stop");
}

/// Each way of lowering coverage, as a new config for a locked one, and the words the refusal
/// must contain.
fn lowering_configs(dir: &Path) -> Vec<(&'static str, String, &'static str)> {
    let integrity = ", integrity: {}";
    let d = dir.display();
    vec![
        (
            "remove a target",
            format!(
                "audit: {{ lock: true }}\nappenders:\n  all: {{ kind: audit_file, path: '{d}/all.log'{integrity} }}\n\
                 loggers:\n  dku.audit: {{ level: info, appenders: [all], additive: false }}\n"
            ),
            "target `fails` would be removed",
        ),
        (
            "narrow topics",
            yaml(dir, "audit: { lock: true }\n", integrity, "[generic-failure]", ""),
            "target `fails` would no longer accept topic authfail",
        ),
        (
            "raise the level to OFF",
            yaml(dir, "audit: { lock: true }\n", integrity, "[authfail]", "")
                .replace("level: info", "level: off"),
            "the level of dku.audit.generic, dku.audit.generic-failure, dku.audit.authfail",
        ),
        (
            "turn integrity off",
            yaml(dir, "audit: { lock: true }\n", "", "[authfail]", ""),
            "target `all` would turn integrity off",
        ),
        (
            "narrow routing keys",
            yaml(dir, "audit: { lock: true }\n", integrity, "[authfail], routing_keys: [k1]", ""),
            "target `fails` would accept only routing keys k1 instead of all",
        ),
        (
            "unlock",
            yaml(dir, "", integrity, "[authfail]", ""),
            "`lock` would be turned off",
        ),
    ]
}

#[test]
fn a_locked_config_refuses_each_lowering_reload_and_keeps_writing_everywhere() {
    let probe = tempfile::tempdir().unwrap();
    for (case, _, _) in lowering_configs(probe.path()) {
        let before = yaml(
            DIR,
            "audit: { lock: true }\n",
            ", integrity: {}",
            "[authfail]",
            "",
        );
        let s = start(&before);
        let old_sha = sha256_of(&s.config);
        let (_, after, reason) = lowering_configs(s.dir.path())
            .into_iter()
            .find(|(c, _, _)| *c == case)
            .unwrap();
        s.rewrite(&after);
        let refused_sha = sha256_of(&s.config);
        let err = s.handle.reload().unwrap_err();
        assert!(matches!(err, ConfigError::Locked { .. }), "{case}: {err}");
        let message = err.to_string();
        assert!(message.contains(reason), "{case}: {message}");
        assert!(
            message.contains("refused by `lock: true`"),
            "{case}: {message}"
        );
        assert!(
            message.starts_with(&s.config.display().to_string()),
            "{message}"
        );
        assert!(s.handle.config().audit.lock, "{case}: the old config runs");
        log_events(&s.logger, "after");
        drop(s.handle);
        let all = lines(&at(&s.dir, "all.log"));
        let fails = lines(&at(&s.dir, "fails.log"));
        assert_eq!(
            of_type(&all, "after").len(),
            2,
            "{case}: old config still writes"
        );
        assert_eq!(
            of_type(&fails, "after").len(),
            1,
            "{case}: old config still writes"
        );
        for got in [&all, &fails] {
            let refused = of_type(got, "audit-config-change-refused");
            assert_eq!(refused.len(), 1, "{case}: {got:?}");
            let m = &refused[0]["message"];
            assert!(
                m["reason"].as_str().unwrap().contains(reason),
                "{case}: {m}"
            );
            assert_eq!(m["refusedSha256"], refused_sha.as_str(), "{case}");
            assert_eq!(m["configSha256"], old_sha.as_str(), "{case}");
            assert!(of_type(got, "audit-config-change").is_empty(), "{case}");
        }
    }
}

#[test]
fn a_locked_config_takes_a_reload_that_adds_a_target() {
    let head = "audit: { lock: true }\n";
    let s = start(&yaml(DIR, head, "", "[authfail]", ""));
    let extra = format!(
        "  more: {{ kind: audit_file, path: '{}/more.log' }}\n",
        s.dir.path().display()
    );
    // Adding a target and widening a route filter lower nothing.
    s.rewrite(&yaml(s.dir.path(), head, "", "[authfail, generic]", &extra));
    s.handle.reload().unwrap();
    log_events(&s.logger, "after");
    drop(s.handle);
    let all = lines(&at(&s.dir, "all.log"));
    let change = of_type(&all, "audit-config-change");
    assert_eq!(change.len(), 1);
    assert_eq!(change[0]["message"]["added"][0]["name"], "more");
    assert_eq!(change[0]["message"]["changed"][0]["name"], "fails");
    assert_eq!(
        change[0]["message"]["changed"][0]["topics"],
        serde_json::json!(["generic", "authfail"])
    );
    assert_eq!(of_type(&lines(&at(&s.dir, "more.log")), "after").len(), 2);
    assert_eq!(of_type(&lines(&at(&s.dir, "fails.log")), "after").len(), 2);
}

#[test]
fn set_config_under_lock_is_refused_too() {
    let s = start(&yaml(DIR, "audit: { lock: true }\n", "", "[authfail]", ""));
    let d = s.dir.path().display().to_string();
    let smaller = AuditConfig::from_yaml(
        &format!(
            "audit: {{ lock: true }}\nappenders:\n  all: {{ kind: audit_file, path: '{d}/all.log' }}\n\
             loggers:\n  dku.audit: {{ level: info, appenders: [all], additive: false }}\n"
        ),
        None,
    )
    .unwrap();
    let err = s.handle.set_config(smaller).unwrap_err().to_string();
    assert!(err.contains("target `fails` would be removed"), "{err}");
    assert_eq!(s.handle.config().appenders.len(), 2);
    drop(s.handle);
    assert_eq!(
        of_type(
            &lines(&at(&s.dir, "fails.log")),
            "audit-config-change-refused"
        )
        .len(),
        1
    );
}

/// The reload thread's path: the refusal is reported to the error handler (naming the target)
/// and written to the trail; an invalid file is refused and written the same way.
#[test]
fn a_watched_file_that_lowers_coverage_is_refused_and_reported() {
    let head = "refresh_rate: 20ms\naudit: { lock: true }\n";
    let s = start(&yaml(DIR, head, "", "[authfail]", ""));
    let reported = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = Arc::clone(&reported);
    s.handle.set_error_handler(move |e: &AuditError| {
        sink.lock().unwrap().push(e.to_string());
    });
    s.rewrite(&yaml(s.dir.path(), head, "", "[generic]", ""));
    let until = Instant::now() + Duration::from_secs(20);
    while reported.lock().unwrap().is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    let first = reported
        .lock()
        .unwrap()
        .first()
        .cloned()
        .unwrap_or_default();
    assert!(
        first.starts_with("config not reloaded, keeping the running one: "),
        "{first}"
    );
    assert!(
        first.contains("target `fails` would no longer accept topic authfail"),
        "{first}"
    );
    // An invalid file: refused with the parser's reason.
    s.rewrite(&format!("{head}rooot: {{}}\n"));
    while reported.lock().unwrap().len() < 2 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    log_events(&s.logger, "after");
    drop(s.handle);
    let fails = lines(&at(&s.dir, "fails.log"));
    let refused = of_type(&fails, "audit-config-change-refused");
    assert_eq!(refused.len(), 2, "{fails:?}");
    assert!(refused[1]["message"]["reason"]
        .as_str()
        .unwrap()
        .contains("rooot"));
    assert_eq!(of_type(&fails, "after").len(), 1);
}

#[test]
fn heartbeats_are_numbered_and_stop_with_the_handle() {
    let s = start(&yaml(
        DIR,
        "audit: { heartbeat: 100ms }\n",
        "",
        "[authfail]",
        "",
    ));
    let all = at(&s.dir, "all.log");
    let until = Instant::now() + Duration::from_secs(30);
    while of_type(&lines(&all), "audit-heartbeat").len() < 3 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(s.handle);
    for name in ["all.log", "fails.log"] {
        let got = lines(&at(&s.dir, name));
        let beats = of_type(&got, "audit-heartbeat");
        assert!(beats.len() >= 3, "{name}: {} beats", beats.len());
        for (i, b) in beats.iter().enumerate() {
            assert_eq!(b["message"]["beat"], i as u64 + 1, "{name}");
            assert!(b["message"]["uptimeMs"].as_u64().is_some());
        }
        let stop = got.last().unwrap();
        assert_eq!(
            msg_type(stop),
            "audit-logger-stop",
            "{name}: no beat after the stop"
        );
        assert_eq!(stop["message"]["beats"], beats.len() as u64);
    }
    // The thread is gone: nothing more is written.
    let n = lines(&all).len();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(lines(&all).len(), n);
}

#[test]
fn a_reload_can_start_the_heartbeat() {
    let s = start(&yaml(DIR, "", "", "[authfail]", ""));
    s.rewrite(&yaml(
        s.dir.path(),
        "audit: { heartbeat: 50ms }\n",
        "",
        "[authfail]",
        "",
    ));
    s.handle.reload().unwrap();
    let all = at(&s.dir, "all.log");
    let until = Instant::now() + Duration::from_secs(30);
    while of_type(&lines(&all), "audit-heartbeat").len() < 2 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(s.handle);
    let got = lines(&all);
    assert!(of_type(&got, "audit-heartbeat").len() >= 2);
    let change = of_type(&got, "audit-config-change");
    assert_eq!(change[0]["message"]["heartbeat"], "50ms");
}

#[test]
fn audit_options_are_parsed_strictly() {
    let e = AuditConfig::from_yaml("audit: { lokc: true }\n", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("lokc") && e.contains("lock"), "{e}");
    let e = AuditConfig::from_yaml("audit:\n  heartbeat: often\n", None)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("line 2: audit.heartbeat: `often`"), "{e}");
    let e = AuditConfig::from_yaml("audit: { heartbeat: 1ms }\n", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("would flood the trail"), "{e}");
}

#[test]
fn properties_lock_and_heartbeat() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let props = dir.path().join("log4j.properties");
    let text = |lock: &str, file: &str| {
        format!(
            "log4rs.audit.lock={lock}\nlog4rs.audit.heartbeat=50ms\n\
             log4j.logger.dku.audit=INFO, A, B\nlog4j.additivity.dku.audit=false\n\
             log4j.appender.A=AuditFileAppender\nlog4j.appender.A.File={d}/a.log\n\
             log4j.appender.B=AuditFileAppender\nlog4j.appender.B.File={d}/{file}\n"
        )
    };
    std::fs::write(&props, text("true", "b.log")).unwrap();
    let config = AuditConfig::from_file(&props).unwrap();
    assert!(config.audit.lock);
    assert_eq!(config.audit.heartbeat, Some(Duration::from_millis(50)));
    let sha = sha256_of(&props);
    assert_eq!(config.sha256.as_deref(), Some(sha.as_str()));
    let (_logger, handle) = AuditLogger::new(config).unwrap();
    // Dropping B (here: a config without it) is refused under the lock.
    std::fs::write(&props, text("true", "b.log").replace(", A, B", ", A")).unwrap();
    let err = handle.reload().unwrap_err().to_string();
    assert!(err.contains("target `B` would be removed"), "{err}");
    let until = Instant::now() + Duration::from_secs(30);
    let a = dir.path().join("a.log");
    while of_type(&lines(&a), "audit-heartbeat").is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(handle);
    let got = lines(&a);
    assert_eq!(msg_type(&got[0]), "audit-logger-start");
    assert_eq!(got[0]["message"]["configSha256"], sha.as_str());
    assert_eq!(got[0]["message"]["lock"], true);
    assert_eq!(of_type(&got, "audit-config-change-refused").len(), 1);
    assert!(!of_type(&got, "audit-heartbeat").is_empty());

    std::fs::write(
        &props,
        format!("log4rs.audit.lok=true\n{}", text("true", "b.log")),
    )
    .unwrap();
    let e = AuditConfig::from_file(&props).unwrap_err().to_string();
    assert!(e.contains(":1: log4rs.audit.lok: unknown key"), "{e}");
    std::fs::write(&props, text("yes", "b.log")).unwrap();
    let e = AuditConfig::from_file(&props).unwrap_err().to_string();
    assert!(
        e.contains("log4rs.audit.lock: `yes` is not true or false"),
        "{e}"
    );
}

/// The binary: a demo run's trail starts with `audit-logger-start` and ends with
/// `audit-logger-stop`, and `query` shows them as any other event.
#[test]
fn demo_trail_carries_start_and_stop_and_query_shows_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let config = dir.path().join("audit.yaml");
    std::fs::write(
        &config,
        format!(
            "appenders:\n  audit: {{ kind: audit_file, path: '{d}/audit.log' }}\n\
             loggers:\n  dku.audit: {{ level: info, appenders: [audit], additive: false }}\n"
        ),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_log4rs-audit");
    let out = std::process::Command::new(bin)
        .args(["demo", "--threads", "2", "--events", "50", "--config"])
        .arg(&config)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = lines(&dir.path().join("audit.log"));
    assert_eq!(got.len(), 52, "50 events, start and stop");
    assert_eq!(msg_type(&got[0]), "audit-logger-start");
    assert_eq!(
        got[0]["message"]["configSha256"],
        sha256_of(&config).as_str()
    );
    assert_eq!(msg_type(got.last().unwrap()), "audit-logger-stop");
    let out = std::process::Command::new(bin)
        .arg("query")
        .arg(dir.path().join("audit.log"))
        .args(["--msg-type", "audit-logger-start,audit-logger-stop"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: Vec<&str> = text.lines().collect();
    assert_eq!(shown.len(), 2, "{text}");
    assert!(shown[0].contains("audit-logger-start") && shown[1].contains("audit-logger-stop"));
}
