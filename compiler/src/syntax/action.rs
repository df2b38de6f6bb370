//! KDL → AST for `action NAME { … }` inside a table (SPEC §2.10): access, inputs and steps.

use kdl::KdlNode;
use ward_ir::{Operation, TriggerEvent, TriggerPhase};

use super::ast::{ActionAst, ErrorAst, Ident, ReturnWhole, Rule, StepAst, TriggerAst, Val};
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
    "insert",
    "delete",
    "query",
    "if",
    "return",
];

/// `action NAME { … }`; `standalone` (top level) also takes `method=POST|GET`.
pub fn action(r: &mut Reader, n: &KdlNode, standalone: bool) -> Option<ActionAst> {
    r.check_props(n, if standalone { &["method"] } else { &[] });
    if !r.arg_count(n, 1, Some(1), "one action name") {
        return None;
    }
    let name = r.ident(args(n).first()?, "an action name", false)?;
    let get = match r.prop(n, "method") {
        Some(e) => r.keyword(e, "a method", &[("POST", false), ("GET", true)])?,
        None => false,
    };
    let mut a = ActionAst {
        name,
        get,
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
            _ => {
                if let Some(step) = step(r, c) {
                    a.steps.push(step);
                }
            }
        }
    }
    Some(a)
}

/// `on create|update|delete before|during|after { steps }` (SPEC §2.12).
pub fn trigger(r: &mut Reader, n: &KdlNode) -> Option<TriggerAst> {
    r.check_props(n, &[]);
    if !r.arg_count(n, 2, Some(2), "an event and a phase") {
        return None;
    }
    let a = args(n);
    let events = [
        ("create", TriggerEvent::Create),
        ("update", TriggerEvent::Update),
        ("delete", TriggerEvent::Delete),
    ];
    let phases = [
        ("before", TriggerPhase::Before),
        ("during", TriggerPhase::During),
        ("after", TriggerPhase::After),
    ];
    let event = r.keyword(a.first()?, "a trigger event", &events);
    let phase = r.keyword(a.get(1)?, "a trigger phase", &phases);
    let steps = children(n).iter().filter_map(|c| step(r, c)).collect();
    Some(TriggerAst {
        span: r.name_span(n),
        event: event?,
        phase: phase?,
        steps,
    })
}

/// One step node; `None` (reported) for anything else.
fn step(r: &mut Reader, c: &KdlNode) -> Option<StepAst> {
    let span = r.name_span(c);
    match r.name(c) {
        "require" => {
            r.check_props(c, &[]);
            r.arg_count(c, 0, Some(0), "no arguments, and a block");
            Some(require(r, c))
        }
        "transition" => {
            r.check_props(c, &[]);
            transition(r, c)
        }
        "update" => {
            r.check_props(c, &[]);
            let table = target(r, c, "update")?;
            let (sets, rest): (Vec<&KdlNode>, Vec<&KdlNode>) =
                children(c).iter().partition(|n| r.name(n) == "set");
            Some(StepAst::Update {
                span,
                table,
                set: assignments(r, sets, "set", "`update`"),
                when: conds_in(r, rest),
            })
        }
        "delete" => {
            r.check_props(c, &[]);
            let table = target(r, c, "delete")?;
            Some(StepAst::Delete {
                span,
                table,
                when: conds(r, c),
            })
        }
        "query" => query(r, c),
        "insert" => {
            r.check_props(c, &[]);
            if !r.arg_count(c, 1, Some(1), "the table to insert into") {
                return None;
            }
            let table = r.ident(args(c).first()?, "a table name", false)?;
            Some(StepAst::Insert {
                table,
                set: assignments(r, children(c), "set", "`insert`"),
            })
        }
        "if" => {
            r.check_props(c, &[]);
            r.arg_count(c, 0, Some(0), "no arguments, and a block");
            let (mut then, mut otherwise) = (Vec::new(), Vec::new());
            let mut rest = Vec::new();
            for cc in children(c) {
                match r.name(cc) {
                    "then" | "else" => {
                        r.check_props(cc, &[]);
                        let steps: Vec<StepAst> =
                            children(cc).iter().filter_map(|s| step(r, s)).collect();
                        if r.name(cc) == "then" {
                            then = steps;
                        } else {
                            otherwise = steps;
                        }
                    }
                    _ => rest.push(cc),
                }
            }
            Some(StepAst::If {
                span,
                conds: conds_in(r, rest),
                then,
                otherwise,
            })
        }
        "return" => {
            r.check_props(c, &[]);
            if args(c).is_empty() {
                return Some(StepAst::Return {
                    span,
                    whole: None,
                    fields: assignments(r, children(c), "field", "`return`"),
                });
            }
            r.no_children(c);
            if !r.arg_count(
                c,
                1,
                Some(1),
                "`record`, `inserted`, a query's name, or a block of `field`s",
            ) {
                return None;
            }
            let what = r.ident(
                args(c).first()?,
                "`record`, `inserted` or a query's name",
                false,
            )?;
            let whole = match what.name.as_str() {
                "record" => ReturnWhole::Record,
                "inserted" => ReturnWhole::Inserted,
                _ => ReturnWhole::Query(what),
            };
            Some(StepAst::Return {
                span,
                whole: Some(whole),
                fields: Vec::new(),
            })
        }
        other => {
            let d = codes::unknown_node(span, other, "`action`", ACTION_NODES);
            r.diags.push(d);
            None
        }
    }
}

/// The optional TABLE of `update`/`delete`; `Some(None)` for the action's own row.
fn target(r: &mut Reader, c: &KdlNode, step: &str) -> Option<Option<Ident>> {
    if !r.arg_count(c, 0, Some(1), "an optional table name") {
        return None;
    }
    match args(c).first() {
        None => Some(None),
        Some(e) => r.ident(e, &format!("the table to {step}"), false).map(Some),
    }
}

/// `query NAME TABLE { when …; sort …; limit N }`.
fn query(r: &mut Reader, n: &KdlNode) -> Option<StepAst> {
    r.check_props(n, &[]);
    if !r.arg_count(n, 2, Some(2), "a name and a table") {
        return None;
    }
    let a = args(n);
    let name = r.ident(a.first()?, "a query name", false)?;
    let table = r.ident(a.get(1)?, "a table name", false)?;
    let (mut sort, mut limit) = (Vec::new(), None);
    let mut rest = Vec::new();
    for c in children(n) {
        match r.name(c) {
            "sort" => {
                r.check_props(c, &[]);
                r.no_children(c);
                if r.arg_count(c, 1, None, "at least one column") {
                    sort = super::view::sort_keys(r, c);
                }
            }
            "limit" => {
                r.check_props(c, &[]);
                r.no_children(c);
                if r.arg_count(c, 1, Some(1), "a number of rows") {
                    limit = args(c).first().and_then(|e| r.int(e));
                }
            }
            _ => rest.push(c),
        }
    }
    Some(StepAst::Query {
        name,
        table,
        when: conds_in(r, rest),
        sort,
        limit,
    })
}

fn require(r: &mut Reader, n: &KdlNode) -> StepAst {
    let span = r.name_span(n);
    let mut error = None;
    let mut exists = Vec::new();
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
            "exists" => {
                r.check_props(c, &[]);
                if r.arg_count(c, 1, Some(1), "a table, and a block of conditions")
                    && let Some(table) = args(c)
                        .first()
                        .and_then(|e| r.ident(e, "a table name", false))
                {
                    exists.push((table, conds(r, c)));
                }
            }
            _ => rest.push(c),
        }
    }
    // Every other child is a condition; `conds_in` reports unknown nodes among them.
    StepAst::Require {
        span,
        conds: conds_in(r, rest),
        exists,
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

/// The `KEY NAME VALUE` nodes among `nodes` (`set` of `update`, `field` of `return`).
fn assignments<'n>(
    r: &mut Reader,
    nodes: impl IntoIterator<Item = &'n KdlNode>,
    key: &str,
    context: &str,
) -> Vec<(Ident, Val)> {
    let mut out = Vec::new();
    for c in nodes {
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
