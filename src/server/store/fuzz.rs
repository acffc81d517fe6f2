//! The batch handler against a model: random sequences of group commits (several keys and
//! nodes sharing ids, resends, out-of-order sequence numbers, hundreds of routing-key folders in
//! one group, files that cannot be created, restarts) through the real [`Writer`] on real files,
//! each answer and every stored file compared with what a plain sequential reading of the rules
//! says (see `Model`):
//!
//! - a node id belongs to the first configured key that stored with it; another key gets `403`
//!   (nothing of the batch stored), and a key binds at most `max_nodes_per_key` ids;
//! - a batch with an event for a file that cannot be written gets `500`, a later batch of the
//!   group sharing a node id with a batch not stored gets `503`; the rest of the group is stored;
//! - a stored batch's events at or below their node's mark are duplicates, the others are stored
//!   in every destination that takes them (or counted unrouted), and the mark moves;
//! - every file holds exactly the stored events of its destination, topic and routing key, in
//!   order, once; marks and bindings survive a restart.
//!
//! CI runs a few hundred sequences; `scripts/fuzz-ingest.sh N server::store::fuzz` runs more.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use std::sync::atomic::AtomicU64;

use proptest::prelude::*;
use serde_json::value::RawValue;

use super::*;
use crate::protocol::wire::{NodeId, RoutingKey};
use crate::server::config::ServerConfig;
use crate::Topic;

const KEYS: usize = 3;
const MAX_NODES_PER_KEY: usize = 3;
/// Routing keys the test draws from: a few common ones, and many for the wide groups.
const WIDE: usize = 300;
/// The routing key whose folder in destination `all` cannot be created (a file is in the way).
const BROKEN: &str = "broken";

/// One event of a generated batch.
#[derive(Clone, Debug)]
struct Ev {
    node: u8,
    seq: u64,
    topic: Topic,
    rk: Option<String>,
}

#[derive(Clone, Debug)]
struct GenBatch {
    key: usize,
    events: Vec<Ev>,
}

#[derive(Clone, Debug)]
enum Step {
    Group(Vec<GenBatch>),
    Restart,
}

fn topic() -> impl Strategy<Value = Topic> {
    prop_oneof![
        Just(Topic::Generic),
        Just(Topic::Authfail),
        Just(Topic::ApinodeQuery),
        Just(Topic::Apicalls),
    ]
}

fn routing_key(wide: bool) -> BoxedStrategy<Option<String>> {
    if wide {
        (0..WIDE).prop_map(|i| Some(format!("w{i}"))).boxed()
    } else {
        prop_oneof![
            3 => Just(None),
            3 => Just(Some("r0".to_owned())),
            2 => Just(Some("r1".to_owned())),
            1 => Just(Some("r2".to_owned())),
            1 => Just(Some(BROKEN.to_owned())),
        ]
        .boxed()
    }
}

/// Mostly one of the key's own two node ids; now and then any id (another key's: `403`, or
/// one too many for this key), so bindings are tried without refusing most batches.
fn node_of(key: usize) -> impl Strategy<Value = u8> {
    let own = key as u8 * 2;
    prop_oneof![
        20 => own..own + 2,
        1 => 0u8..8,
    ]
}

fn event(key: usize, wide: bool) -> impl Strategy<Value = Ev> {
    // A wide batch sticks to the key's own ids (hundreds of events would always stray).
    let own = key as u8 * 2;
    let node = if wide {
        (own..own + 2).boxed()
    } else {
        node_of(key).boxed()
    };
    // Small sequence numbers: resends and out-of-order events are common (a wide batch's
    // range is large, or its hundreds of events would nearly all be resends).
    let seq = if wide { 1u64..100_000 } else { 1u64..12 };
    (node, seq, topic(), routing_key(wide)).prop_map(|(node, seq, topic, rk)| Ev {
        node,
        seq,
        topic,
        rk,
    })
}

fn batch() -> impl Strategy<Value = GenBatch> {
    (0..KEYS).prop_flat_map(|key| {
        let events = prop_oneof![
            12 => prop::collection::vec(event(key, false), 1..7),
            // In sequence order, as a node sends them: hundreds of new events, many folders.
            1 => prop::collection::vec(event(key, true), 400..900).prop_map(|mut events| {
                events.sort_by_key(|e| e.seq);
                events
            }),
        ];
        events.prop_map(move |events| GenBatch { key, events })
    })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        12 => prop::collection::vec(batch(), 1..5).prop_map(Step::Group),
        1 => Just(Step::Restart),
    ]
}

fn config(root: &Path) -> ServerConfig {
    let mut c = ServerConfig::from_yaml(&format!(
        r#"
event_keys: [k0, k1, k2]
timezone: utc
max_nodes_per_key: {MAX_NODES_PER_KEY}
destinations:
  - {{ name: all, type: filesystem, root: "{0}/all", topics: [generic, authfail, apinode-query], partitioning_period: DAY }}
  - {{ name: auth, type: filesystem, root: "{0}/auth", topics: [authfail], folder_by_routing_key: false, partitioning_period: MONTH, integrity: {{ checkpoint_lines: 7 }} }}
  - {{ name: k2, type: filesystem, root: "{0}/k2", required_auth_key: k2, routing_keys: [r0, r1, {BROKEN}], partitioning_period: MONTH }}
"#,
        root.display()
    ))
    .unwrap();
    c.state_dir = Some(root.join("state"));
    c
}

/// Which destinations take an event: the rules of [`config`], written out.
fn takes(dest: usize, ev: &Ev, key: usize) -> bool {
    match dest {
        0 => matches!(
            ev.topic,
            Topic::Generic | Topic::Authfail | Topic::ApinodeQuery
        ),
        1 => ev.topic == Topic::Authfail,
        _ => key == 2 && matches!(ev.rk.as_deref(), Some("r0" | "r1" | BROKEN)),
    }
}

/// The stream of one (destination, topic, routing key): destination `auth` has no routing-key
/// folders, so its streams are per topic only.
fn stream(dest: usize, ev: &Ev) -> (usize, &'static str, Option<String>) {
    let rk = if dest == 1 { None } else { ev.rk.clone() };
    (dest, ev.topic.wire_name(), rk)
}

fn node_name(n: u8) -> String {
    format!("node-{n}")
}

/// The event object: it names its own node, seq, topic and routing key, so a stored line says
/// where it should be.
fn event_json(ev: &Ev, key: usize) -> String {
    format!(
        r#"{{"msgType":"m","n":{},"s":{},"t":"{}","rk":{},"k":{key}}}"#,
        ev.node,
        ev.seq,
        ev.topic.wire_name(),
        ev.rk
            .as_ref()
            .map_or("null".to_owned(), |r| format!("\"{r}\""))
    )
}

type Stream = (usize, &'static str, Option<String>);

/// What the rules say: committed marks and bindings, and each stream's events.
#[derive(Default)]
struct Model {
    marks: HashMap<u8, u64>,
    bound: HashMap<u8, usize>,
    streams: BTreeMap<Stream, Vec<String>>,
}

#[derive(Debug, PartialEq, Eq)]
enum Expect {
    Stored(Outcome),
    Bound,
    TooMany,
    Failed,
    Unavailable,
}

impl Model {
    fn nodes_of(&self, key: usize) -> usize {
        self.bound.values().filter(|k| **k == key).count()
    }

    /// The answers to a group, applying what it stores.
    fn group(&mut self, batches: &[GenBatch]) -> Vec<Expect> {
        let n = batches.len();
        let mut answer: Vec<Option<Expect>> = (0..n).map(|_| None).collect();
        // Node ids, batch by batch: the bindings of batches allowed count for later ones.
        let mut bound_in_group: HashMap<u8, usize> = HashMap::new();
        let mut added: HashMap<usize, usize> = HashMap::new();
        for (j, b) in batches.iter().enumerate() {
            let mut mine: Vec<u8> = Vec::new();
            let mut seen = HashSet::new();
            for ev in &b.events {
                if !seen.insert(ev.node) {
                    continue;
                }
                let current = bound_in_group
                    .get(&ev.node)
                    .or_else(|| self.bound.get(&ev.node))
                    .copied();
                match current {
                    Some(k) if k == b.key => {}
                    Some(_) => {
                        answer[j] = Some(Expect::Bound);
                        break;
                    }
                    None => {
                        let count = self.nodes_of(b.key)
                            + added.get(&b.key).copied().unwrap_or(0)
                            + mine.len();
                        if count >= MAX_NODES_PER_KEY {
                            answer[j] = Some(Expect::TooMany);
                            break;
                        }
                        mine.push(ev.node);
                    }
                }
            }
            if answer[j].is_none() {
                *added.entry(b.key).or_insert(0) += mine.len();
                for node in mine {
                    bound_in_group.insert(node, b.key);
                }
            }
        }
        // Until nothing changes: followers of batches not stored wait (503); the batches with
        // a new event for the first broken file the group reaches fail (500), one file at a time.
        loop {
            self.hold_followers(batches, &mut answer);
            let mut marks = self.marks.clone();
            let mut first_broken: Option<Topic> = None;
            let mut hits: Vec<(usize, Topic)> = Vec::new();
            for (j, b) in batches.iter().enumerate() {
                if answer[j].is_some() {
                    continue;
                }
                for ev in &b.events {
                    let mark = marks.entry(ev.node).or_insert(0);
                    if ev.seq <= *mark {
                        continue;
                    }
                    *mark = ev.seq;
                    if takes(0, ev, b.key) && ev.rk.as_deref() == Some(BROKEN) {
                        first_broken.get_or_insert(ev.topic);
                        hits.push((j, ev.topic));
                    }
                }
            }
            let Some(topic) = first_broken else { break };
            for (j, t) in hits {
                if t == topic {
                    answer[j] = Some(Expect::Failed);
                }
            }
        }
        // The rest is stored, in order.
        for (j, b) in batches.iter().enumerate() {
            if answer[j].is_some() {
                continue;
            }
            let mut o = Outcome::default();
            for ev in &b.events {
                self.bound.entry(ev.node).or_insert(b.key);
                let mark = self.marks.entry(ev.node).or_insert(0);
                if ev.seq <= *mark {
                    o.duplicates += 1;
                    continue;
                }
                *mark = ev.seq;
                let mut routed = false;
                for dest in 0..3 {
                    if takes(dest, ev, b.key) {
                        routed = true;
                        self.streams
                            .entry(stream(dest, ev))
                            .or_default()
                            .push(event_json(ev, b.key));
                    }
                }
                if routed {
                    o.stored += 1;
                } else {
                    o.unrouted += 1;
                }
            }
            answer[j] = Some(Expect::Stored(o));
        }
        answer.into_iter().map(Option::unwrap).collect()
    }

    /// A batch after one that is not stored (other than for a node of another key), sharing a
    /// node id with it, waits.
    fn hold_followers(&self, batches: &[GenBatch], answer: &mut [Option<Expect>]) {
        let mut held: HashSet<u8> = HashSet::new();
        for (j, b) in batches.iter().enumerate() {
            let nodes = b.events.iter().map(|e| e.node);
            match &answer[j] {
                Some(Expect::Bound) => {}
                Some(_) => held.extend(nodes),
                None => {
                    if nodes.clone().any(|n| held.contains(&n)) {
                        answer[j] = Some(Expect::Unavailable);
                        held.extend(nodes);
                    }
                }
            }
        }
    }
}

fn to_batch(b: &GenBatch) -> Batch {
    let items = b
        .events
        .iter()
        .map(|ev| Item {
            node: NodeId::new(node_name(ev.node)).unwrap(),
            seq: ev.seq,
            topic: ev.topic,
            routing_key: ev.rk.as_ref().map(|r| RoutingKey::new(r.clone()).unwrap()),
            event: RawValue::from_string(event_json(ev, b.key)).unwrap(),
        })
        .collect();
    Batch {
        items,
        peer: "10.0.0.9".parse().unwrap(),
        key: b.key,
        // 2020-02-19T15:05:02.441Z
        received: UNIX_EPOCH + Duration::from_millis(1_582_124_702_441),
        bytes: 100,
    }
}

fn classify(r: &Result<Outcome, StoreError>) -> Expect {
    match r {
        Ok(o) => Expect::Stored(*o),
        Err(StoreError::Node(NodeRefusal::BoundToAnotherKey { .. })) => Expect::Bound,
        Err(StoreError::Node(NodeRefusal::TooManyNodes { .. })) => Expect::TooMany,
        Err(StoreError::Failed(_)) => Expect::Failed,
        Err(StoreError::Unavailable(_)) => Expect::Unavailable,
        Err(e) => panic!("unexpected answer: {e}"),
    }
}

/// Every stored line under `root`, per stream, in file order; and a check that each file holds
/// one stream only.
fn stored(root: &Path) -> BTreeMap<Stream, Vec<String>> {
    let mut out: BTreeMap<Stream, Vec<String>> = BTreeMap::new();
    for (dest, name) in ["all", "auth", "k2"].iter().enumerate() {
        let mut files = Vec::new();
        collect_logs(&root.join(name), &mut files);
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let mut streams_here = HashSet::new();
            for line in text.lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                assert_eq!(v["origAddress"], "10.0.0.9");
                let ev = &v["clientEvent"];
                let topic: Topic = ev["t"].as_str().unwrap().parse().unwrap();
                let rk = ev["rk"].as_str().map(str::to_owned);
                let e = Ev {
                    node: ev["n"].as_u64().unwrap() as u8,
                    seq: ev["s"].as_u64().unwrap(),
                    topic,
                    rk: rk.clone(),
                };
                let s = stream(dest, &e);
                streams_here.insert(s.clone());
                out.entry(s)
                    .or_default()
                    .push(serde_json::to_string(ev).unwrap());
            }
            assert!(
                streams_here.len() <= 1,
                "{}: {streams_here:?}",
                file.display()
            );
        }
    }
    out
}

fn collect_logs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect_logs(&p, out);
        } else if p.file_name().is_some_and(|n| n == "events.log") {
            out.push(p);
        }
    }
}

/// A scratch folder on tmpfs when there is one (the fsyncs cost nothing there).
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(d) = tempfile::tempdir_in(shm) {
            return d;
        }
    }
    tempfile::tempdir().unwrap()
}

fn open_writer(c: &ServerConfig) -> Writer {
    let keys = c.resolve_keys().unwrap();
    Writer::open(c, &keys, Arc::default()).unwrap().0
}

/// Puts a file where destination `all`'s folder for routing key [`BROKEN`] would go.
fn break_folder(w: &Writer) {
    let rk = RoutingKey::new(BROKEN).unwrap();
    for topic in [Topic::Generic, Topic::Authfail, Topic::ApinodeQuery] {
        let d = &w.destinations[0];
        let p = d.layout().partitioning.partition_of(
            UNIX_EPOCH + Duration::from_millis(1_582_124_702_441),
            Timezone::Utc,
        );
        let file = d.file_of(topic, Some(&rk), p);
        let folder = file
            .ancestors()
            .find(|a| a.file_name().is_some_and(|n| n == BROKEN))
            .unwrap()
            .to_owned();
        std::fs::create_dir_all(folder.parent().unwrap()).unwrap();
        std::fs::write(&folder, "in the way").unwrap();
    }
}

fn run(steps: &[Step]) {
    let dir = scratch();
    let c = config(dir.path());
    let mut w = open_writer(&c);
    break_folder(&w);
    let mut model = Model::default();
    for (s, step) in steps.iter().enumerate() {
        match step {
            Step::Restart => {
                drop(w);
                w = open_writer(&c);
            }
            Step::Group(batches) => {
                let jobs: Vec<Job> = batches
                    .iter()
                    .map(|b| Job {
                        batch: to_batch(b),
                        reply: oneshot::channel().0,
                    })
                    .collect();
                let got: Vec<Expect> = w.store_group(&jobs).iter().map(classify).collect();
                let want = model.group(batches);
                assert_eq!(got, want, "step {s}: {batches:?}");
                // Each event of a stored batch is counted once.
                for (g, b) in got.iter().zip(batches) {
                    if let Expect::Stored(o) = g {
                        assert_eq!(o.stored + o.duplicates + o.unrouted, b.events.len());
                    }
                }
            }
        }
    }
    let on_disk = stored(dir.path());
    let expected: BTreeMap<_, _> = model
        .streams
        .iter()
        .map(|(s, evs)| {
            let evs = evs
                .iter()
                .map(|e| {
                    serde_json::from_str::<serde_json::Value>(e)
                        .unwrap()
                        .to_string()
                })
                .collect::<Vec<_>>();
            (s.clone(), evs)
        })
        .collect();
    assert_eq!(on_disk, expected);
    // Marks and bindings survive: every node's last stored event is a duplicate after a restart.
    drop(w);
    let mut w = open_writer(&c);
    for (&node, &key) in &model.bound {
        let mark = model.marks.get(&node).copied().unwrap_or(0);
        if mark == 0 {
            continue;
        }
        let again = GenBatch {
            key,
            events: vec![Ev {
                node,
                seq: mark,
                topic: Topic::Apicalls,
                rk: None,
            }],
        };
        let jobs = vec![Job {
            batch: to_batch(&again),
            reply: oneshot::channel().0,
        }];
        let got = classify(&w.store_group(&jobs)[0]);
        assert_eq!(
            got,
            Expect::Stored(Outcome {
                duplicates: 1,
                ..Outcome::default()
            })
        );
    }
}

/// What a campaign went through, printed at its end (the figure `scripts/fuzz-ingest.sh`
/// reports).
#[derive(Default)]
struct Tally {
    sequences: AtomicU64,
    groups: AtomicU64,
    batches: AtomicU64,
    events: AtomicU64,
}

#[test]
fn batch_handler_follows_the_rules() {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(64);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let tally = Tally::default();
    let result = runner.run(&prop::collection::vec(step(), 1..10), |steps| {
        tally.sequences.fetch_add(1, Relaxed);
        for step in &steps {
            if let Step::Group(batches) = step {
                tally.groups.fetch_add(1, Relaxed);
                tally.batches.fetch_add(batches.len() as u64, Relaxed);
                let events: usize = batches.iter().map(|b| b.events.len()).sum();
                tally.events.fetch_add(events as u64, Relaxed);
            }
        }
        run(&steps);
        Ok(())
    });
    eprintln!(
        "batch handler: {} sequences, {} group commits, {} batches, {} events (shrinking included)",
        tally.sequences.load(Relaxed),
        tally.groups.load(Relaxed),
        tally.batches.load(Relaxed),
        tally.events.load(Relaxed)
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}
