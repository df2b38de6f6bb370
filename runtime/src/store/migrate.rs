//! Start-up migration (SPEC §7, first cut), the same on both backends: additive steps are applied
//! in one transaction; anything destructive is refused with the list of steps. The full planner
//! comes later.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::Value as Json;
use ward_ir::{ColumnDefault, ColumnType, Literal};

use super::{Db, Store};
use crate::StartError;
use crate::http::error::ApiError;
use crate::security::audit;
use crate::snapshot::{Snapshot, TablePlan};
use crate::sql::{Dialect, Stmt, ddl};

struct LiveColumn {
    ty: String,
    not_null: bool,
}

/// Brings the database to the snapshot's IR, or refuses without changing anything.
pub async fn migrate(store: &Store, snapshot: &Arc<Snapshot>) -> Result<(), StartError> {
    let snapshot = snapshot.clone();
    let dialect = store.dialect();
    let outcome = store
        .schema_write(move |db| run(db, dialect, &snapshot))
        .await
        .map_err(|e| StartError::Database(format!("migration failed: {}", e.body())))?;
    outcome.map_err(StartError::Migration)
}

/// DDL and bookkeeping text as a statement: no values, identifiers from the IR only.
fn ddl(sql: String) -> Stmt {
    Stmt {
        sql,
        values: sea_query::Values(Vec::new()),
    }
}

/// `Ok(Err(steps))` when the plan has destructive steps: nothing was changed.
fn run(
    db: &dyn Db,
    dialect: Dialect,
    snapshot: &Snapshot,
) -> Result<Result<(), Vec<String>>, ApiError> {
    db.execute(&ddl(ddl::create_schema_table(dialect)))?;
    let live = live_tables(db, dialect)?;
    let mut steps: Vec<String> = Vec::new();
    let mut refused: Vec<String> = Vec::new();
    for plan in snapshot.tables() {
        match live.get(plan.name()) {
            None => steps.push(ddl::create_table(plan)),
            Some(cols) => diff_table(plan, cols, &mut steps, &mut refused),
        }
        for ix in &plan.def.indexes {
            steps.push(ddl::create_index(
                dialect,
                plan.name(),
                &ix.name,
                &ix.columns,
                ix.unique,
            ));
        }
    }
    for name in live.keys() {
        if snapshot.table(name).is_none() {
            refused.push(format!("drop table `{name}` (it is no longer declared)"));
        }
    }
    if !refused.is_empty() {
        return Ok(Err(refused));
    }
    for s in steps {
        db.execute(&ddl(s))?;
    }
    let latest = db
        .query(&ddl::latest_schema_hash(dialect), &[ColumnType::Text])?
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next());
    if latest.as_ref().and_then(Json::as_str) != Some(snapshot.ir.hash.as_str()) {
        let json = serde_json::to_string(&snapshot.ir).map_err(ApiError::internal)?;
        db.execute(&ddl::insert_schema(
            dialect,
            &snapshot.ir.hash,
            &json,
            &audit::now(),
        ))?;
    }
    Ok(Ok(()))
}

fn live_tables(
    db: &dyn Db,
    dialect: Dialect,
) -> Result<BTreeMap<String, BTreeMap<String, LiveColumn>>, ApiError> {
    let names: Vec<String> = db
        .query(&ddl::list_tables(dialect), &[ColumnType::Text])?
        .into_iter()
        .filter_map(|r| r.into_iter().next())
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let mut out = BTreeMap::new();
    for name in names {
        if name.starts_with("sqlite_") || name.starts_with('_') {
            continue;
        }
        let rows = db.query(
            &ddl::live_columns(dialect, &name),
            &[ColumnType::Text, ColumnType::Text, ColumnType::Boolean],
        )?;
        let mut cols = BTreeMap::new();
        for r in rows {
            let (Some(col), Some(ty), Some(not_null)) = (
                r.first().and_then(Json::as_str),
                r.get(1).and_then(Json::as_str),
                r.get(2).and_then(Json::as_bool),
            ) else {
                return Err(ApiError::internal(format!(
                    "unreadable catalog row for {name}"
                )));
            };
            let ty = match dialect {
                Dialect::Sqlite => ty.to_ascii_uppercase(),
                Dialect::Postgres => ty.to_owned(),
            };
            cols.insert(col.to_owned(), LiveColumn { ty, not_null });
        }
        out.insert(name, cols);
    }
    Ok(out)
}

fn diff_table(
    plan: &TablePlan,
    live: &BTreeMap<String, LiveColumn>,
    steps: &mut Vec<String>,
    refused: &mut Vec<String>,
) {
    let t = plan.name();
    let declared: BTreeSet<&str> = plan.columns().iter().map(|c| c.name.as_str()).collect();
    let renamed_from: BTreeSet<&str> = plan
        .columns()
        .iter()
        .filter(|c| !live.contains_key(&c.name))
        .filter_map(|c| c.was.as_deref())
        .filter(|w| live.contains_key(*w) && !declared.contains(w))
        .collect();
    for name in live.keys() {
        if !declared.contains(name.as_str()) && !renamed_from.contains(name.as_str()) {
            refused.push(format!(
                "drop column `{t}.{name}` (it is no longer declared)"
            ));
        }
    }
    for c in plan.columns() {
        let want = ddl::column_storage(plan, c);
        if let Some(l) = live.get(&c.name) {
            if l.ty != want {
                refused.push(format!(
                    "change the type of `{t}.{}` from {} to {want}",
                    c.name, l.ty
                ));
            } else if l.not_null != (c.required || c.name == ward_ir::system::ID) {
                refused.push(format!("change the nullability of `{t}.{}`", c.name));
            }
            continue;
        }
        if let Some(old) = c.was.as_deref().filter(|w| renamed_from.contains(w)) {
            steps.push(ddl::rename_column(plan.dialect, t, old, &c.name));
            continue;
        }
        let literal_default =
            matches!(&c.default, Some(ColumnDefault::Literal(l)) if *l != Literal::Null);
        if c.required && !literal_default {
            refused.push(format!(
                "add NOT NULL column `{t}.{}` without a default",
                c.name
            ));
        } else if c.references.is_some() {
            refused.push(format!(
                "add reference column `{t}.{}` to an existing table (needs a table rebuild)",
                c.name
            ));
        } else if c.unique {
            refused.push(format!(
                "add unique column `{t}.{}` to an existing table (needs a table rebuild)",
                c.name
            ));
        } else {
            steps.push(ddl::add_column(plan, c));
        }
    }
}
