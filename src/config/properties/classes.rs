//! log4j appender classes, layouts and filters, mapped onto this crate's and log4rs's kinds.

use std::collections::BTreeMap;

use log::LevelFilter;
use log4rs::append::AppenderConfig;
use log4rs::filter::FilterConfig;
use serde_value::Value;

use super::log4j::Translator;
use crate::config::{AppenderSpec, ConfigError};

/// Appender classes understood, with the kind each becomes.
pub const APPENDER_CLASSES: &[(&str, &str)] = &[
    ("org.apache.log4j.ConsoleAppender", "console"),
    ("org.apache.log4j.FileAppender", "audit_file"),
    ("org.apache.log4j.RollingFileAppender", "audit_file"),
    ("org.apache.log4j.DailyRollingFileAppender", "audit_file"),
    ("org.apache.log4j.varia.NullAppender", "null"),
    ("AuditFileAppender", "audit_file"),
    ("log4rs_audit.AuditFileAppender", "audit_file"),
    ("EventServerAppender", "event_server"),
    ("log4rs_audit.EventServerAppender", "event_server"),
    ("org.apache.log4j.net.SyslogAppender", "syslog"),
    ("SyslogAppender", "syslog"),
    ("log4rs_audit.SyslogAppender", "syslog"),
    ("org.apache.kafka.log4jappender.KafkaLog4jAppender", "kafka"),
    ("KafkaAppender", "kafka"),
    ("log4rs_audit.KafkaAppender", "kafka"),
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

/// Whether an appender class takes `option` (lower case), beyond `layout`, `filter` and
/// `threshold`.
fn takes_option(class: &str, option: &str) -> bool {
    let is = |names: &[&str]| names.contains(&option);
    match class {
        "org.apache.log4j.ConsoleAppender" => {
            is(&["target", "follow", "immediateflush", "encoding", "name"])
        }
        "org.apache.log4j.FileAppender" => is(FILE_OPTIONS),
        "org.apache.log4j.RollingFileAppender" => {
            is(FILE_OPTIONS) || is(&["maxfilesize", "maxbackupindex"])
        }
        "org.apache.log4j.DailyRollingFileAppender" => is(FILE_OPTIONS) || option == "datepattern",
        "org.apache.log4j.varia.NullAppender" => option == "name",
        "org.apache.log4j.net.SyslogAppender"
        | "SyslogAppender"
        | "log4rs_audit.SyslogAppender" => is(SYSLOG_OPTIONS) || is(ASYNC_OPTIONS),
        "org.apache.kafka.log4jappender.KafkaLog4jAppender"
        | "KafkaAppender"
        | "log4rs_audit.KafkaAppender" => is(KAFKA_OPTIONS) || is(ASYNC_OPTIONS),
        "EventServerAppender" | "log4rs_audit.EventServerAppender" => {
            is(ASYNC_OPTIONS)
                || is(&[
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
                ])
        }
        // This crate's AuditFileAppender.
        _ => is(&[
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
            // mode: async (see the `async` appender).
            "mode",
            "capacity",
            "whenfull",
            "shutdowntimeout",
        ]),
    }
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
        let Some(&(_, kind)) = APPENDER_CLASSES.iter().find(|(c, _)| *c == class) else {
            let message = format!("unknown appender class {class}; appender `{name}` left out");
            self.warn(line, &class_key, message)?;
            return Ok(None);
        };

        let mut config = Map::default();
        // Options the class does not take are warned about and then really ignored.
        let mut options = options;
        let mut ignored = Vec::new();
        options.retain(|option, key| {
            let taken =
                takes_option(&class, option) || matches!(option.as_str(), "layout" | "threshold");
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

/// log4j's SyslogAppender: `SyslogHost` (`host[:port]`, UDP, port 514 by default; this crate
/// also takes `tcp://`, `tls://`, `udp://`, `unix://` addresses), `Facility` (default USER),
/// `FacilityPrinting`, `Header` (default false, as in log4j) map onto an RFC 3164 `syslog`
/// appender; `SpoolDir` defaults to `run/audit/spool-<appender>`.
fn syslog_options(
    t: &mut Translator,
    name: &str,
    options: &BTreeMap<String, String>,
    config: &mut Map,
) -> Result<(), ConfigError> {
    let get = |t: &mut Translator, option: &str| -> Result<Option<(String, String)>, ConfigError> {
        match options.get(option) {
            Some(key) => Ok(t.setting(key)?.map(|v| (v, key.clone()))),
            None => Ok(None),
        }
    };
    let host = get(t, "sysloghost")?.map_or_else(|| "localhost".to_owned(), |(h, _)| h);
    let address = if host.contains("://") {
        host
    } else if host
        .rsplit_once(':')
        .is_some_and(|(h, p)| !h.ends_with(':') && p.parse::<u16>().is_ok() && !h.is_empty())
    {
        format!("udp://{host}")
    } else {
        format!("udp://{host}:514")
    };
    config.set("address", address);
    let format =
        get(t, "format")?.map_or_else(|| "rfc3164".to_owned(), |(f, _)| f.to_ascii_lowercase());
    let rfc3164 = format == "rfc3164";
    config.set("format", format);
    if let Some((f, _)) = get(t, "facility")? {
        config.set("facility", f.to_ascii_lowercase());
    }
    if rfc3164 {
        for (option, yaml) in [
            ("facilityprinting", "facility_printing"),
            ("header", "header"),
        ] {
            let value = match get(t, option)? {
                Some((b, key)) => t.boolean(&key, &b)?,
                None => false,
            };
            config.set(yaml, Value::Bool(value));
        }
    }
    let spool = get(t, "spooldir")?.map_or_else(|| format!("run/audit/spool-{name}"), |(d, _)| d);
    config.set("spool_dir", spool);
    for (option, yaml) in [
        ("appname", "app_name"),
        ("hostname", "hostname"),
        ("msgid", "msgid"),
        ("cafile", "ca_file"),
    ] {
        if let Some((v, _)) = get(t, option)? {
            config.set(yaml, v);
        }
    }
    if let Some((p, _)) = get(t, "payload")? {
        config.set("payload", p.to_ascii_lowercase());
    }
    if let Some((b, key)) = get(t, "trustallcertificates")? {
        config.set("trust_all_certificates", Value::Bool(t.boolean(&key, &b)?));
    }
    Ok(())
}

/// Kafka's KafkaLog4jAppender → `kafka`: `BrokerList` → `brokers`, `Topic` → `topic`, the
/// client options → librdkafka `properties`; what librdkafka cannot honour (JAAS files, JKS
/// stores, `SyncSend`, acks other than all) is a warning naming the line. `SpoolDir` defaults
/// to `run/audit/spool-<appender>`.
fn kafka_options(
    t: &mut Translator,
    name: &str,
    class: &str,
    class_key: &str,
    options: &BTreeMap<String, String>,
    config: &mut Map,
) -> Result<(), ConfigError> {
    let mut properties = Map::default();
    for (option, key) in options {
        let Some(v) = t.setting(key)? else {
            continue;
        };
        let v = v.trim().to_owned();
        let warn = |t: &mut Translator, why: &str| -> Result<(), ConfigError> {
            t.warn(
                t.line(key),
                key,
                format!("{class} option `{option}`: {why} (ignored)"),
            )
        };
        match option.as_str() {
            "brokerlist" | "brokers" => config.set("brokers", v),
            "deliverytimeout" => config.set("delivery_timeout", v),
            "topic" => config.set("topic", v),
            "spooldir" => config.set("spool_dir", v),
            "key" | "payload" => config.set(option, v.to_ascii_lowercase()),
            "compressiontype" => properties.set("compression.type", v.to_ascii_lowercase()),
            "securityprotocol" => properties.set("security.protocol", v.to_ascii_lowercase()),
            "saslkerberosservicename" => properties.set("sasl.kerberos.service.name", v),
            "saslmechanism" => properties.set("sasl.mechanism", v),
            "retries" => properties.set("message.send.max.retries", v),
            "requesttimeoutms" => properties.set("request.timeout.ms", v),
            "lingerms" => properties.set("linger.ms", v),
            "batchsize" => properties.set("batch.size", v),
            "deliverytimeoutms" => config.set("delivery_timeout", format!("{v}ms")),
            "ssltruststorelocation" => {
                if v.to_ascii_lowercase().ends_with(".jks") {
                    warn(t, "librdkafka reads PEM CA files, not Java truststores (convert it and set properties ssl.ca.location)")?;
                } else {
                    properties.set("ssl.ca.location", v);
                }
            }
            "sslkeystorelocation" => properties.set("ssl.keystore.location", v),
            "sslkeystorepassword" => properties.set("ssl.keystore.password", v),
            "sslkeystoretype" if v.eq_ignore_ascii_case("pkcs12") => {}
            "sslkeystoretype" => warn(t, "librdkafka reads PKCS#12 keystores only")?,
            "ssltruststorepassword" => warn(t, "a PEM CA file has no password")?,
            "clientjaasconfpath" | "clientjaasconf" | "kerb5confpath" => warn(
                t,
                "librdkafka has no JAAS/krb5 files; set sasl.username/sasl.password or sasl.kerberos.* in properties",
            )?,
            "requirednumacks" if matches!(v.as_str(), "-1" | "all") => {}
            "requirednumacks" => warn(t, "acks=all is always used (idempotent producer)")?,
            "syncsend" => warn(
                t,
                "events are spooled on disk and sent asynchronously; flush waits for delivery",
            )?,
            "maxblockms" => warn(t, "appending blocks only while the spool is full")?,
            "ignoreexceptions" => warn(t, "delivery failures are retried, never dropped")?,
            _ => {}
        }
    }
    // Any librdkafka property, as the YAML `properties:` map: `Properties.compression.type=zstd`.
    let pass_through: Vec<(String, String)> = t
        .props
        .keys()
        .filter_map(|k| {
            let rest = k.strip_prefix(class_key)?.strip_prefix('.')?;
            let (head, property) = rest.split_once('.')?;
            head.eq_ignore_ascii_case("properties")
                .then(|| (property.to_owned(), k.clone()))
        })
        .collect();
    for (property, key) in pass_through {
        if let Some(v) = t.setting(&key)? {
            properties.set(&property, v.trim().to_owned());
        }
    }
    if !options.contains_key("spooldir") {
        config.set("spool_dir", format!("run/audit/spool-{name}"));
    }
    for (option, yaml) in [("BrokerList", "brokers"), ("Topic", "topic")] {
        if !config.0.contains_key(&Value::String(yaml.to_owned())) {
            let line = t.line(class_key);
            let option = if class.ends_with("KafkaLog4jAppender") || option != "BrokerList" {
                option
            } else {
                "Brokers"
            };
            return Err(t.error(
                line,
                class_key,
                format!("{class} `{name}` needs `{option}`"),
            ));
        }
    }
    if !properties.0.is_empty() {
        config.set("properties", Value::Map(properties.0));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::{from_properties, PropertiesOptions};
    use serde_value::Value;

    fn translate(text: &str) -> Result<crate::AuditConfig, String> {
        let options = PropertiesOptions {
            ignore_env: true,
            ..PropertiesOptions::default()
        };
        from_properties(text, None, &options).map_err(|e| e.to_string())
    }

    fn get<'a>(config: &'a Value, key: &str) -> Option<&'a Value> {
        match config {
            Value::Map(m) => m.get(&Value::String(key.to_owned())),
            _ => None,
        }
    }

    #[test]
    fn event_server_appender() {
        let base = "log4j.logger.dku.audit=INFO, ES\n\
                    log4j.appender.ES=log4rs_audit.EventServerAppender\n\
                    log4j.appender.ES.url=http://127.0.0.1:11004\n\
                    log4j.appender.ES.SpoolDir=/var/spool/audit\n";
        let text = format!(
            "{base}log4j.appender.ES.AUTHKEYENV=AUDIT_KEY\n\
             log4j.appender.ES.RoutingKeyMode=static_if_missing\n\
             log4j.appender.ES.RoutingKey=web-1\n\
             log4j.appender.ES.SpoolMaxBytes=10MB\n\
             log4j.appender.ES.TrustAllCertificates=TRUE\n\
             log4j.appender.ES.CaFile=/etc/ca.pem\n\
             log4j.appender.ES.BatchMaxEvents=500\n\
             log4j.appender.ES.Gzip=true\n\
             log4j.appender.ES.layout=org.apache.log4j.PatternLayout\n"
        );
        let c = translate(&text).unwrap();
        let spec = &c.appenders[0];
        assert_eq!(spec.config.kind, "event_server");
        assert!(spec.config.filters.is_empty());
        let cfg = &spec.config.config;
        let s = |v: &str| Value::String(v.to_owned());
        assert_eq!(get(cfg, "url"), Some(&s("http://127.0.0.1:11004")));
        assert_eq!(get(cfg, "spool_dir"), Some(&s("/var/spool/audit")));
        assert_eq!(
            get(get(cfg, "auth_key").unwrap(), "env"),
            Some(&s("AUDIT_KEY"))
        );
        assert_eq!(get(cfg, "routing_key_mode"), Some(&s("STATIC_IF_MISSING")));
        assert_eq!(get(cfg, "routing_key"), Some(&s("web-1")));
        assert_eq!(get(cfg, "spool_max_bytes"), Some(&s("10MB")));
        assert_eq!(get(cfg, "trust_all_certificates"), Some(&Value::Bool(true)));
        assert_eq!(get(cfg, "ca_file"), Some(&s("/etc/ca.pem")));
        assert_eq!(get(cfg, "batch_max_events"), Some(&Value::U64(500)));
        assert_eq!(get(cfg, "gzip"), Some(&Value::Bool(true)));
        assert_eq!(get(cfg, "encoder"), None);
        assert_eq!(
            c.warnings.len(),
            1,
            "the layout is ignored: {:?}",
            c.warnings
        );
        // The translated options are the kind's own.
        let parsed: crate::append::EventServerConfig = cfg.clone().deserialize_into().unwrap();
        assert!(parsed
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("ca_file: give either"));

        // Inline and file keys; the short class name.
        let c = translate(&format!("{base}log4j.appender.ES.AuthKey=k1\n")).unwrap();
        assert_eq!(
            get(&c.appenders[0].config.config, "auth_key"),
            Some(&s("k1"))
        );
        let text = format!("{base}log4j.appender.ES.AuthKeyFile=/k\n")
            .replace("log4rs_audit.EventServerAppender", "EventServerAppender");
        let c = translate(&text).unwrap();
        let key = get(&c.appenders[0].config.config, "auth_key").unwrap();
        assert_eq!(get(key, "file"), Some(&s("/k")));

        // Errors name the appender or the key.
        let e = translate(base).unwrap_err();
        assert!(
            e.contains("has no AuthKey, AuthKeyFile or AuthKeyEnv option"),
            "{e}"
        );
        let e = translate(&format!(
            "{base}log4j.appender.ES.AuthKey=a\nlog4j.appender.ES.AuthKeyEnv=B\n"
        ))
        .unwrap_err();
        assert!(
            e.contains("give one of AuthKey, AuthKeyFile and AuthKeyEnv"),
            "{e}"
        );
        let e = translate(&base.replace("log4j.appender.ES.url=http://127.0.0.1:11004\n", ""))
            .unwrap_err();
        assert!(e.contains("appender `ES` has no URL option"), "{e}");
        let e = translate(&format!(
            "{base}log4j.appender.ES.AuthKey=a\nlog4j.appender.ES.BatchMaxEvents=many\n"
        ))
        .unwrap_err();
        assert!(
            e.contains("log4j.appender.ES.BatchMaxEvents") && e.contains("`many`"),
            "{e}"
        );
        let e = translate(&format!(
            "{base}log4j.appender.ES.AuthKey=a\nlog4j.appender.ES.Gzip=yes\n"
        ))
        .unwrap_err();
        assert!(e.contains("`yes` is not true or false"), "{e}");
        let c = translate(&format!(
            "{base}log4j.appender.ES.AuthKey=a\nlog4j.appender.ES.File=x\n"
        ))
        .unwrap();
        assert!(
            c.warnings[0].to_string().contains("has no option `file`"),
            "{:?}",
            c.warnings
        );
    }

    #[test]
    fn audit_file_integrity_options() {
        let c = translate(
            "log4j.appender.A=AuditFileAppender\nlog4j.appender.A.File=/tmp/a.log\n\
             log4j.appender.A.IntegrityKeyFile=/etc/audit.key\n\
             log4j.appender.A.IntegrityCheckpointLines=500\n\
             log4j.appender.A.IntegrityCheckpointSeconds=30\n\
             log4j.logger.dku.audit=INFO, A\n",
        )
        .unwrap();
        let integrity = get(&c.appenders[0].config.config, "integrity").unwrap();
        assert_eq!(get(integrity, "checkpoint_lines"), Some(&Value::U64(500)));
        assert_eq!(get(integrity, "checkpoint_seconds"), Some(&Value::U64(30)));
        let key = get(integrity, "signing_key").unwrap();
        assert_eq!(
            get(key, "file"),
            Some(&Value::String("/etc/audit.key".into()))
        );
        let bad = "log4j.appender.A=AuditFileAppender\nlog4j.appender.A.File=/tmp/a.log\n\
                   log4j.appender.A.IntegrityCheckpointLines=many\nlog4j.logger.dku.audit=INFO, A\n";
        assert!(translate(bad)
            .unwrap_err()
            .contains("IntegrityCheckpointLines"));
    }

    fn s(v: Option<&Value>) -> Option<&str> {
        match v {
            Some(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    #[test]
    fn kafka_appender_class_takes_yaml_like_options_and_properties() {
        let c = translate(
            "log4j.rootLogger=INFO, bus\n\
             log4j.appender.bus=KafkaAppender\n\
             log4j.appender.bus.Brokers=127.0.0.1:9092\n\
             log4j.appender.bus.Topic=dss-audit-{topic}\n\
             log4j.appender.bus.Key=NONE\n\
             log4j.appender.bus.Payload=message\n\
             log4j.appender.bus.DeliveryTimeout=20s\n\
             log4j.appender.bus.Properties.compression.type=zstd\n\
             log4j.appender.bus.properties.linger.ms=20\n",
        )
        .unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let a = &c.appenders[0].config;
        assert_eq!(a.kind, "kafka");
        assert_eq!(s(get(&a.config, "brokers")), Some("127.0.0.1:9092"));
        assert_eq!(s(get(&a.config, "topic")), Some("dss-audit-{topic}"));
        assert_eq!(s(get(&a.config, "key")), Some("none"));
        assert_eq!(s(get(&a.config, "payload")), Some("message"));
        assert_eq!(s(get(&a.config, "delivery_timeout")), Some("20s"));
        assert_eq!(s(get(&a.config, "spool_dir")), Some("run/audit/spool-bus"));
        let props = get(&a.config, "properties").unwrap();
        assert_eq!(s(get(props, "compression.type")), Some("zstd"));
        assert_eq!(s(get(props, "linger.ms")), Some("20"));
        let e = translate("log4j.rootLogger=INFO, bus\nlog4j.appender.bus=KafkaAppender\nlog4j.appender.bus.Topic=t\n")
            .unwrap_err();
        assert!(e.contains("KafkaAppender `bus` needs `Brokers`"), "{e}");
    }

    #[test]
    fn mode_async_wraps_event_server_syslog_and_kafka_classes() {
        for (class, options, kind) in [
            (
                "EventServerAppender",
                "Url=http://127.0.0.1:11004\nlog4j.appender.a.AuthKey=k1\nlog4j.appender.a.SpoolDir=spool",
                "event_server",
            ),
            ("SyslogAppender", "SyslogHost=tcp://127.0.0.1:514", "syslog"),
            (
                "org.apache.kafka.log4jappender.KafkaLog4jAppender",
                "BrokerList=b:9092\nlog4j.appender.a.Topic=t",
                "kafka",
            ),
        ] {
            let c = translate(&format!(
                "log4j.rootLogger=INFO, a\nlog4j.appender.a={class}\nlog4j.appender.a.{options}\n\
                 log4j.appender.a.Mode=async\nlog4j.appender.a.Capacity=1024\n\
                 log4j.appender.a.WhenFull=Block\nlog4j.appender.a.ShutdownTimeout=5s\n"
            ))
            .unwrap();
            assert!(c.warnings.is_empty(), "{class}: {:?}", c.warnings);
            let a = &c.appenders[0].config;
            assert_eq!(a.kind, "async", "{class}");
            assert_eq!(get(&a.config, "capacity"), Some(&Value::U64(1024)));
            assert_eq!(s(get(&a.config, "when_full")), Some("block"));
            assert_eq!(s(get(&a.config, "shutdown_timeout")), Some("5s"));
            let inner = get(&a.config, "appender").unwrap();
            assert_eq!(s(get(inner, "kind")), Some(kind), "{class}");
            assert!(get(inner, "mode").is_none() && get(inner, "capacity").is_none());
        }
        let c = translate(
            "log4j.rootLogger=INFO, a\nlog4j.appender.a=SyslogAppender\nlog4j.appender.a.Mode=sync\n",
        )
        .unwrap();
        assert_eq!(c.appenders[0].config.kind, "syslog");
        let e = translate(
            "log4j.rootLogger=INFO, a\nlog4j.appender.a=SyslogAppender\nlog4j.appender.a.Mode=later\n",
        )
        .unwrap_err();
        assert!(e.contains("line 3") && e.contains("Mode `later`"), "{e}");
    }
}
