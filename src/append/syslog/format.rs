//! Syslog message formatting: RFC 5424 and RFC 3164 (BSD) headers, RFC 5424 structured data
//! from the audit event, and RFC 6587 octet-counting framing for stream transports.
//!
//! Written here rather than taken from the `syslog` crate: that crate's TCP transport sends
//! no framing and its RFC 5424 MSGID is a `u32`; what is needed is small.

use std::fmt::Write as _;

use chrono::{DateTime, Local, Utc};
use log::Level;
use serde::de::{Deserializer as _, MapAccess, Visitor};
use serde_json::value::RawValue;

/// The facility (RFC 5424 §6.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facility(pub u8);

/// Facility names with their codes, as rsyslog and log4j spell them.
pub const FACILITIES: &[(&str, u8)] = &[
    ("kern", 0),
    ("user", 1),
    ("mail", 2),
    ("daemon", 3),
    ("auth", 4),
    ("syslog", 5),
    ("lpr", 6),
    ("news", 7),
    ("uucp", 8),
    ("cron", 9),
    ("authpriv", 10),
    ("ftp", 11),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];

impl Facility {
    /// A facility by name, any case (`local4`, `LOCAL4`, `auth`).
    pub fn parse(name: &str) -> Option<Facility> {
        let lower = name.trim().to_ascii_lowercase();
        FACILITIES
            .iter()
            .find(|(n, _)| *n == lower)
            .map(|&(_, c)| Facility(c))
    }

    /// The facility's name in lower case.
    pub fn name(self) -> &'static str {
        FACILITIES
            .iter()
            .find(|(_, c)| *c == self.0)
            .map_or("user", |(n, _)| n)
    }
}

/// Syslog severity of a `log` level: ERROR err(3), WARN warning(4), INFO info(6),
/// DEBUG and TRACE debug(7).
pub fn severity(level: Level) -> u8 {
    match level {
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info => 6,
        Level::Debug | Level::Trace => 7,
    }
}

/// The header fields of one message.
#[derive(Clone, Debug)]
pub struct Header<'a> {
    pub facility: Facility,
    pub level: Level,
    pub time: DateTime<Utc>,
    pub hostname: &'a str,
    pub app_name: &'a str,
    pub procid: u32,
    /// `-` for none.
    pub msgid: &'a str,
}

/// The SD-ID of the event's structured data (32473 is the private enterprise number RFC 5612
/// reserves for documentation and examples).
pub const SD_AUDIT: &str = "audit@32473";
/// The SD-ID carrying logger, callTime and timestamp in `structured` payloads.
pub const SD_CONTEXT: &str = "context@32473";
/// The SD-ID carrying the MDC in `structured` payloads.
pub const SD_MDC: &str = "mdc@32473";

/// Appends an RFC 5424 header (`<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID `) to `out`.
pub fn rfc5424_header(out: &mut Vec<u8>, h: &Header) {
    let pri = u32::from(h.facility.0) * 8 + u32::from(severity(h.level));
    let mut s = String::with_capacity(96);
    let _ = write!(
        s,
        "<{pri}>1 {} {} {} {} {} ",
        h.time.format("%Y-%m-%dT%H:%M:%S%.6fZ"),
        header_field(h.hostname, 255),
        header_field(h.app_name, 48),
        h.procid,
        header_field(h.msgid, 32)
    );
    out.extend_from_slice(s.as_bytes());
}

/// Appends an RFC 3164 header (`<PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: `) to `out`; with
/// `header: false` only `<PRI>` (log4j's SyslogAppender default). `facility_printing` adds
/// the facility name and `:` (log4j's FacilityPrinting). On a local socket the hostname is
/// left out (`with_hostname: false`), as glibc's `syslog(3)` does and as rsyslog's imuxsock
/// expects.
pub fn rfc3164_header(
    out: &mut Vec<u8>,
    h: &Header,
    header: bool,
    with_hostname: bool,
    facility_printing: bool,
) {
    let pri = u32::from(h.facility.0) * 8 + u32::from(severity(h.level));
    let mut s = String::with_capacity(64);
    let _ = write!(s, "<{pri}>");
    if header {
        let local: DateTime<Local> = h.time.with_timezone(&Local);
        let _ = write!(s, "{} ", local.format("%b %e %H:%M:%S"));
        if with_hostname {
            let _ = write!(s, "{} ", header_field(h.hostname, 255));
        }
        let _ = write!(s, "{}[{}]: ", tag(h.app_name), h.procid);
    }
    if facility_printing {
        let _ = write!(s, "{}:", h.facility.name());
    }
    out.extend_from_slice(s.as_bytes());
}

/// A header field: printable US-ASCII without spaces, at most `max` characters; empty is `-`.
fn header_field(text: &str, max: usize) -> String {
    let s: String = text
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if s.is_empty() {
        "-".to_owned()
    } else {
        s
    }
}

/// An RFC 3164 TAG: alphanumeric and `-_.`, at most 32 characters.
fn tag(text: &str) -> String {
    let s: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(32)
        .collect();
    if s.is_empty() {
        "log4rs-audit".to_owned()
    } else {
        s
    }
}

/// Whether `text` is a valid RFC 5424 header field of at most `max` characters.
pub fn is_header_field(text: &str, max: usize) -> bool {
    !text.is_empty() && text.len() <= max && text.bytes().all(|b| b.is_ascii_graphic())
}

/// Appends RFC 5424 STRUCTURED-DATA built from an envelope line (without its `\n`):
/// `[audit@32473 <event fields>][context@32473 logger=… callTime=… timestamp=…][mdc@32473 …]`.
/// String values are written as they are, other values as compact JSON. Parameter names keep
/// the characters RFC 5424 allows (printable ASCII but `= ] "` and space; others become `_`),
/// at most 32. Returns false (and writes `-`) if the line is not an envelope.
pub fn structured_data(out: &mut Vec<u8>, envelope: &[u8]) -> bool {
    let Ok(top) = object_fields(envelope) else {
        out.push(b'-');
        return false;
    };
    let field = |name: &str| top.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
    let start = out.len();
    if let Some(message) = field("message") {
        match object_fields(message.get().as_bytes()) {
            Ok(fields) => sd_element(out, SD_AUDIT, fields.iter().map(|(k, v)| (k.as_str(), *v))),
            Err(_) => sd_element(out, SD_AUDIT, std::iter::once(("text", message))),
        }
    }
    let context = ["logger", "severity", "callTime", "timestamp"]
        .into_iter()
        .filter_map(|name| field(name).map(|v| (name, v)));
    sd_element(out, SD_CONTEXT, context);
    if let Some(mdc) = field("mdc") {
        if let Ok(fields) = object_fields(mdc.get().as_bytes()) {
            if !fields.is_empty() {
                sd_element(out, SD_MDC, fields.iter().map(|(k, v)| (k.as_str(), *v)));
            }
        }
    }
    if out.len() == start {
        out.push(b'-');
    }
    true
}

fn sd_element<'a>(
    out: &mut Vec<u8>,
    id: &str,
    params: impl Iterator<Item = (&'a str, &'a RawValue)>,
) {
    out.push(b'[');
    out.extend_from_slice(id.as_bytes());
    for (name, value) in params {
        out.push(b' ');
        let name: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() && !matches!(c, '=' | ']' | '"') {
                    c
                } else {
                    '_'
                }
            })
            .take(32)
            .collect();
        out.extend_from_slice(if name.is_empty() { "_" } else { &name }.as_bytes());
        out.extend_from_slice(b"=\"");
        let text = value.get();
        let owned;
        let text = match serde_json::from_str::<String>(text) {
            Ok(s) => {
                owned = s;
                owned.as_str()
            }
            Err(_) => text,
        };
        for &b in text.as_bytes() {
            if matches!(b, b'"' | b'\\' | b']') {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    }
    out.push(b']');
}

/// The fields of a JSON object in their order, values raw.
fn object_fields(json: &[u8]) -> Result<Vec<(String, &RawValue)>, serde_json::Error> {
    struct Fields;
    impl<'de> Visitor<'de> for Fields {
        type Value = Vec<(String, &'de RawValue)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some((k, v)) = map.next_entry::<String, &'de RawValue>()? {
                out.push((k, v));
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(json);
    let fields = (&mut de).deserialize_map(Fields)?;
    de.end()?;
    Ok(fields)
}

/// RFC 6587 octet counting: `<len> <message>`.
pub fn frame_octet_counting(out: &mut Vec<u8>, message: &[u8]) {
    out.extend_from_slice(itoa::Buffer::new().format(message.len()).as_bytes());
    out.push(b' ');
    out.extend_from_slice(message);
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn header() -> Header<'static> {
        Header {
            facility: Facility::parse("LOCAL4").unwrap(),
            level: Level::Info,
            time: Utc.with_ymd_and_hms(2020, 2, 19, 15, 5, 2).unwrap()
                + chrono::Duration::milliseconds(441),
            hostname: "web-1",
            app_name: "log4rs-audit",
            procid: 42,
            msgid: "generic",
        }
    }

    #[test]
    fn rfc5424_header_bytes() {
        let mut out = Vec::new();
        rfc5424_header(&mut out, &header());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "<166>1 2020-02-19T15:05:02.441000Z web-1 log4rs-audit 42 generic "
        );
    }

    #[test]
    fn rfc3164_header_forms() {
        let mut out = Vec::new();
        rfc3164_header(&mut out, &header(), false, true, true);
        assert_eq!(out, b"<166>local4:");
        let mut out = Vec::new();
        rfc3164_header(&mut out, &header(), true, true, false);
        let s = String::from_utf8(out).unwrap();
        assert!(
            s.starts_with("<166>Feb 19 ") && s.ends_with(" web-1 log4rs-audit[42]: "),
            "{s}"
        );
        // On a local socket: no hostname (as glibc's syslog(3) and imuxsock expect).
        let mut out = Vec::new();
        rfc3164_header(&mut out, &header(), true, false, false);
        let s = String::from_utf8(out).unwrap();
        assert!(s.ends_with(":02 log4rs-audit[42]: "), "{s}");
    }

    #[test]
    fn structured_data_from_envelope() {
        let line = br#"{"severity":"INFO","logger":"dku.audit.generic","message":{"msgType":"x","authUser":"a\"b]","rows":3,"p":{"k":[1]},"bad key=":"v"},"mdc":{"user":"alice"},"callTime":9,"timestamp":"2020-02-19T16:05:02.441+0100"}"#;
        let mut out = Vec::new();
        assert!(structured_data(&mut out, line));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"[audit@32473 msgType="x" authUser="a\"b\]" rows="3" p="{\"k\":[1\]}" bad_key_="v"][context@32473 logger="dku.audit.generic" severity="INFO" callTime="9" timestamp="2020-02-19T16:05:02.441+0100"][mdc@32473 user="alice"]"#
        );
    }

    #[test]
    fn octet_counting() {
        let mut out = Vec::new();
        frame_octet_counting(&mut out, "héllo".as_bytes());
        assert_eq!(out, "6 héllo".as_bytes());
    }

    #[test]
    fn facilities() {
        assert_eq!(Facility::parse("Local7"), Some(Facility(23)));
        assert_eq!(Facility::parse("nope"), None);
        assert_eq!(Facility(4).name(), "auth");
    }
}
