//! The Layer under a test's own subscriber (`with_default`, not installed for `audit!`).

use std::path::Path;
use std::sync::{Arc, Mutex};

use tracing_subscriber::layer::SubscriberExt;

use super::AuditLayer;
use crate::{lifecycle, AuditConfig, AuditLogger, Handle};

/// A Layer writing every `dku.audit` event (INFO and above) to `<dir>/audit.log`.
fn layer(dir: &Path) -> (AuditLayer, Handle) {
    let yaml = format!(
        "appenders:\n  a: {{ kind: audit_file, path: '{}/audit.log' }}\n\
         loggers:\n  dku.audit: {{ level: info, appenders: [a], additive: false }}\n",
        dir.display()
    );
    let (logger, handle) = AuditLogger::new(AuditConfig::from_yaml(&yaml, None).unwrap()).unwrap();
    (AuditLayer::from_logger(logger), handle)
}

/// Every line of `<dir>/audit.log`, the logger's own events included.
fn trail(dir: &Path, handle: &Handle) -> Vec<serde_json::Value> {
    handle.flush();
    std::fs::read_to_string(dir.join("audit.log"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Whether `event` is one of the logger's own (`audit-logger-start`, …).
fn is_lifecycle(event: &serde_json::Value) -> bool {
    event["logger"] == lifecycle::LOGGER
        && event["message"]["msgType"]
            .as_str()
            .is_some_and(lifecycle::is_lifecycle)
}

/// The events the Layer wrote to `<dir>/audit.log`: the trail without the logger's own
/// events, after checking that it starts with `audit-logger-start`.
fn lines(dir: &Path, handle: &Handle) -> Vec<serde_json::Value> {
    let all = trail(dir, handle);
    assert_eq!(
        all.first().map(|e| e["message"]["msgType"].clone()),
        Some(lifecycle::START.into()),
        "{all:?}"
    );
    all.into_iter().filter(|e| !is_lifecycle(e)).collect()
}

#[test]
fn only_events_the_config_routes_become_records() {
    let dir = tempfile::tempdir().unwrap();
    let (layer, handle) = layer(dir.path());
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info!(target: "app::db", msgType = "not-audit", "a service log line");
        tracing::debug!(target: "dku.audit.generic", msgType = "below-the-level");
        tracing::warn!(target: "dku.audit.generic", msgType = "login", authUser = "bob");
        tracing::info!(target: "dku.audit.generic", msgType = "note", "with {} text", 2);
    });
    let got = lines(dir.path(), &handle);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0]["severity"], "WARN");
    assert_eq!(got[0]["message"]["msgType"], "login");
    assert_eq!(got[1]["message"]["text"], "with 2 text", "{}", got[1]);
    assert_eq!(got[0]["mdc"], serde_json::json!({}));
    assert!(got[0].get("callTime").is_none());
    // The orderly shutdown: the handle's drop writes the stop, the trail's last line.
    drop(handle);
    let text = std::fs::read_to_string(dir.path().join("audit.log")).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["message"]["msgType"], lifecycle::STOP, "{last}");
    assert_eq!(text.lines().count(), 4, "{text}");
}

#[test]
fn fields_recorded_later_count_and_an_api_call_recorded_later_starts_the_clock() {
    let dir = tempfile::tempdir().unwrap();
    let (layer, handle) = layer(dir.path());
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let span = tracing::info_span!(
            "call",
            apiCall = tracing::field::Empty,
            user = "first",
            n = 3
        );
        let _in = span.enter();
        tracing::info!(target: "dku.audit.generic", msgType = "before");
        span.record("user", "second");
        span.record("apiCall", "/api/late");
        tracing::info!(target: "dku.audit.generic", msgType = "after");
    });
    let got = lines(dir.path(), &handle);
    assert_eq!(
        got[0]["mdc"],
        serde_json::json!({"n": "3", "user": "first"})
    );
    assert!(got[0].get("callTime").is_none(), "{}", got[0]);
    assert_eq!(
        got[1]["mdc"],
        serde_json::json!({"apiCall": "/api/late", "n": "3", "user": "second"})
    );
    assert!(got[1]["callTime"].is_u64(), "{}", got[1]);
}

#[test]
fn span_fields_win_over_the_threads_mdc_and_the_innermost_span_wins() {
    let dir = tempfile::tempdir().unwrap();
    let (layer, handle) = layer(dir.path());
    let _call = crate::CallScope::enter("/api/scope")
        .user("from-scope")
        .mdc("tenant", "t1");
    let again = layer.clone();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let _outer = tracing::info_span!("outer", user = "outer", projectKey = "P1").entered();
        let _inner = tracing::info_span!("inner", user = "inner").entered();
        tracing::info!(target: "dku.audit.generic", msgType = "x");
    });
    tracing::subscriber::with_default(tracing_subscriber::registry().with(again), || {
        tracing::info!(target: "dku.audit.generic", msgType = "no-span");
    });
    let got = lines(dir.path(), &handle);
    assert_eq!(
        got[0]["mdc"],
        serde_json::json!({"apiCall": "/api/scope", "projectKey": "P1", "tenant": "t1", "user": "inner"})
    );
    // The CallScope's clock: no span has an `apiCall`.
    assert!(got[0]["callTime"].is_u64());
    // Outside the spans the thread's own MDC is back, untouched.
    assert_eq!(
        got[1]["mdc"],
        serde_json::json!({"apiCall": "/api/scope", "tenant": "t1", "user": "from-scope"})
    );
    assert_eq!(
        log_mdc::get("user", |v| v.map(str::to_owned)).as_deref(),
        Some("from-scope")
    );
}

#[test]
fn a_field_given_twice_is_refused_and_reported_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let (layer, handle) = layer(dir.path());
    let errors = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&errors);
    handle.set_error_handler(move |e| seen.lock().unwrap().push(e.to_string()));
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info!(target: "dku.audit.generic", msgType = "x", authUser = "a", authUser = "b");
        tracing::info!(target: "dku.audit.generic", msgType = "ok");
    });
    let got = lines(dir.path(), &handle);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["message"]["msgType"], "ok");
    let errors = errors.lock().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("`authUser` is given more than once"),
        "{errors:?}"
    );
}

#[test]
fn a_reload_changes_what_the_layer_routes() {
    let dir = tempfile::tempdir().unwrap();
    let (layer, handle) = layer(dir.path());
    let subscriber = tracing_subscriber::registry().with(layer);
    let dispatch = tracing::Dispatch::new(subscriber);
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::debug!(target: "dku.audit.generic", msgType = "debug-before");
    });
    let mut config = handle.config();
    for l in &mut config.loggers {
        l.level = Some(log::LevelFilter::Debug);
    }
    handle.set_config(config).unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::debug!(target: "dku.audit.generic", msgType = "debug-after");
    });
    let got = lines(dir.path(), &handle);
    let types: Vec<_> = got
        .iter()
        .map(|e| e["message"]["msgType"].clone())
        .collect();
    assert_eq!(types, ["debug-after"]);
    // The reload itself is in the trail, before the event it let through.
    let all: Vec<_> = trail(dir.path(), &handle)
        .iter()
        .map(|e| e["message"]["msgType"].clone())
        .collect();
    assert_eq!(
        all,
        [lifecycle::START, lifecycle::CONFIG_CHANGE, "debug-after"]
    );
}

#[test]
fn a_field_recorded_into_a_parent_reaches_the_children_already_entered() {
    let dir = tempfile::tempdir().unwrap();
    let (layer, handle) = layer(dir.path());
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let root = tracing::info_span!("root", user = tracing::field::Empty);
        let _root = root.enter();
        let child = tracing::info_span!("child");
        let _child = child.enter();
        let grandchild = tracing::info_span!("grandchild", step = 1);
        let _grandchild = grandchild.enter();
        tracing::info!(target: "dku.audit.generic", msgType = "before");
        root.record("user", "late");
        tracing::info!(target: "dku.audit.generic", msgType = "after");
    });
    let got = lines(dir.path(), &handle);
    assert_eq!(got[0]["mdc"], serde_json::json!({"step": "1"}));
    assert_eq!(
        got[1]["mdc"],
        serde_json::json!({"step": "1", "user": "late"})
    );
}

#[test]
fn spans_exited_out_of_order_leave_the_right_context() {
    let dir = tempfile::tempdir().unwrap();
    let (layer, handle) = layer(dir.path());
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let a = tracing::info_span!("a", user = "a");
        let b = tracing::info_span!("b", user = "b");
        let entered_a = a.enter();
        let entered_b = b.enter();
        drop(entered_a); // out of order: b stays entered
        tracing::info!(target: "dku.audit.generic", msgType = "in-b");
        drop(entered_b);
        tracing::info!(target: "dku.audit.generic", msgType = "outside");
        let _again = a.enter();
        tracing::info!(target: "dku.audit.generic", msgType = "in-a");
    });
    let got = lines(dir.path(), &handle);
    let mdc: Vec<_> = got.iter().map(|e| e["mdc"].clone()).collect();
    assert_eq!(
        mdc,
        [
            serde_json::json!({"user": "b"}),
            serde_json::json!({}),
            serde_json::json!({"user": "a"})
        ]
    );
}

/// An `async` queue in front of log4rs's own `file` appender captures the record on the caller
/// (its encoder is not known there): the spans' fields and call start travel with it.
#[test]
fn the_span_context_travels_through_an_async_queue() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "appenders:\n  a:\n    kind: async\n    appender:\n      kind: file\n      path: '{}/audit.log'\n      \
         encoder: {{ kind: audit_envelope }}\n\
         loggers:\n  dku.audit: {{ level: info, appenders: [a], additive: false }}\n",
        dir.path().display()
    );
    let (logger, handle) = AuditLogger::new(AuditConfig::from_yaml(&yaml, None).unwrap()).unwrap();
    let layer = AuditLayer::from_logger(logger);
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let _call = tracing::info_span!("call", apiCall = "/api/x", user = "u").entered();
        tracing::info!(target: "dku.audit.generic", msgType = "queued");
    });
    let got = lines(dir.path(), &handle);
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0]["mdc"],
        serde_json::json!({"apiCall": "/api/x", "user": "u"})
    );
    assert!(got[0]["callTime"].is_u64(), "{}", got[0]);
}
