//! The dev tokens `ward dev` prints at start: one per declared role, so every role can be tried
//! at once.

use std::path::Path;

use ward_ir::{Ir, JwtKey};

use crate::commands::token::{Grant, sign};

/// Dev tokens live a day: long enough for a working session.
const DEV_TOKEN_TTL_SECONDS: u64 = 24 * 3600;

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
        let grant = Grant {
            sub: format!("dev-{role}"),
            roles: vec![role.clone()],
            org: Some("dev-org".to_owned()),
            claims: Vec::new(),
            ttl: DEV_TOKEN_TTL_SECONDS,
        };
        match sign(ir, &secret, &grant) {
            Ok(token) => eprintln!("  {role:<12} {token}"),
            Err(e) => eprintln!("  {role:<12} ({e:#})"),
        }
    }
}
