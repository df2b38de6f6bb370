//! HMAC-SHA256 under the server's own keys: the seal on an upload's value on its way to
//! validation, and file download grants. Tags travel as lower-case hex; checking one is
//! constant-time (`hmac`'s own comparison).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A key of 32 random bytes (two v4 UUIDs' worth of the OS generator).
pub fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    key
}

/// HMAC takes keys of any length, so `None` never happens; it stays a value, not a panic.
fn mac(key: &[u8], data: &[u8]) -> Option<Hmac<Sha256>> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).ok()?;
    mac.update(data);
    Some(mac)
}

/// The tag of `data` under `key`, as raw bytes.
pub fn tag(key: &[u8], data: &[u8]) -> Option<[u8; 32]> {
    Some(mac(key, data)?.finalize().into_bytes().into())
}

/// The tag of `data` under `key`, in hex (empty in the case that cannot happen).
pub fn sign(key: &[u8], data: &[u8]) -> String {
    tag(key, data).map(|t| hex(&t)).unwrap_or_default()
}

/// Whether `given` (hex) is the tag of `data` under `key`.
pub fn verify(key: &[u8], data: &[u8], given: &str) -> bool {
    match (unhex(given), mac(key, data)) {
        (Some(bytes), Some(mac)) => mac.verify_slice(&bytes).is_ok(),
        _ => false,
    }
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_verifies_under_its_key_only() {
        let key = random_key();
        let tag = sign(&key, b"data");
        assert!(verify(&key, b"data", &tag));
        assert!(!verify(&key, b"other", &tag));
        assert!(!verify(&random_key(), b"data", &tag));
        assert!(!verify(&key, b"data", &tag[1..]));
        assert!(!verify(&key, b"data", "zz"));
    }
}
