//! Every diagnostic the compiler emits: one constructor per code.
//!
//! Each doc comment follows one template, which `docs/diagnostics.md` is generated from (see
//! `tests/docs.rs`): the first line is `CODE: meaning`, then `Why:`, `Bad:` and `Fix:` lines.

use super::{Diagnostic, Span};

/// "a text", "an integer": the article for a type name.
fn a(ty: &str) -> String {
    if ty.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {ty}")
    } else {
        format!("a {ty}")
    }
}

fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// E0001: the file is not valid KDL v2.
///
/// Why: nothing can be checked in a file that cannot be parsed.
/// Bad: `table rooms { column name text required=true }`
/// Fix: `table rooms { column name text required=#true }`
pub fn syntax(span: Span, message: &str, label: &str, help: Option<String>) -> Diagnostic {
    Diagnostic::error("E0001", span, format!("syntax error: {message}"), label).with_opt_help(help)
}

/// E0002: a node name that ward does not know in this place.
///
/// Why: a typo such as `acess` would otherwise silently drop a policy.
/// Bad: `table rooms { acess { list member+ } }`
/// Fix: `table rooms { access { list member+ } }`
pub fn unknown_node(span: Span, name: &str, context: &str, allowed: &[&str]) -> Diagnostic {
    let help = super::suggest(name, allowed.iter().copied())
        .unwrap_or_else(|| format!("expected one of {}", list(allowed)));
    Diagnostic::error(
        "E0002",
        span,
        format!("unknown node `{name}` in {context}"),
        "unknown node",
    )
    .with_help(help)
}

/// E0003: a property that this node does not take.
///
/// Why: an unknown property (`requird=#true`) would otherwise be ignored.
/// Bad: `column name text requird=#true`
/// Fix: `column name text required=#true`
pub fn unknown_property(span: Span, key: &str, node: &str, allowed: &[&str]) -> Diagnostic {
    let help = if allowed.is_empty() {
        format!("`{node}` takes no properties")
    } else {
        super::suggest(key, allowed.iter().copied())
            .unwrap_or_else(|| format!("`{node}` takes {}", list(allowed)))
    };
    Diagnostic::error(
        "E0003",
        span,
        format!("unknown property `{key}` on `{node}`"),
        "unknown property",
    )
    .with_help(help)
}

/// E0004: a node has too few or too many arguments (or lacks a required block or property).
///
/// Why: every node has a fixed shape; guessing the missing part could widen a policy.
/// Bad: `column name`
/// Fix: `column name text`
pub fn arg_count(span: Span, node: &str, expected: &str, found: usize) -> Diagnostic {
    Diagnostic::error(
        "E0004",
        span,
        format!("`{node}` expects {expected}"),
        format!("found {found} argument(s)"),
    )
}

/// E0005: an argument or property value of the wrong kind.
///
/// Why: names must be strings, flags `#true`/`#false`, bounds integers.
/// Bad: `column name text required="yes"`
/// Fix: `column name text required=#true`
pub fn arg_type(span: Span, expected: &str, found: &str) -> Diagnostic {
    Diagnostic::error(
        "E0005",
        span,
        format!("expected {expected}, found {found}"),
        "wrong kind of value",
    )
}

/// E0006: a node that may appear only once appears again.
///
/// Why: two `access` blocks (or two `auth` nodes) would leave it unclear which one applies.
/// Bad: `table t { access { list member+ }; access { read member+ } }`
/// Fix: `table t { access { list member+; read member+ } }`
pub fn duplicate_node(span: Span, name: &str, first: Span) -> Diagnostic {
    Diagnostic::error(
        "E0006",
        span,
        format!("`{name}` is given more than once"),
        "duplicate",
    )
    .with_label(first, "first given here")
    .with_help(format!("merge the two `{name}` nodes into one"))
}

/// E0007: two things of the same kind share a name (tables, columns, roles, templates, claims, …).
///
/// Why: every name must refer to exactly one thing.
/// Bad: `column name text` twice in one table
/// Fix: rename or remove one of them
pub fn duplicate_name(span: Span, kind: &str, name: &str, first: Span) -> Diagnostic {
    Diagnostic::error(
        "E0007",
        span,
        format!("duplicate {kind} `{name}`"),
        "declared again here",
    )
    .with_label(first, "first declared here")
}

/// E0008: a name that is not a valid identifier.
///
/// Why: names become URL segments and SQL identifiers: `[A-Za-z_][A-Za-z0-9_]*` (roles and
/// templates may also contain `-`).
/// Bad: `column "first name" text`
/// Fix: `column firstName text`
pub fn invalid_identifier(span: Span, what: &str, name: &str, dash: bool) -> Diagnostic {
    let rule = if dash {
        "[A-Za-z_][A-Za-z0-9_-]*"
    } else {
        "[A-Za-z_][A-Za-z0-9_]*"
    };
    Diagnostic::error(
        "E0008",
        span,
        format!("`{name}` is not a valid name for {what}"),
        "invalid name",
    )
    .with_help(format!("names must match `{rule}`"))
}

/// E0009: a reserved name is declared.
///
/// Why: `views`, `actions`, `batch` and `_…` table names collide with API routes and internal
/// tables; `public` and `authenticated` are built-in pseudo-roles.
/// Bad: `table batch { … }`
/// Fix: `table batches { … }`
pub fn reserved_name(span: Span, kind: &str, name: &str) -> Diagnostic {
    Diagnostic::error(
        "E0009",
        span,
        format!("`{name}` is a reserved {kind} name"),
        "reserved",
    )
    .with_help(format!("choose another {kind} name"))
}

/// E0010: a column is declared with the name of a system column.
///
/// Why: `id`, `createdAt`, `createdBy`, `modifiedAt`, `modifiedBy`, `deletedAt`, `deletedBy` are
/// added to every table and managed by the server.
/// Bad: `column createdAt datetime`
/// Fix: remove the column: it already exists
pub fn system_column(span: Span, name: &str) -> Diagnostic {
    Diagnostic::error(
        "E0010",
        span,
        format!("`{name}` is a system column"),
        "declared here",
    )
    .with_help("system columns are added to every table automatically; remove this line")
}

/// E0011: a keyword argument is not one of the allowed values (type, id kind, mask kind,
/// operator, on-delete action, …).
///
/// Why: an unknown keyword has no meaning to fall back on.
/// Bad: `column name string`
/// Fix: `column name text`
pub fn unknown_keyword(span: Span, what: &str, found: &str, allowed: &[&str]) -> Diagnostic {
    let help = match super::suggest(found, allowed.iter().copied()) {
        Some(s) => format!("{s} (expected one of {})", list(allowed)),
        None => format!("expected one of {}", list(allowed)),
    };
    Diagnostic::error(
        "E0011",
        span,
        format!("`{found}` is not {what}"),
        "unknown value",
    )
    .with_help(help)
}

/// E0012: a node has a children block but takes none.
///
/// Why: children that nothing reads would be silently ignored.
/// Bad: `delete soft { cascade }`
/// Fix: `delete soft`
pub fn unexpected_children(span: Span, node: &str) -> Diagnostic {
    Diagnostic::error(
        "E0012",
        span,
        format!("`{node}` takes no children block"),
        "unexpected block",
    )
}

/// E0013: a value annotation `(x)` that is not valid here.
///
/// Why: only `(auth)NAME` and `(time)now` are values in conditions, `(time)now` in defaults and
/// `(env)NAME` for the JWT secret; `(param)`, `(input)` and `(record)` belong to views and actions.
/// Bad: `when ownerId eq (user)id`
/// Fix: `when ownerId eq (auth)user-id`
pub fn unknown_annotation(span: Span, ann: &str, context: &str, allowed: &[&str]) -> Diagnostic {
    Diagnostic::error(
        "E0013",
        span,
        format!("`({ann})` is not valid in {context}"),
        "unknown annotation",
    )
    .with_help(format!(
        "expected one of {}",
        allowed
            .iter()
            .map(|a| format!("`({a})`"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// E0014: `jwt` names more than one key source.
///
/// Why: `secret`, `public-key` and `jwks` are alternatives; using two is ambiguous.
/// Bad: `jwt { secret (env)S; jwks "keys.json" }`
/// Fix: `jwt { jwks "keys.json" }`
pub fn conflicting_keys(span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(
        "E0014",
        span,
        "`jwt` has more than one key source",
        "second key source",
    )
    .with_label(first, "first key source")
    .with_help("keep exactly one of `secret`, `public-key` and `jwks`")
}

/// E0015: two templates used by one table both provide the same block.
///
/// Why: which of the two applies would depend on the order of `use` lines.
/// Bad: `use scoped; use open-data` where both templates have `firewall`
/// Fix: write the table's own `firewall` block, or use only one of them
pub fn template_conflict(
    span: Span,
    kind: &str,
    first: &str,
    second: &str,
    first_span: Span,
) -> Diagnostic {
    Diagnostic::error(
        "E0015",
        span,
        format!("templates `{first}` and `{second}` both provide `{kind}`"),
        "second template",
    )
    .with_label(first_span, "first template")
    .with_help(format!(
        "write a `{kind}` block in the table itself, which replaces both"
    ))
}

/// E0020: a name refers to a table that does not exist.
///
/// Why: references and relations must point at a declared table.
/// Bad: `column roomId uuid references=room`
/// Fix: `column roomId uuid references=rooms`
pub fn unknown_table(span: Span, name: &str, help: Option<String>) -> Diagnostic {
    Diagnostic::error(
        "E0020",
        span,
        format!("unknown table `{name}`"),
        "no such table",
    )
    .with_opt_help(help)
}

/// E0021: a name refers to a column that the table does not have.
///
/// Why: scopes, conditions, guards, masks and indexes on a missing column would protect nothing.
/// Bad: `scope orgId (auth)org-id` in a table with `organizationId`
/// Fix: `scope organizationId (auth)org-id`
pub fn unknown_column(span: Span, name: &str, help: Option<String>) -> Diagnostic {
    Diagnostic::error(
        "E0021",
        span,
        format!("unknown column `{name}`"),
        "no such column",
    )
    .with_opt_help(help)
}

/// E0022: a role that is not declared in `auth { roles … }` (nor `public`/`authenticated`).
///
/// Why: an unknown role would never match, or worse, match a token's arbitrary role string.
/// Bad: `list membr+`
/// Fix: `list member+`
pub fn unknown_role(span: Span, name: &str, help: Option<String>) -> Diagnostic {
    Diagnostic::error(
        "E0022",
        span,
        format!("unknown role `{name}`"),
        "not a declared role",
    )
    .with_opt_help(help)
}

/// E0023: `use` names a template that does not exist.
///
/// Why: the table would silently lack the template's firewall or access rules.
/// Bad: `use tenant-scope`
/// Fix: `use tenant-scoped`
pub fn unknown_template(span: Span, name: &str, help: Option<String>) -> Diagnostic {
    Diagnostic::error(
        "E0023",
        span,
        format!("unknown template `{name}`"),
        "no such template",
    )
    .with_opt_help(help)
}

/// E0024: `(auth)NAME` names an auth value that is neither built in nor declared under `claims`.
///
/// Why: a condition on a value no token carries would never hold.
/// Bad: `scope teamId (auth)team`
/// Fix: declare it: `auth { claims { team team_id } }`
pub fn unknown_claim(span: Span, name: &str, help: Option<String>) -> Diagnostic {
    Diagnostic::error(
        "E0024",
        span,
        format!("unknown auth value `{name}`"),
        "not a declared claim",
    )
    .with_help(
        help.unwrap_or_else(|| format!("declare it in `auth {{ claims {{ {name} CLAIM }} }}`")),
    )
}

/// E0025: `protected … { actions X }` names an action that does not exist on this table.
///
/// Why: a protected field is writable only by the listed actions; a missing action means a
/// misconfigured policy.
/// Bad: `protected status { actions archive }` with no `action archive` in the table
/// Fix: declare `action archive { … }` in the table, or write `protected status`
pub fn unknown_action(span: Span, name: &str, table: &str, help: Option<String>) -> Diagnostic {
    Diagnostic::error(
        "E0025",
        span,
        format!("unknown action `{name}` on table `{table}`"),
        "no such action",
    )
    .with_help(help.unwrap_or_else(|| {
        format!("declare `action {name} {{ … }}` in table `{table}`, or drop it from `actions`")
    }))
}

/// E0026: `(auth)roles` is used as a value.
///
/// Why: the roles claim is a list; conditions on roles are written with `role` leaves.
/// Bad: `when owner eq (auth)roles`
/// Fix: `role admin`
pub fn auth_roles_value(span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0026",
        span,
        "`(auth)roles` is not a value",
        "a list of roles",
    )
    .with_help("test roles with a `role` leaf, e.g. `role admin+`")
}

/// E0027: `(param)NAME` names a param that the view does not declare, or one that may be absent.
///
/// Why: a condition on a value that does not exist would match nothing, or everything.
/// Bad: `param minCapacity integer { when capacity gte (param)min }`
/// Fix: `param minCapacity integer { when capacity gte (param)minCapacity }`
pub fn unknown_param(span: Span, name: &str, help: Option<String>) -> Diagnostic {
    Diagnostic::error(
        "E0027",
        span,
        format!("unknown param `{name}`"),
        "no such param here",
    )
    .with_opt_help(help.or_else(|| {
        Some(
            "a param's own block may use it; elsewhere only params with `required=#true` or a `default=`"
                .to_owned(),
        )
    }))
}

/// E0028: `(input)NAME` names an input that the action does not declare.
///
/// Why: a value that never arrives would make the step meaningless.
/// Bad: `update { set notes (input)reasn }`
/// Fix: `update { set notes (input)reason }` with `input reason text`
pub fn unknown_input(span: Span, name: &str, help: Option<String>) -> Diagnostic {
    Diagnostic::error(
        "E0028",
        span,
        format!("unknown input `{name}`"),
        "no such input",
    )
    .with_opt_help(help)
}

/// E0030: a default, bound or `one-of` value whose type does not match the column.
///
/// Why: a value the column can never hold is a bug in the resource file.
/// Bad: `column capacity integer default="ten"`
/// Fix: `column capacity integer default=10`
pub fn literal_type(span: Span, prop: &str, ty: &str, found: &str, hint: &str) -> Diagnostic {
    Diagnostic::error(
        "E0030",
        span,
        format!("`{prop}` of {} column cannot be {found}", a(ty)),
        "type mismatch",
    )
    .with_help(format!("expected {hint}"))
}

/// E0031: a property or child that does not apply to this column's type.
///
/// Why: `min` on text or `pattern` on an integer would be silently meaningless.
/// Bad: `column name text min=3`
/// Fix: `column name text min-length=3`
pub fn property_type(span: Span, prop: &str, ty: &str, allowed_for: &str) -> Diagnostic {
    Diagnostic::error(
        "E0031",
        span,
        format!("`{prop}` does not apply to {} column", a(ty)),
        "not for this type",
    )
    .with_help(format!("`{prop}` is for {allowed_for}"))
}

/// E0032: a condition value whose type does not match the column.
///
/// Why: `capacity gt "big"` can never be evaluated.
/// Bad: `when capacity gt big`
/// Fix: `when capacity gt 10`
pub fn condition_type(span: Span, ty: &str, found: &str, hint: &str) -> Diagnostic {
    Diagnostic::error(
        "E0032",
        span,
        format!("{} column cannot be compared with {found}", a(ty)),
        "type mismatch",
    )
    .with_help(format!("expected {hint}"))
}

/// E0033: an operator that is not valid for the column's type.
///
/// Why: `like` on an integer or `gt` on a boolean has no meaning.
/// Bad: `when done gt #false`
/// Fix: `when done eq #false`
pub fn operator_type(span: Span, op: &str, ty: &str, field: &str) -> Diagnostic {
    Diagnostic::error(
        "E0033",
        span,
        format!("operator `{op}` is not valid for `{field}` ({ty})"),
        "invalid operator",
    )
}

/// E0034: an `(auth)` value compared with a column that is not text or uuid (or with `like`).
///
/// Why: auth values are strings from the token; comparing them with numbers or patterns is a bug.
/// Bad: `when capacity eq (auth)user-id`
/// Fix: `when ownerId eq (auth)user-id`
pub fn auth_non_text(span: Span, name: &str, ty: &str) -> Diagnostic {
    Diagnostic::error(
        "E0034",
        span,
        format!("`(auth){name}` cannot be used with {} column here", a(ty)),
        "auth value",
    )
    .with_help(
        "auth values are compared with text or uuid columns, with `eq`, `ne`, `in` and friends",
    )
}

/// E0035: a `references=` column whose type differs from the target table's id type.
///
/// Why: the foreign key could never hold (uuid → uuid, integer → integer, text → text).
/// Bad: `column roomId text references=rooms` (rooms has `id uuid`)
/// Fix: `column roomId uuid references=rooms`
pub fn reference_type(
    span: Span,
    ty: &str,
    target: &str,
    want: &str,
    target_span: Span,
) -> Diagnostic {
    Diagnostic::error(
        "E0035",
        span,
        format!(
            "{} column cannot reference `{target}`, whose id is {want}",
            a(ty)
        ),
        "column type",
    )
    .with_label(target_span, "referenced here")
    .with_help(format!("declare the column as {want}"))
}

/// E0036: `pattern=` is not a valid regular expression.
///
/// Why: the runtime validates values with it.
/// Bad: `column code text pattern="[A-Z"`
/// Fix: `column code text pattern="[A-Z]+"`
pub fn invalid_pattern(span: Span, msg: &str) -> Diagnostic {
    Diagnostic::error(
        "E0036",
        span,
        "invalid `pattern` regular expression",
        msg.to_owned(),
    )
}

/// E0037: a lower bound above its upper bound (`min`/`max`, `min-length`/`max-length`).
///
/// Why: no value could ever be valid.
/// Bad: `column n integer min=10 max=1`
/// Fix: `column n integer min=1 max=10`
pub fn min_above_max(span: Span, min: &str, max: &str, first: Span) -> Diagnostic {
    Diagnostic::error(
        "E0037",
        span,
        format!("`{min}` is greater than `{max}`"),
        format!("`{max}` here"),
    )
    .with_label(first, format!("`{min}` here"))
}

/// E0038: more than one column of a table has `display=#true`.
///
/// Why: a table has one display column, used for reference labels.
/// Bad: `column name text display=#true; column title text display=#true`
/// Fix: keep `display=#true` on one column
pub fn multiple_display(span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(
        "E0038",
        span,
        "more than one display column",
        "second display column",
    )
    .with_label(first, "first display column")
}

/// E0039: an operator given the wrong number of values.
///
/// Why: `is-null` takes none, `in`/`not-in` at least one, every other operator exactly one.
/// Bad: `when status eq`-less: `when status in`
/// Fix: `when status in active archived`
pub fn value_count(span: Span, op: &str, expected: &str, found: usize) -> Diagnostic {
    Diagnostic::error(
        "E0039",
        span,
        format!("operator `{op}` takes {expected}"),
        format!("{found} value(s) given"),
    )
}

/// E0040: `on-delete=set-null` on a `required=#true` column.
///
/// Why: deleting the target would have to write null into a NOT NULL column.
/// Bad: `column roomId uuid references=rooms on-delete=set-null required=#true`
/// Fix: `on-delete=cascade`, `restrict`, or drop `required=#true`
pub fn set_null_required(span: Span, column: &str) -> Diagnostic {
    Diagnostic::error(
        "E0040",
        span,
        format!("`{column}` is required and cannot be set to null on delete"),
        "set-null",
    )
    .with_help("use `on-delete=restrict` or `cascade`, or make the column optional")
}

/// E0041: a default that is not among the column's `one-of` values.
///
/// Why: every insert relying on the default would fail validation.
/// Bad: `column status text default=open { one-of active archived }`
/// Fix: `column status text default=active { one-of active archived }`
pub fn default_not_in_one_of(span: Span, found: &str) -> Diagnostic {
    Diagnostic::error(
        "E0041",
        span,
        "the default is not one of the allowed values",
        format!("{found} is not in `one-of`"),
    )
}

/// E0044: an access rule without any role.
///
/// Why: a rule with only conditions would apply to anonymous callers: a permissive fallback.
/// Bad: `update { when ownerId eq (auth)user-id }`
/// Fix: `update authenticated { when ownerId eq (auth)user-id }`
pub fn rule_without_role(span: Span, op: &str) -> Diagnostic {
    Diagnostic::error(
        "E0044",
        span,
        format!("the `{op}` rule names no role"),
        "no role",
    )
    .with_help("name who it is for: a role, `authenticated` or `public`")
}

/// E0045: `when` or `check` where it cannot apply.
///
/// Why: `create` has no current row (use `check`); `list`, `read`, `delete` and `restore` have no
/// resulting row (use `when`); `check` must be directly in the rule, not inside `any`/`all`/`not`.
/// Bad: `create member+ { when status eq open }`
/// Fix: `create member+ { check status eq open }`
pub fn misplaced_condition(span: Span, kind: &str, op: &str) -> Diagnostic {
    let help = match (kind, op) {
        ("when", "standalone action") => {
            "a standalone action has no row: its `access` takes roles only".to_owned()
        }
        ("when", _) => "on `create` conditions apply to the incoming row: use `check`".to_owned(),
        (_, "create" | "update") => {
            "write `check` directly in the rule, not inside `any`, `all` or `not`".to_owned()
        }
        _ => format!(
            "`check` applies to the written row of `create` and `update`; on `{op}` use `when`"
        ),
    };
    let article = if op.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    Diagnostic::error(
        "E0045",
        span,
        format!("`{kind}` cannot be used here in {article} `{op}` rule"),
        "misplaced condition",
    )
    .with_help(help)
}

/// E0050: a table without `firewall` (or `firewall none`), neither written nor from a template.
///
/// Why: row isolation must be a decision, never an omission.
/// Bad: `table notes { column body text }`
/// Fix: add `firewall { scope organizationId (auth)org-id }` or `firewall none`
pub fn missing_firewall(span: Span, table: &str) -> Diagnostic {
    Diagnostic::error("E0050", span, format!("table `{table}` has no firewall"), "no `firewall`")
        .with_help("add a `firewall { scope COLUMN (auth)NAME }` block, `use` a template with one, or write `firewall none` for public data")
}

/// E0051: a scope column that is a system column or not of type text or uuid.
///
/// Why: scopes compare a declared column with a string auth value and stamp it on insert.
/// Bad: `scope capacity (auth)org-id`
/// Fix: `scope organizationId (auth)org-id` with `column organizationId text`
pub fn scope_column_type(span: Span, name: &str, what: &str) -> Diagnostic {
    Diagnostic::error(
        "E0051",
        span,
        format!("scope column `{name}` is {what}"),
        "invalid scope column",
    )
    .with_help("a scope column must be a declared text or uuid column")
}

/// E0052: a `firewall` block without any `scope`.
///
/// Why: an empty block looks like isolation but isolates nothing.
/// Bad: `firewall { error-mode reveal }`
/// Fix: `firewall none`, or add a `scope`
pub fn empty_firewall(span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0052",
        span,
        "`firewall` block has no `scope`",
        "isolates nothing",
    )
    .with_help("write `firewall none` for public data, or add `scope COLUMN (auth)NAME`")
}

/// E0053: a scope value that is not `(auth)NAME`.
///
/// Why: a scope isolates rows per caller; a literal would put every caller in the same scope.
/// Bad: `scope organizationId acme`
/// Fix: `scope organizationId (auth)org-id`
pub fn scope_value(span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0053",
        span,
        "a scope value must be `(auth)NAME`",
        "not an auth value",
    )
}

/// E0054: a table grants `create` or `update` but declares no `guards`.
///
/// Why: which fields clients may write must be explicit.
/// Bad: `access { create member+ }` without `guards`
/// Fix: add `guards { createable name }` or `guards open`
pub fn missing_guards(span: Span, table: &str, rule: Span) -> Diagnostic {
    Diagnostic::error(
        "E0054",
        span,
        format!("table `{table}` allows writes but has no `guards`"),
        "no `guards`",
    )
    .with_label(rule, "writes granted here")
    .with_help("add `guards { createable …; updatable … }` or `guards open`")
}

/// E0055: a column listed in both `immutable` and `updatable`.
///
/// Why: immutable means never updatable.
/// Bad: `guards { immutable roomId; updatable roomId }`
/// Fix: `guards { immutable roomId }`
pub fn immutable_updatable(span: Span, name: &str, imm: Span) -> Diagnostic {
    Diagnostic::error(
        "E0055",
        span,
        format!("`{name}` is both immutable and updatable"),
        "updatable here",
    )
    .with_label(imm, "immutable here")
}

/// E0056: a `protected` column also listed as createable, updatable or immutable.
///
/// Why: protected columns are written only by their actions, never by CRUD.
/// Bad: `guards { updatable status; protected status }`
/// Fix: `guards { protected status }`
pub fn protected_writable(span: Span, name: &str, prot: Span) -> Diagnostic {
    Diagnostic::error(
        "E0056",
        span,
        format!("`{name}` is protected and cannot also be written by clients"),
        "listed here",
    )
    .with_label(prot, "protected here")
}

/// E0057: a system or firewall scope column listed in `guards`.
///
/// Why: those columns are stamped by the server and never client-writable.
/// Bad: `guards { createable organizationId }` (a scope column)
/// Fix: remove it from `guards`
pub fn guard_system_column(span: Span, name: &str, why: &str) -> Diagnostic {
    Diagnostic::error(
        "E0057",
        span,
        format!("`{name}` is {why} and can never be written by clients"),
        "server-managed",
    )
    .with_help("remove it from `guards`: the server sets it")
}

/// E0058: `public` access on a firewalled table.
///
/// Why: public callers carry no claims, so a scope can never match them.
/// Bad: `list public` on a table with `scope organizationId (auth)org-id`
/// Fix: `list authenticated`, or `firewall none` for public data
pub fn public_on_firewalled(span: Span, op: &str, table: &str) -> Diagnostic {
    Diagnostic::error(
        "E0058",
        span,
        format!("`{op}` grants `public` on firewalled table `{table}`"),
        "can never match",
    )
    .with_help(
        "public callers have no claims for the firewall scopes; grant `authenticated` or a role",
    )
}

/// E0059: an `owner=` column that is not text or uuid.
///
/// Why: the owner column is compared with the caller's user id.
/// Bad: `mask ssn ssn owner=capacity`
/// Fix: `mask ssn ssn owner=createdBy`
pub fn owner_type(span: Span, name: &str, ty: &str) -> Diagnostic {
    Diagnostic::error(
        "E0059",
        span,
        format!("owner column `{name}` is {ty}, not text or uuid"),
        "not a user id column",
    )
}

/// E0060: `batch max=` outside 1…1000.
///
/// Why: the batch size bounds memory and transaction length.
/// Bad: `batch max=5000`
/// Fix: `batch max=1000`
pub fn batch_max(span: Span, n: i128) -> Diagnostic {
    Diagnostic::error(
        "E0060",
        span,
        format!("`batch max={n}` is outside 1…1000"),
        "out of range",
    )
}

/// E0061: `page default=`/`max=` outside 1…1000, or default above max.
///
/// Why: page sizes bound every list response.
/// Bad: `page default=200 max=100`
/// Fix: `page default=50 max=200`
pub fn page_bounds(span: Span, msg: &str) -> Diagnostic {
    Diagnostic::error(
        "E0061",
        span,
        format!("invalid page size: {msg}"),
        "out of range",
    )
}

/// E0062: a relation whose `via` column does not reference this table.
///
/// Why: `has-many=T via=C` needs `C` in `T` to be a `references=` column pointing back here.
/// Bad: `relation bookings has-many=bookings via=title`
/// Fix: `relation bookings has-many=bookings via=room` with `column room uuid references=rooms`
pub fn relation_via(span: Span, via: &str, target: &str, this: &str, col: Span) -> Diagnostic {
    Diagnostic::error(
        "E0062",
        span,
        format!("`{target}.{via}` does not reference `{this}`"),
        "not a reference back",
    )
    .with_label(col, "declared here")
    .with_help(format!(
        "declare `column {via} … references={this}` in `{target}`"
    ))
}

/// E0063: a column named like a list query parameter.
///
/// Why: `sort`, `order`, `limit`, `offset`, `cursor`, `search`, `fields`, `total`, `expand` and
/// `deleted` are parameters of `GET /api/T`; `?total=…` could not filter on a column `total`.
/// Bad: `column total integer`
/// Fix: `column totalAmount integer`
pub fn reserved_column(span: Span, name: &str) -> Diagnostic {
    Diagnostic::error(
        "E0063",
        span,
        format!("`{name}` is a list query parameter and cannot name a column"),
        "reserved",
    )
    .with_help(format!(
        "`?{name}=` is a list parameter, so a filter on this column could not be written; rename the column"
    ))
}

/// E0064: a view's `sort`, `filterable`, `sortable` or `searchable` column, or one a `param`
/// compares, that is not among its `fields`.
///
/// Why: filtering or sorting on a column the view does not show would reveal its values anyway
/// (a page's cursor carries the sort values of its last row; a param's value is the client's).
/// Bad: `fields id name` with `filterable status`
/// Fix: `fields id name status` with `filterable status`
pub fn view_list_outside_fields(span: Span, list: &str, column: &str, view: &str) -> Diagnostic {
    Diagnostic::error(
        "E0064",
        span,
        format!("view `{view}` names `{column}` in `{list}` but not in `fields`"),
        "not in `fields`",
    )
    .with_help(format!(
        "add `{column}` to the view's `fields`, or drop it here"
    ))
}

/// E0065: a view param whose name is taken by a list parameter or a filterable column.
///
/// Why: `?NAME=` must mean one thing; the name alone decides what a query parameter is.
/// Bad: `param limit integer` or `param status text` with `filterable status`
/// Fix: `param maxRows integer`
pub fn param_name_taken(span: Span, name: &str, by: &str) -> Diagnostic {
    Diagnostic::error(
        "E0065",
        span,
        format!("param `{name}` is named like {by}"),
        "name taken",
    )
    .with_help("rename the param")
}

/// E0066: a view param that is both `required=#true` and has a `default=`.
///
/// Why: a default would never be used; one of the two is a mistake.
/// Bad: `param status text required=#true default=active`
/// Fix: `param status text default=active`
pub fn param_required_default(span: Span, name: &str) -> Diagnostic {
    Diagnostic::error(
        "E0066",
        span,
        format!("param `{name}` is required and has a default"),
        "both",
    )
    .with_help(
        "drop `required=#true` (the default applies when the param is absent) or the default",
    )
}

/// E0067: an action that writes a system column or a firewall scope column.
///
/// Why: audit and scope columns are stamped by the server; an action setting them could move a
/// row to another tenant or forge its history.
/// Bad: `update { set organizationId (input)org }`
/// Fix: remove the assignment
pub fn action_writes_managed(span: Span, who: &str, column: &str) -> Diagnostic {
    Diagnostic::error(
        "E0067",
        span,
        format!("{who} writes `{column}`, which the server manages"),
        "server-managed",
    )
    .with_help("system and firewall scope columns are never written by actions or triggers")
}

/// E0068: an action that writes a `protected` column without being listed for it.
///
/// Why: `protected status { actions archive reopen }` names exactly who may change the column.
/// Bad: `action close { transition status { from open; to closed } }` with `protected status { actions archive }`
/// Fix: `protected status { actions archive close }`
pub fn action_writes_protected(
    span: Span,
    who: &str,
    action: Option<&str>,
    column: &str,
) -> Diagnostic {
    let help = match action {
        Some(action) => {
            format!("add `{action}` to `protected {column} {{ actions … }}` in `guards`")
        }
        None => format!(
            "only the actions listed in `protected {column} {{ actions … }}` may write it; move this write into one of them"
        ),
    };
    Diagnostic::error(
        "E0068",
        span,
        format!("{who} writes protected column `{column}` but is not listed for it"),
        "not listed",
    )
    .with_help(help)
}

/// E0069: a `require` step without a usable `error CODE status=N message="…"`.
///
/// Why: a failed requirement must answer something the client can act on; custom errors are
/// client errors (4xx).
/// Bad: `require { when capacity gt 0 }`
/// Fix: `require { when capacity gt 0; error ROOM_CLOSED status=409 message="Room is closed" }`
pub fn require_error(span: Span, why: &str) -> Diagnostic {
    Diagnostic::error(
        "E0069",
        span,
        format!("this `require` cannot answer: {why}"),
        "no error",
    )
    .with_help("write `error CODE status=4xx message=\"…\"` inside the `require` block")
}

/// E0070: a step that needs the action's row, in a standalone action.
///
/// Why: a standalone action (`/api/actions/A`) has no row: `transition`, `update`, `if`,
/// `return record` and `when` in `require` have nothing to act on.
/// Bad: `action close { transition status { from open; to closed } }` at the top level
/// Fix: declare it inside the table: `table rooms { action close { … } }`
pub fn needs_row(span: Span, what: &str) -> Diagnostic {
    Diagnostic::error(
        "E0070",
        span,
        format!("`{what}` needs a row, and a standalone action has none"),
        "no row here",
    )
    .with_help("declare the action inside its table (`POST /api/T/{id}/A`) to act on a row")
}

/// E0071: an `insert` into a table whose ids are client-supplied (`id text`).
///
/// Why: `id` is a system column no action may set, so every such insert would fail.
/// Bad: `insert labels { set name (input)name }` with `table labels { id text … }`
/// Fix: give the table `id uuid` (or `id integer`), or create its rows through `POST /api/labels`
pub fn insert_needs_id(span: Span, table: &str) -> Diagnostic {
    Diagnostic::error(
        "E0071",
        span,
        format!("`{table}` takes client-supplied ids, which an action cannot set"),
        "id text",
    )
    .with_help("actions insert only into tables with `id uuid` or `id integer`")
}

/// E0072: `return inserted` in an action without an `insert` step.
///
/// Why: there is nothing to return; the answer would always be `null`.
/// Bad: `action ping { access member; return inserted }`
/// Fix: `return { field ok #true }`, or add the `insert` step
pub fn nothing_inserted(span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0072",
        span,
        "`return inserted`, but this action inserts nothing",
        "nothing inserted",
    )
    .with_help("add an `insert TABLE { … }` step before it, or return something else")
}

/// E0073: a `query` step's `limit` outside 1…1000.
///
/// Why: a query's rows are held in memory and returned in one answer.
/// Bad: `query rooms rooms { limit 5000 }`
/// Fix: `query rooms rooms { limit 1000 }`
pub fn query_limit(span: Span, n: i128) -> Diagnostic {
    Diagnostic::error(
        "E0073",
        span,
        format!("`limit {n}` is outside 1…1000"),
        "out of range",
    )
}

/// E0074: `return NAME` where no `query NAME …` step exists.
///
/// Why: the answer would name rows nothing selects.
/// Bad: `query open rooms { … }` then `return opne`
/// Fix: `return open`
pub fn unknown_query(span: Span, name: &str, help: Option<String>) -> Diagnostic {
    let d = Diagnostic::error(
        "E0074",
        span,
        format!("no `query {name}` step to return"),
        "unknown query",
    );
    match help {
        Some(h) => d.with_help(h),
        None => d.with_help(
            "`return` takes `record`, `inserted`, `{ field … }` or the name of a `query` step",
        ),
    }
}

/// E0075: a step a trigger cannot run: `return`, `transition`, or `update`/`delete` of its own
/// row.
///
/// Why: a trigger runs inside the request's own write, which decides the answer and the row.
/// Bad: `on update during { update { set notes "x" } }`
/// Fix: `on update during { update rooms { set notes "x"; when id eq (record)id } }`, or an action
pub fn not_in_trigger(span: Span, step: &str) -> Diagnostic {
    let help = match step {
        "return" => "a trigger cannot change the response; remove the `return`".to_owned(),
        "transition" => {
            "transitions are actions: declare `action NAME { transition … }`".to_owned()
        }
        _ => format!("name the table and the rows: `{step} TABLE {{ when id eq (record)id }}`"),
    };
    Diagnostic::error(
        "E0075",
        span,
        format!("`{step}` is not allowed in a trigger"),
        "not in a trigger",
    )
    .with_help(help)
}

/// E0076: a CORS origin that no browser would ever send.
///
/// Why: browsers send `Origin: scheme://host[:port]` and CORS compares it exactly; an origin with a
/// path, a trailing slash, a wildcard inside a host or another scheme would silently allow nothing.
/// Bad: `server { cors "https://app.example.com/" }`
/// Fix: `server { cors "https://app.example.com" }` (or `"*"` for any origin)
pub fn invalid_origin(span: Span, origin: &str, why: &str) -> Diagnostic {
    Diagnostic::error(
        "E0076",
        span,
        format!("`{origin}` is not a browser origin"),
        "not `scheme://host[:port]`",
    )
    .with_help(why.to_owned())
}

/// E0077: a server setting whose value the server could not use.
///
/// Why: a timeout of zero or of days, a cap of no connections, or a durability mode SQLite does
/// not have would leave the server open to the abuse the limit exists for, or unable to serve;
/// `operators public` would open the console, which describes the whole project, to anyone.
/// Bad: `server { header-timeout "10" }`
/// Fix: `server { header-timeout "10s" }` (durations end in `ms`, `s` or `m`)
pub fn invalid_server_limit(span: Span, name: &str, why: &str) -> Diagnostic {
    Diagnostic::error(
        "E0077",
        span,
        format!("`{name}` cannot be this value"),
        "not usable here",
    )
    .with_help(why.to_owned())
}

/// E0078: a `history` setting ward cannot keep.
///
/// Why: a version must keep what decides who may read it (the id, the stamps, the firewall's
/// scope columns), and a retention must be a whole number of days.
/// Bad: `history { keep "3 months"; exclude orgId; }` on a table scoped by `orgId`
/// Fix: `history { keep "90d"; exclude notes; }`
pub fn invalid_history(span: Span, msg: &str, help: &str) -> Diagnostic {
    Diagnostic::error(
        "E0078",
        span,
        msg.to_owned(),
        "not a usable history setting",
    )
    .with_help(help.to_owned())
}

/// E0079: a `file` column setting ward cannot use, or a file setting on another type.
///
/// Why: uploads are refused past `max-size` and typed by their content against `types`, so
/// both must say something ward can measure and recognise.
/// Bad: `column avatar file max-size="big" types="png"`
/// Fix: `column avatar file max-size="5MB" types="image/png,image/jpeg"`
pub fn invalid_file_setting(span: Span, msg: &str, help: &str) -> Diagnostic {
    Diagnostic::error("E0079", span, msg.to_owned(), "not a usable file setting")
        .with_help(help.to_owned())
}

/// E0080: a `storage` setting that names no usable store.
///
/// Why: file columns keep their bytes there; an S3 store needs a bucket, and each kind takes
/// its own settings only.
/// Bad: `storage s3 endpoint="http://127.0.0.1:9000"`
/// Fix: `storage s3 bucket="uploads" endpoint="http://127.0.0.1:9000" region="us-east-1"`
pub fn invalid_storage(span: Span, msg: &str, help: &str) -> Diagnostic {
    Diagnostic::error(
        "E0080",
        span,
        msg.to_owned(),
        "not a usable storage setting",
    )
    .with_help(help.to_owned())
}

/// W0001: a sensitive-looking column without `mask` or `unmasked` was masked automatically.
///
/// Why: columns named like emails, phones, secrets or tokens are masked by default.
/// Bad: `column contactEmail text` with no masking entry
/// Fix: `masking { mask contactEmail email show=member+ }` or `masking { unmasked contactEmail }`
pub fn auto_masked(span: Span, name: &str, kind: &str, show: Option<&str>) -> Diagnostic {
    let who = show.map_or("everyone".to_owned(), |r| format!("everyone except `{r}`"));
    Diagnostic::warning(
        "W0001",
        span,
        format!("column `{name}` is masked automatically ({kind}, for {who})"),
        "auto-masked",
    )
    .with_help(format!(
        "say what you want: `mask {name} {kind} show=ROLE` or `unmasked {name}` in `masking`"
    ))
}

/// W0002: a declared role that no access rule grants anything.
///
/// Why: often a typo or a forgotten rule.
/// Bad: `roles viewer member` with no rule mentioning `viewer`
/// Fix: grant it something, or remove it
pub fn role_never_granted(span: Span, role: &str) -> Diagnostic {
    Diagnostic::warning(
        "W0002",
        span,
        format!("role `{role}` is never granted anything"),
        "unused role",
    )
}

/// W0003: a table that no role can list or read.
///
/// Why: its rows can never be seen through the API.
/// Bad: `table logs { firewall none }` without `access`
/// Fix: `access { read admin }`
pub fn unreadable_table(span: Span, name: &str) -> Diagnostic {
    Diagnostic::warning(
        "W0003",
        span,
        format!("no role can list or read table `{name}`"),
        "unreadable",
    )
}

/// W0004: an access branch made unreachable by another branch of the same `any`.
///
/// Why: a branch requiring roles that another branch grants unconditionally adds nothing; its
/// conditions are probably meant to restrict those roles.
/// Bad: `any { role member+; all { role admin; when locked eq #false } }`
/// Fix: `any { role owner; all { role member admin; when locked eq #false } }`
pub fn unreachable_branch(span: Span, other: Span) -> Diagnostic {
    Diagnostic::warning(
        "W0004",
        span,
        "this branch is unreachable",
        "never decides anything",
    )
    .with_label(other, "already granted by this branch")
}

/// W0005: a cycle of `on-delete=cascade` references.
///
/// Why: deleting one row may cascade around the cycle and delete far more than intended.
/// Bad: `a.b references=b on-delete=cascade` and `b.a references=a on-delete=cascade`
/// Fix: make one side `restrict` or `set-null`
pub fn cascade_cycle(span: Span, members: &str) -> Diagnostic {
    Diagnostic::warning(
        "W0005",
        span,
        format!("cascading delete cycle: {members}"),
        "cascade",
    )
}

/// W0006: a view whose `access` admits callers, or rows, that the table's `list` rule does not.
///
/// Why: a view is meant to narrow; one that widens must say so, so that a reviewer sees it.
/// Bad: `view summary { access viewer+ }` on a table with `list member+`
/// Fix: `view summary { access viewer+ widens=#true }`
pub fn view_widens(span: Span, view: &str, who: &str) -> Diagnostic {
    Diagnostic::warning(
        "W0006",
        span,
        format!("view `{view}` lets {who} see more than the table's `list` rule"),
        "wider than `list`",
    )
    .with_help(
        "if that is intended, say so with `widens=#true`; otherwise narrow the view's `access`",
    )
}

/// W0008: `exists` or `query` compares a masked column of its table with an action input.
///
/// Why: whether the row exists (or comes back) answers the caller, so trying values of the input
/// reveals the masked column's values — the probing that masking forbids in filters and view
/// params.
/// Bad: `require { exists rooms { when accessCode eq (input)code }; error NO status=404 }`
/// Fix: compare a column the caller may see, or unmask the column (`unmasked accessCode`) if it
/// is not secret after all
pub fn masked_probe(span: Span, who: &str, column: &str, table: &str) -> Diagnostic {
    Diagnostic::warning(
        "W0008",
        span,
        format!("{who} compares masked `{column}` of `{table}` with an input"),
        "a value oracle",
    )
    .with_help(format!(
        "a caller can try values of the input to learn `{column}`; compare a column they may see"
    ))
}

/// W0007: an action copies a masked column of its row into a column that is not masked.
///
/// Why: the value would be readable unmasked in its new place, by callers the mask hides it from.
/// Bad: `update { set notes (record)ssn }` with `mask ssn ssn show=admin`
/// Fix: mask the target column too, or do not copy the value
pub fn masked_copy(span: Span, who: &str, source: &str, target: &str) -> Diagnostic {
    Diagnostic::warning(
        "W0007",
        span,
        format!("{who} copies masked `{source}` into unmasked `{target}`"),
        "unmasks a value",
    )
    .with_help(format!(
        "mask `{target}` as well, or do not copy `{source}`"
    ))
}

/// W0009: a table-wide unique constraint on a firewalled table.
///
/// Why: a create or update that meets another tenant's value answers 409, so any caller can learn
/// which values other tenants hold, and take a value before its owner does. Plain `unique=#true`
/// holds within the row's scope, where every conflicting row is one the caller could see.
/// Bad: `column slug text unique=global` on a table with `firewall { scope orgId (auth)org-id }`
/// Fix: `column slug text unique=#true` (unique within each organization)
pub fn global_unique(span: Span, table: &str, columns: &str) -> Diagnostic {
    Diagnostic::warning(
        "W0009",
        span,
        format!("unique `{columns}` of firewalled `{table}` holds across tenants"),
        "an existence oracle",
    )
    .with_help(
        "any caller can learn whether another tenant holds a value (409); drop `global` to keep it unique within the scope",
    )
}

/// W0010: client-chosen ids on a firewalled table.
///
/// Why: ids are unique table-wide, so a create with another tenant's id answers 409: any caller
/// can learn which ids other tenants use, and take an id before its owner does.
/// Bad: `id text` on a table with `firewall { scope orgId (auth)org-id }`
/// Fix: `id uuid` (server-generated), with the client's key in a `unique=#true` column
pub fn global_text_id(span: Span, table: &str) -> Diagnostic {
    Diagnostic::warning(
        "W0010",
        span,
        format!("client-chosen ids of firewalled `{table}` are unique across tenants"),
        "an existence oracle",
    )
    .with_help(
        "any caller can learn whether another tenant uses an id (409); use `id uuid` and keep the client's key in a `unique=#true` column",
    )
}
