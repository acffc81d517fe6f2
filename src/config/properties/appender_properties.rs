//! One log4j appender class as a kind declares it ([`Log4jClass`]), and the properties of one
//! appender as its translation reads them ([`AppenderProperties`]).
//!
//! Each kind's folder holds its classes and their translation (`append/<kind>/log4j.rs`); the
//! translator looks the class up in the table of kinds and does the parts every class shares
//! (unknown options, layout, threshold, filters, `Mode=async`).

use std::collections::BTreeMap;

use serde_value::Value;

use super::classes::{Map, Setting};
use super::log4j::Translator;
use crate::config::ConfigError;

/// One log4j appender class this crate reads: the kind it becomes, the options it takes (lower
/// case, beyond `layout`, `filter` and `threshold`; any other is warned about and ignored) and
/// how its options become the kind's YAML options.
#[derive(Clone, Copy, Debug)]
pub struct Log4jClass {
    /// The class name as a `.properties` file writes it.
    pub class: &'static str,
    /// The appender kind it becomes.
    pub kind: &'static str,
    /// The option names it takes, in groups shared between classes.
    pub options: &'static [&'static [&'static str]],
    /// What its `layout` means.
    pub(crate) layout: Log4jLayout,
    /// Whether the kind reads `Mode=async` itself (otherwise the translator wraps the appender
    /// in the `async` kind).
    pub(crate) native_async: bool,
    /// Sets the kind's options from the class's.
    pub(crate) translate: Translate,
}

/// A class's translation: fills [`AppenderProperties::config`].
pub(crate) type Translate = fn(&mut AppenderProperties) -> Result<Translated, ConfigError>;

/// What a translation made of the appender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Translated {
    /// Its options are set.
    Kept,
    /// It is left out (a warning said why).
    LeftOut,
}

/// What a class does with its `layout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Log4jLayout {
    /// It formats the line: it becomes the appender's encoder.
    Encoder,
    /// The class sends the audit envelope; its translation reads the layout itself.
    Translated,
    /// The class sends the event as is: a layout is warned about and ignored.
    Ignored,
    /// The class writes nothing: a layout is ignored silently.
    Discarded,
}

impl Log4jClass {
    /// A class of `kind` taking `options`, whose layout is its encoder and whose `Mode=async`
    /// wraps it in the `async` kind.
    pub(crate) const fn new(
        class: &'static str,
        kind: &'static str,
        options: &'static [&'static [&'static str]],
        translate: Translate,
    ) -> Log4jClass {
        Log4jClass {
            class,
            kind,
            options,
            layout: Log4jLayout::Encoder,
            native_async: false,
            translate,
        }
    }

    /// The same class with its layout meaning `layout`.
    pub(crate) const fn layout(self, layout: Log4jLayout) -> Log4jClass {
        Log4jClass { layout, ..self }
    }

    /// The same class, reading `Mode=async` itself.
    pub(crate) const fn native_async(self) -> Log4jClass {
        Log4jClass {
            native_async: true,
            ..self
        }
    }

    /// Whether it takes `option` (lower case).
    pub fn takes(&self, option: &str) -> bool {
        self.options.iter().any(|group| group.contains(&option))
    }
}

/// Non-blocking mode, on every class of this crate's targets: `Mode=async` puts the appender
/// behind the `async` kind's queue (`AuditFileAppender` has it natively as `mode: async`).
pub(crate) const ASYNC_OPTIONS: &[&str] = &["mode", "capacity", "whenfull", "shutdowntimeout"];

/// The properties of one appender (`log4j.appender.<name>.*`), `${…}` substituted, as a class's
/// translation reads them; errors and warnings name the key and its line.
pub(crate) struct AppenderProperties<'a, 'p> {
    pub(super) t: &'a mut Translator<'p>,
    /// The appender's name.
    pub(crate) name: &'a str,
    /// Its class, as written.
    pub(crate) class: &'a str,
    /// `log4j.appender.<name>`.
    pub(crate) class_key: &'a str,
    /// Its options taken by the class: lower-case name → key.
    pub(super) options: &'a BTreeMap<String, String>,
    /// The kind's options being built.
    pub(crate) config: Map,
}

impl AppenderProperties<'_, '_> {
    /// Option `option` (lower case), trimmed, with its key; `None` when absent or empty.
    pub(crate) fn get(&mut self, option: &str) -> Result<Option<(String, String)>, ConfigError> {
        match self.options.get(option) {
            Some(key) => Ok(self.t.setting(key)?.map(|v| (v, key.clone()))),
            None => Ok(None),
        }
    }

    /// Option `option`'s value as written (not trimmed: a `DatePattern`'s spaces count).
    pub(crate) fn untrimmed(&mut self, option: &str) -> Result<Option<String>, ConfigError> {
        match self.options.get(option) {
            Some(key) => {
                let key = key.clone();
                self.t.value(&key)
            }
            None => Ok(None),
        }
    }

    /// Whether the appender sets `option`, even to an empty value.
    pub(crate) fn has(&self, option: &str) -> bool {
        self.options.contains_key(option)
    }

    /// The options set, lower-case name → key.
    pub(crate) fn options(&self) -> BTreeMap<String, String> {
        self.options.clone()
    }

    /// Any key's value, trimmed (`None` when absent or empty): for keys below an option, such
    /// as `<class_key>.layout.TimeZone`.
    pub(crate) fn setting(&mut self, key: &str) -> Result<Option<String>, ConfigError> {
        self.t.setting(key)
    }

    /// The keys below `<class_key>.<head>.` (any case of `head`), with the rest of each key:
    /// `Properties.compression.type` → (`compression.type`, the key).
    pub(crate) fn keys_below(&self, head: &str) -> Vec<(String, String)> {
        self.t
            .props
            .keys()
            .filter_map(|k| {
                let rest = k.strip_prefix(self.class_key)?.strip_prefix('.')?;
                let (h, below) = rest.split_once('.')?;
                h.eq_ignore_ascii_case(head)
                    .then(|| (below.to_owned(), k.clone()))
            })
            .collect()
    }

    /// Sets the kind's option `yaml`.
    pub(crate) fn set(&mut self, yaml: &str, value: impl Into<Setting>) {
        self.config.set(yaml, value);
    }

    /// Whether the kind's option `yaml` is set.
    pub(crate) fn is_set(&self, yaml: &str) -> bool {
        self.config.0.contains_key(&Value::String(yaml.to_owned()))
    }

    /// Records a warning about `key` (an error with `strict`).
    pub(crate) fn warn(
        &mut self,
        key: &str,
        message: impl Into<String>,
    ) -> Result<(), ConfigError> {
        self.t.warn(self.t.line(key), key, message)
    }

    /// An error about `key`, naming its line.
    pub(crate) fn error(&self, key: &str, message: impl Into<String>) -> ConfigError {
        self.t.error(self.t.line(key), key, message)
    }

    /// An error about the appender as a whole (a missing option), at its class line.
    pub(crate) fn missing(&self, message: impl Into<String>) -> ConfigError {
        self.error(self.class_key, message)
    }

    /// `text`, the value of `key`, as `true` or `false` (any case).
    pub(crate) fn boolean(&self, key: &str, text: &str) -> Result<bool, ConfigError> {
        self.t.boolean(key, text)
    }

    /// `text`, the value of `key`, as a whole number.
    pub(crate) fn whole_number<T: std::str::FromStr>(
        &self,
        key: &str,
        text: &str,
    ) -> Result<T, ConfigError> {
        self.t.whole_number(key, text)
    }

    /// Checks that `text`, the value of `key`, is a size (`10MB`, `512KB`, …).
    pub(crate) fn byte_size(&self, key: &str, text: &str) -> Result<(), ConfigError> {
        text.parse::<crate::config::size::ByteSize>()
            .map(drop)
            .map_err(|e| self.error(key, e.to_string()))
    }

    /// Boolean option `option` set as `yaml` when given.
    pub(crate) fn set_boolean(&mut self, option: &str, yaml: &str) -> Result<(), ConfigError> {
        if let Some((b, key)) = self.get(option)? {
            let b = self.boolean(&key, &b)?;
            self.set(yaml, Value::Bool(b));
        }
        Ok(())
    }

    /// Text options `(option, yaml)` copied as they are when given.
    pub(crate) fn copy(&mut self, options: &[(&str, &str)]) -> Result<(), ConfigError> {
        for (option, yaml) in options {
            if let Some((v, _)) = self.get(option)? {
                self.set(yaml, v);
            }
        }
        Ok(())
    }

    /// The `async` queue's `Capacity`, `WhenFull` and `ShutdownTimeout`, set in `into`.
    pub(crate) fn queue_options(&mut self, into: &mut Map) -> Result<(), ConfigError> {
        for (option, field) in [
            ("capacity", "capacity"),
            ("whenfull", "when_full"),
            ("shutdowntimeout", "shutdown_timeout"),
        ] {
            let Some((v, key)) = self.get(option)? else {
                continue;
            };
            if option == "capacity" {
                into.set(field, Value::U64(self.whole_number(&key, &v)?));
            } else {
                into.set(field, v.to_ascii_lowercase());
            }
        }
        Ok(())
    }

    /// `Mode=async` (with `Capacity`, `WhenFull`, `ShutdownTimeout`): the appender `kind` as
    /// configured, wrapped in the `async` kind; `Mode=sync` or none: unchanged.
    pub(super) fn async_mode(
        mut self,
        kind: &'static str,
    ) -> Result<(&'static str, Map), ConfigError> {
        match self.get("mode")? {
            Some((mode, _)) if mode.eq_ignore_ascii_case("async") => {}
            None => return Ok((kind, self.config)),
            Some((mode, _)) if mode.eq_ignore_ascii_case("sync") => return Ok((kind, self.config)),
            Some((mode, key)) => {
                return Err(self.error(&key, format!("Mode `{mode}`: expected sync or async")))
            }
        }
        let mut wrapped = std::mem::take(&mut self.config);
        wrapped.set("kind", kind);
        let mut outer = Map::default();
        outer.set("appender", wrapped.into_value());
        self.queue_options(&mut outer)?;
        Ok(("async", outer))
    }
}
