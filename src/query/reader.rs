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
use std::path::PathBuf;

use flate2::read::MultiGzDecoder;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::files::{FolderKey, Location, TrailFile};
use super::lines::LineReader;
use super::progress::Progress;
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
        let mut fields = Fields::default();
        let mut de = serde_json::Deserializer::from_str(self.event.get());
        // An event that is not an object (an application log line's text) has no fields.
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
        let mdc = lookup(self.mdc?, &["user"])?;
        serde_json::from_str::<Cow<'a, str>>(mdc.get()).ok()
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
        let mut de = serde_json::Deserializer::from_str(current.get());
        current = de::Deserializer::deserialize_any(&mut de, KeySeed(key.as_ref())).ok()??;
    }
    Some(current)
}

/// Finds one key of an object and returns its raw value.
struct KeySeed<'k>(&'k str);

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

/// Reads the known string fields of an event object in one pass.
struct FieldsVisitor<'f, 'a>(&'f mut Fields<'a>);

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

/// Any JSON value; `Some` for a string.
struct MaybeStr<'a>(Option<Cow<'a, str>>);

impl<'de> Deserialize<'de> for MaybeStr<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MaybeStrVisitor)
    }
}

struct MaybeStrVisitor;

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
    mut on_problem: impl FnMut(&ReadError),
) -> ReadSummary {
    let mut summary = ReadSummary::default();
    for file in files {
        summary.files += 1;
        let flow = read_file(
            file,
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
    progress: &Progress,
    summary: &mut ReadSummary,
    on_record: &mut impl FnMut(&Record<'_>) -> ControlFlow<()>,
    on_problem: &mut impl FnMut(&ReadError),
) -> ControlFlow<()> {
    let path = &file.path;
    let opened = match open_regular(path) {
        Ok(Some(f)) => f,
        Ok(None) => {
            summary.io_errors += 1;
            on_problem(&ReadError::NotRegular { path: path.clone() });
            return ControlFlow::Continue(());
        }
        Err(source) => {
            summary.io_errors += 1;
            on_problem(&ReadError::Io {
                path: path.clone(),
                line: 0,
                source,
            });
            return ControlFlow::Continue(());
        }
    };
    let counted = progress.counting(opened);
    let source: Box<dyn Read> = if file.gzip {
        Box::new(MultiGzDecoder::new(counted))
    } else {
        Box::new(counted)
    };
    let mut lines = LineReader::new(source);
    let mut number = 0u64;
    loop {
        let raw = match lines.next_line() {
            Ok(Some(raw)) => raw,
            Ok(None) => return ControlFlow::Continue(()),
            Err(source) => {
                summary.io_errors += 1;
                on_problem(&ReadError::Io {
                    path: path.clone(),
                    line: number,
                    source,
                });
                return ControlFlow::Continue(());
            }
        };
        number += 1;
        if let Some(bytes) = raw.overlong {
            summary.bytes += bytes + u64::from(raw.terminated);
            summary.malformed += 1;
            on_problem(&ReadError::Overlong {
                path: path.clone(),
                line: number,
                offset: raw.offset,
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
                on_record(&record)?;
            }
            Err(_) if !raw.terminated => {
                summary.torn += 1;
                on_problem(&ReadError::Torn {
                    path: path.clone(),
                    line: number,
                    bytes: raw.bytes.len(),
                });
            }
            Err(reason) => {
                summary.malformed += 1;
                on_problem(&ReadError::Malformed {
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
fn open_regular(path: &std::path::Path) -> io::Result<Option<File>> {
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
    }
}
