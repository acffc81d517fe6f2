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
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::SystemTime;

use flate2::write::GzEncoder;

use crate::file_mode::FileMode;
use crate::integrity::{sidecar_path, IntegrityOptions, SidecarWriter};

mod date_pattern;
mod period;
mod reconfigure;
mod recover;
mod stamp;

pub use date_pattern::date_pattern_to_roll;
pub use period::Period;

use period::Slot;
use stamp::Stamp;

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
    /// Mode of the files and folders this trail creates (rolled and compressed copies keep
    /// the mode of the file they were).
    pub file_mode: FileMode,
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
            file_mode: FileMode::default(),
        }
    }

    /// The suffix format of time-rolled files: `suffix`, else the period's default; `None`
    /// without `every`.
    pub fn time_suffix(&self) -> Option<&str> {
        let period = self.every?;
        Some(self.suffix.as_deref().unwrap_or(period.suffix_format()))
    }
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
    /// The digest sidecar (option `integrity`): fed every line written, sealed at rolls.
    integrity: Option<SidecarWriter>,
    /// The options `integrity` was opened with, to tell whether a reload changes them.
    integrity_options: Option<IntegrityOptions>,
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
        Self::open_with_integrity(path, policy, None)
    }

    /// [`RollingFile::open`] with a digest sidecar beside the file (see
    /// [`crate::integrity`]): the chain resumes from the sidecar (a torn last line is cut off,
    /// lines after the last checkpoint are re-hashed and sealed by a `resume` record), every
    /// line written is hashed, and checkpoints are written every N lines or T seconds and at
    /// every roll, before the file is renamed; the sidecar moves with its file.
    pub fn open_with_integrity(
        path: &Path,
        policy: RollPolicy,
        integrity: Option<IntegrityOptions>,
    ) -> io::Result<Self> {
        let invalid = |e: String| io::Error::new(io::ErrorKind::InvalidInput, e);
        if let Some(suffix) = &policy.suffix {
            Stamp::compile(suffix).map_err(invalid)?;
        }
        let stamp = match policy.time_suffix() {
            Some(format) => Some(Stamp::compile(format).map_err(invalid)?),
            None => None,
        };
        policy.file_mode.create_parent(path)?;
        // What a crash or an exit left half done in the rolled files is finished first.
        let recovered = recover::recover(path, &policy, stamp.as_ref(), integrity.is_some());
        for r in &recovered.repairs {
            eprintln!("log4rs-audit: {r}");
        }
        let file = policy.file_mode.open_append(path)?;
        let integrity_options = integrity.clone();
        let integrity = match integrity {
            Some(options) => {
                let (writer, repairs) = SidecarWriter::open(path, options, SystemTime::now())?;
                for r in repairs {
                    eprintln!("log4rs-audit: {r}");
                }
                Some(writer)
            }
            None => None,
        };
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
            integrity,
            integrity_options,
        };
        rolling.install(file, meta.len());
        rolling.compress_all_in_background(recovered.to_compress);
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
        if let Some(w) = &mut self.integrity {
            w.absorb(lines);
        }
        if let Err(e) = self.tick(now) {
            deferred.get_or_insert(e);
        }
        if let Some(max_size) = self.policy.max_size {
            if self.len > 0 && self.len >= self.next_size_roll {
                if let Err(e) = self.roll_by_size(now) {
                    self.next_size_roll = self.len.saturating_add(max_size);
                    deferred.get_or_insert(e);
                }
            }
        }
        deferred.map_or(Ok(()), Err)
    }

    /// Writes a checkpoint if one is due (integrity only): every N lines or T seconds.
    pub fn tick(&mut self, now: SystemTime) -> io::Result<()> {
        let Some(w) = &mut self.integrity else {
            return Ok(());
        };
        if !w.due(now) {
            return Ok(());
        }
        if w.fsync() {
            if let Some(file) = &self.file {
                file.sync_data()?;
            }
        }
        w.checkpoint(now)
    }

    /// Writes a checkpoint now if lines were written since the last one (integrity only).
    pub fn checkpoint_now(&mut self, now: SystemTime) -> io::Result<()> {
        match &self.integrity {
            Some(w) if w.unsealed() > 0 => {}
            _ => return Ok(()),
        }
        if let (Some(file), Some(w)) = (&self.file, &self.integrity) {
            if w.fsync() {
                file.sync_data()?;
            }
        }
        match &mut self.integrity {
            Some(w) => w.checkpoint(now),
            None => Ok(()),
        }
    }

    /// Seals the current file before it is renamed to `rolled` (integrity only).
    fn seal(&mut self, rolled: &Path, now: SystemTime) -> io::Result<()> {
        let Some(w) = &mut self.integrity else {
            return Ok(());
        };
        if w.fsync() {
            if let Some(file) = &self.file {
                file.sync_data()?;
            }
        }
        let name = rolled
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        w.seal(&name, now)
    }

    /// After the sealed file was moved to `rolled` (or emptied: `None`), starts the new file's
    /// sidecar and moves (or replaces) the sealed one, never leaving the new file without
    /// either (see [`crate::integrity::SidecarWriter::prepare_next`]).
    fn continue_chain(&mut self, rolled: Option<&Path>, now: SystemTime) -> io::Result<()> {
        let Some(w) = &mut self.integrity else {
            return Ok(());
        };
        let next = w.prepare_next(&self.path, now)?;
        if let Some(rolled) = rolled {
            fs::rename(w.path(), sidecar_path(rolled))?;
        }
        w.install_next(next)
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
        let file = self.policy.file_mode.open_append(&self.path)?;
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
        self.roll_by_time(&suffix, now)
    }

    /// An empty file right after a size roll still has backups that belong to the ended period.
    fn has_size_backups(&self) -> bool {
        self.policy.max_size.is_some()
            && self.policy.max_backups > 0
            && (exists(&with_suffix(&self.path, ".1")) || exists(&with_suffix(&self.path, ".1.gz")))
    }

    /// Renames the current file (unless empty, which is just reused) and its size backups to the
    /// dated names of the period that ended.
    fn roll_by_time(&mut self, suffix: &str, now: SystemTime) -> io::Result<()> {
        self.wait_for_compression();
        let dated = self.free_dated_name(suffix);
        let moved = self.len > 0;
        if moved {
            self.seal(&dated, now)?;
            fs::rename(&self.path, &dated)?;
            self.file = None;
        }
        let mut result = Ok(());
        if self.policy.max_size.is_some() {
            for i in 1..=self.policy.max_backups {
                for ext in ["", ".gz", ".digest"] {
                    let from = with_suffix(&self.path, &format!(".{i}{ext}"));
                    let r = rename_if_exists(&from, &with_suffix(&dated, &format!(".{i}{ext}")));
                    result = result.and(r);
                }
            }
        } else if self.policy.max_backups > 0 {
            result = self.prune_dated(&dated);
        }
        if moved {
            self.reopen()?;
            self.continue_chain(Some(&dated), now)?;
            self.compress_in_background(dated);
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
                if self.integrity.is_some() {
                    result = result.and(remove_if_exists(&sidecar_path(path)));
                }
            }
        }
        result
    }

    fn roll_by_size(&mut self, now: SystemTime) -> io::Result<()> {
        let n = self.policy.max_backups;
        if n == 0 {
            // log4j truncates when no backups are kept; a fresh handle also recreates a moved file.
            let path = self.path.clone();
            self.seal(&path, now)?;
            let file = self.policy.file_mode.open_append(&self.path)?;
            file.set_len(0)?;
            self.install(file, 0);
            return self.continue_chain(None, now);
        }
        // Joined first so no compression thread is reading or renaming a file we are about to move.
        self.wait_for_compression();
        let backup = |i: u32, ext: &str| with_suffix(&self.path, &format!(".{i}{ext}"));
        remove_if_exists(&backup(n, ""))?;
        remove_if_exists(&backup(n, ".gz"))?;
        remove_if_exists(&backup(n, ".digest"))?;
        // Any failure aborts before `<path>` is moved, so no backup is ever overwritten.
        for i in (1..n).rev() {
            for ext in ["", ".gz", ".digest"] {
                rename_if_exists(&backup(i, ext), &backup(i + 1, ext))?;
            }
        }
        let first = backup(1, "");
        self.seal(&first, now)?;
        fs::rename(&self.path, &first)?;
        self.file = None;
        self.reopen()?;
        self.continue_chain(Some(&first), now)?;
        self.compress_in_background(first);
        Ok(())
    }

    fn compress_in_background(&mut self, src: PathBuf) {
        if self.policy.compress != Compression::Gzip {
            return;
        }
        self.compress_all_in_background(vec![src]);
    }

    /// Gzips `files` one after the other on one background thread.
    fn compress_all_in_background(&mut self, files: Vec<PathBuf>) {
        let Some(first) = files.first() else {
            return;
        };
        let shown = first.display().to_string();
        let spawned = std::thread::Builder::new()
            .name("log4rs-audit-gzip".into())
            .spawn(move || files.iter().for_each(|f| gzip_file(f)));
        match spawned {
            Ok(handle) => self.compressing.push(handle),
            Err(e) => eprintln!("log4rs-audit: compressing {shown}: {e}"),
        }
    }
}

impl Drop for RollingFile {
    fn drop(&mut self) {
        self.wait_for_compression();
        if let Some(w) = &mut self.integrity {
            if let Some(file) = self.file.as_ref().filter(|_| w.fsync()) {
                let _ = file.sync_data();
            }
            if let Err(e) = w.close(SystemTime::now()) {
                eprintln!("log4rs-audit: {e}");
            }
        }
    }
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
    // The copy is no more readable than the file it replaces.
    let mode = FileMode::of(&input.metadata()?);
    let mut encoder = GzEncoder::new(mode.create(tmp)?, flate2::Compression::default());
    io::copy(&mut input, &mut encoder)?;
    encoder.finish()?.sync_all()?;
    fs::rename(tmp, gz)?;
    fs::remove_file(src)
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

    use chrono::{Local, TimeZone};

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
            file_mode: crate::FileMode::default(),
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
            file_mode: crate::FileMode::default(),
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
            file_mode: crate::FileMode::default(),
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
            file_mode: crate::FileMode::default(),
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
        // The file already there has one of our names: with gzip it is compressed at start.
        let expected = set(&[
            "audit.log",
            "audit.log_20200219.log-1.gz",
            "audit.log_20200219.log.gz",
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
