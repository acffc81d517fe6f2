//! `log4rs-audit demo` as a child process, for integration tests.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// What one demo run printed.
pub struct DemoRun {
    pub stdout: String,
    /// The `<topic> <count>` lines of its summary.
    pub per_topic: BTreeMap<String, u64>,
}

/// Runs `demo --threads 3 --events <events> --config <config>` in `cwd` with `env` set; fails
/// the test (naming the config, with the demo's output) unless it succeeds and its per-topic
/// counts add up to `events`.
pub fn run(config: &Path, cwd: &Path, events: u64, env: &[(&str, &Path)]) -> DemoRun {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_log4rs-audit"));
    cmd.args([
        "demo",
        "--threads",
        "3",
        "--events",
        &events.to_string(),
        "--config",
    ])
    .arg(config)
    .current_dir(cwd);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}: {stdout}\n{}",
        config.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut per_topic = BTreeMap::new();
    for line in stdout.lines() {
        let mut words = line.split_whitespace();
        if let (Some(topic), Some(n), None) = (words.next(), words.next(), words.next()) {
            if let Ok(n) = n.parse::<u64>() {
                per_topic.insert(topic.to_owned(), n);
            }
        }
    }
    assert_eq!(per_topic.values().sum::<u64>(), events, "{stdout}");
    DemoRun { stdout, per_topic }
}
