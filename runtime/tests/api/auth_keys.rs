#![allow(clippy::unwrap_used)]

//! Token verification with asymmetric keys: RS256 / ES256 / EdDSA PEM public keys and JWKS files,
//! using the test-only keys in `tests/keys/`.

use crate::common;

use ward_test_macros::backends;

use base64::Engine;
use common::ir::*;
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use ward_ir::{JwtAlgorithm, JwtKey};
use ward_runtime::{App, SecretSource};

/// Where a PEM public key is put in the project directory.
const PEM_PATH: &str = "keys/jwt.pub.pem";
/// Where a JWKS file is put in the project directory.
const JWKS_PATH: &str = "keys/jwks.json";

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/keys")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn project(key: JwtKey) -> ward_ir::Ir {
    // Every operation needs `member+`, so a 200 proves the token was accepted and its roles read.
    let t = table("things")
        .text("name")
        .crud("member+")
        .createable(&["name"])
        .build();
    ir_with(vec![t], move |j| j.key = key)
}

/// A project directory holding `contents` at `path`.
fn project_dir(path: &str, contents: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(full, contents).unwrap();
    dir
}

fn claims() -> Value {
    json!({"sub": "u1", "roles": ["member"], "exp": now() + 3600})
}

fn sign(alg: Algorithm, kid: Option<&str>, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(String::from);
    jsonwebtoken::encode(&header, &claims(), key).unwrap()
}

/// An `alg: none` token (empty signature).
fn unsigned(kid: Option<&str>) -> String {
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let mut header = json!({"alg": "none", "typ": "JWT"});
    if let Some(k) = kid {
        header["kid"] = json!(k);
    }
    format!("{}.{}.", b64(header), b64(claims()))
}

/// Status, code and `details.reason` of listing `things` with `token`.
async fn outcome(s: &Server, token: &str) -> (u16, String, String) {
    let r = s.get("/api/things", token).await;
    let b = r.json();
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    (r.status, text(&b["code"]), text(&b["details"]["reason"]))
}

async fn assert_accepted(s: &Server, token: &str, what: &str) {
    let r = s.get("/api/things", token).await;
    assert_eq!(r.status, 200, "{what}: {}", r.text);
}

async fn assert_rejected(s: &Server, token: &str, reason: &str, what: &str) {
    assert_eq!(
        outcome(s, token).await,
        (401, "AUTH_INVALID_TOKEN".into(), reason.into()),
        "{what}"
    );
}

struct PemCase {
    algorithm: JwtAlgorithm,
    alg: Algorithm,
    /// Fixture names: the signing key, its public key, and an unrelated key of the same kind.
    private: &'static str,
    public: &'static str,
    other: &'static str,
    encoding_key: fn(&[u8]) -> jsonwebtoken::errors::Result<EncodingKey>,
}

const RSA: PemCase = PemCase {
    algorithm: JwtAlgorithm::RS256,
    alg: Algorithm::RS256,
    private: "rsa.pem",
    public: "rsa.pub.pem",
    other: "rsa-other.pem",
    encoding_key: EncodingKey::from_rsa_pem,
};

const EC: PemCase = PemCase {
    algorithm: JwtAlgorithm::ES256,
    alg: Algorithm::ES256,
    private: "ec.pem",
    public: "ec.pub.pem",
    other: "ec-other.pem",
    encoding_key: EncodingKey::from_ec_pem,
};

const ED: PemCase = PemCase {
    algorithm: JwtAlgorithm::EdDSA,
    alg: Algorithm::EdDSA,
    private: "ed25519.pem",
    public: "ed25519.pub.pem",
    other: "ed25519-other.pem",
    encoding_key: EncodingKey::from_ed_pem,
};

impl PemCase {
    fn key(&self, name: &str) -> EncodingKey {
        (self.encoding_key)(&fixture(name)).unwrap()
    }
}

/// Every PEM case, e.g. to sign a token of another algorithm with a real key.
fn all_cases() -> [&'static PemCase; 3] {
    [&RSA, &EC, &ED]
}

/// Serves the case's public key and runs every acceptance and rejection check on it.
async fn check_pem_key(case: &PemCase) {
    let public = fixture(case.public);
    let s = start_in(
        project_dir(PEM_PATH, &public),
        project(JwtKey::PublicKey {
            path: PEM_PATH.into(),
            algorithm: case.algorithm,
        }),
    )
    .await;
    let name = format!("{:?}", case.alg);

    let good = sign(case.alg, None, &case.key(case.private));
    assert_accepted(&s, &good, &format!("{name} signed by the matching key")).await;
    // The claims were read: the caller is member `u1`.
    let r = s.post("/api/things", &good, json!({"name": "x"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["data"]["createdBy"], "u1");

    let forged = sign(case.alg, None, &case.key(case.other));
    assert_rejected(
        &s,
        &forged,
        "signature",
        &format!("{name} signed by another key"),
    )
    .await;

    // Key confusion: an HMAC token whose secret is the public key file the server holds.
    for hs in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        let confused = sign(hs, None, &EncodingKey::from_secret(&public));
        assert_rejected(
            &s,
            &confused,
            "algorithm",
            &format!("{hs:?} with the {name} public key as secret"),
        )
        .await;
    }
    let trimmed = std::str::from_utf8(&public).unwrap().trim().as_bytes();
    let confused = sign(Algorithm::HS256, None, &EncodingKey::from_secret(trimmed));
    assert_rejected(&s, &confused, "algorithm", "HS256, trimmed PEM as secret").await;

    assert_rejected(
        &s,
        &unsigned(None),
        "algorithm",
        &format!("{name}: alg none"),
    )
    .await;

    // A genuine signature made with another algorithm (another key kind) is refused too.
    for other in all_cases() {
        if other.alg != case.alg {
            let t = sign(other.alg, None, &other.key(other.private));
            let what = format!("{:?} token on a {name} server", other.alg);
            assert_rejected(&s, &t, "algorithm", &what).await;
        }
    }
    // Same key kind, another algorithm of its family (RSA: RS384/RS512/PS256).
    if case.alg == Algorithm::RS256 {
        for alg in [Algorithm::RS384, Algorithm::RS512, Algorithm::PS256] {
            let t = sign(alg, None, &case.key(case.private));
            assert_rejected(&s, &t, "algorithm", &format!("{alg:?} with the RSA key")).await;
        }
    }
}

#[backends]
async fn rs256_public_key() {
    check_pem_key(&RSA).await;
}

#[backends]
async fn es256_public_key() {
    check_pem_key(&EC).await;
}

#[backends]
async fn eddsa_public_key() {
    check_pem_key(&ED).await;
}

#[backends]
async fn the_secret_source_names_the_key_file() {
    let dir = project_dir(PEM_PATH, &fixture("rsa.pub.pem"));
    let ir = project(JwtKey::PublicKey {
        path: PEM_PATH.into(),
        algorithm: JwtAlgorithm::RS256,
    });
    let db = common::db::TestDb::new(dir.path());
    let app = App::open(ir, &db.options(dir.path())).await.unwrap();
    assert_eq!(
        app.secret_source(),
        &SecretSource::KeyFile(dir.path().join(PEM_PATH))
    );
}

async fn jwks_server(jwks: &[u8]) -> Server {
    start_in(
        project_dir(JWKS_PATH, jwks),
        project(JwtKey::Jwks {
            path: JWKS_PATH.into(),
        }),
    )
    .await
}

#[backends]
async fn jwks_verifies_by_kid() {
    let s = jwks_server(&fixture("jwks.json")).await;
    let rsa = RSA.key("rsa.pem");
    let ec = EC.key("ec.pem");

    assert_accepted(&s, &sign(Algorithm::RS256, Some("rsa-1"), &rsa), "RSA key").await;
    // `ec-1` has no `alg`: ES256 comes from its key type.
    assert_accepted(&s, &sign(Algorithm::ES256, Some("ec-1"), &ec), "EC key").await;

    let unknown = sign(Algorithm::RS256, Some("rsa-2"), &rsa);
    assert_rejected(&s, &unknown, "unknown-key", "unknown kid").await;
    // Two keys and no kid: no key is guessed.
    let no_kid = sign(Algorithm::RS256, None, &rsa);
    assert_rejected(&s, &no_kid, "unknown-key", "no kid").await;

    let forged = sign(Algorithm::RS256, Some("rsa-1"), &RSA.key("rsa-other.pem"));
    assert_rejected(&s, &forged, "signature", "other RSA key").await;
    let forged = sign(Algorithm::ES256, Some("ec-1"), &EC.key("ec-other.pem"));
    assert_rejected(&s, &forged, "signature", "other EC key").await;

    // The key's algorithm wins over the token's: a kid pointing at the other key is refused.
    let t = sign(Algorithm::RS256, Some("ec-1"), &rsa);
    assert_rejected(&s, &t, "algorithm", "RS256 token naming the EC key").await;
    let t = sign(Algorithm::ES256, Some("rsa-1"), &ec);
    assert_rejected(&s, &t, "algorithm", "ES256 token naming the RSA key").await;
    let t = sign(Algorithm::PS256, Some("rsa-1"), &rsa);
    assert_rejected(&s, &t, "algorithm", "PS256 token on an RS256 key").await;

    // Key confusion: HMAC with public material the attacker can know.
    for secret in [fixture("rsa.pub.pem"), fixture("jwks.json")] {
        let t = sign(
            Algorithm::HS256,
            Some("rsa-1"),
            &EncodingKey::from_secret(&secret),
        );
        assert_rejected(&s, &t, "algorithm", "HS256 with public material").await;
    }
    assert_rejected(&s, &unsigned(Some("rsa-1")), "algorithm", "alg none").await;
}

#[backends]
async fn a_single_key_jwks_needs_no_kid() {
    let mut set: Value = serde_json::from_slice(&fixture("jwks.json")).unwrap();
    set["keys"]
        .as_array_mut()
        .unwrap()
        .retain(|k| k["kid"] == "rsa-1");
    let s = jwks_server(set.to_string().as_bytes()).await;
    let rsa = RSA.key("rsa.pem");
    assert_accepted(&s, &sign(Algorithm::RS256, None, &rsa), "no kid").await;
    assert_accepted(&s, &sign(Algorithm::RS256, Some("rsa-1"), &rsa), "its kid").await;
    let unknown = sign(Algorithm::RS256, Some("other"), &rsa);
    assert_rejected(&s, &unknown, "unknown-key", "another kid").await;
}

#[backends]
async fn jwks_symmetric_keys_are_never_used() {
    // `c2VjcmV0` is "secret": whoever reads the JWKS could sign with it.
    let set = json!({"keys": [
        {"kty": "oct", "kid": "h1", "alg": "HS256", "k": "c2VjcmV0"},
        {"kty": "oct", "kid": "h2", "k": "c2VjcmV0"},
    ]});
    let s = jwks_server(set.to_string().as_bytes()).await;
    let key = EncodingKey::from_secret(b"secret");
    for kid in ["h1", "h2"] {
        let t = sign(Algorithm::HS256, Some(kid), &key);
        assert_rejected(&s, &t, "algorithm", kid).await;
    }
}

/// `App::open` with `key` in a project where `path` holds `contents` (or nothing) fails, naming
/// the file; returns the message.
async fn assert_start_fails(
    key: JwtKey,
    path: &str,
    contents: Option<&[u8]>,
    what: &str,
) -> String {
    let dir = match contents {
        Some(c) => project_dir(path, c),
        None => tempfile::tempdir().unwrap(),
    };
    let err = App::open(project(key), &serve_options(dir.path()))
        .await
        .unwrap_err();
    let msg = err.to_string();
    let full = dir.path().join(path);
    assert!(
        msg.contains(&full.display().to_string()),
        "{what}: {msg:?} does not name {}",
        full.display()
    );
    msg
}

fn pem_key(algorithm: JwtAlgorithm) -> JwtKey {
    JwtKey::PublicKey {
        path: PEM_PATH.into(),
        algorithm,
    }
}

fn jwks_key() -> JwtKey {
    JwtKey::Jwks {
        path: JWKS_PATH.into(),
    }
}

#[tokio::test]
async fn missing_or_unreadable_key_files_fail_at_start() {
    for case in all_cases() {
        assert_start_fails(pem_key(case.algorithm), PEM_PATH, None, "missing PEM").await;
    }
    assert_start_fails(jwks_key(), JWKS_PATH, None, "missing JWKS").await;

    // A directory where the file should be cannot be read.
    for (key, path) in [
        (pem_key(JwtAlgorithm::RS256), PEM_PATH),
        (jwks_key(), JWKS_PATH),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(path)).unwrap();
        let err = App::open(project(key), &serve_options(dir.path()))
            .await
            .unwrap_err();
        let full = dir.path().join(path).display().to_string();
        assert!(err.to_string().contains(&full), "{err}");
    }
}

#[tokio::test]
async fn unusable_key_files_fail_at_start() {
    for case in all_cases() {
        let key = || pem_key(case.algorithm);
        assert_start_fails(key(), PEM_PATH, Some(b"not a key"), "garbage").await;
        assert_start_fails(key(), PEM_PATH, Some(b""), "empty").await;
        // The private key is not what the server is configured with.
        let private = fixture(case.private);
        let msg = assert_start_fails(key(), PEM_PATH, Some(&private), "private key").await;
        assert!(msg.contains("private key"), "{msg}");
        // A public key of another kind than the configured algorithm.
        for other in all_cases() {
            if other.alg != case.alg {
                let what = format!("{} as {:?}", other.public, case.algorithm);
                assert_start_fails(key(), PEM_PATH, Some(&fixture(other.public)), &what).await;
            }
        }
    }
    assert_start_fails(jwks_key(), JWKS_PATH, Some(b"not json"), "garbage JWKS").await;
    assert_start_fails(jwks_key(), JWKS_PATH, Some(b"{}"), "no keys field").await;
    let empty = br#"{"keys": []}"#;
    assert_start_fails(jwks_key(), JWKS_PATH, Some(empty), "empty JWKS").await;
    let pem = fixture("rsa.pub.pem");
    assert_start_fails(jwks_key(), JWKS_PATH, Some(&pem), "PEM as JWKS").await;
}
