//! `cru`: compute resource usage (CRU) per user, project, resource type or department, from
//! the `compute-resource-usage-complete` events (one per finished usage, so each counts once).
//!
//! Read from each event's `computeResourceUsage`: `type`, `startTime` and `endTime` (epoch
//! ms), `context.projectKey`, and `localProcess.{userTimeMS, systemTimeMS, childrenUserTimeMS,
//! childrenSystemTimeMS, rssMBSeconds}`. Per key: usages, CPU ms (user + system, children
//! included), `rssMBSeconds`, wall ms (`endTime − startTime`, for usages that have both). The
//! user is `authUser`, else the MDC's `user`; a department comes from a `user,department` CSV
//! (`--people`), users it does not list under `(unknown)`. Sums are exact, rounded once
//! ([`ExactSum`]): the same whatever the reading order. Rows: most CPU first, then by key.
//! Memory: one entry per key.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;

use super::super::format::{Cell, Column, Format, RowWriter};
use serde_json::value::RawValue;

use super::super::reader::{lookup, Fields, Record};
use super::ExactSum;

/// The msgType `cru` reads.
pub const CRU_COMPLETE: &str = "compute-resource-usage-complete";
/// The department of users the people file does not list.
pub const UNKNOWN_DEPARTMENT: &str = "(unknown)";

/// What `cru` groups by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[non_exhaustive]
pub enum CruKey {
    /// The user (`authUser`, else the MDC's `user`).
    #[default]
    User,
    /// `computeResourceUsage.context.projectKey`.
    Project,
    /// `computeResourceUsage.type` (`LOCAL_PROCESS`, `SPARK_K8S_JOB`, …).
    Type,
    /// The user's department, from `--people`.
    Department,
}

/// One row of `cru`.
#[derive(Clone, Debug, PartialEq)]
pub struct CruUsage {
    /// The user, project, type or department (`-` when the event has none).
    pub key: String,
    /// Usages.
    pub usages: u64,
    /// CPU ms: user + system, children included.
    pub cpu_ms: f64,
    /// Resident memory × time.
    pub rss_mb_seconds: f64,
    /// Wall ms, over the usages with a start and an end.
    pub wall_ms: f64,
}

/// Reads a `user,department` CSV (a `user,department` header line is skipped; blank lines and
/// lines starting with `#` too). An error names the file and line.
pub fn read_people(path: &Path) -> Result<HashMap<String, String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut people = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || (i == 0 && line == "user,department") {
            continue;
        }
        let Some((user, department)) = line.split_once(',') else {
            return Err(format!(
                "{}:{}: expected `user,department`, found `{line}`",
                path.display(),
                i + 1
            ));
        };
        people.insert(user.trim().to_owned(), department.trim().to_owned());
    }
    Ok(people)
}

/// Collects [`CruUsage`] rows.
///
/// ```
/// use log4rs_audit::query::files::Location;
/// use log4rs_audit::query::reader::parse_line;
/// use log4rs_audit::query::reports::{CruKey, CruReport};
///
/// let here = Location::default();
/// let mut report = CruReport::new(CruKey::Project, Default::default());
/// let line = r#"{"message":{"msgType":"compute-resource-usage-complete","authUser":"bob","computeResourceUsage":{"type":"LOCAL_PROCESS","startTime":1000,"endTime":4000,"context":{"type":"JOB_ACTIVITY","projectKey":"CHURN"},"localProcess":{"userTimeMS":700,"systemTimeMS":200,"childrenUserTimeMS":50,"childrenSystemTimeMS":50,"rssMBSeconds":12.5}}},"logger":"dku.audit.compute-resource-usage","timestamp":"2020-02-19T16:05:02.441+0100"}"#;
/// let record = parse_line(line, &here)?;
/// report.observe(&record, &record.fields());
/// let rows = report.finish();
/// assert_eq!((rows[0].key.as_str(), rows[0].cpu_ms, rows[0].wall_ms), ("CHURN", 1000.0, 3000.0));
/// # Ok::<(), String>(())
/// ```
#[derive(Debug)]
pub struct CruReport {
    by: CruKey,
    people: HashMap<String, String>,
    rows: HashMap<String, CruSums>,
}

/// A row being summed: exactly ([`ExactSum`]), so the answer does not depend on the order
/// the usages were read in (nor on how the trail was split between threads).
#[derive(Debug, Default)]
struct CruSums {
    usages: u64,
    cpu_ms: ExactSum,
    rss_mb_seconds: ExactSum,
    wall_ms: ExactSum,
}

impl CruSums {
    fn merge(&mut self, other: &CruSums) {
        self.usages += other.usages;
        self.cpu_ms.merge(&other.cpu_ms);
        self.rss_mb_seconds.merge(&other.rss_mb_seconds);
        self.wall_ms.merge(&other.wall_ms);
    }
}

impl CruReport {
    /// A report by `by`; `people` maps users to departments (for [`CruKey::Department`]).
    pub fn new(by: CruKey, people: HashMap<String, String>) -> CruReport {
        CruReport {
            by,
            people,
            rows: HashMap::new(),
        }
    }

    /// Takes one record into account.
    pub fn observe(&mut self, record: &Record<'_>, fields: &Fields<'_>) {
        if fields.msg_type.as_deref() != Some(CRU_COMPLETE) {
            return;
        }
        // `computeResourceUsage` and its `localProcess` are found once, each number within
        // them (not by a path from the top of the event for each).
        let usage = record.lookup(&["computeResourceUsage"]);
        let local = usage.and_then(|u| lookup(u, &["localProcess"]));
        let number = |value: Option<&RawValue>, key: &str| {
            value
                .and_then(|v| lookup(v, &[key]))
                .and_then(|v| v.get().parse::<f64>().ok())
                .filter(|x| x.is_finite())
        };
        let text = |path: &[&str]| {
            usage
                .and_then(|u| lookup(u, path))
                .and_then(super::super::filter::value_text)
        };
        let user = || record.user_with(fields).map(|u| u.into_owned());
        let key = match self.by {
            CruKey::User => user(),
            CruKey::Project => text(&["context", "projectKey"]),
            CruKey::Type => text(&["type"]),
            CruKey::Department => Some(
                user()
                    .and_then(|u| self.people.get(&u).cloned())
                    .unwrap_or_else(|| UNKNOWN_DEPARTMENT.to_owned()),
            ),
        }
        .unwrap_or_else(|| "-".to_owned());
        let cpu: f64 = [
            "userTimeMS",
            "systemTimeMS",
            "childrenUserTimeMS",
            "childrenSystemTimeMS",
        ]
        .iter()
        .filter_map(|f| number(local, f))
        .sum();
        let rss = number(local, "rssMBSeconds").unwrap_or(0.0);
        let wall = match (number(usage, "startTime"), number(usage, "endTime")) {
            (Some(start), Some(end)) => end - start,
            _ => 0.0,
        };
        let row = self.rows.entry(key).or_default();
        row.usages += 1;
        row.cpu_ms.add(cpu);
        row.rss_mb_seconds.add(rss);
        row.wall_ms.add(wall);
    }

    /// An empty report with the same options (for another part of the trail).
    pub(crate) fn fresh(&self) -> CruReport {
        CruReport::new(self.by, self.people.clone())
    }

    /// Adds what `other` collected (from another part of the same trail).
    pub(crate) fn merge(&mut self, other: CruReport) {
        for (key, sums) in other.rows {
            self.rows.entry(key).or_default().merge(&sums);
        }
    }

    /// The rows, most CPU first.
    pub fn finish(self) -> Vec<CruUsage> {
        let mut rows: Vec<CruUsage> = self
            .rows
            .into_iter()
            .map(|(key, sums)| CruUsage {
                key,
                usages: sums.usages,
                cpu_ms: sums.cpu_ms.value(),
                rss_mb_seconds: sums.rss_mb_seconds.value(),
                wall_ms: sums.wall_ms.value(),
            })
            .collect();
        rows.sort_by(|a, b| {
            b.cpu_ms
                .total_cmp(&a.cpu_ms)
                .then_with(|| a.key.cmp(&b.key))
        });
        rows
    }
}

/// Writes `cru` rows: the key (named `user`, `project`, `type` or `department`), `usages`,
/// `cpuMs`, `rssMBSeconds`, `wallMs`.
pub fn write_cru(out: impl Write, format: Format, by: CruKey, rows: &[CruUsage]) -> io::Result<()> {
    let name = match by {
        CruKey::User => "user",
        CruKey::Project => "project",
        CruKey::Type => "type",
        CruKey::Department => "department",
    };
    let columns = vec![
        Column::new(name, 16),
        Column::new("usages", 8),
        Column::new("cpuMs", 12),
        Column::new("rssMBSeconds", 14),
        Column::new("wallMs", 0),
    ];
    let mut writer = RowWriter::new(out, format, columns);
    writer.header()?;
    for row in rows {
        writer.cells(&[
            Cell::Text(&row.key),
            Cell::Count(row.usages),
            Cell::Number(row.cpu_ms),
            Cell::Number(row.rss_mb_seconds),
            Cell::Number(row.wall_ms),
        ])?;
    }
    writer.flush()
}
