//! The callers of a compiled project: users of two organisations with every interesting mix of the
//! declared roles, users lacking the claims scopes need, the anonymous caller and broken tokens.

use std::collections::{BTreeMap, BTreeSet};

use ward_ir::{CLAIM_ROLES, CLAIM_USER_ID, ColumnType, Condition, Ir, Value};

use crate::cases::{TokenKind, User};
use crate::scenario::CallerSpec;

/// The caller set of `ir`, deterministic. Users come first (index 0 has the highest role in
/// organisation A, so shrunk scenarios act as a powerful, well-formed user), then the anonymous
/// caller, then broken tokens.
pub fn callers(ir: &Ir) -> Vec<CallerSpec> {
    let uuid_values = uuid_auth_values(ir);
    let claim_names: Vec<&String> = ir
        .auth
        .claims
        .keys()
        .filter(|k| k.as_str() != CLAIM_USER_ID && k.as_str() != CLAIM_ROLES)
        .collect();
    let roles = &ir.roles;
    let low = roles.first().cloned();
    let mid = roles.get(roles.len() / 2).cloned();
    let top = roles.last().cloned();
    let some = |r: &[&Option<String>]| -> Vec<String> {
        let mut out: Vec<String> = r.iter().filter_map(|x| (*x).clone()).collect();
        out.dedup();
        out
    };
    // (name, organisation or none, roles, keeps the custom claims)
    let plan: Vec<(&str, Option<char>, Vec<String>, bool)> = vec![
        ("alice", Some('a'), some(&[&top]), true),
        ("bob", Some('a'), some(&[&mid]), true),
        ("carol", Some('a'), some(&[&low]), true),
        ("dave", Some('a'), Vec::new(), true),
        ("erin", Some('b'), some(&[&top]), true),
        ("frank", Some('b'), some(&[&low, &mid]), true),
        // Has an organisation but not the custom claims.
        ("grace", Some('b'), some(&[&mid]), false),
        // No claims beyond `sub`: every scope on org-id or a custom claim is missing.
        ("heidi", None, some(&[&top]), false),
        // An unknown role next to a real one: unknown names are ignored.
        (
            "ivan",
            Some('a'),
            [vec!["ghost".to_owned()], some(&[&low])].concat(),
            true,
        ),
    ];
    let mut users = Vec::new();
    for (i, (name, org, roles, custom)) in plan.into_iter().enumerate() {
        let sub = if uuid_values.contains(CLAIM_USER_ID) {
            format!("00000000-0000-4000-8000-0000000000{:02x}", i + 1)
        } else {
            name.to_owned()
        };
        let mut claims = BTreeMap::new();
        if let Some(org) = org {
            for claim in &claim_names {
                if claim.as_str() != ward_ir::CLAIM_ORG_ID && !custom {
                    continue;
                }
                let value = if uuid_values.contains(claim.as_str()) {
                    let tag = if org == 'a' { 0xa } else { 0xb };
                    format!("00000000-0000-4000-8000-{tag:012x}")
                } else {
                    format!("{claim}-{org}")
                };
                claims.insert((*claim).clone(), value);
            }
        }
        users.push(User {
            name: name.to_owned(),
            sub,
            roles,
            claims,
        });
    }
    let mut out: Vec<CallerSpec> = users.iter().cloned().map(CallerSpec::User).collect();
    out.push(CallerSpec::Anonymous);
    let broken = [
        (0, TokenKind::Expired),
        (4, TokenKind::Forged),
        (0, TokenKind::AlgNone),
        (1, TokenKind::Malformed),
    ];
    for (i, kind) in broken {
        if let Some(u) = users.get(i) {
            out.push(CallerSpec::Broken(u.clone(), kind));
        }
    }
    out
}

/// Auth value names compared with a uuid column somewhere (scopes or conditions): their values
/// must look like uuids to be stampable and comparable.
fn uuid_auth_values(ir: &Ir) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for t in &ir.tables {
        let is_uuid = |col: &str| t.column(col).is_some_and(|c| c.ty == ColumnType::Uuid);
        for s in &t.firewall.scopes {
            if is_uuid(&s.column) {
                out.insert(s.auth.clone());
            }
        }
        let mut visit = |c: &Condition| {
            walk(c, &mut |field, values| {
                if is_uuid(field) {
                    for v in values {
                        if let Value::Auth(name) = v {
                            out.insert(name.clone());
                        }
                    }
                }
            })
        };
        for op in ward_ir::Operation::ALL {
            if let Some(rule) = t.access.rule(op) {
                visit(&rule.when);
                if let Some(check) = &rule.check {
                    visit(check);
                }
            }
        }
    }
    out
}

fn walk(c: &Condition, f: &mut dyn FnMut(&str, &[Value])) {
    match c {
        Condition::All { of } | Condition::Any { of } => of.iter().for_each(|x| walk(x, f)),
        Condition::Not { of } => walk(of, f),
        Condition::Role { .. } => {}
        Condition::Compare { field, values, .. } => f(field, values),
    }
}
