//! The `async` appender: wraps any appender so logging callers never wait on its I/O, without
//! ever dropping audit silently.
//!
//! - **On the caller**: when the wrapped appender is `audit_file`, the record is encoded on the
//!   calling thread with the file's own encoder (so `mdc`, `callTime` and `timestamp` are
//!   exactly those of a synchronous call) and the line is copied into the queue. Any other
//!   wrapped appender gets the record replayed on the writer thread: the caller copies the
//!   record (text, key-values with their types, level, target, module, file, line), its MDC, its
//!   call start and its clocks (`record.rs`), and the writer installs them around the wrapped
//!   appender's call, so an `audit_envelope` encoder writes the same bytes there too.
//! - **The queue** (`queue.rs`) holds at most `capacity` events. When it is full the caller
//!   waits (`when_full: block`, the default) or, only if configured, the event is dropped and
//!   counted (`when_full: drop`); the writer then appends a `WARN` event to the wrapped appender
//!   saying how many were dropped.
//! - **One writer thread** per `async` appender hands batches to the wrapped appender (one
//!   `write` per batch for `audit_file`). Its errors (and panics) are returned by the next
//!   logging call, so they reach the logger's error handler.
//! - **Flush and shutdown drain**: `log::logger().flush()`, `Handle::flush()` and dropping the
//!   handle return once every accepted event reached the wrapped appender (then flush it), at
//!   most `shutdown_timeout`; events still queued after that are reported on stderr and to the
//!   error handler, never silently left behind.

mod queue;
mod record;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use log::Record;
use log4rs::append::Append;
use log4rs::config::Deserializers;
use serde::de::Error as _;
use serde::Deserialize;
use serde_value::Value;

pub use queue::{AsyncStats, WhenFull};

use super::{AuditFileAppender, FileConfig};
use crate::error::{AuditError, Reporter};
use queue::{Queue, Writer};
use record::OwnedRecord;

/// Default queue capacity, in events.
pub const DEFAULT_CAPACITY: usize = 65536;
/// Default bound of a flush or shutdown.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

thread_local! {
    static LINE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(1024));
}

enum Inner {
    /// `audit_file`: lines encoded on the caller.
    Lines {
        file: Arc<AuditFileAppender>,
        queue: Queue<Vec<u8>>,
    },
    /// Any other appender: records replayed on the writer thread.
    Records {
        appender: Arc<dyn Append>,
        queue: Queue<Vec<OwnedRecord>>,
    },
}

/// Hands records to a wrapped appender on a background thread; the appender kind `async`.
///
/// ```
/// use log4rs::append::Append;
/// use log4rs_audit::append::{AsyncAppender, AuditFileAppender, FileOptions, WhenFull};
/// use log4rs_audit::encode::AuditEnvelopeEncoder;
///
/// let dir = tempfile::tempdir().unwrap();
/// let file = AuditFileAppender::new(
///     dir.path().join("audit.log"), AuditEnvelopeEncoder::default(), FileOptions::default(),
/// ).unwrap();
/// let appender = AsyncAppender::for_file(file, 1024, WhenFull::Block).unwrap();
/// let kvs = [("msgType", log::kv::Value::from("login"))];
/// appender.append(&log::Record::builder().target("dku.audit.generic").key_values(&kvs).build()).unwrap();
/// appender.flush(); // every event accepted so far is in the file now
/// let text = std::fs::read_to_string(dir.path().join("audit.log")).unwrap();
/// assert!(text.contains("\"message\":{\"msgType\":\"login\"}"));
/// ```
pub struct AsyncAppender {
    inner: Inner,
    shutdown_timeout: Duration,
    description: String,
    notices: Arc<Notices>,
}

impl fmt::Debug for AsyncAppender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncAppender")
            .field("wraps", &self.description)
            .finish_non_exhaustive()
    }
}

/// Where an `async` appender reports what no logging call returns: drop counts and errors
/// left at shutdown go to the error handler of the logger that built it, and to stderr.
struct Notices {
    reporter: Option<Arc<Reporter>>,
    description: parking_lot::Mutex<String>,
}

impl Notices {
    fn new(description: String) -> Arc<Notices> {
        Arc::new(Notices {
            reporter: crate::error::building_reporter(),
            description: parking_lot::Mutex::new(description),
        })
    }

    fn report(&self, error: AuditError) {
        match &self.reporter {
            Some(reporter) => reporter.report_and_print(error),
            None => eprintln!("log4rs-audit: {error}"),
        }
    }

    fn dropped(&self, count: u64) {
        let appender = self.description.lock().clone();
        self.report(AuditError::Dropped { appender, count });
    }
}

struct LineWriter(Arc<AuditFileAppender>, Arc<Notices>);

impl Writer<Vec<u8>> for LineWriter {
    fn write(&self, batch: &mut Vec<u8>, _: usize) -> Result<(), String> {
        self.0.write_lines(batch).map_err(|e| format!("{e:#}"))
    }
    fn dropped(&self, n: u64) -> Result<(), String> {
        self.1.dropped(n);
        // The gap is visible in the trail itself too.
        let mut line = Vec::new();
        with_dropped_warning(n, |r| self.0.encode_line(&mut line, r))
            .and_then(|()| self.0.write_lines(&line))
            .map_err(|e| format!("{e:#}"))
    }
}

struct RecordWriter(Arc<dyn Append>, Arc<Notices>);

impl Writer<Vec<OwnedRecord>> for RecordWriter {
    fn write(&self, batch: &mut Vec<OwnedRecord>, _: usize) -> Result<(), String> {
        let mut errors = Vec::new();
        for r in batch.iter() {
            if let Err(e) = r.replay(|record| self.0.append(record)) {
                if errors.len() < 4 {
                    errors.push(format!("{e:#}"));
                }
            }
        }
        match errors.len() {
            0 => Ok(()),
            _ => Err(errors.join("; ")),
        }
    }
    fn dropped(&self, n: u64) -> Result<(), String> {
        self.1.dropped(n);
        // Also as an event for targets that take it (a console, a file); one that refuses it
        // (`event_server` takes audit loggers only) loses nothing: the count is reported above.
        let _ = with_dropped_warning(n, |r| self.0.append(r));
        Ok(())
    }
}

/// The `WARN` event written when events were dropped.
fn with_dropped_warning<R>(n: u64, f: impl FnOnce(&Record) -> R) -> R {
    let kvs = [("dropped", log::kv::Value::from(n))];
    f(&Record::builder()
        .level(log::Level::Warn)
        .target("log4rs_audit::async")
        .args(format_args!(
            "{n} events dropped: the async queue was full (when_full: drop)"
        ))
        .key_values(&kvs)
        .build())
}

impl AsyncAppender {
    /// Wraps an `audit_file` appender: lines are encoded on the caller.
    pub fn for_file(
        file: AuditFileAppender,
        capacity: usize,
        when_full: WhenFull,
    ) -> std::io::Result<AsyncAppender> {
        let description = format!("audit_file {}", file.path().display());
        let file = Arc::new(file);
        let notices = Notices::new(description.clone());
        let writer = LineWriter(Arc::clone(&file), Arc::clone(&notices));
        let queue = Queue::start(capacity, when_full, writer)?;
        Ok(AsyncAppender {
            inner: Inner::Lines { file, queue },
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            description,
            notices,
        })
    }

    /// Wraps any appender: records are copied on the caller and replayed on the writer.
    pub fn for_appender(
        appender: Box<dyn Append>,
        capacity: usize,
        when_full: WhenFull,
    ) -> std::io::Result<AsyncAppender> {
        let mut description = format!("{appender:?}");
        if description.len() > 60 {
            let mut end = 60;
            while !description.is_char_boundary(end) {
                end -= 1;
            }
            description.truncate(end);
            description.push('…');
        }
        let appender: Arc<dyn Append> = Arc::from(appender);
        let notices = Notices::new(description.clone());
        let writer = RecordWriter(Arc::clone(&appender), Arc::clone(&notices));
        let queue = Queue::start(capacity, when_full, writer)?;
        Ok(AsyncAppender {
            inner: Inner::Records { appender, queue },
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            description,
            notices,
        })
    }

    /// Sets the bound of a flush or shutdown (default 10 s).
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> AsyncAppender {
        self.shutdown_timeout = timeout;
        self
    }

    /// Counters since the appender started.
    pub fn stats(&self) -> AsyncStats {
        match &self.inner {
            Inner::Lines { queue, .. } => queue.stats(),
            Inner::Records { queue, .. } => queue.stats(),
        }
    }

    fn not_drained(&self, left: u64, what: &str) -> String {
        format!(
            "async appender ({}): {left} events not yet handed to the wrapped appender after {} ({what}); they are still being written in the background",
            self.description,
            humantime::format_duration(self.shutdown_timeout)
        )
    }
}

impl Append for AsyncAppender {
    /// Queues the event (waiting for room with `when_full: block`). Returns an error for a
    /// dropped event's caller only through the writer's warning event, and for problems the
    /// writer met with earlier events.
    fn append(&self, record: &Record) -> anyhow::Result<()> {
        let earlier = match &self.inner {
            Inner::Lines { file, queue } => crate::local::with_local(&LINE, |line| {
                line.clear();
                file.encode_line(line, record)?;
                let pushed = queue.push(|pending| pending.extend_from_slice(line));
                if line.capacity() > 1 << 20 {
                    *line = Vec::with_capacity(1024);
                }
                Ok::<_, anyhow::Error>(pushed)
            })?,
            Inner::Records { queue, .. } => {
                let owned = OwnedRecord::capture(record);
                queue.push(|pending| pending.push(owned))
            }
        };
        match earlier {
            Ok(None) | Err(queue::Dropped) => Ok(()),
            Ok(Some(e)) => Err(anyhow::anyhow!(
                "async appender ({}): earlier events: {e}",
                self.description
            )),
        }
    }

    /// Waits until every event accepted before the call reached the wrapped appender (at most
    /// `shutdown_timeout`, reported when exceeded), then flushes the wrapped appender.
    fn flush(&self) {
        let left = match &self.inner {
            Inner::Lines { queue, .. } => queue.drain(self.shutdown_timeout),
            Inner::Records { queue, .. } => queue.drain(self.shutdown_timeout),
        };
        if left > 0 {
            let message = self.not_drained(left, "flush");
            eprintln!("log4rs-audit: {message}");
            match &self.inner {
                Inner::Lines { queue, .. } => queue.report(message),
                Inner::Records { queue, .. } => queue.report(message),
            }
        }
        match &self.inner {
            Inner::Lines { file, .. } => file.flush(),
            Inner::Records { appender, .. } => appender.flush(),
        }
    }
}

impl Drop for AsyncAppender {
    /// Drains the queue (at most `shutdown_timeout`, reported on stderr when exceeded) and
    /// stops the writer; the wrapped appender is dropped (and so flushed) after it.
    fn drop(&mut self) {
        let left = match &mut self.inner {
            Inner::Lines { queue, .. } => queue.shutdown(self.shutdown_timeout),
            Inner::Records { queue, .. } => queue.shutdown(self.shutdown_timeout),
        };
        if left > 0 {
            eprintln!("log4rs-audit: {}", self.not_drained(left, "shutdown"));
        }
        // No later logging call will return what the writer met last: report it now.
        let errors = match &self.inner {
            Inner::Lines { queue, .. } => queue.take_errors(),
            Inner::Records { queue, .. } => queue.take_errors(),
        };
        if let Some(e) = errors {
            self.notices.report(AuditError::Background(format!(
                "async appender ({}): at shutdown: {e}",
                self.description
            )));
        }
    }
}

/// The wrapped appender of `async`: `kind` and its options (no `filters`: put them on the
/// `async` appender).
#[derive(Clone, Debug)]
pub struct WrappedAppenderConfig {
    /// The wrapped appender's kind.
    pub kind: String,
    /// Its options.
    pub config: Value,
}

impl<'de> Deserialize<'de> for WrappedAppenderConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut map = BTreeMap::<Value, Value>::deserialize(d)?;
        let kind = match map.remove(&Value::String("kind".into())) {
            Some(Value::String(kind)) => kind,
            Some(_) => return Err(D::Error::custom("appender.kind: expected a string")),
            None => return Err(D::Error::missing_field("appender.kind")),
        };
        if map.contains_key(&Value::String("filters".into())) {
            return Err(D::Error::custom(
                "appender.filters: put filters on the async appender itself",
            ));
        }
        Ok(WrappedAppenderConfig {
            kind,
            config: Value::Map(map),
        })
    }
}

/// Options of the `async` appender kind, as written in YAML.
///
/// ```yaml
/// kind: async
/// appender: { kind: audit_file, path: run/audit/audit.log }   # any appender kind
/// capacity: 65536          # events queued at most
/// when_full: block         # block | drop (counted, and a WARN event says how many)
/// shutdown_timeout: 10s    # bound of flush and shutdown; reported when exceeded
/// ```
#[derive(Clone, Debug)]
pub struct AsyncConfig {
    /// The wrapped appender.
    pub appender: WrappedAppenderConfig,
    queue: QueueConfig,
}

impl<'de> Deserialize<'de> for AsyncConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// `async`'s own option beside its queue's.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Own {
            appender: WrappedAppenderConfig,
        }
        let (own, queue): (Own, QueueConfig) = crate::config::flat::split(d)?;
        Ok(AsyncConfig {
            appender: own.appender,
            queue,
        })
    }
}

/// The queue options of `async`, and of `audit_file` with `mode: async`, as the YAML writes
/// them (flat among the kind's own): `capacity`, `when_full`, `shutdown_timeout`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    #[serde(default)]
    capacity: Option<usize>,
    #[serde(default)]
    when_full: Option<String>,
    #[serde(default)]
    shutdown_timeout: Option<String>,
}

impl crate::config::flat::SharedOptions for QueueConfig {
    const NAMES: &'static [&'static str] = &["capacity", "when_full", "shutdown_timeout"];
}

impl QueueConfig {
    /// The queue settings, defaults filled in.
    pub(crate) fn check(&self) -> anyhow::Result<QueueOptions> {
        QueueOptions::parse(
            self.capacity,
            self.when_full.as_deref(),
            self.shutdown_timeout.as_deref(),
        )
    }

    /// The first option given, if any (an error where no queue is asked for).
    pub(crate) fn first_given(&self) -> Option<&'static str> {
        [
            ("capacity", self.capacity.is_some()),
            ("when_full", self.when_full.is_some()),
            ("shutdown_timeout", self.shutdown_timeout.is_some()),
        ]
        .into_iter()
        .find_map(|(name, given)| given.then_some(name))
    }
}

impl crate::config::check::Describe for AsyncConfig {
    fn describe(&self, details: &mut Vec<String>) -> String {
        let inner = &self.appender;
        details.push(format!("async over {}", inner.kind));
        crate::config::check::describe_appender(&inner.kind, &inner.config, details)
    }
}

impl AsyncConfig {
    /// Checks the options of `async` itself (not the wrapped appender's).
    pub fn validate(&self) -> anyhow::Result<()> {
        self.options().map(drop)
    }

    fn options(&self) -> anyhow::Result<QueueOptions> {
        self.queue.check()
    }

    /// Builds the wrapped appender and starts the writer.
    pub fn build(&self, deserializers: &Deserializers) -> anyhow::Result<AsyncAppender> {
        let QueueOptions {
            capacity,
            when_full,
            shutdown_timeout,
        } = self.options()?;
        let kind = &self.appender.kind;
        let wrapped = |e: anyhow::Error| anyhow::anyhow!("appender: kind `{kind}`: {e:#}");
        let appender = if kind == "audit_file" {
            let file: FileConfig = self
                .appender
                .config
                .clone()
                .deserialize_into()
                .map_err(|e| wrapped(e.into()))?;
            if file.queue_options().map_err(wrapped)?.is_some() {
                return Err(wrapped(anyhow::anyhow!(
                    "mode: async inside an async appender"
                )));
            }
            AsyncAppender::for_file(
                file.build(deserializers).map_err(wrapped)?,
                capacity,
                when_full,
            )?
        } else {
            let inner = deserializers
                .deserialize::<dyn Append>(kind, self.appender.config.clone())
                .map_err(wrapped)?;
            let mut appender = AsyncAppender::for_appender(inner, capacity, when_full)?;
            appender.description = kind.clone();
            *appender.notices.description.lock() = kind.clone();
            appender
        };
        Ok(appender.with_shutdown_timeout(shutdown_timeout))
    }
}

/// The queue settings of `async` (and of `audit_file` with `mode: async`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct QueueOptions {
    pub(crate) capacity: usize,
    pub(crate) when_full: WhenFull,
    pub(crate) shutdown_timeout: Duration,
}

impl QueueOptions {
    pub(crate) fn parse(
        capacity: Option<usize>,
        when_full: Option<&str>,
        shutdown_timeout: Option<&str>,
    ) -> anyhow::Result<QueueOptions> {
        let when_full = WhenFull::parse(when_full, &[WhenFull::Block, WhenFull::Drop])?;
        let capacity = capacity.unwrap_or(DEFAULT_CAPACITY);
        if capacity == 0 {
            anyhow::bail!("capacity: must be greater than 0");
        }
        let shutdown_timeout = match shutdown_timeout {
            Some(text) => humantime::parse_duration(text)
                .map_err(|e| anyhow::anyhow!("shutdown_timeout: `{text}`: {e}"))?,
            None => DEFAULT_SHUTDOWN_TIMEOUT,
        };
        Ok(QueueOptions {
            capacity,
            when_full,
            shutdown_timeout,
        })
    }
}

/// The `async` appender kind.
#[derive(Clone, Copy, Debug, Default)]
pub struct AsyncAppenderDeserializer;

/// `async` in the table of kinds: its own options, then the wrapped appender's, the same way
/// (no thread is started). `check-config` describes the wrapped appender instead.
pub(crate) const KIND: crate::config::AppenderKind = crate::config::AppenderKind {
    name: "async",
    register: |d| d.insert("async", AsyncAppenderDeserializer),
    check: |options, d| {
        let a: AsyncConfig = options.deserialize_into()?;
        a.validate()?;
        crate::config::check::check_kind(&a.appender.kind, a.appender.config, d)
            .map_err(|e| anyhow::anyhow!("appender: kind `{}`: {e:#}", a.appender.kind))
    },
    describe: crate::config::check::described::<AsyncConfig>,
    path: |options| {
        let a: AsyncConfig = options.clone().deserialize_into().ok()?;
        crate::config::kinds::appender_path(&a.appender.kind, &a.appender.config)
    },
    log4j: &[],
};

crate::config::impl_deserialize!(AsyncAppenderDeserializer, AsyncConfig => Append, nested);
