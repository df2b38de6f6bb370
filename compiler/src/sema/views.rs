//! Pass 3c, views (SPEC §2.9): projection, fixed filter, params, default sort, allow-lists and
//! access, each checked against the table; and the warning for a view wider than `list`.

use std::collections::BTreeSet;

use ward_ir::{
    AccessRule, Column, ColumnType, Condition, Literal, Operation, Partial,
    RESERVED_QUERY_PARAMETERS, ROLE_PUBLIC, SortKey, View, ViewParam, system,
};

use super::access::{Cx, and};
use super::names::Symbols;
use super::types;
use crate::diagnostics::{Diags, codes, suggest};
use crate::policy::condition::partial;
use crate::policy::explain::{ANONYMOUS, held};
use crate::syntax::ast::{self, Ident, ViewAst};

pub struct Table<'a> {
    pub name: &'a str,
    /// Scopes that anonymous callers cannot pass (no claims, no `public` bypass).
    pub firewalled: bool,
    pub cols: &'a [Column],
    pub known: &'a [&'a str],
    pub list: Option<&'a AccessRule>,
}

pub fn views(t: &Table, asts: &[ViewAst], syms: &Symbols, diags: &mut Diags) -> Vec<View> {
    let mut out: Vec<View> = Vec::new();
    let mut seen: Vec<&Ident> = Vec::new();
    for v in asts {
        if let Some(first) = seen.iter().find(|s| s.name == v.name.name) {
            diags.push(codes::duplicate_name(
                v.name.span,
                "view",
                &v.name.name,
                first.span,
            ));
            continue;
        }
        seen.push(&v.name);
        let before = diags.error_count();
        let view = view(t, v, syms, diags);
        if diags.error_count() == before
            && let Some(view) = view
        {
            out.push(view);
        }
    }
    out
}

fn view(t: &Table, v: &ViewAst, syms: &Symbols, diags: &mut Diags) -> Option<View> {
    let column = |id: &Ident, diags: &mut Diags| -> Option<ColumnType> {
        match t.cols.iter().find(|c| c.name == id.name) {
            Some(c) => Some(c.ty),
            None => {
                let help = suggest(&id.name, t.cols.iter().map(|c| c.name.as_str()));
                diags.push(codes::unknown_column(id.span, &id.name, help));
                None
            }
        }
    };
    let fields = fields(t, v, &column, diags);
    let params = params(v, diags);
    let typed: Vec<(String, ColumnType)> = params.iter().map(|p| (p.name.clone(), p.ty)).collect();
    let always: Vec<(String, ColumnType)> = params
        .iter()
        .filter(|p| p.required || p.default.is_some())
        .map(|p| (p.name.clone(), p.ty))
        .collect();
    let filter = and(cx(t, syms, Some(&always))
        .conds(&v.filter, diags)
        .into_iter()
        .map(|c| c.0)
        .collect());
    let mut ir_params = Vec::new();
    for (p, ast) in params
        .into_iter()
        .zip(v.params.iter().filter(|p| p.ty.is_some()))
    {
        let mut scope = always.clone();
        if !scope.iter().any(|s| s.0 == p.name) {
            scope.extend(typed.iter().find(|s| s.0 == p.name).cloned());
        }
        let filter = and(cx(t, syms, Some(&scope))
            .conds(&ast.filter, diags)
            .into_iter()
            .map(|c| c.0)
            .collect());
        // The client picks a param's value: comparing a column the view does not show would
        // let them probe it.
        for field in filter.iter().flat_map(Condition::fields) {
            if !fields.iter().any(|f| f == field) {
                diags.push(codes::view_list_outside_fields(
                    ast.name.span,
                    &format!("param {}", ast.name.name),
                    field,
                    &v.name.name,
                ));
            }
        }
        ir_params.push(ViewParam { filter, ..p });
    }
    let mut sort = Vec::new();
    for (id, desc) in &v.sort {
        let Some(ty) = column(id, diags) else {
            continue;
        };
        if !fields.contains(&id.name) {
            // The next page's cursor carries the last row's sort values.
            diags.push(codes::view_list_outside_fields(
                id.span,
                "sort",
                &id.name,
                &v.name.name,
            ));
        } else if matches!(ty, ColumnType::Json | ColumnType::File) {
            diags.push(codes::property_type(
                id.span,
                "sort",
                ty.name(),
                "every type but json and file",
            ));
        } else if sort.iter().any(|k: &SortKey| k.column == id.name) {
            let first = v.sort.iter().find(|(k, _)| k.name == id.name);
            let first = first.map_or(id.span, |(k, _)| k.span);
            diags.push(codes::duplicate_name(id.span, "sort key", &id.name, first));
        } else {
            sort.push(SortKey {
                column: id.name.clone(),
                desc: *desc,
            });
        }
    }
    let mut allow = |list: &[Ident], what: &str, fits: fn(ColumnType) -> bool, need: &str| {
        let mut names = Vec::new();
        for id in list {
            let Some(ty) = column(id, diags) else {
                continue;
            };
            if !fields.contains(&id.name) {
                diags.push(codes::view_list_outside_fields(
                    id.span,
                    what,
                    &id.name,
                    &v.name.name,
                ));
            } else if !fits(ty) {
                diags.push(codes::property_type(id.span, what, ty.name(), need));
            } else if !names.contains(&id.name) {
                names.push(id.name.clone());
            }
        }
        names
    };
    let filterable = allow(
        &v.filterable,
        "filterable",
        |ty| ty != ColumnType::File,
        "every type but file",
    );
    let sortable = allow(
        &v.sortable,
        "sortable",
        |ty| !matches!(ty, ColumnType::Json | ColumnType::File),
        "every type but json and file",
    );
    let searchable = allow(
        &v.searchable,
        "searchable",
        |ty| ty == ColumnType::Text,
        "text columns",
    );
    for p in &v.params {
        if RESERVED_QUERY_PARAMETERS.contains(&p.name.name.as_str()) {
            diags.push(codes::param_name_taken(
                p.name.span,
                &p.name.name,
                "a list query parameter",
            ));
        } else if filterable.contains(&p.name.name) {
            diags.push(codes::param_name_taken(
                p.name.span,
                &p.name.name,
                "a filterable column of this view",
            ));
        }
    }
    let (access, widens) = access(t, v, syms, diags);
    Some(View {
        name: v.name.name.clone(),
        description: v.description.clone(),
        fields,
        filter,
        sort,
        params: ir_params,
        filterable,
        sortable,
        searchable,
        access,
        widens,
    })
}

/// A view's conditions are lowered as a `list` rule's, with `params` in scope.
fn cx<'a, 's>(
    t: &'a Table,
    syms: &'a Symbols<'s>,
    params: Option<&'a [(String, ColumnType)]>,
) -> Cx<'a, 's> {
    Cx {
        syms,
        cols: t.cols,
        known: t.known,
        op: Operation::List,
        origin: None,
        scope: types::Scope {
            params,
            ..types::Scope::default()
        },
    }
}

/// The projection in record order: `id`, then the listed columns (default: every declared one).
fn fields(
    t: &Table,
    v: &ViewAst,
    column: &dyn Fn(&Ident, &mut Diags) -> Option<ColumnType>,
    diags: &mut Diags,
) -> Vec<String> {
    let wanted: BTreeSet<&str> = match &v.fields {
        Some(list) => {
            let mut set = BTreeSet::new();
            for id in list {
                if column(id, diags).is_some() && !set.insert(id.name.as_str()) {
                    diags.push(codes::duplicate_name(id.span, "field", &id.name, id.span));
                }
            }
            set
        }
        None => t
            .cols
            .iter()
            .filter(|c| !c.system)
            .map(|c| c.name.as_str())
            .collect(),
    };
    t.cols
        .iter()
        .filter(|c| c.name == system::ID || wanted.contains(c.name.as_str()))
        .map(|c| c.name.clone())
        .collect()
}

/// Each param's type, requiredness and default (its conditions are lowered by the caller, once
/// every param's type is known).
fn params(v: &ViewAst, diags: &mut Diags) -> Vec<ViewParam> {
    let mut out: Vec<ViewParam> = Vec::new();
    let mut seen: Vec<&Ident> = Vec::new();
    for p in &v.params {
        if let Some(first) = seen.iter().find(|s| s.name == p.name.name) {
            diags.push(codes::duplicate_name(
                p.name.span,
                "param",
                &p.name.name,
                first.span,
            ));
        }
        seen.push(&p.name);
        let Some((ty, _)) = p.ty else {
            continue;
        };
        if let (Some(span), Some(_)) = (p.required, &p.default) {
            diags.push(codes::param_required_default(span, &p.name.name));
        }
        let default = p.default.as_ref().and_then(|d| param_default(d, ty, diags));
        out.push(ViewParam {
            name: p.name.name.clone(),
            ty,
            required: p.required.is_some(),
            default,
            description: p.description.clone(),
            filter: None,
        });
    }
    out
}

fn param_default(d: &ast::Val, ty: ColumnType, diags: &mut Diags) -> Option<Literal> {
    if let Some(a) = &d.ann {
        diags.push(codes::unknown_annotation(
            a.span,
            &a.name,
            "a param default",
            &[],
        ));
        return None;
    }
    match types::literal(&d.raw, ty) {
        Some(Literal::Null) | None => {
            diags.push(codes::literal_type(
                d.span,
                "default",
                ty.name(),
                &d.raw.describe(),
                "a value of the param's type",
            ));
            None
        }
        Some(l) => Some(l),
    }
}

/// The view's rule (its own, else the table's `list`) and whether it is declared to widen.
fn access(t: &Table, v: &ViewAst, syms: &Symbols, diags: &mut Diags) -> (Option<AccessRule>, bool) {
    let Some(a) = &v.access else {
        return (t.list.cloned(), false);
    };
    let cx = cx(t, syms, None);
    let rule = ast::Rule {
        op: Operation::List,
        span: a.span,
        roles: a.roles.clone(),
        body: a.body.clone(),
    };
    let Some(lowered) = cx.rule(&rule, diags) else {
        return (None, a.widens);
    };
    if t.firewalled && lowered.roles.iter().any(|r| r == ROLE_PUBLIC) {
        diags.push(codes::public_on_firewalled(
            a.span,
            &format!("view {}", v.name.name),
            t.name,
        ));
    }
    if !a.widens
        && let Some(who) = widened_for(&lowered, t.list, &syms.roles)
    {
        diags.push(codes::view_widens(a.span, &v.name.name, &who));
    }
    (Some(lowered), a.widens)
}

/// The first caller (anonymous, then each declared role) whom `view` admits to rows that `list`
/// does not, judged conservatively: a different row condition counts as wider unless it keeps
/// every condition of `list`.
fn widened_for(view: &AccessRule, list: Option<&AccessRule>, roles: &[String]) -> Option<String> {
    let callers = std::iter::once(ANONYMOUS).chain(roles.iter().map(String::as_str));
    for caller in callers {
        let held = held(caller);
        let v = partial(&view.when, &held);
        let l = list.map_or(Partial::False, |r| partial(&r.when, &held));
        let wider = match (&v, &l) {
            (Partial::False, _) | (_, Partial::True) => false,
            (_, Partial::False) | (Partial::True, _) => true,
            (Partial::Rows(vc), Partial::Rows(lc)) => !keeps(vc, lc),
        };
        if wider {
            return Some(if caller == ANONYMOUS {
                "anonymous callers".to_owned()
            } else {
                format!("role `{caller}`")
            });
        }
    }
    None
}

/// Whether `c` implies `required` syntactically: equal, or a conjunction that contains it.
fn keeps(c: &Condition, required: &Condition) -> bool {
    c == required
        || match c {
            Condition::All { of } => of.iter().any(|x| keeps(x, required)),
            _ => false,
        }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use ward_ir::{CompareOp, Value};

    fn role(r: &str) -> Condition {
        Condition::Role {
            roles: vec![r.into()],
        }
    }

    fn owner() -> Condition {
        Condition::Compare {
            field: "ownerId".into(),
            op: CompareOp::Eq,
            values: vec![Value::Auth("user-id".into())],
        }
    }

    fn rule(when: Condition) -> AccessRule {
        AccessRule {
            roles: Vec::new(),
            when,
            check: None,
        }
    }

    #[test]
    fn widening_is_judged_per_caller() {
        let roles = vec!["viewer".to_owned(), "member".to_owned()];
        let list = rule(role("member"));
        assert_eq!(
            widened_for(&rule(role("member")), Some(&list), &roles),
            None
        );
        assert_eq!(
            widened_for(&rule(role("viewer")), Some(&list), &roles).as_deref(),
            Some("role `viewer`")
        );
        assert_eq!(
            widened_for(&rule(role("public")), None, &roles).as_deref(),
            Some("anonymous callers")
        );
    }

    #[test]
    fn a_view_keeping_the_list_condition_narrows() {
        let roles = vec!["member".to_owned()];
        let list = rule(Condition::All {
            of: vec![role("member"), owner()],
        });
        let same_plus = rule(Condition::All {
            of: vec![
                role("member"),
                owner(),
                Condition::Compare {
                    field: "done".into(),
                    op: CompareOp::IsNull,
                    values: Vec::new(),
                },
            ],
        });
        assert_eq!(widened_for(&same_plus, Some(&list), &roles), None);
        let dropped = rule(role("member"));
        assert_eq!(
            widened_for(&dropped, Some(&list), &roles).as_deref(),
            Some("role `member`")
        );
    }
}
