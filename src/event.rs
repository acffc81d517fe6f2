//! Audit topics and the [`audit!`](crate::audit) macro.
//!
//! An audit event is an ordinary `log` record: its target is `dku.audit.<topic>` and its key-values
//! are the event's fields. Nothing here is special to this crate's logger, so any `log`
//! implementation sees audit events, and a plain `log::info!` with the same target and keys is
//! the same event.

use std::fmt;
use std::str::FromStr;

/// Prefix of every audit logger name; the topic follows it.
pub const AUDIT_LOGGER_PREFIX: &str = "dku.audit.";

/// Key of the event type, always written first in the event object.
pub const MSG_TYPE_KEY: &str = "msgType";

/// Key under which an event carries its optional routing key.
pub const ROUTING_KEY_KEY: &str = "routingKey";

/// The audit topics of the seed product, with their wire names.
///
/// ```
/// use log4rs_audit::Topic;
/// assert_eq!(Topic::ApinodeQuery.logger_name(), "dku.audit.apinode-query");
/// assert_eq!("generic-failure".parse::<Topic>().unwrap(), Topic::GenericFailure);
/// assert_eq!(Topic::from_logger_name("dku.audit.authfail"), Some(Topic::Authfail));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    /// `generic`: most user actions (logins, exports, reads, jobs).
    Generic,
    /// `generic-failure`: actions that failed.
    GenericFailure,
    /// `authfail`: rejected authentications and authorizations.
    Authfail,
    /// `apinode-query`: queries answered by API nodes.
    ApinodeQuery,
    /// `compute-resource-usage`: start/update/complete of compute resources.
    ComputeResourceUsage,
    /// `apicalls`: every API call.
    Apicalls,
}

impl Topic {
    /// Every topic, in declaration order.
    pub const ALL: [Topic; 6] = [
        Topic::Generic,
        Topic::GenericFailure,
        Topic::Authfail,
        Topic::ApinodeQuery,
        Topic::ComputeResourceUsage,
        Topic::Apicalls,
    ];

    /// The wire name, e.g. `generic-failure`.
    pub const fn wire_name(self) -> &'static str {
        match self {
            Topic::Generic => "generic",
            Topic::GenericFailure => "generic-failure",
            Topic::Authfail => "authfail",
            Topic::ApinodeQuery => "apinode-query",
            Topic::ComputeResourceUsage => "compute-resource-usage",
            Topic::Apicalls => "apicalls",
        }
    }

    /// The logger name (record target) of the topic, e.g. `dku.audit.generic`.
    pub const fn logger_name(self) -> &'static str {
        match self {
            Topic::Generic => "dku.audit.generic",
            Topic::GenericFailure => "dku.audit.generic-failure",
            Topic::Authfail => "dku.audit.authfail",
            Topic::ApinodeQuery => "dku.audit.apinode-query",
            Topic::ComputeResourceUsage => "dku.audit.compute-resource-usage",
            Topic::Apicalls => "dku.audit.apicalls",
        }
    }

    /// The topic of an audit logger name, `None` for any other target.
    pub fn from_logger_name(target: &str) -> Option<Topic> {
        target.strip_prefix(AUDIT_LOGGER_PREFIX)?.parse().ok()
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad` honours width and alignment (`{topic:<24}`).
        f.pad(self.wire_name())
    }
}

/// A topic name that is not one of [`Topic::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown audit topic `{0}` (expected one of: generic, generic-failure, authfail, apinode-query, compute-resource-usage, apicalls)")]
pub struct UnknownTopic(pub String);

impl FromStr for Topic {
    type Err = UnknownTopic;

    fn from_str(s: &str) -> Result<Topic, UnknownTopic> {
        Topic::ALL
            .into_iter()
            .find(|t| t.wire_name() == s)
            .ok_or_else(|| UnknownTopic(s.to_owned()))
    }
}

/// Logs an audit event at `INFO` under `dku.audit.<topic>`, whatever `log`'s levels say.
///
/// The topic is an identifier checked at compile time (`generic`, `generic_failure`, `authfail`,
/// `apinode_query`, `compute_resource_usage`, `apicalls`), then optionally
/// `routing_key = <expr>`, then the `msgType` and the event's fields in `log`'s key-value syntax
/// (so `key:serde = value` embeds any `Serialize` value as nested JSON, `key:? = value` and
/// `key:% = value` write its `Debug` or `Display` text). Values keep their JSON types.
///
/// `audit!(generic, "login", authUser = "bob")` makes the record
/// `log::info!(target: "dku.audit.generic", msgType = "login", authUser = "bob"; "")` would,
/// but hands it straight to the installed audit pipeline (`init_*` or
/// `AuditLayer` (feature `tracing`)): `log::set_max_level(LevelFilter::Off)`, `log`'s
/// `max_level_*` features and another global `log` logger cannot switch audit off; only the
/// audit config decides where it goes. With no pipeline installed, the record goes to `log`'s
/// global logger as `log::info!` would.
///
/// ```
/// use log4rs_audit::audit;
///
/// let rows = 1200;
/// audit!(generic, "dataset-export", authUser = "alice", projectKey = "P1", rows = rows);
/// audit!(apinode_query, routing_key = "fraud-svc", "prediction-query", authUser = "svc", latencyMs = 3.5);
/// # #[derive(serde::Serialize)] struct Params { limit: u32 }
/// audit!(generic, "scenario-run", authUser = "bob", params:serde = Params { limit: 10 });
/// let user = "carol";
/// audit!(generic, "logout", authUser = user, user, reason:? = Some("idle"), "web.ui" = true);
/// audit!(authfail, "login-failed");
/// ```
///
/// An unknown topic does not compile:
///
/// ```compile_fail
/// log4rs_audit::audit!(genric, "login", authUser = "bob");
/// ```
#[macro_export]
macro_rules! audit {
    ($topic:ident, routing_key = $rk:expr, $msg_type:expr $(,)?) => {
        $crate::__audit_emit!($crate::__audit_topic!($topic); msgType = $msg_type, routingKey = $rk)
    };
    ($topic:ident, routing_key = $rk:expr, $msg_type:expr, $($kv:tt)+) => {
        $crate::__audit_emit!($crate::__audit_topic!($topic); msgType = $msg_type, routingKey = $rk, $($kv)+)
    };
    ($topic:ident, $msg_type:expr $(,)?) => {
        $crate::__audit_emit!($crate::__audit_topic!($topic); msgType = $msg_type)
    };
    ($topic:ident, $msg_type:expr, $($kv:tt)+) => {
        $crate::__audit_emit!($crate::__audit_topic!($topic); msgType = $msg_type, $($kv)+)
    };
}

/// Builds an `audit!` record's key-values with `log`'s own capture rules (the same grammar and
/// the same values as `log::info!`) and hands the record to the audit pipeline.
#[doc(hidden)]
#[macro_export]
macro_rules! __audit_emit {
    ($target:expr; $($key:tt $(:$capture:tt)? $(= $value:expr)?),+ $(,)?) => {
        $crate::__private::emit(
            $target,
            &[$((
                $crate::__private::log::__log_key!($key),
                $crate::__private::log::__log_value!($key $(:$capture)* = $($value)*),
            )),+],
            ::core::module_path!(),
            ::core::file!(),
            ::core::line!(),
        )
    };
}

/// Maps a topic identifier to its logger name; any other identifier is a compile error.
#[doc(hidden)]
#[macro_export]
macro_rules! __audit_topic {
    (generic) => {
        "dku.audit.generic"
    };
    (generic_failure) => {
        "dku.audit.generic-failure"
    };
    (authfail) => {
        "dku.audit.authfail"
    };
    (apinode_query) => {
        "dku.audit.apinode-query"
    };
    (compute_resource_usage) => {
        "dku.audit.compute-resource-usage"
    };
    (apicalls) => {
        "dku.audit.apicalls"
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for t in Topic::ALL {
            assert_eq!(t.wire_name().parse::<Topic>().unwrap(), t);
            assert_eq!(Topic::from_logger_name(t.logger_name()), Some(t));
            assert_eq!(
                t.logger_name(),
                format!("{AUDIT_LOGGER_PREFIX}{}", t.wire_name())
            );
        }
        assert_eq!(Topic::from_logger_name("dku.audit"), None);
        assert_eq!(Topic::from_logger_name("dku.audit.nope"), None);
        assert_eq!(Topic::from_logger_name("app::db"), None);
        assert_eq!(format!("[{:<10}]", Topic::Authfail), "[authfail  ]");
        let err = "gen".parse::<Topic>().unwrap_err();
        assert!(err.to_string().contains("`gen`"));
    }

    #[test]
    fn macro_topics_match_enum() {
        assert_eq!(__audit_topic!(generic), Topic::Generic.logger_name());
        assert_eq!(
            __audit_topic!(generic_failure),
            Topic::GenericFailure.logger_name()
        );
        assert_eq!(__audit_topic!(authfail), Topic::Authfail.logger_name());
        assert_eq!(
            __audit_topic!(apinode_query),
            Topic::ApinodeQuery.logger_name()
        );
        assert_eq!(
            __audit_topic!(compute_resource_usage),
            Topic::ComputeResourceUsage.logger_name()
        );
        assert_eq!(__audit_topic!(apicalls), Topic::Apicalls.logger_name());
    }
}
