use gongyi::domain::user::Role;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, PASSWORD};

#[tokio::test]
async fn login_me_and_wrong_credentials_look_alike() {
    let app = spawn_app().await;
    app.add_user("Alice@Example.org", Role::Admin, None).await;
    // Email compared without case.
    let token = app.login("alice@example.ORG").await;
    let me = app.get("/me", Some(&token)).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["role"], "admin");
    assert_eq!(me.body["email"], "Alice@Example.org");
    assert!(me.body.get("password_hash").is_none());

    let wrong = app
        .post(
            "/auth/login",
            None,
            json!({"email": "alice@example.org", "password": "wrong-password!"}),
        )
        .await;
    let unknown = app
        .post(
            "/auth/login",
            None,
            json!({"email": "nobody@example.org", "password": PASSWORD}),
        )
        .await;
    assert_eq!((wrong.status, wrong.code()), (401, "invalid_credentials"));
    assert_eq!(
        (unknown.status, unknown.code()),
        (401, "invalid_credentials")
    );
    assert_eq!(wrong.body["detail"], unknown.body["detail"]);
}

#[tokio::test]
async fn repeated_failures_are_throttled() {
    let app = spawn_app_with(|s| s.auth.login_max_failures = 3).await;
    app.add_user("bob@example.org", Role::Finance, None).await;
    for _ in 0..3 {
        let r = app
            .post(
                "/auth/login",
                None,
                json!({"email": "bob@example.org", "password": "not-the-password"}),
            )
            .await;
        assert_eq!(r.status, 401);
    }
    // Even the right password is refused while throttled.
    let r = app
        .post(
            "/auth/login",
            None,
            json!({"email": "bob@example.org", "password": PASSWORD}),
        )
        .await;
    assert_eq!((r.status, r.code()), (429, "too_many_requests"));
    assert!(r.headers.get("retry-after").is_some());
}

#[tokio::test]
async fn missing_or_bad_tokens_are_401() {
    let app = spawn_app().await;
    for token in [None, Some("gy_not-a-token")] {
        let r = app.get("/me", token).await;
        assert_eq!((r.status, r.code()), (401, "unauthorized"));
        assert_eq!(r.headers.get("www-authenticate").unwrap(), "Bearer");
    }
    let r = app
        .send(
            app.client
                .get(app.url("/me"))
                .header("authorization", "Basic abc"),
        )
        .await;
    assert_eq!(r.status, 401);
    // Unauthenticated beats a bad body.
    let r = app.raw_post("/organizations", None, "{not json").await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn api_tokens_are_shown_once_listed_and_revocable() {
    let app = spawn_app().await;
    let (_, session) = app.signed_in(Role::Reviewer).await;
    let created = app
        .post(
            "/me/tokens",
            Some(&session),
            json!({"name": "panel script"}),
        )
        .await;
    assert_eq!(created.status, 201);
    let api_token = created.body["token"].as_str().unwrap().to_string();
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(app.get("/me", Some(&api_token)).await.status, 200);

    let list = app.get("/me/tokens", Some(&session)).await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    assert!(
        list.body[0].get("token").is_none(),
        "the secret is never shown again"
    );

    // Only a digest is stored.
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use gongyi::storage::schema::api_tokens;
    let mut conn = app.db.conn().await.unwrap();
    let digests: Vec<Vec<u8>> = api_tokens::table
        .select(api_tokens::digest)
        .load(&mut conn)
        .await
        .unwrap();
    assert!(digests
        .iter()
        .all(|d| d.len() == 32 && d != api_token.as_bytes()));

    assert_eq!(
        app.delete(&format!("/me/tokens/{id}"), Some(&session))
            .await
            .status,
        204
    );
    assert_eq!(app.get("/me", Some(&api_token)).await.status, 401);
    assert_eq!(
        app.delete(&format!("/me/tokens/{id}"), Some(&session))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn deactivated_users_tokens_stop_at_once() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let (user_id, token) = app.signed_in(Role::Finance).await;
    assert_eq!(app.get("/me", Some(&token)).await.status, 200);
    let r = app
        .patch(
            &format!("/users/{user_id}"),
            Some(&admin),
            json!({"active": false}),
        )
        .await;
    assert_eq!((r.status, &r.body["active"]), (200, &json!(false)));
    assert_eq!(app.get("/me", Some(&token)).await.status, 401);
}

#[tokio::test]
async fn admins_create_users_others_may_not() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let (_, finance) = app.signed_in(Role::Finance).await;
    let body = json!({"email": "rev@example.org", "name": "Reviewer", "role": "reviewer", "password": "long-enough-pw"});
    let r = app.post("/users", Some(&finance), body.clone()).await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    let r = app.post("/users", Some(&admin), body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    // Same email in another case: taken.
    let r = app
        .post("/users", Some(&admin), json!({"email": "REV@example.org", "name": "X", "role": "reviewer", "password": "long-enough-pw"}))
        .await;
    assert_eq!((r.status, r.code()), (409, "email_taken"));
    // Applicants need an organization; all problems are listed at once.
    let r = app
        .post(
            "/users",
            Some(&admin),
            json!({"email": "bad", "name": "A", "role": "applicant", "password": "short"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "validation_failed"));
    let rules = r.rules();
    for rule in ["email", "password_length", "applicant_organization"] {
        assert!(rules.contains(&rule.to_string()), "{rules:?}");
    }
    let list = app.get("/users?role=reviewer", Some(&admin)).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
}
