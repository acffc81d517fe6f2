//! The `audit_file` appender: encode on the caller, write whole lines, roll like log4j.

mod log4j;

use std::cell::RefCell;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use log::Record;
use log4rs::append::Append;
use log4rs::config::Deserializers;
use log4rs::encode::{Encode, EncoderConfig};
use serde::Deserialize;

use super::registry::{self, SharedSink};
use super::roll::{date_pattern_to_roll, Compression, Period, RollPolicy};
use super::sink::{Durability, Fsync, LineSink};
use crate::config::expand_env;
use crate::config::size::ByteSize;
use crate::encode::{AuditEnvelopeConfig, AuditEnvelopeEncoder};
use crate::file_mode::FileMode;
use crate::integrity::{IntegrityConfig, IntegrityOptions};

/// Default size of the `buffered` queue before it is written.
pub const DEFAULT_BUFFER_SIZE: usize = 64 * 1024;
/// Default interval of the `buffered` flusher.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// The encoder of a file appender; the envelope is called directly, without `dyn` writes.
#[derive(Debug)]
enum LineEncoder {
    Envelope(AuditEnvelopeEncoder),
    Other(Box<dyn Encode>),
}

/// Adapts a byte buffer to log4rs's encoder output.
struct VecWriter<'a>(&'a mut Vec<u8>);

impl io::Write for VecWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl log4rs::encode::Write for VecWriter<'_> {}

thread_local! {
    static LINE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(1024));
}

/// Settings of an [`AuditFileAppender`] beyond its path and encoder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileOptions {
    /// Rolling by size and/or time.
    pub policy: RollPolicy,
    /// When lines reach the OS.
    pub durability: Durability,
    /// Whether batches are also fsynced.
    pub fsync: Fsync,
    /// Queue size that triggers a write in `buffered` mode.
    pub buffer_size: usize,
    /// Interval of the `buffered` flusher.
    pub flush_interval: Duration,
    /// A hash chain with checkpoints in a digest sidecar (see [`crate::integrity`]).
    pub integrity: Option<IntegrityOptions>,
}

impl Default for FileOptions {
    fn default() -> Self {
        FileOptions {
            policy: RollPolicy::never(),
            durability: Durability::Immediate,
            fsync: Fsync::None,
            buffer_size: DEFAULT_BUFFER_SIZE,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
            integrity: None,
        }
    }
}

/// Appends encoded lines to a rolling file; the appender kind `audit_file`.
///
/// Each record is encoded on the calling thread into a reused per-thread buffer, outside any
/// lock, then handed to the file as one whole line. See [`Durability`] for when it is written.
///
/// Appenders on one file in a process share it (a reload hands the open file, its queue and
/// its roll state to the new appender, which brings its policy and settings); another process
/// opening the same file is refused (an advisory lock on `.<name>.lock` beside it).
///
/// ```
/// use log4rs_audit::append::{AuditFileAppender, FileOptions};
/// use log4rs_audit::encode::AuditEnvelopeEncoder;
/// use log4rs::append::Append;
///
/// let dir = tempfile::tempdir().unwrap();
/// let appender = AuditFileAppender::new(
///     dir.path().join("audit.log"),
///     AuditEnvelopeEncoder::default(),
///     FileOptions::default(),
/// ).unwrap();
/// let kvs = [("msgType", log::kv::Value::from("login"))];
/// appender.append(&log::Record::builder().target("dku.audit.generic").key_values(&kvs).build()).unwrap();
/// let text = std::fs::read_to_string(dir.path().join("audit.log")).unwrap();
/// assert!(text.starts_with("{\"severity\":\"INFO\",\"logger\":\"dku.audit.generic\",\"message\":{\"msgType\":\"login\"}"));
/// ```
#[derive(Debug)]
pub struct AuditFileAppender {
    encoder: LineEncoder,
    sink: SharedSink,
    path: PathBuf,
    flusher: Option<Flusher>,
}

impl AuditFileAppender {
    /// An appender writing envelope lines to `path` (parent directories are created).
    pub fn new(
        path: impl Into<PathBuf>,
        encoder: AuditEnvelopeEncoder,
        options: FileOptions,
    ) -> io::Result<AuditFileAppender> {
        Self::with_encoder(path.into(), LineEncoder::Envelope(encoder), options)
    }

    /// An appender writing lines made by any log4rs encoder.
    pub fn with_log4rs_encoder(
        path: impl Into<PathBuf>,
        encoder: Box<dyn Encode>,
        options: FileOptions,
    ) -> io::Result<AuditFileAppender> {
        Self::with_encoder(path.into(), LineEncoder::Other(encoder), options)
    }

    fn with_encoder(
        path: PathBuf,
        encoder: LineEncoder,
        options: FileOptions,
    ) -> io::Result<AuditFileAppender> {
        let checkpoint_every = options.integrity.as_ref().map(|i| i.checkpoint_every);
        let sink = registry::open(&path, &options).map_err(|e| {
            if e.kind() == io::ErrorKind::WouldBlock {
                e // names the file already
            } else {
                io::Error::new(e.kind(), format!("{}: {e}", path.display()))
            }
        })?;
        // The flusher also writes time-based checkpoints (integrity).
        let flusher = match (options.durability, checkpoint_every) {
            (Durability::Buffered, every) => {
                let interval =
                    every.map_or(options.flush_interval, |e| e.min(options.flush_interval));
                Flusher::start(Arc::downgrade(sink.sink()), interval, true)
            }
            (Durability::Immediate, Some(every)) => Flusher::start(
                Arc::downgrade(sink.sink()),
                every.min(Duration::from_secs(1)),
                false,
            ),
            (Durability::Immediate, None) => None,
        };
        Ok(AuditFileAppender {
            encoder,
            sink,
            path,
            flusher,
        })
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the encoded line of `record` to `line` (the `async` appender encodes on the
    /// caller with this, then hands many lines at once to [`AuditFileAppender::write_lines`]).
    pub(crate) fn encode_line(&self, line: &mut Vec<u8>, record: &Record) -> anyhow::Result<()> {
        match &self.encoder {
            LineEncoder::Envelope(e) => e.encode_into(line, record),
            LineEncoder::Other(e) => e.encode(&mut VecWriter(line), record)?,
        }
        Ok(())
    }

    /// Hands whole lines to the sink, first applying this appender's settings to a file it
    /// adopted (a reload); an error applying them is reported after the lines were written.
    fn submit(&self, lines: &[u8]) -> anyhow::Result<()> {
        let adopted = self.sink.apply_pending();
        let written = self.sink.sink().submit(lines);
        written
            .and(adopted)
            .map_err(|e| anyhow::anyhow!("{}: {e}", self.path.display()))
    }

    /// Hands whole encoded lines to the file, as one submission.
    pub(crate) fn write_lines(&self, lines: &[u8]) -> anyhow::Result<()> {
        self.submit(lines)
    }
}

impl Append for AuditFileAppender {
    fn append(&self, record: &Record) -> anyhow::Result<()> {
        crate::local::with_local(&LINE, |line| {
            line.clear();
            match &self.encoder {
                LineEncoder::Envelope(e) => e.encode_into(line, record),
                LineEncoder::Other(e) => e.encode(&mut VecWriter(line), record)?,
            }
            if line.capacity() > 1 << 20 {
                // One huge event must not pin a megabyte per thread forever.
                let result = self.submit(line);
                *line = Vec::with_capacity(1024);
                return result;
            }
            self.submit(line)
        })
    }

    /// Writes every queued line and, with `integrity`, a checkpoint covering them.
    fn flush(&self) {
        let sink = self.sink.sink();
        if let Err(e) = sink.flush().and_then(|()| sink.checkpoint_now()) {
            eprintln!("log4rs-audit: flushing {}: {e}", self.path.display());
        }
    }
}

impl Drop for AuditFileAppender {
    fn drop(&mut self) {
        if let Some(flusher) = self.flusher.take() {
            flusher.stop();
        }
        Append::flush(self);
    }
}

/// The background thread of `buffered` mode: writes the queue when the buffer is full and
/// every interval, so callers only queue (with `integrity`, the hashing happens here too); with
/// `integrity` it also writes time-based checkpoints (in `immediate` mode too).
#[derive(Debug)]
struct Flusher {
    sink: Weak<LineSink>,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Flusher {
    fn start(sink: Weak<LineSink>, interval: Duration, buffered: bool) -> Option<Flusher> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let weak = sink.clone();
        if buffered {
            if let Some(s) = sink.upgrade() {
                s.start_worker();
            }
        }
        let thread = std::thread::Builder::new()
            .name("log4rs-audit-flush".into())
            .spawn(move || loop {
                let Some(sink) = weak.upgrade() else { return };
                if buffered {
                    if !sink.work(interval) {
                        return;
                    }
                } else {
                    // Immediate mode: callers write; only checkpoints are due here.
                    std::thread::park_timeout(interval);
                }
                if stopping.load(Ordering::Acquire) {
                    return;
                }
                if let Err(e) = sink.tick() {
                    eprintln!("log4rs-audit: checkpoint of {}: {e}", sink.path().display());
                }
            });
        match thread {
            Ok(thread) => Some(Flusher { sink, stop, thread }),
            Err(e) => {
                // Without a thread the buffer is still written when full, on flush and on drop.
                if let Some(s) = sink.upgrade() {
                    s.stop_worker();
                }
                eprintln!("log4rs-audit: cannot start the flush thread: {e}");
                None
            }
        }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Release);
        if let Some(sink) = self.sink.upgrade() {
            sink.stop_worker();
        }
        self.thread.thread().unpark();
        let _ = self.thread.join();
    }
}

crate::config::flat::flat_config! {
    /// Options of the `audit_file` appender kind, as written in YAML.
    ///
    /// ```yaml
    /// kind: audit_file
    /// path: run/audit/audit.log        # $ENV{NAME} is expanded
    /// encoder: { kind: audit_envelope, timezone: local }
    /// policy: { max_size: 100 MB, max_backups: 20, compress: gzip, every: day }
    ///                                  # or date_pattern: "'.'yyyy-MM-dd-HH" (log4j DatePattern)
    /// durability: immediate            # immediate | buffered
    /// buffer_size: 64 KB               # buffered only
    /// flush_interval: 1 second         # buffered only
    /// fsync: none                      # none | batch
    /// append: true                     # false empties the file at start (log4j Append=false)
    /// mode: sync                       # async: behind a queue, as `kind: async` (options below)
    /// capacity: 65536                  # async only: events queued at most
    /// when_full: block                 # async only: block | drop
    /// shutdown_timeout: 10s            # async only: bound of flush and shutdown
    /// file_mode: '0640'                # files created (folders get x where r: 0750); quoted
    /// integrity:                       # hash chain + checkpoints in audit.log.digest
    ///   signing_key: { file: audit.key }   # optional; or { env: NAME }
    ///   checkpoint_lines: 1000
    ///   checkpoint_seconds: 60
    /// ```
    pub struct FileConfig {
        own: Own,
        queue: super::async_appender::QueueConfig,
    }
}

/// The options of `audit_file` beside its queue's ([`super::async_appender::QueueConfig`]).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Own {
    path: String,
    #[serde(default)]
    encoder: Option<EncoderConfig>,
    #[serde(default)]
    policy: Option<PolicyConfig>,
    #[serde(default)]
    durability: Durability,
    #[serde(default)]
    fsync: Fsync,
    #[serde(default)]
    buffer_size: Option<ByteSize>,
    #[serde(default)]
    flush_interval: Option<String>,
    /// `false` empties the file when the appender starts (log4j's `Append=false`).
    #[serde(default = "append_default")]
    append: bool,
    /// Tamper evidence: see [`IntegrityConfig`].
    #[serde(default)]
    integrity: Option<IntegrityConfig>,
    /// `sync` (default) or `async`: behind the queue of an [`AsyncAppender`](super::AsyncAppender),
    /// as if wrapped in `kind: async`, with the three options below.
    #[serde(default)]
    mode: Option<String>,
    /// Mode of the files and folders created (default `0640`, folders `0750`): see
    /// [`FileMode`].
    #[serde(default)]
    file_mode: Option<FileMode>,
}

fn append_default() -> bool {
    true
}

/// The `policy` block of `audit_file`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyConfig {
    #[serde(default)]
    max_size: Option<ByteSize>,
    #[serde(default)]
    max_backups: Option<u32>,
    #[serde(default)]
    every: Option<String>,
    /// strftime suffix of time-rolled files (default by period, e.g. `.%Y-%m-%d`).
    #[serde(default)]
    suffix: Option<String>,
    /// log4j's DatePattern (`'.'yyyy-MM-dd-HH`): sets both the period and the suffix.
    #[serde(default)]
    date_pattern: Option<String>,
    #[serde(default)]
    compress: Option<String>,
}

/// Backups kept when `max_size` is set without `max_backups` (the seed product's default).
pub const DEFAULT_MAX_BACKUPS: u32 = 20;

impl crate::config::check::Describe for FileConfig {
    fn describe(&self, details: &mut Vec<String>) -> String {
        if let Some(p) = &self.own.policy {
            if let Some(size) = p.max_size {
                details.push(format!("max_size {size}"));
            }
            if let Some(n) = p.max_backups {
                details.push(format!("max_backups {n}"));
            }
            for (key, v) in [
                ("every", &p.every),
                ("date_pattern", &p.date_pattern),
                ("compress", &p.compress),
            ] {
                if let Some(v) = v {
                    details.push(format!("{key} {v}"));
                }
            }
        }
        if let Some(enc) = &self.own.encoder {
            details.push(crate::config::check::encoder_detail(&enc.kind, &enc.config));
        }
        crate::config::expand_env(&self.own.path)
    }
}

impl PolicyConfig {
    fn build(&self) -> anyhow::Result<RollPolicy> {
        let mut every = match &self.every {
            Some(p) => Some(
                p.parse::<Period>()
                    .map_err(|e| anyhow::anyhow!("policy.every: {e}"))?,
            ),
            None => None,
        };
        let mut suffix = self.suffix.clone();
        if let Some(pattern) = &self.date_pattern {
            if self.every.is_some() || self.suffix.is_some() {
                anyhow::bail!(
                    "policy.date_pattern: give either date_pattern or every/suffix, not both"
                );
            }
            let (period, format) = date_pattern_to_roll(pattern)
                .map_err(|e| anyhow::anyhow!("policy.date_pattern: `{pattern}`: {e}"))?;
            every = Some(period);
            suffix = Some(format);
        }
        if suffix.is_some() && every.is_none() {
            anyhow::bail!("policy.suffix: needs `every`");
        }
        let compress = match self.compress.as_deref() {
            None | Some("none") => Compression::None,
            Some("gzip") | Some("gz") => Compression::Gzip,
            Some(other) => anyhow::bail!("policy.compress: `{other}` (expected none or gzip)"),
        };
        let max_size = self.max_size.map(|s| s.0);
        if max_size == Some(0) {
            anyhow::bail!("policy.max_size: must be greater than 0");
        }
        let max_backups = match (self.max_backups, max_size) {
            (Some(n), _) => n,
            (None, Some(_)) => DEFAULT_MAX_BACKUPS,
            (None, None) => 0,
        };
        Ok(RollPolicy {
            max_size,
            max_backups,
            every,
            suffix,
            compress,
            file_mode: FileMode::default(),
        })
    }
}

impl FileConfig {
    /// Checks every option (encoder and policy included) without opening the file.
    pub fn validate(&self, deserializers: &Deserializers) -> anyhow::Result<()> {
        self.queue_options()?;
        self.options(deserializers).map(drop)
    }

    /// The queue of `mode: async`; `None` for `mode: sync`.
    pub(crate) fn queue_options(
        &self,
    ) -> anyhow::Result<Option<super::async_appender::QueueOptions>> {
        match self.own.mode.as_deref() {
            None | Some("sync") => match self.queue.first_given() {
                Some(name) => anyhow::bail!("{name}: needs `mode: async`"),
                None => Ok(None),
            },
            Some("async") => self.queue.check().map(Some),
            Some(other) => anyhow::bail!("mode: `{other}` (expected sync or async)"),
        }
    }

    /// Builds the appender (opening the file), using `deserializers` for a non-envelope encoder.
    pub fn build(&self, deserializers: &Deserializers) -> anyhow::Result<AuditFileAppender> {
        let (encoder, options) = self.options(deserializers)?;
        let path = expand_env(&self.own.path);
        // A file this process has open is never emptied by a reload: it is adopted.
        if !self.own.append && !registry::is_open(Path::new(&path)) {
            truncate(Path::new(&path), options.policy.file_mode)?;
        }
        Ok(AuditFileAppender::with_encoder(
            PathBuf::from(path),
            encoder,
            options,
        )?)
    }

    fn options(&self, deserializers: &Deserializers) -> anyhow::Result<(LineEncoder, FileOptions)> {
        let encoder = match &self.own.encoder {
            None => LineEncoder::Envelope(AuditEnvelopeEncoder::default()),
            Some(cfg) if cfg.kind == "audit_envelope" => {
                let cfg: AuditEnvelopeConfig = cfg
                    .config
                    .clone()
                    .deserialize_into()
                    .map_err(|e| anyhow::anyhow!("encoder: {e}"))?;
                LineEncoder::Envelope(cfg.build().map_err(|e| anyhow::anyhow!("encoder: {e}"))?)
            }
            Some(cfg) => LineEncoder::Other(
                deserializers
                    .deserialize(&cfg.kind, cfg.config.clone())
                    .map_err(|e| anyhow::anyhow!("encoder: {e}"))?,
            ),
        };
        let flush_interval = match &self.own.flush_interval {
            Some(text) => humantime::parse_duration(text)
                .map_err(|e| anyhow::anyhow!("flush_interval: `{text}`: {e}"))?,
            None => DEFAULT_FLUSH_INTERVAL,
        };
        if flush_interval.is_zero() {
            anyhow::bail!("flush_interval: must be greater than 0");
        }
        let options = FileOptions {
            policy: RollPolicy {
                file_mode: self.own.file_mode.unwrap_or_default(),
                ..match &self.own.policy {
                    Some(p) => p.build()?,
                    None => RollPolicy::never(),
                }
            },
            durability: self.own.durability,
            fsync: self.own.fsync,
            buffer_size: self
                .own
                .buffer_size
                .map_or(DEFAULT_BUFFER_SIZE, |s| s.0 as usize),
            flush_interval,
            integrity: match &self.own.integrity {
                Some(i) => Some(i.build(self.own.fsync == Fsync::Batch)?),
                None => None,
            },
        };
        Ok((encoder, options))
    }
}

/// Empties (or creates, with `mode`) the file, creating its directory.
fn truncate(path: &Path, mode: FileMode) -> io::Result<()> {
    mode.create_parent(path)?;
    mode.open(path, std::fs::OpenOptions::new().write(true).truncate(true))
        .map(drop)
}

/// The `audit_file` appender kind.
#[derive(Clone, Copy, Debug, Default)]
pub struct AuditFileAppenderDeserializer;

/// `audit_file` in the table of kinds ([`crate::config`]'s `APPENDER_KINDS`).
pub(crate) const KIND: crate::config::AppenderKind = crate::config::AppenderKind {
    name: "audit_file",
    register: |d| d.insert("audit_file", AuditFileAppenderDeserializer),
    check: |options, d| options.deserialize_into::<FileConfig>()?.validate(d),
    describe: crate::config::check::described::<FileConfig>,
    path: |options| {
        let c: FileConfig = options.clone().deserialize_into().ok()?;
        Some(crate::config::expand_env(&c.own.path).into())
    },
    log4j: log4j::CLASSES,
};

impl log4rs::config::Deserialize for AuditFileAppenderDeserializer {
    type Trait = dyn Append;
    type Config = FileConfig;

    fn deserialize(
        &self,
        config: FileConfig,
        deserializers: &Deserializers,
    ) -> anyhow::Result<Box<dyn Append>> {
        let queue = config.queue_options()?;
        let file = config.build(deserializers)?;
        Ok(match queue {
            None => Box::new(file),
            Some(q) => Box::new(
                super::AsyncAppender::for_file(file, q.capacity, q.when_full)?
                    .with_shutdown_timeout(q.shutdown_timeout),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_defaults_and_errors() {
        let p: PolicyConfig = serde_yaml::from_str("max_size: 100 MB").unwrap();
        let p = p.build().unwrap();
        assert_eq!(p.max_size, Some(100 * 1024 * 1024));
        assert_eq!(p.max_backups, DEFAULT_MAX_BACKUPS);
        let p: PolicyConfig = serde_yaml::from_str("every: hourly").unwrap();
        assert!(p.build().unwrap_err().to_string().contains("policy.every"));
        let p: PolicyConfig = serde_yaml::from_str("compress: zip").unwrap();
        assert!(p
            .build()
            .unwrap_err()
            .to_string()
            .contains("policy.compress"));
        assert!(serde_yaml::from_str::<PolicyConfig>("max_sise: 1 MB").is_err());
    }
}
