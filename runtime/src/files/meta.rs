//! A file column's value (SPEC §13). The row stores `{name, size, type, sha256, key}`; every
//! answer, change record, history version and realtime event shows it without `key` — where
//! the bytes are is the server's business. Between the upload and validation the value travels
//! in the request body *sealed*: an HMAC under a key made when the process started, so a value
//! a client wrote (pointing at someone else's object, say) never passes validation.

use std::sync::LazyLock;

use super::mac;
use serde_json::{Map, Value as Json, json};

/// The field that holds the object's key in the stored value.
const KEY: &str = "key";
/// The field that holds the seal in a value on its way from the upload to validation.
const SEAL: &str = "seal";

/// The seal key: random per process.
static SEAL_KEY: LazyLock<[u8; 32]> = LazyLock::new(mac::random_key);

/// What an upload produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The client's filename, kept as metadata only.
    pub name: String,
    pub size: u64,
    /// The media type recognised from the content.
    pub media_type: String,
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
    /// Where the bytes are in the file store.
    pub key: String,
}

impl Stored {
    /// The value as the row stores it (field order: the public ones, then the key).
    pub fn to_json(&self) -> Json {
        json!({
            "name": self.name,
            "size": self.size,
            "type": self.media_type,
            "sha256": self.sha256,
            KEY: self.key,
        })
    }

    /// The value as an upload hands it to validation, sealed.
    pub fn sealed(&self) -> Json {
        let mut v = self.to_json();
        let seal = seal(&v);
        if let Some(obj) = v.as_object_mut() {
            obj.insert(SEAL.into(), Json::String(seal));
        }
        v
    }
}

fn seal(stored: &Json) -> String {
    mac::sign(&SEAL_KEY[..], stored.to_string().as_bytes())
}

/// The stored value inside a sealed one, when its seal is this process's; `None` for anything
/// else (a client's JSON, a tampered field).
pub fn unseal(v: &Json) -> Option<Json> {
    let obj = v.as_object()?;
    let given = obj.get(SEAL)?.as_str()?;
    let stored: Map<String, Json> = obj
        .iter()
        .filter(|(k, _)| k.as_str() != SEAL)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let stored = Json::Object(stored);
    mac::verify(&SEAL_KEY[..], stored.to_string().as_bytes(), given).then_some(stored)
}

/// The value as it is shown: the stored one without its key.
pub fn public(v: &Json) -> Json {
    match v {
        Json::Object(obj) if obj.contains_key(KEY) => Json::Object(
            obj.iter()
                .filter(|(k, _)| k.as_str() != KEY)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The object key of a stored value (`None` for null).
pub fn key(v: &Json) -> Option<&str> {
    v.get(KEY)?.as_str()
}

/// The SHA-256 of a stored value.
pub fn sha256(v: &Json) -> Option<&str> {
    v.get("sha256")?.as_str()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn stored() -> Stored {
        Stored {
            name: "cat.png".into(),
            size: 42,
            media_type: "image/png".into(),
            sha256: "ab".repeat(32),
            key: "pets/photo/0190".into(),
        }
    }

    #[test]
    fn a_sealed_value_unseals_to_the_stored_one() {
        let s = stored();
        assert_eq!(unseal(&s.sealed()), Some(s.to_json()));
    }

    #[test]
    fn a_value_written_by_a_client_never_unseals() {
        // No seal, a made-up seal, and a real seal over other content.
        assert_eq!(unseal(&stored().to_json()), None);
        let mut forged = stored().to_json();
        forged["seal"] = json!("00".repeat(32));
        assert_eq!(unseal(&forged), None);
        let mut moved = stored().sealed();
        moved["key"] = json!("other/table/object");
        assert_eq!(unseal(&moved), None);
        assert_eq!(unseal(&json!("text")), None);
    }

    #[test]
    fn the_public_value_has_no_key() {
        let shown = public(&stored().to_json());
        assert_eq!(
            shown,
            json!({"name": "cat.png", "size": 42, "type": "image/png", "sha256": "ab".repeat(32)})
        );
        assert_eq!(public(&Json::Null), Json::Null);
    }
}
