//! Layer 1, auth: who the caller is, from the scenario's caller spec alone (SPEC §2.2, §5.4 and
//! docs/decisions.md: roles are exact, unknown role names are ignored, an invalid token is never
//! downgraded to anonymous).

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use ward_ir::{CLAIM_ROLES, CLAIM_USER_ID, Ir, ROLE_AUTHENTICATED, ROLE_PUBLIC};

use super::errors::Fail;
use crate::cases::{TokenKind, User};
use crate::scenario::CallerSpec;

/// The caller as the policy sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Who {
    pub authenticated: bool,
    pub user_id: Option<String>,
    /// Declared roles the token carries.
    pub roles: Vec<String>,
    /// Auth value name (`user-id`, `org-id`, …) → value.
    pub values: BTreeMap<String, String>,
}

impl Who {
    pub fn has_any(&self, roles: &[String]) -> bool {
        roles.iter().any(|r| {
            r == ROLE_PUBLIC
                || (r == ROLE_AUTHENTICATED && self.authenticated)
                || self.roles.contains(r)
        })
    }

    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// `createdBy`/`modifiedBy`/`deletedBy`: the user id, or `null` for anonymous callers.
    pub fn stamp(&self) -> Value {
        self.user_id.clone().map_or(Value::Null, Value::String)
    }
}

/// The caller of a request, or the 401 its token earns.
pub fn who(ir: &Ir, caller: &CallerSpec) -> Result<Who, Fail> {
    match caller {
        CallerSpec::Anonymous => Ok(Who::default()),
        // An empty user id or scope value is no identity (SPEC §5.7).
        CallerSpec::User(user) | CallerSpec::Broken(user, TokenKind::Valid)
            if empty_identity(ir, user) =>
        {
            Err(Fail::auth_invalid())
        }
        CallerSpec::User(user) | CallerSpec::Broken(user, TokenKind::Valid) => {
            Ok(user_who(ir, user))
        }
        // Far more than any leeway: `ward test` mints them an hour old.
        CallerSpec::Broken(user, TokenKind::Expired) if ir.auth.jwt.leeway_seconds >= 3600 => {
            Ok(user_who(ir, user))
        }
        CallerSpec::Broken(_, TokenKind::Expired) => Err(Fail::auth_expired()),
        CallerSpec::Broken(_, _) => Err(Fail::auth_invalid()),
    }
}

/// Whether `user`'s token carries an empty user id or an empty value a firewall scopes by.
fn empty_identity(ir: &Ir, user: &User) -> bool {
    user.sub.is_empty()
        || user.claims.iter().any(|(name, value)| {
            value.is_empty()
                && ir
                    .tables
                    .iter()
                    .any(|t| t.firewall.scopes.iter().any(|s| &s.auth == name))
        })
}

/// A valid token's caller: the claims a token for `user` carries, read back through the project's
/// `claims` mapping.
pub fn user_who(ir: &Ir, user: &User) -> Who {
    let auth = &ir.auth;
    let mut claims = Map::new();
    claims.insert(
        auth.user_id_claim().to_owned(),
        Value::from(user.sub.clone()),
    );
    claims.insert(
        auth.roles_claim().to_owned(),
        Value::from(user.roles.clone()),
    );
    for (name, value) in &user.claims {
        let claim = auth.claims.get(name).map_or(name.as_str(), String::as_str);
        claims.insert(claim.to_owned(), Value::from(value.clone()));
    }
    let mut values = BTreeMap::new();
    for (name, claim) in &auth.claims {
        if name == CLAIM_ROLES {
            continue;
        }
        if let Some(v) = claims.get(claim).and_then(Value::as_str) {
            values.insert(name.clone(), v.to_owned());
        }
    }
    let mut roles: Vec<String> = Vec::new();
    let token_roles: Vec<String> = match claims.get(auth.roles_claim()) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    };
    for r in token_roles {
        if ir.roles.contains(&r) && !roles.contains(&r) {
            roles.push(r);
        }
    }
    Who {
        authenticated: true,
        user_id: values.get(CLAIM_USER_ID).cloned(),
        roles,
        values,
    }
}
