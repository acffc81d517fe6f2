//! Checks a config without side effects (no file is opened or created) and describes what it
//! resolves to: loggers → appenders → destinations, with the topics and routing keys accepted.

use std::fmt::Write as _;

use log4rs::append::Append;
use log4rs::config::Deserializers;
use log4rs::encode::{Encode, EncoderConfig};
use log4rs::filter::Filter;
use serde_value::Value;

use super::{AppenderSpec, AuditConfig, ConfigError};
use crate::filter::{RouteConfig, Selection};

/// Every problem building the config would meet, without building file appenders.
pub fn validate(config: &AuditConfig, deserializers: &Deserializers) -> Vec<ConfigError> {
    config
        .appenders
        .iter()
        .filter_map(|spec| validate_appender(config, spec, deserializers).err())
        .collect()
}

/// The first problem building one appender (filters included) would meet.
pub fn validate_appender(
    config: &AuditConfig,
    spec: &AppenderSpec,
    deserializers: &Deserializers,
) -> Result<(), ConfigError> {
    let key = format!("appenders.{}", spec.name);
    for f in &spec.config.filters {
        if let Err(e) = deserializers.deserialize::<dyn Filter>(&f.kind, f.config.clone()) {
            return Err(config.error(
                spec.line,
                format!("{key}.filters"),
                format!("kind `{}`: {e:#}", f.kind),
            ));
        }
    }
    check_appender(spec, deserializers).map_err(|e| {
        config.error(
            spec.line,
            key,
            format!("kind `{}`: {e:#}", spec.config.kind),
        )
    })
}
fn check_appender(spec: &AppenderSpec, d: &Deserializers) -> anyhow::Result<()> {
    check_kind(&spec.config.kind, spec.config.config.clone(), d)
}

/// Checks one appender's options without side effects: this crate's kinds by their own check
/// (see [`super::kinds::APPENDER_KINDS`]), log4rs's by what can be checked without building.
pub(crate) fn check_kind(kind: &str, options: Value, d: &Deserializers) -> anyhow::Result<()> {
    if let Some(k) = super::kinds::appender_kind(kind) {
        return (k.check)(options, d);
    }
    match kind {
        // Building it has no side effect.
        "console" => d.deserialize::<dyn Append>(kind, options).map(drop),
        // Other kinds open their files when built: check that the kind exists, then their
        // encoder.
        _ => {
            check_registered(kind, d)?;
            check_encoder(&options, d)
        }
    }
}

/// Fails when no appender kind `kind` is registered, without building one: options no
/// appender takes (`false`) fail at their parsing, before any side effect, while an unknown
/// kind fails at the lookup.
fn check_registered(kind: &str, d: &Deserializers) -> anyhow::Result<()> {
    match d.deserialize::<dyn Append>(kind, Value::Bool(false)) {
        Err(e)
            if e.to_string()
                == format!("no appender deserializer for kind `{kind}` registered") =>
        {
            let kinds: Vec<&str> = super::kinds::APPENDER_KINDS
                .iter()
                .map(|k| k.name)
                .chain(["console", "file", "rolling_file"])
                .collect();
            Err(anyhow::anyhow!(
                "unknown appender kind (known: {})",
                kinds.join(", ")
            ))
        }
        _ => Ok(()),
    }
}

fn check_encoder(options: &Value, d: &Deserializers) -> anyhow::Result<()> {
    match map_get(options, "encoder") {
        Some(enc) => {
            let enc: EncoderConfig = enc.clone().deserialize_into()?;
            d.deserialize::<dyn Encode>(&enc.kind, enc.config).map(drop)
        }
        None => Ok(()),
    }
}

/// `key` of a raw options map.
pub(crate) fn map_get<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    match value {
        Value::Map(m) => m.get(&Value::String(key.to_owned())),
        _ => None,
    }
}

/// A raw option as text (strings, numbers, booleans).
pub(crate) fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::U8(n) => Some(n.to_string()),
        Value::U16(n) => Some(n.to_string()),
        Value::U32(n) => Some(n.to_string()),
        Value::U64(n) => Some(n.to_string()),
        Value::I64(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A human-readable description of what `config` resolves to.
pub fn describe(config: &AuditConfig) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "loggers:");
    let mut loggers: Vec<_> = std::iter::once(&config.root)
        .chain(&config.loggers)
        .collect();
    loggers.sort_by(|a, b| a.name.cmp(&b.name));
    for l in loggers {
        let name = if l.name.is_empty() { "<root>" } else { &l.name };
        let level = l
            .level
            .map_or("(inherited)".to_owned(), |l| l.as_str().to_owned());
        let appenders = if l.appenders.is_empty() {
            "-".to_owned()
        } else {
            l.appenders.join(", ")
        };
        let additive = if l.additive {
            ""
        } else {
            "  (additive: false)"
        };
        let _ = writeln!(out, "  {name:<40} {level:<11} -> {appenders}{additive}");
    }
    let _ = writeln!(out, "appenders:");
    for spec in &config.appenders {
        let mut details = Vec::new();
        let destination = describe_appender(&spec.config.kind, &spec.config.config, &mut details);
        let (mut topics, mut keys) = ("all".to_owned(), "all".to_owned());
        let mut other_filters = Vec::new();
        for f in &spec.config.filters {
            if f.kind == "audit_route" {
                if let Ok(route) = f
                    .config
                    .clone()
                    .deserialize_into::<RouteConfig>()
                    .map_err(anyhow::Error::from)
                    .and_then(|r| r.build())
                {
                    if let Selection::Only(t) = route.topics() {
                        topics = t
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ");
                    }
                    if let Selection::Only(k) = route.routing_keys() {
                        keys = k.iter().cloned().collect::<Vec<_>>().join(", ");
                    }
                }
            } else {
                let level = text(map_get(&f.config, "level"))
                    .map(|l| format!(" {l}"))
                    .unwrap_or_default();
                other_filters.push(format!("{}{level}", f.kind));
            }
        }
        let _ = writeln!(
            out,
            "  {:<20} {:<11} -> {destination}",
            spec.name, spec.config.kind
        );
        let _ = writeln!(
            out,
            "  {:<20} {:<11}    topics: {topics}; routing keys: {keys}",
            "", ""
        );
        if !details.is_empty() {
            let _ = writeln!(out, "  {:<20} {:<11}    {}", "", "", details.join("; "));
        }
        if !other_filters.is_empty() {
            let _ = writeln!(
                out,
                "  {:<20} {:<11}    filters: {}",
                "",
                "",
                other_filters.join(", ")
            );
        }
    }
    out
}

/// How `check-config` shows an appender of one of this crate's kinds, from its typed options.
pub(crate) trait Describe {
    /// Where it writes; its details (rolling, encoder, spool, …) pushed on `details`.
    fn describe(&self, details: &mut Vec<String>) -> String;
}

/// [`Describe`] for options of kind `C` (an `AppenderKind::describe`): options that do not read
/// show no destination (`-`), their error is listed below.
pub(crate) fn described<C: Describe + serde::de::DeserializeOwned>(
    options: &Value,
    details: &mut Vec<String>,
) -> String {
    match options.clone().deserialize_into::<C>() {
        Ok(c) => c.describe(details),
        Err(_) => "-".into(),
    }
}

/// Where an appender of `kind` writes and its details: this crate's kinds by their own
/// description, log4rs's (console, file, rolling_file) from their options.
pub(crate) fn describe_appender(kind: &str, options: &Value, details: &mut Vec<String>) -> String {
    if let Some(k) = super::kinds::appender_kind(kind) {
        return (k.describe)(options, details);
    }
    let destination = match kind {
        "console" => text(map_get(options, "target")).unwrap_or_else(|| "stdout".into()),
        _ => path_destination(options),
    };
    if let Some(policy) = map_get(options, "policy") {
        for key in [
            "max_size",
            "max_backups",
            "every",
            "date_pattern",
            "compress",
        ] {
            if let Some(v) = text(map_get(policy, key)) {
                details.push(format!("{key} {v}"));
            }
        }
    }
    if let Some(enc) = map_get(options, "encoder") {
        let kind = text(map_get(enc, "kind")).unwrap_or_else(|| "pattern".into());
        details.push(encoder_detail(&kind, enc));
    }
    destination
}

/// An encoder as `check-config` shows it: its kind, its layout if not the default, its pattern.
pub(crate) fn encoder_detail(kind: &str, options: &Value) -> String {
    let kind = match text(map_get(options, "layout")) {
        Some(layout) => format!("{kind} ({layout})"),
        None => kind.to_owned(),
    };
    match text(map_get(options, "pattern")) {
        Some(p) => format!("{kind} `{}`", p.escape_debug()),
        None => kind,
    }
}

/// The `path` option, `$ENV{…}` expanded: where file kinds write.
pub(crate) fn path_destination(options: &Value) -> String {
    text(map_get(options, "path"))
        .map(|p| crate::config::expand_env(&p))
        .unwrap_or_else(|| "-".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(appender: &str) -> String {
        let yaml =
            format!("appenders:\n  a: {appender}\nroot: {{ level: info, appenders: [a] }}\n");
        let config = AuditConfig::from_yaml(&yaml, None).unwrap();
        validate(&config, &crate::config::deserializers())
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn an_unknown_appender_kind_is_an_error_naming_it() {
        let e = errors("{ kind: fille, path: x.log }");
        assert!(e.contains("appenders.a"), "{e}");
        assert!(e.contains("kind `fille`: unknown appender kind"), "{e}");
        assert!(
            e.contains("known: audit_file, event_server, null, async, syslog, kafka, console"),
            "{e}"
        );
        let e = errors("{ kind: async, appender: { kind: fille, path: x.log } }");
        assert!(
            e.contains("appender: kind `fille`: unknown appender kind"),
            "{e}"
        );
    }

    #[test]
    fn known_kinds_that_open_files_are_checked_without_building_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/x.log");
        let e = errors(&format!("{{ kind: file, path: '{}' }}", path.display()));
        assert_eq!(e, "");
        let e = errors(&format!(
            "{{ kind: rolling_file, path: '{}', policy: {{ kind: compound, trigger: {{ kind: size, limit: 1mb }}, roller: {{ kind: delete }} }} }}",
            path.display()
        ));
        assert_eq!(e, "");
        assert!(!path.parent().unwrap().exists(), "nothing created");
    }
}
