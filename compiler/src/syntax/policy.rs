//! KDL → AST for the policy blocks shared by tables and templates: `firewall`, `access`,
//! `guards`, `masking`, `delete`, `batch`.

use kdl::KdlNode;
use ward_ir::{DeleteMode, ErrorMode, MaskKind, Operation};

use super::ast::{
    Access, BatchAst, Blocks, CompareKind, Cond, Firewall, Guards, Ident, MaskAst, Masking, Rule,
    ScopeAst,
};
use super::reader::{Reader, args, children};
use crate::diagnostics::codes;

pub const MASK_KINDS: &[(&str, MaskKind)] = &[
    ("email", MaskKind::Email),
    ("phone", MaskKind::Phone),
    ("ssn", MaskKind::Ssn),
    ("credit-card", MaskKind::CreditCard),
    ("name", MaskKind::Name),
    ("redact", MaskKind::Redact),
    ("hidden", MaskKind::Hidden),
];

const OPERATIONS: &[(&str, Operation)] = &[
    ("list", Operation::List),
    ("read", Operation::Read),
    ("create", Operation::Create),
    ("update", Operation::Update),
    ("delete", Operation::Delete),
    ("restore", Operation::Restore),
    ("history", Operation::History),
];

/// Read `n` into `blocks` if it is a policy block; false if it is some other node.
pub fn block(
    r: &mut Reader,
    n: &KdlNode,
    blocks: &mut Blocks,
    seen: &mut Vec<(String, crate::diagnostics::Span)>,
) -> bool {
    let name = r.name(n);
    if !["firewall", "access", "guards", "masking", "delete", "batch"].contains(&name) {
        return false;
    }
    if !r.once(n, seen) {
        return true;
    }
    let name = name.to_owned();
    blocks.at.insert(name.clone(), r.name_span(n));
    match name.as_str() {
        "firewall" => blocks.firewall = firewall(r, n),
        "access" => blocks.access = access(r, n),
        "guards" => blocks.guards = guards(r, n),
        "masking" => blocks.masking = masking(r, n),
        "delete" => {
            r.check_props(n, &[]);
            r.no_children(n);
            if r.arg_count(n, 1, Some(1), "`soft` or `hard`") {
                let span = r.name_span(n);
                blocks.delete = args(n)
                    .first()
                    .and_then(|e| {
                        r.keyword(
                            e,
                            "a delete mode",
                            &[("soft", DeleteMode::Soft), ("hard", DeleteMode::Hard)],
                        )
                    })
                    .map(|m| (m, span));
            }
        }
        _ => blocks.batch = batch(r, n),
    }
    true
}

fn batch(r: &mut Reader, n: &KdlNode) -> Option<BatchAst> {
    r.no_children(n);
    if !args(n).is_empty() {
        r.check_props(n, &[]);
        if r.arg_count(n, 1, Some(1), "`off`, or `max=` and `atomic=`") {
            r.keyword(args(n).first()?, "a batch setting", &[("off", ())])?;
            return Some(BatchAst::Off);
        }
        return None;
    }
    r.check_props(n, &["max", "atomic"]);
    let max = r.prop_int(n, "max");
    let atomic = r.prop_bool(n, "atomic").map(|b| b.0);
    Some(BatchAst::On { max, atomic })
}

fn firewall(r: &mut Reader, n: &KdlNode) -> Option<Firewall> {
    r.check_props(n, &[]);
    let span = r.name_span(n);
    if !args(n).is_empty() {
        r.no_children(n);
        if r.arg_count(n, 1, Some(1), "`none` or a block") {
            r.keyword(args(n).first()?, "a firewall setting", &[("none", ())])?;
            return Some(Firewall::None);
        }
        return None;
    }
    if n.children().is_none() {
        r.diags.push(codes::arg_count(
            span,
            "firewall",
            "`none` or a block of `scope`s",
            0,
        ));
        return None;
    }
    let mut scopes = Vec::new();
    let mut bypass = Vec::new();
    let mut error_mode = None;
    let mut seen = Vec::new();
    for c in children(n) {
        r.check_props(c, &[]);
        match r.name(c) {
            "scope" => {
                if !r.arg_count(c, 2, Some(2), "a column and a value") {
                    continue;
                }
                let a = args(c);
                let (Some(col), Some(val)) = (a.first(), a.get(1)) else {
                    continue;
                };
                let Some(column) = r.ident(col, "a column name", false) else {
                    continue;
                };
                let value = r.val(val);
                let mut sb = Vec::new();
                for cc in children(c) {
                    r.check_props(cc, &[]);
                    r.no_children(cc);
                    if r.name(cc) == "bypass" {
                        if r.arg_count(cc, 1, None, "at least one role") {
                            sb.extend(r.role_refs(args(cc)));
                        }
                    } else {
                        let d = codes::unknown_node(
                            r.name_span(cc),
                            r.name(cc),
                            "`scope`",
                            &["bypass"],
                        );
                        r.diags.push(d);
                    }
                }
                scopes.push(ScopeAst {
                    column,
                    value,
                    bypass: sb,
                });
            }
            "bypass" => {
                r.no_children(c);
                if r.arg_count(c, 1, None, "at least one role") {
                    bypass.extend(r.role_refs(args(c)));
                }
            }
            "error-mode" => {
                r.no_children(c);
                if r.once(c, &mut seen) && r.arg_count(c, 1, Some(1), "`hide` or `reveal`") {
                    error_mode = args(c).first().and_then(|e| {
                        r.keyword(
                            e,
                            "an error mode",
                            &[("hide", ErrorMode::Hide), ("reveal", ErrorMode::Reveal)],
                        )
                    });
                }
            }
            other => {
                let d = codes::unknown_node(
                    r.name_span(c),
                    other,
                    "`firewall`",
                    &["scope", "bypass", "error-mode"],
                );
                r.diags.push(d);
            }
        }
    }
    Some(Firewall::Block {
        span,
        scopes,
        bypass,
        error_mode,
    })
}

fn access(r: &mut Reader, n: &KdlNode) -> Option<Access> {
    r.check_props(n, &[]);
    r.arg_count(n, 0, Some(0), "no arguments");
    let mut rules: Vec<Rule> = Vec::new();
    for c in children(n) {
        r.check_props(c, &[]);
        let span = r.name_span(c);
        let Some((_, op)) = OPERATIONS.iter().find(|(k, _)| *k == r.name(c)) else {
            let names: Vec<&str> = OPERATIONS.iter().map(|(k, _)| *k).collect();
            let d = codes::unknown_node(span, r.name(c), "`access`", &names);
            r.diags.push(d);
            continue;
        };
        if let Some(first) = rules.iter().find(|x| x.op == *op) {
            r.diags
                .push(codes::duplicate_node(span, r.name(c), first.span));
            continue;
        }
        if args(c).is_empty() && c.children().is_none() {
            r.diags.push(codes::arg_count(
                span,
                r.name(c),
                "roles, or a block of conditions",
                0,
            ));
            continue;
        }
        let roles = r.role_refs(args(c));
        let body = conds(r, c);
        rules.push(Rule {
            op: *op,
            span,
            roles,
            body,
        });
    }
    Some(Access { rules })
}

/// `NODE FIELD OP VALUE…` as a comparison (`when`, `check`, and a view's `where`).
pub fn compare(r: &mut Reader, c: &KdlNode, kind: CompareKind) -> Option<Cond> {
    if !r.arg_count(c, 2, None, "a field, an operator and values") {
        return None;
    }
    let a = args(c);
    let (f, o) = (a.first()?, a.get(1)?);
    let (Some(field), Some(op)) = (
        r.ident(f, "a column name", false),
        r.string(o, "an operator"),
    ) else {
        return None;
    };
    let values = a.iter().skip(2).map(|e| r.val(e)).collect();
    Some(Cond::Compare {
        kind,
        field,
        op: Ident {
            name: op.0,
            span: op.1,
        },
        values,
        span: r.name_span(c),
    })
}

/// The condition children of `n`.
pub fn conds(r: &mut Reader, n: &KdlNode) -> Vec<Cond> {
    conds_in(r, children(n))
}

/// `nodes` read as conditions.
pub fn conds_in<'n>(r: &mut Reader, nodes: impl IntoIterator<Item = &'n KdlNode>) -> Vec<Cond> {
    let mut out = Vec::new();
    for c in nodes {
        r.check_props(c, &[]);
        let span = r.name_span(c);
        let name = r.name(c);
        match name {
            "when" | "check" => {
                r.no_children(c);
                let kind = if name == "when" {
                    CompareKind::When
                } else {
                    CompareKind::Check
                };
                out.extend(compare(r, c, kind));
            }
            "any" | "all" | "not" => {
                r.arg_count(c, 0, Some(0), "no arguments, and a block of conditions");
                let inner = conds(r, c);
                if inner.is_empty() {
                    r.diags.push(codes::arg_count(
                        span,
                        name,
                        "a block with at least one condition",
                        0,
                    ));
                    continue;
                }
                out.push(match name {
                    "any" => Cond::Any(inner, span),
                    "all" => Cond::All(inner, span),
                    _ => Cond::Not(inner, span),
                });
            }
            "role" => {
                r.no_children(c);
                if r.arg_count(c, 1, None, "at least one role") {
                    out.push(Cond::Role(r.role_refs(args(c)), span));
                }
            }
            other => {
                let d = codes::unknown_node(
                    span,
                    other,
                    "a condition",
                    &["when", "check", "any", "all", "not", "role"],
                );
                r.diags.push(d);
            }
        }
    }
    out
}

fn guards(r: &mut Reader, n: &KdlNode) -> Option<Guards> {
    r.check_props(n, &[]);
    let span = r.name_span(n);
    if !args(n).is_empty() {
        r.no_children(n);
        if r.arg_count(n, 1, Some(1), "`open` or a block") {
            r.keyword(args(n).first()?, "a guards setting", &[("open", ())])?;
            return Some(Guards::Open);
        }
        return None;
    }
    if n.children().is_none() {
        r.diags
            .push(codes::arg_count(span, "guards", "`open` or a block", 0));
        return None;
    }
    let (mut createable, mut updatable, mut immutable, mut protected) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for c in children(n) {
        r.check_props(c, &[]);
        let name = r.name(c);
        if name != "protected" {
            r.no_children(c);
        }
        let list = match name {
            "createable" => &mut createable,
            "updatable" => &mut updatable,
            "immutable" => &mut immutable,
            "protected" => {
                if !r.arg_count(c, 1, None, "at least one column") {
                    continue;
                }
                let cols = r.idents(c, "a column name", false);
                let mut actions = Vec::new();
                for cc in children(c) {
                    r.check_props(cc, &[]);
                    r.no_children(cc);
                    if r.name(cc) == "actions" {
                        actions.extend(r.idents(cc, "an action name", false));
                    } else {
                        let d = codes::unknown_node(
                            r.name_span(cc),
                            r.name(cc),
                            "`protected`",
                            &["actions"],
                        );
                        r.diags.push(d);
                    }
                }
                protected.extend(cols.into_iter().map(|c| (c, actions.clone())));
                continue;
            }
            other => {
                let d = codes::unknown_node(
                    r.name_span(c),
                    other,
                    "`guards`",
                    &["createable", "updatable", "immutable", "protected"],
                );
                r.diags.push(d);
                continue;
            }
        };
        if r.arg_count(c, 1, None, "at least one column") {
            list.extend(r.idents(c, "a column name", false));
        }
    }
    Some(Guards::Lists {
        createable,
        updatable,
        immutable,
        protected,
    })
}

fn masking(r: &mut Reader, n: &KdlNode) -> Option<Masking> {
    r.check_props(n, &[]);
    r.arg_count(n, 0, Some(0), "no arguments");
    let mut masks = Vec::new();
    let mut unmasked = Vec::new();
    for c in children(n) {
        match r.name(c) {
            "mask" => {
                r.check_props(c, &["show", "owner"]);
                if !r.arg_count(c, 2, Some(2), "a column and a mask kind") {
                    continue;
                }
                let a = args(c);
                let (Some(col), Some(kind)) = (a.first(), a.get(1)) else {
                    continue;
                };
                let Some(column) = r.ident(col, "a column name", false) else {
                    continue;
                };
                let kind = r.keyword(kind, "a mask kind", MASK_KINDS);
                let mut show = Vec::new();
                if let Some(e) = r.prop(c, "show") {
                    show.extend(r.role_ref(e));
                }
                for cc in children(c) {
                    r.check_props(cc, &[]);
                    r.no_children(cc);
                    if r.name(cc) == "show" {
                        show.extend(r.role_refs(args(cc)));
                    } else {
                        let d =
                            codes::unknown_node(r.name_span(cc), r.name(cc), "`mask`", &["show"]);
                        r.diags.push(d);
                    }
                }
                let owner = r.prop_ident(c, "owner", "a column name", false);
                masks.push(MaskAst {
                    column,
                    kind,
                    show,
                    owner,
                });
            }
            "unmasked" => {
                r.check_props(c, &[]);
                r.no_children(c);
                if r.arg_count(c, 1, None, "at least one column") {
                    unmasked.extend(r.idents(c, "a column name", false));
                }
            }
            other => {
                let d =
                    codes::unknown_node(r.name_span(c), other, "`masking`", &["mask", "unmasked"]);
                r.diags.push(d);
            }
        }
    }
    Some(Masking { masks, unmasked })
}
