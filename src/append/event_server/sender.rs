//! The sender thread of a spool: reads batches in sequence order, posts them (one request in
//! flight), retries with backoff, splits or dead-letters what the server refuses, acks.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::http::{self, Outcome};
use super::payload::{self, Decoded};
use crate::append::dead_letter::{self, DeadItem};
use crate::protocol::wire::{write_item, BatchAnswer, ItemRef, NodeId};
use crate::spool::channel::{self, Delivery};
use crate::spool::{Spool, Spooled};

/// How long the idle sender waits for records before checking whether it should stop.
const IDLE_POLL: Duration = Duration::from_millis(500);
/// Errors kept for the next logging call; more are counted.
const MAX_QUEUED_ERRORS: usize = 32;

/// How the sender talks to the server; replaced when a reloaded config reuses the spool.
pub(crate) struct Settings {
    pub endpoint: String,
    pub auth_header: String,
    pub agent: ureq::Agent,
    pub gzip: bool,
    pub batch_max_events: usize,
    pub batch_max_bytes: usize,
    pub linger: Duration,
    pub retry_min: Duration,
    pub retry_max: Duration,
    pub flush_timeout: Duration,
}

/// Counters readable through the appender's `stats()`.
#[derive(Default)]
pub(crate) struct Counters {
    pub delivered: AtomicU64,
    pub unrouted: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub retries: AtomicU64,
}

#[derive(Default)]
struct ErrorQueue {
    messages: Vec<String>,
    dropped: u64,
}

/// The Event Server target's part of a spool's [`Channel`](crate::spool::channel::Channel):
/// the node id sent with every event, counters, the errors waiting for the next logging call,
/// and the wake-ups of a sender lingering for a batch to fill.
pub(crate) struct HttpDelivery {
    pub node: NodeId,
    pub counters: Counters,
    errors: Mutex<ErrorQueue>,
    /// Whether `errors` holds anything: the logging call checks this without locking.
    has_errors: AtomicBool,
    /// While the sender lingers for a batch to fill, appends and flushes wake it (`poke`):
    /// a generation counter avoids lost wake-ups.
    lingering: AtomicBool,
    activity: Mutex<u64>,
    activity_changed: Condvar,
    /// The highest sequence number a `flush` waits for: the sender stops lingering for it.
    flush_target: AtomicU64,
    /// The acknowledged sequence number when a flush last timed out: if nothing was delivered
    /// since, closing does not wait a second time for a server that is down.
    pub stalled_at: Mutex<Option<u64>>,
    /// The spool's last sequence number when this process opened it: records up to here may
    /// have been posted by an earlier process, the later ones only by this one's sender.
    spooled_before_open: u64,
}

/// What the appenders and the sender thread of one spool share.
pub(crate) type Core = channel::Shared<HttpDelivery>;

impl Delivery for HttpDelivery {
    const KIND: &'static str = "event_server";
    const THREAD_NAME: &'static str = "log4rs-audit-event-server";
    type Settings = Settings;

    fn open(spool: &Spool) -> anyhow::Result<Self> {
        let node = NodeId::new(spool.node_id()).map_err(|e| anyhow::anyhow!("spool_dir: {e}"))?;
        Ok(HttpDelivery {
            node,
            counters: Counters::default(),
            errors: Mutex::new(ErrorQueue::default()),
            has_errors: AtomicBool::new(false),
            lingering: AtomicBool::new(false),
            activity: Mutex::new(0),
            activity_changed: Condvar::new(),
            flush_target: AtomicU64::new(0),
            stalled_at: Mutex::new(None),
            spooled_before_open: spool.last_seq(),
        })
    }

    fn run(core: Arc<Core>) {
        run(&core)
    }

    fn flush_timeout(settings: &Settings) -> Duration {
        settings.flush_timeout
    }

    fn undelivered(settings: &Settings, left: u64) -> String {
        format!("{left} events not yet delivered to {}", settings.endpoint)
    }

    fn report(core: &Core, message: String) {
        core.target.report(message);
    }

    fn wake(core: &Core) {
        core.target.wake();
        // Wakes a sender waiting for records; it then sees the stop.
        core.spool.rewind();
    }

    fn flushing(core: &Core, seq: u64) {
        core.target.flush_target.fetch_max(seq, Ordering::SeqCst);
        core.target.wake();
    }

    fn close_timeout(core: &Core, flush_timeout: Duration) -> Duration {
        if *core.target.stalled_at.lock() == Some(core.acked()) {
            Duration::ZERO
        } else {
            flush_timeout
        }
    }
}

impl HttpDelivery {
    /// Queues an error for the next logging call.
    pub(crate) fn report(&self, message: String) {
        let mut q = self.errors.lock();
        if q.messages.len() < MAX_QUEUED_ERRORS {
            q.messages.push(message);
        } else {
            q.dropped += 1;
        }
        self.has_errors.store(true, Ordering::Release);
    }

    /// The errors queued since the last call, joined; `None` if there are none.
    pub(crate) fn take_errors(&self) -> Option<String> {
        if !self.has_errors.load(Ordering::Acquire) {
            return None;
        }
        let mut q = self.errors.lock();
        self.has_errors.store(false, Ordering::Release);
        if q.messages.is_empty() {
            return None;
        }
        let mut text = q.messages.join("; ");
        if q.dropped > 0 {
            text.push_str(&format!("; and {} more", q.dropped));
        }
        q.messages.clear();
        q.dropped = 0;
        Some(text)
    }

    /// Records were spooled: wakes the sender if it lingers for more.
    pub(crate) fn poke(&self) {
        if self.lingering.load(Ordering::SeqCst) {
            self.wake();
        }
    }

    fn wake(&self) {
        *self.activity.lock() += 1;
        self.activity_changed.notify_all();
    }
}

fn flush_waiting(core: &Core) -> bool {
    core.target.flush_target.load(Ordering::SeqCst) > core.acked()
}

/// Exponential backoff, ×2 per failure from `retry_min` up to `retry_max`, with full jitter:
/// each delay is uniform between `retry_min` and the current cap.
pub(crate) struct Backoff {
    failures: u32,
    rng: u64,
}

impl Backoff {
    pub(crate) fn new() -> Backoff {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let seed = nanos ^ (u64::from(std::process::id()) << 32) ^ 0x9E37_79B9_7F4A_7C15;
        Backoff {
            failures: 0,
            rng: seed | 1,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }

    /// The delay before the next attempt.
    pub(crate) fn next(&mut self, min: Duration, max: Duration) -> Duration {
        let cap = min
            .saturating_mul(1u32 << self.failures.min(30))
            .min(max)
            .max(min);
        self.failures = self.failures.saturating_add(1);
        let span = (cap - min).as_nanos() as u64;
        if span == 0 {
            return min;
        }
        min + Duration::from_nanos(self.random() % (span + 1))
    }

    /// xorshift64*.
    fn random(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// The sender thread's body: until stopped, send everything the spool holds.
fn run(core: &Core) {
    let mut backoff = Backoff::new();
    // Events up to here may have been posted before, by an earlier process on this spool; a
    // duplicate answer for a later one is not a resend. Taken when the spool was opened, not
    // when this thread starts: events logged in between were never posted (a thread that
    // started late once counted a node id collision's duplicates as delivered).
    let mut posted_through = core.target.spooled_before_open;
    let mut trouble: Option<String> = None;
    while !core.stopping() {
        let settings = core.settings();
        let batch = match read(core, &settings) {
            Ok(batch) => batch,
            Err(e) => {
                let message = format!("reading the spool {}: {e}", core.dir.display());
                if trouble.as_ref() != Some(&message) {
                    core.target.report(message.clone());
                    trouble = Some(message);
                }
                core.spool.rewind();
                if !core.pause(backoff.next(settings.retry_min, settings.retry_max)) {
                    return;
                }
                continue;
            }
        };
        trouble = None;
        let Some(last) = batch.last().map(|r| r.seq) else {
            continue;
        };
        if !deliver(core, batch, &mut backoff, &mut posted_through) {
            return;
        }
        loop {
            match core.spool.ack(last) {
                Ok(()) => {
                    core.set_acked(last);
                    break;
                }
                Err(e) => {
                    core.target.report(format!(
                        "acknowledging delivered events in the spool {}: {e}",
                        core.dir.display()
                    ));
                    if !core.pause(backoff.next(settings.retry_min, settings.retry_max)) {
                        return;
                    }
                }
            }
        }
    }
}

/// The next batch: what is there, then what arrives within `linger` (cut short by a flush),
/// up to the limits.
fn read(core: &Core, settings: &Settings) -> Result<Vec<Spooled>, crate::spool::SpoolError> {
    let (max, max_bytes) = (settings.batch_max_events, settings.batch_max_bytes);
    let mut batch = core.spool.read_batch(max, max_bytes, IDLE_POLL)?;
    if batch.is_empty() || settings.linger.is_zero() {
        return Ok(batch);
    }
    let deadline = Instant::now() + settings.linger;
    let mut bytes: usize = batch.iter().map(|r| r.payload.len()).sum();
    core.target.lingering.store(true, Ordering::SeqCst);
    let result = (|| {
        while batch.len() < max && bytes < max_bytes {
            let seen = *core.target.activity.lock();
            let more =
                core.spool
                    .read_batch(max - batch.len(), max_bytes - bytes, Duration::ZERO)?;
            if !more.is_empty() {
                bytes += more.iter().map(|r| r.payload.len()).sum::<usize>();
                batch.extend(more);
                continue;
            }
            if core.stopping() || flush_waiting(core) {
                break;
            }
            let mut activity = core.target.activity.lock();
            while *activity == seen {
                if core
                    .target
                    .activity_changed
                    .wait_until(&mut activity, deadline)
                    .timed_out()
                {
                    return Ok(());
                }
            }
        }
        Ok(())
    })();
    core.target.lingering.store(false, Ordering::SeqCst);
    result.map(|()| batch)
}

type Item = (u64, Decoded);

/// Sends `batch` until the server has or refused every event (refused ones are dead-lettered);
/// `false` when asked to stop first. `posted_through` is the highest sequence number that may
/// have been posted before.
fn deliver(
    core: &Core,
    batch: Vec<Spooled>,
    backoff: &mut Backoff,
    posted_through: &mut u64,
) -> bool {
    let mut items = Vec::with_capacity(batch.len());
    for record in batch {
        match payload::decode(&record.payload) {
            Ok(d) => items.push((record.seq, d)),
            Err(reason) => {
                let dead = [DeadItem::Unreadable {
                    node: &core.target.node,
                    seq: record.seq,
                    payload: &record.payload,
                }];
                if !dead_letter_until_written(core, &dead, None, &reason, backoff) {
                    return false;
                }
            }
        }
    }
    let mut chunks: VecDeque<Vec<Item>> = VecDeque::from([items]);
    'chunks: while let Some(mut chunk) = chunks.pop_front() {
        while !chunk.is_empty() {
            if core.stopping() {
                return false;
            }
            let settings = core.settings();
            let mut body = Vec::with_capacity(chunk.len() * 256);
            for (seq, d) in &chunk {
                write_item(&mut body, &item_ref(&core.target.node, *seq, d));
            }
            let (body, gzipped) = match settings.gzip {
                true => match http::gzip(&body) {
                    Ok(z) => (z, true),
                    Err(_) => (body, false),
                },
                false => (body, false),
            };
            // Never posted with a result that may have stored it: a duplicate answer cannot be
            // a resend.
            let fresh = chunk.first().is_some_and(|(seq, _)| *seq > *posted_through);
            let outcome = http::post(
                &settings.agent,
                &settings.endpoint,
                &settings.auth_header,
                &body,
                gzipped,
            );
            if matches!(
                outcome,
                Outcome::Stored(_)
                    | Outcome::Retry {
                        maybe_stored: true,
                        ..
                    }
            ) {
                if let Some((last, _)) = chunk.last() {
                    *posted_through = (*posted_through).max(*last);
                }
            }
            match outcome {
                Outcome::Stored(answer) => {
                    *core.last_error.lock() = None;
                    backoff.reset();
                    if !stored(core, &chunk, answer, fresh, backoff) {
                        return false;
                    }
                    continue 'chunks;
                }
                Outcome::Forbidden { reason } => {
                    // An operator must act (the node id or the key); nothing is lost meanwhile.
                    core.target.counters.retries.fetch_add(1, Ordering::Relaxed);
                    let why = format!(
                        "{} refuses node id `{}` with this auth key (HTTP 403: {reason}); {} events stay in the spool and are sent again",
                        settings.endpoint,
                        core.target.node.as_str(),
                        chunk.len()
                    );
                    let mut last = core.last_error.lock();
                    if last.as_ref() != Some(&why) {
                        core.target.report(why.clone());
                    }
                    *last = Some(why);
                    drop(last);
                    if !core.pause(backoff.next(settings.retry_min, settings.retry_max)) {
                        return false;
                    }
                }
                Outcome::Retry { why, after, .. } => {
                    core.target.counters.retries.fetch_add(1, Ordering::Relaxed);
                    let unexpected = why.starts_with("unexpected answer");
                    let mut last = core.last_error.lock();
                    if unexpected && last.as_ref() != Some(&why) {
                        core.target.report(format!("{why}; will retry"));
                    }
                    *last = Some(why);
                    drop(last);
                    let wait = backoff.next(settings.retry_min, settings.retry_max);
                    if !core.pause(wait.max(after.unwrap_or_default())) {
                        return false;
                    }
                }
                Outcome::TooLarge { .. } if chunk.len() > 1 => {
                    let second = chunk.split_off(chunk.len() / 2);
                    chunks.push_front(second);
                    chunks.push_front(chunk);
                    continue 'chunks;
                }
                Outcome::Rejected {
                    status: 400,
                    reason,
                } if chunk.len() > 1
                    && http::line_of(&reason).is_some_and(|n| n <= chunk.len()) =>
                {
                    // The server names the bad line: only that event is dead-lettered, the
                    // others (nothing of the batch was stored) are sent again.
                    let n = http::line_of(&reason).unwrap_or(1);
                    let bad = chunk.remove(n - 1);
                    let dead = [DeadItem::Item(item_ref(&core.target.node, bad.0, &bad.1))];
                    if !dead_letter_until_written(core, &dead, Some(400), &reason, backoff) {
                        return false;
                    }
                }
                Outcome::TooLarge { reason } => {
                    if !reject(core, &chunk, 413, &reason, backoff) {
                        return false;
                    }
                    continue 'chunks;
                }
                Outcome::Rejected { status, reason } => {
                    if !reject(core, &chunk, status, &reason, backoff) {
                        return false;
                    }
                    continue 'chunks;
                }
            }
        }
    }
    true
}

/// After a `200`: counts what the server has, and reports what it did not store. A duplicate
/// answer for events never posted before means the server holds other events under this node
/// id and sequence numbers (a probable node id collision: another process with the same node
/// id, or a spool that was reset): those events are dead-lettered, not counted as delivered.
fn stored(
    core: &Core,
    chunk: &[Item],
    answer: BatchAnswer,
    fresh: bool,
    backoff: &mut Backoff,
) -> bool {
    let counters = &core.target.counters;
    let mut delivered = chunk.len() as u64;
    let url = &core.settings().endpoint;
    if fresh && answer.duplicates > 0 {
        // The server's mark only moves up and a chunk's numbers increase: the duplicates are
        // its first events.
        let n = (answer.duplicates as usize).min(chunk.len());
        let last = chunk[n - 1].0;
        let reason = format!(
            "probable node id collision: {url} already holds events of node `{}` up to seq {last} or beyond, so it took {n} events this process never sent before for resends (another process uses the same node id, e.g. a copied spool_dir, or the spool was reset)",
            core.target.node.as_str()
        );
        let dead: Vec<DeadItem> = chunk[..n]
            .iter()
            .map(|(seq, d)| DeadItem::Item(item_ref(&core.target.node, *seq, d)))
            .collect();
        if !dead_letter_until_written(core, &dead, Some(200), &reason, backoff) {
            return false;
        }
        delivered -= n as u64;
    }
    if answer.unrouted > 0 {
        let n = answer.unrouted;
        counters.unrouted.fetch_add(n, Ordering::Relaxed);
        delivered = delivered.saturating_sub(n);
        let message = format!(
            "{url} accepted {n} events that none of its destinations takes (\"unrouted\": check its destinations' topics, routing_keys and required_auth_key); they are in no file there"
        );
        *core.last_error.lock() = Some(message.clone());
        core.target.report(message);
    }
    counters.delivered.fetch_add(delivered, Ordering::Relaxed);
    true
}

fn item_ref<'a>(node: &'a NodeId, seq: u64, d: &'a Decoded) -> ItemRef<'a> {
    ItemRef {
        node,
        seq,
        topic: d.topic,
        routing_key: d.routing_key.as_ref(),
        event: &d.event,
    }
}

/// Dead-letters a whole chunk the server refused.
fn reject(core: &Core, chunk: &[Item], status: u16, reason: &str, backoff: &mut Backoff) -> bool {
    let dead: Vec<DeadItem> = chunk
        .iter()
        .map(|(seq, d)| DeadItem::Item(item_ref(&core.target.node, *seq, d)))
        .collect();
    dead_letter_until_written(core, &dead, Some(status), reason, backoff)
}

/// Writes the dead-letter lines, retrying on I/O errors (the events stay in the spool until
/// they are written); counts them and tells the caller. `false` when asked to stop first.
fn dead_letter_until_written(
    core: &Core,
    items: &[DeadItem],
    status: Option<u16>,
    reason: &str,
    backoff: &mut Backoff,
) -> bool {
    let settings = core.settings();
    let path = core.dir.join(dead_letter::FILE_NAME);
    loop {
        match dead_letter::write(
            &path,
            core.spool.file_mode(),
            items,
            status,
            reason,
            &settings.endpoint,
        ) {
            Ok(()) => break,
            Err(e) => {
                core.target.report(format!(
                    "cannot write the dead-letter file {}: {e}; {} refused events stay in the spool",
                    path.display(),
                    items.len()
                ));
                if !core.pause(backoff.next(settings.retry_min, settings.retry_max)) {
                    return false;
                }
            }
        }
    }
    core.target
        .counters
        .dead_lettered
        .fetch_add(items.len() as u64, Ordering::Relaxed);
    let n = items.len();
    let events = if n == 1 { "event" } else { "events" };
    let url = &settings.endpoint;
    let message = match status {
        Some(200) => format!(
            "{n} {events} taken by {url} for resends ({reason}); written to the dead-letter file {}",
            path.display()
        ),
        Some(401) => format!(
            "auth key rejected by {url} (HTTP 401: {reason}); {n} {events} written to the dead-letter file {}",
            path.display()
        ),
        Some(status) => format!(
            "{n} {events} rejected by {url} (HTTP {status}: {reason}) written to the dead-letter file {}",
            path.display()
        ),
        None => format!(
            "{n} {events} could not be sent ({reason}) and were written to the dead-letter file {}",
            path.display()
        ),
    };
    *core.last_error.lock() = Some(message.clone());
    core.target.report(message);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_within_bounds_and_grows() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(30));
        let mut b = Backoff::new();
        assert_eq!(b.next(min, max), min, "the first cap is retry_min");
        let mut caps = Vec::new();
        for i in 1..40u32 {
            let d = b.next(min, max);
            let cap = min.saturating_mul(1 << i.min(30)).min(max);
            assert!(d >= min && d <= cap, "{i}: {d:?} not in [{min:?}, {cap:?}]");
            caps.push(d);
        }
        // Jitter: not all delays at the cap are equal.
        let tail: std::collections::BTreeSet<_> = caps[20..].iter().collect();
        assert!(tail.len() > 1);
        b.reset();
        assert_eq!(b.next(min, max), min);
        // min == max: always that.
        let one = Duration::from_secs(1);
        assert!((0..10).all(|_| b.next(one, one) == one));
    }
}
