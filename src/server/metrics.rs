//! Counters of the Event Server, served as `GET /stats` (JSON) and `GET /metrics` (Prometheus
//! text format 0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Upper bounds (seconds) of the fsync latency histogram's buckets.
const FSYNC_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
];

/// Everything counted since the server started.
pub struct Metrics {
    started: Instant,
    /// Events in batches that passed auth and parsing.
    pub events_received: AtomicU64,
    /// Events newly stored (in at least one destination).
    pub events_stored: AtomicU64,
    /// Events already stored before (a client's retry), acknowledged and not stored again.
    pub events_duplicate: AtomicU64,
    /// New events no destination accepts (acknowledged, stored nowhere).
    pub events_unrouted: AtomicU64,
    /// Request body bytes received (as sent, compressed or not).
    pub bytes_received: AtomicU64,
    /// Bytes of stored lines written.
    pub bytes_stored: AtomicU64,
    /// Batches acknowledged.
    pub batches_accepted: AtomicU64,
    /// Group commits done.
    pub group_commits: AtomicU64,
    /// Bytes queued for the writer now.
    pub queue_bytes: AtomicU64,
    /// Bytes of request bodies held now, every copy counted (being read, inflated, parsed,
    /// queued or being written): bounded by `queue_max_bytes`.
    pub body_bytes: AtomicU64,
    /// The most [`Metrics::body_bytes`] has been.
    pub body_bytes_peak: AtomicU64,
    /// Connections open now.
    pub connections: AtomicU64,
    rejected: Mutex<BTreeMap<&'static str, u64>>,
    per_destination: Mutex<BTreeMap<String, u64>>,
    /// Per `kafka` destination: messages Kafka did not confirm.
    kafka_failures: Mutex<BTreeMap<String, u64>>,
    /// Per `kafka` destination that is failing now: why.
    kafka_failing: Mutex<BTreeMap<String, String>>,
    fsync_buckets: [AtomicU64; FSYNC_BUCKETS.len()],
    fsync_count: AtomicU64,
    fsync_nanos: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            started: Instant::now(),
            events_received: AtomicU64::new(0),
            events_stored: AtomicU64::new(0),
            events_duplicate: AtomicU64::new(0),
            events_unrouted: AtomicU64::new(0),
            bytes_received: AtomicU64::new(0),
            bytes_stored: AtomicU64::new(0),
            batches_accepted: AtomicU64::new(0),
            group_commits: AtomicU64::new(0),
            queue_bytes: AtomicU64::new(0),
            body_bytes: AtomicU64::new(0),
            body_bytes_peak: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            rejected: Mutex::new(BTreeMap::new()),
            per_destination: Mutex::new(BTreeMap::new()),
            kafka_failures: Mutex::new(BTreeMap::new()),
            kafka_failing: Mutex::new(BTreeMap::new()),
            fsync_buckets: Default::default(),
            fsync_count: AtomicU64::new(0),
            fsync_nanos: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// Counts a rejected request by reason (`unauthorized`, `too_large`, `queue_full`,
    /// `read_timeout`, `node_bound_to_another_key`, `max_nodes_per_key`, `storage_failure`, or
    /// a [`crate::protocol::wire::BatchErrorKind::reason`]).
    pub fn reject(&self, reason: &'static str) {
        *self.rejected.lock().entry(reason).or_insert(0) += 1;
    }

    /// Counts events stored by a destination.
    pub fn stored_in(&self, destination: &str, events: u64) {
        let mut map = self.per_destination.lock();
        match map.get_mut(destination) {
            Some(n) => *n += events,
            None => {
                map.insert(destination.to_owned(), events);
            }
        }
    }

    /// Registers a `kafka` destination, so its failure counter shows (as 0) from the start.
    pub fn kafka_destination(&self, destination: &str) {
        self.kafka_failures
            .lock()
            .entry(destination.to_owned())
            .or_insert(0);
    }

    /// Counts messages a `kafka` destination did not get confirmed (the group failed).
    #[cfg_attr(not(feature = "kafka"), allow(dead_code))]
    pub fn kafka_failed(&self, destination: &str, messages: u64) {
        *self
            .kafka_failures
            .lock()
            .entry(destination.to_owned())
            .or_insert(0) += messages;
    }

    /// Sets (or with `None` clears) why a `kafka` destination is failing now.
    #[cfg_attr(not(feature = "kafka"), allow(dead_code))]
    pub fn kafka_failing(&self, destination: &str, why: Option<&str>) {
        let mut map = self.kafka_failing.lock();
        match why {
            Some(why) => {
                map.insert(destination.to_owned(), why.to_owned());
            }
            None => {
                map.remove(destination);
            }
        }
    }

    /// Records how long one group commit's syncs took.
    pub fn fsync_took(&self, took: Duration) {
        let secs = took.as_secs_f64();
        for (bound, bucket) in FSYNC_BUCKETS.iter().zip(&self.fsync_buckets) {
            if secs <= *bound {
                bucket.fetch_add(1, Relaxed);
            }
        }
        self.fsync_count.fetch_add(1, Relaxed);
        self.fsync_nanos
            .fetch_add(took.as_nanos().min(u64::MAX as u128) as u64, Relaxed);
    }

    /// Rejections so far, by reason.
    pub fn rejected(&self) -> BTreeMap<&'static str, u64> {
        self.rejected.lock().clone()
    }

    /// `GET /stats`: one JSON object.
    pub fn stats_json(&self) -> String {
        let rejected: BTreeMap<_, _> = self.rejected();
        let destinations = self.per_destination.lock().clone();
        let kafka_failures = self.kafka_failures.lock().clone();
        let kafka_failing = self.kafka_failing.lock().clone();
        let count = self.fsync_count.load(Relaxed);
        let mean_ms = match count {
            0 => 0.0,
            n => self.fsync_nanos.load(Relaxed) as f64 / n as f64 / 1e6,
        };
        serde_json::json!({
            "uptimeSeconds": self.started.elapsed().as_secs(),
            "eventsReceived": self.events_received.load(Relaxed),
            "eventsStored": self.events_stored.load(Relaxed),
            "eventsDuplicate": self.events_duplicate.load(Relaxed),
            "eventsUnrouted": self.events_unrouted.load(Relaxed),
            "bytesReceived": self.bytes_received.load(Relaxed),
            "bytesStored": self.bytes_stored.load(Relaxed),
            "batchesAccepted": self.batches_accepted.load(Relaxed),
            "batchesRejected": rejected,
            "groupCommits": self.group_commits.load(Relaxed),
            "fsyncMeanMs": mean_ms,
            "queueBytes": self.queue_bytes.load(Relaxed),
            "bodyBytes": self.body_bytes.load(Relaxed),
            "bodyBytesPeak": self.body_bytes_peak.load(Relaxed),
            "connections": self.connections.load(Relaxed),
            "storedByDestination": destinations,
            "kafkaDeliveryFailures": kafka_failures,
            "kafkaFailing": kafka_failing,
        })
        .to_string()
    }

    /// `GET /metrics`: Prometheus text exposition format.
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        counter(
            "audit_events_received_total",
            "Events in accepted batches.",
            self.events_received.load(Relaxed),
        );
        counter(
            "audit_events_stored_total",
            "Events newly stored.",
            self.events_stored.load(Relaxed),
        );
        counter(
            "audit_events_duplicate_total",
            "Events already stored (client retries), not stored again.",
            self.events_duplicate.load(Relaxed),
        );
        counter(
            "audit_events_unrouted_total",
            "New events no destination accepts.",
            self.events_unrouted.load(Relaxed),
        );
        counter(
            "audit_bytes_received_total",
            "Request body bytes received.",
            self.bytes_received.load(Relaxed),
        );
        counter(
            "audit_bytes_stored_total",
            "Bytes of stored lines written.",
            self.bytes_stored.load(Relaxed),
        );
        counter(
            "audit_batches_accepted_total",
            "Batches acknowledged.",
            self.batches_accepted.load(Relaxed),
        );
        counter(
            "audit_group_commits_total",
            "Group commits (each syncs its files once).",
            self.group_commits.load(Relaxed),
        );
        out.push_str("# HELP audit_batches_rejected_total Requests rejected, by reason.\n");
        out.push_str("# TYPE audit_batches_rejected_total counter\n");
        for (reason, n) in self.rejected() {
            let _ = writeln!(
                out,
                "audit_batches_rejected_total{{reason=\"{reason}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP audit_destination_events_stored_total Events stored, by destination.\n",
        );
        out.push_str("# TYPE audit_destination_events_stored_total counter\n");
        for (name, n) in self.per_destination.lock().iter() {
            let name = label(name);
            let _ = writeln!(
                out,
                "audit_destination_events_stored_total{{destination=\"{name}\"}} {n}"
            );
        }
        let kafka_failures = self.kafka_failures.lock().clone();
        if !kafka_failures.is_empty() {
            out.push_str("# HELP audit_kafka_delivery_failures_total Messages a kafka destination did not get confirmed (their group failed), by destination.\n");
            out.push_str("# TYPE audit_kafka_delivery_failures_total counter\n");
            for (name, n) in kafka_failures {
                let name = label(&name);
                let _ = writeln!(
                    out,
                    "audit_kafka_delivery_failures_total{{destination=\"{name}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP audit_queue_bytes Bytes accepted and waiting for the writer.\n");
        out.push_str("# TYPE audit_queue_bytes gauge\n");
        let _ = writeln!(out, "audit_queue_bytes {}", self.queue_bytes.load(Relaxed));
        out.push_str("# HELP audit_body_bytes Bytes of request bodies held, every copy counted (bounded by queue_max_bytes).\n");
        out.push_str("# TYPE audit_body_bytes gauge\n");
        let _ = writeln!(out, "audit_body_bytes {}", self.body_bytes.load(Relaxed));
        out.push_str("# HELP audit_body_bytes_peak The most audit_body_bytes has been.\n");
        out.push_str("# TYPE audit_body_bytes_peak gauge\n");
        let _ = writeln!(
            out,
            "audit_body_bytes_peak {}",
            self.body_bytes_peak.load(Relaxed)
        );
        out.push_str(
            "# HELP audit_connections Open connections.\n# TYPE audit_connections gauge\n",
        );
        let _ = writeln!(out, "audit_connections {}", self.connections.load(Relaxed));
        out.push_str(
            "# HELP audit_fsync_seconds Time a group commit spends writing and syncing.\n",
        );
        out.push_str("# TYPE audit_fsync_seconds histogram\n");
        for (bound, bucket) in FSYNC_BUCKETS.iter().zip(&self.fsync_buckets) {
            let _ = writeln!(
                out,
                "audit_fsync_seconds_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Relaxed)
            );
        }
        let count = self.fsync_count.load(Relaxed);
        let _ = writeln!(out, "audit_fsync_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "audit_fsync_seconds_sum {}",
            self.fsync_nanos.load(Relaxed) as f64 / 1e9
        );
        let _ = writeln!(out, "audit_fsync_seconds_count {count}");
        out
    }
}

/// A Prometheus label value, escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_has_types_and_cumulative_buckets() {
        let m = Metrics::default();
        m.events_stored.fetch_add(3, Relaxed);
        m.reject("unauthorized");
        m.reject("unauthorized");
        m.stored_in("disk", 3);
        m.fsync_took(Duration::from_micros(300));
        m.fsync_took(Duration::from_millis(2));
        let text = m.prometheus();
        assert!(text
            .contains("# TYPE audit_events_stored_total counter\naudit_events_stored_total 3\n"));
        assert!(text.contains("audit_batches_rejected_total{reason=\"unauthorized\"} 2\n"));
        assert!(text.contains("audit_destination_events_stored_total{destination=\"disk\"} 3\n"));
        assert!(text.contains("audit_fsync_seconds_bucket{le=\"0.0005\"} 1\n"));
        assert!(text.contains("audit_fsync_seconds_bucket{le=\"0.0025\"} 2\n"));
        assert!(text.contains("audit_fsync_seconds_count 2\n"));
        let stats: serde_json::Value = serde_json::from_str(&m.stats_json()).unwrap();
        assert_eq!(stats["eventsStored"], 3);
        assert_eq!(stats["batchesRejected"]["unauthorized"], 2);
        assert_eq!(stats["storedByDestination"]["disk"], 3);
        assert_eq!(stats["kafkaDeliveryFailures"], serde_json::json!({}));
        assert!(!text.contains("audit_kafka_delivery_failures_total"));
    }

    #[test]
    fn kafka_failures_show_from_the_start_and_failing_clears() {
        let m = Metrics::default();
        m.kafka_destination("bus");
        assert!(m
            .prometheus()
            .contains("audit_kafka_delivery_failures_total{destination=\"bus\"} 0\n"));
        m.kafka_failed("bus", 3);
        m.kafka_failing("bus", Some("broker down"));
        let stats: serde_json::Value = serde_json::from_str(&m.stats_json()).unwrap();
        assert_eq!(stats["kafkaDeliveryFailures"]["bus"], 3);
        assert_eq!(stats["kafkaFailing"]["bus"], "broker down");
        m.kafka_failing("bus", None);
        let stats: serde_json::Value = serde_json::from_str(&m.stats_json()).unwrap();
        assert_eq!(stats["kafkaFailing"], serde_json::json!({}));
        assert!(m
            .prometheus()
            .contains("audit_kafka_delivery_failures_total{destination=\"bus\"} 3\n"));
    }
}
