//! Runs a [`Scenario`] against a fresh [`Target`] and a fresh [`Model`]: resolves symbolic ids
//! against the rows created so far (the same for both), sends each request, and compares the
//! answer with the model's prediction, the stored rows with the model's state, and the exchange
//! with the standalone invariants of SPEC §9.1.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use ward_ir::{IdKind, Ir};

use crate::files;
use crate::invariants::{self, Exchange as Seen};
use crate::model::{Model, Row};
use crate::request::{ApiRequest, encode};
use crate::scenario::{
    BatchPrecondition, Body, CallerSpec, FIXTURES, IdRef, Route, Scenario, Step, ValueSpec,
};
use crate::target::{Database, Subscribed, Subscription, Target};
use crate::transcript::{self, Transcript};

/// What a run counted, for the summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub requests: u64,
    /// table → operation → requests.
    pub per_table_op: BTreeMap<String, BTreeMap<String, u64>>,
    /// invariant → exchanges it was checked on.
    pub invariants: BTreeMap<String, u64>,
}

impl Counts {
    pub fn add(&mut self, other: &Counts) {
        self.requests += other.requests;
        for (t, ops) in &other.per_table_op {
            let mine = self.per_table_op.entry(t.clone()).or_default();
            for (op, n) in ops {
                *mine.entry(op.clone()).or_default() += n;
            }
        }
        for (i, n) in &other.invariants {
            *self.invariants.entry(i.clone()).or_default() += n;
        }
    }
}

/// A failed run: what went wrong, and the transcript up to it.
#[derive(Debug, Clone)]
pub struct RunFailure {
    pub message: String,
    pub transcript: String,
}

/// Runs one scenario on a fresh database; the transcript of a passing run is returned too.
pub async fn run(
    ir: &Ir,
    scenario: &Scenario,
    counts: &mut Counts,
    database: &Database,
) -> Result<String, RunFailure> {
    let mut run = Run {
        ir,
        scenario,
        target: Target::open(ir, database).await.map_err(|e| RunFailure {
            message: format!("cannot serve the project: {e}"),
            transcript: String::new(),
        })?,
        model: Model::new(ir),
        transcript: Transcript::default(),
        fresh: 0,
        live: Vec::new(),
    };
    for (i, c) in scenario.callers.iter().enumerate() {
        run.transcript
            .line(format!("# caller {i}: {}", transcript::caller(c)));
    }
    let outcome = run.all(counts).await;
    let transcript = run.transcript.into_text();
    let closed = run.target.close().await;
    match (outcome, closed) {
        (Ok(()), Ok(())) => Ok(transcript),
        (Err(message), _) | (Ok(()), Err(message)) => Err(RunFailure {
            message,
            transcript,
        }),
    }
}

struct Run<'a> {
    ir: &'a Ir,
    scenario: &'a Scenario,
    target: Target,
    model: Model,
    transcript: Transcript,
    fresh: u64,
    /// Realtime subscriptions open since the run began: one per realtime table and caller the
    /// stream opened for.
    live: Vec<Live>,
}

struct Live {
    table: String,
    caller: usize,
    /// The list filter the stream was opened with, if any.
    filter: Option<(String, String)>,
    stream: Subscription,
}

/// A list filter on `table`'s first declared column that some rows pass and some do not.
fn stream_filter(table: &ward_ir::Table) -> Option<(String, String)> {
    use ward_ir::ColumnType::{Boolean, Float, Integer, Text};
    let c = table.columns.iter().find(|c| !c.system)?;
    let (op, value) = match c.ty {
        Text => ("like", "a"),
        Boolean => ("eq", "true"),
        Integer | Float => ("gte", "0"),
        _ => ("is", "not-null"),
    };
    Some((format!("{}.{op}", c.name), value.to_owned()))
}

/// How long a stream may take to deliver its next event.
const EVENT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl Run<'_> {
    async fn all(&mut self, counts: &mut Counts) -> Result<(), String> {
        self.subscribe_all().await?;
        for (i, seed) in self.scenario.seeds.iter().enumerate() {
            let user = match self.scenario.callers.get(seed.owner) {
                Some(CallerSpec::User(u)) => u.clone(),
                _ => {
                    return Err(format!(
                        "seed {i}: its owner is not a user with a valid token"
                    ));
                }
            };
            // The server takes uploads sealed; the model sees what a client would: the metadata.
            let mut values = Map::new();
            let mut sent = Map::new();
            for (k, v) in &seed.values {
                match v {
                    ValueSpec::Upload(f) => {
                        let (name, bytes, _) = FIXTURES[f % FIXTURES.len()];
                        let sealed = self
                            .target
                            .app()
                            .store_upload(&seed.table, k, name, bytes.to_vec())
                            .await
                            .map_err(|e| format!("seed {i}: uploading {name}: {e}"))?;
                        values.insert(k.clone(), files::public(&sealed));
                        sent.insert(k.clone(), sealed);
                    }
                    other => {
                        let v = self.value(&seed.table, k, other);
                        values.insert(k.clone(), v.clone());
                        sent.insert(k.clone(), v);
                    }
                }
            }
            let observed = self
                .target
                .seed(&seed.table, Some(&user), sent)
                .await
                .map(|row| files::public_row(self.ir, &seed.table, row));
            if observed.is_err() {
                // What the refused seed uploaded belongs to no row: the sweeper's, now.
                self.target
                    .app()
                    .sweep_files(std::time::Duration::ZERO)
                    .await
                    .map_err(|e| format!("seed {i}: sweeping its upload: {}", e.body()))?;
            }
            self.transcript.line(format!(
                "# seed {} as {}: {} → {}",
                seed.table,
                user.name,
                Value::Object(values.clone()),
                match &observed {
                    Ok(row) => row.to_string(),
                    Err(e) => format!("refused: {e}"),
                }
            ));
            self.model
                .seed(&seed.table, Some(&user), &values, &observed)
                .map_err(|e| format!("seed {i}: {e}"))?;
            let dump = self.dump().await?;
            self.model
                .reconcile(&dump)
                .map_err(|e| format!("after seed {i}: {e}"))?;
            self.check_store(counts)
                .await
                .map_err(|e| format!("after seed {i}: invariant violated: {e}"))?;
        }
        self.downloads_everywhere(counts)
            .await
            .map_err(|e| format!("after the seeds: invariant violated: {e}"))?;
        for (i, step) in self.scenario.steps.iter().enumerate() {
            self.step(step, counts)
                .await
                .map_err(|e| format!("step {i} ({} {}): {e}", step.method, step.table))?;
        }
        self.downloads_everywhere(counts)
            .await
            .map_err(|e| format!("after the steps: invariant violated: {e}"))?;
        self.check_streams(counts)
            .await
            .map_err(|e| format!("invariant violated: {}: {e}", invariants::REALTIME))
    }

    /// Subscribes every caller to every realtime table before anything is written; whether
    /// each stream opens (or how it is refused) is the model's prediction.
    async fn subscribe_all(&mut self) -> Result<(), String> {
        let tables: Vec<(String, Option<(String, String)>)> = self
            .ir
            .tables
            .iter()
            .filter(|t| t.realtime)
            .flat_map(|t| {
                let filtered = stream_filter(t).map(|f| (t.name.clone(), Some(f)));
                std::iter::once((t.name.clone(), None)).chain(filtered)
            })
            .collect();
        for (table, filter) in tables {
            for (i, caller) in self.scenario.callers.iter().enumerate() {
                let token = self.token(caller);
                let mut path = format!("/api/{}/subscribe", encode(&table));
                if let Some((k, v)) = &filter {
                    path.push_str(&format!("?{}={}", encode(k), encode(v)));
                }
                let opened = self.target.subscribe(&path, token.as_deref()).await;
                let as_pair = filter.as_ref().map(|(k, v)| (k.as_str(), v.as_str()));
                let predicted = self.model.subscription(&table, caller, as_pair);
                match (opened, predicted) {
                    (Subscribed::Open(stream), Ok(())) => {
                        self.transcript.line(format!("# caller {i} follows {path}"));
                        self.live.push(Live {
                            table: table.clone(),
                            caller: i,
                            filter: filter.clone(),
                            stream,
                        });
                    }
                    (Subscribed::Refused(answer), Err(f)) => {
                        let expected = crate::model::Prediction {
                            status: Some(f.status),
                            body: Some(f.expected()),
                        };
                        expected.check(&answer).map_err(|e| {
                            format!(
                                "invariant violated: {}: caller {i} subscribing to {table}: {e}",
                                invariants::REALTIME
                            )
                        })?;
                    }
                    (Subscribed::Open(_), Err(f)) => {
                        return Err(format!(
                            "invariant violated: {}: caller {i} may not follow {table} ({} {}), yet the stream opened",
                            invariants::REALTIME,
                            f.status,
                            f.code
                        ));
                    }
                    (Subscribed::Refused(answer), Ok(())) => {
                        return Err(format!(
                            "invariant violated: {}: caller {i} may follow {table}, yet got {} {}",
                            invariants::REALTIME,
                            answer.status,
                            answer.text
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Once the scenario is done: realtime is turned off (a reload), so each stream receives
    /// what was logged, then `gone`, and ends; each must have received exactly the events the
    /// model predicts from the log for that caller, in order.
    async fn check_streams(&mut self, counts: &mut Counts) -> Result<(), String> {
        if self.live.is_empty() {
            return Ok(());
        }
        let tables: Vec<String> = self.live.iter().map(|l| l.table.clone()).collect();
        for table in &tables {
            self.observe_log(table).await?;
        }
        self.target.end_streams().await?;
        for live in &mut self.live {
            let caller = &self.scenario.callers[live.caller];
            let filter = live.filter.as_ref().map(|(k, v)| (k.as_str(), v.as_str()));
            let expected = self.model.stream(&live.table, caller, filter);
            let mut got = Vec::new();
            let ended = loop {
                match live.stream.next(EVENT_WAIT).await {
                    Ok(Some((event, _))) if event == "gone" => break Ok(()),
                    Ok(Some((event, data))) => {
                        got.push(serde_json::json!({ "event": event, "data": data }));
                    }
                    Ok(None) => break Err("the stream ended without `gone`".to_owned()),
                    Err(e) => break Err(e),
                }
            };
            let mismatch =
                crate::model::matches(&Value::Array(expected.clone()), &Value::Array(got.clone()))
                    .err();
            if ended.is_err() || mismatch.is_some() {
                return Err(format!(
                    "caller {} following {} {:?}: {}\n  predicted: {}\n  received:  {}",
                    live.caller,
                    live.table,
                    live.filter,
                    ended.err().or(mismatch).unwrap_or_default(),
                    Value::Array(expected),
                    Value::Array(got)
                ));
            }
            self.transcript.line(format!(
                "# caller {} received {} event(s) of {}, as predicted",
                live.caller,
                got.len(),
                live.table
            ));
            *counts
                .invariants
                .entry(invariants::REALTIME.to_owned())
                .or_default() += 1;
        }
        Ok(())
    }

    async fn step(&mut self, step: &Step, counts: &mut Counts) -> Result<(), String> {
        let req = self.resolve(step)?;
        let token = self.token(&req.caller);
        let before = self.dump().await?;
        let observed = self
            .target
            .call_with(
                &req.method,
                &req.uri(),
                token.as_deref(),
                req.body.clone(),
                req.precondition,
            )
            .await;
        self.transcript.exchange(&req, &observed);
        counts.requests += 1;
        *counts
            .per_table_op
            .entry(step.table.clone())
            .or_default()
            .entry(operation(step))
            .or_default() += 1;
        if let Route::History(_) = step.route {
            self.observe_log(&step.table).await?;
        }
        let prediction = self.model.apply(&req, &observed);
        prediction
            .check(&observed)
            .map_err(|e| format!("the answer differs from the model: {e}"))?;
        let after = self.dump().await?;
        self.model
            .reconcile(&after)
            .map_err(|e| format!("the stored rows differ from the model: {e}"))?;
        self.check_store(counts)
            .await
            .map_err(|e| format!("invariant violated: {e}"))?;
        let seen = Seen {
            ir: self.ir,
            table: &step.table,
            step,
            req: &req,
            observed: &observed,
            before: &before,
            after: &after,
        };
        let checked = invariants::check(&seen, &self.target, token.as_deref(), &mut self.fresh)
            .await
            .map_err(|e| format!("invariant violated: {e}"))?;
        for name in checked {
            *counts.invariants.entry(name.to_owned()).or_default() += 1;
        }
        // Every step: the change log of each table with `history` still chains to the rows.
        let logged: Vec<String> = self
            .ir
            .tables
            .iter()
            .filter(|t| t.logs_changes())
            .map(|t| t.name.clone())
            .collect();
        for table in &logged {
            self.observe_log(table)
                .await
                .map_err(|e| format!("invariant violated: {}: {e}", invariants::HISTORY))?;
        }
        if !logged.is_empty() {
            *counts
                .invariants
                .entry(invariants::HISTORY.to_owned())
                .or_default() += 1;
        }
        Ok(())
    }

    /// Reads `table`'s change log from the server and hands it to the model, which checks it
    /// against its rows.
    async fn observe_log(&mut self, table: &str) -> Result<(), String> {
        let log = self
            .target
            .app()
            .change_log(table)
            .await
            .map_err(|e| format!("cannot read the change log of {table}: {e}"))?;
        self.model.observe_log(table, log)
    }

    fn token(&self, caller: &CallerSpec) -> Option<String> {
        match caller {
            CallerSpec::Anonymous => None,
            CallerSpec::User(u) => Some(self.target.token(u)),
            CallerSpec::Broken(u, kind) => Some(self.target.token_of_kind(u, *kind)),
        }
    }

    /// Every row of every table as stored, file columns as a client sees them (no store key).
    async fn dump(&self) -> Result<BTreeMap<String, Vec<Row>>, String> {
        Ok(files::public_dump(self.ir, self.raw_dump().await?))
    }

    async fn raw_dump(&self) -> Result<BTreeMap<String, Vec<Row>>, String> {
        let mut out = BTreeMap::new();
        for t in &self.ir.tables {
            let rows = self
                .target
                .app()
                .dump_rows(&t.name)
                .await
                .map_err(|e| format!("cannot read table {}: {e}", t.name))?;
            out.insert(t.name.clone(), rows);
        }
        Ok(out)
    }

    /// Invariant 11 for every caller and every stored row of a table with file columns (live,
    /// soft-deleted, another tenant's): the row read, then each file downloaded as it allows.
    async fn downloads_everywhere(&mut self, counts: &mut Counts) -> Result<(), String> {
        let raw = self.raw_dump().await?;
        for table in self
            .ir
            .tables
            .iter()
            .filter(|t| t.file_columns().next().is_some())
        {
            let ids: Vec<Value> = raw
                .get(&table.name)
                .into_iter()
                .flatten()
                .filter_map(|r| r.get(ward_ir::system::ID).cloned())
                .collect();
            for id in ids {
                let id_text = match &id {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let path = format!("/api/{}/{}", encode(&table.name), encode(&id_text));
                for caller in &self.scenario.callers {
                    let token = self.token(caller);
                    let read = self.target.call("GET", &path, token.as_deref(), None).await;
                    invariants::download_matches_read(
                        table,
                        &path,
                        &read,
                        &self.target,
                        token.as_deref(),
                    )
                    .await
                    .map_err(|e| format!("as {}: {e}", crate::transcript::caller(caller)))?;
                    *counts
                        .invariants
                        .entry(invariants::FILE_DOWNLOAD.to_owned())
                        .or_default() += 1;
                }
            }
        }
        Ok(())
    }

    /// Invariant 12: once the collector has run, the file store holds exactly the objects the
    /// rows name — none a write released, none a row still needs gone.
    async fn check_store(&mut self, counts: &mut Counts) -> Result<(), String> {
        if !self
            .ir
            .tables
            .iter()
            .any(|t| t.file_columns().next().is_some())
        {
            return Ok(());
        }
        let app = self.target.app();
        app.collect_files()
            .await
            .map_err(|e| format!("collecting released files: {}", e.body()))?;
        let stored = app
            .stored_files()
            .await
            .map_err(|e| format!("listing the file store: {}", e.body()))?;
        let named = files::named_keys(self.ir, &self.raw_dump().await?);
        files::store_matches(&stored, &named)
            .map_err(|e| format!("{}: {e}", invariants::FILE_STORE))?;
        *counts
            .invariants
            .entry(invariants::FILE_STORE.to_owned())
            .or_default() += 1;
        Ok(())
    }

    fn resolve(&mut self, step: &Step) -> Result<ApiRequest, String> {
        let caller = self
            .scenario
            .callers
            .get(step.caller)
            .cloned()
            .ok_or_else(|| format!("no caller {}", step.caller))?;
        let t = encode(&step.table);
        let path = match &step.route {
            Route::Collection => format!("/api/{t}"),
            Route::Batch => format!("/api/{t}/batch"),
            Route::View(v) => format!("/api/{t}/views/{}", encode(v)),
            Route::Row(id) => format!("/api/{t}/{}", encode(&self.id_text(&step.table, id))),
            Route::Restore(id) => {
                format!(
                    "/api/{t}/{}/restore",
                    encode(&self.id_text(&step.table, id))
                )
            }
            Route::History(id) => {
                format!(
                    "/api/{t}/{}/history",
                    encode(&self.id_text(&step.table, id))
                )
            }
            Route::Action(id, a) => format!(
                "/api/{t}/{}/{}",
                encode(&self.id_text(&step.table, id)),
                encode(a)
            ),
            Route::Standalone(a) => format!("/api/actions/{}", encode(a)),
        };
        let query = step
            .query
            .iter()
            .map(|(k, v)| {
                let field = k.split('.').next().unwrap_or(k);
                let v = match self.value(&step.table, field, v) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect();
        let body = step.body.as_ref().map(|b| match b {
            Body::Object(fields) => Value::Object(self.object(&step.table, fields)).to_string(),
            Body::Records {
                records,
                atomic,
                if_match,
            } => {
                let records: Vec<Value> = records
                    .iter()
                    .map(|r| Value::Object(self.object(&step.table, r)))
                    .collect();
                let ids: Vec<Value> = records
                    .iter()
                    .map(|r| r.get("id").cloned().unwrap_or(Value::Null))
                    .collect();
                let if_match = self.if_match(&step.table, &ids, if_match);
                batch_body("records", records, *atomic, if_match)
            }
            Body::Ids {
                ids,
                atomic,
                if_match,
            } => {
                let ids: Vec<Value> = ids.iter().map(|i| self.id(&step.table, i)).collect();
                let if_match = self.if_match(&step.table, &ids, if_match);
                batch_body("ids", ids, *atomic, if_match)
            }
            Body::Raw(text) => text.clone(),
        });
        Ok(ApiRequest {
            caller,
            method: step.method.clone(),
            path,
            query,
            body,
            precondition: step.precondition,
        })
    }

    fn object(&mut self, table: &str, fields: &[(String, ValueSpec)]) -> Map<String, Value> {
        fields
            .iter()
            .map(|(k, v)| (k.clone(), self.value(table, k, v)))
            .collect()
    }

    /// A value in a body or query of `table`, under key `field`: an id is of the table the field
    /// references (or of `table` itself for `id`).
    fn value(&mut self, table: &str, field: &str, v: &ValueSpec) -> Value {
        match v {
            ValueSpec::Json(j) => j.clone(),
            // Uploads are seeds' alone, resolved where they are sent.
            ValueSpec::Upload(_) => Value::Null,
            ValueSpec::Id(id) => {
                let target = self
                    .ir
                    .table(table)
                    .and_then(|t| t.column(field))
                    .and_then(|c| c.references.as_ref())
                    .map_or(table.to_owned(), |r| r.table.clone());
                self.id(&target, id)
            }
        }
    }

    /// An id of `table` as JSON: a string, or a number for `id integer`.
    fn id(&mut self, table: &str, id: &IdRef) -> Value {
        match id {
            IdRef::Literal(s) => Value::String(s.clone()),
            IdRef::Created { table: of, n } if !self.model.created(of).is_empty() => {
                let ids = self.model.created(of);
                ids[n % ids.len()].clone()
            }
            IdRef::Created { table: of, .. } => self.fresh_id(of),
            IdRef::Fresh => self.fresh_id(table),
        }
    }

    /// A batch's `options.ifMatch`: each entry keyed by the id its record carries as sent (a
    /// record without one is left out), or by a fresh id.
    fn if_match(
        &mut self,
        table: &str,
        ids: &[Value],
        entries: &[BatchPrecondition],
    ) -> Map<String, Value> {
        let mut out = Map::new();
        for e in entries {
            let id = match e.record {
                Some(i) => ids.get(i).cloned().unwrap_or(Value::Null),
                None => self.fresh_id(table),
            };
            let key = match id {
                Value::Null => continue,
                Value::String(s) => s,
                other => other.to_string(),
            };
            out.insert(key, Value::from(e.tag.header().1));
        }
        out
    }

    fn fresh_id(&mut self, table: &str) -> Value {
        self.fresh += 1;
        match self.ir.table(table).map_or(IdKind::Uuid, |t| t.id) {
            IdKind::Uuid => Value::String(uuid::Uuid::now_v7().hyphenated().to_string()),
            // Far above anything autoincrement reaches in a test.
            IdKind::Integer => Value::from(1_000_000_000 + self.fresh),
            IdKind::Text => Value::String(format!("fresh-{}", self.fresh)),
        }
    }

    fn id_text(&mut self, table: &str, id: &IdRef) -> String {
        match self.id(table, id) {
            Value::String(s) => s,
            other => other.to_string(),
        }
    }
}

fn batch_body(
    key: &str,
    list: Vec<Value>,
    atomic: Option<bool>,
    if_match: Map<String, Value>,
) -> String {
    let mut m = Map::new();
    m.insert(key.into(), Value::Array(list));
    let mut options = Map::new();
    if let Some(a) = atomic {
        options.insert("atomic".into(), Value::Bool(a));
    }
    if !if_match.is_empty() {
        options.insert("ifMatch".into(), Value::Object(if_match));
    }
    if !options.is_empty() {
        m.insert("options".into(), Value::Object(options));
    }
    Value::Object(m).to_string()
}

/// The operation a step exercises, for the summary.
pub fn operation(step: &Step) -> String {
    let deleted = step
        .query
        .iter()
        .any(|(k, v)| k == "deleted" && *v == ValueSpec::Json(Value::from("only")));
    match (&step.route, step.method.as_str()) {
        (Route::Collection, "GET") if deleted => "list-deleted",
        (Route::Collection, "GET") => "list",
        (Route::Collection, _) => "create",
        (Route::Row(_), "GET") => "read",
        (Route::Row(_), "PATCH") => "update",
        (Route::Row(_), "PUT") => "upsert",
        (Route::Row(_), _) => "delete",
        (Route::Restore(_), _) => "restore",
        (Route::History(_), _) => "history",
        (Route::View(_), _) => "view",
        (Route::Action(_, a), _) | (Route::Standalone(a), _) => return format!("action {a}"),
        (Route::Batch, "POST") => "batch-create",
        (Route::Batch, "PATCH") => "batch-update",
        (Route::Batch, "PUT") => "batch-upsert",
        (Route::Batch, _) => "batch-delete",
    }
    .to_owned()
}
