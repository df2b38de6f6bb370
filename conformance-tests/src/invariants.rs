//! The standalone invariants of SPEC §9.1, checked on every exchange independently of the model:
//! from the IR, the caller's token, the answer and the stored rows before and after. Each check
//! returns the names of the invariants it applied (for the summary) or the first violation.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use ward_ir::{ColumnDefault, Ir, Table, system};

use crate::model::{Row, Who, not_found_body, who};
use crate::request::{ApiRequest, encode};
use crate::scenario::{Route, Step};
use crate::target::{Exchange as Answer, Target};

pub type Dump = BTreeMap<String, Vec<Row>>;

pub struct Exchange<'a> {
    pub ir: &'a Ir,
    pub table: &'a str,
    pub step: &'a Step,
    pub req: &'a ApiRequest,
    pub observed: &'a Answer,
    pub before: &'a Dump,
    pub after: &'a Dump,
}

pub const ISOLATION: &str = "1-isolation";
pub const MASKING: &str = "2-masking";
pub const GUARDS: &str = "3-guards";
pub const ACCESS: &str = "4-denied-changes-nothing";
pub const SOFT_DELETE: &str = "5-soft-delete";
pub const BATCH: &str = "6-batch";
pub const ORACLE: &str = "7-no-existence-oracle";
pub const AUDIT: &str = "8-audit";
/// Checked by the engine after every step, by the model ([`crate::model::history`]).
pub const HISTORY: &str = "9-history-chains-to-rows";
/// Checked by the engine once a scenario is done: every subscriber received exactly the events
/// the model predicts ([`crate::model::realtime`]).
pub const REALTIME: &str = "10-realtime-streams";
/// A file downloads exactly when its row reads with the column unmasked; otherwise the
/// download answers byte for byte as the read did (SPEC §13, F1).
pub const FILE_DOWNLOAD: &str = "11-file-downloads-as-reads";
/// Checked by the engine after every step: once released files are collected, the store holds
/// exactly the objects the rows name ([`crate::files::store_matches`]).
pub const FILE_STORE: &str = "12-file-store-matches-rows";
/// Every refusal a layer of the policy decides can be explained: the console's "why denied"
/// ([`ward_compiler::policy::why`]) cites at least one declaration, each at a file:line and
/// each of the request's own table (SPEC §14).
pub const EXPLAINED: &str = "13-refusals-explained";

/// Checks every invariant that applies to this exchange. `fresh` numbers the ids of the probes
/// sent for the existence-oracle check.
pub async fn check(
    x: &Exchange<'_>,
    target: &Target,
    token: Option<&str>,
    fresh: &mut u64,
) -> Result<Vec<&'static str>, String> {
    let caller = who(x.ir, &x.req.caller).unwrap_or_default();
    let Some(table) = x.ir.table(x.table) else {
        return Ok(Vec::new());
    };
    let mut done = vec![MASKING];
    masking(x, &caller)?;
    let ok = (200..300).contains(&x.observed.status);
    if !ok {
        unchanged(x)?;
        done.push(ACCESS);
        if explained(x)? {
            done.push(EXPLAINED);
        }
    }
    let rows = output_rows(x);
    if ok && !rows.is_empty() {
        isolation(x, table, &caller, &rows)?;
        soft_delete(x, &rows)?;
        done.extend([ISOLATION, SOFT_DELETE]);
    }
    // An action, and a write whose table has triggers, writes what the steps say, whatever the
    // guards (checked at compile time, and here by the model's comparison of every stored row);
    // the audit stamps hold all the same.
    let stepped = matches!(x.step.route, Route::Action(..) | Route::Standalone(_))
        || !table.triggers.is_empty();
    if ok && x.req.method != "GET" && !stepped {
        guards(x, &caller)?;
        done.push(GUARDS);
    }
    if ok && x.req.method != "GET" {
        audit(x, &caller)?;
        done.push(AUDIT);
    }
    if x.step.route == Route::Batch && ok {
        batch(x, table)?;
        done.push(BATCH);
    }
    if oracle(x, table, target, token, fresh).await? {
        done.push(ORACLE);
    }
    if downloads(x, table, target, token).await? {
        done.push(FILE_DOWNLOAD);
    }
    Ok(done)
}

/// Invariant 13 on a refusal: false when no declaration decides it (a body that is not JSON,
/// a limit of the server).
fn explained(x: &Exchange<'_>) -> Result<bool, String> {
    let answer = &x.observed.json;
    let layer = answer
        .get("layer")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let code = answer
        .get("code")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let decided =
        ward_compiler::policy::why::POLICY_LAYERS.contains(&layer) && code != "INVALID_JSON";
    if !decided {
        return Ok(false);
    }
    let why = ward_compiler::policy::why(x.ir, &x.req.method, &x.req.uri(), answer);
    if why.rules.is_empty() {
        return Err(format!(
            "{EXPLAINED}: {} {} answered {code} ({layer}) and no declaration is cited",
            x.req.method,
            x.req.uri()
        ));
    }
    let own = |key: &str| {
        key == x.table
            || key.starts_with(&format!("{}.", x.table))
            || key.starts_with("action.")
            || key == "auth"
    };
    if let Some(other) = why.rules.iter().find(|c| !own(&c.key)) {
        return Err(format!(
            "{EXPLAINED}: {} {} answered {code} and `{}` of another table is cited",
            x.req.method,
            x.req.uri(),
            other.key
        ));
    }
    Ok(true)
}

/// Invariant 11, after a plain read by id: each file column's download answers as the read
/// says — the bytes whose SHA-256 the record shows when it shows the column's metadata, and
/// otherwise exactly the read's refusal, or the one not-found body for a column the caller
/// sees masked, hidden or empty.
async fn downloads(
    x: &Exchange<'_>,
    table: &Table,
    target: &Target,
    token: Option<&str>,
) -> Result<bool, String> {
    let plain_read = x.req.method == "GET"
        && matches!(x.step.route, Route::Row(_))
        && x.req.query.is_empty()
        && x.req.precondition.is_none();
    if !plain_read || table.file_columns().next().is_none() {
        return Ok(false);
    }
    download_matches_read(table, &x.req.path, x.observed, target, token).await?;
    Ok(true)
}

/// Invariant 11 for the row at `row_path`, read as `read` answered: each file column downloads
/// with the caller's `token` exactly as that read allows.
pub async fn download_matches_read(
    table: &Table,
    row_path: &str,
    read: &Answer,
    target: &Target,
    token: Option<&str>,
) -> Result<(), String> {
    for c in table.file_columns() {
        let path = format!("{row_path}/file/{}", encode(&c.name));
        let (status, body) = target.download(&path, token).await;
        let shown = (read.status == 200)
            .then(|| read.json["data"].get(&c.name))
            .flatten()
            .filter(|v| v.is_object());
        match shown {
            Some(meta) => {
                let sha = meta["sha256"].as_str().unwrap_or_default();
                let got = crate::files::sha256_hex(&body);
                if status != 200 || got != sha {
                    return Err(format!(
                        "{FILE_DOWNLOAD}: GET {path} answered {status} (body sha256 {got}) where the read shows the file {meta}"
                    ));
                }
            }
            None => {
                let got: Option<Value> = serde_json::from_slice(&body).ok();
                // A row the read refused: the very same answer. A column it did not show: the
                // table's answer for an id the caller cannot see.
                let (want_status, want_body, same) = if read.status == 200 {
                    let f = crate::model::firewall::not_found(table);
                    let code = got
                        .as_ref()
                        .and_then(|g| g["code"].as_str().map(str::to_owned));
                    let body = if f.status == 404 {
                        not_found_body().to_string()
                    } else {
                        f.code.to_string()
                    };
                    let same = if f.status == 404 {
                        got == Some(not_found_body())
                    } else {
                        code.as_deref() == Some(&*f.code)
                    };
                    (f.status, body, same)
                } else {
                    let same = got == serde_json::from_str::<Value>(&read.text).ok();
                    (read.status, read.text.clone(), same)
                };
                if status != want_status || !same {
                    return Err(format!(
                        "{FILE_DOWNLOAD}: GET {path} answered {status} {} where the read of the row answered {} (the download must answer {want_status} {want_body})",
                        String::from_utf8_lossy(&body),
                        read.status,
                    ));
                }
            }
        }
    }
    Ok(())
}

fn rows_of<'d>(dump: &'d Dump, table: &str) -> &'d [Row] {
    dump.get(table).map_or(&[], Vec::as_slice)
}

fn by_id<'d>(dump: &'d Dump, table: &str, id: &Value) -> Option<&'d Row> {
    rows_of(dump, table)
        .iter()
        .find(|r| r.get(system::ID) == Some(id))
}

/// The records of the request's table in the answer (not `_expand`ed ones, not delete entries).
/// An action's answer is whatever it declares (`return { field … }` may name a deleted row's
/// id): the model predicts it exactly, so no row invariant reads it.
fn output_rows(x: &Exchange<'_>) -> Vec<Value> {
    let j = &x.observed.json;
    match (&x.step.route, x.req.method.as_str()) {
        (Route::Batch, "DELETE") | (Route::Row(_), "DELETE") => Vec::new(),
        (Route::Action(..) | Route::Standalone(_), _) => Vec::new(),
        (Route::Batch, _) => j["success"].as_array().cloned().unwrap_or_default(),
        (_, _) => match &j["data"] {
            Value::Array(a) => a.clone(),
            Value::Object(o) => vec![Value::Object(o.clone())],
            _ => Vec::new(),
        },
    }
}

/// Invariant 4: a request answered with an error (denied, invalid, not found, a refused batch)
/// changes nothing.
fn unchanged(x: &Exchange<'_>) -> Result<(), String> {
    if x.before != x.after {
        return Err(format!(
            "{ACCESS}: a request answered {} changed the stored rows",
            x.observed.status
        ));
    }
    Ok(())
}

/// Invariant 1: no answered row lies outside the caller's firewall scopes.
fn isolation(x: &Exchange<'_>, table: &Table, caller: &Who, rows: &[Value]) -> Result<(), String> {
    let bypass = |roles: &[String]| !roles.is_empty() && caller.has_any(roles);
    if bypass(&table.firewall.bypass) {
        return Ok(());
    }
    for scope in table.firewall.scopes.iter().filter(|s| !bypass(&s.bypass)) {
        let want = caller.value(&scope.auth);
        for row in rows {
            let stored = by_id(x.after, x.table, &row["id"]);
            let got = stored
                .and_then(|r| r.get(&scope.column))
                .and_then(Value::as_str);
            if stored.is_some() && (want.is_none() || got != want) {
                return Err(format!(
                    "{ISOLATION}: row {} has {} = {:?}, outside the caller's scope {:?}",
                    row["id"], scope.column, got, want
                ));
            }
        }
    }
    Ok(())
}

/// Invariant 5: soft-deleted rows appear only with `deleted=only` (and restore answers live rows).
fn soft_delete(x: &Exchange<'_>, rows: &[Value]) -> Result<(), String> {
    let deleted_only = x
        .req
        .query
        .iter()
        .any(|(k, v)| k == "deleted" && v == "only");
    for row in rows {
        let Some(stored) = by_id(x.after, x.table, &row["id"]) else {
            continue;
        };
        let deleted = stored.get(system::DELETED_AT).is_some_and(|v| !v.is_null());
        if deleted != deleted_only {
            return Err(format!(
                "{SOFT_DELETE}: row {} (deleted: {deleted}) answered {}",
                row["id"],
                if deleted_only {
                    "by deleted=only"
                } else {
                    "as a live row"
                }
            ));
        }
    }
    Ok(())
}

/// Invariant 2: no answer carries the raw value of a column masked for the caller. Values the caller may
/// see raw anywhere (another column, their own row), values they sent themselves and very short
/// ones are not counted: they would be coincidences, not leaks. Nor are the states a refused
/// transition lists (`allowedFrom`, `target`): the policy speaking, not the row.
fn masking(x: &Exchange<'_>, caller: &Who) -> Result<(), String> {
    let mut secret: BTreeSet<&str> = BTreeSet::new();
    let mut open: BTreeSet<&str> = BTreeSet::new();
    for t in &x.ir.tables {
        for dump in [x.before, x.after] {
            for row in rows_of(dump, &t.name) {
                for (col, v) in row {
                    let Some(s) = v.as_str() else { continue };
                    let raw = t.mask(col).is_none_or(|m| {
                        caller.has_any(&m.show)
                            || m.owner.as_ref().is_some_and(|o| {
                                caller.user_id.is_some()
                                    && row.get(o).and_then(Value::as_str)
                                        == caller.user_id.as_deref()
                            })
                    });
                    if raw {
                        open.insert(s);
                    } else if s.chars().count() >= 6 {
                        secret.insert(s);
                    }
                }
            }
        }
    }
    // What the caller sent is theirs already (the model checks how echoes are masked).
    let sent = format!("{} {}", x.req.uri(), x.req.body.as_deref().unwrap_or(""));
    let leaks: Vec<&&str> = secret
        .iter()
        .filter(|s| !open.contains(**s) && !sent.contains(**s))
        .collect();
    if leaks.is_empty() {
        return Ok(());
    }
    let mut found = None;
    scan(&x.observed.json, &mut |s, message| {
        if found.is_some() {
            return;
        }
        if let Some(l) = leaks
            .iter()
            .find(|l| s == ***l || (message && s.contains(***l)))
        {
            found = Some((**l).to_owned());
        }
    });
    match found {
        Some(v) => Err(format!(
            "{MASKING}: the answer carries the masked value {v:?}"
        )),
        None => Ok(()),
    }
}

/// Calls `f` on every string of `v`; `message` is true for free-text fields. What the policy
/// itself says is skipped: the states of a refused transition (`allowedFrom`, `target` in the
/// details of `ACCESS_ACTION_NOT_ALLOWED_FOR_STATE`, wherever an envelope sits).
fn scan(v: &Value, f: &mut dyn FnMut(&str, bool)) {
    match v {
        Value::String(s) => f(s, false),
        Value::Array(a) => a.iter().for_each(|x| scan(x, f)),
        Value::Object(m) => {
            let refused_state = m.get("code").and_then(Value::as_str)
                == Some("ACCESS_ACTION_NOT_ALLOWED_FOR_STATE");
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("error" | "hint", Value::String(s)) => f(s, true),
                    ("details", Value::Object(d)) if refused_state => d
                        .iter()
                        .filter(|(k, _)| !matches!(k.as_str(), "allowedFrom" | "target"))
                        .for_each(|(_, x)| scan(x, f)),
                    _ => scan(x, f),
                }
            }
        }
        _ => {}
    }
}

const AUDIT_COLUMNS: [&str; 4] = [
    system::MODIFIED_AT,
    system::MODIFIED_BY,
    system::DELETED_AT,
    system::DELETED_BY,
];

/// Invariant 3: no write changes a column its guards forbid; scope and system columns are the server's.
fn guards(x: &Exchange<'_>, caller: &Who) -> Result<(), String> {
    let deleting = x.req.method == "DELETE";
    let updating = matches!(x.req.method.as_str(), "PATCH" | "PUT");
    for t in &x.ir.tables {
        let mine = t.name == x.table;
        for row in rows_of(x.after, &t.name) {
            let id = row.get(system::ID).unwrap_or(&Value::Null);
            match by_id(x.before, &t.name, id) {
                Some(old) => {
                    for (col, v) in row {
                        if old.get(col) == Some(v) || AUDIT_COLUMNS.contains(&col.as_str()) {
                            continue;
                        }
                        let allowed = (mine && updating && t.guards.updatable.contains(col))
                            || (deleting
                                && v.is_null()
                                && t.column(col).is_some_and(|c| c.references.is_some()));
                        if !allowed {
                            return Err(format!(
                                "{GUARDS}: {}.{col} of row {id} changed from {} to {v}",
                                t.name,
                                old.get(col).unwrap_or(&Value::Null)
                            ));
                        }
                    }
                }
                None => new_row(t, row, caller, mine)?,
            }
        }
    }
    Ok(())
}

fn new_row(t: &Table, row: &Row, caller: &Who, mine: bool) -> Result<(), String> {
    let id = row.get(system::ID).unwrap_or(&Value::Null);
    if !mine {
        return Err(format!(
            "{GUARDS}: a write on another table created {}.{id}",
            t.name
        ));
    }
    for s in &t.firewall.scopes {
        let got = row.get(&s.column).and_then(Value::as_str);
        if got != caller.value(&s.auth) {
            return Err(format!(
                "{GUARDS}: new row {id} has scope {} = {got:?}, not the caller's",
                s.column
            ));
        }
    }
    for c in &t.columns {
        if c.system || t.is_scope_column(&c.name) || t.guards.createable.contains(&c.name) {
            continue;
        }
        let v = row.get(&c.name).unwrap_or(&Value::Null);
        let default_ok = match &c.default {
            Some(ColumnDefault::Literal(_)) | Some(ColumnDefault::Now) => true,
            None => false,
        };
        if !v.is_null() && !default_ok {
            return Err(format!(
                "{GUARDS}: new row {id} has {} = {v}, a column clients may not create",
                c.name
            ));
        }
    }
    Ok(())
}

/// Invariant 8: `createdBy`/`modifiedBy`/`deletedBy` are the caller; timestamps never go backwards.
fn audit(x: &Exchange<'_>, caller: &Who) -> Result<(), String> {
    let me = caller.user_id.clone().map_or(Value::Null, Value::String);
    let latest = x
        .before
        .values()
        .flatten()
        .flat_map(|r| {
            [system::CREATED_AT, system::MODIFIED_AT, system::DELETED_AT]
                .into_iter()
                .filter_map(|c| r.get(c).and_then(Value::as_str))
        })
        .max()
        .unwrap_or("")
        .to_owned();
    for (table, rows) in x.after {
        for row in rows {
            let id = row.get(system::ID).unwrap_or(&Value::Null);
            let old = by_id(x.before, table, id);
            let changed = |c: &str| old.is_none_or(|o| o.get(c) != row.get(c));
            for (at, by) in [
                (system::CREATED_AT, system::CREATED_BY),
                (system::MODIFIED_AT, system::MODIFIED_BY),
                (system::DELETED_AT, system::DELETED_BY),
            ] {
                let stamped = row.get(at).and_then(Value::as_str);
                if !changed(at) || stamped.is_none() {
                    continue;
                }
                let t = stamped.unwrap_or_default();
                if !crate::model::adopt::is_timestamp(t) || t < latest.as_str() {
                    return Err(format!(
                        "{AUDIT}: {table} row {id}: {at} = {t} (latest before: {latest})"
                    ));
                }
                if row.get(by) != Some(&me) {
                    return Err(format!(
                        "{AUDIT}: {table} row {id}: {by} = {}, not the caller ({me})",
                        row.get(by).unwrap_or(&Value::Null)
                    ));
                }
            }
            if old.is_some() && (changed(system::CREATED_AT) || changed(system::CREATED_BY)) {
                return Err(format!(
                    "{AUDIT}: {table} row {id}: its creation stamps changed"
                ));
            }
        }
    }
    Ok(())
}

/// Invariant 6: a partial batch changes exactly its successes.
fn batch(x: &Exchange<'_>, table: &Table) -> Result<(), String> {
    let j = &x.observed.json;
    let success = j["success"].as_array().cloned().unwrap_or_default();
    let errors = j["errors"].as_array().map_or(0, Vec::len);
    let meta = &j["meta"];
    let count = |k: &str| meta[k].as_u64().and_then(|n| usize::try_from(n).ok());
    if count("succeeded") != Some(success.len())
        || count("failed") != Some(errors)
        || count("total") != Some(success.len() + errors)
    {
        return Err(format!("{BATCH}: meta {meta} does not count the entries"));
    }
    let ids: BTreeSet<String> = success.iter().map(|s| s["id"].to_string()).collect();
    let key = |r: &Row| r.get(system::ID).map(Value::to_string).unwrap_or_default();
    let before: BTreeMap<String, &Row> = rows_of(x.before, &table.name)
        .iter()
        .map(|r| (key(r), r))
        .collect();
    let after: BTreeMap<String, &Row> = rows_of(x.after, &table.name)
        .iter()
        .map(|r| (key(r), r))
        .collect();
    let touched: BTreeSet<String> = after
        .iter()
        .filter(|(k, r)| before.get(*k) != Some(*r))
        .map(|(k, _)| k.clone())
        .chain(before.keys().filter(|k| !after.contains_key(*k)).cloned())
        .collect();
    let cascades = x.req.method == "DELETE";
    // Exactly the successes: nothing else changed, and every success is stored. A success may
    // leave its row byte-identical (the same values written within the millisecond of the row's
    // previous write), so "every success changed its row" would be too strict.
    if !cascades && !touched.is_subset(&ids) {
        return Err(format!(
            "{BATCH}: the batch changed rows {touched:?}, its successes are {ids:?}"
        ));
    }
    if !cascades && !ids.iter().all(|id| after.contains_key(id)) {
        return Err(format!("{BATCH}: successes {ids:?} are not all stored"));
    }
    if cascades && !ids.is_subset(&touched) {
        return Err(format!(
            "{BATCH}: deleted ids {ids:?} are not all gone (changed: {touched:?})"
        ));
    }
    Ok(())
}

/// Invariant 7: an invisible id and one that never existed answer the same bytes: every not-found answer
/// of a single-row route is compared with the same request for a fresh id.
async fn oracle(
    x: &Exchange<'_>,
    table: &Table,
    target: &Target,
    token: Option<&str>,
    fresh: &mut u64,
) -> Result<bool, String> {
    let fixed = not_found_body();
    if x.step.route == Route::Batch {
        let mut checked = false;
        for e in x.observed.json["errors"].as_array().into_iter().flatten() {
            if e["error"]["code"] == "NOT_FOUND" {
                checked = true;
                if e["error"] != fixed {
                    return Err(format!(
                        "{ORACLE}: a batch not-found envelope differs: {}",
                        e["error"]
                    ));
                }
            }
        }
        return Ok(checked);
    }
    let single = matches!(
        x.step.route,
        Route::Row(_) | Route::Restore(_) | Route::History(_)
    );
    let not_found = matches!(
        x.observed.json["code"].as_str(),
        Some("NOT_FOUND" | "FIREWALL_NOT_FOUND")
    );
    // `/api/T/batch` is the reserved batch route, not the id `batch`, and nothing below it reads
    // `batch` as an id either (docs/http-api.md): a route that is not there is no oracle.
    let reserved = x.req.path.ends_with("/batch") || x.req.path.contains("/batch/");
    if !single || !not_found || reserved || x.req.method == "PUT" {
        return Ok(false);
    }
    if x.observed.json["code"] == "NOT_FOUND" && x.observed.json != fixed {
        return Err(format!("{ORACLE}: the not-found body is not the fixed one"));
    }
    *fresh += 1;
    let id = match table.id {
        ward_ir::IdKind::Uuid => uuid::Uuid::now_v7().hyphenated().to_string(),
        ward_ir::IdKind::Integer => (2_000_000_000 + *fresh).to_string(),
        ward_ir::IdKind::Text => format!("never-{fresh}"),
    };
    let t = encode(&table.name);
    let path = match x.step.route {
        Route::Restore(_) => format!("/api/{t}/{}/restore", encode(&id)),
        Route::History(_) => format!("/api/{t}/{}/history", encode(&id)),
        _ => format!("/api/{t}/{}", encode(&id)),
    };
    let mut probe = x.req.clone();
    probe.path = path;
    let got = target
        .call_with(
            &probe.method,
            &probe.uri(),
            token,
            probe.body.clone(),
            probe.precondition,
        )
        .await;
    if got.status != x.observed.status || got.text != x.observed.text {
        return Err(format!(
            "{ORACLE}: {} {} answered {} {}, but the same request for a nonexistent id answers {} {}",
            x.req.method, x.req.path, x.observed.status, x.observed.text, got.status, got.text
        ));
    }
    Ok(true)
}
