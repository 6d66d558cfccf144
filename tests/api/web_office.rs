//! The program office's and the reviewers' pages, and the public notice, over real HTTP with a
//! cookie-keeping client: every page and form with a caller allowed and one refused.

use gongyi::domain::user::Role;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{spawn_app, TestApp};
use crate::review::{reviewing_round, score, Fixture};
use crate::web::{browser_user, PageClient};

pub struct Reviewer {
    pub id: Uuid,
    pub email: String,
    pub token: String,
}

/// `n` reviewer users (known emails, for signing in) on the round's panel.
pub async fn reviewers(app: &TestApp, f: &Fixture, n: usize) -> Vec<Reviewer> {
    let mut out = vec![];
    for _ in 0..n {
        let email = format!("reviewer-{}@example.org", Uuid::new_v4().simple());
        let id = app.add_user(&email, Role::Reviewer, None).await;
        let r = app
            .post(
                &format!("/rounds/{}/reviewers", f.round),
                Some(&f.admin),
                json!({"reviewer_id": id}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let token = app.login(&email).await;
        out.push(Reviewer { id, email, token });
    }
    out
}

/// A round of `n` applications under review with 3 reviewers each assigned to every one.
pub async fn assigned_round(app: &TestApp, n: usize, pool: &str) -> (Fixture, Vec<Reviewer>) {
    let f = reviewing_round(app, n, pool, json!({"public_notice_days": 0}), &[]).await;
    let rs = reviewers(app, &f, 3).await;
    let r = app
        .post(
            &format!("/rounds/{}/assignments", f.round),
            Some(&f.admin),
            json!({"mode": "auto", "reviewers_per_application": 3}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    (f, rs)
}

/// Every application scored by every reviewer: application i gets `70 - 10 i` + 5 judged
/// party points from each (plus the 10 objective points).
pub async fn scored_round(app: &TestApp, n: usize, pool: &str) -> (Fixture, Vec<Reviewer>) {
    let (f, rs) = assigned_round(app, n, pool).await;
    for (i, (id, _, _)) in f.apps.iter().enumerate() {
        for r in &rs {
            score(app, &r.token, id, 70 - 10 * i as u32, "5").await;
        }
    }
    (f, rs)
}

#[tokio::test]
async fn the_public_notice_shows_a_decision_signed_out_only_once_published() {
    let app = spawn_app().await;
    // Pool 160,000: applications 0 and 1 (80,000 each) are funded, 2 is not.
    let (f, rs) = scored_round(&app, 3, "160000.00").await;
    let anon = PageClient::new(&app);

    let before = anon.get("/notices").await;
    assert_eq!(before.status, 200, "no sign-in needed: {}", before.html);
    assert!(before.html.contains("no-notices"), "{}", before.html);
    assert!(!before.html.contains("项目 0"));
    assert_eq!(anon.get(&format!("/notices/{}", f.round)).await.status, 404);
    assert_eq!(
        anon.get(&format!("/notices/{}.csv", f.round)).await.status,
        404
    );
    // A preview publishes nothing.
    let r = app
        .post(
            &format!("/rounds/{}/awards/preview", f.round),
            Some(&f.admin),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(anon.get("/notices").await.html.contains("no-notices"));

    let r = app
        .post(
            &format!("/rounds/{}/awards", f.round),
            Some(&f.admin),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let list = anon.get("/notices").await;
    assert_eq!(list.status, 200);
    let h = &list.html;
    assert!(h.contains("昆山市第七届公益创投"), "{h}");
    assert!(h.contains("项目 0") && h.contains("项目 1"), "{h}");
    assert!(
        !h.contains("项目 2"),
        "an unfunded project is not listed: {h}"
    );
    assert!(h.contains("¥80,000.00") && h.contains("¥160,000.00"), "{h}");
    // Final score: (70 + 5 + 10) = 85.00 for application 0.
    assert!(h.contains("85.00"), "{h}");
    assert!(
        h.contains("书面形式"),
        "the objection contact from the settings: {h}"
    );
    assert!(h.contains("公示"), "Chinese by default");
    for r in &rs {
        assert!(
            !h.contains(&r.email) && !h.contains(&r.id.to_string()),
            "no reviewer identity"
        );
    }
    assert!(!h.contains("需求清晰"), "no score sheet comment");

    let one = anon.get(&format!("/notices/{}", f.round)).await;
    assert_eq!(one.status, 200);
    assert!(one.html.contains("项目 1"));
    let csv = anon
        .client
        .get(format!("{}/notices/{}.csv", app.address, f.round))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(csv
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let body = csv.text().await.unwrap();
    assert!(body.starts_with('\u{feff}'));
    let rows: Vec<&str> = body.lines().collect();
    assert!(rows[0].contains("拟资助金额"), "{body}");
    assert!(
        rows[1].starts_with("1,昆山市第七届公益创投,社会组织 0"),
        "{body}"
    );
    assert!(rows[1].ends_with(",项目 0,85.00,80000.00"), "{body}");
    assert!(
        body.contains("160000.00") && !body.contains("项目 2"),
        "{body}"
    );

    // English on request; a signed-in reader sees the same notice.
    let en = anon
        .client
        .get(format!("{}/notices", app.address))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(en.contains("Public notice of award decisions"), "{en}");
    let (applicant, _, _) = browser_user(&app, Role::Applicant).await;
    assert!(applicant.get("/notices").await.html.contains("项目 0"));
    // An unknown round is the 404 page, never a 500.
    assert_eq!(
        anon.get(&format!("/notices/{}", Uuid::new_v4()))
            .await
            .status,
        404
    );
    assert_eq!(anon.get("/notices/not-a-uuid").await.status, 404);
    assert_eq!(anon.get("/notices?page=-5").await.status, 200);
}

#[tokio::test]
async fn a_reviewer_scores_through_the_pages_and_sees_only_its_own_assignments() {
    let app = spawn_app().await;
    let (f, rs) = assigned_round(&app, 2, "500000.00").await;
    let me = PageClient::sign_in(&app, &rs[0].email).await;
    let other = PageClient::sign_in(&app, &rs[1].email).await;

    // The dashboard is the list of my assignments, by round.
    for path in ["/", "/assignments"] {
        let p = me.get(path).await;
        assert_eq!(p.status, 200, "{}", p.html);
        assert!(
            p.html.contains("项目 0") && p.html.contains("项目 1"),
            "{}",
            p.html
        );
        assert!(p.html.contains("昆山市第七届公益创投"));
    }
    let mine = crate::review::assignment_of(&app, &rs[0].token, &f.apps[0].0).await;
    let second = crate::review::assignment_of(&app, &rs[0].token, &f.apps[1].0).await;
    let theirs = crate::review::assignment_of(&app, &rs[1].token, &f.apps[0].0).await;

    let p = me.get(&format!("/assignments/{mine}")).await;
    assert_eq!(p.status, 200, "{}", p.html);
    let h = &p.html;
    assert!(
        h.contains("项目 0") && h.contains("社工薪酬"),
        "the application and its budget: {h}"
    );
    assert!(h.contains("¥80,000.00"), "{h}");
    assert!(
        h.contains("id=\"objective-points\">10 / 10"),
        "objective part computed: {h}"
    );
    assert!(h.contains("step=\"0.5\""), "{h}");
    assert!(
        h.contains("name=\"scores.party_elements\"") && h.contains("max=\"10\""),
        "{h}"
    );

    // Another reviewer's assignment is the 404 page, for reading and for every form.
    assert_eq!(other.get(&format!("/assignments/{mine}")).await.status, 404);
    for action in ["scores", "submit", "conflict"] {
        let r = other
            .post(
                &format!("/assignments/{mine}/{action}"),
                &[
                    ("scores.need_analysis", "10"),
                    ("comment", "x"),
                    ("reason", "x"),
                ],
            )
            .await;
        assert_eq!(r.status, 404, "{action}: {}", r.html);
    }
    // Other roles are refused; a form without the token too.
    let (applicant, _, _) = browser_user(&app, Role::Applicant).await;
    assert_eq!(applicant.get("/assignments").await.status, 403);
    assert_eq!(
        applicant.get(&format!("/assignments/{mine}")).await.status,
        403
    );
    let forged = me
        .post_raw(
            &format!("/assignments/{mine}/scores"),
            &[("scores.need_analysis", "10")],
        )
        .await;
    assert_eq!(forged.status, 403);

    // Every problem at once, beside its field, the typed values kept.
    let bad = me
        .post(
            &format!("/assignments/{mine}/scores"),
            &[
                ("scores.need_analysis", "16"),
                ("scores.project_design", "3.3"),
                ("scores.party_elements", "abc"),
                ("comment", "初评"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.html);
    assert!(
        bad.html.matches("class=\"field-error\"").count() >= 3,
        "{}",
        bad.html
    );
    assert!(bad.html.contains("value=\"3.3\"") && bad.html.contains("value=\"abc\""));
    assert!(bad.html.contains("id=\"violations\""));
    let stored = app
        .get(&format!("/assignments/{mine}"), Some(&rs[0].token))
        .await;
    assert_eq!(
        stored.body["scores"],
        json!({}),
        "a refused save changes nothing"
    );

    // A draft is saved; submitting it incomplete names each missing criterion.
    let ok = me
        .post(
            &format!("/assignments/{mine}/scores"),
            &[
                ("scores.need_analysis", "12.5"),
                ("scores.party_elements", "7"),
                ("comment", "需求清晰"),
            ],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.html);
    let p = me.get(ok.location.as_deref().unwrap()).await;
    assert!(p.html.contains("id=\"notice\""), "{}", p.html);
    assert!(p.html.contains("value=\"12.5\""));
    // 12.5 + 7 judged + 10 objective.
    assert!(p.html.contains("id=\"total\">29.5"), "{}", p.html);
    let incomplete = me.post(&format!("/assignments/{mine}/submit"), &[]).await;
    assert_eq!(incomplete.status, 422, "{}", incomplete.html);
    assert!(
        incomplete.html.matches("class=\"field-error\"").count() >= 4,
        "{}",
        incomplete.html
    );

    // Submitting the whole form saves it first, then locks it.
    let done = me
        .post(
            &format!("/assignments/{mine}/submit"),
            &[
                ("scores.need_analysis", "12.5"),
                ("scores.project_design", "18"),
                ("scores.capacity", "13"),
                ("scores.budget", "12"),
                ("scores.outcomes", "11.5"),
                ("scores.party_elements", "7"),
                ("comment", "需求清晰"),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.html);
    let r = app
        .get(&format!("/assignments/{mine}"), Some(&rs[0].token))
        .await;
    assert_eq!(r.body["status"], "submitted", "{}", r.body);
    assert_eq!(r.body["scores"]["outcomes"], "11.5");
    let p = me.get(&format!("/assignments/{mine}")).await;
    assert!(!p.html.contains("id=\"save-scores\""), "locked: {}", p.html);
    let again = me
        .post(
            &format!("/assignments/{mine}/scores"),
            &[("scores.need_analysis", "1"), ("comment", "")],
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.html);

    // A conflict needs a reason; then the application is no longer shown.
    let empty = me
        .post(
            &format!("/assignments/{second}/conflict"),
            &[("reason", "  ")],
        )
        .await;
    assert_eq!(empty.status, 422, "{}", empty.html);
    let r = me
        .post(
            &format!("/assignments/{second}/conflict"),
            &[("reason", "曾为该机构提供咨询")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let p = me.get(&format!("/assignments/{second}")).await;
    assert_eq!(p.status, 200);
    assert!(p.html.contains("曾为该机构提供咨询"));
    assert!(
        !p.html.contains("社工薪酬"),
        "recused: no application: {}",
        p.html
    );
    let r = app
        .get(&format!("/assignments/{second}"), Some(&rs[0].token))
        .await;
    assert_eq!(r.body["status"], "recused");
    // The other reviewer's sheet was never touched.
    let r = app
        .get(&format!("/assignments/{theirs}"), Some(&rs[1].token))
        .await;
    assert_eq!(r.body["status"], "assigned");
}

#[tokio::test]
async fn the_ranking_page_shows_the_breakdown_to_admins_only() {
    let app = spawn_app().await;
    let (f, rs) = assigned_round(&app, 5, "500000.00").await;
    // Totals 85, 75, 65, 55 (below the pass mark of 60); application 4 has one score only.
    for (i, (id, _, _)) in f.apps.iter().enumerate().take(4) {
        for r in &rs {
            score(&app, &r.token, id, 70 - 10 * i as u32, "5").await;
        }
    }
    score(&app, &rs[0].token, &f.apps[4].0, 50, "5").await;
    let admin_email = format!("admin-{}@example.org", Uuid::new_v4().simple());
    app.add_user(&admin_email, Role::Admin, None).await;
    let admin = PageClient::sign_in(&app, &admin_email).await;

    let p = admin.get(&format!("/rounds/{}/ranking", f.round)).await;
    assert_eq!(p.status, 200, "{}", p.html);
    let h = &p.html;
    assert!(h.contains("id=\"trim-rule\""), "{h}");
    assert!(
        h.contains("去掉一个最高分和一个最低分"),
        "the rule in Chinese: {h}"
    );
    assert!(h.contains("85.00") && h.contains("55.00"), "{h}");
    assert!(h.contains("class=\"num party-objective\">10.00"), "{h}");
    assert!(h.contains("class=\"num party-judged\">5.00"), "{h}");
    // The pass-mark line sits right above the first application below it.
    let line = h.find("id=\"pass-mark-line\"").expect("a pass mark line");
    let app2 = h
        .find(&format!("data-application=\"{}\"", f.apps[2].0))
        .unwrap();
    let app3 = h
        .find(&format!("data-application=\"{}\"", f.apps[3].0))
        .unwrap();
    assert!(app2 < line && line < app3, "{h}");
    let incomplete = h.find("id=\"incomplete\"").unwrap();
    let app4 = h
        .find(&format!("data-application=\"{}\"", f.apps[4].0))
        .unwrap();
    assert!(app4 > incomplete, "application 4 is incomplete: {h}");
    let calibration = &h[h.find("id=\"calibration\"").unwrap()..];
    for r in &rs {
        assert!(calibration.contains(&r.email), "{calibration}");
    }
    // Pages beyond the last show the last.
    let p = admin
        .get(&format!("/rounds/{}/ranking?page=999&ipage=0", f.round))
        .await;
    assert_eq!(p.status, 200);
    assert!(p.html.contains("1 / 1"));

    // A reviewer and an applicant are refused; signed out goes to sign-in.
    let reviewer = PageClient::sign_in(&app, &rs[0].email).await;
    assert_eq!(
        reviewer
            .get(&format!("/rounds/{}/ranking", f.round))
            .await
            .status,
        403
    );
    let (applicant, _, _) = browser_user(&app, Role::Applicant).await;
    assert_eq!(
        applicant
            .get(&format!("/rounds/{}/ranking", f.round))
            .await
            .status,
        403
    );
    let anon = PageClient::new(&app)
        .get(&format!("/rounds/{}/ranking", f.round))
        .await;
    assert_eq!(anon.status, 303);
    assert_eq!(
        admin
            .get(&format!("/rounds/{}/ranking", Uuid::new_v4()))
            .await
            .status,
        404
    );
}

/// An admin signed in through the sign-in form.
async fn page_admin(app: &TestApp) -> PageClient {
    let email = format!("admin-{}@example.org", Uuid::new_v4().simple());
    app.add_user(&email, Role::Admin, None).await;
    PageClient::sign_in(app, &email).await
}

#[tokio::test]
async fn the_program_office_runs_a_round_through_the_pages() {
    let app = spawn_app().await;
    let admin = page_admin(&app).await;
    let (_, api_admin) = app.signed_in(Role::Admin).await;
    let mut body = crate::rounds::round_body("venture_philanthropy");
    body["total_pool"] = json!("160000.00");
    body["grant_max"] = json!("160000.00");
    body["rules"] = json!({"public_notice_days": 0});
    let r = app.post("/rounds", Some(&api_admin), body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let round = r.body["id"].as_str().unwrap().to_string();

    // The dashboard lists the round; its page shows the draft with the open button.
    let home = admin.get("/").await;
    assert!(
        home.html.contains(&format!("/rounds/{round}")),
        "{}",
        home.html
    );
    let p = admin.get(&format!("/rounds/{round}")).await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert!(p.html.contains("id=\"open-round\""));
    let r = admin.post(&format!("/rounds/{round}/open"), &[]).await;
    assert_eq!(r.status, 303, "{}", r.html);
    let p = admin.get(&format!("/rounds/{round}")).await;
    assert!(p.html.contains("id=\"close-round\"") && !p.html.contains("id=\"open-round\""));
    // Opening twice is refused without a change (the 409 page).
    assert_eq!(
        admin
            .post(&format!("/rounds/{round}/open"), &[])
            .await
            .status,
        409
    );

    // Three organizations apply.
    let mut apps = vec![];
    for i in 0..3 {
        let org = app
            .add_organization(&format!("社会组织 {i} {}", Uuid::new_v4().simple()))
            .await;
        let token = app.applicant_of(org).await;
        let id = crate::applications::ready_draft(&app, &token, &round, &format!("项目 {i}")).await;
        let r = app
            .post(
                &format!("/applications/{id}/submit"),
                Some(&token),
                json!({}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        apps.push((id, org, token));
    }
    // An applicant may not run the round.
    let (applicant, _, _) = browser_user(&app, Role::Applicant).await;
    assert_eq!(
        applicant
            .get(&format!("/rounds/{round}/screening"))
            .await
            .status,
        403
    );
    assert_eq!(
        applicant
            .post(&format!("/rounds/{round}/close"), &[])
            .await
            .status,
        403
    );
    let r = admin.post(&format!("/rounds/{round}/close"), &[]).await;
    assert_eq!(r.status, 303);
    let p = admin.get(&format!("/rounds/{round}")).await;
    assert!(
        p.html.contains("data-status=\"submitted\"><th>"),
        "{}",
        p.html
    );

    // Screening: ineligible needs a reason; two eligible, one ineligible.
    let q = admin.get(&format!("/rounds/{round}/screening")).await;
    assert_eq!(q.status, 200);
    assert!(q.html.contains("项目 0") && q.html.contains("项目 2"));
    let screen = |id: &str| format!("/applications/{id}/screen");
    let r = admin
        .post(
            &screen(&apps[2].0),
            &[("eligible", "no"), ("reason", ""), ("round_id", &round)],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.html);
    assert!(r.html.contains("field-error"));
    for (id, _, _) in &apps[..2] {
        let r = admin
            .post(&screen(id), &[("eligible", "yes"), ("round_id", &round)])
            .await;
        assert_eq!(r.status, 303, "{}", r.html);
    }
    let r = admin
        .post(
            &screen(&apps[2].0),
            &[
                ("eligible", "no"),
                ("reason", "预算不符合要求"),
                ("round_id", &round),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    let q = admin.get(&format!("/rounds/{round}/screening")).await;
    assert!(q.html.contains("id=\"queue-empty\""), "{}", q.html);
    let r = app
        .get(&format!("/applications/{}", apps[2].0), Some(&api_admin))
        .await;
    assert_eq!(r.body["status"], "ineligible");

    // The panel: three reviewers, the first affiliated with organization 0.
    let mut rs = vec![];
    for _ in 0..4 {
        let email = format!("reviewer-{}@example.org", Uuid::new_v4().simple());
        let id = app.add_user(&email, Role::Reviewer, None).await;
        rs.push((id, email));
    }
    let p = admin.get(&format!("/rounds/{round}/panel")).await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert!(p.html.contains(&rs[0].1), "candidates listed: {}", p.html);
    let org0 = apps[0].1.to_string();
    let r = admin
        .post(
            &format!("/rounds/{round}/reviewers"),
            &[
                ("reviewer_id", &rs[0].0.to_string()),
                ("affiliations", &org0),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    for (id, _) in &rs[1..3] {
        let r = admin
            .post(
                &format!("/rounds/{round}/reviewers"),
                &[("reviewer_id", &id.to_string())],
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.html);
    }
    let r = admin.post(&format!("/rounds/{round}/reviewers"), &[]).await;
    assert_eq!(r.status, 422, "a reviewer must be chosen: {}", r.html);
    let r = admin
        .post(
            &format!("/rounds/{round}/assignments"),
            &[("reviewers_per_application", "3")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let p = admin.get(r.location.as_deref().unwrap()).await;
    assert!(p.html.contains("id=\"notice\""), "{}", p.html);
    let gaps = &p.html[p.html.find("id=\"gaps\"").expect("a shortfall")..];
    assert!(
        gaps.contains("项目 0"),
        "only 2 unaffiliated reviewers for it: {gaps}"
    );
    // A fourth reviewer fills the gap.
    let r = admin
        .post(
            &format!("/rounds/{round}/reviewers"),
            &[("reviewer_id", &rs[3].0.to_string())],
        )
        .await;
    assert_eq!(r.status, 303);
    admin
        .post(
            &format!("/rounds/{round}/assignments"),
            &[("reviewers_per_application", "")],
        )
        .await;
    let p = admin.get(&format!("/rounds/{round}/panel")).await;
    assert!(p.html.contains("id=\"no-gaps\""), "{}", p.html);

    // Everyone scores through the API; the panel page shows the progress.
    for (_, email) in &rs {
        let token = app.login(email).await;
        let mine = app.get("/assignments", Some(&token)).await;
        for a in mine.body["items"].as_array().unwrap() {
            if a["status"] != "assigned" {
                continue;
            }
            let application = a["application_id"].as_str().unwrap();
            let rest = if application == apps[0].0 { 70 } else { 60 };
            score(&app, &token, application, rest, "5").await;
        }
    }
    let p = admin.get(&format!("/rounds/{round}/panel")).await;
    assert!(p.html.contains("class=\"num submitted\">"), "{}", p.html);
    assert!(
        !p.html.contains("class=\"num submitted\">0<"),
        "every sheet submitted: {}",
        p.html
    );

    // Awards: the preview; a bad amount and an amount above the request are refused beside
    // the field; then publish, an objection, finalize.
    let p = admin.get(&format!("/rounds/{round}/awards")).await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert!(
        p.html.contains("id=\"preview\"") && p.html.contains("¥160,000.00"),
        "{}",
        p.html
    );
    let field = format!("amount.{}", apps[0].0);
    let bad = admin
        .post(
            &format!("/rounds/{round}/awards/preview"),
            &[(&field, "abc")],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.html);
    assert!(bad.html.contains("field-error") && bad.html.contains("value=\"abc\""));
    let over = admin
        .post(
            &format!("/rounds/{round}/awards/preview"),
            &[(&field, "90000")],
        )
        .await;
    assert_eq!(over.status, 422, "{}", over.html);
    assert!(over.html.contains("field-error"), "{}", over.html);
    let adjusted = admin
        .post(
            &format!("/rounds/{round}/awards/preview"),
            &[(&field, "70000.00")],
        )
        .await;
    assert_eq!(adjusted.status, 200, "{}", adjusted.html);
    assert!(
        adjusted.html.contains("id=\"remaining-pool\">¥10,000.00"),
        "{}",
        adjusted.html
    );
    // A reviewer may not see the awards.
    let reviewer = PageClient::sign_in(&app, &rs[1].1).await;
    assert_eq!(
        reviewer
            .get(&format!("/rounds/{round}/awards"))
            .await
            .status,
        403
    );
    assert_eq!(reviewer.get(&format!("/rounds/{round}")).await.status, 403);

    let r = admin
        .post(&format!("/rounds/{round}/awards"), &[(&field, "70000.00")])
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let p = admin.get(&format!("/rounds/{round}/awards")).await;
    assert!(
        p.html.contains("id=\"decision-status\">公示中"),
        "{}",
        p.html
    );
    assert!(p.html.contains("¥70,000.00"));
    assert!(PageClient::new(&app)
        .get("/notices")
        .await
        .html
        .contains("¥70,000.00"));
    let r = admin
        .post(
            &format!("/rounds/{round}/awards/objections"),
            &[("objection", "")],
        )
        .await;
    assert_eq!(r.status, 422);
    let r = admin
        .post(
            &format!("/rounds/{round}/awards/objections"),
            &[
                ("application_id", &apps[1].0),
                ("objection", "对评分有异议"),
                ("resolution", "复核维持"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let p = admin.get(&format!("/rounds/{round}/awards")).await;
    assert!(p.html.contains("对评分有异议") && p.html.contains("id=\"finalize\""));
    let r = admin
        .post(&format!("/rounds/{round}/awards/finalize"), &[])
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let p = admin.get(&format!("/rounds/{round}/awards")).await;
    assert!(
        p.html.contains("id=\"decision-status\">已定案"),
        "{}",
        p.html
    );
    assert!(!p.html.contains("id=\"publish\""));
    let r = app.get(&format!("/rounds/{round}"), Some(&api_admin)).await;
    assert_eq!(r.body["status"], "decided");
    let r = app
        .get(&format!("/applications/{}", apps[0].0), Some(&api_admin))
        .await;
    assert_eq!(r.body["status"], "approved");
    assert_eq!(
        admin
            .post(&format!("/rounds/{round}/awards/finalize"), &[])
            .await
            .status,
        409
    );
}

/// Runs the example reviewer client (`docs/examples/reviewer_client.py`) against the app, on
/// the blocking pool so the server keeps answering; returns (exit code, stdout, stderr).
async fn reviewer_client(app: &TestApp, token: &str, args: &[&str]) -> (i32, String, String) {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/examples/reviewer_client.py"
    );
    let mut cmd = std::process::Command::new(python);
    cmd.arg(script)
        .args(["--url", &app.address, "--token", token])
        .args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .expect("python3 runs the example client (set PYTHON to another interpreter)");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_example_reviewer_client_scores_a_round_from_a_csv_file() {
    let app = spawn_app().await;
    let (f, rs) = assigned_round(&app, 3, "500000.00").await;
    let me = &rs[0];

    let (code, out, err) = reviewer_client(&app, &me.token, &["list"]).await;
    assert_eq!(code, 0, "{out}{err}");
    for (id, _, _) in &f.apps {
        assert!(out.contains(id.as_str()), "{out}");
    }
    assert!(err.contains("3 assignments"), "{err}");

    // Application 0 by its application id, complete; application 1 with a score out of range
    // and one off the step; application 2 by its assignment id.
    let a2 = crate::review::assignment_of(&app, &me.token, &f.apps[2].0).await;
    let dir = std::env::temp_dir().join(format!("gongyi-client-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("scores.csv");
    std::fs::write(
        &csv,
        format!(
            "\u{feff}application_id,need_analysis,project_design,capacity,budget,outcomes,party_elements,comment\n\
             {},12.5,18,13,12,11.5,7,\"需求清晰，设计完整\"\n\
             {},16,18,13.3,12,11.5,7,超出上限\n",
            f.apps[0].0, f.apps[1].0
        ),
    )
    .unwrap();
    let (code, out, err) = reviewer_client(
        &app,
        &me.token,
        &["upload", csv.to_str().unwrap(), "--submit"],
    )
    .await;
    assert_eq!(code, 1, "a refused row makes the exit status 1: {out}{err}");
    assert!(
        out.contains("line 2:") && out.contains("submitted"),
        "{out}"
    );
    assert!(err.contains("line 3:"), "{err}");
    assert!(
        err.contains("score_range") && err.contains("score_step"),
        "every violation: {err}"
    );
    assert!(
        err.contains("scores.need_analysis") && err.contains("scores.capacity"),
        "{err}"
    );

    let a0 = crate::review::assignment_of(&app, &me.token, &f.apps[0].0).await;
    let r = app
        .get(&format!("/assignments/{a0}"), Some(&me.token))
        .await;
    assert_eq!(r.body["status"], "submitted", "{}", r.body);
    assert_eq!(r.body["scores"]["outcomes"], "11.5");
    assert_eq!(r.body["comment"], "需求清晰，设计完整");
    let a1 = crate::review::assignment_of(&app, &me.token, &f.apps[1].0).await;
    let r = app
        .get(&format!("/assignments/{a1}"), Some(&me.token))
        .await;
    assert_eq!(r.body["status"], "assigned");
    assert_eq!(
        r.body["scores"],
        json!({}),
        "the refused row changed nothing"
    );

    // By assignment id, saved as a draft only (no --submit).
    let by_id = dir.join("by_id.csv");
    std::fs::write(
        &by_id,
        format!("assignment_id,need_analysis,comment\n{a2},10,草稿\n"),
    )
    .unwrap();
    let (code, out, err) =
        reviewer_client(&app, &me.token, &["upload", by_id.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{out}{err}");
    let r = app
        .get(&format!("/assignments/{a2}"), Some(&me.token))
        .await;
    assert_eq!(
        (
            r.body["status"].as_str(),
            r.body["scores"]["need_analysis"].as_str()
        ),
        (Some("assigned"), Some("10"))
    );

    // Another reviewer's assignment is not found for this client; a bad token is refused.
    let theirs = crate::review::assignment_of(&app, &rs[1].token, &f.apps[0].0).await;
    std::fs::write(
        &by_id,
        format!("assignment_id,need_analysis\n{theirs},10\n"),
    )
    .unwrap();
    let (code, _, err) =
        reviewer_client(&app, &me.token, &["upload", by_id.to_str().unwrap()]).await;
    assert_eq!(code, 1);
    assert!(err.contains("HTTP 404"), "{err}");
    let (code, _, err) = reviewer_client(&app, "not-a-token", &["list"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("HTTP 401"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn in_the_browser_a_reviewer_scores_and_the_notice_appears_signed_out_after_publishing() {
    let app = spawn_app().await;
    // Pool 80,000: only the better application is funded.
    let (f, rs) = assigned_round(&app, 2, "80000.00").await;
    let Some(b) = crate::browser::browser(&app).await else {
        return;
    };
    b.open("/notices").await;
    b.wait_text("#no-notices", "").await;

    b.sign_in(&rs[0].email).await;
    b.wait_text("main h1", "我的评审任务").await;
    let mine = crate::review::assignment_of(&app, &rs[0].token, &f.apps[0].0).await;
    b.click(&format!("a[href=\"/assignments/{mine}\"]")).await;
    b.wait_text("#objective-points", "10 / 10").await;
    for (key, v) in [
        ("need_analysis", "12.5"),
        ("project_design", "18"),
        ("capacity", "13"),
        ("budget", "12"),
        ("outcomes", "11.5"),
        ("party_elements", "7"),
    ] {
        b.fill(&format!("#score-{key}"), v).await;
    }
    b.fill("textarea[name=comment]", "需求清晰，党建元素贯穿项目")
        .await;
    b.screenshot("reviewer-score-sheet").await;
    b.click("#submit-scores").await;
    b.wait_text("#assignment-status", "已提交").await;

    // The rest of the panel scores through the API; the admin publishes.
    score(&app, &rs[0].token, &f.apps[1].0, 40, "5").await;
    for r in &rs[1..] {
        score(&app, &r.token, &f.apps[0].0, 70, "5").await;
        score(&app, &r.token, &f.apps[1].0, 40, "5").await;
    }
    b.click("nav form[action=\"/logout\"] button").await;
    b.wait_text("main", "").await;
    b.open("/notices").await;
    b.wait_text("#no-notices", "").await;
    let r = app
        .post(
            &format!("/rounds/{}/awards", f.round),
            Some(&f.admin),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    b.open("/notices").await;
    b.wait_text(".notice-lines", "项目 0").await;
    let text = b.wait_text("main", "").await.text().await.unwrap();
    assert!(
        !text.contains("项目 1"),
        "the unfunded project is not listed: {text}"
    );
    assert!(text.contains("¥80,000.00"), "{text}");
    b.screenshot("public-notice").await;
    b.quit().await;
}
