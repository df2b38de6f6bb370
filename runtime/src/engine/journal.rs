//! Change records (SPEC §11): for a table with `history` or `realtime`, each changed row
//! writes one record in the write's own transaction — so a rolled-back write leaves none — with
//! a `seq` per table that rises in commit order ([`crate::sql::changes::record_change`]).
//! Columns the table's `history { exclude … }` names are never stored.

use serde_json::Value as Json;
use ward_ir::system;

use super::Writer;
use crate::error::ApiError;
use crate::files::meta;
use crate::mutation::{self, Mutation};
use crate::snapshot::TablePlan;
use crate::sql::changes::{self, ChangeRow};
use crate::store::row::{self, Record};

/// What a change did to its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Insert,
    Update,
    Delete,
    SoftDelete,
    Restore,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Insert => "insert",
            Op::Update => "update",
            Op::Delete => "delete",
            Op::SoftDelete => "soft-delete",
            Op::Restore => "restore",
        }
    }

    pub fn parse(name: &str) -> Option<Op> {
        [
            Op::Insert,
            Op::Update,
            Op::Delete,
            Op::SoftDelete,
            Op::Restore,
        ]
        .into_iter()
        .find(|op| op.name() == name)
    }

    /// What took `before` to `after`; `None` for an update that changed no column the log
    /// keeps (stamps aside), which is not a change.
    fn of(plan: &TablePlan, before: Option<&Record>, after: Option<&Record>) -> Option<Op> {
        let deleted = |r: &Record| r.get(system::DELETED_AT).is_some_and(|v| !v.is_null());
        match (before, after) {
            (None, None) => None,
            (None, Some(_)) => Some(Op::Insert),
            (Some(_), None) => Some(Op::Delete),
            (Some(b), Some(a)) => match (deleted(b), deleted(a)) {
                (false, true) => Some(Op::SoftDelete),
                (true, false) => Some(Op::Restore),
                _ => differ(b, a, excluded(plan)).then_some(Op::Update),
            },
        }
    }
}

/// The columns every update sets, whatever else it changes.
const STAMPS: [&str; 2] = [system::MODIFIED_AT, system::MODIFIED_BY];

/// Whether two images of a row differ in a column other than the stamps and `ignored`: an
/// update that changed nothing else is no change to record, or to show.
pub fn differ(a: &Record, b: &Record, ignored: &[String]) -> bool {
    let counts = |k: &String| !STAMPS.contains(&k.as_str()) && !ignored.contains(k);
    a.iter().any(|(k, v)| counts(k) && b.get(k) != Some(v))
        || b.keys().any(|k| counts(k) && !a.contains_key(k))
}

/// The columns `history { exclude … }` keeps out of every record.
fn excluded(plan: &TablePlan) -> &[String] {
    if mutation::active(Mutation::HistoryExcludedKept) {
        return &[];
    }
    plan.def
        .history
        .as_ref()
        .map_or(&[][..], |h| h.exclude.as_slice())
}

/// `rec` as a change record stores it: without excluded columns, and a file column as its
/// metadata without the object's key (SPEC §13). Serialized straight from the row: on SQLite
/// the record is made by the one writer thread, where a copy of the row (every name and value
/// cloned, every key hashed) cost a quarter of what the record added to an update.
struct Image<'a> {
    plan: &'a TablePlan,
    rec: &'a Record,
}

impl Image<'_> {
    fn is_file(&self, column: &str) -> bool {
        self.plan
            .files
            .iter()
            .filter_map(|&i| self.plan.columns().get(i))
            .any(|c| c.name == column)
    }
}

impl serde::Serialize for Image<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let excluded = excluded(self.plan);
        let mut map = s.serialize_map(None)?;
        for (k, v) in self.rec.iter().filter(|(k, _)| !excluded.contains(k)) {
            if self.is_file(k) {
                map.serialize_entry(k, &meta::public(v))?;
            } else {
                map.serialize_entry(k, v)?;
            }
        }
        map.end()
    }
}

/// One change record as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub table: String,
    pub seq: i64,
    pub op: Op,
    pub id: String,
    pub at: String,
    pub actor: Option<String>,
    pub role: Option<String>,
    pub request: Option<String>,
    pub before: Option<Record>,
    pub after: Option<Record>,
}

impl Change {
    /// The row's id as its table types it (the log keys it as text).
    pub fn id_value(&self) -> Json {
        self.after
            .as_ref()
            .or(self.before.as_ref())
            .and_then(|r| r.get(system::ID))
            .cloned()
            .unwrap_or_else(|| Json::String(self.id.clone()))
    }

    /// The record as JSON, with its field names (SPEC §11).
    pub fn to_json(&self) -> Json {
        let image = |r: &Option<Record>| r.clone().map_or(Json::Null, Json::Object);
        serde_json::json!({
            "table": self.table,
            "seq": self.seq,
            "op": self.op.name(),
            "id": self.id,
            "at": self.at,
            "actor": self.actor,
            "role": self.role,
            "request": self.request,
            "before": image(&self.before),
            "after": image(&self.after),
        })
    }
}

/// Runs a statement over the change log's [`changes::COLUMNS`] and reads its records.
pub fn read(db: &dyn crate::store::Db, stmt: &crate::sql::Stmt) -> Result<Vec<Change>, ApiError> {
    use ward_ir::ColumnType::{Integer, Text};
    let types = [
        Text, Integer, Text, Text, Text, Text, Text, Text, Text, Text,
    ];
    let text = |v: &Json| v.as_str().map(str::to_owned);
    let image = |v: &Json| -> Result<Option<Record>, ApiError> {
        match v.as_str() {
            None => Ok(None),
            Some(s) => serde_json::from_str(s)
                .map(Some)
                .map_err(ApiError::internal),
        }
    };
    db.query(stmt, &types)?
        .iter()
        .map(|r| {
            let [tbl, seq, op, id, at, actor, role, request, before, after] = r.as_slice() else {
                return Err(ApiError::internal("a change record of the wrong shape"));
            };
            Ok(Change {
                table: text(tbl).unwrap_or_default(),
                seq: seq.as_i64().unwrap_or_default(),
                op: op
                    .as_str()
                    .and_then(Op::parse)
                    .ok_or_else(|| ApiError::internal("a change record with an unknown op"))?,
                id: text(id).unwrap_or_default(),
                at: text(at).unwrap_or_default(),
                actor: text(actor),
                role: text(role),
                request: text(request),
                before: image(before)?,
                after: image(after)?,
            })
        })
        .collect()
}

/// Records numbered per statement by [`settle`].
const NUMBER_BATCH: u64 = 5_000;

/// Numbers the change records committed so far (Postgres; SQLite numbers them as they are
/// written): whoever reads the log calls this first, so it sees every committed change, each
/// with its number, in commit order ([`changes::number_pending`]).
pub async fn settle(store: &crate::store::Store) -> Result<(), ApiError> {
    if store.dialect() == crate::sql::Dialect::Sqlite {
        return Ok(());
    }
    store
        .committed_write(|db| {
            // Nothing waiting (a read-mostly load): no lock taken, nothing written.
            if db
                .query(&changes::any_pending(), &[ward_ir::ColumnType::Integer])?
                .is_empty()
            {
                return Ok(());
            }
            db.query(&changes::numbering_lock(), &[])?;
            while row::execute(db, &changes::number_pending(NUMBER_BATCH))? == NUMBER_BATCH {}
            Ok(())
        })
        .await
}

/// Records erased per statement by [`erase`]: small enough that no statement holds the change
/// log's locks for long (SPEC §11: under 100 ms).
pub const ERASE_BATCH: u64 = 500;

/// Erases one batch of `table`'s records that `what` selects; the number erased (0: done).
/// The table's erased mark rises to the highest `seq` erased, so that a realtime subscriber
/// resuming from below it is told to start over instead of missing them.
pub fn erase(
    db: &dyn crate::store::Db,
    dialect: crate::sql::Dialect,
    table: &str,
    what: &changes::Purge,
) -> Result<u64, ApiError> {
    let highest = db.query(
        &changes::highest_erased(dialect, table, what, ERASE_BATCH),
        &[ward_ir::ColumnType::Integer],
    )?;
    let Some(seq) = highest
        .first()
        .and_then(|r| r.first())
        .and_then(Json::as_i64)
    else {
        return Ok(0);
    };
    let erased = row::execute(db, &changes::erase(dialect, table, what, ERASE_BATCH))?;
    row::execute(db, &changes::mark_erased(dialect, table, seq))?;
    Ok(erased)
}

/// Where a table's log stands: the highest `seq` it holds (0: none yet) and the highest ever
/// erased from it (0: none).
pub fn position(
    db: &dyn crate::store::Db,
    dialect: crate::sql::Dialect,
    table: &str,
) -> Result<(i64, i64), ApiError> {
    use ward_ir::ColumnType::Integer;
    let rows = db.query(&changes::position(dialect, table), &[Integer, Integer])?;
    let cell = |i: usize| {
        rows.first()
            .and_then(|r| r.get(i))
            .and_then(Json::as_i64)
            .unwrap_or(0)
    };
    let erased = cell(1);
    Ok((cell(0).max(erased), erased))
}

/// A row id as the log keys it: the text of a text or uuid id, the digits of an integer one.
pub fn id_key(id: &Json) -> String {
    match id {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Writes the record of one row going from `before` to `after` (`None`: absent), if `plan`
/// logs its changes and the row changed.
pub fn record(
    w: Writer<'_>,
    plan: &TablePlan,
    before: Option<&Record>,
    after: Option<&Record>,
) -> Result<(), ApiError> {
    if !plan.def.logs_changes() {
        return Ok(());
    }
    let Some(op) = Op::of(plan, before, after) else {
        return Ok(());
    };
    let id = after
        .or(before)
        .and_then(|r| r.get(system::ID))
        .ok_or_else(|| ApiError::internal("a logged row has no id"))?;
    let text = |r: Option<&Record>| -> Result<Option<String>, ApiError> {
        r.map(|rec| serde_json::to_string(&Image { plan, rec }).map_err(ApiError::internal))
            .transpose()
    };
    let stmt = changes::record_change(
        plan.dialect,
        ChangeRow {
            table: plan.name(),
            op: op.name(),
            row_id: &id_key(id),
            at: w.at,
            actor: w.caller.user_id.as_deref(),
            role: w.caller.roles.first().map(String::as_str),
            request: w.request,
            before: text(before)?,
            after: text(after)?,
        },
    )?;
    w.db.append(stmt)?;
    if plan.def.realtime {
        w.db.announce(plan.name());
    }
    Ok(())
}
