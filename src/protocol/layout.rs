//! Where a `filesystem` destination stores an event, relative to its root:
//!
//! ```text
//! <topic>/<routing key or _none>/YYYY/mm[/dd[/HH]]/events.log
//! ```
//!
//! The topic folder is present with `folder_by_topic`, the routing-key folder with
//! `folder_by_routing_key` (`_none` for events without a routing key; no routing key can be
//! spelled so, as keys start with a letter or digit), and the date folders go down to the month,
//! day or hour of the server's receive time per `partitioning_period`. Topic names and
//! [`RoutingKey`]s are single safe folder names, so a relative path never leaves the root.
//!
//! The root also holds [`LAYOUT_FILE`], one line per layout the destination has stored with
//! (`folders=topic,routing-key`, `folders=topic`, `folders=routing-key`, `folders=none`),
//! written at the server's start: a reader cannot tell from its name alone whether a lone
//! `authfail` folder is a topic or a routing key, and the stored line does not say its topic.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Datelike, Local, TimeZone, Timelike, Utc};

use super::wire::RoutingKey;
use crate::encode::Timezone;
use crate::file_mode::FileMode;
use crate::Topic;

/// Name of the file inside each partition folder.
pub const FILE_NAME: &str = "events.log";

/// The file at a destination's root recording the layouts it has used (see the module docs).
/// Hidden, so trail readers and `verify` skip it.
pub const LAYOUT_FILE: &str = ".audit-layout";

/// Folder of the events without a routing key, with `folder_by_routing_key`.
pub const NO_ROUTING_KEY_DIR: &str = "_none";

/// How finely stored events are split by time (`partitioning_period`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum Partitioning {
    /// `YYYY/mm`.
    Month,
    /// `YYYY/mm/dd`.
    Day,
    /// `YYYY/mm/dd/HH`.
    #[default]
    Hour,
}

/// A `partitioning_period` that is not `MONTH`, `DAY` or `HOUR`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid partitioning period `{0}` (expected MONTH, DAY or HOUR)")]
pub struct InvalidPartitioning(pub String);

impl FromStr for Partitioning {
    type Err = InvalidPartitioning;

    /// `MONTH`, `DAY` or `HOUR`, in any case.
    fn from_str(s: &str) -> Result<Partitioning, InvalidPartitioning> {
        match s.to_ascii_uppercase().as_str() {
            "MONTH" => Ok(Partitioning::Month),
            "DAY" => Ok(Partitioning::Day),
            "HOUR" => Ok(Partitioning::Hour),
            _ => Err(InvalidPartitioning(s.to_owned())),
        }
    }
}

impl TryFrom<String> for Partitioning {
    type Error = InvalidPartitioning;

    fn try_from(s: String) -> Result<Partitioning, InvalidPartitioning> {
        s.parse()
    }
}

impl fmt::Display for Partitioning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Partitioning::Month => "MONTH",
            Partitioning::Day => "DAY",
            Partitioning::Hour => "HOUR",
        })
    }
}

impl Partitioning {
    /// The partition `time` falls in, in `tz`.
    pub fn partition_of(self, time: SystemTime, tz: Timezone) -> Partition {
        let second = match time.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            // Before 1970: the second that contains `time`.
            Err(e) => {
                let d = e.duration();
                -(d.as_secs() as i64) - i64::from(d.subsec_nanos() > 0)
            }
        };
        let utc = DateTime::<Utc>::from_timestamp(second, 0).unwrap_or_default();
        let (year, month, day, hour) = match tz {
            Timezone::Utc => fields(utc),
            Timezone::Fixed(offset) => fields(utc.with_timezone(&offset)),
            Timezone::Local => fields(utc.with_timezone(&Local)),
        };
        Partition {
            year,
            month,
            day: (self != Partitioning::Month).then_some(day),
            hour: (self == Partitioning::Hour).then_some(hour),
        }
    }
}

fn fields<Tz: TimeZone>(t: DateTime<Tz>) -> (i32, u32, u32, u32) {
    (t.year(), t.month(), t.day(), t.hour())
}

/// One time partition: a month, day or hour. Two events go to the same file when their
/// partitions (and topic and routing key folders) are equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Partition {
    /// The year.
    pub year: i32,
    /// The month, 1 to 12.
    pub month: u32,
    /// The day of the month, with DAY and HOUR partitioning.
    pub day: Option<u32>,
    /// The hour, 0 to 23, with HOUR partitioning.
    pub hour: Option<u32>,
}

impl fmt::Display for Partition {
    /// `YYYY/mm[/dd[/HH]]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}/{:02}", self.year, self.month)?;
        if let Some(day) = self.day {
            write!(f, "/{day:02}")?;
        }
        if let Some(hour) = self.hour {
            write!(f, "/{hour:02}")?;
        }
        Ok(())
    }
}

/// The folder layout of a `filesystem` destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// A folder per topic (`folder_by_topic`).
    pub folder_by_topic: bool,
    /// A folder per routing key (`folder_by_routing_key`).
    pub folder_by_routing_key: bool,
    /// The time folders (`partitioning_period`).
    pub partitioning: Partitioning,
}

impl Default for Layout {
    /// Folders by topic and routing key, partitioned by hour.
    fn default() -> Layout {
        Layout {
            folder_by_topic: true,
            folder_by_routing_key: true,
            partitioning: Partitioning::Hour,
        }
    }
}

impl Layout {
    /// The folder, relative to the destination's root, of an event received at `time`.
    ///
    /// ```
    /// use std::path::Path;
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use log4rs_audit::protocol::layout::Layout;
    /// use log4rs_audit::{encode::Timezone, Topic};
    ///
    /// let time = UNIX_EPOCH + Duration::from_secs(1_582_124_702); // 2020-02-19T15:05:02Z
    /// let rk = "fraud-svc".parse().ok();
    /// let dir = Layout::default().relative_dir(Topic::ApinodeQuery, rk.as_ref(), time, Timezone::Utc);
    /// assert_eq!(dir, Path::new("apinode-query/fraud-svc/2020/02/19/15"));
    /// ```
    pub fn relative_dir(
        &self,
        topic: Topic,
        routing_key: Option<&RoutingKey>,
        time: SystemTime,
        tz: Timezone,
    ) -> PathBuf {
        self.dir_of(topic, routing_key, self.partitioning.partition_of(time, tz))
    }

    /// The folder, relative to the destination's root, of an event in `partition`.
    pub fn dir_of(
        &self,
        topic: Topic,
        routing_key: Option<&RoutingKey>,
        partition: Partition,
    ) -> PathBuf {
        let mut dir = PathBuf::new();
        if self.folder_by_topic {
            dir.push(topic.wire_name());
        }
        if self.folder_by_routing_key {
            dir.push(routing_key.map_or(NO_ROUTING_KEY_DIR, RoutingKey::as_str));
        }
        dir.push(partition.to_string());
        dir
    }
}

/// The layouts a destination root records in its [`LAYOUT_FILE`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordedLayouts {
    /// `folders=topic,routing-key`.
    pub topic_and_key: bool,
    /// `folders=topic`.
    pub topic_only: bool,
    /// `folders=routing-key`.
    pub key_only: bool,
    /// `folders=none`.
    pub none: bool,
}

impl Layout {
    /// Its line in [`LAYOUT_FILE`].
    pub fn folders_line(&self) -> &'static str {
        match (self.folder_by_topic, self.folder_by_routing_key) {
            (true, true) => "folders=topic,routing-key",
            (true, false) => "folders=topic",
            (false, true) => "folders=routing-key",
            (false, false) => "folders=none",
        }
    }
}

impl RecordedLayouts {
    /// From the text of a [`LAYOUT_FILE`]; unknown lines are ignored (a later version may add
    /// some).
    pub fn parse(text: &str) -> RecordedLayouts {
        let mut r = RecordedLayouts::default();
        for line in text.lines().map(str::trim) {
            match line {
                "folders=topic,routing-key" => r.topic_and_key = true,
                "folders=topic" => r.topic_only = true,
                "folders=routing-key" => r.key_only = true,
                "folders=none" => r.none = true,
                _ => {}
            }
        }
        r
    }

    /// The layouts recorded at `root`, `None` when it has no [`LAYOUT_FILE`] (a tree written
    /// before it existed, or copied without hidden files). Reads at most 4 KiB.
    pub fn read(root: &Path) -> Option<RecordedLayouts> {
        use std::io::Read;
        let file = fs::File::open(root.join(LAYOUT_FILE)).ok()?;
        if !file.metadata().ok()?.is_file() {
            return None;
        }
        let mut text = String::new();
        file.take(4096).read_to_string(&mut text).ok()?;
        Some(RecordedLayouts::parse(&text))
    }
}

/// Adds `layout`'s line to `root`'s [`LAYOUT_FILE`] unless it is there, creating the root and
/// the file with `mode` as needed, synced so the record outlives a crash.
pub fn record_layout(root: &Path, layout: &Layout, mode: FileMode) -> io::Result<()> {
    let path = root.join(LAYOUT_FILE);
    let line = layout.folders_line();
    match fs::read_to_string(&path) {
        Ok(text) if text.lines().any(|l| l.trim() == line) => return Ok(()),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    mode.create_dir_all(root)?;
    let mut file = mode.open_append(&path)?;
    file.write_all(format!("{line}\n").as_bytes())?;
    file.sync_all()?;
    fs::File::open(root)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::time::Duration;

    // 2020-02-19T23:05:02.441Z
    fn at() -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_582_153_502_441)
    }

    fn dir(layout: Layout, topic: Topic, rk: Option<&str>, tz: &str) -> PathBuf {
        let rk = rk.map(|r| RoutingKey::new(r).unwrap());
        layout.relative_dir(topic, rk.as_ref(), at(), tz.parse().unwrap())
    }

    #[test]
    fn folders() {
        let l = |folder_by_topic, folder_by_routing_key, partitioning| Layout {
            folder_by_topic,
            folder_by_routing_key,
            partitioning,
        };
        use Partitioning::*;
        let cases = [
            (
                l(true, true, Hour),
                Some("svc"),
                "utc",
                "generic/svc/2020/02/19/23",
            ),
            (
                l(true, true, Hour),
                None,
                "utc",
                "generic/_none/2020/02/19/23",
            ),
            (
                l(true, true, Hour),
                Some("svc"),
                "+0100",
                "generic/svc/2020/02/20/00",
            ),
            (
                l(true, true, Day),
                Some("svc"),
                "-0100",
                "generic/svc/2020/02/19",
            ),
            (l(true, false, Month), Some("svc"), "utc", "generic/2020/02"),
            (l(false, true, Day), None, "utc", "_none/2020/02/19"),
            (l(false, false, Hour), Some("svc"), "+0100", "2020/02/20/00"),
        ];
        for (layout, rk, tz, want) in cases {
            assert_eq!(
                dir(layout, Topic::Generic, rk, tz),
                Path::new(want),
                "{layout:?} {rk:?} {tz}"
            );
        }
        assert_eq!(
            Layout::default()
                .relative_dir(Topic::ComputeResourceUsage, None, at(), Timezone::Utc)
                .join(FILE_NAME),
            Path::new("compute-resource-usage/_none/2020/02/19/23/events.log")
        );
    }

    #[test]
    fn partitions() {
        let tz = Timezone::Utc;
        let p = Partitioning::Hour.partition_of(at(), tz);
        assert_eq!(
            (p.year, p.month, p.day, p.hour),
            (2020, 2, Some(19), Some(23))
        );
        assert_eq!(p.to_string(), "2020/02/19/23");
        assert_eq!(
            Partitioning::Day.partition_of(at(), tz).to_string(),
            "2020/02/19"
        );
        assert_eq!(
            Partitioning::Month.partition_of(at(), tz).to_string(),
            "2020/02"
        );
        // Same partition within the hour, a new one at the boundary.
        let next = |s| Partitioning::Hour.partition_of(at() + Duration::from_secs(s), tz);
        assert_eq!(next(0), next(3_297));
        assert_ne!(next(3_297), next(3_298));
        // Before 1970: the second that contains the instant.
        let before = UNIX_EPOCH - Duration::from_millis(1);
        assert_eq!(
            Partitioning::Hour.partition_of(before, tz).to_string(),
            "1969/12/31/23"
        );
        assert_eq!(
            Partitioning::Hour.partition_of(UNIX_EPOCH, tz).to_string(),
            "1970/01/01/00"
        );
    }

    #[test]
    fn partitioning_names() {
        for (text, want) in [
            ("MONTH", Partitioning::Month),
            ("day", Partitioning::Day),
            ("Hour", Partitioning::Hour),
        ] {
            assert_eq!(text.parse::<Partitioning>().unwrap(), want);
            assert_eq!(want.to_string().parse::<Partitioning>().unwrap(), want);
        }
        assert_eq!(
            "WEEK".parse::<Partitioning>().unwrap_err().to_string(),
            "invalid partitioning period `WEEK` (expected MONTH, DAY or HOUR)"
        );
        let p: Partitioning = serde_json::from_str(r#""day""#).unwrap();
        assert_eq!(p, Partitioning::Day);
        assert_eq!(Partitioning::default(), Partitioning::Hour);
    }

    #[test]
    fn layout_file_records_each_layout_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("events");
        assert_eq!(RecordedLayouts::read(&root), None);
        let topic_only = Layout {
            folder_by_routing_key: false,
            ..Layout::default()
        };
        for layout in [Layout::default(), topic_only, Layout::default()] {
            record_layout(&root, &layout, FileMode::default()).unwrap();
        }
        let text = fs::read_to_string(root.join(LAYOUT_FILE)).unwrap();
        assert_eq!(text, "folders=topic,routing-key\nfolders=topic\n");
        let recorded = RecordedLayouts::read(&root).unwrap();
        assert!(recorded.topic_and_key && recorded.topic_only);
        assert!(!recorded.key_only && !recorded.none);
        assert_eq!(
            RecordedLayouts::parse("folders=routing-key\nfuture=1\n"),
            RecordedLayouts {
                key_only: true,
                ..RecordedLayouts::default()
            }
        );
    }
}
