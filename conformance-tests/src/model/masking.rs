//! Layer 8, masking (SPEC §2.7, §5.2): the exact masked formats, who sees a column raw, and how
//! a stored row becomes the record a caller receives (masks, then `STEM_label`s).

use serde_json::Value;
use ward_ir::{ColumnType, Ir, Mask, MaskKind, Operation, Table};

use super::auth::Who;
use super::{Row, Tables, access, firewall};

const REDACTED: &str = "[REDACTED]";

/// Whether the caller sees the column raw on every row (a `show` role). Owner exemptions are per
/// row, so only this makes a column queryable.
pub fn queryable(table: &Table, who: &Who, column: &str) -> bool {
    table.mask(column).is_none_or(|m| who.has_any(&m.show))
}

/// Whether the caller sees `mask`'s column raw on this stored row.
fn shows(mask: &Mask, who: &Who, row: &Row) -> bool {
    if who.has_any(&mask.show) {
        return true;
    }
    match (&mask.owner, &who.user_id) {
        (Some(owner), Some(me)) => row.get(owner).and_then(Value::as_str) == Some(me.as_str()),
        _ => false,
    }
}

/// Whether the caller sees `column` of this stored row raw.
pub fn sees_raw(table: &Table, who: &Who, column: &str, row: &Row) -> bool {
    table.mask(column).is_none_or(|m| shows(m, who, row))
}

/// Masks a record. `owner_exempt` is false for echoed batch input, whose owner column is
/// whatever the client wrote (docs/decisions.md).
pub fn mask(table: &Table, who: &Who, row: &Row, owner_exempt: bool) -> Row {
    let mut out = row.clone();
    // A file column shows its metadata, never where the bytes are (SPEC §13).
    for c in table.file_columns() {
        if let Some(v) = out.get_mut(&c.name) {
            *v = crate::files::without_key(v);
        }
    }
    for m in &table.masks {
        let raw = if owner_exempt {
            shows(m, who, row)
        } else {
            who.has_any(&m.show)
        };
        if raw {
            continue;
        }
        if m.kind == MaskKind::Hidden {
            out.remove(&m.column);
            continue;
        }
        let ty = table.column(&m.column).map_or(ColumnType::Text, |c| c.ty);
        if let Some(v) = out.get_mut(&m.column) {
            *v = mask_value(m.kind, ty, v);
        }
    }
    out
}

/// One value, masked exactly as SPEC §2.7 says.
pub fn mask_value(kind: MaskKind, ty: ColumnType, v: &Value) -> Value {
    let text = match v {
        Value::Null => return Value::Null,
        Value::String(s) => s.clone(),
        _ if kind == MaskKind::Redact => return Value::Null,
        other => other.to_string(),
    };
    let masked = match kind {
        MaskKind::Email => email(&text),
        MaskKind::Phone | MaskKind::CreditCard => last_four(&text),
        MaskKind::Ssn => ssn(&text),
        MaskKind::Name => Some(
            text.split_whitespace()
                .map(first_kept)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        MaskKind::Redact if ty == ColumnType::Text => None,
        MaskKind::Redact => return Value::Null,
        MaskKind::Hidden => None,
    };
    // SPEC §2.7: masking never reveals a value whole, so a mask that would hide no character
    // (`a@b.io`, a one-letter name) gives `[REDACTED]`.
    match masked {
        Some(m) if m != text => Value::String(m),
        _ => Value::String(REDACTED.to_owned()),
    }
}

/// The first character, then one `*` per further character.
fn first_kept(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => std::iter::once(c).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

fn email(s: &str) -> Option<String> {
    let at = s.rfind('@')?;
    let (local, domain) = (&s[..at], &s[at + 1..]);
    if local.is_empty() || domain.is_empty() {
        return None;
    }
    let domain = match domain.rfind('.') {
        Some(dot) if dot > 0 => format!("{}{}", first_kept(&domain[..dot]), &domain[dot..]),
        _ => first_kept(domain),
    };
    Some(format!("{}@{domain}", first_kept(local)))
}

fn last_four(s: &str) -> Option<String> {
    let digits: Vec<char> = s.chars().filter(char::is_ascii_digit).collect();
    if digits.len() <= 4 {
        return None;
    }
    let hidden = digits.len() - 4;
    Some(
        std::iter::repeat_n('*', hidden)
            .chain(digits[hidden..].iter().copied())
            .collect(),
    )
}

fn ssn(s: &str) -> Option<String> {
    let digits: Vec<char> = s.chars().filter(char::is_ascii_digit).collect();
    if digits.len() == 9 {
        return Some(format!("***-**-{}", digits[5..].iter().collect::<String>()));
    }
    last_four(s)
}

/// The label key of a reference column: STEM_label, STEM = the name without a trailing `Id` or
/// `_id` when something remains.
pub fn label_key(column: &str) -> String {
    let stem = column
        .strip_suffix("_id")
        .filter(|s| !s.is_empty())
        .or_else(|| column.strip_suffix("Id").filter(|s| !s.is_empty()))
        .unwrap_or(column);
    format!("{stem}_label")
}

/// A stored row as the caller receives it: masked, with its labels, projected by `fields`.
pub fn render(
    ir: &Ir,
    tables: &Tables,
    table: &Table,
    who: &Who,
    now: &str,
    row: &Row,
    fields: Option<&[String]>,
) -> Value {
    let mut out = mask(table, who, row, true);
    for col in &table.columns {
        let Some(reference) = &col.references else {
            continue;
        };
        let Some(target) = ir.table(&reference.table) else {
            continue;
        };
        let Some(display) = &target.display else {
            continue;
        };
        let key = label_key(&col.name);
        // A declared column of the same name wins.
        if table.column(&key).is_some() {
            continue;
        }
        let label = match row.get(&col.name) {
            Some(id) if !id.is_null() && sees_raw(table, who, &col.name, row) => {
                readable(tables, target, who, now, id)
                    .map(|t| mask(target, who, t, true))
                    .and_then(|t| t.get(display).cloned())
                    .unwrap_or(Value::Null)
            }
            _ => Value::Null,
        };
        out.insert(key, label);
    }
    if let Some(fields) = fields {
        let keep = |k: &str| {
            fields.iter().any(|f| f == k)
                || table.columns.iter().any(|c| {
                    c.references.is_some() && label_key(&c.name) == k && fields.contains(&c.name)
                })
        };
        out.retain(|k, _| keep(k));
    }
    Value::Object(out)
}

/// The row `id` of `target` if the caller could read it (read rule, firewall, not deleted).
pub fn readable<'t>(
    tables: &'t Tables,
    target: &Table,
    who: &Who,
    now: &str,
    id: &Value,
) -> Option<&'t Row> {
    let residual = access::authorize(target, Operation::Read, who).ok()?;
    let scopes = firewall::scopes(target, who).ok()?;
    tables.get(&target.name)?.iter().find(|r| {
        r.get("id") == Some(id) && firewall::visible(r, &scopes) && residual.admits(r, who, now)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(kind: MaskKind, s: &str) -> Value {
        mask_value(kind, ColumnType::Text, &Value::String(s.into()))
    }

    #[test]
    fn spec_examples() {
        assert_eq!(m(MaskKind::Email, "paul@example.com"), "p***@e******.com");
        assert_eq!(
            m(MaskKind::Email, "jo@mail.example.co.uk"),
            "j*@m**************.uk"
        );
        assert_eq!(m(MaskKind::Phone, "+1 (555) 123-4567"), "*******4567");
        assert_eq!(m(MaskKind::Ssn, "123-45-6789"), "***-**-6789");
        assert_eq!(m(MaskKind::Name, "John Doe"), "J*** D**");
        assert_eq!(m(MaskKind::Redact, "x"), "[REDACTED]");
        assert_eq!(m(MaskKind::Email, "no-at-sign"), "[REDACTED]");
        assert_eq!(m(MaskKind::Phone, "1234"), "[REDACTED]");
        assert_eq!(label_key("roomTypeId"), "roomType_label");
        assert_eq!(label_key("owner_id"), "owner_label");
        assert_eq!(label_key("room"), "room_label");
        assert_eq!(label_key("Id"), "Id_label");
    }

    #[test]
    fn a_mask_that_hides_nothing_redacts() {
        assert_eq!(m(MaskKind::Email, "a@b.io"), "[REDACTED]");
        assert_eq!(m(MaskKind::Email, "a@b"), "[REDACTED]");
        assert_eq!(m(MaskKind::Email, "ab@b.io"), "a*@b.io");
        assert_eq!(m(MaskKind::Name, "J"), "[REDACTED]");
        assert_eq!(m(MaskKind::Name, "J D"), "[REDACTED]");
        assert_eq!(m(MaskKind::Name, ""), "[REDACTED]");
        assert_eq!(m(MaskKind::Name, "Jo D"), "J* D");
        assert_eq!(m(MaskKind::Phone, "*1234"), "[REDACTED]");
        assert_eq!(
            mask_value(MaskKind::Name, ColumnType::Integer, &Value::from(7)),
            "[REDACTED]"
        );
    }
}
