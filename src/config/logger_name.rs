//! Logger names as a config writes them: `dku.audit` and `dku::audit` name the same logger.
//! The config model checks names with this when it reads a file, and the logger's hierarchy
//! keys its loggers by the result.

/// A logger name that names no logger, with why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidLoggerName(String);

/// The canonical form of a logger name: segments joined by `.`. Empty segments are an error.
///
/// ```
/// use log4rs_audit::config::normalize_name;
///
/// assert_eq!(normalize_name("dku::audit").unwrap(), "dku.audit");
/// assert_eq!(
///     normalize_name("dku..audit").unwrap_err().to_string(),
///     "invalid logger name `dku..audit` (empty segment)"
/// );
/// ```
pub fn normalize_name(name: &str) -> Result<String, InvalidLoggerName> {
    let normalized = name.replace("::", ".");
    if normalized.is_empty() || normalized.split('.').any(str::is_empty) {
        return Err(InvalidLoggerName(format!(
            "invalid logger name `{name}` (empty segment)"
        )));
    }
    if name.contains(":::") {
        return Err(InvalidLoggerName(format!(
            "invalid logger name `{name}` (segments are separated by `.` or `::`)"
        )));
    }
    Ok(normalized)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        assert_eq!(normalize_name("dku::audit").unwrap(), "dku.audit");
        // A single `:` is part of a segment (log4j names such as `osgi:*`).
        assert_eq!(normalize_name("osgi:*").unwrap(), "osgi:*");
        for bad in ["", ".", "a..b", "a.", "::a", "a:::b"] {
            assert!(normalize_name(bad).is_err(), "{bad}");
        }
    }
}
