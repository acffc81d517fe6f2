//! The config model: log4rs's YAML shape (appenders with `kind`, root, loggers, refresh_rate)
//! read into a checked [`AuditConfig`], with errors that name the file, line and key.
//!
//! Appender, encoder and filter configs stay as log4rs's own `AppenderConfig`/`FilterConfig`
//! values and are built through log4rs's `Deserializers` (with this crate's kinds registered), so
//! every log4rs component works here and ours work in log4rs.

mod audit_options;
pub mod check;
pub(crate) mod duration;
mod env;
pub(crate) mod flat;
pub(crate) mod kinds;
mod named;
pub(crate) use named::named_fields;
mod logger_name;
pub(crate) use audit_options::{heartbeat, RawAudit};
pub use audit_options::{AuditOptions, MIN_HEARTBEAT};
pub use env::expand_env;
pub(crate) use kinds::{impl_deserialize, remote_kind};
pub use logger_name::{normalize_name, InvalidLoggerName};
pub mod properties;
pub mod size;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use log::LevelFilter;
use log4rs::append::AppenderConfig;
use serde::Deserialize;

pub use kinds::deserializers;
pub(crate) use kinds::AppenderKind;
pub use properties::{from_properties, PropertiesOptions};
pub use size::{ByteSize, InvalidSize};

/// The embedded default: `run/audit/audit.log`, 100 MB × 20 backups, audit topics only.
pub const DEFAULT_CONFIG_YAML: &str = include_str!("../../config-examples/default.yaml");

/// A config that cannot be used, located as precisely as the input allows.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read config: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file's extension names no format we read.
    #[error("{}: unsupported config format (expected .yaml, .yml, .json or .properties)", .0.display())]
    UnsupportedFormat(PathBuf),
    /// Something in the config is wrong.
    #[error("{0}")]
    Invalid(Located),
    /// The running config has `audit.lock: true` and this one would lower audit coverage
    /// (see [`AuditOptions::lock`]); the running config stays.
    #[error("{}refused by `lock: true` (it would lower audit coverage): {}", file_prefix(.file), .reasons.join("; "))]
    Locked {
        /// The refused config's file, when it came from one.
        file: Option<PathBuf>,
        /// Each way it would lower coverage, naming the target, topic, logger or option.
        reasons: Vec<String>,
    },
}

/// `path: ` for messages that start with the file, or nothing.
fn file_prefix(file: &Option<PathBuf>) -> String {
    file.as_ref()
        .map(|f| format!("{}: ", f.display()))
        .unwrap_or_default()
}

/// Where a config problem is and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The config file, when the config came from one.
    pub file: Option<PathBuf>,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// Dotted key path such as `appenders.audit.policy`, when known.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{}:{line}: ", file.display())?,
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            (None, Some(line)) => write!(f, "line {line}: ")?,
            (None, None) => {}
        }
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// One appender of the config, as log4rs describes it (kind, filters, options).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppenderSpec {
    /// The appender's name.
    pub name: String,
    /// Kind, filters and options.
    pub config: AppenderConfig,
    /// Line where it is declared.
    pub line: Option<usize>,
}

/// A logger: level, appenders, additivity. The root logger has the name `""`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggerSpec {
    /// Name as written (`dku.audit` or `app::db`).
    pub name: String,
    /// `None` inherits the parent's level (log4j); YAML loggers usually set one.
    pub level: Option<LevelFilter>,
    /// Appender names.
    pub appenders: Vec<String>,
    /// Whether events also go to the parent's appenders.
    pub additive: bool,
}

impl LoggerSpec {
    /// The root logger at `level` (DEBUG when not given, as log4j's root starts), writing to
    /// `appenders`.
    ///
    /// ```
    /// use log::LevelFilter;
    /// use log4rs_audit::config::LoggerSpec;
    ///
    /// let root = LoggerSpec::root(None, vec!["audit".into()]);
    /// assert_eq!((root.name.as_str(), root.level), ("", Some(LevelFilter::Debug)));
    /// ```
    pub fn root(level: Option<LevelFilter>, appenders: Vec<String>) -> LoggerSpec {
        LoggerSpec {
            name: String::new(),
            level: Some(level.unwrap_or(ROOT_LEVEL_DEFAULT)),
            appenders,
            additive: true,
        }
    }

    /// A logger named `name` that inherits its level, has no appenders of its own and passes
    /// its events on to its parent's (additive), as log4j's loggers start.
    pub fn named(name: impl Into<String>) -> LoggerSpec {
        LoggerSpec {
            name: name.into(),
            level: None,
            appenders: vec![],
            additive: true,
        }
    }
}

/// A checked config: every appender named by a logger exists, logger names are well formed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditConfig {
    /// How often the source file is checked for changes.
    pub refresh_rate: Option<Duration>,
    /// Options about the trail itself: `lock`, `heartbeat`.
    pub audit: AuditOptions,
    /// The root logger.
    pub root: LoggerSpec,
    /// The other loggers.
    pub loggers: Vec<LoggerSpec>,
    /// The appenders.
    pub appenders: Vec<AppenderSpec>,
    /// The file the config was read from.
    pub source: Option<PathBuf>,
    /// SHA-256 (lower-case hex) of the bytes the config was read from: the file's content as
    /// `sha256sum` prints it, or the text given to [`AuditConfig::from_yaml`] /
    /// [`from_properties`]; `None` for a config built in code. The lifecycle events carry it,
    /// so the trail names exactly which config was running.
    pub sha256: Option<String>,
    /// What was accepted but is worth a look (unknown classes left out, undefined variables…).
    pub warnings: Vec<Located>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    refresh_rate: Option<String>,
    #[serde(default)]
    audit: Option<RawAudit>,
    #[serde(default)]
    root: Option<RawLogger>,
    #[serde(default)]
    appenders: BTreeMap<String, AppenderConfig>,
    #[serde(default)]
    loggers: BTreeMap<String, RawLogger>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLogger {
    #[serde(default)]
    level: Option<LevelFilter>,
    #[serde(default)]
    appenders: Vec<String>,
    #[serde(default = "additive_default")]
    additive: bool,
}

fn additive_default() -> bool {
    true
}

/// log4rs's default root level.
const ROOT_LEVEL_DEFAULT: LevelFilter = LevelFilter::Debug;

impl AuditConfig {
    /// A config of these loggers and appenders, read from no file, with no refresh and no
    /// warnings. The names are checked when the config is applied.
    ///
    /// ```
    /// use log4rs_audit::config::{AuditConfig, LoggerSpec};
    ///
    /// let config = AuditConfig::new(LoggerSpec::root(None, vec![]), vec![], vec![]);
    /// assert!(config.source.is_none() && config.warnings.is_empty());
    /// ```
    pub fn new(root: LoggerSpec, loggers: Vec<LoggerSpec>, appenders: Vec<AppenderSpec>) -> Self {
        AuditConfig {
            refresh_rate: None,
            audit: AuditOptions::default(),
            root,
            loggers,
            appenders,
            source: None,
            sha256: None,
            warnings: Vec::new(),
        }
    }

    /// Reads a config file, choosing the format by extension (`.yaml`/`.yml`, `.json`,
    /// `.properties` for log4j 1.x files).
    pub fn from_file(path: &Path) -> Result<AuditConfig, ConfigError> {
        Self::from_file_with(path, &PropertiesOptions::default())
    }

    /// Like [`AuditConfig::from_file`], with options for `.properties` files (variable
    /// overrides, strict mode).
    pub fn from_file_with(
        path: &Path,
        options: &PropertiesOptions,
    ) -> Result<AuditConfig, ConfigError> {
        Self::from_file_as(path, None, options)
    }

    /// Reads a config file in `format`, or in the format its extension names when `None`
    /// (for files such as `log4j.properties.template`).
    pub fn from_file_as(
        path: &Path,
        format: Option<ConfigFormat>,
        options: &PropertiesOptions,
    ) -> Result<AuditConfig, ConfigError> {
        let format = match format {
            Some(format) => format,
            None => {
                ConfigFormat::of(path).ok_or_else(|| ConfigError::UnsupportedFormat(path.into()))?
            }
        };
        let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        Self::from_bytes(path, format, bytes, options)
    }

    /// A config file's content, already read, in `format`: what a reload that read the file
    /// once (to hash and parse the same bytes) uses.
    pub(crate) fn from_bytes(
        path: &Path,
        format: ConfigFormat,
        bytes: Vec<u8>,
        options: &PropertiesOptions,
    ) -> Result<AuditConfig, ConfigError> {
        let sha256 = sha256_hex(&bytes);
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            // Java reads .properties as ISO-8859-1; any byte is a character there.
            Err(e) if format == ConfigFormat::Properties => {
                e.into_bytes().iter().map(|&b| char::from(b)).collect()
            }
            // YAML and JSON are UTF-8: decoding another encoding would change paths and names
            // silently (`café` becoming `cafÃ©`).
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let bytes = e.as_bytes();
                let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count();
                return Err(ConfigError::Invalid(Located {
                    file: Some(path.into()),
                    line: Some(line),
                    key: None,
                    message: format!(
                        "not UTF-8: byte 0x{:02x} at byte offset {at} (save the file as UTF-8)",
                        bytes[at]
                    ),
                }));
            }
        };
        let mut config = match format {
            ConfigFormat::Properties => from_properties(&text, Some(path), options),
            _ => Self::parse(&text, format, Some(path)),
        }?;
        config.sha256 = Some(sha256);
        Ok(config)
    }

    /// Reads YAML text; `source` is only used in error messages and for reload.
    ///
    /// ```
    /// use log4rs_audit::config::AuditConfig;
    ///
    /// let deep = format!("appenders: {}{}", "[".repeat(100_000), "]".repeat(100_000));
    /// let err = AuditConfig::from_yaml(&deep, None).unwrap_err();
    /// assert!(err.to_string().contains("nested more than 64 levels deep"), "{err}");
    /// ```
    pub fn from_yaml(text: &str, source: Option<&Path>) -> Result<AuditConfig, ConfigError> {
        let mut config = Self::parse(text, ConfigFormat::Yaml, source)?;
        config.sha256 = Some(sha256_hex(text.as_bytes()));
        Ok(config)
    }

    /// The embedded default config.
    pub fn default_storage() -> AuditConfig {
        // The embedded text is checked by a test; a failure here is a build defect.
        Self::from_yaml(DEFAULT_CONFIG_YAML, None).unwrap_or_else(|e| {
            panic!("embedded default config is invalid: {e}");
        })
    }

    fn parse(
        text: &str,
        format: ConfigFormat,
        source: Option<&Path>,
    ) -> Result<AuditConfig, ConfigError> {
        let err = |line: Option<usize>, key: Option<String>, message: String| {
            ConfigError::Invalid(Located {
                file: source.map(Path::to_path_buf),
                line,
                key,
                message,
            })
        };
        if format != ConfigFormat::Properties {
            if let Some(line) = too_deep(text, MAX_CONFIG_DEPTH) {
                return Err(err(
                    Some(line),
                    None,
                    format!("nested more than {MAX_CONFIG_DEPTH} levels deep"),
                ));
            }
        }
        let raw: RawConfig = match format {
            ConfigFormat::Yaml => {
                if text.trim().is_empty() {
                    RawConfig::empty()
                } else {
                    serde_yaml::from_str(text).map_err(|e| {
                        let line = e.location().map(|l| l.line());
                        err(line, None, strip_location(&e.to_string()))
                    })?
                }
            }
            ConfigFormat::Json => serde_json::from_str(text)
                .map_err(|e| err(Some(e.line()), None, strip_location(&e.to_string())))?,
            ConfigFormat::Properties => {
                return from_properties(text, source, &PropertiesOptions::default())
            }
        };
        let locate = |path: &[&str]| locate_key(text, path);

        let refresh_rate = match &raw.refresh_rate {
            Some(t) => Some(humantime::parse_duration(t).map_err(|e| {
                err(
                    locate(&["refresh_rate"]),
                    Some("refresh_rate".into()),
                    format!("`{t}`: {e}"),
                )
            })?),
            None => None,
        };

        let audit = match &raw.audit {
            None => AuditOptions::default(),
            Some(a) => a.checked().map_err(|m| {
                err(
                    locate(&["audit", "heartbeat"]),
                    Some("audit.heartbeat".into()),
                    m,
                )
            })?,
        };

        let appender_names: HashSet<&str> = raw.appenders.keys().map(String::as_str).collect();
        let check_refs = |key: &str, path: &[&str], appenders: &[String]| {
            for a in appenders {
                if !appender_names.contains(a.as_str()) {
                    return Err(err(
                        locate(path),
                        Some(key.to_owned()),
                        format!("no appender named `{a}`"),
                    ));
                }
            }
            Ok(())
        };

        let root = match raw.root {
            Some(r) => {
                check_refs("root.appenders", &["root"], &r.appenders)?;
                LoggerSpec::root(r.level, r.appenders)
            }
            None => LoggerSpec::root(None, vec![]),
        };

        let mut loggers = Vec::with_capacity(raw.loggers.len());
        let mut seen = BTreeMap::<String, String>::new();
        for (name, l) in raw.loggers {
            let key = format!("loggers.{name}");
            let path = ["loggers", name.as_str()];
            let normalized = normalize_name(&name)
                .map_err(|m| err(locate(&path), Some(key.clone()), m.to_string()))?;
            if let Some(other) = seen.insert(normalized, name.clone()) {
                return Err(err(
                    locate(&path),
                    Some(key),
                    format!("same logger as `{other}` (`.` and `::` are the same separator)"),
                ));
            }
            check_refs(&format!("{key}.appenders"), &path, &l.appenders)?;
            loggers.push(LoggerSpec {
                name,
                level: l.level,
                appenders: l.appenders,
                additive: l.additive,
            });
        }

        let appenders = raw
            .appenders
            .into_iter()
            .map(|(name, config)| AppenderSpec {
                line: locate(&["appenders", name.as_str()]),
                name,
                config,
            })
            .collect();

        Ok(AuditConfig {
            refresh_rate,
            audit,
            source: source.map(Path::to_path_buf),
            ..AuditConfig::new(root, loggers, appenders)
        })
    }

    /// An error about `key` of this config, located at `line`.
    pub fn error(
        &self,
        line: Option<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid(Located {
            file: self.source.clone(),
            line,
            key: Some(key.into()),
            message: message.into(),
        })
    }
}

impl RawConfig {
    fn empty() -> RawConfig {
        RawConfig {
            refresh_rate: None,
            audit: None,
            root: None,
            appenders: BTreeMap::new(),
            loggers: BTreeMap::new(),
        }
    }
}

/// The formats a config file can be in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigFormat {
    /// log4rs's YAML shape.
    Yaml,
    /// The same keys as YAML, in JSON.
    Json,
    /// A log4j 1.x `PropertyConfigurator` file.
    Properties,
}

impl ConfigFormat {
    /// The format a file's extension names (`.yaml`/`.yml`, `.json`, `.properties`).
    pub fn of(path: &Path) -> Option<ConfigFormat> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "yaml" | "yml" => Some(ConfigFormat::Yaml),
            "json" => Some(ConfigFormat::Json),
            "properties" => Some(ConfigFormat::Properties),
            _ => None,
        }
    }

    /// The format a file's content shows, for a name that says none (`log4j.properties.template`,
    /// Karaf's `org.ops4j.pax.logging.cfg`): Java properties when a line that is not a comment
    /// sets a `log4j.` key. `None` otherwise (the caller should ask for `--format`).
    ///
    /// ```
    /// use log4rs_audit::config::ConfigFormat;
    ///
    /// let cfg = b"# Karaf\nlog4j.rootLogger = INFO, out\n";
    /// assert_eq!(ConfigFormat::guess(cfg), Some(ConfigFormat::Properties));
    /// assert_eq!(ConfigFormat::guess(b"appenders:\n  a: { kind: null }\n"), None);
    /// ```
    pub fn guess(content: &[u8]) -> Option<ConfigFormat> {
        let text = String::from_utf8_lossy(content);
        text.lines()
            .map(str::trim_start)
            .filter(|l| !l.starts_with('#') && !l.starts_with('!'))
            .any(|l| {
                l.strip_prefix("log4j.").is_some_and(|rest| {
                    let key_end = rest.find(['=', ':', ' ', '\t']).unwrap_or(rest.len());
                    key_end > 0 && rest[key_end..].trim_start().starts_with(['=', ':'])
                        || rest[key_end..].starts_with([' ', '\t'])
                })
            })
            .then_some(ConfigFormat::Properties)
    }
}

/// SHA-256 of `bytes`, lower-case hex, as `sha256sum` prints it.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    crate::integrity::chain::to_hex(&sha2::Sha256::digest(bytes))
}

/// serde_yaml and serde_json append " at line L column C"; we print the line ourselves.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Finds the 1-based line of a nested mapping key in YAML (or JSON) text by indentation.
fn locate_key(text: &str, path: &[&str]) -> Option<usize> {
    let mut depth = 0;
    let mut parent_indent: Option<usize> = None;
    // Indentation of the keys at the current depth, set by the first line seen there.
    let mut level_indent: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        let content = line.trim_start();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let indent = line.len() - content.len();
        if parent_indent.is_some_and(|p| indent <= p) {
            // Left the parent's block without finding the key.
            return None;
        }
        if indent != *level_indent.get_or_insert(indent) {
            continue;
        }
        let key_end = content
            .find(": ")
            .or_else(|| content.strip_suffix(':').map(str::len));
        let key = key_end.map(|end| {
            content[..end]
                .trim()
                .trim_matches(|c| c == '"' || c == '\'')
        });
        if key == Some(path[depth]) {
            depth += 1;
            if depth == path.len() {
                return Some(i + 1);
            }
            parent_indent = Some(indent);
            level_indent = None;
        }
    }
    None
}

/// The deepest nesting of `[`/`{` a YAML or JSON config may have: far more than any real
/// config, few enough that the parser's work stays small (100,000 `[` took 38 s of CPU).
const MAX_CONFIG_DEPTH: usize = 64;

/// The line where flow collections (`[`, `{`, outside quotes and comments) nest deeper than
/// `max`, if they do. A cheap scan before parsing.
fn too_deep(text: &str, max: usize) -> Option<usize> {
    let (mut depth, mut line) = (0usize, 1usize);
    let mut quote: Option<char> = None;
    let mut comment = false;
    let mut previous = ' ';
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\n' {
            line += 1;
            comment = false;
        } else if comment {
        } else if let Some(q) = quote {
            if c == '\\' && q == '"' {
                chars.next();
            } else if c == q {
                quote = None;
            }
        } else {
            match c {
                '"' | '\'' => quote = Some(c),
                '#' if previous.is_whitespace() => comment = true,
                '[' | '{' => {
                    depth += 1;
                    if depth > max {
                        return Some(line);
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        previous = c;
    }
    None
}

#[cfg(test)]
mod tests {
    /// A YAML file with one Latin-1 byte is refused naming line and byte offset, never decoded
    /// as Latin-1 (which would write to `run/cafÃ©.log`); a `.properties` file is Latin-1 as
    /// in Java.
    #[test]
    fn yaml_that_is_not_utf8_is_refused_naming_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        let yaml = dir.path().join("audit.yaml");
        let text = b"appenders:\n  audit:\n    kind: audit_file\n    path: run/caf\xe9.log\n";
        std::fs::write(&yaml, text).unwrap();
        let err = AuditConfig::from_file(&yaml).unwrap_err().to_string();
        let at = text.iter().position(|&b| b == 0xe9).unwrap();
        assert!(err.contains(":4"), "{err}");
        assert!(
            err.contains(&format!("not UTF-8: byte 0xe9 at byte offset {at}")),
            "{err}"
        );
        let props = dir.path().join("log4j.properties");
        std::fs::write(&props, b"# caf\xe9\nlog4j.rootLogger=INFO\n").unwrap();
        assert!(AuditConfig::from_file(&props).is_ok());
    }

    #[test]
    fn nesting_depth_scan() {
        assert_eq!(too_deep("a: [[1], {b: [2]}]\n", 3), None);
        assert_eq!(too_deep("a:\n  b: [[[[1]]]]\n", 3), Some(2));
        // Brackets in quotes and comments do not count.
        assert_eq!(too_deep("a: '[[[[' # [[[[\nb: \"{{{{\\\"{\"\n", 3), None);
    }

    use super::*;

    const SAMPLE: &str = "\
refresh_rate: 30 seconds
appenders:
  audit:
    kind: audit_file
    path: run/audit/audit.log
  other:
    kind: console
root: { level: warn, appenders: [] }
loggers:
  dku.audit: { level: info, appenders: [audit, other], additive: false }
  app::db:
    level: debug
";

    #[test]
    fn reads_the_issue_shape() {
        let c = AuditConfig::from_yaml(SAMPLE, None).unwrap();
        assert_eq!(c.refresh_rate, Some(Duration::from_secs(30)));
        assert_eq!(c.root.level, Some(LevelFilter::Warn));
        assert_eq!(c.appenders.len(), 2);
        assert_eq!(c.appenders[0].name, "audit");
        assert_eq!(c.appenders[0].line, Some(3));
        assert_eq!(c.appenders[1].line, Some(6));
        let audit = c.loggers.iter().find(|l| l.name == "dku.audit").unwrap();
        assert!(!audit.additive);
        assert_eq!(audit.appenders, ["audit", "other"]);
        let db = c.loggers.iter().find(|l| l.name == "app::db").unwrap();
        assert!(db.additive && db.appenders.is_empty());
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let bad = SAMPLE.replace("[audit, other]", "[audit, nope]");
        let e = AuditConfig::from_yaml(&bad, Some(Path::new("x.yaml"))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.yaml:10: loggers.dku.audit.appenders: no appender named `nope`"
        );
        let bad = SAMPLE.replace("level: debug", "level: loud");
        let e = AuditConfig::from_yaml(&bad, Some(Path::new("x.yaml"))).unwrap_err();
        assert!(e.to_string().starts_with("x.yaml:12:"), "{e}");
        assert!(e.to_string().contains("loud"), "{e}");
        let bad = SAMPLE.replace("30 seconds", "soon");
        let e = AuditConfig::from_yaml(&bad, None).unwrap_err().to_string();
        assert!(e.starts_with("line 1: refresh_rate: `soon`"), "{e}");
        let bad = format!("{SAMPLE}  dku::audit: {{ level: info }}\n");
        let e = AuditConfig::from_yaml(&bad, None).unwrap_err().to_string();
        assert!(e.contains("same logger as"), "{e}");
        let e = AuditConfig::from_yaml("rooot: {}\n", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("rooot"), "{e}");
    }

    #[test]
    fn embedded_default_is_valid() {
        let c = AuditConfig::default_storage();
        assert_eq!(c.appenders.len(), 1);
        assert!(c
            .loggers
            .iter()
            .any(|l| l.name == "dku.audit" && !l.additive));
    }

    #[test]
    fn locate_key_walks_indentation() {
        let t = "a:\n  b:\n    c: 1\nb:\n  c: 2\n";
        assert_eq!(locate_key(t, &["a", "b", "c"]), Some(3));
        assert_eq!(locate_key(t, &["b", "c"]), Some(5));
        assert_eq!(locate_key(t, &["a", "c"]), None);
    }
}
