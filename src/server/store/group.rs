//! Planning a group commit: which batches' events go to which file, the journal's commit
//! entries, each batch's [`Outcome`]; and which batches must wait when another of the group
//! fails (see [`settle_followers`]).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use super::{Job, Outcome, StoreError, Writer};
use crate::protocol::record::write_stored_line;
use crate::server::auth::KeyId;
use crate::server::bindings::NodeRefusal;
use crate::server::failure::GroupFailure;
use crate::server::journal::NodeCommit;
use crate::server::kafka_destination::KafkaBatch;

/// Lines for one file of one destination.
pub(super) struct FileBuf {
    pub(super) destination: usize,
    pub(super) path: PathBuf,
    pub(super) lines: Vec<u8>,
    pub(super) events: u64,
    /// The batches (index in the group) with events in it.
    pub(super) jobs: Vec<usize>,
}

/// What a group writes (see [`Writer::plan`]).
pub(super) struct Plan<'j> {
    pub(super) files: Vec<FileBuf>,
    pub(super) kafka: Vec<KafkaBatch<'j>>,
    pub(super) marks: Vec<NodeCommit<'j>>,
    /// Per batch; `None` for those settled before.
    pub(super) outcomes: Vec<Option<Outcome>>,
}

/// Why writing a group failed.
pub(super) enum WriteFailure {
    /// One file (index in the plan) could not be opened or written; the group is undone, and
    /// is written again without the batches that have events for it.
    File { file: usize, reason: String },
    /// Everything of the group fails.
    Group(GroupFailure),
}

/// Settles the batches after a settled one that share a node id with it (`503`, send again):
/// storing them would move the node's mark past the settled batch's events, whose resend
/// would then be taken for duplicates. A batch refused for a node bound to another key is
/// never stored with that key, so it holds nothing back.
pub(super) fn settle_followers(jobs: &[Job], settled: &mut [Option<StoreError>]) {
    let mut held: HashSet<&str> = HashSet::new();
    for (j, job) in jobs.iter().enumerate() {
        let nodes = job.batch.items.iter().map(|i| i.node.as_str());
        match &settled[j] {
            Some(StoreError::Node(NodeRefusal::BoundToAnotherKey { .. })) => {}
            Some(_) => held.extend(nodes),
            None => {
                if let Some(n) = nodes.clone().find(|n| held.contains(n)) {
                    settled[j] = Some(StoreError::Unavailable(format!(
                        "an earlier batch of node `{n}` in the same group commit was not stored; send again"
                    )));
                    held.extend(nodes);
                }
            }
        }
    }
}

impl Writer {
    /// What the batches not yet `settled` make: dedup against the marks, the stored lines per
    /// file, the Kafka messages, the journal's commit entries and each batch's [`Outcome`].
    pub(super) fn plan<'j>(&self, jobs: &'j [Job], settled: &[Option<StoreError>]) -> Plan<'j> {
        // Per node of the group: its mark so far and the key it is bound to.
        let mut nodes: HashMap<&str, (u64, KeyId)> = HashMap::new();
        let mut files: Vec<FileBuf> = Vec::new();
        let mut index: HashMap<(usize, PathBuf), usize> = HashMap::new();
        let mut kafka: Vec<KafkaBatch> = self.kafka.iter().map(|_| KafkaBatch::default()).collect();
        let mut outcomes = Vec::with_capacity(jobs.len());
        for (j, job) in jobs.iter().enumerate() {
            if settled[j].is_some() {
                outcomes.push(None);
                continue;
            }
            let b = &job.batch;
            let key = self.key_ids[b.key];
            let mut outcome = Outcome::default();
            let partitions: Vec<_> = self
                .destinations
                .iter()
                .map(|d| {
                    d.layout()
                        .partitioning
                        .partition_of(b.received, self.timezone)
                })
                .collect();
            // One item per line of the body.
            for (line, item) in (1..).zip(&b.items) {
                let node = item.node.as_str();
                let entry = nodes
                    .entry(node)
                    .or_insert_with(|| (self.journal.mark(node), key));
                // The node checks let only one key use a node in a group.
                entry.1 = key;
                if item.seq <= entry.0 {
                    outcome.duplicates += 1;
                    continue;
                }
                entry.0 = item.seq;
                let rk = item.routing_key.as_ref();
                let mut routed = false;
                for (i, d) in self.destinations.iter().enumerate() {
                    if !d.accepts(item.topic, rk, b.key) {
                        continue;
                    }
                    routed = true;
                    let path = d.file_of(item.topic, rk, partitions[i]);
                    let slot = *index.entry((i, path.clone())).or_insert_with(|| {
                        files.push(FileBuf {
                            destination: i,
                            path,
                            lines: Vec::new(),
                            events: 0,
                            jobs: Vec::new(),
                        });
                        files.len() - 1
                    });
                    let f = &mut files[slot];
                    write_stored_line(&mut f.lines, &item.event, b.peer, b.received, self.timezone);
                    f.events += 1;
                    if f.jobs.last() != Some(&j) {
                        f.jobs.push(j);
                    }
                }
                for (k, d) in self.kafka.iter().enumerate() {
                    if d.accepts(item.topic, rk, b.key) {
                        routed = true;
                        let at = (b.peer, b.received, self.timezone);
                        d.render(&mut kafka[k], item, at, (j, line));
                    }
                }
                if routed {
                    outcome.stored += 1;
                } else {
                    outcome.unrouted += 1;
                }
            }
            outcomes.push(Some(outcome));
        }
        // Only what changes: a mark that moves, or a binding that is new.
        let marks = nodes
            .into_iter()
            .filter(|(node, (mark, key))| {
                *mark > self.journal.mark(node) || self.journal.binding(node) != Some(*key)
            })
            .map(|(node, (mark, key))| NodeCommit { node, mark, key })
            .collect();
        Plan {
            files,
            kafka,
            marks,
            outcomes,
        }
    }
}
