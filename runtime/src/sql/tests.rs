#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! The rendered SQL of the statement shapes: assertions on the SQLite text of the subtle ones,
//! and every shape in both dialects against `goldens/` (module `goldens`).

use serde_json::json;
use ward_ir::{CompareOp, Operation};

use super::filter::{Filter, SortKey};
use super::{Dialect, changes, ddl, dml, filter, predicate};
use crate::security::gate;
use crate::test_support::{caller, snapshot};

#[test]
fn select_with_firewall_residual_filters_and_keyset() {
    let snap = snapshot();
    let plan = snap.table("rooms").unwrap();
    let m = caller(Some("m"), &["member"], Some("acme"));
    let g = gate(plan, Operation::Update, &m).unwrap();
    let cond = predicate::visibility(plan, &g, &m, "now", true).add(filter::filters(
        plan,
        &[Filter {
            column: "status".into(),
            op: CompareOp::Like,
            values: vec![json!("50%_\\")],
        }],
    ));
    let sort = [
        SortKey {
            column: "priority".into(),
            desc: true,
        },
        SortKey {
            column: "id".into(),
            desc: true,
        },
    ];
    let cond = cond.add(filter::keyset(plan, &sort, &[json!(3), json!("x")]));
    let st = dml::select(plan, cond, &sort, Some(11), 0);
    assert_eq!(
        st.sql,
        r#"SELECT "id", "status", "priority", "ownerId", "org", "createdAt", "createdBy", "modifiedAt", "modifiedBy", "deletedAt", "deletedBy" FROM "rooms" WHERE "org" = ? AND "deletedAt" IS NULL AND "ownerId" = ? AND "status" LIKE ? ESCAPE '\' AND ("priority" < ? OR "priority" IS NULL OR ("priority" = ? AND ("id" < ? OR "id" IS NULL))) ORDER BY "priority" DESC, "id" DESC LIMIT ?"#
    );
    assert_eq!(st.values.0.len(), 7);
    assert_eq!(
        st.values.0[2],
        sea_query::Value::String(Some("%50\\%\\_\\\\%".into()))
    );
}

#[test]
fn writes_carry_the_firewall() {
    let snap = snapshot();
    let plan = snap.table("rooms").unwrap();
    let m = caller(Some("m"), &["member"], Some("acme"));
    let g = gate(plan, Operation::Update, &m).unwrap();
    let changes = json!({"status": "x", "modifiedAt": "t"});
    let id = json!("00000000-0000-4000-8000-000000000001");
    let st = dml::update_where(
        plan,
        changes.as_object().unwrap(),
        predicate::visibility(plan, &g, &m, "now", true).add(dml::id_eq(plan, &id)),
    );
    assert_eq!(
        st.sql,
        r#"UPDATE "rooms" SET "status" = ?, "modifiedAt" = ? WHERE "org" = ? AND "deletedAt" IS NULL AND "ownerId" = ? AND "id" = ?"#
    );
    let st = dml::delete(
        plan,
        &json!("00000000-0000-4000-8000-000000000001"),
        predicate::firewall(plan, &g),
    );
    assert_eq!(
        st.sql,
        r#"DELETE FROM "rooms" WHERE "org" = ? AND "deletedAt" IS NULL AND "id" = ?"#
    );
    let st = dml::insert(plan, json!({"id": "a", "status": "s"}).as_object().unwrap()).unwrap();
    assert_eq!(
        st.sql,
        r#"INSERT INTO "rooms" ("id", "status") VALUES (?, ?)"#
    );
    let st = dml::count(plan, predicate::firewall(plan, &g));
    assert_eq!(
        st.sql,
        r#"SELECT COUNT(*) FROM "rooms" WHERE "org" = ? AND "deletedAt" IS NULL"#
    );
}

#[test]
fn ddl_is_strict_and_typed() {
    let snap = snapshot();
    let plan = snap.table("rooms").unwrap();
    assert_eq!(
        ddl::create_table(plan),
        r#"CREATE TABLE "rooms" ( "id" TEXT NOT NULL PRIMARY KEY, "status" TEXT, "priority" INTEGER, "ownerId" TEXT, "org" TEXT, "createdAt" TEXT NOT NULL, "createdBy" TEXT, "modifiedAt" TEXT NOT NULL, "modifiedBy" TEXT, "deletedAt" TEXT, "deletedBy" TEXT ) STRICT"#
    );
    assert_eq!(
        ddl::create_index(
            plan,
            &ward_ir::Index {
                name: "ix_rooms_org".into(),
                columns: vec!["org".into()],
                unique: false,
                global: false,
            }
        ),
        r#"CREATE INDEX IF NOT EXISTS "ix_rooms_org" ON "rooms" ("org")"#
    );
}

#[test]
fn batch_statements() {
    let snap = snapshot();
    let plan = snap.table("rooms").unwrap();
    let m = caller(Some("m"), &["member"], Some("acme"));
    let g = gate(plan, Operation::Update, &m).unwrap();
    let ids = [
        json!("00000000-0000-4000-8000-000000000001"),
        json!("00000000-0000-4000-8000-000000000002"),
    ];
    let st = dml::select(
        plan,
        predicate::firewall(plan, &g).add(dml::ids_in(plan, &ids)),
        &[],
        None,
        0,
    );
    assert_eq!(
        st.sql,
        r#"SELECT "id", "status", "priority", "ownerId", "org", "createdAt", "createdBy", "modifiedAt", "modifiedBy", "deletedAt", "deletedBy" FROM "rooms" WHERE "org" = ? AND "deletedAt" IS NULL AND "id" IN (?, ?)"#
    );
    // The union of the rows' columns; a column a row lacks is bound as NULL.
    let a = json!({"id": "a", "status": "s"});
    let b = json!({"id": "b", "priority": 3});
    let rows = [a.as_object().unwrap(), b.as_object().unwrap()];
    let st = dml::insert_many(plan, &rows, false).unwrap();
    assert_eq!(st.len(), 1);
    assert_eq!(
        st[0].sql,
        r#"INSERT INTO "rooms" ("id", "status", "priority") VALUES (?, ?, ?), (?, ?, ?)"#
    );
    assert_eq!(st[0].values.0.len(), 6);
    assert_eq!(st[0].values.0[2], sea_query::Value::BigInt(None));
    let st = dml::insert_many(plan, &rows, true).unwrap();
    assert!(st[0].sql.ends_with(r#"RETURNING "id""#), "{}", st[0].sql);
    // Chunked under SQLite's bound-value limit: 3000 rows of 11 columns need two statements.
    let wide = json!({"id": "x", "status": "s", "priority": 1, "ownerId": "o", "org": "g",
                      "createdAt": "t", "createdBy": "u", "modifiedAt": "t", "modifiedBy": "u",
                      "deletedAt": null, "deletedBy": null});
    let many: Vec<_> = (0..3000).map(|_| wide.as_object().unwrap()).collect();
    let st = dml::insert_many(plan, &many, false).unwrap();
    assert_eq!(st.len(), 2);
    assert!(st.iter().all(|s| s.values.0.len() <= 30_000));
}

#[test]
fn postgres_renders_search_and_nulls_order() {
    let snap = crate::test_support::snapshot_for(crate::sql::Dialect::Postgres);
    let plan = snap.table("rooms").unwrap();
    let cond = filter::search(plan, &["status".to_owned()], "a_b");
    let sort = [SortKey {
        column: "priority".into(),
        desc: false,
    }];
    let st = dml::select(plan, cond, &sort, Some(11), 0);
    assert_eq!(
        st.sql,
        r#"SELECT "id", "status", "priority", "ownerId", "org", "createdAt", "createdBy", "modifiedAt", "modifiedBy", "deletedAt", "deletedBy" FROM "rooms" WHERE LOWER("status") LIKE $1 ESCAPE E'\\' ORDER BY "priority" ASC NULLS FIRST LIMIT $2"#
    );
}

#[test]
fn an_id_that_cannot_be_one_matches_nothing() {
    let snap = snapshot();
    let plan = snap.table("rooms").unwrap();
    let st = dml::select(plan, dml::by_id(plan, &json!("a/b")), &[], Some(1), 0);
    assert!(
        st.sql.ends_with(r#"WHERE "id" <> "id" LIMIT ?"#),
        "{}",
        st.sql
    );
    let ids = [
        json!("not-a-uuid"),
        json!("00000000-0000-4000-8000-000000000001"),
    ];
    let st = dml::select(
        plan,
        sea_query::Cond::all().add(dml::ids_in(plan, &ids)),
        &[],
        None,
        0,
    );
    assert!(st.sql.ends_with(r#"WHERE "id" IN (?)"#), "{}", st.sql);
    assert_eq!(st.values.0.len(), 1, "only the well-formed id is bound");
}

mod reads_by_id {
    use proptest::prelude::*;
    use serde_json::json;
    use ward_ir::Operation;

    use crate::security::gate;
    use crate::sql::{Dialect, by_id, dml, predicate};
    use crate::test_support::{caller, snapshot_for};

    fn rendered_afresh(
        plan: &crate::snapshot::TablePlan,
        g: &crate::gate::Gate,
        c: &crate::gate::Caller,
        id: &serde_json::Value,
    ) -> crate::sql::Stmt {
        let cond = predicate::visibility(plan, g, c, "now", true).add(dml::id_eq(plan, id));
        dml::select(plan, cond, &[], None, 0)
    }

    proptest! {
        /// Whatever was kept before, a read by id is the statement `dml::select` renders for it,
        /// with the caller's own values.
        #[test]
        fn a_kept_read_is_the_statement_rendered_afresh(
            postgres in any::<bool>(),
            reads in prop::collection::vec((any::<bool>(), "[a-z%'\"]{0,6}", any::<u128>()), 1..8),
        ) {
            let dialect = if postgres { Dialect::Postgres } else { Dialect::Sqlite };
            let snap = snapshot_for(dialect);
            let plan = snap.table("rooms").unwrap();
            for (owner, org, id) in reads {
                // An owner bypasses the firewall: no scope. A member is scoped to their org.
                // (The fixture's rule for `list` has no residual; the one for `read` denies.)
                let c = if owner {
                    caller(Some("o"), &["member", "owner"], Some(&org))
                } else {
                    caller(Some("m"), &["member"], Some(&org))
                };
                let id = json!(uuid::Uuid::from_u128(id).hyphenated().to_string());
                let g = gate(plan, Operation::List, &c).unwrap();
                let kept = by_id::select_visible(plan, &g, &c, "now", &id);
                let afresh = rendered_afresh(plan, &g, &c, &id);
                prop_assert_eq!(&kept.sql, &afresh.sql);
                prop_assert_eq!(&kept.values, &afresh.values);
            }
            prop_assert!(plan.kept.by_id.len() <= 2);
        }
    }

    #[test]
    fn one_statement_is_kept_per_shape() {
        let snap = snapshot_for(Dialect::Postgres);
        let plan = snap.table("rooms").unwrap();
        let id = json!("00000000-0000-4000-8000-000000000001");
        for org in ["acme", "globex", "acme"] {
            let c = caller(Some("m"), &["member"], Some(org));
            let g = gate(plan, Operation::List, &c).unwrap();
            let st = by_id::select_visible(plan, &g, &c, "now", &id);
            assert_eq!(
                st.sql,
                r#"SELECT "id", "status", "priority", "ownerId", "org", "createdAt", "createdBy", "modifiedAt", "modifiedBy", "deletedAt", "deletedBy" FROM "rooms" WHERE "org" = $1 AND "deletedAt" IS NULL AND "id" = $2"#
            );
            assert_eq!(st.values.0[0], sea_query::Value::from(org));
        }
        assert_eq!(plan.kept.by_id.len(), 1);
        let owner = caller(Some("o"), &["member", "owner"], Some("acme"));
        let g = gate(plan, Operation::List, &owner).unwrap();
        let st = by_id::select_visible(plan, &g, &owner, "now", &id);
        assert!(
            st.sql
                .ends_with(r#"WHERE "deletedAt" IS NULL AND "id" = $1"#)
        );
        assert_eq!(plan.kept.by_id.len(), 2);
    }

    /// A residual's shape follows the caller's auth values: never kept.
    #[test]
    fn a_gate_with_a_residual_is_rendered_every_time() {
        let snap = snapshot_for(Dialect::Sqlite);
        let plan = snap.table("rooms").unwrap();
        let id = json!("00000000-0000-4000-8000-000000000001");
        for user in [Some("m"), None] {
            let c = caller(user, &["member"], Some("acme"));
            let g = gate(plan, Operation::Update, &c).unwrap();
            assert!(g.residual.condition().is_some());
            let st = by_id::select_visible(plan, &g, &c, "now", &id);
            let afresh = rendered_afresh(plan, &g, &c, &id);
            assert_eq!((st.sql, st.values), (afresh.sql, afresh.values));
        }
        assert_eq!(plan.kept.by_id.len(), 0);
    }
}

mod kept_inserts {
    use proptest::prelude::*;
    use serde_json::{Map, Value as Json, json};

    use crate::sql::{Dialect, dml};
    use crate::test_support::snapshot_for;

    fn value() -> impl Strategy<Value = Json> {
        prop_oneof![
            Just(Json::Null),
            any::<i64>().prop_map(Json::from),
            "[a-z'\"%]{0,5}".prop_map(Json::from),
            any::<bool>().prop_map(Json::from),
        ]
    }

    proptest! {
        /// Whatever was kept before, a create's INSERT is the statement rendered afresh for its
        /// columns, with its own values.
        #[test]
        fn a_kept_insert_is_the_statement_rendered_afresh(
            postgres in any::<bool>(),
            rows in prop::collection::vec(
                prop::collection::vec(prop::option::of(value()), 11),
                1..10,
            ),
        ) {
            let dialect = if postgres { Dialect::Postgres } else { Dialect::Sqlite };
            let snap = snapshot_for(dialect);
            let plan = snap.table("rooms").unwrap();
            for cells in rows {
                let row: Map<String, Json> = plan
                    .columns()
                    .iter()
                    .zip(cells)
                    .filter_map(|(c, v)| v.map(|v| (c.name.clone(), v)))
                    .collect();
                let kept = dml::insert_returning(plan, &row).unwrap();
                let afresh = dml::render_insert_returning(plan, &row).unwrap();
                prop_assert_eq!(&kept.sql, &afresh.sql);
                prop_assert_eq!(&kept.values, &afresh.values);
            }
        }
    }

    #[test]
    fn one_insert_is_kept_per_set_of_columns() {
        let snap = snapshot_for(Dialect::Postgres);
        let plan = snap.table("rooms").unwrap();
        let row = |status: &str| {
            json!({"id": "00000000-0000-4000-8000-000000000001", "status": status, "org": "acme"})
                .as_object()
                .cloned()
                .unwrap()
        };
        for status in ["open", "shut"] {
            let st = dml::insert_returning(plan, &row(status)).unwrap();
            assert!(st.sql.starts_with(
                r#"INSERT INTO "rooms" ("id", "status", "org") VALUES ($1, $2, $3) RETURNING "id", "status""#
            ), "{}", st.sql);
            assert_eq!(st.values.0[1], sea_query::Value::from(status));
        }
        assert_eq!(plan.kept.inserts.len(), 1);
        let mut fewer = row("open");
        fewer.remove("org");
        let st = dml::insert_returning(plan, &fewer).unwrap();
        assert!(
            st.sql.contains(r#"("id", "status") VALUES ($1, $2)"#),
            "{}",
            st.sql
        );
        assert_eq!(plan.kept.inserts.len(), 2);
    }
}

/// Every statement shape the runtime sends, in both dialects, against `goldens/DIALECT.sql`:
/// a change to any generated SQL, or to the values it binds, shows in review as a diff of
/// those files (`UPDATE_EXPECT=1 cargo test -p ward-runtime --lib sql` rewrites them).
mod goldens {
    use std::fmt::Write as _;

    use serde_json::json;
    use ward_ir::Operation;

    use crate::sql::{Dialect, Stmt, changes, ddl, dml, predicate, related, tx};
    use crate::test_support::{caller, snapshot_for};

    fn shapes(dialect: Dialect) -> Vec<(&'static str, Stmt)> {
        let snap = snapshot_for(dialect);
        let plan = snap.table("rooms").unwrap();
        let m = caller(Some("m"), &["member"], Some("acme"));
        let owner = caller(Some("o"), &["member", "owner"], Some("acme"));
        let list = crate::security::gate(plan, Operation::List, &m).unwrap();
        let update = crate::security::gate(plan, Operation::Update, &m).unwrap();
        let bypass = crate::security::gate(plan, Operation::List, &owner).unwrap();
        let id = json!("01890000-0000-7000-8000-000000000001");
        let other = json!("01890000-0000-7000-8000-000000000002");
        let row = json!({"id": id, "status": "open", "priority": 3, "org": "acme",
                         "createdAt": "2026-01-01T00:00:00.000Z", "modifiedAt": "2026-01-01T00:00:00.000Z"});
        let row = row.as_object().unwrap();
        let changes = json!({"status": "closed", "modifiedAt": "2026-01-02T00:00:00.000Z"});
        let changes = changes.as_object().unwrap();
        let visible = predicate::visibility(plan, &update, &m, "2026-01-02T00:00:00.000Z", true);
        let unbound = |sql: String| Stmt::unbound(sql);
        let ix = ward_ir::Index {
            name: "ix_rooms_org".into(),
            columns: vec!["org".into()],
            unique: false,
            global: false,
        };
        let scoped_unique = ward_ir::Index {
            name: "ux_rooms_org_status".into(),
            columns: vec!["status".into()],
            unique: true,
            global: false,
        };
        let mut out = vec![
            (
                "read by id, member (firewall, soft delete)",
                crate::sql::by_id::select_visible(plan, &list, &m, "now", &id),
            ),
            (
                "read by id, bypass role",
                crate::sql::by_id::select_visible(plan, &bypass, &owner, "now", &id),
            ),
            (
                "page with the update rule's residual",
                dml::select(plan, visible.clone(), &[], Some(51), 10),
            ),
            ("count", dml::count(plan, predicate::firewall(plan, &list))),
            ("exists", dml::exists(plan, dml::by_id(plan, &id))),
            ("insert", dml::insert(plan, row).unwrap()),
            (
                "insert returning",
                dml::insert_returning(plan, row).unwrap(),
            ),
            (
                "insert if new (upsert)",
                dml::insert_if_new(plan, row).unwrap(),
            ),
            (
                "update",
                dml::update_where(plan, changes, visible.clone().add(dml::id_eq(plan, &id))),
            ),
            (
                "update returning",
                dml::update_returning(plan, &id, changes, visible.clone()),
            ),
            (
                "update where (cascade)",
                dml::update_where(plan, changes, predicate::firewall(plan, &update)),
            ),
            ("delete", dml::delete(plan, &id, visible)),
            (
                "ids of related rows",
                related::select_ids(plan, dml::by_id(plan, &other)),
            ),
            (
                "first children per parent",
                related::first_children(plan, "ownerId", predicate::firewall(plan, &list), 5),
            ),
            ("create table", unbound(ddl::create_table(plan))),
            ("create index", unbound(ddl::create_index(plan, &ix))),
            (
                "create unique index within the scope",
                unbound(ddl::create_index(plan, &scoped_unique)),
            ),
            (
                "drop index",
                unbound(ddl::drop_index(dialect, "rooms", "ux_rooms_status")),
            ),
            ("list tables", ddl::list_tables(dialect)),
            ("list indexes", ddl::list_indexes(dialect)),
            ("live columns", ddl::live_columns(dialect, "rooms")),
            (
                "live unique constraints",
                ddl::live_unique_constraints(dialect, "rooms"),
            ),
            (
                "savepoint, release, rollback to",
                unbound(
                    [
                        tx::Control::Savepoint,
                        tx::Control::Release,
                        tx::Control::RollbackTo,
                    ]
                    .map(tx::Control::sql)
                    .join("\n"),
                ),
            ),
        ];
        out.extend(
            changes::create_tables(dialect)
                .into_iter()
                .map(|sql| ("create the change log", unbound(sql))),
        );
        out.push((
            "record a change",
            changes::record_change(
                dialect,
                changes::ChangeRow {
                    table: "rooms",
                    op: "update",
                    row_id: "00000000-0000-4000-8000-000000000001",
                    at: "2026-01-01T00:00:00.000Z",
                    actor: Some("u1"),
                    role: Some("member"),
                    request: None,
                    before: Some("{}".to_owned()),
                    after: None,
                },
            )
            .unwrap(),
        ));
        out.push((
            "versions of a row",
            changes::versions(dialect, "rooms", "r1", Some(9), 21),
        ));
        out.push((
            "changes of a table since a seq",
            changes::since(dialect, "rooms", 7, Some(12), 500),
        ));
        out.push((
            "where a table's log stands",
            changes::position(dialect, "rooms"),
        ));
        let purge = changes::Purge::Before("2026-01-01T00:00:00.000Z".to_owned());
        out.push((
            "the highest seq a purge erases",
            changes::highest_erased(dialect, "rooms", &purge, 500),
        ));
        out.push((
            "erase a purge's batch",
            changes::erase(dialect, "rooms", &purge, 500),
        ));
        out.push((
            "mark a seq erased",
            changes::mark_erased(dialect, "rooms", 41),
        ));
        if dialect == Dialect::Postgres {
            out.push(("is a record waiting", changes::any_pending()));
            out.push(("take the numbering lock", changes::numbering_lock()));
            out.push(("number committed records", changes::number_pending(5000)));
            out.push((
                "announce the logs that grew",
                changes::announce(&["rooms".to_owned(), "notes".to_owned()]),
            ));
        }
        let rows = [row];
        out.extend(
            dml::insert_many(plan, &rows, false)
                .unwrap()
                .into_iter()
                .map(|s| ("insert many", s)),
        );
        out.extend(comparisons(dialect));
        if dialect == Dialect::Postgres {
            out.push((
                "drop a legacy unique constraint",
                unbound(ddl::pg_drop_constraint("rooms", "rooms_status_key")),
            ));
        }
        out
    }

    /// Row conditions as `predicate` compiles them, each in a count: values that cannot be
    /// stored in their column (a malformed uuid, text against a number, a timestamp against a
    /// date), `like` on every column kind (Postgres compares uuids and times as SQLite's text),
    /// and `any` of nothing.
    fn comparisons(dialect: Dialect) -> Vec<(&'static str, Stmt)> {
        use sea_query::{Cond, Value};
        use ward_ir::{ColumnType, CompareOp::*, Condition};

        let mut ir = snapshot_for(dialect).ir.clone();
        let mut due = ir.tables[0].columns[1].clone();
        due.name = "dueOn".into();
        due.ty = ColumnType::Date;
        ir.tables[0].columns.push(due);
        let snap = crate::snapshot::Snapshot::build(ir, dialect).unwrap();
        let plan = snap.table("rooms").unwrap();
        let text = |s: &str| Value::String(Some(s.to_owned()));
        let uuid = "01890000-0000-7000-8000-000000000001";
        // A comparison with one text value.
        let on = |name, field, op, value: &str| (name, field, op, vec![text(value)]);
        let cases: Vec<(&'static str, &str, ward_ir::CompareOp, Vec<Value>)> = vec![
            on("uuid eq malformed", "id", Eq, "not-a-uuid"),
            on("uuid ne malformed", "id", Ne, "not-a-uuid"),
            on("uuid in malformed only", "id", In, "x"),
            (
                "uuid in malformed and valid",
                "id",
                In,
                vec![text("x"), text(uuid)],
            ),
            on("uuid not-in malformed only", "id", NotIn, "x"),
            (
                "uuid not-in malformed and valid",
                "id",
                NotIn,
                vec![text("x"), text(uuid)],
            ),
            on("uuid like", "id", Like, "0189"),
            on("integer eq text", "priority", Eq, "3"),
            (
                "integer eq integer",
                "priority",
                Eq,
                vec![Value::BigInt(Some(3))],
            ),
            (
                "text eq integer",
                "status",
                Eq,
                vec![Value::BigInt(Some(3))],
            ),
            (
                "text eq boolean",
                "status",
                Eq,
                vec![Value::Bool(Some(true))],
            ),
            on("text like escaped", "status", Like, "Ab%_"),
            (
                "text like a number",
                "status",
                Like,
                vec![Value::BigInt(Some(3))],
            ),
            on("datetime lt a date", "createdAt", Lt, "2026-01-01"),
            on(
                "datetime lt a datetime",
                "createdAt",
                Lt,
                "2026-01-01T00:00:00.000Z",
            ),
            on("datetime like", "createdAt", Like, "2026-01"),
            on(
                "date lt a datetime",
                "dueOn",
                Lt,
                "2026-03-04T10:00:00.000Z",
            ),
            on(
                "date lte a datetime",
                "dueOn",
                Lte,
                "2026-03-04T10:00:00.000Z",
            ),
            on(
                "date gt a datetime",
                "dueOn",
                Gt,
                "2026-03-04T10:00:00.000Z",
            ),
            on("date gt nonsense", "dueOn", Gt, "soon"),
            on("date eq a date", "dueOn", Eq, "2026-03-04"),
            on(
                "date eq a datetime",
                "dueOn",
                Eq,
                "2026-03-04T10:00:00.000Z",
            ),
            on("date like", "dueOn", Like, "03-04"),
        ];
        let mut out: Vec<(&'static str, Stmt)> = cases
            .into_iter()
            .map(|(name, field, op, values)| {
                let expr = predicate::compare(plan, field, op, values);
                (name, dml::count(plan, Cond::all().add(expr)))
            })
            .collect();
        let m = caller(Some("m"), &["member"], Some("acme"));
        let nothing = Condition::Any { of: Vec::new() };
        let everything = Condition::All { of: Vec::new() };
        let priority_is = |v: i64| Condition::Compare {
            field: "priority".into(),
            op: Eq,
            values: vec![ward_ir::Value::Literal(ward_ir::Literal::Integer(v))],
        };
        let either = Condition::Any {
            of: vec![priority_is(1), priority_is(2)],
        };
        for (name, c) in [
            ("any of nothing", nothing),
            ("all of nothing", everything),
            ("any of two", either),
        ] {
            out.push((
                name,
                dml::count(plan, predicate::condition(plan, &c, &m, "now")),
            ));
        }
        out
    }

    fn rendered(dialect: Dialect) -> String {
        let mut text = String::new();
        for (name, stmt) in shapes(dialect) {
            let _ = writeln!(text, "-- {name}\n{}", stmt.sql);
            if !stmt.values.0.is_empty() {
                let _ = writeln!(text, "-- values: {:?}", stmt.values.0);
            }
            text.push('\n');
        }
        text
    }

    #[test]
    fn every_statement_shape_matches_its_golden() {
        for (dialect, file) in [
            (Dialect::Sqlite, "sqlite.sql"),
            (Dialect::Postgres, "postgres.sql"),
        ] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("src/sql/goldens")
                .join(file);
            let now = rendered(dialect);
            if std::env::var_os("UPDATE_EXPECT").is_some() {
                std::fs::write(&path, &now).unwrap();
                continue;
            }
            let golden = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                golden == now,
                "{} differs from the SQL rendered now; if the change is intended, run \
                 UPDATE_EXPECT=1 cargo test -p ward-runtime --lib sql and review the diff",
                path.display()
            );
        }
    }
}

/// The change record's text is rendered once per shape and kept: a kept statement binds
/// exactly what a fresh rendering binds, for every shape and for values that are absent.
#[test]
fn a_kept_change_record_binds_what_a_fresh_one_does() {
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        for actor in [None, Some("u1")] {
            let row = || changes::ChangeRow {
                table: "rooms",
                op: "insert",
                row_id: "r1",
                at: "2026-01-01T00:00:00.000Z",
                actor,
                role: Some("member"),
                request: None,
                before: None,
                after: Some("{\"a\":1}".to_owned()),
            };
            let first = changes::record_change(dialect, row()).unwrap();
            let kept = changes::record_change(dialect, row()).unwrap();
            let fresh = changes::render_record(dialect, &row()).unwrap();
            assert!(changes::record_is_kept(dialect), "{dialect:?}");
            assert_eq!((&kept.sql, &kept.values), (&fresh.sql, &fresh.values));
            assert_eq!((&first.sql, &first.values), (&fresh.sql, &fresh.values));
        }
    }
}
