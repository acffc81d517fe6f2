//! Anchors off the host: the Event Server keeps a signed, append-only copy of the writers'
//! checkpoint records (the *anchor ledger*), so whoever controls a writer's host, and with it
//! its signing key, can no longer cut a trail back, rewrite and re-sign it, or delete it
//! without `verify --anchors` saying so.
//!
//! | request | auth | answer |
//! |---|---|---|
//! | `POST /anchors`, body: record lines (NDJSON, exactly as in the sidecars), header `X-Audit-Public-Keys: <base64>[,…]` (the writer's public keys) | an `event_keys` key | `200` `{"stored":S,"duplicates":D,"receipts":[{"n","trail","status":"stored"\|"duplicate","received","serverSig"}]}`; `400` malformed, format 1, or a key to pin not offered; `403` another key than the pinned one, a bad signature, an origin anchored by another event key; `409` a gap (names the missing numbers) or a fork (kept in the forks file); the body of an error carries the receipts of the records stored before it and `error` |
//! | `GET /api/anchors[?origin=…]` | a `read_keys` key | `200`, NDJSON: the ledger lines of that origin (or of all) |
//! | `GET /api/anchors/key` | none (public) | the server's anchor public key, base64, as in a `.pub` file |
//! | any of them without `anchors:` in the config | | `404` saying so |
//!
//! # On disk
//!
//! ```text
//! <state_dir>/anchors/
//!   <origin folder>/          hex of the first 16 bytes of SHA-256 of the origin
//!     ledger.ndjson           one line per accepted record (see [`ledger`] for the line)
//!     forks.ndjson            refused conflicting records: {"received","sender","record","anchored"}
//! ```
//!
//! # Invariants
//!
//! - **Acknowledged means durable**: every line a `200` (or the receipts of an error answer)
//!   speaks of was written with one `write` and fsynced before the answer; a new origin's
//!   folder entry is fsynced too. A crash leaves at most a torn last line, never
//!   acknowledged, which the next start cuts off (and says so).
//! - **Append-only, one origin per file**: lines are never rewritten; every line of an
//!   origin's file carries that origin, and the server's signature (`serverSig`) over it. A
//!   start that finds a line it did not sign (altered, or another key) refuses to run.
//! - **Chained per (origin, trail)**: a trail's lines hold consecutive record numbers, each
//!   record's `prev` the digest of the line before it, exactly as `verify` computes it. A
//!   record's first anchored number may be above 0 (anchoring started late); after that the
//!   client must send in order: a gap is refused naming the missing numbers, a different record
//!   for a number already anchored is a *fork* (refused, kept in `forks.ndjson`, said on
//!   stderr), the same record again a *duplicate* (answered with its first receipt).
//! - **One key per origin at a time**: the origin's first signed record pins the writer's
//!   public key (on that line, `pinned_key`); later records must be signed by it, until a
//!   `rekey` record signed by it names the next key, which the request then offers and the
//!   next line pins. An origin of unsigned records stays unsigned.
//! - **One sender per origin**: the event key that first anchored an origin is the only one
//!   that may anchor it (the node binding rule of `POST /events`).
//! - **Trails of an origin link up**: a new trail of a known origin must begin with a `start`
//!   naming the origin's last trail (and a record number at least the last anchored one of
//!   it, with the same head when equal); otherwise it is stored with `"unlinked":true`, which
//!   `verify --anchors` reports.

pub mod client;
#[cfg(feature = "server")]
pub(crate) mod http;
pub mod ledger;
#[cfg(feature = "server")]
pub mod store;

/// The header of `POST /anchors` that offers the writer's public keys (base64, comma
/// separated): the server cannot know them before, so the first record pins one.
pub const PUBLIC_KEYS_HEADER: &str = "X-Audit-Public-Keys";
