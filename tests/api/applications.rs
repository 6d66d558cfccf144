use gongyi::domain::user::Role;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};
use crate::rounds::{open_round, round_body};

pub fn content(title: &str) -> Value {
    json!({
        "title": title,
        "focus_area": "elderly",
        "summary": "为社区独居老人提供助餐、陪伴与健康监测服务",
        "beneficiaries": "玉山镇独居老人",
        "beneficiary_count": 120,
        "start_date": "2026-09-01",
        "end_date": "2027-08-31",
        "requested_grant": "80000.00",
        "co_funding": "20000.00",
        "team": [{"name": "王芳", "role": "项目负责人", "party_member": true}],
        "party_activity_count": 2,
        "party_activity_description": "重温入党誓词、党员志愿服务日",
        "red_project": true
    })
}

/// Budget of 100,000.00 with the given personnel amount; grant 80,000 / self 20,000.
fn budget(personnel: &str) -> Value {
    let p: rust_decimal::Decimal = personnel.parse().unwrap();
    let rest = rust_decimal::Decimal::from(80000) - p;
    json!({"lines": [
        {"category": "personnel", "description": "社工薪酬", "quantity": "1", "unit_cost": personnel, "funded_by": "grant"},
        {"category": "activities", "description": "助餐活动", "quantity": "1", "unit_cost": rest.to_string(), "funded_by": "grant"},
        {"category": "materials", "description": "健康监测设备", "quantity": "4", "unit_cost": "5000", "funded_by": "self"}
    ]})
}

/// A complete draft in the round, ready to submit; returns its id.
pub async fn ready_draft(app: &TestApp, token: &str, round: &str, title: &str) -> String {
    let r = app
        .post(
            &format!("/rounds/{round}/applications"),
            Some(token),
            content(title),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let r = app
        .put(
            &format!("/applications/{id}/budget"),
            Some(token),
            budget("50000.00"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    id
}

#[tokio::test]
async fn quota_of_three_and_withdrawal_frees_a_place() {
    let app = spawn_app().await;
    let (round, admin) = open_round(&app, round_body("venture_philanthropy")).await;
    let (_, applicant) = app.signed_in(Role::Applicant).await;
    let mut ids = vec![];
    for i in 0..4 {
        ids.push(ready_draft(&app, &applicant, &round, &format!("项目 {i}")).await);
    }
    for id in &ids[..3] {
        let r = app
            .post(
                &format!("/applications/{id}/submit"),
                Some(&applicant),
                json!({}),
            )
            .await;
        assert_eq!(
            (r.status, &r.body["status"]),
            (200, &json!("submitted")),
            "{}",
            r.body
        );
    }
    let r = app
        .post(
            &format!("/applications/{}/submit", ids[3]),
            Some(&applicant),
            json!({}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "rule_violation"));
    assert_eq!(r.rules(), vec!["application_quota"]);
    assert_eq!(r.body["violations"][0]["limit"], "3");
    assert_eq!(r.body["violations"][0]["actual"], "4");
    // Submitting twice is a state error, not a second place.
    let r = app
        .post(
            &format!("/applications/{}/submit", ids[0]),
            Some(&applicant),
            json!({}),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "invalid_state"));

    let r = app
        .post(
            &format!("/applications/{}/withdraw", ids[0]),
            Some(&applicant),
            json!({}),
        )
        .await;
    assert_eq!(r.body["status"], "withdrawn");
    let r = app
        .post(
            &format!("/applications/{}/submit", ids[3]),
            Some(&applicant),
            json!({}),
        )
        .await;
    assert_eq!(
        r.status, 200,
        "the withdrawn place is free again: {}",
        r.body
    );

    // Screening by the admin; a submitted application can no longer be edited.
    let r = app
        .post(
            &format!("/applications/{}/screen", ids[1]),
            Some(&admin),
            json!({"eligible": false}),
        )
        .await;
    assert_eq!(r.rules(), vec!["required"]);
    let r = app
        .post(
            &format!("/applications/{}/screen", ids[1]),
            Some(&admin),
            json!({"eligible": false, "reason": "材料不全"}),
        )
        .await;
    assert_eq!((r.status, &r.body["status"]), (200, &json!("ineligible")));
    let r = app
        .post(
            &format!("/applications/{}/screen", ids[2]),
            Some(&admin),
            json!({"eligible": true}),
        )
        .await;
    assert_eq!(r.body["status"], "under_review");
    let r = app
        .post(
            &format!("/applications/{}/screen", ids[2]),
            Some(&applicant),
            json!({"eligible": true}),
        )
        .await;
    assert_eq!(r.status, 403);
    let r = app
        .patch(
            &format!("/applications/{}", ids[2]),
            Some(&applicant),
            json!({"title": "改"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "invalid_state"));
}

#[tokio::test]
async fn personnel_boundary_fifty_percent_passes_fifty_point_zero_one_fails() {
    let app = spawn_app().await;
    let (round, _) = open_round(&app, round_body("venture_philanthropy")).await;
    let (_, applicant) = app.signed_in(Role::Applicant).await;
    let id = ready_draft(&app, &applicant, &round, "边界项目").await;
    app.put(
        &format!("/applications/{id}/budget"),
        Some(&applicant),
        budget("50010.00"),
    )
    .await;
    let r = app
        .post(
            &format!("/applications/{id}/validate"),
            Some(&applicant),
            json!({}),
        )
        .await;
    assert_eq!((r.status, &r.body["valid"]), (200, &json!(false)));
    let v = &r.body["violations"][0];
    assert_eq!(
        (
            v["rule"].as_str(),
            v["limit"].as_str(),
            v["actual"].as_str()
        ),
        (Some("personnel_ratio"), Some("50.00%"), Some("50.01%"))
    );
    let r = app
        .post(
            &format!("/applications/{id}/submit"),
            Some(&applicant),
            json!({}),
        )
        .await;
    assert_eq!(r.rules(), vec!["personnel_ratio"]);
    let r = app
        .get(&format!("/applications/{id}"), Some(&applicant))
        .await;
    assert_eq!(
        r.body["status"], "draft",
        "a refused submission changes nothing"
    );

    let r = app
        .put(
            &format!("/applications/{id}/budget"),
            Some(&applicant),
            budget("50000.00"),
        )
        .await;
    assert_eq!(r.body["budget"]["personnel"], "50000.00");
    assert_eq!(r.body["budget"]["total"], "100000.00");
    let r = app
        .post(
            &format!("/applications/{id}/validate"),
            Some(&applicant),
            json!({}),
        )
        .await;
    assert_eq!(r.body["valid"], true, "{}", r.body);
    let r = app
        .post(
            &format!("/applications/{id}/submit"),
            Some(&applicant),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn budget_amounts_are_computed_and_all_breaches_listed() {
    let app = spawn_app().await;
    let (round, _) = open_round(&app, round_body("venture_philanthropy")).await;
    let (_, applicant) = app.signed_in(Role::Applicant).await;
    let r = app
        .post(
            &format!("/rounds/{round}/applications"),
            Some(&applicant),
            json!({"title": "空项目", "focus_area": "children"}),
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let r = app.put(&format!("/applications/{id}/budget"), Some(&applicant), json!({"lines": [
        {"category": "materials", "description": "文具", "quantity": "3", "unit_cost": "33.33", "funded_by": "grant"},
        {"category": "venue", "description": "场地", "quantity": "0.5", "unit_cost": "0.05", "funded_by": "self"}]})).await;
    assert_eq!(r.body["budget"]["lines"][0]["amount"], "99.99");
    assert_eq!(
        r.body["budget"]["lines"][1]["amount"], "0.03",
        "half-up to the fen"
    );
    assert_eq!(r.body["budget"]["total"], "100.02");
    let r = app.put(&format!("/applications/{id}/budget"), Some(&applicant), json!({"lines": [
        {"category": "materials", "description": "文具", "quantity": "3", "unit_cost": "-1", "funded_by": "grant"}]})).await;
    assert_eq!(r.status, 422);
    let r = app.put(&format!("/applications/{id}/budget"), Some(&applicant), json!({"lines": [
        {"category": "materials", "description": "文具", "quantity": "3", "unit_cost": "1.001", "funded_by": "grant"}]})).await;
    assert_eq!(r.status, 422);
    let r = app
        .put(
            &format!("/applications/{id}/budget"),
            Some(&applicant),
            json!({"lines": []}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .post(
            &format!("/applications/{id}/submit"),
            Some(&applicant),
            json!({}),
        )
        .await;
    let rules = r.rules();
    for rule in ["budget_not_empty", "grant_range", "project_dates"] {
        assert!(
            rules.contains(&rule.to_string()),
            "{rule} missing from {rules:?}"
        );
    }
    // Unknown focus area.
    let r = app
        .patch(
            &format!("/applications/{id}"),
            Some(&applicant),
            json!({"focus_area": "space travel"}),
        )
        .await;
    assert_eq!(r.rules(), vec!["focus_area"]);
}

#[tokio::test]
async fn rating_below_the_rounds_minimum_is_refused() {
    let app = spawn_app().await;
    let (round, admin) = open_round(&app, round_body("government_purchase")).await;
    let (_, applicant) = app.signed_in(Role::Applicant).await;
    let me = app.get("/me", Some(&applicant)).await;
    let org = me.body["organization_id"].as_str().unwrap().to_string();
    let r = app
        .patch(
            &format!("/organizations/{org}"),
            Some(&admin),
            json!({"rating": "2A"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let id = ready_draft(&app, &applicant, &round, "政府购买项目").await;
    let r = app
        .post(
            &format!("/applications/{id}/submit"),
            Some(&applicant),
            json!({}),
        )
        .await;
    assert_eq!(r.rules(), vec!["min_rating"]);
    assert_eq!(r.body["violations"][0]["limit"], "3A");
    assert_eq!(r.body["violations"][0]["actual"], "2A");
    // Blacklisted organizations are refused too.
    app.patch(&format!("/organizations/{org}"), Some(&admin), json!({"rating": "3A", "blacklisted_until": "2099-01-01", "blacklist_reason": "中期评估不合格"})).await;
    let r = app
        .post(
            &format!("/applications/{id}/submit"),
            Some(&applicant),
            json!({}),
        )
        .await;
    assert_eq!(r.rules(), vec!["not_blacklisted"]);
}

#[tokio::test]
async fn applicants_see_only_their_own_applications() {
    let app = spawn_app().await;
    let (round, admin) = open_round(&app, round_body("venture_philanthropy")).await;
    let (_, mine) = app.signed_in(Role::Applicant).await;
    let (_, other) = app.signed_in(Role::Applicant).await;
    let id = ready_draft(&app, &mine, &round, "我的项目").await;
    for (path, method) in [
        (format!("/applications/{id}"), "get"),
        (format!("/applications/{id}/submit"), "post"),
        (format!("/applications/{id}/validate"), "post"),
    ] {
        let r = if method == "get" {
            app.get(&path, Some(&other)).await
        } else {
            app.post(&path, Some(&other), json!({})).await
        };
        assert_eq!((r.status, r.code()), (404, "not_found"), "{path}");
    }
    let r = app
        .put(
            &format!("/applications/{id}/budget"),
            Some(&other),
            budget("1"),
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        app.get("/applications", Some(&other)).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        app.get("/applications", Some(&mine)).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let all = app
        .get(
            &format!("/applications?round_id={round}&status=draft"),
            Some(&admin),
        )
        .await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 1);
    let (_, reviewer) = app.signed_in(Role::Reviewer).await;
    assert_eq!(
        app.get("/applications", Some(&reviewer)).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        app.get(&format!("/applications/{id}"), Some(&reviewer))
            .await
            .status,
        403
    );
    // A closed round takes no new drafts.
    app.post(&format!("/rounds/{round}/close"), Some(&admin), json!({}))
        .await;
    let r = app
        .post(
            &format!("/rounds/{round}/applications"),
            Some(&mine),
            content("迟到"),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "invalid_state"));
}

#[tokio::test]
async fn twenty_concurrent_submissions_exactly_three_succeed() {
    let app = spawn_app().await;
    let (round, _) = open_round(&app, round_body("venture_philanthropy")).await;
    let (_, applicant) = app.signed_in(Role::Applicant).await;
    let mut ids = vec![];
    for i in 0..20 {
        ids.push(ready_draft(&app, &applicant, &round, &format!("并发 {i}")).await);
    }
    let app = std::sync::Arc::new(app);
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(ids.len()));
    let mut handles = vec![];
    for id in ids {
        let (app, token, barrier) = (app.clone(), applicant.clone(), barrier.clone());
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            app.post(
                &format!("/applications/{id}/submit"),
                Some(&token),
                json!({}),
            )
            .await
        }));
    }
    let mut ok = 0;
    for h in handles {
        let r = h.await.unwrap();
        match r.status {
            200 => ok += 1,
            422 => assert_eq!(r.rules(), vec!["application_quota"]),
            other => panic!("unexpected {other}: {}", r.body),
        }
    }
    assert_eq!(ok, 3, "exactly the quota succeeds");
    let submitted = app
        .get("/applications?status=submitted&limit=200", Some(&applicant))
        .await;
    assert_eq!(submitted.body["items"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn second_year_links_to_a_funded_project_of_the_same_organization() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use gongyi::storage::schema::applications;

    let app = spawn_app().await;
    let (first_round, _) = open_round(&app, round_body("venture_philanthropy")).await;
    let (second_round, _) = open_round(&app, round_body("venture_philanthropy")).await;
    let (_, applicant) = app.signed_in(Role::Applicant).await;
    let (_, stranger) = app.signed_in(Role::Applicant).await;
    let first = ready_draft(&app, &applicant, &first_round, "第一年").await;
    let theirs = ready_draft(&app, &stranger, &first_round, "别人的第一年").await;

    let mut body = content("第二年");
    body["previous_application_id"] = json!(first);
    let r = app
        .post(
            &format!("/rounds/{second_round}/applications"),
            Some(&applicant),
            body.clone(),
        )
        .await;
    assert_eq!(
        r.rules(),
        vec!["continuation"],
        "a draft is not a funded project"
    );

    // Mark both first-year projects funded (the award flow comes with the review issue).
    let mut conn = app.db.conn().await.unwrap();
    for id in [&first, &theirs] {
        diesel::update(applications::table.find(uuid::Uuid::parse_str(id).unwrap()))
            .set(applications::status.eq("approved"))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let r = app
        .post(
            &format!("/rounds/{second_round}/applications"),
            Some(&applicant),
            body,
        )
        .await;
    assert_eq!(
        (r.status, &r.body["previous_application_id"]),
        (201, &json!(first)),
        "{}",
        r.body
    );

    let mut body = content("冒名第二年");
    body["previous_application_id"] = json!(theirs);
    let r = app
        .post(
            &format!("/rounds/{second_round}/applications"),
            Some(&applicant),
            body,
        )
        .await;
    assert_eq!(
        r.rules(),
        vec!["continuation"],
        "another organization's project cannot be continued"
    );
}

#[tokio::test]
async fn startup_support_checks_age_and_assessment() {
    let app = spawn_app().await;
    let (round, admin) = open_round(&app, round_body("startup_support")).await;
    let (_, applicant) = app.signed_in(Role::Applicant).await;
    let org = app.get("/me", Some(&applicant)).await.body["organization_id"]
        .as_str()
        .unwrap()
        .to_string();
    let young = (chrono::Utc::now().date_naive() - chrono::Duration::days(200)).to_string();
    let r = app
        .patch(
            &format!("/organizations/{org}"),
            Some(&admin),
            json!({"registration_date": young, "party_assessment": "not_assessed"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = ready_draft(&app, &applicant, &round, "初创扶持").await;
    let r = app
        .post(
            &format!("/applications/{id}/submit"),
            Some(&applicant),
            json!({}),
        )
        .await;
    assert_eq!(r.rules(), vec!["organization_age", "assessment_passed"]);
}
