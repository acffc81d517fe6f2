//! Envelope timestamps: `YYYY-MM-DDTHH:MM:SS.mmm±HHMM`, formatted once per second per thread.
//!
//! Calendar formatting is the expensive part of a log line (chrono per event halves throughput),
//! so each thread keeps the text of the current second and only writes the milliseconds.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::str::FromStr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, FixedOffset, Local, Offset, TimeZone, Utc};

/// Where the clock comes from: the system, or a fixed instant in tests.
pub trait Clock: fmt::Debug + Send + Sync + 'static {
    /// The wall clock, for `timestamp`.
    fn wall(&self) -> SystemTime;
    /// The monotonic clock, for `callTime` (read only inside a call).
    fn monotonic(&self) -> Instant;
}

/// The real clocks.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn wall(&self) -> SystemTime {
        match REPLAYED_NOW.try_with(Cell::get).ok().flatten() {
            Some((wall, _)) => wall,
            None => SystemTime::now(),
        }
    }
    fn monotonic(&self) -> Instant {
        match REPLAYED_NOW.try_with(Cell::get).ok().flatten() {
            Some((_, mono)) => mono,
            None => Instant::now(),
        }
    }
}

thread_local! {
    /// "Now" as seen by the thread that made a record being replayed elsewhere (the `async`
    /// appender's writer): [`SystemClock`] reads it instead of the system clocks.
    static REPLAYED_NOW: Cell<Option<(SystemTime, Instant)>> = const { Cell::new(None) };
}

/// Makes [`SystemClock`] read `wall` and `mono` on this thread until the guard drops.
pub(crate) fn replay_now(wall: SystemTime, mono: Instant) -> ReplayedNow {
    let saved = REPLAYED_NOW
        .try_with(|c| c.replace(Some((wall, mono))))
        .ok()
        .flatten();
    ReplayedNow { saved }
}

/// Restores the system clocks; see [`replay_now`].
pub(crate) struct ReplayedNow {
    saved: Option<(SystemTime, Instant)>,
}

impl Drop for ReplayedNow {
    fn drop(&mut self) {
        let _ = REPLAYED_NOW.try_with(|c| c.set(self.saved));
    }
}

/// A clock stopped at one instant, for reproducible output.
///
/// ```
/// use std::time::{Duration, Instant, UNIX_EPOCH};
/// use log4rs_audit::encode::FixedClock;
/// let clock = FixedClock::new(UNIX_EPOCH + Duration::from_millis(1_582_124_702_441), Instant::now());
/// ```
#[derive(Clone, Copy, Debug)]
pub struct FixedClock {
    wall: SystemTime,
    mono: Instant,
}

impl FixedClock {
    /// A clock that always reads `wall` and `mono`.
    pub fn new(wall: SystemTime, mono: Instant) -> FixedClock {
        FixedClock { wall, mono }
    }
}

impl Clock for FixedClock {
    fn wall(&self) -> SystemTime {
        self.wall
    }
    fn monotonic(&self) -> Instant {
        self.mono
    }
}

/// The offset timestamps are written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Timezone {
    /// The machine's local time (the offset follows daylight saving changes).
    #[default]
    Local,
    /// UTC, written `+0000`.
    Utc,
    /// A fixed offset such as `+0100`.
    Fixed(FixedOffset),
}

/// A `timezone` value that is not `local`, `utc` or `±HHMM`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid timezone `{0}` (expected local, utc, or an offset like +0100)")]
pub struct InvalidTimezone(pub String);

impl Timezone {
    /// A `timezone` option: absent means the machine's local time.
    ///
    /// ```
    /// use log4rs_audit::encode::Timezone;
    /// assert_eq!(Timezone::from_option(None), Ok(Timezone::Local));
    /// assert_eq!(Timezone::from_option(Some("utc")), Ok(Timezone::Utc));
    /// assert!(Timezone::from_option(Some("mars")).is_err());
    /// ```
    pub fn from_option(text: Option<&str>) -> Result<Timezone, InvalidTimezone> {
        text.map_or(Ok(Timezone::Local), str::parse)
    }
}

impl FromStr for Timezone {
    type Err = InvalidTimezone;

    fn from_str(s: &str) -> Result<Timezone, InvalidTimezone> {
        let bad = || InvalidTimezone(s.to_owned());
        match s.to_ascii_lowercase().as_str() {
            "local" => return Ok(Timezone::Local),
            "utc" | "z" => return Ok(Timezone::Utc),
            _ => {}
        }
        let b = s.as_bytes();
        let digits = s.get(1..).filter(|d| {
            (d.len() == 4 || (d.len() == 5 && d.as_bytes()[2] == b':'))
                && d.bytes().filter(|c| *c != b':').all(|c| c.is_ascii_digit())
        });
        let (sign, digits) = match (b.first(), digits) {
            (Some(b'+'), Some(d)) => (1, d.replace(':', "")),
            (Some(b'-'), Some(d)) => (-1, d.replace(':', "")),
            _ => return Err(bad()),
        };
        let hours: i32 = digits[..2].parse().map_err(|_| bad())?;
        let minutes: i32 = digits[2..].parse().map_err(|_| bad())?;
        if hours > 23 || minutes > 59 {
            return Err(bad());
        }
        FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
            .map(Timezone::Fixed)
            .ok_or_else(bad)
    }
}

/// Length of `YYYY-MM-DDTHH:MM:SS`.
const SECOND_LEN: usize = 19;
/// Length of `±HHMM`.
const OFFSET_LEN: usize = 5;

#[derive(Debug)]
struct SecondCache {
    second: i64,
    timezone: Timezone,
    /// `YYYY-MM-DDTHH:MM:SS` followed by `±HHMM`.
    text: [u8; SECOND_LEN + OFFSET_LEN],
}

thread_local! {
    static CACHE: RefCell<Option<SecondCache>> = const { RefCell::new(None) };
}

/// Appends the timestamp of `time` in `timezone` to `out`.
pub fn write_timestamp(out: &mut Vec<u8>, time: SystemTime, timezone: Timezone) {
    let (second, millis) = match time.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_millis()),
        Err(e) => {
            // Before 1970: floor to the second below, keep millis positive.
            let d = e.duration();
            let ms = d.as_millis() as i64;
            let floor = -((ms + 999) / 1000);
            (floor, (ms + floor * 1000).unsigned_abs() as u32 % 1000)
        }
    };
    crate::local::with_local(&CACHE, |cache| {
        let fresh = match &*cache {
            Some(c) => c.second == second && c.timezone == timezone,
            None => false,
        };
        if !fresh {
            *cache = Some(format_second(second, timezone));
        }
        if let Some(c) = cache {
            out.extend_from_slice(&c.text[..SECOND_LEN]);
            out.extend_from_slice(&[
                b'.',
                b'0' + (millis / 100) as u8,
                b'0' + (millis / 10 % 10) as u8,
                b'0' + (millis % 10) as u8,
            ]);
            out.extend_from_slice(&c.text[SECOND_LEN..]);
        }
    });
}

/// Formats a timestamp as a `String` (convenience for tools and servers; not the hot path).
pub fn format_timestamp(time: SystemTime, timezone: Timezone) -> String {
    let mut out = Vec::with_capacity(28);
    write_timestamp(&mut out, time, timezone);
    String::from_utf8(out).unwrap_or_default()
}

fn format_second(second: i64, timezone: Timezone) -> SecondCache {
    fn render<Tz: TimeZone>(dt: DateTime<Tz>) -> String
    where
        Tz::Offset: fmt::Display,
    {
        dt.format("%Y-%m-%dT%H:%M:%S%z").to_string()
    }
    let utc = DateTime::<Utc>::from_timestamp(second, 0).unwrap_or_default();
    let text = match timezone {
        Timezone::Utc => render(utc.with_timezone(&Utc.fix())),
        Timezone::Fixed(offset) => render(utc.with_timezone(&offset)),
        Timezone::Local => render(utc.with_timezone(&Local)),
    };
    let mut bytes = [b'0'; SECOND_LEN + OFFSET_LEN];
    let src = text.as_bytes();
    let n = src.len().min(bytes.len());
    bytes[..n].copy_from_slice(&src[..n]);
    SecondCache {
        second,
        timezone,
        text: bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn seed_example_timestamp() {
        let tz: Timezone = "+0100".parse().unwrap();
        assert_eq!(
            format_timestamp(at(1_582_124_702_441), tz),
            "2020-02-19T16:05:02.441+0100"
        );
        assert_eq!(
            format_timestamp(at(1_582_124_702_441), Timezone::Utc),
            "2020-02-19T15:05:02.441+0000"
        );
    }

    #[test]
    fn millis_are_zero_padded_and_cache_follows_seconds() {
        assert_eq!(
            format_timestamp(at(5), Timezone::Utc),
            "1970-01-01T00:00:00.005+0000"
        );
        assert_eq!(
            format_timestamp(at(999), Timezone::Utc),
            "1970-01-01T00:00:00.999+0000"
        );
        assert_eq!(
            format_timestamp(at(1_000), Timezone::Utc),
            "1970-01-01T00:00:01.000+0000"
        );
        // Same second, other zone: the cache must not answer with the wrong offset.
        assert_eq!(
            format_timestamp(at(1_000), "-0530".parse().unwrap()),
            "1969-12-31T18:30:01.000-0530"
        );
    }

    #[test]
    fn local_matches_chrono() {
        let t = at(1_700_000_000_123);
        let expected = DateTime::<Utc>::from(t)
            .with_timezone(&Local)
            .format("%Y-%m-%dT%H:%M:%S%.3f%z")
            .to_string();
        assert_eq!(format_timestamp(t, Timezone::Local), expected);
    }

    #[test]
    fn timezone_parsing() {
        assert_eq!("LOCAL".parse::<Timezone>().unwrap(), Timezone::Local);
        assert_eq!("utc".parse::<Timezone>().unwrap(), Timezone::Utc);
        assert!("+01:00".parse::<Timezone>().is_ok());
        for bad in ["", "+1", "+2400", "0100", "+01x0", "mars"] {
            let err = bad.parse::<Timezone>().unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
    }
}
