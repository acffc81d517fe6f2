//! The options of log4j's SyslogAppender and of the Kafka appender classes, as the `syslog` and
//! `kafka` kinds take them.

use std::collections::BTreeMap;

use serde_value::Value;

use super::classes::Map;
use super::log4j::Translator;
use crate::config::ConfigError;

/// log4j's SyslogAppender: `SyslogHost` (`host[:port]`, UDP, port 514 by default; this crate
/// also takes `tcp://`, `tls://`, `udp://`, `unix://` addresses), `Facility` (default USER),
/// `FacilityPrinting`, `Header` (default false, as in log4j) map onto an RFC 3164 `syslog`
/// appender; `SpoolDir` defaults to `run/audit/spool-<appender>`.
pub(super) fn syslog_options(
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
pub(super) fn kafka_options(
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
