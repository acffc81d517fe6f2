//! The installed `log::Log`: log4j logger semantics driving log4rs components.
//!
//! A [`Runtime`] is one built config (appenders, filters, hierarchy). The logger holds the
//! current runtime; each thread caches it together with the route of every target it logs
//! to, so the hot path is an atomic load and a hash lookup, with no shared lock and no tree walk.
//! A reload builds a new runtime (reusing every appender whose config did not change, so files
//! stay open and nothing is lost or written twice) and swaps it in.

mod check;
mod depth;
mod handle;
mod heartbeat;
mod hierarchy;
pub(crate) mod lifecycle;
pub(crate) mod pipeline;

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use log::{LevelFilter, Log, Metadata, Record};
use log4rs::append::{Append, AppenderConfig};
use log4rs::config::Deserializers;
use log4rs::filter::{Filter, Response};
use parking_lot::RwLock;

use crate::config::normalize_name;
pub use handle::{AppenderDestination, Handle};
use hierarchy::{Hierarchy, LoggerRoute, Node};
pub use pipeline::AlreadyInstalled;

use crate::config::{AuditConfig, ConfigError};
use crate::error::{AuditError, Reporter};

/// An appender with its filters, shared by every runtime that has the same config for it.
pub(crate) struct AppenderEntry {
    pub(crate) name: String,
    /// The config it was built from (`None` when built in code): equal config, same instance.
    pub(crate) source: Option<AppenderConfig>,
    pub(crate) appender: Box<dyn Append>,
    pub(crate) filters: Vec<Box<dyn Filter>>,
}

impl fmt::Debug for AppenderEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppenderEntry")
            .field("name", &self.name)
            .field("appender", &self.appender)
            .finish()
    }
}

impl AppenderEntry {
    /// log4rs's filter chain: the first `Accept` or `Reject` decides, `Neutral` goes on.
    fn accepts(&self, record: &Record) -> bool {
        for filter in &self.filters {
            match filter.filter(record) {
                Response::Accept => return true,
                Response::Reject => return false,
                Response::Neutral => {}
            }
        }
        true
    }
}

/// A built config.
#[derive(Debug)]
pub(crate) struct Runtime {
    id: u64,
    pub(crate) appenders: Vec<Arc<AppenderEntry>>,
    hierarchy: Hierarchy,
    /// Its audit targets and the topics' levels: where lifecycle events go, what `lock` keeps.
    pub(crate) coverage: lifecycle::Coverage,
    pub(crate) config: AuditConfig,
}

/// Unique ids for runtimes across all loggers, so a thread's cache knows when it is stale.
static NEXT_RUNTIME_ID: AtomicU64 = AtomicU64::new(1);

impl Runtime {
    /// Builds `config`, reusing appenders of `previous` whose name and config are unchanged.
    pub(crate) fn build(
        config: AuditConfig,
        deserializers: &Deserializers,
        previous: Option<&Runtime>,
        reporter: &Arc<Reporter>,
    ) -> Result<Runtime, ConfigError> {
        crate::error::building_with(reporter, || {
            Self::build_reporting(config, deserializers, previous)
        })
    }

    /// [`Runtime::build`] with the logger's reporter installed for the appenders built.
    fn build_reporting(
        config: AuditConfig,
        deserializers: &Deserializers,
        previous: Option<&Runtime>,
    ) -> Result<Runtime, ConfigError> {
        let reusable = |spec: &crate::config::AppenderSpec| {
            previous.and_then(|p| {
                p.appenders
                    .iter()
                    .find(|e| e.name == spec.name && e.source.as_ref() == Some(&spec.config))
            })
        };
        // Check every new component before building any, so a rejected config has no side
        // effect (an `append: false` file is not emptied by a config that is then refused).
        for spec in &config.appenders {
            if reusable(spec).is_none() {
                crate::config::check::validate_appender(&config, spec, deserializers)?;
            }
        }
        let mut appenders = Vec::with_capacity(config.appenders.len());
        for spec in &config.appenders {
            let reused = reusable(spec);
            let entry = match reused {
                Some(e) => Arc::clone(e),
                None => {
                    let key = format!("appenders.{}", spec.name);
                    let mut filters = Vec::with_capacity(spec.config.filters.len());
                    for f in &spec.config.filters {
                        let filter = deserializers
                            .deserialize::<dyn Filter>(&f.kind, f.config.clone())
                            .map_err(|e| {
                                config.error(
                                    spec.line,
                                    format!("{key}.filters"),
                                    format!("kind `{}`: {e:#}", f.kind),
                                )
                            })?;
                        filters.push(filter);
                    }
                    let appender = deserializers
                        .deserialize::<dyn Append>(&spec.config.kind, spec.config.config.clone())
                        .map_err(|e| {
                            config.error(
                                spec.line,
                                key.clone(),
                                format!("kind `{}`: {e:#}", spec.config.kind),
                            )
                        })?;
                    Arc::new(AppenderEntry {
                        name: spec.name.clone(),
                        source: Some(spec.config.clone()),
                        appender,
                        filters,
                    })
                }
            };
            appenders.push(entry);
        }
        let hierarchy = hierarchy_of(&config)?;
        let coverage = lifecycle::Coverage::of(&config, &hierarchy);
        Ok(Runtime {
            id: NEXT_RUNTIME_ID.fetch_add(1, Ordering::Relaxed),
            appenders,
            hierarchy,
            coverage,
            config,
        })
    }

    fn resolve(&self, target: &str) -> Arc<Resolved> {
        let LoggerRoute { level, appenders } = self.hierarchy.route(target);
        Arc::new(Resolved {
            level,
            appenders: appenders
                .into_iter()
                .map(|i| Arc::clone(&self.appenders[i]))
                .collect(),
        })
    }

    fn flush(&self) {
        for entry in &self.appenders {
            entry.appender.flush();
        }
    }
}

/// The loggers of `config` as a hierarchy over the positions of its appenders (the runtime's
/// appenders are built in the same order): side-effect free, so `lock` can compare a config
/// before anything of it is built.
fn hierarchy_of(config: &AuditConfig) -> Result<Hierarchy, ConfigError> {
    let index: HashMap<&str, usize> = config
        .appenders
        .iter()
        .enumerate()
        .map(|(i, spec)| (spec.name.as_str(), i))
        .collect();
    let node = |l: &crate::config::LoggerSpec| Node {
        level: l.level,
        appenders: l
            .appenders
            .iter()
            .filter_map(|a| index.get(a.as_str()).copied())
            .collect(),
        additive: l.additive,
    };
    let mut loggers = HashMap::with_capacity(config.loggers.len());
    for l in &config.loggers {
        let name = normalize_name(&l.name)
            .map_err(|m| config.error(None, format!("loggers.{}", l.name), m.to_string()))?;
        loggers.insert(name, node(l));
    }
    Ok(Hierarchy::new(loggers, node(&config.root)))
}

/// Where records of one target go under one runtime.
#[derive(Debug)]
struct Resolved {
    level: LevelFilter,
    appenders: Vec<Arc<AppenderEntry>>,
}

/// State shared by the logger, its handle and the reload thread.
pub(crate) struct Shared {
    current: RwLock<Arc<Runtime>>,
    current_id: AtomicU64,
    deserializers: Deserializers,
    pub(crate) reporter: Arc<Reporter>,
    /// Whether this logger is the global one (then it owns `log::max_level`).
    installed: AtomicBool,
    /// One config change at a time (the reload thread and `set_config` may race).
    applying: parking_lot::Mutex<()>,
    /// Itself, for the heartbeat thread a reload may start.
    me: Weak<Shared>,
    /// When the logger was built: the heartbeats' and the stop's uptime.
    started: Instant,
    /// Heartbeats written so far (across reloads).
    beats: AtomicU64,
    /// The heartbeat thread, while the config has a heartbeat.
    heartbeat: parking_lot::Mutex<Option<heartbeat::Heartbeat>>,
    /// `audit-logger-stop` was written: no heartbeat starts again.
    stopped: AtomicBool,
}

impl Shared {
    fn runtime(&self) -> Arc<Runtime> {
        Arc::clone(&self.current.read())
    }

    pub(crate) fn report(&self, error: AuditError) {
        self.reporter.report(error);
    }

    /// Builds and installs `config`; the running config stays if it fails, and then the
    /// refusal is written to the trail (`audit-config-change-refused`) before it is returned.
    /// Under `lock: true`, a config that would lower coverage is refused before anything of it
    /// is built.
    pub(crate) fn apply(&self, config: AuditConfig) -> Result<(), ConfigError> {
        let _one_at_a_time = self.applying.lock();
        let old = self.runtime();
        if old.config.audit.lock {
            let coverage = match hierarchy_of(&config) {
                Ok(h) => lifecycle::Coverage::of(&config, &h),
                Err(e) => return Err(self.refused(&old, e, config.sha256.as_deref())),
            };
            let reasons = lifecycle::lowered(&old.config, &old.coverage, &config, &coverage);
            if !reasons.is_empty() {
                let sha = config.sha256.clone();
                let error = ConfigError::Locked {
                    file: config.source.clone(),
                    reasons,
                };
                return Err(self.refused(&old, error, sha.as_deref()));
            }
        }
        let warnings = config.warnings.clone();
        let sha = config.sha256.clone();
        let new = match Runtime::build(config, &self.deserializers, Some(&old), &self.reporter) {
            Ok(new) => Arc::new(new),
            Err(e) => return Err(self.refused(&old, e, sha.as_deref())),
        };
        let max_level = new.hierarchy.max_level();
        let new_id = new.id;
        *self.current.write() = Arc::clone(&new);
        self.current_id.store(new_id, Ordering::Release);
        if self.installed.load(Ordering::Relaxed) {
            log::set_max_level(max_level);
        }
        pipeline::config_changed();
        for w in warnings {
            self.report(AuditError::ConfigWarning(w));
        }
        // The change goes to the new audit targets and to the old ones that are gone, whose
        // trail then ends saying why (a target whose config changed gets it once, new).
        let gone = lifecycle::entries(&old)
            .filter(|e| !new.coverage.targets.iter().any(|t| t.name == e.name));
        lifecycle::Event::change(&old, &new)
            .deliver(lifecycle::entries(&new).chain(gone), &self.reporter);
        // Appenders that were not carried over get everything they hold written now.
        for entry in &old.appenders {
            if !new.appenders.iter().any(|e| Arc::ptr_eq(e, entry)) {
                entry.appender.flush();
            }
        }
        self.ensure_heartbeat();
        Ok(())
    }

    /// Writes `audit-config-change-refused` for `error` to the running config's audit targets
    /// and gives the error back (for the caller to return or report).
    fn refused(&self, running: &Runtime, error: ConfigError, sha: Option<&str>) -> ConfigError {
        lifecycle::Event::refused(&running.config, &error.to_string(), sha)
            .deliver(lifecycle::entries(running), &self.reporter);
        error
    }

    /// Re-reads `path` (the running config's file) and applies it; a file that cannot be
    /// read or parsed is refused (written to the trail) as an invalid one is.
    pub(crate) fn reload_file(&self, path: &std::path::Path) -> Result<(), ConfigError> {
        match std::fs::read(path) {
            Ok(bytes) => self.reload_bytes(path, bytes),
            Err(source) => {
                let error = ConfigError::Read {
                    path: path.into(),
                    source,
                };
                Err(self.refused(&self.runtime(), error, None))
            }
        }
    }

    /// Applies `bytes`, the content of `path` as just read, so the digest in the trail is
    /// that of exactly what was parsed.
    pub(crate) fn reload_bytes(
        &self,
        path: &std::path::Path,
        bytes: Vec<u8>,
    ) -> Result<(), ConfigError> {
        let sha = crate::config::sha256_hex(&bytes);
        let parsed = match crate::config::ConfigFormat::of(path) {
            Some(format) => AuditConfig::from_bytes(
                path,
                format,
                bytes,
                &crate::config::PropertiesOptions::default(),
            ),
            None => Err(ConfigError::UnsupportedFormat(path.into())),
        };
        match parsed {
            Ok(config) => self.apply(config),
            Err(e) => Err(self.refused(&self.runtime(), e, Some(&sha))),
        }
    }

    /// Writes `audit-logger-start` to the audit targets.
    fn start(&self) {
        let runtime = self.runtime();
        lifecycle::Event::start(&runtime.config, &runtime.coverage)
            .deliver(lifecycle::entries(&runtime), &self.reporter);
    }

    /// Writes one `audit-heartbeat`.
    fn beat(&self) {
        let _one_at_a_time = self.applying.lock();
        if self.stopped.load(Ordering::Acquire) {
            return;
        }
        let beat = self.beats.fetch_add(1, Ordering::Relaxed) + 1;
        let runtime = self.runtime();
        lifecycle::Event::heartbeat(&runtime.config, beat, self.uptime_ms())
            .deliver(lifecycle::entries(&runtime), &self.reporter);
    }

    /// Stops the heartbeat and writes `audit-logger-stop` (once).
    pub(crate) fn stop(&self) {
        // Out of the slot first: the thread may be waiting for `applying` to write a beat.
        let heartbeat = self.heartbeat.lock().take();
        if let Some(h) = heartbeat {
            h.stop();
        }
        let _one_at_a_time = self.applying.lock();
        if self.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        let runtime = self.runtime();
        let beats = self.beats.load(Ordering::Relaxed);
        lifecycle::Event::stop(&runtime.config, beats, self.uptime_ms())
            .deliver(lifecycle::entries(&runtime), &self.reporter);
    }

    fn uptime_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Starts, wakes or stops the heartbeat thread to match the running config.
    fn ensure_heartbeat(&self) {
        let wanted = self.runtime().config.audit.heartbeat.is_some();
        let mut slot = self.heartbeat.lock();
        match slot.as_ref() {
            Some(h) if h.is_running() => h.wake(),
            _ if wanted && !self.stopped.load(Ordering::Acquire) => {
                *slot = heartbeat::Heartbeat::start(self.me.clone());
            }
            _ => {}
        }
    }
}

/// Per-thread cache: the runtime this thread last used and the routes of its targets.
#[derive(Default)]
struct ThreadCache {
    runtime: Option<Arc<Runtime>>,
    routes: HashMap<String, Arc<Resolved>>,
    /// The last target looked up and its route: a thread usually logs to one target in a row.
    last_target: String,
    last_route: Option<Arc<Resolved>>,
}

/// Targets cached per thread before the cache is cleared (targets are normally few).
const MAX_CACHED_TARGETS: usize = 4096;

thread_local! {
    static CACHE: RefCell<ThreadCache> = RefCell::new(ThreadCache::default());
}

/// The `log::Log` implementation; install it with [`crate::init_file`] or
/// [`crate::init_config`], or use it directly with [`AuditLogger::new`].
#[derive(Clone)]
pub struct AuditLogger {
    shared: Arc<Shared>,
}

impl fmt::Debug for AuditLogger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLogger").finish_non_exhaustive()
    }
}

impl AuditLogger {
    /// Builds a logger (not installed) and its handle.
    ///
    /// ```
    /// use log::Log;
    /// use log4rs_audit::{AuditConfig, AuditLogger};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let yaml = format!("appenders:\n  a:\n    kind: audit_file\n    path: {}/audit.log\n\
    ///                     loggers:\n  dku.audit: {{ level: info, appenders: [a] }}\n", dir.path().display());
    /// let (logger, _handle) = AuditLogger::new(AuditConfig::from_yaml(&yaml, None).unwrap()).unwrap();
    /// let record = log::Record::builder().target("dku.audit.generic").args(format_args!("hello")).build();
    /// logger.log(&record);
    /// logger.flush();
    /// assert!(std::fs::read_to_string(dir.path().join("audit.log")).unwrap().contains("\"message\":\"hello\""));
    /// ```
    pub fn new(config: AuditConfig) -> Result<(AuditLogger, Handle), ConfigError> {
        Self::with_deserializers(config, crate::config::deserializers())
    }

    /// Like [`AuditLogger::new`], with extra component kinds registered in `deserializers`.
    pub fn with_deserializers(
        config: AuditConfig,
        deserializers: Deserializers,
    ) -> Result<(AuditLogger, Handle), ConfigError> {
        let warnings = config.warnings.clone();
        let reporter = Arc::new(Reporter::new());
        let runtime = Arc::new(Runtime::build(config, &deserializers, None, &reporter)?);
        let shared = Arc::new_cyclic(|me| Shared {
            current_id: AtomicU64::new(runtime.id),
            current: RwLock::new(runtime),
            deserializers,
            reporter,
            installed: AtomicBool::new(false),
            applying: parking_lot::Mutex::new(()),
            me: me.clone(),
            started: Instant::now(),
            beats: AtomicU64::new(0),
            heartbeat: parking_lot::Mutex::new(None),
            stopped: AtomicBool::new(false),
        });
        for w in warnings {
            shared.report(AuditError::ConfigWarning(w));
        }
        shared.start();
        shared.ensure_heartbeat();
        let handle = Handle::start(Arc::clone(&shared));
        Ok((AuditLogger { shared }, handle))
    }

    /// Installs this logger as the global `log` logger and as the audit pipeline that
    /// [`audit!`](crate::audit) reaches whatever `log`'s levels say. Fails, changing nothing,
    /// if another audit pipeline or `log` logger is installed.
    pub fn install(self) -> Result<(), crate::InitError> {
        if pipeline::is_installed() {
            return Err(AlreadyInstalled.into());
        }
        let shared = Arc::clone(&self.shared);
        let front = self.clone();
        log::set_boxed_logger(Box::new(self))?;
        pipeline::install(front)?;
        // Under the config lock, so a reload cannot slip between reading and setting the level.
        let _one_at_a_time = shared.applying.lock();
        shared.installed.store(true, Ordering::Relaxed);
        log::set_max_level(shared.runtime().hierarchy.max_level());
        Ok(())
    }

    /// Whether an event of `level` under `target` goes to at least one appender (before
    /// filters): what the tracing Layer asks before it turns an event into a record.
    #[cfg(feature = "tracing")]
    pub(crate) fn routes(&self, target: &str, level: log::Level) -> bool {
        self.with_route(target, |r| level <= r.level && !r.appenders.is_empty())
    }

    /// The most verbose level any logger of the current config lets through.
    #[cfg(feature = "tracing")]
    pub(crate) fn max_level(&self) -> LevelFilter {
        self.shared.runtime().hierarchy.max_level()
    }

    /// Runs `f` with the route of `target` under the current runtime.
    fn with_route<R>(&self, target: &str, f: impl FnOnce(&Resolved) -> R) -> R {
        let current = self.shared.current_id.load(Ordering::Acquire);
        let cached = CACHE.try_with(|cell| {
            let mut cache = cell.try_borrow_mut().ok()?;
            if cache.runtime.as_ref().map(|r| r.id) != Some(current) {
                cache.runtime = Some(self.shared.runtime());
                cache.routes.clear();
                cache.last_route = None;
            }
            if let Some(route) = cache
                .last_route
                .as_ref()
                .filter(|_| cache.last_target == target)
            {
                return Some(Arc::clone(route));
            }
            let route = match cache.routes.get(target) {
                Some(route) => Arc::clone(route),
                None => {
                    let route = cache.runtime.as_ref()?.resolve(target);
                    if cache.routes.len() >= MAX_CACHED_TARGETS {
                        cache.routes.clear();
                    }
                    cache.routes.insert(target.to_owned(), Arc::clone(&route));
                    route
                }
            };
            cache.last_target.clear();
            cache.last_target.push_str(target);
            cache.last_route = Some(Arc::clone(&route));
            Some(route)
        });
        // Re-entrant logging (from inside an appender) and logging while the thread's locals
        // are being destroyed skip the cache.
        let cached = cached.ok().flatten();
        let route = cached.unwrap_or_else(|| self.shared.runtime().resolve(target));
        f(&route)
    }
}

impl Log for AuditLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        self.with_route(metadata.target(), |r| metadata.level() <= r.level)
    }

    fn log(&self, record: &Record) {
        self.with_route(record.target(), |route| {
            if record.level() > route.level || route.appenders.is_empty() {
                return;
            }
            if let Some(why) = check::refusal(record) {
                self.shared.report(AuditError::Refused {
                    logger: record.target().to_owned(),
                    why,
                });
                return;
            }
            for entry in &route.appenders {
                if !entry.accepts(record) {
                    continue;
                }
                if let Err(error) = entry.appender.append(record) {
                    self.shared.report(AuditError::Append {
                        appender: entry.name.clone(),
                        error,
                    });
                }
            }
        });
    }

    fn flush(&self) {
        self.shared.runtime().flush();
    }
}
