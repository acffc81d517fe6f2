//! The body of `POST /events`: parsing on the server ([`parse_batch`]) and writing on the client
//! ([`write_item`]). The format is described in the [module docs](super).

use std::borrow::{Borrow, Cow};
use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::str::FromStr;

use flate2::read::MultiGzDecoder;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::encode::json::write_str;
use crate::{Topic, MSG_TYPE_KEY};

/// Longest accepted node id, in bytes.
pub const MAX_NODE_LEN: usize = 64;
/// Longest accepted routing key, in bytes.
pub const MAX_ROUTING_KEY_LEN: usize = 128;
/// Deepest accepted nesting of arrays and objects in an event, the event object included
/// (well within what JSON readers accept: `serde_json` stops at 128, Python at about 1000).
pub const MAX_EVENT_DEPTH: usize = 100;

fn name_chars_ok(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

macro_rules! checked_name {
    ($(#[$doc:meta])* $name:ident, $err:ident, $valid:expr, $msg:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        #[doc = concat!("A string that is not a valid [`", stringify!($name), "`].")]
        #[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
        #[error($msg, shown(.0))]
        pub struct $err(pub String);

        impl $name {
            /// Checks `s` and wraps it.
            pub fn new(s: impl Into<String>) -> Result<Self, $err> {
                let s = s.into();
                if Self::is_valid(&s) { Ok(Self(s)) } else { Err($err(s)) }
            }
            /// Whether `s` is accepted by [`Self::new`].
            pub fn is_valid(s: &str) -> bool {
                let valid: fn(&str) -> bool = $valid;
                valid(s)
            }
            /// The checked string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = $err;
            fn try_from(s: String) -> Result<Self, $err> {
                Self::new(s)
            }
        }
        impl FromStr for $name {
            type Err = $err;
            fn from_str(s: &str) -> Result<Self, $err> {
                Self::new(s)
            }
        }
        impl From<$name> for String {
            fn from(n: $name) -> String {
                n.0
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

checked_name!(
    /// A client node id: 1 to 64 characters of `A-Z a-z 0-9 . _ -`, not starting with `.`.
    /// With the per-node sequence number it identifies an event for deduplication.
    NodeId,
    InvalidNodeId,
    |s| name_chars_ok(s, MAX_NODE_LEN) && !s.starts_with('.'),
    "invalid node id `{}` (1 to 64 characters of A-Z a-z 0-9 . _ -, not starting with `.`)"
);

checked_name!(
    /// A routing key: 1 to 128 characters of `A-Z a-z 0-9 . _ -`, the first a letter or digit.
    /// It is always usable as one folder name on every filesystem a trail may be copied to:
    /// never empty, `.` or `..`, never containing `/` or `\`, never ending with `.` (Windows
    /// drops it, so `a.` and `a` would share a folder) and never a Windows device name
    /// (`CON`, `nul`, `com1.log`, …), which no folder can be called there.
    RoutingKey,
    InvalidRoutingKey,
    |s| name_chars_ok(s, MAX_ROUTING_KEY_LEN)
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && !s.ends_with('.')
        && !is_device_name(s),
    "invalid routing key `{}` (1 to 128 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit, not ending with `.`, not a device name such as CON or nul)"
);

/// Windows' reserved device names (any case, with or without an extension): a folder cannot
/// be called `CON`, `nul` or `lpt1.txt` there. Allocates nothing: the event_server target
/// checks every event's routing key with it on the logging thread.
fn is_device_name(s: &str) -> bool {
    let stem = s.split('.').next().unwrap_or(s).as_bytes();
    let is = |name: &[u8]| stem.eq_ignore_ascii_case(name);
    is(b"CON")
        || is(b"PRN")
        || is(b"AUX")
        || is(b"NUL")
        || (stem.len() == 4
            && (stem[..3].eq_ignore_ascii_case(b"COM") || stem[..3].eq_ignore_ascii_case(b"LPT"))
            && matches!(stem[3], b'1'..=b'9'))
}

/// A value as quoted in an error message: at most 64 characters.
fn shown(s: &str) -> Cow<'_, str> {
    match s.char_indices().nth(64) {
        Some((cut, _)) => Cow::Owned(format!("{}…", &s[..cut])),
        None => Cow::Borrowed(s),
    }
}

/// One event of a batch, checked.
#[derive(Clone, Debug)]
pub struct Item {
    /// The sending node.
    pub node: NodeId,
    /// The event's sequence number on that node (≥ 1).
    pub seq: u64,
    /// The event's topic.
    pub topic: Topic,
    /// The event's routing key, if any.
    pub routing_key: Option<RoutingKey>,
    /// The event object, byte for byte as the client sent it.
    pub event: Box<RawValue>,
}

impl PartialEq for Item {
    fn eq(&self, other: &Item) -> bool {
        ItemRef::from(self) == ItemRef::from(other)
    }
}

/// A borrowed item, for writing with [`write_item`].
#[derive(Clone, Copy, Debug)]
pub struct ItemRef<'a> {
    /// The sending node.
    pub node: &'a NodeId,
    /// The event's sequence number on that node (≥ 1).
    pub seq: u64,
    /// The event's topic.
    pub topic: Topic,
    /// The event's routing key, if any.
    pub routing_key: Option<&'a RoutingKey>,
    /// The event object; it should carry a string `msgType`, or the server rejects the batch.
    pub event: &'a RawValue,
}

impl<'a> From<&'a Item> for ItemRef<'a> {
    fn from(item: &'a Item) -> ItemRef<'a> {
        ItemRef {
            node: &item.node,
            seq: item.seq,
            topic: item.topic,
            routing_key: item.routing_key.as_ref(),
            event: &item.event,
        }
    }
}

impl PartialEq for ItemRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        (
            self.node,
            self.seq,
            self.topic,
            self.routing_key,
            self.event.get(),
        ) == (
            other.node,
            other.seq,
            other.topic,
            other.routing_key,
            other.event.get(),
        )
    }
}

/// Appends `raw` so that it stays on one line: a line break can only be insignificant
/// whitespace in valid JSON, and is written as a space.
pub(crate) fn write_json_one_line(out: &mut Vec<u8>, raw: &RawValue) {
    let bytes = raw.get().as_bytes();
    let start = out.len();
    out.extend_from_slice(bytes);
    if bytes.iter().any(|&b| b == b'\n' || b == b'\r') {
        for b in &mut out[start..] {
            if *b == b'\n' || *b == b'\r' {
                *b = b' ';
            }
        }
    }
}

/// Appends one line of the wire format (`\n` included) for `item`. `routingKey` is left out
/// when there is none; line breaks inside the event (insignificant whitespace) become spaces,
/// so the line is always one line and otherwise keeps the event's bytes.
pub fn write_item(out: &mut Vec<u8>, item: &ItemRef<'_>) {
    out.extend_from_slice(b"{\"node\":");
    write_str(out, item.node.as_str());
    out.extend_from_slice(b",\"seq\":");
    out.extend_from_slice(itoa::Buffer::new().format(item.seq).as_bytes());
    out.extend_from_slice(b",\"topic\":\"");
    out.extend_from_slice(item.topic.wire_name().as_bytes());
    out.push(b'"');
    if let Some(rk) = item.routing_key {
        out.extend_from_slice(b",\"routingKey\":");
        write_str(out, rk.as_str());
    }
    out.extend_from_slice(b",\"event\":");
    write_json_one_line(out, item.event);
    out.extend_from_slice(b"}\n");
}

/// Why a batch was rejected; nothing of it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchError {
    /// The 1-based line of the batch at fault; `None` for the body as a whole.
    pub line: Option<usize>,
    /// What is wrong.
    pub kind: BatchErrorKind,
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.kind),
            None => fmt::Display::fmt(&self.kind, f),
        }
    }
}

impl std::error::Error for BatchError {}

/// What is wrong with a batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchErrorKind {
    /// Not JSON, not an object, an unknown or missing key, a value of the wrong type, a blank
    /// line, or `seq` 0.
    #[error("malformed item: {0}")]
    Malformed(String),
    /// `topic` is not one of the six topics.
    #[error("unknown topic `{0}`")]
    UnknownTopic(String),
    /// `node` is not a valid [`NodeId`].
    #[error("{0}")]
    BadNode(InvalidNodeId),
    /// `routingKey` is not a valid [`RoutingKey`].
    #[error("{0}")]
    BadRoutingKey(InvalidRoutingKey),
    /// `event` is not an object with a string `msgType`.
    #[error("bad event: {0}")]
    BadEvent(String),
    /// The body, compressed or decompressed, is larger than the limit.
    #[error("body larger than {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The body is not valid gzip.
    #[error("invalid gzip body: {0}")]
    BadGzip(String),
    /// The body holds no item.
    #[error("empty batch")]
    Empty,
    /// A node's `seq` is not above the one of its earlier item in the batch.
    #[error("seq {seq} of node `{node}` is not above {before}, sent earlier in this batch (a node's events must be in increasing order)")]
    SeqOrder {
        /// The node.
        node: String,
        /// This item's seq.
        seq: u64,
        /// The seq of the node's previous item.
        before: u64,
    },
}

impl BatchErrorKind {
    /// A short stable name of the kind, for metrics labels: `malformed`, `unknown_topic`,
    /// `bad_node`, `bad_routing_key`, `bad_event`, `too_large`, `bad_gzip`, `empty`, `seq_order`.
    pub fn reason(&self) -> &'static str {
        match self {
            BatchErrorKind::Malformed(_) => "malformed",
            BatchErrorKind::UnknownTopic(_) => "unknown_topic",
            BatchErrorKind::BadNode(_) => "bad_node",
            BatchErrorKind::BadRoutingKey(_) => "bad_routing_key",
            BatchErrorKind::BadEvent(_) => "bad_event",
            BatchErrorKind::TooLarge { .. } => "too_large",
            BatchErrorKind::BadGzip(_) => "bad_gzip",
            BatchErrorKind::Empty => "empty",
            BatchErrorKind::SeqOrder { .. } => "seq_order",
        }
    }
}

/// Parses a whole batch. `gzip` says the body is gzip-compressed (`Content-Encoding: gzip`);
/// `max_bytes` bounds the body as received and, for gzip, as decompressed (decompression stops
/// there). The first bad line rejects the whole batch.
///
/// ```
/// use log4rs_audit::server::wire::{parse_batch, BatchErrorKind};
///
/// let body = br#"{"node":"web-1","seq":7,"topic":"generic","event":{"msgType":"login","authUser":"bob"}}
/// {"node":"web-1","seq":8,"topic":"authfail","routingKey":"sso","event":{"msgType":"login-failed"}}
/// "#;
/// let items = parse_batch(body, false, 1 << 20)?;
/// assert_eq!(items[1].routing_key.as_ref().unwrap().as_str(), "sso");
/// assert_eq!(items[0].event.get(), r#"{"msgType":"login","authUser":"bob"}"#);
///
/// let err = parse_batch(br#"{"node":"web-1","seq":9,"topic":"genric","event":{"msgType":"x"}}"#, false, 1 << 20)
///     .unwrap_err();
/// assert_eq!(err.to_string(), "line 1: unknown topic `genric`");
/// # Ok::<(), log4rs_audit::server::wire::BatchError>(())
/// ```
pub fn parse_batch(body: &[u8], gzip: bool, max_bytes: usize) -> Result<Vec<Item>, BatchError> {
    let whole = |kind| BatchError { line: None, kind };
    if body.len() > max_bytes {
        return Err(whole(BatchErrorKind::TooLarge { limit: max_bytes }));
    }
    let inflated;
    let text = if gzip {
        inflated = inflate(body, max_bytes)?;
        &inflated[..]
    } else {
        body
    };
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    if text.is_empty() {
        return Err(whole(BatchErrorKind::Empty));
    }
    // A node's events must come in increasing order: the server keeps one high-water mark
    // per node, so a lower number after a higher one would read as an already stored event.
    let mut last_seq: HashMap<NodeId, u64> = HashMap::new();
    let mut items = Vec::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let at = |kind| BatchError {
            line: Some(i + 1),
            kind,
        };
        let item = parse_line(line).map_err(at)?;
        match last_seq.get_mut(&item.node) {
            Some(before) if item.seq <= *before => {
                return Err(at(BatchErrorKind::SeqOrder {
                    node: item.node.as_str().to_owned(),
                    seq: item.seq,
                    before: *before,
                }));
            }
            Some(before) => *before = item.seq,
            None => {
                last_seq.insert(item.node.clone(), item.seq);
            }
        }
        items.push(item);
    }
    Ok(items)
}

/// Decompresses a gzip body (concatenated members accepted), stopping past `max_bytes`.
pub fn inflate(body: &[u8], max_bytes: usize) -> Result<Vec<u8>, BatchError> {
    let whole = |kind| BatchError { line: None, kind };
    let mut out = Vec::new();
    MultiGzDecoder::new(body)
        .take((max_bytes as u64).saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| whole(BatchErrorKind::BadGzip(e.to_string())))?;
    if out.len() > max_bytes {
        return Err(whole(BatchErrorKind::TooLarge { limit: max_bytes }));
    }
    Ok(out)
}

/// An item as it is on the wire, before checks.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireItem<'a> {
    #[serde(borrow)]
    node: Cow<'a, str>,
    seq: u64,
    #[serde(borrow)]
    topic: Cow<'a, str>,
    #[serde(default, rename = "routingKey")]
    routing_key: Option<String>,
    #[serde(borrow)]
    event: &'a RawValue,
}

fn parse_line(line: &[u8]) -> Result<Item, BatchErrorKind> {
    let malformed = |m: &str| BatchErrorKind::Malformed(m.to_owned());
    match line.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Err(malformed("blank line")),
        Some(b'{') => {}
        Some(_) => return Err(malformed("an item must be a JSON object")),
    }
    let wire: WireItem<'_> = serde_json::from_slice(line).map_err(|e| {
        let text = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let msg = text.strip_suffix(&suffix).unwrap_or(&text);
        match e.column() {
            0 => BatchErrorKind::Malformed(msg.to_owned()),
            col => BatchErrorKind::Malformed(format!("{msg} at column {col}")),
        }
    })?;
    let node = NodeId::new(wire.node).map_err(BatchErrorKind::BadNode)?;
    if wire.seq == 0 {
        return Err(malformed("`seq` must be at least 1"));
    }
    let topic = wire
        .topic
        .parse::<Topic>()
        .map_err(|e| BatchErrorKind::UnknownTopic(shown(&e.0).into_owned()))?;
    let routing_key = match wire.routing_key {
        Some(rk) => Some(RoutingKey::new(rk).map_err(BatchErrorKind::BadRoutingKey)?),
        None => None,
    };
    check_event(wire.event).map_err(|e| BatchErrorKind::BadEvent(e.into_owned()))?;
    Ok(Item {
        node,
        seq: wire.seq,
        topic,
        routing_key,
        event: wire.event.to_owned(),
    })
}

/// Checks that `event` is an object with a string `msgType`, no key given twice in one
/// object at any depth (readers would disagree on its value) and no raw carriage return
/// (which some line readers, Python's among them, take for a line break).
fn check_event(event: &RawValue) -> Result<(), Cow<'static, str>> {
    let text = event.get();
    if !text.starts_with('{') {
        return Err("`event` must be a JSON object".into());
    }
    if text.contains('\r') {
        return Err("`event` contains a raw carriage return".into());
    }
    if crate::encode::json::depth(text.as_bytes()) > MAX_EVENT_DEPTH {
        return Err("`event` is nested more than 100 levels deep".into());
    }
    match serde_json::from_str::<MsgType>(text) {
        Ok(MsgType(Some(true))) => {}
        Ok(MsgType(Some(false))) => return Err("`msgType` must be a string".into()),
        Ok(MsgType(None)) => return Err("`event` has no `msgType`".into()),
        Err(_) => return Err("`event` has more than one `msgType`".into()),
    }
    match super::dup_keys::find_duplicate_key(text) {
        Ok(None) => Ok(()),
        Ok(Some(dup)) => Err(format!("duplicate key {}", dup.describe("event")).into()),
        // RawValue already checked the syntax.
        Err(e) => Err(format!("`event` is not valid JSON: {e}").into()),
    }
}

/// Whether an event object has a `msgType` and whether it is a string.
struct MsgType(Option<bool>);

impl<'de> Deserialize<'de> for MsgType {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<MsgType, D::Error> {
        d.deserialize_map(MsgTypeVisitor)
    }
}

struct MsgTypeVisitor;

impl<'de> Visitor<'de> for MsgTypeVisitor {
    type Value = MsgType;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MsgType, A::Error> {
        let mut found = None;
        while let Some(is_msg_type) = map.next_key_seed(IsMsgTypeKey)? {
            if !is_msg_type {
                map.next_value::<IgnoredAny>()?;
            } else if found.is_some() {
                return Err(de::Error::custom("duplicate msgType"));
            } else {
                let raw: &RawValue = map.next_value()?;
                found = Some(raw.get().starts_with('"'));
            }
        }
        Ok(MsgType(found))
    }
}

/// Deserializes a key to whether it is `msgType`, without allocating.
struct IsMsgTypeKey;

impl<'de> DeserializeSeed<'de> for IsMsgTypeKey {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for IsMsgTypeKey {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(key == MSG_TYPE_KEY)
    }
}

/// The body of a `200` answer to `POST /events`, written by the server and read by the
/// `event_server` target: every event of the batch is counted exactly once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct BatchAnswer {
    /// Events written now by at least one destination.
    pub stored: u64,
    /// Events at or below their node's high-water mark: taken for resends, skipped.
    pub duplicates: u64,
    /// Events accepted that no destination takes (no `topics`/`routing_keys`/
    /// `required_auth_key` match): in no file, so never counted as stored. Absent from the
    /// answers of older servers.
    #[serde(default)]
    pub unrouted: u64,
}

impl BatchAnswer {
    /// The answer's JSON text, e.g. `{"stored":2,"duplicates":0,"unrouted":0}`.
    pub fn to_json(&self) -> String {
        format!(
            "{{\"stored\":{},\"duplicates\":{},\"unrouted\":{}}}",
            self.stored, self.duplicates, self.unrouted
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;

    const MAX: usize = 1 << 20;

    fn parse(body: &str) -> Result<Vec<Item>, BatchError> {
        parse_batch(body.as_bytes(), false, MAX)
    }

    fn err(body: &str) -> String {
        parse(body).unwrap_err().to_string()
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    const TWO: &str = concat!(
        r#"{"node":"web-1","seq":7,"topic":"generic","event":{"msgType":"login","authUser":"bob"}}"#,
        "\n",
        r#"{"event":{ "n" : 1.50e2, "msgType" : "x" },"routingKey":"fraud-svc","topic":"apinode-query","seq":18446744073709551615,"node":"A_b.c-9"}"#,
        "\n"
    );

    #[test]
    fn parses_items_and_keeps_events_verbatim() {
        let items = parse(TWO).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].node.as_str(), "web-1");
        assert_eq!(items[0].seq, 7);
        assert_eq!(items[0].topic, Topic::Generic);
        assert_eq!(items[0].routing_key, None);
        assert_eq!(
            items[0].event.get(),
            r#"{"msgType":"login","authUser":"bob"}"#
        );
        assert_eq!(items[1].node.as_str(), "A_b.c-9");
        assert_eq!(items[1].seq, u64::MAX);
        assert_eq!(items[1].topic, Topic::ApinodeQuery);
        assert_eq!(items[1].routing_key.as_ref().unwrap().as_str(), "fraud-svc");
        assert_eq!(items[1].event.get(), r#"{ "n" : 1.50e2, "msgType" : "x" }"#);
        // The final newline is optional; CRLF and a null routing key are accepted.
        assert_eq!(parse(TWO.trim_end()).unwrap(), items);
        assert_eq!(parse(&TWO.replace('\n', "\r\n")).unwrap(), items);
        let null_rk = r#"{"node":"web-1","seq":7,"topic":"generic","routingKey":null,"event":{"msgType":"login","authUser":"bob"}}"#;
        assert_eq!(parse(null_rk).unwrap()[0], items[0]);
    }

    #[test]
    fn routing_keys_are_portable_folder_names() {
        for bad in [
            "CON", "nul", "Aux", "prn.log", "com1", "LPT9.txt", "svc.", "a..", "x_-.",
        ] {
            assert!(!RoutingKey::is_valid(bad), "{bad} accepted");
            let e = RoutingKey::new(bad).unwrap_err().to_string();
            assert!(e.contains("not a device name such as CON or nul"), "{e}");
        }
        for good in [
            "console", "nullable", "com0", "com10", "lpt", "a.b", "svc-1", "CONx.y",
        ] {
            assert!(RoutingKey::is_valid(good), "{good} refused");
        }
    }

    #[test]
    fn every_topic_by_its_wire_name() {
        for topic in Topic::ALL {
            let line =
                format!(r#"{{"node":"n","seq":1,"topic":"{topic}","event":{{"msgType":"x"}}}}"#);
            assert_eq!(parse(&line).unwrap()[0].topic, topic);
        }
    }

    fn item(fields: &str) -> String {
        format!("{{{fields}}}")
    }

    #[test]
    fn malformed_items() {
        let ok = r#"{"node":"n","seq":1,"topic":"generic","event":{"msgType":"x"}}"#;
        let cases = [
            (r#"{"node":"n","seq":1,"topic""#.to_owned(), "line 2: malformed item: EOF while parsing an object at column 27"),
            (r#"{"node" "n"}"#.to_owned(), "line 2: malformed item: expected `:` at column 9"),
            (item(r#""node":"n","seq":1,"topic":"generic","event":{"msgType":"x"},"extra":1"#), "line 2: malformed item: unknown field `extra`, expected one of `node`, `seq`, `topic`, `routingKey`, `event` at column 69"),
            (item(r#""node":"n","seq":1,"topic":"generic""#), "line 2: malformed item: missing field `event` at column 38"),
            (item(r#""node":"n","node":"m","seq":1,"topic":"generic","event":{"msgType":"x"}"#), "line 2: malformed item: duplicate field `node` at column 18"),
            (item(r#""node":"n","seq":0,"topic":"generic","event":{"msgType":"x"}"#), "line 2: malformed item: `seq` must be at least 1"),
            (item(r#""node":"n","seq":-1,"topic":"generic","event":{"msgType":"x"}"#), "line 2: malformed item: invalid value: integer `-1`, expected u64 at column 20"),
            (item(r#""node":"n","seq":"1","topic":"generic","event":{"msgType":"x"}"#), "line 2: malformed item: invalid type: string \"1\", expected u64 at column 21"),
            (item(r#""node":7,"seq":1,"topic":"generic","event":{"msgType":"x"}"#), "line 2: malformed item: invalid type: integer `7`, expected a string at column 9"),
            (format!("{ok} x"), "line 2: malformed item: trailing characters at column 64"),
            (r#"["n",1,"generic",null,{"msgType":"x"}]"#.to_owned(), "line 2: malformed item: an item must be a JSON object"),
            (String::new(), "line 2: malformed item: blank line"),
            (" \t\r".to_owned(), "line 2: malformed item: blank line"),
            ("{\"node\":\"\u{0}\"}".to_owned(), "line 2: malformed item: control character (\\u0000-\\u001F) found while parsing a string at column 10"),
        ];
        for (bad, want) in cases {
            assert_eq!(err(&format!("{ok}\n{bad}\n{ok}")), want, "{bad}");
        }
        // Invalid UTF-8.
        let body = [ok.as_bytes(), b"\n{\"node\":\"\xff\"}"].concat();
        let e = parse_batch(&body, false, MAX).unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(matches!(e.kind, BatchErrorKind::Malformed(_)), "{e}");
        // A blank last line: two newlines at the end.
        assert_eq!(
            err(&format!("{ok}\n\n")),
            "line 2: malformed item: blank line"
        );
    }

    fn with(node: &str, topic: &str, rk: &str, event: &str) -> String {
        format!(r#"{{"node":{node},"seq":1,"topic":{topic},"routingKey":{rk},"event":{event}}}"#)
    }

    #[test]
    fn checked_values() {
        let ev = r#"{"msgType":"x"}"#;
        let cases = [
            (with(r#""""#, r#""generic""#, "null", ev), "line 1: invalid node id `` (1 to 64 characters of A-Z a-z 0-9 . _ -, not starting with `.`)"),
            (with(r#"".n""#, r#""generic""#, "null", ev), "line 1: invalid node id `.n` (1 to 64 characters of A-Z a-z 0-9 . _ -, not starting with `.`)"),
            (with(r#""a/b""#, r#""generic""#, "null", ev), "line 1: invalid node id `a/b` (1 to 64 characters of A-Z a-z 0-9 . _ -, not starting with `.`)"),
            (with(&format!(r#""{}""#, "n".repeat(65)), r#""generic""#, "null", ev), "line 1: invalid node id `nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn…` (1 to 64 characters of A-Z a-z 0-9 . _ -, not starting with `.`)"),
            (with(r#""n""#, r#""genric""#, "null", ev), "line 1: unknown topic `genric`"),
            (with(r#""n""#, r#""Generic""#, "null", ev), "line 1: unknown topic `Generic`"),
            (with(r#""n""#, r#""generic""#, r#""..""#, ev), "line 1: invalid routing key `..` (1 to 128 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit, not ending with `.`, not a device name such as CON or nul)"),
            (with(r#""n""#, r#""generic""#, r#""""#, ev), "line 1: invalid routing key `` (1 to 128 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit, not ending with `.`, not a device name such as CON or nul)"),
            (with(r#""n""#, r#""generic""#, r#""../etc""#, ev), "line 1: invalid routing key `../etc` (1 to 128 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit, not ending with `.`, not a device name such as CON or nul)"),
            (with(r#""n""#, r#""generic""#, r#""a\\b""#, ev), "line 1: invalid routing key `a\\b` (1 to 128 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit, not ending with `.`, not a device name such as CON or nul)"),
            (with(r#""n""#, r#""generic""#, r#""_none""#, ev), "line 1: invalid routing key `_none` (1 to 128 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit, not ending with `.`, not a device name such as CON or nul)"),
            (with(r#""n""#, r#""generic""#, "null", "[1]"), "line 1: bad event: `event` must be a JSON object"),
            (with(r#""n""#, r#""generic""#, "null", r#""{}""#), "line 1: bad event: `event` must be a JSON object"),
            (with(r#""n""#, r#""generic""#, "null", "{}"), "line 1: bad event: `event` has no `msgType`"),
            (with(r#""n""#, r#""generic""#, "null", r#"{"a":{"msgType":"x"}}"#), "line 1: bad event: `event` has no `msgType`"),
            (with(r#""n""#, r#""generic""#, "null", r#"{"msgType":1}"#), "line 1: bad event: `msgType` must be a string"),
            (with(r#""n""#, r#""generic""#, "null", r#"{"msgType":null}"#), "line 1: bad event: `msgType` must be a string"),
            (with(r#""n""#, r#""generic""#, "null", r#"{"msgType":"x","msgType":"y"}"#), "line 1: bad event: `event` has more than one `msgType`"),
            (with(r#""n""#, r#""generic""#, "null", "{\"msgType\":\"x\",\r\"a\":1}"), "line 1: bad event: `event` contains a raw carriage return"),
            (with(r#""n""#, r#""generic""#, "null", r#"{"msgType":"x","authUser":"alice","authUser":"mallory"}"#), "line 1: bad event: duplicate key `authUser` in `event`"),
            (with(r#""n""#, r#""generic""#, "null", r#"{"msgType":"x","ctx":[{"who":{"u":1,"\u0075":2}}]}"#), "line 1: bad event: duplicate key `u` in `event.ctx[0].who`"),
        ];
        for (line, want) in cases {
            assert_eq!(err(&line), want, "{line}");
        }
        // Accepted edge values; an escaped key is still msgType.
        let max_rk = format!(r#""{}""#, "r".repeat(128));
        let max_node = format!(r#""{}""#, "n".repeat(64));
        for line in [
            with(
                &max_node,
                r#""generic""#,
                &max_rk,
                r#"{"msg\u0054ype":"x"}"#,
            ),
            with(
                r#""_n""#,
                r#""generic""#,
                r#""9.._-""#,
                r#"{"a":[{"msgType":1}],"msgType":"" }"#,
            ),
            with(
                r#""n..""#,
                r#""gen\u0065ric""#,
                r#""a""#,
                r#"{"msgType":"x"}"#,
            ),
        ] {
            assert!(parse(&line).is_ok(), "{line}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        // The event object itself is one level; strings do not count.
        for (inner, ok) in [(99, true), (100, false), (100_000, false)] {
            let deep = format!("{}\"[{{]}}\\\"\"{}", "[".repeat(inner), "]".repeat(inner));
            let line = format!(
                r#"{{"node":"n","seq":1,"topic":"generic","event":{{"msgType":"x","d":{deep}}}}}"#
            );
            match parse(&line) {
                Ok(items) => {
                    assert!(ok, "{inner}");
                    // The stored line is still readable by serde_json.
                    let mut out = Vec::new();
                    crate::server::write_stored_line(
                        &mut out,
                        &items[0].event,
                        [127, 0, 0, 1].into(),
                        std::time::SystemTime::now(),
                        crate::encode::Timezone::Utc,
                    );
                    serde_json::from_slice::<serde_json::Value>(&out).unwrap();
                }
                Err(e) => {
                    assert!(!ok, "{inner}");
                    assert_eq!(
                        e.to_string(),
                        "line 1: bad event: `event` is nested more than 100 levels deep"
                    );
                }
            }
        }
    }

    #[test]
    fn first_bad_line_wins() {
        let ok = |seq: u64| {
            format!(r#"{{"node":"n","seq":{seq},"topic":"generic","event":{{"msgType":"x"}}}}"#)
        };
        let bad_topic = ok(3).replace("generic", "nope");
        let body = [ok(1), ok(2), bad_topic, "garbage".into(), ok(5)].join("\n");
        let e = parse(&body).unwrap_err();
        assert_eq!(e.line, Some(3));
        assert_eq!(e.kind, BatchErrorKind::UnknownTopic("nope".into()));
        assert_eq!(e.kind.reason(), "unknown_topic");
    }

    #[test]
    fn a_nodes_items_must_be_in_increasing_order() {
        let item = |node: &str, seq: u64| {
            format!(
                r#"{{"node":"{node}","seq":{seq},"topic":"generic","event":{{"msgType":"x"}}}}"#
            )
        };
        // Interleaved nodes are fine, each increasing.
        let ok = [item("a", 5), item("b", 1), item("a", 9), item("b", 2)].join("\n");
        assert_eq!(parse(&ok).unwrap().len(), 4);
        let body = [item("a", 5), item("b", 1), item("a", 5)].join("\n");
        let e = parse(&body).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 3: seq 5 of node `a` is not above 5, sent earlier in this batch (a node's events must be in increasing order)"
        );
        assert_eq!(e.kind.reason(), "seq_order");
    }

    #[test]
    fn whole_body_errors() {
        assert_eq!(err(""), "empty batch");
        assert_eq!(err("\n"), "empty batch");
        let e = parse("").unwrap_err();
        assert_eq!((e.line, e.kind.reason()), (None, "empty"));
        let big = TWO.as_bytes();
        assert!(parse_batch(big, false, big.len()).is_ok());
        assert_eq!(
            parse_batch(big, false, big.len() - 1)
                .unwrap_err()
                .to_string(),
            format!("body larger than {} bytes", big.len() - 1)
        );
    }

    #[test]
    fn gzip_bodies() {
        let items = parse(TWO).unwrap();
        let z = gz(TWO.as_bytes());
        assert_eq!(parse_batch(&z, true, MAX).unwrap(), items);
        // Exactly at the limit (decompressed) passes; one byte less is too large.
        assert_eq!(parse_batch(&z, true, TWO.len()).unwrap(), items);
        let e = parse_batch(&z, true, TWO.len() - 1).unwrap_err();
        assert_eq!(
            (e.line, e.kind),
            (
                None,
                BatchErrorKind::TooLarge {
                    limit: TWO.len() - 1
                }
            )
        );
        // A bomb stops at the limit.
        let bomb = gz(&vec![b' '; 50 << 20]);
        assert!(bomb.len() < 100_000);
        let e = parse_batch(&bomb, true, MAX).unwrap_err();
        assert_eq!(e.kind, BatchErrorKind::TooLarge { limit: MAX });
        // Concatenated members.
        let (a, b) = TWO.split_at(50);
        let two_members = [gz(a.as_bytes()), gz(b.as_bytes())].concat();
        assert_eq!(parse_batch(&two_members, true, MAX).unwrap(), items);
        // Not gzip, truncated, trailing garbage; an empty gzip stream.
        for bad in [
            TWO.as_bytes().to_vec(),
            z[..z.len() - 4].to_vec(),
            [&z[..], b"xx"].concat(),
        ] {
            let e = parse_batch(&bad, true, MAX).unwrap_err();
            assert_eq!((e.line, e.kind.reason()), (None, "bad_gzip"), "{e}");
        }
        assert_eq!(
            parse_batch(&gz(b""), true, MAX).unwrap_err().kind,
            BatchErrorKind::Empty
        );
        // Line numbers are those of the decompressed batch.
        let body = format!("{TWO}{{\"node\":1}}\n");
        assert_eq!(
            parse_batch(&gz(body.as_bytes()), true, MAX)
                .unwrap_err()
                .line,
            Some(3)
        );
    }

    #[test]
    fn write_item_golden() {
        let node = NodeId::new("web-1").unwrap();
        let rk = RoutingKey::new("fraud-svc").unwrap();
        let event = RawValue::from_string(r#"{"msgType":"q", "n":1.0}"#.into()).unwrap();
        let mut out = Vec::new();
        let mut item = ItemRef {
            node: &node,
            seq: 42,
            topic: Topic::ApinodeQuery,
            routing_key: Some(&rk),
            event: &event,
        };
        write_item(&mut out, &item);
        item.routing_key = None;
        item.topic = Topic::GenericFailure;
        item.seq = 43;
        write_item(&mut out, &item);
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            concat!(
                r#"{"node":"web-1","seq":42,"topic":"apinode-query","routingKey":"fraud-svc","event":{"msgType":"q", "n":1.0}}"#,
                "\n",
                r#"{"node":"web-1","seq":43,"topic":"generic-failure","event":{"msgType":"q", "n":1.0}}"#,
                "\n"
            )
        );
        let items = parse_batch(&out, false, MAX).unwrap();
        assert_eq!(ItemRef::from(&items[1]), item);
        // An event with line breaks still makes one line.
        let event = RawValue::from_string("{\n  \"msgType\": \"q\"\r\n}".into()).unwrap();
        out.clear();
        write_item(
            &mut out,
            &ItemRef {
                event: &event,
                ..item
            },
        );
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "{\"node\":\"web-1\",\"seq\":43,\"topic\":\"generic-failure\",\"event\":{   \"msgType\": \"q\"  }}\n"
        );
        assert_eq!(parse_batch(&out, false, MAX).unwrap().len(), 1);
    }

    #[test]
    fn names() {
        for ok in ["a", "0", "A.b_c-d", "a..", "_x", "-x"] {
            assert!(NodeId::is_valid(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            ".a",
            "a b",
            "a/b",
            "a\\b",
            "é",
            &"n".repeat(65),
        ] {
            assert!(!NodeId::is_valid(bad), "{bad}");
        }
        for ok in ["a", "0", "Z.b_c-d", "a..b", "9-", &"r".repeat(128)] {
            assert!(RoutingKey::is_valid(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a..",
            ".a",
            "_a",
            "-a",
            "a b",
            "a/b",
            "a\\b",
            "a:b",
            "é",
            &"r".repeat(129),
        ] {
            assert!(!RoutingKey::is_valid(bad), "{bad}");
        }
        let rk: RoutingKey = "svc-1".parse().unwrap();
        assert_eq!(rk.to_string(), "svc-1");
        assert_eq!(serde_json::to_string(&rk).unwrap(), r#""svc-1""#);
        assert_eq!(
            serde_json::from_str::<RoutingKey>(r#""svc-1""#).unwrap(),
            rk
        );
        let e = serde_json::from_str::<Vec<RoutingKey>>(r#"["ok","../x"]"#).unwrap_err();
        assert!(
            e.to_string().starts_with("invalid routing key `../x`"),
            "{e}"
        );
        let set: std::collections::HashSet<RoutingKey> = [rk].into();
        assert!(set.contains("svc-1"));
    }
}
