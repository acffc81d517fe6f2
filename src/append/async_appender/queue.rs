//! The bounded queue between logging callers and one background writer.
//!
//! Callers add events under a short lock (no I/O, no encoding under it). The writer swaps the
//! whole pending batch for an empty buffer and hands it to the wrapped appender outside the lock,
//! so a batch is written while callers fill the next one. The writer is woken only when it
//! sleeps idle (the first event after a quiet period), when the queue passes half its capacity,
//! on flush and on shutdown; otherwise it gathers events for up to [`LINGER`] so a steady
//! stream costs callers no system call. One batch is written at a time, in order; a caller that
//! finds the queue full while no batch is being written (the writer thread is not getting CPU)
//! writes the batch itself rather than sleep.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};

/// How long the writer lets a partial batch gather before writing it.
pub(crate) const LINGER: Duration = Duration::from_millis(1);
/// Writer errors kept for the next caller; more are counted.
const MAX_ERRORS: usize = 16;

/// What a full queue does to the caller: block, or drop and count (`error` is not taken by
/// `async`: its config refuses it).
pub use crate::delivery::WhenFull;

/// A batch of queued events: lines (`Vec<u8>`) or captured records.
pub(crate) trait Batch: Default + Send + 'static {
    fn clear(&mut self);
}

impl<T: Send + 'static> Batch for Vec<T> {
    fn clear(&mut self) {
        Vec::clear(self)
    }
}

struct State<B> {
    pending: B,
    /// The empty buffer swapped in for `pending` (two buffers rotate: no steady-state allocation).
    spare: B,
    /// A batch is being written (by the writer thread or a caller).
    writing: bool,
    /// Events in `pending`.
    count: usize,
    accepted: u64,
    written: u64,
    dropped: u64,
    dropped_reported: u64,
    /// The writer sleeps without a timeout: the next event must wake it.
    idle: bool,
    /// The writer was woken for a half-full queue and has not taken the batch yet.
    kicked: bool,
    /// Callers waiting for room.
    blocked: usize,
    /// Flushes waiting: the writer takes what is there at once.
    flushes: usize,
    stop: bool,
    finished: bool,
    errors: Vec<String>,
    errors_dropped: u64,
}

pub(crate) struct Shared<B> {
    state: Mutex<State<B>>,
    work: Condvar,
    space: Condvar,
    progress: Condvar,
    capacity: usize,
    kick_at: usize,
    when_full: WhenFull,
    writer: Box<dyn Writer<B>>,
}

/// Counters of an `async` appender since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AsyncStats {
    /// Events accepted into the queue.
    pub accepted: u64,
    /// Events handed to the wrapped appender (successfully or not).
    pub written: u64,
    /// Events dropped because the queue was full (`when_full: drop` only).
    pub dropped: u64,
    /// Events waiting in the queue or being written.
    pub queued: u64,
}

/// An event was not queued (`when_full: drop` and the queue was full).
pub(crate) struct Dropped;

/// The queue and its writer thread.
pub(crate) struct Queue<B: Batch> {
    shared: Arc<Shared<B>>,
    thread: Option<JoinHandle<()>>,
}

/// The writer's side: writes a batch of `n` events; reports `n` dropped events.
pub(crate) trait Writer<B>: Send + Sync + 'static {
    fn write(&self, batch: &mut B, n: usize) -> Result<(), String>;
    fn dropped(&self, n: u64) -> Result<(), String>;
}

impl<B: Batch> Queue<B> {
    pub(crate) fn start(
        capacity: usize,
        when_full: WhenFull,
        writer: impl Writer<B>,
    ) -> std::io::Result<Queue<B>> {
        let capacity = capacity.max(1);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                pending: B::default(),
                spare: B::default(),
                writing: false,
                count: 0,
                accepted: 0,
                written: 0,
                dropped: 0,
                dropped_reported: 0,
                idle: false,
                kicked: false,
                blocked: 0,
                flushes: 0,
                stop: false,
                finished: false,
                errors: Vec::new(),
                errors_dropped: 0,
            }),
            work: Condvar::new(),
            space: Condvar::new(),
            progress: Condvar::new(),
            capacity,
            kick_at: (capacity / 2).clamp(1, 8192),
            when_full,
            writer: Box::new(writer),
        });
        let for_thread = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("log4rs-audit-async".into())
            .spawn(move || run(&for_thread))?;
        Ok(Queue {
            shared,
            thread: Some(thread),
        })
    }

    /// Adds one event with `fill`, waiting for room or dropping it as configured. Returns the
    /// errors the writer met since the last call, if any.
    pub(crate) fn push(&self, fill: impl FnOnce(&mut B)) -> Result<Option<String>, Dropped> {
        let s = &*self.shared;
        let mut st = s.state.lock();
        while st.count >= s.capacity {
            if s.when_full == WhenFull::Drop {
                st.dropped += 1;
                return Err(Dropped);
            }
            if !st.writing {
                // The writer thread is behind and not writing: write the batch here.
                write_batch(s, &mut st);
                continue;
            }
            if !st.kicked || st.idle {
                st.kicked = true;
                st.idle = false;
                s.work.notify_one();
            }
            st.blocked += 1;
            s.space.wait(&mut st);
            st.blocked -= 1;
        }
        fill(&mut st.pending);
        st.count += 1;
        st.accepted += 1;
        if st.idle {
            st.idle = false;
            s.work.notify_one();
        } else if st.count >= s.kick_at && !st.kicked {
            st.kicked = true;
            s.work.notify_one();
        }
        Ok(take_errors(&mut st))
    }

    /// Waits until every event accepted before the call was handed to the wrapped appender, at
    /// most `timeout`; returns how many were not.
    pub(crate) fn drain(&self, timeout: Duration) -> u64 {
        let s = &*self.shared;
        let deadline = Instant::now() + timeout;
        let mut st = s.state.lock();
        let target = st.accepted;
        if st.written >= target {
            return 0;
        }
        st.flushes += 1;
        st.idle = false;
        s.work.notify_one();
        while st.written < target && !st.finished {
            if s.progress.wait_until(&mut st, deadline).timed_out() {
                break;
            }
        }
        st.flushes -= 1;
        target.saturating_sub(st.written)
    }

    /// The problems no caller took yet.
    pub(crate) fn take_errors(&self) -> Option<String> {
        take_errors(&mut self.shared.state.lock())
    }

    /// Records a problem for the next caller.
    pub(crate) fn report(&self, message: String) {
        push_error(&mut self.shared.state.lock(), message);
    }

    pub(crate) fn stats(&self) -> AsyncStats {
        let st = self.shared.state.lock();
        AsyncStats {
            accepted: st.accepted,
            written: st.written,
            dropped: st.dropped,
            queued: st.accepted - st.written,
        }
    }

    /// Stops the writer once everything queued is written, waiting at most `timeout`; returns
    /// how many events were not written by then (the writer then goes on in the background).
    pub(crate) fn shutdown(&mut self, timeout: Duration) -> u64 {
        let s = &*self.shared;
        let deadline = Instant::now() + timeout;
        let left = {
            let mut st = s.state.lock();
            st.stop = true;
            st.idle = false;
            s.work.notify_one();
            while !st.finished {
                if s.progress.wait_until(&mut st, deadline).timed_out() {
                    break;
                }
            }
            if st.finished {
                0
            } else {
                (st.accepted - st.written).max(1)
            }
        };
        if left == 0 {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
        left
    }
}

fn take_errors<B>(st: &mut State<B>) -> Option<String> {
    if st.errors.is_empty() {
        return None;
    }
    let mut text = st.errors.join("; ");
    if st.errors_dropped > 0 {
        text.push_str(&format!("; and {} more", st.errors_dropped));
    }
    st.errors.clear();
    st.errors_dropped = 0;
    Some(text)
}

fn push_error<B>(st: &mut State<B>, message: String) {
    if st.errors.len() < MAX_ERRORS {
        st.errors.push(message);
    } else {
        st.errors_dropped += 1;
    }
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned())
}

/// Writes everything pending as one batch, unlocking `st` meanwhile. Only one batch is written
/// at a time (`writing`), so batches reach the wrapped appender in order.
fn write_batch<B: Batch>(s: &Shared<B>, st: &mut MutexGuard<'_, State<B>>) {
    debug_assert!(!st.writing);
    st.writing = true;
    let mut batch = std::mem::take(&mut st.spare);
    std::mem::swap(&mut st.pending, &mut batch);
    let n = st.count;
    st.count = 0;
    st.kicked = false;
    let dropped = st.dropped - st.dropped_reported;
    st.dropped_reported = st.dropped;
    let result = MutexGuard::unlocked(st, || {
        let mut result = catch_unwind(AssertUnwindSafe(|| s.writer.write(&mut batch, n)))
            .unwrap_or_else(|p| {
                Err(format!(
                    "the wrapped appender panicked: {}",
                    panic_text(&*p)
                ))
            });
        if dropped > 0 {
            let warned = catch_unwind(AssertUnwindSafe(|| s.writer.dropped(dropped)))
                .unwrap_or_else(|p| Err(panic_text(&*p)));
            if let Err(e) = warned {
                result = Err(format!("{dropped} events dropped (queue full); {e}"));
            }
        }
        batch.clear();
        result
    });
    st.spare = batch;
    st.written += n as u64;
    st.writing = false;
    if let Err(e) = result {
        push_error(st, e);
    }
    if st.blocked > 0 {
        s.space.notify_all();
    }
    s.progress.notify_all();
}

fn run<B: Batch>(s: &Shared<B>) {
    let mut st = s.state.lock();
    let mut lingered = false;
    loop {
        if st.writing {
            // A caller is writing a batch.
            s.progress.wait(&mut st);
            continue;
        }
        if st.count == 0 {
            if st.stop {
                break;
            }
            st.idle = true;
            lingered = false;
            s.work.wait(&mut st);
            continue;
        }
        if !(st.stop || st.flushes > 0 || st.count >= s.kick_at || lingered) {
            lingered = true;
            s.work.wait_for(&mut st, LINGER);
            continue;
        }
        lingered = false;
        write_batch(s, &mut st);
    }
    st.finished = true;
    s.progress.notify_all();
}
