//! The viewer page, `GET /ui/`: a compliance officer's window on the trail, served by the Event
//! Server itself from files compiled into the binary (`include_str!`: no build step, nothing
//! to deploy beside the binary, no CDN, no web fonts).
//!
//! The page (`ui/index.html`, `ui/app.js`, `ui/style.css`; plain HTML, CSS and ES2020, no
//! framework) asks for a read key and calls the read API with it (`/api/events`,
//! `/api/reports/<name>`): a search over the stored lines, newest first, paged with the API's
//! cursor, each line with the integrity state of its file; and the reports (last activity,
//! exports and reads by code, usage per node, compute resource usage, API-node services,
//! authentication failure bursts) as tables. This module only serves the files: every answer
//! with data comes from the read API, which checks the key on each request, so the page itself
//! holds no secret and needs no authentication.
//!
//! Security choices, because the events are attacker-controlled text (any node with an event
//! key chooses their content) and the reader holds a key to the whole trail:
//!
//! - **Data is only ever text.** The script inserts every value with `textContent` (never
//!   `innerHTML`), so a field holding `<img src=x onerror=…>` or `</script>` shows as those
//!   characters and creates no element.
//! - **A strict `Content-Security-Policy`** ([`CSP`]): scripts and styles only from these
//!   files (no inline script, no `eval`, no inline style), requests only to this origin, and
//!   no framing (`frame-ancestors 'none'`, against clickjacking). Were an injection to slip
//!   through, it could neither run nor send the key elsewhere.
//! - **The key lives in `sessionStorage` only**: scoped to the tab, gone when it closes; never
//!   `localStorage`, a cookie (so no CSRF) or the URL (which logs and `Referer` would leak).
//!   It travels as `Authorization: Bearer`; a `401` forgets it and asks again.
//! - `Cache-Control: no-store` (a shared machine's cache keeps nothing, and a new binary's page
//!   is never mixed with an old script), `X-Content-Type-Options: nosniff` (each file is only
//!   what its `Content-Type` says), `Referrer-Policy: no-referrer`.
//!
//! `/ui` redirects to `/ui/` (so the page's relative links resolve under `/ui/`); any other
//! name under `/ui/` is `404`.

use axum::extract::Path;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The page's `Content-Security-Policy`: everything from this origin only, nothing inline,
/// never framed. `img-src data:` is for the page's own icon.
pub(crate) const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'self'";

/// The files under `/ui/`: name, content type, content. `""` is the page itself (`/ui/`).
const FILES: [(&str, &str, &str); 3] = [
    (
        "",
        "text/html; charset=utf-8",
        include_str!("ui/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("ui/app.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("ui/style.css"),
    ),
];

/// The routes `/ui`, `/ui/` and `/ui/{file}`, for the server to merge into its router before
/// its state is set (they need none, so any state type fits).
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/ui", get(redirect))
        .route("/ui/", get(|| async { file("") }))
        .route(
            "/ui/{file}",
            get(|Path(name): Path<String>| async move { file(&name) }),
        )
}

/// `/ui` → `/ui/`: relative to `/ui`, the page's `app.js` would be `/app.js`.
async fn redirect() -> Response {
    let mut r = StatusCode::PERMANENT_REDIRECT.into_response();
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static("/ui/"));
    secure(r)
}

/// One of [`FILES`], or a plain-text `404`.
fn file(name: &str) -> Response {
    let r = match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => {
            ([(header::CONTENT_TYPE, *content_type)], *body).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "not found\n",
        )
            .into_response(),
    };
    secure(r)
}

/// The headers every `/ui` answer carries, its `404`s and redirect included (a browser applies
/// them to whatever it renders).
fn secure(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // For browsers that predate `frame-ancestors`.
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower_service::Service;

    async fn get(path: &str) -> (StatusCode, axum::http::HeaderMap, String) {
        let mut router: Router = routes::<()>();
        let r = router
            .call(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let (parts, body) = r.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        (
            parts.status,
            parts.headers,
            String::from_utf8(bytes.to_vec()).unwrap(),
        )
    }

    fn assert_secure(path: &str, h: &axum::http::HeaderMap) {
        assert_eq!(h["cache-control"], "no-store", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        for d in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "img-src 'self' data:",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.split("; ").any(|x| x == d), "{path}: {csp} lacks {d}");
        }
        assert!(!csp.contains("unsafe"), "{csp}");
    }

    #[tokio::test]
    async fn each_file_has_its_content_type_and_the_security_headers() {
        for (path, ct, needle) in [
            ("/ui/", "text/html; charset=utf-8", "<script src=\"app.js\""),
            (
                "/ui/app.js",
                "text/javascript; charset=utf-8",
                "sessionStorage",
            ),
            ("/ui/style.css", "text/css; charset=utf-8", "body"),
        ] {
            let (status, h, body) = get(path).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert_eq!(h["content-type"], ct, "{path}");
            assert_secure(path, &h);
            assert!(body.contains(needle), "{path}");
        }
    }

    #[tokio::test]
    async fn ui_redirects_to_ui_slash_and_unknown_names_are_404() {
        let (status, h, _) = get("/ui").await;
        assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
        assert_eq!(h["location"], "/ui/");
        assert_secure("/ui", &h);
        for path in [
            "/ui/x",
            "/ui/index.html",
            "/ui/..%2Fapp.js",
            "/ui/app.js%00",
        ] {
            let (status, h, body) = get(path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
            assert_eq!(h["content-type"], "text/plain; charset=utf-8", "{path}");
            assert_secure(path, &h);
            assert_eq!(body, "not found\n");
        }
        let (status, _, _) = get("/ui/a/b").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    /// The page's own files keep to the policy: no inline script or style, no `innerHTML`,
    /// nothing loaded from elsewhere, the key never in `localStorage`.
    #[test]
    fn the_files_need_nothing_the_policy_forbids() {
        let html = FILES[0].2;
        let js = FILES[1].2;
        let css = FILES[2].2;
        assert_eq!(html.matches("<script").count(), 1);
        assert!(html.contains("<script src=\"app.js\" defer></script>"));
        for bad in [" style=", "<style", " onclick", " onload", "javascript:"] {
            assert!(!html.contains(bad), "index.html has {bad}");
        }
        for bad in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
            "localStorage",
            "setAttribute('style'",
        ] {
            assert!(!js.contains(bad), "app.js has {bad}");
        }
        for text in [html, js, css] {
            assert!(!text.contains("http://") && !text.contains("https://"));
            assert!(!text.contains("@import") && !text.contains("url("));
        }
    }
}
