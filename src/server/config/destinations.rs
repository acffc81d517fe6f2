//! A destination of the Event Server's config: the filters every destination has, and its
//! `type` with that type's options (see the [`super`] module docs for the YAML).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer};
use serde::Deserialize;

use super::Selection;
use crate::config::ByteSize;
use crate::integrity::IntegrityConfig;
use crate::protocol::layout::{Layout, Partitioning};
use crate::secret::Secret;
use crate::Topic;

/// A destination: where the events it accepts go. The filters (`topics`, `routing_keys`,
/// `required_auth_key`) are every destination's; [`DestinationConfig::target`] is its `type`
/// with that type's options. The YAML is flat (`{ name, type, topics, root, … }`); an option
/// of the other type is an error naming it (see [`super::ServerConfig::from_yaml`]) rather than
/// silently ignored.
#[derive(Clone, Debug)]
pub struct DestinationConfig {
    /// Its name, unique, used in stats.
    pub name: String,
    /// Topics accepted.
    pub topics: Selection<Topic>,
    /// Routing keys accepted (an event without one is accepted only by `ALL`).
    pub routing_keys: Selection<String>,
    /// Only events sent with this key (one of `event_keys`).
    pub required_auth_key: Option<Secret>,
    /// Its `type`, with that type's options.
    pub target: DestinationTarget,
    /// The first option of another type that was written, and that type: the check names it.
    foreign: Option<(&'static str, DestinationKind)>,
}

/// A destination's `type` with its options.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum DestinationTarget {
    /// `type: filesystem`: files under `root`.
    Filesystem(FilesystemConfig),
    /// `type: kafka`: messages to a Kafka cluster.
    Kafka(KafkaDestinationConfig),
}

/// The options of a `filesystem` destination. They are `Option`s so the check can tell
/// "absent" from "given"; read them through [`DestinationConfig::layout`],
/// [`DestinationConfig::root`] and [`DestinationConfig::flush_every_bytes`].
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesystemConfig {
    /// The folder events are stored under (required).
    #[serde(default)]
    pub root: Option<PathBuf>,
    /// A folder per topic (default true).
    #[serde(default)]
    pub folder_by_topic: Option<bool>,
    /// A folder per routing key, `_none` for events without one (default true).
    #[serde(default)]
    pub folder_by_routing_key: Option<bool>,
    /// Time folders (default `HOUR`).
    #[serde(default, deserialize_with = "partitioning")]
    pub partitioning_period: Option<Partitioning>,
    /// The most bytes one group commit writes to this destination before syncing (default
    /// 1 MiB).
    #[serde(default)]
    pub flush_every_bytes: Option<ByteSize>,
    /// Kept for the seed product's configs: an acknowledged event is always already synced,
    /// so no event waits this long; it must be a number of seconds ≥ 0.
    #[serde(default)]
    pub flush_every_s: Option<f64>,
    /// Tamper evidence, a digest sidecar beside each `events.log` (see [`crate::integrity`]).
    #[serde(default)]
    pub integrity: Option<IntegrityConfig>,
}

/// The options of a `kafka` destination (checked by `server::kafka_destination`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaDestinationConfig {
    /// The bootstrap brokers, `host:port[,host:port…]` (required).
    #[serde(default)]
    pub brokers: Option<String>,
    /// The topic; `{topic}` is replaced by the audit topic (required).
    #[serde(default)]
    pub topic: Option<String>,
    /// The message key, `routing_key` (default) or `none`.
    #[serde(default)]
    pub key: Option<String>,
    /// The message value, `envelope` (default: the stored line) or `message` (the client's
    /// event object).
    #[serde(default)]
    pub payload: Option<String>,
    /// librdkafka properties, passed through after this crate's defaults.
    #[serde(default)]
    pub properties: Option<BTreeMap<String, serde_value::Value>>,
    /// How long Kafka may take to confirm a message (librdkafka's `message.timeout.ms`); a
    /// group commit waits at most about this long (default 10s).
    #[serde(default)]
    pub delivery_timeout: Option<String>,
}

impl FilesystemConfig {
    /// The first option written, in the order the docs list them.
    fn first_written(&self) -> Option<&'static str> {
        [
            ("root", self.root.is_some()),
            ("folder_by_topic", self.folder_by_topic.is_some()),
            (
                "folder_by_routing_key",
                self.folder_by_routing_key.is_some(),
            ),
            ("partitioning_period", self.partitioning_period.is_some()),
            ("flush_every_bytes", self.flush_every_bytes.is_some()),
            ("flush_every_s", self.flush_every_s.is_some()),
            ("integrity", self.integrity.is_some()),
        ]
        .into_iter()
        .find_map(|(option, written)| written.then_some(option))
    }
}

impl KafkaDestinationConfig {
    /// The first option written, in the order the docs list them.
    fn first_written(&self) -> Option<&'static str> {
        [
            ("brokers", self.brokers.is_some()),
            ("topic", self.topic.is_some()),
            ("key", self.key.is_some()),
            ("payload", self.payload.is_some()),
            ("properties", self.properties.is_some()),
            ("delivery_timeout", self.delivery_timeout.is_some()),
        ]
        .into_iter()
        .find_map(|(option, written)| written.then_some(option))
    }
}

/// A destination as the YAML writes it, every type's options side by side. serde reads this
/// (so its errors keep their path, `destinations[1].key: invalid type`), then it is split by
/// `type`: serde's `flatten` and `deny_unknown_fields` do not mix.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DestinationSpec {
    name: String,
    #[serde(rename = "type")]
    kind: DestinationKind,
    #[serde(default, deserialize_with = "topics")]
    topics: Selection<Topic>,
    #[serde(default, deserialize_with = "routing_keys")]
    routing_keys: Selection<String>,
    #[serde(default)]
    required_auth_key: Option<Secret>,
    #[serde(default)]
    root: Option<PathBuf>,
    #[serde(default)]
    folder_by_topic: Option<bool>,
    #[serde(default)]
    folder_by_routing_key: Option<bool>,
    #[serde(default, deserialize_with = "partitioning")]
    partitioning_period: Option<Partitioning>,
    #[serde(default)]
    flush_every_bytes: Option<ByteSize>,
    #[serde(default)]
    flush_every_s: Option<f64>,
    #[serde(default)]
    integrity: Option<IntegrityConfig>,
    #[serde(default)]
    brokers: Option<String>,
    #[serde(default)]
    topic: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    payload: Option<String>,
    #[serde(default)]
    properties: Option<BTreeMap<String, serde_value::Value>>,
    #[serde(default)]
    delivery_timeout: Option<String>,
}

impl<'de> Deserialize<'de> for DestinationConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = DestinationSpec::deserialize(d)?;
        let filesystem = FilesystemConfig {
            root: s.root,
            folder_by_topic: s.folder_by_topic,
            folder_by_routing_key: s.folder_by_routing_key,
            partitioning_period: s.partitioning_period,
            flush_every_bytes: s.flush_every_bytes,
            flush_every_s: s.flush_every_s,
            integrity: s.integrity,
        };
        let kafka = KafkaDestinationConfig {
            brokers: s.brokers,
            topic: s.topic,
            key: s.key,
            payload: s.payload,
            properties: s.properties,
            delivery_timeout: s.delivery_timeout,
        };
        let (target, foreign) = match s.kind {
            DestinationKind::Filesystem => (
                DestinationTarget::Filesystem(filesystem),
                kafka
                    .first_written()
                    .map(|option| (option, DestinationKind::Kafka)),
            ),
            DestinationKind::Kafka => (
                DestinationTarget::Kafka(kafka),
                filesystem
                    .first_written()
                    .map(|option| (option, DestinationKind::Filesystem)),
            ),
        };
        Ok(DestinationConfig {
            name: s.name,
            topics: s.topics,
            routing_keys: s.routing_keys,
            required_auth_key: s.required_auth_key,
            target,
            foreign,
        })
    }
}

/// Destination types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum DestinationKind {
    /// Files under `root`.
    Filesystem,
    /// Messages to a Kafka cluster (needs the cargo feature `kafka`; see
    /// `crate::server::kafka_destination`).
    Kafka,
}

impl DestinationKind {
    /// The name written in the config.
    pub fn name(self) -> &'static str {
        match self {
            DestinationKind::Filesystem => "filesystem",
            DestinationKind::Kafka => "kafka",
        }
    }
}

impl fmt::Display for DestinationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl DestinationConfig {
    /// Its `type`.
    pub fn kind(&self) -> DestinationKind {
        match self.target {
            DestinationTarget::Filesystem(_) => DestinationKind::Filesystem,
            DestinationTarget::Kafka(_) => DestinationKind::Kafka,
        }
    }

    /// The options of a `filesystem` destination; `None` for other types.
    pub fn filesystem(&self) -> Option<&FilesystemConfig> {
        match &self.target {
            DestinationTarget::Filesystem(f) => Some(f),
            DestinationTarget::Kafka(_) => None,
        }
    }

    /// Its folder layout (a `filesystem` destination's; the default for other types).
    pub fn layout(&self) -> Layout {
        let f = self.filesystem();
        Layout {
            folder_by_topic: f.and_then(|f| f.folder_by_topic).unwrap_or(true),
            folder_by_routing_key: f.and_then(|f| f.folder_by_routing_key).unwrap_or(true),
            partitioning: f
                .and_then(|f| f.partitioning_period)
                .unwrap_or(Partitioning::Hour),
        }
    }

    /// The folder of a `filesystem` destination; `None` for other types.
    pub fn root(&self) -> Option<&Path> {
        self.filesystem()?.root.as_deref()
    }

    /// Its `integrity` block (`filesystem` destinations only).
    pub fn integrity(&self) -> Option<&IntegrityConfig> {
        self.filesystem()?.integrity.as_ref()
    }

    /// The most bytes one group commit writes to this (`filesystem`) destination.
    pub fn flush_every_bytes(&self) -> u64 {
        self.filesystem()
            .and_then(|f| f.flush_every_bytes)
            .map_or(1 << 20, |b| b.0)
    }

    /// Checks the options of its type; `at` names it (`destinations[1] (`bus`)`).
    pub(super) fn check_kind(&self, at: &str) -> Result<(), String> {
        if let Some((foreign, other)) = self.foreign {
            return Err(format!(
                "{at}.{foreign}: not an option of a `{}` destination (it is one of `type: {other}`)",
                self.kind()
            ));
        }
        match &self.target {
            DestinationTarget::Filesystem(f) => self.check_filesystem(f, at),
            DestinationTarget::Kafka(k) => check_kafka(k, at),
        }
    }

    fn check_filesystem(&self, f: &FilesystemConfig, at: &str) -> Result<(), String> {
        match &f.root {
            None => return Err(format!("{at}.root: required for a filesystem destination")),
            Some(root) if root.as_os_str().is_empty() => {
                return Err(format!("{at}.root: must not be empty"))
            }
            Some(_) => {}
        }
        if self.flush_every_bytes() == 0 {
            return Err(format!("{at}.flush_every_bytes: must be greater than 0"));
        }
        if let Some(s) = f.flush_every_s {
            if !(s >= 0.0 && s.is_finite()) {
                return Err(format!(
                    "{at}.flush_every_s: must be a number of seconds ≥ 0"
                ));
            }
        }
        Ok(())
    }
}

/// Checks a `kafka` destination's options without connecting.
#[cfg(feature = "kafka")]
fn check_kafka(k: &KafkaDestinationConfig, at: &str) -> Result<(), String> {
    crate::server::kafka_destination::KafkaOptions::from_config(k)
        .map(drop)
        .map_err(|e| format!("{at}.{e}"))
}

/// Without the `kafka` feature there is no Kafka client in the binary: say how to get one.
#[cfg(not(feature = "kafka"))]
fn check_kafka(_: &KafkaDestinationConfig, at: &str) -> Result<(), String> {
    Err(format!(
        "{at}.type: `kafka` destinations need a log4rs-audit built with the `kafka` feature (cargo build --features kafka); this one was built without it"
    ))
}

fn partitioning<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Partitioning>, D::Error> {
    let text = String::deserialize(d)?;
    text.parse()
        .map(Some)
        .map_err(|e| de::Error::custom(format!("partitioning_period: {e}")))
}

/// `ALL` or a list of names.
fn accept_names<'de, D: Deserializer<'de>>(d: D) -> Result<Selection<String>, D::Error> {
    crate::filter::RawSelection::deserialize(d)?
        .into_selection("ALL")
        .map_err(de::Error::custom)
}

fn topics<'de, D: Deserializer<'de>>(d: D) -> Result<Selection<Topic>, D::Error> {
    accept_names(d)?.into_topics().map_err(de::Error::custom)
}

fn routing_keys<'de, D: Deserializer<'de>>(d: D) -> Result<Selection<String>, D::Error> {
    let keys = accept_names(d)?;
    if let Selection::Only(names) = &keys {
        for n in names {
            crate::protocol::wire::RoutingKey::new(n.as_str())
                .map_err(|e| de::Error::custom(format!("routing_keys: {e}")))?;
        }
    }
    Ok(keys)
}
