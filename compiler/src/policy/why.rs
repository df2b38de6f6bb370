//! Why a request was refused, as the declarations that decided it (SPEC §14): the console shows
//! the layer the runtime named and, from the IR's `sources`, the file:line of each rule behind it.
//!
//! A refusal already says its layer and code, and names its fields; with the route that was
//! called, that picks out the declarations without the runtime tracing anything per request.
//! Where several declarations together decide (a row not found may be out of scope, hidden by
//! the read rule, or soft-deleted) each is cited.

use serde::Serialize;
use serde_json::Value;
use ward_ir::{Condition, Ir, Operation, Table};

/// The refusal's layer and code, and the declarations behind it (none when no rule of the
/// project decides it: a malformed body, a timeout).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Why {
    pub layer: String,
    pub code: String,
    pub rules: Vec<Cited>,
}

/// One declaration, where it was written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cited {
    /// The IR's `sources` key (`tasks.access.update`).
    pub key: String,
    /// What it is, in words: "the `update` rule of `tasks`".
    pub what: String,
    pub file: String,
    pub line: u32,
}

/// The layers whose refusals the project's declarations decide; the coverage the conformance
/// suite measures is over these (less the body that is not JSON at all).
pub const POLICY_LAYERS: &[&str] = &[
    "auth",
    "firewall",
    "access",
    "guards",
    "validation",
    "batch",
    "action",
];

/// What a route names: the table it is on and what it does there.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    Operations(Vec<Operation>),
    View(String),
    Action(String),
}

struct Route {
    /// `None` for standalone actions.
    table: Option<String>,
    target: Target,
    /// `/api/subscribe?tables=a,b`: the other tables of the stream.
    also: Vec<String>,
}

/// The declarations behind `answer`, the error envelope `method path` was refused with.
pub fn why(ir: &Ir, method: &str, path: &str, answer: &Value) -> Why {
    let text = |k: &str| answer.get(k).and_then(Value::as_str).unwrap_or_default();
    let (layer, code) = (text("layer").to_owned(), text("code").to_owned());
    let details = answer.get("details").unwrap_or(&Value::Null);
    let mut cites = Cites {
        ir,
        out: Vec::new(),
    };
    if let Some(route) = route(method, path) {
        cites.refusal(&route, &layer, &code, details);
    }
    Why {
        layer,
        code,
        rules: cites.out,
    }
}

fn route(method: &str, path: &str) -> Option<Route> {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let rest = path.strip_prefix("/api/")?;
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let method = method.to_ascii_uppercase();
    let ops = |ops: &[Operation]| Target::Operations(ops.to_vec());
    let by_method = || match method.as_str() {
        "GET" | "HEAD" => ops(&[Operation::Read]),
        "PATCH" => ops(&[Operation::Update]),
        "PUT" => ops(&[Operation::Create, Operation::Update]),
        "DELETE" => ops(&[Operation::Delete]),
        _ => ops(&[]),
    };
    let on = |table: &str, target: Target| Route {
        table: Some(table.to_owned()),
        target,
        also: Vec::new(),
    };
    Some(match segments.as_slice() {
        ["actions", action] => Route {
            table: None,
            target: Target::Action((*action).to_owned()),
            also: Vec::new(),
        },
        ["subscribe"] => {
            let tables = query
                .split('&')
                .find_map(|p| p.strip_prefix("tables="))
                .unwrap_or_default();
            let mut names = tables
                .split(',')
                .filter(|t| !t.is_empty())
                .map(str::to_owned);
            let first = names.next()?;
            Route {
                table: Some(first),
                target: ops(&[Operation::List]),
                also: names.collect(),
            }
        }
        [table] if method == "POST" => on(table, ops(&[Operation::Create])),
        [table] | [table, "subscribe" | "schema"] => on(table, ops(&[Operation::List])),
        [table, "batch"] => on(
            table,
            match method.as_str() {
                "POST" => ops(&[Operation::Create]),
                _ => by_method(),
            },
        ),
        [table, "views", view] => on(table, Target::View((*view).to_owned())),
        [table, _id] => on(table, by_method()),
        [table, _id, "restore"] => on(table, ops(&[Operation::Restore])),
        [table, _id, "history"] => on(table, ops(&[Operation::History])),
        [table, _id, "file", _column, ..] => on(table, ops(&[Operation::Read])),
        [table, _id, action] => on(table, Target::Action((*action).to_owned())),
        _ => return None,
    })
}

struct Cites<'a> {
    ir: &'a Ir,
    out: Vec<Cited>,
}

impl Cites<'_> {
    /// Cite `key` if the IR knows where it was written; whether it did.
    fn cite(&mut self, key: String, what: String) -> bool {
        let Some(at) = self.ir.sources.get(&key) else {
            return false;
        };
        if !self.out.iter().any(|c| c.key == key) {
            self.out.push(Cited {
                key,
                what,
                file: at.file.clone(),
                line: at.line,
            });
        }
        true
    }

    fn refusal(&mut self, route: &Route, layer: &str, code: &str, details: &Value) {
        if code == "AUTH_INVALID_TOKEN" || code == "AUTH_EXPIRED" {
            self.cite(
                "auth".into(),
                "the `auth` block that verifies tokens".into(),
            );
            return;
        }
        if code == "RATE_LIMITED" {
            self.cite("server".into(), "the `server` block's limits".into());
            return;
        }
        // Unknown routes, deadlines and internal errors are no declaration's doing.
        if !POLICY_LAYERS.contains(&layer) && layer != "database" {
            return;
        }
        let table = route.table.as_deref().and_then(|t| self.ir.table(t));
        let Some(t) = table else {
            if let (None, Target::Action(a)) = (&route.table, &route.target) {
                self.action(&format!("action.{a}"), a, code, layer);
            }
            return;
        };
        let fields = fields(details);
        match code {
            "AUTH_MISSING"
            | "ACCESS_ROLE_REQUIRED"
            | "ACCESS_CONDITION_FAILED"
            | "ACCESS_CHECK_FAILED" => {
                self.access(t, &route.target);
                for other in &route.also {
                    if let Some(o) = self.ir.table(other) {
                        self.access(o, &route.target);
                    }
                }
            }
            "NOT_FOUND" | "FIREWALL_NOT_FOUND" | "FIREWALL_SCOPE_MISSING" => {
                self.hidden(t, &route.target, code)
            }
            "ACCESS_ACTION_NOT_ALLOWED_FOR_STATE" | "ACCESS_TRANSITION_LOST" => {
                if let Target::Action(a) = &route.target {
                    let key = format!("{}.action.{a}", t.name);
                    self.cite(
                        format!("{key}.access"),
                        format!("the `access` of action `{a}`"),
                    );
                    self.cite(key, format!("the action `{a}` of `{}`", t.name));
                }
            }
            "GUARD_SYSTEM_MANAGED" => {
                for f in &fields {
                    if !self.cite(
                        format!("{}.firewall.scope.{f}", t.name),
                        format!("the firewall scope on `{f}`, which the server sets"),
                    ) {
                        self.cite(
                            t.name.clone(),
                            format!("the table `{}`, whose `{f}` the server manages", t.name),
                        );
                    }
                }
            }
            "GUARD_FIELD_IMMUTABLE" | "GUARD_FIELD_PROTECTED" => {
                let list = if code == "GUARD_FIELD_IMMUTABLE" {
                    "immutable"
                } else {
                    "protected"
                };
                for f in &fields {
                    self.cite(
                        format!("{}.guard.{list}.{f}", t.name),
                        format!("`{f}` in the `{list}` guard of `{}`", t.name),
                    );
                }
            }
            "GUARD_FIELD_NOT_CREATEABLE" | "GUARD_FIELD_NOT_UPDATABLE" => {
                let list = if code == "GUARD_FIELD_NOT_CREATEABLE" {
                    "createable"
                } else {
                    "updatable"
                };
                let noun = format!("the `guards` of `{}`, whose `{list}` leaves out ", t.name);
                let named = fields.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>();
                self.cite(format!("{}.guards", t.name), noun + &named.join(", "));
            }
            "UPSERT_NOT_ALLOWED" => {
                self.cite(
                    t.name.clone(),
                    format!("the table `{}`, which does not serve PUT", t.name),
                );
            }
            "VALIDATION_BAD_QUERY" | "VALIDATION_FIELD_NOT_QUERYABLE" => {
                self.query(t, &route.target, code, details)
            }
            "VALIDATION_UNKNOWN_FIELD" => {
                let named = fields.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>();
                self.cite(
                    t.name.clone(),
                    format!(
                        "the table `{}`, which declares no {}",
                        t.name,
                        named.join(", ")
                    ),
                );
            }
            "UNIQUE_VIOLATION" => self.unique(t),
            "BATCH_ATOMIC_FAILED" => {
                self.batch(t);
                // The record that stopped the batch was refused as its own operation would be.
                let reason = details.get("reason").unwrap_or(&Value::Null);
                let inner = text(reason, "code");
                if !inner.starts_with("BATCH_") {
                    let details = reason.get("details").unwrap_or(&Value::Null);
                    self.refusal(route, text(reason, "layer"), inner, details);
                }
            }
            code if code.starts_with("BATCH_") => self.batch(t),
            _ => self.named(t, route, layer, code, &fields, details),
        }
    }

    /// Refusals that name columns, and custom errors of actions and triggers.
    fn named(
        &mut self,
        t: &Table,
        route: &Route,
        layer: &str,
        code: &str,
        fields: &[String],
        details: &Value,
    ) {
        if layer == "action" {
            match &route.target {
                Target::Action(a) => {
                    self.action(&format!("{}.action.{a}", t.name), a, code, layer);
                }
                Target::Operations(_) | Target::View(_) => self.triggers(t, code),
            }
            return;
        }
        let names_columns = code.starts_with("VALIDATION_")
            || code == "REFERENCE_VIOLATION"
            || code == "FILE_TYPE_NOT_ALLOWED"
            || code == "PAYLOAD_TOO_LARGE";
        if names_columns {
            let mut named = fields.to_vec();
            if let Some(f) = details.get("field").and_then(Value::as_str) {
                named.push(f.to_owned());
            }
            self.columns(t, &named);
        }
    }

    /// A query parameter refused: the view or the column it is about, the page limits, or the
    /// table's list when it names nothing declared.
    fn query(&mut self, t: &Table, target: &Target, code: &str, details: &Value) {
        let n = &t.name;
        let parameter = text(details, "parameter");
        let field = details
            .get("field")
            .and_then(Value::as_str)
            .unwrap_or_else(|| parameter.split('.').next().unwrap_or_default());
        if code == "VALIDATION_FIELD_NOT_QUERYABLE"
            && self.cite(
                format!("{n}.mask.{field}"),
                format!("the mask on `{field}`, which keeps it from filters"),
            )
        {
            return;
        }
        if let Target::View(v) = target {
            self.cite(
                format!("{n}.view.{v}"),
                format!("the view `{v}`, which declares the parameters it takes"),
            );
            return;
        }
        if t.column(field).is_some() {
            self.columns(t, &[field.to_owned()]);
        } else if ["limit", "offset", "cursor"].contains(&parameter) {
            if !self.cite(format!("{n}.page"), format!("the `page` limits of `{n}`")) {
                self.cite(
                    n.clone(),
                    format!("the table `{n}`, with the default page limits"),
                );
            }
        } else {
            self.cite(
                n.clone(),
                format!("the table `{n}`, whose columns are what a list filters and sorts by"),
            );
        }
    }

    /// Each declared column; a system column (`id`, `createdAt`, …) or a name the table does not
    /// have cites the table, which is where they are (not) declared.
    fn columns(&mut self, t: &Table, fields: &[String]) {
        let n = &t.name;
        for f in fields {
            if !self.cite(
                format!("{n}.column.{f}"),
                format!("the column `{f}` of `{n}`"),
            ) {
                let what = match t.column(f) {
                    Some(_) => format!("the table `{n}`, whose system column `{f}` this is"),
                    None => format!("the table `{n}`, which declares no `{f}`"),
                };
                self.cite(n.clone(), what);
            }
        }
    }

    /// The rule of each operation the route needs (or the view's, the action's), or the table
    /// when it has none: no rule is a refusal to everyone.
    fn access(&mut self, t: &Table, target: &Target) {
        let n = &t.name;
        let cited = match target {
            Target::Operations(ops) => {
                let mut any = false;
                for op in ops {
                    let mut key = format!("{n}.access.{}", op.name());
                    if *op == Operation::History && !self.ir.sources.contains_key(&key) {
                        key = format!("{n}.access.read");
                    }
                    any |= self.cite(key, format!("the `{}` rule of `{n}`", op.name()));
                }
                any
            }
            Target::View(v) => self.cite(
                format!("{n}.view.{v}.access"),
                format!("the `access` of view `{v}`"),
            ),
            Target::Action(a) => self.cite(
                format!("{n}.action.{a}.access"),
                format!("the `access` of action `{a}`"),
            ),
        };
        if !cited
            && !self.cite(
                format!("{n}.access"),
                format!("the `access` block of `{n}`"),
            )
        {
            self.cite(
                n.clone(),
                format!("the table `{n}`, which grants this to no one"),
            );
        }
    }

    /// A row this caller may not see: out of scope, refused by the read rule's conditions,
    /// soft-deleted, or not there at all — every declaration that can hide it.
    fn hidden(&mut self, t: &Table, target: &Target, code: &str) {
        let n = &t.name;
        let scopes: Vec<String> = t.firewall.scopes.iter().map(|s| s.column.clone()).collect();
        let mut cited = false;
        for c in &scopes {
            cited |= self.cite(
                format!("{n}.firewall.scope.{c}"),
                format!("the firewall scope on `{c}` of `{n}`"),
            );
        }
        if !cited {
            self.cite(format!("{n}.firewall"), format!("the firewall of `{n}`"));
        }
        if code == "FIREWALL_SCOPE_MISSING" {
            return;
        }
        if let Target::Operations(ops) = target {
            for op in ops {
                let conditional = t.access.rule(*op).is_some_and(|r| reads_rows(&r.when));
                if conditional {
                    self.access(t, &Target::Operations(vec![*op]));
                }
            }
        }
        if t.delete == ward_ir::DeleteMode::Soft
            && !self.cite(format!("{n}.delete"), format!("`delete soft` on `{n}`"))
        {
            self.cite(
                n.clone(),
                format!(
                    "the table `{n}`, whose deleted rows are kept hidden (soft delete, the default)"
                ),
            );
        }
        if self.out.is_empty() {
            self.cite(
                n.clone(),
                format!("the table `{n}`: no row with this id is there"),
            );
        }
    }

    fn unique(&mut self, t: &Table) {
        let n = &t.name;
        for c in t.columns.iter().filter(|c| c.unique) {
            self.cite(
                format!("{n}.column.{}", c.name),
                format!("the unique column `{}` of `{n}`", c.name),
            );
        }
        for i in t.indexes.iter().filter(|i| i.unique) {
            self.cite(
                format!("{n}.index.{}", i.columns.join(",")),
                format!("the unique index on {} of `{n}`", i.columns.join(", ")),
            );
        }
    }

    fn batch(&mut self, t: &Table) {
        let n = &t.name;
        if !self.cite(
            format!("{n}.batch"),
            format!("the `batch` settings of `{n}`"),
        ) {
            self.cite(
                n.clone(),
                format!("the table `{n}`, with the default batch settings"),
            );
        }
    }

    /// A record or standalone action: the `require` that raised the custom error, else its rule.
    fn action(&mut self, key: &str, name: &str, code: &str, layer: &str) {
        if layer == "action" {
            self.cite(
                format!("{key}.error.{code}"),
                format!("the `require` of action `{name}` that answers {code}"),
            );
            return;
        }
        if !self.cite(
            format!("{key}.access"),
            format!("the `access` of action `{name}`"),
        ) {
            self.cite(key.to_owned(), format!("the action `{name}`"));
        }
    }

    /// A custom error a trigger raised while the route wrote.
    fn triggers(&mut self, t: &Table, code: &str) {
        let prefix = format!("{}.on.", t.name);
        let suffix = format!(".error.{code}");
        let keys: Vec<String> = self
            .ir
            .sources
            .keys()
            .filter(|k| k.starts_with(&prefix) && k.ends_with(&suffix))
            .cloned()
            .collect();
        for key in keys {
            let what = format!(
                "the trigger `{}` that answers {code}",
                &key[..key.len() - suffix.len()]
            );
            self.cite(key, what);
        }
    }
}

/// Whether `c` looks at the row, not only at the caller's roles.
fn reads_rows(c: &Condition) -> bool {
    match c {
        Condition::All { of } | Condition::Any { of } => of.iter().any(reads_rows),
        Condition::Not { of } => reads_rows(of),
        Condition::Role { .. } => false,
        _ => true,
    }
}

fn text<'v>(v: &'v Value, key: &str) -> &'v str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// The fields a refusal names: `details.fields` as a list (guards) or a map (validation).
fn fields(details: &Value) -> Vec<String> {
    match details.get("fields") {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}
