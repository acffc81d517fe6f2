//! `AuditLayer` drives the same targets and reads the same configs as `init_file` (issue 14):
//! tracing events into a real Event Server process through the `event_server` target (which
//! sends the event object, as it does for `log` records), and a log4j `.properties` config. Each Layer here is a test's own (`from_logger`, `with_default`),
//! so nothing process-wide is touched.

#![cfg(feature = "tracing")]

use log4rs_audit::{lifecycle, AuditConfig, AuditLayer, AuditLogger};
use tracing_subscriber::layer::SubscriberExt;

use crate::lifecycle_lines::{
    assert_started, is_lifecycle_event, lifecycle_types, lifecycle_types_of, without_lifecycle,
};
use crate::support::{config, stored_events, ServerProcess};

#[test]
fn tracing_events_reach_a_real_event_server_whole_and_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &config(""));
    let yaml = format!(
        "appenders:\n  central:\n    kind: event_server\n    url: {url}\n    auth_key: k-node-1\n    \
         spool_dir: '{dir}/spool'\n    linger: 5ms\n    flush_timeout: 30s\n\
         loggers:\n  dku.audit: {{ level: info, appenders: [central], additive: false }}\n",
        url = server.url,
        dir = dir.path().display()
    );
    let (logger, handle) = AuditLogger::new(AuditConfig::from_yaml(&yaml, None).unwrap()).unwrap();
    let layer = AuditLayer::from_logger(logger);
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let _call =
            tracing::info_span!("call", apiCall = "/api/datasets/export", user = "alice").entered();
        for i in 0..50u64 {
            tracing::info!(target: "dku.audit.generic", msgType = "dataset-export", authUser = "alice", n = i);
        }
        tracing::info!(target: "dku.audit.authfail", msgType = "login-failed", routingKey = "sso", authUser = "eve");
    });
    handle.flush();
    let all = stored_events(&dir.path().join("events"));
    // The logger's start reached the server too (the stop comes with the handle's drop).
    assert_eq!(lifecycle_types_of(&all), [lifecycle::START], "{all:?}");
    let stored: Vec<serde_json::Value> =
        all.into_iter().filter(|e| !is_lifecycle_event(e)).collect();
    assert_eq!(stored.len(), 51, "{stored:?}");
    let mut n: Vec<u64> = stored
        .iter()
        .filter(|e| e["msgType"] == "dataset-export")
        .map(|e| {
            assert_eq!(e["authUser"], "alice", "{e}");
            e["n"].as_u64().unwrap()
        })
        .collect();
    n.sort_unstable();
    assert_eq!(n, (0..50).collect::<Vec<_>>());
    let authfail = stored_events(&dir.path().join("authfail"));
    assert_eq!(
        authfail,
        [serde_json::json!({"authUser": "eve", "msgType": "login-failed", "routingKey": "sso"})]
    );
}

#[test]
fn a_log4j_properties_config_drives_the_layer_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.properties");
    std::fs::write(
        &path,
        format!(
            "log4j.logger.dku.audit=INFO, audit\n\
             log4j.additivity.dku.audit=false\n\
             log4j.appender.audit=AuditFileAppender\n\
             log4j.appender.audit.File={}/audit.log\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let (logger, handle) = AuditLogger::new(AuditConfig::from_file(&path).unwrap()).unwrap();
    tracing::subscriber::with_default(
        tracing_subscriber::registry().with(AuditLayer::from_logger(logger)),
        || {
            let _s = tracing::info_span!("s", user = "bob").entered();
            tracing::info!(target: "dku.audit.generic", msgType = "login", authUser = "bob");
            tracing::debug!(target: "dku.audit.generic", msgType = "below-info");
        },
    );
    handle.flush();
    let text = std::fs::read_to_string(dir.path().join("audit.log")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // The logger's start, then the one event.
    assert_started(&lines, "audit.log");
    assert_eq!(lifecycle_types(&lines), [lifecycle::START], "{text}");
    assert_eq!(without_lifecycle(lines).len(), 1, "{text}");
    assert!(
        text.contains(
            r#""message":{"msgType":"login","authUser":"bob"},"mdc":{"user":"bob"},"timestamp""#
        ),
        "{text}"
    );
}
