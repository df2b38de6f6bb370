#![allow(clippy::unwrap_used)]

use crate::common;

use common::db::TestDb;
use common::ir::*;
use serde_json::json;
use ward_ir::{Column, ColumnDefault, ColumnType, Literal};
use ward_runtime::{App, ServeOptions, StartError};
use ward_test_macros::backends;

use common::id_str;

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
        msg.contains("add required column `things.must` without a default"),
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
        cors: Default::default(),
        limits: Default::default(),
        sqlite_sync: Default::default(),
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

fn reference(name: &str, target: &str) -> Column {
    Column {
        references: Some(ward_ir::Reference {
            table: target.into(),
            on_delete: ward_ir::OnDelete::Cascade,
        }),
        ..column(name, ColumnType::Uuid)
    }
}

fn family(size: ColumnType, hash: &str) -> ward_ir::Ir {
    let parents = table("parents")
        .text("name")
        .col(column("size", size))
        .crud("member+")
        .createable(&["name", "size"])
        .build();
    let children = table("children")
        .col(reference("parentId", "parents"))
        .crud("member+")
        .createable(&["parentId"])
        .build();
    let mut ir = ir(vec![parents, children]);
    ir.hash = hash.into();
    ir
}

/// `ward migrate` without `--apply` only plans; with it, a destructive change that rebuilds a
/// parent table (SQLite) or alters it (Postgres) keeps the rows of the tables that reference
/// it: the old table's removal never cascades.
#[backends]
async fn planning_changes_nothing_and_a_rebuild_keeps_referencing_rows() {
    let s = common::start(family(ColumnType::Integer, "v1")).await;
    let member = s.token("u1", &["member"], None);
    let parent = s
        .create("parents", &member, json!({"name": "p", "size": 7}))
        .await;
    let child = s
        .create("children", &member, json!({"parentId": parent}))
        .await;

    let plan = ward_runtime::migrate(
        family(ColumnType::Text, "v2"),
        &s.db.url,
        ward_runtime::MigrateMode::Plan,
    )
    .await
    .unwrap();
    assert!(plan.is_destructive());
    let printed = plan.to_string();
    assert!(
        printed.contains("! change the type of `parents.size`"),
        "{printed}"
    );
    // Planning again gives the same plan: nothing was applied.
    let again = ward_runtime::migrate(
        family(ColumnType::Text, "v2"),
        &s.db.url,
        ward_runtime::MigrateMode::Plan,
    )
    .await
    .unwrap();
    assert_eq!(again.to_string(), printed);
    let refused = ward_runtime::migrate(
        family(ColumnType::Text, "v2"),
        &s.db.url,
        ward_runtime::MigrateMode::Apply {
            allow_destructive: false,
        },
    )
    .await
    .unwrap_err();
    assert!(
        refused.to_string().contains("--allow-destructive"),
        "{refused}"
    );

    s.app
        .reload(family(ColumnType::Text, "v2"), true)
        .await
        .unwrap();
    let r = s
        .get(&format!("/api/parents/{}", id_str(&parent)), &member)
        .await;
    assert_eq!(r.json()["data"]["size"], "7", "{}", r.text);
    let r = s
        .get(&format!("/api/children/{}", id_str(&child)), &member)
        .await;
    assert_eq!(r.status, 200, "the child survived the rebuild: {}", r.text);
    // The foreign key still holds after the rebuild.
    let r = s
        .post(
            "/api/children",
            &member,
            json!({"parentId": "00000000-0000-4000-8000-000000000009"}),
        )
        .await;
    assert_eq!(r.code(), "REFERENCE_VIOLATION", "{}", r.text);
    let after = ward_runtime::migrate(
        family(ColumnType::Text, "v2"),
        &s.db.url,
        ward_runtime::MigrateMode::Plan,
    )
    .await
    .unwrap();
    assert!(after.is_empty(), "{after}");
}

#[test]
fn debug_output_never_shows_the_database_password() {
    let opts = ServeOptions {
        project_dir: ".".into(),
        database_url: "postgres://ward:hunter2@db.example:5432/app".into(),
        require_secret: false,
        cors: Default::default(),
        limits: Default::default(),
        sqlite_sync: Default::default(),
    };
    let printed = format!("{opts:?}");
    assert!(!printed.contains("hunter2"), "{printed}");
    assert!(
        printed.contains("postgres://ward@db.example:5432/app"),
        "{printed}"
    );
}

/// Projects made before uniqueness was kept within the scope (SPEC §5.7) hold a table-wide
/// UNIQUE constraint on each `unique=#true` column and a `ux_T_col` index. Starting the new
/// version loosens them without `--allow-destructive`, keeps every row, and from then on another
/// tenant's value is free while a tenant's own still clashes.
#[backends]
async fn a_table_wide_unique_constraint_becomes_unique_within_the_scope() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(dir.path());
    let codes = || {
        ir(vec![
            table("codes")
                .col(Column {
                    unique: true,
                    ..column("code", ColumnType::Text)
                })
                .text("org")
                .scope("org", "org-id", "")
                .crud("member+")
                .open_guards()
                .build(),
        ])
    };
    let opts = db.options(dir.path());
    drop(App::open(codes(), &opts).await.unwrap());
    // The old shape, from the SQL ward emitted before: the constraint in the table, the index on
    // the column alone.
    if db.is_postgres() {
        db.raw(
            "DROP INDEX ux_codes_org_code; \
             ALTER TABLE codes ADD CONSTRAINT codes_code_key UNIQUE (code); \
             CREATE UNIQUE INDEX ux_codes_code ON codes (code); \
             INSERT INTO codes (id, code, org, \"createdAt\", \"modifiedAt\") \
             VALUES ('01890000-0000-7000-8000-000000000001', 'X', 'acme', now(), now())",
        );
    } else {
        let path = db.url.trim_start_matches("sqlite://");
        let conn = rusqlite::Connection::open(path).unwrap();
        let sql: String = conn
            .query_row(
                "SELECT sql FROM sqlite_master WHERE name = 'codes'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let legacy = sql
            .replace("\"codes\"", "\"codes_legacy\"")
            .replace("\"code\" TEXT", "\"code\" TEXT UNIQUE");
        assert_ne!(legacy, sql);
        conn.execute_batch(&format!(
            "DROP TABLE codes; {legacy}; ALTER TABLE codes_legacy RENAME TO codes; \
             CREATE UNIQUE INDEX ux_codes_code ON codes (code); CREATE INDEX ix_codes_org ON codes (org); \
             INSERT INTO codes (id, code, org, createdAt, modifiedAt) \
             VALUES ('01890000-0000-7000-8000-000000000001', 'X', 'acme', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')"
        ))
        .unwrap();
    }
    let legacy = "SELECT count(*) FROM codes";
    assert_eq!(db.scalar(legacy), 1);

    let plan = ward_runtime::migrate(codes(), &db.url, ward_runtime::MigrateMode::Plan)
        .await
        .unwrap();
    let printed = plan.to_string();
    assert!(!plan.is_destructive(), "{printed}");
    assert!(
        printed.contains("drop table-wide unique constraint"),
        "{printed}"
    );
    assert!(printed.contains("drop index `ux_codes_code`"), "{printed}");
    assert!(
        printed.contains("create index `ux_codes_org_code`"),
        "{printed}"
    );

    let s = common::start_on(dir, db, codes(), |_| {}).await;
    let acme = s.token("alice", &["member"], Some("acme"));
    let globex = s.token("gus", &["member"], Some("globex"));
    let r = s
        .get("/api/codes/01890000-0000-7000-8000-000000000001", &acme)
        .await;
    assert_eq!(r.json()["data"]["code"], "X", "kept: {}", r.text);
    let theirs = s.post("/api/codes", &globex, json!({"code": "X"})).await;
    assert_eq!(theirs.status, 201, "{}", theirs.text);
    let mine = s.post("/api/codes", &acme, json!({"code": "X"})).await;
    assert_eq!(mine.code(), "UNIQUE_VIOLATION", "{}", mine.text);
    // Back to table-wide: both tenants hold "X", so the index cannot be made, the migration
    // says why, and nothing changes.
    let mut global = codes();
    for ix in global.tables[0].indexes.iter_mut().filter(|i| i.unique) {
        ix.global = true;
        ix.name = "ux_codes_code".into();
    }
    global.hash = "global".into();
    let refused = ward_runtime::migrate(
        global,
        &s.db.url,
        ward_runtime::MigrateMode::Apply {
            allow_destructive: false,
        },
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(refused.contains("repeat a value"), "{refused}");
    let after = ward_runtime::migrate(codes(), &s.db.url, ward_runtime::MigrateMode::Plan)
        .await
        .unwrap();
    assert!(after.is_empty(), "{after}");
}
