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

/// Declares a kind that sends events off the machine: its log4rs deserializer (the appender
/// built by `config.build()`) and its row of [`APPENDER_KINDS`], checked by the config's own
/// `validate()` (no socket, key file or spool touched), described from the typed config, with
/// no local file for a reload to compare.
macro_rules! remote_kind {
    ($(#[$doc:meta])* $deserializer:ident, $name:literal, $config:ty, $log4j:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default)]
        pub struct $deserializer;

        /// This kind in the table of kinds.
        pub(crate) const KIND: $crate::config::AppenderKind = $crate::config::AppenderKind {
            name: $name,
            register: |d| d.insert($name, $deserializer),
            check: |options, _| options.deserialize_into::<$config>()?.validate(),
            describe: $crate::config::check::described::<$config>,
            path: |_| None,
            log4j: $log4j,
        };

        $crate::config::impl_deserialize!($deserializer, $config => log4rs::append::Append);
    };
}
pub(crate) use remote_kind;

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
    for kind in APPENDER_KINDS {
        (kind.register)(&mut d);
    }
    d.insert("audit_envelope", AuditEnvelopeEncoderDeserializer);
    d.insert("log4j_pattern", Log4jPatternEncoderDeserializer);
    d.insert("audit_route", AuditRouteFilterDeserializer);
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

/// What the rest of the crate needs to know of one of this crate's appender kinds, declared
/// once in the kind's own module: its name, its registration, its side-effect-free check and
/// how `check-config` shows it, its log4j classes. [`deserializers`], [`super::check`] loop over
/// [`APPENDER_KINDS`]; a new kind adds its `KIND` there.
pub(crate) struct AppenderKind {
    /// The YAML `kind`.
    pub(crate) name: &'static str,
    /// Inserts its deserializer.
    pub(crate) register: fn(&mut Deserializers),
    /// Checks its options without side effects (no file, socket, spool or thread).
    pub(crate) check: fn(serde_value::Value, &Deserializers) -> anyhow::Result<()>,
    /// Where it writes, as `check-config` shows it, adding its own details.
    pub(crate) describe: fn(&serde_value::Value, &mut Vec<String>) -> String,
    /// The file it writes, `$ENV{…}` expanded (what [`crate::Handle::destinations`] shows);
    /// `None` for remote targets.
    pub(crate) path: fn(&serde_value::Value) -> Option<std::path::PathBuf>,
    /// The log4j appender classes that become this kind, with their translation.
    pub(crate) log4j: &'static [crate::config::properties::Log4jClass],
}

/// This crate's appender kinds.
pub(crate) const APPENDER_KINDS: &[&AppenderKind] = &[
    &crate::append::file::KIND,
    &crate::append::event_server::KIND,
    &crate::append::null::KIND,
    &crate::append::async_appender::KIND,
    &crate::append::syslog::KIND,
    &crate::append::kafka::KIND,
];

/// The file an appender of `kind` writes: this crate's kinds say so themselves, log4rs's
/// (`file`, `rolling_file`) by their `path` option.
pub(crate) fn appender_path(
    kind: &str,
    options: &serde_value::Value,
) -> Option<std::path::PathBuf> {
    match appender_kind(kind) {
        Some(k) => (k.path)(options),
        None => match super::check::map_get(options, "path") {
            Some(serde_value::Value::String(p)) => Some(super::expand_env(p).into()),
            _ => None,
        },
    }
}

/// The kind named `name`, if it is this crate's.
pub(crate) fn appender_kind(name: &str) -> Option<&'static AppenderKind> {
    APPENDER_KINDS.iter().copied().find(|k| k.name == name)
}
