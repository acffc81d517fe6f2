//! The log4j meaning of properties keys (PropertyConfigurator), mapped onto component kinds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use log::LevelFilter;
use log4rs::append::AppenderConfig;
use log4rs::filter::FilterConfig;
use serde_value::Value;

use super::syntax::{self, Property};
use super::PropertiesOptions;
use crate::config::{AppenderSpec, AuditConfig, ConfigError, Located, LoggerSpec};

/// Appender classes understood, with the kind each becomes.
pub const APPENDER_CLASSES: &[(&str, &str)] = &[
    ("org.apache.log4j.ConsoleAppender", "console"),
    ("org.apache.log4j.FileAppender", "audit_file"),
    ("org.apache.log4j.RollingFileAppender", "audit_file"),
    ("org.apache.log4j.DailyRollingFileAppender", "audit_file"),
    ("org.apache.log4j.varia.NullAppender", "null"),
    ("AuditFileAppender", "audit_file"),
    ("log4rs_audit.AuditFileAppender", "audit_file"),
];

/// Layout classes understood, with the encoder each becomes.
pub const LAYOUT_CLASSES: &[(&str, &str)] = &[
    ("org.apache.log4j.PatternLayout", "log4j_pattern"),
    ("org.apache.log4j.EnhancedPatternLayout", "log4j_pattern"),
    ("org.apache.log4j.SimpleLayout", "log4j_pattern (%p - %m%n)"),
    (
        "org.apache.log4j.TTCCLayout",
        "log4j_pattern (%r [%t] %p %c - %m%n)",
    ),
    ("com.dataiku.dip.logging.JSONAuditLayout", "audit_envelope"),
    ("AuditEnvelopeLayout", "audit_envelope"),
    ("log4rs_audit.AuditEnvelopeLayout", "audit_envelope"),
];

const SYSLOG_CLASS: &str = "org.apache.log4j.net.SyslogAppender";

/// This crate's own key for the reload interval (log4j has none in the file; log4j ignores it).
const REFRESH_KEY: &str = "log4rs.refresh_rate";

/// Options each appender class takes (lower case), beyond `layout`, `filter` and `threshold`.
fn known_options(class: &str) -> &'static [&'static str] {
    match class {
        "org.apache.log4j.ConsoleAppender" => {
            &["target", "follow", "immediateflush", "encoding", "name"]
        }
        "org.apache.log4j.FileAppender" => &[
            "file",
            "append",
            "bufferedio",
            "buffersize",
            "immediateflush",
            "encoding",
            "name",
        ],
        "org.apache.log4j.RollingFileAppender" => &[
            "file",
            "append",
            "bufferedio",
            "buffersize",
            "immediateflush",
            "encoding",
            "name",
            "maxfilesize",
            "maxbackupindex",
        ],
        "org.apache.log4j.DailyRollingFileAppender" => &[
            "file",
            "append",
            "bufferedio",
            "buffersize",
            "immediateflush",
            "encoding",
            "name",
            "datepattern",
        ],
        "org.apache.log4j.varia.NullAppender" => &["name"],
        _ => &[
            "file",
            "append",
            "maxfilesize",
            "maxbackupindex",
            "datepattern",
            "durability",
            "fsync",
            "compress",
            "buffersize",
            "flushinterval",
            "name",
        ],
    }
}

/// The translation in progress: the file's properties, where messages go, what was found.
struct Translator<'a> {
    props: BTreeMap<String, Property>,
    source: Option<&'a Path>,
    options: &'a PropertiesOptions,
    warnings: Vec<Located>,
}

pub(super) fn translate(
    text: &str,
    source: Option<&Path>,
    options: &PropertiesOptions,
) -> Result<AuditConfig, ConfigError> {
    let entries = syntax::parse(text).map_err(|e| {
        ConfigError::Invalid(Located {
            file: source.map(Path::to_path_buf),
            line: Some(e.line),
            key: None,
            message: e.message,
        })
    })?;
    let mut props = BTreeMap::new();
    for p in entries {
        // java.util.Properties: the last duplicate wins.
        props.insert(p.key.clone(), p);
    }
    let mut t = Translator {
        props,
        source,
        options,
        warnings: Vec::new(),
    };
    t.run()
}

impl Translator<'_> {
    fn located(&self, line: Option<usize>, key: &str, message: String) -> Located {
        Located {
            file: self.source.map(Path::to_path_buf),
            line,
            key: Some(key.to_owned()),
            message,
        }
    }

    fn error(&self, line: Option<usize>, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid(self.located(line, key, message.into()))
    }

    /// Records a warning; with `strict`, it is an error instead.
    fn warn(
        &mut self,
        line: Option<usize>,
        key: &str,
        message: impl Into<String>,
    ) -> Result<(), ConfigError> {
        let located = self.located(line, key, message.into());
        if self.options.strict {
            return Err(ConfigError::Invalid(located));
        }
        self.warnings.push(located);
        Ok(())
    }

    fn line(&self, key: &str) -> Option<usize> {
        self.props.get(key).map(|p| p.line)
    }

    /// The value of `key` with `${…}` substituted; `None` when the key is absent.
    fn value(&mut self, key: &str) -> Result<Option<String>, ConfigError> {
        let Some(raw) = self.props.get(key).map(|p| p.value.clone()) else {
            return Ok(None);
        };
        let line = self.line(key);
        let props = &self.props;
        let options = self.options;
        let lookup = |name: &str| -> Option<String> {
            options
                .overrides
                .get(name)
                .cloned()
                .or_else(|| {
                    (!options.ignore_env)
                        .then(|| std::env::var(name).ok())
                        .flatten()
                })
                .or_else(|| java_system_property(name))
                .or_else(|| props.get(name).map(|p| p.value.clone()))
        };
        let done =
            syntax::substitute(&raw, &lookup).map_err(|e| self.error(line, key, e.to_string()))?;
        for name in done.undefined {
            self.warn(
                line,
                key,
                format!("`${{{name}}}` is not defined; it reads as empty (as in log4j)"),
            )?;
        }
        Ok(Some(done.value))
    }

    /// A trimmed value; empty (e.g. from an undefined variable) counts as absent, as log4j's
    /// option converters fall back to the default then.
    fn setting(&mut self, key: &str) -> Result<Option<String>, ConfigError> {
        Ok(self
            .value(key)?
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty()))
    }

    fn run(&mut self) -> Result<AuditConfig, ConfigError> {
        let refresh_rate = match self.setting(REFRESH_KEY)? {
            Some(text) => Some(humantime::parse_duration(&text).map_err(|e| {
                self.error(
                    self.line(REFRESH_KEY),
                    REFRESH_KEY,
                    format!("`{text}`: {e}"),
                )
            })?),
            None => None::<Duration>,
        };
        let threshold = match self.setting("log4j.threshold")? {
            Some(t) => Some(
                self.level("log4j.threshold", &t)?
                    .unwrap_or(LevelFilter::Trace),
            ),
            None => None,
        };

        let root_key = if self.props.contains_key("log4j.rootLogger") {
            "log4j.rootLogger"
        } else {
            "log4j.rootCategory"
        };
        let (root_level, root_appenders) = match self.value(root_key)? {
            Some(v) => self.logger_value(root_key, &v)?,
            None => (None, vec![]),
        };
        let mut referenced: BTreeMap<String, (String, Option<usize>)> = BTreeMap::new();
        let root_appenders = self.reference(&mut referenced, root_key, root_appenders);
        let root = LoggerSpec {
            name: String::new(),
            // log4j's root logger starts at DEBUG; an empty level keeps it.
            level: Some(root_level.flatten().unwrap_or(LevelFilter::Debug)),
            appenders: root_appenders,
            additive: true,
        };

        let keys: Vec<String> = self.props.keys().cloned().collect();
        let mut loggers: BTreeMap<String, LoggerSpec> = BTreeMap::new();
        let mut additivity: BTreeMap<String, bool> = BTreeMap::new();
        for key in &keys {
            if let Some(name) = key
                .strip_prefix("log4j.logger.")
                .or_else(|| key.strip_prefix("log4j.category."))
            {
                let Some(value) = self.value(key)? else {
                    continue;
                };
                if let Some(owner) = name.strip_suffix(".additivity") {
                    if matches!(value.trim().to_ascii_lowercase().as_str(), "true" | "false") {
                        self.warn(self.line(key), key, format!(
                            "log4j reads this as the level of a logger named `{name}`; additivity is set with `log4j.additivity.{owner}` (ignored)"
                        ))?;
                        continue;
                    }
                }
                if crate::logger::normalize_name(name).is_err() {
                    self.warn(
                        self.line(key),
                        key,
                        format!("`{name}` cannot be a logger name (ignored)"),
                    )?;
                    continue;
                }
                let (level, appenders) = self.logger_value(key, &value)?;
                let appenders = self.reference(&mut referenced, key, appenders);
                let spec = loggers
                    .entry(name.to_owned())
                    .or_insert_with(|| LoggerSpec {
                        name: name.to_owned(),
                        level: None,
                        appenders: vec![],
                        additive: true,
                    });
                spec.level = level.flatten().or(spec.level);
                spec.appenders.extend(appenders);
            } else if let Some(name) = key.strip_prefix("log4j.additivity.") {
                let value = self.setting(key)?.unwrap_or_default();
                let additive = match value.to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(self.error(
                            self.line(key),
                            key,
                            format!("`{value}` is not true or false"),
                        ))
                    }
                };
                additivity.insert(name.to_owned(), additive);
            } else if key.starts_with("log4j.")
                && !key.starts_with("log4j.appender.")
                && !matches!(
                    key.as_str(),
                    "log4j.rootLogger" | "log4j.rootCategory" | "log4j.threshold"
                )
            {
                let message = match key.as_str() {
                    "log4j.threshhold" => {
                        "misspelled key (log4j ignores it too); did you mean `log4j.threshold`?"
                            .to_owned()
                    }
                    "log4j.debug" | "log4j.reset" | "log4j.configDebug" => {
                        "log4j's internal debugging switch (ignored)".to_owned()
                    }
                    _ => "not a log4j setting this loader uses (ignored)".to_owned(),
                };
                self.warn(self.line(key), key, message)?;
            }
        }
        for (name, additive) in additivity {
            loggers
                .entry(name.clone())
                .or_insert_with(|| LoggerSpec {
                    name: name.clone(),
                    level: None,
                    appenders: vec![],
                    additive: true,
                })
                .additive = additive;
        }

        let mut appenders = Vec::new();
        let mut dropped = BTreeSet::new();
        for (name, (referrer, referrer_line)) in &referenced {
            match self.appender(name, threshold)? {
                Some(spec) => appenders.push(spec),
                None => {
                    if !self.props.contains_key(&format!("log4j.appender.{name}")) {
                        self.warn(
                            *referrer_line,
                            referrer,
                            format!(
                                "no appender `{name}` is defined (log4j.appender.{name}); left out"
                            ),
                        )?;
                    }
                    dropped.insert(name.clone());
                }
            }
        }
        let mut root = root;
        root.appenders.retain(|a| !dropped.contains(a));
        let loggers = loggers
            .into_values()
            .map(|mut l| {
                l.appenders.retain(|a| !dropped.contains(a));
                let mut seen = BTreeSet::new();
                l.appenders.retain(|a| seen.insert(a.clone()));
                l
            })
            .collect();
        Ok(AuditConfig {
            refresh_rate,
            root,
            loggers,
            appenders,
            source: self.source.map(Path::to_path_buf),
            warnings: std::mem::take(&mut self.warnings),
        })
    }

    /// Notes the appenders a logger names; returns them.
    fn reference(
        &self,
        referenced: &mut BTreeMap<String, (String, Option<usize>)>,
        key: &str,
        names: Vec<String>,
    ) -> Vec<String> {
        for n in &names {
            referenced
                .entry(n.clone())
                .or_insert_with(|| (key.to_owned(), self.line(key)));
        }
        names
    }

    /// `[LEVEL], A1, A2`: `Some(None)` = inherit, `None` = keep (empty level).
    #[allow(clippy::type_complexity)]
    fn logger_value(
        &mut self,
        key: &str,
        value: &str,
    ) -> Result<(Option<Option<LevelFilter>>, Vec<String>), ConfigError> {
        let mut parts = value.split(',');
        let level_text = parts.next().unwrap_or("").trim();
        let level = match level_text.to_ascii_lowercase().as_str() {
            "" => None,
            "inherited" | "null" => Some(None),
            _ => Some(self.level(key, level_text)?),
        };
        let appenders = parts
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect();
        Ok((level, appenders))
    }

    /// A log4j level name, any case; FATAL is error, ALL is trace.
    fn level(&self, key: &str, text: &str) -> Result<Option<LevelFilter>, ConfigError> {
        let level = match text.trim().to_ascii_uppercase().as_str() {
            "OFF" => LevelFilter::Off,
            "FATAL" | "ERROR" => LevelFilter::Error,
            "WARN" => LevelFilter::Warn,
            "INFO" => LevelFilter::Info,
            "DEBUG" => LevelFilter::Debug,
            "TRACE" | "ALL" => LevelFilter::Trace,
            _ => {
                return Err(self.error(
                    self.line(key),
                    key,
                    format!("unknown level `{text}` (expected OFF, FATAL, ERROR, WARN, INFO, DEBUG, TRACE or ALL)"),
                ))
            }
        };
        Ok(Some(level))
    }

    /// The option keys of `prefix` (e.g. `log4j.appender.R.`) by lower-case option name.
    fn options_of(&self, prefix: &str) -> BTreeMap<String, String> {
        self.props
            .keys()
            .filter_map(|k| {
                let option = k.strip_prefix(prefix)?;
                (!option.contains('.') && !option.is_empty())
                    .then(|| (option.to_ascii_lowercase(), k.clone()))
            })
            .collect()
    }

    /// Builds one appender; `None` when it is left out (unknown class, after a warning).
    fn appender(
        &mut self,
        name: &str,
        threshold: Option<LevelFilter>,
    ) -> Result<Option<AppenderSpec>, ConfigError> {
        let class_key = format!("log4j.appender.{name}");
        let Some(class) = self.setting(&class_key)? else {
            return Ok(None);
        };
        let line = self.line(&class_key);
        let prefix = format!("{class_key}.");
        let options = self.options_of(&prefix);
        let Some(&(_, kind)) = APPENDER_CLASSES.iter().find(|(c, _)| *c == class) else {
            let message = if class == SYSLOG_CLASS {
                format!("{class} is not yet supported (the syslog target comes later); appender `{name}` left out")
            } else {
                format!("unknown appender class {class}; appender `{name}` left out")
            };
            self.warn(line, &class_key, message)?;
            return Ok(None);
        };

        let mut config = Map::default();
        let known = known_options(&class);
        for (option, key) in &options {
            if !known.contains(&option.as_str())
                && !matches!(option.as_str(), "layout" | "threshold")
            {
                self.warn(
                    self.line(key),
                    key,
                    format!("{class} has no option `{option}` (ignored)"),
                )?;
            }
        }
        let opt = |t: &mut Self, name: &str| -> Result<Option<(String, String)>, ConfigError> {
            match options.get(name) {
                Some(key) => Ok(t.setting(key)?.map(|v| (v, key.clone()))),
                None => Ok(None),
            }
        };

        match kind {
            "console" => {
                let target = match opt(self, "target")? {
                    None => "stdout",
                    Some((t, key)) => match t.to_ascii_lowercase().as_str() {
                        "system.out" => "stdout",
                        "system.err" => "stderr",
                        _ => {
                            self.warn(self.line(&key), &key, format!("`{t}` is not System.out or System.err; using System.out (as log4j does)"))?;
                            "stdout"
                        }
                    },
                };
                config.set("target", target);
                if let Some((_, key)) = opt(self, "encoding")? {
                    self.warn(self.line(&key), &key, "output is always UTF-8 (ignored)")?;
                }
            }
            "audit_file" => {
                let path = match options.get("file") {
                    None => {
                        return Err(self.error(
                            line,
                            &class_key,
                            format!("appender `{name}` has no File option"),
                        ))
                    }
                    Some(key) => {
                        let key = key.clone();
                        match self.setting(&key)? {
                            Some(path) => path,
                            None => {
                                // log4j too ends up with no file here ("File option not set").
                                self.warn(self.line(&key), &key, format!("File is empty after substitution; appender `{name}` left out (define the variable, e.g. with an override)"))?;
                                return Ok(None);
                            }
                        }
                    }
                };
                config.set("path", path);
                let mut policy = Map::default();
                let rolling = class.ends_with("RollingFileAppender") && !class.contains("Daily");
                if rolling || options.contains_key("maxfilesize") {
                    let size = opt(self, "maxfilesize")?;
                    let size = match size {
                        Some((s, key)) => {
                            s.parse::<crate::config::size::ByteSize>()
                                .map_err(|e| self.error(self.line(&key), &key, e.to_string()))?;
                            s
                        }
                        None => "10MB".to_owned(),
                    };
                    policy.set("max_size", size);
                    let backups = match opt(self, "maxbackupindex")? {
                        Some((n, key)) => n.parse::<u32>().map_err(|_| {
                            self.error(
                                self.line(&key),
                                &key,
                                format!("`{n}` is not a whole number"),
                            )
                        })?,
                        None => 1,
                    };
                    policy.set("max_backups", Value::U32(backups));
                }
                if class.contains("Daily") || options.contains_key("datepattern") {
                    let pattern = match options.get("datepattern") {
                        // Not trimmed: a DatePattern's spaces are part of the file name.
                        Some(key) => self.value(key)?.filter(|v| !v.trim().is_empty()),
                        None => None,
                    };
                    policy.set(
                        "date_pattern",
                        pattern.unwrap_or_else(|| "'.'yyyy-MM-dd".to_owned()),
                    );
                }
                if let Some((c, _)) = opt(self, "compress")? {
                    policy.set("compress", c.to_ascii_lowercase());
                }
                if !policy.0.is_empty() {
                    config.set("policy", Value::Map(policy.0));
                }
                if let Some((append, key)) = opt(self, "append")? {
                    config.set("append", Value::Bool(self.boolean(&key, &append)?));
                }
                let buffered = match opt(self, "bufferedio")? {
                    Some((b, key)) => self.boolean(&key, &b)?,
                    None => false,
                };
                let immediate_flush = match opt(self, "immediateflush")? {
                    Some((b, key)) => self.boolean(&key, &b)?,
                    None => true,
                };
                if let Some((d, _)) = opt(self, "durability")? {
                    config.set("durability", d.to_ascii_lowercase());
                } else if buffered || !immediate_flush {
                    config.set("durability", "buffered");
                }
                if let Some((size, key)) = opt(self, "buffersize")? {
                    size.parse::<crate::config::size::ByteSize>()
                        .map_err(|e| self.error(self.line(&key), &key, e.to_string()))?;
                    config.set("buffer_size", size);
                }
                if let Some((f, _)) = opt(self, "fsync")? {
                    config.set("fsync", f.to_ascii_lowercase());
                }
                if let Some((i, _)) = opt(self, "flushinterval")? {
                    config.set("flush_interval", i);
                }
                if let Some((_, key)) = opt(self, "encoding")? {
                    self.warn(
                        self.line(&key),
                        &key,
                        "files are always written in UTF-8 (ignored)",
                    )?;
                }
            }
            _ => {}
        }

        if kind != "null" {
            match self.layout(name, &class, kind)? {
                Some(encoder) => config.set("encoder", encoder),
                None => return Ok(None),
            }
        }

        let mut filters = Vec::new();
        if let Some(key) = options.get("threshold") {
            if let Some(t) = self.setting(key)? {
                let level = self.level(key, &t)?.unwrap_or(LevelFilter::Trace);
                filters.push(threshold_filter(level));
            }
        }
        filters.extend(self.filters(name)?);
        if let Some(level) = threshold {
            filters.push(threshold_filter(level));
        }
        Ok(Some(AppenderSpec {
            name: name.to_owned(),
            config: AppenderConfig {
                kind: kind.to_owned(),
                filters,
                config: Value::Map(config.0),
            },
            line,
        }))
    }

    fn boolean(&self, key: &str, text: &str) -> Result<bool, ConfigError> {
        match text.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(self.error(
                self.line(key),
                key,
                format!("`{text}` is not true or false"),
            )),
        }
    }

    /// The encoder of an appender from its `layout` keys; `None` when left out (after a warning).
    fn layout(
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
                encoder("log4j_pattern", Some(("pattern", pattern)))
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
    fn filters(&mut self, name: &str) -> Result<Vec<FilterConfig>, ConfigError> {
        let prefix = format!("log4j.appender.{name}.filter.");
        let mut ids: Vec<String> = self
            .props
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter(|rest| !rest.contains('.'))
            .map(str::to_owned)
            .collect();
        ids.sort_by(|a, b| match (a.parse::<u64>(), b.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => a.cmp(b),
        });
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

/// The Java system properties log4j files commonly refer to (log4j looks them up first).
fn java_system_property(name: &str) -> Option<String> {
    let env = |k: &str| std::env::var(k).ok();
    match name {
        "java.io.tmpdir" => Some(std::env::temp_dir().display().to_string()),
        "user.name" => env("USER").or_else(|| env("LOGNAME")),
        "user.home" => env("HOME"),
        "user.dir" => std::env::current_dir()
            .ok()
            .map(|d| d.display().to_string()),
        "file.separator" => Some("/".to_owned()),
        "path.separator" => Some(":".to_owned()),
        "line.separator" => Some("\n".to_owned()),
        "os.name" => Some(std::env::consts::OS.to_owned()),
        "os.arch" => Some(std::env::consts::ARCH.to_owned()),
        _ => None,
    }
}

fn level_name(level: Option<LevelFilter>) -> String {
    level
        .unwrap_or(LevelFilter::Trace)
        .as_str()
        .to_ascii_lowercase()
}

fn threshold_filter(level: LevelFilter) -> FilterConfig {
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

/// A config map under construction.
#[derive(Default)]
struct Map(BTreeMap<Value, Value>);

impl Map {
    fn set(&mut self, key: &str, value: impl Into<Setting>) {
        self.0.insert(Value::String(key.to_owned()), value.into().0);
    }
}

struct Setting(Value);

impl From<&str> for Setting {
    fn from(s: &str) -> Setting {
        Setting(Value::String(s.to_owned()))
    }
}

impl From<String> for Setting {
    fn from(s: String) -> Setting {
        Setting(Value::String(s))
    }
}

impl From<Value> for Setting {
    fn from(v: Value) -> Setting {
        Setting(v)
    }
}
