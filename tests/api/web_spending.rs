//! The spending pages over real HTTP: the execution table and who may see it, the expenditure
//! form (idempotent, refusals beside the fields, CSRF), receipts uploaded as multipart with
//! the CSRF token and downloaded byte for byte, financial reports, budget adjustments decided
//! by an admin (never by the one who proposed), the round's spending, application attachments,
//! the demo data, and the grantee's journey in Chromium.

use std::collections::HashMap;

use gongyi::domain::user::Role;
use serde_json::json;
use uuid::Uuid;

use crate::grants::funded_grant;
use crate::helpers::{spawn_app, spawn_app_with, TestApp};
use crate::web::{browser_user, Page, PageClient};

const BOUNDARY: &str = "gongyi-test-boundary-7d1f";

struct Setup {
    grant: String,
    round: String,
    grantee: PageClient,
    grantee_email: String,
    /// The grantee's API token, to check what the pages did.
    token: String,
    /// Budget line ids by category: personnel 50,000 and activities 30,000 (grant), materials
    /// 20,000 (self-funded).
    lines: HashMap<String, String>,
}

async fn setup(app: &TestApp) -> Setup {
    let (grantee, grantee_email, _) = browser_user(app, Role::Applicant).await;
    let token = app.login(&grantee_email).await;
    let f = funded_grant(app, &token, "80000.00", None, None).await;
    let r = app
        .get(
            &format!("/grants/{}/budget-execution", f.grant),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let lines = r.body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["category"].as_str().unwrap().to_string(),
                l["budget_line"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    Setup {
        grant: f.grant,
        round: f.round,
        grantee,
        grantee_email,
        token,
        lines,
    }
}

/// The value of the first hidden field `name` in a page (or in the part after `after`).
fn hidden(html: &str, name: &str, after: &str) -> String {
    let from = html.find(after).unwrap_or(0);
    let pat = format!("name=\"{name}\" value=\"");
    let at = html[from..].find(&pat).expect(name) + from + pat.len();
    html[at..at + html[at..].find('"').unwrap()].to_string()
}

fn expenditure_fields<'a>(key: &'a str, line: &'a str, amount: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("idempotency_key", key),
        ("category", "activities"),
        ("budget_line", line),
        ("description", "重阳节敬老活动物资"),
        ("amount", amount),
        ("spent_on", "2026-10-15"),
        ("payee", "昆山市玉山镇某超市"),
    ]
}

async fn expenditures(app: &TestApp, token: &str, grant: &str) -> Vec<serde_json::Value> {
    let r = app
        .get(&format!("/grants/{grant}/expenditures"), Some(token))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"]
        .as_array()
        .or_else(|| r.body["data"].as_array())
        .cloned()
        .unwrap_or_else(|| panic!("a page of expenditures: {}", r.body))
}

/// A multipart body (`crate::attachments::form`) posted with the page client's cookies.
async fn post_multipart(c: &PageClient, path: &str, body: Vec<u8>) -> Page {
    let res = c
        .client
        .post(format!("{}{path}", c.base))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Page {
        status,
        location,
        html: res.text().await.unwrap(),
    }
}

fn png() -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    v.extend((0..700).map(|i| (i * 13 % 251) as u8));
    v
}

#[tokio::test]
async fn the_execution_page_is_the_grantees_admins_and_finances_only() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let g = &s.grant;
    let r = app
        .post(
            &format!("/grants/{g}/expenditures"),
            Some(&s.token),
            json!({"category": "personnel", "description": "社工薪酬", "amount": "36000.00",
                   "spent_on": "2026-10-15", "payee": "社工 王某", "budget_line": s.lines["personnel"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);

    let page = s.grantee.get(&format!("/grants/{g}/spending")).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.html.contains("预算执行情况"), "in Chinese");
    assert!(page.html.contains("¥36,000.00"), "{}", page.html);
    // All spending is personnel: over the 50% share, flagged in Chinese.
    assert!(
        page.html.contains("data-rule=\"personnel_ratio\"")
            && page.html.contains("人员经费支出超过全部支出的允许比例"),
        "{}",
        page.html
    );
    assert!(page.html.contains("id=\"expenditure-form\""));
    assert!(page.html.contains("id=\"report-form\""));

    let (admin, _, _) = browser_user(&app, Role::Admin).await;
    let (fin, _, _) = browser_user(&app, Role::Finance).await;
    for (who, c) in [("admin", &admin), ("finance", &fin)] {
        let p = c.get(&format!("/grants/{g}/spending")).await;
        assert_eq!(p.status, 200, "{who}: {}", p.html);
        assert!(p.html.contains("¥36,000.00"), "{who}");
        assert!(
            !p.html.contains("id=\"expenditure-form\""),
            "{who} records nothing"
        );
        assert!(!p.html.contains("id=\"report-form\""), "{who}");
    }
    let (other, _, _) = browser_user(&app, Role::Applicant).await;
    let (reviewer, _, _) = browser_user(&app, Role::Reviewer).await;
    assert_eq!(
        other.get(&format!("/grants/{g}/spending")).await.status,
        404
    );
    assert_eq!(
        reviewer.get(&format!("/grants/{g}/spending")).await.status,
        403
    );
    let anonymous = PageClient::new(&app);
    let p = anonymous.get(&format!("/grants/{g}/spending")).await;
    assert_eq!(p.status, 303);
    assert!(p.location.unwrap().starts_with("/login?next="));

    // The round's spending: admin and finance.
    for (who, c) in [("admin", &admin), ("finance", &fin)] {
        let p = c.get(&format!("/rounds/{}/spending", s.round)).await;
        assert_eq!(p.status, 200, "{who}: {}", p.html);
        assert!(p.html.contains(&format!("id=\"grant-{g}\"")), "{who}");
        assert!(p.html.contains("¥36,000.00") && p.html.contains("¥80,000.00"));
        assert!(p.html.contains("人员经费比例超限"), "{}", p.html);
    }
    for c in [&s.grantee, &reviewer] {
        assert_eq!(
            c.get(&format!("/rounds/{}/spending", s.round)).await.status,
            403
        );
    }
    assert_eq!(
        admin
            .get(&format!("/rounds/{}/spending", Uuid::new_v4()))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn the_expenditure_form_sent_twice_records_one_and_refusals_stand_beside_the_fields() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let g = &s.grant;
    let path = format!("/grants/{g}/expenditures");
    let form = s.grantee.get(&format!("/grants/{g}/spending")).await;
    let key = hidden(&form.html, "idempotency_key", "id=\"expenditure-form\"");
    let line = s.lines["activities"].clone();

    let first = s
        .grantee
        .post(&path, &expenditure_fields(&key, &line, "1,200.50"))
        .await;
    assert_eq!(first.status, 303, "{}", first.html);
    let to = first.location.unwrap();
    assert!(to.ends_with("?done=recorded"), "{to}");
    let again = s
        .grantee
        .post(&path, &expenditure_fields(&key, &line, "1,200.50"))
        .await;
    assert_eq!(again.status, 303, "{}", again.html);
    let replay = again.location.unwrap();
    assert_eq!(
        replay.split('?').next(),
        to.split('?').next(),
        "the same expenditure"
    );
    assert!(replay.ends_with("?done=replayed"));
    let list = expenditures(&app, &s.token, g).await;
    assert_eq!(list.len(), 1, "one record after sending the form twice");
    assert_eq!(list[0]["amount"], "1200.50");
    // The same key with another amount is refused, not a second record.
    let reused = s
        .grantee
        .post(&path, &expenditure_fields(&key, &line, "99.00"))
        .await;
    assert_eq!(reused.status, 422, "{}", reused.html);
    assert_eq!(expenditures(&app, &s.token, g).await.len(), 1);

    let shown = s.grantee.get(&to).await;
    assert_eq!(shown.status, 200);
    assert!(shown.html.contains("支出已登记"), "{}", shown.html);
    assert!(shown.html.contains("¥1,200.50"));

    // Refusals beside their fields, in Chinese, and the form keeps what was typed.
    let fresh = || format!("web-{}", Uuid::new_v4().simple());
    let k = fresh();
    let bad = s
        .grantee
        .post(&path, &expenditure_fields(&k, &line, "1.001"))
        .await;
    assert_eq!(bad.status, 422, "{}", bad.html);
    assert!(bad.html.contains("class=\"field-error\""), "{}", bad.html);
    assert!(bad.html.contains("value=\"1.001\""));
    let k = fresh();
    let mut fields = expenditure_fields(&k, &line, "10.00");
    fields[5] = ("spent_on", "2099-01-01");
    let future = s.grantee.post(&path, &fields).await;
    assert_eq!(future.status, 422, "{}", future.html);
    assert!(
        future.html.contains("支出须在发生后登记") || future.html.contains("支出日期"),
        "{}",
        future.html
    );
    // A line of another category.
    let k = fresh();
    let personnel = s.lines["personnel"].clone();
    let wrong = s
        .grantee
        .post(&path, &expenditure_fields(&k, &personnel, "10.00"))
        .await;
    assert_eq!(wrong.status, 422);
    assert!(wrong.html.contains("支出类别为"), "{}", wrong.html);
    assert_eq!(expenditures(&app, &s.token, g).await.len(), 1);

    // No CSRF token: 403, nothing recorded. Other callers: 404 / 403.
    let k = fresh();
    let mut raw = expenditure_fields(&k, &line, "10.00");
    raw.push(("csrf_token", "forged"));
    assert_eq!(s.grantee.post_raw(&path, &raw).await.status, 403);
    let (other, _, _) = browser_user(&app, Role::Applicant).await;
    let k = fresh();
    assert_eq!(
        other
            .post(&path, &expenditure_fields(&k, &line, "10.00"))
            .await
            .status,
        404
    );
    let (admin, _, _) = browser_user(&app, Role::Admin).await;
    assert_eq!(
        admin
            .post(&path, &expenditure_fields(&k, &line, "10.00"))
            .await
            .status,
        403
    );
    assert_eq!(expenditures(&app, &s.token, g).await.len(), 1);

    // Correct the draft, then delete it.
    let eid = to
        .trim_start_matches("/expenditures/")
        .split('?')
        .next()
        .unwrap();
    let mut edit = expenditure_fields("", &line, "1300.00");
    edit.remove(0);
    let saved = s.grantee.post(&format!("/expenditures/{eid}"), &edit).await;
    assert_eq!(saved.status, 303, "{}", saved.html);
    assert_eq!(
        expenditures(&app, &s.token, g).await[0]["amount"],
        "1300.00"
    );
    assert_eq!(
        other
            .post(&format!("/expenditures/{eid}/delete"), &[])
            .await
            .status,
        404
    );
    let gone = s
        .grantee
        .post(&format!("/expenditures/{eid}/delete"), &[])
        .await;
    assert_eq!(gone.status, 303);
    assert!(expenditures(&app, &s.token, g).await.is_empty());
}

#[tokio::test]
async fn receipts_upload_with_the_csrf_token_and_download_byte_for_byte() {
    let app = spawn_app_with(|s| s.attachments.max_bytes = 4096).await;
    let s = setup(&app).await;
    let r = app
        .post(
            &format!("/grants/{}/expenditures", s.grant),
            Some(&s.token),
            json!({"category": "activities", "description": "活动物资", "amount": "300.00",
                   "spent_on": "2026-10-15", "payee": "某超市"}),
        )
        .await;
    let eid = r.body["id"].as_str().unwrap().to_string();
    let path = format!("/expenditures/{eid}/attachments");
    let bytes = png();
    let csrf = s.grantee.csrf.clone();
    let form = |token: Option<&str>, file: &[u8]| {
        let mut parts: Vec<(&str, Option<&str>, &[u8])> = vec![];
        if let Some(t) = token {
            parts.push(("csrf_token", None, t.as_bytes()));
        }
        parts.push(("kind", None, b"receipt"));
        parts.push(("file", Some("超市发票.png"), file));
        crate::attachments::form(&parts)
    };

    // Without the token, or with a wrong one: 403 and nothing stored.
    for token in [None, Some("forged-token")] {
        let p = post_multipart(&s.grantee, &path, form(token, &bytes)).await;
        assert_eq!(p.status, 403, "{token:?}: {}", p.html);
    }
    // The token after the file does not count: the file is never read unverified.
    let late = crate::attachments::form(&[
        ("file", Some("a.png"), &bytes),
        ("csrf_token", None, csrf.as_bytes()),
    ]);
    assert_eq!(post_multipart(&s.grantee, &path, late).await.status, 403);
    let page = s.grantee.get(&format!("/expenditures/{eid}")).await;
    assert!(page.html.contains("id=\"no-attachments\""), "{}", page.html);

    // Another organization's applicant: 404 before anything is read.
    let (other, _, _) = browser_user(&app, Role::Applicant).await;
    let p = post_multipart(&other, &path, form(Some(&other.csrf), &bytes)).await;
    assert_eq!(p.status, 404);

    // Refusals shown on the page: not an accepted type (415), too large (413), empty (422).
    let p = post_multipart(
        &s.grantee,
        &path,
        form(Some(&csrf), b"plain text, not a receipt"),
    )
    .await;
    assert_eq!(p.status, 415, "{}", p.html);
    assert!(p.html.contains("id=\"upload-error\"") && p.html.contains("只接受 PDF"));
    let big = vec![0x89u8; 10_000];
    let p = post_multipart(&s.grantee, &path, form(Some(&csrf), &big)).await;
    assert_eq!(p.status, 413, "{}", p.html);
    assert!(
        p.html.contains("id=\"upload-error\"") && p.html.contains("MB"),
        "{}",
        p.html
    );
    let p = post_multipart(&s.grantee, &path, form(Some(&csrf), b"")).await;
    assert_eq!(p.status, 422);
    assert!(p.html.contains("文件为空"));

    let ok = post_multipart(&s.grantee, &path, form(Some(&csrf), &bytes)).await;
    assert_eq!(ok.status, 303, "{}", ok.html);
    assert_eq!(
        ok.location.as_deref(),
        Some(format!("/expenditures/{eid}?done=uploaded").as_str())
    );
    let page = s.grantee.get(&format!("/expenditures/{eid}")).await;
    assert!(page.html.contains("超市发票.png"), "{}", page.html);
    let at = page.html.find("href=\"/attachments/").unwrap() + "href=\"/attachments/".len();
    let aid = page.html[at..at + 36].to_string();

    let download = |c: &PageClient| {
        let url = format!("{}/attachments/{aid}", c.base);
        let client = c.client.clone();
        async move { client.get(url).send().await.unwrap() }
    };
    let res = download(&s.grantee).await;
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let cd = h["content-disposition"].to_str().unwrap();
    assert!(cd.starts_with("attachment;"), "{cd}");
    assert!(
        cd.contains("filename*=UTF-8''%E8%B6%85%E5%B8%82%E5%8F%91%E7%A5%A8.png"),
        "{cd}"
    );
    assert_eq!(res.bytes().await.unwrap().to_vec(), bytes, "byte for byte");
    let (fin, _, _) = browser_user(&app, Role::Finance).await;
    let (reviewer, _, _) = browser_user(&app, Role::Reviewer).await;
    assert_eq!(download(&fin).await.status(), 200);
    assert_eq!(download(&other).await.status(), 404);
    assert_eq!(download(&reviewer).await.status(), 404);
    // Finance sees the receipt but has no upload form.
    let p = fin.get(&format!("/expenditures/{eid}")).await;
    assert!(p.html.contains("超市发票.png") && !p.html.contains("id=\"upload-form\""));

    // Deleting it: not another organization, then the grantee.
    let del = format!("/attachments/{aid}/delete");
    assert_eq!(other.post(&del, &[]).await.status, 404);
    let back = format!("/expenditures/{eid}");
    let p = s.grantee.post(&del, &[("back", back.as_str())]).await;
    assert_eq!(p.status, 303);
    assert_eq!(download(&s.grantee).await.status(), 404);
}

#[tokio::test]
async fn a_report_freezes_the_spending_and_an_admin_decides_adjustments() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let g = &s.grant;
    let spending = format!("/grants/{g}/spending");
    let form = s.grantee.get(&spending).await;
    let key = hidden(&form.html, "idempotency_key", "id=\"expenditure-form\"");
    let line = s.lines["activities"].clone();
    let r = s
        .grantee
        .post(
            &format!("/grants/{g}/expenditures"),
            &expenditure_fields(&key, &line, "2000.00"),
        )
        .await;
    assert_eq!(r.status, 303);
    let eid = r.location.unwrap()[14..50].to_string();

    // A held date that is not a date: beside the form, nothing submitted.
    let bad = s
        .grantee
        .post(
            &format!("/grants/{g}/financial-reports"),
            &[
                ("period", "mid_term"),
                ("held_on", "yesterday"),
                ("activity_title", "主题党日"),
                ("participants", "12"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.html);
    let report = s
        .grantee
        .post(
            &format!("/grants/{g}/financial-reports"),
            &[
                ("period", "mid_term"),
                ("held_on", "2026-10-20"),
                ("activity_title", "主题党日：走访高龄老人"),
                ("participants", "12"),
                ("held_on", ""),
                ("activity_title", ""),
                ("participants", ""),
                ("party_members_on_team", "1"),
                ("note", "中期报告"),
            ],
        )
        .await;
    assert_eq!(report.status, 303, "{}", report.html);
    let to = report.location.unwrap();
    assert!(to.starts_with("/financial-reports/"), "{to}");
    let p = s.grantee.get(&to).await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert!(p.html.contains("id=\"report-count\">1<"), "{}", p.html);
    assert!(p.html.contains("¥2,000.00") && p.html.contains("主题党日：走访高龄老人"));
    let (other, _, _) = browser_user(&app, Role::Applicant).await;
    assert_eq!(other.get(&to).await.status, 404);
    // Frozen: no correction form, and a correction is refused (409).
    let e = s.grantee.get(&format!("/expenditures/{eid}")).await;
    assert!(!e.html.contains("id=\"edit-form\""), "{}", e.html);
    let mut edit = expenditure_fields("", &line, "1.00");
    edit.remove(0);
    assert_eq!(
        s.grantee
            .post(&format!("/expenditures/{eid}"), &edit)
            .await
            .status,
        409
    );
    // A second mid-term report is refused.
    let again = s
        .grantee
        .post(
            &format!("/grants/{g}/financial-reports"),
            &[("period", "mid_term")],
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.html);

    // The grantee proposes moving 5,000 from personnel to activities; a rule-breaking move
    // (self-funded money into a grant line) is refused beside the form.
    let (personnel, materials) = (s.lines["personnel"].clone(), s.lines["materials"].clone());
    let refused = s
        .grantee
        .post(
            &format!("/grants/{g}/budget-adjustments"),
            &[
                ("from_line", materials.as_str()),
                ("to_line", personnel.as_str()),
                ("move_amount", "5000.00"),
                ("reason", "自筹转资助"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.html);
    assert!(refused.html.contains("调整后"), "{}", refused.html);
    let proposed = s
        .grantee
        .post(
            &format!("/grants/{g}/budget-adjustments"),
            &[
                ("from_line", personnel.as_str()),
                ("to_line", line.as_str()),
                ("move_amount", "5000.00"),
                ("reason", "活动场次增加"),
            ],
        )
        .await;
    assert_eq!(proposed.status, 303, "{}", proposed.html);
    let r = app
        .get(&format!("/grants/{g}/budget-adjustments"), Some(&s.token))
        .await;
    let items = r.body["items"]
        .as_array()
        .or_else(|| r.body["data"].as_array())
        .unwrap()
        .clone();
    let adj = items[0]["id"].as_str().unwrap().to_string();

    // Only an admin decides; the grantee and finance are refused.
    let (fin, _, _) = browser_user(&app, Role::Finance).await;
    for c in [&s.grantee, &fin] {
        let p = c
            .post(
                &format!("/budget-adjustments/{adj}/approve"),
                &[("grant_id", g.as_str())],
            )
            .await;
        assert_eq!(p.status, 403);
    }
    let (admin, _, _) = browser_user(&app, Role::Admin).await;
    let page = admin.get(&spending).await;
    assert!(
        page.html.contains("class=\"inline approve-form\""),
        "{}",
        page.html
    );
    // A rejection needs its reason.
    let p = admin
        .post(
            &format!("/budget-adjustments/{adj}/reject"),
            &[("grant_id", g.as_str()), ("note", "")],
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(p.html.contains("驳回须说明理由"), "{}", p.html);
    let p = admin
        .post(
            &format!("/budget-adjustments/{adj}/approve"),
            &[("grant_id", g.as_str()), ("note", "同意")],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.html);
    let page = admin.get(&spending).await;
    assert!(page.html.contains("预算版本 2"), "{}", page.html);
    assert!(
        page.html.contains("¥35,000.00"),
        "activities 30,000 + 5,000"
    );

    // An admin's own proposal is decided by another admin (round default).
    let own = admin
        .post(
            &format!("/grants/{g}/budget-adjustments"),
            &[
                ("from_line", personnel.as_str()),
                ("to_line", line.as_str()),
                ("move_amount", "100.00"),
                ("reason", "代为提出"),
            ],
        )
        .await;
    assert_eq!(own.status, 303, "{}", own.html);
    let r = app
        .get(
            &format!("/grants/{g}/budget-adjustments?status=proposed"),
            Some(&s.token),
        )
        .await;
    let items = r.body["items"]
        .as_array()
        .or_else(|| r.body["data"].as_array())
        .unwrap()
        .clone();
    let own_id = items[0]["id"].as_str().unwrap().to_string();
    let p = admin
        .post(
            &format!("/budget-adjustments/{own_id}/approve"),
            &[("grant_id", g.as_str())],
        )
        .await;
    assert_eq!(p.status, 403, "{}", p.html);
    assert!(
        p.html.contains("管理员提出的预算调整须由另一位管理员审批"),
        "{}",
        p.html
    );
    let (admin2, _, _) = browser_user(&app, Role::Admin).await;
    let p = admin2
        .post(
            &format!("/budget-adjustments/{own_id}/reject"),
            &[("grant_id", g.as_str()), ("note", "无需调整")],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.html);
}

#[tokio::test]
async fn application_documents_upload_while_a_draft_and_only_for_its_organization() {
    let app = spawn_app().await;
    let (c, email, _) = browser_user(&app, Role::Applicant).await;
    let token = app.login(&email).await;
    let (round, _) =
        crate::rounds::open_round(&app, crate::rounds::round_body("venture_philanthropy")).await;
    let id = crate::applications::ready_draft(&app, &token, &round, "社区助餐").await;
    let page = c.get(&format!("/applications/{id}")).await;
    assert!(page
        .html
        .contains(&format!("/applications/{id}/attachments")));
    let p = c.get(&format!("/applications/{id}/attachments")).await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert!(p.html.contains("value=\"registration_certificate\"") && p.html.contains("登记证书"));
    let pdf = gongyi::service::demo::demo_receipt_pdf();
    let body = crate::attachments::form(&[
        ("csrf_token", None, c.csrf.as_bytes()),
        ("kind", None, b"registration_certificate"),
        ("file", Some("登记证书.pdf"), &pdf),
    ]);
    let r = post_multipart(&c, &format!("/applications/{id}/attachments"), body).await;
    assert_eq!(r.status, 303, "{}", r.html);
    let p = c.get(&r.location.unwrap()).await;
    assert!(p.html.contains("登记证书.pdf") && p.html.contains("文件已上传"));
    let (other, _, _) = browser_user(&app, Role::Applicant).await;
    assert_eq!(
        other
            .get(&format!("/applications/{id}/attachments"))
            .await
            .status,
        404
    );
    let (reviewer, _, _) = browser_user(&app, Role::Reviewer).await;
    assert_eq!(
        reviewer
            .get(&format!("/applications/{id}/attachments"))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn the_demo_grantee_has_a_month_of_spending_a_receipt_and_a_mid_term_report() {
    let app = spawn_app().await;
    gongyi::service::demo::seed(&app.db, &app.settings)
        .await
        .expect("demo seeded");
    gongyi::service::demo::seed(&app.db, &app.settings)
        .await
        .expect("demo seeded again");
    let sign_in = |email: &'static str| {
        let app = &app;
        async move {
            let c = PageClient::new(app);
            let form = c.get("/login").await;
            let token = crate::web::csrf_of(&form.html).unwrap();
            let r = c
                .post_raw(
                    "/login",
                    &[
                        ("csrf_token", &token),
                        ("email", email),
                        ("password", gongyi::service::demo::DEMO_PASSWORD),
                    ],
                )
                .await;
            assert_eq!(r.status, 303, "{}", r.html);
            c
        }
    };
    let grantee = sign_in("applicant1@demo.gongyi").await;
    let grants = grantee.get("/grants").await;
    let at = grants.html.find("href=\"/grants/").unwrap() + "href=\"/grants/".len();
    let g = grants.html[at..at + 36].to_string();
    let p = grantee.get(&format!("/grants/{g}/spending")).await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert_eq!(
        p.html.matches("class=\"expenditure\"").count(),
        4,
        "{}",
        p.html
    );
    assert!(p.html.contains("data-period=\"mid_term\""));
    assert!(
        p.html.contains("¥6,680.50"),
        "the month's total: {}",
        p.html
    );
    let admin = sign_in("admin@demo.gongyi").await;
    let p = admin.get(&format!("/grants/{g}/spending")).await;
    assert!(p.html.contains("¥6,680.50"));
    let round_at = p.html.find("/rounds/").unwrap() + "/rounds/".len();
    let round = p.html[round_at..round_at + 36].to_string();
    let p = admin.get(&format!("/rounds/{round}/spending")).await;
    assert_eq!(p.status, 200);
    assert!(p.html.contains("¥6,680.50"), "{}", p.html);
    // The first expenditure carries its receipt, a real PDF.
    let list = grantee.get(&format!("/grants/{g}/spending")).await.html;
    let at = list.find("href=\"/expenditures/").unwrap() + "href=\"/expenditures/".len();
    let e = grantee
        .get(&format!("/expenditures/{}", &list[at..at + 36]))
        .await;
    assert!(e.html.contains("重阳节物资发票.pdf"), "{}", e.html);
}

/// The grantee in Chromium: records an expenditure, uploads its receipt through the file
/// input, the receipt downloads back byte for byte, and the execution table shows the amount.
#[tokio::test]
async fn a_grantee_records_an_expenditure_and_uploads_its_receipt_in_the_browser() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let Some(b) = crate::browser::browser(&app).await else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("gongyi-receipt-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("发票-重阳节.png");
    let bytes = png();
    std::fs::write(&file, &bytes).unwrap();

    b.sign_in(&s.grantee_email).await;
    b.open(&format!("/grants/{}/spending", s.grant)).await;
    b.wait_text("#execution h2", "预算执行情况").await;
    b.set("#expenditure-form select[name=category]", "activities")
        .await;
    b.set(
        "#expenditure-form select[name=budget_line]",
        &s.lines["activities"],
    )
    .await;
    b.fill(
        "#expenditure-form input[name=description]",
        "重阳节敬老活动物资",
    )
    .await;
    b.fill("#expenditure-form input[name=amount]", "1,860.50")
        .await;
    b.set("#expenditure-form input[name=spent_on]", "2026-10-15")
        .await;
    b.fill("#expenditure-form input[name=payee]", "昆山市玉山镇某超市")
        .await;
    b.click("#record-expenditure").await;
    b.wait_text("#notice", "支出已登记").await;
    b.wait_text("#expenditure-amount", "¥1,860.50").await;

    b.set("#upload-form select[name=kind]", "receipt").await;
    b.driver
        .find(thirtyfour::prelude::By::Css("#file-input"))
        .await
        .unwrap()
        .send_keys(file.to_str().unwrap())
        .await
        .unwrap();
    b.click("#upload-button").await;
    b.wait_text("#notice", "文件已上传").await;
    b.wait_text("#attachment-list", "发票-重阳节.png").await;
    b.screenshot("spending-receipt").await;

    // The receipt, fetched by the browser with its session through the page route.
    let href: String = b
        .driver
        .find(thirtyfour::prelude::By::Css("#attachment-list a.download"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let encoded = b
        .driver
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(arguments[0]).then(r => r.arrayBuffer()).then(buf => {
               let s = ''; new Uint8Array(buf).forEach(x => s += String.fromCharCode(x));
               done(btoa(s));
             });",
            vec![json!(href)],
        )
        .await
        .unwrap();
    let encoded: String = encoded.convert().unwrap();
    let got = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap()
    };
    assert_eq!(got, bytes, "the receipt comes back byte for byte");

    b.click("#spending-link").await;
    b.wait_text("#category-activities .spent", "¥1,860.50")
        .await;
    b.wait_text("#total-spent", "¥1,860.50").await;
    b.screenshot("spending-execution").await;
    b.quit().await;
    let _ = std::fs::remove_dir_all(&dir);
}
