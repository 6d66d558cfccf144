//! Payouts: idempotency, maker-checker (in the API and in the database), and races that must
//! never pay a fen over the tranche or the award.

use std::sync::Arc;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use gongyi::domain::user::Role;
use rust_decimal::Decimal;
use serde_json::json;
use uuid::Uuid;

use crate::grants::{finance, funded_grant, milestone, request_payout};
use crate::helpers::{spawn_app, TestApp};

/// Sums straight from the payouts table (not from the maintained totals).
async fn sums(app: &TestApp, grant: &str) -> (Decimal, Decimal, i64) {
    #[derive(QueryableByName)]
    struct S {
        #[diesel(sql_type = diesel::sql_types::Numeric)]
        held: Decimal,
        #[diesel(sql_type = diesel::sql_types::Numeric)]
        committed: Decimal,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = app.db.conn().await.unwrap();
    let s: S = diesel::sql_query(
        "SELECT COALESCE(SUM(amount) FILTER (WHERE status <> 'rejected'), 0) AS held,
                COALESCE(SUM(amount) FILTER (WHERE status IN ('approved', 'paid')), 0) AS committed,
                COUNT(*) AS n
         FROM payouts WHERE grant_id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(Uuid::parse_str(grant).unwrap())
    .get_result(&mut conn)
    .await
    .unwrap();
    (s.held, s.committed, s.n)
}

#[tokio::test]
async fn idempotency_key_required_replayed_and_never_reused_for_another_body() {
    let app = spawn_app().await;
    let (_, applicant) = app.signed_in(Role::Applicant).await;
    let f = funded_grant(&app, &applicant, "100000", None, None).await;
    milestone(
        &app,
        &f.admin,
        &f.grant,
        json!({"milestone": "agreement_signed"}),
    )
    .await;
    let (_, fin) = finance(&app).await;
    let (_, other_fin) = finance(&app).await;

    let r = app
        .post(
            &format!("/grants/{}/payouts", f.grant),
            Some(&fin),
            json!({"tranche_number": 1, "amount": "5000"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "idempotency_key_required"));

    let first = request_payout(&app, &fin, &f.grant, 1, "5000", "pay-2026-001").await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert!(first.headers.get("idempotent-replayed").is_none());
    // The same request again (5000.00 is the same amount): the first answer, nothing new.
    let again = request_payout(&app, &fin, &f.grant, 1, "5000.00", "pay-2026-001").await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body, first.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    // Another body under the same key.
    let r = request_payout(&app, &fin, &f.grant, 1, "6000", "pay-2026-001").await;
    assert_eq!(
        (r.status, r.code()),
        (422, "idempotency_key_reused"),
        "{}",
        r.body
    );
    // Keys belong to their user: another finance user's same key is a new request.
    let r = request_payout(&app, &other_fin, &f.grant, 1, "5000", "pay-2026-001").await;
    assert_eq!(r.status, 201);
    assert_ne!(r.body["id"], first.body["id"]);
    // A failed request stores nothing: the same key works once the request is right.
    let r = request_payout(&app, &fin, &f.grant, 2, "100", "pay-2026-002").await;
    assert_eq!(r.status, 409, "tranche 2 is not due");
    let r = request_payout(&app, &fin, &f.grant, 1, "100", "pay-2026-002").await;
    assert_eq!(r.status, 201, "{}", r.body);

    // Decisions take an optional key: a retried approval or payment answers the first answer.
    let id = first.body["id"].as_str().unwrap().to_string();
    let decide = |path: String, key: &'static str, body: serde_json::Value| {
        let (app, token) = (&app, other_fin.clone());
        async move {
            app.send(
                app.client
                    .post(app.url(&path))
                    .bearer_auth(token)
                    .header("Idempotency-Key", key)
                    .json(&body),
            )
            .await
        }
    };
    let approve = format!("/payouts/{id}/approve");
    let a1 = decide(approve.clone(), "approve-1", json!({})).await;
    assert_eq!(
        (a1.status, &a1.body["status"]),
        (200, &json!("approved")),
        "{}",
        a1.body
    );
    let a2 = decide(approve.clone(), "approve-1", json!({})).await;
    assert_eq!((a2.status, &a2.body), (200, &a1.body));
    assert_eq!(a2.headers["idempotent-replayed"], "true");
    let r = app.post(&approve, Some(&other_fin), json!({})).await;
    assert_eq!(
        (r.status, r.code()),
        (409, "invalid_state"),
        "without a key a repeat is a conflict"
    );
    let today = chrono::Utc::now().date_naive().to_string();
    let paid = format!("/payouts/{id}/paid");
    let p1 = decide(
        paid.clone(),
        "paid-1",
        json!({"bank_reference": "ICBC-1", "value_date": today}),
    )
    .await;
    assert_eq!(p1.body["status"], "paid", "{}", p1.body);
    let p2 = decide(
        paid.clone(),
        "paid-1",
        json!({"bank_reference": "ICBC-1", "value_date": today}),
    )
    .await;
    assert_eq!((p2.status, &p2.body), (200, &p1.body));
    let r = decide(
        paid,
        "paid-1",
        json!({"bank_reference": "ICBC-2", "value_date": today}),
    )
    .await;
    assert_eq!((r.status, r.code()), (422, "idempotency_key_reused"));

    // Ten identical requests at once: one payout, ten identical answers.
    let app = Arc::new(app);
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let mut handles = vec![];
    for _ in 0..10 {
        let (app, fin, grant, barrier) =
            (app.clone(), fin.clone(), f.grant.clone(), barrier.clone());
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            request_payout(&app, &fin, &grant, 1, "700", "same-key-burst").await
        }));
    }
    let mut ids = std::collections::HashSet::new();
    for h in handles {
        let r = h.await.unwrap();
        assert_eq!(r.status, 201, "{}", r.body);
        ids.insert(r.body["id"].as_str().unwrap().to_string());
    }
    assert_eq!(ids.len(), 1, "one payout for one key");
    let (held, _, n) = sums(&app, &f.grant).await;
    assert_eq!((held, n), ("10800".parse().unwrap(), 4));
}

#[tokio::test]
async fn maker_checker_holds_in_the_api_and_in_the_database() {
    let app = spawn_app().await;
    let (_, applicant) = app.signed_in(Role::Applicant).await;
    let f = funded_grant(&app, &applicant, "100000", None, None).await;
    milestone(
        &app,
        &f.admin,
        &f.grant,
        json!({"milestone": "agreement_signed"}),
    )
    .await;
    let (maker_id, maker) = finance(&app).await;
    let (_, checker) = finance(&app).await;
    let r = request_payout(&app, &maker, &f.grant, 1, "1000", "mc-1").await;
    let id = r.body["id"].as_str().unwrap().to_string();
    for action in ["approve", "reject"] {
        let r = app
            .post(
                &format!("/payouts/{id}/{action}"),
                Some(&maker),
                json!({"reason": "自己审批"}),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (403, "self_approval_forbidden"),
            "{action}"
        );
    }
    let r = app
        .post(&format!("/payouts/{id}/approve"), Some(&f.admin), json!({}))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (403, "forbidden"),
        "admins do not approve payouts"
    );
    let r = app
        .post(
            &format!("/payouts/{id}/paid"),
            Some(&checker),
            json!({"bank_reference": "X", "value_date": chrono::Utc::now().date_naive().to_string()}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (409, "invalid_state"),
        "no payment without approval"
    );
    let r = app
        .post(
            &format!("/payouts/{id}/paid"),
            Some(&checker),
            json!({"bank_reference": "X", "value_date": "2099-01-01"}),
        )
        .await;
    assert_eq!(
        r.rules(),
        vec!["range"],
        "a payment is not recorded ahead of its value date"
    );

    // Going around the service: the database refuses a self-approval too.
    let mut conn = app.db.conn().await.unwrap();
    let err = diesel::sql_query(
        "UPDATE payouts SET status = 'approved', approved_by = requested_by, approved_at = now() WHERE id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(Uuid::parse_str(&id).unwrap())
    .execute(&mut conn)
    .await
    .expect_err("the CHECK refuses it");
    assert!(err.to_string().contains("payouts_maker_checker"), "{err}");
    // And a payout past the tranche, inserted by hand, breaks the maintained totals' CHECK.
    let err = diesel::sql_query(
        "INSERT INTO payouts (id, grant_id, tranche_id, amount, requested_by)
         SELECT gen_random_uuid(), grant_id, id, 49000.01, $2 FROM tranches WHERE grant_id = $1 AND number = 1",
    )
    .bind::<diesel::sql_types::Uuid, _>(Uuid::parse_str(&f.grant).unwrap())
    .bind::<diesel::sql_types::Uuid, _>(maker_id)
    .execute(&mut conn)
    .await
    .expect_err("the tranche CHECK refuses it");
    assert!(err.to_string().contains("tranches_within_amount"), "{err}");

    let r = app
        .post(
            &format!("/payouts/{id}/reject"),
            Some(&checker),
            json!({"reason": "  "}),
        )
        .await;
    assert_eq!(r.status, 422, "a rejection needs a reason");
    let r = app
        .post(
            &format!("/payouts/{id}/reject"),
            Some(&checker),
            json!({"reason": "金额与进度不符"}),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["status"]),
        (200, &json!("rejected")),
        "{}",
        r.body
    );
    assert_eq!(r.body["rejected_reason"], "金额与进度不符");
    let r = app
        .post(&format!("/payouts/{id}/approve"), Some(&checker), json!({}))
        .await;
    assert_eq!((r.status, r.code()), (409, "invalid_state"));
    // A rejected request frees its part of the tranche.
    let r = app
        .get(&format!("/grants/{}", f.grant), Some(&checker))
        .await;
    assert_eq!(r.body["tranches"][0]["available"], "50000.00");
}

#[tokio::test]
async fn concurrent_requests_and_approvals_never_pay_a_fen_over() {
    let app = spawn_app().await;
    let (_, applicant) = app.signed_in(Role::Applicant).await;
    let f = funded_grant(&app, &applicant, "100000", None, None).await;
    milestone(
        &app,
        &f.admin,
        &f.grant,
        json!({"milestone": "agreement_signed"}),
    )
    .await;
    let (_, maker) = finance(&app).await;
    let (_, checker_a) = finance(&app).await;
    let (_, checker_b) = finance(&app).await;
    let app = Arc::new(app);

    // 20 requests of 3000 against a due tranche of 50000: 16 fit (48000), 4 do not.
    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let mut handles = vec![];
    for i in 0..20 {
        let (app, maker, grant, barrier) =
            (app.clone(), maker.clone(), f.grant.clone(), barrier.clone());
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            request_payout(&app, &maker, &grant, 1, "3000", &format!("race-{i}")).await
        }));
    }
    let mut ids = vec![];
    let mut refused = 0;
    for h in handles {
        let r = h.await.unwrap();
        match r.status {
            201 => ids.push(r.body["id"].as_str().unwrap().to_string()),
            422 => {
                assert_eq!(r.rules(), vec!["tranche_limit"]);
                refused += 1;
            }
            other => panic!("unexpected {other}: {}", r.body),
        }
    }
    assert_eq!((ids.len(), refused), (16, 4));
    let (held, committed, _) = sums(&app, &f.grant).await;
    assert_eq!((held, committed), (Decimal::from(48000), Decimal::ZERO));

    // Two checkers approve every request at once, plus a last burst of requests for what is
    // left (2000): each payout is approved once, and one 1500 request at most fits.
    let total = ids.len() * 2 + 6;
    let barrier = Arc::new(tokio::sync::Barrier::new(total));
    let mut handles = vec![];
    for id in &ids {
        for checker in [&checker_a, &checker_b] {
            let (app, checker, id, barrier) =
                (app.clone(), checker.clone(), id.clone(), barrier.clone());
            handles.push(tokio::spawn(async move {
                barrier.wait().await;
                let r = app
                    .post(&format!("/payouts/{id}/approve"), Some(&checker), json!({}))
                    .await;
                ("approve", r)
            }));
        }
    }
    for i in 0..6 {
        let (app, maker, grant, barrier) =
            (app.clone(), maker.clone(), f.grant.clone(), barrier.clone());
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            (
                "request",
                request_payout(&app, &maker, &grant, 1, "1500", &format!("tail-{i}")).await,
            )
        }));
    }
    let (mut approved, mut conflicts, mut requested) = (0, 0, vec![]);
    for h in handles {
        let (what, r) = h.await.unwrap();
        match (what, r.status) {
            ("approve", 200) => approved += 1,
            ("approve", 409) => conflicts += 1,
            ("request", 201) => requested.push(r.body["id"].as_str().unwrap().to_string()),
            ("request", 422) => assert_eq!(r.rules(), vec!["tranche_limit"]),
            (w, s) => panic!("unexpected {w} {s}: {}", r.body),
        }
    }
    assert_eq!(
        (approved, conflicts),
        (16, 16),
        "each payout approved exactly once"
    );
    assert_eq!(requested.len(), 1, "only one 1500 fits in the 2000 left");

    let (held, committed, _) = sums(&app, &f.grant).await;
    assert_eq!(held, Decimal::from(49500));
    assert_eq!(committed, Decimal::from(48000));
    assert!(held <= Decimal::from(50000) && committed <= Decimal::from(100000));
    // The maintained totals agree with the rows.
    let r = app.get(&format!("/grants/{}", f.grant), Some(&maker)).await;
    assert_eq!(r.body["tranches"][0]["approved"], "48000.00");
    assert_eq!(r.body["tranches"][0]["pending"], "1500.00");
    assert_eq!(r.body["tranches"][0]["available"], "500.00");
    assert_eq!(r.body["balance"]["approved"], "48000.00");
    let r = app
        .get("/payouts?status=approved&limit=10", Some(&maker))
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 10);
    assert_eq!(r.body["has_more"], true);
    let next = r.body["next_cursor"].as_str().unwrap().to_string();
    let r = app
        .get(
            &format!("/payouts?status=approved&limit=10&cursor={next}"),
            Some(&maker),
        )
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 6);
}
