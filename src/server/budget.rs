//! The memory budget of request bodies (`queue_max_bytes`): every copy of a batch the server
//! holds counts, from its first byte to its answer — the body as it arrives (taken as bytes
//! arrive, not from the declared `Content-Length`, so a stalled upload holds only what it
//! sent), its inflated form, its parsed items while it waits for and goes through the writer.
//! A request that cannot take what it needs gets `503` and lets go of everything.

use std::io::Read;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use flate2::read::MultiGzDecoder;
use parking_lot::Mutex;

use super::metrics::Metrics;
use crate::protocol::wire::{BatchError, BatchErrorKind, Item};

/// The budget shared by all requests.
pub struct Budget {
    max: usize,
    used: Mutex<usize>,
    metrics: Arc<Metrics>,
}

impl Budget {
    /// A budget of `max` bytes; `metrics` shows what is held (`bodyBytes`, `bodyBytesPeak`).
    pub fn new(max: usize, metrics: Arc<Metrics>) -> Arc<Budget> {
        Arc::new(Budget {
            max,
            used: Mutex::new(0),
            metrics,
        })
    }

    /// An empty share, for one request.
    pub fn share(self: &Arc<Self>) -> Share {
        Share {
            budget: Arc::clone(self),
            bytes: 0,
        }
    }

    /// Bytes held by all shares now.
    #[cfg(test)]
    pub fn used(&self) -> usize {
        *self.used.lock()
    }

    fn show(&self, used: usize) {
        self.metrics.body_bytes.store(used as u64, Relaxed);
        self.metrics.body_bytes_peak.fetch_max(used as u64, Relaxed);
    }
}

/// What one request holds of the [`Budget`]; given back when dropped.
pub struct Share {
    budget: Arc<Budget>,
    bytes: usize,
}

impl Share {
    /// Bytes held.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Takes `n` more bytes; `false` (nothing taken) when they do not fit beside what the
    /// other shares hold. A share holding all that is held may always grow, so that a lone
    /// batch up to `max_body_bytes` is never refused (as the write queue takes a lone batch).
    pub fn grow(&mut self, n: usize) -> bool {
        let mut used = self.budget.used.lock();
        if *used + n > self.budget.max && *used != self.bytes {
            return false;
        }
        *used += n;
        self.bytes += n;
        self.budget.show(*used);
        true
    }

    /// Holds exactly `n` bytes from now on, whatever the others hold: for memory already
    /// allocated (the parsed batch, measured once the raw body is dropped).
    pub fn set(&mut self, n: usize) {
        let mut used = self.budget.used.lock();
        *used = *used - self.bytes + n;
        self.bytes = n;
        self.budget.show(*used);
    }

    /// Gives back `n` bytes (of a copy just dropped).
    pub fn release(&mut self, n: usize) {
        let n = n.min(self.bytes);
        let keep = self.bytes - n;
        self.set(keep);
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        self.set(0);
    }
}

/// The first room taken for a body: what a stalled upload holds at most.
pub const FIRST_CHUNK: usize = 4 << 10;

/// A buffer that takes budget for its capacity before growing: geometric growth, never past
/// `limit` (the declared length, or `max_body_bytes`), so a body of a declared length ends
/// with exactly that capacity.
pub struct CountedBuf {
    buf: Vec<u8>,
    /// Capacity asked for (and counted).
    cap: usize,
    limit: usize,
}

/// Why a [`CountedBuf`] could not take more.
#[derive(Debug, PartialEq, Eq)]
pub enum Full {
    /// Past its limit.
    Limit,
    /// The budget is taken by other requests.
    Budget,
}

impl CountedBuf {
    /// An empty buffer that may grow to `limit` bytes.
    pub fn new(limit: usize) -> CountedBuf {
        CountedBuf {
            buf: Vec::new(),
            cap: 0,
            limit,
        }
    }

    /// Appends `data`, first taking budget for the room it needs.
    pub fn extend(&mut self, data: &[u8], share: &mut Share) -> Result<(), Full> {
        let need = self.buf.len() + data.len();
        if need > self.limit {
            return Err(Full::Limit);
        }
        if need > self.cap {
            let cap = need
                .max(self.cap.saturating_mul(2))
                .max(FIRST_CHUNK)
                .min(self.limit);
            if !share.grow(cap - self.cap) {
                return Err(Full::Budget);
            }
            self.buf.reserve_exact(cap - self.buf.len());
            self.cap = cap;
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// Bytes counted for this buffer.
    pub fn counted(&self) -> usize {
        self.cap
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }
}

/// Why a gzip body could not be inflated within the budget.
#[derive(Debug)]
#[non_exhaustive]
pub enum InflateError {
    /// Not gzip, or larger than the limit once inflated: the client's fault.
    Batch(BatchError),
    /// The budget is taken by other requests.
    Busy,
}

/// Inflates a gzip body (concatenated members accepted) into a [`CountedBuf`], stopping past
/// `max_bytes`, so that a gzip bomb takes no more than the limit.
pub fn inflate_counted(
    body: &[u8],
    max_bytes: usize,
    share: &mut Share,
) -> Result<CountedBuf, InflateError> {
    let whole = |kind| InflateError::Batch(BatchError { line: None, kind });
    let mut out = CountedBuf::new(max_bytes);
    let mut decoder = MultiGzDecoder::new(body);
    let mut chunk = [0u8; 16 << 10];
    loop {
        let n = match decoder.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(whole(BatchErrorKind::BadGzip(e.to_string()))),
        };
        match out.extend(&chunk[..n], share) {
            Ok(()) => {}
            Err(Full::Limit) => return Err(whole(BatchErrorKind::TooLarge { limit: max_bytes })),
            Err(Full::Budget) => return Err(InflateError::Busy),
        }
    }
}

/// What a heap allocation costs beyond its bytes (the allocator's header and rounding).
const ALLOC_OVERHEAD: usize = 16;

/// An upper bound of what parsing `text` into items takes: each item's fields are disjoint
/// parts of its line, plus the item itself and its allocations.
pub fn parse_estimate(text: &[u8]) -> usize {
    let lines = text.iter().filter(|&&b| b == b'\n').count() + 1;
    text.len() + lines * (2 * std::mem::size_of::<Item>() + 3 * ALLOC_OVERHEAD)
}

/// What parsed `items` take in memory.
pub fn parsed_size(items: &[Item], capacity: usize) -> usize {
    capacity * std::mem::size_of::<Item>()
        + items
            .iter()
            .map(|i| {
                i.node.as_str().len()
                    + i.event.get().len()
                    + i.routing_key.as_ref().map_or(0, |r| r.as_str().len())
                    + 3 * ALLOC_OVERHEAD
            })
            .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::wire::parse_batch;

    fn budget(max: usize) -> Arc<Budget> {
        Budget::new(max, Arc::new(Metrics::default()))
    }

    #[test]
    fn shares_are_bounded_and_given_back() {
        let b = budget(100);
        let mut a = b.share();
        let mut c = b.share();
        assert!(a.grow(60));
        assert!(c.grow(40));
        assert!(!c.grow(1), "full");
        assert!(!a.grow(1), "a does not hold everything");
        assert_eq!((b.used(), a.bytes(), c.bytes()), (100, 60, 40));
        drop(c);
        assert_eq!(b.used(), 60);
        // Alone, a share may pass the limit: a lone batch is always taken.
        assert!(a.grow(70));
        let mut d = b.share();
        assert!(!d.grow(1));
        a.release(200);
        assert_eq!(b.used(), 0);
        assert!(d.grow(100));
        d.set(7);
        assert_eq!(b.used(), 7);
        drop((a, d));
        assert_eq!(b.used(), 0);
        assert_eq!(b.metrics.body_bytes_peak.load(Relaxed), 130);
    }

    /// A stalled upload that declared a large body holds only the first chunk, and the
    /// buffer of a declared length ends at exactly that capacity.
    #[test]
    fn a_buffer_takes_budget_as_it_grows() {
        let b = budget(1 << 20);
        let mut s = b.share();
        let mut buf = CountedBuf::new(10 << 20);
        buf.extend(b"x", &mut s).unwrap();
        assert_eq!((buf.counted(), b.used()), (FIRST_CHUNK, FIRST_CHUNK));
        // Past the budget (others hold the rest): refused, nothing more taken.
        let mut other = b.share();
        assert!(other.grow((1 << 20) - FIRST_CHUNK));
        assert_eq!(buf.extend(&[0; FIRST_CHUNK], &mut s), Err(Full::Budget));
        assert_eq!(s.bytes(), FIRST_CHUNK);
        drop(other);
        let declared = 100_000;
        let mut exact = CountedBuf::new(declared);
        let mut s2 = b.share();
        for _ in 0..100 {
            exact.extend(&[1; 1000], &mut s2).unwrap();
        }
        assert_eq!((exact.counted(), s2.bytes()), (declared, declared));
        assert_eq!(exact.extend(b"1", &mut s2), Err(Full::Limit));
    }

    #[test]
    fn a_gzip_bomb_takes_no_more_than_the_limit() {
        use flate2::{write::GzEncoder, Compression};
        use std::io::Write;
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(&vec![b' '; 20 << 20]).unwrap();
        let bomb = e.finish().unwrap();
        let b = budget(64 << 20);
        let mut s = b.share();
        let r = inflate_counted(&bomb, 1 << 20, &mut s);
        assert!(matches!(
            r,
            Err(InflateError::Batch(BatchError {
                kind: BatchErrorKind::TooLarge { .. },
                ..
            }))
        ));
        assert!(s.bytes() <= 1 << 20, "{}", s.bytes());
    }

    /// The estimate taken before parsing covers what the items take, for tiny and large
    /// events alike.
    #[test]
    fn the_estimate_covers_the_parsed_items() {
        for event in [
            r#"{"msgType":"x"}"#.to_owned(),
            format!(r#"{{"msgType":"x","p":"{}"}}"#, "y".repeat(5000)),
        ] {
            for n in [1, 2, 3, 100, 1000] {
                let text: String = (1..=n)
                    .map(|i| format!(r#"{{"node":"n","seq":{i},"topic":"generic","routingKey":"rk","event":{event}}}"#) + "\n")
                    .collect();
                let items = parse_batch(text.as_bytes(), false, 1 << 30).unwrap();
                let size = parsed_size(&items, items.capacity());
                assert!(size <= parse_estimate(text.as_bytes()), "{n}: {size}");
                assert!(size >= items.iter().map(|i| i.event.get().len()).sum::<usize>());
            }
        }
    }
}
