//! The web pages over real HTTP: sign-in, sessions (idle, logout, deactivation), CSRF, the
//! language, and the applicant's journey through the forms. `PageClient` is the browser
//! stand-in the other page tests use: a cookie jar and the session's CSRF token.

use gongyi::domain::user::Role;
use serde_json::json;
use uuid::Uuid;

use crate::applications::ready_draft;
use crate::helpers::{spawn_app, spawn_app_with, TestApp, PASSWORD};
use crate::rounds::{open_round, round_body};

pub struct PageClient {
    pub client: reqwest::Client,
    pub base: String,
    pub csrf: String,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub html: String,
}

/// The value of the first hidden `csrf_token` in a page.
pub fn csrf_of(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf_token\" value=\"")?;
    let rest = &html[at + "name=\"csrf_token\" value=\"".len()..];
    Some(rest[..rest.find('"')?].to_string())
}

impl PageClient {
    pub fn new(app: &TestApp) -> Self {
        Self {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.address.clone(),
            csrf: String::new(),
        }
    }

    async fn page(res: reqwest::Response) -> Page {
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Page {
            status,
            location,
            html: res.text().await.unwrap(),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        Self::page(
            self.client
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Posts a form with this session's CSRF token added.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// Posts exactly these fields (no CSRF token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        Self::page(
            self.client
                .post(format!("{}{path}", self.base))
                .form(fields)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Signs in through the form; panics unless the server redirects home.
    pub async fn sign_in(app: &TestApp, email: &str) -> Self {
        let mut c = Self::new(app);
        let form = c.get("/login").await;
        assert_eq!(form.status, 200);
        let token = csrf_of(&form.html).expect("the sign-in form has a csrf_token");
        let r = c
            .post_raw(
                "/login",
                &[
                    ("csrf_token", &token),
                    ("email", email),
                    ("password", PASSWORD),
                    ("next", "/"),
                ],
            )
            .await;
        assert_eq!(r.status, 303, "sign-in of {email}: {}", r.html);
        let home = c.get("/").await;
        assert_eq!(home.status, 200, "{}", home.html);
        c.csrf = csrf_of(&home.html).expect("pages carry the session's csrf token");
        c
    }
}

/// A new user of the role (applicants with an organization of their own), signed in in a
/// browser; returns its email and organization too.
pub async fn browser_user(app: &TestApp, role: Role) -> (PageClient, String, Option<Uuid>) {
    let email = format!("{role}-{}@example.org", Uuid::new_v4().simple());
    let org = if role == Role::Applicant {
        Some(
            app.add_organization(&format!("网页机构 {}", Uuid::new_v4().simple()))
                .await,
        )
    } else {
        None
    };
    app.add_user(&email, role, org).await;
    (PageClient::sign_in(app, &email).await, email, org)
}

#[tokio::test]
async fn sign_in_page_refuses_wrong_passwords_and_opens_the_dashboard() {
    let app = spawn_app().await;
    let email = format!("a-{}@example.org", Uuid::new_v4().simple());
    let org = app.add_organization("玉山镇社区养老服务社").await;
    app.add_user(&email, Role::Applicant, Some(org)).await;

    let c = PageClient::new(&app);
    let form = c.get("/login").await;
    assert_eq!(form.status, 200);
    assert!(form.html.contains("name=\"email\"") && form.html.contains("name=\"password\""));
    assert!(form.html.contains("登录"), "Chinese by default");
    let token = csrf_of(&form.html).unwrap();
    let wrong = c
        .post_raw(
            "/login",
            &[
                ("csrf_token", &token),
                ("email", &email),
                ("password", "wrong-password-123"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.html.contains("login-error"));

    // Without the form's token the sign-in is refused even with the right password.
    let c2 = PageClient::new(&app);
    let forged = c2
        .post_raw("/login", &[("email", &email), ("password", PASSWORD)])
        .await;
    assert_eq!(forged.status, 403);

    let c = PageClient::sign_in(&app, &email).await;
    let home = c.get("/").await;
    assert!(home.html.contains("玉山镇社区养老服务社"), "{}", home.html);
    assert!(home.html.contains("党建") || home.html.contains("rating"));

    // A page without a session goes to sign-in and comes back.
    let anon = PageClient::new(&app)
        .get("/applications/00000000-0000-0000-0000-000000000000")
        .await;
    assert_eq!(anon.status, 303);
    assert!(anon
        .location
        .unwrap()
        .starts_with("/login?next=/applications/"));
}

#[tokio::test]
async fn the_api_never_takes_the_cookie_and_pages_never_take_a_bearer_token() {
    let app = spawn_app().await;
    let (c, email, _) = browser_user(&app, Role::Admin).await;
    let me = c
        .client
        .get(format!("{}/api/v1/me", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.status(),
        401,
        "the session cookie is not an API credential"
    );
    let token = app.login(&email).await;
    let page = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/", app.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303, "a bearer token is not a session");
}

#[tokio::test]
async fn logout_idle_timeout_and_deactivation_end_the_session() {
    let app = spawn_app().await;
    let (c, _, _) = browser_user(&app, Role::Applicant).await;
    assert_eq!(c.get("/").await.status, 200);
    let out = c.post("/logout", &[]).await;
    assert_eq!(out.status, 303);
    assert_eq!(c.get("/").await.status, 303, "logged out");

    // Idle: the session was last seen longer ago than the idle timeout.
    let (c, _, _) = browser_user(&app, Role::Applicant).await;
    {
        use diesel_async::RunQueryDsl;
        let mut conn = app.db.conn().await.unwrap();
        diesel::sql_query("UPDATE web_sessions SET last_seen_at = now() - interval '2 hours'")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let r = c.get("/").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location.as_deref(), Some("/login?next=/"));

    // Deactivation by an admin ends the user's browser sessions at once.
    let (c, email, _) = browser_user(&app, Role::Finance).await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let users = app.get("/users?limit=200", Some(&admin)).await;
    let id = users.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == email.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .patch(
            &format!("/users/{id}"),
            Some(&admin),
            json!({"active": false}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(c.get("/").await.status, 303, "deactivated");
}

#[tokio::test]
async fn absolute_lifetime_ends_a_busy_session() {
    let app = spawn_app_with(|s| s.web.session_max_hours = 0).await;
    let email = format!("a-{}@example.org", Uuid::new_v4().simple());
    app.add_user(&email, Role::Admin, None).await;
    let c = PageClient::new(&app);
    let form = c.get("/login").await;
    let token = csrf_of(&form.html).unwrap();
    let r = c
        .post_raw(
            "/login",
            &[
                ("csrf_token", &token),
                ("email", &email),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        c.get("/").await.status,
        303,
        "a session past its lifetime is over"
    );
}

#[tokio::test]
async fn forged_posts_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let (round, _) = open_round(&app, round_body("venture_philanthropy")).await;
    let (c, _, _) = browser_user(&app, Role::Applicant).await;
    let path = format!("/rounds/{round}/applications");
    // No token.
    let r = c
        .post_raw(&path, &[("title", "伪造"), ("focus_area", "elderly")])
        .await;
    assert_eq!(r.status, 403);
    // A wrong token.
    let r = c
        .post_raw(
            &path,
            &[
                ("csrf_token", "gy_wrong"),
                ("title", "伪造"),
                ("focus_area", "elderly"),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    // The right token, but sent by another site.
    let r = c
        .client
        .post(format!("{}{path}", app.address))
        .header("origin", "https://evil.example")
        .form(&[
            ("csrf_token", c.csrf.as_str()),
            ("title", "伪造"),
            ("focus_area", "elderly"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .client
        .post(format!("{}{path}", app.address))
        .header("sec-fetch-site", "cross-site")
        .form(&[
            ("csrf_token", c.csrf.as_str()),
            ("title", "伪造"),
            ("focus_area", "elderly"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let home = c.get("/").await;
    assert!(!home.html.contains("伪造"), "no draft was created");
    // The same form, properly sent, works.
    let r = c
        .post(&path, &[("title", "真实项目"), ("focus_area", "elderly")])
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    assert!(c.get("/").await.html.contains("真实项目"));
}

#[tokio::test]
async fn another_organizations_application_is_the_same_404_as_a_missing_one() {
    let app = spawn_app().await;
    let (round, _) = open_round(&app, round_body("venture_philanthropy")).await;
    let (_, owner) = app.signed_in(Role::Applicant).await;
    let id = ready_draft(&app, &owner, &round, "别人的项目").await;
    let (c, _, _) = browser_user(&app, Role::Applicant).await;
    let theirs = c.get(&format!("/applications/{id}")).await;
    let missing = c.get(&format!("/applications/{}", Uuid::new_v4())).await;
    assert_eq!((theirs.status, missing.status), (404, 404));
    assert!(!theirs.html.contains("别人的项目"));
    assert_eq!(theirs.html, missing.html, "indistinguishable");
    let (f, _, _) = browser_user(&app, Role::Finance).await;
    assert_eq!(
        f.get(&format!("/applications/{id}")).await.status,
        403,
        "finance: as in the API"
    );
    let (rv, _, _) = browser_user(&app, Role::Reviewer).await;
    assert_eq!(rv.get(&format!("/applications/{id}")).await.status, 404);
    // A post to it changes nothing either.
    let r = c
        .post(
            &format!("/applications/{id}/submit"),
            &[("confirmed", "yes")],
        )
        .await;
    assert_eq!(r.status, 404);
    let (a, _, _) = browser_user(&app, Role::Admin).await;
    assert_eq!(
        a.get(&format!("/applications/{id}")).await.status,
        200,
        "admins see every application"
    );
    assert_eq!(c.get("/no/such/page").await.status, 404);
}

fn budget_fields(personnel: &str, rest: &str) -> Vec<(&'static str, String)> {
    vec![
        ("category", "personnel".into()),
        ("description", "社工薪酬".into()),
        ("quantity", "1".into()),
        ("unit_cost", personnel.into()),
        ("funded_by", "grant".into()),
        ("category", "activities".into()),
        ("description", "助餐活动".into()),
        ("quantity", "1".into()),
        ("unit_cost", rest.into()),
        ("funded_by", "grant".into()),
        ("category", "materials".into()),
        ("description", "健康监测设备".into()),
        ("quantity", "4".into()),
        ("unit_cost", "5000".into()),
        ("funded_by", "self".into()),
        // A blank row of the editor is not a line.
        ("category", "other".into()),
        ("description", "".into()),
        ("quantity", "".into()),
        ("unit_cost", "".into()),
        ("funded_by", "grant".into()),
    ]
}

pub fn content_fields(title: &str) -> Vec<(&'static str, String)> {
    vec![
        ("title", title.into()),
        ("focus_area", "elderly".into()),
        (
            "summary",
            "为社区独居老人提供助餐、陪伴与健康监测服务".into(),
        ),
        ("beneficiaries", "玉山镇独居老人".into()),
        ("beneficiary_count", "120".into()),
        ("start_date", "2026-09-01".into()),
        ("end_date", "2027-08-31".into()),
        ("requested_grant", "80000.00".into()),
        ("co_funding", "20000.00".into()),
        ("team_name", "王芳".into()),
        ("team_role", "项目负责人".into()),
        ("team_party", "yes".into()),
        ("team_name", "".into()),
        ("team_role", "".into()),
        ("team_party", "no".into()),
        ("party_activity_count", "2".into()),
        ("party_activity_description", "重温入党誓词".into()),
        ("red_project", "true".into()),
    ]
}

/// The `<section id=…>` of a page, to its end.
pub fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<section id=\"{id}\""))
        .unwrap_or_else(|| panic!("no section {id}:\n{html}"));
    let end = html[start..].find("</section>").unwrap() + start;
    &html[start..end]
}

fn refs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, x)| (*k, x.as_str())).collect()
}

#[tokio::test]
async fn an_applicant_drafts_checks_fixes_and_submits_through_the_forms() {
    let app = spawn_app().await;
    let (round, _) = open_round(&app, round_body("venture_philanthropy")).await;
    let (c, _, _) = browser_user(&app, Role::Applicant).await;
    let home = c.get("/").await;
    assert!(
        home.html.contains("0 / 3"),
        "quota shown before anything: {}",
        home.html
    );

    let r = c
        .post(
            &format!("/rounds/{round}/applications"),
            &[("title", "银龄助餐"), ("focus_area", "elderly")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let path = r.location.unwrap();
    let id = path.trim_start_matches("/applications/").to_string();

    // A content form with a bad number shows the message beside the field and saves nothing.
    let mut bad = content_fields("银龄助餐");
    bad[4].1 = "很多".into();
    let r = c.post(&path, &refs(&bad)).await;
    assert_eq!(r.status, 422);
    assert!(r.html.contains("field-error"), "{}", r.html);
    assert!(r.html.contains("很多"), "the typed value is kept");

    let r = c
        .post(&path, &refs(&content_fields("银龄助餐暖心行动")))
        .await;
    assert_eq!(r.status, 303, "{}", r.html);

    // 50.01% personnel: saved, but the check names the rule in Chinese.
    let r = c
        .post(
            &format!("{path}/budget"),
            &refs(&budget_fields("50010.00", "29990.00")),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let page = c.get(&path).await;
    assert!(
        page.html.contains("¥100,010.00") || page.html.contains("¥100,000.00"),
        "{}",
        page.html
    );
    let r = c.post(&format!("{path}/validate"), &[]).await;
    assert_eq!(r.status, 200);
    assert!(
        r.html
            .contains("人员经费占预算总额 50.01%，超过上限 50.00%"),
        "{}",
        r.html
    );
    // htmx asks for the list only.
    let frag = c
        .client
        .post(format!("{}{path}/validate", app.address))
        .header("hx-request", "true")
        .form(&[("csrf_token", c.csrf.as_str())])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(frag.starts_with("<div id=\"violations\""), "{frag}");
    assert!(frag.contains("50.01%"));

    // Submitting first asks; confirmed, the rules refuse it.
    let ask = c.post(&format!("{path}/submit"), &[]).await;
    assert_eq!(ask.status, 200);
    assert!(ask.html.contains("confirm-submit"));
    let refused = c
        .post(&format!("{path}/submit"), &[("confirmed", "yes")])
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.html.contains("50.01%"));

    // Fixed to exactly 50.00%: submitted.
    let r = c
        .post(
            &format!("{path}/budget"),
            &refs(&budget_fields("50000.00", "30000.00")),
        )
        .await;
    assert_eq!(r.status, 303);
    let r = c.post(&format!("{path}/validate"), &[]).await;
    assert!(r.html.contains("check-ok"), "{}", r.html);
    let r = c
        .post(&format!("{path}/submit"), &[("confirmed", "yes")])
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let page = c.get(&r.location.unwrap()).await;
    assert!(
        page.html.contains("data-status=\"submitted\""),
        "{}",
        page.html
    );
    assert!(
        !page.html.contains("id=\"content-form\""),
        "no longer editable"
    );
    // The history, oldest first, in Chinese: the status shown only where it changed.
    let history = section(&page.html, "history");
    let steps: Vec<&str> = [
        "创建草稿",
        "修改项目内容",
        "修改预算",
        "提交申报：草稿 → 已提交",
    ]
    .into_iter()
    .map(|s| {
        history
            .find(s)
            .map(|_| s)
            .unwrap_or_else(|| panic!("{s} not in {history}"))
    })
    .collect();
    let at = |s: &str| history.find(s).unwrap();
    assert!(steps.windows(2).all(|w| at(w[0]) < at(w[1])), "{history}");
    assert!(!history.contains("application."), "no codes: {history}");
    assert!(
        !history.contains("修改预算：") && !history.contains("创建草稿："),
        "{history}"
    );
    assert!(c.get("/").await.html.contains("1 / 3"));
    let (_, admin) = app.signed_in(Role::Admin).await;
    let api = app.get(&format!("/applications/{id}"), Some(&admin)).await;
    assert_eq!(api.body["status"], "submitted");
    assert_eq!(api.body["budget"]["personnel"], "50000.00");

    // Withdraw frees the place again.
    let r = c.post(&format!("{path}/withdraw"), &[]).await;
    assert_eq!(r.status, 303);
    assert!(c.get("/").await.html.contains("0 / 3"));
}

#[tokio::test]
async fn the_fourth_submission_shows_the_quota_message() {
    let app = spawn_app().await;
    let (round, _) = open_round(&app, round_body("venture_philanthropy")).await;
    let (c, email, _) = browser_user(&app, Role::Applicant).await;
    let token = app.login(&email).await;
    let mut ids = vec![];
    for i in 0..4 {
        ids.push(ready_draft(&app, &token, &round, &format!("项目 {i}")).await);
    }
    for id in &ids[..3] {
        let r = c
            .post(
                &format!("/applications/{id}/submit"),
                &[("confirmed", "yes")],
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.html);
    }
    let r = c
        .post(
            &format!("/applications/{}/submit", ids[3]),
            &[("confirmed", "yes")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.html.contains("每个社会组织在本轮最多可申报 3 个项目"),
        "{}",
        r.html
    );
}

#[tokio::test]
async fn contact_fields_are_editable_by_their_own_applicants_only() {
    let app = spawn_app().await;
    let (c, _, org) = browser_user(&app, Role::Applicant).await;
    let org = org.unwrap();
    let path = format!("/organizations/{org}");
    let r = c
        .post(
            &path,
            &[
                ("contact_person", "李娜"),
                ("contact_phone", "0512-7654321"),
                ("contact_email", "li@example.org"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let page = c.get(&path).await;
    assert!(page.html.contains("李娜"));
    let (other, _, _) = browser_user(&app, Role::Applicant).await;
    assert_eq!(other.get(&path).await.status, 404);
    let r = other.post(&path, &[("contact_person", "冒名")]).await;
    assert_eq!(r.status, 404);
    let (f, _, _) = browser_user(&app, Role::Finance).await;
    assert_eq!(
        f.post(&path, &[("contact_person", "冒名")]).await.status,
        403
    );
    assert!(!c.get(&path).await.html.contains("冒名"));
}

#[tokio::test]
async fn english_when_asked_and_assets_are_cached_by_hash() {
    let app = spawn_app().await;
    let (c, _, _) = browser_user(&app, Role::Applicant).await;
    let en = c
        .client
        .get(format!("{}/", app.address))
        .header("accept-language", "en-US,en;q=0.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(en.contains("Open rounds"), "{en}");
    let zh = c.get("/").await.html;
    assert!(zh.contains("lang=\"zh-CN\"") && !zh.contains("Open rounds"));
    let css = zh
        .split("href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|s| s.starts_with("/static/app."))
        .unwrap()
        .to_string();
    let r = reqwest::get(format!("{}{css}", app.address)).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    assert_eq!(
        reqwest::get(format!("{}/static/app.css", app.address))
            .await
            .unwrap()
            .status(),
        404,
        "only hashed names are served"
    );
}
