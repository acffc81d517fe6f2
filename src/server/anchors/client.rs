//! The client side: push a trail's records to `POST /anchors` (what `log4rs-audit anchor`
//! does, and what the file target's spool will call), and read a ledger back for `verify`.
//!
//! [`push_records`] is the one call a writer needs: it sends record lines in order, with the
//! writer's public keys, and returns the server's receipts (to keep as `witness` records).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::VerifyingKey;

use super::PUBLIC_KEYS_HEADER;
use crate::integrity::chain::to_hex;
use crate::integrity::checkpoint::Record;
use crate::integrity::sidecar::{read_sidecar, SIDECAR_EXT};

/// Why talking to the anchor endpoints failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered with an error status (its message included).
    #[error("{url}: {status}: {message}")]
    Status {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The server's `error`, or its body.
        message: String,
        /// Receipts of the records stored before the refused one.
        receipts: Vec<Receipt>,
    },
    /// The server could not be reached or its answer read.
    #[error("{url}: {message}")]
    Transport {
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// A sidecar could not be read.
    #[error("{0}")]
    Sidecar(String),
}

/// A receipt, as the server answers it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct Receipt {
    /// The record's number.
    pub n: u64,
    /// Its trail (hex).
    pub trail: String,
    /// `stored` or `duplicate`.
    pub status: String,
    /// When the server first accepted it.
    pub received: String,
    /// The server's signature of its ledger line.
    #[serde(rename = "serverSig")]
    pub server_sig: String,
}

#[derive(serde::Deserialize)]
struct Answer {
    #[serde(default)]
    receipts: Vec<Receipt>,
    #[serde(default)]
    error: Option<String>,
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .build()
}

fn base(server: &str) -> &str {
    server.trim_end_matches('/')
}

/// Sends record lines (each without `\n`, in trail order) to `<server>/anchors` with
/// `event_key`, offering `public_keys` (the writer's, so the server can pin and check them).
/// `Ok`: every record stored or already there.
pub fn push_records(
    server: &str,
    event_key: &str,
    public_keys: &[VerifyingKey],
    lines: &[String],
) -> Result<Vec<Receipt>, ClientError> {
    let url = format!("{}/anchors", base(server));
    let mut body = String::new();
    for l in lines {
        body.push_str(l);
        body.push('\n');
    }
    let keys: Vec<String> = public_keys
        .iter()
        .map(|k| B64.encode(k.as_bytes()))
        .collect();
    let mut req = agent()
        .post(&url)
        .set("Authorization", &format!("Bearer {event_key}"))
        .set("Content-Type", "application/x-ndjson");
    if !keys.is_empty() {
        req = req.set(PUBLIC_KEYS_HEADER, &keys.join(","));
    }
    let (status, text) = match req.send_string(&body) {
        Ok(r) => (r.status(), r.into_string()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string()),
        Err(e) => {
            return Err(ClientError::Transport {
                url,
                message: e.to_string(),
            })
        }
    };
    let text = text.map_err(|e| ClientError::Transport {
        url: url.clone(),
        message: e.to_string(),
    })?;
    let answer: Option<Answer> = serde_json::from_str(&text).ok();
    if status == 200 {
        return answer
            .map(|a| a.receipts)
            .ok_or_else(|| ClientError::Transport {
                url,
                message: format!("unexpected answer: {text}"),
            });
    }
    let (message, receipts) = match answer {
        Some(a) => (a.error.unwrap_or_else(|| text.clone()), a.receipts),
        None => (text, Vec::new()),
    };
    Err(ClientError::Status {
        url,
        status,
        message,
        receipts,
    })
}

/// The record lines of every sidecar under `paths` (folders recursively, hidden entries left
/// out; a file means its sidecar and its rolled siblings'), grouped by trail, each trail in
/// record order, trails oldest first (by their first record's time): the order the server
/// accepts them in.
pub fn trails_under(paths: &[PathBuf]) -> Result<Vec<Vec<(Record, String)>>, ClientError> {
    let mut sidecars = Vec::new();
    for p in paths {
        collect(p, &mut sidecars)
            .map_err(|e| ClientError::Sidecar(format!("{}: {e}", p.display())))?;
    }
    sidecars.sort();
    sidecars.dedup();
    let mut trails: BTreeMap<[u8; 16], Vec<(Record, String)>> = BTreeMap::new();
    for sc in &sidecars {
        let contents = read_sidecar(sc).map_err(|e| ClientError::Sidecar(e.to_string()))?;
        for (r, line, _) in contents.records {
            trails.entry(r.trail).or_default().push((r, line));
        }
    }
    let mut out: Vec<Vec<(Record, String)>> = trails
        .into_values()
        .map(|mut t| {
            t.sort_by_key(|(r, _)| r.n);
            t.dedup_by_key(|(r, _)| r.n);
            t
        })
        .collect();
    out.sort_by(|a, b| a[0].0.time.cmp(&b[0].0.time));
    Ok(out)
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let hidden = |p: &Path| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
    };
    if path.is_dir() {
        for e in std::fs::read_dir(path)? {
            let p = e?.path();
            if hidden(&p) {
                continue;
            }
            if p.is_dir() {
                collect(&p, out)?;
            } else if p.to_string_lossy().ends_with(SIDECAR_EXT) {
                out.push(p);
            }
        }
        return Ok(());
    }
    let (dir, stem) = crate::integrity::verify::rolled_set_of(path);
    for e in std::fs::read_dir(&dir)? {
        let p = e?.path();
        let n = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if n.starts_with(&stem) && n.ends_with(SIDECAR_EXT) && p.is_file() {
            out.push(p);
        }
    }
    Ok(())
}

/// What [`anchor_paths`] did, per trail.
#[derive(Clone, Debug, Default)]
pub struct AnchorSummary {
    /// Per trail: its id (hex), its origin, records stored now, records already anchored.
    pub trails: Vec<(String, String, usize, usize)>,
}

/// Pushes every record of the sidecars under `paths` to `server`, trail by trail (the server
/// answers a record it has as a duplicate, so sending all is safe and idempotent). Stops at
/// the first trail the server refuses.
pub fn anchor_paths(
    paths: &[PathBuf],
    server: &str,
    event_key: &str,
    public_keys: &[VerifyingKey],
) -> Result<AnchorSummary, (AnchorSummary, ClientError)> {
    let mut summary = AnchorSummary::default();
    let trails = trails_under(paths).map_err(|e| (AnchorSummary::default(), e))?;
    for t in trails {
        let id = to_hex(&t[0].0.trail);
        let origin = t[0].0.origin.clone();
        let mut stored = 0;
        let mut duplicates = 0;
        for chunk in t.chunks(1000) {
            let lines: Vec<String> = chunk.iter().map(|(_, l)| l.clone()).collect();
            match push_records(server, event_key, public_keys, &lines) {
                Ok(receipts) => {
                    for r in receipts {
                        if r.status == "duplicate" {
                            duplicates += 1;
                        } else {
                            stored += 1;
                        }
                    }
                }
                Err(e) => {
                    if let ClientError::Status { receipts, .. } = &e {
                        stored += receipts.iter().filter(|r| r.status != "duplicate").count();
                    }
                    summary.trails.push((id, origin, stored, duplicates));
                    return Err((summary, e));
                }
            }
        }
        summary.trails.push((id, origin, stored, duplicates));
    }
    Ok(summary)
}

/// `GET <server>/api/anchors[?origin=…]` with a read key: the ledger's lines.
pub fn fetch_ledger(
    server: &str,
    read_key: &str,
    origin: Option<&str>,
) -> Result<String, ClientError> {
    let mut url = format!("{}/api/anchors", base(server));
    if let Some(o) = origin {
        url.push_str("?origin=");
        url.push_str(&encode(o));
    }
    get(&url, Some(read_key))
}

/// `GET <server>/api/anchors/key`: the server's anchor public key (not a proof by itself: pin
/// it with a copy obtained another way).
pub fn fetch_server_key(server: &str) -> Result<VerifyingKey, ClientError> {
    let url = format!("{}/api/anchors/key", base(server));
    let text = get(&url, None)?;
    B64.decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .and_then(|b| VerifyingKey::from_bytes(&b).ok())
        .ok_or_else(|| ClientError::Transport {
            url,
            message: "not an Ed25519 public key".into(),
        })
}

fn get(url: &str, key: Option<&str>) -> Result<String, ClientError> {
    let mut req = agent().get(url);
    if let Some(k) = key {
        req = req.set("Authorization", &format!("Bearer {k}"));
    }
    match req.call() {
        Ok(r) => r.into_string().map_err(|e| ClientError::Transport {
            url: url.to_owned(),
            message: e.to_string(),
        }),
        Err(ureq::Error::Status(status, r)) => {
            let text = r.into_string().unwrap_or_default();
            let message = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or(text);
            Err(ClientError::Status {
                url: url.to_owned(),
                status,
                message,
                receipts: Vec::new(),
            })
        }
        Err(e) => Err(ClientError::Transport {
            url: url.to_owned(),
            message: e.to_string(),
        }),
    }
}

fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
