//! KDL → AST for `view NAME { … }` inside a table (SPEC §2.9).

use kdl::KdlNode;

use super::ast::{CompareKind, Ident, ParamAst, ViewAccessAst, ViewAst};
use super::parse::COLUMN_TYPES;
use super::policy::{compare, conds};
use super::reader::{Reader, args, children};
use crate::diagnostics::codes;

const VIEW_NODES: &[&str] = &[
    "fields",
    "where",
    "sort",
    "param",
    "filterable",
    "sortable",
    "searchable",
    "access",
    "description",
];

pub fn view(r: &mut Reader, n: &KdlNode) -> Option<ViewAst> {
    r.check_props(n, &[]);
    if !r.arg_count(n, 1, Some(1), "one view name") {
        return None;
    }
    let name = r.ident(args(n).first()?, "a view name", false)?;
    let mut v = ViewAst {
        name,
        ..ViewAst::default()
    };
    let mut seen = Vec::new();
    for c in children(n) {
        let cname = r.name(c);
        match cname {
            "fields" | "filterable" | "sortable" | "searchable" => {
                r.check_props(c, &[]);
                r.no_children(c);
                if !r.once(c, &mut seen) || !r.arg_count(c, 1, None, "at least one column") {
                    continue;
                }
                let cols = r.idents(c, "a column name", false);
                match cname {
                    "fields" => v.fields = Some(cols),
                    "filterable" => v.filterable = cols,
                    "sortable" => v.sortable = cols,
                    _ => v.searchable = cols,
                }
            }
            "where" => {
                r.check_props(c, &[]);
                if args(c).is_empty() {
                    // The block form: `where { any { … } }`.
                    let inner = conds(r, c);
                    if inner.is_empty() {
                        r.diags.push(codes::arg_count(
                            r.name_span(c),
                            "where",
                            "a comparison, or a block of conditions",
                            0,
                        ));
                    }
                    v.filter.extend(inner);
                } else {
                    r.no_children(c);
                    v.filter.extend(compare(r, c, CompareKind::When));
                }
            }
            "sort" => {
                r.check_props(c, &[]);
                r.no_children(c);
                if r.once(c, &mut seen) && r.arg_count(c, 1, None, "at least one column") {
                    v.sort = sort_keys(r, c);
                }
            }
            "param" => {
                if let Some(p) = param(r, c) {
                    v.params.push(p);
                }
            }
            "access" => {
                r.check_props(c, &["widens"]);
                if !r.once(c, &mut seen) || !r.arg_count(c, 1, None, "at least one role") {
                    continue;
                }
                let roles = r.role_refs(args(c));
                let widens = r.prop_bool(c, "widens").is_some_and(|b| b.0);
                let body = conds(r, c);
                v.access = Some(ViewAccessAst {
                    span: r.name_span(c),
                    roles,
                    body,
                    widens,
                });
            }
            "description" => {
                r.check_props(c, &[]);
                r.no_children(c);
                if r.once(c, &mut seen) && r.arg_count(c, 1, Some(1), "one string") {
                    v.description = args(c)
                        .first()
                        .and_then(|e| r.string(e, "a string"))
                        .map(|s| s.0);
                }
            }
            other => {
                let d = codes::unknown_node(r.name_span(c), other, "`view`", VIEW_NODES);
                r.diags.push(d);
            }
        }
    }
    Some(v)
}

/// `sort -capacity name`: a leading `-` sorts descending.
pub(super) fn sort_keys(r: &mut Reader, n: &KdlNode) -> Vec<(Ident, bool)> {
    let mut out = Vec::new();
    for e in args(n) {
        let Some((text, span)) = r.string(e, "a column name, `-` for descending") else {
            continue;
        };
        let (name, desc) = match text.strip_prefix('-') {
            Some(rest) => (rest.to_owned(), true),
            None => (text, false),
        };
        if !super::reader::is_ident(&name, false) {
            r.diags.push(codes::invalid_identifier(
                span,
                "a sort column",
                &name,
                false,
            ));
            continue;
        }
        out.push((Ident { name, span }, desc));
    }
    out
}

fn param(r: &mut Reader, n: &KdlNode) -> Option<ParamAst> {
    r.check_props(n, &["required", "default", "description"]);
    if !r.arg_count(n, 2, Some(2), "a name and a type") {
        return None;
    }
    let a = args(n);
    let name = r.ident(a.first()?, "a param name", false)?;
    let ty_entry = a.get(1)?;
    let ty = r
        .keyword(ty_entry, "a param type", COLUMN_TYPES)
        .map(|t| (t, r.sp(ty_entry.span())));
    let required = r.prop_bool(n, "required").and_then(|(b, s)| b.then_some(s));
    let default = r.prop(n, "default").map(|e| r.val(e));
    let description = r.prop_str(n, "description", "a string").map(|s| s.0);
    let filter = conds(r, n);
    Some(ParamAst {
        name,
        ty,
        required,
        default,
        description,
        filter,
    })
}
