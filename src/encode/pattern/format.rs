//! The conversions' text, and log4j's padding and truncation (`PatternConverter.format`).

use std::fmt::Write as _;

use super::parse::Spec;

/// Appends `text` with log4j's width rules, widths counted in UTF-16 units as Java does: longer
/// than `max` keeps the last `max` units (a surrogate pair cut in half leaves `?`, which is what
/// a Java UTF-8 writer prints for the lone half); shorter than `min` is padded with spaces on the
/// left, or on the right when left-justified.
pub(crate) fn write_with_spec(out: &mut String, text: &str, spec: Spec) {
    let len = if text.is_ascii() {
        text.len()
    } else {
        text.encode_utf16().count()
    };
    let max = spec.max as usize;
    let min = spec.min as usize;
    if len > max {
        let mut start = text.len();
        let mut units = 0;
        let mut half = false;
        for (i, c) in text.char_indices().rev() {
            let u = c.len_utf16();
            if units + u > max {
                half = units < max;
                break;
            }
            units += u;
            start = i;
        }
        if half {
            out.push('?');
        }
        out.push_str(&text[start..]);
    } else if len < min {
        if spec.left {
            out.push_str(text);
            pad(out, min - len);
        } else {
            pad(out, min - len);
            out.push_str(text);
        }
    } else {
        out.push_str(text);
    }
}

fn pad(out: &mut String, n: usize) {
    const SPACES: &str = "                                ";
    let mut n = n;
    while n > 0 {
        let k = n.min(SPACES.len());
        out.push_str(&SPACES[..k]);
        n -= k;
    }
}

/// `%c{n}` and `%C{n}`: the last `precision` components of `name` (0: all of it), log4j's
/// `NamedPatternConverter` with both `.` and `::` counted as separators (the separators are
/// printed as they are). As in log4j, a separator that ends the name does not count, and a name
/// with fewer components is printed whole.
pub(crate) fn abbreviate(name: &str, precision: u32) -> &str {
    if precision == 0 {
        return name;
    }
    let bytes = name.as_bytes();
    // Separators as (start, len), left to right; `::` pairs greedily.
    let mut seps: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'.' {
            seps.push((i, 1));
            i += 1;
        } else if bytes[i] == b':' && bytes.get(i + 1) == Some(&b':') {
            seps.push((i, 2));
            i += 2;
        } else {
            i += 1;
        }
    }
    // log4j: end = len - 1; repeatedly end = lastIndexOf('.', end - 1).
    let mut limit = bytes.len().wrapping_sub(1);
    let mut start = 0;
    let mut remaining = seps.len();
    for _ in 0..precision {
        let found = seps[..remaining].iter().rposition(|&(s, l)| s + l <= limit);
        match found {
            Some(k) => {
                let (s, l) = seps[k];
                limit = s;
                start = s + l;
                remaining = k;
            }
            None => return name,
        }
    }
    &name[start..]
}

/// The current thread's name, or its id (`ThreadId(7)`) when it has none.
pub(crate) fn write_thread(out: &mut String) {
    let thread = std::thread::current();
    match thread.name() {
        Some(name) => out.push_str(name),
        None => {
            let _ = write!(out, "{:?}", thread.id());
        }
    }
}

/// `%X` without a key: the whole MDC as log4j 1.2.17 prints it, `{{k1,v1}{k2,v2}}`, keys sorted
/// as Java sorts strings (by UTF-16 units); `{}` when empty.
pub(crate) fn write_whole_mdc(out: &mut String, entries: &mut Vec<(String, String)>) {
    entries.clear();
    current_mdc(entries);
    write_mdc_entries(out, entries.iter());
}

/// The current event's MDC entries (the spans' with the thread's), keys sorted as Java sorts
/// strings (by UTF-16 units).
fn current_mdc(entries: &mut Vec<(String, String)>) {
    crate::context::for_each_mdc(|k, v| entries.push((k.to_owned(), v.to_owned())));
    entries.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
}

/// `{{k1,v1}{k2,v2}}`: log4j's listing of MDC entries.
fn write_mdc_entries<'e>(out: &mut String, entries: impl Iterator<Item = &'e (String, String)>) {
    out.push('{');
    for (k, v) in entries {
        out.push('{');
        out.push_str(k);
        out.push(',');
        out.push_str(v);
        out.push('}');
    }
    out.push('}');
}

/// EnhancedPatternLayout's `%X` / `%properties` without a key: `{{k1,v1}{k2,v2}}` in the
/// order log4j 1.2.17 prints them, the iteration order of the MDC's `java.util.Hashtable`
/// (capacity 7, grown to 2n+1 at three quarters full, buckets from the last, newest first),
/// as if the keys had been put in sorted order (ours are not ordered; log4j's order of keys
/// sharing a bucket depends on when each was put).
pub(crate) fn write_mdc_hashtable_order(out: &mut String, entries: &mut Vec<(String, String)>) {
    entries.clear();
    current_mdc(entries);
    let order = hashtable_order(entries.iter().map(|(k, _)| java_hash(k)));
    write_mdc_entries(out, order.into_iter().map(|i| &entries[i]));
}

/// Java's `String.hashCode`.
fn java_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(i32::from(u)))
}

/// The order a `java.util.Hashtable` created with capacity 7 iterates keys with these hashes,
/// put in this order (indices into `hashes`).
fn hashtable_order(hashes: impl Iterator<Item = i32>) -> Vec<usize> {
    let bucket = |hash: i32, capacity: usize| (hash & 0x7FFF_FFFF) as usize % capacity;
    let hashes: Vec<i32> = hashes.collect();
    let mut capacity = 7usize;
    let mut threshold = 5usize;
    // Each bucket's chain, head (newest) first.
    let mut table: Vec<Vec<usize>> = vec![Vec::new(); capacity];
    for (n, &hash) in hashes.iter().enumerate() {
        if n >= threshold {
            let grown = capacity * 2 + 1;
            let mut rehashed: Vec<Vec<usize>> = vec![Vec::new(); grown];
            for chain in table.iter().rev() {
                for &e in chain {
                    rehashed[bucket(hashes[e], grown)].insert(0, e);
                }
            }
            table = rehashed;
            capacity = grown;
            threshold = capacity * 3 / 4;
        }
        table[bucket(hash, capacity)].insert(0, n);
    }
    table.iter().rev().flatten().copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spec(min: u32, max: u32, left: bool) -> Spec {
        Spec { min, max, left }
    }

    fn fmt(text: &str, s: Spec) -> String {
        let mut out = String::new();
        write_with_spec(&mut out, text, s);
        out
    }

    #[test]
    fn padding_and_truncation() {
        assert_eq!(fmt("INFO", spec(5, u32::MAX, false)), " INFO");
        assert_eq!(fmt("INFO", spec(5, u32::MAX, true)), "INFO ");
        assert_eq!(fmt("INFO", spec(0, 3, false)), "NFO");
        assert_eq!(fmt("INFO", spec(0, 0, false)), "");
        assert_eq!(fmt("INFO", spec(10, 3, true)), "NFO");
        assert_eq!(fmt("", spec(3, u32::MAX, false)), "   ");
        assert_eq!(fmt(&"x".repeat(40), spec(0, 30, false)), "x".repeat(30));
        assert_eq!(fmt("a", spec(70, u32::MAX, false)).len(), 70);
        assert_eq!(
            fmt(
                "org.apache.hadoop.hdfs.server.namenode.NameNode",
                spec(0, 10, false)
            ),
            "e.NameNode"
        );
    }

    #[test]
    fn widths_count_utf16_units() {
        // é is one unit, 😀 two.
        assert_eq!(fmt("é", spec(3, u32::MAX, false)), "  é");
        assert_eq!(fmt("😀", spec(3, u32::MAX, true)), "😀 ");
        assert_eq!(fmt("a😀b", spec(0, 3, false)), "😀b");
        assert_eq!(fmt("a😀b", spec(0, 2, false)), "?b");
    }

    #[test]
    fn abbreviation_like_log4j() {
        let n = "org.apache.hadoop.hdfs.server.namenode.NameNode";
        assert_eq!(abbreviate(n, 1), "NameNode");
        assert_eq!(abbreviate(n, 2), "namenode.NameNode");
        assert_eq!(abbreviate(n, 7), n);
        assert_eq!(abbreviate(n, 8), n);
        assert_eq!(abbreviate("a", 1), "a");
        assert_eq!(abbreviate("", 1), "");
        assert_eq!(abbreviate("a.", 1), "a.");
        assert_eq!(abbreviate("a.b.", 1), "b.");
        assert_eq!(abbreviate("a..b", 2), ".b");
        assert_eq!(abbreviate(".b", 1), "b");
        assert_eq!(abbreviate("dku::audit::generic", 1), "generic");
        assert_eq!(abbreviate("dku::audit::generic", 2), "audit::generic");
        assert_eq!(abbreviate("dku::audit::generic", 3), "dku::audit::generic");
        assert_eq!(abbreviate("dku.audit::generic", 2), "audit::generic");
        assert_eq!(abbreviate("a::", 1), "a::");
        assert_eq!(abbreviate("a:::b", 1), ":b");
    }

    #[test]
    fn whole_mdc() {
        let mut entries = Vec::new();
        let mut out = String::new();
        log_mdc::clear();
        write_whole_mdc(&mut out, &mut entries);
        assert_eq!(out, "{}");
        log_mdc::insert("user", "admin");
        log_mdc::insert("apiCall", "/x");
        out.clear();
        write_whole_mdc(&mut out, &mut entries);
        assert_eq!(out, "{{apiCall,/x}{user,admin}}");
        log_mdc::clear();
    }

    #[test]
    fn whole_mdc_in_hashtable_order() {
        // log4j 1.2.17 printed `{{user,bob}{B,2}{apiCall,/api/x}}` for these.
        assert_eq!(java_hash("user"), 3_599_307);
        let keys = ["B", "apiCall", "user"];
        let order = hashtable_order(keys.iter().map(|k| java_hash(k)));
        let printed: Vec<&str> = order.iter().map(|&i| keys[i]).collect();
        assert_eq!(printed, ["user", "B", "apiCall"]);
        // Past three quarters of 7 the table grows to 15: every key is still listed once.
        let many: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
        let mut order = hashtable_order(many.iter().map(|k| java_hash(k)));
        order.sort_unstable();
        assert_eq!(order, (0..40).collect::<Vec<_>>());
    }

    proptest! {
        // A few thousand cases by default; PROPTEST_CASES raises it (scripts/fuzz-properties.sh).
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(2_000),
        ))]
        #[test]
        fn spec_never_panics_and_respects_max(text in any::<String>(), min in 0u32..50, max in 0u32..50, left in any::<bool>()) {
            let out = fmt(&text, spec(min, max, left));
            prop_assert!(out.encode_utf16().count() <= (max as usize).max(min as usize));
        }

        #[test]
        fn abbreviate_returns_a_suffix(name in r"[a-z.:]{0,20}", precision in 0u32..6) {
            prop_assert!(name.ends_with(abbreviate(&name, precision)));
        }
    }
}
