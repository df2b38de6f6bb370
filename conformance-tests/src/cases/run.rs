//! Running declarative cases: each case gets a fresh database, its users get tokens signed with
//! the served project's secret, seeds go in as their owners, and every request's answer is checked
//! against its expectations. A failure carries the transcript of the case so far.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::{Body, Case, Expect, Request, Step, TokenKind};
use crate::target::{Exchange, Target};

/// The outcome of one case.
#[derive(Debug, Clone)]
pub struct CaseOutcome {
    pub name: String,
    pub line: usize,
    pub failure: Option<String>,
    /// Every exchange of the case, for the failure report.
    pub transcript: String,
}

impl CaseOutcome {
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// Runs one case on `target` (which must be freshly opened for it).
pub async fn run_case(case: &Case, target: &Target) -> CaseOutcome {
    let mut state = CaseState {
        created: BTreeMap::new(),
        transcript: String::new(),
    };
    let failure = run_steps(case, target, &mut state).await.err();
    CaseOutcome {
        name: case.name.clone(),
        line: case.line,
        failure,
        transcript: state.transcript,
    }
}

struct CaseState {
    /// Rows made in this case, by seed or by a successful create, per table in order.
    created: BTreeMap<String, Vec<Value>>,
    transcript: String,
}

async fn run_steps(case: &Case, target: &Target, state: &mut CaseState) -> Result<(), String> {
    for step in &case.steps {
        match step {
            Step::Seed {
                table,
                user,
                values,
                line,
            } => {
                let owner = user.as_ref().and_then(|u| case.users.get(u));
                let values = state.resolve_map(values)?;
                let row = target
                    .seed(table, owner, values)
                    .await
                    .map_err(|e| format!("line {line}: seed {table} failed: {e}"))?;
                let _ = writeln!(
                    state.transcript,
                    "# seed {table} as {}: {row}",
                    user.as_deref().unwrap_or("nobody")
                );
                state.created.entry(table.clone()).or_default().push(row);
            }
            Step::Request(request) => run_request(case, target, request, state).await?,
        }
    }
    Ok(())
}

async fn run_request(
    case: &Case,
    target: &Target,
    request: &Request,
    state: &mut CaseState,
) -> Result<(), String> {
    let path = state.resolve(&request.path)?;
    let body = match &request.body {
        None => None,
        Some(Body::Raw(text)) => Some(state.resolve(text)?),
        Some(Body::Fields(fields)) => Some(Value::Object(state.resolve_map(fields)?).to_string()),
    };
    let user = request.user.as_ref().and_then(|u| case.users.get(u));
    let token = user.map(|u| target.token_of_kind(u, request.token));
    let exchange = target
        .call(&request.method, &path, token.as_deref(), body)
        .await;
    let _ = writeln!(
        state.transcript,
        "> {} {path}{}{}\n< {} {}",
        request.method,
        request
            .user
            .as_ref()
            .map(|u| format!(" as {u}"))
            .unwrap_or_default(),
        match request.token {
            TokenKind::Valid => String::new(),
            other => format!(" (token: {other:?})"),
        },
        exchange.status,
        exchange.text
    );
    if exchange.status == 201
        && request.method == "POST"
        && let Some(table) = created_table(&path)
        && let Some(row) = exchange.json.get("data")
    {
        state.created.entry(table).or_default().push(row.clone());
    }
    for expect in &request.expects {
        check(expect, &exchange, state)
            .map_err(|e| format!("line {}: {} {path}: {e}", request.line, request.method))?;
    }
    Ok(())
}

/// `/api/T` (a create) → `T`.
fn created_table(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/api/")?;
    let table = rest.split(['?', '/']).next()?;
    (!table.is_empty() && !rest.contains('/')).then(|| table.to_owned())
}

fn check(expect: &Expect, exchange: &Exchange, state: &CaseState) -> Result<(), String> {
    match expect {
        Expect::Status(want) => (exchange.status == *want)
            .then_some(())
            .ok_or_else(|| format!("expected status {want}, got {}", exchange.status)),
        Expect::Code(want) => {
            let got = exchange.json.get("code").and_then(Value::as_str);
            (got == Some(want.as_str()))
                .then_some(())
                .ok_or_else(|| format!("expected code {want}, got {}", got.unwrap_or("none")))
        }
        Expect::Count(want) => {
            let got = exchange
                .json
                .get("data")
                .and_then(Value::as_array)
                .map(Vec::len);
            (got == Some(*want)).then_some(()).ok_or_else(|| match got {
                Some(n) => format!("expected {want} rows in `data`, got {n}"),
                None => "expected a `data` array".to_owned(),
            })
        }
        Expect::Equals { path, value } => {
            let want = match value {
                Value::String(s) => Value::String(state.resolve(s)?),
                other => other.clone(),
            };
            let got = JsonPath::parse(path).and_then(|p| p.get(&exchange.json));
            match got {
                Some(got) if same(got, &want) => Ok(()),
                Some(got) => Err(format!("expected `{path}` = {want}, got {got}")),
                None => Err(format!("expected `{path}` = {want}, but it is absent")),
            }
        }
        Expect::Absent { path } => {
            match JsonPath::parse(path).and_then(|p| p.get(&exchange.json)) {
                None => Ok(()),
                Some(got) => Err(format!("expected `{path}` to be absent, got {got}")),
            }
        }
    }
}

/// Equality where `4` and `4.0` agree, as they do in JSON.
fn same(got: &Value, want: &Value) -> bool {
    match (got.as_f64(), want.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => got == want,
    }
}

impl CaseState {
    /// Replaces every `{TABLE.N.FIELD}` with the FIELD of the N-th row made in TABLE, counting
    /// from 0 like the `data[0]` paths of the same file (SPEC §9.3).
    fn resolve(&self, text: &str) -> Result<String, String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}').map(|c| open + c) else {
                break;
            };
            let inner = &rest[open + 1..close];
            match self.placeholder(inner) {
                Some(value) => {
                    out.push_str(&rest[..open]);
                    out.push_str(&value?);
                }
                None => out.push_str(&rest[..=close]),
            }
            rest = &rest[close + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// `None` when `inner` is not placeholder-shaped (so JSON braces pass through untouched).
    fn placeholder(&self, inner: &str) -> Option<Result<String, String>> {
        let mut parts = inner.split('.');
        let (table, n, field) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || table.is_empty() || table.contains(['"', ' ', ':']) {
            return None;
        }
        let n: usize = n.parse().ok()?;
        let rows = self.created.get(table).map_or(&[][..], Vec::as_slice);
        let Some(row) = rows.get(n) else {
            let made = match rows.len() {
                0 => format!("no row of `{table}` was made in this test before it"),
                1 => format!("only 1 row of `{table}` was made before it, `{{{table}.0.{field}}}`"),
                k => format!(
                    "only {k} rows of `{table}` were made before it, `{{{table}.0.{field}}}` to `{{{table}.{}.{field}}}`",
                    k - 1
                ),
            };
            return Some(Err(format!(
                "`{{{inner}}}`: {made}; rows count from 0, like `data[0]`"
            )));
        };
        Some(match row.get(field) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Null) | None => Err(format!(
                "`{{{inner}}}`: row {n} of `{table}` has no `{field}` value"
            )),
            Some(other) => Ok(other.to_string()),
        })
    }

    fn resolve_map(&self, fields: &Map<String, Value>) -> Result<Map<String, Value>, String> {
        fields
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => Value::String(self.resolve(s)?),
                    other => other.clone(),
                };
                Ok((k.clone(), v))
            })
            .collect()
    }
}

/// A path into a JSON document: `data[0].name`, `pagination.total`, `_expand.room.name`.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath(Vec<Segment>);

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
}

impl JsonPath {
    pub fn parse(path: &str) -> Option<JsonPath> {
        let mut segments = Vec::new();
        for part in path.split('.') {
            let (key, mut indexes) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if key.is_empty() {
                return None;
            }
            segments.push(Segment::Key(key.to_owned()));
            while !indexes.is_empty() {
                let close = indexes.find(']')?;
                let n = indexes.get(1..close)?.parse().ok()?;
                segments.push(Segment::Index(n));
                indexes = &indexes[close + 1..];
                if !indexes.is_empty() && !indexes.starts_with('[') {
                    return None;
                }
            }
        }
        (!segments.is_empty()).then_some(JsonPath(segments))
    }

    pub fn get<'v>(&self, mut value: &'v Value) -> Option<&'v Value> {
        for segment in &self.0 {
            value = match segment {
                Segment::Key(k) => value.as_object()?.get(k)?,
                Segment::Index(i) => value.as_array()?.get(*i)?,
            };
        }
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths() {
        let doc = json!({"data": [{"name": "A", "tags": [[1, 2]]}], "pagination": {"total": 3}});
        let get = |p: &str| JsonPath::parse(p).and_then(|p| p.get(&doc).cloned());
        assert_eq!(get("data[0].name"), Some(json!("A")));
        assert_eq!(get("data[0].tags[0][1]"), Some(json!(2)));
        assert_eq!(get("pagination.total"), Some(json!(3)));
        assert_eq!(get("data[1].name"), None);
        assert_eq!(get("data.name"), None);
        for bad in ["", "a[", "a[x]", "a..b", "a[0]b", "[0]"] {
            assert!(JsonPath::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn placeholders() {
        let mut state = CaseState {
            created: BTreeMap::new(),
            transcript: String::new(),
        };
        state.created.insert(
            "rooms".into(),
            vec![json!({"id": "r1", "capacity": 4}), json!({"id": "r2"})],
        );
        // From 0, like `data[0]`.
        assert_eq!(
            state.resolve("/api/rooms/{rooms.1.id}").unwrap(),
            "/api/rooms/r2"
        );
        assert_eq!(state.resolve("{rooms.0.capacity}").unwrap(), "4");
        assert_eq!(
            state.resolve(r#"{"a": {"b": 1}}"#).unwrap(),
            r#"{"a": {"b": 1}}"#
        );
        let out_of_range = state.resolve("{rooms.2.id}").unwrap_err();
        assert!(
            out_of_range.contains("only 2 rows of `rooms`")
                && out_of_range.contains("`{rooms.0.id}` to `{rooms.1.id}`")
                && out_of_range.contains("count from 0"),
            "{out_of_range}"
        );
        assert!(state.resolve("{rooms.1.capacity}").is_err());
        assert!(
            state
                .resolve("{pets.0.id}")
                .unwrap_err()
                .contains("no row of `pets`")
        );
    }

    #[test]
    fn created_tables() {
        assert_eq!(created_table("/api/rooms"), Some("rooms".into()));
        assert_eq!(created_table("/api/rooms?x=1"), Some("rooms".into()));
        assert_eq!(created_table("/api/rooms/batch"), None);
        assert_eq!(created_table("/api/actions/x"), None);
    }
}
