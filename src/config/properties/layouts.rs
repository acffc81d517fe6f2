//! log4j layouts and filters of an appender, as this crate's and log4rs's encoders and filters.

use log::LevelFilter;
use log4rs::filter::FilterConfig;
use serde_value::Value;

use super::classes::Map;
use super::log4j::Translator;
use crate::config::ConfigError;

impl Translator<'_> {
    /// The encoder of an appender from its `layout` keys; `None` when left out (after a warning).
    pub(super) fn layout(
        &mut self,
        name: &str,
        class: &str,
        kind: &str,
    ) -> Result<Option<Value>, ConfigError> {
        let key = format!("log4j.appender.{name}.layout");
        let Some(layout) = self.setting(&key)? else {
            if kind == "audit_file" && !class.starts_with("org.apache.log4j.") {
                return Ok(Some(encoder("audit_envelope", None)));
            }
            return Err(self.error(
                self.line(&format!("log4j.appender.{name}")),
                &format!("log4j.appender.{name}"),
                format!("appender `{name}` has no layout"),
            ));
        };
        let line = self.line(&key);
        let options = self.options_of(&format!("{key}."));
        let pattern_key = options.get("conversionpattern").cloned();
        let encoder = match layout.as_str() {
            "org.apache.log4j.PatternLayout" | "org.apache.log4j.EnhancedPatternLayout" => {
                // Not trimmed: trailing spaces of a pattern are printed.
                let pattern = match &pattern_key {
                    Some(k) => self.value(k)?.unwrap_or_default(),
                    None => "%m%n".to_owned(),
                };
                let mut encoder = encoder("log4j_pattern", Some(("pattern", pattern)));
                if layout.ends_with("EnhancedPatternLayout") {
                    if let Value::Map(map) = &mut encoder {
                        map.insert(
                            Value::String("layout".into()),
                            Value::String("enhanced".into()),
                        );
                    }
                }
                encoder
            }
            "org.apache.log4j.SimpleLayout" => {
                encoder("log4j_pattern", Some(("pattern", "%p - %m%n".to_owned())))
            }
            "org.apache.log4j.TTCCLayout" => encoder(
                "log4j_pattern",
                Some(("pattern", "%r [%t] %p %c - %m%n".to_owned())),
            ),
            "com.dataiku.dip.logging.JSONAuditLayout"
            | "AuditEnvelopeLayout"
            | "log4rs_audit.AuditEnvelopeLayout" => {
                let tz = match options.get("timezone") {
                    Some(k) => self.setting(&k.clone())?,
                    None => None,
                };
                encoder("audit_envelope", tz.map(|t| ("timezone", t)))
            }
            other => {
                self.warn(
                    line,
                    &key,
                    format!("unknown layout class {other}; appender `{name}` left out"),
                )?;
                return Ok(None);
            }
        };
        for (option, k) in &options {
            let allowed: &[&str] = match layout.as_str() {
                "org.apache.log4j.PatternLayout" | "org.apache.log4j.EnhancedPatternLayout" => {
                    &["conversionpattern"]
                }
                "com.dataiku.dip.logging.JSONAuditLayout"
                | "AuditEnvelopeLayout"
                | "log4rs_audit.AuditEnvelopeLayout" => &["timezone"],
                _ => &[],
            };
            if !allowed.contains(&option.as_str()) {
                self.warn(
                    self.line(k),
                    k,
                    format!("{layout} has no option `{option}` (ignored)"),
                )?;
            }
        }
        Ok(Some(encoder))
    }

    /// `log4j.appender.NAME.filter.ID=class` with options, in ID order.
    pub(super) fn filters(&mut self, name: &str) -> Result<Vec<FilterConfig>, ConfigError> {
        let prefix = format!("log4j.appender.{name}.filter.");
        let mut ids: Vec<String> = self
            .props
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter(|rest| !rest.contains('.'))
            .map(str::to_owned)
            .collect();
        // log4j sorts filter IDs as strings: `filter.10` runs before `filter.9`.
        ids.sort();
        let mut out = Vec::new();
        for id in ids {
            let key = format!("{prefix}{id}");
            let Some(class) = self.setting(&key)? else {
                continue;
            };
            let options = self.options_of(&format!("{key}."));
            let mut config = Map::default();
            let kind = match class.as_str() {
                "org.apache.log4j.varia.LevelRangeFilter" => "log4j_level_range",
                "org.apache.log4j.varia.LevelMatchFilter" => "log4j_level_match",
                "org.apache.log4j.varia.StringMatchFilter" => "log4j_string_match",
                "org.apache.log4j.varia.DenyAllFilter" => "log4j_deny_all",
                "AuditRouteFilter" | "log4rs_audit.AuditRouteFilter" => "audit_route",
                other => {
                    self.warn(
                        self.line(&key),
                        &key,
                        format!("unknown filter class {other}; filter left out"),
                    )?;
                    continue;
                }
            };
            for (option, okey) in &options {
                let Some(v) = self.setting(okey)? else {
                    continue;
                };
                match (kind, option.as_str()) {
                    ("log4j_level_range", "levelmin") => {
                        config.set("level_min", level_name(self.level(okey, &v)?))
                    }
                    ("log4j_level_range", "levelmax") => {
                        config.set("level_max", level_name(self.level(okey, &v)?))
                    }
                    ("log4j_level_match", "leveltomatch") => {
                        let level = self.level(okey, &v)?.and_then(|l| l.to_level());
                        match level {
                            Some(l) => {
                                config.set("level_to_match", l.as_str().to_ascii_lowercase())
                            }
                            None => {
                                return Err(self.error(
                                    self.line(okey),
                                    okey,
                                    format!(
                                        "`{v}` cannot be matched (use a level from FATAL to TRACE)"
                                    ),
                                ))
                            }
                        }
                    }
                    ("log4j_string_match", "stringtomatch") => config.set("string_to_match", v),
                    ("audit_route", "topics" | "routingkeys") => {
                        let name = if option == "topics" {
                            "topics"
                        } else {
                            "routing_keys"
                        };
                        if name == "topics" && !v.eq_ignore_ascii_case("all") {
                            // Checked here so a typo is reported at its own line and key.
                            for topic in v.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                                if let Err(e) = topic.parse::<crate::Topic>() {
                                    return Err(self.error(self.line(okey), okey, e.to_string()));
                                }
                            }
                        }
                        config.set(name, route_selection(&v));
                    }
                    (_, "acceptonmatch") if kind != "log4j_deny_all" => {
                        config.set("accept_on_match", Value::Bool(self.boolean(okey, &v)?))
                    }
                    _ => self.warn(
                        self.line(okey),
                        okey,
                        format!("{class} has no option `{option}` (ignored)"),
                    )?,
                }
            }
            out.push(FilterConfig {
                kind: kind.to_owned(),
                config: Value::Map(config.0),
            });
        }
        Ok(out)
    }
}

/// `all` or a comma-separated list, as `audit_route` takes it.
fn route_selection(text: &str) -> Value {
    if text.eq_ignore_ascii_case("all") {
        return Value::String("all".to_owned());
    }
    Value::Seq(
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Value::String(s.to_owned()))
            .collect(),
    )
}

fn level_name(level: Option<LevelFilter>) -> String {
    level
        .unwrap_or(LevelFilter::Trace)
        .as_str()
        .to_ascii_lowercase()
}

pub(super) fn threshold_filter(level: LevelFilter) -> FilterConfig {
    let mut config = Map::default();
    config.set("level", level.as_str().to_ascii_lowercase());
    FilterConfig {
        kind: "threshold".to_owned(),
        config: Value::Map(config.0),
    }
}

fn encoder(kind: &str, option: Option<(&str, String)>) -> Value {
    let mut map = Map::default();
    map.set("kind", kind);
    if let Some((k, v)) = option {
        map.set(k, v);
    }
    Value::Map(map.0)
}
