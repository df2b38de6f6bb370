//! The effective policy of each table: who may do what (role × operation, with the row
//! conditions that remain once the role is known) and who sees and writes which field.

use std::collections::BTreeSet;

use serde::Serialize;
use ward_ir::{Ir, MaskKind, Operation, Table, View};

use super::condition::{Partial, partial, text};

/// The pseudo-caller without a token.
pub const ANONYMOUS: &str = "anonymous";
/// The pseudo-caller with a valid token that carries none of the declared roles (a role the
/// project does not declare is ignored, so such a token is this caller too).
pub const AUTHENTICATED: &str = "authenticated";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// The matrix columns: `anonymous`, `authenticated` (a token without a declared role), then
    /// every declared role in rank order.
    pub callers: Vec<String>,
    pub tables: Vec<TablePolicy>,
    /// Standalone actions (`/api/actions/A`), one row each, in [`Explanation::callers`] order.
    pub actions: Vec<OperationRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TablePolicy {
    pub table: String,
    /// `column = (auth)value`, one per scope; empty for `firewall none`.
    pub scopes: Vec<Scope>,
    /// Roles exempt from every scope.
    pub bypass: Vec<String>,
    /// `hide` (404 for another tenant's row) or `reveal` (403).
    pub errors: String,
    /// `soft` or `hard`.
    pub delete: String,
    pub operations: Vec<OperationRow>,
    pub fields: Vec<FieldRow>,
    /// `on EVENT PHASE: steps` per trigger: logic that runs on every write, as the caller.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<String>,
    /// `history`: how long versions are kept and which columns they never keep.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<HistoryPolicy>,
    /// `realtime`: committed changes are streamed to those who may list the rows.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub realtime: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryPolicy {
    /// Days a version is kept; `None`: until purged.
    pub keep_days: Option<u32>,
    pub exclude: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scope {
    pub column: String,
    pub auth: String,
    pub bypass: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperationRow {
    pub operation: String,
    /// One per caller, in [`Explanation::callers`] order.
    pub cells: Vec<Cell>,
    /// The rule's `check` on the incoming or resulting row.
    pub check: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "access", content = "when")]
pub enum Cell {
    Denied,
    Allowed,
    /// Allowed on the rows where this condition holds.
    When(String),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldRow {
    pub field: String,
    /// `system` (server-managed), `scope` (stamped by the firewall) or `column`.
    pub kind: String,
    pub protected: bool,
    pub immutable: bool,
    /// One per caller, in [`Explanation::callers`] order.
    pub cells: Vec<FieldAccess>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldAccess {
    pub visibility: Visibility,
    /// The caller may create rows and send this field.
    pub create: bool,
    /// The caller may update rows and send this field.
    pub update: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case", tag = "is")]
pub enum Visibility {
    /// The caller can neither list nor read the table.
    NoAccess,
    /// Never sent (`mask … hidden`).
    Hidden,
    /// Sent masked with this kind; `owner`: the row's owner sees it raw.
    Masked {
        kind: String,
        owner: bool,
    },
    Visible,
}

impl Explanation {
    /// The matrix column that decides for `caller`: its own, or, for a role this project does
    /// not declare, `authenticated` — such a token is served as one without roles.
    pub fn column(&self, caller: &str) -> Option<usize> {
        self.callers.iter().position(|c| c == caller).or_else(|| {
            (caller != ANONYMOUS)
                .then(|| self.callers.iter().position(|c| c == AUTHENTICATED))
                .flatten()
        })
    }
}

impl std::fmt::Display for Visibility {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Visibility::NoAccess => write!(f, "-"),
            Visibility::Hidden => write!(f, "hidden"),
            Visibility::Masked { kind, owner } => {
                write!(f, "masked:{kind}{}", if *owner { "+owner" } else { "" })
            }
            Visibility::Visible => write!(f, "visible"),
        }
    }
}

impl Visibility {
    /// Higher shows more (the order `ward diff` judges widening by).
    pub fn rank(&self) -> u8 {
        match self {
            Visibility::NoAccess => 0,
            Visibility::Hidden => 1,
            Visibility::Masked { .. } => 2,
            Visibility::Visible => 3,
        }
    }
}

/// The roles a caller holds: a declared role with the pseudo-roles every token carries, the
/// pseudo-roles alone for a token without a declared role, or only `public` without a token.
pub fn held(caller: &str) -> BTreeSet<&str> {
    if caller == ANONYMOUS {
        ["public"].into()
    } else {
        [caller, "authenticated", "public"].into()
    }
}

pub fn explain(ir: &Ir) -> Explanation {
    let mut callers = vec![ANONYMOUS.to_owned(), AUTHENTICATED.to_owned()];
    callers.extend(ir.roles.iter().cloned());
    let tables = ir.tables.iter().map(|t| table(t, &callers)).collect();
    let actions = ir.actions.iter().map(|a| action_row(a, &callers)).collect();
    Explanation {
        callers,
        tables,
        actions,
    }
}

/// An action as an operation: its rule for each caller.
fn action_row(a: &ward_ir::Action, callers: &[String]) -> OperationRow {
    OperationRow {
        operation: format!("action {}", a.name),
        cells: callers
            .iter()
            .map(|c| rule_cell(a.access.as_ref(), c))
            .collect(),
        check: None,
    }
}

fn cell(t: &Table, op: Operation, caller: &str) -> Cell {
    rule_cell(t.access.rule(op), caller)
}

/// What a rule (none: denied) leaves a caller: denied, allowed, or allowed on some rows.
fn rule_cell(rule: Option<&ward_ir::AccessRule>, caller: &str) -> Cell {
    let Some(rule) = rule else {
        return Cell::Denied;
    };
    match partial(&rule.when, &held(caller)) {
        Partial::False => Cell::Denied,
        Partial::True => Cell::Allowed,
        Partial::Rows(r) => Cell::When(text(&r)),
    }
}

/// A view as an operation: its access for the caller, narrowed by its fixed `where` (role
/// leaves decided the same way).
fn view_cell(v: &View, caller: &str) -> Cell {
    let Some(rule) = &v.access else {
        return Cell::Denied;
    };
    let roles = held(caller);
    let mut rows = Vec::new();
    for c in std::iter::once(&rule.when).chain(v.filter.as_ref()) {
        match partial(c, &roles) {
            Partial::False => return Cell::Denied,
            Partial::True => {}
            Partial::Rows(r) => rows.push(r),
        }
    }
    match rows.len() {
        0 => Cell::Allowed,
        1 => Cell::When(text(&rows[0])),
        _ => Cell::When(text(&ward_ir::Condition::All { of: rows })),
    }
}

fn table(t: &Table, callers: &[String]) -> TablePolicy {
    let history = t.history.is_some().then_some(Operation::History);
    let mut operations: Vec<OperationRow> = Operation::ALL
        .iter()
        .copied()
        .chain(history)
        .map(|op| OperationRow {
            operation: op.name().to_owned(),
            cells: callers.iter().map(|c| cell(t, op, c)).collect(),
            check: t.access.rule(op).and_then(|r| r.check.as_ref()).map(text),
        })
        .collect();
    // A subscriber receives the rows they may list (SPEC §12): the `list` rule, on each image.
    if t.realtime {
        operations.push(OperationRow {
            operation: "subscribe".to_owned(),
            cells: callers
                .iter()
                .map(|c| cell(t, Operation::List, c))
                .collect(),
            check: None,
        });
    }
    operations.extend(t.actions.iter().map(|a| action_row(a, callers)));
    operations.extend(t.views.iter().map(|v| OperationRow {
        operation: format!("view {}", v.name),
        cells: callers.iter().map(|c| view_cell(v, c)).collect(),
        check: None,
    }));
    let fields = t
        .columns
        .iter()
        .map(|c| FieldRow {
            field: c.name.clone(),
            kind: if c.system {
                "system"
            } else if t.is_scope_column(&c.name) {
                "scope"
            } else {
                "column"
            }
            .to_owned(),
            protected: t.guards.protected.iter().any(|p| p.column == c.name),
            immutable: t.guards.immutable.contains(&c.name),
            cells: callers
                .iter()
                .map(|caller| field_access(t, &c.name, caller))
                .collect(),
        })
        .collect();
    TablePolicy {
        table: t.name.clone(),
        scopes: t
            .firewall
            .scopes
            .iter()
            .map(|s| Scope {
                column: s.column.clone(),
                auth: s.auth.clone(),
                bypass: s.bypass.clone(),
            })
            .collect(),
        bypass: t.firewall.bypass.clone(),
        errors: match t.firewall.error_mode {
            ward_ir::ErrorMode::Hide => "hide",
            ward_ir::ErrorMode::Reveal => "reveal",
        }
        .to_owned(),
        delete: match t.delete {
            ward_ir::DeleteMode::Soft => "soft",
            ward_ir::DeleteMode::Hard => "hard",
        }
        .to_owned(),
        operations,
        fields,
        triggers: t.triggers.iter().map(trigger).collect(),
        history: t.history.as_ref().map(|h| HistoryPolicy {
            keep_days: h.keep_days,
            exclude: h.exclude.clone(),
        }),
        realtime: t.realtime,
    }
}

/// `on update during: require, insert events`.
fn trigger(t: &ward_ir::Trigger) -> String {
    let steps: Vec<String> = ward_ir::all_steps(&t.steps)
        .into_iter()
        .map(|s| match s {
            ward_ir::Step::Require { .. } => "require".to_owned(),
            ward_ir::Step::Insert { table, .. } => format!("insert {table}"),
            ward_ir::Step::Update { table, .. } => {
                format!("update {}", table.as_deref().unwrap_or("row"))
            }
            ward_ir::Step::Delete { table, .. } => {
                format!("delete {}", table.as_deref().unwrap_or("row"))
            }
            ward_ir::Step::Query { table, .. } => format!("query {table}"),
            ward_ir::Step::If { .. } => "if".to_owned(),
            ward_ir::Step::Transition { .. } => "transition".to_owned(),
            ward_ir::Step::Return { .. } => "return".to_owned(),
        })
        .collect();
    format!(
        "on {} {}: {}",
        t.event.name(),
        t.phase.name(),
        steps.join(", ")
    )
}

fn field_access(t: &Table, field: &str, caller: &str) -> FieldAccess {
    let reads = [Operation::List, Operation::Read]
        .iter()
        .any(|&op| cell(t, op, caller) != Cell::Denied)
        || t.views
            .iter()
            .any(|v| v.fields.iter().any(|f| f == field) && view_cell(v, caller) != Cell::Denied);
    let roles = held(caller);
    let visibility = if !reads {
        Visibility::NoAccess
    } else {
        match t.masks.iter().find(|m| m.column == field) {
            None => Visibility::Visible,
            Some(m) if m.show.iter().any(|r| roles.contains(r.as_str())) => Visibility::Visible,
            Some(m) if m.kind == MaskKind::Hidden => Visibility::Hidden,
            Some(m) => Visibility::Masked {
                kind: m.kind.name().to_owned(),
                owner: m.owner.is_some(),
            },
        }
    };
    let may = |op: Operation, list: &[String]| {
        cell(t, op, caller) != Cell::Denied && list.iter().any(|c| c == field)
    };
    FieldAccess {
        visibility,
        create: may(Operation::Create, &t.guards.createable),
        update: may(Operation::Update, &t.guards.updatable),
    }
}
