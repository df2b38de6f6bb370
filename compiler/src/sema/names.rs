//! Pass 1, names: roles, claims, templates and tables across every file; duplicates, reserved
//! names, unknown templates, and which policy block each table gets (its own or a template's).

use std::collections::BTreeMap;

use ward_ir::{IdKind, JwtKey, ROLE_AUTHENTICATED, ROLE_PUBLIC};

use crate::diagnostics::{Diagnostic, Diags, Span, codes};
use crate::syntax::ast::{self, Blocks, Project, RoleRef};

/// A table as seen from other tables: its id kind and column types.
pub struct TableSym {
    pub span: Span,
    pub id: IdKind,
}

pub struct Symbols<'p> {
    pub roles: Vec<String>,
    pub role_spans: Vec<Span>,
    pub claims: BTreeMap<String, String>,
    pub jwt: ward_ir::Jwt,
    pub server: ward_ir::Server,
    pub templates: BTreeMap<String, &'p ast::Template>,
    pub tables: BTreeMap<String, TableSym>,
}

/// Where a policy block came from: `None` for the table itself, else the `use` site.
pub type Origin = Option<Span>;

/// A table's effective blocks after applying its templates.
#[derive(Default)]
pub struct Resolved<'p> {
    pub firewall: Option<(&'p ast::Firewall, Origin)>,
    pub access: Option<(&'p ast::Access, Origin)>,
    pub guards: Option<(&'p ast::Guards, Origin)>,
    pub masking: Option<(&'p ast::Masking, Origin)>,
    pub delete: Option<(ward_ir::DeleteMode, Origin)>,
    pub batch: Option<(&'p ast::BatchAst, Origin)>,
    /// Where each effective block was written (in the table or in the template it came from).
    pub at: BTreeMap<&'static str, Span>,
}

/// Add the "used here" label when a diagnostic comes from a template's block.
pub fn via(d: Diagnostic, origin: Origin) -> Diagnostic {
    match origin {
        Some(span) => d.with_label(span, "the template is used here"),
        None => d,
    }
}

// `subscribe`: `GET /api/subscribe` is the multi-table realtime stream (SPEC §12).
const RESERVED_TABLES: &[&str] = &["views", "actions", "batch", "subscribe"];

pub fn collect<'p>(project: &'p Project, diags: &mut Diags) -> Symbols<'p> {
    let mut syms = Symbols {
        roles: Vec::new(),
        role_spans: Vec::new(),
        claims: BTreeMap::new(),
        jwt: ward_ir::Jwt {
            key: JwtKey::Secret {
                env: "WARD_JWT_SECRET".to_owned(),
            },
            issuer: None,
            audience: None,
            leeway_seconds: 30,
        },
        server: ward_ir::Server::default(),
        templates: BTreeMap::new(),
        tables: BTreeMap::new(),
    };
    for (k, v) in [("user-id", "sub"), ("roles", "roles"), ("org-id", "org_id")] {
        syms.claims.insert(k.to_owned(), v.to_owned());
    }
    auth(project, &mut syms, diags);
    server(project, &mut syms, diags);

    for t in &project.templates {
        if let Some(first) = syms.templates.get(&t.name.name) {
            diags.push(codes::duplicate_name(
                t.name.span,
                "template",
                &t.name.name,
                first.name.span,
            ));
        } else {
            syms.templates.insert(t.name.name.clone(), t);
        }
    }
    for t in &project.tables {
        let name = &t.name.name;
        if let Some(first) = syms.tables.get(name) {
            diags.push(codes::duplicate_name(
                t.name.span,
                "table",
                name,
                first.span,
            ));
            continue;
        }
        if RESERVED_TABLES.contains(&name.as_str()) || name.starts_with('_') {
            diags.push(codes::reserved_name(t.name.span, "table", name));
        }
        let id = t.id.map_or(IdKind::Uuid, |i| i.0);
        syms.tables.insert(
            name.clone(),
            TableSym {
                span: t.name.span,
                id,
            },
        );
    }
    syms
}

fn server(project: &Project, syms: &mut Symbols, diags: &mut Diags) {
    let Some(server) = project.servers.first() else {
        return;
    };
    for extra in project.servers.iter().skip(1) {
        diags.push(codes::duplicate_node(extra.span, "server", server.span));
    }
    for (origin, span) in &server.cors {
        match crate::origin::normalize(origin) {
            Ok(origin) if !syms.server.cors.contains(&origin) => syms.server.cors.push(origin),
            Ok(_) => {}
            Err(why) => diags.push(codes::invalid_origin(*span, origin, &why)),
        }
    }
    syms.server.storage.clone_from(&server.storage);
    for r in &server.operators {
        if r.name == ROLE_PUBLIC || r.name == ROLE_AUTHENTICATED {
            let why = "the console describes the whole project and explains every refusal: name the declared roles that run this deployment (`operators admin`)";
            diags.push(codes::invalid_server_limit(r.span, "operators", why));
        }
    }
    let operators: Vec<RoleRef> = server
        .operators
        .iter()
        .filter(|r| r.name != ROLE_PUBLIC && r.name != ROLE_AUTHENTICATED)
        .cloned()
        .collect();
    syms.server.operators = syms.expand_all(&operators, None, diags);
    for (name, value, span) in &server.limits {
        if let Err(why) = limit(&mut syms.server.limits, name, value) {
            diags.push(codes::invalid_server_limit(*span, name, &why));
        }
    }
}

/// Sets one `server` limit (SPEC §5.7) after checking it is usable.
fn limit(
    out: &mut ward_ir::ServerLimits,
    name: &str,
    value: &ast::LimitValue,
) -> Result<(), String> {
    use ast::LimitValue::{Integer, Rate, Text};
    let count = |n: i128, min: i128, max: i128, what: &str| {
        u32::try_from(n)
            .ok()
            .filter(|_| (min..=max).contains(&n))
            .ok_or_else(|| format!("{what} from {min} to {max}"))
    };
    match (name, value) {
        ("request-timeout" | "header-timeout" | "body-timeout", Text(text)) => {
            let ms = ward_ir::time::duration_ms(text)
                .ok_or_else(|| ward_ir::time::DURATION_FORM.to_owned())?;
            let slot = match name {
                "request-timeout" => &mut out.request_timeout_ms,
                "header-timeout" => &mut out.header_timeout_ms,
                _ => &mut out.body_timeout_ms,
            };
            *slot = Some(ms);
        }
        ("max-connections", Integer(n)) => {
            out.max_connections = Some(count(*n, 1, 1_000_000, "a number of connections")?);
        }
        ("body-memory-mib", Integer(n)) => {
            out.body_memory_mib = Some(count(*n, 1, 1 << 20, "MiB")?);
        }
        ("failed-auth-rate", Rate(rate, burst)) => {
            let per_second = count(*rate, 0, 1_000_000, "refusals per second (0: no limit)")?;
            let burst = count(burst.unwrap_or(100), 1, 1_000_000, "a burst")?;
            out.failed_auth = Some(ward_ir::RateLimit { per_second, burst });
        }
        ("rate-limit ip" | "rate-limit subject", Rate(rate, burst)) => {
            let per_second = count(*rate, 1, 1_000_000, "requests per second")?;
            // One second's worth at once unless said otherwise.
            let burst = count(burst.unwrap_or(*rate), 1, 1_000_000, "a burst")?;
            let slot = match name {
                "rate-limit ip" => &mut out.rate_limit_ip,
                _ => &mut out.rate_limit_subject,
            };
            *slot = Some(ward_ir::RateLimit { per_second, burst });
        }
        ("sqlite-sync", Text(mode)) => {
            out.sqlite_sync =
                Some(ward_ir::SqliteSync::from_name(mode).ok_or("`full` or `normal`")?);
        }
        _ => return Err("a value of another kind".into()),
    }
    Ok(())
}

fn auth(project: &Project, syms: &mut Symbols, diags: &mut Diags) {
    let Some(auth) = project.auths.first() else {
        return;
    };
    for extra in project.auths.iter().skip(1) {
        diags.push(codes::duplicate_node(extra.span, "auth", auth.span));
    }
    for role in &auth.roles {
        if role.name == ROLE_PUBLIC || role.name == ROLE_AUTHENTICATED {
            diags.push(codes::reserved_name(role.span, "role", &role.name));
            continue;
        }
        if let Some(i) = syms.roles.iter().position(|r| *r == role.name) {
            let first = syms.role_spans.get(i).copied().unwrap_or(role.span);
            diags.push(codes::duplicate_name(role.span, "role", &role.name, first));
            continue;
        }
        syms.roles.push(role.name.clone());
        syms.role_spans.push(role.span);
    }
    let mut seen: Vec<&ast::Ident> = Vec::new();
    for (name, claim) in &auth.claims {
        if let Some(first) = seen.iter().find(|i| i.name == name.name) {
            diags.push(codes::duplicate_name(
                name.span, "claim", &name.name, first.span,
            ));
            continue;
        }
        seen.push(name);
        syms.claims.insert(name.name.clone(), claim.name.clone());
    }
    if let Some(jwt) = &auth.jwt {
        if let Some(((_, first), rest)) = jwt.keys.split_first() {
            for (_, span) in rest {
                diags.push(codes::conflicting_keys(*span, *first));
            }
        }
        if let Some((key, _)) = jwt.keys.first() {
            syms.jwt.key = match key.clone() {
                ast::JwtKeyAst::Secret(env) => JwtKey::Secret { env },
                ast::JwtKeyAst::PublicKey { path, algorithm } => {
                    JwtKey::PublicKey { path, algorithm }
                }
                ast::JwtKeyAst::Jwks(path) => JwtKey::Jwks { path },
            };
        }
        syms.jwt.issuer = jwt.issuer.clone();
        syms.jwt.audience = jwt.audience.clone();
    }
}

impl Symbols<'_> {
    /// Rank for sorting roles: `public`, `authenticated`, then the declared order.
    pub fn rank(&self, role: &str) -> usize {
        match role {
            ROLE_PUBLIC => 0,
            ROLE_AUTHENTICATED => 1,
            _ => self
                .roles
                .iter()
                .position(|r| r == role)
                .map_or(usize::MAX, |i| i + 2),
        }
    }

    /// Expand a role argument (`R+` → R and every higher role), reporting unknown roles.
    pub fn expand(&self, r: &RoleRef, origin: Origin, diags: &mut Diags) -> Option<Vec<String>> {
        if r.name == ROLE_PUBLIC || r.name == ROLE_AUTHENTICATED {
            if r.plus {
                let d =
                    codes::unknown_role(r.span, &format!("{}+", r.name), None).with_help(format!(
                        "`{}` is a pseudo-role without a rank: write `{}` without `+`",
                        r.name, r.name
                    ));
                diags.push(via(d, origin));
                return None;
            }
            return Some(vec![r.name.clone()]);
        }
        let Some(i) = self.roles.iter().position(|x| *x == r.name) else {
            let candidates = self
                .roles
                .iter()
                .map(String::as_str)
                .chain([ROLE_PUBLIC, ROLE_AUTHENTICATED]);
            let d = codes::unknown_role(
                r.span,
                &r.name,
                crate::diagnostics::suggest(&r.name, candidates),
            );
            diags.push(via(d, origin));
            return None;
        };
        if r.plus {
            Some(self.roles.iter().skip(i).cloned().collect())
        } else {
            Some(vec![r.name.clone()])
        }
    }

    /// Expand many role arguments into one sorted, de-duplicated list.
    pub fn expand_all(&self, refs: &[RoleRef], origin: Origin, diags: &mut Diags) -> Vec<String> {
        let mut out: Vec<String> = refs
            .iter()
            .filter_map(|r| self.expand(r, origin, diags))
            .flatten()
            .collect();
        self.sort_roles(&mut out);
        out
    }

    pub fn sort_roles(&self, roles: &mut Vec<String>) {
        roles.sort_by_key(|r| (self.rank(r), r.clone()));
        roles.dedup();
    }

    /// Check an `(auth)NAME` reference.
    pub fn claim(&self, name: &str, span: Span, origin: Origin, diags: &mut Diags) -> bool {
        if name == ward_ir::CLAIM_ROLES {
            diags.push(via(codes::auth_roles_value(span), origin));
            return false;
        }
        if self.claims.contains_key(name) {
            return true;
        }
        let help = crate::diagnostics::suggest(name, self.claims.keys().map(String::as_str));
        diags.push(via(codes::unknown_claim(span, name, help), origin));
        false
    }
}

/// Apply `use`d templates: a table's own block wins; two templates giving the same block clash.
pub fn resolve<'p>(table: &'p ast::Table, syms: &Symbols<'p>, diags: &mut Diags) -> Resolved<'p> {
    let mut out = Resolved::default();
    let mut from: BTreeMap<&'static str, (Span, String)> = BTreeMap::new();
    for u in &table.uses {
        let Some(t) = syms.templates.get(&u.name) else {
            let help =
                crate::diagnostics::suggest(&u.name, syms.templates.keys().map(String::as_str));
            diags.push(codes::unknown_template(u.span, &u.name, help));
            continue;
        };
        let b: &'p Blocks = &t.blocks;
        let own = &table.blocks;
        let mut take = |kind: &'static str, present: bool, own_present: bool| -> bool {
            if !present || own_present {
                return false;
            }
            if let Some((first, tname)) = from.get(kind) {
                diags.push(codes::template_conflict(
                    u.span, kind, tname, &u.name, *first,
                ));
                return false;
            }
            from.insert(kind, (u.span, u.name.clone()));
            true
        };
        if take("firewall", b.firewall.is_some(), own.firewall.is_some()) {
            out.at
                .extend(b.at.get("firewall").map(|s| ("firewall", *s)));
            out.firewall = b.firewall.as_ref().map(|x| (x, Some(u.span)));
        }
        if take("access", b.access.is_some(), own.access.is_some()) {
            out.at.extend(b.at.get("access").map(|s| ("access", *s)));
            out.access = b.access.as_ref().map(|x| (x, Some(u.span)));
        }
        if take("guards", b.guards.is_some(), own.guards.is_some()) {
            out.at.extend(b.at.get("guards").map(|s| ("guards", *s)));
            out.guards = b.guards.as_ref().map(|x| (x, Some(u.span)));
        }
        if take("masking", b.masking.is_some(), own.masking.is_some()) {
            out.at.extend(b.at.get("masking").map(|s| ("masking", *s)));
            out.masking = b.masking.as_ref().map(|x| (x, Some(u.span)));
        }
        if take("delete", b.delete.is_some(), own.delete.is_some()) {
            out.at.extend(b.at.get("delete").map(|s| ("delete", *s)));
            out.delete = b.delete.map(|x| (x.0, Some(u.span)));
        }
        if take("batch", b.batch.is_some(), own.batch.is_some()) {
            out.at.extend(b.at.get("batch").map(|s| ("batch", *s)));
            out.batch = b.batch.as_ref().map(|x| (x, Some(u.span)));
        }
    }
    let own = &table.blocks;
    if let Some(x) = &own.firewall {
        out.firewall = Some((x, None));
    }
    if let Some(x) = &own.access {
        out.access = Some((x, None));
    }
    if let Some(x) = &own.guards {
        out.guards = Some((x, None));
    }
    if let Some(x) = &own.masking {
        out.masking = Some((x, None));
    }
    if let Some(x) = own.delete {
        out.delete = Some((x.0, None));
    }
    if let Some(x) = &own.batch {
        out.batch = Some((x, None));
    }
    for kind in ["firewall", "access", "guards", "masking", "delete", "batch"] {
        if let Some(span) = own.at.get(kind) {
            out.at.insert(kind, *span);
        }
    }
    out
}
