//! `gaps`: where a node's audit stopped or went quiet, from the logger's own lifecycle events
//! (`audit-logger-start`, `audit-heartbeat`, `audit-logger-stop`, `audit-config-change`).
//!
//! A node is the Event Server's `origAddress` for its lines (else the name given, `--node`)
//! and the `host` its events name. Per node, in time order, one row per:
//!
//! - **crash-restart**: an `audit-logger-start` while the previous run never wrote
//!   `audit-logger-stop` (killed, crashed, or its last lines lost): from the previous run's last
//!   lifecycle event to the new start;
//! - **restart**: a start after an orderly stop: from the stop to the start;
//! - **missed-beats**: heartbeat numbers that jump within a run (`beat` 7 then 10): the
//!   heartbeats in between never arrived;
//! - **stall**: two heartbeats further apart than 3 heartbeat intervals (the writer was stopped
//!   or could not deliver) with no number missing;
//! - **silent**: a run with a heartbeat whose last lifecycle event is more than 3 intervals before
//!   the report's end (`--until`, else now) and that never stopped: its heartbeats stopped.
//!
//! The heartbeat interval of a run is the `heartbeat` its start or latest config change names.
//! Memory: the lifecycle events (a few per node per interval), sorted at the end, so the rows do
//! not depend on how the trail was split for reading.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::Duration;

use super::super::filter::value_text;
use super::super::format::{Cell, Column, Format, RowWriter, TIME_WIDTH};
use super::super::reader::{Fields, ReadOrder, Record};
use super::super::time::Millis;

/// The kinds of gap.
pub const GAP_KINDS: [&str; 5] = [
    "crash-restart",
    "restart",
    "missed-beats",
    "stall",
    "silent",
];

/// One row of `gaps`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gap {
    /// The node (`origAddress`, or the name given).
    pub node: String,
    /// The `host` its events name.
    pub host: String,
    /// One of [`GAP_KINDS`].
    pub kind: &'static str,
    /// Where the gap starts (timestamp as written).
    pub from: String,
    /// Where it ends (timestamp as written; for `silent`, the report's end).
    pub to: String,
    /// What the trail says about it.
    pub detail: String,
}

#[derive(Clone, Debug)]
enum Life {
    Start {
        pid: String,
        heartbeat: Option<Duration>,
    },
    Change {
        heartbeat: Option<Duration>,
    },
    Beat(u64),
    Stop,
}

#[derive(Clone, Debug)]
struct Seen {
    time: Millis,
    order: ReadOrder,
    timestamp: String,
    node: (String, String),
    life: Life,
}

/// Collects [`Gap`] rows.
#[derive(Debug)]
pub struct GapsReport {
    node: String,
    end: Option<Millis>,
    seen: Vec<Seen>,
}

impl GapsReport {
    /// `node` names the node of lines that do not carry one; `end` is the report's end
    /// (`None`: now).
    pub fn new(node: impl Into<String>, end: Option<Millis>) -> GapsReport {
        GapsReport {
            node: node.into(),
            end,
            seen: Vec::new(),
        }
    }

    /// An empty report with the same options.
    pub fn fresh(&self) -> GapsReport {
        GapsReport::new(self.node.clone(), self.end)
    }

    /// Adds another part's events.
    pub fn merge(&mut self, other: GapsReport) {
        self.seen.extend(other.seen);
    }

    /// Takes one record into account (reading order by the caller's count).
    pub fn observe(&mut self, record: &Record<'_>, fields: &Fields<'_>) {
        let order = ReadOrder {
            file: 0,
            offset: self.seen.len() as u64,
        };
        self.observe_at(record, fields, order);
    }

    /// Takes one record, read at `order`, into account.
    pub fn observe_at(&mut self, record: &Record<'_>, fields: &Fields<'_>, order: ReadOrder) {
        let Some(msg_type) = fields.msg_type.as_deref() else {
            return;
        };
        let text = |key: &str| record.lookup(&[key]).and_then(value_text);
        let heartbeat = || text("heartbeat").and_then(|h| humantime::parse_duration(&h).ok());
        let life = match msg_type {
            "audit-logger-start" => Life::Start {
                pid: text("pid").unwrap_or_default(),
                heartbeat: heartbeat(),
            },
            "audit-config-change" => Life::Change {
                heartbeat: heartbeat(),
            },
            "audit-heartbeat" => match text("beat").and_then(|b| b.parse().ok()) {
                Some(beat) => Life::Beat(beat),
                None => return,
            },
            "audit-logger-stop" => Life::Stop,
            _ => return,
        };
        let Some(time) = record.time() else {
            return;
        };
        let node = record
            .orig_address
            .as_deref()
            .map_or_else(|| self.node.clone(), str::to_owned);
        self.seen.push(Seen {
            time,
            order,
            timestamp: record.timestamp.as_deref().unwrap_or_default().to_owned(),
            node: (node, text("host").unwrap_or_default()),
            life,
        });
    }

    /// The rows, by node, then time.
    pub fn finish(self) -> Vec<Gap> {
        let end = self.end.unwrap_or_else(now_millis);
        let mut by_node: BTreeMap<(String, String), Vec<Seen>> = BTreeMap::new();
        for s in self.seen {
            by_node.entry(s.node.clone()).or_default().push(s);
        }
        let mut rows = Vec::new();
        for ((node, host), mut events) in by_node {
            events.sort_by_key(|s| (s.time, s.order));
            let row = |kind, from: &Seen, to: String, detail: String| Gap {
                node: node.clone(),
                host: host.clone(),
                kind,
                from: from.timestamp.clone(),
                to,
                detail,
            };
            // The run being followed: its last event, interval, last beat, beats seen.
            let mut last: Option<&Seen> = None;
            let mut running = false;
            let mut interval: Option<Duration> = None;
            let mut last_beat: Option<(u64, &Seen)> = None;
            let mut pid = String::new();
            for s in &events {
                match &s.life {
                    Life::Start {
                        pid: new_pid,
                        heartbeat,
                    } => {
                        if let Some(prev) = last {
                            if running {
                                rows.push(row(
                                    "crash-restart",
                                    prev,
                                    s.timestamp.clone(),
                                    format!(
                                        "no audit-logger-stop: pid {} → {new_pid}",
                                        or_unknown(&pid)
                                    ),
                                ));
                            } else {
                                rows.push(row(
                                    "restart",
                                    prev,
                                    s.timestamp.clone(),
                                    format!("orderly stop, then pid {new_pid}"),
                                ));
                            }
                        }
                        running = true;
                        interval = *heartbeat;
                        last_beat = None;
                        pid.clone_from(new_pid);
                    }
                    Life::Change { heartbeat } => {
                        running = true;
                        interval = *heartbeat;
                    }
                    Life::Beat(beat) => {
                        if let Some((prev, at)) = last_beat {
                            if *beat > prev + 1 {
                                rows.push(row(
                                    "missed-beats",
                                    at,
                                    s.timestamp.clone(),
                                    format!("heartbeats {}–{} never arrived", prev + 1, beat - 1),
                                ));
                            } else if let Some(i) = interval {
                                let apart = s.time - at.time;
                                if apart > 3 * i.as_millis() as i64 {
                                    rows.push(row(
                                        "stall",
                                        at,
                                        s.timestamp.clone(),
                                        format!(
                                            "heartbeats {prev} and {beat} {} apart (every {})",
                                            humantime::format_duration(Duration::from_millis(
                                                apart.max(0) as u64
                                            )),
                                            humantime::format_duration(i)
                                        ),
                                    ));
                                }
                            }
                        }
                        running = true;
                        last_beat = Some((*beat, s));
                    }
                    Life::Stop => running = false,
                }
                last = Some(s);
            }
            if let (true, Some(i), Some(prev)) = (running, interval, last) {
                let quiet = end - prev.time;
                if quiet > 3 * i.as_millis() as i64 {
                    rows.push(row(
                        "silent",
                        prev,
                        crate::encode::format_timestamp(
                            std::time::UNIX_EPOCH + Duration::from_millis(end.max(0) as u64),
                            crate::encode::Timezone::Utc,
                        ),
                        format!(
                            "no heartbeat for {} (every {}), no audit-logger-stop",
                            humantime::format_duration(Duration::from_secs(
                                (quiet / 1000).max(0) as u64
                            )),
                            humantime::format_duration(i)
                        ),
                    ));
                }
            }
        }
        rows
    }
}

fn or_unknown(text: &str) -> &str {
    if text.is_empty() {
        "?"
    } else {
        text
    }
}

fn now_millis() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}

/// Writes `gaps` rows: `node`, `host`, `kind`, `from`, `to`, `detail`.
pub fn write_gaps(out: impl Write, format: Format, rows: &[Gap]) -> io::Result<()> {
    let columns = vec![
        Column::new("node", 16),
        Column::new("host", 16),
        Column::new("kind", 14),
        Column::new("from", TIME_WIDTH),
        Column::new("to", TIME_WIDTH),
        Column::new("detail", 0),
    ];
    let mut writer = RowWriter::new(out, format, columns);
    writer.header()?;
    for r in rows {
        writer.cells(&[
            Cell::Text(&r.node),
            Cell::Text(&r.host),
            Cell::Text(r.kind),
            Cell::Text(&r.from),
            Cell::Text(&r.to),
            Cell::Text(&r.detail),
        ])?;
    }
    writer.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::files::Location;
    use crate::query::reader::parse_line;

    fn line(addr: &str, time: &str, event: &str) -> String {
        format!(
            r#"{{"clientEvent":{event},"origAddress":"{addr}","serverTimestamp":"2026-12-06T{time}.000+0000"}}"#
        )
    }

    fn start(pid: u32, heartbeat: &str) -> String {
        format!(
            r#"{{"msgType":"audit-logger-start","version":"0.1.0","heartbeat":"{heartbeat}","pid":{pid},"host":"web-1"}}"#
        )
    }

    fn beat(n: u64) -> String {
        format!(r#"{{"msgType":"audit-heartbeat","beat":{n},"uptimeMs":1,"pid":1,"host":"web-1"}}"#)
    }

    const STOP: &str =
        r#"{"msgType":"audit-logger-stop","uptimeMs":1,"beats":2,"pid":1,"host":"web-1"}"#;

    fn gaps(lines: &[String], end: &str) -> Vec<(String, &'static str, String, String)> {
        let here = Location::default();
        let mut report = GapsReport::new("local", crate::query::time::parse_timestamp(end));
        // Read in reverse: the report sorts by time itself.
        for (i, l) in lines.iter().enumerate().rev() {
            let r = parse_line(l, &here).unwrap();
            report.observe_at(
                &r,
                &r.fields(),
                ReadOrder {
                    file: 0,
                    offset: i as u64,
                },
            );
        }
        report
            .finish()
            .into_iter()
            .map(|g| (g.node, g.kind, g.from[11..19].to_owned(), g.detail))
            .collect()
    }

    #[test]
    fn crashes_missed_beats_stalls_and_silence() {
        let a = "10.0.0.1";
        let lines = [
            line(a, "10:00:00", &start(100, "1m")),
            line(a, "10:01:00", &beat(1)),
            line(a, "10:02:00", &beat(2)),
            line(a, "10:05:00", &beat(5)),          // 3 and 4 lost
            line(a, "10:20:00", &beat(6)),          // 15 minutes later: a stall
            line(a, "10:21:00", &start(200, "1m")), // no stop before: a crash
            line(a, "10:22:00", STOP),
            line(a, "10:30:00", &start(300, "1m")), // orderly restart
            line(a, "10:31:00", &beat(1)),
            // Another node: stopped cleanly, nothing to say.
            line("10.0.0.2", "10:00:00", &start(1, "1m")),
            line("10.0.0.2", "10:01:00", STOP),
            // The application's own events are not lifecycle events.
            line(a, "10:40:00", r#"{"msgType":"login","authUser":"bob"}"#),
        ];
        let got = gaps(&lines, "2026-12-06T11:00:00.000+0000");
        let kinds: Vec<(&str, &str)> = got.iter().map(|g| (g.1, g.2.as_str())).collect();
        assert_eq!(
            kinds,
            [
                ("missed-beats", "10:02:00"),
                ("stall", "10:05:00"),
                ("crash-restart", "10:20:00"),
                ("restart", "10:22:00"),
                ("silent", "10:31:00"),
            ]
        );
        assert_eq!(got[0].3, "heartbeats 3–4 never arrived");
        assert_eq!(got[2].3, "no audit-logger-stop: pid 100 → 200");
        assert!(got[4].3.starts_with("no heartbeat for 29m"), "{}", got[4].3);
        // Seen before the silence threshold: not silent yet.
        assert!(gaps(&lines, "2026-12-06T10:33:00.000+0000")
            .iter()
            .all(|g| g.1 != "silent"));
    }
}
