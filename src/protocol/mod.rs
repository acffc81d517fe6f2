//! The protocol of central audit, always compiled: the ingest wire format ([`wire`], with the
//! duplicate-key check of [`dup_keys`]), the stored line ([`record`]) and the storage layout
//! ([`layout`]). The Event Server (feature `server`), the `event_server` target, `query` and
//! `verify` all speak it; none of it needs the server.
//!
//! # Wire format: the body of `POST /events`
//!
//! A batch is newline-delimited JSON (`Content-Type: application/x-ndjson`), UTF-8, one item per
//! line, lines separated by `\n` (a `\r` before it is tolerated). The final newline is optional;
//! blank lines are not allowed. The body may be gzip-compressed, announced with
//! `Content-Encoding: gzip` (concatenated gzip members are accepted). Each item is one JSON
//! object:
//!
//! ```text
//! {"node":"web-1","seq":42,"topic":"apinode-query","routingKey":"fraud-svc","event":{"msgType":"prediction-query","authUser":"svc"}}
//! ```
//!
//! | key | required | value |
//! |---|---|---|
//! | `node` | yes | the client's node id: 1 to 64 characters of `A-Z a-z 0-9 . _ -`, not starting with `.` |
//! | `seq` | yes | the event's sequence number on that node, an integer from 1 to 2^64 − 1 |
//! | `topic` | yes | `generic`, `generic-failure`, `authfail`, `apinode-query`, `compute-resource-usage` or `apicalls` |
//! | `routingKey` | no | absent, `null`, or 1 to 128 characters of `A-Z a-z 0-9 . _ -`, the first a letter or digit |
//! | `event` | yes | the event: a JSON object with a string `msgType` (once), no key twice in one object at any depth, at most 100 levels deep, with no raw `\r` inside |
//!
//! Keys may come in any order; any other key, a duplicate key, or a value of the wrong type
//! rejects the batch (it is a client bug). `node` + `seq` identify an event: the server stores
//! an event once even when a client sends it again, so a client numbers its events 1, 2, 3, …
//! and resends a batch unchanged until it is acknowledged. The `event` object is stored byte
//! for byte as sent, as `clientEvent` (see [`record`]).
//!
//! The whole batch is checked before anything of it is stored; the first bad line rejects it
//! with `400` and a message naming the 1-based line, e.g. ``line 3: unknown topic `genric` ``.
//! A body larger than the server's `max_body_bytes`, compressed or once decompressed, gets
//! `413`. An empty body (or a lone newline) is rejected as `empty batch`.
//!
//! With curl, a batch in `batch.ndjson`:
//!
//! ```sh
//! curl --data-binary @batch.ndjson -H 'Authorization: Bearer KEY' \
//!      -H 'Content-Type: application/x-ndjson' http://127.0.0.1:11004/events
//! # compressed:
//! gzip -k batch.ndjson
//! curl --data-binary @batch.ndjson.gz -H 'Content-Encoding: gzip' -H 'Authorization: Bearer KEY' \
//!      -H 'Content-Type: application/x-ndjson' http://127.0.0.1:11004/events
//! ```
//!
//! (`--data-binary`, not `-d`: `-d` strips the newlines.)

pub mod dup_keys;
pub mod layout;
pub mod record;
pub mod wire;

#[cfg(test)]
mod tests;

pub use layout::{Layout, Partition, Partitioning, FILE_NAME};
pub use record::write_stored_line;
pub use wire::{
    parse_batch, write_item, BatchError, BatchErrorKind, Item, ItemRef, NodeId, RoutingKey,
};
