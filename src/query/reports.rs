//! Reports over a whole trail: `last-activity`, `exports`, `usage` ([`usage`]), `authfail`
//! ([`authfail`]), `cru` ([`cru`]) and `apinode` ([`apinode`]).
//!
//! They compare events by their time (`timestamp`, or `serverTimestamp` for Event Server lines),
//! not by the order files are read in, so several rolled sets, per-topic files and Event Server
//! folders can be given together. Events without a readable time are left out of both.
//!
//! - **last-activity**: one row per user (`authUser`, else the MDC's `user`): the time, msgType
//!   and topic of their latest event, and how many events they have. Sorted by that time, most
//!   recent first (ties by user name). Memory: one entry per user.
//! - **exports**: one row per `dataset-export` and `project-export-download` event, oldest
//!   first, with its user, `projectKey` and `datasetName` (empty for project exports, which
//!   carry no dataset), and whether the same user read a data sample
//!   (`dataset-read-data-sample`) before it (at an earlier time, or in the same millisecond and
//!   read earlier): of the same
//!   dataset of the same project for a dataset export, of any dataset of the same project for a
//!   project export. The latest such sample read is shown (`sampleReadAt`, `sampleDataset`).
//!   This is the trace that remains when data is copied out of a sample in the browser, which
//!   the trail cannot show. Memory: the export rows plus one time per sample read.
//!   Reads by code (`dataset-read-data`: a recipe or notebook reading the data) are listed too,
//!   one row per user, project and dataset: the first read's time and `readsByCode`, how many.

pub mod apinode;
pub mod authfail;
pub mod cru;
mod exact_sum;
pub mod gaps;
mod run;
pub mod usage;

use std::collections::HashMap;
use std::io::{self, Write};

pub use apinode::{write_apinode, ApinodeReport, ApinodeService};
pub use authfail::{write_authfail, Authfail, AuthfailReport};
pub use cru::{read_people, write_cru, CruKey, CruReport, CruUsage};
pub use exact_sum::ExactSum;
pub use gaps::{write_gaps, Gap, GapsReport};
pub use run::{run_report, run_report_with, Report, REPORT_NAMES};
pub use usage::{write_usage, Period, Usage, UsageReport};

use super::format::{
    Cell, Column, Format, RowWriter, MSG_TYPE_WIDTH, TIME_WIDTH, TOPIC_WIDTH, USER_WIDTH,
};
use super::reader::{Fields, ReadOrder, Record};
use super::time::Millis;

/// The msgType of a sample read.
pub const SAMPLE_READ: &str = "dataset-read-data-sample";
/// The msgTypes `exports` lists.
pub const EXPORTS: [&str; 2] = ["dataset-export", "project-export-download"];
/// The msgType of a read by custom code, which `exports` lists per user and dataset.
pub const READ_BY_CODE: &str = "dataset-read-data";

/// A user's latest event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastActivity {
    /// The user.
    pub user: String,
    /// The latest event's time.
    pub time: Millis,
    /// Its timestamp as written.
    pub timestamp: String,
    /// Its msgType.
    pub msg_type: Option<String>,
    /// Its topic.
    pub topic: Option<String>,
    /// The user's events in all.
    pub events: u64,
}

/// Collects [`LastActivity`] rows.
///
/// ```
/// use log4rs_audit::query::files::Location;
/// use log4rs_audit::query::reader::parse_line;
/// use log4rs_audit::query::reports::LastActivityReport;
///
/// let here = Location::default();
/// let mut report = LastActivityReport::default();
/// for line in [
///     r#"{"message":{"msgType":"login","authUser":"bob"},"logger":"dku.audit.generic","timestamp":"2020-02-19T16:05:02.441+0100"}"#,
///     r#"{"message":{"msgType":"logout","authUser":"bob"},"logger":"dku.audit.generic","timestamp":"2020-02-19T17:00:00.000+0100"}"#,
///     r#"{"message":{"msgType":"login","authUser":"eve"},"logger":"dku.audit.generic","timestamp":"2020-02-19T16:30:00.000+0100"}"#,
/// ] {
///     let record = parse_line(line, &here)?;
///     report.observe(&record, &record.fields());
/// }
/// let rows = report.finish();
/// assert_eq!(rows[0].user, "bob");
/// assert_eq!(rows[0].msg_type.as_deref(), Some("logout"));
/// assert_eq!(rows[1].user, "eve");
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Default)]
pub struct LastActivityReport {
    /// Each user's latest event and where it was read (ties in time: the later read wins).
    users: HashMap<String, (LastActivity, ReadOrder)>,
    /// Records seen through [`LastActivityReport::observe`], as their reading order.
    seen: u64,
}

impl LastActivityReport {
    /// Takes one record into account, in reading order.
    pub fn observe(&mut self, record: &Record<'_>, fields: &Fields<'_>) {
        self.seen += 1;
        let order = ReadOrder {
            file: 0,
            offset: self.seen,
        };
        self.observe_at(record, fields, order);
    }

    /// Takes one record into account, read at `order`: of two events of a user in the same
    /// millisecond, the one read later is the latest, whichever thread saw it first.
    pub fn observe_at(&mut self, record: &Record<'_>, fields: &Fields<'_>, order: ReadOrder) {
        let (Some(user), Some(time)) = (record.user_with(fields), record.time()) else {
            return;
        };
        let timestamp = record.timestamp.as_deref().unwrap_or_default();
        let msg_type = fields.msg_type.as_deref();
        let topic = record.topic();
        match self.users.get_mut(user.as_ref()) {
            Some((entry, at)) => {
                entry.events += 1;
                if (time, order) >= (entry.time, *at) {
                    // In place: the strings' buffers are reused, no allocation per event.
                    entry.time = time;
                    *at = order;
                    replace(&mut entry.timestamp, timestamp);
                    replace_opt(&mut entry.msg_type, msg_type);
                    replace_opt(&mut entry.topic, topic);
                }
            }
            None => {
                let row = LastActivity {
                    user: user.clone().into_owned(),
                    time,
                    timestamp: timestamp.to_owned(),
                    msg_type: msg_type.map(str::to_owned),
                    topic: topic.map(str::to_owned),
                    events: 1,
                };
                self.users.insert(user.into_owned(), (row, order));
            }
        }
    }

    /// Adds what `other` collected (from another part of the same trail).
    pub(crate) fn merge(&mut self, other: LastActivityReport) {
        for (user, (row, order)) in other.users {
            match self.users.entry(user) {
                std::collections::hash_map::Entry::Occupied(mut mine) => {
                    let (entry, at) = mine.get_mut();
                    let events = entry.events + row.events;
                    if (row.time, order) > (entry.time, *at) {
                        (*entry, *at) = (row, order);
                    }
                    entry.events = events;
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert((row, order));
                }
            }
        }
    }

    /// The rows, most recent first.
    pub fn finish(self) -> Vec<LastActivity> {
        let mut rows: Vec<LastActivity> = self.users.into_values().map(|(row, _)| row).collect();
        rows.sort_by(|a, b| b.time.cmp(&a.time).then_with(|| a.user.cmp(&b.user)));
        rows
    }
}

/// Sets `slot` to `text`, reusing its buffer.
fn replace(slot: &mut String, text: &str) {
    slot.clear();
    slot.push_str(text);
}

/// Sets `slot` to `text`, reusing its buffer.
fn replace_opt(slot: &mut Option<String>, text: Option<&str>) {
    match (slot.as_mut(), text) {
        (Some(s), Some(t)) => replace(s, t),
        (_, t) => *slot = t.map(str::to_owned),
    }
}

/// Writes `last-activity` rows: `user`, `lastTime`, `msgType`, `topic`, `events`.
pub fn write_last_activity(
    out: impl Write,
    format: Format,
    rows: &[LastActivity],
) -> io::Result<()> {
    let columns = vec![
        Column::new("user", USER_WIDTH),
        Column::new("lastTime", TIME_WIDTH),
        Column::new("msgType", MSG_TYPE_WIDTH),
        Column::new("topic", TOPIC_WIDTH),
        Column::new("events", 0),
    ];
    let mut writer = RowWriter::new(out, format, columns);
    writer.header()?;
    for row in rows {
        writer.cells(&[
            Cell::Text(&row.user),
            Cell::Text(&row.timestamp),
            row.msg_type.as_deref().into(),
            row.topic.as_deref().into(),
            Cell::Count(row.events),
        ])?;
    }
    writer.flush()
}

/// One export and the sample read before it, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Export {
    /// The export's time.
    pub time: Millis,
    /// Its timestamp as written.
    pub timestamp: String,
    /// `dataset-export` or `project-export-download`.
    pub msg_type: String,
    /// The user.
    pub user: Option<String>,
    /// `projectKey`.
    pub project: Option<String>,
    /// `datasetName` (dataset exports).
    pub dataset: Option<String>,
    /// The latest sample read before it by the same user (timestamp as written, dataset).
    pub sample_read: Option<(String, String)>,
    /// For a [`READ_BY_CODE`] row: how many reads of the dataset by the user (the row's time is
    /// the first one's); `None` for an export.
    pub reads_by_code: Option<u64>,
}

#[derive(Debug)]
struct SampleRead {
    /// (time, reading order).
    when: (Millis, ReadOrder),
    timestamp: String,
    dataset: String,
}

/// Collects [`Export`] rows (see the module docs for the matching rule).
#[derive(Debug, Default)]
pub struct ExportsReport {
    /// Records seen through [`ExportsReport::observe`], as their reading order.
    seen: u64,
    /// The exports and where they were read, so events of the same millisecond keep their
    /// reading order.
    exports: Vec<(ReadOrder, Export)>,
    /// Sample reads by (user, project).
    samples: HashMap<(String, String), Vec<SampleRead>>,
    /// Reads by code by (user, project, dataset): the first one (where read, row) and the
    /// count.
    reads: HashMap<(String, String, String), (ReadOrder, Export)>,
}

impl ExportsReport {
    /// Whether a record with this msgType matters to the report.
    pub fn wants(msg_type: Option<&str>) -> bool {
        msg_type.is_some_and(|m| m == SAMPLE_READ || m == READ_BY_CODE || EXPORTS.contains(&m))
    }

    /// Takes one record into account, in reading order.
    pub fn observe(&mut self, record: &Record<'_>, fields: &Fields<'_>) {
        self.seen += 1;
        let order = ReadOrder {
            file: 0,
            offset: self.seen,
        };
        self.observe_at(record, fields, order);
    }

    /// Takes one record into account, read at `order` (which orders events of the same
    /// millisecond, whichever thread read them).
    pub fn observe_at(&mut self, record: &Record<'_>, fields: &Fields<'_>, order: ReadOrder) {
        let Some(msg_type) = fields.msg_type.as_deref() else {
            return;
        };
        if !Self::wants(Some(msg_type)) {
            return;
        }
        let Some(time) = record.time() else {
            return;
        };
        let seq = order;
        let user = record.user_with(fields).map(|u| u.into_owned());
        let owned = |v: &Option<std::borrow::Cow<'_, str>>| v.as_deref().map(str::to_owned);
        let timestamp = record.timestamp.as_deref().unwrap_or_default().to_owned();
        if msg_type == READ_BY_CODE {
            let project = owned(&fields.project_key);
            let dataset = owned(&fields.dataset_name);
            let key = (
                user.clone().unwrap_or_default(),
                project.clone().unwrap_or_default(),
                dataset.clone().unwrap_or_default(),
            );
            let row = Export {
                time,
                timestamp,
                msg_type: READ_BY_CODE.to_owned(),
                user,
                project,
                dataset,
                sample_read: None,
                reads_by_code: Some(1),
            };
            self.add_read(key, seq, row);
            return;
        }
        if msg_type == SAMPLE_READ {
            if let (Some(user), Some(project)) = (user, owned(&fields.project_key)) {
                self.samples
                    .entry((user, project))
                    .or_default()
                    .push(SampleRead {
                        when: (time, seq),
                        timestamp,
                        dataset: owned(&fields.dataset_name).unwrap_or_default(),
                    });
            }
            return;
        }
        self.exports.push((
            seq,
            Export {
                time,
                timestamp,
                msg_type: msg_type.to_owned(),
                user,
                project: owned(&fields.project_key),
                dataset: if msg_type == "dataset-export" {
                    owned(&fields.dataset_name)
                } else {
                    None
                },
                sample_read: None,
                reads_by_code: None,
            },
        ));
    }

    /// Counts `row` (a read by code, or several: its `reads_by_code`) under `key`, keeping the
    /// first one's row.
    fn add_read(&mut self, key: (String, String, String), seq: ReadOrder, row: Export) {
        match self.reads.get_mut(&key) {
            Some((first_seq, first)) => {
                let n = first.reads_by_code.unwrap_or(0) + row.reads_by_code.unwrap_or(0);
                if (row.time, seq) < (first.time, *first_seq) {
                    (*first_seq, *first) = (seq, row);
                }
                first.reads_by_code = Some(n);
            }
            None => {
                self.reads.insert(key, (seq, row));
            }
        }
    }

    /// Adds what `other` collected (from another part of the same trail).
    pub(crate) fn merge(&mut self, other: ExportsReport) {
        self.exports.extend(other.exports);
        for (key, reads) in other.samples {
            self.samples.entry(key).or_default().extend(reads);
        }
        for (key, (seq, row)) in other.reads {
            self.add_read(key, seq, row);
        }
    }

    /// The exports, oldest first, each with its latest preceding sample read.
    pub fn finish(self) -> Vec<Export> {
        let ExportsReport {
            mut exports,
            mut samples,
            reads,
            ..
        } = self;
        exports.extend(reads.into_values());
        for reads in samples.values_mut() {
            reads.sort_by_key(|r| r.when);
        }
        exports.sort_by_key(|(seq, e)| (e.time, *seq));
        for (seq, export) in &mut exports {
            let (Some(user), Some(project)) = (&export.user, &export.project) else {
                continue;
            };
            if export.reads_by_code.is_some() {
                continue; // a read, not an export: no sample read to look for
            }
            let Some(reads) = samples.get(&(user.clone(), project.clone())) else {
                continue;
            };
            let before = reads.partition_point(|r| r.when <= (export.time, *seq));
            let latest = reads[..before]
                .iter()
                .rev()
                .find(|r| export.dataset.as_ref().is_none_or_eq(&r.dataset));
            export.sample_read = latest.map(|r| (r.timestamp.clone(), r.dataset.clone()));
        }
        exports.into_iter().map(|(_, e)| e).collect()
    }
}

/// `None` (a project export) matches any dataset.
trait NoneOrEq {
    fn is_none_or_eq(&self, other: &str) -> bool;
}

impl NoneOrEq for Option<&String> {
    fn is_none_or_eq(&self, other: &str) -> bool {
        match self {
            None => true,
            Some(d) => d.as_str() == other,
        }
    }
}

/// Width of the msgType column of `exports`.
const EXPORT_TYPE_WIDTH: usize = 23;

/// Writes `exports` rows: `time`, `msgType`, `user`, `project`, `dataset`, `sampleReadBefore`
/// (`yes` / `no`; a JSON bool in `ndjson`; missing for reads by code), `sampleReadAt`,
/// `sampleDataset`, `readsByCode` (reads by code only).
pub fn write_exports(out: impl Write, format: Format, rows: &[Export]) -> io::Result<()> {
    let columns = vec![
        Column::new("time", TIME_WIDTH),
        Column::new("msgType", EXPORT_TYPE_WIDTH),
        Column::new("user", USER_WIDTH),
        Column::new("project", 15),
        Column::new("dataset", 15),
        Column::new("sampleReadBefore", 16),
        Column::new("sampleReadAt", TIME_WIDTH),
        Column::new("sampleDataset", 15),
        Column::new("readsByCode", 0),
    ];
    let mut writer = RowWriter::new(out, format, columns);
    writer.header()?;
    for row in rows {
        let (at, dataset) = match &row.sample_read {
            Some((at, dataset)) => (Cell::Text(at), Cell::Text(dataset)),
            None => (Cell::Missing, Cell::Missing),
        };
        writer.cells(&[
            Cell::Text(&row.timestamp),
            Cell::Text(&row.msg_type),
            row.user.as_deref().into(),
            row.project.as_deref().into(),
            row.dataset.as_deref().into(),
            match row.reads_by_code {
                Some(_) => Cell::Missing,
                None => Cell::Flag(row.sample_read.is_some()),
            },
            at,
            dataset,
            row.reads_by_code.map_or(Cell::Missing, Cell::Count),
        ])?;
    }
    writer.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::files::Location;
    use crate::query::reader::parse_line;

    fn line(time: &str, msg_type: &str, user: &str, project: &str, dataset: &str) -> String {
        format!(
            r#"{{"severity":"INFO","logger":"dku.audit.generic","message":{{"msgType":"{msg_type}","authUser":"{user}","projectKey":"{project}","datasetName":"{dataset}"}},"mdc":{{}},"timestamp":"2026-11-24T{time}.000+0000"}}"#
        )
    }

    fn exports(lines: &[String]) -> Vec<Export> {
        let here = Location::default();
        let mut report = ExportsReport::default();
        for l in lines {
            let r = parse_line(l, &here).unwrap();
            report.observe(&r, &r.fields());
        }
        report.finish()
    }

    #[test]
    fn reads_by_code_are_one_row_per_user_project_and_dataset() {
        let rows = exports(&[
            line("10:00:00", READ_BY_CODE, "alice", "P", "d1"),
            line("09:00:00", READ_BY_CODE, "alice", "P", "d1"),
            line("11:00:00", READ_BY_CODE, "alice", "P", "d2"),
            line("12:00:00", READ_BY_CODE, "bob", "P", "d1"),
            line("09:30:00", "dataset-export", "alice", "P", "d1"),
        ]);
        let got: Vec<(&str, &str, &str, Option<u64>)> = rows
            .iter()
            .map(|e| {
                (
                    &e.timestamp[11..19],
                    e.msg_type.as_str(),
                    e.dataset.as_deref().unwrap(),
                    e.reads_by_code,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("09:00:00", READ_BY_CODE, "d1", Some(2)),
                ("09:30:00", "dataset-export", "d1", None),
                ("11:00:00", READ_BY_CODE, "d2", Some(1)),
                ("12:00:00", READ_BY_CODE, "d1", Some(1)),
            ]
        );
        // A read is not a sample read: the export has none before it.
        assert_eq!(rows[1].sample_read, None);
        let mut out = Vec::new();
        write_exports(&mut out, Format::Ndjson, &rows[..1]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"time\":\"2026-11-24T09:00:00.000+0000\",\"msgType\":\"dataset-read-data\",\"user\":\"alice\",\"project\":\"P\",\"dataset\":\"d1\",\"sampleReadBefore\":null,\"sampleReadAt\":null,\"sampleDataset\":null,\"readsByCode\":2}\n"
        );
    }

    #[test]
    fn sample_reads_before_exports() {
        let rows = exports(&[
            line("10:00:00", "dataset-export", "alice", "P", "d1"),
            line("09:00:00", SAMPLE_READ, "alice", "P", "d1"),
            line("09:30:00", SAMPLE_READ, "alice", "P", "d2"),
            line("08:00:00", "dataset-export", "alice", "P", "d1"),
            line("11:00:00", "dataset-export", "bob", "P", "d1"),
            line("12:00:00", "project-export-download", "alice", "P", ""),
            line("12:00:00", "project-export-download", "alice", "Q", ""),
            line("13:00:00", "login", "alice", "P", "d1"),
            // The same millisecond: reading order decides.
            line("14:00:00", "dataset-export", "carol", "P", "d1"),
            line("14:00:00", SAMPLE_READ, "carol", "P", "d1"),
            line("14:00:00", "dataset-export", "carol", "P", "d1"),
        ]);
        let got: Vec<(&str, &str, Option<&str>)> = rows
            .iter()
            .map(|e| {
                (
                    &e.timestamp[11..19],
                    e.user.as_deref().unwrap(),
                    e.sample_read.as_ref().map(|(_, d)| d.as_str()),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("08:00:00", "alice", None),
                ("10:00:00", "alice", Some("d1")),
                ("11:00:00", "bob", None),
                ("12:00:00", "alice", Some("d2")),
                ("12:00:00", "alice", None),
                ("14:00:00", "carol", None),
                ("14:00:00", "carol", Some("d1")),
            ]
        );
        assert_eq!(rows[3].dataset, None);
        let mut out = Vec::new();
        write_exports(&mut out, Format::Csv, &rows[1..2]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "time,msgType,user,project,dataset,sampleReadBefore,sampleReadAt,sampleDataset,readsByCode\n\
             2026-11-24T10:00:00.000+0000,dataset-export,alice,P,d1,yes,2026-11-24T09:00:00.000+0000,d1,\n"
        );
    }
}
