//! The `event_server` appender: audit events to a central Event Server over HTTP, through a
//! durable spool, so the logging caller never waits on the network and nothing is lost.
//!
//! - **On the caller**: the record is checked (an audit logger `dku.audit.<topic>`, an event
//!   object with a string `msgType`, a valid routing key) and encoded into a compact spool
//!   payload ([`payload`] format), then appended to the spool. Concurrent callers share one
//!   spool append and one fsync (group commit). With `spool_fsync: batch` the event is on disk
//!   when the logging call returns.
//! - **The sender thread** (one per spool directory in the process) reads batches in sequence
//!   order (`batch_max_events`, `batch_max_bytes`, waiting up to `linger` for a batch to
//!   fill), posts each as NDJSON to `<url>/events` (wire format: [`crate::server`]), one request
//!   in flight, and acknowledges the spool once the server answered `200`.
//! - **Retries**: `503`/`429` (honouring `Retry-After`), other `5xx`, connection errors and
//!   timeouts are retried with exponential backoff (`retry_min` ×2 up to `retry_max`, full
//!   jitter), the same events with the same sequence numbers; the server deduplicates on
//!   (node, seq), so a resend after a lost answer stores nothing twice.
//! - **Refusals**: `413` splits a batch in halves (a single event too large is refused);
//!   a `400` naming a line refuses that event only, and the rest is sent again; any other
//!   `4xx` (`401`: "auth key rejected") refuses the batch. Refused events are appended to
//!   `<spool_dir>/dead-letter.ndjson` with the status and the server's reason (see
//!   [`dead_letter`](crate::append::dead_letter)), then acknowledged; the next logging call returns an error saying so.
//!   A `403` (the node id is bound to another event key, or the key has `max_nodes_per_key`
//!   node ids) needs an operator: it is reported and retried with backoff, the events stay in
//!   the spool.
//! - **Answers that store less than sent**: a `200` counting `duplicates` for events this
//!   spool never posted before (none of its earlier answers may have stored them) means the
//!   server holds other events under this node id and these numbers, a probable node id
//!   collision (a copied `spool_dir`, a reset spool): they are dead-lettered (status `200`)
//!   and reported, not counted as delivered. `unrouted` events (no destination there takes
//!   them) are counted in [`EventServerStats::unrouted`] and reported.
//! - **Flush** waits (at most `flush_timeout`) until everything spooled before it is
//!   delivered. Dropping the last appender of a spool flushes, then stops and joins the
//!   sender. What is not delivered stays in the spool and is sent by the next process that
//!   opens it (the node id is kept in the spool directory).

mod config;
pub(crate) mod http;
mod log4j;
pub mod payload;
mod sender;

use std::cell::RefCell;
use std::fmt;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use log::Record;
use log4rs::append::Append;

use crate::spool::channel::Channel;
pub use config::{
    EventServerConfig, RoutingKeyMode, DEFAULT_BATCH_MAX_BYTES, DEFAULT_BATCH_MAX_EVENTS,
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_FLUSH_TIMEOUT, DEFAULT_LINGER, DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_RETRY_MAX, DEFAULT_RETRY_MIN, DEFAULT_SPOOL_MAX_BYTES,
};
use sender::HttpDelivery;

thread_local! {
    static PAYLOAD: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(1024));
}

/// Delivery counters of an [`EventServerAppender`]'s spool (shared by every appender using the
/// same spool directory), since the spool was opened in this process.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventServerStats {
    /// Events the server acknowledged (stored, or already stored).
    pub delivered: u64,
    /// Events the server accepted but none of its destinations takes (`"unrouted"` in its
    /// answer): in no file there; each time reported through the error handler.
    pub unrouted: u64,
    /// Events the server refused, written to the dead-letter file.
    pub dead_lettered: u64,
    /// Requests that failed and were retried.
    pub retries: u64,
    /// Events in the spool not yet acknowledged.
    pub pending: u64,
    /// The last delivery problem, cleared by the next successful request.
    pub last_error: Option<String>,
}

/// Sends audit events to an Event Server; the appender kind `event_server`. See the
/// [module docs](self) and [`EventServerConfig`] for its options.
pub struct EventServerAppender {
    spool: Channel<HttpDelivery>,
    routing: config::Routing,
    endpoint: String,
    flush_timeout: Duration,
}

impl fmt::Debug for EventServerAppender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventServerAppender")
            .field("url", &self.endpoint)
            .field("spool_dir", &self.spool.dir())
            .finish_non_exhaustive()
    }
}

impl EventServerAppender {
    fn start(
        checked: config::ValidEventServerConfig,
        settings: sender::Settings,
    ) -> anyhow::Result<EventServerAppender> {
        let spool = Channel::join(checked.spool, settings)?;
        Ok(EventServerAppender {
            spool,
            routing: checked.routing,
            endpoint: checked.endpoint,
            flush_timeout: checked.flush_timeout,
        })
    }

    /// Delivery counters of this appender's spool.
    pub fn stats(&self) -> EventServerStats {
        let c = &self.spool.shared().target.counters;
        EventServerStats {
            delivered: c.delivered.load(Ordering::Relaxed),
            unrouted: c.unrouted.load(Ordering::Relaxed),
            dead_lettered: c.dead_lettered.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            pending: self.spool.pending(),
            last_error: self.spool.shared().last_error.lock().clone(),
        }
    }

    /// The spool directory (canonical).
    pub fn spool_dir(&self) -> &Path {
        self.spool.dir()
    }

    /// The spool's node id, sent with every event.
    pub fn node_id(&self) -> &str {
        self.spool.shared().target.node.as_str()
    }

    /// The URL events are posted to (`<url>/events`).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn spool_event(&self, record: &Record) -> anyhow::Result<u64> {
        crate::local::with_local(&PAYLOAD, |buf| {
            payload::encode(buf, record, &self.routing)?;
            let result = self.spool.submit(buf);
            self.spool.shared().target.poke();
            if buf.capacity() > 1 << 20 {
                // One huge event must not pin a megabyte per thread forever.
                *buf = Vec::with_capacity(1024);
            }
            result.map_err(|e| anyhow::anyhow!("event not spooled: {e}"))
        })
    }
}

impl Append for EventServerAppender {
    /// Spools the event; returns an error if it cannot be, or if earlier events met a problem
    /// the caller must hear about (dead-lettered events, spool errors, a flush that timed out).
    fn append(&self, record: &Record) -> anyhow::Result<()> {
        let result = self.spool_event(record);
        match (result, self.spool.shared().target.take_errors()) {
            (Ok(_), None) => Ok(()),
            (Ok(_), Some(earlier)) => Err(anyhow::anyhow!(
                "event spooled; earlier problems: {earlier}"
            )),
            (Err(e), None) => Err(e),
            (Err(e), Some(earlier)) => Err(anyhow::anyhow!("{e}; earlier problems: {earlier}")),
        }
    }

    /// Waits until every event spooled before the call is delivered, at most `flush_timeout`.
    fn flush(&self) {
        if let Err(left) = self.spool.flush(self.flush_timeout) {
            let shared = self.spool.shared();
            *shared.target.stalled_at.lock() = Some(shared.acked());
            shared.target.report(format!(
                "{left} events not yet delivered to {} after {}; they stay in the spool {}",
                self.endpoint,
                humantime::format_duration(self.flush_timeout),
                self.spool.dir().display()
            ));
        }
    }
}

crate::config::remote_kind!(
    /// The `event_server` appender kind.
    EventServerAppenderDeserializer,
    "event_server",
    EventServerConfig,
    log4j::CLASSES
);
