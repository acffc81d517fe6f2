//! Lines → records, for both envelopes, streaming over the files of a trail.
//!
//! A log file line (`{"severity","logger","message","mdc","callTime","timestamp"}`) and an Event
//! Server line (`{"clientEvent","origAddress","serverTimestamp"}`) both become a [`Record`] that
//! borrows from the line: the event object (`message` / `clientEvent`) stays raw JSON until a
//! field of it is asked for ([`Record::fields`], [`Record::lookup`]). Fields may come in any
//! order; unknown fields are ignored.
//!
//! Files are read through [`LineReader`]'s reusable buffer, so memory stays constant whatever the size of the trail. Gzip files are inflated on
//! the fly. A last line without its newline that does not parse is a *torn* line (a writer
//! stopped mid-line): it is reported and skipped, and reading goes on. Any other line that is
//! not an envelope is reported as malformed, with its file and line number, and skipped.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
#[cfg(test)]
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::files::{FolderKey, Location, TrailFile};
use super::lines::LineReader;
use super::progress::Progress;
use super::scan;
use super::time::{parse_timestamp, Millis};

/// Which envelope a line has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Envelope {
    /// A log file line: `message` is the event.
    Log,
    /// An Event Server stored line: `clientEvent` is the event.
    Server,
}

/// A line that could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The file could not be opened or read (a truncated gzip file too).
    #[error("{}: after line {line}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Lines read before the error.
        line: u64,
        /// What the OS (or the gzip decoder) said.
        source: io::Error,
    },
    /// The last line has no newline and does not parse: a writer stopped mid-line.
    #[error("{}:{line}: torn last line ({bytes} bytes without a newline), skipped", path.display())]
    Torn {
        /// The file.
        path: PathBuf,
        /// Its line number (1-based).
        line: u64,
        /// Its length.
        bytes: usize,
    },
    /// A line longer than [`MAX_LINE_BYTES`](super::lines::MAX_LINE_BYTES): skipped unread,
    /// memory stays bounded.
    #[error(
        "{}:{line}: line of {bytes} bytes at byte {offset}{} is longer than the {} MiB limit, skipped",
        path.display(),
        if *gzip { " (inflated)" } else { "" },
        super::lines::MAX_LINE_BYTES >> 20
    )]
    Overlong {
        /// The file.
        path: PathBuf,
        /// The line number (1-based).
        line: u64,
        /// Where the line starts (in the inflated stream for gzip files).
        offset: u64,
        /// Its length.
        bytes: u64,
        /// Whether the file is gzip-compressed.
        gzip: bool,
    },
    /// Not a regular file (a FIFO, a device, a socket, or a link to one): never opened, so a
    /// FIFO cannot hang the reader and `/dev/zero` cannot exhaust it.
    #[error("{}: not a regular file, skipped", path.display())]
    NotRegular {
        /// The path.
        path: PathBuf,
    },
    /// A line that is not one of the two envelopes.
    #[error("{}:{line}: {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The line number (1-based).
        line: u64,
        /// Why.
        reason: String,
    },
}

/// One line of the trail, parsed. Borrows from the line.
#[derive(Debug)]
pub struct Record<'a> {
    /// The line as stored, without its newline.
    pub line: &'a str,
    /// Which envelope.
    pub envelope: Envelope,
    /// The event object (`message` or `clientEvent`); for application log lines, possibly a
    /// JSON string.
    pub event: &'a RawValue,
    /// `severity` (log lines).
    pub severity: Option<Cow<'a, str>>,
    /// `logger` (log lines).
    pub logger: Option<Cow<'a, str>>,
    /// `mdc` (log lines).
    pub mdc: Option<&'a RawValue>,
    /// `timestamp` (log lines) or `serverTimestamp` (Event Server lines, the receive time).
    pub timestamp: Option<Cow<'a, str>>,
    /// `origAddress` (Event Server lines).
    pub orig_address: Option<Cow<'a, str>>,
    /// Topic and routing-key folders of the file.
    pub location: &'a Location,
    /// The event's [`Fields`], when the parse already read them (the fast path reads them
    /// while validating the event, so [`Record::fields`] need not scan it again).
    known_fields: Option<Fields<'a>>,
}

/// The fields of an event the filters and reports use; strings only (other JSON types read as
/// absent).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields<'a> {
    /// `msgType`.
    pub msg_type: Option<Cow<'a, str>>,
    /// `authUser`.
    pub auth_user: Option<Cow<'a, str>>,
    /// `routingKey`.
    pub routing_key: Option<Cow<'a, str>>,
    /// `projectKey`.
    pub project_key: Option<Cow<'a, str>>,
    /// `datasetName`.
    pub dataset_name: Option<Cow<'a, str>>,
}

impl<'a> Fields<'a> {
    /// The field a key of the event fills, if any.
    fn slot(&mut self, key: &str) -> Option<&mut Option<Cow<'a, str>>> {
        self.slot_bytes(key.as_bytes())
    }

    fn slot_bytes(&mut self, key: &[u8]) -> Option<&mut Option<Cow<'a, str>>> {
        Some(match key {
            b"msgType" => &mut self.msg_type,
            b"authUser" => &mut self.auth_user,
            b"routingKey" => &mut self.routing_key,
            b"projectKey" => &mut self.project_key,
            b"datasetName" => &mut self.dataset_name,
            _ => return None,
        })
    }
}

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow, default)]
    severity: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    logger: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    message: Option<&'a RawValue>,
    #[serde(borrow, default)]
    mdc: Option<&'a RawValue>,
    #[serde(borrow, default)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "clientEvent")]
    client_event: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "origAddress")]
    orig_address: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "serverTimestamp")]
    server_timestamp: Option<Cow<'a, str>>,
}

/// Parses one line (without its newline) of either envelope.
///
/// ```
/// use log4rs_audit::query::files::Location;
/// use log4rs_audit::query::reader::{parse_line, Envelope};
///
/// let here = Location::default();
/// let line = r#"{"clientEvent":{"msgType":"login","authUser":"bob"},"origAddress":"10.0.0.5","serverTimestamp":"2020-02-19T16:05:02.441+0100"}"#;
/// let record = parse_line(line, &here)?;
/// assert_eq!(record.envelope, Envelope::Server);
/// assert_eq!(record.fields().msg_type.as_deref(), Some("login"));
/// assert_eq!(record.user().as_deref(), Some("bob"));
/// assert_eq!(record.time(), Some(1_582_124_702_441));
/// # Ok::<(), String>(())
/// ```
pub fn parse_line<'a>(line: &'a str, location: &'a Location) -> Result<Record<'a>, String> {
    if let Some(record) = parse_fast(line, location) {
        return Ok(record);
    }
    parse_serde(line, location)
}

/// [`parse_line`] through serde_json alone: the reference the fast path agrees with, and the
/// answer (with its error message) whenever the fast path is not sure.
pub(crate) fn parse_serde<'a>(line: &'a str, location: &'a Location) -> Result<Record<'a>, String> {
    let parsed: Line<'a> = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let (envelope, event, timestamp) = match (parsed.client_event, parsed.message) {
        (Some(event), _) => (Envelope::Server, event, parsed.server_timestamp),
        (None, Some(event)) => (Envelope::Log, event, parsed.timestamp),
        (None, None) => {
            return Err(
                "neither `message` (log file envelope) nor `clientEvent` (Event Server line)"
                    .into(),
            )
        }
    };
    Ok(Record {
        line,
        envelope,
        event,
        severity: parsed.severity,
        logger: parsed.logger,
        mdc: parsed.mdc,
        timestamp,
        orig_address: parsed.orig_address,
        location,
        known_fields: None,
    })
}

/// The index of an envelope field (in the order of [`Line`]'s), `None` for other keys.
fn envelope_key(key: &str) -> Option<usize> {
    Some(match key {
        "severity" => 0,
        "logger" => 1,
        "message" => 2,
        "mdc" => 3,
        "timestamp" => 4,
        "clientEvent" => 5,
        "origAddress" => 6,
        "serverTimestamp" => 7,
        _ => return None,
    })
}

/// Which of the [`envelope_key`]s hold a JSON value kept raw (the others hold strings).
const RAW_KEYS: u8 = 0b0010_1100;

/// One validating pass over the line ([`scan::Validator`]) that splits the envelope as
/// serde_json's derive of [`Line`] would; `None` whenever it is not sure of serde's answer
/// (see the [`scan`] module), so [`parse_serde`] decides.
fn parse_fast<'a>(line: &'a str, location: &'a Location) -> Option<Record<'a>> {
    let bytes = line.as_bytes();
    if scan::has_control(bytes) {
        return None;
    }
    let mut v = scan::Validator::new(bytes);
    v.ws();
    if v.peek()? != b'{' {
        return None; // serde's derive also reads a struct from an array: let it
    }
    v.i += 1;
    v.ws();
    let mut seen = 0u8;
    let mut strings: [Option<Cow<'a, str>>; 8] = Default::default();
    let mut raws: [Option<&'a RawValue>; 8] = [None; 8];
    // The fields of `message` and of `clientEvent`, when objects.
    let mut event_fields: [Option<Fields<'a>>; 2] = [None, None];
    if v.peek()? == b'}' {
        v.i += 1;
    } else {
        loop {
            if v.peek()? != b'"' {
                return None;
            }
            let key_start = v.i;
            let escaped = v.string()?;
            let key = &line[key_start + 1..v.i - 1];
            let which = if escaped {
                envelope_key(&scan::string_text(&line[key_start..v.i])?)
            } else {
                envelope_key(key)
            };
            v.expect(b':')?;
            match which {
                None => v.value(1)?,
                Some(k) => {
                    if seen & (1 << k) != 0 {
                        return None; // serde: duplicate field
                    }
                    seen |= 1 << k;
                    let start = v.i;
                    if v.peek()? == b'n' {
                        v.literal(b"null")?; // `None`, as serde reads a null Option
                    } else if (k == 2 || k == 5) && v.peek()? == b'{' {
                        // The event object: its fields are read as it is validated.
                        let mut fields = Fields::default();
                        v.object_members(2, |key, escaped, value, text| {
                            let slot = if escaped {
                                scan::string_text(&line[key]).and_then(|key| fields.slot(&key))
                            } else {
                                fields.slot_bytes(&bytes[key.start + 1..key.end - 1])
                            };
                            // The first occurrence that is a string wins.
                            if let (Some(slot @ None), Some(escaped)) = (slot, text) {
                                *slot = scan::string_text_known(&line[value], escaped);
                            }
                        })?;
                        raws[k] = Some(scan::raw_value(&line[start..v.i])?);
                        event_fields[usize::from(k == 5)] = Some(fields);
                    } else if RAW_KEYS & (1 << k) != 0 {
                        v.value(1)?;
                        raws[k] = Some(scan::raw_value(&line[start..v.i])?);
                    } else if v.peek()? == b'"' {
                        let escaped = v.string()?;
                        strings[k] = Some(scan::string_text_known(&line[start..v.i], escaped)?);
                    } else {
                        return None; // serde: invalid type
                    }
                }
            }
            v.ws();
            match v.peek()? {
                b',' => {
                    v.i += 1;
                    v.ws();
                }
                b'}' => {
                    v.i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    v.ws();
    if !v.at_end() {
        return None;
    }
    let [severity, logger, _, _, timestamp, _, orig_address, server_timestamp] = strings;
    let [message_fields, client_fields] = event_fields;
    let (envelope, event, timestamp, known_fields) = match (raws[5], raws[2]) {
        (Some(event), _) => (Envelope::Server, event, server_timestamp, client_fields),
        (None, Some(event)) => (Envelope::Log, event, timestamp, message_fields),
        (None, None) => return None, // serde words the error
    };
    // An event that is not an object has no fields.
    let known_fields = Some(known_fields.unwrap_or_default());
    Some(Record {
        line,
        envelope,
        event,
        severity,
        logger,
        mdc: raws[3],
        timestamp,
        orig_address,
        location,
        known_fields,
    })
}

impl<'a> Record<'a> {
    /// The event's time in milliseconds since the epoch (`timestamp`, or for Event Server lines
    /// `serverTimestamp`); `None` if absent or unreadable.
    pub fn time(&self) -> Option<Millis> {
        parse_timestamp(self.timestamp.as_deref()?)
    }

    /// The topic: the `logger`'s `dku.audit.<topic>` (or `dku::audit::<topic>`) for log lines,
    /// the topic folder for Event Server lines. `None` for other loggers and for Event Server
    /// files without a topic folder.
    pub fn topic(&self) -> Option<&str> {
        match self.envelope {
            Envelope::Log => {
                let logger = self.logger.as_deref()?;
                logger
                    .strip_prefix("dku.audit.")
                    .or_else(|| logger.strip_prefix("dku::audit::"))
            }
            Envelope::Server => self.location.topic.as_deref(),
        }
    }

    /// The string fields of the event (one pass over the event object).
    pub fn fields(&self) -> Fields<'a> {
        match &self.known_fields {
            Some(fields) => fields.clone(),
            None => self.scan_fields(),
        }
    }

    /// [`Record::fields`] read from the event text.
    fn scan_fields(&self) -> Fields<'a> {
        let mut fields = Fields::default();
        // An event that is not an object (an application log line's text) has no fields.
        scan::for_each_member(self.event.get(), |key, value| {
            let Some(slot) = fields.slot(&key.text()) else {
                return ControlFlow::Continue(());
            };
            // The first occurrence that is a string wins (other types read as absent).
            if slot.is_none() {
                *slot = scan::string_text(value);
            }
            ControlFlow::Continue(())
        });
        fields
    }

    /// [`Record::fields`] through serde_json: the reference the scanner agrees with.
    #[cfg(test)]
    fn fields_serde(&self) -> Fields<'a> {
        let mut fields = Fields::default();
        let mut de = serde_json::Deserializer::from_str(self.event.get());
        let _ = de::Deserializer::deserialize_any(&mut de, FieldsVisitor(&mut fields));
        fields
    }

    /// The user: the event's `authUser`, else the MDC's `user` (log lines).
    pub fn user(&self) -> Option<Cow<'a, str>> {
        self.user_with(&self.fields())
    }

    /// [`Record::user`] with the fields already read.
    pub fn user_with(&self, fields: &Fields<'a>) -> Option<Cow<'a, str>> {
        if let Some(user) = &fields.auth_user {
            return Some(user.clone());
        }
        scan::string_text(scan::member(self.mdc?.get(), "user")?)
    }

    /// The routing key: the routing-key folder for Event Server files filed by key, else the
    /// event's own `routingKey`.
    pub fn routing_key_with(&self, fields: &Fields<'a>) -> Option<Cow<'a, str>> {
        match &self.location.routing_key {
            FolderKey::Key(key) => Some(Cow::Owned(key.clone())),
            FolderKey::NoKey => None,
            FolderKey::NoFolder => fields.routing_key.clone(),
        }
    }

    /// The value at a path of keys in the event object (`["params", "format"]`), raw.
    pub fn lookup(&self, path: &[impl AsRef<str>]) -> Option<&'a RawValue> {
        lookup(self.event, path)
    }
}

/// The raw value at `path` inside a JSON object (the first occurrence of each key).
pub fn lookup<'a>(value: &'a RawValue, path: &[impl AsRef<str>]) -> Option<&'a RawValue> {
    let mut current = value;
    for key in path {
        // A `RawValue` is valid JSON: read without validating again.
        current = scan::raw_value(scan::member(current.get(), key.as_ref())?)?;
    }
    Some(current)
}

/// [`lookup`] through serde_json: the reference the scanner agrees with.
#[cfg(test)]
fn lookup_serde<'a>(value: &'a RawValue, path: &[impl AsRef<str>]) -> Option<&'a RawValue> {
    let mut current = value;
    for key in path {
        let mut de = serde_json::Deserializer::from_str(current.get());
        current = de::Deserializer::deserialize_any(&mut de, KeySeed(key.as_ref())).ok()??;
    }
    Some(current)
}

#[cfg(test)]
/// (serde reference) Finds one key of an object and returns its raw value.
struct KeySeed<'k>(&'k str);

#[cfg(test)]
impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if found.is_none() && key == self.0 {
                found = Some(map.next_value::<&'de RawValue>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

#[cfg(test)]
/// (serde reference) Reads the known string fields of an event object in one pass.
struct FieldsVisitor<'f, 'a>(&'f mut Fields<'a>);

#[cfg(test)]
impl<'de> Visitor<'de> for FieldsVisitor<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let slot = match key.as_ref() {
                "msgType" => &mut self.0.msg_type,
                "authUser" => &mut self.0.auth_user,
                "routingKey" => &mut self.0.routing_key,
                "projectKey" => &mut self.0.project_key,
                "datasetName" => &mut self.0.dataset_name,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            let value = map.next_value::<MaybeStr<'de>>()?.0;
            if slot.is_none() {
                *slot = value;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
/// Any JSON value; `Some` for a string.
struct MaybeStr<'a>(Option<Cow<'a, str>>);

#[cfg(test)]
impl<'de> Deserialize<'de> for MaybeStr<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MaybeStrVisitor)
    }
}

#[cfg(test)]
struct MaybeStrVisitor;

#[cfg(test)]
impl<'de> Visitor<'de> for MaybeStrVisitor {
    type Value = MaybeStr<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(MaybeStr(Some(Cow::Borrowed(v))))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(MaybeStr(Some(Cow::Owned(v.to_owned()))))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(MaybeStr(None))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(MaybeStr(None))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(MaybeStr(None))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(MaybeStr(None))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(MaybeStr(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(MaybeStr(None))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(MaybeStr(None))
    }
}

#[cfg(test)]
impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<&'de RawValue>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// What a read of the trail saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadSummary {
    /// Files read.
    pub files: u64,
    /// Lines that parsed (handed to the callback).
    pub records: u64,
    /// Malformed lines skipped (overlong ones included).
    pub malformed: u64,
    /// Torn last lines skipped.
    pub torn: u64,
    /// Files that could not be read to the end.
    pub io_errors: u64,
    /// Bytes of (inflated) lines read.
    pub bytes: u64,
}

impl ReadSummary {
    /// Whether a line was lost to something other than a torn last line.
    pub fn has_errors(&self) -> bool {
        self.malformed > 0 || self.io_errors > 0
    }
}

/// Reads every file in order, handing each record to `on_record` (which may stop the read with
/// `ControlFlow::Break`) and each problem to `on_problem`. Never fails as a whole: unreadable
/// files and bad lines are problems, counted in the summary.
///
/// ```
/// use std::ops::ControlFlow;
/// use log4rs_audit::query::{files, reader, progress::Progress};
///
/// let dir = tempfile::tempdir()?;
/// std::fs::write(
///     dir.path().join("audit.log"),
///     concat!(
///         r#"{"severity":"INFO","logger":"dku.audit.generic","message":{"msgType":"login","authUser":"bob"},"mdc":{},"timestamp":"2020-02-19T16:05:02.441+0100"}"#,
///         "\n{\"severity\":\"INFO\",\"logg",
///     ),
/// )?;
/// let trail = files::discover(&[dir.path().to_path_buf()])?;
/// let mut types = Vec::new();
/// let mut problems = Vec::new();
/// let summary = reader::read_trail(
///     &trail,
///     &Progress::hidden(),
///     |record| {
///         types.push(record.fields().msg_type.unwrap_or_default().into_owned());
///         ControlFlow::Continue(())
///     },
///     |problem| problems.push(problem.to_string()),
/// );
/// assert_eq!(types, ["login"]);
/// assert_eq!(summary.torn, 1);
/// assert!(problems[0].ends_with("audit.log:2: torn last line (24 bytes without a newline), skipped"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_trail(
    files: &[TrailFile],
    progress: &Progress,
    mut on_record: impl FnMut(&Record<'_>) -> ControlFlow<()>,
    on_problem: impl FnMut(&ReadError),
) -> ReadSummary {
    read_trail_in_order(files, progress, |record, _| on_record(record), on_problem)
}

/// Where a record is in the trail: the index of its file in the list read, then the offset of
/// its line in that file (in the inflated stream for gzip files). Records compare in the order
/// a sequential read meets them, whichever thread read them, so reports that break ties by
/// reading order give the same answer however the trail was split.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReadOrder {
    /// The file's index in the list read.
    pub file: u64,
    /// The byte offset of the line in the file.
    pub offset: u64,
}

/// [`read_trail`], handing each record's [`ReadOrder`] too.
pub fn read_trail_in_order(
    files: &[TrailFile],
    progress: &Progress,
    mut on_record: impl FnMut(&Record<'_>, ReadOrder) -> ControlFlow<()>,
    mut on_problem: impl FnMut(&ReadError),
) -> ReadSummary {
    let mut on_problem = |problem: ReadError| on_problem(&problem);
    let mut summary = ReadSummary::default();
    for (index, file) in files.iter().enumerate() {
        summary.files += 1;
        let flow = read_file(
            file,
            index as u64,
            progress,
            &mut summary,
            &mut on_record,
            &mut on_problem,
        );
        if flow.is_break() {
            break;
        }
    }
    summary
}

fn read_file(
    file: &TrailFile,
    index: u64,
    progress: &Progress,
    summary: &mut ReadSummary,
    on_record: &mut impl FnMut(&Record<'_>, ReadOrder) -> ControlFlow<()>,
    on_problem: &mut impl FnMut(ReadError),
) -> ControlFlow<()> {
    let Some(opened) = open_or_report(&file.path, summary, on_problem) else {
        return ControlFlow::Continue(());
    };
    let counted = progress.counting(opened);
    let source: Box<dyn Read> = if file.gzip {
        Box::new(MultiGzDecoder::new(counted))
    } else {
        Box::new(counted)
    };
    let span = Span {
        file,
        index,
        start: 0,
    };
    read_span(source, &span, summary, on_record, on_problem).0
}

/// Opens a file of the trail, or counts and reports why not.
pub(crate) fn open_or_report(
    path: &Path,
    summary: &mut ReadSummary,
    on_problem: &mut impl FnMut(ReadError),
) -> Option<File> {
    match open_regular(path) {
        Ok(Some(f)) => Some(f),
        Ok(None) => {
            summary.io_errors += 1;
            on_problem(ReadError::NotRegular {
                path: path.to_path_buf(),
            });
            None
        }
        Err(source) => {
            summary.io_errors += 1;
            on_problem(ReadError::Io {
                path: path.to_path_buf(),
                line: 0,
                source,
            });
            None
        }
    }
}

/// A run of whole lines of one file: all of it, or a byte range starting at a line start.
pub(crate) struct Span<'f> {
    /// The file.
    pub(crate) file: &'f TrailFile,
    /// Its index in the trail (the first half of [`ReadOrder`]).
    pub(crate) index: u64,
    /// Where `source` starts in the file (0 for a whole file).
    pub(crate) start: u64,
}

/// Reads the lines of `source` (the bytes of `span`): records to `on_record`, problems to
/// `on_problem` with line numbers counted from the span's start (the caller knows the lines
/// before it), offsets in the file. Returns whether `on_record` stopped the read, and the
/// lines read (for the next span's numbers).
pub(crate) fn read_span(
    source: impl Read,
    span: &Span<'_>,
    summary: &mut ReadSummary,
    on_record: &mut impl FnMut(&Record<'_>, ReadOrder) -> ControlFlow<()>,
    on_problem: &mut impl FnMut(ReadError),
) -> (ControlFlow<()>, u64) {
    let file = span.file;
    let path = &file.path;
    let mut lines = LineReader::new(source);
    let mut number = 0u64;
    loop {
        let raw = match lines.next_line() {
            Ok(Some(raw)) => raw,
            Ok(None) => return (ControlFlow::Continue(()), number),
            Err(source) => {
                summary.io_errors += 1;
                on_problem(ReadError::Io {
                    path: path.clone(),
                    line: number,
                    source,
                });
                return (ControlFlow::Continue(()), number);
            }
        };
        number += 1;
        let offset = span.start + raw.offset;
        if let Some(bytes) = raw.overlong {
            summary.bytes += bytes + u64::from(raw.terminated);
            summary.malformed += 1;
            on_problem(ReadError::Overlong {
                path: path.clone(),
                line: number,
                offset,
                bytes,
                gzip: file.gzip,
            });
            continue;
        }
        summary.bytes += raw.bytes.len() as u64 + u64::from(raw.terminated);
        if raw.bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = std::str::from_utf8(raw.bytes)
            .map_err(|e| format!("not UTF-8: {e}"))
            .and_then(|text| parse_line(text, &file.location));
        match parsed {
            Ok(record) => {
                summary.records += 1;
                let order = ReadOrder {
                    file: span.index,
                    offset,
                };
                if on_record(&record, order).is_break() {
                    return (ControlFlow::Break(()), number);
                }
            }
            Err(_) if !raw.terminated => {
                summary.torn += 1;
                on_problem(ReadError::Torn {
                    path: path.clone(),
                    line: number,
                    bytes: raw.bytes.len(),
                });
            }
            Err(reason) => {
                summary.malformed += 1;
                on_problem(ReadError::Malformed {
                    path: path.clone(),
                    line: number,
                    reason,
                });
            }
        }
    }
}

/// Opens `path` for reading if it is a regular file (following links), `None` otherwise. Opened
/// non-blocking, so a FIFO swapped in after the check cannot block the open; checked again on
/// the open file.
pub(crate) fn open_regular(path: &Path) -> io::Result<Option<File>> {
    if !std::fs::metadata(path)?.is_file() {
        return Ok(None);
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    Ok(file.metadata()?.is_file().then_some(file))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn log_envelope_fields_user_and_topic() {
        let here = Location::default();
        let line = r#"{"severity":"INFO","logger":"dku.audit.generic","message":{"msgType":"dataset-export","authUser":"al\"ice","projectKey":"P1","datasetName":7,"params":{"msgType":"no"}},"mdc":{"apiCall":"/x","user":"zed"},"callTime":9,"timestamp":"2020-02-19T16:05:02.441+0100"}"#;
        let r = parse_line(line, &here).unwrap();
        assert_eq!(r.envelope, Envelope::Log);
        assert_eq!(r.topic(), Some("generic"));
        let f = r.fields();
        assert_eq!(f.msg_type.as_deref(), Some("dataset-export"));
        assert_eq!(f.auth_user.as_deref(), Some("al\"ice"));
        assert_eq!(f.project_key.as_deref(), Some("P1"));
        assert_eq!(f.dataset_name, None);
        assert_eq!(
            r.lookup(&["params", "msgType"]).map(|v| v.get()),
            Some("\"no\"")
        );
        assert_eq!(r.time(), Some(1_582_124_702_441));
        // Without authUser, the MDC's user.
        let line =
            r#"{"message":{"msgType":"x"},"mdc":{"user":"zed"},"logger":"app","timestamp":"bad"}"#;
        let r = parse_line(line, &here).unwrap();
        assert_eq!(r.user().as_deref(), Some("zed"));
        assert_eq!(r.topic(), None);
        assert_eq!(r.time(), None);
        // Application text lines have no fields.
        let r = parse_line(r#"{"message":"hello","mdc":{}}"#, &here).unwrap();
        assert_eq!(r.fields(), Fields::default());
        assert!(parse_line(r#"{"mdc":{}}"#, &here).is_err());
        assert!(parse_line(r#"[1]"#, &here).is_err());
    }

    #[test]
    fn server_lines_take_topic_and_key_from_folders() {
        let line = r#"{"clientEvent":{"msgType":"prediction-query","routingKey":"inner"},"origAddress":"::1","serverTimestamp":"2020-02-19T16:05:02.441+0100"}"#;
        let filed = Location {
            topic: Some("apinode-query".into()),
            routing_key: FolderKey::Key("fraud-svc".into()),
            topic_unknown: false,
        };
        let r = parse_line(line, &filed).unwrap();
        let f = r.fields();
        assert_eq!(r.topic(), Some("apinode-query"));
        assert_eq!(r.routing_key_with(&f).as_deref(), Some("fraud-svc"));
        assert_eq!(r.orig_address.as_deref(), Some("::1"));
        let unfiled = Location::default();
        let r = parse_line(line, &unfiled).unwrap();
        assert_eq!(r.topic(), None);
        assert_eq!(r.routing_key_with(&f).as_deref(), Some("inner"));
    }

    proptest! {
        /// Arbitrary bytes through the line splitter and the parser never panic, and every byte
        /// lands in exactly one line.
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048), buf in 1usize..64) {
            let here = Location::default();
            let mut reader = LineReader::with_capacity(data.as_slice(), buf);
            let mut seen = 0;
            while let Some(line) = reader.next_line().unwrap() {
                seen += line.bytes.len() + usize::from(line.terminated);
                if let Ok(text) = std::str::from_utf8(line.bytes) {
                    if let Ok(r) = parse_line(text, &here) {
                        let f = r.fields();
                        let _ = (r.time(), r.topic(), r.user_with(&f), r.lookup(&["a", "b"]));
                    }
                }
            }
            // `\r` before a newline is dropped from the line but was read.
            let crlf = data.windows(2).filter(|w| w == b"\r\n").count();
            prop_assert_eq!(seen + crlf, data.len());
        }

        /// JSON-ish text (braces, quotes, keys of both envelopes) never panics either.
        #[test]
        fn json_like_text_never_panics(text in r#"[{}\[\]":,a-z0-9 \\]{0,40}|\{"(message|clientEvent|mdc|timestamp)":.{0,40}"#) {
            let here = Location::default();
            if let Ok(r) = parse_line(&text, &here) {
                let f = r.fields();
                let _ = (r.time(), r.topic(), r.user_with(&f), r.lookup(&["x"]));
            }
        }

        /// The fast path and serde_json agree on arbitrary envelopes: any key order, escapes
        /// in strings and keys, nested values, numbers, whitespace, duplicate and mistyped
        /// fields; and on the same lines with one byte changed (mostly invalid JSON).
        #[test]
        fn fast_path_agrees_with_serde(
            envelope in arb_envelope(),
            style in any::<u64>(),
            edit in (any::<usize>(), any::<u8>(), 0u8..3),
        ) {
            let mut text = String::new();
            write_json(&envelope, &mut text, &mut Style::new(style));
            assert_agree(&text);
            let mut bytes = text.into_bytes();
            if !bytes.is_empty() {
                let at = edit.0 % bytes.len();
                let byte = b"{}[]\":,\\ 0-.eE\tnx"[usize::from(edit.1) % 17];
                match edit.2 {
                    0 => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ => { bytes.remove(at); }
                }
            }
            if let Ok(text) = String::from_utf8(bytes) {
                assert_agree(&text);
            }
        }
    }

    /// `parse_line` (fast path first) and `parse_serde` give the same record or the same
    /// error, and the scanner's fields, lookups and user are serde's.
    fn assert_agree(text: &str) {
        let here = Location::default();
        match (parse_line(text, &here), parse_serde(text, &here)) {
            (Ok(fast), Ok(slow)) => {
                assert_eq!(fast.envelope, slow.envelope, "{text}");
                assert_eq!(fast.event.get(), slow.event.get(), "{text}");
                assert_eq!(
                    fast.mdc.map(RawValue::get),
                    slow.mdc.map(RawValue::get),
                    "{text}"
                );
                assert_eq!(
                    (
                        &fast.severity,
                        &fast.logger,
                        &fast.timestamp,
                        &fast.orig_address
                    ),
                    (
                        &slow.severity,
                        &slow.logger,
                        &slow.timestamp,
                        &slow.orig_address
                    ),
                    "{text}"
                );
                let fields = fast.fields();
                assert_eq!(fields, slow.fields_serde(), "{text}");
                assert_eq!(fast.scan_fields(), fields, "{text}");
                assert_eq!(slow.fields(), fields, "{text}");
                for path in [
                    &["msgType"][..],
                    &["a"],
                    &["a", "b"],
                    &["message"],
                    &["user"],
                    &["k\"ey"],
                ] {
                    assert_eq!(
                        fast.lookup(path).map(RawValue::get),
                        lookup_serde(slow.event, path).map(RawValue::get),
                        "{text} {path:?}"
                    );
                }
                let serde_user = match fields.auth_user.clone() {
                    Some(user) => Some(user),
                    None => slow
                        .mdc
                        .and_then(|m| lookup_serde(m, &["user"]))
                        .and_then(|u| serde_json::from_str::<Cow<'_, str>>(u.get()).ok()),
                };
                assert_eq!(fast.user_with(&fields), serde_user, "{text}");
            }
            (Err(fast), Err(slow)) => assert_eq!(fast, slow, "{text}"),
            (fast, slow) => panic!(
                "{text}: fast {:?}, serde {:?}",
                fast.map(|r| r.line),
                slow.map(|r| r.line)
            ),
        }
    }

    /// A JSON value for the agreement test.
    #[derive(Clone, Debug)]
    enum Json {
        Null,
        Bool(bool),
        Number(String),
        Text(String),
        Array(Vec<Json>),
        Object(Vec<(String, Json)>),
    }

    const KEYS: [&str; 16] = [
        "severity",
        "logger",
        "message",
        "mdc",
        "timestamp",
        "clientEvent",
        "origAddress",
        "serverTimestamp",
        "msgType",
        "authUser",
        "user",
        "routingKey",
        "projectKey",
        "datasetName",
        "a",
        "b",
    ];

    fn arb_text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9 ._:+-]{0,12}",
            "[\"\\\\/\u{1}\n\té€😀a]{0,6}",
            Just("2020-02-19T16:05:02.441+0100".to_owned()),
            Just("dku.audit.generic".to_owned()),
        ]
    }

    fn arb_key() -> impl Strategy<Value = String> {
        prop_oneof![4 => proptest::sample::select(&KEYS[..]).prop_map(str::to_owned), 1 => arb_text()]
    }

    fn arb_json() -> impl Strategy<Value = Json> {
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            "-?(0|[1-9][0-9]{0,6})(\\.[0-9]{1,4})?([eE][+-]?[0-9]{1,3})?".prop_map(Json::Number),
            arb_text().prop_map(Json::Text),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
                proptest::collection::vec((arb_key(), inner), 0..6).prop_map(Json::Object),
            ]
        })
    }

    /// An envelope-like object: known fields with fitting (or not) values, others, in any
    /// order, sometimes twice; sometimes not an object at all.
    fn arb_envelope() -> impl Strategy<Value = Json> {
        let member = (
            arb_key(),
            prop_oneof![
                2 => arb_text().prop_map(Json::Text),
                2 => arb_json(),
                1 => Just(Json::Null),
            ],
        );
        prop_oneof![
            8 => proptest::collection::vec(member, 0..8).prop_map(Json::Object),
            1 => arb_json(),
        ]
    }

    /// Decides how each token is written (escapes, whitespace); one line in four may have
    /// control whitespace (`\t`, `\r`, `\n`), which sends it to serde_json.
    struct Style(u64, bool);

    impl Style {
        fn new(seed: u64) -> Style {
            Style(seed | 1, seed % 4 == 0)
        }

        fn roll(&mut self, n: u64) -> u64 {
            // xorshift64
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
        fn space(&mut self, out: &mut String) {
            match self.roll(12) {
                0 => out.push(' '),
                1 => out.push_str("  "),
                2 if self.1 && self.roll(4) == 0 => {
                    out.push(['\t', '\r', '\n'][self.roll(3) as usize])
                }
                _ => {}
            }
        }
    }

    fn write_string(text: &str, out: &mut String, style: &mut Style) {
        out.push('"');
        for c in text.chars() {
            let escape = style.roll(5) == 0;
            match c {
                '"' | '\\' if !escape => {
                    out.push('\\');
                    out.push(c);
                }
                '\n' if !escape => out.push_str("\\n"),
                '\t' if !escape => out.push_str("\\t"),
                '/' if escape && style.roll(2) == 0 => out.push_str("\\/"),
                c if escape || (c as u32) < 0x20 || c == '"' || c == '\\' => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }

    fn write_json(value: &Json, out: &mut String, style: &mut Style) {
        style.space(out);
        match value {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => out.push_str(n),
            Json::Text(t) => write_string(t, out, style),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json(item, out, style);
                }
                style.space(out);
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (i, (key, item)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    style.space(out);
                    write_string(key, out, style);
                    style.space(out);
                    out.push(':');
                    write_json(item, out, style);
                    style.space(out);
                }
                style.space(out);
                out.push('}');
            }
        }
        style.space(out);
    }

    /// The agreement proptest would prove little if its envelopes all fell back to serde:
    /// most must take the fast path.
    #[test]
    fn agreement_envelopes_mostly_take_the_fast_path() {
        use proptest::strategy::ValueTree;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let here = Location::default();
        let (mut fast, mut records) = (0, 0);
        for seed in 1..=400u64 {
            let envelope = arb_envelope().new_tree(&mut runner).unwrap().current();
            let mut text = String::new();
            write_json(&envelope, &mut text, &mut Style::new(seed));
            fast += usize::from(parse_fast(&text, &here).is_some());
            records += usize::from(parse_serde(&text, &here).is_ok());
        }
        assert!(fast * 10 >= records * 6, "{fast} fast of {records} records");
        assert!(records >= 40, "{records} records of 400");
    }

    #[test]
    fn fast_path_examples_agree_with_serde() {
        for text in [
            r#"{"severity":"INFO","logger":"dku.audit.generic","message":{"msgType":"login","authUser":"bob"},"mdc":{"user":"x"},"callTime":0,"timestamp":"2020-02-19T16:05:02.441+0100"}"#,
            r#"{"mess\u0061ge":{"msg\u0054ype":"a\"b","msgType":"second"},"mdc":{"us\u0065r":"z\\"}}"#,
            r#"{"message":{"msgType":1,"msgType":"late"},"message":{}}"#,
            r#"{"message":{},"severity":5}"#,
            r#"{"message":{"a":"\ud83d\ude00"}}"#,
            r#"{"message":{"a":"\ud800"}}"#,
            r#"["INFO","x",{"msgType":"array envelope"}]"#,
            r#" {"message" : [1,2,{"b":[]}] , "mdc":null} "#,
            r#"{"message":{"n":01}}"#,
            r#"{"message":{"n":1.}}"#,
            r#"{"message":{"n":-}}"#,
            r#"{"message":{},}"#,
            r#"{"message":{}} x"#,
            "{\"message\":{\"a\":\"tab\tinside\"}}",
            "{\"message\":{\"a\":1}}\t",
            r#"{"message":null,"clientEvent":{"msgType":"s"},"serverTimestamp":null}"#,
            r#"{}"#,
        ] {
            assert_agree(text);
        }
        let deep = format!("{{\"message\":{}{}}}", "[".repeat(120), "]".repeat(120));
        assert_agree(&deep);
        let deeper = format!("{{\"message\":{}{}}}", "[".repeat(130), "]".repeat(130));
        assert_agree(&deeper);
    }
}
