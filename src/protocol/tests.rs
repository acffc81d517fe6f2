//! Property tests across the wire format, the stored line and the layout.

use std::io::Write;
use std::path::{Component, Path};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flate2::{write::GzEncoder, Compression};
use proptest::prelude::*;
use serde_json::value::RawValue;

use super::layout::{Layout, Partitioning, FILE_NAME, NO_ROUTING_KEY_DIR};
use super::record::write_stored_line;
use super::wire::{parse_batch, write_item, BatchErrorKind, Item, ItemRef, NodeId, RoutingKey};
use crate::encode::Timezone;
use crate::Topic;

const MAX: usize = 1 << 20;

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A name of `first` then up to `max - 1` characters of `A-Z a-z 0-9 . _ -` (cheaper than a regex).
fn name(first: &'static str, max: usize) -> impl Strategy<Value = String> {
    const CHARS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";
    let pick = |set: &str| proptest::sample::select(set.chars().collect::<Vec<_>>());
    (pick(first), proptest::collection::vec(pick(CHARS), 0..max))
        .prop_map(|(c, rest)| std::iter::once(c).chain(rest).collect())
}

fn node() -> impl Strategy<Value = NodeId> {
    let first = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    name(first, 64).prop_map(|s| NodeId::new(s).unwrap())
}

fn routing_key() -> impl Strategy<Value = RoutingKey> {
    let first = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    name(first, 128).prop_filter_map("a portable folder name", |s| RoutingKey::new(s).ok())
}

/// Any text, control characters, quotes, backslashes and non-ASCII included.
fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..10).prop_map(|v| v.into_iter().collect())
}

fn topic() -> impl Strategy<Value = Topic> {
    proptest::sample::select(Topic::ALL.to_vec())
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::vec((text(), inner), 0..4)
                .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// An event object as a client might send it: random members, a string `msgType` somewhere,
/// random insignificant spaces and tabs between the top-level tokens; no key twice (the
/// server refuses that).
fn event() -> impl Strategy<Value = Box<RawValue>> {
    let key = text().prop_filter("not msgType", |k| k != "msgType");
    (
        proptest::collection::btree_map(key, json_value(), 0..4)
            .prop_map(|m| m.into_iter().collect::<Vec<_>>()),
        text(),
        any::<prop::sample::Index>(),
        proptest::collection::vec(proptest::sample::select(vec!["", " ", "\t", " \t "]), 4),
    )
        .prop_map(|(mut members, msg_type, at, ws)| {
            let at = at.index(members.len() + 1);
            members.insert(at, ("msgType".into(), msg_type.into()));
            let body: Vec<String> = members
                .iter()
                .map(|(k, v)| {
                    let (k, v) = (serde_json::to_string(k).unwrap(), v.to_string());
                    format!("{k}{}:{}{v}", ws[0], ws[1])
                })
                .collect();
            let text = format!(
                "{{{}{}{}}}",
                ws[2],
                body.join(&format!("{},", ws[3])),
                ws[2]
            );
            RawValue::from_string(text).unwrap()
        })
}

fn item() -> impl Strategy<Value = Item> {
    (
        node(),
        1..=u64::MAX,
        topic(),
        proptest::option::of(routing_key()),
        event(),
    )
        .prop_map(|(node, seq, topic, routing_key, event)| Item {
            node,
            seq,
            topic,
            routing_key,
            event,
        })
}

/// 1 to 11 items, each node's numbered in increasing order (as the server requires).
fn items() -> impl Strategy<Value = Vec<Item>> {
    proptest::collection::vec(item(), 1..12).prop_map(|mut items| {
        for (i, item) in items.iter_mut().enumerate() {
            item.seq = (item.seq % (u64::MAX / 2)) / 16 * 16 + i as u64 + 1;
        }
        let mut last: std::collections::HashMap<NodeId, u64> = Default::default();
        for item in items.iter_mut() {
            if let Some(&before) = last.get(&item.node) {
                item.seq = item.seq.max(before + 1);
            }
            last.insert(item.node.clone(), item.seq);
        }
        items
    })
}

fn batch(items: &[Item], final_newline: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for item in items {
        write_item(&mut out, &ItemRef::from(item));
    }
    if !final_newline {
        out.pop();
    }
    out
}

/// Random damage to a body: flipped, inserted and removed bytes.
fn mutate(mut body: Vec<u8>, edits: &[(prop::sample::Index, u8, u8)]) -> Vec<u8> {
    for (at, op, byte) in edits {
        let at = at.index(body.len() + 1);
        match op % 3 {
            0 if at < body.len() => body[at] = *byte,
            1 => body.insert(at, *byte),
            _ if at < body.len() => {
                body.remove(at);
            }
            _ => {}
        }
    }
    body
}

/// Whatever `parse_batch` accepts writes back to the same items.
fn check_accepted(body: &[u8], gzip: bool) {
    match parse_batch(body, gzip, MAX) {
        Ok(items) => {
            assert!(!items.is_empty());
            let again = parse_batch(&batch(&items, true), false, MAX).unwrap();
            assert_eq!(again, items);
        }
        Err(e) => {
            if let Some(line) = e.line {
                assert!(line >= 1);
                if !gzip {
                    assert!(line <= body.split(|&b| b == b'\n').count());
                }
            }
            assert!(!e.to_string().is_empty());
        }
    }
}

/// How one line of a valid batch is damaged, and the error kind that must be reported.
#[derive(Debug, Clone)]
enum Damage {
    Truncate(prop::sample::Index),
    Blank,
    UnknownKey,
    SeqZero,
    Topic(String),
    Node(String),
    RoutingKey(String),
    Event(&'static str),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        any::<prop::sample::Index>().prop_map(Damage::Truncate),
        Just(Damage::Blank),
        Just(Damage::UnknownKey),
        Just(Damage::SeqZero),
        "[a-z-]{0,24}"
            .prop_filter("unknown", |t| t.parse::<Topic>().is_err())
            .prop_map(Damage::Topic),
        prop_oneof![
            Just(String::new()),
            "\\.[a-z]{0,8}",
            "[a-z]{0,4}[/\\\\ :é][a-z]{0,4}",
            "[a-z]{65,80}"
        ]
        .prop_map(Damage::Node),
        prop_oneof![
            Just(String::new()),
            Just(".".to_owned()),
            Just("..".to_owned()),
            "[._-][a-z]{0,8}",
            "\\.\\./[a-z]{1,8}",
            "[a-z]{1,4}[/\\\\ :é][a-z]{0,4}",
            "[a-z]{129,140}"
        ]
        .prop_map(Damage::RoutingKey),
        proptest::sample::select(vec![
            "[]",
            "\"s\"",
            "1",
            "null",
            "{}",
            "{\"msgType\":1}",
            "{\"msgType\":\"a\",\"msgType\":\"b\"}",
            "{\"inner\":{\"msgType\":\"a\"}}",
        ])
        .prop_map(Damage::Event),
    ]
}

fn damaged_line(item: &Item, damage: &Damage) -> (String, &'static str) {
    let rk = |rk: &str| serde_json::to_string(rk).unwrap();
    let line = |node: &str, seq: u64, topic: &str, rk: Option<String>, event: &str| {
        let rk = rk
            .map(|r| format!(",\"routingKey\":{r}"))
            .unwrap_or_default();
        let node = serde_json::to_string(node).unwrap();
        let topic = serde_json::to_string(topic).unwrap();
        format!(r#"{{"node":{node},"seq":{seq},"topic":{topic}{rk},"event":{event}}}"#)
    };
    let (n, s, t, e) = (
        item.node.as_str(),
        item.seq,
        item.topic.wire_name(),
        item.event.get(),
    );
    let r = item.routing_key.as_ref().map(|k| rk(k.as_str()));
    match damage {
        Damage::Truncate(at) => {
            let full = line(n, s, t, r, e);
            let mut cut = at.index(full.len());
            while !full.is_char_boundary(cut) {
                cut -= 1;
            }
            (full[..cut].to_owned(), "malformed")
        }
        Damage::Blank => (String::new(), "malformed"),
        Damage::UnknownKey => {
            let full = line(n, s, t, r, e);
            (
                format!("{},\"extra\":1}}", &full[..full.len() - 1]),
                "malformed",
            )
        }
        Damage::SeqZero => (line(n, 0, t, r, e), "malformed"),
        Damage::Topic(bad) => (line(n, s, bad, r, e), "unknown_topic"),
        Damage::Node(bad) => (line(bad, s, t, r, e), "bad_node"),
        Damage::RoutingKey(bad) => (line(n, s, t, Some(rk(bad)), e), "bad_routing_key"),
        Damage::Event(bad) => (line(n, s, t, r, bad), "bad_event"),
    }
}

fn timezone() -> impl Strategy<Value = Timezone> {
    prop_oneof![
        Just(Timezone::Utc),
        Just(Timezone::Local),
        (-86_399..=86_399i32)
            .prop_map(|s| Timezone::Fixed(chrono::FixedOffset::east_opt(s).unwrap())),
    ]
}

fn time() -> impl Strategy<Value = SystemTime> {
    // About 10000 BC to 10000 AD.
    (-377_000_000_000i64..=253_402_300_799, 0..1000u64).prop_map(|(s, ms)| {
        let offset = Duration::from_secs(s.unsigned_abs()) + Duration::from_millis(ms);
        if s < 0 {
            UNIX_EPOCH - offset
        } else {
            UNIX_EPOCH + offset
        }
    })
}

proptest! {
    // A few thousand cases by default; PROPTEST_CASES raises it (scripts/fuzz-properties.sh).
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(2_000),
    ))]

    #[test]
    fn never_panics_on_arbitrary_bytes(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check_accepted(&body, false);
        check_accepted(&body, true);
        check_accepted(&gz(&body), true);
    }

    #[test]
    fn never_panics_on_damaged_batches(
        items in items(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), any::<u8>()), 1..6),
        limit in 0..4096usize,
    ) {
        let body = batch(&items, true);
        let zipped = gz(&body);
        let damaged = mutate(body.clone(), &edits);
        check_accepted(&damaged, false);
        check_accepted(&gz(&damaged), true);
        check_accepted(&mutate(zipped.clone(), &edits), true);
        // Any limit: the batch passes exactly when it fits.
        let fits = parse_batch(&body, false, limit).map(|_| ()).map_err(|e| e.kind);
        let zfits = parse_batch(&zipped, true, limit).map(|_| ()).map_err(|e| e.kind);
        if body.len() <= limit {
            prop_assert_eq!(fits, Ok(()));
        } else {
            prop_assert_eq!(fits, Err(BatchErrorKind::TooLarge { limit }));
            prop_assert_eq!(zfits, Err(BatchErrorKind::TooLarge { limit }));
        }
    }

    #[test]
    fn round_trip(
        items in items(),
        final_newline: bool,
        gzip: bool,
    ) {
        let body = batch(&items, final_newline);
        prop_assert_eq!(body.iter().filter(|&&b| b == b'\n').count(), items.len() - usize::from(!final_newline));
        let body = if gzip { gz(&body) } else { body };
        let parsed = parse_batch(&body, gzip, MAX).unwrap();
        // Events come back byte for byte.
        prop_assert_eq!(parsed, items);
    }

    #[test]
    fn error_names_the_damaged_line(
        items in items(),
        at: prop::sample::Index,
        damage in damage(),
        final_newline: bool,
        gzip: bool,
    ) {
        let at = at.index(items.len());
        let (bad, reason) = damaged_line(&items[at], &damage);
        let mut lines: Vec<String> = items
            .iter()
            .map(|i| {
                let mut l = Vec::new();
                write_item(&mut l, &ItemRef::from(i));
                String::from_utf8(l).unwrap().trim_end().to_owned()
            })
            .collect();
        lines[at] = bad;
        let mut body = lines.join("\n");
        // A blank last line only shows with the newline after it.
        if final_newline || (at + 1 == items.len() && matches!(damage, Damage::Blank | Damage::Truncate(_))) {
            body.push('\n');
        }
        let body = if gzip { gz(body.as_bytes()) } else { body.into_bytes() };
        let e = parse_batch(&body, gzip, MAX).unwrap_err();
        if items.len() == 1 && lines[0].is_empty() {
            // A batch of one blank line is an empty batch.
            prop_assert_eq!((e.line, e.kind), (None, BatchErrorKind::Empty));
            return Ok(());
        }
        prop_assert_eq!(e.line, Some(at + 1), "{}", e);
        prop_assert_eq!(e.kind.reason(), reason, "{}", e);
        let prefix = format!("line {}: ", at + 1);
        prop_assert!(e.to_string().starts_with(&prefix));
    }

    #[test]
    fn stored_lines_are_one_json_line(item in item(), v6: [u8; 16], time in time()) {
        let mut out = Vec::new();
        let ip = std::net::IpAddr::from(v6);
        write_stored_line(&mut out, &item.event, ip, time, Timezone::Utc);
        prop_assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        prop_assert_eq!(out.last(), Some(&b'\n'));
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let want: serde_json::Value = serde_json::from_str(item.event.get()).unwrap();
        prop_assert_eq!(&v["clientEvent"], &want);
        let ip_back: std::net::IpAddr = v["origAddress"].as_str().unwrap().parse().unwrap();
        prop_assert_eq!(ip_back, ip.to_canonical());
        let prefix = format!("{{\"clientEvent\":{},", item.event.get());
        prop_assert!(out.starts_with(prefix.as_bytes()));
    }

    #[test]
    fn paths_stay_under_the_root(
        topic in topic(),
        rk in prop_oneof![
            routing_key().prop_map(Some),
            // Any string the validation accepts (rarely one of these).
            any::<String>().prop_map(|s| RoutingKey::new(s).ok()),
            "[a-z./\\\\]{0,6}".prop_map(|s| RoutingKey::new(s).ok()),
        ],
        folder_by_topic: bool,
        folder_by_routing_key: bool,
        partitioning in proptest::sample::select(vec![Partitioning::Month, Partitioning::Day, Partitioning::Hour]),
        time in time(),
        tz in timezone(),
    ) {
        let layout = Layout { folder_by_topic, folder_by_routing_key, partitioning };
        let rel = layout.relative_dir(topic, rk.as_ref(), time, tz);
        prop_assert!(rel.is_relative());
        let parts: Vec<String> = rel
            .components()
            .map(|c| match c {
                Component::Normal(p) => p.to_str().unwrap().to_owned(),
                other => panic!("component {other:?} in {rel:?}"),
            })
            .collect();
        prop_assert!(parts.iter().all(|p| !p.is_empty() && p != "." && p != ".."));
        let date_parts = match partitioning {
            Partitioning::Month => 2,
            Partitioning::Day => 3,
            Partitioning::Hour => 4,
        };
        let mut want = Vec::new();
        if folder_by_topic {
            want.push(topic.wire_name().to_owned());
        }
        if folder_by_routing_key {
            want.push(rk.as_ref().map_or(NO_ROUTING_KEY_DIR, RoutingKey::as_str).to_owned());
        }
        prop_assert_eq!(&parts[..want.len()], &want[..]);
        prop_assert_eq!(parts.len(), want.len() + date_parts);
        let root = Path::new("/var/lib/audit/events");
        let file = root
            .join(layout.relative_dir(topic, rk.as_ref(), time, tz))
            .join(FILE_NAME);
        prop_assert!(file.starts_with(root));
        prop_assert_eq!(file.file_name().unwrap(), FILE_NAME);
        prop_assert_eq!(file.components().count(), root.components().count() + parts.len() + 1);
    }
}
