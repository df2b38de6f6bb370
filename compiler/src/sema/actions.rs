//! Pass 3d, record actions (SPEC §2.10): inputs typed like columns, access on the row, and steps
//! whose values are typed against the columns they write; no action writes a system or scope
//! column, nor a protected one it is not listed for.

use ward_ir::{
    AccessRule, Action, ActionError, ActionMethod, Assignment, Column, ColumnType, CompareOp,
    Exists, Guards, Literal, Mask, Operation, Returned, Step, Value, system,
};

use super::access::{Cx, and};
use super::names::Symbols;
use super::types::{self, Scope};
use crate::diagnostics::{Diags, Span, codes, suggest};
use crate::syntax::ast::{self, ActionAst, Cond, Ident, Raw, ReturnWhole, StepAst, Val};

/// Names that are routes of their own under `/api/T/{id}/…` or `/api/T/…` (SPEC §2).
pub const RESERVED_ACTIONS: [&str; 7] = [
    "restore",
    "schema",
    "subscribe",
    "history",
    "file",
    "views",
    "batch",
];

/// What an action needs of a table it writes or reads.
pub struct Table<'a> {
    pub cols: &'a [Column],
    pub known: Vec<&'a str>,
    pub scopes: Vec<&'a str>,
    pub guards: &'a Guards,
    pub masks: &'a [Mask],
}

impl<'a> Table<'a> {
    pub fn of(t: &'a ward_ir::Table) -> Table<'a> {
        let mut known: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
        known.extend(system::ALL);
        Table {
            cols: &t.columns,
            known,
            scopes: t
                .firewall
                .scopes
                .iter()
                .map(|s| s.column.as_str())
                .collect(),
            guards: &t.guards,
            masks: &t.masks,
        }
    }
}

/// Lowering context: the action's own table (record actions) and every table of the project.
pub struct Cxa<'a, 's> {
    pub own: Option<Table<'a>>,
    pub all: &'a [ward_ir::Table],
    pub syms: &'a Symbols<'s>,
}

/// The record actions of a table (`own` set) or the standalone actions (`own` None).
pub fn actions(cx: &Cxa, asts: &[ActionAst], diags: &mut Diags) -> Vec<Action> {
    let mut out = Vec::new();
    let mut seen: Vec<&Ident> = Vec::new();
    for a in asts {
        if let Some(first) = seen.iter().find(|s| s.name == a.name.name) {
            diags.push(codes::duplicate_name(
                a.name.span,
                "action",
                &a.name.name,
                first.span,
            ));
            continue;
        }
        seen.push(&a.name);
        if RESERVED_ACTIONS.contains(&a.name.name.as_str()) {
            diags.push(codes::reserved_name(a.name.span, "action", &a.name.name));
            continue;
        }
        let before = diags.error_count();
        let action = action(cx, a, diags);
        if diags.error_count() == before {
            out.push(action);
        }
    }
    out
}

fn action(cx: &Cxa, a: &ActionAst, diags: &mut Diags) -> Action {
    let inputs = inputs(a, cx.syms, diags);
    let scope = Scope {
        params: None,
        inputs: Some(&inputs),
        record: cx.own.as_ref().map(|t| t.cols),
    };
    let access = a.access.as_ref().and_then(|rule| access(cx, rule, diags));
    if a.get && cx.own.is_some() {
        diags.push(codes::not_supported(
            a.name.span,
            "method=GET on a record action",
        ));
    }
    let steps = steps(cx, &a.name.name, scope, &a.steps, inserts(&a.steps), diags);
    Action {
        name: a.name.name.clone(),
        description: a.description.clone(),
        method: if a.get {
            ActionMethod::Get
        } else {
            ActionMethod::Post
        },
        access,
        inputs,
        steps,
    }
}

/// Conditions on the action's row (record actions only).
fn row_conds(
    cx: &Cxa,
    scope: Scope,
    conds: &[Cond],
    span: Span,
    diags: &mut Diags,
) -> Option<ward_ir::Condition> {
    if conds.is_empty() {
        return None;
    }
    let Some(own) = &cx.own else {
        diags.push(codes::needs_row(span, "when"));
        return None;
    };
    let lower = Cx {
        syms: cx.syms,
        cols: own.cols,
        known: &own.known,
        op: Operation::Update,
        origin: None,
        scope,
    };
    and(lower.conds(conds, diags).into_iter().map(|c| c.0).collect())
}

/// `any_insert`: whether the action inserts anywhere (for `return inserted`).
fn steps(
    cx: &Cxa,
    action: &str,
    scope: Scope,
    asts: &[StepAst],
    any_insert: bool,
    diags: &mut Diags,
) -> Vec<Step> {
    let mut out = Vec::new();
    for s in asts {
        match s {
            StepAst::Require {
                span,
                conds,
                exists,
                error,
            } => {
                let when = row_conds(cx, scope, conds, *span, diags);
                let exists: Vec<Exists> = exists
                    .iter()
                    .filter_map(|(table, conds)| exists_in(cx, scope, table, conds, diags))
                    .collect();
                let error = require_error(*span, error.as_ref(), diags);
                if when.is_none() && exists.is_empty() {
                    diags.push(codes::arg_count(
                        *span,
                        "require",
                        "at least one condition or `exists`",
                        0,
                    ));
                } else if let Some(error) = error {
                    out.push(Step::Require {
                        when,
                        exists,
                        error,
                    });
                }
            }
            StepAst::Transition {
                column, from, to, ..
            } => {
                let Some(own) = &cx.own else {
                    diags.push(codes::needs_row(column.span, "transition"));
                    continue;
                };
                let Some(col) = writable(own, action, column, diags) else {
                    continue;
                };
                let from: Vec<Literal> = from.iter().filter_map(|v| state(v, col, diags)).collect();
                let to = to
                    .as_ref()
                    .and_then(|v| assigned(v, col.ty, scope, cx.syms, diags));
                if let Some(to) = to {
                    out.push(Step::Transition {
                        column: column.name.clone(),
                        from,
                        to,
                    });
                }
            }
            StepAst::Update { span, set } => {
                let Some(own) = &cx.own else {
                    diags.push(codes::needs_row(*span, "update"));
                    continue;
                };
                let set = assignments(cx, own, action, set, scope, diags);
                out.push(Step::Update { set });
            }
            StepAst::Insert { table, set } => {
                let Some(target) = cx.all.iter().find(|t| t.name == table.name) else {
                    let help = suggest(&table.name, cx.all.iter().map(|t| t.name.as_str()));
                    diags.push(codes::unknown_table(table.span, &table.name, help));
                    continue;
                };
                if target.id == ward_ir::IdKind::Text {
                    diags.push(codes::insert_needs_id(table.span, &table.name));
                    continue;
                }
                let set = assignments(cx, &Table::of(target), action, set, scope, diags);
                out.push(Step::Insert {
                    table: table.name.clone(),
                    set,
                });
            }
            StepAst::If {
                span,
                conds,
                then,
                otherwise,
            } => {
                let when = row_conds(cx, scope, conds, *span, diags);
                let then = steps(cx, action, scope, then, any_insert, diags);
                let otherwise = steps(cx, action, scope, otherwise, any_insert, diags);
                match when {
                    Some(when) => out.push(Step::If {
                        when,
                        then,
                        otherwise,
                    }),
                    None if cx.own.is_some() => {
                        diags.push(codes::arg_count(*span, "if", "at least one condition", 0))
                    }
                    None => {}
                }
            }
            StepAst::Return {
                span,
                whole,
                fields,
            } => {
                let value = match whole {
                    Some(ReturnWhole::Record) if cx.own.is_none() => {
                        diags.push(codes::needs_row(*span, "return record"));
                        continue;
                    }
                    Some(ReturnWhole::Record) => Returned::Record,
                    Some(ReturnWhole::Inserted) if !any_insert => {
                        diags.push(codes::nothing_inserted(*span));
                        continue;
                    }
                    Some(ReturnWhole::Inserted) => Returned::Inserted,
                    None => Returned::Object(
                        fields
                            .iter()
                            .filter_map(|(name, v)| {
                                let ty = returned_type(v, scope);
                                assigned(v, ty, scope, cx.syms, diags).map(|value| Assignment {
                                    column: name.name.clone(),
                                    value,
                                })
                            })
                            .collect(),
                    ),
                };
                out.push(Step::Return { value });
            }
        }
    }
    out
}

/// Whether these steps (or their branches) insert anything.
fn inserts(asts: &[StepAst]) -> bool {
    asts.iter().any(|s| match s {
        StepAst::Insert { .. } => true,
        StepAst::If {
            then, otherwise, ..
        } => inserts(then) || inserts(otherwise),
        _ => false,
    })
}

/// `exists TABLE { conditions }`: conditions on TABLE's columns, values from the action.
fn exists_in(
    cx: &Cxa,
    scope: Scope,
    table: &Ident,
    conds: &[Cond],
    diags: &mut Diags,
) -> Option<Exists> {
    let Some(target) = cx.all.iter().find(|t| t.name == table.name) else {
        let help = suggest(&table.name, cx.all.iter().map(|t| t.name.as_str()));
        diags.push(codes::unknown_table(table.span, &table.name, help));
        return None;
    };
    let t = Table::of(target);
    let lower = Cx {
        syms: cx.syms,
        cols: t.cols,
        known: &t.known,
        op: Operation::Read,
        origin: None,
        scope,
    };
    let when = and(lower.conds(conds, diags).into_iter().map(|c| c.0).collect());
    Some(Exists {
        table: table.name.clone(),
        when,
    })
}

/// `set COLUMN VALUE` pairs for `t`, each column writable by the action.
fn assignments(
    cx: &Cxa,
    t: &Table,
    action: &str,
    set: &[(Ident, Val)],
    scope: Scope,
    diags: &mut Diags,
) -> Vec<Assignment> {
    let mut out = Vec::new();
    for (column, v) in set {
        let Some(col) = writable(t, action, column, diags) else {
            continue;
        };
        let value = assigned(v, col.ty, scope, cx.syms, diags);
        // A masked value copied into a column nobody masks would be readable there.
        if let (Some(Value::Record(source)), Some(own)) = (&value, &cx.own)
            && own.masks.iter().any(|m| m.column == *source)
            && !t.masks.iter().any(|m| m.column == column.name)
        {
            diags.push(codes::masked_copy(v.span, action, source, &column.name));
        }
        if let Some(value) = value {
            out.push(Assignment {
                column: column.name.clone(),
                value,
            });
        }
    }
    out
}

/// Inputs are columns of the request body: typed, bounded, defaulted like columns.
fn inputs(a: &ActionAst, syms: &Symbols, diags: &mut Diags) -> Vec<Column> {
    let mut out: Vec<Column> = Vec::new();
    for c in &a.inputs {
        if let Some(first) = a
            .inputs
            .iter()
            .take_while(|x| !std::ptr::eq(*x, c))
            .find(|x| x.name.name == c.name.name)
        {
            diags.push(codes::duplicate_name(
                c.name.span,
                "input",
                &c.name.name,
                first.name.span,
            ));
            continue;
        }
        if let Some((ty, _)) = c.ty {
            out.push(types::column(c, ty, syms, diags));
        }
    }
    out
}

/// The action's rule: roles, and conditions on the row (`when` only, record actions only).
fn access(cx: &Cxa, rule: &ast::Rule, diags: &mut Diags) -> Option<AccessRule> {
    let Some(own) = &cx.own else {
        if rule.body.iter().any(|c| !matches!(c, Cond::Role(..))) {
            diags.push(codes::misplaced_condition(
                rule.span,
                "when",
                "standalone action",
            ));
            return None;
        }
        let lower = Cx {
            syms: cx.syms,
            cols: &[],
            known: &[],
            op: Operation::Update,
            origin: None,
            scope: Scope::default(),
        };
        return lower.rule(rule, diags);
    };
    let lower = Cx {
        syms: cx.syms,
        cols: own.cols,
        known: &own.known,
        op: Operation::Update,
        origin: None,
        scope: Scope::default(),
    };
    let lowered = lower.rule(rule, diags)?;
    if lowered.check.is_some() {
        diags.push(codes::misplaced_condition(rule.span, "check", "action"));
        return None;
    }
    Some(lowered)
}

fn require_error(span: Span, e: Option<&ast::ErrorAst>, diags: &mut Diags) -> Option<ActionError> {
    let Some(e) = e else {
        diags.push(codes::require_error(
            span,
            "it names no `error CODE status=N`",
        ));
        return None;
    };
    let status = match e.status {
        None => 400,
        Some((n, s)) => match u16::try_from(n) {
            Ok(n) if (400..500).contains(&n) => n,
            _ => {
                diags.push(codes::require_error(s, "its status is not 400…499"));
                return None;
            }
        },
    };
    Some(ActionError {
        code: e.code.clone(),
        status,
        message: e.message.clone().unwrap_or_else(|| e.code.clone()),
    })
}

/// A column an action may write: one of the table's, never a system or scope column, and a
/// protected one only when this action is listed for it.
fn writable<'c>(t: &'c Table, action: &str, id: &Ident, diags: &mut Diags) -> Option<&'c Column> {
    let Some(col) = t.cols.iter().find(|c| c.name == id.name) else {
        let help = suggest(&id.name, t.cols.iter().map(|c| c.name.as_str()));
        diags.push(codes::unknown_column(id.span, &id.name, help));
        return None;
    };
    if col.system || t.scopes.contains(&id.name.as_str()) {
        diags.push(codes::action_writes_managed(id.span, action, &id.name));
        return None;
    }
    if let Some(p) = t.guards.protected.iter().find(|p| p.column == id.name)
        && !p.actions.iter().any(|a| a == action)
    {
        diags.push(codes::action_writes_protected(id.span, action, &id.name));
        return None;
    }
    Some(col)
}

/// A `from` state: a literal of the column's type (one of its `one-of` values, if it has them).
fn state(v: &Val, col: &Column, diags: &mut Diags) -> Option<Literal> {
    let hint = match (&v.ann, types::literal(&v.raw, col.ty)) {
        (None, Some(l)) if l != Literal::Null => {
            if col.one_of.is_empty() || col.one_of.contains(&l) {
                return Some(l);
            }
            "one of the column's `one-of` values"
        }
        _ => "a value of the column's type",
    };
    diags.push(codes::literal_type(
        v.span,
        "from",
        col.ty.name(),
        &v.raw.describe(),
        hint,
    ));
    None
}

/// A value assigned to something of type `ty`: a literal, `(input)`, `(record)`, `(auth)` or
/// `(time)now`, typed as a comparison with it would be.
fn assigned(
    v: &Val,
    ty: ColumnType,
    scope: Scope,
    syms: &Symbols,
    diags: &mut Diags,
) -> Option<Value> {
    if v.ann.is_none() && v.raw == Raw::Null {
        return Some(Value::Literal(Literal::Null));
    }
    types::value(v, ty, CompareOp::Eq, scope, syms, None, diags)
}

/// The type a `return { field NAME VALUE }` value has on its own.
fn returned_type(v: &Val, scope: Scope) -> ColumnType {
    let by_name = |cols: Option<&[Column]>, name: &str| {
        cols.and_then(|c| c.iter().find(|c| c.name == name))
            .map(|c| c.ty)
    };
    match (&v.ann, &v.raw) {
        (Some(a), Raw::Str(n)) if a.name == "input" => {
            by_name(scope.inputs, n).unwrap_or(ColumnType::Text)
        }
        (Some(a), Raw::Str(n)) if a.name == "record" => {
            by_name(scope.record, n).unwrap_or(ColumnType::Text)
        }
        (Some(a), _) if a.name == "time" => ColumnType::Datetime,
        (_, Raw::Int(_)) => ColumnType::Integer,
        (_, Raw::Float(_)) => ColumnType::Float,
        (_, Raw::Bool(_)) => ColumnType::Boolean,
        _ => ColumnType::Text,
    }
}
