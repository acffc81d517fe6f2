//! The `null` appender (log4j's `NullAppender`): accepts every record and writes nothing.

use log::Record;
use log4rs::append::Append;
use log4rs::config::{Deserialize, Deserializers};

/// Discards records; useful to silence a logger explicitly.
#[derive(Clone, Copy, Debug, Default)]
pub struct NullAppender;

impl Append for NullAppender {
    fn append(&self, _: &Record) -> anyhow::Result<()> {
        Ok(())
    }
    fn flush(&self) {}
}

/// Options of the `null` appender kind (none).
#[derive(Clone, Copy, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NullConfig {}

/// The `null` appender kind.
#[derive(Clone, Copy, Debug, Default)]
pub struct NullAppenderDeserializer;

impl Deserialize for NullAppenderDeserializer {
    type Trait = dyn Append;
    type Config = NullConfig;

    fn deserialize(&self, _: NullConfig, _: &Deserializers) -> anyhow::Result<Box<dyn Append>> {
        Ok(Box::new(NullAppender))
    }
}

/// log4j's `NullAppender` becomes `null` (it writes nothing: a layout is ignored).
const CLASSES: &[crate::config::properties::Log4jClass] =
    &[crate::config::properties::Log4jClass::new(
        "org.apache.log4j.varia.NullAppender",
        "null",
        &[&["name"]],
        |_| Ok(crate::config::properties::Translated::Kept),
    )
    .layout(crate::config::properties::Log4jLayout::Discarded)];

/// `null` in the table of kinds: building it has no side effect.
pub(crate) const KIND: crate::config::AppenderKind = crate::config::AppenderKind {
    name: "null",
    register: |d| d.insert("null", NullAppenderDeserializer),
    check: |options, d| d.deserialize::<dyn Append>("null", options).map(drop),
    describe: |_, _| "(discarded)".into(),
    path: |_| None,
    log4j: CLASSES,
};
