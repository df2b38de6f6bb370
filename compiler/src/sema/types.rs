//! Pass 2, types: columns (types, defaults, bounds, `one-of`, patterns, references) and the
//! typing of condition values and operators.

use ward_ir::{
    Column, ColumnDefault, ColumnType, CompareOp, FileRules, IdKind, Literal, Number, OnDelete,
    Reference, Value, system, time,
};

use super::names::{Origin, Symbols, via};
use crate::diagnostics::{Diags, Span, codes, suggest};
use crate::syntax::ast::{self, Raw, Val};

pub fn id_type(id: IdKind) -> ColumnType {
    match id {
        IdKind::Uuid => ColumnType::Uuid,
        IdKind::Integer => ColumnType::Integer,
        IdKind::Text => ColumnType::Text,
    }
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    groups.len() == 5
        && groups
            .iter()
            .zip(lens)
            .all(|(g, l)| g.len() == l && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A literal checked against `ty`, normalised (UTC datetimes, lowercase uuids), or `None`.
pub fn literal(raw: &Raw, ty: ColumnType) -> Option<Literal> {
    match (ty, raw) {
        (_, Raw::Null) => Some(Literal::Null),
        (ColumnType::Text, Raw::Str(s)) => Some(Literal::Text(s.clone())),
        (ColumnType::Integer, Raw::Int(i)) => i64::try_from(*i).ok().map(Literal::Integer),
        (ColumnType::Float, Raw::Int(i)) => Some(Literal::Float(*i as f64)),
        (ColumnType::Float, Raw::Float(f)) if f.is_finite() => Some(Literal::Float(*f)),
        (ColumnType::Boolean, Raw::Bool(b)) => Some(Literal::Boolean(*b)),
        (ColumnType::Uuid, Raw::Str(s)) if is_uuid(s) => Some(Literal::Text(s.to_lowercase())),
        (ColumnType::Datetime, Raw::Str(s)) => time::normalize_datetime(s).map(Literal::Text),
        (ColumnType::Date, Raw::Str(s)) => {
            time::parse_date(s).map(|d| Literal::Text(time::date_text(d)))
        }
        (ColumnType::Json, Raw::Str(s)) => serde_json::from_str::<serde_json::Value>(s)
            .ok()
            .map(|v| Literal::Text(v.to_string())),
        _ => None,
    }
}

fn type_hint(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Text => "a string",
        ColumnType::Integer => "an integer",
        ColumnType::Float => "a number",
        ColumnType::Boolean => "`#true` or `#false`",
        ColumnType::Datetime => "an RFC 3339 string such as \"2026-01-31T12:00:00Z\"",
        ColumnType::Date => "a date string such as \"2026-01-31\"",
        ColumnType::Uuid => "a UUID string",
        ColumnType::Json => "a string holding JSON",
        ColumnType::File => "nothing: a file is uploaded, never written as a literal",
    }
}

/// Every column of a table in record order, and the display column.
pub fn columns(
    t: &ast::Table,
    soft: bool,
    syms: &Symbols,
    diags: &mut Diags,
) -> (Vec<Column>, Option<String>) {
    let plain = |name: &str, ty: ColumnType, required: bool| Column {
        name: name.to_owned(),
        ty,
        system: true,
        required,
        default: None,
        unique: false,
        min: None,
        max: None,
        min_length: None,
        max_length: None,
        pattern: None,
        one_of: Vec::new(),
        references: None,
        searchable: false,
        was: None,
        description: None,
        file: None,
    };
    let id = t.id.map_or(IdKind::Uuid, |i| i.0);
    let mut out = vec![plain(system::ID, id_type(id), true)];
    let mut display: Option<(String, Span)> = None;
    let mut seen: Vec<&ast::Ident> = Vec::new();
    for c in &t.columns {
        if system::ALL.contains(&c.name.name.as_str()) {
            diags.push(codes::system_column(c.name.span, &c.name.name));
            continue;
        }
        if ward_ir::RESERVED_QUERY_PARAMETERS.contains(&c.name.name.as_str()) {
            diags.push(codes::reserved_column(c.name.span, &c.name.name));
            continue;
        }
        if let Some(first) = seen.iter().find(|i| i.name == c.name.name) {
            diags.push(codes::duplicate_name(
                c.name.span,
                "column",
                &c.name.name,
                first.span,
            ));
            continue;
        }
        seen.push(&c.name);
        if let Some(span) = c.display
            && c.ty.is_some_and(|(ty, _)| ty == ColumnType::File)
        {
            diags.push(codes::property_type(
                span,
                "display",
                "file",
                "every type but file",
            ));
        } else if let Some(span) = c.display {
            match &display {
                Some((_, first)) => diags.push(codes::multiple_display(span, *first)),
                None => display = Some((c.name.name.clone(), span)),
            }
        }
        if let Some((ty, _)) = c.ty {
            out.push(column(c, ty, syms, diags));
        }
    }
    out.push(plain(system::CREATED_AT, ColumnType::Datetime, true));
    out.push(plain(system::CREATED_BY, ColumnType::Text, false));
    out.push(plain(system::MODIFIED_AT, ColumnType::Datetime, true));
    out.push(plain(system::MODIFIED_BY, ColumnType::Text, false));
    if soft {
        out.push(plain(system::DELETED_AT, ColumnType::Datetime, false));
        out.push(plain(system::DELETED_BY, ColumnType::Text, false));
    }
    (out, display.map(|d| d.0))
}

fn bound(v: &Val, ty: ColumnType, prop: &str, diags: &mut Diags) -> Option<Number> {
    if !ty.is_numeric() {
        diags.push(codes::property_type(
            v.span,
            prop,
            ty.name(),
            "integer and float columns",
        ));
        return None;
    }
    match (ty, &v.raw, &v.ann) {
        (ColumnType::Integer, Raw::Int(i), None) => i64::try_from(*i).ok().map(Number::Integer),
        (ColumnType::Float, Raw::Int(i), None) => i64::try_from(*i).ok().map(Number::Integer),
        (ColumnType::Float, Raw::Float(f), None) if f.is_finite() => Some(Number::Float(*f)),
        _ => {
            diags.push(codes::literal_type(
                v.span,
                prop,
                ty.name(),
                &v.raw.describe(),
                type_hint(ty),
            ));
            None
        }
    }
}

fn length(v: Option<(i128, Span)>, ty: ColumnType, prop: &str, diags: &mut Diags) -> Option<u64> {
    let (n, span) = v?;
    if ty != ColumnType::Text {
        diags.push(codes::property_type(span, prop, ty.name(), "text columns"));
        return None;
    }
    match u64::try_from(n) {
        Ok(n) => Some(n),
        Err(_) => {
            diags.push(codes::literal_type(
                span,
                prop,
                ty.name(),
                &format!("the integer `{n}`"),
                "a non-negative integer",
            ));
            None
        }
    }
}

pub fn column(c: &ast::Column, ty: ColumnType, syms: &Symbols, diags: &mut Diags) -> Column {
    let mut one_of = Vec::new();
    if !c.one_of.is_empty()
        && matches!(
            ty,
            ColumnType::Boolean | ColumnType::Json | ColumnType::File
        )
    {
        let span = c.one_of.first().map_or(c.name.span, |v| v.span);
        diags.push(codes::property_type(
            span,
            "one-of",
            ty.name(),
            "text, number, date and uuid columns",
        ));
    } else {
        for v in &c.one_of {
            match (&v.ann, literal(&v.raw, ty)) {
                (None, Some(l)) if l != Literal::Null => one_of.push(l),
                _ => diags.push(codes::literal_type(
                    v.span,
                    "one-of",
                    ty.name(),
                    &v.raw.describe(),
                    type_hint(ty),
                )),
            }
        }
    }
    let default = c
        .default
        .as_ref()
        .and_then(|v| default_value(v, ty, c.required, &one_of, diags));
    let min = c.min.as_ref().and_then(|v| bound(v, ty, "min", diags));
    let max = c.max.as_ref().and_then(|v| bound(v, ty, "max", diags));
    if let (Some(lo), Some(hi), Some(v)) = (min, max, &c.max)
        && lo.as_f64() > hi.as_f64()
    {
        let first = c.min.as_ref().map_or(v.span, |m| m.span);
        diags.push(codes::min_above_max(v.span, "min", "max", first));
    }
    let min_length = length(c.min_length, ty, "min-length", diags);
    let max_length = length(c.max_length, ty, "max-length", diags);
    if let (Some(lo), Some(hi), Some((_, span)), Some((_, first))) =
        (min_length, max_length, c.max_length, c.min_length)
        && lo > hi
    {
        diags.push(codes::min_above_max(
            span,
            "min-length",
            "max-length",
            first,
        ));
    }
    let mut pattern = None;
    if let Some((p, span)) = &c.pattern {
        if ty != ColumnType::Text {
            diags.push(codes::property_type(
                *span,
                "pattern",
                ty.name(),
                "text columns",
            ));
        } else if let Err(e) = regex::Regex::new(p) {
            let msg = e.to_string();
            let last = msg
                .lines()
                .last()
                .unwrap_or("invalid regular expression")
                .to_owned();
            diags.push(codes::invalid_pattern(*span, &last));
        } else {
            pattern = Some(p.clone());
        }
    }
    if let Some(span) = c.searchable
        && ty != ColumnType::Text
    {
        diags.push(codes::property_type(
            span,
            "searchable",
            ty.name(),
            "text columns",
        ));
    }
    if let Some((_, span)) = c.unique
        && ty == ColumnType::File
    {
        diags.push(codes::property_type(
            span,
            "unique",
            ty.name(),
            "every type but file",
        ));
    }
    let file = file_rules(c, ty, diags);
    let references = reference(c, ty, syms, diags);
    Column {
        name: c.name.name.clone(),
        ty,
        system: false,
        required: c.required,
        default,
        unique: c.unique.is_some(),
        min,
        max,
        min_length,
        max_length,
        pattern,
        one_of,
        references,
        searchable: c.searchable.is_some() && ty == ColumnType::Text,
        was: c.was.clone(),
        description: c.description.clone(),
        file,
    }
}

/// A `file` column's `max-size=` and `types=`; either on another type is an error.
fn file_rules(c: &ast::Column, ty: ColumnType, diags: &mut Diags) -> Option<FileRules> {
    if ty != ColumnType::File {
        for (prop, given) in [("max-size", &c.max_size), ("types", &c.types)] {
            if let Some((_, span)) = given {
                diags.push(codes::property_type(*span, prop, ty.name(), "file columns"));
            }
        }
        return None;
    }
    let max_size = match &c.max_size {
        None => FileRules::DEFAULT_MAX_SIZE,
        Some((text, span)) => match parse_size(text) {
            Some(n) => n,
            None => {
                diags.push(codes::invalid_file_setting(
                    *span,
                    &format!("`{text}` is not a size ward accepts"),
                    "write a whole number of B, KB, MB or GB (powers of 1024), from 1B to 1024GB, such as \"5MB\"",
                ));
                FileRules::DEFAULT_MAX_SIZE
            }
        },
    };
    let mut types: Vec<String> = Vec::new();
    if let Some((text, span)) = &c.types {
        for t in text.split(',').map(str::trim) {
            if !is_media_range(t) {
                diags.push(codes::invalid_file_setting(
                    *span,
                    &format!("`{t}` is not a media type"),
                    "list media types such as \"image/png,image/jpeg\" or a family such as \"image/*\", separated by commas",
                ));
            } else if !types.iter().any(|k| k == t) {
                types.push(t.to_owned());
            }
        }
    }
    Some(FileRules { max_size, types })
}

/// The largest `max-size`: 1 TiB.
const MAX_FILE_SIZE: u64 = 1 << 40;

/// `5MB`, `512KB`, `2GB`, `100B` (also `KiB`, `MiB`, `GiB`): binary multiples, as PocketBase's
/// `5 << 20` default is.
fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(digits);
    let n: u64 = n.parse().ok()?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "b" => 0,
        "kb" | "kib" => 10,
        "mb" | "mib" => 20,
        "gb" | "gib" => 30,
        _ => return None,
    };
    n.checked_shl(shift)
        .filter(|bytes| (1..=MAX_FILE_SIZE).contains(bytes) && bytes >> shift == n)
}

/// `type/subtype` or `type/*`, lower case, as media types are compared.
fn is_media_range(t: &str) -> bool {
    let token = |s: &str| {
        !s.is_empty()
            && s.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '+' | '-')
            })
    };
    t.split_once('/')
        .is_some_and(|(family, sub)| token(family) && (sub == "*" || token(sub)))
}

fn default_value(
    v: &Val,
    ty: ColumnType,
    required: bool,
    one_of: &[Literal],
    diags: &mut Diags,
) -> Option<ColumnDefault> {
    match &v.ann {
        Some(a) if a.name == "time" => {
            if v.raw == Raw::Str("now".to_owned())
                && matches!(ty, ColumnType::Datetime | ColumnType::Date)
            {
                return Some(ColumnDefault::Now);
            }
            diags.push(codes::literal_type(
                v.span,
                "default",
                ty.name(),
                "`(time)now`",
                type_hint(ty),
            ));
            return None;
        }
        Some(a) => {
            diags.push(codes::unknown_annotation(
                a.span,
                &a.name,
                "a default",
                &["time"],
            ));
            return None;
        }
        None => {}
    }
    let lit = match literal(&v.raw, ty) {
        Some(Literal::Null) if required => None,
        other => other,
    };
    let Some(lit) = lit else {
        diags.push(codes::literal_type(
            v.span,
            "default",
            ty.name(),
            &v.raw.describe(),
            type_hint(ty),
        ));
        return None;
    };
    if lit != Literal::Null && !one_of.is_empty() && !one_of.contains(&lit) {
        diags.push(codes::default_not_in_one_of(v.span, &v.raw.describe()));
        return None;
    }
    Some(ColumnDefault::Literal(lit))
}

fn reference(
    c: &ast::Column,
    ty: ColumnType,
    syms: &Symbols,
    diags: &mut Diags,
) -> Option<Reference> {
    let Some(target) = &c.references else {
        if let Some((_, span)) = c.on_delete {
            diags.push(codes::property_type(
                span,
                "on-delete",
                ty.name(),
                "columns with `references=`",
            ));
        }
        return None;
    };
    let Some(sym) = syms.tables.get(&target.name) else {
        let help = suggest(&target.name, syms.tables.keys().map(String::as_str));
        diags.push(codes::unknown_table(target.span, &target.name, help));
        return None;
    };
    let want = id_type(sym.id);
    if want != ty {
        let ty_span = c.ty.map_or(c.name.span, |t| t.1);
        diags.push(codes::reference_type(
            ty_span,
            ty.name(),
            &target.name,
            want.name(),
            target.span,
        ));
        return None;
    }
    let on_delete = c.on_delete.map_or(OnDelete::Restrict, |o| o.0);
    if on_delete == OnDelete::SetNull
        && c.required
        && let Some((_, span)) = c.on_delete
    {
        diags.push(codes::set_null_required(span, &c.name.name));
    }
    Some(Reference {
        table: target.name.clone(),
        on_delete,
    })
}

const OPS: &[(&str, CompareOp)] = &[
    ("eq", CompareOp::Eq),
    ("ne", CompareOp::Ne),
    ("gt", CompareOp::Gt),
    ("gte", CompareOp::Gte),
    ("lt", CompareOp::Lt),
    ("lte", CompareOp::Lte),
    ("like", CompareOp::Like),
    ("in", CompareOp::In),
    ("not-in", CompareOp::NotIn),
    ("is-null", CompareOp::IsNull),
    ("not-null", CompareOp::NotNull),
];

fn op_allowed(op: CompareOp, ty: ColumnType) -> bool {
    use ColumnType as T;
    match op {
        CompareOp::IsNull | CompareOp::NotNull => true,
        _ if ty == T::File => false,
        CompareOp::Eq | CompareOp::Ne => ty != T::Json,
        CompareOp::Gt | CompareOp::Gte | CompareOp::Lt | CompareOp::Lte => {
            matches!(ty, T::Integer | T::Float | T::Datetime | T::Date | T::Text)
        }
        CompareOp::Like => ty == T::Text,
        CompareOp::In | CompareOp::NotIn => !matches!(ty, T::Json | T::Boolean),
    }
}

/// Type a `when`/`check` comparison on a column of type `ty`.
/// The values a condition or assignment may use beyond `(auth)` and `(time)now`: view params,
/// action inputs and the action's row, each `None` where it does not exist.
#[derive(Clone, Copy, Default)]
pub struct Scope<'a> {
    pub params: Option<&'a [(String, ColumnType)]>,
    pub inputs: Option<&'a [Column]>,
    pub record: Option<&'a [Column]>,
    /// The row before the write (update and delete triggers).
    pub old: Option<&'a [Column]>,
}

impl Scope<'_> {
    fn annotations(&self) -> Vec<&'static str> {
        let mut out = vec!["auth", "time"];
        if self.params.is_some() {
            out.push("param");
        }
        if self.inputs.is_some() {
            out.push("input");
        }
        if self.record.is_some() {
            out.push("record");
        }
        if self.old.is_some() {
            out.push("old");
        }
        out
    }
}

#[allow(clippy::too_many_arguments)] // one comparison's parts, its scope, and where to report
pub fn compare(
    field: &ast::Ident,
    ty: ColumnType,
    op: &ast::Ident,
    values: &[Val],
    scope: Scope,
    syms: &Symbols,
    origin: Origin,
    diags: &mut Diags,
) -> Option<(CompareOp, Vec<Value>)> {
    let Some((_, cop)) = OPS.iter().find(|(k, _)| *k == op.name) else {
        let names: Vec<&str> = OPS.iter().map(|(k, _)| *k).collect();
        diags.push(via(
            codes::unknown_keyword(op.span, "an operator", &op.name, &names),
            origin,
        ));
        return None;
    };
    let cop = *cop;
    if !op_allowed(cop, ty) {
        diags.push(via(
            codes::operator_type(op.span, &op.name, ty.name(), &field.name),
            origin,
        ));
        return None;
    }
    let count_ok = match cop {
        CompareOp::IsNull | CompareOp::NotNull => values.is_empty(),
        CompareOp::In | CompareOp::NotIn => !values.is_empty(),
        _ => values.len() == 1,
    };
    if !count_ok {
        let expected = match cop {
            CompareOp::IsNull | CompareOp::NotNull => "no value",
            CompareOp::In | CompareOp::NotIn => "at least one value",
            _ => "exactly one value",
        };
        diags.push(via(
            codes::value_count(op.span, &op.name, expected, values.len()),
            origin,
        ));
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for v in values {
        match value(v, ty, cop, scope, syms, origin, diags) {
            Some(x) => out.push(x),
            None => ok = false,
        }
    }
    ok.then_some((cop, out))
}

pub fn value(
    v: &Val,
    ty: ColumnType,
    op: CompareOp,
    scope: Scope,
    syms: &Symbols,
    origin: Origin,
    diags: &mut Diags,
) -> Option<Value> {
    let typed_ref = |kind: &str, name: &str, found: Option<ColumnType>, diags: &mut Diags| {
        let fits = found.is_some_and(|t| t == ty && (op != CompareOp::Like || ty.is_textual()));
        if !fits && let Some(t) = found {
            diags.push(codes::condition_type(
                v.span,
                ty.name(),
                &format!("the {} {kind} `{name}`", t.name()),
                type_hint(ty),
            ));
        }
        fits
    };
    match (&v.ann, &v.raw) {
        (Some(a), Raw::Str(name)) if a.name == "input" && scope.inputs.is_some() => {
            let inputs = scope.inputs.unwrap_or_default();
            let Some(input) = inputs.iter().find(|i| i.name == *name) else {
                let help =
                    crate::diagnostics::suggest(name, inputs.iter().map(|i| i.name.as_str()));
                diags.push(codes::unknown_input(v.span, name, help));
                return None;
            };
            typed_ref("input", name, Some(input.ty), diags).then(|| Value::Input(name.clone()))
        }
        (Some(a), Raw::Str(name)) if row_columns(&a.name, scope).is_some() => {
            let (cols, make) = row_columns(&a.name, scope)?;
            let Some(col) = cols.iter().find(|c| c.name == *name) else {
                let help = crate::diagnostics::suggest(name, cols.iter().map(|c| c.name.as_str()));
                diags.push(codes::unknown_column(v.span, name, help));
                return None;
            };
            typed_ref("column", name, Some(col.ty), diags).then(|| make(name.clone()))
        }
        _ => value_plain(v, ty, op, scope, syms, origin, diags),
    }
}

/// How a column of a row in scope becomes a value (`Value::Record`, `Value::Old`).
type RowValue = fn(String) -> Value;

/// `(record)` and `(old)`: the row's columns, when the scope has that row.
fn row_columns<'a>(ann: &str, scope: Scope<'a>) -> Option<(&'a [Column], RowValue)> {
    match ann {
        "record" => scope.record.map(|c| (c, Value::Record as RowValue)),
        "old" => scope.old.map(|c| (c, Value::Old as RowValue)),
        _ => None,
    }
}

fn value_plain(
    v: &Val,
    ty: ColumnType,
    op: CompareOp,
    scope: Scope,
    syms: &Symbols,
    origin: Origin,
    diags: &mut Diags,
) -> Option<Value> {
    let params = scope.params;
    match &v.ann {
        Some(a) if a.name == "param" && params.is_some() => {
            let Raw::Str(name) = &v.raw else {
                diags.push(codes::condition_type(
                    v.span,
                    ty.name(),
                    &v.raw.describe(),
                    "a param name",
                ));
                return None;
            };
            let known = params.unwrap_or_default();
            let Some((_, pty)) = known.iter().find(|(n, _)| n == name) else {
                let help = crate::diagnostics::suggest(name, known.iter().map(|p| p.0.as_str()));
                diags.push(codes::unknown_param(v.span, name, help));
                return None;
            };
            let fits = *pty == ty && (op != CompareOp::Like || ty.is_textual());
            if !fits {
                diags.push(codes::condition_type(
                    v.span,
                    ty.name(),
                    &format!("the {} param `{name}`", pty.name()),
                    type_hint(ty),
                ));
                return None;
            }
            Some(Value::Param(name.clone()))
        }
        Some(a) if a.name == "auth" => {
            let Raw::Str(name) = &v.raw else {
                diags.push(via(
                    codes::condition_type(
                        v.span,
                        ty.name(),
                        &v.raw.describe(),
                        "an auth value name",
                    ),
                    origin,
                ));
                return None;
            };
            if !matches!(ty, ColumnType::Text | ColumnType::Uuid) || op == CompareOp::Like {
                diags.push(via(codes::auth_non_text(v.span, name, ty.name()), origin));
                return None;
            }
            syms.claim(name, v.span, origin, diags)
                .then(|| Value::Auth(name.clone()))
        }
        Some(a) if a.name == "time" => {
            if v.raw == Raw::Str("now".to_owned())
                && matches!(ty, ColumnType::Datetime | ColumnType::Date)
            {
                return Some(Value::Now);
            }
            diags.push(via(
                codes::condition_type(v.span, ty.name(), "`(time)now`", type_hint(ty)),
                origin,
            ));
            None
        }
        Some(a) => {
            let allowed = scope.annotations();
            let d = codes::unknown_annotation(a.span, &a.name, "a condition value", &allowed);
            diags.push(via(d, origin));
            None
        }
        None => {
            let ok = match literal(&v.raw, ty) {
                Some(Literal::Null) => None,
                Some(Literal::Text(s)) if op == CompareOp::Like => Some(Literal::Text(s)),
                Some(_) if op == CompareOp::Like => None,
                other => other,
            };
            match ok {
                Some(l) => Some(Value::Literal(l)),
                None => {
                    let hint = if v.raw == Raw::Null {
                        "a value (use `is-null` to test for null)"
                    } else {
                        type_hint(ty)
                    };
                    diags.push(via(
                        codes::condition_type(v.span, ty.name(), &v.raw.describe(), hint),
                        origin,
                    ));
                    None
                }
            }
        }
    }
}
