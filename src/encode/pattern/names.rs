//! EnhancedPatternLayout's `%c{…}` and `%C{…}`: log4j 1.2.17's `NameAbbreviator`.
//!
//! - `{N}` keeps the last N elements (`{0}`: nothing), `{-N}` drops the first N;
//! - a pattern of `.`-separated fragments shortens each element but the last: a fragment is a
//!   count (one digit, or `*` for all) and an optional character put where text was cut
//!   (`{1.}`: `o.a.s.SolrCore`, `{1~.}`: `o~.a~.s~.SolrCore`, `{1.2.*}`); the last fragment
//!   applies to every element left.
//!
//! Elements are separated by `.` only, as in log4j (PatternLayout's `%c{n}` also counts `::`).
//! Like log4j, the abbreviation works on the line being written, from where the name starts:
//! that is how log4j's quirks (a pattern with more fragments than the name has elements goes
//! back to the line's first `.`) come out the same.

/// A compiled `%c{…}` option.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NameAbbreviator {
    /// No option, `{}` or blanks: the whole name.
    Whole,
    /// `{N}`: the last N elements.
    Last(u32),
    /// `{-N}`: without the first N elements.
    DropFirst(u32),
    /// `{1.}`, `{2~.*}`, …
    Fragments(Box<[Fragment]>),
}

/// One fragment of an abbreviation pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fragment {
    /// UTF-16 units kept of an element (`u32::MAX` for `*`).
    chars: u32,
    /// Put where an element was cut.
    ellipsis: Option<u16>,
}

/// `Integer.parseInt` would throw on the option (`{-}`, a number past `int`): log4j then
/// prints the conversion as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BadAbbreviation;

impl NameAbbreviator {
    /// log4j's `NameAbbreviator.getAbbreviator(option)`.
    pub(crate) fn parse(option: &str) -> Result<NameAbbreviator, BadAbbreviation> {
        // Java's `String.trim`: every character up to U+0020 at both ends.
        let trimmed = option.trim_matches(|c: char| c <= ' ');
        if trimmed.is_empty() {
            return Ok(NameAbbreviator::Whole);
        }
        let unsigned = trimmed.strip_prefix('-').unwrap_or(trimmed);
        if unsigned.bytes().all(|b| b.is_ascii_digit()) {
            let n: i32 = trimmed.parse().map_err(|_| BadAbbreviation)?;
            return Ok(if n >= 0 {
                NameAbbreviator::Last(n.unsigned_abs())
            } else {
                NameAbbreviator::DropFirst(n.unsigned_abs())
            });
        }
        let chars: Vec<char> = trimmed.chars().collect();
        let mut fragments = Vec::new();
        let mut pos = 0;
        while pos < chars.len() {
            let mut ellipsis_at = pos;
            let count = match chars[pos] {
                '*' => {
                    ellipsis_at += 1;
                    u32::MAX
                }
                c @ '0'..='9' => {
                    ellipsis_at += 1;
                    c as u32 - '0' as u32
                }
                _ => 0,
            };
            let ellipsis = match chars.get(ellipsis_at) {
                None | Some('.') => None,
                // Java takes one UTF-16 unit: half of a pair prints as `?`.
                Some(c) if c.len_utf16() == 1 => Some(*c as u16),
                Some(_) => Some(u16::from(b'?')),
            };
            fragments.push(Fragment {
                chars: count,
                ellipsis,
            });
            match chars[pos..].iter().position(|&c| c == '.') {
                Some(dot) => pos += dot + 1,
                None => break,
            }
        }
        Ok(NameAbbreviator::Fragments(fragments.into()))
    }

    /// Abbreviates the name written at the end of `line`, from byte `name_start`.
    pub(crate) fn apply(&self, line: &mut String, name_start: usize) {
        match self {
            NameAbbreviator::Whole => {}
            NameAbbreviator::Last(count) => keep_last(line, name_start, *count),
            NameAbbreviator::DropFirst(count) => drop_first(line, name_start, *count),
            NameAbbreviator::Fragments(fragments) => {
                // Only a pattern with at least two fragments more than the name has dots reaches
                // back into the line (see `abbreviate_fragments`); otherwise the name alone is
                // abbreviated, which is all the work a log line pays for.
                let dots = line[name_start..].bytes().filter(|&b| b == b'.').count();
                let whole_line = fragments.len() > dots + 2;
                let from = if whole_line { 0 } else { name_start };
                let mut units: Vec<u16> = line[from..].encode_utf16().collect();
                let start = line[from..name_start].encode_utf16().count();
                abbreviate_fragments(&mut units, start, fragments);
                line.truncate(from);
                // A pair cut in half prints `?`, as through Java's UTF-8 writer.
                line.extend(char::decode_utf16(units).map(|c| c.unwrap_or('?')));
            }
        }
    }
}

/// `MaxElementAbbreviator`: the last `count` elements; a `.` ending the name does not count.
fn keep_last(line: &mut String, name_start: usize, count: u32) {
    let name = &line[name_start..];
    let mut search_end = name.char_indices().last().map_or(0, |(i, _)| i);
    let mut cut = None;
    for _ in 0..count {
        match name[..search_end].rfind('.') {
            Some(dot) => {
                cut = Some(dot + 1);
                search_end = dot;
            }
            None => return,
        }
    }
    match cut {
        Some(end) => {
            line.drain(name_start..name_start + end);
        }
        None => line.truncate(name_start),
    }
}

/// `DropElementAbbreviator`: without the first `count` elements, when the name has that many.
fn drop_first(line: &mut String, name_start: usize, count: u32) {
    if count == 0 {
        return;
    }
    let dots = line[name_start..].match_indices('.').map(|(i, _)| i);
    if let Some(dot) = dots.clone().nth(count as usize - 1) {
        line.drain(name_start..=name_start + dot);
    }
}

/// `PatternAbbreviator`: each fragment but the last once, then the last until the name ends.
fn abbreviate_fragments(buf: &mut Vec<u16>, name_start: usize, fragments: &[Fragment]) {
    let Some((last, others)) = fragments.split_last() else {
        return;
    };
    let mut pos = name_start as i64;
    for fragment in others {
        if pos >= buf.len() as i64 {
            break;
        }
        // log4j goes on with -1 after the name's last element (see the module docs).
        match shorten(buf, pos, fragment) {
            Some(next) => pos = next,
            None => return,
        }
    }
    while pos >= 0 && pos < buf.len() as i64 {
        match shorten(buf, pos, last) {
            Some(next) => pos = next,
            None => return,
        }
    }
}

/// `PatternAbbreviatorFragment.abbreviate`: shortens the element starting at `start` and
/// returns where the next one starts, -1 when it was the last. `None` where log4j throws (it
/// would cut before the line's start), which ends the abbreviation.
fn shorten(buf: &mut Vec<u16>, start: i64, fragment: &Fragment) -> Option<i64> {
    let from = start.max(0) as usize;
    let Some(dot) = buf[from..].iter().position(|&u| u == u16::from(b'.')) else {
        return Some(-1);
    };
    let mut next = (from + dot) as i64;
    if next - start > i64::from(fragment.chars) {
        let cut = start + i64::from(fragment.chars);
        if cut < 0 {
            return None;
        }
        buf.drain(cut as usize..next as usize);
        next = cut;
        if let Some(e) = fragment.ellipsis {
            buf.insert(next as usize, e);
            next += 1;
        }
    }
    Some(next + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn abbreviate(option: &str, name: &str) -> String {
        let mut line = format!("[{name}");
        NameAbbreviator::parse(option).unwrap().apply(&mut line, 1);
        line[1..].to_owned()
    }

    /// What log4j 1.2.17's EnhancedPatternLayout printed for these (tests/java/PatternTable.java
    /// runs more of them against the jar).
    #[test]
    fn as_log4j_prints_them() {
        let solr = "org.apache.solr.core.SolrCore";
        for (option, expected) in [
            ("1.", "o.a.s.c.SolrCore"),
            ("2.", "or.ap.so.co.SolrCore"),
            ("1.*", "o.apache.solr.core.SolrCore"),
            ("1~.", "o~.a~.s~.c~.SolrCore"),
            ("-1", "apache.solr.core.SolrCore"),
            ("-2", "solr.core.SolrCore"),
            ("0", ""),
            ("-0", ""),
            ("x", "x.x.x.x.SolrCore"),
            (".", "....SolrCore"),
            ("3", "solr.core.SolrCore"),
            ("1", "SolrCore"),
            ("", solr),
            ("  ", solr),
            ("1.2", "o.ap.so.co.SolrCore"),
            ("12.", "o2.a2.s2.c2.SolrCore"),
            ("1..", "o....SolrCore"),
            (" 1", "SolrCore"),
        ] {
            assert_eq!(abbreviate(option, solr), expected, "{{{option}}}");
        }
        for (option, name, expected) in [
            ("1", "a.b.", "b."),
            ("-1", "a.b.", "b."),
            ("-2", "a.b.", ""),
            ("-1", ".a", "a"),
            ("-2", ".a", ".a"),
            ("1", "a..b", "b"),
            ("-1", "a..b", ".b"),
            ("-2", "a..b", "b"),
            ("1.", "a.b.", "a.b."),
            ("1.", "", ""),
            ("2", "a", "a"),
        ] {
            assert_eq!(abbreviate(option, name), expected, "{{{option}}} {name}");
        }
    }

    #[test]
    fn options_log4j_cannot_read() {
        for bad in ["-", "2147483648", "-2147483649", "99999999999"] {
            assert_eq!(NameAbbreviator::parse(bad), Err(BadAbbreviation), "{bad}");
        }
        assert_eq!(
            NameAbbreviator::parse("-2147483648"),
            Ok(NameAbbreviator::DropFirst(1 << 31))
        );
    }

    #[test]
    fn more_fragments_than_elements_go_back_to_the_line_start() {
        // log4j: `[%c{1.1.1.1.}]` on `org.Foo` prints `.Foo]`, `a.b[%c{1.1.1.1.}]` `.b.Foo]`.
        let mut line = "[org.Foo".to_owned();
        NameAbbreviator::parse("1.1.1.1.")
            .unwrap()
            .apply(&mut line, 1);
        assert_eq!(line, ".Foo");
        let mut line = "a.b[org.Foo".to_owned();
        NameAbbreviator::parse("1.1.1.1.")
            .unwrap()
            .apply(&mut line, 4);
        assert_eq!(line, ".b.Foo");
        let mut line = "[org.Foo".to_owned();
        NameAbbreviator::parse("1.1.1.")
            .unwrap()
            .apply(&mut line, 1);
        assert_eq!(line, "[o.Foo");
    }

    #[test]
    fn cuts_count_utf16_units() {
        assert_eq!(abbreviate("1.", "😀x.é.Z"), "?.é.Z");
        assert_eq!(abbreviate("2.", "😀x.éé.Z"), "😀.éé.Z");
        assert_eq!(abbreviate("1😀.", "ab.c"), "a?.c");
    }

    proptest::proptest! {
        /// Abbreviating the name alone (what a log line pays for) gives what log4j's whole-line
        /// algorithm gives, whatever precedes the name.
        #[test]
        fn name_alone_is_the_whole_line_algorithm(
            option in "[0-9*~x]{0,2}(\\.[0-9*~x]{0,2}){0,5}",
            name in "[a-zé😀]{0,3}(\\.[a-zé😀]{0,3}){0,5}",
            prefix in "[.a]{0,3}",
        ) {
            let a = NameAbbreviator::parse(&option).unwrap();
            let mut line = format!("{prefix}{name}");
            a.apply(&mut line, prefix.len());
            let mut units: Vec<u16> = format!("{prefix}{name}").encode_utf16().collect();
            if let NameAbbreviator::Fragments(fragments) = &a {
                let start = prefix.encode_utf16().count();
                abbreviate_fragments(&mut units, start, fragments);
                let whole: String = char::decode_utf16(units).map(|c| c.unwrap_or('?')).collect();
                proptest::prop_assert_eq!(line, whole);
            }
        }

        #[test]
        fn never_panics(option in "[-0-9*.~x ]{0,8}", name in "[a.😀é]{0,12}", prefix in "[.a]{0,3}") {
            if let Ok(a) = NameAbbreviator::parse(&option) {
                let mut line = format!("{prefix}{name}");
                a.apply(&mut line, prefix.len());
            }
        }
    }
}
