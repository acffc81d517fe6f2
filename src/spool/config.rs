//! The delivery options every spooled appender (`event_server`, `kafka`, `syslog`) takes beside
//! its own, declared once: [`SpooledConfig`] (`spool_dir`, `spool_max_bytes`, `spool_fsync`,
//! `file_mode`, `retry_max`, `flush_timeout`), checked the same way for every kind. The YAML
//! stays flat: [`split`] takes these names out of a kind's options before the kind reads the
//! rest (see [`crate::config::flat`]).

use std::time::Duration;

use serde::Deserialize;

use crate::config::duration::parse_option as duration;
use crate::config::size::ByteSize;
use crate::spool::{Fsync, SpoolOptions, WhenFull};

/// Default `retry_max`: the longest wait between two delivery attempts.
pub const DEFAULT_RETRY_MAX: Duration = Duration::from_secs(30);
/// Default `flush_timeout`: how long `flush()` and shutdown wait for delivery.
pub const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// The options every spooled appender takes, as its YAML writes them (among its own).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpooledConfig {
    /// The spool's folder (`$ENV{…}` expanded); appenders sharing it share one spool.
    #[serde(deserialize_with = "named::spool_dir")]
    pub(crate) spool_dir: String,
    /// Default 1 GiB; a full spool blocks (or, `event_server`'s `when_full: error`, fails) the
    /// logging call.
    #[serde(default, deserialize_with = "named::spool_max_bytes")]
    spool_max_bytes: Option<ByteSize>,
    /// `batch` (default) or `none`.
    #[serde(default, deserialize_with = "named::spool_fsync")]
    spool_fsync: Option<Fsync>,
    /// Mode of the spool's folder and files, the dead letters too (see [`crate::FileMode`]).
    #[serde(default, deserialize_with = "named::file_mode")]
    file_mode: Option<crate::FileMode>,
    /// The longest wait between two attempts (default 30s).
    #[serde(default, deserialize_with = "named::retry_max")]
    retry_max: Option<String>,
    /// How long `flush()` and shutdown wait for delivery (default 10s).
    #[serde(default, deserialize_with = "named::flush_timeout")]
    flush_timeout: Option<String>,
}

crate::config::named_fields!(
    spool_dir: String,
    spool_max_bytes: Option<ByteSize>,
    spool_fsync: Option<Fsync>,
    file_mode: Option<crate::FileMode>,
    retry_max: Option<String>,
    flush_timeout: Option<String>,
);

/// The names [`SpooledConfig`] takes, as [`split`] looks for them.
const SPOOLED_OPTIONS: [&str; 6] = [
    "spool_dir",
    "spool_max_bytes",
    "spool_fsync",
    "file_mode",
    "retry_max",
    "flush_timeout",
];

/// [`SpooledConfig`] checked.
#[derive(Clone, Debug)]
pub(crate) struct SpooledDelivery {
    pub spool: SpoolOptions,
    pub retry_max: Duration,
    pub flush_timeout: Duration,
}

impl SpooledConfig {
    /// Checks the options, a full spool doing `when_full`; nothing is opened.
    pub(crate) fn check(&self, when_full: WhenFull) -> anyhow::Result<SpooledDelivery> {
        let fsync = self.spool_fsync.unwrap_or(Fsync::Batch);
        let mut spool = options(&self.spool_dir, self.spool_max_bytes, fsync, when_full)?;
        spool.file_mode = self.file_mode.unwrap_or_default();
        Ok(SpooledDelivery {
            spool,
            retry_max: duration("retry_max", &self.retry_max, DEFAULT_RETRY_MAX)?,
            flush_timeout: duration("flush_timeout", &self.flush_timeout, DEFAULT_FLUSH_TIMEOUT)?,
        })
    }

    /// The spool folder as written (`$ENV{…}` expanded).
    pub(crate) fn spool_dir(&self) -> String {
        crate::config::expand_env(&self.spool_dir)
    }
}

impl crate::config::flat::SharedOptions for SpooledConfig {
    const NAMES: &'static [&'static str] = &SPOOLED_OPTIONS;
}

/// The spool options from the appender's fields: `spool_dir` with `$ENV{…}` expanded (must not
/// be empty), `spool_max_bytes` (default 1 GiB, more than 0), `fsync` and `when_full`.
pub(crate) fn options(
    spool_dir: &str,
    max_bytes: Option<ByteSize>,
    fsync: Fsync,
    when_full: WhenFull,
) -> anyhow::Result<SpoolOptions> {
    let dir = crate::config::expand_env(spool_dir);
    if dir.trim().is_empty() {
        anyhow::bail!("spool_dir: empty path");
    }
    let mut spool = SpoolOptions::new(dir);
    if let Some(max) = max_bytes {
        // A spool of 0 bytes is always full: every logging call would wait forever.
        if max.0 == 0 {
            anyhow::bail!("spool_max_bytes: must be greater than 0");
        }
        spool.max_bytes = max.0;
    }
    spool.fsync = fsync;
    spool.when_full = when_full;
    Ok(spool)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_checks() {
        let spooled = |yaml: &str| -> anyhow::Result<SpoolOptions> {
            let c: SpooledConfig = serde_yaml::from_str(yaml)?;
            Ok(c.check(WhenFull::Block)?.spool)
        };
        let o = spooled("spool_dir: /tmp/s").unwrap();
        assert_eq!(o.dir, std::path::PathBuf::from("/tmp/s"));
        assert_eq!(
            (o.max_bytes, o.fsync, o.when_full),
            (1 << 30, Fsync::Batch, WhenFull::Block)
        );
        let o = spooled("{ spool_dir: /s, spool_max_bytes: 1MB, spool_fsync: none }").unwrap();
        assert_eq!((o.max_bytes, o.fsync), (1 << 20, Fsync::None));
        let o = options("/s", None, Fsync::Batch, WhenFull::Error).unwrap();
        assert_eq!(o.when_full, WhenFull::Error);

        let e = |r: anyhow::Result<SpoolOptions>| r.unwrap_err().to_string();
        assert_eq!(e(spooled("spool_dir: ' '")), "spool_dir: empty path");
        assert_eq!(
            e(spooled("{ spool_dir: /s, spool_max_bytes: 0 }")),
            "spool_max_bytes: must be greater than 0"
        );
        let fsync = e(spooled("{ spool_dir: /s, spool_fsync: always }"));
        assert!(
            fsync.starts_with("spool_fsync: unknown variant `always`"),
            "{fsync}"
        );
    }

    #[test]
    fn split_takes_the_spooled_names_and_leaves_the_rest() {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Own {
            url: String,
        }
        #[derive(Debug)]
        struct Both(Own, SpooledConfig);
        impl<'de> Deserialize<'de> for Both {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                crate::config::flat::split(d).map(|(own, spooled)| Both(own, spooled))
            }
        }
        let both: Both = serde_yaml::from_str("{ url: u, spool_dir: /s, retry_max: 1s }").unwrap();
        assert_eq!(both.0.url, "u");
        let d = both.1.check(WhenFull::Block).unwrap();
        assert_eq!(d.retry_max, Duration::from_secs(1));
        assert_eq!(d.flush_timeout, DEFAULT_FLUSH_TIMEOUT);
        let e = serde_yaml::from_str::<Both>("{ url: u, spool_dri: /s }").unwrap_err();
        assert!(e.to_string().contains("unknown field `spool_dri`"), "{e}");
        let e = serde_yaml::from_str::<Both>("{ url: u }").unwrap_err();
        assert!(e.to_string().contains("missing field `spool_dir`"), "{e}");
        let e =
            serde_yaml::from_str::<Both>("{ url: u, spool_dir: /s, retry_max: [1] }").unwrap_err();
        assert!(e.to_string().contains("retry_max: "), "{e}");
    }
}
