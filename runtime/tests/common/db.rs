//! The database a test runs on: SQLite in the test's directory, or, under the Postgres variant
//! of a `#[backends]` test, a fresh schema in `WARD_TEST_POSTGRES_URL`'s database that is dropped
//! when the test's `TestDb` goes.

use std::future::Future;
use std::path::Path;

use ward_runtime::ServeOptions;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

tokio::task_local! {
    static BACKEND: Backend;
}

pub const POSTGRES_URL_VAR: &str = "WARD_TEST_POSTGRES_URL";

/// The backend of the running test (SQLite outside a `#[backends]` test).
pub fn backend() -> Backend {
    BACKEND.try_with(|b| *b).unwrap_or(Backend::Sqlite)
}

/// Runs a `#[backends]` test body on `backend`; the Postgres run is skipped, with a notice, when
/// `WARD_TEST_POSTGRES_URL` is unset.
pub async fn run(backend: Backend, body: impl Future<Output = ()>) {
    if backend == Backend::Postgres && postgres_url().is_none() {
        eprintln!("skipped: {POSTGRES_URL_VAR} is not set, so this Postgres variant does not run");
        return;
    }
    BACKEND.scope(backend, body).await;
}

pub fn postgres_url() -> Option<String> {
    std::env::var(POSTGRES_URL_VAR)
        .ok()
        .filter(|u| !u.is_empty())
}

/// A database for one test.
pub struct TestDb {
    pub url: String,
    schema: Option<PgSchema>,
}

impl TestDb {
    pub fn new(dir: &Path) -> TestDb {
        match backend() {
            Backend::Sqlite => TestDb {
                url: format!("sqlite://{}", dir.join(".ward/data.db").display()),
                schema: None,
            },
            Backend::Postgres => {
                let schema = PgSchema::create();
                TestDb {
                    url: schema.url.clone(),
                    schema: Some(schema),
                }
            }
        }
    }

    pub fn options(&self, dir: &Path) -> ServeOptions {
        ServeOptions {
            project_dir: dir.to_path_buf(),
            database_url: self.url.clone(),
            require_secret: false,
            cors: Default::default(),
            limits: Default::default(),
            sqlite_sync: Default::default(),
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.schema.is_some()
    }

    /// One integer from the test's database, for state the API does not show.
    pub fn scalar(&self, sql: &str) -> i64 {
        match &self.schema {
            Some(schema) => count(&schema.url, sql),
            None => {
                let path = self.url.trim_start_matches("sqlite://");
                let db = rusqlite::Connection::open(path).expect("open the test database");
                db.query_row(sql, [], |r| r.get(0)).expect(sql)
            }
        }
    }

    /// Runs SQL on the test's database behind the server's back (to break it on purpose).
    pub fn raw(&self, sql: &str) {
        match &self.schema {
            Some(schema) => admin(&schema.url, sql.to_owned()),
            None => {
                let path = self.url.trim_start_matches("sqlite://");
                let db = rusqlite::Connection::open(path).expect("open the test database");
                db.execute_batch(sql).expect(sql);
            }
        }
    }
}

/// A schema of its own in the Postgres test database; ward finds it first on `search_path`.
pub struct PgSchema {
    name: String,
    pub url: String,
}

impl PgSchema {
    pub fn create() -> PgSchema {
        let base = postgres_url().expect("the Postgres variant runs only with the URL set");
        let name = format!("ward_test_{}", uuid::Uuid::new_v4().simple());
        admin(&base, format!("CREATE SCHEMA {name}"));
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-csearch_path%3D{name}");
        PgSchema { name, url }
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Some(base) = postgres_url() {
            // A server being dropped with this schema may still have a transaction open in it
            // whose statements its runtime — blocked in this very `drop` — can no longer drive:
            // such a session is ended first, or the DROP would wait on its locks for ever.
            end_sessions_in(&base, &self.name);
            admin(
                &base,
                format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
            );
        }
    }
}

/// Ends every other session holding a lock on a relation of `schema`.
fn end_sessions_in(url: &str, schema: &str) {
    let schema = schema.to_owned();
    on_own_connection(url, |client| async move {
        client
            .execute(
                "SELECT pg_terminate_backend(l.pid) FROM pg_locks l \
                 JOIN pg_class c ON c.oid = l.relation \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND l.pid <> pg_backend_pid()",
                &[&schema],
            )
            .await
            .expect("end the sessions in a test schema");
    });
}

/// Runs one statement on its own connection. The statement text is made from a generated name.
fn admin(url: &str, sql: String) {
    on_own_connection(url, |client| async move {
        client.batch_execute(&sql).await.expect(&sql);
    });
}

/// Runs a query returning one integer on `url`'s database (for assertions about its state).
pub fn count(url: &str, sql: &str) -> i64 {
    let sql = sql.to_owned();
    on_own_connection(url, |client| async move {
        let row = client.query_one(&sql, &[]).await.expect(&sql);
        row.get::<_, i64>(0)
    })
}

/// Runs `f` with a connection of its own to `url`, on a thread of its own so that it works from
/// inside a test's runtime and from `Drop`.
fn on_own_connection<R, F, Fut>(url: &str, f: F) -> R
where
    R: Send + 'static,
    F: FnOnce(tokio_postgres::Client) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = R>,
{
    let url = url.to_owned();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .expect("connect to WARD_TEST_POSTGRES_URL");
            tokio::spawn(conn);
            f(client).await
        })
    })
    .join()
    .expect("a statement on its own connection")
}
