//! The choices every delivery path shares, declared once: what a full queue (`async`) or spool
//! (`event_server`, `kafka`, `syslog`) does with the next event, and when written data is
//! forced to the disk. Each kind takes the values that
//! make sense for it and names the others in its error.

use std::fmt;

/// Whether written data is also forced to the disk: the `fsync` of `audit_file` (default `none`)
/// and the `spool_fsync` of the spooled targets (default `batch`).
///
/// The `Default` is `None`, `audit_file`'s; spools set `Batch` themselves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fsync {
    /// Left to the OS: survives a process crash, not a power loss.
    #[default]
    None,
    /// `fdatasync` after every batch written, before the logging call returns: survives a
    /// power loss.
    Batch,
}

/// What the logging call does while the queue or spool in front of a target is full.
///
/// ```
/// use log4rs_audit::append::WhenFull;
///
/// assert_eq!(WhenFull::default(), WhenFull::Block);
/// assert_eq!(WhenFull::Drop.to_string(), "drop");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WhenFull {
    /// Wait until delivery frees room (the default: an audit trail must not drop events).
    #[default]
    Block,
    /// Fail the call at once (reported through the logger's error handler); spooled targets.
    Error,
    /// Drop the event and count it; the drops are reported as a warning event and by shutdown
    /// (`async` only).
    Drop,
}

impl WhenFull {
    const ALL: [WhenFull; 3] = [WhenFull::Block, WhenFull::Error, WhenFull::Drop];

    /// The option's word.
    pub fn name(self) -> &'static str {
        match self {
            WhenFull::Block => "block",
            WhenFull::Error => "error",
            WhenFull::Drop => "drop",
        }
    }

    /// `when_full` as written (`None`: block) for a kind that takes `allowed`; the error names
    /// the option and what it takes.
    pub(crate) fn parse(text: Option<&str>, allowed: &[WhenFull]) -> anyhow::Result<WhenFull> {
        let Some(text) = text else {
            return Ok(WhenFull::Block);
        };
        match WhenFull::ALL.into_iter().find(|w| w.name() == text) {
            Some(w) if allowed.contains(&w) => Ok(w),
            _ => {
                // Worded as serde words its other enums' errors.
                let names: Vec<_> = allowed.iter().map(|w| format!("`{}`", w.name())).collect();
                anyhow::bail!(
                    "when_full: unknown variant `{text}`, expected {}",
                    names.join(" or ")
                )
            }
        }
    }
}

/// `when_full` of a spooled kind (`block` or `error`), checked as it is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SpooledWhenFull(pub(crate) WhenFull);

impl<'de> serde::Deserialize<'de> for SpooledWhenFull {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(d)?;
        WhenFull::parse(Some(&text), &[WhenFull::Block, WhenFull::Error])
            .map(SpooledWhenFull)
            .map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for WhenFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_takes_its_values_and_names_them() {
        let spooled = [WhenFull::Block, WhenFull::Error];
        assert_eq!(WhenFull::parse(None, &spooled).unwrap(), WhenFull::Block);
        assert_eq!(
            WhenFull::parse(Some("error"), &spooled).unwrap(),
            WhenFull::Error
        );
        let e = WhenFull::parse(Some("drop"), &spooled)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "when_full: unknown variant `drop`, expected `block` or `error`"
        );
        let queued = [WhenFull::Block, WhenFull::Drop];
        assert_eq!(
            WhenFull::parse(Some("drop"), &queued).unwrap(),
            WhenFull::Drop
        );
        let e = WhenFull::parse(Some("Block"), &queued)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "when_full: unknown variant `Block`, expected `block` or `drop`"
        );
    }
}
