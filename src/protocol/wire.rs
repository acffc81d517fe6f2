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
#[non_exhaustive]
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
/// use log4rs_audit::protocol::wire::{parse_batch, BatchErrorKind};
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
/// # Ok::<(), log4rs_audit::protocol::wire::BatchError>(())
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
mod tests;
