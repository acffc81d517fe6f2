use super::*;
use flate2::{write::GzEncoder, Compression};
use std::io::Write;

const MAX: usize = 1 << 20;

fn parse(body: &str) -> Result<Vec<Item>, BatchError> {
    parse_batch(body.as_bytes(), false, MAX)
}

fn err(body: &str) -> String {
    parse(body).unwrap_err().to_string()
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

const TWO: &str = concat!(
    r#"{"node":"web-1","seq":7,"topic":"generic","event":{"msgType":"login","authUser":"bob"}}"#,
    "\n",
    r#"{"event":{ "n" : 1.50e2, "msgType" : "x" },"routingKey":"fraud-svc","topic":"apinode-query","seq":18446744073709551615,"node":"A_b.c-9"}"#,
    "\n"
);

#[test]
fn parses_items_and_keeps_events_verbatim() {
    let items = parse(TWO).unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].node.as_str(), "web-1");
    assert_eq!(items[0].seq, 7);
    assert_eq!(items[0].topic, Topic::Generic);
    assert_eq!(items[0].routing_key, None);
    assert_eq!(
        items[0].event.get(),
        r#"{"msgType":"login","authUser":"bob"}"#
    );
    assert_eq!(items[1].node.as_str(), "A_b.c-9");
    assert_eq!(items[1].seq, u64::MAX);
    assert_eq!(items[1].topic, Topic::ApinodeQuery);
    assert_eq!(items[1].routing_key.as_ref().unwrap().as_str(), "fraud-svc");
    assert_eq!(items[1].event.get(), r#"{ "n" : 1.50e2, "msgType" : "x" }"#);
    // The final newline is optional; CRLF and a null routing key are accepted.
    assert_eq!(parse(TWO.trim_end()).unwrap(), items);
    assert_eq!(parse(&TWO.replace('\n', "\r\n")).unwrap(), items);
    let null_rk = r#"{"node":"web-1","seq":7,"topic":"generic","routingKey":null,"event":{"msgType":"login","authUser":"bob"}}"#;
    assert_eq!(parse(null_rk).unwrap()[0], items[0]);
}

#[test]
fn routing_keys_are_portable_folder_names() {
    for bad in [
        "CON", "nul", "Aux", "prn.log", "com1", "LPT9.txt", "svc.", "a..", "x_-.",
    ] {
        assert!(!RoutingKey::is_valid(bad), "{bad} accepted");
        let e = RoutingKey::new(bad).unwrap_err().to_string();
        assert!(e.contains("not a device name such as CON or nul"), "{e}");
    }
    for good in [
        "console", "nullable", "com0", "com10", "lpt", "a.b", "svc-1", "CONx.y",
    ] {
        assert!(RoutingKey::is_valid(good), "{good} refused");
    }
}

#[test]
fn every_topic_by_its_wire_name() {
    for topic in Topic::ALL {
        let line = format!(r#"{{"node":"n","seq":1,"topic":"{topic}","event":{{"msgType":"x"}}}}"#);
        assert_eq!(parse(&line).unwrap()[0].topic, topic);
    }
}

fn item(fields: &str) -> String {
    format!("{{{fields}}}")
}

#[test]
fn malformed_items() {
    let ok = r#"{"node":"n","seq":1,"topic":"generic","event":{"msgType":"x"}}"#;
    let cases = [
            (r#"{"node":"n","seq":1,"topic""#.to_owned(), "line 2: malformed item: EOF while parsing an object at column 27"),
            (r#"{"node" "n"}"#.to_owned(), "line 2: malformed item: expected `:` at column 9"),
            (item(r#""node":"n","seq":1,"topic":"generic","event":{"msgType":"x"},"extra":1"#), "line 2: malformed item: unknown field `extra`, expected one of `node`, `seq`, `topic`, `routingKey`, `event` at column 69"),
            (item(r#""node":"n","seq":1,"topic":"generic""#), "line 2: malformed item: missing field `event` at column 38"),
            (item(r#""node":"n","node":"m","seq":1,"topic":"generic","event":{"msgType":"x"}"#), "line 2: malformed item: duplicate field `node` at column 18"),
            (item(r#""node":"n","seq":0,"topic":"generic","event":{"msgType":"x"}"#), "line 2: malformed item: `seq` must be at least 1"),
            (item(r#""node":"n","seq":-1,"topic":"generic","event":{"msgType":"x"}"#), "line 2: malformed item: invalid value: integer `-1`, expected u64 at column 20"),
            (item(r#""node":"n","seq":"1","topic":"generic","event":{"msgType":"x"}"#), "line 2: malformed item: invalid type: string \"1\", expected u64 at column 21"),
            (item(r#""node":7,"seq":1,"topic":"generic","event":{"msgType":"x"}"#), "line 2: malformed item: invalid type: integer `7`, expected a string at column 9"),
            (format!("{ok} x"), "line 2: malformed item: trailing characters at column 64"),
            (r#"["n",1,"generic",null,{"msgType":"x"}]"#.to_owned(), "line 2: malformed item: an item must be a JSON object"),
            (String::new(), "line 2: malformed item: blank line"),
            (" \t\r".to_owned(), "line 2: malformed item: blank line"),
            ("{\"node\":\"\u{0}\"}".to_owned(), "line 2: malformed item: control character (\\u0000-\\u001F) found while parsing a string at column 10"),
        ];
    for (bad, want) in cases {
        assert_eq!(err(&format!("{ok}\n{bad}\n{ok}")), want, "{bad}");
    }
    // Invalid UTF-8.
    let body = [ok.as_bytes(), b"\n{\"node\":\"\xff\"}"].concat();
    let e = parse_batch(&body, false, MAX).unwrap_err();
    assert_eq!(e.line, Some(2));
    assert!(matches!(e.kind, BatchErrorKind::Malformed(_)), "{e}");
    // A blank last line: two newlines at the end.
    assert_eq!(
        err(&format!("{ok}\n\n")),
        "line 2: malformed item: blank line"
    );
}

fn with(node: &str, topic: &str, rk: &str, event: &str) -> String {
    format!(r#"{{"node":{node},"seq":1,"topic":{topic},"routingKey":{rk},"event":{event}}}"#)
}

#[test]
fn checked_values() {
    let ev = r#"{"msgType":"x"}"#;
    let cases = [
            (with(r#""""#, r#""generic""#, "null", ev), "line 1: invalid node id `` (1 to 64 characters of A-Z a-z 0-9 . _ -, not starting with `.`)"),
            (with(r#"".n""#, r#""generic""#, "null", ev), "line 1: invalid node id `.n` (1 to 64 characters of A-Z a-z 0-9 . _ -, not starting with `.`)"),
            (with(r#""a/b""#, r#""generic""#, "null", ev), "line 1: invalid node id `a/b` (1 to 64 characters of A-Z a-z 0-9 . _ -, not starting with `.`)"),
            (with(&format!(r#""{}""#, "n".repeat(65)), r#""generic""#, "null", ev), "line 1: invalid node id `nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn…` (1 to 64 characters of A-Z a-z 0-9 . _ -, not starting with `.`)"),
            (with(r#""n""#, r#""genric""#, "null", ev), "line 1: unknown topic `genric`"),
            (with(r#""n""#, r#""Generic""#, "null", ev), "line 1: unknown topic `Generic`"),
            (with(r#""n""#, r#""generic""#, r#""..""#, ev), "line 1: invalid routing key `..` (1 to 128 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit, not ending with `.`, not a device name such as CON or nul)"),
            (with(r#""n""#, r#""generic""#, r#""""#, ev), "line 1: invalid routing key `` (1 to 128 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit, not ending with `.`, not a device name such as CON or nul)"),
            (with(r#""n""#, r#""generic""#, r#""../etc""#, ev), "line 1: invalid routing key `../etc` (1 to 128 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit, not ending with `.`, not a device name such as CON or nul)"),
            (with(r#""n""#, r#""generic""#, r#""a\\b""#, ev), "line 1: invalid routing key `a\\b` (1 to 128 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit, not ending with `.`, not a device name such as CON or nul)"),
            (with(r#""n""#, r#""generic""#, r#""_none""#, ev), "line 1: invalid routing key `_none` (1 to 128 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit, not ending with `.`, not a device name such as CON or nul)"),
            (with(r#""n""#, r#""generic""#, "null", "[1]"), "line 1: bad event: `event` must be a JSON object"),
            (with(r#""n""#, r#""generic""#, "null", r#""{}""#), "line 1: bad event: `event` must be a JSON object"),
            (with(r#""n""#, r#""generic""#, "null", "{}"), "line 1: bad event: `event` has no `msgType`"),
            (with(r#""n""#, r#""generic""#, "null", r#"{"a":{"msgType":"x"}}"#), "line 1: bad event: `event` has no `msgType`"),
            (with(r#""n""#, r#""generic""#, "null", r#"{"msgType":1}"#), "line 1: bad event: `msgType` must be a string"),
            (with(r#""n""#, r#""generic""#, "null", r#"{"msgType":null}"#), "line 1: bad event: `msgType` must be a string"),
            (with(r#""n""#, r#""generic""#, "null", r#"{"msgType":"x","msgType":"y"}"#), "line 1: bad event: `event` has more than one `msgType`"),
            (with(r#""n""#, r#""generic""#, "null", "{\"msgType\":\"x\",\r\"a\":1}"), "line 1: bad event: `event` contains a raw carriage return"),
            (with(r#""n""#, r#""generic""#, "null", r#"{"msgType":"x","authUser":"alice","authUser":"mallory"}"#), "line 1: bad event: duplicate key `authUser` in `event`"),
            (with(r#""n""#, r#""generic""#, "null", r#"{"msgType":"x","ctx":[{"who":{"u":1,"\u0075":2}}]}"#), "line 1: bad event: duplicate key `u` in `event.ctx[0].who`"),
        ];
    for (line, want) in cases {
        assert_eq!(err(&line), want, "{line}");
    }
    // Accepted edge values; an escaped key is still msgType.
    let max_rk = format!(r#""{}""#, "r".repeat(128));
    let max_node = format!(r#""{}""#, "n".repeat(64));
    for line in [
        with(
            &max_node,
            r#""generic""#,
            &max_rk,
            r#"{"msg\u0054ype":"x"}"#,
        ),
        with(
            r#""_n""#,
            r#""generic""#,
            r#""9.._-""#,
            r#"{"a":[{"msgType":1}],"msgType":"" }"#,
        ),
        with(
            r#""n..""#,
            r#""gen\u0065ric""#,
            r#""a""#,
            r#"{"msgType":"x"}"#,
        ),
    ] {
        assert!(parse(&line).is_ok(), "{line}");
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    // The event object itself is one level; strings do not count.
    for (inner, ok) in [(99, true), (100, false), (100_000, false)] {
        let deep = format!("{}\"[{{]}}\\\"\"{}", "[".repeat(inner), "]".repeat(inner));
        let line = format!(
            r#"{{"node":"n","seq":1,"topic":"generic","event":{{"msgType":"x","d":{deep}}}}}"#
        );
        match parse(&line) {
            Ok(items) => {
                assert!(ok, "{inner}");
                // The stored line is still readable by serde_json.
                let mut out = Vec::new();
                crate::protocol::write_stored_line(
                    &mut out,
                    &items[0].event,
                    [127, 0, 0, 1].into(),
                    std::time::SystemTime::now(),
                    crate::encode::Timezone::Utc,
                );
                serde_json::from_slice::<serde_json::Value>(&out).unwrap();
            }
            Err(e) => {
                assert!(!ok, "{inner}");
                assert_eq!(
                    e.to_string(),
                    "line 1: bad event: `event` is nested more than 100 levels deep"
                );
            }
        }
    }
}

#[test]
fn first_bad_line_wins() {
    let ok = |seq: u64| {
        format!(r#"{{"node":"n","seq":{seq},"topic":"generic","event":{{"msgType":"x"}}}}"#)
    };
    let bad_topic = ok(3).replace("generic", "nope");
    let body = [ok(1), ok(2), bad_topic, "garbage".into(), ok(5)].join("\n");
    let e = parse(&body).unwrap_err();
    assert_eq!(e.line, Some(3));
    assert_eq!(e.kind, BatchErrorKind::UnknownTopic("nope".into()));
    assert_eq!(e.kind.reason(), "unknown_topic");
}

#[test]
fn a_nodes_items_must_be_in_increasing_order() {
    let item = |node: &str, seq: u64| {
        format!(r#"{{"node":"{node}","seq":{seq},"topic":"generic","event":{{"msgType":"x"}}}}"#)
    };
    // Interleaved nodes are fine, each increasing.
    let ok = [item("a", 5), item("b", 1), item("a", 9), item("b", 2)].join("\n");
    assert_eq!(parse(&ok).unwrap().len(), 4);
    let body = [item("a", 5), item("b", 1), item("a", 5)].join("\n");
    let e = parse(&body).unwrap_err();
    assert_eq!(
            e.to_string(),
            "line 3: seq 5 of node `a` is not above 5, sent earlier in this batch (a node's events must be in increasing order)"
        );
    assert_eq!(e.kind.reason(), "seq_order");
}

#[test]
fn whole_body_errors() {
    assert_eq!(err(""), "empty batch");
    assert_eq!(err("\n"), "empty batch");
    let e = parse("").unwrap_err();
    assert_eq!((e.line, e.kind.reason()), (None, "empty"));
    let big = TWO.as_bytes();
    assert!(parse_batch(big, false, big.len()).is_ok());
    assert_eq!(
        parse_batch(big, false, big.len() - 1)
            .unwrap_err()
            .to_string(),
        format!("body larger than {} bytes", big.len() - 1)
    );
}

#[test]
fn gzip_bodies() {
    let items = parse(TWO).unwrap();
    let z = gz(TWO.as_bytes());
    assert_eq!(parse_batch(&z, true, MAX).unwrap(), items);
    // Exactly at the limit (decompressed) passes; one byte less is too large.
    assert_eq!(parse_batch(&z, true, TWO.len()).unwrap(), items);
    let e = parse_batch(&z, true, TWO.len() - 1).unwrap_err();
    assert_eq!(
        (e.line, e.kind),
        (
            None,
            BatchErrorKind::TooLarge {
                limit: TWO.len() - 1
            }
        )
    );
    // A bomb stops at the limit.
    let bomb = gz(&vec![b' '; 50 << 20]);
    assert!(bomb.len() < 100_000);
    let e = parse_batch(&bomb, true, MAX).unwrap_err();
    assert_eq!(e.kind, BatchErrorKind::TooLarge { limit: MAX });
    // Concatenated members.
    let (a, b) = TWO.split_at(50);
    let two_members = [gz(a.as_bytes()), gz(b.as_bytes())].concat();
    assert_eq!(parse_batch(&two_members, true, MAX).unwrap(), items);
    // Not gzip, truncated, trailing garbage; an empty gzip stream.
    for bad in [
        TWO.as_bytes().to_vec(),
        z[..z.len() - 4].to_vec(),
        [&z[..], b"xx"].concat(),
    ] {
        let e = parse_batch(&bad, true, MAX).unwrap_err();
        assert_eq!((e.line, e.kind.reason()), (None, "bad_gzip"), "{e}");
    }
    assert_eq!(
        parse_batch(&gz(b""), true, MAX).unwrap_err().kind,
        BatchErrorKind::Empty
    );
    // Line numbers are those of the decompressed batch.
    let body = format!("{TWO}{{\"node\":1}}\n");
    assert_eq!(
        parse_batch(&gz(body.as_bytes()), true, MAX)
            .unwrap_err()
            .line,
        Some(3)
    );
}

#[test]
fn write_item_golden() {
    let node = NodeId::new("web-1").unwrap();
    let rk = RoutingKey::new("fraud-svc").unwrap();
    let event = RawValue::from_string(r#"{"msgType":"q", "n":1.0}"#.into()).unwrap();
    let mut out = Vec::new();
    let mut item = ItemRef {
        node: &node,
        seq: 42,
        topic: Topic::ApinodeQuery,
        routing_key: Some(&rk),
        event: &event,
    };
    write_item(&mut out, &item);
    item.routing_key = None;
    item.topic = Topic::GenericFailure;
    item.seq = 43;
    write_item(&mut out, &item);
    assert_eq!(
        String::from_utf8(out.clone()).unwrap(),
        concat!(
            r#"{"node":"web-1","seq":42,"topic":"apinode-query","routingKey":"fraud-svc","event":{"msgType":"q", "n":1.0}}"#,
            "\n",
            r#"{"node":"web-1","seq":43,"topic":"generic-failure","event":{"msgType":"q", "n":1.0}}"#,
            "\n"
        )
    );
    let items = parse_batch(&out, false, MAX).unwrap();
    assert_eq!(ItemRef::from(&items[1]), item);
    // An event with line breaks still makes one line.
    let event = RawValue::from_string("{\n  \"msgType\": \"q\"\r\n}".into()).unwrap();
    out.clear();
    write_item(
        &mut out,
        &ItemRef {
            event: &event,
            ..item
        },
    );
    assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "{\"node\":\"web-1\",\"seq\":43,\"topic\":\"generic-failure\",\"event\":{   \"msgType\": \"q\"  }}\n"
        );
    assert_eq!(parse_batch(&out, false, MAX).unwrap().len(), 1);
}

#[test]
fn names() {
    for ok in ["a", "0", "A.b_c-d", "a..", "_x", "-x"] {
        assert!(NodeId::is_valid(ok), "{ok}");
    }
    for bad in [
        "",
        ".",
        "..",
        ".a",
        "a b",
        "a/b",
        "a\\b",
        "é",
        &"n".repeat(65),
    ] {
        assert!(!NodeId::is_valid(bad), "{bad}");
    }
    for ok in ["a", "0", "Z.b_c-d", "a..b", "9-", &"r".repeat(128)] {
        assert!(RoutingKey::is_valid(ok), "{ok}");
    }
    for bad in [
        "",
        ".",
        "..",
        "a..",
        ".a",
        "_a",
        "-a",
        "a b",
        "a/b",
        "a\\b",
        "a:b",
        "é",
        &"r".repeat(129),
    ] {
        assert!(!RoutingKey::is_valid(bad), "{bad}");
    }
    let rk: RoutingKey = "svc-1".parse().unwrap();
    assert_eq!(rk.to_string(), "svc-1");
    assert_eq!(serde_json::to_string(&rk).unwrap(), r#""svc-1""#);
    assert_eq!(
        serde_json::from_str::<RoutingKey>(r#""svc-1""#).unwrap(),
        rk
    );
    let e = serde_json::from_str::<Vec<RoutingKey>>(r#"["ok","../x"]"#).unwrap_err();
    assert!(
        e.to_string().starts_with("invalid routing key `../x`"),
        "{e}"
    );
    let set: std::collections::HashSet<RoutingKey> = [rk].into();
    assert!(set.contains("svc-1"));
}
