//! PocketBase with API rules equivalent to the bench project: the tenant check on every rule,
//! members and admins may create and update, a closed item refuses updates, `email` hidden (no
//! role sees it through the API, the nearest PocketBase has to ward's mask), soft-deleted rows
//! filtered out, request logs off, lists without a total (`skipTotal=1`).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::seed::{self, Dataset, TENANTS, Tenant};
use ward_bench::server::Server;

const SUPERUSER: &str = "bench@ward.local";
const PASSWORD: &str = "ward-bench-password";

const ITEMS: &str = r#"{
  "name": "items",
  "type": "base",
  "fields": [
    {"name": "name", "type": "text", "required": true, "max": 200},
    {"name": "status", "type": "text"},
    {"name": "amount", "type": "number", "onlyInt": true, "min": 0},
    {"name": "ratio", "type": "number"},
    {"name": "active", "type": "bool"},
    {"name": "dueOn", "type": "date"},
    {"name": "email", "type": "text", "hidden": true},
    {"name": "orgId", "type": "text"},
    {"name": "createdBy", "type": "text"},
    {"name": "deletedAt", "type": "date"},
    {"name": "created", "type": "autodate", "onCreate": true},
    {"name": "updated", "type": "autodate", "onCreate": true, "onUpdate": true}
  ],
  "indexes": [
    "CREATE INDEX idx_items_status ON items (status)",
    "CREATE INDEX idx_items_org ON items (orgId)",
    "CREATE INDEX idx_items_list ON items (orgId, status, amount)"
  ],
  "listRule": "@request.auth.org = orgId && deletedAt = \"\"",
  "viewRule": "@request.auth.org = orgId && deletedAt = \"\"",
  "createRule": "@request.auth.org = @request.body.orgId && @request.auth.id = @request.body.createdBy && (@request.auth.role = \"member\" || @request.auth.role = \"admin\")",
  "updateRule": "@request.auth.org = orgId && deletedAt = \"\" && status != \"closed\" && (@request.auth.role = \"member\" || @request.auth.role = \"admin\") && @request.body.orgId:isset = false && @request.body.createdBy:isset = false",
  "deleteRule": "@request.auth.org = orgId && @request.auth.role = \"admin\""
}"#;

/// Whether a `pocketbase` binary is on PATH.
pub fn available() -> bool {
    Command::new("pocketbase")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success())
}

pub fn serve(data_dir: &Path, port: u16) -> Command {
    let mut serve = Command::new("pocketbase");
    serve
        .args(["serve", "--http", &format!("127.0.0.1:{port}"), "--dir"])
        .arg(data_dir);
    serve
}

/// Creates a PocketBase data directory at `data_dir`, configured and seeded with `rows` items as
/// `seed::row` describes them; PocketBase is stopped again when this returns.
pub async fn seed(data_dir: &Path, rows: usize) -> anyhow::Result<Dataset> {
    let status = Command::new("pocketbase")
        .args(["superuser", "upsert", SUPERUSER, PASSWORD, "--dir"])
        .arg(data_dir)
        .output()
        .context("cannot run `pocketbase superuser upsert`")?;
    if !status.status.success() {
        bail!(
            "`pocketbase superuser upsert` failed: {}",
            String::from_utf8_lossy(&status.stderr)
        );
    }
    let port = ward_bench::server::free_port()?;
    let log = data_dir.with_extension("log");
    let mut server = Server::start(serve(data_dir, port), port, "/api/health", &log).await?;
    let api = Api {
        client: reqwest::Client::new(),
        url: server.url.clone(),
    };
    let admin = api.auth("_superusers", SUPERUSER).await?;
    api.send(
        "PATCH",
        "/api/settings",
        &admin,
        json!({"logs": {"maxDays": 0}}),
    )
    .await?;
    api.send(
        "POST",
        "/api/collections",
        &admin,
        json!({"name": "members", "type": "auth",
               "fields": [{"name": "org", "type": "text"}, {"name": "role", "type": "text"}]}),
    )
    .await?;
    api.send(
        "POST",
        "/api/collections",
        &admin,
        serde_json::from_str(ITEMS)?,
    )
    .await?;

    let per_tenant = rows.div_ceil(TENANTS.len());
    let mut tenants = Vec::new();
    for (org, user) in TENANTS {
        let email = format!("{user}@ward.local");
        let member = api
            .send(
                "POST",
                "/api/collections/members/records",
                &admin,
                json!({"email": email, "password": PASSWORD, "passwordConfirm": PASSWORD,
                       "org": org, "role": "member"}),
            )
            .await?;
        let member_id = member["id"]
            .as_str()
            .context("a member without an id")?
            .to_owned();
        let token = api.auth("members", &email).await?;
        let create_body =
            seed::create_body(&format!(r#","orgId":"{org}","createdBy":"{member_id}""#));
        let mut tenant = Tenant {
            org: org.to_owned(),
            authorization: token,
            read: Vec::new(),
            update: Vec::new(),
            create_body,
        };
        let created = api.seed(&admin, org, &member_id, per_tenant).await?;
        seed::collect_ids(&mut tenant, created.iter());
        tenants.push(tenant);
    }
    let dataset = Dataset {
        record: "/api/collections/items/records/".to_owned(),
        list: "/api/collections/items/records?filter=status%3D%27open%27&sort=-amount&perPage=50&skipTotal=1"
            .to_owned(),
        create: "/api/collections/items/records".to_owned(),
        tenants,
    };
    server.stop();
    Ok(dataset)
}

#[derive(Clone)]
struct Api {
    client: reqwest::Client,
    url: String,
}

impl Api {
    async fn send(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Value,
    ) -> anyhow::Result<Value> {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let answer = self
            .client
            .request(method, format!("{}{path}", self.url))
            .header("authorization", token)
            .json(&body)
            .send()
            .await?;
        let status = answer.status();
        let body: Value = answer.json().await?;
        if !status.is_success() {
            bail!("PocketBase answered {status} to {path}: {body}");
        }
        Ok(body)
    }

    async fn auth(&self, collection: &str, identity: &str) -> anyhow::Result<String> {
        let body = self
            .send(
                "POST",
                &format!("/api/collections/{collection}/auth-with-password"),
                "",
                json!({"identity": identity, "password": PASSWORD}),
            )
            .await?;
        Ok(body["token"]
            .as_str()
            .context("no token in the auth answer")?
            .to_owned())
    }

    /// Creates `rows` items for `org` with 16 requests in flight, answering the created records.
    async fn seed(
        &self,
        admin: &str,
        org: &str,
        member: &str,
        rows: usize,
    ) -> anyhow::Result<Vec<Value>> {
        let mut tasks = tokio::task::JoinSet::new();
        let lanes = 16;
        for lane in 0..lanes {
            let api = self.clone();
            let admin = admin.to_owned();
            let (org, member) = (org.to_owned(), member.to_owned());
            tasks.spawn(async move {
                let mut created = Vec::new();
                for i in (lane..rows).step_by(lanes) {
                    let mut record = seed::row(i);
                    record.insert("orgId".into(), json!(org));
                    record.insert("createdBy".into(), json!(member));
                    created.push(
                        api.send(
                            "POST",
                            "/api/collections/items/records",
                            &admin,
                            Value::Object(record),
                        )
                        .await?,
                    );
                }
                anyhow::Ok(created)
            });
        }
        let mut all = Vec::new();
        while let Some(lane) = tasks.join_next().await {
            all.extend(lane??);
        }
        Ok(all)
    }
}
