//! `POST /api/T/{id}/A`: a record action (SPEC §2.10). The role part is decided before any
//! read; the row is loaded through the firewall (404 when invisible); the action's conditions on
//! the row answer 409 `ACCESS_ACTION_NOT_ALLOWED_FOR_STATE`; the inputs are validated; then the
//! steps run in order in one transaction, every write repeating the firewall in its WHERE, and
//! the result is masked like any read.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value as Json, json};
use ward_ir::{Action, Assignment, Condition, Literal, Returned, Step, Value};

use super::embed;
use super::error::ApiError;
use super::references;
use super::request::{self, Shared};
use super::written;
use crate::security::access::{self, literal_json, resolve};
use crate::security::guards::WriteKind;
use crate::security::identity::Caller;
use crate::security::{Gate, audit, firewall, masking, validation};
use crate::snapshot::{Snapshot, TablePlan};
use crate::sql::{dml, predicate, value};
use crate::store::Db;
use crate::store::row::{self, Record};

pub async fn handle(
    State(st): State<Shared>,
    Path((table, id, action)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    request::finish(run(st, table, id, action, headers, body).await)
}

async fn run(
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
    if !caller.authenticated {
        // SPEC §2.10: every invocation by a public caller is audit-logged.
        tracing::info!(target: "ward::audit", table = %table, action = %name, id = %id, "public action invoked");
    }

    let snap2 = snap.clone();
    let out = st
        .store
        .write(move |tx| {
            let plan = request::plan_in(&snap2, &table)?;
            let visible = predicate::firewall(plan, &gate);
            let load = dml::select(plan, dml::by_id(plan, &id).add(visible), &[], Some(1), 0);
            let record = row::first_record(tx, plan, &load)?
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
                plan,
                gate: &gate,
                caller: &caller,
                now: &now,
                id: &id,
                inputs: &inputs,
            };
            run.steps(&action, record)
        })
        .await?;
    Ok(request::json(StatusCode::OK, &json!({ "data": out })))
}

/// One invocation's context inside its transaction.
struct Run<'a> {
    tx: &'a dyn Db,
    snap: &'a Snapshot,
    plan: &'a TablePlan,
    gate: &'a Gate,
    caller: &'a Caller,
    now: &'a str,
    id: &'a Json,
    inputs: &'a Map<String, Json>,
}

impl Run<'_> {
    fn steps(&self, action: &Action, mut record: Record) -> Result<Json, ApiError> {
        let mut answer = None;
        for step in &action.steps {
            match step {
                Step::Require { when, error } => {
                    if !access::holds(&self.bind(when, &record), &record, self.caller, self.now) {
                        return Err(ApiError::action(error));
                    }
                }
                Step::Transition { column, from, to } => {
                    record = self.transition(&record, column, from, to)?;
                }
                Step::Update { set } => record = self.update(&record, set)?,
                Step::Return { value } => answer = Some(self.answer(value, &record)?),
            }
        }
        Ok(answer.unwrap_or_else(|| json!({ "ok": true })))
    }

    /// `(input)` and `(record)` values as literals of the request and the row.
    fn bind(&self, c: &Condition, record: &Record) -> Condition {
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
    fn value(&self, v: &Value, record: &Record) -> Option<Json> {
        match v {
            Value::Input(name) => Some(self.inputs.get(name).cloned().unwrap_or(Json::Null)),
            Value::Record(column) => Some(record.get(column).cloned().unwrap_or(Json::Null)),
            other => resolve(other, self.caller, self.now),
        }
    }

    /// Compare-and-set: only from one of `from`, and only if the row still holds the state read.
    fn transition(
        &self,
        record: &Record,
        column: &str,
        from: &[Literal],
        to: &Value,
    ) -> Result<Record, ApiError> {
        let current = record.get(column).cloned().unwrap_or(Json::Null);
        let target = self.value(to, record).unwrap_or(Json::Null);
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
        let mut changes = validation::validate(self.plan, WriteKind::Update, &set, self.now)?;
        audit::stamp_update(&mut changes, self.caller, self.now);
        let ty = predicate::column_type(self.plan, column);
        let unchanged = predicate::compare(
            self.plan,
            column,
            ward_ir::CompareOp::Eq,
            vec![crate::sql::value::to_db(ty, &current)],
        );
        let cond = predicate::firewall(self.plan, self.gate).add(unchanged);
        if row::execute(self.tx, &dml::update(self.plan, self.id, &changes, cond))? == 0 {
            return Err(ApiError::transition_lost());
        }
        self.reload()
    }

    fn update(&self, record: &Record, set: &[Assignment]) -> Result<Record, ApiError> {
        let values: Map<String, Json> = set
            .iter()
            .map(|a| {
                let v = self.value(&a.value, record).unwrap_or(Json::Null);
                (a.column.clone(), v)
            })
            .collect();
        let mut changes = validation::validate(self.plan, WriteKind::Update, &values, self.now)?;
        references::check(
            self.tx,
            self.snap,
            self.caller,
            self.plan,
            &changes,
            self.now,
        )?;
        audit::stamp_update(&mut changes, self.caller, self.now);
        let cond = predicate::firewall(self.plan, self.gate);
        if row::execute(self.tx, &dml::update(self.plan, self.id, &changes, cond))? == 0 {
            return Err(ApiError::transition_lost());
        }
        self.reload()
    }

    fn reload(&self) -> Result<Record, ApiError> {
        let stmt = dml::select(self.plan, dml::by_id(self.plan, self.id), &[], Some(1), 0);
        row::first_record(self.tx, self.plan, &stmt)?
            .ok_or_else(|| ApiError::internal("the action's row vanished"))
    }

    /// The response body, masked: the row as the caller's `read` rule shows it, or named values
    /// taken from the masked row (a masked column never leaves raw through `return`).
    fn answer(&self, value: &Returned, record: &Record) -> Result<Json, ApiError> {
        let ctx = embed::Ctx {
            conn: self.tx,
            snap: self.snap,
            caller: self.caller,
            now: self.now,
        };
        match value {
            Returned::Record => written::render_one(ctx, self.plan, record.clone()),
            Returned::Object(fields) => {
                let mut masked = record.clone();
                masking::mask_record(self.plan, self.caller, &mut masked);
                let mut out = Map::new();
                for f in fields {
                    let v = match &f.value {
                        Value::Record(c) => masked.get(c).cloned().unwrap_or(Json::Null),
                        other => self.value(other, &masked).unwrap_or(Json::Null),
                    };
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
