//! One open [`LineSink`] per file in the process, shared by every `audit_file` appender that
//! writes it.
//!
//! A reload builds the new appender while the old one is still logging (and threads keep using
//! the old config until their next call), so two appenders on one path overlap. Each with its
//! own roll state would shift the same `.i → .i+1` backups and overwrite whole rolled files.
//! Instead the new appender adopts the open sink: one queue (lines keep their order), one file,
//! one roll state, which takes the new config's policy and settings when the new appender is
//! first used (so a config refused after this appender was built changes nothing).
//!
//! Across processes, an exclusive advisory lock (`flock`) on `.<name>.lock` beside the file is
//! held while it is open: a second process writing the same file is refused with an error
//! naming it, instead of both interleaving rolls and hash chains.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::SystemTime;

use parking_lot::Mutex;

use super::file::FileOptions;
use super::roll::RollingFile;
use super::sink::LineSink;
use crate::file_mode::FileMode;

/// Open sinks by canonical path. Entries are added and the last reference to a sink is
/// dropped under this lock, so an opener never meets a file that is half closed.
static OPEN: Mutex<Vec<(PathBuf, Weak<LineSink>)>> = Mutex::new(Vec::new());

/// A reference to a shared sink; dropping the last one closes the file (and its lock).
#[derive(Debug)]
pub(crate) struct SharedSink {
    sink: Option<Arc<LineSink>>,
    /// The settings of an appender that adopted an open sink, applied at its first use.
    pending: Mutex<Option<FileOptions>>,
    has_pending: AtomicBool,
}

impl SharedSink {
    fn new(sink: Arc<LineSink>, pending: Option<FileOptions>) -> Self {
        SharedSink {
            sink: Some(sink),
            has_pending: AtomicBool::new(pending.is_some()),
            pending: Mutex::new(pending),
        }
    }

    /// The sink (always there until drop).
    pub(crate) fn sink(&self) -> &Arc<LineSink> {
        match &self.sink {
            Some(sink) => sink,
            None => unreachable!("a SharedSink is emptied only by its drop"),
        }
    }

    /// Applies this appender's settings if it adopted an open sink and this is its first use
    /// (a line is about to be written). A failure is returned once; the caller still writes
    /// its line, under the settings the file had.
    pub(crate) fn apply_pending(&self) -> io::Result<()> {
        if !self.has_pending.load(Ordering::Acquire) {
            return Ok(());
        }
        let Some(options) = self.pending.lock().take() else {
            return Ok(());
        };
        self.has_pending.store(false, Ordering::Release);
        let sink = self.sink();
        sink.with_file(|f| {
            f.reconfigure(
                options.policy.clone(),
                options.integrity.clone(),
                SystemTime::now(),
            )
        })?;
        sink.reconfigure(options.durability, options.fsync, options.buffer_size);
        Ok(())
    }
}

impl Drop for SharedSink {
    fn drop(&mut self) {
        let mut open = OPEN.lock();
        drop(self.sink.take());
        open.retain(|(_, w)| w.strong_count() > 0);
    }
}

/// Opens `path` with `options`, or adopts the sink already open on it (see the module docs).
pub(crate) fn open(path: &Path, options: &FileOptions) -> io::Result<SharedSink> {
    let key = canonical(path, options.policy.file_mode)?;
    let mut open = OPEN.lock();
    if let Some(sink) = open
        .iter()
        .find(|(k, _)| *k == key)
        .and_then(|(_, w)| w.upgrade())
    {
        return Ok(SharedSink::new(sink, Some(options.clone())));
    }
    let lock = lock(path, &key, options.policy.file_mode)?;
    let file =
        RollingFile::open_with_integrity(path, options.policy.clone(), options.integrity.clone())?;
    let sink = Arc::new(
        LineSink::new(file, options.durability, options.fsync, options.buffer_size).with_lock(lock),
    );
    open.retain(|(_, w)| w.strong_count() > 0);
    open.push((key, Arc::downgrade(&sink)));
    Ok(SharedSink::new(sink, None))
}

/// Whether this process has `path` open (an `append: false` reload must not empty it).
pub(crate) fn is_open(path: &Path) -> bool {
    let Ok(key) = canonical(path, FileMode::default()) else {
        return false;
    };
    OPEN.lock()
        .iter()
        .any(|(k, w)| *k == key && w.strong_count() > 0)
}

/// Waits until every open file's background compression is finished (shutdown: a rolled file
/// is never left half compressed by an exiting process).
pub(crate) fn wait_for_compression() {
    let sinks: Vec<Arc<LineSink>> = OPEN
        .lock()
        .iter()
        .filter_map(|(_, w)| w.upgrade())
        .collect();
    for sink in &sinks {
        sink.with_file(|f| f.wait_for_compression());
    }
    // The last reference must go under the lock (see `OPEN`).
    let mut open = OPEN.lock();
    drop(sinks);
    open.retain(|(_, w)| w.strong_count() > 0);
}

/// `path` with its folder resolved (created if missing), so `a/../audit.log`, `./audit.log`
/// and a symlinked folder name one file; a symlink as the file itself is followed too.
fn canonical(path: &Path, mode: FileMode) -> io::Result<PathBuf> {
    let with = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    if let Ok(p) = path.canonicalize() {
        return Ok(p);
    }
    let name = path
        .file_name()
        .ok_or_else(|| with(io::Error::new(io::ErrorKind::InvalidInput, "no file name")))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    mode.create_dir_all(dir).map_err(with)?;
    Ok(dir.canonicalize().map_err(with)?.join(name))
}

/// The lock file of `path`: hidden, so `verify` and `query` never take it for a log.
fn lock_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.lock"))
}

/// Takes the exclusive lock of `path` (see the module docs), without waiting; the lock file
/// is beside `canonical` (the file itself, whichever folder or symlink names it).
fn lock(path: &Path, canonical: &Path, mode: FileMode) -> io::Result<File> {
    let lock = lock_path(canonical);
    let with = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", lock.display()));
    mode.create_parent(&lock).map_err(with)?;
    // No more readable than the file it guards (an existing one's mode is taken).
    let file = mode
        .like(canonical)
        .open(&lock, OpenOptions::new().write(true))
        .map_err(with)?;
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor this function owns; no memory is passed.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::WouldBlock {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!(
                        "{} is being written by another process (it holds the lock {}); \
                         two writers would interleave rolls and break the trail",
                        path.display(),
                        lock.display()
                    ),
                ));
            }
            // A filesystem without flock (some network mounts): audit still gets written,
            // unguarded against a second process, and the operator is told.
            eprintln!(
                "log4rs-audit: {}: cannot lock ({e}); another process writing {} would not be \
                 refused",
                lock.display(),
                path.display()
            );
        }
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::append::roll::{Compression, RollPolicy};

    fn options(max_size: u64) -> FileOptions {
        FileOptions {
            policy: RollPolicy {
                max_size: Some(max_size),
                max_backups: 100,
                every: None,
                suffix: None,
                compress: Compression::None,
                file_mode: FileMode::default(),
            },
            ..FileOptions::default()
        }
    }

    #[test]
    fn a_second_open_adopts_the_file_and_its_new_policy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let a = open(&path, &options(1000)).unwrap();
        a.sink().submit(b"0123456789\n").unwrap();
        let b = open(&dir.path().join("sub/../audit.log"), &options(20)).unwrap();
        assert!(Arc::ptr_eq(a.sink(), b.sink()));
        assert!(is_open(&path));
        // Not used yet: its max_size does not apply.
        a.apply_pending().unwrap();
        a.sink().submit(b"0123456789\n").unwrap();
        assert!(!dir.path().join("audit.log.1").exists());
        // Its first use applies it: the file rolls after this write.
        b.apply_pending().unwrap();
        b.sink().submit(b"0123456789\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("audit.log.1")).unwrap(),
            "0123456789\n0123456789\n0123456789\n"
        );
        drop(a);
        drop(b);
        assert!(!is_open(&path));
        // Closed: the lock went with it.
        drop(open(&path, &options(20)).unwrap());
    }

    #[test]
    fn another_lock_holder_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        // A second descriptor stands for another process: flock locks are per open file.
        let other = lock(
            &path,
            &canonical(&path, FileMode::default()).unwrap(),
            FileMode::default(),
        )
        .unwrap();
        let err = open(&path, &options(20)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        let text = err.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("another process"), "{text}");
        drop(other);
        drop(open(&path, &options(20)).unwrap());
    }
}
