//! `config-examples/event-server/`: the example server config serves the example client configs
//! (YAML and properties), each run through `log4rs-audit demo`, and the events land where the
//! examples say.
#![cfg(feature = "server")] // the Event Server is the `log4rs-audit event-server` binary

use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use log4rs_audit::lifecycle;
use support::{stored_files, ServerProcess};

use crate::lifecycle_lines::{
    assert_started_and_stopped, is_lifecycle_event, lifecycle_types, lifecycle_types_of,
    without_lifecycle,
};

const EVENTS: u64 = 3_000;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config-examples/event-server")
}

/// The example server, on a free port, storing under `dir`.
fn start_server(dir: &Path) -> ServerProcess {
    let text = std::fs::read_to_string(examples().join("server.yaml")).unwrap();
    assert!(text.contains("listen: 127.0.0.1:11004"));
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    std::fs::copy(
        examples().join("keys/node-2.key"),
        dir.join("keys/node-2.key"),
    )
    .unwrap();
    ServerProcess::start(
        dir,
        &text.replace("listen: 127.0.0.1:11004", "listen: 127.0.0.1:0"),
    )
}

struct Demo {
    dir: PathBuf,
    per_topic: BTreeMap<String, u64>,
}

/// Runs the demo with the client example `name`, pointed at `url`, in `dir`.
fn run_demo(name: &str, url: &str, dir: &Path) -> Demo {
    let text = std::fs::read_to_string(examples().join(name)).unwrap();
    assert!(text.contains("http://127.0.0.1:11004"), "{name}");
    let config = dir.join(name);
    std::fs::write(&config, text.replace("http://127.0.0.1:11004", url)).unwrap();
    let per_topic = crate::demo::run(&config, dir, EVENTS, &[]).per_topic;
    Demo {
        dir: dir.to_owned(),
        per_topic,
    }
}

/// Stored `clientEvent`s per folder below `root` (the folder path without the time part).
fn stored_by_folder(root: &Path, time_levels: usize) -> BTreeMap<String, Vec<serde_json::Value>> {
    let mut out: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for f in stored_files(root) {
        let rel = f.strip_prefix(root).unwrap();
        let parts: Vec<String> = rel
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        // <folders…>/<time levels>/events.log
        let folder = parts[..parts.len() - 1 - time_levels].join("/");
        for line in std::fs::read_to_string(&f).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            out.entry(folder.clone())
                .or_default()
                .push(v["clientEvent"].clone());
        }
    }
    out
}

/// The messages of the local file's events (`__topic` added), the logger's own (start first,
/// stop last) apart.
fn local_with_own(demo: &Demo) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    let text = std::fs::read_to_string(demo.dir.join("run/audit/audit.log")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_started_and_stopped(&lines, "run/audit/audit.log");
    assert_eq!(lifecycle_types(&lines), [lifecycle::START, lifecycle::STOP]);
    let own = lines
        .iter()
        .filter(|l| crate::lifecycle_lines::is_lifecycle(l))
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["message"].clone())
        .collect();
    (messages(without_lifecycle(lines)), own)
}

/// The application's events of the local file (`__topic` added).
fn local_messages(demo: &Demo) -> Vec<serde_json::Value> {
    local_with_own(demo).0
}

fn messages(lines: Vec<&str>) -> Vec<serde_json::Value> {
    lines
        .into_iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| {
            let mut m = v["message"].clone();
            m["__topic"] = v["logger"]
                .as_str()
                .unwrap()
                .trim_start_matches("dku.audit.")
                .into();
            m
        })
        .collect()
}

fn sorted(mut v: Vec<serde_json::Value>) -> Vec<String> {
    let mut s: Vec<String> = v.drain(..).map(|x| x.to_string()).collect();
    s.sort();
    s
}

fn check_central(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start_server(&dir.path().join("server"));
    let client = dir.path().join("node");
    std::fs::create_dir_all(&client).unwrap();
    let demo = run_demo(name, &server.url, &client);
    server.stop();
    let all = stored_by_folder(&dir.path().join("server/run/event-server/events"), 4);
    // One folder per topic and routing key; every event is there exactly once, as sent.
    // The logger's own events (topic generic) apart: the same start and stop as the local
    // file's, once each.
    let mut per_topic: BTreeMap<String, u64> = BTreeMap::new();
    let mut stored = Vec::new();
    let mut own = Vec::new();
    for (folder, events) in all {
        let (topic, rk) = folder.split_once('/').unwrap();
        let (lifecycle_events, events): (Vec<_>, Vec<_>) =
            events.into_iter().partition(is_lifecycle_event);
        assert!(
            lifecycle_events.is_empty() || topic == "generic",
            "{folder}"
        );
        own.extend(lifecycle_events);
        *per_topic.entry(topic.to_owned()).or_default() += events.len() as u64;
        for mut e in events {
            assert_eq!(e["routingKey"].as_str().unwrap_or("_none"), rk, "{folder}");
            e["__topic"] = topic.into();
            stored.push(e);
        }
    }
    assert_eq!(per_topic, demo.per_topic, "{name}");
    let (local, local_own) = local_with_own(&demo);
    assert_eq!(
        sorted(stored),
        sorted(local),
        "{name}: server and local file differ"
    );
    let mut own_types = lifecycle_types_of(&own);
    own_types.sort();
    assert_eq!(own_types, [lifecycle::START, lifecycle::STOP], "{name}");
    assert_eq!(
        sorted(own),
        sorted(local_own),
        "{name}: the logger's own events differ"
    );
    // The API-query destination has the queries per service.
    let queries = stored_by_folder(&dir.path().join("server/run/event-server/api-queries"), 3);
    let n: usize = queries.values().map(Vec::len).sum();
    assert_eq!(n as u64, demo.per_topic["apinode-query"], "{name}");
    assert!(
        queries.keys().all(|k| k.ends_with("-svc")),
        "{:?}",
        queries.keys()
    );
}

fn check_apinode_routing(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start_server(&dir.path().join("server"));
    let client = dir.path().join("node");
    std::fs::create_dir_all(&client).unwrap();
    let demo = run_demo(name, &server.url, &client);
    server.stop();
    let queries = stored_by_folder(&dir.path().join("server/run/event-server/api-queries"), 3);
    let services: Vec<&String> = queries.keys().collect();
    assert!(services.len() >= 2, "{services:?}");
    for (service, events) in &queries {
        for e in events {
            assert_eq!(e["routingKey"].as_str(), Some(service.as_str()), "{name}");
        }
    }
    let n: usize = queries.values().map(Vec::len).sum();
    assert_eq!(n as u64, demo.per_topic["apinode-query"], "{name}");
    // Only the queries left the node, and the logger's own events: they reach every audit
    // target past its route filter (topic generic, the target's static routing key); the rest
    // is in the local file.
    let mut all = stored_by_folder(&dir.path().join("server/run/event-server/events"), 4);
    let own = all.remove("generic/unknown-service").unwrap_or_default();
    assert_eq!(
        lifecycle_types_of(&own),
        [lifecycle::START, lifecycle::STOP],
        "{name}: {own:?}"
    );
    assert!(own.iter().all(is_lifecycle_event), "{name}: {own:?}");
    assert!(
        all.keys().all(|k| k.starts_with("apinode-query/")),
        "{:?}",
        all.keys()
    );
    let local = local_messages(&demo);
    assert_eq!(local.len() as u64, EVENTS - demo.per_topic["apinode-query"]);
    assert!(local.iter().all(|m| m["__topic"] != "apinode-query"));
}

#[test]
fn every_event_server_example_delivers_as_documented() {
    let checks: BTreeMap<&str, fn(&str)> = BTreeMap::from([
        ("central-audit.yaml", check_central as fn(&str)),
        ("central-audit.properties", check_central),
        ("central-async.yaml", check_central),
        ("central-async.properties", check_central),
        ("apinode-routing.yaml", check_apinode_routing),
        ("apinode-routing.properties", check_apinode_routing),
    ]);
    let mut examples: Vec<String> = std::fs::read_dir(examples())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        // Server configs: server.yaml here, server-kafka.yaml in tests/event_server_kafka.rs.
        .filter(|n| {
            (n.ends_with(".yaml") || n.ends_with(".properties")) && !n.starts_with("server")
        })
        .collect();
    examples.sort();
    assert_eq!(
        examples,
        checks.keys().copied().collect::<Vec<_>>(),
        "every example needs a check here"
    );
    for (name, check) in checks {
        check(name);
    }
}

#[test]
fn the_example_server_config_checks() {
    let out = Command::new(env!("CARGO_BIN_EXE_log4rs-audit"))
        .args(["event-server", "--check", "--config"])
        .arg(examples().join("server.yaml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("destination all-events (filesystem)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("destination api-queries (filesystem)"),
        "{stdout}"
    );
}

/// A build without the `kafka` feature refuses the Kafka example, saying how to get one.
#[cfg(not(feature = "kafka"))]
#[test]
fn the_kafka_example_needs_the_kafka_feature() {
    let out = Command::new(env!("CARGO_BIN_EXE_log4rs-audit"))
        .args(["event-server", "--check", "--config"])
        .arg(examples().join("server-kafka.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("destinations[1] (`audit-bus`).type: `kafka` destinations need a log4rs-audit built with the `kafka` feature (cargo build --features kafka)"),
        "{stderr}"
    );
}
