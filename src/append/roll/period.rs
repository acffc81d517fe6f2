//! Time-roll periods: parsing, default suffix formats and local wall-clock period boundaries.

use std::str::FromStr;
use std::time::SystemTime;

use chrono::{
    DateTime, Datelike, Days, Local, LocalResult, Months, NaiveDateTime, TimeDelta, TimeZone,
    Timelike,
};

/// How often a time-based roll happens; local time boundaries (like log4j's DailyRollingFileAppender).
///
/// Ordered from the finest to the coarsest period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Period {
    /// Every minute (mostly for tests and demos).
    Minute,
    /// Every hour.
    Hour,
    /// Twice a day, at local midnight and noon (log4j's `TOP_OF_HALF_DAY`, DatePattern letter `a`).
    HalfDay,
    /// Every day at local midnight.
    Day,
    /// Every week at local midnight starting a Sunday. log4j starts the week on the locale's first
    /// day of the week; this crate always uses Sunday (as log4j does in the `en_US` locale).
    Week,
    /// Every month at local midnight starting the 1st.
    Month,
}

impl Period {
    /// Default suffix appended to the rolled file (chrono strftime), formatted from the start of
    /// the period that ended. Zero-padded, so name order is time order.
    ///
    /// `HalfDay` prints `AM`/`PM` like log4j's `a`. `Week` is `.%Y-%U`: `%U` is the Sunday-based
    /// week of the year (`00`-`53`, week `01` starting on the year's first Sunday); because the
    /// name is formatted from the week's first day, a Sunday, it is never `00`. Java's `ww` is
    /// locale-dependent (`1`-`53`, week 1 may start in the previous December), so week names can
    /// differ from log4j's around the new year.
    pub fn suffix_format(self) -> &'static str {
        match self {
            Period::Minute => ".%Y-%m-%d-%H-%M",
            Period::Hour => ".%Y-%m-%d-%H",
            Period::HalfDay => ".%Y-%m-%d-%p",
            Period::Day => ".%Y-%m-%d",
            Period::Week => ".%Y-%U",
            Period::Month => ".%Y-%m",
        }
    }

    /// Start of the period containing the local wall-clock time `t`.
    fn start_of(self, t: NaiveDateTime) -> NaiveDateTime {
        let date = t.date();
        let (date, hour, minute) = match self {
            Period::Minute => (Some(date), t.hour(), t.minute()),
            Period::Hour => (Some(date), t.hour(), 0),
            Period::HalfDay => (Some(date), t.hour() / 12 * 12, 0),
            Period::Day => (Some(date), 0, 0),
            Period::Week => {
                let back = u64::from(date.weekday().num_days_from_sunday());
                (date.checked_sub_days(Days::new(back)), 0, 0)
            }
            Period::Month => (date.with_day(1), 0, 0),
        };
        date.and_then(|d| d.and_hms_opt(hour, minute, 0))
            .unwrap_or(t)
    }

    /// Start of the next period, in wall-clock time: added to local naive time so a day always
    /// ends at the next midnight and a month at the next 1st, whatever the DST changes between.
    fn next_start(self, start: NaiveDateTime) -> Option<NaiveDateTime> {
        match self {
            Period::Minute => start.checked_add_signed(TimeDelta::minutes(1)),
            Period::Hour => start.checked_add_signed(TimeDelta::hours(1)),
            Period::HalfDay => start.checked_add_signed(TimeDelta::hours(12)),
            Period::Day => start.checked_add_days(Days::new(1)),
            Period::Week => start.checked_add_days(Days::new(7)),
            Period::Month => start.checked_add_months(Months::new(1)),
        }
    }
}

impl FromStr for Period {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "minute" => Ok(Period::Minute),
            "hour" => Ok(Period::Hour),
            "half_day" | "halfday" => Ok(Period::HalfDay),
            "day" => Ok(Period::Day),
            "week" => Ok(Period::Week),
            "month" => Ok(Period::Month),
            _ => Err(format!(
                "invalid roll period {s:?}: expected \"minute\", \"hour\", \"half_day\", \"day\", \
                 \"week\" or \"month\""
            )),
        }
    }
}

/// The period the current file belongs to: `start` names the rolled file, `end` triggers the roll.
#[derive(Clone, Copy, Debug)]
pub(super) struct Slot {
    pub(super) start: NaiveDateTime,
    pub(super) end: SystemTime,
}

impl Slot {
    pub(super) fn containing(period: Period, t: SystemTime) -> Slot {
        let start = period.start_of(DateTime::<Local>::from(t).naive_local());
        let end = period.next_start(start).unwrap_or(NaiveDateTime::MAX);
        Slot {
            start,
            end: local_to_system(end),
        }
    }
}

/// Local wall-clock time to an instant. A time inside a DST gap moves to the first valid minute
/// and a repeated time takes the earlier instant, so no boundary is ever skipped.
fn local_to_system(t: NaiveDateTime) -> SystemTime {
    let mut probe = t;
    for _ in 0..24 * 60 {
        match Local.from_local_datetime(&probe) {
            LocalResult::Single(dt) | LocalResult::Ambiguous(dt, _) => return dt.into(),
            LocalResult::None => match probe.checked_add_signed(TimeDelta::minutes(1)) {
                Some(next) => probe = next,
                None => break,
            },
        }
    }
    t.and_utc().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::append::roll::RollPolicy;

    #[test]
    fn period_parsing_and_suffixes() {
        assert_eq!("Minute".parse(), Ok(Period::Minute));
        assert_eq!("HOUR".parse(), Ok(Period::Hour));
        assert_eq!("day".parse(), Ok(Period::Day));
        assert_eq!("half_day".parse(), Ok(Period::HalfDay));
        assert_eq!("HalfDay".parse(), Ok(Period::HalfDay));
        assert_eq!("week".parse(), Ok(Period::Week));
        assert_eq!("Month".parse(), Ok(Period::Month));
        let err = "fortnight".parse::<Period>().unwrap_err();
        for name in ["minute", "hour", "half_day", "day", "week", "month"] {
            assert!(err.contains(name), "{err}");
        }
        assert_eq!(Period::Minute.suffix_format(), ".%Y-%m-%d-%H-%M");
        assert_eq!(Period::Hour.suffix_format(), ".%Y-%m-%d-%H");
        assert_eq!(Period::HalfDay.suffix_format(), ".%Y-%m-%d-%p");
        assert_eq!(Period::Day.suffix_format(), ".%Y-%m-%d");
        assert_eq!(Period::Week.suffix_format(), ".%Y-%U");
        assert_eq!(Period::Month.suffix_format(), ".%Y-%m");
        assert!(Period::Minute < Period::HalfDay && Period::Week < Period::Month);
        let policy = RollPolicy {
            every: Some(Period::Week),
            ..RollPolicy::never()
        };
        assert_eq!(policy.time_suffix(), Some(".%Y-%U"));
        let custom = RollPolicy {
            suffix: Some("_%Y".into()),
            ..policy.clone()
        };
        assert_eq!(custom.time_suffix(), Some("_%Y"));
        assert_eq!(RollPolicy::never().time_suffix(), None);
    }

    #[test]
    fn period_boundaries_in_wall_clock_time() {
        // "period: a time in the start of its period .. the start of the next"; 2020-02-16 is a
        // Sunday; day and hour show the older periods unchanged.
        let cases = [
            "half_day: 2020-02-19 11:59:59 in 2020-02-19 00:00 .. 2020-02-19 12:00",
            "half_day: 2020-02-19 12:00:00 in 2020-02-19 12:00 .. 2020-02-20 00:00",
            "week: 2020-02-16 00:00:00 in 2020-02-16 00:00 .. 2020-02-23 00:00",
            "week: 2020-02-22 23:59:59 in 2020-02-16 00:00 .. 2020-02-23 00:00",
            "week: 2021-01-02 12:00:00 in 2020-12-27 00:00 .. 2021-01-03 00:00",
            "month: 2020-02-29 23:59:59 in 2020-02-01 00:00 .. 2020-03-01 00:00",
            "month: 2020-12-31 08:00:00 in 2020-12-01 00:00 .. 2021-01-01 00:00",
            "month: 2021-01-31 08:00:00 in 2021-01-01 00:00 .. 2021-02-01 00:00",
            "day: 2020-02-29 13:00:00 in 2020-02-29 00:00 .. 2020-03-01 00:00",
            "hour: 2020-02-29 23:30:00 in 2020-02-29 23:00 .. 2020-03-01 00:00",
        ];
        let naive = |t: &str| {
            let format = if t.len() == 16 {
                "%Y-%m-%d %H:%M"
            } else {
                "%Y-%m-%d %H:%M:%S"
            };
            NaiveDateTime::parse_from_str(t, format).unwrap()
        };
        for case in cases {
            let (period, rest) = case.split_once(": ").unwrap();
            let (t, bounds) = rest.split_once(" in ").unwrap();
            let (start, next) = bounds.split_once(" .. ").unwrap();
            let period: Period = period.parse().unwrap();
            let got = period.start_of(naive(t));
            assert_eq!(got, naive(start), "{case}");
            assert_eq!(period.next_start(got).unwrap(), naive(next), "{case}");
        }
    }
}
