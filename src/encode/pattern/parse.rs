//! The pattern parser: log4j 1.2's `PatternParser` state machine, run once per pattern.
//!
//! Lenient mode reproduces log4j byte for byte, including what it does with mistakes (an unknown
//! conversion character, a `.` not followed by a digit or a pattern ending inside a conversion
//! is kept as literal text; an unterminated `{` is left as text after the conversion; a bad
//! `%c{n}` means the whole name; a bad `%d{format}` means ISO8601). Strict mode rejects each of
//! those with the byte offset at fault.

use super::date::DateFormat;
use super::names::NameAbbreviator;
use super::zone::JavaZone;

/// Widths above this are refused (log4j would pad every line with that many spaces, or, past
/// `i32::MAX`, wrap around or throw).
pub const MAX_WIDTH: u32 = 65_535;

/// A pattern that cannot be used, with the byte offset at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("log4j pattern `{pattern}`: at byte {offset}: {kind}")]
pub struct PatternError {
    /// The pattern as given.
    pub pattern: String,
    /// Byte offset in the pattern of the problem.
    pub offset: usize,
    /// What is wrong.
    pub kind: PatternErrorKind,
}

/// What is wrong with a pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatternErrorKind {
    /// `%q`: not a log4j 1.2 conversion character (log4j prints it as text).
    #[error("unknown conversion character `{0}` (log4j would print it as text)")]
    UnknownConversion(char),
    /// `%.x`: the maximum width needs a digit.
    #[error("expected a digit after `.`, found `{0}`")]
    ExpectedDigit(char),
    /// The pattern ends in the middle of `%-5.`.
    #[error("the pattern ends inside a conversion")]
    UnfinishedConversion,
    /// A lone `%` ends the pattern (log4j prints it as text; write `%%`).
    #[error("`%` at the end of the pattern (write `%%` for a percent sign)")]
    DanglingPercent,
    /// `{` without its `}` after `%c`, `%C`, `%d` or `%X`.
    #[error("`{{` without a closing `}}`")]
    UnterminatedOption,
    /// `%c{0}`, `%c{x}`: the precision must be a positive integer.
    #[error("`{0}` is not a positive integer")]
    BadPrecision(String),
    /// `%d{}` or `%X{}`.
    #[error("empty `{{}}` option")]
    EmptyOption,
    /// `%d{…}` is not a valid `SimpleDateFormat` (log4j falls back to ISO8601).
    #[error("invalid date format: {0}")]
    BadDateFormat(String),
    /// A minimum or maximum width over [`MAX_WIDTH`].
    #[error("width {0} is too large (at most {max})", max = MAX_WIDTH)]
    WidthTooLarge(String),
    /// EnhancedPatternLayout: `%q`, `%foo`: no conversion of that name (log4j prints it as
    /// text).
    #[error("unknown conversion `{0}` (log4j would print it as text)")]
    UnknownConversionWord(String),
    /// EnhancedPatternLayout: `%` followed by neither a letter nor a modifier.
    #[error("`%` without a conversion name (write `%%` for a percent sign)")]
    EmptyConversion,
    /// EnhancedPatternLayout: `%msg` reads as `%m` followed by the text `sg`.
    #[error("`%{word}` reads as `%{conversion}` followed by the text `{rest}`", rest = &word[conversion.len()..])]
    TextAfterConversion {
        /// The word as written.
        word: String,
        /// The conversion log4j takes from its start.
        conversion: String,
    },
    /// EnhancedPatternLayout: `%c{-}`: not a number log4j can read (it prints the conversion
    /// as text).
    #[error("`{0}` is not an abbreviation log4j can read")]
    BadAbbreviation(String),
    /// EnhancedPatternLayout: `%d{…}{Mars/Olympus}`: a zone Java does not know (log4j uses GMT).
    #[error("unknown time zone `{0}` (log4j would use GMT)")]
    UnknownTimeZone(String),
}

/// Padding and truncation of one conversion (log4j's `FormattingInfo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Spec {
    /// Minimum width in UTF-16 units; 0 for none.
    pub min: u32,
    /// Maximum width in UTF-16 units (the end is kept); `u32::MAX` for none.
    pub max: u32,
    /// Pad on the right instead of the left.
    pub left: bool,
}

impl Spec {
    #[cfg(test)]
    pub(crate) const NONE: Spec = Spec {
        min: 0,
        max: u32::MAX,
        left: false,
    };

    pub(crate) fn is_none(&self) -> bool {
        self.min == 0 && self.max == u32::MAX
    }
}

/// What a conversion prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Conversion {
    /// `%c{n}`: the logger (record target); 0 for the whole name.
    Logger(u32),
    /// `%C{n}`: the "class" (record module path, `?` when absent).
    Class(u32),
    /// `%d{format}`.
    Date(DateFormat),
    /// `%F`.
    File,
    /// `%l`.
    Location,
    /// `%L`.
    Line,
    /// `%m`.
    Message,
    /// `%M`.
    Method,
    /// `%p`.
    Level,
    /// `%r`.
    Relative,
    /// `%t`.
    Thread,
    /// `%x`.
    Ndc,
    /// `%X{key}`, or `%X` for the whole MDC.
    Mdc(Option<String>),
    /// EnhancedPatternLayout's `%c{…}`: the logger, abbreviated by log4j's `NameAbbreviator`.
    EnhancedLogger(NameAbbreviator),
    /// EnhancedPatternLayout's `%C{…}`.
    EnhancedClass(NameAbbreviator),
    /// EnhancedPatternLayout's `%d{format}{zone}`: a date in a zone of its own.
    ZonedDate(DateFormat, Box<JavaZone>),
    /// EnhancedPatternLayout's `%X` / `%properties` without a key: the MDC in log4j's order.
    Properties,
    /// EnhancedPatternLayout's `%l`: `null` for a record without location.
    EnhancedLocation,
    /// EnhancedPatternLayout's `%r`: as `%r`, but empty for an event at the epoch's first
    /// millisecond (log4j 1.2.17 caches "the last one" starting from 0, printed as nothing).
    EnhancedRelative,
    /// EnhancedPatternLayout's `%n`: a conversion, which widths apply to.
    LineSeparator,
    /// What EnhancedPatternLayout prints for what Rust records do not have: `%x` (`null`),
    /// `%sn` (`0`), `%throwable` (nothing).
    Text(&'static str),
}

/// One parsed piece of a pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    Literal(String),
    Convert(Spec, Conversion),
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    Literal,
    Converter,
    Min,
    Dot,
    Max,
}

/// Which of log4j's two parsers: they share the modifier state machine, and differ in `%n`
/// (an escape of PatternLayout's, a conversion of EnhancedPatternLayout's) and in what follows
/// the modifiers (a character here, a word and options in `super::enhanced`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    Pattern,
    Enhanced,
}

/// log4j's `PatternParser` state, for both dialects.
pub(super) struct Parser<'a> {
    pub(super) pattern: &'a str,
    pub(super) strict: bool,
    dialect: Dialect,
    /// Byte offset of the next character.
    pub(super) i: usize,
    pub(super) pieces: Vec<Piece>,
    /// The text read since the last conversion; inside a conversion, `%` and its modifiers
    /// (and, EnhancedPatternLayout, its word), printed as they are if it fails.
    pub(super) literal: String,
    pub(super) state: State,
    /// `min`/`max` as log4j accumulates them (in i64 to catch overflow).
    pub(super) min: Option<i64>,
    pub(super) max: Option<i64>,
    pub(super) left: bool,
    /// Byte offset of the `%` of the conversion being read.
    pub(super) conv_start: usize,
}

/// Parses a PatternLayout `pattern` into pieces (adjacent literals merged).
pub(crate) fn parse(pattern: &str, strict: bool) -> Result<Vec<Piece>, PatternError> {
    Parser::run(pattern, strict, Dialect::Pattern)
}

impl<'a> Parser<'a> {
    /// Parses `pattern` as `dialect` reads it.
    pub(super) fn run(
        pattern: &'a str,
        strict: bool,
        dialect: Dialect,
    ) -> Result<Vec<Piece>, PatternError> {
        let mut p = Parser {
            pattern,
            strict,
            dialect,
            i: 0,
            pieces: Vec::new(),
            literal: String::new(),
            state: State::Literal,
            min: None,
            max: None,
            left: false,
            conv_start: 0,
        };
        p.scan()?;
        Ok(p.pieces)
    }

    pub(super) fn error(&self, offset: usize, kind: PatternErrorKind) -> PatternError {
        PatternError {
            pattern: self.pattern.to_owned(),
            offset,
            kind,
        }
    }

    pub(super) fn next_char(&self) -> Option<char> {
        self.pattern[self.i..].chars().next()
    }

    pub(super) fn push_literal(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if let Some(Piece::Literal(last)) = self.pieces.last_mut() {
            last.push_str(text);
        } else {
            self.pieces.push(Piece::Literal(text.to_owned()));
        }
    }

    pub(super) fn flush_literal(&mut self) {
        let literal = std::mem::take(&mut self.literal);
        self.push_literal(&literal);
    }

    pub(super) fn reset_spec(&mut self) {
        self.min = None;
        self.max = None;
        self.left = false;
    }

    fn add_digit(&self, acc: Option<i64>, c: char) -> Result<Option<i64>, PatternError> {
        let digit = i64::from(c as u8 - b'0');
        let value = acc.unwrap_or(0) * 10 + digit;
        if value > i64::from(MAX_WIDTH) {
            let start = self.conv_start;
            let end = self.i;
            return Err(self.error(
                start,
                PatternErrorKind::WidthTooLarge(self.pattern[start..end].to_owned()),
            ));
        }
        Ok(Some(value))
    }

    /// The spec of the conversion being read.
    pub(super) fn spec(&self) -> Spec {
        Spec {
            min: self.min.map_or(0, |m| m as u32),
            max: self.max.map_or(u32::MAX, |m| m as u32),
            left: self.left,
        }
    }

    /// A conversion ends: `c` (at byte `at`) follows its modifiers.
    fn finalize_any(&mut self, c: char, at: usize) -> Result<(), PatternError> {
        match self.dialect {
            Dialect::Pattern => self.finalize(c, at),
            Dialect::Enhanced => self.finalize_word(c, at),
        }
    }

    fn scan(&mut self) -> Result<(), PatternError> {
        while let Some(c) = self.next_char() {
            let at = self.i;
            self.i += c.len_utf8();
            match self.state {
                State::Literal => {
                    // In literal state the last character is always literal.
                    if self.i == self.pattern.len() {
                        if c == '%' && self.strict {
                            return Err(self.error(at, PatternErrorKind::DanglingPercent));
                        }
                        self.literal.push(c);
                        continue;
                    }
                    if c != '%' {
                        self.literal.push(c);
                        continue;
                    }
                    match self.next_char() {
                        Some('%') => {
                            self.literal.push('%');
                            self.i += 1;
                        }
                        Some('n') if self.dialect == Dialect::Pattern => {
                            self.literal.push('\n');
                            self.i += 1;
                        }
                        _ => {
                            self.flush_literal();
                            self.literal.push('%');
                            self.state = State::Converter;
                            self.conv_start = at;
                            self.reset_spec();
                        }
                    }
                }
                State::Converter => {
                    self.literal.push(c);
                    match c {
                        '-' => self.left = true,
                        '.' => self.state = State::Dot,
                        '0'..='9' => {
                            self.min = self.add_digit(None, c)?;
                            self.state = State::Min;
                        }
                        _ => self.finalize_any(c, at)?,
                    }
                }
                State::Min => {
                    self.literal.push(c);
                    match c {
                        '0'..='9' => self.min = self.add_digit(self.min, c)?,
                        '.' => self.state = State::Dot,
                        _ => self.finalize_any(c, at)?,
                    }
                }
                State::Dot => {
                    self.literal.push(c);
                    if c.is_ascii_digit() {
                        self.max = self.add_digit(None, c)?;
                        self.state = State::Max;
                    } else {
                        if self.strict {
                            return Err(self.error(at, PatternErrorKind::ExpectedDigit(c)));
                        }
                        // log4j keeps `%.` and the character as text.
                        self.state = State::Literal;
                    }
                }
                State::Max => {
                    self.literal.push(c);
                    if c.is_ascii_digit() {
                        self.max = self.add_digit(self.max, c)?;
                    } else {
                        self.finalize_any(c, at)?;
                    }
                }
            }
        }
        if self.strict && self.state != State::Literal {
            return Err(self.error(self.conv_start, PatternErrorKind::UnfinishedConversion));
        }
        self.flush_literal();
        Ok(())
    }

    /// log4j's `extractOption`: `{…}` right after the conversion character, up to the first `}`.
    fn extract_option(&mut self) -> Result<Option<(usize, &'a str)>, PatternError> {
        let pattern = self.pattern;
        if !pattern[self.i..].starts_with('{') {
            return Ok(None);
        }
        match pattern[self.i..].find('}') {
            Some(end) => {
                let start = self.i + 1;
                let end = self.i + end;
                self.i = end + 1;
                Ok(Some((start, &pattern[start..end])))
            }
            None if self.strict => Err(self.error(self.i, PatternErrorKind::UnterminatedOption)),
            None => Ok(None),
        }
    }

    /// log4j's `extractPrecisionOption`: a positive `{n}`, else 0 (the whole name).
    fn extract_precision(&mut self) -> Result<u32, PatternError> {
        let Some((at, option)) = self.extract_option()? else {
            return Ok(0);
        };
        match java_parse_int(option) {
            Some(n) if n > 0 => Ok(n as u32),
            _ if self.strict => {
                Err(self.error(at, PatternErrorKind::BadPrecision(option.to_owned())))
            }
            _ => Ok(0),
        }
    }

    fn finalize(&mut self, c: char, at: usize) -> Result<(), PatternError> {
        let conversion = match c {
            'c' => Conversion::Logger(self.extract_precision()?),
            'C' => Conversion::Class(self.extract_precision()?),
            'd' => {
                let option = self.extract_option()?;
                match option {
                    Some((at, "")) if self.strict => {
                        return Err(self.error(at - 1, PatternErrorKind::EmptyOption));
                    }
                    _ => {}
                }
                match DateFormat::from_option(option.map(|(_, o)| o)) {
                    Ok(format) => Conversion::Date(format),
                    Err(e) if self.strict => {
                        let base = option.map_or(at, |(start, _)| start);
                        return Err(
                            self.error(base + e.offset, PatternErrorKind::BadDateFormat(e.reason))
                        );
                    }
                    Err(_) => Conversion::Date(DateFormat::Iso8601),
                }
            }
            'F' => Conversion::File,
            'l' => Conversion::Location,
            'L' => Conversion::Line,
            'm' => Conversion::Message,
            'M' => Conversion::Method,
            'p' => Conversion::Level,
            'r' => Conversion::Relative,
            't' => Conversion::Thread,
            'x' => Conversion::Ndc,
            'X' => match self.extract_option()? {
                Some((at, "")) if self.strict => {
                    return Err(self.error(at - 1, PatternErrorKind::EmptyOption));
                }
                option => Conversion::Mdc(option.map(|(_, key)| key.to_owned())),
            },
            _ => {
                if self.strict {
                    return Err(self.error(at, PatternErrorKind::UnknownConversion(c)));
                }
                // log4j prints the whole `%…c` as text.
                self.flush_literal();
                self.state = State::Literal;
                self.reset_spec();
                return Ok(());
            }
        };
        let spec = self.spec();
        self.literal.clear();
        self.pieces.push(Piece::Convert(spec, conversion));
        self.state = State::Literal;
        self.reset_spec();
        Ok(())
    }
}

/// Java's `Integer.parseInt` for ASCII text: optional sign, decimal digits, `int` range.
pub(super) fn java_parse_int(s: &str) -> Option<i32> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude: i64 = if digits.len() > 11 {
        return None;
    } else {
        digits.parse().ok()?
    };
    let value = if s.starts_with('-') {
        -magnitude
    } else {
        magnitude
    };
    i32::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lit(s: &str) -> Piece {
        Piece::Literal(s.to_owned())
    }

    fn conv(min: u32, max: u32, left: bool, c: Conversion) -> Piece {
        Piece::Convert(Spec { min, max, left }, c)
    }

    fn plain(c: Conversion) -> Piece {
        Piece::Convert(Spec::NONE, c)
    }

    fn lenient(p: &str) -> Vec<Piece> {
        parse(p, false).unwrap()
    }

    fn strict_err(p: &str) -> PatternError {
        parse(p, true).unwrap_err()
    }

    #[test]
    fn real_config_pattern() {
        assert_eq!(
            lenient("%d{ISO8601} %-5p [%t] %c{2}: %m%n"),
            vec![
                plain(Conversion::Date(DateFormat::Iso8601)),
                lit(" "),
                conv(5, u32::MAX, true, Conversion::Level),
                lit(" ["),
                plain(Conversion::Thread),
                lit("] "),
                plain(Conversion::Logger(2)),
                lit(": "),
                plain(Conversion::Message),
                lit("\n"),
            ]
        );
        assert!(parse("%d{ISO8601} %-5p [%t] %c{2}: %m%n", true).is_ok());
    }

    #[test]
    fn modifiers() {
        assert_eq!(
            lenient("%5p"),
            vec![conv(5, u32::MAX, false, Conversion::Level)]
        );
        assert_eq!(
            lenient("%-5p"),
            vec![conv(5, u32::MAX, true, Conversion::Level)]
        );
        assert_eq!(
            lenient("%.30c"),
            vec![conv(0, 30, false, Conversion::Logger(0))]
        );
        assert_eq!(
            lenient("%20.30c"),
            vec![conv(20, 30, false, Conversion::Logger(0))]
        );
        assert_eq!(
            lenient("%-10.10c|"),
            vec![conv(10, 10, true, Conversion::Logger(0)), lit("|")]
        );
        assert_eq!(
            lenient("%--5p"),
            vec![conv(5, u32::MAX, true, Conversion::Level)]
        );
        assert_eq!(
            lenient("%00010p"),
            vec![conv(10, u32::MAX, false, Conversion::Level)]
        );
        assert_eq!(lenient("%.0p"), vec![conv(0, 0, false, Conversion::Level)]);
    }

    #[test]
    fn escapes_and_literals() {
        assert_eq!(lenient("%%"), vec![lit("%")]);
        assert_eq!(lenient("%%%"), vec![lit("%%")]);
        assert_eq!(lenient("a%nb"), vec![lit("a\nb")]);
        assert_eq!(lenient("abc%"), vec![lit("abc%")]);
        assert_eq!(lenient(""), vec![]);
        assert_eq!(
            lenient("日本%m"),
            vec![lit("日本"), plain(Conversion::Message)]
        );
    }

    #[test]
    fn log4j_mistakes_become_text() {
        assert_eq!(lenient("%q|"), vec![lit("%q|")]);
        assert_eq!(lenient("%5n|"), vec![lit("%5n|")]);
        assert_eq!(lenient("%-%|"), vec![lit("%-%|")]);
        assert_eq!(lenient("%.x"), vec![lit("%.x")]);
        assert_eq!(lenient("%.%m"), vec![lit("%.%m")]);
        assert_eq!(lenient("%-5"), vec![lit("%-5")]);
        assert_eq!(lenient("%5.p|"), vec![lit("%5.p|")]);
        assert_eq!(lenient("%.3.p"), vec![lit("%.3.p")]);
        assert_eq!(
            lenient("%d{yyyy"),
            vec![plain(Conversion::Date(DateFormat::Iso8601)), lit("{yyyy")]
        );
        assert_eq!(lenient("%c{0}"), vec![plain(Conversion::Logger(0))]);
        assert_eq!(lenient("%c{x}"), vec![plain(Conversion::Logger(0))]);
        assert_eq!(lenient("%c{+1}"), vec![plain(Conversion::Logger(1))]);
        assert_eq!(
            lenient("%c{2147483648}"),
            vec![plain(Conversion::Logger(0))]
        );
        assert_eq!(
            lenient("%d{q}"),
            vec![plain(Conversion::Date(DateFormat::Iso8601))]
        );
        assert_eq!(
            lenient("%m{x}"),
            vec![plain(Conversion::Message), lit("{x}")]
        );
        assert_eq!(
            lenient("%X{a}b}"),
            vec![plain(Conversion::Mdc(Some("a".into()))), lit("b}")]
        );
        assert_eq!(lenient("%X"), vec![plain(Conversion::Mdc(None))]);
        assert_eq!(
            lenient("%X{}"),
            vec![plain(Conversion::Mdc(Some(String::new())))]
        );
        assert_eq!(lenient("%é"), vec![lit("%é")]);
    }

    #[test]
    fn strict_rejections_name_the_offset() {
        let e = strict_err("%d %q");
        assert_eq!(
            (e.offset, &e.kind),
            (4, &PatternErrorKind::UnknownConversion('q'))
        );
        assert!(e.to_string().contains("at byte 4"), "{e}");
        assert!(e.to_string().contains("`q`"), "{e}");
        assert_eq!(strict_err("ab%.x").offset, 4);
        assert_eq!(
            strict_err("ab%-5").kind,
            PatternErrorKind::UnfinishedConversion
        );
        assert_eq!(strict_err("ab%-5").offset, 2);
        assert_eq!(strict_err("ab%").kind, PatternErrorKind::DanglingPercent);
        assert_eq!(
            strict_err("%d{yyyy").kind,
            PatternErrorKind::UnterminatedOption
        );
        assert_eq!(strict_err("%d{yyyy").offset, 2);
        assert_eq!(strict_err("%X{user").offset, 2);
        assert_eq!(
            strict_err("%c{0}").kind,
            PatternErrorKind::BadPrecision("0".into())
        );
        assert_eq!(strict_err("%c{x}").offset, 3);
        assert_eq!(strict_err("%d{}").kind, PatternErrorKind::EmptyOption);
        assert_eq!(strict_err("%X{}").kind, PatternErrorKind::EmptyOption);
        let e = strict_err("[%d{yyyy-MM-dd qq}]");
        assert_eq!(e.offset, 15);
        assert!(matches!(e.kind, PatternErrorKind::BadDateFormat(_)));
        assert_eq!(strict_err("%d{HH 'x}").offset, 6);
        assert_eq!(
            strict_err("%5n").kind,
            PatternErrorKind::UnknownConversion('n')
        );
    }

    #[test]
    fn widths_are_bounded_in_both_modes() {
        for p in ["%65536m", "%.99999999999c", "%4294967301c"] {
            let e = parse(p, false).unwrap_err();
            assert!(
                matches!(e.kind, PatternErrorKind::WidthTooLarge(_)),
                "{p}: {e}"
            );
        }
        assert!(parse("%65535m", true).is_ok());
    }

    #[test]
    fn java_int_parsing() {
        assert_eq!(java_parse_int("12"), Some(12));
        assert_eq!(java_parse_int("+3"), Some(3));
        assert_eq!(java_parse_int("-3"), Some(-3));
        assert_eq!(java_parse_int("2147483647"), Some(i32::MAX));
        assert_eq!(java_parse_int("2147483648"), None);
        assert_eq!(java_parse_int("-2147483648"), Some(i32::MIN));
        for bad in ["", "+", " 1", "1 ", "0x1", "99999999999999999999"] {
            assert_eq!(java_parse_int(bad), None, "{bad}");
        }
    }

    proptest! {
        // A few thousand cases by default; PROPTEST_CASES raises it (scripts/fuzz-properties.sh).
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(2_000),
        ))]
        #[test]
        fn parser_never_panics(pattern in any::<String>(), strict in any::<bool>()) {
            let _ = parse(&pattern, strict);
        }

        #[test]
        fn parser_never_panics_on_pattern_like_text(
            pattern in r"([%{}.\-0-9cCdFlLmMnprtxX%'yMdHmsSEaZz ]|\{[^}]{0,6}\}){0,30}",
            strict in any::<bool>(),
        ) {
            let _ = parse(&pattern, strict);
        }

        #[test]
        fn strict_accepts_only_what_lenient_parses_the_same(pattern in r"[%{}.\-0-9cdmpX a]{0,16}") {
            if let Ok(strict) = parse(&pattern, true) {
                prop_assert_eq!(Some(strict), parse(&pattern, false).ok());
            }
        }
    }
}
