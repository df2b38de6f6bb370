//! Which statuses each operation can answer, decided from the IR (SPEC §5.1: every status the
//! server can answer is in the document, and none it cannot).

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json, json};
use ward_ir::{
    ActionError, IdKind, Ir, OnDelete, Operation, Step, Table, TriggerEvent, TriggerPhase,
    all_steps,
};

use super::callers;
use super::schemas::reference;

/// An operation's answers: status → response object.
#[derive(Debug, Default)]
pub struct Responses(BTreeMap<u16, Json>);

impl Responses {
    pub fn success(mut self, status: u16, description: &str, body: Json) -> Self {
        self.0.insert(
            status,
            json!({"description": description, "content": {"application/json": {"schema": body}}}),
        );
        self
    }

    /// A 200 that a matching `If-None-Match` turns into a bodiless 304.
    pub fn with_etag(mut self) -> Self {
        let etag = json!({"ETag": {"description": "Validator of the body: weak, except on a plain `GET /api/T/{id}` (no `fields`, no `expand`), where it is strong and is the record's version for `If-Match`", "schema": {"type": "string"}}});
        if let Some(ok) = self.0.get_mut(&200) {
            ok["headers"] = etag.clone();
        }
        self.0.insert(
            304,
            json!({"description": "Not modified: `If-None-Match` matched the ETag", "headers": etag}),
        );
        self
    }

    /// A 200 Server-Sent Events stream (SPEC §12).
    pub fn stream(mut self, description: &str) -> Self {
        self.0.insert(
            200,
            json!({
                "description": description,
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            }),
        );
        self
    }

    /// An error status, once (the first description stays).
    pub fn error(mut self, status: u16, description: &str) -> Self {
        self.0.entry(status).or_insert_with(|| {
            let mut r = json!({
                "description": description,
                "content": {"application/json": {"schema": reference("Error")}},
            });
            if status == 503 || status == 429 {
                r["headers"] = json!({"Retry-After": {"description": "Seconds", "schema": {"type": "integer"}}});
            }
            r
        });
        self
    }

    pub fn error_if(self, on: bool, status: u16, description: &str) -> Self {
        if on {
            self.error(status, description)
        } else {
            self
        }
    }

    /// An operation no caller may perform (no rule grants it to anyone): the role check answers
    /// before anything is read.
    pub fn refused(what: &str) -> Self {
        Responses::default().error(401, UNAUTHENTICATED).error(
            403,
            &format!("ACCESS_ROLE_REQUIRED: no rule lets any caller {what}"),
        )
    }

    /// What every `/api` operation can answer: a bad token (always 401), and the database's
    /// failures.
    pub fn api(self) -> Self {
        self.error(401, UNAUTHENTICATED)
            .error(
                429,
                "RATE_LIMITED: too many refused tokens from this address, or requests past a declared `rate-limit`; retry after `Retry-After`",
            )
            .error(500, "INTERNAL, with `details.requestId`")
            .error(
                503,
                "DATABASE_BUSY or DATABASE_UNAVAILABLE: retry after `Retry-After`",
            )
            .error(504, "TIMEOUT: the request's deadline passed")
    }

    /// The project's own `require … error CODE status=N` errors among `steps`.
    pub fn custom(mut self, steps: &[&Step]) -> Self {
        let mut by_status: BTreeMap<u16, Vec<&ActionError>> = BTreeMap::new();
        for s in steps {
            if let Step::Require { error, .. } = s {
                by_status.entry(error.status).or_default().push(error);
            }
        }
        for (status, errors) in by_status {
            let codes: Vec<&str> = errors.iter().map(|e| e.code.as_str()).collect();
            let description = format!("The project's own error ({})", codes.join(", "));
            match self.0.get_mut(&status) {
                Some(existing) => {
                    let text = existing["description"].as_str().unwrap_or_default();
                    existing["description"] = json!(format!("{text}; or {description}"));
                }
                None => self = self.error(status, &description),
            }
        }
        self
    }

    pub fn build(self) -> Json {
        let map: Map<String, Json> = self
            .0
            .into_iter()
            .map(|(status, r)| (status.to_string(), r))
            .collect();
        Json::Object(map)
    }
}

const UNAUTHENTICATED: &str = "No valid token: AUTH_MISSING (none sent where one is needed), AUTH_INVALID_TOKEN, AUTH_EXPIRED";
pub const BAD_QUERY: &str =
    "Invalid query parameters (VALIDATION_BAD_QUERY, VALIDATION_FIELD_NOT_QUERYABLE)";
pub const BAD_BODY: &str =
    "Invalid body: INVALID_JSON, GUARD_* (fields the client may not write), VALIDATION_* (values)";
pub const NOT_ALLOWED: &str =
    "Not allowed: ACCESS_ROLE_REQUIRED, ACCESS_CONDITION_FAILED, ACCESS_CHECK_FAILED, FIREWALL_*";
pub const NOT_FOUND: &str =
    "Not found, or not visible to the caller: one fixed body, whatever the cause";
pub const TOO_LARGE: &str = "Body over 1 MiB (PAYLOAD_TOO_LARGE)";
pub const PRECONDITION: &str =
    "PRECONDITION_FAILED: `If-Match` or `If-None-Match` not met; nothing was written";

/// Steps of `t`'s `before`/`during` triggers on `event`: they run inside the request.
pub fn trigger_steps(t: &Table, event: TriggerEvent) -> Vec<&Step> {
    t.triggers
        .iter()
        .filter(|tr| tr.event == event && tr.phase != TriggerPhase::After)
        .flat_map(|tr| all_steps(&tr.steps))
        .collect()
}

/// Whether `steps` write anything (a write's values are validated: 400).
pub fn writes(steps: &[&Step]) -> bool {
    steps.iter().any(|s| {
        matches!(
            s,
            Step::Insert { .. }
                | Step::Update { .. }
                | Step::Delete { .. }
                | Step::Transition { .. }
        )
    })
}

/// 403s of one operation on `t`: a token the rule refuses, a missing scope claim, a `reveal`
/// table's FIREWALL_NOT_FOUND, and the rule's conditions.
pub fn forbidden(ir: &Ir, t: &Table, op: Operation, by_id: bool) -> bool {
    let rule = t.access.rule(op);
    callers::refuses_a_token(ir, rule)
        || !t.firewall.scopes.is_empty()
        || (by_id && t.firewall.error_mode == ward_ir::ErrorMode::Reveal)
        || rule.is_some_and(|r| r.check.is_some())
        || (matches!(
            op,
            Operation::Update | Operation::Delete | Operation::Restore
        ) && callers::has_row_condition(ir, rule))
}

/// Whether writing `columns` of `t` can meet a constraint (409): a reference among them (its
/// target may be missing or invisible), or a unique index over one of them.
pub fn constrained<'c>(t: &Table, columns: impl IntoIterator<Item = &'c String>) -> bool {
    columns.into_iter().any(|name| {
        t.column(name).is_some_and(|c| c.references.is_some())
            || t.indexes
                .iter()
                .any(|i| i.unique && i.columns.contains(name))
    })
}

/// Whether creating a row of `t` can meet a constraint: a reference it may set, any unique index
/// (defaults and stamps count too), or a client-chosen id that exists already.
pub fn conflicts_on_create(t: &Table) -> bool {
    t.id == IdKind::Text
        || t.indexes.iter().any(|i| i.unique)
        || constrained(t, &t.guards.createable)
}

/// Whether updating a row of `t` can meet a constraint on the columns a client may update.
pub fn conflicts_on_update(t: &Table) -> bool {
    constrained(t, &t.guards.updatable)
}

/// Whether a step can answer 409: a compare-and-set (a transition, or a write to the action's own
/// row that another request may have changed or removed first), a write meeting a constraint, or
/// a delete a `restrict` reference refuses.
pub fn step_conflicts(ir: &Ir, s: &Step) -> bool {
    match s {
        Step::Transition { .. }
        | Step::Update { table: None, .. }
        | Step::Delete { table: None, .. } => true,
        Step::Insert { table, set } => ir.table(table).is_some_and(|t| {
            t.id == IdKind::Text
                || t.indexes.iter().any(|i| i.unique)
                || constrained(t, set.iter().map(|a| &a.column))
        }),
        Step::Update {
            table: Some(table),
            set,
            ..
        } => ir
            .table(table)
            .is_some_and(|t| constrained(t, set.iter().map(|a| &a.column))),
        Step::Delete {
            table: Some(table), ..
        } => ir.table(table).is_some_and(|t| restricted(ir, t)),
        _ => false,
    }
}

/// Whether deleting a row of `t` can be refused by a `restrict` reference: one pointing at `t`,
/// or at a table a delete of `t` cascades to.
pub fn restricted(ir: &Ir, t: &Table) -> bool {
    let mut reached = vec![t.name.as_str()];
    let mut at = 0;
    while let Some(name) = reached.get(at).copied() {
        at += 1;
        for child in &ir.tables {
            for c in &child.columns {
                let Some(r) = c.references.as_ref().filter(|r| r.table == name) else {
                    continue;
                };
                match r.on_delete {
                    OnDelete::Restrict => return true,
                    OnDelete::Cascade if !reached.contains(&child.name.as_str()) => {
                        reached.push(&child.name);
                    }
                    _ => {}
                }
            }
        }
    }
    false
}

/// Whether restoring a row of `t` can find it pointing at a soft-deleted row.
pub fn may_dangle(ir: &Ir, t: &Table) -> bool {
    t.columns.iter().any(|c| {
        c.references
            .as_ref()
            .and_then(|r| ir.table(&r.table))
            .is_some_and(|target| target.delete == ward_ir::DeleteMode::Soft)
    })
}
