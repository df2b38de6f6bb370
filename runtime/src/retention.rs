//! Keeping the change log (SPEC §11) to what the project declares: the retention sweep erases
//! versions older than a table's `history { keep … }` — and on a realtime table without
//! history, records older than the [`RESUME_WINDOW_DAYS`] realtime resumes from — and `ward history
//! purge` erases the ones an operator names. Both erase in small batches, each its own transaction, so a sweep over
//! millions of records never holds the log's locks for long.

use std::time::Duration;

use crate::engine::journal;
use crate::error::ApiError;
use crate::snapshot::Snapshot;
use crate::sql::changes::Purge;
use crate::store::Store;

/// How long the records of a realtime table without `history` are kept: a subscriber that
/// reconnects later than this after its last event is told to start over (SPEC §12).
pub const RESUME_WINDOW_DAYS: u32 = 1;

/// How often a serving instance sweeps; the first sweep runs a minute after the start.
pub const SWEEP_EVERY: Duration = Duration::from_secs(3600);
pub const FIRST_SWEEP: Duration = Duration::from_secs(60);

/// Erases every version older, at `now`, than its table's `keep`; the number erased.
pub async fn sweep(
    store: &Store,
    snapshot: &Snapshot,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u64, ApiError> {
    let mut erased = 0;
    for plan in snapshot.tables() {
        let days = match &plan.def.history {
            Some(h) => h.keep_days,
            None if plan.def.realtime => Some(RESUME_WINDOW_DAYS),
            None => None,
        };
        let Some(days) = days else {
            continue;
        };
        let cutoff = now - chrono::Duration::days(i64::from(days));
        let what = Purge::Before(ward_ir::time::datetime_text(&cutoff));
        erased += erase(store, plan.name(), what).await?;
    }
    Ok(erased)
}

/// Erases every record of `table` that `what` selects, batch by batch; the number erased.
pub async fn erase(store: &Store, table: &str, what: Purge) -> Result<u64, ApiError> {
    journal::settle(store).await?;
    let dialect = store.dialect();
    let mut erased = 0;
    loop {
        let (table, what) = (table.to_owned(), what.clone());
        let n = store
            .write(move |db| journal::erase(db, dialect, &table, &what))
            .await?;
        erased += n;
        if n < journal::ERASE_BATCH {
            return Ok(erased);
        }
    }
}
