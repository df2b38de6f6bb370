//! What the policy decides for one statement, as plain data: who calls ([`Caller`]), the
//! firewall's `column = value` predicates ([`ScopeEq`]) and what is left of the access rule once
//! the caller's roles are known ([`Residual`]), together a [`Gate`]. `security/` makes them and
//! `sql/` renders them; neither needs the other.

use std::collections::BTreeMap;

use serde_json::Value as Json;
use ward_ir::{Condition, Literal, ROLE_AUTHENTICATED, ROLE_PUBLIC, Value};

/// Who is calling.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Caller {
    pub authenticated: bool,
    pub user_id: Option<String>,
    /// Declared roles from the token, in token order (unknown names dropped).
    pub roles: Vec<String>,
    /// Auth value name (`org-id`, `user-id`, …) → its value from the token.
    pub auth_values: BTreeMap<String, String>,
}

impl Caller {
    pub fn anonymous() -> Caller {
        Caller::default()
    }

    /// Whether the caller holds one of `roles` (exact names, plus the two pseudo-roles).
    pub fn has_any_role(&self, roles: &[String]) -> bool {
        roles.iter().any(|r| {
            r == ROLE_PUBLIC
                || (r == ROLE_AUTHENTICATED && self.authenticated)
                || self.roles.iter().any(|c| c == r)
        })
    }

    pub fn auth_value(&self, name: &str) -> Option<&str> {
        self.auth_values.get(name).map(String::as_str)
    }
}

/// One `column = value` predicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeEq {
    pub column: String,
    pub value: String,
}

/// What remains of a rule once the caller's roles are known.
#[derive(Debug, Clone, PartialEq)]
pub enum Residual {
    /// Every row passes.
    True,
    /// Rows pass when this role-free condition holds.
    Rows(Condition),
}

impl Residual {
    pub fn condition(&self) -> Option<&Condition> {
        match self {
            Residual::True => None,
            Residual::Rows(c) => Some(c),
        }
    }
}

/// What steps 2 and 3 leave for a statement on existing rows.
#[derive(Debug, Clone)]
pub struct Gate {
    pub scopes: Vec<ScopeEq>,
    pub residual: Residual,
}

/// Resolves a condition value for the caller; `None` when it needs an auth value they lack, or
/// a view parameter that was not bound to the request's value (matching nothing, failing closed).
pub fn resolve(v: &Value, caller: &Caller, now: &str) -> Option<Json> {
    match v {
        Value::Literal(l) => Some(literal_json(l)),
        Value::Auth(name) => caller.auth_value(name).map(|s| Json::String(s.to_owned())),
        Value::Now => Some(Json::String(now.to_owned())),
        // Bound to literals by views and actions before evaluation; one left over matches nothing.
        Value::Param(_) | Value::Input(_) | Value::Record(_) | Value::Old(_) => None,
    }
}

pub fn literal_json(l: &Literal) -> Json {
    match l {
        Literal::Null => Json::Null,
        Literal::Boolean(b) => Json::Bool(*b),
        Literal::Integer(i) => Json::from(*i),
        Literal::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Literal::Text(s) => Json::String(s.clone()),
    }
}
