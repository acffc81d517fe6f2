//! One entry point for every report, shared by the `report` command and the Event Server's
//! `/api/reports/<name>`: [`Report`] names a report and collects it, [`run_report`] feeds it a
//! trail.

use std::io::{self, Write};
use std::ops::ControlFlow;

use super::super::files::TrailFile;
use super::super::filter::Filter;
use super::super::format::Format;
use super::super::progress::Progress;
use super::super::reader::{read_trail, Fields, ReadError, ReadSummary, Record};
use super::{
    write_apinode, write_authfail, write_cru, write_exports, write_last_activity, write_usage,
    ApinodeReport, AuthfailReport, CruKey, CruReport, ExportsReport, LastActivityReport,
    UsageReport,
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
}

/// The report names, as the CLI and `/api/reports/<name>` spell them.
pub const REPORT_NAMES: [&str; 6] = [
    "last-activity",
    "exports",
    "usage",
    "authfail",
    "cru",
    "apinode",
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
        }
    }

    /// Takes one record into account (the caller has applied its filter).
    pub fn observe(&mut self, record: &Record<'_>, fields: &Fields<'_>) {
        match self {
            Report::LastActivity(r) => r.observe(record, fields),
            Report::Exports(r) => r.observe(record, fields),
            Report::Usage(r) => r.observe(record, fields),
            Report::Authfail(r) => r.observe(record, fields),
            Report::Cru(r, _) => r.observe(record, fields),
            Report::Apinode(r) => r.observe(record, fields),
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
        }
    }
}

/// Reads `files`, hands every record `filter` keeps to `report`, and each problem (malformed
/// and torn lines, unreadable files) to `on_problem`.
pub fn run_report(
    files: &[TrailFile],
    filter: &Filter,
    report: &mut Report,
    progress: &Progress,
    on_problem: impl FnMut(&ReadError),
) -> ReadSummary {
    read_trail(
        files,
        progress,
        |record| {
            let fields = record.fields();
            if filter.matches(record, &fields) {
                report.observe(record, &fields);
            }
            ControlFlow::Continue(())
        },
        on_problem,
    )
}
