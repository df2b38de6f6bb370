#![allow(clippy::unwrap_used)]

//! `App::reload`, the heart of `ward dev`: a new IR is migrated to and swapped in atomically;
//! anything that could lose data, or any IR that cannot be served, leaves the old one serving.

use crate::common;

use common::ir::*;
use common::*;
use serde_json::json;
use ward_ir::{Column, ColumnType, Operation};
use ward_runtime::ReloadError;
use ward_test_macros::backends;

fn notes(extra: &[Column], read: &str) -> ward_ir::Table {
    let mut t = table("notes").text("title");
    let mut writable = vec!["title".to_owned()];
    for c in extra {
        writable.push(c.name.clone());
        t = t.col(c.clone());
    }
    let writable: Vec<&str> = writable.iter().map(String::as_str).collect();
    t.crud("member+")
        .access(Operation::Read, rule(read))
        .access(Operation::List, rule(read))
        .createable(&writable)
        .updatable(&writable)
        .build()
}

fn version(tables: Vec<ward_ir::Table>, hash: &str) -> ward_ir::Ir {
    let mut ir = ir(tables);
    ir.hash = hash.into();
    ir
}

async fn health(s: &Server) -> String {
    let r = s.req("GET", "/healthz", None, None).await;
    r.json()["ir"].as_str().unwrap_or_default().to_owned()
}

#[backends]
async fn a_new_column_table_and_rule_serve_at_once() {
    let s = start(version(vec![notes(&[], "admin")], "v1")).await;
    let member = s.token("u1", &["member"], None);
    let id = s.create("notes", &member, json!({"title": "a"})).await;
    let r = s.get(&format!("/api/notes/{}", id_str(&id)), &member).await;
    assert_eq!(r.status, 403, "members may not read yet: {}", r.text);

    let priority = column("priority", ColumnType::Integer);
    let tags = table("tags")
        .text("label")
        .crud("member+")
        .createable(&["label"])
        .build();
    let done = s
        .app
        .reload(
            version(vec![notes(&[priority], "member+"), tags], "v2"),
            false,
        )
        .await
        .unwrap();
    assert_eq!(
        (done.from_hash.as_str(), done.to_hash.as_str()),
        ("v1", "v2")
    );
    assert_eq!(
        done.changes,
        vec!["notes: +column priority, access, guards", "+table tags"]
    );
    assert!(!done.plan.is_destructive());
    assert_eq!(health(&s).await, "v2");

    // The new rule, column and table answer.
    let r = s.get(&format!("/api/notes/{}", id_str(&id)), &member).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["data"]["priority"], json!(null));
    let r = s
        .post("/api/notes", &member, json!({"title": "b", "priority": 3}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["data"]["priority"], 3);
    s.create("tags", &member, json!({"label": "x"})).await;
}

#[backends]
async fn a_rename_keeps_the_data() {
    let s = start(version(vec![notes(&[], "member+")], "v1")).await;
    let member = s.token("u1", &["member"], None);
    let id = id_str(&s.create("notes", &member, json!({"title": "kept"})).await);
    let mut renamed = notes(&[], "member+");
    for c in &mut renamed.columns {
        if c.name == "title" {
            c.name = "heading".into();
            c.was = Some("title".into());
        }
    }
    renamed.guards.createable = vec!["heading".into()];
    renamed.guards.updatable = vec!["heading".into()];
    let done = s
        .app
        .reload(version(vec![renamed], "v2"), false)
        .await
        .unwrap();
    assert_eq!(done.changes, vec!["notes: title → heading, guards"]);
    let r = s.get(&format!("/api/notes/{id}"), &member).await;
    assert_eq!(r.json()["data"]["heading"], "kept", "{}", r.text);
}

#[backends]
async fn a_destructive_edit_is_refused_and_the_data_stays() {
    let extra = column("extra", ColumnType::Text);
    let s = start(version(vec![notes(&[extra], "member+")], "v1")).await;
    let member = s.token("u1", &["member"], None);
    let id = id_str(
        &s.create("notes", &member, json!({"title": "t", "extra": "keep me"}))
            .await,
    );
    let err = s
        .app
        .reload(version(vec![notes(&[], "member+")], "v2"), false)
        .await
        .unwrap_err();
    let ReloadError::Destructive(plan) = &err else {
        panic!("{err}")
    };
    assert!(plan.is_destructive());
    assert!(
        err.to_string().contains("drop column `notes.extra`"),
        "{err}"
    );
    assert!(err.to_string().contains("--allow-destructive"), "{err}");
    assert_eq!(health(&s).await, "v1", "the old IR keeps serving");
    let r = s.get(&format!("/api/notes/{id}"), &member).await;
    assert_eq!(r.json()["data"]["extra"], "keep me", "{}", r.text);

    // Allowed, it happens: the column and its values are gone.
    s.app
        .reload(version(vec![notes(&[], "member+")], "v3"), true)
        .await
        .unwrap();
    assert_eq!(health(&s).await, "v3");
    let r = s.get(&format!("/api/notes/{id}"), &member).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json()["data"].get("extra").is_none(), "{}", r.text);
}

#[backends]
async fn a_type_change_converts_the_values_when_allowed() {
    let count = column("count", ColumnType::Integer);
    let s = start(version(vec![notes(&[count], "member+")], "v1")).await;
    let member = s.token("u1", &["member"], None);
    let id = id_str(
        &s.create("notes", &member, json!({"title": "t", "count": 42}))
            .await,
    );
    let as_text = column("count", ColumnType::Text);
    let err = s
        .app
        .reload(
            version(vec![notes(std::slice::from_ref(&as_text), "member+")], "v2"),
            false,
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("change the type of `notes.count`"),
        "{err}"
    );
    s.app
        .reload(version(vec![notes(&[as_text], "member+")], "v2"), true)
        .await
        .unwrap();
    let r = s.get(&format!("/api/notes/{id}"), &member).await;
    assert_eq!(r.json()["data"]["count"], "42", "{}", r.text);
}

#[backends]
async fn an_ir_that_cannot_be_served_leaves_the_old_one() {
    let s = start(version(vec![notes(&[], "member+")], "v1")).await;
    let mut broken = notes(&[], "member+");
    broken.firewall.scopes.push(ward_ir::Scope {
        column: "nowhere".into(),
        auth: "org-id".into(),
        bypass: Vec::new(),
    });
    let err = s
        .app
        .reload(version(vec![broken], "v2"), false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nowhere"), "{err}");
    assert_eq!(health(&s).await, "v1");
}

/// 100 reloads while a client loops requests valid under every version: not one fails.
#[backends]
async fn a_hundred_reloads_under_load_fail_no_request() {
    let s = start(version(vec![notes(&[], "member+")], "v0")).await;
    let member = s.token("u1", &["member"], None);
    let id = id_str(&s.create("notes", &member, json!({"title": "x"})).await);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = tokio::task::JoinSet::new();
    for k in 0..4 {
        let (base, token, id, stop) = (s.base.clone(), member.clone(), id.clone(), stop.clone());
        clients.spawn(async move {
            let client = reqwest::Client::new();
            let (mut ok, mut failed) = (0u32, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = if k % 2 == 0 {
                    client
                        .get(format!("{base}/api/notes/{id}"))
                        .bearer_auth(&token)
                        .send()
                        .await
                } else {
                    client
                        .post(format!("{base}/api/notes"))
                        .bearer_auth(&token)
                        .json(&json!({"title": "y"}))
                        .send()
                        .await
                };
                match r {
                    Ok(r) if r.status().is_success() => ok += 1,
                    Ok(r) => failed.push(format!(
                        "{} {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    )),
                    Err(e) => failed.push(e.to_string()),
                }
            }
            (ok, failed)
        });
    }
    let started = std::time::Instant::now();
    for i in 1..=100 {
        // Alternate page sizes: a policy-only change, so every version accepts every request.
        let mut t = notes(&[], "member+");
        t.page.default = if i % 2 == 0 { 50 } else { 20 };
        s.app
            .reload(version(vec![t], &format!("v{i}")), false)
            .await
            .unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = 0;
    for (ok, failed) in clients.join_all().await {
        assert!(
            failed.is_empty(),
            "failed requests during reloads: {failed:?}"
        );
        total += ok;
    }
    assert!(total > 0, "the clients sent requests during the reloads");
    assert_eq!(health(&s).await, "v100");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(120),
        "100 reloads took {:?}",
        started.elapsed()
    );
}
