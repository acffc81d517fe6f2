//! Checks every record passes before any target sees it, so all targets (file, Kafka, syslog,
//! `event_server`, …) refuse the same events and none writes a line JSON readers disagree on.

use log::kv::{Key, Value, VisitSource};
use log::Record;

use crate::protocol::wire::MAX_EVENT_DEPTH;

/// Keys remembered without allocating; records rarely have more.
const INLINE_KEYS: usize = 16;

/// Why `record` must not be written, or `None` when it is fine.
///
/// Refused: a key given twice (readers keep different ones: `serde_json` the last, others the
/// first; a second `msgType` would otherwise be dropped), and nesting deeper than
/// [`MAX_EVENT_DEPTH`] with the event object counted (the Event Server refuses it, and Python's
/// `json` cannot read a few thousand levels). Text that is a JSON object nested deeper is
/// written as a string by the encoders (see [`crate::encode::json::write_embedded_object`]).
pub(crate) fn refusal(record: &Record) -> Option<String> {
    let mut checker = Checker {
        inline: std::array::from_fn(|_| Key::from_str("")),
        n: 0,
        more: Vec::new(),
        why: None,
    };
    let _ = record.key_values().visit(&mut checker);
    checker.why
}

fn too_deep(what: &str) -> String {
    format!("{what} is nested more than {MAX_EVENT_DEPTH} levels deep (the event object included)")
}

struct Checker<'kvs> {
    inline: [Key<'kvs>; INLINE_KEYS],
    n: usize,
    more: Vec<Key<'kvs>>,
    why: Option<String>,
}

impl<'kvs> Checker<'kvs> {
    fn seen(&self, key: &Key<'kvs>) -> bool {
        self.inline[..self.n.min(INLINE_KEYS)].contains(key) || self.more.contains(key)
    }

    fn remember(&mut self, key: Key<'kvs>) {
        if self.n < INLINE_KEYS {
            self.inline[self.n] = key;
        } else {
            self.more.push(key);
        }
        self.n += 1;
    }
}

impl<'kvs> VisitSource<'kvs> for Checker<'kvs> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
        if self.seen(&key) {
            self.why = Some(format!("key `{}` is given more than once", key.as_str()));
            return Err(log::kv::Error::msg("refused"));
        }
        // Scalars cost one call; nested values are walked up to the limit, never written.
        if super::depth::too_deep(&value) {
            self.why = Some(too_deep(&format!("the value of `{}`", key.as_str())));
            return Err(log::kv::Error::msg("refused"));
        }
        self.remember(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> serde_json::Value {
        let mut v = serde_json::Value::Null;
        for _ in 0..levels {
            v = serde_json::Value::Array(vec![v]);
        }
        v
    }

    fn check(kvs: &[(&str, Value)], text: std::fmt::Arguments) -> Option<String> {
        let record = Record::builder()
            .target("dku.audit.generic")
            .key_values(&kvs)
            .args(text)
            .build();
        refusal(&record)
    }

    #[test]
    fn refuses_a_key_given_twice_naming_it() {
        let many: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
        let mut kvs: Vec<(&str, Value)> = vec![("msgType", "x".into())];
        kvs.extend(many.iter().map(|k| (k.as_str(), Value::from(1))));
        assert_eq!(check(&kvs, format_args!("")), None);
        for dup in ["msgType", "k3", "k39"] {
            let mut twice = kvs.clone();
            twice.push((dup, Value::from(66)));
            assert_eq!(
                check(&twice, format_args!("")).as_deref(),
                Some(format!("key `{dup}` is given more than once").as_str())
            );
        }
    }

    #[test]
    fn one_depth_limit_for_nested_values() {
        let (ok, deep, very_deep) = (
            nested(MAX_EVENT_DEPTH - 1),
            nested(MAX_EVENT_DEPTH),
            nested(5_000),
        );
        let kv = |v| [("msgType", Value::from("x")), ("p", Value::from_serde(v))];
        assert_eq!(check(&kv(&ok), format_args!("")), None);
        for v in [&deep, &very_deep] {
            let why = check(&kv(v), format_args!("")).unwrap();
            assert!(
                why.contains("the value of `p` is nested more than 100 levels"),
                "{why}"
            );
        }
    }
}
