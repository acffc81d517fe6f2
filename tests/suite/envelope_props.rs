//! Property tests of the envelope: whatever the fields, MDC and text, the line is one JSON
//! object on one line, fields in envelope order, `msgType` first, values and order preserved.

use std::time::{Duration, Instant, UNIX_EPOCH};

use log::kv::Value;
use log4rs_audit::encode::{AuditEnvelopeEncoder, FixedClock, Timezone};
use proptest::prelude::*;
use serde::de::{Deserializer, MapAccess, Visitor};

/// A JSON object's entries in document order (serde_json's own map sorts them).
#[derive(Debug)]
struct Ordered(Vec<(String, serde_json::Value)>);

/// The envelope's entries in order, nested objects kept as raw text to be read in order too.
#[derive(Debug)]
struct RawOrdered(Vec<(String, Box<serde_json::value::RawValue>)>);

impl<'de> serde::Deserialize<'de> for RawOrdered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawOrdered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawOrdered, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    out.push(entry);
                }
                Ok(RawOrdered(out))
            }
        }
        d.deserialize_map(V)
    }
}

fn value(raw: &serde_json::value::RawValue) -> serde_json::Value {
    serde_json::from_str(raw.get()).unwrap()
}

fn ordered(raw: &serde_json::value::RawValue) -> Vec<(String, serde_json::Value)> {
    serde_json::from_str::<Ordered>(raw.get()).unwrap().0
}

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
                    out.push((k, v));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Clone, Debug)]
enum Field {
    Str(String),
    Int(i64),
    Uint(u64),
    Float(f64),
    Bool(bool),
}

impl Field {
    fn value(&self) -> Value<'_> {
        match self {
            Field::Str(s) => Value::from(s.as_str()),
            Field::Int(n) => Value::from(*n),
            Field::Uint(n) => Value::from(*n),
            Field::Float(f) => Value::from(*f),
            Field::Bool(b) => Value::from(*b),
        }
    }
    fn json(&self) -> serde_json::Value {
        match self {
            Field::Str(s) => s.clone().into(),
            Field::Int(n) => (*n).into(),
            Field::Uint(n) => (*n).into(),
            Field::Float(f) => (*f).into(),
            Field::Bool(b) => (*b).into(),
        }
    }
}

fn field() -> impl Strategy<Value = Field> {
    prop_oneof![
        any::<String>().prop_map(Field::Str),
        any::<i64>().prop_map(Field::Int),
        any::<u64>().prop_map(Field::Uint),
        (-1e300f64..1e300).prop_map(Field::Float),
        any::<bool>().prop_map(Field::Bool),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn envelope_is_one_ordered_json_line(
        msg_type in any::<String>(),
        msg_type_at in 0usize..4,
        fields in proptest::collection::vec(("[a-zA-Z][a-zA-Z0-9_ -]{0,10}", field()), 0..6),
        mdc in proptest::collection::btree_map(any::<String>(), any::<String>(), 0..4),
        target in "[a-z.:_-]{1,30}",
        text in any::<String>(),
        utc in any::<bool>(),
    ) {
        // Unique keys other than msgType, as a JSON object needs.
        let mut seen = std::collections::HashSet::new();
        let fields: Vec<(String, Field)> = fields
            .into_iter()
            .filter(|(k, _)| k != "msgType" && k != "text" && seen.insert(k.clone()))
            .collect();
        let mut kvs: Vec<(&str, Value)> = fields.iter().map(|(k, f)| (k.as_str(), f.value())).collect();
        kvs.insert(msg_type_at.min(kvs.len()), ("msgType", Value::from(msg_type.as_str())));

        log_mdc::clear();
        for (k, v) in &mdc {
            log_mdc::insert(k.clone(), v.clone());
        }
        let tz = if utc { Timezone::Utc } else { "+0530".parse().unwrap() };
        let encoder = AuditEnvelopeEncoder::new(tz)
            .with_clock(FixedClock::new(UNIX_EPOCH + Duration::from_millis(1_700_000_000_123), Instant::now()));
        let mut line = Vec::new();
        encoder.encode_into(
            &mut line,
            &log::Record::builder()
                .target(&target)
                .level(log::Level::Warn)
                .args(format_args!("{text}"))
                .key_values(&kvs)
                .build(),
        );
        log_mdc::clear();

        prop_assert_eq!(line.last(), Some(&b'\n'));
        prop_assert!(!line[..line.len() - 1].contains(&b'\n'));
        let envelope: RawOrdered = serde_json::from_slice(&line).unwrap();
        let keys: Vec<&str> = envelope.0.iter().map(|(k, _)| k.as_str()).collect();
        prop_assert_eq!(keys, ["severity", "logger", "message", "mdc", "timestamp"]);
        prop_assert_eq!(value(&envelope.0[0].1), "WARN");
        prop_assert_eq!(value(&envelope.0[1].1), target.as_str());

        let message = ordered(&envelope.0[2].1);
        let mut expected = vec![("msgType".to_owned(), serde_json::Value::from(msg_type.clone()))];
        expected.extend(fields.iter().map(|(k, f)| (k.clone(), f.json())));
        if !text.is_empty() {
            expected.push(("text".to_owned(), text.clone().into()));
        }
        prop_assert_eq!(message, expected);

        let mdc_out = ordered(&envelope.0[3].1);
        let mdc_expected: Vec<(String, serde_json::Value)> =
            mdc.into_iter().map(|(k, v)| (k, v.into())).collect();
        prop_assert_eq!(mdc_out, mdc_expected);
        let ts = value(&envelope.0[4].1);
        let ts = ts.as_str().unwrap();
        prop_assert_eq!(ts, if utc { "2023-11-14T22:13:20.123+0000" } else { "2023-11-15T03:43:20.123+0530" });
    }

    #[test]
    fn text_only_records_round_trip(text in any::<String>()) {
        let encoder = AuditEnvelopeEncoder::new(Timezone::Utc);
        let mut line = Vec::new();
        encoder.encode_into(&mut line, &log::Record::builder().target("app").args(format_args!("{text}")).build());
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        let embedded = text.trim_matches(|c: char| c.is_ascii_whitespace());
        match serde_json::from_str::<serde_json::Value>(embedded) {
            Ok(obj @ serde_json::Value::Object(_)) if embedded.starts_with('{') => prop_assert_eq!(&v["message"], &obj),
            _ => prop_assert_eq!(&v["message"], &serde_json::Value::from(text.clone())),
        }
    }
}
