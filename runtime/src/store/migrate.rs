//! Start-up migration (SPEC §7, first cut): additive steps are applied in one transaction;
//! anything destructive is refused with the list of steps. The full planner comes later.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::Connection;
use ward_ir::{ColumnDefault, Literal};

use super::Store;
use crate::StartError;
use crate::security::audit;
use crate::snapshot::{Snapshot, TablePlan};
use crate::sql::ddl;

struct LiveColumn {
    ty: String,
    not_null: bool,
}

/// Brings the database to the snapshot's IR, or refuses without changing anything.
pub fn migrate(store: &Store, snapshot: &Snapshot) -> Result<(), StartError> {
    store.with_writer(|conn| run(conn, snapshot))
}

fn run(conn: &mut Connection, snapshot: &Snapshot) -> Result<(), StartError> {
    let db = |e: rusqlite::Error| StartError::Database(format!("migration failed: {e}"));
    let tx = conn.transaction().map_err(db)?;
    tx.execute_batch(&ddl::create_schema_table()).map_err(db)?;
    let live = live_tables(&tx).map_err(db)?;
    let mut steps: Vec<String> = Vec::new();
    let mut refused: Vec<String> = Vec::new();
    for plan in snapshot.tables() {
        match live.get(plan.name()) {
            None => steps.push(ddl::create_table(plan)),
            Some(cols) => diff_table(plan, cols, &mut steps, &mut refused),
        }
        for ix in &plan.def.indexes {
            steps.push(ddl::create_index(
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
        return Err(StartError::Migration(refused));
    }
    for s in &steps {
        tx.execute_batch(s).map_err(db)?;
    }
    let latest: Option<String> = {
        let st = ddl::latest_schema_hash();
        let mut q = tx.prepare(&st.sql).map_err(db)?;
        let mut rows = q.query(&*st.params()).map_err(db)?;
        match rows.next().map_err(db)? {
            Some(r) => Some(r.get(0).map_err(db)?),
            None => None,
        }
    };
    if latest.as_deref() != Some(snapshot.ir.hash.as_str()) {
        let json = serde_json::to_string(&snapshot.ir)
            .map_err(|e| StartError::Database(format!("cannot serialise the IR: {e}")))?;
        let st = ddl::insert_schema(&snapshot.ir.hash, &json, &audit::now());
        tx.execute(&st.sql, &*st.params()).map_err(db)?;
    }
    tx.commit().map_err(db)
}

fn live_tables(
    conn: &Connection,
) -> rusqlite::Result<BTreeMap<String, BTreeMap<String, LiveColumn>>> {
    let st = ddl::list_tables();
    let mut q = conn.prepare(&st.sql)?;
    let names: Vec<String> = q
        .query_map(&*st.params(), |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    let mut out = BTreeMap::new();
    for name in names {
        if name.starts_with("sqlite_") || name.starts_with('_') {
            continue;
        }
        let mut cols = BTreeMap::new();
        conn.pragma(None, "table_info", &name, |r| {
            let col: String = r.get("name")?;
            let ty: String = r.get("type")?;
            let not_null: i64 = r.get("notnull")?;
            let pk: i64 = r.get("pk")?;
            cols.insert(
                col,
                LiveColumn {
                    ty: ty.to_ascii_uppercase(),
                    not_null: not_null != 0 || pk != 0,
                },
            );
            Ok(())
        })?;
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
            steps.push(ddl::rename_column(t, old, &c.name));
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
