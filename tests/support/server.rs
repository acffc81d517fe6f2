//! The Event Server as a real child process, for integration tests.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `log4rs-audit event-server`; killed when dropped.
pub struct ServerProcess {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub url: String,
    child: Option<Child>,
    /// Every line it wrote to stderr, across restarts.
    log: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// `eventsStored` from its `/stats` (with `stats_key`); 0 while it does not answer.
    pub fn events_stored(&self, stats_key: &str) -> u64 {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(5))
            .build();
        agent
            .get(&format!("{}/stats", self.url))
            .set("Authorization", &format!("Bearer {stats_key}"))
            .call()
            .ok()
            .and_then(|r| r.into_string().ok())
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v["eventsStored"].as_u64())
            .unwrap_or(0)
    }

    /// Writes `config_yaml` (its `listen:` should be `127.0.0.1:0` the first time) to
    /// `dir/server.yaml` and starts the server there.
    pub fn start(dir: &Path, config_yaml: &str) -> ServerProcess {
        let config = dir.join("server.yaml");
        std::fs::write(&config, config_yaml).unwrap();
        let mut s = ServerProcess {
            dir: dir.to_owned(),
            config,
            url: String::new(),
            child: None,
            log: Arc::default(),
        };
        s.spawn();
        // Restarts reuse the port the first start got.
        let addr = s
            .url
            .trim_start_matches("http://")
            .trim_start_matches("https://");
        let text = std::fs::read_to_string(&s.config).unwrap();
        let fixed = text.replace("listen: 127.0.0.1:0", &format!("listen: {addr}"));
        std::fs::write(&s.config, fixed).unwrap();
        s
    }

    fn spawn(&mut self) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_log4rs-audit"))
            .args(["event-server", "--config"])
            .arg(&self.config)
            .current_dir(&self.dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start event-server");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next();
        let Some(Ok(line)) = first else {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("event-server did not start: {err}");
        };
        let url = line
            .strip_prefix("event-server listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_owned();
        // Keep draining output so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        if let Some(stderr) = child.stderr.take() {
            let log = Arc::clone(&self.log);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    eprintln!("[server] {line}");
                    log.lock().unwrap().push(line);
                }
            });
        }
        self.url = url;
        self.child = Some(child);
    }

    /// What it wrote to stderr so far (its log), one line each.
    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// SIGKILL, as a crash.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, and waits for a clean exit.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe_term(c.id());
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Ok(Some(status)) = c.try_wait() {
                    assert!(status.success(), "event-server exited with {status}");
                    return;
                }
                if Instant::now() > deadline {
                    let _ = c.kill();
                    panic!("event-server did not stop on SIGTERM");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Starts again after [`Self::kill9`] or [`Self::stop`], on the same port.
    pub fn restart(&mut self) {
        assert!(self.child.is_none());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.spawn()));
            match r {
                Ok(()) => return,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(200))
                }
                Err(e) => std::panic::resume_unwind(e),
            }
        }
    }

    pub fn events_url(&self) -> String {
        format!("{}/events", self.url)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn unsafe_term(pid: u32) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
}

/// The test server's config: keys `k-node-1`, `k-node-2` and stats key `k-stats`, destination
/// `disk` (root `events`, everything, by hour) and `authfail-only` (root `authfail`, by day),
/// then `extra` (more top-level options).
pub fn config(extra: &str) -> String {
    format!(
        r#"listen: 127.0.0.1:0
event_keys: [ "k-node-1", {{ env: LOG4RS_AUDIT_TEST_NOT_SET_EITHER_WAY_K }} ]
stats_keys: [ "k-stats" ]
max_body_bytes: 65536
timezone: utc
destinations:
  - name: disk
    type: filesystem
    root: events
    topics: ALL
    routing_keys: ALL
    partitioning_period: HOUR
  - name: authfail-only
    type: filesystem
    root: authfail
    topics: [authfail]
    folder_by_routing_key: false
    partitioning_period: DAY
{extra}"#
    )
    // The env key is replaced by an inline one: the env form is covered by unit tests.
    .replace(
        "{ env: LOG4RS_AUDIT_TEST_NOT_SET_EITHER_WAY_K }",
        "\"k-node-2\"",
    )
}

/// One wire item, with its newline.
pub fn item(node: &str, seq: u64, topic: &str, rk: Option<&str>, event: &str) -> String {
    let rk = rk.map_or(String::new(), |r| format!(",\"routingKey\":\"{r}\""));
    format!("{{\"node\":\"{node}\",\"seq\":{seq},\"topic\":\"{topic}\"{rk},\"event\":{event}}}\n")
}

/// Every `events.log` under `root`, sorted by path.
pub fn stored_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n == ".event-server") {
                    continue;
                }
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == "events.log") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Every stored line under `root`, each checked to be a whole JSON line of the stored shape;
/// returns the `clientEvent` objects.
pub fn stored_events(root: &Path) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for f in stored_files(root) {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "{} ends with a torn line",
            f.display()
        );
        for (i, line) in text.lines().enumerate() {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}:{}: {e}: {line}", f.display(), i + 1));
            let obj = v.as_object().unwrap();
            let keys: Vec<_> = obj.keys().map(String::as_str).collect();
            assert_eq!(
                keys,
                ["clientEvent", "origAddress", "serverTimestamp"],
                "{line}"
            );
            out.push(v["clientEvent"].clone());
        }
    }
    out
}

/// POSTs `body` and returns status and body text; connection errors as status 0.
pub fn post(url: &str, key: &str, body: &[u8]) -> (u16, String) {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build();
    match agent
        .post(url)
        .set("Authorization", &format!("Bearer {key}"))
        .set("Content-Type", "application/x-ndjson")
        .send_bytes(body)
    {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
        Err(e) => (0, e.to_string()),
    }
}

/// Runs `log4rs-audit event-server --config <config>` (with `--check` if `check`) in `dir`,
/// expecting it to refuse the config and exit within 20 s; returns its stderr.
pub fn refused_config(dir: &Path, config: &Path, check: bool) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_log4rs-audit"));
    cmd.arg("event-server");
    if check {
        cmd.arg("--check");
    }
    let mut child = cmd
        .arg("--config")
        .arg(config)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start event-server");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "event-server accepted {} (check: {check})",
                config.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    assert!(!status.success(), "check: {check}: {stderr}");
    stderr
}
