//! The `syslog` appender: audit events to a syslog server (rsyslog, syslog-ng, a SIEM's
//! collector) in RFC 5424 (default) or RFC 3164, over UDP, TCP (RFC 6587 octet counting),
//! TLS (RFC 5425) or a Unix socket.
//!
//! - **On the caller**: the message (header + envelope line as MSG, or the event as
//!   structured data) is formatted with the record's time and appended to a durable spool
//!   ([`crate::spool::Spool`]); the caller never waits on the network.
//! - **The sender thread** reads the spool in order, frames each message (octet counting on
//!   streams, one datagram each on UDP and Unix datagram sockets) and writes a batch with one
//!   write + flush. Connection failures are retried with exponential backoff (100 ms up to
//!   `retry_max`); after a reconnect every unacknowledged message is sent again.
//! - **Acknowledgement**: syslog has no application-level ack. On a stream, a batch is
//!   acknowledged in the spool only once it was written and flushed *and* the connection is
//!   still open `ack_delay` later (a syslog server never writes back, so an end of stream or
//!   a reset means it went away, possibly before reading what was written). What was not
//!   confirmed is resent: **at-least-once**; duplicates are limited to the messages written
//!   in the last `ack_delay` before a server went away. UDP is best effort: a datagram is
//!   acknowledged once the kernel took it.

mod config;
mod format;
mod log4j;
mod sender;
mod transport;

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::Utc;
use log::Record;
use log4rs::append::Append;

pub use config::{MsgId, SyslogConfig, SyslogFormat, SyslogPayload, DEFAULT_ACK_DELAY};
pub use format::{Facility, FACILITIES, SD_AUDIT, SD_CONTEXT, SD_MDC};
pub use transport::Address;

use crate::encode::AuditEnvelopeEncoder;
use crate::event::Topic;
use crate::spool::channel::Channel;
use sender::SyslogDelivery;

thread_local! {
    static SCRATCH: RefCell<(Vec<u8>, Vec<u8>)> = RefCell::new((Vec::with_capacity(1024), Vec::with_capacity(1024)));
}

/// Delivery counters of a [`SyslogAppender`] since it started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyslogStats {
    /// Messages acknowledged in the spool (see the module docs for what that means).
    pub delivered: u64,
    /// Connections opened after the first one.
    pub reconnects: u64,
    /// Messages in the spool not yet acknowledged.
    pub pending: u64,
    /// The last delivery problem, cleared by the next successful write.
    pub last_error: Option<String>,
}

/// Sends audit events to syslog; the appender kind `syslog`. See the [module docs](self) and
/// [`SyslogConfig`].
pub struct SyslogAppender {
    checked: config::ValidSyslogConfig,
    hostname: String,
    procid: u32,
    encoder: AuditEnvelopeEncoder,
    channel: Channel<SyslogDelivery>,
}

impl fmt::Debug for SyslogAppender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyslogAppender")
            .field("address", &self.checked.address)
            .field("spool_dir", &self.channel.dir())
            .finish_non_exhaustive()
    }
}

fn system_hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it or
    // truncates, and the length is bounded below.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "-".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name: String = String::from_utf8_lossy(&buf[..end])
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .collect();
    if name.is_empty() {
        "-".into()
    } else {
        name
    }
}

impl SyslogAppender {
    fn start(checked: config::ValidSyslogConfig) -> anyhow::Result<SyslogAppender> {
        let tls = match &checked.address {
            Address::Tls { .. } => Some(Arc::new(match &checked.ca_file {
                Some(path) => crate::append::tls::ca_file_config(path)?,
                None => crate::append::tls::trust_all_config()?,
            })),
            _ => None,
        };
        let settings = sender::Settings {
            connection_key: format!(
                "{:?} {:?} {}",
                checked.address,
                checked.ca_file,
                tls.is_some()
            ),
            address: checked.address.clone(),
            tls,
            ack_delay: checked.ack_delay,
            connect_timeout: checked.connect_timeout,
            retry_max: checked.retry_max,
            flush_timeout: checked.flush_timeout,
        };
        let channel = Channel::join(checked.spool.clone(), settings)?;
        Ok(SyslogAppender {
            hostname: checked.hostname.clone().unwrap_or_else(system_hostname),
            procid: std::process::id(),
            encoder: AuditEnvelopeEncoder::new(checked.timezone),
            checked,
            channel,
        })
    }

    /// Delivery counters of this appender's spool (shared by every appender of the same
    /// `spool_dir`).
    pub fn stats(&self) -> SyslogStats {
        let shared = self.channel.shared();
        SyslogStats {
            delivered: shared.target.delivered.load(Ordering::Relaxed),
            reconnects: shared.target.reconnects.load(Ordering::Relaxed),
            pending: self.channel.pending(),
            last_error: shared.last_error.lock().clone(),
        }
    }

    /// The spool directory (canonical).
    pub fn spool_dir(&self) -> &std::path::Path {
        self.channel.dir()
    }

    /// Appends the syslog message of `record` (without framing) to `out`.
    fn format(&self, out: &mut Vec<u8>, line: &mut Vec<u8>, record: &Record) {
        let c = &self.checked;
        let topic = Topic::from_logger_name(record.target());
        let msgid = match topic {
            Some(t) => c
                .msgid_per_topic
                .get(&t)
                .map(String::as_str)
                .or(c.msgid_fixed.as_deref())
                .unwrap_or(t.wire_name()),
            None => c.msgid_fixed.as_deref().unwrap_or("-"),
        };
        let header = format::Header {
            facility: c.facility,
            level: record.level(),
            time: Utc::now(),
            hostname: &self.hostname,
            app_name: &c.app_name,
            procid: self.procid,
            msgid,
        };
        line.clear();
        self.encoder.encode_into(line, record);
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        match c.format {
            SyslogFormat::Rfc5424 => {
                format::rfc5424_header(out, &header);
                match c.payload {
                    SyslogPayload::Envelope => {
                        out.extend_from_slice(b"- ");
                        out.extend_from_slice(line);
                    }
                    SyslogPayload::Structured => {
                        format::structured_data(out, line);
                    }
                }
            }
            SyslogFormat::Rfc3164 => {
                let with_hostname = !matches!(c.address, Address::Unix { .. });
                format::rfc3164_header(out, &header, c.header, with_hostname, c.facility_printing);
                out.extend_from_slice(line);
            }
        }
    }
}

impl Append for SyslogAppender {
    /// Formats the message and spools it; an error if it cannot be spooled.
    fn append(&self, record: &Record) -> anyhow::Result<()> {
        let result = crate::local::with_local(&SCRATCH, |(out, line)| {
            out.clear();
            self.format(out, line, record);
            let r = self.channel.submit(out);
            if out.capacity() > 1 << 20 {
                *out = Vec::with_capacity(1024);
                *line = Vec::with_capacity(1024);
            }
            r
        });
        result
            .map(drop)
            .map_err(|e| anyhow::anyhow!("syslog event not spooled: {e}"))
    }

    /// Waits (at most `flush_timeout`) until every message spooled before the call is
    /// acknowledged; what is left stays in the spool (reported on stderr).
    fn flush(&self) {
        self.channel.flush_or_warn();
    }
}

crate::config::remote_kind!(
    /// The `syslog` appender kind.
    SyslogAppenderDeserializer,
    "syslog",
    SyslogConfig,
    log4j::CLASSES
);
