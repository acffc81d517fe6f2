//! The trail's own events: `audit-logger-start`, `audit-config-change`,
//! `audit-config-change-refused`, `audit-heartbeat`, `audit-logger-stop`; and what `lock: true`
//! compares.
//!
//! A trail that says nothing about the logger writing it cannot show that a target was
//! removed, a topic narrowed or the process stopped: a gap looks like a quiet day. So the logger
//! writes these events itself, as `dku.audit.generic` events in the standard envelope, to every
//! **audit target**: each appender that the six `dku.audit.<topic>` loggers reach at `INFO` or
//! more verbose and whose `audit_route` filters accept at least one topic. They are handed to
//! each audit target directly rather than through the hierarchy, and skip its `audit_route`
//! filters (a target routing only `authfail` still learns that the config it runs under
//! changed); any other filter (`threshold`, log4j's) applies as to any event.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use log::kv::{Key, Value};
use log::{Level, LevelFilter, Record};
use log4rs::filter::Response;
use serde::Serialize;

use super::hierarchy::Hierarchy;
use super::{AppenderEntry, Runtime};
use crate::config::check::{describe_appender, map_get};
use crate::config::{AppenderSpec, AuditConfig};
use crate::error::{AuditError, Reporter};
use crate::event::Topic;
use crate::filter::{RouteConfig, Selection};

// The names are public in `crate::lifecycle`, the one place they are spelled.
pub(crate) use crate::lifecycle::{
    CONFIG_CHANGE, CONFIG_CHANGE_REFUSED, HEARTBEAT, LOGGER as LIFECYCLE_LOGGER, START, STOP,
};

/// One audit target of a config and what it accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TargetView {
    /// Its position in the config's (and the runtime's) appenders.
    pub(crate) index: usize,
    pub(crate) name: String,
    /// The kind; `async(<inner kind>)` for the async wrapper.
    pub(crate) kind: String,
    /// Where it writes, as `check-config` shows it.
    pub(crate) destination: String,
    /// Topics that reach it (loggers at INFO or finer) and that its route filters accept.
    pub(crate) topics: BTreeSet<Topic>,
    /// Routing keys its route filters accept.
    pub(crate) routing_keys: Selection<String>,
    /// Whether it keeps a hash chain (`integrity` set on it, or on what `async` wraps).
    pub(crate) integrity: bool,
}

/// What a config covers: its audit targets and the effective level of each topic's logger.
#[derive(Clone, Debug, Default)]
pub(crate) struct Coverage {
    pub(crate) targets: Vec<TargetView>,
    pub(crate) levels: Vec<(Topic, LevelFilter)>,
}

impl Coverage {
    /// The coverage of `config`, whose loggers resolve through `hierarchy` (built from it).
    pub(crate) fn of(config: &AuditConfig, hierarchy: &Hierarchy) -> Coverage {
        let mut reached: Vec<BTreeSet<Topic>> = vec![BTreeSet::new(); config.appenders.len()];
        let mut levels = Vec::with_capacity(Topic::ALL.len());
        for topic in Topic::ALL {
            let route = hierarchy.route(topic.logger_name());
            levels.push((topic, route.level));
            if route.level >= LevelFilter::Info {
                for i in route.appenders {
                    if let Some(set) = reached.get_mut(i) {
                        set.insert(topic);
                    }
                }
            }
        }
        let targets = config
            .appenders
            .iter()
            .zip(reached)
            .enumerate()
            .filter_map(|(index, (spec, reached))| view(index, spec, reached))
            .collect();
        Coverage { targets, levels }
    }

    fn target(&self, name: &str) -> Option<&TargetView> {
        self.targets.iter().find(|t| t.name == name)
    }
}

/// The view of one appender, `None` when no audit topic reaches it.
fn view(index: usize, spec: &AppenderSpec, reached: BTreeSet<Topic>) -> Option<TargetView> {
    let mut topics = reached;
    let mut routing_keys = Selection::All;
    for f in spec
        .config
        .filters
        .iter()
        .filter(|f| f.kind == "audit_route")
    {
        // A filter that does not read was refused when the config was built.
        let Ok(route) = f
            .config
            .clone()
            .deserialize_into::<RouteConfig>()
            .map_err(anyhow::Error::from)
            .and_then(|r| r.build())
        else {
            continue;
        };
        if let Selection::Only(only) = route.topics() {
            topics.retain(|t| only.contains(t));
        }
        if let Selection::Only(keys) = route.routing_keys() {
            routing_keys = match routing_keys {
                Selection::All => Selection::Only(keys.clone()),
                Selection::Only(before) => {
                    Selection::Only(before.intersection(keys).cloned().collect())
                }
            };
        }
    }
    let no_key = matches!(&routing_keys, Selection::Only(k) if k.is_empty());
    if topics.is_empty() || no_key {
        return None;
    }
    let options = &spec.config.config;
    let inner = (spec.config.kind == "async")
        .then(|| map_get(options, "appender"))
        .flatten();
    let kind = match inner.and_then(|i| map_get(i, "kind")) {
        Some(serde_value::Value::String(k)) => format!("async({k})"),
        _ => spec.config.kind.clone(),
    };
    let integrity = [Some(options), inner]
        .into_iter()
        .flatten()
        .any(|o| map_get(o, "integrity").is_some_and(is_set));
    let destination = describe_appender(&spec.config.kind, options, &mut Vec::new());
    Some(TargetView {
        index,
        name: spec.name.clone(),
        kind,
        destination,
        topics,
        routing_keys,
        integrity,
    })
}

/// An option given a value (`integrity: ~` is as good as absent).
fn is_set(value: &serde_value::Value) -> bool {
    !matches!(
        value,
        serde_value::Value::Unit | serde_value::Value::Option(None)
    )
}

/// How `old` (a running config with `lock: true`) would lose coverage under `new`: one
/// sentence per loss, naming the target, topic, logger or option; empty when nothing is lost.
pub(crate) fn lowered(
    old: &AuditConfig,
    old_cov: &Coverage,
    new: &AuditConfig,
    new_cov: &Coverage,
) -> Vec<String> {
    let mut reasons = Vec::new();
    // Levels first: a raised level is usually why targets lose topics below.
    let mut raised: Vec<(LevelFilter, LevelFilter, Vec<&str>)> = Vec::new();
    for ((topic, before), (_, after)) in old_cov.levels.iter().zip(&new_cov.levels) {
        if after < before {
            match raised
                .iter_mut()
                .find(|(b, a, _)| b == before && a == after)
            {
                Some((_, _, topics)) => topics.push(topic.wire_name()),
                None => raised.push((*before, *after, vec![topic.wire_name()])),
            }
        }
    }
    for (before, after, topics) in raised {
        let loggers: Vec<String> = topics.iter().map(|t| format!("dku.audit.{t}")).collect();
        reasons.push(format!(
            "the level of {} would rise from {before} to {after}",
            loggers.join(", ")
        ));
    }
    for t in &old_cov.targets {
        let Some(n) = new_cov.target(&t.name) else {
            if new.appenders.iter().any(|a| a.name == t.name) {
                reasons.push(format!(
                    "target `{}` would no longer receive dku.audit events",
                    t.name
                ));
            } else {
                reasons.push(format!("target `{}` would be removed", t.name));
            }
            continue;
        };
        let lost: Vec<&str> = t
            .topics
            .difference(&n.topics)
            .map(|t| t.wire_name())
            .collect();
        if !lost.is_empty() {
            reasons.push(format!(
                "target `{}` would no longer accept topic {}",
                t.name,
                lost.join(", ")
            ));
        }
        match (&t.routing_keys, &n.routing_keys) {
            (_, Selection::All) => {}
            (Selection::All, Selection::Only(keys)) => reasons.push(format!(
                "target `{}` would accept only routing keys {} instead of all",
                t.name,
                keys.iter().cloned().collect::<Vec<_>>().join(", ")
            )),
            (Selection::Only(before), Selection::Only(after)) => {
                let lost: Vec<&str> = before.difference(after).map(String::as_str).collect();
                if !lost.is_empty() {
                    reasons.push(format!(
                        "target `{}` would no longer accept routing key {}",
                        t.name,
                        lost.join(", ")
                    ));
                }
            }
        }
        if t.integrity && !n.integrity {
            reasons.push(format!("target `{}` would turn integrity off", t.name));
        }
        if n.kind == "null" && t.kind != "null" {
            reasons.push(format!(
                "target `{}` would become a `null` target (events discarded)",
                t.name
            ));
        }
    }
    if old.audit.lock && !new.audit.lock {
        reasons.push(
            "`lock` would be turned off (a locked config stays locked until the process restarts)"
                .into(),
        );
    }
    match (old.audit.heartbeat, new.audit.heartbeat) {
        (Some(_), None) => reasons.push("the heartbeat would be turned off".into()),
        (Some(before), Some(after)) if after > before => reasons.push(format!(
            "the heartbeat would slow from {} to {}",
            humantime::format_duration(before),
            humantime::format_duration(after)
        )),
        _ => {}
    }
    reasons
}

/// One lifecycle event: its `msgType` and fields in order (`pid` and `host` are added last).
pub(crate) struct Event {
    msg_type: &'static str,
    fields: Vec<(&'static str, Field)>,
}

/// A field's value; targets serialize as objects with their keys in a fixed order.
#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum Field {
    Json(serde_json::Value),
    Targets(Vec<TargetJson>),
}

impl From<serde_json::Value> for Field {
    fn from(value: serde_json::Value) -> Field {
        Field::Json(value)
    }
}

impl From<&str> for Field {
    fn from(value: &str) -> Field {
        Field::Json(value.into())
    }
}

impl From<u64> for Field {
    fn from(value: u64) -> Field {
        Field::Json(value.into())
    }
}

impl From<bool> for Field {
    fn from(value: bool) -> Field {
        Field::Json(value.into())
    }
}

/// A target as the events describe it.
#[derive(Serialize)]
pub(crate) struct TargetJson {
    name: String,
    kind: String,
    destination: String,
    topics: serde_json::Value,
    #[serde(rename = "routingKeys")]
    routing_keys: serde_json::Value,
    integrity: bool,
}

impl From<&TargetView> for TargetJson {
    fn from(t: &TargetView) -> TargetJson {
        let topics = if t.topics.len() == Topic::ALL.len() {
            "all".into()
        } else {
            t.topics.iter().map(|t| t.wire_name()).collect()
        };
        let routing_keys = match &t.routing_keys {
            Selection::All => "all".into(),
            Selection::Only(keys) => keys.iter().cloned().collect(),
        };
        TargetJson {
            name: t.name.clone(),
            kind: t.kind.clone(),
            destination: t.destination.clone(),
            topics,
            routing_keys,
            integrity: t.integrity,
        }
    }
}

impl Event {
    fn new(msg_type: &'static str) -> Event {
        Event {
            msg_type,
            fields: Vec::new(),
        }
    }

    fn with(mut self, key: &'static str, value: impl Into<Field>) -> Event {
        self.fields.push((key, value.into()));
        self
    }

    /// `audit-logger-start` for a logger running `config`.
    pub(crate) fn start(config: &AuditConfig, coverage: &Coverage) -> Event {
        Event::new(START)
            .with("version", env!("CARGO_PKG_VERSION"))
            .with("configFile", file_of(config))
            .with("configSha256", config.sha256.clone())
            .with("lock", config.audit.lock)
            .with("heartbeat", heartbeat_of(config))
            .with("targets", targets(coverage.targets.iter()))
    }

    /// `audit-config-change` from `old` to `new`.
    pub(crate) fn change(old: &Runtime, new: &Runtime) -> Event {
        let (old_cov, new_cov) = (&old.coverage, &new.coverage);
        let added = new_cov
            .targets
            .iter()
            .filter(|t| old_cov.target(&t.name).is_none());
        let removed = old_cov
            .targets
            .iter()
            .filter(|t| new_cov.target(&t.name).is_none());
        let changed = new_cov.targets.iter().filter(|t| {
            old_cov.target(&t.name).is_some_and(|before| {
                let unplaced = |v: &TargetView| TargetView {
                    index: 0,
                    ..v.clone()
                };
                let before_config = old.config.appenders.get(before.index).map(|s| &s.config);
                let after_config = new.config.appenders.get(t.index).map(|s| &s.config);
                unplaced(before) != unplaced(t) || before_config != after_config
            })
        });
        Event::new(CONFIG_CHANGE)
            .with("configFile", file_of(&new.config))
            .with("oldSha256", old.config.sha256.clone())
            .with("newSha256", new.config.sha256.clone())
            .with("lock", new.config.audit.lock)
            .with("heartbeat", heartbeat_of(&new.config))
            .with("added", targets(added))
            .with("removed", targets(removed))
            .with("changed", targets(changed))
    }

    /// `audit-config-change-refused`: the running `config` stays; `refused` is the digest of
    /// what was refused, when known.
    pub(crate) fn refused(config: &AuditConfig, reason: &str, refused: Option<&str>) -> Event {
        Event::new(CONFIG_CHANGE_REFUSED)
            .with("reason", reason)
            .with("refusedSha256", refused)
            .with("configFile", file_of(config))
            .with("configSha256", config.sha256.clone())
    }

    /// `audit-heartbeat` number `beat`, `uptime_ms` after the logger started.
    pub(crate) fn heartbeat(config: &AuditConfig, beat: u64, uptime_ms: u64) -> Event {
        Event::new(HEARTBEAT)
            .with("beat", beat)
            .with("uptimeMs", uptime_ms)
            .with("configSha256", config.sha256.clone())
    }

    /// `audit-logger-stop` after `beats` heartbeats and `uptime_ms`.
    pub(crate) fn stop(config: &AuditConfig, beats: u64, uptime_ms: u64) -> Event {
        Event::new(STOP)
            .with("uptimeMs", uptime_ms)
            .with("beats", beats)
            .with("configSha256", config.sha256.clone())
    }

    /// Writes the event to each of `entries` (skipping their `audit_route` filters), reporting
    /// each failure.
    pub(crate) fn deliver<'a>(
        self,
        entries: impl IntoIterator<Item = &'a Arc<AppenderEntry>>,
        reporter: &Reporter,
    ) {
        let pid = serde_json::Value::from(std::process::id());
        let host = serde_json::Value::from(hostname());
        let mut kvs: Vec<(Key<'_>, Value<'_>)> = Vec::with_capacity(self.fields.len() + 3);
        kvs.push((
            Key::from_str(crate::MSG_TYPE_KEY),
            Value::from(self.msg_type),
        ));
        for (key, value) in &self.fields {
            kvs.push((Key::from_str(key), Value::from_serde(value)));
        }
        kvs.push((Key::from_str("pid"), Value::from_serde(&pid)));
        kvs.push((Key::from_str("host"), Value::from_serde(&host)));
        let kvs = kvs.as_slice();
        let record = Record::builder()
            .args(format_args!(""))
            .level(Level::Info)
            .target(LIFECYCLE_LOGGER)
            .module_path_static(Some(module_path!()))
            .key_values(&kvs)
            .build();
        for entry in entries {
            if !lifecycle_passes(entry, &record) {
                continue;
            }
            if let Err(error) = entry.appender.append(&record) {
                reporter.report(AuditError::Append {
                    appender: entry.name.clone(),
                    error,
                });
            }
        }
    }
}

/// The runtime's audit targets, in config order.
pub(crate) fn entries(runtime: &Runtime) -> impl Iterator<Item = &Arc<AppenderEntry>> {
    runtime
        .coverage
        .targets
        .iter()
        .filter_map(|t| runtime.appenders.get(t.index))
}

/// log4rs's filter chain without the entry's `audit_route` filters.
fn lifecycle_passes(entry: &AppenderEntry, record: &Record) -> bool {
    let kinds = entry.source.as_ref().map(|s| &s.filters);
    for (i, filter) in entry.filters.iter().enumerate() {
        if kinds
            .and_then(|k| k.get(i))
            .is_some_and(|f| f.kind == "audit_route")
        {
            continue;
        }
        match filter.filter(record) {
            Response::Accept => return true,
            Response::Reject => return false,
            Response::Neutral => {}
        }
    }
    true
}

fn targets<'a>(views: impl Iterator<Item = &'a TargetView>) -> Field {
    Field::Targets(views.map(TargetJson::from).collect())
}

fn file_of(config: &AuditConfig) -> Field {
    config
        .source
        .as_ref()
        .map(|p| p.display().to_string())
        .into()
}

fn heartbeat_of(config: &AuditConfig) -> Field {
    config
        .audit
        .heartbeat
        .map(|d| humantime::format_duration(d).to_string())
        .into()
}

impl From<Option<String>> for Field {
    fn from(value: Option<String>) -> Field {
        Field::Json(value.map_or(serde_json::Value::Null, serde_json::Value::String))
    }
}

impl From<Option<&str>> for Field {
    fn from(value: Option<&str>) -> Field {
        value.map(str::to_owned).into()
    }
}

/// The machine's host name, read once (`-` when it cannot be read).
fn hostname() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it or
        // truncates, and the length is bounded below.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc != 0 {
            return "-".into();
        }
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        let name = String::from_utf8_lossy(&buf[..end]).trim().to_owned();
        if name.is_empty() {
            "-".into()
        } else {
            name
        }
    })
}
