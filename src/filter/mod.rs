//! Filters: the route filter that makes any appender an audit target, and log4j's filters.

pub mod log4j;
mod route;

#[cfg(feature = "server")]
pub(crate) use route::RawSelection;
pub use route::{AuditRouteFilter, AuditRouteFilterDeserializer, RouteConfig, Selection};
