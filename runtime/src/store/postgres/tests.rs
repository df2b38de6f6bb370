//! The read transaction: one snapshot for the whole read, and never a connection handed back to
//! the pool inside it, whatever the read did.

#![allow(clippy::unwrap_used)]

use crate::http::error::ApiError;
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

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_see_one_snapshot_and_always_end_their_transaction() {
    let Ok(url) = std::env::var("WARD_TEST_POSTGRES_URL") else {
        eprintln!("notice: WARD_TEST_POSTGRES_URL is unset; the Postgres read test is skipped");
        return;
    };
    let other = connect(&url).await;
    other.batch_execute(DROP_SQL).await.unwrap();
    other.batch_execute(TABLE_SQL).await.unwrap();
    let store = Store::open(&url).await.unwrap();

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
