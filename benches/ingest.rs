//! Event Server ingest: events/s stored (fsync before every acknowledgement) and ack latency,
//! for batches of 1, 100 and 1000 events from 4 keep-alive connections, against a floor: one
//! thread appending the same stored lines to a file with one fsync per batch, no HTTP, no
//! journal.
//!
//! ```sh
//! cargo bench --bench ingest [-- --seconds 3 --connections 4 --batches 1,100,1000]
//! ```
//!
//! The server is the real binary (`log4rs-audit event-server`), a child process on 127.0.0.1,
//! storing under a temporary directory on the same disk as the target folder.

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    seconds: f64,
    connections: usize,
    batches: Vec<usize>,
}

fn args() -> Args {
    let mut a = Args {
        seconds: 3.0,
        connections: 4,
        batches: vec![1, 100, 1000],
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().cloned().unwrap_or_default();
        match flag.as_str() {
            "--seconds" => a.seconds = value().parse().expect("--seconds N"),
            "--connections" => a.connections = value().parse().expect("--connections N"),
            "--batches" => {
                a.batches = value()
                    .split(',')
                    .map(|b| b.parse().expect("--batches 1,100"))
                    .collect()
            }
            // `cargo bench` passes --bench.
            _ => {}
        }
    }
    a
}

/// One event as a client sends it: ~180 bytes, like a real audit event.
fn write_event(body: &mut String, node: &str, seq: u64) {
    let _ = writeln!(
        body,
        r#"{{"node":"{node}","seq":{seq},"topic":"generic","routingKey":"bench","event":{{"msgType":"dataset-read-data-sample","authUser":"user{u}","projectKey":"PROJECT_{p}","datasetName":"customers_{seq}","rows":{seq}}}}}"#,
        u = seq % 97,
        p = seq % 13
    );
}

struct Run {
    events: u64,
    requests: u64,
    seconds: f64,
    latencies_us: Vec<u64>,
    body_bytes: u64,
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn run_clients(url: &str, batch: usize, connections: usize, seconds: f64, tag: &str) -> Run {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let handles: Vec<_> = (0..connections)
        .map(|c| {
            let (url, stop) = (url.to_owned(), Arc::clone(&stop));
            let node = format!("{tag}-c{c}");
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(60))
                    .build();
                let mut seq = 0u64;
                let mut lat = Vec::new();
                let (mut events, mut bytes) = (0u64, 0u64);
                let mut body = String::with_capacity(batch * 260);
                while !stop.load(Ordering::Relaxed) {
                    body.clear();
                    for _ in 0..batch {
                        seq += 1;
                        write_event(&mut body, &node, seq);
                    }
                    let t = Instant::now();
                    let r = agent
                        .post(&url)
                        .set("Authorization", "Bearer bench-key")
                        .set("Content-Type", "application/x-ndjson")
                        .send_string(&body);
                    match r {
                        Ok(resp) => {
                            let _ = resp.into_string();
                        }
                        Err(e) => panic!("request failed: {e}"),
                    }
                    lat.push(t.elapsed().as_micros() as u64);
                    events += batch as u64;
                    bytes += body.len() as u64;
                }
                (events, lat, bytes)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    let mut run = Run {
        events: 0,
        requests: 0,
        seconds: 0.0,
        latencies_us: Vec::new(),
        body_bytes: 0,
    };
    for h in handles {
        let (events, lat, bytes) = h.join().expect("client thread");
        run.events += events;
        run.requests += lat.len() as u64;
        run.latencies_us.extend(lat);
        run.body_bytes += bytes;
    }
    run.seconds = started.elapsed().as_secs_f64();
    run.latencies_us.sort_unstable();
    run
}

/// The floor: stored lines of the same size appended by one thread, one fsync per batch.
fn floor(dir: &std::path::Path, batch: usize, seconds: f64) -> f64 {
    let path = dir.join("floor.log");
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .expect("floor file");
    let line = "{{\"clientEvent\":{{\"msgType\":\"dataset-read-data-sample\",\"authUser\":\"user1\",\"projectKey\":\"PROJECT_1\",\"datasetName\":\"customers_1\",\"rows\":1}},\"origAddress\":\"127.0.0.1\",\"serverTimestamp\":\"2026-11-25T00:00:00.000+0000\"}}\n";
    let chunk = line.repeat(batch);
    let started = Instant::now();
    let mut events = 0u64;
    while started.elapsed().as_secs_f64() < seconds {
        f.write_all(chunk.as_bytes()).expect("write");
        f.sync_data().expect("fsync");
        events += batch as u64;
    }
    let _ = std::fs::remove_file(&path);
    events as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let a = args();
    let dir = tempfile::Builder::new()
        .prefix("ingest-bench")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temp dir");
    let config = dir.path().join("server.yaml");
    std::fs::write(
        &config,
        "listen: 127.0.0.1:0\nevent_keys: [bench-key]\nmax_body_bytes: 10MB\ntimezone: utc\ndestinations:\n  - { name: disk, type: filesystem, root: events }\n",
    )
    .expect("config");
    let mut server = Command::new(env!("CARGO_BIN_EXE_log4rs-audit"))
        .args(["event-server", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server (cargo builds it for benches)");
    let mut first = String::new();
    BufReader::new(server.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("server output");
    let base = first
        .trim()
        .strip_prefix("event-server listening on ")
        .expect("listening line")
        .to_owned();
    let url = format!("{base}/events");

    println!(
        "Event Server ingest, {} connections, {:.0} s per row, fsync before every ack ({} cores)",
        a.connections,
        a.seconds,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!();
    println!("| batch | events/s | requests/s | MB/s in | ack p50 ms | ack p99 ms | floor events/s | vs floor |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (i, &batch) in a.batches.iter().enumerate() {
        // Warm up the connection and the files.
        let _ = run_clients(&url, batch, a.connections, 0.3, &format!("warm{i}"));
        let run = run_clients(&url, batch, a.connections, a.seconds, &format!("b{i}"));
        let floor = floor(dir.path(), batch, a.seconds.min(2.0));
        let rate = run.events as f64 / run.seconds;
        println!(
            "| {batch} | {rate:.0} | {:.0} | {:.1} | {:.2} | {:.2} | {floor:.0} | {:.2}× |",
            run.requests as f64 / run.seconds,
            run.body_bytes as f64 / run.seconds / 1e6,
            percentile(&run.latencies_us, 0.50) as f64 / 1000.0,
            percentile(&run.latencies_us, 0.99) as f64 / 1000.0,
            rate / floor,
        );
    }
    let _ = server.kill();
    let _ = server.wait();
}
