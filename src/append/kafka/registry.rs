//! One open spool and one producer thread per spool directory in the process.
//!
//! A spool directory can be open only once (it is locked), yet a reloaded config builds its
//! new appenders before the old ones are dropped. So, as for `event_server`, open spools are
//! kept by canonical directory: an appender for a directory already open joins that spool and
//! its producer thread, which then uses the newest appender's brokers and properties (a new
//! producer if they changed). When the last appender goes, the spool is flushed (at most
//! `flush_timeout`), the producer thread stopped and joined, and the directory freed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::producer::{self, Settings, Shared};
use crate::append::event_server::group::GroupCommit;
use crate::spool::{Spool, SpoolOptions};

static REGISTRY: Mutex<BTreeMap<PathBuf, Weak<Channel>>> = Mutex::new(BTreeMap::new());
static CLOSED: Condvar = Condvar::new();
const CLOSE_WAIT: Duration = Duration::from_secs(120);

/// An open spool, its group commit and its producer thread; shared by the appenders of a directory.
pub(crate) struct Channel {
    pub spool: Arc<Spool>,
    pub group: GroupCommit,
    pub shared: Arc<Shared>,
    pub dir: PathBuf,
    thread: Mutex<Option<JoinHandle<()>>>,
    _entry: Entry,
}

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

impl Channel {
    /// The channel of `options.dir`, opened unless already open, now using `settings`.
    pub(crate) fn join(options: SpoolOptions, settings: Settings) -> anyhow::Result<Arc<Channel>> {
        let dir = &options.dir;
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("spool_dir: cannot create {}: {e}", dir.display()))?;
        let key = dir
            .canonicalize()
            .map_err(|e| anyhow::anyhow!("spool_dir: {}: {e}", dir.display()))?;
        let mut registry = REGISTRY.lock();
        let deadline = Instant::now() + CLOSE_WAIT;
        while let Some(weak) = registry.get(&key) {
            if let Some(channel) = weak.upgrade() {
                channel.shared.set_settings(settings);
                return Ok(channel);
            }
            if CLOSED.wait_until(&mut registry, deadline).timed_out() {
                anyhow::bail!(
                    "spool_dir: {} is still being closed by a previous appender",
                    key.display()
                );
            }
        }
        let spool = Arc::new(Spool::open(options).map_err(|e| anyhow::anyhow!("spool_dir: {e}"))?);
        let group =
            GroupCommit::new(Arc::clone(&spool)).map_err(|e| anyhow::anyhow!("spool_dir: {e}"))?;
        let acked = group.last_seq() - spool.pending().0;
        let shared = Arc::new(Shared::new(settings, acked));
        for note in spool.recovered() {
            shared.error(format!("spool recovered: {note}"));
        }
        let thread = producer::spawn(Arc::clone(&spool), Arc::clone(&shared), key.clone())
            .map_err(|e| anyhow::anyhow!("cannot start the kafka producer thread: {e}"))?;
        let channel = Arc::new(Channel {
            spool,
            group,
            shared,
            dir: key.clone(),
            thread: Mutex::new(Some(thread)),
            _entry: Entry(key.clone()),
        });
        registry.insert(key, Arc::downgrade(&channel));
        Ok(channel)
    }

    /// Waits until every message spooled before the call is acknowledged, at most `timeout`;
    /// on timeout returns how many are still waiting.
    pub(crate) fn flush(&self, timeout: Duration) -> Result<(), u64> {
        let target = self.group.last_seq();
        let deadline = Instant::now() + timeout;
        loop {
            let acked = self.shared.acked_seq.load(Ordering::Acquire);
            if acked >= target {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(target - acked);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        let timeout = self.shared.settings().flush_timeout;
        if let Err(left) = self.flush(timeout) {
            eprintln!(
                "log4rs-audit: kafka: {left} messages not yet delivered to {} after {}; they stay in the spool {}",
                self.shared.settings().brokers,
                humantime::format_duration(timeout),
                self.dir.display()
            );
        }
        self.shared.stop();
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }
}
