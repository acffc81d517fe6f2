//! `apinode`: API-node services (the MLOps view of `apinode-query` logs): per service (routing
//! key) and msgType, the queries, the failures (events carrying an `error` field) and the
//! latency percentiles of `latencyMs` where present.
//!
//! Percentiles are nearest-rank over the exact values (p50 of 1..=10 is 5, p95 and p99 are 10).
//! Memory: one number per query that has a latency.

use std::collections::BTreeMap;
use std::io::{self, Write};

use super::super::format::{Cell, Column, Format, RowWriter, MSG_TYPE_WIDTH};
use super::super::reader::{Fields, Record};

/// The topic `apinode` reads.
pub const APINODE_TOPIC: &str = "apinode-query";

/// One row of `apinode`.
#[derive(Clone, Debug, PartialEq)]
pub struct ApinodeService {
    /// The service (routing key), `-` without one.
    pub service: String,
    /// The msgType (`prediction-query`, `sql-query`, …).
    pub msg_type: String,
    /// Queries.
    pub queries: u64,
    /// Queries with an `error` field.
    pub failures: u64,
    /// Latency percentiles (ms) over the queries with a `latencyMs`: p50, p95, p99.
    pub latency: Option<[f64; 3]>,
}

/// Collects [`ApinodeService`] rows.
///
/// ```
/// use log4rs_audit::query::files::Location;
/// use log4rs_audit::query::reader::parse_line;
/// use log4rs_audit::query::reports::ApinodeReport;
///
/// let here = Location::default();
/// let mut report = ApinodeReport::default();
/// for (ms, error) in [(3, ""), (5, ""), (40, r#","error":"timeout""#)] {
///     let line = format!(r#"{{"message":{{"msgType":"prediction-query","routingKey":"fraud-svc","latencyMs":{ms}{error}}},"logger":"dku.audit.apinode-query","timestamp":"2020-02-19T16:05:02.441+0100"}}"#);
///     let record = parse_line(&line, &here)?;
///     report.observe(&record, &record.fields());
/// }
/// let rows = report.finish();
/// assert_eq!((rows[0].queries, rows[0].failures, rows[0].latency), (3, 1, Some([5.0, 40.0, 40.0])));
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Default)]
pub struct ApinodeReport {
    /// (service, msgType) → (queries, failures, latencies).
    services: BTreeMap<(String, String), (u64, u64, Vec<f64>)>,
}

impl ApinodeReport {
    /// Takes one record into account.
    pub fn observe(&mut self, record: &Record<'_>, fields: &Fields<'_>) {
        if record.topic() != Some(APINODE_TOPIC) {
            return;
        }
        let service = record
            .routing_key_with(fields)
            .map_or_else(|| "-".to_owned(), |k| k.into_owned());
        let msg_type = fields.msg_type.as_deref().unwrap_or("-").to_owned();
        let entry = self.services.entry((service, msg_type)).or_default();
        entry.0 += 1;
        if record.lookup(&["error"]).is_some_and(|e| e.get() != "null") {
            entry.1 += 1;
        }
        if let Some(ms) = record
            .lookup(&["latencyMs"])
            .and_then(|v| v.get().parse::<f64>().ok())
            .filter(|ms| ms.is_finite())
        {
            entry.2.push(ms);
        }
    }

    /// Adds what `other` collected (from another part of the same trail). Latencies are
    /// sorted in full (`total_cmp`) when finished, so the order they were collected in does
    /// not matter.
    pub(crate) fn merge(&mut self, other: ApinodeReport) {
        for (key, (queries, failures, latencies)) in other.services {
            let entry = self.services.entry(key).or_default();
            entry.0 += queries;
            entry.1 += failures;
            entry.2.extend(latencies);
        }
    }

    /// The rows by service, then msgType.
    pub fn finish(self) -> Vec<ApinodeService> {
        self.services
            .into_iter()
            .map(
                |((service, msg_type), (queries, failures, mut latencies))| {
                    latencies.sort_by(f64::total_cmp);
                    let rank = |p: f64| {
                        let n = latencies.len();
                        let r = ((p / 100.0) * n as f64).ceil() as usize;
                        latencies[r.clamp(1, n) - 1]
                    };
                    ApinodeService {
                        service,
                        msg_type,
                        queries,
                        failures,
                        latency: (!latencies.is_empty())
                            .then(|| [rank(50.0), rank(95.0), rank(99.0)]),
                    }
                },
            )
            .collect()
    }
}

/// Writes `apinode` rows: `service`, `msgType`, `queries`, `failures`, `p50Ms`, `p95Ms`,
/// `p99Ms`.
pub fn write_apinode(out: impl Write, format: Format, rows: &[ApinodeService]) -> io::Result<()> {
    let columns = vec![
        Column::new("service", 16),
        Column::new("msgType", MSG_TYPE_WIDTH.min(22)),
        Column::new("queries", 8),
        Column::new("failures", 8),
        Column::new("p50Ms", 8),
        Column::new("p95Ms", 8),
        Column::new("p99Ms", 0),
    ];
    let mut writer = RowWriter::new(out, format, columns);
    writer.header()?;
    for row in rows {
        let p = |i: usize| row.latency.map_or(Cell::Missing, |l| Cell::Number(l[i]));
        writer.cells(&[
            Cell::Text(&row.service),
            Cell::Text(&row.msg_type),
            Cell::Count(row.queries),
            Cell::Count(row.failures),
            p(0),
            p(1),
            p(2),
        ])?;
    }
    writer.flush()
}
