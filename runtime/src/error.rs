//! The one public error type: every client-visible failure, mapped explicitly to the SPEC §5.4
//! envelope and status. Internal causes are logged with a request id and never reach the client.
//! It belongs to no layer: the stores, the policy and the handlers all answer with it, and only
//! `http::error` turns it into a response.

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

/// The `layer` of the envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    Auth,
    Firewall,
    Access,
    Guards,
    Validation,
    Batch,
    Database,
    Action,
    Internal,
    /// The server's own limits (SPEC §5.4): unknown methods, rate limits, deadlines.
    Server,
}

impl Layer {
    fn name(self) -> &'static str {
        match self {
            Layer::Auth => "auth",
            Layer::Firewall => "firewall",
            Layer::Access => "access",
            Layer::Guards => "guards",
            Layer::Validation => "validation",
            Layer::Batch => "batch",
            Layer::Database => "database",
            Layer::Action => "action",
            Layer::Internal => "internal",
            Layer::Server => "server",
        }
    }
}

/// An error answered to the client. Opaque: built only through the constructors below.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    status: StatusCode,
    layer: Layer,
    // Custom `require` errors of actions carry the project's own codes.
    code: std::borrow::Cow<'static, str>,
    message: String,
    // Boxed: errors travel through every `Result` of the request path, so the common Ok case
    // should not pay for the rare details.
    details: Option<Box<Value>>,
    hint: Option<String>,
}

/// The one fixed NOT_FOUND body: it never echoes the id, so every cause looks the same.
pub const NOT_FOUND_BODY: &str =
    r#"{"error":"Record not found","layer":"firewall","code":"NOT_FOUND"}"#;

impl ApiError {
    fn new(
        status: StatusCode,
        layer: Layer,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            layer,
            code: std::borrow::Cow::Borrowed(code),
            message: message.into(),
            details: None,
            hint: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn code(&self) -> &str {
        &self.code
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn details(&self) -> Option<&Value> {
        self.details.as_deref()
    }

    pub fn layer(&self) -> Layer {
        self.layer
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn not_found() -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            Layer::Firewall,
            "NOT_FOUND",
            "Record not found",
        )
    }

    pub fn firewall_not_found() -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            Layer::Firewall,
            "FIREWALL_NOT_FOUND",
            "Record not found or outside your scope",
        )
    }

    pub fn scope_missing(claim: &str) -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            Layer::Firewall,
            "FIREWALL_SCOPE_MISSING",
            "Your token lacks a claim this table's firewall needs",
        )
        .with_details(json!({ "claim": claim }))
    }

    pub fn auth_missing() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            Layer::Auth,
            "AUTH_MISSING",
            "Authentication required",
        )
        .with_hint("Send an `Authorization: Bearer <token>` header")
    }

    pub fn auth_invalid(reason: &str) -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            Layer::Auth,
            "AUTH_INVALID_TOKEN",
            "Invalid token",
        )
        .with_details(json!({ "reason": reason }))
    }

    pub fn auth_expired() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            Layer::Auth,
            "AUTH_EXPIRED",
            "Token expired",
        )
    }

    pub fn role_required(required: &[String], current: &[String]) -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            Layer::Access,
            "ACCESS_ROLE_REQUIRED",
            "Your role does not allow this operation",
        )
        .with_details(json!({ "required": required, "current": current }))
    }

    pub fn condition_failed() -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            Layer::Access,
            "ACCESS_CONDITION_FAILED",
            "This record does not allow this operation in its current state",
        )
    }

    pub fn check_failed() -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            Layer::Access,
            "ACCESS_CHECK_FAILED",
            "The resulting record is not allowed",
        )
    }

    pub fn guard(code: &'static str, message: &str, details: Value) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, Layer::Guards, code, message).with_details(details)
    }

    pub fn validation(code: &'static str, message: impl Into<String>, details: Value) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, Layer::Validation, code, message)
            .with_details(details)
    }

    pub fn bad_query(parameter: &str, message: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            Layer::Validation,
            "VALIDATION_BAD_QUERY",
            message,
        )
        .with_details(json!({ "parameter": parameter }))
    }

    pub fn not_queryable(parameter: &str, field: &str) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            Layer::Validation,
            "VALIDATION_FIELD_NOT_QUERYABLE",
            "This field cannot be filtered or sorted on",
        )
        .with_details(json!({ "parameter": parameter, "field": field }))
    }

    pub fn invalid_json(message: &str) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            Layer::Validation,
            "INVALID_JSON",
            message,
        )
    }

    pub fn payload_too_large() -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            Layer::Validation,
            "PAYLOAD_TOO_LARGE",
            "Request body exceeds 1 MiB",
        )
    }

    /// An uploaded file past its column's `max-size` (SPEC §13): refused as soon as the
    /// limit is crossed, nothing stored.
    pub fn file_too_large(column: &str, max_size: u64) -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            Layer::Validation,
            "PAYLOAD_TOO_LARGE",
            format!("`{column}` is larger than its limit of {max_size} bytes"),
        )
        .with_details(json!({ "field": column, "maxSize": max_size }))
    }

    /// An uploaded file whose content is none of its column's `types` (SPEC §13); `found` is
    /// what its bytes are, whatever the client said.
    pub fn file_type_not_allowed(column: &str, found: &str, allowed: &[String]) -> Self {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Layer::Validation,
            "FILE_TYPE_NOT_ALLOWED",
            format!("`{column}` does not accept {found} content"),
        )
        .with_details(json!({ "field": column, "type": found, "allowed": allowed }))
    }

    /// The file store could not be read or written: nothing was changed.
    pub fn file_store_unavailable(cause: impl std::fmt::Display) -> Self {
        tracing::warn!(%cause, "file store unavailable");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            Layer::Database,
            "FILE_STORE_UNAVAILABLE",
            "The file store cannot be reached or written; retry later",
        )
    }

    pub fn upsert_not_allowed() -> Self {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            Layer::Validation,
            "UPSERT_NOT_ALLOWED",
            "PUT (upsert) is not served for this table",
        )
    }

    pub fn batch_disabled() -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            Layer::Batch,
            "BATCH_DISABLED",
            "Batch endpoints are disabled for this table",
        )
    }

    pub fn batch_size_exceeded(max: u32, actual: usize) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            Layer::Batch,
            "BATCH_SIZE_EXCEEDED",
            format!("A batch may carry at most {max} records"),
        )
        .with_details(json!({ "max": max, "actual": actual }))
    }

    pub fn batch_atomic_not_allowed() -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            Layer::Batch,
            "BATCH_ATOMIC_NOT_ALLOWED",
            "Atomic batches are not allowed for this table",
        )
    }

    pub fn batch_missing_ids(indices: &[usize]) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            Layer::Batch,
            "BATCH_MISSING_IDS",
            "Every record of this batch needs an `id`",
        )
        .with_details(json!({ "indices": indices }))
    }

    /// An atomic batch stopped at record `index`; `reason` is that record's own error.
    pub fn batch_atomic_failed(index: usize, reason: &ApiError) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            Layer::Batch,
            "BATCH_ATOMIC_FAILED",
            "The atomic batch failed; nothing was written",
        )
        .with_details(json!({ "failedAt": index, "reason": reason.envelope() }))
    }

    pub fn unique_violation() -> Self {
        ApiError::new(
            StatusCode::CONFLICT,
            Layer::Database,
            "UNIQUE_VIOLATION",
            "A record with this value already exists",
        )
    }

    /// A NOT NULL constraint the validation layer did not catch (a column it cannot see).
    pub fn required_missing() -> Self {
        ApiError::validation(
            "VALIDATION_REQUIRED",
            "A required field is missing",
            json!({}),
        )
    }

    /// `If-Match` or `If-None-Match` not met (SPEC §5.7): the record is not the version the
    /// client named; nothing was written.
    pub fn precondition_failed() -> Self {
        ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            Layer::Database,
            "PRECONDITION_FAILED",
            "The record is not the version this request was conditional on; nothing was changed",
        )
        .with_hint("Read the record again (its ETag is its version) and retry with the new one")
    }

    /// Too many `what` (SPEC §5.7): the answer's `Retry-After` is `retry_after` seconds, and
    /// so is `details.retryAfter`.
    pub fn rate_limited(what: &str, retry_after: u64) -> Self {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            Layer::Server,
            "RATE_LIMITED",
            format!("Too many {what}; retry after `Retry-After` seconds"),
        )
        .with_details(json!({ "retryAfter": retry_after }))
    }

    /// The database could not take the write now: SQLite's lock stayed busy past its timeout, or
    /// a Postgres transaction kept losing serialization races. Nothing was changed; retrying is
    /// safe.
    pub fn busy() -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            Layer::Database,
            "DATABASE_BUSY",
            "The database is busy; nothing was changed, retry the request",
        )
    }

    /// The database cannot be reached or written (connection refused or lost, disk full, a
    /// read-only file): nothing was changed; another instance, or this one later, may answer.
    /// The cause is logged once per outage, not once per request (`outage`).
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        outage::report(&cause);
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            Layer::Database,
            "DATABASE_UNAVAILABLE",
            "The database cannot be reached or written; retry later",
        )
    }

    /// The request's deadline, or a database statement's, passed.
    pub fn timeout() -> Self {
        ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            Layer::Server,
            "TIMEOUT",
            "The request took too long and was abandoned",
        )
    }

    pub fn reference_violation(fields: Option<Vec<String>>) -> Self {
        let e = ApiError::new(
            StatusCode::CONFLICT,
            Layer::Database,
            "REFERENCE_VIOLATION",
            "A referenced record does not exist or is still referenced",
        );
        match fields {
            Some(f) => e.with_details(json!({ "fields": f })),
            None => e,
        }
    }

    /// A record action's `access` conditions or a transition's `from` states do not admit the
    /// row's current state.
    pub fn not_allowed_for_state(details: Option<Value>) -> Self {
        let e = ApiError::new(
            StatusCode::CONFLICT,
            Layer::Access,
            "ACCESS_ACTION_NOT_ALLOWED_FOR_STATE",
            "This action is not allowed in the record's current state",
        );
        match details {
            Some(d) => e.with_details(d),
            None => e,
        }
    }

    /// A transition's compare-and-set found the row changed since it was read.
    pub fn transition_lost() -> Self {
        ApiError::new(
            StatusCode::CONFLICT,
            Layer::Access,
            "ACCESS_TRANSITION_LOST",
            "The record changed while this action ran; another transition won",
        )
    }

    /// A `require` step's own error (layer `action`); the status is 4xx by construction.
    pub fn action(error: &ward_ir::ActionError) -> Self {
        let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut e = ApiError::new(status, Layer::Action, "", error.message.clone());
        e.code = std::borrow::Cow::Owned(error.code.clone());
        e
    }

    /// A method the route does not serve (`Allow` lists those it does).
    pub fn method_not_allowed() -> Self {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            Layer::Server,
            "METHOD_NOT_ALLOWED",
            "This route does not serve this method",
        )
    }

    /// Logs `cause` under a fresh request id; the client sees only the id.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let request_id = uuid::Uuid::now_v7().to_string();
        tracing::error!(request_id = %request_id, "internal error: {cause}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            Layer::Internal,
            "INTERNAL",
            "Internal error",
        )
        .with_details(json!({ "requestId": request_id }))
    }

    /// The envelope as JSON text.
    pub fn body(&self) -> String {
        if self.code == "NOT_FOUND" {
            return NOT_FOUND_BODY.to_owned();
        }
        self.envelope().to_string()
    }

    /// The envelope as a JSON value (batch responses embed it per record).
    pub fn envelope(&self) -> Value {
        if self.code == "NOT_FOUND" {
            // The same fixed body, field for field: nothing about the id or the cause.
            return json!({ "error": "Record not found", "layer": "firewall", "code": "NOT_FOUND" });
        }
        let mut m = Map::new();
        m.insert("error".into(), Value::String(self.message.clone()));
        m.insert("layer".into(), Value::String(self.layer.name().into()));
        m.insert("code".into(), Value::String(self.code.to_string()));
        if let Some(d) = &self.details {
            m.insert("details".into(), Value::clone(d));
        }
        if let Some(h) = &self.hint {
            m.insert("hint".into(), Value::String(h.clone()));
        }
        Value::Object(m)
    }
}

/// One log line per database outage: the first failure is logged with its cause; failures
/// within [`QUIET`] of the last report are counted, not logged, and the next report says how
/// many there were. An outage of a few seconds is one line, not thousands.
mod outage {
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    const QUIET: Duration = Duration::from_secs(30);

    /// When the last report was written, and the failures since.
    static LAST: Mutex<Option<(Instant, u64)>> = Mutex::new(None);

    pub(super) fn report(cause: &dyn std::fmt::Display) {
        let mut last = LAST
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(since) = due(&mut last, Instant::now()) {
            tracing::error!(
                "database unavailable: {cause} ({since} more failure(s) since the last report)"
            );
        }
    }

    /// Whether a failure at `now` is reported, with the failures counted since the last report;
    /// `None` counts it instead.
    fn due(last: &mut Option<(Instant, u64)>, now: Instant) -> Option<u64> {
        match last {
            Some((at, quiet)) if now.duration_since(*at) < QUIET => {
                *quiet += 1;
                None
            }
            _ => {
                let since = last.map_or(0, |(_, n)| n);
                *last = Some((now, 0));
                Some(since)
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn an_outage_is_one_report_however_many_requests_fail() {
            let start = Instant::now();
            let mut last = None;
            assert_eq!(due(&mut last, start), Some(0));
            for ms in 1..3000 {
                assert_eq!(due(&mut last, start + Duration::from_millis(ms)), None);
            }
            // The next outage is reported again, with the count of the quiet ones.
            assert_eq!(
                due(&mut last, start + QUIET + Duration::from_secs(1)),
                Some(2999)
            );
        }
    }
}
