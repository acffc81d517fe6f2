//! One entry point for every report, shared by the `report` command and the Event Server's
//! `/api/reports/<name>`: [`Report`] names a report and collects it, [`run_report`] feeds it a
//! trail.

use std::io::{self, Write};

use super::super::files::TrailFile;
use super::super::filter::Filter;
use super::super::format::Format;
use super::super::parallel::{read_trail_parallel, ReadOptions};
use super::super::progress::Progress;
use super::super::reader::{Fields, ReadError, ReadOrder, ReadSummary, Record};
use super::{
    write_apinode, write_authfail, write_cru, write_exports, write_gaps, write_last_activity,
    write_usage, ApinodeReport, AuthfailReport, CruKey, CruReport, ExportsReport, GapsReport,
    LastActivityReport, UsageReport,
};

/// A report being collected, whichever it is.
///
/// ```
/// use log4rs_audit::query::{files, filter::Filter, format::Format, progress::Progress};
/// use log4rs_audit::query::reports::{run_report, Report};
///
/// let dir = tempfile::tempdir()?;
/// std::fs::write(
///     dir.path().join("audit.log"),
///     concat!(
///         r#"{"severity":"INFO","logger":"dku.audit.generic","message":{"msgType":"login","authUser":"bob"},"mdc":{},"timestamp":"2020-02-19T16:05:02.441+0100"}"#, "\n",
///     ),
/// )?;
/// let trail = files::discover(&[dir.path().to_path_buf()])?;
/// let mut report = Report::by_name("last-activity").unwrap();
/// let summary = run_report(&trail, &Filter::default(), &mut report, &Progress::hidden(), |_| {});
/// assert_eq!(summary.records, 1);
/// let mut out = Vec::new();
/// report.write(&mut out, Format::Ndjson)?;
/// assert!(String::from_utf8(out)?.starts_with(r#"{"user":"bob","#));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Report {
    /// `last-activity`.
    LastActivity(LastActivityReport),
    /// `exports`.
    Exports(ExportsReport),
    /// `usage`.
    Usage(UsageReport),
    /// `authfail`.
    Authfail(AuthfailReport),
    /// `cru`, with what its rows sum up.
    Cru(CruReport, CruKey),
    /// `apinode`.
    Apinode(ApinodeReport),
    /// `gaps`.
    Gaps(GapsReport),
}

/// The report names, as the CLI and `/api/reports/<name>` spell them.
pub const REPORT_NAMES: [&str; 7] = [
    "last-activity",
    "exports",
    "usage",
    "authfail",
    "cru",
    "apinode",
    "gaps",
];

impl Report {
    /// The report called `name` (see [`REPORT_NAMES`]), with its default options.
    pub fn by_name(name: &str) -> Option<Report> {
        Some(match name {
            "last-activity" => Report::LastActivity(LastActivityReport::default()),
            "exports" => Report::Exports(ExportsReport::default()),
            "usage" => Report::Usage(UsageReport::new(Default::default(), "local")),
            "authfail" => Report::Authfail(AuthfailReport::new(
                super::authfail::DEFAULT_BURST,
                super::authfail::DEFAULT_WINDOW,
            )),
            "cru" => Report::Cru(
                CruReport::new(CruKey::User, Default::default()),
                CruKey::User,
            ),
            "apinode" => Report::Apinode(ApinodeReport::default()),
            "gaps" => Report::Gaps(GapsReport::new("local", None)),
            _ => return None,
        })
    }

    /// Its name (one of [`REPORT_NAMES`]).
    pub fn name(&self) -> &'static str {
        match self {
            Report::LastActivity(_) => "last-activity",
            Report::Exports(_) => "exports",
            Report::Usage(_) => "usage",
            Report::Authfail(_) => "authfail",
            Report::Cru(..) => "cru",
            Report::Apinode(_) => "apinode",
            Report::Gaps(_) => "gaps",
        }
    }

    /// Takes one record into account (the caller has applied its filter), in reading order.
    pub fn observe(&mut self, record: &Record<'_>, fields: &Fields<'_>) {
        match self {
            Report::LastActivity(r) => r.observe(record, fields),
            Report::Exports(r) => r.observe(record, fields),
            Report::Usage(r) => r.observe(record, fields),
            Report::Authfail(r) => r.observe(record, fields),
            Report::Cru(r, _) => r.observe(record, fields),
            Report::Apinode(r) => r.observe(record, fields),
            Report::Gaps(r) => r.observe(record, fields),
        }
    }

    /// Takes one record into account, read at `order` (see [`ReadOrder`]): the reports that
    /// break ties by reading order use it, the others do not depend on order at all.
    pub fn observe_at(&mut self, record: &Record<'_>, fields: &Fields<'_>, order: ReadOrder) {
        match self {
            Report::LastActivity(r) => r.observe_at(record, fields, order),
            Report::Exports(r) => r.observe_at(record, fields, order),
            Report::Gaps(r) => r.observe_at(record, fields, order),
            _ => self.observe(record, fields),
        }
    }

    /// An empty report of the same kind and options, for a worker reading part of the trail.
    fn fresh(&self) -> Report {
        match self {
            Report::LastActivity(_) => Report::LastActivity(LastActivityReport::default()),
            Report::Exports(_) => Report::Exports(ExportsReport::default()),
            Report::Usage(r) => Report::Usage(r.fresh()),
            Report::Authfail(r) => Report::Authfail(r.fresh()),
            Report::Cru(r, by) => Report::Cru(r.fresh(), *by),
            Report::Apinode(_) => Report::Apinode(ApinodeReport::default()),
            Report::Gaps(r) => Report::Gaps(r.fresh()),
        }
    }

    /// Adds what a worker's report (made by [`Report::fresh`] from this one) collected.
    fn merge(&mut self, other: Report) {
        match (self, other) {
            (Report::LastActivity(a), Report::LastActivity(b)) => a.merge(b),
            (Report::Exports(a), Report::Exports(b)) => a.merge(b),
            (Report::Usage(a), Report::Usage(b)) => a.merge(b),
            (Report::Authfail(a), Report::Authfail(b)) => a.merge(b),
            (Report::Cru(a, _), Report::Cru(b, _)) => a.merge(b),
            (Report::Apinode(a), Report::Apinode(b)) => a.merge(b),
            (Report::Gaps(a), Report::Gaps(b)) => a.merge(b),
            (a, b) => unreachable!("{} merged with {}", a.name(), b.name()),
        }
    }

    /// Writes the finished rows in `format`.
    pub fn write(self, out: impl Write, format: Format) -> io::Result<()> {
        match self {
            Report::LastActivity(r) => write_last_activity(out, format, &r.finish()),
            Report::Exports(r) => write_exports(out, format, &r.finish()),
            Report::Usage(r) => write_usage(out, format, &r.finish()),
            Report::Authfail(r) => write_authfail(out, format, &r.finish()),
            Report::Cru(r, by) => write_cru(out, format, by, &r.finish()),
            Report::Apinode(r) => write_apinode(out, format, &r.finish()),
            Report::Gaps(r) => write_gaps(out, format, &r.finish()),
        }
    }
}

/// Reads `files`, hands every record `filter` keeps to `report`, and each problem (malformed
/// and torn lines, unreadable files) to `on_problem`.
///
/// Reads on one thread per core ([`ReadOptions::default`]); see [`run_report_with`]. Called
/// from a thread that may block (the Event Server calls it from a blocking task): it waits for
/// its workers.
pub fn run_report(
    files: &[TrailFile],
    filter: &Filter,
    report: &mut Report,
    progress: &Progress,
    on_problem: impl FnMut(&ReadError),
) -> ReadSummary {
    run_report_with(
        files,
        filter,
        report,
        progress,
        &ReadOptions::default(),
        on_problem,
    )
}

/// [`run_report`] with the threads and chunk size given. Each worker thread collects into its
/// own report (one entry per user, key or export, as one thread would), merged into `report`
/// at the end; the rows, the summary and the problems (in trail order, with their line
/// numbers) are the same for any `options`.
pub fn run_report_with(
    files: &[TrailFile],
    filter: &Filter,
    report: &mut Report,
    progress: &Progress,
    options: &ReadOptions,
    on_problem: impl FnMut(&ReadError),
) -> ReadSummary {
    let template = report.fresh();
    let (summary, parts) = read_trail_parallel(
        files,
        progress,
        options,
        || template.fresh(),
        |part: &mut Report, record, order| {
            let fields = record.fields();
            if filter.matches(record, &fields) {
                part.observe_at(record, &fields, order);
            }
        },
        on_problem,
    );
    for part in parts {
        report.merge(part);
    }
    summary
}
