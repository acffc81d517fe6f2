//! Splitting a byte stream into lines through one reusable buffer: lines are found with
//! `memchr` and handed out as slices of the buffer (no copy, no allocation per line); the
//! buffer starts at 256 KiB and doubles only for a longer line.

use std::io::{self, Read};

/// Splits a byte stream into lines through one reusable buffer.
pub struct LineReader<R> {
    source: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Bytes from `start` already searched for a newline.
    scanned: usize,
    eof: bool,
}

/// A line found by [`LineReader::next_line`].
#[derive(Debug, PartialEq, Eq)]
pub struct RawLine<'b> {
    /// The bytes, without the newline (nor a `\r` before it).
    pub bytes: &'b [u8],
    /// Whether a newline ended it (`false` only for the last line of the stream).
    pub terminated: bool,
}

impl<R: Read> LineReader<R> {
    /// A reader with a 256 KiB buffer.
    pub fn new(source: R) -> Self {
        Self::with_capacity(source, 256 * 1024)
    }

    /// A reader whose buffer starts at `capacity` bytes (at least 1).
    pub fn with_capacity(source: R, capacity: usize) -> Self {
        LineReader {
            source,
            buf: vec![0; capacity.max(1)],
            start: 0,
            end: 0,
            scanned: 0,
            eof: false,
        }
    }

    /// The next line, `None` at the end of the stream.
    pub fn next_line(&mut self) -> io::Result<Option<RawLine<'_>>> {
        loop {
            let from = self.start + self.scanned;
            if let Some(i) = memchr::memchr(b'\n', &self.buf[from..self.end]) {
                let line_end = from + i;
                let line = self.start..line_end;
                self.start = line_end + 1;
                self.scanned = 0;
                let bytes = &self.buf[line];
                let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
                return Ok(Some(RawLine {
                    bytes,
                    terminated: true,
                }));
            }
            self.scanned = self.end - self.start;
            if self.eof {
                if self.start == self.end {
                    return Ok(None);
                }
                let line = self.start..self.end;
                self.start = self.end;
                self.scanned = 0;
                return Ok(Some(RawLine {
                    bytes: &self.buf[line],
                    terminated: false,
                }));
            }
            self.fill()?;
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let grown = self.buf.len() * 2;
            self.buf.resize(grown, 0);
        }
        loop {
            match self.source.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(data: &[u8], buf: usize) -> Vec<(Vec<u8>, bool)> {
        let mut reader = LineReader::with_capacity(data, buf);
        let mut out = Vec::new();
        while let Some(line) = reader.next_line().unwrap() {
            out.push((line.bytes.to_vec(), line.terminated));
        }
        out
    }

    #[test]
    fn lines_across_buffer_refills_and_growth() {
        let data = b"one\r\ntwo\n\nthree is a longer line than the buffer\nlast";
        for buf in [1, 2, 3, 7, 64] {
            let got = lines_of(data, buf);
            assert_eq!(
                got,
                [
                    (b"one".to_vec(), true),
                    (b"two".to_vec(), true),
                    (b"".to_vec(), true),
                    (b"three is a longer line than the buffer".to_vec(), true),
                    (b"last".to_vec(), false),
                ],
                "buffer {buf}"
            );
        }
    }
}
