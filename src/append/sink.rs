//! The write path shared by concurrent callers: lines queue in memory in call order and one
//! caller at a time (the "writer") hands everything queued to the file in one `write`.
//!
//! `immediate` callers wait until their own line was written, so concurrent callers share one
//! `write(2)` (group commit) and a kill -9 loses nothing already returned. `buffered` callers
//! return at once; the queue is written when it reaches the buffer size, on `flush`, or by the
//! appender's interval flusher.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use parking_lot::{Condvar, Mutex};

use super::roll::RollingFile;

/// Checks of the written counter before a waiting `immediate` caller parks (~10 µs of spinning).
const SPIN_CHECKS: u32 = 256;

/// When a line is handed to the operating system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Before the logging call returns (default).
    #[default]
    Immediate,
    /// When the buffer fills, on flush, on the flush interval and on shutdown.
    Buffered,
}

/// Whether batches are also fsynced (`fsync: none | batch`).
pub use crate::delivery::Fsync;

#[derive(Debug, Default)]
struct Queue {
    /// Lines not yet handed to the writer.
    pending: Vec<u8>,
    /// An empty buffer to swap in, so steady state allocates nothing.
    spare: Vec<u8>,
    /// Lines accepted so far / lines written (or failed) so far, in call order.
    accepted: u64,
    done: u64,
    writing: bool,
    /// Failed batches, lines `(from, to]` and why, kept while a caller that will check one of
    /// their lines is still waiting.
    failures: VecDeque<(u64, u64, String)>,
    /// Lines whose callers will check their outcome; a few entries (one per waiting caller),
    /// kept in a reused Vec so the hot path does not allocate.
    checking: Vec<u64>,
    /// A failure nobody waited for (buffered mode, flusher thread): handed to the next caller
    /// so it reaches the logger's error handler instead of only stderr.
    unreported: Option<String>,
    /// Background writers running (buffered mode; one per appender sharing this sink): while
    /// any runs, a full buffer is handed to them.
    workers: u32,
    /// The settings of the appender that opened (or last adopted) this file; read under the
    /// lock so a reload can change them while callers log (see [`LineSink::reconfigure`]).
    durability: Durability,
    fsync: Fsync,
    buffer_size: usize,
}

impl Queue {
    fn worker(&self) -> bool {
        self.workers > 0
    }
}

/// A file fed by many threads; see the module docs.
#[derive(Debug)]
pub struct LineSink {
    queue: Mutex<Queue>,
    written: Condvar,
    /// `Queue::done`, readable without the lock, so a waiting caller can spin before parking.
    done: AtomicU64,
    file: Mutex<RollingFile>,
    /// Wakes the background writer (buffered mode) when the buffer is full.
    work: Condvar,
    /// An advisory lock held as long as the sink is open (another process writing the same
    /// file is refused); dropped last, after the file.
    _lock: Option<std::fs::File>,
}

impl LineSink {
    /// A sink writing to `file`.
    pub fn new(
        file: RollingFile,
        durability: Durability,
        fsync: Fsync,
        buffer_size: usize,
    ) -> Self {
        LineSink {
            queue: Mutex::new(Queue {
                pending: Vec::with_capacity(buffer_size),
                spare: Vec::with_capacity(buffer_size),
                durability,
                fsync,
                buffer_size: buffer_size.max(1),
                ..Queue::default()
            }),
            written: Condvar::new(),
            done: AtomicU64::new(0),
            file: Mutex::new(file),
            work: Condvar::new(),
            _lock: None,
        }
    }

    /// Keeps `lock` (an advisory lock on the file) until the sink is dropped.
    pub fn with_lock(mut self, lock: std::fs::File) -> Self {
        self._lock = Some(lock);
        self
    }

    /// Takes the settings of another appender writing the same file (a reload): lines queued
    /// so far stay queued, in order, and are written under the new settings.
    pub fn reconfigure(&self, durability: Durability, fsync: Fsync, buffer_size: usize) {
        let mut q = self.queue.lock();
        q.durability = durability;
        q.fsync = fsync;
        q.buffer_size = buffer_size.max(1);
        drop(q);
        // Waiters re-check against the new settings.
        self.written.notify_all();
        self.work.notify_all();
    }

    /// Runs `f` on the file, under its lock (a reload changing its policy).
    pub fn with_file<R>(&self, f: impl FnOnce(&mut RollingFile) -> R) -> R {
        f(&mut self.file.lock())
    }

    /// Accepts whole lines; see the module docs for when they reach the file.
    pub fn submit(&self, lines: &[u8]) -> io::Result<()> {
        let mut q = self.queue.lock();
        q.pending.extend_from_slice(lines);
        q.accepted += 1;
        let mine = q.accepted;
        let checks = q.durability == Durability::Immediate || q.pending.len() >= q.buffer_size;
        if checks {
            q.watch(mine);
        }
        let result = self.submit_locked(&mut q, mine);
        if checks {
            q.unwatch(mine);
        }
        match q.unreported.take() {
            Some(why) if result.is_ok() => Err(io::Error::other(format!(
                "earlier buffered lines were not written: {why}"
            ))),
            _ => result,
        }
    }

    fn submit_locked(
        &self,
        q: &mut parking_lot::MutexGuard<'_, Queue>,
        mine: u64,
    ) -> io::Result<()> {
        let buffer_size = q.buffer_size;
        match q.durability {
            Durability::Immediate => {
                if !q.writing {
                    self.drain(q);
                } else {
                    // The writer will take our line in its next batch, a write(2) away:
                    // spinning briefly is much cheaper than parking and being woken.
                    parking_lot::MutexGuard::unlocked(q, || self.spin_until_done(mine));
                }
                while q.done < mine {
                    self.written.wait(q);
                }
                failure_of(q, mine)
            }
            Durability::Buffered => {
                if q.pending.len() >= buffer_size && q.worker() {
                    // The background writer writes (and hashes, with integrity) while the
                    // caller goes on; callers wait only when it falls far behind.
                    self.work.notify_one();
                    while q.worker() && q.pending.len() >= 4 * buffer_size {
                        self.written.wait(q);
                    }
                    return Ok(());
                }
                if q.pending.len() >= buffer_size {
                    if !q.writing {
                        self.drain(q);
                        // Our own batch's failure is returned here, not again as "earlier".
                        return match failure_of(q, mine) {
                            Err(e) => {
                                q.unreported = None;
                                Err(e)
                            }
                            ok => ok,
                        };
                    }
                    // Back-pressure: never let memory grow without bound behind a slow disk.
                    while q.writing && q.pending.len() >= 4 * buffer_size {
                        self.written.wait(q);
                    }
                }
                Ok(())
            }
        }
    }

    /// Writes everything accepted before this call; returns the error of a failed batch.
    pub fn flush(&self) -> io::Result<()> {
        let mut q = self.queue.lock();
        let target = q.accepted;
        let already_done = q.done;
        q.watch(already_done + 1);
        if !q.writing {
            self.drain(&mut q);
        }
        while q.done < target {
            self.written.wait(&mut q);
        }
        let failed = q.failures.iter().find(|(_, to, _)| *to > already_done);
        let failed = failed.map(|(_, _, why)| why.clone());
        q.unwatch(already_done + 1);
        match failed {
            // `unreported` stays: the next append reports it to the error handler as well.
            Some(why) => Err(io::Error::other(why)),
            None => Ok(()),
        }
    }

    /// The background writer's wait (buffered mode): returns when the buffer is full or after
    /// `interval`, having written everything queued; `false` once [`Self::stop_worker`] was
    /// called. While a worker runs, full buffers are handed to it instead of being written by
    /// the caller.
    pub fn work(&self, interval: std::time::Duration) -> bool {
        let mut q = self.queue.lock();
        if q.worker() && q.pending.len() < q.buffer_size {
            let _ = self.work.wait_for(&mut q, interval);
        }
        if !q.worker() {
            return false;
        }
        if !q.pending.is_empty() && !q.writing {
            self.drain(&mut q);
        }
        q.worker()
    }

    /// Starts handing full buffers to a background writer calling [`Self::work`] (one more,
    /// when appenders share the sink).
    pub fn start_worker(&self) {
        self.queue.lock().workers += 1;
    }

    /// Stops one background writer: with none left, callers write full buffers themselves.
    pub fn stop_worker(&self) {
        {
            let mut q = self.queue.lock();
            q.workers = q.workers.saturating_sub(1);
        }
        self.work.notify_all();
        self.written.notify_all();
    }

    /// Writes a time-based checkpoint if one is due (integrity).
    pub fn tick(&self) -> io::Result<()> {
        self.file.lock().tick(SystemTime::now())
    }

    /// Writes a checkpoint covering every line written so far (integrity), as `flush` does.
    pub fn checkpoint_now(&self) -> io::Result<()> {
        self.file.lock().checkpoint_now(SystemTime::now())
    }

    /// Path of the current file.
    pub fn path(&self) -> std::path::PathBuf {
        self.file.lock().path().to_path_buf()
    }

    /// Spins for a few microseconds at most, until line `mine` is written.
    fn spin_until_done(&self, mine: u64) {
        for _ in 0..SPIN_CHECKS {
            if self.done.load(Ordering::Acquire) >= mine {
                return;
            }
            for _ in 0..16 {
                std::hint::spin_loop();
            }
        }
    }

    /// Becomes the writer and writes batches until nothing is pending. Called with the queue
    /// locked; unlocks it while writing so other callers keep queueing.
    fn drain(&self, q: &mut parking_lot::MutexGuard<'_, Queue>) {
        q.writing = true;
        while !q.pending.is_empty() {
            let spare = std::mem::take(&mut q.spare);
            let mut batch = std::mem::replace(&mut q.pending, spare);
            let from = q.done;
            let upto = q.accepted;
            let fsync = q.fsync;
            let result = parking_lot::MutexGuard::unlocked(q, || {
                let mut file = self.file.lock();
                let r = file.write_lines(&batch, SystemTime::now());
                match (r, fsync) {
                    (Ok(()), Fsync::Batch) => file.sync_data(),
                    (r, _) => r,
                }
            });
            batch.clear();
            q.spare = batch;
            q.done = upto;
            self.done.store(upto, Ordering::Release);
            if let Err(e) = result {
                let why = e.to_string();
                if q.durability == Durability::Buffered {
                    q.unreported = Some(why.clone());
                }
                q.failures.push_back((from, upto, why));
            }
            q.forget_unneeded_failures();
            self.written.notify_all();
        }
        q.writing = false;
        self.written.notify_all();
    }
}

impl Queue {
    fn watch(&mut self, line: u64) {
        self.checking.push(line);
    }

    fn unwatch(&mut self, line: u64) {
        if let Some(i) = self.checking.iter().position(|&l| l == line) {
            self.checking.swap_remove(i);
        }
        if !self.failures.is_empty() {
            self.forget_unneeded_failures();
        }
    }

    /// Drops failed ranges that end before every line still to be checked.
    fn forget_unneeded_failures(&mut self) {
        let first_checked = self.checking.iter().min().copied();
        while let Some((_, to, _)) = self.failures.front() {
            if first_checked.is_some_and(|line| line <= *to) {
                break;
            }
            self.failures.pop_front();
        }
    }
}

fn failure_of(q: &Queue, line: u64) -> io::Result<()> {
    match q
        .failures
        .iter()
        .rev()
        .find(|(from, to, _)| line > *from && line <= *to)
    {
        Some((_, _, why)) => Err(io::Error::other(why.clone())),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::append::roll::RollPolicy;

    fn full_disk(durability: Durability) -> LineSink {
        let file =
            RollingFile::open(std::path::Path::new("/dev/full"), RollPolicy::never()).unwrap();
        LineSink::new(file, durability, Fsync::None, 64)
    }

    #[test]
    fn every_immediate_caller_of_a_failed_batch_gets_the_error() {
        let sink = full_disk(Durability::Immediate);
        let ok = std::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..2_000 {
                        if sink.submit(b"line\n").is_ok() {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(
            ok.load(Ordering::Relaxed),
            0,
            "a line that was not written was reported as written"
        );
    }

    #[test]
    fn buffered_failures_reach_the_next_caller() {
        let sink = full_disk(Durability::Buffered);
        assert!(sink.submit(b"a\n").is_ok(), "buffered: not written yet");
        assert!(sink.flush().is_err());
        let e = sink.submit(b"b\n").unwrap_err().to_string();
        assert!(
            e.starts_with("earlier buffered lines were not written: "),
            "{e}"
        );
        // Reported once.
        assert!(sink.submit(b"c\n").is_ok());
    }
}
