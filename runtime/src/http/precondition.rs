//! Optimistic concurrency (SPEC §5.7): `If-Match` on PATCH, PUT and DELETE, `If-None-Match` on
//! PUT (and the others), judged inside the write transaction, so no other write can come
//! between the comparison and the write.
//!
//! A record's version is the strong ETag that `GET /api/T/{id}` without query parameters answers
//! the same caller: a hash of that body, the record as this caller may read it (masked, with its
//! labels). So the version says nothing the caller cannot read, and a change the caller cannot
//! see (a hidden column) does not fail their precondition. A caller whose `read` rule does not
//! show the row has no version of it: only `If-Match: *` matches then.
//!
//! Where it is judged (RFC 9110 §13.2.1: preconditions are ignored when the request would fail
//! without them): after the firewall (an invisible row stays the fixed NOT_FOUND) and the
//! access condition, before guards and validation judge the body. PUT is the exception for a
//! row the caller cannot see: `If-Match` fails with 412 whether the id is free or another
//! tenant's, so the two stay indistinguishable; `If-None-Match: *` then lets the create go on
//! and answer as it would without it.

use axum::http::{HeaderMap, HeaderName, header};
use serde_json::Value as Json;
use ward_ir::Operation;

use super::embed::{self, Ctx};
use super::encode::{self, Answer};
use super::request;
use crate::error::ApiError;
use crate::security;
use crate::snapshot::TablePlan;
use crate::sql::by_id;
use crate::store::row::{self, Record};

/// What the client made its write conditional on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Precondition {
    /// `If-Match`: the write happens only if the record's version is one of these (`*`: any
    /// version, the record exists).
    if_match: Option<Vec<String>>,
    /// `If-None-Match`: the write happens only if the version is none of these (`*`: the record
    /// does not exist).
    if_none_match: Option<Vec<String>>,
}

impl Precondition {
    pub fn from_headers(headers: &HeaderMap) -> Result<Precondition, ApiError> {
        Ok(Precondition {
            if_match: tags(headers, &header::IF_MATCH)?,
            if_none_match: tags(headers, &header::IF_NONE_MATCH)?,
        })
    }

    /// A batch record's expected version (`options.ifMatch`): like an `If-Match` header.
    pub fn if_match(text: &str) -> Option<Precondition> {
        Some(Precondition {
            if_match: Some(parse_tags(text)?),
            if_none_match: None,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.if_match.is_none() && self.if_none_match.is_none()
    }

    /// Judges the precondition on `current`, the firewall-visible row (`None`: there is none
    /// this caller can see). The write's `when` (from `gate`) is checked here first, so that a
    /// refused caller gets 403 rather than 412.
    pub fn judge(
        &self,
        ctx: Ctx<'_>,
        plan: &TablePlan,
        gate: Option<&crate::gate::Gate>,
        id: &Json,
        current: Option<&Record>,
    ) -> Result<(), ApiError> {
        if self.is_empty() {
            return Ok(());
        }
        if let (Some(current), Some(gate)) = (current, gate) {
            security::when(gate, ctx.caller, current, ctx.now)?;
        }
        let exists = current.is_some();
        // `*` needs no version: reading and rendering the row is only for named tags.
        let named = [&self.if_match, &self.if_none_match]
            .into_iter()
            .flatten()
            .flatten()
            .any(|t| t != "*");
        let version = if exists && named {
            version(ctx, plan, id)?
        } else {
            None
        };
        if let Some(wanted) = &self.if_match {
            let matched = exists
                && wanted
                    .iter()
                    .any(|t| t == "*" || version.as_deref().is_some_and(|v| strong_eq(t, v)));
            if !matched {
                return Err(ApiError::precondition_failed());
            }
        }
        if let Some(unwanted) = &self.if_none_match {
            let matched = exists
                && unwanted
                    .iter()
                    .any(|t| t == "*" || version.as_deref().is_some_and(|v| weak_eq(t, v)));
            if matched {
                return Err(ApiError::precondition_failed());
            }
        }
        Ok(())
    }
}

/// The record's version for this caller: the strong ETag of `GET /api/T/{id}`, or `None` when
/// their `read` rule does not show the row.
fn version(ctx: Ctx<'_>, plan: &TablePlan, id: &Json) -> Result<Option<String>, ApiError> {
    let Ok(gate) = security::gate(plan, Operation::Read, ctx.caller) else {
        return Ok(None);
    };
    let stmt = by_id::select_visible(plan, &gate, ctx.caller, ctx.now, id);
    let Some(rec) = row::first_record(ctx.conn, plan, &stmt)? else {
        return Ok(None);
    };
    let data = embed::render_read(ctx, plan, rec)?;
    Ok(Some(request::strong_tag(&encode::to_body(&Answer::data(
        data,
    ))?)))
}

/// The entity tags of a precondition header (RFC 9110 §8.8.3): `*`, or a comma-separated list
/// of quoted tags, weak ones prefixed `W/`. A header that is no such list is a bad request.
fn tags(headers: &HeaderMap, name: &HeaderName) -> Result<Option<Vec<String>>, ApiError> {
    let mut values = headers.get_all(name).iter().peekable();
    if values.peek().is_none() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for value in values {
        let text = value.to_str().map_err(|_| bad_precondition(name))?;
        out.extend(parse_tags(text).ok_or_else(|| bad_precondition(name))?);
    }
    Ok(Some(out))
}

/// `*` or quoted tags separated by commas; `None` when that is not what `text` holds.
fn parse_tags(text: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for tag in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let opaque = tag.strip_prefix("W/").unwrap_or(tag);
        let quoted = opaque.len() >= 2 && opaque.starts_with('"') && opaque.ends_with('"');
        if tag != "*" && !quoted {
            return None;
        }
        out.push(tag.to_owned());
    }
    (!out.is_empty()).then_some(out)
}

fn bad_precondition(name: &HeaderName) -> ApiError {
    ApiError::bad_query(
        name.as_str(),
        format!("`{name}` must be `*` or a list of quoted entity tags"),
    )
}

/// `If-Match` compares strongly: a weak tag never matches.
fn strong_eq(tag: &str, version: &str) -> bool {
    !tag.starts_with("W/") && tag == version
}

/// `If-None-Match` compares weakly.
fn weak_eq(tag: &str, version: &str) -> bool {
    tag.strip_prefix("W/").unwrap_or(tag) == version.strip_prefix("W/").unwrap_or(version)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn tags_are_parsed_and_compared_as_rfc_9110_says() {
        let p =
            Precondition::from_headers(&headers(&[(&header::IF_MATCH, r#""a", W/"b""#)])).unwrap();
        assert_eq!(p.if_match, Some(vec![r#""a""#.into(), r#"W/"b""#.into()]));
        assert!(strong_eq(r#""a""#, r#""a""#));
        assert!(!strong_eq(r#"W/"a""#, r#""a""#));
        assert!(weak_eq(r#"W/"a""#, r#""a""#));
        assert!(!weak_eq(r#""b""#, r#""a""#));
        assert!(
            Precondition::from_headers(&HeaderMap::new())
                .unwrap()
                .is_empty()
        );
        for bad in ["abc", "", r#"W/abc"#, r#"""#] {
            let h = headers(&[(&header::IF_MATCH, bad)]);
            assert!(Precondition::from_headers(&h).is_err(), "{bad:?}");
        }
    }
}
