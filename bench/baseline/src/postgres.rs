//! Postgres through a deadpool of tokio-postgres connections with cached prepared statements.

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use crate::http::{Caller, Failure, Fields, Row, internal, now, timestamp_text};
use crate::sql::{Dialect, Statements};

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
    let time = |i: usize| -> Result<Option<String>, Failure> {
        Ok(row
            .try_get::<_, Option<DateTime<Utc>>>(i)
            .map_err(internal)?
            .map(timestamp_text))
    };
    Ok(Row {
        id: row.try_get::<_, Uuid>(0).map_err(internal)?.to_string(),
        name: row.try_get(1).map_err(internal)?,
        status: row.try_get(2).map_err(internal)?,
        amount: row.try_get(3).map_err(internal)?,
        ratio: row.try_get(4).map_err(internal)?,
        active: row.try_get(5).map_err(internal)?,
        due_on: row
            .try_get::<_, Option<NaiveDate>>(6)
            .map_err(internal)?
            .map(|d| d.to_string()),
        email: row.try_get(7).map_err(internal)?,
        org_id: row.try_get(8).map_err(internal)?,
        created_at: time(9)?,
        created_by: row.try_get(10).map_err(internal)?,
        modified_at: time(11)?,
        modified_by: row.try_get(12).map_err(internal)?,
        deleted_at: time(13)?,
        deleted_by: row.try_get(14).map_err(internal)?,
    })
}
