use proptest::prelude::*;
use serde_json::{Map, Value as Json, json};

use super::Records;
use crate::error::ApiError;
use crate::http::embed::{self, Ctx, Shape};
use crate::sql::Stmt;
use crate::store::{Control, Db};
use crate::test_support;

/// `embed::render` of a table without references reads nothing; a read would fail the test.
struct NoDb;

impl Db for NoDb {
    fn query(&self, _: &Stmt, _: &[ward_ir::ColumnType]) -> Result<Vec<Vec<Json>>, ApiError> {
        Err(ApiError::internal("render read the database"))
    }
    fn execute(&self, _: &Stmt) -> Result<u64, ApiError> {
        Err(ApiError::internal("render wrote"))
    }
    fn control(&self, _: Control) -> Result<(), ApiError> {
        Err(ApiError::internal("render ran a savepoint"))
    }
}

const KINDS: [&str; 7] = [
    "email",
    "phone",
    "ssn",
    "credit-card",
    "name",
    "redact",
    "hidden",
];
const COLUMNS: [&str; 5] = ["id", "status", "priority", "ownerId", "org"];
const ROLES: [&str; 3] = ["viewer", "member", "admin"];

fn mask() -> impl Strategy<Value = Json> {
    (
        prop::sample::select(&COLUMNS[1..]),
        prop::sample::select(&KINDS[..]),
        prop::sample::subsequence(&ROLES[..], 0..=2),
        any::<bool>(),
    )
        .prop_map(|(column, kind, show, owned)| {
            json!({"column": column, "kind": kind, "show": show,
                   "owner": owned.then_some("ownerId"), "auto": false})
        })
}

fn text() -> impl Strategy<Value = Json> {
    prop_oneof![
        Just(Json::Null),
        Just(json!("u1")),
        Just(json!("u2")),
        Just(json!("paul@example.com")),
        Just(json!("+1 (555) 123-4567")),
        Just(json!("John \"Q\" Doe")),
        "[a-z@. ]{0,12}".prop_map(Json::from),
    ]
}

fn row() -> impl Strategy<Value = Vec<Json>> {
    (
        text(),
        prop_oneof![Just(Json::Null), any::<i32>().prop_map(Json::from)],
        text(),
        text(),
    )
        .prop_map(|(status, priority, owner, org)| {
            let mut cells = vec![json!("0190f5c2-6b1e-7000-8000-000000000001")];
            cells.extend([status, priority, owner, org]);
            // createdAt … deletedBy
            cells.extend([
                json!("2026-01-01T00:00:00Z"),
                json!("u1"),
                json!("2026-01-02T00:00:00Z"),
                Json::Null,
                Json::Null,
                Json::Null,
            ]);
            cells
        })
}

proptest! {
    /// The direct writer and the record path agree byte for byte — keys, their order, every
    /// masked value — for any masks, caller, projection and rows.
    #[test]
    fn writes_what_render_makes_of_the_same_rows(
        masks in prop::collection::vec(mask(), 0..4),
        user in prop::sample::select(&[None, Some("u1"), Some("u2")][..]),
        roles in prop::sample::subsequence(&ROLES[..], 0..=3),
        fields in prop::option::of(prop::sample::subsequence(&COLUMNS[..], 1..=5)),
        rows in prop::collection::vec(row(), 0..5),
    ) {
        let snap = test_support::snapshot_with_masks(Json::Array(masks));
        let plan = snap.table("rooms").expect("fixture table");
        let caller = test_support::caller(user, &roles, Some("o1"));
        let fields: Option<Vec<String>> =
            fields.map(|f| f.iter().map(|s| s.to_string()).collect());

        let direct = serde_json::to_string(&Records::new(plan, &caller, fields.as_deref(), &rows))
            .expect("serialises");

        let records: Vec<Map<String, Json>> = rows
            .iter()
            .map(|cells| {
                plan.columns().iter().map(|c| c.name.clone()).zip(cells.iter().cloned()).collect()
            })
            .collect();
        let ctx = Ctx { conn: &NoDb, snap: &snap, caller: &caller, now: "2026-11-22T00:00:00Z" };
        let shape = Shape { fields, expand: Vec::new() };
        let rendered = embed::render(ctx, plan, records, &shape).expect("render reads nothing");
        prop_assert_eq!(direct, serde_json::to_string(&rendered).expect("serialises"));
    }
}

#[test]
fn an_owner_sees_their_own_row_raw_and_hidden_columns_leave_no_key() {
    let snap = test_support::snapshot_with_masks(json!([
        {"column": "status", "kind": "email", "show": ["admin"], "owner": "ownerId", "auto": false},
        {"column": "org", "kind": "hidden", "show": [], "owner": null, "auto": false}
    ]));
    let plan = snap.table("rooms").expect("fixture table");
    let caller = test_support::caller(Some("u1"), &["member"], Some("o1"));
    let mut mine = vec![Json::Null; plan.columns().len()];
    mine[1] = json!("paul@example.com");
    mine[3] = json!("u1");
    mine[4] = json!("o1");
    let mut theirs = mine.clone();
    theirs[3] = json!("u2");
    let rows = [mine, theirs];
    let fields = ["status".to_string(), "org".to_string()];
    let out = serde_json::to_value(Records::new(plan, &caller, Some(&fields), &rows))
        .expect("serialises");
    assert_eq!(
        out,
        json!([{"status": "paul@example.com"}, {"status": "p***@e******.com"}])
    );
}
