//! Calendar fields of an instant in a zone (proleptic Gregorian), cached per second and thread,
//! and the zone names Java prints for `z`.

use std::cell::RefCell;

use chrono::{DateTime, Local, Offset, TimeZone, Utc};

use super::zone::JavaZone;
use crate::encode::Timezone;

/// The zone a date is computed in: the encoder's, or one a `%d{…}{zone}` option names.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Zone<'a> {
    /// The encoder's `timezone`.
    Encoder(Timezone),
    /// A Java zone id of EnhancedPatternLayout's second `%d` option.
    Java(&'a JavaZone),
}

/// The calendar fields of one second (proleptic Gregorian), in one zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Tm {
    /// Astronomical year (0 is 1 BC).
    pub(super) year: i64,
    /// 1..=12.
    pub(super) month: u32,
    /// 1..=31.
    pub(super) day: u32,
    pub(super) hour: u32,
    pub(super) minute: u32,
    pub(super) second: u32,
    /// 0 = Sunday.
    pub(super) weekday: u32,
    /// 1..=366.
    pub(super) yday: u32,
    /// Seconds east of UTC.
    pub(super) offset: i32,
    /// The zone's short name, when asked for.
    pub(super) zone_short: Option<String>,
    /// The zone's long name, when asked for.
    pub(super) zone_long: Option<String>,
    /// Milliseconds of the instant formatted (floor, 0..=999).
    pub(super) millis: u32,
}

impl Tm {
    pub(super) fn month0(&self) -> usize {
        (self.month as usize - 1) % 12
    }

    /// `Calendar.YEAR`: the year of the era (1 BC is 1).
    pub(super) fn era_year(&self) -> i64 {
        if self.year <= 0 {
            1 - self.year
        } else {
            self.year
        }
    }

    fn days_in_year(&self) -> u32 {
        if is_leap(self.year) {
            366
        } else {
            365
        }
    }

    /// `WEEK_OF_YEAR` and the week-based year, with US rules (weeks start on Sunday, week 1
    /// holds January 1st).
    pub(super) fn week_of_year(&self) -> (u32, i64) {
        let jan1 = (self.weekday + 7 * 53 - (self.yday - 1)) % 7;
        let saturday = self.yday + (6 - self.weekday);
        if saturday > self.days_in_year() {
            (1, self.year + 1)
        } else {
            ((self.yday - 1 + jan1) / 7 + 1, self.year)
        }
    }

    /// `WEEK_OF_MONTH` with US rules.
    pub(super) fn week_of_month(&self) -> u32 {
        let first = (self.weekday + 7 * 5 - (self.day - 1)) % 7;
        (self.day - 1 + first) / 7 + 1
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Day of the year (1-based) of a civil date.
fn day_of_year(year: i64, month: u32, day: u32) -> u32 {
    const BEFORE: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let leap = u32::from(month > 2 && is_leap(year));
    BEFORE[(month as usize - 1) % 12] + leap + day
}

/// Instants are clamped to about ±100,000 years, far inside every integer range used here.
const MAX_MILLIS: i64 = 3_155_760_000_000_000;

/// The offset (seconds east of UTC) of `zone` at `second`.
fn offset_at(second: i64, zone: Zone) -> i32 {
    let timezone = match zone {
        Zone::Encoder(timezone) => timezone,
        Zone::Java(java) => return java.offset_at(second),
    };
    match timezone {
        Timezone::Utc => 0,
        Timezone::Fixed(offset) => offset.local_minus_utc(),
        Timezone::Local => match DateTime::<Utc>::from_timestamp(second, 0) {
            Some(utc) => Local
                .offset_from_utc_datetime(&utc.naive_utc())
                .fix()
                .local_minus_utc(),
            None => 0,
        },
    }
}

/// Computes the calendar fields of `millis` in `zone`.
pub(super) fn tm_at(millis: i64, zone: Zone, zone_names: bool) -> Tm {
    let millis = millis.clamp(-MAX_MILLIS, MAX_MILLIS);
    let second = millis.div_euclid(1000);
    let offset = offset_at(second, zone);
    let local = second + i64::from(offset);
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400) as u32;
    let (year, month, day) = civil_from_days(days);
    let (zone_short, zone_long) = if zone_names {
        let (s, l) = match zone {
            Zone::Encoder(timezone) => zone_names_at(second, offset, timezone),
            Zone::Java(java) => java.names_at(second, offset),
        };
        (Some(s), Some(l))
    } else {
        (None, None)
    };
    Tm {
        year,
        month,
        day,
        hour: secs / 3600,
        minute: secs / 60 % 60,
        second: secs % 60,
        weekday: (days + 4).rem_euclid(7) as u32,
        yday: day_of_year(year, month, day),
        offset,
        zone_short,
        zone_long,
        millis: millis.rem_euclid(1000) as u32,
    }
}

/// `GMT+01:00`: the name Java gives a custom (`GMT±hh:mm`) zone, short and long.
pub(super) fn gmt_name(offset: i32) -> String {
    let minutes = offset.unsigned_abs() / 60;
    let sign = if offset < 0 { '-' } else { '+' };
    format!("GMT{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

/// The zone's (short, long) names as Java prints them for `z` and `zzzz`.
///
/// `utc` is Java's `UTC` zone; a fixed offset is Java's custom zone `GMT±hh:mm`. For the local
/// zone the short name is the system's abbreviation (`CET`, `CEST`, `EST`, `UTC`: the tz
/// database's, which Java's match for the common zones) and the long name is only known for
/// UTC and GMT; otherwise, and where the system has no alphabetic abbreviation, both are
/// `GMT±hh:mm`.
fn zone_names_at(second: i64, offset: i32, timezone: Timezone) -> (String, String) {
    match timezone {
        Timezone::Utc => ("UTC".to_owned(), "Coordinated Universal Time".to_owned()),
        Timezone::Fixed(_) => (gmt_name(offset), gmt_name(offset)),
        Timezone::Local => {
            let short = local_abbreviation(second, offset)
                .filter(|a| !a.is_empty() && a.chars().all(|c| c.is_ascii_alphabetic()))
                .unwrap_or_else(|| gmt_name(offset));
            let long = match short.as_str() {
                "UTC" => "Coordinated Universal Time".to_owned(),
                "GMT" => "Greenwich Mean Time".to_owned(),
                _ => gmt_name(offset),
            };
            (short, long)
        }
    }
}

/// The C library's abbreviation of the local zone at `second`, if its offset agrees with ours.
#[cfg(unix)]
fn local_abbreviation(second: i64, offset: i32) -> Option<String> {
    #[allow(clippy::useless_conversion)] // time_t is i32 on some targets
    let time: libc::time_t = second.try_into().ok()?;
    // SAFETY: `localtime_r` writes only into `tm`, which outlives the call; `tm_zone` then points
    // to a NUL-terminated string with static lifetime in the C library (or is null).
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&time, &mut tm).is_null() || tm.tm_zone.is_null() {
            return None;
        }
        if tm.tm_gmtoff != libc::c_long::from(offset) {
            return None;
        }
        let name = std::ffi::CStr::from_ptr(tm.tm_zone);
        name.to_str().ok().map(str::to_owned)
    }
}

#[cfg(not(unix))]
fn local_abbreviation(_second: i64, _offset: i32) -> Option<String> {
    None
}

struct TmCache {
    second: i64,
    timezone: Timezone,
    tm: Tm,
}

thread_local! {
    static TM_CACHE: RefCell<Option<TmCache>> = const { RefCell::new(None) };
}

/// Runs `f` with the calendar fields of `millis` in `zone`, from this thread's cache of the last
/// second for the encoder's zones (a named zone's lookup is a binary search, not cached).
pub(super) fn with_tm<R>(millis: i64, zone: Zone, zone_names: bool, f: impl FnOnce(&Tm) -> R) -> R {
    let timezone = match zone {
        Zone::Encoder(timezone) => timezone,
        Zone::Java(_) => return f(&tm_at(millis, zone, zone_names)),
    };
    let second = millis.clamp(-MAX_MILLIS, MAX_MILLIS).div_euclid(1000);
    let sub = millis.clamp(-MAX_MILLIS, MAX_MILLIS).rem_euclid(1000) as u32;
    crate::local::with_local(&TM_CACHE, |cache| {
        let fresh = matches!(&*cache, Some(c) if c.second == second
            && c.timezone == timezone
            && (!zone_names || c.tm.zone_short.is_some()));
        if !fresh {
            *cache = Some(TmCache {
                second,
                timezone,
                tm: tm_at(millis, zone, zone_names),
            });
        }
        match cache {
            Some(c) => {
                c.tm.millis = sub;
                f(&c.tm)
            }
            None => f(&tm_at(millis, zone, zone_names)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(18_311), (2020, 2, 19));
        assert_eq!(day_of_year(2020, 12, 31), 366);
        assert_eq!(day_of_year(2019, 3, 1), 60);
    }

    #[test]
    fn local_zone_names_fall_back_to_gmt_form() {
        assert_eq!(gmt_name(3600), "GMT+01:00");
        assert_eq!(gmt_name(-19_800), "GMT-05:30");
        assert_eq!(gmt_name(0), "GMT+00:00");
        let tm = tm_at(0, Zone::Encoder(Timezone::Local), true);
        assert!(tm.zone_short.is_some_and(|z| !z.is_empty()));
    }
}
