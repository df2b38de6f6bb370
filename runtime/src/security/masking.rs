//! Layer 8, masking: applied to every outgoing record, and the rule that a column masked for the
//! caller cannot be queried (no value oracle through filters, sorts or search).

use serde_json::{Map, Value as Json};
use ward_ir::{ColumnType, Mask, MaskKind};

use crate::files::meta;
use crate::gate::Caller;
use crate::snapshot::TablePlan;

const REDACTED: &str = "[REDACTED]";

/// Whether the caller sees `mask`'s column raw on every row (owner exemptions are per row, so they
/// do not make a column queryable).
pub fn sees_raw_everywhere(mask: &Mask, caller: &Caller) -> bool {
    caller.has_any_role(&mask.show)
}

/// Whether the caller may filter, sort or search on `column`.
pub fn queryable(plan: &TablePlan, caller: &Caller, column: &str) -> bool {
    plan.def
        .mask(column)
        .is_none_or(|m| sees_raw_everywhere(m, caller))
}

/// Whether `mask` leaves its column raw on this (still unmasked) record for the caller: a `show`
/// role, or the row's owner.
fn shows(mask: &Mask, caller: &Caller, record: &Map<String, Json>) -> bool {
    if sees_raw_everywhere(mask, caller) {
        return true;
    }
    matches!((&mask.owner, &caller.user_id), (Some(owner_col), Some(uid))
        if record.get(owner_col).and_then(Json::as_str) == Some(uid.as_str()))
}

/// Whether the caller sees `column` of this (still unmasked) record raw. Labels and expansions of
/// a reference column follow it: a caller who may not see the reference may not see where it
/// points either.
pub fn sees_raw(
    plan: &TablePlan,
    caller: &Caller,
    column: &str,
    record: &Map<String, Json>,
) -> bool {
    plan.def
        .mask(column)
        .is_none_or(|m| shows(m, caller, record))
}

/// A stored image of a row (a change record's) as it would be shown today: the table's
/// current columns only, masked with `mask_record` unless `masked` is false (a planted bug's
/// switch, decided by the caller).
pub fn shown_today(
    plan: &TablePlan,
    caller: &Caller,
    stored: &Map<String, Json>,
    masked: bool,
) -> Map<String, Json> {
    let mut rec: Map<String, Json> = stored
        .iter()
        .filter(|(k, _)| plan.column(k).is_some())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if masked {
        mask_record(plan, caller, &mut rec);
    }
    rec
}

/// Masks one record in place. A file column always shows its metadata without the object's
/// key (SPEC §13), masked or not.
pub fn mask_record(plan: &TablePlan, caller: &Caller, record: &mut Map<String, Json>) {
    for c in plan.files.iter().filter_map(|&i| plan.columns().get(i)) {
        if let Some(v) = record.get_mut(&c.name) {
            *v = meta::public(v);
        }
    }
    // Decide every mask on the raw record first: an owner column that is itself masked must not
    // change the decision for the masks after it.
    let apply: Vec<&Mask> = plan
        .def
        .masks
        .iter()
        .filter(|m| !shows(m, caller, record))
        .collect();
    for m in apply {
        if m.kind == MaskKind::Hidden {
            // Not `remove`: with `preserve_order` that swaps the last key into the gap, and a
            // record's keys keep the table's column order.
            record.shift_remove(&m.column);
            continue;
        }
        let ty = plan.column(&m.column).map_or(ColumnType::Text, |c| c.ty);
        if let Some(v) = record.get_mut(&m.column) {
            *v = mask_value(m.kind, ty, v);
        }
    }
}

/// What one cell of a row looks like to the caller.
#[derive(Debug, PartialEq)]
pub enum Cell<'r> {
    Raw(&'r Json),
    Masked(Json),
    /// `hidden`: the key is left out.
    Hidden,
}

/// [`mask_record`] for rows read as cells in column order (no record map): the masks of a table
/// the caller does not see through everywhere, each decided per row on the raw cells, applied in
/// declaration order.
pub struct CellMasks<'a> {
    /// (masked column's position, mask, owner column's position, masked column's type).
    masks: Vec<(usize, &'a Mask, Option<usize>, ColumnType)>,
    /// Positions of the file columns, shown without their object's key.
    files: &'a [usize],
    user_id: Option<&'a str>,
}

impl<'a> CellMasks<'a> {
    pub fn new(plan: &'a TablePlan, caller: &'a Caller) -> Self {
        let position = |name: &str| plan.position(name);
        let masks = plan
            .def
            .masks
            .iter()
            .filter(|m| !sees_raw_everywhere(m, caller))
            .filter_map(|m| {
                let at = position(&m.column)?;
                let ty = plan.columns().get(at).map_or(ColumnType::Text, |c| c.ty);
                Some((at, m, m.owner.as_deref().and_then(position), ty))
            })
            .collect();
        CellMasks {
            masks,
            files: &plan.files,
            user_id: caller.user_id.as_deref(),
        }
    }

    /// Cell `at` of `row` as the caller sees it.
    pub fn cell<'r>(&self, row: &'r [Json], at: usize) -> Cell<'r> {
        let Some(raw) = row.get(at) else {
            return Cell::Hidden;
        };
        let mut out = if self.files.contains(&at) {
            Cell::Masked(meta::public(raw))
        } else {
            Cell::Raw(raw)
        };
        for (_, m, owner, ty) in self.masks.iter().filter(|(col, ..)| *col == at) {
            let owned = match (owner, self.user_id) {
                (Some(o), Some(uid)) => row.get(*o).and_then(Json::as_str) == Some(uid),
                _ => false,
            };
            if owned {
                continue;
            }
            if m.kind == MaskKind::Hidden {
                return Cell::Hidden;
            }
            out = Cell::Masked(match &out {
                Cell::Raw(v) => mask_value(m.kind, *ty, v),
                Cell::Masked(v) => mask_value(m.kind, *ty, v),
                Cell::Hidden => return Cell::Hidden,
            });
        }
        out
    }
}

/// The masked form of one value, exactly per SPEC §2.7.
pub fn mask_value(kind: MaskKind, ty: ColumnType, v: &Json) -> Json {
    // A file's metadata has no part worth showing masked (the compiler allows only `redact`
    // and `hidden` on it).
    if ty == ColumnType::File {
        return Json::Null;
    }
    let s = match v {
        Json::Null => return Json::Null,
        Json::String(s) => s.clone(),
        _ if kind == MaskKind::Redact => return Json::Null,
        other => other.to_string(),
    };
    let out = match kind {
        MaskKind::Email => email(&s),
        MaskKind::Phone | MaskKind::CreditCard => last4(&s),
        MaskKind::Ssn => ssn(&s),
        MaskKind::Name => Some(name(&s)),
        MaskKind::Redact => {
            return if ty == ColumnType::Text {
                Json::String(REDACTED.into())
            } else {
                Json::Null
            };
        }
        MaskKind::Hidden => None,
    };
    // A value so short that its mask hides no character (`a@b.io`, a one-letter name) would be
    // shown whole: SPEC §2.7 says masking never does that, so it is redacted instead.
    match out {
        Some(masked) if masked != s => Json::String(masked),
        _ => Json::String(REDACTED.into()),
    }
}

fn stars_after_first(s: &str) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| if i == 0 { c } else { '*' })
        .collect()
}

fn email(s: &str) -> Option<String> {
    let (local, domain) = s.rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() {
        return None;
    }
    let masked_domain = match domain.rsplit_once('.') {
        Some((head, tld)) if !head.is_empty() => format!("{}.{tld}", stars_after_first(head)),
        _ => stars_after_first(domain),
    };
    Some(format!("{}@{masked_domain}", stars_after_first(local)))
}

fn digits(s: &str) -> Vec<char> {
    s.chars().filter(char::is_ascii_digit).collect()
}

fn last4(s: &str) -> Option<String> {
    let d = digits(s);
    if d.len() <= 4 {
        return None;
    }
    let keep = d.len() - 4;
    Some(
        d.iter()
            .enumerate()
            .map(|(i, c)| if i < keep { '*' } else { *c })
            .collect(),
    )
}

fn ssn(s: &str) -> Option<String> {
    let d = digits(s);
    if d.len() == 9 {
        let tail: String = d.get(5..)?.iter().collect();
        return Some(format!("***-**-{tail}"));
    }
    last4(s)
}

fn name(s: &str) -> String {
    s.split_whitespace()
        .map(stars_after_first)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(kind: MaskKind, s: &str) -> Json {
        mask_value(kind, ColumnType::Text, &Json::String(s.into()))
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
        assert_eq!(
            m(MaskKind::CreditCard, "4111 1111 1111 1111"),
            "************1111"
        );
    }

    /// Who sees a masked column raw, and so who may filter, sort or search on it: a `show` role
    /// everywhere; the row's owner on their own rows only, which does not make the column
    /// queryable (a filter would reach other rows). An unmasked column is raw and queryable.
    #[test]
    fn who_sees_raw_and_who_may_query() {
        use crate::test_support::{caller, snapshot_with_masks};
        let snap = snapshot_with_masks(serde_json::json!([
            {"column": "status", "kind": "email", "show": ["admin"], "owner": "ownerId", "auto": false}
        ]));
        let plan = snap.table("rooms").expect("fixture table");
        let mask = plan.def.mask("status").expect("status is masked");
        let admin = caller(Some("a"), &["admin"], Some("acme"));
        let owner = caller(Some("o"), &["member"], Some("acme"));
        let other = caller(Some("x"), &["member"], Some("acme"));
        let row = serde_json::json!({"status": "o@example.com", "ownerId": "o"});
        let row = row.as_object().expect("an object");
        assert!(sees_raw_everywhere(mask, &admin));
        assert!(!sees_raw_everywhere(mask, &owner));
        for (who, raw, query) in [
            (&admin, true, true),
            (&owner, true, false),
            (&other, false, false),
        ] {
            let label = who.user_id.as_deref().unwrap_or_default();
            assert_eq!(sees_raw(plan, who, "status", row), raw, "{label} sees raw");
            assert_eq!(queryable(plan, who, "status"), query, "{label} queries");
            assert!(sees_raw(plan, who, "priority", row), "{label}: unmasked");
            assert!(queryable(plan, who, "priority"), "{label}: unmasked");
        }
        let mut masked = row.clone();
        mask_record(plan, &other, &mut masked);
        assert_eq!(masked["status"], "o@e******.com");
    }

    /// A redacted number or boolean becomes null; an email mask keeps a dotless domain's first
    /// letter, and an empty domain or local part is no email at all.
    #[test]
    fn redaction_and_email_edges() {
        for v in [Json::from(5), Json::from(true), Json::from(2.5)] {
            assert_eq!(
                mask_value(MaskKind::Redact, ColumnType::Text, &v),
                Json::Null,
                "{v}"
            );
        }
        assert_eq!(m(MaskKind::Email, "paul@localhost"), "p***@l********");
        assert_eq!(m(MaskKind::Email, "paul@.io"), "p***@.**");
        assert_eq!(m(MaskKind::Email, "@example.com"), "[REDACTED]");
        assert_eq!(m(MaskKind::Email, "paul@"), "[REDACTED]");
    }

    #[test]
    fn short_values_never_revealed() {
        assert_eq!(m(MaskKind::Email, "nobody"), "[REDACTED]");
        assert_eq!(m(MaskKind::Phone, "1234"), "[REDACTED]");
        assert_eq!(m(MaskKind::Ssn, "12-34"), "[REDACTED]");
        assert_eq!(m(MaskKind::Ssn, "1234567"), "***4567");
        // A mask that would hide no character redacts instead.
        assert_eq!(m(MaskKind::Email, "a@b.io"), "[REDACTED]");
        assert_eq!(m(MaskKind::Email, "a@b"), "[REDACTED]");
        assert_eq!(m(MaskKind::Email, "ab@b.io"), "a*@b.io");
        assert_eq!(m(MaskKind::Name, "J"), "[REDACTED]");
        assert_eq!(m(MaskKind::Name, "J D"), "[REDACTED]");
        assert_eq!(m(MaskKind::Name, ""), "[REDACTED]");
        assert_eq!(m(MaskKind::Name, "Jo D"), "J* D");
        assert_eq!(m(MaskKind::Phone, "*1234"), "[REDACTED]");
        assert_eq!(
            mask_value(MaskKind::Name, ColumnType::Integer, &Json::from(7)),
            "[REDACTED]"
        );
        assert_eq!(
            mask_value(MaskKind::Email, ColumnType::Text, &Json::Null),
            Json::Null
        );
        assert_eq!(
            mask_value(MaskKind::Redact, ColumnType::Integer, &Json::from(5)),
            Json::Null
        );
    }
}
