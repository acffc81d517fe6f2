//! The `ack` file: the highest acknowledged sequence number, rewritten in place so that
//! acknowledging (which is what frees disk space) never needs a new block, even on a full disk.
//!
//! The file is two fixed-size slots of [`SLOT`] bytes, `<seq, 20 digits> <crc32 hex>` padded
//! with spaces and ended by `\n`. An ack overwrites the older slot and syncs it; a crash mid-write
//! damages only that slot (its checksum fails) and the other still holds the previous mark. The
//! mark is the highest intact slot. A file of the earlier format (one decimal line, replaced by
//! rename) is read as before and converted at open.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::files::{self, ACK};
use super::SpoolError;
use crate::file_mode::FileMode;

/// Bytes of one slot.
const SLOT: usize = 32;

fn slot(seq: u64) -> [u8; SLOT] {
    let digits = format!("{seq:020}");
    let text = format!("{digits} {:08x}", crc32fast::hash(digits.as_bytes()));
    let mut out = [b' '; SLOT];
    out[..text.len()].copy_from_slice(text.as_bytes());
    out[SLOT - 1] = b'\n';
    out
}

fn parse_slot(bytes: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(bytes).ok()?.trim_end();
    let (digits, crc) = text.split_once(' ')?;
    let ok = digits.len() == 20
        && u32::from_str_radix(crc, 16).ok()? == crc32fast::hash(digits.as_bytes());
    ok.then(|| digits.parse().ok()).flatten()
}

/// The open `ack` file; an ack rewrites one slot in place.
pub(crate) struct AckFile {
    file: File,
    next_slot: u64,
    fsync: bool,
}

/// The mark in `dir` (0 when there is no file yet) and, for the slot format, the slot to
/// write next; `None` for a missing file or the earlier one-line format.
pub(crate) fn read(dir: &Path) -> Result<(u64, Option<u64>), SpoolError> {
    let path = dir.join(ACK);
    let mut bytes = Vec::new();
    match File::open(&path) {
        Ok(mut f) => {
            f.read_to_end(&mut bytes)
                .map_err(|e| SpoolError::io(&path, None, e))?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((0, None)),
        Err(e) => return Err(SpoolError::io(&path, None, e)),
    }
    if bytes.len() == 2 * SLOT {
        return match (parse_slot(&bytes[..SLOT]), parse_slot(&bytes[SLOT..])) {
            (Some(a), Some(b)) => Ok((a.max(b), Some(u64::from(a > b)))),
            (Some(a), None) => Ok((a, Some(1))),
            (None, Some(b)) => Ok((b, Some(0))),
            (None, None) => Err(SpoolError::corrupt(
                &path,
                0,
                "no intact slot in the ack file",
            )),
        };
    }
    let text = String::from_utf8_lossy(&bytes);
    let acked = text.trim().parse().map_err(|_| {
        SpoolError::corrupt(
            &path,
            0,
            format!("not a sequence number: {:?}", text.trim()),
        )
    })?;
    Ok((acked, None))
}

/// Reads the mark in `dir` and opens the file for acks, creating or converting it first.
/// Creating needs space once, at open, never at an ack.
pub(crate) fn open(dir: &Path, fsync: bool, mode: FileMode) -> Result<(u64, AckFile), SpoolError> {
    let path = dir.join(ACK);
    let (acked, next_slot) = match read(dir)? {
        (acked, Some(next)) => (acked, next),
        (acked, None) => {
            let mut both = slot(acked).to_vec();
            both.extend_from_slice(&slot(acked));
            files::write_atomic(dir, ACK, &both, fsync, mode)?;
            (acked, 0)
        }
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| SpoolError::io(&path, None, e))?;
    Ok((
        acked,
        AckFile {
            file,
            next_slot,
            fsync,
        },
    ))
}

impl AckFile {
    /// Persists `seq` as the mark, overwriting the older slot (no new block is needed).
    pub(crate) fn write(&mut self, dir: &Path, seq: u64) -> Result<(), SpoolError> {
        let at = self.next_slot * SLOT as u64;
        let result = (&self.file)
            .seek(SeekFrom::Start(at))
            .and_then(|_| (&self.file).write_all(&slot(seq)))
            .and_then(|()| {
                if self.fsync {
                    self.file.sync_data()
                } else {
                    Ok(())
                }
            });
        result.map_err(|e| SpoolError::io(&dir.join(ACK), at, e))?;
        self.next_slot ^= 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_round_trip_and_a_torn_slot_leaves_the_previous_mark() {
        let dir = tempfile::tempdir().unwrap();
        let (acked, mut ack) = open(dir.path(), true, FileMode::default()).unwrap();
        assert_eq!(acked, 0);
        for seq in [5, 9, 12] {
            ack.write(dir.path(), seq).unwrap();
        }
        drop(ack);
        let path = dir.path().join(ACK);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 2 * SLOT as u64);
        assert_eq!(open(dir.path(), true, FileMode::default()).unwrap().0, 12);
        // 12 is in slot 0 (writes went 0, 1, 0): tear it, the mark falls back to 9.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[19] = b'7';
        std::fs::write(&path, &bytes).unwrap();
        let (acked, mut ack) = open(dir.path(), true, FileMode::default()).unwrap();
        assert_eq!(acked, 9);
        // The next write goes to the torn slot, not over the intact one.
        ack.write(dir.path(), 13).unwrap();
        assert_eq!(open(dir.path(), true, FileMode::default()).unwrap().0, 13);
    }

    #[test]
    fn an_ack_file_of_the_earlier_format_is_read_and_converted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(ACK), "42\n").unwrap();
        let (acked, _) = open(dir.path(), true, FileMode::default()).unwrap();
        assert_eq!(acked, 42);
        assert_eq!(open(dir.path(), true, FileMode::default()).unwrap().0, 42);
        std::fs::write(dir.path().join(ACK), "forty-two\n").unwrap();
        assert!(open(dir.path(), true, FileMode::default()).is_err());
    }
}
