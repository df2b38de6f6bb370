//! The data every server is measured on: `rows` items over two tenants, and what the load
//! generator needs to address them (tokens, ids, paths, a create body).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// The two tenants: (organisation, user).
pub const TENANTS: [(&str, &str); 2] = [("org-a", "user-a"), ("org-b", "user-b")];
/// Seeded statuses cycle through these; a quarter of the rows are `closed`, which ward's update
/// rule (`when status ne "closed"`) and PocketBase's refuse, so updates aim at the others.
const STATUSES: [&str; 4] = ["open", "open", "done", "closed"];

pub struct Tenant {
    pub org: String,
    /// The whole `Authorization` header value.
    pub authorization: String,
    pub read: Vec<String>,
    pub update: Vec<String>,
    /// A JSON body with two `%d` slots (a counter, an amount), filled by the wrk script.
    pub create_body: String,
}

pub struct Dataset {
    /// Path prefix of a record: the id is appended.
    pub record: String,
    /// The list request: 50 rows, one filter, one sort.
    pub list: String,
    /// Where creates go.
    pub create: String,
    pub tenants: Vec<Tenant>,
}

/// The client-writable fields of seeded row `i`.
pub fn row(i: usize) -> serde_json::Map<String, Value> {
    let fields = json!({
        "name": format!("item {i}"),
        "status": STATUSES[i % STATUSES.len()],
        "amount": (i * 7919) % 100_000,
        "ratio": i as f64 / 7.0,
        "active": !i.is_multiple_of(3),
        "dueOn": format!("2026-{:02}-{:02}", i % 12 + 1, i % 28 + 1),
        "email": format!("person{i}@example.com"),
    });
    match fields {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// The body of a create, as a wrk format string with two `%d` slots (a counter, an amount);
/// `extra` adds members (`,"key":value…`) for a server that needs them.
pub fn create_body(extra: &str) -> String {
    format!(
        r#"{{"name":"bench %d","status":"open","amount":%d,"ratio":0.5,"active":true,"dueOn":"2026-12-01","email":"new@example.com"{extra}}}"#
    )
}

/// Signs a member token for `user` of `org` with the project's secret, through `ward token`.
pub fn ward_token(
    ward: &Path,
    project: &Path,
    secret: &str,
    user: &str,
    org: &str,
) -> anyhow::Result<String> {
    let out = Command::new(ward)
        .args(["token", "--project"])
        .arg(project)
        .args([
            "--sub", user, "--roles", "member", "--org", org, "--ttl", "1d",
        ])
        .env("WARD_BENCH_JWT_SECRET", secret)
        .output()
        .context("cannot run `ward token`")?;
    if !out.status.success() {
        bail!(
            "`ward token` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

/// Seeds `rows` items through ward's batch API (so they are exactly what ward stores) and
/// returns the dataset for ward's routes — the baseline serves the same routes.
pub async fn through_ward(url: &str, tokens: &[String], rows: usize) -> anyhow::Result<Dataset> {
    let client = reqwest::Client::new();
    let per_tenant = rows.div_ceil(TENANTS.len());
    let mut tenants = Vec::new();
    for ((org, _), token) in TENANTS.iter().zip(tokens) {
        let authorization = format!("Bearer {token}");
        let mut tenant = Tenant {
            org: (*org).to_owned(),
            authorization,
            read: Vec::new(),
            update: Vec::new(),
            create_body: create_body(""),
        };
        for start in (0..per_tenant).step_by(100) {
            let records: Vec<Value> = (start..(start + 100).min(per_tenant))
                .map(|i| Value::Object(row(i)))
                .collect();
            let answer = client
                .post(format!("{url}/api/items/batch"))
                .header("authorization", &tenant.authorization)
                .json(&json!({ "records": records }))
                .send()
                .await?;
            let status = answer.status();
            let body: Value = answer.json().await?;
            if status.as_u16() != 201 {
                bail!("seeding through ward answered {status}: {body}");
            }
            collect_ids(
                &mut tenant,
                body["success"].as_array().into_iter().flatten(),
            );
        }
        tenants.push(tenant);
    }
    Ok(Dataset {
        record: "/api/items/".to_owned(),
        list: "/api/items?status=open&sort=-amount&limit=50".to_owned(),
        create: "/api/items".to_owned(),
        tenants,
    })
}

/// Files each created row's id under `read`, and under `update` unless it is `closed`.
pub fn collect_ids<'a>(tenant: &mut Tenant, rows: impl Iterator<Item = &'a Value>) {
    for row in rows {
        let Some(id) = row["id"].as_str() else {
            continue;
        };
        tenant.read.push(id.to_owned());
        if row["status"] != "closed" {
            tenant.update.push(id.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_rows_are_read_but_not_updated() {
        let mut tenant = Tenant {
            org: "o".into(),
            authorization: String::new(),
            read: Vec::new(),
            update: Vec::new(),
            create_body: String::new(),
        };
        let rows: Vec<Value> = (0..8)
            .map(|i| {
                let mut r = row(i);
                r.insert("id".into(), json!(format!("id{i}")));
                Value::Object(r)
            })
            .collect();
        collect_ids(&mut tenant, rows.iter());
        assert_eq!(tenant.read.len(), 8);
        assert_eq!(tenant.update, ["id0", "id1", "id2", "id4", "id5", "id6"]);
    }
}
