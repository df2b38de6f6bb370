//! The baseline's four statements, built once with sea-query at start. Each is the SQL a careful
//! hand-written server would run for the bench project's `items` — tenant column and soft delete
//! in every WHERE, audit columns stamped — with no policy layer around it. Values are bound at
//! request time in the order the placeholders appear (listed beside each statement).

use sea_query::{
    Alias, Expr, ExprTrait, Func, NullOrdering, Order, PostgresQueryBuilder, Query,
    QueryStatementWriter, SqliteQueryBuilder, Value,
};

/// Every column of `items`, in the order a record lists them.
pub const COLUMNS: [&str; 15] = [
    "id",
    "name",
    "status",
    "amount",
    "ratio",
    "active",
    "dueOn",
    "email",
    "orgId",
    "createdAt",
    "createdBy",
    "modifiedAt",
    "modifiedBy",
    "deletedAt",
    "deletedBy",
];

/// The columns a client may write, in the order `insert` and `update` bind them.
pub const WRITABLE: [&str; 7] = [
    "name", "status", "amount", "ratio", "active", "dueOn", "email",
];

#[derive(Clone, Copy)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

pub struct Statements {
    /// binds: id, org
    pub by_id: String,
    /// binds: org, status, limit
    pub list_by_status: String,
    /// binds: id, WRITABLE…, org, now, user, now, user
    pub insert: String,
    /// binds: WRITABLE… (null keeps the stored value), now, user, id, org
    pub update: String,
}

fn col(name: &str) -> Expr {
    Expr::col(Alias::new(name))
}

fn items() -> Alias {
    Alias::new("items")
}

fn placeholder() -> Expr {
    Expr::val(Value::String(None))
}

impl Statements {
    pub fn new(dialect: Dialect) -> Self {
        let columns = COLUMNS.map(Alias::new);
        let by_id = Query::select()
            .columns(columns.clone())
            .from(items())
            .and_where(col("id").eq(placeholder()))
            .and_where(col("orgId").eq(placeholder()))
            .and_where(col("deletedAt").is_null())
            .to_owned();
        let mut list_by_status = Query::select();
        list_by_status
            .columns(columns.clone())
            .from(items())
            .and_where(col("orgId").eq(placeholder()))
            .and_where(col("deletedAt").is_null())
            .and_where(col("status").eq(placeholder()));
        // ward's order for `sort=-amount`: the id tiebreaker in the last key's direction, NULLs
        // where SQLite puts them (spelled out on Postgres, whose default differs).
        for key in ["amount", "id"] {
            match dialect {
                Dialect::Sqlite => list_by_status.order_by(Alias::new(key), Order::Desc),
                Dialect::Postgres => list_by_status.order_by_with_nulls(
                    Alias::new(key),
                    Order::Desc,
                    NullOrdering::Last,
                ),
            };
        }
        list_by_status.limit(0);
        let mut insert_columns = vec![Alias::new("id")];
        insert_columns.extend(WRITABLE.map(Alias::new));
        insert_columns.extend(
            [
                "orgId",
                "createdAt",
                "createdBy",
                "modifiedAt",
                "modifiedBy",
            ]
            .map(Alias::new),
        );
        let insert = Query::insert()
            .into_table(items())
            .columns(insert_columns.clone())
            .values_panic(insert_columns.iter().map(|_| placeholder()))
            .returning(Query::returning().columns(columns.clone()))
            .to_owned();
        let mut update = Query::update();
        update.table(items());
        for name in WRITABLE {
            update.value(Alias::new(name), Func::coalesce([placeholder(), col(name)]));
        }
        update
            .value(Alias::new("modifiedAt"), placeholder())
            .value(Alias::new("modifiedBy"), placeholder())
            .and_where(col("id").eq(placeholder()))
            .and_where(col("orgId").eq(placeholder()))
            .and_where(col("deletedAt").is_null())
            .returning(Query::returning().columns(columns));
        Statements {
            by_id: render(&by_id, dialect),
            list_by_status: render(&list_by_status, dialect),
            insert: render(&insert, dialect),
            update: render(&update, dialect),
        }
    }
}

fn render(statement: &impl QueryStatementWriter, dialect: Dialect) -> String {
    match dialect {
        Dialect::Sqlite => statement.build(SqliteQueryBuilder).0,
        Dialect::Postgres => statement.build(PostgresQueryBuilder).0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_bound_in_the_documented_order() {
        let s = Statements::new(Dialect::Postgres);
        assert!(
            s.by_id.contains(r#""id" = $1 AND "orgId" = $2"#),
            "{}",
            s.by_id
        );
        assert!(
            s.list_by_status
                .contains(r#""orgId" = $1 AND "deletedAt" IS NULL AND "status" = $2"#),
            "{}",
            s.list_by_status
        );
        assert!(
            s.list_by_status.ends_with("LIMIT $3"),
            "{}",
            s.list_by_status
        );
        assert_eq!(s.insert.matches('$').count(), 13, "{}", s.insert);
        assert!(
            s.update
                .contains(r#""modifiedBy" = $9 WHERE "id" = $10 AND "orgId" = $11"#),
            "{}",
            s.update
        );
    }
}
