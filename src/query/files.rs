//! Finding the files of a trail and putting each rolled set in time order.
//!
//! ## Which files are read
//!
//! A path given on the command line that is a file is read whatever its name. A folder is walked
//! recursively (entries in name order; hidden entries such as the Event Server's
//! `.event-server` state folder and symbolic links to folders are skipped) and only files whose
//! names look like log files are read:
//!
//! - `events.log` (the Event Server's partition files) and any `<name>.log`;
//! - `<name>.log<suffix>` where the suffix is made of digits, English month and weekday names,
//!   `AM` / `PM`, separated by `.`, `-` or `_` (what the `audit_file` target's size and time rolls
//!   produce: `audit.log.3`, `audit.log.2026-11-24`, `audit.log.2026-11-24-PM.2`,
//!   `audit.log_20261124.log`), optionally followed by `.log` (custom suffixes such as
//!   `_%Y%m%d.log`);
//! - any of those with `.gz` appended (rolled files compressed by the target).
//!
//! Everything else is skipped: integrity sidecars (`audit.log.sig`, `audit.log.1.digest`, …),
//! temporary `.gz.tmp` files, spool segments, configs. When both `X` and `X.gz` exist (a crash
//! between the compression's rename and the removal of the original), only `X` is read.
//!
//! ## Order
//!
//! Files belong to a *set*: the files rolled from one live file (same folder, same name up to
//! and including `.log`), or the partition files of one Event Server topic / routing-key folder.
//! Within a set, files are read oldest first:
//!
//! 1. dated files (`audit.log.2026-11-23` before `audit.log.2026-11-24`; the numbers of the
//!    suffix compared in order, so a collision name `audit.log.2026-11-24-1` follows
//!    `audit.log.2026-11-24`), each after its own size backups (`audit.log.2026-11-24.2`,
//!    `audit.log.2026-11-24.1`, `audit.log.2026-11-24`);
//! 2. size backups, highest number first (log4j: `audit.log.2` is older than `audit.log.1`);
//! 3. the live file.
//!
//! Event Server partitions (`<topic>/<routing key>/YYYY/mm/dd/HH/events.log`) are ordered by
//! their date folders. A bare `.<number>` suffix of six digits or more (`audit.log.20261124`)
//! is read as a compact date, shorter ones as size backups. Sets come in the order they are
//! first met: command-line order, then walk order.
//!
//! ## Event Server folders
//!
//! For an `events.log` under date folders (`YYYY/mm[/dd[/HH]]`), the one or two folders above
//! the date folders may name the topic and the routing key (`folder_by_topic`,
//! `folder_by_routing_key`). The server records the layouts a destination used in the
//! `.audit-layout` file at its root ([`LAYOUT_FILE`](crate::protocol::layout::LAYOUT_FILE)); when that file is found in the folder
//! above the date folders or one or two levels higher, it decides:
//!
//! - found two levels up, with `folders=topic,routing-key`: `<topic>/<key or _none>`;
//! - found one level up: the folder is the topic with `folders=topic` only, the routing key
//!   with `folders=routing-key` only; with both recorded (the layout was changed), neither is
//!   known;
//! - found just above the date folders: no layout folders.
//!
//! Without that file (a tree copied without hidden files, or written before it existed), the
//! folders are read as:
//!
//! 1. `<topic>/<key or _none>` when the upper one is a known topic name and the lower one a
//!    valid routing key or `_none`;
//! 2. `_none`: a routing-key folder of events without a key;
//! 3. a lone folder named like a topic: the topic is *unknown* (it could as well be a
//!    routing-key folder; the stored lines do not say their topic), so `--topic` does not
//!    match those events and `query` says why;
//! 4. otherwise a folder *below* the walked path is a routing-key folder, and a folder at or
//!    above it is not a layout folder at all (the destination's root).
//!
//! See [`Location`]; records fall back to their event's own `routingKey` when no routing-key
//! folder was found.

use crate::calendar_names as names;
use std::cmp::Reverse;
use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::protocol::layout::RecordedLayouts;
use crate::protocol::wire::RoutingKey;
use crate::Topic;

/// The name of the Event Server's partition files.
pub const EVENTS_FILE: &str = "events.log";

/// Why the files of a trail could not be listed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FilesError {
    /// A path given on the command line (or found while walking) cannot be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path at fault.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
}

/// What the Event Server's folders say about the events of a file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Location {
    /// The topic folder's name, when the file is under one.
    pub topic: Option<String>,
    /// The routing-key folder.
    pub routing_key: FolderKey,
    /// Whether the file is an Event Server partition whose folders do not say the topic (its
    /// lines never do): no `--topic` can match its events.
    pub topic_unknown: bool,
}

/// A routing-key folder, if any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum FolderKey {
    /// No routing-key folder: the event's own `routingKey` applies.
    #[default]
    NoFolder,
    /// The `_none` folder: events without a routing key.
    NoKey,
    /// A folder named after the key.
    Key(String),
}

/// One file of the trail, in reading order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrailFile {
    /// Where it is.
    pub path: PathBuf,
    /// Whether it is gzip-compressed (by its `.gz` name).
    pub gzip: bool,
    /// Its size on disk (compressed size for `.gz`), for progress.
    pub size: u64,
    /// Topic and routing key from Event Server folders.
    pub location: Location,
}

/// Lists the files of the trail under `paths`, each set in time order (see the module docs).
///
/// ```
/// use log4rs_audit::query::files::discover;
///
/// let dir = tempfile::tempdir()?;
/// for name in ["audit.log", "audit.log.1", "audit.log.2.gz", "audit.log.sig", "notes.txt"] {
///     std::fs::write(dir.path().join(name), "")?;
/// }
/// let files = discover(&[dir.path().to_path_buf()])?;
/// let names: Vec<_> = files.iter().map(|f| f.path.file_name().unwrap().to_owned()).collect();
/// assert_eq!(names, ["audit.log.2.gz", "audit.log.1", "audit.log"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn discover(paths: &[PathBuf]) -> Result<Vec<TrailFile>, FilesError> {
    let mut found: Vec<Found> = Vec::new();
    let mut layouts = Layouts::default();
    for root in paths {
        let meta = fs::metadata(root).map_err(|source| FilesError::Io {
            path: root.clone(),
            source,
        })?;
        if meta.is_dir() {
            walk(root, root, &mut found, &mut layouts)?;
        } else {
            found.push(place(root, None, meta.len(), &mut layouts));
        }
    }
    Ok(order(found))
}

/// A file found, with its set and its age within the set.
struct Found {
    file: TrailFile,
    set: (PathBuf, String),
    age: Age,
}

/// Age within a set: derives `Ord` oldest first.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Age {
    /// A dated file: its date numbers, then its size backups (oldest first) before itself.
    Dated {
        date: Vec<u64>,
        backup: (bool, Reverse<u64>),
    },
    /// A size backup `.N`: higher is older.
    Backup(Reverse<u64>),
    /// The live file.
    Live,
}

/// The [`LAYOUT_FILE`]s looked up so far, by folder (each folder is looked at once).
#[derive(Default)]
struct Layouts(HashMap<PathBuf, Option<RecordedLayouts>>);

impl Layouts {
    fn at(&mut self, dir: &Path) -> Option<RecordedLayouts> {
        *self
            .0
            .entry(dir.to_path_buf())
            .or_insert_with(|| RecordedLayouts::read(dir))
    }
}

fn walk(
    root: &Path,
    dir: &Path,
    found: &mut Vec<Found>,
    layouts: &mut Layouts,
) -> Result<(), FilesError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FilesError::Io { path, source }
    };
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        entries.push(entry.path());
    }
    entries.sort();
    for path in entries {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let meta = fs::symlink_metadata(&path).map_err(io_err(&path))?;
        if meta.is_dir() {
            walk(root, &path, found, layouts)?;
        } else if split_name(name).is_some() {
            // Follows a symbolic link to a file. FIFOs and devices with a log file's name are
            // listed too: the reader reports them without opening them.
            let len = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            found.push(place(&path, Some(root), len, layouts));
        }
    }
    Ok(())
}

/// The parts of a log file's name: `(base, suffix, gzip)`, with `base` ending in `.log` and the
/// suffix stripped of `.gz` and of a trailing `.log`. `None` when the name is not a log file's.
///
/// ```
/// use log4rs_audit::query::files::split_name;
///
/// assert_eq!(split_name("audit.log.2026-11-24.1.gz"), Some(("audit.log", ".2026-11-24.1", true)));
/// assert_eq!(split_name("events.log"), Some(("events.log", "", false)));
/// assert_eq!(split_name("audit.log.sig"), None);
/// ```
pub fn split_name(name: &str) -> Option<(&str, &str, bool)> {
    let mut from = 0;
    let at = loop {
        let i = from + name[from..].find(".log")?;
        let after = &name[i + 4..];
        if i > 0 && (after.is_empty() || after.starts_with(['.', '_', '-'])) {
            break i;
        }
        from = i + 1;
    };
    let (base, rest) = name.split_at(at + 4);
    let (rest, gzip) = match rest.strip_suffix(".gz") {
        Some(r) => (r, true),
        None => (rest, false),
    };
    let rest = rest.strip_suffix(".log").unwrap_or(rest);
    if rest.is_empty() {
        return Some((base, rest, gzip));
    }
    let mut tokens = rest.split(['.', '-', '_']);
    // The suffix starts with a separator, so the first token is empty.
    tokens.next();
    let ok = tokens.all(|t| !t.is_empty() && date_value(t).is_some());
    ok.then_some((base, rest, gzip))
}

/// A suffix token's value: a number, a month (1–12), a weekday (0 = Sunday) or AM (0) / PM (1).
fn date_value(token: &str) -> Option<u64> {
    if token.bytes().all(|b| b.is_ascii_digit()) {
        // More than 19 digits: still a number, compared as the largest.
        return Some(token.parse().unwrap_or(u64::MAX));
    }
    // AM/PM, and short or long English names, in any case (`nov`, `November`, `TUESDAY`).
    let index = |words: &[&str]| words.iter().position(|w| token.eq_ignore_ascii_case(w));
    let named = |long: &[&str], short: &[&str]| index(long).or_else(|| index(short));
    if let Some(i) = index(&names::AM_PM) {
        return Some(i as u64);
    }
    if let Some(i) = named(&names::MONTHS, &names::MONTHS_SHORT) {
        return Some(i as u64 + 1);
    }
    named(&names::WEEKDAYS, &names::WEEKDAYS_SHORT).map(|i| i as u64)
}

/// The age of a file within its set, from its suffix (see [`split_name`]).
fn age_of(suffix: &str) -> Age {
    if suffix.is_empty() {
        return Age::Live;
    }
    let tokens: Vec<u64> = suffix
        .split(['.', '-', '_'])
        .skip(1)
        .map(|t| date_value(t).unwrap_or(0))
        .collect();
    let last_dot = suffix.rfind('.').unwrap_or(0);
    let last_is_number = suffix[last_dot + 1..].bytes().all(|b| b.is_ascii_digit());
    let last_after_dot = !suffix[last_dot + 1..].contains(['-', '_']);
    match tokens.as_slice() {
        [n] if suffix.len() - 1 < 6 && last_is_number => Age::Backup(Reverse(*n)),
        [date @ .., n] if !date.is_empty() && last_is_number && last_after_dot && last_dot > 0 => {
            Age::Dated {
                date: date.to_vec(),
                backup: (false, Reverse(*n)),
            }
        }
        _ => Age::Dated {
            date: tokens,
            backup: (true, Reverse(0)),
        },
    }
}

/// Places one file: its set, age and Event Server location. `root` is the walked folder
/// (`None` for a file named on the command line).
fn place(path: &Path, root: Option<&Path>, size: u64, layouts: &mut Layouts) -> Found {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let (base, suffix, gzip) = split_name(&name).unwrap_or((&name, "", name.ends_with(".gz")));
    let mut found = Found {
        file: TrailFile {
            path: path.to_path_buf(),
            gzip,
            size,
            location: Location::default(),
        },
        set: (dir.clone(), base.to_owned()),
        age: age_of(suffix),
    };
    if base == EVENTS_FILE && suffix.is_empty() {
        if let Some((stream, date, location)) = server_layout(&dir, root, layouts) {
            found.set = (stream, base.to_owned());
            found.age = Age::Dated {
                date,
                backup: (true, Reverse(0)),
            };
            found.file.location = location;
        }
    }
    found
}

/// For a folder holding an `events.log`: the folder above its date folders, the date numbers
/// and the topic / routing-key folders (see the module docs). `None` without date folders.
fn server_layout(
    dir: &Path,
    root: Option<&Path>,
    layouts: &mut Layouts,
) -> Option<(PathBuf, Vec<u64>, Location)> {
    let names: Vec<&str> = dir
        .components()
        .map(|c| c.as_os_str().to_str().unwrap_or(""))
        .collect();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let year_at = (0..names.len()).rev().take(4).find(|&i| {
        let tail = &names[i + 1..];
        digits(names[i], 4) && !tail.is_empty() && tail.iter().all(|s| digits(s, 2))
    })?;
    let date = names[year_at..]
        .iter()
        .map(|s| s.parse().unwrap_or(0))
        .collect();
    let stream: PathBuf = dir.components().take(year_at).collect();
    let (c1, c2) = match year_at {
        0 => (None, None),
        1 => (Some(year_at - 1), None),
        _ => (Some(year_at - 1), Some(year_at - 2)),
    };
    let is_topic = |i: usize| names[i].parse::<Topic>().is_ok();
    let key_of = |s: &str| {
        if s == crate::protocol::layout::NO_ROUTING_KEY_DIR {
            Some(FolderKey::NoKey)
        } else {
            RoutingKey::is_valid(s).then(|| FolderKey::Key(s.to_owned()))
        }
    };
    let mut location = Location::default();
    // The destination's own record of its layouts, at most two levels above the date folders.
    let recorded = stream
        .ancestors()
        .take(3)
        .enumerate()
        .find_map(|(levels, at)| Some((levels, layouts.at(at)?)));
    if let Some((levels, recorded)) = recorded {
        match (levels, c1, c2) {
            (2, Some(k), Some(t)) if recorded.topic_and_key && is_topic(t) => {
                location.topic = Some(names[t].to_owned());
                location.routing_key = key_of(names[k]).unwrap_or_default();
            }
            (1, Some(t), _) if recorded.topic_only && !recorded.key_only && is_topic(t) => {
                location.topic = Some(names[t].to_owned());
            }
            (1, Some(k), _) if recorded.key_only && !recorded.topic_only => {
                location.routing_key = key_of(names[k]).unwrap_or_default();
                location.topic_unknown = true;
            }
            _ => location.topic_unknown = true,
        }
        return Some((stream, date, location));
    }
    // Depth of the walked root in components: folders deeper than it are inside the walk.
    let root_depth = root.map(|r| r.components().count());
    let inside = |i: usize| match root_depth {
        Some(d) => i >= d,
        None => true,
    };
    location.topic_unknown = true;
    match (c1, c2) {
        (Some(k), Some(t)) if is_topic(t) && inside(t) && key_of(names[k]).is_some() => {
            location.topic = Some(names[t].to_owned());
            location.topic_unknown = false;
            location.routing_key = key_of(names[k]).unwrap_or_default();
        }
        (Some(t), _) if is_topic(t) && inside(t) => {}
        (Some(k), _) if names[k] == crate::protocol::layout::NO_ROUTING_KEY_DIR => {
            location.routing_key = FolderKey::NoKey;
        }
        (Some(k), _) if root_depth.is_some() && inside(k) => {
            location.routing_key = key_of(names[k]).unwrap_or_default();
        }
        _ => {}
    }
    Some((stream, date, location))
}

/// Groups files into sets (in order of first appearance) and sorts each set oldest first,
/// dropping duplicates and the `.gz` twin of a plain file.
fn order(found: Vec<Found>) -> Vec<TrailFile> {
    let mut sets: Vec<((PathBuf, String), Vec<Found>)> = Vec::new();
    for f in found {
        match sets.iter_mut().find(|(key, _)| *key == f.set) {
            Some((_, members)) => members.push(f),
            None => sets.push((f.set.clone(), vec![f])),
        }
    }
    let mut out = Vec::new();
    for (_, mut members) in sets {
        members.sort_by(|a, b| a.age.cmp(&b.age).then(a.file.gzip.cmp(&b.file.gzip)));
        let mut previous: Option<(Age, PathBuf)> = None;
        for f in members {
            let stem = strip_gz(&f.file.path);
            if previous.as_ref() == Some(&(f.age.clone(), stem.clone())) {
                continue;
            }
            previous = Some((f.age.clone(), stem));
            out.push(f.file);
        }
    }
    out
}

fn strip_gz(path: &Path) -> PathBuf {
    let text = path.to_string_lossy();
    PathBuf::from(text.strip_suffix(".gz").unwrap_or(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_in(dir: &Path, files: &[&str]) -> Vec<String> {
        for f in files {
            let path = dir.join(f);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, "").unwrap();
        }
        discover(&[dir.to_path_buf()])
            .unwrap()
            .iter()
            .map(|f| {
                f.path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }

    #[test]
    fn log_names_and_sidecars() {
        for ok in [
            "audit.log",
            "events.log",
            "audit.log.1",
            "audit.log.12.gz",
            "audit.log.2026-11-24",
            "audit.log.2026-11-24-16.gz",
            "audit.log.2026-11-24-PM.3",
            "audit.log.2026-47",
            "audit.log_20261124.log",
            "audit.log.Nov-24",
            "audit.log.November-24-Tuesday",
            "generic.log.1",
        ] {
            assert!(split_name(ok).is_some(), "{ok}");
        }
        for skipped in [
            "audit.log.sig",
            "audit.log.1.digest",
            "audit.log.chain.json",
            "audit.log.1.gz.tmp",
            "audit.logs",
            "catalog",
            ".log",
            "audit.log..1",
            "audit.txt",
            "audit.log.key",
        ] {
            assert!(split_name(skipped).is_none(), "{skipped}");
        }
    }

    #[test]
    fn date_words() {
        assert_eq!(date_value("September"), Some(9));
        assert_eq!(date_value("may"), Some(5));
        assert_eq!(date_value("THU"), Some(4));
        assert_eq!(date_value("Saturday"), Some(6));
        assert_eq!(date_value("PM"), Some(1));
        assert_eq!(date_value("sept"), None);
        assert_eq!(date_value("digest"), None);
    }

    #[test]
    fn size_and_time_rolled_set_in_time_order() {
        let dir = tempfile::tempdir().unwrap();
        let got = names_in(
            dir.path(),
            &[
                "audit.log",
                "audit.log.1",
                "audit.log.2.gz",
                "audit.log.2026-11-23",
                "audit.log.2026-11-23.1.gz",
                "audit.log.2026-11-23.2.gz",
                "audit.log.2026-11-24",
                "audit.log.2026-11-24-1",
                "audit.log.2026-11-24.gz",
                "audit.log.2026-11-24.sig",
                "audit.log.2026-11-09",
            ],
        );
        assert_eq!(
            got,
            [
                "audit.log.2026-11-09",
                "audit.log.2026-11-23.2.gz",
                "audit.log.2026-11-23.1.gz",
                "audit.log.2026-11-23",
                "audit.log.2026-11-24",
                "audit.log.2026-11-24-1",
                "audit.log.2.gz",
                "audit.log.1",
                "audit.log",
            ]
        );
    }

    #[test]
    fn hour_half_day_and_compact_dates() {
        let dir = tempfile::tempdir().unwrap();
        let got = names_in(
            dir.path(),
            &[
                "a.log.2026-11-24-16",
                "a.log.2026-11-24-09",
                "c.log.2026-11-24-PM",
                "c.log.2026-11-24-AM",
                "b.log.20261124",
                "b.log.20261123",
                "b.log",
            ],
        );
        assert_eq!(
            got,
            [
                "a.log.2026-11-24-09",
                "a.log.2026-11-24-16",
                "b.log.20261123",
                "b.log.20261124",
                "b.log",
                "c.log.2026-11-24-AM",
                "c.log.2026-11-24-PM",
            ]
        );
    }

    #[test]
    fn event_server_layout_is_read_from_folders() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("events");
        let files = [
            "generic/_none/2026/11/24/10/events.log",
            "generic/_none/2026/11/23/23/events.log",
            "apinode-query/fraud-svc/2026/11/24/09/events.log",
            "fraud-svc/2026/11/24/events.log",
            "2026/11/events.log",
            ".event-server/journal.log",
        ];
        for f in files {
            let path = root.join(f);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, "").unwrap();
        }
        let got: Vec<(String, Location)> = discover(std::slice::from_ref(&root))
            .unwrap()
            .into_iter()
            .map(|f| {
                let rel = f.path.strip_prefix(&root).unwrap().to_string_lossy();
                (rel.into_owned(), f.location)
            })
            .collect();
        let loc = |topic: Option<&str>, key: FolderKey| Location {
            topic: topic.map(str::to_owned),
            topic_unknown: topic.is_none(),
            routing_key: key,
        };
        assert_eq!(
            got,
            [
                (
                    "2026/11/events.log".to_owned(),
                    loc(None, FolderKey::NoFolder)
                ),
                (
                    "apinode-query/fraud-svc/2026/11/24/09/events.log".to_owned(),
                    loc(Some("apinode-query"), FolderKey::Key("fraud-svc".into()))
                ),
                (
                    "fraud-svc/2026/11/24/events.log".to_owned(),
                    loc(None, FolderKey::Key("fraud-svc".into()))
                ),
                (
                    "generic/_none/2026/11/23/23/events.log".to_owned(),
                    loc(Some("generic"), FolderKey::NoKey)
                ),
                (
                    "generic/_none/2026/11/24/10/events.log".to_owned(),
                    loc(Some("generic"), FolderKey::NoKey)
                ),
            ]
        );
        // Named directly, a partition file still gets its topic folder.
        let one = discover(&[root.join("generic/_none/2026/11/24/10/events.log")]).unwrap();
        assert_eq!(one[0].location, loc(Some("generic"), FolderKey::NoKey));
        // The walked root itself is not a routing-key folder.
        let below = discover(&[root.join("fraud-svc")]).unwrap();
        assert_eq!(below[0].location, loc(None, FolderKey::NoFolder));
        // Without the layout file, a lone folder named like a topic may be a routing key: the
        // topic is unknown rather than guessed.
        let lone = root.join("authfail/2026/11/24/events.log");
        fs::create_dir_all(lone.parent().unwrap()).unwrap();
        fs::write(&lone, "").unwrap();
        let got = discover(std::slice::from_ref(&root)).unwrap();
        let f = got.iter().find(|f| f.path == lone).unwrap();
        assert_eq!(f.location, loc(None, FolderKey::NoFolder));
    }

    /// With the server's `.audit-layout` file, the folders mean what the destination's layout
    /// made them, whatever their names.
    #[test]
    fn recorded_layout_decides_what_a_folder_is() {
        use crate::protocol::layout::{record_layout, Layout};
        let dir = tempfile::tempdir().unwrap();
        let loc = |topic: Option<&str>, key: FolderKey| Location {
            topic: topic.map(str::to_owned),
            topic_unknown: topic.is_none(),
            routing_key: key,
        };
        let layout = |folder_by_topic, folder_by_routing_key| Layout {
            folder_by_topic,
            folder_by_routing_key,
            ..Layout::default()
        };
        let cases = [
            // folder_by_topic: false: `authfail` is a routing key of an unknown topic.
            (
                vec![layout(false, true)],
                "authfail/2026/11/24/10",
                loc(None, FolderKey::Key("authfail".into())),
            ),
            (
                vec![layout(true, false)],
                "authfail/2026/11/24/10",
                loc(Some("authfail"), FolderKey::NoFolder),
            ),
            (
                vec![layout(true, true)],
                "generic/authfail/2026/11/24/10",
                loc(Some("generic"), FolderKey::Key("authfail".into())),
            ),
            (
                vec![layout(false, false)],
                "2026/11/24/10",
                loc(None, FolderKey::NoFolder),
            ),
            // Both one-level layouts used over time: the folder could be either.
            (
                vec![layout(true, false), layout(false, true)],
                "generic/2026/11/24/10",
                loc(None, FolderKey::NoFolder),
            ),
        ];
        for (i, (layouts, folders, want)) in cases.into_iter().enumerate() {
            let root = dir.path().join(format!("root{i}"));
            for l in &layouts {
                record_layout(&root, l, crate::FileMode::default()).unwrap();
            }
            let file = root.join(folders).join(EVENTS_FILE);
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(&file, "").unwrap();
            for walked in [
                root.clone(),
                file.clone(),
                root.join(folders.split('/').next().unwrap()),
            ] {
                let got = discover(std::slice::from_ref(&walked)).unwrap();
                assert_eq!(got.len(), 1, "{walked:?}");
                assert_eq!(
                    got[0].location, want,
                    "case {i}, {folders} walked from {walked:?}"
                );
            }
        }
    }

    #[test]
    fn missing_path_names_it() {
        let err = discover(&[PathBuf::from("/nonexistent/audit.log")]).unwrap_err();
        assert!(
            err.to_string().starts_with("/nonexistent/audit.log: "),
            "{err}"
        );
    }
}
