//! The `query` and `report` commands of `log4rs-audit` (clap arguments and their runs).
//!
//! Exit status: 0 when every line was read (torn last lines are warnings), 1 when a line was
//! malformed or a file could not be read to its end (what could be read is still printed), 2
//! for bad arguments (an unreadable path, an invalid time or `--where`).

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use super::files::{discover, TrailFile};
use super::filter::{Filter, WhereClause};
use super::format::{Format, QueryWriter};
use super::progress::Progress;
use super::reader::{ReadError, ReadSummary};
use super::reports::{
    authfail, read_people, run_report, ApinodeReport, AuthfailReport, CruKey, CruReport,
    ExportsReport, GapsReport, LastActivityReport, Period, Report, UsageReport,
};
use super::run_query;
use super::time::{parse_time_arg, DateEdge, InvalidTime, Millis};

/// Which events to keep (shared by `query` and the reports).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct FilterArgs {
    /// Keep events of these topics (`generic`, `authfail`, …; repeat or separate with commas).
    #[arg(long, value_name = "T", value_delimiter = ',')]
    pub topic: Vec<String>,
    /// Keep events of these msgTypes (several values, or commas; put PATHs first).
    #[arg(long = "msg-type", value_name = "M", value_delimiter = ',', num_args = 1..)]
    pub msg_type: Vec<String>,
    /// Keep events of these users: `authUser`, else the MDC's `user` (repeat or commas).
    #[arg(long, value_name = "U", value_delimiter = ',')]
    pub user: Vec<String>,
    /// Keep events at or after TIME: RFC 3339, the envelope's format, a local date-time
    /// (2026-11-24T16:05) or a date (its local midnight).
    #[arg(long, value_name = "TIME", value_parser = parse_since)]
    pub since: Option<Millis>,
    /// Keep events before TIME (same forms; a date includes that whole day).
    #[arg(long, value_name = "TIME", value_parser = parse_until)]
    pub until: Option<Millis>,
    /// Keep events whose field KEY (dots for nested fields) has VALUE (a string's text, else its
    /// JSON: rows=10000, params.includeHeader=true); repeat for AND.
    #[arg(long = "where", value_name = "KEY=VALUE")]
    pub wheres: Vec<WhereClause>,
}

fn parse_since(text: &str) -> Result<Millis, InvalidTime> {
    parse_time_arg(text, DateEdge::Start)
}

fn parse_until(text: &str) -> Result<Millis, InvalidTime> {
    parse_time_arg(text, DateEdge::End)
}

impl FilterArgs {
    /// The filter these arguments describe.
    pub fn to_filter(&self) -> Filter {
        Filter {
            topics: self.topic.clone(),
            msg_types: self.msg_type.clone(),
            users: self.user.clone(),
            since: self.since,
            until: self.until,
            wheres: self.wheres.clone(),
        }
    }
}

/// `log4rs-audit query`.
#[derive(Clone, Debug, clap::Args)]
pub struct QueryArgs {
    /// Log files or folders (walked for log files: `*.log`, `*.log.N`, dated and `.gz` rolled
    /// files, Event Server `events.log` partitions); rolled sets are read oldest first.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Which events to print.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// `ndjson`: the stored lines unchanged; `table`, `csv`: time, topic, msgType, user, then
    /// the --where keys or the event's JSON.
    #[arg(long, value_enum, default_value_t = Format::Ndjson)]
    pub format: Format,
}

/// `log4rs-audit report <name>`.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum ReportCommand {
    /// Each user's latest event (time, msgType, topic) and event count, most recent first.
    LastActivity(ReportArgs),
    /// Every dataset-export and project-export-download, oldest first, with whether the same
    /// user read a data sample of that dataset (project exports: of that project) before it.
    Exports(ReportArgs),
    /// Per period and node: distinct active users and events (the licence view).
    Usage(UsageArgs),
    /// Failed authentications per user and source, with bursts (N within a window) flagged.
    Authfail(AuthfailArgs),
    /// Compute resource usage (from compute-resource-usage-complete events) per user, project,
    /// resource type or department: usages, CPU ms, rssMBSeconds, wall ms.
    Cru(CruArgs),
    /// API-node services: per service (routing key) and msgType, queries, failures and latency
    /// percentiles.
    Apinode(ReportArgs),
    /// Where audit stopped or went quiet, per node: restarts without a stop, missed or late
    /// heartbeats, nodes silent since their last heartbeat (until --until, else now).
    Gaps(GapsArgs),
}

/// Arguments of `report gaps`.
#[derive(Clone, Debug, clap::Args)]
pub struct GapsArgs {
    /// Paths, filters and format.
    #[command(flatten)]
    pub report: ReportArgs,
    /// The node of lines that do not name one (Event Server lines carry their origAddress).
    #[arg(long, value_name = "NAME", default_value = "local")]
    pub node: String,
}

/// Arguments of `report cru`.
#[derive(Clone, Debug, clap::Args)]
pub struct CruArgs {
    /// Paths, filters and format.
    #[command(flatten)]
    pub report: ReportArgs,
    /// What each row sums up.
    #[arg(long, value_enum, default_value_t = CruKey::User)]
    pub by: CruKey,
    /// A `user,department` CSV mapping users to departments (for --by department).
    #[arg(long, value_name = "FILE.csv")]
    pub people: Option<PathBuf>,
}

/// Arguments of `report usage`.
#[derive(Clone, Debug, clap::Args)]
pub struct UsageArgs {
    /// Paths, filters and format.
    #[command(flatten)]
    pub report: ReportArgs,
    /// Group by day (YYYY-MM-DD) or month (YYYY-MM) of each event's time as written.
    #[arg(long, value_enum, default_value_t = Period::Day)]
    pub period: Period,
    /// The node of lines that do not name one (Event Server lines carry their origAddress).
    #[arg(long, value_name = "NAME", default_value = "local")]
    pub node: String,
}

/// Arguments of `report authfail`.
#[derive(Clone, Debug, clap::Args)]
pub struct AuthfailArgs {
    /// Paths, filters and format.
    #[command(flatten)]
    pub report: ReportArgs,
    /// Failures of one user from one source within --window that make a burst.
    #[arg(long, value_name = "N", default_value_t = authfail::DEFAULT_BURST)]
    pub burst: u64,
    /// The window of a burst (10m, 1h, 30s).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "10m")]
    pub window: std::time::Duration,
}

/// Arguments of a report.
#[derive(Clone, Debug, clap::Args)]
pub struct ReportArgs {
    /// Log files or folders, as for `query`.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Which events the report considers.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Runs `log4rs-audit query`.
pub fn run_query_command(args: &QueryArgs) -> ExitCode {
    let Some(files) = find(&args.paths) else {
        return ExitCode::from(2);
    };
    let filter = args.filter.to_filter();
    note_unknown_topics(&files, &filter);
    let progress = Progress::for_stderr(total_size(&files));
    let stdout = io::stdout().lock();
    let mut out = QueryWriter::new(
        BufWriter::with_capacity(64 * 1024, stdout),
        args.format,
        &args.filter.wheres,
    );
    let ran = run_query(
        &files,
        &filter,
        &mut out,
        &progress,
        report_problem(&progress),
    );
    match ran {
        Ok(outcome) => finish(&outcome.summary),
        Err(e) => {
            eprintln!("log4rs-audit query: writing the output: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `log4rs-audit report …`.
pub fn run_report_command(command: &ReportCommand) -> ExitCode {
    let (args, mut report) = match command {
        ReportCommand::LastActivity(args) => {
            (args, Report::LastActivity(LastActivityReport::default()))
        }
        ReportCommand::Exports(args) => (args, Report::Exports(ExportsReport::default())),
        ReportCommand::Usage(u) => (
            &u.report,
            Report::Usage(UsageReport::new(u.period, u.node.clone())),
        ),
        ReportCommand::Authfail(a) => (
            &a.report,
            Report::Authfail(AuthfailReport::new(a.burst, a.window)),
        ),
        ReportCommand::Cru(c) => {
            let people = match &c.people {
                Some(path) => match read_people(path) {
                    Ok(people) => people,
                    Err(e) => {
                        eprintln!("log4rs-audit report cru: --people {e}");
                        return ExitCode::from(2);
                    }
                },
                None if c.by == CruKey::Department => {
                    eprintln!("log4rs-audit report cru: --by department needs --people FILE.csv");
                    return ExitCode::from(2);
                }
                None => Default::default(),
            };
            (&c.report, Report::Cru(CruReport::new(c.by, people), c.by))
        }
        ReportCommand::Apinode(args) => (args, Report::Apinode(ApinodeReport::default())),
        ReportCommand::Gaps(g) => (
            &g.report,
            Report::Gaps(GapsReport::new(g.node.clone(), g.report.filter.until)),
        ),
    };
    let Some(files) = find(&args.paths) else {
        return ExitCode::from(2);
    };
    let filter = args.filter.to_filter();
    note_unknown_topics(&files, &filter);
    let progress = Progress::for_stderr(total_size(&files));
    let summary = run_report(
        &files,
        &filter,
        &mut report,
        &progress,
        report_problem(&progress),
    );
    progress.finish();
    let written = report.write(BufWriter::new(io::stdout().lock()), args.format);
    match written {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            eprintln!("log4rs-audit report: writing the output: {e}");
            ExitCode::FAILURE
        }
        _ => finish(&summary),
    }
}

fn find(paths: &[PathBuf]) -> Option<Vec<TrailFile>> {
    match discover(paths) {
        Ok(files) => Some(files),
        Err(e) => {
            eprintln!("log4rs-audit: {e}");
            None
        }
    }
}

/// Says, once, that `--topic` cannot match the events of Event Server files whose folders do
/// not record a topic (rather than letting them vanish without a word).
fn note_unknown_topics(files: &[TrailFile], filter: &Filter) {
    if filter.topics.is_empty() {
        return;
    }
    let unknown: Vec<&TrailFile> = files.iter().filter(|f| f.location.topic_unknown).collect();
    if let Some(first) = unknown.first() {
        eprintln!(
            "log4rs-audit: note: {} Event Server files (first: {}) do not record their topic \
             (stored without folder_by_topic): --topic matches none of their events",
            unknown.len(),
            first.path.display()
        );
    }
}

fn total_size(files: &[TrailFile]) -> u64 {
    files.iter().map(|f| f.size).sum()
}

/// Prints each problem on stderr (above the progress bar): torn lines as warnings.
fn report_problem(progress: &Progress) -> impl FnMut(&ReadError) + '_ {
    move |problem| {
        let level = match problem {
            ReadError::Torn { .. } => "warning",
            _ => "error",
        };
        progress.suspend(|| eprintln!("log4rs-audit: {level}: {problem}"));
    }
}

fn finish(summary: &ReadSummary) -> ExitCode {
    let _ = io::stdout().flush();
    if summary.has_errors() {
        eprintln!(
            "log4rs-audit: {} malformed lines and {} unreadable files skipped (see above)",
            summary.malformed, summary.io_errors
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
