//! What a soft delete and a restore do beyond their own row (SPEC §2.8, docs/decisions.md):
//!
//! - `restrict` refuses a delete whenever any other row points through it at a row the delete
//!   removes — the root or one its cascade reaches — even a row that cascade would remove too
//!   (SQL's RESTRICT, checked before any cascade). The databases decide that last case by the
//!   order the foreign keys were declared in; ward decides it itself, before anything is written,
//!   so both answer alike (docs/decisions.md);
//! - a soft delete cascades, level by level, to the rows whose reference says `on-delete=cascade`,
//!   each child table under its own firewall for the caller (rows the caller cannot see are left
//!   alone), with the parent's stamps; a hard delete's cascade is the foreign keys', over every
//!   row;
//! - a restore brings back the rows that cascade deleted with it (same `deletedAt` and
//!   `deletedBy`) that the caller's firewall covers, and never brings back a row pointing at a
//!   soft-deleted row.
//!
//! Both walk id sets, never single rows, and remember every row they touched, so reference cycles
//! end.

use std::collections::{HashSet, VecDeque};

use sea_query::{Cond, Condition as SqlCond};
use serde_json::{Map, Value as Json};
use ward_ir::{OnDelete, system};

use crate::engine::{Writer, rows};
use crate::error::ApiError;
use crate::gate::{Caller, Gate, Residual};
use crate::security::firewall;
use crate::snapshot::{Snapshot, TablePlan};
use crate::sql::{dml, predicate, related};
use crate::store::Db;
use crate::store::row::{self, Record};

fn key(table: &str, id: &Json) -> (String, String) {
    (table.to_owned(), id.to_string())
}

/// The `(child table, column)` pairs whose column references `parent` with `on_delete`.
fn referencing<'a>(
    snap: &'a Snapshot,
    parent: &str,
    on_delete: OnDelete,
) -> Vec<(&'a TablePlan, &'a str)> {
    let mut out = Vec::new();
    for child in snap.tables() {
        for c in child.columns() {
            if c.references
                .as_ref()
                .is_some_and(|r| r.table == parent && r.on_delete == on_delete)
            {
                out.push((child, c.name.as_str()));
            }
        }
    }
    out
}

/// The caller's firewall on `plan` as a gate without access residual; `None` when the caller lacks
/// a scope claim (then no row of the table is theirs to touch).
fn firewall_gate(plan: &TablePlan, caller: &Caller) -> Option<Gate> {
    firewall::predicates(&plan.def, caller)
        .ok()
        .map(|scopes| Gate {
            scopes,
            residual: Residual::True,
        })
}

/// After the root row of `plan` was soft-deleted with `stamps`: the `restrict` check over every row
/// the cascade reaches, then the cascade.
pub fn soft_delete(
    w: Writer<'_>,
    snap: &Snapshot,
    plan: &TablePlan,
    id: &Json,
    stamps: &Map<String, Json>,
) -> Result<(), ApiError> {
    let (tx, caller) = (w.db, w.caller);
    let mut stamps = stamps.clone();
    stamps.remove(system::ID);
    let reached = reach(tx, snap, plan, id, &|child| {
        // A hard-delete child cannot be soft-deleted, and deleting it for good would make the
        // parent's restore lossy: it stays (and may restrict).
        if child.soft {
            firewall_gate(child, caller).map(|gate| predicate::firewall(child, &gate))
        } else {
            None
        }
    })?;
    for (parent, ids, _) in &reached {
        restrict_check(tx, snap, parent, ids, Rows::Live)?;
    }
    for (child, ids, within) in reached.iter().skip(1) {
        for chunk in ids.chunks(related::IN_CHUNK) {
            let cond = within
                .clone()
                .add(related::column_in(child, system::ID, chunk));
            rows::update_where(w, child, &stamps, cond)?;
        }
    }
    Ok(())
}

/// The hard delete of row `id` of `plan` while it satisfies `cond`; the number of rows removed
/// (0 or 1). First the `restrict` check over every row the foreign keys' cascade will remove
/// (any row of any table, soft-deleted or not, whatever the caller's firewall — as the foreign
/// keys see them): with it passed, no `restrict` foreign key can fire inside the statement,
/// whatever order the keys were declared in. The rows the keys then remove or set to null are
/// recorded in the change log of the tables that keep one, as the root row is.
pub fn hard_delete(
    w: Writer<'_>,
    snap: &Snapshot,
    plan: &TablePlan,
    id: &Json,
    cond: SqlCond,
) -> Result<u64, ApiError> {
    let tx = w.db;
    let reached = reach(tx, snap, plan, id, &|_| Some(Cond::all()))?;
    for (parent, ids, _) in &reached {
        restrict_check(tx, snap, parent, ids, Rows::All)?;
    }
    // Nothing to read ahead when no table keeps a change log.
    let followed = if snap.tables().any(|t| t.writes_images) {
        KeyEffects::before(tx, snap, &reached)?
    } else {
        KeyEffects::default()
    };
    let n = rows::delete(w, plan, id, cond)?;
    if n > 0 {
        followed.record(w)?;
    }
    Ok(n)
}

/// What the foreign keys of a hard delete do to rows of tables that log their changes: the rows
/// they remove (`cascade`) and the rows whose reference they set to null (`set-null`), read
/// before the DELETE.
#[derive(Default)]
struct KeyEffects<'s> {
    removed: Vec<(&'s TablePlan, Vec<Record>)>,
    nulled: Vec<(&'s TablePlan, Vec<Record>)>,
}

impl<'s> KeyEffects<'s> {
    fn before(
        tx: &dyn Db,
        snap: &'s Snapshot,
        reached: &[Reached<'s>],
    ) -> Result<KeyEffects<'s>, ApiError> {
        let mut out = KeyEffects {
            removed: Vec::new(),
            nulled: Vec::new(),
        };
        let removed: HashSet<(String, String)> = reached
            .iter()
            .flat_map(|(t, ids, _)| ids.iter().map(|id| key(t.name(), id)))
            .collect();
        let mut nulled: HashSet<(String, String)> = HashSet::new();
        for (i, (table, ids, _)) in reached.iter().enumerate() {
            // The root row is the DELETE's own to record.
            if i > 0 && table.writes_images {
                out.removed.push((table, rows::by_ids(tx, table, ids)?));
            }
            for (child, column) in referencing(snap, table.name(), OnDelete::SetNull) {
                if !child.writes_images {
                    continue;
                }
                let mut rows = Vec::new();
                for chunk in ids.chunks(related::IN_CHUNK) {
                    let cond = Cond::all().add(related::column_in(child, column, chunk));
                    rows.extend(row::records(
                        tx,
                        child,
                        &dml::select(child, cond, &[], None, 0),
                    )?);
                }
                // A row removed too is recorded as removed; one reached through two references
                // is recorded once.
                rows.retain(|r| {
                    r.get(system::ID).is_some_and(|id| {
                        let k = key(child.name(), id);
                        !removed.contains(&k) && nulled.insert(k)
                    })
                });
                if !rows.is_empty() {
                    out.nulled.push((child, rows));
                }
            }
        }
        Ok(out)
    }

    /// The change records, once the DELETE has run.
    fn record(self, w: Writer<'_>) -> Result<(), ApiError> {
        for (table, rows) in &self.removed {
            for r in rows {
                rows::written(w, table, Some(r), None)?;
            }
        }
        for (table, rows) in &self.nulled {
            let ids: Vec<Json> = rows
                .iter()
                .filter_map(|r| r.get(system::ID).cloned())
                .collect();
            for (b, a) in rows.iter().zip(rows::by_ids(w.db, table, &ids)?) {
                rows::written(w, table, Some(b), Some(&a))?;
            }
        }
        Ok(())
    }
}

/// A table a delete reaches, the ids it reaches there, and the condition that bounded the search
/// (the same bound limits what the cascade then writes).
type Reached<'s> = (&'s TablePlan, Vec<Json>, SqlCond);

/// The rows a delete of `id` reaches through `cascade` references, level by level, the root
/// first; `within` says which rows of a child table it may reach (`None`: none). Every row is
/// visited once, so reference cycles end.
fn reach<'s>(
    tx: &dyn Db,
    snap: &'s Snapshot,
    plan: &'s TablePlan,
    id: &Json,
    within: &dyn Fn(&TablePlan) -> Option<SqlCond>,
) -> Result<Vec<Reached<'s>>, ApiError> {
    let mut seen: HashSet<(String, String)> = HashSet::from([key(plan.name(), id)]);
    let mut reached: Vec<Reached<'s>> = vec![(plan, vec![id.clone()], Cond::all())];
    let mut queue: VecDeque<usize> = VecDeque::from([0]);
    while let Some(at) = queue.pop_front() {
        let (parent, ids) = match reached.get(at) {
            Some((p, ids, _)) => (*p, ids.clone()),
            None => continue,
        };
        for (child, column) in referencing(snap, parent.name(), OnDelete::Cascade) {
            let Some(base) = within(child) else {
                continue;
            };
            let mut found = Vec::new();
            for chunk in ids.chunks(related::IN_CHUNK) {
                let cond = base.clone().add(related::column_in(child, column, chunk));
                found.extend(row::ids(tx, child, &related::select_ids(child, cond))?);
            }
            found.retain(|f| seen.insert(key(child.name(), f)));
            if found.is_empty() {
                continue;
            }
            reached.push((child, found, base));
            queue.push_back(reached.len() - 1);
        }
    }
    Ok(reached)
}

/// Which referencing rows a `restrict` check counts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rows {
    /// Before a soft delete: a soft-deleted row is gone already.
    Live,
    /// Before a hard delete: every row, as the foreign key sees them.
    All,
}

/// A row that references a row of `ids` through `on-delete=restrict` refuses the delete: one of
/// `rows`, other than the row itself. Like the foreign key it mirrors, the check sees every row,
/// whatever the caller's firewall.
fn restrict_check(
    tx: &dyn Db,
    snap: &Snapshot,
    parent: &TablePlan,
    ids: &[Json],
    rows: Rows,
) -> Result<(), ApiError> {
    for (child, column) in referencing(snap, parent.name(), OnDelete::Restrict) {
        for chunk in ids.chunks(related::IN_CHUNK) {
            let mut cond = Cond::all().add(related::column_in(child, column, chunk));
            if child.soft && rows == Rows::Live {
                cond = cond.add(related::column_eq(child, system::DELETED_AT, &Json::Null));
            }
            if child.name() == parent.name() {
                cond = cond.add(related::not_self(column));
            }
            if row::any_row(tx, &dml::exists(child, cond))? {
                return Err(ApiError::reference_violation(None));
            }
        }
    }
    Ok(())
}

/// The rows among `ids` of `plan` that reference a soft-deleted row, and the columns doing so.
fn dangling(
    tx: &dyn Db,
    snap: &Snapshot,
    plan: &TablePlan,
    ids: &[Json],
) -> Result<(HashSet<String>, Vec<String>), ApiError> {
    let (mut rows, mut columns) = (HashSet::new(), Vec::new());
    for (column, target) in &plan.references {
        let Some(tplan) = snap.table(target).filter(|t| t.soft) else {
            continue;
        };
        for chunk in ids.chunks(related::IN_CHUNK) {
            let found = row::ids(tx, plan, &related::dangling(plan, chunk, column, tplan))?;
            if !found.is_empty() && !columns.contains(column) {
                columns.push(column.clone());
            }
            rows.extend(found.iter().map(Json::to_string));
        }
    }
    Ok((rows, columns))
}

/// After the root row of `plan` was restored: restore, level by level, the cascade children deleted
/// together with it (`deletedAt`/`deletedBy` equal to the root's) inside the caller's firewall,
/// skipping any that would point at a soft-deleted row; then refuse the whole restore (409
/// `REFERENCE_VIOLATION` naming the columns) if the root itself points at one.
pub fn restore(
    w: Writer<'_>,
    snap: &Snapshot,
    plan: &TablePlan,
    id: &Json,
    deleted_at: &Json,
    deleted_by: &Json,
    stamps: &Map<String, Json>,
) -> Result<(), ApiError> {
    let (tx, caller) = (w.db, w.caller);
    let mut stamps = stamps.clone();
    stamps.remove(system::ID);
    let mut seen: HashSet<(String, String)> = HashSet::from([key(plan.name(), id)]);
    let mut queue: VecDeque<(&TablePlan, Vec<Json>)> = VecDeque::from([(plan, vec![id.clone()])]);
    while let Some((parent, ids)) = queue.pop_front() {
        for (child, column) in referencing(snap, parent.name(), OnDelete::Cascade) {
            if !child.soft {
                continue;
            }
            let Some(gate) = firewall_gate(child, caller) else {
                continue;
            };
            let same_cascade = |chunk: &[Json]| {
                related::deleted_in_scope(child, &gate)
                    .add(related::column_in(child, column, chunk))
                    .add(related::column_eq(child, system::DELETED_AT, deleted_at))
                    .add(related::column_eq(child, system::DELETED_BY, deleted_by))
            };
            let mut found = Vec::new();
            for chunk in ids.chunks(related::IN_CHUNK) {
                found.extend(row::ids(
                    tx,
                    child,
                    &related::select_ids(child, same_cascade(chunk)),
                )?);
            }
            // Not marked as seen when skipped: another parent restored later may make it valid.
            found.retain(|f| !seen.contains(&key(child.name(), f)));
            let (bad, _) = dangling(tx, snap, child, &found)?;
            found.retain(|f| !bad.contains(&f.to_string()));
            if found.is_empty() {
                continue;
            }
            for chunk in found.chunks(related::IN_CHUNK) {
                let cond = related::deleted_in_scope(child, &gate).add(related::column_in(
                    child,
                    system::ID,
                    chunk,
                ));
                rows::update_where(w, child, &stamps, cond)?;
            }
            seen.extend(found.iter().map(|f| key(child.name(), f)));
            queue.push_back((child, found));
        }
    }
    // Checked last, so that a row the cascade itself brought back (a reference cycle) counts as
    // alive.
    let (_, columns) = dangling(tx, snap, plan, std::slice::from_ref(id))?;
    if !columns.is_empty() {
        return Err(ApiError::reference_violation(Some(columns)));
    }
    Ok(())
}
