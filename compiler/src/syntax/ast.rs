//! The typed syntax tree: what the files say, with spans, before any name is resolved.
//!
//! Shape errors (unknown nodes, argument counts, bad keywords) are already reported when this
//! tree exists; names, types and policies are checked by `sema`.

use ward_ir::{
    ColumnType, DeleteMode, ErrorMode, IdKind, JwtAlgorithm, MaskKind, OnDelete, Operation,
};

use crate::diagnostics::Span;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A role argument: `member`, or `member+` (member and every higher role).
#[derive(Debug, Clone, PartialEq)]
pub struct RoleRef {
    pub name: String,
    pub plus: bool,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Raw {
    Str(String),
    Int(i128),
    Float(f64),
    Bool(bool),
    Null,
}

impl Raw {
    pub fn describe(&self) -> String {
        match self {
            Raw::Str(s) => format!("the string `{s}`"),
            Raw::Int(i) => format!("the integer `{i}`"),
            Raw::Float(f) => format!("the number `{f}`"),
            Raw::Bool(b) => format!("`#{b}`"),
            Raw::Null => "`#null`".to_owned(),
        }
    }
}

/// A value as written: a literal, optionally with a type annotation such as `(auth)` or `(time)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Val {
    pub raw: Raw,
    pub ann: Option<Ident>,
    pub span: Span,
}

#[derive(Debug, Default)]
pub struct Project {
    pub auths: Vec<Auth>,
    pub templates: Vec<Template>,
    pub tables: Vec<Table>,
    /// Standalone actions (top level).
    pub actions: Vec<ActionAst>,
    pub servers: Vec<ServerAst>,
}

/// `server { cors ORIGIN…; request-timeout "30s"; … }`.
#[derive(Debug)]
pub struct ServerAst {
    pub span: Span,
    /// Each origin as written, with its span.
    pub cors: Vec<(String, Span)>,
    /// Each limit as written: its node name and its value.
    pub limits: Vec<(String, LimitValue, Span)>,
    /// `storage …`, checked as it was read.
    pub storage: Option<ward_ir::Storage>,
    /// `operators ROLE…`: who `ward serve --console` lets in.
    pub operators: Vec<RoleRef>,
}

/// A `server` limit's value as written.
#[derive(Debug, Clone)]
pub enum LimitValue {
    Text(String),
    Integer(i128),
    /// `failed-auth-rate N burst=M`, `rate-limit ip|subject N burst=M`.
    Rate(i128, Option<i128>),
}

#[derive(Debug)]
pub struct Auth {
    pub span: Span,
    pub roles: Vec<Ident>,
    pub jwt: Option<Jwt>,
    /// `NAME CLAIM` pairs.
    pub claims: Vec<(Ident, Ident)>,
}

#[derive(Debug, Default)]
pub struct Jwt {
    pub keys: Vec<(JwtKeyAst, Span)>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

#[derive(Debug, Clone)]
pub enum JwtKeyAst {
    Secret(String),
    PublicKey {
        path: String,
        algorithm: JwtAlgorithm,
    },
    Jwks(String),
}

#[derive(Debug)]
pub struct Template {
    pub name: Ident,
    pub blocks: Blocks,
}

/// The policy blocks a template may hold and a table may hold or inherit.
#[derive(Debug, Default, Clone)]
pub struct Blocks {
    pub firewall: Option<Firewall>,
    pub access: Option<Access>,
    pub guards: Option<Guards>,
    pub masking: Option<Masking>,
    pub delete: Option<(DeleteMode, Span)>,
    pub batch: Option<BatchAst>,
    /// Where each block present was written, by its node name (`firewall`, `guards`, …).
    pub at: std::collections::BTreeMap<String, Span>,
}

#[derive(Debug)]
pub struct Table {
    pub name: Ident,
    pub uses: Vec<Ident>,
    pub id: Option<(IdKind, Span)>,
    pub columns: Vec<Column>,
    pub relations: Vec<Relation>,
    pub indexes: Vec<IndexAst>,
    pub page: Option<PageAst>,
    pub history: Option<HistoryAst>,
    /// `realtime #true|#false`: the value and where it was written.
    pub realtime: Option<(bool, Span)>,
    pub description: Option<String>,
    pub blocks: Blocks,
    pub views: Vec<ViewAst>,
    pub actions: Vec<ActionAst>,
    pub triggers: Vec<TriggerAst>,
}

/// `action NAME { … }` inside a table.
#[derive(Debug, Default)]
pub struct ActionAst {
    pub name: Ident,
    /// `method=GET` (standalone actions).
    pub get: bool,
    pub description: Option<String>,
    /// `access ROLES { conditions on the row }`.
    pub access: Option<Rule>,
    pub inputs: Vec<Column>,
    pub steps: Vec<StepAst>,
}

/// `on EVENT PHASE { steps }` inside a table.
#[derive(Debug)]
pub struct TriggerAst {
    pub span: Span,
    pub event: ward_ir::TriggerEvent,
    pub phase: ward_ir::TriggerPhase,
    pub steps: Vec<StepAst>,
}

#[derive(Debug)]
pub enum StepAst {
    Require {
        span: Span,
        conds: Vec<Cond>,
        /// `exists TABLE { conditions }`.
        exists: Vec<(Ident, Vec<Cond>)>,
        /// `error CODE status=N message="…"`.
        error: Option<ErrorAst>,
    },
    Transition {
        column: Ident,
        from: Vec<Val>,
        to: Option<Val>,
    },
    /// `update [TABLE] { set …; when … }`: the record without TABLE.
    Update {
        span: Span,
        table: Option<Ident>,
        set: Vec<(Ident, Val)>,
        when: Vec<Cond>,
    },
    /// `delete [TABLE] { when … }`: the record without TABLE.
    Delete {
        span: Span,
        table: Option<Ident>,
        when: Vec<Cond>,
    },
    /// `query NAME TABLE { when …; sort …; limit N }`.
    Query {
        name: Ident,
        table: Ident,
        when: Vec<Cond>,
        sort: Vec<(Ident, bool)>,
        limit: Option<(i128, Span)>,
    },
    Insert {
        table: Ident,
        set: Vec<(Ident, Val)>,
    },
    If {
        span: Span,
        conds: Vec<Cond>,
        then: Vec<StepAst>,
        otherwise: Vec<StepAst>,
    },
    Return {
        span: Span,
        /// `return record` / `return inserted`; otherwise the `field NAME VALUE` children.
        whole: Option<ReturnWhole>,
        fields: Vec<(Ident, Val)>,
    },
}

#[derive(Debug, Clone)]
pub enum ReturnWhole {
    Record,
    Inserted,
    /// The rows of a `query` step.
    Query(Ident),
}

#[derive(Debug)]
pub struct ErrorAst {
    pub code: String,
    pub status: Option<(i128, Span)>,
    pub message: Option<String>,
}

/// `view NAME { … }` inside a table.
#[derive(Debug, Default)]
pub struct ViewAst {
    pub name: Ident,
    pub description: Option<String>,
    /// `None`: the default projection (id and every declared column).
    pub fields: Option<Vec<Ident>>,
    /// Every `where`, ANDed.
    pub filter: Vec<Cond>,
    /// `(column, descending)` in order.
    pub sort: Vec<(Ident, bool)>,
    pub params: Vec<ParamAst>,
    pub filterable: Vec<Ident>,
    pub sortable: Vec<Ident>,
    pub searchable: Vec<Ident>,
    pub access: Option<ViewAccessAst>,
}

/// `access ROLES [widens=#true] { conditions }` of a view.
#[derive(Debug)]
pub struct ViewAccessAst {
    pub span: Span,
    pub roles: Vec<RoleRef>,
    pub body: Vec<Cond>,
    pub widens: bool,
}

/// `param NAME TYPE [required=#true] [default=V] [description="…"] { conditions }`.
#[derive(Debug)]
pub struct ParamAst {
    pub name: Ident,
    pub ty: Option<(ColumnType, Span)>,
    pub required: Option<Span>,
    pub default: Option<Val>,
    pub description: Option<String>,
    pub filter: Vec<Cond>,
}

#[derive(Debug, Default)]
pub struct Column {
    pub name: Ident,
    /// `None` when the type was missing or unknown (already reported).
    pub ty: Option<(ColumnType, Span)>,
    pub required: bool,
    pub default: Option<Val>,
    /// `unique=#true` (within the scope) or `unique=global`, and where it was said.
    pub unique: Option<(Uniqueness, Span)>,
    pub min: Option<Val>,
    pub max: Option<Val>,
    pub min_length: Option<(i128, Span)>,
    pub max_length: Option<(i128, Span)>,
    pub pattern: Option<(String, Span)>,
    pub references: Option<Ident>,
    pub on_delete: Option<(OnDelete, Span)>,
    pub searchable: Option<Span>,
    pub display: Option<Span>,
    pub index: bool,
    pub was: Option<String>,
    pub description: Option<String>,
    /// A file column's `max-size=` and `types=`, as written.
    pub max_size: Option<(String, Span)>,
    pub types: Option<(String, Span)>,
    pub one_of: Vec<Val>,
}

#[derive(Debug)]
pub struct Relation {
    pub name: Ident,
    pub table: Option<Ident>,
    pub via: Option<Ident>,
}

#[derive(Debug)]
pub struct IndexAst {
    pub span: Span,
    pub columns: Vec<Ident>,
    pub unique: bool,
    /// `unique … global=#true`.
    pub global: bool,
}

/// Where a unique constraint holds on a firewalled table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    /// Within the row's scope (the default).
    Scoped,
    /// Table-wide: another tenant's value is observable as a conflict.
    Global,
}

/// `history #true|#false` or `history { keep "90d"; exclude COL…; }` on a table.
#[derive(Debug)]
pub struct HistoryAst {
    pub span: Span,
    pub on: bool,
    pub keep: Option<(String, Span)>,
    pub exclude: Vec<Ident>,
}

#[derive(Debug)]
pub struct PageAst {
    pub span: Span,
    pub default: Option<(i128, Span)>,
    pub max: Option<(i128, Span)>,
}

#[derive(Debug, Clone)]
pub enum Firewall {
    None,
    Block {
        span: Span,
        scopes: Vec<ScopeAst>,
        bypass: Vec<RoleRef>,
        error_mode: Option<ErrorMode>,
    },
}

#[derive(Debug, Clone)]
pub struct ScopeAst {
    pub column: Ident,
    pub value: Val,
    pub bypass: Vec<RoleRef>,
}

#[derive(Debug, Clone)]
pub struct Access {
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub op: Operation,
    /// The operation name's span.
    pub span: Span,
    pub roles: Vec<RoleRef>,
    pub body: Vec<Cond>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareKind {
    When,
    Check,
}

#[derive(Debug, Clone)]
pub enum Cond {
    All(Vec<Cond>, Span),
    Any(Vec<Cond>, Span),
    Not(Vec<Cond>, Span),
    Role(Vec<RoleRef>, Span),
    Compare {
        kind: CompareKind,
        field: Ident,
        op: Ident,
        values: Vec<Val>,
        span: Span,
    },
}

impl Cond {
    pub fn span(&self) -> Span {
        match self {
            Cond::All(_, s) | Cond::Any(_, s) | Cond::Not(_, s) | Cond::Role(_, s) => *s,
            Cond::Compare { span, .. } => *span,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Guards {
    Open,
    Lists {
        createable: Vec<Ident>,
        updatable: Vec<Ident>,
        immutable: Vec<Ident>,
        protected: Vec<(Ident, Vec<Ident>)>,
    },
}

#[derive(Debug, Clone)]
pub struct Masking {
    pub masks: Vec<MaskAst>,
    pub unmasked: Vec<Ident>,
}

#[derive(Debug, Clone)]
pub struct MaskAst {
    pub column: Ident,
    pub kind: Option<MaskKind>,
    pub show: Vec<RoleRef>,
    pub owner: Option<Ident>,
}

#[derive(Debug, Clone)]
pub enum BatchAst {
    Off,
    On {
        max: Option<(i128, Span)>,
        atomic: Option<bool>,
    },
}
