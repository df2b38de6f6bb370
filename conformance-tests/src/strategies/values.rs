//! Values: condition values for generated projects (KDL text), and JSON values of an IR column's
//! type, valid or deliberately not, for requests.

use serde_json::{Value, json};
use ward_ir::{Column, ColumnType, Literal, Number};

use super::Choices;
use super::project::CUSTOM_CLAIM;
use super::spec::{ColumnSpec, CondSpec};

/// A random `when FIELD OP VALUE…` over `cols` (plus `createdBy`/`createdAt`), well-typed.
pub(super) fn condition(d: &mut Choices, cols: &[ColumnSpec], custom: bool) -> Option<CondSpec> {
    // The flag says whether the column's values can lie within milliseconds of the request's
    // time (stamped or defaulted to it): `(time)now` is never compared with those, since the
    // model judges `now` by its own clock a few milliseconds after the server did, and the
    // answer would be a coin flip (docs/decisions.md, "Conformance").
    let mut fields: Vec<(&str, ColumnType, &[String], bool)> = vec![
        ("createdBy", ColumnType::Text, &[], false),
        ("createdAt", ColumnType::Datetime, &[], true),
    ];
    fields.extend(cols.iter().map(|c| {
        let near_now = c.default.as_deref() == Some("(time)now");
        (c.name.as_str(), c.ty, c.one_of.as_slice(), near_now)
    }));
    let (field, ty, one_of, near_now) = fields[d.below(fields.len())];
    let ops: &[&str] = match ty {
        ColumnType::Json | ColumnType::File => &["is-null", "not-null"],
        ColumnType::Boolean => &["eq", "ne", "is-null", "not-null"],
        ColumnType::Uuid => &["eq", "ne", "in", "not-in", "is-null", "not-null"],
        ColumnType::Text => &[
            "eq", "ne", "like", "in", "not-in", "gt", "lt", "is-null", "not-null",
        ],
        _ => &[
            "eq", "ne", "gt", "gte", "lt", "lte", "in", "not-in", "is-null", "not-null",
        ],
    };
    let op = ops[d.below(ops.len())];
    let count = match op {
        "is-null" | "not-null" => 0,
        "in" | "not-in" => 1 + d.below(3),
        _ => 1,
    };
    let mut values = Vec::new();
    for _ in 0..count {
        let v = match ty {
            // `(auth)` values compare with text/uuid columns, never with `like`.
            ColumnType::Text | ColumnType::Uuid if op != "like" && d.chance(40) => {
                let mut names = vec!["user-id", "org-id"];
                if custom {
                    names.push(CUSTOM_CLAIM);
                }
                format!("(auth){}", names[d.below(names.len())])
            }
            ColumnType::Text => match one_of {
                [] => super::spec::quote(["a", "active", "x y", "m"][d.below(4)]),
                some => some[d.below(some.len())].clone(),
            },
            ColumnType::Integer => match one_of {
                [] => d.range(-1, 20).to_string(),
                some => some[d.below(some.len())].clone(),
            },
            ColumnType::Float => ["0.5", "10.0", "99.5"][d.below(3)].to_owned(),
            ColumnType::Boolean => ["#true", "#false"][d.below(2)].to_owned(),
            ColumnType::Datetime if near_now => "\"2026-01-01T00:00:00Z\"".to_owned(),
            ColumnType::Date if near_now => "\"2026-06-01\"".to_owned(),
            ColumnType::Datetime => ["(time)now", "\"2026-01-01T00:00:00Z\""][d.below(2)].into(),
            ColumnType::Date => ["(time)now", "\"2026-06-01\""][d.below(2)].to_owned(),
            ColumnType::Uuid => "\"00000000-0000-4000-8000-000000000001\"".to_owned(),
            ColumnType::Json | ColumnType::File => return None,
        };
        values.push(v);
    }
    Some(CondSpec::When(field.to_owned(), op.to_owned(), values))
}

/// Text that is not anchored by a pattern: plain words, and the characters that break naive SQL
/// `LIKE` and JSON handling.
const WORDS: [&str; 8] = [
    "alpha",
    "b",
    "Café ☕",
    "x y",
    "50% off",
    "a_b",
    "back\\slash",
    "O'Neil \"q\"",
];
/// Candidates tried against a column's pattern, in order.
const PATTERN_CANDIDATES: [&str; 12] = [
    "abc",
    "red",
    "A123",
    "green",
    "xy",
    "Z999",
    "blue",
    "a",
    "hello",
    "ab-12",
    "2026-01-01",
    "A",
];
pub(super) const DATETIMES: [&str; 4] = [
    "2030-01-01T00:00:00.000Z",
    "2020-05-05T05:05:05+02:00",
    "2026-11-22T10:00:00Z",
    "2099-12-31T23:59:59.999Z",
];
pub(super) const DATES: [&str; 3] = ["2030-01-01", "2020-02-29", "2026-06-01"];

pub(super) fn literal_json(l: &Literal) -> Value {
    match l {
        Literal::Null => Value::Null,
        Literal::Boolean(b) => json!(b),
        Literal::Integer(i) => json!(i),
        Literal::Float(f) => json!(f),
        Literal::Text(t) => json!(t),
    }
}

fn matches(pattern: &str, text: &str) -> bool {
    regex::Regex::new(pattern).is_ok_and(|r| r.is_match(text))
}

fn fits_length(c: &Column, text: &str) -> bool {
    let n = text.chars().count() as u64;
    c.min_length.is_none_or(|m| n >= m) && c.max_length.is_none_or(|m| n <= m)
}

/// A value the column accepts (best effort for patterns no candidate matches).
pub(super) fn valid(d: &mut Choices, c: &Column) -> Value {
    if !c.one_of.is_empty() {
        return literal_json(&c.one_of[d.below(c.one_of.len())]);
    }
    match c.ty {
        ColumnType::Text => json!(valid_text(d, c)),
        ColumnType::Integer => {
            let lo = bound_i64(c.min).unwrap_or(-1000);
            let hi = bound_i64(c.max).unwrap_or(1000);
            match d.below(4) {
                0 => json!(d.range(lo, hi)),
                1 => json!(lo),
                2 => json!(hi),
                _ => json!(d.range(lo, hi)),
            }
        }
        ColumnType::Float => {
            let lo = c.min.map_or(-1000.0, Number::as_f64);
            let hi = c.max.map_or(1000.0, Number::as_f64);
            let t = f64::from(d.below(5) as u32) / 4.0;
            json!(lo + (hi - lo) * t)
        }
        ColumnType::Boolean => json!(d.below(2) == 1),
        ColumnType::Datetime => json!(DATETIMES[d.below(DATETIMES.len())]),
        ColumnType::Date => json!(DATES[d.below(DATES.len())]),
        ColumnType::Uuid => json!(uuid(d)),
        ColumnType::Json => {
            [json!({"a": 1}), json!([1, "two"]), json!("s"), json!(3)][d.below(4)].clone()
        }
        // JSON carries no file: the one value a client may write is null (no file).
        ColumnType::File => Value::Null,
    }
}

fn bound_i64(n: Option<Number>) -> Option<i64> {
    n.map(|n| match n {
        Number::Integer(i) => i,
        Number::Float(f) => f as i64,
    })
}

fn valid_text(d: &mut Choices, c: &Column) -> String {
    if let Some(p) = &c.pattern {
        let start = d.below(PATTERN_CANDIDATES.len());
        for k in 0..PATTERN_CANDIDATES.len() {
            let cand = PATTERN_CANDIDATES[(start + k) % PATTERN_CANDIDATES.len()];
            if matches(p, cand) && fits_length(c, cand) {
                return cand.to_owned();
            }
        }
        return "a".to_owned();
    }
    let lower = c.name.to_lowercase();
    let mut text = if lower.contains("email") {
        ["paul@example.com", "jo@mail.example.co.uk", "x@y"][d.below(3)].to_owned()
    } else if lower.contains("phone") || lower.contains("ssn") {
        ["+1 (555) 123-4567", "123-45-6789", "12"][d.below(3)].to_owned()
    } else {
        WORDS[d.below(WORDS.len())].to_owned()
    };
    if let Some(max) = c.max_length {
        text = text.chars().take(max as usize).collect();
    }
    while c
        .min_length
        .is_some_and(|m| (text.chars().count() as u64) < m)
    {
        text.push('z');
    }
    text
}

/// A uuid-shaped string that is unlikely to be any row's id.
pub(super) fn uuid(d: &mut Choices) -> String {
    let (a, b, c) = (d.next(), d.next(), d.next());
    format!(
        "{a:08x}-{:04x}-4{:03x}-8{:03x}-{b:08x}{:04x}",
        c & 0xffff,
        (c >> 16) & 0xfff,
        a & 0xfff,
        b & 0xffff
    )
}

/// A value the column rejects, with the reason's name (for the distribution test).
pub(super) fn invalid(d: &mut Choices, c: &Column) -> (Value, &'static str) {
    let mut options: Vec<(Value, &'static str)> = vec![(wrong_type(d, c.ty), "wrong-type")];
    if c.required {
        options.push((Value::Null, "null-required"));
    }
    if let Some(max) = bound_i64(c.max) {
        options.push((json!(max.saturating_add(1)), "out-of-range"));
    }
    if let Some(min) = bound_i64(c.min) {
        options.push((json!(min.saturating_sub(1)), "out-of-range"));
    }
    if let Some(max) = c.max_length {
        options.push((json!("w".repeat(max as usize + 1)), "too-long"));
    }
    if let Some(min) = c.min_length.filter(|m| *m > 0) {
        options.push((json!("w".repeat(min as usize - 1)), "too-short"));
    }
    if let Some(p) = &c.pattern
        && let Some(bad) = ["!!", "", "abc1", "RED", "a123", "zz zz"]
            .into_iter()
            .find(|x| !matches(p, x))
    {
        options.push((json!(bad), "pattern"));
    }
    if !c.one_of.is_empty() {
        let bad = match c.ty {
            ColumnType::Integer | ColumnType::Float => json!(987_654),
            _ => json!("not-one-of-these"),
        };
        options.push((bad, "enum"));
    }
    // The constraint-specific options are the interesting ones: prefer them over a type error.
    let i = if options.len() > 1 && d.chance(75) {
        1 + d.below(options.len() - 1)
    } else {
        0
    };
    options.swap_remove(i)
}

fn wrong_type(d: &mut Choices, ty: ColumnType) -> Value {
    match ty {
        ColumnType::Text => [json!(42), json!(true), json!({"a": 1})][d.below(3)].clone(),
        ColumnType::Integer => [json!("7"), json!(1.5), json!(true)][d.below(3)].clone(),
        ColumnType::Float => [json!("1.5"), json!(false)][d.below(2)].clone(),
        ColumnType::Boolean => [json!("yes"), json!(1)][d.below(2)].clone(),
        ColumnType::Datetime => {
            [json!("yesterday"), json!("2026-13-45T00:00:00Z"), json!(5)][d.below(3)].clone()
        }
        ColumnType::Date => [json!("2026-02-30"), json!("01/02/2026")][d.below(2)].clone(),
        ColumnType::Uuid => [json!("not-a-uuid"), json!(12)][d.below(2)].clone(),
        // Any JSON is a json value; an object where text is expected is still the closest miss.
        ColumnType::Json => json!(Value::Null),
        // Metadata written by a client, pointing at someone else's object: never a file.
        ColumnType::File => json!({
            "name": "x.txt", "size": 1, "type": "text/plain",
            "sha256": "00".repeat(32), "key": "other/table/object", "seal": "00",
        }),
    }
}

/// A column value as query text (filters, `in` lists).
pub(super) fn query_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
