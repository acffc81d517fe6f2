//! Which event key may send which node id.
//!
//! High-water marks are kept per node id, and the node id is chosen by the client: without a
//! check, a holder of one key could send another node's id with a huge `seq` and have every
//! later event of that node taken for a resend. So a node id is bound to the key that first
//! sent it (the binding is kept with the marks in the [`super::journal`], so it survives
//! restarts), and another key sending it is refused with `403`, nothing of its batch stored.
//! A binding to a key no longer in `event_keys` is stale: the next key to send that node id
//! takes it over (so a rotated key does not lock its nodes out).
//!
//! Each key binds at most `max_nodes_per_key` node ids, which bounds the server's per-node
//! memory and journal by the number of keys, whatever a key holder sends.

use std::collections::{HashMap, HashSet};

use super::auth::KeyId;
use super::journal::Journal;
use crate::protocol::wire::Item;

/// Why a batch's node ids may not be used with its key (answered `403`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodeRefusal {
    /// Another configured key sent this node id first.
    #[error(
        "node id `{node}` is bound to another event key (the first key that sent it); nothing of \
         the batch is stored: give each node its own node id, or send it with the key it started with"
    )]
    BoundToAnotherKey {
        /// The node id.
        node: String,
    },
    /// The key has bound `max_nodes_per_key` node ids already.
    #[error(
        "node id `{node}` is new and this event key already has max_nodes_per_key ({max}) node \
         ids; nothing of the batch is stored (raise max_nodes_per_key, or use another key)"
    )]
    TooManyNodes {
        /// The node id.
        node: String,
        /// `max_nodes_per_key`.
        max: usize,
    },
}

/// Checks the node ids of a group's batches, in order: `items[j]` was sent with the key whose
/// id is `keys[j]`; `configured` are the ids of every key in `event_keys`. A batch refused
/// gets its refusal; the bindings of the batches allowed count for the later ones.
pub fn check(
    journal: &Journal,
    configured: &[KeyId],
    max_per_key: usize,
    batches: &[(&[Item], KeyId)],
) -> Vec<Option<NodeRefusal>> {
    let mut bound: HashMap<&str, KeyId> = HashMap::new();
    let mut added: HashMap<KeyId, usize> = HashMap::new();
    let mut out = Vec::with_capacity(batches.len());
    for (items, key) in batches {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut mine: Vec<&str> = Vec::new();
        let mut refusal = None;
        for item in items.iter() {
            let node = item.node.as_str();
            if !seen.insert(node) {
                continue;
            }
            let current = bound.get(node).copied().or_else(|| journal.binding(node));
            match current {
                Some(k) if k == *key => {}
                Some(k) if configured.contains(&k) => {
                    refusal = Some(NodeRefusal::BoundToAnotherKey {
                        node: node.to_owned(),
                    });
                    break;
                }
                // Unbound, or bound to a key no longer configured: this key takes it.
                _ => {
                    let count =
                        journal.nodes_of(key) + added.get(key).copied().unwrap_or(0) + mine.len();
                    if count >= max_per_key {
                        refusal = Some(NodeRefusal::TooManyNodes {
                            node: node.to_owned(),
                            max: max_per_key,
                        });
                        break;
                    }
                    mine.push(node);
                }
            }
        }
        if refusal.is_none() {
            *added.entry(*key).or_insert(0) += mine.len();
            for node in mine {
                bound.insert(node, *key);
            }
        }
        out.push(refusal);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::wire::parse_batch;
    use crate::server::journal::NodeCommit;

    fn items(nodes: &[&str]) -> Vec<Item> {
        let body: String = nodes
            .iter()
            .map(|n| format!("{{\"node\":\"{n}\",\"seq\":1,\"topic\":\"generic\",\"event\":{{\"msgType\":\"m\"}}}}\n"))
            .collect();
        parse_batch(body.as_bytes(), false, 1 << 20).unwrap()
    }

    #[test]
    fn bindings_refuse_other_keys_and_count_new_nodes() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path(), crate::FileMode::default()).unwrap();
        let (a, b, gone) = ([1; 16], [2; 16], [3; 16]);
        j.commit(&[
            NodeCommit {
                node: "web-1",
                mark: 5,
                key: a,
            },
            NodeCommit {
                node: "old",
                mark: 5,
                key: gone,
            },
        ])
        .unwrap();
        let keys = [a, b];
        let (w1, w2, w3, old) = (
            items(&["web-1"]),
            items(&["web-2"]),
            items(&["web-2", "web-3"]),
            items(&["old"]),
        );
        let got = check(
            &j,
            &keys,
            2,
            &[
                (&w1, a),  // its own key
                (&w1, b),  // bound to a
                (&w2, b),  // new for b
                (&w2, a),  // bound to b within this group
                (&old, b), // stale binding: b takes it (b's second node)
                (&w3, b),  // web-3 would be b's third
                (&w3, a),  // web-2 is b's
            ],
        );
        let bound = |n: &str| Some(NodeRefusal::BoundToAnotherKey { node: n.to_owned() });
        assert_eq!(
            got,
            vec![
                None,
                bound("web-1"),
                None,
                bound("web-2"),
                None,
                Some(NodeRefusal::TooManyNodes {
                    node: "web-3".into(),
                    max: 2
                }),
                bound("web-2"),
            ]
        );
        let text = got[5].as_ref().unwrap().to_string();
        assert!(text.contains("max_nodes_per_key (2)"), "{text}");
    }
}
