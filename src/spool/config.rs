//! The spool options of a spooled appender (`event_server`, `kafka`, `syslog`) as its YAML
//! writes them: `spool_dir`, `spool_max_bytes`, `spool_fsync` and (`event_server` only)
//! `when_full`, checked the same way for every kind.

use crate::config::size::ByteSize;
use crate::spool::{Fsync, SpoolOptions, WhenFull};

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

/// [`options`] for the kinds whose `spool_fsync` is text (`batch`, the default, or `none`) and
/// whose full spool always blocks the logging call (`kafka`, `syslog`).
pub(crate) fn blocking_options(
    spool_dir: &str,
    max_bytes: Option<ByteSize>,
    fsync_text: Option<&str>,
) -> anyhow::Result<SpoolOptions> {
    options(spool_dir, max_bytes, fsync(fsync_text)?, WhenFull::Block)
}

fn fsync(text: Option<&str>) -> anyhow::Result<Fsync> {
    match text {
        None | Some("batch") => Ok(Fsync::Batch),
        Some("none") => Ok(Fsync::None),
        Some(other) => anyhow::bail!("spool_fsync: `{other}`: expected batch or none"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_checks() {
        let o = blocking_options("/tmp/s", None, None).unwrap();
        assert_eq!(o.dir, std::path::PathBuf::from("/tmp/s"));
        assert_eq!(
            (o.max_bytes, o.fsync, o.when_full),
            (1 << 30, Fsync::Batch, WhenFull::Block)
        );
        let o = blocking_options("/s", Some(ByteSize(1 << 20)), Some("none")).unwrap();
        assert_eq!((o.max_bytes, o.fsync), (1 << 20, Fsync::None));
        let o = options("/s", None, Fsync::Batch, WhenFull::Error).unwrap();
        assert_eq!(o.when_full, WhenFull::Error);

        let e = |r: anyhow::Result<SpoolOptions>| r.unwrap_err().to_string();
        assert_eq!(
            e(blocking_options(" ", None, None)),
            "spool_dir: empty path"
        );
        assert_eq!(
            e(blocking_options("/s", Some(ByteSize(0)), None)),
            "spool_max_bytes: must be greater than 0"
        );
        assert_eq!(
            e(blocking_options("/s", None, Some("always"))),
            "spool_fsync: `always`: expected batch or none"
        );
    }
}
