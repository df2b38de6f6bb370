//! Row history (SPEC §11): the answer to `GET /api/T/{id}/history`, predicted from the change
//! log the server stored and the model's own policy. That the log itself is exactly the rows'
//! past is checked apart, after every step ([`check_log`]): each row's records chain from
//! nothing to the row the model holds now.
//!
//! Each image is judged on its own: shown, masked, only if the caller could read it (the firewall
//! scopes and the `history` rule — the `read` rule unless the table states one — on that image);
//! a version with neither image shown, or whose shown images differ in nothing but the stamps,
//! is not listed. `actor` and `at` are shown as `modifiedBy` and `modifiedAt` would be.

use serde_json::{Map, Value, json};
use ward_ir::{Table, system};

use super::access::{self, Residual};
use super::errors::Fail;
use super::firewall::{self, Scopes};
use super::{ANY, Cx, Row, State, masking, parse_id};

/// One change record as `App::change_log` reads it back.
pub type Record = Value;

pub(crate) fn read(
    cx: &Cx<'_>,
    st: &State,
    table: &Table,
    raw_id: &str,
    query: &[(String, String)],
    log: &[Record],
) -> Result<(u16, Value), Fail> {
    let rule = table.access.history.as_ref().or(table.access.read.as_ref());
    let residual = access::authorize_rule(rule, &cx.who)?;
    let scopes = firewall::scopes(table, &cx.who)?;
    let mut limit = u64::from(table.page.default);
    for (k, v) in query {
        match k.as_str() {
            "limit" if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
                let n: u64 = v.parse().map_err(|_| Fail::bad_query(k))?;
                if n > i64::MAX as u64 {
                    return Err(Fail::bad_query(k));
                }
                limit = n.clamp(1, u64::from(table.page.max));
            }
            _ => return Err(Fail::bad_query(k)),
        }
    }
    let id = parse_id(table.id, raw_id).ok_or_else(|| firewall::not_found(table))?;
    let key = match &id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut versions: Vec<&Record> = log.iter().filter(|r| r["id"] == key.as_str()).collect();
    versions.sort_by_key(|r| std::cmp::Reverse(r["seq"].as_i64()));
    let judge = Judge {
        cx,
        table,
        residual: &residual,
        scopes: &scopes,
    };
    let shown: Vec<Value> = versions.iter().filter_map(|r| judge.version(r)).collect();
    if shown.is_empty() {
        let rows = st.rows.get(&table.name).map_or(&[][..], Vec::as_slice);
        let readable = rows.iter().any(|r| {
            r.get(system::ID) == Some(&id)
                && firewall::visible(r, &scopes)
                && residual.admits(r, &cx.who, &cx.clock)
        });
        if !readable {
            return Err(firewall::not_found(table));
        }
    }
    let more = shown.len() as u64 > limit;
    let page: Vec<Value> = shown
        .into_iter()
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect();
    let mut pagination = Map::new();
    pagination.insert("limit".into(), json!(limit));
    pagination.insert("count".into(), json!(page.len()));
    pagination.insert("hasMore".into(), json!(more));
    if more {
        pagination.insert("nextCursor".into(), json!(ANY));
    }
    Ok((200, json!({ "data": page, "pagination": pagination })))
}

struct Judge<'a> {
    cx: &'a Cx<'a>,
    table: &'a Table,
    residual: &'a Residual,
    scopes: &'a Scopes,
}

impl Judge<'_> {
    /// What the caller could read of one stored image.
    fn readable<'r>(&self, image: &'r Value) -> Option<&'r Row> {
        let row = image.as_object()?;
        (firewall::in_scope(row, self.scopes)
            && self.residual.admits(row, &self.cx.who, &self.cx.clock))
        .then_some(row)
    }

    fn version(&self, r: &Record) -> Option<Value> {
        let before = self.readable(&r["before"]);
        let after = self.readable(&r["after"]);
        let shown = after.or(before)?;
        let render = |row: &Row| {
            let today: Row = row
                .iter()
                .filter(|(k, _)| self.table.column(k).is_some())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            masking::mask(self.table, &self.cx.who, &today, true)
        };
        let (before, after) = (before.map(render), after.map(render));
        let unstamped = |row: &Row| {
            let mut row = row.clone();
            row.remove(system::MODIFIED_AT);
            row.remove(system::MODIFIED_BY);
            row
        };
        if let (Some(b), Some(a)) = (&before, &after)
            && unstamped(b) == unstamped(a)
        {
            return None;
        }
        let raw = |column: &str, field: &str| {
            if masking::sees_raw(self.table, &self.cx.who, column, shown) {
                r[field].clone()
            } else {
                Value::Null
            }
        };
        let image = |row: Option<Row>| row.map_or(Value::Null, Value::Object);
        Some(json!({
            "version": r["seq"],
            "op": r["op"],
            "at": raw(system::MODIFIED_AT, "at"),
            "actor": raw(system::MODIFIED_BY, "actor"),
            "before": image(before),
            "after": image(after),
        }))
    }
}

/// The change log of a table with `history` against the model's rows, after a step: it extends
/// the log `before` it unchanged (a record once seen never changes or vanishes, and none appears
/// before it: what resuming from a seq relies on), its seqs rise; each row's records chain (the
/// first from nothing, each `before` the previous `after`) to the row as the model holds it now
/// (nothing after a hard delete); no image holds an `exclude`d column; the ops say what the
/// images show. (That SQLite's seqs have no gaps is the runtime's tests' to check: on Postgres a
/// rolled-back write leaves one.)
pub fn check_log(
    table: &Table,
    rows: &[Row],
    before: &[Record],
    log: &[Record],
) -> Result<(), String> {
    if !table.logs_changes() {
        return Ok(());
    }
    let excluded = table
        .history
        .as_ref()
        .map_or(&[][..], |h| h.exclude.as_slice());
    let name = &table.name;
    if log.get(..before.len()) != Some(before) {
        return Err(format!(
            "{name}: the log does not extend the one seen before the step: {before:?} then {log:?}"
        ));
    }
    for pair in log.windows(2) {
        let seq = |r: &Record| r["seq"].as_i64();
        if !matches!((seq(&pair[0]), seq(&pair[1])), (Some(a), Some(b)) if a < b) {
            return Err(format!(
                "{name}: seq {} follows seq {}",
                pair[1]["seq"], pair[0]["seq"]
            ));
        }
    }
    for r in log {
        for image in [&r["before"], &r["after"]] {
            if let Some(c) = excluded.iter().find(|c| image.get(c.as_str()).is_some()) {
                return Err(format!(
                    "{name}: change {} stores the excluded `{c}`",
                    r["seq"]
                ));
            }
        }
        let deleted = |v: &Value| !v[system::DELETED_AT].is_null();
        let (b, a) = (&r["before"], &r["after"]);
        let consistent = match r["op"].as_str() {
            Some("insert") => b.is_null() && a.is_object(),
            Some("delete") => b.is_object() && a.is_null(),
            Some("update") => b.is_object() && a.is_object() && deleted(b) == deleted(a),
            Some("soft-delete") => a.is_object() && !deleted(b) && deleted(a),
            Some("restore") => a.is_object() && deleted(b) && !deleted(a),
            _ => false,
        };
        if !consistent {
            return Err(format!(
                "{name}: change {} is not what its op says: {r}",
                r["seq"]
            ));
        }
    }
    let mut ids: Vec<&str> = log.iter().filter_map(|r| r["id"].as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let key = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    for row in rows {
        let id = row.get(system::ID).map(key).unwrap_or_default();
        if !ids.contains(&id.as_str()) {
            return Err(format!("{name}: row {id} has no change record"));
        }
    }
    // An update that changed nothing but the stamps writes no record: the stamps are left out
    // where images are compared.
    let unstamped = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove(system::MODIFIED_AT);
            m.remove(system::MODIFIED_BY);
        }
        v
    };
    for id in ids {
        let mut last = &Value::Null;
        for r in log.iter().filter(|r| r["id"] == id) {
            if unstamped(&r["before"]) != unstamped(last) {
                return Err(format!(
                    "{name} row {id}: change {} starts from {}, the previous change left {last}",
                    r["seq"], r["before"]
                ));
            }
            last = &r["after"];
        }
        let now = rows
            .iter()
            .find(|r| r.get(system::ID).map(key).as_deref() == Some(id));
        let expected = now.map_or(Value::Null, |row| {
            let mut kept = row.clone();
            kept.retain(|k, _| !excluded.contains(k));
            Value::Object(kept)
        });
        super::matches(&unstamped(&expected), &unstamped(last)).map_err(|e| {
            format!("{name} row {id}: the last change does not leave the row the model holds: {e}")
        })?;
    }
    Ok(())
}
