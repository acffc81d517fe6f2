//! The standard envelope: one JSON line per event, fields in a fixed order.
//!
//! `{"severity":…,"logger":…,"message":{…},"mdc":{…},"callTime":N,"timestamp":"…"}\n`
//!
//! Encoding writes straight into a byte buffer with no intermediate `serde_json::Value`, sorts
//! the MDC without allocating (buffers are reused per thread), and formats the date once a
//! second.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::ops::Range;
use std::sync::Arc;

use log::kv::{Key, Value, VisitSource};
use log::Record;
use log4rs::encode::{Encode, Write};

use super::json::{write_embedded_object, write_str};
use super::timestamp::{write_timestamp, Clock, SystemClock, Timezone};
use crate::context;
use crate::event::MSG_TYPE_KEY;

/// Key used for a record's text when the record also has key-values.
pub const TEXT_KEY: &str = "text";

/// Encodes records as standard-envelope lines; the log4rs encoder kind `audit_envelope`.
///
/// The `message` is built from the record's key-values (`msgType` first, then in call order,
/// values keeping their JSON types). A record without key-values has its text as the message:
/// embedded as an object when the text is a JSON object, otherwise as a JSON string. A record
/// with both key-values and non-empty text keeps the text under `"text"` after the fields.
///
/// ```
/// use std::time::{Duration, Instant, UNIX_EPOCH};
/// use log4rs_audit::encode::{AuditEnvelopeEncoder, FixedClock, Timezone};
///
/// let clock = FixedClock::new(UNIX_EPOCH + Duration::from_millis(1_582_124_702_441), Instant::now());
/// let encoder = AuditEnvelopeEncoder::new(Timezone::Utc).with_clock(clock);
/// let kvs = [("msgType", log::kv::Value::from("login")), ("authUser", "bob".into())];
/// let record = log::Record::builder()
///     .target("dku.audit.generic")
///     .level(log::Level::Info)
///     .key_values(&kvs)
///     .build();
/// let mut line = Vec::new();
/// encoder.encode_into(&mut line, &record);
/// assert_eq!(
///     String::from_utf8(line).unwrap(),
///     "{\"severity\":\"INFO\",\"logger\":\"dku.audit.generic\",\"message\":{\"msgType\":\"login\",\"authUser\":\"bob\"},\"mdc\":{},\"timestamp\":\"2020-02-19T15:05:02.441+0000\"}\n"
/// );
/// ```
#[derive(Clone, Debug)]
pub struct AuditEnvelopeEncoder {
    timezone: Timezone,
    clock: Arc<dyn Clock>,
}

impl Default for AuditEnvelopeEncoder {
    fn default() -> Self {
        AuditEnvelopeEncoder::new(Timezone::Local)
    }
}

/// Reused per-thread buffers: the MDC entries to sort, and the record text.
#[derive(Default)]
struct Scratch {
    mdc_text: String,
    mdc_entries: Vec<(Range<usize>, Range<usize>)>,
    text: String,
    line: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `f` with this thread's scratch buffers (fresh ones if a re-entrant call holds them or
/// the thread is ending).
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    crate::local::with_local(&SCRATCH, f)
}

impl AuditEnvelopeEncoder {
    /// An encoder writing timestamps in `timezone`, reading the system clock.
    pub fn new(timezone: Timezone) -> AuditEnvelopeEncoder {
        AuditEnvelopeEncoder {
            timezone,
            clock: Arc::new(SystemClock),
        }
    }

    /// Replaces the clock (tests and replays use a [`FixedClock`](super::FixedClock)).
    pub fn with_clock(mut self, clock: impl Clock) -> AuditEnvelopeEncoder {
        self.clock = Arc::new(clock);
        self
    }

    /// The timezone timestamps are written in.
    pub fn timezone(&self) -> Timezone {
        self.timezone
    }

    /// Appends the envelope line of `record` (with its `\n`) to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>, record: &Record) {
        with_scratch(|scratch| self.encode_with(out, record, scratch));
    }

    fn encode_with(&self, out: &mut Vec<u8>, record: &Record, scratch: &mut Scratch) {
        let wall = self.clock.wall();
        out.extend_from_slice(b"{\"severity\":\"");
        out.extend_from_slice(record.level().as_str().as_bytes());
        out.extend_from_slice(b"\",\"logger\":");
        write_str(out, record.target());
        out.extend_from_slice(b",\"message\":");
        write_message(out, record, &mut scratch.text);
        out.extend_from_slice(b",\"mdc\":");
        write_mdc(out, scratch);
        if let Some(start) = context::call_start() {
            let ms = context::whole_millis(start, self.clock.monotonic());
            out.extend_from_slice(b",\"callTime\":");
            out.extend_from_slice(itoa::Buffer::new().format(ms).as_bytes());
        }
        out.extend_from_slice(b",\"timestamp\":\"");
        write_timestamp(out, wall, self.timezone);
        out.extend_from_slice(b"\"}\n");
    }
}

impl Encode for AuditEnvelopeEncoder {
    fn encode(&self, w: &mut dyn Write, record: &Record) -> anyhow::Result<()> {
        with_scratch(|scratch| {
            let mut line = std::mem::take(&mut scratch.line);
            line.clear();
            self.encode_with(&mut line, record, scratch);
            let result = w.write_all(&line);
            scratch.line = line;
            result
        })?;
        Ok(())
    }
}

/// Appends what the envelope's `message` field holds for `record` (log4j's `%m` of an audit
/// event, whose fields are key-values, prints this too).
pub(crate) fn write_message_json(out: &mut Vec<u8>, record: &Record) {
    let mut text_buf = String::new();
    write_message(out, record, &mut text_buf);
}

fn write_message(out: &mut Vec<u8>, record: &Record, text_buf: &mut String) {
    let text: &str = match record.args().as_str() {
        Some(s) => s,
        None => {
            text_buf.clear();
            let _ = write!(text_buf, "{}", record.args());
            text_buf
        }
    };
    // One pass over the key-values, each field written as `,"key":value`; `msgType` is then
    // rotated to the front if the caller did not put it first, and the leading comma becomes `{`.
    let start = out.len();
    let mut fields = FieldWriter {
        out,
        msg_type: None,
    };
    let _ = record.key_values().visit(&mut fields);
    let msg_type = fields.msg_type;
    if out.len() == start {
        if !write_embedded_object(out, text) {
            write_str(out, text);
        }
        return;
    }
    if let Some((seg_start, seg_end)) = msg_type {
        if seg_start != start {
            out[start..seg_end].rotate_right(seg_end - seg_start);
        }
    }
    out[start] = b'{';
    if !text.is_empty() {
        out.push(b',');
        write_str(out, TEXT_KEY);
        out.push(b':');
        write_str(out, text);
    }
    out.push(b'}');
}

/// Writes the event's `,"key":value` fields, remembering where the first `msgType` is.
struct FieldWriter<'a> {
    out: &'a mut Vec<u8>,
    msg_type: Option<(usize, usize)>,
}

impl<'kvs> VisitSource<'kvs> for FieldWriter<'_> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
        let key = key.as_str();
        let is_msg_type = key == MSG_TYPE_KEY;
        if is_msg_type && self.msg_type.is_some() {
            // A repeated msgType would make a duplicate JSON key; the first one wins.
            return Ok(());
        }
        let seg_start = self.out.len();
        self.out.push(b',');
        write_str(self.out, key);
        self.out.push(b':');
        write_value(self.out, &value);
        if is_msg_type {
            self.msg_type = Some((seg_start, self.out.len()));
        }
        Ok(())
    }
}

/// Writes one value as JSON, exactly as `serde_json` would; common types skip serde.
fn write_value(out: &mut Vec<u8>, value: &Value<'_>) {
    let start = out.len();
    if value.visit(ValueWriter { out: &mut *out }).is_err() {
        // A value serde cannot express as JSON (e.g. a map with non-string keys) is kept as
        // its text rather than losing the event.
        out.truncate(start);
        write_str(out, &value.to_string());
    }
}

struct ValueWriter<'a> {
    out: &'a mut Vec<u8>,
}

impl ValueWriter<'_> {
    fn serde(&mut self, value: impl serde::Serialize) -> Result<(), log::kv::Error> {
        serde_json::to_writer(&mut *self.out, &value).map_err(log::kv::Error::boxed)
    }
}

impl<'v> log::kv::VisitValue<'v> for ValueWriter<'_> {
    fn visit_any(&mut self, value: Value<'_>) -> Result<(), log::kv::Error> {
        self.serde(value)
    }
    fn visit_null(&mut self) -> Result<(), log::kv::Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn visit_u64(&mut self, value: u64) -> Result<(), log::kv::Error> {
        self.out
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        Ok(())
    }
    fn visit_i64(&mut self, value: i64) -> Result<(), log::kv::Error> {
        self.out
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        Ok(())
    }
    fn visit_u128(&mut self, value: u128) -> Result<(), log::kv::Error> {
        self.serde(value)
    }
    fn visit_i128(&mut self, value: i128) -> Result<(), log::kv::Error> {
        self.serde(value)
    }
    fn visit_f64(&mut self, value: f64) -> Result<(), log::kv::Error> {
        if !value.is_finite() {
            // JSON has no NaN or infinity (serde_json would write `null`): kept as its text,
            // `"NaN"`, `"inf"`, `"-inf"`, like any value JSON cannot express.
            write_str(self.out, &value.to_string());
            return Ok(());
        }
        self.serde(value)
    }
    fn visit_bool(&mut self, value: bool) -> Result<(), log::kv::Error> {
        self.out
            .extend_from_slice(if value { b"true" } else { b"false" });
        Ok(())
    }
    fn visit_str(&mut self, value: &str) -> Result<(), log::kv::Error> {
        write_str(self.out, value);
        Ok(())
    }
}

fn write_mdc(out: &mut Vec<u8>, scratch: &mut Scratch) {
    let Scratch {
        mdc_text,
        mdc_entries,
        ..
    } = scratch;
    mdc_text.clear();
    mdc_entries.clear();
    context::for_each_mdc(|k, v| {
        let k_start = mdc_text.len();
        mdc_text.push_str(k);
        let v_start = mdc_text.len();
        mdc_text.push_str(v);
        mdc_entries.push((k_start..v_start, v_start..mdc_text.len()));
    });
    let text = mdc_text.as_str();
    let key = |e: &(Range<usize>, Range<usize>)| &text[e.0.clone()];
    if mdc_entries.len() <= 16 {
        // The MDC holds a handful of entries: insertion sort beats the general sort here.
        for i in 1..mdc_entries.len() {
            let mut j = i;
            while j > 0 && key(&mdc_entries[j - 1]) > key(&mdc_entries[j]) {
                mdc_entries.swap(j - 1, j);
                j -= 1;
            }
        }
    } else {
        mdc_entries.sort_unstable_by(|a, b| key(a).cmp(key(b)));
    }
    out.push(b'{');
    for (i, (k, v)) in mdc_entries.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, &text[k.clone()]);
        out.push(b':');
        write_str(out, &text[v.clone()]);
    }
    out.push(b'}');
}

/// The `audit_envelope` encoder kind.
///
/// ```yaml
/// encoder:
///   kind: audit_envelope
///   timezone: local      # local | utc | +HHMM
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct AuditEnvelopeEncoderDeserializer;

/// Options of the `audit_envelope` encoder kind.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEnvelopeConfig {
    /// `local` (default), `utc` or a fixed `±HHMM` offset.
    #[serde(default)]
    pub timezone: Option<String>,
}

impl AuditEnvelopeConfig {
    /// Builds the encoder, rejecting a bad timezone.
    pub fn build(&self) -> anyhow::Result<AuditEnvelopeEncoder> {
        let timezone = Timezone::from_option(self.timezone.as_deref())?;
        Ok(AuditEnvelopeEncoder::new(timezone))
    }
}

crate::config::impl_deserialize!(AuditEnvelopeEncoderDeserializer, AuditEnvelopeConfig => Encode);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_floats_are_written_as_their_text() {
        let kvs = [
            ("msgType", Value::from("x")),
            ("a", Value::from(f64::NAN)),
            ("b", Value::from(f64::INFINITY)),
            ("c", Value::from(f64::NEG_INFINITY)),
            ("d", Value::from(1.5f64)),
        ];
        let record = Record::builder().key_values(&kvs).build();
        let mut out = Vec::new();
        write_message_json(&mut out, &record);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"msgType":"x","a":"NaN","b":"inf","c":"-inf","d":1.5}"#
        );
    }
}
