//! The text layer of log4j 1.x `.properties` configs.
//!
//! [`parse`] reproduces `java.util.Properties.load(Reader)` (the JDK's `LineReader`
//! plus `loadConvert`) so that a file means here exactly what it means to log4j;
//! [`substitute`] reproduces log4j 1.2's `OptionConverter.substVars`. Nothing here
//! knows what any key means: that is the log4j layer's job.

use std::collections::HashSet;

/// One `key=value` of a properties file, after unescaping, with the 1-based line where its logical line starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Property {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// The only failure Java's `Properties.load` reports: a malformed `\uXXXX` escape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

/// A logical line (continuations joined, escapes still in place) and the natural line it starts on.
struct LogicalLine {
    line: usize,
    chars: Vec<char>,
}

/// Java's whitespace for properties files: space, tab and form feed (not line terminators).
fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0c')
}

/// Splits text into logical lines the way the JDK's `LineReader` does.
///
/// A comment is a logical line whose first non-blank char is `#` or `!`; a
/// continuation line is never a comment and a comment is never continued.
fn logical_lines(text: &str) -> Vec<LogicalLine> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1; // natural line of the char being read
    let mut start = 1; // natural line where the current logical line starts
    let mut buf: Vec<char> = Vec::new();
    let mut skip_blank = true; // skipping leading blanks of a (continuation) line
    let mut continued = false; // after `\`+EOL: an empty next line ends the logical line
    let mut first = true; // the next char read is the first of a logical line
    let mut comment = false;
    let mut backslash = false; // `buf` ends with an odd number of backslashes

    while let Some(c) = chars.next() {
        let here = line;
        let eol = c == '\n' || c == '\r';
        if eol {
            // `\r\n` is one terminator.
            if c == '\r' && chars.peek() == Some(&'\n') {
                chars.next();
            }
            line += 1;
        }
        if comment {
            if eol {
                comment = false;
                first = true;
                skip_blank = true;
            }
            continue;
        }
        if skip_blank {
            if is_blank(c) || (eol && !continued) {
                continue;
            }
            skip_blank = false;
            continued = false;
        }
        if first {
            first = false;
            start = here;
            if c == '#' || c == '!' {
                comment = true;
                continue;
            }
        }
        if !eol {
            buf.push(c);
            backslash = c == '\\' && !backslash;
            continue;
        }
        if buf.is_empty() {
            // Only reachable after a lone `\` continued into an empty line.
            first = true;
            skip_blank = true;
        } else if backslash {
            buf.pop();
            backslash = false;
            skip_blank = true;
            continued = true;
        } else {
            out.push(LogicalLine {
                line: start,
                chars: std::mem::take(&mut buf),
            });
            first = true;
            skip_blank = true;
        }
    }
    if !comment && !buf.is_empty() {
        // A lone trailing backslash at end of input is dropped.
        if backslash {
            buf.pop();
        }
        out.push(LogicalLine {
            line: start,
            chars: buf,
        });
    }
    out
}

/// Splits a logical line into raw key and raw value (Java's `load0`): the key ends at the
/// first unescaped `=`, `:` or blank; then blanks, at most one `=`/`:`, and blanks are skipped.
fn split_key_value(chars: &[char]) -> (&[char], &[char]) {
    let mut key_len = 0;
    let mut value_start = chars.len();
    let mut has_sep = false;
    let mut backslash = false;
    while let Some(&c) = chars.get(key_len) {
        if !backslash && (c == '=' || c == ':') {
            value_start = key_len + 1;
            has_sep = true;
            break;
        }
        if !backslash && is_blank(c) {
            value_start = key_len + 1;
            break;
        }
        backslash = c == '\\' && !backslash;
        key_len += 1;
    }
    while let Some(&c) = chars.get(value_start) {
        if !is_blank(c) {
            if !has_sep && (c == '=' || c == ':') {
                has_sep = true;
            } else {
                break;
            }
        }
        value_start += 1;
    }
    let key = chars.get(..key_len).unwrap_or_default();
    let value = chars.get(value_start..).unwrap_or_default();
    (key, value)
}

/// Resolves escapes (Java's `loadConvert`). Works in UTF-16 units so that `\uD83D\uDE00`
/// pairs up into one char; an unpaired surrogate becomes U+FFFD. `None` means a malformed `\u`.
fn unescape(chars: &[char]) -> Option<String> {
    let mut units: Vec<u16> = Vec::with_capacity(chars.len());
    let mut it = chars.iter().copied();
    while let Some(c) = it.next() {
        let c = if c == '\\' {
            match it.next() {
                // A lone trailing backslash is dropped.
                None => break,
                Some('u') => {
                    let mut unit: u32 = 0;
                    for _ in 0..4 {
                        unit = unit * 16 + it.next()?.to_digit(16)?;
                    }
                    // Four hex digits always fit in a u16.
                    units.push(u16::try_from(unit).ok()?);
                    continue;
                }
                Some('t') => '\t',
                Some('n') => '\n',
                Some('r') => '\r',
                Some('f') => '\x0c',
                Some(other) => other,
            }
        } else {
            c
        };
        let mut tmp = [0u16; 2];
        units.extend_from_slice(c.encode_utf16(&mut tmp));
    }
    Some(String::from_utf16_lossy(&units))
}

/// Parses properties text. Returns every entry in file order (duplicates included: callers apply "last one wins").
/// Errors only where Java throws: a malformed \uXXXX escape ("malformed \\uxxxx encoding").
pub fn parse(text: &str) -> Result<Vec<Property>, SyntaxError> {
    logical_lines(text)
        .into_iter()
        .map(|logical| {
            let (raw_key, raw_value) = split_key_value(&logical.chars);
            let malformed = || SyntaxError {
                line: logical.line,
                message: "malformed \\uxxxx encoding".to_owned(),
            };
            Ok(Property {
                key: unescape(raw_key).ok_or_else(malformed)?,
                value: unescape(raw_value).ok_or_else(malformed)?,
                line: logical.line,
            })
        })
        .collect()
}

/// Where `${name}` values come from, in priority order, decided by the caller.
pub trait Lookup {
    fn lookup(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Lookup for F {
    fn lookup(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// The result of [`substitute`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Substituted {
    pub value: String,
    /// names that were undefined (replaced by "")
    pub undefined: Vec<String>,
}

/// Why [`substitute`] failed. log4j throws on both; the caller decides what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubstError {
    #[error("unclosed `${{` in `{value}` (at byte {at})")]
    Unclosed { value: String, at: usize },
    #[error("`${{{name}}}` refers to itself (substitution depth over {limit})")]
    TooDeep { name: String, limit: usize },
    /// Fan-out ("billion laughs": `a=${b}${b}…`, `b=${c}${c}…`): the expansion would exceed
    /// the budget though no name refers to itself.
    #[error(
        "`${{{name}}}` expands to more than {} MiB of text (variables that each repeat the next \
         several times: an exponential \"billion laughs\" fan-out)",
        limit >> 20
    )]
    TooLarge { name: String, limit: usize },
}

/// How many replacements may nest; stops cycles such as `a=${a}`.
const MAX_DEPTH: usize = 16;

/// Bytes of replacement text one [`substitute`] call may expand. Depth alone does not stop
/// "billion laughs" (`a=${b}${b}…`, `b=${c}${c}…`, …: exponential in depth); exceeding this
/// is reported as [`SubstError::TooLarge`] on the name that crossed it, since no config needs it.
const MAX_WORK: usize = 1 << 22;

/// State of one [`substitute`] call.
struct Expander<'a> {
    lookup: &'a dyn Lookup,
    out: String,
    undefined: Vec<String>,
    seen: HashSet<String>,
    work: usize,
}

impl Expander<'_> {
    /// Appends `value` to `out` with its `${…}` replaced; `depth` is how many replacements enclose it.
    fn expand(&mut self, value: &str, depth: usize) -> Result<(), SubstError> {
        let mut rest = value;
        let mut offset = 0; // byte offset of `rest` in `value`
        while let Some((before, after)) = rest.split_once("${") {
            self.out.push_str(before);
            let Some((name, tail)) = after.split_once('}') else {
                return Err(SubstError::Unclosed {
                    value: value.to_owned(),
                    at: offset + before.len(),
                });
            };
            match self.lookup.lookup(name) {
                Some(replacement) => {
                    self.work = self.work.saturating_add(replacement.len() + 1);
                    if depth >= MAX_DEPTH {
                        return Err(SubstError::TooDeep {
                            name: name.to_owned(),
                            limit: MAX_DEPTH,
                        });
                    }
                    if self.work > MAX_WORK {
                        return Err(SubstError::TooLarge {
                            name: name.to_owned(),
                            limit: MAX_WORK,
                        });
                    }
                    self.expand(&replacement, depth + 1)?;
                }
                None => {
                    if self.seen.insert(name.to_owned()) {
                        self.undefined.push(name.to_owned());
                    }
                }
            }
            offset += before.len() + 2 + name.len() + 1;
            rest = tail;
        }
        self.out.push_str(rest);
        Ok(())
    }
}

/// log4j's substVars: each `${name}` is replaced by lookup(name), whose result is itself substituted (recursively);
/// an undefined name becomes "" and is listed in `undefined`; `${` without a closing `}` is an error.
pub fn substitute(value: &str, lookup: &dyn Lookup) -> Result<Substituted, SubstError> {
    let mut expander = Expander {
        lookup,
        out: String::with_capacity(value.len()),
        undefined: Vec::new(),
        seen: HashSet::new(),
        work: 0,
    };
    expander.expand(value, 0)?;
    Ok(Substituted {
        value: expander.out,
        undefined: expander.undefined,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, HashMap};

    fn pairs(text: &str) -> Vec<(String, String, usize)> {
        parse(text)
            .unwrap()
            .into_iter()
            .map(|p| (p.key, p.value, p.line))
            .collect()
    }

    fn one(text: &str) -> (String, String) {
        let mut all = parse(text).unwrap();
        assert_eq!(all.len(), 1, "{text:?} -> {all:?}");
        let p = all.remove(0);
        (p.key, p.value)
    }

    fn kv(k: &str, v: &str) -> (String, String) {
        (k.to_owned(), v.to_owned())
    }

    fn t(k: &str, v: &str, line: usize) -> (String, String, usize) {
        (k.to_owned(), v.to_owned(), line)
    }

    #[test]
    fn separators() {
        assert_eq!(one("a=b"), kv("a", "b"));
        assert_eq!(one("a:b"), kv("a", "b"));
        assert_eq!(one("a b"), kv("a", "b"));
        assert_eq!(one("a = b"), kv("a", "b"));
        assert_eq!(one("a\t:\x0c b"), kv("a", "b"));
        assert_eq!(one("a=:b"), kv("a", ":b"));
        assert_eq!(one("a = = b"), kv("a", "= b"));
        assert_eq!(one("a b=c"), kv("a", "b=c"));
        assert_eq!(one("a\\ b=c"), kv("a b", "c"));
        assert_eq!(one("a\\=b=c"), kv("a=b", "c"));
        assert_eq!(one("a\\:b:c"), kv("a:b", "c"));
        assert_eq!(one("a\\\\=b"), kv("a\\", "b"));
    }

    #[test]
    fn empty_values_and_keys() {
        assert_eq!(one("key"), kv("key", ""));
        assert_eq!(one("key="), kv("key", ""));
        assert_eq!(one("key   "), kv("key", ""));
        assert_eq!(one("key : "), kv("key", ""));
        assert_eq!(one("=value"), kv("", "value"));
        assert_eq!(one(":"), kv("", ""));
    }

    #[test]
    fn trailing_whitespace_of_value_is_kept() {
        // Java keeps it; the log4j layer trims where log4j does.
        assert_eq!(one("a = b  \t"), kv("a", "b  \t"));
    }

    #[test]
    fn leading_whitespace_blank_lines_and_comments() {
        let text = "  \t\x0c a=1\n\n   \n# c=2\n  ! d=3\nb=#not comment\n#x\\\ne=5";
        assert_eq!(
            pairs(text),
            vec![t("a", "1", 1), t("b", "#not comment", 6), t("e", "5", 8)]
        );
    }

    #[test]
    fn comment_ending_in_backslash_does_not_continue() {
        assert_eq!(pairs("# comment \\\na=b\n"), vec![t("a", "b", 2)]);
        assert_eq!(pairs("! comment \\\r\na=b"), vec![t("a", "b", 2)]);
    }

    #[test]
    fn line_terminators() {
        assert_eq!(
            pairs("a=1\r\nb=2\rc=3\nd=4"),
            vec![
                t("a", "1", 1),
                t("b", "2", 2),
                t("c", "3", 3),
                t("d", "4", 4)
            ]
        );
        // CRLF: no stray `\r` in values.
        assert_eq!(
            pairs("a=1 \r\n\r\nb=2\r\n"),
            vec![t("a", "1 ", 1), t("b", "2", 3)]
        );
    }

    #[test]
    fn last_line_without_newline() {
        assert_eq!(pairs("a=1\nb=2"), vec![t("a", "1", 1), t("b", "2", 2)]);
        assert_eq!(pairs("a"), vec![t("a", "", 1)]);
        assert!(pairs("").is_empty());
        assert!(pairs("\n\n  \n").is_empty());
        assert!(pairs("# only").is_empty());
    }

    #[test]
    fn continuation_lines() {
        let text = "\n  key = one, \\\n     two,\\\r\n\tthree\nnext=x";
        assert_eq!(
            pairs(text),
            vec![t("key", "one, two,three", 2), t("next", "x", 5)]
        );
        // The key itself may span lines.
        assert_eq!(pairs("ke\\\n  y=v"), vec![t("key", "v", 1)]);
        // A continued line starting with `#` is not a comment.
        assert_eq!(one("a=\\\n  #b"), kv("a", "#b"));
        // Even backslashes do not continue; odd ones do.
        assert_eq!(
            pairs("a=x\\\\\nb=y"),
            vec![t("a", "x\\", 1), t("b", "y", 2)]
        );
        assert_eq!(pairs("a=x\\\\\\\nb=y"), vec![t("a", "x\\b=y", 1)]);
        // An empty continuation line ends the logical line.
        assert_eq!(pairs("a=x\\\n\nb=y"), vec![t("a", "x", 1), t("b", "y", 3)]);
        assert_eq!(
            pairs("a=x\\\n   \nb=y"),
            vec![t("a", "x", 1), t("b", "y", 3)]
        );
        // Continuation into end of input.
        assert_eq!(pairs("a=x\\\n"), vec![t("a", "x", 1)]);
    }

    #[test]
    fn lone_trailing_backslash_is_dropped() {
        assert_eq!(one("a=b\\"), kv("a", "b"));
        assert_eq!(one("a\\"), kv("a", ""));
        assert_eq!(one("a=b\\\\"), kv("a", "b\\"));
    }

    #[test]
    fn escapes() {
        assert_eq!(one("a=\\t\\n\\r\\f"), kv("a", "\t\n\r\x0c"));
        assert_eq!(one("a=\\\\\\=\\:\\ \\#\\!\\q"), kv("a", "\\=: #!q"));
        assert_eq!(one("\\ a\\tb=x"), kv(" a\tb", "x"));
        assert_eq!(one("a=\\ \\ b"), kv("a", "  b"));
        assert_eq!(one("a=é 中 😀"), kv("a", "é 中 😀"));
    }

    #[test]
    fn unicode_escapes() {
        assert_eq!(one("a=\\u0041"), kv("a", "A"));
        assert_eq!(one("\\u00e9=\\u00E9\\u4e2D"), kv("é", "é中"));
        assert_eq!(one("a=\\uD83D\\uDE00"), kv("a", "😀"));
        // Unpaired surrogates become U+FFFD.
        assert_eq!(one("a=\\uD83Dx"), kv("a", "\u{FFFD}x"));
        assert_eq!(one("a=\\uDE00\\uD83D"), kv("a", "\u{FFFD}\u{FFFD}"));
        // `\u` output is data, never a separator or escape.
        assert_eq!(one("a\\u003db=\\u005cn"), kv("a=b", "\\n"));
    }

    #[test]
    fn malformed_unicode_escape() {
        let err = parse("ok=1\n\nbad=\\u12\n").unwrap_err();
        assert_eq!(
            err,
            SyntaxError {
                line: 3,
                message: "malformed \\uxxxx encoding".to_owned()
            }
        );
        assert_eq!(err.to_string(), "line 3: malformed \\uxxxx encoding");
        assert_eq!(parse("a=\\u12zz").unwrap_err().line, 1);
        assert_eq!(parse("\\ug=1").unwrap_err().line, 1);
        // Reported at the start of the logical line.
        assert_eq!(parse("x=1\ny=\\\n  \\u").unwrap_err().line, 2);
    }

    #[test]
    fn duplicates_are_all_returned_in_order() {
        assert_eq!(pairs("a=1\na=2"), vec![t("a", "1", 1), t("a", "2", 2)]);
    }

    fn map(entries: &[(&str, &str)]) -> HashMap<String, String> {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn subst(value: &str, vars: &HashMap<String, String>) -> Result<Substituted, SubstError> {
        substitute(value, &|name: &str| vars.get(name).cloned())
    }

    #[test]
    fn substitution_basics() {
        let vars = map(&[("dir", "/var/log"), ("file", "${dir}/app.log"), ("e", "")]);
        let got = subst("x ${file} $dir {dir} } $ ${e}.", &vars).unwrap();
        assert_eq!(got.value, "x /var/log/app.log $dir {dir} } $ .");
        assert!(got.undefined.is_empty());
        assert_eq!(subst("plain", &vars).unwrap().value, "plain");
        assert_eq!(subst("$${dir}}", &vars).unwrap().value, "$/var/log}");
        // The name runs to the first `}`.
        let got = subst("${a${dir}}", &vars).unwrap();
        assert_eq!(
            (got.value.as_str(), got.undefined),
            ("}", vec!["a${dir".to_owned()])
        );
    }

    #[test]
    fn substitution_undefined() {
        let vars = map(&[("x", "${nope}-${y}")]);
        let got = subst("${y}${x}${nope}${}", &vars).unwrap();
        assert_eq!(got.value, "-");
        assert_eq!(
            got.undefined,
            vec!["y".to_owned(), "nope".to_owned(), String::new()]
        );
    }

    #[test]
    fn substitution_lookup_is_a_closure() {
        let got = substitute("${A}", &|n: &str| (n == "A").then(|| "1".to_owned())).unwrap();
        assert_eq!(got.value, "1");
    }

    #[test]
    fn substitution_unclosed() {
        let vars = map(&[("bad", "ok ${oops")]);
        assert_eq!(
            subst("é${x} ${y", &vars),
            Err(SubstError::Unclosed {
                value: "é${x} ${y".to_owned(),
                at: 7 // `é` is two bytes
            })
        );
        let err = subst("${bad}", &vars).unwrap_err();
        assert_eq!(
            err,
            SubstError::Unclosed {
                value: "ok ${oops".to_owned(),
                at: 3
            }
        );
        assert_eq!(err.to_string(), "unclosed `${` in `ok ${oops` (at byte 3)");
    }

    #[test]
    fn substitution_cycles() {
        let vars = map(&[("a", "${a}"), ("b", "x${c}"), ("c", "${b}")]);
        let err = subst("${a}", &vars).unwrap_err();
        assert_eq!(
            err,
            SubstError::TooDeep {
                name: "a".to_owned(),
                limit: 16
            }
        );
        assert_eq!(
            err.to_string(),
            "`${a}` refers to itself (substitution depth over 16)"
        );
        assert!(matches!(
            subst("${b}", &vars),
            Err(SubstError::TooDeep { .. })
        ));
    }

    #[test]
    fn substitution_depth_limit_is_sixteen() {
        let chain = |n: usize| -> HashMap<String, String> {
            (0..n)
                .map(|i| {
                    let next = if i + 1 == n {
                        "end".to_owned()
                    } else {
                        format!("${{n{}}}", i + 1)
                    };
                    (format!("n{i}"), next)
                })
                .collect()
        };
        assert_eq!(subst("${n0}", &chain(16)).unwrap().value, "end");
        assert!(matches!(
            subst("${n0}", &chain(17)),
            Err(SubstError::TooDeep { .. })
        ));
    }

    #[test]
    fn substitution_bomb_terminates() {
        // Ten references per level, sixteen levels: 10^16 expansions without a budget.
        for leaf in ["", "lol"] {
            let mut vars: HashMap<String, String> = (0..15)
                .map(|i| (format!("v{i}"), format!("${{v{}}}", i + 1).repeat(10)))
                .collect();
            vars.insert("v15".to_owned(), leaf.to_owned());
            let err = subst("${v0}", &vars).unwrap_err();
            assert!(matches!(err, SubstError::TooLarge { .. }), "{err}");
            assert!(err.to_string().contains("billion laughs"), "{err}");
        }
    }

    /// Java's `Properties.store` escaping (`saveConvert`); optionally `\uXXXX` for non-ASCII.
    fn escape(s: &str, is_key: bool, unicode: bool) -> String {
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\x0c' => out.push_str("\\f"),
                '=' | ':' | '#' | '!' => {
                    out.push('\\');
                    out.push(c);
                }
                ' ' if i == 0 || is_key => out.push_str("\\ "),
                c if unicode && !c.is_ascii() => {
                    let mut buf = [0u16; 2];
                    for unit in c.encode_utf16(&mut buf) {
                        out.push_str(&format!("\\u{unit:04X}"));
                    }
                }
                c => out.push(c),
            }
        }
        out
    }

    const TEXT_CHARS: &[char] = &[
        'a', 'b', 'Z', '0', 'u', ' ', '=', ':', '#', '!', '\\', '\n', '\r', '\t', '\x0c', 'é',
        '中', '😀', '$', '{', '}',
    ];

    fn text_from(chars: &'static [char], max: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(chars), 0..max)
            .prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #[test]
        fn parse_never_panics(
            text in prop::collection::vec(
                prop_oneof![3 => prop::sample::select(TEXT_CHARS), 1 => any::<char>()],
                0..64,
            ).prop_map(|v| v.into_iter().collect::<String>()),
        ) {
            if let Ok(props) = parse(&text) {
                let lines = 1 + text.matches('\n').count() + text.matches('\r').count();
                let mut last = 1;
                for p in props {
                    prop_assert!(p.line >= last && p.line <= lines);
                    last = p.line;
                }
            }
        }

        #[test]
        fn parse_never_panics_on_any_string(text in any::<String>()) {
            let _ = parse(&text);
        }

        #[test]
        fn store_then_parse_round_trips(
            entries in prop::collection::btree_map(
                text_from(TEXT_CHARS, 8),
                text_from(TEXT_CHARS, 8),
                0..6,
            ),
            unicode in any::<bool>(),
            crlf in any::<bool>(),
        ) {
            let eol = if crlf { "\r\n" } else { "\n" };
            let mut text = String::from("# stored\\");
            text.push_str(eol);
            for (k, v) in &entries {
                text.push_str(&escape(k, true, unicode));
                text.push('=');
                text.push_str(&escape(v, false, unicode));
                text.push_str(eol);
            }
            let parsed = parse(&text).unwrap();
            let got: BTreeMap<String, String> =
                parsed.iter().map(|p| (p.key.clone(), p.value.clone())).collect();
            prop_assert_eq!(parsed.len(), entries.len());
            prop_assert_eq!(got, entries);
            for (i, p) in parsed.iter().enumerate() {
                prop_assert_eq!(p.line, i + 2);
            }
        }

        #[test]
        fn substitute_never_panics_and_terminates(
            value in prop::collection::vec(
                prop::sample::select(&["${a}", "${b}", "${c}", "${", "}", "$", "{", "x", "é", "${}"][..]),
                0..12,
            ),
            defs in prop::collection::vec(
                (
                    prop::sample::select(&["a", "b", "c", ""][..]),
                    prop::collection::vec(
                        prop::sample::select(&["${a}", "${b}", "${c}", "${", "}", "$", "x", "${}"][..]),
                        0..6,
                    ),
                ),
                0..4,
            ),
        ) {
            let vars: HashMap<String, String> =
                defs.into_iter().map(|(k, v)| (k.to_owned(), v.concat())).collect();
            let value = value.concat();
            if let Ok(got) = subst(&value, &vars) {
                let unique: HashSet<&String> = got.undefined.iter().collect();
                prop_assert_eq!(unique.len(), got.undefined.len());
                for name in &got.undefined {
                    prop_assert!(!vars.contains_key(name));
                }
            }
        }
    }
}
