//! Actions and triggers through the engine (server and model side by side, every stored row
//! compared after every step, invariants checked): each step kind, the answers before the steps,
//! and a `before` trigger, with the statuses asserted so the scenario reads as an example.

use serde_json::{Value, json};
use ward_conformance::scenario::{Body, CallerSpec, Route, Seed, Step, ValueSpec};

use crate::common;
use common::*;

const PROJECT: &str = r#"
auth {
    roles member admin
}
table rooms {
    column name text required=#true
    column status text default=active { one-of active archived }
    column notes text
    column secret text
    column orgId text
    firewall { scope orgId (auth)org-id }
    access {
        list member+
        read member+
        create member+
        update member+
    }
    guards {
        createable name notes secret
        updatable name notes
        protected status { actions archive }
    }
    masking { mask secret redact show=admin }
    on update after {
        insert events {
            set kind "renamed"
            set detail (old)name
        }
    }
    action archive {
        access member+ { when name ne "locked" }
        input reason text max-length=10
        transition status { from active; to archived }
        update { set notes (input)reason }
        delete bookings { when roomId eq (record)id }
        return record
    }
    action purge {
        access admin
        delete rooms { when id eq (record)id }
        return record
    }
    action purgeTwice {
        access admin
        delete
        update { set notes "x" }
    }
    action peek {
        access member+
        return {
            field id (record)id
            field secret (record)secret
            field by (auth)user-id
        }
    }
}
table bookings {
    column roomId uuid references=rooms on-delete=cascade required=#true
    column title text required=#true
    column orgId text
    firewall { scope orgId (auth)org-id }
    access {
        list member+
        read member+
        create member+
    }
    guards { createable roomId title }
    delete hard
    on create before {
        require {
            exists rooms { when id eq (record)roomId; when status eq active }
            error ROOM_CLOSED status=409
        }
    }
}
table events {
    column kind text
    column detail text
    column orgId text
    firewall { scope orgId (auth)org-id }
    access {
        list member+
        read member+
    }
}
action log {
    access member+
    insert events { set kind "log" }
}
action book {
    access member+
    input roomId uuid required=#true
    input title text required=#true max-length=20
    require {
        exists rooms { when id eq (input)roomId; when status eq active }
        error ROOM_CLOSED status=409
    }
    insert bookings {
        set roomId (input)roomId
        set title (input)title
    }
    return inserted
}
action schedule method=GET {
    access member+
    input roomId uuid required=#true
    query rows bookings {
        when roomId eq (input)roomId
        sort title
        limit 2
    }
    return rows
}
action rename {
    access admin
    input from text required=#true
    input to text required=#true
    update rooms {
        set name (input)to
        when name eq (input)from
    }
}
"#;

const ALICE: usize = 0;
const BOB: usize = 1;
const CAROL: usize = 2;
const ANON: usize = 3;

fn callers() -> Vec<CallerSpec> {
    vec![
        CallerSpec::User(user("alice", &["admin"], Some("a"))),
        CallerSpec::User(user("bob", &["member"], Some("a"))),
        CallerSpec::User(user("carol", &["member"], Some("b"))),
        CallerSpec::Anonymous,
    ]
}

fn seeds() -> Vec<Seed> {
    vec![
        seed("rooms", ALICE, json!({"name": "red", "secret": "s1"})),
        seed("rooms", CAROL, json!({"name": "blue"})),
        seed("rooms", ALICE, json!({"name": "locked"})),
    ]
}

fn room(n: usize) -> ValueSpec {
    ValueSpec::Id(row("rooms", n))
}

/// `POST /api/actions/book` with a room and a title.
fn book(caller: usize, room: ValueSpec, title: &str) -> Step {
    let mut s = req(caller, "POST", "actions", Route::Standalone("book".into()));
    s.body = Some(Body::Object(vec![
        ("roomId".into(), room),
        ("title".into(), ValueSpec::Json(json!(title))),
    ]));
    s
}

fn act(caller: usize, n: usize, action: &str) -> Step {
    req(
        caller,
        "POST",
        "rooms",
        Route::Action(row("rooms", n), action.into()),
    )
}

#[test]
fn actions_and_triggers_agree_with_the_model() {
    let mut schedule = req(BOB, "GET", "actions", Route::Standalone("schedule".into()));
    schedule.query = vec![("roomId".into(), room(0))];
    // An input given twice is refused, as a repeated list parameter is.
    let mut twice = schedule.clone();
    twice.query.push(("roomId".into(), room(1)));
    let mut bogus = book(BOB, room(0), "t2");
    if let Some(Body::Object(fields)) = &mut bogus.body {
        fields.push(("bogus".into(), ValueSpec::Json(json!(1))));
    }
    let mut direct = req(BOB, "POST", "bookings", Route::Collection);
    direct.body = Some(Body::Object(vec![
        ("roomId".into(), room(0)),
        ("title".into(), ValueSpec::Json(json!("t4"))),
    ]));
    let answers = run(
        PROJECT,
        callers(),
        seeds(),
        vec![
            book(BOB, room(0), "t1"),
            book(BOB, room(0), "t0"),
            // Another tenant's room is a room that does not exist.
            book(BOB, room(1), "x"),
            book(BOB, room(0), "a title far too long for it"),
            bogus,
            book(ANON, room(0), "t1"),
            schedule.clone(),
            act(BOB, 0, "peek"),
            act(ALICE, 0, "peek"),
            act(BOB, 1, "peek"),
            act(BOB, 2, "archive"),
            with_body(act(BOB, 0, "archive"), json!({"reason": "old"})),
            act(BOB, 0, "archive"),
            schedule,
            book(BOB, room(0), "t3"),
            direct,
            with_body(
                req(ALICE, "POST", "actions", Route::Standalone("rename".into())),
                json!({"from": "red", "to": "green"}),
            ),
            with_body(
                req(BOB, "POST", "actions", Route::Standalone("rename".into())),
                json!({"from": "green", "to": "red"}),
            ),
            act(BOB, 0, "nope"),
            req(
                BOB,
                "GET",
                "rooms",
                Route::Action(row("rooms", 0), "archive".into()),
            ),
            req(BOB, "POST", "actions", Route::Standalone("nope".into())),
            req(BOB, "PUT", "actions", Route::Standalone("book".into())),
            req(BOB, "POST", "actions", Route::Standalone("schedule".into())),
            twice,
            // The steps deleted the row: nothing to return, and nothing left to update.
            act(ALICE, 2, "purge"),
            act(ALICE, 0, "purgeTwice"),
            // An after trigger, and an action insert no answer carries.
            with_body(
                req(CAROL, "PATCH", "rooms", Route::Row(row("rooms", 1))),
                json!({"name": "cyan"}),
            ),
            req(BOB, "POST", "actions", Route::Standalone("log".into())),
            req(BOB, "GET", "events", Route::Collection),
            req(CAROL, "GET", "events", Route::Collection),
        ],
    );
    assert_eq!(
        statuses(&answers),
        [
            200, 200, 409, 400, 400, 401, 200, 200, 200, 404, 409, 200, 409, 200, 409, 409, 200,
            403, 404, 404, 404, 404, 404, 400, 200, 409, 200, 200, 200, 200
        ]
    );
    let data = |i: usize| answers[i].1["data"].clone();
    assert_eq!(
        data(6).as_array().map(Vec::len),
        Some(2),
        "the query's limit"
    );
    assert_eq!(data(6)[0]["title"], "t0", "sorted by title");
    assert_eq!(data(7)["secret"], "[REDACTED]");
    assert_eq!(data(8)["secret"], "s1");
    assert_eq!(data(11)["status"], "archived");
    assert_eq!(data(13), Value::Array(Vec::new()), "archiving deleted them");
    assert_eq!(
        answers[15].1["code"], "ROOM_CLOSED",
        "the trigger, on POST /api/bookings"
    );
}
