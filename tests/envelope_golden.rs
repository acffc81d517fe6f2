//! The standard envelope, byte for byte, pinned by `tests/golden/envelope.jsonl`.
//!
//! Records come from the real macros (`audit!` and `log::info!`) through a global logger that
//! encodes with `AuditEnvelopeEncoder` on a fixed clock. Regenerate the golden file with
//! `UPDATE_GOLDEN=1 cargo test --test envelope_golden` and review the diff.

use std::cell::RefCell;
use std::sync::OnceLock;
use std::time::{Duration, Instant, UNIX_EPOCH};

use log4rs_audit::encode::{AuditEnvelopeEncoder, FixedClock, Timezone};
use log4rs_audit::{audit, CallScope};
use serde::Serialize;

/// 2020-02-19T16:05:02.441+0100
const SEED_MILLIS: u64 = 1_582_124_702_441;

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(|| Instant::now() + Duration::from_secs(3600))
}

fn encoder(tz: &str) -> AuditEnvelopeEncoder {
    let clock = FixedClock::new(UNIX_EPOCH + Duration::from_millis(SEED_MILLIS), base());
    AuditEnvelopeEncoder::new(tz.parse::<Timezone>().unwrap()).with_clock(clock)
}

thread_local! {
    static LINES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    static TZ: RefCell<&'static str> = const { RefCell::new("+0100") };
}

/// Encodes every record with the fixed clock into this thread's list.
struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        let tz = TZ.with(|t| *t.borrow());
        let mut line = Vec::new();
        encoder(tz).encode_into(&mut line, record);
        LINES.with(|l| l.borrow_mut().push(String::from_utf8(line).unwrap()));
    }
    fn flush(&self) {}
}

fn capture(tz: &'static str, f: impl FnOnce()) -> Vec<String> {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        log::set_logger(&Capture).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
    });
    TZ.with(|t| *t.borrow_mut() = tz);
    LINES.with(|l| l.borrow_mut().clear());
    f();
    LINES.with(|l| l.borrow_mut().drain(..).collect())
}

fn one(tz: &'static str, f: impl FnOnce()) -> String {
    let lines = capture(tz, f);
    assert_eq!(lines.len(), 1, "{lines:?}");
    lines.into_iter().next().unwrap()
}

#[derive(Serialize)]
struct Params {
    format: &'static str,
    columns: Vec<&'static str>,
    limit: Option<u32>,
    nested: Nested,
}

#[derive(Serialize)]
struct Nested {
    ratio: f64,
    ok: bool,
}

/// Every case, in golden-file order, with a name for failure messages.
fn cases() -> Vec<(&'static str, String)> {
    let nine_ms_ago = base() - Duration::from_millis(9);
    vec![
        (
            "seed example: MDC, callTime 9, +0100",
            one("+0100", || {
                let _call = CallScope::enter("/api/projects/get-summary")
                    .user("admin")
                    .started_at(nine_ms_ago);
                audit!(
                    generic,
                    "project-get-summary",
                    authUser = "admin",
                    projectKey = "DKU_TSHIRTS"
                );
            }),
        ),
        (
            "typed values and nested serde",
            one("+0100", || {
                let params = Params {
                    format: "csv",
                    columns: vec!["id", "amount"],
                    limit: None,
                    nested: Nested {
                        ratio: 0.25,
                        ok: true,
                    },
                };
                audit!(generic, "dataset-export", authUser = "alice", projectKey = "P1", rows = 1200, bytes = 18_446_744_073_709_551_615u64, delta = -3, ratio = 1.5, ok = false, params:serde = params);
            }),
        ),
        (
            "routing key, UTC",
            one("utc", || {
                audit!(
                    apinode_query,
                    routing_key = "fraud-svc",
                    "prediction-query",
                    authUser = "svc",
                    latencyMs = 3
                );
            }),
        ),
        (
            "escapes in values, keys, MDC and logger",
            one("+0100", || {
                let _call = CallScope::enter("/api/\"odd\"\\path")
                    .user("zoë \u{1F600}")
                    .mdc("note", "line1\nline2\ttab\u{1}\u{7f}")
                    .started_at(base());
                log::info!(target: "dku.audit.generic", msgType = "comment", authUser = "o'brien \"the\" \\ admin", text2 = "ctl:\u{0}\u{8}\u{c}\r", "weird key" = "é€"; "");
            }),
        ),
        (
            "no MDC, no callTime",
            one("+0100", || {
                audit!(authfail, "authentication-failed", authUser = "mallory");
            }),
        ),
        (
            "plain text message becomes a JSON string",
            one("+0100", || {
                log::info!(target: "dku.audit.generic", "user {} did \"something\"\n", "bob");
            }),
        ),
        (
            "JSON object text is embedded as an object",
            one("+0100", || {
                log::info!(target: "dku.audit.generic", "{}", "{\n  \"msgType\": \"legacy\",\n  \"authUser\": \"carol\",\n  \"n\": 1.50\n}");
            }),
        ),
        (
            "JSON array text stays a string",
            one("+0100", || {
                log::info!(target: "dku.audit.generic", "[1, 2]");
            }),
        ),
        (
            "non-audit record through the same encoder",
            one("+0100", || {
                log::warn!(target: "app::db::pool", "pool exhausted after {} ms", 250);
            }),
        ),
        (
            "msgType moved first, text kept",
            one("+0100", || {
                log::info!(target: "dku.audit.generic", authUser = "bob", msgType = "login"; "from {}", "sso");
            }),
        ),
        (
            "MDC keys sorted",
            one("+0100", || {
                log_mdc::insert("zeta", "1");
                log_mdc::insert("alpha", "2");
                log_mdc::insert("Mid", "3");
                log_mdc::insert("beta", "4");
                log::error!(target: "dku.audit.generic-failure", msgType = "job-failed"; "");
                log_mdc::clear();
            }),
        ),
    ]
}

#[test]
fn envelope_matches_golden_file() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/envelope.jsonl");
    let cases = cases();
    let actual: String = cases.iter().map(|(_, line)| line.as_str()).collect();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    let expected: Vec<&str> = expected.split_inclusive('\n').collect();
    assert_eq!(
        expected.len(),
        cases.len(),
        "golden file has a different number of lines"
    );
    for ((name, line), want) in cases.iter().zip(expected) {
        assert_eq!(line, want, "case `{name}`");
    }
}

#[test]
fn seed_example_line_exactly() {
    // The first golden case, spelled out here so the seed line is readable in the code.
    let (name, line) = cases().swap_remove(0);
    assert_eq!(name, "seed example: MDC, callTime 9, +0100");
    assert_eq!(
        line,
        "{\"severity\":\"INFO\",\"logger\":\"dku.audit.generic\",\"message\":{\"msgType\":\"project-get-summary\",\"authUser\":\"admin\",\"projectKey\":\"DKU_TSHIRTS\"},\"mdc\":{\"apiCall\":\"/api/projects/get-summary\",\"user\":\"admin\"},\"callTime\":9,\"timestamp\":\"2020-02-19T16:05:02.441+0100\"}\n"
    );
}

#[test]
fn audit_macro_and_plain_log_write_the_same_line() {
    let _call = CallScope::enter("/api/login").user("bob");
    let lines = capture("+0100", || {
        audit!(generic, "login", authUser = "bob", attempts = 2, sso = true);
        log::info!(target: "dku.audit.generic", msgType = "login", authUser = "bob", attempts = 2, sso = true; "");
        audit!(
            apinode_query,
            routing_key = "churn",
            "prediction-query",
            authUser = "svc"
        );
        log::info!(target: "dku.audit.apinode-query", msgType = "prediction-query", routingKey = "churn", authUser = "svc"; "");
    });
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0], lines[1]);
    assert_eq!(lines[2], lines[3]);
}

#[test]
fn every_line_is_valid_single_line_json() {
    for (name, line) in cases() {
        assert!(
            line.ends_with('\n') && !line[..line.len() - 1].contains('\n'),
            "{name}"
        );
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(v["timestamp"].as_str().unwrap().len() == 28, "{name}");
    }
}
