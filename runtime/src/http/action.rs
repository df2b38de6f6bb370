//! Actions (SPEC §2.10). `POST /api/T/{id}/A` runs a record action: the role part is decided
//! before any read, the row is loaded through the firewall (404 when invisible), the action's
//! conditions on the row answer 409 `ACCESS_ACTION_NOT_ALLOWED_FOR_STATE`, the inputs are
//! validated, then the steps run. `POST` (or `GET`) `/api/actions/A` runs a standalone action:
//! roles, inputs, steps. Either way the steps run in one transaction, every statement under the
//! firewall of the table it touches, and the result is masked like any read.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value as Json, json};
use ward_ir::{
    Action, ActionMethod, Assignment, Condition, Exists, IdKind, Literal, Operation, Partial,
    Returned, Step, Value, system,
};

use super::embed;
use super::error::ApiError;
use super::request::{self, Shared};
use super::{create, references, written};
use crate::security::access::{self, literal_json, resolve};
use crate::security::guards::WriteKind;
use crate::security::identity::Caller;
use crate::security::{self, Gate, audit, firewall, masking, validation};
use crate::snapshot::{Snapshot, TablePlan};
use crate::sql::{dml, predicate, value};
use crate::store::Db;
use crate::store::row::{self, Record};

pub async fn record(
    State(st): State<Shared>,
    Path((table, id, action)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    request::finish(run_record(st, table, id, action, headers, body).await)
}

pub async fn standalone(
    State(st): State<Shared>,
    Path(action): Path<String>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    request::finish(run_standalone(st, action, method, query, headers, body).await)
}

/// SPEC §2.10: every invocation by a public caller is audit-logged.
fn audit_public(caller: &Caller, action: &str, target: &str) {
    if !caller.authenticated {
        tracing::info!(target: "ward::audit", action = %action, on = %target, "public action invoked");
    }
}

async fn run_record(
    st: Shared,
    table: String,
    id: String,
    name: String,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let serving = st.current();
    let snap = serving.snapshot.clone();
    let plan = request::plan(&snap, &table)?;
    // An unknown action answers like an unknown path: the fixed NOT_FOUND, before the token.
    let action = plan
        .def
        .action(&name)
        .ok_or_else(ApiError::not_found)?
        .clone();
    let caller = request::caller(&serving, &headers)?;
    let residual = access::authorize_rule(action.access.as_ref(), &caller)?;
    let gate = Gate {
        scopes: firewall::predicates(&plan.def, &caller)?,
        residual,
    };
    let id = value::parse_id(plan.def.id, &id).ok_or_else(|| firewall::not_found(&plan.def))?;
    let type_of = |k: &str| action.inputs.iter().find(|i| i.name == k).map(|i| i.ty);
    let body = request::body_typed(&type_of, &headers, body, true).await;
    let now = audit::now();
    audit_public(&caller, &name, &format!("{table}/{id}"));

    let snap2 = snap.clone();
    let out = st
        .store
        .write(move |tx| {
            let plan = request::plan_in(&snap2, &table)?;
            let record = row::by_id(tx, plan, &id, predicate::firewall(plan, &gate))?
                .ok_or_else(|| firewall::not_found(&plan.def))?;
            if let Some(c) = gate.residual.condition()
                && !access::holds(c, &record, &caller, &now)
            {
                return Err(ApiError::not_allowed_for_state(None));
            }
            let inputs = validation::inputs(&action.inputs, &body?, &now)?;
            let run = Run {
                tx,
                snap: &snap2,
                caller: &caller,
                now: &now,
                inputs: &inputs,
                row: Some(Row {
                    plan,
                    gate: &gate,
                    id: &id,
                }),
            };
            run.run(&action, Some(record))
        })
        .await?;
    Ok(request::json(StatusCode::OK, &json!({ "data": out })))
}

async fn run_standalone(
    st: Shared,
    name: String,
    method: Method,
    query: Option<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let serving = st.current();
    let snap = serving.snapshot.clone();
    let action = snap
        .ir
        .action(&name)
        .ok_or_else(ApiError::not_found)?
        .clone();
    let expected = match action.method {
        ActionMethod::Post => Method::POST,
        ActionMethod::Get => Method::GET,
    };
    if method != expected {
        return Err(ApiError::not_found());
    }
    let caller = request::caller(&serving, &headers)?;
    access::authorize_rule(action.access.as_ref(), &caller)?;
    let type_of = |k: &str| action.inputs.iter().find(|i| i.name == k).map(|i| i.ty);
    let body = if method == Method::GET {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
                .map_err(|_| ApiError::bad_query("query", "Malformed query string"))?;
        validation::coerce_form(&type_of, pairs)
    } else {
        request::body_typed(&type_of, &headers, body, true).await?
    };
    let now = audit::now();
    let inputs = validation::inputs(&action.inputs, &body, &now)?;
    audit_public(&caller, &name, "actions");

    let snap2 = snap.clone();
    let out = st
        .store
        .write(move |tx| {
            let run = Run {
                tx,
                snap: &snap2,
                caller: &caller,
                now: &now,
                inputs: &inputs,
                row: None,
            };
            run.run(&action, None)
        })
        .await?;
    Ok(request::json(StatusCode::OK, &json!({ "data": out })))
}

/// The row a record action acts on.
struct Row<'a> {
    plan: &'a TablePlan,
    gate: &'a Gate,
    id: &'a Json,
}

/// One invocation's context inside its transaction.
struct Run<'a> {
    tx: &'a dyn Db,
    snap: &'a Snapshot,
    caller: &'a Caller,
    now: &'a str,
    inputs: &'a Map<String, Json>,
    row: Option<Row<'a>>,
}

/// What the steps have produced so far.
#[derive(Default)]
struct Progress {
    record: Option<Record>,
    /// The last inserted row and its table.
    inserted: Option<(String, Record)>,
    answer: Option<Json>,
}

impl Run<'_> {
    fn run(&self, action: &Action, record: Option<Record>) -> Result<Json, ApiError> {
        let mut p = Progress {
            record,
            ..Progress::default()
        };
        self.steps(&action.steps, &mut p)?;
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
                Step::Update { set } => {
                    let (row, record) = self.own(p)?;
                    p.record = Some(self.update(row, record, set)?);
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
            _ => Err(ApiError::internal("a row step outside a record action")),
        }
    }

    /// A condition on the action's row (none for standalone actions: it cannot hold).
    fn holds(&self, c: &Condition, p: &Progress) -> bool {
        p.record.as_ref().is_some_and(|record| {
            access::holds(&self.bind(c, Some(record)), record, self.caller, self.now)
        })
    }

    /// `(input)` and `(record)` values as literals of the request and the row.
    fn bind(&self, c: &Condition, record: Option<&Record>) -> Condition {
        c.map_values(&|v| match v {
            Value::Input(_) | Value::Record(_) => Some(
                self.value(v, record)
                    .and_then(|j| literal(&j))
                    .map_or_else(|| v.clone(), Value::Literal),
            ),
            _ => None,
        })
    }

    /// A step's value now: inputs and the row's columns as they are, else as in conditions.
    fn value(&self, v: &Value, record: Option<&Record>) -> Option<Json> {
        match v {
            Value::Input(name) => Some(self.inputs.get(name).cloned().unwrap_or(Json::Null)),
            Value::Record(column) => Some(
                record
                    .and_then(|r| r.get(column))
                    .cloned()
                    .unwrap_or(Json::Null),
            ),
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
            return Err(ApiError::not_allowed_for_state(Some(json!({
                "field": column,
                "current": current,
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
            ward_ir::CompareOp::Eq,
            vec![value::to_db(ty, &current)],
        );
        let cond = predicate::firewall(row.plan, row.gate).add(unchanged);
        if row::execute(self.tx, &dml::update(row.plan, row.id, &changes, cond))? == 0 {
            return Err(ApiError::transition_lost());
        }
        self.reload(row.plan, row.id)
    }

    fn update(&self, row: &Row, record: &Record, set: &[Assignment]) -> Result<Record, ApiError> {
        let values = self.values(set, Some(record));
        let mut changes = validation::validate(row.plan, WriteKind::Update, &values, self.now)?;
        references::check(
            self.tx,
            self.snap,
            self.caller,
            row.plan,
            &changes,
            self.now,
        )?;
        audit::stamp_update(&mut changes, self.caller, self.now);
        let cond = predicate::firewall(row.plan, row.gate);
        if row::execute(self.tx, &dml::update(row.plan, row.id, &changes, cond))? == 0 {
            return Err(ApiError::transition_lost());
        }
        self.reload(row.plan, row.id)
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
        let id = create::insert(self.tx, plan, &row)?;
        self.reload(plan, &id)
    }

    /// Whether the caller can read a row of `e.table` (firewall, soft delete, its `read` rule)
    /// that satisfies the conditions. A caller who may not read the table finds nothing.
    fn exists(&self, e: &Exists, record: Option<&Record>) -> Result<bool, ApiError> {
        let plan = self.plan(&e.table)?;
        let Ok(gate) = security::gate(plan, Operation::Read, self.caller) else {
            return Ok(false);
        };
        let mut cond = predicate::visibility(plan, &gate, self.caller, self.now, true);
        if let Some(w) = &e.when {
            match self
                .bind(w, record)
                .partial(&|roles| self.caller.has_any_role(roles))
            {
                Partial::True => {}
                Partial::False => return Ok(false),
                Partial::Rows(r) => {
                    cond = cond.add(predicate::condition(plan, &r, self.caller, self.now));
                }
            }
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

    /// The response body, masked: a row as the caller's `read` rule shows it, or named values
    /// taken from the masked row (a masked column never leaves raw through `return`).
    fn answer(&self, value: &Returned, p: &Progress) -> Result<Json, ApiError> {
        let ctx = embed::Ctx {
            conn: self.tx,
            snap: self.snap,
            caller: self.caller,
            now: self.now,
        };
        match value {
            Returned::Record => match (&self.row, &p.record) {
                (Some(row), Some(record)) => written::render_one(ctx, row.plan, record.clone()),
                _ => Ok(Json::Null),
            },
            Returned::Inserted => match &p.inserted {
                Some((table, rec)) => written::render_one(ctx, self.plan(table)?, rec.clone()),
                None => Ok(Json::Null),
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
