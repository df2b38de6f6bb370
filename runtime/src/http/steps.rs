//! The steps of an action or a trigger (SPEC §2.10, §2.12), run inside one transaction. Every
//! statement goes through the firewall of the table it touches: writes see the rows the caller's
//! scopes (and the soft-delete filter) let through, reads (`exists`, `query`) also the table's
//! `read` rule, and whatever is returned is masked like any read.

use serde_json::{Map, Value as Json, json};
use ward_ir::{
    Assignment, CompareOp, Condition, Exists, IdKind, Literal, Operation, Partial, Returned,
    SortKey, Step, Value, system,
};

use super::embed;
use super::{cascade, query, references, written};
use crate::engine::{Writer, rows};
use crate::error::ApiError;
use crate::gate::{Caller, Gate, Residual, literal_json, resolve};
use crate::mutation::{self, Mutation};
use crate::security::access;
use crate::security::guards::WriteKind;
use crate::security::{self, audit, firewall, masking, validation};
use crate::snapshot::{Snapshot, TablePlan};
use crate::sql::{dml, predicate, related, value};
use crate::store::Db;
use crate::store::row::{self, Record};

/// The row a record action acts on.
pub struct Row<'a> {
    pub plan: &'a TablePlan,
    pub gate: &'a Gate,
    pub id: &'a Json,
}

/// One invocation's context inside its transaction.
pub struct Run<'a> {
    pub tx: &'a dyn Db,
    pub snap: &'a Snapshot,
    pub caller: &'a Caller,
    pub now: &'a str,
    /// The request's id, for the change records.
    pub request: Option<&'a str>,
    pub inputs: &'a Map<String, Json>,
    /// The record action's row; `None` for standalone actions and triggers.
    pub row: Option<Row<'a>>,
    /// A trigger's row before the write (`(old)`), on update and delete.
    pub old: Option<&'a Record>,
}

/// What the steps have produced so far.
#[derive(Default)]
pub struct Progress {
    /// The record action's row as the steps left it, or a trigger's row.
    pub record: Option<Record>,
    /// The last inserted row and its table.
    inserted: Option<(String, Record)>,
    /// The rows of each `query` step run, with its table.
    queries: Vec<(String, String, Vec<Record>)>,
    answer: Option<Json>,
}

impl Run<'_> {
    /// The transaction as the write engine sees it.
    fn writer(&self) -> Writer<'_> {
        Writer {
            db: self.tx,
            caller: self.caller,
            at: self.now,
            request: self.request,
        }
    }

    /// Every step in order; the answer of the last `return` run, else `{"ok": true}`.
    pub fn run(&self, steps: &[Step], record: Option<Record>) -> Result<Json, ApiError> {
        let mut p = Progress {
            record,
            ..Progress::default()
        };
        self.steps(steps, &mut p)?;
        Ok(p.answer.unwrap_or_else(|| json!({ "ok": true })))
    }

    fn steps(&self, steps: &[Step], p: &mut Progress) -> Result<(), ApiError> {
        for step in steps {
            match step {
                Step::Require {
                    when,
                    exists,
                    error,
                } => {
                    let row_ok = when.as_ref().is_none_or(|c| self.holds(c, p));
                    if !row_ok {
                        return Err(ApiError::action(error));
                    }
                    for e in exists {
                        if !self.exists(e, p.record.as_ref())? {
                            return Err(ApiError::action(error));
                        }
                    }
                }
                Step::Transition { column, from, to } => {
                    let (row, record) = self.own(p)?;
                    p.record = Some(self.transition(row, record, column, from, to)?);
                }
                Step::Update {
                    table: None,
                    set,
                    when,
                } => {
                    if when.as_ref().is_none_or(|c| self.holds(c, p)) {
                        let (row, record) = self.own(p)?;
                        p.record = Some(self.update(row, record, set)?);
                    }
                }
                Step::Update {
                    table: Some(table),
                    set,
                    when,
                } => {
                    self.update_where(table, set, when.as_ref(), p.record.as_ref())?;
                    self.refresh(p)?;
                }
                Step::Delete { table: None, when } => {
                    if when.as_ref().is_none_or(|c| self.holds(c, p)) {
                        let (row, _) = self.own(p)?;
                        self.remove(row.plan, row.gate, row.id)?;
                        self.refresh(p)?;
                    }
                }
                Step::Delete {
                    table: Some(table),
                    when,
                } => {
                    self.delete_where(table, when.as_ref(), p.record.as_ref())?;
                    self.refresh(p)?;
                }
                Step::Query {
                    name,
                    table,
                    when,
                    sort,
                    limit,
                } => {
                    let rows = self.query(table, when.as_ref(), sort, *limit, p.record.as_ref())?;
                    p.queries.retain(|(n, _, _)| n != name);
                    p.queries.push((name.clone(), table.clone(), rows));
                }
                Step::Insert { table, set } => {
                    let rec = self.insert(table, set, p.record.as_ref())?;
                    p.inserted = Some((table.clone(), rec));
                }
                Step::If {
                    when,
                    then,
                    otherwise,
                } => {
                    let branch = if self.holds(when, p) { then } else { otherwise };
                    self.steps(branch, p)?;
                }
                Step::Return { value } => p.answer = Some(self.answer(value, p)?),
            }
        }
        Ok(())
    }

    /// The record action's row context and current row (the compiler allows row steps only
    /// in record actions).
    fn own<'p>(&self, p: &'p Progress) -> Result<(&Row<'_>, &'p Record), ApiError> {
        match (&self.row, &p.record) {
            (Some(row), Some(record)) => Ok((row, record)),
            // An earlier step deleted the row (a hard delete): it changed under the action.
            (Some(_), None) => Err(ApiError::transition_lost()),
            (None, _) => Err(ApiError::internal("a row step outside a record action")),
        }
    }

    /// `(record)` after a step that may have changed or deleted the action's row through its
    /// table: the row as stored now (soft-deleted included; none once hard-deleted).
    fn refresh(&self, p: &mut Progress) -> Result<(), ApiError> {
        if let Some(row) = &self.row {
            p.record = row::by_id(self.tx, row.plan, row.id, sea_query::Cond::all())?;
        }
        Ok(())
    }

    /// A condition on the row (none for standalone actions: it cannot hold).
    fn holds(&self, c: &Condition, p: &Progress) -> bool {
        p.record.as_ref().is_some_and(|record| {
            access::holds(&self.bind(c, Some(record)), record, self.caller, self.now)
        })
    }

    /// `(input)`, `(record)` and `(old)` values as literals of the request and the rows.
    fn bind(&self, c: &Condition, record: Option<&Record>) -> Condition {
        c.map_values(&|v| match v {
            Value::Input(_) | Value::Record(_) | Value::Old(_) => Some(
                self.value(v, record)
                    .and_then(|j| literal(&j))
                    .map_or_else(|| v.clone(), Value::Literal),
            ),
            _ => None,
        })
    }

    /// A step's value now: inputs and the rows' columns as they are, else as in conditions.
    fn value(&self, v: &Value, record: Option<&Record>) -> Option<Json> {
        let column = |row: Option<&Record>, column: &str| {
            row.and_then(|r| r.get(column))
                .cloned()
                .unwrap_or(Json::Null)
        };
        match v {
            Value::Input(name) => Some(self.inputs.get(name).cloned().unwrap_or(Json::Null)),
            Value::Record(c) => Some(column(record, c)),
            Value::Old(c) => Some(column(self.old, c)),
            other => resolve(other, self.caller, self.now),
        }
    }

    fn values(&self, set: &[Assignment], record: Option<&Record>) -> Map<String, Json> {
        set.iter()
            .map(|a| {
                let v = self.value(&a.value, record).unwrap_or(Json::Null);
                (a.column.clone(), v)
            })
            .collect()
    }

    /// Compare-and-set: only from one of `from`, and only if the row still holds the state read.
    fn transition(
        &self,
        row: &Row,
        record: &Record,
        column: &str,
        from: &[Literal],
        to: &Value,
    ) -> Result<Record, ApiError> {
        let current = record.get(column).cloned().unwrap_or(Json::Null);
        let target = self.value(to, Some(record)).unwrap_or(Json::Null);
        let allowed: Vec<Json> = from.iter().map(literal_json).collect();
        if !allowed.contains(&current) {
            // The state as the caller may read it: error details are masked like any row.
            let mut shown = record.clone();
            masking::mask_record(row.plan, self.caller, &mut shown);
            return Err(ApiError::not_allowed_for_state(Some(json!({
                "field": column,
                "current": shown.get(column).cloned().unwrap_or(Json::Null),
                "target": target,
                "allowedFrom": allowed,
            }))));
        }
        let mut set = Map::new();
        set.insert(column.to_owned(), target);
        let mut changes = validation::validate(row.plan, WriteKind::Update, &set, self.now)?;
        audit::stamp_update(&mut changes, self.caller, self.now);
        let ty = predicate::column_type(row.plan, column);
        let unchanged = predicate::compare(
            row.plan,
            column,
            CompareOp::Eq,
            vec![value::to_db(ty, &current)],
        );
        self.write_row(
            row,
            &changes,
            predicate::firewall(row.plan, row.gate).add(unchanged),
        )
    }

    /// The UPDATE of the action's row, still behind `cond`; no row left means another write got
    /// there first.
    fn write_row(
        &self,
        row: &Row,
        changes: &Map<String, Json>,
        cond: sea_query::Condition,
    ) -> Result<Record, ApiError> {
        if rows::update(self.writer(), row.plan, row.id, changes, cond)? == 0 {
            return Err(ApiError::transition_lost());
        }
        self.reload(row.plan, row.id)
    }

    /// `set` values validated like a PATCH body, references checked, audit stamped.
    fn changes(
        &self,
        plan: &TablePlan,
        set: &[Assignment],
        record: Option<&Record>,
    ) -> Result<Map<String, Json>, ApiError> {
        let values = self.values(set, record);
        let mut changes = validation::validate(plan, WriteKind::Update, &values, self.now)?;
        references::check(self.tx, self.snap, self.caller, plan, &changes, self.now)?;
        audit::stamp_update(&mut changes, self.caller, self.now);
        Ok(changes)
    }

    fn update(&self, row: &Row, record: &Record, set: &[Assignment]) -> Result<Record, ApiError> {
        let changes = self.changes(row.plan, set, Some(record))?;
        self.write_row(row, &changes, predicate::firewall(row.plan, row.gate))
    }

    /// `update TABLE { set …; when … }`: every row the caller's firewall lets through that
    /// satisfies the conditions, in one UPDATE.
    fn update_where(
        &self,
        table: &str,
        set: &[Assignment],
        when: Option<&Condition>,
        record: Option<&Record>,
    ) -> Result<(), ApiError> {
        let (plan, _, Some(cond)) = self.write_target(table, when, record)? else {
            return Ok(());
        };
        let changes = self.changes(plan, set, record)?;
        rows::update_where(self.writer(), plan, &changes, cond)?;
        Ok(())
    }

    /// `delete TABLE { when … }`: each matching row removed as `DELETE /api/T/{id}` would
    /// (soft with its cascade, or hard), without the table's `delete` rule: the action's own
    /// access decided.
    fn delete_where(
        &self,
        table: &str,
        when: Option<&Condition>,
        record: Option<&Record>,
    ) -> Result<(), ApiError> {
        let (plan, gate, Some(cond)) = self.write_target(table, when, record)? else {
            return Ok(());
        };
        for id in row::ids(self.tx, plan, &related::select_ids(plan, cond))? {
            self.remove(plan, &gate, &id)?;
        }
        Ok(())
    }

    /// One visible row deleted: stamped and cascaded on a soft-delete table, else a DELETE
    /// (foreign keys follow `on-delete`).
    fn remove(&self, plan: &TablePlan, gate: &Gate, id: &Json) -> Result<(), ApiError> {
        let cond = predicate::firewall(plan, gate);
        if !plan.soft {
            cascade::hard_delete(self.writer(), self.snap, plan, id, cond)?;
            return Ok(());
        }
        let mut stamps = Map::new();
        audit::stamp_soft_delete(&mut stamps, self.caller, self.now);
        if rows::update(self.writer(), plan, id, &stamps, cond)? > 0 {
            cascade::soft_delete(self.writer(), self.snap, plan, id, &stamps)?;
        }
        Ok(())
    }

    /// `query NAME TABLE { … }`: rows the caller can read, in the declared order (keys masked
    /// for the caller dropped), at most `limit`.
    fn query(
        &self,
        table: &str,
        when: Option<&Condition>,
        sort: &[SortKey],
        limit: u32,
        record: Option<&Record>,
    ) -> Result<Vec<Record>, ApiError> {
        let plan = self.plan(table)?;
        let Ok(gate) = security::gate(plan, Operation::Read, self.caller) else {
            return Ok(Vec::new());
        };
        let Some(cond) = self.rows(plan, &gate, when, record, true) else {
            return Ok(Vec::new());
        };
        let sort = query::declared_sort(plan, self.caller, sort);
        row::records(
            self.tx,
            plan,
            &dml::select(plan, cond, &sort, Some(u64::from(limit)), 0),
        )
    }

    /// TABLE of `update TABLE`/`delete TABLE`, the caller's scopes on it (403 without the
    /// claims, as for an insert; no access rule: the action's own decided), and the rows the
    /// step reaches (`None`: no row can match).
    fn write_target(
        &self,
        table: &str,
        when: Option<&Condition>,
        record: Option<&Record>,
    ) -> Result<(&TablePlan, Gate, Option<sea_query::Condition>), ApiError> {
        let plan = self.plan(table)?;
        let gate = Gate {
            scopes: firewall::predicates(&plan.def, self.caller)?,
            residual: Residual::True,
        };
        let cond = self.rows(plan, &gate, when, record, false);
        Ok((plan, gate, cond))
    }

    /// The rows of `plan` behind `gate` (with its read residual when `readable`) that satisfy
    /// `when` with the action's values bound; `None` when no row can.
    fn rows(
        &self,
        plan: &TablePlan,
        gate: &Gate,
        when: Option<&Condition>,
        record: Option<&Record>,
        readable: bool,
    ) -> Option<sea_query::Condition> {
        let cond = predicate::visibility(plan, gate, self.caller, self.now, readable);
        let Some(w) = when else {
            return Some(cond);
        };
        match self
            .bind(w, record)
            .partial(&|roles| self.caller.has_any_role(roles))
        {
            Partial::True => Some(cond),
            Partial::False => None,
            Partial::Rows(r) => {
                Some(cond.add(predicate::condition(plan, &r, self.caller, self.now)))
            }
        }
    }

    /// An insert through the target table's firewall: its scopes stamped from the caller (403
    /// without the claims), the values validated like a create body, references checked.
    fn insert(
        &self,
        table: &str,
        set: &[Assignment],
        record: Option<&Record>,
    ) -> Result<Record, ApiError> {
        let plan = self.plan(table)?;
        let stamps = firewall::stamps(&plan.def, self.caller)?;
        let values = self.values(set, record);
        let mut row = validation::validate(plan, WriteKind::Create, &values, self.now)?;
        for s in &stamps {
            row.insert(s.column.clone(), Json::String(s.value.clone()));
        }
        audit::stamp_create(&mut row, self.caller, self.now);
        if plan.def.id == IdKind::Uuid {
            row.insert(
                system::ID.into(),
                Json::String(uuid::Uuid::now_v7().hyphenated().to_string()),
            );
        }
        references::check(self.tx, self.snap, self.caller, plan, &row, self.now)?;
        let id = rows::insert(self.writer(), plan, &row)?;
        self.reload(plan, &id)
    }

    /// Whether the caller can read a row of `e.table` (firewall, soft delete, its `read` rule)
    /// that satisfies the conditions. A caller who may not read the table finds nothing.
    fn exists(&self, e: &Exists, record: Option<&Record>) -> Result<bool, ApiError> {
        let plan = self.plan(&e.table)?;
        let Ok(gate) = security::gate(plan, Operation::Read, self.caller) else {
            return Ok(false);
        };
        let Some(mut cond) = self.rows(plan, &gate, e.when.as_ref(), record, true) else {
            return Ok(false);
        };
        if mutation::active(Mutation::ActionExistsIgnoresFirewall) {
            cond = match e.when.as_ref().map(|w| self.bind(w, record)) {
                Some(w) => predicate::condition(plan, &w, self.caller, self.now),
                None => sea_query::Cond::all(),
            };
        }
        row::any_row(self.tx, &dml::select(plan, cond, &[], Some(1), 0))
    }

    fn plan(&self, table: &str) -> Result<&TablePlan, ApiError> {
        self.snap
            .table(table)
            .ok_or_else(|| ApiError::internal(format!("unknown table `{table}` in an action")))
    }

    fn reload(&self, plan: &TablePlan, id: &Json) -> Result<Record, ApiError> {
        row::by_id(self.tx, plan, id, sea_query::Cond::all())?
            .ok_or_else(|| ApiError::internal("the action's row vanished"))
    }

    /// The response body, masked: rows as the caller's `read` rule shows them, or named values
    /// taken from the masked row (a masked column never leaves raw through `return`).
    fn answer(&self, value: &Returned, p: &Progress) -> Result<Json, ApiError> {
        let ctx = embed::Ctx {
            conn: self.tx,
            snap: self.snap,
            caller: self.caller,
            now: self.now,
        };
        match value {
            // The row as the steps left it: none if they deleted it (soft or hard).
            Returned::Record => match &self.row {
                Some(row) => {
                    let live = predicate::firewall(row.plan, row.gate);
                    match row::by_id(self.tx, row.plan, row.id, live)? {
                        Some(record) => written::render_one(ctx, row.plan, record),
                        None => Ok(Json::Null),
                    }
                }
                None => Ok(Json::Null),
            },
            Returned::Inserted => match &p.inserted {
                Some((table, rec)) => written::render_one(ctx, self.plan(table)?, rec.clone()),
                None => Ok(Json::Null),
            },
            Returned::Query(name) => match p.queries.iter().find(|(n, _, _)| n == name) {
                Some((_, table, rows)) => Ok(Json::Array(written::render(
                    ctx,
                    self.plan(table)?,
                    rows.clone(),
                )?)),
                // The query sat in a branch that did not run.
                None => Ok(Json::Array(Vec::new())),
            },
            Returned::Object(fields) => {
                let masked = match (&self.row, &p.record) {
                    (Some(row), Some(record)) => {
                        let mut m = record.clone();
                        masking::mask_record(row.plan, self.caller, &mut m);
                        Some(m)
                    }
                    _ => None,
                };
                let mut out = Map::new();
                for f in fields {
                    let v = self.value(&f.value, masked.as_ref()).unwrap_or(Json::Null);
                    out.insert(f.column.clone(), v);
                }
                Ok(Json::Object(out))
            }
        }
    }
}

/// A typed JSON value as a condition literal.
fn literal(j: &Json) -> Option<Literal> {
    Some(match j {
        Json::Null => Literal::Null,
        Json::Bool(b) => Literal::Boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Literal::Integer(i),
            None => Literal::Float(n.as_f64()?),
        },
        Json::String(s) => Literal::Text(s.clone()),
        _ => return None,
    })
}
