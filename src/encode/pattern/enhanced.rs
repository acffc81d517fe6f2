//! EnhancedPatternLayout's parser: log4j 1.2.17's `org.apache.log4j.pattern.PatternParser`.
//!
//! Where it differs from PatternLayout's (see [`super::parse`]):
//! - conversions are words (`%logger`, `%level`, `%sn`, `%throwable`), read greedily and
//!   matched by their longest known start: `%msg` is `%m` followed by the text `sg`;
//! - any conversion takes any number of `{…}` options back to back, and swallows them even
//!   when it has no use for them (`%m{x}` prints the message);
//! - `%n` is a conversion (widths apply to it), `%%` the only escape;
//! - a mistake prints `%`, the modifiers and the word as text, without its options.
//!
//! A conversion word starts with a letter and goes on with letters, digits and `_` (Java's
//! `Character.isUnicodeIdentifierStart`/`Part`, approximated by Rust's alphabetic and
//! alphanumeric classes for characters beyond ASCII).

use super::date::DateFormat;
use super::names::NameAbbreviator;
use super::parse::{Conversion, Dialect, Parser, PatternError, PatternErrorKind, Piece, State};
use super::zone::JavaZone;

/// 1.2.17's `PATTERN_LAYOUT_RULES`: conversion words and what each is.
const RULES: &[(&str, Rule)] = &[
    ("c", Rule::Logger),
    ("logger", Rule::Logger),
    ("C", Rule::Class),
    ("class", Rule::Class),
    ("d", Rule::Date),
    ("date", Rule::Date),
    ("F", Rule::File),
    ("file", Rule::File),
    ("l", Rule::Location),
    ("L", Rule::Line),
    ("line", Rule::Line),
    ("m", Rule::Message),
    ("message", Rule::Message),
    ("n", Rule::LineSeparator),
    ("M", Rule::Method),
    ("method", Rule::Method),
    ("p", Rule::Level),
    ("level", Rule::Level),
    ("r", Rule::Relative),
    ("relative", Rule::Relative),
    ("t", Rule::Thread),
    ("thread", Rule::Thread),
    ("x", Rule::Ndc),
    ("ndc", Rule::Ndc),
    ("X", Rule::Properties),
    ("properties", Rule::Properties),
    ("sn", Rule::SequenceNumber),
    ("sequenceNumber", Rule::SequenceNumber),
    ("throwable", Rule::Throwable),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    Logger,
    Class,
    Date,
    File,
    Location,
    Line,
    Message,
    LineSeparator,
    Method,
    Level,
    Relative,
    Thread,
    Ndc,
    Properties,
    SequenceNumber,
    Throwable,
}

/// Parses an EnhancedPatternLayout `pattern` (adjacent literals merged).
pub(crate) fn parse(pattern: &str, strict: bool) -> Result<Vec<Piece>, PatternError> {
    Parser::run(pattern, strict, Dialect::Enhanced)
}

fn is_word_start(c: char) -> bool {
    c.len_utf16() == 1 && c.is_alphabetic()
}

fn is_word_part(c: char) -> bool {
    c.len_utf16() == 1
        && (c.is_alphanumeric()
            || c == '_'
            // Java's identifier-ignorable controls.
            || matches!(c, '\u{0}'..='\u{8}' | '\u{e}'..='\u{1b}' | '\u{7f}'..='\u{9f}'))
}

impl<'a> Parser<'a> {
    /// `{…}` options right after the word, as many as there are back to back.
    fn options(&mut self) -> Result<Vec<(usize, &'a str)>, PatternError> {
        let pattern = self.pattern;
        let mut options = Vec::new();
        while pattern[self.i..].starts_with('{') {
            let Some(end) = pattern[self.i..].find('}') else {
                if self.strict {
                    return Err(self.error(self.i, PatternErrorKind::UnterminatedOption));
                }
                break;
            };
            let start = self.i + 1;
            let end = self.i + end;
            options.push((start, &pattern[start..end]));
            self.i = end + 1;
        }
        Ok(options)
    }

    /// `c` ends the modifiers: read the word, its options, and make the conversion (or, as
    /// log4j does with a mistake, keep it all as text).
    pub(super) fn finalize_word(&mut self, c: char, at: usize) -> Result<(), PatternError> {
        let word_start = at;
        if is_word_start(c) {
            while let Some(next) = self.next_char().filter(|&n| is_word_part(n)) {
                self.literal.push(next);
                self.i += next.len_utf8();
            }
        }
        let pattern = self.pattern;
        let word = if is_word_start(c) {
            &pattern[word_start..self.i]
        } else {
            ""
        };
        let options = self.options()?;
        let rule = (1..=word.len())
            .rev()
            .filter(|&n| word.is_char_boundary(n))
            .find_map(|n| {
                RULES
                    .iter()
                    .find(|(name, _)| *name == &word[..n])
                    .map(|(name, rule)| (*name, *rule))
            });
        let Some((name, rule)) = rule else {
            if self.strict {
                let kind = if word.is_empty() {
                    PatternErrorKind::EmptyConversion
                } else {
                    PatternErrorKind::UnknownConversionWord(word.to_owned())
                };
                return Err(self.error(self.conv_start, kind));
            }
            return self.keep_as_text();
        };
        if name.len() < word.len() && self.strict {
            return Err(self.error(
                word_start + name.len(),
                PatternErrorKind::TextAfterConversion {
                    word: word.to_owned(),
                    conversion: name.to_owned(),
                },
            ));
        }
        let rest = word[name.len()..].to_owned();
        let Some(conversion) = self.conversion(rule, &options, at)? else {
            return self.keep_as_text();
        };
        let spec = self.spec();
        self.literal.clear();
        self.pieces.push(Piece::Convert(spec, conversion));
        self.push_literal(&rest);
        self.state = State::Literal;
        self.reset_spec();
        Ok(())
    }

    /// A failed conversion: `%`, its modifiers and its word are printed as they are.
    fn keep_as_text(&mut self) -> Result<(), PatternError> {
        self.flush_literal();
        self.state = State::Literal;
        self.reset_spec();
        Ok(())
    }

    /// The conversion of `rule` with its options; `None` where log4j cannot make it.
    fn conversion(
        &self,
        rule: Rule,
        options: &[(usize, &str)],
        at: usize,
    ) -> Result<Option<Conversion>, PatternError> {
        let first = options.first().copied();
        let abbreviator = |p: &Self| -> Result<Option<NameAbbreviator>, PatternError> {
            let Some((offset, option)) = first else {
                return Ok(Some(NameAbbreviator::Whole));
            };
            match NameAbbreviator::parse(option) {
                Ok(a) => Ok(Some(a)),
                Err(_) if p.strict => {
                    Err(p.error(offset, PatternErrorKind::BadAbbreviation(option.to_owned())))
                }
                Err(_) => Ok(None),
            }
        };
        Ok(Some(match rule {
            Rule::Logger => match abbreviator(self)? {
                Some(a) => Conversion::EnhancedLogger(a),
                None => return Ok(None),
            },
            Rule::Class => match abbreviator(self)? {
                Some(a) => Conversion::EnhancedClass(a),
                None => return Ok(None),
            },
            Rule::Date => {
                if let Some((offset, "")) = first {
                    if self.strict {
                        return Err(self.error(offset - 1, PatternErrorKind::EmptyOption));
                    }
                }
                let format = match DateFormat::from_enhanced_option(first.map(|(_, o)| o)) {
                    Ok(format) => format,
                    Err(e) if self.strict => {
                        let base = first.map_or(at, |(start, _)| start);
                        return Err(
                            self.error(base + e.offset, PatternErrorKind::BadDateFormat(e.reason))
                        );
                    }
                    Err(_) => DateFormat::enhanced_iso8601(),
                };
                match options.get(1) {
                    None => Conversion::Date(format),
                    Some(&(offset, id)) => {
                        let zone = match JavaZone::resolve(id) {
                            Some(zone) => zone,
                            None if self.strict => {
                                return Err(self.error(
                                    offset,
                                    PatternErrorKind::UnknownTimeZone(id.to_owned()),
                                ))
                            }
                            None => JavaZone::Gmt,
                        };
                        Conversion::ZonedDate(format, Box::new(zone))
                    }
                }
            }
            Rule::File => Conversion::File,
            Rule::Location => Conversion::EnhancedLocation,
            Rule::Line => Conversion::Line,
            Rule::Message => Conversion::Message,
            Rule::LineSeparator => Conversion::LineSeparator,
            Rule::Method => Conversion::Method,
            Rule::Level => Conversion::Level,
            Rule::Relative => Conversion::EnhancedRelative,
            Rule::Thread => Conversion::Thread,
            Rule::Ndc => Conversion::Text("null"),
            Rule::Properties => match first {
                Some((_, key)) => Conversion::Mdc(Some(key.to_owned())),
                None => Conversion::Properties,
            },
            Rule::SequenceNumber => Conversion::Text("0"),
            Rule::Throwable => Conversion::Text(""),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::pattern::parse::Spec;
    use proptest::prelude::*;

    fn lit(s: &str) -> Piece {
        Piece::Literal(s.to_owned())
    }

    fn plain(c: Conversion) -> Piece {
        Piece::Convert(
            Spec {
                min: 0,
                max: u32::MAX,
                left: false,
            },
            c,
        )
    }

    fn lenient(p: &str) -> Vec<Piece> {
        parse(p, false).unwrap()
    }

    fn strict_err(p: &str) -> PatternError {
        parse(p, true).unwrap_err()
    }

    #[test]
    fn words_options_and_leftovers() {
        assert_eq!(lenient("%msg"), vec![plain(Conversion::Message), lit("sg")]);
        assert_eq!(
            lenient("%location"),
            vec![plain(Conversion::EnhancedLocation), lit("ocation")]
        );
        assert_eq!(
            lenient("%m{x}|"),
            vec![plain(Conversion::Message), lit("|")]
        );
        assert_eq!(lenient("%-5q{abc}x"), vec![lit("%-5qx")]);
        assert_eq!(lenient("%#{x}"), vec![lit("%#")]);
        assert_eq!(lenient("%{x}"), vec![lit("%{x}")]);
        assert_eq!(lenient("%c{-}"), vec![lit("%c")]);
        assert_eq!(lenient("%5.m|"), vec![lit("%5.m|")]);
        assert_eq!(lenient("100%"), vec![lit("100%")]);
        assert_eq!(
            lenient("%d{HH:mm"),
            vec![
                plain(Conversion::Date(DateFormat::enhanced_iso8601())),
                lit("{HH:mm")
            ]
        );
        assert_eq!(
            lenient("%throwable%sn%X"),
            vec![
                plain(Conversion::Text("")),
                plain(Conversion::Text("0")),
                plain(Conversion::Properties)
            ]
        );
        assert_eq!(
            lenient("%c{1.}"),
            vec![plain(Conversion::EnhancedLogger(
                NameAbbreviator::parse("1.").unwrap()
            ))]
        );
        assert!(matches!(
            &lenient("%d{HH}{UTC}")[0],
            Piece::Convert(_, Conversion::ZonedDate(_, z)) if **z == JavaZone::Utc
        ));
        assert!(matches!(
            &lenient("%d{HH}{nowhere}")[0],
            Piece::Convert(_, Conversion::ZonedDate(_, z)) if **z == JavaZone::Gmt
        ));
    }

    #[test]
    fn strict_rejections_name_the_offset() {
        let e = strict_err("ab %msg");
        assert_eq!(e.offset, 5);
        assert!(e.to_string().contains("`%msg` reads as `%m`"), "{e}");
        assert_eq!(
            strict_err("%foo").kind,
            PatternErrorKind::UnknownConversionWord("foo".into())
        );
        assert_eq!(strict_err("%{x}").kind, PatternErrorKind::EmptyConversion);
        assert_eq!(
            strict_err("%c{-}").kind,
            PatternErrorKind::BadAbbreviation("-".into())
        );
        assert_eq!(strict_err("%c{-}").offset, 3);
        assert_eq!(
            strict_err("%d{HH}{Mars/Olympus}").kind,
            PatternErrorKind::UnknownTimeZone("Mars/Olympus".into())
        );
        assert_eq!(
            strict_err("%d{HH").kind,
            PatternErrorKind::UnterminatedOption
        );
        assert_eq!(strict_err("%d{}").kind, PatternErrorKind::EmptyOption);
        assert_eq!(
            strict_err("%5.m").kind,
            PatternErrorKind::ExpectedDigit('m')
        );
        assert!(parse("%d{ISO8601}{UTC} %-5p [%t] %c{1.}: %m%n", true).is_ok());
        assert!(parse(
            "%d{yyyy-MM-dd HH:mm:ss.SSS} %-5p (%t) [%X{collection} %X{shard}] %c{1.} %m%n",
            true
        )
        .is_ok());
    }

    proptest! {
        #[test]
        fn never_panics(pattern in any::<String>(), strict in any::<bool>()) {
            let _ = parse(&pattern, strict);
        }

        #[test]
        fn never_panics_on_pattern_like_text(
            pattern in r"([%{}.\-0-9cCdFlLmMnprtxXs%a-z ]|\{[^}]{0,6}\}){0,30}",
            strict in any::<bool>(),
        ) {
            let _ = parse(&pattern, strict);
        }
    }
}
