//! The console at `/_ward` (SPEC §14): the project's resources with where each was written,
//! the policy matrix, a data grid and a playground that act as a caller **through the public
//! API** (no admin path, so it never shows more than the API would), and, for a refusal, the
//! layer that decided it and the declarations behind it, at their file:line. Server-side it is
//! three embedded assets and a few JSON routes; no Node toolchain.
//!
//! `ward dev` serves it on its loopback listener and mints dev tokens for any caller the page
//! picks. `ward serve` answers `/_ward` with the API's fixed NOT_FOUND unless started with
//! `--console`; then the page's data routes admit only a token with one of the project's
//! `operators` roles, and the page acts with tokens the operator pastes — nothing is minted.
//! Every state-changing call needs the page's CSRF token in `x-ward-csrf` (a header no other
//! origin can send without a preflight, which these routes never answer).

mod said;

pub use said::Said;

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

use crate::commands::token::{Grant, sign};

const PAGE: &str = include_str!("index.html");
const SCRIPT: &str = include_str!("console.js");
const STYLE: &str = include_str!("console.css");

/// No inline script or style, nothing from elsewhere, never framed.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// How long a console token lives: a working session.
const TOKEN_TTL_SECONDS: u64 = 8 * 3600;

/// Who serves the console, and so who may use it.
pub enum Mode {
    /// `ward dev`, on its loopback listener: anyone who can reach it is the developer. Mints
    /// tokens for any declared caller and shows what the watcher last said.
    Dev { dir: PathBuf, said: Said },
    /// `ward serve --console`: data routes need a token with one of the `operators` roles of
    /// the IR served now; no minting, no watcher.
    Serve,
}

struct Console {
    app: App,
    mode: Mode,
    /// Random per process; the page carries it, state-changing calls need it back.
    csrf: String,
}

/// The `/_ward` routes for `app`.
pub fn router(app: App, mode: Mode) -> Router {
    let csrf = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let console = Arc::new(Console { app, mode, csrf });
    Router::new()
        .route("/_ward", get(page))
        .route("/_ward/", get(page))
        .route("/_ward/console.js", get(script))
        .route("/_ward/console.css", get(style))
        .route("/_ward/api/project", get(project))
        .route("/_ward/api/status", get(status))
        .route("/_ward/api/token", post(mint))
        .route("/_ward/api/why", post(why))
        .with_state(console)
}

impl Console {
    fn mode_name(&self) -> &'static str {
        match self.mode {
            Mode::Dev { .. } => "dev",
            Mode::Serve => "serve",
        }
    }

    /// Whether the caller may read the console's data: anyone on `ward dev`'s loopback
    /// listener; an operator on `ward serve --console`. A refusal is the API's own answer for
    /// the token (401, or 403 `ACCESS_ROLE_REQUIRED`).
    fn admit(&self, headers: &HeaderMap) -> Result<(), Box<Response>> {
        match self.mode {
            Mode::Dev { .. } => Ok(()),
            Mode::Serve => {
                let operators = self.app.ir_now().server.operators;
                let authorization = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
                self.app.admit(authorization, &operators)
            }
        }
    }

    /// [`Console::admit`], and the page's CSRF token on a call that changes something.
    fn admit_change(&self, headers: &HeaderMap) -> Result<(), Box<Response>> {
        let csrf = headers
            .get("x-ward-csrf")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        // Compared in constant time: how long a wrong guess took to refuse tells nothing of the
        // token (only its length, which every page shows).
        let matches: bool =
            subtle::ConstantTimeEq::ct_eq(csrf.as_bytes(), self.csrf.as_bytes()).into();
        if !matches {
            return Err(Box::new(json_error(
                StatusCode::FORBIDDEN,
                "auth",
                "CONSOLE_CSRF_MISSING",
                "missing or wrong x-ward-csrf: send the token of the console's page",
            )));
        }
        self.admit(headers)
    }

    /// A state-changing call admitted ([`Console::admit_change`]) and its JSON body read as `T`
    /// (`INVALID_JSON` naming the `expected` shape otherwise).
    fn change<T: serde::de::DeserializeOwned>(
        &self,
        headers: &HeaderMap,
        body: &str,
        expected: &str,
    ) -> Result<T, Box<Response>> {
        self.admit_change(headers)?;
        serde_json::from_str(body).map_err(|_| {
            Box::new(json_error(
                StatusCode::BAD_REQUEST,
                "validation",
                "INVALID_JSON",
                &format!("expected {expected}"),
            ))
        })
    }
}

/// A refusal of the console's own routes, in the API's error envelope (SPEC §5.4).
fn json_error(status: StatusCode, layer: &str, code: &str, message: &str) -> Response {
    answer(
        status,
        "application/json",
        json!({ "error": message, "layer": layer, "code": code }).to_string(),
    )
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
    let page = PAGE
        .replace("{{csrf}}", &c.csrf)
        .replace("{{mode}}", c.mode_name());
    answer(StatusCode::OK, "text/html; charset=utf-8", page)
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
/// actions; the roles; `ward explain`'s matrix; and where each declaration was written.
async fn project(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    if let Err(refused) = c.admit(&headers) {
        return *refused;
    }
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
        "mode": c.mode_name(),
        "ir": ir.hash,
        "roles": ir.roles,
        "auth": ir.auth.claims.keys().collect::<Vec<_>>(),
        "tables": tables,
        "actions": ir.actions.iter().map(|a| &a.name).collect::<Vec<_>>(),
        "explain": ward_compiler::policy::explain(&ir),
        "sources": ir.sources,
    });
    answer(StatusCode::OK, "application/json", body.to_string())
}

/// The IR served now and, on `ward dev`, the last thing it said about the files: the page
/// polls it, so a broken save's diagnostics appear in the console as they do in the terminal.
async fn status(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    if let Err(refused) = c.admit(&headers) {
        return *refused;
    }
    let (seq, message) = match &c.mode {
        Mode::Dev { said, .. } => said.last(),
        Mode::Serve => (0, String::new()),
    };
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

/// `POST /_ward/api/token` (`ward dev` only): a dev token for the given subject, roles and
/// claims, signed with the project's secret — the console then calls the public API with it,
/// as that caller would.
async fn mint(State(c): State<Arc<Console>>, headers: HeaderMap, body: String) -> Response {
    let Mode::Dev { dir, .. } = &c.mode else {
        // An operator acts with the tokens they have; a server mints none.
        return answer(
            StatusCode::NOT_FOUND,
            "application/json",
            ward_runtime::NOT_FOUND_BODY.to_owned(),
        );
    };
    let acting: Acting = match c.change(&headers, &body, r#"{"sub", "roles", "org", "claims"}"#) {
        Ok(acting) => acting,
        Err(refused) => return *refused,
    };
    let ir = c.app.ir_now();
    if let Some(unknown) = acting.roles.iter().find(|r| !ir.roles.contains(r)) {
        return json_error(
            StatusCode::BAD_REQUEST,
            "validation",
            "VALIDATION_ENUM",
            &format!("the project declares no role `{unknown}`"),
        );
    }
    let secret = match ward_runtime::secret::hs256_secret(&ir, dir, false) {
        Ok((secret, _)) => secret,
        Err(e) => {
            return json_error(
                StatusCode::CONFLICT,
                "auth",
                "CONSOLE_CANNOT_MINT",
                &e.to_string(),
            );
        }
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
        Err(e) => json_error(
            StatusCode::BAD_REQUEST,
            "validation",
            "VALIDATION_TYPE",
            &format!("{e:#}"),
        ),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Refused {
    method: String,
    path: String,
    /// The error envelope the API answered with.
    answer: serde_json::Value,
}

/// `POST /_ward/api/why`: the declarations behind a refusal the page received, at their
/// file:line in the files being served now.
async fn why(State(c): State<Arc<Console>>, headers: HeaderMap, body: String) -> Response {
    let refused: Refused = match c.change(&headers, &body, r#"{"method", "path", "answer"}"#) {
        Ok(refused) => refused,
        Err(answer) => return *answer,
    };
    let ir = c.app.ir_now();
    let why = ward_compiler::policy::why(&ir, &refused.method, &refused.path, &refused.answer);
    answer(
        StatusCode::OK,
        "application/json",
        serde_json::to_string(&why).unwrap_or_default(),
    )
}
