//! The program office's registry pages over real HTTP: organizations (search, new, the admin's
//! edit form with the rating cap preview and refusal), users (new, deactivate), rounds (new
//! with the kind's defaults, draft edits), manual assignment; each with allowed and refused
//! callers and CSRF refused. And the admin's whole walk in headless Chromium.

use gongyi::domain::user::Role;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{spawn_app, valid_code, TestApp, PASSWORD};
use crate::web::{browser_user, PageClient};

/// An admin signed in through the sign-in form.
async fn page_admin(app: &TestApp) -> (PageClient, String) {
    let email = format!("admin-{}@example.org", Uuid::new_v4().simple());
    app.add_user(&email, Role::Admin, None).await;
    (PageClient::sign_in(app, &email).await, email)
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let at = tag.find(&key)? + key.len();
    let rest = &tag[at..];
    Some(unescape(&rest[..rest.find('"')?]))
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&amp;", "&")
}

/// The fields a browser would post from the form `#id` of a page, as it is filled in
/// (inputs, checked boxes, textareas, selected options), the CSRF token left out.
pub fn form_fields(html: &str, id: &str) -> Vec<(String, String)> {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no form #{id} in {html}"));
    let body = &html[start..start + html[start..].find("</form>").unwrap()];
    let mut out = vec![];
    let mut rest = body;
    while let Some(lt) = rest.find('<') {
        rest = &rest[lt..];
        let end = rest.find('>').unwrap();
        let tag = &rest[..=end];
        if tag.starts_with("<input") {
            let checkbox = attr(tag, "type").as_deref() == Some("checkbox");
            if let Some(name) = attr(tag, "name") {
                if name != "csrf_token" && (!checkbox || tag.contains(" checked")) {
                    out.push((name, attr(tag, "value").unwrap_or_default()));
                }
            }
        } else if tag.starts_with("<textarea") {
            let close = rest.find("</textarea>").unwrap();
            out.push((attr(tag, "name").unwrap(), unescape(&rest[end + 1..close])));
        } else if tag.starts_with("<select") {
            let close = rest.find("</select>").unwrap();
            let options = &rest[end + 1..close];
            let mut first = None;
            let mut chosen = None;
            for o in options.split("<option").skip(1) {
                let t = format!("<option{}", &o[..o.find('>').unwrap() + 1]);
                let v = attr(&t, "value").unwrap_or_default();
                first.get_or_insert(v.clone());
                if t.contains(" selected") {
                    chosen = Some(v);
                }
            }
            out.push((
                attr(tag, "name").unwrap(),
                chosen.or(first).unwrap_or_default(),
            ));
        }
        rest = &rest[1..];
    }
    out
}

/// `fields` with the first value of each name in `changes` replaced.
fn with(fields: &[(String, String)], changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out = fields.to_vec();
    for (k, v) in changes {
        match out.iter_mut().find(|(n, _)| n == k) {
            Some(slot) => slot.1 = v.to_string(),
            None => out.push((k.to_string(), v.to_string())),
        }
    }
    out
}

async fn post_fields(c: &PageClient, path: &str, fields: &[(String, String)]) -> crate::web::Page {
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    c.post(path, &refs).await
}

fn id_of(location: &Option<String>, prefix: &str) -> String {
    let l = location.as_deref().expect("a redirect");
    l.strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{l} is not under {prefix}"))
        .split(['?', '/'])
        .next()
        .unwrap()
        .to_string()
}

const ADMIN_PAGES: &[&str] = &[
    "/organizations",
    "/organizations/new",
    "/organizations/rating-cap?party_building_status=none",
    "/users",
    "/users/new",
    "/rounds",
    "/rounds/new",
];

#[tokio::test]
async fn registry_pages_are_for_admins_only() {
    let app = spawn_app().await;
    let (admin, _) = page_admin(&app).await;
    let (applicant, _, org) = browser_user(&app, Role::Applicant).await;
    let (reviewer, _, _) = browser_user(&app, Role::Reviewer).await;
    let (finance, _, _) = browser_user(&app, Role::Finance).await;
    let anon = PageClient::new(&app);
    for path in ADMIN_PAGES {
        let p = admin.get(path).await;
        assert_eq!(p.status, 200, "{path}: {}", p.html);
        for (who, c) in [
            ("applicant", &applicant),
            ("reviewer", &reviewer),
            ("finance", &finance),
        ] {
            assert_eq!(c.get(path).await.status, 403, "{who} on {path}");
        }
        let p = anon.get(path).await;
        assert_eq!(p.status, 303, "{path}");
        assert!(p.location.unwrap().starts_with("/login?next="));
    }
    // Posts: refused for the other roles, and for the admin without the CSRF token.
    let org = org.unwrap();
    let (uid, _) = app.signed_in(Role::Finance).await;
    for path in [
        "/organizations".to_string(),
        "/users".to_string(),
        format!("/users/{uid}"),
        "/rounds".to_string(),
    ] {
        for c in [&applicant, &reviewer] {
            assert_eq!(
                c.post(&path, &[("active", "false")]).await.status,
                403,
                "{path}"
            );
        }
        let r = admin
            .post_raw(&path, &[("csrf_token", "forged"), ("active", "false")])
            .await;
        assert_eq!(r.status, 403, "{path} without the token");
        let r = anon.post_raw(&path, &[]).await;
        assert_eq!(r.status, 303, "{path}: sign in first");
        assert!(r.location.unwrap().starts_with("/login"));
    }
    // The applicant keeps its own organization page (contact fields only); the admin gets the
    // registry form for the same path.
    let own = applicant.get(&format!("/organizations/{org}")).await;
    assert_eq!(own.status, 200);
    assert!(own.html.contains("contact-form") && !own.html.contains("organization-form"));
    let theirs = admin.get(&format!("/organizations/{org}")).await;
    assert!(theirs.html.contains("organization-form"), "{}", theirs.html);
    assert!(theirs.html.contains("blacklisted_until"));
    // The dashboard links to the registry.
    let home = admin.get("/").await.html;
    for link in ["/organizations", "/users", "/rounds", "/rounds/new"] {
        assert!(home.contains(&format!("href=\"{link}\"")), "{link}: {home}");
    }
}

fn organization_post(name: &str, code: &str) -> Vec<(String, String)> {
    [
        ("name", name),
        ("org_type", "private_non_enterprise"),
        ("credit_code", code),
        ("registration_date", "2018-05-01"),
        ("district", "昆山市"),
        ("party_building_status", "independent_branch"),
        ("party_member_count", "4"),
        ("party_assessment", "passed"),
        ("rating", "4A"),
        ("rating_valid_until", "2099-12-31"),
        ("contact_person", "王芳"),
        ("contact_phone", "0512-1234567"),
        ("contact_email", "wang@example.org"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[tokio::test]
async fn organizations_are_registered_searched_and_edited_with_refusals_in_chinese() {
    let app = spawn_app().await;
    let (admin, _) = page_admin(&app).await;
    let (_, api_admin) = app.signed_in(Role::Admin).await;

    // A bad credit code: the form again, the message in Chinese beside the field.
    let mut bad = valid_code("52");
    bad.replace_range(17.., if bad.ends_with('0') { "1" } else { "0" });
    let r = post_fields(
        &admin,
        "/organizations",
        &organization_post("玉山镇社工服务社", &bad),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.html);
    assert!(r.html.contains("id=\"credit-code-error\""), "{}", r.html);
    assert!(r.html.contains("校验码（第 18 位）"), "{}", r.html);
    assert!(
        r.html.contains("value=\"玉山镇社工服务社\""),
        "what was typed stays"
    );
    // A code of the wrong category for the type.
    let r = post_fields(
        &admin,
        "/organizations",
        &organization_post("玉山镇社工服务社", &valid_code("53")),
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(r.html.contains("credit-code-error"), "{}", r.html);

    let code = valid_code("52");
    let r = post_fields(
        &admin,
        "/organizations",
        &organization_post("玉山镇社工服务社", &code),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let id = id_of(&r.location, "/organizations/");
    let api = app
        .get(&format!("/organizations/{id}"), Some(&api_admin))
        .await;
    assert_eq!(api.body["credit_code"], code.as_str());
    assert_eq!(api.body["rating"], "4A");
    assert_eq!(api.body["party_building_status"], "independent_branch");
    let page = admin.get(r.location.as_deref().unwrap()).await;
    assert!(page.html.contains("id=\"notice\""));

    // The same credit code again: refused beside the field, nothing created.
    let r = post_fields(
        &admin,
        "/organizations",
        &organization_post("另一个机构", &code),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.html);
    assert!(
        r.html.contains("已存在相同统一社会信用代码的记录"),
        "{}",
        r.html
    );
    assert!(r.html.contains("credit-code-error"));

    // Search by part of the name, or by the start of the credit code (any case).
    app.add_organization("周市镇志愿者协会").await;
    let found = admin.get("/organizations?q=%E7%A4%BE%E5%B7%A5").await.html; // 社工
    assert!(
        found.contains("玉山镇社工服务社") && !found.contains("周市镇志愿者协会"),
        "{found}"
    );
    let by_code = admin
        .get(&format!("/organizations?q={}", code[..12].to_lowercase()))
        .await
        .html;
    assert!(by_code.contains("玉山镇社工服务社"), "{by_code}");
    assert!(!by_code.contains("周市镇志愿者协会"));
    let none = admin.get("/organizations?q=%25").await.html;
    assert!(
        none.contains("no-organizations"),
        "a % is a character, not a wildcard"
    );

    // The cap preview follows the party-building facts (the htmx partial).
    let cap = |q: &str| {
        let q = q.to_string();
        let admin = &admin;
        async move {
            admin
                .get(&format!("/organizations/rating-cap?{q}"))
                .await
                .html
        }
    };
    let p = cap("party_building_status=none&party_assessment=not_assessed&rating=3A").await;
    assert!(
        p.contains("data-cap=\"2A\"") && p.contains("cap-exceeded"),
        "{p}"
    );
    assert!(p.contains("三无"), "{p}");
    assert!(!p.contains("<html"), "a fragment, not a page");
    let p = cap("party_building_status=joint_branch&party_assessment=failed&rating=3A").await;
    assert!(
        p.contains("data-cap=\"3A\"") && !p.contains("cap-exceeded"),
        "{p}"
    );
    let p = cap("party_building_status=independent_branch&party_assessment=passed&rating=5A").await;
    assert!(
        p.contains("data-cap=\"\"") && !p.contains("cap-exceeded"),
        "{p}"
    );

    // The edit form starts from the stored facts; a rating above the cap is refused beside
    // the rating, in Chinese, naming the cap.
    let form = admin.get(&format!("/organizations/{id}")).await;
    let fields = form_fields(&form.html, "organization-form");
    assert!(
        fields.contains(&("credit_code".into(), code.clone())),
        "{fields:?}"
    );
    assert!(
        form.html.contains("data-cap=\"\""),
        "no cap yet: {}",
        form.html
    );
    let r = post_fields(
        &admin,
        &format!("/organizations/{id}"),
        &with(
            &fields,
            &[
                ("party_building_status", "none"),
                ("party_member_count", "0"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.html);
    assert!(r.html.contains("id=\"rating-error\""), "{}", r.html);
    assert!(r.html.contains("等级 4A 超过上限 2A"), "{}", r.html);
    assert!(
        r.html.contains("data-cap=\"2A\""),
        "the preview shows the cap typed"
    );
    assert_eq!(
        app.get(&format!("/organizations/{id}"), Some(&api_admin))
            .await
            .body["party_building_status"],
        "independent_branch",
        "nothing saved"
    );
    // Within the cap it saves, blacklisting included.
    let r = post_fields(
        &admin,
        &format!("/organizations/{id}"),
        &with(
            &fields,
            &[
                ("party_assessment", "failed"),
                ("rating", "3A"),
                ("district", "周市镇"),
                ("blacklisted_until", "2027-06-30"),
                ("blacklist_reason", "末期评估不合格"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let api = app
        .get(&format!("/organizations/{id}"), Some(&api_admin))
        .await;
    assert_eq!(api.body["rating"], "3A");
    assert_eq!(api.body["district"], "周市镇");
    assert_eq!(api.body["blacklisted_until"], "2027-06-30");
    // Unreadable values are refused beside their fields.
    let r = post_fields(
        &admin,
        &format!("/organizations/{id}"),
        &with(
            &fields,
            &[
                ("party_member_count", "很多"),
                ("registration_date", "2018/05/01"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(r.html.contains("请填写整数") && r.html.contains("请按 2026-09-01 的格式填写日期"));
    assert_eq!(
        admin
            .get(&format!("/organizations/{}", Uuid::new_v4()))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn users_are_created_by_role_and_deactivation_ends_their_sessions() {
    let app = spawn_app().await;
    let (admin, _) = page_admin(&app).await;
    let org = app.add_organization("玉山镇社区养老服务社").await;

    let form = admin
        .get(&format!("/users/new?role=applicant&organization_id={org}"))
        .await;
    assert_eq!(form.status, 200);
    let fields = form_fields(&form.html, "user-form");
    let initial = fields
        .iter()
        .find(|(k, _)| k == "password")
        .unwrap()
        .1
        .clone();
    assert_eq!(
        initial.chars().count(),
        16,
        "an initial password is suggested"
    );
    assert!(fields.contains(&("organization_id".into(), org.to_string())));
    assert!(fields.contains(&("role".into(), "applicant".into())));

    // An applicant needs an organization.
    let email = format!("wang-{}@example.org", Uuid::new_v4().simple());
    let r = post_fields(
        &admin,
        "/users",
        &with(
            &fields,
            &[("email", &email), ("name", "王芳"), ("organization_id", "")],
        ),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.html);
    assert!(
        r.html.contains("申报人用户须隶属于一个社会组织"),
        "{}",
        r.html
    );
    assert!(r.html.contains("organization-error"));
    let r = post_fields(
        &admin,
        "/users",
        &with(
            &fields,
            &[("email", &email), ("name", "王芳"), ("password", PASSWORD)],
        ),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let uid = id_of(&r.location, "/users?created=");
    let list = admin.get(r.location.as_deref().unwrap()).await.html;
    assert!(
        list.contains("id=\"notice\"") && list.contains(&email),
        "{list}"
    );
    assert!(list.contains("玉山镇社区养老服务社"));
    // The same email again.
    let r = post_fields(
        &admin,
        "/users",
        &with(
            &fields,
            &[("email", &email.to_uppercase()), ("name", "王芳")],
        ),
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(r.html.contains("已存在相同电子邮箱的记录"), "{}", r.html);
    assert!(r.html.contains("email-error"));
    // A short password, in Chinese.
    let r = post_fields(
        &admin,
        "/users",
        &with(
            &fields,
            &[
                ("email", "x@example.org"),
                ("name", "某"),
                ("password", "short"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, 422);

    // Reviewer and finance users (the organization choice is ignored for them).
    for role in ["reviewer", "finance"] {
        let e = format!("{role}-{}@example.org", Uuid::new_v4().simple());
        let r = post_fields(
            &admin,
            "/users",
            &with(&fields, &[("email", &e), ("name", "专家"), ("role", role)]),
        )
        .await;
        assert_eq!(r.status, 303, "{role}: {}", r.html);
        assert!(admin
            .get(&format!("/users?role={role}"))
            .await
            .html
            .contains(&e));
    }
    let reviewers = admin.get("/users?role=reviewer").await.html;
    assert!(!reviewers.contains(&email), "the role filter: {reviewers}");

    // The new applicant signs in with the password set; deactivation signs them out.
    let user = PageClient::sign_in(&app, &email).await;
    let token = app.login(&email).await;
    assert_eq!(user.get("/").await.status, 200);
    let r = admin
        .post(&format!("/users/{uid}"), &[("active", "false")])
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let p = user.get("/").await;
    assert_eq!(p.status, 303, "the session ended");
    assert_eq!(
        app.get("/me", Some(&token)).await.status,
        401,
        "and the tokens"
    );
    assert!(admin.get("/users").await.html.contains("reactivate"));
    let r = admin
        .post(&format!("/users/{uid}"), &[("active", "true")])
        .await;
    assert_eq!(r.status, 303);
    PageClient::sign_in(&app, &email).await;
    assert_eq!(
        admin
            .post(
                &format!("/users/{}", Uuid::new_v4()),
                &[("active", "false")]
            )
            .await
            .status,
        404
    );
    assert_eq!(
        admin
            .post(&format!("/users/{uid}"), &[("active", "maybe")])
            .await
            .status,
        422
    );
}

#[tokio::test]
async fn rounds_are_created_with_the_kinds_defaults_and_edited_as_drafts() {
    let app = spawn_app().await;
    let (admin, _) = page_admin(&app).await;
    let (_, api_admin) = app.signed_in(Role::Admin).await;

    let form = admin.get("/rounds/new?kind=government_purchase").await;
    assert_eq!(form.status, 200);
    let fields = form_fields(&form.html, "round-form");
    let value = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(value("kind").as_deref(), Some("government_purchase"));
    assert_eq!(
        value("rules.min_rating").as_deref(),
        Some("3A"),
        "the kind's default"
    );
    assert_eq!(value("rules.max_personnel_ratio").as_deref(), Some("0.50"));
    assert_eq!(
        value("rules.max_applications_per_organization").as_deref(),
        Some("3")
    );
    assert_eq!(
        value("party_points.independent_branch").as_deref(),
        Some("5")
    );
    assert!(fields.contains(&("criterion_key".into(), "party_elements".into())));
    assert!(fields.contains(&("tranche_percent".into(), "50".into())));
    let venture = form_fields(&admin.get("/rounds/new").await.html, "round-form");
    assert!(
        venture.contains(&("rules.min_rating".into(), "".into())),
        "{venture:?}"
    );

    let filled = with(
        &fields,
        &[
            ("name", "昆山市第八届公益创投"),
            ("total_pool", "500000.00"),
            ("grant_min", "5000"),
            ("grant_max", "100000"),
            ("focus_areas", "elderly\nchildren"),
        ],
    );
    // Refusals beside their fields: a pool below the grant maximum, money with 3 decimals.
    let r = post_fields(
        &admin,
        "/rounds",
        &with(&filled, &[("grant_max", "600000")]),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.html);
    assert!(r.html.contains("field-error"), "{}", r.html);
    let r = post_fields(
        &admin,
        "/rounds",
        &with(&filled, &[("total_pool", "1.001")]),
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(r.html.contains("金额须为"), "{}", r.html);
    let r = post_fields(
        &admin,
        "/rounds",
        &with(&filled, &[("tranche_percent", "60")]),
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(r.html.contains("各期拨付比例合计 110"), "{}", r.html);

    let r = post_fields(&admin, "/rounds", &filled).await;
    assert_eq!(r.status, 303, "{}", r.html);
    let id = id_of(&r.location, "/rounds/");
    let api = app.get(&format!("/rounds/{id}"), Some(&api_admin)).await;
    assert_eq!(api.body["status"], "draft");
    assert_eq!(api.body["kind"], "government_purchase");
    assert_eq!(api.body["rules"]["min_rating"], "3A");
    assert_eq!(api.body["rules"]["min_reviewers"], 3);
    assert_eq!(api.body["rubric"]["criteria"].as_array().unwrap().len(), 6);
    assert_eq!(api.body["tranche_schedule"][0]["percent"], "50");
    assert_eq!(api.body["focus_areas"], json!(["elderly", "children"]));
    assert_eq!(api.body["total_pool"], "500000.00");

    // Editable while a draft: the stored values in the form, a change saved.
    assert!(admin
        .get(&format!("/rounds/{id}"))
        .await
        .html
        .contains("edit-round"));
    let edit = admin.get(&format!("/rounds/{id}/edit")).await;
    assert_eq!(edit.status, 200);
    let stored = form_fields(&edit.html, "round-form");
    assert!(stored.contains(&("name".into(), "昆山市第八届公益创投".into())));
    let r = post_fields(
        &admin,
        &format!("/rounds/{id}"),
        &with(
            &stored,
            &[("rules.pass_mark", "70"), ("kind", "startup_support")],
        ),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let api = app.get(&format!("/rounds/{id}"), Some(&api_admin)).await;
    assert_eq!(api.body["rules"]["pass_mark"], "70");
    assert_eq!(api.body["kind"], "government_purchase", "the kind stays");
    assert!(admin
        .get("/rounds")
        .await
        .html
        .contains("昆山市第八届公益创投"));

    // Once open, the form is refused.
    assert_eq!(
        admin.post(&format!("/rounds/{id}/open"), &[]).await.status,
        303
    );
    assert_eq!(admin.get(&format!("/rounds/{id}/edit")).await.status, 409);
    let r = post_fields(&admin, &format!("/rounds/{id}"), &stored).await;
    assert_eq!(r.status, 409);
    assert!(!admin
        .get(&format!("/rounds/{id}"))
        .await
        .html
        .contains("edit-round"));
}

#[tokio::test]
async fn manual_assignment_refuses_an_affiliated_reviewer_in_chinese() {
    let app = spawn_app().await;
    let f = crate::review::reviewing_round(&app, 1, "100000.00", json!({}), &[]).await;
    let (admin, _) = page_admin(&app).await;
    let (app_id, org, _) = &f.apps[0];
    let (affiliated, _) = app.signed_in(Role::Reviewer).await;
    let (free, _) = app.signed_in(Role::Reviewer).await;
    for (r, affs) in [(affiliated, json!([org])), (free, json!([]))] {
        let res = app
            .post(
                &format!("/rounds/{}/reviewers", f.round),
                Some(&f.admin),
                json!({"reviewer_id": r, "affiliations": affs}),
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
    }
    let panel = format!("/rounds/{}/panel", f.round);
    let path = format!("/rounds/{}/assignments", f.round);
    let page = admin.get(&panel).await.html;
    assert!(page.contains("manual-assign") && page.contains(&format!("value=\"{app_id}\"")));

    let manual = |reviewer: String| {
        vec![
            ("mode".to_string(), "manual".to_string()),
            ("application_id".to_string(), app_id.clone()),
            ("reviewer_id".to_string(), reviewer),
        ]
    };
    let r = post_fields(&admin, &path, &manual(affiliated.to_string())).await;
    assert_eq!(r.status, 422, "{}", r.html);
    assert!(
        r.html
            .contains("评审专家不得评审其任职或担任顾问的社会组织的项目"),
        "{}",
        r.html
    );
    assert!(r.html.contains("manual-error"));
    let r = post_fields(&admin, &path, &manual(String::new())).await;
    assert_eq!(r.status, 422);
    assert!(r.html.contains("请选择评审专家"), "{}", r.html);
    let r = post_fields(&admin, &path, &manual(free.to_string())).await;
    assert_eq!(r.status, 303, "{}", r.html);
    assert!(r.location.as_deref().unwrap().ends_with("created=1"));
    let r = post_fields(&admin, &path, &manual(free.to_string())).await;
    assert_eq!(r.status, 422);
    assert!(r.html.contains("已被分配"), "{}", r.html);
    let (applicant, _, _) = browser_user(&app, Role::Applicant).await;
    assert_eq!(
        post_fields(&applicant, &path, &manual(free.to_string()))
            .await
            .status,
        403
    );
    let a = app
        .get(&format!("/rounds/{}", f.round), Some(&f.admin))
        .await;
    assert_eq!(
        a.body["status"], "reviewing",
        "the first assignment starts the review"
    );
}

/// Picks an option and tells the page, as a person's choice would (htmx listens for `change`).
async fn choose(b: &crate::browser::Browser, css: &str, value: &str) {
    b.driver
        .execute(
            "const e = document.querySelector(arguments[0]); e.value = arguments[1];
             e.dispatchEvent(new Event('change', {bubbles: true}));",
            vec![json!(css), json!(value)],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn in_the_browser_the_program_office_registers_runs_and_decides_a_round() {
    let app = spawn_app().await;
    let admin_email = format!("admin-{}@example.org", Uuid::new_v4().simple());
    app.add_user(&admin_email, Role::Admin, None).await;
    let reviewers: Vec<(Uuid, String)> = {
        let mut out = vec![];
        for i in 0..3 {
            let e = format!("reviewer-{i}-{}@example.org", Uuid::new_v4().simple());
            out.push((app.add_user(&e, Role::Reviewer, None).await, e));
        }
        out
    };
    let Some(b) = crate::browser::browser(&app).await else {
        return;
    };
    b.sign_in(&admin_email).await;
    b.click("#registry-links a[href=\"/organizations\"]").await;
    b.click("#new-organization").await;

    // The organization, with the cap previewed as the party-building facts change.
    b.fill("input[name=name]", "昆山市玉山镇社区养老服务社")
        .await;
    choose(&b, "select[name=org_type]", "private_non_enterprise").await;
    b.fill("input[name=credit_code]", &valid_code("52")).await;
    b.set("input[name=registration_date]", "2016-03-01").await;
    choose(&b, "select[name=rating]", "4A").await;
    b.set("input[name=rating_valid_until]", "2099-12-31").await;
    choose(&b, "select[name=party_building_status]", "none").await;
    b.wait_text("#rating-cap", "2A").await;
    b.wait_text("#cap-exceeded", "4A").await;
    b.screenshot("registry-rating-cap").await;
    choose(
        &b,
        "select[name=party_building_status]",
        "independent_branch",
    )
    .await;
    b.fill("input[name=party_member_count]", "6").await;
    choose(&b, "select[name=party_assessment]", "passed").await;
    b.wait_text("#rating-cap", "不限制").await;
    b.click("#save-organization").await;
    b.wait_text("#notice", "已保存").await;

    // Its applicant user, with the password the admin hands over.
    b.click("#add-applicant").await;
    let applicant_email = format!("applicant-{}@example.org", Uuid::new_v4().simple());
    b.fill("input[name=email]", &applicant_email).await;
    b.fill("input[name=name]", "王芳").await;
    b.fill("input[name=password]", PASSWORD).await;
    b.click("#create-user").await;
    b.wait_text("#notice", &applicant_email).await;

    // A round from the form with the kind's defaults; opened.
    b.open("/").await;
    b.click("#registry-links a[href=\"/rounds/new\"]").await;
    b.wait_text("#round-kind", "").await;
    b.fill("input[name=name]", "昆山市第八届公益创投").await;
    b.fill("input[name=total_pool]", "200000.00").await;
    b.fill("input[name=grant_min]", "10000").await;
    b.fill("input[name=grant_max]", "100000").await;
    b.fill("textarea[name=focus_areas]", "elderly").await;
    b.fill("input[name=\"rules.public_notice_days\"]", "0")
        .await;
    b.screenshot("registry-new-round").await;
    b.click("#save-round").await;
    b.click("#open-round").await;
    b.wait_text("#close-round", "").await;
    let round = b
        .driver
        .current_url()
        .await
        .unwrap()
        .path()
        .trim_start_matches("/rounds/")
        .to_string();

    // The applicant submits (through the API, to keep the walk short).
    let token = app.login(&applicant_email).await;
    let application =
        crate::applications::ready_draft(&app, &token, &round, "银龄助餐暖心行动").await;
    let r = app
        .post(
            &format!("/applications/{application}/submit"),
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Close, screen, form the panel, assign.
    b.open(&format!("/rounds/{round}")).await;
    b.click("#close-round").await;
    b.wait_text("#round-actions", "").await;
    b.open(&format!("/rounds/{round}/screening")).await;
    b.click(&format!("#screen-{application} button[type=submit]"))
        .await;
    b.wait_text("#queue-empty", "").await;
    b.open(&format!("/rounds/{round}/panel")).await;
    for (id, _) in &reviewers {
        b.set("#add-reviewer select[name=reviewer_id]", &id.to_string())
            .await;
        b.click("#add-reviewer button[type=submit]").await;
        b.wait_text(&format!("#panel tr[data-reviewer=\"{id}\"]"), "")
            .await;
    }
    b.click("#auto-assign button[type=submit]").await;
    b.wait_text("#notice", "3").await;
    b.wait_text("#no-gaps", "").await;
    b.screenshot("registry-panel").await;

    // One reviewer scores in the browser, the other two through the API.
    b.click("nav form[action=\"/logout\"] button").await;
    b.wait_text("main", "").await;
    b.sign_in(&reviewers[0].1).await;
    let rtoken = app.login(&reviewers[0].1).await;
    let mine = crate::review::assignment_of(&app, &rtoken, &application).await;
    b.open(&format!("/assignments/{mine}")).await;
    for (key, v) in [
        ("need_analysis", "13"),
        ("project_design", "17"),
        ("capacity", "13"),
        ("budget", "12"),
        ("outcomes", "12"),
        ("party_elements", "8"),
    ] {
        b.fill(&format!("#score-{key}"), v).await;
    }
    b.click("#submit-scores").await;
    b.wait_text("#assignment-status", "已提交").await;
    for (_, e) in &reviewers[1..] {
        let t = app.login(e).await;
        crate::review::score(&app, &t, &application, 65, "8").await;
    }
    b.click("nav form[action=\"/logout\"] button").await;
    b.wait_text("main", "").await;

    // The admin sees the ranking, previews, publishes and finalizes.
    b.sign_in(&admin_email).await;
    b.open(&format!("/rounds/{round}/ranking")).await;
    b.wait_text("#ranking", "银龄助餐暖心行动").await;
    b.open(&format!("/rounds/{round}/awards")).await;
    b.click("#preview-button").await;
    b.wait_text("#preview", "银龄助餐暖心行动").await;
    b.click("#publish").await;
    b.wait_text("#decision-status", "").await;
    b.click("#finalize").await;
    b.wait_text("#decision", "").await;
    b.screenshot("registry-awards-final").await;
    let a = app
        .get(&format!("/applications/{application}"), Some(&token))
        .await;
    assert_eq!(a.body["status"], "approved", "{}", a.body);

    // The public notice, signed out.
    b.click("nav form[action=\"/logout\"] button").await;
    b.wait_text("main", "").await;
    b.open("/notices").await;
    b.wait_text(".notice-lines", "银龄助餐暖心行动").await;
    let text = b.wait_text("main", "").await.text().await.unwrap();
    assert!(
        text.contains("¥80,000.00") && text.contains("昆山市玉山镇社区养老服务社"),
        "{text}"
    );
    b.quit().await;
}
