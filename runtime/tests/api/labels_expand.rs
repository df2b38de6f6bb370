#![allow(clippy::unwrap_used)]

//! Reference labels (SPEC §5.2) and `?expand=` (§5.3): each resolved under the target table's own
//! firewall, soft-delete filter, access and masking; invisible targets are `null` (references,
//! labels) or left out (relation rows), never an error.

use crate::common;

use ward_test_macros::backends;

use common::ir::*;
use common::*;
use serde_json::{Value, json};
use ward_ir::{CompareOp, MaskKind, OnDelete, Operation};

fn project() -> ward_ir::Ir {
    let room_types = table("room_types")
        .text("name")
        .col(ward_ir::Column {
            default: Some(ward_ir::ColumnDefault::Literal(ward_ir::Literal::Text(
                "open".into(),
            ))),
            ..column("status", ward_ir::ColumnType::Text)
        })
        .text("org")
        .scope("org", "org-id", "")
        .bypass("owner")
        .display("name")
        .crud("member+")
        .access(
            Operation::Read,
            rule_when(
                "member+",
                cmp("status", CompareOp::Ne, vec![lit_text("hidden")]),
            ),
        )
        .createable(&["name", "status"])
        .updatable(&["status"])
        .build();
    let users = table("users")
        .text("fullName")
        .display("fullName")
        .mask("fullName", MaskKind::Name, "admin+", None)
        .crud("member+")
        .createable(&["fullName"])
        .build();
    let vaults = table("vaults")
        .text("code")
        .display("code")
        .crud("admin+")
        .createable(&["code"])
        .build();
    let keys = table("keys")
        .text("label")
        .display("label")
        .crud("member+")
        .createable(&["label"])
        .build();
    let tags = table("tags")
        .text("name")
        .crud("member+")
        .createable(&["name"])
        .build();
    let all = [
        "name",
        "roomTypeId",
        "owner_id",
        "vaultId",
        "keyId",
        "tagId",
    ];
    let rooms = table("rooms")
        .text("name")
        .reference("roomTypeId", "room_types", OnDelete::SetNull)
        .reference("owner_id", "users", OnDelete::SetNull)
        .reference("vaultId", "vaults", OnDelete::SetNull)
        .reference("keyId", "keys", OnDelete::SetNull)
        .reference("tagId", "tags", OnDelete::SetNull)
        .text("org")
        .scope("org", "org-id", "")
        .display("name")
        .mask("keyId", MaskKind::Hidden, "admin+", None)
        .relation("bookings", "bookings", "room")
        .crud("member+")
        .createable(&all)
        .updatable(&all)
        .build();
    let bookings = table("bookings")
        .text("title")
        .text("guestPhone")
        .reference("room", "rooms", OnDelete::Cascade)
        .text("org")
        .scope("org", "org-id", "")
        .mask("guestPhone", MaskKind::Phone, "admin+", None)
        .crud("member+")
        .access(
            Operation::List,
            rule_when(
                "member+",
                cmp("title", CompareOp::Ne, vec![lit_text("private")]),
            ),
        )
        .createable(&["title", "guestPhone", "room"])
        .build();
    ir(vec![room_types, users, vaults, keys, tags, rooms, bookings])
}

struct Fixture {
    s: Server,
    member: String,
    admin: String,
    boss: String,
}

async fn fixture() -> Fixture {
    let s = start(project()).await;
    let member = s.token("m", &["member"], Some("acme"));
    let admin = s.token("ada", &["admin"], Some("acme"));
    let boss = s.token("olga", &["owner"], Some("acme"));
    Fixture {
        s,
        member,
        admin,
        boss,
    }
}

#[backends]
async fn labels_on_every_response_masked_for_the_caller() {
    let Fixture {
        s, member, admin, ..
    } = fixture().await;
    let ty = id_str(
        &s.create("room_types", &member, json!({"name": "Suite"}))
            .await,
    );
    let user = id_str(
        &s.create("users", &member, json!({"fullName": "John Doe"}))
            .await,
    );
    let vault = id_str(&s.create("vaults", &admin, json!({"code": "V-9"})).await);
    let key = id_str(&s.create("keys", &member, json!({"label": "Brass"})).await);
    let tag = id_str(&s.create("tags", &member, json!({"name": "t"})).await);

    let body = json!({"name": "R1", "roomTypeId": ty, "owner_id": user, "keyId": key,
                      "tagId": tag});
    let created = s.post("/api/rooms", &member, body).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let d = &created.json()["data"];
    assert_eq!(d["roomType_label"], "Suite");
    assert_eq!(d["owner_label"], "J*** D**", "the display column is masked");
    assert!(d["vault_label"].is_null());
    // keyId is hidden from members: so is where it points.
    assert!(d.get("keyId").is_none());
    assert!(d["key_label"].is_null());
    assert!(d.get("tag_label").is_none(), "tags has no display column");
    let id = id_str(&d["id"]);

    let u = s
        .patch(
            &format!("/api/rooms/{id}"),
            &admin,
            json!({"vaultId": vault}),
        )
        .await;
    assert_eq!(u.status, 200, "{}", u.text);
    let d = &u.json()["data"];
    assert_eq!(d["vault_label"], "V-9");
    assert_eq!(d["owner_label"], "John Doe");
    assert_eq!(d["key_label"], "Brass");

    let g = s.get(&format!("/api/rooms/{id}"), &member).await.json();
    assert_eq!(g["data"]["roomType_label"], "Suite");
    assert!(g["data"]["vault_label"].is_null(), "vaults are admin-only");
    let l = s.get("/api/rooms", &member).await.json();
    assert_eq!(l["data"][0]["owner_label"], "J*** D**");
    let l = s.get("/api/rooms", &admin).await.json();
    assert_eq!(l["data"][0]["vault_label"], "V-9");

    // Projection: a label travels with its reference column.
    let p = s
        .get(&format!("/api/rooms/{id}?fields=name,roomTypeId"), &member)
        .await
        .json();
    assert_eq!(
        p["data"],
        json!({"name": "R1", "roomTypeId": ty, "roomType_label": "Suite"})
    );
    let b = s
        .post("/api/bookings", &member, json!({"title": "B", "room": id}))
        .await;
    assert_eq!(b.json()["data"]["room_label"], "R1");
}

#[backends]
async fn labels_and_expansions_of_invisible_targets_are_null() {
    let Fixture {
        s,
        member,
        admin,
        boss,
    } = fixture().await;
    let globex = s.token("gus", &["member"], Some("globex"));
    let foreign = id_str(
        &s.create("room_types", &globex, json!({"name": "Theirs"}))
            .await,
    );
    let hidden = id_str(
        &s.create("room_types", &member, json!({"name": "Hush"}))
            .await,
    );
    let gone = id_str(
        &s.create("room_types", &member, json!({"name": "Gone"}))
            .await,
    );
    let fine = id_str(
        &s.create("room_types", &member, json!({"name": "Fine"}))
            .await,
    );
    // The owner bypasses the room_types firewall, so it can link another tenant's row.
    let mut ids = Vec::new();
    for ty in [&foreign, &hidden, &gone, &fine] {
        ids.push(id_str(
            &s.create("rooms", &boss, json!({"name": "r", "roomTypeId": ty}))
                .await,
        ));
    }
    // Hidden by the read condition once linked (a hidden row cannot be linked at all).
    let p = s
        .patch(
            &format!("/api/room_types/{hidden}"),
            &member,
            json!({"status": "hidden"}),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.text);
    assert_eq!(
        s.delete(&format!("/api/room_types/{gone}"), &member)
            .await
            .status,
        200
    );
    for (i, id) in ids.iter().enumerate() {
        let r = s
            .get(&format!("/api/rooms/{id}?expand=roomTypeId"), &member)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let d = &r.json()["data"];
        if i == 3 {
            assert_eq!(d["roomType_label"], "Fine");
            assert_eq!(d["_expand"]["roomTypeId"]["name"], "Fine");
            assert_eq!(d["_expand"]["roomTypeId"]["id"], json!(fine));
        } else {
            assert!(d["roomType_label"].is_null(), "{i}: {d}");
            assert!(d["_expand"]["roomTypeId"].is_null(), "{i}: {d}");
            assert!(!r.text.contains("Theirs") && !r.text.contains("Hush"));
        }
    }
    // Vaults are admin-only; keys are hidden behind a masked column.
    let vault = id_str(&s.create("vaults", &admin, json!({"code": "V-1"})).await);
    let key = id_str(&s.create("keys", &admin, json!({"label": "K-1"})).await);
    let room = id_str(
        &s.create(
            "rooms",
            &admin,
            json!({"name": "v", "vaultId": vault, "keyId": key}),
        )
        .await,
    );
    let r = s
        .get(&format!("/api/rooms/{room}?expand=vaultId,keyId"), &member)
        .await;
    let d = &r.json()["data"];
    assert!(d["_expand"]["vaultId"].is_null());
    assert!(d["_expand"]["keyId"].is_null());
    assert!(
        !r.text.contains("V-1") && !r.text.contains("K-1"),
        "{}",
        r.text
    );
    let r = s
        .get(&format!("/api/rooms/{room}?expand=vaultId,keyId"), &admin)
        .await;
    assert_eq!(r.json()["data"]["_expand"]["vaultId"]["code"], "V-1");
    assert_eq!(r.json()["data"]["_expand"]["keyId"]["label"], "K-1");
}

fn ids(v: &Value) -> Vec<Value> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect()
}

#[backends]
async fn relations_embed_the_first_hundred_visible_children_per_parent() {
    let Fixture {
        s, member, admin, ..
    } = fixture().await;
    let globex = s.token("gus", &["member"], Some("globex"));
    let ty = id_str(
        &s.create("room_types", &member, json!({"name": "Suite"}))
            .await,
    );
    let big = id_str(
        &s.create("rooms", &member, json!({"name": "big", "roomTypeId": ty}))
            .await,
    );
    let small = id_str(&s.create("rooms", &member, json!({"name": "small"})).await);
    let empty = id_str(&s.create("rooms", &member, json!({"name": "empty"})).await);
    for i in 0..105 {
        s.create(
            "bookings",
            &member,
            json!({"title": format!("b{i:03}"), "room": big}),
        )
        .await;
    }
    for title in ["s1", "s2", "private"] {
        s.create(
            "bookings",
            &member,
            json!({"title": title, "room": small, "guestPhone": "+1 (555) 123-4567"}),
        )
        .await;
    }
    // A deleted booking and another tenant's rows never show.
    let del = id_str(
        &s.create("bookings", &member, json!({"title": "del", "room": small}))
            .await,
    );
    s.delete(&format!("/api/bookings/{del}"), &member).await;
    s.create("rooms", &globex, json!({"name": "theirs"})).await;

    let r = s.get("/api/rooms?expand=bookings", &member).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let data = r.json()["data"].as_array().unwrap().clone();
    assert_eq!(data.len(), 3);
    let by_name = |n: &str| data.iter().find(|x| x["name"] == n).unwrap().clone();
    let big_rows = by_name("big")["_expand"]["bookings"].clone();
    assert_eq!(big_rows.as_array().unwrap().len(), 100);
    let newest = s
        .get(
            &format!("/api/bookings?room={big}&sort=-createdAt&limit=100"),
            &member,
        )
        .await
        .json();
    assert_eq!(ids(&big_rows), ids(&newest["data"]), "newest first");
    assert_eq!(
        big_rows[0]["room_label"], "big",
        "embedded rows carry labels"
    );
    let small_rows = by_name("small")["_expand"]["bookings"].clone();
    let mut titles: Vec<&str> = small_rows
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["title"].as_str().unwrap())
        .collect();
    titles.sort();
    assert_eq!(titles, ["s1", "s2"], "the list condition hides `private`");
    assert_eq!(small_rows[0]["guestPhone"], "*******4567");
    assert!(!r.text.contains("123-4567"));
    assert_eq!(by_name("empty")["_expand"]["bookings"], json!([]));
    assert_eq!(by_name("big")["roomType_label"], "Suite");

    let a = s
        .get(&format!("/api/rooms/{small}?expand=bookings"), &admin)
        .await
        .json();
    assert_eq!(
        a["data"]["_expand"]["bookings"][0]["guestPhone"],
        "+1 (555) 123-4567"
    );
    // `fields` shapes the outer record only.
    let p = s
        .get(
            &format!("/api/rooms/{empty}?fields=name&expand=bookings,roomTypeId"),
            &member,
        )
        .await;
    assert_eq!(
        p.json()["data"],
        json!({"name": "empty", "_expand": {"bookings": [], "roomTypeId": null}})
    );
    let l = s
        .get("/api/bookings?expand=room&fields=title&limit=1", &member)
        .await
        .json();
    let first = &l["data"][0];
    assert_eq!(first["_expand"]["room"]["name"], "small");
    assert_eq!(first.as_object().unwrap().len(), 2);
}

#[backends]
async fn expansions_follow_the_callers_access() {
    let Fixture { s, member, .. } = fixture().await;
    let room = id_str(&s.create("rooms", &member, json!({"name": "r"})).await);
    s.create("bookings", &member, json!({"title": "b", "room": room}))
        .await;
    // A table whose list rule the caller lacks embeds nothing rather than failing.
    let ir = {
        let mut ir = project();
        let b = ir.tables.iter_mut().find(|t| t.name == "bookings").unwrap();
        b.access.list = Some(rule("admin+"));
        ir
    };
    let s2 = start(ir).await;
    let m2 = s2.token("m", &["member"], Some("acme"));
    let room2 = id_str(&s2.create("rooms", &m2, json!({"name": "r"})).await);
    s2.create("bookings", &m2, json!({"title": "b", "room": room2}))
        .await;
    let r = s2
        .get(&format!("/api/rooms/{room2}?expand=bookings"), &m2)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["data"]["_expand"]["bookings"], json!([]));
    let r = s
        .get(&format!("/api/rooms/{room}?expand=bookings"), &member)
        .await;
    assert_eq!(
        r.json()["data"]["_expand"]["bookings"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[backends]
async fn unknown_expansions_name_the_parameter() {
    let Fixture { s, member, .. } = fixture().await;
    let room = id_str(&s.create("rooms", &member, json!({"name": "r"})).await);
    for q in [
        "expand=nosuch",
        "expand=name",
        "expand=",
        "expand=bookings,bookings",
        "expand=bookings&expand=roomTypeId",
    ] {
        for path in ["/api/rooms".to_string(), format!("/api/rooms/{room}")] {
            let r = s.get(&format!("{path}?{q}"), &member).await;
            assert_eq!(r.status, 400, "{path}?{q}: {}", r.text);
            assert_eq!(r.json()["code"], "VALIDATION_BAD_QUERY");
            assert_eq!(r.json()["details"]["parameter"], "expand", "{q}");
        }
    }
}

#[backends]
async fn batch_and_upsert_responses_carry_labels_too() {
    let Fixture { s, member, .. } = fixture().await;
    let ty = id_str(
        &s.create("room_types", &member, json!({"name": "Suite"}))
            .await,
    );
    let user = id_str(
        &s.create("users", &member, json!({"fullName": "John Doe"}))
            .await,
    );
    let r = s
        .post(
            "/api/rooms/batch",
            &member,
            json!({"records": [
                {"name": "A", "roomTypeId": ty, "owner_id": user},
                {"name": "B"}
            ]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let success = &r.json()["success"];
    assert_eq!(success[0]["roomType_label"], "Suite");
    assert_eq!(success[0]["owner_label"], "J*** D**", "labels are masked");
    assert_eq!(success[1]["roomType_label"], Value::Null);

    // Upsert: a text-id table with open guards that references room_types.
    let pages = table("pages")
        .id(ward_ir::IdKind::Text)
        .text("title")
        .reference("roomTypeId", "room_types", OnDelete::SetNull)
        .crud("member+")
        .open_guards()
        .build();
    let types = table("room_types")
        .text("name")
        .display("name")
        .crud("member+")
        .createable(&["name"])
        .build();
    let s = start(ir(vec![types, pages])).await;
    let member = s.token("m", &["member"], None);
    let ty = id_str(
        &s.create("room_types", &member, json!({"name": "Suite"}))
            .await,
    );
    let r = s
        .req(
            "PUT",
            "/api/pages/home",
            Some(&member),
            Some(json!({"title": "Home", "roomTypeId": ty})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["data"]["roomType_label"], "Suite");
}

/// `users.received has-many=messages via=recipientId`, with `recipientId` masked for members.
fn messages_project(owner: Option<&str>) -> ward_ir::Ir {
    let users = table("users")
        .text("name")
        .crud("member+")
        .createable(&["name"])
        .relation("received", "messages", "recipientId")
        .build();
    let messages = table("messages")
        .text("body")
        .text("senderId")
        .reference("recipientId", "users", OnDelete::SetNull)
        .mask("recipientId", MaskKind::Redact, "admin+", owner)
        .crud("member+")
        .createable(&["body", "senderId", "recipientId"])
        .build();
    ir(vec![users, messages])
}

/// `(parent name, child bodies)` of `GET /api/users?expand=received`, sorted.
async fn received(s: &Server, token: &str) -> Vec<(String, Vec<String>)> {
    let r = s.get("/api/users?expand=received&sort=name", token).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let mut bodies: Vec<String> = u["_expand"]["received"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["body"].as_str().unwrap().to_owned())
                .collect();
            bodies.sort();
            (u["name"].as_str().unwrap().to_owned(), bodies)
        })
        .collect()
}

async fn seed_messages(s: &Server, token: &str) {
    let ann = id_str(&s.create("users", token, json!({"name": "ann"})).await);
    let bob = id_str(&s.create("users", token, json!({"name": "bob"})).await);
    for (body, sender, to) in [
        ("a1", "mia", &ann),
        ("a2", "zed", &ann),
        ("b1", "mia", &bob),
    ] {
        s.create(
            "messages",
            token,
            json!({"body": body, "senderId": sender, "recipientId": to}),
        )
        .await;
    }
}

#[backends]
async fn a_relation_via_a_masked_column_embeds_nothing_the_caller_cannot_query() {
    let s = start(messages_project(None)).await;
    let admin = s.token("root", &["admin"], None);
    let member = s.token("mia", &["member"], None);
    seed_messages(&s, &admin).await;
    let v = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        received(&s, &admin).await,
        [("ann".into(), v(&["a1", "a2"])), ("bob".into(), v(&["b1"]))]
    );
    assert_eq!(
        received(&s, &member).await,
        [("ann".into(), v(&[])), ("bob".into(), v(&[]))],
        "grouping by a masked recipient would tell who received what"
    );
}

#[backends]
async fn a_relation_via_an_owner_masked_column_embeds_only_the_callers_rows() {
    let s = start(messages_project(Some("senderId"))).await;
    let admin = s.token("root", &["admin"], None);
    let member = s.token("mia", &["member"], None);
    seed_messages(&s, &admin).await;
    let v = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        received(&s, &member).await,
        [("ann".into(), v(&["a1"])), ("bob".into(), v(&["b1"]))],
        "mia sees the recipients of her own messages only"
    );
    let nobody = s.token("nobody", &["member"], None);
    assert_eq!(
        received(&s, &nobody).await,
        [("ann".into(), v(&[])), ("bob".into(), v(&[]))]
    );
}
