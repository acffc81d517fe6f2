//! The spools open in this process, by canonical directory, whatever appender kind opened them.
//!
//! A spool directory can be open only once (it is locked), yet a reloaded config builds its
//! new appenders before the old ones are dropped. So what is open is kept here by canonical
//! directory: an appender for a directory already open joins what is there (for a
//! [`Channel`](super::channel::Channel): the spool and its delivery thread). What was opened is
//! registered only weakly: when its last user drops it, it closes (for a channel: flushes, stops
//! and joins its thread, closes the spool), and only then is the directory free to be opened
//! again; an opener that comes while it closes waits for that.
//!
//! Each entry names the appender kind that opened it: a directory is the spool of one kind
//! (its records are in that kind's format), so another kind configured on the same directory
//! is an error naming both, not a share.

use std::any::Any;
use std::collections::BTreeMap;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::file_mode::FileMode;

/// What is open, by canonical directory; an entry whose value is gone is still closing.
static REGISTRY: Mutex<BTreeMap<PathBuf, Slot>> = Mutex::new(BTreeMap::new());
/// Notified whenever an entry closed.
static CLOSED: Condvar = Condvar::new();

/// Longest wait for a closing spool of the same directory.
const CLOSE_WAIT: Duration = Duration::from_secs(120);

struct Slot {
    /// The appender kind that opened it (`event_server`, `kafka`, …).
    kind: &'static str,
    open: Weak<dyn Any + Send + Sync>,
}

/// Something open on a spool directory, registered under its canonical path; the directory is
/// freed once it is dropped.
pub(crate) struct Registered<T> {
    // Field order matters: `value` (and the spool it holds) closes before `_entry` frees the
    // directory.
    value: T,
    _entry: Entry,
}

impl<T> Registered<T> {
    /// The directory, canonical.
    pub(crate) fn dir(&self) -> &Path {
        &self._entry.0
    }
}

impl<T> Deref for Registered<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

/// Removes the registry entry (unless it was opened again meanwhile) when dropped.
struct Entry(PathBuf);

impl Drop for Entry {
    fn drop(&mut self) {
        let mut registry = REGISTRY.lock();
        if registry
            .get(&self.0)
            .is_some_and(|slot| slot.open.strong_count() == 0)
        {
            registry.remove(&self.0);
        }
        CLOSED.notify_all();
    }
}

/// What is open on `dir` for appenders of `kind`, or, if nothing is, what `open` makes of the
/// canonical directory (created if missing). `open` runs with the registry locked, so two
/// openers of one directory never race; it must not join another spool.
///
/// Errors: the directory cannot be created or resolved, another kind has it open (or is still
/// closing it), it is still being closed after [`CLOSE_WAIT`], or `open` failed; each message
/// starts with `spool_dir:`, except `open`'s own.
pub(crate) fn open_or_join<T: Send + Sync + 'static>(
    kind: &'static str,
    dir: &Path,
    mode: FileMode,
    open: impl FnOnce(&Path) -> anyhow::Result<T>,
) -> anyhow::Result<Arc<Registered<T>>> {
    mode.create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("spool_dir: cannot create {}: {e}", dir.display()))?;
    let key = dir
        .canonicalize()
        .map_err(|e| anyhow::anyhow!("spool_dir: {}: {e}", dir.display()))?;
    let mut registry = REGISTRY.lock();
    let deadline = Instant::now() + CLOSE_WAIT;
    while let Some(slot) = registry.get(&key) {
        let other = slot.kind;
        let found = slot.open.upgrade();
        if other != kind {
            anyhow::bail!(
                "spool_dir: {} is the spool of a `{other}` appender; a `{kind}` appender cannot share it (give it a spool_dir of its own)",
                key.display()
            );
        }
        if let Some(found) = found {
            return found.downcast::<Registered<T>>().map_err(|_| {
                anyhow::anyhow!(
                    "spool_dir: {} is open as another kind of `{kind}` spool",
                    key.display()
                )
            });
        }
        if CLOSED.wait_until(&mut registry, deadline).timed_out() {
            anyhow::bail!(
                "spool_dir: {} is still being closed by a previous appender",
                key.display()
            );
        }
    }
    let value = open(&key)?;
    let registered = Arc::new(Registered {
        value,
        _entry: Entry(key.clone()),
    });
    let weak: Weak<dyn Any + Send + Sync> = Arc::downgrade(&registered) as _;
    registry.insert(key, Slot { kind, open: weak });
    Ok(registered)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Something to register: counts how often it was opened.
    struct Opened(usize);

    #[test]
    fn same_kind_shares_other_kind_is_refused_and_the_last_drop_frees_the_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("spool");
        let opens = AtomicUsize::new(0);
        let open = |_: &Path| Ok(Opened(opens.fetch_add(1, Ordering::SeqCst) + 1));

        let first = open_or_join("syslog", &dir, FileMode::default(), open).unwrap();
        assert_eq!(first.dir(), dir.canonicalize().unwrap());
        // The same directory under another spelling: joined, not opened again.
        let again = open_or_join(
            "syslog",
            &tmp.path().join("./spool/../spool"),
            FileMode::default(),
            open,
        )
        .unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!((first.0, opens.load(Ordering::SeqCst)), (1, 1));

        let e = open_or_join("kafka", &dir, FileMode::default(), open)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("`syslog` appender") && e.contains("a `kafka` appender cannot share it"),
            "{e}"
        );
        assert!(e.starts_with("spool_dir: "), "{e}");
        assert_eq!(opens.load(Ordering::SeqCst), 1);

        drop(first);
        // Still open through `again`.
        let third = open_or_join("syslog", &dir, FileMode::default(), open).unwrap();
        assert_eq!((third.0, opens.load(Ordering::SeqCst)), (1, 1));
        drop((again, third));
        assert!(!REGISTRY.lock().contains_key(&dir.canonicalize().unwrap()));

        // Freed: any kind may open it now.
        let kafka = open_or_join("kafka", &dir, FileMode::default(), open).unwrap();
        assert_eq!(kafka.0, 2);
    }

    #[test]
    fn a_failed_open_leaves_the_dir_free() {
        let tmp = tempfile::tempdir().unwrap();
        let e = open_or_join(
            "kafka",
            tmp.path(),
            FileMode::default(),
            |_| -> anyhow::Result<Opened> { anyhow::bail!("no producer") },
        )
        .err()
        .unwrap();
        assert_eq!(e.to_string(), "no producer");
        let ok =
            open_or_join("syslog", tmp.path(), FileMode::default(), |_| Ok(Opened(7))).unwrap();
        assert_eq!(ok.0, 7);
    }

    #[test]
    fn an_opener_waits_while_the_previous_one_closes() {
        /// Takes a while to close, like a channel flushing its spool.
        struct Slow(std::sync::mpsc::Sender<&'static str>);
        impl Drop for Slow {
            fn drop(&mut self) {
                std::thread::sleep(Duration::from_millis(200));
                let _ = self.0.send("closed");
            }
        }
        let tmp = tempfile::tempdir().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let first = open_or_join("syslog", tmp.path(), FileMode::default(), |_| {
            Ok(Slow(tx.clone()))
        })
        .unwrap();
        let closer = std::thread::spawn(move || drop(first));
        // Wait until the closer has started dropping (the entry is then dead but present).
        while REGISTRY
            .lock()
            .get(&tmp.path().canonicalize().unwrap())
            .is_some_and(|s| s.open.strong_count() > 0)
        {
            std::thread::yield_now();
        }
        let second = open_or_join("syslog", tmp.path(), FileMode::default(), |_| {
            let _ = tx.send("opened");
            Ok(Slow(tx.clone()))
        })
        .unwrap();
        closer.join().unwrap();
        assert_eq!(
            rx.try_iter().take(2).collect::<Vec<_>>(),
            ["closed", "opened"]
        );
        drop(second);
    }
}
