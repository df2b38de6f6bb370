//! Following the change log for every realtime subscriber of this process.
//!
//! One follower task per serving process reads, for each table someone subscribes to, the
//! records after the last one it handed out — one statement per table per round, however many
//! subscribers — and offers each record to every subscriber of its table through that
//! subscriber's bounded queue. It reads when this process commits a write, when another
//! instance signals one (Postgres `NOTIFY`), after a reload, and every [`POLL_EVERY`] in any
//! case: a lost notification costs latency, never an event, because the log is the source.
//!
//! A subscriber whose queue is full is dropped with [`End::Overflow`] (one slot is kept for it)
//! rather than slowing the follower or anyone else. A queue carries raw records: judging and
//! masking happen in the subscriber's own task ([`super::stream`]), in parallel.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};

use crate::engine::journal::{self, Change};
use crate::error::ApiError;
use crate::sql::changes;

/// Records a subscriber's queue holds before it overflows: four of the largest batch (1,000
/// records in one transaction), so a subscriber that keeps up never overflows on a burst. A slot
/// is a pointer to a record all subscribers share.
pub const QUEUE: usize = 4096;
/// Streams one caller (by token subject) may hold open at once.
pub const STREAMS_PER_CALLER: usize = 16;
/// Streams one process serves at once, all callers together.
pub const STREAMS: usize = 20_000;
/// The follower reads the log at least this often, notified or not.
pub const POLL_EVERY: Duration = Duration::from_secs(1);
/// Records read per table per statement.
const READ_AT_ONCE: u64 = 500;
/// The shortest pause between two rounds that found nothing more to read: under a stream of
/// commits, one round reads what many of them wrote.
const ROUND_GAP: Duration = Duration::from_millis(2);

/// What a subscriber's queue carries.
#[derive(Debug, Clone)]
pub enum Item {
    Change(Arc<Change>),
    /// The stream ends, and why.
    End(End),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The subscriber fell [`QUEUE`] records behind.
    Overflow,
    /// A table of the stream is no longer served, or no longer realtime.
    Gone,
}

/// Where a table's log stood when a subscriber joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// Every record up to here was handed out before the subscriber joined; every later one
    /// will reach its queue.
    pub position: i64,
    /// The highest `seq` ever erased from the table's log.
    pub erased: i64,
}

/// A subscriber's end of the hub. Dropping it leaves.
pub struct Subscription {
    hub: Arc<Hub>,
    id: u64,
    pub queue: mpsc::Receiver<Item>,
    /// Per table of the subscription, in the order asked.
    pub starts: Vec<(String, Start)>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.leave(self.id);
    }
}

struct Subscriber {
    id: u64,
    queue: mpsc::Sender<Item>,
}

/// The subscribers of one table and how far the log was handed out to them.
struct Feed {
    position: i64,
    subscribers: Vec<Subscriber>,
}

#[derive(Default)]
struct Registry {
    next_id: u64,
    feeds: HashMap<String, Feed>,
    /// Open subscriptions: their token subject, if any.
    open: HashMap<u64, Option<String>>,
    closed: bool,
}

/// Every realtime subscriber of one serving process.
pub struct Hub {
    registry: Mutex<Registry>,
    /// Woken by this process's commits ([`crate::store::Store::commits`]), by other instances'
    /// notifications, and by reloads.
    wake: Arc<Notify>,
    /// The follower and, on Postgres, the listener, once someone subscribed.
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// A hub outlives its server only while a task of its own still runs; when the last one lets
/// go, the Postgres listener (which would otherwise hold its connection, reconnecting, for the
/// life of the process) stops with it.
impl Drop for Hub {
    fn drop(&mut self) {
        self.stop_tasks();
    }
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

impl Hub {
    pub fn new(wake: Arc<Notify>) -> Hub {
        Hub {
            registry: Mutex::default(),
            wake,
            tasks: Mutex::default(),
        }
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes the follower look at the log now (after a reload: tables may have gone).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Joins the feeds of `tables` for a caller with token subject `subject`. Refused with 429
    /// past [`STREAMS_PER_CALLER`] streams of the subject or [`STREAMS`] in all.
    pub async fn subscribe(
        self: &Arc<Self>,
        state: &Arc<crate::State>,
        tables: &[String],
        subject: Option<&str>,
    ) -> Result<Subscription, ApiError> {
        {
            let registry = self.registry();
            if registry.closed {
                return Err(ApiError::unavailable("the server is shutting down"));
            }
            let held = |s: &str| {
                registry
                    .open
                    .values()
                    .filter(|o| o.as_deref() == Some(s))
                    .count()
            };
            if registry.open.len() >= STREAMS
                || subject.is_some_and(|s| held(s) >= STREAMS_PER_CALLER)
            {
                return Err(ApiError::rate_limited("open streams", 1));
            }
        }
        // Where each log stands, read before joining: a feed that starts here hands out only
        // what comes later, and the erased mark tells a resume whether it can be served.
        journal::settle(&state.store).await?;
        let dialect = state.store.dialect();
        let mut found = Vec::new();
        for table in tables {
            let t = table.clone();
            let (position, erased) = state
                .store
                .read(move |db| journal::position(db, dialect, &t))
                .await?;
            found.push((table.clone(), position, erased));
        }
        self.follow(state);
        let (sender, queue) = mpsc::channel(QUEUE);
        let mut registry = self.registry();
        let id = registry.next_id;
        registry.next_id += 1;
        registry.open.insert(id, subject.map(str::to_owned));
        let mut starts = Vec::new();
        for (table, position, erased) in found {
            let feed = registry.feeds.entry(table.clone()).or_insert(Feed {
                position,
                subscribers: Vec::new(),
            });
            feed.subscribers.push(Subscriber {
                id,
                queue: sender.clone(),
            });
            starts.push((
                table,
                Start {
                    position: feed.position,
                    erased,
                },
            ));
        }
        drop(registry);
        Ok(Subscription {
            hub: self.clone(),
            id,
            queue,
            starts,
        })
    }

    fn leave(&self, id: u64) {
        let mut registry = self.registry();
        registry.open.remove(&id);
        for feed in registry.feeds.values_mut() {
            feed.subscribers.retain(|s| s.id != id);
        }
        registry.feeds.retain(|_, f| !f.subscribers.is_empty());
    }

    /// Ends every stream (the server is shutting down) and stops following.
    pub fn close(&self) {
        let mut registry = self.registry();
        registry.closed = true;
        registry.feeds.clear();
        drop(registry);
        self.stop_tasks();
    }

    fn stop_tasks(&self) {
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        for task in tasks.drain(..) {
            task.abort();
        }
    }

    /// Starts the follower (and the Postgres listener) unless running.
    fn follow(self: &Arc<Self>, state: &Arc<crate::State>) {
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        if !tasks.is_empty() || self.registry().closed {
            return;
        }
        tasks.push(tokio::spawn(follower(Arc::downgrade(state))));
        tasks.extend(state.store.listen(changes::CHANNEL, self.wake.clone()));
    }

    /// The tables with subscribers and how far each was handed out.
    fn feeds(&self) -> Vec<(String, i64)> {
        self.registry()
            .feeds
            .iter()
            .map(|(t, f)| (t.clone(), f.position))
            .collect()
    }

    /// Ends the feeds of tables no longer served as realtime with [`End::Gone`].
    fn end_gone(&self, realtime: impl Fn(&str) -> bool) {
        self.registry().feeds.retain(|table, feed| {
            if realtime(table) {
                return true;
            }
            for s in &feed.subscribers {
                let _ = s.queue.try_send(Item::End(End::Gone));
            }
            false
        });
    }

    /// Hands `records` (read after the feed's position, oldest first) to the table's
    /// subscribers.
    fn deliver(&self, table: &str, records: Vec<Change>) {
        let mut registry = self.registry();
        let Some(feed) = registry.feeds.get_mut(table) else {
            return;
        };
        for record in records {
            // Another round may have handed it out already.
            if record.seq <= feed.position {
                continue;
            }
            feed.position = record.seq;
            let record = Arc::new(record);
            feed.subscribers.retain(|s| offer(s, &record));
        }
    }
}

/// Queues `record` for `s`; `false` when `s` is gone or has just overflowed.
fn offer(s: &Subscriber, record: &Arc<Change>) -> bool {
    // The last slot is the overflow notice's: a subscriber always learns why it was dropped.
    if s.queue.capacity() > 1 {
        return s.queue.try_send(Item::Change(record.clone())).is_ok();
    }
    let _ = s.queue.try_send(Item::End(End::Overflow));
    false
}

/// The follower: a round whenever woken or every [`POLL_EVERY`], while the server lives.
async fn follower(state: Weak<crate::State>) {
    loop {
        let Some(live) = state.upgrade() else {
            return;
        };
        let hub = live.realtime.clone();
        let more = match round(&live).await {
            Ok(more) => more,
            Err(e) => {
                tracing::warn!(target: "ward::realtime", error = %e.code(), "reading the change log");
                false
            }
        };
        drop(live);
        if more {
            continue;
        }
        let _ = tokio::time::timeout(POLL_EVERY, hub.wake.notified()).await;
        tokio::time::sleep(ROUND_GAP).await;
    }
}

/// Reads and hands out what each followed table logged since its position; whether some table
/// has more to read right away. A table that stopped being realtime (in the IR read before
/// the log) first gets what was logged while it was, then its streams end.
async fn round(state: &crate::State) -> Result<bool, ApiError> {
    let snapshot = state.current().snapshot.clone();
    let feeds = state.realtime.feeds();
    if !feeds.is_empty() {
        journal::settle(&state.store).await?;
    }
    let dialect = state.store.dialect();
    let mut more = false;
    for (table, position) in feeds {
        let stmt = changes::since(dialect, &table, position, None, READ_AT_ONCE);
        let records = state.store.read(move |db| journal::read(db, &stmt)).await?;
        more |= records.len() as u64 == READ_AT_ONCE;
        state.realtime.deliver(&table, records);
    }
    if !more {
        state
            .realtime
            .end_gone(|t| snapshot.table(t).is_some_and(|p| p.def.realtime));
    }
    Ok(more)
}
