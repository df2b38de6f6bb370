//! Values only the server can know, and how predictions are compared with answers.
//!
//! The model writes a *sentinel* where the server decides a value: the request's timestamp, a
//! generated id, a `(time)now` date default. When the model predicts success, each sentinel is
//! bound to the value the server answered at the same place, after checking that the value is
//! well-formed (a UUIDv7, an integer larger than every earlier id, an RFC 3339 millisecond UTC
//! timestamp not earlier than the previous one). Nothing else is ever taken from the server.
//!
//! Predictions may also hold two markers: [`ANY`] (any value, or none) for texts the SPEC leaves
//! free (error messages), and [`ENVELOPE`] for error envelopes, compared by layer, code and, when
//! the model predicts them, details.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Matches any value, and also an absent key.
pub const ANY: &str = "\u{1}any";
/// Key marking an expected error envelope.
pub const ENVELOPE: &str = "\u{1}envelope";

const NOW: &str = "\u{1}now#";
const DATE: &str = "\u{1}date#";
const ID: &str = "\u{1}id#";

pub fn now_sentinel(seq: u64) -> String {
    format!("{NOW}{seq}")
}

pub fn date_sentinel(seq: u64) -> String {
    format!("{DATE}{seq}")
}

pub fn id_sentinel(seq: u64, table: &str, k: usize) -> String {
    format!("{ID}{seq}#{k}#{table}")
}

pub fn is_sentinel(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.starts_with('\u{1}') && s != ANY)
}

/// Whether `s` is a timestamp as ward writes them: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn is_timestamp(s: &str) -> bool {
    s.len() == 24
        && chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.3fZ")
            .is_ok_and(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string() == s)
}

/// Collects sentinel bindings from an observed value, checking each adopted value.
pub struct Binder<'a> {
    pub last_now: Option<&'a str>,
    /// Largest integer id ever seen per table.
    pub max_int: &'a BTreeMap<String, i64>,
    pub bound: BTreeMap<String, Value>,
    pub problems: Vec<String>,
}

impl Binder<'_> {
    pub fn bind(&mut self, expected: &Value, observed: &Value) {
        match (expected, observed) {
            (Value::String(s), _) if s.starts_with('\u{1}') && s != ANY => {
                self.adopt(s, observed);
            }
            (Value::Object(e), Value::Object(o)) => {
                for (k, v) in e {
                    if let Some(ov) = o.get(k) {
                        self.bind(v, ov);
                    }
                }
            }
            (Value::Array(e), Value::Array(o)) => {
                for (ev, ov) in e.iter().zip(o) {
                    self.bind(ev, ov);
                }
            }
            _ => {}
        }
    }

    fn adopt(&mut self, sentinel: &str, observed: &Value) {
        if let Some(prev) = self.bound.get(sentinel) {
            if prev != observed {
                self.problems.push(format!(
                    "one request answered two different server values ({prev} and {observed}) where \
                     one was expected (one timestamp per request, one id per row)"
                ));
            }
            return;
        }
        let ok = if sentinel.starts_with(NOW) {
            match observed.as_str() {
                Some(t) if !is_timestamp(t) => {
                    self.problems.push(format!(
                        "timestamp `{t}` is not RFC 3339 UTC with milliseconds"
                    ));
                    false
                }
                Some(t) if self.last_now.is_some_and(|last| t < last) => {
                    self.problems.push(format!(
                        "timestamp `{t}` goes backwards (previous: {})",
                        self.last_now.unwrap_or_default()
                    ));
                    false
                }
                Some(_) => true,
                None => false,
            }
        } else if sentinel.starts_with(DATE) {
            observed
                .as_str()
                .is_some_and(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok())
        } else if let Some(rest) = sentinel.strip_prefix(ID) {
            let table = rest.splitn(3, '#').nth(2).unwrap_or_default();
            match observed {
                Value::String(s) => {
                    let good = uuid::Uuid::parse_str(s).is_ok_and(|u| {
                        u.get_version_num() == 7 && u.hyphenated().to_string() == *s
                    });
                    if !good {
                        self.problems
                            .push(format!("generated id `{s}` is not a lowercase UUIDv7"));
                    }
                    good
                }
                Value::Number(n) => {
                    let max = self.max_int.get(table).copied().unwrap_or(0);
                    let good = n.as_i64().is_some_and(|i| i > max);
                    if !good {
                        self.problems.push(format!(
                            "generated integer id {n} is not larger than every earlier id ({max})"
                        ));
                    }
                    good
                }
                _ => false,
            }
        } else {
            false
        };
        if ok {
            self.bound.insert(sentinel.to_owned(), observed.clone());
        }
    }

    /// A date default of this request follows its timestamp.
    pub fn finish(&mut self, seq: u64) {
        let now = now_sentinel(seq);
        let date = date_sentinel(seq);
        if let Some(Value::String(t)) = self.bound.get(&now).cloned() {
            let day = Value::String(t.get(..10).unwrap_or_default().to_owned());
            match self.bound.get(&date) {
                Some(d) if *d != day => self.problems.push(format!(
                    "a `(time)now` date default {d} is not the request's date {day}"
                )),
                _ => {
                    self.bound.insert(date, day);
                }
            }
        }
    }
}

/// Replaces every bound sentinel in `v`.
pub fn substitute(v: &mut Value, bound: &BTreeMap<String, Value>) {
    match v {
        Value::String(s) if s.starts_with('\u{1}') => {
            if let Some(b) = bound.get(s.as_str()) {
                *v = b.clone();
            }
        }
        Value::Object(m) => m.values_mut().for_each(|x| substitute(x, bound)),
        Value::Array(a) => a.iter_mut().for_each(|x| substitute(x, bound)),
        _ => {}
    }
}

pub fn contains_sentinel(v: &Value) -> bool {
    match v {
        Value::String(_) => is_sentinel(v),
        Value::Object(m) => m.values().any(contains_sentinel),
        Value::Array(a) => a.iter().any(contains_sentinel),
        _ => false,
    }
}

/// Compares a prediction with an answer; the error names the first difference by its path.
pub fn matches(expected: &Value, observed: &Value) -> Result<(), String> {
    at("", expected, observed)
}

fn at(path: &str, expected: &Value, observed: &Value) -> Result<(), String> {
    let differ = || {
        Err(format!(
            "at `{}`: expected {}, got {observed}",
            if path.is_empty() { "." } else { path },
            show(expected)
        ))
    };
    match expected {
        Value::String(s) if s == ANY => Ok(()),
        Value::Object(e) if e.contains_key(ENVELOPE) => envelope(path, e, observed),
        Value::Object(e) => {
            let Value::Object(o) = observed else {
                return differ();
            };
            for (k, v) in e {
                let p = format!("{path}.{k}");
                match o.get(k) {
                    Some(ov) => at(&p, v, ov)?,
                    None if v.as_str() == Some(ANY) => {}
                    None => return Err(format!("at `{p}`: expected {}, absent", show(v))),
                }
            }
            if let Some(extra) = o.keys().find(|k| !e.contains_key(*k)) {
                return Err(format!("at `{path}.{extra}`: unexpected key"));
            }
            Ok(())
        }
        Value::Array(e) => {
            let Value::Array(o) = observed else {
                return differ();
            };
            if e.len() != o.len() {
                return Err(format!(
                    "at `{path}`: expected {} elements, got {}: expected {}, got {observed}",
                    e.len(),
                    o.len(),
                    show(expected)
                ));
            }
            for (i, (ev, ov)) in e.iter().zip(o).enumerate() {
                at(&format!("{path}[{i}]"), ev, ov)?;
            }
            Ok(())
        }
        Value::Number(a) => match observed {
            Value::Number(b) if a == b || a.as_f64() == b.as_f64() => Ok(()),
            _ => differ(),
        },
        _ if expected == observed => Ok(()),
        _ => differ(),
    }
}

fn envelope(path: &str, e: &Map<String, Value>, observed: &Value) -> Result<(), String> {
    let Value::Object(o) = observed else {
        return Err(format!(
            "at `{path}`: expected an error envelope {}, got {observed}",
            show(&Value::Object(e.clone()))
        ));
    };
    for key in ["code", "layer"] {
        if o.get(key) != e.get(key) {
            return Err(format!(
                "at `{path}.{key}`: expected {}, got {} (answer: {observed})",
                e.get(key).unwrap_or(&Value::Null),
                o.get(key).unwrap_or(&Value::Null)
            ));
        }
    }
    if !o.get("error").is_some_and(Value::is_string) {
        return Err(format!("at `{path}.error`: the envelope has no message"));
    }
    if let Some(d) = e.get("details") {
        at(
            &format!("{path}.details"),
            d,
            o.get("details").unwrap_or(&Value::Null),
        )?;
    }
    Ok(())
}

/// A prediction for humans: markers spelled out.
pub fn show(v: &Value) -> String {
    v.to_string()
        .replace("\\u0001envelope", "envelope")
        .replace("\\u0001any", "*")
        .replace("\\u0001", "server:")
}
