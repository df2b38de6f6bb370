//! The dev tokens `ward dev` prints at start: one per declared role, so every role can be tried
//! at once.

use std::path::Path;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value, json};
use ward_ir::{CLAIM_ORG_ID, CLAIM_ROLES, CLAIM_USER_ID, Ir, JwtKey};

/// Dev tokens live a day: long enough for a working session.
const DEV_TOKEN_TTL_SECONDS: i64 = 24 * 3600;

/// A token per declared role, signed with the project's HS256 secret.
pub fn print(ir: &Ir, dir: &Path) {
    if !matches!(ir.auth.jwt.key, JwtKey::Secret { .. }) {
        eprintln!("ward dev: the project verifies tokens with a public key; no dev tokens");
        return;
    }
    let Ok((secret, _)) = ward_runtime::secret::hs256_secret(ir, dir, false) else {
        return;
    };
    if ir.roles.is_empty() {
        return;
    }
    eprintln!("ward dev: tokens for each role (24 h; sub dev-ROLE, org-id dev-org):");
    for role in &ir.roles {
        match dev_token(ir, &secret, role) {
            Ok(token) => eprintln!("  {role:<12} {token}"),
            Err(e) => eprintln!("  {role:<12} (could not sign: {e})"),
        }
    }
}

fn dev_token(ir: &Ir, secret: &[u8], role: &str) -> Result<String, jsonwebtoken::errors::Error> {
    let claim = |auth: &str| {
        ir.auth
            .claims
            .get(auth)
            .cloned()
            .unwrap_or_else(|| auth.to_owned())
    };
    let now = chrono::Utc::now().timestamp();
    let mut claims = Map::new();
    claims.insert(claim(CLAIM_USER_ID), json!(format!("dev-{role}")));
    claims.insert(claim(CLAIM_ROLES), json!([role]));
    claims.insert(claim(CLAIM_ORG_ID), json!("dev-org"));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + DEV_TOKEN_TTL_SECONDS));
    if let Some(iss) = &ir.auth.jwt.issuer {
        claims.insert("iss".into(), json!(iss));
    }
    if let Some(aud) = &ir.auth.jwt.audience {
        claims.insert("aud".into(), json!(aud));
    }
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &Value::Object(claims),
        &EncodingKey::from_secret(secret),
    )
}
