//! The writer: one thread that takes accepted batches off a bounded queue and stores them with
//! group commit, so concurrent batches share each fsync.
//!
//! Per group: drop events at or below their node's high-water mark (duplicates), render the
//! stored lines of the rest into per-file buffers, then run the [`journal`](super::journal)'s
//! begin → append → commit sequence (the commit record fsynced beside the files), and only then
//! answer each batch. A batch is never
//! acknowledged before every one of its events is on disk in every destination that takes it.
//!
//! With `kafka` destinations (see [`super::kafka_destination`]), step 2 also hands the group's
//! messages to Kafka (before the files are appended, so both proceed at once) and waits for
//! every delivery report before the commit; a message Kafka did not confirm fails the whole
//! group like a failed write: the files are cut back and every batch gets `503` (see
//! [`GroupFailure`]).
//!
//! With `integrity`, a group's lines are fed to the files' digest sidecars only once the group
//! is committed (see [`super::destination`]); while idle the writer wakes every
//! [`INTEGRITY_TICK`] for the checkpoints due by `checkpoint_seconds`, and at shutdown it seals
//! every open file with a `close` record.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::{Condvar, Mutex};
use tokio::sync::oneshot;

use super::auth::{key_id, KeyId};
use super::bindings::{self, NodeRefusal};
use super::config::{DestinationKind, ResolvedKeys, ServerConfig};
use super::destination::FileDestination;
use super::failure::GroupFailure;
use super::journal::{GroupFile, Journal, JournalError, NodeCommit};
use super::kafka_destination::{KafkaBatch, KafkaDestination};
use super::metrics::Metrics;
use crate::encode::Timezone;
use crate::protocol::wire::{BatchAnswer, Item};

#[cfg(test)]
mod fuzz;
mod group;
use group::{settle_followers, FileBuf, WriteFailure};

/// How often the writer looks for checkpoints due by time (integrity only).
pub const INTEGRITY_TICK: Duration = Duration::from_secs(1);

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

/// What happened to a stored batch; each of its events is counted once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Events stored now, by at least one destination.
    pub stored: usize,
    /// Events stored before (retries), skipped.
    pub duplicates: usize,
    /// Events no destination takes: accepted (their node's mark moves) but in no file.
    pub unrouted: usize,
}

impl Outcome {
    /// The `200` answer.
    pub fn answer(&self) -> BatchAnswer {
        BatchAnswer {
            stored: self.stored as u64,
            duplicates: self.duplicates as u64,
            unrouted: self.unrouted as u64,
        }
    }
}

/// Why a batch was not taken or not stored; the client should retry later, except after
/// [`StoreError::Refused`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The queue holds `queue_max_bytes` already.
    #[error("write queue full")]
    QueueFull,
    /// Writing failed; nothing of the batch is stored. The text never names a server path
    /// (the server's log does).
    #[error("storage failure: {0}")]
    Failed(String),
    /// The batch's node ids may not be used with its key (`403`); nothing of it is stored.
    #[error("{0}")]
    Node(NodeRefusal),
    /// A destination (Kafka) did not confirm the batch's group; nothing of the batch is
    /// stored (`503`, retry later).
    #[error("destination unavailable: {0}")]
    Unavailable(String),
    /// A destination can never take the event on this 1-based line of the batch; nothing of
    /// the batch is stored (`400` naming the line: the client sets that event aside and sends
    /// the others again).
    #[error("line {line}: {reason}")]
    Refused {
        /// The event's line in the batch.
        line: usize,
        /// Which destination and why.
        reason: String,
    },
    /// The server is shutting down.
    #[error("server shutting down")]
    Stopping,
}

/// The answer to batches while the store is stopped (the reason, with paths, is in the log).
fn stopped() -> StoreError {
    StoreError::Failed(
        "storage stopped until the server restarts (the server's log says why); nothing of the batch is stored".into(),
    )
}

/// What a batch (index `job` in its group) is answered when the group failed. A storage
/// failure's reason names server paths: it goes to the log, not to the client.
fn answer(failure: &GroupFailure, job: usize) -> StoreError {
    match failure {
        GroupFailure::Storage(_) => StoreError::Failed(
            "writing failed on the server (its log says why); nothing of the batch is stored"
                .into(),
        ),
        GroupFailure::Unavailable(reason) => StoreError::Unavailable(reason.clone()),
        GroupFailure::Refused(refusals) => match refusals.iter().find(|r| r.job == job) {
            Some(r) => StoreError::Refused {
                line: r.line,
                reason: r.reason.clone(),
            },
            None => StoreError::Unavailable(
                "another batch written in the same group commit was refused; send again".into(),
            ),
        },
    }
}

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The journal could not be opened or repaired.
    #[error("state: {0}")]
    Journal(#[from] JournalError),
    /// A destination could not be set up (e.g. its Kafka producer).
    #[error("{0}")]
    Destination(String),
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
    /// The `filesystem` destinations.
    destinations: Vec<FileDestination>,
    /// The `kafka` destinations.
    kafka: Vec<KafkaDestination>,
    timezone: Timezone,
    group_bytes: usize,
    shared: Arc<Shared>,
    /// Whether a destination has `integrity` (the writer then wakes for time checkpoints).
    integrity: bool,
    /// When the time checkpoints were last looked for.
    last_tick: Instant,
    /// The [`KeyId`] of each event key, by index.
    key_ids: Vec<KeyId>,
    /// `max_nodes_per_key`.
    max_nodes_per_key: usize,
}

impl Store {
    /// Opens the journal (undoing an unfinished group commit; what it repaired is returned beside the store) and
    /// starts the writer thread.
    pub fn open(
        config: &ServerConfig,
        keys: &ResolvedKeys,
        metrics: Arc<Metrics>,
    ) -> Result<(Store, Vec<String>), OpenError> {
        let (mut writer, recovered) = Writer::open(config, keys, metrics)?;
        let shared = Arc::clone(&writer.shared);
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
        if self.shared.broken.lock().is_some() {
            return Err(stopped());
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

    /// Stores what is queued, then stops the writer (which seals every open file with
    /// `integrity`).
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

/// What the writer does next.
enum Next {
    /// Store these.
    Group(Vec<Job>),
    /// Nothing came within [`INTEGRITY_TICK`].
    Idle,
    /// Stopping, and the queue is drained.
    Stop,
}

impl Writer {
    /// Opens the journal (see [`Store::open`]) and the destinations.
    fn open(
        config: &ServerConfig,
        keys: &ResolvedKeys,
        metrics: Arc<Metrics>,
    ) -> Result<(Writer, Vec<String>), OpenError> {
        let journal = Journal::open(&config.state_dir(), config.file_mode)?;
        let recovered = journal.recovered().to_vec();
        let mut destinations = Vec::new();
        let mut kafka = Vec::new();
        let all = config.destinations.iter().zip(&keys.required);
        for ((d, required), integrity) in all.zip(&keys.integrity) {
            match d.kind() {
                DestinationKind::Filesystem => {
                    if let Some(root) = d.root() {
                        crate::protocol::layout::record_layout(root, &d.layout(), config.file_mode)
                            .map_err(|e| {
                                OpenError::Destination(format!(
                                    "destination `{}`: cannot record its folder layout in {}: {e}",
                                    d.name,
                                    root.join(crate::protocol::layout::LAYOUT_FILE).display()
                                ))
                            })?;
                    }
                    destinations.push(FileDestination::new(
                        d,
                        *required,
                        integrity.clone(),
                        config.file_mode,
                    ))
                }
                DestinationKind::Kafka => {
                    kafka
                        .push(KafkaDestination::new(d, *required).map_err(OpenError::Destination)?);
                    metrics.kafka_destination(&d.name);
                }
            }
        }
        let integrity = destinations.iter().any(FileDestination::has_integrity);
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
        let writer = Writer {
            journal,
            destinations,
            kafka,
            timezone: config.timezone,
            group_bytes,
            shared,
            integrity,
            last_tick: Instant::now(),
            key_ids: keys.event.iter().map(|k| key_id(k)).collect(),
            max_nodes_per_key: config.max_nodes_per_key,
        };
        Ok((writer, recovered))
    }

    fn run(&mut self) {
        loop {
            match self.next_group() {
                Next::Group(jobs) => {
                    let results = self.store_group(&jobs);
                    for (job, result) in jobs.into_iter().zip(results) {
                        // The client may have gone; its batch is stored either way.
                        let _ = job.reply.send(result);
                    }
                }
                Next::Idle => {}
                Next::Stop => break,
            }
            if self.integrity && self.last_tick.elapsed() >= INTEGRITY_TICK {
                self.last_tick = Instant::now();
                let now = SystemTime::now();
                for d in &mut self.destinations {
                    d.tick(now);
                }
            }
        }
        // A clean shutdown: every committed line gets sealed.
        let now = SystemTime::now();
        for d in &mut self.destinations {
            d.close_all(now);
        }
    }

    /// Waits for batches and takes them, up to `group_bytes` (at least one); `Stop` once
    /// stopping and drained; with integrity, `Idle` after [`INTEGRITY_TICK`] without any.
    fn next_group(&self) -> Next {
        let mut q = self.shared.queue.lock();
        while q.jobs.is_empty() {
            if self.shared.stopping.load(Relaxed) {
                return Next::Stop;
            }
            if !self.integrity {
                self.shared.ready.wait(&mut q);
            } else if self
                .shared
                .ready
                .wait_for(&mut q, INTEGRITY_TICK)
                .timed_out()
                && q.jobs.is_empty()
            {
                return Next::Idle;
            }
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
        Next::Group(jobs)
    }

    fn store_group(&mut self, jobs: &[Job]) -> Vec<Result<Outcome, StoreError>> {
        let metrics = Arc::clone(&self.shared.metrics);
        if self.shared.broken.lock().is_some() {
            return jobs.iter().map(|_| Err(stopped())).collect();
        }
        // Batches answered before the group is written: refused node ids (403), and those
        // whose file could not be written (500) or that follow such a batch of the same node.
        let mut settled: Vec<Option<StoreError>> = {
            let batches: Vec<_> = jobs
                .iter()
                .map(|j| (j.batch.items.as_slice(), self.key_ids[j.batch.key]))
                .collect();
            bindings::check(
                &self.journal,
                &self.key_ids,
                self.max_nodes_per_key,
                &batches,
            )
            .into_iter()
            .map(|r| {
                r.map(|r| {
                    metrics.reject(match r {
                        NodeRefusal::BoundToAnotherKey { .. } => "node_bound_to_another_key",
                        NodeRefusal::TooManyNodes { .. } => "max_nodes_per_key",
                    });
                    StoreError::Node(r)
                })
            })
            .collect()
        };
        settle_followers(jobs, &mut settled);
        loop {
            let plan = self.plan(jobs, &settled);
            let started = Instant::now();
            match self.write(&plan.files, &plan.kafka, &plan.marks) {
                Ok(synced) => {
                    if synced {
                        metrics.fsync_took(started.elapsed());
                        metrics.group_commits.fetch_add(1, Relaxed);
                    }
                    for f in &plan.files {
                        metrics.stored_in(&self.destinations[f.destination].name, f.events);
                        metrics
                            .bytes_stored
                            .fetch_add(f.lines.len() as u64, Relaxed);
                    }
                    let done = plan.outcomes.iter().flatten();
                    let sum = |f: fn(&Outcome) -> usize| done.clone().map(f).sum::<usize>() as u64;
                    metrics.events_stored.fetch_add(sum(|o| o.stored), Relaxed);
                    metrics
                        .events_duplicate
                        .fetch_add(sum(|o| o.duplicates), Relaxed);
                    metrics
                        .events_unrouted
                        .fetch_add(sum(|o| o.unrouted), Relaxed);
                    metrics
                        .batches_accepted
                        .fetch_add(done.count() as u64, Relaxed);
                    return plan
                        .outcomes
                        .into_iter()
                        .zip(settled)
                        .map(|(o, s)| match (o, s) {
                            (_, Some(e)) => Err(e),
                            (Some(o), None) => Ok(o),
                            (None, None) => Err(stopped()),
                        })
                        .collect();
                }
                Err(WriteFailure::File { file, reason }) => {
                    // Only the batches with events for this file fail; the others of the
                    // group are written again without them.
                    let f = &plan.files[file];
                    let name = &self.destinations[f.destination].name;
                    eprintln!(
                        "event-server: destination `{name}`: {}: {reason}; the {} batch(es) with events for this file get 500, the rest of their group commit is stored",
                        f.path.display(),
                        f.jobs.len()
                    );
                    for &j in &f.jobs {
                        metrics.reject("storage_failure");
                        settled[j] = Some(StoreError::Failed(format!(
                            "destination `{name}` could not write the file of some of the batch's events (the server's log names it); nothing of the batch is stored"
                        )));
                    }
                    settle_followers(jobs, &mut settled);
                }
                Err(WriteFailure::Group(failure)) => {
                    if let GroupFailure::Storage(reason) = &failure {
                        eprintln!(
                            "event-server: group commit failed, nothing of it is stored: {reason}"
                        );
                        metrics.reject("storage_failure");
                    }
                    return settled
                        .into_iter()
                        .enumerate()
                        .map(|(j, s)| {
                            Err(s.unwrap_or_else(|| {
                                let e = answer(&failure, j);
                                match e {
                                    StoreError::Unavailable(_) => {
                                        metrics.reject("destination_unavailable")
                                    }
                                    StoreError::Refused { .. } => {
                                        metrics.reject("refused_by_destination")
                                    }
                                    _ => {}
                                }
                                e
                            }))
                        })
                        .collect();
                }
            }
        }
    }

    /// Begin, append + fsync (and deliver to Kafka), commit; on a failure, undo. Whether
    /// anything was synced.
    ///
    /// Once a commit record may be on disk, the lines are never cut back here: if the journal
    /// cannot say whether it is (it is broken), the store stops and the next start settles it
    /// (a whole commit record keeps the lines, a torn one undoes them).
    fn write(
        &mut self,
        files: &[FileBuf],
        kafka: &[KafkaBatch<'_>],
        marks: &[NodeCommit<'_>],
    ) -> Result<bool, WriteFailure> {
        if files.is_empty() && kafka.iter().all(KafkaBatch::is_empty) {
            // Only duplicates or unrouted events: the marks (and bindings) still move.
            if marks.is_empty() {
                return Ok(false);
            }
            let committed = self
                .journal
                .commit(marks)
                .map_err(|e| WriteFailure::Group(GroupFailure::Storage(e.to_string())));
            self.stop_if_journal_broken();
            return committed.map(|()| true);
        }
        for d in &mut self.destinations {
            d.start_group();
        }
        let mut lens = Vec::with_capacity(files.len());
        for (i, f) in files.iter().enumerate() {
            match self.destinations[f.destination].length_of(&f.path) {
                Ok(len) => lens.push((f.path.as_path(), len)),
                // Nothing was written yet: only this file's batches fail.
                Err(e) => {
                    return Err(WriteFailure::File {
                        file: i,
                        reason: e.to_string(),
                    })
                }
            }
        }
        // A group only for Kafka appends to no file: nothing to undo, no `begin`.
        if !files.is_empty() {
            if let Err(e) = self.journal.begin(&lens) {
                // Nothing was written to the files yet.
                self.stop_if_journal_broken();
                return Err(WriteFailure::Group(GroupFailure::Storage(e.to_string())));
            }
        }
        let failure = match self.deliver_and_append(files, kafka) {
            Some(failure) => failure,
            None if files.is_empty() => match self.journal.commit(marks) {
                Ok(()) => {
                    self.stop_if_journal_broken();
                    return Ok(true);
                }
                Err(e) => WriteFailure::Group(GroupFailure::Storage(e.to_string())),
            },
            None => match self.commit_synced(files, marks, &lens) {
                Ok(()) => {
                    // Committed: only now may the sidecars cover these lines.
                    let now = SystemTime::now();
                    for f in files {
                        self.destinations[f.destination].seal(&f.path, &f.lines, now);
                    }
                    self.stop_if_journal_broken();
                    return Ok(true);
                }
                Err(failure) => failure,
            },
        };
        for f in files {
            self.destinations[f.destination].forget(&f.path);
        }
        if self.stop_if_journal_broken() || files.is_empty() {
            return Err(failure);
        }
        if let Err(e) = self.journal.abort(&lens) {
            let reason = match &failure {
                WriteFailure::Group(g) => g.to_string(),
                WriteFailure::File { file, reason } => {
                    format!("{}: {reason}", files[*file].path.display())
                }
            };
            self.fail(format!("{reason}; undo failed too: {e}"));
            return Err(WriteFailure::Group(GroupFailure::Storage(reason)));
        }
        // Cut back to their committed lines: reopen the files, so each sidecar resumes from
        // what is on disk (a failure here is retried when the file is next written).
        for f in files {
            let d = &mut self.destinations[f.destination];
            if d.has_integrity() {
                if let Err(e) = d.length_of(&f.path) {
                    eprintln!("event-server: integrity: {}: {e}", f.path.display());
                }
            }
        }
        Err(failure)
    }

    /// Step 3 for a group that appended to files: writes the journal's commit record, then
    /// fsyncs it beside the files (the journal on a second thread), and confirms it once both
    /// are durable; on a failure the record is cut off again (see [`Journal::stage_commit`]).
    fn commit_synced(
        &mut self,
        files: &[FileBuf],
        marks: &[NodeCommit<'_>],
        lens: &[(&std::path::Path, u64)],
    ) -> Result<(), WriteFailure> {
        let group: Vec<GroupFile> = lens
            .iter()
            .zip(files)
            .map(|(&(path, before), f)| GroupFile {
                path,
                before,
                after: before + f.lines.len() as u64,
                crc: crc32fast::hash(&f.lines),
            })
            .collect();
        let staged = self
            .journal
            .stage_commit(marks, &group)
            .map_err(|e| WriteFailure::Group(GroupFailure::Storage(e.to_string())))?;
        let journal = &self.journal;
        let destinations = &mut self.destinations;
        let (journal_synced, data_synced) = std::thread::scope(|scope| {
            let journal_sync = scope.spawn(|| journal.sync());
            let data = files.iter().enumerate().try_for_each(|(i, f)| {
                destinations[f.destination]
                    .sync(&f.path)
                    .map_err(|e| WriteFailure::File {
                        file: i,
                        reason: e.to_string(),
                    })
            });
            let journal = journal_sync
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("journal fsync thread panicked")));
            (journal, data)
        });
        let failure = match (journal_synced, data_synced) {
            (Ok(()), Ok(())) => {
                self.journal.confirm(staged);
                return Ok(());
            }
            (_, Err(data)) => data,
            (Err(e), Ok(())) => {
                WriteFailure::Group(GroupFailure::Storage(format!("journal fsync: {e}")))
            }
        };
        // The caller undoes the files; a record that cannot be cut off breaks the journal.
        let _ = self.journal.unstage(staged);
        Err(failure)
    }

    /// Step 2: hands the group's messages to the `kafka` destinations, appends to the files
    /// while Kafka works (their fsync comes with the commit's), then waits for every delivery
    /// report. The failure, if any.
    fn deliver_and_append(
        &mut self,
        files: &[FileBuf],
        kafka: &[KafkaBatch<'_>],
    ) -> Option<WriteFailure> {
        let metrics = Arc::clone(&self.shared.metrics);
        let mut flights = Vec::new();
        for (k, batch) in kafka.iter().enumerate() {
            if batch.is_empty() {
                continue;
            }
            match self.kafka[k].send(batch, &metrics) {
                Ok(flight) => flights.push((k, flight)),
                // What was handed over may still be delivered; the group fails anyway.
                Err(failure) => return Some(WriteFailure::Group(failure)),
            }
        }
        for (i, f) in files.iter().enumerate() {
            if let Err(e) = self.destinations[f.destination].append(&f.path, &f.lines) {
                return Some(WriteFailure::File {
                    file: i,
                    reason: e.to_string(),
                });
            }
        }
        let mut failure: Option<GroupFailure> = None;
        for (k, flight) in flights {
            if let Err(f) = self.kafka[k].finish(flight, &kafka[k], &metrics) {
                failure = Some(match failure {
                    Some(earlier) => earlier.and(f),
                    None => f,
                });
            }
        }
        failure.map(WriteFailure::Group)
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
mod tests;
