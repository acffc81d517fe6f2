//! Durations as ops write them in appender options: humantime (`5ms`, `30s`, `2m`).

use std::time::Duration;

/// The option `name`: `default` when absent; an error naming the option and the text when it
/// cannot be read.
pub(crate) fn parse_option(
    name: &str,
    text: &Option<String>,
    default: Duration,
) -> anyhow::Result<Duration> {
    match text {
        None => Ok(default),
        Some(t) => parse(t).map_err(|e| anyhow::anyhow!("{name}: `{t}`: {e}")),
    }
}

/// One duration as written (`5ms`, `30s`, `2m`), surrounding blanks ignored.
pub(crate) fn parse(text: &str) -> Result<Duration, humantime::DurationError> {
    humantime::parse_duration(text.trim())
}
