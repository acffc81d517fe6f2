use std::path::Path;
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;

const NO_WAIT: Duration = Duration::ZERO;

fn options(dir: &Path, segment_bytes: u64) -> SpoolOptions {
    SpoolOptions {
        segment_bytes,
        ..SpoolOptions::new(dir)
    }
}

fn open(dir: &Path, segment_bytes: u64) -> Spool {
    Spool::open(options(dir, segment_bytes)).unwrap()
}

fn segments(dir: &Path) -> Vec<u64> {
    files::list_segments(dir).unwrap().0
}

fn payload(seq: u64) -> Vec<u8> {
    format!("event-{seq}-{}", "x".repeat((seq % 7) as usize)).into_bytes()
}

/// Appends records `from..=to` one batch of `batch` at a time, checking the returned seqs.
fn append_range(spool: &Spool, from: u64, to: u64, batch: u64) {
    let mut seq = from;
    while seq <= to {
        let last = (seq + batch - 1).min(to);
        let payloads: Vec<Vec<u8>> = (seq..=last).map(payload).collect();
        let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        assert_eq!(spool.append(&refs).unwrap(), last);
        seq = last + 1;
    }
}

fn read_all(spool: &Spool) -> Vec<Spooled> {
    let mut out = Vec::new();
    loop {
        let batch = spool.read_batch(7, 1 << 20, NO_WAIT).unwrap();
        if batch.is_empty() {
            return out;
        }
        out.extend(batch);
    }
}

fn assert_records(records: &[Spooled], from: u64, to: u64) {
    let seqs: Vec<u64> = records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (from..=to).collect::<Vec<_>>());
    for r in records {
        assert_eq!(r.payload, payload(r.seq), "payload of {}", r.seq);
    }
}

#[test]
fn spool_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Spool>();
}

#[test]
fn append_read_ack_in_order_across_segment_rolls() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(dir.path(), 200);
    assert_eq!(spool.append(&[]).unwrap(), 0);
    append_range(&spool, 1, 40, 3);
    assert!(segments(dir.path()).len() > 5, "segments rolled");
    assert_eq!(spool.pending().0, 40);
    let records = read_all(&spool);
    assert_records(&records, 1, 40);
    spool.ack(40).unwrap();
    assert_eq!(spool.pending(), (0, 0));
    assert_eq!(
        segments(dir.path()).len(),
        1,
        "only the active segment stays"
    );
    append_range(&spool, 41, 45, 2);
    assert_records(&read_all(&spool), 41, 45);
}

#[test]
fn read_batch_limits_and_rewind() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(dir.path(), 1 << 20);
    append_range(&spool, 1, 10, 10);
    let first = spool.read_batch(3, 1 << 20, NO_WAIT).unwrap();
    assert_records(&first, 1, 3);
    // The byte limit stops after the record that reaches it, but returns at least one.
    let one = spool.read_batch(10, 1, NO_WAIT).unwrap();
    assert_records(&one, 4, 4);
    let limited = spool.read_batch(10, payload(5).len() + 1, NO_WAIT).unwrap();
    assert_records(&limited, 5, 6);
    spool.ack(2).unwrap();
    spool.rewind();
    assert_records(&spool.read_batch(100, 1 << 20, NO_WAIT).unwrap(), 3, 10);
    assert!(spool.read_batch(0, 1 << 20, NO_WAIT).unwrap().is_empty());
}

#[test]
fn ack_deletes_whole_segments_only() {
    let dir = tempfile::tempdir().unwrap();
    // Batches of 3 records, each batch its own segment: segments start at 1, 4, 7, 10.
    let spool = open(dir.path(), 50);
    append_range(&spool, 1, 12, 3);
    assert_eq!(segments(dir.path()), vec![1, 4, 7, 10]);
    spool.ack(5).unwrap(); // mid-segment, without reading first
    assert_eq!(segments(dir.path()), vec![4, 7, 10]);
    let (records, bytes) = spool.pending();
    assert_eq!(records, 7);
    let expect: usize = (6..=12).map(|s| record::size(payload(s).len())).sum();
    assert_eq!(bytes, expect as u64);
    assert_records(&read_all(&spool), 6, 12);
    spool.ack(12).unwrap();
    assert_eq!(segments(dir.path()), vec![10], "the active segment is kept");
    drop(spool);
    let spool = open(dir.path(), 50);
    assert_eq!(spool.append(&[b"next"]).unwrap(), 13);
    assert_eq!(segments(dir.path()), vec![13]);
}

#[test]
fn restart_resumes_exactly_the_unacked_records() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(dir.path(), 120);
    append_range(&spool, 1, 20, 4);
    assert_records(&spool.read_batch(9, 1 << 20, NO_WAIT).unwrap(), 1, 9);
    spool.ack(7).unwrap();
    drop(spool);
    let spool = open(dir.path(), 120);
    assert!(spool.recovered().is_empty(), "{:?}", spool.recovered());
    assert_eq!(spool.pending().0, 13);
    assert_records(&read_all(&spool), 8, 20);
    append_range(&spool, 21, 22, 2);
    spool.ack(22).unwrap();
    drop(spool);
    // Everything acknowledged and every segment gone: numbering still continues.
    let spool = open(dir.path(), 120);
    assert_eq!(spool.pending(), (0, 0));
    assert!(read_all(&spool).is_empty());
    assert_eq!(spool.append(&[b"x"]).unwrap(), 23);
}

#[test]
fn node_id_persists() {
    let dir = tempfile::tempdir().unwrap();
    let id = open(dir.path(), 1 << 20).node_id().to_owned();
    assert_eq!(id.len(), 16);
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    assert_eq!(open(dir.path(), 1 << 20).node_id(), id);
    let other = tempfile::tempdir().unwrap();
    assert_ne!(open(other.path(), 1 << 20).node_id(), id);
}

#[test]
fn second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _spool = open(dir.path(), 1 << 20);
    let err = Spool::open(options(dir.path(), 1 << 20)).err().unwrap();
    assert!(matches!(err, SpoolError::Locked { .. }), "{err}");
}

#[test]
fn ack_beyond_the_last_record_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(dir.path(), 1 << 20);
    append_range(&spool, 1, 3, 3);
    let err = spool.ack(4).unwrap_err();
    assert!(matches!(
        err,
        SpoolError::AckBeyondEnd { up_to: 4, last: 3 }
    ));
    spool.ack(3).unwrap();
    spool.ack(1).unwrap(); // older marks are no-ops
    assert_eq!(spool.pending(), (0, 0));
}

/// Writes a spool with records 1..=5 (the last one alone in its batch) and returns the
/// segment's bytes and where record 5 starts.
fn five_records() -> (Vec<u8>, usize) {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(dir.path(), 1 << 20);
    append_range(&spool, 1, 4, 2);
    append_range(&spool, 5, 5, 1);
    drop(spool);
    let bytes = fs::read(files::segment_path(dir.path(), 1)).unwrap();
    let start = bytes.len() - record::size(payload(5).len());
    (bytes, start)
}

fn reopen_with_segment(bytes: &[u8]) -> (tempfile::TempDir, Result<Spool, SpoolError>) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(files::segment_path(dir.path(), 1), bytes).unwrap();
    let spool = Spool::open(options(dir.path(), 1 << 20));
    (dir, spool)
}

#[test]
fn torn_tail_at_every_offset_of_the_last_record_is_recovered() {
    let (bytes, start) = five_records();
    for cut in start..=bytes.len() {
        let (dir, spool) = reopen_with_segment(&bytes[..cut]);
        let spool = spool.unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        let whole = cut == bytes.len();
        let last = if whole { 5 } else { 4 };
        assert_eq!(
            spool.recovered().len(),
            usize::from(cut > start && !whole),
            "cut {cut}"
        );
        let seg = files::segment_path(dir.path(), 1);
        let kept = if whole { bytes.len() } else { start };
        assert_eq!(fs::metadata(&seg).unwrap().len(), kept as u64, "cut {cut}");
        assert_records(&read_all(&spool), 1, last);
        assert_eq!(spool.append(&[&payload(last + 1)]).unwrap(), last + 1);
        assert_records(&read_all(&spool), last + 1, last + 1);
        drop(spool);
        assert!(
            open(dir.path(), 1 << 20).recovered().is_empty(),
            "cut {cut}"
        );
    }
}

#[test]
fn corrupt_or_zeroed_tail_is_recovered() {
    let (bytes, start) = five_records();
    let mut flipped = bytes.clone();
    *flipped.last_mut().unwrap() ^= 0x01; // checksum of the last record
    let mut zeros = bytes.clone();
    zeros.extend([0; 4096]); // a power loss can leave zero-filled blocks
    for (name, tail, last, kept) in [
        ("flip", flipped, 4, start),
        ("zeros", zeros, 5, bytes.len()),
    ] {
        let (dir, spool) = reopen_with_segment(&tail);
        let spool = spool.unwrap();
        assert_eq!(spool.recovered().len(), 1, "{name}");
        assert!(
            spool.recovered()[0].contains(&format!("offset {kept}")),
            "{name}"
        );
        assert_records(&read_all(&spool), 1, last);
        let len = fs::metadata(files::segment_path(dir.path(), 1))
            .unwrap()
            .len();
        assert_eq!(len, kept as u64, "{name}");
    }
}

#[test]
fn bit_flip_in_the_middle_quarantines_the_segment_naming_file_and_offset() {
    let (bytes, _) = five_records();
    let second = record::size(payload(1).len());
    let mut flipped = bytes.clone();
    flipped[second + record::HEADER + 2] ^= 0x10; // payload of record 2
    let (dir, spool) = reopen_with_segment(&flipped);
    let spool = spool.unwrap();
    let file = files::segment_path(dir.path(), 1);
    let notes = spool.recovered().join("\n");
    assert!(notes.contains(&file.display().to_string()), "{notes}");
    assert!(notes.contains(&format!("offset {second}")), "{notes}");
    assert!(notes.contains(".damaged"), "{notes}");
    // The file is kept as it was, aside, for the operator; nothing of it is sent.
    assert!(!file.exists());
    let aside = dir.path().join(format!(
        "{}.damaged",
        file.file_name().unwrap().to_str().unwrap()
    ));
    assert_eq!(fs::read(&aside).unwrap(), flipped);
    assert!(read_all(&spool).is_empty());
    drop(spool);
    // New records never reuse a number the damaged segment may hold, after a restart too
    // (when no segment is left to say how far the numbers went).
    let spool = Spool::open(options(dir.path(), 1 << 20)).unwrap();
    assert!(spool.recovered().is_empty(), "{:?}", spool.recovered());
    let seq = spool.append(&[b"after".as_slice()]).unwrap();
    assert!(seq > 5, "{seq}");
    drop(spool);
    // A corrupt length field reaching past the end is not mistaken for a torn tail either.
    let mut long = bytes.clone();
    long[second + 12] = 0x7f;
    let (_dir, spool) = reopen_with_segment(&long);
    let notes = spool.unwrap().recovered().join("\n");
    assert!(notes.contains(&format!("offset {second}")), "{notes}");
}

#[test]
fn torn_tail_of_an_earlier_segment_quarantines_it_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(dir.path(), 50);
    append_range(&spool, 1, 6, 3);
    drop(spool);
    let firsts = segments(dir.path());
    assert!(firsts.len() > 1, "{firsts:?}");
    let first = files::segment_path(dir.path(), 1);
    let len = fs::metadata(&first).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&first)
        .unwrap()
        .set_len(len - 1)
        .unwrap();
    let spool = Spool::open(options(dir.path(), 50)).unwrap();
    assert!(spool.recovered().join(" ").contains("not the last"));
    let records = read_all(&spool);
    assert_records(&records, firsts[1], 6);
    drop(spool);
    // A missing segment in the middle is an error, not a silent gap.
    let dir = tempfile::tempdir().unwrap();
    let spool = open(dir.path(), 50);
    append_range(&spool, 1, 6, 3);
    drop(spool);
    fs::remove_file(files::segment_path(dir.path(), 1)).unwrap();
    let err = Spool::open(options(dir.path(), 50)).err().unwrap();
    assert!(err.to_string().contains("where 1 was expected"), "{err}");
}

#[test]
fn full_spool_with_error_policy_fails_until_acked() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(SpoolOptions {
        max_bytes: 100,
        when_full: WhenFull::Error,
        ..SpoolOptions::new(dir.path())
    })
    .unwrap();
    let big = [0u8; 60];
    assert_eq!(spool.append(&[&big]).unwrap(), 1);
    assert_eq!(spool.append(&[&big]).unwrap(), 2); // below the limit when it started
    let err = spool.append(&[&big]).unwrap_err();
    assert!(
        matches!(err, SpoolError::Full { max_bytes: 100, .. }),
        "{err}"
    );
    spool.ack(1).unwrap();
    assert_eq!(spool.append(&[&big]).unwrap(), 3);
}

#[test]
fn full_spool_with_block_policy_waits_for_an_ack() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Arc::new(
        Spool::open(SpoolOptions {
            max_bytes: 100,
            ..SpoolOptions::new(dir.path())
        })
        .unwrap(),
    );
    spool.append(&[&[0u8; 120]]).unwrap();
    let (tx, rx) = mpsc::channel();
    let appender = {
        let spool = Arc::clone(&spool);
        thread::spawn(move || tx.send(spool.append(&[b"blocked"]).map_err(|e| e.to_string())))
    };
    assert!(
        rx.recv_timeout(Duration::from_millis(200)).is_err(),
        "did not block"
    );
    spool.ack(1).unwrap();
    let seq = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("ack woke the appender");
    assert_eq!(seq.unwrap(), 2);
    appender.join().unwrap().unwrap();
}

#[test]
fn read_batch_waits_for_records() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Arc::new(open(dir.path(), 1 << 20));
    let start = Instant::now();
    assert!(spool
        .read_batch(10, 1 << 20, Duration::from_millis(50))
        .unwrap()
        .is_empty());
    assert!(start.elapsed() >= Duration::from_millis(50));
    let writer = {
        let spool = Arc::clone(&spool);
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            spool.append(&[&payload(1)]).unwrap();
        })
    };
    let batch = spool
        .read_batch(10, 1 << 20, Duration::from_secs(10))
        .unwrap();
    assert_records(&batch, 1, 1);
    writer.join().unwrap();
}

#[test]
fn concurrent_appenders_get_unique_increasing_seqs_and_the_reader_sees_each_once() {
    const THREADS: usize = 4;
    const BATCHES: usize = 150;
    let dir = tempfile::tempdir().unwrap();
    let spool = Arc::new(
        Spool::open(SpoolOptions {
            segment_bytes: 4096,
            max_bytes: 16 << 10, // small, so appenders also block on the reader's acks
            ..SpoolOptions::new(dir.path())
        })
        .unwrap(),
    );
    let appenders: Vec<_> = (0..THREADS)
        .map(|t| {
            let spool = Arc::clone(&spool);
            thread::spawn(move || {
                let mut seqs = Vec::new();
                for b in 0..BATCHES {
                    let n = 1 + (b + t) % 4;
                    let payloads: Vec<Vec<u8>> = (0..n)
                        .map(|i| format!("t{t}-b{b}-r{i}").into_bytes())
                        .collect();
                    let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
                    let last = spool.append(&refs).unwrap();
                    seqs.extend((last + 1 - n as u64..=last).zip(payloads));
                }
                seqs
            })
        })
        .collect();
    let total: usize = (0..THREADS)
        .map(|t| (0..BATCHES).map(|b| 1 + (b + t) % 4).sum::<usize>())
        .sum();
    let reader = {
        let spool = Arc::clone(&spool);
        thread::spawn(move || {
            let mut seen = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(60);
            while seen.len() < total && Instant::now() < deadline {
                let batch = spool
                    .read_batch(16, 4096, Duration::from_millis(100))
                    .unwrap();
                if let Some(last) = batch.last() {
                    spool.ack(last.seq).unwrap();
                }
                seen.extend(batch.into_iter().map(|r| (r.seq, r.payload)));
            }
            seen
        })
    };
    let mut appended = Vec::new();
    for handle in appenders {
        let seqs = handle.join().unwrap();
        assert!(
            seqs.windows(2).all(|w| w[0].0 < w[1].0),
            "increasing per thread"
        );
        appended.extend(seqs);
    }
    let seen = reader.join().unwrap();
    appended.sort();
    assert_eq!(appended.len(), total);
    assert_eq!(
        seen, appended,
        "reader saw every record once, in sequence order"
    );
    assert_eq!(seen.last().unwrap().0, total as u64);
    assert_eq!(spool.pending(), (0, 0));
}

#[test]
fn errors_name_file_and_offset() {
    let err = SpoolError::io(Path::new("/s/1.seg"), 42, io::Error::other("disk on fire"));
    assert_eq!(
        err.to_string(),
        "spool I/O error on /s/1.seg at offset 42: disk on fire"
    );
    let err = SpoolError::io(Path::new("/s"), None, io::Error::other("gone"));
    assert_eq!(err.to_string(), "spool I/O error on /s: gone");
}

#[derive(Clone, Debug)]
enum Op {
    Append(Vec<Vec<u8>>),
    Read(usize, usize),
    /// Acknowledge the record this far (per mille) between the ack mark and the last record.
    Ack(u16),
    AckBeyond,
    Rewind,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..5).prop_map(Op::Append),
        3 => (0usize..6, 0usize..100).prop_map(|(n, b)| Op::Read(n, b)),
        2 => (0u16..=1000).prop_map(Op::Ack),
        1 => Just(Op::AckBeyond),
        1 => Just(Op::Rewind),
        1 => Just(Op::Reopen),
    ]
}

/// The spool's promises as a plain list: records, the ack mark and the reader's cursor.
#[derive(Default)]
struct Model {
    records: Vec<Vec<u8>>, // seq = index + 1
    acked: u64,
    cursor: u64,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn behaves_like_an_in_memory_queue(ops in prop::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        let options = SpoolOptions {
            segment_bytes: 96,
            fsync: Fsync::None,
            ..SpoolOptions::new(dir.path())
        };
        let mut spool = Some(Spool::open(options.clone()).unwrap());
        let mut m = Model { cursor: 1, ..Model::default() };
        for op in ops {
            let s = spool.as_ref().unwrap();
            let last = m.records.len() as u64;
            match op {
                Op::Append(batch) => {
                    let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
                    m.records.extend(batch.iter().cloned());
                    prop_assert_eq!(s.append(&refs).unwrap(), m.records.len() as u64);
                }
                Op::Read(n, max_bytes) => {
                    let got = s.read_batch(n, max_bytes, NO_WAIT).unwrap();
                    m.cursor = m.cursor.max(m.acked + 1);
                    let mut want = Vec::new();
                    let mut bytes = 0;
                    while want.len() < n && m.cursor <= last && (want.is_empty() || bytes < max_bytes) {
                        let payload = m.records[m.cursor as usize - 1].clone();
                        bytes += payload.len();
                        want.push(Spooled { seq: m.cursor, payload });
                        m.cursor += 1;
                    }
                    prop_assert_eq!(got, want);
                }
                Op::Ack(per_mille) => {
                    let up_to = m.acked + (last - m.acked) * u64::from(per_mille) / 1000;
                    s.ack(up_to).unwrap();
                    m.acked = m.acked.max(up_to);
                }
                Op::AckBeyond => {
                    let is_beyond = matches!(s.ack(last + 1), Err(SpoolError::AckBeyondEnd { .. }));
                    prop_assert!(is_beyond);
                }
                Op::Rewind => {
                    s.rewind();
                    m.cursor = m.acked + 1;
                }
                Op::Reopen => {
                    drop(spool.take());
                    let s = Spool::open(options.clone()).unwrap();
                    prop_assert!(s.recovered().is_empty(), "{:?}", s.recovered());
                    spool = Some(s);
                    m.cursor = m.acked + 1;
                }
            }
            let s = spool.as_ref().unwrap();
            let unacked = &m.records[m.acked as usize..];
            let bytes: usize = unacked.iter().map(|r| record::size(r.len())).sum();
            prop_assert_eq!(s.pending(), (unacked.len() as u64, bytes as u64));
            // Wholly acknowledged segments are gone: the oldest one still holds record acked+1
            // (or is the active one).
            let segs = segments(dir.path());
            prop_assert!(segs.len() == 1 || segs[1] > m.acked + 1, "{:?} acked {}", segs, m.acked);
        }
    }
}

#[test]
fn an_ack_mark_at_the_end_of_the_number_range_is_corrupt_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    drop(Spool::open(SpoolOptions::new(dir.path())).unwrap());
    std::fs::write(dir.path().join("ack"), u64::MAX.to_string()).unwrap();
    let e = Spool::open(SpoolOptions::new(dir.path()))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("ack") && e.contains("out of range"), "{e}");
}

#[test]
fn an_empty_segment_after_a_torn_tail_is_dropped_and_the_tail_recovered() {
    let dir = tempfile::tempdir().unwrap();
    {
        let spool = Spool::open(SpoolOptions::new(dir.path())).unwrap();
        spool.append(&[b"one", b"two"]).unwrap();
    }
    let mut segments: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    segments.sort();
    let last = segments.last().unwrap().clone();
    // Tear the last record, then leave an empty later segment as a failed roll would.
    let len = std::fs::metadata(&last).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&last)
        .unwrap()
        .set_len(len - 2)
        .unwrap();
    std::fs::write(dir.path().join(format!("{:020}.seg", 99)), b"").unwrap();
    let spool = Spool::open(SpoolOptions::new(dir.path())).unwrap();
    let batch = spool
        .read_batch(10, 1 << 20, std::time::Duration::ZERO)
        .unwrap();
    assert_eq!(
        batch
            .iter()
            .map(|r| r.payload.as_slice())
            .collect::<Vec<_>>(),
        [b"one"]
    );
    assert!(
        spool
            .recovered()
            .iter()
            .any(|r| r.contains("torn or corrupt last record")),
        "{:?}",
        spool.recovered()
    );
}

/// Acks free the space, so they must not need any: with no new file creatable in the spool
/// directory (`ack.tmp` taken by a directory, as good as a full disk for a create-and-rename),
/// acks still persist and segments are still freed.
#[test]
fn acks_need_no_new_file_so_a_full_spool_disk_still_drains() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(dir.path(), 200);
    append_range(&spool, 1, 40, 3);
    let before = segments(dir.path()).len();
    assert!(before > 5, "segments rolled");
    fs::create_dir(dir.path().join("ack.tmp")).unwrap();
    let ack_len = fs::metadata(dir.path().join("ack")).unwrap().len();
    assert_records(&read_all(&spool), 1, 40);
    for up_to in [10, 25, 40] {
        spool.ack(up_to).unwrap();
    }
    assert_eq!(
        segments(dir.path()).len(),
        1,
        "only the active segment stays"
    );
    assert_eq!(
        fs::metadata(dir.path().join("ack")).unwrap().len(),
        ack_len,
        "rewritten in place"
    );
    drop(spool);
    assert_eq!(acknowledged(dir.path()).unwrap(), 40);
    let spool = open(dir.path(), 200);
    assert!(read_all(&spool).is_empty());
}

/// The same on a really full filesystem: a 1 MiB tmpfs filled by the spool itself. Needs root
/// to mount it; elsewhere only the test above runs (it says so on stderr).
#[test]
fn a_spool_that_filled_its_tmpfs_drains_and_takes_new_records() {
    let dir = tempfile::tempdir().unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(dir.path())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: cannot mount a tmpfs here (not root)");
        return;
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(dir.path());
    let spool = Spool::open(SpoolOptions {
        max_bytes: u64::MAX,
        when_full: WhenFull::Error,
        ..options(dir.path(), 64 << 10)
    })
    .unwrap();
    let big = vec![b'x'; 4000];
    let mut last = 0;
    let full = loop {
        match spool.append(&[big.as_slice()]) {
            Ok(seq) => last = seq,
            Err(e) => break e,
        }
        assert!(last < 10_000, "the 1 MiB tmpfs never filled");
    };
    assert!(full.to_string().contains("No space left"), "{full}");
    assert!(last > 100, "{last}");
    let mut read = 0;
    loop {
        let batch = spool.read_batch(64, 1 << 20, NO_WAIT).unwrap();
        let Some(end) = batch.last().map(|r| r.seq) else {
            break;
        };
        read += batch.len() as u64;
        spool.ack(end).unwrap();
    }
    assert_eq!(read, last);
    assert_eq!(acknowledged(dir.path()).unwrap(), last);
    assert!(
        segments(dir.path()).len() <= 2,
        "{:?}",
        segments(dir.path())
    );
    // Space is back: appends work again (after the failed append cut its segment back).
    let seq = spool.append(&[big.as_slice()]).unwrap();
    assert!(seq > last);
}
