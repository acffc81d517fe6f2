//! One open spool, one sender thread per spool directory in the process.
//!
//! A spool directory can be open only once (it is locked), yet a reloaded config builds its
//! new appenders before the old ones are dropped. So open spools are kept in a process-wide
//! registry by canonical directory: an appender for a directory already open joins that spool
//! (and its sender, which then uses the newest appender's settings). When the last appender
//! of a spool is dropped, the spool is flushed (bounded), its sender stopped and joined, the
//! spool closed, and only then is the directory free to be opened again (an opener that comes
//! while it closes waits for that).
//!
//! The spool's own options (`spool_max_bytes`, `spool_fsync`, `when_full`) are those of the
//! appender that opened it; a reload that changes them takes effect when the spool is next
//! opened (the next process start, or after every appender of the spool was dropped).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::group::GroupCommit;
use super::sender::{self, Core, Settings};
use crate::server::wire::NodeId;
use crate::spool::{Spool, SpoolOptions};

/// Open spools by canonical directory; an entry whose handle is gone is still closing.
static REGISTRY: Mutex<BTreeMap<PathBuf, Weak<SpoolHandle>>> = Mutex::new(BTreeMap::new());
static CLOSED: Condvar = Condvar::new();

/// Longest wait for a closing spool of the same directory.
const CLOSE_WAIT: Duration = Duration::from_secs(120);

/// An open spool with its group commit and sender thread; shared by its appenders.
pub(crate) struct SpoolHandle {
    // Field order matters: the spool (held by `core` and `group`) closes before `_entry`
    // frees the directory in the registry.
    pub(crate) core: Arc<Core>,
    pub(crate) group: GroupCommit,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// `flush_timeout` of the newest appender, in ms, for the flush on close.
    flush_timeout_ms: AtomicU64,
    /// The acknowledged sequence number when a flush last timed out: if nothing was delivered
    /// since, closing does not wait a second time for a server that is down.
    stalled_at: Mutex<Option<u64>>,
    _entry: Entry,
}

/// Removes the registry entry when dropped.
struct Entry(PathBuf);

impl Drop for Entry {
    fn drop(&mut self) {
        let mut registry = REGISTRY.lock();
        if registry.get(&self.0).is_some_and(|w| w.strong_count() == 0) {
            registry.remove(&self.0);
        }
        CLOSED.notify_all();
    }
}

impl SpoolHandle {
    /// The spool of `options.dir`, opened (and its sender started) unless already open;
    /// returns it with the id under which `settings` were registered.
    pub(crate) fn join(
        options: SpoolOptions,
        settings: Arc<Settings>,
    ) -> anyhow::Result<(Arc<SpoolHandle>, u64)> {
        let dir = &options.dir;
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("spool_dir: cannot create {}: {e}", dir.display()))?;
        let key = dir
            .canonicalize()
            .map_err(|e| anyhow::anyhow!("spool_dir: {}: {e}", dir.display()))?;
        let timeout_ms = settings.flush_timeout.as_millis() as u64;
        let mut registry = REGISTRY.lock();
        let deadline = Instant::now() + CLOSE_WAIT;
        while let Some(weak) = registry.get(&key) {
            if let Some(handle) = weak.upgrade() {
                let id = handle.core.push_settings(settings);
                handle.flush_timeout_ms.store(timeout_ms, Ordering::Relaxed);
                return Ok((handle, id));
            }
            if CLOSED.wait_until(&mut registry, deadline).timed_out() {
                anyhow::bail!(
                    "spool_dir: {} is still being closed by a previous appender",
                    key.display()
                );
            }
        }
        let spool = Arc::new(Spool::open(options).map_err(|e| anyhow::anyhow!("spool_dir: {e}"))?);
        let node = NodeId::new(spool.node_id()).map_err(|e| anyhow::anyhow!("spool_dir: {e}"))?;
        let group =
            GroupCommit::new(Arc::clone(&spool)).map_err(|e| anyhow::anyhow!("spool_dir: {e}"))?;
        let acked = group.last_seq() - spool.pending().0;
        let core = Arc::new(Core::new(
            Arc::clone(&spool),
            node,
            key.clone(),
            acked,
            Arc::clone(&settings),
        ));
        for note in spool.recovered() {
            core.report(format!("spool recovered: {note}"));
        }
        let id = core.push_settings(settings);
        let sender_core = Arc::clone(&core);
        let thread = std::thread::Builder::new()
            .name("log4rs-audit-event-server".into())
            .spawn(move || sender::run(sender_core))
            .map_err(|e| anyhow::anyhow!("cannot start the sender thread: {e}"))?;
        let handle = Arc::new(SpoolHandle {
            core,
            group,
            thread: Mutex::new(Some(thread)),
            flush_timeout_ms: AtomicU64::new(timeout_ms),
            stalled_at: Mutex::new(None),
            _entry: Entry(key.clone()),
        });
        registry.insert(key, Arc::downgrade(&handle));
        Ok((handle, id))
    }

    /// Waits until every event spooled before the call is delivered (or dead-lettered), at
    /// most `timeout`; on timeout returns how many are still waiting.
    pub(crate) fn flush(&self, timeout: Duration) -> Result<(), u64> {
        let target = self.group.last_seq();
        self.core.want_flushed(target);
        let deadline = Instant::now()
            .checked_add(timeout)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365));
        if self.core.wait_acked(target, deadline) {
            Ok(())
        } else {
            let acked = self.core.acked();
            *self.stalled_at.lock() = Some(acked);
            Err(target.saturating_sub(acked))
        }
    }
}

impl Drop for SpoolHandle {
    fn drop(&mut self) {
        let mut timeout = Duration::from_millis(self.flush_timeout_ms.load(Ordering::Relaxed));
        if *self.stalled_at.lock() == Some(self.core.acked()) {
            timeout = Duration::ZERO;
        }
        if let Err(left) = self.flush(timeout) {
            let settings = self.core.settings();
            eprintln!(
                "log4rs-audit: {left} events not yet delivered to {} after {}; they stay in the spool {}",
                settings.endpoint,
                humantime::format_duration(timeout),
                self.core.dir.display()
            );
        }
        self.core.stop();
        if let Some(thread) = self.thread.lock().take() {
            let _ = thread.join();
        }
    }
}
