//! Group commit into the spool: concurrent logging calls share one [`Spool::append`] (one write,
//! one fsync).
//!
//! A caller queues its payload; if no caller is appending, it becomes the leader and appends
//! everything queued (its own and what arrives meanwhile) in one call per round, until the
//! queue is empty. Followers wait until the round holding their payload is done and get its
//! outcome. Like [`LineSink`](crate::append) for files.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use crate::spool::{Spool, SpoolError};

#[derive(Default)]
struct Queue {
    /// Payloads not yet appended, back to back, and where each ends.
    bytes: Vec<u8>,
    ends: Vec<usize>,
    /// Spare buffers swapped in, so the steady state allocates nothing.
    spare_bytes: Vec<u8>,
    spare_ends: Vec<usize>,
    /// Payloads accepted / appended (or failed) so far, in call order.
    accepted: u64,
    done: u64,
    appending: bool,
    /// Failed rounds: payloads `(from, to]` and why, kept while a caller of one may still look.
    failures: VecDeque<(u64, u64, String)>,
    /// Payloads whose callers have not yet looked at their outcome.
    waiting: Vec<u64>,
    /// Spool sequence number of each done payload is `first_seq + (n - from - 1)` of its round;
    /// kept per round while needed: `(from, to, first_seq)`.
    rounds: VecDeque<(u64, u64, u64)>,
}

/// The appending side of a spool, shared by every appender using it.
pub(crate) struct GroupCommit {
    spool: Arc<Spool>,
    queue: Mutex<Queue>,
    appended: Condvar,
    /// Sequence number of the last record appended.
    last_seq: AtomicU64,
}

impl GroupCommit {
    pub(crate) fn new(spool: Arc<Spool>) -> Result<GroupCommit, SpoolError> {
        let last = spool.append(&[])?;
        Ok(GroupCommit {
            spool,
            queue: Mutex::new(Queue::default()),
            appended: Condvar::new(),
            last_seq: AtomicU64::new(last),
        })
    }

    /// The sequence number of the last record appended so far.
    pub(crate) fn last_seq(&self) -> u64 {
        self.last_seq.load(Ordering::Acquire)
    }

    /// Appends one payload, sharing the spool append with concurrent callers; returns its
    /// sequence number once it is in the spool (fsynced per the spool's policy), or why the
    /// spool refused it.
    pub(crate) fn submit(&self, payload: &[u8]) -> Result<u64, String> {
        let mut q = self.queue.lock();
        q.bytes.extend_from_slice(payload);
        let end = q.bytes.len();
        q.ends.push(end);
        q.accepted += 1;
        let mine = q.accepted;
        q.waiting.push(mine);
        if !q.appending {
            self.lead(&mut q);
        }
        while q.done < mine {
            self.appended.wait(&mut q);
        }
        let outcome = outcome_of(&q, mine);
        if let Some(i) = q.waiting.iter().position(|&w| w == mine) {
            q.waiting.swap_remove(i);
        }
        q.forget_unneeded();
        outcome
    }

    /// Appends rounds until the queue is empty; called with the queue locked, unlocks it while
    /// appending.
    fn lead(&self, q: &mut parking_lot::MutexGuard<'_, Queue>) {
        q.appending = true;
        while !q.ends.is_empty() {
            let spare_bytes = std::mem::take(&mut q.spare_bytes);
            let spare_ends = std::mem::take(&mut q.spare_ends);
            let mut bytes = std::mem::replace(&mut q.bytes, spare_bytes);
            let mut ends = std::mem::replace(&mut q.ends, spare_ends);
            let from = q.done;
            let to = q.accepted;
            let result = parking_lot::MutexGuard::unlocked(q, || {
                let mut start = 0;
                let records: Vec<&[u8]> = ends
                    .iter()
                    .map(|&end| {
                        let r = &bytes[start..end];
                        start = end;
                        r
                    })
                    .collect();
                self.spool.append(&records)
            });
            bytes.clear();
            ends.clear();
            q.spare_bytes = bytes;
            q.spare_ends = ends;
            q.done = to;
            match result {
                Ok(last) => {
                    self.last_seq.store(last, Ordering::Release);
                    let first = last + 1 - (to - from);
                    q.rounds.push_back((from, to, first));
                }
                Err(e) => q.failures.push_back((from, to, e.to_string())),
            }
            q.forget_unneeded();
            self.appended.notify_all();
        }
        q.appending = false;
    }
}

impl Queue {
    /// Drops rounds and failures that no waiting caller can be in.
    fn forget_unneeded(&mut self) {
        let first = self.waiting.iter().min().copied();
        let needed = |to: u64| first.is_some_and(|w| w <= to);
        while self.failures.front().is_some_and(|f| !needed(f.1)) {
            self.failures.pop_front();
        }
        while self.rounds.front().is_some_and(|r| !needed(r.1)) {
            self.rounds.pop_front();
        }
    }
}

fn outcome_of(q: &Queue, n: u64) -> Result<u64, String> {
    let within = |from: u64, to: u64| n > from && n <= to;
    if let Some((_, _, why)) = q.failures.iter().find(|f| within(f.0, f.1)) {
        return Err(why.clone());
    }
    match q.rounds.iter().find(|r| within(r.0, r.1)) {
        Some(&(from, _, first)) => Ok(first + (n - from - 1)),
        None => Err("the outcome of the spool append was lost".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spool::SpoolOptions;

    #[test]
    fn concurrent_callers_get_their_own_sequence_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Arc::new(Spool::open(SpoolOptions::new(dir.path())).unwrap());
        let group = GroupCommit::new(Arc::clone(&spool)).unwrap();
        assert_eq!(group.last_seq(), 0);
        let seqs = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for t in 0..4u8 {
                let (group, seqs) = (&group, &seqs);
                s.spawn(move || {
                    for i in 0..200u32 {
                        let payload = format!("{t}-{i}");
                        let seq = group.submit(payload.as_bytes()).unwrap();
                        seqs.lock().push((seq, payload));
                    }
                });
            }
        });
        let mut seqs = seqs.into_inner();
        seqs.sort();
        assert_eq!(seqs.len(), 800);
        assert_eq!(group.last_seq(), 800);
        let read = spool
            .read_batch(1000, usize::MAX, std::time::Duration::ZERO)
            .unwrap();
        for ((seq, payload), rec) in seqs.iter().zip(&read) {
            assert_eq!((*seq, payload.as_bytes()), (rec.seq, &rec.payload[..]));
        }
        let q = group.queue.lock();
        assert!(q.failures.is_empty() && q.rounds.is_empty() && q.waiting.is_empty());
    }

    #[test]
    fn a_full_spool_fails_the_callers_of_that_round() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = SpoolOptions::new(dir.path());
        opts.max_bytes = 10;
        opts.when_full = crate::spool::WhenFull::Error;
        let spool = Arc::new(Spool::open(opts).unwrap());
        let group = GroupCommit::new(spool).unwrap();
        assert_eq!(group.submit(b"0123456789abc").unwrap(), 1);
        let e = group.submit(b"x").unwrap_err();
        assert!(e.contains("spool full"), "{e}");
    }
}
