//! One record on disk: framing, checksum, and the checks recovery and the reader share.

use std::io::{self, Read};
use std::path::Path;

use super::SpoolError;

/// First byte of every record: `0xA_` marks a spool record, the low nibble is the format version.
pub(crate) const MAGIC: u8 = 0xA1;
/// Magic, sequence number (u64 LE) and payload length (u32 LE).
pub(crate) const HEADER: usize = 1 + 8 + 4;
/// CRC32 (LE) over sequence number, length and payload.
const TRAILER: usize = 4;

/// Bytes a record of `payload_len` bytes takes on disk.
pub(crate) fn size(payload_len: usize) -> usize {
    HEADER + payload_len + TRAILER
}

/// Appends one framed record to `buf`. The caller has checked that the length fits in a u32.
pub(crate) fn encode(buf: &mut Vec<u8>, seq: u64, payload: &[u8]) {
    buf.push(MAGIC);
    let start = buf.len();
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(payload);
    let crc = crc32fast::hash(&buf[start..]);
    buf.extend_from_slice(&crc.to_le_bytes());
}

/// Sequence number and payload length from a header, or why it is not one.
fn header(bytes: &[u8; HEADER]) -> Result<(u64, usize), &'static str> {
    if bytes[0] != MAGIC {
        return Err("bad magic byte");
    }
    let seq = u64::from_le_bytes(bytes[1..9].try_into().unwrap_or_default());
    let len = u32::from_le_bytes(bytes[9..13].try_into().unwrap_or_default());
    Ok((seq, len as usize))
}

fn checksum(header: &[u8; HEADER], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&header[1..]);
    hasher.update(payload);
    hasher.finalize()
}

/// A record verified at the front of a byte slice.
pub(crate) struct Parsed {
    pub seq: u64,
    /// Bytes the record takes, framing included.
    pub size: usize,
}

/// Parses the record at the front of `bytes`; the error says why it is not a whole, intact one.
pub(crate) fn parse(bytes: &[u8]) -> Result<Parsed, &'static str> {
    let Some(head) = bytes.first_chunk::<HEADER>() else {
        return Err(if bytes.first().is_some_and(|&b| b != MAGIC) {
            "bad magic byte"
        } else {
            "incomplete header"
        });
    };
    let (seq, len) = header(head)?;
    let Some(rest) = bytes[HEADER..].get(..len + TRAILER) else {
        return Err("incomplete record");
    };
    let (payload, crc) = rest.split_at(len);
    if crc != checksum(head, payload).to_le_bytes() {
        return Err("checksum mismatch");
    }
    Ok(Parsed {
        seq,
        size: size(len),
    })
}

/// Reads and verifies the record at `offset` of a segment being read in order; `end` is the
/// segment's committed length, so a damaged length field cannot make us allocate past it.
pub(crate) fn read(
    input: &mut impl Read,
    path: &Path,
    offset: u64,
    end: u64,
    expect_seq: u64,
) -> Result<(Vec<u8>, usize), SpoolError> {
    let corrupt = |reason: String| SpoolError::corrupt(path, offset, reason);
    let eof = |e: io::Error| match e.kind() {
        io::ErrorKind::UnexpectedEof => corrupt("record cut short".into()),
        _ => SpoolError::io(path, offset, e),
    };
    let mut head = [0; HEADER];
    input.read_exact(&mut head).map_err(eof)?;
    let (seq, len) = header(&head).map_err(|r| corrupt(r.into()))?;
    if seq != expect_seq {
        return Err(corrupt(format!(
            "sequence {seq} where {expect_seq} was expected"
        )));
    }
    if offset + size(len) as u64 > end {
        return Err(corrupt(format!(
            "record of {len} bytes runs past the committed end of the segment ({end} bytes)"
        )));
    }
    let mut payload = vec![0; len];
    let mut crc = [0; TRAILER];
    input.read_exact(&mut payload).map_err(eof)?;
    input.read_exact(&mut crc).map_err(eof)?;
    if crc != checksum(&head, &payload).to_le_bytes() {
        return Err(corrupt("checksum mismatch".into()));
    }
    Ok((payload, size(len)))
}

/// What a segment holds, as found by [`scan`].
pub(crate) struct Scanned {
    /// Sequence number of the last intact record.
    pub last_seq: Option<u64>,
    /// Bytes of intact records (the whole file unless `torn` is set).
    pub len: u64,
    /// Offset of the first record with a sequence number above the ack mark, else `len`.
    pub first_unacked: u64,
    /// Offset and reason of a bad tail: nothing intact follows it.
    pub torn: Option<(u64, &'static str)>,
}

/// Verifies every record of a segment whose first sequence number is `first_seq`. A bad record
/// followed by an intact one is an error: dropping the tail would lose records written later.
pub(crate) fn scan(
    bytes: &[u8],
    first_seq: u64,
    acked: u64,
    path: &Path,
) -> Result<Scanned, SpoolError> {
    let mut offset = 0;
    let mut expect = first_seq;
    let mut first_unacked = None;
    let mut torn = None;
    while offset < bytes.len() {
        let record = match parse(&bytes[offset..]) {
            Ok(record) => record,
            Err(reason) => {
                if let Some(next) = next_intact(bytes, offset + 1) {
                    let reason = format!("{reason}; an intact record follows at offset {next}");
                    return Err(SpoolError::corrupt(path, offset as u64, reason));
                }
                torn = Some((offset as u64, reason));
                break;
            }
        };
        if record.seq != expect {
            let reason = format!("sequence {} where {expect} was expected", record.seq);
            return Err(SpoolError::corrupt(path, offset as u64, reason));
        }
        if record.seq > acked && first_unacked.is_none() {
            first_unacked = Some(offset as u64);
        }
        offset += record.size;
        expect += 1;
    }
    Ok(Scanned {
        last_seq: (expect > first_seq).then(|| expect - 1),
        len: offset as u64,
        first_unacked: first_unacked.unwrap_or(offset as u64),
        torn,
    })
}

/// Offset of the first intact record at or after `from`, searching byte by byte.
fn next_intact(bytes: &[u8], from: usize) -> Option<usize> {
    (from..bytes.len()).find(|&i| bytes[i] == MAGIC && parse(&bytes[i..]).is_ok())
}
