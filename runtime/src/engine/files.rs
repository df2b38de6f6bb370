//! Releasing stored files (SPEC §13): when a write leaves a file column without the object it
//! held — replaced by an upload, set to null, or the row hard-deleted — the object's key joins
//! the deletion queue in the same transaction. A rolled-back write releases nothing; a soft
//! delete releases nothing (the row, and so its file, can come back).

use super::Writer;
use crate::error::ApiError;
use crate::files::meta;
use crate::mutation::{self, Mutation};
use crate::snapshot::TablePlan;
use crate::sql::files as queue;
use crate::store::row::{self, Record};

/// Queues the objects the row's file columns held in `before` and no longer hold in `after`.
pub fn release(
    w: Writer<'_>,
    plan: &TablePlan,
    before: Option<&Record>,
    after: Option<&Record>,
) -> Result<(), ApiError> {
    let Some(before) = before else {
        return Ok(());
    };
    for column in plan.files.iter().filter_map(|&i| plan.columns().get(i)) {
        let Some(old) = before.get(&column.name).and_then(meta::key) else {
            continue;
        };
        let kept = after
            .and_then(|r| r.get(&column.name))
            .and_then(meta::key)
            .is_some_and(|new| new == old)
            || (after.is_some() && mutation::active(Mutation::FileReleaseSkipped));
        if !kept {
            row::execute(w.db, &queue::release(plan.dialect, old, w.at))?;
        }
    }
    Ok(())
}
