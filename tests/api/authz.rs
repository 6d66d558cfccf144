//! The authorization matrix (issue #8, part 1): every route × every kind of caller, with the
//! status each must get. The table is checked against the router's own route list (the OpenAPI
//! document is built from the same `api!` list that registers the handlers), so a new route
//! without rows fails this test.
//!
//! Callers: an admin; the applicant of the organization that owns the resources; an applicant of
//! another organization; a reviewer assigned to the application; a reviewer on the same panel
//! but not assigned; a finance user (not the payout's requester); no token at all.
//!
//! Expectations: `U` 401, `D` 403 (the role may never do this), `N` 404 (the resource is not one
//! the caller may see: never 403, so nothing leaks), `K` any 2xx, `P` authorized: anything but
//! 401/403/404 and 5xx (bodies are chosen to fail validation or state checks *after*
//! authorization where possible, so the world does not change under the table).
//!
//! The role is checked before the request is parsed: every `U` and `D` cell is also sent with a
//! body that is not JSON, one of the wrong type and (where the route reads one) a query string
//! it refuses, and must answer the same. The callers a row allows get 400/422 for those, so the
//! probes are really bad and the guard does not swallow validation.

use std::collections::{BTreeSet, HashMap};

use gongyi::domain::user::Role;
use reqwest::Method;
use serde_json::{json, Value};
use utoipa::OpenApi;
use uuid::Uuid;

use crate::applications::{budget, content};
use crate::attachments::{pdf, upload};
use crate::grants::{finance, funded_grant, milestone, request_payout};
use crate::helpers::{spawn_app, TestApp, PASSWORD};
use crate::review::{assignment_of, panel, reviewing_round, score, sheet};
use crate::rounds::{open_round, round_body};
use crate::spending::{expenditure, spend};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// 2xx.
    K,
    /// Passed authorization: not 401/403/404, not 5xx.
    P,
    /// 401 unauthorized.
    U,
    /// 403 forbidden.
    D,
    /// 404 not found.
    N,
}
use Expect::*;

const CALLERS: [&str; 7] = [
    "admin",
    "own applicant",
    "other applicant",
    "assigned reviewer",
    "unassigned reviewer",
    "finance",
    "anonymous",
];

/// Which resource `{id}` stands for in a row.
#[derive(Clone, Copy, Debug)]
enum Id {
    None,
    /// An open round (everyone signed in may read it).
    OpenRound,
    /// The round under review: the application, the panel, the assignment, the award decision.
    ReviewRound,
    /// A decided round (the grant's).
    DecidedRound,
    /// The own organization's application under review.
    Application,
    /// The own organization's approved (funded) application.
    FundedApplication,
    Organization,
    /// The assigned reviewer's assignment.
    Assignment,
    Grant,
    Payout,
    /// A user other than every caller.
    User,
    /// The own applicant's API token.
    Token,
    OutboxMessage,
    /// A draft expenditure of the grant.
    Expenditure,
    /// The grant's mid-term financial report.
    FinancialReport,
    /// A proposed budget adjustment of the grant.
    BudgetAdjustment,
    /// A receipt attached to the draft expenditure.
    Attachment,
}

struct Row {
    method: Method,
    path: &'static str,
    id: Id,
    /// Sent by the callers the row allows.
    body: Option<Value>,
    /// Sent by the callers the row refuses: well-formed, so that it is the scope that refuses
    /// an `N` caller (the body is read before the handler checks the scope, unlike the role).
    refused_body: Option<Value>,
    /// In the order of `CALLERS`.
    expect: [Expect; 7],
}

/// A body every handler refuses (422, `deny_unknown_fields`).
fn junk() -> Option<Value> {
    Some(json!({"not_a_field": true}))
}

fn row(method: Method, path: &'static str, id: Id, body: Body, expect: [Expect; 7]) -> Row {
    let (body, refused_body) = match body {
        Body::None => (None, None),
        Body::Same(b) => (Some(b.clone()), Some(b)),
        Body::Guarded(valid) => (junk(), Some(valid)),
    };
    Row {
        method,
        path,
        id,
        body,
        refused_body,
        expect,
    }
}

enum Body {
    None,
    /// The same body for every caller.
    Same(Value),
    /// Allowed callers send `junk()` (refused after authorization, so nothing changes); refused
    /// callers send this well-formed body.
    Guarded(Value),
}

/// The matrix. Rows whose allowed request changes the world for later rows come last.
fn table() -> Vec<Row> {
    use Id::*;
    let get = Method::GET;
    let post = Method::POST;
    let put = Method::PUT;
    let patch = Method::PATCH;
    let delete = Method::DELETE;
    //                                                           admin own other rev_in rev_out fin anon
    vec![
        row(
            get.clone(),
            "/healthz",
            None,
            Body::None,
            [K, K, K, K, K, K, K],
        ),
        row(
            get.clone(),
            "/readyz",
            None,
            Body::None,
            [K, K, K, K, K, K, K],
        ),
        row(
            get.clone(),
            "/metrics",
            None,
            Body::None,
            [K, D, D, D, D, D, U],
        ),
        // auth
        row(
            post.clone(),
            "/api/v1/auth/login",
            None,
            Body::Same(junk().unwrap()),
            [P, P, P, P, P, P, P],
        ),
        row(
            get.clone(),
            "/api/v1/me",
            None,
            Body::None,
            [K, K, K, K, K, K, U],
        ),
        row(
            post.clone(),
            "/api/v1/me/tokens",
            None,
            Body::Same(junk().unwrap()),
            [P, P, P, P, P, P, U],
        ),
        row(
            get.clone(),
            "/api/v1/me/tokens",
            None,
            Body::None,
            [K, K, K, K, K, K, U],
        ),
        row(
            delete.clone(),
            "/api/v1/me/tokens/{id}",
            Token,
            Body::None,
            [N, K, N, N, N, N, U],
        ),
        // users
        row(
            post.clone(),
            "/api/v1/users",
            None,
            Body::Guarded(
                json!({"email": "new@example.org", "name": "新用户", "role": "finance", "password": PASSWORD}),
            ),
            [P, D, D, D, D, D, U],
        ),
        row(
            get.clone(),
            "/api/v1/users",
            None,
            Body::None,
            [K, D, D, D, D, D, U],
        ),
        row(
            patch.clone(),
            "/api/v1/users/{id}",
            User,
            Body::Guarded(json!({"name": "改名"})),
            [P, D, D, D, D, D, U],
        ),
        // organizations
        row(
            post.clone(),
            "/api/v1/organizations",
            None,
            Body::Guarded(
                json!({"name": "新机构", "org_type": "private_non_enterprise", "district": "昆山市", "contact_person": "联系人", "contact_phone": "0512-1234567", "contact_email": "c@example.org"}),
            ),
            [P, D, D, D, D, D, U],
        ),
        row(
            get.clone(),
            "/api/v1/organizations",
            None,
            Body::None,
            [K, K, K, D, D, K, U],
        ),
        row(
            get.clone(),
            "/api/v1/organizations/{id}",
            Organization,
            Body::None,
            [K, K, N, D, D, K, U],
        ),
        row(
            patch.clone(),
            "/api/v1/organizations/{id}",
            Organization,
            Body::Same(json!({"contact_person": "联系人"})),
            [K, K, N, D, D, D, U],
        ),
        // rounds
        row(
            post.clone(),
            "/api/v1/rounds",
            None,
            Body::Guarded(round_body("venture_philanthropy")),
            [P, D, D, D, D, D, U],
        ),
        row(
            get.clone(),
            "/api/v1/rounds",
            None,
            Body::None,
            [K, K, K, K, K, K, U],
        ),
        row(
            get.clone(),
            "/api/v1/rounds/{id}",
            OpenRound,
            Body::None,
            [K, K, K, K, K, K, U],
        ),
        row(
            patch.clone(),
            "/api/v1/rounds/{id}",
            OpenRound,
            Body::Guarded(json!({"name": "改名"})),
            [P, D, D, D, D, D, U],
        ),
        row(
            post.clone(),
            "/api/v1/rounds/{id}/open",
            OpenRound,
            Body::None,
            [P, D, D, D, D, D, U],
        ),
        row(
            post.clone(),
            "/api/v1/rounds/{id}/close",
            DecidedRound,
            Body::None,
            [P, D, D, D, D, D, U],
        ),
        // applications
        row(
            post.clone(),
            "/api/v1/rounds/{id}/applications",
            OpenRound,
            Body::Guarded(content("项目")),
            [D, P, P, D, D, D, U],
        ),
        row(
            get.clone(),
            "/api/v1/applications",
            None,
            Body::None,
            [K, K, K, K, K, D, U],
        ),
        row(
            get.clone(),
            "/api/v1/applications/{id}",
            Application,
            Body::None,
            [K, K, N, K, N, D, U],
        ),
        row(
            patch.clone(),
            "/api/v1/applications/{id}",
            Application,
            Body::Same(content("改")),
            [D, P, N, D, D, D, U],
        ),
        row(
            put.clone(),
            "/api/v1/applications/{id}/budget",
            Application,
            Body::Same(budget("50000.00")),
            [D, P, N, D, D, D, U],
        ),
        row(
            post.clone(),
            "/api/v1/applications/{id}/validate",
            Application,
            Body::None,
            [P, P, N, D, D, D, U],
        ),
        row(
            post.clone(),
            "/api/v1/applications/{id}/submit",
            Application,
            Body::None,
            [D, P, N, D, D, D, U],
        ),
        row(
            post.clone(),
            "/api/v1/applications/{id}/withdraw",
            FundedApplication,
            Body::None,
            [D, P, N, D, D, D, U],
        ),
        row(
            post.clone(),
            "/api/v1/applications/{id}/screen",
            Application,
            Body::Same(json!({"eligible": true})),
            [P, D, D, D, D, D, U],
        ),
        // review
        row(
            post.clone(),
            "/api/v1/rounds/{id}/reviewers",
            ReviewRound,
            Body::Guarded(json!({"reviewer_id": Uuid::new_v4()})),
            [P, D, D, D, D, D, U],
        ),
        row(
            get.clone(),
            "/api/v1/rounds/{id}/reviewers",
            ReviewRound,
            Body::None,
            [K, D, D, D, D, D, U],
        ),
        row(
            post.clone(),
            "/api/v1/rounds/{id}/assignments",
            ReviewRound,
            Body::Guarded(json!({"mode": "auto"})),
            [P, D, D, D, D, D, U],
        ),
        row(
            get.clone(),
            "/api/v1/assignments",
            None,
            Body::None,
            [K, D, D, K, K, D, U],
        ),
        row(
            get.clone(),
            "/api/v1/assignments/{id}",
            Assignment,
            Body::None,
            [K, D, D, K, N, D, U],
        ),
        row(
            put.clone(),
            "/api/v1/assignments/{id}/scores",
            Assignment,
            Body::Same(json!({"scores": sheet(60, "5")})),
            [D, D, D, P, N, D, U],
        ),
        row(
            post.clone(),
            "/api/v1/assignments/{id}/submit",
            Assignment,
            Body::None,
            [D, D, D, P, N, D, U],
        ),
        row(
            post.clone(),
            "/api/v1/assignments/{id}/reopen",
            Assignment,
            Body::Guarded(json!({"reason": "复核"})),
            [P, D, D, D, D, D, U],
        ),
        row(
            get.clone(),
            "/api/v1/rounds/{id}/ranking",
            ReviewRound,
            Body::None,
            [K, D, D, D, D, D, U],
        ),
        // awards
        row(
            post.clone(),
            "/api/v1/rounds/{id}/awards/preview",
            ReviewRound,
            Body::Same(json!({})),
            [P, D, D, D, D, D, U],
        ),
        row(
            post.clone(),
            "/api/v1/rounds/{id}/awards",
            ReviewRound,
            Body::Guarded(json!({})),
            [P, D, D, D, D, D, U],
        ),
        row(
            get.clone(),
            "/api/v1/rounds/{id}/awards",
            ReviewRound,
            Body::None,
            [K, D, D, D, D, D, U],
        ),
        row(
            post.clone(),
            "/api/v1/rounds/{id}/awards/objections",
            ReviewRound,
            Body::Guarded(json!({"objection": "评分异议"})),
            [P, D, D, D, D, D, U],
        ),
        row(
            post.clone(),
            "/api/v1/rounds/{id}/awards/finalize",
            ReviewRound,
            Body::None,
            [P, D, D, D, D, D, U],
        ),
        // grants and ledgers
        row(
            get.clone(),
            "/api/v1/grants",
            None,
            Body::None,
            [K, K, K, D, D, K, U],
        ),
        row(
            get.clone(),
            "/api/v1/grants/{id}",
            Grant,
            Body::None,
            [K, K, N, D, D, K, U],
        ),
        row(
            post.clone(),
            "/api/v1/grants/{id}/milestones",
            Grant,
            Body::Guarded(json!({"milestone": "agreement_signed"})),
            [P, D, D, D, D, D, U],
        ),
        row(
            post.clone(),
            "/api/v1/grants/{id}/payouts",
            Grant,
            Body::Guarded(json!({"tranche_number": 1, "amount": "1.00"})),
            [D, D, D, D, D, P, U],
        ),
        row(
            get.clone(),
            "/api/v1/grants/{id}/ledger.csv",
            Grant,
            Body::None,
            [K, D, D, D, D, K, U],
        ),
        row(
            get.clone(),
            "/api/v1/grants/{id}/ledger.xlsx",
            Grant,
            Body::None,
            [K, D, D, D, D, K, U],
        ),
        row(
            get.clone(),
            "/api/v1/rounds/{id}/ledger.csv",
            DecidedRound,
            Body::None,
            [K, D, D, D, D, K, U],
        ),
        row(
            get.clone(),
            "/api/v1/rounds/{id}/ledger.xlsx",
            DecidedRound,
            Body::None,
            [K, D, D, D, D, K, U],
        ),
        // payouts
        row(
            get.clone(),
            "/api/v1/payouts",
            None,
            Body::None,
            [K, D, D, D, D, K, U],
        ),
        row(
            post.clone(),
            "/api/v1/payouts/{id}/reject",
            Payout,
            Body::Guarded(json!({"reason": "不符"})),
            [D, D, D, D, D, P, U],
        ),
        row(
            post.clone(),
            "/api/v1/payouts/{id}/paid",
            Payout,
            Body::Guarded(json!({"bank_reference": "BOC-1", "value_date": "2026-01-01"})),
            [D, D, D, D, D, P, U],
        ),
        // outbox and audit
        row(
            get.clone(),
            "/api/v1/outbox",
            None,
            Body::None,
            [K, D, D, D, D, D, U],
        ),
        row(
            post.clone(),
            "/api/v1/outbox/{id}/retry",
            OutboxMessage,
            Body::None,
            [P, D, D, D, D, D, U],
        ),
        row(
            get.clone(),
            "/api/v1/audit",
            None,
            Body::None,
            [K, D, D, D, D, D, U],
        ),
        row(
            get.clone(),
            "/api/v1/audit/verify",
            None,
            Body::None,
            [K, D, D, D, D, D, U],
        ),
        // spending and attachments
        row(
            post.clone(),
            "/api/v1/grants/{id}/expenditures",
            Grant,
            Body::Guarded(
                json!({"category": "activities", "description": "物资", "amount": "1.00",
                "spent_on": "2026-10-01", "payee": "超市"}),
            ),
            [D, P, N, D, D, D, U],
        ),
        row(
            get.clone(),
            "/api/v1/grants/{id}/expenditures",
            Grant,
            Body::None,
            [K, K, N, D, D, K, U],
        ),
        row(
            get.clone(),
            "/api/v1/expenditures/{id}",
            Expenditure,
            Body::None,
            [K, K, N, D, D, K, U],
        ),
        row(
            patch.clone(),
            "/api/v1/expenditures/{id}",
            Expenditure,
            Body::Guarded(json!({"amount": "2.00"})),
            [D, P, N, D, D, D, U],
        ),
        row(
            get.clone(),
            "/api/v1/grants/{id}/budget-execution",
            Grant,
            Body::None,
            [K, K, N, D, D, K, U],
        ),
        row(
            post.clone(),
            "/api/v1/grants/{id}/financial-reports",
            Grant,
            Body::Guarded(json!({"period": "final"})),
            [D, P, N, D, D, D, U],
        ),
        row(
            get.clone(),
            "/api/v1/grants/{id}/financial-reports",
            Grant,
            Body::None,
            [K, K, N, D, D, K, U],
        ),
        row(
            get.clone(),
            "/api/v1/financial-reports/{id}",
            FinancialReport,
            Body::None,
            [K, K, N, D, D, K, U],
        ),
        row(
            post.clone(),
            "/api/v1/grants/{id}/budget-adjustments",
            Grant,
            Body::Guarded(
                json!({"reason": "调整", "moves": [{"from_line": Uuid::new_v4(),
                "to_line": Uuid::new_v4(), "amount": "1.00"}]}),
            ),
            [P, P, N, D, D, D, U],
        ),
        row(
            get.clone(),
            "/api/v1/grants/{id}/budget-adjustments",
            Grant,
            Body::None,
            [K, K, N, D, D, K, U],
        ),
        row(
            post.clone(),
            "/api/v1/budget-adjustments/{id}/approve",
            BudgetAdjustment,
            Body::Guarded(json!({})),
            [P, D, D, D, D, D, U],
        ),
        row(
            post.clone(),
            "/api/v1/budget-adjustments/{id}/reject",
            BudgetAdjustment,
            Body::Guarded(json!({"note": "不同意"})),
            [P, D, D, D, D, D, U],
        ),
        // Uploads: allowed callers send a JSON body, refused as not multipart (415) or for the
        // owner's state (409) once authorized.
        row(
            post.clone(),
            "/api/v1/applications/{id}/attachments",
            Application,
            Body::None,
            [D, P, N, D, D, D, U],
        ),
        row(
            get.clone(),
            "/api/v1/applications/{id}/attachments",
            Application,
            Body::None,
            [K, K, N, K, N, K, U],
        ),
        row(
            post.clone(),
            "/api/v1/grants/{id}/attachments",
            Grant,
            Body::None,
            [P, P, N, D, D, D, U],
        ),
        row(
            get.clone(),
            "/api/v1/grants/{id}/attachments",
            Grant,
            Body::None,
            [K, K, N, D, D, K, U],
        ),
        row(
            post.clone(),
            "/api/v1/expenditures/{id}/attachments",
            Expenditure,
            Body::None,
            [D, P, N, D, D, D, U],
        ),
        row(
            get.clone(),
            "/api/v1/expenditures/{id}/attachments",
            Expenditure,
            Body::None,
            [K, K, N, D, D, K, U],
        ),
        row(
            get.clone(),
            "/api/v1/attachments/{id}",
            Attachment,
            Body::None,
            [K, K, N, N, N, K, U],
        ),
        // Last: these change the world when allowed (the payout is approved, the assigned
        // reviewer recuses and stops seeing the application).
        row(
            post.clone(),
            "/api/v1/payouts/{id}/approve",
            Payout,
            Body::None,
            [D, D, D, D, D, K, U],
        ),
        row(
            post,
            "/api/v1/assignments/{id}/conflict",
            Assignment,
            Body::Same(json!({"reason": "亲属关系"})),
            [D, D, D, P, N, D, U],
        ),
        // The receipt, then its expenditure, are deleted by the grantee.
        row(
            delete.clone(),
            "/api/v1/attachments/{id}",
            Attachment,
            Body::None,
            [D, K, N, D, D, D, U],
        ),
        row(
            delete.clone(),
            "/api/v1/expenditures/{id}",
            Expenditure,
            Body::None,
            [D, K, N, D, D, D, U],
        ),
    ]
}

struct World {
    /// One token per caller, in the order of `CALLERS` (`None` for anonymous).
    tokens: Vec<Option<String>>,
    ids: HashMap<&'static str, String>,
}

impl World {
    fn id(&self, id: Id) -> Option<&str> {
        let key = match id {
            Id::None => return None,
            Id::OpenRound => "open_round",
            Id::ReviewRound => "review_round",
            Id::DecidedRound => "decided_round",
            Id::Application => "application",
            Id::FundedApplication => "funded_application",
            Id::Organization => "organization",
            Id::Assignment => "assignment",
            Id::Grant => "grant",
            Id::Payout => "payout",
            Id::User => "user",
            Id::Token => "token",
            Id::OutboxMessage => "outbox",
            Id::Expenditure => "expenditure",
            Id::FinancialReport => "report",
            Id::BudgetAdjustment => "adjustment",
            Id::Attachment => "attachment",
        };
        Some(self.ids[key].as_str())
    }
}

async fn build_world(app: &TestApp) -> World {
    let mut ids = HashMap::new();
    // The round under review: one application of the own organization, two panel members, one
    // of them assigned and done scoring, the awards published (public notice).
    let f = reviewing_round(app, 1, "500000.00", json!({"min_reviewers": 1}), &[]).await;
    let (application, organization, own) = f.apps[0].clone();
    let reviewers = panel(app, &f, 3).await;
    let r = app
        .post(
            &format!("/rounds/{}/assignments", f.round),
            Some(&f.admin),
            json!({"mode": "manual", "pairs": [
                {"application_id": application, "reviewer_id": reviewers[0].0}
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let assignment = assignment_of(app, &reviewers[0].1, &application).await;
    score(app, &reviewers[0].1, &application, 70, "5").await;
    let r = app
        .post(
            &format!("/rounds/{}/awards", f.round),
            Some(&f.admin),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "awards published: {}", r.body);

    // A grant of the own organization (a decided round) with a requested payout.
    let funded = funded_grant(app, &own, "100000.00", None, None).await;
    let r = milestone(
        app,
        &funded.admin,
        &funded.grant,
        json!({"milestone": "agreement_signed", "note": "协议已签"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (_, maker) = finance(app).await;
    let (_, checker) = finance(app).await;
    let r = request_payout(app, &maker, &funded.grant, 1, "100.00", "authz-1").await;
    assert_eq!(r.status, 201, "{}", r.body);
    ids.insert("payout", r.body["id"].as_str().unwrap().to_string());

    // Its spending: a mid-term report (freezing nothing), then a draft expenditure with a
    // receipt, and a proposed budget adjustment.
    let r = app
        .post(
            &format!("/grants/{}/financial-reports", funded.grant),
            Some(&own),
            json!({"period": "mid_term"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    ids.insert("report", r.body["id"].as_str().unwrap().to_string());
    let r = spend(
        app,
        &own,
        &funded.grant,
        expenditure("activities", json!("100.00"), None),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let exp = r.body["id"].as_str().unwrap().to_string();
    let r = upload(
        app,
        &own,
        &format!("/expenditures/{exp}/attachments"),
        "收据.pdf",
        "receipt",
        &pdf(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    ids.insert("attachment", r.body["id"].as_str().unwrap().to_string());
    ids.insert("expenditure", exp);
    let r = app
        .get(
            &format!("/grants/{}/budget-execution", funded.grant),
            Some(&own),
        )
        .await;
    let line = |i: usize| r.body["lines"][i]["budget_line"].clone();
    let r = app
        .post(
            &format!("/grants/{}/budget-adjustments", funded.grant),
            Some(&own),
            json!({"reason": "活动增加", "moves": [{"from_line": line(0), "to_line": line(1), "amount": "1.00"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    ids.insert("adjustment", r.body["id"].as_str().unwrap().to_string());

    let (open, _) = open_round(app, round_body("venture_philanthropy")).await;
    let (_, other) = app.signed_in(Role::Applicant).await;
    let r = app
        .post("/me/tokens", Some(&own), json!({"name": "报表脚本"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    ids.insert("token", r.body["id"].as_str().unwrap().to_string());
    let r = app.get("/outbox", Some(&f.admin)).await;
    let message = r.body["items"][0]["id"].clone();
    assert!(message.is_i64(), "submission queued an email: {}", r.body);

    ids.insert("open_round", open);
    ids.insert("review_round", f.round.clone());
    ids.insert("decided_round", funded.round.clone());
    ids.insert("application", application);
    ids.insert("funded_application", funded.application.clone());
    ids.insert("organization", organization.to_string());
    ids.insert("assignment", assignment);
    ids.insert("grant", funded.grant.clone());
    ids.insert("user", reviewers[2].0.to_string());
    ids.insert("outbox", message.to_string());
    World {
        tokens: vec![
            Some(f.admin.clone()),
            Some(own),
            Some(other),
            Some(reviewers[0].1.clone()),
            Some(reviewers[1].1.clone()),
            Some(checker),
            None,
        ],
        ids,
    }
}

/// Not JSON at all (400 `malformed_json` where the body is read).
const MALFORMED: &str = "{";
/// JSON of the wrong type for every body the API reads (422 `validation_failed`): a number
/// where an object belongs (`[]` would do for most, but a body whose fields all default takes
/// an empty array).
const WRONG_TYPED: &str = "5";
/// Every query struct denies unknown parameters (400 `invalid_query`).
const BAD_QUERY: &str = "no_such_parameter=1&limit=many";

/// The routes that read a query string, as (METHOD, path template), from the OpenAPI document.
fn query_routes() -> BTreeSet<(String, String)> {
    let doc = serde_json::to_value(gongyi::http::routes::ApiDoc::openapi()).unwrap();
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let params = op["parameters"].as_array().into_iter().flatten();
            if params.clone().any(|p| p["in"] == "query") {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

/// What a request carries besides its token.
enum Sent<'a> {
    Json(Option<&'a Value>),
    Raw(&'static str),
}

fn matches(expect: Expect, status: u16) -> bool {
    match expect {
        K => (200..300).contains(&status),
        P => !matches!(status, 401 | 403 | 404) && status < 500,
        U => status == 401,
        D => status == 403,
        N => status == 404,
    }
}

/// Every route the server serves, as (METHOD, path template), from the OpenAPI document that the
/// same `api!` list builds.
fn served_routes() -> BTreeSet<(String, String)> {
    let doc = gongyi::http::routes::ApiDoc::openapi();
    let doc = serde_json::to_value(&doc).unwrap();
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[test]
fn every_served_route_has_a_row_and_every_row_a_route() {
    let served = served_routes();
    let rows: Vec<(String, String)> = table()
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    let listed: BTreeSet<_> = rows.iter().cloned().collect();
    assert_eq!(rows.len(), listed.len(), "a route is listed twice");
    let missing: Vec<_> = served.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "routes without authorization rows: {missing:?}"
    );
    let stale: Vec<_> = listed.difference(&served).collect();
    assert!(
        stale.is_empty(),
        "rows for routes that do not exist: {stale:?}"
    );
    // Every path placeholder is `{id}`, which the matrix substitutes.
    for r in table() {
        let placeholders = r.path.matches('{').count();
        assert_eq!(
            placeholders,
            usize::from(!matches!(r.id, Id::None)),
            "{} {}: the row's id does not fit the path",
            r.method,
            r.path
        );
        assert!(placeholders == 0 || r.path.contains("{id}"), "{}", r.path);
    }
}

#[tokio::test]
async fn every_route_answers_every_caller_as_the_matrix_says() {
    let app = spawn_app().await;
    let world = build_world(&app).await;
    let with_query = query_routes();
    let mut failures = vec![];
    let mut sent = 0;
    for r in table() {
        let path = match world.id(r.id) {
            Some(id) => r.path.replace("{id}", id),
            None => r.path.to_string(),
        };
        let reads_query = with_query.contains(&(r.method.to_string(), r.path.to_string()));
        // Refusals first, so an allowed request that changes something cannot change what a
        // refused caller sees.
        let mut order: Vec<usize> = (0..CALLERS.len()).collect();
        order.sort_by_key(|&i| matches!(r.expect[i], K | P));
        for i in order {
            let expect = r.expect[i];
            let body = if matches!(expect, K | P) {
                &r.body
            } else {
                &r.refused_body
            };
            // (query, body, what must be answered) for each request of the cell: the matrix's
            // own first, then the probes of a guard that answers before the request is parsed.
            let mut requests = vec![("", Sent::Json(body.as_ref()), Ok(expect))];
            match expect {
                U | D => {
                    requests.push(("", Sent::Raw(MALFORMED), Ok(expect)));
                    requests.push(("", Sent::Raw(WRONG_TYPED), Ok(expect)));
                    if reads_query {
                        requests.push((BAD_QUERY, Sent::Json(body.as_ref()), Ok(expect)));
                    }
                }
                K | P => {
                    // A row with a body is a route that reads JSON.
                    if r.body.is_some() {
                        requests.push(("", Sent::Raw(MALFORMED), Err((400, "malformed_json"))));
                        requests.push((
                            "",
                            Sent::Raw(WRONG_TYPED),
                            Err((422, "validation_failed")),
                        ));
                    }
                    if reads_query {
                        requests.push((BAD_QUERY, Sent::Json(None), Err((400, "invalid_query"))));
                    }
                }
                N => {}
            }
            for (query, body, wanted) in requests {
                let url = match query {
                    "" => format!("{}{}", app.address, path),
                    q => format!("{}{}?{}", app.address, path, q),
                };
                let mut req = app.client.request(r.method.clone(), url);
                if let Some(t) = &world.tokens[i] {
                    req = req.bearer_auth(t);
                }
                let shown = match body {
                    Sent::Json(None) => String::new(),
                    Sent::Json(Some(b)) => {
                        req = req.json(b);
                        String::new()
                    }
                    Sent::Raw(raw) => {
                        req = req.header("content-type", "application/json").body(raw);
                        format!(" with body {raw}")
                    }
                };
                let res = app.send(req).await;
                sent += 1;
                let ok = match wanted {
                    Ok(U) => (res.status, res.body["code"].as_str()) == (401, Some("unauthorized")),
                    Ok(D) => (res.status, res.body["code"].as_str()) == (403, Some("forbidden")),
                    Ok(e) => matches(e, res.status),
                    Err((status, code)) => {
                        (res.status, res.body["code"].as_str()) == (status, Some(code))
                    }
                };
                if !ok {
                    let wanted = match wanted {
                        Ok(e) => format!("{e:?}"),
                        Err((status, code)) => format!("{status} {code}"),
                    };
                    failures.push(format!(
                        "{} {}{}{shown} as {}: expected {wanted}, got {} {}",
                        r.method,
                        r.path,
                        if query.is_empty() { "" } else { "?<bad query>" },
                        CALLERS[i],
                        res.status,
                        res.body
                    ));
                }
                // A refusal says nothing about the resource: 403 is about the role, 404 is the
                // same answer as for a resource that does not exist.
                if res.status == 404 {
                    assert_eq!(res.body["code"], "not_found", "{}", res.body);
                }
            }
        }
    }
    assert!(sent >= table().len() * CALLERS.len());
    assert!(
        failures.is_empty(),
        "{} of {sent} answers differ from the matrix:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The guard's refusal is the problem a handler's was: `forbidden`, its detail in the reader's
/// language, whatever the body.
#[tokio::test]
async fn a_refused_role_reads_why_in_its_language() {
    let app = spawn_app().await;
    let (_, finance) = app.signed_in(Role::Finance).await;
    for (lang, detail) in [
        (None, "“财务人员”角色无权执行此操作"),
        (Some("en"), "the `finance` role may not do this"),
    ] {
        let mut req = app
            .client
            .post(app.url("/rounds"))
            .bearer_auth(&finance)
            .header("content-type", "application/json")
            .body(MALFORMED);
        if let Some(lang) = lang {
            req = req.header("accept-language", lang);
        }
        let r = app.send(req).await;
        assert_eq!((r.status, r.code()), (403, "forbidden"), "{}", r.body);
        assert_eq!(r.body["detail"], detail, "{}", r.body);
    }
}

/// A caller that may not see a resource gets exactly what it gets for one that does not exist.
#[tokio::test]
async fn hidden_and_missing_resources_answer_the_same() {
    let app = spawn_app().await;
    let org = app.add_organization("甲机构").await;
    let own = app.applicant_of(org).await;
    let (_, other) = app.signed_in(Role::Applicant).await;
    let hidden = app
        .get(&format!("/organizations/{org}"), Some(&other))
        .await;
    let missing = app
        .get(&format!("/organizations/{}", Uuid::new_v4()), Some(&other))
        .await;
    assert_eq!(hidden.status, 404);
    assert_eq!(hidden.body, missing.body);
    let seen = app.get(&format!("/organizations/{org}"), Some(&own)).await;
    assert_eq!(seen.status, 200);
}
