//! Splitting a byte stream into lines through one reusable buffer: lines are found with
//! `memchr` and handed out as slices of the buffer (no copy, no allocation per line); the
//! buffer starts at 256 KiB and doubles only for a longer line, up to the line limit
//! ([`MAX_LINE_BYTES`] unless set): a longer line is skipped (its bytes read and dropped until
//! its newline) and handed out as an [`RawLine::overlong`] marker, so memory stays bounded
//! whatever the input (a file without a newline, a gzip bomb, `/dev/zero`).

use std::io::{self, Read};

/// The longest line handed out by default: 16 MiB, far above any audit event (the Event
/// Server refuses events over its `max_event_bytes`), far below what would hurt a reader.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Splits a byte stream into lines through one reusable buffer.
pub struct LineReader<R> {
    source: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Bytes from `start` already searched for a newline.
    scanned: usize,
    eof: bool,
    /// Stream offset of `buf[0]`.
    base: u64,
    max_line: usize,
}

/// A line found by [`LineReader::next_line`].
#[derive(Debug, PartialEq, Eq)]
pub struct RawLine<'b> {
    /// The bytes, without the newline (nor a `\r` before it); empty for an overlong line.
    pub bytes: &'b [u8],
    /// Whether a newline ended it (`false` only for the last line of the stream).
    pub terminated: bool,
    /// Where the line starts in the stream (after decompression), in bytes.
    pub offset: u64,
    /// For a line longer than the limit: its length (without the newline); it was skipped.
    pub overlong: Option<u64>,
    /// Whether a `\r` before the newline was dropped from `bytes`.
    pub crlf: bool,
}

impl<R: Read> LineReader<R> {
    /// A reader with a 256 KiB buffer and the [`MAX_LINE_BYTES`] limit.
    pub fn new(source: R) -> Self {
        Self::with_capacity(source, 256 * 1024)
    }

    /// A reader whose buffer starts at `capacity` bytes (at least 1).
    pub fn with_capacity(source: R, capacity: usize) -> Self {
        Self::with_limit(source, capacity, MAX_LINE_BYTES)
    }

    /// A reader whose buffer starts at `capacity` bytes and whose lines are at most `max_line`
    /// bytes (at least 1): longer ones come out as [`RawLine::overlong`].
    pub fn with_limit(source: R, capacity: usize, max_line: usize) -> Self {
        let max_line = max_line.max(1);
        LineReader {
            source,
            buf: vec![0; capacity.clamp(1, max_line + 1)],
            start: 0,
            end: 0,
            scanned: 0,
            eof: false,
            base: 0,
            max_line,
        }
    }

    /// The next line, `None` at the end of the stream.
    pub fn next_line(&mut self) -> io::Result<Option<RawLine<'_>>> {
        loop {
            let from = self.start + self.scanned;
            if let Some(i) = memchr::memchr(b'\n', &self.buf[from..self.end]) {
                let line_end = from + i;
                if line_end - self.start > self.max_line {
                    return self.skip_overlong();
                }
                let line = self.start..line_end;
                let offset = self.base + self.start as u64;
                self.start = line_end + 1;
                self.scanned = 0;
                let bytes = &self.buf[line];
                let stripped = bytes.strip_suffix(b"\r");
                return Ok(Some(RawLine {
                    bytes: stripped.unwrap_or(bytes),
                    terminated: true,
                    offset,
                    overlong: None,
                    crlf: stripped.is_some(),
                }));
            }
            self.scanned = self.end - self.start;
            if self.end - self.start > self.max_line {
                return self.skip_overlong();
            }
            if self.eof {
                if self.start == self.end {
                    return Ok(None);
                }
                let line = self.start..self.end;
                let offset = self.base + self.start as u64;
                self.start = self.end;
                self.scanned = 0;
                return Ok(Some(RawLine {
                    bytes: &self.buf[line],
                    terminated: false,
                    offset,
                    overlong: None,
                    crlf: false,
                }));
            }
            self.fill()?;
        }
    }

    /// Drops the line at `start` (longer than the limit) up to and including its newline,
    /// reading through the buffer without growing it.
    fn skip_overlong(&mut self) -> io::Result<Option<RawLine<'static>>> {
        let offset = self.base + self.start as u64;
        let mut length = 0u64;
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf[self.start..self.end]) {
                length += i as u64;
                self.start += i + 1;
                self.scanned = 0;
                return Ok(Some(RawLine {
                    bytes: &[],
                    terminated: true,
                    offset,
                    overlong: Some(length),
                    crlf: false,
                }));
            }
            length += (self.end - self.start) as u64;
            self.base += self.end as u64;
            self.start = 0;
            self.end = 0;
            self.scanned = 0;
            if self.eof {
                return Ok(Some(RawLine {
                    bytes: &[],
                    terminated: false,
                    offset,
                    overlong: Some(length),
                    crlf: false,
                }));
            }
            self.fill()?;
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.base += self.start as u64;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            // Never beyond the limit (plus its newline): a longer line is skipped instead.
            let grown = (self.buf.len() * 2)
                .min(self.max_line + 1)
                .max(self.end + 1);
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

    /// Lines over the limit come out as markers with their offset and length, the lines
    /// around them intact, and the buffer never grows past the limit.
    #[test]
    fn overlong_lines_are_skipped_with_offset_and_length() {
        let long = "x".repeat(100);
        let data = format!("ok\n{long}\nafter\n{long}");
        for buf in [1, 3, 8, 200] {
            let mut reader = LineReader::with_limit(data.as_bytes(), buf, 10);
            let mut got = Vec::new();
            while let Some(line) = reader.next_line().unwrap() {
                got.push((
                    line.bytes.to_vec(),
                    line.terminated,
                    line.offset,
                    line.overlong,
                ));
                assert!(
                    reader.buf.len() <= 11,
                    "buffer {} for limit 10",
                    reader.buf.len()
                );
            }
            assert_eq!(
                got,
                [
                    (b"ok".to_vec(), true, 0, None),
                    (vec![], true, 3, Some(100)),
                    (b"after".to_vec(), true, 104, None),
                    (vec![], false, 110, Some(100)),
                ],
                "buffer {buf}"
            );
        }
        // Exactly at the limit is still a line.
        let mut reader = LineReader::with_limit(&b"0123456789\n"[..], 4, 10);
        let line = reader.next_line().unwrap().unwrap();
        assert_eq!((line.bytes, line.overlong), (&b"0123456789"[..], None));
    }

    /// An endless stream without a newline (as `/dev/zero`) is read in constant memory.
    #[test]
    fn endless_stream_without_newline_stays_in_a_bounded_buffer() {
        let mut reader = LineReader::with_limit(io::repeat(0).take(50 << 20), 1024, 1 << 20);
        let line = reader.next_line().unwrap().unwrap();
        assert_eq!((line.overlong, line.terminated), (Some(50 << 20), false));
        assert!(reader.buf.len() <= (1 << 20) + 1);
        assert!(reader.next_line().unwrap().is_none());
    }
}
