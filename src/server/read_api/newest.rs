//! `GET /api/events`: the newest matching stored lines first, paged by a cursor, in bounded work.
//!
//! A destination's files form *streams*: one per folder above the time folders
//! (`<topic>/<routing key>/`, or the root itself without layout folders), each an append-only
//! sequence of partitions in time order. Each stream is read **backwards** from the end of its
//! newest partition ([`ReverseLines`]), so the newest lines cost the same whatever the size of
//! the destination; the streams are merged by `serverTimestamp`, newest first.
//!
//! ## The cursor
//! The cursor is, per stream already read, the partition and the byte offset its reading
//! stopped at (the start of the oldest line returned or passed over), base64url of a small JSON
//! object. A stream the cursor does not name is read from its end. So paging never repeats a
//! line and never skips one, even while the server appends (appended lines are newer than the
//! first page: they are not on later pages) and across new time folders.
//!
//! ## Bounds
//! A request returns at most `limit` lines (≤ [`MAX_LIMIT`]) and [`MAX_PAGE_BYTES`] of them,
//! and passes over at most [`SCAN_BUDGET`] bytes of lines that do not match; a page cut short by
//! the budget carries a cursor, so a rare match costs several requests, never one unbounded one.
//! A line can only be returned once every stream has either a candidate or nothing left, so a
//! page cut short is still in order.
//!
//! ## Time bounds
//! With `until`, a partition whose first line is at or after `until` is passed over without
//! reading it backwards; with `since`, a stream stops at the first partition whose newest line
//! is before `since` (partitions are in time order). This is the per-partition time bound
//! (first and last line of each file), not an index: it assumes the server's clock does not
//! step back across a partition.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use base64::Engine;

use crate::query::files::{discover, TrailFile};
use crate::query::filter::Filter;
use crate::query::reader::parse_line;
use crate::query::time::Millis;

use super::reverse_lines::ReverseLines;

/// The most lines one request returns.
pub const MAX_LIMIT: usize = 1000;
/// The most bytes of lines one page holds (a page of huge lines stops early, with a cursor).
pub const MAX_PAGE_BYTES: usize = 16 << 20;
/// The most bytes one request reads backwards (matching or not).
pub const SCAN_BUDGET: u64 = 256 << 20;
/// Bytes of lines one stream reads without a match before the others get a turn.
const STEP: u64 = 64 * 1024;

/// One destination to read.
#[derive(Clone, Debug)]
pub struct Source {
    /// The destination's name.
    pub name: String,
    /// Its root folder.
    pub root: PathBuf,
}

/// One stored line of the page.
#[derive(Debug)]
pub struct Found {
    /// The destination's index in the sources.
    pub source: usize,
    /// The file, relative to the destination's root.
    pub file: String,
    /// The absolute path.
    pub path: PathBuf,
    /// Where the line starts.
    pub offset: u64,
    /// The line, without its newline.
    pub line: String,
    /// The topic and routing key its folders say.
    pub topic: Option<String>,
    /// `Some(None)`: the `_none` folder; `None`: no routing-key folder.
    pub routing_key: Option<Option<String>>,
}

/// A page of lines, newest first.
#[derive(Debug, Default)]
pub struct Page {
    /// The lines.
    pub lines: Vec<Found>,
    /// The cursor of the next page, when older lines may remain.
    pub next: Option<String>,
    /// Bytes read.
    pub scanned: u64,
    /// Lines that did not parse (skipped).
    pub malformed: u64,
    /// Files not read: compressed partitions (read them with `log4rs-audit query`) and files
    /// that could not be opened.
    pub skipped: Vec<String>,
}

/// Where each stream stopped: stream id → (file relative to its root, offset).
type Positions = BTreeMap<String, (String, u64)>;

/// Why a cursor was refused.
#[derive(Debug, thiserror::Error)]
#[error("cursor: not a cursor this server gave (pass the X-Next-Cursor of the previous page)")]
pub struct InvalidCursor;

/// Decodes a cursor.
pub fn decode_cursor(text: &str) -> Result<Positions, InvalidCursor> {
    if text.len() > 256 * 1024 {
        return Err(InvalidCursor);
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| InvalidCursor)?;
    let map: BTreeMap<String, (String, u64)> =
        serde_json::from_slice(&bytes).map_err(|_| InvalidCursor)?;
    Ok(map)
}

fn encode_cursor(positions: &Positions) -> String {
    let json = serde_json::to_vec(positions).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

/// A stream: the partitions of one folder, oldest first.
struct Stream {
    id: String,
    source: usize,
    root: PathBuf,
    files: Vec<TrailFile>,
}

/// Groups the files of each source into streams.
fn streams(sources: &[Source]) -> io::Result<Vec<Stream>> {
    let mut out: Vec<Stream> = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        if !source.root.exists() {
            continue; // nothing stored yet
        }
        let files = discover(std::slice::from_ref(&source.root))
            .map_err(|e| io::Error::other(e.to_string()))?;
        let mut by_folder: BTreeMap<String, Vec<TrailFile>> = BTreeMap::new();
        for file in files {
            let rel = relative(&source.root, &file.path);
            by_folder
                .entry(format!("{}:{}", source.name, stream_folder(&rel)))
                .or_default()
                .push(file);
        }
        out.extend(by_folder.into_iter().map(|(id, files)| Stream {
            id,
            source: i,
            root: source.root.clone(),
            files,
        }));
    }
    Ok(out)
}

/// Whether a stream's folders allow `filter`'s topics (a folder named after another topic
/// holds none of its events: passed over unread).
fn may_match_topic(stream: &Stream, filter: &Filter) -> bool {
    if filter.topics.is_empty() {
        return true;
    }
    stream.files.iter().any(|f| match &f.location.topic {
        Some(t) => filter.topics.iter().any(|want| want == t),
        None => !f.location.topic_unknown,
    })
}

/// `generic/_none/2026/12/06/21/events.log` → `generic/_none`: the folder above the time folders.
fn stream_folder(rel: &str) -> &str {
    let mut parts: Vec<&str> = rel.split('/').collect();
    parts.pop(); // the file
    while parts
        .last()
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        parts.pop();
    }
    let len: usize = parts.iter().map(|p| p.len() + 1).sum::<usize>();
    &rel[..len.saturating_sub(1)]
}

fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Reads the newest lines `filter` keeps, before `cursor` (see the module docs).
pub fn newest(
    sources: &[Source],
    filter: &Filter,
    limit: usize,
    cursor: Option<&Positions>,
) -> io::Result<Page> {
    let limit = limit.clamp(1, MAX_LIMIT);
    let mut page = Page::default();
    let mut readers: Vec<StreamReader> = streams(sources)?
        .into_iter()
        .filter(|s| may_match_topic(s, filter))
        .map(|s| {
            let at = cursor.and_then(|c| c.get(&s.id)).cloned();
            StreamReader::new(s, at)
        })
        .collect();
    let mut budget = SCAN_BUDGET;
    let mut bytes = 0usize;
    while page.lines.len() < limit && bytes < MAX_PAGE_BYTES {
        // The newest waiting match is returned once no other stream can hold a newer line: each
        // has a match of its own, has nothing left, or has read back to lines at or before it.
        let candidate = readers
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Some((r.head_time()?, Reverse(i))))
            .max();
        let floor = candidate.map(|(t, _)| t);
        // Of those that could, read on in the one whose last line is newest, a step at a time,
        // so a folder without matches is read back only as far as the others' matches.
        let blocking = readers
            .iter()
            .enumerate()
            .filter(|(_, r)| r.may_be_newer_than(floor))
            .max_by_key(|(i, r)| (r.frontier, Reverse(*i)))
            .map(|(i, _)| i);
        if let Some(i) = blocking {
            match readers[i].advance(filter, &mut budget, &mut page, floor)? {
                Advance::OutOfBudget => break,
                Advance::Head | Advance::Below | Advance::Paused | Advance::Done => continue,
            }
        }
        let Some((_, Reverse(i))) = candidate else {
            break; // every stream is read to its start
        };
        let found = readers[i].take_head();
        bytes += found.line.len();
        page.lines.push(found);
    }
    page.scanned = SCAN_BUDGET - budget;
    let more = readers.iter().any(|r| !r.done());
    if more {
        let mut positions = cursor.cloned().unwrap_or_default();
        for r in &readers {
            if let Some(at) = r.position() {
                positions.insert(r.stream.id.clone(), at);
            }
        }
        page.next = Some(encode_cursor(&positions));
    }
    Ok(page)
}

enum Advance {
    /// A matching line is waiting.
    Head,
    /// A line at or before the floor was read: nothing newer than the floor is left.
    Below,
    /// The stream has nothing more.
    Done,
    /// [`STEP`] bytes were read without a match: another stream may go first.
    Paused,
    /// The scan budget ran out before a match.
    OutOfBudget,
}

/// Reads one stream backwards, one matching line ahead.
struct StreamReader {
    stream: Stream,
    /// The partition being read (index into `files`), and its reader; `None` before the first.
    file: Option<(usize, ReverseLines)>,
    /// Where to start: (file, offset) from the cursor.
    start: Option<(String, u64)>,
    /// The next partition to open (files[..next] remain), once `file` is used up.
    next: usize,
    head: Option<(Millis, Found)>,
    /// The time of the last line read (`Millis::MAX` before the first): older lines are at or
    /// before it. Also the time of a line without one.
    frontier: Millis,
    finished: bool,
}

impl StreamReader {
    fn new(stream: Stream, start: Option<(String, u64)>) -> StreamReader {
        let next = stream.files.len();
        StreamReader {
            stream,
            file: None,
            start,
            next,
            head: None,
            frontier: Millis::MAX,
            finished: false,
        }
    }

    fn done(&self) -> bool {
        self.finished && self.head.is_none()
    }

    fn head_time(&self) -> Option<Millis> {
        self.head.as_ref().map(|(t, _)| *t)
    }

    /// Whether reading on could find a match newer than `floor` (any match, without one).
    fn may_be_newer_than(&self, floor: Option<Millis>) -> bool {
        self.head.is_none() && !self.finished && floor.map_or(true, |f| self.frontier > f)
    }

    fn take_head(&mut self) -> Found {
        let (_, found) = self.head.take().expect("a head was pushed");
        found
    }

    /// Where the next page starts for this stream: before the waiting head if any, else where
    /// reading stopped.
    fn position(&self) -> Option<(String, u64)> {
        if let Some((_, found)) = &self.head {
            return Some((
                found.file.clone(),
                found.offset + found.line.len() as u64 + 1,
            ));
        }
        if self.finished {
            // Everything read: an empty range at the start of the oldest file.
            let first = self.stream.files.first()?;
            return Some((relative(&self.stream.root, &first.path), 0));
        }
        match &self.file {
            Some((i, lines)) => Some((
                relative(&self.stream.root, &self.stream.files[*i].path),
                lines.end,
            )),
            None => self.start.clone(),
        }
    }

    /// Opens the partition to read next, honouring the cursor and the time bounds.
    fn open_next(&mut self, filter: &Filter, page: &mut Page) -> io::Result<bool> {
        if let Some((rel, offset)) = self.start.take() {
            // The cursor's file: every older one follows. A file the cursor names that is gone
            // (removed since): the files sorting before it.
            let files = &self.stream.files;
            let root = &self.stream.root;
            let at = files.iter().position(|f| relative(root, &f.path) == rel);
            match at {
                Some(i) => {
                    self.next = i;
                    return self.open(i, Some(offset), filter, page);
                }
                None => {
                    self.next = files
                        .iter()
                        .position(|f| relative(root, &f.path) > rel)
                        .unwrap_or(files.len());
                }
            }
        }
        while self.next > 0 {
            let i = self.next - 1;
            if self.open(i, None, filter, page)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Opens file `i` (bounded by `offset`); false when passed over (the `next` index moves on).
    fn open(
        &mut self,
        i: usize,
        offset: Option<u64>,
        filter: &Filter,
        page: &mut Page,
    ) -> io::Result<bool> {
        self.next = i;
        let file = &self.stream.files[i];
        let rel = relative(&self.stream.root, &file.path);
        if file.gzip {
            page.skipped
                .push(format!("{}:{rel}", self.stream.id_source()));
            return Ok(false);
        }
        let opened = match open_regular(&file.path) {
            Ok(Some(f)) => f,
            _ => {
                page.skipped
                    .push(format!("{}:{rel}", self.stream.id_source()));
                return Ok(false);
            }
        };
        if let Some(until) = filter.until {
            // Partitions are in time order: one that starts at or after `until` holds nothing
            // before it.
            if first_time(&file.path, &file.location)?.is_some_and(|t| t >= until) {
                return Ok(false);
            }
        }
        let len = opened.metadata()?.len();
        let end = offset.map_or(len, |o| o.min(len));
        self.file = Some((i, ReverseLines::new(opened, end)?));
        Ok(true)
    }

    /// Reads back to the next match, or (with a `floor`) to a line at or before it.
    fn advance(
        &mut self,
        filter: &Filter,
        budget: &mut u64,
        page: &mut Page,
        floor: Option<Millis>,
    ) -> io::Result<Advance> {
        let mut step = 0u64;
        loop {
            if step >= STEP {
                return Ok(Advance::Paused);
            }
            if self.finished {
                return Ok(Advance::Done);
            }
            if self.file.is_none() && !self.open_next(filter, page)? {
                self.finished = true;
                return Ok(Advance::Done);
            }
            if *budget == 0 {
                return Ok(Advance::OutOfBudget);
            }
            let Some((i, lines)) = &mut self.file else {
                continue;
            };
            let i = *i;
            let Some(line) = lines.previous()? else {
                // This partition is read. With `since`, an older one holds nothing after it
                // once this one's lines were all before it.
                self.file = None;
                if filter.since.is_some_and(|s| self.frontier < s) {
                    self.finished = true;
                }
                continue;
            };
            *budget = budget.saturating_sub(line.len as u64 + 1);
            step += line.len as u64 + 1;
            let Some(text) = line.text() else {
                page.malformed += 1;
                continue;
            };
            let file = &self.stream.files[i];
            let Ok(record) = parse_line(text, &file.location) else {
                page.malformed += 1;
                continue;
            };
            let time = record.time().unwrap_or(self.frontier);
            self.frontier = time;
            let fields = record.fields();
            if !filter.matches(&record, &fields) {
                if floor.is_some_and(|f| time <= f) {
                    return Ok(Advance::Below);
                }
                continue;
            }
            let location = &file.location;
            let found = Found {
                source: self.stream.source,
                file: relative(&self.stream.root, &file.path),
                path: file.path.clone(),
                offset: line.offset,
                line: text.to_owned(),
                topic: location.topic.clone(),
                routing_key: match &location.routing_key {
                    crate::query::files::FolderKey::NoFolder => None,
                    crate::query::files::FolderKey::NoKey => Some(None),
                    crate::query::files::FolderKey::Key(k) => Some(Some(k.clone())),
                },
            };
            self.head = Some((time, found));
            return Ok(Advance::Head);
        }
    }
}

impl Stream {
    fn id_source(&self) -> &str {
        self.id.split(':').next().unwrap_or_default()
    }
}

/// The time of a file's first line, if it has one that parses.
fn first_time(path: &Path, location: &crate::query::files::Location) -> io::Result<Option<Millis>> {
    let Some(file) = open_regular(path)? else {
        return Ok(None);
    };
    let mut reader = crate::query::lines::LineReader::with_capacity(file, 16 * 1024);
    let Some(raw) = reader.next_line()? else {
        return Ok(None);
    };
    let Ok(text) = std::str::from_utf8(raw.bytes) else {
        return Ok(None);
    };
    Ok(parse_line(text, location).ok().and_then(|r| r.time()))
}

fn open_regular(path: &Path) -> io::Result<Option<File>> {
    if !std::fs::metadata(path)?.is_file() {
        return Ok(None);
    }
    let file = File::open(path)?;
    Ok(file.metadata()?.is_file().then_some(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(time: &str, user: &str) -> String {
        format!(
            r#"{{"clientEvent":{{"msgType":"login","authUser":"{user}"}},"origAddress":"10.0.0.1","serverTimestamp":"2026-12-06T{time}+0000"}}"#
        )
    }

    fn folder(root: &Path, rel: &str, lines: impl IntoIterator<Item = String>) -> u64 {
        let dir = root.join(rel);
        std::fs::create_dir_all(&dir).unwrap();
        let text: String = lines.into_iter().map(|l| l + "\n").collect();
        std::fs::write(dir.join("events.log"), &text).unwrap();
        text.len() as u64
    }

    /// A folder without any match must not be read to its start before the matches of the
    /// others are returned (found by the read bench: a user filter read every other folder
    /// to the scan budget and returned nothing).
    #[test]
    fn folders_without_matches_are_read_only_back_to_the_matches() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let quiet = folder(
            root,
            "generic/a/2026/12/06/10",
            (0..20_000).map(|i| {
                stored(
                    &format!("10:{:02}:{:02}.000", i / 600 % 60, i / 10 % 60),
                    "other",
                )
            }),
        );
        folder(
            root,
            "generic/b/2026/12/06/10",
            (0..60).map(|i| {
                stored(
                    &format!("10:59:{i:02}.000"),
                    if i % 2 == 0 { "bob" } else { "eve" },
                )
            }),
        );
        let sources = [Source {
            name: "disk".into(),
            root: root.to_owned(),
        }];
        let filter = Filter {
            users: vec!["bob".into()],
            ..Filter::default()
        };
        let page = newest(&sources, &filter, 5, None).unwrap();
        let times: Vec<&str> = page
            .lines
            .iter()
            .map(|l| &l.line[l.line.len() - 19..l.line.len() - 11])
            .collect();
        assert_eq!(
            times,
            ["10:59:58", "10:59:56", "10:59:54", "10:59:52", "10:59:50"]
        );
        assert!(
            page.scanned < quiet / 10,
            "read {} of {quiet} bytes",
            page.scanned
        );
        // All of bob's lines over the pages, each once, newest first.
        let mut all = page.lines.len();
        let mut next = page.next;
        while let Some(c) = next {
            let p = newest(&sources, &filter, 7, Some(&decode_cursor(&c).unwrap())).unwrap();
            all += p.lines.len();
            next = p.next;
        }
        assert_eq!(all, 30);
        // A topic no folder has: nothing read at all.
        let filter = Filter {
            topics: vec!["authfail".into()],
            ..Filter::default()
        };
        let page = newest(&sources, &filter, 5, None).unwrap();
        assert_eq!(
            (page.lines.len(), page.scanned, page.next.is_none()),
            (0, 0, true)
        );
    }

    #[test]
    fn stream_folders() {
        assert_eq!(
            stream_folder("generic/_none/2026/12/06/21/events.log"),
            "generic/_none"
        );
        assert_eq!(stream_folder("2026/12/events.log"), "");
        assert_eq!(stream_folder("k1/2026/12/06/events.log"), "k1");
    }
}
