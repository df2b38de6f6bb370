//! What every request passes through first and every answer last (SPEC §5.1 "Browsers and
//! operators"): its id, CORS for browsers, its deadline, the per-address rate limits
//! (`throttle.rs`), and its one log line.
//!
//! Every response carries `x-request-id`: the client's own when it is sane (short, printable,
//! no spaces), else a new UUID. A request with an `Origin` (a browser's) goes through the CORS
//! layer (`cors.rs`); one without — servers, apps, curl — cannot be a cross-origin browser call,
//! and skips it: the layer costs about a tenth of a read by id. Every request is logged once,
//! after its answer, at target `ward::request`: method, path with the query's names but not
//! its values, status, duration and request id — never a token or a body, since query values
//! and bodies may hold secrets. Whether the line is written is the subscriber's business
//! (`ward dev` on, `ward serve --log-requests`, or `RUST_LOG=ward::request=info`); when it is
//! off the line is not even formatted.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower::{Layer, ServiceExt};
use tower_http::cors::CorsLayer;
use tracing::Instrument;

use super::error::TokenRefused;

pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What the edge needs, built once with the router.
pub(crate) struct Edge {
    /// The CORS layer, for requests with an `Origin`.
    pub cors: CorsLayer,
    /// Every request's deadline (SPEC §5.7), its body's arrival included: past it the answer
    /// is 504 `TIMEOUT` and the request is abandoned. Work already handed to the database may
    /// still finish there.
    pub deadline: std::time::Duration,
    /// Refused tokens per client address (SPEC §5.7), when limited.
    pub failed_auth: Option<super::throttle::FailedAuthLimit>,
    /// Every request per client address (`rate-limit ip`), when limited.
    pub per_ip: Option<super::throttle::AddressLimit>,
}

/// Longest request id kept from a client.
const MAX_CLIENT_ID: usize = 128;
/// The logged path is cut here: a log line stays a line.
const MAX_LOGGED_PATH: usize = 512;

/// What CORS varies on, for the answers that skip the CORS layer as for those it answers.
const VARY: HeaderValue = HeaderValue::from_static(
    "origin, access-control-request-method, access-control-request-headers",
);

/// The request's id (kept from the client when sane, else new) on the request and the answer;
/// the CORS layer for a request with an `Origin`, none for one without; the 204 of a preflight
/// (the CORS layer answers every `OPTIONS` it sees itself, with an empty 200); the log line. One
/// layer rather than one per job: it runs on every request, the hottest path there is.
pub(crate) async fn around(
    State(edge): State<Arc<Edge>>,
    mut request: Request,
    next: Next,
) -> Response {
    let id = match request.headers().get(&REQUEST_ID) {
        Some(id) if sane(id.as_bytes()) => id.clone(),
        _ => {
            let id = new_id();
            request.headers_mut().insert(REQUEST_ID, id.clone());
            id
        }
    };
    let options = request.method() == Method::OPTIONS;
    let mut response = if tracing::enabled!(target: "ward::request", tracing::Level::INFO) {
        let method = request.method().clone();
        let path = logged_path(request.uri());
        let started = Instant::now();
        let shown = String::from_utf8_lossy(id.as_bytes()).into_owned();
        // Anything logged while the request runs names its id too.
        let span = tracing::info_span!(target: "ward::request", "request", id = %shown);
        let response = dispatch(&edge, request, next).instrument(span).await;
        tracing::info!(
            target: "ward::request",
            "{method} {path} {} {:.1} ms id={shown}",
            preflight_status(options, response.status()).as_u16(),
            started.elapsed().as_secs_f64() * 1000.0,
        );
        response
    } else {
        dispatch(&edge, request, next).await
    };
    *response.status_mut() = preflight_status(options, response.status());
    let headers = response.headers_mut();
    headers.insert(REQUEST_ID, id);
    headers.entry(header::VARY).or_insert(VARY);
    response
}

/// The rest of the way: through the CORS layer for a browser's request (the layer is built
/// around what is left of the pipeline only then: its configuration is not free to copy), past
/// it for any other.
async fn dispatch(edge: &Edge, request: Request, next: Next) -> Response {
    // In-process callers (tests, `ward test`) have no peer address and no limit.
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    // Health checks come from the load balancer, whose address is shared by nothing else.
    if let (Some(limit), Some(peer)) = (&edge.per_ip, peer)
        && !matches!(request.uri().path(), "/healthz" | "/readyz")
        && let Err(limited) = limit.take(peer)
    {
        return limited.into_response();
    }
    let response =
        match tokio::time::timeout(edge.deadline, through(&edge.cors, request, next)).await {
            Ok(response) => response,
            Err(_) => crate::error::ApiError::timeout().into_response(),
        };
    match (&edge.failed_auth, peer) {
        (Some(limit), Some(peer)) if response.extensions().get::<TokenRefused>().is_some() => {
            limit.judge(peer, response)
        }
        _ => response,
    }
}

async fn through(cors: &CorsLayer, request: Request, next: Next) -> Response {
    if request.headers().contains_key(header::ORIGIN) {
        match cors.layer(next).oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    } else {
        next.run(request).await
    }
}

/// An answer to `OPTIONS` is the CORS layer's empty 200: a 204.
fn preflight_status(options: bool, status: StatusCode) -> StatusCode {
    if options && status == StatusCode::OK {
        StatusCode::NO_CONTENT
    } else {
        status
    }
}

/// A client's id that can be logged and echoed safely: short, no spaces or controls.
fn sane(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_CLIENT_ID
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(b))
}

fn new_id() -> HeaderValue {
    let mut buf = uuid::Uuid::encode_buffer();
    let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
    // A hyphenated UUID is always a valid header value.
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("-"))
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
