//! The ledger writer: the rules a record must pass to be anchored, and the per-origin state
//! they need (rebuilt from the files at start).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use ed25519_dalek::{SigningKey, VerifyingKey};

use super::ledger::{origin_folder, Entry, FORKS_FILE, LEDGER_FILE};
use crate::file_mode::FileMode;
use crate::integrity::chain::{to_hex, Head};
use crate::integrity::checkpoint::{key_id, line_digest, Extra, Record};
use crate::integrity::sidecar::rfc3339;

/// Why the ledger could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// A file or folder could not be read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A line that is not what the server wrote: the ledger was altered or damaged. The
    /// server refuses to start rather than anchor on top of it.
    #[error("{}: line {line}: {why}: the ledger was altered or damaged; refusing to start (restore it from a copy)", .path.display())]
    Altered {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        why: String,
    },
}

/// What one record came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// Its trail (hex).
    pub trail: String,
    /// Its number.
    pub n: u64,
    /// Stored now, or already there.
    pub duplicate: bool,
    /// When the server accepted it (the first time).
    pub received: String,
    /// The server's signature of its ledger line (base64).
    pub server_sig: String,
}

impl Receipt {
    /// `{"n":…,"trail":…,"status":"stored"|"duplicate","received":…,"serverSig":…}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "n": self.n,
            "trail": self.trail,
            "status": if self.duplicate { "duplicate" } else { "stored" },
            "received": self.received,
            "serverSig": self.server_sig,
        })
    }
}

/// Why a record was refused; the records before it in the request are stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not a record, or not one that can be anchored (400).
    Malformed(String),
    /// The key or the sender is not the origin's (403).
    Forbidden(String),
    /// Out of order or conflicting with the ledger: a gap, a fork (409).
    Conflict(String),
    /// Writing failed (500): nothing of the request is acknowledged.
    Io(String),
}

/// The answer to one `POST /anchors`.
#[derive(Debug, Default)]
pub struct Outcome {
    /// One per record accepted (stored or duplicate), in order.
    pub receipts: Vec<Receipt>,
    /// The record that stopped the request, if one did.
    pub refusal: Option<Refusal>,
}

/// The last accepted record of a trail.
#[derive(Clone, Debug)]
struct Tip {
    n: u64,
    digest: [u8; 32],
    head: Head,
    received: String,
    server_sig: String,
}

/// What the ledger holds for one origin.
struct Origin {
    folder: PathBuf,
    file: Option<File>,
    sender: Option<[u8; 16]>,
    /// `None`: nothing pinned yet; `Some(None)`: unsigned records; `Some(Some(k))`: key k.
    key: Option<Option<VerifyingKey>>,
    /// The key id a `rekey` record named: the next signed record may bring it.
    rekey_to: Option<[u8; 8]>,
    trails: HashMap<[u8; 16], Tip>,
    last_trail: Option<[u8; 16]>,
}

impl Origin {
    fn new(folder: PathBuf) -> Origin {
        Origin {
            folder,
            file: None,
            sender: None,
            key: None,
            rekey_to: None,
            trails: HashMap::new(),
            last_trail: None,
        }
    }

    /// Takes in an accepted entry (at start, and after writing it).
    fn apply(&mut self, e: &Entry) {
        let r = &e.record;
        self.sender.get_or_insert(e.sender);
        if let Some(k) = e.pinned_key {
            self.key = Some(Some(k));
            self.rekey_to = None;
        } else if self.key.is_none() && r.key.is_none() {
            self.key = Some(None);
        }
        if let Extra::Rekey(to) = r.extra {
            self.rekey_to = Some(to);
        }
        if !self.trails.contains_key(&r.trail) {
            self.last_trail = Some(r.trail);
        }
        self.trails.insert(
            r.trail,
            Tip {
                n: r.n,
                digest: line_digest(&e.record_line),
                head: r.head,
                received: e.received.clone(),
                server_sig: e.server_sig_b64(),
            },
        );
    }
}

/// The anchor ledger: `<state_dir>/anchors/<origin folder>/ledger.ndjson` (see the module doc
/// of `server/anchors`). One lock: requests are small and each ends with one fsync.
pub struct Ledger {
    dir: PathBuf,
    key: SigningKey,
    mode: FileMode,
    origins: Mutex<HashMap<String, Origin>>,
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> LedgerError + '_ {
    move |source| LedgerError::Io {
        path: path.to_owned(),
        source,
    }
}

impl Ledger {
    /// Opens (creating) the ledger folder and replays every origin's ledger, checking each line
    /// is one the server signed. A torn last line (a crash mid-append, never acknowledged) is
    /// cut off and said so on stderr.
    pub fn open(dir: &Path, key: SigningKey, mode: FileMode) -> Result<Ledger, LedgerError> {
        mode.create_dir_all(dir).map_err(io_at(dir))?;
        let public = key.verifying_key();
        let mut origins = HashMap::new();
        for entry in std::fs::read_dir(dir).map_err(io_at(dir))? {
            let folder = entry.map_err(io_at(dir))?.path();
            let path = folder.join(LEDGER_FILE);
            if !path.is_file() {
                continue;
            }
            let mut origin: Option<(String, Origin)> = None;
            let text = std::fs::read(&path).map_err(io_at(&path))?;
            let whole = match text.iter().rposition(|&b| b == b'\n') {
                Some(i) => i + 1,
                None => 0,
            };
            if whole < text.len() {
                eprintln!(
                    "event-server: anchors: {}: cut a torn last line ({} bytes, a crash while appending it; never acknowledged)",
                    path.display(),
                    text.len() - whole
                );
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(io_at(&path))?;
                f.set_len(whole as u64).map_err(io_at(&path))?;
                f.sync_all().map_err(io_at(&path))?;
            }
            let body = std::str::from_utf8(&text[..whole]).map_err(|_| LedgerError::Altered {
                path: path.clone(),
                line: 0,
                why: "not UTF-8".into(),
            })?;
            for (i, line) in body.lines().enumerate() {
                let altered = |why: String| LedgerError::Altered {
                    path: path.clone(),
                    line: i + 1,
                    why,
                };
                let e = Entry::parse(line).map_err(|e| altered(e.to_string()))?;
                if !e.signature_valid(&public) {
                    return Err(altered(
                        "serverSig is not this server's anchor key's signature".into(),
                    ));
                }
                let (name, o) =
                    origin.get_or_insert_with(|| (e.origin.clone(), Origin::new(folder.clone())));
                if *name != e.origin {
                    return Err(altered(format!(
                        "origin {} in the ledger of {name}",
                        e.origin
                    )));
                }
                o.apply(&e);
            }
            if let Some((name, o)) = origin {
                origins.insert(name, o);
            }
        }
        Ok(Ledger {
            dir: dir.to_owned(),
            key,
            mode,
            origins: Mutex::new(origins),
        })
    }

    /// The server's anchor public key.
    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The folder holding every origin's ledger.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The ledger files of one origin, or of all.
    pub fn files(&self, origin: Option<&str>) -> Vec<PathBuf> {
        let Ok(origins) = self.origins.lock() else {
            return Vec::new();
        };
        let mut out: Vec<PathBuf> = origins
            .iter()
            .filter(|(name, _)| origin.map_or(true, |o| o == name.as_str()))
            .map(|(_, o)| o.folder.join(LEDGER_FILE))
            .collect();
        out.sort();
        out
    }

    /// Anchors the record lines of `body` in order, sent with the event key `sender`;
    /// `offered` are the writer's public keys the request carries (needed to pin an origin's
    /// key, and after a `rekey`). Stops at the first refused record; what was accepted before
    /// it is fsynced before this returns.
    pub fn accept(
        &self,
        body: &str,
        sender: [u8; 16],
        offered: &[VerifyingKey],
        now: SystemTime,
    ) -> Outcome {
        let mut out = Outcome::default();
        let Ok(mut origins) = self.origins.lock() else {
            out.refusal = Some(Refusal::Io("the ledger's lock is poisoned".into()));
            return out;
        };
        let mut touched: Vec<String> = Vec::new();
        for (i, line) in body.lines().enumerate() {
            if line.is_empty() {
                continue;
            }
            let at = format!("line {}", i + 1);
            match self.accept_one(&mut origins, line, &at, sender, offered, now) {
                Ok((receipt, origin)) => {
                    if !receipt.duplicate && !touched.contains(&origin) {
                        touched.push(origin);
                    }
                    out.receipts.push(receipt);
                }
                Err(r) => {
                    out.refusal = Some(r);
                    break;
                }
            }
        }
        // Acknowledged means durable: one fsync per origin written.
        for name in touched {
            let synced = origins
                .get(&name)
                .and_then(|o| o.file.as_ref())
                .map(File::sync_data);
            if let Some(Err(e)) = synced {
                out.receipts.clear();
                out.refusal = Some(Refusal::Io(format!(
                    "anchors: fsync of {name}'s ledger: {e}"
                )));
                break;
            }
        }
        out
    }

    fn accept_one(
        &self,
        origins: &mut HashMap<String, Origin>,
        line: &str,
        at: &str,
        sender: [u8; 16],
        offered: &[VerifyingKey],
        now: SystemTime,
    ) -> Result<(Receipt, String), Refusal> {
        let r = Record::parse(line).map_err(|e| Refusal::Malformed(format!("{at}: {e}")))?;
        if r.v < 2 || r.origin.is_empty() {
            return Err(Refusal::Malformed(format!(
                "{at}: a format 1 record (no origin, trail links or boot counter) cannot be anchored"
            )));
        }
        let trail = to_hex(&r.trail);
        let what = format!("record #{} of trail {} ({})", r.n, &trail[..8], r.origin);
        let o = origins
            .entry(r.origin.clone())
            .or_insert_with(|| Origin::new(self.dir.join(origin_folder(&r.origin))));
        if o.sender.is_some_and(|s| s != sender) {
            return Err(Refusal::Forbidden(format!(
                "{at}: {what}: origin {} is anchored by another event key (an origin belongs to the key that first anchored it)",
                r.origin
            )));
        }
        let known_origin = !o.trails.is_empty();
        let mut unlinked = false;
        match o.trails.get(&r.trail) {
            Some(tip) if r.n == tip.n && line_digest(line) == tip.digest => {
                return Ok((
                    Receipt {
                        trail,
                        n: r.n,
                        duplicate: true,
                        received: tip.received.clone(),
                        server_sig: tip.server_sig.clone(),
                    },
                    r.origin.clone(),
                ));
            }
            Some(tip) if r.n <= tip.n => {
                let stored = find(&o.folder.join(LEDGER_FILE), r.trail, r.n)
                    .map_err(|e| Refusal::Io(e.to_string()))?;
                match stored {
                    Some(e) if e.record_line == line => {
                        return Ok((
                            Receipt {
                                trail,
                                n: r.n,
                                duplicate: true,
                                received: e.received.clone(),
                                server_sig: e.server_sig_b64(),
                            },
                            r.origin.clone(),
                        ))
                    }
                    stored => {
                        let when = stored
                            .as_ref()
                            .map_or("?".to_owned(), |e| e.received.clone());
                        self.fork(o, line, stored.as_ref(), sender, now)?;
                        return Err(Refusal::Conflict(format!(
                            "{at}: fork: {what} differs from the record #{} anchored at {when}: the trail was rewritten; recorded in the forks file",
                            r.n
                        )));
                    }
                }
            }
            Some(tip) if r.n > tip.n + 1 => {
                return Err(Refusal::Conflict(format!(
                    "{at}: gap: {what} comes after #{}: records #{}-#{} are missing (send in order)",
                    tip.n,
                    tip.n + 1,
                    r.n - 1
                )));
            }
            Some(tip) if r.prev != tip.digest => {
                let tip_n = tip.n;
                self.fork(o, line, None, sender, now)?;
                return Err(Refusal::Conflict(format!(
                    "{at}: fork: {what} does not follow the anchored record #{tip_n} (its prev is another record's digest): the trail was rewritten; recorded in the forks file"
                )));
            }
            Some(_) => {}
            None if known_origin => {
                let last = o
                    .last_trail
                    .and_then(|t| o.trails.get(&t).map(|tip| (t, tip)));
                let linked = match (r.trail_link(), last) {
                    (Some(l), Some((t, tip))) if r.n == 0 && l.trail == t => {
                        l.n > tip.n || (l.n == tip.n && l.head == tip.head)
                    }
                    _ => false,
                };
                unlinked = !linked;
            }
            None => {}
        }
        // The writer's key: pinned by the origin's first record, changed only by a rekey.
        let mut pin = None;
        let key = match (r.key, o.key) {
            (None, None) | (None, Some(None)) => None,
            (None, Some(Some(k))) => {
                return Err(Refusal::Forbidden(format!(
                    "{at}: {what} is not signed, but the origin is pinned to key {}: refused",
                    to_hex(&key_id(&k))
                )))
            }
            (Some(id), Some(Some(k))) if key_id(&k) == id => Some(k),
            (Some(id), pinned) if pinned.is_none() || o.rekey_to == Some(id) => {
                let k = offered.iter().find(|k| key_id(k) == id).ok_or_else(|| {
                    Refusal::Malformed(format!(
                        "{at}: {what} is signed by key {}: send its public key (header X-Audit-Public-Keys) so the ledger can pin it",
                        to_hex(&id)
                    ))
                })?;
                pin = Some(*k);
                Some(*k)
            }
            (Some(id), pinned) => {
                let pinned = match pinned {
                    Some(Some(k)) => to_hex(&key_id(&k)),
                    _ => "(unsigned)".to_owned(),
                };
                return Err(Refusal::Forbidden(format!(
                    "{at}: {what} is signed by key {}, but the origin is pinned to key {pinned} and no rekey record signed by it names the new key: refused",
                    to_hex(&id)
                )));
            }
        };
        if let Some(k) = key {
            if !r.signature_valid(&k) {
                return Err(Refusal::Forbidden(format!(
                    "{at}: {what}: bad signature (forged or altered)"
                )));
            }
        }
        let entry = Entry::signed(
            rfc3339(now),
            sender,
            unlinked,
            pin,
            line.to_owned(),
            r,
            &self.key,
        );
        let path = o.folder.join(LEDGER_FILE);
        if o.file.is_none() {
            let (file, created) = self
                .mode
                .create_dir_all(&o.folder)
                .and_then(|()| {
                    self.mode
                        .open_or_create(&path, std::fs::OpenOptions::new().append(true))
                })
                .map_err(|e| Refusal::Io(format!("{}: {e}", path.display())))?;
            if created {
                sync_dir(&o.folder).map_err(|e| Refusal::Io(e.to_string()))?;
                sync_dir(&self.dir).map_err(|e| Refusal::Io(e.to_string()))?;
            }
            o.file = Some(file);
        }
        let mut text = entry.render();
        text.push('\n');
        let written = match o.file.as_mut() {
            Some(f) => f.write_all(text.as_bytes()),
            None => Err(io::Error::other("no ledger file")),
        };
        written.map_err(|e| Refusal::Io(format!("{}: {e}", path.display())))?;
        if unlinked {
            eprintln!(
                "event-server: anchors: {what} begins a trail that does not link to the origin's last trail: stored flagged unlinked"
            );
        }
        o.apply(&entry);
        Ok((
            Receipt {
                trail,
                n: entry.record.n,
                duplicate: false,
                received: entry.received.clone(),
                server_sig: entry.server_sig_b64(),
            },
            entry.origin,
        ))
    }

    /// Keeps a refused conflicting record in the origin's forks file (fsynced), and says so
    /// loudly: a fork means someone rewrote a trail that was already anchored.
    fn fork(
        &self,
        o: &Origin,
        line: &str,
        anchored: Option<&Entry>,
        sender: [u8; 16],
        now: SystemTime,
    ) -> Result<(), Refusal> {
        let path = o.folder.join(FORKS_FILE);
        let anchored = anchored.map_or("null".to_owned(), Entry::render);
        let text = format!(
            "{{\"received\":\"{}\",\"sender\":\"{}\",\"record\":{},\"anchored\":{anchored}}}\n",
            rfc3339(now),
            to_hex(&sender),
            serde_json::from_str::<serde_json::Value>(line)
                .map_or_else(|_| "null".to_owned(), |_| line.to_owned())
        );
        let write = || -> io::Result<()> {
            self.mode.create_dir_all(&o.folder)?;
            let mut f = self.mode.open_append(&path)?;
            f.write_all(text.as_bytes())?;
            f.sync_data()
        };
        write().map_err(|e| Refusal::Io(format!("{}: {e}", path.display())))?;
        eprintln!(
            "event-server: ANCHOR FORK: a record conflicting with the anchored trail was refused and kept in {}: {line}",
            path.display()
        );
        Ok(())
    }
}

/// The stored entry of record `n` of `trail` in one ledger file.
fn find(path: &Path, trail: [u8; 16], n: u64) -> io::Result<Option<Entry>> {
    let file = File::open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    for line in BufReader::new(file).lines() {
        let line = line?;
        if let Ok(e) = Entry::parse(&line) {
            if e.record.trail == trail && e.record.n == n {
                return Ok(Some(e));
            }
        }
    }
    Ok(None)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
