#![allow(clippy::unwrap_used)]

//! Several stateless ward instances behind a load balancer, one Postgres database: what one
//! instance writes the other serves, instances starting together migrate without conflict, and
//! racing writes through both never fail as internal errors. Postgres only; skipped with a notice
//! when `WARD_TEST_POSTGRES_URL` is unset.

use crate::common;

use common::db::{PgSchema, count, postgres_url};
use common::ir::*;
use serde_json::{Value, json};
use ward_runtime::{App, ServeOptions};

fn project() -> ward_ir::Ir {
    let notes = table("notes")
        .text("title")
        .col(ward_ir::Column {
            ..column("n", ward_ir::ColumnType::Integer)
        })
        .text("org")
        .scope("org", "org-id", "")
        .crud("member+")
        .createable(&["title", "n"])
        .updatable(&["title", "n"])
        .build();
    let tags = table("tags")
        .text("label")
        .crud("member+")
        .createable(&["label"])
        .build();
    ir(vec![notes, tags])
}

struct Instance {
    base: String,
}

async fn serve(app: App) -> Instance {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app.router()).await.unwrap();
    });
    Instance {
        base: format!("http://{addr}"),
    }
}

fn token(dir: &std::path::Path, ir: &ward_ir::Ir, org: &str) -> String {
    let secret = ward_runtime::secret::hs256_secret(ir, dir, false)
        .unwrap()
        .0;
    let claims = json!({
        "sub": "u1", "roles": ["member"], "org_id": org, "exp": common::now() + 3600
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&secret),
    )
    .unwrap()
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = client.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let res = r.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn two_instances_share_one_database() {
    if postgres_url().is_none() {
        eprintln!(
            "skipped: WARD_TEST_POSTGRES_URL is not set, so the two-instance test does not run"
        );
        return;
    }
    let schema = PgSchema::create();
    // One project directory: both instances share its configuration (and its dev secret).
    let dir = tempfile::tempdir().unwrap();
    let opts = ServeOptions {
        project_dir: dir.path().to_path_buf(),
        database_url: schema.url.clone(),
        require_secret: false,
        cors: Default::default(),
        limits: Default::default(),
        sqlite_sync: Default::default(),
    };
    let ir = project();

    // Both start at once on an empty schema: one migrates, the other waits and finds nothing to do.
    let (a, b) = tokio::join!(App::open(ir.clone(), &opts), App::open(ir.clone(), &opts));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        count(&schema.url, "SELECT count(*) FROM _ward_schema"),
        1,
        "the IR is recorded once"
    );
    assert_eq!(
        count(
            &schema.url,
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
        ),
        8,
        "notes, tags, _ward_schema, _ward_audit, the change log's three tables and the file queue, created once"
    );
    assert_eq!(
        count(
            &schema.url,
            "SELECT count(*) FROM information_schema.sequences WHERE sequence_schema = current_schema()"
        ),
        1,
        "the change log's numbers"
    );
    // A third instance starting later changes nothing either.
    App::open(ir.clone(), &opts).await.unwrap();
    assert_eq!(count(&schema.url, "SELECT count(*) FROM _ward_schema"), 1);

    let (a, b) = (serve(a).await, serve(b).await);
    let client = reqwest::Client::new();
    let acme = token(dir.path(), &ir, "acme");
    let globex = token(dir.path(), &ir, "globex");
    use reqwest::Method as M;

    // Written through A, served by B.
    let (status, created) = call(
        &client,
        M::POST,
        format!("{}/api/notes", a.base),
        &acme,
        Some(json!({"title": "from a", "n": 0})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    let (status, got) = call(
        &client,
        M::GET,
        format!("{}/api/notes/{id}", b.base),
        &acme,
        None,
    )
    .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["data"]["title"], "from a");
    // The firewall holds across instances: another tenant sees nothing through either.
    let (status, _) = call(
        &client,
        M::GET,
        format!("{}/api/notes/{id}", b.base),
        &globex,
        None,
    )
    .await;
    assert_eq!(status, 404);

    // Updated through B, listed by A.
    let (status, body) = call(
        &client,
        M::PATCH,
        format!("{}/api/notes/{id}", b.base),
        &acme,
        Some(json!({"title": "from b"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, list) = call(
        &client,
        M::GET,
        format!("{}/api/notes", a.base),
        &acme,
        None,
    )
    .await;
    assert_eq!(list["data"][0]["title"], "from b");

    // Forty racing updates of one row, alternating instances: each either wins or is answered
    // DATABASE_BUSY after its retries; none is an internal error, and the row ends up holding
    // one of the written values.
    let mut racing = tokio::task::JoinSet::new();
    for i in 0..40 {
        let base = if i % 2 == 0 {
            a.base.clone()
        } else {
            b.base.clone()
        };
        let (client, acme, id) = (client.clone(), acme.clone(), id.clone());
        racing.spawn(async move {
            call(
                &client,
                M::PATCH,
                format!("{base}/api/notes/{id}"),
                &acme,
                Some(json!({"n": i})),
            )
            .await
        });
    }
    let answers = racing.join_all().await;
    let won = answers.iter().filter(|(s, _)| *s == 200).count();
    for (status, body) in &answers {
        assert!(
            *status == 200 || (*status == 503 && body["code"] == "DATABASE_BUSY"),
            "{status} {body}"
        );
    }
    assert!(won > 0, "some update wins");
    let (_, got) = call(
        &client,
        M::GET,
        format!("{}/api/notes/{id}", a.base),
        &acme,
        None,
    )
    .await;
    let n = got["data"]["n"].as_i64().unwrap();
    assert!((0..40).contains(&n), "{got}");

    // Deleted through A (soft): gone from B too.
    let (status, _) = call(
        &client,
        M::DELETE,
        format!("{}/api/notes/{id}", a.base),
        &acme,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(
        &client,
        M::GET,
        format!("{}/api/notes/{id}", b.base),
        &acme,
        None,
    )
    .await;
    assert_eq!(status, 404);
}
