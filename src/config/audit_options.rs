//! The `audit:` section of a config: options about the trail itself (`lock`, `heartbeat`).

use std::time::Duration;

use serde::Deserialize;

use super::duration;

/// The options about the audit trail itself: the YAML `audit:` section, the properties keys
/// `log4rs.audit.lock` and `log4rs.audit.heartbeat`.
///
/// ```yaml
/// audit:
///   lock: true        # a reload that lowers audit coverage is refused (and audited)
///   heartbeat: 60s    # audit-heartbeat to every audit target at this interval
/// ```
///
/// ```
/// let yaml = "audit: { lock: true, heartbeat: 60s }\n";
/// let config = log4rs_audit::AuditConfig::from_yaml(yaml, None)?;
/// assert!(config.audit.lock);
/// assert_eq!(config.audit.heartbeat, Some(std::time::Duration::from_secs(60)));
/// # Ok::<(), log4rs_audit::ConfigError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditOptions {
    /// Refuse a reload (file change, [`crate::Handle::reload`], [`crate::Handle::set_config`])
    /// that would lower audit coverage: remove a target that receives `dku.audit` events,
    /// narrow its topics or routing keys, raise the level of a `dku.audit` logger, turn a
    /// target's `integrity` off, make it a `null` target, turn the heartbeat off or slow it,
    /// or turn `lock` itself off. Adding targets is allowed. The refusal is written to the trail
    /// (`audit-config-change-refused`) and reported; the running config stays.
    pub lock: bool,
    /// Write `audit-heartbeat` to every audit target at this interval: a trail that stops
    /// beating while the process runs shows a gap.
    pub heartbeat: Option<Duration>,
}

/// The shortest heartbeat interval accepted: shorter would flood the trail.
pub const MIN_HEARTBEAT: Duration = Duration::from_millis(10);

/// The `audit:` section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAudit {
    #[serde(default)]
    lock: bool,
    #[serde(default)]
    heartbeat: Option<String>,
}

impl RawAudit {
    /// The options it gives, or why its `heartbeat` is refused.
    pub(crate) fn checked(&self) -> Result<AuditOptions, String> {
        Ok(AuditOptions {
            lock: self.lock,
            heartbeat: self.heartbeat.as_deref().map(heartbeat).transpose()?,
        })
    }
}

/// A heartbeat interval (`60s`, `500ms`, through the duration parser of every other option),
/// at least [`MIN_HEARTBEAT`]; the error is the message for the `heartbeat` key.
pub(crate) fn heartbeat(text: &str) -> Result<Duration, String> {
    let d = duration::parse(text).map_err(|e| format!("`{text}`: {e}"))?;
    if d < MIN_HEARTBEAT {
        return Err(format!(
            "`{text}`: shorter than {} would flood the trail",
            humantime::format_duration(MIN_HEARTBEAT)
        ));
    }
    Ok(d)
}
