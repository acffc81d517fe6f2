//! log4j `DatePattern` (Java `SimpleDateFormat`) translated into a roll period and a chrono
//! strftime suffix.

use super::stamp::Stamp;
use super::Period;

/// Translates a log4j `DatePattern` (Java `SimpleDateFormat`) into the roll period and a chrono
/// strftime suffix for [`RollPolicy::suffix`]; e.g. `'.'yyyy-MM-dd` gives
/// `(Period::Day, ".%Y-%m-%d")` and `_yyyy-MM-dd'.log'` gives `(Period::Day, "_%Y-%m-%d.log")`.
///
/// Quoted text (`'...'`, with `''` for one quote) and every non-letter are literal (`%` is
/// escaped as `%%`). The period is the finest field present, as in log4j: minute (`m`, and `s`,
/// which log4j cannot roll on), hour (`H`, `k`, `K`, `h`), half-day (`a`), day (`d`, `D`, `E`,
/// `u`), week (`w`), month (`M`, `L`). Letters, by count:
///
/// | Java | chrono | note |
/// |------|--------|------|
/// | `yyyy`, `y`, `yyy` / `yy` | `%Y` / `%y` | |
/// | `M` / `MM` / `MMM` / `MMMM` (also `L`) | `%-m` / `%m` / `%b` / `%B` | English names |
/// | `w` / `ww` | `%-U` / `%U` | Sunday-based, see [`Period::suffix_format`] |
/// | `d` / `dd` | `%-d` / `%d` | |
/// | `D` / `DD`+ | `%-j` / `%j` | `DD` pads to 3 digits |
/// | `E`-`EEE` / `EEEE` | `%a` / `%A` | English names |
/// | `u` | `%u` | 1 = Monday |
/// | `a` | `%p` | `AM` / `PM` |
/// | `H` / `HH` | `%-H` / `%H` | |
/// | `k` / `kk` | `%-H` / `%H` | approximation: Java prints hour 0 as `24`, chrono as `00` |
/// | `h` / `hh` | `%-I` / `%I` | |
/// | `K` / `KK` | `%-I` / `%I` | approximation: Java prints hour 0 as `0`, chrono as `12` |
/// | `m` / `mm` | `%-M` / `%M` | |
/// | `s` / `ss` | `%-S` / `%S` | always `00`: rolled names use the period start |
///
/// Counts above two do not pad numbers further. Any other letter (`G`, `Y`, `W`, `F`, `S`, `z`,
/// `Z`, `X`, ...) is an error naming it, as are an unterminated quote, a path separator, a
/// pattern without date fields and a pattern whose finest field is the year (log4j cannot roll
/// on it either).
///
/// [`RollPolicy::suffix`]: super::RollPolicy::suffix
pub fn date_pattern_to_roll(pattern: &str) -> Result<(Period, String), InvalidDatePattern> {
    date_pattern(pattern).map_err(InvalidDatePattern)
}

/// A log4j `DatePattern` that cannot roll, with why (`DatePattern has no date fields`, the
/// letter it does not take, …).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidDatePattern(String);

fn date_pattern(pattern: &str) -> Result<(Period, String), String> {
    let mut out = String::new();
    let mut finest: Option<Period> = None;
    let mut has_year = false;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            if chars.next_if_eq(&'\'').is_some() {
                out.push('\'');
                continue;
            }
            loop {
                match chars.next() {
                    None => return Err(format!("DatePattern {pattern:?}: unterminated quote")),
                    Some('\'') if chars.next_if_eq(&'\'').is_some() => out.push('\''),
                    Some('\'') => break,
                    Some(ch) => push_literal(&mut out, ch),
                }
            }
        } else if c.is_ascii_alphabetic() {
            let mut count = 1;
            while chars.next_if_eq(&c).is_some() {
                count += 1;
            }
            let (spec, period) = java_field(c, count).ok_or_else(|| {
                format!("DatePattern {pattern:?}: unsupported pattern letter '{c}'")
            })?;
            out.push_str(spec);
            match period {
                Some(p) => finest = Some(finest.map_or(p, |f| f.min(p))),
                None => has_year = true,
            }
        } else {
            push_literal(&mut out, c);
        }
    }
    let Some(period) = finest else {
        return Err(if has_year {
            format!(
                "DatePattern {pattern:?}: the finest field is the year; rolling needs a month, \
                 week, day, half-day, hour or minute field"
            )
        } else {
            "DatePattern has no date fields".to_owned()
        });
    };
    Stamp::compile(&out).map_err(|e| format!("DatePattern {pattern:?}: {e}"))?;
    Ok((period, out))
}

fn push_literal(out: &mut String, c: char) {
    if c == '%' {
        out.push_str("%%");
    } else {
        out.push(c);
    }
}

/// chrono specifier and roll period (`None` for the year) of `count` Java pattern letters `c`.
fn java_field(c: char, count: usize) -> Option<(&'static str, Option<Period>)> {
    let pick = |one: &'static str, more: &'static str| if count == 1 { one } else { more };
    Some(match c {
        'y' => (if count == 2 { "%y" } else { "%Y" }, None),
        'M' | 'L' => {
            let spec = match count {
                1 => "%-m",
                2 => "%m",
                3 => "%b",
                _ => "%B",
            };
            (spec, Some(Period::Month))
        }
        'w' => (pick("%-U", "%U"), Some(Period::Week)),
        'd' => (pick("%-d", "%d"), Some(Period::Day)),
        'D' => (pick("%-j", "%j"), Some(Period::Day)),
        'E' => (if count <= 3 { "%a" } else { "%A" }, Some(Period::Day)),
        'u' => ("%u", Some(Period::Day)),
        'a' => ("%p", Some(Period::HalfDay)),
        'H' | 'k' => (pick("%-H", "%H"), Some(Period::Hour)),
        'h' | 'K' => (pick("%-I", "%I"), Some(Period::Hour)),
        'm' => (pick("%-M", "%M"), Some(Period::Minute)),
        's' => (pick("%-S", "%S"), Some(Period::Minute)),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_pattern_log4j_examples() {
        let cases = [
            ("'.'yyyy-MM-dd", Period::Day, ".%Y-%m-%d"),
            ("'.'yyyy-MM-dd-HH", Period::Hour, ".%Y-%m-%d-%H"),
            ("'.'yyyy-MM-dd-HH-mm", Period::Minute, ".%Y-%m-%d-%H-%M"),
            ("'.'yyyy-MM-dd-a", Period::HalfDay, ".%Y-%m-%d-%p"),
            ("'.'yyyy-ww", Period::Week, ".%Y-%U"),
            ("'.'yyyy-MM", Period::Month, ".%Y-%m"),
            ("'-'yyyyMMdd", Period::Day, "-%Y%m%d"),
            ("_yyyy-MM-dd'.log'", Period::Day, "_%Y-%m-%d.log"),
        ];
        for (pattern, period, format) in cases {
            assert_eq!(
                date_pattern_to_roll(pattern).map_err(|e| e.to_string()),
                Ok((period, format.to_owned())),
                "{pattern}"
            );
        }
        // The log4j defaults of each period are this crate's defaults.
        for (pattern, period, format) in &cases[..6] {
            assert_eq!(period.suffix_format(), *format, "{pattern}");
        }
    }

    #[test]
    fn date_pattern_letters_quotes_and_periods() {
        let roll = |p: &str| date_pattern_to_roll(p).unwrap();
        let s = |f: &str| f.to_owned();
        assert_eq!(roll("'.'yy-M-d"), (Period::Day, s(".%y-%-m-%-d")));
        assert_eq!(roll("'.'dd-MMM-yyyy"), (Period::Day, s(".%d-%b-%Y")));
        assert_eq!(roll("'.'MMMM-yyyy"), (Period::Month, s(".%B-%Y")));
        assert_eq!(roll("'.'LL-yyyy"), (Period::Month, s(".%m-%Y")));
        assert_eq!(roll("'.'yyyy-w"), (Period::Week, s(".%Y-%-U")));
        assert_eq!(roll("'.'EEE"), (Period::Day, s(".%a")));
        assert_eq!(roll("'.'EEEE"), (Period::Day, s(".%A")));
        assert_eq!(roll("'.'yyyy-u"), (Period::Day, s(".%Y-%u")));
        assert_eq!(roll("'.'yyyy-D"), (Period::Day, s(".%Y-%-j")));
        assert_eq!(roll("'.'yyyy-DDD"), (Period::Day, s(".%Y-%j")));
        assert_eq!(roll("'.'yyyy-MM-dd-hh"), (Period::Hour, s(".%Y-%m-%d-%I")));
        assert_eq!(roll("'.'yyyy-MM-dd-kk"), (Period::Hour, s(".%Y-%m-%d-%H")));
        assert_eq!(roll("'.'yyyy-MM-dd-KK"), (Period::Hour, s(".%Y-%m-%d-%I")));
        assert_eq!(roll("'.'yyyy-MM-dd-H"), (Period::Hour, s(".%Y-%m-%d-%-H")));
        assert_eq!(
            roll("'.'yyyy-MM-dd-hh-a"),
            (Period::Hour, s(".%Y-%m-%d-%I-%p"))
        );
        assert_eq!(
            roll("'.'yyyy-MM-dd-m"),
            (Period::Minute, s(".%Y-%m-%d-%-M"))
        );
        // Seconds: log4j cannot roll on them; the finest period is the minute.
        assert_eq!(
            roll("'.'yyyy-MM-dd-HH-mm-ss"),
            (Period::Minute, s(".%Y-%m-%d-%H-%M-%S"))
        );
        assert_eq!(
            roll("'.'yyyy-MM-dd-ss"),
            (Period::Minute, s(".%Y-%m-%d-%S"))
        );
        // The finest field wins whatever the order.
        assert_eq!(roll("HH'.'yyyy-MM-dd"), (Period::Hour, s("%H.%Y-%m-%d")));
        // Quotes: `''` is one quote, inside or outside quoted text; letters in quotes are text.
        assert_eq!(
            roll("'.'yyyy-MM-dd'T'HH"),
            (Period::Hour, s(".%Y-%m-%dT%H"))
        );
        assert_eq!(roll("yyyy''MM"), (Period::Month, s("%Y'%m")));
        assert_eq!(roll("'o''clock 'HH"), (Period::Hour, s("o'clock %H")));
        assert_eq!(roll("'.log.'yyyy-MM-dd"), (Period::Day, s(".log.%Y-%m-%d")));
        // `%` is escaped, quoted or not.
        assert_eq!(roll("'100%'-yyyy-MM"), (Period::Month, s("100%%-%Y-%m")));
        assert_eq!(roll("yyyy%MM"), (Period::Month, s("%Y%%%m")));
        // Non-ASCII text is literal.
        assert_eq!(roll("'.'yyyy-MM-dd·é"), (Period::Day, s(".%Y-%m-%d·é")));
    }

    #[test]
    fn date_pattern_errors() {
        let err = |p: &str| date_pattern_to_roll(p).unwrap_err().to_string();
        assert_eq!(err(""), "DatePattern has no date fields");
        assert_eq!(err("'.log'"), "DatePattern has no date fields");
        assert_eq!(err("-."), "DatePattern has no date fields");
        assert!(err("'.'yyyy").contains("year"), "{}", err("'.'yyyy"));
        for letter in ['G', 'Y', 'W', 'F', 'S', 'z', 'Z', 'X', 'x', 'b'] {
            let e = err(&format!("'.'yyyy-MM-dd-{letter}{letter}"));
            assert!(e.contains(&format!("'{letter}'")), "{letter}: {e}");
        }
        assert!(err("'.'yyyy-MM-dd'oops").contains("unterminated quote"));
        assert!(err("'.'yyyy/MM/dd").contains("path separator"));
    }
}
