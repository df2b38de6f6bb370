//! Postgres through a deadpool of tokio-postgres connections with cached prepared statements.

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use serde_json::{Map, Value};
use tokio_postgres::NoTls;
use tokio_postgres::types::{ToSql, Type};
use uuid::Uuid;

use crate::http::{Caller, Failure, Fields, Row, internal, now, timestamp_text};
use crate::sql::{COLUMNS, Dialect, Statements};

pub struct Store {
    pool: Pool,
    sql: Statements,
}

impl Store {
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        let config: tokio_postgres::Config = url.parse()?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        // Sized as ward sizes its pool, so neither side wins on connection count.
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        let pool = Pool::builder(manager)
            .max_size((cores * 4).max(8))
            .build()?;
        pool.get().await?.simple_query("SELECT 1").await?;
        Ok(Store {
            pool,
            sql: Statements::new(Dialect::Postgres),
        })
    }

    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, Failure> {
        let client = self.pool.get().await.map_err(internal)?;
        let stmt = client.prepare_cached(sql).await.map_err(internal)?;
        client.query(&stmt, params).await.map_err(internal)
    }

    pub async fn read(&self, id: &str, org: &str) -> Result<Option<Row>, Failure> {
        // An id that is not a uuid names no row, as in ward.
        let Ok(id) = Uuid::parse_str(id) else {
            return Ok(None);
        };
        let rows = self.query(&self.sql.by_id, &[&id, &org]).await?;
        rows.first().map(record).transpose()
    }

    pub async fn list(&self, org: &str, status: &str, limit: u64) -> Result<Vec<Row>, Failure> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .query(&self.sql.list_by_status, &[&org, &status, &limit])
            .await?;
        rows.iter().map(record).collect()
    }

    pub async fn create(&self, caller: &Caller, f: &Fields) -> Result<Row, Failure> {
        let id = Uuid::now_v7();
        let at = now();
        let due_on = date(f.due_on.as_deref())?;
        let rows = self
            .query(
                &self.sql.insert,
                &[
                    &id,
                    &f.name,
                    &f.status,
                    &f.amount,
                    &f.ratio,
                    &f.active,
                    &due_on,
                    &f.email,
                    &caller.org,
                    &at,
                    &caller.user,
                    &at,
                    &caller.user,
                ],
            )
            .await?;
        rows.first()
            .map(record)
            .transpose()?
            .ok_or_else(|| internal("INSERT returned no row"))
    }

    pub async fn update(
        &self,
        id: &str,
        caller: &Caller,
        f: &Fields,
    ) -> Result<Option<Row>, Failure> {
        let Ok(id) = Uuid::parse_str(id) else {
            return Ok(None);
        };
        let at = now();
        let due_on = date(f.due_on.as_deref())?;
        let rows = self
            .query(
                &self.sql.update,
                &[
                    &f.name,
                    &f.status,
                    &f.amount,
                    &f.ratio,
                    &f.active,
                    &due_on,
                    &f.email,
                    &at,
                    &caller.user,
                    &id,
                    &caller.org,
                ],
            )
            .await?;
        rows.first().map(record).transpose()
    }
}

fn date(text: Option<&str>) -> Result<Option<NaiveDate>, Failure> {
    text.map(|t| NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(internal))
        .transpose()
}

fn record(row: &tokio_postgres::Row) -> Result<Row, Failure> {
    let mut out = Map::with_capacity(COLUMNS.len());
    for (i, column) in row.columns().iter().enumerate() {
        let ty = column.type_();
        let value = if *ty == Type::UUID {
            row.try_get::<_, Option<Uuid>>(i)
                .map(|v| v.map(|u| Value::from(u.to_string())))
        } else if *ty == Type::TIMESTAMPTZ {
            row.try_get::<_, Option<DateTime<Utc>>>(i)
                .map(|v| v.map(|t| Value::from(timestamp_text(t))))
        } else if *ty == Type::DATE {
            row.try_get::<_, Option<NaiveDate>>(i)
                .map(|v| v.map(|d| Value::from(d.to_string())))
        } else if *ty == Type::INT8 {
            row.try_get::<_, Option<i64>>(i).map(|v| v.map(Value::from))
        } else if *ty == Type::FLOAT8 {
            row.try_get::<_, Option<f64>>(i).map(|v| v.map(Value::from))
        } else if *ty == Type::BOOL {
            row.try_get::<_, Option<bool>>(i)
                .map(|v| v.map(Value::from))
        } else {
            row.try_get::<_, Option<String>>(i)
                .map(|v| v.map(Value::from))
        };
        let value = value.map_err(internal)?.unwrap_or(Value::Null);
        out.insert(column.name().to_owned(), value);
    }
    Ok(Value::Object(out))
}
