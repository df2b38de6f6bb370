#![allow(clippy::unwrap_used)]

use crate::common;

use ward_test_macros::backends;

use std::collections::HashMap;

use common::ir::*;
use common::*;
use serde_json::{Value, json};
use ward_ir::{Column, ColumnType, MaskKind};

fn project() -> ward_ir::Ir {
    let all = ["name", "n", "flag", "note", "email"];
    let t = table("items")
        .col(Column {
            searchable: true,
            ..column("name", ColumnType::Text)
        })
        .col(column("n", ColumnType::Integer))
        .col(column("flag", ColumnType::Boolean))
        .text("note")
        .col(Column {
            searchable: true,
            ..column("email", ColumnType::Text)
        })
        .mask("email", MaskKind::Email, "admin+", None)
        .crud("member+")
        .createable(&all)
        .updatable(&all)
        .page(3, 5)
        .build();
    ir(vec![t])
}

fn names(v: &Value) -> Vec<String> {
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap_or("").to_string())
        .collect()
}

async fn seed(s: &Server, t: &str) {
    for (name, n, flag, note) in [
        ("apple", 1, true, Some("a")),
        ("banana", 2, false, None),
        ("cherry", 3, true, Some("c")),
        ("date", 4, false, None),
        ("elder", 5, true, Some("e")),
    ] {
        s.create("items", t, json!({"name": name, "n": n, "flag": flag, "note": note, "email": format!("{name}@x.com")})).await;
    }
}

#[backends]
async fn limits_sort_filters_and_pagination() {
    let s = start(project()).await;
    let t = s.token("u", &["member"], None);
    seed(&s, &t).await;
    let r = s.get("/api/items", &t).await.json();
    assert_eq!(r["pagination"]["limit"], 3);
    assert_eq!(names(&r), ["elder", "date", "cherry"], "default -createdAt");
    assert_eq!(r["pagination"]["hasMore"], true);
    assert!(r["pagination"]["nextCursor"].is_string());
    assert!(r["pagination"].get("total").is_none());
    let r = s.get("/api/items?limit=100&sort=n", &t).await.json();
    assert_eq!(r["pagination"]["limit"], 5);
    assert_eq!(r["pagination"]["hasMore"], false);
    assert!(r["pagination"].get("nextCursor").is_none());
    assert_eq!(
        s.get("/api/items?limit=0", &t).await.json()["pagination"]["limit"],
        1
    );
    let r = s
        .get("/api/items?sort=n&offset=1&limit=2&total=true", &t)
        .await
        .json();
    assert_eq!(names(&r), ["banana", "cherry"]);
    assert_eq!(
        r["pagination"],
        json!({"limit": 2, "offset": 1, "count": 2, "hasMore": true, "nextCursor": r["pagination"]["nextCursor"], "total": 5})
    );
    assert_eq!(
        names(
            &s.get("/api/items?sort=name&order=desc&limit=2", &t)
                .await
                .json()
        ),
        ["elder", "date"]
    );
    assert_eq!(
        names(&s.get("/api/items?sort=-flag,name&limit=5", &t).await.json()),
        ["apple", "cherry", "elder", "banana", "date"]
    );

    let q = |p: &'static str| {
        let s = &s;
        let t = t.clone();
        async move {
            names(
                &s.get(&format!("/api/items?sort=n&limit=5&{p}"), &t)
                    .await
                    .json(),
            )
        }
    };
    assert_eq!(q("n=2").await, ["banana"]);
    assert_eq!(q("n.gt=3").await, ["date", "elder"]);
    assert_eq!(q("n.gte=2&n.lt=4").await, ["banana", "cherry"]);
    assert_eq!(q("n.lte=1").await, ["apple"]);
    assert_eq!(q("n.ne=1&n.ne=2").await, ["cherry", "date", "elder"]);
    assert_eq!(q("n.in=1,3").await, ["apple", "cherry"]);
    assert_eq!(q("n.not-in=1,3").await, ["banana", "date", "elder"]);
    assert_eq!(q("flag=true").await, ["apple", "cherry", "elder"]);
    assert_eq!(q("note.is=null").await, ["banana", "date"]);
    assert_eq!(q("note.is=not-null").await, ["apple", "cherry", "elder"]);
    assert_eq!(q("name.like=AN").await, ["banana"]);
    assert_eq!(
        q("search=err").await,
        ["cherry"],
        "search skips the masked email column"
    );
    assert_eq!(q("fields=name").await.len(), 5);
    let r = s.get("/api/items?fields=name&limit=1", &t).await.json();
    assert_eq!(r["data"][0].as_object().unwrap().len(), 1);
}

#[backends]
async fn malformed_queries_name_the_parameter() {
    let s = start(project()).await;
    let t = s.token("u", &["member"], None);
    for (q, param) in [
        ("nosuch=1", "nosuch"),
        ("n.zz=1", "n.zz"),
        ("n=abc", "n"),
        ("limit=-1", "limit"),
        ("offset=x", "offset"),
        ("sort=nosuch", "sort"),
        ("order=up", "order"),
        ("total=yes", "total"),
        ("fields=nosuch", "fields"),
        ("cursor=%%%", "cursor"),
        ("note.is=maybe", "note.is"),
        ("n.like=1", "n.like"),
        ("flag=maybe", "flag"),
        ("limit=1&limit=2", "limit"),
        ("expand=x", "expand"),
    ] {
        let r = s.get(&format!("/api/items?{q}"), &t).await;
        assert_eq!(r.status, 400, "{q}: {}", r.text);
        assert_eq!(r.json()["code"], "VALIDATION_BAD_QUERY", "{q}");
        assert_eq!(r.json()["details"]["parameter"], param, "{q}");
    }
    let r = s.get("/api/items?email=a@x.com", &t).await;
    assert_eq!(r.json()["code"], "VALIDATION_FIELD_NOT_QUERYABLE");
    let r = s.get("/api/items?sort=-email", &t).await;
    assert_eq!(r.json()["code"], "VALIDATION_FIELD_NOT_QUERYABLE");
    let admin = s.token("a", &["admin"], None);
    assert_eq!(s.get("/api/items?email=a@x.com", &admin).await.status, 200);
    // A cursor is bound to its sort.
    seed(&s, &t).await;
    let c = s.get("/api/items?sort=n", &t).await.json()["pagination"]["nextCursor"]
        .as_str()
        .unwrap()
        .to_string();
    let r = s.get(&format!("/api/items?sort=name&cursor={c}"), &t).await;
    assert_eq!(r.json()["details"]["parameter"], "cursor");
    assert_eq!(
        s.get(&format!("/api/items?sort=n&cursor={c}"), &t)
            .await
            .status,
        200
    );
}

#[backends]
async fn oversized_counts_and_lists_are_400_naming_the_parameter() {
    let s = start(project()).await;
    let t = s.token("u", &["member"], None);
    let many = |n: usize, item: &str| vec![item; n].join(",");
    let in_values = (0..1001)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let filters = (0..101)
        .map(|i| format!("n.ne={i}"))
        .collect::<Vec<_>>()
        .join("&");
    // 11 filters of 1000 values: each within its cap, together over the bound-value cap.
    let values = (0..11)
        .map(|_| {
            format!(
                "n.in={}",
                (0..1000)
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    for (q, param) in [
        ("offset=9223372036854775808".to_string(), "offset"),
        ("offset=18446744073709551615".to_string(), "offset"),
        ("offset=+1".to_string(), "offset"),
        ("limit=99999999999999999999".to_string(), "limit"),
        ("limit=+2".to_string(), "limit"),
        (format!("n.in={in_values}"), "n.in"),
        (format!("n.not-in={in_values}"), "n.not-in"),
        (filters, "n.ne"),
        (values, "n.in"),
        (format!("fields={}", many(101, "name")), "fields"),
        (format!("sort={}", many(101, "name")), "sort"),
        (format!("expand={}", many(101, "name")), "expand"),
    ] {
        let r = s.get(&format!("/api/items?{q}"), &t).await;
        let short = &q[..q.len().min(40)];
        assert_eq!(r.status, 400, "{short}: {}", r.text);
        assert_eq!(r.json()["code"], "VALIDATION_BAD_QUERY", "{short}");
        assert_eq!(r.json()["details"]["parameter"], param, "{short}");
        if q.len() > 200 {
            // Refused for its size, not for what an item says.
            let message = r.json()["error"].as_str().unwrap().to_owned();
            assert!(
                message.to_lowercase().contains("at most"),
                "{short}: {message}"
            );
        }
    }
    let r = s.get("/api/items?offset=9223372036854775807", &t).await;
    assert_eq!(
        r.status, 200,
        "the largest offset is an empty page: {}",
        r.text
    );
    let max_in = (0..1000)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let r = s.get(&format!("/api/items?n.in={max_in}"), &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let max_filters = (0..100)
        .map(|i| format!("n.ne={i}"))
        .collect::<Vec<_>>()
        .join("&");
    let r = s.get(&format!("/api/items?{max_filters}"), &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[backends]
async fn list_parameters_are_reserved_by_name_not_by_the_tables_columns() {
    // The compiler refuses such columns; an IR that has one anyway must not change the grammar.
    let t = table("things")
        .col(column("limit", ColumnType::Integer))
        .col(column("sort", ColumnType::Text))
        .crud("member+")
        .createable(&["limit", "sort"])
        .build();
    let s = start(ir(vec![t])).await;
    let tok = s.token("u", &["member"], None);
    for q in ["limit=1&limit=2", "sort=id&sort=-id"] {
        let r = s.get(&format!("/api/things?{q}"), &tok).await;
        assert_eq!(r.status, 400, "{q}: {}", r.text);
        assert_eq!(r.json()["code"], "VALIDATION_BAD_QUERY", "{q}");
    }
    let r = s.get("/api/things?limit=1", &tok).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["pagination"]["limit"],
        1,
        "`limit` is the page size"
    );
}

#[backends]
async fn like_escapes_wildcards() {
    let s = start(project()).await;
    let t = s.token("u", &["member"], None);
    for n in ["100%", "1000", "a_b", "axb", "c\\d", "cd"] {
        s.create("items", &t, json!({"name": n})).await;
    }
    let q = |v: &'static str| {
        let s = &s;
        let t = t.clone();
        async move {
            let enc: String = url_encode(v);
            let mut n = names(
                &s.get(&format!("/api/items?limit=5&name.like={enc}"), &t)
                    .await
                    .json(),
            );
            n.sort();
            n
        }
    };
    assert_eq!(q("0%").await, ["100%"]);
    assert_eq!(q("_").await, ["a_b"]);
    assert_eq!(q("\\").await, ["c\\d"]);
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[backends]
async fn cursor_walk_sees_every_row_once_under_concurrent_inserts() {
    let s = std::sync::Arc::new(start(project()).await);
    let t = s.token("u", &["member"], None);
    let mut before = Vec::new();
    for i in 0..20 {
        before.push(id_str(
            &s.create("items", &t, json!({"name": format!("r{i}"), "n": i % 4}))
                .await,
        ));
    }
    let writer = {
        let s = s.clone();
        let t = t.clone();
        tokio::spawn(async move {
            for i in 0..30 {
                s.create("items", &t, json!({"name": format!("new{i}"), "n": i % 4}))
                    .await;
            }
        })
    };
    for sort in ["sort=-createdAt", "sort=n", "sort=-n,name"] {
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/items?{sort}&limit=3&cursor={c}"),
                None => format!("/api/items?{sort}&limit=3"),
            };
            let r = s.get(&path, &t).await.json();
            for row in r["data"].as_array().unwrap() {
                *seen.entry(id_str(&row["id"])).or_default() += 1;
            }
            match r["pagination"]["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        assert!(
            seen.values().all(|&c| c == 1),
            "{sort}: a row was visited twice"
        );
        for id in &before {
            assert_eq!(seen.get(id), Some(&1), "{sort}: row {id} missed");
        }
    }
    writer.await.unwrap();
}
