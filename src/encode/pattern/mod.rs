//! log4j 1.2's `PatternLayout` and `EnhancedPatternLayout` as a log4rs encoder: the log4rs
//! encoder kind `log4j_pattern` (`layout: pattern`, the default, or `layout: enhanced`).
//!
//! The pattern languages are log4j 1.2.17's, parsed once into pieces and checked byte for byte
//! against the real jar (`tests/log4j_pattern_conformance.rs`). PatternLayout's:
//!
//! | conversion | prints |
//! |---|---|
//! | `%c`, `%c{n}` | the record's target; with `n`, its last `n` components, counting both `.` and `::` as separators (printed as they are) |
//! | `%C`, `%C{n}` | the record's module path (`::`-separated), `?` when absent |
//! | `%d`, `%d{ISO8601}` | `yyyy-MM-dd HH:mm:ss,SSS` |
//! | `%d{ABSOLUTE}` | `HH:mm:ss,SSS` |
//! | `%d{DATE}` | `dd MMM yyyy HH:mm:ss,SSS` |
//! | `%d{format}` | a `java.text.SimpleDateFormat` pattern (letters `G y Y M L d D E u F w W a H k K h m s S z Z X`, `'quoted'` text, `''`), in US English |
//! | `%F`, `%L` | the record's file and line, `?` when absent |
//! | `%l` | `module_path(file:line)`, missing parts as `?`; empty when the record has none of the three (log4j prints nothing for an event without location) |
//! | `%M` | `?`: Rust records carry no method name |
//! | `%m`, `%n`, `%p`, `%%` | the message (for an audit event, whose fields are key-values: its event object as JSON, `{"msgType":…}`), `\n`, the level (`ERROR` … `TRACE`), `%` |
//! | `%r` | milliseconds since the process's first pattern encoder was built (log4j: since `LoggingEvent` was loaded) |
//! | `%t` | the thread's name, or its id (`ThreadId(7)`) when unnamed |
//! | `%x` | the NDC: always empty, there is none |
//! | `%X{key}`, `%X` | one MDC value (empty when absent); the whole MDC as `{{k1,v1}{k2,v2}}`, keys sorted |
//!
//! Modifiers: `%5p` pads on the left, `%-5p` on the right, `%.30c` keeps the *last* 30
//! characters, `%20.30c` both; widths count UTF-16 units, as Java does.
//!
//! [`Log4jPatternEncoder::new`] accepts what log4j accepts and prints what log4j prints for its
//! mistakes (an unknown `%q` stays as text, `%d{bad format}` is ISO8601, …).
//! [`Log4jPatternEncoder::new_strict`], used by the `log4j_pattern` config kind, rejects those
//! with a [`PatternError`] naming the byte offset. Both refuse widths over [`MAX_WIDTH`].
//!
//! ## EnhancedPatternLayout
//!
//! Read by its own parser ([`Log4jPatternEncoder::new_enhanced`], `enhanced.rs`): conversion
//! words (`%logger`, `%level`, …, matched by their longest known start), `{…}` options on any
//! conversion, several back to back; `%c{…}`/`%C{…}` abbreviate with log4j's
//! `NameAbbreviator` (`{1.}`, `{-N}`, `{N}`: `names.rs`); `%d{format}{zone}` takes a Java zone
//! id (`zone.rs`); `%X`/`%properties` without a key list the MDC in log4j's `Hashtable` order;
//! `%throwable` is empty, `%sn` is `0`, `%x` is `null`, `%l` is `null` without location, `%n`
//! takes widths. Each conversion is written into the line and then padded or cut there, as
//! log4j does.
//!
//! ## Where it differs from log4j, on purpose
//!
//! - Rust records have no class or method: `%C` is the module path, `%M` is `?`, `%l` is
//!   `module_path(file:line)` (log4j: `class.method(file:line)`).
//! - `%t` of an unnamed thread is its id (`ThreadId(7)`); Java threads always have a name.
//! - `%x` is always empty (there is no NDC); `%n` is always `\n` (log4j: `line.separator`).
//! - Dates are in US English whatever the locale (log4j follows the JVM's), weeks (`w`, `W`, `Y`)
//!   use US rules (start on Sunday, week 1 holds January 1st), and the calendar is proleptic
//!   Gregorian (Java switches to Julian before 15 October 1582).
//! - `z` in the local zone is the system's abbreviation (`CET`, `CEST`, `EST`, `UTC`, …: Java's
//!   for the common zones, but not every zone); `zzzz` in the local zone is only spelled out
//!   for UTC and GMT, otherwise `GMT+01:00`. In `utc` and fixed zones both match Java
//!   (`UTC`/`Coordinated Universal Time`, `GMT+01:00`).
//! - log4j's `ISO8601` and `ABSOLUTE` formats cache the last second in static fields shared by
//!   every zone; we never print a stale second.
//! - Widths over [`MAX_WIDTH`] are refused (log4j pads with that many spaces, and wraps around or
//!   throws past `i32::MAX`); `%c{n}` takes ASCII digits only (Java also accepts other scripts'
//!   digits).
//! - [`new`](Log4jPatternEncoder::new) is silent about mistakes where log4j prints an error on
//!   stderr (its output is the same).
//! - EnhancedPatternLayout: `%X` without a key orders keys as if they had been put in sorted
//!   order (ours have no order; log4j's order of keys sharing a `Hashtable` bucket depends on
//!   when each was put); where log4j throws from the logging call (an abbreviation that reaches
//!   back before the line's start) the name is left as it is; named zones' long names (`zzzz`)
//!   are `GMT±hh:mm` and their short names the tz database's (Java: `GST` where the database
//!   has `+04`); conversion words beyond ASCII follow Rust's alphabetic classes, not Java's
//!   identifier classes; `::` is not an element separator of `%c{…}` (log4j knows only `.`).

mod calendar;
mod date;
mod enhanced;
mod format;
mod names;
mod parse;
mod zone;

use std::cell::RefCell;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use log::Record;
use log4rs::encode::{Encode, Write};

use self::calendar::Zone;
use self::format::{
    abbreviate, write_mdc_hashtable_order, write_thread, write_whole_mdc, write_with_spec,
};
use self::parse::{Conversion, Piece};
pub use self::parse::{PatternError, PatternErrorKind, MAX_WIDTH};
use super::timestamp::{Clock, SystemClock, Timezone};

/// Encodes records as log4j 1.2's `PatternLayout` would; the log4rs encoder kind `log4j_pattern`.
///
/// ```
/// use std::time::{Duration, Instant, UNIX_EPOCH};
/// use log4rs_audit::encode::{FixedClock, Log4jPatternEncoder, Timezone};
///
/// let now = UNIX_EPOCH + Duration::from_millis(1_582_124_702_441);
/// let encoder = Log4jPatternEncoder::new_strict("%d{ISO8601} %-5p [%t] %c{2}: %m%n")?
///     .with_timezone(Timezone::Utc)
///     .with_clock(FixedClock::new(now, Instant::now()));
/// let record = log::Record::builder()
///     .target("dku.audit.generic")
///     .level(log::Level::Info)
///     .args(format_args!("login ok"))
///     .build();
/// let mut line = Vec::new();
/// encoder.encode_into(&mut line, &record);
/// let thread = std::thread::current().name().unwrap_or("").to_owned();
/// assert_eq!(
///     String::from_utf8(line).unwrap(),
///     format!("2020-02-19 15:05:02,441 INFO  [{thread}] audit.generic: login ok\n")
/// );
/// # Ok::<(), log4rs_audit::encode::PatternError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Log4jPatternEncoder {
    pattern: String,
    layout: PatternLayoutKind,
    pieces: Arc<[Piece]>,
    timezone: Timezone,
    clock: Arc<dyn Clock>,
    /// Milliseconds since the epoch that `%r` counts from.
    start_millis: i64,
    /// Whether the pattern has `%d` or `%r` (the clock is read once per record only then).
    reads_clock: bool,
}

/// Which of log4j 1.2's pattern layouts a pattern is read as: `org.apache.log4j.PatternLayout`
/// or `org.apache.log4j.EnhancedPatternLayout` (conversion words, `%c{1.}` abbreviations,
/// `%d{…}{zone}`, `%properties`, `%throwable`, `%sn`; see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum PatternLayoutKind {
    /// `PatternLayout` (default).
    #[default]
    Pattern,
    /// `EnhancedPatternLayout`.
    Enhanced,
}

/// The instant `%r` counts from unless [`Log4jPatternEncoder::with_start`] says otherwise.
static PROCESS_START: OnceLock<SystemTime> = OnceLock::new();

impl Log4jPatternEncoder {
    /// An encoder for `pattern`, accepting everything log4j 1.2 accepts and printing what it
    /// prints for mistakes. Local time, the system clock.
    ///
    /// Fails only on a width over [`MAX_WIDTH`].
    pub fn new(pattern: &str) -> Result<Log4jPatternEncoder, PatternError> {
        Self::build(pattern, false)
    }

    /// Like [`new`](Self::new), but rejects what log4j only reports on stderr: an unknown
    /// conversion character, `%.` without a digit, a `{` without `}`, an empty `{}`, a bad
    /// `%c{n}` precision, an invalid date format, a pattern ending inside a conversion or
    /// with a lone `%`.
    pub fn new_strict(pattern: &str) -> Result<Log4jPatternEncoder, PatternError> {
        Self::build(pattern, true)
    }

    /// An encoder for `pattern` read as log4j 1.2.17's `EnhancedPatternLayout` reads it,
    /// accepting what it accepts and printing what it prints for mistakes.
    ///
    /// ```
    /// use log4rs_audit::encode::{FixedClock, Log4jPatternEncoder};
    /// use std::time::{Duration, Instant, UNIX_EPOCH};
    ///
    /// let now = UNIX_EPOCH + Duration::from_millis(1_582_124_702_441);
    /// let encoder = Log4jPatternEncoder::new_enhanced_strict("%d{HH:mm:ss}{GMT+2} %-5level %c{1.} %m%n")?
    ///     .with_clock(FixedClock::new(now, Instant::now()));
    /// let record = log::Record::builder()
    ///     .target("org.apache.solr.core.SolrCore")
    ///     .level(log::Level::Info)
    ///     .args(format_args!("started"))
    ///     .build();
    /// let mut line = Vec::new();
    /// encoder.encode_into(&mut line, &record);
    /// assert_eq!(String::from_utf8(line).unwrap(), "17:05:02 INFO  o.a.s.c.SolrCore started\n");
    /// # Ok::<(), log4rs_audit::encode::PatternError>(())
    /// ```
    pub fn new_enhanced(pattern: &str) -> Result<Log4jPatternEncoder, PatternError> {
        Self::build_layout(pattern, PatternLayoutKind::Enhanced, false)
    }

    /// Like [`new_enhanced`](Self::new_enhanced), but rejects what log4j only reports on
    /// stderr, and what it reads differently from what it looks like: an unknown conversion,
    /// `%msg` (`%m` then the text `sg`), an abbreviation it cannot read (`%c{-}`), a time zone
    /// it does not know (log4j: GMT), plus PatternLayout's strict checks.
    pub fn new_enhanced_strict(pattern: &str) -> Result<Log4jPatternEncoder, PatternError> {
        Self::build_layout(pattern, PatternLayoutKind::Enhanced, true)
    }

    /// An encoder for `pattern` read by `layout`, strictly or not (see [`new_strict`](Self::new_strict)).
    pub fn for_layout(
        pattern: &str,
        layout: PatternLayoutKind,
        strict: bool,
    ) -> Result<Log4jPatternEncoder, PatternError> {
        Self::build_layout(pattern, layout, strict)
    }

    fn build(pattern: &str, strict: bool) -> Result<Log4jPatternEncoder, PatternError> {
        Self::build_layout(pattern, PatternLayoutKind::Pattern, strict)
    }

    fn build_layout(
        pattern: &str,
        layout: PatternLayoutKind,
        strict: bool,
    ) -> Result<Log4jPatternEncoder, PatternError> {
        let pieces = match layout {
            PatternLayoutKind::Pattern => parse::parse(pattern, strict)?,
            PatternLayoutKind::Enhanced => enhanced::parse(pattern, strict)?,
        };
        let reads_clock = pieces.iter().any(|p| {
            matches!(
                p,
                Piece::Convert(
                    _,
                    Conversion::Date(_)
                        | Conversion::ZonedDate(..)
                        | Conversion::Relative
                        | Conversion::EnhancedRelative
                )
            )
        });
        Ok(Log4jPatternEncoder {
            pattern: pattern.to_owned(),
            layout,
            pieces: pieces.into(),
            timezone: Timezone::Local,
            clock: Arc::new(SystemClock),
            start_millis: millis_since_epoch(Self::process_start()),
            reads_clock,
        })
    }

    /// The instant `%r` counts from by default: when the process built its first pattern
    /// encoder (log4j counts from when `LoggingEvent` was loaded). Shared by every encoder, so a
    /// config reload does not restart `%r`.
    pub fn process_start() -> SystemTime {
        *PROCESS_START.get_or_init(SystemTime::now)
    }

    /// Writes dates in `timezone` (default: local time).
    pub fn with_timezone(mut self, timezone: Timezone) -> Log4jPatternEncoder {
        self.timezone = timezone;
        self
    }

    /// Reads the time of each record from `clock` (tests use a [`FixedClock`](super::FixedClock)).
    pub fn with_clock(mut self, clock: impl Clock) -> Log4jPatternEncoder {
        self.clock = Arc::new(clock);
        self
    }

    /// Makes `%r` count from `start`.
    pub fn with_start(mut self, start: SystemTime) -> Log4jPatternEncoder {
        self.start_millis = millis_since_epoch(start);
        self
    }

    /// The pattern as given.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The layout the pattern is read as.
    pub fn layout(&self) -> PatternLayoutKind {
        self.layout
    }

    /// The timezone dates are written in.
    pub fn timezone(&self) -> Timezone {
        self.timezone
    }

    /// Appends the formatted `record` to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>, record: &Record) {
        with_scratch(|scratch| {
            scratch.line.clear();
            self.format(record, scratch);
            out.extend_from_slice(scratch.line.as_bytes());
        });
    }

    fn format(&self, record: &Record, scratch: &mut Scratch) {
        let now = if self.reads_clock {
            millis_since_epoch(self.clock.wall())
        } else {
            0
        };
        let Scratch { line, field, mdc } = scratch;
        if self.layout == PatternLayoutKind::Enhanced {
            return self.format_enhanced(record, now, line, field, mdc);
        }
        for piece in self.pieces.iter() {
            match piece {
                Piece::Literal(text) => line.push_str(text),
                Piece::Convert(spec, conversion) if spec.is_none() => {
                    self.convert(line, conversion, record, now, mdc);
                }
                Piece::Convert(spec, conversion) => {
                    field.clear();
                    self.convert(field, conversion, record, now, mdc);
                    write_with_spec(line, field, *spec);
                }
            }
        }
    }

    /// EnhancedPatternLayout writes every conversion into the line itself and then pads or cuts
    /// it there (log4j's abbreviations can reach back into the line: see `names`).
    fn format_enhanced(
        &self,
        record: &Record,
        now: i64,
        line: &mut String,
        field: &mut String,
        mdc: &mut Vec<(String, String)>,
    ) {
        for piece in self.pieces.iter() {
            match piece {
                Piece::Literal(text) => line.push_str(text),
                Piece::Convert(spec, conversion) => {
                    let start = line.len();
                    self.convert(line, conversion, record, now, mdc);
                    if !spec.is_none() {
                        field.clear();
                        field.push_str(&line[start..]);
                        line.truncate(start);
                        write_with_spec(line, field, *spec);
                    }
                }
            }
        }
    }

    fn convert(
        &self,
        out: &mut String,
        conversion: &Conversion,
        record: &Record,
        now: i64,
        mdc: &mut Vec<(String, String)>,
    ) {
        match conversion {
            Conversion::Logger(precision) => out.push_str(abbreviate(record.target(), *precision)),
            Conversion::Class(precision) => match record.module_path() {
                Some(module) => out.push_str(abbreviate(module, *precision)),
                None => out.push('?'),
            },
            Conversion::Date(format) => format.write(out, now, self.timezone),
            Conversion::File => out.push_str(record.file().unwrap_or("?")),
            Conversion::Line => match record.line() {
                Some(line) => out.push_str(itoa::Buffer::new().format(line)),
                None => out.push('?'),
            },
            Conversion::Location => {
                let (module, file, line) = (record.module_path(), record.file(), record.line());
                if module.is_some() || file.is_some() || line.is_some() {
                    out.push_str(module.unwrap_or("?"));
                    out.push('(');
                    out.push_str(file.unwrap_or("?"));
                    out.push(':');
                    match line {
                        Some(line) => out.push_str(itoa::Buffer::new().format(line)),
                        None => out.push('?'),
                    }
                    out.push(')');
                }
            }
            Conversion::Message if record.key_values().count() > 0 => {
                // An audit event's fields are key-values: print its event object, as the
                // envelope's `message` holds it.
                let mut json = Vec::new();
                crate::encode::write_message_json(&mut json, record);
                out.push_str(&String::from_utf8_lossy(&json));
            }
            Conversion::Message => match record.args().as_str() {
                Some(text) => out.push_str(text),
                None => {
                    let _ = write!(out, "{}", record.args());
                }
            },
            Conversion::Method => out.push('?'),
            Conversion::Level => out.push_str(record.level().as_str()),
            Conversion::Relative => {
                out.push_str(itoa::Buffer::new().format(now.saturating_sub(self.start_millis)));
            }
            Conversion::Thread => write_thread(out),
            Conversion::Ndc => {}
            Conversion::Mdc(Some(key)) => crate::context::mdc_get(key.as_str(), |value| {
                if let Some(value) = value {
                    out.push_str(value);
                }
            }),
            Conversion::Mdc(None) => write_whole_mdc(out, mdc),
            Conversion::EnhancedLogger(abbreviator) => {
                let start = out.len();
                out.push_str(record.target());
                abbreviator.apply(out, start);
            }
            Conversion::EnhancedClass(abbreviator) => {
                let start = out.len();
                out.push_str(record.module_path().unwrap_or("?"));
                abbreviator.apply(out, start);
            }
            Conversion::ZonedDate(format, zone) => format.write_in(out, now, Zone::Java(zone)),
            Conversion::Properties => write_mdc_hashtable_order(out, mdc),
            Conversion::EnhancedLocation => {
                if record.module_path().is_none()
                    && record.file().is_none()
                    && record.line().is_none()
                {
                    out.push_str("null");
                } else {
                    self.convert(out, &Conversion::Location, record, now, mdc);
                }
            }
            Conversion::LineSeparator => out.push('\n'),
            Conversion::EnhancedRelative if now == 0 => {}
            Conversion::EnhancedRelative => {
                self.convert(out, &Conversion::Relative, record, now, mdc);
            }
            Conversion::Text(text) => out.push_str(text),
        }
    }
}

impl Encode for Log4jPatternEncoder {
    fn encode(&self, w: &mut dyn Write, record: &Record) -> anyhow::Result<()> {
        with_scratch(|scratch| {
            scratch.line.clear();
            self.format(record, scratch);
            w.write_all(scratch.line.as_bytes())
        })?;
        Ok(())
    }
}

/// Milliseconds since the epoch, floored (negative before 1970), saturating.
fn millis_since_epoch(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => {
            let ms = e.duration().as_nanos().div_ceil(1_000_000);
            i64::try_from(ms).map_or(i64::MIN, |ms| -ms)
        }
    }
}

/// Reused per-thread buffers.
#[derive(Default)]
struct Scratch {
    line: String,
    field: String,
    mdc: Vec<(String, String)>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `f` with this thread's buffers (fresh ones if a re-entrant call holds them).
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    crate::local::with_local(&SCRATCH, f)
}

/// The `log4j_pattern` encoder kind.
///
/// ```yaml
/// encoder:
///   kind: log4j_pattern
///   pattern: "%d{ISO8601} %-5p [%t] %c{2}: %m%n"
///   timezone: local      # local | utc | +HHMM
/// ```
///
/// The pattern is checked strictly ([`Log4jPatternEncoder::new_strict`]): a mistake log4j would
/// print as text is a config error naming the byte offset.
#[derive(Clone, Copy, Debug, Default)]
pub struct Log4jPatternEncoderDeserializer;

/// Options of the `log4j_pattern` encoder kind.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Log4jPatternConfig {
    /// The log4j 1.2 conversion pattern.
    pub pattern: String,
    /// `pattern` (default: log4j's `PatternLayout`) or `enhanced` (`EnhancedPatternLayout`).
    #[serde(default)]
    pub layout: PatternLayoutKind,
    /// `local` (default), `utc` or a fixed `±HHMM` offset.
    #[serde(default)]
    pub timezone: Option<String>,
}

impl Log4jPatternConfig {
    /// Builds the encoder, rejecting a bad pattern or timezone.
    pub fn build(&self) -> anyhow::Result<Log4jPatternEncoder> {
        let timezone = Timezone::from_option(self.timezone.as_deref())?;
        Ok(
            Log4jPatternEncoder::for_layout(&self.pattern, self.layout, true)?
                .with_timezone(timezone),
        )
    }
}

crate::config::impl_deserialize!(Log4jPatternEncoderDeserializer, Log4jPatternConfig => Encode);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::FixedClock;
    use proptest::prelude::*;
    use std::time::{Duration, Instant};

    const T: u64 = 1_582_124_702_441;

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    fn encoder(pattern: &str) -> Log4jPatternEncoder {
        Log4jPatternEncoder::new(pattern)
            .unwrap()
            .with_timezone(Timezone::Utc)
            .with_clock(FixedClock::new(at(T), Instant::now()))
            .with_start(at(T - 1234))
    }

    fn render(encoder: &Log4jPatternEncoder, record: &Record) -> String {
        let mut out = Vec::new();
        encoder.encode_into(&mut out, record);
        String::from_utf8(out).unwrap()
    }

    fn on_thread<R: Send + 'static>(name: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(f)
            .unwrap()
            .join()
            .unwrap()
    }

    #[test]
    fn real_config_patterns() {
        let out = on_thread("worker-1", || {
            let e = encoder("%d{ISO8601} %-5p [%t] %c{2}: %m%n");
            render(
                &e,
                &Record::builder()
                    .target("dku.audit.generic")
                    .level(log::Level::Warn)
                    .args(format_args!("disk {}% full", 93))
                    .build(),
            )
        });
        assert_eq!(
            out,
            "2020-02-19 15:05:02,441 WARN  [worker-1] audit.generic: disk 93% full\n"
        );
        let e = encoder("%-4r %d{ABSOLUTE} %5p %c{1}:%L - %m%n");
        let r = Record::builder()
            .target("org.apache.hadoop.hdfs.server.namenode.NameNode")
            .level(log::Level::Info)
            .line(Some(42))
            .args(format_args!("started"))
            .build();
        assert_eq!(
            render(&e, &r),
            "1234 15:05:02,441  INFO NameNode:42 - started\n"
        );
    }

    #[test]
    fn location_conversions() {
        let e = encoder("%C|%C{1}|%F|%L|%M|%l|");
        let bare = Record::builder().target("a").build();
        assert_eq!(render(&e, &bare), "?|?|?|?|?||");
        let full = Record::builder()
            .target("a")
            .module_path(Some("my_app::db::pool"))
            .file(Some("src/db/pool.rs"))
            .line(Some(7))
            .build();
        assert_eq!(
            render(&e, &full),
            "my_app::db::pool|pool|src/db/pool.rs|7|?|my_app::db::pool(src/db/pool.rs:7)|"
        );
        let partial = Record::builder().target("a").line(Some(3)).build();
        assert!(render(&e, &partial).ends_with("|?(?:3)|"));
    }

    #[test]
    fn mdc_and_ndc() {
        let out = on_thread("mdc", || {
            log_mdc::insert("user", "admin");
            log_mdc::insert("apiCall", "/api/x");
            let e = encoder("[%X{user}][%X{missing}][%5X{user}][%X][%x][%3x]");
            let r = Record::builder().target("a").build();
            render(&e, &r)
        });
        assert_eq!(
            out,
            "[admin][][admin][{{apiCall,/api/x}{user,admin}}][][   ]"
        );
    }

    #[test]
    fn unnamed_thread_prints_its_id() {
        let (out, id) = std::thread::spawn(|| {
            let e = encoder("%t");
            let r = Record::builder().target("a").build();
            (render(&e, &r), std::thread::current().id())
        })
        .join()
        .unwrap();
        assert_eq!(out, format!("{id:?}"));
    }

    #[test]
    fn relative_time_can_be_negative_and_defaults_to_process_start() {
        let e = encoder("%r").with_start(at(T + 5));
        let r = Record::builder().target("a").build();
        assert_eq!(render(&e, &r), "-5");
        let e = Log4jPatternEncoder::new("%r").unwrap();
        let first: i64 = render(&e, &r).parse().unwrap();
        assert!(first >= 0);
        assert_eq!(
            Log4jPatternEncoder::process_start(),
            Log4jPatternEncoder::process_start()
        );
    }

    #[test]
    fn lenient_and_strict() {
        let r = Record::builder()
            .target("a")
            .level(log::Level::Error)
            .args(format_args!("m"))
            .build();
        assert_eq!(render(&encoder("%q %p %5n %.x%"), &r), "%q ERROR %5n %.x%");
        assert!(Log4jPatternEncoder::new_strict("%q").is_err());
        assert!(Log4jPatternEncoder::new_strict("%p %m%n").is_ok());
    }

    #[test]
    fn encode_writes_one_line() {
        struct Sink(Vec<u8>);
        impl std::io::Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        impl log4rs::encode::Write for Sink {}
        let e = encoder("%p %m%n");
        let r = Record::builder()
            .level(log::Level::Trace)
            .args(format_args!("é 😀"))
            .build();
        let mut sink = Sink(Vec::new());
        e.encode(&mut sink, &r).unwrap();
        assert_eq!(sink.0, "TRACE é 😀\n".as_bytes());
    }

    #[test]
    fn config_kind() {
        let d = {
            let mut d = log4rs::config::Deserializers::default();
            d.insert("log4j_pattern", Log4jPatternEncoderDeserializer);
            d
        };
        let ok: serde_value::Value = serde_value::to_value(std::collections::BTreeMap::from([
            ("pattern", "%d %p %m%n"),
            ("timezone", "+0100"),
        ]))
        .unwrap();
        assert!(d.deserialize::<dyn Encode>("log4j_pattern", ok).is_ok());
        let bad: serde_value::Value =
            serde_value::to_value(std::collections::BTreeMap::from([("pattern", "%d %q")]))
                .unwrap();
        let err = d
            .deserialize::<dyn Encode>("log4j_pattern", bad)
            .err()
            .unwrap();
        assert!(err.to_string().contains("at byte 4"), "{err}");
        let bad_tz: serde_value::Value = serde_value::to_value(std::collections::BTreeMap::from([
            ("pattern", "%m"),
            ("timezone", "mars"),
        ]))
        .unwrap();
        assert!(d
            .deserialize::<dyn Encode>("log4j_pattern", bad_tz)
            .is_err());
    }

    #[test]
    fn millis_floor_before_1970() {
        assert_eq!(
            millis_since_epoch(UNIX_EPOCH - Duration::from_micros(1)),
            -1
        );
        assert_eq!(
            millis_since_epoch(UNIX_EPOCH - Duration::from_millis(1)),
            -1
        );
        assert_eq!(millis_since_epoch(at(999)), 999);
    }

    proptest! {
        // A few thousand cases by default; PROPTEST_CASES raises it (scripts/fuzz-properties.sh).
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(2_000),
        ))]
        #[test]
        fn formatting_never_panics(
            pattern in r"([%{}.\-0-9cCdFlLmMnprtxX%'yMdHmsSEaZzG ]|\{[^}]{0,6}\}){0,24}",
            message in any::<String>(),
            target in r"[a-z.:]{0,20}",
            millis in any::<i64>(),
            start in any::<i64>(),
            offset in -86_399i32..86_400,
        ) {
            if let Ok(e) = Log4jPatternEncoder::new(&pattern) {
                let time = if millis >= 0 {
                    UNIX_EPOCH + Duration::from_millis(millis as u64)
                } else {
                    UNIX_EPOCH - Duration::from_millis(millis.unsigned_abs())
                };
                let start = UNIX_EPOCH + Duration::from_millis(start.unsigned_abs());
                let tz = Timezone::Fixed(chrono::FixedOffset::east_opt(offset).unwrap());
                for tz in [tz, Timezone::Local, Timezone::Utc] {
                    let e = e.clone()
                        .with_timezone(tz)
                        .with_clock(FixedClock::new(time, Instant::now()))
                        .with_start(start);
                    let mut out = Vec::new();
                    e.encode_into(
                        &mut out,
                        &Record::builder()
                            .target(&target)
                            .args(format_args!("{message}"))
                            .build(),
                    );
                    prop_assert!(std::str::from_utf8(&out).is_ok());
                }
            }
        }
    }

    #[test]
    fn message_of_an_audit_event_is_its_event_object() {
        let e = Log4jPatternEncoder::new_strict("%p %c %m%n").unwrap();
        let kvs = [
            ("msgType", log::kv::Value::from("login")),
            ("authUser", "bob".into()),
        ];
        let record = log::Record::builder()
            .target("dku.audit.generic")
            .level(log::Level::Info)
            .key_values(&kvs)
            .build();
        let mut out = Vec::new();
        e.encode_into(&mut out, &record);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "INFO dku.audit.generic {\"msgType\":\"login\",\"authUser\":\"bob\"}\n"
        );
    }
}
