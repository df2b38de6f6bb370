//! The ward IR: the checked, fully resolved form of a ward project.
//!
//! This crate is the one contract shared by the compiler (which produces it), the runtime (which
//! serves it) and the conformance model (which predicts its behaviour). It holds plain data only:
//! every name is resolved, every `R+` role range expanded, every template applied, every default
//! made explicit and every auto-mask materialised, so no consumer ever re-interprets source text.
//!
//! Serialisation is deterministic: collections are `Vec`s in a fixed order chosen by the compiler
//! or `BTreeMap`s, so the same sources always give byte-identical JSON.

#![forbid(unsafe_code)]

pub mod time;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The IR format version written by this crate.
pub const IR_VERSION: u32 = 1;

/// The names of the system columns, in record order (`deletedAt`/`deletedBy` only with soft delete).
pub mod system {
    pub const ID: &str = "id";
    pub const CREATED_AT: &str = "createdAt";
    pub const CREATED_BY: &str = "createdBy";
    pub const MODIFIED_AT: &str = "modifiedAt";
    pub const MODIFIED_BY: &str = "modifiedBy";
    pub const DELETED_AT: &str = "deletedAt";
    pub const DELETED_BY: &str = "deletedBy";

    /// Every name a user may never declare as a column.
    pub const ALL: [&str; 7] = [
        ID,
        CREATED_AT,
        CREATED_BY,
        MODIFIED_AT,
        MODIFIED_BY,
        DELETED_AT,
        DELETED_BY,
    ];
}

/// The list parameters of `GET /api/T` (SPEC §5.3). Any other query parameter is a filter on a
/// column, so no column may be named like one of these: the name alone decides what a parameter
/// is, never whether the table has such a column.
pub const RESERVED_QUERY_PARAMETERS: [&str; 10] = [
    "sort", "order", "limit", "offset", "cursor", "search", "fields", "total", "expand", "deleted",
];

/// The pseudo-role every caller has, with or without a token.
pub const ROLE_PUBLIC: &str = "public";
/// The pseudo-role every caller with a valid token has.
pub const ROLE_AUTHENTICATED: &str = "authenticated";

/// A whole compiled project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ir {
    /// Always [`IR_VERSION`].
    pub version: u32,
    /// Token verification and the claims each `(auth)NAME` value reads.
    pub auth: Auth,
    /// Declared roles, lowest first.
    pub roles: Vec<String>,
    /// Every table, in source order.
    pub tables: Vec<Table>,
    /// Standalone actions, `POST` (or `GET`) `/api/actions/A`, in source order.
    pub actions: Vec<Action>,
    /// How the server meets browsers and operators (`server { … }`); left out when default.
    #[serde(default, skip_serializing_if = "Server::is_default")]
    pub server: Server,
    /// Where each declaration was written, by a dotted key (`tasks`, `tasks.column.title`,
    /// `tasks.access.update`, `tasks.guard.owner`, …): the console cites them beside a refusal
    /// (SPEC §14). Never part of the policy, so left out of `hash`: moving a rule down a line
    /// does not change what is served.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, SourceLocation>,
    /// Hex SHA-256 over the IR's canonical JSON with this field and `sources` empty; what
    /// `/healthz` reports.
    pub hash: String,
}

/// A place in the project's files: the path relative to the project directory, and the 1-based
/// line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceLocation {
    pub file: String,
    pub line: u32,
}

impl Ir {
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// The labels `t`'s records carry (SPEC §5.2): one per reference column whose target has a
    /// `display` column, unless `t` declares a column of the label's name (a label never
    /// overwrites data). The runtime answers them and the OpenAPI document types them.
    pub fn labels<'a>(&'a self, t: &'a Table) -> Vec<Label<'a>> {
        t.columns
            .iter()
            .filter_map(|c| {
                let target = self.table(&c.references.as_ref()?.table)?;
                let display = target.display.as_deref()?;
                let key = label_key(&c.name);
                t.column(&key).is_none().then_some(Label {
                    column: &c.name,
                    key,
                    target,
                    display,
                })
            })
            .collect()
    }

    pub fn action(&self, name: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.name == name)
    }
}

/// The project's `server { … }` block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// Browser origins allowed to call the API (`scheme://host[:port]`, lower case), or `*` for
    /// any origin; none by default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cors: Vec<String>,
    /// The limits of SPEC §5.7 the project sets; a `ward serve` flag overrides each, and an unset
    /// one keeps its default (docs/operations.md).
    #[serde(default, skip_serializing_if = "ServerLimits::is_default")]
    pub limits: ServerLimits,
    /// Where file columns keep their bytes (`storage …`); `None`: the project's `.ward/files`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<Storage>,
    /// The roles `ward serve --console` opens the console to (`operators admin+`), expanded;
    /// none by default, and then the console stays closed even with `--console`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operators: Vec<String>,
}

/// `server { storage local path=… }` or `server { storage s3 bucket=… }` (SPEC §13).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", tag = "kind", deny_unknown_fields)]
pub enum Storage {
    /// A directory; a relative path is relative to the project directory.
    Local { path: String },
    /// An S3-compatible bucket; credentials come from the environment (`AWS_ACCESS_KEY_ID`, …).
    S3 {
        bucket: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        endpoint: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        region: Option<String>,
        /// A folder inside the bucket that ward keeps to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prefix: Option<String>,
    },
}

/// `server { request-timeout "30s" … }`: each `None` keeps the server's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_memory_mib: Option<u32>,
    /// Refused tokens per second one address may send (`0`: no limit), and the burst.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_auth: Option<RateLimit>,
    /// Requests per second one client address may send, and the burst (`rate-limit ip N`);
    /// none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_ip: Option<RateLimit>,
    /// Requests per second one authenticated caller (by user id) may send, and the burst
    /// (`rate-limit subject N`); none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_subject: Option<RateLimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqlite_sync: Option<SqliteSync>,
}

/// How hard SQLite makes a commit durable before ward answers it (SPEC §5.7 "Durability").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSync {
    /// WAL with `synchronous=FULL`: the log is synced at every commit (a group commit is one
    /// commit), so an answered write survives a power cut.
    #[default]
    Full,
    /// WAL with `synchronous=NORMAL`: no sync at commit, only at checkpoints. A crash of the
    /// process loses nothing answered; a power cut or an OS crash can lose the last commits.
    Normal,
}

impl SqliteSync {
    /// `full` or `normal`, as the project's `sqlite-sync` and `ward serve --sqlite-sync` spell it.
    pub fn from_name(name: &str) -> Option<SqliteSync> {
        match name {
            "full" => Some(SqliteSync::Full),
            "normal" => Some(SqliteSync::Normal),
            _ => None,
        }
    }
}

impl ServerLimits {
    pub fn is_default(&self) -> bool {
        *self == ServerLimits::default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

impl Server {
    pub fn is_default(&self) -> bool {
        *self == Server::default()
    }
}

/// How tokens are verified and how claims map to auth values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    pub jwt: Jwt,
    /// Auth value name → token claim name. Always holds `user-id`, `roles` and `org-id`.
    pub claims: BTreeMap<String, String>,
}

impl Auth {
    /// The claim that carries the caller's user id.
    pub fn user_id_claim(&self) -> &str {
        self.claims.get(CLAIM_USER_ID).map_or("sub", String::as_str)
    }

    /// The claim that carries the caller's roles.
    pub fn roles_claim(&self) -> &str {
        self.claims.get(CLAIM_ROLES).map_or("roles", String::as_str)
    }
}

/// Auth value names that always exist.
pub const CLAIM_USER_ID: &str = "user-id";
pub const CLAIM_ROLES: &str = "roles";
pub const CLAIM_ORG_ID: &str = "org-id";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Jwt {
    pub key: JwtKey,
    /// Verified when present.
    pub issuer: Option<String>,
    /// Verified when present.
    pub audience: Option<String>,
    /// Leeway for `exp` and `nbf`, in seconds.
    pub leeway_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum JwtKey {
    /// HS256 with the secret in this environment variable (falling back to the dev secret).
    Secret { env: String },
    /// A PEM public key file, relative to the project directory.
    PublicKey {
        path: String,
        algorithm: JwtAlgorithm,
    },
    /// A JWKS file, relative to the project directory.
    Jwks { path: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum JwtAlgorithm {
    RS256,
    ES256,
    EdDSA,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Table {
    pub name: String,
    pub description: Option<String>,
    pub id: IdKind,
    /// Every column in record order: `id`, the declared columns, then the other system columns.
    pub columns: Vec<Column>,
    /// The column whose value labels references to this table.
    pub display: Option<String>,
    pub relations: Vec<Relation>,
    /// Every index to create, explicit and implied (scope columns, references, `deletedAt`).
    pub indexes: Vec<Index>,
    pub firewall: Firewall,
    pub access: Access,
    pub guards: Guards,
    /// One entry per masked column (explicit and auto), in column order.
    pub masks: Vec<Mask>,
    pub delete: DeleteMode,
    pub batch: Batch,
    pub page: Page,
    /// Named read endpoints, `GET /api/T/views/V`, in source order.
    pub views: Vec<View>,
    /// Record actions, `POST /api/T/{id}/A`, in source order.
    pub actions: Vec<Action>,
    /// `on EVENT PHASE { steps }`, in source order (SPEC §2.12).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<Trigger>,
    /// `history`: every committed change of a row is kept as a version (SPEC §11).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<History>,
    /// `realtime`: committed changes are streamed to subscribers (SPEC §12).
    #[serde(default, skip_serializing_if = "is_false")]
    pub realtime: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A table's row history (SPEC §11).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct History {
    /// How long a version is kept, in days; `None` keeps it until purged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_days: Option<u32>,
    /// Declared columns never stored in a version, in column order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

impl Table {
    /// Whether each committed change of a row is written to the change log (SPEC §11): it is
    /// for tables with `history` or `realtime`.
    pub fn logs_changes(&self) -> bool {
        self.history.is_some() || self.realtime
    }

    /// The table's `file` columns, in column order.
    pub fn file_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| c.ty == ColumnType::File)
    }

    /// Whether a write reads the images of the rows it changes: for the change log, and to
    /// release the stored files a write replaces or removes (SPEC §13).
    pub fn writes_images(&self) -> bool {
        self.logs_changes() || self.file_columns().next().is_some()
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn mask(&self, column: &str) -> Option<&Mask> {
        self.masks.iter().find(|m| m.column == column)
    }

    pub fn view(&self, name: &str) -> Option<&View> {
        self.views.iter().find(|v| v.name == name)
    }

    pub fn action(&self, name: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.name == name)
    }

    /// The triggers that run on `event` in `phase`, in source order.
    pub fn triggers(
        &self,
        event: TriggerEvent,
        phase: TriggerPhase,
    ) -> impl Iterator<Item = &Trigger> {
        self.triggers
            .iter()
            .filter(move |t| t.event == event && t.phase == phase)
    }

    /// Whether `column` is stamped by a firewall scope.
    pub fn is_scope_column(&self, column: &str) -> bool {
        self.firewall.scopes.iter().any(|s| s.column == column)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum IdKind {
    /// UUIDv7 generated by the server.
    Uuid,
    /// Autoincrementing integer.
    Integer,
    /// Client-supplied text; required in every create.
    Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// System columns are managed by the server and never client-writable.
    pub system: bool,
    /// NOT NULL; must be given on create unless `default` is set.
    pub required: bool,
    pub default: Option<ColumnDefault>,
    pub unique: bool,
    pub min: Option<Number>,
    pub max: Option<Number>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub pattern: Option<String>,
    /// Allowed values (an enum), typed like the column.
    pub one_of: Vec<Literal>,
    pub references: Option<Reference>,
    pub searchable: bool,
    /// The name this column had before (`was=`), for rename migrations.
    pub was: Option<String>,
    pub description: Option<String>,
    /// What a `file` column accepts (SPEC §13); `None` for every other type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileRules>,
}

/// A `file` column's limits: `max-size=` and `types=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileRules {
    /// The largest upload accepted, in bytes.
    pub max_size: u64,
    /// Media types the content must have, as recognised from its bytes: exact (`image/png`) or a
    /// whole family (`image/*`); empty: any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
}

impl FileRules {
    /// `max-size` when a file column does not say: PocketBase's default, 5 MiB.
    pub const DEFAULT_MAX_SIZE: u64 = 5 * 1024 * 1024;

    /// Whether content recognised as `media_type` may be stored.
    pub fn allows(&self, media_type: &str) -> bool {
        self.types.is_empty()
            || self.types.iter().any(|t| match t.strip_suffix("/*") {
                Some(family) => media_type.split_once('/').is_some_and(|(f, _)| f == family),
                None => t == media_type,
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ColumnType {
    Text,
    Integer,
    Float,
    Boolean,
    Datetime,
    Date,
    Uuid,
    Json,
    /// Metadata `{name, size, type, sha256}` of bytes kept in the file store (SPEC §13).
    File,
}

impl ColumnType {
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Text => "text",
            ColumnType::Integer => "integer",
            ColumnType::Float => "float",
            ColumnType::Boolean => "boolean",
            ColumnType::Datetime => "datetime",
            ColumnType::Date => "date",
            ColumnType::Uuid => "uuid",
            ColumnType::Json => "json",
            ColumnType::File => "file",
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, ColumnType::Integer | ColumnType::Float)
    }

    /// Types whose values are strings in JSON and in conditions.
    pub fn is_textual(self) -> bool {
        matches!(
            self,
            ColumnType::Text | ColumnType::Uuid | ColumnType::Datetime | ColumnType::Date
        )
    }
}

/// A number bound (`min=`, `max=`), kept exact for integers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Number {
    Integer(i64),
    Float(f64),
}

impl Number {
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Integer(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

/// A literal value, already checked against the type of the column it is used with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Literal {
    Null,
    Boolean(bool),
    Integer(i64),
    Float(f64),
    /// Text, uuid, datetime (RFC 3339, UTC), date (`YYYY-MM-DD`) and json (JSON text) values.
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "value")]
pub enum ColumnDefault {
    Literal(Literal),
    /// The request's timestamp (`(time)now`), for datetime and date columns.
    Now,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    pub table: String,
    pub on_delete: OnDelete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OnDelete {
    Restrict,
    Cascade,
    SetNull,
}

/// A reference column's label: the target row's `display` value, under [`Label::key`].
#[derive(Debug, Clone, PartialEq)]
pub struct Label<'a> {
    pub column: &'a str,
    pub key: String,
    pub target: &'a Table,
    pub display: &'a str,
}

/// The key of a reference column's label: `roomTypeId` → `roomType_label`, `owner_id` →
/// `owner_label`, `room` → `room_label`.
pub fn label_key(column: &str) -> String {
    let stem = column
        .strip_suffix("Id")
        .or_else(|| column.strip_suffix("_id"))
        .filter(|s| !s.is_empty())
        .unwrap_or(column);
    format!("{stem}_label")
}

/// `relation NAME has-many=TABLE via=COLUMN`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Relation {
    pub name: String,
    pub table: String,
    pub via: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Index {
    /// Deterministic: `ix_<table>_<col>_<col>` or `ux_…` for unique ones, named after
    /// [`Index::key`] (so a unique index kept within the scope names the scope columns too).
    pub name: String,
    /// The declared columns.
    pub columns: Vec<String>,
    pub unique: bool,
    /// A unique index that holds table-wide (`unique=global`) even on a firewalled table; by
    /// default uniqueness holds within the row's scope (SPEC §5.7), so that another tenant's
    /// value is never observable as a conflict.
    #[serde(default)]
    pub global: bool,
}

impl Index {
    /// The columns the database indexes: for a unique index kept within the scope, the
    /// firewall's scope columns (those not declared already) before the declared ones. Every
    /// row carries its scopes (they are stamped on insert), so two rows conflict only when a
    /// caller who can see one of them could see the other.
    pub fn key<'a>(&'a self, firewall: &'a Firewall) -> Vec<&'a str> {
        let mut key: Vec<&str> = Vec::new();
        if self.unique && !self.global {
            key.extend(
                firewall
                    .scopes
                    .iter()
                    .map(|s| s.column.as_str())
                    .filter(|c| !self.columns.iter().any(|d| d == c)),
            );
        }
        key.extend(self.columns.iter().map(String::as_str));
        key
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Firewall {
    /// Empty for `firewall none`.
    pub scopes: Vec<Scope>,
    /// Roles exempt from every scope of the table.
    pub bypass: Vec<String>,
    pub error_mode: ErrorMode,
}

/// `scope COLUMN (auth)NAME`: the row's COLUMN must equal the caller's auth value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    pub column: String,
    /// The auth value name (a key of [`Auth::claims`]).
    pub auth: String,
    /// Roles exempt from this scope only.
    pub bypass: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorMode {
    /// 404 `NOT_FOUND`.
    Hide,
    /// 403 `FIREWALL_NOT_FOUND`.
    Reveal,
}

/// One rule per operation; `None` means denied.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Access {
    pub list: Option<AccessRule>,
    pub read: Option<AccessRule>,
    pub create: Option<AccessRule>,
    pub update: Option<AccessRule>,
    pub delete: Option<AccessRule>,
    pub restore: Option<AccessRule>,
    /// `GET /api/T/{id}/history` (SPEC §11); `None` takes the `read` rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<AccessRule>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    List,
    Read,
    Create,
    Update,
    Delete,
    Restore,
    /// Reading a row's versions (SPEC §11), on tables with `history`.
    History,
}

impl Operation {
    /// The operations every table has; [`Operation::History`] only where `history` is on.
    pub const ALL: [Operation; 6] = [
        Operation::List,
        Operation::Read,
        Operation::Create,
        Operation::Update,
        Operation::Delete,
        Operation::Restore,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Operation::List => "list",
            Operation::Read => "read",
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
            Operation::Restore => "restore",
            Operation::History => "history",
        }
    }
}

impl Access {
    pub fn rule(&self, op: Operation) -> Option<&AccessRule> {
        match op {
            Operation::List => self.list.as_ref(),
            Operation::Read => self.read.as_ref(),
            Operation::Create => self.create.as_ref(),
            Operation::Update => self.update.as_ref(),
            Operation::Delete => self.delete.as_ref(),
            Operation::Restore => self.restore.as_ref(),
            Operation::History => self.history.as_ref().or(self.read.as_ref()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessRule {
    /// Every role that some branch of `when` can grant (expanded, sorted by rank), for error
    /// details and policy tools.
    pub roles: Vec<String>,
    /// Who, and on which rows: role leaves and conditions on the current row. For `create` it holds
    /// only role leaves.
    pub when: Condition,
    /// Conditions on the incoming (create) or resulting (update) row.
    pub check: Option<Condition>,
}

/// A condition tree. Role leaves depend only on the caller; comparisons on a row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Condition {
    All {
        of: Vec<Condition>,
    },
    Any {
        of: Vec<Condition>,
    },
    Not {
        of: Box<Condition>,
    },
    /// The caller has one of these roles (expanded; may include `public` / `authenticated`).
    Role {
        roles: Vec<String>,
    },
    Compare {
        field: String,
        op: CompareOp,
        /// None for `is-null`/`not-null`, several for `in`/`not-in`, else one.
        values: Vec<Value>,
    },
}

/// A condition once the caller's roles are decided: SPEC §6's partial evaluation, shared by the
/// runtime (before any read) and the policy tools (`ward explain`, `ward diff`).
#[derive(Debug, Clone, PartialEq)]
pub enum Partial {
    True,
    False,
    /// Holds on the rows where this role-free condition holds.
    Rows(Condition),
}

impl Condition {
    /// This condition with each value that `f` maps replaced (view params and action inputs
    /// bound to the request's values before evaluation).
    pub fn map_values(&self, f: &dyn Fn(&Value) -> Option<Value>) -> Condition {
        let all = |of: &[Condition]| of.iter().map(|x| x.map_values(f)).collect();
        match self {
            Condition::All { of } => Condition::All { of: all(of) },
            Condition::Any { of } => Condition::Any { of: all(of) },
            Condition::Not { of } => Condition::Not {
                of: Box::new(of.map_values(f)),
            },
            Condition::Role { .. } => self.clone(),
            Condition::Compare { field, op, values } => Condition::Compare {
                field: field.clone(),
                op: *op,
                values: values
                    .iter()
                    .map(|v| f(v).unwrap_or_else(|| v.clone()))
                    .collect(),
            },
        }
    }

    /// Every field this condition compares, in order, with repeats.
    pub fn fields(&self) -> Vec<&str> {
        match self {
            Condition::All { of } | Condition::Any { of } => {
                of.iter().flat_map(Condition::fields).collect()
            }
            Condition::Not { of } => of.fields(),
            Condition::Role { .. } => Vec::new(),
            Condition::Compare { field, .. } => vec![field.as_str()],
        }
    }

    /// Decides every role leaf with `has_any_role` and simplifies; row comparisons are kept.
    pub fn partial(&self, has_any_role: &dyn Fn(&[String]) -> bool) -> Partial {
        match self {
            Condition::Role { roles } => {
                if has_any_role(roles) {
                    Partial::True
                } else {
                    Partial::False
                }
            }
            Condition::Compare { .. } => Partial::Rows(self.clone()),
            Condition::Not { of } => match of.partial(has_any_role) {
                Partial::True => Partial::False,
                Partial::False => Partial::True,
                Partial::Rows(r) => Partial::Rows(Condition::Not { of: Box::new(r) }),
            },
            Condition::All { of } => {
                let mut rest = Vec::new();
                for child in of {
                    match child.partial(has_any_role) {
                        Partial::False => return Partial::False,
                        Partial::True => {}
                        Partial::Rows(r) => rest.push(r),
                    }
                }
                match rest.len() {
                    0 => Partial::True,
                    1 => Partial::Rows(rest.remove(0)),
                    _ => Partial::Rows(Condition::All { of: rest }),
                }
            }
            Condition::Any { of } => {
                let mut rest = Vec::new();
                for child in of {
                    match child.partial(has_any_role) {
                        Partial::True => return Partial::True,
                        Partial::False => {}
                        Partial::Rows(r) => rest.push(r),
                    }
                }
                match rest.len() {
                    0 => Partial::False,
                    1 => Partial::Rows(rest.remove(0)),
                    _ => Partial::Rows(Condition::Any { of: rest }),
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CompareOp {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    Like,
    In,
    NotIn,
    IsNull,
    NotNull,
}

impl CompareOp {
    pub fn name(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Gt => "gt",
            CompareOp::Gte => "gte",
            CompareOp::Lt => "lt",
            CompareOp::Lte => "lte",
            CompareOp::Like => "like",
            CompareOp::In => "in",
            CompareOp::NotIn => "not-in",
            CompareOp::IsNull => "is-null",
            CompareOp::NotNull => "not-null",
        }
    }
}

/// A value in a condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "value")]
pub enum Value {
    Literal(Literal),
    /// The caller's auth value of this name (a key of [`Auth::claims`]); a caller without it
    /// matches nothing.
    Auth(String),
    /// The request's timestamp.
    Now,
    /// A view parameter of this name (views only); the runtime binds it to the request's typed
    /// value before the condition is compiled.
    Param(String),
    /// An action input of this name (actions only), validated before any step runs.
    Input(String),
    /// A column of the row a record action acts on, as it is when the step runs (in a
    /// trigger: the row written, or the row deleted).
    Record(String),
    /// A column of the row before an update or delete (triggers only).
    Old(String),
}

/// `action NAME { … }`: inside a table a record action, `POST /api/T/{id}/NAME`, run on the row
/// loaded through the table's firewall; at the top level a standalone action,
/// `POST /api/actions/NAME` (SPEC §2.10). Either runs as one transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Action {
    pub name: String,
    pub description: Option<String>,
    /// `GET` takes the inputs from the query string (standalone actions only).
    pub method: ActionMethod,
    /// Who may invoke it (role leaves) and in which states of the row (conditions, answered with
    /// 409 `ACCESS_ACTION_NOT_ALLOWED_FOR_STATE`); `None` denies everyone.
    pub access: Option<AccessRule>,
    /// Typed inputs of the request body, validated like columns (`system`, `unique`,
    /// `references` and `pattern` unused).
    pub inputs: Vec<Column>,
    pub steps: Vec<Step>,
}

/// `on EVENT PHASE { steps }`: steps run on every write of the REST API to the table (SPEC
/// §2.12), with `(record)` the row written (the row deleted, on delete) and `(old)` the row
/// before an update or delete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    pub event: TriggerEvent,
    pub phase: TriggerPhase,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TriggerEvent {
    Create,
    Update,
    Delete,
}

impl TriggerEvent {
    pub fn name(self) -> &'static str {
        match self {
            TriggerEvent::Create => "create",
            TriggerEvent::Update => "update",
            TriggerEvent::Delete => "delete",
        }
    }
}

/// When a trigger runs relative to its write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TriggerPhase {
    /// Before the statement, in its transaction: `(record)` is the row about to be written; a
    /// failing step aborts the write.
    Before,
    /// After the statement, in its transaction: a failing step rolls the write back.
    During,
    /// After the commit, in a transaction of its own; a failure is logged and changes nothing
    /// the client sees.
    After,
}

impl TriggerPhase {
    pub fn name(self) -> &'static str {
        match self {
            TriggerPhase::Before => "before",
            TriggerPhase::During => "during",
            TriggerPhase::After => "after",
        }
    }
}

/// Every step of `steps`, those inside `if` branches included, in order.
pub fn all_steps(steps: &[Step]) -> Vec<&Step> {
    let mut out = Vec::new();
    for s in steps {
        out.push(s);
        if let Step::If {
            then, otherwise, ..
        } = s
        {
            out.extend(all_steps(then));
            out.extend(all_steps(otherwise));
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ActionMethod {
    Post,
    Get,
}

/// One step of an action, run in order inside the action's transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", tag = "step")]
pub enum Step {
    /// Abort with `error` unless `when` holds on the row (record actions) and each `exists` finds
    /// a row the caller can read.
    Require {
        when: Option<Condition>,
        exists: Vec<Exists>,
        error: ActionError,
    },
    /// Insert a row into `table` through its firewall (scopes stamped) with audit fields; the
    /// result is `inserted`.
    Insert { table: String, set: Vec<Assignment> },
    /// Run `then` when `when` holds on the row, else `otherwise`.
    If {
        when: Condition,
        then: Vec<Step>,
        otherwise: Vec<Step>,
    },
    /// Compare-and-set of `column` from one of `from` to `to`.
    Transition {
        column: String,
        from: Vec<Literal>,
        to: Value,
    },
    /// Set columns of the row (`table` None, record actions) or of every row of `table` the
    /// caller's firewall lets through that satisfies `when` (never system or scope columns;
    /// protected ones only when this action is listed for them).
    Update {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        table: Option<String>,
        set: Vec<Assignment>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        when: Option<Condition>,
    },
    /// Delete (soft or hard, per the table) the row (`table` None, record actions) or every row
    /// of `table` the caller's firewall lets through that satisfies `when`.
    Delete {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        table: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        when: Option<Condition>,
    },
    /// Select up to `limit` rows of `table` the caller can read (firewall, soft delete, its
    /// `read` rule) satisfying `when`, in `sort` order, into `name`.
    Query {
        name: String,
        table: String,
        when: Option<Condition>,
        sort: Vec<SortKey>,
        limit: u32,
    },
    /// The response body; without it, `{"ok": true}`.
    Return { value: Returned },
}

/// `exists TABLE { conditions }`: a row of TABLE the caller can read (firewall, soft delete, its
/// `read` rule) satisfying the conditions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Exists {
    pub table: String,
    pub when: Option<Condition>,
}

/// A custom error of a `require` step: answered with layer `action`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionError {
    pub code: String,
    pub status: u16,
    pub message: String,
}

/// `set COLUMN VALUE`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    pub column: String,
    pub value: Value,
}

/// What a `return` step answers (masked like any read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "fields")]
pub enum Returned {
    /// The row after the action's steps.
    Record,
    /// The row the last `insert` step wrote.
    Inserted,
    /// The rows of the `query` step of this name, as a list.
    Query(String),
    /// An object of named values.
    Object(Vec<Assignment>),
}

/// `view NAME { … }`: a named, read-only list of its table (SPEC §2.9). The table's firewall,
/// soft-delete filter and masking always apply on top of everything here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct View {
    pub name: String,
    pub description: Option<String>,
    /// The projection, in record order: `id` first, then the listed columns.
    pub fields: Vec<String>,
    /// The fixed row filter (`where`); may use `(auth)`, `(time)` and always-present params.
    pub filter: Option<Condition>,
    /// The default order (before `id`, always the final tiebreaker).
    pub sort: Vec<SortKey>,
    pub params: Vec<ViewParam>,
    /// Columns the client may filter on with `FIELD[.OP]=V`; a subset of `fields`.
    pub filterable: Vec<String>,
    /// Columns the client may sort by; a subset of `fields`.
    pub sortable: Vec<String>,
    /// Columns `search=` runs over; a subset of `fields`.
    pub searchable: Vec<String>,
    /// Who may call the view and on which rows: the view's own `access`, else the table's `list`
    /// rule; `None` (neither exists) denies everyone.
    pub access: Option<AccessRule>,
    /// Written `widens=#true`: the view deliberately admits callers the table's `list` does not.
    pub widens: bool,
}

/// One key of a default sort.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SortKey {
    pub column: String,
    pub desc: bool,
}

/// `param NAME TYPE [required=#true] [default=V] { conditions }`: a typed query parameter of a
/// view. Its conditions apply when it has a value (given, or its default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ViewParam {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ColumnType,
    pub required: bool,
    pub default: Option<Literal>,
    pub description: Option<String>,
    pub filter: Option<Condition>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Guards {
    /// `guards open`: every non-system, non-scope column is createable and updatable.
    pub open: bool,
    /// Columns a create body may carry (materialised: includes `immutable` ones and, with `open`,
    /// every writable column).
    pub createable: Vec<String>,
    /// Columns an update body may carry.
    pub updatable: Vec<String>,
    /// Createable, never updatable.
    pub immutable: Vec<String>,
    pub protected: Vec<Protected>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Protected {
    pub column: String,
    /// The actions of this table that may write it.
    pub actions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mask {
    pub column: String,
    pub kind: MaskKind,
    /// Roles that see the raw value (expanded).
    pub show: Vec<String>,
    /// A column holding a user id: that user sees the raw value.
    pub owner: Option<String>,
    /// Materialised by auto-masking rather than written.
    pub auto: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum MaskKind {
    Email,
    Phone,
    Ssn,
    CreditCard,
    Name,
    Redact,
    Hidden,
}

impl MaskKind {
    pub fn name(self) -> &'static str {
        match self {
            MaskKind::Email => "email",
            MaskKind::Phone => "phone",
            MaskKind::Ssn => "ssn",
            MaskKind::CreditCard => "credit-card",
            MaskKind::Name => "name",
            MaskKind::Redact => "redact",
            MaskKind::Hidden => "hidden",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DeleteMode {
    Soft,
    Hard,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// `batch off` sets this to false.
    pub enabled: bool,
    /// Most records per batch request, 1…1000.
    pub max: u32,
    /// Whether `options.atomic` may be used.
    pub atomic: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Page {
    pub default: u32,
    pub max: u32,
}

impl Default for Batch {
    fn default() -> Self {
        Batch {
            enabled: true,
            max: 100,
            atomic: true,
        }
    }
}

impl Default for Page {
    fn default() -> Self {
        Page {
            default: 50,
            max: 100,
        }
    }
}

/// The JSON Schema of the IR, as checked in at `schemas/ir.schema.json`.
pub fn json_schema() -> schemars::Schema {
    schemars::schema_for!(Ir)
}

#[cfg(test)]
mod tests {
    use super::label_key;

    #[test]
    fn label_keys_drop_a_trailing_id() {
        assert_eq!(label_key("roomTypeId"), "roomType_label");
        assert_eq!(label_key("owner_id"), "owner_label");
        assert_eq!(label_key("room"), "room_label");
        assert_eq!(label_key("Id"), "Id_label");
        assert_eq!(label_key("_id"), "_id_label");
        assert_eq!(label_key("paid"), "paid_label");
    }
}
