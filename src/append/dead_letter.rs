//! The dead-letter file of the spooled targets: events the Event Server (or Kafka) refused for
//! good, kept so nothing is lost.
//!
//! `<spool_dir>/dead-letter.ndjson`, one JSON line per event, appended and fsynced before the
//! events leave the spool:
//!
//! ```text
//! {"deadLetter":{"time":"2024-05-01T10:00:00.123Z","status":400,"reason":"line 3: unknown topic `x`","url":"http://h:11004/events"},"item":{"node":"…","seq":42,"topic":"generic","event":{…}}}
//! ```
//!
//! `item` is the wire item as it was sent. A spool record that could not even be read back
//! has `"status":null` and, instead of `item`, `"node"`, `"seq"` and its raw `"payload"` text.

use crate::file_mode::FileMode;
use std::io::{self, Write};
use std::path::Path;

use crate::encode::json::write_str;
use crate::protocol::wire::{write_item, ItemRef, NodeId};

/// The dead-letter file's name in the spool directory.
pub const FILE_NAME: &str = "dead-letter.ndjson";

/// One refused event.
pub(crate) enum DeadItem<'a> {
    /// An event as sent.
    Item(ItemRef<'a>),
    /// A spool record that could not be decoded.
    Unreadable {
        node: &'a NodeId,
        seq: u64,
        payload: &'a [u8],
    },
}

/// Appends one line per item and fsyncs the file.
pub(crate) fn write(
    path: &Path,
    mode: FileMode,
    items: &[DeadItem],
    status: Option<u16>,
    reason: &str,
    url: &str,
) -> io::Result<()> {
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut header = Vec::with_capacity(128 + reason.len());
    header.extend_from_slice(b"{\"deadLetter\":{\"time\":");
    write_str(&mut header, &time);
    header.extend_from_slice(b",\"status\":");
    match status {
        Some(s) => header.extend_from_slice(s.to_string().as_bytes()),
        None => header.extend_from_slice(b"null"),
    }
    header.extend_from_slice(b",\"reason\":");
    write_str(&mut header, reason);
    header.extend_from_slice(b",\"url\":");
    write_str(&mut header, url);
    header.extend_from_slice(b"},");
    let mut out = Vec::with_capacity(items.len() * (header.len() + 256));
    for item in items {
        out.extend_from_slice(&header);
        match item {
            DeadItem::Item(item) => {
                out.extend_from_slice(b"\"item\":");
                write_item(&mut out, item);
                // write_item ends the line; close our object before the newline.
                out.pop();
                out.extend_from_slice(b"}\n");
            }
            DeadItem::Unreadable { node, seq, payload } => {
                out.extend_from_slice(b"\"node\":");
                write_str(&mut out, node.as_str());
                out.extend_from_slice(format!(",\"seq\":{seq},\"payload\":").as_bytes());
                write_str(&mut out, &String::from_utf8_lossy(payload));
                out.extend_from_slice(b"}\n");
            }
        }
    }
    let mut file = mode.open_append(path)?;
    file.write_all(&out)?;
    file.sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Topic;
    use serde_json::value::RawValue;

    #[test]
    fn lines_are_json_with_the_item() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let node = NodeId::new("00ab").unwrap();
        let event = RawValue::from_string(r#"{"msgType":"x","n":1}"#.into()).unwrap();
        let item = ItemRef {
            node: &node,
            seq: 7,
            topic: Topic::Authfail,
            routing_key: None,
            event: &event,
        };
        // The spool's mode (here an exact one) makes the file, past any umask.
        let exact: FileMode = "0600".parse().unwrap();
        write(
            &path,
            exact,
            &[DeadItem::Item(item)],
            Some(400),
            "line 1: \"bad\"",
            "http://h/events",
        )
        .unwrap();
        write(
            &path,
            FileMode::default(),
            &[DeadItem::Unreadable {
                node: &node,
                seq: 8,
                payload: b"\x02zz",
            }],
            None,
            "unreadable",
            "u",
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["deadLetter"]["status"], 400);
        assert_eq!(lines[0]["deadLetter"]["reason"], "line 1: \"bad\"");
        assert_eq!(lines[0]["deadLetter"]["url"], "http://h/events");
        assert_eq!(
            lines[0]["item"],
            serde_json::json!({"node":"00ab","seq":7,"topic":"authfail","event":{"msgType":"x","n":1}})
        );
        assert!(lines[0]["deadLetter"]["time"]
            .as_str()
            .unwrap()
            .ends_with('Z'));
        assert_eq!(lines[1]["deadLetter"]["status"], serde_json::Value::Null);
        assert_eq!(
            (&lines[1]["node"], &lines[1]["seq"]),
            (&serde_json::json!("00ab"), &serde_json::json!(8))
        );
        assert!(text
            .lines()
            .nth(1)
            .unwrap()
            .contains(r#""payload":"\u0002zz""#));
    }
}
