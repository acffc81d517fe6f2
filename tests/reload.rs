//! Reload while events flow: an invalid file is reported with file, line and key and the running
//! config stays; valid changes apply; no event is lost or written twice across the swaps.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use log4rs_audit::audit;

const V1: &str = "
refresh_rate: 50 ms
appenders:
  audit: { kind: audit_file, path: '{dir}/a.log' }
root: { level: warn }
loggers:
  dku.audit: { level: info, appenders: [audit], additive: false }
";

/// A typo in an option: must be reported and ignored.
const BAD: &str = "
refresh_rate: 50 ms
appenders:
  audit: { kind: audit_file, path: '{dir}/a.log' }
  extra:
    kind: audit_file
    path: '{dir}/b.log'
    durabilty: immediate
root: { level: warn }
loggers:
  dku.audit: { level: info, appenders: [audit, extra], additive: false }
";

/// Adds an appender; `audit` is unchanged so it is carried over as the same open file.
const V2: &str = "
refresh_rate: 50 ms
appenders:
  audit: { kind: audit_file, path: '{dir}/a.log' }
  extra:
    kind: audit_file
    path: '{dir}/b.log'
    filters: [ { kind: audit_route, topics: [authfail] } ]
root: { level: warn }
loggers:
  dku.audit: { level: info, appenders: [audit, extra], additive: false }
";

/// Moves the audit file: events before the swap are in a.log, after it in a2.log.
const V3: &str = "
refresh_rate: 50 ms
appenders:
  audit: { kind: audit_file, path: '{dir}/a2.log', durability: buffered }
root: { level: warn }
loggers:
  dku.audit: { level: info, appenders: [audit], additive: false }
";

fn write_atomically(path: &Path, text: &str, dir: &Path) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text.replace("{dir}", &dir.display().to_string())).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn reload_under_load_keeps_old_config_on_error_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let cfg = dir.join("audit.yaml");
    write_atomically(&cfg, V1, dir);
    let handle = log4rs_audit::init_file(&cfg).unwrap();
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = Arc::clone(&errors);
    handle.set_error_handler(move |e| sink.lock().unwrap().push(e.to_string()));

    let stop = AtomicBool::new(false);
    let emitted: Vec<u64> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2u64)
            .map(|t| {
                let stop = &stop;
                s.spawn(move || {
                    let mut seq = 0u64;
                    while !stop.load(Ordering::Relaxed) || seq < 2_000 {
                        audit!(generic, "numbered", thread = t, seq = seq);
                        seq += 1;
                        if seq % 64 == 0 {
                            std::thread::yield_now();
                        }
                    }
                    seq
                })
            })
            .collect();

        std::thread::sleep(Duration::from_millis(100));
        write_atomically(&cfg, BAD, dir);
        wait_for("the reload error", || !errors.lock().unwrap().is_empty());
        assert_eq!(
            handle.config().appenders.len(),
            1,
            "bad config must not be applied"
        );

        write_atomically(&cfg, V2, dir);
        wait_for("v2", || handle.config().appenders.len() == 2);
        std::thread::sleep(Duration::from_millis(100));
        write_atomically(&cfg, V3, dir);
        wait_for("v3", || {
            handle.config().appenders.len() == 1
                && handle.destinations()[0].path == Some(dir.join("a2.log"))
        });
        std::thread::sleep(Duration::from_millis(100));
        stop.store(true, Ordering::Relaxed);
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    handle.flush();

    let errors = errors.lock().unwrap().clone();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let cfg_name = cfg.display().to_string();
    assert!(
        errors[0].starts_with(&format!("config not reloaded, keeping the running one: {cfg_name}:5: appenders.extra: kind `audit_file`: ")),
        "{}",
        errors[0]
    );
    assert!(errors[0].contains("durabilty"), "{}", errors[0]);

    let mut seen = BTreeSet::new();
    let mut per_file = Vec::new();
    for f in ["a.log", "a2.log"] {
        let text = std::fs::read_to_string(dir.join(f)).unwrap();
        per_file.push(text.lines().count());
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let key = (
                v["message"]["thread"].as_u64().unwrap(),
                v["message"]["seq"].as_u64().unwrap(),
            );
            assert!(seen.insert(key), "{key:?} written twice");
        }
    }
    assert!(per_file.iter().all(|n| *n > 0), "{per_file:?}");
    for (t, n) in emitted.iter().enumerate() {
        for seq in 0..*n {
            assert!(seen.contains(&(t as u64, seq)), "event {t}/{seq} lost");
        }
    }
    assert_eq!(seen.len() as u64, emitted.iter().sum::<u64>());
    assert!(
        !dir.join("b.log").exists()
            || std::fs::read_to_string(dir.join("b.log"))
                .unwrap()
                .is_empty()
    );

    // An explicit reload of an unreadable file is an error and changes nothing.
    std::fs::write(&cfg, "appenders: [").unwrap();
    let e = handle.reload().unwrap_err().to_string();
    assert!(e.starts_with(&format!("{cfg_name}:1:")), "{e}");
    assert_eq!(handle.destinations()[0].path, Some(dir.join("a2.log")));
}

#[test]
fn an_emptied_config_file_is_never_applied() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let cfg = dir.join("audit.yaml");
    write_atomically(&cfg, V1, dir);
    let config = log4rs_audit::AuditConfig::from_file(&cfg).unwrap();
    let (_logger, handle) = log4rs_audit::AuditLogger::new(config).unwrap();
    // Truncated as `>` or an editor does before writing: must not drop every appender.
    std::fs::write(&cfg, "").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(handle.destinations().len(), 1);
    assert_eq!(handle.destinations()[0].path, Some(dir.join("a.log")));
    // The finished file is applied.
    write_atomically(&cfg, V3, dir);
    wait_for("v3", || {
        handle.destinations()[0].path == Some(dir.join("a2.log"))
    });
}
