//! Where each declaration was written, for the IR's `sources`: the console cites them beside a
//! refusal (SPEC §14). Keys are dotted paths a refusal can be mapped to without the source:
//! `T`, `T.column.C`, `T.firewall`, `T.firewall.scope.C`, `T.access.OP`, `T.guards`,
//! `T.guard.LIST.C`, `T.mask.C`, `T.batch`, `T.delete`, `T.page`, `T.history`, `T.view.V[.access]`,
//! `T.action.A[.access|.error.CODE]`, `T.on.EVENT.PHASE[.error.CODE]`, `action.A[…]`, `auth`.
//! A policy block a table takes from a template is cited where the template wrote it.

use std::collections::BTreeMap;

use crate::diagnostics::Span;
use crate::syntax::ast::{self, ActionAst, Firewall, Guards, Project, StepAst};

use super::names::Resolved;

/// Key → where it was written; the first declaration of a key wins.
#[derive(Default)]
pub struct Spans(pub BTreeMap<String, Span>);

impl Spans {
    fn put(&mut self, key: String, span: Span) {
        self.0.entry(key).or_insert(span);
    }

    pub fn project(&mut self, project: &Project) {
        if let Some(auth) = project.auths.first() {
            self.put("auth".to_owned(), auth.span);
        }
        if let Some(server) = project.servers.first() {
            self.put("server".to_owned(), server.span);
        }
        for a in &project.actions {
            self.action(&format!("action.{}", a.name.name), a);
        }
    }

    pub fn table(&mut self, t: &ast::Table, res: &Resolved) {
        let n = &t.name.name;
        self.put(n.clone(), t.name.span);
        for c in &t.columns {
            self.put(format!("{n}.column.{}", c.name.name), c.name.span);
        }
        for (kind, span) in &res.at {
            self.put(format!("{n}.{kind}"), *span);
        }
        if let Some((Firewall::Block { scopes, .. }, _)) = res.firewall {
            for s in scopes {
                self.put(
                    format!("{n}.firewall.scope.{}", s.column.name),
                    s.column.span,
                );
            }
        }
        if let Some((access, _)) = res.access {
            for rule in &access.rules {
                self.put(format!("{n}.access.{}", rule.op.name()), rule.span);
            }
        }
        if let Some((
            Guards::Lists {
                createable,
                updatable,
                immutable,
                protected,
            },
            _,
        )) = res.guards
        {
            let lists = [
                ("createable", createable),
                ("updatable", updatable),
                ("immutable", immutable),
            ];
            for (list, columns) in lists {
                for c in columns {
                    self.put(format!("{n}.guard.{list}.{}", c.name), c.span);
                }
            }
            for (c, _) in protected {
                self.put(format!("{n}.guard.protected.{}", c.name), c.span);
            }
        }
        if let Some((masking, _)) = res.masking {
            for m in &masking.masks {
                self.put(format!("{n}.mask.{}", m.column.name), m.column.span);
            }
        }
        if let Some(page) = &t.page {
            self.put(format!("{n}.page"), page.span);
        }
        if let Some(h) = &t.history {
            self.put(format!("{n}.history"), h.span);
        }
        if let Some((_, span)) = t.realtime {
            self.put(format!("{n}.realtime"), span);
        }
        for i in t.indexes.iter().filter(|i| i.unique) {
            let columns: Vec<&str> = i.columns.iter().map(|c| c.name.as_str()).collect();
            self.put(format!("{n}.index.{}", columns.join(",")), i.span);
        }
        for v in &t.views {
            let key = format!("{n}.view.{}", v.name.name);
            if let Some(access) = &v.access {
                self.put(format!("{key}.access"), access.span);
            }
            self.put(key, v.name.span);
        }
        for a in &t.actions {
            self.action(&format!("{n}.action.{}", a.name.name), a);
        }
        for tr in &t.triggers {
            let key = format!("{n}.on.{}.{}", tr.event.name(), tr.phase.name());
            self.errors(&key, &tr.steps);
            self.put(key, tr.span);
        }
    }

    fn action(&mut self, key: &str, a: &ActionAst) {
        self.put(key.to_owned(), a.name.span);
        if let Some(rule) = &a.access {
            self.put(format!("{key}.access"), rule.span);
        }
        self.errors(key, &a.steps);
    }

    /// Each custom error code a step can answer with, at the `require` that raises it.
    fn errors(&mut self, key: &str, steps: &[StepAst]) {
        for step in steps {
            match step {
                StepAst::Require {
                    span,
                    error: Some(error),
                    ..
                } => self.put(format!("{key}.error.{}", error.code), *span),
                StepAst::If {
                    then, otherwise, ..
                } => {
                    self.errors(key, then);
                    self.errors(key, otherwise);
                }
                _ => {}
            }
        }
    }
}
