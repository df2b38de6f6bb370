//! Schema statements: STRICT tables from the IR, added columns, indexes and the `_ward_schema`
//! bookkeeping table. DDL has no bound parameters; every identifier and default comes from the IR.

use sea_query::{
    Alias, ColumnDef, Expr, ExprTrait, ForeignKey, ForeignKeyAction, Index, Order, Query,
    SqliteQueryBuilder, Table,
};
use ward_ir::{Column, ColumnDefault, ColumnType, IdKind, OnDelete, system};

use super::value::to_db;
use super::{Stmt, col, render, tbl};
use crate::security::access::literal_json;
use crate::snapshot::TablePlan;

pub const SCHEMA_TABLE: &str = "_ward_schema";

/// The STRICT storage type of a column type.
pub fn storage_type(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Integer | ColumnType::Boolean => "INTEGER",
        ColumnType::Float => "REAL",
        ColumnType::Text
        | ColumnType::Uuid
        | ColumnType::Datetime
        | ColumnType::Date
        | ColumnType::Json => "TEXT",
    }
}

/// The storage type of a column of `plan` (the id follows the table's id kind).
pub fn column_storage(plan: &TablePlan, c: &Column) -> &'static str {
    if c.name == system::ID {
        return if plan.def.id == IdKind::Integer {
            "INTEGER"
        } else {
            "TEXT"
        };
    }
    storage_type(c.ty)
}

fn column_def(plan: &TablePlan, c: &Column) -> ColumnDef {
    let mut d = ColumnDef::new(tbl(&c.name));
    d.custom(Alias::new(column_storage(plan, c)));
    if c.name == system::ID {
        d.not_null().primary_key();
        if plan.def.id == IdKind::Integer {
            d.auto_increment();
        }
        return d;
    }
    if c.required {
        d.not_null();
    }
    if c.unique {
        d.unique_key();
    }
    if let Some(ColumnDefault::Literal(l)) = &c.default {
        let v = literal_json(l);
        if !v.is_null() {
            d.default(Expr::val(to_db(c.ty, &v)));
        }
    }
    d
}

fn on_delete(o: OnDelete) -> ForeignKeyAction {
    match o {
        OnDelete::Restrict => ForeignKeyAction::Restrict,
        OnDelete::Cascade => ForeignKeyAction::Cascade,
        OnDelete::SetNull => ForeignKeyAction::SetNull,
    }
}

pub fn create_table(plan: &TablePlan) -> String {
    let mut t = Table::create();
    t.table(tbl(plan.name()));
    for c in plan.columns() {
        t.col(column_def(plan, c));
    }
    for c in plan.columns() {
        if let Some(r) = &c.references {
            t.foreign_key(
                ForeignKey::create()
                    .from(tbl(plan.name()), tbl(&c.name))
                    .to(tbl(&r.table), tbl(system::ID))
                    .on_delete(on_delete(r.on_delete)),
            );
        }
    }
    t.extra("STRICT");
    t.to_string(SqliteQueryBuilder)
}

/// `ALTER TABLE … ADD COLUMN` for a nullable or defaulted column.
pub fn add_column(plan: &TablePlan, c: &Column) -> String {
    Table::alter()
        .table(tbl(plan.name()))
        .add_column(column_def(plan, c))
        .to_string(SqliteQueryBuilder)
}

pub fn create_index(table: &str, name: &str, columns: &[String], unique: bool) -> String {
    let mut i = Index::create();
    i.if_not_exists().name(name).table(tbl(table));
    for c in columns {
        i.col(tbl(c));
    }
    if unique {
        i.unique();
    }
    i.to_string(SqliteQueryBuilder)
}

pub fn create_schema_table() -> String {
    Table::create()
        .table(tbl(SCHEMA_TABLE))
        .if_not_exists()
        .col(
            ColumnDef::new(tbl("hash"))
                .custom(Alias::new("TEXT"))
                .not_null(),
        )
        .col(
            ColumnDef::new(tbl("ir"))
                .custom(Alias::new("TEXT"))
                .not_null(),
        )
        .col(
            ColumnDef::new(tbl("applied_at"))
                .custom(Alias::new("TEXT"))
                .not_null(),
        )
        .extra("STRICT")
        .to_string(SqliteQueryBuilder)
}

pub fn latest_schema_hash() -> Stmt {
    let mut q = Query::select();
    q.from(tbl(SCHEMA_TABLE))
        .column(tbl("hash"))
        .order_by(sea_query::Alias::new("rowid"), Order::Desc)
        .limit(1);
    render(&q)
}

pub fn insert_schema(hash: &str, ir_json: &str, applied_at: &str) -> Stmt {
    let mut q = Query::insert();
    q.into_table(tbl(SCHEMA_TABLE))
        .columns([tbl("hash"), tbl("ir"), tbl("applied_at")])
        .values_panic([hash.into(), ir_json.into(), applied_at.into()]);
    render(&q)
}

/// Names of every table in the database (the caller skips SQLite's own and `_`-prefixed ones).
pub fn list_tables() -> Stmt {
    let mut q = Query::select();
    q.from(tbl("sqlite_master"))
        .column(tbl("name"))
        .and_where(col("type").eq("table"))
        .order_by(tbl("name"), Order::Asc);
    render(&q)
}

pub fn rename_column(table: &str, from: &str, to: &str) -> String {
    Table::alter()
        .table(tbl(table))
        .rename_column(tbl(from), tbl(to))
        .to_string(SqliteQueryBuilder)
}
