//! Bodies of creates and updates that carry files (SPEC §13): `multipart/form-data`, the other
//! fields as ordinary form fields, each file part streamed into the file store as it arrives.
//! A file reaches the store only for a caller whose role may make the write and whose guards
//! let them write that column; what was stored is deleted again unless the write commits
//! ([`Uploads::keep`]).

use axum::body::Body;
use axum::http::{HeaderMap, header};
use futures_util::TryStreamExt;
use serde_json::{Map, Value as Json};

use super::request;
use crate::error::ApiError;
use crate::files::store::FileStore;
use crate::files::upload;
use crate::security::guards::{self, WriteKind};
use crate::security::validation;
use crate::snapshot::TablePlan;

/// Memory one multipart body takes from the body budget while it is read: the store's part
/// buffer (5 MiB) times the parts in flight, plus the head and the form fields.
const UPLOAD_MEMORY: usize = 16 << 20;

/// Objects stored by one request; deleted when dropped unless the write committed.
pub struct Uploads {
    files: FileStore,
    keys: Vec<String>,
}

impl Uploads {
    pub fn none(files: &FileStore) -> Uploads {
        Uploads {
            files: files.clone(),
            keys: Vec::new(),
        }
    }

    /// The write committed: the objects now belong to its rows.
    pub fn keep(mut self) {
        self.keys.clear();
    }
}

impl Drop for Uploads {
    fn drop(&mut self) {
        if self.keys.is_empty() {
            return;
        }
        let files = self.files.clone();
        let keys = std::mem::take(&mut self.keys);
        // The answer need not wait; an object a deletion misses is the sweeper's.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                for key in keys {
                    if let Err(e) = files.delete(&key).await {
                        tracing::warn!(target: "ward::files", %key, error = %e, "deleting the upload of a failed write");
                    }
                }
            });
        }
    }
}

/// The body of a create or an update of `plan`: JSON or a form as always, or a multipart form
/// whose file parts are stored as they stream in; a file column then holds the upload's sealed
/// value, which validation accepts as the file this request stored.
pub async fn body(
    st: &request::Shared,
    plan: &TablePlan,
    kind: WriteKind,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Map<String, Json>, Uploads), ApiError> {
    if !request::content_type_is(headers, "multipart/form-data") {
        let map = request::body(&st.bodies, plan, headers, body).await?;
        return Ok((map, Uploads::none(&st.files)));
    }
    let boundary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| multer::parse_boundary(v).ok())
        .ok_or_else(|| ApiError::invalid_json("The multipart body has no boundary"))?;
    let _share = st
        .bodies
        .acquire_many(u32::try_from(UPLOAD_MEMORY / 1024).unwrap_or(u32::MAX))
        .await
        .map_err(|_| ApiError::internal("the body budget was closed"))?;
    // Every file at its limit plus the form fields: past that the body is not one ward takes.
    let files_total: u64 = plan
        .def
        .file_columns()
        .filter_map(|c| c.file.as_ref())
        .map(|f| f.max_size.saturating_add(64 * 1024))
        .sum();
    let limit = files_total.saturating_add(request::BODY_LIMIT as u64);
    let constraints =
        multer::Constraints::new().size_limit(multer::SizeLimit::new().whole_stream(limit));
    let mut form =
        multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
    let mut uploads = Uploads::none(&st.files);
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut files: Map<String, Json> = Map::new();
    let mut text_bytes = 0usize;
    while let Some(field) = form.next_field().await.map_err(|e| form_error(&e))? {
        let Some(name) = field.name().map(str::to_owned) else {
            return Err(ApiError::invalid_json("A multipart part has no field name"));
        };
        let file_column = plan
            .column(&name)
            .and_then(|c| c.file.as_ref().map(|rules| (c, rules)));
        let Some((column, rules)) = file_column else {
            if field.file_name().is_some() {
                return Err(ApiError::invalid_json(&format!(
                    "`{name}` is not a file column: send it as a plain form field"
                )));
            }
            let text = field.text().await.map_err(|e| form_error(&e))?;
            text_bytes += name.len() + text.len();
            if text_bytes > request::BODY_LIMIT {
                return Err(ApiError::payload_too_large());
            }
            fields.push((name, text));
            continue;
        };
        if field.file_name().is_none() {
            // A plain field for a file column: empty removes the file, anything else is no
            // upload (validation says so).
            let text = field.text().await.map_err(|e| form_error(&e))?;
            fields.push((name, text));
            continue;
        }
        // A browser's file input left empty sends a nameless, empty part: no change.
        if field.file_name() == Some("") {
            continue;
        }
        if files.contains_key(&name) {
            return Err(ApiError::invalid_json(&format!(
                "`{name}` has more than one file part"
            )));
        }
        // Before a byte is stored: the caller's guards must let them write this column.
        guards::check(plan, kind, &[name.as_str()])?;
        let filename = field.file_name().map(str::to_owned);
        let chunks = field.map_err(|e| form_error(&e));
        let stored = upload::receive(
            &st.files,
            plan.name(),
            &column.name,
            rules,
            filename.as_deref(),
            chunks,
        )
        .await?;
        uploads.keys.push(stored.key.clone());
        files.insert(name, stored.sealed());
    }
    let mut map = validation::coerce_form(&|k| plan.column(k).map(|c| c.ty), fields);
    map.extend(files);
    Ok((map, uploads))
}

/// A multipart body that broke off, went past its size, or is not multipart at all.
fn form_error(e: &multer::Error) -> ApiError {
    match e {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            ApiError::payload_too_large()
        }
        multer::Error::StreamReadFailed(cause) => request::body_error(cause.as_ref()),
        _ => ApiError::invalid_json("The multipart body could not be parsed"),
    }
}
