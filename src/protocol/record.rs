//! The line the Event Server stores for each event:
//!
//! ```text
//! {"clientEvent":{"msgType":"login","authUser":"bob"},"origAddress":"10.0.0.5","serverTimestamp":"2020-02-19T16:05:02.441+0100"}
//! ```
//!
//! `clientEvent` is the event object byte for byte as the client sent it, `origAddress` the
//! peer's IP address (IPv6 in its canonical text, an IPv4-mapped IPv6 peer as IPv4), and
//! `serverTimestamp` the time the server received the batch, in the envelope's `timestamp`
//! format.

use std::io::Write;
use std::net::IpAddr;
use std::time::SystemTime;

use serde_json::value::RawValue;

use super::wire::write_json_one_line;
use crate::encode::{write_timestamp, Timezone};

/// Appends the stored line of `event` (`\n` included) to `out`.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use log4rs_audit::encode::Timezone;
/// use log4rs_audit::protocol::record::write_stored_line;
///
/// let event = serde_json::value::RawValue::from_string(r#"{"msgType":"login"}"#.into())?;
/// let mut line = Vec::new();
/// let time = UNIX_EPOCH + Duration::from_millis(1_582_124_702_441);
/// write_stored_line(&mut line, &event, "10.0.0.5".parse()?, time, Timezone::Utc);
/// assert_eq!(
///     line,
///     br#"{"clientEvent":{"msgType":"login"},"origAddress":"10.0.0.5","serverTimestamp":"2020-02-19T15:05:02.441+0000"}
/// "#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_stored_line(
    out: &mut Vec<u8>,
    event: &RawValue,
    orig_address: IpAddr,
    server_time: SystemTime,
    tz: Timezone,
) {
    out.extend_from_slice(b"{\"clientEvent\":");
    write_json_one_line(out, event);
    out.extend_from_slice(b",\"origAddress\":\"");
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{}", orig_address.to_canonical());
    out.extend_from_slice(b"\",\"serverTimestamp\":\"");
    write_timestamp(out, server_time, tz);
    out.extend_from_slice(b"\"}\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn line(event: &str, ip: &str, tz: &str) -> String {
        let event = RawValue::from_string(event.to_owned()).unwrap();
        let time = UNIX_EPOCH + Duration::from_millis(1_582_124_702_441);
        let mut out = b"previous\n".to_vec();
        write_stored_line(
            &mut out,
            &event,
            ip.parse().unwrap(),
            time,
            tz.parse().unwrap(),
        );
        String::from_utf8(out)
            .unwrap()
            .strip_prefix("previous\n")
            .unwrap()
            .to_owned()
    }

    #[test]
    fn golden_line() {
        assert_eq!(
            line(
                r#"{"msgType":"dataset-export","authUser":"alice","rows":1200,"ratio":1.50}"#,
                "10.0.0.5",
                "+0100"
            ),
            "{\"clientEvent\":{\"msgType\":\"dataset-export\",\"authUser\":\"alice\",\"rows\":1200,\"ratio\":1.50},\
             \"origAddress\":\"10.0.0.5\",\"serverTimestamp\":\"2020-02-19T16:05:02.441+0100\"}\n"
        );
    }

    #[test]
    fn client_event_is_kept_verbatim() {
        // Spacing, key order, number spelling and escapes as the client sent them.
        let event = r#"{ "b" : 1e3 , "msgType":"x\u0041", "a":"é\"" }"#;
        assert_eq!(
            line(event, "127.0.0.1", "utc"),
            format!(
                "{{\"clientEvent\":{event},\"origAddress\":\"127.0.0.1\",\"serverTimestamp\":\"2020-02-19T15:05:02.441+0000\"}}\n"
            )
        );
    }

    #[test]
    fn addresses() {
        let addr = |ip: &str| {
            let l = line(r#"{"msgType":"x"}"#, ip, "utc");
            let v: serde_json::Value = serde_json::from_str(&l).unwrap();
            v["origAddress"].as_str().unwrap().to_owned()
        };
        assert_eq!(
            addr("2001:0db8:0000:0000:0000:0000:0000:0001"),
            "2001:db8::1"
        );
        assert_eq!(addr("::1"), "::1");
        assert_eq!(addr("::ffff:10.0.0.5"), "10.0.0.5");
        assert_eq!(addr("fe80::1:2"), "fe80::1:2");
        assert_eq!(addr("192.168.1.20"), "192.168.1.20");
    }

    #[test]
    fn line_breaks_in_an_event_become_spaces() {
        assert_eq!(
            line("{\n\"msgType\":\r\n\"x\"}", "10.0.0.5", "utc"),
            "{\"clientEvent\":{ \"msgType\":  \"x\"},\"origAddress\":\"10.0.0.5\",\"serverTimestamp\":\"2020-02-19T15:05:02.441+0000\"}\n"
        );
    }
}
