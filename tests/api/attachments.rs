//! Attachments: byte-for-byte round trips of every accepted type with a Chinese file name,
//! the refusals (415 by content, 413 over the limit without reading the rest, 422 empty or
//! malformed forms), and visibility exactly that of the owner for every role and another
//! organization.

use std::io::{Read, Write};

use gongyi::domain::user::Role;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::applications::ready_draft;
use crate::grants::finance;
use crate::helpers::{spawn_app, spawn_app_with, Resp, TestApp};
use crate::rounds::{open_round, round_body};
use crate::spending::{expenditure, spend, spending_grant};

const BOUNDARY: &str = "gongyi-test-boundary-7d1f";

/// A multipart/form-data body: (name, filename, bytes) parts.
pub fn form(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, filename, bytes) in parts {
        out.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match filename {
            Some(f) => out.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => out.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        out.extend_from_slice(bytes);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

pub async fn post_form(app: &TestApp, token: Option<&str>, path: &str, body: Vec<u8>) -> Resp {
    let mut r = app
        .client
        .post(app.url(path))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    app.send(r).await
}

pub async fn upload(
    app: &TestApp,
    token: &str,
    path: &str,
    filename: &str,
    kind: &str,
    bytes: &[u8],
) -> Resp {
    post_form(
        app,
        Some(token),
        path,
        form(&[
            ("kind", None, kind.as_bytes()),
            ("file", Some(filename), bytes),
        ]),
    )
    .await
}

fn with_tail(head: &[u8], n: usize) -> Vec<u8> {
    let mut v = head.to_vec();
    v.extend((0..n).map(|i| (i * 7 % 256) as u8));
    v
}

pub fn pdf() -> Vec<u8> {
    let mut v = with_tail(b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n", 3000);
    v.extend_from_slice(b"\n%%EOF\n");
    v
}
fn png() -> Vec<u8> {
    with_tail(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 500)
}
fn jpeg() -> Vec<u8> {
    with_tail(
        &[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F'],
        700,
    )
}
fn xlsx() -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "票据清单").unwrap();
    ws.write_number(1, 0, 1234.5).unwrap();
    wb.save_to_buffer().unwrap()
}
fn zip_of(names: &[&str]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for n in names {
        w.start_file(*n, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(b"<?xml version=\"1.0\"?><w:document/>")
            .unwrap();
    }
    w.finish().unwrap().into_inner()
}
fn docx() -> Vec<u8> {
    zip_of(&["[Content_Types].xml", "_rels/.rels", "word/document.xml"])
}

/// Downloads: (status, headers, bytes).
async fn download(
    app: &TestApp,
    token: Option<&str>,
    id: &str,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut r = app.client.get(app.url(&format!("/attachments/{id}")));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let res = r.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.bytes().await.unwrap().to_vec())
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn every_accepted_type_round_trips_byte_for_byte_with_its_chinese_name() {
    let app = spawn_app().await;
    let s = spending_grant(&app, None).await;
    let r = spend(
        &app,
        &s.grantee,
        &s.f.grant,
        expenditure("activities", json!("88.00"), None),
    )
    .await;
    let exp = r.body["id"].as_str().unwrap().to_string();
    let on_exp = format!("/expenditures/{exp}/attachments");
    let on_grant = format!("/grants/{}/attachments", s.f.grant);
    // (where, name sent, kind, bytes, detected type, name kept)
    type Case<'a> = (&'a str, &'a str, &'a str, Vec<u8>, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (
            &on_exp,
            "../../收据/十月 票据.pdf",
            "receipt",
            pdf(),
            "application/pdf",
            "十月 票据.pdf",
        ),
        (
            &on_exp,
            "发票.png",
            "receipt",
            png(),
            "image/png",
            "发票.png",
        ),
        (
            &on_exp,
            // Backslashes escaped as the quoted-string of the part header needs.
            "C:\\\\扫描\\\\小票.JPG",
            "receipt",
            jpeg(),
            "image/jpeg",
            "小票.JPG",
        ),
        (
            &on_grant,
            "支出明细.xlsx",
            "other",
            xlsx(),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "支出明细.xlsx",
        ),
        (
            &on_grant,
            "项目计划书",
            "project_plan",
            docx(),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "项目计划书.docx",
        ),
    ];
    for (path, name, kind, bytes, ct, kept) in cases {
        let r = upload(&app, &s.grantee, path, name, kind, &bytes).await;
        assert_eq!(r.status, 201, "{name}: {}", r.body);
        let sha = hex::encode(Sha256::digest(&bytes));
        assert_eq!(r.body["filename"], kept);
        assert_eq!(r.body["kind"], kind);
        assert_eq!(r.body["content_type"], ct);
        assert_eq!(r.body["size"], bytes.len());
        assert_eq!(r.body["sha256"], sha.as_str());
        assert!(r.body["uploaded_at"].is_string());
        let id = r.body["id"].as_str().unwrap();
        let (status, headers, got) = download(&app, Some(&s.grantee), id).await;
        assert_eq!(status, 200);
        assert_eq!(got, bytes, "{name}: byte for byte");
        assert_eq!(headers["content-type"], ct);
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let cd = headers["content-disposition"].to_str().unwrap();
        assert!(cd.starts_with("attachment; filename=\""), "{cd}");
        let star = cd
            .split("filename*=UTF-8''")
            .nth(1)
            .expect("an RFC 6266 filename*");
        assert_eq!(percent_decode(star), kept);
    }
    let r = app.get(&on_exp, Some(&s.grantee)).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 3);
    let r = app
        .get(&format!("{on_grant}?limit=1"), Some(&s.f.admin))
        .await;
    assert_eq!(
        (
            r.body["items"].as_array().unwrap().len(),
            &r.body["has_more"]
        ),
        (1, &json!(true))
    );
}

async fn attachment_rows(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let mut conn = app.db.conn().await.unwrap();
    gongyi::storage::schema::attachment_contents::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn bad_uploads_are_refused_by_content_size_and_shape() {
    let app = spawn_app_with(|s| s.attachments.max_bytes = 4096).await;
    let s = spending_grant(&app, None).await;
    let path = format!("/grants/{}/attachments", s.f.grant);
    let t = &s.grantee;
    // The type comes from the bytes: names and declared types do not matter.
    for (name, bytes) in [
        ("a.gif", b"GIF89a\x01\x00\x01\x00".to_vec()),
        ("not-really.pdf", b"just text, not a PDF".to_vec()),
        ("archive.docx", zip_of(&["word/document.xml"])),
        (
            "slides.xlsx",
            zip_of(&["[Content_Types].xml", "ppt/presentation.xml"]),
        ),
        ("page.pdf", b"<html>%PDF-1.7</html>".to_vec()),
    ] {
        let r = upload(&app, t, &path, name, "other", &bytes).await;
        assert_eq!(
            (r.status, r.code()),
            (415, "unsupported_media_type"),
            "{name}"
        );
    }
    let r = upload(&app, t, &path, "empty.pdf", "other", b"").await;
    assert_eq!((r.status, r.rules()), (422, vec!["empty_file".to_string()]));
    // At the limit: accepted; one byte over: 413.
    let at = with_tail(b"%PDF-1.7\n", 4096 - 9);
    assert_eq!(at.len(), 4096);
    let r = upload(&app, t, &path, "at.pdf", "other", &at).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let over = with_tail(b"%PDF-1.7\n", 4096 - 8);
    let r = upload(&app, t, &path, "over.pdf", "other", &over).await;
    assert_eq!((r.status, r.code()), (413, "payload_too_large"));
    // A declared length far over the limit is refused before anything is read.
    let big = with_tail(b"%PDF-1.7\n", 200_000);
    let r = upload(&app, t, &path, "big.pdf", "other", &big).await;
    assert_eq!(r.status, 413);
    // The form's shape.
    let r = upload(&app, t, &path, "a.pdf", "banknote", &pdf()[..1000]).await;
    assert_eq!((r.status, r.rules()), (422, vec!["kind".to_string()]));
    let r = post_form(&app, Some(t), &path, form(&[("kind", None, b"receipt")])).await;
    assert_eq!((r.status, r.rules()), (422, vec!["required".to_string()]));
    let r = post_form(
        &app,
        Some(t),
        &path,
        form(&[
            ("file", Some("a.pdf"), &pdf()[..100]),
            ("extra", None, b"x"),
        ]),
    )
    .await;
    assert_eq!(r.status, 422);
    let r = app
        .post(&path, Some(t), json!({"file": "JVBERi0xLjc="}))
        .await;
    assert_eq!(r.status, 415, "an upload is multipart");
    let r = app
        .send(
            app.client
                .post(app.url(&path))
                .bearer_auth(t)
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={BOUNDARY}"),
                )
                .body("--nonsense"),
        )
        .await;
    assert!(r.status == 400 || r.status == 422, "{}", r.status);
    assert_eq!(
        attachment_rows(&app).await,
        1,
        "only the one accepted file is stored"
    );

    // Streamed past the limit and never finished: the answer comes anyway, so the rest was
    // never waited for.
    let address = app.address.trim_start_matches("http://").to_string();
    let (token, target) = (t.clone(), format!("/api/v1{path}"));
    let head = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(address).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        write!(
            s,
            "POST {target} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        .unwrap();
        let mut chunk = |bytes: &[u8]| {
            write!(s, "{:x}\r\n", bytes.len()).unwrap();
            s.write_all(bytes).unwrap();
            s.write_all(b"\r\n").unwrap();
        };
        chunk(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"endless.pdf\"\r\n\r\n%PDF-1.7\n")
                .as_bytes(),
        );
        for _ in 0..8 {
            chunk(&[b'x'; 1024]);
        }
        // No last chunk: the body has no end.
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).to_string()
    })
    .await
    .unwrap();
    assert!(head.starts_with("HTTP/1.1 413"), "{head:?}");
    assert_eq!(attachment_rows(&app).await, 1);
}

#[tokio::test]
async fn attachments_are_visible_exactly_to_those_who_see_their_owner() {
    let app = spawn_app().await;
    let s = spending_grant(&app, None).await;
    let (_, other) = app.signed_in(Role::Applicant).await;
    let (_, reviewer) = app.signed_in(Role::Reviewer).await;
    let (_, fin) = finance(&app).await;
    let admin = s.f.admin.clone();
    let grantee = s.grantee.clone();
    let file = pdf();

    // An application draft: its organization adds documents; nobody else may.
    let (round, _) = open_round(&app, round_body("venture_philanthropy")).await;
    let draft = ready_draft(&app, &grantee, &round, "社区儿童四点半课堂").await;
    let on_app = format!("/applications/{draft}/attachments");
    for (token, status) in [(&admin, 403), (&fin, 403), (&reviewer, 403), (&other, 404)] {
        let r = upload(
            &app,
            token,
            &on_app,
            "登记证书.pdf",
            "registration_certificate",
            &file,
        )
        .await;
        assert_eq!(r.status, status, "{}", r.body);
    }
    let r = upload(
        &app,
        &grantee,
        &on_app,
        "登记证书.pdf",
        "registration_certificate",
        &file,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let app_doc = r.body["id"].as_str().unwrap().to_string();
    let r = upload(
        &app,
        &grantee,
        &on_app,
        "承诺书.pdf",
        "commitment_letter",
        &file,
    )
    .await;
    let letter = r.body["id"].as_str().unwrap().to_string();

    // A grant: the grantee and admins add documents (an evaluation report).
    let on_grant = format!("/grants/{}/attachments", s.f.grant);
    let r = upload(
        &app,
        &admin,
        &on_grant,
        "中期评估报告.pdf",
        "evaluation_report",
        &file,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let grant_doc = r.body["id"].as_str().unwrap().to_string();
    for (token, status) in [(&fin, 403), (&reviewer, 403), (&other, 404)] {
        let r = upload(&app, token, &on_grant, "x.pdf", "other", &file).await;
        assert_eq!(r.status, status, "{}", r.body);
    }

    // An expenditure: the grantee adds its receipt.
    let r = spend(
        &app,
        &grantee,
        &s.f.grant,
        expenditure("activities", json!("300.00"), None),
    )
    .await;
    let exp = r.body["id"].as_str().unwrap().to_string();
    let on_exp = format!("/expenditures/{exp}/attachments");
    for (token, status) in [(&admin, 403), (&fin, 403), (&reviewer, 403), (&other, 404)] {
        let r = upload(&app, token, &on_exp, "收据.pdf", "receipt", &file).await;
        assert_eq!(r.status, status, "{}", r.body);
    }
    let r = upload(&app, &grantee, &on_exp, "收据.pdf", "receipt", &file).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let receipt = r.body["id"].as_str().unwrap().to_string();

    // Reading: the owner's visibility, 404 for the rest; no token, 401.
    let readers: [(&str, &str, [u16; 3]); 5] = [
        ("admin", admin.as_str(), [200, 200, 200]),
        ("finance", fin.as_str(), [200, 200, 200]),
        ("grantee", grantee.as_str(), [200, 200, 200]),
        ("other applicant", other.as_str(), [404, 404, 404]),
        ("unassigned reviewer", reviewer.as_str(), [404, 404, 404]),
    ];
    for (who, token, expect) in readers {
        for (id, status) in [&app_doc, &grant_doc, &receipt].into_iter().zip(expect) {
            let (got, _, _) = download(&app, Some(token), id).await;
            assert_eq!(got, status, "{who} reading {id}");
        }
    }
    for (list, status) in [(&on_app, 404), (&on_grant, 404), (&on_exp, 404)] {
        let r = app.get(list, Some(&other)).await;
        assert_eq!(r.status, status, "{list}");
    }
    assert_eq!(download(&app, None, &receipt).await.0, 401);
    assert_eq!(
        download(&app, Some(&admin), &uuid::Uuid::new_v4().to_string())
            .await
            .0,
        404
    );

    // Deleting: whoever may edit the owner, while it is editable.
    assert_eq!(
        app.delete(&format!("/attachments/{letter}"), Some(&other))
            .await
            .status,
        404
    );
    assert_eq!(
        app.delete(&format!("/attachments/{letter}"), Some(&admin))
            .await
            .status,
        403
    );
    assert_eq!(
        app.delete(&format!("/attachments/{letter}"), Some(&grantee))
            .await
            .status,
        204
    );
    assert_eq!(download(&app, Some(&grantee), &letter).await.0, 404);
    let r = app
        .post(
            &format!("/applications/{draft}/submit"),
            Some(&grantee),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = upload(&app, &grantee, &on_app, "晚了.pdf", "other", &file).await;
    assert_eq!((r.status, r.code()), (409, "invalid_state"));
    let r = app
        .delete(&format!("/attachments/{app_doc}"), Some(&grantee))
        .await;
    assert_eq!(r.status, 409);

    // A receipt is fixed once its expenditure is in a report.
    let r = app
        .post(
            &format!("/grants/{}/financial-reports", s.f.grant),
            Some(&grantee),
            json!({"period": "mid_term"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = upload(&app, &grantee, &on_exp, "补充.pdf", "receipt", &file).await;
    assert_eq!((r.status, r.code()), (409, "invalid_state"));
    assert_eq!(
        app.delete(&format!("/attachments/{receipt}"), Some(&grantee))
            .await
            .status,
        409
    );
    assert_eq!(
        download(&app, Some(&fin), &receipt).await.0,
        200,
        "still readable"
    );

    // Deleting a draft expenditure takes its receipts with it.
    let r = spend(
        &app,
        &grantee,
        &s.f.grant,
        expenditure("activities", json!("5.00"), None),
    )
    .await;
    let exp2 = r.body["id"].as_str().unwrap().to_string();
    let r = upload(
        &app,
        &grantee,
        &format!("/expenditures/{exp2}/attachments"),
        "r.png",
        "receipt",
        &png(),
    )
    .await;
    let gone = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.delete(&format!("/expenditures/{exp2}"), Some(&grantee))
            .await
            .status,
        204
    );
    assert_eq!(download(&app, Some(&grantee), &gone).await.0, 404);
    // The grant's own documents: the grantee deletes while the grant is active.
    assert_eq!(
        app.delete(&format!("/attachments/{grant_doc}"), Some(&grantee))
            .await
            .status,
        204
    );

    // The audit trail has every upload and deletion.
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let mut conn = app.db.conn().await.unwrap();
    use gongyi::storage::schema::audit_events::dsl as a;
    let actions: Vec<(String, Option<Value>)> = a::audit_events
        .filter(a::action.like("attachment.%"))
        .select((a::action, a::after))
        .load(&mut conn)
        .await
        .unwrap();
    let uploaded = actions
        .iter()
        .filter(|(x, _)| x == "attachment.uploaded")
        .count();
    let deleted = actions
        .iter()
        .filter(|(x, _)| x == "attachment.deleted")
        .count();
    assert_eq!((uploaded, deleted), (5, 3));
}
