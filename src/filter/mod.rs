//! Filters: the route filter that makes any appender an audit target.

mod route;

pub use route::{AuditRouteFilter, AuditRouteFilterDeserializer, RouteConfig, Selection};
