//! A concrete request, after the engine resolved every symbolic id: exactly what the server
//! receives and what the reference model predicts an answer for.

use crate::scenario::{CallerSpec, Precondition};

#[derive(Debug, Clone, PartialEq)]
pub struct ApiRequest {
    pub caller: CallerSpec,
    /// `GET`, `POST`, `PATCH`, `PUT` or `DELETE`.
    pub method: String,
    /// Percent-encoded path segments: `/api/rooms`, `/api/rooms/{id}`, `/api/rooms/{id}/restore`,
    /// `/api/rooms/batch`.
    pub path: String,
    /// Decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    /// The body text, sent as `application/json`.
    pub body: Option<String>,
    /// A precondition header, if any.
    pub precondition: Option<Precondition>,
}

impl ApiRequest {
    /// The path with its query string, percent-encoded.
    pub fn uri(&self) -> String {
        if self.query.is_empty() {
            return self.path.clone();
        }
        let query: Vec<String> = self
            .query
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        format!("{}?{}", self.path, query.join("&"))
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_encoded() {
        let request = ApiRequest {
            caller: CallerSpec::Anonymous,
            method: "GET".into(),
            path: "/api/rooms".into(),
            query: vec![
                ("name.like".into(), "50% off_\\".into()),
                ("sort".into(), "-name,id".into()),
            ],
            body: None,
            precondition: None,
        };
        assert_eq!(
            request.uri(),
            "/api/rooms?name.like=50%25%20off_%5C&sort=-name%2Cid"
        );
    }
}
