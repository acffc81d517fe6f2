//! Reading a file backwards, line by line, through one buffer: the newest stored lines of a
//! partition first, whatever its size.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use crate::query::lines::MAX_LINE_BYTES;

/// Bytes read per step backwards.
pub(super) const BLOCK: usize = 64 * 1024;

/// A line read backwards.
pub(crate) struct BackLine<'a> {
    bytes: Option<&'a [u8]>,
    pub(crate) offset: u64,
    pub(crate) len: usize,
}

impl<'a> BackLine<'a> {
    /// Its text; `None` when it is not UTF-8 or was too long to keep.
    pub(crate) fn text(&self) -> Option<&'a str> {
        self.bytes.and_then(|b| std::str::from_utf8(b).ok())
    }
}

/// The lines of a file before `end`, last first, through one buffer.
///
/// Only complete lines are returned: bytes after the last newline (a line the server is
/// writing now) are left out. A line longer than [`MAX_LINE_BYTES`] is returned without its
/// bytes (counted as malformed by the caller), and memory stays bounded.
pub(crate) struct ReverseLines {
    file: File,
    /// `buf` holds the file's bytes `[buf_start, buf_start + buf.len())`; the lines before
    /// `end` not yet returned end inside it.
    buf: Vec<u8>,
    buf_start: u64,
    /// Where the last returned line started (the bound).
    pub(crate) end: u64,
    /// The line being returned, copied out so `buf` can be trimmed.
    line: Vec<u8>,
}

impl ReverseLines {
    pub(crate) fn new(file: File, end: u64) -> io::Result<ReverseLines> {
        let mut lines = ReverseLines {
            file,
            buf: Vec::new(),
            buf_start: end,
            end,
            line: Vec::new(),
        };
        // Drop a partial last line: read back to the last newline before `end`.
        loop {
            if let Some(i) = memchr::memrchr(b'\n', &lines.buf) {
                lines.buf.truncate(i + 1);
                lines.end = lines.buf_start + i as u64 + 1;
                break;
            }
            if lines.buf_start == 0 {
                lines.buf.clear();
                lines.end = 0;
                break;
            }
            if lines.buf.len() > MAX_LINE_BYTES {
                // A partial line longer than any line: drop what was read and keep looking.
                lines.buf.clear();
            }
            lines.fill()?;
        }
        Ok(lines)
    }

    /// Reads the block before `buf_start` into the front of `buf`.
    fn fill(&mut self) -> io::Result<()> {
        let want = BLOCK.max(self.buf.len()).min(self.buf_start as usize);
        let from = self.buf_start - want as u64;
        let mut block = vec![0; want];
        self.file.seek(SeekFrom::Start(from))?;
        self.file.read_exact(&mut block)?;
        block.extend_from_slice(&self.buf);
        self.buf = block;
        self.buf_start = from;
        Ok(())
    }

    /// The line before the last one returned.
    pub(crate) fn previous(&mut self) -> io::Result<Option<BackLine<'_>>> {
        // Invariant: `buf_start + buf.len() == end`, and `buf` ends with the newline of the
        // line to return (or is empty).
        loop {
            if self.buf.is_empty() {
                if self.buf_start == 0 {
                    return Ok(None);
                }
                self.fill()?;
                continue;
            }
            let body = &self.buf[..self.buf.len() - 1];
            let start = match memchr::memrchr(b'\n', body) {
                Some(i) => self.buf_start + i as u64 + 1,
                None if self.buf_start == 0 => 0,
                None if self.buf.len() > MAX_LINE_BYTES => return self.skip_overlong().map(Some),
                None => {
                    self.fill()?;
                    continue;
                }
            };
            let cut = (start - self.buf_start) as usize;
            let len = (self.end - start) as usize - 1;
            let keep = len <= MAX_LINE_BYTES;
            self.line.clear();
            if keep {
                self.line.extend_from_slice(&self.buf[cut..cut + len]);
            }
            self.buf.truncate(cut);
            self.end = start;
            return Ok(Some(BackLine {
                bytes: keep.then_some(self.line.as_slice()),
                offset: start,
                len,
            }));
        }
    }

    /// The line ending at `end` is longer than [`MAX_LINE_BYTES`]: finds where it starts
    /// without keeping its bytes, and returns it without them.
    fn skip_overlong(&mut self) -> io::Result<BackLine<'_>> {
        self.buf.clear();
        let mut block = vec![0; BLOCK];
        let mut pos = self.buf_start;
        let start = loop {
            if pos == 0 {
                break 0;
            }
            let n = BLOCK.min(pos as usize);
            let from = pos - n as u64;
            self.file.seek(SeekFrom::Start(from))?;
            self.file.read_exact(&mut block[..n])?;
            if let Some(i) = memchr::memrchr(b'\n', &block[..n]) {
                break from + i as u64 + 1;
            }
            pos = from;
        };
        let len = (self.end - start) as usize - 1;
        self.end = start;
        self.buf_start = start;
        Ok(BackLine {
            bytes: None,
            offset: start,
            len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backwards(data: &[u8]) -> Vec<(u64, String)> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, data).unwrap();
        let mut lines = ReverseLines::new(File::open(&path).unwrap(), data.len() as u64).unwrap();
        let mut out = Vec::new();
        while let Some(l) = lines.previous().unwrap() {
            out.push((l.offset, l.text().unwrap_or("<long>").to_owned()));
        }
        out
    }

    #[test]
    fn lines_come_last_first_without_the_partial_one() {
        assert_eq!(
            backwards(b"a\nbb\n\nccc\npartial"),
            [
                (6, "ccc".to_owned()),
                (5, String::new()),
                (2, "bb".to_owned()),
                (0, "a".to_owned())
            ]
        );
        assert!(backwards(b"").is_empty());
        assert!(backwards(b"no newline").is_empty());
    }

    #[test]
    fn lines_longer_than_a_block_and_every_split() {
        let long = "x".repeat(BLOCK * 3 + 17);
        let data = format!("first\n{long}\nlast\n");
        let got = backwards(data.as_bytes());
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], ((data.len() - 5) as u64, "last".to_owned()));
        assert_eq!(got[1], (6, long));
        assert_eq!(got[2], (0, "first".to_owned()));
    }

    #[test]
    fn overlong_lines_come_without_their_bytes() {
        let long = "y".repeat(MAX_LINE_BYTES + BLOCK + 5);
        let data = format!("a\n{long}\nb\n");
        let got = backwards(data.as_bytes());
        assert_eq!(
            got,
            [
                ((data.len() - 2) as u64, "b".to_owned()),
                (2, "<long>".to_owned()),
                (0, "a".to_owned())
            ]
        );
    }
}
