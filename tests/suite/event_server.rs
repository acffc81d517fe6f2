//! The Event Server as a real process over real HTTP on 127.0.0.1: what clients (curl, a
//! retrying client, slow and idle connections) see, and what ends up on disk.
#![cfg(feature = "server")] // the Event Server is the `log4rs-audit event-server` binary

use crate::certs;
use crate::support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{config, item, post, refused_config, stored_events, stored_files, ServerProcess};

fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl must be installed (scripts/test.sh installs it)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.trim().parse().unwrap(), body.to_owned())
}

#[test]
fn curl_sees_each_answer_and_python_reads_every_stored_line() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &config(""));
    let url = server.events_url();
    let body = dir.path().join("b.ndjson");
    let good = item(
        "web-1",
        1,
        "generic",
        None,
        r#"{"msgType":"login","authUser":"bob"}"#,
    ) + &item(
        "web-1",
        2,
        "authfail",
        Some("sso"),
        r#"{"msgType":"login-failed", "authUser" : "eve"}"#,
    );
    std::fs::write(&body, &good).unwrap();
    let at_body = format!("@{}", body.display());
    let send = |key: &str, extra: &[&str]| {
        let auth = format!("Authorization: Bearer {key}");
        let mut args = vec![
            "--data-binary",
            &at_body,
            "-H",
            &auth,
            "-H",
            "Content-Type: application/x-ndjson",
        ];
        args.extend_from_slice(extra);
        args.push(&url);
        curl(&args)
    };

    // A bad key first: 401, nothing stored.
    let (code, text) = send("k-wrong", &[]);
    assert_eq!(
        (code, text.as_str()),
        (401, r#"{"error":"missing or invalid event key"}"#)
    );
    assert!(stored_files(&dir.path().join("events")).is_empty());
    let (code, _) = curl(&["--data-binary", &at_body, &url]);
    assert_eq!(code, 401, "no Authorization header");

    assert_eq!(
        send("k-node-1", &[]),
        (200, r#"{"stored":2,"duplicates":0,"unrouted":0}"#.into())
    );
    // The same batch again (a client retry): acknowledged, not stored twice.
    assert_eq!(
        send("k-node-1", &[]),
        (200, r#"{"stored":0,"duplicates":2,"unrouted":0}"#.into())
    );

    // Malformed: the line is named and nothing of the batch is stored.
    let bad = item("web-1", 3, "generic", None, r#"{"msgType":"a"}"#)
        + "{\"node\":\"web-1\",\"seq\":4,\n";
    std::fs::write(&body, &bad).unwrap();
    let (code, text) = send("k-node-1", &[]);
    assert_eq!(code, 400);
    assert!(
        text.starts_with(r#"{"error":"line 2: malformed item"#),
        "{text}"
    );
    // Unknown topic and path-escaping routing keys.
    std::fs::write(
        &body,
        item("web-1", 3, "genric", None, r#"{"msgType":"a"}"#),
    )
    .unwrap();
    assert_eq!(
        send("k-node-1", &[]),
        (400, r#"{"error":"line 1: unknown topic `genric`"}"#.into())
    );
    for rk in ["..", "../../etc", "a/b", "a\\\\b", ".hidden", ""] {
        std::fs::write(
            &body,
            item("web-1", 3, "generic", Some(rk), r#"{"msgType":"a"}"#),
        )
        .unwrap();
        let (code, text) = send("k-node-1", &[]);
        assert_eq!(code, 400, "routing key {rk:?}: {text}");
        assert!(text.contains("line 1: invalid routing key"), "{text}");
    }
    // Oversize: 413, for a plain body and for a gzip bomb.
    std::fs::write(&body, vec![b' '; 70_000]).unwrap();
    assert_eq!(send("k-node-1", &[]).0, 413);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let mut big = item("web-1", 3, "generic", None, r#"{"msgType":"a"}"#).into_bytes();
    big.extend(std::iter::repeat_n(b' ', 200_000));
    gz.write_all(&big).unwrap();
    std::fs::write(&body, gz.finish().unwrap()).unwrap();
    let (code, text) = send("k-node-1", &["-H", "Content-Encoding: gzip"]);
    assert_eq!(code, 413, "{text}");
    // A gzip body that fits.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(item("web-1", 3, "generic", None, r#"{"msgType":"zipped"}"#).as_bytes())
        .unwrap();
    std::fs::write(&body, gz.finish().unwrap()).unwrap();
    assert_eq!(
        send("k-node-1", &["-H", "Content-Encoding: gzip"]),
        (200, r#"{"stored":1,"duplicates":0,"unrouted":0}"#.into())
    );

    // Stats and metrics need a stats key.
    assert_eq!(curl(&[&format!("{}/stats", server.url)]).0, 401);
    assert_eq!(
        curl(&[
            "-H",
            "Authorization: Bearer k-node-1",
            &format!("{}/metrics", server.url)
        ])
        .0,
        401
    );
    let (code, stats) = curl(&[
        "-H",
        "Authorization: Bearer k-stats",
        &format!("{}/stats", server.url),
    ]);
    assert_eq!(code, 200);
    let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(stats["eventsStored"], 3);
    assert_eq!(stats["eventsDuplicate"], 2);
    assert_eq!(stats["batchesRejected"]["unauthorized"], 4);
    assert_eq!(stats["batchesRejected"]["bad_routing_key"], 6);
    assert_eq!(stats["batchesRejected"]["too_large"], 2);
    assert_eq!(stats["storedByDestination"]["authfail-only"], 1);
    let (code, metrics) = curl(&[
        "-H",
        "Authorization: Bearer k-stats",
        &format!("{}/metrics", server.url),
    ]);
    assert_eq!(code, 200);
    assert!(
        metrics.contains("\naudit_events_stored_total 3\n"),
        "{metrics}"
    );
    assert!(metrics.contains("audit_batches_rejected_total{reason=\"malformed\"} 1\n"));
    assert!(
        metrics.contains("audit_fsync_seconds_count 2\n"),
        "{metrics}"
    );

    // What is on disk: exactly the three events, byte for byte as sent, in their folders.
    let events = dir.path().join("events");
    let files: Vec<String> = stored_files(&events)
        .iter()
        .map(|p| {
            p.strip_prefix(&events)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(
        files[0].starts_with("authfail/sso/") && files[1].starts_with("generic/_none/"),
        "{files:?}"
    );
    let authfail = std::fs::read_to_string(stored_files(&events)[0].clone()).unwrap();
    assert!(authfail.starts_with(r#"{"clientEvent":{"msgType":"login-failed", "authUser" : "eve"},"origAddress":"127.0.0.1","serverTimestamp":""#), "{authfail}");
    assert_eq!(stored_events(&events).len(), 3);
    assert_eq!(stored_events(&dir.path().join("authfail")).len(), 1);

    // An independent reader: Python's json module reads every stored line back.
    let script = r#"
import json, os, sys
n = 0
for root, dirs, files in (w for top in sys.argv[1:] for w in os.walk(top)):
    dirs[:] = [d for d in dirs if d != '.event-server']
    for f in files:
        if f != 'events.log':
            continue
        with open(os.path.join(root, f), encoding='utf-8') as fh:
            for line in fh:
                assert line.endswith('\n'), line
                rec = json.loads(line)
                assert list(rec) == ['clientEvent', 'origAddress', 'serverTimestamp'], rec
                assert isinstance(rec['clientEvent']['msgType'], str)
                n += 1
print(n)
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .args([dir.path().join("events"), dir.path().join("authfail")])
        .output()
        .expect("python3 must be installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "4");
}

#[test]
fn slow_and_idle_clients_cannot_starve_others() {
    let dir = tempfile::tempdir().unwrap();
    let extra = "max_connections: 4\nread_timeout: 2s\nidle_timeout: 2s\n";
    let server = ServerProcess::start(dir.path(), &(config("") + extra));
    let addr = server.url.trim_start_matches("http://").to_owned();
    // Take every slot: three idle connections and one that sends its headers a byte a second.
    let idle: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let slow = {
        let (addr, stop) = (addr.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(&addr).unwrap();
            let request = b"POST /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k-node-1\r\n";
            let mut sent = 0;
            for &b in request.iter().cycle().take(60) {
                if stop.load(Ordering::Relaxed) || s.write_all(&[b]).is_err() {
                    break;
                }
                sent += 1;
                std::thread::sleep(Duration::from_millis(500));
            }
            sent
        })
    };
    // A normal client is served once the server drops those that stall (bounded retries).
    let body = item("web-1", 1, "generic", None, r#"{"msgType":"ok"}"#);
    let deadline = Instant::now() + Duration::from_secs(60);
    let answer = loop {
        let (code, text) = post(&server.events_url(), "k-node-1", body.as_bytes());
        if code != 0 || Instant::now() > deadline {
            break (code, text);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        answer,
        (200, r#"{"stored":1,"duplicates":0,"unrouted":0}"#.into())
    );
    stop.store(true, Ordering::Relaxed);
    let sent = slow.join().unwrap();
    assert!(
        sent < 60,
        "the slow client was cut off, not served forever ({sent} bytes)"
    );
    // The idle connections were closed by the server.
    for mut s in idle {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 64];
        assert!(matches!(s.read(&mut buf), Ok(0) | Err(_)));
    }
}

/// A client like the `event_server` target, reduced to what this test needs: numbered events
/// per node, batches resent unchanged until acknowledged, `Retry-After` honoured.
fn send_numbered(url: &str, node: &str, total: u64, batch: u64) -> u64 {
    let mut attempts = 0;
    let mut next = 1;
    while next <= total {
        let last = (next + batch - 1).min(total);
        let mut body = String::new();
        for n in next..=last {
            let event = format!(r#"{{"msgType":"seq-check","node":"{node}","n":{n}}}"#);
            body += &item(node, n, "generic", Some(node), &event);
        }
        loop {
            attempts += 1;
            assert!(attempts < 100_000, "too many attempts");
            match post(url, "k-node-1", body.as_bytes()) {
                (200, _) => break,
                (0 | 500 | 503, _) => std::thread::sleep(Duration::from_millis(50)),
                (code, text) => panic!("{code}: {text}"),
            }
        }
        next = last + 1;
    }
    attempts
}

/// The stored `n` of each node, in file order, checked: each number once, in order.
fn seq_check(root: &Path, nodes: &[&str], total: u64) {
    let mut seen: HashMap<String, Vec<u64>> = HashMap::new();
    for e in stored_events(root) {
        let node = e["node"].as_str().unwrap().to_owned();
        seen.entry(node).or_default().push(e["n"].as_u64().unwrap());
    }
    for node in nodes {
        let got = seen.remove(*node).unwrap_or_default();
        let want: Vec<u64> = (1..=total).collect();
        if got != want {
            let dups = got.len() as i64
                - got.iter().collect::<std::collections::BTreeSet<_>>().len() as i64;
            panic!(
                "{node}: {} events stored, {dups} duplicates, first difference at index {:?}",
                got.len(),
                got.iter().zip(&want).position(|(a, b)| a != b)
            );
        }
    }
    assert!(seen.is_empty(), "unexpected nodes {:?}", seen.keys());
}

#[test]
fn killed_twice_mid_ingest_stores_every_event_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(dir.path(), &config(""));
    let url = server.events_url();
    let nodes = ["node-a", "node-b", "node-c"];
    let total = 6_000;
    let clients: Vec<_> = nodes
        .iter()
        .map(|&node| {
            let url = url.clone();
            std::thread::spawn(move || send_numbered(&url, node, total, 40))
        })
        .collect();
    for _ in 0..2 {
        // Kill once some events of this run are in.
        let deadline = Instant::now() + Duration::from_secs(60);
        while server.events_stored("k-stats") < 1_500 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        server.kill9();
        std::thread::sleep(Duration::from_millis(300));
        server.restart();
    }
    let attempts: u64 = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert!(
        attempts > 3 * total / 40,
        "the kills made clients retry ({attempts} requests)"
    );
    server.stop();
    seq_check(&dir.path().join("events"), &nodes, total);
}

#[test]
fn https_with_a_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, _) = certs::self_signed(dir.path());
    let server = ServerProcess::start(
        dir.path(),
        &config("tls: { cert: cert.pem, key: key.pem }\n"),
    );
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    let body = item("web-1", 1, "generic", None, r#"{"msgType":"over-tls"}"#);
    let cacert = cert.display().to_string();
    let url = server.events_url();
    let args = [
        "--cacert",
        &cacert,
        "--data-binary",
        &body,
        "-H",
        "Authorization: Bearer k-node-1",
        &url,
    ];
    assert_eq!(
        curl(&args),
        (200, r#"{"stored":1,"duplicates":0,"unrouted":0}"#.into())
    );
    // Without trusting the certificate, curl refuses; plain HTTP gets no answer.
    assert_eq!(curl(&["--data-binary", &body, &url]).0, 0);
    let plain = url.replace("https://", "http://");
    assert_ne!(curl(&["--data-binary", &body, &plain]).0, 200);
    assert_eq!(stored_events(&dir.path().join("events")).len(), 1);
}

#[test]
fn a_flood_gets_503_with_retry_after_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Room for one full batch at a time: concurrent senders must be turned away.
    let cfg = config("").replace(
        "max_body_bytes: 65536",
        "max_body_bytes: 65536\nqueue_max_bytes: 65536",
    );
    let server = ServerProcess::start(dir.path(), &cfg);
    let url = server.events_url();
    let senders: Vec<_> = (0..8)
        .map(|t| {
            let url = url.clone();
            std::thread::spawn(move || {
                let node = format!("flood-{t}");
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(30))
                    .build();
                let (mut busy, mut seq) = (0, 0u64);
                for _ in 0..40 {
                    let mut body = String::new();
                    for _ in 0..200 {
                        seq += 1;
                        let event = format!(
                            r#"{{"msgType":"flood","node":"{node}","n":{seq},"pad":"{}"}}"#,
                            "x".repeat(150)
                        );
                        body += &item(&node, seq, "generic", None, &event);
                    }
                    loop {
                        let r = agent
                            .post(&url)
                            .set("Authorization", "Bearer k-node-1")
                            .send_string(&body);
                        match r {
                            Ok(resp) => {
                                assert_eq!(resp.status(), 200);
                                break;
                            }
                            Err(ureq::Error::Status(503, resp)) => {
                                let after: u64 =
                                    resp.header("Retry-After").unwrap().parse().unwrap();
                                assert_eq!(after, 1);
                                busy += 1;
                                // Honour it, shortened so the test stays quick.
                                std::thread::sleep(Duration::from_millis(20 * after));
                            }
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
                busy
            })
        })
        .collect();
    let busy: u64 = senders.into_iter().map(|s| s.join().unwrap()).sum();
    assert!(
        busy > 0,
        "8 senders of near-limit batches were never turned away"
    );
    let mut per_node: HashMap<String, Vec<u64>> = HashMap::new();
    for e in stored_events(&dir.path().join("events")) {
        per_node
            .entry(e["node"].as_str().unwrap().into())
            .or_default()
            .push(e["n"].as_u64().unwrap());
    }
    assert_eq!(per_node.len(), 8);
    for (node, ns) in per_node {
        assert_eq!(ns, (1..=8000).collect::<Vec<u64>>(), "{node}");
    }
}

/// Issue 11, item 3: the same secret listed twice (inline and from a file) is refused by
/// `--check` and at start, naming both places and never the secret.
#[test]
fn a_key_listed_twice_is_refused_at_check_and_at_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("node1.key"), "k-node-1\n").unwrap();
    let yaml = config("").replace(
        "event_keys: [ \"k-node-1\", \"k-node-2\" ]",
        "event_keys: [ \"k-node-1\", \"k-node-2\", { file: node1.key } ]",
    );
    assert!(yaml.contains("{ file: node1.key }"), "{yaml}");
    let path = dir.path().join("server.yaml");
    std::fs::write(&path, yaml).unwrap();
    for check in [true, false] {
        let stderr = refused_config(dir.path(), &path, check);
        assert!(
            stderr.contains("event_keys[2]: the same key as event_keys[0] (list each key once)"),
            "check: {check}: {stderr}"
        );
        assert!(
            !stderr.contains("k-node-1"),
            "the secret is shown: {stderr}"
        );
    }
}

/// Issue 11, item 13: routing keys that cannot be one folder on every filesystem a trail may
/// be copied to (Windows device names, a trailing `.`) get a 400 naming the line; nothing of
/// that batch is stored.
#[test]
fn device_names_and_trailing_dots_are_refused_as_routing_keys() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &config(""));
    for rk in ["CON", "nul", "com1.log", "svc."] {
        let body = item(
            "web-1",
            1,
            "generic",
            Some("ok-1"),
            r#"{"msgType":"login"}"#,
        ) + &item("web-1", 2, "generic", Some(rk), r#"{"msgType":"login"}"#);
        let (status, answer) = post(&server.events_url(), "k-node-1", body.as_bytes());
        assert_eq!(status, 400, "{rk}: {answer}");
        assert!(
            answer.contains("line 2") && answer.contains(&format!("invalid routing key `{rk}`")),
            "{rk}: {answer}"
        );
    }
    assert!(stored_events(&dir.path().join("events")).is_empty());
}

/// Issue 11, item 1: a batch whose events fall into more folders than the server keeps open
/// (256 per destination) is stored whole, at once and again after a restart.
#[test]
fn a_batch_touching_thousands_of_folders_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = config("").replace("max_body_bytes: 65536", "max_body_bytes: 1048576");
    let mut server = ServerProcess::start(dir.path(), &yaml);
    let folders = 1_200u64;
    for round in 0..2u64 {
        let body: String = (1..=folders)
            .map(|i| {
                let seq = round * folders + i;
                item(
                    "web-1",
                    seq,
                    "generic",
                    Some(&format!("svc-{i}")),
                    r#"{"msgType":"login"}"#,
                )
            })
            .collect();
        let (status, answer) = post(&server.events_url(), "k-node-1", body.as_bytes());
        assert_eq!(status, 200, "round {round}: {answer}");
        assert!(
            answer.contains(&format!("\"stored\":{folders}")),
            "round {round}: {answer}"
        );
        server.stop();
        server.restart();
    }
    let events = stored_events(&dir.path().join("events"));
    assert_eq!(events.len() as u64, 2 * folders);
}
