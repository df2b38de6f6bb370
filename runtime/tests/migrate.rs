#![allow(clippy::unwrap_used)]

mod common;

use common::db::TestDb;
use common::ir::*;
use ward_ir::{Column, ColumnDefault, ColumnType, Literal};
use ward_runtime::{App, ServeOptions, StartError};
use ward_test_macros::backends;

fn base() -> ward_ir::Table {
    table("things")
        .text("name")
        .crud("member+")
        .createable(&["name"])
        .build()
}

#[backends]
async fn additive_changes_apply_and_destructive_ones_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(dir.path());
    let opts = |_: &std::path::Path| db.options(dir.path());
    App::open(ir(vec![base()]), &opts(dir.path()))
        .await
        .unwrap();
    // Reopening the same IR is a no-op.
    App::open(ir(vec![base()]), &opts(dir.path()))
        .await
        .unwrap();

    let mut added = ir(vec![
        table("things")
            .text("name")
            .text("extra")
            .col(Column {
                required: true,
                default: Some(ColumnDefault::Literal(Literal::Integer(3))),
                ..column("n", ColumnType::Integer)
            })
            .crud("member+")
            .createable(&["name"])
            .build(),
    ]);
    added.hash = "second".into();
    let app = App::open(added.clone(), &opts(dir.path())).await.unwrap();
    assert_eq!(app.ir_hash(), "second");

    let gone = ir(vec![base()]);
    let err = App::open(gone, &opts(dir.path())).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StartError::Migration(_)));
    assert!(msg.contains("drop column `things.extra`"), "{msg}");

    let mut retyped = added.clone();
    retyped.tables[0].columns[2].ty = ColumnType::Integer;
    let msg = App::open(retyped, &opts(dir.path()))
        .await
        .unwrap_err()
        .to_string();
    let (text, integer) = if db.is_postgres() {
        ("text", "bigint")
    } else {
        ("TEXT", "INTEGER")
    };
    assert!(
        msg.contains(&format!(
            "change the type of `things.extra` from {text} to {integer}"
        )),
        "{msg}"
    );

    let mut strict = added.clone();
    let mut c = column("must", ColumnType::Text);
    c.required = true;
    strict.tables[0].columns.insert(1, c);
    let msg = App::open(strict, &opts(dir.path()))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("add NOT NULL column `things.must` without a default"),
        "{msg}"
    );

    let err = App::open(ir(vec![]), &opts(dir.path()))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("drop table `things`"), "{err}");
}

#[tokio::test]
async fn an_unreachable_or_misconfigured_database_is_a_start_error() {
    let dir = tempfile::tempdir().unwrap();
    let opts = |url: &str| ServeOptions {
        project_dir: dir.path().to_path_buf(),
        database_url: url.to_owned(),
        require_secret: false,
    };
    // Nothing listens on port 1: refused at once, reported, not retried.
    let started = std::time::Instant::now();
    let err = App::open(ir(vec![base()]), &opts("postgres://ward@127.0.0.1:1/ward"))
        .await
        .unwrap_err();
    assert!(matches!(err, StartError::Database(_)), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("cannot connect to postgres://ward@127.0.0.1:1/ward"),
        "{msg}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    // The password never appears in the message.
    let err = App::open(
        ir(vec![base()]),
        &opts("postgres://ward:hunter2@127.0.0.1:1/ward"),
    )
    .await
    .unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let err = App::open(
        ir(vec![base()]),
        &opts("postgres://ward@127.0.0.1:1/ward?sslmode=bogus"),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("invalid Postgres URL"), "{err}");
    let err = App::open(ir(vec![base()]), &opts("")).await.unwrap_err();
    assert!(matches!(err, StartError::Database(_)), "{err}");

    let mut o = opts(&format!(
        "sqlite://{}",
        dir.path().join("db.sqlite").display()
    ));
    o.require_secret = true;
    assert!(matches!(
        App::open(ir(vec![base()]), &o).await,
        Err(StartError::MissingSecret { .. })
    ));
}
