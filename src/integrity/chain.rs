//! The hash chain over the lines of a trail.
//!
//! `link(0)` is the chain's start (32 zero bytes for a new trail, the previous file's final link
//! for a file that continues a trail) and `link(i) = SHA-256(link(i-1) ‖ line(i))`, where
//! `line(i)` is the exact bytes of the line, its `\n` included. The final link is the *head*.
//!
//! Beside the head, each line gets a *tag*: the CRC-32 of its bytes. Tags are not a proof (the
//! head is); they let `verify` say which line changed, and how (modified, deleted, inserted,
//! swapped), instead of only "something in these 1000 lines".

use sha2::{Digest, Sha256};

/// A chain head: 32 bytes of SHA-256.
pub type Head = [u8; 32];

/// The start of a new trail's chain.
pub const GENESIS: Head = [0u8; 32];

/// The running state of a chain: head, counts, and the tags of lines not yet in a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    /// The link of the last line absorbed.
    pub head: Head,
    /// Lines absorbed (in this file).
    pub lines: u64,
    /// Bytes absorbed (in this file).
    pub bytes: u64,
    /// CRC-32 (little endian) of each line absorbed since [`Chain::take_tags`].
    pub tags: Vec<u8>,
}

impl Chain {
    /// A chain starting at `head` with nothing absorbed.
    pub fn starting_at(head: Head) -> Chain {
        Chain {
            head,
            lines: 0,
            bytes: 0,
            tags: Vec::new(),
        }
    }

    /// Absorbs whole lines (`\n`-terminated). A last piece without `\n` is *not* absorbed; its
    /// length is returned (0 when `data` ends with `\n`).
    ///
    /// ```
    /// use log4rs_audit::integrity::chain::{Chain, GENESIS};
    ///
    /// let mut chain = Chain::starting_at(GENESIS);
    /// assert_eq!(chain.absorb(b"a\nb\ntorn"), 4);
    /// assert_eq!((chain.lines, chain.bytes), (2, 4));
    /// ```
    pub fn absorb(&mut self, data: &[u8]) -> usize {
        let mut rest = data;
        while let Some(end) = memchr::memchr(b'\n', rest) {
            let (line, tail) = rest.split_at(end + 1);
            self.absorb_line(line);
            rest = tail;
        }
        rest.len()
    }

    /// Absorbs one line, `\n` included.
    pub fn absorb_line(&mut self, line: &[u8]) {
        self.head = link(&self.head, line);
        self.lines += 1;
        self.bytes += line.len() as u64;
        self.tags.extend_from_slice(&tag(line).to_le_bytes());
    }

    /// The tags of the lines absorbed since the last call.
    pub fn take_tags(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.tags)
    }
}

/// `SHA-256(prev ‖ line)`.
pub fn link(prev: &Head, line: &[u8]) -> Head {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(line);
    h.finalize().into()
}

/// The tag of a line: its CRC-32.
pub fn tag(line: &[u8]) -> u32 {
    crc32fast::hash(line)
}

/// Lowercase hex of bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Parses lowercase or uppercase hex into exactly `N` bytes.
pub fn from_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = text.as_bytes();
    if bytes.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in bytes.chunks(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_cover_previous_link_and_exact_bytes() {
        let mut a = Chain::starting_at(GENESIS);
        a.absorb(b"x\ny\n");
        let mut b = Chain::starting_at(GENESIS);
        b.absorb(b"x\n");
        b.absorb(b"y\n");
        assert_eq!(a, b, "batching does not matter");
        assert_eq!(a.head, link(&link(&GENESIS, b"x\n"), b"y\n"));
        let mut c = Chain::starting_at(GENESIS);
        c.absorb(b"y\nx\n");
        assert_ne!(a.head, c.head, "order matters");
        let mut d = Chain::starting_at(GENESIS);
        d.absorb(b"x\ny \n");
        assert_ne!(a.head, d.head);
        assert_eq!(a.tags.len(), 8);
        assert_eq!(a.take_tags()[..4], tag(b"x\n").to_le_bytes());
        assert!(a.tags.is_empty());
    }

    #[test]
    fn hex_round_trip() {
        let h = link(&GENESIS, b"a\n");
        assert_eq!(from_hex::<32>(&to_hex(&h)), Some(h));
        assert_eq!(from_hex::<2>("0g00"), None);
        assert_eq!(from_hex::<2>("000"), None);
    }
}
