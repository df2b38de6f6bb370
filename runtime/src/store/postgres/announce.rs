//! Telling other instances that a realtime table's change log grew (SPEC §12: the writer
//! signals after commit).
//!
//! A `NOTIFY` inside the write's own transaction would be delivered at its commit, but Postgres
//! queues every notifying transaction's notifications under one database-wide lock held from
//! commit until the transaction is gone: concurrent writes of realtime tables committed one at
//! a time (35 % of the write throughput of the same table without realtime, nobody subscribed).
//! So a write only names its tables ([`Db::announce`](crate::store::Db::announce)); after it
//! commits, they join a set that one task per store sends, one `pg_notify` per table, on a
//! pooled connection of its own — while it sends, the commits of many writes gather for the
//! next. A notification lost on the way (the task's connection failed, the process died after
//! the commit) costs latency, never an event: every instance also polls the log.

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::Notify;

use super::{pool_error, run_query};
use crate::sql::changes;

/// The shortest pause between two sends: under a stream of commits, one send carries the tables
/// of many.
const GAP: Duration = Duration::from_millis(2);

/// The tables whose logs grew since the last send, and the task that sends them.
#[derive(Clone)]
pub(crate) struct Announcer {
    shared: Arc<Shared>,
}

struct Shared {
    pool: deadpool_postgres::Pool,
    pending: Mutex<Vec<String>>,
    wake: Arc<Notify>,
}

/// The last store handle gone, the task finds nothing to upgrade and ends.
impl Drop for Shared {
    fn drop(&mut self) {
        self.wake.notify_one();
    }
}

impl Announcer {
    /// Starts the sending task on the current runtime.
    pub(crate) fn start(pool: deadpool_postgres::Pool) -> Announcer {
        let wake = Arc::new(Notify::new());
        let shared = Arc::new(Shared {
            pool,
            pending: Mutex::default(),
            wake: wake.clone(),
        });
        tokio::spawn(send_while_open(Arc::downgrade(&shared), wake));
        Announcer { shared }
    }

    /// `tables` were just committed with new change records.
    pub(crate) fn committed(&self, tables: Vec<String>) {
        if tables.is_empty() {
            return;
        }
        let mut pending = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for table in tables {
            if !pending.contains(&table) {
                pending.push(table);
            }
        }
        drop(pending);
        self.shared.wake.notify_one();
    }
}

async fn send_while_open(shared: Weak<Shared>, wake: Arc<Notify>) {
    loop {
        wake.notified().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let tables = std::mem::take(
            &mut *shared
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        if tables.is_empty() {
            continue;
        }
        if let Err(e) = send(&shared.pool, &tables).await {
            tracing::warn!(target: "ward::realtime", error = %e.message(), "announcing changes to other instances");
        }
        drop(shared);
        tokio::time::sleep(GAP).await;
    }
}

async fn send(
    pool: &deadpool_postgres::Pool,
    tables: &[String],
) -> Result<(), crate::error::ApiError> {
    let client = pool.get().await.map_err(pool_error)?;
    run_query(&client, &changes::announce(tables), &[])
        .await
        .map(|_| ())
}
