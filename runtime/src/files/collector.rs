//! Deleting the objects writes released (SPEC §13). A write that replaces or removes a file
//! queues the old object's key in its own transaction (`engine::files`), so a rolled-back write
//! queues nothing and a committed one cannot forget. The collector deletes queued objects after
//! commit — woken by this process's commits, and every [`PASS_EVERY`] for other instances'
//! and for retries — backing off per key on failure. The sweeper is the net under both: it
//! deletes objects no row references once they are older than a grace period (an upload whose
//! request died between the store and the database, a column a reload removed).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value as Json;
use tokio::sync::Notify;
use ward_ir::ColumnType;

use super::meta;
use super::store::FileStore;
use crate::error::ApiError;
use crate::snapshot::Snapshot;
use crate::sql::files as queue;
use crate::store::Store;

/// The collector looks at the queue at least this often, woken or not.
pub const PASS_EVERY: Duration = Duration::from_secs(10);
/// Keys one pass takes from the queue.
const PER_PASS: u64 = 200;
/// The longest wait before a failed deletion is tried again.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// An unreferenced object younger than this is left alone by the sweeper: its upload may still
/// be on its way to the database.
pub const SWEEP_GRACE: Duration = Duration::from_secs(3600);

/// `now` as change records and the queue write times: RFC 3339 in UTC, milliseconds.
pub fn stamp(now: chrono::DateTime<chrono::Utc>) -> String {
    ward_ir::time::datetime_text(&now)
}

/// The wait before attempt `attempts + 1`: 2^attempts seconds, at most [`MAX_BACKOFF`].
fn backoff(attempts: i64) -> Duration {
    let exp = u32::try_from(attempts.clamp(0, 12)).unwrap_or(12);
    Duration::from_secs(1u64 << exp).min(MAX_BACKOFF)
}

/// One pass over the due part of the queue: deletes each object and takes its key off the
/// queue, or schedules the next attempt. Returns the number of objects deleted.
pub async fn collect(store: &Store, files: &FileStore) -> Result<usize, ApiError> {
    let dialect = store.dialect();
    let now = chrono::Utc::now();
    let rows = store
        .query(
            queue::due(dialect, &stamp(now), PER_PASS),
            vec![ColumnType::Text, ColumnType::Integer],
        )
        .await?;
    let mut deleted = 0;
    for row in rows {
        let (Some(key), Some(attempts)) = (
            row.first().and_then(Json::as_str),
            row.get(1).and_then(Json::as_i64),
        ) else {
            continue;
        };
        let key = key.to_owned();
        let stmt = match files.delete(&key).await {
            Ok(()) => {
                deleted += 1;
                queue::forget(dialect, &key)
            }
            Err(e) => {
                let wait = chrono::Duration::from_std(backoff(attempts))
                    .unwrap_or(chrono::Duration::hours(1));
                tracing::warn!(target: "ward::files", %key, error = %e, "deleting a released file failed; will retry");
                queue::retry(
                    dialect,
                    &key,
                    &stamp(now + wait),
                    attempts.saturating_add(1),
                    &e.to_string(),
                )
            }
        };
        store.write_one(move |db| db.execute(&stmt)).await?;
    }
    Ok(deleted)
}

/// The number of keys waiting in the queue.
pub async fn queued(store: &Store) -> Result<u64, ApiError> {
    let rows = store
        .query(queue::queued(store.dialect()), vec![ColumnType::Integer])
        .await?;
    Ok(rows
        .first()
        .and_then(|r| r.first())
        .and_then(Json::as_u64)
        .unwrap_or(0))
}

/// Deletes every object of the store that no row of `snapshot` references (soft-deleted rows
/// included) and that is older than `grace`; the number deleted.
pub async fn sweep(
    store: &Store,
    files: &FileStore,
    snapshot: &Snapshot,
    grace: Duration,
) -> Result<usize, ApiError> {
    // Objects listed first, references read after: an object uploaded and committed in
    // between is younger than any sensible grace, and one listed before is referenced below.
    let cutoff = chrono::Utc::now()
        - chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::hours(1));
    let mut old = Vec::new();
    let mut listing = files.list();
    while let Some(meta) = listing.next().await {
        let meta = meta.map_err(ApiError::file_store_unavailable)?;
        if meta.last_modified < cutoff {
            old.push(meta.location.to_string());
        }
    }
    if old.is_empty() {
        return Ok(0);
    }
    let mut referenced = HashSet::new();
    for plan in snapshot.tables() {
        for column in plan.def.file_columns() {
            let rows = store
                .query(queue::stored(plan, &column.name), vec![ColumnType::File])
                .await?;
            referenced.extend(
                rows.iter()
                    .filter_map(|r| r.first().and_then(meta::key).map(str::to_owned)),
            );
        }
    }
    let mut deleted = 0;
    for key in old.iter().filter(|k| !referenced.contains(*k)) {
        files
            .delete(key)
            .await
            .map_err(ApiError::file_store_unavailable)?;
        deleted += 1;
    }
    Ok(deleted)
}

/// The collector task of a serving process: started once, stopped when dropped.
#[derive(Default)]
pub struct Collector {
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector").finish_non_exhaustive()
    }
}

impl Collector {
    /// Starts collecting (once): a pass after every wake of `commits`, while `wanted` says
    /// the served IR has file columns, and every [`PASS_EVERY`] regardless.
    pub fn start(
        &self,
        store: Store,
        files: FileStore,
        commits: Arc<Notify>,
        wanted: Arc<dyn Fn() -> bool + Send + Sync>,
    ) {
        let mut task = self.task.lock().unwrap_or_else(PoisonError::into_inner);
        if task.is_some() {
            return;
        }
        *task = Some(tokio::spawn(async move {
            loop {
                let woken = tokio::select! {
                    () = commits.notified() => true,
                    () = tokio::time::sleep(PASS_EVERY) => false,
                };
                if woken && !wanted() {
                    continue;
                }
                if let Err(e) = collect(&store, &files).await {
                    tracing::warn!(target: "ward::files", error = %e.code(), "file collection failed");
                }
            }
        }));
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Some(task) = self
            .task
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_deletions_back_off_to_an_hour() {
        assert_eq!(backoff(0), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(40), MAX_BACKOFF);
        assert_eq!(backoff(-1), Duration::from_secs(1));
    }
}
