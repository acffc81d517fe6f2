//! The sender thread: spool → socket, reconnecting with backoff, acknowledging confirmed
//! batches (see the module docs of [`super`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::format::frame_octet_counting;
use super::transport::{Address, Connection};
use crate::spool::channel::{self, Delivery};
use crate::spool::Spool;

const RETRY_MIN: Duration = Duration::from_millis(100);
const POLL: Duration = Duration::from_millis(50);
const BATCH_MAX_RECORDS: usize = 1000;
const BATCH_MAX_BYTES: usize = 256 << 10;

/// How the sender connects; replaced when a reloaded config joins the spool.
pub(crate) struct Settings {
    pub address: Address,
    /// What identifies the connection: a change makes the sender reconnect.
    pub connection_key: String,
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub ack_delay: Duration,
    pub connect_timeout: Duration,
    pub retry_max: Duration,
    pub flush_timeout: Duration,
}

/// The syslog target's part of a spool's [`Channel`](crate::spool::channel::Channel): its
/// counters.
#[derive(Default)]
pub(crate) struct SyslogDelivery {
    pub delivered: AtomicU64,
    pub reconnects: AtomicU64,
}

type Shared = channel::Shared<SyslogDelivery>;

impl Delivery for SyslogDelivery {
    const KIND: &'static str = "syslog";
    const THREAD_NAME: &'static str = "log4rs-audit-syslog";
    type Settings = Settings;

    fn open(_: &Spool) -> anyhow::Result<Self> {
        Ok(SyslogDelivery::default())
    }

    fn run(shared: Arc<Shared>) {
        Sender {
            spool: Arc::clone(&shared.spool),
            shared,
        }
        .run()
    }

    fn flush_timeout(settings: &Settings) -> Duration {
        settings.flush_timeout
    }

    fn undelivered(settings: &Settings, left: u64) -> String {
        format!(
            "syslog: {left} messages not yet delivered to {:?}",
            settings.address
        )
    }
}

struct Sender {
    spool: Arc<Spool>,
    shared: Arc<Shared>,
}

impl Sender {
    fn run(self) {
        let mut conn: Option<(Connection, String)> = None;
        // Written but not yet confirmed: (last sequence number, messages, written at).
        let mut inflight: VecDeque<(u64, u64, Instant)> = VecDeque::new();
        let mut backoff = RETRY_MIN;
        let mut connected_before = false;
        let mut framed = Vec::with_capacity(64 << 10);
        while !self.shared.stopping() {
            let settings = self.shared.settings();
            if conn
                .as_ref()
                .is_some_and(|(_, key)| *key != settings.connection_key)
            {
                // A reloaded config changed the destination.
                conn = None;
            }
            if conn.is_none() {
                match Connection::open(
                    &settings.address,
                    settings.tls.as_ref(),
                    settings.connect_timeout,
                ) {
                    Ok(c) => {
                        // Everything not confirmed goes again, in order.
                        self.spool.rewind();
                        inflight.clear();
                        conn = Some((c, settings.connection_key.clone()));
                        backoff = RETRY_MIN;
                        if connected_before {
                            self.shared
                                .target
                                .reconnects
                                .fetch_add(1, Ordering::Relaxed);
                        }
                        connected_before = true;
                    }
                    Err(e) => {
                        self.shared
                            .set_error(format!("{:?}: connect: {e}", settings.address));
                        self.shared.pause(backoff);
                        backoff = (backoff * 2).min(settings.retry_max);
                        continue;
                    }
                }
            }
            let Some((c, _)) = conn.as_mut() else {
                continue;
            };
            let batch = match self
                .spool
                .read_batch(BATCH_MAX_RECORDS, BATCH_MAX_BYTES, POLL)
            {
                Ok(b) => b,
                Err(e) => {
                    self.shared.set_error(format!("spool: {e}"));
                    self.shared.pause(Duration::from_secs(1));
                    continue;
                }
            };
            if !batch.is_empty() && self.shared.settings().connection_key != settings.connection_key
            {
                // Reloaded meanwhile: this batch goes to the new destination.
                conn = None;
                continue;
            }
            if let Some(last) = batch.last() {
                let last = last.seq;
                let n = batch.len() as u64;
                let result = if c.is_stream() {
                    framed.clear();
                    for r in &batch {
                        frame_octet_counting(&mut framed, &r.payload);
                    }
                    c.write_stream(&framed)
                } else {
                    batch.iter().try_for_each(|r| c.send_datagram(&r.payload))
                };
                if framed.capacity() > 4 << 20 {
                    framed = Vec::with_capacity(64 << 10);
                }
                match result {
                    Ok(()) if c.is_stream() => inflight.push_back((last, n, Instant::now())),
                    Ok(()) => self.ack(last, n),
                    Err(e) => {
                        self.shared
                            .set_error(format!("{:?}: write: {e}", settings.address));
                        conn = None;
                        self.shared.pause(backoff);
                        backoff = (backoff * 2).min(settings.retry_max);
                        continue;
                    }
                }
            }
            // Confirm batches written at least ack_delay ago on a connection still open.
            if inflight
                .front()
                .is_some_and(|f| f.2.elapsed() >= settings.ack_delay)
            {
                if c.alive() {
                    let (mut up_to, mut count) = (0, 0);
                    while let Some(&(seq, n, at)) = inflight.front() {
                        if at.elapsed() < settings.ack_delay {
                            break;
                        }
                        (up_to, count) = (seq, count + n);
                        inflight.pop_front();
                    }
                    self.ack(up_to, count);
                } else {
                    self.shared.set_error(format!(
                        "{:?}: the server closed the connection; resending what it may not have read",
                        settings.address
                    ));
                    conn = None;
                }
            }
        }
    }

    fn ack(&self, up_to: u64, count: u64) {
        match self.spool.ack(up_to) {
            Ok(()) => {
                self.shared
                    .target
                    .delivered
                    .fetch_add(count, Ordering::Relaxed);
                self.shared.set_acked_clearing_error(up_to);
            }
            Err(e) => self.shared.set_error(format!("spool ack: {e}")),
        }
    }
}
