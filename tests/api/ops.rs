//! Operations: `GET /metrics` (who may scrape it, and that its figures follow what happens) and
//! the retention job (what it deletes, what it keeps, and that replicas take turns).

use std::collections::BTreeMap;
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use gongyi::domain::user::Role;
use gongyi::ops::metrics::Metrics;
use gongyi::ops::retention;
use gongyi::service::audit_trail;
use uuid::Uuid;

use crate::helpers::{spawn_app, spawn_app_with, TestApp};

const SCRAPER_TOKEN: &str = "scraper-token-0123456789abcdef0123456789";

/// One sample of the exposition: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

/// A line parser for the OpenMetrics text the service writes: `name{k="v",…} value`, with
/// `#` lines skipped. Label values here never contain `",` or escapes.
fn parse(text: &str) -> Vec<Sample> {
    let mut out = vec![];
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').expect("a value");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("number in {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.strip_suffix('}').expect("closing brace")),
            None => (series, ""),
        };
        let labels = labels
            .split("\",")
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once("=\"").expect("k=\"v\"");
                (k.to_string(), v.trim_end_matches('"').to_string())
            })
            .collect();
        out.push((name.to_string(), labels, value));
    }
    out
}

/// The sum of the series named `name` whose labels include `labels` (`None`: no such series).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<f64> = samples
        .iter()
        .filter(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| *v)
        .collect();
    (!found.is_empty()).then(|| found.iter().sum())
}

async fn scrape(app: &TestApp, token: &str) -> (String, Vec<Sample>) {
    let r = app.get("/metrics", Some(token)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.headers["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = r.body.as_str().expect("text").to_string();
    assert!(text.ends_with("# EOF\n"), "a complete exposition");
    let samples = parse(&text);
    (text, samples)
}

#[tokio::test]
async fn metrics_answer_an_admin_or_the_scraper_token_and_no_one_else() {
    let app = spawn_app_with(|s| s.metrics.token = SCRAPER_TOKEN.to_string().into()).await;
    let r = app.get("/metrics", None).await;
    assert_eq!((r.status, r.code()), (401, "unauthorized"));
    let r = app.get("/metrics", Some("not-a-token")).await;
    assert_eq!((r.status, r.code()), (401, "unauthorized"));
    // Almost the scraper token: one character short.
    let r = app
        .get("/metrics", Some(&SCRAPER_TOKEN[..SCRAPER_TOKEN.len() - 1]))
        .await;
    assert_eq!(r.status, 401);
    for role in [Role::Applicant, Role::Reviewer, Role::Finance] {
        let (_, token) = app.signed_in(role).await;
        let r = app.get("/metrics", Some(&token)).await;
        assert_eq!((r.status, r.code()), (403, "forbidden"), "{role}");
    }
    let (_, admin) = app.signed_in(Role::Admin).await;
    scrape(&app, &admin).await;
    scrape(&app, SCRAPER_TOKEN).await;

    // Without a configured scraper token, only admins.
    let app = spawn_app().await;
    let r = app.get("/metrics", Some(SCRAPER_TOKEN)).await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn a_short_scraper_token_stops_the_start() {
    let mut settings = gongyi::config::load_for(gongyi::config::Environment::Test).unwrap();
    settings.metrics.token = "short".to_string().into();
    settings.application.port = 0;
    let db = gongyi::storage::Database::new(&settings.database).unwrap();
    let err = gongyi::startup::Application::build(settings, db)
        .err()
        .expect("refused");
    assert!(err.to_string().contains("at least 32"), "{err}");
}

#[tokio::test]
async fn metrics_follow_requests_the_pools_and_the_database() {
    let app = spawn_app_with(|s| {
        s.metrics.token = SCRAPER_TOKEN.to_string().into();
        s.application.max_concurrent_expensive = 0;
    })
    .await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let (_, before) = scrape(&app, SCRAPER_TOKEN).await;
    assert_eq!(value(&before, "gongyi_database_up", &[]), Some(1.0));
    let route = [
        ("method", "GET"),
        ("route", "/api/v1/organizations/{id}"),
        ("status", "404"),
    ];
    let seen_before = value(&before, "gongyi_http_requests_total", &route).unwrap_or(0.0);

    // Three reads of missing organizations, one refused ranking (busy), one organization
    // created (an audit event, unsealed: the sealer does not run in tests), one queued email.
    let ids: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
    for id in &ids {
        let r = app.get(&format!("/organizations/{id}"), Some(&admin)).await;
        assert_eq!(r.status, 404);
    }
    let r = app
        .get(&format!("/rounds/{}/ranking", Uuid::new_v4()), Some(&admin))
        .await;
    assert_eq!((r.status, r.code()), (503, "busy"));
    app.add_organization("指标机构").await;
    let mut conn = AsyncPgConnection::establish(app.settings.database.url())
        .await
        .unwrap();
    diesel::sql_query(
        "INSERT INTO email_outbox (message_id, recipient, language, kind, subject, body_text, \
         body_html, created_at) VALUES (gen_random_uuid(), 'a@example.org', 'zh', 'test', 's', \
         't', 'h', now() - interval '90 seconds')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    // A connection of the background pool (the one the test shares with the server) held.
    let held = app.db.conn().await.unwrap();

    let (text, after) = scrape(&app, SCRAPER_TOKEN).await;
    assert_eq!(
        value(&after, "gongyi_http_requests_total", &route),
        Some(seen_before + 3.0),
        "{text}"
    );
    for id in &ids {
        assert!(!text.contains(&id.to_string()), "raw paths never appear");
    }
    let latency = [("method", "GET"), ("route", "/api/v1/organizations/{id}")];
    assert!(
        value(
            &after,
            "gongyi_http_request_duration_seconds_count",
            &latency
        )
        .unwrap()
            >= 3.0
    );
    assert!(
        value(
            &after,
            "gongyi_http_request_duration_seconds_bucket",
            &[latency[0], latency[1], ("le", "+Inf")]
        )
        .unwrap()
            >= 3.0
    );
    assert_eq!(
        value(&after, "gongyi_expensive_refused_total", &[]),
        Some(1.0)
    );
    assert_eq!(
        value(
            &after,
            "gongyi_http_requests_total",
            &[("route", "/api/v1/rounds/{id}/ranking"), ("status", "503")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&after, "gongyi_outbox_messages", &[("status", "pending")]),
        Some(1.0)
    );
    assert!(value(&after, "gongyi_outbox_oldest_pending_age_seconds", &[]).unwrap() >= 90.0);
    let unsealed = value(&after, "gongyi_audit_unsealed_events", &[]).unwrap();
    assert!(unsealed >= 1.0, "{text}");
    assert!(value(&after, "gongyi_audit_seal_lag_seconds", &[]).unwrap() > 0.0);
    assert!(value(&after, "gongyi_live_tokens", &[("kind", "session")]).unwrap() >= 1.0);
    assert!(
        value(
            &after,
            "gongyi_db_pool_connections",
            &[("pool", "background"), ("state", "in_use")]
        )
        .unwrap()
            >= 1.0
    );
    let workers = app.settings.application.workers;
    for i in 0..workers {
        let pool = format!("http-{i}");
        assert!(
            value(&after, "gongyi_db_pool_max_connections", &[("pool", &pool)]).unwrap() >= 1.0,
            "{pool}: {text}"
        );
        assert!(value(&after, "gongyi_db_pool_waiting", &[("pool", &pool)]).is_some());
        // No transaction runs between requests: every turn is free, and there is at least one.
        assert_eq!(
            value(
                &after,
                "gongyi_db_pool_transaction_turns",
                &[("pool", &pool), ("state", "in_use")]
            ),
            Some(0.0),
            "{pool}: {text}"
        );
        assert!(
            value(
                &after,
                "gongyi_db_pool_transaction_turns",
                &[("pool", &pool), ("state", "free")]
            )
            .unwrap()
                >= 1.0,
            "{pool}: {text}"
        );
    }
    drop(held);

    // Sealed and sent: the backlog figures come down. (The sealer takes only events of
    // transactions older than every running one on the server, which other tests share:
    // it may need a few passes.)
    diesel::sql_query("UPDATE email_outbox SET status = 'sent', sent_at = now()")
        .execute(&mut conn)
        .await
        .unwrap();
    let mut last = vec![];
    for _ in 0..100 {
        audit_trail::seal(&app.db, 1000).await.unwrap();
        last = scrape(&app, SCRAPER_TOKEN).await.1;
        if value(&last, "gongyi_audit_unsealed_events", &[]) == Some(0.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(value(&last, "gongyi_audit_unsealed_events", &[]), Some(0.0));
    assert_eq!(
        value(&last, "gongyi_audit_seal_lag_seconds", &[]),
        Some(0.0)
    );
    assert_eq!(
        value(&last, "gongyi_outbox_messages", &[("status", "pending")]),
        Some(0.0)
    );
    assert_eq!(
        value(&last, "gongyi_outbox_oldest_pending_age_seconds", &[]),
        Some(0.0)
    );
    // The scrapes themselves are counted under their template too.
    assert!(
        value(
            &last,
            "gongyi_http_requests_total",
            &[("route", "/metrics"), ("status", "200")]
        )
        .unwrap()
            >= 2.0
    );
}

async fn count(conn: &mut AsyncPgConnection, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let n: N = diesel::sql_query(sql).get_result(conn).await.unwrap();
    n.n
}

async fn exec(conn: &mut AsyncPgConnection, sql: &str) {
    diesel::sql_query(sql)
        .execute(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Rows of every retained kind, old and recent, written directly with their timestamps.
async fn seed_expirable_rows(conn: &mut AsyncPgConnection, user: Uuid) {
    exec(
        conn,
        "INSERT INTO email_outbox (message_id, recipient, language, kind, subject, body_text, \
         body_html, status, sent_at, created_at) VALUES \
         (gen_random_uuid(), 'old@example.org', 'zh', 'test', 's', 't', 'h', 'sent', now() - interval '40 days', now() - interval '40 days'), \
         (gen_random_uuid(), 'new@example.org', 'zh', 'test', 's', 't', 'h', 'sent', now() - interval '1 hour', now() - interval '1 hour')",
    )
    .await;
    exec(
        conn,
        "INSERT INTO email_outbox (message_id, recipient, language, kind, subject, body_text, \
         body_html, status, created_at) VALUES \
         (gen_random_uuid(), 'pending@example.org', 'zh', 'test', 's', 't', 'h', 'pending', now() - interval '90 days'), \
         (gen_random_uuid(), 'failed@example.org', 'zh', 'test', 's', 't', 'h', 'failed', now() - interval '90 days')",
    )
    .await;
    exec(
        conn,
        &format!(
            "INSERT INTO idempotency_keys (user_id, key, request_hash, created_at) VALUES \
             ('{user}', 'old', '\\x00', now() - interval '100 hours'), \
             ('{user}', 'new', '\\x00', now() - interval '1 hour')"
        ),
    )
    .await;
    exec(
        conn,
        &format!(
            "INSERT INTO api_tokens (id, user_id, kind, name, digest, expires_at, revoked_at) VALUES \
             (gen_random_uuid(), '{user}', 'session', 'expired long ago', sha256(random()::text::bytea), now() - interval '10 days', NULL), \
             (gen_random_uuid(), '{user}', 'api', 'revoked long ago', sha256(random()::text::bytea), NULL, now() - interval '10 days'), \
             (gen_random_uuid(), '{user}', 'session', 'expired just now', sha256(random()::text::bytea), now() - interval '1 hour', NULL), \
             (gen_random_uuid(), '{user}', 'api', 'live', sha256(random()::text::bytea), NULL, NULL)"
        ),
    )
    .await;
    exec(
        conn,
        "INSERT INTO login_failures (email_lower, failed_at) VALUES \
         ('x@example.org', now() - interval '10 days'), ('x@example.org', now())",
    )
    .await;
}

#[tokio::test]
async fn retention_deletes_what_has_expired_and_keeps_the_rest() {
    let app = spawn_app().await;
    let (user, _) = app.signed_in(Role::Admin).await;
    app.add_organization("留存机构").await;
    let mut conn = AsyncPgConnection::establish(app.settings.database.url())
        .await
        .unwrap();
    exec(&mut conn, "DELETE FROM api_tokens").await;
    seed_expirable_rows(&mut conn, user).await;
    let audit_before = count(&mut conn, "SELECT count(*) AS n FROM audit_events").await;
    assert!(audit_before > 0);

    // The default periods: 30 days for sent emails, 72 hours for idempotency keys, 7 days
    // after expiry or revocation for tokens, 7 days for failed sign-ins.
    let metrics = Metrics::default();
    let r = retention::run_once(&app.db, &app.settings, Some(&metrics))
        .await
        .unwrap();
    assert!(!r.yielded);
    assert_eq!(r.deleted("outbox_sent"), 1, "{r:?}");
    assert_eq!(r.deleted("idempotency_keys"), 1, "{r:?}");
    assert_eq!(r.deleted("expired_tokens"), 2, "{r:?}");
    assert_eq!(r.deleted("login_failures"), 1, "{r:?}");
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM email_outbox WHERE recipient = 'old@example.org'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM email_outbox WHERE status IN ('pending', 'failed')"
        )
        .await,
        2,
        "pending and failed emails stay, however old"
    );
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM api_tokens").await,
        2
    );
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM audit_events").await,
        audit_before,
        "the audit trail is never touched"
    );
    let text = metrics.encode(None);
    assert!(
        text.contains(r#"gongyi_retention_deleted_rows_total{rule="expired_tokens"} 2"#),
        "{text}"
    );
    assert!(!text.contains("gongyi_retention_last_run_timestamp_seconds 0.0"));

    // Short periods: everything expired goes, except failed sign-ins inside the throttle's
    // window and rows that have not expired at all.
    let mut short = app.settings.clone();
    short.retention.outbox_sent_days = 0;
    short.retention.idempotency_key_hours = 0;
    short.retention.expired_token_days = 0;
    short.retention.login_failure_days = 0;
    short.retention.batch_size = 1;
    let r = retention::run_once(&app.db, &short, None).await.unwrap();
    assert_eq!(r.deleted("outbox_sent"), 1, "{r:?}");
    assert_eq!(r.deleted("idempotency_keys"), 1, "{r:?}");
    assert_eq!(r.deleted("expired_tokens"), 1, "{r:?}");
    assert_eq!(r.deleted("login_failures"), 0, "within the window: {r:?}");
    let names: Vec<String> = {
        #[derive(diesel::QueryableByName)]
        struct Name {
            #[diesel(sql_type = diesel::sql_types::Text)]
            name: String,
        }
        diesel::sql_query("SELECT name FROM api_tokens")
            .load::<Name>(&mut conn)
            .await
            .unwrap()
            .into_iter()
            .map(|n| n.name)
            .collect()
    };
    assert_eq!(names, ["live"]);
    let r = retention::run_once(&app.db, &short, None).await.unwrap();
    assert_eq!(r.total(), 0, "nothing left to delete: {r:?}");
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM audit_events").await,
        audit_before
    );
}

#[tokio::test]
async fn a_replica_holding_the_retention_lock_makes_the_others_skip() {
    let app = spawn_app().await;
    let (user, _) = app.signed_in(Role::Admin).await;
    let mut conn = AsyncPgConnection::establish(app.settings.database.url())
        .await
        .unwrap();
    seed_expirable_rows(&mut conn, user).await;
    // Another replica, mid-pass: it holds the lock in its own transaction.
    let mut other = AsyncPgConnection::establish(app.settings.database.url())
        .await
        .unwrap();
    exec(&mut other, "BEGIN").await;
    exec(
        &mut other,
        &format!(
            "SELECT pg_advisory_xact_lock({})",
            retention::RETENTION_LOCK
        ),
    )
    .await;
    let r = retention::run_once(&app.db, &app.settings, None)
        .await
        .unwrap();
    assert!(r.yielded, "{r:?}");
    assert_eq!(r.total(), 0);
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM login_failures").await,
        2
    );
    exec(&mut other, "COMMIT").await;
    let r = retention::run_once(&app.db, &app.settings, None)
        .await
        .unwrap();
    assert!(!r.yielded);
    assert_eq!(r.total(), 5, "{r:?}");
}

#[tokio::test]
async fn serve_runs_the_retention_job_when_enabled() {
    let app = spawn_app_with(|s| {
        s.retention.enabled = true;
        s.retention.interval_secs = 1;
    })
    .await;
    let mut conn = AsyncPgConnection::establish(app.settings.database.url())
        .await
        .unwrap();
    exec(
        &mut conn,
        "INSERT INTO login_failures (email_lower, failed_at) VALUES ('y@example.org', now() - interval '30 days')",
    )
    .await;
    let mut left = 1;
    for _ in 0..50 {
        left = count(&mut conn, "SELECT count(*) AS n FROM login_failures").await;
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, 0, "the job in serve deleted the old record");
}
