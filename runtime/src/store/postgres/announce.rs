//! Telling other instances that a realtime table's change log grew (SPEC §12: the writer
//! signals after commit).
//!
//! A `NOTIFY` inside the write's own transaction would be delivered at its commit, but Postgres
//! queues every notifying transaction's notifications under one database-wide lock held from
//! commit until the transaction is gone: concurrent writes of realtime tables committed one at
//! a time (35 % of the write throughput of the same table without realtime, nobody subscribed).
//! So a write only names its tables ([`Db::announce`](crate::store::Db::announce)); after it
//! commits, they join a set that one task per store sends, one `pg_notify` per table — while it
//! sends, the commits of many writes gather for the next. The task has a connection of its own,
//! opened at its first send: waiting for a pooled one behind a load of requests would delay
//! every instance's events. A notification lost on the way (the connection failed, the process
//! died after the commit) costs latency, never an event: every instance also polls the log.

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_postgres::{Client, NoTls};

use super::{bound, params};
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
    config: Arc<tokio_postgres::Config>,
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
    /// Starts the sending task on the current runtime; it connects with `config` when it first
    /// has something to send.
    pub(crate) fn start(config: Arc<tokio_postgres::Config>) -> Announcer {
        let wake = Arc::new(Notify::new());
        let shared = Arc::new(Shared {
            config,
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
    let mut client: Option<Client> = None;
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
        if client.as_ref().is_none_or(Client::is_closed) {
            client = connect(&shared.config).await;
        }
        if let Some(c) = &client
            && let Err(e) = send(c, &tables).await
        {
            tracing::warn!(target: "ward::realtime", error = %e, "announcing changes to other instances");
            client = None;
        }
        drop(shared);
        tokio::time::sleep(GAP).await;
    }
}

/// A connection of the announcer's own, its messages driven by a task that ends with it.
async fn connect(config: &tokio_postgres::Config) -> Option<Client> {
    match config.connect(NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            Some(client)
        }
        Err(e) => {
            tracing::warn!(target: "ward::realtime", error = %e, "connecting to announce changes");
            None
        }
    }
}

async fn send(client: &Client, tables: &[String]) -> Result<(), tokio_postgres::Error> {
    let stmt = changes::announce(tables);
    let bound = bound(&stmt);
    client.execute(stmt.sql.as_str(), &params(&bound)).await?;
    Ok(())
}
