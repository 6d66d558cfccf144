//! Review panels, scoring, ranking and awards over real HTTP.

use gongyi::domain::rating::AssessmentResult;
use gongyi::domain::user::Role;
use gongyi::service;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::applications::ready_draft;
use crate::helpers::{organization_facts, spawn_app, TestApp};
use crate::rounds::{open_round, round_body};

pub struct Fixture {
    pub round: String,
    pub admin: String,
    /// (application id, organization id, applicant token)
    pub apps: Vec<(String, Uuid, String)>,
}

/// An open round (with `rules` merged in and the given pool), `n` organizations each with one
/// submitted application (requested 80,000.00, objective party points 10), the round closed and
/// every application screened eligible. `failed` names the organizations (by index) whose
/// party-building assessment failed.
pub async fn reviewing_round(
    app: &TestApp,
    n: usize,
    pool: &str,
    rules: Value,
    failed: &[usize],
) -> Fixture {
    let mut body = round_body("venture_philanthropy");
    body["total_pool"] = json!(pool);
    body["grant_max"] = json!(pool);
    body["rules"] = rules;
    let (round, admin) = open_round(app, body).await;
    let mut apps = vec![];
    for i in 0..n {
        let mut facts = organization_facts(&format!("社会组织 {i} {}", Uuid::new_v4().simple()));
        if failed.contains(&i) {
            facts.party_assessment = AssessmentResult::Failed;
        }
        let org = service::organizations::create(&app.db, facts, None)
            .await
            .unwrap()
            .id;
        let token = app.applicant_of(org).await;
        let id = ready_draft(app, &token, &round, &format!("项目 {i}")).await;
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
    let r = app
        .post(&format!("/rounds/{round}/close"), Some(&admin), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for (id, _, _) in &apps {
        let r = app
            .post(
                &format!("/applications/{id}/screen"),
                Some(&admin),
                json!({"eligible": true}),
            )
            .await;
        assert_eq!(r.body["status"], "under_review", "{}", r.body);
    }
    Fixture { round, admin, apps }
}

/// `n` reviewers on the round's panel; returns (user id, token).
pub async fn panel(app: &TestApp, f: &Fixture, n: usize) -> Vec<(Uuid, String)> {
    let mut out = vec![];
    for _ in 0..n {
        let (id, token) = app.signed_in(Role::Reviewer).await;
        let r = app
            .post(
                &format!("/rounds/{}/reviewers", f.round),
                Some(&f.admin),
                json!({"reviewer_id": id}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        out.push((id, token));
    }
    out
}

/// A complete score sheet: `rest` spread over the five ordinary criteria, `party` judged points.
pub fn sheet(rest: u32, party: &str) -> Value {
    let maxima = [
        ("need_analysis", 15),
        ("project_design", 20),
        ("capacity", 15),
        ("budget", 15),
        ("outcomes", 15),
    ];
    let mut left = rest;
    let mut m = serde_json::Map::new();
    for (k, max) in maxima {
        let x = left.min(max);
        m.insert(k.into(), json!(x.to_string()));
        left -= x;
    }
    m.insert("party_elements".into(), json!(party));
    Value::Object(m)
}

/// The reviewer's assignment on an application.
pub async fn assignment_of(app: &TestApp, token: &str, application: &str) -> String {
    let r = app
        .get(
            &format!("/assignments?application_id={application}"),
            Some(token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no assignment on {application}: {}", r.body))
        .to_string()
}

pub async fn score(app: &TestApp, token: &str, application: &str, rest: u32, party: &str) {
    let a = assignment_of(app, token, application).await;
    let r = app
        .put(
            &format!("/assignments/{a}/scores"),
            Some(token),
            json!({"scores": sheet(rest, party), "comment": "需求清晰"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .post(&format!("/assignments/{a}/submit"), Some(token), json!({}))
        .await;
    assert_eq!(r.body["status"], "submitted", "{}", r.body);
}

fn dec(v: &Value) -> Decimal {
    v.as_str()
        .unwrap_or_else(|| panic!("not a decimal string: {v}"))
        .parse()
        .unwrap()
}

fn row<'a>(ranking: &'a Value, application: &str) -> &'a Value {
    ranking["ranked"]
        .as_array()
        .unwrap()
        .iter()
        .chain(ranking["incomplete"].as_array().unwrap())
        .find(|r| r["application_id"] == application)
        .unwrap()
}

#[tokio::test]
async fn five_reviewers_score_six_applications_and_awards_fill_the_pool_in_rank_order() {
    let app = spawn_app().await;
    // Organization 3's party-building assessment failed: it loses the tie with organization 2.
    let f = reviewing_round(&app, 6, "250000.00", json!({"public_notice_days": 0}), &[3]).await;
    let reviewers = panel(&app, &f, 5).await;

    let r = app
        .post(
            &format!("/rounds/{}/assignments", f.round),
            Some(&f.admin),
            json!({"mode": "auto", "reviewers_per_application": 5}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["created"].as_array().unwrap().len(), 30);
    // Re-running fills gaps only.
    let r = app
        .post(
            &format!("/rounds/{}/assignments", f.round),
            Some(&f.admin),
            json!({"mode": "auto", "reviewers_per_application": 5}),
        )
        .await;
    assert_eq!(r.body["created"].as_array().unwrap().len(), 0, "{}", r.body);
    let r = app
        .get(&format!("/rounds/{}", f.round), Some(&f.admin))
        .await;
    assert_eq!(r.body["status"], "reviewing");

    // Totals = scores given + 10 objective party points (the same for every application here):
    // app 0: 95 90 80 80 30 → highest and lowest dropped: (90 + 80 + 80) / 3 = 83.33
    // app 1: 70 each; app 2 and app 3: 75 each (a tie; app 3's organization failed its
    // party-building assessment); app 4: 50, below the pass mark; app 5: 80.
    let plan: [[(u32, &str); 5]; 6] = [
        [(80, "5"), (75, "5"), (65, "5"), (65, "5"), (15, "5")],
        [(55, "5"), (55, "5"), (55, "5"), (55, "5"), (55, "5")],
        [(60, "5"), (60, "5"), (60, "5"), (60, "5"), (60, "5")],
        [(60, "5"), (60, "5"), (60, "5"), (60, "5"), (60, "5")],
        [(35, "5"), (35, "5"), (35, "5"), (35, "5"), (35, "5")],
        [(65, "5"), (65, "5"), (65, "5"), (65, "5"), (65, "5")],
    ];
    for (i, scores) in plan.iter().enumerate() {
        for (j, (rest, party)) in scores.iter().enumerate() {
            score(&app, &reviewers[j].1, &f.apps[i].0, *rest, party).await;
        }
    }

    let r = app
        .get(&format!("/rounds/{}/ranking", f.round), Some(&f.admin))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ranking = r.body;
    let a0 = row(&ranking, &f.apps[0].0);
    assert_eq!(a0["score_count"], 5);
    assert_eq!(dec(&a0["final_score"]), "83.33".parse().unwrap(), "{a0}");
    assert_eq!(dec(&a0["party_objective"]), Decimal::from(10));
    assert_eq!(dec(&a0["party_judged"]), Decimal::from(5));
    assert_eq!(dec(&a0["party_element_score"]), Decimal::from(15));
    assert_eq!(
        dec(&a0["criterion_means"]["party_elements"]),
        Decimal::from(5)
    );
    let order: Vec<&str> = ranking["ranked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["application_id"].as_str().unwrap())
        .collect();
    let id = |i: usize| f.apps[i].0.as_str();
    assert_eq!(
        order,
        vec![id(0), id(5), id(2), id(3), id(1), id(4)],
        "{ranking}"
    );
    assert_eq!(
        row(&ranking, id(2))["final_score"],
        row(&ranking, id(3))["final_score"]
    );
    assert_eq!(row(&ranking, id(3))["party_assessment_passed"], false);
    assert_eq!(row(&ranking, id(4))["passes_pass_mark"], false);
    assert_eq!(ranking["calibration"].as_array().unwrap().len(), 5);

    // Reviewer 4 gave app 0 its lowest score, then declares a conflict: its score stops
    // counting, four remain (no trimming): (95 + 90 + 80 + 80) / 4 = 86.25.
    let a = assignment_of(&app, &reviewers[4].1, &f.apps[0].0).await;
    let r = app
        .post(
            &format!("/assignments/{a}/conflict"),
            Some(&reviewers[4].1),
            json!({"reason": "曾为该机构提供咨询"}),
        )
        .await;
    assert_eq!(r.body["status"], "recused", "{}", r.body);
    let ranking = app
        .get(&format!("/rounds/{}/ranking", f.round), Some(&f.admin))
        .await
        .body;
    let a0 = row(&ranking, &f.apps[0].0);
    assert_eq!(a0["score_count"], 4);
    assert_eq!(dec(&a0["final_score"]), "86.25".parse().unwrap(), "{a0}");
    // The recused reviewer no longer reads the application.
    let r = app
        .get(
            &format!("/applications/{}", f.apps[0].0),
            Some(&reviewers[4].1),
        )
        .await;
    assert_eq!(r.status, 404);

    // Awards: pool 250,000; each asks 80,000 → the top three are funded (240,000),
    // app 1 (70 points) passes but the pool is spent, app 4 is below the pass mark.
    let r = app
        .post(
            &format!("/rounds/{}/awards/preview", f.round),
            Some(&f.admin),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let funded: Vec<&str> = r.body["funded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["application_id"].as_str().unwrap())
        .collect();
    assert_eq!(funded, vec![id(0), id(5), id(2)], "{}", r.body);
    assert_eq!(r.body["total_awarded"], "240000.00");
    assert_eq!(r.body["remaining_pool"], "10000.00");
    assert_eq!(
        r.body["unfunded_for_lack_of_pool"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(r.body["below_pass_mark"][0]["application_id"], id(4));

    // With app 0 adjusted down to 10,000, app 3 fits too and the pool is spent exactly.
    let r = app
        .post(
            &format!("/rounds/{}/awards", f.round),
            Some(&f.admin),
            json!({"adjustments": [{"application_id": id(0), "amount": "10000.00"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "public_notice");
    assert_eq!(r.body["total_awarded"], "250000.00");
    let r = app
        .post(
            &format!("/rounds/{}/awards/objections", f.round),
            Some(&f.admin),
            json!({"application_id": id(1), "objection": "评分异议", "resolution": "复核维持"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = app
        .post(
            &format!("/rounds/{}/awards/finalize", f.round),
            Some(&f.admin),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "final");
    assert_eq!(r.body["objections"].as_array().unwrap().len(), 1);
    let r = app
        .get(&format!("/rounds/{}", f.round), Some(&f.admin))
        .await;
    assert_eq!(r.body["status"], "decided");
    let mut total = Decimal::ZERO;
    for (i, (aid, _, token)) in f.apps.iter().enumerate() {
        let r = app.get(&format!("/applications/{aid}"), Some(token)).await;
        let expected = if [0, 5, 2, 3].contains(&i) {
            "approved"
        } else {
            "rejected"
        };
        assert_eq!(r.body["status"], expected, "app {i}: {}", r.body);
        if let Some(a) = r.body["award_amount"].as_str() {
            total += a.parse::<Decimal>().unwrap();
        }
    }
    assert_eq!(total, Decimal::from(250000));
    // Finalization created one grant per approved application, its tranches split 50/30/20.
    let r = app
        .get(&format!("/grants?round_id={}", f.round), Some(&f.admin))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let grants = r.body["items"].as_array().unwrap();
    assert_eq!(grants.len(), 4, "{}", r.body);
    let small = grants
        .iter()
        .find(|g| g["application_id"] == id(0))
        .unwrap();
    assert_eq!(small["amount"], "10000.00");
    let parts: Vec<&str> = small["tranches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["amount"].as_str().unwrap())
        .collect();
    assert_eq!(parts, vec!["5000.00", "3000.00", "2000.00"]);
    // Everyone concerned was told, in the transactions that made the changes.
    assert_eq!(app.outbox_count("reviewer_assigned").await, 5);
    assert!(app.outbox_count("public_notice_published").await >= 6);
    assert!(app.outbox_count("award_decision").await >= 6);
    // Decided: no second decision.
    let r = app
        .post(
            &format!("/rounds/{}/awards", f.round),
            Some(&f.admin),
            json!({}),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "invalid_state"));
}

#[tokio::test]
async fn scores_are_bounded_stepped_complete_and_locked() {
    let app = spawn_app().await;
    let f = reviewing_round(&app, 1, "500000.00", json!({}), &[]).await;
    let reviewers = panel(&app, &f, 1).await;
    let (_, admin_token) = (&f.admin, f.admin.clone());
    let r = app
        .post(
            &format!("/rounds/{}/assignments", f.round),
            Some(&admin_token),
            json!({"mode": "manual", "pairs": [{"application_id": f.apps[0].0, "reviewer_id": reviewers[0].0}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = &reviewers[0].1;
    let a = assignment_of(&app, token, &f.apps[0].0).await;
    let r = app
        .put(
            &format!("/assignments/{a}/scores"),
            Some(token),
            json!({"scores": {"need_analysis": "15.5", "capacity": "7.25", "party_elements": "10.5", "vision": "3"}}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (422, "validation_failed"),
        "{}",
        r.body
    );
    let mut rules = r.rules();
    rules.sort();
    assert_eq!(
        rules,
        vec![
            "score_range",
            "score_range",
            "score_step",
            "unknown_criterion"
        ]
    );
    let party = r.body["violations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["field"] == "scores.party_elements")
        .unwrap();
    assert_eq!(
        party["limit"], "0..10",
        "the judged part is 20 − 10 objective"
    );
    // A float is refused like money.
    let r = app
        .put(
            &format!("/assignments/{a}/scores"),
            Some(token),
            json!({"scores": {"need_analysis": 12.5}}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    // A draft with one criterion saves; submitting it lists every missing one.
    let r = app
        .put(
            &format!("/assignments/{a}/scores"),
            Some(token),
            json!({"scores": {"need_analysis": "12.5"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["judged_total"], "12.5");
    let r = app
        .post(&format!("/assignments/{a}/submit"), Some(token), json!({}))
        .await;
    assert_eq!((r.status, r.code()), (422, "rule_violation"));
    assert_eq!(r.rules().len(), 5);
    // Complete, submit, then locked.
    let r = app
        .put(
            &format!("/assignments/{a}/scores"),
            Some(token),
            json!({"scores": sheet(70, "8.5")}),
        )
        .await;
    assert_eq!(r.body["judged_total"], "78.5", "{}", r.body);
    let r = app
        .post(&format!("/assignments/{a}/submit"), Some(token), json!({}))
        .await;
    assert_eq!(r.body["status"], "submitted");
    let r = app
        .put(
            &format!("/assignments/{a}/scores"),
            Some(token),
            json!({"scores": sheet(10, "0")}),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "invalid_state"));
    // Only an admin reopens it, and the audit trail records why.
    let r = app
        .post(
            &format!("/assignments/{a}/reopen"),
            Some(token),
            json!({"reason": "x"}),
        )
        .await;
    assert_eq!(r.status, 403);
    let r = app
        .post(
            &format!("/assignments/{a}/reopen"),
            Some(&f.admin),
            json!({"reason": "评分录入错误"}),
        )
        .await;
    assert_eq!(r.body["status"], "assigned", "{}", r.body);
    let r = app
        .put(
            &format!("/assignments/{a}/scores"),
            Some(token),
            json!({"scores": sheet(60, "8")}),
        )
        .await;
    assert_eq!(r.body["judged_total"], "68", "{}", r.body);
    let mut conn = app.db.conn().await.unwrap();
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use gongyi::storage::schema::audit_events::dsl as ae;
    let n: i64 = ae::audit_events
        .filter(ae::action.eq("assignment.reopened"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn reviewers_see_only_their_own_work() {
    let app = spawn_app().await;
    let f = reviewing_round(&app, 2, "500000.00", json!({"min_reviewers": 1}), &[]).await;
    let reviewers = panel(&app, &f, 2).await;
    let r = app
        .post(
            &format!("/rounds/{}/assignments", f.round),
            Some(&f.admin),
            json!({"mode": "manual", "pairs": [
                {"application_id": f.apps[0].0, "reviewer_id": reviewers[0].0},
                {"application_id": f.apps[1].0, "reviewer_id": reviewers[1].0}
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (mine, theirs) = (&reviewers[0].1, &reviewers[1].1);
    let other_assignment = assignment_of(&app, theirs, &f.apps[1].0).await;
    score(&app, theirs, &f.apps[1].0, 60, "5").await;

    // Another reviewer's application, assignment and scores are simply not there.
    let r = app
        .get(&format!("/applications/{}", f.apps[1].0), Some(mine))
        .await;
    assert_eq!(r.status, 404);
    let r = app
        .get(&format!("/applications/{}", f.apps[0].0), Some(mine))
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .get(&format!("/assignments/{other_assignment}"), Some(mine))
        .await;
    assert_eq!(r.status, 404);
    let r = app
        .put(
            &format!("/assignments/{other_assignment}/scores"),
            Some(mine),
            json!({"scores": sheet(1, "0")}),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = app
        .post(
            &format!("/assignments/{other_assignment}/conflict"),
            Some(mine),
            json!({"reason": "x"}),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = app.get("/applications", Some(mine)).await;
    let ids: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![f.apps[0].0.as_str()]);
    let r = app
        .get(
            &format!("/assignments?reviewer_id={}", reviewers[1].0),
            Some(mine),
        )
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        r.body["items"][0]["reviewer_id"],
        reviewers[0].0.to_string()
    );
    assert!(r.body["items"][0]["scores"].as_object().unwrap().is_empty());
    // The ranking and the panel are the admin's.
    let r = app
        .get(&format!("/rounds/{}/ranking", f.round), Some(mine))
        .await;
    assert_eq!(r.status, 403);
    let r = app
        .get(&format!("/rounds/{}/ranking", f.round), Some(&f.apps[0].2))
        .await;
    assert_eq!(r.status, 403);
    // An applicant cannot score.
    let r = app
        .put(
            &format!("/assignments/{other_assignment}/scores"),
            Some(&f.apps[0].2),
            json!({"scores": sheet(1, "0")}),
        )
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn affiliated_reviewers_are_never_assigned() {
    let app = spawn_app().await;
    let f = reviewing_round(&app, 3, "500000.00", json!({}), &[]).await;
    let reviewers = panel(&app, &f, 3).await;
    // Reviewer 0 advises organization 0.
    let r = app
        .post(
            &format!("/rounds/{}/reviewers", f.round),
            Some(&f.admin),
            json!({"reviewer_id": reviewers[0].0, "affiliations": [f.apps[0].1]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .post(
            &format!("/rounds/{}/assignments", f.round),
            Some(&f.admin),
            json!({"mode": "manual", "pairs": [{"application_id": f.apps[0].0, "reviewer_id": reviewers[0].0}]}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "rule_violation"));
    assert_eq!(r.rules(), vec!["reviewer_affiliated"]);
    let r = app
        .post(
            &format!("/rounds/{}/assignments", f.round),
            Some(&f.admin),
            json!({"mode": "auto"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // 3 reviewers, k = 3: application 0 can only get 2.
    assert_eq!(r.body["created"].as_array().unwrap().len(), 8);
    assert_eq!(r.body["shortfalls"][0]["application_id"], f.apps[0].0);
    assert_eq!(r.body["shortfalls"][0]["missing"], 1);
    assert!(!r.body["created"].as_array().unwrap().iter().any(|a| {
        a["application_id"] == f.apps[0].0 && a["reviewer_id"] == reviewers[0].0.to_string()
    }));
    // A non-reviewer cannot join the panel.
    let (finance, _) = app.signed_in(Role::Finance).await;
    let r = app
        .post(
            &format!("/rounds/{}/reviewers", f.round),
            Some(&f.admin),
            json!({"reviewer_id": finance}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "validation_failed"));
}

#[tokio::test]
async fn concurrent_award_decisions_never_over_commit_the_pool() {
    let app = spawn_app().await;
    let f = reviewing_round(
        &app,
        4,
        "200000.00",
        json!({"public_notice_days": 0, "min_reviewers": 1}),
        &[],
    )
    .await;
    let reviewers = panel(&app, &f, 1).await;
    let r = app
        .post(
            &format!("/rounds/{}/assignments", f.round),
            Some(&f.admin),
            json!({"mode": "auto"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for (i, (aid, _, _)) in f.apps.iter().enumerate() {
        score(&app, &reviewers[0].1, aid, 60 + i as u32, "5").await;
    }
    let r = app
        .post(
            &format!("/rounds/{}/awards", f.round),
            Some(&f.admin),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Two admins amend and finalize at the same time, with different adjustments.
    let (_, admin2) = app.signed_in(Role::Admin).await;
    let mut tasks = vec![];
    for i in 0..12usize {
        let token = if i % 2 == 0 {
            f.admin.clone()
        } else {
            admin2.clone()
        };
        let round = f.round.clone();
        let target = f.apps[i % 4].0.clone();
        let address = app.address.clone();
        let client = app.client.clone();
        tasks.push(tokio::spawn(async move {
            let (path, body) = if i % 3 == 0 {
                (format!("/api/v1/rounds/{round}/awards/finalize"), json!({}))
            } else {
                (
                    format!("/api/v1/rounds/{round}/awards"),
                    json!({"adjustments": [{"application_id": target, "amount": format!("{}.00", 10000 + i * 1000)}]}),
                )
            };
            let r = client
                .post(format!("{address}{path}"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            (i % 3 == 0, r.status().as_u16())
        }));
    }
    let mut finalized = 0;
    for t in tasks {
        let (is_finalize, status) = t.await.unwrap();
        assert!(status == 200 || status == 409, "status {status}");
        if is_finalize && status == 200 {
            finalized += 1;
        }
    }
    assert_eq!(finalized, 1, "exactly one finalization wins");
    let mut total = Decimal::ZERO;
    for (aid, _, _) in &f.apps {
        let r = app
            .get(&format!("/applications/{aid}"), Some(&f.admin))
            .await;
        if let Some(a) = r.body["award_amount"].as_str() {
            total += a.parse::<Decimal>().unwrap();
        }
    }
    let decision = app
        .get(&format!("/rounds/{}/awards", f.round), Some(&f.admin))
        .await;
    assert_eq!(decision.body["status"], "final");
    assert_eq!(dec(&decision.body["total_awarded"]), total);
    assert!(total <= Decimal::from(200000), "{total}");
    assert!(total > Decimal::ZERO);
}
