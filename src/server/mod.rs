//! The Event Server (feature `server`): HTTP ingest ([`http`], [`auth`], [`budget`]), the
//! group-commit writer ([`store`]) with its dedup journal ([`journal`]) and node-id bindings
//! ([`bindings`]), and the destinations ([`destination`], [`kafka_destination`]). The protocol
//! it speaks, shared with the `event_server` target and the readers, is [`crate::protocol`].

#[cfg(feature = "server")]
pub mod auth;
#[cfg(feature = "server")]
pub mod bindings;
#[cfg(feature = "server")]
pub mod budget;
#[cfg(feature = "server")]
pub mod config;
#[cfg(feature = "server")]
pub mod destination;
#[cfg(feature = "server")]
pub mod failure;
#[cfg(feature = "server")]
pub mod http;
#[cfg(feature = "server")]
pub mod journal;
#[cfg(all(feature = "server", feature = "kafka"))]
pub mod kafka_destination;
#[cfg(all(feature = "server", not(feature = "kafka")))]
#[path = "kafka_destination_off.rs"]
pub mod kafka_destination;
#[cfg(feature = "server")]
pub mod metrics;
#[cfg(feature = "server")]
pub mod roots;
#[cfg(feature = "server")]
pub mod route;
#[cfg(feature = "server")]
pub mod store;
