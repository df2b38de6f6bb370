//! The reference model: an independent, deliberately simple, in-memory implementation of SPEC §2,
//! §5 and §6 (with docs/decisions.md), driven by the IR alone. For every request it predicts the
//! status, the error (code, layer, the details the SPEC fixes) or the exact success body, and the
//! resulting state of every table.
//!
//! It must never use the runtime (a test scans this folder): a bug shared by the model and the
//! server would be invisible. State is plain `serde_json` rows in insertion order, soft-deleted
//! rows included; every operation is a linear scan. Values only the server can know (generated
//! ids, the request timestamp) are sentinels until the answer binds them (see [`adopt`]).
//!
//! Not predicted (left to the invariants): list pages read with `cursor`, and `expand`.

mod access;
mod actions;
pub mod adopt;
mod auth;
mod batch;
mod delete;
mod errors;
pub(crate) mod firewall;
mod guards;
pub mod history;
mod list;
mod masking;
pub mod realtime;
mod route;
mod triggers;
mod validation;
mod write;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};
use ward_ir::{IdKind, Ir, Table, system};

use crate::cases::User;
use crate::request::ApiRequest;
use crate::scenario::CallerSpec;
use crate::target::Exchange;
pub use adopt::{ANY, ENVELOPE, matches, show};
pub use auth::{Who, user_who, who};
pub use errors::{Fail, not_found_body};
pub use masking::{label_key, mask_value, queryable};

/// A stored row: column → value, every column of its table.
pub type Row = Map<String, Value>;
/// Table name → rows in insertion order.
pub type Tables = BTreeMap<String, Vec<Row>>;

/// What the model expects of one exchange. `None` = not predicted (only invariants check it).
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub status: Option<u16>,
    pub body: Option<Value>,
}

impl Prediction {
    /// Checks an answer against the prediction.
    pub fn check(&self, observed: &Exchange) -> Result<(), String> {
        if let Some(status) = self.status
            && status != observed.status
        {
            return Err(format!(
                "expected status {status}{}, got {} {}",
                self.body
                    .as_ref()
                    .map(|b| format!(" {}", show(b)))
                    .unwrap_or_default(),
                observed.status,
                observed.text
            ));
        }
        match &self.body {
            Some(body) => matches(body, &observed.json)
                .map_err(|e| format!("status {} as predicted, but {e}", observed.status)),
            None => Ok(()),
        }
    }

    fn fail(f: &Fail) -> Prediction {
        Prediction {
            status: Some(f.status),
            body: Some(f.expected()),
        }
    }
}

/// The model's state: the rows, and every id ever created per table (for `IdRef::Created`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    pub rows: Tables,
    pub created: BTreeMap<String, Vec<Value>>,
    /// `after` trigger work of the request so far, run when it succeeds.
    pub after: Vec<triggers::After>,
}

pub struct Model {
    ir: Ir,
    state: State,
    /// The latest timestamp the server wrote.
    last_now: Option<String>,
    /// Requests and seeds so far: each gets its own sentinels.
    seq: u64,
    /// The change log the server stored, per table with `history`, as last observed: what
    /// history answers are predicted from ([`Model::observe_log`]).
    logs: BTreeMap<String, Vec<Value>>,
}

/// What one request works with.
pub(crate) struct Cx<'a> {
    pub ir: &'a Ir,
    /// The change logs last observed ([`Model::observe_log`]).
    pub logs: &'a BTreeMap<String, Vec<Value>>,
    pub who: Who,
    pub seq: u64,
    /// The request timestamp's sentinel, and its date's.
    pub now: String,
    pub today: String,
    /// An estimate of the request time for `(time)now` in conditions: the model's clock when it
    /// predicts, which is at most milliseconds after the server's.
    pub clock: String,
    generated: usize,
}

impl Cx<'_> {
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.ir.table(name)
    }

    /// A server-generated id for a new row of `table` (a sentinel).
    pub fn new_id(&mut self, table: &str) -> Value {
        self.generated += 1;
        Value::String(adopt::id_sentinel(self.seq, table, self.generated))
    }
}

impl Model {
    pub fn new(ir: &Ir) -> Model {
        let mut state = State::default();
        for t in &ir.tables {
            state.rows.insert(t.name.clone(), Vec::new());
            state.created.insert(t.name.clone(), Vec::new());
        }
        Model {
            ir: ir.clone(),
            state,
            last_now: None,
            seq: 0,
            logs: BTreeMap::new(),
        }
    }

    /// The change log the server holds for `table` now (`App::change_log`): a history answer is
    /// predicted from it, and it is checked against the model's rows ([`history::check_log`]).
    pub fn observe_log(&mut self, table: &str, log: Vec<Value>) -> Result<(), String> {
        if let Some(t) = self.ir.table(table) {
            let before = self.logs.get(table).map_or(&[][..], Vec::as_slice);
            history::check_log(t, self.rows(table), before, &log)?;
        }
        self.logs.insert(table.to_owned(), log);
        Ok(())
    }

    pub fn ir(&self) -> &Ir {
        &self.ir
    }

    /// The answer to `GET /api/T/subscribe?FILTER` for `caller`: `Ok` when the stream opens.
    /// The filter (the list grammar's `FIELD.OP`, its value) is checked after the caller's
    /// access, as the server checks it.
    pub fn subscription(
        &self,
        table: &str,
        caller: &CallerSpec,
        filter: Option<(&str, &str)>,
    ) -> Result<(), Fail> {
        self.stream_filters(table, caller, filter).map(|_| ())
    }

    /// The events a subscriber to `table` through `filter` receives since the log's start,
    /// from the log last observed ([`Model::observe_log`]).
    pub fn stream(
        &self,
        table: &str,
        caller: &CallerSpec,
        filter: Option<(&str, &str)>,
    ) -> Vec<Value> {
        let Ok(filters) = self.stream_filters(table, caller, filter) else {
            return Vec::new();
        };
        let (Ok(who), Some(t)) = (auth::who(&self.ir, caller), self.ir.table(table)) else {
            return Vec::new();
        };
        let clock = chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        let log = self.logs.get(table).map_or(&[][..], Vec::as_slice);
        realtime::events(t, &who, &clock, &filters, log)
    }

    fn stream_filters(
        &self,
        table: &str,
        caller: &CallerSpec,
        filter: Option<(&str, &str)>,
    ) -> Result<Vec<list::Filter>, Fail> {
        let who = auth::who(&self.ir, caller)?;
        let t = self.ir.table(table).ok_or_else(Fail::not_found)?;
        realtime::subscribe(t, &who)?;
        // Parsing a filter needs no request of its own: no sentinel is drawn.
        let cx = Cx {
            ir: &self.ir,
            logs: &self.logs,
            who,
            seq: self.seq,
            now: String::new(),
            today: String::new(),
            clock: String::new(),
            generated: 0,
        };
        filter
            .map(|(k, v)| list::filter(&cx, t, None, k, v))
            .into_iter()
            .collect()
    }

    pub fn rows(&self, table: &str) -> &[Row] {
        self.state.rows.get(table).map_or(&[], Vec::as_slice)
    }

    /// Ids of every row ever created in `table`, in order (deleted ones included).
    pub fn created(&self, table: &str) -> &[Value] {
        self.state.created.get(table).map_or(&[], Vec::as_slice)
    }

    fn cx(&mut self, who: Who) -> Cx<'_> {
        self.seq += 1;
        let clock = chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        let clock = match &self.last_now {
            Some(last) if *last > clock => last.clone(),
            _ => clock,
        };
        Cx {
            ir: &self.ir,
            logs: &self.logs,
            who,
            seq: self.seq,
            now: adopt::now_sentinel(self.seq),
            today: adopt::date_sentinel(self.seq),
            clock,
            generated: 0,
        }
    }

    /// A fixture row as `App::seed` inserts it: validated like a create, scope and audit columns
    /// from the owner, no access rule or guards. `observed` is what the server's seed answered; the
    /// model adopts its generated values when it predicts success too. `Ok(None)`: both refused.
    pub fn seed(
        &mut self,
        table: &str,
        owner: Option<&User>,
        values: &Map<String, Value>,
        observed: &Result<Value, String>,
    ) -> Result<Option<Value>, String> {
        let who = owner.map(|u| user_who(&self.ir, u)).unwrap_or_default();
        let mut next = self.state.clone();
        let mut cx = self.cx(who);
        let predicted = write::seed(&mut cx, &mut next, table, values);
        let seq = cx.seq;
        match (predicted, observed) {
            (Ok(row), Ok(got)) => {
                let bound = self.bind(seq, &Value::Object(row.clone()), got)?;
                let mut row = Value::Object(row);
                adopt::substitute(&mut row, &bound);
                self.commit(next, &bound);
                matches(&row, got).map_err(|e| format!("seed {table}: {e}"))?;
                Ok(Some(row))
            }
            (Err(_), Err(_)) => Ok(None),
            (Ok(_), Err(e)) => Err(format!(
                "the model accepts this seed of {table}, the server refused: {e}"
            )),
            (Err(e), Ok(got)) => Err(format!(
                "the model refuses this seed of {table} ({e}), the server stored {got}"
            )),
        }
    }

    /// Predicts the answer to `req` and moves to the state it leaves. Server-generated values of
    /// a predicted success are adopted from `observed` (and checked); nothing else is.
    pub fn apply(&mut self, req: &ApiRequest, observed: &Exchange) -> Prediction {
        let mut next = self.state.clone();
        let auth = auth::who(&self.ir, &req.caller);
        let mut cx = self.cx(auth.clone().unwrap_or_default());
        let seq = cx.seq;
        let outcome = route::dispatch(&mut cx, &mut next, req, auth.err());
        // A successful request's `after` triggers run once it is done (committed).
        if let route::Outcome::Done(Ok(_)) = &outcome {
            triggers::after(&mut cx, &mut next);
        }
        let (status, body) = match outcome {
            route::Outcome::Unpredicted => {
                return Prediction {
                    status: None,
                    body: None,
                };
            }
            route::Outcome::Status(s) => {
                return Prediction {
                    status: Some(s),
                    body: None,
                };
            }
            route::Outcome::Done(Err(f)) => return Prediction::fail(&f),
            route::Outcome::Done(Ok(ok)) => ok,
        };
        let mut body = body;
        match self.bind(seq, &body, &observed.json) {
            Ok(bound) => {
                adopt::substitute(&mut body, &bound);
                self.commit(next, &bound);
            }
            Err(problem) => {
                // The answer carries a malformed server value: report it as the mismatch.
                self.commit(next, &BTreeMap::new());
                return Prediction {
                    status: Some(status),
                    body: Some(Value::String(format!(
                        "well-formed server values ({problem})"
                    ))),
                };
            }
        }
        Prediction {
            status: Some(status),
            body: Some(body),
        }
    }

    fn bind(
        &self,
        seq: u64,
        expected: &Value,
        observed: &Value,
    ) -> Result<BTreeMap<String, Value>, String> {
        let max_int = self.max_int_ids();
        let mut binder = adopt::Binder {
            last_now: self.last_now.as_deref(),
            max_int: &max_int,
            bound: BTreeMap::new(),
            problems: Vec::new(),
        };
        binder.bind(expected, observed);
        binder.finish(seq);
        match binder.problems.first() {
            Some(p) => Err(p.clone()),
            None => Ok(binder.bound),
        }
    }

    fn max_int_ids(&self) -> BTreeMap<String, i64> {
        self.state
            .created
            .iter()
            .map(|(t, ids)| {
                (
                    t.clone(),
                    ids.iter().filter_map(Value::as_i64).max().unwrap_or(0),
                )
            })
            .collect()
    }

    fn commit(&mut self, mut next: State, bound: &BTreeMap<String, Value>) {
        for rows in next.rows.values_mut() {
            for row in rows.iter_mut() {
                for v in row.values_mut() {
                    adopt::substitute(v, bound);
                }
            }
        }
        for ids in next.created.values_mut() {
            ids.iter_mut().for_each(|v| adopt::substitute(v, bound));
        }
        for v in bound.values() {
            if let Some(t) = v.as_str().filter(|t| adopt::is_timestamp(t))
                && self.last_now.as_deref().is_none_or(|last| t > last)
            {
                self.last_now = Some(t.to_owned());
            }
        }
        self.state = next;
    }

    /// Compares the model's state with the stored rows (`dumps`: table → rows, any order), after
    /// binding the server values no answer carried (a delete's timestamp) from them.
    pub fn reconcile(&mut self, dumps: &BTreeMap<String, Vec<Row>>) -> Result<(), String> {
        let max_int = self.max_int_ids();
        let mut binder = adopt::Binder {
            last_now: self.last_now.as_deref(),
            max_int: &max_int,
            bound: BTreeMap::new(),
            problems: Vec::new(),
        };
        for (table, rows) in &self.state.rows {
            let stored = dumps.get(table).map_or(&[][..], Vec::as_slice);
            // Rows no answer carried (inserted by a trigger, or by an action that answers
            // something else) still hold a sentinel id: they are the stored rows the model does
            // not know yet, paired in creation order (ids grow: UUIDv7 within one process, and
            // autoincrement).
            let known: Vec<&Value> = rows
                .iter()
                .filter_map(|r| r.get(system::ID))
                .filter(|id| !adopt::is_sentinel(id))
                .collect();
            let mut fresh: Vec<&Row> = stored
                .iter()
                .filter(|s| s.get(system::ID).is_some_and(|id| !known.contains(&id)))
                .collect();
            fresh.sort_by(|a, b| id_order(a.get(system::ID), b.get(system::ID)));
            let mut fresh = fresh.into_iter();
            for row in rows.iter().filter(|r| r.values().any(adopt::is_sentinel)) {
                let by_id = stored
                    .iter()
                    .find(|s| s.get(system::ID) == row.get(system::ID));
                let unknown_id = row.get(system::ID).is_some_and(adopt::is_sentinel);
                let paired = match by_id {
                    Some(s) => Some(s),
                    None if unknown_id => fresh.next(),
                    None => None,
                };
                if let Some(s) = paired {
                    binder.bind(&Value::Object(row.clone()), &Value::Object(s.clone()));
                }
            }
        }
        binder.finish(self.seq);
        if let Some(p) = binder.problems.first() {
            return Err(p.clone());
        }
        let bound = binder.bound;
        let state = self.state.clone();
        self.commit(state, &bound);
        for t in &self.ir.tables {
            compare_table(
                t,
                self.rows(&t.name),
                dumps.get(&t.name).map_or(&[], Vec::as_slice),
            )?;
        }
        Ok(())
    }
}

/// Ids in creation order: numbers by value, texts (UUIDv7) as text.
fn id_order(a: Option<&Value>, b: Option<&Value>) -> std::cmp::Ordering {
    match (a.and_then(Value::as_i64), b.and_then(Value::as_i64)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => a.map(Value::to_string).cmp(&b.map(Value::to_string)),
    }
}

fn compare_table(table: &Table, model: &[Row], stored: &[Row]) -> Result<(), String> {
    let key = |r: &Row| r.get(system::ID).map(Value::to_string).unwrap_or_default();
    let want: BTreeMap<String, &Row> = model.iter().map(|r| (key(r), r)).collect();
    let got: BTreeMap<String, &Row> = stored.iter().map(|r| (key(r), r)).collect();
    let want_ids: BTreeSet<&String> = want.keys().collect();
    let got_ids: BTreeSet<&String> = got.keys().collect();
    if want_ids != got_ids {
        return Err(format!(
            "table {}: the model holds rows {:?}, the database {:?}",
            table.name, want_ids, got_ids
        ));
    }
    for (id, row) in &want {
        if let Some(stored) = got.get(id) {
            matches(
                &Value::Object((*row).clone()),
                &Value::Object((*stored).clone()),
            )
            .map_err(|e| format!("table {} row {id}: stored row differs: {e}", table.name))?;
        }
    }
    Ok(())
}

/// The id of a path segment, as an id of the table: a UUID (normalised), an integer, or any
/// non-empty text. A malformed id is simply not found (docs/decisions.md).
pub(crate) fn parse_id(kind: IdKind, raw: &str) -> Option<Value> {
    match kind {
        IdKind::Uuid => validation::uuid(raw).map(Value::String),
        IdKind::Integer => raw.parse::<i64>().ok().map(Value::from),
        IdKind::Text => (!raw.is_empty()).then(|| Value::String(raw.to_owned())),
    }
}
