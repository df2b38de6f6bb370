//! An [`ApiError`] as an HTTP answer: its status, the envelope, `Retry-After` where the client
//! should wait, and the mark the edge counts refused tokens by.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, Layer};

/// Marks an answer that refused the request's token: the edge counts it per client address.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokenRefused;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status(), self.body()).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if self.status() == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if self.status() == StatusCode::TOO_MANY_REQUESTS {
            let seconds = self
                .details()
                .and_then(|d| d["retryAfter"].as_u64())
                .unwrap_or(1);
            res.headers_mut()
                .insert(header::RETRY_AFTER, super::throttle::retry_after(seconds));
        }
        // A refused token (not a missing one) counts against its address's budget (`edge`).
        if self.layer() == Layer::Auth && self.code() != "AUTH_MISSING" {
            res.extensions_mut().insert(TokenRefused);
        }
        res
    }
}
