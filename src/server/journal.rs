//! The dedup journal: per-node high-water marks, and an undo log that makes each group commit
//! all-or-nothing across the destination files.
//!
//! A group commit goes:
//!
//! 1. `Begin`: the length of every file the group will append to, fsynced;
//! 2. the lines are appended to those files, which are fsynced;
//! 3. `Commit`: the new high-water mark of every node in the group, fsynced;
//! 4. only then are the requests acknowledged.
//!
//! A crash before 3 is durable leaves a `Begin` without its `Commit`: [`Journal::open`] cuts
//! each file it names back to its recorded length, so no half-written group (no torn line, no
//! event whose client was never acknowledged) stays behind, and the retried batch is stored
//! once. A crash after 3 keeps the group, and the marks make the client's retry a duplicate.
//!
//! ## Format
//!
//! `<state_dir>/journal` is a run of records: length of the body (u32 LE), CRC32 of the body
//! (u32 LE), body. A body is a kind byte and fields; strings are a u16 LE length and UTF-8:
//!
//! - `B` (begin): count (u32), then per file its path (string) and length before (u64);
//! - `C` (commit): count (u32), then per node its id (string) and high-water mark (u64).
//!
//! A torn last record (a crash mid-append) is ignored and cut off. When the journal passes
//! [`COMPACT_AT`] bytes it is rewritten as one `C` record of all marks (temp file, fsync,
//! rename, directory fsync).

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The journal is rewritten (compacted) once it is this large.
pub const COMPACT_AT: u64 = 16 << 20;

const JOURNAL: &str = "journal";
const BEGIN: u8 = b'B';
const COMMIT: u8 = b'C';

/// Why the journal could not be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// An I/O error on a journal or destination file.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The journal cannot be written until the server restarts (see [`Journal::broken`]).
    #[error("journal unusable until restart: {0}")]
    Broken(String),
    /// A record that passed its checksum but cannot be read: a bug or deliberate damage.
    #[error("{}: bad record at offset {offset}: {reason}", .path.display())]
    Corrupt {
        /// The journal.
        path: PathBuf,
        /// Where.
        offset: u64,
        /// What.
        reason: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The open journal and the marks it holds.
pub struct Journal {
    dir: PathBuf,
    path: PathBuf,
    file: File,
    len: u64,
    marks: HashMap<String, u64>,
    /// What [`Journal::open`] repaired, one line each.
    recovered: Vec<String>,
    /// Size at which the next compaction is tried.
    compact_at: u64,
    /// Set when the file's state is unknown (a failed append could not be cut back, or a
    /// compaction replaced the file but could not reopen it): nothing more may be written; the
    /// next [`Journal::open`] settles what is durable.
    broken: Option<String>,
}

impl Journal {
    /// Opens (or creates) the journal in `dir`, undoing an unfinished group commit.
    pub fn open(dir: &Path) -> Result<Journal, JournalError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let path = dir.join(JOURNAL);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_err(&path)(e)),
        };
        let mut marks = HashMap::new();
        let mut open_begin: Option<Vec<(PathBuf, u64)>> = None;
        let mut recovered = Vec::new();
        let mut offset = 0usize;
        while offset < bytes.len() {
            let Some((body, next)) = frame(&bytes, offset) else {
                recovered.push(format!(
                    "{}: ignored a torn last record ({} bytes at offset {offset})",
                    path.display(),
                    bytes.len() - offset
                ));
                break;
            };
            let corrupt = |reason: &str| JournalError::Corrupt {
                path: path.clone(),
                offset: offset as u64,
                reason: reason.to_owned(),
            };
            match decode(body).ok_or_else(|| corrupt("undecodable body"))? {
                Record::Begin(files) => open_begin = Some(files),
                Record::Commit(m) => {
                    open_begin = None;
                    for (node, seq) in m {
                        let e = marks.entry(node).or_insert(0);
                        *e = (*e).max(seq);
                    }
                }
            }
            offset = next;
        }
        if let Some(files) = open_begin {
            for (file, len) in &files {
                if undo(file, *len)? {
                    recovered.push(format!(
                        "{}: cut back to {len} bytes (a group commit that was never acknowledged)",
                        file.display()
                    ));
                }
            }
        }
        // Start from a clean, compact journal: one commit record of all marks.
        let mut journal = Journal {
            file: rewrite(dir, &path, &marks)?,
            len: 0,
            dir: dir.to_owned(),
            path,
            marks,
            recovered,
            compact_at: COMPACT_AT,
            broken: None,
        };
        journal.len = journal
            .file
            .metadata()
            .map_err(io_err(&journal.path))?
            .len();
        Ok(journal)
    }

    /// What [`Journal::open`] repaired.
    pub fn recovered(&self) -> &[String] {
        &self.recovered
    }

    /// The high-water mark of `node`: its events up to this sequence number are stored.
    pub fn mark(&self, node: &str) -> u64 {
        self.marks.get(node).copied().unwrap_or(0)
    }

    /// How many nodes have a mark.
    pub fn nodes(&self) -> usize {
        self.marks.len()
    }

    /// Why nothing more can be written, if so (see [`JournalError::Broken`]).
    pub fn broken(&self) -> Option<&str> {
        self.broken.as_deref()
    }

    /// Step 1: records (and fsyncs) the lengths of the files about to be appended to.
    pub fn begin(&mut self, files: &[(&Path, u64)]) -> Result<(), JournalError> {
        let mut body = vec![BEGIN];
        body.extend_from_slice(&(files.len() as u32).to_le_bytes());
        for (path, len) in files {
            put_str(&mut body, &path.to_string_lossy());
            body.extend_from_slice(&len.to_le_bytes());
        }
        self.append(&body)
    }

    /// Step 3: records (and fsyncs) the new marks; the group is then durable. `Ok` means the
    /// commit record is on disk, even if a compaction afterwards failed: then [`Self::broken`]
    /// says whether the journal can still be written.
    pub fn commit(&mut self, marks: &[(&str, u64)]) -> Result<(), JournalError> {
        let mut body = vec![COMMIT];
        body.extend_from_slice(&(marks.len() as u32).to_le_bytes());
        for (node, seq) in marks {
            put_str(&mut body, node);
            body.extend_from_slice(&seq.to_le_bytes());
        }
        self.append(&body)?;
        for (node, seq) in marks {
            let e = self.marks.entry((*node).to_owned()).or_insert(0);
            *e = (*e).max(*seq);
        }
        if self.len >= self.compact_at {
            self.compact();
        }
        Ok(())
    }

    /// After a failed step 2: cuts the files back (like a recovery would) and closes the group
    /// with an empty commit.
    pub fn abort(&mut self, files: &[(&Path, u64)]) -> Result<(), JournalError> {
        for (file, len) in files {
            undo(file, *len)?;
        }
        self.commit(&[])
    }

    /// Rewrites the journal as one commit record of all marks. A failure before the new file
    /// replaces the old one only postpones compaction; after it, the open handle may point at
    /// the replaced file, so the journal is marked broken.
    fn compact(&mut self) {
        let tmp = match write_snapshot(&self.dir, &self.marks) {
            Ok(tmp) => tmp,
            Err(e) => {
                eprintln!("event-server: journal compaction postponed: {e}");
                self.compact_at = self.len + COMPACT_AT;
                return;
            }
        };
        if let Err(e) = fs::rename(&tmp, &self.path) {
            eprintln!("event-server: journal compaction postponed: {e}");
            self.compact_at = self.len + COMPACT_AT;
            return;
        }
        match finish_replace(&self.dir, &self.path) {
            Ok(file) => {
                self.file = file;
                self.len = self.file.metadata().map(|m| m.len()).unwrap_or(0);
                self.compact_at = COMPACT_AT.max(self.len + COMPACT_AT / 2);
            }
            Err(e) => self.broken = Some(format!("journal compaction left the file unusable: {e}")),
        }
    }

    /// Appends and fsyncs one record; on failure cuts the file back to its last whole record
    /// (or, if even that fails, marks the journal broken).
    fn append(&mut self, body: &[u8]) -> Result<(), JournalError> {
        if let Some(reason) = &self.broken {
            return Err(JournalError::Broken(reason.clone()));
        }
        let mut rec = Vec::with_capacity(body.len() + 8);
        rec.extend_from_slice(&(body.len() as u32).to_le_bytes());
        rec.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
        rec.extend_from_slice(body);
        let written = self
            .file
            .write_all(&rec)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            let cut = self
                .file
                .set_len(self.len)
                .and_then(|()| self.file.sync_data());
            if let Err(cut) = cut {
                self.broken = Some(format!(
                    "{}: a failed append ({e}) could not be cut back: {cut}",
                    self.path.display()
                ));
            }
            return Err(io_err(&self.path)(e));
        }
        self.len += rec.len() as u64;
        Ok(())
    }
}

enum Record {
    Begin(Vec<(PathBuf, u64)>),
    Commit(Vec<(String, u64)>),
}

/// The body of the record at `offset` and the offset after it; `None` if torn.
fn frame(bytes: &[u8], offset: usize) -> Option<(&[u8], usize)> {
    let head = bytes.get(offset..offset + 8)?;
    let len = u32::from_le_bytes(head[..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(head[4..].try_into().ok()?);
    let body = bytes.get(offset + 8..offset + 8 + len)?;
    (crc32fast::hash(body) == crc).then_some((body, offset + 8 + len))
}

fn decode(body: &[u8]) -> Option<Record> {
    let (&kind, mut rest) = body.split_first()?;
    let count = u32::from_le_bytes(take(&mut rest, 4)?.try_into().ok()?) as usize;
    let mut pairs = Vec::with_capacity(count.min(4096));
    for _ in 0..count {
        let s = get_str(&mut rest)?;
        let n = u64::from_le_bytes(take(&mut rest, 8)?.try_into().ok()?);
        pairs.push((s, n));
    }
    if !rest.is_empty() {
        return None;
    }
    match kind {
        BEGIN => Some(Record::Begin(
            pairs
                .into_iter()
                .map(|(p, n)| (PathBuf::from(p), n))
                .collect(),
        )),
        COMMIT => Some(Record::Commit(pairs)),
        _ => None,
    }
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if rest.len() < n {
        return None;
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Some(head)
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // Paths and node ids are far below 64 KiB; a longer one is cut, which `decode` rejects.
    let len = s.len().min(u16::MAX as usize);
    out.extend_from_slice(&(len as u16).to_le_bytes());
    out.extend_from_slice(&s.as_bytes()[..len]);
}

fn get_str(rest: &mut &[u8]) -> Option<String> {
    let len = u16::from_le_bytes(take(rest, 2)?.try_into().ok()?) as usize;
    String::from_utf8(take(rest, len)?.to_vec()).ok()
}

/// Cuts `file` back to `len` bytes if it is longer; whether it did.
fn undo(file: &Path, len: u64) -> Result<bool, JournalError> {
    let f = match OpenOptions::new().write(true).open(file) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io_err(file)(e)),
    };
    let now = f.metadata().map_err(io_err(file))?.len();
    if now <= len {
        return Ok(false);
    }
    f.set_len(len)
        .and_then(|()| f.sync_all())
        .map_err(io_err(file))?;
    Ok(true)
}

/// Replaces the journal with one commit record of `marks`; returns it open for appending.
fn rewrite(dir: &Path, path: &Path, marks: &HashMap<String, u64>) -> Result<File, JournalError> {
    let tmp = write_snapshot(dir, marks)?;
    fs::rename(&tmp, path).map_err(io_err(path))?;
    finish_replace(dir, path)
}

/// Writes and fsyncs `journal.tmp`: one commit record of all `marks`.
fn write_snapshot(dir: &Path, marks: &HashMap<String, u64>) -> Result<PathBuf, JournalError> {
    let mut body = vec![COMMIT];
    body.extend_from_slice(&(marks.len() as u32).to_le_bytes());
    let mut sorted: Vec<_> = marks.iter().collect();
    sorted.sort();
    for (node, seq) in sorted {
        put_str(&mut body, node);
        body.extend_from_slice(&seq.to_le_bytes());
    }
    let mut rec = Vec::with_capacity(body.len() + 8);
    rec.extend_from_slice(&(body.len() as u32).to_le_bytes());
    rec.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    rec.extend_from_slice(&body);
    let tmp = dir.join("journal.tmp");
    let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(&rec)
        .and_then(|()| f.sync_all())
        .map_err(io_err(&tmp))?;
    Ok(tmp)
}

/// After the rename: syncs the directory and opens the new journal for appending.
fn finish_replace(dir: &Path, path: &Path) -> Result<File, JournalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))?;
    OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_survive_reopen_and_an_open_begin_is_undone() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("events.log");
        fs::write(&data, "line1\n").unwrap();
        {
            let mut j = Journal::open(dir.path()).unwrap();
            assert_eq!(j.mark("web-1"), 0);
            j.begin(&[(&data, 6)]).unwrap();
            fs::write(&data, "line1\nline2\n").unwrap();
            j.commit(&[("web-1", 7), ("web-2", 3)]).unwrap();
            assert_eq!(j.mark("web-1"), 7);
            // A second group that crashes between its data and its commit.
            j.begin(&[(&data, 12)]).unwrap();
            fs::write(&data, "line1\nline2\nline3 torn").unwrap();
        }
        let j = Journal::open(dir.path()).unwrap();
        assert_eq!((j.mark("web-1"), j.mark("web-2"), j.nodes()), (7, 3, 2));
        assert_eq!(fs::read_to_string(&data).unwrap(), "line1\nline2\n");
        assert_eq!(j.recovered().len(), 1, "{:?}", j.recovered());
    }

    #[test]
    fn a_torn_record_is_ignored_and_abort_undoes() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("f");
        {
            let mut j = Journal::open(dir.path()).unwrap();
            j.commit(&[("n", 5)]).unwrap();
            fs::write(&data, "abc").unwrap();
            j.begin(&[(&data, 0)]).unwrap();
            j.abort(&[(&data, 0)]).unwrap();
            assert_eq!(fs::read(&data).unwrap(), b"");
            j.commit(&[("n", 9)]).unwrap();
        }
        let path = dir.path().join(JOURNAL);
        let mut bytes = fs::read(&path).unwrap();
        bytes.extend_from_slice(&[40, 0, 0, 0, 1, 2]);
        fs::write(&path, &bytes).unwrap();
        let j = Journal::open(dir.path()).unwrap();
        assert_eq!(j.mark("n"), 9);
        assert!(j.recovered()[0].contains("torn"), "{:?}", j.recovered());
    }

    #[test]
    fn compaction_keeps_marks_and_a_failed_one_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("f");
        fs::write(&data, "old\n").unwrap();
        {
            let mut j = Journal::open(dir.path()).unwrap();
            j.compact_at = 0;
            j.commit(&[("a", 1), ("b", 2)]).unwrap();
            assert!(j.len < 100, "compacted to one record");
            // A compaction that cannot write its temp file: the commit stands, nothing is cut.
            fs::create_dir(dir.path().join("journal.tmp")).unwrap();
            j.compact_at = 0;
            j.begin(&[(&data, 4)]).unwrap();
            fs::write(&data, "old\nnew\n").unwrap();
            j.commit(&[("a", 7)]).unwrap();
            assert!(j.broken().is_none());
            assert_eq!(j.mark("a"), 7);
            j.commit(&[("c", 1)]).unwrap();
        }
        fs::remove_dir(dir.path().join("journal.tmp")).unwrap();
        let j = Journal::open(dir.path()).unwrap();
        assert_eq!((j.mark("a"), j.mark("b"), j.mark("c")), (7, 2, 1));
        assert_eq!(fs::read_to_string(&data).unwrap(), "old\nnew\n");
    }
}
