//! Pass 3d, actions (SPEC §2.10): inputs typed like columns, access on the row, then the steps
//! (`steps`).

use ward_ir::{
    AccessRule, Action, ActionMethod, Column, ColumnType, Guards, Mask, Operation, Trigger,
    TriggerEvent, system,
};

use super::access::Cx;
use super::names::Symbols;
use super::steps::StepCx;
use super::types::{self, Scope};
use crate::diagnostics::{Diags, codes};
use crate::syntax::ast::{self, ActionAst, Cond, Ident, TriggerAst};

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
        old: None,
    };
    let access = a.access.as_ref().and_then(|rule| access(cx, rule, diags));
    let steps = StepCx {
        cx,
        action: Some(&a.name.name),
        who: format!("action `{}`", a.name.name),
        scope,
    }
    .lower(&a.steps, diags);
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

/// A table's triggers: steps with `(record)` the row written and `(old)` the row before an
/// update or delete; no inputs, no answer, one trigger per event and phase.
pub fn triggers(cx: &Cxa, asts: &[TriggerAst], diags: &mut Diags) -> Vec<Trigger> {
    let Some(own) = &cx.own else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut seen: Vec<&TriggerAst> = Vec::new();
    for t in asts {
        let name = format!("on {} {}", t.event.name(), t.phase.name());
        if let Some(first) = seen
            .iter()
            .find(|s| s.event == t.event && s.phase == t.phase)
        {
            diags.push(codes::duplicate_name(t.span, "trigger", &name, first.span));
            continue;
        }
        seen.push(t);
        let scope = Scope {
            params: None,
            inputs: None,
            record: Some(own.cols),
            old: (t.event != TriggerEvent::Create).then_some(own.cols),
        };
        let before = diags.error_count();
        let steps = StepCx {
            cx,
            action: None,
            who: format!("trigger `{name}`"),
            scope,
        }
        .lower(&t.steps, diags);
        if diags.error_count() == before {
            out.push(Trigger {
                event: t.event,
                phase: t.phase,
                steps,
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
        match c.ty {
            Some((ColumnType::File, span)) => diags.push(codes::invalid_file_setting(
                span,
                &format!("input `{}` cannot be a file", c.name.name),
                "upload files to a `file` column of a table, with `multipart/form-data`",
            )),
            Some((ty, _)) => out.push(types::column(c, ty, syms, diags)),
            None => {}
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
