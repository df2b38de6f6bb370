//! Triggers in the model (SPEC §2.12, docs/decisions.md "Triggers"): the `require` and `if` steps
//! of `before` and `during` triggers, on every REST write. `(record)` is the incoming row in
//! `before`, the stored row in `during` (the deleted row on delete); `(old)` the row before an
//! update or delete. `exists` sees what the caller can read: the target's firewall, soft delete
//! and `read` rule.
//!
//! Trigger steps that write (`insert`, `update`, `delete`) or read (`query`) and every `after`
//! trigger are not modelled yet: [`unmodelled`] names them, and the suite refuses such a project
//! up front rather than predict its answers wrongly.

use serde_json::Value;
use ward_ir::{
    Condition, Exists, Ir, Literal, Operation, Step, Table, TriggerEvent, TriggerPhase,
    Value as CondValue,
};

use super::access::{self, holds};
use super::errors::Fail;
use super::firewall;
use super::{Cx, Row, State};

/// The first part of the project the model cannot predict: a trigger step that writes or an
/// `after` trigger, or an action that inserts a row its answer does not carry (the model learns
/// the ids the server chooses from its answers only).
pub fn unmodelled(ir: &Ir) -> Option<String> {
    for t in &ir.tables {
        for tr in &t.triggers {
            let name = format!(
                "table `{}`: `on {} {}`",
                t.name,
                tr.event.name(),
                tr.phase.name()
            );
            if tr.phase == TriggerPhase::After && !tr.steps.is_empty() {
                return Some(format!("{name}: after triggers"));
            }
            if let Some(step) = ward_ir::all_steps(&tr.steps)
                .into_iter()
                .find(|s| !matches!(s, Step::Require { .. } | Step::If { .. }))
            {
                return Some(format!("{name}: the step {}", step_name(step)));
            }
        }
    }
    let actions = ir.tables.iter().flat_map(|t| &t.actions).chain(&ir.actions);
    for a in actions {
        let inserts = ward_ir::all_steps(&a.steps)
            .into_iter()
            .filter(|s| matches!(s, Step::Insert { .. }))
            .count();
        let answered = matches!(
            a.steps.last(),
            Some(Step::Return {
                value: ward_ir::Returned::Inserted
            })
        );
        if inserts > 1 || (inserts == 1 && !answered) {
            return Some(format!(
                "action `{}`: an insert whose row the answer does not carry (end it with `return inserted`)",
                a.name
            ));
        }
    }
    None
}

fn step_name(s: &Step) -> &'static str {
    match s {
        Step::Require { .. } => "require",
        Step::Insert { .. } => "insert",
        Step::If { .. } => "if",
        Step::Transition { .. } => "transition",
        Step::Update { .. } => "update",
        Step::Delete { .. } => "delete",
        Step::Query { .. } => "query",
        Step::Return { .. } => "return",
    }
}

/// Whether `table` has triggers on `event` in `phase`.
pub fn any(table: &Table, event: TriggerEvent, phase: TriggerPhase) -> bool {
    table.triggers(event, phase).next().is_some()
}

/// Runs `table`'s triggers on `event` in `phase`: the first failing `require` is the answer.
pub fn fire(
    cx: &Cx<'_>,
    st: &State,
    table: &Table,
    event: TriggerEvent,
    phase: TriggerPhase,
    record: &Row,
    old: Option<&Row>,
) -> Result<(), Fail> {
    let run = Run {
        cx,
        st,
        record,
        old,
    };
    for t in table.triggers(event, phase) {
        run.steps(&t.steps)?;
    }
    Ok(())
}

struct Run<'a, 'c> {
    cx: &'a Cx<'c>,
    st: &'a State,
    record: &'a Row,
    old: Option<&'a Row>,
}

impl Run<'_, '_> {
    fn steps(&self, steps: &[Step]) -> Result<(), Fail> {
        for s in steps {
            match s {
                Step::Require {
                    when,
                    exists,
                    error,
                } => {
                    if when.as_ref().is_some_and(|c| !self.holds(c)) {
                        return Err(Fail::action(error));
                    }
                    if exists.iter().any(|e| !self.exists(e)) {
                        return Err(Fail::action(error));
                    }
                }
                Step::If {
                    when,
                    then,
                    otherwise,
                } => {
                    let branch = if self.holds(when) { then } else { otherwise };
                    self.steps(branch)?;
                }
                // `unmodelled` keeps projects with any other step out of the suite.
                _ => {}
            }
        }
        Ok(())
    }

    fn holds(&self, c: &Condition) -> bool {
        holds(&self.bind(c), self.record, &self.cx.who, &self.cx.clock)
    }

    /// A readable row of the target that satisfies the conditions.
    fn exists(&self, e: &Exists) -> bool {
        let Some(target) = self.cx.ir.tables.iter().find(|t| t.name == e.table) else {
            return false;
        };
        let Ok(residual) = access::authorize(target, Operation::Read, &self.cx.who) else {
            return false;
        };
        let Ok(scopes) = firewall::scopes(target, &self.cx.who) else {
            return false;
        };
        let when = e.when.as_ref().map(|c| self.bind(c));
        let rows = self.st.rows.get(&e.table).map_or(&[][..], Vec::as_slice);
        rows.iter().any(|r| {
            firewall::visible(r, &scopes)
                && residual.admits(r, &self.cx.who, &self.cx.clock)
                && when
                    .as_ref()
                    .is_none_or(|c| holds(c, r, &self.cx.who, &self.cx.clock))
        })
    }

    /// `(record)` and `(old)` values as literals of the rows.
    fn bind(&self, c: &Condition) -> Condition {
        let column = |row: Option<&Row>, name: &str| {
            literal(row.and_then(|r| r.get(name)).unwrap_or(&Value::Null))
        };
        c.map_values(&|v| match v {
            CondValue::Record(name) => Some(CondValue::Literal(column(Some(self.record), name)?)),
            CondValue::Old(name) => Some(CondValue::Literal(column(self.old, name)?)),
            _ => None,
        })
    }
}

fn literal(v: &Value) -> Option<Literal> {
    Some(match v {
        Value::Null => Literal::Null,
        Value::Bool(b) => Literal::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Literal::Integer(i),
            None => Literal::Float(n.as_f64()?),
        },
        Value::String(s) => Literal::Text(s.clone()),
        _ => return None,
    })
}
