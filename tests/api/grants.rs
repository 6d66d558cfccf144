//! Grants: creation from an approved application, milestones in order, the 50/30/20 walk
//! through with two finance users, termination and blacklisting, continuation, visibility.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use gongyi::domain::user::Role;
use gongyi::service::rounds::RoundSpec;
use gongyi::storage::schema::{applications, rounds};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::applications::ready_draft;
use crate::helpers::{Resp, TestApp};
use crate::rounds::{open_round, round_body};

pub struct Funded {
    pub grant: String,
    pub application: String,
    pub round: String,
    pub admin: String,
}

/// Reaches a grant without the award endpoints (to be replaced by the real award flow once
/// review and awards land): a submitted, screened application of `applicant` in a fresh round;
/// then, in one transaction, the round is moved closed → reviewing → decided, the application
/// under_review → approved with `award`, and `service::grants::create_for_approved` is called,
/// as the award finalization will do. `previous` makes it a second-year continuation.
pub async fn funded_grant(
    app: &TestApp,
    applicant: &str,
    award: &str,
    previous: Option<&str>,
    round_body_json: Option<Value>,
) -> Funded {
    let (round, admin) = open_round(
        app,
        round_body_json.unwrap_or_else(|| round_body("venture_philanthropy")),
    )
    .await;
    let id = ready_draft(app, applicant, &round, "社区居家养老助餐").await;
    if let Some(prev) = previous {
        let r = app
            .patch(
                &format!("/applications/{id}"),
                Some(applicant),
                json!({"previous_application_id": prev}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = app
        .post(
            &format!("/applications/{id}/submit"),
            Some(applicant),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .post(
            &format!("/applications/{id}/screen"),
            Some(&admin),
            json!({"eligible": true}),
        )
        .await;
    assert_eq!(r.body["status"], "under_review", "{}", r.body);

    let (round_id, app_id) = (
        Uuid::parse_str(&round).unwrap(),
        Uuid::parse_str(&id).unwrap(),
    );
    let award: rust_decimal::Decimal = award.parse().unwrap();
    let mut conn = app.db.conn().await.unwrap();
    let grant = conn
        .transaction::<_, gongyi::service::Error, _>(async move |conn| {
            for s in ["closed", "reviewing", "decided"] {
                diesel::update(rounds::table.find(round_id))
                    .set(rounds::status.eq(s))
                    .execute(conn)
                    .await?;
            }
            diesel::update(applications::table.find(app_id))
                .set((
                    applications::status.eq("approved"),
                    applications::award_amount.eq(Some(award)),
                ))
                .execute(conn)
                .await?;
            let row = gongyi::storage::applications::lock(conn, app_id).await?;
            let spec =
                RoundSpec::from_row(&gongyi::storage::rounds::get(conn, round_id, true).await?)?;
            gongyi::service::grants::create_for_approved(conn, None, &row, &spec).await
        })
        .await
        .expect("grant created");
    Funded {
        grant: grant.id.to_string(),
        application: id,
        round,
        admin,
    }
}

/// A finance user, signed in.
pub async fn finance(app: &TestApp) -> (Uuid, String) {
    app.signed_in(Role::Finance).await
}

pub async fn request_payout(
    app: &TestApp,
    token: &str,
    grant: &str,
    tranche: u32,
    amount: &str,
    key: &str,
) -> Resp {
    app.send(
        app.client
            .post(app.url(&format!("/grants/{grant}/payouts")))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(&json!({"tranche_number": tranche, "amount": amount})),
    )
    .await
}

pub async fn milestone(app: &TestApp, admin: &str, grant: &str, body: Value) -> Resp {
    app.post(&format!("/grants/{grant}/milestones"), Some(admin), body)
        .await
}

/// Request by `maker`, approval by `checker`, payment recorded; returns the payout id.
async fn pay(
    app: &TestApp,
    maker: &str,
    checker: &str,
    grant: &str,
    tranche: u32,
    amount: &str,
) -> String {
    let r = request_payout(
        app,
        maker,
        grant,
        tranche,
        amount,
        &Uuid::new_v4().to_string(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["status"], "requested");
    let id = r.body["id"].as_str().unwrap().to_string();
    let r = app
        .post(&format!("/payouts/{id}/approve"), Some(maker), json!({}))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (403, "self_approval_forbidden"),
        "the maker cannot check"
    );
    let r = app
        .post(&format!("/payouts/{id}/approve"), Some(checker), json!({}))
        .await;
    assert_eq!(
        (r.status, &r.body["status"]),
        (200, &json!("approved")),
        "{}",
        r.body
    );
    let r = app
        .post(
            &format!("/payouts/{id}/paid"),
            Some(checker),
            json!({"bank_reference": format!("BOC-{tranche}-{}", &id[..8]), "value_date": chrono::Utc::now().date_naive().to_string()}),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["status"]),
        (200, &json!("paid")),
        "{}",
        r.body
    );
    id
}

fn tranche_statuses(g: &Value) -> Vec<String> {
    g["tranches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap().to_string())
        .collect()
}

/// Parses the ledger CSV (BOM checked): lines, and the totals rows by their English key.
fn parse_ledger(text: &str) -> (Vec<Vec<String>>, HashMap<String, String>) {
    let body = text
        .strip_prefix('\u{feff}')
        .expect("the CSV starts with a BOM");
    let mut lines = vec![];
    let mut totals = HashMap::new();
    // The payout section ends at the empty line before the spending side.
    let payouts = body.split("\r\n\r\n").next().unwrap();
    for (i, line) in payouts.split("\r\n").filter(|l| !l.is_empty()).enumerate() {
        // Test data has no commas or quotes inside cells.
        let cells: Vec<String> = line.split(',').map(str::to_string).collect();
        assert_eq!(cells.len(), 14, "line {i}: {line}");
        if i == 0 {
            assert!(cells[9].contains("Amount"));
        } else if cells[0] == "合计 Total" {
            let key = cells[1].split(' ').next().unwrap().to_string();
            totals.insert(key, cells[9].clone());
        } else {
            lines.push(cells);
        }
    }
    (lines, totals)
}

/// The first worksheet's XML and the shared strings of an XLSX.
pub fn xlsx_parts(bytes: &[u8]) -> (String, String) {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("an xlsx is a zip");
    let mut read = |name: &str| {
        let mut s = String::new();
        zip.by_name(name)
            .unwrap_or_else(|_| panic!("{name} in the xlsx"))
            .read_to_string(&mut s)
            .unwrap();
        s
    };
    (
        read("xl/worksheets/sheet1.xml"),
        read("xl/sharedStrings.xml"),
    )
}

async fn raw_get(app: &TestApp, path: &str, token: &str) -> (u16, String, Vec<u8>) {
    let res = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ct, res.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn fifty_thirty_twenty_through_signing_and_evaluations_with_two_finance_users() {
    let app = crate::helpers::spawn_app().await;
    let org = app.add_organization("昆山市玉山镇社工服务中心").await;
    let applicant = app.applicant_of(org).await;
    let f = funded_grant(&app, &applicant, "123456.78", None, None).await;
    let (_, fin_a) = finance(&app).await;
    let (_, fin_b) = finance(&app).await;
    let g = &f.grant;

    let r = app.get(&format!("/grants/{g}"), Some(&fin_a)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["amount"], "123456.78");
    assert_eq!(r.body["status"], "active");
    assert_eq!(r.body["next_milestone"], "agreement_signed");
    let amounts: Vec<&str> = r.body["tranches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["amount"].as_str().unwrap())
        .collect();
    // 50% = 61728.39, 30% = 37037.034 → 37037.03, the last takes the remainder.
    assert_eq!(amounts, vec!["61728.39", "37037.03", "24691.36"]);
    assert_eq!(tranche_statuses(&r.body), vec!["scheduled"; 3]);
    assert_eq!(r.body["balance"]["outstanding"], "123456.78");

    // Nothing is due before the agreement is signed.
    let r = request_payout(&app, &fin_a, g, 1, "100.00", "early").await;
    assert_eq!((r.status, r.code()), (409, "invalid_state"), "{}", r.body);

    let r = milestone(
        &app,
        &f.admin,
        g,
        json!({"milestone": "agreement_signed", "note": "协议已签"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        tranche_statuses(&r.body),
        vec!["due", "scheduled", "scheduled"]
    );
    assert_eq!(r.body["next_milestone"], "mid_term_evaluation");
    let a = app
        .get(&format!("/applications/{}", f.application), Some(&f.admin))
        .await;
    assert_eq!(a.body["status"], "contracted");

    // The second tranche is not due yet.
    let r = request_payout(&app, &fin_a, g, 2, "100.00", "too-soon").await;
    assert_eq!((r.status, r.code()), (409, "invalid_state"));
    // Over the tranche: refused up front.
    let r = request_payout(&app, &fin_a, g, 1, "61728.40", "too-much").await;
    assert_eq!((r.status, r.code()), (422, "rule_violation"), "{}", r.body);
    assert_eq!(r.rules(), vec!["tranche_limit"]);
    assert_eq!(r.body["violations"][0]["limit"], "61728.39");

    pay(&app, &fin_a, &fin_b, g, 1, "61728.39").await;
    let r = app.get(&format!("/grants/{g}"), Some(&fin_a)).await;
    assert_eq!(
        tranche_statuses(&r.body),
        vec!["paid", "scheduled", "scheduled"]
    );
    assert_eq!(r.body["balance"]["paid"], "61728.39");

    let r = milestone(
        &app,
        &f.admin,
        g,
        json!({"milestone": "mid_term_evaluation", "score": "78.5"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["milestones"][1]["grade"], "B");
    assert_eq!(r.body["milestones"][1]["passed"], true);
    assert_eq!(tranche_statuses(&r.body), vec!["paid", "due", "scheduled"]);
    let a = app
        .get(&format!("/applications/{}", f.application), Some(&f.admin))
        .await;
    assert_eq!(a.body["status"], "in_progress");

    // The second tranche in two payouts, maker and checker swapped.
    pay(&app, &fin_b, &fin_a, g, 2, "30000.00").await;
    let r = app.get(&format!("/grants/{g}"), Some(&fin_a)).await;
    assert_eq!(
        r.body["tranches"][1]["status"], "due",
        "partly paid is still due"
    );
    assert_eq!(r.body["tranches"][1]["available"], "7037.03");
    pay(&app, &fin_b, &fin_a, g, 2, "7037.03").await;

    let r = milestone(
        &app,
        &f.admin,
        g,
        json!({"milestone": "final_evaluation", "score": "91"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["milestones"][2]["grade"], "A");
    assert_eq!(r.body["status"], "completed");
    assert_eq!(r.body["next_milestone"], Value::Null);
    assert_eq!(tranche_statuses(&r.body), vec!["paid", "paid", "due"]);
    let a = app
        .get(&format!("/applications/{}", f.application), Some(&f.admin))
        .await;
    assert_eq!(a.body["status"], "completed");
    // The last tranche is paid after completion.
    pay(&app, &fin_a, &fin_b, g, 3, "24691.36").await;
    let r = milestone(
        &app,
        &f.admin,
        g,
        json!({"milestone": "final_evaluation", "score": "91"}),
    )
    .await;
    assert_eq!((r.status, r.code()), (409, "invalid_state"));

    let r = app.get(&format!("/grants/{g}"), Some(&applicant)).await;
    assert_eq!(r.status, 200, "the organization sees its grant");
    assert_eq!(tranche_statuses(&r.body), vec!["paid"; 3]);
    assert_eq!(r.body["balance"]["paid"], "123456.78");
    assert_eq!(r.body["balance"]["outstanding"], "0.00");
    assert_eq!(r.body["payouts"].as_array().unwrap().len(), 4);

    // The ledger: four lines, totals equal to the API's balance.
    let (status, ct, bytes) = raw_get(&app, &format!("/grants/{g}/ledger.csv"), &fin_a).await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/csv"), "{ct}");
    let text = String::from_utf8(bytes).unwrap();
    let (lines, totals) = parse_ledger(&text);
    assert_eq!(lines.len(), 4);
    assert!(lines
        .iter()
        .all(|l| l[8] == "paid" && l[2] == "昆山市玉山镇社工服务中心"));
    let line_sum: rust_decimal::Decimal = lines
        .iter()
        .map(|l| l[9].parse::<rust_decimal::Decimal>().unwrap())
        .sum();
    assert_eq!(line_sum.to_string(), "123456.78");
    assert_eq!(totals["paid"], r.body["balance"]["paid"].as_str().unwrap());
    assert_eq!(totals["awarded"], "123456.78");
    assert_eq!(totals["outstanding"], "0.00");
    let (status, ct, bytes) =
        raw_get(&app, &format!("/rounds/{}/ledger.xlsx", f.round), &f.admin).await;
    assert_eq!(status, 200);
    assert!(ct.contains("spreadsheetml"), "{ct}");
    assert_eq!(&bytes[..2], b"PK");
    let (sheet, strings) = xlsx_parts(&bytes);
    assert!(strings.contains("合计 Total") && strings.contains("paid 已拨付"));
    assert!(
        strings.contains("昆山市玉山镇社工服务中心"),
        "Chinese text survives"
    );
    assert!(
        sheet.contains("<v>123456.78</v>"),
        "the paid total is in the sheet"
    );
    let (_, _, bytes) = raw_get(&app, &format!("/rounds/{}/ledger.csv", f.round), &f.admin).await;
    let (round_lines, round_totals) = parse_ledger(&String::from_utf8(bytes).unwrap());
    assert_eq!(
        (round_lines.len(), &round_totals["paid"]),
        (4, &totals["paid"])
    );

    // The work queue and the audit trail.
    let r = app
        .get(&format!("/payouts?status=paid&grant_id={g}"), Some(&fin_b))
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 4);
    let mut conn = app.db.conn().await.unwrap();
    let approvals: i64 = gongyi::storage::schema::audit_events::table
        .filter(gongyi::storage::schema::audit_events::action.eq("payout.approved"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(approvals, 4);
    let (status, _, _) = raw_get(&app, &format!("/grants/{g}/ledger.csv"), &applicant).await;
    assert_eq!(status, 403, "ledgers are for finance and admin");
    // Each request told the other finance user; each payment and evaluation the organization.
    let outbox = app.outbox().await;
    let awaiting: Vec<&String> = outbox
        .iter()
        .filter(|(k, _)| k == "payout_awaiting_approval")
        .map(|(_, to)| to)
        .collect();
    assert!(awaiting.len() >= 4, "{outbox:?}");
    assert!(app.outbox_count("payout_paid").await >= 4);
    assert!(app.outbox_count("evaluation_result").await >= 2);
}

#[tokio::test]
async fn milestones_happen_in_order_and_evaluations_need_a_score() {
    let app = crate::helpers::spawn_app().await;
    let (_, applicant) = app.signed_in(Role::Applicant).await;
    let f = funded_grant(&app, &applicant, "80000", None, None).await;
    let g = &f.grant;
    let r = milestone(
        &app,
        &f.admin,
        g,
        json!({"milestone": "mid_term_evaluation", "score": "80"}),
    )
    .await;
    assert_eq!((r.status, r.code()), (409, "invalid_state"), "{}", r.body);
    let r = milestone(
        &app,
        &f.admin,
        g,
        json!({"milestone": "final_evaluation", "score": "80"}),
    )
    .await;
    assert_eq!((r.status, r.code()), (409, "invalid_state"));
    let r = milestone(
        &app,
        &f.admin,
        g,
        json!({"milestone": "agreement_signed", "score": "80"}),
    )
    .await;
    assert_eq!((r.status, r.code()), (422, "validation_failed"));
    let r = milestone(&app, &f.admin, g, json!({"milestone": "agreement_signed"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = milestone(&app, &f.admin, g, json!({"milestone": "agreement_signed"})).await;
    assert_eq!(
        (r.status, r.code()),
        (409, "invalid_state"),
        "each milestone once"
    );
    let r = milestone(
        &app,
        &f.admin,
        g,
        json!({"milestone": "final_evaluation", "score": "80"}),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (409, "invalid_state"),
        "no skipping the mid-term"
    );
    let r = milestone(
        &app,
        &f.admin,
        g,
        json!({"milestone": "mid_term_evaluation"}),
    )
    .await;
    assert_eq!(r.rules(), vec!["required"]);
    let r = milestone(
        &app,
        &f.admin,
        g,
        json!({"milestone": "mid_term_evaluation", "score": "100.5"}),
    )
    .await;
    assert_eq!(r.rules(), vec!["range"]);
    let r = milestone(
        &app,
        &f.admin,
        g,
        json!({"milestone": "mid_term_evaluation", "score": "70", "blacklist_years": 2}),
    )
    .await;
    assert_eq!(
        (r.status, r.rules()),
        (422, vec!["not_allowed".to_string()]),
        "blacklisting goes with a failed evaluation only"
    );
    let (_, finance_token) = finance(&app).await;
    let r = milestone(
        &app,
        &finance_token,
        g,
        json!({"milestone": "mid_term_evaluation", "score": "70"}),
    )
    .await;
    assert_eq!(r.status, 403, "milestones are the admin's");
    let r = milestone(
        &app,
        &f.admin,
        g,
        json!({"milestone": "mid_term_evaluation", "score": "60"}),
    )
    .await;
    assert_eq!(r.status, 200, "60 passes: {}", r.body);
    assert_eq!(r.body["milestones"][1]["grade"], "B");
}

#[tokio::test]
async fn a_failed_mid_term_terminates_cancels_the_rest_and_blacklists_the_organization() {
    let app = crate::helpers::spawn_app().await;
    let org = app.add_organization("失败案例社工机构").await;
    let applicant = app.applicant_of(org).await;
    let f = funded_grant(&app, &applicant, "100000", None, None).await;
    let g = &f.grant;
    let (_, fin_a) = finance(&app).await;
    let (_, fin_b) = finance(&app).await;
    milestone(&app, &f.admin, g, json!({"milestone": "agreement_signed"})).await;
    pay(&app, &fin_a, &fin_b, g, 1, "30000").await;
    // One approved-but-unpaid and one pending request on the first tranche.
    let r = request_payout(&app, &fin_a, g, 1, "10000", "approved-unpaid").await;
    let approved = r.body["id"].as_str().unwrap().to_string();
    let r = app
        .post(
            &format!("/payouts/{approved}/approve"),
            Some(&fin_b),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = request_payout(&app, &fin_a, g, 1, "5000", "pending").await;
    let pending = r.body["id"].as_str().unwrap().to_string();

    // A clawback above what was paid is refused, and nothing changes.
    let r = milestone(
        &app,
        &f.admin,
        g,
        json!({"milestone": "mid_term_evaluation", "score": "55", "clawback_amount": "30000.01"}),
    )
    .await;
    assert_eq!(
        (r.status, r.rules()),
        (422, vec!["clawback_limit".to_string()]),
        "{}",
        r.body
    );
    let r = app.get(&format!("/grants/{g}"), Some(&f.admin)).await;
    assert_eq!(r.body["status"], "active");

    let r = milestone(
        &app,
        &f.admin,
        g,
        json!({"milestone": "mid_term_evaluation", "score": "55", "note": "中期评估不合格", "clawback_amount": "20000"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "terminated");
    assert_eq!(r.body["milestones"][1]["grade"], "C");
    assert_eq!(r.body["milestones"][1]["passed"], false);
    assert_eq!(tranche_statuses(&r.body), vec!["cancelled"; 3]);
    assert_eq!(
        r.body["tranches"][0]["available"], "0.00",
        "nothing more from a cancelled tranche"
    );
    assert_eq!(r.body["balance"]["paid"], "30000.00");
    assert_eq!(r.body["balance"]["outstanding"], "0.00");
    assert_eq!(r.body["balance"]["cancelled"], "70000.00");
    assert_eq!(r.body["balance"]["approved"], "0.00");
    assert_eq!(r.body["balance"]["pending"], "0.00");
    assert_eq!(r.body["balance"]["clawback"], "20000.00");
    let statuses: HashMap<String, String> = r.body["payouts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_string(),
                p["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(statuses[&approved], "rejected");
    assert_eq!(statuses[&pending], "rejected");
    let a = app
        .get(&format!("/applications/{}", f.application), Some(&f.admin))
        .await;
    assert_eq!(a.body["status"], "terminated");
    let o = app
        .get(&format!("/organizations/{org}"), Some(&f.admin))
        .await;
    let expected = gongyi::domain::grant::blacklist_until(chrono::Utc::now().date_naive(), 3);
    assert_eq!(
        o.body["blacklisted_until"],
        expected.to_string(),
        "{}",
        o.body
    );

    // No more money, no more milestones.
    let r = request_payout(&app, &fin_a, g, 1, "1", "after-termination").await;
    assert_eq!((r.status, r.code()), (409, "invalid_state"));
    let r = app
        .post(
            &format!("/payouts/{pending}/approve"),
            Some(&fin_b),
            json!({}),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "invalid_state"));
    let r = milestone(
        &app,
        &f.admin,
        g,
        json!({"milestone": "final_evaluation", "score": "90"}),
    )
    .await;
    assert_eq!((r.status, r.code()), (409, "invalid_state"));

    // The next round refuses the organization's submission.
    let (round, _) = open_round(&app, round_body("venture_philanthropy")).await;
    let id = ready_draft(&app, &applicant, &round, "新一届项目").await;
    let r = app
        .post(
            &format!("/applications/{id}/submit"),
            Some(&applicant),
            json!({}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "rule_violation"));
    assert!(
        r.rules().contains(&"not_blacklisted".to_string()),
        "{:?}",
        r.rules()
    );
    assert!(app.outbox_count("termination").await >= 1);
}

#[tokio::test]
async fn the_rounds_pass_mark_decides_and_blacklisting_can_be_shortened() {
    let app = crate::helpers::spawn_app().await;
    let org = app.add_organization("高标准机构").await;
    let applicant = app.applicant_of(org).await;
    let mut body = round_body("venture_philanthropy");
    body["rules"] = json!({"evaluation_pass_mark": "70"});
    let f = funded_grant(&app, &applicant, "50000", None, Some(body)).await;
    milestone(
        &app,
        &f.admin,
        &f.grant,
        json!({"milestone": "agreement_signed"}),
    )
    .await;
    let r = milestone(
        &app,
        &f.admin,
        &f.grant,
        json!({"milestone": "mid_term_evaluation", "score": "65", "blacklist_years": 1}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["milestones"][1]["grade"], "B");
    assert_eq!(
        r.body["milestones"][1]["passed"], false,
        "65 is below this round's 70"
    );
    assert_eq!(r.body["status"], "terminated");
    let o = app
        .get(&format!("/organizations/{org}"), Some(&f.admin))
        .await;
    let expected = gongyi::domain::grant::blacklist_until(chrono::Utc::now().date_naive(), 1);
    assert_eq!(o.body["blacklisted_until"], expected.to_string());
}

#[tokio::test]
async fn a_second_year_grant_links_to_its_first_year() {
    let app = crate::helpers::spawn_app().await;
    let org = app.add_organization("两年期项目机构").await;
    let applicant = app.applicant_of(org).await;
    let first = funded_grant(&app, &applicant, "60000", None, None).await;
    let second = funded_grant(&app, &applicant, "40000", Some(&first.application), None).await;
    let r = app
        .get(&format!("/grants/{}", second.grant), Some(&applicant))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["previous_grant_id"], json!(first.grant));
    assert_eq!(r.body["previous_application_id"], json!(first.application));
    let r = app
        .get(&format!("/grants/{}", first.grant), Some(&applicant))
        .await;
    assert_eq!(r.body["previous_grant_id"], Value::Null);
    let r = app.get("/grants", Some(&applicant)).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn grants_are_visible_to_their_organization_finance_and_admin_only() {
    let app = crate::helpers::spawn_app().await;
    let (_, applicant) = app.signed_in(Role::Applicant).await;
    let (_, stranger) = app.signed_in(Role::Applicant).await;
    let (_, reviewer) = app.signed_in(Role::Reviewer).await;
    let (_, fin) = finance(&app).await;
    let f = funded_grant(&app, &applicant, "80000", None, None).await;
    let path = format!("/grants/{}", f.grant);
    assert_eq!(app.get(&path, Some(&applicant)).await.status, 200);
    assert_eq!(app.get(&path, Some(&fin)).await.status, 200);
    assert_eq!(app.get(&path, Some(&f.admin)).await.status, 200);
    let r = app.get(&path, Some(&stranger)).await;
    assert_eq!(
        (r.status, r.code()),
        (404, "not_found"),
        "another organization's grant is not found"
    );
    let r = app.get("/grants", Some(&stranger)).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0);
    assert_eq!(app.get(&path, Some(&reviewer)).await.status, 403);
    assert_eq!(app.get("/grants", Some(&reviewer)).await.status, 403);
    assert_eq!(app.get(&path, None).await.status, 401);
    let r = app
        .get(&format!("/grants/{}", Uuid::new_v4()), Some(&fin))
        .await;
    assert_eq!(r.status, 404);
    let r = app.get("/grants", Some(&fin)).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    assert!(
        r.body["items"][0].get("payouts").is_none(),
        "lists leave payouts out"
    );
    // Payout requests are finance's; applicants and admins cannot request.
    let r = request_payout(&app, &applicant, &f.grant, 1, "1", "k").await;
    assert_eq!(r.status, 403);
    let r = app.get("/payouts", Some(&applicant)).await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn a_tiny_award_splits_to_the_fen_and_empty_tranches_settle_when_due() {
    let app = crate::helpers::spawn_app().await;
    let (_, applicant) = app.signed_in(Role::Applicant).await;
    let f = funded_grant(&app, &applicant, "0.01", None, None).await;
    let r = app
        .get(&format!("/grants/{}", f.grant), Some(&f.admin))
        .await;
    let amounts: Vec<&str> = r.body["tranches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["amount"].as_str().unwrap())
        .collect();
    assert_eq!(amounts, vec!["0.01", "0.00", "0.00"]);
    milestone(
        &app,
        &f.admin,
        &f.grant,
        json!({"milestone": "agreement_signed"}),
    )
    .await;
    let r = milestone(
        &app,
        &f.admin,
        &f.grant,
        json!({"milestone": "mid_term_evaluation", "score": "88"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(tranche_statuses(&r.body), vec!["due", "paid", "scheduled"]);
}

#[tokio::test]
async fn the_openapi_document_describes_the_grant_routes() {
    let app = crate::helpers::spawn_app().await;
    let r = app.get("/openapi.json", None).await;
    let paths = &r.body["paths"];
    for p in [
        "/api/v1/grants",
        "/api/v1/grants/{id}",
        "/api/v1/grants/{id}/milestones",
        "/api/v1/grants/{id}/payouts",
        "/api/v1/payouts",
        "/api/v1/payouts/{id}/approve",
        "/api/v1/payouts/{id}/reject",
        "/api/v1/payouts/{id}/paid",
        "/api/v1/grants/{id}/ledger.csv",
        "/api/v1/grants/{id}/ledger.xlsx",
        "/api/v1/rounds/{id}/ledger.csv",
        "/api/v1/rounds/{id}/ledger.xlsx",
    ] {
        assert!(paths.get(p).is_some(), "{p} is documented");
    }
    let params = paths["/api/v1/grants/{id}/payouts"]["post"]["parameters"]
        .as_array()
        .unwrap();
    assert!(params
        .iter()
        .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header"));
}
