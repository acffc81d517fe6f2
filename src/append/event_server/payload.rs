//! What the `event_server` appender puts in its spool for one event, built on the logging
//! thread, and how the sender reads it back.
//!
//! ## Spool payload format (version 1)
//!
//! ```text
//! 0x01                          format version
//! u8 n, n bytes                 the topic's wire name (`generic`, `apinode-query`, …)
//! u8 m, m bytes                 the routing key; m = 0 when there is none (a key is never empty)
//! rest                          the event object's JSON, as the envelope's `message` field
//! ```
//!
//! The node id and sequence number are not in the payload: they are the spool's own
//! ([`Spool::node_id`](crate::spool::Spool::node_id) and the record's sequence number).

use log::kv::Key;
use log::Record;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::config::{Routing, RoutingKeyMode};
use crate::protocol::wire::{InvalidRoutingKey, RoutingKey, MAX_EVENT_DEPTH};
use crate::{Topic, ROUTING_KEY_KEY};

/// The first byte of a version-1 payload.
pub(crate) const VERSION: u8 = 1;

/// A payload read back from the spool.
#[derive(Debug)]
pub(crate) struct Decoded {
    pub topic: Topic,
    pub routing_key: Option<RoutingKey>,
    pub event: Box<RawValue>,
}

/// Why a record cannot be sent; the logger reports it through its error handler.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum EncodeError {
    #[error("logger `{0}` is not an audit logger (dku.audit.<topic>); the event_server target sends audit events only")]
    NotAudit(String),
    #[error("event of logger `{logger}`: {why}")]
    BadEvent { logger: String, why: String },
    #[error("event of logger `{logger}`: {why}")]
    BadRoutingKey { logger: String, why: String },
}

/// Writes the spool payload of `record` into `out` (cleared first).
pub(crate) fn encode(
    out: &mut Vec<u8>,
    record: &Record,
    routing: &Routing,
) -> Result<(), EncodeError> {
    out.clear();
    let logger = record.target();
    let topic = topic_of(logger).ok_or_else(|| EncodeError::NotAudit(logger.to_owned()))?;
    let name = topic.wire_name().as_bytes();
    out.push(VERSION);
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    let rk_len_at = out.len();
    out.push(0);
    let from_message = match routing.mode {
        RoutingKeyMode::Static => None,
        RoutingKeyMode::FromMessage | RoutingKeyMode::StaticIfMissing => {
            record.key_values().get(Key::from_str(ROUTING_KEY_KEY))
        }
    };
    match (&from_message, &routing.key) {
        (Some(v), _) => {
            let start = out.len();
            match v.to_borrowed_str() {
                Some(s) => out.extend_from_slice(s.as_bytes()),
                None => {
                    use std::io::Write;
                    let _ = write!(out, "{v}");
                }
            }
            let key = &out[start..];
            let ok = std::str::from_utf8(key).is_ok_and(RoutingKey::is_valid);
            if !ok {
                let why = InvalidRoutingKey(String::from_utf8_lossy(key).into_owned()).to_string();
                return Err(EncodeError::BadRoutingKey {
                    logger: logger.to_owned(),
                    why,
                });
            }
            out[rk_len_at] = key.len() as u8;
        }
        (None, Some(key)) if routing.mode != RoutingKeyMode::FromMessage => {
            out.extend_from_slice(key.as_str().as_bytes());
            out[rk_len_at] = key.as_str().len() as u8;
        }
        _ => {}
    }
    let event_at = out.len();
    crate::encode::write_message_json(out, record);
    check_event(&out[event_at..]).map_err(|why| EncodeError::BadEvent {
        logger: logger.to_owned(),
        why: why.to_owned(),
    })
}

/// The topic of an audit logger name; `::` separates like `.` (as in the logger hierarchy).
fn topic_of(logger: &str) -> Option<Topic> {
    Topic::from_logger_name(logger).or_else(|| logger.strip_prefix("dku::audit::")?.parse().ok())
}

#[derive(Deserialize)]
struct MsgType<'a> {
    #[serde(rename = "msgType", borrow, default)]
    msg_type: Option<&'a RawValue>,
}

/// The checks the Event Server makes on an event, so a bad event is reported to the caller
/// instead of being rejected by the server (and dead-lettered) later.
pub(crate) fn check_event(event: &[u8]) -> Result<(), &'static str> {
    if event.first() != Some(&b'{') {
        return Err(
            "the event is not a JSON object (log it with key-values, msgType first, or as JSON object text)",
        );
    }
    if event.contains(&b'\r') {
        return Err("the event contains a raw carriage return");
    }
    if crate::encode::json_depth(event) > MAX_EVENT_DEPTH {
        return Err("the event is nested more than 100 levels deep");
    }
    // Key-values put msgType first: the common case needs no parse beyond the duplicate check.
    match serde_json::from_slice::<MsgType>(event) {
        Ok(MsgType { msg_type: Some(v) }) if v.get().starts_with('"') => Ok(()),
        Ok(MsgType { msg_type: Some(_) }) => Err("`msgType` must be a string"),
        Ok(MsgType { msg_type: None }) => Err("the event has no `msgType`"),
        Err(_) => Err("the event has more than one `msgType`"),
    }
}

/// Reads a payload back; an error says why it is unusable (a record from a newer version).
pub(crate) fn decode(payload: &[u8]) -> Result<Decoded, String> {
    let bad = |why: &str| format!("unreadable spool record: {why}");
    let (&version, rest) = payload.split_first().ok_or_else(|| bad("empty"))?;
    if version != VERSION {
        return Err(bad(&format!("format version {version}")));
    }
    let (name, rest) = take(rest).ok_or_else(|| bad("cut short"))?;
    let topic = std::str::from_utf8(name)
        .ok()
        .and_then(|n| n.parse::<Topic>().ok())
        .ok_or_else(|| bad("unknown topic"))?;
    let (rk, rest) = take(rest).ok_or_else(|| bad("cut short"))?;
    let routing_key = match rk {
        [] => None,
        rk => Some(
            std::str::from_utf8(rk)
                .ok()
                .and_then(|k| RoutingKey::new(k).ok())
                .ok_or_else(|| bad("invalid routing key"))?,
        ),
    };
    let event = std::str::from_utf8(rest)
        .ok()
        .and_then(|e| RawValue::from_string(e.to_owned()).ok())
        .ok_or_else(|| bad("the event is not JSON"))?;
    Ok(Decoded {
        topic,
        routing_key,
        event,
    })
}

fn take(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&n, rest) = bytes.split_first()?;
    (rest.len() >= n as usize).then(|| rest.split_at(n as usize))
}

#[cfg(test)]
mod tests {
    use super::*;
    use log::kv::Value;

    fn routing(mode: RoutingKeyMode, key: Option<&str>) -> Routing {
        Routing {
            mode,
            key: key.map(|k| RoutingKey::new(k).unwrap()),
        }
    }

    fn enc(
        target: &str,
        kvs: &[(&str, Value)],
        text: &str,
        r: &Routing,
    ) -> Result<Vec<u8>, EncodeError> {
        let mut out = vec![9, 9];
        let args = format_args!("{text}");
        let rec = Record::builder()
            .target(target)
            .key_values(&kvs)
            .args(args)
            .build();
        encode(&mut out, &rec, r).map(|()| out)
    }

    #[test]
    fn golden_and_round_trip() {
        let from_msg = routing(RoutingKeyMode::FromMessage, None);
        let kvs = [
            ("authUser", Value::from("bob")),
            ("msgType", Value::from("login")),
        ];
        let p = enc("dku.audit.generic", &kvs, "", &from_msg).unwrap();
        assert_eq!(
            p,
            b"\x01\x07generic\x00{\"msgType\":\"login\",\"authUser\":\"bob\"}"
        );
        let d = decode(&p).unwrap();
        assert_eq!((d.topic, d.routing_key), (Topic::Generic, None));
        assert_eq!(d.event.get(), r#"{"msgType":"login","authUser":"bob"}"#);

        let kvs = [
            ("msgType", Value::from("q")),
            ("routingKey", Value::from("svc")),
        ];
        let p = enc("dku::audit::apinode-query", &kvs, "", &from_msg).unwrap();
        assert_eq!(
            p,
            b"\x01\x0dapinode-query\x03svc{\"msgType\":\"q\",\"routingKey\":\"svc\"}"
        );
        let d = decode(&p).unwrap();
        assert_eq!(d.routing_key.unwrap().as_str(), "svc");

        // An event given as JSON text.
        let p = enc(
            "dku.audit.authfail",
            &[],
            r#"{"a": 1, "msgType": "x"}"#,
            &from_msg,
        )
        .unwrap();
        assert_eq!(decode(&p).unwrap().event.get(), r#"{"a":1,"msgType":"x"}"#);
    }

    #[test]
    fn routing_modes() {
        let with = [
            ("msgType", Value::from("q")),
            ("routingKey", Value::from("m")),
        ];
        let without = [("msgType", Value::from("q"))];
        let rk = |kvs: &[(&str, Value)], r: &Routing| {
            let p = enc("dku.audit.generic", kvs, "", r).unwrap();
            decode(&p)
                .unwrap()
                .routing_key
                .map(|k| k.as_str().to_owned())
        };
        let m = Some("m".to_owned());
        let s = Some("s".to_owned());
        let r = routing(RoutingKeyMode::FromMessage, Some("s"));
        assert_eq!((rk(&with, &r), rk(&without, &r)), (m.clone(), None));
        let r = routing(RoutingKeyMode::Static, Some("s"));
        assert_eq!((rk(&with, &r), rk(&without, &r)), (s.clone(), s.clone()));
        let r = routing(RoutingKeyMode::StaticIfMissing, Some("s"));
        assert_eq!((rk(&with, &r), rk(&without, &r)), (m, s));
        // A number is a key too.
        let num = [
            ("msgType", Value::from("q")),
            ("routingKey", Value::from(42)),
        ];
        assert_eq!(
            rk(&num, &routing(RoutingKeyMode::FromMessage, None)),
            Some("42".into())
        );
    }

    #[test]
    fn errors_say_why() {
        let r = routing(RoutingKeyMode::FromMessage, None);
        let e = |target: &str, kvs: &[(&str, Value)], text: &str| {
            enc(target, kvs, text, &r).unwrap_err().to_string()
        };
        assert_eq!(
            e("app.db", &[("msgType", Value::from("x"))], ""),
            "logger `app.db` is not an audit logger (dku.audit.<topic>); the event_server target sends audit events only"
        );
        assert_eq!(
            e("dku.audit.nope", &[("msgType", Value::from("x"))], ""),
            "logger `dku.audit.nope` is not an audit logger (dku.audit.<topic>); the event_server target sends audit events only"
        );
        assert!(e("dku.audit.generic", &[], "plain text").ends_with("the event is not a JSON object (log it with key-values, msgType first, or as JSON object text)"));
        assert_eq!(
            e("dku.audit.generic", &[("a", Value::from(1))], ""),
            "event of logger `dku.audit.generic`: the event has no `msgType`"
        );
        assert_eq!(
            e("dku.audit.generic", &[("msgType", Value::from(1))], ""),
            "event of logger `dku.audit.generic`: `msgType` must be a string"
        );
        assert!(e(
            "dku.audit.generic",
            &[
                ("msgType", Value::from("x")),
                ("routingKey", Value::from("../x"))
            ],
            ""
        )
        .contains("invalid routing key `../x`"));
    }

    #[test]
    fn event_checks() {
        assert!(check_event(br#"{"msgType":"x"}"#).is_ok());
        assert!(check_event(br#"{"a":{"msgType":1},"msgType":"x"}"#).is_ok());
        assert!(check_event(br#"{"msgType":"x","msgType":"y"}"#).is_err());
        assert!(check_event(b"{\"msgType\":\"x\",\r\"a\":1}").is_err());
        let deep = format!(
            r#"{{"msgType":"x","d":{}1{}}}"#,
            "[".repeat(100),
            "]".repeat(100)
        );
        assert_eq!(
            check_event(deep.as_bytes()),
            Err("the event is nested more than 100 levels deep")
        );
        let ok = format!(
            r#"{{"msgType":"x","d":{}1{}}}"#,
            "[".repeat(99),
            "]".repeat(99)
        );
        assert!(check_event(ok.as_bytes()).is_ok());
    }

    #[test]
    fn bad_payloads() {
        for (p, why) in [
            (&b""[..], "empty"),
            (b"\x02", "format version 2"),
            (b"\x01\x09generic", "cut short"),
            (b"\x01\x04nope\x00{}", "unknown topic"),
            (b"\x01\x07generic\x02..{}", "invalid routing key"),
            (b"\x01\x07generic\x00{", "the event is not JSON"),
        ] {
            assert_eq!(
                decode(p).unwrap_err(),
                format!("unreadable spool record: {why}")
            );
        }
    }
}
