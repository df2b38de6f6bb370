//! Realtime (SPEC §12): whether a caller may subscribe to a table, and the exact events each
//! subscriber receives, predicted from the change log the server stored and the model's own
//! list policy.
//!
//! A subscriber sees an image of a change when they could list a row stored like it: in their
//! firewall scopes, not soft-deleted, passing the `list` rule's `when`. Seen after only: `insert`
//! (a new row) or `enter`; before only: `delete` (hard or soft) or `leave`, with the id alone;
//! both: `update`, unless the images look the same to them but for the stamps; neither: nothing.
//! A row is shown as a list masks it, with the table's current columns.

use serde_json::{Map, Value, json};
use ward_ir::{Table, system};

use super::access::{self, Residual};
use super::auth::Who;
use super::errors::Fail;
use super::firewall::{self, Scopes};
use super::list::{Filter, filter_holds};
use super::{Row, masking};

/// One change record as `App::change_log` reads it back.
pub type Record = Value;

/// Whether `who` may open `GET /api/T/subscribe`: the `list` rule's roles, then the firewall's
/// claims — what the subscriber's events are then judged with.
pub fn subscribe(table: &Table, who: &Who) -> Result<(Residual, Scopes), Fail> {
    let residual = access::authorize_rule(table.access.list.as_ref(), who)?;
    let scopes = firewall::scopes(table, who)?;
    Ok((residual, scopes))
}

/// The events `who` receives for `log` through `filters` (the list grammar's), in order:
/// `{"event", "data"}` each.
pub(crate) fn events(
    table: &Table,
    who: &Who,
    clock: &str,
    filters: &[Filter],
    log: &[Record],
) -> Vec<Value> {
    let Ok((residual, scopes)) = subscribe(table, who) else {
        return Vec::new();
    };
    let lists = |image: &Value| -> Option<Row> {
        let row = image.as_object()?;
        (firewall::visible(row, &scopes)
            && residual.admits(row, who, clock)
            && filters.iter().all(|f| filter_holds(f, row)))
        .then(|| {
            let today: Row = row
                .iter()
                .filter(|(k, _)| table.column(k).is_some())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            masking::mask(table, who, &today, true)
        })
    };
    let unstamped = |row: &Row| {
        let mut row = row.clone();
        row.remove(system::MODIFIED_AT);
        row.remove(system::MODIFIED_BY);
        row
    };
    let mut out = Vec::new();
    for r in log {
        let (before, after) = (lists(&r["before"]), lists(&r["after"]));
        let op = r["op"].as_str().unwrap_or_default();
        let event = match (&before, &after) {
            (None, None) => continue,
            (None, Some(_)) if op == "insert" => "insert",
            (None, Some(_)) => "enter",
            (Some(_), None) if op == "delete" || op == "soft-delete" => "delete",
            (Some(_), None) => "leave",
            (Some(b), Some(a)) if unstamped(b) == unstamped(a) => continue,
            (Some(_), Some(_)) => "update",
        };
        let id = [&r["after"], &r["before"]]
            .into_iter()
            .find_map(|image| image.get(system::ID))
            .cloned()
            .unwrap_or(Value::Null);
        let mut data = Map::new();
        data.insert("table".into(), json!(table.name));
        data.insert("id".into(), id);
        if let Some(row) = after.filter(|_| matches!(event, "insert" | "enter" | "update")) {
            data.insert("record".into(), Value::Object(row));
        }
        out.push(json!({ "event": event, "data": data }));
    }
    out
}
