//! Reading a trail on several threads, with the answer of a sequential read.
//!
//! The trail is cut into *units*: a gzip file whole (a deflate stream cannot be entered in
//! the middle), a plain file whole or, when it is at least two chunks long, in byte ranges of
//! about [`ReadOptions::chunk_bytes`] cut just after a newline, so every unit holds whole
//! lines. Worker threads take units in trail order, each feeding its own state (a report);
//! the caller merges the states. Records carry their [`ReadOrder`] (file index, byte offset),
//! so whatever depends on reading order (ties) is decided as a sequential read would.
//!
//! Problems are handed to `on_problem` on the calling thread, in trail order, with their line
//! numbers: a unit counts its lines from its own start, and the calling thread, which learns
//! each unit's line count when it ends, adds the lines of the units before it in the same file.
//! A unit's problems wait while units before it are still being read; past
//! [`PENDING_PROBLEMS`] of them its worker waits too, so memory stays bounded even for a
//! trail of nothing but malformed lines. The summary is the sum of the units': the same totals
//! as one sequential read.
//!
//! One difference remains, on failing hardware only: an I/O error in the middle of a split file
//! ends that unit, not the rest of the file, so the later units of the file are still read.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex};

use flate2::read::MultiGzDecoder;

use super::files::TrailFile;
use super::progress::Progress;
use super::reader::{
    open_or_report, open_regular, read_span, read_trail_in_order, ReadError, ReadOrder,
    ReadSummary, Record, Span,
};

/// The chunk size by default: large enough that a unit's setup (open, seek, find the cut) is
/// noise, small enough that two threads end close together on a trail of a few files.
pub const DEFAULT_CHUNK_BYTES: u64 = 16 << 20;

/// Problems a unit may report ahead of the units before it before its worker waits.
pub const PENDING_PROBLEMS: usize = 4096;

/// How a trail is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    /// Worker threads; 1 reads on the calling thread, as [`read_trail_in_order`].
    pub threads: usize,
    /// The size of the byte ranges plain files are cut into.
    pub chunk_bytes: u64,
}

impl Default for ReadOptions {
    /// One thread per core ([`std::thread::available_parallelism`]), [`DEFAULT_CHUNK_BYTES`].
    fn default() -> Self {
        ReadOptions {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            chunk_bytes: DEFAULT_CHUNK_BYTES,
        }
    }
}

/// A unit of work: lines `start..end` of file `file` (`end: None`: to the end of the file, so
/// lines appended to a live file since the plan are read as a sequential read would).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Unit {
    file: usize,
    start: u64,
    end: Option<u64>,
}

/// Reads `files` on `options.threads` threads. Each worker starts from `fresh()` and hands
/// every record to `on_record` with its state; the states are returned (in no particular
/// order) for the caller to merge. Problems go to `on_problem` on the calling thread, in trail
/// order.
pub fn read_trail_parallel<S: Send>(
    files: &[TrailFile],
    progress: &Progress,
    options: &ReadOptions,
    fresh: impl Fn() -> S + Sync,
    on_record: impl Fn(&mut S, &Record<'_>, ReadOrder) + Sync,
    mut on_problem: impl FnMut(&ReadError),
) -> (ReadSummary, Vec<S>) {
    if options.threads <= 1 {
        let mut state = fresh();
        let summary = read_trail_in_order(
            files,
            progress,
            |record, order| {
                on_record(&mut state, record, order);
                ControlFlow::Continue(())
            },
            on_problem,
        );
        return (summary, vec![state]);
    }
    let units = plan(files, options.chunk_bytes.max(1));
    let workers = options.threads.min(units.len()).max(1);
    let next = AtomicUsize::new(0);
    let gate = Gate {
        head: Mutex::new(0),
        moved: Condvar::new(),
    };
    let (tx, rx) = mpsc::sync_channel::<Message>(1024);
    let mut summary = ReadSummary::default();
    let states = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let tx = tx.clone();
                let (units, next, gate, fresh, on_record) =
                    (&units, &next, &gate, &fresh, &on_record);
                let progress = progress.clone();
                scope.spawn(move || {
                    let mut state = fresh();
                    loop {
                        let u = next.fetch_add(1, Ordering::Relaxed);
                        let Some(unit) = units.get(u) else {
                            break;
                        };
                        let done = read_unit(files, unit, u, &progress, gate, &tx, |r, o| {
                            on_record(&mut state, r, o)
                        });
                        if tx.send(Message::Done(u, done)).is_err() {
                            break;
                        }
                    }
                    state
                })
            })
            .collect();
        drop(tx);
        summary = coordinate(&units, &rx, &gate, &mut on_problem);
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(state) => state,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    (summary, states)
}

/// Where the head of the trail is: the first unit not yet finished.
struct Gate {
    head: Mutex<usize>,
    moved: Condvar,
}

impl Gate {
    fn wait_for(&self, unit: usize) {
        let mut head = self.head.lock().unwrap_or_else(|e| e.into_inner());
        while *head < unit {
            head = self.moved.wait(head).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn set(&self, unit: usize) {
        *self.head.lock().unwrap_or_else(|e| e.into_inner()) = unit;
        self.moved.notify_all();
    }
}

/// What a unit tells the calling thread.
enum Message {
    /// A problem, its line counted from the unit's start.
    Problem(usize, ReadError),
    /// The unit is read.
    Done(usize, UnitDone),
}

struct UnitDone {
    lines: u64,
    summary: ReadSummary,
}

/// Receives the units' messages, hands problems over in trail order with their line numbers,
/// and sums the summaries.
fn coordinate(
    units: &[Unit],
    rx: &mpsc::Receiver<Message>,
    gate: &Gate,
    on_problem: &mut impl FnMut(&ReadError),
) -> ReadSummary {
    let mut summary = ReadSummary::default();
    let mut head = 0usize;
    // Lines of the head unit's file before the head unit.
    let mut base = 0u64;
    let mut pending: BTreeMap<usize, Vec<ReadError>> = BTreeMap::new();
    let mut done: BTreeMap<usize, UnitDone> = BTreeMap::new();
    for message in rx {
        match message {
            Message::Problem(u, mut problem) if u == head => {
                shift_line(&mut problem, base);
                on_problem(&problem);
            }
            Message::Problem(u, problem) => pending.entry(u).or_default().push(problem),
            Message::Done(u, unit_done) => {
                done.insert(u, unit_done);
                while let Some(finished) = done.remove(&head) {
                    add(&mut summary, &finished.summary);
                    let next = head + 1;
                    base = match (units.get(head), units.get(next)) {
                        (Some(a), Some(b)) if a.file == b.file => base + finished.lines,
                        _ => 0,
                    };
                    head = next;
                    gate.set(head);
                    for mut problem in pending.remove(&head).unwrap_or_default() {
                        shift_line(&mut problem, base);
                        on_problem(&problem);
                    }
                }
            }
        }
    }
    summary
}

fn add(total: &mut ReadSummary, part: &ReadSummary) {
    total.files += part.files;
    total.records += part.records;
    total.malformed += part.malformed;
    total.torn += part.torn;
    total.io_errors += part.io_errors;
    total.bytes += part.bytes;
}

/// Adds the lines before a unit to a problem's line number.
fn shift_line(problem: &mut ReadError, base: u64) {
    match problem {
        ReadError::Io { line, .. }
        | ReadError::Torn { line, .. }
        | ReadError::Overlong { line, .. }
        | ReadError::Malformed { line, .. } => *line += base,
        ReadError::NotRegular { .. } => {}
    }
}

/// Reads one unit, sending its problems (waiting when too many are ahead of the head).
fn read_unit(
    files: &[TrailFile],
    unit: &Unit,
    index: usize,
    progress: &Progress,
    gate: &Gate,
    tx: &mpsc::SyncSender<Message>,
    mut on_record: impl FnMut(&Record<'_>, ReadOrder),
) -> UnitDone {
    let file = &files[unit.file];
    let mut summary = ReadSummary {
        files: u64::from(unit.start == 0),
        ..ReadSummary::default()
    };
    let mut sent = 0usize;
    let mut on_problem = |problem: ReadError| {
        sent += 1;
        if sent > PENDING_PROBLEMS {
            gate.wait_for(index);
        }
        let _ = tx.send(Message::Problem(index, problem));
    };
    let mut on_record = |record: &Record<'_>, order| {
        on_record(record, order);
        ControlFlow::Continue(())
    };
    let Some(mut opened) = open_or_report(&file.path, &mut summary, &mut on_problem) else {
        return UnitDone { lines: 0, summary };
    };
    if unit.start > 0 {
        if let Err(source) = opened.seek(SeekFrom::Start(unit.start)) {
            summary.io_errors += 1;
            on_problem(ReadError::Io {
                path: file.path.clone(),
                line: 0,
                source,
            });
            return UnitDone { lines: 0, summary };
        }
    }
    let span = Span {
        file,
        index: unit.file as u64,
        start: unit.start,
    };
    let counted = progress.counting(opened);
    let (_, lines) = match (file.gzip, unit.end) {
        (true, _) => read_span(
            MultiGzDecoder::new(counted),
            &span,
            &mut summary,
            &mut on_record,
            &mut on_problem,
        ),
        (false, Some(end)) => read_span(
            counted.take(end - unit.start),
            &span,
            &mut summary,
            &mut on_record,
            &mut on_problem,
        ),
        (false, None) => read_span(
            counted,
            &span,
            &mut summary,
            &mut on_record,
            &mut on_problem,
        ),
    };
    UnitDone { lines, summary }
}

/// The units of `files`, in trail order.
fn plan(files: &[TrailFile], chunk: u64) -> Vec<Unit> {
    let mut units = Vec::new();
    for (index, file) in files.iter().enumerate() {
        let whole = Unit {
            file: index,
            start: 0,
            end: None,
        };
        let cuts = if file.gzip {
            Vec::new()
        } else {
            // Whatever fails here fails again when the unit is read, and is reported then.
            cut_points(&file.path, chunk).unwrap_or_default()
        };
        if cuts.is_empty() {
            units.push(whole);
            continue;
        }
        let mut start = 0;
        for cut in cuts {
            units.push(Unit {
                file: index,
                start,
                end: Some(cut),
            });
            start = cut;
        }
        units.push(Unit {
            file: index,
            start,
            end: None,
        });
    }
    units
}

/// Where a plain file of at least two chunks is cut: about every `chunk` bytes, just after a
/// newline (the start of a line). Empty for a shorter file.
fn cut_points(path: &std::path::Path, chunk: u64) -> io::Result<Vec<u64>> {
    let Some(mut file) = open_regular(path)? else {
        return Ok(Vec::new());
    };
    let size = file.metadata()?.len();
    let mut cuts = Vec::new();
    if size < chunk.saturating_mul(2) {
        return Ok(cuts);
    }
    let mut at = chunk;
    while at < size {
        match line_start_from(&mut file, at)? {
            Some(cut) if cut < size => {
                cuts.push(cut);
                at = cut.saturating_add(chunk);
            }
            _ => break,
        }
    }
    Ok(cuts)
}

/// The first line start at or after `at` (> 0): just after the first newline at `at − 1` or
/// later; `None` if there is none before the end of the file.
fn line_start_from(file: &mut File, at: u64) -> io::Result<Option<u64>> {
    let mut pos = at - 1;
    file.seek(SeekFrom::Start(pos))?;
    let mut buf = [0u8; 8192];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => return Ok(None),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if let Some(i) = memchr::memchr(b'\n', &buf[..n]) {
            return Ok(Some(pos + i as u64 + 1));
        }
        pos += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_fall_just_after_newlines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        std::fs::write(&path, "aaaa\nbb\ncccccccccc\nd\n\neeee").unwrap();
        // Every chunk size: cuts at line starts only, increasing, inside the file.
        let starts = [5u64, 8, 19, 21, 22];
        for chunk in 1..30 {
            let cuts = cut_points(&path, chunk).unwrap();
            assert!(cuts.iter().all(|c| starts.contains(c)), "{chunk}: {cuts:?}");
            assert!(cuts.windows(2).all(|w| w[0] < w[1]), "{chunk}: {cuts:?}");
            if chunk * 2 > 27 {
                assert!(cuts.is_empty());
            }
        }
        assert_eq!(cut_points(&path, 1).unwrap(), starts);
        assert_eq!(cut_points(&path, 6).unwrap(), [8, 19]);
    }
}
