#![allow(clippy::unwrap_used)]

//! The IR's `sources` and the console's "why denied" (SPEC §14) on the rooms example: each
//! declaration is cited at the line it was written (a template's block where the template wrote
//! it), moving a rule moves its line but not the IR's hash, and each kind of refusal cites the
//! declarations that decide it.

use std::path::PathBuf;

use serde_json::{Value, json};
use ward_compiler::policy::why;
use ward_compiler::{SourceFile, Sources};
use ward_ir::Ir;

fn rooms_files() -> Vec<SourceFile> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/rooms");
    Sources::load(&dir).unwrap().files().to_vec()
}

fn compile(files: Vec<SourceFile>) -> Ir {
    ward_compiler::compile(&Sources::from_files(files))
        .ir
        .unwrap()
}

/// Where the first line containing `needle` after the first containing `after` is, in `file`:
/// the file and its 1-based line, as the IR's `sources` say it.
fn written(files: &[SourceFile], file: &str, after: &str, needle: &str) -> (String, u32) {
    let text = &files.iter().find(|f| f.name == file).unwrap().text;
    let start = text.lines().position(|l| l.contains(after)).unwrap();
    let found = text.lines().skip(start).position(|l| l.contains(needle));
    (
        file.to_owned(),
        u32::try_from(start + found.unwrap() + 1).unwrap(),
    )
}

fn at(ir: &Ir, key: &str) -> (String, u32) {
    let loc = ir
        .sources
        .get(key)
        .unwrap_or_else(|| panic!("no source for {key}"));
    (loc.file.clone(), loc.line)
}

#[test]
fn sources_name_each_declaration_where_it_was_written() {
    let files = rooms_files();
    let ir = compile(files.clone());
    let rooms = |needle: &str| written(&files, "rooms.kdl", "table rooms", needle);
    assert_eq!(at(&ir, "rooms"), rooms("table rooms"));
    assert_eq!(at(&ir, "rooms.column.capacity"), rooms("column capacity"));
    assert_eq!(at(&ir, "rooms.access.update"), rooms("        update {"));
    assert_eq!(at(&ir, "rooms.access.restore"), rooms("restore admin+"));
    assert_eq!(at(&ir, "rooms.guards"), rooms("guards {"));
    assert_eq!(
        at(&ir, "rooms.guard.immutable.roomTypeId"),
        rooms("immutable roomTypeId")
    );
    assert_eq!(
        at(&ir, "rooms.guard.protected.status"),
        rooms("protected status")
    );
    assert_eq!(at(&ir, "rooms.mask.accessCode"), rooms("mask accessCode"));
    assert_eq!(at(&ir, "rooms.delete"), rooms("delete soft"));
    assert_eq!(at(&ir, "rooms.batch"), rooms("batch max=20"));
    assert_eq!(at(&ir, "rooms.history"), rooms("history {"));
    assert_eq!(at(&ir, "rooms.view.available"), rooms("view available"));
    assert_eq!(
        at(&ir, "rooms.action.archive.access"),
        rooms("access admin+")
    );
    assert_eq!(
        at(&ir, "rooms.action.maintain.error.NOTES_REQUIRED"),
        written(&files, "rooms.kdl", "action maintain", "require {")
    );
    // The firewall is the template's, written in auth.kdl: cited there.
    let template = |needle: &str| written(&files, "auth.kdl", "template tenant-scoped", needle);
    assert_eq!(at(&ir, "rooms.firewall"), template("firewall {"));
    assert_eq!(
        at(&ir, "rooms.firewall.scope.organizationId"),
        template("scope organizationId")
    );
    assert_eq!(at(&ir, "auth"), ("auth.kdl".to_owned(), 2));
    let trigger = written(&files, "rooms.kdl", "table bookings", "on create before");
    assert_eq!(at(&ir, "bookings.on.create.before"), trigger);
    assert_eq!(
        at(&ir, "action.bookRoom.error.ROOM_UNAVAILABLE").0,
        "rooms.kdl"
    );
}

#[test]
fn moving_a_rule_moves_its_line_and_keeps_the_hash() {
    let files = rooms_files();
    let before = compile(files.clone());
    let mut moved = files.clone();
    let rooms = moved.iter_mut().find(|f| f.name == "rooms.kdl").unwrap();
    rooms.text = format!("// a comment\n\n{}", rooms.text);
    let after = compile(moved);
    assert_eq!(
        before.hash, after.hash,
        "where a rule is written is not policy"
    );
    assert_eq!(
        at(&after, "rooms.access.update").1,
        at(&before, "rooms.access.update").1 + 2
    );
    assert_eq!(at(&after, "rooms.firewall"), at(&before, "rooms.firewall"));
    assert_ne!(before.sources, after.sources);
}

fn cited(ir: &Ir, method: &str, path: &str, answer: Value) -> Vec<String> {
    let w = why(ir, method, path, &answer);
    assert_eq!(w.code, answer["code"].as_str().unwrap());
    for c in &w.rules {
        assert_eq!((c.file.clone(), c.line), at(ir, &c.key), "{c:?}");
        assert!(!c.what.is_empty());
    }
    w.rules.into_iter().map(|c| c.key).collect()
}

fn refusal(layer: &str, code: &str, details: Value) -> Value {
    json!({"error": "refused", "layer": layer, "code": code, "details": details})
}

#[test]
fn each_refusal_cites_the_declarations_that_decide_it() {
    let ir = compile(rooms_files());
    let id = "/api/rooms/0191e4b2-0000-7000-8000-000000000000";
    let cases: Vec<(&str, String, Value, Vec<&str>)> = vec![
        (
            "PATCH",
            id.to_owned(),
            refusal(
                "access",
                "ACCESS_ROLE_REQUIRED",
                json!({"required": ["member"], "current": ["viewer"]}),
            ),
            vec!["rooms.access.update"],
        ),
        (
            "GET",
            "/api/bookings?limit=5".to_owned(),
            refusal("auth", "AUTH_MISSING", Value::Null),
            vec!["bookings.access.list"],
        ),
        (
            "POST",
            "/api/bookings".to_owned(),
            refusal("access", "ACCESS_CHECK_FAILED", Value::Null),
            vec!["bookings.access.create"],
        ),
        (
            "GET",
            format!("{id}/history"),
            refusal("access", "ACCESS_ROLE_REQUIRED", json!({})),
            vec!["rooms.access.read"],
        ),
        (
            "GET",
            "/api/bookings/0191e4b2-0000-7000-8000-000000000000".to_owned(),
            refusal("firewall", "NOT_FOUND", Value::Null),
            vec![
                "bookings.firewall.scope.organizationId",
                "bookings.firewall.scope.bookedBy",
                "bookings",
            ],
        ),
        (
            "GET",
            "/api/rooms".to_owned(),
            refusal(
                "firewall",
                "FIREWALL_SCOPE_MISSING",
                json!({"claim": "org_id"}),
            ),
            vec!["rooms.firewall.scope.organizationId"],
        ),
        (
            "POST",
            "/api/rooms".to_owned(),
            refusal(
                "guards",
                "GUARD_SYSTEM_MANAGED",
                json!({"fields": ["organizationId", "createdAt"]}),
            ),
            vec!["rooms.firewall.scope.organizationId", "rooms"],
        ),
        (
            "PATCH",
            id.to_owned(),
            refusal(
                "guards",
                "GUARD_FIELD_IMMUTABLE",
                json!({"fields": ["roomTypeId"]}),
            ),
            vec!["rooms.guard.immutable.roomTypeId"],
        ),
        (
            "PATCH",
            id.to_owned(),
            refusal(
                "guards",
                "GUARD_FIELD_PROTECTED",
                json!({"fields": ["status"], "actions": ["archive"]}),
            ),
            vec!["rooms.guard.protected.status"],
        ),
        (
            "POST",
            "/api/room_types".to_owned(),
            refusal(
                "guards",
                "GUARD_FIELD_NOT_CREATEABLE",
                json!({"fields": ["description"]}),
            ),
            vec!["room_types.guards"],
        ),
        (
            "POST",
            "/api/rooms".to_owned(),
            refusal(
                "validation",
                "VALIDATION_RANGE",
                json!({"fields": {"capacity": {"code": "VALIDATION_RANGE", "message": "…"}, "name": {"code": "VALIDATION_REQUIRED", "message": "…"}}}),
            ),
            vec!["rooms.column.capacity", "rooms.column.name"],
        ),
        (
            "POST",
            "/api/rooms".to_owned(),
            refusal(
                "validation",
                "VALIDATION_UNKNOWN_FIELD",
                json!({"fields": ["colour"]}),
            ),
            vec!["rooms"],
        ),
        (
            "GET",
            "/api/rooms?accessCode=1".to_owned(),
            refusal(
                "validation",
                "VALIDATION_FIELD_NOT_QUERYABLE",
                json!({"parameter": "accessCode", "field": "accessCode"}),
            ),
            vec!["rooms.mask.accessCode"],
        ),
        (
            "GET",
            "/api/rooms?capacity.gt=many".to_owned(),
            refusal(
                "validation",
                "VALIDATION_BAD_QUERY",
                json!({"parameter": "capacity.gt"}),
            ),
            vec!["rooms.column.capacity"],
        ),
        (
            "GET",
            "/api/rooms?createdAt.lte=abc".to_owned(),
            refusal(
                "validation",
                "VALIDATION_BAD_QUERY",
                json!({"parameter": "createdAt.lte"}),
            ),
            vec!["rooms"],
        ),
        (
            "GET",
            "/api/rooms?limit=-1".to_owned(),
            refusal(
                "validation",
                "VALIDATION_BAD_QUERY",
                json!({"parameter": "limit"}),
            ),
            vec!["rooms"],
        ),
        (
            "GET",
            "/api/rooms/views/available?minCapacity=x".to_owned(),
            refusal(
                "validation",
                "VALIDATION_BAD_QUERY",
                json!({"parameter": "minCapacity"}),
            ),
            vec!["rooms.view.available"],
        ),
        (
            "POST",
            "/api/rooms/batch".to_owned(),
            refusal(
                "batch",
                "BATCH_SIZE_EXCEEDED",
                json!({"max": 20, "actual": 21}),
            ),
            vec!["rooms.batch"],
        ),
        (
            "POST",
            "/api/rooms/batch".to_owned(),
            refusal(
                "batch",
                "BATCH_ATOMIC_FAILED",
                json!({"failedAt": 1, "reason": refusal("validation", "VALIDATION_RANGE", json!({"fields": {"capacity": {"code": "VALIDATION_RANGE", "message": "…"}}}))}),
            ),
            vec!["rooms.batch", "rooms.column.capacity"],
        ),
        (
            "POST",
            format!("{id}/maintain"),
            refusal("action", "NOTES_REQUIRED", Value::Null),
            vec!["rooms.action.maintain.error.NOTES_REQUIRED"],
        ),
        (
            "POST",
            format!("{id}/maintain"),
            refusal("access", "ACCESS_ACTION_NOT_ALLOWED_FOR_STATE", json!({})),
            vec!["rooms.action.maintain.access", "rooms.action.maintain"],
        ),
        (
            "POST",
            format!("{id}/archive"),
            refusal("access", "ACCESS_ROLE_REQUIRED", json!({})),
            vec!["rooms.action.archive.access"],
        ),
        (
            "POST",
            "/api/bookings".to_owned(),
            refusal("action", "ROOM_UNAVAILABLE", Value::Null),
            vec!["bookings.on.create.before.error.ROOM_UNAVAILABLE"],
        ),
        (
            "POST",
            "/api/actions/bookRoom".to_owned(),
            refusal("action", "ROOM_UNAVAILABLE", Value::Null),
            vec!["action.bookRoom.error.ROOM_UNAVAILABLE"],
        ),
        (
            "POST",
            "/api/actions/bookRoom".to_owned(),
            refusal("auth", "AUTH_MISSING", Value::Null),
            vec!["action.bookRoom.access"],
        ),
        (
            "GET",
            "/api/subscribe?tables=rooms,bookings".to_owned(),
            refusal("access", "ACCESS_ROLE_REQUIRED", json!({})),
            vec!["rooms.access.list", "bookings.access.list"],
        ),
        (
            "GET",
            "/api/rooms".to_owned(),
            refusal("auth", "AUTH_EXPIRED", Value::Null),
            vec!["auth"],
        ),
    ];
    for (method, path, answer, expected) in cases {
        let code = answer["code"].clone();
        assert_eq!(
            cited(&ir, method, &path, answer),
            expected,
            "{method} {path} {code}"
        );
    }
}

#[test]
fn refusals_no_declaration_decides_cite_nothing() {
    let ir = compile(rooms_files());
    for (layer, code) in [
        ("validation", "INVALID_JSON"),
        ("server", "TIMEOUT"),
        ("server", "NOT_FOUND"),
        ("internal", "INTERNAL"),
    ] {
        let w = why(
            &ir,
            "POST",
            "/api/rooms",
            &refusal(layer, code, Value::Null),
        );
        assert_eq!((w.layer.as_str(), w.rules.len()), (layer, 0), "{code}");
    }
    // A route that is no table's names nothing either.
    let w = why(
        &ir,
        "GET",
        "/api/nope",
        &refusal("access", "ACCESS_ROLE_REQUIRED", json!({})),
    );
    assert!(w.rules.is_empty());
}
