#![allow(clippy::unwrap_used)]

//! Browsers and operators (SPEC §5.1): CORS for the allowed origins only, preflights answered
//! before the pipeline, and an `x-request-id` on every answer.

use crate::common;

use common::ir::*;
use common::*;
use ward_runtime::Cors;

fn project(cors: &[&str], hash: &str) -> ward_ir::Ir {
    let mut ir = ir(vec![notes_table()]);
    ir.server.cors = cors.iter().map(|o| o.to_string()).collect();
    ir.hash = hash.into();
    ir
}

/// `method path` with `headers`, no token.
async fn send(s: &Server, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut r = s.client.request(m, format!("{}{path}", s.base));
    for (name, value) in headers {
        r = r.header(*name, *value);
    }
    let res = r.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    Resp {
        status,
        text: res.text().await.unwrap(),
        headers,
    }
}

async fn preflight(s: &Server, origin: &str) -> Resp {
    send(
        s,
        "OPTIONS",
        "/api/notes",
        &[
            ("Origin", origin),
            ("Access-Control-Request-Method", "POST"),
            (
                "Access-Control-Request-Headers",
                "authorization, content-type",
            ),
        ],
    )
    .await
}

fn allowed_origin(r: &Resp) -> Option<&str> {
    r.headers
        .get("access-control-allow-origin")
        .and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn serve_allows_the_projects_origins_and_no_others() {
    let s = start(project(&["https://app.example"], "v1")).await;
    // A preflight never reaches the pipeline: no token, yet 204, not 401.
    let r = preflight(&s, "https://app.example").await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(r.text.is_empty());
    assert_eq!(allowed_origin(&r), Some("https://app.example"));
    let methods = r.headers["access-control-allow-methods"].to_str().unwrap();
    for m in ["GET", "POST", "PATCH", "PUT", "DELETE"] {
        assert!(methods.contains(m), "{methods}");
    }
    let headers = r.headers["access-control-allow-headers"].to_str().unwrap();
    for h in [
        "authorization",
        "content-type",
        "if-none-match",
        "last-event-id",
    ] {
        assert!(headers.contains(h), "{headers}");
    }

    for foreign in [
        "https://evil.example",
        "https://app.example.evil.com",
        "http://app.example",
        "http://localhost:3000",
    ] {
        let r = preflight(&s, foreign).await;
        assert_eq!(allowed_origin(&r), None, "{foreign} was allowed");
    }

    // A real request from the page: the answer is the pipeline's, readable by the page.
    let member = s.token("u1", &["member"], None);
    let auth = format!("Bearer {member}");
    let r = send(
        &s,
        "GET",
        "/api/notes",
        &[("Origin", "https://app.example"), ("Authorization", &auth)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(allowed_origin(&r), Some("https://app.example"));
    let exposed = r.headers["access-control-expose-headers"].to_str().unwrap();
    assert!(exposed.contains("x-request-id"), "{exposed}");
    assert!(exposed.contains("etag"), "{exposed}");
    // A route with path parameters, from a page: routed once, answered as without the page.
    let id = id_str(
        &s.create("notes", &member, serde_json::json!({"title": "t"}))
            .await,
    );
    let r = send(
        &s,
        "GET",
        &format!("/api/notes/{id}"),
        &[("Origin", "https://app.example"), ("Authorization", &auth)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["data"]["title"], "t");
    let r = send(
        &s,
        "GET",
        "/api/notes",
        &[("Origin", "https://evil.example")],
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(allowed_origin(&r), None);
}

#[tokio::test]
async fn a_reload_changes_the_allowed_origins_at_once() {
    let s = start(project(&[], "v1")).await;
    assert_eq!(
        allowed_origin(&preflight(&s, "https://new.example").await),
        None
    );
    s.app
        .reload(project(&["https://new.example"], "v2"), false)
        .await
        .unwrap();
    assert_eq!(
        allowed_origin(&preflight(&s, "https://new.example").await),
        Some("https://new.example")
    );
}

#[tokio::test]
async fn dev_allows_loopback_pages_on_any_port_and_options_add_origins() {
    let s = start_with(project(&[], "v1"), |o| {
        o.cors = Cors {
            origins: vec!["https://staging.example".into()],
            loopback: true,
        }
    })
    .await;
    for ok in [
        "http://localhost:5173",
        "http://127.0.0.1:3000",
        "http://localhost",
        "https://staging.example",
    ] {
        assert_eq!(allowed_origin(&preflight(&s, ok).await), Some(ok), "{ok}");
    }
    for bad in [
        "http://localhost.evil.com",
        "http://localhost:3000.evil.com",
        "https://localhost:5173",
        "null",
    ] {
        assert_eq!(allowed_origin(&preflight(&s, bad).await), None, "{bad}");
    }
}

#[tokio::test]
async fn every_answer_carries_a_request_id_kept_from_the_client_when_sane() {
    let s = start(project(&[], "v1")).await;
    for path in ["/healthz", "/api/notes", "/api/nope", "/openapi.json"] {
        let r = send(&s, "GET", path, &[]).await;
        let id = r.headers["x-request-id"].to_str().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{path}: {id}");
    }
    let r = send(
        &s,
        "GET",
        "/api/notes",
        &[("X-Request-Id", "client-trace.7")],
    )
    .await;
    assert_eq!(r.headers["x-request-id"], "client-trace.7");
    let long = "x".repeat(500);
    for insane in ["has space", "semi;colon", long.as_str()] {
        let r = send(&s, "GET", "/api/notes", &[("X-Request-Id", insane)]).await;
        let id = r.headers["x-request-id"].to_str().unwrap();
        assert_ne!(id, insane);
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    }
    let r = preflight(&s, "https://evil.example").await;
    assert!(r.headers.contains_key("x-request-id"));
}

/// SPEC §5.7: every answer uses the error envelope, a method a route does not serve included
/// (axum's own 405 had no body); `Allow` still names the methods it does serve.
#[tokio::test]
async fn a_method_a_route_does_not_serve_answers_the_envelope() {
    let s = start(project(&[], "v1")).await;
    for (method, path) in [
        ("DELETE", "/healthz"),
        ("POST", "/openapi.json"),
        ("DELETE", "/api/notes"),
        ("POST", "/api/notes/0191c0de-0000-7000-8000-000000000000"),
        ("OPTIONS", "/api/notes"),
    ] {
        let r = send(&s, method, path, &[]).await;
        assert_eq!(r.status, 405, "{method} {path}: {}", r.text);
        assert_eq!(r.json()["code"], "METHOD_NOT_ALLOWED", "{method} {path}");
        assert_eq!(r.json()["layer"], "server");
        assert!(
            r.headers.contains_key("allow"),
            "{method} {path}: {:?}",
            r.headers
        );
        assert!(r.headers.contains_key("x-request-id"));
    }
}
