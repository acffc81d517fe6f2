//! log4j 1.x `.properties` configs, read into the same [`AuditConfig`] as YAML.
//!
//! Three parts: `syntax` is `java.util.Properties` plus `${…}` substitution; `log4j` gives
//! the keys their log4j meaning (root and loggers, additivity, thresholds, variables);
//! `classes` maps appender classes, layouts and filters onto log4rs and this crate's kinds,
//! each of this crate's kinds declaring its classes in its own folder (`append/<kind>/log4j.rs`,
//! read through `appender_properties`).

mod appender_properties;
mod classes;
mod layouts;
mod log4j;
mod syntax;

use std::collections::BTreeMap;
use std::path::Path;

use super::{AuditConfig, ConfigError};

pub use appender_properties::Log4jClass;
pub(crate) use appender_properties::{AppenderProperties, Log4jLayout, Translated, ASYNC_OPTIONS};
pub use classes::appender_classes;
pub(crate) use classes::Map;

/// How a properties file is read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PropertiesOptions {
    /// `${name}` values that win over the environment and the file (like `-Dname=value`).
    pub overrides: BTreeMap<String, String>,
    /// Turn warnings (unknown classes, undefined variables, ignored keys) into errors.
    pub strict: bool,
    /// Do not consult environment variables for `${name}`.
    pub ignore_env: bool,
}

/// Reads log4j properties text; `source` names the file in messages and for reload.
///
/// ```
/// use log4rs_audit::config::{from_properties, PropertiesOptions};
///
/// let text = "log4j.rootLogger=WARN, CONSOLE\n\
///             log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\n\
///             log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\n\
///             log4j.appender.CONSOLE.layout.ConversionPattern=%d %p %c: %m%n\n\
///             log4j.logger.dku.audit=INFO, AUDIT\n\
///             log4j.additivity.dku.audit=false\n\
///             log4j.appender.AUDIT=org.apache.log4j.RollingFileAppender\n\
///             log4j.appender.AUDIT.File=${DIP_HOME}/run/audit/audit.log\n\
///             log4j.appender.AUDIT.MaxFileSize=100MB\n\
///             log4j.appender.AUDIT.MaxBackupIndex=20\n\
///             log4j.appender.AUDIT.layout=com.dataiku.dip.logging.JSONAuditLayout\n";
/// let options = PropertiesOptions {
///     overrides: [("DIP_HOME".to_owned(), "/data/dss".to_owned())].into(),
///     ..PropertiesOptions::default()
/// };
/// let config = from_properties(text, None, &options).unwrap();
/// let audit = config.loggers.iter().find(|l| l.name == "dku.audit").unwrap();
/// assert_eq!(audit.appenders, ["AUDIT"]);
/// assert!(!audit.additive);
/// assert!(config.warnings.is_empty());
/// ```
pub fn from_properties(
    text: &str,
    source: Option<&Path>,
    options: &PropertiesOptions,
) -> Result<AuditConfig, ConfigError> {
    let mut config = log4j::translate(text, source, options)?;
    config.sha256 = Some(super::sha256_hex(text.as_bytes()));
    Ok(config)
}
