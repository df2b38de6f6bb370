//! The errors the model predicts: status, layer, code and the details the SPEC fixes. Messages
//! are free text and never predicted.

use std::borrow::Cow;

use serde_json::{Map, Value, json};

use super::adopt::{ANY, ENVELOPE};

#[derive(Debug, Clone, PartialEq)]
pub struct Fail {
    pub status: u16,
    pub layer: &'static str,
    pub code: Cow<'static, str>,
    /// `None`: not predicted (free-form, e.g. an auth failure's reason).
    pub details: Option<Value>,
}

/// The one fixed not-found body (SPEC §5.4): byte-identical for every cause.
pub fn not_found_body() -> Value {
    json!({"error": "Record not found", "layer": "firewall", "code": "NOT_FOUND"})
}

impl Fail {
    fn new(status: u16, layer: &'static str, code: &'static str, details: Option<Value>) -> Fail {
        Fail {
            status,
            layer,
            code: Cow::Borrowed(code),
            details,
        }
    }

    /// A `require` step's own error (an action's or a trigger's): layer `action`, the project's
    /// code and status.
    pub fn action(e: &ward_ir::ActionError) -> Fail {
        Fail {
            status: e.status,
            layer: "action",
            code: Cow::Owned(e.code.clone()),
            details: None,
        }
    }

    /// The expected body: the exact fixed body for `NOT_FOUND`, else an envelope pattern.
    pub fn expected(&self) -> Value {
        if self.code == "NOT_FOUND" {
            return not_found_body();
        }
        let mut m = Map::new();
        m.insert(ENVELOPE.into(), Value::Bool(true));
        m.insert("layer".into(), json!(self.layer));
        m.insert("code".into(), json!(self.code));
        if let Some(d) = &self.details {
            m.insert("details".into(), d.clone());
        }
        Value::Object(m)
    }

    pub fn not_found() -> Fail {
        Fail::new(404, "firewall", "NOT_FOUND", None)
    }
    pub fn firewall_not_found() -> Fail {
        Fail::new(403, "firewall", "FIREWALL_NOT_FOUND", None)
    }
    pub fn scope_missing(claim: &str) -> Fail {
        Fail::new(
            403,
            "firewall",
            "FIREWALL_SCOPE_MISSING",
            Some(json!({ "claim": claim })),
        )
    }
    pub fn auth_missing() -> Fail {
        Fail::new(401, "auth", "AUTH_MISSING", None)
    }
    pub fn auth_invalid() -> Fail {
        Fail::new(401, "auth", "AUTH_INVALID_TOKEN", None)
    }
    pub fn auth_expired() -> Fail {
        Fail::new(401, "auth", "AUTH_EXPIRED", None)
    }
    pub fn role_required(required: &[String], current: &[String]) -> Fail {
        Fail::new(
            403,
            "access",
            "ACCESS_ROLE_REQUIRED",
            Some(json!({ "required": required, "current": current })),
        )
    }
    pub fn not_allowed_for_state(details: Option<Value>) -> Fail {
        Fail::new(
            409,
            "access",
            "ACCESS_ACTION_NOT_ALLOWED_FOR_STATE",
            details,
        )
    }
    pub fn transition_lost() -> Fail {
        Fail::new(409, "access", "ACCESS_TRANSITION_LOST", None)
    }
    pub fn precondition_failed() -> Fail {
        Fail::new(412, "database", "PRECONDITION_FAILED", None)
    }
    pub fn condition_failed() -> Fail {
        Fail::new(403, "access", "ACCESS_CONDITION_FAILED", None)
    }
    pub fn check_failed() -> Fail {
        Fail::new(403, "access", "ACCESS_CHECK_FAILED", None)
    }
    pub fn guard(code: &'static str, fields: &[String]) -> Fail {
        let details = if code == "GUARD_FIELD_PROTECTED" {
            json!({ "fields": fields, "actions": ANY })
        } else {
            json!({ "fields": fields })
        };
        Fail::new(400, "guards", code, Some(details))
    }
    pub fn unknown_fields(fields: &[String]) -> Fail {
        Fail::new(
            400,
            "validation",
            "VALIDATION_UNKNOWN_FIELD",
            Some(json!({ "fields": fields })),
        )
    }
    /// Value validation: the first failing field's code, every failing field in `details.fields`.
    pub fn validation(failures: &[(String, &'static str)]) -> Fail {
        let code = failures.first().map_or("VALIDATION_TYPE", |f| f.1);
        let fields: Map<String, Value> = failures
            .iter()
            .map(|(name, code)| (name.clone(), json!({ "code": code, "message": ANY })))
            .collect();
        Fail::new(400, "validation", code, Some(json!({ "fields": fields })))
    }
    pub fn bad_query(parameter: &str) -> Fail {
        Fail::new(
            400,
            "validation",
            "VALIDATION_BAD_QUERY",
            Some(json!({ "parameter": parameter })),
        )
    }
    pub fn not_queryable(parameter: &str, field: &str) -> Fail {
        Fail::new(
            400,
            "validation",
            "VALIDATION_FIELD_NOT_QUERYABLE",
            Some(json!({ "parameter": parameter, "field": field })),
        )
    }
    pub fn invalid_json() -> Fail {
        Fail::new(400, "validation", "INVALID_JSON", None)
    }
    pub fn payload_too_large() -> Fail {
        Fail::new(413, "validation", "PAYLOAD_TOO_LARGE", None)
    }
    pub fn upsert_not_allowed() -> Fail {
        Fail::new(405, "validation", "UPSERT_NOT_ALLOWED", None)
    }
    pub fn batch_disabled() -> Fail {
        Fail::new(400, "batch", "BATCH_DISABLED", None)
    }
    pub fn batch_size_exceeded(max: u32, actual: usize) -> Fail {
        Fail::new(
            400,
            "batch",
            "BATCH_SIZE_EXCEEDED",
            Some(json!({ "max": max, "actual": actual })),
        )
    }
    pub fn batch_atomic_not_allowed() -> Fail {
        Fail::new(400, "batch", "BATCH_ATOMIC_NOT_ALLOWED", None)
    }
    pub fn batch_missing_ids(indices: &[usize]) -> Fail {
        Fail::new(
            400,
            "batch",
            "BATCH_MISSING_IDS",
            Some(json!({ "indices": indices })),
        )
    }
    pub fn batch_atomic_failed(index: usize, reason: &Fail) -> Fail {
        Fail::new(
            400,
            "batch",
            "BATCH_ATOMIC_FAILED",
            Some(json!({ "failedAt": index, "reason": reason.expected() })),
        )
    }
    pub fn unique_violation() -> Fail {
        Fail::new(409, "database", "UNIQUE_VIOLATION", None)
    }
    pub fn reference_violation(fields: Option<&[String]>) -> Fail {
        Fail::new(
            409,
            "database",
            "REFERENCE_VIOLATION",
            fields.map(|f| json!({ "fields": f })),
        )
    }
}
