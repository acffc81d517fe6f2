//! This crate's component kinds, registered beside log4rs's own.

use log4rs::config::Deserializers;

/// Implements log4rs's `Deserialize` for a kind's deserializer `$name`: its `$config` (the
/// kind's YAML options) builds the component with `build()`, or with `build(deserializers)`
/// when it nests other kinds. One line per kind instead of the same dozen in every kind's file.
macro_rules! impl_deserialize {
    ($name:ty, $config:ty => $trait:path $(, $nested:ident)?) => {
        impl log4rs::config::Deserialize for $name {
            type Trait = dyn $trait;
            type Config = $config;

            fn deserialize(
                &self,
                config: $config,
                #[allow(unused_variables)] deserializers: &log4rs::config::Deserializers,
            ) -> anyhow::Result<Box<dyn $trait>> {
                Ok(Box::new(
                    $crate::config::impl_deserialize!(@build config, deserializers $(, $nested)?)?,
                ))
            }
        }
    };
    (@build $config:ident, $d:ident) => {
        $config.build()
    };
    (@build $config:ident, $d:ident, nested) => {
        $config.build($d)
    };
}
pub(crate) use impl_deserialize;

use crate::append::SyslogAppenderDeserializer;
use crate::append::{
    AuditFileAppenderDeserializer, EventServerAppenderDeserializer, NullAppenderDeserializer,
};
use crate::encode::{AuditEnvelopeEncoderDeserializer, Log4jPatternEncoderDeserializer};
use crate::filter::log4j::{
    DenyAllFilter, LevelMatchFilter, LevelRangeFilter, Log4jFilterDeserializer, StringMatchFilter,
};
use crate::filter::AuditRouteFilterDeserializer;

/// log4rs's default kinds (console, file, rolling_file, pattern, json, threshold, …) plus
/// `audit_file`, `event_server`, `syslog`, `audit_envelope`, `log4j_pattern`, `audit_route`, `null`, `async` and log4j's filters
/// (`log4j_level_range`, `log4j_level_match`, `log4j_string_match`, `log4j_deny_all`).
///
/// ```
/// let d = log4rs_audit::config::deserializers();
/// let encoder: serde_value::Value = serde_value::to_value(
///     std::collections::BTreeMap::from([("timezone", "utc")])).unwrap();
/// assert!(d.deserialize::<dyn log4rs::encode::Encode>("audit_envelope", encoder).is_ok());
/// ```
pub fn deserializers() -> Deserializers {
    let mut d = Deserializers::default();
    d.insert("audit_file", AuditFileAppenderDeserializer);
    d.insert("event_server", EventServerAppenderDeserializer);
    d.insert("audit_envelope", AuditEnvelopeEncoderDeserializer);
    d.insert("log4j_pattern", Log4jPatternEncoderDeserializer);
    d.insert("audit_route", AuditRouteFilterDeserializer);
    d.insert("null", NullAppenderDeserializer);
    d.insert("async", crate::append::AsyncAppenderDeserializer);
    d.insert("syslog", SyslogAppenderDeserializer);
    #[cfg(feature = "kafka")]
    d.insert("kafka", crate::append::KafkaAppenderDeserializer);
    #[cfg(not(feature = "kafka"))]
    d.insert("kafka", NoKafka);
    d.insert(
        "log4j_level_range",
        Log4jFilterDeserializer::<LevelRangeFilter>::new(),
    );
    d.insert(
        "log4j_level_match",
        Log4jFilterDeserializer::<LevelMatchFilter>::new(),
    );
    d.insert(
        "log4j_string_match",
        Log4jFilterDeserializer::<StringMatchFilter>::new(),
    );
    d.insert(
        "log4j_deny_all",
        Log4jFilterDeserializer::<DenyAllFilter>::new(),
    );
    d
}

/// Kind `kafka` in a build without the `kafka` feature: a clear error instead of "unknown kind".
#[cfg(not(feature = "kafka"))]
struct NoKafka;

#[cfg(not(feature = "kafka"))]
impl log4rs::config::Deserialize for NoKafka {
    type Trait = dyn log4rs::append::Append;
    type Config = serde_value::Value;

    fn deserialize(
        &self,
        _: serde_value::Value,
        _: &Deserializers,
    ) -> anyhow::Result<Box<dyn log4rs::append::Append>> {
        anyhow::bail!(
            "appender kind `kafka`: log4rs-audit was built without the `kafka` feature (cargo build --features kafka)"
        )
    }
}

#[cfg(all(test, not(feature = "kafka")))]
mod tests {
    #[test]
    fn kafka_without_the_feature_is_a_clear_error() {
        let e = super::deserializers()
            .deserialize::<dyn log4rs::append::Append>("kafka", serde_value::Value::Unit)
            .map(drop)
            .unwrap_err()
            .to_string();
        assert!(e.contains("built without the `kafka` feature"), "{e}");
    }
}
