//! The anchor routes: `POST /anchors`, `GET /api/anchors`, `GET /api/anchors/key` (see the
//! table in the module doc of `server/anchors`).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::VerifyingKey;

use super::store::{Ledger, Refusal};
use super::PUBLIC_KEYS_HEADER;
use crate::server::auth::{key_id, KeyRing};
use crate::server::config::{InvalidServerConfig, ResolvedKeys, ServerConfig};

/// What the anchor routes share: the ledger (absent without an `anchors:` block) and the keys
/// that may use it.
pub(crate) struct AnchorApi {
    ledger: Option<Arc<Ledger>>,
    event_keys: KeyRing,
    /// Per event key (by index), its node-binding id: what the ledger records as `sender`.
    senders: Vec<[u8; 16]>,
    read_keys: KeyRing,
    max_body: usize,
    read_timeout: Duration,
}

impl AnchorApi {
    /// Opens the ledger in `<state_dir>/anchors` when the config has an `anchors:` block.
    pub(crate) fn new(
        config: &ServerConfig,
        keys: &ResolvedKeys,
    ) -> Result<AnchorApi, InvalidServerConfig> {
        let ledger = match &config.anchors {
            Some(a) => {
                let key = a.load_key()?;
                let dir = config.state_dir().join("anchors");
                let ledger = Ledger::open(&dir, key, config.file_mode)
                    .map_err(|e| InvalidServerConfig(format!("anchors: {e}")))?;
                Some(Arc::new(ledger))
            }
            None => None,
        };
        Ok(AnchorApi {
            ledger,
            event_keys: KeyRing::new(&keys.event),
            senders: keys.event.iter().map(|k| key_id(k)).collect(),
            read_keys: KeyRing::new(&keys.read),
            max_body: config.max_body_bytes.0 as usize,
            read_timeout: config.read_timeout,
        })
    }

    /// The ledger, or the 404 to answer (boxed: a `Response` is large for an `Err`).
    fn ledger(&self) -> Result<&Arc<Ledger>, Box<Response>> {
        self.ledger.as_ref().ok_or_else(|| {
            Box::new(json_error(
                StatusCode::NOT_FOUND,
                "anchors are not configured on this server (its config has no `anchors:` block)",
            ))
        })
    }
}

fn json_error(status: StatusCode, message: impl AsRef<str>) -> Response {
    json(
        status,
        serde_json::json!({ "error": message.as_ref() }).to_string(),
    )
}

fn json(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn unauthorized(what: &str) -> Response {
    let mut r = json_error(
        StatusCode::UNAUTHORIZED,
        format!("missing or invalid {what} key"),
    );
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// The writer public keys a request offers: base64, comma separated.
fn offered_keys(headers: &HeaderMap) -> Result<Vec<VerifyingKey>, String> {
    let Some(v) = headers.get(PUBLIC_KEYS_HEADER) else {
        return Ok(Vec::new());
    };
    let text = v
        .to_str()
        .map_err(|_| format!("{PUBLIC_KEYS_HEADER}: not ASCII"))?;
    text.split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(|k| {
            B64.decode(k)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .and_then(|b| VerifyingKey::from_bytes(&b).ok())
                .ok_or_else(|| {
                    format!("{PUBLIC_KEYS_HEADER}: `{k}` is not an Ed25519 public key in base64")
                })
        })
        .collect()
}

/// `POST /anchors`: NDJSON of record lines; each answered by a receipt, or the first refused
/// one stops the request (what came before it is stored).
pub(crate) async fn post(api: Arc<AnchorApi>, headers: HeaderMap, body: Body) -> Response {
    let now = SystemTime::now();
    let ledger = match api.ledger() {
        Ok(l) => Arc::clone(l),
        Err(r) => return *r,
    };
    let Some(index) = api.event_keys.check(authorization(&headers)) else {
        return unauthorized("event");
    };
    let sender = api.senders[index];
    let offered = match offered_keys(&headers) {
        Ok(k) => k,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, e),
    };
    let read =
        tokio::time::timeout(api.read_timeout, axum::body::to_bytes(body, api.max_body)).await;
    let bytes = match read {
        Err(_) => {
            return json_error(
                StatusCode::REQUEST_TIMEOUT,
                "request body not received in time",
            )
        }
        Ok(Err(e)) => {
            return json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("body larger than {} bytes, or broken: {e}", api.max_body),
            )
        }
        Ok(Ok(b)) => b,
    };
    let Ok(text) = String::from_utf8(bytes.to_vec()) else {
        return json_error(StatusCode::BAD_REQUEST, "body is not UTF-8");
    };
    let outcome =
        tokio::task::spawn_blocking(move || ledger.accept(&text, sender, &offered, now)).await;
    let Ok(outcome) = outcome else {
        return json_error(StatusCode::INTERNAL_SERVER_ERROR, "anchor writer failed");
    };
    let stored = outcome.receipts.iter().filter(|r| !r.duplicate).count();
    let duplicates = outcome.receipts.len() - stored;
    let mut answer = serde_json::json!({
        "stored": stored,
        "duplicates": duplicates,
        "receipts": outcome.receipts.iter().map(|r| r.to_json()).collect::<Vec<_>>(),
    });
    let status = match &outcome.refusal {
        None => StatusCode::OK,
        Some(refusal) => {
            let (status, message) = match refusal {
                Refusal::Malformed(m) => (StatusCode::BAD_REQUEST, m),
                Refusal::Forbidden(m) => (StatusCode::FORBIDDEN, m),
                Refusal::Conflict(m) => (StatusCode::CONFLICT, m),
                Refusal::Io(m) => (StatusCode::INTERNAL_SERVER_ERROR, m),
            };
            answer["error"] = serde_json::Value::String(message.clone());
            status
        }
    };
    json(status, answer.to_string())
}

/// `GET /api/anchors?origin=…`: the ledger lines of one origin, or of all (NDJSON).
pub(crate) async fn get_ledger(
    api: Arc<AnchorApi>,
    headers: HeaderMap,
    query: Option<String>,
) -> Response {
    let ledger = match api.ledger() {
        Ok(l) => Arc::clone(l),
        Err(r) => return *r,
    };
    if api.read_keys.check(authorization(&headers)).is_none() {
        return unauthorized("read");
    }
    let mut origin = None;
    for pair in query.as_deref().unwrap_or("").split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "" => {}
            "origin" => match decode(v) {
                Some(o) => origin = Some(o),
                None => return json_error(StatusCode::BAD_REQUEST, "origin: bad percent-encoding"),
            },
            other => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    format!("unknown parameter `{other}` (known: origin)"),
                )
            }
        }
    }
    let read = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        for f in ledger.files(origin.as_deref()) {
            let text = std::fs::read(&f)?;
            // Lines are appended whole under the ledger's lock; a read racing an append may
            // see part of the last one: left out.
            let whole = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            out.extend_from_slice(&text[..whole]);
        }
        Ok(out)
    })
    .await;
    match read {
        Ok(Ok(body)) => {
            let mut r = (StatusCode::OK, body).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-ndjson"),
            );
            r
        }
        Ok(Err(e)) => json_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(_) => json_error(StatusCode::INTERNAL_SERVER_ERROR, "ledger reader failed"),
    }
}

/// `GET /api/anchors/key`: the server's anchor public key, as `keygen` writes `.pub` files
/// (public: it proves nothing by itself; pin it with `verify --anchors-key`).
pub(crate) async fn get_key(api: Arc<AnchorApi>) -> Response {
    match api.ledger() {
        Ok(l) => {
            let text = B64.encode(l.public_key().as_bytes()) + "\n";
            (StatusCode::OK, text).into_response()
        }
        Err(r) => *r,
    }
}

/// Percent-decoding of a query value (`+` is a space).
fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}
