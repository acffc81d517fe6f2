//! Which records a query keeps: topic, msgType, user, time window and `--where key=value`.
//!
//! Criteria combine with AND; repeated `--topic`, `--msg-type` or `--user` values combine with
//! OR. A record without the field asked for (no topic, no user, no readable time) does not
//! match a criterion on it.

use std::str::FromStr;

use serde_json::value::RawValue;

use super::reader::{Fields, Record};
use super::time::Millis;

/// `--where key=value`: the event's value at `key` equals `value`.
///
/// The key is a path into the event object, dots separating levels (`params.format`). A JSON
/// string matches its text (`authUser=alice`); any other value matches its compact JSON text
/// (`rows=10000`, `params.includeHeader=true`, `params.limit=null`). The value is everything
/// after the first `=`, so it may contain `=` and may be empty (matching `""`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WhereClause {
    /// The path of keys.
    pub path: Vec<String>,
    /// The text to compare with.
    pub value: String,
}

/// A `--where` argument that is not `key=value`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid --where `{0}`: expected key=value, where key is a field of the event (dots for nested fields: params.format)")]
pub struct InvalidWhere(pub String);

impl FromStr for WhereClause {
    type Err = InvalidWhere;

    /// ```
    /// use log4rs_audit::query::filter::WhereClause;
    ///
    /// let w: WhereClause = "params.format=csv".parse()?;
    /// assert_eq!(w.path, ["params", "format"]);
    /// assert_eq!(w.value, "csv");
    /// assert!("=x".parse::<WhereClause>().is_err());
    /// # Ok::<(), log4rs_audit::query::filter::InvalidWhere>(())
    /// ```
    fn from_str(text: &str) -> Result<WhereClause, InvalidWhere> {
        let invalid = || InvalidWhere(text.to_owned());
        let (key, value) = text.split_once('=').ok_or_else(invalid)?;
        let path: Vec<String> = key.split('.').map(str::to_owned).collect();
        if path.iter().any(|k| k.is_empty()) {
            return Err(invalid());
        }
        Ok(WhereClause {
            path,
            value: value.to_owned(),
        })
    }
}

impl WhereClause {
    /// The key as written (`params.format`).
    pub fn key(&self) -> String {
        self.path.join(".")
    }

    /// Whether `record`'s event has this value at this key.
    pub fn matches(&self, record: &Record<'_>) -> bool {
        record
            .lookup(&self.path)
            .is_some_and(|raw| value_text(raw).as_deref() == Some(self.value.as_str()))
    }
}

/// The text a raw JSON value compares as: a string's content, else its compact JSON.
pub fn value_text(raw: &RawValue) -> Option<String> {
    let text = raw.get();
    if text.starts_with('"') {
        return serde_json::from_str::<String>(text).ok();
    }
    if text.starts_with(['{', '[']) {
        // Nested values keep their bytes as stored; written compactly by both our encoder and
        // the Event Server, but normalise in case another writer added spaces.
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        return serde_json::to_string(&value).ok();
    }
    Some(text.to_owned())
}

/// The criteria of a query. The default keeps everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Topics kept (any, if empty).
    pub topics: Vec<String>,
    /// msgTypes kept (any, if empty).
    pub msg_types: Vec<String>,
    /// Users kept (any, if empty): the event's `authUser`, else the MDC's `user`.
    pub users: Vec<String>,
    /// Records at or after this time (inclusive).
    pub since: Option<Millis>,
    /// Records before this time (exclusive).
    pub until: Option<Millis>,
    /// `--where` clauses, all of which must match.
    pub wheres: Vec<WhereClause>,
}

impl Filter {
    /// Whether the event fields are needed to decide (msgType or user criteria).
    pub fn needs_fields(&self) -> bool {
        !self.msg_types.is_empty() || !self.users.is_empty()
    }

    /// Whether `record` (with its `fields`, read when [`Filter::needs_fields`]) is kept.
    ///
    /// ```
    /// use log4rs_audit::query::files::Location;
    /// use log4rs_audit::query::filter::Filter;
    /// use log4rs_audit::query::reader::parse_line;
    ///
    /// let here = Location::default();
    /// let line = r#"{"severity":"INFO","logger":"dku.audit.generic","message":{"msgType":"login","authUser":"bob"},"mdc":{},"timestamp":"2020-02-19T16:05:02.441+0100"}"#;
    /// let record = parse_line(line, &here)?;
    /// let filter = Filter {
    ///     topics: vec!["generic".into()],
    ///     users: vec!["bob".into()],
    ///     wheres: vec!["msgType=login".parse().unwrap()],
    ///     ..Filter::default()
    /// };
    /// assert!(filter.matches(&record, &record.fields()));
    /// # Ok::<(), String>(())
    /// ```
    pub fn matches(&self, record: &Record<'_>, fields: &Fields<'_>) -> bool {
        if !self.topics.is_empty()
            && !record
                .topic()
                .is_some_and(|t| self.topics.iter().any(|x| x == t))
        {
            return false;
        }
        if self.since.is_some() || self.until.is_some() {
            let Some(t) = record.time() else {
                return false;
            };
            if self.since.is_some_and(|s| t < s) || self.until.is_some_and(|u| t >= u) {
                return false;
            }
        }
        if !self.msg_types.is_empty()
            && !fields
                .msg_type
                .as_deref()
                .is_some_and(|m| self.msg_types.iter().any(|x| x == m))
        {
            return false;
        }
        if !self.users.is_empty()
            && !record
                .user_with(fields)
                .is_some_and(|u| self.users.iter().any(|x| *x == u))
        {
            return false;
        }
        self.wheres.iter().all(|w| w.matches(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::files::Location;
    use crate::query::reader::parse_line;
    use proptest::prelude::*;

    const LINE: &str = r#"{"severity":"INFO","logger":"dku.audit.generic","message":{"msgType":"dataset-export","authUser":"alice","projectKey":"P1","rows":10000,"params":{"format":"csv","includeHeader":true,"limit":null,"cols":["a", "b"]}},"mdc":{"user":"alice"},"timestamp":"2020-02-19T16:05:02.441+0100"}"#;

    fn keeps(filter: &Filter) -> bool {
        let here = Location::default();
        let r = parse_line(LINE, &here).unwrap();
        filter.matches(&r, &r.fields())
    }

    fn wheres(clauses: &[&str]) -> Filter {
        Filter {
            wheres: clauses.iter().map(|c| c.parse().unwrap()).collect(),
            ..Filter::default()
        }
    }

    #[test]
    fn where_values_by_json_type() {
        for ok in [
            "authUser=alice",
            "rows=10000",
            "params.format=csv",
            "params.includeHeader=true",
            "params.limit=null",
            r#"params.cols=["a","b"]"#,
        ] {
            assert!(keeps(&wheres(&[ok])), "{ok}");
        }
        for no in [
            "authUser=bob",
            "rows=1e4",
            "params.format=\"csv\"",
            "missing=",
            "params=x",
        ] {
            assert!(!keeps(&wheres(&[no])), "{no}");
        }
        assert!(!keeps(&wheres(&["authUser=alice", "rows=1"])));
    }

    #[test]
    fn topic_type_user_and_time() {
        assert!(keeps(&Filter::default()));
        let t = 1_582_124_702_441;
        let f = |since: Option<i64>, until: Option<i64>| Filter {
            since,
            until,
            ..Filter::default()
        };
        assert!(keeps(&f(Some(t), Some(t + 1))));
        assert!(!keeps(&f(Some(t + 1), None)));
        assert!(!keeps(&f(None, Some(t))));
        let topics = Filter {
            topics: vec!["authfail".into(), "generic".into()],
            msg_types: vec!["dataset-export".into()],
            users: vec!["alice".into()],
            ..Filter::default()
        };
        assert!(keeps(&topics));
        assert!(!keeps(&Filter {
            msg_types: vec!["login".into()],
            ..Filter::default()
        }));
    }

    proptest! {
        /// Any `key=value` with non-empty dot-separated key segments parses back to its parts;
        /// anything else is an error, never a panic.
        #[test]
        fn where_parser(segments in proptest::collection::vec("[^.=]{1,8}", 1..4), value in ".{0,16}") {
            let text = format!("{}={value}", segments.join("."));
            let w: WhereClause = text.parse().unwrap();
            prop_assert_eq!(w.path, segments);
            prop_assert_eq!(w.value, value);
        }

        #[test]
        fn where_parser_never_panics(text in ".{0,32}") {
            match text.parse::<WhereClause>() {
                Ok(w) => {
                    prop_assert!(text.contains('='));
                    prop_assert!(w.path.iter().all(|k| !k.is_empty()));
                }
                Err(e) => prop_assert_eq!(e.0, text),
            }
        }
    }
}
