//! Realtime (SPEC §12): `GET /api/T/subscribe` and `GET /api/subscribe?tables=…` stream, as
//! Server-Sent Events, the committed changes of rows each subscriber may list — judged on each
//! image, masked as a list masks them, `enter`/`leave` as rows move in and out of view — and
//! a reconnect with the last id replays exactly what it missed.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use crate::common;

use common::*;
use serde_json::{Value, json};
use ward_test_macros::backends;

const PROJECT: &str = r#"
auth { roles member editor }
table tasks {
    column orgId text
    column title text
    column status text
    column email text
    firewall { scope orgId (auth)org-id }
    access {
        list {
            any {
                role editor
                all {
                    role member
                    when status eq "open"
                }
            }
        }
        read member+
        create member+
        update member+
        delete member+
    }
    guards {
        createable title status email
        updatable title status email
    }
    masking { mask email email show=editor }
    unique title
    batch max=10 atomic=#true
    realtime #true
}
table notes {
    column orgId text
    column body text
    firewall { scope orgId (auth)org-id }
    access { list member+; read member+; create member+; delete member+; }
    guards { createable body; }
    delete hard
    batch max=1000
    realtime #true
}
table quiet {
    column orgId text
    firewall { scope orgId (auth)org-id }
    access { list member+; create member+; }
    guards open
}
"#;

/// One Server-Sent Event.
#[derive(Debug, Clone)]
struct Ev {
    event: String,
    id: Option<String>,
    data: Value,
}

/// A subscription read event by event.
struct Stream {
    res: reqwest::Response,
    buf: String,
}

impl Stream {
    /// The next event, skipping keep-alive comments; `None` when the stream ended.
    async fn next(&mut self) -> Option<Ev> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut event, mut id, mut data) = (String::from("message"), None, String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if data.is_empty() {
                    continue;
                }
                return Some(Ev {
                    event,
                    id,
                    data: serde_json::from_str(&data).unwrap(),
                });
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.res.chunk())
                .await
                .expect("no event within 10 s")
                .unwrap()?;
            self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next event, which must be `event` about row `id`.
    async fn expect(&mut self, event: &str, id: &Value) -> Ev {
        let ev = self.next().await.expect("the stream ended");
        assert_eq!((ev.event.as_str(), &ev.data["id"]), (event, id), "{ev:?}");
        ev
    }
}

async fn subscribe(
    s: &Server,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> Stream {
    let mut r = s.client.get(format!("{}{}", s.base, path));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let res = r.send().await.unwrap();
    assert_eq!(res.status(), 200, "{path}");
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    assert_eq!(res.headers()["cache-control"], "no-store");
    Stream {
        res,
        buf: String::new(),
    }
}

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

#[backends]
async fn events_follow_the_list_policy_and_its_masks() {
    let c = case().await;
    let s = &c.s;
    let mut editor = subscribe(s, "/api/tasks/subscribe", Some(&c.editor), &[]).await;
    let mut member = subscribe(s, "/api/tasks/subscribe", Some(&c.member), &[]).await;
    let mut stranger = subscribe(s, "/api/tasks/subscribe", Some(&c.stranger), &[]).await;

    let body = json!({"title": "t1", "status": "open", "email": "ann@example.com"});
    let id = s.create("tasks", &c.member, body).await;
    let ev = editor.expect("insert", &id).await;
    assert_eq!(ev.data["table"], "tasks");
    assert_eq!(ev.data["record"]["email"], "ann@example.com");
    assert_eq!(ev.data["record"]["title"], "t1");
    let ev = member.expect("insert", &id).await;
    assert_eq!(
        ev.data["record"]["email"], "a**@e******.com",
        "masked as a list masks it"
    );
    assert_eq!(ev.id, editor_id(&ev));

    let path = format!("/api/tasks/{}", id_str(&id));
    // Out of the member's view: they learn only that it left, not what it became.
    let r = s
        .patch(&path, &c.member, json!({"status": "closed", "title": "t2"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        editor.expect("update", &id).await.data["record"]["status"],
        "closed"
    );
    let ev = member.expect("leave", &id).await;
    assert_eq!(ev.data, json!({"table": "tasks", "id": id}));

    // Changes they cannot list reach only the editor.
    s.patch(&path, &c.editor, json!({"title": "t3"})).await;
    assert_eq!(
        editor.expect("update", &id).await.data["record"]["title"],
        "t3"
    );

    // Back in view: the whole row, masked.
    s.patch(&path, &c.editor, json!({"status": "open"})).await;
    editor.expect("update", &id).await;
    let ev = member.expect("enter", &id).await;
    assert_eq!(ev.data["record"]["title"], "t3");
    assert_eq!(ev.data["record"]["email"], "a**@e******.com");

    // A change of a column masked for the member is none of theirs.
    s.patch(&path, &c.editor, json!({"email": "amy@example.com"}))
        .await;
    assert_eq!(
        editor.expect("update", &id).await.data["record"]["email"],
        "amy@example.com"
    );

    // A soft delete is a delete to whoever could list the row.
    let r = s.delete(&path, &c.member).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        editor.expect("delete", &id).await.data,
        json!({"table": "tasks", "id": id})
    );
    member.expect("delete", &id).await;

    // The other tenant saw none of it: their first event is their own row.
    let theirs = s
        .create(
            "tasks",
            &c.stranger,
            json!({"title": "g", "status": "open"}),
        )
        .await;
    stranger.expect("insert", &theirs).await;
    // And nobody in acme sees theirs: the next event each gets is a later acme row.
    let later = s
        .create("tasks", &c.member, json!({"title": "t4", "status": "open"}))
        .await;
    member.expect("insert", &later).await;
    editor.expect("insert", &later).await;
}

fn editor_id(ev: &Ev) -> Option<String> {
    ev.id.clone()
}

#[backends]
async fn hard_deletes_reach_exactly_those_who_could_list_the_row() {
    let c = case().await;
    let s = &c.s;
    let mut member = subscribe(s, "/api/notes/subscribe", Some(&c.member), &[]).await;
    let mut stranger = subscribe(s, "/api/notes/subscribe", Some(&c.stranger), &[]).await;
    let id = s.create("notes", &c.member, json!({"body": "b"})).await;
    member.expect("insert", &id).await;
    let r = s
        .delete(&format!("/api/notes/{}", id_str(&id)), &c.member)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ev = member.expect("delete", &id).await;
    assert_eq!(ev.data, json!({"table": "notes", "id": id}));
    let theirs = s.create("notes", &c.stranger, json!({"body": "g"})).await;
    stranger.expect("insert", &theirs).await;
}

#[backends]
async fn a_reconnect_replays_exactly_what_it_missed() {
    let c = case().await;
    let s = &c.s;
    let mut first = subscribe(s, "/api/tasks/subscribe", Some(&c.member), &[]).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let body = json!({"title": format!("t{i}"), "status": "open"});
        ids.push(s.create("tasks", &c.member, body).await);
    }
    let mut seen = Vec::new();
    for id in &ids {
        seen.push(first.expect("insert", id).await.id.unwrap());
    }
    drop(first);
    // Missed while away: one visible, one not, one visible.
    let missed = s
        .create("tasks", &c.member, json!({"title": "m1", "status": "open"}))
        .await;
    s.create(
        "tasks",
        &c.member,
        json!({"title": "hidden", "status": "closed"}),
    )
    .await;
    let missed2 = s
        .create("tasks", &c.member, json!({"title": "m2", "status": "open"}))
        .await;

    // From the second event on: the third, then what was missed, once each, in order.
    let mut again = subscribe(
        s,
        "/api/tasks/subscribe",
        Some(&c.member),
        &[("last-event-id", &seen[1])],
    )
    .await;
    again.expect("insert", &ids[2]).await;
    again.expect("insert", &missed).await;
    let last = again.expect("insert", &missed2).await;
    // Then live.
    let live = s
        .create("tasks", &c.member, json!({"title": "l", "status": "open"}))
        .await;
    again.expect("insert", &live).await;

    // `?after=` does the same; the header wins over it (a browser's reconnect keeps the URL).
    let path = format!("/api/tasks/subscribe?after={}", seen[0]);
    let mut by_query = subscribe(s, &path, Some(&c.member), &[]).await;
    by_query.expect("insert", &ids[1]).await;
    let last_id = last.id.unwrap();
    let mut header_wins =
        subscribe(s, &path, Some(&c.member), &[("last-event-id", &last_id)]).await;
    header_wins.expect("insert", &live).await;

    // An id the log never had: start over.
    let mut future = subscribe(
        s,
        "/api/tasks/subscribe?after=999999999",
        Some(&c.member),
        &[],
    )
    .await;
    let ev = future.next().await.unwrap();
    assert_eq!(
        (ev.event.as_str(), &ev.data),
        ("reset", &json!({"table": "tasks"}))
    );
}

#[backends]
async fn a_resume_past_what_retention_erased_is_told_to_start_over() {
    let c = case().await;
    let s = &c.s;
    let mut first = subscribe(s, "/api/notes/subscribe", Some(&c.member), &[]).await;
    let id = s.create("notes", &c.member, json!({"body": "b"})).await;
    let seen = first.expect("insert", &id).await.id.unwrap();
    drop(first);
    s.create("notes", &c.member, json!({"body": "b2"})).await;
    // A realtime table without history keeps its records for a day.
    let erased = s
        .app
        .sweep_history(chrono::Utc::now() + chrono::Duration::days(2))
        .await
        .unwrap();
    assert_eq!(erased, 2);
    let mut again = subscribe(
        s,
        "/api/notes/subscribe",
        Some(&c.member),
        &[("last-event-id", &seen)],
    )
    .await;
    let ev = again.next().await.unwrap();
    assert_eq!(ev.event, "reset");
    // Live after the reset.
    let next = s.create("notes", &c.member, json!({"body": "b3"})).await;
    again.expect("insert", &next).await;
}

#[backends]
async fn filters_narrow_a_stream_and_masked_columns_are_refused() {
    let c = case().await;
    let s = &c.s;
    let mut narrow = subscribe(
        s,
        "/api/tasks/subscribe?title.like=KEEP",
        Some(&c.editor),
        &[],
    )
    .await;
    s.create(
        "tasks",
        &c.editor,
        json!({"title": "drop me", "status": "open"}),
    )
    .await;
    let kept = s
        .create(
            "tasks",
            &c.editor,
            json!({"title": "keep me", "status": "open"}),
        )
        .await;
    narrow.expect("insert", &kept).await;

    let r = s
        .get("/api/tasks/subscribe?email.eq=ann@example.com", &c.member)
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "VALIDATION_FIELD_NOT_QUERYABLE".to_owned()),
        "{}",
        r.text
    );
    // `FIELD=V` is `FIELD.eq=V`, as on a list.
    let mut exact = subscribe(s, "/api/tasks/subscribe?title=exact", Some(&c.editor), &[]).await;
    s.create(
        "tasks",
        &c.editor,
        json!({"title": "exactly not", "status": "open"}),
    )
    .await;
    let hit = s
        .create(
            "tasks",
            &c.editor,
            json!({"title": "exact", "status": "open"}),
        )
        .await;
    exact.expect("insert", &hit).await;
    let r = s.get("/api/tasks/subscribe?limit=5", &c.member).await;
    assert_eq!(
        (r.status, r.code()),
        (400, "VALIDATION_BAD_QUERY".to_owned()),
        "{}",
        r.text
    );
}

#[backends]
async fn refusals_answer_before_any_stream_opens() {
    let c = case().await;
    let s = &c.s;
    // A table that does not stream, or does not exist: the one NOT_FOUND body.
    for path in [
        "/api/quiet/subscribe",
        "/api/nope/subscribe",
        "/api/subscribe?tables=tasks,quiet",
    ] {
        let r = s.get(path, &c.member).await;
        assert_eq!(r.status, 404, "{path}: {}", r.text);
        assert_eq!(r.text, ward_runtime::NOT_FOUND_BODY, "{path}");
    }
    // The list rule decides: anonymous callers and roles without `list` are refused.
    let r = s.req("GET", "/api/tasks/subscribe", None, None).await;
    assert_eq!(
        (r.status, r.code()),
        (401, "AUTH_MISSING".to_owned()),
        "{}",
        r.text
    );
    let nobody = s.token("nob", &[], Some("acme"));
    let r = s.get("/api/tasks/subscribe", &nobody).await;
    assert_eq!(r.status, 403, "{}", r.text);
    // A caller without the claim the firewall scopes by, as on a list.
    let homeless = s.token("hom", &["member"], None);
    let r = s.get("/api/tasks/subscribe", &homeless).await;
    let list = s.get("/api/tasks", &homeless).await;
    assert_eq!(
        (r.status, r.code()),
        (list.status, list.code()),
        "{}",
        r.text
    );
    assert_eq!(r.code(), "FIREWALL_SCOPE_MISSING");
    // A token never travels in the URL: it authenticates nobody, and is no parameter either.
    let r = s
        .req(
            "GET",
            &format!("/api/tasks/subscribe?token={}", c.member),
            None,
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (401, "AUTH_MISSING".to_owned()),
        "{}",
        r.text
    );
    let r = s
        .get(
            &format!("/api/tasks/subscribe?token={}", c.member),
            &c.member,
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "VALIDATION_BAD_QUERY".to_owned()),
        "{}",
        r.text
    );
    for bad in ["?after=x", "?after=-1", "?after=1&after=2"] {
        let r = s
            .get(&format!("/api/tasks/subscribe{bad}"), &c.member)
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
    let r = s.get("/api/subscribe", &c.member).await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = s
        .get("/api/subscribe?tables=tasks&title.eq=x", &c.member)
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
}

#[backends]
async fn a_ticket_opens_one_stream_as_its_caller() {
    let c = case().await;
    let s = &c.s;
    let r = s
        .req("POST", "/api/subscribe/ticket", Some(&c.member), None)
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["expiresIn"], 60);
    let ticket = r.json()["ticket"].as_str().unwrap().to_owned();
    let path = format!("/api/tasks/subscribe?ticket={ticket}");
    let mut stream = subscribe(s, &path, None, &[]).await;
    let id = s
        .create(
            "tasks",
            &c.member,
            json!({"title": "t", "status": "open", "email": "ann@example.com"}),
        )
        .await;
    let ev = stream.expect("insert", &id).await;
    assert_eq!(
        ev.data["record"]["email"], "a**@e******.com",
        "as the member, masked"
    );
    // Used once.
    let r = s.req("GET", &path, None, None).await;
    assert_eq!(
        (r.status, r.code()),
        (401, "AUTH_INVALID_TOKEN".to_owned()),
        "{}",
        r.text
    );
    // Not with a header besides, and not for anonymous callers.
    let r = s
        .req("POST", "/api/subscribe/ticket", Some(&c.member), None)
        .await;
    let other = r.json()["ticket"].as_str().unwrap().to_owned();
    let r = s
        .get(&format!("/api/tasks/subscribe?ticket={other}"), &c.member)
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = s.req("POST", "/api/subscribe/ticket", None, None).await;
    assert_eq!(r.status, 401, "{}", r.text);
}

#[backends]
async fn a_multi_table_stream_resumes_from_its_pairs() {
    let c = case().await;
    let s = &c.s;
    let path = "/api/subscribe?tables=tasks,notes";
    let mut both = subscribe(s, path, Some(&c.member), &[]).await;
    let task = s
        .create("tasks", &c.member, json!({"title": "t", "status": "open"}))
        .await;
    let first = both.expect("insert", &task).await;
    assert_eq!(first.data["table"], "tasks");
    let note = s.create("notes", &c.member, json!({"body": "n"})).await;
    let ev = both.expect("insert", &note).await;
    assert_eq!(ev.data["table"], "notes");
    let id = first.id.unwrap();
    assert!(id.starts_with("tasks:") && id.contains(",notes:"), "{id}");
    drop(both);
    let mut again = subscribe(s, path, Some(&c.member), &[("last-event-id", &id)]).await;
    again.expect("insert", &note).await;
    let r = s
        .get("/api/subscribe?tables=tasks,notes&after=quiet:1", &c.member)
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
}

#[backends]
async fn a_table_that_stops_streaming_ends_its_streams() {
    let c = case().await;
    let s = &c.s;
    let mut stream = subscribe(s, "/api/notes/subscribe", Some(&c.member), &[]).await;
    let out = ward_compiler::compile(&ward_compiler::Sources::single(
        "project.kdl",
        &PROJECT.replacen(
            "    batch max=1000\n    realtime #true",
            "    batch max=1000",
            1,
        ),
    ));
    s.app.reload(out.ir.unwrap(), false).await.unwrap();
    let ev = stream.next().await.unwrap();
    assert_eq!(ev.event, "gone");
    assert!(stream.next().await.is_none(), "the stream ends");
}

#[backends]
async fn a_stream_ends_when_its_token_expires() {
    let c = case().await;
    let s = &c.s;
    // Past `exp`, still inside the 30 s leeway for two more seconds.
    let token = s.sign(json!({
        "sub": "max", "roles": ["member"], "org_id": "acme", "exp": now() - 28
    }));
    let mut stream = subscribe(s, "/api/tasks/subscribe", Some(&token), &[]).await;
    let ev = stream.next().await.unwrap();
    assert_eq!(ev.event, "auth-expired");
    assert!(stream.next().await.is_none());
}

#[backends]
async fn a_rolled_back_write_reaches_nobody() {
    let c = case().await;
    let s = &c.s;
    let mut stream = subscribe(s, "/api/tasks/subscribe", Some(&c.editor), &[]).await;
    let id = s
        .create("tasks", &c.editor, json!({"title": "t", "status": "open"}))
        .await;
    stream.expect("insert", &id).await;
    // An atomic batch whose second record fails in the database: its first record was
    // written, logged, and rolled back with the rest.
    let r = s
        .post(
            "/api/tasks/batch",
            &c.editor,
            json!({"records": [{"title": "a", "status": "open"}, {"title": "t"}],
                   "options": {"atomic": true}}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "BATCH_ATOMIC_FAILED".to_owned()),
        "{}",
        r.text
    );
    assert_eq!(r.json()["details"]["reason"]["code"], "UNIQUE_VIOLATION");
    let next = s
        .create("tasks", &c.editor, json!({"title": "n", "status": "open"}))
        .await;
    stream.expect("insert", &next).await;
}

/// Postgres: the writer and the subscriber on different instances of one database (SPEC §12).
#[tokio::test]
async fn a_write_on_one_instance_reaches_subscribers_of_another() {
    common::db::run(common::db::Backend::Postgres, two_instances()).await;
}

async fn two_instances() {
    let c = case().await;
    let s = &c.s;
    assert!(s.db.is_postgres());
    // A second instance on the same database and project directory (the same dev secret).
    let out = ward_compiler::compile(&ward_compiler::Sources::single("project.kdl", PROJECT));
    let other = ward_runtime::App::open(out.ir.unwrap(), &s.db.options(s.dir.path()))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(ward_runtime::serve_until(
        other,
        listener,
        std::future::pending(),
    ));

    let mut stream = subscribe(s, "/api/tasks/subscribe", Some(&c.member), &[]).await;
    let created = s
        .client
        .post(format!("{base}/api/tasks"))
        .bearer_auth(&c.member)
        .json(&json!({"title": "elsewhere", "status": "open"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let id = created.json::<Value>().await.unwrap()["data"]["id"].clone();
    let ev = stream.expect("insert", &id).await;
    assert_eq!(ev.data["record"]["title"], "elsewhere");
}

#[backends]
async fn a_subscriber_that_falls_behind_is_told_and_dropped_alone() {
    let c = case().await;
    let s = &c.s;
    // One reads nothing while thousands of changes commit; the other keeps up.
    let mut slow = subscribe(s, "/api/notes/subscribe", Some(&c.member), &[]).await;
    let mut quick = subscribe(s, "/api/notes/subscribe", Some(&c.member), &[]).await;
    let reader = tokio::spawn(async move {
        let mut n = 0;
        while let Some(ev) = quick.next().await {
            assert_eq!(ev.event, "insert");
            n += 1;
            if n == 6000 {
                break;
            }
        }
        n
    });
    // 6,000 changes of ~2 KB (12 MB): more than the queue and every buffer on the way hold.
    for chunk in 0..15 {
        let records: Vec<Value> = (0..400)
            .map(|i| json!({"body": format!("{chunk}-{i}-{}", "x".repeat(2000))}))
            .collect();
        let r = s
            .post("/api/notes/batch", &c.member, json!({ "records": records }))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    assert_eq!(
        reader.await.unwrap(),
        6000,
        "the quick subscriber got every event"
    );
    // The slow one gets what fitted, then `overflow` with the id to resume from, then the end.
    let mut last = None;
    let mut seen = 0;
    let end = loop {
        let ev = slow.next().await.expect("the stream ends with an event");
        if ev.event != "insert" {
            break ev;
        }
        seen += 1;
        last = ev.id;
    };
    assert_eq!(end.event, "overflow");
    assert!(seen < 6000, "{seen}");
    assert_eq!(end.data["lastEventId"], json!(last.unwrap()));
    assert!(slow.next().await.is_none());
}

#[backends]
async fn a_caller_holds_a_bounded_number_of_streams() {
    let c = case().await;
    let s = &c.s;
    let mut open = Vec::new();
    for _ in 0..16 {
        open.push(subscribe(s, "/api/notes/subscribe", Some(&c.member), &[]).await);
    }
    let r = s.get("/api/notes/subscribe", &c.member).await;
    assert_eq!(
        (r.status, r.code()),
        (429, "RATE_LIMITED".to_owned()),
        "{}",
        r.text
    );
    // Others are not affected, and a closed stream frees its place.
    subscribe(s, "/api/notes/subscribe", Some(&c.editor), &[]).await;
    drop(open.pop());
    let mut freed = None;
    for _ in 0..50 {
        let r = s
            .client
            .get(format!("{}/api/notes/subscribe", s.base))
            .bearer_auth(&c.member)
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            freed = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(freed.is_some(), "a closed stream's place is given back");
}

#[backends]
async fn the_openapi_document_describes_the_streams() {
    let c = case().await;
    let doc = c.s.req("GET", "/openapi.json", None, None).await.json();
    let paths = &doc["paths"];
    let stream = &paths["/api/tasks/subscribe"]["get"];
    assert!(
        stream["responses"]["200"]["content"]["text/event-stream"].is_object(),
        "{stream}"
    );
    for status in ["400", "401", "403", "404", "429"] {
        assert!(
            stream["responses"][status].is_object(),
            "{status}: {stream}"
        );
    }
    let names: Vec<&str> = stream["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in ["after", "Last-Event-ID", "ticket", "title", "title.like"] {
        assert!(names.contains(&name), "{name}: {names:?}");
    }
    assert!(
        paths["/api/quiet/subscribe"].is_null(),
        "only realtime tables stream"
    );
    assert!(paths["/api/subscribe"]["get"]["responses"]["200"].is_object());
    assert!(paths["/api/subscribe/ticket"]["post"]["responses"]["201"].is_object());
}

/// Postgres: each server that had subscribers listens on a connection of its own; a server that
/// is gone must not leave it behind (a test suite serving project after project ran out of
/// connections before this held).
#[tokio::test]
async fn a_server_that_is_gone_leaves_no_listening_connection() {
    common::db::run(common::db::Backend::Postgres, servers_come_and_go()).await;
}

async fn servers_come_and_go() {
    use tower::ServiceExt;
    let url = common::db::postgres_url().unwrap();
    // This test's servers name their connections, so that other tests' do not count.
    let name = format!("ward_gone_{}", uuid::Uuid::new_v4().simple());
    let listening = || {
        common::db::count(
            &url,
            &format!(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{name}' AND query LIKE 'LISTEN%'"
            ),
        )
    };
    let out = ward_compiler::compile(&ward_compiler::Sources::single("project.kdl", PROJECT));
    let ir = out.ir.unwrap();
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let db = common::db::TestDb::new(dir.path());
        let mut options = db.options(dir.path());
        options
            .database_url
            .push_str(&format!("&application_name={name}"));
        let app = ward_runtime::App::open(ir.clone(), &options).await.unwrap();
        let secret = ward_runtime::secret::hs256_secret(&ir, dir.path(), false)
            .unwrap()
            .0;
        let claims =
            json!({"sub": "max", "roles": ["member"], "org_id": "acme", "exp": now() + 60});
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(&secret),
        )
        .unwrap();
        let request = axum::http::Request::get("/api/notes/subscribe")
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::empty())
            .unwrap();
        let answer = app.router().oneshot(request).await.unwrap();
        assert_eq!(answer.status(), 200);
        // The server goes: its app, and the stream it answered.
        drop(answer);
        drop(app);
    }
    // A dropped server's tasks end within the follower's poll interval.
    let mut left = listening();
    for _ in 0..50 {
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = listening();
    }
    assert_eq!(left, 0, "listening connections left behind");
}

/// SPEC §13: change records, and so events, carry a file's metadata — never its bytes or where
/// the store keeps them.
#[backends]
async fn file_columns_stream_their_metadata_never_their_key() {
    let s = start_kdl(
        r#"
auth { roles member }
table docs {
    column orgId text
    column scan file
    firewall { scope orgId (auth)org-id }
    access { list member; read member; create member; update member; }
    guards { createable scan; updatable scan; }
    realtime #true
}
"#,
    )
    .await;
    let token = s.token("max", &["member"], Some("acme"));
    let mut stream = subscribe(&s, "/api/docs/subscribe", Some(&token), &[]).await;
    let upload = |bytes: &'static [u8], name: &str| {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned());
        reqwest::multipart::Form::new().part("scan", part)
    };
    let r = s
        .client
        .post(format!("{}/api/docs", s.base))
        .bearer_auth(&token)
        .multipart(upload(b"%PDF-1.7\n%%EOF\n", "a.pdf"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let id = created["data"]["id"].clone();
    let ev = stream.expect("insert", &id).await;
    assert_eq!(ev.data["record"]["scan"], created["data"]["scan"]);
    assert_eq!(ev.data["record"]["scan"]["type"], "application/pdf");
    let r = s
        .client
        .patch(format!("{}/api/docs/{}", s.base, id_str(&id)))
        .bearer_auth(&token)
        .multipart(upload(b"plain text\n", "b.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ev = stream.expect("update", &id).await;
    assert_eq!(ev.data["record"]["scan"]["type"], "text/plain");
    let log = s.app.change_log("docs").await.unwrap();
    assert_eq!(log.len(), 2);
    for record in &log {
        let text = record.to_string();
        assert!(
            !text.contains("\"key\""),
            "a change record names the store: {text}"
        );
    }
}
