//! Mass assignment (issue #8, part 1) and limits (part 6): page size, body size, login attempts,
//! the whole-request deadline and the cap on expensive requests. Each limit is a setting (see
//! docs/SECURITY.md, "Limits"); these tests run with small values to reach them.

use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use gongyi::domain::user::Role;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::applications::{content, ready_draft};
use crate::grants::{finance, funded_grant, milestone, request_payout};
use crate::helpers::{spawn_app, spawn_app_with, Resp, TestApp, PASSWORD};
use crate::review::{assignment_of, panel, reviewing_round, sheet};
use crate::rounds::{open_round, round_body};

fn with(mut body: Value, field: &str, value: Value) -> Value {
    body[field] = value;
    body
}

/// 422 `validation_failed`, naming the refused field.
fn assert_refused(r: &Resp, field: &str) {
    assert_eq!(
        (r.status, r.code()),
        (422, "validation_failed"),
        "`{field}` must be refused: {}",
        r.body
    );
    assert!(
        r.body.to_string().contains(field),
        "the answer names `{field}`: {}",
        r.body
    );
}

#[tokio::test]
async fn fields_a_caller_may_not_set_are_refused() {
    let app = spawn_app().await;
    let (round, admin) = open_round(&app, round_body("venture_philanthropy")).await;
    let org = app.add_organization("甲机构").await;
    let applicant = app.applicant_of(org).await;

    // Applicants: the contact fields of their own organization, nothing else.
    for (field, value) in [
        ("rating", json!("5A")),
        ("credit_code", json!(null)),
        ("rating_valid_until", json!("2100-01-01")),
        ("party_assessment", json!("passed")),
        ("blacklisted_until", json!(null)),
        ("name", json!("改名")),
    ] {
        let r = app
            .patch(
                &format!("/organizations/{org}"),
                Some(&applicant),
                json!({ field: value }),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (403, "field_not_allowed"),
            "{field}: {}",
            r.body
        );
    }
    let r = app
        .patch(
            &format!("/organizations/{org}"),
            Some(&applicant),
            json!({"contact_person": "新联系人"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .get(&format!("/organizations/{org}"), Some(&admin))
        .await;
    assert_eq!(r.body["rating"], "3A", "unchanged: {}", r.body);
    assert_eq!(r.body["contact_person"], "新联系人");

    // Applications: status, award, organization and round are the service's, never the body's.
    let other_org = app.add_organization("乙机构").await;
    let forbidden = [
        ("status", json!("approved")),
        ("award_amount", json!("200000.00")),
        ("organization_id", json!(other_org)),
        ("round_id", json!(Uuid::new_v4())),
        ("id", json!(Uuid::new_v4())),
        ("submitted_at", json!("2026-01-01T00:00:00Z")),
    ];
    for (field, value) in &forbidden {
        let r = app
            .post(
                &format!("/rounds/{round}/applications"),
                Some(&applicant),
                with(content("项目"), field, value.clone()),
            )
            .await;
        assert_refused(&r, field);
    }
    let id = ready_draft(&app, &applicant, &round, "项目").await;
    for (field, value) in &forbidden {
        let r = app
            .patch(
                &format!("/applications/{id}"),
                Some(&applicant),
                json!({ *field: value }),
            )
            .await;
        assert_refused(&r, field);
    }
    let r = app
        .put(
            &format!("/applications/{id}/budget"),
            Some(&applicant),
            json!({"lines": [{"category": "personnel", "description": "社工", "quantity": "1",
                "unit_cost": "100", "funded_by": "grant", "amount": "999999.00"}]}),
        )
        .await;
    assert_refused(&r, "amount");
    let r = app
        .post(
            &format!("/applications/{id}/submit"),
            Some(&applicant),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .post(
            &format!("/applications/{id}/screen"),
            Some(&admin),
            json!({"eligible": true, "award_amount": "1.00"}),
        )
        .await;
    assert_refused(&r, "award_amount");
    let r = app
        .get(&format!("/applications/{id}"), Some(&applicant))
        .await;
    assert_eq!(r.body["status"], "submitted", "{}", r.body);
    assert_eq!(r.body["organization_id"], org.to_string());
    assert!(r.body["award_amount"].is_null(), "{}", r.body);

    // Rounds: the state moves through open/close only.
    let r = app
        .post(
            "/rounds",
            Some(&admin),
            with(
                round_body("venture_philanthropy"),
                "status",
                json!("decided"),
            ),
        )
        .await;
    assert_refused(&r, "status");
    let r = app
        .patch(
            &format!("/rounds/{round}"),
            Some(&admin),
            json!({"status": "closed"}),
        )
        .await;
    assert_refused(&r, "status");

    // Tokens are always the caller's own; users cannot change their role or organization.
    let (other_user, _) = app.signed_in(Role::Finance).await;
    let r = app
        .post(
            "/me/tokens",
            Some(&applicant),
            json!({"name": "x", "user_id": other_user}),
        )
        .await;
    assert_refused(&r, "user_id");
    for (field, value) in [
        ("role", json!("admin")),
        ("organization_id", json!(org)),
        ("email", json!("x@example.org")),
    ] {
        let r = app
            .patch(
                &format!("/users/{other_user}"),
                Some(&admin),
                json!({ field: value }),
            )
            .await;
        assert_refused(&r, field);
    }
    let r = app.get("/me", Some(&applicant)).await;
    assert_eq!(r.body["role"], "applicant");
}

#[tokio::test]
async fn money_statuses_and_ratings_are_not_body_fields_in_review_and_payouts() {
    let app = spawn_app().await;
    let f = reviewing_round(&app, 1, "500000.00", json!({"min_reviewers": 1}), &[]).await;
    let reviewers = panel(&app, &f, 1).await;
    let r = app
        .post(
            &format!("/rounds/{}/assignments", f.round),
            Some(&f.admin),
            json!({"mode": "auto"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let a = assignment_of(&app, &reviewers[0].1, &f.apps[0].0).await;
    for (field, value) in [
        ("status", json!("submitted")),
        ("reviewer_id", json!(Uuid::new_v4())),
        ("total", json!("100")),
    ] {
        let mut body = json!({"scores": sheet(60, "5")});
        body[field] = value;
        let r = app
            .put(
                &format!("/assignments/{a}/scores"),
                Some(&reviewers[0].1),
                body,
            )
            .await;
        assert_refused(&r, field);
    }
    let r = app
        .post(
            &format!("/rounds/{}/awards/preview", f.round),
            Some(&f.admin),
            json!({"pool": "99999999.00"}),
        )
        .await;
    assert_refused(&r, "pool");

    let org = app.add_organization("丙机构").await;
    let applicant = app.applicant_of(org).await;
    let g = funded_grant(&app, &applicant, "100000.00", None, None).await;
    let r = milestone(
        &app,
        &g.admin,
        &g.grant,
        json!({"milestone": "agreement_signed", "note": "协议已签"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (_, maker) = finance(&app).await;
    for (field, value) in [
        ("status", json!("paid")),
        ("requested_by", json!(Uuid::new_v4())),
        ("approved_by", json!(Uuid::new_v4())),
    ] {
        let r = app
            .send(
                app.client
                    .post(app.url(&format!("/grants/{}/payouts", g.grant)))
                    .bearer_auth(&maker)
                    .header("Idempotency-Key", Uuid::new_v4().to_string())
                    .json(&json!({"tranche_number": 1, "amount": "10.00", field: value})),
            )
            .await;
        assert_refused(&r, field);
    }
    let r = milestone(
        &app,
        &g.admin,
        &g.grant,
        json!({"milestone": "agreement_signed", "status": "completed"}),
    )
    .await;
    assert_refused(&r, "status");
    let r = request_payout(&app, &maker, &g.grant, 1, "10.00", "ok-1").await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["status"], "requested");
    let p = r.body["id"].as_str().unwrap().to_string();
    let r = app
        .post(
            &format!("/payouts/{p}/paid"),
            Some(&maker),
            json!({"bank_reference": "BOC-1", "value_date": "2026-01-01", "amount": "100000.00"}),
        )
        .await;
    assert_refused(&r, "amount");
}

#[tokio::test]
async fn page_size_is_capped_on_every_list() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let lists = [
        "/users",
        "/organizations",
        "/rounds",
        "/applications",
        "/assignments",
        "/grants",
        "/payouts",
        "/outbox",
        "/audit",
    ];
    for list in lists {
        let r = app.get(&format!("{list}?limit=200"), Some(&admin)).await;
        assert_eq!(r.status, 200, "{list}: {}", r.body);
        for bad in ["201", "0", "100000"] {
            let r = app.get(&format!("{list}?limit={bad}"), Some(&admin)).await;
            assert_eq!(
                (r.status, r.code()),
                (422, "validation_failed"),
                "{list}?limit={bad}: {}",
                r.body
            );
            assert_eq!(r.rules(), vec!["page_size"], "{list}: {}", r.body);
        }
    }
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_before_anything_else() {
    let app = spawn_app_with(|s| s.application.max_body_bytes = 1024).await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let (round, _) = open_round(&app, round_body("venture_philanthropy")).await;
    let org = app.add_organization("甲机构").await;
    let applicant = app.applicant_of(org).await;
    // Just under the limit: read and judged on its content.
    let mut small = content("项目");
    small["summary"] = json!("x".repeat(300));
    assert!(serde_json::to_vec(&small).unwrap().len() < 1024);
    let r = app
        .post(
            &format!("/rounds/{round}/applications"),
            Some(&applicant),
            small,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // Over it: refused whatever the route, with the limit named.
    let mut big = content("项目");
    big["summary"] = json!("x".repeat(2000));
    for (path, token) in [
        (format!("/rounds/{round}/applications"), &applicant),
        ("/rounds".to_string(), &admin),
        ("/organizations".to_string(), &admin),
    ] {
        let r = app.post(&path, Some(token), big.clone()).await;
        assert_eq!((r.status, r.code()), (413, "payload_too_large"), "{path}");
        assert!(r.body["detail"].as_str().unwrap().contains("1024"));
    }
    // Login too: nobody signed in can send a large body either.
    let r = app
        .post(
            "/auth/login",
            None,
            json!({"email": "a@example.org", "password": "p".repeat(4000)}),
        )
        .await;
    assert_eq!((r.status, r.code()), (413, "payload_too_large"));
}

#[tokio::test]
async fn login_attempts_are_limited_per_email_and_the_limit_lifts() {
    let app = spawn_app_with(|s| {
        s.auth.login_max_failures = 2;
    })
    .await;
    app.add_user("carol@example.org", Role::Finance, None).await;
    app.add_user("dave@example.org", Role::Finance, None).await;
    for _ in 0..2 {
        let r = app
            .post(
                "/auth/login",
                None,
                json!({"email": "carol@example.org", "password": "wrong-password"}),
            )
            .await;
        assert_eq!(r.status, 401);
    }
    let r = app
        .post(
            "/auth/login",
            None,
            json!({"email": "carol@example.org", "password": PASSWORD}),
        )
        .await;
    assert_eq!((r.status, r.code()), (429, "too_many_requests"));
    let secs: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=15 * 60).contains(&secs), "Retry-After {secs}");
    // Another account is not affected.
    app.login("dave@example.org").await;
    // Failures age out of the window: moved back in time, they no longer count.
    let mut conn = AsyncPgConnection::establish(app.settings.database.url())
        .await
        .unwrap();
    diesel::sql_query("UPDATE login_failures SET failed_at = failed_at - interval '1 day'")
        .execute(&mut conn)
        .await
        .unwrap();
    app.login("carol@example.org").await;
}

/// Holds `LOCK TABLE … IN ACCESS EXCLUSIVE MODE` on its own connection until dropped by
/// `release`, so requests touching those tables wait in Postgres.
struct TableLock(AsyncPgConnection);

impl TableLock {
    async fn take(app: &TestApp, tables: &str) -> Self {
        let mut conn = AsyncPgConnection::establish(app.settings.database.url())
            .await
            .unwrap();
        diesel::sql_query("BEGIN").execute(&mut conn).await.unwrap();
        diesel::sql_query(format!("LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE"))
            .execute(&mut conn)
            .await
            .unwrap();
        Self(conn)
    }
    async fn release(mut self) {
        diesel::sql_query("ROLLBACK")
            .execute(&mut self.0)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_request_over_the_deadline_is_abandoned_with_503() {
    let app = spawn_app_with(|s| s.application.request_timeout_ms = 500).await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let r = app.get("/rounds", Some(&admin)).await;
    assert_eq!(r.status, 200);
    let lock = TableLock::take(&app, "rounds").await;
    let started = Instant::now();
    let r = app.get("/rounds", Some(&admin)).await;
    let took = started.elapsed();
    assert_eq!((r.status, r.code()), (503, "request_timeout"), "{}", r.body);
    assert!(r.headers.get("retry-after").is_some());
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(5),
        "answered after {took:?}"
    );
    lock.release().await;
    let r = app.get("/rounds", Some(&admin)).await;
    assert_eq!(r.status, 200, "the service recovers: {}", r.body);
}

#[tokio::test]
async fn expensive_requests_are_capped_and_the_rest_is_served() {
    // Cap 0: every expensive request is refused at once, nothing else is.
    let app = spawn_app_with(|s| s.application.max_concurrent_expensive = 0).await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let round = Uuid::new_v4();
    for (method, path) in [
        ("GET", format!("/rounds/{round}/ranking")),
        ("POST", format!("/rounds/{round}/awards/preview")),
        ("GET", format!("/rounds/{round}/ledger.csv")),
        ("GET", format!("/rounds/{round}/ledger.xlsx")),
        ("GET", format!("/grants/{round}/ledger.csv")),
        ("GET", format!("/grants/{round}/ledger.xlsx")),
    ] {
        let r = app
            .method(method.parse().unwrap(), &path, Some(&admin), json!({}))
            .await;
        assert_eq!((r.status, r.code()), (503, "busy"), "{method} {path}");
        assert_eq!(r.headers["retry-after"], "1");
    }
    let r = app.get("/rounds", Some(&admin)).await;
    assert_eq!(r.status, 200);
    // Authorization still comes first: a finance user asking for the ranking is 403, not 503.
    let (_, fin) = finance(&app).await;
    let r = app
        .get(&format!("/rounds/{round}/ranking"), Some(&fin))
        .await;
    assert_eq!(r.status, 403);

    // Cap 1: one export in flight (held up by a table lock) → a second is refused; once the
    // first is done, exports are served again.
    let app = spawn_app_with(|s| s.application.max_concurrent_expensive = 1).await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let lock = TableLock::take(&app, "rounds, grants, payouts, tranches").await;
    let first = {
        let req = app
            .client
            .get(app.url(&format!("/rounds/{round}/ledger.csv")))
            .bearer_auth(&admin);
        tokio::spawn(async move { req.send().await.unwrap().status().as_u16() })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = app
        .get(&format!("/rounds/{round}/ranking"), Some(&admin))
        .await;
    assert_eq!((r.status, r.code()), (503, "busy"), "{}", r.body);
    lock.release().await;
    let first = first.await.unwrap();
    assert_ne!(first, 503, "the first export was served");
    let r = app
        .get(&format!("/rounds/{round}/ledger.csv"), Some(&admin))
        .await;
    assert_eq!(r.status, 404, "the permit was given back: {}", r.body);
}
