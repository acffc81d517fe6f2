//! Checkpoint records: one JSON line each in a digest sidecar, optionally signed with Ed25519.
//!
//! ```text
//! {"v":1,"kind":"checkpoint","trail":"6f1c…","n":7,"file":"audit.log","lines":3000,"bytes":837000,"head":"9a3e…","time":"2026-05-09T10:15:02.441Z","prev":"Qm9…","key":"c0ffee…","tags":"AAEC…","sig":"3q2+…"}
//! ```
//!
//! Fields, always in this order: `v` (format version, 1); `kind` (`start`, `checkpoint`,
//! `resume`, `seal`, `close`: see the sidecar docs); `trail` (random id of the trail, hex);
//! `n` (number of the record in the trail: 0, 1, 2, … across files); `file` (the file's name
//! when the record was written; for a `seal`, the name it is rolled to); `lines`, `bytes`
//! (counts of the file covered so far); `head` (the chain link after `lines` lines, hex);
//! `time` (UTC); `prev` (base64 SHA-256 of the previous record's line, signature included,
//! so records chain too; empty for record 0); `key` (hex of the first 8 bytes of SHA-256 of
//! the signing public key, empty when unsigned); `tags` (base64 of the CRC-32s, little endian,
//! of the lines since the previous record of this file); `sig` (base64 Ed25519 signature of
//! `log4rs-audit/checkpoint/v1\n` followed by the line without `,"sig":…`; absent when
//! unsigned).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::chain::{from_hex, to_hex, Head};

const DOMAIN: &[u8] = b"log4rs-audit/checkpoint/v1\n";
const SIG_FIELD: &str = ",\"sig\":\"";

/// What a record marks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// First record of a file: where its chain starts.
    Start,
    /// Every N lines or T seconds.
    Checkpoint,
    /// Written by a writer that started on an existing file (after a restart or crash).
    Resume,
    /// The file is complete and rolled to the name in `file`.
    Seal,
    /// The writer closed the file (clean shutdown).
    Close,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Start => "start",
            Kind::Checkpoint => "checkpoint",
            Kind::Resume => "resume",
            Kind::Seal => "seal",
            Kind::Close => "close",
        }
    }
}

/// One record, as written and as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// What it marks.
    pub kind: Kind,
    /// The trail's id.
    pub trail: [u8; 16],
    /// Its number in the trail.
    pub n: u64,
    /// The file's name (for a seal: the name it is rolled to).
    pub file: String,
    /// Lines of the file covered.
    pub lines: u64,
    /// Bytes of the file covered.
    pub bytes: u64,
    /// Chain head after `lines` lines.
    pub head: Head,
    /// When, RFC 3339 UTC.
    pub time: String,
    /// SHA-256 of the previous record's line (`[0; 32]` for record 0).
    pub prev: [u8; 32],
    /// Key id (first 8 bytes of SHA-256 of the public key), if signed.
    pub key: Option<[u8; 8]>,
    /// CRC-32s (LE) of the lines since the previous record of this file.
    pub tags: Vec<u8>,
    /// The signature, if signed.
    pub sig: Option<[u8; 64]>,
}

/// Why a record line cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// Not JSON of the expected shape.
    #[error("not a checkpoint record: {0}")]
    Json(#[from] serde_json::Error),
    /// A field that does not decode.
    #[error("bad field `{0}`")]
    Field(&'static str),
    /// An unknown format version.
    #[error("unknown version {0}")]
    Version(u64),
}

#[derive(Deserialize)]
struct Wire {
    v: u64,
    kind: Kind,
    trail: String,
    n: u64,
    file: String,
    lines: u64,
    bytes: u64,
    head: String,
    time: String,
    prev: String,
    key: String,
    tags: String,
    #[serde(default)]
    sig: Option<String>,
}

/// The key id of a public key.
pub fn key_id(key: &VerifyingKey) -> [u8; 8] {
    let digest = Sha256::digest(key.as_bytes());
    let mut id = [0u8; 8];
    id.copy_from_slice(&digest[..8]);
    id
}

/// SHA-256 of a record line (without its `\n`): the next record's `prev`.
pub fn line_digest(line: &str) -> [u8; 32] {
    Sha256::digest(line.as_bytes()).into()
}

impl Record {
    /// The unsigned body: the line without `sig`.
    fn body(&self) -> String {
        let prev = if self.prev == [0u8; 32] && self.n == 0 {
            String::new()
        } else {
            B64.encode(self.prev)
        };
        let key = self.key.map(|k| to_hex(&k)).unwrap_or_default();
        let file = serde_json::Value::String(self.file.clone()).to_string();
        format!(
            "{{\"v\":1,\"kind\":\"{}\",\"trail\":\"{}\",\"n\":{},\"file\":{file},\"lines\":{},\"bytes\":{},\"head\":\"{}\",\"time\":\"{}\",\"prev\":\"{prev}\",\"key\":\"{key}\",\"tags\":\"{}\"}}",
            self.kind.as_str(),
            to_hex(&self.trail),
            self.n,
            self.lines,
            self.bytes,
            to_hex(&self.head),
            self.time,
            B64.encode(&self.tags),
        )
    }

    /// Signs (if `key` is given) and renders the record as one line, without `\n`. Sets
    /// `self.key` and `self.sig` accordingly.
    pub fn seal_line(&mut self, key: Option<&SigningKey>) -> String {
        self.key = key.map(|k| key_id(&k.verifying_key()));
        let mut body = self.body();
        match key {
            Some(k) => {
                let mut msg = Vec::with_capacity(DOMAIN.len() + body.len());
                msg.extend_from_slice(DOMAIN);
                msg.extend_from_slice(body.as_bytes());
                let sig = k.sign(&msg).to_bytes();
                self.sig = Some(sig);
                body.pop();
                body.push_str(SIG_FIELD);
                body.push_str(&B64.encode(sig));
                body.push_str("\"}");
                body
            }
            None => {
                self.sig = None;
                body
            }
        }
    }

    /// Reads a record line (without `\n`).
    pub fn parse(line: &str) -> Result<Record, RecordError> {
        let w: Wire = serde_json::from_str(line)?;
        if w.v != 1 {
            return Err(RecordError::Version(w.v));
        }
        let b64 = |s: &str, f: &'static str| B64.decode(s).map_err(|_| RecordError::Field(f));
        let prev = if w.prev.is_empty() {
            [0u8; 32]
        } else {
            b64(&w.prev, "prev")?
                .try_into()
                .map_err(|_| RecordError::Field("prev"))?
        };
        let key = if w.key.is_empty() {
            None
        } else {
            Some(from_hex::<8>(&w.key).ok_or(RecordError::Field("key"))?)
        };
        let sig = match &w.sig {
            Some(s) => Some(
                b64(s, "sig")?
                    .try_into()
                    .map_err(|_| RecordError::Field("sig"))?,
            ),
            None => None,
        };
        let tags = b64(&w.tags, "tags")?;
        if tags.len() % 4 != 0 {
            return Err(RecordError::Field("tags"));
        }
        Ok(Record {
            kind: w.kind,
            trail: from_hex::<16>(&w.trail).ok_or(RecordError::Field("trail"))?,
            n: w.n,
            file: w.file,
            lines: w.lines,
            bytes: w.bytes,
            head: from_hex::<32>(&w.head).ok_or(RecordError::Field("head"))?,
            time: w.time,
            prev,
            key,
            tags,
            sig,
        })
    }

    /// Whether `line` (this record's own line) carries a valid signature by `key`.
    pub fn signature_valid(&self, line: &str, key: &VerifyingKey) -> bool {
        let Some(sig) = self.sig else { return false };
        let Some(at) = line.rfind(SIG_FIELD) else {
            return false;
        };
        let mut msg = Vec::with_capacity(DOMAIN.len() + at + 1);
        msg.extend_from_slice(DOMAIN);
        msg.extend_from_slice(&line.as_bytes()[..at]);
        msg.push(b'}');
        key.verify(&msg, &Signature::from_bytes(&sig)).is_ok()
    }

    /// The tags as numbers.
    pub fn tag_values(&self) -> impl Iterator<Item = u32> + '_ {
        self.tags
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        Record {
            kind: Kind::Checkpoint,
            trail: [7; 16],
            n: 3,
            file: "audit \"x\".log".into(),
            lines: 2,
            bytes: 10,
            head: [9; 32],
            time: "2026-05-09T10:00:00.000Z".into(),
            prev: [1; 32],
            key: None,
            tags: vec![1, 2, 3, 4, 5, 6, 7, 8],
            sig: None,
        }
    }

    #[test]
    fn signed_round_trip_and_forgery() {
        let key = SigningKey::from_bytes(&[42; 32]);
        let mut r = sample();
        let line = r.seal_line(Some(&key));
        let back = Record::parse(&line).unwrap();
        assert_eq!(back, r);
        assert!(back.signature_valid(&line, &key.verifying_key()));
        let forged = line.replace("\"lines\":2", "\"lines\":3");
        let f = Record::parse(&forged).unwrap();
        assert!(!f.signature_valid(&forged, &key.verifying_key()));
        let other = SigningKey::from_bytes(&[43; 32]);
        assert!(!back.signature_valid(&line, &other.verifying_key()));
        assert_eq!(
            back.tag_values().collect::<Vec<_>>(),
            [0x04030201, 0x08070605]
        );
    }

    #[test]
    fn unsigned_round_trip() {
        let mut r = sample();
        let line = r.seal_line(None);
        assert!(!line.contains("sig"));
        let back = Record::parse(&line).unwrap();
        assert_eq!(back, r);
        assert!(matches!(
            Record::parse("{\"v\":2}"),
            Err(RecordError::Json(_))
        ));
    }
}
