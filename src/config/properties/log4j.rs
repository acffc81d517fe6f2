//! The log4j meaning of properties keys (PropertyConfigurator): root and loggers, additivity,
//! thresholds and variables; appender classes, layouts and filters are in [`super::classes`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use log::LevelFilter;

use super::syntax::{self, Property};
use super::PropertiesOptions;
use crate::config::{AuditConfig, ConfigError, Located, LoggerSpec};

/// This crate's own key for the reload interval (log4j has none in the file; log4j ignores it).
const REFRESH_KEY: &str = "log4rs.refresh_rate";
/// This crate's keys for the trail's own options (`audit:` in YAML; log4j ignores them).
const LOCK_KEY: &str = "log4rs.audit.lock";
const HEARTBEAT_KEY: &str = "log4rs.audit.heartbeat";

/// The translation in progress: the file's properties, where messages go, what was found.
pub(super) struct Translator<'a> {
    pub(super) props: BTreeMap<String, Property>,
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
    pub(super) fn located(&self, line: Option<usize>, key: &str, message: String) -> Located {
        Located {
            file: self.source.map(Path::to_path_buf),
            line,
            key: Some(key.to_owned()),
            message,
        }
    }

    pub(super) fn error(
        &self,
        line: Option<usize>,
        key: &str,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid(self.located(line, key, message.into()))
    }

    /// Records a warning; with `strict`, it is an error instead.
    pub(super) fn warn(
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

    pub(super) fn line(&self, key: &str) -> Option<usize> {
        self.props.get(key).map(|p| p.line)
    }

    /// The value of `key` with `${…}` substituted; `None` when the key is absent.
    pub(super) fn value(&mut self, key: &str) -> Result<Option<String>, ConfigError> {
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
    pub(super) fn setting(&mut self, key: &str) -> Result<Option<String>, ConfigError> {
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
        let audit = self.audit_options()?;
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
        // log4j's root logger starts at DEBUG; an empty level keeps it.
        let root = LoggerSpec::root(root_level.flatten(), root_appenders);

        let keys: Vec<String> = self.props.keys().cloned().collect();
        let mut loggers: BTreeMap<String, LoggerSpec> = BTreeMap::new();
        let mut additivity: BTreeMap<String, (bool, String)> = BTreeMap::new();
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
                if crate::config::normalize_name(name).is_err() {
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
                    .or_insert_with(|| LoggerSpec::named(name));
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
                additivity.insert(name.to_owned(), (additive, key.clone()));
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
        for (name, (additive, key)) in additivity {
            // log4j reads additivity only for loggers that have a log4j.logger/category key.
            match loggers.get_mut(&name) {
                Some(logger) => logger.additive = additive,
                None => self.warn(
                    self.line(&key),
                    &key,
                    format!(
                        "no `log4j.logger.{name}` is configured, so log4j ignores this (ignored)"
                    ),
                )?,
            }
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
            audit,
            source: self.source.map(Path::to_path_buf),
            warnings: std::mem::take(&mut self.warnings),
            ..AuditConfig::new(root, loggers, appenders)
        })
    }

    /// `log4rs.audit.lock` and `log4rs.audit.heartbeat`; any other `log4rs.` key is an error
    /// naming it (a misspelt `lock` must not pass for an unlocked config).
    fn audit_options(&mut self) -> Result<crate::config::AuditOptions, ConfigError> {
        let unknown = self.props.keys().find(|k| {
            k.starts_with("log4rs.")
                && ![REFRESH_KEY, LOCK_KEY, HEARTBEAT_KEY].contains(&k.as_str())
        });
        if let Some(key) = unknown.cloned() {
            return Err(self.error(
                self.line(&key),
                &key,
                format!(
                    "unknown key (this crate reads {REFRESH_KEY}, {LOCK_KEY}, {HEARTBEAT_KEY})"
                ),
            ));
        }
        let mut audit = crate::config::AuditOptions::default();
        if let Some(text) = self.setting(LOCK_KEY)? {
            audit.lock = match text.to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => {
                    return Err(self.error(
                        self.line(LOCK_KEY),
                        LOCK_KEY,
                        format!("`{text}` is not true or false"),
                    ))
                }
            };
        }
        if let Some(text) = self.setting(HEARTBEAT_KEY)? {
            let d = crate::config::heartbeat(&text)
                .map_err(|m| self.error(self.line(HEARTBEAT_KEY), HEARTBEAT_KEY, m))?;
            audit.heartbeat = Some(d);
        }
        Ok(audit)
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
    pub(super) fn level(&self, key: &str, text: &str) -> Result<Option<LevelFilter>, ConfigError> {
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
    pub(super) fn options_of(&self, prefix: &str) -> BTreeMap<String, String> {
        self.props
            .keys()
            .filter_map(|k| {
                let option = k.strip_prefix(prefix)?;
                (!option.contains('.') && !option.is_empty())
                    .then(|| (option.to_ascii_lowercase(), k.clone()))
            })
            .collect()
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
