//! log4j appender classes, layouts and filters, mapped onto this crate's and log4rs's kinds.

use std::collections::BTreeMap;

use log::LevelFilter;
use log4rs::append::AppenderConfig;
use log4rs::filter::FilterConfig;
use serde_value::Value;

use super::appender_properties::{AppenderProperties, Log4jClass, Log4jLayout, Translated};
use super::layouts::threshold_filter;
use super::log4j::Translator;
use crate::config::kinds::APPENDER_KINDS;
use crate::config::{AppenderSpec, ConfigError};

/// The log4j classes of log4rs's own kinds (this crate's kinds declare theirs in their folders).
const LOG4RS_CLASSES: &[Log4jClass] = &[Log4jClass::new(
    "org.apache.log4j.ConsoleAppender",
    "console",
    &[&["target", "follow", "immediateflush", "encoding", "name"]],
    console,
)];

/// Every appender class understood: log4rs's console, then each of this crate's kinds'.
pub fn appender_classes() -> impl Iterator<Item = &'static Log4jClass> {
    LOG4RS_CLASSES
        .iter()
        .chain(APPENDER_KINDS.iter().flat_map(|kind| kind.log4j.iter()))
}

/// log4j's ConsoleAppender: `Target` → `target` (System.out or System.err).
fn console(p: &mut AppenderProperties) -> Result<Translated, ConfigError> {
    let target = match p.get("target")? {
        None => "stdout",
        Some((t, key)) => {
            match t.to_ascii_lowercase().as_str() {
                "system.out" => "stdout",
                "system.err" => "stderr",
                _ => {
                    p.warn(&key, format!("`{t}` is not System.out or System.err; using System.out (as log4j does)"))?;
                    "stdout"
                }
            }
        }
    };
    p.set("target", target);
    if let Some((_, key)) = p.get("encoding")? {
        p.warn(&key, "output is always UTF-8 (ignored)")?;
    }
    Ok(Translated::Kept)
}

impl Translator<'_> {
    /// Builds one appender; `None` when it is left out (unknown class, after a warning).
    pub(super) fn appender(
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
        let Some(log4j_class) = appender_classes().find(|c| c.class == class) else {
            let message = format!("unknown appender class {class}; appender `{name}` left out");
            self.warn(line, &class_key, message)?;
            return Ok(None);
        };
        let kind = log4j_class.kind;

        // Options the class does not take are warned about and then really ignored.
        let mut options = options;
        let mut ignored = Vec::new();
        options.retain(|option, key| {
            let taken =
                log4j_class.takes(option) || matches!(option.as_str(), "layout" | "threshold");
            if !taken {
                ignored.push((option.clone(), key.clone()));
            }
            taken
        });
        for (option, key) in ignored {
            self.warn(
                self.line(&key),
                &key,
                format!("{class} has no option `{option}` (ignored)"),
            )?;
        }
        let mut p = AppenderProperties {
            t: self,
            name,
            class: &class,
            class_key: &class_key,
            options: &options,
            config: Map::default(),
        };
        if (log4j_class.translate)(&mut p)? == Translated::LeftOut {
            return Ok(None);
        }
        match log4j_class.layout {
            Log4jLayout::Encoder => match p.t.layout(name, &class, kind)? {
                Some(encoder) => p.set("encoder", encoder),
                None => return Ok(None),
            },
            Log4jLayout::Ignored => {
                let layout_key = format!("{class_key}.layout");
                if p.t.props.contains_key(&layout_key) {
                    p.warn(
                        &layout_key,
                        format!("{class} sends the audit envelope (or event); layout ignored"),
                    )?;
                }
            }
            Log4jLayout::Translated | Log4jLayout::Discarded => {}
        }

        // log4j checks the repository threshold before anything else, then the appender's.
        let mut filters: Vec<FilterConfig> = threshold.map(threshold_filter).into_iter().collect();
        if let Some((t, key)) = p.get("threshold")? {
            let level = p.t.level(&key, &t)?.unwrap_or(LevelFilter::Trace);
            filters.push(threshold_filter(level));
        }
        filters.extend(p.t.filters(name)?);
        let (kind, config) = if log4j_class.native_async {
            (kind, p.config)
        } else {
            p.async_mode(kind)?
        };
        Ok(Some(AppenderSpec {
            name: name.to_owned(),
            config: AppenderConfig {
                kind: kind.to_owned(),
                filters,
                config: config.into_value(),
            },
            line,
        }))
    }

    /// `text`, the value of `key`, as a whole number; an error naming its line otherwise.
    pub(super) fn whole_number<T: std::str::FromStr>(
        &self,
        key: &str,
        text: &str,
    ) -> Result<T, ConfigError> {
        text.trim().parse::<T>().map_err(|_| {
            self.error(
                self.line(key),
                key,
                format!("`{text}` is not a whole number"),
            )
        })
    }

    pub(super) fn boolean(&self, key: &str, text: &str) -> Result<bool, ConfigError> {
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
}

/// A config map under construction.
#[derive(Default)]
pub(crate) struct Map(pub(crate) BTreeMap<Value, Value>);

impl Map {
    /// Sets option `key`.
    pub(crate) fn set(&mut self, key: &str, value: impl Into<Setting>) {
        self.0.insert(Value::String(key.to_owned()), value.into().0);
    }

    /// The options as a YAML map.
    pub(crate) fn into_value(self) -> Value {
        Value::Map(self.0)
    }
}

/// A value [`Map::set`] takes: text or any YAML value.
pub(crate) struct Setting(Value);

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

#[cfg(test)]
mod tests;
