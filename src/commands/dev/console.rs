//! The dev console at `/_ward` (SPEC §14), first part: the project's resources and policy
//! matrix, and a data grid that acts as a chosen role and claims **through the public API**
//! with a dev-minted token — there is no admin path, so it never shows more than the API would.
//! Server-side it is three embedded assets and two JSON routes; no Node toolchain.
//!
//! Only `ward dev` serves it, on its loopback listener; `ward serve` answers `/_ward` with the
//! API's fixed NOT_FOUND. Minting a token is the one state-changing call: it needs the page's
//! CSRF token in `x-ward-csrf` (a header no other origin can send without a preflight, which
//! these routes never answer).

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use ward_runtime::App;

use super::reload::Said;
use crate::commands::token::{Grant, sign};

const PAGE: &str = include_str!("console/index.html");
const SCRIPT: &str = include_str!("console/console.js");
const STYLE: &str = include_str!("console/console.css");

/// No inline script or style, nothing from elsewhere, never framed.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// How long a console token lives: a working session.
const TOKEN_TTL_SECONDS: u64 = 8 * 3600;

struct Console {
    app: App,
    dir: PathBuf,
    /// What `ward dev` last said about the files (diagnostics, reloads).
    said: Said,
    /// Random per process; the page carries it, minting needs it back.
    csrf: String,
}

/// The `/_ward` routes for `app`, serving the project in `dir`.
pub fn router(app: App, dir: PathBuf, said: Said) -> Router {
    let csrf = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let console = Arc::new(Console {
        app,
        dir,
        said,
        csrf,
    });
    Router::new()
        .route("/_ward", get(page))
        .route("/_ward/", get(page))
        .route("/_ward/console.js", get(script))
        .route("/_ward/console.css", get(style))
        .route("/_ward/api/project", get(project))
        .route("/_ward/api/status", get(status))
        .route("/_ward/api/token", post(mint))
        .with_state(console)
}

fn answer(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

async fn page(State(c): State<Arc<Console>>) -> Response {
    answer(
        StatusCode::OK,
        "text/html; charset=utf-8",
        PAGE.replace("{{csrf}}", &c.csrf),
    )
}

async fn script() -> Response {
    answer(
        StatusCode::OK,
        "text/javascript; charset=utf-8",
        SCRIPT.to_owned(),
    )
}

async fn style() -> Response {
    answer(StatusCode::OK, "text/css; charset=utf-8", STYLE.to_owned())
}

/// The IR being served now, as the console shows it: tables with their columns, views and
/// actions; the roles; and `ward explain`'s matrix.
async fn project(State(c): State<Arc<Console>>) -> Response {
    let ir = c.app.ir_now();
    let tables: Vec<_> = ir
        .tables
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "columns": t.columns.iter().map(|col| json!({
                    "name": col.name,
                    "type": col.ty.name(),
                    "required": col.required,
                    "system": col.system,
                })).collect::<Vec<_>>(),
                "views": t.views.iter().map(|v| &v.name).collect::<Vec<_>>(),
                "actions": t.actions.iter().map(|a| &a.name).collect::<Vec<_>>(),
                "history": t.history.is_some(),
                "realtime": t.realtime,
            })
        })
        .collect();
    let body = json!({
        "ir": ir.hash,
        "roles": ir.roles,
        "auth": ir.auth.claims.keys().collect::<Vec<_>>(),
        "tables": tables,
        "explain": ward_compiler::policy::explain(&ir),
    });
    answer(StatusCode::OK, "application/json", body.to_string())
}

/// The IR served now and the last thing `ward dev` said about the files: the page polls it, so
/// a broken save's diagnostics appear in the console as they do in the terminal.
async fn status(State(c): State<Arc<Console>>) -> Response {
    let (seq, message) = c.said.last();
    let body = json!({ "ir": c.app.ir_hash(), "seq": seq, "message": message });
    answer(StatusCode::OK, "application/json", body.to_string())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Acting {
    sub: String,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    org: Option<String>,
    /// Other auth values or claims, by name.
    #[serde(default)]
    claims: Vec<(String, String)>,
}

/// `POST /_ward/api/token`: a dev token for the given subject, roles and claims, signed with
/// the project's secret — the console then calls the public API with it, as that caller would.
async fn mint(State(c): State<Arc<Console>>, headers: HeaderMap, body: String) -> Response {
    let json_error = |status: StatusCode, message: &str| {
        answer(
            status,
            "application/json",
            json!({ "error": message }).to_string(),
        )
    };
    let csrf = headers
        .get("x-ward-csrf")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if csrf != c.csrf {
        return json_error(StatusCode::FORBIDDEN, "missing or wrong x-ward-csrf");
    }
    let Ok(acting) = serde_json::from_str::<Acting>(&body) else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "expected {\"sub\", \"roles\", \"org\", \"claims\"}",
        );
    };
    let ir = c.app.ir_now();
    if let Some(unknown) = acting.roles.iter().find(|r| !ir.roles.contains(r)) {
        return json_error(
            StatusCode::BAD_REQUEST,
            &format!("the project declares no role `{unknown}`"),
        );
    }
    let secret = match ward_runtime::secret::hs256_secret(&ir, &c.dir, false) {
        Ok((secret, _)) => secret,
        Err(e) => return json_error(StatusCode::CONFLICT, &e.to_string()),
    };
    let grant = Grant {
        sub: acting.sub,
        roles: acting.roles,
        org: acting.org.filter(|o| !o.is_empty()),
        claims: acting.claims,
        ttl: TOKEN_TTL_SECONDS,
    };
    match sign(&ir, &secret, &grant) {
        Ok(token) => answer(
            StatusCode::CREATED,
            "application/json",
            json!({ "token": token }).to_string(),
        ),
        Err(e) => json_error(StatusCode::BAD_REQUEST, &format!("{e:#}")),
    }
}
