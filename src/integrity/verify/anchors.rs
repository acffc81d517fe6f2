//! `verify --anchors`: the local trails against the Event Server's anchor ledger (see
//! `server/anchors`), which holds copies of their records taken off the host.
//!
//! For every origin found locally (and every origin of the ledger written at one of the paths
//! given), per trail: ledger records beyond the local last one mean the trail was cut back
//! (*rolled back*); a local record that differs from the ledger's record of the same number was
//! *rewritten* (and re-signed); ledger records that are not here and no `prune` record covers
//! are *missing files* (a ledger trail of which nothing is here: deleted); local records beyond
//! the ledger's last one are *not yet anchored* (a note; a failure with `--strict`); a local
//! record signed by a key the ledger never pinned for its origin was *re-signed with another
//! key*; a trail the server stored *unlinked* is a trail link failure. Every ledger line's
//! `serverSig` is checked with the server's anchor key first.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;

use super::{short, CheckedFile, FindingKind, Report};
use crate::integrity::chain::to_hex;
use crate::integrity::checkpoint::{key_id, Pruned, Record};
use crate::server::anchors::ledger::{AnchorLedger, Entry};

/// The local records of one trail by number: the record, its line, its file.
type LocalTrail<'a> = BTreeMap<u64, (&'a Record, &'a str, &'a Path)>;

/// What `verify` compares the local trails with.
#[derive(Clone, Debug, Default)]
pub struct Anchors {
    /// The ledger (a copy of the server's `anchors/` folder, or what `GET /api/anchors`
    /// answered).
    pub ledger: AnchorLedger,
    /// The server's anchor public key, to check each line's `serverSig`; without it the lines
    /// are taken as they are (a note says so).
    pub server_key: Option<VerifyingKey>,
    /// Whether `server_key` was given by the operator (`--anchors-key`) rather than fetched
    /// from the server itself, which proves nothing against whoever controls that server.
    pub server_key_pinned: bool,
}

/// The path of a `file:<node>:<absolute path>` origin.
fn origin_path(origin: &str) -> Option<&Path> {
    let rest = origin.strip_prefix("file:")?;
    let (_, path) = rest.split_once(':')?;
    Some(Path::new(path))
}

fn written_under(origin: &str, paths: &[PathBuf]) -> bool {
    let Some(at) = origin_path(origin) else {
        return false;
    };
    paths.iter().any(|p| {
        let Ok(abs) = std::path::absolute(p) else {
            return false;
        };
        at == abs || at.starts_with(&abs)
    })
}

fn ranges(ns: &[u64]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ns.len() {
        let mut j = i;
        while j + 1 < ns.len() && ns[j + 1] == ns[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            format!("#{}", ns[i])
        } else {
            format!("#{}-#{}", ns[i], ns[j])
        });
        i = j + 1;
    }
    out.join(", ")
}

/// How two records of one number differ.
fn difference(local: &Record, anchored: &Record) -> String {
    let mut d = Vec::new();
    if local.file != anchored.file {
        d.push(format!("file {} vs {}", local.file, anchored.file));
    }
    if local.lines != anchored.lines {
        d.push(format!("lines {} vs {}", local.lines, anchored.lines));
    }
    if local.bytes != anchored.bytes {
        d.push(format!("bytes {} vs {}", local.bytes, anchored.bytes));
    }
    if local.head != anchored.head {
        d.push("another chain head".into());
    }
    if local.key != anchored.key {
        d.push("another key".into());
    }
    if d.is_empty() {
        d.push("other bytes".into());
    }
    d.join(", ")
}

/// Compares the checked files with the ledger and adds what it finds to `report`.
pub(super) fn check(
    anchors: &Anchors,
    paths: &[PathBuf],
    checked: &[CheckedFile],
    prunes: &[(Pruned, u64, PathBuf)],
    strict: bool,
    report: &mut Report,
) {
    let source = anchors.ledger.source.clone();
    let first_path = paths.first().map_or(Path::new(""), |p| p.as_path());
    for b in &anchors.ledger.broken {
        report.fail(
            FindingKind::AnchorLedger,
            first_path,
            None,
            format!("anchor ledger {b}: not a line the server writes: altered"),
        );
    }
    let mut entries: Vec<&(Entry, String)> = Vec::new();
    for pair in &anchors.ledger.entries {
        match &anchors.server_key {
            Some(k) if !pair.0.signature_valid(k) => report.fail(
                FindingKind::AnchorLedger,
                first_path,
                None,
                format!(
                    "anchor ledger {}: serverSig is not the server's anchor key's signature: the ledger copy was altered, or is another server's",
                    pair.1
                ),
            ),
            _ => entries.push(pair),
        }
    }
    if anchors.server_key.is_none() {
        report.notes.push(format!(
            "anchor ledger {source}: server signatures not checked (no --anchors-key)"
        ));
    } else if !anchors.server_key_pinned {
        report.notes.push(format!(
            "anchor ledger {source}: the server's anchor key was fetched from the server itself: pin it with --anchors-key for the ledger to prove anything against whoever controls that server"
        ));
    }

    // The local records, by trail.
    let mut local: HashMap<[u8; 16], LocalTrail> = HashMap::new();
    let mut origins: BTreeSet<String> = BTreeSet::new();
    for c in checked {
        for (r, line, _) in &c.records {
            if r.v < 2 {
                continue;
            }
            origins.insert(r.origin.clone());
            local.entry(r.trail).or_default().entry(r.n).or_insert((
                r,
                line.as_str(),
                c.file.as_path(),
            ));
        }
    }
    // The ledger, by origin and trail.
    let mut ledger: BTreeMap<&str, BTreeMap<[u8; 16], BTreeMap<u64, &Entry>>> = BTreeMap::new();
    for (e, _) in &entries {
        if origins.contains(&e.origin) || written_under(&e.origin, paths) {
            ledger
                .entry(e.origin.as_str())
                .or_default()
                .entry(e.record.trail)
                .or_default()
                .insert(e.record.n, e);
        }
    }
    let pruned = |trail: [u8; 16], n: u64| {
        prunes
            .iter()
            .any(|(p, _, _)| p.trail == trail && p.first <= n && n <= p.last)
    };
    let mut compared = 0usize;
    for (origin, trails) in &ledger {
        for (trail, records) in trails {
            let id = short(trail);
            let (Some((&first_n, _)), Some((&last_n, last))) =
                (records.iter().next(), records.iter().next_back())
            else {
                continue;
            };
            for e in records.values().filter(|e| e.unlinked) {
                report.fail(
                    FindingKind::TrailLink,
                    first_path,
                    Some(e.record.n),
                    format!(
                        "trail {id} ({origin}): the anchor ledger stored record #{} (received {}) unlinked: the trail does not follow the origin's previous trail (a trail restarted without its predecessor)",
                        e.record.n, e.received
                    ),
                );
            }
            let Some(here) = local.get(trail) else {
                if records.keys().all(|&n| pruned(*trail, n)) {
                    report.notes.push(format!(
                        "trail {id} ({origin}): anchored records #{first_n}-#{last_n} were deleted by the retention policy (prune records)"
                    ));
                } else {
                    report.fail(
                        FindingKind::MissingFile,
                        first_path,
                        Some(last_n),
                        format!(
                            "trail {id} ({origin}): the anchor ledger holds records #{first_n}-#{last_n} (the last received {}) but none of its files is here and no prune record covers them: deleted",
                            last.received
                        ),
                    );
                }
                continue;
            };
            let local_last = here.keys().next_back().copied().unwrap_or(0);
            let local_file = here.values().next_back().map_or(first_path, |v| v.2);
            let beyond: Vec<&&Entry> = records.range(local_last + 1..).map(|(_, e)| e).collect();
            if let Some(e) = beyond.first() {
                report.fail(
                    FindingKind::RolledBack,
                    local_file,
                    Some(e.record.n),
                    format!(
                        "trail {id} ({origin}): rolled back: the anchor ledger holds record #{} (received {}){}, beyond the last record here (#{local_last} in {}): the trail was cut back to an earlier checkpoint, or its newest files deleted",
                        e.record.n,
                        e.received,
                        if beyond.len() > 1 {
                            format!(" and {} more up to #{last_n}", beyond.len() - 1)
                        } else {
                            String::new()
                        },
                        local_file.display()
                    ),
                );
            }
            let mut rewritten: Vec<(u64, &Path, String, String)> = Vec::new();
            let mut missing: Vec<u64> = Vec::new();
            for (&n, e) in records.range(..=local_last) {
                compared += 1;
                match here.get(&n) {
                    Some((r, line, file)) if *line != e.record_line => {
                        rewritten.push((n, file, e.received.clone(), difference(r, &e.record)))
                    }
                    Some(_) => {}
                    None if pruned(*trail, n) => {}
                    None => missing.push(n),
                }
            }
            if let Some((n, file, received, how)) = rewritten.first() {
                report.fail(
                    FindingKind::Rewritten,
                    file,
                    Some(*n),
                    format!(
                        "{}: record #{n} of trail {id} differs from the anchored record #{n} (received {received}): {how}: rewritten and re-signed{}",
                        file.display(),
                        if rewritten.len() > 1 {
                            format!(" ({} records differ: {})", rewritten.len(), ranges(&rewritten.iter().map(|r| r.0).collect::<Vec<_>>()))
                        } else {
                            String::new()
                        }
                    ),
                );
            }
            if let Some(&n) = missing.first() {
                let received = records.get(&n).map_or("?", |e| e.received.as_str());
                report.fail(
                    FindingKind::MissingFile,
                    local_file,
                    Some(n),
                    format!(
                        "trail {id} ({origin}): anchored records {} (the first received {received}) are not here and no prune record covers them: a file was deleted",
                        ranges(&missing)
                    ),
                );
            }
        }
    }
    // Local records the ledger does not have yet, and the keys they are signed with.
    let mut by_origin: BTreeMap<&str, Vec<([u8; 16], &LocalTrail)>> = BTreeMap::new();
    for (trail, recs) in &local {
        if let Some((r, _, _)) = recs.values().next() {
            by_origin
                .entry(r.origin.as_str())
                .or_default()
                .push((*trail, recs));
        }
    }
    for (origin, trails) in by_origin {
        let anchored = ledger.get(origin);
        let pinned: Vec<VerifyingKey> = anchored
            .into_iter()
            .flat_map(|t| t.values().flat_map(|r| r.values()))
            .filter_map(|e| e.pinned_key)
            .collect();
        let pinned_ids: Vec<[u8; 8]> = pinned.iter().map(key_id).collect();
        let mut key_reported = false;
        for (trail, recs) in trails {
            let last_anchored = anchored
                .and_then(|t| t.get(&trail))
                .and_then(|r| r.keys().next_back().copied());
            let pending: Vec<u64> = recs
                .keys()
                .copied()
                .filter(|&n| last_anchored.map_or(true, |m| m < n))
                .collect();
            if !pending.is_empty() {
                let text = format!(
                    "trail {} ({origin}): records {} not yet anchored ({})",
                    short(&trail),
                    ranges(&pending),
                    match last_anchored {
                        Some(n) => format!("the anchor ledger ends at #{n}"),
                        None => "the anchor ledger has nothing of this trail".to_owned(),
                    }
                );
                if strict {
                    let file = recs.get(&pending[0]).map_or(first_path, |v| v.2);
                    report.fail(
                        FindingKind::NotAnchored,
                        file,
                        Some(pending[0]),
                        format!("{text} (--strict)"),
                    );
                } else {
                    report.notes.push(text);
                }
            }
            if pinned_ids.is_empty() || key_reported {
                continue;
            }
            if let Some((r, _, file)) = recs
                .values()
                .find(|(r, _, _)| r.key.is_some_and(|k| !pinned_ids.contains(&k)))
            {
                key_reported = true;
                report.fail(
                    FindingKind::KeyChanged,
                    file,
                    Some(r.n),
                    format!(
                        "{}: record #{} is signed by key {}, but the anchor ledger pinned key {} for {origin}: re-signed with another key",
                        file.display(),
                        r.n,
                        r.key.map(|k| to_hex(&k)).unwrap_or_default(),
                        pinned_ids.iter().map(|k| to_hex(k)).collect::<Vec<_>>().join(", ")
                    ),
                );
            }
        }
    }
    report.anchored = Some(format!(
        "{compared} records compared with the anchor ledger {source}"
    ));
}
