//! Accepting and keeping connections (SPEC §5.7 "Connections"): what stops idle, slow and too
//! many clients from taking the server offline without sending a single request.
//!
//! - hyper's header read timeout closes a connection whose request head has not arrived in
//!   time. hyper starts it when the connection opens and again when an answer has been written,
//!   so it bounds the wait for a keep-alive connection's next request as well: an idle
//!   connection lives at most that long (docs/decisions.md, "Idle connections").
//! - A request body that sends nothing for [`Limits::body_stall`] fails (tower-http's
//!   `TimeoutBody`), and the request deadline bounds the whole body's arrival, so a slow body
//!   holds its memory for at most the deadline.
//! - At [`Limits::max_connections`] open connections (fewer if the open-files limit is lower)
//!   the server stops accepting: new connections wait in the kernel's backlog (and are refused
//!   when it is full) while the connections already open are served as before.
//! - The soft limit on open files is raised to the hard limit at start, as Go's runtime does:
//!   the common soft limit of 1,024 is otherwise reached long before the connection cap.
//!
//! HTTP/1.1 only: browsers speak HTTP/2 only over TLS, which a proxy in front terminates, and
//! cleartext HTTP/2 has no header timeout in hyper.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

use crate::Limits;

/// Accepts connections on `listener` and serves `router` on each until `stop` completes; then
/// stops accepting and returns the open connections, for the caller to drain.
pub(crate) async fn accept(
    router: Router,
    mut listener: TcpListener,
    limits: &Limits,
    stop: impl Future<Output = ()>,
) -> GracefulShutdown {
    let open = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(connection_cap(limits.max_connections)));
    let stall = limits.body_stall;
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    tokio::pin!(stop);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                // The semaphore is never closed.
                Err(_) => break,
            },
            () = &mut stop => break,
        };
        let (tcp, peer) = tokio::select! {
            accepted = axum::serve::Listener::accept(&mut listener) => accepted,
            () = &mut stop => break,
        };
        let service = router
            .clone()
            .map_request(move |request: axum::http::Request<Incoming>| {
                let mut request = request.map(|body| Body::new(TimeoutBody::new(stall, body)));
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            });
        let connection =
            open.watch(http.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service)));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("connection from {peer}: {e}");
            }
            drop(slot);
        });
    }
    open
}

/// Descriptors kept for everything but client connections: database connections and files,
/// the listener, logs.
const RESERVED_FILES: u64 = 128;

/// The configured cap, lowered to what the open-files limit allows: past it `accept` would fail
/// with EMFILE, and the process could not open its database files either.
fn connection_cap(configured: usize) -> usize {
    let files = rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(u64::MAX, |(soft, _)| soft);
    let allowed = usize::try_from(files.saturating_sub(RESERVED_FILES)).unwrap_or(usize::MAX);
    if allowed < configured {
        tracing::warn!(
            "at most {allowed} connections: the open files limit is {files} (raise the hard limit, e.g. systemd's LimitNOFILE=)"
        );
    }
    configured.min(allowed).max(1)
}

/// Raises the soft limit on open files to the hard limit (Linux, macOS); what it could not do
/// is logged, and the server runs with the limit it has.
pub(crate) fn raise_open_files_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!("open files limit: {limit}"),
        Err(e) => tracing::warn!("could not raise the open files limit: {e}"),
    }
}
