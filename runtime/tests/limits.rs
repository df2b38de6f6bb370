#![allow(clippy::unwrap_used)]

//! Operating under faults (SPEC §5.7): a request deadline, `/readyz` beside `/healthz`, and a
//! database that goes away answering 503 `DATABASE_UNAVAILABLE` with `Retry-After`, then
//! recovering by itself — over real sockets, with a proxy in front of Postgres that the test
//! cuts and restores.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::ir::*;
use common::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use ward_test_macros::backends;

fn project() -> ward_ir::Ir {
    ir(vec![notes_table()])
}

#[backends]
async fn readyz_asks_the_database_and_healthz_does_not() {
    let s = start(project()).await;
    let r = s.req("GET", "/readyz", None, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "ready");
    assert_eq!(s.req("GET", "/healthz", None, None).await.status, 200);
}

/// A body that stops arriving is abandoned at the request's deadline: 504 `TIMEOUT`.
#[tokio::test]
async fn a_request_past_its_deadline_answers_504() {
    let s = start_with(project(), |o| {
        o.limits.request_deadline = Duration::from_millis(300);
    })
    .await;
    let member = s.token("u1", &["member"], None);
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/notes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {member}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"title\":"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
            if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer within 5 s");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 504"), "{answer}");
    assert!(answer.contains(r#""code":"TIMEOUT""#), "{answer}");
    assert_eq!(
        s.req("GET", "/api/notes", Some(&member), None).await.status,
        200
    );
}

/// A TCP proxy to Postgres that the test can cut (every connection dropped, new ones refused)
/// and restore.
struct Proxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    connections: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn to(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let connections = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (flag, kept) = (up.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !flag.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused
                }
                let forward = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                kept.lock().unwrap().push(forward);
            }
        });
        Proxy {
            addr,
            up,
            connections,
        }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for c in self.connections.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// `postgres://user@host:port/db?…` with `host:port` replaced by `addr`.
fn through(url: &str, addr: SocketAddr) -> String {
    let at = url.find('@').map_or("postgres://".len(), |i| i + 1);
    let end = url[at..].find('/').map_or(url.len(), |i| at + i);
    format!("{}{addr}{}", &url[..at], &url[end..])
}

fn target(url: &str) -> SocketAddr {
    let at = url.find('@').map_or("postgres://".len(), |i| i + 1);
    let end = url[at..].find('/').map_or(url.len(), |i| at + i);
    let host = &url[at..end];
    let host = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    };
    std::net::ToSocketAddrs::to_socket_addrs(&host.replace("localhost", "127.0.0.1"))
        .unwrap()
        .next()
        .unwrap()
}

#[tokio::test]
async fn a_postgres_outage_answers_503_unavailable_and_recovers_by_itself() {
    if db::postgres_url().is_none() {
        eprintln!("skipped: WARD_TEST_POSTGRES_URL is not set, so this Postgres test does not run");
        return;
    }
    let schema = db::PgSchema::create();
    let proxy = Proxy::to(target(&schema.url)).await;
    let url = through(&schema.url, proxy.addr);
    let s = start_with(project(), move |o| o.database_url = url).await;
    let member = s.token("u1", &["member"], None);
    let id = id_str(&s.create("notes", &member, json!({"title": "before"})).await);

    proxy.cut();
    for (method, path, body) in [
        ("GET", "/api/notes".to_owned(), None),
        ("GET", format!("/api/notes/{id}"), None),
        (
            "POST",
            "/api/notes".to_owned(),
            Some(json!({"title": "during"})),
        ),
    ] {
        let r = s.req(method, &path, Some(&member), body).await;
        assert_eq!(r.status, 503, "{method} {path}: {}", r.text);
        assert_eq!(r.json()["code"], "DATABASE_UNAVAILABLE", "{method} {path}");
        assert_eq!(r.headers["retry-after"], "1");
    }
    let r = s.req("GET", "/readyz", None, None).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.json()["code"], "DATABASE_UNAVAILABLE");
    assert_eq!(s.req("GET", "/healthz", None, None).await.status, 200);

    proxy.restore();
    let r = s.req("GET", "/readyz", None, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s.req("GET", "/api/notes", Some(&member), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["data"].as_array().map(Vec::len),
        Some(1),
        "nothing written during it"
    );
}
