//! One line of the anchor ledger: its canonical form, the server's signature over it, and
//! reading a ledger back (from the server's folder, a copy of it, or `GET /api/anchors`).
//!
//! ```text
//! {"received":"2026-12-07T10:15:02.441Z","origin":"file:app-7:/srv/app/run/audit/audit.log","sender":"5f0c…","unlinked":false,"pinned_key":"","record":{"v":2,"kind":"checkpoint",…},"serverSig":"…"}
//! ```
//!
//! Fields, always in this order, no spaces: `received` (the server's clock when it accepted the
//! record, UTC, milliseconds); `origin` (the record's own `origin`, repeated so a line can be
//! filed without parsing the record); `sender` (hex of the first 16 bytes of a domain-separated
//! SHA-256 of the event key that sent it, never the key); `unlinked` (`true` when the record
//! begins a trail of an origin the ledger already knew and does not name the origin's last
//! trail as its predecessor); `pinned_key` (base64 of the writer's Ed25519 public key on the
//! line that pinned it: the origin's first signed record, and the first record after a
//! `rekey`; empty otherwise); `record` (the checkpoint record line, byte for byte as in the
//! sidecar: records are canonical JSON, so it is embedded as it is); `serverSig` (base64 Ed25519
//! by the server's anchor key over `log4rs-audit/anchor/v1\n` followed by the line without
//! `,"serverSig":…`).
//!
//! Reading is strict, as for records: the line must be exactly what the server renders for
//! what it holds, so a signed line means one thing.

use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::Deserialize;

use crate::integrity::chain::{from_hex, to_hex};
use crate::integrity::checkpoint::{Record, RecordError};

/// Domain separation of the server's signature: no other signed message of the crate starts so.
const DOMAIN: &[u8] = b"log4rs-audit/anchor/v1\n";
const SIG_FIELD: &str = ",\"serverSig\":\"";

/// The file of one origin's ledger inside its folder.
pub const LEDGER_FILE: &str = "ledger.ndjson";
/// The file of one origin's refused forks inside its folder.
pub const FORKS_FILE: &str = "forks.ndjson";

/// One accepted record, as the ledger keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// When the server accepted it (RFC 3339, UTC, milliseconds).
    pub received: String,
    /// The record's origin.
    pub origin: String,
    /// Which event key sent it: its node-binding id (`server/auth.rs` `key_id`).
    pub sender: [u8; 16],
    /// A new trail of a known origin that does not link to the origin's last trail.
    pub unlinked: bool,
    /// The public key this line pinned for the origin, if it pinned one.
    pub pinned_key: Option<VerifyingKey>,
    /// The record line, exactly as in the sidecar.
    pub record_line: String,
    /// The record, parsed.
    pub record: Record,
    /// The server's signature.
    pub server_sig: [u8; 64],
}

/// Why a ledger line cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// Not JSON of the ledger's shape.
    #[error("not an anchor ledger line: {0}")]
    Json(#[from] serde_json::Error),
    /// The embedded record does not parse.
    #[error("its record: {0}")]
    Record(#[from] RecordError),
    /// A field that does not decode.
    #[error("bad field `{0}`")]
    Field(&'static str),
    /// Parsed, but not the bytes the server renders for it.
    #[error("not in canonical form: altered")]
    NotCanonical,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire<'a> {
    received: String,
    origin: String,
    sender: String,
    unlinked: bool,
    pinned_key: String,
    #[serde(borrow)]
    record: &'a serde_json::value::RawValue,
    #[serde(rename = "serverSig")]
    server_sig: String,
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

impl Entry {
    /// A new entry, signed by `key`.
    pub fn signed(
        received: String,
        sender: [u8; 16],
        unlinked: bool,
        pinned_key: Option<VerifyingKey>,
        record_line: String,
        record: Record,
        key: &SigningKey,
    ) -> Entry {
        let mut e = Entry {
            received,
            origin: record.origin.clone(),
            sender,
            unlinked,
            pinned_key,
            record_line,
            record,
            server_sig: [0; 64],
        };
        let mut msg = DOMAIN.to_vec();
        msg.extend_from_slice(e.body().as_bytes());
        e.server_sig = key.sign(&msg).to_bytes();
        e
    }

    /// The line without `serverSig`: what the server signs.
    fn body(&self) -> String {
        format!(
            "{{\"received\":{},\"origin\":{},\"sender\":\"{}\",\"unlinked\":{},\"pinned_key\":\"{}\",\"record\":{}}}",
            json_str(&self.received),
            json_str(&self.origin),
            to_hex(&self.sender),
            self.unlinked,
            self.pinned_key
                .map(|k| B64.encode(k.as_bytes()))
                .unwrap_or_default(),
            self.record_line
        )
    }

    /// The line as stored (without `\n`).
    pub fn render(&self) -> String {
        let mut s = self.body();
        s.pop();
        s.push_str(SIG_FIELD);
        s.push_str(&B64.encode(self.server_sig));
        s.push_str("\"}");
        s
    }

    /// Base64 of the server's signature (what a receipt carries).
    pub fn server_sig_b64(&self) -> String {
        B64.encode(self.server_sig)
    }

    /// Whether `key` signed this line.
    pub fn signature_valid(&self, key: &VerifyingKey) -> bool {
        let mut msg = DOMAIN.to_vec();
        msg.extend_from_slice(self.body().as_bytes());
        key.verify_strict(&msg, &Signature::from_bytes(&self.server_sig))
            .is_ok()
    }

    /// Reads a ledger line (without `\n`), strictly.
    pub fn parse(line: &str) -> Result<Entry, EntryError> {
        let w: Wire = serde_json::from_str(line)?;
        let record_line = w.record.get().to_owned();
        let record = Record::parse(&record_line)?;
        let sender = from_hex::<16>(&w.sender).ok_or(EntryError::Field("sender"))?;
        let pinned_key = if w.pinned_key.is_empty() {
            None
        } else {
            let bytes: [u8; 32] = B64
                .decode(&w.pinned_key)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or(EntryError::Field("pinned_key"))?;
            Some(VerifyingKey::from_bytes(&bytes).map_err(|_| EntryError::Field("pinned_key"))?)
        };
        let server_sig: [u8; 64] = B64
            .decode(&w.server_sig)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(EntryError::Field("serverSig"))?;
        if record.origin != w.origin {
            return Err(EntryError::Field("origin"));
        }
        let e = Entry {
            received: w.received,
            origin: w.origin,
            sender,
            unlinked: w.unlinked,
            pinned_key,
            record_line,
            record,
            server_sig,
        };
        if e.render() != line {
            return Err(EntryError::NotCanonical);
        }
        Ok(e)
    }
}

/// A folder name for an origin: hex of the first 16 bytes of its SHA-256 (origins hold `/` and
/// `:`, and may be long).
pub fn origin_folder(origin: &str) -> String {
    use sha2::{Digest, Sha256};
    to_hex(&Sha256::digest(origin.as_bytes())[..16])
}

/// A ledger as read back for `verify --anchors`: every line, where it came from, and the
/// lines that could not be read.
#[derive(Clone, Debug, Default)]
pub struct AnchorLedger {
    /// Where it was read (a folder or a URL), for messages.
    pub source: String,
    /// Each entry with where it is (`file:line`).
    pub entries: Vec<(Entry, String)>,
    /// Lines that do not parse, each with where it is and why.
    pub broken: Vec<String>,
}

impl AnchorLedger {
    /// Reads a ledger text (NDJSON, as `GET /api/anchors` answers). A torn last line is left
    /// out (a read racing an append), any other line that does not parse is listed.
    pub fn from_text(text: &str, source: &str) -> AnchorLedger {
        let mut ledger = AnchorLedger {
            source: source.to_owned(),
            ..AnchorLedger::default()
        };
        ledger.add_text(text, source, true);
        ledger
    }

    fn add_text(&mut self, text: &str, at: &str, tolerate_torn: bool) {
        let whole = if tolerate_torn && !text.is_empty() && !text.ends_with('\n') {
            text.rsplit_once('\n').map_or("", |(w, _)| w)
        } else {
            text
        };
        for (i, line) in whole.lines().enumerate() {
            if line.is_empty() {
                continue;
            }
            let place = format!("{at}:{}", i + 1);
            match Entry::parse(line) {
                Ok(e) => self.entries.push((e, place)),
                Err(e) => self.broken.push(format!("{place}: {e}")),
            }
        }
    }

    /// Reads every origin's ledger under `dir` (a copy of the server's `anchors/` folder, or
    /// one origin's folder of it).
    pub fn from_dir(dir: &Path) -> io::Result<AnchorLedger> {
        let mut ledger = AnchorLedger {
            source: dir.display().to_string(),
            ..AnchorLedger::default()
        };
        let mut files: Vec<PathBuf> = Vec::new();
        let own = dir.join(LEDGER_FILE);
        if own.is_file() {
            files.push(own);
        }
        for e in std::fs::read_dir(dir)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?
        {
            let p = e?.path().join(LEDGER_FILE);
            if p.is_file() {
                files.push(p);
            }
        }
        files.sort();
        for f in files {
            let file = std::fs::File::open(&f)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", f.display())))?;
            let mut text = String::new();
            for line in BufReader::new(file).lines() {
                let line =
                    line.map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", f.display())))?;
                text.push_str(&line);
                text.push('\n');
            }
            ledger.add_text(&text, &f.display().to_string(), false);
        }
        Ok(ledger)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integrity::checkpoint::{Extra, Kind};

    fn record() -> (String, Record) {
        let mut r = Record {
            v: 2,
            kind: Kind::Checkpoint,
            trail: [7; 16],
            n: 3,
            boot: 1,
            origin: "file:h:/var/log/a.log".into(),
            file: "a.log".into(),
            lines: 0,
            bytes: 0,
            head: [9; 32],
            time: "2026-05-09T10:00:00.000Z".into(),
            prev: [1; 32],
            key: None,
            tags: vec![],
            extra: Extra::None,
            sig: None,
        };
        let writer = SigningKey::from_bytes(&[3; 32]);
        let line = r.seal_line(Some(&writer));
        (line, r)
    }

    #[test]
    fn round_trip_signature_and_strictness() {
        let server = SigningKey::from_bytes(&[1; 32]);
        let (line, r) = record();
        let pinned = SigningKey::from_bytes(&[3; 32]).verifying_key();
        let e = Entry::signed(
            "2026-12-07T10:00:00.000Z".into(),
            [5; 16],
            false,
            Some(pinned),
            line,
            r,
            &server,
        );
        let text = e.render();
        let back = Entry::parse(&text).unwrap();
        assert_eq!(back, e);
        assert!(back.signature_valid(&server.verifying_key()));
        assert!(!back.signature_valid(&SigningKey::from_bytes(&[2; 32]).verifying_key()));
        let forged = text.replace("\"unlinked\":false", "\"unlinked\":true");
        assert!(!Entry::parse(&forged)
            .unwrap()
            .signature_valid(&server.verifying_key()));
        let spaced = text.replacen(",\"origin\"", ", \"origin\"", 1);
        assert!(matches!(
            Entry::parse(&spaced),
            Err(EntryError::NotCanonical)
        ));
        let ledger = AnchorLedger::from_text(&format!("{text}\n{text}\nnot json\n{{\"torn"), "x");
        assert_eq!((ledger.entries.len(), ledger.broken.len()), (2, 1));
    }
}
