//! Request ids and the one log line per request (SPEC §5.1 "Browsers and operators").
//!
//! Every response carries `x-request-id`: the client's own when it is sane (short, printable,
//! no spaces), else a new UUID. Every request is logged once, after its answer, at target
//! `ward::request`: method, path with the query's names but not its values, status, duration and
//! request id — never a token or a body, since query values and bodies may hold secrets. Whether
//! the line is written is the subscriber's business (`ward dev` on, `ward serve --log-requests`,
//! or `RUST_LOG=ward::request=info`); when it is off the line is not even formatted.

use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderName, Uri};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest request id kept from a client.
const MAX_CLIENT_ID: usize = 128;
/// The logged path is cut here: a log line stays a line.
const MAX_LOGGED_PATH: usize = 512;

/// Drops a client's request id that could not be logged safely; tower-http's request-id layer
/// then makes a new one.
pub(crate) async fn drop_insane_request_id(mut request: Request, next: Next) -> Response {
    let sane = request.headers().get(&REQUEST_ID).is_none_or(|id| {
        let id = id.as_bytes();
        !id.is_empty()
            && id.len() <= MAX_CLIENT_ID
            && id
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(b))
    });
    if !sane {
        request.headers_mut().remove(&REQUEST_ID);
    }
    next.run(request).await
}

/// Runs the request inside a span naming its id (so anything logged while it runs names it
/// too), then logs its one line.
pub(crate) async fn log(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    if !tracing::enabled!(target: "ward::request", tracing::Level::INFO) {
        return next.run(request).await;
    }
    let method = request.method().clone();
    let path = logged_path(request.uri());
    let started = Instant::now();
    let span = tracing::info_span!(target: "ward::request", "request", id = %id);
    let response = next.run(request).instrument(span).await;
    tracing::info!(
        target: "ward::request",
        "{method} {path} {} {:.1} ms id={id}",
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0,
    );
    response
}

/// The path, and the names of the query's parameters without their values.
fn logged_path(uri: &Uri) -> String {
    let mut out = uri.path().to_owned();
    if let Some(query) = uri.query() {
        let names: Vec<&str> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| p.split_once('=').map_or(p, |(name, _)| name))
            .collect();
        out.push('?');
        out.push_str(&names.join("&"));
    }
    if out.len() > MAX_LOGGED_PATH {
        let mut cut = MAX_LOGGED_PATH;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::logged_path;

    #[test]
    fn query_values_are_never_logged() {
        let uri = "/api/tasks?isDone=false&title.like=secret&ticket=abc&flag"
            .parse()
            .unwrap();
        assert_eq!(
            logged_path(&uri),
            "/api/tasks?isDone&title.like&ticket&flag"
        );
        assert_eq!(
            logged_path(&"/api/tasks/1".parse().unwrap()),
            "/api/tasks/1"
        );
    }
}
