//! `usage`: per period (day or month) and node, the distinct active users and the events: the
//! licence view ("a global view on the usage of their different nodes").
//!
//! The period is the date of the event's time as written (`timestamp`, or `serverTimestamp` for
//! Event Server lines), in the offset it was written in; the node is the Event Server's
//! `origAddress` for its lines, else the name given (`--node`, default `local`). A user is
//! `authUser`, else the MDC's `user`; events without one count as events, not as a user.
//! Memory: one set of user names per (period, node).

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Write};

use super::super::format::{Cell, Column, Format, RowWriter, USER_WIDTH};
use super::super::reader::{Fields, Record};

/// How `usage` groups events in time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[non_exhaustive]
pub enum Period {
    /// `YYYY-MM-DD`.
    #[default]
    Day,
    /// `YYYY-MM`.
    Month,
}

impl Period {
    /// The period of a timestamp as written (`2026-11-24T…`), if it starts with a date.
    fn of(self, timestamp: &str) -> Option<&str> {
        let b = timestamp.as_bytes();
        let date = b.len() >= 10
            && b[..4].iter().all(u8::is_ascii_digit)
            && b[4] == b'-'
            && b[5..7].iter().all(u8::is_ascii_digit)
            && b[7] == b'-'
            && b[8..10].iter().all(u8::is_ascii_digit);
        date.then(|| match self {
            Period::Day => &timestamp[..10],
            Period::Month => &timestamp[..7],
        })
    }
}

/// One row of `usage`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Usage {
    /// `YYYY-MM-DD` or `YYYY-MM`.
    pub period: String,
    /// The node.
    pub node: String,
    /// Distinct users with at least one event.
    pub active_users: u64,
    /// Events.
    pub events: u64,
}

/// Collects [`Usage`] rows.
///
/// ```
/// use log4rs_audit::query::files::Location;
/// use log4rs_audit::query::reader::parse_line;
/// use log4rs_audit::query::reports::{Period, UsageReport};
///
/// let here = Location::default();
/// let mut report = UsageReport::new(Period::Day, "web-1");
/// for line in [
///     r#"{"message":{"msgType":"login","authUser":"bob"},"logger":"dku.audit.generic","timestamp":"2020-02-19T16:05:02.441+0100"}"#,
///     r#"{"message":{"msgType":"logout","authUser":"bob"},"logger":"dku.audit.generic","timestamp":"2020-02-19T17:00:00.000+0100"}"#,
///     r#"{"message":{"msgType":"login","authUser":"eve"},"logger":"dku.audit.generic","timestamp":"2020-02-20T09:30:00.000+0100"}"#,
/// ] {
///     let record = parse_line(line, &here)?;
///     report.observe(&record, &record.fields());
/// }
/// let rows = report.finish();
/// assert_eq!((rows[0].period.as_str(), rows[0].active_users, rows[0].events), ("2020-02-19", 1, 2));
/// assert_eq!((rows[1].period.as_str(), rows[1].node.as_str()), ("2020-02-20", "web-1"));
/// # Ok::<(), String>(())
/// ```
#[derive(Debug)]
pub struct UsageReport {
    period: Period,
    node: String,
    /// Period → node → (users, events).
    cells: BTreeMap<String, BTreeMap<String, (HashSet<String>, u64)>>,
}

impl UsageReport {
    /// A report by `period`; `node` names the node of lines that do not carry one.
    pub fn new(period: Period, node: impl Into<String>) -> UsageReport {
        UsageReport {
            period,
            node: node.into(),
            cells: BTreeMap::new(),
        }
    }

    /// Takes one record into account.
    pub fn observe(&mut self, record: &Record<'_>, fields: &Fields<'_>) {
        let Some(period) = record.timestamp.as_deref().and_then(|t| self.period.of(t)) else {
            return;
        };
        let node = record.orig_address.as_deref().unwrap_or(&self.node);
        // Looked up by reference: almost every event lands in an existing cell.
        if !self.cells.contains_key(period) {
            self.cells.insert(period.to_owned(), BTreeMap::new());
        }
        let nodes = self.cells.get_mut(period).expect("inserted above");
        if !nodes.contains_key(node) {
            nodes.insert(node.to_owned(), Default::default());
        }
        let cell = nodes.get_mut(node).expect("inserted above");
        cell.1 += 1;
        if let Some(user) = record.user_with(fields) {
            if !cell.0.contains(user.as_ref()) {
                cell.0.insert(user.into_owned());
            }
        }
    }

    /// An empty report with the same options (for another part of the trail).
    pub(crate) fn fresh(&self) -> UsageReport {
        UsageReport::new(self.period, self.node.clone())
    }

    /// Adds what `other` collected (from another part of the same trail).
    pub(crate) fn merge(&mut self, other: UsageReport) {
        for (period, nodes) in other.cells {
            let mine = self.cells.entry(period).or_default();
            for (node, (users, events)) in nodes {
                let cell = mine.entry(node).or_default();
                cell.0.extend(users);
                cell.1 += events;
            }
        }
    }

    /// The rows by period, then node.
    pub fn finish(self) -> Vec<Usage> {
        let mut rows = Vec::new();
        for (period, nodes) in self.cells {
            for (node, (users, events)) in nodes {
                rows.push(Usage {
                    period: period.clone(),
                    node,
                    active_users: users.len() as u64,
                    events,
                });
            }
        }
        rows
    }
}

/// Writes `usage` rows: `period`, `node`, `activeUsers`, `events`.
pub fn write_usage(out: impl Write, format: Format, rows: &[Usage]) -> io::Result<()> {
    let columns = vec![
        Column::new("period", 10),
        Column::new("node", 20),
        Column::new("activeUsers", USER_WIDTH + 1),
        Column::new("events", 0),
    ];
    let mut writer = RowWriter::new(out, format, columns);
    writer.header()?;
    for row in rows {
        writer.cells(&[
            Cell::Text(&row.period),
            Cell::Text(&row.node),
            Cell::Count(row.active_users),
            Cell::Count(row.events),
        ])?;
    }
    writer.flush()
}
