//! log4j's logger hierarchy over names separated by `.` or `::`.
//!
//! `dku.audit` is the parent of `dku.audit.generic` and of `dku::audit::generic` alike. A
//! record goes to the appenders of its nearest configured logger and of each ancestor up to the
//! first non-additive one (then the root's, if every logger on the way was additive); its level
//! is the nearest configured level.

use std::collections::HashMap;

use log::LevelFilter;

/// Normalizes a record target without validation (targets are whatever the caller wrote).
fn normalize_target(target: &str) -> std::borrow::Cow<'_, str> {
    if target.contains("::") {
        target.replace("::", ".").into()
    } else {
        target.into()
    }
}

/// One configured logger.
#[derive(Clone, Debug)]
pub struct Node {
    /// Its own level; `None` inherits.
    pub level: Option<LevelFilter>,
    /// Indices of its appenders.
    pub appenders: Vec<usize>,
    /// Whether the parent's appenders also get its events.
    pub additive: bool,
}

/// Where one target's records go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggerRoute {
    /// The effective level.
    pub level: LevelFilter,
    /// Appender indices, each once, nearest logger's first.
    pub appenders: Vec<usize>,
}

/// The configured loggers by normalized name, and the root.
#[derive(Clone, Debug)]
pub struct Hierarchy {
    loggers: HashMap<String, Node>,
    root: Node,
}

impl Hierarchy {
    /// A hierarchy of `loggers` (normalized names) under `root`.
    pub fn new(loggers: HashMap<String, Node>, root: Node) -> Hierarchy {
        Hierarchy { loggers, root }
    }

    /// The most verbose level any logger enables (what `log::set_max_level` should allow).
    pub fn max_level(&self) -> LevelFilter {
        self.loggers
            .values()
            .filter_map(|n| n.level)
            .chain(self.root.level)
            .max()
            .unwrap_or(LevelFilter::Off)
    }

    /// Resolves a record target.
    pub fn route(&self, target: &str) -> LoggerRoute {
        let target = normalize_target(target);
        let mut level = None;
        let mut appenders: Vec<usize> = Vec::new();
        let mut reached_root = true;
        let mut name: &str = &target;
        loop {
            if let Some(node) = self.loggers.get(name) {
                level = level.or(node.level);
                push_unique(&mut appenders, &node.appenders);
                if !node.additive {
                    reached_root = false;
                    break;
                }
            }
            match name.rfind('.') {
                Some(i) => name = &name[..i],
                None => break,
            }
        }
        if reached_root {
            push_unique(&mut appenders, &self.root.appenders);
        }
        if level.is_none() && !reached_root {
            // A non-additive logger without a level still inherits from above it.
            level = self.inherited_level(name);
        }
        LoggerRoute {
            level: level.or(self.root.level).unwrap_or(LevelFilter::Off),
            appenders,
        }
    }

    /// The level of the nearest configured ancestor of `name` that has one.
    fn inherited_level(&self, mut name: &str) -> Option<LevelFilter> {
        while let Some(i) = name.rfind('.') {
            name = &name[..i];
            if let Some(level) = self.loggers.get(name).and_then(|n| n.level) {
                return Some(level);
            }
        }
        None
    }
}

fn push_unique(into: &mut Vec<usize>, from: &[usize]) {
    for a in from {
        if !into.contains(a) {
            into.push(*a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(level: Option<LevelFilter>, appenders: &[usize], additive: bool) -> Node {
        Node {
            level,
            appenders: appenders.to_vec(),
            additive,
        }
    }

    fn sample() -> Hierarchy {
        let loggers = HashMap::from([
            (
                "dku.audit".to_owned(),
                node(Some(LevelFilter::Info), &[1], false),
            ),
            ("dku.audit.authfail".to_owned(), node(None, &[2], true)),
            (
                "app.db".to_owned(),
                node(Some(LevelFilter::Debug), &[3, 0], true),
            ),
            ("quiet".to_owned(), node(None, &[4], false)),
        ]);
        Hierarchy::new(loggers, node(Some(LevelFilter::Warn), &[0], true))
    }

    #[test]
    fn dots_and_colons_are_one_hierarchy() {
        let h = sample();
        let r = LoggerRoute {
            level: LevelFilter::Info,
            appenders: vec![1],
        };
        assert_eq!(h.route("dku.audit.generic"), r);
        assert_eq!(h.route("dku::audit::generic"), r);
        assert_eq!(h.route("dku.audit"), r);
        // `dku.auditx` is not a child of `dku.audit`.
        assert_eq!(h.route("dku.auditx").appenders, vec![0]);
    }

    #[test]
    fn additivity_levels_and_dedup() {
        let h = sample();
        assert_eq!(
            h.route("dku.audit.authfail"),
            LoggerRoute {
                level: LevelFilter::Info,
                appenders: vec![2, 1]
            }
        );
        assert_eq!(
            h.route("app::db::pool"),
            LoggerRoute {
                level: LevelFilter::Debug,
                appenders: vec![3, 0]
            }
        );
        assert_eq!(
            h.route("other"),
            LoggerRoute {
                level: LevelFilter::Warn,
                appenders: vec![0]
            }
        );
        assert_eq!(
            h.route("quiet.x"),
            LoggerRoute {
                level: LevelFilter::Warn,
                appenders: vec![4]
            }
        );
        assert_eq!(h.max_level(), LevelFilter::Debug);
    }
}
