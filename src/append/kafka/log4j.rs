//! Kafka's `KafkaLog4jAppender` (and this crate's own class names for it), as `kafka`. Read in
//! every build: a build without the `kafka` feature says so when it builds the appender.

use crate::config::properties::{
    AppenderProperties, Log4jClass, Log4jLayout, Map, Translated, ASYNC_OPTIONS,
};
use crate::config::ConfigError;

/// Options of Kafka's KafkaLog4jAppender, plus this crate's (`SpoolDir`, `Key`, `Payload`,
/// `Brokers`, `DeliveryTimeout`; librdkafka properties as `Properties.<name>`).
const OPTIONS: &[&str] = &[
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

/// The classes that become `kafka` (the envelope is sent: the layout only says its time zone).
pub(crate) const CLASSES: &[Log4jClass] = &[
    class("org.apache.kafka.log4jappender.KafkaLog4jAppender"),
    class("KafkaAppender"),
    class("log4rs_audit.KafkaAppender"),
];

const fn class(class: &'static str) -> Log4jClass {
    Log4jClass::new(class, "kafka", &[OPTIONS, ASYNC_OPTIONS], translate)
        .layout(Log4jLayout::Translated)
}

/// `BrokerList` → `brokers`, `Topic` → `topic`, the client options → librdkafka `properties`;
/// what librdkafka cannot honour (JAAS files, JKS stores, `SyncSend`, acks other than all) is a
/// warning naming the line. `SpoolDir` defaults to `run/audit/spool-<appender>`.
fn translate(p: &mut AppenderProperties) -> Result<Translated, ConfigError> {
    let name = p.name.to_owned();
    let class = p.class.to_owned();
    let mut properties = Map::default();
    for (option, key) in p.options() {
        let Some(v) = p.setting(&key)? else {
            continue;
        };
        let ignored = |p: &mut AppenderProperties, why: &str| {
            p.warn(&key, format!("{class} option `{option}`: {why} (ignored)"))
        };
        match option.as_str() {
            "brokerlist" | "brokers" => p.set("brokers", v),
            "deliverytimeout" => p.set("delivery_timeout", v),
            "topic" => p.set("topic", v),
            "spooldir" => p.set("spool_dir", v),
            "key" | "payload" => p.set(&option, v.to_ascii_lowercase()),
            "compressiontype" => properties.set("compression.type", v.to_ascii_lowercase()),
            "securityprotocol" => properties.set("security.protocol", v.to_ascii_lowercase()),
            "saslkerberosservicename" => properties.set("sasl.kerberos.service.name", v),
            "saslmechanism" => properties.set("sasl.mechanism", v),
            "retries" => properties.set("message.send.max.retries", v),
            "requesttimeoutms" => properties.set("request.timeout.ms", v),
            "lingerms" => properties.set("linger.ms", v),
            "batchsize" => properties.set("batch.size", v),
            "deliverytimeoutms" => p.set("delivery_timeout", format!("{v}ms")),
            "ssltruststorelocation" => {
                if v.to_ascii_lowercase().ends_with(".jks") {
                    ignored(p, "librdkafka reads PEM CA files, not Java truststores (convert it and set properties ssl.ca.location)")?;
                } else {
                    properties.set("ssl.ca.location", v);
                }
            }
            "sslkeystorelocation" => properties.set("ssl.keystore.location", v),
            "sslkeystorepassword" => properties.set("ssl.keystore.password", v),
            "sslkeystoretype" if v.eq_ignore_ascii_case("pkcs12") => {}
            "sslkeystoretype" => ignored(p, "librdkafka reads PKCS#12 keystores only")?,
            "ssltruststorepassword" => ignored(p, "a PEM CA file has no password")?,
            "clientjaasconfpath" | "clientjaasconf" | "kerb5confpath" => ignored(
                p,
                "librdkafka has no JAAS/krb5 files; set sasl.username/sasl.password or sasl.kerberos.* in properties",
            )?,
            "requirednumacks" if matches!(v.as_str(), "-1" | "all") => {}
            "requirednumacks" => ignored(p, "acks=all is always used (idempotent producer)")?,
            "syncsend" => ignored(
                p,
                "events are spooled on disk and sent asynchronously; flush waits for delivery",
            )?,
            "maxblockms" => ignored(p, "appending blocks only while the spool is full")?,
            "ignoreexceptions" => ignored(p, "delivery failures are retried, never dropped")?,
            _ => {}
        }
    }
    // Any librdkafka property, as the YAML `properties:` map: `Properties.compression.type=zstd`.
    for (property, key) in p.keys_below("properties") {
        if let Some(v) = p.setting(&key)? {
            properties.set(&property, v);
        }
    }
    if !p.has("spooldir") {
        p.set("spool_dir", format!("run/audit/spool-{name}"));
    }
    for (option, yaml) in [("BrokerList", "brokers"), ("Topic", "topic")] {
        if !p.is_set(yaml) {
            let option = if class.ends_with("KafkaLog4jAppender") || option != "BrokerList" {
                option
            } else {
                "Brokers"
            };
            return Err(p.missing(format!("{class} `{name}` needs `{option}`")));
        }
    }
    if !properties.0.is_empty() {
        p.set("properties", properties.into_value());
    }
    // The envelope is sent: JSONAuditLayout (the usual one) says so; others are warned.
    let layout_key = format!("{}.layout", p.class_key);
    match p.setting(&layout_key)?.as_deref() {
        Some(
            "com.dataiku.dip.logging.JSONAuditLayout"
            | "AuditEnvelopeLayout"
            | "log4rs_audit.AuditEnvelopeLayout",
        ) => {
            if let Some(tz) = p.setting(&format!("{layout_key}.timezone"))? {
                p.set("timezone", tz);
            }
        }
        Some(other) => p.warn(
            &layout_key,
            format!("{class} sends the audit envelope (or event); layout {other} ignored"),
        )?,
        None => {}
    }
    Ok(Translated::Kept)
}
