//! Fixtures for unit tests: a small table built from IR JSON.

use serde_json::{Value, json};

use crate::snapshot::Snapshot;

fn col(name: &str, ty: &str, system: bool, required: bool) -> Value {
    json!({"name": name, "type": ty, "system": system, "required": required, "default": null,
           "unique": false, "min": null, "max": null, "min_length": null, "max_length": null,
           "pattern": null, "one_of": [], "references": null, "searchable": false, "was": null,
           "description": null})
}

fn rule(roles: &[&str], when: Value) -> Value {
    json!({"roles": roles, "when": when, "check": null})
}

/// `rooms`: scoped by `org` (bypass: owner), `status`, `priority`; update needs member with
/// `ownerId = (auth)user-id`, or admin.
pub fn snapshot() -> Snapshot {
    snapshot_for(crate::sql::Dialect::Sqlite)
}

pub fn snapshot_for(dialect: crate::sql::Dialect) -> Snapshot {
    snapshot_with(dialect, json!([]))
}

/// [`snapshot`] with these `masks` (IR JSON) on `rooms`.
pub fn snapshot_with_masks(masks: Value) -> Snapshot {
    snapshot_with(crate::sql::Dialect::Sqlite, masks)
}

fn snapshot_with(dialect: crate::sql::Dialect, masks: Value) -> Snapshot {
    let role = |r: &[&str]| json!({"kind": "role", "roles": r});
    let owner_is_me = json!({"kind": "compare", "field": "ownerId", "op": "eq", "values": [{"kind": "auth", "value": "user-id"}]});
    let table = json!({
        "name": "rooms", "description": null, "id": "uuid",
        "columns": [col("id", "uuid", true, true), col("status", "text", false, false),
                    col("priority", "integer", false, false), col("ownerId", "text", false, false),
                    col("org", "text", false, false), col("createdAt", "datetime", true, true),
                    col("createdBy", "text", true, false), col("modifiedAt", "datetime", true, true),
                    col("modifiedBy", "text", true, false), col("deletedAt", "datetime", true, false),
                    col("deletedBy", "text", true, false)],
        "display": null, "relations": [], "indexes": [],
        "firewall": {"scopes": [{"column": "org", "auth": "org-id", "bypass": []}], "bypass": ["owner"], "error_mode": "hide"},
        "access": {
            "list": rule(&["member"], role(&["member"])),
            "read": null,
            "create": rule(&["admin"], role(&["admin"])),
            "update": rule(&["member", "admin"], json!({"kind": "any", "of": [
                role(&["admin"]),
                {"kind": "all", "of": [role(&["member"]), owner_is_me]}]})),
            "delete": null, "restore": null
        },
        "guards": {"open": false, "createable": ["status", "priority"], "updatable": ["status"], "immutable": [], "protected": []},
        "masks": masks, "delete": "soft", "batch": {"enabled": true, "max": 100, "atomic": true},
        "page": {"default": 50, "max": 100}, "views": [], "actions": []
    });
    let ir = json!({"version": 1, "auth": {"jwt": {"key": {"kind": "secret", "env": "X"}, "issuer": null, "audience": null, "leeway_seconds": 30},
                    "claims": {"user-id": "sub", "roles": "roles", "org-id": "org_id"}},
                    "roles": ["viewer", "member", "admin", "owner"], "tables": [table], "actions": [], "hash": "h"});
    let ir: ward_ir::Ir = serde_json::from_value(ir).expect("fixture IR");
    Snapshot::build(ir, dialect).expect("fixture snapshot")
}

pub fn caller(user: Option<&str>, roles: &[&str], org: Option<&str>) -> crate::gate::Caller {
    let mut auth_values = std::collections::BTreeMap::new();
    if let Some(u) = user {
        auth_values.insert("user-id".to_string(), u.to_string());
    }
    if let Some(o) = org {
        auth_values.insert("org-id".to_string(), o.to_string());
    }
    crate::gate::Caller {
        authenticated: user.is_some(),
        user_id: user.map(String::from),
        roles: roles.iter().map(|s| s.to_string()).collect(),
        auth_values,
    }
}
