//! Pass 3b, policies: firewall, guards, masking, batch, page, history, relations and indexes of
//! one table.

use ward_ir::{
    Batch, Column, ColumnType, ErrorMode, Firewall, Guards, History, IdKind, Index, Mask, MaskKind,
    Page, Protected, Relation, Scope,
};

use super::names::{Origin, Resolved, Symbols, via};
use crate::diagnostics::{Diags, Span, codes, suggest};
use crate::syntax::ast::{self, Raw, Uniqueness};

/// Column lookup for one table, reporting unknown names once.
pub struct Cols<'a> {
    pub cols: &'a [Column],
    /// Every declared name, including columns whose type was invalid (already reported).
    pub known: Vec<&'a str>,
}

impl<'a> Cols<'a> {
    pub fn find(&self, id: &ast::Ident, origin: Origin, diags: &mut Diags) -> Option<&'a Column> {
        if let Some(c) = self.cols.iter().find(|c| c.name == id.name) {
            return Some(c);
        }
        if !self.known.contains(&id.name.as_str()) {
            let help = suggest(&id.name, self.cols.iter().map(|c| c.name.as_str()));
            diags.push(via(codes::unknown_column(id.span, &id.name, help), origin));
        }
        None
    }
}

pub fn firewall(
    t: &ast::Table,
    res: &Resolved,
    cols: &Cols,
    syms: &Symbols,
    report_missing: bool,
    diags: &mut Diags,
) -> Firewall {
    let mut out = Firewall {
        scopes: Vec::new(),
        bypass: Vec::new(),
        error_mode: ErrorMode::Hide,
    };
    let Some((fw, origin)) = res.firewall else {
        if report_missing {
            diags.push(codes::missing_firewall(t.name.span, &t.name.name));
        }
        return out;
    };
    let ast::Firewall::Block {
        span,
        scopes,
        bypass,
        error_mode,
    } = fw
    else {
        return out;
    };
    if scopes.is_empty() {
        diags.push(via(codes::empty_firewall(*span), origin));
    }
    out.error_mode = error_mode.unwrap_or(ErrorMode::Hide);
    out.bypass = syms.expand_all(bypass, origin, diags);
    let mut seen: Vec<&ast::Ident> = Vec::new();
    for s in scopes {
        if let Some(first) = seen.iter().find(|i| i.name == s.column.name) {
            diags.push(via(
                codes::duplicate_name(s.column.span, "scope", &s.column.name, first.span),
                origin,
            ));
            continue;
        }
        seen.push(&s.column);
        let col_ok = match cols.find(&s.column, origin, diags) {
            Some(c) if c.system => {
                diags.push(via(
                    codes::scope_column_type(s.column.span, &s.column.name, "a system column"),
                    origin,
                ));
                false
            }
            Some(c) if !matches!(c.ty, ColumnType::Text | ColumnType::Uuid) => {
                let what = format!("of type {}", c.ty.name());
                diags.push(via(
                    codes::scope_column_type(s.column.span, &s.column.name, &what),
                    origin,
                ));
                false
            }
            Some(_) => true,
            None => false,
        };
        let auth = match (&s.value.ann, &s.value.raw) {
            (Some(a), Raw::Str(name)) if a.name == "auth" => syms
                .claim(name, s.value.span, origin, diags)
                .then(|| name.clone()),
            _ => {
                diags.push(via(codes::scope_value(s.value.span), origin));
                None
            }
        };
        let bypass = syms.expand_all(&s.bypass, origin, diags);
        if let (true, Some(auth)) = (col_ok, auth) {
            out.scopes.push(Scope {
                column: s.column.name.clone(),
                auth,
                bypass,
            });
        }
    }
    out
}

pub fn guards(
    t: &ast::Table,
    res: &Resolved,
    cols: &Cols,
    fw: &Firewall,
    writes: Option<Span>,
    diags: &mut Diags,
) -> Guards {
    let mut out = Guards {
        open: false,
        createable: Vec::new(),
        updatable: Vec::new(),
        immutable: Vec::new(),
        protected: Vec::new(),
    };
    let writable = |c: &Column| !c.system && !fw.scopes.iter().any(|s| s.column == c.name);
    let Some((g, origin)) = res.guards else {
        if let Some(rule) = writes {
            diags.push(codes::missing_guards(t.name.span, &t.name.name, rule));
        }
        return out;
    };
    let (createable, updatable, immutable, protected) = match g {
        ast::Guards::Open => {
            out.open = true;
            out.createable = cols
                .cols
                .iter()
                .filter(|c| writable(c))
                .map(|c| c.name.clone())
                .collect();
            out.updatable = out.createable.clone();
            return out;
        }
        ast::Guards::Lists {
            createable,
            updatable,
            immutable,
            protected,
        } => (createable, updatable, immutable, protected),
    };
    let check = |ids: &[ast::Ident], diags: &mut Diags| -> Vec<String> {
        let mut names = Vec::new();
        for id in ids {
            let Some(c) = cols.find(id, origin, diags) else {
                continue;
            };
            if !writable(c) {
                let why = if c.system {
                    "a system column"
                } else {
                    "a firewall scope column"
                };
                diags.push(via(
                    codes::guard_system_column(id.span, &id.name, why),
                    origin,
                ));
                continue;
            }
            names.push(c.name.clone());
        }
        names
    };
    let cr = check(createable, diags);
    let up = check(updatable, diags);
    let im = check(immutable, diags);
    let prot_ids: Vec<ast::Ident> = protected.iter().map(|p| p.0.clone()).collect();
    let pr = check(&prot_ids, diags);
    for id in immutable {
        if let Some(u) = updatable.iter().find(|u| u.name == id.name) {
            diags.push(via(
                codes::immutable_updatable(u.span, &id.name, id.span),
                origin,
            ));
        }
    }
    for (id, actions) in protected {
        let clash = createable
            .iter()
            .chain(updatable)
            .chain(immutable)
            .find(|x| x.name == id.name);
        if let Some(other) = clash {
            diags.push(via(
                codes::protected_writable(other.span, &id.name, id.span),
                origin,
            ));
        }
        for a in actions
            .iter()
            .filter(|a| !t.actions.iter().any(|x| x.name.name == a.name))
        {
            diags.push(via(
                codes::unknown_action(
                    a.span,
                    &a.name,
                    &t.name.name,
                    crate::diagnostics::suggest(
                        &a.name,
                        t.actions.iter().map(|x| x.name.name.as_str()),
                    ),
                ),
                origin,
            ));
        }
    }
    let ordered = |set: &[String]| -> Vec<String> {
        cols.cols
            .iter()
            .filter(|c| set.contains(&c.name))
            .map(|c| c.name.clone())
            .collect()
    };
    let all_cr: Vec<String> = cr.iter().chain(im.iter()).cloned().collect();
    out.createable = ordered(&all_cr);
    out.updatable = ordered(&up);
    out.immutable = ordered(&im);
    for (id, actions) in protected {
        if pr.contains(&id.name) && !out.protected.iter().any(|p| p.column == id.name) {
            out.protected.push(Protected {
                column: id.name.clone(),
                actions: actions.iter().map(|a| a.name.clone()).collect(),
            });
        }
    }
    out
}

/// The mask kind and whether a column name looks sensitive (SPEC §2.7 auto-masking).
fn sensitive(name: &str) -> Option<MaskKind> {
    let n = name.to_lowercase();
    let has = |w: &str| n.contains(w);
    if has("email") {
        Some(MaskKind::Email)
    } else if has("phone") || has("mobile") {
        Some(MaskKind::Phone)
    } else if has("ssn") {
        Some(MaskKind::Ssn)
    } else if has("creditcard") {
        Some(MaskKind::CreditCard)
    } else if ["password", "secret", "token", "apikey", "api_key", "iban"]
        .iter()
        .any(|w| has(w))
    {
        Some(MaskKind::Redact)
    } else {
        None
    }
}

pub fn masks(
    t: &ast::Table,
    res: &Resolved,
    cols: &Cols,
    syms: &Symbols,
    diags: &mut Diags,
) -> Vec<Mask> {
    let mut explicit: Vec<Mask> = Vec::new();
    let mut mentioned: Vec<&ast::Ident> = Vec::new();
    if let Some((m, origin)) = res.masking {
        for id in m.masks.iter().map(|m| &m.column).chain(&m.unmasked) {
            if let Some(first) = mentioned.iter().find(|x| x.name == id.name) {
                diags.push(via(
                    codes::duplicate_name(id.span, "masking entry", &id.name, first.span),
                    origin,
                ));
            } else {
                mentioned.push(id);
            }
        }
        for id in &m.unmasked {
            cols.find(id, origin, diags);
        }
        for mk in &m.masks {
            let col = cols.find(&mk.column, origin, diags);
            let show = syms.expand_all(&mk.show, origin, diags);
            let owner = mk
                .owner
                .as_ref()
                .and_then(|o| match cols.find(o, origin, diags) {
                    Some(c) if matches!(c.ty, ColumnType::Text | ColumnType::Uuid) => {
                        Some(c.name.clone())
                    }
                    Some(c) => {
                        diags.push(via(codes::owner_type(o.span, &o.name, c.ty.name()), origin));
                        None
                    }
                    None => None,
                });
            if let (Some(col), Some(kind)) = (col, mk.kind) {
                if col.ty == ColumnType::File
                    && !matches!(kind, MaskKind::Redact | MaskKind::Hidden)
                {
                    diags.push(via(
                        codes::property_type(
                            mk.column.span,
                            &format!("mask {}", kind.name()),
                            "file",
                            "text columns: a file column is masked with `redact` or `hidden`",
                        ),
                        origin,
                    ));
                    continue;
                }
                explicit.push(Mask {
                    column: col.name.clone(),
                    kind,
                    show,
                    owner,
                    auto: false,
                });
            }
        }
    }
    let highest: Vec<String> = syms.roles.last().cloned().into_iter().collect();
    let mut out = Vec::new();
    for c in cols.cols {
        if let Some(m) = explicit.iter().find(|m| m.column == c.name) {
            out.push(m.clone());
            continue;
        }
        if c.system || mentioned.iter().any(|m| m.name == c.name) {
            continue;
        }
        if let Some(kind) = sensitive(&c.name) {
            // A file's metadata is no email or phone number: hiding it whole is the mask left.
            let kind = if c.ty == ColumnType::File {
                MaskKind::Redact
            } else {
                kind
            };
            let span = t
                .columns
                .iter()
                .find(|x| x.name.name == c.name)
                .map_or(t.name.span, |x| x.name.span);
            diags.push(codes::auto_masked(
                span,
                &c.name,
                kind.name(),
                highest.first().map(String::as_str),
            ));
            out.push(Mask {
                column: c.name.clone(),
                kind,
                show: highest.clone(),
                owner: None,
                auto: true,
            });
        }
    }
    out
}

pub fn batch(res: &Resolved, diags: &mut Diags) -> Batch {
    let mut out = Batch::default();
    match res.batch {
        Some((ast::BatchAst::Off, _)) => out.enabled = false,
        Some((ast::BatchAst::On { max, atomic }, origin)) => {
            if let Some((n, span)) = max {
                match u32::try_from(*n) {
                    Ok(n) if (1..=1000).contains(&n) => out.max = n,
                    _ => diags.push(via(codes::batch_max(*span, *n), origin)),
                }
            }
            if let Some(a) = atomic {
                out.atomic = *a;
            }
        }
        None => {}
    }
    out
}

/// `history`: which columns a version keeps, and for how long.
pub fn history(t: &ast::Table, cols: &Cols, fw: &Firewall, diags: &mut Diags) -> Option<History> {
    let h = t.history.as_ref().filter(|h| h.on)?;
    let mut out = History {
        keep_days: None,
        exclude: Vec::new(),
    };
    if let Some((text, span)) = &h.keep {
        match retention_days(text) {
            Some(days) => out.keep_days = Some(days),
            None => diags.push(codes::invalid_history(
                *span,
                &format!("`{text}` is not a retention"),
                "write a number of days from 1 to 36500, such as \"90d\"",
            )),
        }
    }
    for id in &h.exclude {
        let Some(c) = cols.find(id, None, diags) else {
            continue;
        };
        if c.system || fw.scopes.iter().any(|s| s.column == c.name) {
            diags.push(codes::invalid_history(
                id.span,
                &format!("`{}` cannot be excluded", c.name),
                "a version keeps the id, the stamps and the firewall's scope columns: they decide \
                 who may read it",
            ));
        } else if t.realtime.is_some_and(|(on, _)| on) {
            // Realtime streams whole rows from the same change records, and resumes from them:
            // a column history must never keep would have to be stored and scrubbed later.
            diags.push(codes::invalid_history(
                id.span,
                &format!("`{}` cannot be excluded on a realtime table", c.name),
                "a realtime table's change records carry whole rows; drop `exclude`, or mask \
                 the column for those who must not read it",
            ));
        } else if !out.exclude.contains(&c.name) {
            out.exclude.push(c.name.clone());
        }
    }
    out.exclude
        .sort_by_key(|name| cols.cols.iter().position(|c| &c.name == name));
    Some(out)
}

/// `"90d"` → 90: whole days, 1 to 100 years.
fn retention_days(text: &str) -> Option<u32> {
    let days: u32 = text.strip_suffix('d')?.parse().ok()?;
    (1..=36_500).contains(&days).then_some(days)
}

pub fn page(t: &ast::Table, diags: &mut Diags) -> Page {
    let mut out = Page::default();
    let Some(p) = &t.page else { return out };
    let get = |v: Option<(i128, Span)>, diags: &mut Diags| -> Option<u32> {
        let (n, span) = v?;
        match u32::try_from(n) {
            Ok(n) if (1..=1000).contains(&n) => Some(n),
            _ => {
                diags.push(codes::page_bounds(span, &format!("{n} is outside 1…1000")));
                None
            }
        }
    };
    let default = get(p.default, diags);
    let max = get(p.max, diags);
    if let Some(m) = max {
        out.max = m;
    }
    match default {
        Some(d) => out.default = d,
        None => out.default = out.default.min(out.max),
    }
    if out.default > out.max {
        let span = p.default.map_or(p.span, |d| d.1);
        diags.push(codes::page_bounds(
            span,
            &format!("default {} is above max {}", out.default, out.max),
        ));
    }
    out
}

pub fn relations(
    t: &ast::Table,
    syms: &Symbols,
    all: &[ast::Table],
    diags: &mut Diags,
) -> Vec<Relation> {
    let mut out: Vec<Relation> = Vec::new();
    let mut seen: Vec<&ast::Ident> = Vec::new();
    for r in &t.relations {
        if let Some(first) = seen.iter().find(|x| x.name == r.name.name) {
            diags.push(codes::duplicate_name(
                r.name.span,
                "relation",
                &r.name.name,
                first.span,
            ));
            continue;
        }
        if let Some(c) = t.columns.iter().find(|c| c.name.name == r.name.name) {
            diags.push(codes::duplicate_name(
                r.name.span,
                "column or relation",
                &r.name.name,
                c.name.span,
            ));
            continue;
        }
        seen.push(&r.name);
        let (Some(target), Some(via_col)) = (&r.table, &r.via) else {
            continue;
        };
        let Some(sym) = syms.tables.get(&target.name) else {
            let help = suggest(&target.name, syms.tables.keys().map(String::as_str));
            diags.push(codes::unknown_table(target.span, &target.name, help));
            continue;
        };
        let Some(tt) = all.iter().find(|x| x.name.span == sym.span) else {
            continue;
        };
        let Some(col) = tt.columns.iter().find(|c| c.name.name == via_col.name) else {
            let help = suggest(
                &via_col.name,
                tt.columns.iter().map(|c| c.name.name.as_str()),
            );
            diags.push(codes::unknown_column(via_col.span, &via_col.name, help));
            continue;
        };
        if col.references.as_ref().map(|x| x.name.as_str()) != Some(t.name.name.as_str()) {
            diags.push(codes::relation_via(
                via_col.span,
                &via_col.name,
                &target.name,
                &t.name.name,
                col.name.span,
            ));
            continue;
        }
        out.push(Relation {
            name: r.name.name.clone(),
            table: target.name.clone(),
            via: via_col.name.clone(),
        });
    }
    out
}

/// Longest identifier Postgres keeps (NAMEDATALEN − 1); longer ones are silently truncated, and
/// two indexes sharing the first 63 bytes would then collide.
const MAX_INDEX_NAME: usize = 63;

/// `raw`, or when it is too long for Postgres, its first bytes and a short hash of the whole
/// name: deterministic, unique in practice, and at most [`MAX_INDEX_NAME`] bytes.
fn index_name(raw: String) -> String {
    if raw.len() <= MAX_INDEX_NAME {
        return raw;
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(raw.as_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let mut cut = MAX_INDEX_NAME - hash.len() - 1;
    while !raw.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{hash}", &raw[..cut])
}

/// Explicit and implied indexes, deterministic and de-duplicated by name. A unique index on a
/// firewalled table holds within the row's scope unless it says `global` (SPEC §5.7); a global
/// one there, and a client-chosen `id text`, are warned about: either lets any caller learn
/// whether another tenant holds a value.
pub fn indexes(
    t: &ast::Table,
    cols: &Cols,
    fw: &Firewall,
    soft: bool,
    diags: &mut Diags,
) -> Vec<Index> {
    let firewalled = !fw.scopes.is_empty();
    if firewalled && let Some((IdKind::Text, span)) = t.id {
        diags.push(codes::global_text_id(span, &t.name.name));
    }
    let mut out: Vec<Index> = Vec::new();
    let mut add = |columns: Vec<String>, unique: bool, global: bool| {
        let mut ix = Index {
            name: String::new(),
            columns,
            unique,
            global,
        };
        let key = ix.key(fw).join("_");
        ix.name = index_name(format!(
            "{}_{}_{key}",
            if unique { "ux" } else { "ix" },
            t.name.name,
        ));
        let covered = out
            .iter()
            .any(|i| i.name == ix.name || (i.unique && !unique && i.key(fw) == ix.key(fw)));
        if !covered {
            out.push(ix);
        }
    };
    for c in cols.cols.iter().filter(|c| !c.system) {
        let decl = t.columns.iter().find(|x| x.name.name == c.name);
        if let Some((unique, span)) = decl.and_then(|d| d.unique) {
            let global = unique == Uniqueness::Global;
            if global && firewalled {
                diags.push(codes::global_unique(span, &t.name.name, &c.name));
            }
            add(vec![c.name.clone()], true, global);
        }
        if c.references.is_some() || decl.is_some_and(|d| d.index) {
            add(vec![c.name.clone()], false, false);
        }
    }
    for s in &fw.scopes {
        add(vec![s.column.clone()], false, false);
    }
    for ix in &t.indexes {
        let mut names = Vec::new();
        for id in &ix.columns {
            if let Some(c) = cols.find(id, None, diags) {
                names.push(c.name.clone());
            }
        }
        if names.len() == ix.columns.len() {
            if ix.global && firewalled {
                diags.push(codes::global_unique(
                    ix.span,
                    &t.name.name,
                    &names.join(", "),
                ));
            }
            add(names, ix.unique, ix.global);
        }
    }
    if soft {
        add(vec![ward_ir::system::DELETED_AT.to_owned()], false, false);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{MAX_INDEX_NAME, index_name};

    #[test]
    fn index_names_fit_postgres_and_stay_distinct() {
        assert_eq!(index_name("ix_rooms_org".into()), "ix_rooms_org");
        let long = |col: &str| format!("ix_{}_{col}", "a_table_with_a_rather_long_name".repeat(2));
        let (a, b) = (index_name(long("first")), index_name(long("second")));
        assert!(
            a.len() <= MAX_INDEX_NAME && b.len() <= MAX_INDEX_NAME,
            "{a} {b}"
        );
        assert_ne!(a, b);
        assert_eq!(a, index_name(long("first")), "deterministic");
        let wide = index_name(format!("ix_{}", "é".repeat(40)));
        assert!(wide.len() <= MAX_INDEX_NAME);
    }
}
