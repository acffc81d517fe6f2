//! Call scopes and the MDC follow async tasks across `.await` points and the threads of a
//! multi-threaded tokio runtime, and never leak between tasks.

use std::collections::HashSet;
use std::time::{Duration, Instant, UNIX_EPOCH};

use log4rs_audit::encode::{AuditEnvelopeEncoder, FixedClock, Timezone};
use log4rs_audit::{AuditContext, CallScope, InAuditContext};

fn mdc(key: &str) -> Option<String> {
    log_mdc::get(key, |v| v.map(str::to_owned))
}

/// The envelope line an event would get right now on this thread.
fn envelope_now() -> serde_json::Value {
    let encoder = AuditEnvelopeEncoder::new(Timezone::Utc)
        .with_clock(FixedClock::new(UNIX_EPOCH, Instant::now()));
    let kvs = [("msgType", log::kv::Value::from("step"))];
    let record = log::Record::builder()
        .target("dku.audit.generic")
        .key_values(&kvs)
        .build();
    let mut line = Vec::new();
    encoder.encode_into(&mut line, &record);
    serde_json::from_slice(&line).unwrap()
}

#[test]
fn tasks_keep_their_own_context_across_awaits_and_threads() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()
        .unwrap();
    let results = runtime.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..64u32 {
            let ctx = {
                let _call = CallScope::enter(format!("/api/task/{i}"))
                    .user(format!("user{i}"))
                    .started_at(Instant::now() - Duration::from_millis(1000 + u64::from(i)));
                AuditContext::current()
            };
            let task = async move {
                let mut threads = HashSet::new();
                let mut seen = Vec::new();
                for step in 0..20u32 {
                    threads.insert(std::thread::current().id());
                    if step % 3 == 0 {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    } else {
                        tokio::task::yield_now().await;
                    }
                    let line = envelope_now();
                    seen.push((line["mdc"].clone(), line["callTime"].as_u64()));
                }
                // A scope opened inside the task and held across awaits.
                let inner = CallScope::enter(format!("/api/task/{i}/inner"));
                tokio::task::yield_now().await;
                let inner_api = mdc("apiCall");
                drop(inner);
                tokio::task::yield_now().await;
                let outer_api = mdc("apiCall");
                (i, seen, threads.len(), inner_api, outer_api)
            };
            tasks.push(tokio::spawn(task.in_audit_context(ctx)));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    let mut moved_threads = 0;
    for (i, seen, threads, inner_api, outer_api) in results {
        let expected =
            serde_json::json!({"apiCall": format!("/api/task/{i}"), "user": format!("user{i}")});
        for (mdc, call_time) in seen {
            assert_eq!(mdc, expected, "task {i}");
            assert!(
                call_time.unwrap() >= 1000 + u64::from(i),
                "task {i}: {call_time:?}"
            );
        }
        assert_eq!(
            inner_api.as_deref(),
            Some(format!("/api/task/{i}/inner").as_str())
        );
        assert_eq!(
            outer_api.as_deref(),
            Some(format!("/api/task/{i}").as_str())
        );
        if threads > 1 {
            moved_threads += 1;
        }
    }
    assert!(
        moved_threads > 0,
        "no task ever resumed on another thread; the test proves nothing"
    );
}

#[test]
fn worker_threads_are_clean_between_tasks() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    runtime.block_on(async {
        let ctx = {
            let _c = CallScope::enter("/api/a").user("alice");
            AuditContext::current()
        };
        tokio::spawn(async { tokio::task::yield_now().await }.in_audit_context(ctx))
            .await
            .unwrap();
        for _ in 0..50 {
            let leaked = tokio::spawn(async {
                tokio::task::yield_now().await;
                (mdc("apiCall"), log4rs_audit::call_start())
            })
            .await
            .unwrap();
            assert_eq!(leaked, (None, None));
        }
    });
}

#[test]
fn panicking_task_does_not_leak_its_context() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let ctx = {
            let _c = CallScope::enter("/api/panic").user("p");
            AuditContext::current()
        };
        let r = tokio::spawn(async { panic!("boom") }.in_audit_context(ctx)).await;
        assert!(r.is_err());
        assert_eq!(mdc("apiCall"), None);
        assert_eq!(log4rs_audit::call_start(), None);
    });
}

#[test]
fn cancelled_task_does_not_touch_the_dropping_threads_context() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let _own = CallScope::enter("/api/outer").user("owner");
        let started = std::sync::Arc::new(tokio::sync::Notify::new());
        let signal = started.clone();
        let task = async move {
            let _scope = CallScope::enter("/api/task").user("task-user");
            signal.notify_one();
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        .in_audit_context(AuditContext::empty());
        // Dropped while pending, on this thread, inside the outer call.
        let timed_out = tokio::time::timeout(Duration::from_millis(20), task).await;
        assert!(timed_out.is_err());
        drop(started);
        assert_eq!(mdc("apiCall").as_deref(), Some("/api/outer"));
        assert_eq!(mdc("user").as_deref(), Some("owner"));
        assert!(log4rs_audit::call_start().is_some());
    });
}
