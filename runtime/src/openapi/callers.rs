//! What the document can tell from the access rules alone, by deciding them for every kind of
//! caller: anonymous, a token without roles, and a token with each declared role. Roles are
//! exact and rules monotone without `not`, so a token with several roles is decided as well by
//! the single roles it holds; a rule with `not` is treated as undecided.

use ward_ir::{AccessRule, Condition, Ir, Partial, ROLE_AUTHENTICATED, ROLE_PUBLIC};

/// The role sets of the callers that stand for every caller.
pub fn callers(ir: &Ir) -> Vec<Vec<String>> {
    let mut out = vec![
        vec![ROLE_PUBLIC.to_owned()],
        vec![ROLE_PUBLIC.to_owned(), ROLE_AUTHENTICATED.to_owned()],
    ];
    for role in &ir.roles {
        out.push(vec![
            ROLE_PUBLIC.to_owned(),
            ROLE_AUTHENTICATED.to_owned(),
            role.clone(),
        ]);
    }
    out
}

/// `rule` decided for a caller holding `roles`; no rule denies.
pub fn decide(rule: Option<&AccessRule>, roles: &[String]) -> Partial {
    match rule {
        Some(r) => r
            .when
            .partial(&|wanted| wanted.iter().any(|w| roles.contains(w))),
        None => Partial::False,
    }
}

/// Whether some caller with a token is refused by the role part (403), not only anonymous ones.
pub fn refuses_a_token(ir: &Ir, rule: Option<&AccessRule>) -> bool {
    callers(ir)
        .iter()
        .skip(1)
        .any(|roles| matches!(decide(rule, roles), Partial::False))
}

/// Whether no caller at all passes the role part of `rule` (none: nobody).
pub fn nobody(ir: &Ir, rule: Option<&AccessRule>) -> bool {
    callers(ir)
        .iter()
        .all(|roles| matches!(decide(rule, roles), Partial::False))
}

/// Whether some caller's residual is a row condition (a `when` that can fail on a row).
pub fn has_row_condition(ir: &Ir, rule: Option<&AccessRule>) -> bool {
    callers(ir)
        .iter()
        .any(|roles| matches!(decide(rule, roles), Partial::Rows(_)))
}

/// Whether `rule` lets anonymous callers in: the operation needs no token.
pub fn public(rule: Option<&AccessRule>) -> bool {
    rule.is_some_and(|r| r.roles.iter().any(|x| x == ROLE_PUBLIC))
}

fn has_not(c: &Condition) -> bool {
    match c {
        Condition::Not { .. } => true,
        Condition::All { of } | Condition::Any { of } => of.iter().any(has_not),
        Condition::Role { .. } | Condition::Compare { .. } => false,
    }
}

/// What a write (or action) answers its callers about the row: the whole row only when their
/// `read` rule shows it (docs/decisions.md), else its id alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    Row,
    IdOnly,
    Either,
}

/// [`Shown`] for the callers `may_write` admits, judged by `read`.
pub fn shown(ir: &Ir, read: Option<&AccessRule>, may_write: &dyn Fn(&[String]) -> bool) -> Shown {
    if read.is_some_and(|r| has_not(&r.when)) {
        return Shown::Either;
    }
    let (mut row, mut id_only) = (false, false);
    for roles in callers(ir).iter().filter(|r| may_write(r)) {
        match decide(read, roles) {
            Partial::True => row = true,
            Partial::False => id_only = true,
            Partial::Rows(_) => return Shown::Either,
        }
    }
    match (row, id_only) {
        (true, true) => Shown::Either,
        (false, true) => Shown::IdOnly,
        // Nobody writes at all, or every writer reads.
        _ => Shown::Row,
    }
}

/// `may_write` for one rule: the role part is not refused outright.
pub fn admits(rule: Option<&AccessRule>) -> impl Fn(&[String]) -> bool + '_ {
    move |roles: &[String]| {
        !matches!(decide(rule, roles), Partial::False) || rule.is_some_and(|r| has_not(&r.when))
    }
}
