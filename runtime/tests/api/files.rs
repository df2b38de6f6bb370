//! File columns (SPEC §13): multipart uploads typed by their content and refused past their
//! size before anything is kept; downloads through the read pipeline with headers a browser
//! cannot be fooled by; signed URLs that die with the row or the file; and the lifecycle — a
//! replaced, removed or hard-deleted file's object is deleted after commit, a failed write
//! leaves no object, a soft delete keeps it for the restore, the sweeper takes orphans.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use crate::common;

use common::*;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use ward_test_macros::backends;

const PROJECT: &str = r#"
auth { roles member editor }
table pets {
    column orgId text
    column name text required=#true
    column tag text unique=#true
    column photo file max-size="64KB" types="image/png,image/jpeg"
    column papers file max-size="1MB"
    column vetNotes file
    column stamp file
    firewall { scope orgId (auth)org-id }
    access {
        list member+
        read member+
        create member+
        update member+
        delete member+
        restore member+
    }
    guards {
        createable name tag photo papers vetNotes
        updatable name tag photo papers vetNotes
    }
    masking { mask vetNotes hidden show=editor }
    delete soft
    history #true
}
table scans {
    column orgId text
    column petId uuid references=pets on-delete=cascade
    column scan file
    firewall { scope orgId (auth)org-id }
    access { list member+; read member+; create member+; delete member+; }
    guards { createable petId scan; }
    delete hard
}
"#;

/// A tiny but real PNG: the signature and an IHDR chunk are what content sniffing reads.
fn png(extra: usize) -> Vec<u8> {
    let mut b =
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde".to_vec();
    b.extend(std::iter::repeat_n(7u8, extra));
    b
}

fn pdf() -> Vec<u8> {
    b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n".to_vec()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

struct Case {
    s: Server,
    member: String,
    editor: String,
    stranger: String,
}

async fn case() -> Case {
    case_kdl(PROJECT).await
}

/// The keys of every object in the store (local or S3).
async fn objects(s: &Server) -> Vec<String> {
    s.app.stored_files().await.unwrap()
}

/// Objects deleted after commit are the collector's; wait for it (it runs on every commit).
async fn settled(s: &Server, expected: usize) -> Vec<String> {
    for _ in 0..200 {
        s.app.collect_files().await.unwrap();
        let now = objects(s).await;
        if now.len() == expected {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    objects(s).await
}

async fn send(s: &Server, method: &str, path: &str, token: Option<&str>, form: Form) -> Resp {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut r = s
        .client
        .request(m, format!("{}{path}", s.base))
        .multipart(form);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    Resp::read(r.send().await.unwrap()).await
}

fn file(bytes: Vec<u8>, name: &str, claimed: &str) -> Part {
    Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str(claimed)
        .unwrap()
}

async fn bytes(
    s: &Server,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut r = s.client.get(format!("{}{path}", s.base));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let res = r.send().await.unwrap();
    let status = res.status().as_u16();
    let h = res.headers().clone();
    (status, h, res.bytes().await.unwrap().to_vec())
}

/// Creates a pet with a photo; returns its id and the photo's bytes.
async fn pet_with_photo(c: &Case, name: &str) -> (String, Vec<u8>) {
    let photo = png(100);
    let form = Form::new()
        .text("name", name.to_owned())
        .part("photo", file(photo.clone(), "cat.png", "image/png"));
    let r = send(&c.s, "POST", "/api/pets", Some(&c.member), form).await;
    assert_eq!(r.status, 201, "{}", r.text);
    (id_str(&r.json()["data"]["id"]), photo)
}

#[backends]
async fn an_upload_is_typed_by_its_content_and_downloads_byte_identical() {
    let c = case().await;
    let s = &c.s;
    let photo = png(2000);
    // The client calls it a JPEG; its bytes say PNG, and PNG is what is stored.
    let form = Form::new()
        .text("name", "Rex")
        .part(
            "photo",
            file(photo.clone(), "../../rex photo.png", "image/jpeg"),
        )
        .part("papers", file(pdf(), "papers.pdf", "text/html"));
    let r = send(s, "POST", "/api/pets", Some(&c.member), form).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let created = r.json()["data"].clone();
    assert_eq!(
        created["photo"],
        json!({"name": "rex photo.png", "size": photo.len(), "type": "image/png", "sha256": sha256_hex(&photo)})
    );
    assert_eq!(created["papers"]["type"], "application/pdf");
    // Where the bytes are is never said: not on create, read, list or history.
    let id = id_str(&created["id"]);
    for path in [
        format!("/api/pets/{id}"),
        "/api/pets".to_owned(),
        format!("/api/pets/{id}/history"),
    ] {
        let r = s.get(&path, &c.editor).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert!(
            !r.text.contains("\"key\""),
            "{path} shows a key: {}",
            r.text
        );
        assert!(r.text.contains(&sha256_hex(&photo)), "{path}: {}", r.text);
    }
    assert!(!r.text.contains("\"key\""));
    assert_eq!(objects(s).await.len(), 2);

    let path = format!("/api/pets/{id}/file/photo");
    let (status, h, body) = bytes(s, &path, Some(&c.member), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body, photo);
    let header = |name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(header("content-type"), "image/png");
    assert_eq!(
        header("content-disposition"),
        "attachment; filename=\"rex photo.png\"; filename*=UTF-8''rex%20photo.png"
    );
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("content-security-policy"), "sandbox");
    assert_eq!(header("cache-control"), "private, no-store");
    assert_eq!(header("etag"), format!("\"{}\"", sha256_hex(&photo)));
    assert_eq!(header("accept-ranges"), "bytes");
    // Inline only when asked, and only for images and PDF.
    let (_, h, _) = bytes(s, &format!("{path}?inline=1"), Some(&c.member), &[]).await;
    assert!(
        h["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline;")
    );
    let (_, h, _) = bytes(
        s,
        &format!("/api/pets/{id}/file/papers?inline=1"),
        Some(&c.member),
        &[],
    )
    .await;
    assert!(
        h["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline;")
    );
    // Text (HTML included) is never shown inline.
    let page = b"<html><body><script>alert(1)</script></body></html>".to_vec();
    let form = Form::new().part("papers", file(page, "page.html", "text/html"));
    let r = send(
        s,
        "PATCH",
        &format!("/api/pets/{id}"),
        Some(&c.member),
        form,
    )
    .await;
    assert_eq!(
        r.json()["data"]["papers"]["type"],
        "text/html",
        "{}",
        r.text
    );
    let inline = format!("/api/pets/{id}/file/papers?inline=1");
    let (_, h, _) = bytes(s, &inline, Some(&c.member), &[]).await;
    let disposition = h["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert_eq!(h["content-security-policy"], "sandbox");
    // Ranges, and the ETag for caches.
    let (status, h, body) = bytes(s, &path, Some(&c.member), &[("range", "bytes=4-9")]).await;
    assert_eq!(status, 206);
    assert_eq!(body, photo[4..10]);
    assert_eq!(
        h["content-range"],
        format!("bytes 4-9/{}", photo.len()).as_str()
    );
    let (status, _, _) = bytes(s, &path, Some(&c.member), &[("range", "bytes=999999-")]).await;
    assert_eq!(status, 416);
    let etag = format!("\"{}\"", sha256_hex(&photo));
    let (status, _, body) = bytes(s, &path, Some(&c.member), &[("if-none-match", &etag)]).await;
    assert_eq!((status, body.len()), (304, 0));
}

#[backends]
async fn refused_uploads_store_nothing() {
    let c = case().await;
    let s = &c.s;
    let post = |form: Form, token: Option<String>| async move {
        send(s, "POST", "/api/pets", token.as_deref(), form).await
    };
    let refused = |r: &Resp, status: u16, code: &str| {
        assert_eq!((r.status, r.code().as_str()), (status, code), "{}", r.text);
    };
    let with_name = |part: &str, bytes: Vec<u8>, name: &str| {
        Form::new()
            .text("name", "a")
            .part(part.to_owned(), file(bytes, name, "image/png"))
    };
    let member = Some(c.member.clone());
    // Text where only images are taken: 415, whatever the client claims.
    let html = b"<html><script>x</script>".to_vec();
    let r = post(with_name("photo", html, "x.png"), member.clone()).await;
    refused(&r, 415, "FILE_TYPE_NOT_ALLOWED");
    assert_eq!(r.json()["details"]["type"], "text/html");
    // Past `max-size`: 413.
    let r = post(
        with_name("photo", png(70 * 1024), "big.png"),
        member.clone(),
    )
    .await;
    refused(&r, 413, "PAYLOAD_TOO_LARGE");
    assert_eq!(r.json()["details"]["field"], "photo");
    // A column the guards do not let anyone write: refused before a byte is stored.
    let r = post(with_name("stamp", png(10), "s.png"), member.clone()).await;
    refused(&r, 400, "GUARD_FIELD_NOT_CREATEABLE");
    // No token: 401.
    let r = post(with_name("photo", png(10), "p.png"), None).await;
    refused(&r, 401, "AUTH_MISSING");
    // Stored, then the write fails (no name): the object goes again.
    let nameless = Form::new().part("photo", file(png(10), "p.png", "image/png"));
    refused(
        &post(nameless, member.clone()).await,
        400,
        "VALIDATION_REQUIRED",
    );
    // Stored, then the INSERT fails in the database (the tag is taken): the object goes again.
    let first = s
        .create("pets", &c.member, json!({"name": "first", "tag": "t1"}))
        .await;
    let taken = with_name("photo", png(10), "p.png").text("tag", "t1");
    refused(&post(taken, member.clone()).await, 409, "UNIQUE_VIOLATION");
    let path = format!("/api/pets/{}", id_str(&first));
    assert_eq!(s.delete(&path, &c.member).await.status, 200);
    // Metadata written by a client as JSON, pointing at someone's object: never a file.
    let forged =
        json!({"name": "x", "size": 1, "type": "image/png", "sha256": "00", "key": "pets/photo/x"});
    let r = s
        .post(
            "/api/pets",
            &c.member,
            json!({"name": "a", "photo": forged}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "VALIDATION_TYPE".into()),
        "{}",
        r.text
    );
    assert!(r.text.contains("multipart/form-data"), "{}", r.text);
    let r = s.get("/api/pets", &c.member).await;
    assert_eq!(r.json()["data"], json!([]));
    assert_eq!(settled(s, 0).await, Vec::<String>::new());
    assert_eq!(s.app.files_queued().await.unwrap(), 0);
}

#[backends]
async fn a_download_answers_exactly_as_the_row_read_does() {
    let c = case().await;
    let s = &c.s;
    let form = Form::new()
        .text("name", "Rex")
        .part("photo", file(png(10), "p.png", "image/png"))
        .part("vetNotes", file(pdf(), "notes.pdf", "application/pdf"));
    let r = send(s, "POST", "/api/pets", Some(&c.editor), form).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = id_str(&r.json()["data"]["id"]);
    let missing = s
        .get("/api/pets/00000000-0000-4000-8000-000000000000", &c.member)
        .await;
    assert_eq!(missing.status, 404);
    let not_found = |r: &Resp, what: &str| {
        assert_eq!(
            (r.status, r.text.as_str()),
            (404, missing.text.as_str()),
            "{what}"
        );
    };
    // Another org's row, a column hidden from members, a column without a file, a column that
    // is no file, one that does not exist, an id that does not exist.
    not_found(
        &s.get(&format!("/api/pets/{id}/file/photo"), &c.stranger)
            .await,
        "foreign row",
    );
    not_found(
        &s.get(&format!("/api/pets/{id}/file/vetNotes"), &c.member)
            .await,
        "masked column",
    );
    not_found(
        &s.get(&format!("/api/pets/{id}/file/papers"), &c.member)
            .await,
        "no file",
    );
    not_found(
        &s.get(&format!("/api/pets/{id}/file/name"), &c.member).await,
        "not a file column",
    );
    not_found(
        &s.get(&format!("/api/pets/{id}/file/nope"), &c.member).await,
        "unknown column",
    );
    not_found(
        &s.get(
            "/api/pets/00000000-0000-4000-8000-000000000000/file/photo",
            &c.member,
        )
        .await,
        "missing row",
    );
    // Who may read the row unmasked gets the bytes.
    let (status, _, body) = bytes(
        s,
        &format!("/api/pets/{id}/file/vetNotes"),
        Some(&c.editor),
        &[],
    )
    .await;
    assert_eq!((status, body), (200, pdf()));
    // The row read and the download agree after a soft delete too.
    assert_eq!(
        s.delete(&format!("/api/pets/{id}"), &c.member).await.status,
        200
    );
    not_found(
        &s.get(&format!("/api/pets/{id}/file/photo"), &c.member)
            .await,
        "soft-deleted row",
    );
}

#[backends]
async fn replaced_removed_and_deleted_files_leave_the_store() {
    let c = case().await;
    let s = &c.s;
    let (id, _) = pet_with_photo(&c, "Rex").await;
    let first = settled(s, 1).await;
    // Replaced by an upload: the old object goes, the new one stays.
    let second = png(300);
    let form = Form::new().part("photo", file(second.clone(), "new.png", "image/png"));
    let r = send(
        s,
        "PATCH",
        &format!("/api/pets/{id}"),
        Some(&c.member),
        form,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["data"]["photo"]["sha256"], sha256_hex(&second));
    let now = settled(s, 1).await;
    assert_ne!(now, first);
    let (_, _, body) = bytes(
        s,
        &format!("/api/pets/{id}/file/photo"),
        Some(&c.member),
        &[],
    )
    .await;
    assert_eq!(body, second);
    // A soft delete keeps it: the restore brings the same file back.
    assert_eq!(
        s.delete(&format!("/api/pets/{id}"), &c.member).await.status,
        200
    );
    assert_eq!(settled(s, 1).await, now);
    let r = s
        .post(&format!("/api/pets/{id}/restore"), &c.member, json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (status, h, _) = bytes(
        s,
        &format!("/api/pets/{id}/file/photo"),
        Some(&c.member),
        &[],
    )
    .await;
    assert_eq!(
        (status, h["etag"].to_str().unwrap()),
        (200, format!("\"{}\"", sha256_hex(&second)).as_str())
    );
    // Removed with a JSON null: gone.
    let r = s
        .patch(
            &format!("/api/pets/{id}"),
            &c.member,
            json!({"photo": null}),
        )
        .await;
    assert_eq!(
        (r.status, &r.json()["data"]["photo"]),
        (200, &Value::Null),
        "{}",
        r.text
    );
    assert_eq!(settled(s, 0).await, Vec::<String>::new());
    // A hard delete, and the rows the foreign keys remove with it.
    let form = Form::new()
        .text("petId", id.clone())
        .part("scan", file(pdf(), "scan.pdf", "application/pdf"));
    let r = send(s, "POST", "/api/scans", Some(&c.member), form).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let scan = id_str(&r.json()["data"]["id"]);
    let form = Form::new()
        .text("petId", id.clone())
        .part("scan", file(pdf(), "scan2.pdf", "application/pdf"));
    assert_eq!(
        send(s, "POST", "/api/scans", Some(&c.member), form)
            .await
            .status,
        201
    );
    assert_eq!(settled(s, 2).await.len(), 2);
    assert_eq!(
        s.delete(&format!("/api/scans/{scan}"), &c.member)
            .await
            .status,
        200
    );
    assert_eq!(settled(s, 1).await.len(), 1);
    assert_eq!(s.app.files_queued().await.unwrap(), 0);
}

#[backends]
async fn signed_urls_die_with_the_row_and_the_file() {
    let c = case().await;
    let s = &c.s;
    let (id, photo) = pet_with_photo(&c, "Rex").await;
    let sign = || async {
        let r = s
            .post(
                &format!("/api/pets/{id}/file/photo/url"),
                &c.member,
                json!({}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.json()["data"]["url"].as_str().unwrap().to_owned()
    };
    let url = sign().await;
    assert!(
        url.starts_with(&format!("/api/pets/{id}/file/photo?token=")),
        "{url}"
    );
    // No header needed: the link stands for the caller, briefly.
    let (status, _, body) = bytes(s, &url, None, &[]).await;
    assert_eq!((status, body), (200, photo));
    // Tampered, or used for another column: not found.
    let (status, _, _) = bytes(s, &format!("{url}x"), None, &[]).await;
    assert_eq!(status, 404);
    let other = url.replace("/file/photo?", "/file/papers?");
    assert_eq!(bytes(s, &other, None, &[]).await.0, 404);
    // The file replaced: the old link is dead.
    let form = Form::new().part("photo", file(png(5), "b.png", "image/png"));
    assert_eq!(
        send(
            s,
            "PATCH",
            &format!("/api/pets/{id}"),
            Some(&c.member),
            form
        )
        .await
        .status,
        200
    );
    assert_eq!(bytes(s, &url, None, &[]).await.0, 404);
    // The row deleted: the new link is dead too.
    let url = sign().await;
    assert_eq!(bytes(s, &url, None, &[]).await.0, 200);
    assert_eq!(
        s.delete(&format!("/api/pets/{id}"), &c.member).await.status,
        200
    );
    assert_eq!(bytes(s, &url, None, &[]).await.0, 404);
    // Nobody signs for a file they cannot read.
    let (id2, _) = pet_with_photo(&c, "Fido").await;
    let r = s
        .post(
            &format!("/api/pets/{id2}/file/photo/url"),
            &c.stranger,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 404);
}

#[backends]
async fn the_sweeper_takes_only_old_unreferenced_objects() {
    let c = case().await;
    let s = &c.s;
    pet_with_photo(&c, "Rex").await;
    let kept = settled(s, 1).await;
    let orphan = s.dir.path().join(".ward/files/pets/photo/orphan");
    std::fs::write(&orphan, b"left by a request that died").unwrap();
    assert_eq!(objects(s).await.len(), 2);
    // Young objects are left alone: their upload may still be on its way.
    assert_eq!(
        s.app.sweep_files(Duration::from_secs(3600)).await.unwrap(),
        0
    );
    assert!(orphan.exists());
    assert_eq!(s.app.sweep_files(Duration::ZERO).await.unwrap(), 1);
    assert!(!orphan.exists());
    assert_eq!(objects(s).await, kept);
}

/// An S3-compatible server for the S3 store's tests (CI starts moto); credentials come from the
/// environment as in production (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`).
fn s3_endpoint() -> Option<String> {
    std::env::var("WARD_TEST_S3_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
}

async fn case_kdl(kdl: &str) -> Case {
    let s = start_kdl(kdl).await;
    Case {
        member: s.token("max", &["member"], Some("acme")),
        editor: s.token("eve", &["editor"], Some("acme")),
        stranger: s.token("sam", &["editor"], Some("globex")),
        s,
    }
}

/// One pass through every file operation, as lines without ids or times: two stores that
/// answer alike give the same lines.
async fn scenario(c: &Case) -> Vec<String> {
    let s = &c.s;
    let mut out = Vec::new();
    let photo = png(5000);
    let form = Form::new()
        .text("name", "Rex")
        .part("photo", file(photo.clone(), "rex.png", "image/jpeg"));
    let r = send(s, "POST", "/api/pets", Some(&c.member), form).await;
    out.push(format!("create {} {}", r.status, r.json()["data"]["photo"]));
    let id = id_str(&r.json()["data"]["id"]);
    let path = format!("/api/pets/{id}/file/photo");
    let (status, h, body) = bytes(s, &path, Some(&c.member), &[]).await;
    out.push(format!(
        "download {status} {} {:?} {:?} {:?}",
        sha256_hex(&body),
        h.get("content-type"),
        h.get("content-disposition"),
        h.get("etag")
    ));
    let (status, h, body) = bytes(s, &path, Some(&c.member), &[("range", "bytes=-16")]).await;
    out.push(format!(
        "range {status} {:?} {body:?}",
        h.get("content-range")
    ));
    let r = s.post(&format!("{path}/url"), &c.member, json!({})).await;
    let url = r.json()["data"]["url"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    out.push(format!(
        "signed {} {}",
        r.status,
        bytes(s, &url, None, &[]).await.0
    ));
    out.push(format!("objects {}", settled(s, 1).await.len()));
    let form = Form::new().part("photo", file(png(10), "b.png", "image/png"));
    let r = send(
        s,
        "PATCH",
        &format!("/api/pets/{id}"),
        Some(&c.member),
        form,
    )
    .await;
    out.push(format!(
        "replace {} {}",
        r.status,
        r.json()["data"]["photo"]
    ));
    out.push(format!("old link {}", bytes(s, &url, None, &[]).await.0));
    out.push(format!("objects {}", settled(s, 1).await.len()));
    let form = Form::new().part("photo", file(b"plain text".to_vec(), "t.png", "image/png"));
    let r = send(
        s,
        "PATCH",
        &format!("/api/pets/{id}"),
        Some(&c.member),
        form,
    )
    .await;
    out.push(format!("wrong type {} {}", r.status, r.text));
    let form = Form::new().part("photo", file(png(70 * 1024), "big.png", "image/png"));
    let r = send(
        s,
        "PATCH",
        &format!("/api/pets/{id}"),
        Some(&c.member),
        form,
    )
    .await;
    out.push(format!("too large {} {}", r.status, r.text));
    out.push(format!("objects {}", settled(s, 1).await.len()));
    out.push(format!(
        "soft delete {}",
        s.delete(&format!("/api/pets/{id}"), &c.member).await.status
    ));
    out.push(format!("objects {}", settled(s, 1).await.len()));
    let r = s
        .post(&format!("/api/pets/{id}/restore"), &c.member, json!({}))
        .await;
    out.push(format!(
        "restore {} {}",
        r.status,
        bytes(s, &path, Some(&c.member), &[]).await.0
    ));
    let r = s
        .patch(
            &format!("/api/pets/{id}"),
            &c.member,
            json!({"photo": null}),
        )
        .await;
    out.push(format!("remove {} {}", r.status, r.json()["data"]["photo"]));
    out.push(format!("objects {}", settled(s, 0).await.len()));
    let form = Form::new()
        .text("petId", id.clone())
        .part("scan", file(pdf(), "s.pdf", "application/pdf"));
    let r = send(s, "POST", "/api/scans", Some(&c.member), form).await;
    let scan = id_str(&r.json()["data"]["id"]);
    out.push(format!(
        "scan {} objects {}",
        r.status,
        settled(s, 1).await.len()
    ));
    out.push(format!(
        "hard delete {}",
        s.delete(&format!("/api/scans/{scan}"), &c.member)
            .await
            .status
    ));
    out.push(format!("objects {}", settled(s, 0).await.len()));
    out
}

#[tokio::test]
async fn an_s3_store_answers_as_the_local_store_does() {
    let Some(endpoint) = s3_endpoint() else {
        eprintln!("skipped: WARD_TEST_S3_ENDPOINT is not set");
        return;
    };
    let bucket = format!("ward-test-{}", uuid::Uuid::new_v4().simple());
    let made = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap();
    assert!(
        made.status().is_success(),
        "creating bucket {bucket}: {}",
        made.status()
    );
    let local = scenario(&case_kdl(PROJECT).await).await;
    let project = format!(
        "server {{ storage \"s3\" bucket=\"{bucket}\" endpoint=\"{endpoint}\" region=\"us-east-1\" prefix=\"ward\"; }}\n{PROJECT}"
    );
    let c = case_kdl(&project).await;
    let remote = scenario(&c).await;
    assert_eq!(remote, local);
    // The sweeper on S3: an object nobody references, left in the store's folder.
    let planted = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}/ward/pets/photo/orphan"))
        .body("left by a request that died")
        .send()
        .await
        .unwrap();
    assert!(planted.status().is_success());
    assert_eq!(objects(&c.s).await, vec!["pets/photo/orphan".to_owned()]);
    assert_eq!(c.s.app.sweep_files(Duration::ZERO).await.unwrap(), 1);
    assert_eq!(objects(&c.s).await, Vec::<String>::new());
}

#[tokio::test]
async fn the_document_describes_uploads_and_downloads() {
    let s = start_kdl(PROJECT).await;
    let doc = s.req("GET", "/openapi.json", None, None).await.json();
    let create = &doc["paths"]["/api/pets"]["post"];
    let form = &create["requestBody"]["content"]["multipart/form-data"]["schema"];
    assert_eq!(
        form["properties"]["photo"]["contentMediaType"],
        "application/octet-stream"
    );
    assert_eq!(form["properties"]["name"]["type"], "string");
    // No way to name a file in JSON: null removes it.
    assert_eq!(
        doc["components"]["schemas"]["pets_create"]["properties"]["photo"]["type"],
        "null"
    );
    assert!(create["responses"]["415"].is_object());
    assert!(
        doc["paths"]["/api/pets/{id}"]["patch"]["requestBody"]["content"]["multipart/form-data"]
            .is_object()
    );
    let record = &doc["components"]["schemas"]["pets"]["properties"];
    assert_eq!(
        record["photo"]["anyOf"][0]["$ref"],
        "#/components/schemas/FileMetadata"
    );
    let download = &doc["paths"]["/api/pets/{id}/file/photo"]["get"];
    for status in ["200", "206", "304", "404", "416"] {
        assert!(download["responses"][status].is_object(), "{status}");
    }
    assert!(download["responses"]["200"]["content"]["image/png"].is_object());
    assert!(doc["paths"]["/api/pets/{id}/file/photo/url"]["post"]["responses"]["201"].is_object());
    // Columns without files have no routes; the store's key is in no schema.
    assert!(doc["paths"]["/api/pets/{id}/file/name"].is_null());
    assert!(!doc.to_string().contains("\"key\""));
}

/// A signed URL is signed with a key derived from the project's secret: another instance on the
/// same database and store honours it (behind a load balancer, `<img src>` may reach any).
#[backends]
async fn a_signed_url_works_on_every_instance_sharing_the_secret() {
    use tower::ServiceExt;
    let c = case().await;
    let s = &c.s;
    let (id, photo) = pet_with_photo(&c, "Rex").await;
    let r = s
        .post(
            &format!("/api/pets/{id}/file/photo/url"),
            &c.member,
            json!({}),
        )
        .await;
    let url = r.json()["data"]["url"].as_str().unwrap().to_owned();
    let ir = s.app.ir_now();
    let other = ward_runtime::App::open(ir, &s.db.options(s.dir.path()))
        .await
        .unwrap();
    let request = axum::http::Request::get(url.as_str())
        .body(axum::body::Body::empty())
        .unwrap();
    let answer = other.router().oneshot(request).await.unwrap();
    assert_eq!(answer.status(), 200);
    let body = axum::body::to_bytes(answer.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(body.to_vec(), photo);
}

/// The bytes of a multipart body `name=Rex` plus a `photo` part holding `photo`, cut in
/// `pieces` parts, and its content type.
fn multipart_pieces(photo: &[u8], pieces: usize) -> (Vec<Vec<u8>>, String) {
    let boundary = "ward-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nRex\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"p.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(photo);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let size = body.len().div_ceil(pieces);
    let parts = body.chunks(size).map(<[u8]>::to_vec).collect();
    (parts, format!("multipart/form-data; boundary={boundary}"))
}

/// An upload is a request like any other (SPEC §5.7): its bytes must arrive within the request
/// deadline (`request-timeout`, raised for projects with large files on slow links) and never
/// fall silent for the body timeout; past either it is 504, and nothing it stored is kept.
#[tokio::test]
async fn an_upload_that_outlasts_the_deadline_is_refused_and_leaves_nothing() {
    use futures_util::StreamExt;
    let out = ward_compiler::compile(&ward_compiler::Sources::single("p.kdl", PROJECT));
    let s = start_with(out.ir.unwrap(), |o| {
        o.limits.request_deadline = Duration::from_millis(1500);
        o.limits.body_stall = Duration::from_millis(600);
    })
    .await;
    let token = s.token("max", &["member"], Some("acme"));
    let send_slowly = |gaps: Vec<u64>| {
        let (parts, content_type) = multipart_pieces(&png(4000), gaps.len());
        let body = futures_util::stream::iter(parts.into_iter().zip(gaps)).then(
            |(part, gap)| async move {
                tokio::time::sleep(Duration::from_millis(gap)).await;
                Ok::<_, std::io::Error>(part)
            },
        );
        s.client
            .post(format!("{}/api/pets", s.base))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(reqwest::Body::wrap_stream(body))
            .send()
    };
    // Within the deadline, a piece every 100 ms: stored.
    let r = send_slowly(vec![0, 100, 100, 100]).await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    // Never silent for long, but past the deadline; and silent past the body timeout: 504 (or
    // the connection closed while the client still had bytes to send), nothing kept.
    for gaps in [vec![0, 350, 350, 350, 350, 350], vec![0, 2000]] {
        match send_slowly(gaps).await {
            Ok(r) => assert_eq!(r.status(), 504),
            Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
        }
    }
    assert_eq!(settled(&s, 1).await.len(), 1);
    assert_eq!(
        s.get("/api/pets", &token).await.json()["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// A deletion the store refuses stays queued and is tried again after a backoff (1 s, 2 s, …),
/// until the store confirms.
#[backends]
async fn a_failed_deletion_is_retried_until_the_store_confirms() {
    let c = case().await;
    let s = &c.s;
    let (id, _) = pet_with_photo(&c, "Rex").await;
    let [key] = settled(s, 1).await.try_into().unwrap();
    // The object's place taken by a directory: removing it fails, as a store that is down would.
    let place = s.dir.path().join(".ward/files").join(&key);
    std::fs::remove_file(&place).unwrap();
    std::fs::create_dir_all(place.join("in-the-way")).unwrap();
    let r = s
        .patch(
            &format!("/api/pets/{id}"),
            &c.member,
            json!({"photo": null}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(s.app.collect_files().await.unwrap(), 0);
    assert_eq!(s.app.files_queued().await.unwrap(), 1);
    // Not due again yet: nothing is tried.
    assert_eq!(s.app.collect_files().await.unwrap(), 0);
    std::fs::remove_dir_all(&place).unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // This pass, or the collector's own, deletes it.
    s.app.collect_files().await.unwrap();
    assert_eq!(s.app.files_queued().await.unwrap(), 0);
    assert_eq!(objects(s).await, Vec::<String>::new());
}
