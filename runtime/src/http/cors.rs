//! CORS (SPEC §5.1 "Browsers and operators"): which browser origins may call the API.
//!
//! `ward dev` allows any `http://localhost:*` and `http://127.0.0.1:*` page; `ward serve` allows
//! the project's `server { cors … }` origins and `--cors-origin`, and no others. The project's
//! list is read from the IR being served, so a reload changes it at once. A preflight is answered
//! here with the allowed methods and headers (a 204: `edge::around`) and never reaches the
//! pipeline; an origin that is not allowed gets no `Access-Control-Allow-Origin`, which the
//! browser enforces.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::request::Shared;

/// Origins a server allows besides the project's own list.
#[derive(Debug, Clone, Default)]
pub struct Cors {
    /// Exact origins (`scheme://host[:port]`), or `*`.
    pub origins: Vec<String>,
    /// Any `http://localhost[:port]`, `http://127.0.0.1[:port]` or `http://[::1][:port]`
    /// (`ward dev`).
    pub loopback: bool,
}

/// Headers a browser may send beyond the CORS-safelisted ones.
const ALLOWED_HEADERS: [HeaderName; 6] = [
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    header::IF_NONE_MATCH,
    header::IF_MATCH,
    HeaderName::from_static("last-event-id"),
    HeaderName::from_static("x-request-id"),
];

/// Response headers a page's script may read.
const EXPOSED_HEADERS: [HeaderName; 3] = [
    header::ETAG,
    header::RETRY_AFTER,
    HeaderName::from_static("x-request-id"),
];

/// Browsers may cache a preflight's answer this long.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The layer for requests that carry an `Origin` (`edge` sends the others past it).
pub(crate) fn layer(state: Shared) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            allowed(&state, origin)
        }))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PATCH,
            Method::PUT,
            Method::DELETE,
        ])
        .allow_headers(ALLOWED_HEADERS)
        .expose_headers(EXPOSED_HEADERS)
        .max_age(PREFLIGHT_MAX_AGE)
}

fn allowed(state: &Shared, origin: &HeaderValue) -> bool {
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let configured = &state.options.cors;
    if configured.loopback && is_loopback(origin) {
        return true;
    }
    let serving = state.current();
    let listed = |list: &[String]| list.iter().any(|o| o == "*" || o == origin);
    listed(&configured.origins) || listed(&serving.snapshot.ir.server.cors)
}

/// `http://localhost`, `http://127.0.0.1` or `http://[::1]`, with any port or none.
fn is_loopback(origin: &str) -> bool {
    let Some(rest) = origin.strip_prefix("http://") else {
        return false;
    };
    let host = ["localhost", "127.0.0.1", "[::1]"]
        .into_iter()
        .find(|h| rest.starts_with(h));
    let Some(host) = host else {
        return false;
    };
    match &rest[host.len()..] {
        "" => true,
        port => port
            .strip_prefix(':')
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())),
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn only_loopback_http_origins_are_loopback() {
        for ok in [
            "http://localhost",
            "http://localhost:3000",
            "http://127.0.0.1:5173",
            "http://[::1]:8000",
        ] {
            assert!(is_loopback(ok), "{ok}");
        }
        for bad in [
            "https://localhost:3000",
            "http://localhost.evil.com",
            "http://localhost:3000.evil.com",
            "http://127.0.0.1.nip.io",
            "http://localhost:",
            "http://evil.com",
            "null",
        ] {
            assert!(!is_loopback(bad), "{bad}");
        }
    }
}
