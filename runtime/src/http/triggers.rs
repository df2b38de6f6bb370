//! Triggers (SPEC §2.12): `on create|update|delete before|during|after { steps }`, fired by the
//! REST API's writes to a table (single records, batches and upserts alike).
//!
//! `before` runs in the write's transaction before its statement, on the row about to be written;
//! `during` runs after the statement in the same transaction, on the row as stored. A failing
//! step of either aborts the request with that step's error and rolls everything back. `after`
//! steps run once the write has committed, each trigger in a transaction of its own; their
//! failures are logged (target `ward::trigger`) and never change the answer.
//!
//! Writes made by action steps and by trigger steps fire no triggers: an action states its own
//! writes, and triggers cannot chain into each other (no cycles to reason about).
//!
//! The `after` work a write queues goes into its transaction's [`Pending`], carried by the
//! [`WriteCx`] every write of the transaction shares: a record undone by its savepoint
//! ([`isolated`]) takes its work back, a retried transaction starts from an empty one, and the
//! handler takes the list when its transaction has committed.

use std::cell::RefCell;

use serde_json::Map;
use ward_ir::{TriggerEvent, TriggerPhase};

use super::request::Shared;
use super::steps::Run;
use crate::engine::Writer;
use crate::error::ApiError;
use crate::gate::Caller;
use crate::mutation::{self, Mutation};
use crate::snapshot::{Snapshot, TablePlan};
use crate::store::row::Record;
use crate::store::{self, Db};

/// One write's `after` triggers, waiting for the commit.
#[derive(Debug, Clone)]
pub struct After {
    table: String,
    event: TriggerEvent,
    record: Record,
    old: Option<Record>,
    /// The write's timestamp: the after work stamps what it writes with it, as part of the
    /// same request.
    now: String,
    /// The request's id, which the after work's change records name too.
    request: Option<String>,
}

/// The `after` work of one write transaction, taken once it has committed.
#[derive(Debug, Default)]
pub struct Pending(RefCell<Vec<After>>);

impl Pending {
    pub fn into_inner(self) -> Vec<After> {
        self.0.into_inner()
    }
}

/// What every REST write of one transaction shares: its connection, the IR and caller it runs
/// for, the request's time, and where its `after` work waits for the commit.
#[derive(Clone, Copy)]
pub struct WriteCx<'a> {
    pub db: &'a dyn Db,
    pub snap: &'a Snapshot,
    pub caller: &'a Caller,
    pub now: &'a str,
    /// The request's id, for the change records.
    pub request: Option<&'a str>,
    pub pending: &'a Pending,
}

impl<'a> WriteCx<'a> {
    /// The transaction as the write engine sees it.
    pub fn writer(&self) -> Writer<'a> {
        Writer {
            db: self.db,
            caller: self.caller,
            at: self.now,
            request: self.request,
        }
    }

    /// The same transaction as reads see it (labels, expansions, `read` rules).
    pub fn read(&self) -> super::embed::Ctx<'a> {
        super::embed::Ctx {
            conn: self.db,
            snap: self.snap,
            caller: self.caller,
            now: self.now,
        }
    }
}

/// Runs `f` in a savepoint of `cx`'s transaction ([`store::isolated`]): kept when it succeeds;
/// undone when it fails, with the `after` work it queued.
pub fn isolated<R>(
    cx: WriteCx<'_>,
    f: impl FnOnce(WriteCx<'_>) -> Result<R, ApiError>,
) -> Result<R, ApiError> {
    let mark = cx.pending.0.borrow().len();
    let out = store::isolated(cx.db, |db| f(WriteCx { db, ..cx }));
    if out.is_err() {
        cx.pending.0.borrow_mut().truncate(mark);
    }
    out
}

/// What one write tells its triggers.
pub struct Write<'a> {
    pub cx: WriteCx<'a>,
    pub plan: &'a TablePlan,
    pub event: TriggerEvent,
}

impl<'a> Write<'a> {
    pub fn new(cx: WriteCx<'a>, plan: &'a TablePlan, event: TriggerEvent) -> Write<'a> {
        Write { cx, plan, event }
    }

    /// Whether anything fires on this write in `phase` (the pipeline skips the row reads a
    /// trigger would need otherwise).
    pub fn any(&self, phase: TriggerPhase) -> bool {
        self.plan.def.triggers(self.event, phase).next().is_some()
    }

    /// The `before` triggers, on the row about to be written.
    pub fn before(&self, record: &Record, old: Option<&Record>) -> Result<(), ApiError> {
        if mutation::active(Mutation::TriggerBeforeSkipped) {
            return Ok(());
        }
        self.fire(TriggerPhase::Before, record, old)
    }

    /// The `during` triggers on the row as written, then the `after` ones queued for the
    /// commit.
    pub fn written(&self, record: &Record, old: Option<&Record>) -> Result<(), ApiError> {
        self.fire(TriggerPhase::During, record, old)?;
        if self.any(TriggerPhase::After) {
            self.cx.pending.0.borrow_mut().push(After {
                table: self.plan.name().to_owned(),
                event: self.event,
                record: record.clone(),
                old: old.cloned(),
                now: self.cx.now.to_owned(),
                request: self.cx.request.map(str::to_owned),
            });
        }
        Ok(())
    }

    fn fire(
        &self,
        phase: TriggerPhase,
        record: &Record,
        old: Option<&Record>,
    ) -> Result<(), ApiError> {
        let inputs = Map::new();
        for t in self.plan.def.triggers(self.event, phase) {
            let run = Run {
                tx: self.cx.db,
                snap: self.cx.snap,
                caller: self.cx.caller,
                now: self.cx.now,
                request: self.cx.request,
                inputs: &inputs,
                row: None,
                old,
            };
            run.run(&t.steps, Some(record.clone()))?;
        }
        Ok(())
    }
}

/// Runs `f`, a whole write transaction's work on `db`, with the [`WriteCx`] its writes share
/// and a new [`Pending`], and returns its result with the `after` work it queued. Called inside
/// the transaction closure, so a retried transaction starts from nothing.
pub fn collect<R>(
    db: &dyn Db,
    snap: &Snapshot,
    caller: &Caller,
    now: &str,
    request: Option<&str>,
    f: impl FnOnce(WriteCx<'_>) -> Result<R, ApiError>,
) -> Result<(R, Vec<After>), ApiError> {
    let pending = Pending::default();
    let cx = WriteCx {
        db,
        snap,
        caller,
        now,
        request,
        pending: &pending,
    };
    f(cx).map(|r| (r, pending.into_inner()))
}

/// The `after` triggers of committed writes, each in its own transaction; a failure is logged.
pub async fn after(st: &Shared, snap: std::sync::Arc<Snapshot>, caller: &Caller, done: Vec<After>) {
    if done.is_empty() {
        return;
    }
    let caller = caller.clone();
    let result = st
        .store
        .write(move |tx| {
            for a in &done {
                let Some(plan) = snap.table(&a.table) else {
                    continue;
                };
                let inputs = Map::new();
                for t in plan.def.triggers(a.event, TriggerPhase::After) {
                    let run = Run {
                        tx,
                        snap: &snap,
                        caller: &caller,
                        now: &a.now,
                        request: a.request.as_deref(),
                        inputs: &inputs,
                        row: None,
                        old: a.old.as_ref(),
                    };
                    let fired = store::isolated(tx, |_| run.run(&t.steps, Some(a.record.clone())));
                    if let Err(e) = fired {
                        tracing::warn!(
                            target: "ward::trigger",
                            table = %a.table,
                            event = a.event.name(),
                            error = %e.code(),
                            "after trigger failed; its changes were undone"
                        );
                    }
                }
            }
            Ok(())
        })
        .await;
    if let Err(e) = result {
        tracing::warn!(target: "ward::trigger", error = %e.code(), "after triggers not run");
    }
}
