//! The program office's oversight pages over real HTTP: milestones on the grant page (a failed
//! evaluation shows its consequences and changes nothing until confirmed), refusals beside
//! their fields, the audit trail with its filters and the chain verification (ok, then broken
//! after tampering), the email outbox and its retry; each with the callers it refuses.

use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use gongyi::domain::money::Money;
use gongyi::domain::user::{Language, Role};
use gongyi::notify::{self, sender, Event, Recipient};
use gongyi::service::audit_trail;
use gongyi::storage::StorageError;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::grants::{funded_grant, milestone, request_payout, Funded};
use crate::helpers::{spawn_app, spawn_app_with, TestApp};
use crate::rounds::round_body;
use crate::smtp::SmtpServer;
use crate::web::{browser_user, csrf_of, Page, PageClient};

struct Setting {
    f: Funded,
    org: Uuid,
}

async fn grant_of(app: &TestApp, award: &str, rules: Option<Value>) -> Setting {
    let org = app
        .add_organization(&format!(
            "昆山市阳光助老服务中心 {}",
            Uuid::new_v4().simple()
        ))
        .await;
    let applicant = app.applicant_of(org).await;
    let body = rules.map(|r| {
        let mut b = round_body("venture_philanthropy");
        b["rules"] = r;
        b
    });
    let f = funded_grant(app, &applicant, award, None, body).await;
    Setting { f, org }
}

async fn grant_json(app: &TestApp, s: &Setting) -> Value {
    let r = app
        .get(&format!("/grants/{}", s.f.grant), Some(&s.f.admin))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

fn tranche_statuses(g: &Value) -> Vec<String> {
    g["tranches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap().to_string())
        .collect()
}

/// The value of a hidden input in a page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in:\n{html}"))
        + marker.len();
    html[at..at + html[at..].find('"').unwrap()].to_string()
}

/// The text of the element with this id (up to its closing tag).
fn element<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in:\n{html}"));
    let end = html[start..].find("</").unwrap() + start;
    &html[start..end]
}

/// Request by one finance user, approved by another, paid; returns nothing (panics on failure).
async fn pay(app: &TestApp, maker: &str, checker: &str, grant: &str, amount: &str) {
    let r = request_payout(app, maker, grant, 1, amount, &Uuid::new_v4().to_string()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let r = app
        .post(&format!("/payouts/{id}/approve"), Some(checker), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .post(
            &format!("/payouts/{id}/paid"),
            Some(checker),
            json!({"bank_reference": "BOC-0001", "value_date": chrono::Utc::now().date_naive()}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn a_failed_evaluation_shows_its_consequences_and_changes_nothing_until_confirmed() {
    let app = spawn_app().await;
    let s = grant_of(&app, "100000.00", None).await;
    let g = &s.f.grant;
    let (admin, _, _) = browser_user(&app, Role::Admin).await;

    // The grant page offers the next milestone to the program office.
    let page = admin.get(&format!("/grants/{g}")).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.html.contains("id=\"milestone-form\""), "{}", page.html);
    assert_eq!(hidden(&page.html, "milestone"), "agreement_signed");
    let r = admin
        .post(
            &format!("/grants/{g}/milestones"),
            &[("milestone", "agreement_signed"), ("note", "协议已签")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    assert_eq!(
        r.location.as_deref(),
        Some(format!("/grants/{g}#milestones").as_str())
    );
    assert_eq!(
        tranche_statuses(&grant_json(&app, &s).await),
        ["due", "scheduled", "scheduled"]
    );

    // ¥20,000 of the first tranche paid, ¥10,000 more requested.
    let (_, fin_a) = app.signed_in(Role::Finance).await;
    let (_, fin_b) = app.signed_in(Role::Finance).await;
    pay(&app, &fin_a, &fin_b, g, "20000.00").await;
    let r = request_payout(&app, &fin_a, g, 1, "10000.00", "pending-one").await;
    assert_eq!(r.status, 201, "{}", r.body);
    let pending = r.body["id"].as_str().unwrap().to_string();

    // A passing-looking form with a failing score: the confirmation page, nothing recorded.
    let page = admin.get(&format!("/grants/{g}")).await;
    assert_eq!(hidden(&page.html, "milestone"), "mid_term_evaluation");
    let fields = [
        ("milestone", "mid_term_evaluation"),
        ("score", "52.5"),
        ("note", "中期评估不合格"),
        ("clawback_amount", "¥5,000"),
        ("blacklist_years", "2"),
    ];
    let confirm = admin
        .post(&format!("/grants/{g}/milestones"), &fields)
        .await;
    assert_eq!(confirm.status, 200, "{}", confirm.html);
    let html = &confirm.html;
    assert!(html.contains("确认评估不合格"), "{html}");
    assert!(element(html, "terminate").contains("终止该项目"), "{html}");
    // Tranche 1 keeps what was paid; the unpaid rest of every tranche is cancelled.
    assert!(
        element(html, "cancel-total").contains("¥80,000.00"),
        "{html}"
    );
    assert!(html.contains("id=\"cancel-1\""), "{html}");
    let row1 = &html[html.find("id=\"cancel-1\"").unwrap()..];
    assert!(row1[..row1.find("</tr>").unwrap()].contains("¥30,000.00"));
    let row3 = &html[html.find("id=\"cancel-3\"").unwrap()..];
    assert!(row3[..row3.find("</tr>").unwrap()].contains("¥20,000.00"));
    assert_eq!(html.matches("class=\"cancelled-tranche\"").count(), 3);
    let withdrawn = &html[html.find("id=\"withdraw\"").unwrap()..];
    assert!(withdrawn.contains("¥10,000.00"), "{html}");
    assert!(element(html, "clawback").contains("追回资金"), "{html}");
    assert!(html[html.find("id=\"clawback\"").unwrap()..].contains("¥5,000.00"));
    let until = gongyi::domain::grant::blacklist_until(chrono::Utc::now().date_naive(), 2);
    let blacklist = &html[html.find("id=\"blacklist\"").unwrap()..];
    let blacklist = &blacklist[..blacklist.find("</li>").unwrap()];
    assert!(blacklist.contains(&until.to_string()), "{blacklist}");
    assert!(blacklist.contains("昆山市阳光助老服务中心"), "{blacklist}");

    // Nothing has changed yet.
    let before = grant_json(&app, &s).await;
    assert_eq!(before["status"], "active");
    assert_eq!(before["next_milestone"], "mid_term_evaluation");
    assert_eq!(tranche_statuses(&before), ["due", "scheduled", "scheduled"]);
    assert!(before["balance"]["clawback"].is_null());
    let o = app
        .get(&format!("/organizations/{}", s.org), Some(&s.f.admin))
        .await;
    assert!(o.body["blacklisted_until"].is_null(), "{}", o.body);

    // A forged confirmation (no CSRF token) is refused and records nothing.
    let digest = hidden(html, "confirm_digest");
    let mut forged: Vec<(&str, &str)> = fields.to_vec();
    forged.push(("confirm_digest", &digest));
    let r = admin
        .post_raw(&format!("/grants/{g}/milestones"), &forged)
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(grant_json(&app, &s).await["status"], "active");

    // Confirmed: terminated, unpaid tranches cancelled, the pending payout rejected, the
    // clawback and the blacklisting recorded, exactly as shown.
    let r = admin
        .post(&format!("/grants/{g}/milestones"), &forged)
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let after = grant_json(&app, &s).await;
    assert_eq!(after["status"], "terminated");
    assert_eq!(
        tranche_statuses(&after),
        ["cancelled", "cancelled", "cancelled"]
    );
    assert_eq!(after["balance"]["clawback"], "5000.00");
    assert_eq!(after["balance"]["cancelled"], "80000.00");
    let p = after["payouts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == json!(pending))
        .unwrap();
    assert_eq!(p["status"], "rejected");
    let o = app
        .get(&format!("/organizations/{}", s.org), Some(&s.f.admin))
        .await;
    assert_eq!(o.body["blacklisted_until"], until.to_string());
    // The page no longer offers a milestone.
    let page = admin.get(&format!("/grants/{g}")).await;
    assert!(!page.html.contains("id=\"milestone-form\""));
    assert!(page.html.contains("data-status=\"terminated\""));
}

#[tokio::test]
async fn a_confirmation_is_refused_when_the_grant_changed_meanwhile() {
    let app = spawn_app().await;
    let s = grant_of(&app, "100000.00", None).await;
    let g = &s.f.grant;
    let (admin, _, _) = browser_user(&app, Role::Admin).await;
    let r = milestone(
        &app,
        &s.f.admin,
        g,
        json!({"milestone": "agreement_signed"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let fields = [("milestone", "mid_term_evaluation"), ("score", "40")];
    let confirm = admin
        .post(&format!("/grants/{g}/milestones"), &fields)
        .await;
    assert_eq!(confirm.status, 200, "{}", confirm.html);
    assert!(confirm.html.contains("¥100,000.00"), "{}", confirm.html);
    // Meanwhile finance pays ¥50,000: the consequences shown are no longer true.
    let (_, fin_a) = app.signed_in(Role::Finance).await;
    let (_, fin_b) = app.signed_in(Role::Finance).await;
    pay(&app, &fin_a, &fin_b, g, "50000.00").await;
    let digest = hidden(&confirm.html, "confirm_digest");
    let again = admin
        .post(
            &format!("/grants/{g}/milestones"),
            &[
                ("milestone", "mid_term_evaluation"),
                ("score", "40"),
                ("confirm_digest", &digest),
            ],
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.html);
    assert!(again.html.contains("id=\"changed\""), "{}", again.html);
    assert!(element(&again.html, "cancel-total").contains("¥50,000.00"));
    assert_eq!(grant_json(&app, &s).await["status"], "active");
}

#[tokio::test]
async fn passing_evaluations_are_recorded_at_once_and_refusals_show_beside_their_field() {
    let app = spawn_app().await;
    let s = grant_of(&app, "100000.00", None).await;
    let g = &s.f.grant;
    let (admin, _, _) = browser_user(&app, Role::Admin).await;

    // Out of order: beside the milestone, in Chinese.
    let r = admin
        .post(
            &format!("/grants/{g}/milestones"),
            &[("milestone", "final_evaluation"), ("score", "90")],
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.html);
    assert!(
        element(&r.html, "error-milestone").contains("里程碑须按顺序记录"),
        "{}",
        r.html
    );
    assert!(r.html.contains("id=\"milestone-form\""));
    let r = admin
        .post(
            &format!("/grants/{g}/milestones"),
            &[("milestone", "agreement_signed")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.html);

    // A score that is not one: beside the score, the value kept.
    let r = admin
        .post(
            &format!("/grants/{g}/milestones"),
            &[("milestone", "mid_term_evaluation"), ("score", "八十")],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.html);
    assert!(r.html.contains("id=\"error-score\""), "{}", r.html);
    assert!(r.html.contains("value=\"八十\""));
    // More clawed back than paid (nothing was): beside the clawback.
    let r = admin
        .post(
            &format!("/grants/{g}/milestones"),
            &[
                ("milestone", "mid_term_evaluation"),
                ("score", "30"),
                ("clawback_amount", "0.01"),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.html);
    assert!(
        element(&r.html, "error-clawback_amount").contains("追回金额"),
        "{}",
        r.html
    );
    assert_eq!(grant_json(&app, &s).await["status"], "active");

    // A pass is recorded at once: the second tranche is due.
    let r = admin
        .post(
            &format!("/grants/{g}/milestones"),
            &[("milestone", "mid_term_evaluation"), ("score", "86")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let after = grant_json(&app, &s).await;
    assert_eq!(tranche_statuses(&after), ["due", "due", "scheduled"]);
    assert_eq!(after["milestones"][1]["grade"], "A");
}

#[tokio::test]
async fn the_rounds_financial_report_rule_is_named_beside_the_milestone() {
    let app = spawn_app().await;
    let s = grant_of(
        &app,
        "80000.00",
        Some(json!({"require_financial_report": true})),
    )
    .await;
    let g = &s.f.grant;
    let (admin, _, _) = browser_user(&app, Role::Admin).await;
    let r = milestone(
        &app,
        &s.f.admin,
        g,
        json!({"milestone": "agreement_signed"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = admin
        .post(
            &format!("/grants/{g}/milestones"),
            &[("milestone", "mid_term_evaluation"), ("score", "80")],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.html);
    assert!(
        element(&r.html, "error-milestone").contains("本轮要求先提交财务报告"),
        "{}",
        r.html
    );
    // Failing needs the report too: no confirmation page without it.
    let r = admin
        .post(
            &format!("/grants/{g}/milestones"),
            &[("milestone", "mid_term_evaluation"), ("score", "20")],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.html);
    assert!(!r.html.contains("confirm_digest"));
    assert_eq!(
        grant_json(&app, &s).await["next_milestone"],
        "mid_term_evaluation"
    );
}

#[tokio::test]
async fn only_the_program_office_records_milestones() {
    let app = spawn_app().await;
    let s = grant_of(&app, "100000.00", None).await;
    let g = &s.f.grant;
    let body = [("milestone", "agreement_signed")];
    for role in [Role::Finance, Role::Reviewer] {
        let (c, _, _) = browser_user(&app, role).await;
        let r = c.post(&format!("/grants/{g}/milestones"), &body).await;
        assert_eq!(r.status, 403, "{role}: {}", r.html);
        if role == Role::Finance {
            let page = c.get(&format!("/grants/{g}")).await;
            assert_eq!(page.status, 200);
            assert!(!page.html.contains("id=\"milestone-form\""));
        }
    }
    // The grantee's own staff neither.
    let org_user = format!("grantee-{}@example.org", Uuid::new_v4().simple());
    app.add_user(&org_user, Role::Applicant, Some(s.org)).await;
    let grantee = PageClient::sign_in(&app, &org_user).await;
    let page = grantee.get(&format!("/grants/{g}")).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(!page.html.contains("id=\"milestone-form\""));
    let r = grantee
        .post(&format!("/grants/{g}/milestones"), &body)
        .await;
    assert_eq!(r.status, 403);
    // Signed out: to the sign-in page; no CSRF token: 403.
    let r = PageClient::new(&app)
        .post_raw(&format!("/grants/{g}/milestones"), &body)
        .await;
    assert_eq!(r.status, 303);
    assert!(r.location.unwrap().starts_with("/login"));
    let (admin, _, _) = browser_user(&app, Role::Admin).await;
    let r = admin
        .post_raw(&format!("/grants/{g}/milestones"), &body)
        .await;
    assert_eq!(r.status, 403);
    let after = grant_json(&app, &s).await;
    assert_eq!(after["next_milestone"], "agreement_signed");
    assert!(after["milestones"].as_array().unwrap().is_empty());
}

// ---------------------------------------------------------------- audit trail

async fn seal_everything(app: &TestApp) {
    for _ in 0..200 {
        audit_trail::seal(&app.db, 1000).await.unwrap();
        if audit_trail::verify(&app.db).await.unwrap().unsealed == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("audit events stayed unsealed");
}

fn event_rows(p: &Page) -> usize {
    p.html.matches("class=\"event\"").count()
}

#[tokio::test]
async fn the_audit_page_filters_and_the_chain_is_verified_ok_then_broken() {
    let app = spawn_app().await;
    let s = grant_of(&app, "100000.00", None).await;
    let g = &s.f.grant;
    let r = milestone(
        &app,
        &s.f.admin,
        g,
        json!({"milestone": "agreement_signed"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (admin, _, _) = browser_user(&app, Role::Admin).await;

    let all = admin.get("/audit").await;
    assert_eq!(all.status, 200, "{}", all.html);
    assert!(all.html.contains("审计日志"));
    assert!(all.html.contains("data-action=\"grant.agreement_signed\""));
    assert!(all.html.contains("data-action=\"application.submitted\""));
    // Newest first.
    assert!(
        all.html.find("grant.agreement_signed").unwrap()
            < all.html.find("application.submitted").unwrap()
    );
    let total = event_rows(&all);
    // One grant: only its records.
    let one = admin
        .get(&format!("/audit?entity_type=grant&entity_id={g}"))
        .await;
    assert_eq!(one.status, 200, "{}", one.html);
    assert!(event_rows(&one) >= 2, "created and signed: {}", one.html);
    assert!(event_rows(&one) < total);
    assert!(!one.html.contains("data-action=\"application.submitted\""));
    // By actor: the admin who recorded the milestone.
    let signed = &one.html[one
        .html
        .find("data-action=\"grant.agreement_signed\"")
        .unwrap()..];
    let marker = "/audit?actor_id=";
    let at = signed.find(marker).unwrap() + marker.len();
    let actor = &signed[at..at + 36];
    let by = admin.get(&format!("/audit?actor_id={actor}")).await;
    assert_eq!(by.status, 200);
    assert!(event_rows(&by) >= 1 && event_rows(&by) < total);
    // By action: only that kind of record, each linked from its action.
    assert!(all
        .html
        .contains("href=\"/audit?action=grant.agreement_signed\""));
    let act = admin.get("/audit?action=grant.agreement_signed").await;
    assert_eq!(act.status, 200, "{}", act.html);
    assert!(event_rows(&act) >= 1 && event_rows(&act) < total);
    assert_eq!(
        event_rows(&act),
        act.html
            .matches("data-action=\"grant.agreement_signed\"")
            .count(),
        "{}",
        act.html
    );
    // Dates (in the bureau's zone, both ends included): around today, and before yesterday.
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let (yesterday, tomorrow) = (today.pred_opt().unwrap(), today.succ_opt().unwrap());
    let r = admin
        .get(&format!("/audit?from={yesterday}&to={tomorrow}"))
        .await;
    assert_eq!(event_rows(&r), total, "{}", r.html);
    let r = admin
        .get(&format!("/audit?to={}", yesterday.pred_opt().unwrap()))
        .await;
    assert!(r.html.contains("id=\"no-events\""), "{}", r.html);
    // Older than an id (the next page's link): all but the newest.
    let newest_at = all.html.find("id=\"event-").unwrap() + "id=\"event-".len();
    let newest: i64 = all.html[newest_at..newest_at + all.html[newest_at..].find('"').unwrap()]
        .parse()
        .unwrap();
    let before = admin.get(&format!("/audit?before={newest}")).await;
    assert_eq!(event_rows(&before), total - 1);
    // Refusals beside their fields.
    let r = admin
        .get(&format!(
            "/audit?actor_id=nobody&from={tomorrow}&to={yesterday}"
        ))
        .await;
    assert_eq!(r.status, 422);
    assert!(
        element(&r.html, "error-actor_id").contains("不是有效的编号"),
        "{}",
        r.html
    );
    assert!(r.html.contains("id=\"error-from\""), "{}", r.html);

    // The chain: intact once sealed.
    seal_everything(&app).await;
    let v = admin.get("/audit/verify").await;
    assert_eq!(v.status, 200, "{}", v.html);
    let n = audit_trail::verify(&app.db).await.unwrap().checked;
    assert!(n >= 5);
    assert!(v.html.contains("data-intact=\"true\""), "{}", v.html);
    assert!(
        v.html
            .contains(&format!("哈希链完整：已核验至第 {n} 条封存记录")),
        "{}",
        v.html
    );
    // Someone alters a sealed record by hand: broken there.
    let target = {
        let row = &all.html[..all
            .html
            .find("data-action=\"application.submitted\"")
            .unwrap()];
        let id_at = row.rfind("id=\"event-").unwrap() + "id=\"event-".len();
        row[id_at..id_at + row[id_at..].find('"').unwrap()]
            .parse::<i64>()
            .unwrap()
    };
    let mut conn = AsyncPgConnection::establish(app.settings.database.url())
        .await
        .unwrap();
    diesel::sql_query("SET session_replication_role = replica")
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::sql_query(format!(
        "UPDATE audit_events SET after = '{{\"status\": \"approved\"}}' WHERE id = {target}"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let v = admin.get("/audit/verify").await;
    assert_eq!(v.status, 200);
    assert!(v.html.contains("data-intact=\"false\""), "{}", v.html);
    let report = audit_trail::verify(&app.db).await.unwrap();
    let b = report.first_break.unwrap();
    assert_eq!(b.event_id, target);
    assert!(
        v.html.contains(&format!(
            "哈希链在第 {} 条封存记录处断裂（审计记录 {target}）",
            b.seq
        )),
        "{}",
        v.html
    );
    assert!(element(&v.html, "break-reason").contains("记录内容被改动"));
}

#[tokio::test]
async fn only_the_program_office_reads_the_audit_trail_and_the_outbox() {
    let app = spawn_app().await;
    for role in [Role::Applicant, Role::Reviewer, Role::Finance] {
        let (c, _, _) = browser_user(&app, role).await;
        for path in ["/audit", "/audit/verify", "/outbox"] {
            let r = c.get(path).await;
            assert_eq!(r.status, 403, "{role} {path}: {}", r.html);
        }
        let r = c.post("/outbox/1/retry", &[]).await;
        assert_eq!(r.status, 403, "{role}");
    }
    let anon = PageClient::new(&app);
    for path in ["/audit", "/audit/verify", "/outbox"] {
        let r = anon.get(path).await;
        assert_eq!(r.status, 303, "{path}");
        assert!(r.location.unwrap().starts_with("/login?next="));
    }
    // The dashboard links to both.
    let (admin, _, _) = browser_user(&app, Role::Admin).await;
    let home = admin.get("/").await;
    assert!(home.html.contains("href=\"/audit\""), "{}", home.html);
    assert!(home.html.contains("href=\"/outbox\""));
    assert!(home.html.contains("邮件发件箱"));
}

// ---------------------------------------------------------------- outbox

async fn enqueue_one(app: &TestApp) -> String {
    let email = format!("r-{}@example.org", Uuid::new_v4().simple());
    let to = vec![Recipient {
        email: email.clone(),
        name: "收件人".into(),
        language: Language::Zh,
    }];
    let event = Event::ApplicationReceived {
        application_id: Uuid::new_v4(),
        title: "发件箱测试".into(),
        organization_name: "玉山镇社工站".into(),
        round_name: "第七届公益创投".into(),
        requested_grant: Money::parse("1000.00").unwrap(),
        submitted_at: chrono::Utc::now(),
    };
    let mut conn = app.db.conn().await.unwrap();
    conn.transaction::<_, StorageError, _>(async move |conn| {
        notify::enqueue(conn, &to, &event).await
    })
    .await
    .unwrap();
    email
}

async fn outbox_api(app: &TestApp, admin: &str, status: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/outbox?status={status}"), Some(admin))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_failed_message_is_shown_and_a_retry_puts_it_back_in_the_queue() {
    let mut smtp = SmtpServer::start().await;
    smtp.stop().await;
    let port = smtp.port;
    let app = spawn_app_with(move |s| {
        s.email.smtp_port = port;
        s.email.max_attempts = 2;
    })
    .await;
    let (_, admin_token) = app.signed_in(Role::Admin).await;
    let failing = enqueue_one(&app).await;
    assert_eq!(sender::run_once(&app.db, &app.settings).await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(sender::run_once(&app.db, &app.settings).await.unwrap(), 0);
    let failed = outbox_api(&app, &admin_token, "failed").await;
    assert_eq!(failed.len(), 1);
    let id = failed[0]["id"].as_i64().unwrap();
    let waiting = enqueue_one(&app).await;

    let (admin, _, _) = browser_user(&app, Role::Admin).await;
    let page = admin.get("/outbox").await;
    assert_eq!(page.status, 200, "{}", page.html);
    let failed_section = &page.html[page.html.find("<section id=\"failed\"").unwrap()..];
    let failed_section = &failed_section[..failed_section.find("</section>").unwrap()];
    assert!(failed_section.contains(&failing), "{failed_section}");
    assert!(!failed_section.contains(&waiting));
    assert!(failed_section.contains(&format!("id=\"message-{id}\"")));
    assert!(
        failed_section.contains("smtp"),
        "the last error: {failed_section}"
    );
    assert!(failed_section.contains(&format!("action=\"/outbox/{id}/retry\"")));
    let pending_section = &page.html[page.html.find("<section id=\"pending\"").unwrap()..];
    assert!(pending_section.contains(&waiting), "{pending_section}");
    assert!(page.html.contains("分钟"), "the age: {}", page.html);

    // Without the CSRF token: refused, still failed.
    let r = admin.post_raw(&format!("/outbox/{id}/retry"), &[]).await;
    assert_eq!(r.status, 403);
    assert_eq!(outbox_api(&app, &admin_token, "failed").await.len(), 1);

    let token = csrf_of(&page.html).unwrap();
    let r = admin
        .post_raw(&format!("/outbox/{id}/retry"), &[("csrf_token", &token)])
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    assert_eq!(
        r.location.as_deref(),
        Some(format!("/outbox?retried={id}").as_str())
    );
    assert!(outbox_api(&app, &admin_token, "failed").await.is_empty());
    let pending = outbox_api(&app, &admin_token, "pending").await;
    let m = pending.iter().find(|m| m["id"] == json!(id)).unwrap();
    assert_eq!(m["attempts"], 0);
    let page = admin.get(&format!("/outbox?retried={id}")).await;
    assert!(element(&page.html, "notice").contains(&id.to_string()));
    let pending_section = &page.html[page.html.find("<section id=\"pending\"").unwrap()..];
    assert!(pending_section.contains(&failing), "{pending_section}");
    // A second retry of a message no longer failed: refused.
    let r = admin.post(&format!("/outbox/{id}/retry"), &[]).await;
    assert_eq!(r.status, 409, "{}", r.html);
    // And it is delivered once the server is back.
    smtp.restart().await;
    assert!(sender::run_once(&app.db, &app.settings).await.unwrap() >= 1);
}
