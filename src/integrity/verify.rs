//! `verify`: walks log files and their digest sidecars (rolled and gzip files included) and
//! names the first line or file that was modified, deleted, inserted, reordered or truncated,
//! with the checkpoint that proves it.
//!
//! Per file: the records must chain (`n` consecutive, `prev` = digest of the previous record),
//! be signed by the given public key, and the lines must re-hash to every record's `lines`,
//! `bytes` and `head`; the first line whose tag differs says where and how. Lines after the
//! last record are *not yet sealed*: listed, never counted as verified. Across files of a trail
//! (ordered by record numbers), each file's `start` must continue the previous file's `seal`,
//! so a missing, renamed or swapped file shows as a gap. Files older than the first one present
//! (removed by `max_backups`) cannot be checked; verify says where the trail begins.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use flate2::read::MultiGzDecoder;

use super::chain::{self, to_hex, GENESIS};
use super::checkpoint::{key_id, line_digest, Kind, Record};
use super::sidecar::{read_sidecar, sidecar_path, SIDECAR_EXT};

/// What to check.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// Checks every record's signature; without it only the chain is checked (which anyone
    /// able to write the files could rebuild).
    pub public_key: Option<VerifyingKey>,
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
    /// Lines not yet sealed, and where trails begin.
    pub notes: Vec<String>,
    /// Whether signatures were checked.
    pub signatures_checked: bool,
}

impl Report {
    /// No failures.
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
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
            out.push_str(&format!(
                "OK: {} files, {lines} sealed lines verified; {sig}\n",
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
        })
    }
}

/// Verifies the trails under `paths`: a directory means every file in it (recursively, hidden
/// files and folders left out: an Event Server root's `.event-server` journal, for one); a
/// file means it and its rolled siblings (`audit.log` → `audit.log.1.gz`, …).
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
    let mut files = Vec::new();
    for p in paths {
        collect(p, &mut files)?;
    }
    files.sort();
    files.dedup();
    let mut report = Report {
        signatures_checked: options.public_key.is_some(),
        ..Report::default()
    };
    // Pair logs with sidecars.
    let mut checked: Vec<CheckedFile> = Vec::new();
    let sidecars: Vec<&PathBuf> = files.iter().filter(|f| is_sidecar(f)).collect();
    let logs: Vec<&PathBuf> = files.iter().filter(|f| !is_sidecar(f)).collect();
    for log in &logs {
        let sc = sidecar_path(log);
        if !sc.exists() {
            report.failures.push(Finding {
                kind: FindingKind::NoSidecar,
                file: (*log).clone(),
                line: None,
                checkpoint: None,
                message: format!(
                    "{}: no digest sidecar ({}): written without integrity, or renamed",
                    log.display(),
                    sc.display()
                ),
            });
            report.files.push(summary(log, 0, 0, 0, false));
            continue;
        }
        checked.push(check_file(log, &sc, options, &mut report));
    }
    // A folder may hold thousands of trails (an Event Server root): look sidecars up by path.
    let paired: HashSet<PathBuf> = logs.iter().map(|l| sidecar_path(l)).collect();
    for sc in &sidecars {
        let has_log = paired.contains(*sc);
        if !has_log {
            let base = sc.to_string_lossy();
            let base = base.strip_suffix(SIDECAR_EXT).unwrap_or(&base).to_owned();
            report.failures.push(Finding {
                kind: FindingKind::MissingFile,
                file: PathBuf::from(&base),
                line: None,
                checkpoint: None,
                message: format!(
                    "{base}: missing (its sidecar {} is here): the file was deleted or renamed",
                    sc.display()
                ),
            });
        }
    }
    check_trails(&mut checked, &mut report);
    Ok(report)
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

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let with = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    let meta = fs::metadata(path).map_err(with)?;
    if meta.is_dir() {
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
                out.push(p);
            }
        }
        return Ok(());
    }
    // A file: it and its rolled siblings.
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
    for entry in fs::read_dir(&dir).map_err(with)? {
        let entry = entry.map_err(with)?;
        let n = entry.file_name().to_string_lossy().into_owned();
        if n.starts_with(&stem) && !skipped(&n) && entry.file_type().map_err(with)?.is_file() {
            out.push(entry.path());
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

fn check_file(log: &Path, sc: &Path, options: &VerifyOptions, report: &mut Report) -> CheckedFile {
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
    // The records' own chain and signatures.
    for (i, (r, line, sc_line)) in records.iter().enumerate() {
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
        }
        if let Some(key) = &options.public_key {
            let problem = if r.sig.is_none() {
                Some("is not signed")
            } else if r.key != Some(key_id(key)) {
                Some("is signed by another key")
            } else if !r.signature_valid(line, key) {
                Some("has an invalid signature: forged or altered without the key")
            } else {
                None
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
        let fine = if last.kind == Kind::Seal {
            shifted_name(&last.file, &actual)
        } else {
            last.file == actual
        };
        if !fine && report.failures.len() == before {
            report.failures.push(Finding {
                kind: FindingKind::Renamed,
                file: log.to_owned(),
                line: None,
                checkpoint: Some(last.n),
                message: format!(
                    "{shown}: renamed: record #{} names it {}",
                    last.n, last.file
                ),
            });
        }
    }
    let ok = report.failures.len() == before;
    if ok && (whole as u64) > sealed {
        report.notes.push(format!(
            "{shown}: lines {}-{} not yet sealed (written after the last checkpoint): not verified",
            sealed + 1,
            whole
        ));
    }
    if ok && torn {
        report.notes.push(format!(
            "{shown}: a torn last line (line {}, a crash while writing it): not verified",
            whole + 1
        ));
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
    }
}

/// Orders each trail's files by record number and checks that each continues the previous one.
fn check_trails(checked: &mut [CheckedFile], report: &mut Report) {
    let mut trails: BTreeMap<[u8; 16], Vec<&CheckedFile>> = BTreeMap::new();
    for c in checked.iter() {
        if let Some((r, _, _)) = c.records.first() {
            trails.entry(r.trail).or_default().push(c);
        }
    }
    let mut order: Vec<PathBuf> = Vec::new();
    for (trail, mut files) in trails {
        files.sort_by_key(|c| c.records[0].0.n);
        let first = &files[0];
        let (r0, _, _) = &first.records[0];
        if r0.n != 0 {
            report.notes.push(format!(
                "trail {}: begins at {} (record #{}): older files are not here (removed by \
                 max_backups, or deleted: the two cannot be told apart)",
                &to_hex(&trail)[..8],
                first.file.display(),
                r0.n
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
                report.failures.push(Finding {
                    kind: FindingKind::MissingFile,
                    file: b.file.clone(),
                    line: None,
                    checkpoint: Some(start.n),
                    message,
                });
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
                    report.failures.push(Finding {
                        kind: FindingKind::Renamed,
                        file: b.file.clone(),
                        line: None,
                        checkpoint: Some(start.n),
                        message: format!(
                            "{} holds older lines than {} (records #{} < #{}): files were renamed or swapped",
                            a.file.display(),
                            b.file.display(),
                            a.records[0].0.n,
                            start.n
                        ),
                    });
                }
            }
        }
        let newest = files[files.len() - 1];
        let (last, _, _) = &newest.records[newest.records.len() - 1];
        if last.kind == Kind::Seal {
            report.failures.push(Finding {
                kind: FindingKind::MissingFile,
                file: newest.file.clone(),
                line: None,
                checkpoint: Some(last.n),
                message: format!(
                    "the file after {} (records from #{} on) is missing: deleted or renamed away",
                    newest.file.display(),
                    last.n + 1
                ),
            });
        }
        order.extend(files.iter().map(|c| c.file.clone()));
    }
    // Files in trail order (oldest first), others after.
    let position: HashMap<&PathBuf, usize> =
        order.iter().enumerate().map(|(i, p)| (p, i)).collect();
    report
        .files
        .sort_by_key(|f| position.get(&f.file).copied().unwrap_or(usize::MAX));
}

#[cfg(test)]
mod tests;
