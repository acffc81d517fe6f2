//! The `event_server` options as written in YAML, checked without side effects
//! ([`EventServerConfig::validate`]) and turned into the appender ([`EventServerConfig::build`]).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::http;
use crate::config::duration::parse_option as duration;
use crate::config::size::ByteSize;
use crate::delivery::SpooledWhenFull;
use crate::protocol::wire::RoutingKey;
use crate::secret::Secret;
use crate::spool::SpoolOptions;

/// Default `batch_max_events`.
pub const DEFAULT_BATCH_MAX_EVENTS: usize = 1000;
/// Default `batch_max_bytes`: 1 MiB.
pub const DEFAULT_BATCH_MAX_BYTES: u64 = 1 << 20;
/// Default `linger`.
pub const DEFAULT_LINGER: Duration = Duration::from_millis(5);
/// Default `spool_max_bytes`: 1 GiB.
pub const DEFAULT_SPOOL_MAX_BYTES: u64 = 1 << 30;
/// Default `retry_min`.
pub const DEFAULT_RETRY_MIN: Duration = Duration::from_millis(100);
/// Default `retry_max`.
pub const DEFAULT_RETRY_MAX: Duration = Duration::from_secs(30);
/// Default `request_timeout`.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `connect_timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default `flush_timeout`.
pub const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// Which routing key an event is sent with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum RoutingKeyMode {
    /// The record's `routingKey` key-value, if it has one (default).
    #[default]
    #[serde(rename = "FROM_MESSAGE", alias = "from_message")]
    FromMessage,
    /// Always the configured `routing_key`.
    #[serde(rename = "STATIC", alias = "static")]
    Static,
    /// The record's `routingKey`, else the configured `routing_key`.
    #[serde(rename = "STATIC_IF_MISSING", alias = "static_if_missing")]
    StaticIfMissing,
}

crate::config::flat::flat_config! {
    /// Options of the `event_server` appender kind, as written in YAML.
    ///
    /// Durations are humantime (`5ms`, `30s`, `2m`), sizes like `1 MB` (binary units). Only `url`,
    /// `auth_key` and `spool_dir` are required. Appenders with the same `spool_dir` share one spool
    /// and one sender (the newest appender's connection settings apply; the spool options are
    /// those of the appender that opened it).
    ///
    /// ```
    /// use log4rs_audit::append::EventServerConfig;
    ///
    /// let yaml = r#"
    /// url: https://audit.example.com:11004     # requests go to <url>/events
    /// auth_key: { env: AUDIT_KEY }            # or inline, or { file: /etc/audit/key }
    /// ca_file: /etc/audit/ca.pem              # PEM roots for https (default: webpki roots)
    /// trust_all_certificates: false           # tests only
    /// routing_key_mode: STATIC_IF_MISSING     # FROM_MESSAGE | STATIC | STATIC_IF_MISSING
    /// routing_key: web-frontend
    /// batch_max_events: 1000
    /// batch_max_bytes: 1 MB
    /// linger: 5ms
    /// gzip: true
    /// spool_dir: $ENV{DIP_HOME}/run/audit-spool
    /// spool_max_bytes: 1 GB
    /// spool_fsync: batch                      # batch | none
    /// when_full: block                        # block | error
    /// file_mode: '0640'                       # spool and dead letters (folder 0750)
    /// retry_min: 100ms
    /// retry_max: 30s
    /// request_timeout: 30s
    /// connect_timeout: 5s
    /// flush_timeout: 10s
    /// "#;
    /// let config: EventServerConfig = serde_yaml::from_str(yaml).unwrap();
    /// config.validate().unwrap();
    ///
    /// let bad: EventServerConfig = serde_yaml::from_str(
    ///     "url: http://127.0.0.1:11004\nauth_key: k\nspool_dir: /tmp/s\nlinger: soon").unwrap();
    /// assert!(bad.validate().unwrap_err().to_string().starts_with("linger: `soon`"));
    /// ```
    pub struct EventServerConfig {
        own: Own,
        spooled: crate::spool::config::SpooledConfig,
    }
}

/// The options of this kind alone (the spooled ones are [`crate::spool::config::SpooledConfig`]'s).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Own {
    #[serde(deserialize_with = "named::url")]
    url: String,
    #[serde(deserialize_with = "named::auth_key")]
    auth_key: Secret,
    #[serde(default, deserialize_with = "named::trust_all_certificates")]
    trust_all_certificates: bool,
    #[serde(default, deserialize_with = "named::ca_file")]
    ca_file: Option<String>,
    #[serde(default, deserialize_with = "named::routing_key_mode")]
    routing_key_mode: RoutingKeyMode,
    #[serde(default, deserialize_with = "named::routing_key")]
    routing_key: Option<String>,
    #[serde(default, deserialize_with = "named::batch_max_events")]
    batch_max_events: Option<usize>,
    #[serde(default, deserialize_with = "named::batch_max_bytes")]
    batch_max_bytes: Option<ByteSize>,
    #[serde(default, deserialize_with = "named::linger")]
    linger: Option<String>,
    /// `block` (default) or `error`: see [`WhenFull`].
    #[serde(default, deserialize_with = "named::when_full")]
    when_full: SpooledWhenFull,
    #[serde(default, deserialize_with = "named::retry_min")]
    retry_min: Option<String>,
    #[serde(default, deserialize_with = "named::gzip")]
    gzip: bool,
    #[serde(default, deserialize_with = "named::request_timeout")]
    request_timeout: Option<String>,
    #[serde(default, deserialize_with = "named::connect_timeout")]
    connect_timeout: Option<String>,
}

crate::config::named_fields!(
    url: String,
    auth_key: Secret,
    trust_all_certificates: bool,
    ca_file: Option<String>,
    routing_key_mode: RoutingKeyMode,
    routing_key: Option<String>,
    batch_max_events: Option<usize>,
    batch_max_bytes: Option<ByteSize>,
    linger: Option<String>,
    when_full: SpooledWhenFull,
    retry_min: Option<String>,
    gzip: bool,
    request_timeout: Option<String>,
    connect_timeout: Option<String>,
);

/// The checked options, before anything is opened or read.
#[derive(Clone, Debug)]
pub(crate) struct ValidEventServerConfig {
    /// The endpoint, `<url>/events`.
    pub endpoint: String,
    pub auth_key: Secret,
    pub tls: TlsChoice,
    pub routing: Routing,
    pub batch_max_events: usize,
    pub batch_max_bytes: usize,
    pub linger: Duration,
    pub spool: SpoolOptions,
    pub retry_min: Duration,
    pub retry_max: Duration,
    pub gzip: bool,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    pub flush_timeout: Duration,
}

/// How the server's certificate is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TlsChoice {
    /// ureq's default: webpki roots.
    Default,
    /// Roots from a PEM file.
    CaFile(PathBuf),
    /// Any certificate (tests).
    TrustAll,
}

/// The routing key policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Routing {
    pub mode: RoutingKeyMode,
    pub key: Option<RoutingKey>,
}

fn positive(option: &str, d: Duration) -> anyhow::Result<Duration> {
    if d.is_zero() {
        anyhow::bail!("{option}: must be greater than 0");
    }
    Ok(d)
}

/// `<url>/events` from a base URL; only `http` and `https` with a host are accepted.
pub(crate) fn endpoint(url: &str) -> anyhow::Result<String> {
    let url = url.trim();
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| anyhow::anyhow!("url: `{url}`: must start with http:// or https://"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        anyhow::bail!("url: `{url}`: no host");
    }
    if rest.contains(['?', '#']) || url.chars().any(char::is_whitespace) {
        anyhow::bail!("url: `{url}`: give the server's base URL, without query or fragment");
    }
    let base = url.trim_end_matches('/');
    if base.ends_with("/events") {
        Ok(base.to_owned())
    } else {
        Ok(format!("{base}/events"))
    }
}

impl crate::config::check::Describe for EventServerConfig {
    fn describe(&self, details: &mut Vec<String>) -> String {
        details.push(format!("spool {}", self.spooled.spool_dir()));
        let mode = match self.own.routing_key_mode {
            RoutingKeyMode::FromMessage => "FROM_MESSAGE",
            RoutingKeyMode::Static => "STATIC",
            RoutingKeyMode::StaticIfMissing => "STATIC_IF_MISSING",
        };
        if self.own.routing_key_mode != RoutingKeyMode::FromMessage
            || self.own.routing_key.is_some()
        {
            let key = self.own.routing_key.as_deref().unwrap_or_default();
            details.push(format!("routing key {mode} {key}").trim_end().to_owned());
        }
        self.own.url.clone()
    }
}

impl EventServerConfig {
    /// Checks every option without opening the spool, reading the key or the CA file, or
    /// touching the network (what `check-config` runs).
    pub fn validate(&self) -> anyhow::Result<()> {
        self.check().map(drop)
    }

    pub(crate) fn check(&self) -> anyhow::Result<ValidEventServerConfig> {
        let endpoint = endpoint(&self.own.url)?;
        let tls = match (&self.own.ca_file, self.own.trust_all_certificates) {
            (Some(_), true) => {
                anyhow::bail!("ca_file: give either ca_file or trust_all_certificates, not both")
            }
            (Some(f), false) if f.trim().is_empty() => anyhow::bail!("ca_file: empty path"),
            (Some(f), false) => TlsChoice::CaFile(PathBuf::from(crate::config::expand_env(f))),
            (None, true) => TlsChoice::TrustAll,
            (None, false) => TlsChoice::Default,
        };
        if let Secret::Inline(k) = &self.own.auth_key {
            if k.trim().is_empty() {
                anyhow::bail!("auth_key: empty");
            }
        }
        let key = match &self.own.routing_key {
            Some(k) => {
                Some(RoutingKey::new(k.trim()).map_err(|e| anyhow::anyhow!("routing_key: {e}"))?)
            }
            None => None,
        };
        if key.is_none() && self.own.routing_key_mode != RoutingKeyMode::FromMessage {
            anyhow::bail!(
                "routing_key: required with routing_key_mode STATIC or STATIC_IF_MISSING"
            );
        }
        let batch_max_events = self
            .own
            .batch_max_events
            .unwrap_or(DEFAULT_BATCH_MAX_EVENTS);
        if batch_max_events == 0 {
            anyhow::bail!("batch_max_events: must be greater than 0");
        }
        let batch_max_bytes = self
            .own
            .batch_max_bytes
            .map_or(DEFAULT_BATCH_MAX_BYTES, |b| b.0);
        if batch_max_bytes == 0 {
            anyhow::bail!("batch_max_bytes: must be greater than 0");
        }
        let batch_max_bytes = usize::try_from(batch_max_bytes)
            .map_err(|_| anyhow::anyhow!("batch_max_bytes: too large"))?;
        let linger = duration("linger", &self.own.linger, DEFAULT_LINGER)?;
        let delivery = self.spooled.check(self.own.when_full.0)?;
        let retry_min = positive(
            "retry_min",
            duration("retry_min", &self.own.retry_min, DEFAULT_RETRY_MIN)?,
        )?;
        let retry_max = delivery.retry_max;
        if retry_max < retry_min {
            anyhow::bail!(
                "retry_max: {} is less than retry_min {}",
                humantime::format_duration(retry_max),
                humantime::format_duration(retry_min)
            );
        }
        let request_timeout = positive(
            "request_timeout",
            duration(
                "request_timeout",
                &self.own.request_timeout,
                DEFAULT_REQUEST_TIMEOUT,
            )?,
        )?;
        let connect_timeout = positive(
            "connect_timeout",
            duration(
                "connect_timeout",
                &self.own.connect_timeout,
                DEFAULT_CONNECT_TIMEOUT,
            )?,
        )?;
        let flush_timeout = delivery.flush_timeout;
        Ok(ValidEventServerConfig {
            endpoint,
            auth_key: self.own.auth_key.clone(),
            tls,
            routing: Routing {
                mode: self.own.routing_key_mode,
                key,
            },
            batch_max_events,
            batch_max_bytes,
            linger,
            spool: delivery.spool,
            retry_min,
            retry_max,
            gzip: self.own.gzip,
            request_timeout,
            connect_timeout,
            flush_timeout,
        })
    }

    /// Builds the appender: reads the key and the CA file, opens (or joins) the spool and
    /// starts its sender.
    pub fn build(&self) -> anyhow::Result<super::EventServerAppender> {
        let checked = self.check()?;
        let key = checked
            .auth_key
            .resolve()
            .map_err(|e| anyhow::anyhow!("auth_key: {e}"))?;
        let agent = http::agent(
            &checked.tls,
            checked.connect_timeout,
            checked.request_timeout,
        )?;
        let settings = super::sender::Settings {
            endpoint: checked.endpoint.clone(),
            auth_header: format!("Bearer {key}"),
            agent,
            gzip: checked.gzip,
            batch_max_events: checked.batch_max_events,
            batch_max_bytes: checked.batch_max_bytes,
            linger: checked.linger,
            retry_min: checked.retry_min,
            retry_max: checked.retry_max,
            flush_timeout: checked.flush_timeout,
        };
        super::EventServerAppender::start(checked, settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spool::Fsync;
    use crate::spool::WhenFull;

    const BASE: &str = "url: http://127.0.0.1:11004\nauth_key: k\nspool_dir: /tmp/spool\n";

    fn parse(extra: &str) -> anyhow::Result<ValidEventServerConfig> {
        let cfg: EventServerConfig = serde_yaml::from_str(&format!("{BASE}{extra}"))?;
        cfg.check()
    }

    fn err(extra: &str) -> String {
        format!("{:#}", parse(extra).unwrap_err())
    }

    #[test]
    fn defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.endpoint, "http://127.0.0.1:11004/events");
        assert_eq!(c.tls, TlsChoice::Default);
        assert_eq!(c.routing.mode, RoutingKeyMode::FromMessage);
        assert_eq!(c.routing.key, None);
        assert_eq!(c.batch_max_events, 1000);
        assert_eq!(c.batch_max_bytes, 1 << 20);
        assert_eq!(c.linger, Duration::from_millis(5));
        assert_eq!(c.spool.dir, PathBuf::from("/tmp/spool"));
        assert_eq!(c.spool.max_bytes, 1 << 30);
        assert_eq!(c.spool.fsync, Fsync::Batch);
        assert_eq!(c.spool.when_full, WhenFull::Block);
        assert_eq!(c.retry_min, Duration::from_millis(100));
        assert_eq!(c.retry_max, Duration::from_secs(30));
        assert!(!c.gzip);
        assert_eq!(c.request_timeout, Duration::from_secs(30));
        assert_eq!(c.connect_timeout, Duration::from_secs(5));
        assert_eq!(c.flush_timeout, Duration::from_secs(10));
    }

    #[test]
    fn every_option() {
        std::env::set_var("L4A_ES_CFG_DIR", "/data");
        let c = parse(
            "trust_all_certificates: true\nrouting_key_mode: STATIC\nrouting_key: svc-1\n\
             batch_max_events: 10\nbatch_max_bytes: 64 KB\nlinger: 20ms\nspool_max_bytes: 1MB\n\
             spool_fsync: none\nwhen_full: error\nretry_min: 1s\nretry_max: 2m\ngzip: true\n\
             request_timeout: 3s\nconnect_timeout: 1s\nflush_timeout: 0s\n",
        )
        .unwrap();
        assert_eq!(c.tls, TlsChoice::TrustAll);
        assert_eq!(c.routing.mode, RoutingKeyMode::Static);
        assert_eq!(c.routing.key.as_ref().map(|k| k.as_str()), Some("svc-1"));
        assert_eq!((c.batch_max_events, c.batch_max_bytes), (10, 64 << 10));
        assert_eq!(c.linger, Duration::from_millis(20));
        assert_eq!(c.spool.max_bytes, 1 << 20);
        assert_eq!(c.spool.fsync, Fsync::None);
        assert_eq!(c.spool.when_full, WhenFull::Error);
        assert_eq!(
            (c.retry_min, c.retry_max),
            (Duration::from_secs(1), Duration::from_secs(120))
        );
        assert!(c.gzip);
        assert_eq!(c.request_timeout, Duration::from_secs(3));
        assert_eq!(c.connect_timeout, Duration::from_secs(1));
        assert_eq!(c.flush_timeout, Duration::ZERO);
        let c = parse("ca_file: $ENV{L4A_ES_CFG_DIR}/ca.pem\nrouting_key_mode: STATIC_IF_MISSING\nrouting_key: a").unwrap();
        assert_eq!(c.tls, TlsChoice::CaFile(PathBuf::from("/data/ca.pem")));
        assert_eq!(c.routing.mode, RoutingKeyMode::StaticIfMissing);
        let cfg: EventServerConfig = serde_yaml::from_str(
            "url: https://h/events/\nauth_key: { env: X }\nspool_dir: $ENV{L4A_ES_CFG_DIR}/s",
        )
        .unwrap();
        let c = cfg.check().unwrap();
        assert_eq!(c.endpoint, "https://h/events");
        assert_eq!(c.spool.dir, PathBuf::from("/data/s"));
    }

    #[test]
    fn bad_values_name_the_option() {
        let cases = [
            ("linger: soon", "linger: `soon`"),
            ("retry_min: 0s", "retry_min: must be greater than 0"),
            (
                "retry_min: 1m\nretry_max: 1s",
                "retry_max: 1s is less than retry_min 1m",
            ),
            ("request_timeout: x", "request_timeout: `x`"),
            (
                "connect_timeout: 0s",
                "connect_timeout: must be greater than 0",
            ),
            ("flush_timeout: -1s", "flush_timeout: `-1s`"),
            (
                "batch_max_events: 0",
                "batch_max_events: must be greater than 0",
            ),
            (
                "batch_max_bytes: 0",
                "batch_max_bytes: must be greater than 0",
            ),
            (
                "spool_max_bytes: 0",
                "spool_max_bytes: must be greater than 0",
            ),
            ("routing_key_mode: STATIC", "routing_key: required"),
            (
                "routing_key: ../x",
                "routing_key: invalid routing key `../x`",
            ),
            (
                "ca_file: a.pem\ntrust_all_certificates: true",
                "ca_file: give either",
            ),
        ];
        for (extra, want) in cases {
            let e = err(extra);
            assert!(e.starts_with(want), "{extra}: {e}");
        }
        for (url, want) in [
            ("ftp://h", "must start with http:// or https://"),
            ("http://", "no host"),
            ("http://:80", "no host"),
            ("http://h/?a=1", "without query"),
        ] {
            let cfg: EventServerConfig =
                serde_yaml::from_str(&format!("url: '{url}'\nauth_key: k\nspool_dir: /tmp/s"))
                    .unwrap();
            let e = cfg.check().unwrap_err().to_string();
            assert!(e.starts_with("url: ") && e.contains(want), "{url}: {e}");
        }
    }

    #[test]
    fn serde_errors_name_the_option() {
        let e = |yaml: &str| {
            serde_yaml::from_str::<EventServerConfig>(yaml)
                .unwrap_err()
                .to_string()
        };
        assert!(e(&format!("{BASE}gzpi: true")).contains("unknown field `gzpi`"));
        assert!(e("auth_key: k\nspool_dir: /s").contains("missing field `url`"));
        assert!(e("url: http://h\nspool_dir: /s").contains("missing field `auth_key`"));
        assert!(e("url: http://h\nauth_key: k").contains("missing field `spool_dir`"));
        assert!(e(&format!("{BASE}routing_key_mode: SOMETIMES"))
            .contains("unknown variant `SOMETIMES`"));
        assert!(e(&format!("{BASE}spool_fsync: always")).contains("unknown variant `always`"));
        assert!(e(&format!("{BASE}when_full: drop")).contains("unknown variant `drop`"));
        assert!(e(&format!("{BASE}batch_max_bytes: lots")).contains("invalid size `lots`"));
        assert!(e(&format!("{BASE}gzip: sometimes")).contains("gzip"));
    }

    #[test]
    fn endpoints() {
        assert_eq!(endpoint("http://h:1").unwrap(), "http://h:1/events");
        assert_eq!(endpoint("http://h:1/").unwrap(), "http://h:1/events");
        assert_eq!(
            endpoint("http://h:1/audit").unwrap(),
            "http://h:1/audit/events"
        );
        assert_eq!(endpoint("https://h/events").unwrap(), "https://h/events");
    }
}
