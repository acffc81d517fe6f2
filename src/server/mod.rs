//! The Event Server (feature `server`): HTTP ingest (`http`, `auth`, `budget`), the
//! group-commit writer (`store`) with its dedup journal (`journal`) and node-id bindings
//! (`bindings`), the destinations (`destination`, `kafka_destination`), and the read side:
//! `read_api` (`/api/events`, `/api/reports/<name>`) and `ui` (the `/ui/` viewer). The protocol it
//! speaks, shared with the `event_server` target and the readers, is [`crate::protocol`].
//! Only `config` and `http` are public: the rest is the server's own.

pub mod anchors;
#[cfg(feature = "server")]
pub(crate) mod auth;
#[cfg(feature = "server")]
pub(crate) mod bindings;
#[cfg(feature = "server")]
pub(crate) mod budget;
#[cfg(feature = "server")]
pub mod config;
#[cfg(feature = "server")]
pub(crate) mod destination;
#[cfg(feature = "server")]
pub(crate) mod failure;
#[cfg(feature = "server")]
pub mod http;
#[cfg(feature = "server")]
pub(crate) mod journal;
#[cfg(all(feature = "server", feature = "kafka"))]
pub(crate) mod kafka_destination;
#[cfg(all(feature = "server", not(feature = "kafka")))]
#[path = "kafka_destination_off.rs"]
pub(crate) mod kafka_destination;
#[cfg(feature = "server")]
pub(crate) mod metrics;
#[cfg(feature = "server")]
pub(crate) mod read_api;
#[cfg(feature = "server")]
pub(crate) mod roots;
#[cfg(feature = "server")]
pub(crate) mod route;
#[cfg(feature = "server")]
pub(crate) mod store;
#[cfg(feature = "server")]
pub(crate) mod ui;
