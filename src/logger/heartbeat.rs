//! The heartbeat thread: `audit-heartbeat` to every audit target every `heartbeat`.
//!
//! It holds only a weak reference to the logger, reads the interval from the running config
//! at every beat (a reload that changes it wakes the thread, which keeps its last beat as the
//! start of the next interval), idles while a reload has turned the heartbeat off (one thread
//! for the life of the logger, so a quick off-and-on cannot lose it), and is
//! stopped and joined when the handle drops, before `audit-logger-stop` is written, so no beat
//! follows the stop. It never keeps a process alive: it is joined at the handle's drop, and a
//! process that exits without dropping the handle does not wait for it.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Weak;
use std::thread::JoinHandle;
use std::time::Instant;

use super::Shared;

/// What the thread is told.
enum Signal {
    /// The config changed: read the interval again.
    Wake,
    /// Exit now.
    Stop,
}

/// A running heartbeat thread.
pub(crate) struct Heartbeat {
    signal: mpsc::Sender<Signal>,
    thread: JoinHandle<()>,
}

impl Heartbeat {
    /// Starts the thread for `shared`; `None` (reported on stderr) when no thread can start.
    pub(crate) fn start(shared: Weak<Shared>) -> Option<Heartbeat> {
        let (signal, signals) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("log4rs-audit-heartbeat".into())
            .spawn(move || {
                let mut last = Instant::now();
                loop {
                    let interval = match shared.upgrade() {
                        Some(s) => s.runtime().config.audit.heartbeat,
                        None => return,
                    };
                    let Some(interval) = interval else {
                        // No heartbeat now: wait for a config that has one again, or the stop.
                        match signals.recv() {
                            Ok(Signal::Wake) => {
                                last = Instant::now();
                                continue;
                            }
                            Ok(Signal::Stop) | Err(_) => return,
                        }
                    };
                    let wait = (last + interval).saturating_duration_since(Instant::now());
                    match signals.recv_timeout(wait) {
                        Err(RecvTimeoutError::Timeout) => {
                            let Some(shared) = shared.upgrade() else {
                                return;
                            };
                            shared.beat();
                            last = Instant::now();
                        }
                        Ok(Signal::Wake) => {}
                        Ok(Signal::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
            });
        match thread {
            Ok(thread) => Some(Heartbeat { signal, thread }),
            Err(e) => {
                eprintln!("log4rs-audit: cannot start the heartbeat thread: {e}");
                None
            }
        }
    }

    /// Whether the thread still runs (only a stop or a panic ends it).
    pub(crate) fn is_running(&self) -> bool {
        !self.thread.is_finished()
    }

    /// Makes the thread read the interval again.
    pub(crate) fn wake(&self) {
        let _ = self.signal.send(Signal::Wake);
    }

    /// Stops the thread and waits for it (a beat being written is finished first).
    pub(crate) fn stop(self) {
        let _ = self.signal.send(Signal::Stop);
        let _ = self.thread.join();
    }
}
