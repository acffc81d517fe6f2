//! The `event_server` target end to end over real HTTP on 127.0.0.1, against a small scripted
//! HTTP/1.1 server: retries (Retry-After), refusals to the dead-letter file, 413 splitting,
//! a server that comes up late, restarts resuming the spool, and two threads × 5,000 events
//! arriving whole, in order, once, byte for byte as the envelope's message.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use log::kv::Value;
use log::Log;
use log4rs::append::Append;
use log4rs_audit::append::{EventServerAppender, EventServerConfig};
use log4rs_audit::{AuditConfig, AuditLogger};
use serde_json::value::RawValue;

// ---------------------------------------------------------------------------------------------
// The scripted server

/// One answer of the scripted server.
#[derive(Clone, Debug)]
enum Reply {
    /// `200 {"stored":N,"duplicates":M}`, deduplicating on (node, seq) like the Event Server.
    Ok,
    /// Any status with extra headers and a body.
    Status(u16, Vec<(&'static str, String)>, String),
}

fn error(status: u16, message: &str) -> Reply {
    Reply::Status(
        status,
        vec![],
        serde_json::json!({ "error": message }).to_string(),
    )
}

/// A request as received.
#[derive(Debug, Clone)]
struct Request {
    at: Instant,
    headers: BTreeMap<String, String>,
    items: Vec<serde_json::Value>,
    /// The `event` of each item, byte for byte.
    events: Vec<String>,
}

#[derive(Default)]
struct State {
    script: VecDeque<Reply>,
    requests: Vec<Request>,
    /// Items stored (first time seen), in arrival order.
    stored: Vec<serde_json::Value>,
    seen: HashSet<(String, u64)>,
}

struct Server {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(script: Vec<Reply>) -> Server {
        Self::start_on(TcpListener::bind("127.0.0.1:0").unwrap(), script)
    }

    fn start_on(listener: TcpListener, script: Vec<Reply>) -> Server {
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            script: script.into(),
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (Arc::clone(&state), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let st = Arc::clone(&st);
                std::thread::spawn(move || serve(conn, st));
            }
        });
        Server {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    fn stored(&self) -> Vec<serde_json::Value> {
        self.state.lock().unwrap().stored.clone()
    }

    fn push(&self, reply: Reply) {
        self.state.lock().unwrap().script.push_back(reply);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves HTTP/1.1 requests on one connection (keep-alive) until it closes or idles 30 s.
fn serve(conn: TcpStream, state: Arc<Mutex<State>>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let mut out = match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    };
    let mut input = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if input.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        assert!(line.starts_with("POST /events HTTP/1.1"), "{line:?}");
        let mut headers = BTreeMap::new();
        loop {
            let mut h = String::new();
            if input.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap();
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
        let len: usize = headers["content-length"].parse().unwrap();
        let mut body = vec![0; len];
        if input.read_exact(&mut body).is_err() {
            return;
        }
        if headers.get("content-encoding").map(String::as_str) == Some("gzip") {
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut plain)
                .unwrap();
            body = plain;
        }
        let text = String::from_utf8(body).unwrap();
        assert!(text.ends_with('\n'));
        let mut items = Vec::new();
        let mut events = Vec::new();
        for l in text.lines() {
            #[derive(serde::Deserialize)]
            struct Raw<'a> {
                #[serde(borrow)]
                event: &'a RawValue,
            }
            events.push(
                serde_json::from_str::<Raw>(l)
                    .unwrap()
                    .event
                    .get()
                    .to_owned(),
            );
            items.push(serde_json::from_str::<serde_json::Value>(l).unwrap());
        }
        let reply = {
            let mut st = state.lock().unwrap();
            st.requests.push(Request {
                at: Instant::now(),
                headers,
                items: items.clone(),
                events,
            });
            let reply = st.script.pop_front().unwrap_or(Reply::Ok);
            match reply {
                Reply::Ok => {
                    let (mut stored, mut dups) = (0, 0);
                    for item in items {
                        let key = (
                            item["node"].as_str().unwrap().to_owned(),
                            item["seq"].as_u64().unwrap(),
                        );
                        if st.seen.insert(key) {
                            st.stored.push(item);
                            stored += 1;
                        } else {
                            dups += 1;
                        }
                    }
                    let body = format!(r#"{{"stored":{stored},"duplicates":{dups}}}"#);
                    (200, vec![], body)
                }
                Reply::Status(s, h, b) => (s, h, b),
            }
        };
        let (status, extra, body) = reply;
        let mut head = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        if out.write_all(head.as_bytes()).is_err() || out.write_all(body.as_bytes()).is_err() {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn appender(url: &str, spool: &Path, extra: &str) -> EventServerAppender {
    let mut yaml = format!(
        "url: {url}\nauth_key: test-key\nspool_dir: {}\nretry_min: 10ms\nretry_max: 50ms\n\
         request_timeout: 5s\nconnect_timeout: 1s\n{extra}\n",
        spool.display()
    );
    if !extra.contains("flush_timeout") {
        yaml.push_str("flush_timeout: 20s\n");
    }
    let config: EventServerConfig = serde_yaml::from_str(&yaml).unwrap();
    config.build().unwrap()
}

fn append(a: &EventServerAppender, topic: &str, kvs: &[(&str, Value)]) -> anyhow::Result<()> {
    let target = format!("dku.audit.{topic}");
    a.append(
        &log::Record::builder()
            .target(&target)
            .key_values(&kvs)
            .args(format_args!(""))
            .build(),
    )
}

fn event(a: &EventServerAppender, n: i64) {
    append(
        a,
        "generic",
        &[("msgType", Value::from("e")), ("n", Value::from(n))],
    )
    .unwrap();
}

fn ns(items: &[serde_json::Value]) -> Vec<i64> {
    items
        .iter()
        .map(|i| i["event"]["n"].as_i64().unwrap())
        .collect()
}

fn dead_letters(spool: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(spool.join("dead-letter.ndjson"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn retry_after_is_honoured_and_the_same_events_are_resent() {
    let mut busy = error(503, "busy");
    if let Reply::Status(_, h, _) = &mut busy {
        h.push(("Retry-After", "1".to_owned()));
    }
    let server = Server::start(vec![busy]);
    let dir = tempfile::tempdir().unwrap();
    let a = appender(
        &server.url(),
        dir.path(),
        "batch_max_events: 3\nlinger: 10s",
    );
    for n in 0..3 {
        event(&a, n);
    }
    a.flush();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].items, reqs[1].items, "the same events, same seqs");
    assert_eq!(ns(&reqs[1].items), [0, 1, 2]);
    assert!(
        reqs[1].at - reqs[0].at >= Duration::from_millis(950),
        "Retry-After: 1 not honoured: {:?}",
        reqs[1].at - reqs[0].at
    );
    let h = &reqs[0].headers;
    assert_eq!(h["authorization"], "Bearer test-key");
    assert_eq!(h["content-type"], "application/x-ndjson");
    assert!(!h.contains_key("content-encoding"));
    let stats = a.stats();
    assert_eq!((stats.delivered, stats.retries, stats.pending), (3, 1, 0));
    assert_eq!(stats.dead_lettered, 0);
    assert_eq!(stats.last_error, None);
    // Every item names the node and its seq; seqs are 1, 2, 3.
    let seqs: Vec<u64> = reqs[1]
        .items
        .iter()
        .map(|i| i["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3]);
    assert!(reqs[1]
        .items
        .iter()
        .all(|i| i["node"] == a.node_id() && i["topic"] == "generic"));
}

#[test]
fn a_bad_line_is_dead_lettered_and_the_rest_delivered() {
    let server = Server::start(vec![
        error(400, "line 2: bad event: something"),
        Reply::Ok,
        error(400, "empty batch"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let a = appender(
        &server.url(),
        dir.path(),
        "batch_max_events: 3\nlinger: 10s",
    );
    for n in 0..3 {
        event(&a, n);
    }
    a.flush();
    assert_eq!(ns(&server.stored()), [0, 2]);
    let dead = dead_letters(dir.path());
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["deadLetter"]["status"], 400);
    assert_eq!(
        dead[0]["deadLetter"]["reason"],
        "line 2: bad event: something"
    );
    assert_eq!(
        dead[0]["deadLetter"]["url"],
        format!("{}/events", server.url())
    );
    assert_eq!(dead[0]["item"]["seq"], 2);
    assert_eq!(
        dead[0]["item"]["event"],
        serde_json::json!({"msgType":"e","n":1})
    );
    // The caller hears about it at its next call (the event itself is spooled).
    let e = append(
        &a,
        "generic",
        &[("msgType", Value::from("x")), ("n", Value::from(3))],
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("event spooled; earlier problems: 1 event rejected by")
            && e.contains("HTTP 400: line 2: bad event: something")
            && e.contains("dead-letter.ndjson"),
        "{e}"
    );
    // A 400 without a line refuses the whole batch (here: the one event just spooled).
    a.flush();
    let dead = dead_letters(dir.path());
    assert_eq!(dead.len(), 2);
    assert_eq!(dead[1]["deadLetter"]["reason"], "empty batch");
    assert_eq!(dead[1]["item"]["seq"], 4);
    let stats = a.stats();
    assert_eq!(
        (stats.delivered, stats.dead_lettered, stats.pending),
        (2, 2, 0)
    );
    assert!(stats.last_error.unwrap().contains("empty batch"));
}

#[test]
fn auth_key_rejected() {
    let server = Server::start(vec![error(401, "unknown key")]);
    let dir = tempfile::tempdir().unwrap();
    let a = appender(&server.url(), dir.path(), "");
    event(&a, 0);
    a.flush();
    let e = append(&a, "authfail", &[("msgType", Value::from("x"))])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!(
            "auth key rejected by {}/events (HTTP 401: unknown key)",
            server.url()
        )),
        "{e}"
    );
    assert_eq!(dead_letters(dir.path())[0]["deadLetter"]["status"], 401);
    a.flush();
    // The second event went through (the script had one 401).
    assert_eq!(server.stored().len(), 1);
    assert_eq!(server.stored()[0]["topic"], "authfail");
}

#[test]
fn too_large_splits_in_halves_and_a_single_oversize_event_is_dead_lettered() {
    let server = Server::start(vec![
        error(413, "body larger than 10 bytes"),
        Reply::Ok,
        error(413, "body larger than 10 bytes"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let a = appender(
        &server.url(),
        dir.path(),
        "batch_max_events: 4\nlinger: 10s",
    );
    for n in 0..4 {
        event(&a, n);
    }
    a.flush();
    let sizes: Vec<usize> = server.requests().iter().map(|r| r.items.len()).collect();
    // 4 → 413; [0,1] → 200; [2,3] → 413; [2] → 200; [3] → 200.
    assert_eq!(sizes, [4, 2, 2, 1, 1]);
    assert_eq!(ns(&server.stored()), [0, 1, 2, 3]);
    assert!(dead_letters(dir.path()).is_empty());
    // One event alone too large: dead-lettered.
    server.push(error(413, "body larger than 10 bytes"));
    event(&a, 4);
    a.flush();
    let dead = dead_letters(dir.path());
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["deadLetter"]["status"], 413);
    assert_eq!(dead[0]["item"]["event"]["n"], 4);
    assert_eq!(a.stats().dead_lettered, 1);
}

#[test]
fn events_wait_in_the_spool_until_the_server_comes_up() {
    let probe = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let dir = tempfile::tempdir().unwrap();
    let a = appender(&format!("http://{addr}"), dir.path(), "gzip: true");
    for n in 0..10 {
        event(&a, n); // returns at once: the caller never touches the network
    }
    // Connection refused meanwhile: retried, nothing lost.
    let deadline = Instant::now() + Duration::from_secs(20);
    while a.stats().retries < 2 {
        assert!(Instant::now() < deadline, "no retry seen");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(a.stats().last_error.is_some());
    let server = Server::start_on(TcpListener::bind(addr).unwrap(), vec![]);
    a.flush();
    assert_eq!(ns(&server.stored()), (0..10).collect::<Vec<_>>());
    let reqs = server.requests();
    assert!(reqs.iter().all(|r| r.headers["content-encoding"] == "gzip"));
    assert_eq!(a.stats().pending, 0);
    assert_eq!(a.stats().last_error, None);
}

#[test]
fn a_restarted_process_delivers_what_the_previous_one_spooled() {
    let probe = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://{addr}");
    let first = appender(&url, dir.path(), "flush_timeout: 100ms");
    for n in 0..5 {
        event(&first, n);
    }
    let node = first.node_id().to_owned();
    first.flush(); // times out: the server is down
    assert_eq!(first.stats().pending, 5);
    drop(first); // flushes (bounded), stops the sender, closes the spool
    let server = Server::start_on(TcpListener::bind(addr).unwrap(), vec![]);
    let second = appender(&url, dir.path(), "");
    assert_eq!(second.node_id(), node, "the node id is kept in the spool");
    event(&second, 5);
    second.flush();
    let stored = server.stored();
    assert_eq!(ns(&stored), [0, 1, 2, 3, 4, 5]);
    let seqs: Vec<u64> = stored.iter().map(|i| i["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
    // The timed-out flush was reported to the first appender's next call; the second one
    // shares nothing with it but the spool, which reports nothing more.
    assert!(append(&second, "generic", &[("msgType", Value::from("x"))]).is_ok());
}

#[test]
fn appenders_of_one_spool_share_it_across_a_reload() {
    let server = Server::start(vec![]);
    let dir = tempfile::tempdir().unwrap();
    let old = appender(&server.url(), dir.path(), "");
    // A reloaded config builds the new appender before dropping the old: no "locked" error.
    let new = appender(&server.url(), dir.path(), "gzip: true");
    assert_eq!(old.node_id(), new.node_id());
    event(&old, 0);
    drop(old);
    event(&new, 1);
    new.flush();
    assert_eq!(ns(&server.stored()), [0, 1]);
    // The newest appender's settings are used: gzip.
    assert!(server.requests().last().is_some_and(|r| r
        .headers
        .get("content-encoding")
        .map(String::as_str)
        == Some("gzip")));
}

#[test]
fn bad_records_are_errors_naming_why() {
    let server = Server::start(vec![]);
    let dir = tempfile::tempdir().unwrap();
    let a = appender(
        &server.url(),
        dir.path(),
        "routing_key_mode: STATIC_IF_MISSING\nrouting_key: default-rk",
    );
    let e = |target: &str, kvs: &[(&str, Value)]| {
        a.append(
            &log::Record::builder()
                .target(target)
                .key_values(&kvs)
                .args(format_args!(""))
                .build(),
        )
        .unwrap_err()
        .to_string()
    };
    assert!(e("app.db", &[("msgType", Value::from("x"))])
        .starts_with("logger `app.db` is not an audit logger"));
    assert!(
        e("dku.audit.generic", &[("a", Value::from(1))]).ends_with("the event has no `msgType`")
    );
    assert!(e(
        "dku.audit.generic",
        &[
            ("msgType", Value::from("x")),
            ("routingKey", Value::from("a b"))
        ]
    )
    .contains("invalid routing key `a b`"));
    append(&a, "generic", &[("msgType", Value::from("x"))]).unwrap();
    append(
        &a,
        "generic",
        &[
            ("msgType", Value::from("y")),
            ("routingKey", Value::from("own")),
        ],
    )
    .unwrap();
    a.flush();
    let rks: Vec<_> = server
        .stored()
        .iter()
        .map(|i| i["routingKey"].clone())
        .collect();
    assert_eq!(
        rks,
        [serde_json::json!("default-rk"), serde_json::json!("own")]
    );
    assert_eq!(
        server.stored().len(),
        2,
        "refused records never reach the spool"
    );
}

#[test]
fn two_threads_of_5000_events_arrive_whole_in_order_and_once() {
    let server = Server::start(vec![]);
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "
appenders:
  es:
    kind: event_server
    url: {url}
    auth_key: test-key
    spool_dir: {dir}/spool
    spool_fsync: none
    batch_max_events: 700
    flush_timeout: 60s
  file: {{ kind: audit_file, path: '{dir}/audit.log' }}
loggers:
  dku.audit: {{ level: info, appenders: [es, file], additive: false }}
",
        url = server.url(),
        dir = dir.path().display()
    );
    let (logger, handle) = AuditLogger::new(AuditConfig::from_yaml(&yaml, None).unwrap()).unwrap();
    let errors = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&errors);
    handle.set_error_handler(move |e| sink.lock().unwrap().push(e.to_string()));
    std::thread::scope(|s| {
        for t in 0..2i64 {
            let logger = &logger;
            s.spawn(move || {
                for i in 0..5000i64 {
                    let kvs = [
                        ("msgType", Value::from("load")),
                        ("t", Value::from(t)),
                        ("i", Value::from(i)),
                        ("note", Value::from("quote \" and é\n")),
                        ("x", Value::from(i as f64 / 8.0)),
                    ];
                    logger.log(
                        &log::Record::builder()
                            .target("dku.audit.apinode-query")
                            .key_values(&kvs)
                            .args(format_args!(""))
                            .build(),
                    );
                }
            });
        }
    });
    // Not an audit topic: reported through the error handler, naming the logger.
    let kvs = [("msgType", Value::from("x"))];
    logger.log(
        &log::Record::builder()
            .target("dku.audit.nope")
            .key_values(&kvs)
            .args(format_args!(""))
            .build(),
    );
    handle.flush();
    let errors = errors.lock().unwrap().clone();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("appender `es`: logger `dku.audit.nope` is not an audit logger"),
        "{errors:?}"
    );

    let stored = server.stored();
    // The logger's start first (seq 1, topic generic), then the 10 000 events (the stop
    // comes with the handle's drop, after the test's look).
    assert_eq!(stored.len(), 10_001);
    let own: Vec<&serde_json::Value> = stored
        .iter()
        .filter(|i| crate::lifecycle_lines::is_lifecycle_event(&i["event"]))
        .collect();
    assert_eq!(own.len(), 1, "{own:?}");
    assert_eq!(own[0]["seq"], 1);
    assert_eq!(own[0]["topic"], "generic");
    assert_eq!(own[0]["event"]["msgType"], log4rs_audit::lifecycle::START);
    let node = stored[0]["node"].as_str().unwrap().to_owned();
    let seqs: Vec<u64> = stored.iter().map(|i| i["seq"].as_u64().unwrap()).collect();
    assert!(stored.iter().all(|i| i["node"] == node.as_str()));
    assert_eq!(
        seqs,
        (1..=10_001).collect::<Vec<u64>>(),
        "no gap, no reorder"
    );
    // Per thread, the events arrive in the order they were logged.
    for t in 0..2 {
        let is: Vec<i64> = stored
            .iter()
            .filter(|i| i["event"]["t"] == t)
            .map(|i| i["event"]["i"].as_i64().unwrap())
            .collect();
        assert_eq!(is, (0..5000).collect::<Vec<_>>());
    }
    // Each event is byte for byte the envelope's message.
    #[derive(serde::Deserialize)]
    struct Line<'a> {
        logger: &'a str,
        #[serde(borrow)]
        message: &'a RawValue,
    }
    let file = std::fs::read_to_string(dir.path().join("audit.log")).unwrap();
    let mut messages: Vec<&str> = file
        .lines()
        .map(|l| serde_json::from_str::<Line>(l).unwrap())
        .filter(|l| l.logger == "dku.audit.apinode-query")
        .map(|l| l.message.get())
        .collect();
    let (own_sent, mut sent): (Vec<String>, Vec<String>) = server
        .requests()
        .into_iter()
        .flat_map(|r| r.events)
        .partition(|e| crate::lifecycle_lines::is_lifecycle(e));
    assert_eq!(sent.len() + own_sent.len(), 10_001, "no request was resent");
    assert_eq!(sent.len(), 10_000);
    // The start sent is the start the file has, byte for byte.
    let own_file: Vec<&str> = file
        .lines()
        .filter(|l| crate::lifecycle_lines::is_lifecycle(l))
        .map(|l| serde_json::from_str::<Line>(l).unwrap().message.get())
        .collect();
    assert_eq!(own_sent, own_file);
    messages.sort_unstable();
    sent.sort_unstable();
    assert_eq!(messages, sent);
    assert!(sent
        .iter()
        .all(|e| e.starts_with(r#"{"msgType":"load","t":"#)));
    assert!(server.requests().iter().all(|r| r.items.len() <= 700));
}

#[test]
fn config_errors_name_the_option() {
    let yaml = |extra: &str| {
        format!(
            "appenders:\n  es:\n    kind: event_server\n    url: http://127.0.0.1:1\n    \
             auth_key: k\n    spool_dir: /nonexistent/never-created\n{extra}\
             root: {{ level: info, appenders: [es] }}\n"
        )
    };
    for (extra, want) in [
        ("    gzip: sometimes\n", "gzip: "),
        ("    linger: soon\n", "linger: `soon`"),
        ("    batch_max_events: many\n", "batch_max_events: "),
        ("    routing_key_mode: STATIC\n", "routing_key: required"),
        ("    retries: 3\n", "retries"),
    ] {
        let e = match AuditConfig::from_yaml(&yaml(extra), None) {
            Ok(config) => AuditLogger::new(config).unwrap_err().to_string(),
            Err(e) => e.to_string(),
        };
        assert!(
            e.contains("appenders.es") && e.contains(want),
            "{extra}: {e}"
        );
    }
    assert!(!Path::new("/nonexistent/never-created").exists());
}
