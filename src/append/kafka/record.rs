//! What the `kafka` appender puts in its spool for one message, built on the logging thread,
//! and how the producer thread reads it back.
//!
//! ## Spool payload format (version 1)
//!
//! ```text
//! 0x01                          format version
//! u8 flags                      bit 0: the routing key is the message key
//! u16 LE n, n bytes             the Kafka topic (`{topic}` already replaced)
//! u16 LE n, n bytes             the `audit-topic` header (topic wire name, or logger name)
//! u16 LE n, n bytes             the routing key; n = 0xFFFF when there is none
//! rest                          the message value (envelope line or event object)
//! ```

pub(crate) const VERSION: u8 = 1;
const NO_KEY: u16 = u16::MAX;

/// A spool record read back.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Message<'a> {
    pub topic: &'a str,
    pub audit_topic: &'a str,
    pub routing_key: Option<&'a str>,
    pub key_is_routing_key: bool,
    pub value: &'a [u8],
}

fn put(out: &mut Vec<u8>, s: &str) {
    let n = s.len().min(u16::MAX as usize - 1);
    out.extend_from_slice(&(n as u16).to_le_bytes());
    out.extend_from_slice(&s.as_bytes()[..n]);
}

/// Writes the header of a record; the value is appended after it by the caller.
pub(crate) fn header(
    out: &mut Vec<u8>,
    topic: &str,
    audit_topic: &str,
    routing_key: Option<&str>,
    key_is_routing_key: bool,
) {
    out.push(VERSION);
    out.push(u8::from(key_is_routing_key));
    put(out, topic);
    put(out, audit_topic);
    match routing_key {
        Some(k) => put(out, k),
        None => out.extend_from_slice(&NO_KEY.to_le_bytes()),
    }
}

fn take<'a>(rest: &mut &'a [u8]) -> Result<Option<&'a str>, &'static str> {
    if rest.len() < 2 {
        return Err("cut short");
    }
    let n = u16::from_le_bytes([rest[0], rest[1]]);
    *rest = &rest[2..];
    if n == NO_KEY {
        return Ok(None);
    }
    let n = n as usize;
    if rest.len() < n {
        return Err("cut short");
    }
    let s = std::str::from_utf8(&rest[..n]).map_err(|_| "not UTF-8")?;
    *rest = &rest[n..];
    Ok(Some(s))
}

/// Reads a record back.
pub(crate) fn decode(record: &[u8]) -> Result<Message<'_>, &'static str> {
    let [version, flags, rest @ ..] = record else {
        return Err("cut short");
    };
    if *version != VERSION {
        return Err("unknown record version");
    }
    let mut rest = rest;
    let topic = take(&mut rest)?.ok_or("no topic")?;
    let audit_topic = take(&mut rest)?.ok_or("no audit topic")?;
    let routing_key = take(&mut rest)?;
    Ok(Message {
        topic,
        audit_topic,
        routing_key,
        key_is_routing_key: flags & 1 != 0,
        value: rest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut out = Vec::new();
        header(&mut out, "t-generic", "generic", Some("svc-1"), true);
        out.extend_from_slice(b"{\"a\":1}");
        let m = decode(&out).unwrap();
        assert_eq!(
            m,
            Message {
                topic: "t-generic",
                audit_topic: "generic",
                routing_key: Some("svc-1"),
                key_is_routing_key: true,
                value: b"{\"a\":1}",
            }
        );
        out.clear();
        header(&mut out, "t", "x.y", None, false);
        let m = decode(&out).unwrap();
        assert_eq!(
            (m.routing_key, m.value, m.key_is_routing_key),
            (None, &b""[..], false)
        );
        assert!(decode(&out[..4]).is_err());
        assert!(decode(&[2, 0]).is_err());
    }
}
