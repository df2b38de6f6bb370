//! `GET /api/T/{id}/history` (SPEC §11): a row's versions, newest first, each image judged on
//! its own against today's policy and masked for the caller; `exclude`d columns never appear;
//! the `history` rule; cursor pagination; the one NOT_FOUND body for ids the caller may not see.

#![allow(clippy::unwrap_used)]

use crate::common;

use common::*;
use serde_json::{Value, json};
use ward_test_macros::backends;

const PROJECT: &str = r#"
auth { roles member editor }
table docs {
    column orgId text
    column title text
    column status text
    column email text
    column notes text
    firewall { scope orgId (auth)org-id }
    access {
        list member+
        read {
            any {
                role editor
                all {
                    role member
                    when status eq "published"
                }
            }
        }
        create editor
        update editor
    }
    guards {
        createable title status email notes
        updatable title status email notes
    }
    masking { mask email email show=editor }
    history { exclude notes; }
}
table logs {
    column orgId text
    column body text
    firewall { scope orgId (auth)org-id }
    access {
        read member+
        create member+
        delete member+
        history editor
    }
    guards { createable body; }
    delete hard
    history #true
}
table plain {
    column orgId text
    firewall { scope orgId (auth)org-id }
    access { read member+; create member+; }
    guards open
}
"#;

struct Case {
    s: Server,
    editor: String,
    member: String,
    stranger: String,
}

async fn case() -> Case {
    let s = start_kdl(PROJECT).await;
    Case {
        editor: s.token("eve", &["editor"], Some("acme")),
        member: s.token("max", &["member"], Some("acme")),
        stranger: s.token("sam", &["editor"], Some("globex")),
        s,
    }
}

async fn history(s: &Server, path: &str, token: &str) -> Value {
    let r = s.get(path, token).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text);
    r.json()
}

/// `op before.title→after.title` per listed version.
fn summary(page: &Value) -> Vec<String> {
    let title = |v: &Value| v["title"].as_str().unwrap_or("-").to_owned();
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            format!(
                "{} {}→{}",
                v["op"].as_str().unwrap(),
                title(&v["before"]),
                title(&v["after"])
            )
        })
        .collect()
}

#[backends]
async fn each_image_is_judged_on_its_own_and_masked() {
    let c = case().await;
    let s = &c.s;
    let id = id_str(
        &s.create(
            "docs",
            &c.editor,
            json!({"title": "v1", "status": "draft", "email": "ann@example.com", "notes": "n1"}),
        )
        .await,
    );
    let path = format!("/api/docs/{id}");
    for body in [
        json!({"title": "v2"}),
        json!({"status": "published"}),
        json!({"title": "v3", "notes": "n2"}),
        json!({"email": "amy@example.com"}),
        json!({"status": "draft"}),
        json!({"title": "secret"}),
        json!({"status": "published"}),
    ] {
        let r = s.patch(&path, &c.editor, body).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let hist = format!("{path}/history");

    // The editor reads every image: all eight versions, newest first, emails raw.
    let all = history(s, &hist, &c.editor).await;
    assert_eq!(
        summary(&all),
        [
            "update secret→secret",
            "update v3→secret",
            "update v3→v3",
            "update v3→v3",
            "update v2→v3",
            "update v2→v2",
            "update v1→v2",
            "insert -→v1",
        ]
    );
    let versions: Vec<i64> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert!(versions.windows(2).all(|w| w[0] > w[1]), "{versions:?}");
    assert_eq!(all["data"][3]["after"]["email"], "amy@example.com");
    assert_eq!(all["data"][0]["actor"], "eve");
    for v in all["data"].as_array().unwrap() {
        for image in [&v["before"], &v["after"]] {
            assert!(image.get("notes").is_none(), "excluded column shown: {v}");
        }
    }

    // The member reads only published images: the draft versions are gone, the edges of the
    // published times show one side, and the email change they could not see is not listed.
    let seen = history(s, &hist, &c.member).await;
    assert_eq!(
        summary(&seen),
        [
            "update -→secret",
            "update v3→-",
            "update v2→v3",
            "update -→v2",
        ]
    );
    assert_eq!(seen["data"][0]["before"], Value::Null);
    assert_eq!(seen["data"][1]["after"], Value::Null);
    let masked = seen["data"][1]["before"]["email"].as_str().unwrap();
    assert_ne!(masked, "amy@example.com", "masked for the member");
    assert!(!seen.to_string().contains("ann@example.com"));
    assert!(!seen.to_string().contains("amy@example.com"));

    // Another tenant: the one NOT_FOUND body, the same as for an id that does not exist.
    let foreign = s.get(&hist, &c.stranger).await;
    let missing = s
        .get(
            "/api/docs/00000000-0000-4000-8000-000000000000/history",
            &c.editor,
        )
        .await;
    assert_eq!(foreign.status, 404, "{}", foreign.text);
    assert_eq!(foreign.text, missing.text);
}

#[backends]
async fn pages_follow_the_cursor_without_repeats() {
    let c = case().await;
    let s = &c.s;
    let id = id_str(
        &s.create("docs", &c.editor, json!({"title": "t0", "status": "draft"}))
            .await,
    );
    for i in 1..=6 {
        let r = s
            .patch(
                &format!("/api/docs/{id}"),
                &c.editor,
                json!({"title": format!("t{i}")}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let mut seen = Vec::new();
    let mut next = format!("/api/docs/{id}/history?limit=3");
    loop {
        let page = history(s, &next, &c.editor).await;
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 3);
        seen.extend(data.iter().map(|v| v["version"].as_i64().unwrap()));
        match page["pagination"]["nextCursor"].as_str() {
            Some(cursor) => {
                assert_eq!(page["pagination"]["hasMore"], true);
                next = format!("/api/docs/{id}/history?limit=3&cursor={cursor}");
            }
            None => {
                assert_eq!(page["pagination"]["hasMore"], false);
                break;
            }
        }
    }
    assert_eq!(seen.len(), 7, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "{seen:?}");

    for bad in ["cursor=nope", "limit=x", "sort=title"] {
        let r = s
            .get(&format!("/api/docs/{id}/history?{bad}"), &c.editor)
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
}

#[backends]
async fn the_history_rule_and_hard_deleted_rows() {
    let c = case().await;
    let s = &c.s;
    let id = id_str(&s.create("logs", &c.member, json!({"body": "b"})).await);
    let hist = format!("/api/logs/{id}/history");
    // `history editor`: a member may read the row but not its history.
    assert_eq!(
        s.get(&format!("/api/logs/{id}"), &c.member).await.status,
        200
    );
    let r = s.get(&hist, &c.member).await;
    assert_eq!(r.status, 403, "{}", r.text);

    assert_eq!(
        s.delete(&format!("/api/logs/{id}"), &c.member).await.status,
        200
    );
    // Gone from the table, its history stays readable to whoever could read its last image.
    let page = history(s, &hist, &c.editor).await;
    assert_eq!(summary(&page), ["delete -→-", "insert -→-"]);
    assert_eq!(page["data"][0]["before"]["body"], "b");
    assert_eq!(page["data"][0]["after"], Value::Null);
    assert_eq!(page["data"][0]["actor"], "max");
    let r = s.get(&hist, &c.stranger).await;
    assert_eq!(r.status, 404, "{}", r.text);

    // A table without `history` has no such route.
    let plain = id_str(&s.create("plain", &c.member, json!({})).await);
    let r = s
        .get(&format!("/api/plain/{plain}/history"), &c.member)
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
}

#[backends]
async fn retention_sweeps_old_versions_and_purges_erase_what_they_name() {
    let c = case().await;
    let s = &c.s;
    // `docs` keeps its versions 30 days; `logs` until they are purged.
    let project = PROJECT.replace(
        "history { exclude notes; }",
        "history { keep \"30d\"; exclude notes; }",
    );
    let out = ward_compiler::compile(&ward_compiler::Sources::single("project.kdl", &project));
    let ir = out.ir.unwrap();
    s.app.reload(ir.clone(), false).await.unwrap();
    // More versions than one erase batch holds.
    for _ in 0..6 {
        let records: Vec<Value> = (0..100)
            .map(|i| json!({"title": format!("t{i}")}))
            .collect();
        let r = s
            .post("/api/docs/batch", &c.editor, json!({ "records": records }))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let doc = id_str(&s.create("docs", &c.editor, json!({"title": "kept"})).await);
    let logs = [
        id_str(&s.create("logs", &c.member, json!({"body": "a"})).await),
        id_str(&s.create("logs", &c.editor, json!({"body": "b"})).await),
        id_str(&s.create("logs", &c.editor, json!({"body": "c"})).await),
    ];
    let now = chrono::Utc::now();
    assert_eq!(
        s.app
            .sweep_history(now + chrono::Duration::days(29))
            .await
            .unwrap(),
        0
    );
    assert_eq!(s.app.change_log("docs").await.unwrap().len(), 601);
    let erased = s
        .app
        .sweep_history(now + chrono::Duration::days(31))
        .await
        .unwrap();
    assert_eq!(erased, 601);
    assert!(s.app.change_log("docs").await.unwrap().is_empty());
    assert_eq!(
        s.app.change_log("logs").await.unwrap().len(),
        3,
        "no `keep`"
    );
    // The row is still there and readable: an empty history, not NOT_FOUND.
    let page = history(s, &format!("/api/docs/{doc}/history"), &c.editor).await;
    assert_eq!(page["data"], json!([]));

    // `ward history purge`: by row, by actor, by date.
    let highest = |log: &[Value]| log.iter().filter_map(|r| r["seq"].as_i64()).max();
    let before_purge = highest(&s.app.change_log("logs").await.unwrap()).unwrap();
    let url = s.db.options(s.dir.path()).database_url;
    let purge = |what| ward_runtime::purge_history(ir.clone(), &url, "logs", what);
    let erased = purge(ward_runtime::HistoryPurge::Row(logs[0].clone()))
        .await
        .unwrap();
    assert_eq!(erased, 1);
    let erased = purge(ward_runtime::HistoryPurge::Actor("eve".into()))
        .await
        .unwrap();
    assert_eq!(erased, 2);
    assert!(s.app.change_log("logs").await.unwrap().is_empty());
    s.create("logs", &c.member, json!({"body": "d"})).await;
    // Numbers go on from the highest ever given, not from what is left: a resume from 3 must
    // never be handed a new record numbered 3 or below.
    let next = s.app.change_log("logs").await.unwrap();
    assert_eq!(next.len(), 1);
    assert!(highest(&next).unwrap() > before_purge, "{next:?}");
    let before = |t: chrono::DateTime<chrono::Utc>| {
        ward_runtime::HistoryPurge::Before(ward_ir::time::datetime_text(&t))
    };
    assert_eq!(
        purge(before(now - chrono::Duration::days(1)))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        purge(before(now + chrono::Duration::days(1)))
            .await
            .unwrap(),
        1
    );
    let nothing = purge(ward_runtime::HistoryPurge::Row("x".into())).await;
    assert_eq!(nothing.unwrap(), 0, "an id without versions erases nothing");
    let plain = ward_runtime::purge_history(ir.clone(), &url, "plain", before(now)).await;
    assert!(plain.is_err(), "a table without history is refused");
}
