//! Semantic passes over the AST: names → types → policies. Every pass pushes into one
//! [`Diags`] and keeps going; the IR tables are built as the checks succeed.

pub mod access;
pub mod actions;
pub mod names;
pub mod policies;
pub mod sources;
mod steps;
pub mod types;
pub mod views;

use std::collections::BTreeSet;

use ward_ir::{DeleteMode, OnDelete, Operation, ROLE_PUBLIC, Table, system};

use crate::diagnostics::{Diags, Span, codes};
use crate::syntax::ast::Project;
use names::{Symbols, via};
use policies::Cols;

/// The checked tables and standalone actions, and where each declaration was written.
pub fn check<'p>(
    project: &'p Project,
    diags: &mut Diags,
) -> (
    Symbols<'p>,
    Vec<Table>,
    Vec<ward_ir::Action>,
    sources::Spans,
) {
    let syms = names::collect(project, diags);
    let mut spans = sources::Spans::default();
    spans.project(project);
    let mut tables = Vec::new();
    let mut granted: BTreeSet<String> = BTreeSet::new();
    let mut unreadable = Vec::new();
    let mut with_actions = Vec::new();
    for t in &project.tables {
        if syms
            .tables
            .get(&t.name.name)
            .is_none_or(|s| s.span != t.name.span)
        {
            continue; // a duplicate, already reported
        }
        let before = diags.error_count();
        let res = names::resolve(t, &syms, diags);
        spans.table(t, &res);
        // A `use` that failed to resolve already explains a missing block.
        let uses_ok = diags.error_count() == before;
        let delete = res.delete.map_or(DeleteMode::Soft, |d| d.0);
        let soft = delete == DeleteMode::Soft;
        let (cols, display) = types::columns(t, soft, &syms, diags);
        let mut known: Vec<&str> = t.columns.iter().map(|c| c.name.name.as_str()).collect();
        known.extend(system::ALL);
        let c = Cols {
            cols: &cols,
            known: known.clone(),
        };
        let firewall = policies::firewall(t, &res, &c, &syms, uses_ok, diags);
        let (access, rules) = access::access(res.access, &cols, &known, &syms, diags);
        let public_bypasses = firewall.bypass.iter().any(|r| r == ROLE_PUBLIC)
            || firewall
                .scopes
                .iter()
                .all(|s| s.bypass.iter().any(|r| r == ROLE_PUBLIC));
        let firewalled = !firewall.scopes.is_empty() && !public_bypasses;
        for (op, span, origin) in &rules {
            let Some(rule) = access.rule(*op) else {
                continue;
            };
            granted.extend(rule.roles.iter().cloned());
            if rule.roles.iter().any(|r| r == ROLE_PUBLIC) && firewalled {
                diags.push(via(
                    codes::public_on_firewalled(*span, op.name(), &t.name.name),
                    *origin,
                ));
            }
        }
        let writes = rules
            .iter()
            .find(|(op, _, _)| matches!(op, Operation::Create | Operation::Update))
            .map(|r| r.1);
        let guards = policies::guards(t, &res, &c, &firewall, writes.filter(|_| uses_ok), diags);
        let masks = policies::masks(t, &res, &c, &syms, diags);
        let batch = policies::batch(&res, diags);
        let page = policies::page(t, diags);
        let history = policies::history(t, &c, &firewall, diags);
        let relations = policies::relations(t, &syms, &project.tables, diags);
        let indexes = policies::indexes(t, &c, &firewall, soft, diags);
        let views = views::views(
            &views::Table {
                name: &t.name.name,
                firewalled,
                cols: &cols,
                known: &known,
                list: access.list.as_ref(),
            },
            &t.views,
            &syms,
            diags,
        );
        for rule in views.iter().filter_map(|v| v.access.as_ref()) {
            granted.extend(rule.roles.iter().cloned());
        }
        let view_readable = views.iter().any(|v| v.access.is_some());
        if access.list.is_none() && access.read.is_none() && !view_readable {
            unreadable.push(t.name.clone());
        }
        tables.push(Table {
            name: t.name.name.clone(),
            description: t.description.clone(),
            id: t.id.map_or(ward_ir::IdKind::Uuid, |i| i.0),
            columns: cols,
            display,
            relations,
            indexes,
            firewall,
            access,
            guards,
            masks,
            delete,
            batch,
            page,
            views,
            actions: Vec::new(),
            triggers: Vec::new(),
            history,
            realtime: t.realtime.is_some_and(|(on, _)| on),
        });
        with_actions.push((t.name.name.clone(), &t.actions, &t.triggers));
    }
    // Actions read and write other tables: they are lowered once every table is known.
    let mut lowered = Vec::new();
    for (name, asts, triggers) in &with_actions {
        let Some(own) = tables.iter().find(|t| t.name == *name) else {
            continue;
        };
        let cx = actions::Cxa {
            own: Some(actions::Table::of(own)),
            all: &tables,
            syms: &syms,
        };
        let acts = actions::actions(&cx, asts, diags);
        lowered.push((name.clone(), acts, actions::triggers(&cx, triggers, diags)));
    }
    let cx = actions::Cxa {
        own: None,
        all: &tables,
        syms: &syms,
    };
    let standalone = actions::actions(&cx, &project.actions, diags);
    for (name, acts, triggers) in lowered {
        if let Some(t) = tables.iter_mut().find(|t| t.name == name) {
            t.actions = acts;
            t.triggers = triggers;
        }
    }
    let action_rules = tables
        .iter()
        .flat_map(|t| t.actions.iter())
        .chain(&standalone)
        .filter_map(|a| a.access.as_ref());
    for rule in action_rules {
        granted.extend(rule.roles.iter().cloned());
    }
    // Whole-project warnings only make sense once the project is otherwise valid: an error that
    // dropped a rule would make them noise.
    if !diags.has_errors() {
        for t in unreadable {
            diags.push(codes::unreadable_table(t.span, &t.name));
        }
        unused_roles(&syms, &granted, diags);
    }
    cascade_cycles(project, &tables, diags);
    (syms, tables, standalone, spans)
}

fn unused_roles(syms: &Symbols, granted: &BTreeSet<String>, diags: &mut Diags) {
    for (role, span) in syms.roles.iter().zip(&syms.role_spans) {
        if !granted.contains(role) {
            diags.push(codes::role_never_granted(*span, role));
        }
    }
}

/// Warn once per cycle of `on-delete=cascade` references.
fn cascade_cycles(project: &Project, tables: &[Table], diags: &mut Diags) {
    let mut edges: Vec<(&str, &str, Span)> = Vec::new();
    for t in tables {
        for c in &t.columns {
            let Some(r) = &c.references else { continue };
            if r.on_delete != OnDelete::Cascade {
                continue;
            }
            let span = project
                .tables
                .iter()
                .find(|a| a.name.name == t.name)
                .and_then(|a| a.columns.iter().find(|x| x.name.name == c.name))
                .and_then(|x| x.references.as_ref())
                .map_or(Span::default(), |i| i.span);
            edges.push((t.name.as_str(), r.table.as_str(), span));
        }
    }
    let reaches = |from: &str, to: &str| -> bool {
        let mut stack = vec![from];
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        while let Some(n) = stack.pop() {
            if n == to {
                return true;
            }
            if seen.insert(n) {
                stack.extend(edges.iter().filter(|e| e.0 == n).map(|e| e.1));
            }
        }
        false
    };
    let mut reported: BTreeSet<&str> = BTreeSet::new();
    for (child, parent, span) in &edges {
        if reported.contains(child) || !reaches(parent, child) {
            continue;
        }
        let members: Vec<&str> = tables
            .iter()
            .map(|t| t.name.as_str())
            .filter(|t| reaches(child, t) && reaches(t, child))
            .collect();
        reported.extend(members.iter().copied());
        diags.push(codes::cascade_cycle(*span, &members.join(" → ")));
    }
}
