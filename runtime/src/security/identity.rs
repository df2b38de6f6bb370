//! Layer 1, auth: verifies the bearer token and builds the [`Caller`]. An invalid token is never
//! downgraded to an anonymous caller.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use ward_ir::{Auth, CLAIM_ROLES, CLAIM_USER_ID};

use crate::error::ApiError;
use crate::gate::Caller;
use crate::mutation::{self, Mutation};

enum Keys {
    Single(Box<DecodingKey>, Algorithm),
    Jwks(JwkSet),
}

/// Token verification, built once at start from the IR.
pub struct Verifier {
    keys: Keys,
    auth: Auth,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: u64,
    declared_roles: Vec<String>,
    /// Auth values that may not be empty: the user id and every value a firewall scopes by.
    identifying: BTreeSet<String>,
    verified: Mutex<Remembered>,
}

/// The verified tokens, and what they hold in bytes.
#[derive(Default)]
struct Remembered {
    tokens: HashMap<String, Verified>,
    bytes: usize,
}

/// What remembering `token` holds: the token, and a caller decoded from it (never larger).
fn cost(token: &str) -> usize {
    2 * token.len()
}

/// A token this verifier accepted: the caller it describes, and until when it stays valid.
/// Checking a token's signature and decoding its claims was ~9 % of a read by id's CPU, and a
/// client sends the same token for its whole life. The cache belongs to the verifier, so a reload
/// with other keys or claims starts from nothing.
struct Verified {
    caller: Caller,
    exp: u64,
}

/// Tokens remembered at once; past it the cache starts over (many distinct valid tokens cost
/// verification again, nothing more).
const VERIFIED_LIMIT: usize = 4096;
/// Bytes the remembered tokens may hold (SPEC §5.7: bounded in bytes, not only entries); a
/// token counts twice its length, for itself and the caller decoded from it.
const VERIFIED_BYTES: usize = 16 * 1024 * 1024;
/// A token longer than this is verified every time rather than remembered: no client needs
/// one, and a few thousand would fill the cache.
const REMEMBERED_TOKEN_MAX: usize = 8 * 1024;

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").finish_non_exhaustive()
    }
}

impl Verifier {
    pub fn hs256(ir: &ward_ir::Ir, secret: &[u8]) -> Verifier {
        Verifier::new(
            ir,
            Keys::Single(Box::new(DecodingKey::from_secret(secret)), Algorithm::HS256),
        )
    }

    pub fn public_key(
        ir: &ward_ir::Ir,
        pem: &[u8],
        alg: ward_ir::JwtAlgorithm,
    ) -> Result<Verifier, String> {
        // `from_rsa_pem` also takes a private key, which could then verify nothing: refuse it here
        // rather than answer 401 to every token.
        if String::from_utf8_lossy(pem).contains("PRIVATE KEY-----") {
            return Err(
                "this is a private key; configure its public key (`openssl pkey -in KEY -pubout`)"
                    .into(),
            );
        }
        let (key, alg) = match alg {
            ward_ir::JwtAlgorithm::RS256 => (DecodingKey::from_rsa_pem(pem), Algorithm::RS256),
            ward_ir::JwtAlgorithm::ES256 => (DecodingKey::from_ec_pem(pem), Algorithm::ES256),
            ward_ir::JwtAlgorithm::EdDSA => (DecodingKey::from_ed_pem(pem), Algorithm::EdDSA),
        };
        let key = key.map_err(|e| e.to_string())?;
        Ok(Verifier::new(ir, Keys::Single(Box::new(key), alg)))
    }

    pub fn jwks(ir: &ward_ir::Ir, json: &[u8]) -> Result<Verifier, String> {
        let set: JwkSet = serde_json::from_slice(json).map_err(|e| e.to_string())?;
        if set.keys.is_empty() {
            return Err("the JWKS holds no keys".into());
        }
        Ok(Verifier::new(ir, Keys::Jwks(set)))
    }

    fn new(ir: &ward_ir::Ir, keys: Keys) -> Verifier {
        Verifier {
            keys,
            auth: ir.auth.clone(),
            issuer: ir.auth.jwt.issuer.clone(),
            audience: ir.auth.jwt.audience.clone(),
            leeway: ir.auth.jwt.leeway_seconds,
            declared_roles: ir.roles.clone(),
            identifying: std::iter::once(CLAIM_USER_ID.to_owned())
                .chain(
                    ir.tables
                        .iter()
                        .flat_map(|t| t.firewall.scopes.iter().map(|s| s.auth.clone())),
                )
                .collect(),
            verified: Mutex::new(Remembered::default()),
        }
    }

    /// Builds the caller from the `Authorization` header value, if any.
    pub fn authenticate(&self, header: Option<&[u8]>) -> Result<Caller, ApiError> {
        let Some(raw) = header else {
            return Ok(Caller::anonymous());
        };
        let raw = std::str::from_utf8(raw).map_err(|_| ApiError::auth_invalid("malformed"))?;
        let token = match raw.split_once(' ') {
            Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim(),
            _ => return Err(ApiError::auth_invalid("scheme")),
        };
        if token.is_empty() {
            return Err(ApiError::auth_invalid("malformed"));
        }
        let now = jsonwebtoken::get_current_timestamp();
        if let Some(caller) = self.remembered(token, now) {
            return Ok(caller);
        }
        let claims = match self.verify(token) {
            Err(_) if mutation::active(Mutation::AuthBadTokenAnonymous) => {
                return Ok(Caller::anonymous());
            }
            r => r?,
        };
        let caller = self.caller(&claims)?;
        if let Some(exp) = claims.get("exp").and_then(Value::as_u64) {
            self.remember(token, &caller, exp);
        }
        Ok(caller)
    }

    /// [`Verifier::authenticate`], with the moment (seconds since the epoch) past which the
    /// token is refused: its `exp` plus the leeway; `None` for no token, or one without `exp`.
    /// A stream that outlives a request ends there (SPEC §12's `auth-expired`).
    pub fn authenticate_until(
        &self,
        header: Option<&[u8]>,
    ) -> Result<(Caller, Option<u64>), ApiError> {
        let caller = self.authenticate(header)?;
        let token = header
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| h.split_once(' '))
            .map(|(_, t)| t.trim())
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Ok((caller, None));
        };
        let remembered = self
            .verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .tokens
            .get(token)
            .map(|v| v.exp);
        let exp = match remembered {
            Some(exp) => Some(exp),
            None => self
                .verify(token)
                .ok()
                .and_then(|claims| claims.get("exp").and_then(Value::as_u64)),
        };
        Ok((caller, exp.map(|e| e.saturating_add(self.leeway))))
    }

    /// The caller of a token verified before, while it is unexpired as `verify` judges it
    /// (`exp` plus the leeway). An expired one is forgotten, and `verify` then answers for it.
    fn remembered(&self, token: &str, now: u64) -> Option<Caller> {
        let mut verified = self
            .verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = verified.tokens.get(token)?;
        if entry.exp.saturating_add(self.leeway) >= now {
            return Some(entry.caller.clone());
        }
        if verified.tokens.remove(token).is_some() {
            verified.bytes = verified.bytes.saturating_sub(cost(token));
        }
        None
    }

    fn remember(&self, token: &str, caller: &Caller, exp: u64) {
        if token.len() > REMEMBERED_TOKEN_MAX {
            return;
        }
        let mut verified = self
            .verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if verified.tokens.len() >= VERIFIED_LIMIT || verified.bytes + cost(token) > VERIFIED_BYTES
        {
            verified.tokens.clear();
            verified.bytes = 0;
        }
        let old = verified.tokens.insert(
            token.to_owned(),
            Verified {
                caller: caller.clone(),
                exp,
            },
        );
        if old.is_none() {
            verified.bytes += cost(token);
        }
    }

    fn verify(&self, token: &str) -> Result<Map<String, Value>, ApiError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| header_error(token))?;
        let (key, alg): (&DecodingKey, Algorithm) = match &self.keys {
            Keys::Single(k, a) => (k, *a),
            Keys::Jwks(set) => return self.verify_jwks(set, token, header.kid.as_deref()),
        };
        self.decode(token, key, alg)
    }

    fn verify_jwks(
        &self,
        set: &JwkSet,
        token: &str,
        kid: Option<&str>,
    ) -> Result<Map<String, Value>, ApiError> {
        let jwk = match kid {
            Some(k) => set.find(k),
            None if set.keys.len() == 1 => set.keys.first(),
            None => None,
        }
        .ok_or_else(|| ApiError::auth_invalid("unknown-key"))?;
        let alg = jwk_algorithm(jwk).ok_or_else(|| ApiError::auth_invalid("algorithm"))?;
        let key = DecodingKey::from_jwk(jwk).map_err(|_| ApiError::auth_invalid("unknown-key"))?;
        self.decode(token, &key, alg)
    }

    fn decode(
        &self,
        token: &str,
        key: &DecodingKey,
        alg: Algorithm,
    ) -> Result<Map<String, Value>, ApiError> {
        let mut v = Validation::new(alg);
        v.leeway = self.leeway;
        v.validate_nbf = true;
        if mutation::active(Mutation::AuthAcceptExpired) {
            v.validate_exp = false;
        }
        // jsonwebtoken compares `iss`/`aud` only when the token carries them, so a configured
        // issuer or audience must also be a required claim, or omitting it would bypass the check.
        let mut required = vec!["exp"];
        match &self.issuer {
            Some(i) => {
                v.set_issuer(&[i]);
                required.push("iss");
            }
            None => v.iss = None,
        }
        match &self.audience {
            Some(a) => {
                v.set_audience(&[a]);
                required.push("aud");
            }
            None => v.validate_aud = false,
        }
        v.set_required_spec_claims(&required);
        jsonwebtoken::decode::<Map<String, Value>>(token, key, &v)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => ApiError::auth_expired(),
                ErrorKind::InvalidSignature => ApiError::auth_invalid("signature"),
                ErrorKind::InvalidAlgorithm
                | ErrorKind::MissingAlgorithm
                | ErrorKind::InvalidAlgorithmName => ApiError::auth_invalid("algorithm"),
                ErrorKind::InvalidIssuer => ApiError::auth_invalid("issuer"),
                ErrorKind::InvalidAudience => ApiError::auth_invalid("audience"),
                ErrorKind::ImmatureSignature => ApiError::auth_invalid("not-yet-valid"),
                // A missing issuer or audience is reported like a wrong one.
                ErrorKind::MissingRequiredClaim(c) if c == "iss" => {
                    ApiError::auth_invalid("issuer")
                }
                ErrorKind::MissingRequiredClaim(c) if c == "aud" => {
                    ApiError::auth_invalid("audience")
                }
                ErrorKind::MissingRequiredClaim(_) => ApiError::auth_invalid("missing-claim"),
                _ => ApiError::auth_invalid("malformed"),
            })
    }

    /// The caller a set of (already trusted) claims describes. An empty user id or scope value
    /// is refused (SPEC §5.7): every token carrying `sub: ""` would be one user, every
    /// `org_id: ""` one tenant.
    pub(crate) fn caller(&self, claims: &Map<String, Value>) -> Result<Caller, ApiError> {
        let mut auth_values = BTreeMap::new();
        for (name, claim) in &self.auth.claims {
            if name == CLAIM_ROLES {
                continue;
            }
            if let Some(v) = claims.get(claim).and_then(claim_text) {
                auth_values.insert(name.clone(), v);
            }
        }
        let roles_in_token: Vec<String> = match claims.get(self.auth.roles_claim()) {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        if auth_values
            .iter()
            .any(|(name, v)| v.is_empty() && self.identifying.contains(name))
        {
            return Err(ApiError::auth_invalid("empty-claim"));
        }
        let mut roles = Vec::new();
        for r in roles_in_token {
            if self.declared_roles.contains(&r) && !roles.contains(&r) {
                roles.push(r);
            }
        }
        Ok(Caller {
            authenticated: true,
            user_id: auth_values.get(CLAIM_USER_ID).cloned(),
            roles,
            auth_values,
        })
    }
}

/// A claim usable as an auth value: strings, and numbers in their JSON spelling.
fn claim_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Why an unparsable header failed: an unsupported `alg` (e.g. `none`) is reported as such.
fn header_error(token: &str) -> ApiError {
    let alg = token
        .split('.')
        .next()
        .and_then(|h| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(h)
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<Map<String, Value>>(&b).ok())
        .and_then(|m| m.get("alg").cloned());
    match alg {
        Some(_) => ApiError::auth_invalid("algorithm"),
        None => ApiError::auth_invalid("malformed"),
    }
}

fn jwk_algorithm(jwk: &jsonwebtoken::jwk::Jwk) -> Option<Algorithm> {
    if let Some(a) = jwk.common.key_algorithm {
        return match a {
            KeyAlgorithm::RS256 => Some(Algorithm::RS256),
            KeyAlgorithm::RS384 => Some(Algorithm::RS384),
            KeyAlgorithm::RS512 => Some(Algorithm::RS512),
            KeyAlgorithm::ES256 => Some(Algorithm::ES256),
            KeyAlgorithm::ES384 => Some(Algorithm::ES384),
            KeyAlgorithm::PS256 => Some(Algorithm::PS256),
            KeyAlgorithm::EdDSA => Some(Algorithm::EdDSA),
            _ => None,
        };
    }
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::EllipticCurve(_) => Some(Algorithm::ES256),
        AlgorithmParameters::OctetKeyPair(_) => Some(Algorithm::EdDSA),
        AlgorithmParameters::OctetKey(_) => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    use super::*;

    fn verifier() -> Verifier {
        let project = include_str!("../../../examples/tasks/tasks.kdl");
        let ir = ward_compiler::compile(&ward_compiler::Sources::single("tasks.kdl", project))
            .ir
            .unwrap();
        Verifier::hs256(&ir, b"unit-secret")
    }

    fn sign(claims: serde_json::Value) -> String {
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(b"unit-secret"),
        )
        .unwrap()
    }

    fn bearer(token: &str) -> Vec<u8> {
        format!("Bearer {token}").into_bytes()
    }

    #[test]
    fn a_verified_token_is_remembered_until_it_expires() {
        let v = verifier();
        let now = jsonwebtoken::get_current_timestamp();
        let token = sign(json!({"sub": "u", "roles": ["member"], "exp": now + 30}));
        let caller = v.authenticate(Some(&bearer(&token))).unwrap();
        assert_eq!(caller.roles, ["member"]);
        assert_eq!(v.remembered(&token, now), Some(caller));
        // Past `exp` (and the leeway) the cache does not answer and forgets the token.
        assert_eq!(v.remembered(&token, now + 30 + v.leeway + 1), None);
        assert_eq!(v.remembered(&token, now), None);
    }

    #[test]
    fn refused_tokens_are_not_remembered() {
        let v = verifier();
        let now = jsonwebtoken::get_current_timestamp();
        let expired = sign(json!({"sub": "u", "exp": now - 3600}));
        assert!(v.authenticate(Some(&bearer(&expired))).is_err());
        assert!(v.authenticate(Some(&bearer(&expired))).is_err());
        let forged = encode(
            &Header::default(),
            &json!({"sub": "u", "exp": now + 60}),
            &EncodingKey::from_secret(b"another-secret"),
        )
        .unwrap();
        assert!(v.authenticate(Some(&bearer(&forged))).is_err());
        assert!(v.authenticate(Some(&bearer(&forged))).is_err());
        assert!(v.verified.lock().unwrap().tokens.is_empty());
    }

    /// SPEC §5.7: the cache is bounded in bytes. Thousands of valid tokens padded with a large
    /// claim (300 KB each held 1.2 GB once) are verified but not remembered, and tokens of a
    /// usual size never hold more than the byte budget.
    #[test]
    fn remembered_tokens_are_bounded_in_bytes() {
        let v = verifier();
        let now = jsonwebtoken::get_current_timestamp();
        let padding = "x".repeat(REMEMBERED_TOKEN_MAX);
        for i in 0..20 {
            let big = sign(json!({"sub": format!("u{i}"), "exp": now + 60, "pad": padding}));
            assert_eq!(
                v.authenticate(Some(&bearer(&big)))
                    .unwrap()
                    .user_id
                    .as_deref(),
                Some(format!("u{i}").as_str())
            );
        }
        assert!(v.verified.lock().unwrap().tokens.is_empty());

        let pad = "y".repeat(REMEMBERED_TOKEN_MAX / 2);
        let mut most = 0;
        for i in 0..3000 {
            let token = sign(json!({"sub": format!("u{i}"), "exp": now + 60, "pad": pad}));
            v.authenticate(Some(&bearer(&token))).unwrap();
            let held = v.verified.lock().unwrap();
            let bytes: usize = held.tokens.keys().map(|t| cost(t)).sum();
            assert_eq!(held.bytes, bytes, "the count drifted");
            most = most.max(bytes);
        }
        assert!(most <= VERIFIED_BYTES, "{most} bytes held");
        assert!(
            most > VERIFIED_BYTES / 2,
            "the cache was barely used: {most} bytes"
        );
    }
}
