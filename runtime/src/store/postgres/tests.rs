//! The read transaction: one snapshot for the whole read, and never a connection handed back to
//! the pool inside it, whatever the read did.

#![allow(clippy::unwrap_used)]

use crate::error::ApiError;
use crate::sql::Stmt;
use crate::store::{Db, Store, row};

const TABLE_SQL: &str = "CREATE TABLE ward_store_read_test (x INTEGER)";
const DROP_SQL: &str = "DROP TABLE IF EXISTS ward_store_read_test";

fn count(db: &dyn Db) -> Result<i64, ApiError> {
    row::scalar(
        db,
        &Stmt::unbound("SELECT count(*) FROM ward_store_read_test"),
    )
}

/// The test database's URL, or a notice that the `what` test is skipped without one.
fn postgres_url(what: &str) -> Option<String> {
    let url = std::env::var("WARD_TEST_POSTGRES_URL").ok();
    if url.is_none() {
        eprintln!("notice: WARD_TEST_POSTGRES_URL is unset; the Postgres {what} test is skipped");
    }
    url
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

/// A schema of its own on the test database (its name generated: sea-query has no schema
/// statements), with table `t` of one integer column `x` when `x` is given, and a store whose
/// search path is that schema.
async fn own_schema(
    admin: &tokio_postgres::Client,
    base: &str,
    prefix: &str,
    x: Option<sea_query::ColumnDef>,
) -> (String, Store) {
    let schema = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    if let Some(mut x) = x {
        let t = sea_query::Table::create()
            .table((
                sea_query::Alias::new(schema.as_str()),
                sea_query::Alias::new("t"),
            ))
            .col(&mut x)
            .to_string(sea_query::PostgresQueryBuilder);
        admin.batch_execute(&t).await.unwrap();
    }
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
    (schema, Store::open(&url, Default::default()).await.unwrap())
}

async fn drop_schema(admin: &tokio_postgres::Client, schema: &str) {
    admin
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}

/// Column `x` of table `t`: an integer, never null.
fn x_column() -> sea_query::ColumnDef {
    let mut x = sea_query::ColumnDef::new(sea_query::Alias::new("x"));
    x.integer().not_null();
    x
}

/// [`x_column`], each value at most once.
fn unique_x_column() -> sea_query::ColumnDef {
    let mut x = x_column();
    x.unique_key();
    x
}

/// `INSERT INTO t (x) VALUES ($1)`, with `RETURNING x` when asked: the statement the write
/// tests below send, `x` bound like every value ward sends.
fn insert_x(x: i64, returning: bool) -> Stmt {
    use crate::sql::{Dialect, render, tbl};
    let mut q = sea_query::Query::insert();
    q.into_table(tbl("t"))
        .columns([tbl("x")])
        .values_panic([x.into()]);
    if returning {
        q.returning_col(tbl("x"));
    }
    render(Dialect::Postgres, &q)
}

/// Every `x` of table `t`, ascending.
async fn xs(store: &Store) -> Vec<i64> {
    use crate::sql::{Dialect, render, tbl};
    let mut q = sea_query::Query::select();
    q.column(tbl("x"))
        .from(tbl("t"))
        .order_by(tbl("x"), sea_query::Order::Asc);
    let stmt = render(Dialect::Postgres, &q);
    store
        .read(move |db| db.query(&stmt, &[ward_ir::ColumnType::Integer]))
        .await
        .unwrap()
        .into_iter()
        .filter_map(|r| r.first().and_then(serde_json::Value::as_i64))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_see_one_snapshot_and_always_end_their_transaction() {
    let Some(url) = postgres_url("read") else {
        return;
    };
    let other = connect(&url).await;
    other.batch_execute(DROP_SQL).await.unwrap();
    other.batch_execute(TABLE_SQL).await.unwrap();
    let store = Store::open(&url, Default::default()).await.unwrap();

    // Another connection commits between the two statements of one read.
    let writer_url = url.clone();
    let (before, after) = store
        .read(move |db| {
            let before = count(db)?;
            let rt = tokio::runtime::Handle::current();
            rt.block_on(async {
                connect(&writer_url)
                    .await
                    .batch_execute("INSERT INTO ward_store_read_test VALUES (1)")
                    .await
            })
            .unwrap();
            Ok((before, count(db)?))
        })
        .await
        .unwrap();
    assert_eq!(
        (before, after),
        (0, 0),
        "both statements see the first snapshot"
    );

    // Reads that fail after a statement, or panic, hand their connection back outside any
    // transaction: a write on it (a READ ONLY transaction would refuse it) still works, and sees
    // what was committed since.
    for _ in 0..3 {
        let failed = store
            .read(|db| {
                count(db)?;
                Err::<(), _>(ApiError::internal("refused after a statement"))
            })
            .await;
        assert!(failed.is_err());
        let panicked = store
            .read(|db| -> Result<(), ApiError> {
                count(db)?;
                panic!("a bug in policy code")
            })
            .await;
        assert!(panicked.is_err());
        let n = store
            .write(|db| {
                db.execute(&Stmt::unbound(
                    "INSERT INTO ward_store_read_test VALUES (2)",
                ))?;
                count(db)
            })
            .await
            .unwrap();
        assert!(n >= 2, "the write saw the committed rows: {n}");
    }
    assert_eq!(store.read(|_| Ok(7)).await.unwrap(), 7);
    // Outside a transaction: one statement awaited on the runtime, and a single-statement
    // closure whose second statement is refused rather than run in another snapshot.
    let counted = store
        .query(
            Stmt::unbound("SELECT count(*) FROM ward_store_read_test"),
            vec![ward_ir::ColumnType::Integer],
        )
        .await
        .unwrap();
    assert_eq!(counted, vec![vec![serde_json::json!(4)]]);
    let two = store.write_one(|db| Ok((count(db)?, count(db)?))).await;
    assert!(two.is_err(), "{two:?}");
    assert_eq!(store.read(count).await.unwrap(), 4);
    other.batch_execute(DROP_SQL).await.unwrap();
}

fn by_x(x: i64) -> Stmt {
    Stmt {
        sql: "SELECT 10 / x FROM ward_store_shared_test WHERE x = $1".into(),
        values: sea_query::Values(vec![sea_query::Value::BigInt(Some(x))]),
    }
}

/// Reads by key share pipelined connections: many in flight at once, a failing one (a division
/// by zero at execution) fails alone, and a column's type changed by a migration, this
/// instance's or another's, leaves no stale prepared statement behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_by_key_pipeline_fail_alone_and_follow_a_migration() {
    let Some(url) = postgres_url("shared-read") else {
        return;
    };
    let other = connect(&url).await;
    other
        .batch_execute(
            "DROP TABLE IF EXISTS ward_store_shared_test; \
             CREATE TABLE ward_store_shared_test (x INTEGER); \
             INSERT INTO ward_store_shared_test SELECT generate_series(0, 9)",
        )
        .await
        .unwrap();
    let store = Store::open(&url, Default::default()).await.unwrap();
    let int = || vec![ward_ir::ColumnType::Integer];

    let reads = (0..64).map(|i| {
        let store = store.clone();
        tokio::spawn(async move { (i, store.query_by_key(by_x(i % 10), int()).await) })
    });
    for read in reads {
        let (i, answer) = read.await.unwrap();
        match i % 10 {
            0 => assert!(answer.is_err(), "10 / 0 fails: {answer:?}"),
            x => assert_eq!(answer.unwrap(), vec![vec![serde_json::json!(10 / x)]]),
        }
    }

    let in_transaction = || {
        store.read(|db| {
            let rows = db.query(&by_x(5), &[ward_ir::ColumnType::Integer])?;
            Ok(rows)
        })
    };
    for _ in 0..4 {
        in_transaction().await.unwrap();
    }
    store
        .schema_write(|db| {
            db.execute(&Stmt::unbound(
                "ALTER TABLE ward_store_shared_test ALTER COLUMN x TYPE BIGINT",
            ))
        })
        .await
        .unwrap();
    for _ in 0..8 {
        let answer = store.query_by_key(by_x(5), int()).await;
        assert_eq!(answer.unwrap(), vec![vec![serde_json::json!(2)]]);
        let answer = in_transaction().await;
        assert_eq!(answer.unwrap(), vec![vec![serde_json::json!(2)]]);
    }
    // The same change made by another instance: each connection prepares again when told.
    other
        .batch_execute("ALTER TABLE ward_store_shared_test ALTER COLUMN x TYPE INTEGER")
        .await
        .unwrap();
    for _ in 0..8 {
        let answer = store.query_by_key(by_x(5), int()).await;
        assert_eq!(answer.unwrap(), vec![vec![serde_json::json!(2)]]);
    }
    other
        .batch_execute("DROP TABLE ward_store_shared_test")
        .await
        .unwrap();
}

/// Change records on Postgres: a write appends its record unnumbered and never waits for
/// another writer of the table; numbering passes give numbers in the order the records are
/// found committed — so a record committed later gets a larger number even when its write
/// began first, and a reader that has seen a number has seen every smaller one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn change_numbers_follow_commit_order_without_writers_waiting() {
    use std::sync::{Arc, Mutex, mpsc};
    use std::time::Duration;

    use crate::engine::journal;
    use crate::sql::{Dialect, changes};

    let Some(base) = postgres_url("numbering") else {
        return;
    };
    let admin = connect(&base).await;
    let (schema, store) = own_schema(&admin, &base, "ward_numbering", None).await;
    store
        .schema_write(|db| {
            for sql in changes::create_tables(Dialect::Postgres) {
                db.execute(&Stmt::unbound(sql))?;
            }
            Ok(())
        })
        .await
        .unwrap();
    // Records one change of row `id` of `notes`.
    let record = |db: &dyn Db, id: &str| -> Result<(), ApiError> {
        let change = changes::ChangeRow {
            table: "notes",
            op: "insert",
            row_id: id,
            at: "2026-01-01T00:00:00.000Z",
            actor: None,
            role: None,
            request: None,
            before: None,
            after: Some("{}".to_owned()),
        };
        db.execute(&changes::record_change(Dialect::Postgres, change)?)?;
        Ok(())
    };
    let log = |store: Store| async move {
        journal::settle(&store).await.unwrap();
        let stmt = changes::all(Dialect::Postgres, "notes");
        let records = store
            .read(move |db| journal::read(db, &stmt))
            .await
            .unwrap();
        records
            .into_iter()
            .map(|c| (c.id, c.seq))
            .collect::<Vec<_>>()
    };

    let (recorded, first_recorded) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let released = Arc::new(Mutex::new(released));
    let first = tokio::spawn({
        let store = store.clone();
        async move {
            store
                .write(move |db| {
                    record(db, "first")?;
                    let _ = recorded.send(());
                    let _ = released.lock().map(|r| r.recv());
                    Ok(())
                })
                .await
        }
    });
    tokio::task::spawn_blocking(move || first_recorded.recv_timeout(Duration::from_secs(10)))
        .await
        .unwrap()
        .unwrap();
    // The second writer of the table commits while the first is still open.
    let second = tokio::time::timeout(
        Duration::from_secs(10),
        store.write(move |db| record(db, "second")),
    )
    .await;
    let seen_meanwhile = log(store.clone()).await;
    release.send(()).unwrap();
    first.await.unwrap().unwrap();
    let seen_after = log(store.clone()).await;
    drop_schema(&admin, &schema).await;

    assert!(
        second.is_ok_and(|r| r.is_ok()),
        "a second writer of the table does not wait for the first"
    );
    let ids = |log: &[(String, i64)]| log.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&seen_meanwhile), ["second"], "only committed records");
    assert_eq!(
        ids(&seen_after),
        ["second", "first"],
        "numbered in commit order"
    );
    assert_eq!(
        seen_after[0], seen_meanwhile[0],
        "a number, once given, stays"
    );
    assert!(seen_after[1].1 > seen_after[0].1, "numbers rise");
}

/// Statements appended to a write transaction ([`Db::append`], the change records) are sent with
/// the next statement or the COMMIT, not alone: they must still run in the order written,
/// inside the savepoints around them, and fail their transaction with their own error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appended_statements_run_in_order_and_fail_their_transaction() {
    use crate::store::Control;

    let Some(base) = postgres_url("appended statements") else {
        return;
    };
    let admin = connect(&base).await;
    let (schema, store) = own_schema(&admin, &base, "ward_append", Some(unique_x_column())).await;
    let insert = |x: i64| insert_x(x, false);

    // A statement after an appended one sees it; one appended inside a savepoint that is rolled
    // back is undone with it.
    let seen = store
        .write(move |db| {
            db.append(insert(1))?;
            let seen = row::scalar(db, &Stmt::unbound("SELECT count(*) FROM t"))?;
            db.control(Control::Savepoint)?;
            db.append(insert(2))?;
            db.control(Control::RollbackTo)?;
            db.append(insert(3))?;
            Ok(seen)
        })
        .await
        .unwrap();
    assert_eq!(seen, 1, "the appended INSERT ran before the count");
    assert_eq!(xs(&store).await, [1, 3]);

    // An appended statement that fails fails the write with its own error — not the aborted
    // transaction's, of the statement sent after it — and leaves nothing.
    let failed = store
        .write(move |db| {
            db.append(insert(4))?;
            db.append(insert(1))?;
            db.execute(&insert(5))?;
            Ok(())
        })
        .await;
    let code = |r: Result<(), ApiError>| r.err().map(|e| e.code().to_owned());
    assert_eq!(code(failed), code(Err(ApiError::unique_violation())));
    let at_commit = store
        .write(move |db| {
            db.append(insert(6))?;
            db.append(insert(3))?;
            Ok(())
        })
        .await;
    assert_eq!(code(at_commit), code(Err(ApiError::unique_violation())));
    // A write that fails after appending, before anything else is sent, leaves nothing either,
    // and its connection goes back to the pool outside any transaction.
    for _ in 0..4 {
        let refused = store
            .write(move |db| {
                db.append(insert(7))?;
                Err::<(), _>(ApiError::internal("refused"))
            })
            .await;
        assert!(refused.is_err());
        let sent = store
            .write(move |db| {
                db.execute(&insert(8))?;
                db.append(insert(9))?;
                Err::<(), _>(ApiError::internal("refused after a statement"))
            })
            .await;
        assert!(sent.is_err());
    }
    let after = xs(&store).await;
    drop_schema(&admin, &schema).await;
    assert_eq!(after, [1, 3]);
}

/// A write on the runtime ([`Store::write_then`]) whose request is dropped mid-transaction —
/// the client went away while the INSERT waited on another's — must neither commit nor hand its
/// connection back to the pool with the transaction still open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_the_runtime_cancelled_mid_transaction_leaves_nothing_open() {
    use std::time::Duration;

    let Some(base) = postgres_url("cancelled write") else {
        return;
    };
    let admin = connect(&base).await;
    let (schema, store) = own_schema(&admin, &base, "ward_cancel", Some(unique_x_column())).await;
    let insert = |x: i64| insert_x(x, true);
    let types = vec![ward_ir::ColumnType::Integer];

    // Another session has inserted x = 1 and not yet committed, so the write's INSERT of the
    // same x waits inside its transaction (sent, with the transaction's opening) for that
    // session to end; the write is dropped meanwhile.
    let holder = connect(&base).await;
    let taken = sea_query::Query::insert()
        .into_table((
            sea_query::Alias::new(schema.as_str()),
            sea_query::Alias::new("t"),
        ))
        .columns([sea_query::Alias::new("x")])
        .values_panic([1.into()])
        .to_string(sea_query::PostgresQueryBuilder);
    holder.batch_execute("BEGIN").await.unwrap();
    holder.batch_execute(&taken).await.unwrap();
    let cancelled = tokio::time::timeout(
        Duration::from_millis(300),
        store.write_then(vec![insert(1)], types.clone(), |db, _| {
            db.append(insert_x(2, false))
        }),
    )
    .await;
    assert!(cancelled.is_err(), "the write was still waiting");
    holder.batch_execute("ROLLBACK").await.unwrap();

    // Every connection the pool hands out afterwards starts outside any transaction: writes
    // commit, and nothing of the cancelled one is there.
    for x in 3..8 {
        store
            .write_then(vec![insert(x)], types.clone(), |_, _| Ok(()))
            .await
            .unwrap();
    }
    let rows = xs(&store).await;
    let open: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%' \
             AND datname = current_database() AND query LIKE 'INSERT INTO \"t\"%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    drop_schema(&admin, &schema).await;
    assert_eq!(rows, [3, 4, 5, 6, 7]);
    assert_eq!(open, 0, "no session left inside the cancelled transaction");
}

/// A write that grew a realtime table's log is announced to every listening instance after it
/// commits, by the store's announcer, whichever way the write ran; one that did not commit —
/// refused by ward, or failed at its COMMIT — is never announced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_writes_are_announced_after_commit_and_others_never() {
    use std::time::Duration;

    use crate::sql::changes::CHANNEL;
    use ward_ir::ColumnType::Integer;

    let Some(base) = postgres_url("announcement") else {
        return;
    };
    let admin = connect(&base).await;
    let (schema, store) = own_schema(&admin, &base, "ward_announce", Some(unique_x_column())).await;

    // Another instance, listening. Other tests on this database announce their own tables:
    // this one's names are its own.
    let (listener, mut connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .unwrap();
    let (heard, mut hearing) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(message)) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            if let tokio_postgres::AsyncMessage::Notification(n) = message {
                let _ = heard.send(n.payload().to_owned());
            }
        }
    });
    listener
        .batch_execute(&format!("LISTEN \"{CHANNEL}\""))
        .await
        .unwrap();
    let name = |what: &str| format!("{what}_{schema}");
    let (refused, failed, written, alone) = (
        name("refused"),
        name("failed"),
        name("written"),
        name("alone"),
    );

    let r = refused.clone();
    let outcome = store
        .write(move |db| {
            db.execute(&insert_x(1, false))?;
            db.announce(&r);
            Err::<(), _>(ApiError::internal("refused"))
        })
        .await;
    assert!(outcome.is_err());
    let f = failed.clone();
    let outcome = store
        .write(move |db| {
            db.execute(&insert_x(1, false))?;
            db.announce(&f);
            // Fails at the COMMIT it rides with.
            db.append(insert_x(1, false))
        })
        .await;
    assert!(outcome.is_err());
    let w = written.clone();
    store
        .write(move |db| {
            db.execute(&insert_x(2, false))?;
            db.announce(&w);
            db.announce(&w);
            Ok(())
        })
        .await
        .unwrap();
    let a = alone.clone();
    store
        .write_then(vec![insert_x(3, true)], vec![Integer], move |db, _| {
            db.announce(&a);
            Ok(())
        })
        .await
        .unwrap();

    // Notifications arrive in commit order, and the announcer sends what it gathered in order:
    // by the time both committed tables are heard, any announcement of the others would have
    // been heard too.
    let mut ours = Vec::new();
    while !(ours.contains(&written) && ours.contains(&alone)) {
        let payload = tokio::time::timeout(Duration::from_secs(10), hearing.recv())
            .await
            .expect("the committed writes were announced")
            .unwrap();
        if payload.ends_with(schema.as_str()) {
            ours.push(payload);
        }
    }
    drop(listener);
    drop_schema(&admin, &schema).await;
    assert!(!ours.contains(&refused), "{ours:?}");
    assert!(!ours.contains(&failed), "{ours:?}");
    assert_eq!(
        ours.iter().filter(|p| **p == written).count(),
        1,
        "one write's table announced once: {ours:?}"
    );
}
