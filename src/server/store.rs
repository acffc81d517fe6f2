//! The writer: one thread that takes accepted batches off a bounded queue and stores them with
//! group commit, so concurrent batches share each fsync.
//!
//! Per group: drop events at or below their node's high-water mark (duplicates), render the
//! stored lines of the rest into per-file buffers, then run the [`journal`](super::journal)'s
//! begin → append + fsync → commit sequence, and only then answer each batch. A batch is never
//! acknowledged before every one of its events is on disk in every destination that takes it.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime};

use parking_lot::{Condvar, Mutex};
use tokio::sync::oneshot;

use super::config::{ResolvedKeys, ServerConfig};
use super::destination::Destination;
use super::journal::{Journal, JournalError};
use super::metrics::Metrics;
use super::record::write_stored_line;
use super::wire::Item;
use crate::encode::Timezone;

/// A batch that passed auth and parsing, waiting to be stored.
pub struct Batch {
    /// Its events, in order.
    pub items: Vec<Item>,
    /// The client's address (`origAddress`).
    pub peer: IpAddr,
    /// Index of the event key it was sent with.
    pub key: usize,
    /// When it arrived (`serverTimestamp`, and the time folder).
    pub received: SystemTime,
    /// Its size as received, counted against the queue limit.
    pub bytes: usize,
}

/// What happened to a stored batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Events stored now.
    pub stored: usize,
    /// Events stored before (retries), skipped.
    pub duplicates: usize,
}

/// Why a batch was not taken or not stored; the client should retry later.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The queue holds `queue_max_bytes` already.
    #[error("write queue full")]
    QueueFull,
    /// Writing failed; nothing of the batch is stored.
    #[error("storage failure: {0}")]
    Failed(String),
    /// The server is shutting down.
    #[error("server shutting down")]
    Stopping,
}

struct Job {
    batch: Batch,
    reply: oneshot::Sender<Result<Outcome, StoreError>>,
}

struct Queue {
    jobs: VecDeque<Job>,
    bytes: usize,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    stopping: AtomicBool,
    /// A failure the journal could not undo: stores nothing more until restarted.
    broken: Mutex<Option<String>>,
    max_queue_bytes: usize,
    metrics: Arc<Metrics>,
}

/// The store: submit batches, get an [`Outcome`] once they are durable.
pub struct Store {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// What the writer thread owns.
struct Writer {
    journal: Journal,
    destinations: Vec<Destination>,
    timezone: Timezone,
    group_bytes: usize,
    shared: Arc<Shared>,
}

impl Store {
    /// Opens the journal (undoing an unfinished group commit; see [`Store::recovered`]) and
    /// starts the writer thread.
    pub fn open(
        config: &ServerConfig,
        keys: &ResolvedKeys,
        metrics: Arc<Metrics>,
    ) -> Result<(Store, Vec<String>), JournalError> {
        let journal = Journal::open(&config.state_dir())?;
        let recovered = journal.recovered().to_vec();
        let destinations: Vec<Destination> = config
            .destinations
            .iter()
            .zip(&keys.required)
            .map(|(d, k)| Destination::new(d, *k))
            .collect();
        let group_bytes = destinations
            .iter()
            .map(|d| d.flush_every_bytes as usize)
            .min()
            .unwrap_or(1 << 20);
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                bytes: 0,
            }),
            ready: Condvar::new(),
            stopping: AtomicBool::new(false),
            broken: Mutex::new(None),
            max_queue_bytes: config.queue_max_bytes.0 as usize,
            metrics,
        });
        let mut writer = Writer {
            journal,
            destinations,
            timezone: config.timezone,
            group_bytes,
            shared: Arc::clone(&shared),
        };
        let thread = std::thread::Builder::new()
            .name("event-server-writer".into())
            .spawn(move || writer.run())
            .map_err(|source| JournalError::Io {
                path: PathBuf::from("<writer thread>"),
                source,
            })?;
        Ok((
            Store {
                shared,
                thread: Some(thread),
            },
            recovered,
        ))
    }

    /// Queues a batch; the receiver gets its outcome once it is durable. Fails at once when
    /// the queue is full (answer 503) or the store is unusable.
    pub fn submit(
        &self,
        batch: Batch,
    ) -> Result<oneshot::Receiver<Result<Outcome, StoreError>>, StoreError> {
        if let Some(reason) = self.shared.broken.lock().clone() {
            return Err(StoreError::Failed(reason));
        }
        if self.shared.stopping.load(Relaxed) {
            return Err(StoreError::Stopping);
        }
        let (reply, rx) = oneshot::channel();
        let mut q = self.shared.queue.lock();
        if !admit(q.bytes, batch.bytes, self.shared.max_queue_bytes) {
            return Err(StoreError::QueueFull);
        }
        q.bytes += batch.bytes;
        self.shared
            .metrics
            .queue_bytes
            .store(q.bytes as u64, Relaxed);
        q.jobs.push_back(Job { batch, reply });
        drop(q);
        self.shared.ready.notify_one();
        Ok(rx)
    }

    /// Stores what is queued, then stops the writer.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.stopping.store(true, Relaxed);
        self.shared.ready.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether a batch of `incoming` bytes fits beside `queued` ones. An empty queue takes any
/// batch, so a lone large one (up to `max_body_bytes`) is never refused.
fn admit(queued: usize, incoming: usize, max: usize) -> bool {
    queued == 0 || queued + incoming <= max
}

/// Lines for one file of one destination.
struct FileBuf {
    destination: usize,
    path: PathBuf,
    lines: Vec<u8>,
    events: u64,
}

impl Writer {
    fn run(&mut self) {
        while let Some(jobs) = self.next_group() {
            let results = self.store_group(&jobs);
            for (job, result) in jobs.into_iter().zip(results) {
                // The client may have gone; its batch is stored either way.
                let _ = job.reply.send(result);
            }
        }
    }

    /// Waits for batches and takes them, up to `group_bytes` (at least one); `None` once
    /// stopping and drained.
    fn next_group(&self) -> Option<Vec<Job>> {
        let mut q = self.shared.queue.lock();
        while q.jobs.is_empty() {
            if self.shared.stopping.load(Relaxed) {
                return None;
            }
            self.shared.ready.wait(&mut q);
        }
        let mut jobs = Vec::new();
        let mut bytes = 0;
        while let Some(job) = q.jobs.front() {
            if !jobs.is_empty() && bytes + job.batch.bytes > self.group_bytes {
                break;
            }
            bytes += job.batch.bytes;
            jobs.extend(q.jobs.pop_front());
        }
        q.bytes -= bytes;
        self.shared
            .metrics
            .queue_bytes
            .store(q.bytes as u64, Relaxed);
        Some(jobs)
    }

    fn store_group(&mut self, jobs: &[Job]) -> Vec<Result<Outcome, StoreError>> {
        let metrics = Arc::clone(&self.shared.metrics);
        if let Some(reason) = self.shared.broken.lock().clone() {
            return jobs
                .iter()
                .map(|_| Err(StoreError::Failed(reason.clone())))
                .collect();
        }
        let mut marks: HashMap<&str, u64> = HashMap::new();
        let mut files: Vec<FileBuf> = Vec::new();
        let mut index: HashMap<(usize, PathBuf), usize> = HashMap::new();
        let mut outcomes = Vec::with_capacity(jobs.len());
        let mut unrouted = 0;
        for job in jobs {
            let b = &job.batch;
            let mut outcome = Outcome {
                stored: 0,
                duplicates: 0,
            };
            let partitions: Vec<_> = self
                .destinations
                .iter()
                .map(|d| {
                    d.layout()
                        .partitioning
                        .partition_of(b.received, self.timezone)
                })
                .collect();
            for item in &b.items {
                let node = item.node.as_str();
                let mark = marks
                    .get(node)
                    .copied()
                    .unwrap_or_else(|| self.journal.mark(node));
                if item.seq <= mark {
                    outcome.duplicates += 1;
                    continue;
                }
                marks.insert(node, item.seq);
                outcome.stored += 1;
                let rk = item.routing_key.as_ref();
                let mut routed = false;
                for (i, d) in self.destinations.iter().enumerate() {
                    if !d.accepts(item.topic, rk, b.key) {
                        continue;
                    }
                    routed = true;
                    let path = d.file_of(item.topic, rk, partitions[i]);
                    let slot = *index.entry((i, path.clone())).or_insert_with(|| {
                        files.push(FileBuf {
                            destination: i,
                            path,
                            lines: Vec::new(),
                            events: 0,
                        });
                        files.len() - 1
                    });
                    let f = &mut files[slot];
                    write_stored_line(&mut f.lines, &item.event, b.peer, b.received, self.timezone);
                    f.events += 1;
                }
                if !routed {
                    unrouted += 1;
                }
            }
            outcomes.push(outcome);
        }
        let marks: Vec<(&str, u64)> = marks.into_iter().collect();
        let started = Instant::now();
        match self.write(&files, &marks) {
            Ok(synced) => {
                if synced {
                    metrics.fsync_took(started.elapsed());
                    metrics.group_commits.fetch_add(1, Relaxed);
                }
                for f in &files {
                    metrics.stored_in(&self.destinations[f.destination].name, f.events);
                    metrics
                        .bytes_stored
                        .fetch_add(f.lines.len() as u64, Relaxed);
                }
                let stored: usize = outcomes.iter().map(|o| o.stored).sum();
                let dups: usize = outcomes.iter().map(|o| o.duplicates).sum();
                metrics
                    .events_stored
                    .fetch_add(stored as u64 - unrouted, Relaxed);
                metrics.events_duplicate.fetch_add(dups as u64, Relaxed);
                metrics.events_unrouted.fetch_add(unrouted, Relaxed);
                metrics
                    .batches_accepted
                    .fetch_add(jobs.len() as u64, Relaxed);
                outcomes.into_iter().map(Ok).collect()
            }
            Err(reason) => {
                metrics.reject("storage_failure");
                jobs.iter()
                    .map(|_| Err(StoreError::Failed(reason.clone())))
                    .collect()
            }
        }
    }

    /// Begin, append + fsync, commit; on a failure, undo. Whether anything was synced.
    ///
    /// Once a commit record may be on disk, the lines are never cut back here: if the journal
    /// cannot say whether it is (it is broken), the store stops and the next start settles it
    /// (a whole commit record keeps the lines, a torn one undoes them).
    fn write(&mut self, files: &[FileBuf], marks: &[(&str, u64)]) -> Result<bool, String> {
        if files.is_empty() {
            // Only duplicates or unrouted events: the marks still move.
            if marks.is_empty() {
                return Ok(false);
            }
            let committed = self.journal.commit(marks).map_err(|e| e.to_string());
            self.stop_if_journal_broken();
            return committed.map(|()| true);
        }
        let mut lens = Vec::with_capacity(files.len());
        for f in files {
            match self.destinations[f.destination].length_of(&f.path) {
                Ok(len) => lens.push((f.path.as_path(), len)),
                Err(e) => return Err(format!("{}: {e}", f.path.display())),
            }
        }
        if let Err(e) = self.journal.begin(&lens) {
            // Nothing was written to the files yet.
            self.stop_if_journal_broken();
            return Err(e.to_string());
        }
        let mut failure = None;
        for f in files {
            if let Err(e) = self.destinations[f.destination].write_synced(&f.path, &f.lines) {
                failure = Some(format!("{}: {e}", f.path.display()));
                break;
            }
        }
        let reason = match failure {
            Some(reason) => reason,
            None => match self.journal.commit(marks) {
                Ok(()) => {
                    self.stop_if_journal_broken();
                    return Ok(true);
                }
                Err(e) => e.to_string(),
            },
        };
        for f in files {
            self.destinations[f.destination].forget(&f.path);
        }
        if self.stop_if_journal_broken() {
            return Err(reason);
        }
        if let Err(e) = self.journal.abort(&lens) {
            self.fail(format!("{reason}; undo failed too: {e}"));
        }
        Err(reason)
    }

    /// Stops the store when the journal can no longer be written; whether it did.
    fn stop_if_journal_broken(&self) -> bool {
        match self.journal.broken() {
            Some(reason) => {
                self.fail(reason.to_owned());
                true
            }
            None => false,
        }
    }

    /// Marks the store unusable (restarting repairs it from the journal).
    fn fail(&self, reason: String) -> String {
        eprintln!("event-server: storage stopped until restart: {reason}");
        *self.shared.broken.lock() = Some(reason.clone());
        reason
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::wire::parse_batch;
    use std::path::Path;

    fn config(root: &Path) -> ServerConfig {
        ServerConfig::from_yaml(&format!(
            r#"
event_keys: [k1, k2]
timezone: utc
destinations:
  - {{ name: all, type: filesystem, root: "{0}/all" }}
  - {{ name: auth, type: filesystem, root: "{0}/auth", topics: [authfail], folder_by_routing_key: false, partitioning_period: DAY }}
  - {{ name: k2only, type: filesystem, root: "{0}/k2", required_auth_key: k2, folder_by_topic: false, folder_by_routing_key: false, partitioning_period: MONTH }}
"#,
            root.display()
        ))
        .unwrap()
    }

    fn batch(lines: &str, key: usize) -> Batch {
        Batch {
            items: parse_batch(lines.as_bytes(), false, 1 << 20).unwrap(),
            peer: "10.0.0.5".parse().unwrap(),
            key,
            // 2020-02-19T15:05:02.441Z
            received: std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_582_124_702_441),
            bytes: lines.len(),
        }
    }

    fn store_one(store: &Store, b: Batch) -> Outcome {
        store.submit(b).unwrap().blocking_recv().unwrap().unwrap()
    }

    #[test]
    fn routes_dedups_and_survives_restart() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(dir.path());
        let keys = c.resolve_keys().unwrap();
        let body = concat!(
            r#"{"node":"n1","seq":1,"topic":"generic","event":{"msgType":"a"}}"#,
            "\n",
            r#"{"node":"n1","seq":2,"topic":"authfail","routingKey":"sso","event":{"msgType":"b"}}"#,
            "\n",
        );
        {
            let (store, recovered) = Store::open(&c, &keys, Arc::default()).unwrap();
            assert!(recovered.is_empty());
            let o = store_one(&store, batch(body, 0));
            assert_eq!(
                o,
                Outcome {
                    stored: 2,
                    duplicates: 0
                }
            );
            let o = store_one(&store, batch(body, 1));
            assert_eq!(
                o,
                Outcome {
                    stored: 0,
                    duplicates: 2
                }
            );
        }
        let (store, _) = Store::open(&c, &keys, Arc::default()).unwrap();
        assert_eq!(store_one(&store, batch(body, 1)).duplicates, 2);
        let more = r#"{"node":"n1","seq":3,"topic":"generic","event":{"msgType":"c"}}"#;
        assert_eq!(store_one(&store, batch(more, 1)).stored, 1);
        drop(store);

        let read = |p: &str| std::fs::read_to_string(dir.path().join(p)).unwrap();
        let ts = r#""origAddress":"10.0.0.5","serverTimestamp":"2020-02-19T15:05:02.441+0000"}"#;
        assert_eq!(
            read("all/generic/_none/2020/02/19/15/events.log"),
            format!("{{\"clientEvent\":{{\"msgType\":\"a\"}},{ts}\n{{\"clientEvent\":{{\"msgType\":\"c\"}},{ts}\n")
        );
        assert_eq!(
            read("all/authfail/sso/2020/02/19/15/events.log"),
            format!("{{\"clientEvent\":{{\"msgType\":\"b\"}},{ts}\n")
        );
        assert_eq!(
            read("auth/authfail/2020/02/19/events.log"),
            format!("{{\"clientEvent\":{{\"msgType\":\"b\"}},{ts}\n")
        );
        // Only the batch sent with k2 (index 1) reaches `k2only`: event 3.
        assert_eq!(
            read("k2/2020/02/events.log"),
            format!("{{\"clientEvent\":{{\"msgType\":\"c\"}},{ts}\n")
        );
    }

    #[test]
    fn admission_takes_one_batch_whatever_its_size() {
        assert!(admit(0, 500, 100), "a lone large batch");
        assert!(admit(50, 50, 100));
        assert!(!admit(50, 51, 100));
        assert!(!admit(100, 1, 100));
    }
}
