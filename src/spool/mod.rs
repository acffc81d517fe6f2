//! # Durable spool for remote targets
//!
//! Remote targets (`event_server`, `kafka`, `syslog`) put encoded events here and a background
//! thread sends them, so the logging caller never waits on the network (DESIGN.md §4).
//! Nothing [`Spool::append`] accepted is lost when the process is killed (`kill -9`) or
//! restarted: records leave the disk only after [`Spool::ack`] says the destination has them.
//! Each record gets a per-node sequence number that is never reused, so `(node_id, seq)` is the
//! stable event id the Event Server deduplicates on (delivery is at-least-once).
//!
//! ## On-disk format
//!
//! All files live in [`SpoolOptions::dir`]:
//!
//! - `<first-seq>.seg`: segments, named by the sequence number of their first record in 20
//!   decimal digits so names sort in order. A segment is a run of records with consecutive
//!   sequence numbers; the next segment starts right after the previous one's last record.
//!   Appends go to the last segment until it would exceed [`SpoolOptions::segment_bytes`].
//! - Each record: magic/version byte `0xA1`, sequence number (u64 LE), payload length (u32 LE),
//!   payload, CRC32 (u32 LE, `crc32fast`) over sequence number, length and payload.
//! - `ack`: the highest acknowledged sequence number, in two checksummed fixed-size slots
//!   rewritten in place, older slot first (`ack.rs`): an ack needs no new block, so a spool that
//!   filled its disk still drains. Segments whose records are all acknowledged are deleted,
//!   except the one being appended to.
//! - `*.seg.damaged`: a segment found damaged at open, set aside and reported.
//! - `node-id`: this spool's node id (16 hex digits, generated once).
//! - `lock`: held with `flock` while a [`Spool`] is open, so two processes never share segments.
//!
//! ## Recovery
//!
//! [`Spool::open`] verifies every record. A bad record (cut short, wrong magic byte or checksum)
//! with nothing intact after it at the end of the last segment is what a crash in the middle of
//! an append leaves: it is truncated away and reported by [`Spool::recovered`]. A bad record
//! followed by intact ones, at the end of an earlier segment, or a gap in the sequence numbers
//! is [`SpoolError::Corrupt`] naming the file and offset: dropping it would lose records.
//! Sequence numbers continue after the highest found (or the ack mark if that is higher).
//!
//! With [`Fsync::Batch`] an append returns, and its records become readable, only
//! after they are on disk, so even a power loss keeps them. With [`Fsync::None`] a process
//! crash loses nothing (the data is in the OS), but a power loss can lose recent records and
//! reuse their sequence numbers.
//!
//! ## Around the spool
//!
//! What every spooled appender shares, whatever its destination: `group` (concurrent logging
//! calls share one append), `registry` (one open spool per directory in the process),
//! `channel` (the spool, its group commit and its delivery thread, shared by the appenders of
//! a directory; each target implements only its own delivery) and `config` (the spool options
//! as the appenders' YAML writes them).

mod ack;
pub(crate) mod channel;
pub(crate) mod config;
mod files;
pub(crate) mod group;
mod record;
pub(crate) mod registry;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::file_mode::FileMode;

/// Where and how a [`Spool`] keeps its records.
#[derive(Clone, Debug)]
pub struct SpoolOptions {
    /// Directory of the segments, `ack`, `node-id` and `lock` files; created if missing.
    pub dir: PathBuf,
    /// Size at which appends move to a new segment (a larger batch gets a segment of its own).
    /// Acknowledged space is reclaimed a whole segment at a time. Default 8 MiB.
    pub segment_bytes: u64,
    /// `spool_max_bytes`: appends wait (or fail) while unacknowledged records take this many
    /// bytes on disk. Default 1 GiB.
    pub max_bytes: u64,
    /// When appended records reach the disk.
    pub fsync: Fsync,
    /// What an append does when the spool is full.
    pub when_full: WhenFull,
    /// Mode of the folder and the files created in it (`file_mode`; the dead letters too).
    pub file_mode: FileMode,
}

impl SpoolOptions {
    /// The defaults, in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        SpoolOptions {
            dir: dir.into(),
            segment_bytes: 8 << 20,
            max_bytes: 1 << 30,
            fsync: Fsync::Batch,
            when_full: WhenFull::default(),
            file_mode: FileMode::default(),
        }
    }
}

/// When appended records are fsynced: before [`Spool::append`] returns (`Batch`, survives a
/// power loss) or when the OS decides (`None`, survives a process crash).
pub use crate::delivery::Fsync;

/// What [`Spool::append`] does while the spool holds [`SpoolOptions::max_bytes`] or more:
/// block, or fail with [`SpoolError::Full`] (no spooled kind takes `drop`; `async` does that in
/// front of one).
pub use crate::delivery::WhenFull;

/// A record read back from the spool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spooled {
    /// Its sequence number, unique for this node.
    pub seq: u64,
    /// The bytes given to [`Spool::append`].
    pub payload: Vec<u8>,
}

/// Why a spool operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpoolError {
    /// Reading or writing a spool file failed.
    #[error("spool I/O error on {}{}: {source}", .path.display(), at(.offset))]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Where in the file, when it matters.
        offset: Option<u64>,
        /// The OS error.
        source: io::Error,
    },
    /// A spool file holds something it must not; nothing was dropped.
    #[error("corrupt spool file {} at offset {offset}: {reason}", .path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Byte offset of the first bad record.
        offset: u64,
        /// What is wrong there.
        reason: String,
    },
    /// The spool is full and [`WhenFull::Error`] is set.
    #[error("spool full: {pending_bytes} unacknowledged bytes, limit {max_bytes}")]
    Full {
        /// Bytes waiting for acknowledgement.
        pending_bytes: u64,
        /// [`SpoolOptions::max_bytes`].
        max_bytes: u64,
    },
    /// Another spool (in this or another process) has the directory open.
    #[error("spool directory is in use: {} is locked", .path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// A payload is longer than a record can hold (u32 length).
    #[error("spool record of {len} bytes is too large")]
    TooLarge {
        /// The payload's length.
        len: usize,
    },
    /// An acknowledgement for records never appended.
    #[error("ack of sequence {up_to} but the last record is {last}")]
    AckBeyondEnd {
        /// The sequence acknowledged.
        up_to: u64,
        /// The last sequence appended.
        last: u64,
    },
    /// A failed append could not be undone; appends fail until the spool is reopened, which
    /// repairs the segment.
    #[error("spool unusable until reopened: {0}")]
    Broken(String),
}

fn at(offset: &Option<u64>) -> String {
    offset.map_or_else(String::new, |o| format!(" at offset {o}"))
}

impl SpoolError {
    fn corrupt(path: &Path, offset: u64, reason: impl Into<String>) -> Self {
        let (path, reason) = (path.to_owned(), reason.into());
        SpoolError::Corrupt {
            path,
            offset,
            reason,
        }
    }

    fn io(path: &Path, offset: impl Into<Option<u64>>, source: io::Error) -> Self {
        SpoolError::Io {
            path: path.to_owned(),
            offset: offset.into(),
            source,
        }
    }
}

/// The durable queue; `Send + Sync`, shared by appending callers and one reader thread.
pub struct Spool {
    dir: PathBuf,
    segment_bytes: u64,
    max_bytes: u64,
    fsync: bool,
    when_full: WhenFull,
    file_mode: FileMode,
    node_id: String,
    recovered: Vec<String>,
    /// Separate from `state` so appends write and fsync without blocking the reader or acks.
    writer: Mutex<Writer>,
    reader: Mutex<Reader>,
    /// Serialises acks, so the `ack` file only moves forward.
    acker: Mutex<ack::AckFile>,
    state: Mutex<State>,
    data_ready: Condvar,
    space_freed: Condvar,
    rewind: AtomicBool,
    _lock: File,
}

/// The segment appends go to.
struct Writer {
    file: File,
    first_seq: u64,
    len: u64,
    next_seq: u64,
    broken: Option<String>,
}

/// Where the next [`Spool::read_batch`] continues: record `next_seq` at `offset` of `segment`.
#[derive(Clone, Copy)]
struct Reader {
    next_seq: u64,
    segment: u64,
    offset: u64,
}

#[derive(Clone, Copy, Debug)]
struct Segment {
    first_seq: u64,
    /// `first_seq - 1` while empty.
    last_seq: u64,
    /// Bytes of committed records.
    len: u64,
    /// Offset of the first unacknowledged record (`len` if none).
    acked_to: u64,
}

/// What appenders, reader and acks share. Only committed records (written and, per the
/// policy, fsynced) are counted here, so the reader never sends what a crash could take back.
struct State {
    /// Oldest first; the last is the one appends go to and is never deleted.
    segments: VecDeque<Segment>,
    last_seq: u64,
    acked: u64,
    pending_bytes: u64,
}

impl Segment {
    fn empty(first_seq: u64) -> Segment {
        let last_seq = first_seq - 1;
        Segment {
            first_seq,
            last_seq,
            len: 0,
            acked_to: 0,
        }
    }
}

impl State {
    /// Takes wholly acknowledged segments off the list, oldest first, except the active one.
    fn take_acked(&mut self) -> Vec<u64> {
        let mut doomed = Vec::new();
        while self.segments.len() > 1 && self.segments[0].last_seq <= self.acked {
            doomed.extend(self.segments.pop_front().map(|s| s.first_seq));
        }
        doomed
    }

    fn first_unacked(&self) -> Reader {
        let next_seq = self.acked + 1;
        // All acknowledged: right after the last record, in the active segment.
        let unacked = self.segments.iter().find(|s| s.last_seq > self.acked);
        let (segment, offset) = match unacked.or(self.segments.back()) {
            Some(s) => (s.first_seq, s.acked_to),
            None => (next_seq, 0),
        };
        Reader {
            // Past a quarantined segment's gap, numbers start at the next segment's first.
            next_seq: next_seq.max(segment),
            segment,
            offset,
        }
    }
}

/// Whether the segment that would start at `first` was quarantined: the gap is known.
fn quarantined_at(dir: &Path, first: u64) -> bool {
    let mut aside = files::segment_path(dir, first).into_os_string();
    aside.push(".damaged");
    Path::new(&aside).exists()
}

/// The acknowledged mark persisted in spool directory `dir` (0 when nothing was acknowledged
/// yet), read without opening the spool: for tools and tests watching delivery from outside.
pub fn acknowledged(dir: &Path) -> Result<u64, SpoolError> {
    ack::read(dir).map(|(acked, _)| acked)
}

impl Spool {
    /// Opens (or creates) the spool in `options.dir`, recovering from a crash as described in
    /// the [module docs](self).
    pub fn open(options: SpoolOptions) -> Result<Spool, SpoolError> {
        let dir = options.dir.clone();
        let fsync = options.fsync == Fsync::Batch;
        let mode = options.file_mode;
        mode.create_dir_all(&dir)
            .map_err(|e| SpoolError::io(&dir, None, e))?;
        let lock = files::lock_dir(&dir, mode)?;
        let node_id = files::node_id(&dir, mode)?;
        let (acked, ack_file) = ack::open(&dir, fsync, mode)?;
        if acked == u64::MAX {
            let path = dir.join("ack");
            return Err(SpoolError::corrupt(
                &path,
                0,
                "acknowledged sequence out of range",
            ));
        }
        let (mut firsts, mut recovered) = files::list_segments(&dir)?;
        // Empty last segments (a fresh roll, or one that failed after creating its file) hold
        // nothing: remove them, so the segment before is the tail whose torn end is recoverable.
        while let Some(&last) = firsts.last() {
            let path = files::segment_path(&dir, last);
            let empty = fs::metadata(&path).map(|m| m.len() == 0).unwrap_or(false);
            if !empty || firsts.len() == 1 {
                break;
            }
            fs::remove_file(&path).map_err(|e| SpoolError::io(&path, None, e))?;
            firsts.pop();
        }
        let mut segments = Vec::with_capacity(firsts.len());
        let mut expect: Option<u64> = None;
        // Numbers a quarantined last segment may hold: not handed out again.
        let mut reserved = 0;
        for (i, &first) in firsts.iter().enumerate() {
            let path = files::segment_path(&dir, first);
            let bytes = fs::read(&path).map_err(|e| SpoolError::io(&path, None, e))?;
            let checked =
                record::scan(&bytes, first, acked, &path).and_then(|scanned| match scanned.torn {
                    Some((offset, reason)) if i + 1 < firsts.len() => {
                        let reason = format!("{reason}, in a segment that is not the last");
                        Err(SpoolError::corrupt(&path, offset, reason))
                    }
                    _ => Ok(scanned),
                });
            let scanned = match checked {
                Ok(scanned) => scanned,
                Err(damage) => {
                    // One damaged segment must not stop the others (nor the process's other
                    // targets): set it aside for inspection, say so, and go on.
                    let aside = files::quarantine(&path, fsync)?;
                    // Its last number is just before the next segment's first, or (the last
                    // segment) at most one per smallest record.
                    let last = match firsts.get(i + 1) {
                        Some(&next) => next - 1,
                        None => first.saturating_add(bytes.len() as u64 / record::size(0) as u64),
                    };
                    reserved = reserved.max(last);
                    recovered.push(format!(
                        "{damage}: segment moved to {}; its unacknowledged records (sequences {first} to at most {last}) will not be sent",
                        aside.display()
                    ));
                    continue;
                }
            };
            if let Some((offset, reason)) = scanned.torn {
                truncate(&path, offset, fsync)?;
                recovered.push(format!(
                    "{}: removed {} bytes of a torn or corrupt last record at offset {offset} ({reason})",
                    path.display(),
                    bytes.len() as u64 - offset
                ));
            }
            if fsync && scanned.len > 0 {
                // Records a killed process wrote but never synced are about to be sent; make
                // them durable first, or a power loss could hand their numbers to new events.
                fs::File::open(&path)
                    .and_then(|f| f.sync_all())
                    .map_err(|e| SpoolError::io(&path, None, e))?;
            }
            if let Some(last) = scanned.last_seq {
                // Segments are deleted oldest first, so only acknowledged records may be missing.
                let e = expect.unwrap_or(first.min(acked + 1));
                if first != e && !quarantined_at(&dir, e) {
                    let reason =
                        format!("segment starts at sequence {first} where {e} was expected");
                    return Err(SpoolError::corrupt(&path, 0, reason));
                }
                expect = Some(last + 1);
            }
            segments.push(Segment {
                first_seq: first,
                last_seq: scanned.last_seq.unwrap_or(first - 1),
                len: scanned.len,
                acked_to: scanned.first_unacked,
            });
        }
        let highest = segments.iter().filter(|s| s.len > 0).map(|s| s.last_seq);
        let reserved = reserved.max(files::damaged_reserve(&dir)?);
        let next_seq = highest.max().unwrap_or(0).max(acked).max(reserved) + 1;
        let reusable = |s: &Segment| s.last_seq + 1 == next_seq && s.len < options.segment_bytes;
        let active = match segments.last() {
            Some(s) if reusable(s) => segments.pop(),
            _ => None,
        };
        let mut kept = VecDeque::with_capacity(segments.len() + 1);
        for s in segments {
            if s.len > 0 && s.last_seq > acked {
                kept.push_back(s);
            } else {
                let path = files::segment_path(&dir, s.first_seq);
                fs::remove_file(&path).map_err(|e| SpoolError::io(&path, None, e))?;
            }
        }
        let active = active.unwrap_or(Segment::empty(next_seq));
        let file = open_segment(&dir, active.first_seq, mode)?;
        kept.push_back(active);
        if fsync {
            files::sync_dir(&dir)?;
        }
        let state = State {
            pending_bytes: kept.iter().map(|s| s.len - s.acked_to).sum(),
            segments: kept,
            last_seq: next_seq - 1,
            acked,
        };
        Ok(Spool {
            segment_bytes: options.segment_bytes,
            max_bytes: options.max_bytes,
            fsync,
            when_full: options.when_full,
            file_mode: mode,
            node_id,
            recovered,
            writer: Mutex::new(Writer {
                file,
                first_seq: active.first_seq,
                len: active.len,
                next_seq,
                broken: None,
            }),
            reader: Mutex::new(state.first_unacked()),
            acker: Mutex::new(ack_file),
            state: Mutex::new(state),
            data_ready: Condvar::new(),
            space_freed: Condvar::new(),
            rewind: AtomicBool::new(false),
            _lock: lock,
            dir,
        })
    }

    /// The mode of the files created in the spool's folder (the dead-letter file too).
    pub fn file_mode(&self) -> FileMode {
        self.file_mode
    }

    /// This node's stable id (from `<dir>/node-id`); with a sequence number it identifies an
    /// event across retries and restarts.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// What [`Spool::open`] repaired: one line per torn tail truncated or file ignored.
    pub fn recovered(&self) -> &[String] {
        &self.recovered
    }

    /// Appends `records` with consecutive sequence numbers in one write, fsyncing per the
    /// policy before returning; returns the last record's sequence number (with no records,
    /// the last one appended before). A full spool blocks or fails per [`WhenFull`].
    pub fn append(&self, records: &[&[u8]]) -> Result<u64, SpoolError> {
        let mut w = self.writer.lock();
        if let Some(reason) = &w.broken {
            return Err(SpoolError::Broken(reason.clone()));
        }
        if records.is_empty() {
            return Ok(w.next_seq - 1);
        }
        if let Some(r) = records.iter().find(|r| u32::try_from(r.len()).is_err()) {
            return Err(SpoolError::TooLarge { len: r.len() });
        }
        {
            let mut st = self.state.lock();
            while st.pending_bytes >= self.max_bytes {
                match self.when_full {
                    WhenFull::Error | WhenFull::Drop => {
                        return Err(SpoolError::Full {
                            pending_bytes: st.pending_bytes,
                            max_bytes: self.max_bytes,
                        })
                    }
                    WhenFull::Block => self.space_freed.wait(&mut st),
                }
            }
        }
        let size: usize = records.iter().map(|r| record::size(r.len())).sum();
        let mut buf = Vec::with_capacity(size);
        for (seq, payload) in (w.next_seq..).zip(records) {
            record::encode(&mut buf, seq, payload);
        }
        let last = w.next_seq + records.len() as u64 - 1;
        if w.len > 0 && w.len + size as u64 > self.segment_bytes {
            self.roll(&mut w)?;
        }
        let start = w.len;
        let written = w.file.write_all(&buf).and_then(|()| {
            if self.fsync {
                w.file.sync_data()
            } else {
                Ok(())
            }
        });
        if let Err(e) = written {
            // Cut back to the last whole record so the segment stays valid and sequence
            // numbers contiguous; if even that fails, reopening repairs the tail.
            let path = files::segment_path(&self.dir, w.first_seq);
            if let Err(undo) = w.file.set_len(start) {
                let at = format!("{} at offset {start}", path.display());
                w.broken = Some(format!("{at}: failed append not undone: {undo}"));
            }
            return Err(SpoolError::io(&path, start, e));
        }
        w.len += size as u64;
        w.next_seq = last + 1;
        {
            let mut st = self.state.lock();
            if let Some(active) = st.segments.back_mut() {
                active.len = w.len;
                active.last_seq = last;
            }
            st.last_seq = last;
            st.pending_bytes += size as u64;
        }
        self.data_ready.notify_all();
        Ok(last)
    }

    /// Starts a new segment at the next sequence number.
    fn roll(&self, w: &mut Writer) -> Result<(), SpoolError> {
        let file = open_segment(&self.dir, w.next_seq, self.file_mode)?;
        if self.fsync {
            files::sync_dir(&self.dir)?;
        }
        w.file = file;
        w.first_seq = w.next_seq;
        w.len = 0;
        let doomed = {
            let mut st = self.state.lock();
            st.segments.push_back(Segment::empty(w.next_seq));
            st.take_acked()
        };
        // The append must not fail over a cleanup: `open` removes what is left behind.
        let _ = self.remove_segments(&doomed);
        Ok(())
    }

    /// Deletes segments taken off the list by [`State::take_acked`].
    fn remove_segments(&self, firsts: &[u64]) -> Result<(), SpoolError> {
        for &first in firsts {
            let path = files::segment_path(&self.dir, first);
            fs::remove_file(&path).map_err(|e| SpoolError::io(&path, None, e))?;
        }
        if self.fsync && !firsts.is_empty() {
            files::sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// The next unacknowledged records after the reader's cursor, in order: at most
    /// `max_records`, and no more once `max_bytes` of payload are reached (but at least one).
    /// Waits up to `wait` for records to arrive; empty if none did.
    pub fn read_batch(
        &self,
        max_records: usize,
        max_bytes: usize,
        wait: Duration,
    ) -> Result<Vec<Spooled>, SpoolError> {
        if max_records == 0 {
            return Ok(Vec::new());
        }
        let mut reader = self.reader.lock();
        let deadline = Instant::now().checked_add(wait);
        let mut pos = *reader;
        let (segments, last_seq) = {
            let mut st = self.state.lock();
            loop {
                if self.rewind.swap(false, Ordering::AcqRel) || pos.next_seq <= st.acked {
                    pos = st.first_unacked();
                }
                if st.last_seq >= pos.next_seq {
                    break;
                }
                match deadline {
                    Some(d) if Instant::now() >= d => {
                        *reader = pos;
                        return Ok(Vec::new());
                    }
                    Some(d) => {
                        let _ = self.data_ready.wait_until(&mut st, d);
                    }
                    None => self.data_ready.wait(&mut st),
                }
            }
            let from = pos.segment;
            let segments = st.segments.iter().filter(|s| s.first_seq >= from);
            (segments.copied().collect::<Vec<_>>(), st.last_seq)
        };
        let mut out = Vec::new();
        let mut bytes = 0;
        let done = |pos: &Reader, n: usize, bytes: usize| {
            pos.next_seq > last_seq || n >= max_records || (n > 0 && bytes >= max_bytes)
        };
        for segment in segments {
            if done(&pos, out.len(), bytes) {
                break;
            }
            if segment.first_seq != pos.segment {
                // Every record of the previous segment has been read; numbers go on at this
                // one's first (the same, unless a quarantined segment left a gap).
                (pos.segment, pos.offset) = (segment.first_seq, 0);
                pos.next_seq = pos.next_seq.max(segment.first_seq);
            }
            if pos.offset >= segment.len {
                continue;
            }
            let (path, mut input) = match self.segment_reader(&segment, pos.offset) {
                Ok(opened) => opened,
                // Acknowledged and deleted meanwhile by another thread: the next call skips it.
                Err(_) if self.state.lock().acked >= pos.next_seq => break,
                Err(e) => return Err(e),
            };
            while pos.offset < segment.len && !done(&pos, out.len(), bytes) {
                let (payload, size) =
                    record::read(&mut input, &path, pos.offset, segment.len, pos.next_seq)?;
                bytes += payload.len();
                let seq = pos.next_seq;
                out.push(Spooled { seq, payload });
                pos.offset += size as u64;
                pos.next_seq += 1;
            }
        }
        *reader = pos;
        Ok(out)
    }

    /// Records up to `up_to_seq` are delivered: persists the ack mark, deletes segments that
    /// are wholly acknowledged and wakes appenders waiting for space. Older marks are no-ops.
    pub fn ack(&self, up_to_seq: u64) -> Result<(), SpoolError> {
        let mut ack_file = self.acker.lock();
        let (segment, from) = {
            let st = self.state.lock();
            if up_to_seq <= st.acked {
                return Ok(());
            }
            if up_to_seq > st.last_seq {
                return Err(SpoolError::AckBeyondEnd {
                    up_to: up_to_seq,
                    last: st.last_seq,
                });
            }
            let holds = |s: &&Segment| s.first_seq <= up_to_seq && up_to_seq <= s.last_seq;
            let Some(&segment) = st.segments.iter().find(holds) else {
                let reason = format!("no segment holds sequence {up_to_seq}");
                return Err(SpoolError::corrupt(&self.dir, 0, reason));
            };
            // Start the header walk at the first unacknowledged record when it is in there.
            let from = if segment.first_seq <= st.acked {
                (segment.acked_to, st.acked + 1)
            } else {
                (0, segment.first_seq)
            };
            (segment, from)
        };
        let end = if up_to_seq == segment.last_seq {
            segment.len
        } else {
            self.offset_after(&segment, from, up_to_seq)?
        };
        // In place: no new block, so acks (which free the space) work on a full disk.
        ack_file.write(&self.dir, up_to_seq)?;
        let doomed = {
            let mut st = self.state.lock();
            st.acked = up_to_seq;
            for s in st.segments.iter_mut() {
                if s.first_seq == segment.first_seq {
                    s.acked_to = end;
                } else if s.last_seq <= up_to_seq {
                    s.acked_to = s.len;
                }
            }
            st.pending_bytes = st.segments.iter().map(|s| s.len - s.acked_to).sum();
            st.take_acked()
        };
        self.space_freed.notify_all();
        // A segment left behind by a failure here is wholly acknowledged: `open` removes it.
        self.remove_segments(&doomed)
    }

    /// Offset just past record `target` of `segment`, reading from `from` (offset and
    /// sequence number of a record at or before it).
    fn offset_after(
        &self,
        segment: &Segment,
        from: (u64, u64),
        target: u64,
    ) -> Result<u64, SpoolError> {
        let (mut offset, mut seq) = from;
        let (path, mut input) = self.segment_reader(segment, offset)?;
        loop {
            offset += record::read(&mut input, &path, offset, segment.len, seq)?.1 as u64;
            if seq == target {
                return Ok(offset);
            }
            seq += 1;
        }
    }

    /// Reads `segment` from `offset`, never past its committed length: beyond it an append
    /// may be half written.
    fn segment_reader(
        &self,
        segment: &Segment,
        offset: u64,
    ) -> Result<(PathBuf, impl Read), SpoolError> {
        let path = files::segment_path(&self.dir, segment.first_seq);
        let mut file = File::open(&path).map_err(|e| SpoolError::io(&path, None, e))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| SpoolError::io(&path, offset, e))?;
        let limit = segment.len.saturating_sub(offset);
        Ok((path, BufReader::with_capacity(64 << 10, file.take(limit))))
    }

    /// After a failed send: the next [`Spool::read_batch`] starts again from the first
    /// unacknowledged record.
    pub fn rewind(&self) {
        self.rewind.store(true, Ordering::Release);
        self.data_ready.notify_all();
    }

    /// The sequence number of the last record appended (0 when none ever was).
    pub fn last_seq(&self) -> u64 {
        self.state.lock().last_seq
    }

    /// Unacknowledged records and the bytes they take on disk.
    pub fn pending(&self) -> (u64, u64) {
        let st = self.state.lock();
        (st.last_seq - st.acked, st.pending_bytes)
    }
}

/// Opens segment `first` for appending, creating it if needed.
fn open_segment(dir: &Path, first: u64, mode: FileMode) -> Result<File, SpoolError> {
    let path = files::segment_path(dir, first);
    mode.open_append(&path)
        .map_err(|e| SpoolError::io(&path, None, e))
}

/// Cuts a segment back to its last intact record.
fn truncate(path: &Path, len: u64, fsync: bool) -> Result<(), SpoolError> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| SpoolError::io(path, None, e))?;
    file.set_len(len)
        .and_then(|()| if fsync { file.sync_all() } else { Ok(()) })
        .map_err(|e| SpoolError::io(path, len, e))
}
