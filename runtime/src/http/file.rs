//! `GET /api/T/{id}/file/COL` and `POST /api/T/{id}/file/COL/url` (SPEC §13): a file's bytes
//! go through the same pipeline as `GET /api/T/{id}` — firewall, access, masking — and a row the
//! caller cannot read, a column masked or hidden for them, or no file at all answer exactly as a
//! missing row does. The bytes are served so that a browser never runs them: an attachment
//! unless an image or PDF is asked for inline, `nosniff`, a sandboxing CSP, never cached.

use std::ops::Range;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};
use ward_ir::{ColumnType, Operation};

use super::request::{self, Shared};
use crate::error::ApiError;
use crate::files::grant::{self, Target};
use crate::files::meta;
use crate::gate::Caller;
use crate::mutation::{self, Mutation};
use crate::security::{self, audit, firewall, masking};
use crate::snapshot::TablePlan;
use crate::sql::{by_id, dml};
use crate::store::row;

/// Types a browser may show inline on `?inline=1`: raster images and PDF. Anything else (HTML,
/// SVG, scripts) is always an attachment.
const INLINE: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/bmp",
    "image/avif",
    "application/pdf",
];

/// `GET /api/T/{id}/file/COL[?inline=1][&token=…]`.
pub async fn download(
    State(st): State<Shared>,
    Path((table, id, column)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    request::finish(serve(st, table, id, column, q, headers).await)
}

/// `POST /api/T/{id}/file/COL/url`: a signed URL for `<img src>`.
pub async fn signed_url(
    State(st): State<Shared>,
    Path((table, id, column)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    request::finish(sign(st, table, id, column, headers).await)
}

#[derive(Default)]
struct Asked {
    inline: bool,
    token: Option<String>,
}

fn asked(q: Option<&str>) -> Asked {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(q.unwrap_or_default()).unwrap_or_default();
    let mut out = Asked::default();
    for (k, v) in pairs {
        match k.as_str() {
            "inline" => out.inline = matches!(v.as_str(), "1" | "true"),
            "token" => out.token = Some(v),
            _ => {}
        }
    }
    out
}

async fn serve(
    st: Shared,
    table: String,
    id: String,
    column: String,
    q: Option<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    request::addressable(&id)?;
    let serving = st.current();
    let snap = serving.snapshot.clone();
    let plan = request::plan(&snap, &table)?;
    let asked = asked(q.as_deref());
    let (caller, granted_sha) = match &asked.token {
        Some(token) => {
            let target = Target {
                table: &table,
                id: &id,
                column: &column,
            };
            let now = chrono::Utc::now().timestamp().max(0).unsigned_abs();
            let (caller, sha) = grant::redeem(&serving.file_urls, token, target, now)
                .ok_or_else(|| firewall::not_found(&plan.def))?;
            (caller, Some(sha))
        }
        None => (request::caller(&st, &serving, &headers)?, None),
    };
    let stored = visible_file(&st, plan, &caller, &id, &column).await?;
    let (Some(key), Some(sha)) = (meta::key(&stored), meta::sha256(&stored)) else {
        return Err(ApiError::internal("a stored file value without its key"));
    };
    // A link dies with the file it was made for.
    if granted_sha.as_deref().is_some_and(|g| g != sha) {
        return Err(firewall::not_found(&plan.def));
    }
    let size = stored.get("size").and_then(Json::as_u64).unwrap_or(0);
    let media_type = stored
        .get("type")
        .and_then(Json::as_str)
        .unwrap_or("application/octet-stream");
    let name = stored.get("name").and_then(Json::as_str).unwrap_or("file");
    let etag = format!("\"{sha}\"");
    let mut out = HeaderMap::new();
    let inline = asked.inline && INLINE.contains(&media_type);
    out.insert(header::CONTENT_DISPOSITION, disposition(inline, name));
    for (name, value) in [
        (header::CONTENT_TYPE, media_type),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CONTENT_SECURITY_POLICY, "sandbox"),
        (header::CACHE_CONTROL, "private, no-store"),
        (header::ACCEPT_RANGES, "bytes"),
        (header::ETAG, etag.as_str()),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            out.insert(name, v);
        }
    }
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|inm| inm.split(',').any(|t| t.trim() == "*" || t.trim() == etag));
    if unchanged {
        return Ok((StatusCode::NOT_MODIFIED, out).into_response());
    }
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(r) => match byte_range(r, size) {
            Ok(r) => r,
            Err(()) => {
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    out.insert(header::CONTENT_RANGE, v);
                }
                return Ok((StatusCode::RANGE_NOT_SATISFIABLE, out).into_response());
            }
        },
        None => None,
    };
    let stream = st.files.read(key, range.clone()).await?;
    let status = match &range {
        Some(r) => {
            let end = r.end.saturating_sub(1);
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {}-{end}/{size}", r.start)) {
                out.insert(header::CONTENT_RANGE, v);
            }
            StatusCode::PARTIAL_CONTENT
        }
        None => StatusCode::OK,
    };
    let length = range.map_or(size, |r| r.end - r.start);
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    Ok((status, out, Body::from_stream(stream)).into_response())
}

async fn sign(
    st: Shared,
    table: String,
    id: String,
    column: String,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    request::addressable(&id)?;
    let serving = st.current();
    let snap = serving.snapshot.clone();
    let plan = request::plan(&snap, &table)?;
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    let (caller, token_expires) = request::caller_until(&st, &serving, authorization)?;
    let stored = visible_file(&st, plan, &caller, &id, &column).await?;
    let sha = meta::sha256(&stored).unwrap_or_default();
    let now = chrono::Utc::now().timestamp().max(0).unsigned_abs();
    let expires = token_expires.map_or(now + grant::TTL, |t| t.min(now + grant::TTL));
    let target = Target {
        table: &table,
        id: &id,
        column: &column,
    };
    let token = grant::issue(&serving.file_urls, &caller, target, sha, expires);
    let path = |s: &str| url_escape(s, |c| c.is_ascii_alphanumeric() || "-._~".contains(c));
    let url = format!(
        "/api/{}/{}/file/{}?token={token}",
        path(&table),
        path(&id),
        path(&column)
    );
    let at = chrono::DateTime::from_timestamp(i64::try_from(expires).unwrap_or(i64::MAX), 0)
        .map(|t| ward_ir::time::datetime_text(&t));
    let mut res = request::json(
        StatusCode::CREATED,
        &json!({ "data": { "url": url, "expires": at } }),
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// The stored value of file column `column` of row `id`, read as `GET /api/T/{id}` reads the
/// row; every way of not being there — an unknown column, a row the caller cannot read, a
/// column masked or hidden for them, no file — is the table's one not-found answer.
async fn visible_file(
    st: &Shared,
    plan: &TablePlan,
    caller: &Caller,
    id: &str,
    column: &str,
) -> Result<Json, ApiError> {
    let gate = security::gate(plan, Operation::Read, caller)?;
    let missing = || firewall::not_found(&plan.def);
    if !plan
        .column(column)
        .is_some_and(|c| c.ty == ColumnType::File)
    {
        return Err(missing());
    }
    let id = request::row_id(plan, id)?;
    let now = audit::now();
    let stmt = if mutation::active(Mutation::FileDownloadSkipsFirewall) {
        dml::select(plan, dml::by_id(plan, &id), &[], Some(1), 0)
    } else {
        by_id::select_visible(plan, &gate, caller, &now, &id)
    };
    let rows = st.store.query_by_key(stmt, row::column_types(plan)).await?;
    let rec = row::to_records(plan, rows)
        .into_iter()
        .next()
        .ok_or_else(missing)?;
    if !masking::sees_raw(plan, caller, column, &rec)
        && !mutation::active(Mutation::FileDownloadUnmasked)
    {
        return Err(missing());
    }
    match rec.get(column) {
        Some(v) if !v.is_null() => Ok(v.clone()),
        _ => Err(missing()),
    }
}

/// `attachment` (or `inline`) with the filename both as ASCII and as RFC 5987 UTF-8.
fn disposition(inline: bool, name: &str) -> HeaderValue {
    let kind = if inline { "inline" } else { "attachment" };
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = url_escape(name, |c| {
        c.is_ascii_alphanumeric() || "!#$&+-.^_`|~".contains(c)
    });
    HeaderValue::from_str(&format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

/// `s` with every byte outside `keep` percent-encoded.
fn url_escape(s: &str, keep: impl Fn(char) -> bool) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if keep(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// The one byte range of a `Range` header for a file of `size` bytes: `Ok(None)` to serve it
/// whole (no usable range, or several: RFC 9110 lets a server ignore those), `Err` when the
/// range lies past the end (416).
fn byte_range(header: &str, size: u64) -> Result<Option<Range<u64>>, ()> {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (start, end) = (start.trim(), end.trim());
    let parse = |s: &str| s.parse::<u64>().ok();
    match (start.is_empty(), end.is_empty()) {
        // `bytes=-N`: the last N bytes.
        (true, false) => match parse(end) {
            Some(0) => Err(()),
            Some(n) if size > 0 => Ok(Some(size.saturating_sub(n)..size)),
            Some(_) => Err(()),
            None => Ok(None),
        },
        (false, _) => {
            let Some(a) = parse(start) else {
                return Ok(None);
            };
            let b = if end.is_empty() {
                Some(u64::MAX)
            } else {
                parse(end)
            };
            match b {
                None => Ok(None),
                Some(b) if b < a => Ok(None),
                Some(_) if a >= size => Err(()),
                Some(b) => Ok(Some(a..b.saturating_add(1).min(size))),
            }
        }
        (true, true) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(byte_range("bytes=0-9", 100), Ok(Some(0..10)));
        assert_eq!(byte_range("bytes=90-", 100), Ok(Some(90..100)));
        assert_eq!(byte_range("bytes=-10", 100), Ok(Some(90..100)));
        assert_eq!(byte_range("bytes=-500", 100), Ok(Some(0..100)));
        assert_eq!(byte_range("bytes=95-200", 100), Ok(Some(95..100)));
        assert_eq!(byte_range("bytes=100-", 100), Err(()));
        assert_eq!(byte_range("bytes=-0", 100), Err(()));
        assert_eq!(byte_range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(byte_range("items=0-1", 100), Ok(None));
        assert_eq!(byte_range("bytes=5-2", 100), Ok(None));
        assert_eq!(byte_range("bytes=0-0", 0), Err(()));
    }

    #[test]
    fn filenames_never_break_the_header() {
        let v = disposition(false, "r\u{e9}sum\u{e9} \"final\".pdf");
        assert_eq!(
            v.to_str().ok(),
            Some(
                "attachment; filename=\"r_sum_ _final_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.pdf"
            )
        );
    }
}
