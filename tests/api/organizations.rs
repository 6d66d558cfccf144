use gongyi::domain::user::Role;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, valid_code, TestApp};

fn new_org(code: &str) -> Value {
    json!({
        "name": "昆山市阳光助老服务中心",
        "credit_code": code,
        "org_type": "private_non_enterprise",
        "registration_date": "2016-03-01",
        "district": "昆山市玉山镇",
        "contact_person": "王女士",
        "contact_phone": "0512-5555555",
        "contact_email": "yg@example.org",
        "rating": "4A",
        "rating_valid_until": "2028-12-31",
        "party_building_status": "independent_branch",
        "party_member_count": 6,
        "party_assessment": "passed"
    })
}

async fn count(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use gongyi::storage::schema::organizations;
    let mut conn = app.db.conn().await.unwrap();
    organizations::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn admin_registers_an_organization() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let code = valid_code("52");
    let r = app
        .post("/organizations", Some(&admin), new_org(&code))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["credit_code"], code.as_str());
    assert_eq!(r.body["rating"], "4A");
    let id = r.body["id"].as_str().unwrap();
    let got = app.get(&format!("/organizations/{id}"), Some(&admin)).await;
    assert_eq!(got.body["name"], "昆山市阳光助老服务中心");
    // The same code twice is a conflict.
    let r = app
        .post("/organizations", Some(&admin), new_org(&code))
        .await;
    assert_eq!((r.status, r.code()), (409, "credit_code_taken"));
}

#[tokio::test]
async fn bad_inputs_get_their_codes_and_write_nothing() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let before = count(&app).await;

    // A code with a wrong check character.
    let mut code = valid_code("52");
    let last = code.pop().unwrap();
    code.push(if last == '0' { '1' } else { '0' });
    let r = app
        .post("/organizations", Some(&admin), new_org(&code))
        .await;
    assert_eq!((r.status, r.code()), (422, "validation_failed"));
    assert_eq!(r.rules(), vec!["credit_code"]);
    // Chinese unless the client asks for English.
    assert!(r.body["violations"][0]["message"]
        .as_str()
        .unwrap()
        .contains("校验码"));
    let en = app
        .send(
            app.client
                .post(app.url("/organizations"))
                .bearer_auth(&admin)
                .header("accept-language", "en-US,en;q=0.9")
                .json(&new_org(&code)),
        )
        .await;
    assert_eq!(en.code(), "validation_failed");
    assert!(en.body["violations"][0]["message"]
        .as_str()
        .unwrap()
        .contains("check character"));

    // A valid code of the wrong category (a foundation code for a private non-enterprise unit).
    let r = app
        .post("/organizations", Some(&admin), new_org(&valid_code("53")))
        .await;
    assert_eq!(r.rules(), vec!["credit_code_type"]);

    // 4A for a "三无" organization: rule 4 names the cap and why.
    let mut body = new_org(&valid_code("52"));
    body["party_building_status"] = json!("none");
    body["party_member_count"] = json!(0);
    let r = app.post("/organizations", Some(&admin), body).await;
    assert_eq!((r.status, r.code()), (422, "rule_violation"));
    let v = &r.body["violations"][0];
    assert_eq!(v["rule"], "rating_cap");
    assert_eq!(v["actual"], "4A");
    assert!(v["limit"].as_str().unwrap().starts_with("2A"));
    assert!(v["limit"].as_str().unwrap().contains("no_party_building"));

    // Failed party-building assessment: at most 3A.
    let mut body = new_org(&valid_code("52"));
    body["party_assessment"] = json!("failed");
    let r = app.post("/organizations", Some(&admin), body).await;
    assert!(r.body["violations"][0]["limit"]
        .as_str()
        .unwrap()
        .starts_with("3A"));

    // Malformed JSON, an unknown field, a wrong type, an oversized body.
    let r = app
        .raw_post("/organizations", Some(&admin), "{\"name\": ")
        .await;
    assert_eq!((r.status, r.code()), (400, "malformed_json"));
    let mut body = new_org(&valid_code("52"));
    body["status"] = json!("approved");
    let r = app.post("/organizations", Some(&admin), body).await;
    assert_eq!((r.status, r.code()), (422, "validation_failed"));
    assert!(r.body["violations"][0]["message"]
        .as_str()
        .unwrap()
        .contains("不允许的字段"));
    let mut body = new_org(&valid_code("52"));
    body["party_member_count"] = json!("many");
    let r = app.post("/organizations", Some(&admin), body).await;
    assert_eq!(r.body["violations"][0]["field"], "party_member_count");
    let huge = format!(
        "{{\"name\": \"{}\"}}",
        "x".repeat(app.settings.application.max_body_bytes + 10)
    );
    let r = app.raw_post("/organizations", Some(&admin), huge).await;
    assert_eq!((r.status, r.code()), (413, "payload_too_large"));

    assert_eq!(count(&app).await, before, "nothing was written");
}

#[tokio::test]
async fn community_organizations_may_have_no_code() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let mut body = new_org("");
    body.as_object_mut().unwrap().remove("credit_code");
    body["org_type"] = json!("community_organization");
    body["rating"] = Value::Null;
    body["rating_valid_until"] = Value::Null;
    let r = app.post("/organizations", Some(&admin), body.clone()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    body["org_type"] = json!("foundation");
    let r = app.post("/organizations", Some(&admin), body).await;
    assert_eq!(r.rules(), vec!["credit_code_type"]);
}

#[tokio::test]
async fn applicants_see_and_edit_only_their_own_contact_fields() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let mine = app.add_organization("我的机构").await;
    let other = app.add_organization("别人的机构").await;
    let token = app.applicant_of(mine).await;

    assert_eq!(
        app.get(&format!("/organizations/{mine}"), Some(&token))
            .await
            .status,
        200
    );
    let r = app
        .get(&format!("/organizations/{other}"), Some(&token))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (404, "not_found"),
        "another organization is not found, not forbidden"
    );
    let list = app.get("/organizations", Some(&token)).await;
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], mine.to_string());

    let r = app
        .patch(
            &format!("/organizations/{mine}"),
            Some(&token),
            json!({"contact_phone": "0512-7777777"}),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["contact_phone"]),
        (200, &json!("0512-7777777"))
    );
    let r = app
        .patch(
            &format!("/organizations/{mine}"),
            Some(&token),
            json!({"rating": "5A"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "field_not_allowed"));
    let r = app
        .patch(
            &format!("/organizations/{other}"),
            Some(&token),
            json!({"contact_phone": "1"}),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = app
        .patch(
            &format!("/organizations/{other}"),
            Some(&token),
            json!({"rating": "5A"}),
        )
        .await;
    assert_eq!(
        r.status, 404,
        "no 403-vs-404 difference for others' organizations"
    );

    // Reviewers see no organizations.
    let (_, reviewer) = app.signed_in(Role::Reviewer).await;
    assert_eq!(app.get("/organizations", Some(&reviewer)).await.status, 403);

    // Admin sets the blacklist; applicants never see it.
    let r = app
        .patch(
            &format!("/organizations/{mine}"),
            Some(&admin),
            json!({"blacklisted_until": "2029-01-01", "blacklist_reason": "项目终止"}),
        )
        .await;
    assert_eq!(r.body["blacklisted_until"], "2029-01-01");
    let r = app
        .get(&format!("/organizations/{mine}"), Some(&token))
        .await;
    assert!(r.body.get("blacklisted_until").is_none());
}

#[tokio::test]
async fn admin_patch_rechecks_the_rating_cap() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let id = app.add_organization("3A 机构").await;
    // Dropping party building to "none" while rated 3A breaks the cap.
    let r = app
        .patch(
            &format!("/organizations/{id}"),
            Some(&admin),
            json!({"party_building_status": "none", "party_member_count": 0}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "rule_violation"));
    let r = app
        .patch(
            &format!("/organizations/{id}"),
            Some(&admin),
            json!({"party_building_status": "none", "party_member_count": 0, "rating": "2A"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .patch(
            &format!("/organizations/{id}"),
            Some(&admin),
            json!({"rating": null, "rating_valid_until": null}),
        )
        .await;
    assert_eq!((r.status, &r.body["rating"]), (200, &Value::Null));
}

#[tokio::test]
async fn lists_are_paginated_and_filtered() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    for i in 0..5 {
        app.add_organization(&format!("分页机构 {i}")).await;
    }
    let first = app.get("/organizations?limit=2", Some(&admin)).await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(first.body["has_more"], true);
    let mut seen: Vec<String> = vec![];
    let mut cursor = first.body["next_cursor"].as_str().map(String::from);
    seen.extend(
        first.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_string()),
    );
    while let Some(c) = cursor {
        let page = app
            .get(&format!("/organizations?limit=2&cursor={c}"), Some(&admin))
            .await;
        seen.extend(
            page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["id"].as_str().unwrap().to_string()),
        );
        cursor = page.body["next_cursor"].as_str().map(String::from);
    }
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(
        (seen.len(), unique.len()),
        (5, 5),
        "every organization exactly once"
    );

    let r = app
        .get(
            "/organizations?name=%E5%88%86%E9%A1%B5%E6%9C%BA%E6%9E%84%203",
            Some(&admin),
        )
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    let r = app.get("/organizations?rating=5A", Some(&admin)).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0);
    let r = app.get("/organizations?limit=500", Some(&admin)).await;
    assert_eq!((r.status, r.rules()), (422, vec!["page_size".to_string()]));
    let r = app.get("/organizations?colour=red", Some(&admin)).await;
    assert_eq!((r.status, r.code()), (400, "invalid_query"));
    let r = app.get("/organizations?cursor=%%%", Some(&admin)).await;
    assert_eq!(r.status, 400);
}
