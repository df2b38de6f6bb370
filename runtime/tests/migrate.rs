#![allow(clippy::unwrap_used)]

mod common;

use common::ir::*;
use ward_ir::{Column, ColumnDefault, ColumnType, Literal};
use ward_runtime::{App, ServeOptions, StartError};

fn opts(dir: &std::path::Path) -> ServeOptions {
    ServeOptions {
        project_dir: dir.to_path_buf(),
        database_url: dir.join("db.sqlite").display().to_string(),
        require_secret: false,
    }
}

fn base() -> ward_ir::Table {
    table("things")
        .text("name")
        .crud("member+")
        .createable(&["name"])
        .build()
}

#[test]
fn additive_changes_apply_and_destructive_ones_refuse() {
    let dir = tempfile::tempdir().unwrap();
    App::open(ir(vec![base()]), &opts(dir.path())).unwrap();
    // Reopening the same IR is a no-op.
    App::open(ir(vec![base()]), &opts(dir.path())).unwrap();

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
    let app = App::open(added.clone(), &opts(dir.path())).unwrap();
    assert_eq!(app.ir_hash(), "second");

    let gone = ir(vec![base()]);
    let err = App::open(gone, &opts(dir.path())).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StartError::Migration(_)));
    assert!(msg.contains("drop column `things.extra`"), "{msg}");

    let mut retyped = added.clone();
    retyped.tables[0].columns[2].ty = ColumnType::Integer;
    let msg = App::open(retyped, &opts(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("change the type of `things.extra` from TEXT to INTEGER"),
        "{msg}"
    );

    let mut strict = added.clone();
    let mut c = column("must", ColumnType::Text);
    c.required = true;
    strict.tables[0].columns.insert(1, c);
    let msg = App::open(strict, &opts(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("add NOT NULL column `things.must` without a default"),
        "{msg}"
    );

    let err = App::open(ir(vec![]), &opts(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("drop table `things`"), "{err}");
}

#[test]
fn bad_database_url_is_a_start_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.database_url = "postgres://localhost/x".into();
    assert!(matches!(
        App::open(ir(vec![base()]), &o),
        Err(StartError::Database(_))
    ));
    let mut o = opts(dir.path());
    o.require_secret = true;
    assert!(matches!(
        App::open(ir(vec![base()]), &o),
        Err(StartError::MissingSecret { .. })
    ));
}
