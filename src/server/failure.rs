//! Why a group commit failed, for the writer ([`super::store`]) and the destinations that can
//! make it fail: nothing of a failed group is stored (its lines are cut back), and each batch
//! of it is answered according to the failure.

use std::fmt;

/// Why a group commit failed; nothing of it is stored (its lines are cut back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupFailure {
    /// Writing or syncing a file or the journal failed (`500`).
    Storage(String),
    /// A destination did not confirm every event now (Kafka down, …): `503`, retry later.
    #[cfg_attr(not(feature = "kafka"), allow(dead_code))] // only a Kafka destination says so
    Unavailable(String),
    /// A destination can never take some events: their batches are refused naming the line
    /// (`400`), the other batches of the group get `503` and are sent again.
    #[cfg_attr(not(feature = "kafka"), allow(dead_code))] // only a Kafka destination says so
    Refused(Vec<Refusal>),
}

/// An event a destination can never take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Its batch: index in the group.
    pub job: usize,
    /// Its 1-based line in that batch.
    pub line: usize,
    /// Which destination and why.
    pub reason: String,
}

impl GroupFailure {
    /// Both failures: refusals win (they are final), then the first.
    pub fn and(self, other: GroupFailure) -> GroupFailure {
        match (self, other) {
            (GroupFailure::Refused(mut a), GroupFailure::Refused(b)) => {
                for r in b {
                    if a.iter().all(|x| x.job != r.job) {
                        a.push(r);
                    }
                }
                GroupFailure::Refused(a)
            }
            (a @ GroupFailure::Refused(_), _) => a,
            (_, b @ GroupFailure::Refused(_)) => b,
            (a, _) => a,
        }
    }
}

impl fmt::Display for GroupFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupFailure::Storage(reason) | GroupFailure::Unavailable(reason) => {
                f.write_str(reason)
            }
            GroupFailure::Refused(refusals) => {
                let mut sep = "";
                for r in refusals {
                    write!(f, "{sep}line {}: {}", r.line, r.reason)?;
                    sep = "; ";
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Refusals win over other failures, which keep the first.
    #[test]
    fn failures_combine() {
        let refused = |job, line| Refusal {
            job,
            line,
            reason: "too large".into(),
        };
        let f = GroupFailure::Refused(vec![refused(1, 3)]);
        let down = GroupFailure::Unavailable("down".into());
        assert_eq!(down.clone().and(f.clone()), f);
        assert_eq!(f.clone().and(down.clone()), f);
        assert_eq!(
            down.clone().and(GroupFailure::Unavailable("other".into())),
            down
        );
        let both = f.and(GroupFailure::Refused(vec![refused(1, 5), refused(2, 1)]));
        assert_eq!(
            both,
            GroupFailure::Refused(vec![refused(1, 3), refused(2, 1)])
        );
        assert_eq!(both.to_string(), "line 3: too large; line 1: too large");
    }
}
