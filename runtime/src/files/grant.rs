//! Signed download URLs for `<img src>` (SPEC §13): `POST /api/T/{id}/file/COL/url` grants the
//! caller a link valid for at most [`TTL`] (never past their token's expiry) that carries who
//! they are, the file's SHA-256 and the expiry, under an HMAC ([`Key`]: derived from the
//! project's HS256 secret, so every instance sharing it honours the link; random per server for
//! projects that verify tokens with a public key). The link is no bearer of rows: a download through it runs the whole read pipeline
//! again as that caller, and answers the one NOT_FOUND body unless the row is still visible
//! and its file unchanged.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::mac;
use crate::gate::Caller;

/// The longest a signed URL lives.
pub const TTL: u64 = 300;

/// What signs and checks grants.
#[derive(Clone)]
pub struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(…)")
    }
}

impl Key {
    /// A key of its own derived from the project's HS256 secret: instances sharing the secret
    /// honour each other's links, and a link never doubles as a token.
    pub fn from_secret(secret: &[u8]) -> Key {
        mac::tag(secret, b"ward: signed file download URLs").map_or_else(Key::random, Key)
    }

    /// Random (two v4 UUIDs' worth of the OS generator): links work on the server that made
    /// them, until it stops.
    pub fn random() -> Key {
        Key(mac::random_key())
    }
}

/// What a grant says: whose download of which file, until when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Grant {
    /// Table, row id (as in the path), column.
    t: String,
    i: String,
    c: String,
    /// The file's SHA-256 when granted.
    h: String,
    /// Expiry, seconds since the epoch.
    e: u64,
    /// The caller: authenticated, user id, roles, auth values.
    n: bool,
    u: Option<String>,
    r: Vec<String>,
    a: BTreeMap<String, String>,
}

/// Where the grant applies.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub table: &'a str,
    pub id: &'a str,
    pub column: &'a str,
}

/// A token for `caller` to download the file `sha256` at `target` until `expires`.
pub fn issue(key: &Key, caller: &Caller, target: Target<'_>, sha256: &str, expires: u64) -> String {
    let grant = Grant {
        t: target.table.to_owned(),
        i: target.id.to_owned(),
        c: target.column.to_owned(),
        h: sha256.to_owned(),
        e: expires,
        n: caller.authenticated,
        u: caller.user_id.clone(),
        r: caller.roles.clone(),
        a: caller.auth_values.clone(),
    };
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&grant).unwrap_or_default());
    let sig = mac::sign(&key.0, payload.as_bytes());
    format!("{payload}.{sig}")
}

/// The caller and the file's SHA-256 a valid, unexpired token for `target` carries; `None`
/// for anything else (forged, for another file, expired).
pub fn redeem(key: &Key, token: &str, target: Target<'_>, now: u64) -> Option<(Caller, String)> {
    let (payload, sig) = token.split_once('.')?;
    if !mac::verify(&key.0, payload.as_bytes(), sig) {
        return None;
    }
    let grant: Grant = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    let applies = grant.t == target.table && grant.i == target.id && grant.c == target.column;
    if !applies || now >= grant.e {
        return None;
    }
    let caller = Caller {
        authenticated: grant.n,
        user_id: grant.u,
        roles: grant.r,
        auth_values: grant.a,
    };
    Some((caller, grant.h))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const HERE: Target<'static> = Target {
        table: "pets",
        id: "1",
        column: "photo",
    };

    fn member() -> Caller {
        Caller {
            authenticated: true,
            user_id: Some("u1".into()),
            roles: vec!["member".into()],
            auth_values: [("org-id".to_owned(), "o1".to_owned())].into(),
        }
    }

    #[test]
    fn a_grant_carries_its_caller_until_it_expires() {
        let key = Key::from_secret(b"a secret of at least thirty-two bytes");
        let token = issue(&key, &member(), HERE, "ab", 1_000);
        assert_eq!(
            redeem(&key, &token, HERE, 999),
            Some((member(), "ab".into()))
        );
        assert_eq!(redeem(&key, &token, HERE, 1_000), None);
        // Another instance with the same secret honours it; one with another secret does not.
        let same = Key::from_secret(b"a secret of at least thirty-two bytes");
        assert!(redeem(&same, &token, HERE, 1).is_some());
        let other = Key::from_secret(b"another secret of thirty-two bytes!!");
        assert_eq!(redeem(&other, &token, HERE, 1), None);
        assert_eq!(redeem(&Key::random(), &token, HERE, 1), None);
    }

    #[test]
    fn a_grant_is_for_its_file_only_and_cannot_be_altered() {
        let key = Key::random();
        let token = issue(&key, &member(), HERE, "ab", 1_000);
        let other = Target { id: "2", ..HERE };
        assert_eq!(redeem(&key, &token, other, 1), None);
        let (payload, sig) = token.split_once('.').unwrap();
        let mut grant: Grant =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        grant.r = vec!["admin".into()];
        let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&grant).unwrap());
        assert_eq!(redeem(&key, &format!("{forged}.{sig}"), HERE, 1), None);
        assert_eq!(redeem(&key, "nonsense", HERE, 1), None);
    }
}
