//! Spending against the budget: expenditures (who may write and read, money formats, dates,
//! budget lines), the budget execution and its tolerance flag at the boundary, financial
//! reports that freeze spending (and the round setting that makes evaluations wait for them),
//! budget adjustments re-checked against every rule, the ledger's spending side, and
//! expenditure writes racing a report's submission.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use gongyi::domain::user::Role;
use serde_json::{json, Value};

use crate::grants::{finance, funded_grant, milestone, Funded};
use crate::helpers::{spawn_app, Resp, TestApp};
use crate::rounds::round_body;

pub struct Spending {
    pub f: Funded,
    /// An applicant of the grantee organization.
    pub grantee: String,
    /// Budget line ids by category: personnel 50,000 and activities 30,000 (grant), materials
    /// 20,000 (self-funded).
    pub lines: HashMap<String, String>,
}

/// A funded grant (award 80,000.00) of a fresh organization, with its budget lines.
pub async fn spending_grant(app: &TestApp, rules: Option<Value>) -> Spending {
    let (_, grantee) = app.signed_in(Role::Applicant).await;
    let body = rules.map(|r| {
        let mut b = round_body("venture_philanthropy");
        b["rules"] = r;
        b
    });
    let f = funded_grant(app, &grantee, "80000.00", None, body).await;
    let r = app
        .get(
            &format!("/grants/{}/budget-execution", f.grant),
            Some(&grantee),
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
    Spending { f, grantee, lines }
}

pub fn expenditure(category: &str, amount: Value, line: Option<&String>) -> Value {
    json!({
        "category": category,
        "description": "重阳节敬老活动物资",
        "amount": amount,
        "spent_on": "2026-10-15",
        "payee": "昆山市玉山镇某超市",
        "budget_line": line,
    })
}

pub async fn spend(app: &TestApp, token: &str, grant: &str, body: Value) -> Resp {
    app.post(&format!("/grants/{grant}/expenditures"), Some(token), body)
        .await
}

fn category<'a>(execution: &'a Value, name: &str) -> &'a Value {
    execution["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == name)
        .unwrap_or_else(|| panic!("no {name} in {execution}"))
}

fn flags(execution: &Value) -> Vec<String> {
    execution["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn expenditures_are_written_by_the_grantee_and_read_by_admin_finance_and_grantee() {
    let app = spawn_app().await;
    let s = spending_grant(&app, None).await;
    let g = &s.f.grant;
    let (_, other) = app.signed_in(Role::Applicant).await;
    let (_, reviewer) = app.signed_in(Role::Reviewer).await;
    let (_, fin) = finance(&app).await;
    let body = expenditure("activities", json!("1200.50"), Some(&s.lines["activities"]));

    // Writers: the grantee only; another organization does not even see the grant.
    for (who, token, status) in [
        ("admin", &s.f.admin, 403),
        ("finance", &fin, 403),
        ("reviewer", &reviewer, 403),
        ("other applicant", &other, 404),
    ] {
        let r = spend(&app, token, g, body.clone()).await;
        assert_eq!(r.status, status, "{who}: {}", r.body);
    }
    let r = spend(&app, &s.grantee, g, body.clone()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["amount"], "1200.50");
    assert_eq!(r.body["status"], "draft");
    assert_eq!(r.body["budget_line"], s.lines["activities"].as_str());
    let id = r.body["id"].as_str().unwrap().to_string();

    // Money is a strict string: a third fraction digit, a negative, a number, zero.
    for (amount, rule) in [
        (json!("1.001"), "money_format"),
        (json!("-1.00"), "money_format"),
        (json!(12.5), "money_format"),
        (json!("0.00"), "range"),
        (json!("1000000000000.00"), "range"),
    ] {
        let r = spend(
            &app,
            &s.grantee,
            g,
            expenditure("activities", amount.clone(), None),
        )
        .await;
        assert_eq!(
            (r.status, r.code()),
            (422, "validation_failed"),
            "{amount}: {}",
            r.body
        );
        assert_eq!(r.rules(), vec![rule], "{amount}");
        assert_eq!(r.body["violations"][0]["field"], "amount");
    }
    // Dates: within the project (2026-09-01 .. 2027-08-31), not in the future.
    let mut early = expenditure("activities", json!("10"), None);
    early["spent_on"] = json!("2026-08-31");
    let mut future = expenditure("activities", json!("10"), None);
    future["spent_on"] =
        json!((chrono::Utc::now().date_naive() + chrono::Days::new(2)).to_string());
    let mut wrong_line = expenditure("personnel", json!("10"), Some(&s.lines["activities"]));
    wrong_line["payee"] = json!(" ");
    for (b, rules) in [
        (early, vec!["project_dates"]),
        (future, vec!["not_in_future"]),
        (wrong_line, vec!["length", "budget_line_category"]),
        (
            expenditure(
                "activities",
                json!("10"),
                Some(&uuid::Uuid::new_v4().to_string()),
            ),
            vec!["budget_line"],
        ),
    ] {
        let r = spend(&app, &s.grantee, g, b).await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert_eq!(r.rules(), rules, "{}", r.body);
    }
    let r = spend(
        &app,
        &s.grantee,
        g,
        expenditure("fireworks", json!("10"), None),
    )
    .await;
    assert_eq!(r.status, 422);

    // Readers.
    let r = spend(
        &app,
        &s.grantee,
        g,
        expenditure("personnel", json!("3000"), None),
    )
    .await;
    assert_eq!(r.status, 201);
    let path = format!("/grants/{g}/expenditures");
    for token in [&s.f.admin, &fin, &s.grantee] {
        let r = app.get(&path, Some(token)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    }
    assert_eq!(app.get(&path, Some(&other)).await.status, 404);
    assert_eq!(app.get(&path, Some(&reviewer)).await.status, 403);
    assert_eq!(app.get(&path, None).await.status, 401);
    let one = format!("/expenditures/{id}");
    assert_eq!(app.get(&one, Some(&fin)).await.status, 200);
    assert_eq!(app.get(&one, Some(&other)).await.status, 404);
    // Filters and keyset pages.
    let r = app
        .get(&format!("{path}?category=personnel"), Some(&fin))
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["items"][0]["amount"], "3000.00");
    let r = app
        .get(&format!("{path}?status=reported"), Some(&fin))
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0);
    let r = app.get(&format!("{path}?limit=1"), Some(&fin)).await;
    assert_eq!(r.body["has_more"], true);
    assert_eq!(r.body["items"][0]["id"], id.as_str());
    let cursor = r.body["next_cursor"].as_str().unwrap();
    let r = app
        .get(&format!("{path}?limit=1&cursor={cursor}"), Some(&fin))
        .await;
    assert_eq!(r.body["has_more"], false);
    assert_eq!(r.body["items"][0]["amount"], "3000.00");
    assert_eq!(
        app.get(&format!("{path}?bogus=1"), Some(&fin)).await.status,
        400
    );

    // Corrections and deletion of drafts: the grantee only.
    let r = app
        .patch(&one, Some(&other), json!({"amount": "1300.00"}))
        .await;
    assert_eq!(r.status, 404);
    let r = app
        .patch(&one, Some(&s.f.admin), json!({"amount": "1300.00"}))
        .await;
    assert_eq!(r.status, 403);
    let r = app
        .patch(&one, Some(&s.grantee), json!({"amount": "1.001"}))
        .await;
    assert_eq!(r.status, 422);
    let r = app
        .patch(
            &one,
            Some(&s.grantee),
            json!({"amount": "1300.00", "budget_line": null}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["amount"], "1300.00");
    assert_eq!(r.body["budget_line"], Value::Null);
    assert_eq!(r.body["description"], "重阳节敬老活动物资");
    assert_eq!(app.delete(&one, Some(&other)).await.status, 404);
    assert_eq!(app.delete(&one, Some(&s.grantee)).await.status, 204);
    assert_eq!(app.get(&one, Some(&s.grantee)).await.status, 404);

    // Every change is in the audit trail.
    let mut conn = app.db.conn().await.unwrap();
    use gongyi::storage::schema::audit_events::dsl as a;
    let actions: Vec<String> = a::audit_events
        .filter(a::entity_type.eq("expenditure"))
        .order(a::id)
        .select(a::action)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        actions,
        [
            "expenditure.created",
            "expenditure.created",
            "expenditure.updated",
            "expenditure.deleted"
        ]
    );
}

#[tokio::test]
async fn the_tolerance_flag_is_exact_and_an_approved_adjustment_clears_it() {
    let app = spawn_app().await;
    let s = spending_grant(&app, None).await;
    let g = &s.f.grant;
    let exec = format!("/grants/{g}/budget-execution");
    // Activities: budget 30,000.00; 10.00% over is 33,000.00, not flagged.
    let r = spend(
        &app,
        &s.grantee,
        g,
        expenditure(
            "activities",
            json!("33000.00"),
            Some(&s.lines["activities"]),
        ),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let e = app.get(&exec, Some(&s.f.admin)).await.body;
    assert_eq!(e["tolerance_percent"], "10.00");
    let c = category(&e, "activities");
    assert_eq!(
        (
            &c["budget"],
            &c["spent"],
            &c["remaining"],
            &c["percent_spent"]
        ),
        (
            &json!("30000.00"),
            &json!("33000.00"),
            &json!("-3000.00"),
            &json!("110.00")
        )
    );
    assert_eq!(c["over_tolerance"], false);
    assert!(!flags(&e).contains(&"category_over_budget".to_string()));
    // Nothing paid in yet: 33,000 is above paid in (0) + self-funded (20,000).
    assert!(flags(&e).contains(&"spent_above_funds".to_string()));
    assert_eq!(e["funds"]["available"], "20000.00");
    let line = e["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["category"] == "activities")
        .unwrap();
    assert_eq!(line["spent"], "33000.00");

    // 10.01% over (33,003.00): flagged.
    let r = app
        .patch(
            &format!("/expenditures/{id}"),
            Some(&s.grantee),
            json!({"amount": "33003.00"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let e = app.get(&exec, Some(&s.grantee)).await.body;
    let c = category(&e, "activities");
    assert_eq!(
        (&c["over_tolerance"], &c["percent_spent"]),
        (&json!(true), &json!("110.01"))
    );
    let flag = e["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "category_over_budget")
        .unwrap();
    assert_eq!(
        (&flag["limit"], &flag["actual"]),
        (&json!("33000.00"), &json!("33003.00"))
    );

    // Personnel share of spending: 33,003 activities + 33,004 personnel is over 50%.
    let r = spend(
        &app,
        &s.grantee,
        g,
        expenditure("personnel", json!("33004.00"), Some(&s.lines["personnel"])),
    )
    .await;
    assert_eq!(r.status, 201);
    let e = app.get(&exec, Some(&s.grantee)).await.body;
    assert_eq!(e["personnel"]["over_limit"], true, "{e}");
    assert_eq!(e["personnel"]["limit_percent"], "50.00");
    assert!(flags(&e).contains(&"personnel_ratio".to_string()));
    let r = app
        .delete(
            &format!("/expenditures/{}", r.body["id"].as_str().unwrap()),
            Some(&s.grantee),
        )
        .await;
    assert_eq!(r.status, 204);

    // An approved adjustment moving 10,000 from personnel to activities clears the flag.
    let r = app
        .post(
            &format!("/grants/{g}/budget-adjustments"),
            Some(&s.grantee),
            json!({"reason": "敬老活动规模扩大", "moves": [
                {"from_line": s.lines["personnel"], "to_line": s.lines["activities"], "amount": "10000.00"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let adj = r.body["id"].as_str().unwrap().to_string();
    let (_, other_admin) = app.signed_in(Role::Admin).await;
    let r = app
        .post(
            &format!("/budget-adjustments/{adj}/approve"),
            Some(&other_admin),
            json!({}),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["version"]),
        (200, &json!(2)),
        "{}",
        r.body
    );
    let e = app.get(&exec, Some(&s.grantee)).await.body;
    assert_eq!(e["budget_version"], 2);
    let c = category(&e, "activities");
    assert_eq!(
        (&c["budget"], &c["over_tolerance"]),
        (&json!("40000.00"), &json!(false))
    );
    assert_eq!(category(&e, "personnel")["budget"], "40000.00");
    assert!(!flags(&e).contains(&"category_over_budget".to_string()));

    // The ledger's spending side: per category budget and spent, per grant paid in.
    let (_, fin) = finance(&app).await;
    let res = app
        .client
        .get(app.url(&format!("/grants/{g}/ledger.csv")))
        .bearer_auth(&fin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let (_, spending) = text.split_once("\r\n\r\n").expect("a spending section");
    let rows: Vec<Vec<&str>> = spending
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').collect())
        .collect();
    assert!(rows[0][0].contains("Spending") && rows[0][7].contains("Spent"));
    let act = rows.iter().find(|r| r[4] == "activities").unwrap();
    assert_eq!(
        (act[5], act[7], act[8]),
        ("40000.00", "33003.00", "6997.00")
    );
    let total = rows.iter().find(|r| r[0] == "合计 Total").unwrap();
    assert_eq!(
        (total[5], total[6], total[7]),
        ("100000.00", "0.00", "33003.00")
    );
}

#[tokio::test]
async fn a_report_freezes_the_spending_so_far_and_records_the_party_elements() {
    let app = spawn_app().await;
    let s = spending_grant(&app, None).await;
    let g = &s.f.grant;
    let (_, other) = app.signed_in(Role::Applicant).await;
    let (_, reviewer) = app.signed_in(Role::Reviewer).await;
    let (_, fin) = finance(&app).await;
    let mut ids = vec![];
    for amount in ["800.00", "1200.00"] {
        let r = spend(
            &app,
            &s.grantee,
            g,
            expenditure("activities", json!(amount), Some(&s.lines["activities"])),
        )
        .await;
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    let reports = format!("/grants/{g}/financial-reports");
    let body = json!({"period": "mid_term", "note": "中期财务报告", "party": {
        "activities_held": [{"held_on": "2026-10-01", "title": "重温入党誓词", "participants": 15}],
        "party_members_on_team": 1,
        "red_project_delivered": true}});
    for (token, status) in [
        (&s.f.admin, 403),
        (&fin, 403),
        (&reviewer, 403),
        (&other, 404),
    ] {
        assert_eq!(
            app.post(&reports, Some(token), body.clone()).await.status,
            status
        );
    }
    let r = app
        .post(&reports, Some(&s.grantee), json!({"period": "quarterly"}))
        .await;
    assert_eq!(r.status, 422);
    let mut future = body.clone();
    future["party"]["activities_held"][0]["held_on"] = json!("2030-01-01");
    let r = app.post(&reports, Some(&s.grantee), future).await;
    assert_eq!(r.status, 422, "{}", r.body);
    // Counts beyond any project (and beyond the schema's maximum) are refused by field, and
    // the refusal records nothing: the same period is submitted right after.
    let mut crowd = body.clone();
    crowd["party"]["party_members_on_team"] = json!(2_147_483_648u64);
    crowd["party"]["activities_held"][0]["participants"] = json!(10_000_001);
    let r = app.post(&reports, Some(&s.grantee), crowd).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let fields: Vec<&str> = r.body["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "party.activities_held[0].participants",
            "party.party_members_on_team"
        ],
        "{}",
        r.body
    );
    let r = app.post(&reports, Some(&s.grantee), body.clone()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let report = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        (
            &r.body["expenditure_count"],
            &r.body["period_total"],
            &r.body["cumulative_total"]
        ),
        (&json!(2), &json!("2000.00"), &json!("2000.00"))
    );
    assert_eq!(r.body["execution"]["totals"]["spent"], "2000.00");
    // Planned at application: 2 activities, a party member on the team, a red project.
    let party = &r.body["party_elements"];
    assert_eq!(party["planned"]["party_activity_count"], 2);
    assert_eq!(party["planned"]["party_members_on_team"], 1);
    assert_eq!(
        party["gaps"],
        json!([{"element": "party_activities", "planned": "2", "actual": "1"}])
    );

    // Frozen: no correction, no deletion, no new receipt.
    for id in &ids {
        let one = format!("/expenditures/{id}");
        let r = app
            .patch(&one, Some(&s.grantee), json!({"amount": "1.00"}))
            .await;
        assert_eq!((r.status, r.code()), (409, "invalid_state"));
        assert_eq!(app.delete(&one, Some(&s.grantee)).await.status, 409);
        let r = app.get(&one, Some(&s.grantee)).await;
        assert_eq!(
            (&r.body["status"], &r.body["report_id"]),
            (&json!("reported"), &json!(report))
        );
    }
    // The database refuses it too.
    let mut conn = app.db.conn().await.unwrap();
    use gongyi::storage::schema::expenditures::dsl as x;
    let refused =
        diesel::update(x::expenditures.filter(x::id.eq(uuid::Uuid::parse_str(&ids[0]).unwrap())))
            .set(x::amount.eq(rust_decimal::Decimal::ONE))
            .execute(&mut conn)
            .await;
    assert!(refused.is_err(), "the trigger keeps reported expenditures");

    // One report per period; later spending waits for the final one.
    let r = app.post(&reports, Some(&s.grantee), body.clone()).await;
    assert_eq!((r.status, r.code()), (409, "invalid_state"));
    let r = spend(
        &app,
        &s.grantee,
        g,
        expenditure("materials", json!("500.00"), Some(&s.lines["materials"])),
    )
    .await;
    assert_eq!(r.body["status"], "draft");
    let r = app
        .post(&reports, Some(&s.grantee), json!({"period": "final"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        (
            &r.body["expenditure_count"],
            &r.body["period_total"],
            &r.body["cumulative_total"]
        ),
        (&json!(1), &json!("500.00"), &json!("2500.00"))
    );
    assert_eq!(
        r.body["party_elements"]["gaps"].as_array().unwrap().len(),
        3,
        "nothing reported: every element missing"
    );
    let r = app
        .post(&reports, Some(&s.grantee), json!({"period": "mid_term"}))
        .await;
    assert_eq!(r.status, 409);

    // Readers: admin, finance, the grantee.
    for token in [&s.f.admin, &fin, &s.grantee] {
        let r = app.get(&reports, Some(token)).await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 2, "{}", r.body);
        let r = app
            .get(&format!("/financial-reports/{report}"), Some(token))
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["expenditures"].as_array().unwrap().len(), 2);
    }
    assert_eq!(app.get(&reports, Some(&other)).await.status, 404);
    assert_eq!(
        app.get(&format!("/financial-reports/{report}"), Some(&other))
            .await
            .status,
        404
    );
    assert_eq!(app.get(&reports, Some(&reviewer)).await.status, 403);
}

#[tokio::test]
async fn a_round_can_require_the_report_before_each_evaluation() {
    let app = spawn_app().await;
    let s = spending_grant(&app, Some(json!({"require_financial_report": true}))).await;
    let g = &s.f.grant;
    let r = milestone(
        &app,
        &s.f.admin,
        g,
        json!({"milestone": "agreement_signed"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mid = json!({"milestone": "mid_term_evaluation", "score": "80"});
    let r = milestone(&app, &s.f.admin, g, mid.clone()).await;
    assert_eq!((r.status, r.code()), (422, "rule_violation"), "{}", r.body);
    assert_eq!(r.rules(), vec!["financial_report_required"]);
    let r = app.get(&format!("/grants/{g}"), Some(&s.f.admin)).await;
    assert_eq!(
        r.body["next_milestone"], "mid_term_evaluation",
        "nothing changed"
    );
    let r = app
        .post(
            &format!("/grants/{g}/financial-reports"),
            Some(&s.grantee),
            json!({"period": "mid_term"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = milestone(&app, &s.f.admin, g, mid).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = milestone(
        &app,
        &s.f.admin,
        g,
        json!({"milestone": "final_evaluation", "score": "90"}),
    )
    .await;
    assert_eq!(r.rules(), vec!["financial_report_required"]);
}

#[tokio::test]
async fn adjustments_are_rechecked_against_every_rule_and_decided_by_an_admin() {
    let app = spawn_app().await;
    let s = spending_grant(&app, None).await;
    let g = &s.f.grant;
    let path = format!("/grants/{g}/budget-adjustments");
    let mv = |from: &str, to: &str, amount: &str| json!({"from_line": s.lines[from], "to_line": s.lines[to], "amount": amount});
    let propose = |token: String, moves: Vec<Value>| {
        let path = path.clone();
        let app = &app;
        async move {
            app.post(
                &path,
                Some(&token),
                json!({"reason": "调整预算", "moves": moves}),
            )
            .await
        }
    };
    // Personnel is at 50.00% already: one fen more breaks rule 2.
    let r = propose(
        s.grantee.clone(),
        vec![mv("activities", "personnel", "0.01")],
    )
    .await;
    assert_eq!((r.status, r.code()), (422, "rule_violation"), "{}", r.body);
    assert_eq!(r.rules(), vec!["personnel_ratio"]);
    // Grant money moved onto a self-funded line changes the grant-funded total.
    let r = propose(
        s.grantee.clone(),
        vec![mv("activities", "materials", "100")],
    )
    .await;
    assert_eq!(r.rules(), vec!["grant_total_unchanged"]);
    // A line cannot go below zero; an amount is a money string.
    let r = propose(
        s.grantee.clone(),
        vec![mv("activities", "personnel", "30000.01")],
    )
    .await;
    assert_eq!((r.status, r.code()), (422, "validation_failed"));
    assert!(r.rules().contains(&"line_balance".to_string()));
    let r = propose(s.grantee.clone(), vec![mv("activities", "personnel", "-1")]).await;
    assert_eq!(r.status, 422);
    let (_, other) = app.signed_in(Role::Applicant).await;
    let (_, fin) = finance(&app).await;
    let ok = vec![mv("personnel", "activities", "10000")];
    assert_eq!(propose(other.clone(), ok.clone()).await.status, 404);
    assert_eq!(propose(fin.clone(), ok.clone()).await.status, 403);

    // Proposed by the grantee, decided by an admin.
    let r = propose(s.grantee.clone(), ok.clone()).await;
    assert_eq!(
        (r.status, &r.body["status"]),
        (201, &json!("proposed")),
        "{}",
        r.body
    );
    let first = r.body["id"].as_str().unwrap().to_string();
    let personnel_after = r.body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["category"] == "personnel")
        .unwrap()["amount"]
        .clone();
    assert_eq!(personnel_after, "40000.00");
    let approve = |id: &str| format!("/budget-adjustments/{id}/approve");
    assert_eq!(
        app.post(&approve(&first), Some(&s.grantee), json!({}))
            .await
            .status,
        403
    );
    assert_eq!(
        app.post(&approve(&first), Some(&fin), json!({}))
            .await
            .status,
        403
    );
    let r = app
        .post(&approve(&first), Some(&s.f.admin), json!({"note": "同意"}))
        .await;
    assert_eq!(
        (r.status, &r.body["version"]),
        (200, &json!(2)),
        "{}",
        r.body
    );
    let r = app
        .post(&approve(&first), Some(&s.f.admin), json!({}))
        .await;
    assert_eq!((r.status, r.code()), (409, "invalid_state"), "decided once");

    // Two proposals that each fit, but not both: the second is re-checked when approved.
    let a = propose(
        s.grantee.clone(),
        vec![mv("activities", "personnel", "5000")],
    )
    .await;
    let b = propose(
        s.grantee.clone(),
        vec![mv("activities", "personnel", "10000")],
    )
    .await;
    assert_eq!((a.status, b.status), (201, 201), "{}", b.body);
    let r = app
        .post(
            &approve(a.body["id"].as_str().unwrap()),
            Some(&s.f.admin),
            json!({}),
        )
        .await;
    assert_eq!((r.status, &r.body["version"]), (200, &json!(3)));
    let r = app
        .post(
            &approve(b.body["id"].as_str().unwrap()),
            Some(&s.f.admin),
            json!({}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "rule_violation"), "{}", r.body);
    assert_eq!(r.rules(), vec!["personnel_ratio"]);
    let reject = format!(
        "/budget-adjustments/{}/reject",
        b.body["id"].as_str().unwrap()
    );
    let r = app.post(&reject, Some(&s.f.admin), json!({})).await;
    assert_eq!(r.status, 422, "a rejection gives its reason");
    let r = app
        .post(
            &reject,
            Some(&s.f.admin),
            json!({"note": "人员经费超过50%"}),
        )
        .await;
    assert_eq!((r.status, &r.body["status"]), (200, &json!("rejected")));

    // An admin's own proposal goes to another admin (the round's default).
    let r = propose(s.f.admin.clone(), vec![mv("personnel", "activities", "1")]).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let own = r.body["id"].as_str().unwrap().to_string();
    let r = app.post(&approve(&own), Some(&s.f.admin), json!({})).await;
    assert_eq!((r.status, r.code()), (403, "self_approval_forbidden"));
    let (_, second_admin) = app.signed_in(Role::Admin).await;
    let r = app
        .post(&approve(&own), Some(&second_admin), json!({}))
        .await;
    assert_eq!((r.status, &r.body["version"]), (200, &json!(4)));

    // Every version is kept; the execution uses the latest.
    let r = app
        .get(&format!("{path}?status=approved"), Some(&fin))
        .await;
    let versions: Vec<i64> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [2, 3, 4]);
    assert_eq!(app.get(&path, Some(&other)).await.status, 404);
    let e = app
        .get(&format!("/grants/{g}/budget-execution"), Some(&fin))
        .await
        .body;
    assert_eq!(e["budget_version"], 4);
    assert_eq!(category(&e, "personnel")["budget"], "44999.00");
    assert_eq!(e["totals"]["budget"], "100000.00");

    // All of it in the audit trail.
    let mut conn = app.db.conn().await.unwrap();
    use gongyi::storage::schema::audit_events::dsl as x;
    let n: i64 = x::audit_events
        .filter(x::entity_type.eq("budget_adjustment"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        n,
        4 + 3 + 1,
        "four proposals, three approvals, one rejection"
    );
}

#[tokio::test]
async fn expenditure_writes_racing_a_report_never_end_up_half_in_it() {
    let app = spawn_app().await;
    let s = spending_grant(&app, None).await;
    let g = s.f.grant.clone();
    let mut ids = vec![];
    for _ in 0..8 {
        let r = spend(
            &app,
            &s.grantee,
            &g,
            expenditure("activities", json!("1.00"), None),
        )
        .await;
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    let app = std::sync::Arc::new(app);
    let mut tasks = tokio::task::JoinSet::new();
    for (i, id) in ids.iter().enumerate() {
        let (a, token, id) = (app.clone(), s.grantee.clone(), id.clone());
        tasks.spawn(async move {
            let r = a
                .patch(
                    &format!("/expenditures/{id}"),
                    Some(&token),
                    json!({"amount": "2.00"}),
                )
                .await;
            ("patch", i, r.status)
        });
        let (a, token, g) = (app.clone(), s.grantee.clone(), g.clone());
        tasks.spawn(async move {
            let r = spend(
                &a,
                &token,
                &g,
                expenditure("activities", json!("4.00"), None),
            )
            .await;
            ("create", i, r.status)
        });
    }
    let (app2, token, g2) = (app.clone(), s.grantee.clone(), g.clone());
    tasks.spawn(async move {
        let r = app2
            .post(
                &format!("/grants/{g2}/financial-reports"),
                Some(&token),
                json!({"period": "mid_term"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        ("report", 0, r.status)
    });
    let mut patch_refused = 0;
    while let Some(res) = tasks.join_next().await {
        let (what, _, status) = res.unwrap();
        match what {
            "patch" => {
                assert!(status == 200 || status == 409, "patch answered {status}");
                patch_refused += usize::from(status == 409);
            }
            "create" => assert_eq!(status, 201),
            _ => {}
        }
    }
    let reports = app
        .get(&format!("/grants/{g}/financial-reports"), Some(&s.grantee))
        .await;
    let report = &reports.body["items"][0];
    let id = report["id"].as_str().unwrap();
    let r = app
        .get(&format!("/financial-reports/{id}"), Some(&s.grantee))
        .await;
    let inside = r.body["expenditures"].as_array().unwrap().clone();
    // The report counted exactly what it froze, at the amounts they still have.
    let sum: rust_decimal::Decimal = inside
        .iter()
        .map(|e| {
            e["amount"]
                .as_str()
                .unwrap()
                .parse::<rust_decimal::Decimal>()
                .unwrap()
        })
        .sum();
    assert_eq!(sum.to_string(), report["period_total"].as_str().unwrap());
    assert_eq!(
        inside.len() as i64,
        report["expenditure_count"].as_i64().unwrap()
    );
    assert_eq!(report["cumulative_total"], report["period_total"]);
    assert!(inside.iter().all(|e| e["status"] == "reported"));
    // Every original expenditure is in it (they all existed before), and a refused patch left
    // its amount as the report counted it.
    let originals: Vec<&Value> = inside
        .iter()
        .filter(|e| ids.contains(&e["id"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(originals.len(), ids.len());
    let unchanged = originals.iter().filter(|e| e["amount"] == "1.00").count();
    assert_eq!(unchanged, patch_refused);
    // Everything else is a draft outside any report.
    let all = app
        .get(
            &format!("/grants/{g}/expenditures?limit=200"),
            Some(&s.grantee),
        )
        .await;
    let items = all.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 16);
    for e in items {
        let in_report = inside.iter().any(|x| x["id"] == e["id"]);
        assert_eq!(in_report, e["report_id"] == id, "{e}");
        assert_eq!(!in_report, e["status"] == "draft", "{e}");
    }
}
