//! Pass 3a, access rules: role expansion, condition typing, `when`/`check` placement, and the
//! unreachable-branch warning.

use ward_ir::{Access, AccessRule, Column, Condition, Operation};

use super::names::{Origin, Symbols, via};
use super::types;
use crate::diagnostics::{Diags, Span, codes};
use crate::syntax::ast::{self, CompareKind, Cond};

/// Lowering context for one rule (or one view's conditions, as a `list` rule with params).
pub struct Cx<'a, 's> {
    pub syms: &'a Symbols<'s>,
    pub cols: &'a [Column],
    pub known: &'a [&'a str],
    pub op: Operation,
    pub origin: Origin,
    pub scope: types::Scope<'a>,
}

pub fn access(
    acc: Option<(&ast::Access, Origin)>,
    cols: &[Column],
    known: &[&str],
    syms: &Symbols,
    diags: &mut Diags,
) -> (Access, Vec<(Operation, Span, Origin)>) {
    let mut out = Access::default();
    let mut spans = Vec::new();
    let Some((acc, origin)) = acc else {
        return (out, spans);
    };
    for rule in &acc.rules {
        let cx = Cx {
            syms,
            cols,
            known,
            op: rule.op,
            origin,
            scope: types::Scope::default(),
        };
        let Some(lowered) = cx.rule(rule, diags) else {
            continue;
        };
        spans.push((rule.op, rule.span, origin));
        let slot = match rule.op {
            Operation::List => &mut out.list,
            Operation::Read => &mut out.read,
            Operation::Create => &mut out.create,
            Operation::Update => &mut out.update,
            Operation::Delete => &mut out.delete,
            Operation::Restore => &mut out.restore,
            Operation::History => &mut out.history,
        };
        *slot = Some(lowered);
    }
    (out, spans)
}

fn has_role(c: &Condition) -> bool {
    match c {
        Condition::Role { .. } => true,
        Condition::All { of } | Condition::Any { of } => of.iter().any(has_role),
        Condition::Not { of } => has_role(of),
        Condition::Compare { .. } => false,
    }
}

fn granted_roles(c: &Condition, out: &mut Vec<String>) {
    match c {
        Condition::Role { roles } => out.extend(roles.iter().cloned()),
        Condition::All { of } | Condition::Any { of } => {
            of.iter().for_each(|x| granted_roles(x, out))
        }
        Condition::Not { .. } | Condition::Compare { .. } => {}
    }
}

/// The roles a branch requires directly (a role leaf, or a role leaf directly in an `all`).
fn required_roles(c: &Condition) -> Option<&Vec<String>> {
    match c {
        Condition::Role { roles } => Some(roles),
        Condition::All { of } => of.iter().find_map(|x| match x {
            Condition::Role { roles } => Some(roles),
            _ => None,
        }),
        _ => None,
    }
}

pub fn and(mut parts: Vec<Condition>) -> Option<Condition> {
    match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(Condition::All { of: parts }),
    }
}

impl Cx<'_, '_> {
    pub fn rule(&self, rule: &ast::Rule, diags: &mut Diags) -> Option<AccessRule> {
        let before = diags.error_count();
        let roles = self.syms.expand_all(&rule.roles, self.origin, diags);
        let mut when = Vec::new();
        if !roles.is_empty() {
            when.push(Condition::Role { roles });
        }
        let mut check = Vec::new();
        for c in &rule.body {
            match c {
                Cond::Compare {
                    kind: CompareKind::Check,
                    ..
                } => {
                    if !matches!(self.op, Operation::Create | Operation::Update) {
                        diags.push(via(
                            codes::misplaced_condition(c.span(), "check", self.op.name()),
                            self.origin,
                        ));
                        continue;
                    }
                    if let Cond::Compare {
                        field, op, values, ..
                    } = c
                    {
                        check.extend(self.compare(field, op, values, diags));
                    }
                }
                _ => when.extend(self.cond(c, diags).map(|x| x.0)),
            }
        }
        if diags.error_count() > before {
            return None;
        }
        let when = and(when)?;
        if !has_role(&when) {
            diags.push(via(
                codes::rule_without_role(rule.span, rule.op.name()),
                self.origin,
            ));
            return None;
        }
        let mut granted = Vec::new();
        granted_roles(&when, &mut granted);
        self.syms.sort_roles(&mut granted);
        Some(AccessRule {
            roles: granted,
            when,
            check: and(check),
        })
    }

    pub fn conds(&self, cs: &[Cond], diags: &mut Diags) -> Vec<(Condition, Span)> {
        cs.iter().filter_map(|c| self.cond(c, diags)).collect()
    }

    fn cond(&self, c: &Cond, diags: &mut Diags) -> Option<(Condition, Span)> {
        let span = c.span();
        let out = match c {
            Cond::All(cs, _) => Condition::All {
                of: self.conds(cs, diags).into_iter().map(|x| x.0).collect(),
            },
            Cond::Not(cs, _) => {
                let inner = self.conds(cs, diags).into_iter().map(|x| x.0).collect();
                Condition::Not {
                    of: Box::new(and(inner)?),
                }
            }
            Cond::Any(cs, _) => {
                let branches = self.conds(cs, diags);
                self.unreachable(&branches, diags);
                Condition::Any {
                    of: branches.into_iter().map(|x| x.0).collect(),
                }
            }
            Cond::Role(refs, _) => {
                let roles = self.syms.expand_all(refs, self.origin, diags);
                if roles.is_empty() {
                    return None;
                }
                Condition::Role { roles }
            }
            Cond::Compare {
                kind,
                field,
                op,
                values,
                ..
            } => {
                if *kind == CompareKind::Check {
                    // Only reached for a `check` nested inside any/all/not.
                    diags.push(via(
                        codes::misplaced_condition(span, "check", self.op.name()),
                        self.origin,
                    ));
                    return None;
                }
                if self.op == Operation::Create {
                    diags.push(via(
                        codes::misplaced_condition(span, "when", "create"),
                        self.origin,
                    ));
                    return None;
                }
                self.compare(field, op, values, diags)?
            }
        };
        Some((out, span))
    }

    fn compare(
        &self,
        field: &ast::Ident,
        op: &ast::Ident,
        values: &[ast::Val],
        diags: &mut Diags,
    ) -> Option<Condition> {
        let Some(col) = self.cols.iter().find(|c| c.name == field.name) else {
            if !self.known.contains(&field.name.as_str()) {
                let help = crate::diagnostics::suggest(
                    &field.name,
                    self.cols.iter().map(|c| c.name.as_str()),
                );
                diags.push(via(
                    codes::unknown_column(field.span, &field.name, help),
                    self.origin,
                ));
            }
            return None;
        };
        let (op, values) = types::compare(
            field,
            col.ty,
            op,
            values,
            self.scope,
            self.syms,
            self.origin,
            diags,
        )?;
        Some(Condition::Compare {
            field: field.name.clone(),
            op,
            values,
        })
    }

    /// Warn about `any` branches that can never make a difference: a branch requiring roles
    /// that a role-only branch already grants outright.
    fn unreachable(&self, branches: &[(Condition, Span)], diags: &mut Diags) {
        for (j, (bj, sj)) in branches.iter().enumerate() {
            let Some(need) = required_roles(bj) else {
                continue;
            };
            let hit = branches.iter().enumerate().find(|(i, (bi, _))| {
                let Condition::Role { roles: granted } = bi else {
                    return false;
                };
                let same = bi == bj;
                *i != j && (!same || *i < j) && need.iter().all(|r| granted.contains(r))
            });
            if let Some((_, (_, si))) = hit {
                diags.push(via(codes::unreachable_branch(*sj, *si), self.origin));
            }
        }
    }
}
