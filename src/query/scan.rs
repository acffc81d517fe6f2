//! Hand-written JSON scanning for the reader's per-line path: serde_json's derive walks a line
//! once to validate and split the envelope and again (per field asked for) through the event,
//! which made parsing most of a report's time. Here one validating pass splits the envelope
//! ([`Validator`]), and the event is then read with a non-validating skipper
//! ([`for_each_member`], [`skip_value`]) since it was validated already.
//!
//! The validator is *stricter or equal* to serde_json, never more lenient: whatever it is not
//! sure of (a control byte anywhere in the line, a `\u` escape of a surrogate, nesting deeper
//! than [`MAX_DEPTH`], a duplicate envelope field, a wrong type) makes it give up, and the
//! reader falls back to serde_json, whose answer (record or error message) is then the answer.
//! So a line is a record, or malformed with the same reason, exactly as with serde alone; the
//! proptests in `reader.rs` check that on arbitrary envelopes.

use std::borrow::Cow;
use std::ops::{ControlFlow, Range};

use serde::de::value::{BorrowedStrDeserializer, Error as ValueError, MapAccessDeserializer};
use serde::de::{self, DeserializeSeed, MapAccess};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Nesting the validator follows before giving up (serde_json's own limit is 128).
pub(crate) const MAX_DEPTH: u32 = 100;

/// Whether `bytes` holds a byte below 0x20. Our encoder and the Event Server write compact
/// JSON: no such byte in a line, so whitespace is only `' '` and strings need no control check.
/// Written as a branch-free fold over 16-byte blocks so it vectorises.
pub(crate) fn has_control(bytes: &[u8]) -> bool {
    let mut blocks = bytes.chunks_exact(16);
    for block in &mut blocks {
        if block.iter().fold(false, |any, &b| any | (b < 0x20)) {
            return true;
        }
    }
    blocks.remainder().iter().any(|&b| b < 0x20)
}

/// The first `"` or `\\` at or after `i`. Strings in audit events are short (names, keys,
/// times): eight bytes at a time without a call beats `memchr2`'s setup for them.
#[inline]
fn find_quote_or_backslash(b: &[u8], mut i: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(block) = b.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(block);
        let w = u64::from_le_bytes(word);
        let quote = w ^ (ONES * u64::from(b'"'));
        let slash = w ^ (ONES * u64::from(b'\\'));
        // A zero byte in either: the lowest flagged byte is the first match (borrows only
        // flag bytes above a true zero).
        let found = (quote.wrapping_sub(ONES) & !quote | slash.wrapping_sub(ONES) & !slash) & HIGH;
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// A validating cursor over a line known to hold no control byte ([`has_control`]). Every
/// method returns `None` for "not sure it is valid": the caller falls back to serde_json.
pub(crate) struct Validator<'a> {
    b: &'a [u8],
    /// The next byte to read.
    pub(crate) i: usize,
}

impl<'a> Validator<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Validator { b, i: 0 }
    }

    /// The next byte, if any.
    pub(crate) fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Whether the whole input was read.
    pub(crate) fn at_end(&self) -> bool {
        self.i == self.b.len()
    }

    /// Skips whitespace: only spaces, since the line holds no control byte.
    pub(crate) fn ws(&mut self) {
        while self.b.get(self.i) == Some(&b' ') {
            self.i += 1;
        }
    }

    /// Expects `byte` (after whitespace), then skips whitespace.
    pub(crate) fn expect(&mut self, byte: u8) -> Option<()> {
        self.ws();
        if self.peek()? != byte {
            return None;
        }
        self.i += 1;
        self.ws();
        Some(())
    }

    /// A string at the cursor (which must be on its `"`): returns whether it has escapes; the
    /// cursor ends after the closing quote.
    #[inline(always)]
    pub(crate) fn string(&mut self) -> Option<bool> {
        let mut i = self.i + 1;
        let mut escaped = false;
        loop {
            i = find_quote_or_backslash(self.b, i)?;
            if self.b[i] == b'"' {
                self.i = i + 1;
                return Some(escaped);
            }
            escaped = true;
            match *self.b.get(i + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                b'u' => {
                    let mut n = 0u32;
                    for &h in self.b.get(i + 2..i + 6)? {
                        n = n * 16 + char::from(h).to_digit(16)?;
                    }
                    // serde_json's answer for lone surrogates depends on where the string goes.
                    if (0xD800..=0xDFFF).contains(&n) {
                        return None;
                    }
                    i += 6;
                }
                _ => return None,
            }
        }
    }

    /// Any value at the cursor, `depth` levels deep.
    pub(crate) fn value(&mut self, depth: u32) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    pub(crate) fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.b.get(self.i..self.i + word.len())? != word {
            return None;
        }
        self.i += word.len();
        Some(())
    }

    /// An object at the cursor, `depth` levels deep (its own level), validated, handing each
    /// of its own members to `member`: where its key is (with its quotes), whether the key
    /// has escapes, and where its value is. So the event's fields are read in the pass that
    /// validates it, not in a second one.
    pub(crate) fn object_members(
        &mut self,
        depth: u32,
        mut member: impl FnMut(Range<usize>, bool, Range<usize>, Option<bool>),
    ) -> Option<()> {
        if depth > MAX_DEPTH || self.peek()? != b'{' {
            return None;
        }
        self.i += 1;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            if self.peek()? != b'"' {
                return None;
            }
            let key_start = self.i;
            let escaped = self.string()?;
            let key = key_start..self.i;
            self.expect(b':')?;
            let start = self.i;
            // A string value: whether it has escapes, so it need not be scanned again.
            let text = if self.peek()? == b'"' {
                Some(self.string()?)
            } else {
                self.value(depth)?;
                None
            };
            member(key, escaped, start..self.i, text);
            self.ws();
            match self.peek()? {
                b',' => {
                    self.i += 1;
                    self.ws();
                }
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn object(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.i += 1;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            if self.peek()? != b'"' {
                return None;
            }
            self.string()?;
            self.expect(b':')?;
            self.value(depth)?;
            self.ws();
            match self.peek()? {
                b',' => {
                    self.i += 1;
                    self.ws();
                }
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn array(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.i += 1;
        self.ws();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(());
        }
        loop {
            self.value(depth)?;
            self.ws();
            match self.peek()? {
                b',' => {
                    self.i += 1;
                    self.ws();
                }
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// RFC 8259's number grammar, as serde_json checks it for values it does not keep.
    fn number(&mut self) -> Option<()> {
        let b = self.b;
        let digit = |i: usize| matches!(b.get(i), Some(b'0'..=b'9'));
        let mut i = self.i;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => {
                i += 1;
                while digit(i) {
                    i += 1;
                }
            }
            _ => return None,
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if !digit(i) {
                return None;
            }
            while digit(i) {
                i += 1;
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !digit(i) {
                return None;
            }
            while digit(i) {
                i += 1;
            }
        }
        self.i = i;
        Some(())
    }
}

/// The text of a JSON string literal (with its quotes) that is known valid: borrowed when it
/// has no escapes, decoded by serde_json otherwise (rare). `None` if `quoted` is not a string.
pub(crate) fn string_text(quoted: &str) -> Option<Cow<'_, str>> {
    let inner = quoted.strip_prefix('"')?.strip_suffix('"')?;
    if !inner.bytes().any(|c| c == b'\\') {
        return Some(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(quoted).ok().map(Cow::Owned)
}

/// [`string_text`] of a string the validator read, knowing whether it has escapes.
pub(crate) fn string_text_known(quoted: &str, escaped: bool) -> Option<Cow<'_, str>> {
    if escaped {
        return string_text(quoted);
    }
    quoted
        .get(1..quoted.len().checked_sub(1)?)
        .map(Cow::Borrowed)
}

/// `json` (a value already validated) as a borrowed [`RawValue`], without validating it again.
///
/// serde_json offers no public unchecked constructor, but its `&RawValue` deserializes from
/// any deserializer that presents a one-entry map keyed by its private token with the JSON as a
/// borrowed string (how its own `Value` deserializer hands raw values over). Should a later
/// serde_json refuse that, the value is validated by serde_json instead: slower, never wrong.
pub(crate) fn raw_value(json: &str) -> Option<&RawValue> {
    let handed = <&RawValue>::deserialize(MapAccessDeserializer::new(TokenMap(Some(json))));
    match handed {
        Ok(raw) if raw.get().len() == json.len() => Some(raw),
        _ => serde_json::from_str(json).ok(),
    }
}

/// serde_json's private marker of a raw value (its `raw.rs`).
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

struct TokenMap<'a>(Option<&'a str>);

impl<'de> MapAccess<'de> for TokenMap<'de> {
    type Error = ValueError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ValueError> {
        if self.0.is_none() {
            return Ok(None);
        }
        seed.deserialize(BorrowedStrDeserializer::new(RAW_VALUE_TOKEN))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ValueError> {
        let json = self
            .0
            .take()
            .ok_or_else(|| <ValueError as de::Error>::custom("value asked twice"))?;
        seed.deserialize(BorrowedStrDeserializer::new(json))
    }
}

// ---- Non-validating reading of values already known to be valid JSON (a `RawValue`). ----
// Never panics whatever the input; on invalid input the answers are unspecified.

fn skip_ws_any(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// From the opening quote at `i`: the index after the closing quote, and whether the string
/// has escapes.
fn skip_string(b: &[u8], i: usize) -> (usize, bool) {
    let mut i = i + 1;
    let mut escaped = false;
    loop {
        let Some(k) = find_quote_or_backslash(b, i) else {
            return (b.len(), escaped);
        };
        i = k;
        if b[i] == b'"' {
            return (i + 1, escaped);
        }
        escaped = true;
        i += 2;
    }
}

/// The index after the value starting at `i`.
pub(crate) fn skip_value(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => skip_string(b, i).0,
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut i = i;
            while let Some(&c) = b.get(i) {
                match c {
                    b'"' => {
                        i = skip_string(b, i).0;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            b.len()
        }
        Some(_) => {
            let mut i = i;
            while !matches!(
                b.get(i),
                None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            ) {
                i += 1;
            }
            i
        }
        None => i,
    }
}

/// An object key as written (without its quotes).
#[derive(Clone, Copy)]
pub(crate) struct Key<'a> {
    text: &'a str,
    escaped: bool,
}

impl<'a> Key<'a> {
    /// The key, unescaped.
    pub(crate) fn text(&self) -> Cow<'a, str> {
        if !self.escaped {
            return Cow::Borrowed(self.text);
        }
        let quoted = format!("\"{}\"", self.text);
        serde_json::from_str::<String>(&quoted).map_or(Cow::Borrowed(""), Cow::Owned)
    }

    /// Whether the key, unescaped, is `name`.
    pub(crate) fn is(&self, name: &str) -> bool {
        if !self.escaped {
            return self.text == name;
        }
        let quoted = format!("\"{}\"", self.text);
        serde_json::from_str::<String>(&quoted).is_ok_and(|k| k == name)
    }
}

/// Calls `f` with each member (key, raw value text) of the object `json`, in order, until it
/// breaks. Nothing for a value that is not an object.
pub(crate) fn for_each_member<'a>(
    json: &'a str,
    mut f: impl FnMut(Key<'a>, &'a str) -> ControlFlow<()>,
) {
    let b = json.as_bytes();
    let mut i = skip_ws_any(b, 0);
    if b.get(i) != Some(&b'{') {
        return;
    }
    i = skip_ws_any(b, i + 1);
    while b.get(i) == Some(&b'"') {
        let (end, escaped) = skip_string(b, i);
        let Some(text) = json.get(i + 1..end.saturating_sub(1).max(i + 1)) else {
            return;
        };
        i = skip_ws_any(b, end);
        if b.get(i) != Some(&b':') {
            return;
        }
        i = skip_ws_any(b, i + 1);
        let value_end = skip_value(b, i);
        let Some(value) = json.get(i..value_end) else {
            return;
        };
        if f(Key { text, escaped }, value).is_break() {
            return;
        }
        i = skip_ws_any(b, value_end);
        if b.get(i) != Some(&b',') {
            return;
        }
        i = skip_ws_any(b, i + 1);
    }
}

/// The raw text of the first member `key` of the object `json`.
pub(crate) fn member<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let mut found = None;
    for_each_member(json, |k, v| {
        if k.is(key) {
            found = Some(v);
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_values_are_borrowed_not_copied() {
        let json = r#"{"a":[1,2,{"b":"c"}]}"#;
        let raw = raw_value(json).unwrap();
        assert_eq!(
            raw.get().as_ptr(),
            json.as_ptr(),
            "borrowed, not validated again"
        );
        assert_eq!(raw.get(), json);
    }

    #[test]
    fn control_bytes_are_found_in_every_block() {
        for at in 0..40 {
            let mut line = vec![b'x'; 40];
            assert!(!has_control(&line));
            line[at] = b'\t';
            assert!(has_control(&line), "at {at}");
        }
    }

    #[test]
    fn members_skip_nested_values_and_unescape_keys() {
        let json = r#" { "a" : {"x":"}\"{"} , "b\u0063":[1,"]"], "n": -1.5e3 ,"s":"t\"" } "#;
        let mut got = Vec::new();
        for_each_member(json, |k, v| {
            got.push((k.text.to_owned(), v.to_owned()));
            ControlFlow::Continue(())
        });
        assert_eq!(
            got,
            [
                ("a".to_owned(), r#"{"x":"}\"{"}"#.to_owned()),
                (r"b\u0063".to_owned(), r#"[1,"]"]"#.to_owned()),
                ("n".to_owned(), "-1.5e3".to_owned()),
                ("s".to_owned(), r#""t\"""#.to_owned()),
            ]
        );
        assert_eq!(member(json, "bc"), Some(r#"[1,"]"]"#));
        assert_eq!(string_text(r#""t\"""#).as_deref(), Some("t\""));
    }
}
