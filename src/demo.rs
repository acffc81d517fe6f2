//! The demo service: several threads emitting a realistic mix of audit events inside call
//! scopes, like a data platform under use. `log4rs-audit demo` runs it against the installed
//! logger.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::{audit, CallScope, Topic};

/// What to simulate.
#[derive(Clone, Copy, Debug)]
pub struct DemoOptions {
    /// Worker threads.
    pub threads: usize,
    /// Total events to emit (approximately divided among threads; exact in total).
    pub events: u64,
    /// Seed of the deterministic choice of actions.
    pub seed: u64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            threads: 4,
            events: 2_000,
            seed: 42,
        }
    }
}

/// What the demo emitted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DemoReport {
    /// Events emitted per topic.
    pub per_topic: BTreeMap<Topic, u64>,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl DemoReport {
    /// Events emitted in total.
    pub fn total(&self) -> u64 {
        self.per_topic.values().sum()
    }
}

const USERS: [&str; 5] = ["alice", "bob", "carol", "dave", "admin"];
const PROJECTS: [&str; 3] = ["CHURN", "FRAUD_DETECTION", "DKU_TSHIRTS"];
const DATASETS: [&str; 4] = ["customers", "transactions", "orders_prepared", "web_logs"];
/// The API services (routing keys); the config examples route each to its own file.
const SERVICES: [&str; 2] = ["fraud-svc", "churn-svc"];
const CRU_TYPES: [&str; 3] = ["LOCAL_PROCESS", "SPARK_K8S_JOB", "SINGLE_K8S_JOB"];

#[derive(Serialize)]
struct ExportParams<'a> {
    format: &'a str,
    #[serde(rename = "includeHeader")]
    include_header: bool,
    limit: Option<u64>,
}

/// `computeResourceUsage` as the seed product documents it: a usage of one resource (`type`)
/// in one context, with its start, its end (on `-complete`) and the local process's counters.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ComputeResourceUsage<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    start_time: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_time: Option<u64>,
    context: CruContext<'a>,
    local_process: LocalProcess,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CruContext<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    project_key: &'a str,
    job_id: &'a str,
    initiator: &'a str,
}

#[derive(Serialize)]
struct LocalProcess {
    #[serde(rename = "userTimeMS")]
    user_time_ms: u64,
    #[serde(rename = "systemTimeMS")]
    system_time_ms: u64,
    #[serde(rename = "childrenUserTimeMS")]
    children_user_time_ms: u64,
    #[serde(rename = "childrenSystemTimeMS")]
    children_system_time_ms: u64,
    #[serde(rename = "currentRssMB")]
    current_rss_mb: u64,
    #[serde(rename = "maxRssMB")]
    max_rss_mb: u64,
    #[serde(rename = "rssMBSeconds")]
    rss_mb_seconds: f64,
}

/// Milliseconds since the epoch, now.
fn epoch_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A small deterministic generator (xorshift64*), so runs are reproducible without a dependency.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Counts events as they are emitted, per topic.
#[derive(Default)]
struct Counter([AtomicU64; 6]);

impl Counter {
    fn add(&self, topic: Topic, n: u64) {
        let i = Topic::ALL.iter().position(|t| *t == topic).unwrap_or(0);
        self.0[i].fetch_add(n, Ordering::Relaxed);
    }
}

/// Runs the demo against whatever `log` logger is installed.
pub fn run(options: DemoOptions) -> DemoReport {
    let counter = Counter::default();
    let threads = options.threads.max(1) as u64;
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let quota = options.events / threads + u64::from(t < options.events % threads);
            let counter = &counter;
            let seed = options.seed.wrapping_mul(31).wrapping_add(t + 1) | 1;
            std::thread::Builder::new()
                .name(format!("demo-worker-{t}"))
                .spawn_scoped(s, move || worker(quota, Dice(seed), counter))
                .map(|_| ())
                .unwrap_or_else(|e| eprintln!("log4rs-audit demo: cannot start a worker: {e}"));
        }
    });
    let mut report = DemoReport {
        elapsed: start.elapsed(),
        ..DemoReport::default()
    };
    for (i, topic) in Topic::ALL.into_iter().enumerate() {
        let n = counter.0[i].load(Ordering::Relaxed);
        if n > 0 {
            report.per_topic.insert(topic, n);
        }
    }
    report
}

/// Emits exactly `quota` events as a sequence of user sessions and API calls.
fn worker(quota: u64, mut dice: Dice, counter: &Counter) {
    log::debug!("demo worker starting with {quota} events to emit");
    let mut left = quota;
    let emit = |topic: Topic, left: &mut u64| -> bool {
        if *left == 0 {
            return false;
        }
        *left -= 1;
        counter.add(topic, 1);
        true
    };
    // Each worker first goes once through every kind of action (a failed login first), so
    // even a short run has every topic; then at random.
    let mut tour = 0..10u64;
    while left > 0 {
        let user = dice.pick(&USERS);
        let project = dice.pick(&PROJECTS);
        let dataset = dice.pick(&DATASETS);
        let touring = tour.next();
        match touring.unwrap_or_else(|| dice.below(10)) {
            0 => {
                let _call = CallScope::enter("/api/login").user(user);
                if touring.is_some() || dice.below(5) == 0 {
                    if emit(Topic::Authfail, &mut left) {
                        audit!(
                            authfail,
                            "authentication-failed",
                            authUser = user,
                            reason = "invalid password",
                            sourceIp = "10.0.3.17"
                        );
                    }
                } else if emit(Topic::Generic, &mut left) {
                    audit!(
                        generic,
                        "login",
                        authUser = user,
                        sourceIp = "10.0.3.17",
                        authSource = "LDAP"
                    );
                    if dice.below(3) == 0 && emit(Topic::Generic, &mut left) {
                        audit!(
                            generic,
                            "application-open",
                            authUser = user,
                            projectKey = project,
                            application = "flow"
                        );
                    }
                }
            }
            1 if dice.below(3) == 0 => {
                // Custom code (a Python recipe, a notebook) reading the dataset: the other
                // half of the exports question.
                let _call = CallScope::enter("/dip/api/tintercom/datasets/read-data").user(user);
                if emit(Topic::Generic, &mut left) {
                    audit!(
                        generic,
                        "dataset-read-data",
                        authUser = user,
                        projectKey = project,
                        datasetName = dataset,
                        readBy = "python-recipe",
                        rows = 1_000 * (1 + dice.below(500))
                    );
                }
            }
            1 => {
                let _call = CallScope::enter("/api/datasets/get-sample").user(user);
                if emit(Topic::Generic, &mut left) {
                    audit!(
                        generic,
                        "dataset-read-data-sample",
                        authUser = user,
                        projectKey = project,
                        datasetName = dataset,
                        rows = 10_000
                    );
                }
            }
            2 => {
                let _call = CallScope::enter("/api/datasets/export").user(user);
                let params = ExportParams {
                    format: "csv",
                    include_header: true,
                    limit: (dice.below(2) == 0).then_some(100_000),
                };
                if emit(Topic::Generic, &mut left) {
                    audit!(generic, "dataset-export", authUser = user, projectKey = project, datasetName = dataset, params:serde = params);
                }
            }
            3 => {
                let _call = CallScope::enter("/api/projects/export/download").user(user);
                if emit(Topic::Generic, &mut left) {
                    audit!(
                        generic,
                        "project-export-download",
                        authUser = user,
                        projectKey = project,
                        exportId = dice.next() % 100_000
                    );
                }
            }
            4 => {
                let _call = CallScope::enter("/api/flow/jobs/start").user(user);
                let job = format!("Build_{dataset}_{}", dice.below(10_000));
                if emit(Topic::Generic, &mut left) {
                    audit!(
                        generic,
                        "flow-job-start",
                        authUser = user,
                        projectKey = project,
                        jobId = job.as_str(),
                        outputs = dataset
                    );
                }
                let ok = dice.below(8) != 0;
                if emit(Topic::Generic, &mut left) {
                    audit!(
                        generic,
                        "flow-object-build-start",
                        authUser = user,
                        projectKey = project,
                        jobId = job.as_str(),
                        objectId = dataset
                    );
                }
                if emit(Topic::Generic, &mut left) {
                    audit!(
                        generic,
                        if ok {
                            "flow-object-build-success"
                        } else {
                            "flow-object-build-failed"
                        },
                        authUser = user,
                        projectKey = project,
                        jobId = job.as_str(),
                        objectId = dataset
                    );
                }
                if ok {
                    if emit(Topic::Generic, &mut left) {
                        audit!(
                            generic,
                            "flow-job-done",
                            authUser = user,
                            projectKey = project,
                            jobId = job.as_str(),
                            outcome = "SUCCESS",
                            durationMs = 500 + dice.below(60_000)
                        );
                    }
                } else if emit(Topic::GenericFailure, &mut left) {
                    audit!(
                        generic_failure,
                        "flow-job-done",
                        authUser = user,
                        projectKey = project,
                        jobId = job.as_str(),
                        outcome = "FAILED",
                        error = "Job failed: out of memory"
                    );
                }
            }
            5 => {
                let _call = CallScope::enter("/api/scenarios/run").user(user);
                if dice.below(2) == 0 && emit(Topic::Generic, &mut left) {
                    audit!(
                        generic,
                        "scenario-fire-trigger",
                        authUser = user,
                        projectKey = project,
                        scenarioId = "NIGHTLY",
                        triggerId = "daily-2am"
                    );
                }
                if emit(Topic::Generic, &mut left) {
                    audit!(
                        generic,
                        "scenario-run",
                        authUser = user,
                        projectKey = project,
                        scenarioId = "NIGHTLY",
                        trigger = "manual"
                    );
                }
            }
            6 | 7 => {
                let service = dice.pick(&SERVICES);
                let msg_type = match dice.below(6) {
                    0 => "sql-query",
                    1 => "function-query",
                    2 => "dataset-lookup-query",
                    _ => "prediction-query",
                };
                let _call = CallScope::enter(format!("/public/api/v1/{service}/predict"))
                    .user("apikey:svc");
                let latency = (dice.below(400) + 5) as f64 / 10.0;
                if emit(Topic::ApinodeQuery, &mut left) {
                    if dice.below(15) == 0 {
                        audit!(
                            apinode_query,
                            routing_key = service,
                            msg_type,
                            serviceId = service,
                            endpointId = "predict",
                            error = "model not loaded",
                            latencyMs = latency
                        );
                    } else {
                        audit!(
                            apinode_query,
                            routing_key = service,
                            msg_type,
                            serviceId = service,
                            endpointId = "predict",
                            prediction = (dice.below(1000) as f64) / 1000.0,
                            latencyMs = latency
                        );
                    }
                }
            }
            8 => {
                let _call = CallScope::enter("/api/compute/containers").user(user);
                let id = format!("cru-{}", dice.below(1_000_000));
                let job = format!("Build_{dataset}_{}", dice.below(10_000));
                let kind = dice.pick(&CRU_TYPES);
                let start = epoch_ms();
                let wall = 1_000 + dice.below(600_000);
                let (user_ms, system_ms) = (dice.below(wall), dice.below(wall / 4 + 1));
                for msg_type in [
                    "compute-resource-usage-start",
                    "compute-resource-usage-update",
                    "compute-resource-usage-complete",
                ] {
                    let done = msg_type.ends_with("complete");
                    let share = if done { 1 } else { 2 };
                    let usage = ComputeResourceUsage {
                        id: id.as_str(),
                        kind,
                        start_time: start,
                        end_time: done.then_some(start + wall),
                        context: CruContext {
                            kind: "JOB_ACTIVITY",
                            project_key: project,
                            job_id: job.as_str(),
                            initiator: user,
                        },
                        local_process: LocalProcess {
                            user_time_ms: user_ms / share,
                            system_time_ms: system_ms / share,
                            children_user_time_ms: user_ms / 10 / share,
                            children_system_time_ms: system_ms / 10 / share,
                            current_rss_mb: 512,
                            max_rss_mb: 2048,
                            rss_mb_seconds: (512 * wall / share) as f64 / 1000.0,
                        },
                    };
                    if emit(Topic::ComputeResourceUsage, &mut left) {
                        audit!(
                            compute_resource_usage,
                            msg_type,
                            authUser = user,
                            projectKey = project,
                            computeResourceUsage:serde = usage
                        );
                    }
                }
                if dice.below(4) == 0 && emit(Topic::ComputeResourceUsage, &mut left) {
                    audit!(
                        compute_resource_usage,
                        "kubernetes-cluster-usage-status",
                        clusterId = "eks-prod",
                        nodes = 3 + dice.below(5),
                        pods = 10 + dice.below(90)
                    );
                }
            }
            _ => {
                let _call = CallScope::enter("/api/logout").user(user);
                if emit(Topic::Generic, &mut left) {
                    audit!(generic, "logout", authUser = user);
                }
                if emit(Topic::Apicalls, &mut left) {
                    audit!(
                        apicalls,
                        "api-call",
                        authUser = user,
                        callPath = "/api/logout",
                        httpStatus = 200
                    );
                }
            }
        }
    }
    // An ordinary application log line, to show app logs and audit side by side.
    log::info!("demo worker finished: {quota} audit events emitted");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dice_is_deterministic_and_spread() {
        let mut a = Dice(7);
        let mut b = Dice(7);
        let xs: Vec<u64> = (0..100).map(|_| a.below(10)).collect();
        let ys: Vec<u64> = (0..100).map(|_| b.below(10)).collect();
        assert_eq!(xs, ys);
        assert!((0..10).all(|v| xs.contains(&v)));
    }

    #[test]
    fn emits_exact_quota_over_every_topic() {
        let report = run(DemoOptions {
            threads: 3,
            events: 1_000,
            seed: 1,
        });
        assert_eq!(report.total(), 1_000);
        assert_eq!(report.per_topic.len(), 6, "{report:?}");
    }
}
