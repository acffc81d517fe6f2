//! Checkpoint records: one JSON line each in a digest sidecar, optionally signed with Ed25519.
//!
//! ```text
//! {"v":2,"kind":"checkpoint","trail":"6f1c…","n":7,"boot":3,"origin":"file:host-a:/var/log/app/audit.log","file":"audit.log","lines":3000,"bytes":837000,"head":"9a3e…","time":"2026-05-09T10:15:02.441Z","prev":"Qm9…","key":"c0ffee…","tags":"AAEC…","sig":"3q2+…"}
//! ```
//!
//! Fields, always in this order: `v` (format version: 2; version 1 lines, written before
//! origins and trail links existed, are still read); `kind` (`start`, `checkpoint`, `resume`,
//! `seal`, `close`, `prune`, `rekey`: see the sidecar docs); `trail` (random id of the trail,
//! hex); `n` (number of the record in the trail: 0, 1, 2, … across files); `boot` (the writer's
//! boot counter: +1 at every writer start on the trail, never lower); `origin` (where the trail
//! is written: `file:<node>:<absolute path>` for `audit_file`,
//! `server:<destination>:<folder>/events.log` on an Event Server); `file` (the file's name
//! when the record was written; for a `seal`, the name it is rolled to); `lines`, `bytes`
//! (counts of the file covered so far); `head` (the chain link after `lines` lines, hex);
//! `time` (UTC); `prev` (base64 SHA-256 of the previous record's line, signature included,
//! so records chain too; empty for record 0); `key` (hex of the first 8 bytes of SHA-256 of
//! the signing public key, empty when unsigned); `tags` (base64 of the CRC-32s, little endian,
//! of the lines since the previous record of this file); then the fields of the kind
//! ([`Extra`]); `sig` (base64 Ed25519 signature of `log4rs-audit/checkpoint/v2\n` followed by
//! the line without `,"sig":…`; absent when unsigned).
//!
//! Parsing is strict: unknown or missing fields are refused, and the line must be exactly the
//! bytes the writer renders for the record it holds (field order, no spaces, lowercase hex,
//! canonical escapes), so a record means one thing and can be checked on its own.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::chain::{from_hex, to_hex, Head};

const DOMAIN_V1: &[u8] = b"log4rs-audit/checkpoint/v1\n";
const DOMAIN_V2: &[u8] = b"log4rs-audit/checkpoint/v2\n";
const SIG_FIELD: &str = ",\"sig\":\"";

/// The format version the writer renders.
pub const FORMAT: u8 = 2;

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
    /// A rolled file of the trail is about to be deleted by `max_backups` (format 2).
    Prune,
    /// The next records are signed by another key (format 2; signed by the old key).
    Rekey,
}

impl Kind {
    /// The word in the record.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Start => "start",
            Kind::Checkpoint => "checkpoint",
            Kind::Resume => "resume",
            Kind::Seal => "seal",
            Kind::Close => "close",
            Kind::Prune => "prune",
            Kind::Rekey => "rekey",
        }
    }
}

/// The trail a new trail follows: its id, its last record known to the writer and that
/// record's chain head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrailLink {
    /// The previous trail's id.
    pub trail: [u8; 16],
    /// The number of its last record the writer knew.
    pub n: u64,
    /// The chain head of that record.
    pub head: Head,
}

/// What a `prune` record says about the file it deletes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pruned {
    /// The deleted file's name.
    pub file: String,
    /// The trail its records belong to.
    pub trail: [u8; 16],
    /// Its first and last record numbers.
    pub first: u64,
    /// See `first`.
    pub last: u64,
    /// The chain head of its last record.
    pub head: Head,
}

/// The fields only some kinds have (format 2), rendered after `tags`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Extra {
    /// Other kinds, and every format 1 record.
    None,
    /// `start`: `"prev_trail":"…","prev_n":N,"prev_head":"…"` when the file begins a new trail
    /// that follows another one (empty strings and 0: no predecessor, or a file continuing a
    /// trail after a roll).
    Start(Option<TrailLink>),
    /// `resume`: `"unwitnessed":[first,last]`, the lines of the file this record seals that were
    /// written after the last record before the writer stopped without closing (a crash or a
    /// kill): nobody sealed them while they were written. `[]`: none.
    Resume(Option<(u64, u64)>),
    /// `prune`: `"pruned":"audit.log.10","pruned_trail":"…","first":N,"last":M,"pruned_head":"…"`.
    Prune(Pruned),
    /// `rekey`: `"new_key":"<key id>"`.
    Rekey([u8; 8]),
}

/// One record, as written and as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Format version (1 or 2).
    pub v: u8,
    /// What it marks.
    pub kind: Kind,
    /// The trail's id.
    pub trail: [u8; 16],
    /// Its number in the trail.
    pub n: u64,
    /// The writer's boot counter (0 in format 1).
    pub boot: u64,
    /// Where the trail is written (empty in format 1).
    pub origin: String,
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
    /// The kind's own fields.
    pub extra: Extra,
    /// The signature, if signed.
    pub sig: Option<[u8; 64]>,
}

/// Why a record line cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// Not JSON of the expected shape (an unknown or a missing field, a wrong type).
    #[error("not a checkpoint record: {0}")]
    Json(#[from] serde_json::Error),
    /// A field that does not decode.
    #[error("bad field `{0}`")]
    Field(&'static str),
    /// A field this kind of record must have, or must not have.
    #[error("a {kind} record {problem} `{field}`")]
    KindField {
        /// The record's kind.
        kind: &'static str,
        /// "lacks" or "may not have".
        problem: &'static str,
        /// The field.
        field: &'static str,
    },
    /// An unknown format version.
    #[error("unknown version {0}")]
    Version(u64),
    /// Parsed, but not the exact bytes the writer renders for it.
    #[error("not in canonical form (extra spaces, another field order, escapes or letter case than the writer's): altered")]
    NotCanonical,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    v: u64,
    kind: Kind,
    trail: String,
    n: u64,
    #[serde(default)]
    boot: Option<u64>,
    #[serde(default)]
    origin: Option<String>,
    file: String,
    lines: u64,
    bytes: u64,
    head: String,
    time: String,
    prev: String,
    key: String,
    tags: String,
    #[serde(default)]
    prev_trail: Option<String>,
    #[serde(default)]
    prev_n: Option<u64>,
    #[serde(default)]
    prev_head: Option<String>,
    #[serde(default)]
    unwitnessed: Option<Vec<u64>>,
    #[serde(default)]
    pruned: Option<String>,
    #[serde(default)]
    pruned_trail: Option<String>,
    #[serde(default)]
    first: Option<u64>,
    #[serde(default)]
    last: Option<u64>,
    #[serde(default)]
    pruned_head: Option<String>,
    #[serde(default)]
    new_key: Option<String>,
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

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

impl Record {
    /// The unsigned body: the line without `sig`.
    pub fn body(&self) -> String {
        let prev = if self.prev == [0u8; 32] && self.n == 0 {
            String::new()
        } else {
            B64.encode(self.prev)
        };
        let key = self.key.map(|k| to_hex(&k)).unwrap_or_default();
        let mut s = String::with_capacity(256 + self.tags.len() * 2);
        s.push_str(&format!(
            "{{\"v\":{},\"kind\":\"{}\",\"trail\":\"{}\",\"n\":{}",
            self.v,
            self.kind.as_str(),
            to_hex(&self.trail),
            self.n
        ));
        if self.v >= 2 {
            s.push_str(&format!(
                ",\"boot\":{},\"origin\":{}",
                self.boot,
                json_str(&self.origin)
            ));
        }
        s.push_str(&format!(
            ",\"file\":{},\"lines\":{},\"bytes\":{},\"head\":\"{}\",\"time\":{},\"prev\":\"{prev}\",\"key\":\"{key}\",\"tags\":\"{}\"",
            json_str(&self.file),
            self.lines,
            self.bytes,
            to_hex(&self.head),
            json_str(&self.time),
            B64.encode(&self.tags),
        ));
        match &self.extra {
            Extra::None => {}
            Extra::Start(link) => {
                let (t, n, h) = match link {
                    Some(l) => (to_hex(&l.trail), l.n, to_hex(&l.head)),
                    None => (String::new(), 0, String::new()),
                };
                s.push_str(&format!(
                    ",\"prev_trail\":\"{t}\",\"prev_n\":{n},\"prev_head\":\"{h}\""
                ));
            }
            Extra::Resume(range) => match range {
                Some((a, b)) => s.push_str(&format!(",\"unwitnessed\":[{a},{b}]")),
                None => s.push_str(",\"unwitnessed\":[]"),
            },
            Extra::Prune(p) => s.push_str(&format!(
                ",\"pruned\":{},\"pruned_trail\":\"{}\",\"first\":{},\"last\":{},\"pruned_head\":\"{}\"",
                json_str(&p.file),
                to_hex(&p.trail),
                p.first,
                p.last,
                to_hex(&p.head)
            )),
            Extra::Rekey(k) => s.push_str(&format!(",\"new_key\":\"{}\"", to_hex(k))),
        }
        s.push('}');
        s
    }

    fn domain(&self) -> &'static [u8] {
        if self.v == 1 {
            DOMAIN_V1
        } else {
            DOMAIN_V2
        }
    }

    /// The line as it is written (with `sig` when signed), without `\n`.
    pub fn render(&self) -> String {
        let mut body = self.body();
        if let Some(sig) = &self.sig {
            body.pop();
            body.push_str(SIG_FIELD);
            body.push_str(&B64.encode(sig));
            body.push_str("\"}");
        }
        body
    }

    /// Signs (if `key` is given) and renders the record as one line, without `\n`. Sets
    /// `self.key` and `self.sig` accordingly.
    pub fn seal_line(&mut self, key: Option<&SigningKey>) -> String {
        self.key = key.map(|k| key_id(&k.verifying_key()));
        self.sig = key.map(|k| {
            let body = self.body();
            let mut msg = Vec::with_capacity(DOMAIN_V2.len() + body.len());
            msg.extend_from_slice(self.domain());
            msg.extend_from_slice(body.as_bytes());
            k.sign(&msg).to_bytes()
        });
        self.render()
    }

    /// Reads a record line (without `\n`), strictly: every field known, none missing for its
    /// kind, and the line exactly as the writer renders the record.
    pub fn parse(line: &str) -> Result<Record, RecordError> {
        let w: Wire = serde_json::from_str(line)?;
        let v = match w.v {
            1 => 1u8,
            2 => 2u8,
            other => return Err(RecordError::Version(other)),
        };
        let b64 = |s: &str, f: &'static str| B64.decode(s).map_err(|_| RecordError::Field(f));
        let hex16 = |s: &str, f: &'static str| from_hex::<16>(s).ok_or(RecordError::Field(f));
        let hex32 = |s: &str, f: &'static str| from_hex::<32>(s).ok_or(RecordError::Field(f));
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
        let kind_name = w.kind.as_str();
        let need = |field: &'static str| RecordError::KindField {
            kind: kind_name,
            problem: "lacks",
            field,
        };
        let extra = if v == 1 {
            if matches!(w.kind, Kind::Prune | Kind::Rekey) {
                return Err(RecordError::Field("kind"));
            }
            Extra::None
        } else {
            match w.kind {
                Kind::Start => {
                    let t = w.prev_trail.as_deref().ok_or_else(|| need("prev_trail"))?;
                    let n = w.prev_n.ok_or_else(|| need("prev_n"))?;
                    let h = w.prev_head.as_deref().ok_or_else(|| need("prev_head"))?;
                    Extra::Start(if t.is_empty() && h.is_empty() && n == 0 {
                        None
                    } else {
                        Some(TrailLink {
                            trail: hex16(t, "prev_trail")?,
                            n,
                            head: hex32(h, "prev_head")?,
                        })
                    })
                }
                Kind::Resume => {
                    let u = w
                        .unwitnessed
                        .as_deref()
                        .ok_or_else(|| need("unwitnessed"))?;
                    Extra::Resume(match u {
                        [] => None,
                        [a, b] if a <= b && *a >= 1 => Some((*a, *b)),
                        _ => return Err(RecordError::Field("unwitnessed")),
                    })
                }
                Kind::Prune => Extra::Prune(Pruned {
                    file: w.pruned.clone().ok_or_else(|| need("pruned"))?,
                    trail: hex16(
                        w.pruned_trail
                            .as_deref()
                            .ok_or_else(|| need("pruned_trail"))?,
                        "pruned_trail",
                    )?,
                    first: w.first.ok_or_else(|| need("first"))?,
                    last: w.last.ok_or_else(|| need("last"))?,
                    head: hex32(
                        w.pruned_head
                            .as_deref()
                            .ok_or_else(|| need("pruned_head"))?,
                        "pruned_head",
                    )?,
                }),
                Kind::Rekey => Extra::Rekey(
                    from_hex::<8>(w.new_key.as_deref().ok_or_else(|| need("new_key"))?)
                        .ok_or(RecordError::Field("new_key"))?,
                ),
                Kind::Checkpoint | Kind::Seal | Kind::Close => Extra::None,
            }
        };
        if v >= 2 && (w.boot.is_none() || w.origin.is_none()) {
            return Err(RecordError::Field(if w.boot.is_none() {
                "boot"
            } else {
                "origin"
            }));
        }
        let record = Record {
            v,
            kind: w.kind,
            trail: hex16(&w.trail, "trail")?,
            n: w.n,
            boot: w.boot.unwrap_or(0),
            origin: w.origin.unwrap_or_default(),
            file: w.file,
            lines: w.lines,
            bytes: w.bytes,
            head: hex32(&w.head, "head")?,
            time: w.time,
            prev,
            key,
            tags,
            extra,
            sig,
        };
        // Anything the record does not hold (a field of another kind, a space, an escape, a
        // letter case) makes the line differ from its rendering.
        if record.render() != line {
            return Err(RecordError::NotCanonical);
        }
        Ok(record)
    }

    /// Whether this record carries a valid signature by `key` (over its canonical body, which
    /// [`Record::parse`] checked is the line's).
    pub fn signature_valid(&self, key: &VerifyingKey) -> bool {
        let Some(sig) = self.sig else { return false };
        let body = self.body();
        let mut msg = Vec::with_capacity(DOMAIN_V2.len() + body.len());
        msg.extend_from_slice(self.domain());
        msg.extend_from_slice(body.as_bytes());
        key.verify_strict(&msg, &Signature::from_bytes(&sig))
            .is_ok()
    }

    /// The tags as numbers.
    pub fn tag_values(&self) -> impl Iterator<Item = u32> + '_ {
        self.tags
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
    }

    /// The link to a previous trail, for a `start` that begins a new trail after one.
    pub fn trail_link(&self) -> Option<&TrailLink> {
        match &self.extra {
            Extra::Start(Some(l)) => Some(l),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Record {
        Record {
            v: FORMAT,
            kind: Kind::Checkpoint,
            trail: [7; 16],
            n: 3,
            boot: 2,
            origin: "file:host:/var/log/a.log".into(),
            file: "audit \"x\".log".into(),
            lines: 2,
            bytes: 10,
            head: [9; 32],
            time: "2026-05-09T10:00:00.000Z".into(),
            prev: [1; 32],
            key: None,
            tags: vec![1, 2, 3, 4, 5, 6, 7, 8],
            extra: Extra::None,
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
        assert!(back.signature_valid(&key.verifying_key()));
        let forged = line.replace("\"lines\":2", "\"lines\":3");
        let f = Record::parse(&forged).unwrap();
        assert!(!f.signature_valid(&key.verifying_key()));
        let other = SigningKey::from_bytes(&[43; 32]);
        assert!(!back.signature_valid(&other.verifying_key()));
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

    /// The last record's attacks: an unknown field, a space after `sig`, an uppercase hex.
    #[test]
    fn strict_parsing_refuses_what_the_writer_does_not_render() {
        let key = SigningKey::from_bytes(&[42; 32]);
        let line = sample().seal_line(Some(&key));
        let extra = line.replacen("{\"v\":2,", "{\"v\":2,\"note\":\"x\",", 1);
        assert!(matches!(Record::parse(&extra), Err(RecordError::Json(_))));
        let spaced = line.replace("\"sig\":\"", "\"sig\": \"");
        assert!(matches!(
            Record::parse(&spaced),
            Err(RecordError::NotCanonical)
        ));
        let trailing = format!("{} ", &line);
        assert!(Record::parse(&trailing).is_err());
        let mut r = sample();
        r.head = [0xab; 32];
        let line = r.seal_line(Some(&key));
        let upper = line.replace(&"ab".repeat(32), &"AB".repeat(32));
        assert!(matches!(
            Record::parse(&upper),
            Err(RecordError::NotCanonical)
        ));
        // A field of another kind.
        let other = line.replacen("\"tags\":", "\"new_key\":\"0000000000000000\",\"tags\":", 1);
        assert!(Record::parse(&other).is_err());
    }

    #[test]
    fn format_1_lines_still_parse() {
        let v1 = "{\"v\":1,\"kind\":\"checkpoint\",\"trail\":\"07070707070707070707070707070707\",\"n\":3,\"file\":\"a.log\",\"lines\":2,\"bytes\":10,\"head\":\"0909090909090909090909090909090909090909090909090909090909090909\",\"time\":\"2026-05-09T10:00:00.000Z\",\"prev\":\"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\",\"key\":\"\",\"tags\":\"AQIDBAUGBwg=\"}";
        let r = Record::parse(v1).unwrap();
        assert_eq!((r.v, r.boot, r.origin.as_str()), (1, 0, ""));
        assert_eq!(r.render(), v1);
        // A v1 record signed with the v1 domain still verifies.
        let key = SigningKey::from_bytes(&[42; 32]);
        let mut r1 = r.clone();
        let signed = r1.seal_line(Some(&key));
        assert!(Record::parse(&signed)
            .unwrap()
            .signature_valid(&key.verifying_key()));
        // No v2 kinds in v1.
        assert!(Record::parse(&v1.replace("checkpoint", "rekey")).is_err());
    }

    fn arb_kind_extra() -> impl Strategy<Value = (Kind, Extra)> {
        let link =
            (any::<[u8; 16]>(), any::<u64>(), any::<[u8; 32]>()).prop_map(|(t, n, h)| TrailLink {
                trail: t,
                n,
                head: h,
            });
        prop_oneof![
            Just((Kind::Checkpoint, Extra::None)),
            Just((Kind::Seal, Extra::None)),
            Just((Kind::Close, Extra::None)),
            proptest::option::of(link).prop_map(|l| (Kind::Start, Extra::Start(l))),
            proptest::option::of((1u64..1000, 0u64..1000))
                .prop_map(|r| (Kind::Resume, Extra::Resume(r.map(|(a, d)| (a, a + d))))),
            (
                ".{0,20}",
                any::<[u8; 16]>(),
                any::<u64>(),
                any::<u64>(),
                any::<[u8; 32]>()
            )
                .prop_map(|(file, trail, first, last, head)| (
                    Kind::Prune,
                    Extra::Prune(Pruned {
                        file,
                        trail,
                        first,
                        last,
                        head
                    })
                )),
            any::<[u8; 8]>().prop_map(|k| (Kind::Rekey, Extra::Rekey(k))),
        ]
    }

    prop_compose! {
        fn arb_record()(
            (kind, extra) in arb_kind_extra(),
            trail in any::<[u8; 16]>(),
            n in any::<u64>(),
            boot in any::<u64>(),
            origin in ".{0,40}",
            file in ".{0,30}",
            lines in any::<u64>(),
            bytes in any::<u64>(),
            head in any::<[u8; 32]>(),
            time in "[0-9TZ:.-]{0,30}",
            prev in any::<[u8; 32]>(),
            tags in proptest::collection::vec(any::<[u8; 4]>(), 0..20),
        ) -> Record {
            Record {
                v: FORMAT, kind, trail, n, boot, origin, file, lines, bytes, head, time,
                prev: if n == 0 { [0; 32] } else { prev },
                key: None, tags: tags.concat(), extra, sig: None,
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Any record the writer renders parses back to itself.
        #[test]
        fn rendered_records_parse_back(mut r in arb_record(), signed in any::<bool>()) {
            let key = SigningKey::from_bytes(&[42; 32]);
            let line = r.seal_line(signed.then_some(&key));
            let back = Record::parse(&line).unwrap();
            prop_assert_eq!(&back, &r);
            prop_assert_eq!(back.render(), line);
            if signed {
                prop_assert!(back.signature_valid(&key.verifying_key()));
            }
        }

        /// Any single-byte change to a signed record fails: it does not parse, or it is not
        /// signed by the key any more.
        #[test]
        fn any_single_byte_change_to_a_signed_record_fails(
            mut r in arb_record(),
            at in any::<proptest::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let key = SigningKey::from_bytes(&[42; 32]);
            let line = r.seal_line(Some(&key));
            let mut bytes = line.clone().into_bytes();
            let i = at.index(bytes.len());
            prop_assume!(bytes[i] != byte);
            bytes[i] = byte;
            let accepted = std::str::from_utf8(&bytes)
                .ok()
                .and_then(|l| Record::parse(l).ok())
                .is_some_and(|back| {
                    back.key == Some(key_id(&key.verifying_key()))
                        && back.signature_valid(&key.verifying_key())
                });
            prop_assert!(!accepted, "accepted: {}", String::from_utf8_lossy(&bytes));
        }
    }
}
