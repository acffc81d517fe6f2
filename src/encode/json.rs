//! Small JSON writing helpers shared by the envelope encoder and the tools that re-write events.

use serde::de::IgnoredAny;

/// Appends `s` as a JSON string (quotes, backslashes and control characters escaped; other
/// characters, non-ASCII included, kept as UTF-8), byte for byte as `serde_json` writes it.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    // Most strings need no escaping: a branch-free scan (vectorized by the compiler) finds them,
    // and they are copied in one go.
    let clean = !bytes.iter().fold(false, |dirty, &b| {
        dirty | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if clean {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    out.reserve(bytes.len() + 8);
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x08 => b'b',
            0x0c => b'f',
            0x00..=0x1f => 0,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        start = i + 1;
        if short != 0 {
            out.extend_from_slice(&[b'\\', short]);
        } else {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ]);
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// How deeply arrays and objects nest in valid JSON `text` (`0` for a scalar, `1` for `{}`).
///
/// One scanner for every target, so the file, Kafka, syslog and `event_server` targets agree on
/// [`MAX_EVENT_DEPTH`](crate::protocol::wire::MAX_EVENT_DEPTH).
pub(crate) fn depth(text: &[u8]) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0, false, false);
    for &b in text {
        match (in_string, b) {
            (true, _) if escaped => escaped = false,
            (true, b'\\') => escaped = true,
            (_, b'"') => in_string = !in_string,
            (false, b'{' | b'[') => {
                depth += 1;
                max = max.max(depth);
            }
            (false, b'}' | b']') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// If `text` is one JSON object (surrounding whitespace allowed), appends it with the
/// insignificant whitespace removed, keeping key order and number spelling as written, and
/// returns `true`. Otherwise (and when it nests deeper than
/// [`MAX_EVENT_DEPTH`](crate::protocol::wire::MAX_EVENT_DEPTH), which no target accepts as an
/// event) appends nothing and returns `false`.
pub fn write_embedded_object(out: &mut Vec<u8>, text: &str) -> bool {
    let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace());
    if !(trimmed.starts_with('{') && trimmed.ends_with('}')) {
        return false;
    }
    if depth(trimmed.as_bytes()) > crate::protocol::wire::MAX_EVENT_DEPTH {
        return false;
    }
    if serde_json::from_str::<IgnoredAny>(trimmed).is_err() {
        return false;
    }
    out.reserve(trimmed.len());
    let mut in_string = false;
    let mut escaped = false;
    for &b in trimmed.as_bytes() {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' => {}
                b'"' => {
                    in_string = true;
                    out.push(b);
                }
                _ => out.push(b),
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn embed(text: &str) -> Option<String> {
        let mut out = Vec::new();
        write_embedded_object(&mut out, text).then(|| String::from_utf8(out).unwrap())
    }

    #[test]
    fn embeds_objects_compactly_keeping_order_and_numbers() {
        assert_eq!(
            embed(" {\n  \"b\": 1.50,\n  \"a\": [1, 2],\n  \"s\": \"x y\\\" z\" }\n").as_deref(),
            Some(r#"{"b":1.50,"a":[1,2],"s":"x y\" z"}"#)
        );
        assert_eq!(embed("{}").as_deref(), Some("{}"));
        let deepest = format!("{{\"a\":{}1{}}}", "[".repeat(99), "]".repeat(99));
        assert_eq!(embed(&deepest), Some(deepest.clone()));
    }

    #[test]
    fn rejects_anything_but_one_object() {
        for text in [
            "",
            "hello",
            "[1]",
            "\"s\"",
            "{\"a\":1} {\"b\":2}",
            "{\"a\":}",
            "{ not json }",
            &format!("{{\"a\":{}1{}}}", "[".repeat(100), "]".repeat(100)),
        ] {
            assert_eq!(embed(text), None, "{text:?}");
        }
    }

    #[test]
    fn depth_counts_nesting_outside_strings() {
        assert_eq!(depth(b"1"), 0);
        assert_eq!(depth(b"{}"), 1);
        assert_eq!(depth(br#"{"a":[{"b":"[[[\"{"}]]}"#), 3);
    }

    #[test]
    fn strings_escape_controls_quotes_and_keep_unicode() {
        let mut out = Vec::new();
        write_str(&mut out, "a\"b\\c\nd\te\u{1}é€😀");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a\\\"b\\\\c\\nd\\te\\u0001é€😀\""
        );
    }

    proptest! {
        #[test]
        fn written_strings_parse_back(s in ".*") {
            let mut out = Vec::new();
            write_str(&mut out, &s);
            let back: String = serde_json::from_slice(&out).unwrap();
            prop_assert_eq!(&back, &s);
            prop_assert!(!out.contains(&b'\n'));
            prop_assert_eq!(out, serde_json::to_vec(&s).unwrap());
        }

        #[test]
        fn embedded_objects_are_equal_and_single_line(
            map in proptest::collection::btree_map("[a-z\" \\n]{0,6}", "[ -~\\n]{0,8}", 0..5),
            pretty in any::<bool>(),
        ) {
            let value = serde_json::to_value(&map).unwrap();
            let text = if pretty { serde_json::to_string_pretty(&value).unwrap() } else { value.to_string() };
            let out = embed(&text).unwrap();
            prop_assert!(!out.contains('\n'));
            let back: serde_json::Value = serde_json::from_str(&out).unwrap();
            prop_assert_eq!(back, value);
        }
    }
}
