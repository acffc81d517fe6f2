//! The `kafka` options as written in YAML, checked without side effects
//! ([`KafkaConfig::validate`]: no connection, no spool) and turned into the appender
//! ([`KafkaConfig::build`]).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::config::duration::parse_option as duration;
use crate::spool::SpoolOptions;

/// `key`: the Kafka message key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KafkaKey {
    /// The event's routing key (`routingKey`); no key when it has none (default).
    #[default]
    RoutingKey,
    /// No key: the partitioner spreads messages.
    None,
}

/// `payload`: what the Kafka message value holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KafkaPayload {
    /// The envelope line, without its `\n` (default).
    #[default]
    Envelope,
    /// Only the envelope's `message` (the event object).
    Message,
}

crate::config::flat::flat_config! {
    /// Options of the `kafka` appender kind, as written in YAML.
    ///
    /// ```
    /// use log4rs_audit::append::KafkaConfig;
    ///
    /// let yaml = r#"
    /// brokers: 127.0.0.1:9092
    /// topic: dss-audit-{topic}        # {topic}: the audit topic (or logger name)
    /// key: routing_key                # routing_key | none
    /// payload: envelope               # envelope | message
    /// properties: { compression.type: zstd, linger.ms: 20 }
    /// spool_dir: run/audit/spool-kafka
    /// "#;
    /// let config: KafkaConfig = serde_yaml::from_str(yaml).unwrap();
    /// config.validate().unwrap();
    ///
    /// let bad: KafkaConfig = serde_yaml::from_str(
    ///     "brokers: h:9092\ntopic: 'a b'\nspool_dir: /tmp/s").unwrap();
    /// assert!(bad.validate().unwrap_err().to_string().contains("topic"));
    /// ```
    pub struct KafkaConfig {
        own: Own,
        spooled: crate::spool::config::SpooledConfig,
    }
}

/// The options of this kind alone (the spooled ones are [`crate::spool::config::SpooledConfig`]'s).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Own {
    brokers: String,
    topic: String,
    #[serde(default)]
    key: KafkaKey,
    #[serde(default)]
    payload: KafkaPayload,
    /// Passed to librdkafka as is, after this crate's defaults (TLS, SASL, compression, …).
    #[serde(default)]
    properties: BTreeMap<String, serde_value::Value>,
    /// librdkafka's `message.timeout.ms`: how long one attempt may take before it fails
    /// (and goes back to the retry queue). Default 30s.
    #[serde(default)]
    delivery_timeout: Option<String>,
    /// Timezone of the envelope's `timestamp` (`local`, `utc`, `+HHMM`).
    #[serde(default)]
    timezone: Option<String>,
}

/// The checked options, before anything is opened.
#[derive(Clone, Debug)]
pub(crate) struct ValidKafkaConfig {
    pub brokers: String,
    /// The topic, split around `{topic}`.
    pub topic: Vec<String>,
    pub key: KafkaKey,
    pub payload: KafkaPayload,
    pub properties: Vec<(String, String)>,
    pub delivery_timeout: Duration,
    pub timezone: crate::encode::Timezone,
    pub spool: SpoolOptions,
    pub retry_max: Duration,
    pub flush_timeout: Duration,
}

/// Whether `name` is a legal Kafka topic name.
pub(crate) fn valid_topic(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn property_text(key: &str, value: &serde_value::Value) -> anyhow::Result<String> {
    use serde_value::Value as V;
    Ok(match value {
        V::String(s) => s.clone(),
        V::Bool(b) => b.to_string(),
        V::U8(n) => n.to_string(),
        V::U16(n) => n.to_string(),
        V::U32(n) => n.to_string(),
        V::U64(n) => n.to_string(),
        V::I8(n) => n.to_string(),
        V::I16(n) => n.to_string(),
        V::I32(n) => n.to_string(),
        V::I64(n) => n.to_string(),
        V::F32(n) => n.to_string(),
        V::F64(n) => n.to_string(),
        _ => anyhow::bail!("properties.{key}: a string, number or boolean"),
    })
}

/// Where messages go and how librdkafka is set up: the options the `kafka` appender shares
/// with the Event Server's `kafka` destination ([`crate::server::kafka_destination`]), checked
/// once for both so they mean the same in either place.
#[derive(Clone, Debug)]
pub(crate) struct Connection {
    /// `brokers`, with `${VAR}` expanded.
    pub brokers: String,
    /// The topic, split around `{topic}`.
    pub topic: Vec<String>,
    /// `properties`, as librdkafka takes them (text).
    pub properties: Vec<(String, String)>,
    /// `delivery_timeout` (librdkafka's `message.timeout.ms`).
    pub delivery_timeout: Duration,
}

/// Checks `brokers`, `topic`, `properties` and `delivery_timeout` (`default_timeout` when
/// absent), without connecting; an error starts with the option's name (`topic: …`).
pub(crate) fn check_connection(
    brokers: &str,
    topic: &str,
    properties: &BTreeMap<String, serde_value::Value>,
    delivery_timeout: &Option<String>,
    default_timeout: Duration,
) -> anyhow::Result<Connection> {
    let brokers = crate::config::expand_env(brokers);
    if brokers.trim().is_empty() {
        anyhow::bail!("brokers: empty (host:port[,host:port…])");
    }
    let template = topic;
    let topic: Vec<String> = template.split("{topic}").map(str::to_owned).collect();
    // With `{topic}` replaced by a legal name, the rest must make a legal topic name.
    if !valid_topic(&topic.join("x")) {
        anyhow::bail!(
            "topic: `{template}` is not a Kafka topic name (1 to 249 of A-Z a-z 0-9 . _ -, with `{{topic}}` for the audit topic)"
        );
    }
    let mut texts = Vec::new();
    for (key, value) in properties {
        if key == "bootstrap.servers" || key == "metadata.broker.list" {
            anyhow::bail!("properties.{key}: use `brokers`");
        }
        texts.push((key.clone(), property_text(key, value)?));
    }
    let delivery_timeout = duration("delivery_timeout", delivery_timeout, default_timeout)?;
    if delivery_timeout < Duration::from_millis(1) {
        anyhow::bail!("delivery_timeout: at least 1ms");
    }
    Ok(Connection {
        brokers,
        topic,
        properties: texts,
        delivery_timeout,
    })
}

/// librdkafka properties: this crate's defaults (idempotence, `acks=all`, the delivery
/// timeout, a short linger), then the user's `properties`, which override them.
pub(crate) fn client_properties(
    delivery_timeout: Duration,
    user: &[(String, String)],
) -> Vec<(String, String)> {
    let mut props: Vec<(String, String)> = [
        ("enable.idempotence", "true".to_owned()),
        ("acks", "all".to_owned()),
        (
            "message.timeout.ms",
            delivery_timeout.as_millis().max(1).to_string(),
        ),
        ("linger.ms", "5".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in user {
        props.retain(|(d, _)| d != k);
        props.push((k.clone(), v.clone()));
    }
    props
}

impl crate::config::check::Describe for KafkaConfig {
    fn describe(&self, _: &mut Vec<String>) -> String {
        format!("kafka://{}/{}", self.own.brokers, self.own.topic)
    }
}

impl KafkaConfig {
    /// Checks every option without connecting or opening the spool.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.check().map(drop)
    }

    pub(crate) fn check(&self) -> anyhow::Result<ValidKafkaConfig> {
        let connection = check_connection(
            &self.own.brokers,
            &self.own.topic,
            &self.own.properties,
            &self.own.delivery_timeout,
            Duration::from_secs(30),
        )?;
        let timezone = crate::encode::Timezone::from_option(self.own.timezone.as_deref())
            .map_err(|e| anyhow::anyhow!("timezone: {e}"))?;
        let delivery = self.spooled.check(crate::spool::WhenFull::Block)?;
        Ok(ValidKafkaConfig {
            brokers: connection.brokers,
            topic: connection.topic,
            key: self.own.key,
            payload: self.own.payload,
            properties: connection.properties,
            delivery_timeout: connection.delivery_timeout,
            timezone,
            spool: delivery.spool,
            retry_max: delivery.retry_max,
            flush_timeout: delivery.flush_timeout,
        })
    }

    /// Opens the spool and starts the producer thread.
    pub fn build(&self) -> anyhow::Result<super::KafkaAppender> {
        super::KafkaAppender::start(self.check()?)
    }

    /// The destination as written (for `check-config`).
    pub fn brokers(&self) -> &str {
        &self.own.brokers
    }
}
