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
use crate::integrity::sidecar::pruned_info;
use crate::integrity::{sidecar_path, IntegrityOptions, SidecarWriter};

mod date_pattern;
mod period;
mod reconfigure;
mod recover;
mod stamp;

pub use date_pattern::{date_pattern_to_roll, InvalidDatePattern};
pub use period::Period;

use period::Slot;
use stamp::Stamp;

/// What happens to a rolled file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
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

    /// The compiled suffix of time-rolled files (`None` without `every`); an unusable
    /// `suffix` is an `InvalidInput` error, even without `every`.
    fn stamp(&self) -> io::Result<Option<Stamp>> {
        let invalid = |e: String| io::Error::new(io::ErrorKind::InvalidInput, e);
        if let Some(suffix) = &self.suffix {
            Stamp::compile(suffix).map_err(invalid)?;
        }
        self.time_suffix()
            .map(|format| Stamp::compile(format).map_err(invalid))
            .transpose()
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
        let stamp = policy.stamp()?;
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

    /// Before the retention policy deletes `doomed` (a rolled file, or only its sidecar): a
    /// `prune` record naming it, in the current sidecar (integrity only), so `verify` tells the
    /// deletion from tampering. A doomed file without a readable sidecar gets none (and
    /// `verify` will report it missing): said on stderr.
    fn prune_record(&mut self, doomed: &Path, now: SystemTime) -> io::Result<()> {
        let Some(w) = &mut self.integrity else {
            return Ok(());
        };
        let pruned = match pruned_info(doomed) {
            Ok(Some(p)) => p,
            Ok(None) => return Ok(()),
            Err(e) => {
                eprintln!(
                    "log4rs-audit: {}: deleted by max_backups without a prune record: {e}",
                    doomed.display()
                );
                return Ok(());
            }
        };
        if w.fsync() {
            if let Some(file) = &self.file {
                file.sync_data()?;
            }
        }
        w.prune(pruned, now)
    }

    /// After the sealed file was moved to `rolled` (or emptied: `None`, with the `prune` record
    /// that says so, `emptied`, written right after the new sidecar's start), starts the new file's
    /// sidecar and moves (or replaces) the sealed one, never leaving the new file without
    /// either (see [`crate::integrity::SidecarWriter::prepare_next`]).
    fn continue_chain(
        &mut self,
        rolled: Option<&Path>,
        emptied: Option<crate::integrity::checkpoint::Pruned>,
        now: SystemTime,
    ) -> io::Result<()> {
        let Some(w) = &mut self.integrity else {
            return Ok(());
        };
        let next = w.prepare_next(&self.path, emptied, now)?;
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
        let mut result = Ok(());
        if self.policy.max_size.is_none() && self.policy.max_backups > 0 {
            // Before the seal: its prune records go to the current file, not after its seal.
            result = self.prune_dated(&dated);
        }
        if moved {
            self.seal(&dated, now)?;
            fs::rename(&self.path, &dated)?;
            self.file = None;
        }
        if self.policy.max_size.is_some() {
            for i in 1..=self.policy.max_backups {
                for ext in ["", ".gz", ".digest"] {
                    let from = with_suffix(&self.path, &format!(".{i}{ext}"));
                    let r = rename_if_exists(&from, &with_suffix(&dated, &format!(".{i}{ext}")));
                    result = result.and(r);
                }
            }
        }
        if moved {
            self.reopen()?;
            self.continue_chain(Some(&dated), None, now)?;
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
    fn prune_dated(&mut self, just_rolled: &Path) -> io::Result<()> {
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
                if let Err(e) = self.prune_record(path, SystemTime::now()) {
                    // No file is deleted without its prune record.
                    result = result.and(Err(e));
                    continue;
                }
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
            let emptied = self.integrity.as_ref().map(|w| w.own_pruned());
            let file = self.policy.file_mode.open_append(&self.path)?;
            file.set_len(0)?;
            self.install(file, 0);
            // The emptied file's records go with its old sidecar: the new one says so.
            return self.continue_chain(None, emptied, now);
        }
        // Joined first so no compression thread is reading or renaming a file we are about to move.
        self.wait_for_compression();
        let backup = |i: u32, ext: &str| with_suffix(&self.path, &format!(".{i}{ext}"));
        let oldest = if exists(&backup(n, ".gz")) {
            backup(n, ".gz")
        } else {
            backup(n, "")
        };
        self.prune_record(&oldest, now)?;
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
        self.continue_chain(Some(&first), None, now)?;
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
mod tests;
