//! The file half of the audit appender: one open log file, rolled with log4j 1.2 semantics.
//!
//! Size rolls follow `RollingFileAppender` (roll *after* the write that reaches the limit, shift
//! `.1`..`.N`); time rolls follow `DailyRollingFileAppender` (roll *before* the first write of a
//! new period, named `<path><suffix>` with the suffix formatted from the start of the period that
//! ended). Each buffer goes out in one `write_all`, so a batch of lines never straddles two files.
//!
//! log4j's `DatePattern` (a `SimpleDateFormat` pattern such as `'.'yyyy-MM-dd`) is translated by
//! [`date_pattern_to_roll`] into a [`Period`] (its finest field) and a chrono strftime suffix for
//! [`RollPolicy::suffix`].

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::thread::JoinHandle;
use std::time::SystemTime;

use chrono::format::{Fixed, Item, Numeric, Pad, StrftimeItems};
use chrono::{
    DateTime, Datelike, Days, Local, LocalResult, Months, NaiveDateTime, TimeDelta, TimeZone,
    Timelike,
};
use flate2::write::GzEncoder;

/// How often a time-based roll happens; local time boundaries (like log4j's DailyRollingFileAppender).
///
/// Ordered from the finest to the coarsest period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Period {
    /// Every minute (mostly for tests and demos).
    Minute,
    /// Every hour.
    Hour,
    /// Twice a day, at local midnight and noon (log4j's `TOP_OF_HALF_DAY`, DatePattern letter `a`).
    HalfDay,
    /// Every day at local midnight.
    Day,
    /// Every week at local midnight starting a Sunday. log4j starts the week on the locale's first
    /// day of the week; this crate always uses Sunday (as log4j does in the `en_US` locale).
    Week,
    /// Every month at local midnight starting the 1st.
    Month,
}

impl Period {
    /// Default suffix appended to the rolled file (chrono strftime), formatted from the start of
    /// the period that ended. Zero-padded, so name order is time order.
    ///
    /// `HalfDay` prints `AM`/`PM` like log4j's `a`. `Week` is `.%Y-%U`: `%U` is the Sunday-based
    /// week of the year (`00`-`53`, week `01` starting on the year's first Sunday); because the
    /// name is formatted from the week's first day, a Sunday, it is never `00`. Java's `ww` is
    /// locale-dependent (`1`-`53`, week 1 may start in the previous December), so week names can
    /// differ from log4j's around the new year.
    pub fn suffix_format(self) -> &'static str {
        match self {
            Period::Minute => ".%Y-%m-%d-%H-%M",
            Period::Hour => ".%Y-%m-%d-%H",
            Period::HalfDay => ".%Y-%m-%d-%p",
            Period::Day => ".%Y-%m-%d",
            Period::Week => ".%Y-%U",
            Period::Month => ".%Y-%m",
        }
    }

    /// Start of the period containing the local wall-clock time `t`.
    fn start_of(self, t: NaiveDateTime) -> NaiveDateTime {
        let date = t.date();
        let (date, hour, minute) = match self {
            Period::Minute => (Some(date), t.hour(), t.minute()),
            Period::Hour => (Some(date), t.hour(), 0),
            Period::HalfDay => (Some(date), t.hour() / 12 * 12, 0),
            Period::Day => (Some(date), 0, 0),
            Period::Week => {
                let back = u64::from(date.weekday().num_days_from_sunday());
                (date.checked_sub_days(Days::new(back)), 0, 0)
            }
            Period::Month => (date.with_day(1), 0, 0),
        };
        date.and_then(|d| d.and_hms_opt(hour, minute, 0))
            .unwrap_or(t)
    }

    /// Start of the next period, in wall-clock time: added to local naive time so a day always
    /// ends at the next midnight and a month at the next 1st, whatever the DST changes between.
    fn next_start(self, start: NaiveDateTime) -> Option<NaiveDateTime> {
        match self {
            Period::Minute => start.checked_add_signed(TimeDelta::minutes(1)),
            Period::Hour => start.checked_add_signed(TimeDelta::hours(1)),
            Period::HalfDay => start.checked_add_signed(TimeDelta::hours(12)),
            Period::Day => start.checked_add_days(Days::new(1)),
            Period::Week => start.checked_add_days(Days::new(7)),
            Period::Month => start.checked_add_months(Months::new(1)),
        }
    }
}

impl FromStr for Period {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "minute" => Ok(Period::Minute),
            "hour" => Ok(Period::Hour),
            "half_day" | "halfday" => Ok(Period::HalfDay),
            "day" => Ok(Period::Day),
            "week" => Ok(Period::Week),
            "month" => Ok(Period::Month),
            _ => Err(format!(
                "invalid roll period {s:?}: expected \"minute\", \"hour\", \"half_day\", \"day\", \
                 \"week\" or \"month\""
            )),
        }
    }
}

/// Translates a log4j `DatePattern` (Java `SimpleDateFormat`) into the roll period and a chrono
/// strftime suffix for [`RollPolicy::suffix`]; e.g. `'.'yyyy-MM-dd` gives
/// `(Period::Day, ".%Y-%m-%d")` and `_yyyy-MM-dd'.log'` gives `(Period::Day, "_%Y-%m-%d.log")`.
///
/// Quoted text (`'...'`, with `''` for one quote) and every non-letter are literal (`%` is
/// escaped as `%%`). The period is the finest field present, as in log4j: minute (`m`, and `s`,
/// which log4j cannot roll on), hour (`H`, `k`, `K`, `h`), half-day (`a`), day (`d`, `D`, `E`,
/// `u`), week (`w`), month (`M`, `L`). Letters, by count:
///
/// | Java | chrono | note |
/// |------|--------|------|
/// | `yyyy`, `y`, `yyy` / `yy` | `%Y` / `%y` | |
/// | `M` / `MM` / `MMM` / `MMMM` (also `L`) | `%-m` / `%m` / `%b` / `%B` | English names |
/// | `w` / `ww` | `%-U` / `%U` | Sunday-based, see [`Period::suffix_format`] |
/// | `d` / `dd` | `%-d` / `%d` | |
/// | `D` / `DD`+ | `%-j` / `%j` | `DD` pads to 3 digits |
/// | `E`-`EEE` / `EEEE` | `%a` / `%A` | English names |
/// | `u` | `%u` | 1 = Monday |
/// | `a` | `%p` | `AM` / `PM` |
/// | `H` / `HH` | `%-H` / `%H` | |
/// | `k` / `kk` | `%-H` / `%H` | approximation: Java prints hour 0 as `24`, chrono as `00` |
/// | `h` / `hh` | `%-I` / `%I` | |
/// | `K` / `KK` | `%-I` / `%I` | approximation: Java prints hour 0 as `0`, chrono as `12` |
/// | `m` / `mm` | `%-M` / `%M` | |
/// | `s` / `ss` | `%-S` / `%S` | always `00`: rolled names use the period start |
///
/// Counts above two do not pad numbers further. Any other letter (`G`, `Y`, `W`, `F`, `S`, `z`,
/// `Z`, `X`, ...) is an error naming it, as are an unterminated quote, a path separator, a
/// pattern without date fields and a pattern whose finest field is the year (log4j cannot roll
/// on it either).
pub fn date_pattern_to_roll(pattern: &str) -> Result<(Period, String), String> {
    let mut out = String::new();
    let mut finest: Option<Period> = None;
    let mut has_year = false;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            if chars.next_if_eq(&'\'').is_some() {
                out.push('\'');
                continue;
            }
            loop {
                match chars.next() {
                    None => return Err(format!("DatePattern {pattern:?}: unterminated quote")),
                    Some('\'') if chars.next_if_eq(&'\'').is_some() => out.push('\''),
                    Some('\'') => break,
                    Some(ch) => push_literal(&mut out, ch),
                }
            }
        } else if c.is_ascii_alphabetic() {
            let mut count = 1;
            while chars.next_if_eq(&c).is_some() {
                count += 1;
            }
            let (spec, period) = java_field(c, count).ok_or_else(|| {
                format!("DatePattern {pattern:?}: unsupported pattern letter '{c}'")
            })?;
            out.push_str(spec);
            match period {
                Some(p) => finest = Some(finest.map_or(p, |f| f.min(p))),
                None => has_year = true,
            }
        } else {
            push_literal(&mut out, c);
        }
    }
    let Some(period) = finest else {
        return Err(if has_year {
            format!(
                "DatePattern {pattern:?}: the finest field is the year; rolling needs a month, \
                 week, day, half-day, hour or minute field"
            )
        } else {
            "DatePattern has no date fields".to_owned()
        });
    };
    Stamp::compile(&out).map_err(|e| format!("DatePattern {pattern:?}: {e}"))?;
    Ok((period, out))
}

fn push_literal(out: &mut String, c: char) {
    if c == '%' {
        out.push_str("%%");
    } else {
        out.push(c);
    }
}

/// chrono specifier and roll period (`None` for the year) of `count` Java pattern letters `c`.
fn java_field(c: char, count: usize) -> Option<(&'static str, Option<Period>)> {
    let pick = |one: &'static str, more: &'static str| if count == 1 { one } else { more };
    Some(match c {
        'y' => (if count == 2 { "%y" } else { "%Y" }, None),
        'M' | 'L' => {
            let spec = match count {
                1 => "%-m",
                2 => "%m",
                3 => "%b",
                _ => "%B",
            };
            (spec, Some(Period::Month))
        }
        'w' => (pick("%-U", "%U"), Some(Period::Week)),
        'd' => (pick("%-d", "%d"), Some(Period::Day)),
        'D' => (pick("%-j", "%j"), Some(Period::Day)),
        'E' => (if count <= 3 { "%a" } else { "%A" }, Some(Period::Day)),
        'u' => ("%u", Some(Period::Day)),
        'a' => ("%p", Some(Period::HalfDay)),
        'H' | 'k' => (pick("%-H", "%H"), Some(Period::Hour)),
        'h' | 'K' => (pick("%-I", "%I"), Some(Period::Hour)),
        'm' => (pick("%-M", "%M"), Some(Period::Minute)),
        's' => (pick("%-S", "%S"), Some(Period::Minute)),
        _ => return None,
    })
}

/// What happens to a rolled file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Kept as it is.
    None,
    /// Gzipped in the background to `<name>.gz`.
    Gzip,
}

/// When and how a file rolls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RollPolicy {
    /// Bytes; `None` = never roll by size.
    pub max_size: Option<u64>,
    /// Size-rolled backups kept (log4j `MaxBackupIndex`); with time rolls only, dated files kept
    /// (0 = all).
    pub max_backups: u32,
    /// `None` = never roll by time.
    pub every: Option<Period>,
    /// Suffix of time-rolled files (chrono strftime, formatted from the start of the period that
    /// ended) overriding `every`'s [`Period::suffix_format`]; see [`date_pattern_to_roll`]. Only
    /// the specifiers that print digits, English month/weekday names or `AM`/`PM` are allowed
    /// (so rolled files can be recognised for retention): no time zones, no fractional seconds,
    /// no path separators. Unused without `every`.
    pub suffix: Option<String>,
    /// Compression of rolled files.
    pub compress: Compression,
}

impl RollPolicy {
    /// One ever-growing file: no size, no time, no backups, no compression.
    pub fn never() -> Self {
        RollPolicy {
            max_size: None,
            max_backups: 0,
            every: None,
            suffix: None,
            compress: Compression::None,
        }
    }

    /// The suffix format of time-rolled files: `suffix`, else the period's default; `None`
    /// without `every`.
    pub fn time_suffix(&self) -> Option<&str> {
        let period = self.every?;
        Some(self.suffix.as_deref().unwrap_or(period.suffix_format()))
    }
}

/// The period the current file belongs to: `start` names the rolled file, `end` triggers the roll.
#[derive(Clone, Copy, Debug)]
struct Slot {
    start: NaiveDateTime,
    end: SystemTime,
}

impl Slot {
    fn containing(period: Period, t: SystemTime) -> Slot {
        let start = period.start_of(DateTime::<Local>::from(t).naive_local());
        let end = period.next_start(start).unwrap_or(NaiveDateTime::MAX);
        Slot {
            start,
            end: local_to_system(end),
        }
    }
}

/// Local wall-clock time to an instant. A time inside a DST gap moves to the first valid minute
/// and a repeated time takes the earlier instant, so no boundary is ever skipped.
fn local_to_system(t: NaiveDateTime) -> SystemTime {
    let mut probe = t;
    for _ in 0..24 * 60 {
        match Local.from_local_datetime(&probe) {
            LocalResult::Single(dt) | LocalResult::Ambiguous(dt, _) => return dt.into(),
            LocalResult::None => match probe.checked_add_signed(TimeDelta::minutes(1)) {
                Some(next) => probe = next,
                None => break,
            },
        }
    }
    t.and_utc().into()
}

/// An open log file that rolls by size and/or time.
#[derive(Debug)]
pub struct RollingFile {
    path: PathBuf,
    policy: RollPolicy,
    /// `None` only after a roll moved the file away and a new one could not be opened; the next
    /// write retries the open.
    file: Option<File>,
    len: u64,
    /// Length at which the next size roll happens; pushed out by `max_size` after a failed roll so
    /// a broken rename is not retried on every write (log4j's `nextRollover`).
    next_size_roll: u64,
    /// Period of the current file; `None` while it is empty and has never been written (an empty
    /// file belongs to no period, the first write decides).
    slot: Option<Slot>,
    /// The time-roll suffix (`Some` iff `policy.every` is set).
    stamp: Option<Stamp>,
    compressing: Vec<JoinHandle<()>>,
}

impl RollingFile {
    /// Creates parent directories, opens `path` for append (creating it), reads its current length.
    /// If `every` is set, the period of an existing non-empty file is taken from its mtime (as
    /// log4j does), so a file last written yesterday is rolled with yesterday's suffix on the first
    /// write today.
    ///
    /// An unusable `policy.suffix` (see [`RollPolicy::suffix`]) is an `InvalidInput` error,
    /// reported before anything is created.
    pub fn open(path: &Path, policy: RollPolicy) -> io::Result<Self> {
        let invalid = |e: String| io::Error::new(io::ErrorKind::InvalidInput, e);
        if let Some(suffix) = &policy.suffix {
            Stamp::compile(suffix).map_err(invalid)?;
        }
        let stamp = match policy.time_suffix() {
            Some(format) => Some(Stamp::compile(format).map_err(invalid)?),
            None => None,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)?;
        }
        let file = open_append(path)?;
        let meta = file.metadata()?;
        let slot = match policy.every {
            Some(period) if meta.len() > 0 => {
                let mtime = meta.modified().unwrap_or_else(|_| SystemTime::now());
                Some(Slot::containing(period, mtime))
            }
            _ => None,
        };
        let mut rolling = RollingFile {
            path: path.to_path_buf(),
            policy,
            file: None,
            len: 0,
            next_size_roll: 0,
            slot,
            stamp,
            compressing: Vec::new(),
        };
        rolling.install(file, meta.len());
        Ok(rolling)
    }

    /// Writes `lines` (whole lines) with one `write_all`, rolling by time before and by size after.
    ///
    /// Durability: a line is never dropped because of a roll. A roll that fails before the file
    /// was moved (rename/delete error) leaves the current file in place: the bytes are written to
    /// it and the roll error is returned *after* the write, so the caller can report it. Only if
    /// the file was moved away and a new one cannot be opened is nothing written and the error
    /// returned at once; the next call retries the open. A failed `write_all` truncates the file
    /// back to its previous length so a partial line never precedes later lines.
    pub fn write_lines(&mut self, lines: &[u8], now: SystemTime) -> io::Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        if self.file.is_none() {
            self.reopen()?;
        }
        let mut deferred = self.roll_by_time_if_due(now).err();
        let Some(file) = self.file.as_mut() else {
            return Err(deferred.unwrap_or_else(|| io::Error::other("log file is not open")));
        };
        if let Err(e) = file.write_all(lines) {
            let _ = file.set_len(self.len);
            return Err(e);
        }
        self.len += lines.len() as u64;
        if let Some(max_size) = self.policy.max_size {
            if self.len > 0 && self.len >= self.next_size_roll {
                if let Err(e) = self.roll_by_size() {
                    self.next_size_roll = self.len.saturating_add(max_size);
                    deferred.get_or_insert(e);
                }
            }
        }
        deferred.map_or(Ok(()), Err)
    }

    /// fdatasync of the current file.
    pub fn sync_data(&mut self) -> io::Result<()> {
        match &self.file {
            Some(file) => file.sync_data(),
            None => Ok(()),
        }
    }

    /// The file's path (the current file; rolled ones get suffixes).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Current file length in bytes, tracked in memory to avoid a stat per write.
    #[allow(clippy::len_without_is_empty)] // a file length, not a collection
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Waits for background compression threads to finish (called on shutdown and by tests).
    pub fn wait_for_compression(&mut self) {
        for handle in self.compressing.drain(..) {
            if handle.join().is_err() {
                eprintln!("log4rs-audit: compression thread panicked");
            }
        }
    }

    fn install(&mut self, file: File, len: u64) {
        self.file = Some(file);
        self.len = len;
        self.next_size_roll = self.policy.max_size.unwrap_or(u64::MAX);
    }

    fn reopen(&mut self) -> io::Result<()> {
        self.file = None;
        let file = open_append(&self.path)?;
        let len = file.metadata()?.len();
        self.install(file, len);
        Ok(())
    }

    fn roll_by_time_if_due(&mut self, now: SystemTime) -> io::Result<()> {
        let (Some(period), Some(stamp)) = (self.policy.every, &self.stamp) else {
            return Ok(());
        };
        let ended = match self.slot {
            Some(slot) if now < slot.end => return Ok(()),
            Some(slot) if self.len > 0 || self.has_size_backups() => slot,
            _ => {
                self.slot = Some(Slot::containing(period, now));
                return Ok(());
            }
        };
        // Advance even if the roll fails: like log4j, a broken rename is not retried per write.
        self.slot = Some(Slot::containing(period, now));
        let suffix = stamp.format(ended.start)?;
        self.roll_by_time(&suffix)
    }

    /// An empty file right after a size roll still has backups that belong to the ended period.
    fn has_size_backups(&self) -> bool {
        self.policy.max_size.is_some()
            && self.policy.max_backups > 0
            && (exists(&with_suffix(&self.path, ".1")) || exists(&with_suffix(&self.path, ".1.gz")))
    }

    /// Renames the current file (unless empty, which is just reused) and its size backups to the
    /// dated names of the period that ended.
    fn roll_by_time(&mut self, suffix: &str) -> io::Result<()> {
        self.wait_for_compression();
        let dated = self.free_dated_name(suffix);
        let moved = self.len > 0;
        if moved {
            fs::rename(&self.path, &dated)?;
            self.file = None;
        }
        let mut result = Ok(());
        if self.policy.max_size.is_some() {
            for i in 1..=self.policy.max_backups {
                for ext in ["", ".gz"] {
                    let from = with_suffix(&self.path, &format!(".{i}{ext}"));
                    let r = rename_if_exists(&from, &with_suffix(&dated, &format!(".{i}{ext}")));
                    result = result.and(r);
                }
            }
        } else if self.policy.max_backups > 0 {
            result = self.prune_dated(&dated);
        }
        if moved {
            self.compress_in_background(dated);
            self.reopen()?;
        }
        result
    }

    /// `<path><suffix>`, or `<path><suffix>-<n>` if that (or its `.gz`, or a `.1` backup of it)
    /// exists: never overwrite.
    fn free_dated_name(&self, suffix: &str) -> PathBuf {
        let taken = |p: &Path| {
            ["", ".gz", ".1", ".1.gz"]
                .iter()
                .any(|ext| exists(&with_suffix(p, ext)))
        };
        let base = with_suffix(&self.path, suffix);
        if !taken(&base) {
            return base;
        }
        let mut n: u32 = 1;
        loop {
            let candidate = with_suffix(&base, &format!("-{n}"));
            if !taken(&candidate) || n == u32::MAX {
                return candidate;
            }
            n += 1;
        }
    }

    /// Deletes the oldest dated files so `max_backups` remain, counting the one just rolled,
    /// which is never deleted even if the clock went back and its name sorts first.
    fn prune_dated(&self, just_rolled: &Path) -> io::Result<()> {
        let (Some(stamp), Some(name)) =
            (&self.stamp, self.path.file_name().and_then(|n| n.to_str()))
        else {
            return Ok(());
        };
        let key_of = |p: &Path| {
            let file_name = p.file_name()?.to_str()?;
            stamp.key(file_name.strip_prefix(name)?)
        };
        let keep = key_of(just_rolled);
        let mut found = Vec::new();
        for entry in fs::read_dir(dir_of(&self.path))? {
            let path = entry?.path();
            if let Some(key) = key_of(&path).filter(|k| Some(k) != keep.as_ref()) {
                found.push((key, path));
            }
        }
        let mut keys: Vec<_> = found.iter().map(|(k, _)| k.clone()).collect();
        keys.sort();
        keys.dedup();
        let others_kept = self.policy.max_backups.saturating_sub(1) as usize;
        let doomed = &keys[..keys.len().saturating_sub(others_kept)];
        let mut result = Ok(());
        for (key, path) in &found {
            if doomed.binary_search(key).is_ok() {
                result = result.and(remove_if_exists(path));
            }
        }
        result
    }

    fn roll_by_size(&mut self) -> io::Result<()> {
        let n = self.policy.max_backups;
        if n == 0 {
            // log4j truncates when no backups are kept; a fresh handle also recreates a moved file.
            let file = open_append(&self.path)?;
            file.set_len(0)?;
            self.install(file, 0);
            return Ok(());
        }
        // Joined first so no compression thread is reading or renaming a file we are about to move.
        self.wait_for_compression();
        let backup = |i: u32, ext: &str| with_suffix(&self.path, &format!(".{i}{ext}"));
        remove_if_exists(&backup(n, ""))?;
        remove_if_exists(&backup(n, ".gz"))?;
        // Any failure aborts before `<path>` is moved, so no backup is ever overwritten.
        for i in (1..n).rev() {
            for ext in ["", ".gz"] {
                rename_if_exists(&backup(i, ext), &backup(i + 1, ext))?;
            }
        }
        let first = backup(1, "");
        fs::rename(&self.path, &first)?;
        self.file = None;
        self.compress_in_background(first);
        self.reopen()
    }

    fn compress_in_background(&mut self, src: PathBuf) {
        if self.policy.compress != Compression::Gzip {
            return;
        }
        let shown = src.display().to_string();
        let spawned = std::thread::Builder::new()
            .name("log4rs-audit-gzip".into())
            .spawn(move || gzip_file(&src));
        match spawned {
            Ok(handle) => self.compressing.push(handle),
            Err(e) => eprintln!("log4rs-audit: compressing {shown}: {e}"),
        }
    }
}

impl Drop for RollingFile {
    fn drop(&mut self) {
        self.wait_for_compression();
    }
}

/// Slots of a [`DatedKey`]'s time, most significant first.
const TIMESTAMP: usize = 0;
const YEAR: usize = 1;
const YEAR_HI: usize = 2;
const YEAR_LO: usize = 3;
const QUARTER: usize = 4;
const MONTH: usize = 5;
const WEEK: usize = 6;
const ORDINAL: usize = 7;
const DAY: usize = 8;
const HALF: usize = 9;
const HOUR: usize = 10;
const MINUTE: usize = 11;
const SECOND: usize = 12;
const SLOTS: usize = 13;

type Words = &'static [(&'static str, i64)];

const MONTHS_SHORT: Words = &[
    ("Jan", 1),
    ("Feb", 2),
    ("Mar", 3),
    ("Apr", 4),
    ("May", 5),
    ("Jun", 6),
    ("Jul", 7),
    ("Aug", 8),
    ("Sep", 9),
    ("Oct", 10),
    ("Nov", 11),
    ("Dec", 12),
];
const MONTHS_LONG: Words = &[
    ("January", 1),
    ("February", 2),
    ("March", 3),
    ("April", 4),
    ("May", 5),
    ("June", 6),
    ("July", 7),
    ("August", 8),
    ("September", 9),
    ("October", 10),
    ("November", 11),
    ("December", 12),
];
const WEEKDAYS_SHORT: Words = &[
    ("Sun", 0),
    ("Mon", 1),
    ("Tue", 2),
    ("Wed", 3),
    ("Thu", 4),
    ("Fri", 5),
    ("Sat", 6),
];
const WEEKDAYS_LONG: Words = &[
    ("Sunday", 0),
    ("Monday", 1),
    ("Tuesday", 2),
    ("Wednesday", 3),
    ("Thursday", 4),
    ("Friday", 5),
    ("Saturday", 6),
];
const AM_PM_UPPER: Words = &[("AM", 0), ("PM", 1)];
const AM_PM_LOWER: Words = &[("am", 0), ("pm", 1)];

/// One piece of a formatted suffix, as [`Stamp`] matches it.
#[derive(Clone, Debug)]
enum Tok {
    /// Exact text.
    Lit(Box<str>),
    /// A number of `min..=max` characters: digits, right-aligned with spaces if `spaces`.
    Digits {
        slot: Option<usize>,
        min: usize,
        max: usize,
        spaces: bool,
        hour12: bool,
    },
    /// One of a few words.
    Word { slot: Option<usize>, words: Words },
}

/// A time-roll suffix format: formats rolled names and recognises them (for retention).
#[derive(Clone, Debug)]
struct Stamp {
    items: Vec<Item<'static>>,
    tokens: Vec<Tok>,
}

/// Sort key of a rolled file: its time fields (most significant first), then the formatted stamp
/// and the collision number (0 if none), so `x`, `x.gz` share a key and `x-1` sorts after `x`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct DatedKey {
    when: [i64; SLOTS],
    stamp: String,
    n: u32,
}

impl Stamp {
    /// Parses a chrono strftime suffix; errors on an invalid format, an empty one, a path
    /// separator and specifiers whose output cannot be recognised reliably.
    fn compile(format: &str) -> Result<Stamp, String> {
        let items = StrftimeItems::new(format)
            .parse_to_owned()
            .map_err(|_| format!("invalid roll suffix format {format:?}"))?;
        if items.is_empty() {
            return Err("the roll suffix must not be empty".to_owned());
        }
        let tokens = items
            .iter()
            .map(|item| Self::token(item).ok_or_else(|| unsupported(format, item)))
            .collect::<Result<Vec<_>, _>>()?;
        for tok in &tokens {
            if let Tok::Lit(text) = tok {
                if text
                    .chars()
                    .any(|c| std::path::is_separator(c) || c == '\0')
                {
                    return Err(format!(
                        "roll suffix {format:?} must not contain a path separator"
                    ));
                }
            }
        }
        Ok(Stamp { items, tokens })
    }

    fn token(item: &Item<'_>) -> Option<Tok> {
        let digits = |slot: Option<usize>, width: usize, pad: Pad| {
            let (min, max) = match pad {
                Pad::None => (1, width),
                Pad::Zero | Pad::Space => (width, width),
            };
            Tok::Digits {
                slot,
                min,
                max,
                spaces: pad == Pad::Space,
                hour12: false,
            }
        };
        let word = |slot: Option<usize>, words: Words| Tok::Word { slot, words };
        Some(match item {
            Item::Literal(text) | Item::Space(text) => Tok::Lit((*text).into()),
            Item::OwnedLiteral(text) | Item::OwnedSpace(text) => Tok::Lit(text.clone()),
            Item::Numeric(numeric, pad) => {
                let pad = *pad;
                match numeric {
                    Numeric::Year | Numeric::IsoYear => digits(Some(YEAR), 4, pad),
                    Numeric::YearDiv100 | Numeric::IsoYearDiv100 => digits(Some(YEAR_HI), 2, pad),
                    Numeric::YearMod100 | Numeric::IsoYearMod100 => digits(Some(YEAR_LO), 2, pad),
                    Numeric::Quarter => digits(Some(QUARTER), 1, pad),
                    Numeric::Month => digits(Some(MONTH), 2, pad),
                    Numeric::Day => digits(Some(DAY), 2, pad),
                    Numeric::WeekFromSun | Numeric::WeekFromMon | Numeric::IsoWeek => {
                        digits(Some(WEEK), 2, pad)
                    }
                    Numeric::NumDaysFromSun | Numeric::WeekdayFromMon => digits(None, 1, pad),
                    Numeric::Ordinal => digits(Some(ORDINAL), 3, pad),
                    Numeric::Hour => digits(Some(HOUR), 2, pad),
                    Numeric::Hour12 => {
                        let mut tok = digits(Some(HOUR), 2, pad);
                        if let Tok::Digits { hour12, .. } = &mut tok {
                            *hour12 = true;
                        }
                        tok
                    }
                    Numeric::Minute => digits(Some(MINUTE), 2, pad),
                    Numeric::Second => digits(Some(SECOND), 2, pad),
                    Numeric::Nanosecond => digits(None, 9, pad),
                    // Seconds since the epoch: no padding, up to 20 digits.
                    Numeric::Timestamp => Tok::Digits {
                        slot: Some(TIMESTAMP),
                        min: 1,
                        max: 20,
                        spaces: false,
                        hour12: false,
                    },
                    _ => return None,
                }
            }
            Item::Fixed(Fixed::ShortMonthName) => word(Some(MONTH), MONTHS_SHORT),
            Item::Fixed(Fixed::LongMonthName) => word(Some(MONTH), MONTHS_LONG),
            Item::Fixed(Fixed::ShortWeekdayName) => word(None, WEEKDAYS_SHORT),
            Item::Fixed(Fixed::LongWeekdayName) => word(None, WEEKDAYS_LONG),
            Item::Fixed(Fixed::UpperAmPm) => word(Some(HALF), AM_PM_UPPER),
            Item::Fixed(Fixed::LowerAmPm) => word(Some(HALF), AM_PM_LOWER),
            Item::Fixed(_) | Item::Error => return None,
        })
    }

    /// The suffix of the period starting at `start`.
    fn format(&self, start: NaiveDateTime) -> io::Result<String> {
        let mut out = String::new();
        write!(out, "{}", start.format_with_items(self.items.iter()))
            .map_err(|_| io::Error::other("cannot format the roll suffix"))?;
        Ok(out)
    }

    /// Sort key of a file whose name is `<path name><rest>`, if `rest` is a suffix this format
    /// produces, optionally followed by a `-<n>` collision number, then optionally by `.gz`.
    fn key(&self, rest: &str) -> Option<DatedKey> {
        let rest = rest.strip_suffix(".gz").unwrap_or(rest);
        let mut when = [0; SLOTS];
        let mut found = None;
        self.walk(&self.tokens, rest, &mut when, &mut |tail, when| {
            let n = collision_number(tail)?;
            let stamp = rest[..rest.len() - tail.len()].to_owned();
            found = Some(DatedKey {
                when: *when,
                stamp,
                n,
            });
            Some(())
        });
        found
    }

    /// Backtracking match of `tokens` at the start of `s`; `done` sees each remainder (with the
    /// fields read so far) until it accepts one.
    fn walk(
        &self,
        tokens: &[Tok],
        s: &str,
        when: &mut [i64; SLOTS],
        done: &mut dyn FnMut(&str, &[i64; SLOTS]) -> Option<()>,
    ) -> bool {
        let Some((tok, later)) = tokens.split_first() else {
            return done(s, when).is_some();
        };
        match tok {
            Tok::Lit(text) => s
                .strip_prefix(&**text)
                .is_some_and(|r| self.walk(later, r, when, done)),
            Tok::Word { slot, words } => words.iter().any(|(word, value)| {
                let Some(r) = s.strip_prefix(word) else {
                    return false;
                };
                set_slot(when, *slot, *value);
                self.walk(later, r, when, done)
            }),
            Tok::Digits {
                slot,
                min,
                max,
                spaces,
                hour12,
            } => {
                let bytes = s.as_bytes();
                for len in (*min..=(*max).min(bytes.len())).rev() {
                    let field = &bytes[..len];
                    let lead = if *spaces {
                        field.iter().take_while(|&&b| b == b' ').count()
                    } else {
                        0
                    };
                    let number = &field[lead..];
                    if number.is_empty() || !number.iter().all(u8::is_ascii_digit) {
                        continue;
                    }
                    // ASCII only, so `len` is a char boundary.
                    let Ok(mut value) = s[lead..len].parse::<i64>() else {
                        continue;
                    };
                    if *hour12 {
                        value %= 12;
                    }
                    set_slot(when, *slot, value);
                    if self.walk(later, &s[len..], when, done) {
                        return true;
                    }
                }
                false
            }
        }
    }
}

fn set_slot(when: &mut [i64; SLOTS], slot: Option<usize>, value: i64) {
    if let Some(slot) = slot {
        when[slot] = value;
    }
}

/// `""` is 0; `-<digits>` is the collision number; anything else is not ours.
fn collision_number(tail: &str) -> Option<u32> {
    if tail.is_empty() {
        return Some(0);
    }
    let digits = tail.strip_prefix('-')?;
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn unsupported(format: &str, item: &Item<'_>) -> String {
    let what = match item {
        Item::Fixed(Fixed::TimezoneName) => "a time zone name".to_owned(),
        Item::Fixed(
            Fixed::TimezoneOffset
            | Fixed::TimezoneOffsetZ
            | Fixed::TimezoneOffsetColon
            | Fixed::TimezoneOffsetColonZ
            | Fixed::TimezoneOffsetDoubleColon
            | Fixed::TimezoneOffsetTripleColon,
        ) => "a time zone offset".to_owned(),
        Item::Fixed(Fixed::Nanosecond | Fixed::Nanosecond3 | Fixed::Nanosecond6)
        | Item::Fixed(Fixed::Nanosecond9) => "fractional seconds".to_owned(),
        other => format!("{other:?}"),
    };
    format!("roll suffix {format:?}: {what} is not supported")
}

/// Compresses `src` to `src.gz` via a synced `.gz.tmp`, so a `.gz` is always complete; on error
/// the original stays (nothing is lost) and the error is only reported.
fn gzip_file(src: &Path) {
    let tmp = with_suffix(src, ".gz.tmp");
    if let Err(e) = try_gzip(src, &tmp, &with_suffix(src, ".gz")) {
        let _ = fs::remove_file(&tmp);
        eprintln!("log4rs-audit: compressing {}: {}", src.display(), e);
    }
}

fn try_gzip(src: &Path, tmp: &Path, gz: &Path) -> io::Result<()> {
    let mut input = File::open(src)?;
    let mut encoder = GzEncoder::new(File::create(tmp)?, flate2::Compression::default());
    io::copy(&mut input, &mut encoder)?;
    encoder.finish()?.sync_all()?;
    fs::rename(tmp, gz)?;
    fs::remove_file(src)
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().append(true).create(true).open(path)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    name.into()
}

fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

fn remove_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn rename_if_exists(from: &Path, to: &Path) -> io::Result<()> {
    match fs::rename(from, to) {
        Err(e) if e.kind() != io::ErrorKind::NotFound || exists(from) => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::io::Read;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> SystemTime {
        Local
            .with_ymd_and_hms(y, mo, d, h, mi, s)
            .earliest()
            .expect("valid local time")
            .into()
    }

    /// "line 0001\n": 10 bytes each, numbered so order across files can be checked.
    fn line(i: u32) -> String {
        format!("line {i:04}\n")
    }

    fn lines(range: std::ops::RangeInclusive<u32>) -> String {
        range.map(line).collect()
    }

    fn names(dir: &Path) -> BTreeSet<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect()
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn read(path: &Path) -> String {
        fs::read_to_string(path).unwrap()
    }

    fn gunzip(path: &Path) -> String {
        let mut out = String::new();
        flate2::read::GzDecoder::new(File::open(path).unwrap())
            .read_to_string(&mut out)
            .unwrap();
        out
    }

    fn size_policy(max_size: u64, max_backups: u32) -> RollPolicy {
        RollPolicy {
            max_size: Some(max_size),
            max_backups,
            ..RollPolicy::never()
        }
    }

    fn time_policy(every: Period, max_backups: u32) -> RollPolicy {
        RollPolicy {
            every: Some(every),
            max_backups,
            ..RollPolicy::never()
        }
    }

    fn now() -> SystemTime {
        at(2020, 2, 19, 12, 0, 0)
    }

    #[test]
    fn period_parsing_and_suffixes() {
        assert_eq!("Minute".parse(), Ok(Period::Minute));
        assert_eq!("HOUR".parse(), Ok(Period::Hour));
        assert_eq!("day".parse(), Ok(Period::Day));
        assert_eq!("half_day".parse(), Ok(Period::HalfDay));
        assert_eq!("HalfDay".parse(), Ok(Period::HalfDay));
        assert_eq!("week".parse(), Ok(Period::Week));
        assert_eq!("Month".parse(), Ok(Period::Month));
        let err = "fortnight".parse::<Period>().unwrap_err();
        for name in ["minute", "hour", "half_day", "day", "week", "month"] {
            assert!(err.contains(name), "{err}");
        }
        assert_eq!(Period::Minute.suffix_format(), ".%Y-%m-%d-%H-%M");
        assert_eq!(Period::Hour.suffix_format(), ".%Y-%m-%d-%H");
        assert_eq!(Period::HalfDay.suffix_format(), ".%Y-%m-%d-%p");
        assert_eq!(Period::Day.suffix_format(), ".%Y-%m-%d");
        assert_eq!(Period::Week.suffix_format(), ".%Y-%U");
        assert_eq!(Period::Month.suffix_format(), ".%Y-%m");
        assert!(Period::Minute < Period::HalfDay && Period::Week < Period::Month);
        let policy = RollPolicy {
            every: Some(Period::Week),
            ..RollPolicy::never()
        };
        assert_eq!(policy.time_suffix(), Some(".%Y-%U"));
        let custom = RollPolicy {
            suffix: Some("_%Y".into()),
            ..policy.clone()
        };
        assert_eq!(custom.time_suffix(), Some("_%Y"));
        assert_eq!(RollPolicy::never().time_suffix(), None);
    }

    #[test]
    fn size_roll_shifts_backups_and_keeps_lines_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/audit.log");
        let mut f = RollingFile::open(&path, size_policy(25, 3)).unwrap();
        for i in 1..=20 {
            f.write_lines(line(i).as_bytes(), now()).unwrap();
        }
        // Rolls after lines 3, 6, ..., 18; only the newest three backups survive.
        let logs = dir.path().join("logs");
        let expected = set(&["audit.log", "audit.log.1", "audit.log.2", "audit.log.3"]);
        assert_eq!(names(&logs), expected);
        assert_eq!(read(&logs.join("audit.log.3")), lines(10..=12));
        assert_eq!(read(&logs.join("audit.log.2")), lines(13..=15));
        assert_eq!(read(&logs.join("audit.log.1")), lines(16..=18));
        assert_eq!(read(&path), lines(19..=20));
        assert_eq!(f.len(), 20);
        assert_eq!(f.path(), path);
    }

    #[test]
    fn first_line_after_roll_goes_to_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let mut f = RollingFile::open(&path, size_policy(20, 1)).unwrap();
        f.write_lines(line(1).as_bytes(), now()).unwrap();
        f.write_lines(line(2).as_bytes(), now()).unwrap(); // reaches 20: rolls after writing
        assert_eq!(f.len(), 0);
        f.write_lines(line(3).as_bytes(), now()).unwrap();
        assert_eq!(read(&dir.path().join("audit.log.1")), lines(1..=2));
        assert_eq!(read(&path), line(3));
        // A multi-line buffer crossing the limit stays whole in the old file.
        f.write_lines(lines(4..=6).as_bytes(), now()).unwrap();
        assert_eq!(read(&dir.path().join("audit.log.1")), lines(3..=6));
        assert_eq!(read(&path), "");
    }

    #[test]
    fn zero_backups_truncates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let mut f = RollingFile::open(&path, size_policy(20, 0)).unwrap();
        f.write_lines(lines(1..=2).as_bytes(), now()).unwrap();
        assert_eq!(f.len(), 0);
        assert_eq!(read(&path), "");
        f.write_lines(line(3).as_bytes(), now()).unwrap();
        assert_eq!(read(&path), line(3));
        assert_eq!(names(dir.path()), set(&["audit.log"]));
    }

    #[test]
    fn failed_roll_keeps_lines_and_reports_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let blocker = dir.path().join("audit.log.1");
        fs::create_dir(&blocker).unwrap(); // cannot be deleted as a file
        let mut f = RollingFile::open(&path, size_policy(20, 1)).unwrap();
        f.write_lines(line(1).as_bytes(), now()).unwrap();
        assert!(f.write_lines(line(2).as_bytes(), now()).is_err());
        assert_eq!(read(&path), lines(1..=2));
        // Not retried until another max_size bytes were written (log4j's nextRollover).
        f.write_lines(line(3).as_bytes(), now()).unwrap();
        fs::remove_dir(&blocker).unwrap();
        f.write_lines(line(4).as_bytes(), now()).unwrap();
        assert_eq!(read(&blocker), lines(1..=4));
        assert_eq!(read(&path), "");
    }

    #[test]
    fn time_roll_day_uses_suffix_of_ended_period() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let mut f = RollingFile::open(&path, time_policy(Period::Day, 0)).unwrap();
        f.write_lines(b"a\n", at(2020, 2, 19, 0, 0, 0)).unwrap();
        f.write_lines(b"b\n", at(2020, 2, 19, 23, 59, 59)).unwrap();
        f.write_lines(b"c\n", at(2020, 2, 20, 0, 0, 1)).unwrap();
        assert_eq!(
            names(dir.path()),
            set(&["audit.log", "audit.log.2020-02-19"])
        );
        assert_eq!(read(&dir.path().join("audit.log.2020-02-19")), "a\nb\n");
        assert_eq!(read(&path), "c\n");
        assert_eq!(f.len(), 2);
    }

    #[test]
    fn time_roll_minute_and_hour() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let mut f = RollingFile::open(&path, time_policy(Period::Minute, 0)).unwrap();
        f.write_lines(b"a\n", at(2020, 2, 19, 10, 15, 30)).unwrap();
        f.write_lines(b"b\n", at(2020, 2, 19, 10, 15, 59)).unwrap();
        f.write_lines(b"c\n", at(2020, 2, 19, 10, 16, 0)).unwrap();
        f.write_lines(b"d\n", at(2020, 2, 19, 12, 0, 0)).unwrap();
        assert_eq!(
            read(&dir.path().join("audit.log.2020-02-19-10-15")),
            "a\nb\n"
        );
        assert_eq!(read(&dir.path().join("audit.log.2020-02-19-10-16")), "c\n");
        assert_eq!(read(&path), "d\n");

        let path = dir.path().join("hourly.log");
        let mut f = RollingFile::open(&path, time_policy(Period::Hour, 0)).unwrap();
        f.write_lines(b"a\n", at(2020, 2, 19, 23, 0, 0)).unwrap();
        f.write_lines(b"b\n", at(2020, 2, 19, 23, 59, 59)).unwrap();
        f.write_lines(b"c\n", at(2020, 2, 20, 0, 0, 0)).unwrap();
        assert_eq!(read(&dir.path().join("hourly.log.2020-02-19-23")), "a\nb\n");
        assert_eq!(read(&path), "c\n");
    }

    #[test]
    fn empty_file_is_not_rolled_on_time_boundary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let policy = RollPolicy {
            max_size: Some(20),
            max_backups: 0,
            every: Some(Period::Day),
            suffix: None,
            compress: Compression::None,
        };
        let mut f = RollingFile::open(&path, policy).unwrap();
        f.write_lines(lines(1..=2).as_bytes(), at(2020, 2, 19, 8, 0, 0))
            .unwrap();
        assert_eq!(f.len(), 0); // truncated, still in the 19th's period
        f.write_lines(line(3).as_bytes(), at(2020, 2, 20, 8, 0, 0))
            .unwrap();
        assert_eq!(names(dir.path()), set(&["audit.log"]));
        // The boundary advanced to the 20th, so the next roll is named after it.
        f.write_lines(line(4).as_bytes(), at(2020, 2, 21, 8, 0, 0))
            .unwrap();
        assert_eq!(read(&dir.path().join("audit.log.2020-02-20")), line(3));
        assert_eq!(read(&path), line(4));
    }

    #[test]
    fn size_and_time_roll_rename_backups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let policy = RollPolicy {
            max_size: Some(20),
            max_backups: 2,
            every: Some(Period::Day),
            suffix: None,
            compress: Compression::None,
        };
        let mut f = RollingFile::open(&path, policy).unwrap();
        for i in 1..=5 {
            f.write_lines(line(i).as_bytes(), at(2020, 2, 19, 9, 0, i))
                .unwrap();
        }
        f.write_lines(line(6).as_bytes(), at(2020, 2, 20, 0, 0, 1))
            .unwrap();
        let expected = set(&[
            "audit.log",
            "audit.log.2020-02-19",
            "audit.log.2020-02-19.1",
            "audit.log.2020-02-19.2",
        ]);
        assert_eq!(names(dir.path()), expected);
        assert_eq!(
            read(&dir.path().join("audit.log.2020-02-19.2")),
            lines(1..=2)
        );
        assert_eq!(
            read(&dir.path().join("audit.log.2020-02-19.1")),
            lines(3..=4)
        );
        assert_eq!(read(&dir.path().join("audit.log.2020-02-19")), line(5));
        assert_eq!(read(&path), line(6));
    }

    #[test]
    fn size_backups_of_empty_current_file_still_get_dated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let policy = RollPolicy {
            max_size: Some(20),
            max_backups: 2,
            every: Some(Period::Day),
            suffix: None,
            compress: Compression::None,
        };
        let mut f = RollingFile::open(&path, policy).unwrap();
        f.write_lines(lines(1..=2).as_bytes(), at(2020, 2, 19, 9, 0, 0))
            .unwrap();
        f.write_lines(line(3).as_bytes(), at(2020, 2, 20, 9, 0, 0))
            .unwrap();
        let expected = set(&["audit.log", "audit.log.2020-02-19.1"]);
        assert_eq!(names(dir.path()), expected);
        assert_eq!(
            read(&dir.path().join("audit.log.2020-02-19.1")),
            lines(1..=2)
        );
        assert_eq!(read(&path), line(3));
    }

    #[test]
    fn dated_name_collision_gets_dash_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        fs::write(dir.path().join("audit.log.2020-02-19"), "old\n").unwrap();
        fs::write(dir.path().join("audit.log.2020-02-19-1.gz"), "older").unwrap();
        let mut f = RollingFile::open(&path, time_policy(Period::Day, 0)).unwrap();
        f.write_lines(b"a\n", at(2020, 2, 19, 23, 0, 0)).unwrap();
        f.write_lines(b"b\n", at(2020, 2, 20, 1, 0, 0)).unwrap();
        assert_eq!(read(&dir.path().join("audit.log.2020-02-19")), "old\n");
        assert_eq!(read(&dir.path().join("audit.log.2020-02-19-1.gz")), "older");
        assert_eq!(read(&dir.path().join("audit.log.2020-02-19-2")), "a\n");
        assert_eq!(read(&path), "b\n");
    }

    #[test]
    fn time_only_mode_keeps_max_backups_dated_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        fs::write(dir.path().join("audit.log.1"), "unrelated\n").unwrap();
        fs::write(dir.path().join("other.log.2020-02-19-09-00"), "x\n").unwrap();
        let mut f = RollingFile::open(&path, time_policy(Period::Minute, 2)).unwrap();
        for m in 0..=4 {
            f.write_lines(format!("{m}\n").as_bytes(), at(2020, 2, 19, 10, m, 0))
                .unwrap();
        }
        let expected = set(&[
            "audit.log",
            "audit.log.1",
            "audit.log.2020-02-19-10-02",
            "audit.log.2020-02-19-10-03",
            "other.log.2020-02-19-09-00",
        ]);
        assert_eq!(names(dir.path()), expected);
        assert_eq!(read(&path), "4\n");

        // max_backups == 0 keeps every dated file.
        let path = dir.path().join("all.log");
        let mut f = RollingFile::open(&path, time_policy(Period::Minute, 0)).unwrap();
        for m in 0..=4 {
            f.write_lines(b"x\n", at(2020, 2, 19, 10, m, 0)).unwrap();
        }
        let kept = names(dir.path());
        assert_eq!(kept.iter().filter(|n| n.starts_with("all.log.")).count(), 4);
    }

    #[test]
    fn gzip_size_rolls_compress_and_shift() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let policy = RollPolicy {
            compress: Compression::Gzip,
            ..size_policy(20, 2)
        };
        let mut f = RollingFile::open(&path, policy).unwrap();
        for i in 1..=7 {
            f.write_lines(line(i).as_bytes(), now()).unwrap();
        }
        f.wait_for_compression();
        let expected = set(&["audit.log", "audit.log.1.gz", "audit.log.2.gz"]);
        assert_eq!(names(dir.path()), expected);
        assert_eq!(gunzip(&dir.path().join("audit.log.2.gz")), lines(3..=4));
        assert_eq!(gunzip(&dir.path().join("audit.log.1.gz")), lines(5..=6));
        assert_eq!(read(&path), line(7));
    }

    #[test]
    fn gzip_time_roll_and_dated_backups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let policy = RollPolicy {
            max_size: Some(20),
            max_backups: 2,
            every: Some(Period::Day),
            suffix: None,
            compress: Compression::Gzip,
        };
        let mut f = RollingFile::open(&path, policy).unwrap();
        for i in 1..=3 {
            f.write_lines(line(i).as_bytes(), at(2020, 2, 19, 9, 0, i))
                .unwrap();
        }
        f.write_lines(line(4).as_bytes(), at(2020, 2, 20, 9, 0, 0))
            .unwrap();
        drop(f); // Drop joins the compression threads.
        let expected = set(&[
            "audit.log",
            "audit.log.2020-02-19.1.gz",
            "audit.log.2020-02-19.gz",
        ]);
        assert_eq!(names(dir.path()), expected);
        let dated = dir.path().join("audit.log.2020-02-19");
        assert_eq!(gunzip(&with_suffix(&dated, ".1.gz")), lines(1..=2));
        assert_eq!(gunzip(&with_suffix(&dated, ".gz")), line(3));
        assert_eq!(read(&path), line(4));
    }

    #[test]
    fn open_existing_file_appends_and_counts_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        fs::write(&path, lines(1..=1)).unwrap();
        let mut f = RollingFile::open(&path, size_policy(30, 1)).unwrap();
        assert_eq!(f.len(), 10);
        f.write_lines(line(2).as_bytes(), now()).unwrap();
        assert_eq!(f.len(), 20);
        f.sync_data().unwrap();
        assert_eq!(read(&path), lines(1..=2));
        f.write_lines(line(3).as_bytes(), now()).unwrap();
        assert_eq!(read(&dir.path().join("audit.log.1")), lines(1..=3));
        assert_eq!(f.len(), 0);
    }

    #[test]
    fn open_takes_period_from_mtime() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        fs::write(&path, "old\n").unwrap();
        let file = File::options().write(true).open(&path).unwrap();
        file.set_modified(at(2020, 2, 19, 12, 0, 0)).unwrap();
        drop(file);
        let mut f = RollingFile::open(&path, time_policy(Period::Day, 0)).unwrap();
        f.write_lines(b"new\n", at(2020, 2, 20, 0, 0, 1)).unwrap();
        assert_eq!(read(&dir.path().join("audit.log.2020-02-19")), "old\n");
        assert_eq!(read(&path), "new\n");

        // Same period as the mtime: no roll.
        let path = dir.path().join("same.log");
        fs::write(&path, "old\n").unwrap();
        let file = File::options().write(true).open(&path).unwrap();
        file.set_modified(at(2020, 2, 20, 8, 0, 0)).unwrap();
        drop(file);
        let mut f = RollingFile::open(&path, time_policy(Period::Day, 0)).unwrap();
        f.write_lines(b"new\n", at(2020, 2, 20, 9, 0, 0)).unwrap();
        assert_eq!(read(&path), "old\nnew\n");
        assert!(!dir.path().join("same.log.2020-02-20").exists());
    }

    fn naive(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|d| d.and_hms_opt(h, mi, s))
            .expect("valid date")
    }

    /// `(stamp, collision number)` of `rest` under `format`.
    fn key(format: &str, rest: &str) -> Option<(String, u32)> {
        let key = Stamp::compile(format).unwrap().key(rest)?;
        Some((key.stamp, key.n))
    }

    fn when(format: &str, rest: &str) -> DatedKey {
        Stamp::compile(format).unwrap().key(rest).unwrap()
    }

    #[test]
    fn dated_key_recognises_only_our_names() {
        let day = |s: &str| key(".%Y-%m-%d", s);
        assert_eq!(day(".2020-02-19"), Some((".2020-02-19".into(), 0)));
        assert_eq!(day(".2020-02-19-3.gz"), Some((".2020-02-19".into(), 3)));
        assert_eq!(day(""), None);
        assert_eq!(day(".1"), None);
        assert_eq!(day(".2020-02-19.1"), None);
        assert_eq!(day(".2020-02-19.gz.tmp"), None);
        assert_eq!(day(".2020-02-19-+3"), None);
        assert_eq!(day(".2020-2-19"), None);
        assert_eq!(day("_2020-02-19"), None);
    }

    #[test]
    fn stamp_matches_names_and_fields_of_any_suffix() {
        // Literals exact, numbers by width, names and AM/PM by word; `-n` and `.gz` still apply.
        let custom = "_%Y%m%d.log";
        assert_eq!(
            key(custom, "_20200219.log"),
            Some(("_20200219.log".into(), 0))
        );
        assert_eq!(
            key(custom, "_20200219.log-2.gz"),
            Some(("_20200219.log".into(), 2))
        );
        assert_eq!(key(custom, "_2020021.log"), None);
        assert_eq!(key(custom, "_20200219.txt"), None);
        assert_eq!(key(custom, "_20200219.log.1"), None);
        let half = ".%Y-%m-%d-%p";
        assert!(when(half, ".2020-02-19-AM") < when(half, ".2020-02-19-PM"));
        assert!(when(half, ".2020-02-19-PM") < when(half, ".2020-02-20-AM"));
        assert_eq!(key(half, ".2020-02-19-am"), None);
        assert_eq!(key(half, ".2020-02-19-XM"), None);
        // Time order, not name order.
        let named = ".%d-%b-%Y";
        assert!(when(named, ".31-Jan-2020") < when(named, ".01-Feb-2020"));
        assert!(when(named, ".01-Dec-2020") < when(named, ".01-Jan-2021"));
        assert_eq!(key(named, ".01-Foo-2020"), None);
        let long = ".%A %B %-d %Y";
        assert!(when(long, ".Friday January 31 2020") < when(long, ".Saturday February 1 2020"));
        assert_eq!(key(long, ".Fri January 31 2020"), None);
        // Unpadded and space-padded numbers.
        let loose = ".%-d.%-m.%Y";
        assert!(when(loose, ".9.2.2020") < when(loose, ".19.2.2020"));
        assert!(when(loose, ".19.2.2020") < when(loose, ".1.12.2020"));
        assert_eq!(key(loose, "..2.2020"), None);
        let spaced = ".%e";
        assert_eq!(key(spaced, ". 9"), Some((". 9".into(), 0)));
        assert_eq!(key(spaced, ".19"), Some((".19".into(), 0)));
        assert_eq!(key(spaced, ".9"), None);
        // 12-hour clock: 12 AM is the first hour.
        let twelve = ".%Y-%m-%d-%I%p";
        assert!(when(twelve, ".2020-02-19-12AM") < when(twelve, ".2020-02-19-01AM"));
        assert!(when(twelve, ".2020-02-19-11AM") < when(twelve, ".2020-02-19-12PM"));
        // Weeks, ordinals, epoch seconds.
        assert!(when(".%Y-%U", ".2020-52") < when(".%Y-%U", ".2021-01"));
        assert!(when(".%Y-%j", ".2020-099") < when(".%Y-%j", ".2020-100"));
        assert!(when(".%s", ".999") < when(".%s", ".1582070400"));
    }

    #[test]
    fn stamp_formats_and_rejects_unrecognisable_suffixes() {
        let start = naive(2020, 2, 19, 12, 0, 0);
        let format = |f: &str| Stamp::compile(f).unwrap().format(start).unwrap();
        assert_eq!(format(".%Y-%m-%d-%p"), ".2020-02-19-PM");
        assert_eq!(format(".%Y-%U"), ".2020-07");
        assert_eq!(format("100%%-%Y-%m"), "100%-2020-02");
        assert_eq!(format(".%d-%b-%Y %a"), ".19-Feb-2020 Wed");
        assert_eq!(format("_%F"), "_2020-02-19");
        for (bad, why) in [
            ("", "empty"),
            ("%Q", "invalid"),
            ("/%Y", "path separator"),
            ("%D", "path separator"),
            (".%Y%Z", "time zone name"),
            (".%Y%z", "time zone offset"),
            (".%Y%.3f", "fractional seconds"),
            (".%+", "not supported"),
        ] {
            let err = Stamp::compile(bad).unwrap_err();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }

    #[test]
    fn open_rejects_bad_suffix_before_creating_anything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/audit.log");
        for suffix in ["%Z", "%Q", "/%Y-%m-%d"] {
            let policy = RollPolicy {
                suffix: Some(suffix.into()),
                ..time_policy(Period::Day, 0)
            };
            let err = RollingFile::open(&path, policy).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{suffix}: {err}");
        }
        assert_eq!(names(dir.path()), set(&[]));
    }

    #[test]
    fn date_pattern_log4j_examples() {
        let cases = [
            ("'.'yyyy-MM-dd", Period::Day, ".%Y-%m-%d"),
            ("'.'yyyy-MM-dd-HH", Period::Hour, ".%Y-%m-%d-%H"),
            ("'.'yyyy-MM-dd-HH-mm", Period::Minute, ".%Y-%m-%d-%H-%M"),
            ("'.'yyyy-MM-dd-a", Period::HalfDay, ".%Y-%m-%d-%p"),
            ("'.'yyyy-ww", Period::Week, ".%Y-%U"),
            ("'.'yyyy-MM", Period::Month, ".%Y-%m"),
            ("'-'yyyyMMdd", Period::Day, "-%Y%m%d"),
            ("_yyyy-MM-dd'.log'", Period::Day, "_%Y-%m-%d.log"),
        ];
        for (pattern, period, format) in cases {
            assert_eq!(
                date_pattern_to_roll(pattern),
                Ok((period, format.to_owned())),
                "{pattern}"
            );
        }
        // The log4j defaults of each period are this crate's defaults.
        for (pattern, period, format) in &cases[..6] {
            assert_eq!(period.suffix_format(), *format, "{pattern}");
        }
    }

    #[test]
    fn date_pattern_letters_quotes_and_periods() {
        let roll = |p: &str| date_pattern_to_roll(p).unwrap();
        let s = |f: &str| f.to_owned();
        assert_eq!(roll("'.'yy-M-d"), (Period::Day, s(".%y-%-m-%-d")));
        assert_eq!(roll("'.'dd-MMM-yyyy"), (Period::Day, s(".%d-%b-%Y")));
        assert_eq!(roll("'.'MMMM-yyyy"), (Period::Month, s(".%B-%Y")));
        assert_eq!(roll("'.'LL-yyyy"), (Period::Month, s(".%m-%Y")));
        assert_eq!(roll("'.'yyyy-w"), (Period::Week, s(".%Y-%-U")));
        assert_eq!(roll("'.'EEE"), (Period::Day, s(".%a")));
        assert_eq!(roll("'.'EEEE"), (Period::Day, s(".%A")));
        assert_eq!(roll("'.'yyyy-u"), (Period::Day, s(".%Y-%u")));
        assert_eq!(roll("'.'yyyy-D"), (Period::Day, s(".%Y-%-j")));
        assert_eq!(roll("'.'yyyy-DDD"), (Period::Day, s(".%Y-%j")));
        assert_eq!(roll("'.'yyyy-MM-dd-hh"), (Period::Hour, s(".%Y-%m-%d-%I")));
        assert_eq!(roll("'.'yyyy-MM-dd-kk"), (Period::Hour, s(".%Y-%m-%d-%H")));
        assert_eq!(roll("'.'yyyy-MM-dd-KK"), (Period::Hour, s(".%Y-%m-%d-%I")));
        assert_eq!(roll("'.'yyyy-MM-dd-H"), (Period::Hour, s(".%Y-%m-%d-%-H")));
        assert_eq!(
            roll("'.'yyyy-MM-dd-hh-a"),
            (Period::Hour, s(".%Y-%m-%d-%I-%p"))
        );
        assert_eq!(
            roll("'.'yyyy-MM-dd-m"),
            (Period::Minute, s(".%Y-%m-%d-%-M"))
        );
        // Seconds: log4j cannot roll on them; the finest period is the minute.
        assert_eq!(
            roll("'.'yyyy-MM-dd-HH-mm-ss"),
            (Period::Minute, s(".%Y-%m-%d-%H-%M-%S"))
        );
        assert_eq!(
            roll("'.'yyyy-MM-dd-ss"),
            (Period::Minute, s(".%Y-%m-%d-%S"))
        );
        // The finest field wins whatever the order.
        assert_eq!(roll("HH'.'yyyy-MM-dd"), (Period::Hour, s("%H.%Y-%m-%d")));
        // Quotes: `''` is one quote, inside or outside quoted text; letters in quotes are text.
        assert_eq!(
            roll("'.'yyyy-MM-dd'T'HH"),
            (Period::Hour, s(".%Y-%m-%dT%H"))
        );
        assert_eq!(roll("yyyy''MM"), (Period::Month, s("%Y'%m")));
        assert_eq!(roll("'o''clock 'HH"), (Period::Hour, s("o'clock %H")));
        assert_eq!(roll("'.log.'yyyy-MM-dd"), (Period::Day, s(".log.%Y-%m-%d")));
        // `%` is escaped, quoted or not.
        assert_eq!(roll("'100%'-yyyy-MM"), (Period::Month, s("100%%-%Y-%m")));
        assert_eq!(roll("yyyy%MM"), (Period::Month, s("%Y%%%m")));
        // Non-ASCII text is literal.
        assert_eq!(roll("'.'yyyy-MM-dd·é"), (Period::Day, s(".%Y-%m-%d·é")));
    }

    #[test]
    fn date_pattern_errors() {
        let err = |p: &str| date_pattern_to_roll(p).unwrap_err();
        assert_eq!(err(""), "DatePattern has no date fields");
        assert_eq!(err("'.log'"), "DatePattern has no date fields");
        assert_eq!(err("-."), "DatePattern has no date fields");
        assert!(err("'.'yyyy").contains("year"), "{}", err("'.'yyyy"));
        for letter in ['G', 'Y', 'W', 'F', 'S', 'z', 'Z', 'X', 'x', 'b'] {
            let e = err(&format!("'.'yyyy-MM-dd-{letter}{letter}"));
            assert!(e.contains(&format!("'{letter}'")), "{letter}: {e}");
        }
        assert!(err("'.'yyyy-MM-dd'oops").contains("unterminated quote"));
        assert!(err("'.'yyyy/MM/dd").contains("path separator"));
    }

    #[test]
    fn period_boundaries_in_wall_clock_time() {
        let bounds = |p: Period, t: NaiveDateTime| {
            let start = p.start_of(t);
            (start, p.next_start(start).unwrap())
        };
        let half = Period::HalfDay;
        assert_eq!(
            bounds(half, naive(2020, 2, 19, 11, 59, 59)),
            (naive(2020, 2, 19, 0, 0, 0), naive(2020, 2, 19, 12, 0, 0))
        );
        assert_eq!(
            bounds(half, naive(2020, 2, 19, 12, 0, 0)),
            (naive(2020, 2, 19, 12, 0, 0), naive(2020, 2, 20, 0, 0, 0))
        );
        // 2020-02-16 is a Sunday.
        let week = Period::Week;
        assert_eq!(
            bounds(week, naive(2020, 2, 16, 0, 0, 0)),
            (naive(2020, 2, 16, 0, 0, 0), naive(2020, 2, 23, 0, 0, 0))
        );
        assert_eq!(
            bounds(week, naive(2020, 2, 22, 23, 59, 59)),
            (naive(2020, 2, 16, 0, 0, 0), naive(2020, 2, 23, 0, 0, 0))
        );
        assert_eq!(
            bounds(week, naive(2021, 1, 2, 12, 0, 0)),
            (naive(2020, 12, 27, 0, 0, 0), naive(2021, 1, 3, 0, 0, 0))
        );
        let month = Period::Month;
        assert_eq!(
            bounds(month, naive(2020, 2, 29, 23, 59, 59)),
            (naive(2020, 2, 1, 0, 0, 0), naive(2020, 3, 1, 0, 0, 0))
        );
        assert_eq!(
            bounds(month, naive(2020, 12, 31, 8, 0, 0)),
            (naive(2020, 12, 1, 0, 0, 0), naive(2021, 1, 1, 0, 0, 0))
        );
        assert_eq!(
            bounds(month, naive(2021, 1, 31, 8, 0, 0)),
            (naive(2021, 1, 1, 0, 0, 0), naive(2021, 2, 1, 0, 0, 0))
        );
        // The existing periods are unchanged.
        assert_eq!(
            bounds(Period::Day, naive(2020, 2, 29, 13, 0, 0)),
            (naive(2020, 2, 29, 0, 0, 0), naive(2020, 3, 1, 0, 0, 0))
        );
        assert_eq!(
            bounds(Period::Hour, naive(2020, 2, 29, 23, 30, 0)),
            (naive(2020, 2, 29, 23, 0, 0), naive(2020, 3, 1, 0, 0, 0))
        );
    }

    #[test]
    fn time_roll_half_day() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let mut f = RollingFile::open(&path, time_policy(Period::HalfDay, 0)).unwrap();
        f.write_lines(b"a\n", at(2020, 2, 19, 0, 0, 0)).unwrap();
        f.write_lines(b"b\n", at(2020, 2, 19, 11, 59, 59)).unwrap();
        f.write_lines(b"c\n", at(2020, 2, 19, 12, 0, 1)).unwrap();
        assert_eq!(
            names(dir.path()),
            set(&["audit.log", "audit.log.2020-02-19-AM"])
        );
        assert_eq!(read(&dir.path().join("audit.log.2020-02-19-AM")), "a\nb\n");
        f.write_lines(b"d\n", at(2020, 2, 19, 23, 59, 59)).unwrap();
        f.write_lines(b"e\n", at(2020, 2, 20, 0, 0, 0)).unwrap();
        assert_eq!(read(&dir.path().join("audit.log.2020-02-19-PM")), "c\nd\n");
        assert_eq!(read(&path), "e\n");
    }

    #[test]
    fn time_roll_week_starts_on_sunday() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let mut f = RollingFile::open(&path, time_policy(Period::Week, 0)).unwrap();
        f.write_lines(b"a\n", at(2020, 2, 16, 0, 0, 0)).unwrap(); // Sunday
        f.write_lines(b"b\n", at(2020, 2, 22, 23, 59, 59)).unwrap(); // Saturday
        assert_eq!(names(dir.path()), set(&["audit.log"]));
        f.write_lines(b"c\n", at(2020, 2, 23, 0, 0, 1)).unwrap(); // Sunday
        assert_eq!(names(dir.path()), set(&["audit.log", "audit.log.2020-07"]));
        assert_eq!(read(&dir.path().join("audit.log.2020-07")), "a\nb\n");
        // Named after the week's Sunday, even when the week ends in the next year.
        f.write_lines(b"d\n", at(2021, 1, 2, 12, 0, 0)).unwrap(); // Saturday
        f.write_lines(b"e\n", at(2021, 1, 3, 0, 0, 0)).unwrap(); // Sunday
        assert_eq!(read(&dir.path().join("audit.log.2020-08")), "c\n");
        assert_eq!(read(&dir.path().join("audit.log.2020-52")), "d\n");
        assert_eq!(read(&path), "e\n");
    }

    #[test]
    fn time_roll_month() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let mut f = RollingFile::open(&path, time_policy(Period::Month, 2)).unwrap();
        f.write_lines(b"a\n", at(2020, 2, 1, 0, 0, 0)).unwrap();
        f.write_lines(b"b\n", at(2020, 2, 29, 23, 59, 59)).unwrap();
        f.write_lines(b"c\n", at(2020, 3, 1, 0, 0, 1)).unwrap();
        assert_eq!(names(dir.path()), set(&["audit.log", "audit.log.2020-02"]));
        assert_eq!(read(&dir.path().join("audit.log.2020-02")), "a\nb\n");
        f.write_lines(b"d\n", at(2020, 12, 31, 23, 0, 0)).unwrap();
        f.write_lines(b"e\n", at(2021, 1, 1, 0, 0, 0)).unwrap();
        // max_backups = 2: the oldest month went.
        let expected = set(&["audit.log", "audit.log.2020-03", "audit.log.2020-12"]);
        assert_eq!(names(dir.path()), expected);
        assert_eq!(read(&dir.path().join("audit.log.2020-03")), "c\n");
        assert_eq!(read(&dir.path().join("audit.log.2020-12")), "d\n");
        assert_eq!(read(&path), "e\n");
    }

    #[test]
    fn custom_suffix_names_and_retention() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let ours = ["audit.log_20200101.log", "audit.log_20200102.log-1.gz"];
        let unrelated = [
            "audit.log.1",
            "audit.log_2020011.log",
            "audit.log_20200101.txt",
            "audit.log.2020-01-01",
            "other.log_20200101.log",
        ];
        for name in ours.iter().chain(&unrelated) {
            fs::write(dir.path().join(name), "old\n").unwrap();
        }
        let policy = RollPolicy {
            suffix: Some("_%Y%m%d.log".into()),
            ..time_policy(Period::Day, 2)
        };
        let mut f = RollingFile::open(&path, policy).unwrap();
        for day in 17..=20 {
            f.write_lines(format!("{day}\n").as_bytes(), at(2020, 2, day, 9, 0, 0))
                .unwrap();
        }
        let mut expected = set(&unrelated);
        expected.extend(set(&[
            "audit.log",
            "audit.log_20200218.log",
            "audit.log_20200219.log",
        ]));
        assert_eq!(names(dir.path()), expected);
        assert_eq!(read(&dir.path().join("audit.log_20200218.log")), "18\n");
        assert_eq!(read(&dir.path().join("audit.log_20200219.log")), "19\n");
        assert_eq!(read(&path), "20\n");
    }

    #[test]
    fn custom_suffix_collision_and_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        fs::write(dir.path().join("audit.log_20200219.log"), "old\n").unwrap();
        let policy = RollPolicy {
            suffix: Some("_%Y%m%d.log".into()),
            compress: Compression::Gzip,
            ..time_policy(Period::Day, 5)
        };
        let mut f = RollingFile::open(&path, policy).unwrap();
        f.write_lines(b"a\n", at(2020, 2, 19, 9, 0, 0)).unwrap();
        f.write_lines(b"b\n", at(2020, 2, 20, 9, 0, 0)).unwrap();
        f.wait_for_compression();
        let expected = set(&[
            "audit.log",
            "audit.log_20200219.log",
            "audit.log_20200219.log-1.gz",
        ]);
        assert_eq!(names(dir.path()), expected);
        let rolled = dir.path().join("audit.log_20200219.log-1.gz");
        assert_eq!(gunzip(&rolled), "a\n");
        assert_eq!(read(&path), "b\n");
    }

    #[test]
    fn date_pattern_suffix_prunes_in_time_order() {
        // ".01-Feb-2020" sorts before ".31-Jan-2020" by name, but is newer.
        let (period, suffix) = date_pattern_to_roll("'.'dd-MMM-yyyy").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let policy = RollPolicy {
            suffix: Some(suffix),
            ..time_policy(period, 2)
        };
        let mut f = RollingFile::open(&path, policy).unwrap();
        for (month, day) in [(1, 31), (2, 1), (2, 2), (2, 3)] {
            f.write_lines(format!("{day}\n").as_bytes(), at(2020, month, day, 9, 0, 0))
                .unwrap();
        }
        let expected = set(&[
            "audit.log",
            "audit.log.01-Feb-2020",
            "audit.log.02-Feb-2020",
        ]);
        assert_eq!(names(dir.path()), expected);
        assert_eq!(read(&dir.path().join("audit.log.01-Feb-2020")), "1\n");
        assert_eq!(read(&path), "3\n");
    }

    #[test]
    fn date_pattern_half_day_end_to_end() {
        let (period, suffix) = date_pattern_to_roll("'.'yyyy-MM-dd-a").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let policy = RollPolicy {
            suffix: Some(suffix),
            ..time_policy(period, 2)
        };
        let mut f = RollingFile::open(&path, policy).unwrap();
        for (day, hour) in [(19, 6), (19, 18), (20, 6), (20, 18)] {
            f.write_lines(
                format!("{day}-{hour}\n").as_bytes(),
                at(2020, 2, day, hour, 0, 0),
            )
            .unwrap();
        }
        let expected = set(&[
            "audit.log",
            "audit.log.2020-02-19-PM",
            "audit.log.2020-02-20-AM",
        ]);
        assert_eq!(names(dir.path()), expected);
        assert_eq!(read(&dir.path().join("audit.log.2020-02-20-AM")), "20-6\n");
        assert_eq!(read(&path), "20-18\n");
    }
}
