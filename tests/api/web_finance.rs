//! The finance pages over real HTTP: the work queue, the payout list and page with the
//! maker-checker forms, the grant page by role with its request forms (idempotent per
//! rendering, never a fen over the tranche under a race), the ledger downloads; and the walk
//! of two finance users in headless Chromium.

use std::sync::Arc;

use diesel_async::RunQueryDsl;
use gongyi::domain::user::{Language, Role};
use rust_decimal::Decimal;
use serde_json::json;
use uuid::Uuid;

use crate::grants::{funded_grant, milestone, request_payout, Funded};
use crate::helpers::{spawn_app, TestApp, PASSWORD};
use crate::web::{section, Page, PageClient};

/// A user with a name of its own (the pages show names), signed in through the form.
async fn person(app: &TestApp, role: Role, name: &str, org: Option<Uuid>) -> (PageClient, Uuid) {
    let email = format!("{role}-{}@example.org", Uuid::new_v4().simple());
    let id = gongyi::service::users::create(
        &app.db,
        &app.settings.auth,
        gongyi::service::users::NewUserInput {
            email: email.clone(),
            name: name.into(),
            role,
            organization_id: org,
            password: PASSWORD.into(),
            language: Language::Zh,
        },
        None,
    )
    .await
    .expect("user created")
    .id;
    (PageClient::sign_in(app, &email).await, id)
}

/// An applicant organization with a grant of `award` whose first tranche is due.
struct Setting {
    f: Funded,
    org: Uuid,
    applicant_token: String,
}

async fn due_grant(app: &TestApp, org_name: &str, award: &str) -> Setting {
    let org = app.add_organization(org_name).await;
    let applicant_token = app.applicant_of(org).await;
    let f = funded_grant(app, &applicant_token, award, None, None).await;
    let r = milestone(
        app,
        &f.admin,
        &f.grant,
        json!({"milestone": "agreement_signed"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    Setting {
        f,
        org,
        applicant_token,
    }
}

/// The value of the hidden `idempotency_key` in the request form of `tranche`.
fn key_of(html: &str, tranche: u32) -> String {
    let form = &html[html
        .find(&format!("id=\"request-form-{tranche}\""))
        .unwrap_or_else(|| panic!("no request form for tranche {tranche}:\n{html}"))..];
    let marker = "name=\"idempotency_key\" value=\"";
    let at = form.find(marker).unwrap() + marker.len();
    form[at..at + form[at..].find('"').unwrap()].to_string()
}

/// Posts the request form of `tranche` as rendered now (its own key), with `amount`.
async fn request_form(c: &PageClient, grant: &str, tranche: u32, amount: &str) -> Page {
    let page = c.get(&format!("/grants/{grant}")).await;
    assert_eq!(page.status, 200, "{}", page.html);
    let key = key_of(&page.html, tranche);
    c.post(
        &format!("/grants/{grant}/payouts"),
        &[
            ("idempotency_key", &key),
            ("tranche_number", &tranche.to_string()),
            ("amount", amount),
        ],
    )
    .await
}

/// The payout id of a redirect to its page.
fn payout_of(p: &Page) -> String {
    assert_eq!(p.status, 303, "{}", p.html);
    let loc = p.location.as_deref().unwrap();
    let rest = loc.strip_prefix("/payouts/").expect("to the payout's page");
    rest[..rest.find('?').unwrap_or(rest.len())].to_string()
}

/// Status and count of the grant's payouts, straight from the table.
async fn payouts_in_db(app: &TestApp, grant: &str) -> Vec<(String, Decimal)> {
    #[derive(diesel::QueryableByName)]
    struct P {
        #[diesel(sql_type = diesel::sql_types::Text)]
        status: String,
        #[diesel(sql_type = diesel::sql_types::Numeric)]
        amount: Decimal,
    }
    let mut conn = app.db.conn().await.unwrap();
    diesel::sql_query(
        "SELECT status, amount FROM payouts WHERE grant_id = $1 ORDER BY requested_at",
    )
    .bind::<diesel::sql_types::Uuid, _>(Uuid::parse_str(grant).unwrap())
    .load::<P>(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .map(|p| (p.status, p.amount))
    .collect()
}

#[tokio::test]
async fn the_work_queue_follows_a_payout_from_due_to_paid() {
    let app = spawn_app().await;
    let s = due_grant(&app, "昆山市玉山镇阳光助老服务中心", "100000.02").await;
    let (f1, _) = person(&app, Role::Finance, "财务 张会计", None).await;
    let (f2, _) = person(&app, Role::Finance, "财务 李出纳", None).await;

    // Due, no request yet: both see it with what is available (50% of the award, exact).
    let home = f1.get("/").await;
    assert_eq!(home.status, 200, "{}", home.html);
    let due = section(&home.html, "due");
    assert!(due.contains("社区居家养老助餐"), "{due}");
    assert!(due.contains("昆山市玉山镇阳光助老服务中心"));
    assert!(due.contains("¥50,000.01"), "{due}");
    assert!(due.contains(&format!("/grants/{}#tranche-1", s.f.grant)));

    let pid = payout_of(&request_form(&f1, &s.f.grant, 1, "20000").await);

    // Mine for finance1, to decide for finance2 (with the requester's name), off the due list.
    let home1 = f1.get("/").await.html;
    assert!(section(&home1, "mine").contains(&pid));
    assert!(!section(&home1, "to-decide").contains(&pid));
    assert!(!section(&home1, "due").contains("社区居家养老助餐"));
    let home2 = f2.get("/").await.html;
    let to_decide = section(&home2, "to-decide");
    assert!(to_decide.contains(&pid), "{to_decide}");
    assert!(to_decide.contains("财务 张会计") && to_decide.contains("¥20,000.00"));
    assert!(!section(&home2, "mine").contains(&pid));

    let r = f2.post(&format!("/payouts/{pid}/approve"), &[]).await;
    assert_eq!(r.status, 303, "{}", r.html);
    let home2 = f2.get("/").await.html;
    assert!(section(&home2, "to-pay").contains(&pid));
    assert!(!section(&home2, "to-decide").contains(&pid));
    // The rest of the tranche is due again, with no pending request.
    assert!(
        section(&home2, "due").contains("¥30,000.01"),
        "{}",
        section(&home2, "due")
    );

    let r = f1
        .post(
            &format!("/payouts/{pid}/paid"),
            &[
                ("bank_reference", "ICBC-2026-0001"),
                ("value_date", "2026-12-01"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let home1 = f1.get("/").await.html;
    for id in ["to-decide", "mine", "to-pay"] {
        assert!(!section(&home1, id).contains(&pid), "{id}");
    }

    // An admin reads the queue's pages but decides nothing; others have no queue.
    let (admin, _) = person(&app, Role::Admin, "项目办 管理员", None).await;
    assert_eq!(admin.get("/payouts").await.status, 200);
    let (applicant, _) = person(&app, Role::Applicant, "申报人", Some(s.org)).await;
    let home = applicant.get("/").await.html;
    assert!(!home.contains("id=\"to-decide\""));
}

#[tokio::test]
async fn maker_checker_forms_refuse_the_requester_other_roles_forgeries_and_no_session() {
    let app = spawn_app().await;
    let s = due_grant(&app, "苏州市姑苏区妇女儿童关爱协会", "100000").await;
    let (f1, _) = person(&app, Role::Finance, "财务 张会计", None).await;
    let (f2, _) = person(&app, Role::Finance, "财务 李出纳", None).await;
    let (admin, _) = person(&app, Role::Admin, "项目办", None).await;
    let (reviewer, _) = person(&app, Role::Reviewer, "评审专家 王", None).await;
    let (applicant, _) = person(&app, Role::Applicant, "关爱协会 申报人", Some(s.org)).await;
    let pid = payout_of(&request_form(&f1, &s.f.grant, 1, "20000.00").await);
    let approve = format!("/payouts/{pid}/approve");
    let reject = format!("/payouts/{pid}/reject");
    let still_requested = || async {
        let ps = payouts_in_db(&app, &s.f.grant).await;
        assert_eq!(ps, vec![("requested".to_string(), Decimal::new(20000, 0))]);
    };

    // The requester sees the payout, is told someone else decides, and has no decision form.
    let own = f1.get(&format!("/payouts/{pid}")).await;
    assert_eq!(own.status, 200);
    assert!(own.html.contains("id=\"own-request\""));
    assert!(!own.html.contains("id=\"approve-form\"") && !own.html.contains("id=\"reject-form\""));
    assert!(own.html.contains("财务 张会计"), "the requester by name");
    // A forged approval or rejection by the requester: the 403 page, nothing changes.
    let r = f1.post(&approve, &[]).await;
    assert_eq!(r.status, 403, "{}", r.html);
    assert!(r.html.contains("申请人以外的其他财务人员"), "{}", r.html);
    let r = f1.post(&reject, &[("reason", "自己驳回")]).await;
    assert_eq!(r.status, 403);
    still_requested().await;

    // Other roles: applicant and reviewer are refused the pages and the forms; the admin reads
    // the page without forms and may not decide.
    for c in [&applicant, &reviewer] {
        assert_eq!(c.get("/payouts").await.status, 403);
        assert_eq!(c.get(&format!("/payouts/{pid}")).await.status, 403);
        assert_eq!(c.post(&approve, &[]).await.status, 403);
    }
    let page = admin.get(&format!("/payouts/{pid}")).await;
    assert_eq!(page.status, 200);
    assert!(!page.html.contains("id=\"approve-form\""));
    assert_eq!(admin.post(&approve, &[]).await.status, 403);
    still_requested().await;

    // No session: to sign-in, nothing changes.
    let anon = PageClient::new(&app);
    let r = anon.get("/payouts").await;
    assert_eq!(r.status, 303);
    assert!(r.location.unwrap().starts_with("/login?next=/payouts"));
    let r = anon.get(&format!("/payouts/{pid}")).await;
    assert_eq!(r.status, 303);
    let r = anon.post_raw(&approve, &[]).await;
    assert!(matches!(r.status, 303 | 403), "{}", r.status);
    still_requested().await;

    // CSRF: finance2's approval without the session's token, or with another, is refused.
    assert_eq!(f2.post_raw(&approve, &[]).await.status, 403);
    assert_eq!(
        f2.post_raw(&approve, &[("csrf_token", &f1.csrf)])
            .await
            .status,
        403
    );
    // And an unsafe request from another site, even with the token.
    let r = f2
        .client
        .post(format!("{}{approve}", f2.base))
        .header("Origin", "https://evil.example")
        .form(&[("csrf_token", f2.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    still_requested().await;

    // finance2 sees the forms; a rejection needs a reason (shown beside the field, in Chinese).
    let page = f2.get(&format!("/payouts/{pid}")).await;
    assert!(page.html.contains("id=\"approve-form\"") && page.html.contains("id=\"reject-form\""));
    let r = f2.post(&reject, &[("reason", "  ")]).await;
    assert_eq!(r.status, 422);
    assert!(r.html.contains("驳回须填写理由"), "{}", r.html);
    still_requested().await;

    // Approved, by name; a second post of the same rendering shows the first result.
    let key = {
        let marker = "name=\"idempotency_key\" value=\"";
        let form = &page.html[page.html.find("id=\"approve-form\"").unwrap()..];
        let at = form.find(marker).unwrap() + marker.len();
        form[at..at + form[at..].find('"').unwrap()].to_string()
    };
    let first = f2.post(&approve, &[("idempotency_key", &key)]).await;
    assert_eq!(first.status, 303, "{}", first.html);
    assert!(first
        .location
        .as_deref()
        .unwrap()
        .ends_with("done=approved"));
    let again = f2.post(&approve, &[("idempotency_key", &key)]).await;
    assert_eq!(again.status, 303, "{}", again.html);
    assert!(again
        .location
        .as_deref()
        .unwrap()
        .ends_with("done=replayed"));
    // Without the key, the second approval is the conflict page.
    assert_eq!(f2.post(&approve, &[]).await.status, 409);
    let page = f2.get(&format!("/payouts/{pid}")).await.html;
    assert!(page.contains("data-status=\"approved\""));
    assert!(page.contains("id=\"approved-by\">财务 李出纳"), "{page}");
    assert!(!page.contains(&Uuid::nil().to_string()));

    // The payment: a future value date is refused beside the field, then recorded.
    let paid = format!("/payouts/{pid}/paid");
    let r = f1
        .post(
            &paid,
            &[("bank_reference", "ICBC-1"), ("value_date", "2099-01-01")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.html.contains("起息日不能晚于当前日期"), "{}", r.html);
    assert!(r.html.contains("value=\"ICBC-1\""), "what was typed stays");
    let r = f1
        .post(&paid, &[("bank_reference", ""), ("value_date", "x")])
        .await;
    assert_eq!(r.status, 422);
    assert!(r.html.contains("须填写银行流水号") && r.html.contains("日期格式"));
    assert_eq!(
        applicant
            .post(
                &paid,
                &[("bank_reference", "X"), ("value_date", "2026-12-01")]
            )
            .await
            .status,
        403
    );
    let r = f1
        .post(
            &paid,
            &[
                ("bank_reference", "ICBC-2026-0002"),
                ("value_date", "2026-12-01"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let page = f1.get(&format!("/payouts/{pid}?done=paid")).await.html;
    assert!(page.contains("id=\"bank-reference\">ICBC-2026-0002"));
    assert!(page.contains("已登记银行付款"));
    // The history names who did what.
    let history = section(&page, "history");
    assert!(
        history.contains("财务 张会计") && history.contains("财务 李出纳"),
        "{history}"
    );
    assert!(history.contains("批准拨付"));
    assert_eq!(
        payouts_in_db(&app, &s.f.grant).await,
        vec![("paid".to_string(), Decimal::new(20000, 0))]
    );

    // Rejection by the checker, with its reason shown.
    let pid2 = payout_of(&request_form(&f1, &s.f.grant, 1, "1000").await);
    let r = f2
        .post(
            &format!("/payouts/{pid2}/reject"),
            &[("reason", "金额与协议不符")],
        )
        .await;
    assert_eq!(r.status, 303);
    let page = f1.get(&format!("/payouts/{pid2}")).await.html;
    assert!(page.contains("id=\"rejected-reason\">金额与协议不符"));
}

#[tokio::test]
async fn the_grant_page_by_role_with_limits_names_and_refusals_in_chinese() {
    let app = spawn_app().await;
    let s = due_grant(&app, "无锡市滨湖区绿色家园垃圾分类促进会", "100000.02").await;
    let g = &s.f.grant;
    let (f1, f1_id) = person(&app, Role::Finance, "财务 张会计", None).await;
    let (f2, f2_id) = person(&app, Role::Finance, "财务 李出纳", None).await;
    let (admin, _) = person(&app, Role::Admin, "项目办", None).await;
    let (reviewer, _) = person(&app, Role::Reviewer, "评审专家 王", None).await;
    let (applicant, _) = person(&app, Role::Applicant, "绿色家园 申报人", Some(s.org)).await;
    let other_org = app.add_organization("别的社会组织").await;
    let (stranger, _) = person(&app, Role::Applicant, "别人", Some(other_org)).await;

    // The form of the due tranche only, prefilled with what is available, the limit shown.
    let page = f1.get(&format!("/grants/{g}")).await;
    assert_eq!(page.status, 200);
    assert!(page.html.contains("本期可申请 ¥50,000.01"), "{}", page.html);
    assert!(page.html.contains("name=\"amount\" value=\"50000.01\""));
    assert!(
        page.html.contains("id=\"request-form-1\"") && !page.html.contains("id=\"request-form-2\"")
    );
    // Every rendering has its own key.
    let again = f1.get(&format!("/grants/{g}")).await;
    assert_ne!(key_of(&page.html, 1), key_of(&again.html, 1));

    // Refusals show the rule in Chinese beside the amount, and change nothing.
    let r = request_form(&f1, g, 1, "50000.02").await;
    assert_eq!(r.status, 422);
    assert!(
        r.html
            .contains("本次拨付 50000.02 元，超过该期剩余可拨付金额 50000.01 元"),
        "{}",
        r.html
    );
    assert!(
        r.html.contains("name=\"amount\" value=\"50000.02\""),
        "what was typed stays"
    );
    let r = request_form(&f1, g, 1, "12.345").await;
    assert_eq!(r.status, 422);
    assert!(r.html.contains("最多两位小数"), "{}", r.html);
    let r = request_form(&f1, g, 1, "0").await;
    assert_eq!(r.status, 422);
    assert!(r.html.contains("拨付金额应大于 0"), "{}", r.html);
    // A tranche that is not due: the conflict page.
    let key = key_of(&page.html, 1);
    let r = f1
        .post(
            &format!("/grants/{g}/payouts"),
            &[
                ("idempotency_key", &key),
                ("tranche_number", "2"),
                ("amount", "100"),
            ],
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.html);
    assert!(payouts_in_db(&app, g).await.is_empty());
    // `5,000.00` is an amount; the key is required.
    let pid = payout_of(&request_form(&f1, g, 1, "5,000.00").await);
    let r = f1
        .post(
            &format!("/grants/{g}/payouts"),
            &[("tranche_number", "1"), ("amount", "1")],
        )
        .await;
    assert_eq!(r.status, 400);
    let r = f2.post(&format!("/payouts/{pid}/approve"), &[]).await;
    assert_eq!(r.status, 303);

    // Finance and admin: the payouts with names, never ids; the ledgers; the balance.
    for c in [&f1, &admin] {
        let page = c.get(&format!("/grants/{g}")).await.html;
        let payouts = section(&page, "payouts");
        assert!(
            payouts.contains("财务 张会计") && payouts.contains("财务 李出纳"),
            "{payouts}"
        );
        for id in [f1_id, f2_id] {
            assert!(!payouts.contains(&id.to_string()), "names, not ids");
        }
        assert!(page.contains(&format!("/grants/{g}/ledger.xlsx")));
        assert!(page.contains("id=\"outstanding\">¥100,000.02"));
        assert!(page.contains("id=\"approved\">¥5,000.00"));
    }
    assert!(!admin
        .get(&format!("/grants/{g}"))
        .await
        .html
        .contains("request-form"));
    // The available amount after the approval.
    assert!(f1
        .get(&format!("/grants/{g}"))
        .await
        .html
        .contains("本期可申请 ¥45,000.01"));

    // The grantee: its grant without finance's names, forms or ledgers; others: 404 / 403.
    let page = applicant.get(&format!("/grants/{g}")).await;
    assert_eq!(page.status, 200);
    assert!(!page.html.contains("财务 张会计") && !page.html.contains("request-form"));
    assert!(!page.html.contains("ledger.xlsx"));
    let r = applicant
        .post(
            &format!("/grants/{g}/payouts"),
            &[
                ("idempotency_key", "k1"),
                ("tranche_number", "1"),
                ("amount", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(stranger.get(&format!("/grants/{g}")).await.status, 404);
    assert_eq!(reviewer.get(&format!("/grants/{g}")).await.status, 403);
    assert_eq!(reviewer.get("/grants").await.status, 403);
    let anon = PageClient::new(&app);
    assert_eq!(anon.get(&format!("/grants/{g}")).await.status, 303);
    let r = anon
        .post_raw(
            &format!("/grants/{g}/payouts"),
            &[
                ("idempotency_key", "k2"),
                ("tranche_number", "1"),
                ("amount", "1"),
            ],
        )
        .await;
    assert!(matches!(r.status, 303 | 403));
    // CSRF: without the token, nothing is requested.
    let r = f1
        .post_raw(
            &format!("/grants/{g}/payouts"),
            &[
                ("idempotency_key", "k3"),
                ("tranche_number", "1"),
                ("amount", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(payouts_in_db(&app, g).await.len(), 1);

    // The list: staff see every grant, the grantee its own, filters by round.
    let list = f1.get("/grants").await.html;
    assert!(list.contains(&format!("/grants/{g}")));
    let other = due_grant(&app, "成都市锦江区爱有戏社区发展中心", "30000").await;
    let list = f1
        .get(&format!("/grants?round_id={}", s.f.round))
        .await
        .html;
    assert!(list.contains(&format!("/grants/{g}")) && !list.contains(&other.f.grant));
    assert!(list.contains(&format!("/rounds/{}/ledger.xlsx", s.f.round)));
    let own = applicant.get("/grants").await.html;
    assert!(own.contains(&format!("/grants/{g}")) && !own.contains(&other.f.grant));
    assert!(
        !own.contains("成都市锦江区"),
        "no other organization's name: {own}"
    );
    let _ = other.applicant_token;
}

#[tokio::test]
async fn a_request_form_posted_twice_makes_one_payout() {
    let app = spawn_app().await;
    let s = due_grant(&app, "昆山市周市镇邻里互助睦邻社", "100000").await;
    let g = s.f.grant.clone();
    let (f1, _) = person(&app, Role::Finance, "财务 张会计", None).await;
    let page = f1.get(&format!("/grants/{g}")).await;
    let key = key_of(&page.html, 1);
    let fields = [
        ("idempotency_key", key.as_str()),
        ("tranche_number", "1"),
        ("amount", "10000"),
    ];
    // A double click: two posts of the same rendering at once, then a third later (back
    // button and send again).
    let path = format!("/grants/{g}/payouts");
    let (a, b) = tokio::join!(f1.post(&path, &fields), f1.post(&path, &fields));
    let c = f1.post(&path, &fields).await;
    let ids: Vec<String> = [&a, &b, &c].iter().map(|p| payout_of(p)).collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    let replays = [&a, &b, &c]
        .iter()
        .filter(|p| p.location.as_deref().unwrap().ends_with("done=replayed"))
        .count();
    assert_eq!(replays, 2);
    assert_eq!(
        payouts_in_db(&app, &g).await,
        vec![("requested".to_string(), Decimal::new(10000, 0))]
    );
    let shown = f1.get(c.location.as_deref().unwrap()).await.html;
    assert!(shown.contains("该表单已提交过"), "{shown}");
    // The same key with another amount is refused (the form was changed after sending).
    let r = f1
        .post(
            &path,
            &[
                ("idempotency_key", &key),
                ("tranche_number", "1"),
                ("amount", "10001"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(payouts_in_db(&app, &g).await.len(), 1);
    // A new rendering is a new request.
    payout_of(&request_form(&f1, &g, 1, "10000").await);
    assert_eq!(payouts_in_db(&app, &g).await.len(), 2);
}

#[tokio::test]
async fn racing_request_forms_never_commit_more_than_the_tranche() {
    let app = spawn_app().await;
    let s = due_grant(&app, "苏州市姑苏区妇女儿童关爱协会", "100000").await;
    let g = Arc::new(s.f.grant.clone());
    let (f1, _) = person(&app, Role::Finance, "财务 张会计", None).await;
    let (f2, _) = person(&app, Role::Finance, "财务 李出纳", None).await;
    let clients = Arc::new([f1, f2]);
    // Eight renderings of the form, each posted at once for ¥20,000.00 of the ¥50,000.00.
    let mut keys = Vec::new();
    for i in 0..8 {
        let page = clients[i % 2].get(&format!("/grants/{g}")).await;
        keys.push(key_of(&page.html, 1));
    }
    let mut tasks = Vec::new();
    for (i, key) in keys.into_iter().enumerate() {
        let clients = clients.clone();
        let g = g.clone();
        tasks.push(tokio::spawn(async move {
            clients[i % 2]
                .post(
                    &format!("/grants/{g}/payouts"),
                    &[
                        ("idempotency_key", &key),
                        ("tranche_number", "1"),
                        ("amount", "20000.00"),
                    ],
                )
                .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let p = t.await.unwrap();
        match p.status {
            303 => ok += 1,
            422 => assert!(p.html.contains("超过该期剩余可拨付金额"), "{}", p.html),
            s => panic!("unexpected {s}: {}", p.html),
        }
    }
    assert_eq!(ok, 2, "two of ¥20,000.00 fit in ¥50,000.00");
    let ps = payouts_in_db(&app, &g).await;
    let total: Decimal = ps.iter().map(|(_, a)| *a).sum();
    assert_eq!(ps.len(), 2);
    assert!(total <= Decimal::new(50000, 0));
}

#[tokio::test]
async fn the_payout_list_filters_and_pages() {
    let app = spawn_app().await;
    let s = due_grant(&app, "昆山市玉山镇阳光助老服务中心", "100000").await;
    let t = due_grant(&app, "成都市锦江区爱有戏社区发展中心", "100000").await;
    let (_, api_fin) = app.signed_in(Role::Finance).await;
    for i in 0..52 {
        let r = request_payout(&app, &api_fin, &s.f.grant, 1, "1.00", &format!("k-{i}")).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = request_payout(&app, &api_fin, &t.f.grant, 1, "7.00", "k-other").await;
    assert_eq!(r.status, 201);
    let (f1, _) = person(&app, Role::Finance, "财务 张会计", None).await;

    let first = f1.get("/payouts?status=requested").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.html.matches("data-status=\"requested\"").count(), 50);
    let next = first
        .html
        .split("href=\"")
        .find(|p| p.starts_with("/payouts?") && p.contains("cursor="));
    let next = next
        .expect("a next page")
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    let second = f1.get(&next).await;
    assert_eq!(second.status, 200, "{}", second.html);
    assert_eq!(second.html.matches("data-status=\"requested\"").count(), 3);
    assert!(!second.html.contains("id=\"next-page\""));

    let by_round = f1
        .get(&format!("/payouts?round_id={}", t.f.round))
        .await
        .html;
    assert_eq!(by_round.matches("data-status=\"requested\"").count(), 1);
    assert!(by_round.contains("¥7.00") && by_round.contains("爱有戏"));
    assert!(by_round.contains(&format!("/rounds/{}/ledger.xlsx", t.f.round)));
    let by_org = f1
        .get(&format!("/payouts?organization_id={}", t.org))
        .await
        .html;
    assert_eq!(by_org.matches("data-status=\"requested\"").count(), 1);
    let paid = f1.get("/payouts?status=paid").await.html;
    assert_eq!(paid.matches("data-status=\"requested\"").count(), 0);
    assert_eq!(f1.get("/payouts?status=bogus").await.status, 422);
    assert_eq!(f1.get("/payouts?cursor=bogus").await.status, 400);
    // Empty filter fields (as the form sends them) mean no filter.
    let all = f1.get("/payouts?status=&round_id=&organization_id=").await;
    assert_eq!(all.status, 200);
    assert!(all.html.contains("id=\"next-page\""));
}

#[tokio::test]
async fn ledgers_download_from_the_pages_for_staff_only() {
    let app = spawn_app().await;
    let s = due_grant(&app, "昆山市玉山镇阳光助老服务中心", "100000").await;
    let g = &s.f.grant;
    let (f1, _) = person(&app, Role::Finance, "财务 张会计", None).await;
    let (f2, _) = person(&app, Role::Finance, "财务 李出纳", None).await;
    let (admin, _) = person(&app, Role::Admin, "项目办", None).await;
    let (applicant, _) = person(&app, Role::Applicant, "申报人", Some(s.org)).await;
    let (reviewer, _) = person(&app, Role::Reviewer, "评审", None).await;
    let pid = payout_of(&request_form(&f1, g, 1, "12345.67").await);
    assert_eq!(
        f2.post(&format!("/payouts/{pid}/approve"), &[])
            .await
            .status,
        303
    );

    let get = |c: &PageClient, path: String| {
        let req = c.client.get(format!("{}{path}", c.base));
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let ct = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            (status, ct, r.bytes().await.unwrap().to_vec())
        }
    };
    for c in [&f1, &admin] {
        let (st, ct, body) = get(c, format!("/grants/{g}/ledger.csv")).await;
        assert_eq!(st, 200);
        assert!(ct.starts_with("text/csv"));
        assert!(body.starts_with(b"\xEF\xBB\xBF"), "a BOM for Excel");
        let text = String::from_utf8(body).unwrap();
        assert!(
            text.contains("12345.67")
                && text.contains("财务 张会计")
                && text.contains("财务 李出纳")
        );
        let (st, ct, body) = get(c, format!("/grants/{g}/ledger.xlsx")).await;
        assert_eq!(st, 200);
        assert!(ct.contains("spreadsheetml"));
        let (sheet, strings) = crate::grants::xlsx_parts(&body);
        assert!(sheet.contains("12345.67"), "the amount as a number");
        assert!(strings.contains("财务 李出纳"));
        for ext in ["csv", "xlsx"] {
            let (st, _, _) = get(c, format!("/rounds/{}/ledger.{ext}", s.f.round)).await;
            assert_eq!(st, 200);
        }
    }
    for c in [&applicant, &reviewer] {
        assert_eq!(get(c, format!("/grants/{g}/ledger.xlsx")).await.0, 403);
        assert_eq!(
            get(c, format!("/rounds/{}/ledger.csv", s.f.round)).await.0,
            403
        );
    }
    let anon = PageClient::new(&app);
    assert_eq!(
        anon.get(&format!("/grants/{g}/ledger.csv")).await.status,
        303
    );
    assert_eq!(
        f1.get(&format!("/rounds/{}/ledger.csv", Uuid::new_v4()))
            .await
            .status,
        404
    );
}

/// finance1 requests half of tranche 1, cannot approve it, finance2 approves, finance1 records
/// the payment, the grant page shows the new balance, and the XLSX ledger downloaded by the
/// browser holds the paid amount.
#[tokio::test]
async fn two_finance_users_pay_half_a_tranche_in_the_browser() {
    let app = spawn_app().await;
    let s = due_grant(&app, "昆山市玉山镇阳光助老服务中心", "100000.02").await;
    let g = s.f.grant.clone();
    let email = |n: &str| format!("{n}-{}@example.org", Uuid::new_v4().simple());
    let (e1, e2) = (email("finance1"), email("finance2"));
    for (e, name) in [(&e1, "财务 张会计"), (&e2, "财务 李出纳")] {
        gongyi::service::users::create(
            &app.db,
            &app.settings.auth,
            gongyi::service::users::NewUserInput {
                email: e.clone(),
                name: name.into(),
                role: Role::Finance,
                organization_id: None,
                password: PASSWORD.into(),
                language: Language::Zh,
            },
            None,
        )
        .await
        .unwrap();
    }
    let Some(b) = crate::browser::browser(&app).await else {
        return;
    };

    // finance1: from the queue to the grant, half of tranche 1 (¥50,000.01 → ¥25,000.00).
    b.sign_in(&e1).await;
    b.wait_text("#due", "社区居家养老助餐").await;
    b.screenshot("finance-queue").await;
    b.click("#due a[href*='#tranche-1']").await;
    b.wait_text("#limit-1", "本期可申请 ¥50,000.01").await;
    b.fill("#request-form-1 input[name=amount]", "25000.00")
        .await;
    b.screenshot("finance-request-form").await;
    b.click("#request-form-1 button[type=submit]").await;
    b.wait_text("#payout-status", "待审批").await;
    b.wait_text("#own-request", "另一位财务人员").await;
    assert!(b
        .driver
        .find(thirtyfour::prelude::By::Css("#approve-button"))
        .await
        .is_err());
    let url = b.driver.current_url().await.unwrap().to_string();
    let pid = url.split("/payouts/").nth(1).unwrap()[..36].to_string();

    // The back button and the same form sent again: the first result, no second payout.
    b.driver.back().await.unwrap();
    b.wait_text("#limit-1", "").await;
    b.click("#request-form-1 button[type=submit]").await;
    b.wait_text("#payout-status", "").await;
    assert_eq!(
        payouts_in_db(&app, &g).await.len(),
        1,
        "one payout after sending the form twice"
    );

    // finance2 approves it from the queue.
    b.click("header form button[type=submit]").await;
    b.sign_in(&e2).await;
    b.wait_text("#to-decide", "财务 张会计").await;
    b.click(&format!("#to-decide a[href='/payouts/{pid}']"))
        .await;
    b.wait_text("#payout-status", "待审批").await;
    b.click("#approve-button").await;
    b.wait_text("#payout-status", "已批准").await;
    b.wait_text("#approved-by", "财务 李出纳").await;

    // finance1 records the bank payment.
    b.click("header form button[type=submit]").await;
    b.sign_in(&e1).await;
    b.wait_text("#to-pay", "¥25,000.00").await;
    b.open(&format!("/payouts/{pid}")).await;
    b.fill("input[name=bank_reference]", "ICBC-2026-12-0001")
        .await;
    b.set("input[name=value_date]", "2026-12-01").await;
    b.click("#paid-button").await;
    b.wait_text("#payout-status", "已拨付").await;
    b.click("#grant-link").await;
    b.wait_text("#paid", "¥25,000.00").await;
    b.wait_text("#outstanding", "¥75,000.02").await;
    b.wait_text("#limit-1", "本期可申请 ¥25,000.01").await;
    b.screenshot("finance-grant").await;

    // The XLSX ledger, fetched by the browser with its session, read back here.
    let encoded = b
        .driver
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(arguments[0]).then(r => r.arrayBuffer()).then(buf => {
               let s = ''; new Uint8Array(buf).forEach(x => s += String.fromCharCode(x));
               done(btoa(s));
             });",
            vec![json!(format!("/grants/{g}/ledger.xlsx"))],
        )
        .await
        .unwrap();
    let encoded: String = encoded.convert().unwrap();
    let bytes = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap()
    };
    let (sheet, strings) = crate::grants::xlsx_parts(&bytes);
    assert!(sheet.contains("<v>25000</v>"), "{sheet}");
    assert!(strings.contains("ICBC-2026-12-0001") && strings.contains("财务 李出纳"));
    b.quit().await;
}

#[tokio::test]
async fn seed_demo_gives_the_finance_users_a_grant_whose_first_tranche_is_due() {
    let app = spawn_app().await;
    gongyi::service::demo::seed(&app.db, &app.settings)
        .await
        .expect("demo seeded");
    // Twice changes nothing.
    gongyi::service::demo::seed(&app.db, &app.settings)
        .await
        .expect("demo seeded again");
    for email in ["finance1@demo.gongyi", "finance2@demo.gongyi"] {
        let c = PageClient::new(&app);
        let form = c.get("/login").await;
        let token = crate::web::csrf_of(&form.html).unwrap();
        let r = c
            .post_raw(
                "/login",
                &[
                    ("csrf_token", &token),
                    ("email", email),
                    ("password", gongyi::service::demo::DEMO_PASSWORD),
                ],
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.html);
        let home = c.get("/").await.html;
        let due = section(&home, "due");
        assert!(due.contains("苏州市第六届公益创投"), "{due}");
        assert_eq!(due.matches("class=\"queue-line\"").count(), 2, "{due}");
        // 50% of the ¥100,000.00 award on signing.
        assert!(due.contains("¥50,000.00"), "{due}");
    }
}

#[derive(diesel::QueryableByName)]
struct Prepared {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// The work queue's hand-written SQL is kept as a prepared statement on its connection (planning
/// it cost more than running it), and still answers the due tranche after reuse.
#[tokio::test]
async fn the_work_queue_statement_is_prepared_once_per_connection() {
    let app = spawn_app().await;
    let s = due_grant(&app, "预备语句测试中心", "8000.00").await;
    let grant_id: Uuid = s.f.grant.parse().unwrap();
    let mut conn = app.db.conn().await.expect("connection");
    for _ in 0..3 {
        let rows = gongyi::storage::finance::queue(&mut conn, 10)
            .await
            .expect("queue");
        assert!(
            rows.iter()
                .any(|r| r.grant_id == grant_id && r.status == "due"),
            "the due tranche is in the queue"
        );
    }
    let kept: Prepared = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_prepared_statements WHERE statement LIKE '(SELECT p.id AS payout_id%'",
    )
    .get_result(&mut conn)
    .await
    .expect("prepared statements");
    assert_eq!(kept.n, 1, "one prepared statement, reused");
}

/// diesel never caches an UPDATE, nor an INSERT with optional fields: the score save's update
/// and every audit event are marked prepared, so the server parses and plans them once per
/// connection instead of once per request.
#[tokio::test]
async fn the_hot_write_statements_are_prepared_once_per_connection() {
    let app = spawn_app().await;
    let conn = app.db.conn().await.expect("connection");
    let form = gongyi::storage::models::AssignmentUpdateForm {
        comment: Some("预备语句".into()),
        updated_at: Some(chrono::Utc::now()),
        ..Default::default()
    };
    for _ in 0..3 {
        let id = Uuid::new_v4();
        // No such assignment: the statement is still prepared and run.
        let missing = gongyi::storage::review::update_assignment(&conn, id, &form).await;
        assert!(missing.is_err(), "no row to update");
        let event =
            gongyi::service::audit_event::<(), ()>(None, "test.prepared", "test", id, None, None);
        gongyi::storage::audit(&conn, &event).await.expect("audit");
    }
    let mut conn = conn;
    for pattern in [
        "UPDATE \"assignments\" SET%",
        "INSERT INTO \"audit_events\"%",
    ] {
        let kept: Prepared = diesel::sql_query(
            "SELECT count(*) AS n FROM pg_prepared_statements WHERE statement LIKE $1",
        )
        .bind::<diesel::sql_types::Text, _>(pattern)
        .get_result(&mut conn)
        .await
        .expect("prepared statements");
        assert_eq!(kept.n, 1, "{pattern}: one prepared statement, reused");
    }
}
