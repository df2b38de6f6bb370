//! Conditions for one caller's roles (the IR's partial evaluation, with the roles a caller
//! holds), printed in the resource language's own words.

use std::collections::BTreeSet;

use ward_ir::{Condition, Literal, Value};

pub use ward_ir::Partial;

/// Decides the role leaves of `c` for a caller holding `roles`.
pub fn partial(c: &Condition, roles: &BTreeSet<&str>) -> Partial {
    c.partial(&|wanted| wanted.iter().any(|r| roles.contains(r.as_str())))
}

/// `status ne "closed" and (ownerId eq (auth)user-id or role admin)`.
pub fn text(c: &Condition) -> String {
    match c {
        Condition::Role { roles } => format!("role {}", roles.join("|")),
        Condition::Compare { field, op, values } => {
            let vals: Vec<String> = values.iter().map(value).collect();
            if vals.is_empty() {
                format!("{field} {}", op.name())
            } else {
                format!("{field} {} {}", op.name(), vals.join(" "))
            }
        }
        Condition::Not { of } => format!("not ({})", text(of)),
        Condition::All { of } => joined(of, "and"),
        Condition::Any { of } => joined(of, "or"),
    }
}

fn joined(of: &[Condition], word: &str) -> String {
    let parts: Vec<String> = of
        .iter()
        .map(|c| match c {
            Condition::All { .. } | Condition::Any { .. } => format!("({})", text(c)),
            _ => text(c),
        })
        .collect();
    parts.join(&format!(" {word} "))
}

fn value(v: &Value) -> String {
    match v {
        Value::Auth(name) => format!("(auth){name}"),
        Value::Now => "(time)now".to_owned(),
        Value::Param(name) => format!("(param){name}"),
        Value::Input(name) => format!("(input){name}"),
        Value::Record(name) => format!("(record){name}"),
        Value::Old(name) => format!("(old){name}"),
        Value::Literal(l) => match l {
            Literal::Null => "#null".to_owned(),
            Literal::Boolean(b) => format!("#{b}"),
            Literal::Integer(i) => i.to_string(),
            Literal::Float(f) => f.to_string(),
            Literal::Text(s) => format!("{s:?}"),
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use ward_ir::CompareOp;

    fn cmp(field: &str, v: &str) -> Condition {
        Condition::Compare {
            field: field.into(),
            op: CompareOp::Eq,
            values: vec![Value::Literal(Literal::Text(v.into()))],
        }
    }

    #[test]
    fn role_leaves_are_decided_and_the_rest_printed() {
        let c = Condition::Any {
            of: vec![
                Condition::Role {
                    roles: vec!["admin".into()],
                },
                Condition::All {
                    of: vec![
                        Condition::Role {
                            roles: vec!["member".into()],
                        },
                        cmp("status", "open"),
                    ],
                },
            ],
        };
        let admin: BTreeSet<&str> = ["admin", "authenticated", "public"].into();
        let member: BTreeSet<&str> = ["member", "authenticated", "public"].into();
        let nobody: BTreeSet<&str> = ["public"].into();
        assert_eq!(partial(&c, &admin), Partial::True);
        assert_eq!(partial(&c, &nobody), Partial::False);
        let Partial::Rows(r) = partial(&c, &member) else {
            panic!()
        };
        assert_eq!(text(&r), r#"status eq "open""#);
        assert_eq!(
            text(&c),
            r#"role admin or (role member and status eq "open")"#
        );
    }
}
