//! tracing fields as `log` key-values and MDC text.
//!
//! An event's fields become the record's key-values with their JSON types (integers, floats,
//! bools, strings; `?` and `%` values as their text), in the order the event wrote them, in
//! this thread's reused buffers: once they have grown, an event costs no allocation. A span's
//! fields become MDC entries, all strings.

use std::fmt::{self, Write as _};
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use log::kv::{Error, Key, Source, Value, VisitSource};
use tracing_core::field::{Field, Visit};

use crate::context::{SpanContext, MDC_API_CALL};

/// The field tracing gives an event's format string.
const MESSAGE: &str = "message";

/// One field's value, its text (if any) in [`EventFields::text`].
#[derive(Debug, Clone)]
enum FieldValue {
    Bool(bool),
    I64(i64),
    U64(u64),
    I128(i128),
    U128(u128),
    F64(f64),
    Str(Range<usize>),
}

/// An event's fields, in this thread's reused buffers.
#[derive(Debug, Default)]
pub(super) struct EventFields {
    text: String,
    values: Vec<(&'static str, FieldValue)>,
    message: Range<usize>,
    /// A `log` record that came through `LogTracer`: its `log.*` fields are not the event's.
    from_log: bool,
}

impl EventFields {
    /// Empties the buffers for the next event.
    pub(super) fn start(&mut self, from_log: bool) {
        self.text.clear();
        self.values.clear();
        self.message = 0..0;
        self.from_log = from_log;
    }

    /// The event's text (its format string's output; empty for an audit event).
    pub(super) fn message(&self) -> &str {
        &self.text[self.message.clone()]
    }

    /// The fields other than the message, as `log` key-values.
    pub(super) fn key_values(&self) -> KeyValues<'_> {
        KeyValues(self)
    }

    fn push(&mut self, field: &Field, value: FieldValue) {
        if !(self.from_log && field.name().starts_with("log.")) {
            self.values.push((field.name(), value));
        }
    }

    fn push_text(&mut self, field: &Field, write: impl FnOnce(&mut String)) {
        let start = self.text.len();
        write(&mut self.text);
        let range = start..self.text.len();
        if field.name() == MESSAGE {
            self.message = range;
        } else {
            self.push(field, FieldValue::Str(range));
        }
    }
}

impl Visit for EventFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, FieldValue::F64(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, FieldValue::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, FieldValue::U64(value));
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.push(field, FieldValue::I128(value));
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.push(field, FieldValue::U128(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, FieldValue::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push_text(field, |text| text.push_str(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push_text(field, |text| {
            let _ = write!(text, "{value}");
        });
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push_text(field, |text| {
            let _ = write!(text, "{value:?}");
        });
    }
}

/// An event's fields as a `log` key-value source, in the order the event wrote them.
pub(super) struct KeyValues<'a>(&'a EventFields);

impl Source for KeyValues<'_> {
    fn visit<'kvs>(&'kvs self, visitor: &mut dyn VisitSource<'kvs>) -> Result<(), Error> {
        let fields = self.0;
        for (name, value) in &fields.values {
            let value = match value {
                FieldValue::Bool(b) => Value::from(*b),
                FieldValue::I64(n) => Value::from(*n),
                FieldValue::U64(n) => Value::from(*n),
                FieldValue::I128(n) => Value::from(*n),
                FieldValue::U128(n) => Value::from(*n),
                FieldValue::F64(n) => Value::from(*n),
                FieldValue::Str(range) => Value::from(&fields.text[range.clone()]),
            };
            visitor.visit_pair(Key::from_str(name), value)?;
        }
        Ok(())
    }
}

/// A span's own fields as MDC entries (all strings), when it started if it carries `apiCall`,
/// and the context its events get (kept in the span's extensions).
#[derive(Debug)]
pub(super) struct SpanFields {
    pub(super) entries: Vec<(&'static str, String)>,
    pub(super) call_start: Option<Instant>,
    /// Its own fields over its parents' (see [`SpanContext`]); `None` until built, and again
    /// once a field is recorded into it.
    pub(super) context: Option<Arc<SpanContext>>,
}

impl SpanFields {
    /// A span's fields before they are recorded.
    pub(super) fn new() -> SpanFields {
        SpanFields {
            entries: Vec::new(),
            call_start: None,
            context: None,
        }
    }

    /// Whether it has no field and no call of its own.
    pub(super) fn adds_nothing(&self) -> bool {
        self.entries.is_empty() && self.call_start.is_none()
    }

    fn set(&mut self, field: &Field, value: String) {
        if field.name() == MDC_API_CALL && self.call_start.is_none() {
            self.call_start = Some(Instant::now());
        }
        match self.entries.iter_mut().find(|(k, _)| *k == field.name()) {
            Some((_, v)) => *v = value,
            None => self.entries.push((field.name(), value)),
        }
    }
}

impl Visit for SpanFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field, value.to_owned());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.set(field, value.to_string());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.set(field, format!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_types_and_order() {
        struct Collect(Vec<String>);
        impl<'kvs> VisitSource<'kvs> for Collect {
            fn visit_pair(&mut self, k: Key<'kvs>, v: Value<'kvs>) -> Result<(), Error> {
                let json = serde_json::to_string(&v).map_err(Error::boxed)?;
                self.0.push(format!("{k}={json}"));
                Ok(())
            }
        }
        let mut fields = EventFields::default();
        fields.start(false);
        let callsite = tracing_core::identify_callsite!(&CALLSITE);
        static CALLSITE: Cs = Cs;
        struct Cs;
        impl tracing_core::Callsite for Cs {
            fn set_interest(&self, _: tracing_core::Interest) {}
            fn metadata(&self) -> &tracing_core::Metadata<'_> {
                &META
            }
        }
        static META: tracing_core::Metadata<'static> = tracing_core::metadata! {
            name: "test",
            target: "dku.audit.generic",
            level: tracing_core::Level::INFO,
            fields: &["msgType", "n", "ok", "ratio", "dbg", "message"],
            callsite: &CALLSITE,
            kind: tracing_core::metadata::Kind::EVENT,
        };
        let _ = callsite;
        let set = META.fields();
        let f = |name| set.field(name).unwrap();
        fields.record_str(&f("msgType"), "login");
        fields.record_i64(&f("n"), -3);
        fields.record_bool(&f("ok"), true);
        fields.record_f64(&f("ratio"), 0.5);
        fields.record_debug(&f("dbg"), &vec![1, 2]);
        fields.record_debug(&f("message"), &format_args!("hello {}", 7));
        let mut out = Collect(Vec::new());
        fields.key_values().visit(&mut out).unwrap();
        assert_eq!(
            out.0,
            [
                "msgType=\"login\"",
                "n=-3",
                "ok=true",
                "ratio=0.5",
                "dbg=\"[1, 2]\""
            ]
        );
        assert_eq!(fields.message(), "hello 7");
    }
}
