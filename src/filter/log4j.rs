//! log4j 1.2's filters as log4rs filter kinds, so `.properties` files keep their meaning.
//!
//! log4j's ACCEPT / NEUTRAL / DENY are log4rs's Accept / Neutral / Reject; the chain is walked
//! the same way (first decision wins).

use log::{Level, LevelFilter, Record};
use log4rs::config::{Deserialize, Deserializers};
use log4rs::filter::{Filter, Response};
use serde::Deserialize as SerdeDeserialize;

fn decision(accept: bool) -> Response {
    if accept {
        Response::Accept
    } else {
        Response::Reject
    }
}

/// `LevelRangeFilter`: outside `[level_min, level_max]` → deny; inside → accept if
/// `accept_on_match`, else neutral. A missing bound is open.
#[derive(Clone, Debug, SerdeDeserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelRangeFilter {
    /// Least severe level accepted (log4j `LevelMin`).
    #[serde(default)]
    pub level_min: Option<LevelFilter>,
    /// Most severe level accepted (log4j `LevelMax`).
    #[serde(default)]
    pub level_max: Option<LevelFilter>,
    /// log4j default: false.
    #[serde(default)]
    pub accept_on_match: bool,
}

impl Filter for LevelRangeFilter {
    fn filter(&self, record: &Record) -> Response {
        let level = record.level();
        // log crate order: Error < Warn < Info < Debug < Trace (more verbose is greater).
        if self.level_min.is_some_and(|min| level > min) {
            return Response::Reject;
        }
        if self
            .level_max
            .and_then(|max| max.to_level())
            .is_some_and(|max| level < max)
        {
            return Response::Reject;
        }
        if self.accept_on_match {
            Response::Accept
        } else {
            Response::Neutral
        }
    }
}

/// `LevelMatchFilter`: a record of exactly `level_to_match` → accept (or deny when
/// `accept_on_match` is false); any other → neutral.
#[derive(Clone, Debug, SerdeDeserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelMatchFilter {
    /// The level to match.
    pub level_to_match: Level,
    /// log4j default: true.
    #[serde(default = "yes")]
    pub accept_on_match: bool,
}

fn yes() -> bool {
    true
}

impl Filter for LevelMatchFilter {
    fn filter(&self, record: &Record) -> Response {
        if record.level() == self.level_to_match {
            decision(self.accept_on_match)
        } else {
            Response::Neutral
        }
    }
}

/// `StringMatchFilter`: a message containing `string_to_match` → accept (or deny when
/// `accept_on_match` is false); otherwise, or with no string, neutral.
#[derive(Clone, Debug, SerdeDeserialize)]
#[serde(deny_unknown_fields)]
pub struct StringMatchFilter {
    /// The text to look for in the rendered message.
    #[serde(default)]
    pub string_to_match: Option<String>,
    /// log4j default: true.
    #[serde(default = "yes")]
    pub accept_on_match: bool,
}

impl Filter for StringMatchFilter {
    fn filter(&self, record: &Record) -> Response {
        let Some(needle) = self.string_to_match.as_deref() else {
            return Response::Neutral;
        };
        let matched = match record.args().as_str() {
            Some(s) => s.contains(needle),
            None => record.args().to_string().contains(needle),
        };
        if matched {
            decision(self.accept_on_match)
        } else {
            Response::Neutral
        }
    }
}

/// `DenyAllFilter`: denies everything (ends a chain of accepting filters).
#[derive(Clone, Copy, Debug, Default, SerdeDeserialize)]
#[serde(deny_unknown_fields)]
pub struct DenyAllFilter {}

impl Filter for DenyAllFilter {
    fn filter(&self, _: &Record) -> Response {
        Response::Reject
    }
}

/// Registers one of the filters above under a kind name.
#[derive(Clone, Copy, Debug, Default)]
pub struct Log4jFilterDeserializer<T>(std::marker::PhantomData<fn() -> T>);

impl<T> Log4jFilterDeserializer<T> {
    /// The deserializer of filter `T`.
    pub fn new() -> Self {
        Log4jFilterDeserializer(std::marker::PhantomData)
    }
}

impl<T> Deserialize for Log4jFilterDeserializer<T>
where
    T: Filter + serde::de::DeserializeOwned + 'static,
{
    type Trait = dyn Filter;
    type Config = T;

    fn deserialize(&self, config: T, _: &Deserializers) -> anyhow::Result<Box<dyn Filter>> {
        Ok(Box::new(config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(level: Level, msg: &str, f: &dyn Filter) -> Response {
        f.filter(
            &Record::builder()
                .level(level)
                .args(format_args!("{msg}"))
                .build(),
        )
    }

    #[test]
    fn level_range_like_log4j() {
        let f = LevelRangeFilter {
            level_min: Some(LevelFilter::Info),
            level_max: Some(LevelFilter::Warn),
            accept_on_match: false,
        };
        assert_eq!(at(Level::Debug, "", &f), Response::Reject);
        assert_eq!(at(Level::Info, "", &f), Response::Neutral);
        assert_eq!(at(Level::Warn, "", &f), Response::Neutral);
        assert_eq!(at(Level::Error, "", &f), Response::Reject);
        let f = LevelRangeFilter {
            accept_on_match: true,
            level_max: None,
            ..f
        };
        assert_eq!(at(Level::Error, "", &f), Response::Accept);
    }

    #[test]
    fn level_and_string_match_and_deny_all() {
        let f = LevelMatchFilter {
            level_to_match: Level::Warn,
            accept_on_match: false,
        };
        assert_eq!(at(Level::Warn, "", &f), Response::Reject);
        assert_eq!(at(Level::Info, "", &f), Response::Neutral);
        let f = StringMatchFilter {
            string_to_match: Some("secret".into()),
            accept_on_match: true,
        };
        assert_eq!(at(Level::Info, "the secret is", &f), Response::Accept);
        assert_eq!(at(Level::Info, "nothing", &f), Response::Neutral);
        assert_eq!(at(Level::Info, "x", &DenyAllFilter {}), Response::Reject);
    }
}
