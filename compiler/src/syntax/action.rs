//! KDL → AST for `action NAME { … }` inside a table (SPEC §2.10): access, inputs and steps.

use kdl::KdlNode;
use ward_ir::Operation;

use super::ast::{ActionAst, ErrorAst, Ident, Rule, StepAst, Val};
use super::parse::{INPUT_PROPS, column_like};
use super::policy::{conds, conds_in};
use super::reader::{Reader, args, children};
use crate::diagnostics::codes;

const ACTION_NODES: &[&str] = &[
    "description",
    "access",
    "input",
    "require",
    "transition",
    "update",
    "return",
];

/// Steps of SPEC §2.10 that are specified but not served yet.
const LATER_STEPS: &[&str] = &["insert", "delete", "query", "if"];

pub fn action(r: &mut Reader, n: &KdlNode) -> Option<ActionAst> {
    r.check_props(n, &[]);
    if !r.arg_count(n, 1, Some(1), "one action name") {
        return None;
    }
    let name = r.ident(args(n).first()?, "an action name", false)?;
    let mut a = ActionAst {
        name,
        ..ActionAst::default()
    };
    let mut seen = Vec::new();
    for c in children(n) {
        let cname = r.name(c);
        let span = r.name_span(c);
        match cname {
            "description" => {
                r.check_props(c, &[]);
                r.no_children(c);
                if r.once(c, &mut seen) && r.arg_count(c, 1, Some(1), "one string") {
                    a.description = args(c)
                        .first()
                        .and_then(|e| r.string(e, "a string"))
                        .map(|s| s.0);
                }
            }
            "access" => {
                r.check_props(c, &[]);
                if r.once(c, &mut seen) && r.arg_count(c, 1, None, "at least one role") {
                    let roles = r.role_refs(args(c));
                    let body = conds(r, c);
                    a.access = Some(Rule {
                        op: Operation::Update,
                        span,
                        roles,
                        body,
                    });
                }
            }
            "input" => a.inputs.extend(column_like(r, c, INPUT_PROPS)),
            "require" => {
                r.check_props(c, &[]);
                r.arg_count(c, 0, Some(0), "no arguments, and a block");
                a.steps.push(require(r, c));
            }
            "transition" => {
                r.check_props(c, &[]);
                if let Some(s) = transition(r, c) {
                    a.steps.push(s);
                }
            }
            "update" => {
                r.check_props(c, &[]);
                r.arg_count(
                    c,
                    0,
                    Some(0),
                    "no arguments (an action updates its own row)",
                );
                a.steps.push(StepAst::Update {
                    set: assignments(r, c, "set", "`update`"),
                });
            }
            "return" => {
                r.check_props(c, &[]);
                if !args(c).is_empty() {
                    r.no_children(c);
                    if r.arg_count(c, 1, Some(1), "`record`, or a block of `field`s") {
                        let ok = args(c)
                            .first()
                            .and_then(|e| r.keyword(e, "a return value", &[("record", ())]));
                        if ok.is_some() {
                            a.steps.push(StepAst::Return {
                                record: true,
                                fields: Vec::new(),
                            });
                        }
                    }
                } else {
                    a.steps.push(StepAst::Return {
                        record: false,
                        fields: assignments(r, c, "field", "`return`"),
                    });
                }
            }
            later if LATER_STEPS.contains(&later) => {
                r.diags.push(codes::not_supported(span, later));
            }
            other => {
                let d = codes::unknown_node(span, other, "`action`", ACTION_NODES);
                r.diags.push(d);
            }
        }
    }
    Some(a)
}

fn require(r: &mut Reader, n: &KdlNode) -> StepAst {
    let span = r.name_span(n);
    let mut error = None;
    let mut rest = Vec::new();
    for c in children(n) {
        match r.name(c) {
            "error" => {
                r.check_props(c, &["status", "message"]);
                r.no_children(c);
                if error.is_none() && r.arg_count(c, 1, Some(1), "an error code") {
                    let code = args(c)
                        .first()
                        .and_then(|e| r.ident(e, "an error code", false));
                    if let Some(code) = code {
                        error = Some(ErrorAst {
                            code: code.name,
                            status: r.prop_int(c, "status"),
                            message: r.prop_str(c, "message", "a string").map(|s| s.0),
                        });
                    }
                }
            }
            "exists" => r.diags.push(codes::not_supported(r.name_span(c), "exists")),
            _ => rest.push(c),
        }
    }
    // Every other child is a condition; `conds_in` reports unknown nodes among them.
    StepAst::Require {
        span,
        conds: conds_in(r, rest),
        error,
    }
}

fn transition(r: &mut Reader, n: &KdlNode) -> Option<StepAst> {
    let span = r.name_span(n);
    if !r.arg_count(n, 1, Some(1), "the column to change") {
        return None;
    }
    let column = r.ident(args(n).first()?, "a column name", false)?;
    let (mut from, mut to) = (Vec::new(), None);
    for c in children(n) {
        r.check_props(c, &[]);
        r.no_children(c);
        match r.name(c) {
            "from" => {
                if r.arg_count(c, 1, None, "at least one state") {
                    from.extend(args(c).into_iter().map(|e| r.val(e)));
                }
            }
            "to" => {
                if r.arg_count(c, 1, Some(1), "one state, or `(input)NAME`") {
                    to = args(c).first().map(|e| r.val(e));
                }
            }
            other => {
                let d = codes::unknown_node(r.name_span(c), other, "`transition`", &["from", "to"]);
                r.diags.push(d);
            }
        }
    }
    if from.is_empty() || to.is_none() {
        r.diags.push(codes::arg_count(
            span,
            "transition",
            "`from STATES…` and `to STATE`",
            0,
        ));
        return None;
    }
    Some(StepAst::Transition { column, from, to })
}

/// The `KEY NAME VALUE` children of `n` (`set` of `update`, `field` of `return`).
fn assignments(r: &mut Reader, n: &KdlNode, key: &str, context: &str) -> Vec<(Ident, Val)> {
    let mut out = Vec::new();
    for c in children(n) {
        r.check_props(c, &[]);
        r.no_children(c);
        if r.name(c) != key {
            let d = codes::unknown_node(r.name_span(c), r.name(c), context, &[key]);
            r.diags.push(d);
            continue;
        }
        if !r.arg_count(c, 2, Some(2), "a name and a value") {
            continue;
        }
        let a = args(c);
        let (Some(name), Some(value)) = (a.first(), a.get(1)) else {
            continue;
        };
        if let Some(name) = r.ident(name, "a name", false) {
            out.push((name, r.val(value)));
        }
    }
    out
}
