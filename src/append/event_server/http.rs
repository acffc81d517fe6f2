//! One `POST /events` and what its answer means for the batch; the HTTP agent and its TLS.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use super::config::TlsChoice;
use crate::append::tls::{ca_file_config, trust_all_config};
use crate::protocol::wire::BatchAnswer;

/// Longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// Longest server error text kept.
const MAX_REASON: usize = 1000;

/// What the server's answer means for the batch sent.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// `200 {"stored":N,"duplicates":M,"unrouted":U}`: the server has every event.
    Stored(BatchAnswer),
    /// Try again later (`503`/`429`, other `5xx`, no connection, timeout, an answer that is not
    /// the Event Server's); `after` is the server's `Retry-After`. `maybe_stored` unless the
    /// Event Server answered (an error status from it means it stored nothing and moved no
    /// high-water mark).
    Retry {
        why: String,
        after: Option<Duration>,
        maybe_stored: bool,
    },
    /// `403`: the server refuses this node id with this key (bound to another key, or one
    /// node id too many for it): an operator must act; the events stay in the spool and are
    /// sent again with backoff.
    Forbidden { reason: String },
    /// `413`: the body is too large for the server.
    TooLarge { reason: String },
    /// Another `4xx`: the server will never take this batch as it is.
    Rejected { status: u16, reason: String },
}

/// Builds the HTTP agent: timeouts, no redirects (a redirected POST would lose its body), TLS.
pub(crate) fn agent(
    tls: &TlsChoice,
    connect_timeout: Duration,
    request_timeout: Duration,
) -> anyhow::Result<ureq::Agent> {
    let builder = ureq::AgentBuilder::new()
        .timeout_connect(connect_timeout)
        .timeout(request_timeout)
        .redirects(0)
        .user_agent(concat!("log4rs-audit/", env!("CARGO_PKG_VERSION")));
    let builder = match tls {
        TlsChoice::Default => builder,
        TlsChoice::CaFile(path) => builder.tls_config(Arc::new(ca_file_config(path)?)),
        TlsChoice::TrustAll => builder.tls_config(Arc::new(trust_all_config()?)),
    };
    Ok(builder.build())
}

/// Gzips a body.
pub(crate) fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut z = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    z.write_all(body)?;
    z.finish()
}

/// Posts one batch body (already gzipped when `gzipped`).
pub(crate) fn post(
    agent: &ureq::Agent,
    endpoint: &str,
    auth_header: &str,
    body: &[u8],
    gzipped: bool,
) -> Outcome {
    let mut request = agent
        .post(endpoint)
        .set("Authorization", auth_header)
        .set("Content-Type", "application/x-ndjson");
    if gzipped {
        request = request.set("Content-Encoding", "gzip");
    }
    match request.send_bytes(body) {
        Ok(response) => {
            let status = response.status();
            let text = read_text(response);
            match (status, serde_json::from_str::<BatchAnswer>(&text)) {
                (200, Ok(answer)) => Outcome::Stored(answer),
                _ => Outcome::Retry {
                    why: format!(
                        "unexpected answer from {endpoint} (not the Event Server?): HTTP {status}: {}",
                        shorten(&text)
                    ),
                    after: None,
                    maybe_stored: true,
                },
            }
        }
        Err(ureq::Error::Status(status, response)) => {
            let after = response
                .header("Retry-After")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
            let reason = reason_of(&read_text(response));
            match status {
                413 => Outcome::TooLarge { reason },
                403 => Outcome::Forbidden { reason },
                408 | 429 | 500..=599 => Outcome::Retry {
                    why: format!("{endpoint}: HTTP {status}: {reason}"),
                    after,
                    maybe_stored: false,
                },
                _ => Outcome::Rejected { status, reason },
            }
        }
        Err(ureq::Error::Transport(t)) => Outcome::Retry {
            // Only a request that never reached the server surely stored nothing.
            maybe_stored: !matches!(
                t.kind(),
                ureq::ErrorKind::Dns
                    | ureq::ErrorKind::ConnectionFailed
                    | ureq::ErrorKind::InvalidUrl
                    | ureq::ErrorKind::UnknownScheme
                    | ureq::ErrorKind::ProxyConnect
            ),
            why: format!("{endpoint}: {t}"),
            after: None,
        },
    }
}

/// The body of an answer, at most 64 KiB of it.
fn read_text(response: ureq::Response) -> String {
    let mut bytes = Vec::new();
    let _ = response
        .into_reader()
        .take(64 << 10)
        .read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The server's `{"error": "..."}` text, else the body itself (shortened).
pub(crate) fn reason_of(body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        error: String,
    }
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(e) => shorten(&e.error),
        Err(_) => shorten(body.trim()),
    }
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_REASON) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The 1-based line a `400` names (`line 3: unknown topic …`), if it does.
pub(crate) fn line_of(reason: &str) -> Option<usize> {
    let rest = reason.strip_prefix("line ")?;
    let (n, _) = rest.split_once(':')?;
    n.parse().ok().filter(|&n| n >= 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_and_lines() {
        assert_eq!(
            reason_of(r#"{"error":"line 3: unknown topic `x`"}"#),
            "line 3: unknown topic `x`"
        );
        assert_eq!(reason_of(" Bad Request \n"), "Bad Request");
        assert_eq!(reason_of(&"x".repeat(2000)).chars().count(), MAX_REASON + 1);
        assert_eq!(line_of("line 3: unknown topic"), Some(3));
        assert_eq!(line_of("line 0: x"), None);
        assert_eq!(line_of("empty batch"), None);
        assert_eq!(line_of("line x: y"), None);
    }

    #[test]
    fn gzip_round_trip() {
        let z = gzip(b"{\"a\":1}\n").unwrap();
        let mut out = String::new();
        flate2::read::GzDecoder::new(&z[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "{\"a\":1}\n");
    }
}
