//! Hostile input: numbers past every bound are refused where they are parsed (422 naming the
//! bound, never a dropped connection), the OpenAPI document states the bounds, and a panic
//! that remains answers its own request 500 while the worker serves the others.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use gongyi::domain::user::Role;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with_routes, Resp, TestApp};
use crate::rounds::{open_round, round_body};

const DECIMAL_MAX: &str = "79228162514264337593543950335";

fn violation(r: &Resp) -> &Value {
    assert_eq!(
        (r.status, r.code()),
        (422, "validation_failed"),
        "{}",
        r.body
    );
    &r.body["violations"][0]
}

async fn draft(app: &TestApp) -> (String, String) {
    let (round, _) = open_round(app, round_body("venture_philanthropy")).await;
    let (_, applicant) = app.signed_in(Role::Applicant).await;
    let r = app
        .post(
            &format!("/rounds/{round}/applications"),
            Some(&applicant),
            json!({"title": "项目", "focus_area": "children"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    (r.body["id"].as_str().unwrap().to_string(), applicant)
}

#[tokio::test]
async fn an_overflowing_budget_line_is_refused_not_a_dropped_connection() {
    let app = spawn_app().await;
    let (id, applicant) = draft(&app).await;
    let line = |quantity: &str, unit_cost: &str| {
        json!({"lines": [{"category": "personnel", "description": "x", "quantity": quantity,
                          "unit_cost": unit_cost, "funded_by": "grant"}]})
    };
    let path = format!("/applications/{id}/budget");
    // The example of the report: the product once overflowed Decimal inside the handler.
    let r = app
        .put(
            &path,
            Some(&applicant),
            line("99999999999999999999", "99999999999999.99"),
        )
        .await;
    let v = violation(&r);
    assert_eq!(v["field"], "lines[0].quantity", "{}", r.body);
    assert_eq!(v["rule"], "range");
    assert_eq!(v["limit"], "(0, 10000000]");
    // Each side alone.
    let r = app
        .put(&path, Some(&applicant), line("1", "99999999999999.99"))
        .await;
    let v = violation(&r);
    assert_eq!(
        (&v["field"], &v["rule"], &v["limit"]),
        (
            &json!("lines[0].unit_cost"),
            &json!("range"),
            &json!("0..999999999999.99")
        ),
        "{}",
        r.body
    );
    // At the bounds, each line fits but their product passes the line limit: refused by rule.
    let r = app
        .put(&path, Some(&applicant), line("10000000", "999999999999.99"))
        .await;
    let v = violation(&r);
    assert_eq!(
        (&v["rule"], &v["field"]),
        (&json!("amount"), &json!("lines[0]"))
    );
    // Many lines each within the line limit whose total passes the money bound.
    let lines: Vec<Value> = (0..20)
        .map(|_| {
            json!({"category": "activities", "description": "x", "quantity": "1",
                        "unit_cost": "99999999999.99", "funded_by": "grant"})
        })
        .collect();
    let r = app
        .put(&path, Some(&applicant), json!({ "lines": lines }))
        .await;
    let v = violation(&r);
    assert_eq!(
        (&v["rule"], &v["field"]),
        (&json!("range"), &json!("lines"))
    );
    // Nothing was changed by any of them; the largest valid line is taken.
    let r = app
        .get(&format!("/applications/{id}"), Some(&applicant))
        .await;
    assert_eq!(r.body["budget"]["total"], "0.00", "{}", r.body);
    let r = app
        .put(&path, Some(&applicant), line("1", "99999999999.99"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["budget"]["total"], "99999999999.99");
}

#[tokio::test]
async fn money_strings_are_strict() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    for (value, rule) in [
        (json!(" 100.00"), "money_format"),
        (json!("100.00 "), "money_format"),
        (json!("1e5"), "money_format"),
        (json!("-1"), "money_format"),
        (json!("1.001"), "money_format"),
        (json!("1_000"), "money_format"),
        (json!("+100"), "money_format"),
        (json!(100), "money_format"),
        (json!(100.5), "money_format"),
        (json!("1000000000000"), "range"),
        (json!(DECIMAL_MAX), "range"),
    ] {
        let mut body = round_body("venture_philanthropy");
        body["total_pool"] = value.clone();
        let r = app.post("/rounds", Some(&admin), body).await;
        let v = violation(&r);
        assert_eq!(
            (&v["rule"], &v["field"]),
            (&json!(rule), &json!("total_pool")),
            "{value}: {}",
            r.body
        );
        assert!(v["limit"].is_string(), "the bound is named: {}", r.body);
    }
    // The largest amount is accepted and comes back as written.
    let mut body = round_body("venture_philanthropy");
    body["total_pool"] = json!("999999999999.99");
    let r = app.post("/rounds", Some(&admin), body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["total_pool"], "999999999999.99");
}

#[tokio::test]
async fn rubric_points_and_rules_past_their_bounds_are_refused() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let post = |body: Value| app.post("/rounds", Some(&admin), body);
    // A criterion maximum of Decimal::MAX once overflowed the sum of the maxima.
    let mut body = round_body("venture_philanthropy");
    body["rubric"] = json!({"total": "100", "score_step": "0.5", "criteria": [
        {"key": "a", "name": "A", "max": DECIMAL_MAX, "party_element": true},
        {"key": "b", "name": "B", "max": DECIMAL_MAX}]});
    let r = post(body).await;
    let v = violation(&r);
    assert_eq!(
        (&v["rule"], &v["field"], &v["limit"]),
        (
            &json!("range"),
            &json!("rubric.criteria[0].max"),
            &json!("0..1000")
        ),
        "{}",
        r.body
    );
    // Party points near Decimal::MAX were accepted (201) and overflowed when added up later.
    let mut body = round_body("venture_philanthropy");
    body["party_points"] = json!({"independent_branch": DECIMAL_MAX, "joint_branch": "4",
        "instructor_only": "2", "none": "0", "party_member_on_team": DECIMAL_MAX,
        "party_activity_planned": "2", "red_project": "1", "max_objective": "10"});
    let r = post(body).await;
    let v = violation(&r);
    assert_eq!(
        (&v["rule"], &v["field"], &v["limit"]),
        (
            &json!("range"),
            &json!("party_points.independent_branch"),
            &json!("0..100")
        ),
        "{}",
        r.body
    );
    for (rules, field, rule) in [
        (
            json!({"max_personnel_ratio": "1.5"}),
            "rules.max_personnel_ratio",
            "range",
        ),
        (
            json!({"max_personnel_ratio": 0.5}),
            "rules.max_personnel_ratio",
            "decimal_format",
        ),
        (
            json!({"min_co_funding_ratio": "0.00001"}),
            "rules.min_co_funding_ratio",
            "decimal_format",
        ),
        (
            json!({"pass_mark": DECIMAL_MAX}),
            "rules.pass_mark",
            "range",
        ),
        (
            json!({"evaluation_pass_mark": "100.01"}),
            "rules.evaluation_pass_mark",
            "range",
        ),
        (
            json!({"max_applications_per_organization": 4_000_000_000u32}),
            "rules.max_applications_per_organization",
            "range",
        ),
        (
            json!({"min_organization_age_months": 4_000_000_000u32}),
            "rules.min_organization_age_months",
            "range",
        ),
        (
            json!({"public_notice_days": 4_000_000_000u32}),
            "rules.public_notice_days",
            "range",
        ),
    ] {
        let mut body = round_body("venture_philanthropy");
        body["rules"] = rules.clone();
        let r = post(body).await;
        assert_eq!(
            (r.status, r.code()),
            (422, "validation_failed"),
            "{rules}: {}",
            r.body
        );
        assert!(
            r.body["violations"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v["field"] == field && v["rule"] == rule && v["limit"].is_string()),
            "{rules}: {}",
            r.body
        );
    }
    let mut body = round_body("venture_philanthropy");
    body["tranche_schedule"] = json!([{"percent": DECIMAL_MAX, "milestone": "agreement_signed"},
        {"percent": "100", "milestone": "final_evaluation"}]);
    let r = post(body).await;
    let v = violation(&r);
    assert_eq!(
        (&v["rule"], &v["field"]),
        (&json!("range"), &json!("tranche_schedule[0].percent")),
        "{}",
        r.body
    );
    // Nothing was created by any of them.
    let r = app.get("/rounds", Some(&admin)).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0, "{}", r.body);
}

#[tokio::test]
async fn the_openapi_document_states_the_bounds() {
    let app = spawn_app().await;
    let doc = app.get("/openapi.json", None).await.body;
    let schemas = &doc["components"]["schemas"];
    let money = &schemas["Money"];
    assert_eq!(money["pattern"], r"^[0-9]{1,12}(\.[0-9]{1,2})?$", "{money}");
    assert_eq!(money["maxLength"], 15);
    let quantity = &schemas["BudgetLineInput"]["properties"]["quantity"];
    assert_eq!(
        quantity["pattern"], r"^[0-9]{1,8}(\.[0-9]{1,2})?$",
        "{quantity}"
    );
    assert!(quantity["description"]
        .as_str()
        .unwrap()
        .contains("up to 10000000"));
    let max = &schemas["Criterion"]["properties"]["max"];
    assert_eq!(max["maxLength"], 7, "{max}");
    let points = &schemas["PartyPointsTable"]["properties"]["independent_branch"];
    assert_eq!(
        points["pattern"], r"^[0-9]{1,3}(\.[0-9]{1,2})?$",
        "{points}"
    );
    let rules = &schemas["RoundRules"]["properties"];
    assert_eq!(
        rules["max_personnel_ratio"]["pattern"],
        r"^[0-9]{1,1}(\.[0-9]{1,4})?$"
    );
    assert_eq!(rules["min_reviewers"]["maximum"], 50);
    assert_eq!(rules["public_notice_days"]["maximum"], 60);
    let sheet = &schemas["ScoresInput"]["properties"]["scores"];
    assert_eq!(sheet["additionalProperties"]["maxLength"], 7, "{sheet}");
}

/// Routes that exist only in this test's server: one that panics, one that takes a while.
fn panic_routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/test/panic",
        web::get().to(|| async {
            let empty: Vec<u8> = std::hint::black_box(Vec::new());
            HttpResponse::Ok().body(empty[1].to_string())
        }),
    )
    .route(
        "/test/slow",
        web::get().to(|| async {
            tokio::time::sleep(Duration::from_millis(800)).await;
            HttpResponse::Ok().body("slow done")
        }),
    );
}

#[tokio::test]
async fn a_panic_answers_500_and_the_worker_keeps_serving_the_others() {
    // One worker: the panicking requests and the slow ones are all on the same thread.
    let app = spawn_app_with_routes(|s| s.application.workers = 1, panic_routes).await;
    let client = reqwest::Client::new();
    let slow: Vec<_> = (0..4)
        .map(|_| {
            let c = client.clone();
            let url = format!("{}/test/slow", app.address);
            tokio::spawn(async move { c.get(url).send().await })
        })
        .collect();
    // Let the slow ones reach their handler before the panics.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..3 {
        let res = client
            .get(format!("{}/test/panic", app.address))
            .send()
            .await
            .expect("the panicking request is answered, not dropped");
        assert_eq!(res.status(), 500);
        assert_eq!(
            res.headers()["content-type"].to_str().unwrap(),
            "application/problem+json"
        );
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "internal_error", "{body}");
        assert!(!body.to_string().contains("index out of bounds"), "{body}");
    }
    for s in slow {
        let res = s.await.unwrap().expect("the in-flight request is answered");
        assert_eq!(res.status(), 200);
        assert_eq!(res.text().await.unwrap(), "slow done");
    }
    // The same client (and its kept-alive connections) goes on being served.
    let res = client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
