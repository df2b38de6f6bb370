//! `schemas/ir.schema.json` must be exactly what the IR types generate.
//! `UPDATE_EXPECT=1 cargo test -p ward-ir` rewrites it.

use std::path::PathBuf;

#[test]
fn checked_in_schema_is_current() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/ir.schema.json");
    let mut generated =
        serde_json::to_string_pretty(&ward_ir::json_schema()).expect("schema serialises");
    generated.push('\n');
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, &generated).expect("write schema");
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "schemas/ir.schema.json is stale: run `UPDATE_EXPECT=1 cargo test -p ward-ir`"
    );
}
