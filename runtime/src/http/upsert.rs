//! `PUT /api/T/{id}`: upsert (SPEC §5.6), served only for tables with `id text` and `guards open`.
//!
//! Everything is decided inside the one writer transaction, so nothing can change between the
//! visibility check and the write: a firewall-visible row is updated (update access, `when`,
//! `check`); any other id is created (create access, `check`) by a plain INSERT. A row that exists
//! but is invisible (another tenant, soft-deleted) makes that INSERT fail on the primary key, which
//! answers NOT_FOUND: an upsert never overwrites a row the caller cannot see.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value as Json, json};
use ward_ir::{IdKind, Operation, TriggerEvent, system};

use super::embed;
use super::precondition::Precondition;
use super::request::{self, Shared};
use super::{create, references, triggers, update, written};
use crate::engine::rows;
use crate::error::ApiError;
use crate::gate::{Caller, Gate, Residual, ScopeEq};
use crate::mutation::{self, Mutation};
use crate::security::firewall;
use crate::security::guards::{self, WriteKind};
use crate::security::{self, audit};
use crate::snapshot::TablePlan;
use crate::sql::{dml, predicate};
use crate::store::row::{self, Record};

pub async fn handle(
    State(st): State<Shared>,
    Path((table, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    request::finish(run(st, table, id, headers, body).await)
}

/// Whether PUT is served for the table: the client must be able to name the id and to write
/// every column either way.
pub fn allowed(plan: &TablePlan) -> bool {
    plan.def.id == IdKind::Text && plan.def.guards.open
}

/// The role part and firewall of an upsert, decided before anything is read. Which of the two
/// applies to a record is only known once its row is looked up.
#[derive(Debug, Clone)]
pub struct Gates {
    /// Scopes only: what "the row exists for this caller" means.
    visible: Gate,
    update: Result<Gate, ApiError>,
    create: Result<Vec<ScopeEq>, ApiError>,
}

impl Gates {
    /// A caller who may neither update nor create gets the update rule's answer (401/403) at once.
    pub fn new(plan: &TablePlan, caller: &Caller) -> Result<Gates, ApiError> {
        let update = security::gate(plan, Operation::Update, caller);
        let create = security::create_gate(plan, caller);
        if let (Err(e), Err(_)) = (&update, &create) {
            return Err(e.clone());
        }
        // Either gate succeeding means every needed claim is present, so this cannot fail here.
        let scopes = firewall::predicates(&plan.def, caller)?;
        Ok(Gates {
            visible: Gate {
                scopes,
                residual: Residual::True,
            },
            update,
            create,
        })
    }

    /// Judges an upsert's precondition on `current`, the visible row with this id (if any). A
    /// visible row the caller may not update answers as it would without the precondition (RFC
    /// 9110 §13.2.1); see `precondition` for ids they cannot see.
    pub(crate) fn judge(
        &self,
        precondition: &Precondition,
        ctx: embed::Ctx<'_>,
        plan: &TablePlan,
        id: &Json,
        current: Option<&Record>,
    ) -> Result<(), ApiError> {
        match (current, &self.update) {
            (Some(_), Err(_)) => Ok(()),
            (_, update) => precondition.judge(ctx, plan, update.as_ref().ok(), id, current),
        }
    }

    /// The firewall condition that decides between update and create.
    pub fn visibility(&self, plan: &TablePlan) -> sea_query::Condition {
        predicate::firewall(plan, &self.visible)
    }
}

async fn run(
    st: Shared,
    table: String,
    id: String,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let serving = st.current();
    let snap = serving.snapshot.clone();
    let plan = request::plan(&snap, &table)?;
    if !allowed(plan) {
        return Err(ApiError::upsert_not_allowed());
    }
    let caller = request::caller(&st, &serving, &headers)?;
    let gates = Gates::new(plan, &caller)?;
    let precondition = Precondition::from_headers(&headers)?;
    let id = request::row_id(plan, &id)?;
    let mut body = request::body(&st.bodies, plan, &headers, body).await?;
    match body.get(system::ID) {
        Some(given) if *given != id => return Err(id_mismatch(plan, &body)),
        Some(_) => {
            body.remove(system::ID);
        }
        None => {}
    }
    let now = audit::now();

    let snap2 = snap.clone();
    let caller2 = caller.clone();
    let request_id = request::request_id(&headers);
    let ((created, rec), after) = st
        .store
        .write(move |tx| {
            triggers::collect(tx, &snap2, &caller2, &now, request_id.as_deref(), |cx| {
                let plan = request::plan_in(&snap2, &table)?;
                let load = dml::select(
                    plan,
                    gates.visibility(plan).add(dml::id_eq(plan, &id)),
                    &[],
                    Some(1),
                    0,
                );
                let current = row::first_record(tx, plan, &load)?;
                gates.judge(&precondition, cx.read(), plan, &id, current.as_ref())?;
                let (created, row) = apply(cx, plan, &gates, &id, current.as_ref(), &body)?;
                // Only what the caller's `read` rule shows (docs/decisions.md).
                Ok((created, written::answer_one(cx.read(), plan, &id, row)?))
            })
        })
        .await?;
    triggers::after(&st, snap, &caller, after).await;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(request::json(status, &json!({ "data": rec })))
}

/// A body `id` other than the path's is a client trying to set a system column: the guards'
/// answer, listing it with any other system or scope key of the body.
fn id_mismatch(plan: &TablePlan, body: &Map<String, Json>) -> ApiError {
    let keys: Vec<&str> = body.keys().map(String::as_str).collect();
    // On update `id` is system-managed, so the guards always answer GUARD_SYSTEM_MANAGED here.
    match guards::check(plan, WriteKind::Update, &keys) {
        Err(e) => e,
        Ok(()) => ApiError::guard(
            "GUARD_SYSTEM_MANAGED",
            "System and scope columns are set by the server",
            json!({ "fields": [system::ID] }),
        ),
    }
}

/// One upsert inside the writer transaction. `current` is the firewall-visible row with this id,
/// if any; `body` carries no `id`. Returns whether the row was created, and the row written.
///
/// A caller who may not create gets NOT_FOUND for an id they cannot see, exactly as PATCH would
/// answer, so a missing create grant does not tell invisible ids from nonexistent ones.
pub(crate) fn apply(
    cx: triggers::WriteCx<'_>,
    plan: &TablePlan,
    gates: &Gates,
    id: &Json,
    current: Option<&Record>,
    body: &Map<String, Json>,
) -> Result<(bool, written::Row), ApiError> {
    let (conn, snap, caller, now) = (cx.db, cx.snap, cx.caller, cx.now);
    if let Some(current) = current {
        let gate = gates.update.as_ref().map_err(Clone::clone)?;
        let row = update::apply(cx, plan, gate, id, current, body)?;
        return Ok((false, row));
    }
    let Ok(stamps) = &gates.create else {
        return Err(firewall::not_found(&plan.def));
    };
    let mut body = body.clone();
    body.insert(system::ID.into(), id.clone());
    let values = create::prepare(plan, caller, stamps, &body, now)?;
    references::check(conn, snap, caller, plan, &values, now)?;
    // An id that exists but was not visible above belongs to someone else (another tenant, or
    // soft-deleted): never overwrite it, and answer as for a missing row. Looked up before the
    // INSERT so the answer does not depend on which constraint SQLite checks first (a body that
    // also repeats a unique value would otherwise answer UNIQUE_VIOLATION for the same id), and
    // after validation so that an invalid body answers the same for every id.
    let by_id = dml::select(plan, dml::by_id(plan, id), &[], Some(1), 0);
    if row::first_record(conn, plan, &by_id)?.is_some() {
        if mutation::active(Mutation::UpsertOverwriteInvisible) {
            return rows::update(cx.writer(), plan, id, &values, sea_query::Cond::all())
                .map(|_| (false, written::Row::Stale));
        }
        return Err(firewall::not_found(&plan.def));
    }
    // The lookup above and this INSERT run in one transaction; `ON CONFLICT DO NOTHING` still
    // guards the id in case another writer took it in between (Postgres then retries the
    // transaction, and the lookup finds the row).
    let w = triggers::Write::new(cx, plan, TriggerEvent::Create);
    w.before(&values, None)?;
    let Some(rec) = rows::insert_if_new(cx.writer(), plan, &values)? else {
        return Err(firewall::not_found(&plan.def));
    };
    create::inserted(&w, &rec)?;
    Ok((true, written::Row::after(&w, rec)))
}
