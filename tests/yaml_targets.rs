//! YAML configs end to end: the installed logger, log4rs's and our component kinds mixed,
//! dotted hierarchy, route filters, durability modes and rolling, checked in real files.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use log4rs_audit::{audit, lifecycle, AuditConfig, AuditError, CallScope, Handle};

#[path = "support/lifecycle_lines.rs"]
mod lifecycle_lines;
use lifecycle_lines::{lifecycle_types, without_lifecycle};

/// One global logger for this test binary; tests take turns with their own configs.
fn handle() -> &'static Handle {
    static HANDLE: OnceLock<Handle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        log4rs_audit::init_config(AuditConfig::from_yaml("root: { level: off }", None).unwrap())
            .unwrap()
    })
}

/// Runs `f` with `yaml` as the running config (`{dir}` a fresh folder). The logger of this
/// binary starts with no audit target, so each file of `yaml` is added by this reload: its
/// trail starts with `audit-config-change` (the logger's own event, checked in `lines`).
fn with_config<R>(yaml: &str, f: impl FnOnce(&Path, &Handle) -> R) -> R {
    with_config_after(yaml, |_| {}, f)
}

/// [`with_config`], running `before` on the handle before the reload.
fn with_config_after<R>(
    yaml: &str,
    before: impl FnOnce(&Handle),
    f: impl FnOnce(&Path, &Handle) -> R,
) -> R {
    static TURN: Mutex<()> = Mutex::new(());
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let yaml = yaml.replace("{dir}", &dir.path().display().to_string());
    let handle = handle();
    before(handle);
    handle
        .set_config(AuditConfig::from_yaml(&yaml, None).unwrap())
        .unwrap();
    let r = f(dir.path(), handle);
    handle
        .set_config(AuditConfig::from_yaml("root: { level: off }", None).unwrap())
        .unwrap();
    r
}

/// Every line of `path`, the logger's own events included.
fn trail(path: &Path) -> Vec<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => text.lines().map(str::to_owned).collect(),
        Err(_) => vec![],
    }
}

/// The application's lines of `path`: its trail without the logger's own events, after
/// checking that those (if any: an audit target has them, another file not) are the reload
/// that added the target, first (the reload that removes it comes after the test).
fn lines(path: &Path) -> Vec<String> {
    let all = trail(path);
    let own = lifecycle_types(&all);
    if !own.is_empty() {
        assert_eq!(
            own,
            [lifecycle::CONFIG_CHANGE],
            "{}: {all:?}",
            path.display()
        );
        assert_eq!(
            lifecycle_lines::lifecycle_type(&all[0]).as_deref(),
            Some(lifecycle::CONFIG_CHANGE),
            "{}: {}",
            path.display(),
            all[0]
        );
    }
    without_lifecycle(all)
}

fn msg_types(path: &Path) -> Vec<String> {
    lines(path)
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["message"]["msgType"]
                .as_str()
                .unwrap_or("<text>")
                .to_owned()
        })
        .collect()
}

#[test]
fn dotted_logger_governs_its_children_and_additivity_holds() {
    let yaml = "
appenders:
  audit: { kind: audit_file, path: '{dir}/audit.log' }
  app: { kind: audit_file, path: '{dir}/app.log' }
root: { level: warn, appenders: [app] }
loggers:
  dku.audit: { level: info, appenders: [audit], additive: false }
  dku.audit.apicalls: { level: warn }
  app::db: { level: debug }
";
    with_config(yaml, |dir, handle| {
        audit!(generic, "login", authUser = "bob");
        log::info!(target: "dku::audit::authfail", msgType = "authentication-failed"; "");
        audit!(apicalls, "api-call"); // apicalls is at warn: dropped
        log::warn!(target: "dku.audit.apicalls", msgType = "slow-call"; "");
        log::info!(target: "dku.auditx", "not a child of dku.audit"); // root: warn, dropped
        log::debug!(target: "app.db.pool", "pool grew"); // app::db at debug, additive → root appender
        log::info!(target: "other", "dropped at warn");
        handle.flush();
        assert_eq!(
            msg_types(&dir.join("audit.log")),
            ["login", "authentication-failed", "slow-call"]
        );
        // The reload that added it is the audit target's first line; `app` is no audit
        // target, so it has none of the logger's own events.
        let audit = trail(&dir.join("audit.log"));
        assert_eq!(lifecycle_types(&audit), [lifecycle::CONFIG_CHANGE]);
        let app = trail(&dir.join("app.log"));
        assert!(lifecycle_types(&app).is_empty(), "{app:?}");
        assert_eq!(app.len(), 1, "{app:?}");
        assert!(app[0].contains("\"logger\":\"app.db.pool\",\"message\":\"pool grew\""));
    });
}

#[test]
fn log4rs_appenders_take_our_encoder_and_ours_take_log4rs_encoders() {
    let yaml = "
appenders:
  log4rs_file:
    kind: file
    path: '{dir}/log4rs-file.log'
    encoder: { kind: audit_envelope, timezone: utc }
  log4rs_rolling:
    kind: rolling_file
    path: '{dir}/log4rs-rolling.log'
    encoder: { kind: audit_envelope }
    policy:
      kind: compound
      trigger: { kind: size, limit: 10 mb }
      roller: { kind: delete }
  ours_with_pattern:
    kind: audit_file
    path: '{dir}/pattern.log'
    encoder: { kind: pattern, pattern: '{X(user)} {X(apiCall)} {l} {t} {m}{n}' }
loggers:
  dku.audit: { level: info, appenders: [log4rs_file, log4rs_rolling, ours_with_pattern], additive: false }
";
    with_config(yaml, |dir, handle| {
        let _call = CallScope::enter("/api/datasets/export").user("alice");
        audit!(generic, "dataset-export", authUser = "alice", rows = 3);
        handle.flush();
        for f in ["log4rs-file.log", "log4rs-rolling.log"] {
            let l = lines(&dir.join(f));
            assert_eq!(l.len(), 1, "{f}");
            assert!(
                l[0].starts_with("{\"severity\":\"INFO\",\"logger\":\"dku.audit.generic\",\"message\":{\"msgType\":\"dataset-export\",\"authUser\":\"alice\",\"rows\":3},\"mdc\":{\"apiCall\":\"/api/datasets/export\",\"user\":\"alice\"},\"callTime\":"),
                "{f}: {}", l[0]
            );
        }
        assert!(lines(&dir.join("log4rs-file.log"))[0].ends_with("+0000\"}"));
        // Both trails of the envelope start with the reload that added them (checked in
        // `lines`); the pattern shows it too, without key-values and outside any call.
        for f in ["log4rs-file.log", "log4rs-rolling.log"] {
            assert_eq!(
                lifecycle_types(trail(&dir.join(f))),
                [lifecycle::CONFIG_CHANGE]
            );
        }
        assert_eq!(
            trail(&dir.join("pattern.log")),
            [
                "  INFO dku.audit.generic ",
                "alice /api/datasets/export INFO dku.audit.generic "
            ]
        );
    });
}

#[test]
fn route_filters_make_targets_per_topic_and_routing_key() {
    let yaml = "
appenders:
  all: { kind: audit_file, path: '{dir}/all.log' }
  authfail:
    kind: file
    path: '{dir}/authfail.log'
    encoder: { kind: audit_envelope }
    filters: [ { kind: audit_route, topics: [authfail] } ]
  fraud:
    kind: audit_file
    path: '{dir}/fraud.log'
    filters: [ { kind: audit_route, topics: [apinode-query], routing_keys: [fraud-svc] } ]
  failures_and_auth:
    kind: audit_file
    path: '{dir}/failures.log'
    filters:
      - { kind: audit_route, topics: [generic-failure, authfail], routing_keys: all }
      - { kind: threshold, level: warn }
loggers:
  dku.audit: { level: info, appenders: [all, authfail, fraud, failures_and_auth], additive: false }
";
    with_config(yaml, |dir, handle| {
        audit!(generic, "login");
        audit!(authfail, "authentication-failed");
        audit!(apinode_query, routing_key = "fraud-svc", "q-fraud");
        audit!(apinode_query, routing_key = "churn-svc", "q-churn");
        audit!(apinode_query, "q-no-key");
        log::warn!(target: "dku.audit.generic-failure", msgType = "job-failed"; "");
        audit!(generic_failure, "info-failure"); // info: stopped by the threshold filter
        handle.flush();
        assert_eq!(msg_types(&dir.join("all.log")).len(), 7);
        assert_eq!(
            msg_types(&dir.join("authfail.log")),
            ["authentication-failed"]
        );
        assert_eq!(msg_types(&dir.join("fraud.log")), ["q-fraud"]);
        assert_eq!(msg_types(&dir.join("failures.log")), ["job-failed"]);
        // The logger's own events skip the route filters, not the others: the reload that
        // added them reaches `authfail` and `fraud`, not `failures_and_auth` (threshold warn).
        for f in ["all.log", "authfail.log", "fraud.log"] {
            let all = trail(&dir.join(f));
            assert_eq!(lifecycle_types(&all), [lifecycle::CONFIG_CHANGE], "{f}");
        }
        assert!(lifecycle_types(trail(&dir.join("failures.log"))).is_empty());
    });
}

#[test]
fn bad_component_options_name_the_appender_and_line() {
    let yaml = "appenders:\n  audit:\n    kind: audit_file\n    path: /tmp/x.log\n    durabilty: immediate\nroot: { level: info, appenders: [audit] }\n";
    let config = AuditConfig::from_yaml(yaml, Some(Path::new("audit.yaml"))).unwrap();
    let e = log4rs_audit::AuditLogger::new(config)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("audit.yaml:2: appenders.audit: kind `audit_file`: "),
        "{e}"
    );
    assert!(e.contains("durabilty") && e.contains("durability"), "{e}");
    let yaml = "appenders:\n  a:\n    kind: console\n    filters: [ { kind: audit_route, topics: [authfial] } ]\n";
    let config = AuditConfig::from_yaml(yaml, Some(Path::new("c.yaml"))).unwrap();
    let e = log4rs_audit::AuditLogger::new(config)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("c.yaml:2: appenders.a.filters: kind `audit_route`:"),
        "{e}"
    );
    assert!(e.contains("authfial"), "{e}");
    let yaml = "appenders:\n  a: { kind: kafka_maybe }\n";
    let config = AuditConfig::from_yaml(yaml, None).unwrap();
    let e = log4rs_audit::AuditLogger::new(config)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("appenders.a") && e.contains("kafka_maybe"),
        "{e}"
    );
}

#[test]
fn concurrent_immediate_callers_each_get_their_line_exactly_once() {
    let yaml = "
appenders:
  audit: { kind: audit_file, path: '{dir}/audit.log', durability: immediate, fsync: batch }
loggers:
  dku.audit: { level: info, appenders: [audit], additive: false }
";
    with_config(yaml, |dir, _| {
        let threads = 8;
        let per_thread = 1500u64;
        std::thread::scope(|s| {
            for t in 0..threads {
                s.spawn(move || {
                    for i in 0..per_thread {
                        audit!(
                            generic,
                            "numbered",
                            thread = t,
                            seq = i,
                            pad = "x".repeat((i % 300) as usize)
                        );
                    }
                });
            }
        });
        // Immediate: no flush needed, every line is in the file once the calls returned.
        let mut seen = BTreeSet::new();
        let mut last = vec![None; threads];
        for line in lines(&dir.join("audit.log")) {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            let t = v["message"]["thread"].as_u64().unwrap() as usize;
            let i = v["message"]["seq"].as_u64().unwrap();
            assert!(seen.insert((t, i)), "duplicate {t}/{i}");
            assert!(last[t] < Some(i), "thread {t} out of order");
            last[t] = Some(i);
        }
        assert_eq!(seen.len() as u64, threads as u64 * per_thread);
    });
}

#[test]
fn buffered_lines_arrive_on_flush_and_on_the_interval() {
    let yaml = "
appenders:
  audit: { kind: audit_file, path: '{dir}/audit.log', durability: buffered, buffer_size: 1 MB, flush_interval: 100 ms }
loggers:
  dku.audit: { level: info, appenders: [audit], additive: false }
";
    with_config(yaml, |dir, handle| {
        audit!(generic, "first");
        let deadline = Instant::now() + Duration::from_secs(10);
        while lines(&dir.join("audit.log")).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(
            msg_types(&dir.join("audit.log")),
            ["first"],
            "not written by the interval flusher"
        );
        for i in 0..100 {
            audit!(generic, "more", i = i);
        }
        handle.flush();
        assert_eq!(lines(&dir.join("audit.log")).len(), 101);
    });
}

#[test]
fn size_rolling_with_gzip_keeps_every_line_in_order() {
    let yaml = "
appenders:
  audit:
    kind: audit_file
    path: '{dir}/audit.log'
    policy: { max_size: 4 KB, max_backups: 50, compress: gzip }
loggers:
  dku.audit: { level: info, appenders: [audit], additive: false }
";
    with_config(yaml, |dir, handle| {
        for i in 0..400u64 {
            audit!(generic, "numbered", seq = i);
        }
        handle.flush();
        // Rolled files are compressed in the background: wait until no plain backup is left.
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::fs::read_dir(dir).unwrap().any(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.ends_with(".tmp")
                || name
                    .strip_prefix("audit.log.")
                    .is_some_and(|n| n.parse::<u32>().is_ok())
        }) {
            assert!(Instant::now() < deadline, "compression never finished");
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut backups: Vec<u32> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().into_string().unwrap();
                name.strip_prefix("audit.log.")?
                    .strip_suffix(".gz")?
                    .parse()
                    .ok()
            })
            .collect();
        backups.sort_unstable();
        assert!(backups.len() > 5, "{backups:?}");
        assert_eq!(backups, (1..=backups.len() as u32).collect::<Vec<_>>());
        // Oldest backup first, current file last: the numbers run 0..400 without a gap.
        let mut all = Vec::new();
        for n in backups.iter().rev() {
            let f = std::fs::File::open(dir.join(format!("audit.log.{n}.gz"))).unwrap();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(f), &mut text).unwrap();
            assert!(text.len() >= 4096 && text.ends_with('\n'));
            all.extend(text.lines().map(str::to_owned));
        }
        all.extend(lines(&dir.join("audit.log")));
        // The oldest backup starts with the reload that added the target.
        assert_eq!(lifecycle_types(&all), [lifecycle::CONFIG_CHANGE]);
        assert!(lifecycle_lines::is_lifecycle(&all[0]), "{}", all[0]);
        let seqs: Vec<u64> = without_lifecycle(all)
            .iter()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["message"]["seq"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(seqs, (0..400).collect::<Vec<_>>());
    });
}

#[test]
fn append_failures_are_reported_not_silent() {
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    // /dev/full accepts the open and fails every write with ENOSPC: a real disk-full.
    let yaml = "
appenders:
  broken: { kind: audit_file, path: /dev/full }
  fine: { kind: audit_file, path: '{dir}/audit.log' }
loggers:
  dku.audit: { level: info, appenders: [broken, fine], additive: false }
";
    // The handler and the count from before the reload: the reload's own
    // `audit-config-change` is written to both targets and fails on /dev/full like any event.
    let before = std::cell::Cell::new(0);
    let sink = Arc::clone(&errors);
    let before_reload = |handle: &Handle| {
        handle.set_error_handler(move |e: &AuditError| sink.lock().unwrap().push(e.to_string()));
        before.set(handle.error_count());
    };
    with_config_after(yaml, before_reload, |dir, handle| {
        for i in 0..3 {
            audit!(generic, "disk-full", seq = i);
        }
        handle.flush();
        let after = handle.error_count();
        handle.set_error_handler(|e| eprintln!("log4rs-audit: {e}"));
        let errors = errors.lock().unwrap().clone();
        // The change and the three events, each reported once.
        assert_eq!(after - before.get(), 4);
        assert_eq!(errors.len(), 4, "{errors:?}");
        for e in &errors {
            assert!(e.starts_with("appender `broken`: /dev/full: "), "{e}");
            assert!(e.contains("No space left"), "{e}");
        }
        // The other target of the same logger still got every event.
        assert_eq!(msg_types(&dir.join("audit.log")), ["disk-full"; 3]);
    });
}

#[test]
fn hostile_key_values_are_refused_for_every_target_and_non_finite_floats_kept_as_text() {
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let yaml = "
appenders:
  audit: { kind: audit_file, path: '{dir}/audit.log' }
  plain: { kind: file, path: '{dir}/plain.log', encoder: { kind: audit_envelope } }
loggers:
  dku.audit: { level: info, appenders: [audit, plain], additive: false }
";
    with_config(yaml, |dir, handle| {
        let sink = Arc::clone(&errors);
        handle.set_error_handler(move |e: &AuditError| sink.lock().unwrap().push(e.to_string()));
        let mut deep = serde_json::Value::from(1);
        for _ in 0..5_000 {
            deep = serde_json::Value::Array(vec![deep]);
        }
        audit!(generic, "twice", seq = 6, seq = 66);
        audit!(generic, "first", msgType = "second");
        audit!(generic, "deep", params:serde = deep);
        audit!(
            generic,
            "floats",
            a = f64::NAN,
            b = f64::INFINITY,
            c = f64::NEG_INFINITY
        );
        handle.flush();
        handle.set_error_handler(|e| eprintln!("log4rs-audit: {e}"));
        let errors = errors.lock().unwrap().clone();
        assert_eq!(
            errors,
            [
                "event of logger `dku.audit.generic` refused: key `seq` is given more than once",
                "event of logger `dku.audit.generic` refused: key `msgType` is given more than once",
                "event of logger `dku.audit.generic` refused: the value of `params` is nested more than 100 levels deep (the event object included)",
            ]
        );
        for file in ["audit.log", "plain.log"] {
            let lines = lines(&dir.join(file));
            assert_eq!(lines.len(), 1, "{file}: {lines:?}");
            let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
            assert_eq!(
                v["message"],
                serde_json::json!({"msgType": "floats", "a": "NaN", "b": "inf", "c": "-inf"}),
                "{file}"
            );
        }
    });
}
