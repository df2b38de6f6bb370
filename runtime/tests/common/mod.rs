#![allow(clippy::unwrap_used)]

//! Shared test harness: an `App` in a tempdir served on an ephemeral port, plus token minting.

#![allow(dead_code)]

pub mod db;
pub mod ir;

use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use ward_runtime::{App, ServeOptions};

pub struct Server {
    pub base: String,
    pub dir: tempfile::TempDir,
    pub secret: Vec<u8>,
    pub client: reqwest::Client,
    /// The test's database (a Postgres schema is dropped with it).
    pub db: db::TestDb,
    /// The served app (to reload it).
    pub app: App,
}

pub struct Resp {
    pub status: u16,
    pub text: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Resp {
    /// An answer read whole.
    pub async fn read(res: reqwest::Response) -> Resp {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        Resp {
            status,
            text,
            headers,
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
    pub fn code(&self) -> String {
        self.json()["error"]
            .as_str()
            .map(|_| self.json()["code"].as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    }
}

/// Compiles one KDL project (it must compile without errors) and serves it.
pub async fn start_kdl(kdl: &str) -> Server {
    let out = ward_compiler::compile(&ward_compiler::Sources::single("project.kdl", kdl));
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    start(out.ir.unwrap()).await
}

pub async fn start(ir: ward_ir::Ir) -> Server {
    start_in(tempfile::tempdir().unwrap(), ir).await
}

/// Options on SQLite in `dir`, for tests that fail before any database is opened.
pub fn serve_options(dir: &std::path::Path) -> ServeOptions {
    ServeOptions {
        project_dir: dir.to_path_buf(),
        database_url: format!("sqlite://{}", dir.join(".ward/data.db").display()),
        require_secret: false,
        cors: Default::default(),
        limits: Default::default(),
        sqlite_sync: Default::default(),
    }
}

/// Like [`start`], in a project directory the caller prepared (e.g. with key files). `secret` is
/// empty unless the IR verifies with an HS256 secret.
pub async fn start_in(dir: tempfile::TempDir, ir: ward_ir::Ir) -> Server {
    start_configured(dir, ir, |_| {}).await
}

/// Like [`start`], with the serve options changed by `configure` first.
pub async fn start_with(ir: ward_ir::Ir, configure: impl FnOnce(&mut ServeOptions)) -> Server {
    start_configured(tempfile::tempdir().unwrap(), ir, configure).await
}

async fn start_configured(
    dir: tempfile::TempDir,
    ir: ward_ir::Ir,
    configure: impl FnOnce(&mut ServeOptions),
) -> Server {
    let db = db::TestDb::new(dir.path());
    start_on(dir, db, ir, configure).await
}

/// Serves `ir` on a database the test has prepared already.
pub async fn start_on(
    dir: tempfile::TempDir,
    db: db::TestDb,
    ir: ward_ir::Ir,
    configure: impl FnOnce(&mut ServeOptions),
) -> Server {
    let mut opts = db.options(dir.path());
    configure(&mut opts);
    let secret = match ir.auth.jwt.key {
        ward_ir::JwtKey::Secret { .. } => {
            ward_runtime::secret::hs256_secret(&ir, dir.path(), false)
                .unwrap()
                .0
        }
        _ => Vec::new(),
    };
    let app = App::open(ir, &opts).await.unwrap();
    let served = app.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // The server a user runs: ward's own connection handling, not a bare axum::serve.
    tokio::spawn(async move {
        ward_runtime::serve_until(served, listener, std::future::pending())
            .await
            .unwrap();
    });
    Server {
        base: format!("http://{addr}"),
        dir,
        secret,
        client: reqwest::Client::new(),
        db,
        app,
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

impl Server {
    pub fn sign(&self, claims: Value) -> String {
        jsonwebtoken::encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(&self.secret),
        )
        .unwrap()
    }

    /// A valid token for `sub` with `roles` and, when given, an `org_id`.
    pub fn token(&self, sub: &str, roles: &[&str], org: Option<&str>) -> String {
        let mut c = json!({ "sub": sub, "roles": roles, "exp": now() + 3600 });
        if let Some(o) = org {
            c["org_id"] = json!(o);
        }
        self.sign(c)
    }

    pub async fn req(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        self.req_with(method, path, token, body, &[]).await
    }

    /// [`Server::req`] with extra request headers.
    pub async fn req_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = self.client.request(m, format!("{}{}", self.base, path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        for (name, value) in headers {
            r = r.header(*name, *value);
        }
        Resp::read(r.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.req("GET", path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.req("POST", path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Resp {
        self.req("PATCH", path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.req("DELETE", path, Some(token), None).await
    }

    /// Creates a row and returns its id, asserting 201.
    pub async fn create(&self, table: &str, token: &str, body: Value) -> Value {
        let r = self.post(&format!("/api/{table}"), token, body).await;
        assert_eq!(r.status, 201, "create failed: {}", r.text);
        r.json()["data"]["id"].clone()
    }
}

pub fn id_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
