//! Triggers in the model (SPEC §2.12, docs/decisions.md "Triggers"), on every REST write:
//! `before` and `during` run their steps in the write's own state (a failure is the request's
//! answer and nothing stays), `after` ones once the request succeeded, each on its own (a failure
//! changes nothing and is not answered). `(record)` is the incoming row in `before`, the stored
//! row in `during` and `after` (the deleted row on delete); `(old)` the row before an update or
//! delete. The steps are the actions' (`actions::trigger`), so they go through the same
//! firewalls; writes made by triggers fire no triggers.
//!
//! Rows a trigger inserts are not in any answer: the model learns their ids from the stored rows
//! (`Model::reconcile` pairs them in creation order).

use ward_ir::{Table, TriggerEvent, TriggerPhase};

use super::actions;
use super::errors::Fail;
use super::{Cx, Row, State};

/// `after` work a successful write leaves for the end of its request.
#[derive(Debug, Clone, PartialEq)]
pub struct After {
    table: String,
    event: TriggerEvent,
    record: Row,
    old: Option<Row>,
}

/// Whether `table` has triggers on `event` in `phase`.
pub fn any(table: &Table, event: TriggerEvent, phase: TriggerPhase) -> bool {
    table.triggers(event, phase).next().is_some()
}

/// Runs `table`'s triggers on `event` in `phase` (`before` or `during`) on `st`: the first
/// failing step is the answer.
pub fn fire(
    cx: &mut Cx<'_>,
    st: &mut State,
    table: &Table,
    event: TriggerEvent,
    phase: TriggerPhase,
    record: &Row,
    old: Option<&Row>,
) -> Result<(), Fail> {
    for t in table.triggers(event, phase) {
        actions::trigger(cx, st, &t.steps, record, old)?;
    }
    Ok(())
}

/// The `during` triggers of a write just made, then its `after` ones queued in the state (so a
/// batch record rolled back takes its queue with it).
pub fn written(
    cx: &mut Cx<'_>,
    st: &mut State,
    table: &Table,
    event: TriggerEvent,
    record: &Row,
    old: Option<&Row>,
) -> Result<(), Fail> {
    fire(cx, st, table, event, TriggerPhase::During, record, old)?;
    if any(table, event, TriggerPhase::After) {
        st.after.push(After {
            table: table.name.clone(),
            event,
            record: record.clone(),
            old: old.cloned(),
        });
    }
    Ok(())
}

/// The queued `after` triggers of a successful request, each kept only if all its steps
/// succeed.
pub fn after(cx: &mut Cx<'_>, st: &mut State) {
    for a in std::mem::take(&mut st.after) {
        let Some(table) = cx.table(&a.table).cloned() else {
            continue;
        };
        for t in table.triggers(a.event, TriggerPhase::After) {
            let mut trial = st.clone();
            if actions::trigger(cx, &mut trial, &t.steps, &a.record, a.old.as_ref()).is_ok() {
                *st = trial;
            }
        }
    }
}
