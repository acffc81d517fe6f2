//! The dedup journal: per-node high-water marks and the event key each node id is bound to,
//! and an undo log that makes each group commit all-or-nothing across the destination files.
//!
//! A group commit goes:
//!
//! 1. `Begin`: the length of every file the group will append to, fsynced — only for files
//!    whose length the journal does not know yet (see below);
//! 2. the lines are appended to those files;
//! 3. `Commit` ([`Journal::stage_commit`]): the new high-water mark (and key binding) of every
//!    node in the group, and per file its length before and after the group and the CRC32 of
//!    the bytes it appended; then the files and the journal are fsynced at once (the journal
//!    on a second thread);
//! 4. only when both fsyncs succeeded are the requests acknowledged (and the next group
//!    written).
//!
//! A crash before the commit record is written leaves the files longer than the journal says:
//! [`Journal::open`] cuts each file back to the length of an open `Begin`, or else to its last
//! committed length, so no half-written group (no torn line, no event whose client was never
//! acknowledged) stays behind, and the retried batch is stored once. A crash during step 3 may
//! leave the record on disk without all of the files' bytes (or the reverse): the record is
//! then the journal's last one, and `open` keeps it only if every file holds, between the two
//! lengths, bytes with its CRC32; otherwise the group is undone like an unfinished one, marks
//! included. A record followed by any other was durable with its files (the next group starts
//! after both fsyncs). A kept group's marks make the client's retry a duplicate. A failed fsync
//! cuts the record off again ([`Journal::unstage`]) before the files are cut back.
//!
//! The committed lengths make step 1 unnecessary for a file the previous groups wrote (its
//! length now is the committed one), and step 3 syncs the commit beside the data: a quiet node
//! sending one event at a time waits for one round of fsyncs per group, not three in a row.
//! Compaction forgets the lengths (the next group of each file writes a `Begin` again), so they
//! take no more memory than the journal has bytes.
//!
//! ## Format
//!
//! `<state_dir>/journal` is a run of records: length of the body (u32 LE), CRC32 of the body
//! (u32 LE), body. A body is a kind byte and fields; strings are a u16 LE length and UTF-8:
//!
//! - `B` (begin): count (u32), then per file its path (string) and length before (u64);
//! - `C` (commit, older servers): count (u32), then per node its id (string) and high-water
//!   mark (u64); such nodes are bound to no key yet (the next key to send one binds it);
//! - `N` (commit): count (u32), then per node its id (string), high-water mark (u64) and the
//!   [`KeyId`] of the key it is bound to (16 bytes);
//! - `F` (commit of a group that wrote files, fsynced after them; an abort's record): as `N`,
//!   then a count (u32) and per file its path (string) and length after the group (u64);
//! - `G` (commit fsynced beside its files): as `N`, then a count (u32) and per file its path
//!   (string), lengths before and after the group (u64 each) and the CRC32 of the bytes
//!   between (u32).
//!
//! A torn last record (a crash mid-append) is ignored and cut off. The journal is rewritten as
//! one `N` record of all nodes (temp file, fsync, rename, directory fsync) once it is
//! [`COMPACT_FACTOR`] times the size of that record and at least [`COMPACT_MIN`]: the rewrites
//! cost time proportional to what was appended, however many nodes there are.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::auth::KeyId;
use crate::file_mode::FileMode;

/// The journal is never compacted below this size.
pub const COMPACT_MIN: u64 = 16 << 20;
/// The journal is compacted once it is this many times the size of its live state (one record
/// of every node), so a large node table is not rewritten after every few appends.
pub const COMPACT_FACTOR: u64 = 4;

const JOURNAL: &str = "journal";
const BEGIN: u8 = b'B';
const COMMIT_UNBOUND: u8 = b'C';
const COMMIT: u8 = b'N';
const COMMIT_FILES: u8 = b'F';
const COMMIT_GROUP: u8 = b'G';
/// No key yet: a node of an older journal.
const UNBOUND: KeyId = [0; 16];

/// What the journal knows of one node id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct NodeState {
    mark: u64,
    key: KeyId,
}

/// One node's entry in a commit: its new high-water mark and the key it is bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeCommit<'a> {
    /// The node id.
    pub node: &'a str,
    /// Its events up to this are stored.
    pub mark: u64,
    /// The key it is bound to from now on.
    pub key: KeyId,
}

/// One file of a group commit (see [`Journal::stage_commit`]): its length before and after the
/// group, and the CRC32 of the bytes the group appended, by which a restart tells whether they
/// reached the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupFile<'a> {
    /// The file.
    pub path: &'a Path,
    /// Its length before the group.
    pub before: u64,
    /// Its length after the group.
    pub after: u64,
    /// CRC32 of its bytes `before..after`.
    pub crc: u32,
}

/// A commit record written but not yet known durable (see [`Journal::stage_commit`]).
#[must_use = "a staged commit is confirmed or unstaged"]
pub struct Staged {
    /// The journal's length before the record.
    prev_len: u64,
    nodes: Vec<(String, u64, KeyId)>,
    files: Vec<(PathBuf, u64)>,
}

/// Why the journal could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
    nodes: HashMap<String, NodeState>,
    /// Length of each file as of its last commit (since the last compaction): a group on
    /// these files needs no `Begin`.
    committed: HashMap<PathBuf, u64>,
    /// How many nodes are bound to each key.
    per_key: HashMap<KeyId, usize>,
    /// What [`Journal::open`] repaired, one line each.
    recovered: Vec<String>,
    /// Size at which the next compaction is tried.
    compact_at: u64,
    /// Set when the file's state is unknown (a failed append could not be cut back, or a
    /// compaction replaced the file but could not reopen it): nothing more may be written; the
    /// next [`Journal::open`] settles what is durable.
    broken: Option<String>,
    /// Mode of the journal file (it is replaced at each compaction).
    mode: FileMode,
}

impl Journal {
    /// Opens (or creates) the journal in `dir`, undoing an unfinished group commit.
    pub fn open(dir: &Path, mode: FileMode) -> Result<Journal, JournalError> {
        mode.create_dir_all(dir).map_err(io_err(dir))?;
        let path = dir.join(JOURNAL);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_err(&path)(e)),
        };
        let mut nodes: HashMap<String, NodeState> = HashMap::new();
        let mut committed: HashMap<PathBuf, u64> = HashMap::new();
        let mut open_begin: Option<Vec<(PathBuf, u64)>> = None;
        let mut in_doubt: Option<(NodeEntries, Vec<GroupFileOwned>)> = None;
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
            let record = decode(body).ok_or_else(|| corrupt("undecodable body"))?;
            // A group commit with a record after it was durable with its files (the next
            // record is only written once both are synced).
            if let Some((m, files)) = in_doubt.take() {
                committed.extend(files.into_iter().map(|f| (f.path, f.after)));
                apply_nodes(&mut nodes, m);
            }
            match record {
                Record::Begin(files) => open_begin = Some(files),
                Record::Commit(m, files) => {
                    open_begin = None;
                    committed.extend(files);
                    apply_nodes(&mut nodes, m);
                }
                Record::Group(m, files) => {
                    open_begin = None;
                    in_doubt = Some((m, files));
                }
            }
            offset = next;
        }
        // The last record a group commit: its fsync ran beside its files' fsyncs, so it holds
        // only if every file holds the group's bytes; else the group never was acknowledged
        // and is undone (its files cut back to their length before it, its marks dropped).
        if let Some((m, files)) = in_doubt.take() {
            let mut whole = true;
            for f in &files {
                if !holds(f).map_err(io_err(&f.path))? {
                    whole = false;
                    break;
                }
            }
            if whole {
                committed.extend(files.into_iter().map(|f| (f.path, f.after)));
                apply_nodes(&mut nodes, m);
            } else {
                recovered.push(format!(
                    "{}: the last group commit's lines did not all reach the disk (a crash before \
                     its fsyncs ended; never acknowledged): undone",
                    path.display()
                ));
                committed.extend(files.into_iter().map(|f| (f.path, f.before)));
            }
        }
        // An open `Begin` knows the newest length of its files; the others were last seen at
        // their committed length.
        for (file, len) in open_begin.unwrap_or_default() {
            committed.insert(file, len);
        }
        let mut undone: Vec<_> = committed.into_iter().collect();
        undone.sort();
        for (file, len) in &undone {
            if undo(file, *len)? {
                recovered.push(format!(
                    "{}: cut back to {len} bytes (a group commit that was never acknowledged)",
                    file.display()
                ));
            }
        }
        let mut per_key = HashMap::new();
        for n in nodes.values().filter(|n| n.key != UNBOUND) {
            *per_key.entry(n.key).or_insert(0) += 1;
        }
        // Start from a clean, compact journal: one commit record of all nodes.
        let mut journal = Journal {
            file: rewrite(dir, &path, &nodes, mode)?,
            len: 0,
            dir: dir.to_owned(),
            path,
            nodes,
            committed: HashMap::new(),
            per_key,
            recovered,
            compact_at: COMPACT_MIN,
            broken: None,
            mode,
        };
        journal.len = journal
            .file
            .metadata()
            .map_err(io_err(&journal.path))?
            .len();
        journal.compact_at = next_compaction(journal.len);
        Ok(journal)
    }

    /// What [`Journal::open`] repaired.
    pub fn recovered(&self) -> &[String] {
        &self.recovered
    }

    /// The high-water mark of `node`: its events up to this sequence number are stored.
    pub fn mark(&self, node: &str) -> u64 {
        self.nodes.get(node).map_or(0, |n| n.mark)
    }

    /// The key `node` is bound to: `None` for a node id never seen, or seen only by an older
    /// server (then the next key to send it binds it).
    pub fn binding(&self, node: &str) -> Option<KeyId> {
        self.nodes
            .get(node)
            .map(|n| n.key)
            .filter(|k| *k != UNBOUND)
    }

    /// How many node ids are bound to `key`.
    pub fn nodes_of(&self, key: &KeyId) -> usize {
        self.per_key.get(key).copied().unwrap_or(0)
    }

    /// How many nodes have a mark.
    #[cfg(test)]
    pub fn nodes(&self) -> usize {
        self.nodes.len()
    }

    /// Why nothing more can be written, if so (see [`JournalError::Broken`]).
    pub fn broken(&self) -> Option<&str> {
        self.broken.as_deref()
    }

    /// Step 1: records (and fsyncs) the lengths of the files about to be appended to, those
    /// whose length is not the one last committed (none: nothing is written). Whether it wrote.
    pub fn begin(&mut self, files: &[(&Path, u64)]) -> Result<bool, JournalError> {
        let unknown: Vec<_> = files
            .iter()
            .filter(|(path, len)| self.committed.get(*path) != Some(len))
            .collect();
        if unknown.is_empty() {
            return Ok(false);
        }
        let mut body = vec![BEGIN];
        body.extend_from_slice(&(unknown.len() as u32).to_le_bytes());
        for (path, len) in unknown {
            put_str(&mut body, &path.to_string_lossy());
            body.extend_from_slice(&len.to_le_bytes());
        }
        self.append(&body, true).map(|()| true)
    }

    /// Step 3: records (and fsyncs) the new marks and bindings; the group is then durable.
    /// `Ok` means the commit record is on disk, even if a compaction afterwards failed: then
    /// [`Self::broken`] says whether the journal can still be written.
    pub fn commit(&mut self, marks: &[NodeCommit<'_>]) -> Result<(), JournalError> {
        self.commit_files(marks, &[])
    }

    /// [`Self::commit`] of a group that appended to `files`, each given with its length after
    /// the group: the next group on them needs no `Begin`.
    pub fn commit_files(
        &mut self,
        marks: &[NodeCommit<'_>],
        files: &[(&Path, u64)],
    ) -> Result<(), JournalError> {
        let kind = if files.is_empty() {
            COMMIT
        } else {
            COMMIT_FILES
        };
        let mut body = vec![kind];
        body.extend_from_slice(&(marks.len() as u32).to_le_bytes());
        for m in marks {
            put_node(&mut body, m.node, m.mark, &m.key);
        }
        if !files.is_empty() {
            body.extend_from_slice(&(files.len() as u32).to_le_bytes());
            for (path, len) in files {
                put_str(&mut body, &path.to_string_lossy());
                body.extend_from_slice(&len.to_le_bytes());
            }
        }
        self.append(&body, true)?;
        self.apply(
            marks.iter().map(|m| (m.node, m.mark, m.key)),
            files.iter().map(|(p, len)| (p.to_path_buf(), *len)),
        );
        Ok(())
    }

    /// Step 3 of a group that appended to `files`, written but not synced, so that its fsync
    /// ([`Self::sync`]) runs beside the files' own: the group is durable once both are, and is
    /// then [`confirmed`](Self::confirm); if either failed it must be
    /// [`unstaged`](Self::unstage). Nothing is written after it until then. A crash before
    /// both fsyncs ended leaves a last record that [`Journal::open`] keeps only if every file
    /// holds the group's bytes (their CRC32 is in the record): one fsync per group on the
    /// critical path instead of two, with the same guarantee.
    pub fn stage_commit(
        &mut self,
        marks: &[NodeCommit<'_>],
        files: &[GroupFile<'_>],
    ) -> Result<Staged, JournalError> {
        let mut body = vec![COMMIT_GROUP];
        body.extend_from_slice(&(marks.len() as u32).to_le_bytes());
        for m in marks {
            put_node(&mut body, m.node, m.mark, &m.key);
        }
        body.extend_from_slice(&(files.len() as u32).to_le_bytes());
        for f in files {
            put_str(&mut body, &f.path.to_string_lossy());
            body.extend_from_slice(&f.before.to_le_bytes());
            body.extend_from_slice(&f.after.to_le_bytes());
            body.extend_from_slice(&f.crc.to_le_bytes());
        }
        let prev_len = self.len;
        self.append(&body, false)?;
        Ok(Staged {
            prev_len,
            nodes: marks
                .iter()
                .map(|m| (m.node.to_owned(), m.mark, m.key))
                .collect(),
            files: files.iter().map(|f| (f.path.to_owned(), f.after)).collect(),
        })
    }

    /// fdatasync of the journal (a [`Self::stage_commit`]'s record); `&self`, so it can run on
    /// another thread while the files are synced.
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// A staged commit whose record and files are synced: its marks, bindings and lengths
    /// count from now on.
    pub fn confirm(&mut self, staged: Staged) {
        self.apply(
            staged.nodes.iter().map(|(n, m, k)| (n.as_str(), *m, *k)),
            staged.files.into_iter(),
        );
    }

    /// A staged commit whose group failed: its record is cut off the journal (and that is
    /// synced), so no restart takes its marks for stored events. If even that fails the
    /// journal is broken (the next start then checks the record against the files).
    pub fn unstage(&mut self, staged: Staged) -> Result<(), JournalError> {
        let cut = self
            .file
            .set_len(staged.prev_len)
            .and_then(|()| self.file.sync_data());
        match cut {
            Ok(()) => {
                self.len = staged.prev_len;
                Ok(())
            }
            Err(e) => {
                let reason = format!(
                    "{}: a failed group's commit record could not be cut off: {e}",
                    self.path.display()
                );
                self.broken = Some(reason.clone());
                Err(JournalError::Broken(reason))
            }
        }
    }

    /// Takes a commit's marks, bindings and file lengths into memory; compacts when due.
    fn apply<'m>(
        &mut self,
        marks: impl Iterator<Item = (&'m str, u64, KeyId)>,
        files: impl Iterator<Item = (PathBuf, u64)>,
    ) {
        self.committed.extend(files);
        for (node, mark, key) in marks {
            let e = self.nodes.entry(node.to_owned()).or_insert(NodeState {
                mark: 0,
                key: UNBOUND,
            });
            e.mark = e.mark.max(mark);
            if e.key != key && key != UNBOUND {
                if e.key != UNBOUND {
                    if let Some(n) = self.per_key.get_mut(&e.key) {
                        *n = n.saturating_sub(1);
                    }
                }
                *self.per_key.entry(key).or_insert(0) += 1;
                e.key = key;
            }
        }
        if self.len >= self.compact_at {
            self.compact();
        }
    }

    /// After a failed step 2: cuts the files back (like a recovery would) and closes the group
    /// with a commit of no node that records those lengths.
    pub fn abort(&mut self, files: &[(&Path, u64)]) -> Result<(), JournalError> {
        for (file, len) in files {
            undo(file, *len)?;
        }
        self.commit_files(&[], files)
    }

    /// Rewrites the journal as one commit record of all nodes. A failure before the new file
    /// replaces the old one only postpones compaction; after it, the open handle may point at
    /// the replaced file, so the journal is marked broken.
    fn compact(&mut self) {
        let (tmp, live) = match write_snapshot(&self.dir, &self.nodes, self.mode) {
            Ok(tmp) => tmp,
            Err(e) => {
                eprintln!("event-server: journal compaction postponed: {e}");
                self.compact_at = self.len + COMPACT_MIN;
                return;
            }
        };
        if let Err(e) = fs::rename(&tmp, &self.path) {
            eprintln!("event-server: journal compaction postponed: {e}");
            self.compact_at = self.len + COMPACT_MIN.max(live);
            return;
        }
        match finish_replace(&self.dir, &self.path) {
            Ok(file) => {
                // The snapshot has no lengths: each file's next group writes a `Begin`.
                self.committed.clear();
                self.file = file;
                self.len = self.file.metadata().map(|m| m.len()).unwrap_or(live);
                self.compact_at = next_compaction(self.len);
            }
            Err(e) => self.broken = Some(format!("journal compaction left the file unusable: {e}")),
        }
    }

    /// Appends one record, and fsyncs it if `sync`; on failure cuts the file back to its last
    /// whole record (or, if even that fails, marks the journal broken).
    fn append(&mut self, body: &[u8], sync: bool) -> Result<(), JournalError> {
        if let Some(reason) = &self.broken {
            return Err(JournalError::Broken(reason.clone()));
        }
        let mut rec = Vec::with_capacity(body.len() + 8);
        rec.extend_from_slice(&(body.len() as u32).to_le_bytes());
        rec.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
        rec.extend_from_slice(body);
        let written =
            self.file.write_all(&rec).and_then(
                |()| {
                    if sync {
                        self.file.sync_data()
                    } else {
                        Ok(())
                    }
                },
            );
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

/// Applies a commit's node entries read back from the journal.
fn apply_nodes(nodes: &mut HashMap<String, NodeState>, m: Vec<(String, u64, KeyId)>) {
    for (node, mark, key) in m {
        let e = nodes.entry(node).or_insert(NodeState {
            mark: 0,
            key: UNBOUND,
        });
        e.mark = e.mark.max(mark);
        if key != UNBOUND {
            e.key = key;
        }
    }
}

/// When to compact a journal whose live state (one record of every node) is `live` bytes.
fn next_compaction(live: u64) -> u64 {
    COMPACT_MIN.max(live.saturating_mul(COMPACT_FACTOR))
}

enum Record {
    Begin(Vec<(PathBuf, u64)>),
    /// Nodes (id, mark, key) and files (path, length after).
    Commit(Vec<(String, u64, KeyId)>, Vec<(PathBuf, u64)>),
    /// A commit fsynced together with its files: nodes, and per file (path, length before,
    /// length after, CRC32 of the bytes between).
    Group(NodeEntries, Vec<GroupFileOwned>),
}

/// A commit's node entries as read back: (id, mark, key).
type NodeEntries = Vec<(String, u64, KeyId)>;

/// A [`GroupFile`] as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
struct GroupFileOwned {
    path: PathBuf,
    before: u64,
    after: u64,
    crc: u32,
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
    let record = match kind {
        BEGIN => Record::Begin(files(&mut rest)?),
        COMMIT | COMMIT_FILES | COMMIT_UNBOUND | COMMIT_GROUP => {
            let count = u32::from_le_bytes(take(&mut rest, 4)?.try_into().ok()?) as usize;
            let mut nodes = Vec::with_capacity(count.min(4096));
            for _ in 0..count {
                let s = get_str(&mut rest)?;
                let n = u64::from_le_bytes(take(&mut rest, 8)?.try_into().ok()?);
                let key = match kind {
                    COMMIT_UNBOUND => UNBOUND,
                    _ => take(&mut rest, 16)?.try_into().ok()?,
                };
                nodes.push((s, n, key));
            }
            match kind {
                COMMIT_FILES => Record::Commit(nodes, files(&mut rest)?),
                COMMIT_GROUP => Record::Group(nodes, group_files(&mut rest)?),
                _ => Record::Commit(nodes, Vec::new()),
            }
        }
        _ => return None,
    };
    rest.is_empty().then_some(record)
}

/// A count (u32), then per file its path (string) and a length (u64).
fn files(rest: &mut &[u8]) -> Option<Vec<(PathBuf, u64)>> {
    let count = u32::from_le_bytes(take(rest, 4)?.try_into().ok()?) as usize;
    let mut files = Vec::with_capacity(count.min(4096));
    for _ in 0..count {
        let path = PathBuf::from(get_str(rest)?);
        files.push((path, u64::from_le_bytes(take(rest, 8)?.try_into().ok()?)));
    }
    Some(files)
}

/// A count (u32), then per file its path (string), lengths before and after (u64 each) and the
/// CRC32 of the bytes between (u32).
fn group_files(rest: &mut &[u8]) -> Option<Vec<GroupFileOwned>> {
    let count = u32::from_le_bytes(take(rest, 4)?.try_into().ok()?) as usize;
    let mut files = Vec::with_capacity(count.min(4096));
    for _ in 0..count {
        let path = PathBuf::from(get_str(rest)?);
        let before = u64::from_le_bytes(take(rest, 8)?.try_into().ok()?);
        let after = u64::from_le_bytes(take(rest, 8)?.try_into().ok()?);
        let crc = u32::from_le_bytes(take(rest, 4)?.try_into().ok()?);
        files.push(GroupFileOwned {
            path,
            before,
            after,
            crc,
        });
    }
    Some(files)
}

/// Whether `file` holds, between `before` and `after`, bytes with CRC32 `crc`; if so they are
/// fsynced (after a process crash they may still be only in the page cache).
fn holds(file: &GroupFileOwned) -> io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = match OpenOptions::new().read(true).write(true).open(&file.path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if f.metadata()?.len() < file.after || file.after < file.before {
        return Ok(false);
    }
    f.seek(SeekFrom::Start(file.before))?;
    let mut hasher = crc32fast::Hasher::new();
    let mut left = file.after - file.before;
    let mut buf = vec![0u8; 64 << 10];
    while left > 0 {
        let n = buf.len().min(left as usize);
        f.read_exact(&mut buf[..n])?;
        hasher.update(&buf[..n]);
        left -= n as u64;
    }
    if hasher.finalize() != file.crc {
        return Ok(false);
    }
    f.sync_data()?;
    Ok(true)
}

fn put_node(out: &mut Vec<u8>, node: &str, mark: u64, key: &KeyId) {
    put_str(out, node);
    out.extend_from_slice(&mark.to_le_bytes());
    out.extend_from_slice(key);
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

/// Replaces the journal with one commit record of `nodes`; returns it open for appending.
fn rewrite(
    dir: &Path,
    path: &Path,
    nodes: &HashMap<String, NodeState>,
    mode: FileMode,
) -> Result<File, JournalError> {
    let (tmp, _) = write_snapshot(dir, nodes, mode)?;
    fs::rename(&tmp, path).map_err(io_err(path))?;
    finish_replace(dir, path)
}

/// Writes and fsyncs `journal.tmp`: one commit record of all `nodes`; and its size.
fn write_snapshot(
    dir: &Path,
    nodes: &HashMap<String, NodeState>,
    mode: FileMode,
) -> Result<(PathBuf, u64), JournalError> {
    let mut body = vec![COMMIT];
    body.extend_from_slice(&(nodes.len() as u32).to_le_bytes());
    let mut sorted: Vec<_> = nodes.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    for (node, n) in sorted {
        put_node(&mut body, node, n.mark, &n.key);
    }
    let mut rec = Vec::with_capacity(body.len() + 8);
    rec.extend_from_slice(&(body.len() as u32).to_le_bytes());
    rec.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    rec.extend_from_slice(&body);
    let tmp = dir.join("journal.tmp");
    let mut f = mode.create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(&rec)
        .and_then(|()| f.sync_all())
        .map_err(io_err(&tmp))?;
    Ok((tmp, rec.len() as u64))
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
mod tests;
