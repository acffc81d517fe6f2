//! Time-roll suffix formats: formatting rolled names and recognising them again, with the sort
//! key that orders rolled files by time for retention.

use crate::calendar_names as names;
use std::fmt::Write as _;
use std::io;

use chrono::format::{Fixed, Item, Numeric, Pad, StrftimeItems};
use chrono::NaiveDateTime;

/// Slots of a [`DatedKey`]'s time, most significant first.
const TIMESTAMP: usize = 0;
const YEAR: usize = 1;
const YEAR_HI: usize = 2;
const YEAR_LO: usize = 3;
const QUARTER: usize = 4;
const MONTH: usize = 5;
const WEEK: usize = 6;
const ORDINAL: usize = 7;
const DAY: usize = 8;
const HALF: usize = 9;
const HOUR: usize = 10;
const MINUTE: usize = 11;
const SECOND: usize = 12;
const SLOTS: usize = 13;

/// Words a suffix field is written with (see [`crate::calendar_names`]) and the value of the
/// first one; each next word is one more.
type Words = (&'static [&'static str], i64);

const MONTHS_SHORT: Words = (&names::MONTHS_SHORT, 1);
const MONTHS_LONG: Words = (&names::MONTHS, 1);
const WEEKDAYS_SHORT: Words = (&names::WEEKDAYS_SHORT, 0);
const WEEKDAYS_LONG: Words = (&names::WEEKDAYS, 0);
const AM_PM_UPPER: Words = (&names::AM_PM, 0);
const AM_PM_LOWER: Words = (&names::AM_PM_LOWER, 0);

/// One piece of a formatted suffix, as [`Stamp`] matches it.
#[derive(Clone, Debug)]
enum Tok {
    /// Exact text.
    Lit(Box<str>),
    /// A number of `min..=max` characters: digits, right-aligned with spaces if `spaces`.
    Digits {
        slot: Option<usize>,
        min: usize,
        max: usize,
        spaces: bool,
        hour12: bool,
    },
    /// One of a few words.
    Word { slot: Option<usize>, words: Words },
}

/// A time-roll suffix format: formats rolled names and recognises them (for retention).
#[derive(Clone, Debug)]
pub(super) struct Stamp {
    items: Vec<Item<'static>>,
    tokens: Vec<Tok>,
}

/// Sort key of a rolled file: its time fields (most significant first), then the formatted stamp
/// and the collision number (0 if none), so `x`, `x.gz` share a key and `x-1` sorts after `x`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct DatedKey {
    when: [i64; SLOTS],
    stamp: String,
    n: u32,
}

impl Stamp {
    /// Parses a chrono strftime suffix; errors on an invalid format, an empty one, a path
    /// separator and specifiers whose output cannot be recognised reliably.
    pub(super) fn compile(format: &str) -> Result<Stamp, String> {
        let items = StrftimeItems::new(format)
            .parse_to_owned()
            .map_err(|_| format!("invalid roll suffix format {format:?}"))?;
        if items.is_empty() {
            return Err("the roll suffix must not be empty".to_owned());
        }
        let tokens = items
            .iter()
            .map(|item| Self::token(item).ok_or_else(|| unsupported(format, item)))
            .collect::<Result<Vec<_>, _>>()?;
        for tok in &tokens {
            if let Tok::Lit(text) = tok {
                if text
                    .chars()
                    .any(|c| std::path::is_separator(c) || c == '\0')
                {
                    return Err(format!(
                        "roll suffix {format:?} must not contain a path separator"
                    ));
                }
            }
        }
        Ok(Stamp { items, tokens })
    }

    fn token(item: &Item<'_>) -> Option<Tok> {
        let digits = |slot: Option<usize>, width: usize, pad: Pad| {
            let (min, max) = match pad {
                Pad::None => (1, width),
                Pad::Zero | Pad::Space => (width, width),
            };
            Tok::Digits {
                slot,
                min,
                max,
                spaces: pad == Pad::Space,
                hour12: false,
            }
        };
        let word = |slot: Option<usize>, words: Words| Tok::Word { slot, words };
        Some(match item {
            Item::Literal(text) | Item::Space(text) => Tok::Lit((*text).into()),
            Item::OwnedLiteral(text) | Item::OwnedSpace(text) => Tok::Lit(text.clone()),
            Item::Numeric(numeric, pad) => {
                let pad = *pad;
                match numeric {
                    Numeric::Year | Numeric::IsoYear => digits(Some(YEAR), 4, pad),
                    Numeric::YearDiv100 | Numeric::IsoYearDiv100 => digits(Some(YEAR_HI), 2, pad),
                    Numeric::YearMod100 | Numeric::IsoYearMod100 => digits(Some(YEAR_LO), 2, pad),
                    Numeric::Quarter => digits(Some(QUARTER), 1, pad),
                    Numeric::Month => digits(Some(MONTH), 2, pad),
                    Numeric::Day => digits(Some(DAY), 2, pad),
                    Numeric::WeekFromSun | Numeric::WeekFromMon | Numeric::IsoWeek => {
                        digits(Some(WEEK), 2, pad)
                    }
                    Numeric::NumDaysFromSun | Numeric::WeekdayFromMon => digits(None, 1, pad),
                    Numeric::Ordinal => digits(Some(ORDINAL), 3, pad),
                    Numeric::Hour => digits(Some(HOUR), 2, pad),
                    Numeric::Hour12 => {
                        let mut tok = digits(Some(HOUR), 2, pad);
                        if let Tok::Digits { hour12, .. } = &mut tok {
                            *hour12 = true;
                        }
                        tok
                    }
                    Numeric::Minute => digits(Some(MINUTE), 2, pad),
                    Numeric::Second => digits(Some(SECOND), 2, pad),
                    Numeric::Nanosecond => digits(None, 9, pad),
                    // Seconds since the epoch: no padding, up to 20 digits.
                    Numeric::Timestamp => Tok::Digits {
                        slot: Some(TIMESTAMP),
                        min: 1,
                        max: 20,
                        spaces: false,
                        hour12: false,
                    },
                    _ => return None,
                }
            }
            Item::Fixed(Fixed::ShortMonthName) => word(Some(MONTH), MONTHS_SHORT),
            Item::Fixed(Fixed::LongMonthName) => word(Some(MONTH), MONTHS_LONG),
            Item::Fixed(Fixed::ShortWeekdayName) => word(None, WEEKDAYS_SHORT),
            Item::Fixed(Fixed::LongWeekdayName) => word(None, WEEKDAYS_LONG),
            Item::Fixed(Fixed::UpperAmPm) => word(Some(HALF), AM_PM_UPPER),
            Item::Fixed(Fixed::LowerAmPm) => word(Some(HALF), AM_PM_LOWER),
            Item::Fixed(_) | Item::Error => return None,
        })
    }

    /// The suffix of the period starting at `start`.
    pub(super) fn format(&self, start: NaiveDateTime) -> io::Result<String> {
        let mut out = String::new();
        write!(out, "{}", start.format_with_items(self.items.iter()))
            .map_err(|_| io::Error::other("cannot format the roll suffix"))?;
        Ok(out)
    }

    /// Sort key of a file whose name is `<path name><rest>`, if `rest` is a suffix this format
    /// produces, optionally followed by a `-<n>` collision number, then optionally by `.gz`.
    pub(super) fn key(&self, rest: &str) -> Option<DatedKey> {
        let rest = rest.strip_suffix(".gz").unwrap_or(rest);
        let mut when = [0; SLOTS];
        let mut found = None;
        self.walk(&self.tokens, rest, &mut when, &mut |tail, when| {
            let n = collision_number(tail)?;
            let stamp = rest[..rest.len() - tail.len()].to_owned();
            found = Some(DatedKey {
                when: *when,
                stamp,
                n,
            });
            Some(())
        });
        found
    }

    /// Backtracking match of `tokens` at the start of `s`; `done` sees each remainder (with the
    /// fields read so far) until it accepts one.
    fn walk(
        &self,
        tokens: &[Tok],
        s: &str,
        when: &mut [i64; SLOTS],
        done: &mut dyn FnMut(&str, &[i64; SLOTS]) -> Option<()>,
    ) -> bool {
        let Some((tok, later)) = tokens.split_first() else {
            return done(s, when).is_some();
        };
        match tok {
            Tok::Lit(text) => s
                .strip_prefix(&**text)
                .is_some_and(|r| self.walk(later, r, when, done)),
            Tok::Word {
                slot,
                words: (words, first),
            } => (*first..).zip(words.iter()).any(|(value, word)| {
                let Some(r) = s.strip_prefix(word) else {
                    return false;
                };
                set_slot(when, *slot, value);
                self.walk(later, r, when, done)
            }),
            Tok::Digits {
                slot,
                min,
                max,
                spaces,
                hour12,
            } => {
                let bytes = s.as_bytes();
                for len in (*min..=(*max).min(bytes.len())).rev() {
                    let field = &bytes[..len];
                    let lead = if *spaces {
                        field.iter().take_while(|&&b| b == b' ').count()
                    } else {
                        0
                    };
                    let number = &field[lead..];
                    if number.is_empty() || !number.iter().all(u8::is_ascii_digit) {
                        continue;
                    }
                    // ASCII only, so `len` is a char boundary.
                    let Ok(mut value) = s[lead..len].parse::<i64>() else {
                        continue;
                    };
                    if *hour12 {
                        value %= 12;
                    }
                    set_slot(when, *slot, value);
                    if self.walk(later, &s[len..], when, done) {
                        return true;
                    }
                }
                false
            }
        }
    }
}

fn set_slot(when: &mut [i64; SLOTS], slot: Option<usize>, value: i64) {
    if let Some(slot) = slot {
        when[slot] = value;
    }
}

/// `""` is 0; `-<digits>` is the collision number; anything else is not ours.
fn collision_number(tail: &str) -> Option<u32> {
    if tail.is_empty() {
        return Some(0);
    }
    let digits = tail.strip_prefix('-')?;
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn unsupported(format: &str, item: &Item<'_>) -> String {
    let what = match item {
        Item::Fixed(Fixed::TimezoneName) => "a time zone name".to_owned(),
        Item::Fixed(
            Fixed::TimezoneOffset
            | Fixed::TimezoneOffsetZ
            | Fixed::TimezoneOffsetColon
            | Fixed::TimezoneOffsetColonZ
            | Fixed::TimezoneOffsetDoubleColon
            | Fixed::TimezoneOffsetTripleColon,
        ) => "a time zone offset".to_owned(),
        Item::Fixed(Fixed::Nanosecond | Fixed::Nanosecond3 | Fixed::Nanosecond6)
        | Item::Fixed(Fixed::Nanosecond9) => "fractional seconds".to_owned(),
        other => format!("{other:?}"),
    };
    format!("roll suffix {format:?}: {what} is not supported")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|d| d.and_hms_opt(h, mi, s))
            .expect("valid date")
    }

    /// `(stamp, collision number)` of `rest` under `format`.
    fn key(format: &str, rest: &str) -> Option<(String, u32)> {
        let key = Stamp::compile(format).unwrap().key(rest)?;
        Some((key.stamp, key.n))
    }

    fn when(format: &str, rest: &str) -> DatedKey {
        Stamp::compile(format).unwrap().key(rest).unwrap()
    }

    #[test]
    fn dated_key_recognises_only_our_names() {
        let day = |s: &str| key(".%Y-%m-%d", s);
        assert_eq!(day(".2020-02-19"), Some((".2020-02-19".into(), 0)));
        assert_eq!(day(".2020-02-19-3.gz"), Some((".2020-02-19".into(), 3)));
        assert_eq!(day(""), None);
        assert_eq!(day(".1"), None);
        assert_eq!(day(".2020-02-19.1"), None);
        assert_eq!(day(".2020-02-19.gz.tmp"), None);
        assert_eq!(day(".2020-02-19-+3"), None);
        assert_eq!(day(".2020-2-19"), None);
        assert_eq!(day("_2020-02-19"), None);
    }

    #[test]
    fn stamp_matches_names_and_fields_of_any_suffix() {
        // Literals exact, numbers by width, names and AM/PM by word; `-n` and `.gz` still apply.
        let custom = "_%Y%m%d.log";
        assert_eq!(
            key(custom, "_20200219.log"),
            Some(("_20200219.log".into(), 0))
        );
        assert_eq!(
            key(custom, "_20200219.log-2.gz"),
            Some(("_20200219.log".into(), 2))
        );
        assert_eq!(key(custom, "_2020021.log"), None);
        assert_eq!(key(custom, "_20200219.txt"), None);
        assert_eq!(key(custom, "_20200219.log.1"), None);
        let half = ".%Y-%m-%d-%p";
        assert!(when(half, ".2020-02-19-AM") < when(half, ".2020-02-19-PM"));
        assert!(when(half, ".2020-02-19-PM") < when(half, ".2020-02-20-AM"));
        assert_eq!(key(half, ".2020-02-19-am"), None);
        assert_eq!(key(half, ".2020-02-19-XM"), None);
        // Time order, not name order.
        let named = ".%d-%b-%Y";
        assert!(when(named, ".31-Jan-2020") < when(named, ".01-Feb-2020"));
        assert!(when(named, ".01-Dec-2020") < when(named, ".01-Jan-2021"));
        assert_eq!(key(named, ".01-Foo-2020"), None);
        let long = ".%A %B %-d %Y";
        assert!(when(long, ".Friday January 31 2020") < when(long, ".Saturday February 1 2020"));
        assert_eq!(key(long, ".Fri January 31 2020"), None);
        // Unpadded and space-padded numbers.
        let loose = ".%-d.%-m.%Y";
        assert!(when(loose, ".9.2.2020") < when(loose, ".19.2.2020"));
        assert!(when(loose, ".19.2.2020") < when(loose, ".1.12.2020"));
        assert_eq!(key(loose, "..2.2020"), None);
        let spaced = ".%e";
        assert_eq!(key(spaced, ". 9"), Some((". 9".into(), 0)));
        assert_eq!(key(spaced, ".19"), Some((".19".into(), 0)));
        assert_eq!(key(spaced, ".9"), None);
        // 12-hour clock: 12 AM is the first hour.
        let twelve = ".%Y-%m-%d-%I%p";
        assert!(when(twelve, ".2020-02-19-12AM") < when(twelve, ".2020-02-19-01AM"));
        assert!(when(twelve, ".2020-02-19-11AM") < when(twelve, ".2020-02-19-12PM"));
        // Weeks, ordinals, epoch seconds.
        assert!(when(".%Y-%U", ".2020-52") < when(".%Y-%U", ".2021-01"));
        assert!(when(".%Y-%j", ".2020-099") < when(".%Y-%j", ".2020-100"));
        assert!(when(".%s", ".999") < when(".%s", ".1582070400"));
    }

    #[test]
    fn stamp_formats_and_rejects_unrecognisable_suffixes() {
        let start = naive(2020, 2, 19, 12, 0, 0);
        let format = |f: &str| Stamp::compile(f).unwrap().format(start).unwrap();
        assert_eq!(format(".%Y-%m-%d-%p"), ".2020-02-19-PM");
        assert_eq!(format(".%Y-%U"), ".2020-07");
        assert_eq!(format("100%%-%Y-%m"), "100%-2020-02");
        assert_eq!(format(".%d-%b-%Y %a"), ".19-Feb-2020 Wed");
        assert_eq!(format("_%F"), "_2020-02-19");
        for (bad, why) in [
            ("", "empty"),
            ("%Q", "invalid"),
            ("/%Y", "path separator"),
            ("%D", "path separator"),
            (".%Y%Z", "time zone name"),
            (".%Y%z", "time zone offset"),
            (".%Y%.3f", "fractional seconds"),
            (".%+", "not supported"),
        ] {
            let err = Stamp::compile(bad).unwrap_err();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }
}
