use gongyi::domain::user::Role;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

pub fn round_body(kind: &str) -> Value {
    let now = chrono::Utc::now();
    json!({
        "name": "昆山市第七届公益创投",
        "year": 2026,
        "kind": kind,
        "total_pool": "1000000.00",
        "grant_min": "10000",
        "grant_max": "200000",
        "opens_at": (now - chrono::Duration::days(1)).to_rfc3339(),
        "closes_at": (now + chrono::Duration::days(30)).to_rfc3339(),
        "focus_areas": ["elderly", "children", "waste_sorting"]
    })
}

/// An open round of the kind, created and opened by a fresh admin; returns (round id, admin token).
pub async fn open_round(app: &TestApp, body: Value) -> (String, String) {
    let (_, admin) = app.signed_in(Role::Admin).await;
    let r = app.post("/rounds", Some(&admin), body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let r = app
        .post(&format!("/rounds/{id}/open"), Some(&admin), json!({}))
        .await;
    assert_eq!(
        (r.status, &r.body["status"]),
        (200, &json!("open")),
        "{}",
        r.body
    );
    (id, admin)
}

#[tokio::test]
async fn rounds_take_defaults_by_kind_and_validate_everything() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let r = app
        .post("/rounds", Some(&admin), round_body("government_purchase"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["status"], "draft");
    assert_eq!(r.body["rules"]["min_rating"], "3A");
    assert_eq!(r.body["rules"]["max_applications_per_organization"], 3);
    assert_eq!(r.body["rules"]["max_personnel_ratio"], "0.50");
    assert_eq!(r.body["rubric"]["criteria"].as_array().unwrap().len(), 6);
    assert_eq!(r.body["tranche_schedule"][0]["percent"], "50");
    assert_eq!(r.body["total_pool"], "1000000.00");

    let mut body = round_body("startup_support");
    body["rules"] = json!({"max_applications_per_organization": 1});
    let r = app.post("/rounds", Some(&admin), body).await;
    assert_eq!(r.body["rules"]["max_applications_per_organization"], 1);
    assert_eq!(r.body["rules"]["min_organization_age_months"], 12);

    // Every problem at once: rubric total, two party criteria, tranche total, range.
    let mut body = round_body("venture_philanthropy");
    body["grant_min"] = json!("300000");
    body["rubric"] = json!({"total": "100", "score_step": "0.5", "criteria": [
        {"key": "a", "name": "A", "max": "50", "party_element": true},
        {"key": "b", "name": "B", "max": "40", "party_element": true}]});
    body["tranche_schedule"] = json!([{"percent": "60", "milestone": "agreement_signed"}, {"percent": "30", "milestone": "final_evaluation"}]);
    let r = app.post("/rounds", Some(&admin), body).await;
    assert_eq!((r.status, r.code()), (422, "validation_failed"));
    let rules = r.rules();
    for rule in [
        "grant_range",
        "rubric_total",
        "rubric_party_element",
        "tranche_total",
    ] {
        assert!(
            rules.contains(&rule.to_string()),
            "{rule} missing in {rules:?}"
        );
    }
    // Money as a JSON number is refused.
    let mut body = round_body("venture_philanthropy");
    body["total_pool"] = json!(1000000.5);
    let r = app.post("/rounds", Some(&admin), body).await;
    assert_eq!((r.status, r.code()), (422, "validation_failed"));
    assert_eq!(r.body["violations"][0]["field"], "total_pool");
    let mut body = round_body("venture_philanthropy");
    body["rules"] = json!({"colour": "red"});
    assert_eq!(app.post("/rounds", Some(&admin), body).await.status, 422);
}

#[tokio::test]
async fn drafts_are_admin_only_and_frozen_once_open() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let (_, applicant) = app.signed_in(Role::Applicant).await;
    let r = app
        .post(
            "/rounds",
            Some(&applicant),
            round_body("venture_philanthropy"),
        )
        .await;
    assert_eq!(r.status, 403);
    let r = app
        .post("/rounds", Some(&admin), round_body("venture_philanthropy"))
        .await;
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.get(&format!("/rounds/{id}"), Some(&applicant))
            .await
            .status,
        404
    );
    assert_eq!(
        app.get("/rounds", Some(&applicant)).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    let r = app
        .patch(
            &format!("/rounds/{id}"),
            Some(&admin),
            json!({"rules": {"max_personnel_ratio": "0.40"}}),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["rules"]["max_personnel_ratio"]),
        (200, &json!("0.40"))
    );
    assert_eq!(
        app.post(&format!("/rounds/{id}/close"), Some(&admin), json!({}))
            .await
            .code(),
        "invalid_state"
    );
    assert_eq!(
        app.post(&format!("/rounds/{id}/open"), Some(&admin), json!({}))
            .await
            .status,
        200
    );
    let r = app.get(&format!("/rounds/{id}"), Some(&applicant)).await;
    assert_eq!(
        (r.status, &r.body["accepting_submissions"]),
        (200, &json!(true))
    );
    let r = app
        .patch(
            &format!("/rounds/{id}"),
            Some(&admin),
            json!({"name": "改名"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "invalid_state"));
    assert_eq!(
        app.post(&format!("/rounds/{id}/open"), Some(&admin), json!({}))
            .await
            .status,
        409
    );
    assert_eq!(
        app.post(&format!("/rounds/{id}/close"), Some(&admin), json!({}))
            .await
            .status,
        200
    );
}
