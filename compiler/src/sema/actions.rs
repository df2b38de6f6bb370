//! Pass 3d, record actions (SPEC §2.10): inputs typed like columns, access on the row, and steps
//! whose values are typed against the columns they write; no action writes a system or scope
//! column, nor a protected one it is not listed for.

use ward_ir::{
    AccessRule, Action, ActionError, Assignment, Column, ColumnType, CompareOp, Guards, Literal,
    Operation, Returned, Step, Value,
};

use super::access::{Cx, and};
use super::names::Symbols;
use super::types::{self, Scope};
use crate::diagnostics::{Diags, Span, codes, suggest};
use crate::syntax::ast::{self, ActionAst, Ident, Raw, StepAst, Val};

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

pub struct Table<'a> {
    pub cols: &'a [Column],
    pub known: &'a [&'a str],
    pub scopes: Vec<&'a str>,
    pub guards: &'a Guards,
}

pub fn actions(t: &Table, asts: &[ActionAst], syms: &Symbols, diags: &mut Diags) -> Vec<Action> {
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
        let action = action(t, a, syms, diags);
        if diags.error_count() == before {
            out.push(action);
        }
    }
    out
}

fn action(t: &Table, a: &ActionAst, syms: &Symbols, diags: &mut Diags) -> Action {
    let inputs = inputs(a, syms, diags);
    let scope = Scope {
        params: None,
        inputs: Some(&inputs),
        record: Some(t.cols),
    };
    let cx = Cx {
        syms,
        cols: t.cols,
        known: t.known,
        op: Operation::Update,
        origin: None,
        scope,
    };
    let access = a
        .access
        .as_ref()
        .and_then(|rule| access(t, rule, syms, diags));
    let mut steps = Vec::new();
    for s in &a.steps {
        match s {
            StepAst::Require { span, conds, error } => {
                let when = and(cx.conds(conds, diags).into_iter().map(|c| c.0).collect());
                let error = require_error(*span, error.as_ref(), diags);
                match (when, error) {
                    (Some(when), Some(error)) => steps.push(Step::Require { when, error }),
                    (None, _) => diags.push(codes::arg_count(
                        *span,
                        "require",
                        "at least one condition",
                        0,
                    )),
                    _ => {}
                }
            }
            StepAst::Transition {
                column, from, to, ..
            } => {
                let Some(col) = writable(t, &a.name.name, column, diags) else {
                    continue;
                };
                let from: Vec<Literal> = from.iter().filter_map(|v| state(v, col, diags)).collect();
                let to = to
                    .as_ref()
                    .and_then(|v| assigned(v, col.ty, scope, syms, diags));
                if let Some(to) = to {
                    steps.push(Step::Transition {
                        column: column.name.clone(),
                        from,
                        to,
                    });
                }
            }
            StepAst::Update { set, .. } => {
                let mut out = Vec::new();
                for (column, v) in set {
                    let Some(col) = writable(t, &a.name.name, column, diags) else {
                        continue;
                    };
                    if let Some(value) = assigned(v, col.ty, scope, syms, diags) {
                        out.push(Assignment {
                            column: column.name.clone(),
                            value,
                        });
                    }
                }
                steps.push(Step::Update { set: out });
            }
            StepAst::Return { record, fields, .. } => {
                let value = if *record {
                    Returned::Record
                } else {
                    Returned::Object(
                        fields
                            .iter()
                            .filter_map(|(name, v)| {
                                let ty = returned_type(v, scope);
                                assigned(v, ty, scope, syms, diags).map(|value| Assignment {
                                    column: name.name.clone(),
                                    value,
                                })
                            })
                            .collect(),
                    )
                };
                steps.push(Step::Return { value });
            }
        }
    }
    Action {
        name: a.name.name.clone(),
        description: a.description.clone(),
        access,
        inputs,
        steps,
    }
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

/// The action's rule: roles, and conditions on the row (`when` only).
fn access(t: &Table, rule: &ast::Rule, syms: &Symbols, diags: &mut Diags) -> Option<AccessRule> {
    let cx = Cx {
        syms,
        cols: t.cols,
        known: t.known,
        op: Operation::Update,
        origin: None,
        scope: Scope::default(),
    };
    let lowered = cx.rule(rule, diags)?;
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
    match (&v.ann, types::literal(&v.raw, col.ty)) {
        (None, Some(l))
            if l != Literal::Null && !col.one_of.is_empty() && !col.one_of.contains(&l) =>
        {
            diags.push(codes::literal_type(
                v.span,
                "from",
                col.ty.name(),
                &v.raw.describe(),
                "one of the column's `one-of` values",
            ));
            None
        }
        (None, Some(l)) if l != Literal::Null => Some(l),
        _ => {
            diags.push(codes::literal_type(
                v.span,
                "from",
                col.ty.name(),
                &v.raw.describe(),
                "a value of the column's type",
            ));
            None
        }
    }
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
