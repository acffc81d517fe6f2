//! The delivery channel of a spooled appender: the spool of a directory, its group commit and
//! the one thread that delivers its records, shared by every appender configured on that
//! directory. The targets (`event_server`, `kafka`, `syslog`) implement [`Delivery`] with only
//! what is their own: their per-spool state, their settings and their thread's body (connect,
//! send, confirm).
//!
//! - **Joining**: a channel is opened through the [`registry`](super::registry), so a reloaded
//!   config, whose new appenders are built before the old ones are dropped, joins the channel
//!   already open for a directory instead of failing on its lock.
//! - **Settings**: each appender registers its settings when it joins; the thread uses those
//!   of the newest appender still there, so a reload takes effect at once, and a new config
//!   that is dropped (a reload that failed on another appender) gives the channel back to the
//!   config still running. The spool's own options (`spool_max_bytes`, `spool_fsync`,
//!   `when_full`) are those of the appender that opened it; a change takes effect when the
//!   spool is next opened.
//! - **Flush** waits until every record spooled before it was acknowledged by the thread, at
//!   most a given time; on timeout it says how many are still waiting.
//! - **Close**: when the last appender goes, the channel flushes (at most the settings'
//!   `flush_timeout`; what is left stays in the spool for the next start, reported on stderr),
//!   stops and joins its thread, closes the spool, and only then frees the directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::group::GroupCommit;
use super::registry::{self, Registered};
use super::{Spool, SpoolOptions};

/// What a target brings to a [`Channel`]: the value is its per-spool state, shared by its
/// appenders and its thread through [`Shared::target`].
pub(crate) trait Delivery: Sized + Send + Sync + 'static {
    /// The appender kind, as configured (`kafka`); a spool directory belongs to one kind.
    const KIND: &'static str;
    /// The name of the delivery thread.
    const THREAD_NAME: &'static str;
    /// How the thread reaches the destination; those of the newest appender are in force.
    type Settings: Send + Sync + 'static;

    /// The target's state for a spool just opened.
    fn open(spool: &Spool) -> anyhow::Result<Self>;

    /// The thread's body: until [`Shared::stopping`], deliver what the spool holds and
    /// acknowledge it ([`Spool::ack`], then [`Shared::set_acked`]).
    fn run(shared: Arc<Shared<Self>>);

    /// How long a close waits for delivery.
    fn flush_timeout(settings: &Self::Settings) -> Duration;

    /// What is waiting and where it goes, for flush and close messages:
    /// `kafka: 3 messages not yet delivered to 127.0.0.1:9092`.
    fn undelivered(settings: &Self::Settings, left: u64) -> String;

    /// A problem the appenders must hear about (a spool recovered from a crash); by default
    /// it becomes [`Shared::last_error`].
    fn report(shared: &Shared<Self>, message: String) {
        shared.set_error(message);
    }

    /// Asked to stop: wakes the thread from any wait of the target's own.
    fn wake(_shared: &Shared<Self>) {}

    /// A flush waits for `seq` to be acknowledged.
    fn flushing(_shared: &Shared<Self>, _seq: u64) {}

    /// How long the close waits for delivery, given the settings' `flush_timeout`.
    fn close_timeout(_shared: &Shared<Self>, flush_timeout: Duration) -> Duration {
        flush_timeout
    }
}

/// What the appenders of a spool and its thread share.
pub(crate) struct Shared<D: Delivery> {
    pub spool: Arc<Spool>,
    /// The spool directory, canonical.
    pub dir: PathBuf,
    /// The target's own state: its counters and what else its thread shares.
    pub target: D,
    /// The last delivery problem, for the appenders' stats.
    pub last_error: Mutex<Option<String>>,
    settings: Mutex<SettingsStack<D::Settings>>,
    /// Highest sequence number acknowledged, with a condvar for flush.
    acked: Mutex<u64>,
    progress: Condvar,
    stop: Mutex<bool>,
    stop_changed: Condvar,
}

/// Settings of every appender using the spool; the newest wins.
struct SettingsStack<S> {
    entries: Vec<(u64, Arc<S>)>,
    next_id: u64,
    /// The last settings removed, used while the spool drains after its last appender left.
    last: Arc<S>,
}

impl<D: Delivery> Shared<D> {
    /// The settings in force: those of the newest appender still using the spool.
    pub(crate) fn settings(&self) -> Arc<D::Settings> {
        let s = self.settings.lock();
        Arc::clone(s.entries.last().map_or(&s.last, |(_, s)| s))
    }

    /// Registers an appender's settings; they are in force until a newer appender registers.
    fn push_settings(&self, settings: Arc<D::Settings>) -> u64 {
        let mut s = self.settings.lock();
        let id = s.next_id;
        s.next_id += 1;
        s.entries.push((id, settings));
        id
    }

    /// An appender leaves: the settings of the newest remaining one apply again.
    fn remove_settings(&self, id: u64) {
        let mut s = self.settings.lock();
        if let Some(i) = s.entries.iter().position(|(e, _)| *e == id) {
            let (_, removed) = s.entries.remove(i);
            if s.entries.is_empty() {
                s.last = removed;
            }
        }
    }

    /// The highest sequence number acknowledged.
    pub(crate) fn acked(&self) -> u64 {
        *self.acked.lock()
    }

    /// Records up to `seq` were acknowledged in the spool: wakes the flushes waiting for them.
    pub(crate) fn set_acked(&self, seq: u64) {
        let mut acked = self.acked.lock();
        *acked = (*acked).max(seq);
        self.progress.notify_all();
    }

    /// [`Self::set_acked`] after a delivery that leaves nothing in trouble: `last_error` is
    /// cleared first, so a flush woken by the ack reads the stats of a spool delivered to
    /// that point, not a stale error.
    pub(crate) fn set_acked_clearing_error(&self, seq: u64) {
        *self.last_error.lock() = None;
        self.set_acked(seq);
    }

    /// Waits until `seq` is acknowledged or `deadline` passes; whether it was.
    fn wait_acked(&self, seq: u64, deadline: Instant) -> bool {
        let mut acked = self.acked.lock();
        while *acked < seq {
            if self.progress.wait_until(&mut acked, deadline).timed_out() {
                return *acked >= seq;
            }
        }
        true
    }

    /// Whether the thread was asked to stop.
    pub(crate) fn stopping(&self) -> bool {
        *self.stop.lock()
    }

    /// Sleeps `d` unless asked to stop; whether to go on.
    pub(crate) fn pause(&self, d: Duration) -> bool {
        let Some(deadline) = Instant::now().checked_add(d) else {
            return !self.stopping();
        };
        let mut stop = self.stop.lock();
        while !*stop {
            if self
                .stop_changed
                .wait_until(&mut stop, deadline)
                .timed_out()
            {
                return !*stop;
            }
        }
        false
    }

    fn stop(&self) {
        *self.stop.lock() = true;
        self.stop_changed.notify_all();
        D::wake(self);
    }

    /// Sets [`Shared::last_error`].
    pub(crate) fn set_error(&self, message: String) {
        *self.last_error.lock() = Some(message);
    }
}

/// A spool, its group commit and its thread, as registered for its directory.
struct Open<D: Delivery> {
    shared: Arc<Shared<D>>,
    group: GroupCommit,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl<D: Delivery> Open<D> {
    fn new(options: SpoolOptions, dir: &Path, settings: Arc<D::Settings>) -> anyhow::Result<Self> {
        let spool = Arc::new(Spool::open(options).map_err(|e| anyhow::anyhow!("spool_dir: {e}"))?);
        let target = D::open(&spool)?;
        let group =
            GroupCommit::new(Arc::clone(&spool)).map_err(|e| anyhow::anyhow!("spool_dir: {e}"))?;
        let acked = group.last_seq() - spool.pending().0;
        let shared = Arc::new(Shared {
            spool,
            dir: dir.to_owned(),
            target,
            last_error: Mutex::new(None),
            settings: Mutex::new(SettingsStack {
                entries: Vec::new(),
                next_id: 1,
                last: settings,
            }),
            acked: Mutex::new(acked),
            progress: Condvar::new(),
            stop: Mutex::new(false),
            stop_changed: Condvar::new(),
        });
        // Straight to the error handler of the logger building this target when there is
        // one (a later logging call may never come), else with the next call.
        let reporter = crate::error::building_reporter();
        for note in shared.spool.recovered() {
            let message = format!("spool recovered: {note}");
            match &reporter {
                Some(r) => r.report_and_print(crate::error::AuditError::Background(message)),
                None => D::report(&shared, message),
            }
        }
        let for_thread = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(D::THREAD_NAME.into())
            .spawn(move || D::run(for_thread))
            .map_err(|e| anyhow::anyhow!("cannot start the thread {}: {e}", D::THREAD_NAME))?;
        Ok(Open {
            shared,
            group,
            thread: Mutex::new(Some(thread)),
        })
    }

    fn flush(&self, timeout: Duration) -> Result<(), u64> {
        let target = self.group.last_seq();
        D::flushing(&self.shared, target);
        let deadline = Instant::now()
            .checked_add(timeout)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365));
        if self.shared.wait_acked(target, deadline) {
            Ok(())
        } else {
            Err(target.saturating_sub(self.shared.acked()))
        }
    }
}

impl<D: Delivery> Drop for Open<D> {
    fn drop(&mut self) {
        let settings = self.shared.settings();
        let timeout = D::close_timeout(&self.shared, D::flush_timeout(&settings));
        if let Err(left) = self.flush(timeout) {
            eprintln!(
                "log4rs-audit: {} after {}; they stay in the spool {}",
                D::undelivered(&settings, left),
                humantime::format_duration(timeout),
                self.shared.dir.display()
            );
        }
        self.shared.stop();
        if let Some(thread) = self.thread.lock().take() {
            let _ = thread.join();
        }
    }
}

/// One appender's place in the channel of its spool directory; the channel closes when the
/// last one is dropped.
pub(crate) struct Channel<D: Delivery> {
    open: Arc<Registered<Open<D>>>,
    /// This appender's settings, and their id in the channel's stack.
    settings: Arc<D::Settings>,
    settings_id: u64,
}

impl<D: Delivery> Channel<D> {
    /// The channel of `options.dir`, opened (and its thread started) unless already open, with
    /// `settings` in force until a newer appender joins.
    pub(crate) fn join(options: SpoolOptions, settings: D::Settings) -> anyhow::Result<Self> {
        let settings = Arc::new(settings);
        let dir = options.dir.clone();
        let open = registry::open_or_join(D::KIND, &dir, options.file_mode, |key| {
            Open::<D>::new(options, key, Arc::clone(&settings))
        })?;
        let settings_id = open.shared.push_settings(Arc::clone(&settings));
        Ok(Channel {
            open,
            settings,
            settings_id,
        })
    }

    /// What the appenders and the thread share.
    pub(crate) fn shared(&self) -> &Arc<Shared<D>> {
        &self.open.shared
    }

    /// The spool directory, canonical.
    pub(crate) fn dir(&self) -> &Path {
        self.open.dir()
    }

    /// Records in the spool not yet acknowledged.
    pub(crate) fn pending(&self) -> u64 {
        self.open.shared.spool.pending().0
    }

    /// Appends one record to the spool (sharing the append with concurrent callers); its
    /// sequence number, or why the spool refused it.
    pub(crate) fn submit(&self, record: &[u8]) -> Result<u64, String> {
        self.open.group.submit(record)
    }

    /// Waits until every record spooled before the call is acknowledged, at most `timeout`;
    /// on timeout returns how many are still waiting.
    pub(crate) fn flush(&self, timeout: Duration) -> Result<(), u64> {
        self.open.flush(timeout)
    }

    /// [`Channel::flush`] bounded by this appender's `flush_timeout`; on timeout says on stderr
    /// what is left, where it should go, and the last delivery problem.
    pub(crate) fn flush_or_warn(&self) {
        if let Err(left) = self.flush(D::flush_timeout(&self.settings)) {
            let last = self.shared().last_error.lock().clone();
            eprintln!(
                "log4rs-audit: {}; they stay in the spool {} ({})",
                D::undelivered(&self.settings, left),
                self.dir().display(),
                last.unwrap_or_default()
            );
        }
    }
}

impl<D: Delivery> Drop for Channel<D> {
    fn drop(&mut self) {
        // The channel itself is flushed and closed when its last appender goes.
        self.open.shared.remove_settings(self.settings_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A target that delivers into a list, noting the settings each record went with.
    struct Recording {
        delivered: Mutex<Vec<(u64, &'static str)>>,
    }

    impl Delivery for Recording {
        const KIND: &'static str = "recording";
        const THREAD_NAME: &'static str = "log4rs-audit-test";
        type Settings = &'static str;

        fn open(_: &Spool) -> anyhow::Result<Self> {
            Ok(Recording {
                delivered: Mutex::new(Vec::new()),
            })
        }

        fn run(shared: Arc<Shared<Self>>) {
            while !shared.stopping() {
                let batch = shared
                    .spool
                    .read_batch(100, usize::MAX, Duration::from_millis(5))
                    .unwrap();
                let Some(last) = batch.last().map(|r| r.seq) else {
                    continue;
                };
                let name = *shared.settings();
                let mut delivered = shared.target.delivered.lock();
                delivered.extend(batch.iter().map(|r| (r.seq, name)));
                shared.spool.ack(last).unwrap();
                shared.set_acked(last);
            }
        }

        fn flush_timeout(_: &&'static str) -> Duration {
            Duration::from_secs(10)
        }

        fn undelivered(name: &&'static str, left: u64) -> String {
            format!("recording: {left} not delivered to {name}")
        }
    }

    fn delivered(channel: &Channel<Recording>) -> Vec<(u64, &'static str)> {
        channel.shared().target.delivered.lock().clone()
    }

    #[test]
    fn appenders_of_a_dir_share_one_channel_and_the_newest_settings_apply() {
        let tmp = tempfile::tempdir().unwrap();
        let options = SpoolOptions::new(tmp.path());
        let wait = Duration::from_secs(10);
        let old = Channel::<Recording>::join(options.clone(), "old").unwrap();
        assert_eq!(old.submit(b"1").unwrap(), 1);
        old.flush(wait).unwrap();

        // A reload: the new appender joins the channel and its settings apply.
        let new = Channel::<Recording>::join(options.clone(), "new").unwrap();
        assert!(Arc::ptr_eq(old.shared(), new.shared()));
        assert_eq!(new.submit(b"2").unwrap(), 2);
        new.flush(wait).unwrap();

        // The new config is given up (a reload that failed): the old settings apply again.
        drop(new);
        old.submit(b"3").unwrap();
        old.flush(wait).unwrap();
        assert_eq!(delivered(&old), [(1, "old"), (2, "new"), (3, "old")]);
        assert_eq!(old.pending(), 0);

        // Another kind cannot use the directory.
        let e = registry::open_or_join("other", tmp.path(), crate::FileMode::default(), |_| Ok(()))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("`recording`") && e.contains("`other`"), "{e}");

        // The last appender closes the channel (its thread and spool gone) and frees the
        // directory: the next appender opens it anew, where the spool left off.
        let closed = Arc::downgrade(old.shared());
        drop(old);
        assert!(closed.upgrade().is_none());
        let again = Channel::<Recording>::join(options, "again").unwrap();
        assert_eq!(again.submit(b"4").unwrap(), 4);
        again.flush(wait).unwrap();
        assert_eq!(delivered(&again), [(4, "again")]);
    }
}
