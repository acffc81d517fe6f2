//! `verify`: walks log files and their digest sidecars (rolled and gzip files included) and
//! names the first line or file that was modified, deleted, inserted, reordered or truncated,
//! with the checkpoint that proves it.
//!
//! Per file: the records must parse strictly (the exact bytes the writer renders), chain (`n`
//! consecutive, `prev` = digest of the previous record, boot counter never lower, one origin,
//! matching where the file is), be signed by a given public key (a key change only after a
//! `rekey` record), and the lines must re-hash to every record's `lines`, `bytes` and `head`;
//! the first line whose tag differs says where and how. Lines after the last record are *not
//! yet sealed*, lines a `resume` sealed after a crash are *unwitnessed*: both listed, and
//! failures under [`Policy::strict`]. Across files of a trail (ordered by record numbers), each
//! file's `start` must continue the previous file's `seal`, so a missing, renamed or swapped
//! file shows as a gap; files missing at the start of a trail must be covered by a `prune`
//! record. Across trails of one file, each new trail must name the previous one, and the
//! newest must be the one the writer's state file names. With [`Policy::anchors`], the trails
//! are also compared with the Event Server's anchor ledger (see `verify/anchors.rs`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use flate2::read::MultiGzDecoder;

use super::chain::{self, to_hex, GENESIS};
use super::checkpoint::{key_id, line_digest, Extra, Kind, Pruned, Record};
use super::sidecar::{read_sidecar, sidecar_path, SIDECAR_EXT};
use super::state::{check_origin, live_name_of_state, read_state, state_path, TrailState};

mod anchors;
pub use anchors::Anchors;

/// What to check (the key; see [`Policy`] for the rest).
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// Checks every record's signature; without it only the chain is checked (which anyone
    /// able to write the files could rebuild), and a signed trail fails unless
    /// [`Policy::allow_unsigned`].
    pub public_key: Option<VerifyingKey>,
}

/// How strict `verify` is, beyond the key.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// More public keys (a trail whose key was rotated by a `rekey` record needs both).
    pub more_keys: Vec<VerifyingKey>,
    /// Lines not yet sealed, lines sealed unwitnessed after a crash and a check without a key
    /// are failures, not notes.
    pub strict: bool,
    /// Accepts checking the chain alone when no key is given, even for a signed trail.
    pub allow_unsigned: bool,
    /// The files were moved or copied here on purpose: `file:` origins are compared by file
    /// name only (an Event Server's folder below its root is always compared).
    pub moved: bool,
    /// Compare the trails with the Event Server's anchor ledger (`verify --anchors`).
    pub anchors: Option<Anchors>,
}

/// The kind of a problem found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FindingKind {
    /// A line's bytes changed.
    Modified,
    /// A line is missing.
    Deleted,
    /// A line was added.
    Inserted,
    /// Lines changed places.
    Reordered,
    /// The file ends before lines that a checkpoint covers.
    Truncated,
    /// A whole file of the trail is missing (deleted, or renamed away).
    MissingFile,
    /// A file does not have the name it was sealed with, or files are out of order.
    Renamed,
    /// A log file without a sidecar.
    NoSidecar,
    /// A record whose signature does not verify, is missing, or is by another key.
    BadSignature,
    /// A record that was removed, added or altered (the records' own chain is broken).
    BrokenRecords,
    /// Lines that were in the file before its sidecar existed: covered, but not proven.
    Unproven,
    /// A file or sidecar that cannot be read.
    Unreadable,
    /// Nothing was found to verify.
    NothingVerified,
    /// A trail that is not where its records say it was written.
    WrongOrigin,
    /// A trail that does not follow the one before it, or is not the one the writer's state
    /// names (replaced, rolled back, or restarted without naming its predecessor).
    TrailLink,
    /// The signing key changes without a `rekey` record.
    KeyChanged,
    /// Signed records, but no key to check them (and no `--allow-unsigned`).
    NotChecked,
    /// Lines sealed by a `resume` after a crash, which nobody witnessed (`--strict`).
    Unwitnessed,
    /// Lines after the last record (`--strict`).
    Unsealed,
    /// The anchor ledger holds records beyond the local trail's last one: cut back.
    RolledBack,
    /// A local record differs from the anchored record of the same number.
    Rewritten,
    /// Local records the anchor ledger does not have yet (`--strict`).
    NotAnchored,
    /// An anchor ledger line that does not parse or is not signed by the server's key.
    AnchorLedger,
}

impl FindingKind {
    /// The word printed for it.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Modified => "modified",
            FindingKind::Deleted => "deleted",
            FindingKind::Inserted => "inserted",
            FindingKind::Reordered => "reordered",
            FindingKind::Truncated => "truncated",
            FindingKind::MissingFile => "missing file",
            FindingKind::Renamed => "renamed",
            FindingKind::NoSidecar => "no sidecar",
            FindingKind::BadSignature => "bad signature",
            FindingKind::BrokenRecords => "broken records",
            FindingKind::Unproven => "unproven",
            FindingKind::Unreadable => "unreadable",
            FindingKind::NothingVerified => "nothing verified",
            FindingKind::WrongOrigin => "wrong origin",
            FindingKind::TrailLink => "trail link",
            FindingKind::KeyChanged => "key changed",
            FindingKind::NotChecked => "signatures not checked",
            FindingKind::Unwitnessed => "unwitnessed",
            FindingKind::Unsealed => "not yet sealed",
            FindingKind::RolledBack => "rolled back",
            FindingKind::Rewritten => "rewritten",
            FindingKind::NotAnchored => "not yet anchored",
            FindingKind::AnchorLedger => "anchor ledger",
        }
    }
}

/// One problem: where, what, and the record that proves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// What.
    pub kind: FindingKind,
    /// The file.
    pub file: PathBuf,
    /// The 1-based line of the file, when one line is at fault.
    pub line: Option<u64>,
    /// The number of the record (checkpoint) that proves it.
    pub checkpoint: Option<u64>,
    /// A sentence for people.
    pub message: String,
}

/// The outcome for one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSummary {
    /// The log file (or, for a sidecar without its file, the sidecar).
    pub file: PathBuf,
    /// Lines in the file.
    pub lines: u64,
    /// Lines covered by its last record.
    pub sealed: u64,
    /// Records in its sidecar.
    pub records: usize,
    /// Whether nothing is wrong with it.
    pub ok: bool,
}

/// Everything `verify` found.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Per file, in trail order.
    pub files: Vec<FileSummary>,
    /// Problems; empty means verified.
    pub failures: Vec<Finding>,
    /// Lines not yet sealed or unwitnessed, where trails begin, format 1 trails.
    pub notes: Vec<String>,
    /// Whether signatures were checked.
    pub signatures_checked: bool,
    /// Whether `--strict` was on.
    pub strict: bool,
    /// What was compared with an anchor ledger (`--anchors`), if one was given.
    pub anchored: Option<String>,
}

impl Report {
    /// No failures.
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }

    fn fail(&mut self, kind: FindingKind, file: &Path, checkpoint: Option<u64>, message: String) {
        self.failures.push(Finding {
            kind,
            file: file.to_owned(),
            line: None,
            checkpoint,
            message,
        });
    }

    /// The text `log4rs-audit verify` prints.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for f in &self.files {
            let status = if !f.ok {
                "FAILED".to_owned()
            } else if f.lines > f.sealed {
                format!("OK, lines {}-{} not yet sealed", f.sealed + 1, f.lines)
            } else {
                "OK".to_owned()
            };
            out.push_str(&format!(
                "{}: {} lines, {} records: {status}\n",
                f.file.display(),
                f.lines,
                f.records
            ));
        }
        for n in &self.notes {
            out.push_str(&format!("note: {n}\n"));
        }
        for f in &self.failures {
            out.push_str(&format!("FAILED: {}\n", f.message));
        }
        let lines: u64 = self.files.iter().map(|f| f.sealed.min(f.lines)).sum();
        if self.ok() {
            let sig = if self.signatures_checked {
                "signatures checked"
            } else {
                "chain only: signatures NOT checked (no --public-key)"
            };
            let anchored = self
                .anchored
                .as_ref()
                .map_or(String::new(), |a| format!("; {a}"));
            out.push_str(&format!(
                "OK: {} files, {lines} sealed lines verified; {sig}{anchored}\n",
                self.files.len()
            ));
        } else {
            out.push_str(&format!("FAILED: {} problems\n", self.failures.len()));
        }
        out
    }

    /// The same as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "ok": self.ok(),
            "strict": self.strict,
            "signatures_checked": self.signatures_checked,
            "files": self.files.iter().map(|f| serde_json::json!({
                "file": f.file.display().to_string(),
                "lines": f.lines,
                "sealed_lines": f.sealed,
                "records": f.records,
                "ok": f.ok,
            })).collect::<Vec<_>>(),
            "failures": self.failures.iter().map(|f| serde_json::json!({
                "kind": f.kind.as_str(),
                "file": f.file.display().to_string(),
                "line": f.line,
                "checkpoint": f.checkpoint,
                "message": f.message,
            })).collect::<Vec<_>>(),
            "notes": self.notes,
            "anchors": self.anchored,
        })
    }
}

/// Verifies the trails under `paths` with the default [`Policy`] (see [`verify_paths_with`]).
///
/// ```
/// use log4rs_audit::integrity::{verify_paths, IntegrityOptions, SidecarWriter, VerifyOptions};
///
/// let dir = tempfile::tempdir()?;
/// let log = dir.path().join("audit.log");
/// std::fs::write(&log, "")?;
/// let now = std::time::SystemTime::now();
/// let (mut w, _) = SidecarWriter::open(&log, IntegrityOptions::default(), now)?;
/// std::fs::write(&log, "a\nb\n")?;
/// w.absorb(b"a\nb\n");
/// w.checkpoint(now)?;
/// assert!(verify_paths(&[log.clone()], &VerifyOptions::default())?.ok());
/// std::fs::write(&log, "a\nB\n")?;
/// let report = verify_paths(&[log], &VerifyOptions::default())?;
/// assert_eq!(report.failures[0].line, Some(2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_paths(paths: &[PathBuf], options: &VerifyOptions) -> io::Result<Report> {
    verify_paths_with(paths, options, &Policy::default())
}

/// Verifies the trails under `paths`: a directory means every file in it (recursively, hidden
/// files and folders left out: an Event Server root's `.event-server` journal, for one; the
/// writers' hidden state files are read); a file means it and its rolled siblings
/// (`audit.log` → `audit.log.1.gz`, …), even when it is itself gone. Finding nothing is a
/// failure.
pub fn verify_paths_with(
    paths: &[PathBuf],
    options: &VerifyOptions,
    policy: &Policy,
) -> io::Result<Report> {
    let mut found = Found::default();
    for p in paths {
        collect(p, &mut found)?;
    }
    let mut files = found.files;
    files.sort();
    files.dedup();
    let mut keys: Vec<VerifyingKey> = options.public_key.iter().copied().collect();
    keys.extend(policy.more_keys.iter().copied());
    let mut report = Report {
        signatures_checked: !keys.is_empty(),
        strict: policy.strict,
        ..Report::default()
    };
    let ctx = Ctx {
        keys: &keys,
        policy,
    };
    // Pair logs with sidecars.
    let mut checked: Vec<CheckedFile> = Vec::new();
    let sidecars: Vec<&PathBuf> = files.iter().filter(|f| is_sidecar(f)).collect();
    let logs: Vec<&PathBuf> = files.iter().filter(|f| !is_sidecar(f)).collect();
    let mut any_signed = false;
    for log in &logs {
        let sc = sidecar_path(log);
        if !sc.exists() {
            report.fail(
                FindingKind::NoSidecar,
                log,
                None,
                format!(
                    "{}: no digest sidecar ({}): written without integrity, or renamed",
                    log.display(),
                    sc.display()
                ),
            );
            report.files.push(summary(log, 0, 0, 0, false));
            continue;
        }
        let c = check_file(log, &sc, &ctx, &mut report);
        any_signed |= c.records.iter().any(|r| r.0.sig.is_some());
        checked.push(c);
    }
    let prunes: Vec<(Pruned, u64, PathBuf)> = checked
        .iter()
        .flat_map(|c| {
            c.records.iter().filter_map(|(r, _, _)| match &r.extra {
                Extra::Prune(p) => Some((p.clone(), r.n, c.file.clone())),
                _ => None,
            })
        })
        .collect();
    // A folder may hold thousands of trails (an Event Server root): look sidecars up by path.
    let paired: HashSet<PathBuf> = logs.iter().map(|l| sidecar_path(l)).collect();
    for sc in &sidecars {
        if paired.contains(*sc) {
            continue;
        }
        let base = sc.to_string_lossy();
        let base = base.strip_suffix(SIDECAR_EXT).unwrap_or(&base).to_owned();
        // A sidecar left by a prune killed before it was deleted, too.
        let covered = read_sidecar(sc).ok().and_then(|c| {
            let (last, _, _) = c.records.last()?;
            prune_covering(&prunes, last.trail, last.n, &last.head)
        });
        match covered {
            Some((n, f)) => report.notes.push(format!(
                "{base}: deleted by the retention policy (prune record #{n} in {}); its sidecar {} was left",
                f.display(),
                sc.display()
            )),
            None => report.fail(
                FindingKind::MissingFile,
                Path::new(&base),
                None,
                format!(
                    "{base}: missing (its sidecar {} is here): the file was deleted or renamed",
                    sc.display()
                ),
            ),
        }
    }
    check_trails(&mut checked, &prunes, &found.states, &mut report);
    if let Some(a) = &policy.anchors {
        anchors::check(a, paths, &checked, &prunes, policy.strict, &mut report);
    }
    if report.files.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        report.fail(
            FindingKind::NothingVerified,
            paths.first().map_or(Path::new(""), |p| p.as_path()),
            None,
            format!(
                "nothing was verified: no log file or sidecar under {}",
                shown.join(", ")
            ),
        );
    }
    if !report.signatures_checked && !policy.allow_unsigned && (any_signed || policy.strict) {
        let what = if any_signed {
            "the records are signed but no --public-key was given: signatures not checked"
        } else {
            "no --public-key was given (--strict): the chain alone proves nothing against whoever can write the files"
        };
        report.fail(
            FindingKind::NotChecked,
            paths.first().map_or(Path::new(""), |p| p.as_path()),
            None,
            format!("{what} (give --public-key, or --allow-unsigned to accept the chain alone)"),
        );
    }
    Ok(report)
}

/// The prune record (number, file) that covers the trail's records up to `last` with `head`.
fn prune_covering<'a>(
    prunes: &'a [(Pruned, u64, PathBuf)],
    trail: [u8; 16],
    last: u64,
    head: &[u8; 32],
) -> Option<(u64, &'a PathBuf)> {
    prunes
        .iter()
        .find(|(p, _, _)| p.trail == trail && p.last == last && &p.head == head)
        .map(|(_, n, f)| (*n, f))
}

struct Ctx<'a> {
    keys: &'a [VerifyingKey],
    policy: &'a Policy,
}

fn summary(file: &Path, lines: u64, sealed: u64, records: usize, ok: bool) -> FileSummary {
    FileSummary {
        file: file.to_owned(),
        lines,
        sealed,
        records,
        ok,
    }
}

fn is_sidecar(p: &Path) -> bool {
    p.to_string_lossy().ends_with(SIDECAR_EXT)
}

fn skipped(name: &str) -> bool {
    name.starts_with('.')
        || name.ends_with(".tmp")
        || name.ends_with(".key")
        || name.ends_with(".pub")
}

/// What the paths hold: files to check, and writers' state files by (folder, live name).
#[derive(Default)]
struct Found {
    files: Vec<PathBuf>,
    states: BTreeMap<(PathBuf, String), PathBuf>,
}

fn note_state(dir: &Path, name: &str, out: &mut Found) {
    if let Some(live) = live_name_of_state(name) {
        out.states
            .insert((dir.to_owned(), live.to_owned()), dir.join(name));
    }
}

fn collect(path: &Path, out: &mut Found) -> io::Result<()> {
    let with = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    let meta = match fs::metadata(path) {
        Ok(m) => Some(m),
        // A file that is gone: its siblings (and state) may still be there.
        Err(e)
            if e.kind() == io::ErrorKind::NotFound
                && path
                    .parent()
                    .is_some_and(|d| d.as_os_str().is_empty() || d.is_dir()) =>
        {
            None
        }
        Err(e) => return Err(with(e)),
    };
    if meta.as_ref().is_some_and(|m| m.is_dir()) {
        for entry in fs::read_dir(path).map_err(with)? {
            let entry = entry.map_err(with)?;
            let p = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if entry.file_type().map_err(with)?.is_dir() {
                // Hidden folders (an Event Server root's `.event-server` journal) hold no trails.
                if !name.starts_with('.') {
                    collect(&p, out)?;
                }
            } else if !skipped(&name) {
                out.files.push(p);
            } else {
                note_state(path, &name, out);
            }
        }
        return Ok(());
    }
    // A file: it and its rolled siblings.
    let (dir, stem) = rolled_set_of(path);
    let state = state_path(&dir.join(&stem));
    if state.exists() {
        out.states.insert((dir.clone(), stem.clone()), state);
    }
    for entry in fs::read_dir(&dir).map_err(with)? {
        let entry = entry.map_err(with)?;
        let n = entry.file_name().to_string_lossy().into_owned();
        if n.starts_with(&stem) && !skipped(&n) && entry.file_type().map_err(with)?.is_file() {
            out.files.push(entry.path());
        }
    }
    Ok(())
}

/// One file after its own checks, for the trail checks.
struct CheckedFile {
    file: PathBuf,
    records: Vec<(Record, String, usize)>,
}

fn read_log(path: &Path) -> io::Result<Vec<u8>> {
    let raw = fs::read(path)?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        MultiGzDecoder::new(&raw[..]).read_to_end(&mut out)?;
        return Ok(out);
    }
    Ok(raw)
}

fn hex8(id: Option<[u8; 8]>) -> String {
    id.map_or_else(|| "(none)".to_owned(), |k| to_hex(&k))
}

/// The problem with record `r` following `p` in one sidecar, beyond `n`, `prev` and counts.
fn follow_problem(p: &Record, r: &Record) -> Option<(FindingKind, String)> {
    if p.v > r.v {
        return Some((
            FindingKind::BrokenRecords,
            format!("is format {} after a format {} record: altered", r.v, p.v),
        ));
    }
    if r.v >= 2 && p.v >= 2 {
        if r.boot < p.boot {
            return Some((
                FindingKind::BrokenRecords,
                format!("boot counter {} after {}: goes back", r.boot, p.boot),
            ));
        }
        if r.boot > p.boot && !matches!(r.kind, Kind::Resume | Kind::Start) {
            return Some((
                FindingKind::BrokenRecords,
                format!(
                    "boot counter {} after {} in a {} record: only a writer's start raises it",
                    r.boot,
                    p.boot,
                    r.kind.as_str()
                ),
            ));
        }
        if r.origin != p.origin {
            return Some((
                FindingKind::WrongOrigin,
                format!(
                    "origin {} after {}: the trail changed places",
                    r.origin, p.origin
                ),
            ));
        }
    }
    if r.kind == Kind::Resume && r.v >= 2 {
        let expected = (r.lines > p.lines).then(|| (p.lines + 1, r.lines));
        if r.extra != Extra::Resume(expected) {
            return Some((
                FindingKind::BrokenRecords,
                "resume record's unwitnessed lines do not match the lines it seals".to_owned(),
            ));
        }
    }
    let rekeyed_to = match &p.extra {
        Extra::Rekey(k) => Some(*k),
        _ => None,
    };
    match rekeyed_to {
        Some(k) if r.key != Some(k) => Some((
            FindingKind::KeyChanged,
            format!(
                "is signed by key {} but the rekey record #{} before it names {}",
                hex8(r.key),
                p.n,
                to_hex(&k)
            ),
        )),
        None if r.key != p.key => Some((
            FindingKind::KeyChanged,
            format!(
                "is signed by key {} after key {} without a rekey record: re-signed by another key",
                hex8(r.key),
                hex8(p.key)
            ),
        )),
        _ => None,
    }
}

fn check_file(log: &Path, sc: &Path, ctx: &Ctx, report: &mut Report) -> CheckedFile {
    let before = report.failures.len();
    let mut fail = |kind, line, checkpoint, message: String| {
        report.failures.push(Finding {
            kind,
            file: log.to_owned(),
            line,
            checkpoint,
            message,
        })
    };
    let shown = log.display().to_string();
    let data = match read_log(log) {
        Ok(d) => d,
        Err(e) => {
            fail(FindingKind::Unreadable, None, None, format!("{shown}: {e}"));
            report.files.push(summary(log, 0, 0, 0, false));
            return CheckedFile {
                file: log.to_owned(),
                records: Vec::new(),
            };
        }
    };
    let contents = match read_sidecar(sc) {
        Ok(c) => c,
        Err(e) => {
            fail(FindingKind::BrokenRecords, None, None, e.to_string());
            report.files.push(summary(log, 0, 0, 0, false));
            return CheckedFile {
                file: log.to_owned(),
                records: Vec::new(),
            };
        }
    };
    if let Some(garbage) = &contents.garbage {
        fail(FindingKind::BrokenRecords, None, None, garbage.clone());
    }
    let records = contents.records;
    let lines: Vec<&[u8]> = data.split_inclusive(|&b| b == b'\n').collect();
    let torn = lines.last().is_some_and(|l| !l.ends_with(b"\n"));
    let whole = lines.len() - usize::from(torn);
    let sealed = records.last().map_or(0, |r| r.0.lines);
    if records.is_empty() {
        fail(
            FindingKind::BrokenRecords,
            None,
            None,
            format!("{shown}: its sidecar {} has no records", sc.display()),
        );
    }
    let mut unwitnessed: Vec<(u64, u64, u64)> = Vec::new();
    // The records' own chain and signatures.
    for (i, (r, _, sc_line)) in records.iter().enumerate() {
        let at = format!("{} line {sc_line} (record #{})", sc.display(), r.n);
        if i > 0 {
            let (p, p_line, _) = &records[i - 1];
            if r.n != p.n + 1 || r.prev != line_digest(p_line) || r.trail != p.trail {
                fail(
                    FindingKind::BrokenRecords,
                    None,
                    Some(r.n),
                    format!("{at}: does not follow record #{}: a record was removed, inserted or altered", p.n),
                );
                break;
            }
            if r.lines < p.lines || (r.lines - p.lines) * 4 != r.tags.len() as u64 {
                fail(
                    FindingKind::BrokenRecords,
                    None,
                    Some(r.n),
                    format!("{at}: line counts do not add up"),
                );
                break;
            }
            if let Some((kind, problem)) = follow_problem(p, r) {
                fail(kind, None, Some(r.n), format!("{at} {problem}"));
                break;
            }
            if let Extra::Resume(Some((a, b))) = r.extra {
                unwitnessed.push((a, b, r.n));
            }
        }
        if !ctx.keys.is_empty() {
            let key = ctx.keys.iter().find(|k| r.key == Some(key_id(k)));
            let problem = if r.sig.is_none() {
                Some("is not signed".to_owned())
            } else if let Some(key) = key {
                (!r.signature_valid(key)).then(|| {
                    "has an invalid signature: forged or altered without the key".to_owned()
                })
            } else {
                Some(format!("is signed by another key ({})", hex8(r.key)))
            };
            if let Some(problem) = problem {
                fail(
                    FindingKind::BadSignature,
                    None,
                    Some(r.n),
                    format!("{at} {problem}"),
                );
                break;
            }
        }
    }
    // Where the file is against where its records say it was written.
    if let Some((r, _, _)) = records.iter().find(|(r, _, _)| r.v >= 2) {
        let live = log.with_file_name(&records[0].0.file);
        if let Err(why) = check_origin(&r.origin, &live, ctx.policy.moved) {
            fail(
                FindingKind::WrongOrigin,
                None,
                Some(r.n),
                format!("{shown}: not where its trail was written: {why} (record #{}): moved or swapped", r.n),
            );
        }
    }
    // The lines against the records.
    if let Some((first, _, _)) = records.first() {
        if first.kind == Kind::Start && first.lines > 0 {
            fail(
                FindingKind::Unproven,
                Some(1),
                Some(first.n),
                format!(
                    "{shown} lines 1-{}: were in the file before its sidecar existed (the writer started without one at {}): not proven",
                    first.lines, first.time
                ),
            );
        }
    }
    if report.failures.len() == before {
        if let Some(f) = check_lines(&shown, log, &lines[..whole], torn, &records) {
            report.failures.push(f);
        }
    }
    // The name.
    if let Some((last, _, _)) = records.last() {
        let actual = log
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let actual = actual.strip_suffix(".gz").unwrap_or(&actual).to_owned();
        let named = records
            .iter()
            .rev()
            .find(|(r, _, _)| !matches!(r.kind, Kind::Prune | Kind::Rekey))
            .map_or(last, |(r, _, _)| r);
        let fine = if named.kind == Kind::Seal {
            shifted_name(&named.file, &actual)
        } else {
            named.file == actual
        };
        if !fine && report.failures.len() == before {
            report.failures.push(Finding {
                kind: FindingKind::Renamed,
                file: log.to_owned(),
                line: None,
                checkpoint: Some(named.n),
                message: format!(
                    "{shown}: renamed: record #{} names it {}",
                    named.n, named.file
                ),
            });
        }
    }
    let mut ok = report.failures.len() == before;
    if ok {
        for &(a, b, n) in &unwitnessed {
            let text = format!(
                "{shown} lines {a}-{b}: unwitnessed: written after the last record before the writer stopped without closing (a crash or kill), sealed as found by resume record #{n}: an edit made before the restart cannot be told"
            );
            if ctx.policy.strict {
                report.failures.push(Finding {
                    kind: FindingKind::Unwitnessed,
                    file: log.to_owned(),
                    line: Some(a),
                    checkpoint: Some(n),
                    message: format!("{text} (--strict)"),
                });
            } else {
                report.notes.push(text);
            }
        }
        if (whole as u64) > sealed {
            let text = format!(
                "{shown}: lines {}-{} not yet sealed (written after the last checkpoint): not verified",
                sealed + 1,
                whole
            );
            if ctx.policy.strict {
                report.failures.push(Finding {
                    kind: FindingKind::Unsealed,
                    file: log.to_owned(),
                    line: Some(sealed + 1),
                    checkpoint: None,
                    message: format!("{text} (--strict)"),
                });
            } else {
                report.notes.push(text);
            }
        }
        if torn {
            report.notes.push(format!(
                "{shown}: a torn last line (line {}, a crash while writing it): not verified",
                whole + 1
            ));
        }
        ok = report.failures.len() == before;
    }
    report
        .files
        .push(summary(log, whole as u64, sealed, records.len(), ok));
    CheckedFile {
        file: log.to_owned(),
        records,
    }
}

/// `audit.log.1` sealed, now `audit.log.3` or `audit.log.2020-02-19.1`: a later roll shifted it.
fn shifted_name(sealed: &str, actual: &str) -> bool {
    if sealed == actual {
        return true;
    }
    match (index_of(sealed), index_of(actual)) {
        (Some((s_stem, s)), Some((a_stem, a))) => a_stem.starts_with(s_stem) && a >= s,
        _ => false,
    }
}

/// `audit.log.3` → (`audit.log`, 3).
fn index_of(name: &str) -> Option<(&str, u64)> {
    let (stem, idx) = name.rsplit_once('.')?;
    Some((stem, idx.parse().ok()?))
}

fn check_lines(
    shown: &str,
    log: &Path,
    lines: &[&[u8]],
    torn: bool,
    records: &[(Record, String, usize)],
) -> Option<Finding> {
    let first = &records.first()?.0;
    let mut head = if first.kind == Kind::Start && first.lines == 0 {
        first.head
    } else {
        GENESIS
    };
    let expected: Vec<u32> = records.iter().flat_map(|r| r.0.tag_values()).collect();
    let actual: Vec<u32> = lines.iter().map(|l| chain::tag(l)).collect();
    let mut done = 0usize;
    let mut bytes = 0u64;
    for (r, _, _) in records {
        let upto = r.lines as usize;
        let mut good = upto <= lines.len();
        if good {
            for l in &lines[done..upto] {
                head = chain::link(&head, l);
                bytes += l.len() as u64;
            }
            good = head == r.head && bytes == r.bytes;
        }
        if !good {
            let finding = |kind, line: usize, what: String| {
                Finding {
                kind,
                file: log.to_owned(),
                line: Some(line as u64),
                checkpoint: Some(r.n),
                message: format!(
                    "{shown} line {line}: {what} (proved by record #{} of {}, {} covering lines 1-{upto})",
                    r.n, r.time, kind_name(r.kind)
                ),
            }
            };
            let j = (done..upto.min(actual.len()))
                .find(|&j| actual[j] != expected[j])
                .unwrap_or(upto.min(actual.len()));
            if j >= actual.len() {
                let why = if torn {
                    format!("truncated: the file ends in the middle of line {}", j + 1)
                } else {
                    format!("truncated: the file ends after line {j}")
                };
                return Some(finding(FindingKind::Truncated, j + 1, why));
            }
            let same = |a: usize, e: usize| {
                let n = 8
                    .min(actual.len().saturating_sub(a))
                    .min(expected.len().saturating_sub(e));
                n > 0 && actual[a..a + n] == expected[e..e + n]
            };
            let (kind, what) = if j + 1 < actual.len()
                && j + 1 < expected.len()
                && actual[j] == expected[j + 1]
                && actual[j + 1] == expected[j]
            {
                (
                    FindingKind::Reordered,
                    format!("reordered: lines {} and {} were swapped", j + 1, j + 2),
                )
            } else if same(j + 1, j + 1) || (j + 1 == actual.len() && j + 1 == expected.len()) {
                (FindingKind::Modified, "modified".to_owned())
            } else if same(j, j + 1) {
                (
                    FindingKind::Deleted,
                    "deleted: the line sealed here is missing".to_owned(),
                )
            } else if same(j + 1, j) {
                (
                    FindingKind::Inserted,
                    "inserted: this line was not sealed here".to_owned(),
                )
            } else if j == done
                && actual[done..upto.min(actual.len())] == expected[done..upto.min(actual.len())]
            {
                (
                    FindingKind::Modified,
                    "modified (same tags, different content)".to_owned(),
                )
            } else {
                (
                    FindingKind::Modified,
                    "modified (and later lines differ too)".to_owned(),
                )
            };
            return Some(finding(kind, j + 1, what));
        }
        done = upto;
    }
    None
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Start => "start",
        Kind::Checkpoint => "checkpoint",
        Kind::Resume => "resume checkpoint",
        Kind::Seal => "seal",
        Kind::Close => "close checkpoint",
        Kind::Prune => "prune checkpoint",
        Kind::Rekey => "rekey checkpoint",
    }
}

fn short(trail: &[u8; 16]) -> String {
    to_hex(trail)[..8].to_owned()
}

/// A trail as found: its files oldest first.
struct Trail<'a> {
    id: [u8; 16],
    files: Vec<&'a CheckedFile>,
}

impl Trail<'_> {
    fn first(&self) -> &Record {
        &self.files[0].records[0].0
    }

    fn last(&self) -> &Record {
        let f = self.files[self.files.len() - 1];
        &f.records[f.records.len() - 1].0
    }

    fn record(&self, n: u64) -> Option<&Record> {
        self.files
            .iter()
            .flat_map(|f| f.records.iter())
            .map(|(r, _, _)| r)
            .find(|r| r.n == n)
    }

    /// The folder and live file name it is written for.
    fn group(&self) -> (PathBuf, String) {
        let f = self.files[0];
        let dir = match f.file.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        (dir, f.records[0].0.file.clone())
    }
}

/// Orders each trail's files by record number and checks that each continues the previous
/// one; then, per live file, that its trails link up and match the writer's state.
fn check_trails(
    checked: &mut [CheckedFile],
    prunes: &[(Pruned, u64, PathBuf)],
    states: &BTreeMap<(PathBuf, String), PathBuf>,
    report: &mut Report,
) {
    let mut by_id: BTreeMap<[u8; 16], Vec<&CheckedFile>> = BTreeMap::new();
    for c in checked.iter() {
        if let Some((r, _, _)) = c.records.first() {
            by_id.entry(r.trail).or_default().push(c);
        }
    }
    let mut order: Vec<PathBuf> = Vec::new();
    let mut trails: Vec<Trail> = Vec::new();
    for (trail, mut files) in by_id {
        files.sort_by_key(|c| c.records[0].0.n);
        let first = &files[0];
        let (r0, _, _) = &first.records[0];
        if r0.n != 0 {
            let before = r0.n - 1;
            match prune_covering(prunes, trail, before, &r0.head) {
                Some((n, f)) => report.notes.push(format!(
                    "trail {}: begins at {} (record #{}): the older files were deleted by the retention policy (prune record #{n} in {})",
                    short(&trail),
                    first.file.display(),
                    r0.n,
                    f.display()
                )),
                None if r0.v == 1 => report.notes.push(format!(
                    "trail {}: begins at {} (record #{}): older files are not here (format 1: no prune records, so removed by max_backups and deleted cannot be told apart)",
                    short(&trail),
                    first.file.display(),
                    r0.n
                )),
                None => report.fail(
                    FindingKind::MissingFile,
                    &first.file,
                    Some(r0.n),
                    format!(
                        "trail {}: records #0-#{before} are missing before {} and no prune record covers them: older files were deleted",
                        short(&trail),
                        first.file.display()
                    ),
                ),
            }
        }
        if files.iter().any(|f| f.records.iter().any(|r| r.0.v == 1)) {
            report.notes.push(format!(
                "trail {}: format 1 records (written before origins, boot counters and trail links): those are not checked for them",
                short(&trail)
            ));
        }
        for pair in files.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let (last, last_line, _) = &a.records[a.records.len() - 1];
            let (start, _, _) = &b.records[0];
            let continues = last.kind == Kind::Seal
                && start.kind == Kind::Start
                && start.n == last.n + 1
                && start.prev == line_digest(last_line)
                && start.head == last.head
                && start.lines == 0;
            if !continues {
                let message = if start.n > last.n + 1 {
                    format!(
                        "between {} and {}: records #{}-#{} are missing: a file was deleted or renamed away",
                        a.file.display(),
                        b.file.display(),
                        last.n + 1,
                        start.n - 1
                    )
                } else {
                    format!(
                        "{} does not continue {} (record #{} after #{})",
                        b.file.display(),
                        a.file.display(),
                        start.n,
                        last.n
                    )
                };
                report.fail(FindingKind::MissingFile, &b.file, Some(start.n), message);
            } else if let Some((kind, problem)) = follow_problem(last, start) {
                report.fail(
                    kind,
                    &b.file,
                    Some(start.n),
                    format!("{} (record #{}) {problem}", b.file.display(), start.n),
                );
            }
            // Size-rolled names count down towards the current file.
            let name = |c: &CheckedFile| {
                let n = c.file.file_name().map(|n| n.to_string_lossy().into_owned());
                let n = n.unwrap_or_default();
                n.strip_suffix(".gz").unwrap_or(&n).to_owned()
            };
            let (na, nb) = (name(a), name(b));
            if let (Some((sa, ia)), Some((sb, ib))) = (index_of(&na), index_of(&nb)) {
                if sa == sb && ia <= ib {
                    report.fail(
                        FindingKind::Renamed,
                        &b.file,
                        Some(start.n),
                        format!(
                            "{} holds older lines than {} (records #{} < #{}): files were renamed or swapped",
                            a.file.display(),
                            b.file.display(),
                            a.records[0].0.n,
                            start.n
                        ),
                    );
                }
            }
        }
        let newest = files[files.len() - 1];
        let (last, _, _) = &newest.records[newest.records.len() - 1];
        if last.kind == Kind::Seal {
            report.fail(
                FindingKind::MissingFile,
                &newest.file,
                Some(last.n),
                format!(
                    "the file after {} (records from #{} on) is missing: deleted or renamed away",
                    newest.file.display(),
                    last.n + 1
                ),
            );
        }
        order.extend(files.iter().map(|c| c.file.clone()));
        trails.push(Trail { id: trail, files });
    }
    check_links(&trails, prunes, states, report);
    // Files in trail order (oldest first), others after.
    let position: HashMap<&PathBuf, usize> =
        order.iter().enumerate().map(|(i, p)| (p, i)).collect();
    report
        .files
        .sort_by_key(|f| position.get(&f.file).copied().unwrap_or(usize::MAX));
}

/// Per live file: the newest trail (the one holding the live file) must be the one the
/// writer's state names, and every other trail of that file must be reached from it through
/// the `start` records' links to their predecessors.
fn check_links(
    trails: &[Trail],
    prunes: &[(Pruned, u64, PathBuf)],
    states: &BTreeMap<(PathBuf, String), PathBuf>,
    report: &mut Report,
) {
    let mut groups: BTreeMap<(PathBuf, String), Vec<&Trail>> = BTreeMap::new();
    for t in trails {
        groups.entry(t.group()).or_default().push(t);
    }
    for key in states.keys() {
        groups.entry(key.clone()).or_default();
    }
    for ((dir, live), group) in &groups {
        let live_path = dir.join(live);
        let state: Option<TrailState> = match states.get(&(dir.clone(), live.clone())) {
            Some(p) => match read_state(p) {
                Ok(s) => s,
                Err(e) => {
                    report.fail(FindingKind::TrailLink, p, None, format!("{e}: altered"));
                    None
                }
            },
            None => None,
        };
        let newest = group.iter().find(|t| {
            let f = t.files[t.files.len() - 1];
            f.file
                .file_name()
                .is_some_and(|n| n.to_string_lossy() == *live)
        });
        if let Some(s) = &state {
            let state_file = state_path(&live_path);
            match newest {
                None => report.fail(
                    FindingKind::TrailLink,
                    &live_path,
                    Some(s.n),
                    format!(
                        "{}: missing: the writer's state {} says trail {} reached record #{}: deleted",
                        live_path.display(),
                        state_file.display(),
                        short(&s.trail),
                        s.n
                    ),
                ),
                Some(t) if t.id != s.trail => report.fail(
                    FindingKind::TrailLink,
                    &live_path,
                    None,
                    format!(
                        "{}: holds trail {}, but the writer's state {} names trail {} (record #{}): the trail was replaced",
                        live_path.display(),
                        short(&t.id),
                        state_file.display(),
                        short(&s.trail),
                        s.n
                    ),
                ),
                Some(t) if s.n > t.last().n => report.fail(
                    FindingKind::TrailLink,
                    &live_path,
                    Some(s.n),
                    format!(
                        "{}: trail {} ends at record #{}, but the writer's state {} says record #{} was written: rolled back to an older copy",
                        live_path.display(),
                        short(&t.id),
                        t.last().n,
                        state_file.display(),
                        s.n
                    ),
                ),
                Some(t) => {
                    if let Some(r) = t.record(s.n).filter(|r| r.head != s.head) {
                        report.fail(
                            FindingKind::TrailLink,
                            &live_path,
                            Some(r.n),
                            format!(
                                "{}: record #{} of trail {} does not match the writer's state {}: replaced",
                                live_path.display(),
                                r.n,
                                short(&t.id),
                                state_file.display()
                            ),
                        );
                    }
                }
            }
        }
        let Some(newest) = newest else { continue };
        let mut visited: HashSet<[u8; 16]> = HashSet::new();
        let mut at = *newest;
        loop {
            visited.insert(at.id);
            let r0 = at.first();
            if r0.n != 0 || r0.v < 2 {
                break; // its start was pruned (checked above), or format 1
            }
            let Some(link) = r0.trail_link() else {
                if r0.boot > 1 {
                    report.fail(
                        FindingKind::TrailLink,
                        &at.files[0].file,
                        Some(0),
                        format!(
                            "trail {} (from {}) starts anew without naming a previous trail although its writer had started {} times before: the earlier trail and the writer's state were deleted",
                            short(&at.id),
                            at.files[0].file.display(),
                            r0.boot - 1
                        ),
                    );
                }
                break;
            };
            match group.iter().find(|t| t.id == link.trail) {
                Some(prev) if visited.contains(&prev.id) => break,
                Some(prev) => {
                    let last = prev.last();
                    if last.n != link.n || last.head != link.head {
                        report.fail(
                            FindingKind::TrailLink,
                            &at.files[0].file,
                            Some(0),
                            format!(
                                "trail {} (from {}) names trail {} up to record #{} as its predecessor, but that trail ends at record #{}{}: they do not match",
                                short(&at.id),
                                at.files[0].file.display(),
                                short(&prev.id),
                                link.n,
                                last.n,
                                if last.n == link.n { " with another head" } else { "" }
                            ),
                        );
                    }
                    at = prev;
                }
                None => {
                    match prune_covering(prunes, link.trail, link.n, &link.head) {
                        Some((n, f)) => report.notes.push(format!(
                            "trail {}: follows trail {}, deleted by the retention policy (prune record #{n} in {})",
                            short(&at.id),
                            short(&link.trail),
                            f.display()
                        )),
                        None => report.fail(
                            FindingKind::TrailLink,
                            &at.files[0].file,
                            Some(0),
                            format!(
                                "trail {} (from {}) follows trail {} (up to record #{}), whose files are not here and no prune record covers them: deleted",
                                short(&at.id),
                                at.files[0].file.display(),
                                short(&link.trail),
                                link.n
                            ),
                        ),
                    }
                    break;
                }
            }
        }
        for t in group.iter().filter(|t| !visited.contains(&t.id)) {
            if t.files.iter().all(|f| f.records.iter().all(|r| r.0.v == 1)) && newest.first().v == 1
            {
                continue;
            }
            report.fail(
                FindingKind::TrailLink,
                &t.files[0].file,
                None,
                format!(
                    "trail {} ({}) is not in the history of the current trail {} of {}: no later trail names it as its predecessor (replaced, or a writer started without its state)",
                    short(&t.id),
                    t.files[0].file.display(),
                    short(&newest.id),
                    live_path.display()
                ),
            );
        }
    }
}

/// The folder and the live file's name of the rolled set `path` belongs to: `logs/audit.log.3.gz`
/// and `logs/audit.log.digest` → (`logs`, `audit.log.3` / `audit.log`); a bare name's folder is
/// `.`. What `verify` and `anchor` both walk from a path given on the command line.
pub(crate) fn rolled_set_of(path: &Path) -> (PathBuf, String) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(SIDECAR_EXT).unwrap_or(&name);
    let stem = stem.strip_suffix(".gz").unwrap_or(stem).to_owned();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    (dir, stem)
}

#[cfg(test)]
mod tests;
