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

/// One of the logger's own events (`audit-logger-start`, `audit-config-change`, …), which
/// every reload writes beside the application's; these tests count the application's.
fn is_lifecycle(v: &serde_json::Value) -> bool {
    v["message"]["msgType"]
        .as_str()
        .is_some_and(|t| t.starts_with("audit-logger-") || t.starts_with("audit-config-change"))
}

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
            if is_lifecycle(&v) {
                continue;
            }
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
    // `extra` takes authfail only: no generic event of the application, just the logger's
    // own changes, the one that added it and the one that removed it.
    let b: Vec<serde_json::Value> = std::fs::read_to_string(dir.join("b.log"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let types: Vec<&str> = b
        .iter()
        .map(|v| v["message"]["msgType"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["audit-config-change", "audit-config-change"]);
    assert_eq!(b[0]["message"]["added"][0]["name"], "extra", "{}", b[0]);
    assert_eq!(b[1]["message"]["removed"][0]["name"], "extra", "{}", b[1]);

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

/// Configs of one rolling file that differ only in `max_size`, `durability` and `integrity`: a
/// reload between them must hand the open file and its roll state over (issue 11, item 14).
const ROLLING: &str = "
appenders:
  audit:
    kind: audit_file
    path: '{dir}/audit.log'
    policy: { max_size: {size}, max_backups: 1000, compress: gzip }
    durability: {durability}
    {integrity}
loggers:
  dku.audit: { level: info, appenders: [audit], additive: false }
";

const THREADS: u64 = 4;
const EVENTS: u64 = 15_000;

/// `(max_size, durability, integrity line)` for [`ROLLING`].
type Variant<'a> = (&'a str, &'a str, &'a str);

/// Logs `EVENTS` numbered events from each of `THREADS` threads while another thread reloads
/// between `variants` every 20 ms, then checks every event is in `<dir>/audit.log*` once, in
/// each thread's order, with every rolled file gzipped.
fn log_while_reloading(dir: &Path, variants: &[Variant]) {
    use log::Log;
    use log4rs_audit::{AuditConfig, AuditLogger};

    let configs: Vec<AuditConfig> = variants
        .iter()
        .map(|(size, durability, integrity)| {
            let yaml = ROLLING
                .replace("{dir}", &dir.display().to_string())
                .replace("{size}", size)
                .replace("{durability}", durability)
                .replace("{integrity}", integrity);
            AuditConfig::from_yaml(&yaml, None).unwrap()
        })
        .collect();
    let (logger, handle) = AuditLogger::new(configs[0].clone()).unwrap();
    let stop = AtomicBool::new(false);
    // Reloads so far: each worker waits for a few before its last events, so however the
    // scheduler treats the reloader on a busy machine, reloads happen while lines are logged.
    let reloaded = std::sync::atomic::AtomicUsize::new(0);
    let reloads = std::thread::scope(|s| {
        let reloaded = &reloaded;
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let logger = &logger;
                s.spawn(move || {
                    let pad = "p".repeat(60);
                    for seq in 0..EVENTS {
                        if seq == EVENTS - 100 {
                            let deadline = std::time::Instant::now() + Duration::from_secs(60);
                            while reloaded.load(Ordering::Relaxed) <= 10
                                && std::time::Instant::now() < deadline
                            {
                                std::thread::sleep(Duration::from_millis(5));
                            }
                        }
                        let kvs: [(&str, log::kv::Value); 4] = [
                            ("msgType", "numbered".into()),
                            ("thread", t.into()),
                            ("seq", seq.into()),
                            ("pad", pad.as_str().into()),
                        ];
                        logger.log(
                            &log::Record::builder()
                                .target("dku.audit.generic")
                                .level(log::Level::Info)
                                .key_values(&kvs)
                                .build(),
                        );
                    }
                })
            })
            .collect();
        let stop = &stop;
        let configs = &configs;
        let handle = &handle;
        let reloader = s.spawn(move || {
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                handle
                    .set_config(configs[n % configs.len()].clone())
                    .unwrap();
                reloaded.store(n, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
            n
        });
        for w in workers {
            w.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        reloader.join().unwrap()
    });
    assert!(
        reloads > 10,
        "only {reloads} reloads: the test proves nothing"
    );
    assert_eq!(handle.error_count(), 0);
    drop(logger);
    drop(handle);

    // Oldest first: the highest backup index down to .1, then the live file.
    let mut backups = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let Some(rest) = name.strip_prefix("audit.log") else {
            continue;
        };
        if rest.is_empty() || rest.ends_with(".digest") {
            continue;
        }
        let index = rest.strip_prefix('.').and_then(|r| r.strip_suffix(".gz"));
        let index: u32 = index
            .and_then(|i| i.parse().ok())
            .unwrap_or_else(|| panic!("unexpected file {name}: every rolled file is gzipped"));
        backups.push(index);
    }
    backups.sort_unstable_by(|a, b| b.cmp(a));
    assert!(backups.len() > 20, "only {} rolls", backups.len());
    let mut files: Vec<Vec<u8>> = backups
        .iter()
        .map(|i| {
            let raw = std::fs::read(dir.join(format!("audit.log.{i}.gz"))).unwrap();
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&raw[..]), &mut out)
                .unwrap();
            out
        })
        .collect();
    files.push(std::fs::read(dir.join("audit.log")).unwrap());
    let mut next = vec![0u64; THREADS as usize];
    for text in &files {
        for line in std::str::from_utf8(text).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if is_lifecycle(&v) {
                continue;
            }
            let t = v["message"]["thread"].as_u64().unwrap() as usize;
            let seq = v["message"]["seq"].as_u64().unwrap();
            assert_eq!(
                seq, next[t],
                "thread {t}: event {seq} where {} was due (lost, repeated or out of order)",
                next[t]
            );
            next[t] += 1;
        }
    }
    assert_eq!(
        next,
        vec![EVENTS; THREADS as usize],
        "events lost at the end"
    );
}

#[test]
fn reloading_a_rolling_file_loses_no_rolled_file_and_keeps_each_threads_order() {
    let dir = tempfile::tempdir().unwrap();
    log_while_reloading(
        dir.path(),
        &[
            ("100 KB", "immediate", ""),
            ("120 KB", "immediate", ""),
            ("100 KB", "buffered", ""),
        ],
    );
}

/// With `integrity`, reloads that change its options too (the sidecar is closed and the chain
/// resumed) leave a trail that verifies.
#[test]
fn reloading_a_rolling_file_with_integrity_keeps_a_trail_that_verifies() {
    let dir = tempfile::tempdir().unwrap();
    log_while_reloading(
        dir.path(),
        &[
            (
                "100 KB",
                "immediate",
                "integrity: { checkpoint_lines: 100 }",
            ),
            ("120 KB", "buffered", "integrity: { checkpoint_lines: 100 }"),
            (
                "100 KB",
                "immediate",
                "integrity: { checkpoint_lines: 300 }",
            ),
        ],
    );
    let options = log4rs_audit::integrity::VerifyOptions::default();
    let report =
        log4rs_audit::integrity::verify_paths(&[dir.path().join("audit.log")], &options).unwrap();
    assert!(report.ok(), "{}", report.to_text());
    assert!(report.files.len() > 20, "{}", report.to_text());
}
