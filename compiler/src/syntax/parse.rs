//! KDL text → typed AST: the top level, `auth`, `template`, `table` and `column`.
//!
//! Reports syntax and shape errors only; it never resolves a name.

use kdl::{KdlDocument, KdlNode, KdlValue};
use ward_ir::{ColumnType, IdKind, JwtAlgorithm, OnDelete};

use super::ast::{
    Auth, Column, HistoryAst, IndexAst, Jwt, JwtKeyAst, LimitValue, PageAst, Project, Relation,
    ServerAst, Table, Template, Uniqueness,
};
use super::reader::{Reader, args, children};
use crate::diagnostics::{Diags, Span, codes};

pub const COLUMN_TYPES: &[(&str, ColumnType)] = &[
    ("text", ColumnType::Text),
    ("integer", ColumnType::Integer),
    ("float", ColumnType::Float),
    ("boolean", ColumnType::Boolean),
    ("datetime", ColumnType::Datetime),
    ("date", ColumnType::Date),
    ("uuid", ColumnType::Uuid),
    ("json", ColumnType::Json),
    ("file", ColumnType::File),
];

const COLUMN_PROPS: &[&str] = &[
    "required",
    "default",
    "unique",
    "min",
    "max",
    "min-length",
    "max-length",
    "pattern",
    "references",
    "on-delete",
    "searchable",
    "display",
    "index",
    "was",
    "description",
    "max-size",
    "types",
];

const TABLE_NODES: &[&str] = &[
    "use",
    "id",
    "column",
    "relation",
    "firewall",
    "access",
    "guards",
    "masking",
    "delete",
    "batch",
    "page",
    "history",
    "realtime",
    "view",
    "action",
    "on",
    "index",
    "unique",
    "description",
];

/// Parse one file into `project`, reporting every syntax and shape error.
pub fn parse_file(file: usize, text: &str, diags: &mut Diags, project: &mut Project) {
    let doc = match KdlDocument::parse_v2(text) {
        Ok(doc) => doc,
        Err(err) => {
            if err.diagnostics.is_empty() {
                diags.push(codes::syntax(
                    Span::new(file, 0, 0),
                    "invalid KDL document",
                    "here",
                    None,
                ));
            }
            for d in err.diagnostics {
                let span = Span::new(file, d.span.offset(), d.span.len());
                let message = d.message.unwrap_or_else(|| "invalid KDL".to_owned());
                let label = d.label.unwrap_or_else(|| "here".to_owned());
                diags.push(codes::syntax(span, &message, &label, d.help));
            }
            return;
        }
    };
    let mut r = Reader { file, diags };
    for node in doc.nodes() {
        match r.name(node) {
            "auth" => {
                if let Some(a) = auth(&mut r, node) {
                    project.auths.push(a);
                }
            }
            "template" => {
                if let Some(t) = template(&mut r, node) {
                    project.templates.push(t);
                }
            }
            "table" => {
                if let Some(t) = table(&mut r, node) {
                    project.tables.push(t);
                }
            }
            "action" => {
                if let Some(a) = super::action::action(&mut r, node, true) {
                    project.actions.push(a);
                }
            }
            "server" => project.servers.push(server(&mut r, node)),
            other => {
                let d = codes::unknown_node(
                    r.name_span(node),
                    other,
                    "the top level",
                    &["auth", "template", "table", "action", "server"],
                );
                r.diags.push(d);
            }
        }
    }
}

/// What a `server` block may hold.
const SERVER_NODES: &[&str] = &[
    "cors",
    "request-timeout",
    "header-timeout",
    "body-timeout",
    "max-connections",
    "body-memory-mib",
    "failed-auth-rate",
    "rate-limit",
    "sqlite-sync",
    "storage",
    "operators",
];

/// Where file columns keep their bytes.
const STORAGE_KINDS: &[(&str, &str)] = &[("local", "local"), ("s3", "s3")];

/// What a `rate-limit` counts by.
const RATE_LIMIT_KINDS: &[(&str, &str)] = &[("ip", "ip"), ("subject", "subject")];

fn server(r: &mut Reader, n: &KdlNode) -> ServerAst {
    r.check_props(n, &[]);
    r.arg_count(n, 0, Some(0), "no arguments");
    let mut out = ServerAst {
        span: r.name_span(n),
        cors: Vec::new(),
        limits: Vec::new(),
        storage: None,
        operators: Vec::new(),
    };
    let mut seen = Vec::new();
    for c in children(n) {
        match r.name(c) {
            "storage" => {
                r.check_props(c, &["path", "bucket", "endpoint", "region", "prefix"]);
                r.no_children(c);
                if r.once(c, &mut seen)
                    && r.arg_count(c, 1, Some(1), "`local` or `s3`")
                    && let Some(kind) = args(c)
                        .first()
                        .and_then(|e| r.keyword(e, "`local` or `s3`", STORAGE_KINDS))
                {
                    out.storage = storage(r, c, kind);
                }
            }
            "operators" => {
                r.check_props(c, &[]);
                r.no_children(c);
                if r.once(c, &mut seen) && r.arg_count(c, 1, None, "at least one role") {
                    out.operators = r.role_refs(args(c));
                }
            }
            "cors" => {
                r.check_props(c, &[]);
                r.no_children(c);
                if r.once(c, &mut seen) && r.arg_count(c, 1, None, "at least one origin") {
                    out.cors = args(c)
                        .into_iter()
                        .filter_map(|e| r.string(e, "an origin"))
                        .collect();
                }
            }
            name @ ("request-timeout" | "header-timeout" | "body-timeout" | "sqlite-sync") => {
                r.check_props(c, &[]);
                r.no_children(c);
                if r.once(c, &mut seen)
                    && r.arg_count(c, 1, Some(1), "one value")
                    && let Some((text, span)) = args(c).first().and_then(|e| r.string(e, "a value"))
                {
                    out.limits
                        .push((name.to_owned(), LimitValue::Text(text), span));
                }
            }
            name @ ("max-connections" | "body-memory-mib") => {
                r.check_props(c, &[]);
                r.no_children(c);
                if r.once(c, &mut seen)
                    && r.arg_count(c, 1, Some(1), "one integer")
                    && let Some((n, span)) = args(c).first().and_then(|e| r.int(e))
                {
                    out.limits
                        .push((name.to_owned(), LimitValue::Integer(n), span));
                }
            }
            "failed-auth-rate" => {
                r.check_props(c, &["burst"]);
                r.no_children(c);
                let burst = r.prop_int(c, "burst").map(|(b, _)| b);
                if r.once(c, &mut seen)
                    && r.arg_count(c, 1, Some(1), "refusals per second")
                    && let Some((n, span)) = args(c).first().and_then(|e| r.int(e))
                {
                    out.limits.push((
                        "failed-auth-rate".to_owned(),
                        LimitValue::Rate(n, burst),
                        span,
                    ));
                }
            }
            "rate-limit" => {
                r.check_props(c, &["burst"]);
                r.no_children(c);
                let burst = r.prop_int(c, "burst").map(|(b, _)| b);
                if r.arg_count(c, 2, Some(2), "`ip` or `subject`, then requests per second")
                    && let [kind, rate] = args(c)[..]
                    && let Some(kind) = r.keyword(kind, "`ip` or `subject`", RATE_LIMIT_KINDS)
                    && let Some((n, span)) = r.int(rate)
                {
                    let name = format!("rate-limit {kind}");
                    if let Some((_, _, first)) = out.limits.iter().find(|l| l.0 == name) {
                        r.diags
                            .push(codes::duplicate_node(r.name_span(c), &name, *first));
                    } else {
                        out.limits.push((name, LimitValue::Rate(n, burst), span));
                    }
                }
            }
            other => {
                let d = codes::unknown_node(r.name_span(c), other, "`server`", SERVER_NODES);
                r.diags.push(d);
            }
        }
    }
    out
}

/// `storage local [path=DIR]` or `storage s3 bucket=NAME [endpoint=URL] [region=R] [prefix=P]`.
fn storage(r: &mut Reader, n: &KdlNode, kind: &str) -> Option<ward_ir::Storage> {
    let text = |r: &mut Reader, key: &str| r.prop_str(n, key, "a string");
    if kind == "local" {
        for key in ["bucket", "endpoint", "region", "prefix"] {
            if let Some((_, span)) = text(r, key) {
                r.diags.push(codes::invalid_storage(
                    span,
                    &format!("`{key}` is a setting of `storage s3`"),
                    "`storage local` takes `path=` only",
                ));
            }
        }
        let path = text(r, "path").map_or_else(|| ".ward/files".to_owned(), |p| p.0);
        return Some(ward_ir::Storage::Local { path });
    }
    if let Some((_, span)) = text(r, "path") {
        r.diags.push(codes::invalid_storage(
            span,
            "`path` is a setting of `storage local`",
            "name the bucket with `bucket=`, and a folder in it with `prefix=`",
        ));
    }
    let Some((bucket, _)) = text(r, "bucket") else {
        r.diags.push(codes::invalid_storage(
            r.name_span(n),
            "`storage s3` needs `bucket=`",
            "`storage s3 bucket=\"uploads\" endpoint=\"http://127.0.0.1:9000\" region=\"us-east-1\"`",
        ));
        return None;
    };
    Some(ward_ir::Storage::S3 {
        bucket,
        endpoint: text(r, "endpoint").map(|e| e.0),
        region: text(r, "region").map(|e| e.0),
        prefix: text(r, "prefix").map(|e| e.0),
    })
}

fn auth(r: &mut Reader, n: &KdlNode) -> Option<Auth> {
    r.check_props(n, &[]);
    r.arg_count(n, 0, Some(0), "no arguments");
    let mut out = Auth {
        span: r.name_span(n),
        roles: Vec::new(),
        jwt: None,
        claims: Vec::new(),
    };
    let mut seen = Vec::new();
    for c in children(n) {
        match r.name(c) {
            "roles" => {
                r.check_props(c, &[]);
                r.no_children(c);
                if r.once(c, &mut seen) && r.arg_count(c, 1, None, "at least one role") {
                    out.roles = r.idents(c, "a role name", true);
                }
            }
            "jwt" => {
                r.check_props(c, &[]);
                r.arg_count(c, 0, Some(0), "no arguments");
                if r.once(c, &mut seen) {
                    out.jwt = Some(jwt(r, c));
                }
            }
            "claims" => {
                r.check_props(c, &[]);
                r.arg_count(c, 0, Some(0), "no arguments");
                if r.once(c, &mut seen) {
                    for cl in children(c) {
                        r.check_props(cl, &[]);
                        r.no_children(cl);
                        if !r.arg_count(cl, 1, Some(1), "one claim name") {
                            continue;
                        }
                        let name = super::ast::Ident {
                            name: r.name(cl).to_owned(),
                            span: r.name_span(cl),
                        };
                        if !super::reader::is_ident(&name.name, true) {
                            r.diags.push(codes::invalid_identifier(
                                name.span,
                                "an auth value name",
                                &name.name,
                                true,
                            ));
                            continue;
                        }
                        let claim = args(cl).first().and_then(|e| r.string(e, "a claim name"));
                        if let Some((claim, span)) = claim {
                            out.claims
                                .push((name, super::ast::Ident { name: claim, span }));
                        }
                    }
                }
            }
            other => {
                let d = codes::unknown_node(
                    r.name_span(c),
                    other,
                    "`auth`",
                    &["roles", "jwt", "claims"],
                );
                r.diags.push(d);
            }
        }
    }
    Some(out)
}

fn jwt(r: &mut Reader, n: &KdlNode) -> Jwt {
    let mut out = Jwt::default();
    let mut seen = Vec::new();
    for c in children(n) {
        let name = r.name(c);
        let span = r.name_span(c);
        let props: &[&str] = if name == "public-key" {
            &["algorithm"]
        } else {
            &[]
        };
        r.check_props(c, props);
        r.no_children(c);
        if !["secret", "public-key", "jwks", "issuer", "audience"].contains(&name) {
            let d = codes::unknown_node(
                span,
                name,
                "`jwt`",
                &["secret", "public-key", "jwks", "issuer", "audience"],
            );
            r.diags.push(d);
            continue;
        }
        if !r.once(c, &mut seen) || !r.arg_count(c, 1, Some(1), "one argument") {
            continue;
        }
        let Some(arg) = args(c).first().copied() else {
            continue;
        };
        match name {
            "secret" => {
                let v = r.val(arg);
                match (&v.raw, &v.ann) {
                    (super::ast::Raw::Str(s), Some(a)) if a.name == "env" => {
                        out.keys.push((JwtKeyAst::Secret(s.clone()), span));
                    }
                    _ => r.diags.push(
                        codes::arg_type(v.span, "an environment variable name, written `(env)NAME`", &v.raw.describe())
                            .with_help("never write a secret into a resource file: `secret (env)WARD_JWT_SECRET`"),
                    ),
                }
            }
            "public-key" => {
                let algorithm = match r.prop(c, "algorithm") {
                    Some(e) => r.keyword(
                        e,
                        "a JWT algorithm",
                        &[
                            ("RS256", JwtAlgorithm::RS256),
                            ("ES256", JwtAlgorithm::ES256),
                            ("EdDSA", JwtAlgorithm::EdDSA),
                        ],
                    ),
                    None => Some(JwtAlgorithm::RS256),
                };
                if let (Some((path, _)), Some(algorithm)) =
                    (r.string(arg, "a file path"), algorithm)
                {
                    out.keys
                        .push((JwtKeyAst::PublicKey { path, algorithm }, span));
                }
            }
            "jwks" => {
                if let Some((path, _)) = r.string(arg, "a file path") {
                    out.keys.push((JwtKeyAst::Jwks(path), span));
                }
            }
            "issuer" => out.issuer = r.string(arg, "a string").map(|s| s.0),
            _ => out.audience = r.string(arg, "a string").map(|s| s.0),
        }
    }
    out
}

fn template(r: &mut Reader, n: &KdlNode) -> Option<Template> {
    r.check_props(n, &[]);
    if !r.arg_count(n, 1, Some(1), "one template name") {
        return None;
    }
    let name = r.ident(args(n).first()?, "a template name", true)?;
    let mut blocks = super::ast::Blocks::default();
    let mut seen = Vec::new();
    for c in children(n) {
        if !super::policy::block(r, c, &mut blocks, &mut seen) {
            let d = codes::unknown_node(
                r.name_span(c),
                r.name(c),
                "`template`",
                &["firewall", "access", "guards", "masking", "delete", "batch"],
            );
            r.diags.push(d);
        }
    }
    Some(Template { name, blocks })
}

fn table(r: &mut Reader, n: &KdlNode) -> Option<Table> {
    r.check_props(n, &[]);
    if !r.arg_count(n, 1, Some(1), "one table name") {
        return None;
    }
    let name = r.ident(args(n).first()?, "a table name", false)?;
    let mut t = Table {
        name,
        uses: Vec::new(),
        id: None,
        columns: Vec::new(),
        relations: Vec::new(),
        indexes: Vec::new(),
        page: None,
        history: None,
        realtime: None,
        description: None,
        blocks: super::ast::Blocks::default(),
        views: Vec::new(),
        actions: Vec::new(),
        triggers: Vec::new(),
    };
    let mut seen = Vec::new();
    for c in children(n) {
        if super::policy::block(r, c, &mut t.blocks, &mut seen) {
            continue;
        }
        let cname = r.name(c);
        match cname {
            "use" => {
                r.check_props(c, &[]);
                r.no_children(c);
                if r.arg_count(c, 1, None, "at least one template name") {
                    let uses = r.idents(c, "a template name", true);
                    t.uses.extend(uses);
                }
            }
            "id" => {
                r.check_props(c, &[]);
                r.no_children(c);
                if r.once(c, &mut seen) && r.arg_count(c, 1, Some(1), "one id kind") {
                    let kinds = [
                        ("uuid", IdKind::Uuid),
                        ("integer", IdKind::Integer),
                        ("text", IdKind::Text),
                    ];
                    if let Some(e) = args(c).first()
                        && let Some(k) = r.keyword(e, "an id kind", &kinds)
                    {
                        t.id = Some((k, r.sp(e.span())));
                    }
                }
            }
            "column" => {
                if let Some(col) = column(r, c) {
                    t.columns.push(col);
                }
            }
            "relation" => {
                r.check_props(c, &["has-many", "via"]);
                r.no_children(c);
                if !r.arg_count(c, 1, Some(1), "one relation name") {
                    continue;
                }
                let Some(name) = args(c)
                    .first()
                    .and_then(|e| r.ident(e, "a relation name", false))
                else {
                    continue;
                };
                if r.prop(c, "has-many").is_none() || r.prop(c, "via").is_none() {
                    let d = codes::arg_count(
                        r.name_span(c),
                        "relation",
                        "`has-many=TABLE` and `via=COLUMN`",
                        0,
                    );
                    r.diags.push(d);
                    continue;
                }
                let table = r.prop_ident(c, "has-many", "a table name", false);
                let via = r.prop_ident(c, "via", "a column name", false);
                t.relations.push(Relation { name, table, via });
            }
            "index" | "unique" => {
                let unique = cname == "unique";
                r.check_props(c, if unique { &["global"] } else { &[] });
                r.no_children(c);
                if r.arg_count(c, 1, None, "at least one column") {
                    let columns = r.idents(c, "a column name", false);
                    let global = unique && r.prop_bool(c, "global").is_some_and(|(b, _)| b);
                    t.indexes.push(IndexAst {
                        span: r.name_span(c),
                        columns,
                        unique,
                        global,
                    });
                }
            }
            "page" => {
                r.check_props(c, &["default", "max"]);
                r.no_children(c);
                r.arg_count(c, 0, Some(0), "no arguments (use `default=` and `max=`)");
                if r.once(c, &mut seen) {
                    let default = r.prop_int(c, "default");
                    let max = r.prop_int(c, "max");
                    t.page = Some(PageAst {
                        span: r.name_span(c),
                        default,
                        max,
                    });
                }
            }
            "history" => {
                if r.once(c, &mut seen) {
                    t.history = history(r, c);
                }
            }
            "realtime" => {
                if r.once(c, &mut seen) {
                    t.realtime = switch(r, c);
                }
            }
            "description" => {
                r.check_props(c, &[]);
                r.no_children(c);
                if r.once(c, &mut seen) && r.arg_count(c, 1, Some(1), "one string") {
                    t.description = args(c)
                        .first()
                        .and_then(|e| r.string(e, "a string"))
                        .map(|s| s.0);
                }
            }
            "view" => {
                if let Some(v) = super::view::view(r, c) {
                    t.views.push(v);
                }
            }
            "action" => {
                if let Some(a) = super::action::action(r, c, false) {
                    t.actions.push(a);
                }
            }
            "on" => t.triggers.extend(super::action::trigger(r, c)),
            other => {
                let d = codes::unknown_node(r.name_span(c), other, "`table`", TABLE_NODES);
                r.diags.push(d);
            }
        }
    }
    Some(t)
}

/// `NODE #true|#false`: the value, or `None` (reported) when the node says something else.
fn switch(r: &mut Reader, n: &KdlNode) -> Option<(bool, Span)> {
    r.check_props(n, &[]);
    r.no_children(n);
    if !r.arg_count(n, 1, Some(1), "`#true` or `#false`") {
        return None;
    }
    r.boolean(args(n).first()?)
}

/// `history #true|#false`, or `history { keep "90d"; exclude COL…; }` (on).
fn history(r: &mut Reader, n: &KdlNode) -> Option<HistoryAst> {
    r.check_props(n, &[]);
    let mut out = HistoryAst {
        span: r.name_span(n),
        on: true,
        keep: None,
        exclude: Vec::new(),
    };
    if children(n).is_empty() {
        if !r.arg_count(
            n,
            1,
            Some(1),
            "`#true`, `#false` or a `{ keep …; exclude …; }` block",
        ) {
            return None;
        }
        let a = args(n);
        let e = a.first()?;
        match (e.value(), e.ty()) {
            (KdlValue::Bool(b), None) => out.on = *b,
            _ => {
                let found = r.val(e).raw.describe();
                let span = r.sp(e.span());
                r.diags
                    .push(codes::arg_type(span, "`#true` or `#false`", &found));
                return None;
            }
        }
        return Some(out);
    }
    r.arg_count(n, 0, Some(0), "no arguments with a block");
    let mut seen = Vec::new();
    for c in children(n) {
        match r.name(c) {
            "keep" => {
                r.check_props(c, &[]);
                r.no_children(c);
                if r.once(c, &mut seen) && r.arg_count(c, 1, Some(1), "a duration such as \"90d\"")
                {
                    out.keep = args(c).first().and_then(|e| r.string(e, "a duration"));
                }
            }
            "exclude" => {
                r.check_props(c, &[]);
                r.no_children(c);
                if r.arg_count(c, 1, None, "at least one column") {
                    let cols = r.idents(c, "a column name", false);
                    out.exclude.extend(cols);
                }
            }
            other => {
                let d =
                    codes::unknown_node(r.name_span(c), other, "`history`", &["keep", "exclude"]);
                r.diags.push(d);
            }
        }
    }
    Some(out)
}

fn column(r: &mut Reader, n: &KdlNode) -> Option<Column> {
    column_like(r, n, COLUMN_PROPS)
}

/// The properties an action `input` takes: a column's, less storage and references.
pub const INPUT_PROPS: &[&str] = &[
    "required",
    "default",
    "min",
    "max",
    "min-length",
    "max-length",
    "description",
];

/// `NAME TYPE [props] [{ one-of … }]`: a column, or an action input with `props` = [`INPUT_PROPS`].
pub fn column_like(r: &mut Reader, n: &KdlNode, props: &[&str]) -> Option<Column> {
    r.check_props(n, props);
    if !r.arg_count(n, 2, Some(2), "a name and a type") {
        // Keep the name so that later passes do not report it as unknown.
        let name = args(n)
            .first()
            .and_then(|e| r.ident(e, "a column name", false))?;
        return Some(Column {
            name,
            ..Column::default()
        });
    }
    let a = args(n);
    let name = r.ident(a.first()?, "a column name", false)?;
    let ty_entry = a.get(1)?;
    let ty = r
        .keyword(ty_entry, "a column type", COLUMN_TYPES)
        .map(|t| (t, r.sp(ty_entry.span())));
    let flag = |r: &mut Reader, key: &str| r.prop_bool(n, key).and_then(|(b, s)| b.then_some(s));
    let mut col = Column {
        name,
        ty,
        required: flag(r, "required").is_some(),
        default: r.prop(n, "default").map(|e| r.val(e)),
        unique: unique_prop(r, n),
        min: r.prop(n, "min").map(|e| r.val(e)),
        max: r.prop(n, "max").map(|e| r.val(e)),
        min_length: r.prop_int(n, "min-length"),
        max_length: r.prop_int(n, "max-length"),
        pattern: r.prop_str(n, "pattern", "a regular expression"),
        references: r.prop_ident(n, "references", "a table name", false),
        on_delete: None,
        searchable: flag(r, "searchable"),
        display: flag(r, "display"),
        index: flag(r, "index").is_some(),
        was: r
            .prop_ident(n, "was", "a column name", false)
            .map(|i| i.name),
        description: r.prop_str(n, "description", "a string").map(|s| s.0),
        max_size: r.prop_str(n, "max-size", "a size such as \"5MB\""),
        types: r.prop_str(n, "types", "media types such as \"image/png,image/jpeg\""),
        one_of: Vec::new(),
    };
    if let Some(e) = r.prop(n, "on-delete") {
        let kinds = [
            ("restrict", OnDelete::Restrict),
            ("cascade", OnDelete::Cascade),
            ("set-null", OnDelete::SetNull),
        ];
        col.on_delete = r
            .keyword(e, "an on-delete action", &kinds)
            .map(|k| (k, r.sp(e.span())));
    }
    let mut seen = Vec::new();
    for c in children(n) {
        if r.name(c) == "one-of" {
            r.check_props(c, &[]);
            r.no_children(c);
            if r.once(c, &mut seen) && r.arg_count(c, 1, None, "at least one value") {
                col.one_of = args(c).into_iter().map(|e| r.val(e)).collect();
            }
        } else {
            let d = codes::unknown_node(r.name_span(c), r.name(c), "`column`", &["one-of"]);
            r.diags.push(d);
        }
    }
    Some(col)
}

/// `unique=#true` or `unique=global` on a column.
fn unique_prop(r: &mut Reader, n: &KdlNode) -> Option<(Uniqueness, Span)> {
    let e = r.prop(n, "unique")?;
    let span = r.sp(e.span());
    match (e.value(), e.ty()) {
        (KdlValue::Bool(true), None) => Some((Uniqueness::Scoped, span)),
        (KdlValue::Bool(false), None) => None,
        (KdlValue::String(s), None) if s == "global" => Some((Uniqueness::Global, span)),
        _ => {
            let found = r.val(e).raw.describe();
            r.diags
                .push(codes::arg_type(span, "`#true` or `global`", &found));
            None
        }
    }
}
