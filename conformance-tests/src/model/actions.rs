//! Actions (SPEC §2.10, docs/http-api.md "Actions", docs/decisions.md "Actions"):
//! `POST /api/T/{id}/A` and `POST|GET /api/actions/A`. The order of the answers: roles, scope
//! claims, the id, the row through the firewall (404), the action's conditions on it (409), the
//! body, the inputs (400), then the steps, all or nothing. Every statement of a step goes through
//! the firewall of the table it touches; `exists` and `query` also through its `read` rule.

use serde_json::{Map, Value, json};
use ward_ir::{
    Action, ActionMethod, Assignment, ColumnType, Condition, Exists, Literal, Operation, Partial,
    Returned, SortKey, Step, Table, Value as CondValue, system,
};

use super::access::{self, holds, judged, literal};
use super::delete;
use super::errors::Fail;
use super::firewall::{self, Scopes};
use super::guards::Write;
use super::list;
use super::route::BODY_LIMIT;
use super::validation;
use super::write::{self, find, stamp};
use super::{Cx, Row, State, masking, parse_id};

/// `POST /api/T/{id}/A`, after the route-level answers and the token.
pub fn record(
    cx: &mut Cx<'_>,
    st: &mut State,
    table: &Table,
    action: &Action,
    raw_id: &str,
    body: Option<&str>,
) -> Result<(u16, Value), Fail> {
    let residual = access::authorize_rule(action.access.as_ref(), &cx.who)?;
    let scopes = firewall::scopes(table, &cx.who)?;
    let id = parse_id(table.id, raw_id).ok_or_else(|| firewall::not_found(table))?;
    let current = write::load_visible(st, table, &scopes, &id)?;
    if !residual.admits(&current, &cx.who, &cx.clock) {
        return Err(Fail::not_allowed_for_state(None));
    }
    let inputs = inputs(cx, action, body_object(body)?)?;
    let own = Own {
        table: table.clone(),
        id,
    };
    run(cx, st, action, &inputs, Some(own))
}

/// `POST|GET /api/actions/A`, after the route-level answers and the token.
pub fn standalone(
    cx: &mut Cx<'_>,
    st: &mut State,
    action: &Action,
    query: &[(String, String)],
    body: Option<&str>,
) -> Result<(u16, Value), Fail> {
    access::authorize_rule(action.access.as_ref(), &cx.who)?;
    let given = match action.method {
        ActionMethod::Get => form(action, query)?,
        ActionMethod::Post => body_object(body)?,
    };
    let inputs = inputs(cx, action, given)?;
    run(cx, st, action, &inputs, None)
}

/// The steps on a copy of the state, kept only when every step succeeds.
fn run(
    cx: &mut Cx<'_>,
    st: &mut State,
    action: &Action,
    inputs: &Map<String, Value>,
    own: Option<Own>,
) -> Result<(u16, Value), Fail> {
    let mut work = st.clone();
    let mut p = Progress::default();
    let mut r = Run {
        cx,
        inputs,
        own,
        fixed: None,
        old: None,
    };
    r.steps(&mut work, &action.steps, &mut p)?;
    *st = work;
    Ok((
        200,
        json!({ "data": p.answer.unwrap_or_else(|| json!({"ok": true})) }),
    ))
}

/// A JSON object body; no body at all is no inputs.
fn body_object(body: Option<&str>) -> Result<Map<String, Value>, Fail> {
    match body {
        None | Some("") => Ok(Map::new()),
        Some(text) if text.len() > BODY_LIMIT => Err(Fail::payload_too_large()),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(Fail::invalid_json()),
        },
    }
}

/// A `GET` action's query string: each key once (a repeated one is refused, as list parameters
/// are), typed where it parses as the input's type (else left as text, for validation to
/// refuse), as HTML forms are read.
fn form(action: &Action, query: &[(String, String)]) -> Result<Map<String, Value>, Fail> {
    let mut out = Map::new();
    for (k, v) in query {
        if out.contains_key(k) {
            return Err(Fail::bad_query(k));
        }
        let text = || Value::String(v.clone());
        let typed = match action.inputs.iter().find(|i| i.name == *k).map(|i| i.ty) {
            Some(ColumnType::Text | ColumnType::Uuid | ColumnType::Datetime | ColumnType::Date)
            | None => text(),
            Some(_) if v.is_empty() => Value::Null,
            Some(ColumnType::Integer) => v.parse::<i64>().map_or_else(|_| text(), Value::from),
            Some(ColumnType::Float) => v
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or_else(text, Value::Number),
            Some(ColumnType::Boolean) => match v.as_str() {
                "true" | "1" | "on" => Value::Bool(true),
                "false" | "0" | "off" => Value::Bool(false),
                _ => text(),
            },
            Some(ColumnType::Json) => serde_json::from_str(v).unwrap_or_else(|_| text()),
            // Actions take no file inputs (the compiler refuses them).
            Some(ColumnType::File) => text(),
        };
        out.insert(k.clone(), typed);
    }
    Ok(out)
}

/// Inputs validated like the columns of a create body: unknown keys first, then each input.
fn inputs(
    cx: &Cx<'_>,
    action: &Action,
    body: Map<String, Value>,
) -> Result<Map<String, Value>, Fail> {
    let unknown: Vec<String> = body
        .keys()
        .filter(|k| !action.inputs.iter().any(|i| i.name == **k))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(Fail::unknown_fields(&unknown));
    }
    validation::validate_columns(&action.inputs, Write::Create, &body, &cx.now, &cx.today)
}

/// The record action's row.
struct Own {
    table: Table,
    id: Value,
}

#[derive(Default)]
struct Progress {
    /// The last inserted row: its table and id.
    inserted: Option<(String, Value)>,
    /// Each `query` run: name, table, ids in order.
    queries: Vec<(String, String, Vec<Value>)>,
    answer: Option<Value>,
}

struct Run<'r, 'c> {
    cx: &'r mut Cx<'c>,
    inputs: &'r Map<String, Value>,
    own: Option<Own>,
    /// A trigger's row, as the write left it when the trigger started.
    fixed: Option<Row>,
    /// A trigger's row before an update or delete.
    old: Option<Row>,
}

/// A trigger's steps on `st` (the caller keeps or drops the state as the write does).
pub(super) fn trigger(
    cx: &mut Cx<'_>,
    st: &mut State,
    steps: &[Step],
    record: &Row,
    old: Option<&Row>,
) -> Result<(), Fail> {
    let inputs = Map::new();
    let mut r = Run {
        cx,
        inputs: &inputs,
        own: None,
        fixed: Some(record.clone()),
        old: old.cloned(),
    };
    r.steps(st, steps, &mut Progress::default())
}

impl Run<'_, '_> {
    /// The action's row as it is now (record actions), or the trigger's row.
    fn record(&self, st: &State) -> Option<Row> {
        if let Some(row) = &self.fixed {
            return Some(row.clone());
        }
        let own = self.own.as_ref()?;
        find(st, &own.table.name, &own.id).cloned()
    }

    fn steps(&mut self, st: &mut State, steps: &[Step], p: &mut Progress) -> Result<(), Fail> {
        for step in steps {
            let record = self.record(st);
            match step {
                Step::Require {
                    when,
                    exists,
                    error,
                } => {
                    if when
                        .as_ref()
                        .is_some_and(|c| !self.holds(c, record.as_ref()))
                    {
                        return Err(Fail::action(error));
                    }
                    if exists.iter().any(|e| !self.exists(st, e, record.as_ref())) {
                        return Err(Fail::action(error));
                    }
                }
                Step::Transition { column, from, to } => {
                    let record = record.ok_or_else(Fail::transition_lost)?;
                    let current = record.get(column).cloned().unwrap_or(Value::Null);
                    let target = self.value(to, Some(&record));
                    let allowed: Vec<Value> = from.iter().map(literal).collect();
                    if !allowed.contains(&current) {
                        // The state as the caller may read it: error details are masked too.
                        let shown = match &self.own {
                            Some(own) => masking::mask(&own.table, &self.cx.who, &record, true)
                                .get(column)
                                .cloned()
                                .unwrap_or(Value::Null),
                            None => current,
                        };
                        return Err(Fail::not_allowed_for_state(Some(json!({
                            "field": column,
                            "current": shown,
                            "target": target,
                            "allowedFrom": allowed,
                        }))));
                    }
                    let mut set = Map::new();
                    set.insert(column.clone(), target);
                    self.update_own(st, &record, set, false)?;
                }
                Step::Update {
                    table: None,
                    set,
                    when,
                } => {
                    if when.as_ref().is_none_or(|c| self.holds(c, record.as_ref())) {
                        let record = record.ok_or_else(Fail::transition_lost)?;
                        let values = self.values(set, Some(&record));
                        self.update_own(st, &record, values, true)?;
                    }
                }
                Step::Update {
                    table: Some(table),
                    set,
                    when,
                } => self.update_where(st, table, set, when.as_ref(), record.as_ref())?,
                Step::Delete { table: None, when } => {
                    if when.as_ref().is_none_or(|c| self.holds(c, record.as_ref())) {
                        let own = self.own.as_ref().ok_or_else(no_row)?;
                        let (table, id) = (own.table.clone(), own.id.clone());
                        // Gone (hard-deleted) already: it changed under the action; deleted
                        // softly: the second delete finds nothing to do.
                        let record = record.ok_or_else(Fail::transition_lost)?;
                        if firewall::live(&record) {
                            remove(self.cx, st, &table, &id)?;
                        }
                    }
                }
                Step::Delete {
                    table: Some(table),
                    when,
                } => self.delete_where(st, table, when.as_ref(), record.as_ref())?,
                Step::Query {
                    name,
                    table,
                    when,
                    sort,
                    limit,
                } => {
                    let ids = self.query(st, table, when.as_ref(), sort, *limit, record.as_ref());
                    p.queries.retain(|(n, _, _)| n != name);
                    p.queries.push((name.clone(), table.clone(), ids));
                }
                Step::Insert { table, set } => {
                    let id = self.insert(st, table, set, record.as_ref())?;
                    p.inserted = Some((table.clone(), id));
                }
                Step::If {
                    when,
                    then,
                    otherwise,
                } => {
                    let branch = if self.holds(when, record.as_ref()) {
                        then
                    } else {
                        otherwise
                    };
                    self.steps(st, branch, p)?;
                }
                Step::Return { value } => p.answer = Some(self.answer(st, value, p)),
            }
        }
        Ok(())
    }

    /// A condition on the action's row: never true without one. Rows written in this request
    /// hold its timestamp as a sentinel, judged by the model's clock (as `check` is).
    fn holds(&self, c: &Condition, record: Option<&Row>) -> bool {
        record.is_some_and(|r| {
            let r = judged(r, &self.cx.clock);
            holds(&self.bind(c, Some(&r)), &r, &self.cx.who, &self.cx.clock)
        })
    }

    /// `(input)`, `(record)` and `(old)` values as literals (the rows judged by the clock).
    fn bind(&self, c: &Condition, record: Option<&Row>) -> Condition {
        let record = record.map(|r| judged(r, &self.cx.clock));
        let record = record.as_ref();
        let old = self.old.as_ref().map(|r| judged(r, &self.cx.clock));
        c.map_values(&|v| match v {
            CondValue::Old(c) => {
                let v = old.as_ref().and_then(|r| r.get(c)).unwrap_or(&Value::Null);
                to_literal(v).map(CondValue::Literal)
            }
            CondValue::Input(_) | CondValue::Record(_) => {
                to_literal(&self.value(v, record)).map(CondValue::Literal)
            }
            _ => None,
        })
    }

    fn value(&self, v: &CondValue, record: Option<&Row>) -> Value {
        match v {
            CondValue::Input(name) => self.inputs.get(name).cloned().unwrap_or(Value::Null),
            CondValue::Record(c) => record
                .and_then(|r| r.get(c))
                .cloned()
                .unwrap_or(Value::Null),
            CondValue::Old(c) => self
                .old
                .as_ref()
                .and_then(|r| r.get(c))
                .cloned()
                .unwrap_or(Value::Null),
            // The request's timestamp, as the server stamps it (adopted from the answer).
            CondValue::Now => Value::String(self.cx.now.clone()),
            other => access::resolve(other, &self.cx.who, &self.cx.clock).unwrap_or(Value::Null),
        }
    }

    fn values(&self, set: &[Assignment], record: Option<&Row>) -> Map<String, Value> {
        set.iter()
            .map(|a| (a.column.clone(), self.value(&a.value, record)))
            .collect()
    }

    /// `transition` and `update` of the action's row: validated like a PATCH body (references
    /// checked for `update`), stamped, unique checked.
    fn update_own(
        &mut self,
        st: &mut State,
        record: &Row,
        values: Map<String, Value>,
        references: bool,
    ) -> Result<(), Fail> {
        let own = self.own.as_ref().ok_or_else(no_row)?;
        let table = own.table.clone();
        let changes = self.changes(st, &table, values, references)?;
        // The UPDATE repeats the firewall: a row deleted by an earlier step is not found.
        if !firewall::live(record) {
            return Err(Fail::transition_lost());
        }
        let mut resulting = record.clone();
        resulting.extend(changes);
        write::unique(st, &table, &resulting)?;
        replace(st, &table.name, resulting);
        Ok(())
    }

    fn changes(
        &self,
        st: &State,
        table: &Table,
        values: Map<String, Value>,
        references: bool,
    ) -> Result<Row, Fail> {
        let mut changes = write::stored_values(
            table,
            validation::validate(table, Write::Update, &values, &self.cx.now, &self.cx.today)?,
        );
        if references {
            write::references(self.cx, st, table, &changes)?;
        }
        stamp(
            &mut changes,
            system::MODIFIED_AT,
            system::MODIFIED_BY,
            self.cx,
        );
        Ok(changes)
    }

    /// The rows of `table` behind the caller's firewall (and, for reads, its `read` rule) that
    /// satisfy `when`; `None` when the conditions cannot hold for any row.
    fn matching(
        &self,
        st: &State,
        table: &Table,
        scopes: &Scopes,
        residual: Option<&access::Residual>,
        when: Option<&Condition>,
        record: Option<&Row>,
    ) -> Option<Vec<Row>> {
        let bound = match when.map(|w| {
            self.bind(w, record)
                .partial(&|roles| self.cx.who.has_any(roles))
        }) {
            None | Some(Partial::True) => None,
            Some(Partial::False) => return None,
            Some(Partial::Rows(r)) => Some(r),
        };
        let rows = write::rows(st, &table.name);
        let now = &self.cx.clock;
        Some(
            rows.iter()
                .filter(|r| firewall::visible(r, scopes))
                .filter(|r| {
                    let judged = judged(r, now);
                    residual.is_none_or(|x| x.admits(&judged, &self.cx.who, now))
                        && bound
                            .as_ref()
                            .is_none_or(|c| holds(c, &judged, &self.cx.who, now))
                })
                .cloned()
                .collect(),
        )
    }

    /// TABLE of `update TABLE`/`delete TABLE`, the caller's scopes on it, and the rows the step
    /// reaches (`None`: no row can match); no access rule, as in the runtime.
    fn write_target(
        &self,
        st: &State,
        table: &str,
        when: Option<&Condition>,
        record: Option<&Row>,
    ) -> Result<(Table, Scopes, Option<Vec<Row>>), Fail> {
        let table = self.table(table)?;
        let scopes = firewall::scopes(&table, &self.cx.who)?;
        let rows = self.matching(st, &table, &scopes, None, when, record);
        Ok((table, scopes, rows))
    }

    fn update_where(
        &mut self,
        st: &mut State,
        table: &str,
        set: &[Assignment],
        when: Option<&Condition>,
        record: Option<&Row>,
    ) -> Result<(), Fail> {
        let (table, _, Some(rows)) = self.write_target(st, table, when, record)? else {
            return Ok(());
        };
        let changes = self.changes(st, &table, self.values(set, record), true)?;
        for row in rows {
            let mut resulting = row.clone();
            resulting.extend(changes.clone());
            write::unique(st, &table, &resulting)?;
            replace(st, &table.name, resulting);
        }
        Ok(())
    }

    fn delete_where(
        &mut self,
        st: &mut State,
        table: &str,
        when: Option<&Condition>,
        record: Option<&Row>,
    ) -> Result<(), Fail> {
        let (table, scopes, Some(rows)) = self.write_target(st, table, when, record)? else {
            return Ok(());
        };
        for row in rows {
            let id = row.get(system::ID).cloned().unwrap_or(Value::Null);
            // An earlier delete's cascade may have taken it already.
            if find(st, &table.name, &id).is_some_and(|r| firewall::visible(r, &scopes)) {
                remove(self.cx, st, &table, &id)?;
            }
        }
        Ok(())
    }

    fn query(
        &self,
        st: &State,
        table: &str,
        when: Option<&Condition>,
        sort: &[SortKey],
        limit: u32,
        record: Option<&Row>,
    ) -> Vec<Value> {
        let Ok(table) = self.table(table) else {
            return Vec::new();
        };
        let Ok(residual) = access::authorize(&table, Operation::Read, &self.cx.who) else {
            return Vec::new();
        };
        let Ok(scopes) = firewall::scopes(&table, &self.cx.who) else {
            return Vec::new();
        };
        let Some(mut rows) = self.matching(st, &table, &scopes, Some(&residual), when, record)
        else {
            return Vec::new();
        };
        let keys = list::declared_sort(&table, &self.cx.who, sort);
        rows.sort_by(|a, b| list::compare_rows(&keys, a, b));
        rows.into_iter()
            .take(limit as usize)
            .map(|r| r.get(system::ID).cloned().unwrap_or(Value::Null))
            .collect()
    }

    /// An insert through the target's firewall: scopes stamped (403 without the claims), values
    /// validated like a create body, audit stamped, references and unique checked.
    fn insert(
        &mut self,
        st: &mut State,
        table: &str,
        set: &[Assignment],
        record: Option<&Row>,
    ) -> Result<Value, Fail> {
        let table = self.table(table)?;
        let stamps = firewall::stamps(&table, &self.cx.who)?;
        let values = validation::validate(
            &table,
            Write::Create,
            &self.values(set, record),
            &self.cx.now,
            &self.cx.today,
        )?;
        let mut row = write::full_row(&table, values);
        for (col, v) in &stamps {
            row.insert(col.clone(), Value::String(v.clone()));
        }
        stamp(&mut row, system::CREATED_AT, system::CREATED_BY, self.cx);
        stamp(&mut row, system::MODIFIED_AT, system::MODIFIED_BY, self.cx);
        let id = self.cx.new_id(&table.name);
        row.insert(system::ID.into(), id.clone());
        write::references(self.cx, st, &table, &row)?;
        write::unique(st, &table, &row)?;
        st.rows.entry(table.name.clone()).or_default().push(row);
        st.created
            .entry(table.name.clone())
            .or_default()
            .push(id.clone());
        Ok(id)
    }

    /// Whether the caller can read a row of the target that satisfies the conditions.
    fn exists(&self, st: &State, e: &Exists, record: Option<&Row>) -> bool {
        let Ok(table) = self.table(&e.table) else {
            return false;
        };
        let Ok(residual) = access::authorize(&table, Operation::Read, &self.cx.who) else {
            return false;
        };
        let Ok(scopes) = firewall::scopes(&table, &self.cx.who) else {
            return false;
        };
        self.matching(
            st,
            &table,
            &scopes,
            Some(&residual),
            e.when.as_ref(),
            record,
        )
        .is_some_and(|rows| !rows.is_empty())
    }

    fn table(&self, name: &str) -> Result<Table, Fail> {
        self.cx.table(name).cloned().ok_or_else(Fail::not_found)
    }

    /// The answer: rows as a write answers them, or named values of the masked row.
    fn answer(&self, st: &State, value: &Returned, p: &Progress) -> Value {
        let render = |table: &str, id: &Value| match self.cx.table(table) {
            Some(t) => write::render(self.cx, st, t, id),
            None => Value::Null,
        };
        match value {
            // The row as the steps left it: none if they deleted it.
            Returned::Record => match &self.own {
                Some(own) if find(st, &own.table.name, &own.id).is_some_and(firewall::live) => {
                    render(&own.table.name, &own.id)
                }
                _ => Value::Null,
            },
            Returned::Inserted => match &p.inserted {
                Some((table, id)) => render(table, id),
                None => Value::Null,
            },
            Returned::Query(name) => match p.queries.iter().find(|(n, _, _)| n == name) {
                Some((_, table, ids)) => {
                    Value::Array(ids.iter().map(|id| render(table, id)).collect())
                }
                None => Value::Array(Vec::new()),
            },
            Returned::Object(fields) => {
                let masked = self.own.as_ref().and_then(|own| {
                    let row = find(st, &own.table.name, &own.id)?;
                    Some(masking::mask(&own.table, &self.cx.who, row, true))
                });
                let mut out = Map::new();
                for f in fields {
                    out.insert(f.column.clone(), self.value(&f.value, masked.as_ref()));
                }
                Value::Object(out)
            }
        }
    }
}

/// A row step without a row: the compiler rules it out, so this is never answered.
fn no_row() -> Fail {
    Fail::not_found()
}

/// One visible row deleted as `DELETE /api/T/{id}` would, without the table's `delete` rule.
fn remove(cx: &mut Cx<'_>, st: &mut State, table: &Table, id: &Value) -> Result<(), Fail> {
    delete::remove(cx, st, table, id)
}

fn replace(st: &mut State, table: &str, row: Row) {
    let id = row.get(system::ID).cloned();
    if let Some(slot) = st
        .rows
        .get_mut(table)
        .and_then(|rows| rows.iter_mut().find(|r| r.get(system::ID) == id.as_ref()))
    {
        *slot = row;
    }
}

fn to_literal(v: &Value) -> Option<Literal> {
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
