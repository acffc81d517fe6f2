//! The digest sidecar beside a log file: writing it (and resuming it after a restart), and
//! reading it back.
//!
//! `audit.log` has its records in `audit.log.digest`; a rolled `audit.log.1` (or
//! `audit.log.1.gz`: gzip does not change the lines) in `audit.log.1.digest`. The sidecar is a
//! run of [`Record`] lines:
//!
//! - `start`: the file's first record. For a file that continues a trail (after a roll), it has
//!   0 lines and the head of the previous file's `seal`, and its `prev` is that seal's digest.
//!   A writer that finds a log file without a sidecar starts a *new* trail (head 32 zero bytes)
//!   and covers the lines already there ("adopted": `verify` reports them as unproven).
//! - `checkpoint`: every `checkpoint_lines` lines or `checkpoint_seconds` seconds.
//! - `resume`: written by a writer that opens an existing file and sidecar (a restart): it
//!   re-hashes the lines after the last record and seals them as it found them.
//! - `seal`: at a roll, before the file is renamed; `file` is the name it is rolled to.
//! - `close`: at a clean shutdown, if lines were written since the last record.
//! - `prune`: before `max_backups` deletes a rolled file of the trail (or a roll without
//!   backups empties the file): names the file, its first and last record and its head, so
//!   `verify` tells policy deletion from tampering.
//! - `rekey`: the writer's key changed (`previous_signing_key` given): signed by the old key,
//!   naming the new key's id; the records after it are signed by the new key.
//!
//! Every record carries the trail id, its number, the writer's boot counter (+1 at every writer
//! start) and the trail's origin. A `resume` says which lines it seals that nobody witnessed
//! (`unwitnessed`: written after the last record before a crash or kill), and the writer says
//! so on stderr. A new trail's `start` names the previous trail when the writer's state file
//! ([`super::state`]) knew one.
//!
//! At a roll the new file's sidecar is written as `<name>.digest.next` and renamed to its name
//! once the sealed one has moved away with its file, so a kill at any point leaves the new file
//! a sidecar to continue the trail from; the next writer finishes or undoes the step.
//!
//! A crash can leave a torn last record (ignored and cut off by the next writer) and a torn
//! last log line (never acknowledged to a caller: cut off by the next writer, which says so on
//! stderr, so later lines never join it).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ed25519_dalek::SigningKey;

use crate::file_mode::FileMode;

use super::chain::{to_hex, Chain, Head, GENESIS};
use super::checkpoint::{key_id, line_digest, Extra, Kind, Pruned, Record, TrailLink, FORMAT};
use super::state::{read_state, state_path, OriginKind, StateFile, TrailState};

/// Extension of sidecar files.
pub const SIDECAR_EXT: &str = ".digest";

/// How a writer seals its files.
#[derive(Clone)]
pub struct IntegrityOptions {
    /// Signs every record; `None`: the chain alone (detects accidental damage, not forgery).
    pub signing_key: Option<Arc<SigningKey>>,
    /// A checkpoint after this many lines.
    pub checkpoint_lines: u64,
    /// A checkpoint after this long, if lines were written.
    pub checkpoint_every: Duration,
    /// fsync the data file before, and the sidecar after, each record.
    pub fsync: bool,
    /// The key the trail was signed with before `signing_key`: a writer that finds the
    /// sidecar's last record signed by it writes a `rekey` record (signed by it) naming the
    /// new key, so `verify` accepts the change.
    pub previous_signing_key: Option<Arc<SigningKey>>,
    /// Where the trail is written (its records' `origin`).
    pub origin: OriginKind,
}

impl Default for IntegrityOptions {
    fn default() -> Self {
        IntegrityOptions {
            signing_key: None,
            checkpoint_lines: super::DEFAULT_CHECKPOINT_LINES,
            checkpoint_every: Duration::from_secs(super::DEFAULT_CHECKPOINT_SECONDS),
            fsync: false,
            previous_signing_key: None,
            origin: OriginKind::File,
        }
    }
}

impl std::fmt::Debug for IntegrityOptions {
    /// Shows the public half of the key only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntegrityOptions")
            .field(
                "public_key",
                &self
                    .signing_key
                    .as_ref()
                    .map(|k| super::chain::to_hex(k.verifying_key().as_bytes())),
            )
            .field("checkpoint_lines", &self.checkpoint_lines)
            .field("checkpoint_every", &self.checkpoint_every)
            .field("fsync", &self.fsync)
            .field(
                "previous_public_key",
                &self
                    .previous_signing_key
                    .as_ref()
                    .map(|k| super::chain::to_hex(k.verifying_key().as_bytes())),
            )
            .field("origin", &self.origin)
            .finish()
    }
}

impl PartialEq for IntegrityOptions {
    fn eq(&self, other: &Self) -> bool {
        self.signing_key.as_ref().map(|k| k.verifying_key())
            == other.signing_key.as_ref().map(|k| k.verifying_key())
            && self.checkpoint_lines == other.checkpoint_lines
            && self.checkpoint_every == other.checkpoint_every
            && self.fsync == other.fsync
            && self
                .previous_signing_key
                .as_ref()
                .map(|k| k.verifying_key())
                == other
                    .previous_signing_key
                    .as_ref()
                    .map(|k| k.verifying_key())
            && self.origin == other.origin
    }
}

impl Eq for IntegrityOptions {}

/// A roll killed after [`SidecarWriter::prepare_next`] left the new file's sidecar at
/// `pending`: it takes its name when the sealed sidecar is gone (moved after its file) or was
/// the one of a truncated file (its seal names the file itself, which is now shorter); it is
/// removed when the sealed sidecar is still there to be moved by the roll's own repair, or when
/// it is not one whole `start` record (a kill while writing it).
fn finish_pending(
    log: &Path,
    path: &Path,
    pending: &Path,
    repairs: &mut Repairs,
) -> io::Result<()> {
    // A start, and after a roll that emptied the file, the prune record that says so.
    let whole = read_sidecar(pending).is_ok_and(|c| {
        let kinds: Vec<Kind> = c.records.iter().map(|r| r.0.kind).collect();
        !c.torn && matches!(kinds[..], [Kind::Start] | [Kind::Start, Kind::Prune])
    });
    let install = whole
        && match fs::metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => true,
            Err(e) => return Err(with_path(path)(e)),
            Ok(_) => {
                let log_len = fs::metadata(log).map_err(with_path(log))?.len();
                read_sidecar(path)?.records.last().is_some_and(|(r, _, _)| {
                    r.kind == Kind::Seal && r.file == name_of(log) && log_len < r.bytes
                })
            }
        };
    if install {
        fs::rename(pending, path).map_err(with_path(pending))?;
        repairs.push(format!(
            "{}: finished an interrupted roll (the new file's sidecar put in place)",
            path.display()
        ));
    } else {
        remove_if_exists(pending).map_err(with_path(pending))?;
        repairs.push(format!(
            "{}: removed the unfinished sidecar of an interrupted roll",
            pending.display()
        ));
    }
    Ok(())
}

/// Where the next file's sidecar is written during a roll before it takes its name:
/// `<name>.digest.next` (see [`SidecarWriter::prepare_next`]).
pub fn pending_path(sidecar: &Path) -> PathBuf {
    let mut name = sidecar.as_os_str().to_owned();
    name.push(".next");
    name.into()
}

fn remove_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The sidecar of a log file: `<name>.digest`, `.gz` left out.
pub fn sidecar_path(log: &Path) -> PathBuf {
    let text = log.as_os_str().to_string_lossy();
    let base = text.strip_suffix(".gz").unwrap_or(&text);
    PathBuf::from(format!("{base}{SIDECAR_EXT}"))
}

fn name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn with_path(path: &Path) -> impl FnOnce(io::Error) -> io::Error + '_ {
    move |e| io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// The longest sidecar record read back: far above a real one (a checkpoint's tags take 4
/// bytes per line it covers), low enough that a damaged or hostile sidecar is read in bounded
/// memory.
pub const MAX_RECORD_BYTES: usize = 16 * 1024 * 1024;

/// A sidecar as read back: its records with their lines, and whether a torn last record was
/// left out.
#[derive(Debug, Default)]
pub struct SidecarContents {
    /// Records in file order, each with its line (no `\n`) and 1-based line number.
    pub records: Vec<(Record, String, usize)>,
    /// Bytes of whole lines (where a torn last record starts).
    pub whole_len: u64,
    /// A last line without `\n` (a crash while writing it, or garbage).
    pub torn: bool,
    /// When that last line cannot be the start of a record (control bytes such as NULs, not
    /// UTF-8, or longer than [`MAX_RECORD_BYTES`]): what it is, naming file, offset and length.
    /// A crash tears a record; it does not append this.
    pub garbage: Option<String>,
}

/// Reads a sidecar, streaming (at most [`MAX_RECORD_BYTES`] held beyond the records). A record
/// that does not parse is an error naming the file and line.
pub fn read_sidecar(path: &Path) -> io::Result<SidecarContents> {
    let file = File::open(path).map_err(with_path(path))?;
    let mut lines = crate::query::lines::LineReader::with_limit(file, 64 * 1024, MAX_RECORD_BYTES);
    let mut out = SidecarContents::default();
    let mut number = 0usize;
    let bad = |number: usize, what: String| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: line {number}: {what}", path.display()),
        )
    };
    while let Some(line) = lines.next_line().map_err(with_path(path))? {
        number += 1;
        if !line.terminated {
            out.torn = true;
            let length = line.overlong.unwrap_or(line.bytes.len() as u64);
            let text = std::str::from_utf8(line.bytes).ok();
            let tearable =
                line.overlong.is_none() && text.is_some_and(|t| !t.chars().any(char::is_control));
            if !tearable {
                out.garbage = Some(format!(
                    "{}: trailing garbage: {length} bytes from byte {} (after the last whole \
                     record) are not a record",
                    path.display(),
                    line.offset
                ));
            }
            break;
        }
        if let Some(length) = line.overlong {
            return Err(bad(
                number,
                format!(
                    "{length} bytes, longer than any record (limit {} MiB)",
                    MAX_RECORD_BYTES >> 20
                ),
            ));
        }
        if line.crlf {
            // Records are written with `\n` alone: a `\r` is an alteration.
            return Err(bad(
                number,
                "ends with \\r\\n, not as a record is written".into(),
            ));
        }
        let body = std::str::from_utf8(line.bytes).map_err(|_| bad(number, "not UTF-8".into()))?;
        let record = Record::parse(body).map_err(|e| bad(number, e.to_string()))?;
        out.records.push((record, body.to_owned(), number));
        out.whole_len = line.offset + line.bytes.len() as u64 + 1;
    }
    Ok(out)
}

/// Writes the sidecar of the current log file while lines are appended to it.
pub struct SidecarWriter {
    options: IntegrityOptions,
    log_name: String,
    path: PathBuf,
    file: File,
    chain: Chain,
    trail: [u8; 16],
    next_n: u64,
    prev: [u8; 32],
    sealed_lines: u64,
    last_record: SystemTime,
    origin: String,
    boot: u64,
    /// The number of the first record in this sidecar.
    first_n: u64,
    /// The writer's state file (`audit_file` only; `None` after a mismatch was found, so the
    /// evidence stays).
    state: Option<StateFile>,
    /// Signs the next records instead of `options.signing_key` (the old key, until `rekey`).
    signing_override: Option<Arc<SigningKey>>,
}

impl std::fmt::Debug for SidecarWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SidecarWriter")
            .field("path", &self.path)
            .field("lines", &self.chain.lines)
            .field("sealed_lines", &self.sealed_lines)
            .finish()
    }
}

/// What [`SidecarWriter::open`] found and repaired, one message each (for stderr).
pub type Repairs = Vec<String>;

/// Where a new sidecar's chain continues from: its trail, the number of its first record, the
/// digest of the last line before it and the chain head (a new trail starts from zeros and
/// [`GENESIS`]; after a roll, from the seal).
struct Continuation {
    trail: [u8; 16],
    next_n: u64,
    prev: [u8; 32],
    head: Head,
    boot: u64,
}

impl SidecarWriter {
    /// Opens the sidecar of `log` (which exists and is not being written): resumes its chain
    /// (re-hashing the lines after the last record, and writing a `resume` record), or, with no
    /// sidecar, starts a new trail covering the lines already there, naming the previous trail
    /// when the state file knows one. A torn last log line is cut off.
    pub fn open(
        log: &Path,
        options: IntegrityOptions,
        now: SystemTime,
    ) -> io::Result<(SidecarWriter, Repairs)> {
        let path = sidecar_path(log);
        let mut repairs = Vec::new();
        let pending = pending_path(&path);
        if fs::symlink_metadata(&pending).is_ok() {
            finish_pending(log, &path, &pending, &mut repairs)?;
        }
        let contents = match fs::metadata(&path) {
            Ok(_) => Some(read_sidecar(&path)?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(with_path(&path)(e)),
        };
        let state = if options.origin.keeps_state() {
            match read_state(&state_path(log)) {
                Ok(s) => s,
                Err(e) => {
                    repairs.push(format!("{e}: ignored (a new state is written)"));
                    None
                }
            }
        } else {
            None
        };
        let state_boot = state.as_ref().map_or(0, |s| s.boot);
        let log_len = fs::metadata(log).map_err(with_path(log))?.len();
        let Some(contents) = contents.filter(|c| !c.records.is_empty()) else {
            // A new trail; lines already in the file are adopted.
            let from = Continuation {
                trail: new_trail_id()?,
                next_n: 0,
                prev: [0; 32],
                head: GENESIS,
                boot: state_boot + 1,
            };
            let link = state.as_ref().map(|s| TrailLink {
                trail: s.trail,
                n: s.n,
                head: s.head,
            });
            let mut w = Self::create_at(&path, log, options, from)?;
            w.open_state(log)?;
            w.rehash(log, 0, &mut repairs)?;
            if w.chain.lines > 0 {
                repairs.push(format!(
                    "{}: no digest sidecar; a new chain covers the {} lines already there",
                    log.display(),
                    w.chain.lines
                ));
            }
            if let Some(l) = &link {
                repairs.push(format!(
                    "{}: no digest sidecar; a new trail starts, naming the previous one ({} \
                     up to record #{}) from {}",
                    log.display(),
                    &to_hex(&l.trail)[..8],
                    l.n,
                    state_path(log).display()
                ));
            }
            w.write_record(Kind::Start, None, Extra::Start(link), now)?;
            return Ok((w, repairs));
        };
        if contents.torn {
            let f = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(with_path(&path))?;
            f.set_len(contents.whole_len).map_err(with_path(&path))?;
            repairs.push(match &contents.garbage {
                Some(garbage) => format!("{garbage}: cut off"),
                None => format!("{}: cut off a torn last record", path.display()),
            });
        }
        let first = contents.records[0].0.clone();
        let (last, last_line, _) = contents.records[contents.records.len() - 1].clone();
        let boot = last.boot.max(state_boot) + 1;
        // The state names the trail this writer last wrote: a sidecar holding another trail, or
        // an older point of it, was replaced or rolled back. The state is left as it is.
        let state_ok = match &state {
            Some(s) => {
                let known = s.trail == last.trail
                    && (s.n < last.n || (s.n == last.n && s.head == last.head));
                if !known {
                    repairs.push(format!(
                        "{}: does not hold what this writer last wrote (its state {} names \
                         trail {} record #{}; the sidecar ends at trail {} record #{}): \
                         replaced or rolled back; the state is kept for `verify`",
                        path.display(),
                        state_path(log).display(),
                        &to_hex(&s.trail)[..8],
                        s.n,
                        &to_hex(&last.trail)[..8],
                        last.n
                    ));
                }
                known
            }
            None => true,
        };
        if last.kind == Kind::Seal && log_len < last.bytes {
            // Crashed during a roll after the file was renamed: move the sidecar after it.
            if let Some(dir) = log.parent() {
                let rolled = dir.join(&last.file);
                let rolled_sidecar = sidecar_path(&rolled);
                let moved = rolled.exists() || with_gz(&rolled).exists();
                if moved && !rolled_sidecar.exists() {
                    fs::rename(&path, &rolled_sidecar).map_err(with_path(&path))?;
                    repairs.push(format!(
                        "{}: finished an interrupted roll (sidecar moved to {})",
                        log.display(),
                        rolled_sidecar.display()
                    ));
                    let from = Continuation {
                        trail: last.trail,
                        next_n: last.n + 1,
                        prev: line_digest(&last_line),
                        head: last.head,
                        boot,
                    };
                    let mut w = Self::create_at(&path, log, options, from)?;
                    if state_ok {
                        w.open_state(log)?;
                    }
                    w.rehash(log, 0, &mut repairs)?;
                    w.write_record(Kind::Start, None, Extra::Start(None), now)?;
                    return Ok((w, repairs));
                }
            }
        }
        let file = open_append(&path, log)?;
        let origin = options.origin.origin_of(log);
        let mut w = SidecarWriter {
            options,
            log_name: name_of(log),
            path,
            file,
            chain: Chain::starting_at(last.head),
            trail: last.trail,
            next_n: last.n + 1,
            prev: line_digest(&last_line),
            sealed_lines: last.lines,
            last_record: now,
            origin,
            boot,
            first_n: first.n,
            state: None,
            signing_override: None,
        };
        if state_ok {
            w.open_state(log)?;
        }
        let unwitnessed;
        if log_len >= last.bytes {
            w.chain.lines = last.lines;
            w.chain.bytes = last.bytes;
            w.rehash(log, last.bytes, &mut repairs)?;
            unwitnessed = (w.chain.lines > last.lines).then(|| (last.lines + 1, w.chain.lines));
        } else {
            repairs.push(format!(
                "{}: {} bytes, shorter than the {} bytes its last checkpoint (#{}) covers: \
                 data was lost or removed; the chain is rebuilt from what is there and \
                 `verify` will report the loss",
                log.display(),
                log_len,
                last.bytes,
                last.n
            ));
            let start = if first.lines == 0 {
                first.head
            } else {
                GENESIS
            };
            w.chain = Chain::starting_at(start);
            w.sealed_lines = 0;
            w.rehash(log, 0, &mut repairs)?;
            unwitnessed = (w.chain.lines > 0).then_some((1, w.chain.lines));
        }
        if let Some((a, b)) = unwitnessed {
            repairs.push(format!(
                "{}: lines {a}-{b} were written after the last record (#{}, {}) and the \
                 writer stopped without closing (a crash or kill): the resume record #{} \
                 seals them as found, unwitnessed (`verify` reports them; `--strict` fails)",
                log.display(),
                last.n,
                last.time,
                w.next_n
            ));
        }
        // A changed key: the old one signs the resume and a `rekey` naming the new one.
        let new_id = w
            .options
            .signing_key
            .as_ref()
            .map(|k| key_id(&k.verifying_key()));
        let rekey = match (last.key, new_id) {
            (Some(old), Some(new)) if old != new => {
                let previous = w
                    .options
                    .previous_signing_key
                    .clone()
                    .filter(|k| key_id(&k.verifying_key()) == old);
                if previous.is_none() {
                    repairs.push(format!(
                        "{}: the trail is signed by key {} and this writer's key is {}, but \
                         no previous_signing_key with id {} is configured: `verify` will \
                         report the change as unexplained",
                        path_display(&w.path),
                        to_hex(&old),
                        to_hex(&new),
                        to_hex(&old)
                    ));
                }
                previous.map(|p| (p, new))
            }
            _ => None,
        };
        if let Some((previous, _)) = &rekey {
            w.signing_override = Some(previous.clone());
        }
        w.write_record(Kind::Resume, None, Extra::Resume(unwitnessed), now)?;
        if let Some((_, new)) = rekey {
            w.write_record(Kind::Rekey, None, Extra::Rekey(new), now)?;
            w.signing_override = None;
            repairs.push(format!(
                "{}: key rotated to {} (a rekey record signed by the previous key)",
                path_display(&w.path),
                to_hex(&new)
            ));
        }
        Ok((w, repairs))
    }

    fn open_state(&mut self, log: &Path) -> io::Result<()> {
        if self.options.origin.keeps_state() {
            self.state = Some(StateFile::open(log)?);
        }
        Ok(())
    }

    /// A writer for `log`'s sidecar whose chain continues `from`, the records going to
    /// `file_at` (the sidecar's own path, or the pending name until it is renamed into place).
    fn create_at(
        file_at: &Path,
        log: &Path,
        options: IntegrityOptions,
        from: Continuation,
    ) -> io::Result<SidecarWriter> {
        let Continuation {
            trail,
            next_n,
            prev,
            head,
            boot,
        } = from;
        let path = sidecar_path(log);
        let file = open_append(file_at, log)?;
        let origin = options.origin.origin_of(log);
        Ok(SidecarWriter {
            options,
            log_name: name_of(log),
            path,
            file,
            chain: Chain::starting_at(head),
            trail,
            next_n,
            prev,
            sealed_lines: 0,
            last_record: SystemTime::now(),
            origin,
            boot,
            first_n: next_n,
            state: None,
            signing_override: None,
        })
    }

    /// Hashes `log` from byte `from` to its end into the chain; cuts off a torn last line.
    fn rehash(&mut self, log: &Path, from: u64, repairs: &mut Repairs) -> io::Result<()> {
        let mut f = File::open(log).map_err(with_path(log))?;
        f.seek(SeekFrom::Start(from)).map_err(with_path(log))?;
        let mut buf = vec![0u8; 1 << 16];
        let mut carry: Vec<u8> = Vec::new();
        loop {
            let n = f.read(&mut buf).map_err(with_path(log))?;
            if n == 0 {
                break;
            }
            carry.extend_from_slice(&buf[..n]);
            let torn = self.chain.absorb(&carry);
            carry.drain(..carry.len() - torn);
        }
        if !carry.is_empty() {
            // The chain counted bytes from the file's start: its count ends at the last `\n`.
            let keep = self.chain.bytes;
            let w = OpenOptions::new()
                .write(true)
                .open(log)
                .map_err(with_path(log))?;
            w.set_len(keep).map_err(with_path(log))?;
            w.sync_data().map_err(with_path(log))?;
            repairs.push(format!(
                "{}: cut off a torn last line ({} bytes, never acknowledged: a crash while \
                 writing it)",
                log.display(),
                carry.len()
            ));
        }
        Ok(())
    }

    /// Hashes whole lines just written to the log file.
    pub fn absorb(&mut self, lines: &[u8]) {
        let torn = self.chain.absorb(lines);
        debug_assert_eq!(torn, 0, "the writer hands whole lines");
    }

    /// Whether a checkpoint is due at `now`.
    pub fn due(&self, now: SystemTime) -> bool {
        let unsealed = self.chain.lines - self.sealed_lines;
        unsealed > 0
            && (unsealed >= self.options.checkpoint_lines
                || now
                    .duration_since(self.last_record)
                    .is_ok_and(|d| d >= self.options.checkpoint_every))
    }

    /// Lines written since the last record.
    pub fn unsealed(&self) -> u64 {
        self.chain.lines - self.sealed_lines
    }

    /// Whether the data file must be fsynced before a record.
    pub fn fsync(&self) -> bool {
        self.options.fsync
    }

    /// Writes a `checkpoint` record.
    pub fn checkpoint(&mut self, now: SystemTime) -> io::Result<()> {
        self.write_record(Kind::Checkpoint, None, Extra::None, now)
    }

    /// Writes a `prune` record: `pruned` (a rolled file of this trail, described by
    /// [`pruned_info`]) is about to be deleted by the retention policy. Written *before* the
    /// file is deleted, so a kill in between leaves a file that a prune covers, never a file
    /// gone without one.
    pub fn prune(&mut self, pruned: Pruned, now: SystemTime) -> io::Result<()> {
        self.write_record(Kind::Prune, None, Extra::Prune(pruned), now)
    }

    /// What a `prune` record for this sidecar's own records says (a roll without backups that
    /// empties the file): the file, the first record of the sidecar and the last one written.
    pub fn own_pruned(&self) -> Pruned {
        Pruned {
            file: self.log_name.clone(),
            trail: self.trail,
            first: self.first_n,
            last: self.next_n.saturating_sub(1),
            head: self.chain.head,
        }
    }

    /// Writes a `close` record if lines were written since the last record.
    pub fn close(&mut self, now: SystemTime) -> io::Result<()> {
        if self.chain.lines > self.sealed_lines {
            self.write_record(Kind::Close, None, Extra::None, now)?;
        }
        Ok(())
    }

    /// Writes the `seal` record of a file about to be rolled to `rolled_name`.
    pub fn seal(&mut self, rolled_name: &str, now: SystemTime) -> io::Result<()> {
        self.write_record(Kind::Seal, Some(rolled_name), Extra::None, now)
    }

    /// The sidecar's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// At a roll, after the seal: writes the `start` record of the new, empty `log`'s sidecar,
    /// its chain continuing from the seal, under the pending name ([`pending_path`]). The
    /// sealed sidecar is then moved away with its file and [`Self::install_next`] gives the
    /// pending one its name, so a kill at any point leaves one of the two in place.
    /// `emptied`: a roll without backups empties the file; its `prune` record follows the start.
    pub fn prepare_next(
        &self,
        log: &Path,
        emptied: Option<Pruned>,
        now: SystemTime,
    ) -> io::Result<SidecarWriter> {
        let path = sidecar_path(log);
        let pending = pending_path(&path);
        remove_if_exists(&pending).map_err(with_path(&pending))?;
        let from = Continuation {
            trail: self.trail,
            next_n: self.next_n,
            prev: self.prev,
            head: self.chain.head,
            boot: self.boot,
        };
        let mut next = Self::create_at(&pending, log, self.options.clone(), from)?;
        // The state follows once the new sidecar has its name (`install_next`).
        next.write_record(Kind::Start, None, Extra::Start(None), now)?;
        if let Some(pruned) = emptied {
            next.prune(pruned, now)?;
        }
        Ok(next)
    }

    /// Renames the sidecar made by [`Self::prepare_next`] into place (over this one, if it was
    /// not moved away: a truncating roll) and continues with it.
    pub fn install_next(&mut self, next: SidecarWriter) -> io::Result<()> {
        fs::rename(pending_path(&next.path), &next.path).map_err(with_path(&next.path))?;
        let mut next = next;
        next.state = self.state.take();
        *self = next;
        let snapshot = self.snapshot();
        match &mut self.state {
            Some(state) => state.write(&snapshot),
            None => Ok(()),
        }
    }

    /// What the state file says after the last record written.
    fn snapshot(&self) -> TrailState {
        TrailState {
            trail: self.trail,
            n: self.next_n.saturating_sub(1),
            head: self.chain.head,
            boot: self.boot,
            key: self
                .options
                .signing_key
                .as_ref()
                .map(|k| key_id(&k.verifying_key())),
        }
    }

    fn write_record(
        &mut self,
        kind: Kind,
        file: Option<&str>,
        extra: Extra,
        now: SystemTime,
    ) -> io::Result<()> {
        let mut record = Record {
            v: FORMAT,
            kind,
            trail: self.trail,
            n: self.next_n,
            boot: self.boot,
            origin: self.origin.clone(),
            file: file.unwrap_or(&self.log_name).to_owned(),
            lines: self.chain.lines,
            bytes: self.chain.bytes,
            head: self.chain.head,
            time: rfc3339(now),
            prev: self.prev,
            key: None,
            tags: self.chain.take_tags(),
            extra,
            sig: None,
        };
        let key = self
            .signing_override
            .as_deref()
            .or(self.options.signing_key.as_deref());
        let mut line = record.seal_line(key);
        self.prev = line_digest(&line);
        line.push('\n');
        let path = &self.path;
        self.file
            .write_all(line.as_bytes())
            .map_err(with_path(path))?;
        if self.options.fsync {
            self.file.sync_data().map_err(with_path(path))?;
        }
        self.next_n += 1;
        self.sealed_lines = self.chain.lines;
        self.last_record = now;
        let mut snapshot = self.snapshot();
        snapshot.key = record.key;
        if let Some(state) = &mut self.state {
            state.write(&snapshot)?;
        }
        Ok(())
    }
}

/// What a `prune` record says about the rolled file `log` (its sidecar read back): `None`
/// when it has no sidecar with records.
pub fn pruned_info(log: &Path) -> io::Result<Option<Pruned>> {
    let path = sidecar_path(log);
    if fs::symlink_metadata(&path).is_err() {
        return Ok(None);
    }
    let contents = read_sidecar(&path)?;
    let (Some((first, _, _)), Some((last, _, _))) =
        (contents.records.first(), contents.records.last())
    else {
        return Ok(None);
    };
    let text = log.file_name().map(|n| n.to_string_lossy().into_owned());
    let text = text.unwrap_or_default();
    Ok(Some(Pruned {
        file: text.strip_suffix(".gz").unwrap_or(&text).to_owned(),
        trail: last.trail,
        first: first.n,
        last: last.n,
        head: last.head,
    }))
}

fn path_display(p: &Path) -> String {
    p.display().to_string()
}

/// Opens a sidecar for appending; a new one gets the mode of its log (no more readable).
fn open_append(path: &Path, log: &Path) -> io::Result<File> {
    FileMode::default()
        .like(log)
        .open_append(path)
        .map_err(with_path(path))
}

fn with_gz(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.gz", path.display()))
}

fn new_trail_id() -> io::Result<[u8; 16]> {
    let mut id = [0u8; 16];
    getrandom::getrandom(&mut id).map_err(|e| io::Error::other(format!("random trail id: {e}")))?;
    Ok(id)
}

/// `2026-05-09T10:15:02.441Z`.
pub fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> IntegrityOptions {
        IntegrityOptions {
            signing_key: Some(Arc::new(SigningKey::from_bytes(&[5; 32]))),
            checkpoint_lines: 2,
            ..IntegrityOptions::default()
        }
    }

    #[test]
    fn resume_rehashes_and_cuts_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("a.log");
        fs::write(&log, "l1\nl2\n").unwrap();
        let now = SystemTime::now();
        let (mut w, repairs) = SidecarWriter::open(&log, opts(), now).unwrap();
        assert_eq!(repairs.len(), 1, "{repairs:?}"); // adopted
        let mut f = OpenOptions::new().append(true).open(&log).unwrap();
        f.write_all(b"l3\n").unwrap();
        w.absorb(b"l3\n");
        assert!(!w.due(now));
        f.write_all(b"l4\n").unwrap();
        w.absorb(b"l4\n");
        assert!(w.due(now));
        w.checkpoint(now).unwrap();
        f.write_all(b"l5\ntor").unwrap();
        drop(w);
        let (w, repairs) = SidecarWriter::open(&log, opts(), now).unwrap();
        assert!(
            repairs[0].contains("torn last line (3 bytes"),
            "{repairs:?}"
        );
        assert_eq!(fs::read_to_string(&log).unwrap(), "l1\nl2\nl3\nl4\nl5\n");
        assert_eq!(w.chain.lines, 5);
        let c = read_sidecar(&sidecar_path(&log)).unwrap();
        let kinds: Vec<Kind> = c.records.iter().map(|r| r.0.kind).collect();
        assert_eq!(kinds, [Kind::Start, Kind::Checkpoint, Kind::Resume]);
        assert_eq!(c.records[2].0.lines, 5);
        assert_eq!(c.records[2].0.n, 2);
    }

    #[test]
    fn sidecar_names() {
        assert_eq!(
            sidecar_path(Path::new("d/audit.log.1.gz")),
            Path::new("d/audit.log.1.digest")
        );
        assert_eq!(
            sidecar_path(Path::new("audit.log")),
            Path::new("audit.log.digest")
        );
    }
}
