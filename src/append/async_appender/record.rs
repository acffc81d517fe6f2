//! A record captured on the caller and rebuilt on the writer thread (for wrapped appenders whose
//! encoder is not known, so the bytes cannot be made on the caller).
//!
//! Captured: level, target, module path, file, line, the formatted text, the key-values with
//! their types, the caller's audit context (MDC + call start) and the caller's clocks. The writer
//! installs the context and the clocks around the wrapped appender's call, so the envelope
//! encoder (through [`SystemClock`](crate::encode::SystemClock)) writes the `mdc`, `callTime`
//! and `timestamp` a synchronous call would have written.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::{Instant, SystemTime};

use log::kv::{Key, Source, Value, VisitSource, VisitValue};
use log::{Level, Record};
use serde_json::value::RawValue;

use crate::context::AuditContext;

/// One key-value's value, owned, keeping the JSON type the caller gave it.
#[derive(Debug)]
enum OwnedValue {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    U128(u128),
    I128(i128),
    F64(f64),
    Str(String),
    /// A nested value (anything serde serializes), as the JSON text `serde_json` made of it on
    /// the caller; replayed through serde as the same text (keys keep their order).
    Json(Box<RawValue>),
}

impl OwnedValue {
    fn to_value(&self) -> Value<'_> {
        match self {
            OwnedValue::Null => Value::null(),
            OwnedValue::Bool(b) => Value::from(*b),
            OwnedValue::U64(n) => Value::from(*n),
            OwnedValue::I64(n) => Value::from(*n),
            OwnedValue::U128(n) => Value::from(*n),
            OwnedValue::I128(n) => Value::from(*n),
            OwnedValue::F64(n) => Value::from(*n),
            OwnedValue::Str(s) => Value::from(s.as_str()),
            OwnedValue::Json(raw) => Value::from_serde(raw),
        }
    }
}

struct Capture(Option<OwnedValue>);

impl<'v> VisitValue<'v> for Capture {
    fn visit_any(&mut self, value: Value<'_>) -> Result<(), log::kv::Error> {
        // Like the envelope: a value serde cannot express as JSON is kept as its text.
        self.0 = Some(match serde_json::value::to_raw_value(&value) {
            Ok(raw) => OwnedValue::Json(raw),
            Err(_) => OwnedValue::Str(value.to_string()),
        });
        Ok(())
    }
    fn visit_null(&mut self) -> Result<(), log::kv::Error> {
        self.0 = Some(OwnedValue::Null);
        Ok(())
    }
    fn visit_u64(&mut self, value: u64) -> Result<(), log::kv::Error> {
        self.0 = Some(OwnedValue::U64(value));
        Ok(())
    }
    fn visit_i64(&mut self, value: i64) -> Result<(), log::kv::Error> {
        self.0 = Some(OwnedValue::I64(value));
        Ok(())
    }
    fn visit_u128(&mut self, value: u128) -> Result<(), log::kv::Error> {
        self.0 = Some(OwnedValue::U128(value));
        Ok(())
    }
    fn visit_i128(&mut self, value: i128) -> Result<(), log::kv::Error> {
        self.0 = Some(OwnedValue::I128(value));
        Ok(())
    }
    fn visit_f64(&mut self, value: f64) -> Result<(), log::kv::Error> {
        self.0 = Some(OwnedValue::F64(value));
        Ok(())
    }
    fn visit_bool(&mut self, value: bool) -> Result<(), log::kv::Error> {
        self.0 = Some(OwnedValue::Bool(value));
        Ok(())
    }
    fn visit_str(&mut self, value: &str) -> Result<(), log::kv::Error> {
        self.0 = Some(OwnedValue::Str(value.to_owned()));
        Ok(())
    }
}

/// The key-values of a captured record, in call order.
#[derive(Debug, Default)]
struct OwnedKvs(Vec<(String, OwnedValue)>);

impl<'kvs> VisitSource<'kvs> for OwnedKvs {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
        let mut capture = Capture(None);
        let owned = match value.visit(&mut capture) {
            Ok(()) => capture.0.unwrap_or(OwnedValue::Null),
            Err(_) => OwnedValue::Str(value.to_string()),
        };
        self.0.push((key.as_str().to_owned(), owned));
        Ok(())
    }
}

impl Source for OwnedKvs {
    fn visit<'kvs>(&'kvs self, visitor: &mut dyn VisitSource<'kvs>) -> Result<(), log::kv::Error> {
        for (k, v) in &self.0 {
            visitor.visit_pair(Key::from_str(k), v.to_value())?;
        }
        Ok(())
    }
}

/// A [`Record`] with everything it borrowed copied, plus the caller's context and clocks.
#[derive(Debug)]
pub(crate) struct OwnedRecord {
    level: Level,
    target: String,
    module_path: Option<Cow<'static, str>>,
    file: Option<Cow<'static, str>>,
    line: Option<u32>,
    text: Cow<'static, str>,
    kvs: OwnedKvs,
    context: AuditContext,
    wall: SystemTime,
    mono: Instant,
}

impl OwnedRecord {
    /// Copies `record` and the calling thread's context and clocks.
    pub(crate) fn capture(record: &Record) -> OwnedRecord {
        let text = match record.args().as_str() {
            Some(s) => Cow::Borrowed(s),
            None => {
                let mut s = String::new();
                let _ = write!(s, "{}", record.args());
                Cow::Owned(s)
            }
        };
        let mut kvs = OwnedKvs::default();
        let _ = record.key_values().visit(&mut kvs);
        let owned = |s: Option<&str>, stat: Option<&'static str>| match stat {
            Some(s) => Some(Cow::Borrowed(s)),
            None => s.map(|s| Cow::Owned(s.to_owned())),
        };
        OwnedRecord {
            level: record.level(),
            target: record.target().to_owned(),
            module_path: owned(record.module_path(), record.module_path_static()),
            file: owned(record.file(), record.file_static()),
            line: record.line(),
            text,
            kvs,
            context: AuditContext::current(),
            wall: SystemTime::now(),
            mono: Instant::now(),
        }
    }

    /// Calls `f` with the rebuilt record, the caller's MDC and call start installed and
    /// [`SystemClock`](crate::encode::SystemClock) reading the caller's time.
    pub(crate) fn replay<R>(&self, f: impl FnOnce(&Record) -> R) -> R {
        let _context = self.context.enter();
        let _now = crate::encode::replay_now(self.wall, self.mono);
        f(&Record::builder()
            .level(self.level)
            .target(&self.target)
            .module_path(self.module_path.as_deref())
            .file(self.file.as_deref())
            .line(self.line)
            .args(format_args!("{}", self.text))
            .key_values(&self.kvs)
            .build())
    }
}
