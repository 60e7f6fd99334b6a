//! The web console: static HTML, CSS and JavaScript modules compiled into the binary and
//! served under `/console/` without a token (they hold no data; the pages call the API with
//! the session cookie). Every answer carries a strict `Content-Security-Policy` (scripts and
//! styles from this origin only, no inline script) and an `ETag`, revalidated on each use.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::http::ApiError;

/// The policy of every console answer: this origin only, no inline script or style, no
/// plugins, no framing, forms post here only.
pub(crate) const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// One embedded file.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $ty:expr) => {
        Asset {
            path: $path,
            content_type: $ty,
            body: include_bytes!(concat!("console/", $path)),
        }
    };
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

static ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("console.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("js/app.js", JS),
    asset!("js/api.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/live.js", JS),
    asset!("js/views/login.js", JS),
    asset!("js/views/overview.js", JS),
    asset!("js/views/incident.js", JS),
    asset!("js/views/anomaly.js", JS),
    asset!("js/views/alerts.js", JS),
    asset!("js/views/workflows.js", JS),
];

/// A strong validator of a file: FNV-1a (64 bits) of the version and the bytes.
fn etag(body: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in env!("CARGO_PKG_VERSION").as_bytes().iter().chain(body) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{h:016x}\"")
}

fn security_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// `GET /` and `GET /console`: to the console.
pub(crate) async fn root() -> Redirect {
    Redirect::to("/console/")
}

/// `GET /console/` (the page) and `GET /console/{path}` (its files).
pub(crate) async fn asset(path: Option<Path<String>>, request: HeaderMap) -> Response {
    let path = path.map_or_else(|| "index.html".to_string(), |Path(p)| p);
    let Some(a) = ASSETS.iter().find(|a| a.path == path) else {
        let mut r = ApiError(aiops_service::ServiceError::NotFound {
            kind: "console file".into(),
            id: path.chars().take(64).collect(),
        })
        .into_response();
        security_headers(r.headers_mut());
        return r;
    };
    let tag = etag(a.body);
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    let mut r = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, a.content_type)], a.body).into_response()
    };
    let h = r.headers_mut();
    security_headers(h);
    // Revalidated on each use: a new binary's files are picked up at once, an unchanged file
    // costs a 304.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_has_its_type_and_pages_load_only_listed_modules() {
        for a in ASSETS {
            let ext = a.path.rsplit('.').next().unwrap();
            let expected = match ext {
                "html" => HTML,
                "js" => JS,
                "css" => "text/css; charset=utf-8",
                "svg" => "image/svg+xml",
                _ => panic!("unexpected file {}", a.path),
            };
            assert_eq!(a.content_type, expected, "{}", a.path);
            let text = std::str::from_utf8(a.body).unwrap();
            // No inline script or handler: the policy would refuse them.
            assert!(!text.contains("onclick="), "{}", a.path);
            assert!(!text.contains("innerHTML"), "{}", a.path);
            // Every module imported is embedded.
            for line in text
                .lines()
                .filter(|l| l.trim_start().starts_with("import "))
            {
                let spec = line.split(['"', '\'']).nth(1).unwrap();
                let dir = a.path.rsplit_once('/').map_or("", |(d, _)| d);
                let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
                for seg in spec.split('/') {
                    match seg {
                        "." => {}
                        ".." => {
                            parts.pop();
                        }
                        s => parts.push(s),
                    }
                }
                let target = parts.join("/");
                assert!(
                    ASSETS.iter().any(|b| b.path == target),
                    "{} imports {spec} ({target}), which is not embedded",
                    a.path
                );
            }
        }
        assert_ne!(etag(b"a"), etag(b"b"));
    }
}
