//! The download and signed-URL routes of a file column (SPEC §13).

use serde_json::{Value as Json, json};
use ward_ir::{Column, Ir, Operation, Table};

use super::callers;
use super::parameters::id_parameter;
use super::responses::{NOT_ALLOWED, NOT_FOUND, Responses, forbidden};
use super::schemas::data;
use super::{gated, operation};

/// `GET /api/T/{id}/file/COL` and `POST /api/T/{id}/file/COL/url`.
pub fn paths(ir: &Ir, t: &Table, c: &Column) -> (Json, Json) {
    let media: Json = match c.file.as_ref().map(|f| f.types.as_slice()) {
        Some(types) if !types.is_empty() => types
            .iter()
            .map(|m| (m.clone(), json!({})))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        // OpenAPI 3.1: raw bytes have no schema, only a media type.
        _ => json!({"application/octet-stream": {}}),
    };
    let headers = json!({
        "ETag": {"description": "The file's SHA-256, quoted", "schema": {"type": "string"}},
        "Content-Disposition": {"description": "`attachment` (`inline` on `?inline=1` for raster images and PDF), with the filename", "schema": {"type": "string"}},
    });
    let refusals = Responses::default()
        .api()
        .error_if(forbidden(ir, t, Operation::Read, true), 403, NOT_ALLOWED)
        .error(
            404,
            "Not found: the row, or the column for this caller, or no file — one fixed body, whatever the cause",
        );
    let mut download = gated(ir, t, &[Operation::Read], refusals).build();
    download["200"] =
        json!({"description": "The file's bytes", "headers": headers, "content": media});
    download["206"] = json!({"description": "The requested range of the file's bytes (`Content-Range`)", "content": media});
    download["304"] = json!({"description": "Not modified: `If-None-Match` matched the ETag"});
    download["416"] = json!({
        "description": "The range lies past the end of the file (no body; `Content-Range: bytes */SIZE`)",
        "headers": {"Content-Range": {"schema": {"type": "string"}}},
    });
    let mut get = operation(
        t,
        &format!("download_{}", c.name),
        &format!("download `{}` of a row of", c.name),
        callers::public(t.access.read.as_ref()),
        Responses::default(),
    );
    get["responses"] = download;
    // A signed URL's `token` stands in for the header (`<img src>` sends none).
    get["security"] = json!([{"bearer": []}, {}]);
    get["parameters"] = json!([
        id_parameter(t),
        {"name": "inline", "in": "query", "required": false, "schema": {"type": "string", "enum": ["1", "true"]},
         "description": "Show a raster image or PDF in the browser instead of downloading it"},
        {"name": "token", "in": "query", "required": false, "schema": {"type": "string"},
         "description": "A signed URL's token (from `POST …/url`): stands for the caller who asked for it, briefly"},
        {"name": "Range", "in": "header", "required": false, "schema": {"type": "string"},
         "description": "One byte range, `bytes=a-b`, `bytes=a-` or `bytes=-n`"},
    ]);
    let signed = Responses::default()
        .success(
            201,
            "A URL valid for at most five minutes, checked again on every use",
            data(json!({
                "type": "object",
                "properties": {
                    "url": {"type": "string"},
                    "expires": {"type": "string", "format": "date-time"},
                },
                "required": ["url", "expires"],
                "additionalProperties": false,
            })),
        )
        .api()
        .error_if(forbidden(ir, t, Operation::Read, true), 403, NOT_ALLOWED)
        .error(404, NOT_FOUND);
    let mut post = operation(
        t,
        &format!("sign_{}", c.name),
        &format!("a signed download URL of `{}` of a row of", c.name),
        callers::public(t.access.read.as_ref()),
        gated(ir, t, &[Operation::Read], signed),
    );
    post["parameters"] = json!([id_parameter(t)]);
    (json!({ "get": get }), json!({ "post": post }))
}
