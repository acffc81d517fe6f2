//! Reading the trail: both envelopes, plain and gzip, rolled sets in time order, filters,
//! output formats and reports.
//!
//! - [`files`]: which files of a folder are log files, and the time order of rolled sets and
//!   Event Server partitions;
//! - [`lines`]: byte streams → lines, through one reusable buffer;
//! - [`parallel`]: a trail read on several threads (files and byte ranges of big files), with
//!   the answer, problems and line numbers of a sequential read;
//! - [`reader`]: lines → [`reader::Record`]s (zero-copy, streaming, torn last lines reported);
//! - `scan` (private): the reader's fast JSON pass, one validation per line, falling back to
//!   serde_json whenever it is not sure;
//! - [`filter`]: topic, msgType, user, time window and `--where key=value`;
//! - [`format`](mod@format): `ndjson`, `table`, `csv`;
//! - [`reports`]: `last-activity` and `exports`;
//! - [`time`]: timestamps and `--since` / `--until` values;
//! - [`progress`]: the progress bar on stderr;
//! - `cli` (feature `cli`): the `query` and `report` commands of `log4rs-audit`.
//!
//! ```
//! use log4rs_audit::query::{self, filter::Filter, format::{Format, QueryWriter}, progress::Progress};
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::write(
//!     dir.path().join("audit.log"),
//!     concat!(
//!         r#"{"severity":"INFO","logger":"dku.audit.generic","message":{"msgType":"login","authUser":"bob"},"mdc":{},"timestamp":"2020-02-19T16:05:02.441+0100"}"#, "\n",
//!         r#"{"severity":"INFO","logger":"dku.audit.authfail","message":{"msgType":"authentication-failed","authUser":"eve"},"mdc":{},"timestamp":"2020-02-19T16:05:03.000+0100"}"#, "\n",
//!     ),
//! )?;
//! let files = query::files::discover(&[dir.path().to_path_buf()])?;
//! let filter = Filter { topics: vec!["authfail".into()], ..Filter::default() };
//! let mut out = QueryWriter::new(Vec::new(), Format::Table, &[]);
//! let outcome = query::run_query(&files, &filter, &mut out, &Progress::hidden(), |_| {})?;
//! assert_eq!(outcome.matched, 1);
//! let text = String::from_utf8(out.into_inner())?;
//! assert!(text.lines().nth(1).unwrap().starts_with("2020-02-19T16:05:03.000+0100  authfail "));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "cli")]
pub mod cli;
pub mod files;
pub mod filter;
pub mod format;
pub mod lines;
pub mod parallel;
pub mod progress;
pub mod reader;
pub mod reports;
mod scan;
pub mod time;

use std::io::{self, Write};
use std::ops::ControlFlow;

use filter::Filter;
use format::QueryWriter;
use progress::Progress;
use reader::{read_trail, ReadError, ReadSummary};

/// What a query read and kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryOutcome {
    /// What was read.
    pub summary: ReadSummary,
    /// Records written.
    pub matched: u64,
}

/// Reads `files`, writes the records `filter` keeps to `out`, and hands problems (malformed and
/// torn lines, unreadable files) to `on_problem`. Fails only when writing fails; a closed pipe
/// (`| head`) ends the read quietly.
pub fn run_query<W: Write>(
    files: &[files::TrailFile],
    filter: &Filter,
    out: &mut QueryWriter<W>,
    progress: &Progress,
    on_problem: impl FnMut(&ReadError),
) -> io::Result<QueryOutcome> {
    let mut matched = 0;
    let mut failed: Option<io::Error> = None;
    let needs_fields = filter.needs_fields() || out.needs_fields();
    out.header()?;
    let summary = read_trail(
        files,
        progress,
        |record| {
            let fields = if needs_fields {
                record.fields()
            } else {
                reader::Fields::default()
            };
            if !filter.matches(record, &fields) {
                return ControlFlow::Continue(());
            }
            matched += 1;
            match out.write(record, &fields) {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => {
                    failed = Some(e);
                    ControlFlow::Break(())
                }
            }
        },
        on_problem,
    );
    progress.finish();
    let flushed = match failed {
        Some(e) => Err(e),
        None => out.flush(),
    };
    match flushed {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e),
        _ => Ok(QueryOutcome { summary, matched }),
    }
}
