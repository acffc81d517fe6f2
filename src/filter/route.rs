//! The route filter: which audit topics and routing keys a target accepts.

use std::collections::BTreeSet;

use log::kv::Key;
use log::Record;
use log4rs::filter::{Filter, Response};
use serde::Deserialize;

use crate::event::{Topic, ROUTING_KEY_KEY};

/// `all`, or a list of accepted names: what a target (`audit_route`) or an Event Server
/// destination (`topics`, `routing_keys`) accepts.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Selection<T: Ord> {
    /// Everything is accepted.
    #[default]
    All,
    /// Only these.
    Only(BTreeSet<T>),
}

impl Selection<String> {
    /// Topic names as topics; the error (`topics: …`) names the first unknown one.
    pub(crate) fn into_topics(self) -> Result<Selection<Topic>, String> {
        Ok(match self {
            Selection::All => Selection::All,
            Selection::Only(names) => Selection::Only(
                names
                    .iter()
                    .map(|n| n.parse::<Topic>().map_err(|e| format!("topics: {e}")))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }
}

impl<T: Ord> Selection<T> {
    /// Whether `item` is accepted.
    pub fn accepts(&self, item: &T) -> bool {
        match self {
            Selection::All => true,
            Selection::Only(set) => set.contains(item),
        }
    }
}

/// A seed-product target's routing: accepted topics × accepted routing keys; the log4rs filter
/// kind `audit_route`.
///
/// With `all` for both, every record passes. Otherwise only audit events (`dku.audit.<topic>`)
/// whose topic is accepted and whose `routingKey` is accepted pass; an event without a routing key
/// passes only when routing keys are `all`. Accepted records get `Neutral` so later filters
/// still apply; the others are rejected.
///
/// ```
/// use log4rs::filter::{Filter, Response};
/// use log4rs_audit::filter::{AuditRouteFilter, Selection};
/// use log4rs_audit::Topic;
///
/// let filter = AuditRouteFilter::new(Selection::Only([Topic::Authfail].into()), Selection::All);
/// let record = log::Record::builder().target("dku.audit.authfail").build();
/// assert_eq!(filter.filter(&record), Response::Neutral);
/// let record = log::Record::builder().target("dku.audit.generic").build();
/// assert_eq!(filter.filter(&record), Response::Reject);
/// ```
#[derive(Clone, Debug)]
pub struct AuditRouteFilter {
    topics: Selection<Topic>,
    routing_keys: Selection<String>,
}

impl AuditRouteFilter {
    /// A filter accepting `topics` × `routing_keys`.
    pub fn new(topics: Selection<Topic>, routing_keys: Selection<String>) -> AuditRouteFilter {
        AuditRouteFilter {
            topics,
            routing_keys,
        }
    }

    /// Accepted topics.
    pub fn topics(&self) -> &Selection<Topic> {
        &self.topics
    }

    /// Accepted routing keys.
    pub fn routing_keys(&self) -> &Selection<String> {
        &self.routing_keys
    }

    /// Whether an event of `topic` with `routing_key` is accepted.
    pub fn accepts(&self, topic: Topic, routing_key: Option<&str>) -> bool {
        if !self.topics.accepts(&topic) {
            return false;
        }
        match (&self.routing_keys, routing_key) {
            (Selection::All, _) => true,
            (Selection::Only(keys), Some(rk)) => keys.contains(rk),
            (Selection::Only(_), None) => false,
        }
    }
}

impl Filter for AuditRouteFilter {
    fn filter(&self, record: &Record) -> Response {
        if self.topics == Selection::All && self.routing_keys == Selection::All {
            return Response::Neutral;
        }
        let Some(topic) = Topic::from_logger_name(record.target()) else {
            return Response::Reject;
        };
        let routing_key = match &self.routing_keys {
            Selection::All => None,
            Selection::Only(_) => record.key_values().get(Key::from_str(ROUTING_KEY_KEY)),
        };
        let rk = routing_key.as_ref().map(|v| v.to_string());
        if self.accepts(topic, rk.as_deref()) {
            Response::Neutral
        } else {
            Response::Reject
        }
    }
}

/// `all` or a list, as written in a config file.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawSelection {
    Word(String),
    List(Vec<String>),
}

impl RawSelection {
    /// `all` (in any case) or a non-empty list; `all` is the word as the errors write it
    /// (`` `all` `` in client configs, `ALL` in the server's).
    pub(crate) fn into_selection(self, all: &str) -> Result<Selection<String>, String> {
        match self {
            RawSelection::Word(w) if w.eq_ignore_ascii_case("all") => Ok(Selection::All),
            RawSelection::Word(w) => Err(format!("expected {all} or a list, found `{w}`")),
            RawSelection::List(list) if list.is_empty() => Err(format!(
                "an empty list would accept nothing; use {all} or name at least one"
            )),
            RawSelection::List(list) => Ok(Selection::Only(list.into_iter().collect())),
        }
    }
}

/// Options of the `audit_route` filter kind.
///
/// ```yaml
/// filters:
///   - kind: audit_route
///     topics: [authfail, generic-failure]   # or all
///     routing_keys: all                     # or a list
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    #[serde(default)]
    topics: Option<RawSelection>,
    #[serde(default)]
    routing_keys: Option<RawSelection>,
}

impl RouteConfig {
    /// Builds the filter; unknown topics and empty lists are errors naming the option.
    pub fn build(&self) -> anyhow::Result<AuditRouteFilter> {
        let topics = selection("topics", &self.topics)?
            .into_topics()
            .map_err(anyhow::Error::msg)?;
        let routing_keys = selection("routing_keys", &self.routing_keys)?;
        Ok(AuditRouteFilter::new(topics, routing_keys))
    }
}

fn selection(option: &str, raw: &Option<RawSelection>) -> anyhow::Result<Selection<String>> {
    match raw {
        None => Ok(Selection::All),
        Some(raw) => raw
            .clone()
            .into_selection("`all`")
            .map_err(|e| anyhow::anyhow!("{option}: {e}")),
    }
}

/// The `audit_route` filter kind.
#[derive(Clone, Copy, Debug, Default)]
pub struct AuditRouteFilterDeserializer;

crate::config::impl_deserialize!(AuditRouteFilterDeserializer, RouteConfig => Filter);

#[cfg(test)]
mod tests {
    use super::*;

    fn record_response(filter: &AuditRouteFilter, target: &str, rk: Option<&str>) -> Response {
        match rk {
            Some(rk) => {
                let kvs = [
                    ("msgType", log::kv::Value::from("q")),
                    ("routingKey", rk.into()),
                ];
                filter.filter(&Record::builder().target(target).key_values(&kvs).build())
            }
            None => filter.filter(&Record::builder().target(target).build()),
        }
    }

    fn parse(yaml: &str) -> anyhow::Result<AuditRouteFilter> {
        serde_yaml::from_str::<RouteConfig>(yaml)?.build()
    }

    #[test]
    fn topics_and_routing_keys_select() {
        let f = parse("topics: [apinode-query]\nrouting_keys: [fraud-svc, churn]").unwrap();
        use Response::*;
        assert_eq!(
            record_response(&f, "dku.audit.apinode-query", Some("fraud-svc")),
            Neutral
        );
        assert_eq!(
            record_response(&f, "dku.audit.apinode-query", Some("churn")),
            Neutral
        );
        assert_eq!(
            record_response(&f, "dku.audit.apinode-query", Some("other")),
            Reject
        );
        assert_eq!(record_response(&f, "dku.audit.apinode-query", None), Reject);
        assert_eq!(
            record_response(&f, "dku.audit.generic", Some("fraud-svc")),
            Reject
        );
        assert_eq!(record_response(&f, "app::db", None), Reject);
    }

    #[test]
    fn all_passes_everything_and_topic_lists_ignore_keys() {
        let all = parse("topics: all\nrouting_keys: ALL").unwrap();
        assert_eq!(record_response(&all, "app::db", None), Response::Neutral);
        let f = parse("topics: [authfail]").unwrap();
        assert_eq!(
            record_response(&f, "dku.audit.authfail", None),
            Response::Neutral
        );
        assert_eq!(
            record_response(&f, "dku.audit.authfail", Some("k")),
            Response::Neutral
        );
        assert_eq!(
            record_response(&f, "dku.audit.generic", None),
            Response::Reject
        );
        assert_eq!(record_response(&f, "app", None), Response::Reject);
    }

    #[test]
    fn bad_options_are_named() {
        let e = parse("topics: [authfial]").unwrap_err().to_string();
        assert!(e.contains("topics") && e.contains("authfial"), "{e}");
        let e = parse("topics: some").unwrap_err().to_string();
        assert!(e.contains("topics") && e.contains("some"), "{e}");
        let e = parse("routing_keys: []").unwrap_err().to_string();
        assert!(e.contains("routing_keys"), "{e}");
        assert!(serde_yaml::from_str::<RouteConfig>("topic: all").is_err());
    }
}
