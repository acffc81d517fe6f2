//! The query string of the read API: the `query` filters and each endpoint's options.
//!
//! Strict on purpose: an unknown parameter, a repeated single-valued one (`limit=1&limit=9`)
//! or a value that does not parse is a `400` naming it, never a silent default, so a typo in a
//! compliance script cannot widen or narrow what it reads without a word.

use std::collections::HashSet;
use std::time::Duration;

use crate::query::filter::{Filter, WhereClause};
use crate::query::reports::{CruKey, Period};
use crate::query::time::{parse_time_arg, DateEdge};

/// A parameter that is wrong, with the message to answer.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadParam(pub String);

/// Every parameter of a read request.
#[derive(Debug, Default)]
pub struct ReadParams {
    /// The `query` filters: `topic`, `msgType`, `user` (comma lists), `since`, `until`,
    /// `where` (repeated, `key=value`).
    pub filter: Filter,
    /// `destination` (comma list of names; all filesystem destinations when empty).
    pub destinations: Vec<String>,
    /// `limit` (`/api/events`).
    pub limit: Option<usize>,
    /// `cursor` (`/api/events`).
    pub cursor: Option<String>,
    /// `annotate=1` (`/api/events`).
    pub annotate: bool,
    /// `period` (`usage`).
    pub period: Option<Period>,
    /// `by` (`cru`).
    pub by: Option<CruKey>,
    /// `burst` (`authfail`).
    pub burst: Option<u64>,
    /// `window` (`authfail`).
    pub window: Option<Duration>,
}

/// The filter parameters every endpoint takes.
const FILTERS: [&str; 7] = [
    "topic",
    "msgType",
    "user",
    "since",
    "until",
    "where",
    "destination",
];

/// Parses `query` (the part after `?`), accepting the filters and `extra`.
pub fn parse(query: Option<&str>, extra: &[&str]) -> Result<ReadParams, BadParam> {
    let mut params = ReadParams::default();
    let mut seen = HashSet::new();
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key =
            decode(key).ok_or_else(|| BadParam("a parameter name is not valid UTF-8".into()))?;
        let value = decode(value).ok_or_else(|| BadParam(format!("{key}: not valid UTF-8")))?;
        if !FILTERS.contains(&key.as_str()) && !extra.contains(&key.as_str()) {
            let mut known: Vec<&str> = FILTERS.iter().chain(extra).copied().collect();
            known.sort_unstable();
            return Err(BadParam(format!(
                "unknown parameter `{key}` (this endpoint takes: {})",
                known.join(", ")
            )));
        }
        let repeatable = matches!(
            key.as_str(),
            "where" | "topic" | "msgType" | "user" | "destination"
        );
        if !repeatable && !seen.insert(key.clone()) {
            return Err(BadParam(format!("{key}: given twice")));
        }
        let bad = |why: &str| BadParam(format!("{key}: {why}"));
        let list = |v: &str| -> Vec<String> {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        match key.as_str() {
            "topic" => params.filter.topics.extend(list(&value)),
            "msgType" => params.filter.msg_types.extend(list(&value)),
            "user" => params.filter.users.extend(list(&value)),
            "destination" => params.destinations.extend(list(&value)),
            "since" => {
                params.filter.since =
                    Some(parse_time_arg(&value, DateEdge::Start).map_err(|e| bad(&e.to_string()))?)
            }
            "until" => {
                params.filter.until =
                    Some(parse_time_arg(&value, DateEdge::End).map_err(|e| bad(&e.to_string()))?)
            }
            "where" => params.filter.wheres.push(
                value
                    .parse::<WhereClause>()
                    .map_err(|e| bad(&e.to_string()))?,
            ),
            "limit" => {
                let n: usize = value
                    .parse()
                    .map_err(|_| bad("expected a number of lines"))?;
                if n == 0 || n > super::newest::MAX_LIMIT {
                    return Err(bad(&format!("between 1 and {}", super::newest::MAX_LIMIT)));
                }
                params.limit = Some(n);
            }
            "cursor" => params.cursor = Some(value),
            "annotate" => {
                params.annotate = match value.as_str() {
                    "1" | "true" => true,
                    "0" | "false" => false,
                    _ => return Err(bad("expected 1 or 0")),
                }
            }
            "period" => {
                params.period = Some(match value.as_str() {
                    "day" => Period::Day,
                    "month" => Period::Month,
                    _ => return Err(bad("expected day or month")),
                })
            }
            "by" => {
                params.by = Some(match value.as_str() {
                    "user" => CruKey::User,
                    "project" => CruKey::Project,
                    "type" => CruKey::Type,
                    "department" => CruKey::Department,
                    _ => return Err(bad("expected user, project, type or department")),
                })
            }
            "burst" => {
                let n: u64 = value
                    .parse()
                    .map_err(|_| bad("expected a number of failures"))?;
                if n == 0 {
                    return Err(bad("at least 1"));
                }
                params.burst = Some(n);
            }
            "window" => {
                let w = humantime::parse_duration(&value).map_err(|e| bad(&e.to_string()))?;
                if w.is_zero() {
                    return Err(bad("longer than 0s"));
                }
                params.window = Some(w);
            }
            _ => unreachable!("checked against the known names"),
        }
    }
    Ok(params)
}

/// Percent-decoding of a query string part (`+` is a space, as forms send it).
fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b'%' => return None,
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_and_options() {
        let p = parse(
            Some("topic=generic,authfail&user=al%20ice&user=bob&where=params.format%3Dcsv&limit=5&since=2026-12-01&annotate=1"),
            &["limit", "annotate", "cursor"],
        )
        .unwrap();
        assert_eq!(p.filter.topics, ["generic", "authfail"]);
        assert_eq!(p.filter.users, ["al ice", "bob"]);
        assert_eq!(p.filter.wheres[0].path, ["params", "format"]);
        assert_eq!(p.limit, Some(5));
        assert!(p.filter.since.is_some() && p.annotate);
    }

    #[test]
    fn hostile_query_strings_are_refused_by_name() {
        let err = |q: &str| parse(Some(q), &["limit"]).unwrap_err().0;
        assert_eq!(err("limit=1&limit=9"), "limit: given twice");
        assert!(err("limt=1").starts_with("unknown parameter `limt`"));
        assert_eq!(err("limit=0"), "limit: between 1 and 1000");
        assert_eq!(err("limit=100000"), "limit: between 1 and 1000");
        assert!(err("since=yesterday").starts_with("since: "));
        assert!(err("where=novalue").starts_with("where: "));
        assert_eq!(err("user=%ff"), "user: not valid UTF-8");
        assert_eq!(err("user=%4"), "user: not valid UTF-8");
        assert!(err("period=day").starts_with("unknown parameter `period`"));
        assert!(parse(None, &[]).is_ok());
        assert!(parse(Some("&&"), &[]).is_ok());
    }

    #[test]
    fn decoding() {
        assert_eq!(decode("a+b%2Cc%3d").as_deref(), Some("a b,c="));
        assert_eq!(decode("%"), None);
        assert_eq!(decode("%4"), None);
        assert_eq!(decode("%zz"), None);
        assert_eq!(decode("%C3%A9").as_deref(), Some("é"));
    }
}
