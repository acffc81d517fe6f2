//! Instants: the envelope's `timestamp` / `serverTimestamp` and the `--since` / `--until`
//! arguments, as milliseconds since the Unix epoch.
//!
//! Accepted forms (all of them by [`parse_time_arg`], the first two by [`parse_timestamp`]):
//!
//! | form | example | meaning |
//! |---|---|---|
//! | envelope | `2026-11-24T16:05:02.441+0100` | that instant |
//! | RFC 3339 | `2026-11-24T15:05:02Z`, `2026-11-24T16:05:02.5+01:00`, `2026-11-24 15:05:02Z` | that instant |
//! | local date-time | `2026-11-24T16:05`, `2026-11-24T16:05:02` | that wall-clock time in the local zone |
//! | date | `2026-11-24` | local midnight starting that day (`--since`), or ending it (`--until`) |
//!
//! Fractions may have 1 to 9 digits (kept to the millisecond, truncated); offsets are `Z`,
//! `±HH`, `±HHMM` or `±HH:MM`.

use chrono::{Local, NaiveDate, NaiveDateTime, TimeZone};

/// Milliseconds since 1970-01-01T00:00:00Z.
pub type Millis = i64;

/// A `--since` / `--until` value that is none of the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid time `{0}`: expected RFC 3339 (2026-11-24T15:05:02Z), the envelope's format (2026-11-24T16:05:02.441+0100), a local date-time (2026-11-24T16:05) or a date (2026-11-24)")]
pub struct InvalidTime(pub String);

/// Which end of a date-only argument is meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateEdge {
    /// A date means the local midnight that starts it (`--since`).
    Start,
    /// A date means the local midnight that ends it, so the whole day is included (`--until`).
    End,
}

/// Parses a timestamp with an explicit offset: the envelope's format or RFC 3339. `None` for
/// anything else (including local times without an offset).
///
/// ```
/// use log4rs_audit::query::time::parse_timestamp;
///
/// assert_eq!(parse_timestamp("2020-02-19T16:05:02.441+0100"), Some(1_582_124_702_441));
/// assert_eq!(parse_timestamp("2020-02-19T15:05:02.441Z"), Some(1_582_124_702_441));
/// assert_eq!(parse_timestamp("2020-02-19"), None);
/// ```
pub fn parse_timestamp(text: &str) -> Option<Millis> {
    let (local, rest) = parse_date_time(text.as_bytes())?;
    let offset_minutes = parse_offset(rest)?;
    Some(local - offset_minutes * 60_000)
}

/// Parses a `--since` / `--until` argument (see the module docs for the forms).
///
/// ```
/// use log4rs_audit::query::time::{parse_time_arg, DateEdge};
///
/// let t = parse_time_arg("2020-02-19T15:05:02Z", DateEdge::Start)?;
/// assert_eq!(t, 1_582_124_702_000);
/// // A date covers the whole local day: its end is 24 hours after its start (no DST change here).
/// let start = parse_time_arg("2020-02-19", DateEdge::Start)?;
/// let end = parse_time_arg("2020-02-19", DateEdge::End)?;
/// assert_eq!(end - start, 86_400_000);
/// # Ok::<(), log4rs_audit::query::time::InvalidTime>(())
/// ```
pub fn parse_time_arg(text: &str, edge: DateEdge) -> Result<Millis, InvalidTime> {
    let invalid = || InvalidTime(text.to_owned());
    let trimmed = text.trim();
    if let Some(t) = parse_timestamp(trimmed) {
        return Ok(t);
    }
    let bytes = trimmed.as_bytes();
    if bytes.len() == 10 {
        let (y, m, d) = parse_ymd(bytes).ok_or_else(invalid)?;
        let date = NaiveDate::from_ymd_opt(y as i32, m, d).ok_or_else(invalid)?;
        let date = match edge {
            DateEdge::Start => date,
            DateEdge::End => date.succ_opt().ok_or_else(invalid)?,
        };
        return local_millis(date.and_hms_opt(0, 0, 0).ok_or_else(invalid)?).ok_or_else(invalid);
    }
    // A local date-time: the date-time part parses and nothing follows it.
    match parse_date_time(bytes) {
        Some((wall, [])) => {
            let naive = chrono::DateTime::from_timestamp_millis(wall)
                .ok_or_else(invalid)?
                .naive_utc();
            local_millis(naive).ok_or_else(invalid)
        }
        _ => Err(invalid()),
    }
}

/// The instant of a local wall-clock time; in a DST gap, the instant one hour later.
fn local_millis(naive: NaiveDateTime) -> Option<Millis> {
    let resolved = Local.from_local_datetime(&naive).earliest().or_else(|| {
        Local
            .from_local_datetime(&(naive + chrono::Duration::hours(1)))
            .earliest()
    })?;
    Some(resolved.timestamp_millis())
}

/// `YYYY-MM-DD[T ]HH:MM[:SS[.fff…]]` as milliseconds of that wall-clock time read as UTC, and the
/// bytes after it.
fn parse_date_time(b: &[u8]) -> Option<(Millis, &[u8])> {
    if b.len() < 16 || !(b[10] == b'T' || b[10] == b't' || b[10] == b' ') {
        return None;
    }
    let (y, m, d) = parse_ymd(&b[..10])?;
    let hour = two(&b[11..13])?;
    let minute = two(&b[14..16])?;
    if b[13] != b':' || hour > 23 || minute > 59 {
        return None;
    }
    let mut rest = &b[16..];
    let mut second = 0;
    let mut millis = 0;
    if rest.first() == Some(&b':') {
        second = two(rest.get(1..3)?)?;
        if second > 60 {
            return None;
        }
        rest = &rest[3..];
        if rest.first() == Some(&b'.') || rest.first() == Some(&b',') {
            let digits = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 || digits > 9 {
                return None;
            }
            for (i, c) in rest[1..=digits].iter().enumerate().take(3) {
                millis += i64::from(c - b'0') * [100, 10, 1][i];
            }
            rest = &rest[1 + digits..];
        }
    }
    let days = days_from_civil(y, m, d);
    let seconds =
        days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
    Some((seconds * 1000 + millis, rest))
}

/// `Z`, `±HH`, `±HHMM` or `±HH:MM` (and nothing after) as minutes east of UTC.
fn parse_offset(b: &[u8]) -> Option<i64> {
    if b == b"Z" || b == b"z" {
        return Some(0);
    }
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hours = two(b.get(1..3)?)?;
    let minutes = match &b[3..] {
        [] => 0,
        [m1, m2] => two(&[*m1, *m2])?,
        [b':', m1, m2] => two(&[*m1, *m2])?,
        _ => return None,
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (i64::from(hours) * 60 + i64::from(minutes)))
}

/// `YYYY-MM-DD` with a real calendar day.
fn parse_ymd(b: &[u8]) -> Option<(i64, u32, u32)> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = i64::from(two(&b[0..2])?) * 100 + i64::from(two(&b[2..4])?);
    let month = two(&b[5..7])?;
    let day = two(&b[8..10])?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some((year, month, day))
}

fn two(b: &[u8]) -> Option<u32> {
    match b {
        [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => {
            Some(u32::from(a - b'0') * 10 + u32::from(b - b'0'))
        }
        _ => None,
    }
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, FixedOffset, Utc};
    use proptest::prelude::*;

    #[test]
    fn envelope_and_rfc3339_forms() {
        let t = 1_582_124_702_441;
        for text in [
            "2020-02-19T16:05:02.441+0100",
            "2020-02-19T16:05:02.441+01:00",
            "2020-02-19T16:05:02.441+01",
            "2020-02-19T15:05:02.441Z",
            "2020-02-19 15:05:02.441123456Z",
            "2020-02-19T10:05:02.441-0500",
        ] {
            assert_eq!(parse_timestamp(text), Some(t), "{text}");
        }
        assert_eq!(parse_timestamp("2020-02-19T15:05Z"), Some(t - 2_441));
        for bad in [
            "",
            "2020-02-30T00:00:00Z",
            "2020-13-01T00:00:00Z",
            "2020-02-19T24:00:00Z",
            "2020-02-19T15:05:02.Z",
            "2020-02-19T15:05:02+0100x",
            "2020-02-19T15:05:02",
            "2020-02-19",
            "２020-02-19T15:05:02Z",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn arguments_dates_and_local_times() {
        let start = parse_time_arg("2026-11-24", DateEdge::Start).unwrap();
        let end = parse_time_arg("2026-11-24", DateEdge::End).unwrap();
        assert!(
            end > start && end - start <= 25 * 3_600_000,
            "{start} {end}"
        );
        let local = parse_time_arg("2026-11-24T00:00", DateEdge::End).unwrap();
        assert_eq!(local, start);
        assert_eq!(
            parse_time_arg(" 2026-11-24T00:00:00Z ", DateEdge::Start),
            Ok(1_795_478_400_000)
        );
        for bad in ["yesterday", "2026-11-31", "2026-11-24T", "2026/11/24", "1"] {
            assert!(parse_time_arg(bad, DateEdge::Start).is_err(), "{bad}");
        }
    }

    proptest! {
        /// Any instant from year 5 to 9800 written in the envelope's format or RFC 3339 with any
        /// offset reads back as itself (to the millisecond).
        #[test]
        fn formatted_instants_read_back(
            ms in -62_000_000_000_000i64..250_000_000_000_000i64,
            offset_min in -(23 * 60 + 59)..=(23 * 60 + 59),
        ) {
            let offset = FixedOffset::east_opt(offset_min * 60).unwrap();
            let t = DateTime::<Utc>::from_timestamp_millis(ms).unwrap().with_timezone(&offset);
            let envelope = t.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string();
            let rfc = t.to_rfc3339();
            prop_assert_eq!(parse_timestamp(&envelope), Some(ms), "{}", envelope);
            prop_assert_eq!(parse_timestamp(&rfc), Some(ms), "{}", rfc);
            prop_assert_eq!(parse_time_arg(&rfc, DateEdge::End), Ok(ms));
        }

        /// Arbitrary text never panics.
        #[test]
        fn arbitrary_text_never_panics(text in ".{0,40}") {
            let _ = parse_time_arg(&text, DateEdge::Start);
            let _ = parse_time_arg(&text, DateEdge::End);
            let _ = parse_timestamp(&text);
        }

        /// Texts close to the format (digits and separators) never panic either.
        #[test]
        fn near_miss_text_never_panics(text in "[0-9:.+TZ -]{0,32}") {
            let _ = parse_time_arg(&text, DateEdge::Start);
            let _ = parse_timestamp(&text);
        }
    }
}
