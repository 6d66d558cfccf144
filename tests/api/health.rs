use crate::helpers::spawn_app;
use serde_json::json;

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    let r = app.get("/healthz", None).await;
    assert_eq!(r.status, 200);
    assert!(
        r.headers.get("x-request-id").is_some(),
        "every response carries a request id"
    );
    let r = app.get("/readyz", None).await;
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("ready")));
}

#[tokio::test]
async fn unknown_route_is_problem_json_404() {
    let app = spawn_app().await;
    let r = app.get("/api/v1/nothing-here", None).await;
    assert_eq!((r.status, r.code()), (404, "not_found"));
}

#[tokio::test]
async fn exhausted_pool_answers_503_quickly() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    let app = gongyi_pool_of_one().await;
    let (_, token) = app.signed_in(gongyi::domain::user::Role::Admin).await;
    // The server's one worker has one connection. A request that waits on a table lock holds
    // it; the next request must give up within the pool timeout.
    // Own connections, outside every pool (the test's pool has one connection too).
    let url = app.settings.database.url().to_string();
    let mut locker = AsyncPgConnection::establish(&url).await.unwrap();
    diesel::sql_query("BEGIN")
        .execute(&mut locker)
        .await
        .unwrap();
    diesel::sql_query("LOCK TABLE organizations IN ACCESS EXCLUSIVE MODE")
        .execute(&mut locker)
        .await
        .unwrap();
    let holder = app.get("/organizations", Some(&token));
    let probe = async {
        // Until the holder's query waits on the lock (so it holds the pool's connection).
        until_a_query_waits_on_a_lock(&url).await;
        let started = std::time::Instant::now();
        let r = app.get("/organizations", Some(&token)).await;
        let elapsed = started.elapsed();
        diesel::sql_query("ROLLBACK")
            .execute(&mut locker)
            .await
            .unwrap();
        (r, elapsed)
    };
    let (held, (r, elapsed)) = tokio::join!(holder, probe);
    assert_eq!((r.status, r.code()), (503, "service_unavailable"));
    assert!(r.headers.get("retry-after").is_some());
    assert!(elapsed < std::time::Duration::from_secs(5), "{elapsed:?}");
    // The lock released, the waiting request finished, and the connection is free again.
    assert_eq!(held.status, 200, "{}", held.body);
    let r = app.get("/organizations", Some(&token)).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn connections_killed_by_the_server_are_replaced() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    let app = crate::helpers::spawn_app_with(|s| s.application.workers = 1).await;
    let (_, token) = app.signed_in(gongyi::domain::user::Role::Admin).await;
    assert_eq!(app.get("/organizations", Some(&token)).await.status, 200);
    // The server ends every other session on this database (a restart, a failover, an idle
    // timeout): the pooled connections are dead, but were used a moment ago (no idle check).
    let url = app.settings.database.url().to_string();
    let mut admin = AsyncPgConnection::establish(&url).await.unwrap();
    let killed: Vec<CountRow> = diesel::sql_query(
        "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .load(&mut admin)
    .await
    .unwrap();
    assert!(killed[0].n > 0);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // The closed connections are noticed and replaced, not handed out.
    let r = app.get("/organizations", Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[derive(diesel::QueryableByName)]
struct CountRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Returns once a session of the test's database waits on a lock.
async fn until_a_query_waits_on_a_lock(url: &str) {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    let mut watcher = AsyncPgConnection::establish(url).await.unwrap();
    loop {
        let waiting: Vec<CountRow> = diesel::sql_query(
            "SELECT count(*) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .load(&mut watcher)
        .await
        .unwrap();
        if waiting[0].n > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn gongyi_pool_of_one() -> crate::helpers::TestApp {
    crate::helpers::spawn_app_with(|s| {
        s.application.workers = 1;
        s.database.pool_max_size = 1;
        s.database.pool_timeout_ms = 300;
    })
    .await
}

#[tokio::test]
async fn openapi_documents_every_route_and_docs_are_served() {
    let app = spawn_app().await;
    let r = app.get("/openapi.json", None).await;
    assert_eq!(r.status, 200);
    let paths = r.body["paths"].as_object().expect("paths");
    // The contract of shared/api.md that exists so far; each must be documented.
    for (method, path) in [
        ("post", "/api/v1/auth/login"),
        ("get", "/api/v1/me"),
        ("post", "/api/v1/me/tokens"),
        ("delete", "/api/v1/me/tokens/{id}"),
        ("post", "/api/v1/users"),
        ("get", "/api/v1/users"),
        ("post", "/api/v1/organizations"),
        ("get", "/api/v1/organizations"),
        ("get", "/api/v1/organizations/{id}"),
        ("patch", "/api/v1/organizations/{id}"),
        ("get", "/healthz"),
        ("get", "/readyz"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing from the OpenAPI document"
        );
    }
    // Every documented operation is routed (the same list feeds both, this proves it).
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let concrete = path.replace("{id}", "00000000-0000-0000-0000-000000000000");
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = app.method(m, &concrete, None, json!({})).await;
            // Anonymous calls of routed operations answer 401 (or 200/4xx for public ones),
            // never the router's 404.
            assert_ne!(
                r.status, 404,
                "{method} {path} is documented but not routed"
            );
        }
    }
    let html = reqwest::get(format!("{}/docs/", app.address))
        .await
        .unwrap();
    assert_eq!(html.status(), 200);
    assert!(
        html.text().await.unwrap().contains("swagger"),
        "the UI is served from the binary"
    );
}

/// Found by the spec fuzzer (scripts/fuzz.sh): the document must describe the wire, i.e. enum
/// strings as sent, errors as problem+json, the generic error answers, and `limit`'s bounds.
#[tokio::test]
async fn openapi_describes_enum_strings_problem_responses_and_limit_bounds() {
    let app = spawn_app().await;
    let doc = app.get("/openapi.json", None).await.body;
    let schemas = &doc["components"]["schemas"];
    let statuses: Vec<&str> = schemas["ApplicationStatus"]["enum"]
        .as_array()
        .expect("ApplicationStatus is an enum")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(statuses.contains(&"under_review"), "{statuses:?}");
    assert!(!statuses.contains(&"UnderReview"), "{statuses:?}");
    assert_eq!(
        schemas["OutboxStatus"]["enum"],
        json!(["pending", "sent", "failed"])
    );

    let get_app = &doc["paths"]["/api/v1/applications/{id}"]["get"];
    for status in ["400", "401", "403", "404", "422", "503"] {
        let content = &get_app["responses"][status]["content"];
        assert!(
            content["application/problem+json"].is_object(),
            "GET /applications/{{id}} {status}: {content}"
        );
        assert!(
            content.get("application/json").is_none(),
            "{status}: {content}"
        );
    }
    assert!(get_app["responses"]["200"]["content"]["application/json"].is_object());
    let post_round = &doc["paths"]["/api/v1/rounds"]["post"]["responses"];
    assert!(post_round["413"]["content"]["application/problem+json"].is_object());

    let limit = doc["paths"]["/api/v1/applications"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .expect("limit parameter")
        .clone();
    assert_eq!(limit["schema"]["minimum"], json!(1));
    assert_eq!(limit["schema"]["maximum"], json!(200));
    // And the server agrees with the bounds it documents.
    let (_, admin) = app.signed_in(gongyi::domain::user::Role::Admin).await;
    assert_eq!(
        app.get("/applications?limit=200", Some(&admin))
            .await
            .status,
        200
    );
    assert_eq!(
        app.get("/applications?limit=201", Some(&admin))
            .await
            .status,
        422
    );
}

/// Found by the spec fuzzer: a NUL character in any JSON string reached Postgres (whose TEXT
/// cannot hold it) and answered 500. It is bad input: 422 validation_failed.
#[tokio::test]
async fn a_nul_character_in_text_is_refused_with_422_not_500() {
    let app = spawn_app().await;
    let (_, token) = app.signed_in(gongyi::domain::user::Role::Applicant).await;
    let r = app
        .post("/me/tokens", Some(&token), json!({"name": "L~i\u{0000}YQ"}))
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["code"], "validation_failed", "{}", r.body);
    let r = app
        .post("/me/tokens", Some(&token), json!({"name": "脚本令牌"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test]
async fn a_waiting_transaction_holds_a_turn_not_the_whole_pool() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    // One worker, three connections, one transaction at a time.
    let app = crate::helpers::spawn_app_with(|s| {
        s.application.workers = 1;
        s.database.pool_max_size = 3;
        s.database.write_concurrency = 1;
        s.database.pool_timeout_ms = 300;
    })
    .await;
    let (_, token) = app.signed_in(gongyi::domain::user::Role::Admin).await;
    let org = app.add_organization("轮次测试社工服务中心").await;
    // Another session holds the organization's row lock, so an update of it waits inside its
    // transaction, holding the one turn.
    let url = app.settings.database.url().to_string();
    let mut locker = AsyncPgConnection::establish(&url).await.unwrap();
    diesel::sql_query("BEGIN")
        .execute(&mut locker)
        .await
        .unwrap();
    diesel::sql_query(format!(
        "SELECT id FROM organizations WHERE id = '{org}' FOR UPDATE"
    ))
    .execute(&mut locker)
    .await
    .unwrap();
    let path = format!("/organizations/{org}");
    let holder = app.patch(
        &path,
        Some(&token),
        json!({"contact_phone": "0512-7654321"}),
    );
    let probe = async {
        until_a_query_waits_on_a_lock(&url).await;
        // A read needs no turn: it is answered while the transaction waits.
        let read = app.get(&path, Some(&token)).await;
        // A second transaction waits for the turn, and gives up like a request without a
        // connection would.
        let started = std::time::Instant::now();
        let write = app
            .post(
                "/rounds",
                Some(&token),
                crate::rounds::round_body("venture_philanthropy"),
            )
            .await;
        let elapsed = started.elapsed();
        diesel::sql_query("ROLLBACK")
            .execute(&mut locker)
            .await
            .unwrap();
        (read, write, elapsed)
    };
    let (held, (read, write, elapsed)) = tokio::join!(holder, probe);
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.body["contact_phone"], "0512-1234567");
    assert_eq!((write.status, write.code()), (503, "service_unavailable"));
    assert!(write.headers.get("retry-after").is_some());
    assert!(elapsed < std::time::Duration::from_secs(5), "{elapsed:?}");
    // The refused round was not created; once the lock is gone the turn is free again.
    assert_eq!(held.status, 200, "{}", held.body);
    assert_eq!(held.body["contact_phone"], "0512-7654321");
    let r = app.get("/rounds", Some(&token)).await;
    assert_eq!(
        r.body["items"].as_array().map(Vec::len),
        Some(0),
        "{}",
        r.body
    );
    let r = app
        .post(
            "/rounds",
            Some(&token),
            crate::rounds::round_body("venture_philanthropy"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}
