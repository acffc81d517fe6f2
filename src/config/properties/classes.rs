//! log4j appender classes, layouts and filters, mapped onto this crate's and log4rs's kinds.

use std::collections::BTreeMap;

use log::LevelFilter;
use log4rs::append::AppenderConfig;
use log4rs::filter::FilterConfig;
use serde_value::Value;

use super::layouts::threshold_filter;
use super::log4j::Translator;
use super::target_options::{kafka_options, syslog_options};
use crate::config::{AppenderSpec, ConfigError};

/// One log4j appender class this crate reads: the kind it becomes and the options it takes
/// (lower case, beyond `layout`, `filter` and `threshold`; any other is warned about and
/// ignored). Declared once per class, in [`APPENDER_CLASSES`].
#[derive(Clone, Copy, Debug)]
pub struct Log4jClass {
    /// The class name as a `.properties` file writes it.
    pub class: &'static str,
    /// The appender kind it becomes.
    pub kind: &'static str,
    /// The option names it takes, in groups shared between classes.
    pub options: &'static [&'static [&'static str]],
}

impl Log4jClass {
    /// Whether it takes `option` (lower case).
    pub fn takes(&self, option: &str) -> bool {
        self.options.iter().any(|group| group.contains(&option))
    }
}

/// Appender classes understood, with the kind each becomes and the options each takes.
pub const APPENDER_CLASSES: &[Log4jClass] = &[
    class(
        "org.apache.log4j.ConsoleAppender",
        "console",
        &[CONSOLE_OPTIONS],
    ),
    class(
        "org.apache.log4j.FileAppender",
        "audit_file",
        &[FILE_OPTIONS],
    ),
    class(
        "org.apache.log4j.RollingFileAppender",
        "audit_file",
        &[FILE_OPTIONS, &["maxfilesize", "maxbackupindex"]],
    ),
    class(
        "org.apache.log4j.DailyRollingFileAppender",
        "audit_file",
        &[FILE_OPTIONS, &["datepattern"]],
    ),
    class("org.apache.log4j.varia.NullAppender", "null", &[&["name"]]),
    class("AuditFileAppender", "audit_file", &[AUDIT_FILE_OPTIONS]),
    class(
        "log4rs_audit.AuditFileAppender",
        "audit_file",
        &[AUDIT_FILE_OPTIONS],
    ),
    class("EventServerAppender", "event_server", EVENT_SERVER),
    class(
        "log4rs_audit.EventServerAppender",
        "event_server",
        EVENT_SERVER,
    ),
    class("org.apache.log4j.net.SyslogAppender", "syslog", SYSLOG),
    class("SyslogAppender", "syslog", SYSLOG),
    class("log4rs_audit.SyslogAppender", "syslog", SYSLOG),
    class(
        "org.apache.kafka.log4jappender.KafkaLog4jAppender",
        "kafka",
        KAFKA,
    ),
    class("KafkaAppender", "kafka", KAFKA),
    class("log4rs_audit.KafkaAppender", "kafka", KAFKA),
];

const fn class(
    class: &'static str,
    kind: &'static str,
    options: &'static [&'static [&'static str]],
) -> Log4jClass {
    Log4jClass {
        class,
        kind,
        options,
    }
}

const EVENT_SERVER: &[&[&str]] = &[EVENT_SERVER_OPTIONS, ASYNC_OPTIONS];
const SYSLOG: &[&[&str]] = &[SYSLOG_OPTIONS, ASYNC_OPTIONS];
const KAFKA: &[&[&str]] = &[KAFKA_OPTIONS, ASYNC_OPTIONS];

/// Options of log4j's ConsoleAppender.
const CONSOLE_OPTIONS: &[&str] = &["target", "follow", "immediateflush", "encoding", "name"];

/// Options of this crate's `AuditFileAppender` (`mode: async` and its queue included).
const AUDIT_FILE_OPTIONS: &[&str] = &[
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
    "integritykeyfile",
    "integritycheckpointlines",
    "integritycheckpointseconds",
    "name",
    "mode",
    "capacity",
    "whenfull",
    "shutdowntimeout",
];

/// Options of this crate's `EventServerAppender`.
const EVENT_SERVER_OPTIONS: &[&str] = &[
    "url",
    "authkey",
    "authkeyfile",
    "authkeyenv",
    "routingkeymode",
    "routingkey",
    "spooldir",
    "spoolmaxbytes",
    "trustallcertificates",
    "cafile",
    "batchmaxevents",
    "gzip",
    "name",
];

/// Non-blocking mode, on every class of this crate's targets: `Mode=async` puts the appender
/// behind the `async` kind's queue (`AuditFileAppender` has it natively as `mode: async`).
const ASYNC_OPTIONS: &[&str] = &["mode", "capacity", "whenfull", "shutdowntimeout"];

/// Options of log4j's SyslogAppender, plus this crate's (`SpoolDir`, `Format`, `AppName`, …).
const SYSLOG_OPTIONS: &[&str] = &[
    "sysloghost",
    "facility",
    "facilityprinting",
    "header",
    "name",
    "spooldir",
    "format",
    "appname",
    "hostname",
    "msgid",
    "payload",
    "cafile",
    "trustallcertificates",
];

/// Options of Kafka's KafkaLog4jAppender, plus this crate's (`SpoolDir`, `Key`, `Payload`,
/// `Brokers`, `DeliveryTimeout`; librdkafka properties as `Properties.<name>`).
const KAFKA_OPTIONS: &[&str] = &[
    "brokers",
    "deliverytimeout",
    "brokerlist",
    "topic",
    "compressiontype",
    "requirednumacks",
    "syncsend",
    "securityprotocol",
    "ssltruststorelocation",
    "ssltruststorepassword",
    "sslkeystoretype",
    "sslkeystorelocation",
    "sslkeystorepassword",
    "saslkerberosservicename",
    "saslmechanism",
    "clientjaasconfpath",
    "clientjaasconf",
    "kerb5confpath",
    "retries",
    "deliverytimeoutms",
    "requesttimeoutms",
    "lingerms",
    "batchsize",
    "maxblockms",
    "ignoreexceptions",
    "name",
    "spooldir",
    "key",
    "payload",
];

/// Options of log4j's FileAppender, which its rolling subclasses share.
const FILE_OPTIONS: &[&str] = &[
    "file",
    "append",
    "bufferedio",
    "buffersize",
    "immediateflush",
    "encoding",
    "name",
];

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
        let Some(log4j_class) = APPENDER_CLASSES.iter().find(|c| c.class == class) else {
            let message = format!("unknown appender class {class}; appender `{name}` left out");
            self.warn(line, &class_key, message)?;
            return Ok(None);
        };
        let kind = log4j_class.kind;

        let mut config = Map::default();
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
                        Some((n, key)) => self.whole_number::<u32>(&key, &n)?,
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
                // Non-blocking mode: Mode=async, Capacity, WhenFull, ShutdownTimeout.
                if let Some((v, _)) = opt(self, "mode")? {
                    config.set("mode", v.to_ascii_lowercase());
                }
                self.queue_options(&options, &mut config)?;
                // Tamper evidence: any Integrity* option turns it on.
                let mut integrity = Map::default();
                if let Some((file, _)) = opt(self, "integritykeyfile")? {
                    let mut key = Map::default();
                    key.set("file", file);
                    integrity.set("signing_key", Value::Map(key.0));
                }
                for (option, field) in [
                    ("integritycheckpointlines", "checkpoint_lines"),
                    ("integritycheckpointseconds", "checkpoint_seconds"),
                ] {
                    if let Some((n, key)) = opt(self, option)? {
                        integrity.set(field, Value::U64(self.whole_number(&key, &n)?));
                    }
                }
                if !integrity.0.is_empty() {
                    config.set("integrity", Value::Map(integrity.0));
                }
                if let Some((_, key)) = opt(self, "encoding")? {
                    self.warn(
                        self.line(&key),
                        &key,
                        "files are always written in UTF-8 (ignored)",
                    )?;
                }
            }
            "event_server" => {
                self.event_server_options(name, &class_key, line, &options, &mut config)?
            }
            "syslog" => syslog_options(self, name, &options, &mut config)?,
            "kafka" => kafka_options(self, name, &class, &class_key, &options, &mut config)?,
            _ => {}
        }

        if kind == "kafka" {
            // The envelope is sent: JSONAuditLayout (the usual one) says so; others are warned.
            let layout_key = format!("{class_key}.layout");
            match self.setting(&layout_key)?.as_deref() {
                Some(
                    "com.dataiku.dip.logging.JSONAuditLayout"
                    | "AuditEnvelopeLayout"
                    | "log4rs_audit.AuditEnvelopeLayout",
                ) => {
                    if let Some(tz) = self.setting(&format!("{layout_key}.timezone"))? {
                        config.set("timezone", tz);
                    }
                }
                Some(other) => self.warn(
                    self.line(&layout_key),
                    &layout_key,
                    format!("{class} sends the audit envelope (or event); layout {other} ignored"),
                )?,
                None => {}
            }
        } else if kind == "event_server" || kind == "syslog" {
            // The event object is sent as is: a layout has nothing to format.
            let layout_key = format!("{class_key}.layout");
            if self.props.contains_key(&layout_key) {
                self.warn(
                    self.line(&layout_key),
                    &layout_key,
                    format!("{class} sends the audit envelope (or event); layout ignored"),
                )?;
            }
        } else if kind != "null" {
            match self.layout(name, &class, kind)? {
                Some(encoder) => config.set("encoder", encoder),
                None => return Ok(None),
            }
        }

        // log4j checks the repository threshold before anything else, then the appender's.
        let mut filters: Vec<FilterConfig> = threshold.map(threshold_filter).into_iter().collect();
        if let Some(key) = options.get("threshold") {
            if let Some(t) = self.setting(key)? {
                let level = self.level(key, &t)?.unwrap_or(LevelFilter::Trace);
                filters.push(threshold_filter(level));
            }
        }
        filters.extend(self.filters(name)?);
        let (kind, config) = if kind == "audit_file" {
            (kind, config)
        } else {
            self.async_mode(kind, &options, config)?
        };
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

    /// `Mode=async` (with `Capacity`, `WhenFull`, `ShutdownTimeout`): the appender `kind`
    /// configured by `config`, wrapped in the `async` kind; `Mode=sync` or none: unchanged.
    fn async_mode(
        &mut self,
        kind: &'static str,
        options: &BTreeMap<String, String>,
        config: Map,
    ) -> Result<(&'static str, Map), ConfigError> {
        let get = |t: &mut Self, option: &str| -> Result<Option<(String, String)>, ConfigError> {
            match options.get(option) {
                Some(key) => Ok(t.setting(key)?.map(|v| (v.trim().to_owned(), key.clone()))),
                None => Ok(None),
            }
        };
        match get(self, "mode")? {
            Some((mode, _)) if mode.eq_ignore_ascii_case("async") => {}
            None => return Ok((kind, config)),
            Some((mode, _)) if mode.eq_ignore_ascii_case("sync") => return Ok((kind, config)),
            Some((mode, key)) => {
                return Err(self.error(
                    self.line(&key),
                    &key,
                    format!("Mode `{mode}`: expected sync or async"),
                ))
            }
        }
        let mut wrapped = config;
        wrapped.set("kind", kind);
        let mut outer = Map::default();
        outer.set("appender", Value::Map(wrapped.0));
        self.queue_options(options, &mut outer)?;
        Ok(("async", outer))
    }

    /// The `async` queue's `Capacity`, `WhenFull` and `ShutdownTimeout`, set in `into`.
    fn queue_options(
        &mut self,
        options: &BTreeMap<String, String>,
        into: &mut Map,
    ) -> Result<(), ConfigError> {
        for (option, field) in [
            ("capacity", "capacity"),
            ("whenfull", "when_full"),
            ("shutdowntimeout", "shutdown_timeout"),
        ] {
            let Some(key) = options.get(option) else {
                continue;
            };
            let Some(v) = self.setting(key)? else {
                continue;
            };
            if option == "capacity" {
                into.set(field, Value::U64(self.whole_number(key, &v)?));
            } else {
                into.set(field, v.trim().to_ascii_lowercase());
            }
        }
        Ok(())
    }

    /// The options of `EventServerAppender`.
    fn event_server_options(
        &mut self,
        name: &str,
        class_key: &str,
        line: Option<usize>,
        options: &BTreeMap<String, String>,
        config: &mut Map,
    ) -> Result<(), ConfigError> {
        let opt = |t: &mut Self, name: &str| -> Result<Option<(String, String)>, ConfigError> {
            match options.get(name) {
                Some(key) => Ok(t.setting(key)?.map(|v| (v, key.clone()))),
                None => Ok(None),
            }
        };
        for (option, yaml) in [("url", "url"), ("spooldir", "spool_dir")] {
            match opt(self, option)? {
                Some((v, _)) => config.set(yaml, v),
                None => {
                    let shown = if option == "url" { "URL" } else { "SpoolDir" };
                    return Err(self.error(
                        line,
                        class_key,
                        format!("appender `{name}` has no {shown} option"),
                    ));
                }
            }
        }
        let mut keys = Vec::new();
        for (option, form) in [
            ("authkey", ""),
            ("authkeyfile", "file"),
            ("authkeyenv", "env"),
        ] {
            if let Some((v, key)) = opt(self, option)? {
                keys.push((form, v, key));
            }
        }
        match keys.as_slice() {
            [] => {
                return Err(self.error(
                    line,
                    class_key,
                    format!("appender `{name}` has no AuthKey, AuthKeyFile or AuthKeyEnv option"),
                ))
            }
            [(form, v, _)] => {
                if form.is_empty() {
                    config.set("auth_key", v.clone());
                } else {
                    let mut secret = Map::default();
                    secret.set(form, v.clone());
                    config.set("auth_key", Value::Map(secret.0));
                }
            }
            [_, (_, _, key), ..] => {
                return Err(self.error(
                    self.line(key),
                    key,
                    "give one of AuthKey, AuthKeyFile and AuthKeyEnv",
                ))
            }
        }
        if let Some((mode, _)) = opt(self, "routingkeymode")? {
            config.set("routing_key_mode", mode.to_ascii_uppercase());
        }
        if let Some((rk, _)) = opt(self, "routingkey")? {
            config.set("routing_key", rk);
        }
        if let Some((size, key)) = opt(self, "spoolmaxbytes")? {
            size.parse::<crate::config::size::ByteSize>()
                .map_err(|e| self.error(self.line(&key), &key, e.to_string()))?;
            config.set("spool_max_bytes", size);
        }
        if let Some((ca, _)) = opt(self, "cafile")? {
            config.set("ca_file", ca);
        }
        for (option, yaml) in [
            ("trustallcertificates", "trust_all_certificates"),
            ("gzip", "gzip"),
        ] {
            if let Some((b, key)) = opt(self, option)? {
                config.set(yaml, Value::Bool(self.boolean(&key, &b)?));
            }
        }
        if let Some((n, key)) = opt(self, "batchmaxevents")? {
            let n = n.parse::<u64>().ok().filter(|&n| n > 0).ok_or_else(|| {
                self.error(
                    self.line(&key),
                    &key,
                    format!("`{n}` is not a whole number greater than 0"),
                )
            })?;
            config.set("batch_max_events", Value::U64(n));
        }
        Ok(())
    }

    /// `text`, the value of `key`, as a whole number; an error naming its line otherwise.
    fn whole_number<T: std::str::FromStr>(&self, key: &str, text: &str) -> Result<T, ConfigError> {
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
pub(super) struct Map(pub(super) BTreeMap<Value, Value>);

impl Map {
    pub(super) fn set(&mut self, key: &str, value: impl Into<Setting>) {
        self.0.insert(Value::String(key.to_owned()), value.into().0);
    }
}

pub(super) struct Setting(Value);

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
