//! A project served for testing: a fresh database, the axum router called in-process, and tokens
//! minted for any caller.
//!
//! Tokens: whatever key the project verifies with in production, the suite serves it with an
//! HS256 secret of its own (issuer, audience, claim names and leeway unchanged), so that it can
//! mint tokens for every declared role. Key handling itself is covered by the runtime's own tests.

use axum::body::Body;
use axum::http::Request;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Map, Value, json};
use tower::ServiceExt;
use ward_ir::{Ir, JwtKey};
use ward_runtime::{App, ServeOptions};

use crate::cases::{TokenKind, User};
use crate::scenario::Precondition;

/// An environment variable nobody sets, so the runtime falls back to the per-project dev secret in
/// the target's own temporary directory.
const UNSET_SECRET_ENV: &str = "WARD_CONFORMANCE_SECRET_NEVER_SET";

/// Far enough ahead for any test run, fixed so that tokens are reproducible within a run.
const VALID_UNTIL: i64 = 4_102_444_800; // 2100-01-01

pub struct Target {
    app: App,
    router: axum::Router,
    secret: Vec<u8>,
    ir: Ir,
    _dir: tempfile::TempDir,
    schema: Option<PgSchema>,
}

/// Where targets keep their data: a fresh SQLite file per target (the default), or a fresh
/// schema per target in a Postgres database, dropped when the target closes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Database {
    #[default]
    Sqlite,
    Postgres {
        url: String,
    },
}

impl Database {
    /// SQLite, or Postgres for a `postgres://` / `postgresql://` URL.
    pub fn from_url(url: Option<&str>) -> Database {
        match url {
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                Database::Postgres { url: u.to_owned() }
            }
            _ => Database::Sqlite,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Database::Sqlite => "sqlite",
            Database::Postgres { .. } => "postgres",
        }
    }
}

/// A target's own schema, on an admin connection kept to drop it.
struct PgSchema {
    admin: tokio_postgres::Client,
    name: String,
}

impl PgSchema {
    async fn create(url: &str) -> Result<(PgSchema, String), String> {
        let (admin, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .map_err(|e| format!("cannot connect to the Postgres test database: {e}"))?;
        tokio::spawn(conn);
        // The name is generated here, never taken from input.
        let name = format!("ward_case_{}", uuid::Uuid::new_v4().simple());
        admin
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .map_err(|e| format!("cannot create schema {name}: {e}"))?;
        let sep = if url.contains('?') { '&' } else { '?' };
        let served = format!("{url}{sep}options=-csearch_path%3D{name}");
        Ok((PgSchema { admin, name }, served))
    }

    async fn drop_schema(&self) -> Result<(), String> {
        self.admin
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name))
            .await
            .map_err(|e| format!("cannot drop schema {}: {e}", self.name))
    }
}

impl Drop for Target {
    /// A target that was not closed (its run panicked) still drops its schema, if the runtime
    /// lives on long enough to run the task.
    fn drop(&mut self) {
        if let (Some(schema), Ok(rt)) = (self.schema.take(), tokio::runtime::Handle::try_current())
        {
            rt.spawn(async move {
                let _ = schema.drop_schema().await;
            });
        }
    }
}

/// One HTTP exchange.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub status: u16,
    pub text: String,
    /// `Value::Null` when the body is not JSON.
    pub json: Value,
}

impl Target {
    /// Serves `ir` on a fresh database: SQLite in a temporary directory, or a new schema.
    pub async fn open(ir: &Ir, database: &Database) -> Result<Target, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        let mut ir = ir.clone();
        ir.auth.jwt.key = JwtKey::Secret {
            env: UNSET_SECRET_ENV.to_owned(),
        };
        let (secret, _) = ward_runtime::secret::hs256_secret(&ir, dir.path(), false)
            .map_err(|e| e.to_string())?;
        let (schema, database_url) = match database {
            Database::Sqlite => (
                None,
                format!("sqlite://{}", dir.path().join("data.db").display()),
            ),
            Database::Postgres { url } => {
                let (schema, served) = PgSchema::create(url).await?;
                (Some(schema), served)
            }
        };
        let options = ServeOptions {
            project_dir: dir.path().to_path_buf(),
            database_url,
            require_secret: false,
            cors: Default::default(),
            limits: Default::default(),
            // A throwaway database: a power cut loses the run, not data anyone keeps.
            sqlite_sync: ward_runtime::SqliteSync::Normal,
        };
        let app = match App::open(ir.clone(), &options).await {
            Ok(app) => app,
            Err(e) => {
                if let Some(s) = &schema {
                    s.drop_schema().await?;
                }
                return Err(e.to_string());
            }
        };
        Ok(Target {
            router: app.router(),
            app,
            secret,
            ir,
            _dir: dir,
            schema,
        })
    }

    /// Releases the target's database (drops a Postgres schema).
    pub async fn close(mut self) -> Result<(), String> {
        match self.schema.take() {
            Some(schema) => schema.drop_schema().await,
            None => Ok(()),
        }
    }

    pub fn ir(&self) -> &Ir {
        &self.ir
    }

    /// The served app (for read-only state dumps).
    pub fn app(&self) -> &App {
        &self.app
    }

    /// The claims a token for `user` carries, named as the project's `claims` block says.
    pub fn claims(&self, user: &User) -> Map<String, Value> {
        let auth = &self.ir.auth;
        let mut claims = Map::new();
        claims.insert(auth.user_id_claim().to_owned(), json!(user.sub));
        claims.insert(auth.roles_claim().to_owned(), json!(user.roles));
        for (name, value) in &user.claims {
            let claim = auth.claims.get(name).map_or(name.as_str(), String::as_str);
            claims.insert(claim.to_owned(), json!(value));
        }
        if let Some(issuer) = &auth.jwt.issuer {
            claims.insert("iss".into(), json!(issuer));
        }
        if let Some(audience) = &auth.jwt.audience {
            claims.insert("aud".into(), json!(audience));
        }
        claims.insert("exp".into(), json!(VALID_UNTIL));
        claims
    }

    pub fn token(&self, user: &User) -> String {
        self.token_of_kind(user, TokenKind::Valid)
    }

    /// A token for `user`, valid or broken in the way `kind` says.
    pub fn token_of_kind(&self, user: &User, kind: TokenKind) -> String {
        let mut claims = self.claims(user);
        let sign = |claims: &Map<String, Value>, secret: &[u8]| {
            jsonwebtoken::encode(
                &Header::default(),
                claims,
                &EncodingKey::from_secret(secret),
            )
            .unwrap_or_default()
        };
        match kind {
            TokenKind::Valid => sign(&claims, &self.secret),
            TokenKind::Expired => {
                claims.insert("exp".into(), json!(chrono_now() - 3600));
                sign(&claims, &self.secret)
            }
            TokenKind::Forged => sign(&claims, b"a key the server never saw"),
            TokenKind::Malformed => "not-a-jwt".to_owned(),
            TokenKind::AlgNone => {
                use base64::Engine as _;
                let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
                let header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
                let payload = b64.encode(Value::Object(claims).to_string());
                format!("{header}.{payload}.")
            }
        }
    }

    /// Sends one request through the router, exactly as the server would receive it.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> Exchange {
        self.call_with(method, path, token, body, None).await
    }

    /// [`Target::call`] with a precondition header.
    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
        precondition: Option<Precondition>,
    ) -> Exchange {
        match self.send(method, path, token, body, precondition).await {
            Ok(response) => read(response).await,
            Err(refused) => refused,
        }
    }

    /// `GET path` answered as bytes (a file download): the status and the whole body.
    pub async fn download(&self, path: &str, token: Option<&str>) -> (u16, Vec<u8>) {
        match self.send("GET", path, token, None, None).await {
            Ok(response) => {
                let status = response.status().as_u16();
                let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .unwrap_or_default();
                (status, bytes.to_vec())
            }
            Err(refused) => (refused.status, refused.text.into_bytes()),
        }
    }

    /// Opens `GET path` (a realtime subscription) in-process: the stream when it opens, else
    /// the refusal read whole.
    pub async fn subscribe(&self, path: &str, token: Option<&str>) -> Subscribed {
        match self.send("GET", path, token, None, None).await {
            Ok(response) if response.status() == 200 => Subscribed::Open(Subscription {
                body: response.into_body(),
                buf: String::new(),
            }),
            Ok(response) => Subscribed::Refused(read(response).await),
            Err(refused) => Subscribed::Refused(refused),
        }
    }

    /// Sends one request through the router; an exchange with status 0 when the test built
    /// an invalid one.
    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
        precondition: Option<Precondition>,
    ) -> Result<axum::response::Response, Exchange> {
        let mut request = Request::builder().method(method).uri(path);
        if let Some((name, value)) = precondition.map(Precondition::header) {
            request = request.header(name, value);
        }
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(text) => {
                request = request.header("content-type", "application/json");
                Body::from(text)
            }
            None => Body::empty(),
        };
        let request = request.body(body).map_err(|err| Exchange {
            status: 0,
            text: format!("the test built an invalid request: {err}"),
            json: Value::Null,
        })?;
        match self.router.clone().oneshot(request).await {
            Ok(response) => Ok(response),
            Err(never) => match never {},
        }
    }

    /// Serves the same project with `realtime` off everywhere (a hot reload): every open
    /// stream gets what was logged so far, then `event: gone`, and ends.
    pub async fn end_streams(&mut self) -> Result<(), String> {
        let mut ir = self.app.ir_now();
        for t in &mut ir.tables {
            t.realtime = false;
        }
        self.app
            .reload(ir, false)
            .await
            .map(|_| ())
            .map_err(|e| format!("reload without realtime: {e}"))
    }

    /// Inserts a fixture row as `owner` would own it (see [`App::seed`]).
    pub async fn seed(
        &self,
        table: &str,
        owner: Option<&User>,
        values: Map<String, Value>,
    ) -> Result<Value, String> {
        let claims = owner.map(|u| self.claims(u)).unwrap_or_default();
        self.app.seed(table, &claims, values).await
    }
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A whole answer, read.
async fn read(response: axum::response::Response) -> Exchange {
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Exchange {
        status,
        json: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

/// What `GET /api/T/subscribe` answered.
pub enum Subscribed {
    Open(Subscription),
    Refused(Exchange),
}

/// An open realtime stream, read event by event.
pub struct Subscription {
    body: Body,
    buf: String,
}

impl Subscription {
    /// The next event as `(event, data)`, skipping keep-alive comments; `None` when the stream
    /// ended; an error when none came within `wait`.
    pub async fn next(
        &mut self,
        wait: std::time::Duration,
    ) -> Result<Option<(String, Value)>, String> {
        use http_body_util::BodyExt;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut event, mut data) = (String::from("message"), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if data.is_empty() {
                    continue;
                }
                let data = serde_json::from_str(&data)
                    .map_err(|e| format!("an event's data is not JSON ({e}): {data}"))?;
                return Ok(Some((event, data)));
            }
            let frame = tokio::time::timeout(wait, self.body.frame())
                .await
                .map_err(|_| format!("no event within {wait:?}"))?;
            match frame {
                None => return Ok(None),
                Some(Err(e)) => return Err(format!("the stream failed: {e}")),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf.push_str(&String::from_utf8_lossy(&data));
                    }
                }
            }
        }
    }
}
