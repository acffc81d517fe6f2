//! `authfail`: failed authentications per user and source, with bursts flagged.
//!
//! Every event of the `authfail` topic counts, under its user (`authUser`, else the MDC's
//! `user`, else `-`) and source (`sourceIp`, else the Event Server's `origAddress`, else `-`).
//! A burst is `burst` failures or more within `window` (a sliding window: any `window`-long
//! span of time); each row gives the most failures seen within one window and whether that
//! makes a burst. Rows: most failures first, then by user and source. Memory: one time per
//! failure (failures are few next to the rest of a trail).

use std::collections::HashMap;
use std::io::{self, Write};
use std::time::Duration;

use super::super::format::{Cell, Column, Format, RowWriter, TIME_WIDTH, USER_WIDTH};
use super::super::reader::{Fields, Record};
use super::super::time::Millis;

/// The topic `authfail` reads.
pub const AUTHFAIL_TOPIC: &str = "authfail";
/// Failures within [`DEFAULT_WINDOW`] that make a burst, by default.
pub const DEFAULT_BURST: u64 = 5;
/// The window of a burst, by default.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(10 * 60);

/// One row of `authfail`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authfail {
    /// The user the failures were for.
    pub user: String,
    /// Where they came from.
    pub source: String,
    /// Failures in all.
    pub failures: u64,
    /// The first failure's timestamp as written.
    pub first: String,
    /// The last failure's timestamp as written.
    pub last: String,
    /// The most failures within one window.
    pub max_in_window: u64,
    /// Whether `max_in_window` reaches the burst threshold.
    pub burst: bool,
}

/// Collects [`Authfail`] rows.
///
/// ```
/// use std::time::Duration;
/// use log4rs_audit::query::files::Location;
/// use log4rs_audit::query::reader::parse_line;
/// use log4rs_audit::query::reports::AuthfailReport;
///
/// let here = Location::default();
/// let mut report = AuthfailReport::new(3, Duration::from_secs(60));
/// for second in [0, 20, 40, 200] {
///     let line = format!(r#"{{"message":{{"msgType":"login-failed","authUser":"eve","sourceIp":"10.0.0.9"}},"logger":"dku.audit.authfail","timestamp":"2020-02-19T16:{:02}:{:02}.000+0000"}}"#, second / 60, second % 60);
///     let record = parse_line(&line, &here)?;
///     report.observe(&record, &record.fields());
/// }
/// let rows = report.finish();
/// assert_eq!((rows[0].failures, rows[0].max_in_window, rows[0].burst), (4, 3, true));
/// # Ok::<(), String>(())
/// ```
#[derive(Debug)]
pub struct AuthfailReport {
    burst: u64,
    window: Millis,
    /// (user, source) → (time, timestamp as written) of each failure.
    failures: HashMap<(String, String), Vec<(Millis, String)>>,
}

impl AuthfailReport {
    /// A report flagging `burst` failures or more within `window`.
    pub fn new(burst: u64, window: Duration) -> AuthfailReport {
        AuthfailReport {
            burst: burst.max(1),
            window: Millis::try_from(window.as_millis()).unwrap_or(Millis::MAX),
            failures: HashMap::new(),
        }
    }

    /// Takes one record into account.
    pub fn observe(&mut self, record: &Record<'_>, fields: &Fields<'_>) {
        if record.topic() != Some(AUTHFAIL_TOPIC) {
            return;
        }
        let Some(time) = record.time() else {
            return;
        };
        let user = record
            .user_with(fields)
            .map_or_else(|| "-".to_owned(), |u| u.into_owned());
        let source = record
            .lookup(&["sourceIp"])
            .and_then(super::super::filter::value_text)
            .or_else(|| record.orig_address.as_deref().map(str::to_owned))
            .unwrap_or_else(|| "-".to_owned());
        let timestamp = record.timestamp.as_deref().unwrap_or_default().to_owned();
        self.failures
            .entry((user, source))
            .or_default()
            .push((time, timestamp));
    }

    /// An empty report with the same options (for another part of the trail).
    pub(crate) fn fresh(&self) -> AuthfailReport {
        AuthfailReport {
            burst: self.burst,
            window: self.window,
            failures: HashMap::new(),
        }
    }

    /// Adds what `other` collected (from another part of the same trail). The failures of a
    /// key are sorted in full (time, then timestamp text) when finished, so the order they
    /// were collected in does not matter.
    pub(crate) fn merge(&mut self, other: AuthfailReport) {
        for (key, times) in other.failures {
            self.failures.entry(key).or_default().extend(times);
        }
    }

    /// The rows, most failures first.
    pub fn finish(self) -> Vec<Authfail> {
        let mut rows: Vec<Authfail> = self
            .failures
            .into_iter()
            .map(|((user, source), mut times)| {
                times.sort();
                // The most failures within `window`: two pointers over the sorted times.
                let mut max = 0;
                let mut start = 0;
                for end in 0..times.len() {
                    while times[end].0 - times[start].0 >= self.window {
                        start += 1;
                    }
                    max = max.max(end - start + 1);
                }
                let max = max as u64;
                Authfail {
                    user,
                    source,
                    failures: times.len() as u64,
                    first: times.first().map(|t| t.1.clone()).unwrap_or_default(),
                    last: times.last().map(|t| t.1.clone()).unwrap_or_default(),
                    max_in_window: max,
                    burst: max >= self.burst,
                }
            })
            .collect();
        rows.sort_by(|a, b| {
            b.failures
                .cmp(&a.failures)
                .then_with(|| a.user.cmp(&b.user))
                .then_with(|| a.source.cmp(&b.source))
        });
        rows
    }
}

/// Writes `authfail` rows: `user`, `source`, `failures`, `first`, `last`, `maxInWindow`,
/// `burst` (`yes` / `no`; a JSON bool in `ndjson`).
pub fn write_authfail(out: impl Write, format: Format, rows: &[Authfail]) -> io::Result<()> {
    let columns = vec![
        Column::new("user", USER_WIDTH),
        Column::new("source", 16),
        Column::new("failures", 8),
        Column::new("first", TIME_WIDTH),
        Column::new("last", TIME_WIDTH),
        Column::new("maxInWindow", 11),
        Column::new("burst", 0),
    ];
    let mut writer = RowWriter::new(out, format, columns);
    writer.header()?;
    for row in rows {
        writer.cells(&[
            Cell::Text(&row.user),
            Cell::Text(&row.source),
            Cell::Count(row.failures),
            Cell::Text(&row.first),
            Cell::Text(&row.last),
            Cell::Count(row.max_in_window),
            Cell::Flag(row.burst),
        ])?;
    }
    writer.flush()
}
