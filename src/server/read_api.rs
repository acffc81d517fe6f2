//! The read API: `GET /api/events` and `GET /api/reports/<name>`, for holders of a `read_keys`
//! entry, over the server's filesystem destinations.
//!
//! | request | answer |
//! |---|---|
//! | `GET /api/events?…` | `200`, `application/x-ndjson`: stored lines, newest first; `X-Next-Cursor` when older ones may remain ([`newest`]) |
//! | `GET /api/events?…&annotate=1` | each line as `{"destination","file","offset","topic","routingKey","integrity","line"}` ([`seals`]) |
//! | `GET /api/reports/<name>?…` | `200`, `application/json`: `{"report","rows":[…],"read":{…}}`, the rows as `report --format ndjson` writes them |
//! | no or another key | `401` |
//! | a bad parameter ([`params`]) | `400` naming it |
//! | an unknown report or destination | `404` |
//! | more than [`MAX_READERS`] reads running for [`QUEUE_WAIT`] | `503` with `Retry-After` |
//!
//! Filters: `topic`, `msgType`, `user` (comma lists or repeated), `since`, `until` (the forms of
//! `query --since`), `where=key=value` (repeated), `destination` (names; all filesystem
//! destinations by default). `/api/events` also takes `limit` (1–1000, default 100), `cursor`,
//! `annotate`; `usage` takes `period`, `cru` takes `by` (`department` needs the server's
//! `people` CSV), `authfail` takes `burst` and `window`; `gaps` ends at `until` (else now).
//!
//! **Reads never block ingest.** Each read runs on its own thread at a lower CPU priority
//! (nice 10, Linux), never on the async workers that take `POST /events` nor on the writer
//! thread, and at most [`MAX_READERS`] at once; they read the files the writer appends to
//! without any lock (a partial last line is left out).

pub(crate) mod newest;
mod params;
mod reverse_lines;
pub(crate) mod seals;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ed25519_dalek::VerifyingKey;
use tokio::sync::Semaphore;

use super::auth::KeyRing;
use crate::query::files::discover;
use crate::query::format::Format;
use crate::query::progress::Progress;
use crate::query::reports::{
    authfail, read_people, run_report, ApinodeReport, AuthfailReport, CruKey, CruReport,
    ExportsReport, GapsReport, LastActivityReport, Report, UsageReport, REPORT_NAMES,
};
use newest::Source;
use params::{BadParam, ReadParams};
use seals::SealCache;

/// Reads running at once; more wait (see [`QUEUE_WAIT`]).
pub const MAX_READERS: usize = 2;
/// How long a read waits for its turn before `503`.
pub const QUEUE_WAIT: Duration = Duration::from_secs(30);

/// A destination that can be read.
pub(crate) struct Readable {
    source: Source,
    /// Whether it seals its files, and the key to check them with.
    integrity: Option<Option<VerifyingKey>>,
}

/// What the read routes share.
pub(crate) struct ReadApi {
    keys: KeyRing,
    destinations: Vec<Readable>,
    people: Option<PathBuf>,
    permits: Arc<Semaphore>,
    seals: SealCache,
}

impl ReadApi {
    /// The read side of a server: its read keys and filesystem destinations.
    pub(crate) fn new(
        config: &super::config::ServerConfig,
        keys: &super::config::ResolvedKeys,
    ) -> ReadApi {
        let destinations = config
            .destinations
            .iter()
            .zip(&keys.integrity)
            .filter_map(|(d, integrity)| {
                Some(Readable {
                    source: Source {
                        name: d.name.clone(),
                        root: d.root()?.to_path_buf(),
                    },
                    integrity: integrity
                        .as_ref()
                        .map(|i| i.signing_key.as_ref().map(|k| k.verifying_key())),
                })
            })
            .collect();
        ReadApi {
            keys: KeyRing::new(&keys.read),
            destinations,
            people: config.people.clone(),
            permits: Arc::new(Semaphore::new(MAX_READERS)),
            seals: SealCache::default(),
        }
    }

    fn refusal(&self, headers: &HeaderMap) -> Option<Response> {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if self.keys.check(presented).is_some() {
            return None;
        }
        let mut r = json_error(StatusCode::UNAUTHORIZED, "missing or invalid read key");
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        Some(r)
    }

    /// The sources a request reads (`destination=` names, else all).
    fn sources(&self, names: &[String]) -> Result<Vec<(usize, Source)>, Refusal> {
        if names.is_empty() {
            return Ok(self
                .destinations
                .iter()
                .enumerate()
                .map(|(i, d)| (i, d.source.clone()))
                .collect());
        }
        let mut out = Vec::new();
        for name in names {
            match self
                .destinations
                .iter()
                .position(|d| &d.source.name == name)
            {
                Some(i) if !out.iter().any(|(j, _)| *j == i) => {
                    out.push((i, self.destinations[i].source.clone()))
                }
                Some(_) => {}
                None => {
                    let known: Vec<&str> = self
                        .destinations
                        .iter()
                        .map(|d| d.source.name.as_str())
                        .collect();
                    return Err(refusal(
                        StatusCode::NOT_FOUND,
                        format!(
                            "destination `{name}`: no filesystem destination of that name (readable: {})",
                            known.join(", ")
                        ),
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// `GET /api/events`.
pub(crate) async fn get_events(
    api: Arc<ReadApi>,
    headers: HeaderMap,
    query: Option<String>,
) -> Response {
    if let Some(r) = api.refusal(&headers) {
        return r;
    }
    let params = match params::parse(query.as_deref(), &["limit", "cursor", "annotate"]) {
        Ok(p) => p,
        Err(BadParam(m)) => return json_error(StatusCode::BAD_REQUEST, m),
    };
    let cursor = match params
        .cursor
        .as_deref()
        .map(newest::decode_cursor)
        .transpose()
    {
        Ok(c) => c,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let sources = match api.sources(&params.destinations) {
        Ok(s) => s,
        Err((status, message)) => return json_error(status, message),
    };
    let worker = Arc::clone(&api);
    off_the_workers(&api, move || {
        let (indexes, sources): (Vec<usize>, Vec<Source>) = sources.into_iter().unzip();
        let limit = params.limit.unwrap_or(100);
        let page = match newest::newest(&sources, &params.filter, limit, cursor.as_ref()) {
            Ok(p) => p,
            Err(e) => {
                return json_error(StatusCode::INTERNAL_SERVER_ERROR, format!("reading: {e}"))
            }
        };
        let mut body = Vec::with_capacity(page.lines.iter().map(|l| l.line.len() + 1).sum());
        for found in &page.lines {
            if params.annotate {
                let readable = &worker.destinations[indexes[found.source]];
                let state = match &readable.integrity {
                    None => seals::SealState::None,
                    Some(key) => worker.seals.state(
                        &found.path,
                        found.offset,
                        found.line.len(),
                        key.as_ref(),
                    ),
                };
                let annotated = serde_json::json!({
                    "destination": readable.source.name,
                    "file": found.file,
                    "offset": found.offset,
                    "topic": found.topic,
                    "routingKey": found.routing_key.clone().flatten(),
                    "integrity": state.as_str(),
                });
                // The stored line goes in as it is (it parsed as JSON), after the other keys.
                let mut text = annotated.to_string();
                text.pop();
                let _ = write!(body, "{text},\"line\":{}}}", found.line);
            } else {
                body.extend_from_slice(found.line.as_bytes());
            }
            body.push(b'\n');
        }
        let mut r = (StatusCode::OK, body).into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-ndjson"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(next) = page
            .next
            .as_deref()
            .and_then(|n| HeaderValue::from_str(n).ok())
        {
            h.insert("x-next-cursor", next);
        }
        h.insert("x-scanned-bytes", HeaderValue::from(page.scanned));
        h.insert("x-malformed-lines", HeaderValue::from(page.malformed));
        h.insert("x-skipped-files", HeaderValue::from(page.skipped.len()));
        r
    })
    .await
}

/// `GET /api/reports/<name>`.
pub(crate) async fn get_report(
    api: Arc<ReadApi>,
    name: String,
    headers: HeaderMap,
    query: Option<String>,
) -> Response {
    if let Some(r) = api.refusal(&headers) {
        return r;
    }
    let extra: &[&str] = match name.as_str() {
        "usage" => &["period"],
        "cru" => &["by"],
        "authfail" => &["burst", "window"],
        n if REPORT_NAMES.contains(&n) => &[],
        _ => {
            return json_error(
                StatusCode::NOT_FOUND,
                format!("no report `{name}` (reports: {})", REPORT_NAMES.join(", ")),
            )
        }
    };
    let params = match params::parse(query.as_deref(), extra) {
        Ok(p) => p,
        Err(BadParam(m)) => return json_error(StatusCode::BAD_REQUEST, m),
    };
    let report = match build_report(&name, &params, api.people.as_deref()) {
        Ok(r) => r,
        Err((status, message)) => return json_error(status, message),
    };
    let sources = match api.sources(&params.destinations) {
        Ok(s) => s,
        Err((status, message)) => return json_error(status, message),
    };
    off_the_workers(&api, move || {
        let roots: Vec<PathBuf> = sources
            .into_iter()
            .map(|(_, s)| s.root)
            .filter(|r| r.exists())
            .collect();
        let files = match discover(&roots) {
            Ok(f) => f,
            Err(e) => {
                return json_error(StatusCode::INTERNAL_SERVER_ERROR, format!("reading: {e}"))
            }
        };
        let mut report = report;
        let summary = run_report(
            &files,
            &params.filter,
            &mut report,
            &Progress::hidden(),
            |_| {},
        );
        let name = report.name();
        let mut rows = Vec::new();
        if let Err(e) = report.write(&mut rows, Format::Ndjson) {
            return json_error(StatusCode::INTERNAL_SERVER_ERROR, format!("writing: {e}"));
        }
        let mut body = Vec::with_capacity(rows.len() + 256);
        let _ = write!(body, "{{\"report\":\"{name}\",\"rows\":[");
        for (i, row) in rows
            .split(|b| *b == b'\n')
            .filter(|r| !r.is_empty())
            .enumerate()
        {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(row);
        }
        let read = serde_json::json!({
            "files": summary.files,
            "records": summary.records,
            "malformed": summary.malformed,
            "torn": summary.torn,
            "ioErrors": summary.io_errors,
            "bytes": summary.bytes,
        });
        let _ = write!(body, "],\"read\":{read}}}");
        let mut r = (StatusCode::OK, body).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    })
    .await
}

fn build_report(
    name: &str,
    params: &ReadParams,
    people: Option<&std::path::Path>,
) -> Result<Report, Refusal> {
    Ok(match name {
        "last-activity" => Report::LastActivity(LastActivityReport::default()),
        "exports" => Report::Exports(ExportsReport::default()),
        "apinode" => Report::Apinode(ApinodeReport::default()),
        "gaps" => Report::Gaps(GapsReport::new("local", params.filter.until)),
        "usage" => Report::Usage(UsageReport::new(params.period.unwrap_or_default(), "local")),
        "authfail" => Report::Authfail(AuthfailReport::new(
            params.burst.unwrap_or(authfail::DEFAULT_BURST),
            params.window.unwrap_or(authfail::DEFAULT_WINDOW),
        )),
        "cru" => {
            let by = params.by.unwrap_or(CruKey::User);
            let people = match (people, by) {
                (Some(path), _) => read_people(path).map_err(|e| {
                    refusal(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("the server's people CSV: {e}"),
                    )
                })?,
                (None, CruKey::Department) => {
                    return Err(refusal(
                        StatusCode::BAD_REQUEST,
                        "by: department needs the server's `people` CSV (user,department) in its config",
                    ))
                }
                (None, _) => Default::default(),
            };
            Report::Cru(CruReport::new(by, people), by)
        }
        _ => unreachable!("names checked by the caller"),
    })
}

/// Runs `read` on a thread of its own at a lower priority, once one of the [`MAX_READERS`]
/// permits is free (or answers `503` after [`QUEUE_WAIT`]).
async fn off_the_workers(
    api: &ReadApi,
    read: impl FnOnce() -> Response + Send + 'static,
) -> Response {
    let permit =
        match tokio::time::timeout(QUEUE_WAIT, Arc::clone(&api.permits).acquire_owned()).await {
            Ok(Ok(p)) => p,
            _ => {
                let mut r = json_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "too many reads at once; retry",
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                return r;
            }
        };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("event-server-read".into())
        .spawn(move || {
            lower_priority();
            let _ = tx.send(read());
            drop(permit);
        });
    if let Err(e) = spawned {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("cannot start a reader: {e}"),
        );
    }
    rx.await.unwrap_or_else(|_| {
        json_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the read stopped unexpectedly",
        )
    })
}

/// Nice 10 for this thread (and the threads it starts): ingest keeps the CPU it needs.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on the calling thread's own id; no memory is passed.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

/// A refusal's status and message (kept small: a `Response` is too big for an `Err`).
type Refusal = (StatusCode, String);

fn refusal(status: StatusCode, message: impl Into<String>) -> Refusal {
    (status, message.into())
}

fn json_error(status: StatusCode, message: impl AsRef<str>) -> Response {
    let body = serde_json::json!({ "error": message.as_ref() }).to_string();
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}
