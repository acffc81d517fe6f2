//! Finds a key given twice in one JSON object, at any depth. Readers disagree on such an
//! event (`serde_json` and this crate's `query` keep the first `authUser`, Python's `json`
//! the last), so the server refuses it instead of storing two answers to "who did it".

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// A key found twice in one object: the key and where that object is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateKey {
    /// The key, decoded (`"a"` and `"\u0061"` are the same key).
    pub key: String,
    /// The object holding it, from the top: object keys and array indexes, e.g.
    /// `["ctx", "0"]` for `{"ctx":[{…}]}`; empty for the top object.
    pub path: Vec<PathStep>,
}

/// One step of a [`DuplicateKey::path`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    /// The value of this key of an object.
    Key(String),
    /// The element at this index of an array.
    Index(usize),
}

impl DuplicateKey {
    /// `` `user` in `event.ctx[0].who` `` for `root` `event`: the key and its object.
    pub fn describe(&self, root: &str) -> String {
        let mut path = root.to_owned();
        for step in &self.path {
            match step {
                PathStep::Key(k) => {
                    path.push('.');
                    path.push_str(k);
                }
                PathStep::Index(i) => path.push_str(&format!("[{i}]")),
            }
        }
        format!("`{}` in `{}`", shown(&self.key), shown(&path))
    }
}

impl fmt::Display for DuplicateKey {
    /// The key and its object, from `$` (the whole value), as in JSONPath.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe("$"))
    }
}

/// At most 64 characters of `s`, for messages.
fn shown(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

/// The first key given twice in one object of the JSON value `text`, in document order;
/// `Ok(None)` when there is none, `Err` when `text` is not JSON. Allocates only for keys
/// with escapes and for objects of more than 16 keys (a set then); the depth is the caller's
/// to bound (the server checks it first).
pub fn find_duplicate_key(text: &str) -> Result<Option<DuplicateKey>, serde_json::Error> {
    let mut found = None;
    let mut de = serde_json::Deserializer::from_str(text);
    match (Walk { found: &mut found }).deserialize(&mut de) {
        Ok(()) => {
            de.end()?;
            Ok(None)
        }
        Err(e) => match found {
            Some(mut dup) => {
                dup.path.reverse();
                Ok(Some(dup))
            }
            None => Err(e),
        },
    }
}

/// Walks one value; on a duplicate it fills `found` (the path is built backwards as the
/// error goes up) and fails.
struct Walk<'f> {
    found: &'f mut Option<DuplicateKey>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// Objects with more keys than this are checked with a set, smaller ones by scanning.
const SCAN_MAX: usize = 16;

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        loop {
            match seq.next_element_seed(Walk { found: self.found }) {
                Ok(Some(())) => i += 1,
                Ok(None) => return Ok(()),
                Err(e) => {
                    if let Some(dup) = self.found.as_mut() {
                        dup.path.push(PathStep::Index(i));
                    }
                    return Err(e);
                }
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut few: Vec<Key<'de>> = Vec::new();
        let mut many: HashSet<Key<'de>> = HashSet::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let seen = if many.is_empty() && few.len() < SCAN_MAX {
                few.contains(&key)
            } else {
                if many.is_empty() {
                    many.extend(few.drain(..));
                }
                many.contains(&key)
            };
            if seen {
                *self.found = Some(DuplicateKey {
                    key: key.0.clone().into_owned(),
                    path: Vec::new(),
                });
                return Err(de::Error::custom("duplicate key"));
            }
            if let Err(e) = map.next_value_seed(Walk { found: self.found }) {
                if let Some(dup) = self.found.as_mut() {
                    dup.path.push(PathStep::Key(key.0.into_owned()));
                }
                return Err(e);
            }
            if many.is_empty() && few.len() < SCAN_MAX {
                few.push(key);
            } else {
                many.insert(key);
            }
        }
        Ok(())
    }
}

/// An object key, borrowed from the text unless it holds escapes.
#[derive(PartialEq, Eq, Hash)]
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(s.into()))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(s.to_owned().into()))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dup(text: &str) -> Option<String> {
        find_duplicate_key(text).unwrap().map(|d| d.to_string())
    }

    #[test]
    fn finds_the_first_duplicate_at_any_depth() {
        let cases: &[(&str, Option<&str>)] = &[
            (r#"{"msgType":"x","authUser":"alice"}"#, None),
            (
                r#"{"msgType":"x","authUser":"alice","authUser":"mallory"}"#,
                Some("`authUser` in `$`"),
            ),
            (r#"{"a":1,"\u0061":2}"#, Some("`a` in `$`")),
            (
                r#"{"a":{"b":1,"c":{"d":[1,{"e":1,"e":2}]}}}"#,
                Some("`e` in `$.a.c.d[1]`"),
            ),
            (r#"{"a":[{"x":1},{"x":1}],"b":{"x":1},"x":{"x":1}}"#, None),
            (
                r#"{"a":{"k":1,"k":2},"b":{"k":1,"k":2}}"#,
                Some("`k` in `$.a`"),
            ),
            (
                r#"[{"k":1},[[{"k":1,"k":1}]]]"#,
                Some("`k` in `$[1][0][0]`"),
            ),
            (r#"{"":1,"":2}"#, Some("`` in `$`")),
            (r#"{"a":"{\"b\":1,\"b\":2}"}"#, None),
            ("[]", None),
            ("{}", None),
            ("\"x\"", None),
        ];
        for (text, want) in cases {
            assert_eq!(dup(text).as_deref(), *want, "{text}");
        }
    }

    #[test]
    fn large_objects_use_a_set_and_still_find_it() {
        for n in [15, 16, 17, 40] {
            let mut keys: Vec<String> = (0..n).map(|i| format!("\"k{i}\":{i}")).collect();
            assert_eq!(dup(&format!("{{{}}}", keys.join(","))), None, "{n}");
            keys.push("\"k3\":0".into());
            assert_eq!(
                dup(&format!("{{{}}}", keys.join(","))).unwrap(),
                "`k3` in `$`",
                "{n}"
            );
        }
    }

    #[test]
    fn not_json_is_an_error() {
        for bad in ["{", r#"{"a":1,}"#, "{} x", ""] {
            assert!(find_duplicate_key(bad).is_err(), "{bad}");
        }
    }

    /// JSON values with small key alphabets, so that duplicates are common.
    fn value() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![Just("1".to_owned()), Just("\"s\"".to_owned())];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec(("[abc]", inner), 0..4).prop_map(|kv| {
                    let body: Vec<String> = kv
                        .into_iter()
                        .map(|(k, v)| format!("\"{k}\":{v}"))
                        .collect();
                    format!("{{{}}}", body.join(","))
                }),
            ]
        })
    }

    /// The reference: whether serde_json's map (which keeps one value per key) holds fewer
    /// keys than the text gives, anywhere.
    fn has_duplicate(text: &str) -> bool {
        fn count_keys(v: &serde_json::Value) -> usize {
            match v {
                serde_json::Value::Object(m) => m.len() + m.values().map(count_keys).sum::<usize>(),
                serde_json::Value::Array(a) => a.iter().map(count_keys).sum(),
                _ => 0,
            }
        }
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        count_keys(&v) != text.matches("\":").count()
    }

    proptest! {
        // PROPTEST_CASES raises it (scripts/fuzz-ingest.sh).
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(2_000),
        ))]
        #[test]
        fn agrees_with_a_reference(text in value()) {
            let found = find_duplicate_key(&text).unwrap();
            prop_assert_eq!(found.is_some(), has_duplicate(&text), "{}", text);
        }
    }
}
