#![allow(clippy::unwrap_used)]

use crate::common;

use ward_test_macros::backends;

use base64::Engine;
use common::ir::*;
use common::*;
use serde_json::json;
use ward_ir::Operation;

fn project(issuer: Option<&str>, audience: Option<&str>) -> ward_ir::Ir {
    let t = table("things")
        .text("name")
        .crud("member+")
        .access(Operation::List, rule("public"))
        .createable(&["name"])
        .updatable(&["name"])
        .build();
    let (i, a) = (issuer.map(String::from), audience.map(String::from));
    ir_with(vec![t], move |j| {
        j.issuer = i;
        j.audience = a;
    })
}

async fn code_of(s: &Server, token: &str) -> (u16, serde_json::Value) {
    let r = s.req("GET", "/api/things", Some(token), None).await;
    (r.status, r.json())
}

#[backends]
async fn missing_token_is_401_unless_public() {
    let s = start(project(None, None)).await;
    let r = s.req("GET", "/api/things", None, None).await;
    assert_eq!(r.status, 200, "list is public");
    let r = s
        .req("POST", "/api/things", None, Some(json!({"name": "x"})))
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["code"], "AUTH_MISSING");
    assert_eq!(r.json()["layer"], "auth");
    let r = s
        .req(
            "GET",
            "/api/things/01890000-0000-7000-8000-000000000000",
            None,
            None,
        )
        .await;
    assert_eq!(r.json()["code"], "AUTH_MISSING");
}

#[backends]
async fn bad_tokens_are_401_with_reasons_even_on_public_operations() {
    let s = start(project(None, None)).await;
    let good = s.token("u", &["member"], None);
    assert_eq!(code_of(&s, &good).await.0, 200);

    // Bad signature: same claims, another key.
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": "u", "roles": ["admin"], "exp": now() + 60}),
        &jsonwebtoken::EncodingKey::from_secret(b"not the secret"),
    )
    .unwrap();
    let (st, b) = code_of(&s, &forged).await;
    assert_eq!(
        (st, b["code"].as_str(), b["details"]["reason"].as_str()),
        (401, Some("AUTH_INVALID_TOKEN"), Some("signature"))
    );

    let expired = s.sign(json!({"sub": "u", "roles": ["member"], "exp": now() - 120}));
    let (st, b) = code_of(&s, &expired).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("AUTH_EXPIRED")));

    // Within the 30 s leeway, still valid.
    let barely = s.sign(json!({"sub": "u", "roles": ["member"], "exp": now() - 5}));
    assert_eq!(code_of(&s, &barely).await.0, 200);

    let future = s.sign(json!({"sub": "u", "exp": now() + 600, "nbf": now() + 300}));
    let (st, b) = code_of(&s, &future).await;
    assert_eq!(
        (st, b["details"]["reason"].as_str()),
        (401, Some("not-yet-valid"))
    );

    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let none = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "JWT"})),
        b64(json!({"sub": "u", "roles": ["owner"], "exp": now() + 60}))
    );
    let (st, b) = code_of(&s, &none).await;
    assert_eq!(
        (st, b["code"].as_str(), b["details"]["reason"].as_str()),
        (401, Some("AUTH_INVALID_TOKEN"), Some("algorithm"))
    );

    let hs384 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS384),
        &json!({"sub": "u", "exp": now() + 60}),
        &jsonwebtoken::EncodingKey::from_secret(&s.secret),
    )
    .unwrap();
    let (st, b) = code_of(&s, &hs384).await;
    assert_eq!(
        (st, b["details"]["reason"].as_str()),
        (401, Some("algorithm"))
    );

    let (st, b) = code_of(&s, "garbage").await;
    assert_eq!(
        (st, b["details"]["reason"].as_str()),
        (401, Some("malformed"))
    );

    let r = s
        .client
        .get(format!("{}/api/things", s.base))
        .header("authorization", format!("Basic {good}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(b["details"]["reason"], "scheme");
}

#[backends]
async fn issuer_and_audience_are_verified_when_configured() {
    let s = start(project(Some("https://auth.example.com"), Some("my-app"))).await;
    let ok = s.sign(
        json!({"sub": "u", "exp": now() + 60, "iss": "https://auth.example.com", "aud": "my-app"}),
    );
    assert_eq!(code_of(&s, &ok).await.0, 200);
    let bad_iss =
        s.sign(json!({"sub": "u", "exp": now() + 60, "iss": "https://evil", "aud": "my-app"}));
    let (st, b) = code_of(&s, &bad_iss).await;
    assert_eq!((st, b["details"]["reason"].as_str()), (401, Some("issuer")));
    let bad_aud = s.sign(
        json!({"sub": "u", "exp": now() + 60, "iss": "https://auth.example.com", "aud": "other"}),
    );
    let (st, b) = code_of(&s, &bad_aud).await;
    assert_eq!(
        (st, b["details"]["reason"].as_str()),
        (401, Some("audience"))
    );
}

#[backends]
async fn a_configured_issuer_and_audience_are_required_claims() {
    let s = start(project(Some("https://auth.example.com"), Some("my-app"))).await;
    let cases = [
        (
            json!({"sub": "u", "exp": now() + 60, "aud": "my-app"}),
            "issuer",
        ),
        (
            json!({"sub": "u", "exp": now() + 60, "iss": "https://auth.example.com"}),
            "audience",
        ),
        // A claim of the wrong type is not "present" either.
        (
            json!({"sub": "u", "exp": now() + 60, "iss": 7, "aud": "my-app"}),
            "issuer",
        ),
    ];
    for (claims, reason) in cases {
        let (st, b) = code_of(&s, &s.sign(claims.clone())).await;
        assert_eq!(st, 401, "{claims}");
        assert_eq!(b["code"], "AUTH_INVALID_TOKEN", "{claims}");
        assert_eq!(b["details"]["reason"], reason, "{claims}");
    }
}

#[backends]
async fn roles_claim_may_be_a_single_string_and_healthz_needs_no_token() {
    let s = start(project(None, None)).await;
    let t = s.sign(json!({"sub": "u", "roles": "member", "exp": now() + 60}));
    let r = s.post("/api/things", &t, json!({"name": "x"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let h = s.req("GET", "/healthz", None, None).await;
    assert_eq!(h.json(), json!({"status": "ok", "ir": "test-hash"}));
}

#[backends]
async fn dev_secret_is_reused_and_require_secret_refuses() {
    let ir = project(None, None);
    let dir = tempfile::tempdir().unwrap();
    let (a, src) = ward_runtime::secret::hs256_secret(&ir, dir.path(), false).unwrap();
    let (b, _) = ward_runtime::secret::hs256_secret(&ir, dir.path(), false).unwrap();
    assert_eq!(a, b);
    assert!(matches!(src, ward_runtime::SecretSource::DevFile(_)));
    let err = ward_runtime::secret::hs256_secret(&ir, dir.path(), true).unwrap_err();
    assert!(err.to_string().contains("WARD_RUNTIME_TEST_UNSET_SECRET"));
}

/// SPEC §5.7 "Claims": an empty user id or scope claim is an invalid token, never an identity —
/// two callers with `sub: ""` would otherwise be one owner, and `org_id: ""` one tenant.
#[backends]
async fn an_empty_user_id_or_scope_claim_is_an_invalid_token() {
    let notes = table("notes")
        .text("title")
        .text("orgId")
        .scope("orgId", "org-id", "")
        .crud("member+")
        .createable(&["title"])
        .build();
    let s = start(ir(vec![notes])).await;
    let exp = now() + 3600;
    for claims in [
        json!({"sub": "", "roles": ["member"], "org_id": "acme", "exp": exp}),
        json!({"sub": "u1", "roles": ["member"], "org_id": "", "exp": exp}),
    ] {
        let token = s.sign(claims.clone());
        let r = s.req("GET", "/api/notes", Some(&token), None).await;
        assert_eq!(r.status, 401, "{claims}: {}", r.text);
        assert_eq!(r.json()["code"], "AUTH_INVALID_TOKEN");
        assert_eq!(r.json()["details"]["reason"], "empty-claim");
    }
    // A claim the project does not scope by may be empty; a missing user id is no identity
    // either way (anonymous-like: it owns nothing), as before.
    let fine = s.sign(
        json!({"sub": "u1", "roles": ["member"], "org_id": "acme", "team_id": "", "exp": exp}),
    );
    let r = s.req("GET", "/api/notes", Some(&fine), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
}
