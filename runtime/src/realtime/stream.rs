//! One subscriber's stream: the records it missed (a resume), then the live ones, each judged
//! for it ([`super::event`]) against the IR served at that moment, until the client leaves,
//! its token expires, it falls behind, or a table of the stream stops being realtime.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value as Json, json};
use tokio::sync::mpsc;

use super::event::{Watcher, list_gate};
use super::hub::{End, Item, Start, Subscription};
use crate::engine::journal::{self, Change};
use crate::gate::{Caller, Gate};
use crate::security::audit;
use crate::sql::changes;
use crate::sql::filter::Filter;

/// Records read per statement while replaying.
const REPLAY_CHUNK: u64 = 500;

/// What the stream sends, in order; the handler writes each as one Server-Sent Event.
#[derive(Debug, Clone, PartialEq)]
pub struct Out {
    /// `insert`, `update`, `delete`, `enter`, `leave`, or one of the stream's own events:
    /// `reset`, `overflow`, `gone`, `auth-expired`.
    pub event: &'static str,
    /// The stream's position after this event ([`Cursor::id`]), where a reconnect resumes.
    pub id: Option<String>,
    pub data: Json,
}

/// Where the stream stands in each of its tables' logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// A single-table stream writes its ids as the bare `seq`; a multi-table one as
    /// `table:seq` pairs, comma-separated.
    pub multi: bool,
    pub tables: Vec<(String, i64)>,
}

impl Cursor {
    pub fn id(&self) -> String {
        if !self.multi {
            return self.tables.first().map_or(0, |(_, s)| *s).to_string();
        }
        self.tables
            .iter()
            .map(|(t, s)| format!("{t}:{s}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn at(&self, table: &str) -> i64 {
        self.tables
            .iter()
            .find(|(t, _)| t == table)
            .map_or(0, |(_, s)| *s)
    }

    fn set(&mut self, table: &str, seq: i64) {
        if let Some(entry) = self.tables.iter_mut().find(|(t, _)| t == table) {
            entry.1 = seq;
        }
    }
}

/// One table of a stream.
pub struct Watch {
    pub table: String,
    pub filters: Vec<Filter>,
    /// The resume point the client gave for this table, if any.
    pub after: Option<i64>,
}

/// Runs one subscriber's stream into `out` until it ends; see the module.
pub async fn run(
    state: Arc<crate::State>,
    caller: Caller,
    watches: Vec<Watch>,
    mut sub: Subscription,
    multi: bool,
    expires: Option<u64>,
    out: mpsc::Sender<Out>,
) {
    let mut cursor = Cursor {
        multi,
        tables: sub
            .starts
            .iter()
            .map(|(t, s)| (t.clone(), s.position))
            .collect(),
    };
    let starts = sub.starts.clone();
    let mut gates = Gates::default();
    for (watch, (_, start)) in watches.iter().zip(&starts) {
        if replay(
            &state,
            &caller,
            &mut gates,
            watch,
            *start,
            &mut cursor,
            &out,
        )
        .await
        .is_err()
        {
            return;
        }
    }
    let expiry = async {
        match expires {
            Some(at) => {
                let now = jsonwebtoken::get_current_timestamp();
                tokio::time::sleep(Duration::from_secs(at.saturating_sub(now))).await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::pin!(expiry);
    loop {
        tokio::select! {
            item = sub.queue.recv() => match item {
                Some(Item::Change(change)) => {
                    if live(&state, &caller, &mut gates, &watches, &change, &mut cursor, &out).await.is_err() {
                        return;
                    }
                }
                Some(Item::End(end)) => {
                    let event = match end {
                        End::Overflow => "overflow",
                        End::Gone => "gone",
                    };
                    let data = json!({ "lastEventId": cursor.id() });
                    let _ = out.send(Out { event, id: None, data }).await;
                    return;
                }
                // The hub closed: the server is shutting down.
                None => return,
            },
            () = &mut expiry => {
                let data = json!({ "lastEventId": cursor.id() });
                let _ = out.send(Out { event: "auth-expired", id: None, data }).await;
                return;
            }
            () = out.closed() => return,
        }
    }
}

struct Closed;

/// Sends the events a resume from `watch.after` missed, up to where the live feed starts; or
/// `reset` when the log no longer holds them all (erased, or a position it never had).
async fn replay(
    state: &Arc<crate::State>,
    caller: &Caller,
    gates: &mut Gates,
    watch: &Watch,
    start: Start,
    cursor: &mut Cursor,
    out: &mpsc::Sender<Out>,
) -> Result<(), Closed> {
    let Some(mut after) = watch.after else {
        return Ok(());
    };
    if after < start.erased || after > start.position {
        let out_event = Out {
            event: "reset",
            id: Some(cursor.id()),
            data: json!({ "table": watch.table }),
        };
        return out.send(out_event).await.map_err(|_| Closed);
    }
    let dialect = state.store.dialect();
    while after < start.position {
        let stmt = changes::since(
            dialect,
            &watch.table,
            after,
            Some(start.position),
            REPLAY_CHUNK,
        );
        let Ok(records) = state.store.read(move |db| journal::read(db, &stmt)).await else {
            return Err(Closed);
        };
        let Some(last) = records.last().map(|c| c.seq) else {
            break;
        };
        cursor.set(&watch.table, after);
        for change in &records {
            send(state, caller, gates, watch, change, cursor, out).await?;
        }
        after = last;
    }
    cursor.set(&watch.table, start.position);
    Ok(())
}

async fn live(
    state: &Arc<crate::State>,
    caller: &Caller,
    gates: &mut Gates,
    watches: &[Watch],
    change: &Change,
    cursor: &mut Cursor,
    out: &mpsc::Sender<Out>,
) -> Result<(), Closed> {
    let Some(watch) = watches.iter().find(|w| w.table == change.table) else {
        return Ok(());
    };
    // Handed out before this stream's replay ended: sent already.
    if change.seq <= cursor.at(&change.table) {
        return Ok(());
    }
    send(state, caller, gates, watch, change, cursor, out).await
}

/// The subscriber's `list` gates, per table of the stream, for the IR they were made from.
#[derive(Default)]
struct Gates {
    made_for: Option<Arc<crate::Serving>>,
    by_table: Vec<(String, Option<Gate>)>,
}

impl Gates {
    /// The gate of `table` under `serving`, making them all again when the IR changed.
    fn of(&mut self, serving: &Arc<crate::Serving>, caller: &Caller, table: &str) -> Option<&Gate> {
        if !self
            .made_for
            .as_ref()
            .is_some_and(|m| Arc::ptr_eq(m, serving))
        {
            self.by_table.clear();
            self.made_for = Some(serving.clone());
        }
        if !self.by_table.iter().any(|(t, _)| t == table) {
            let gate = serving
                .snapshot
                .table(table)
                .and_then(|plan| list_gate(plan, caller));
            self.by_table.push((table.to_owned(), gate));
        }
        self.by_table
            .iter()
            .find(|(t, _)| t == table)
            .and_then(|(_, g)| g.as_ref())
    }
}

/// Judges `change` for the subscriber against the IR served now and sends the event, if any.
async fn send(
    state: &Arc<crate::State>,
    caller: &Caller,
    gates: &mut Gates,
    watch: &Watch,
    change: &Change,
    cursor: &mut Cursor,
    out: &mpsc::Sender<Out>,
) -> Result<(), Closed> {
    cursor.set(&change.table, change.seq);
    let event = {
        let serving = state.current();
        let Some(plan) = serving.snapshot.table(&watch.table) else {
            return Ok(());
        };
        let watcher = Watcher {
            plan,
            caller,
            filters: &watch.filters,
            gate: gates.of(&serving, caller, &watch.table),
        };
        watcher.judge(change, &audit::now())
    };
    let Some(event) = event else {
        return Ok(());
    };
    out.send(Out {
        event: event.kind.name(),
        id: Some(cursor.id()),
        data: event.data,
    })
    .await
    .map_err(|_| Closed)
}
