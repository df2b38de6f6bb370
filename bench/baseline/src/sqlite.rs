//! SQLite as ward configures it (WAL, one writer, a pool of `query_only` readers sized to the
//! cores), with cached prepared statements.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::config::DbConfig;
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OpenFlags, params_from_iter};

use crate::http::{Caller, Failure, Fields, Row, internal, now, timestamp_text};
use crate::sql::{Dialect, Statements};

#[derive(Clone)]
pub struct Store {
    writer: Arc<Mutex<Connection>>,
    readers: r2d2::Pool<SqliteConnectionManager>,
    sql: Arc<Statements>,
}

fn configure(c: &Connection) -> rusqlite::Result<()> {
    c.busy_timeout(Duration::from_secs(5))?;
    // As ward does: cached statements are not re-planned for each bound `LIMIT ?`.
    c.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "NORMAL")?;
    c.pragma_update(None, "foreign_keys", "ON")
}

impl Store {
    /// `synced`: the writer syncs every commit (`synchronous=FULL`, ward's default), else only
    /// at checkpoints (`NORMAL`).
    pub fn open(path: &Path, synced: bool) -> anyhow::Result<Self> {
        let writer = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        configure(&writer)?;
        if synced {
            writer.pragma_update(None, "synchronous", "FULL")?;
        }
        let manager = SqliteConnectionManager::file(path)
            .with_flags(OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_init(|c| {
                configure(c)?;
                c.pragma_update(None, "query_only", "ON")
            });
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        let readers = r2d2::Pool::builder()
            .max_size(u32::try_from(cores).unwrap_or(2).max(2))
            .test_on_check_out(false)
            .build(manager)?;
        Ok(Store {
            writer: Arc::new(Mutex::new(writer)),
            readers,
            sql: Arc::new(Statements::new(Dialect::Sqlite)),
        })
    }

    /// Runs `f` on a blocking thread with a reader (`write = false`) or the writer.
    async fn on<R: Send + 'static>(
        &self,
        write: bool,
        f: impl FnOnce(&Connection, &Statements) -> rusqlite::Result<R> + Send + 'static,
    ) -> Result<R, Failure> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            if write {
                let conn = store.writer.lock().map_err(internal)?;
                f(&conn, &store.sql).map_err(internal)
            } else {
                let conn = store.readers.get().map_err(internal)?;
                f(&conn, &store.sql).map_err(internal)
            }
        })
        .await
        .map_err(internal)?
    }

    pub async fn read(&self, id: String, org: String) -> Result<Option<Row>, Failure> {
        self.on(false, move |c, sql| {
            let mut stmt = c.prepare_cached(&sql.by_id)?;
            let mut rows = stmt.query(params_from_iter([id, org]))?;
            rows.next()?.map(record).transpose()
        })
        .await
    }

    pub async fn list(&self, org: String, status: String, limit: u64) -> Result<Vec<Row>, Failure> {
        self.on(false, move |c, sql| {
            let mut stmt = c.prepare_cached(&sql.list_by_status)?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = stmt.query_map(
                params_from_iter([Sql::Text(org), Sql::Text(status), Sql::Integer(limit)]),
                record,
            )?;
            rows.collect()
        })
        .await
    }

    pub async fn create(&self, caller: Caller, fields: Fields) -> Result<Row, Failure> {
        let id = uuid::Uuid::now_v7().to_string();
        let at = timestamp_text(now());
        self.on(true, move |c, sql| {
            let mut values = vec![Sql::Text(id)];
            values.extend(writable(fields));
            values.extend([
                Sql::Text(caller.org),
                Sql::Text(at.clone()),
                Sql::Text(caller.user.clone()),
                Sql::Text(at),
                Sql::Text(caller.user),
            ]);
            let mut stmt = c.prepare_cached(&sql.insert)?;
            stmt.query_row(params_from_iter(values), record)
        })
        .await
    }

    pub async fn update(
        &self,
        id: String,
        caller: Caller,
        fields: Fields,
    ) -> Result<Option<Row>, Failure> {
        let at = timestamp_text(now());
        self.on(true, move |c, sql| {
            let mut values = writable(fields);
            values.extend([
                Sql::Text(at),
                Sql::Text(caller.user),
                Sql::Text(id),
                Sql::Text(caller.org),
            ]);
            let mut stmt = c.prepare_cached(&sql.update)?;
            let mut rows = stmt.query(params_from_iter(values))?;
            rows.next()?.map(record).transpose()
        })
        .await
    }
}

/// `sql::WRITABLE`'s values in order; `NULL` for an absent key.
fn writable(f: Fields) -> Vec<Sql> {
    fn text(v: Option<String>) -> Sql {
        v.map_or(Sql::Null, Sql::Text)
    }
    vec![
        text(f.name),
        text(f.status),
        f.amount.map_or(Sql::Null, Sql::Integer),
        f.ratio.map_or(Sql::Null, Sql::Real),
        f.active.map_or(Sql::Null, |b| Sql::Integer(i64::from(b))),
        text(f.due_on),
        text(f.email),
    ]
}

fn record(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        id: row.get(0)?,
        name: row.get(1)?,
        status: row.get(2)?,
        amount: row.get(3)?,
        ratio: row.get(4)?,
        active: row.get(5)?,
        due_on: row.get(6)?,
        email: row.get(7)?,
        org_id: row.get(8)?,
        created_at: row.get(9)?,
        created_by: row.get(10)?,
        modified_at: row.get(11)?,
        modified_by: row.get(12)?,
        deleted_at: row.get(13)?,
        deleted_by: row.get(14)?,
    })
}
