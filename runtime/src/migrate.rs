//! The migration planner (SPEC §7), the same on both backends. It diffs the IR against the live
//! catalog and makes a [`Plan`]: additive changes (create table, add a nullable or defaulted
//! column, rename via `was=`, add an index) and destructive ones (drop a table or column, change
//! a type, make a column required, add a required column without a default). Additive plans are
//! applied in one transaction; a plan with destructive changes is refused, and nothing is
//! touched, unless the caller allows them. Nothing is ever dropped silently.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use serde_json::Value as Json;
use ward_ir::{Column, ColumnDefault, ColumnType, Literal, system};

use crate::StartError;
use crate::error::ApiError;
use crate::security::audit;
use crate::snapshot::{Snapshot, TablePlan};
use crate::sql::{Dialect, Stmt, ddl};
use crate::store::{Db, Store};

/// One change of a plan, as a person reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub text: String,
    pub destructive: bool,
}

/// What it takes to bring the database to an IR.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub changes: Vec<Change>,
    statements: Vec<Stmt>,
    /// The IR is not yet the latest one recorded in `_ward_schema`.
    record: bool,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn is_destructive(&self) -> bool {
        self.changes.iter().any(|c| c.destructive)
    }

    fn add(&mut self, text: String) {
        self.changes.push(Change {
            text,
            destructive: false,
        });
    }

    fn destroy(&mut self, text: String) {
        self.changes.push(Change {
            text,
            destructive: true,
        });
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.changes.is_empty() {
            return write!(f, "  (no changes)");
        }
        let lines: Vec<String> = self
            .changes
            .iter()
            .map(|c| {
                let mark = if c.destructive { "!" } else { "+" };
                format!("  {mark} {}", c.text)
            })
            .collect();
        write!(f, "{}", lines.join("\n"))
    }
}

/// What to do with the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Only make the plan (`ward migrate` without `--apply`).
    Plan,
    /// Apply it; destructive changes only when allowed.
    Apply { allow_destructive: bool },
}

/// Why a migration did not happen. Either way, nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "the plan has changes that could lose data; nothing was changed. Plan:\n{0}\nrun again with --allow-destructive to apply it"
    )]
    Destructive(Plan),
    #[error("migration failed, nothing was changed: {0}")]
    Database(String),
}

/// Plans, and (per `mode`) applies, the migration to the snapshot's IR. Returns the plan.
pub async fn migrate(
    store: &Store,
    snapshot: &Arc<Snapshot>,
    mode: Mode,
) -> Result<Plan, MigrateError> {
    let snapshot = snapshot.clone();
    let dialect = store.dialect();
    let outcome = store
        .schema_write(move |db| {
            let catalog = Catalog::read(db, dialect)?;
            let plan = plan(&snapshot, &catalog, db, dialect)?;
            match mode {
                Mode::Plan => Ok(Ok(plan)),
                Mode::Apply { allow_destructive }
                    if plan.is_destructive() && !allow_destructive =>
                {
                    Ok(Err(plan))
                }
                Mode::Apply { .. } => {
                    apply(db, dialect, &snapshot, &plan)?;
                    Ok(Ok(plan))
                }
            }
        })
        .await
        .map_err(|e| MigrateError::Database(failure(&e)))?;
    outcome.map_err(MigrateError::Destructive)
}

/// Why a migration failed, for the person who ran it.
fn failure(e: &ApiError) -> String {
    match e.code() {
        "UNIQUE_VIOLATION" => "a new unique index meets rows that repeat a value (making a column \
            `unique=global` fails while two tenants hold the same value); make the values \
            distinct first"
            .to_owned(),
        _ => match e.details().and_then(|d| d["requestId"].as_str()) {
            Some(id) => format!(
                "{} (the log names its cause under request id {id})",
                e.message()
            ),
            None => format!("{} ({})", e.message(), e.code()),
        },
    }
}

/// The start-up migration: additive changes only.
pub async fn migrate_on_start(store: &Store, snapshot: &Arc<Snapshot>) -> Result<(), StartError> {
    match migrate(
        store,
        snapshot,
        Mode::Apply {
            allow_destructive: false,
        },
    )
    .await
    {
        Ok(_) => Ok(()),
        Err(MigrateError::Destructive(plan)) => Err(StartError::Migration(
            plan.changes
                .iter()
                .filter(|c| c.destructive)
                .map(|c| c.text.clone())
                .collect(),
        )),
        Err(MigrateError::Database(e)) => {
            Err(StartError::Database(format!("migration failed: {e}")))
        }
    }
}

struct LiveColumn {
    ty: String,
    not_null: bool,
}

/// The live schema: tables with their columns and unique constraints, and indexes.
struct Catalog {
    tables: BTreeMap<String, BTreeMap<String, LiveColumn>>,
    /// Index name → its table.
    indexes: BTreeMap<String, String>,
    /// Table → its unique constraints (table-wide; ward no longer makes them).
    unique_constraints: BTreeMap<String, Vec<String>>,
    has_schema_table: bool,
}

impl Catalog {
    fn read(db: &dyn Db, dialect: Dialect) -> Result<Catalog, ApiError> {
        let texts = |stmt: &Stmt| -> Result<Vec<String>, ApiError> {
            Ok(db
                .query(stmt, &[ColumnType::Text])?
                .into_iter()
                .filter_map(|r| r.into_iter().next())
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect())
        };
        let names = texts(&ddl::list_tables(dialect))?;
        let has_schema_table = names.iter().any(|n| n == ddl::SCHEMA_TABLE);
        let mut tables = BTreeMap::new();
        let mut unique_constraints = BTreeMap::new();
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
            let constraints = texts(&ddl::live_unique_constraints(dialect, &name))?;
            if !constraints.is_empty() {
                unique_constraints.insert(name.clone(), constraints);
            }
            tables.insert(name, cols);
        }
        let mut indexes = BTreeMap::new();
        for r in db.query(
            &ddl::list_indexes(dialect),
            &[ColumnType::Text, ColumnType::Text],
        )? {
            if let (Some(index), Some(table)) = (
                r.first().and_then(Json::as_str),
                r.get(1).and_then(Json::as_str),
            ) {
                indexes.insert(index.to_owned(), table.to_owned());
            }
        }
        Ok(Catalog {
            tables,
            indexes,
            unique_constraints,
            has_schema_table,
        })
    }
}

fn literal_default(c: &Column) -> bool {
    matches!(&c.default, Some(ColumnDefault::Literal(l)) if *l != Literal::Null)
}

fn required(c: &Column) -> bool {
    c.required || c.name == system::ID
}

/// The plan from the catalog to `snapshot`'s IR.
fn plan(
    snapshot: &Snapshot,
    catalog: &Catalog,
    db: &dyn Db,
    dialect: Dialect,
) -> Result<Plan, ApiError> {
    let mut plan = Plan::default();
    let mut rebuilt: BTreeSet<String> = BTreeSet::new();
    for t in snapshot.tables() {
        match catalog.tables.get(t.name()) {
            None => {
                plan.add(format!("create table `{}`", t.name()));
                plan.statements.push(Stmt::unbound(ddl::create_table(t)));
            }
            Some(live) => {
                let constraints = catalog
                    .unique_constraints
                    .get(t.name())
                    .map_or(&[][..], Vec::as_slice);
                if diff_table(t, live, constraints, &mut plan) {
                    rebuilt.insert(t.name().to_owned());
                }
            }
        }
    }
    for name in catalog.tables.keys() {
        if snapshot.table(name).is_none() {
            plan.destroy(format!("drop table `{name}` and its rows"));
            plan.statements
                .push(Stmt::unbound(ddl::drop_table(dialect, name)));
        }
    }
    for (index, table) in &catalog.indexes {
        let Some(t) = snapshot.table(table) else {
            continue;
        };
        let ours = index.starts_with("ix_") || index.starts_with("ux_");
        if ours && !t.def.indexes.iter().any(|i| i.name == *index) {
            plan.add(format!(
                "drop index `{index}` on `{table}` (no longer declared)"
            ));
            // A rebuilt table's indexes went with the old table.
            if !rebuilt.contains(table) {
                plan.statements
                    .push(Stmt::unbound(ddl::drop_index(dialect, table, index)));
            }
        }
    }
    for t in snapshot.tables() {
        for ix in &t.def.indexes {
            let missing = !catalog.indexes.contains_key(&ix.name);
            if missing {
                plan.add(format!("create index `{}` on `{}`", ix.name, t.name()));
            }
            // A rebuilt table has lost every index and takes them all again.
            if missing || rebuilt.contains(t.name()) {
                plan.statements
                    .push(Stmt::unbound(ddl::create_index(t, ix)));
            }
        }
    }
    let latest = if catalog.has_schema_table {
        db.query(&ddl::latest_schema_hash(dialect), &[ColumnType::Text])?
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
    } else {
        None
    };
    plan.record = latest.as_ref().and_then(Json::as_str) != Some(snapshot.ir.hash.as_str());
    Ok(plan)
}

/// Adds the changes of one existing table to `plan`; true when the table is rebuilt (SQLite).
fn diff_table(
    t: &TablePlan,
    live: &BTreeMap<String, LiveColumn>,
    unique_constraints: &[String],
    plan: &mut Plan,
) -> bool {
    let name = t.name();
    let dialect = t.dialect;
    let declared: BTreeSet<&str> = t.columns().iter().map(|c| c.name.as_str()).collect();
    let renamed_from: BTreeSet<&str> = t
        .columns()
        .iter()
        .filter(|c| !live.contains_key(&c.name))
        .filter_map(|c| c.was.as_deref())
        .filter(|w| live.contains_key(*w) && !declared.contains(w))
        .collect();
    let mut alters: Vec<String> = Vec::new();
    // SQLite can only add plain columns, rename and drop in place; anything else rebuilds.
    let mut rebuild = false;
    // Projects made before uniqueness was kept within the scope (SPEC §5.7) hold table-wide
    // unique constraints; the declared unique indexes replace them. Loosening a constraint
    // cannot fail and loses nothing.
    for constraint in unique_constraints {
        plan.add(format!(
            "drop table-wide unique constraint `{constraint}` on `{name}` (its unique index replaces it)"
        ));
        match dialect {
            Dialect::Postgres => alters.push(ddl::pg_drop_constraint(name, constraint)),
            Dialect::Sqlite => rebuild = true,
        }
    }
    for old in live.keys() {
        if !declared.contains(old.as_str()) && !renamed_from.contains(old.as_str()) {
            plan.destroy(format!("drop column `{name}.{old}` and its values"));
            match dialect {
                Dialect::Postgres => alters.push(ddl::drop_column(dialect, name, old)),
                // SQLite refuses to drop an indexed or constrained column in place.
                Dialect::Sqlite => rebuild = true,
            }
        }
    }
    for c in t.columns() {
        let want = ddl::column_storage(t, c);
        let source = if live.contains_key(&c.name) {
            Some(c.name.as_str())
        } else {
            c.was.as_deref().filter(|w| renamed_from.contains(w))
        };
        let Some(source) = source else {
            // A new column.
            if required(c) && !literal_default(c) {
                plan.destroy(format!(
                    "add required column `{name}.{}` without a default (fails if the table has rows)",
                    c.name
                ));
            } else {
                plan.add(format!("add column `{name}.{}` {want}", c.name));
            }
            match dialect {
                Dialect::Postgres => {
                    alters.push(ddl::add_column(t, c));
                    alters.extend(ddl::pg_add_foreign_key(t, c));
                }
                Dialect::Sqlite if required(c) || c.references.is_some() => {
                    rebuild = true;
                }
                Dialect::Sqlite => alters.push(ddl::add_column(t, c)),
            }
            continue;
        };
        if source != c.name {
            plan.add(format!("rename column `{name}.{source}` to `{}`", c.name));
            alters.push(ddl::rename_column(dialect, name, source, &c.name));
        }
        let Some(l) = live.get(source) else { continue };
        if l.ty != want {
            plan.destroy(format!(
                "change the type of `{name}.{}` from {} to {want} (values are converted)",
                c.name, l.ty
            ));
            match dialect {
                Dialect::Postgres => alters.push(ddl::pg_change_type(t, c)),
                Dialect::Sqlite => rebuild = true,
            }
        }
        if l.not_null != required(c) {
            if required(c) {
                plan.destroy(format!(
                    "make `{name}.{}` required (fails if a row holds null)",
                    c.name
                ));
            } else {
                plan.add(format!("make `{name}.{}` optional", c.name));
            }
            match dialect {
                Dialect::Postgres => alters.push(ddl::pg_set_not_null(t, c, required(c))),
                Dialect::Sqlite => rebuild = true,
            }
        }
    }
    if rebuild {
        let sources: Vec<(String, String)> = t
            .columns()
            .iter()
            .filter_map(|c| {
                if live.contains_key(&c.name) {
                    Some((c.name.clone(), c.name.clone()))
                } else {
                    c.was
                        .as_deref()
                        .filter(|w| renamed_from.contains(w))
                        .map(|w| (c.name.clone(), w.to_owned()))
                }
            })
            .collect();
        plan.statements.extend(ddl::sqlite_rebuild(t, &sources));
    } else {
        plan.statements
            .extend(alters.into_iter().map(Stmt::unbound));
    }
    rebuild
}

fn apply(db: &dyn Db, dialect: Dialect, snapshot: &Snapshot, plan: &Plan) -> Result<(), ApiError> {
    db.execute(&Stmt::unbound(ddl::create_schema_table(dialect)))?;
    db.execute(&Stmt::unbound(ddl::create_audit_table(dialect)))?;
    for sql in crate::sql::changes::create_tables(dialect)
        .into_iter()
        .chain(crate::sql::files::create_tables(dialect))
    {
        db.execute(&Stmt::unbound(sql))?;
    }
    for s in &plan.statements {
        db.execute(s)?;
    }
    if plan.record {
        let json = serde_json::to_string(&snapshot.ir).map_err(ApiError::internal)?;
        db.execute(&ddl::insert_schema(
            dialect,
            &snapshot.ir.hash,
            &json,
            &audit::now(),
        ))?;
    }
    Ok(())
}
