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
