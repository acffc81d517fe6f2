//! The handle of a running logger: swap configs, reload the file it came from, flush.

use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;

use super::Shared;
use crate::config::{AuditConfig, ConfigError};
use crate::error::{AuditError, ErrorHandler};

/// Controls a running [`AuditLogger`](super::AuditLogger).
///
/// Dropping the handle is the orderly shutdown: it stops the reload and heartbeat threads,
/// writes `audit-logger-stop` to every audit target, flushes every appender, so buffered lines
/// reach their files, and waits for the background compression of rolled files (so an exiting
/// process never leaves `.1` beside a half-written `.1.gz.tmp`); the logger itself keeps
/// working with its current config.
pub struct Handle {
    shared: Arc<Shared>,
    watcher: Mutex<Option<Watcher>>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

/// Where one appender writes, for people and tools to see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppenderDestination {
    /// The appender's name.
    pub appender: String,
    /// Its kind (`audit_file`, `console`, …).
    pub kind: String,
    /// Its file, for kinds that write one.
    pub path: Option<PathBuf>,
}

impl Handle {
    pub(crate) fn start(shared: Arc<Shared>) -> Handle {
        let handle = Handle {
            shared,
            watcher: Mutex::new(None),
        };
        handle.ensure_watcher();
        handle
    }

    /// Replaces the running config and writes `audit-config-change` to the trail. On error
    /// (or when `lock: true` refuses it) the running config stays, the error is returned and
    /// `audit-config-change-refused` is written to the trail.
    pub fn set_config(&self, config: AuditConfig) -> Result<(), ConfigError> {
        self.shared.apply(config)?;
        self.ensure_watcher();
        Ok(())
    }

    /// Re-reads the file the running config came from. A file that cannot be read or used,
    /// or (under `lock: true`) lowers audit coverage, is refused: the error is returned and
    /// `audit-config-change-refused` written to the trail; the running config stays.
    pub fn reload(&self) -> Result<(), ConfigError> {
        let source = self.shared.runtime().config.source.clone();
        match source {
            Some(path) => {
                self.shared.reload_file(&path)?;
                self.ensure_watcher();
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// The running config.
    pub fn config(&self) -> AuditConfig {
        self.shared.runtime().config.clone()
    }

    /// Writes everything the appenders hold.
    pub fn flush(&self) {
        self.shared.runtime().flush();
    }

    /// Sends errors met while logging (appender failures, rejected reloads) to `handler`.
    pub fn set_error_handler(&self, handler: impl Fn(&AuditError) + Send + Sync + 'static) {
        let handler: ErrorHandler = Arc::new(handler);
        self.shared.reporter.set_handler(handler);
    }

    /// How many errors have been reported so far.
    pub fn error_count(&self) -> u64 {
        self.shared.reporter.count()
    }

    /// Where each appender writes.
    pub fn destinations(&self) -> Vec<AppenderDestination> {
        self.shared
            .runtime()
            .config
            .appenders
            .iter()
            .map(|spec| AppenderDestination {
                appender: spec.name.clone(),
                kind: spec.config.kind.clone(),
                path: crate::config::kinds::appender_path(&spec.config.kind, &spec.config.config),
            })
            .collect()
    }

    /// Starts the reload thread when the config has a source file and a refresh rate.
    fn ensure_watcher(&self) {
        let runtime = self.shared.runtime();
        let (Some(path), Some(_)) = (&runtime.config.source, runtime.config.refresh_rate) else {
            // Nothing to watch any more: a watcher of a previous file must not re-apply it.
            if let Some(old) = self.watcher.lock().take() {
                old.stop();
            }
            return;
        };
        let mut watcher = self.watcher.lock();
        if watcher
            .as_ref()
            .is_some_and(|w| !w.thread.is_finished() && &w.path == path)
        {
            return;
        }
        if let Some(old) = watcher.take() {
            old.stop();
        }
        *watcher = Watcher::start(Arc::downgrade(&self.shared), path.clone());
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Some(w) = self.watcher.lock().take() {
            w.stop();
        }
        // Nothing of the logger's own follows the stop: the reload thread and the heartbeat
        // are stopped first.
        self.shared.stop();
        self.flush();
        crate::append::registry::wait_for_compression();
    }
}

/// Polls the config file every `refresh_rate` and applies it when its content changed and then
/// stayed the same for one more check (so a file caught mid-write is not applied).
struct Watcher {
    path: PathBuf,
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl Watcher {
    fn start(shared: Weak<Shared>, path: PathBuf) -> Option<Watcher> {
        let (stop, stopped) = mpsc::channel::<()>();
        let mut last = std::fs::read(&path).ok();
        let mut candidate: Option<Vec<u8>> = None;
        let watched = path.clone();
        let thread = std::thread::Builder::new()
            .name("log4rs-audit-reload".into())
            .spawn(move || loop {
                let rate = match shared.upgrade() {
                    Some(s) => s.runtime().config.refresh_rate,
                    None => return,
                };
                let Some(rate) = rate else { return };
                match stopped.recv_timeout(rate.max(Duration::from_millis(10))) {
                    Err(RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
                let Some(shared) = shared.upgrade() else {
                    return;
                };
                let content = std::fs::read(&path).ok();
                let blank = content
                    .as_deref()
                    .is_some_and(|c| c.iter().all(u8::is_ascii_whitespace));
                if content.is_none() || blank || content == last {
                    // A file being replaced can be missing or empty for a moment (editors and
                    // `>` truncate before writing); an empty config would drop every appender.
                    candidate = None;
                    continue;
                }
                if candidate != content {
                    // Changed since the last check: apply it only once it reads the same on
                    // the next check, so a half-written file is never taken for the new config.
                    candidate = content;
                    continue;
                }
                last = candidate.take();
                let Some(bytes) = last.clone() else { continue };
                if let Err(e) = shared.reload_bytes(&path, bytes) {
                    shared.report(AuditError::Reload(e));
                }
            });
        match thread {
            Ok(thread) => Some(Watcher {
                path: watched,
                stop,
                thread,
            }),
            Err(e) => {
                eprintln!("log4rs-audit: cannot start the reload thread: {e}");
                None
            }
        }
    }

    fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}
