//! The plain description of a generated project, and its KDL rendering.

use std::fmt::Write as _;

use ward_ir::{ColumnType, DeleteMode, IdKind, MaskKind, OnDelete, Operation};

#[derive(Debug, Clone, PartialEq)]
pub struct ProjectSpec {
    /// Declared roles, lowest first.
    pub roles: Vec<String>,
    /// Extra `claims` entries: auth value name → token claim.
    pub claims: Vec<(String, String)>,
    pub tables: Vec<TableSpec>,
    /// Standalone actions.
    pub actions: Vec<ActionSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    pub name: String,
    pub id: IdKind,
    /// Declared columns, scope columns included.
    pub columns: Vec<ColumnSpec>,
    /// `(name, child table, via column)`.
    pub relations: Vec<(String, String, String)>,
    /// `None` is `firewall none`.
    pub firewall: Option<FirewallSpec>,
    pub access: Vec<(Operation, RuleSpec)>,
    pub guards: GuardsSpec,
    pub masks: Vec<MaskSpec>,
    pub unmasked: Vec<String>,
    pub delete: DeleteMode,
    pub batch: BatchSpec,
    /// `page default=D max=M`.
    pub page: Option<(u32, u32)>,
    pub views: Vec<ViewSpec>,
    /// Record actions.
    pub actions: Vec<ActionSpec>,
    /// `on EVENT PHASE { steps }`.
    pub triggers: Vec<TriggerSpec>,
    /// `history { keep "Nd"; exclude …; }` (SPEC §11): `(keep days, excluded columns)`.
    pub history: Option<(Option<u32>, Vec<String>)>,
    /// `realtime #true` (SPEC §12).
    pub realtime: bool,
}

/// `on EVENT PHASE { steps }` (event and phase as KDL keywords).
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerSpec {
    pub event: String,
    pub phase: String,
    pub steps: Vec<StepSpec>,
}

/// `action NAME [method=GET] { access …; input …; steps }`.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionSpec {
    pub name: String,
    pub get: bool,
    /// Roles, and (record actions) conditions on the row.
    pub access: RuleSpec,
    /// `(name, type, required)`.
    pub inputs: Vec<(String, ColumnType, bool)>,
    pub steps: Vec<StepSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepSpec {
    /// `require { CONDITION; error CODE status=409 }`.
    Require(CondSpec, String),
    /// `transition COLUMN { from V…; to V }` (KDL text of each value).
    Transition(String, Vec<String>, String),
    /// `update [TABLE] { set COLUMN VALUE…; when … }` (KDL text of each value).
    Update(Option<String>, Vec<(String, String)>, Option<CondSpec>),
    /// `delete [TABLE] { when … }`.
    Delete(Option<String>, Option<CondSpec>),
    /// `insert TABLE { set COLUMN VALUE… }`.
    Insert(String, Vec<(String, String)>),
    /// `query q TABLE { when …; sort COLUMN; limit N }`.
    Query(String, Option<CondSpec>, Option<String>, u32),
    /// `return record`, `return inserted`, `return q`, or `return { field NAME VALUE… }`.
    Return(String),
    ReturnFields(Vec<(String, String)>),
}

/// `view NAME { … }`.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewSpec {
    pub name: String,
    pub fields: Vec<String>,
    pub filter: Option<CondSpec>,
    /// `(column, descending)`.
    pub sort: Vec<(String, bool)>,
    pub params: Vec<ParamSpec>,
    pub filterable: Vec<String>,
    pub sortable: Vec<String>,
    pub searchable: Vec<String>,
    /// Its own `access` (always `widens=#true`); `None` uses the table's `list`.
    pub access: Option<RuleSpec>,
}

/// `param NAME TYPE [required=#true] [default=V] { when COLUMN OP (param)NAME }`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    pub name: String,
    pub ty: ColumnType,
    pub required: bool,
    /// KDL text.
    pub default: Option<String>,
    pub column: String,
    pub op: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSpec {
    pub name: String,
    pub ty: ColumnType,
    pub required: bool,
    /// KDL text of the default (`"active"`, `3`, `(time)now`).
    pub default: Option<String>,
    pub unique: bool,
    /// `unique=global` rather than `unique=#true` (within the scope).
    pub unique_global: bool,
    pub index: bool,
    /// KDL text of the bounds.
    pub min: Option<String>,
    pub max: Option<String>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub pattern: Option<String>,
    /// KDL text of each allowed value.
    pub one_of: Vec<String>,
    pub references: Option<(String, OnDelete)>,
    pub searchable: bool,
    pub display: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FirewallSpec {
    pub scopes: Vec<ScopeSpec>,
    /// Role arguments (`admin`, `member+`).
    pub bypass: Vec<String>,
    pub reveal: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScopeSpec {
    pub column: String,
    pub auth: String,
    pub bypass: Vec<String>,
}

/// `OP ROLES… { BODY; check … }`.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSpec {
    pub roles: Vec<String>,
    pub body: Vec<CondSpec>,
    /// `(field, op, KDL values)`.
    pub checks: Vec<(String, String, Vec<String>)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CondSpec {
    Role(Vec<String>),
    /// `when FIELD OP VALUES…` (KDL text of each value).
    When(String, String, Vec<String>),
    Any(Vec<CondSpec>),
    All(Vec<CondSpec>),
    Not(Vec<CondSpec>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum GuardsSpec {
    Open,
    Lists {
        createable: Vec<String>,
        updatable: Vec<String>,
        immutable: Vec<String>,
        protected: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct MaskSpec {
    pub column: String,
    pub kind: MaskKind,
    pub show: Vec<String>,
    pub owner: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BatchSpec {
    Default,
    Off,
    Max { max: u32, atomic: Option<bool> },
}

impl ProjectSpec {
    /// The project as one KDL v2 resource file.
    pub fn kdl(&self) -> String {
        let mut out = String::new();
        out.push_str("auth {\n");
        if !self.roles.is_empty() {
            let _ = writeln!(out, "    roles {}", self.roles.join(" "));
        }
        if !self.claims.is_empty() {
            out.push_str("    claims {\n");
            for (name, claim) in &self.claims {
                let _ = writeln!(out, "        {name} {}", quote(claim));
            }
            out.push_str("    }\n");
        }
        out.push_str("}\n");
        for t in &self.tables {
            t.kdl(&mut out);
        }
        for a in &self.actions {
            a.kdl(0, &mut out);
        }
        out
    }
}

impl ActionSpec {
    fn kdl(&self, depth: usize, out: &mut String) {
        let pad = "    ".repeat(depth);
        let method = if self.get { " method=GET" } else { "" };
        let _ = writeln!(out, "{pad}action {}{method} {{", self.name);
        let _ = write!(out, "{pad}    access {}", self.access.roles.join(" "));
        if self.access.body.is_empty() {
            out.push('\n');
        } else {
            out.push_str(" {\n");
            for c in &self.access.body {
                c.kdl(depth + 2, out);
            }
            let _ = writeln!(out, "{pad}    }}");
        }
        for (name, ty, required) in &self.inputs {
            let req = if *required { " required=#true" } else { "" };
            let _ = writeln!(out, "{pad}    input {name} {}{req}", ty.name());
        }
        for s in &self.steps {
            s.kdl(depth + 1, out);
        }
        let _ = writeln!(out, "{pad}}}");
    }
}

impl StepSpec {
    fn kdl(&self, depth: usize, out: &mut String) {
        let pad = "    ".repeat(depth);
        let block = |out: &mut String,
                     head: String,
                     sets: &[(String, String)],
                     key: &str,
                     when: Option<&CondSpec>| {
            let _ = writeln!(out, "{pad}{head} {{");
            for (c, v) in sets {
                let _ = writeln!(out, "{pad}    {key} {c} {v}");
            }
            if let Some(w) = when {
                w.kdl(depth + 1, out);
            }
            let _ = writeln!(out, "{pad}}}");
        };
        let target = |t: &Option<String>| t.as_ref().map(|t| format!(" {t}")).unwrap_or_default();
        match self {
            StepSpec::Require(c, code) => {
                let _ = writeln!(out, "{pad}require {{");
                c.kdl(depth + 1, out);
                let _ = writeln!(out, "{pad}    error {code} status=409");
                let _ = writeln!(out, "{pad}}}");
            }
            StepSpec::Transition(col, from, to) => {
                let _ = writeln!(
                    out,
                    "{pad}transition {col} {{ from {}; to {to}; }}",
                    from.join(" ")
                );
            }
            StepSpec::Update(t, sets, when) => {
                block(
                    out,
                    format!("update{}", target(t)),
                    sets,
                    "set",
                    when.as_ref(),
                );
            }
            StepSpec::Delete(t, when) => {
                block(
                    out,
                    format!("delete{}", target(t)),
                    &[],
                    "set",
                    when.as_ref(),
                );
            }
            StepSpec::Insert(t, sets) => block(out, format!("insert {t}"), sets, "set", None),
            StepSpec::Query(t, when, sort, limit) => {
                let _ = writeln!(out, "{pad}query q {t} {{");
                if let Some(w) = when {
                    w.kdl(depth + 1, out);
                }
                if let Some(s) = sort {
                    let _ = writeln!(out, "{pad}    sort {s}");
                }
                let _ = writeln!(out, "{pad}    limit {limit}");
                let _ = writeln!(out, "{pad}}}");
            }
            StepSpec::Return(what) => {
                let _ = writeln!(out, "{pad}return {what}");
            }
            StepSpec::ReturnFields(fields) => {
                block(out, "return".to_owned(), fields, "field", None)
            }
        }
    }
}

impl TableSpec {
    fn kdl(&self, out: &mut String) {
        let _ = writeln!(out, "\ntable {} {{", self.name);
        let id = match self.id {
            IdKind::Uuid => "uuid",
            IdKind::Integer => "integer",
            IdKind::Text => "text",
        };
        let _ = writeln!(out, "    id {id}");
        for c in &self.columns {
            c.kdl(out);
        }
        for (name, child, via) in &self.relations {
            let _ = writeln!(out, "    relation {name} has-many={child} via={via}");
        }
        match &self.firewall {
            None => out.push_str("    firewall none\n"),
            Some(f) => {
                out.push_str("    firewall {\n");
                for s in &f.scopes {
                    let _ = write!(out, "        scope {} (auth){}", s.column, s.auth);
                    if s.bypass.is_empty() {
                        out.push('\n');
                    } else {
                        let _ = writeln!(out, " {{ bypass {} }}", s.bypass.join(" "));
                    }
                }
                if !f.bypass.is_empty() {
                    let _ = writeln!(out, "        bypass {}", f.bypass.join(" "));
                }
                if f.reveal {
                    out.push_str("        error-mode reveal\n");
                }
                out.push_str("    }\n");
            }
        }
        if !self.access.is_empty() {
            out.push_str("    access {\n");
            for (op, rule) in &self.access {
                rule.kdl(op.name(), out);
            }
            out.push_str("    }\n");
        }
        self.guards.kdl(out);
        if !self.masks.is_empty() || !self.unmasked.is_empty() {
            out.push_str("    masking {\n");
            for m in &self.masks {
                let _ = write!(out, "        mask {} {}", m.column, m.kind.name());
                if let Some(owner) = &m.owner {
                    let _ = write!(out, " owner={owner}");
                }
                match m.show.as_slice() {
                    [] => out.push('\n'),
                    [one] => {
                        let _ = writeln!(out, " show={one}");
                    }
                    many => {
                        let _ = writeln!(out, " {{ show {} }}", many.join(" "));
                    }
                }
            }
            for u in &self.unmasked {
                let _ = writeln!(out, "        unmasked {u}");
            }
            out.push_str("    }\n");
        }
        if self.delete == DeleteMode::Hard {
            out.push_str("    delete hard\n");
        } else {
            out.push_str("    delete soft\n");
        }
        match &self.batch {
            BatchSpec::Default => {}
            BatchSpec::Off => out.push_str("    batch off\n"),
            BatchSpec::Max { max, atomic } => {
                let _ = write!(out, "    batch max={max}");
                if let Some(a) = atomic {
                    let _ = write!(out, " atomic={}", if *a { "#true" } else { "#false" });
                }
                out.push('\n');
            }
        }
        if let Some((def, max)) = self.page {
            let _ = writeln!(out, "    page default={def} max={max}");
        }
        match &self.history {
            None => {}
            Some((None, exclude)) if exclude.is_empty() => out.push_str("    history #true\n"),
            Some((keep, exclude)) => {
                out.push_str("    history {\n");
                if let Some(days) = keep {
                    let _ = writeln!(out, "        keep \"{days}d\"");
                }
                if !exclude.is_empty() {
                    let _ = writeln!(out, "        exclude {}", exclude.join(" "));
                }
                out.push_str("    }\n");
            }
        }
        if self.realtime {
            out.push_str("    realtime #true\n");
        }
        for v in &self.views {
            v.kdl(out);
        }
        for a in &self.actions {
            a.kdl(1, out);
        }
        for t in &self.triggers {
            let _ = writeln!(out, "    on {} {} {{", t.event, t.phase);
            for s in &t.steps {
                s.kdl(2, out);
            }
            out.push_str("    }\n");
        }
        out.push_str("}\n");
    }
}

impl ViewSpec {
    fn kdl(&self, out: &mut String) {
        let _ = writeln!(out, "    view {} {{", self.name);
        if !self.fields.is_empty() {
            let _ = writeln!(out, "        fields {}", self.fields.join(" "));
        }
        if let Some(c) = &self.filter {
            out.push_str("        where {\n");
            c.kdl(3, out);
            out.push_str("        }\n");
        }
        if !self.sort.is_empty() {
            let keys: Vec<String> = self
                .sort
                .iter()
                .map(|(c, desc)| {
                    if *desc {
                        format!("\"-{c}\"")
                    } else {
                        c.clone()
                    }
                })
                .collect();
            let _ = writeln!(out, "        sort {}", keys.join(" "));
        }
        for p in &self.params {
            let _ = write!(out, "        param {} {}", p.name, p.ty.name());
            if p.required {
                out.push_str(" required=#true");
            }
            if let Some(d) = &p.default {
                let _ = write!(out, " default={d}");
            }
            let _ = writeln!(out, " {{ when {} {} (param){} }}", p.column, p.op, p.name);
        }
        for (key, list) in [
            ("filterable", &self.filterable),
            ("sortable", &self.sortable),
            ("searchable", &self.searchable),
        ] {
            if !list.is_empty() {
                let _ = writeln!(out, "        {key} {}", list.join(" "));
            }
        }
        if let Some(rule) = &self.access {
            let _ = write!(out, "        access {} widens=#true", rule.roles.join(" "));
            if rule.body.is_empty() {
                out.push('\n');
            } else {
                out.push_str(" {\n");
                for c in &rule.body {
                    c.kdl(3, out);
                }
                out.push_str("        }\n");
            }
        }
        out.push_str("    }\n");
    }
}

impl ColumnSpec {
    fn kdl(&self, out: &mut String) {
        let _ = write!(out, "    column {} {}", self.name, self.ty.name());
        if self.required {
            out.push_str(" required=#true");
        }
        if let Some(d) = &self.default {
            let _ = write!(out, " default={d}");
        }
        match (self.unique, self.unique_global) {
            (true, true) => out.push_str(" unique=global"),
            (true, false) => out.push_str(" unique=#true"),
            (false, _) => {}
        }
        if self.index {
            out.push_str(" index=#true");
        }
        for (key, v) in [("min", &self.min), ("max", &self.max)] {
            if let Some(v) = v {
                let _ = write!(out, " {key}={v}");
            }
        }
        for (key, v) in [
            ("min-length", self.min_length),
            ("max-length", self.max_length),
        ] {
            if let Some(v) = v {
                let _ = write!(out, " {key}={v}");
            }
        }
        if let Some(p) = &self.pattern {
            let _ = write!(out, " pattern={}", quote(p));
        }
        if let Some((table, on)) = &self.references {
            let on = match on {
                OnDelete::Restrict => "restrict",
                OnDelete::Cascade => "cascade",
                OnDelete::SetNull => "set-null",
            };
            let _ = write!(out, " references={table} on-delete={on}");
        }
        if self.searchable && self.ty == ColumnType::Text {
            out.push_str(" searchable=#true");
        }
        if self.display {
            out.push_str(" display=#true");
        }
        if self.one_of.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, " {{ one-of {} }}", self.one_of.join(" "));
        }
    }
}

impl RuleSpec {
    fn kdl(&self, op: &str, out: &mut String) {
        let _ = write!(out, "        {op}");
        for r in &self.roles {
            let _ = write!(out, " {r}");
        }
        if self.body.is_empty() && self.checks.is_empty() {
            out.push('\n');
            return;
        }
        out.push_str(" {\n");
        for c in &self.body {
            c.kdl(3, out);
        }
        for (f, o, v) in &self.checks {
            let _ = writeln!(out, "            check {f} {o} {}", v.join(" "));
        }
        out.push_str("        }\n");
    }
}

impl CondSpec {
    fn kdl(&self, depth: usize, out: &mut String) {
        let pad = "    ".repeat(depth);
        let (name, inner) = match self {
            CondSpec::Role(roles) => {
                let _ = writeln!(out, "{pad}role {}", roles.join(" "));
                return;
            }
            CondSpec::When(f, o, v) => {
                let _ = write!(out, "{pad}when {f} {o}");
                for x in v {
                    let _ = write!(out, " {x}");
                }
                out.push('\n');
                return;
            }
            CondSpec::Any(of) => ("any", of),
            CondSpec::All(of) => ("all", of),
            CondSpec::Not(of) => ("not", of),
        };
        let _ = writeln!(out, "{pad}{name} {{");
        for c in inner {
            c.kdl(depth + 1, out);
        }
        let _ = writeln!(out, "{pad}}}");
    }
}

impl GuardsSpec {
    fn kdl(&self, out: &mut String) {
        match self {
            GuardsSpec::Open => out.push_str("    guards open\n"),
            GuardsSpec::Lists {
                createable,
                updatable,
                immutable,
                protected,
            } => {
                out.push_str("    guards {\n");
                for (key, cols) in [
                    ("createable", createable),
                    ("updatable", updatable),
                    ("immutable", immutable),
                    ("protected", protected),
                ] {
                    if !cols.is_empty() {
                        let _ = writeln!(out, "        {key} {}", cols.join(" "));
                    }
                }
                out.push_str("    }\n");
            }
        }
    }
}

/// A KDL quoted string.
pub(super) fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
