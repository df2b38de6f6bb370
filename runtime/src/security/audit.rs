//! Audit columns, stamped by the server on every write (SPEC §6): the request's timestamp and the
//! caller's user id.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value as Json};
use ward_ir::system;

use crate::gate::Caller;
use crate::mutation::{self, Mutation};

static LAST: Mutex<Option<DateTime<Utc>>> = Mutex::new(None);

/// The request timestamp, RFC 3339 UTC with milliseconds. Clamped so that stamped times never go
/// backwards within the process, even if the wall clock does.
pub fn now() -> String {
    let mut t = Utc::now();
    let mut last = LAST
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(prev) = *last
        && t < prev
    {
        t = prev;
    }
    *last = Some(t);
    ward_ir::time::datetime_text(&t)
}

fn who(caller: &Caller) -> Json {
    caller.user_id.clone().map_or(Json::Null, Json::String)
}

pub fn stamp_create(values: &mut Map<String, Json>, caller: &Caller, now: &str) {
    values.insert(system::CREATED_AT.into(), Json::String(now.into()));
    values.insert(system::CREATED_BY.into(), who(caller));
    if mutation::active(Mutation::AuditCreatedByNull) {
        values.insert(system::CREATED_BY.into(), Json::Null);
    }
    stamp_update(values, caller, now);
}

pub fn stamp_update(values: &mut Map<String, Json>, caller: &Caller, now: &str) {
    values.insert(system::MODIFIED_AT.into(), Json::String(now.into()));
    values.insert(system::MODIFIED_BY.into(), who(caller));
}

pub fn stamp_soft_delete(values: &mut Map<String, Json>, caller: &Caller, now: &str) {
    values.insert(system::DELETED_AT.into(), Json::String(now.into()));
    values.insert(system::DELETED_BY.into(), who(caller));
    stamp_update(values, caller, now);
}

/// A restore clears the soft-delete stamps and counts as a modification.
pub fn stamp_restore(values: &mut Map<String, Json>, caller: &Caller, now: &str) {
    values.insert(system::DELETED_AT.into(), Json::Null);
    values.insert(system::DELETED_BY.into(), Json::Null);
    stamp_update(values, caller, now);
}
