//! `%d`: log4j's own date formats (`ISO8601`, `ABSOLUTE`, `DATE`) and
//! `java.text.SimpleDateFormat` patterns, in US English, as Java 17 prints them.
//!
//! The calendar fields of an instant are computed once per second and thread (the offset lookup
//! of a local zone is the costly part); formatting from them is integer work.

use crate::calendar_names::{MONTHS, MONTHS_SHORT, WEEKDAYS, WEEKDAYS_SHORT};
use std::fmt::Write as _;

use super::calendar::{gmt_name, with_tm, Tm, Zone};
use crate::encode::Timezone;

/// A compiled `%d` format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DateFormat {
    /// `yyyy-MM-dd HH:mm:ss,SSS` (log4j's `ISO8601DateFormat`, also the default of `%d`).
    Iso8601,
    /// `HH:mm:ss,SSS` (`AbsoluteTimeDateFormat`).
    Absolute,
    /// `dd MMM yyyy HH:mm:ss,SSS` (`DateTimeDateFormat`).
    DateTime,
    /// A `SimpleDateFormat` pattern.
    Simple(Vec<DateItem>),
}

/// One piece of a compiled `SimpleDateFormat` pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DateItem {
    Literal(String),
    /// A pattern letter repeated `count` times.
    Field {
        letter: u8,
        count: usize,
    },
}

/// log4j's ISO8601 as a `SimpleDateFormat` pattern.
const ISO8601_PATTERN: &str = "yyyy-MM-dd HH:mm:ss,SSS";

/// The pattern letters Java 17's `SimpleDateFormat` knows.
const PATTERN_LETTERS: &[u8] = b"GyMdkHmsSEDFwWahKzZYuXL";

/// `DecimalFormat` pads to at most this many digits.
const MAX_DIGITS: usize = 309;

/// Why a `SimpleDateFormat` pattern is rejected, and where (byte offset in the format).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DateFormatError {
    pub offset: usize,
    pub reason: String,
}

impl DateFormat {
    /// The format log4j's `PatternParser` picks for a `%d{option}` (`None`: no option).
    pub(crate) fn from_option(option: Option<&str>) -> Result<DateFormat, DateFormatError> {
        let Some(option) = option else {
            return Ok(DateFormat::Iso8601);
        };
        if java_equals_ignore_case(option, "ISO8601") {
            Ok(DateFormat::Iso8601)
        } else if java_equals_ignore_case(option, "ABSOLUTE") {
            Ok(DateFormat::Absolute)
        } else if java_equals_ignore_case(option, "DATE") {
            Ok(DateFormat::DateTime)
        } else {
            compile_simple(option).map(DateFormat::Simple)
        }
    }

    /// The format EnhancedPatternLayout's `DatePatternConverter` picks for `%d{option}`: the
    /// same names, but always a `SimpleDateFormat` (so before 1970 the milliseconds are those of
    /// the second, where PatternLayout's own formats print `-1`). An invalid pattern is ISO8601.
    pub(crate) fn from_enhanced_option(
        option: Option<&str>,
    ) -> Result<DateFormat, DateFormatError> {
        let pattern = match option {
            None => ISO8601_PATTERN,
            Some(o) if java_equals_ignore_case(o, "ISO8601") => ISO8601_PATTERN,
            Some(o) if java_equals_ignore_case(o, "ABSOLUTE") => "HH:mm:ss,SSS",
            Some(o) if java_equals_ignore_case(o, "DATE") => "dd MMM yyyy HH:mm:ss,SSS",
            Some(o) => o,
        };
        compile_simple(pattern).map(DateFormat::Simple)
    }

    /// EnhancedPatternLayout's fallback for a pattern `SimpleDateFormat` refuses.
    pub(crate) fn enhanced_iso8601() -> DateFormat {
        DateFormat::Simple(compile_simple(ISO8601_PATTERN).unwrap_or_default())
    }

    /// Whether the output depends on the zone name (the only field needing more than numbers).
    fn needs_zone_name(&self) -> bool {
        match self {
            DateFormat::Simple(items) => items
                .iter()
                .any(|item| matches!(item, DateItem::Field { letter: b'z', .. })),
            _ => false,
        }
    }

    /// Appends the date of `millis` (since the epoch) in `timezone`.
    pub(crate) fn write(&self, out: &mut String, millis: i64, timezone: Timezone) {
        self.write_in(out, millis, Zone::Encoder(timezone));
    }

    /// Appends the date of `millis` (since the epoch) in `zone`.
    pub(crate) fn write_in(&self, out: &mut String, millis: i64, zone: Zone) {
        with_tm(millis, zone, self.needs_zone_name(), |tm| match self {
            DateFormat::Iso8601 => {
                write_iso8601_day(out, tm);
                out.push(' ');
                write_absolute(out, tm, millis);
            }
            DateFormat::Absolute => write_absolute(out, tm, millis),
            DateFormat::DateTime => {
                if tm.day < 10 {
                    out.push('0');
                }
                let _ = write!(
                    out,
                    "{} {} {} ",
                    tm.day,
                    MONTHS_SHORT[tm.month0()],
                    tm.era_year()
                );
                write_absolute(out, tm, millis);
            }
            DateFormat::Simple(items) => {
                for item in items {
                    match item {
                        DateItem::Literal(text) => out.push_str(text),
                        DateItem::Field { letter, count } => write_field(out, tm, *letter, *count),
                    }
                }
            }
        });
    }
}

/// Java's `String.equalsIgnoreCase` (per UTF-16 unit: equal, equal upper cases, or equal lower
/// cases of the upper cases).
fn java_equals_ignore_case(a: &str, b: &str) -> bool {
    fn upper(c: char) -> char {
        let mut it = c.to_uppercase();
        match (it.next(), it.next()) {
            (Some(u), None) => u,
            _ => c,
        }
    }
    fn lower(c: char) -> char {
        let mut it = c.to_lowercase();
        match (it.next(), it.next()) {
            (Some(l), None) => l,
            _ => c,
        }
    }
    a.encode_utf16().count() == b.encode_utf16().count()
        && a.chars()
            .zip(b.chars())
            .all(|(x, y)| x == y || upper(x) == upper(y) || lower(upper(x)) == lower(upper(y)))
}

/// `SimpleDateFormat.compile`: letters runs, `'quoted'` text, `''` for a quote; an unknown
/// ASCII letter, an unterminated quote or `XXXX` is an error (log4j then falls back to ISO8601).
fn compile_simple(format: &str) -> Result<Vec<DateItem>, DateFormatError> {
    let mut items: Vec<DateItem> = Vec::new();
    let mut literal = String::new();
    let mut run: Option<(u8, usize, usize)> = None; // (letter, count, offset)
    let mut quote_start: Option<usize> = None;
    let flush_run = |run: &mut Option<(u8, usize, usize)>,
                     items: &mut Vec<DateItem>,
                     literal: &mut String|
     -> Result<(), DateFormatError> {
        if let Some((letter, count, offset)) = run.take() {
            if letter == b'X' && count >= 4 {
                return Err(DateFormatError {
                    offset,
                    reason: format!("invalid ISO 8601 zone `{}`", "X".repeat(count)),
                });
            }
            if !literal.is_empty() {
                items.push(DateItem::Literal(std::mem::take(literal)));
            }
            items.push(DateItem::Field { letter, count });
        }
        Ok(())
    };
    let mut chars = format.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            if let Some(&(_, '\'')) = chars.peek() {
                // `''` is a quote, inside or outside quoted text.
                chars.next();
                flush_run(&mut run, &mut items, &mut literal)?;
                literal.push('\'');
                continue;
            }
            if quote_start.is_none() {
                flush_run(&mut run, &mut items, &mut literal)?;
                quote_start = Some(i);
            } else {
                quote_start = None;
            }
            continue;
        }
        if quote_start.is_some() || !c.is_ascii_alphabetic() {
            flush_run(&mut run, &mut items, &mut literal)?;
            literal.push(c);
            continue;
        }
        let letter = c as u8;
        if !PATTERN_LETTERS.contains(&letter) {
            return Err(DateFormatError {
                offset: i,
                reason: format!("illegal pattern character `{c}`"),
            });
        }
        match &mut run {
            Some((l, count, _)) if *l == letter => *count += 1,
            _ => {
                flush_run(&mut run, &mut items, &mut literal)?;
                run = Some((letter, 1, i));
            }
        }
    }
    if let Some(offset) = quote_start {
        return Err(DateFormatError {
            offset,
            reason: "unterminated quote".to_owned(),
        });
    }
    flush_run(&mut run, &mut items, &mut literal)?;
    if !literal.is_empty() {
        items.push(DateItem::Literal(literal));
    }
    Ok(items)
}

/// `yyyy-MM-dd` as log4j's `ISO8601DateFormat` writes it (year unpadded).
fn write_iso8601_day(out: &mut String, tm: &Tm) {
    let _ = write!(out, "{}-{:02}-{:02}", tm.era_year(), tm.month, tm.day);
}

/// `HH:mm:ss,SSS` as log4j's `AbsoluteTimeDateFormat` writes it: the milliseconds are Java's
/// `(int) (time % 1000)`, so an instant before 1970 shows e.g. `,00-1` (as log4j does).
fn write_absolute(out: &mut String, tm: &Tm, millis: i64) {
    let ms = millis % 1000;
    let _ = write!(out, "{:02}:{:02}:{:02},", tm.hour, tm.minute, tm.second);
    if ms < 100 {
        out.push('0');
    }
    if ms < 10 {
        out.push('0');
    }
    let _ = write!(out, "{ms}");
}

/// `SimpleDateFormat.zeroPaddingNumber`: at least `min` digits (at most 309), at most `max`
/// (keeping the low digits).
fn zero_pad(out: &mut String, value: i64, min: usize, max: usize) {
    let min = min.min(MAX_DIGITS);
    let digits = value.unsigned_abs().to_string();
    let digits = if digits.len() > max {
        &digits[digits.len() - max..]
    } else {
        &digits[..]
    };
    if value < 0 {
        out.push('-');
    }
    for _ in digits.len()..min {
        out.push('0');
    }
    out.push_str(digits);
}

/// One `SimpleDateFormat` field (Java 17 `subFormat`, US locale, Gregorian calendar).
fn write_field(out: &mut String, tm: &Tm, letter: u8, count: usize) {
    let num = |out: &mut String, value: i64| zero_pad(out, value, count, usize::MAX);
    match letter {
        b'G' => out.push_str(if tm.year <= 0 { "BC" } else { "AD" }),
        b'y' | b'Y' => {
            let year = if letter == b'y' {
                tm.era_year()
            } else {
                let (_, week_year) = tm.week_of_year();
                week_year
            };
            if count == 2 {
                zero_pad(out, year, 2, 2);
            } else {
                num(out, year);
            }
        }
        b'M' | b'L' => match count {
            1 | 2 => num(out, i64::from(tm.month)),
            3 => out.push_str(MONTHS_SHORT[tm.month0()]),
            _ => out.push_str(MONTHS[tm.month0()]),
        },
        b'd' => num(out, i64::from(tm.day)),
        b'k' => num(out, if tm.hour == 0 { 24 } else { i64::from(tm.hour) }),
        b'H' => num(out, i64::from(tm.hour)),
        b'm' => num(out, i64::from(tm.minute)),
        b's' => num(out, i64::from(tm.second)),
        b'S' => num(out, i64::from(tm.millis)),
        b'E' => out.push_str(if count >= 4 {
            WEEKDAYS[tm.weekday as usize % 7]
        } else {
            WEEKDAYS_SHORT[tm.weekday as usize % 7]
        }),
        b'u' => num(
            out,
            if tm.weekday == 0 {
                7
            } else {
                i64::from(tm.weekday)
            },
        ),
        b'D' => num(out, i64::from(tm.yday)),
        b'F' => num(out, i64::from((tm.day - 1) / 7 + 1)),
        b'w' => num(out, i64::from(tm.week_of_year().0)),
        b'W' => num(out, i64::from(tm.week_of_month())),
        b'a' => out.push_str(if tm.hour < 12 { "AM" } else { "PM" }),
        b'h' => {
            let h = tm.hour % 12;
            num(out, if h == 0 { 12 } else { i64::from(h) });
        }
        b'K' => num(out, i64::from(tm.hour % 12)),
        b'z' => {
            let name = if count >= 4 {
                &tm.zone_long
            } else {
                &tm.zone_short
            };
            match name {
                Some(name) => out.push_str(name),
                None => out.push_str(&gmt_name(tm.offset)),
            }
        }
        b'Z' => {
            let minutes = tm.offset / 60;
            let abs = minutes.unsigned_abs();
            let sign = if minutes < 0 { '-' } else { '+' };
            let _ = write!(out, "{sign}{:02}{:02}", abs / 60, abs % 60);
        }
        b'X' => {
            if tm.offset == 0 {
                out.push('Z');
                return;
            }
            let minutes = tm.offset / 60;
            let abs = minutes.unsigned_abs();
            out.push(if minutes < 0 { '-' } else { '+' });
            let _ = write!(out, "{:02}", abs / 60);
            if count == 1 {
                return;
            }
            if count == 3 {
                out.push(':');
            }
            let _ = write!(out, "{:02}", abs % 60);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fmt(format: &str, millis: i64, tz: Timezone) -> String {
        let df = DateFormat::from_option(Some(format)).unwrap();
        let mut out = String::new();
        df.write(&mut out, millis, tz);
        out
    }

    /// 2020-02-19 15:05:02.441 UTC, a Wednesday.
    const T: i64 = 1_582_124_702_441;

    #[test]
    fn log4j_named_formats() {
        assert_eq!(fmt("ISO8601", T, Timezone::Utc), "2020-02-19 15:05:02,441");
        assert_eq!(fmt("iso8601", T, Timezone::Utc), "2020-02-19 15:05:02,441");
        assert_eq!(fmt("ABSOLUTE", T, Timezone::Utc), "15:05:02,441");
        assert_eq!(fmt("DATE", T, Timezone::Utc), "19 Feb 2020 15:05:02,441");
        assert_eq!(fmt("DATE", 5, Timezone::Utc), "01 Jan 1970 00:00:00,005");
        // Java's `time % 1000` before 1970.
        assert_eq!(
            fmt("ISO8601", -1, Timezone::Utc),
            "1969-12-31 23:59:59,00-1"
        );
        let mut out = String::new();
        DateFormat::from_option(None)
            .unwrap()
            .write(&mut out, T, "+0100".parse().unwrap());
        assert_eq!(out, "2020-02-19 16:05:02,441");
    }

    #[test]
    fn simple_date_format_letters() {
        let utc = Timezone::Utc;
        for case in [
            "G GGGG y yy yyy yyyyy Y YY => AD AD 2020 20 2020 02020 2020 20",
            "M MM MMM MMMM MMMMM L LL LLL LLLL => 2 02 Feb February February 2 02 Feb February",
            "E EE EEE EEEE EEEEE u uu => Wed Wed Wed Wednesday Wednesday 3 03",
            "w ww W D DDDD F a h hh k K H => 8 08 4 50 0050 3 PM 3 03 15 3 15",
        ] {
            let (pattern, want) = case.split_once(" => ").unwrap();
            assert_eq!(fmt(pattern, T, utc), want, "{pattern}");
        }
        assert_eq!(fmt("S SS SSS SSSS", T - 436, utc), "5 05 005 0005");
        assert_eq!(fmt("yyyyyyyyyy", T, utc), "0000002020");
        assert_eq!(fmt(&"S".repeat(400), T, utc).len(), 309);
        assert_eq!(fmt("h k a", T - 15 * 3_600_000, utc), "12 24 AM");
    }

    #[test]
    fn zones() {
        let z = "z zzzz Z X XX XXX";
        for case in [
            "UTC => UTC Coordinated Universal Time +0000 Z Z Z",
            "+0100 => GMT+01:00 GMT+01:00 +0100 +01 +0100 +01:00",
            "-0530 => GMT-05:30 GMT-05:30 -0530 -05 -0530 -05:30",
            "+0000 => GMT+00:00 GMT+00:00 +0000 Z Z Z",
        ] {
            let (zone, want) = case.split_once(" => ").unwrap();
            let tz = if zone == "UTC" {
                Timezone::Utc
            } else {
                zone.parse().unwrap()
            };
            assert_eq!(fmt(z, T, tz), want, "{zone}");
        }
    }

    #[test]
    fn quotes_and_literals() {
        let utc = Timezone::Utc;
        assert_eq!(fmt("''", T, utc), "'");
        assert_eq!(fmt("'o''clock' hh", T, utc), "o'clock 03");
        assert_eq!(
            fmt("yyyy-MM-dd'T'HH:mm:ss.SSSZ", T, utc),
            "2020-02-19T15:05:02.441+0000"
        );
        assert_eq!(fmt("é日 HH", T, utc), "é日 15");
        assert_eq!(fmt("", T, utc), "");
    }

    #[test]
    fn bad_formats_are_rejected_with_offsets() {
        let err = DateFormat::from_option(Some("yyyy-qq")).unwrap_err();
        assert_eq!(err.offset, 5);
        assert!(err.reason.contains('q'), "{}", err.reason);
        assert_eq!(
            DateFormat::from_option(Some("HH 'x")).unwrap_err().offset,
            3
        );
        assert_eq!(
            DateFormat::from_option(Some("HH XXXX")).unwrap_err().offset,
            3
        );
        assert!(DateFormat::from_option(Some("XXX")).is_ok());
    }

    #[test]
    fn week_fields_at_year_ends() {
        let utc = Timezone::Utc;
        // 2019-12-31, a Tuesday: in week 1 of 2020.
        assert_eq!(
            fmt("w W Y F D u E", 1_577_750_400_000, utc),
            "1 5 2020 5 365 2 Tue"
        );
        // 2022-01-01, a Saturday.
        assert_eq!(
            fmt("w W Y F D u E", 1_640_995_200_000, utc),
            "1 1 2022 1 1 6 Sat"
        );
        // 2021-12-25, a Saturday: the last week of 2021 that does not reach 2022.
        assert_eq!(fmt("w Y", 1_640_390_400_000, utc), "52 2021");
    }

    proptest! {
        // A few thousand cases by default; PROPTEST_CASES raises it (scripts/fuzz-properties.sh).
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(2_000),
        ))]
        #[test]
        fn any_instant_and_letters_format_without_panic(
            millis in any::<i64>(),
            letters in "[GyMdkHmsSEDFwWahKzZYuXL' x]{0,24}",
            offset in -86_399i32..86_400,
        ) {
            let tz = Timezone::Fixed(chrono::FixedOffset::east_opt(offset).unwrap());
            if let Ok(df) = DateFormat::from_option(Some(&letters)) {
                for tz in [tz, Timezone::Utc, Timezone::Local] {
                    let mut out = String::new();
                    df.write(&mut out, millis, tz);
                }
            }
        }
    }
}
