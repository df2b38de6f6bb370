//! Random valid projects: a plain description ([`ProjectSpec`]) rendered as KDL resource text.
//!
//! Every generated project compiles without errors (warnings are fine: auto-masked names and
//! unreachable branches are part of what the suite exercises). Projects stay small so that random
//! requests hit the interesting cases: 1–4 tables, up to 6 declared columns, 1–3 roles.

use proptest::collection::vec;
use proptest::prelude::*;
use ward_ir::{ColumnType, DeleteMode, IdKind, MaskKind, OnDelete, Operation};

use super::Choices;
use super::parts::{guards, plain_column, singular, text_props, unique_name};
use super::spec::{
    BatchSpec, ColumnSpec, CondSpec, FirewallSpec, MaskSpec, ParamSpec, ProjectSpec, RuleSpec,
    ScopeSpec, TableSpec, ViewSpec,
};

pub(super) const TABLE_NAMES: [&str; 4] = ["projects", "tasks", "comments", "labels"];
const ROLE_NAMES: [&str; 3] = ["viewer", "member", "admin"];
/// The custom claim some projects declare (`claims { team team_id }`).
pub const CUSTOM_CLAIM: &str = "team";

/// Random valid projects; shrinks toward fewer tables, columns and rules.
pub fn project() -> impl Strategy<Value = ProjectSpec> {
    (
        vec(any::<u32>(), 4),
        vec(vec(any::<u32>(), 192), 1..=TABLE_NAMES.len()),
        vec(any::<u32>(), 0..=160),
    )
        .prop_map(|(top, tables, actions)| build(&top, &tables, &actions))
}

fn build(top: &[u32], tables: &[Vec<u32>], actions: &[u32]) -> ProjectSpec {
    let mut d = Choices::new(top);
    let roles: Vec<String> = ROLE_NAMES[..1 + d.below(ROLE_NAMES.len())]
        .iter()
        .map(|r| (*r).to_owned())
        .collect();
    let claims = if d.chance(40) {
        vec![(CUSTOM_CLAIM.to_owned(), "team_id".to_owned())]
    } else {
        Vec::new()
    };
    let mut cx = Cx {
        roles,
        custom_claim: !claims.is_empty(),
        tables: Vec::new(),
        relations: Vec::new(),
    };
    for (i, raw) in tables.iter().enumerate() {
        let t = cx.table(i, &mut Choices::new(raw));
        cx.tables.push(t);
    }
    // Relations are declared on the parent, decided while building the child.
    for (parent, rel) in std::mem::take(&mut cx.relations) {
        if let Some(t) = cx.tables.iter_mut().find(|t| t.name == parent) {
            t.relations.push(rel);
        }
    }
    // Actions read and write any table: they are decided once every table is.
    let mut da = Choices::new(actions);
    let custom = cx.custom_claim;
    let mut per_table = Vec::new();
    for t in &cx.tables {
        let public_ok = t.firewall.is_none();
        let mut role = |d: &mut Choices| cx.role_arg(d, public_ok);
        let others: Vec<&TableSpec> = cx.tables.iter().collect();
        let acts = super::actions::record_actions(&mut da, t, &others, &mut role, custom);
        let triggers = super::actions::triggers(&mut da, t, &others, custom);
        per_table.push((acts, triggers));
    }
    let standalone = {
        let mut role = |d: &mut Choices| cx.role_arg(d, true);
        super::actions::standalone(&mut da, &cx.tables, &mut role, custom)
    };
    for (t, (acts, triggers)) in cx.tables.iter_mut().zip(per_table) {
        t.actions = acts;
        t.triggers = triggers;
    }
    ProjectSpec {
        roles: cx.roles,
        claims,
        tables: cx.tables,
        actions: standalone,
    }
}

struct Cx {
    roles: Vec<String>,
    custom_claim: bool,
    tables: Vec<TableSpec>,
    relations: Vec<(String, (String, String, String))>,
}

/// Types with no order both backends agree on (json) or none at all (file): never sorted or
/// compared.
pub(super) fn unordered(ty: ColumnType) -> bool {
    matches!(ty, ColumnType::Json | ColumnType::File)
}

const TYPES: [ColumnType; 8] = [
    ColumnType::Text,
    ColumnType::Integer,
    ColumnType::Boolean,
    ColumnType::Datetime,
    ColumnType::Float,
    ColumnType::Date,
    ColumnType::Uuid,
    ColumnType::Json,
];
/// Text column stems; the last four are auto-masked by name unless masked or `unmasked`.
const TEXT_STEMS: [&str; 8] = [
    "title",
    "status",
    "notes",
    "code",
    "contactEmail",
    "phone",
    "apiToken",
    "ssn",
];
/// Patterns of generated text columns; the request generator finds matching values itself.
pub(super) const PATTERNS: [&str; 3] = ["^[a-z]{2,6}$", "^[A-Z][0-9]{3}$", "^(red|green|blue)$"];

impl Cx {
    fn top(&self) -> &str {
        self.roles.last().map_or("authenticated", String::as_str)
    }

    /// A role argument: `R`, `R+`, or a pseudo-role (`public` only where no scope forbids it).
    fn role_arg(&self, d: &mut Choices, public_ok: bool) -> String {
        let r = self.roles[d.below(self.roles.len())].clone();
        match d.weighted(&[5, 3, 2, 1]) {
            0 => format!("{r}+"),
            1 => r,
            2 => "authenticated".to_owned(),
            _ if public_ok => "public".to_owned(),
            _ => format!("{r}+"),
        }
    }

    fn table(&mut self, i: usize, d: &mut Choices) -> TableSpec {
        let name = TABLE_NAMES[i].to_owned();
        let id = [IdKind::Uuid, IdKind::Integer, IdKind::Text][d.below(3)];
        let mut columns = Vec::new();
        let ncols = d.below(7);
        for j in 0..ncols {
            let c = self.column(i, j, d, (&name, id), &columns);
            columns.push(c);
        }
        // A file column now and then: seeds upload files to it (SPEC §13).
        if d.chance(30) {
            let mut f = plain_column(&unique_name("attachment", &columns));
            f.ty = ColumnType::File;
            columns.push(f);
        }
        if let Some(c) = columns.iter_mut().find(|c| {
            matches!(c.ty, ColumnType::Text | ColumnType::Integer) && c.references.is_none()
        }) && d.chance(60)
        {
            c.display = true;
        }
        let firewall = self.firewall(d, &mut columns);
        let public_ok = firewall.is_none();
        let scope_cols: Vec<String> = firewall
            .iter()
            .flat_map(|f| f.scopes.iter().map(|s| s.column.clone()))
            .collect();
        let writable: Vec<&ColumnSpec> = columns
            .iter()
            .filter(|c| !scope_cols.contains(&c.name))
            .collect();
        let mut access = Vec::new();
        for op in Operation::ALL {
            if let Some(rule) = self.rule(op, d, &columns, public_ok) {
                access.push((op, rule));
            }
        }
        let guards = guards(d, &writable, id == IdKind::Text);
        let (masks, unmasked) = self.masks(d, &writable, &scope_cols);
        let delete = if d.chance(35) {
            DeleteMode::Hard
        } else {
            DeleteMode::Soft
        };
        let batch = match d.weighted(&[3, 1, 4]) {
            0 => BatchSpec::Default,
            1 => BatchSpec::Off,
            _ => BatchSpec::Max {
                max: 1 + d.below(4) as u32,
                atomic: [None, Some(false), Some(true)][d.below(3)],
            },
        };
        let page = d.chance(30).then(|| {
            let def = 1 + d.below(3) as u32;
            (def, def + d.below(3) as u32)
        });
        let views = (0..d.weighted(&[5, 3, 1]))
            .map(|k| self.view(k, d, &columns, public_ok))
            .collect();
        // Row history on one table in three, now and then without some columns, and now and
        // then under its own rule (SPEC §11).
        let history = d.chance(33).then(|| {
            let keep = d.chance(30).then(|| 1 + d.below(400) as u32);
            let exclude = writable
                .iter()
                .filter(|_| d.chance(25))
                .map(|c| c.name.clone())
                .collect();
            (keep, exclude)
        });
        // Realtime on one table in three (SPEC §12); such a table keeps every column in its
        // change records, so its history excludes none.
        let realtime = d.chance(33);
        let history = history.map(|(keep, exclude)| {
            if realtime {
                (keep, Vec::new())
            } else {
                (keep, exclude)
            }
        });
        if history.is_some()
            && d.chance(40)
            && let Some(rule) = self.rule(Operation::History, d, &columns, public_ok)
        {
            access.push((Operation::History, rule));
        }
        TableSpec {
            name,
            id,
            columns,
            relations: Vec::new(),
            firewall,
            access,
            guards,
            masks,
            unmasked,
            delete,
            batch,
            page,
            views,
            actions: Vec::new(),
            triggers: Vec::new(),
            history,
            realtime,
        }
    }

    /// A view over some of the columns: a fixed filter, a param, a default order, allow-lists
    /// (sometimes naming what the view does not show is left to the compiler's own tests), and
    /// sometimes its own (widening) access.
    fn view(&self, k: usize, d: &mut Choices, cols: &[ColumnSpec], public_ok: bool) -> ViewSpec {
        let mut fields: Vec<String> = Vec::new();
        for c in cols {
            if d.chance(60) {
                fields.push(c.name.clone());
            }
        }
        if d.chance(20) {
            fields.push("createdAt".to_owned());
        }
        // No `fields` line: every declared column.
        let shown: Vec<&ColumnSpec> = cols
            .iter()
            .filter(|c| fields.is_empty() || fields.contains(&c.name))
            .collect();
        let pick = |d: &mut Choices, ok: &dyn Fn(&ColumnSpec) -> bool| -> Vec<String> {
            shown
                .iter()
                .filter(|c| ok(c) && d.chance(50))
                .map(|c| c.name.clone())
                .collect()
        };
        let mut sort: Vec<(String, bool)> = pick(d, &|c| !unordered(c.ty))
            .into_iter()
            .take(2)
            .map(|c| (c, d.chance(50)))
            .collect();
        if fields.iter().any(|f| f == "createdAt") && d.chance(50) {
            sort.push(("createdAt".to_owned(), true));
        }
        let filterable = pick(d, &|c| c.ty != ColumnType::File);
        let sortable = pick(d, &|c| !unordered(c.ty));
        let searchable = pick(d, &|c| c.ty == ColumnType::Text);
        let mut params = Vec::new();
        let candidates: Vec<&ColumnSpec> = shown
            .iter()
            .copied()
            .filter(|c| !unordered(c.ty) && c.default.as_deref() != Some("(time)now"))
            .collect();
        if !candidates.is_empty() && d.chance(60) {
            let c = candidates[d.below(candidates.len())];
            let ops: &[&str] = match c.ty {
                ColumnType::Text => &["eq", "ne", "like"],
                ColumnType::Boolean | ColumnType::Uuid => &["eq", "ne"],
                _ => &["eq", "gte", "lte"],
            };
            let default = match (c.ty, d.weighted(&[3, 1, 2])) {
                (_, 0) | (_, 1) => None,
                (ColumnType::Integer, _) => Some("3".to_owned()),
                (ColumnType::Boolean, _) => Some("#true".to_owned()),
                (ColumnType::Text, _) => Some("\"a\"".to_owned()),
                _ => None,
            };
            params.push(ParamSpec {
                name: format!("vp{k}"),
                ty: c.ty,
                required: default.is_none() && d.chance(25),
                default,
                column: c.name.clone(),
                op: ops[d.below(ops.len())].to_owned(),
            });
        }
        let filter = if d.chance(40) {
            super::values::condition(d, cols, self.custom_claim)
        } else {
            None
        };
        let access = d.chance(40).then(|| RuleSpec {
            roles: vec![self.role_arg(d, public_ok)],
            body: Vec::new(),
            checks: Vec::new(),
        });
        ViewSpec {
            name: format!("v{k}"),
            fields,
            filter,
            sort,
            params,
            filterable,
            sortable,
            searchable,
            access,
        }
    }

    fn column(
        &mut self,
        i: usize,
        j: usize,
        d: &mut Choices,
        (table, self_id): (&str, IdKind),
        prev: &[ColumnSpec],
    ) -> ColumnSpec {
        let mut c = ColumnSpec {
            name: String::new(),
            ty: ColumnType::Text,
            required: d.chance(30),
            default: None,
            unique: false,
            unique_global: false,
            index: d.chance(10),
            min: None,
            max: None,
            min_length: None,
            max_length: None,
            pattern: None,
            one_of: Vec::new(),
            references: None,
            searchable: false,
            display: false,
        };
        if d.chance(25) {
            // A reference to an earlier table or to this one.
            let target = d.below(i + 1);
            let (tname, tid) = match self.tables.get(target) {
                Some(t) => (t.name.clone(), t.id),
                None => (table.to_owned(), self_id),
            };
            c.ty = match tid {
                IdKind::Uuid => ColumnType::Uuid,
                IdKind::Integer => ColumnType::Integer,
                IdKind::Text => ColumnType::Text,
            };
            // A required self-reference would make the first row impossible to create.
            c.required &= target != i;
            c.name = unique_name(&format!("{}Id", singular(&tname)), prev);
            let mut on = [OnDelete::Restrict, OnDelete::Cascade, OnDelete::SetNull][d.below(3)];
            if on == OnDelete::SetNull && c.required {
                on = OnDelete::Cascade;
            }
            c.references = Some((tname.clone(), on));
            if d.chance(40) {
                let rel = (
                    format!("{table}_by_{}", c.name),
                    table.to_owned(),
                    c.name.clone(),
                );
                self.relations.push((tname, rel));
            }
            return c;
        }
        c.ty = TYPES[d.below(TYPES.len())];
        let stem = match c.ty {
            ColumnType::Text => TEXT_STEMS[d.below(TEXT_STEMS.len())],
            ColumnType::Integer => "priority",
            ColumnType::Float => "score",
            ColumnType::Boolean => "done",
            ColumnType::Datetime => "dueAt",
            ColumnType::Date => "day",
            ColumnType::Uuid => "externalRef",
            ColumnType::Json => "meta",
            ColumnType::File => "attachment",
        };
        c.name = unique_name(&format!("{stem}{j}"), prev);
        match c.ty {
            ColumnType::Text => text_props(&mut c, d),
            ColumnType::Integer => {
                let lo = [0i64, 1, -5][d.below(3)];
                if d.chance(40) {
                    c.min = Some(lo.to_string());
                    c.max = Some([10i64, 100, 500][d.below(3)].to_string());
                } else if d.chance(25) {
                    c.one_of = vec!["1".into(), "2".into(), "3".into()];
                }
                if d.chance(30) {
                    c.default = Some(if c.one_of.is_empty() { "5" } else { "2" }.into());
                }
                c.unique = d.chance(8);
                c.unique_global = c.unique && d.chance(25);
            }
            ColumnType::Float => {
                if d.chance(40) {
                    c.min = Some("0.0".into());
                    c.max = Some("100.5".into());
                }
                if d.chance(30) {
                    c.default = Some("1.5".into());
                }
            }
            ColumnType::Boolean => {
                if d.chance(50) {
                    c.default = Some(["#false", "#true"][d.below(2)].into());
                }
            }
            ColumnType::Datetime => {
                if d.chance(40) {
                    c.default = Some(["(time)now", "\"2026-01-01T00:00:00Z\""][d.below(2)].into());
                }
            }
            ColumnType::Date => {
                if d.chance(40) {
                    c.default = Some(["(time)now", "\"2026-01-01\""][d.below(2)].into());
                }
            }
            ColumnType::Uuid => {
                c.unique = d.chance(10);
                c.unique_global = c.unique && d.chance(25);
            }
            ColumnType::File => {}
            ColumnType::Json => {
                if d.chance(30) {
                    c.default = Some("\"{\\\"a\\\":1}\"".into());
                }
            }
        }
        c
    }

    fn firewall(&self, d: &mut Choices, columns: &mut Vec<ColumnSpec>) -> Option<FirewallSpec> {
        let n = d.weighted(&[3, 4, 3]);
        if n == 0 {
            return None;
        }
        let mut kinds = vec![("orgId", "org-id"), ("ownerId", "user-id")];
        if self.custom_claim {
            kinds.push(("teamId", CUSTOM_CLAIM));
        }
        let first = d.below(kinds.len());
        let mut chosen = vec![kinds.remove(first)];
        if n == 2 {
            chosen.push(kinds.remove(d.below(kinds.len())));
        }
        let mut scopes = Vec::new();
        for (col, auth) in chosen {
            columns.push(plain_column(col));
            let bypass = if d.chance(30) {
                vec![format!("{}+", self.top())]
            } else {
                Vec::new()
            };
            scopes.push(ScopeSpec {
                column: col.to_owned(),
                auth: auth.to_owned(),
                bypass: bypass
                    .into_iter()
                    .filter(|b| b != "authenticated+")
                    .collect(),
            });
        }
        let bypass = if d.chance(15) && !self.roles.is_empty() {
            vec![self.top().to_owned()]
        } else {
            Vec::new()
        };
        Some(FirewallSpec {
            scopes,
            bypass,
            reveal: d.chance(25),
        })
    }

    fn rule(
        &self,
        op: Operation,
        d: &mut Choices,
        cols: &[ColumnSpec],
        public_ok: bool,
    ) -> Option<RuleSpec> {
        let create = op == Operation::Create;
        let form = d.weighted(&[2, 5, 2, 2]);
        if form == 0 {
            return None;
        }
        let mut rule = RuleSpec {
            roles: Vec::new(),
            body: Vec::new(),
            checks: Vec::new(),
        };
        match form {
            1 => rule.roles.push(self.role_arg(d, public_ok)),
            2 => {
                rule.roles.push(self.role_arg(d, public_ok));
                if !create {
                    rule.body
                        .extend(super::values::condition(d, cols, self.custom_claim));
                }
            }
            _ => {
                // Full form: an `any` of a role-only branch and a role-and-condition branch.
                let top = CondSpec::Role(vec![format!("{}+", self.top())]);
                let low = CondSpec::Role(vec![self.role_arg(d, public_ok)]);
                let mut branch = vec![low];
                if !create {
                    let cond = super::values::condition(d, cols, self.custom_claim);
                    if d.chance(30) {
                        branch.push(CondSpec::Not(cond.into_iter().collect()));
                    } else {
                        branch.extend(cond);
                    }
                }
                let branch = if branch.len() == 1 {
                    branch.remove(0)
                } else {
                    CondSpec::All(branch)
                };
                rule.body.push(CondSpec::Any(vec![top, branch]));
            }
        }
        if matches!(op, Operation::Create | Operation::Update)
            && d.chance(25)
            && let Some(CondSpec::When(f, o, v)) =
                super::values::condition(d, cols, self.custom_claim)
        {
            rule.checks.push((f, o, v));
        }
        Some(rule)
    }

    fn masks(
        &self,
        d: &mut Choices,
        writable: &[&ColumnSpec],
        scope_cols: &[String],
    ) -> (Vec<MaskSpec>, Vec<String>) {
        let mut masks = Vec::new();
        let mut unmasked = Vec::new();
        for c in writable {
            let sensitive = ["Email", "phone", "Token", "ssn"]
                .iter()
                .any(|s| c.name.contains(s));
            if d.chance(25) {
                let kind = if c.ty == ColumnType::Text {
                    [
                        MaskKind::Redact,
                        MaskKind::Email,
                        MaskKind::Phone,
                        MaskKind::Ssn,
                        MaskKind::CreditCard,
                        MaskKind::Name,
                        MaskKind::Hidden,
                    ][d.below(7)]
                } else {
                    [MaskKind::Redact, MaskKind::Hidden][d.below(2)]
                };
                let show = match d.below(4) {
                    0 => Vec::new(),
                    1 => vec![format!("{}+", self.top())],
                    2 => self.roles.iter().take(2).cloned().collect(),
                    _ => vec!["authenticated".to_owned()],
                };
                let owner = match d.below(3) {
                    1 => Some("createdBy".to_owned()),
                    2 if scope_cols.iter().any(|s| s == "ownerId") => Some("ownerId".to_owned()),
                    _ => None,
                };
                masks.push(MaskSpec {
                    column: c.name.clone(),
                    kind,
                    show,
                    owner,
                });
            } else if sensitive && d.chance(30) {
                unmasked.push(c.name.clone());
            }
        }
        (masks, unmasked)
    }
}
