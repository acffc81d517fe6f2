//! The tracing Layer (issue 14): one scripted scenario written once through `init_file` +
//! `audit!` and once through `fmt::layer()` + `AuditLayer` + `tracing::info!`, each in its own
//! process (the pipeline is per process), gives the same trail byte for byte once times are
//! masked; `log`'s run-time level set to `Off` changes nothing in either.

#![cfg(feature = "tracing")]

use std::path::{Path, PathBuf};
use std::process::Command;

use log4rs_audit::{audit, lifecycle, AuditContext, CallScope};
use tracing::{info_span, Instrument};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// Counts the allocations made on each thread, so a test can see what one event costs.
struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

unsafe impl std::alloc::GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        std::alloc::System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        std::alloc::System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        std::alloc::System.realloc(ptr, layout, size)
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn allocations() -> u64 {
    ALLOCATIONS.with(std::cell::Cell::get)
}

#[path = "support/lifecycle_lines.rs"]
mod lifecycle_lines;
use lifecycle_lines::{assert_started_and_stopped, is_lifecycle_text, lifecycle_types};

#[path = "../examples/tracing_service.rs"]
#[allow(dead_code)]
mod example;

/// `<mode>|<folder>`: run the scenario in this process (see [`scenario_child`]).
const CHILD_ENV: &str = "LOG4RS_AUDIT_TRACING_CHILD";

/// The audit config both front doors read: every audit topic as envelope lines, and the same
/// events through log4j's pattern layout (MDC by key and whole).
fn write_config(dir: &Path) -> PathBuf {
    let path = dir.join("audit.yaml");
    let d = dir.display();
    std::fs::write(
        &path,
        format!(
            "appenders:\n  \
               audit: {{ kind: audit_file, path: '{d}/audit.log' }}\n  \
               pattern:\n    kind: audit_file\n    path: '{d}/pattern.log'\n    \
                 encoder: {{ kind: log4j_pattern, pattern: '%p %c [%X{{user}}] %X %m%n' }}\n\
             loggers:\n  \
               dku.audit: {{ level: info, appenders: [audit, pattern], additive: false }}\n"
        ),
    )
    .unwrap();
    path
}

/// The scenario through `audit!` under `init_file`, context from `CallScope` and
/// `AuditContext`.
fn scenario_with_audit_macro() {
    {
        let _call = CallScope::enter("/api/projects/get-summary").user("admin");
        audit!(
            generic,
            "login",
            authUser = "admin",
            ok = true,
            attempts = 3,
            ratio = 0.25,
            big = u64::MAX,
            neg = -7i64
        );
        {
            let _inner = CallScope::enter("/api/datasets/export")
                .user("alice")
                .mdc("projectKey", "P1");
            audit!(
                generic,
                "dataset-export",
                authUser = "alice",
                datasetName = "customers",
                rows = 1200u32,
                format:% = "csv",
                dims:? = (3, 4)
            );
        }
        audit!(
            apinode_query,
            routing_key = "fraud-svc",
            "prediction-query",
            authUser = "svc",
            latencyMs = 3.5
        );
    }
    audit!(authfail, "login-failed", authUser = "mallory");
    let job = {
        let _call = CallScope::enter("/api/jobs/start").user("bob");
        AuditContext::current()
    };
    std::thread::spawn(move || {
        let _in = job.enter();
        audit!(generic, "flow-job-start", authUser = "bob", jobId = "J1");
    })
    .join()
    .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        use log4rs_audit::InAuditContext;
        let ctx = {
            let _call = CallScope::enter("/api/scenarios/run").user("carol");
            AuditContext::current()
        };
        tokio::spawn(
            async {
                tokio::task::yield_now().await;
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                audit!(
                    generic,
                    "scenario-run",
                    authUser = "carol",
                    scenarioId = "S1"
                );
            }
            .in_audit_context(ctx),
        )
        .await
        .unwrap();
    });
    log::info!(target: "app", "not an audit event");
}

/// The same scenario through `tracing` under `AuditLayer`: context from spans, one event
/// through `audit!` (which takes the current span's context too), msgType not first in one.
fn scenario_with_tracing() {
    {
        let _call = info_span!(
            "call",
            apiCall = "/api/projects/get-summary",
            user = "admin"
        )
        .entered();
        tracing::info!(
            target: "dku.audit.generic",
            msgType = "login",
            authUser = "admin",
            ok = true,
            attempts = 3,
            ratio = 0.25,
            big = u64::MAX,
            neg = -7i64
        );
        {
            let _inner = info_span!(
                "export",
                apiCall = "/api/datasets/export",
                user = "alice",
                projectKey = "P1"
            )
            .entered();
            audit!(
                generic,
                "dataset-export",
                authUser = "alice",
                datasetName = "customers",
                rows = 1200u32,
                format:% = "csv",
                dims:? = (3, 4)
            );
        }
        tracing::info!(
            target: "dku.audit.apinode-query",
            msgType = "prediction-query",
            routingKey = "fraud-svc",
            authUser = "svc",
            latencyMs = 3.5
        );
    }
    tracing::info!(target: "dku.audit.authfail", authUser = "mallory", msgType = "login-failed");
    let job = info_span!("job", apiCall = "/api/jobs/start", user = "bob");
    std::thread::spawn(move || {
        let _in = job.entered();
        tracing::info!(target: "dku.audit.generic", msgType = "flow-job-start", authUser = "bob", jobId = "J1");
    })
    .join()
    .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let span = info_span!("scenario", apiCall = "/api/scenarios/run", user = "carol");
        tokio::spawn(
            async {
                tokio::task::yield_now().await;
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                tracing::info!(target: "dku.audit.generic", msgType = "scenario-run", authUser = "carol", scenarioId = "S1");
            }
            .instrument(span),
        )
        .await
        .unwrap();
    });
    tracing::info!(target: "app", "not an audit event");
    tracing::debug!(target: "dku.audit.generic", msgType = "below-the-audit-level");
}

/// The child: runs the scenario one way, with `log`'s level at `Off` once the pipeline runs.
#[test]
fn scenario_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (mode, dir) = spec.split_once('|').unwrap();
    let config = write_config(Path::new(dir));
    let handle = match mode {
        "audit-macro" => {
            let handle = log4rs_audit::init_file(&config).unwrap();
            log::set_max_level(log::LevelFilter::Off);
            scenario_with_audit_macro();
            handle
        }
        "layer" | "layer+log-tracer" => {
            let (layer, handle) = log4rs_audit::AuditLayer::from_file(&config).unwrap();
            // The service's own output, filtered to warnings: not a filter on audit.
            let fmt = tracing_subscriber::fmt::layer()
                .with_writer(std::io::sink)
                .with_filter(LevelFilter::WARN);
            let subscriber = tracing_subscriber::registry().with(fmt).with(layer);
            if mode == "layer" {
                tracing::subscriber::set_global_default(subscriber).unwrap();
            } else {
                subscriber.init(); // also installs tracing-log's LogTracer
            }
            log::set_max_level(log::LevelFilter::Off);
            scenario_with_tracing();
            handle
        }
        other => panic!("unknown mode {other}"),
    };
    handle.flush();
    println!("child: done");
}

/// Runs the scenario `mode` in a child process; its trail's `(audit.log, pattern.log)`.
fn run_child(mode: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "scenario_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, format!("{mode}|{}", dir.path().display()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("child: done"),
        "{mode}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    (read("audit.log"), read("pattern.log"))
}

/// The trail with its times masked: `"timestamp":"…"` and the number of `"callTime":N`; the
/// logger's own events left out (they name the run's folder, pid and config digest), after
/// checking that they are a start first and a stop last (the child drops its handle).
fn masked(trail: &str) -> String {
    let lines: Vec<&str> = trail.lines().collect();
    assert_started_and_stopped(&lines, "audit.log");
    assert_eq!(lifecycle_types(&lines), [lifecycle::START, lifecycle::STOP]);
    let mut out = String::with_capacity(trail.len());
    for line in lifecycle_lines::without_lifecycle(lines) {
        let mut line = line.to_owned();
        for (key, end) in [("\"timestamp\":\"", '"'), ("\"callTime\":", ',')] {
            if let Some(start) = line.find(key).map(|i| i + key.len()) {
                let stop = start + line[start..].find(end).unwrap();
                line.replace_range(start..stop, "…");
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[test]
fn the_layer_writes_the_trail_audit_writes_byte_for_byte() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let (audit_log, audit_pattern) = run_child("audit-macro");
    let audit_masked = masked(&audit_log);
    let audit_pattern = pattern_events(&audit_pattern);
    let lines = lifecycle_lines::without_lifecycle(audit_log.lines());
    assert_eq!(lines.len(), 6, "{audit_log}");
    assert!(lines[0].starts_with(
        r#"{"severity":"INFO","logger":"dku.audit.generic","message":{"msgType":"login","authUser":"admin","ok":true,"attempts":3,"ratio":0.25,"big":18446744073709551615,"neg":-7},"mdc":{"apiCall":"/api/projects/get-summary","user":"admin"},"callTime":"#
    ), "{}", lines[0]);
    assert!(lines[1].contains(r#""message":{"msgType":"dataset-export","authUser":"alice","datasetName":"customers","rows":1200,"format":"csv","dims":"(3, 4)"},"mdc":{"apiCall":"/api/datasets/export","projectKey":"P1","user":"alice"},"callTime":"#), "{}", lines[1]);
    assert!(lines[2].contains(r#""logger":"dku.audit.apinode-query","message":{"msgType":"prediction-query","routingKey":"fraud-svc","authUser":"svc","latencyMs":3.5}"#), "{}", lines[2]);
    assert!(
        lines[3].contains(
            r#""message":{"msgType":"login-failed","authUser":"mallory"},"mdc":{},"timestamp""#
        ),
        "{}",
        lines[3]
    );
    assert!(
        lines[5].contains(r#""mdc":{"apiCall":"/api/scenarios/run","user":"carol"},"callTime":"#),
        "{}",
        lines[5]
    );
    assert!(audit_pattern.starts_with("INFO dku.audit.generic [admin] {{apiCall,/api/projects/get-summary}{user,admin}} {\"msgType\":\"login\""), "{audit_pattern}");
    for mode in ["layer", "layer+log-tracer"] {
        let (log, pattern) = run_child(mode);
        assert_eq!(masked(&log), audit_masked, "{mode}: audit.log");
        assert_eq!(
            pattern_events(&pattern),
            audit_pattern,
            "{mode}: pattern.log"
        );
    }
}

/// The pattern trail's lines of the application's events, after checking that the logger's
/// own come first (start) and last (stop) and nowhere else.
fn pattern_events(trail: &str) -> String {
    let lines: Vec<&str> = trail.lines().collect();
    let own: Vec<usize> = (0..lines.len())
        .filter(|&i| is_lifecycle_text(lines[i]))
        .collect();
    assert_eq!(own, [0, lines.len() - 1], "pattern.log: {trail}");
    assert!(
        lines[0].contains(&format!("{{\"msgType\":\"{}\"", lifecycle::START)),
        "{}",
        lines[0]
    );
    assert!(
        lines[lines.len() - 1].contains(&format!("{{\"msgType\":\"{}\"", lifecycle::STOP)),
        "{}",
        lines[lines.len() - 1]
    );
    lines[1..lines.len() - 1]
        .iter()
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `config-examples/tracing.yaml` through `examples/tracing_service.rs`, as `cargo run
/// --example tracing_service` runs it: in a child, in a scratch working folder.
#[test]
fn example_child() {
    let Ok(dir) = std::env::var("LOG4RS_AUDIT_TRACING_EXAMPLE") else {
        return;
    };
    std::env::set_current_dir(dir).unwrap();
    example::run(Path::new(env!("CARGO_MANIFEST_DIR")).join("config-examples/tracing.yaml"))
        .unwrap();
}

#[test]
fn the_tracing_example_writes_its_trail() {
    if std::env::var("LOG4RS_AUDIT_TRACING_EXAMPLE").is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "example_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("LOG4RS_AUDIT_TRACING_EXAMPLE", dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let trail = std::fs::read_to_string(dir.path().join("run/audit/audit.log")).unwrap();
    let apinode = std::fs::read_to_string(dir.path().join("run/audit/apinode-query.log")).unwrap();
    // Each audit target of the example: the logger's start first, its stop last.
    for (name, text) in [("audit.log", &trail), ("apinode-query.log", &apinode)] {
        let lines: Vec<&str> = text.lines().collect();
        assert_started_and_stopped(&lines, name);
        assert_eq!(
            lifecycle_types(&lines),
            [lifecycle::START, lifecycle::STOP],
            "{name}"
        );
    }
    let apinode = lifecycle_lines::without_lifecycle(apinode.lines()).join("\n");
    let generic: Vec<serde_json::Value> = lifecycle_lines::without_lifecycle(trail.lines())
        .into_iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(generic.len(), example::REQUESTS * 2, "{trail}");
    for event in &generic {
        assert_eq!(event["mdc"]["apiCall"], "/api/datasets/export", "{event}");
        assert!(event["callTime"].is_u64(), "{event}");
    }
    let users: std::collections::BTreeSet<&str> = generic
        .iter()
        .map(|e| e["mdc"]["user"].as_str().unwrap())
        .collect();
    assert_eq!(users.len(), example::REQUESTS, "{trail}");
    assert_eq!(apinode.lines().count(), example::REQUESTS, "{apinode}");
    assert!(apinode.contains(r#""routingKey":"fraud-svc""#), "{apinode}");
}

/// Once its buffers have grown, an event through the Layer (fields, span context, envelope,
/// the file's batch) allocates nothing on the caller, as on the `log` path.
#[test]
fn an_event_through_the_layer_allocates_nothing_once_warm() {
    if std::env::var(CHILD_ENV).is_ok() || std::env::var("LOG4RS_AUDIT_TRACING_EXAMPLE").is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "appenders:\n  audit: {{ kind: audit_file, path: '{}/audit.log' }}\n\
         loggers:\n  dku.audit: {{ level: info, appenders: [audit], additive: false }}\n",
        dir.path().display()
    );
    let config = log4rs_audit::AuditConfig::from_yaml(&yaml, None).unwrap();
    let (logger, handle) = log4rs_audit::AuditLogger::new(config).unwrap();
    let layer = log4rs_audit::AuditLayer::from_logger(logger.clone());
    let per_event = |emit: &dyn Fn(u64)| {
        for i in 0..2_000 {
            emit(i); // grows every buffer, fills the caches
        }
        let before = allocations();
        for i in 0..1_000 {
            emit(i);
        }
        (allocations() - before) as f64 / 1_000.0
    };
    let through_layer = tracing::subscriber::with_default(
        tracing_subscriber::registry().with(layer),
        || {
            let _call =
                info_span!("call", apiCall = "/api/datasets/export", user = "alice").entered();
            per_event(&|i| {
                tracing::info!(target: "dku.audit.generic", msgType = "dataset-export", authUser = "alice", datasetName = "customers", rows = i, format = %"csv");
            })
        },
    );
    let through_log = {
        use log::Log;
        let _call = CallScope::enter("/api/datasets/export").user("alice");
        per_event(&|i| {
            let kvs: [(&str, log::kv::Value); 5] = [
                ("msgType", "dataset-export".into()),
                ("authUser", "alice".into()),
                ("datasetName", "customers".into()),
                ("rows", i.into()),
                ("format", "csv".into()),
            ];
            logger.log(
                &log::Record::builder()
                    .target("dku.audit.generic")
                    .level(log::Level::Info)
                    .args(format_args!(""))
                    .key_values(&kvs)
                    .build(),
            );
        })
    };
    handle.flush();
    assert!(
        through_layer < 0.01 && through_log < 0.01,
        "allocations per event: layer {through_layer}, log path {through_log}"
    );
    let written = std::fs::read_to_string(dir.path().join("audit.log")).unwrap();
    // The logger's start, then the events (the handle is still running: no stop yet).
    assert_eq!(lifecycle_types(written.lines()), [lifecycle::START]);
    assert!(lifecycle_lines::is_lifecycle(
        written.lines().next().unwrap()
    ));
    assert_eq!(
        lifecycle_lines::without_lifecycle(written.lines()).len(),
        6_000
    );
}
