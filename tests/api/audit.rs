//! The audit trail: append-only in the database, sealed into a SHA-256 chain by a background
//! step, verified by `gongyi audit verify` and `GET /audit/verify`, which name a tampered row.

use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use gongyi::domain::user::Role;
use gongyi::service::audit_trail;
use serde_json::{json, Value};

use crate::applications::ready_draft;
use crate::helpers::{spawn_app, TestApp};
use crate::rounds::{open_round, round_body};

async fn raw_conn(app: &TestApp) -> AsyncPgConnection {
    AsyncPgConnection::establish(app.settings.database.url())
        .await
        .unwrap()
}

/// Seals until nothing is left unsealed. Another test's open transaction elsewhere on the
/// server may hold the horizon back for a moment, so this retries for a while.
async fn seal_everything(app: &TestApp) {
    for _ in 0..200 {
        audit_trail::seal(&app.db, 1000).await.unwrap();
        if audit_trail::verify(&app.db).await.unwrap().unsealed == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("audit events stayed unsealed");
}

/// Some activity: a round opened, an application submitted and screened.
async fn activity(app: &TestApp) -> (String, String, String) {
    let (round, admin) = open_round(app, round_body("venture_philanthropy")).await;
    let (_, applicant) = app.signed_in(Role::Applicant).await;
    let id = ready_draft(app, &applicant, &round, "审计测试项目").await;
    let r = app
        .post(
            &format!("/applications/{id}/submit"),
            Some(&applicant),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    (admin, applicant, id)
}

fn verify_cli(app: &TestApp) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gongyi"))
        .args(["audit", "verify"])
        .env("GONGYI_ENV", "test")
        .env("DATABASE_URL", app.settings.database.url())
        .env(
            "GONGYI_CONFIG_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config"),
        )
        .output()
        .expect("run gongyi audit verify");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

#[tokio::test]
async fn records_are_sealed_into_a_chain_and_a_tampered_row_is_named() {
    let app = spawn_app().await;
    let (admin, _, id) = activity(&app).await;

    let before = app.get("/audit?limit=200", Some(&admin)).await;
    assert_eq!(before.status, 200, "{}", before.body);
    assert!(before.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["sealed"] == false && e["seal_seq"].is_null()));
    // Small batches: several transactions, each continuing the chain where the last one ended.
    audit_trail::seal(&app.db, 2).await.unwrap();
    seal_everything(&app).await;
    // Sealing is idempotent: nothing twice.
    assert_eq!(audit_trail::seal(&app.db, 1000).await.unwrap(), 0);

    let r = app.get("/audit?limit=200", Some(&admin)).await;
    let items = r.body["items"].as_array().unwrap();
    assert!(items.len() >= 5, "{}", r.body);
    assert_eq!(items.len(), before.body["items"].as_array().unwrap().len());
    let mut seqs: Vec<i64> = items
        .iter()
        .map(|e| {
            assert_eq!(e["sealed"], true, "{e}");
            e["seal_seq"].as_i64().unwrap()
        })
        .collect();
    seqs.sort();
    assert_eq!(
        seqs,
        (1..=items.len() as i64).collect::<Vec<_>>(),
        "no gaps"
    );

    let r = app.get("/audit/verify", Some(&admin)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["intact"], true, "{}", r.body);
    assert_eq!(r.body["checked"], json!(items.len()));
    assert_eq!(r.body["head_hash"].as_str().unwrap().len(), 64);
    let (code, out) = verify_cli(&app);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("intact"), "{out}");

    // Someone with superuser rights alters the submission record by hand, triggers off.
    let target = items
        .iter()
        .find(|e| e["action"] == "application.submitted" && e["entity_id"] == json!(id))
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let mut conn = raw_conn(&app).await;
    diesel::sql_query("SET session_replication_role = replica")
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::sql_query(format!(
        "UPDATE audit_events SET after = '{{\"status\": \"approved\"}}' WHERE id = {target}"
    ))
    .execute(&mut conn)
    .await
    .unwrap();

    let r = app.get("/audit/verify", Some(&admin)).await;
    assert_eq!(r.body["intact"], false, "{}", r.body);
    assert_eq!(r.body["first_break"]["event_id"], json!(target));
    assert_eq!(r.body["first_break"]["reason"], "event_changed");
    let seq = r.body["first_break"]["seq"].as_i64().unwrap();
    assert_eq!(
        r.body["checked"],
        json!(seq - 1),
        "links before it are fine"
    );
    let (code, out) = verify_cli(&app);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("audit event {target}")), "{out}");

    // Forging the seal as well does not help: the next link no longer matches.
    diesel::sql_query(format!(
        "UPDATE audit_seals SET hash = decode(repeat('ab', 32), 'hex') WHERE event_id = {target}"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let r = app.get("/audit/verify", Some(&admin)).await;
    assert_eq!(r.body["intact"], false);
    assert_eq!(r.body["first_break"]["seq"], json!(seq));
}

#[tokio::test]
async fn the_database_refuses_to_change_or_remove_audit_records() {
    let app = spawn_app().await;
    activity(&app).await;
    seal_everything(&app).await;
    let mut conn = raw_conn(&app).await;
    for sql in [
        "UPDATE audit_events SET action = 'x'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events CASCADE",
        "UPDATE audit_seals SET hash = hash",
        "DELETE FROM audit_seals",
        "TRUNCATE audit_seals",
    ] {
        let err = diesel::sql_query(sql)
            .execute(&mut conn)
            .await
            .expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(
        audit_trail::verify(&app.db).await.unwrap().first_break,
        None
    );
}

#[tokio::test]
async fn an_unfinished_writer_holds_back_sealing_of_later_records() {
    let app = spawn_app().await;
    let (round, admin) = open_round(&app, round_body("venture_philanthropy")).await;
    seal_everything(&app).await;
    let sealed_before = audit_trail::verify(&app.db).await.unwrap().sealed;

    // A writer that inserted an audit record and has not committed yet.
    let mut slow = raw_conn(&app).await;
    diesel::sql_query("BEGIN").execute(&mut slow).await.unwrap();
    diesel::sql_query(
        "INSERT INTO audit_events (action, entity_type, entity_id) VALUES ('slow.write', 'test', gen_random_uuid())",
    )
    .execute(&mut slow)
    .await
    .unwrap();
    // A later change commits while it is still open.
    let r = app
        .post(&format!("/rounds/{round}/close"), Some(&admin), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    audit_trail::seal(&app.db, 1000).await.unwrap();
    let r = app
        .get("/audit?entity_type=round&limit=1", Some(&admin))
        .await;
    let close = r.body["items"][0].clone();
    assert_eq!(close["after"]["status"], "closed", "{close}");
    assert_eq!(
        close["sealed"], false,
        "not sealed while an older writer runs"
    );

    diesel::sql_query("COMMIT")
        .execute(&mut slow)
        .await
        .unwrap();
    seal_everything(&app).await;
    let report = audit_trail::verify(&app.db).await.unwrap();
    assert!(report.intact);
    assert_eq!(report.sealed, sealed_before + 2);
    // Chain order follows the ids: the slow record (lower id) comes first.
    let r = app.get("/audit?limit=2", Some(&admin)).await;
    let items: Vec<Value> = r.body["items"].as_array().unwrap().clone();
    assert_eq!(items[0]["action"], close["action"]);
    assert_eq!(items[1]["action"], "slow.write");
    assert!(items[0]["seal_seq"].as_i64() > items[1]["seal_seq"].as_i64());
}

#[tokio::test]
async fn the_trail_filters_by_entity_actor_and_time_and_pages() {
    let app = spawn_app().await;
    let (admin, applicant, id) = activity(&app).await;
    let me = app.get("/me", Some(&applicant)).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();

    let r = app
        .get(&format!("/audit?actor_id={me}"), Some(&admin))
        .await;
    let items = r.body["items"].as_array().unwrap();
    let actions: Vec<&str> = items
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "application.submitted",
            "application.budget_replaced",
            "application.created"
        ],
        "newest first"
    );
    // By action: only those records, whoever made them.
    let r = app
        .get("/audit?action=application.budget_replaced", Some(&admin))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let items = r.body["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items
        .iter()
        .all(|e| e["action"] == "application.budget_replaced"));
    assert!(items.iter().all(|e| e["entity_id"] == json!(id)));

    let r = app
        .get("/audit?entity_type=round&limit=1", Some(&admin))
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["has_more"], true, "{}", r.body);
    let cursor = r.body["next_cursor"].as_str().unwrap().to_string();
    let first = r.body["items"][0]["id"].as_i64().unwrap();
    let r = app
        .get(
            &format!("/audit?entity_type=round&limit=1&cursor={cursor}"),
            Some(&admin),
        )
        .await;
    assert!(r.body["items"][0]["id"].as_i64().unwrap() < first);

    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let past = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let enc = |s: &str| s.replace('+', "%2B");
    let r = app
        .get(&format!("/audit?from={}", enc(&future)), Some(&admin))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["items"].as_array().unwrap().is_empty());
    let r = app
        .get(
            &format!("/audit?from={}&to={}", enc(&past), enc(&future)),
            Some(&admin),
        )
        .await;
    assert!(r.body["items"].as_array().unwrap().len() >= 5);
    let r = app
        .get(
            &format!("/audit?from={}&to={}", enc(&future), enc(&past)),
            Some(&admin),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "validation_failed"));
    let r = app.get("/audit?cursor=nonsense", Some(&admin)).await;
    assert_eq!((r.status, r.code()), (400, "invalid_cursor"));

    for path in ["/audit", "/audit/verify"] {
        let r = app.get(path, Some(&applicant)).await;
        assert_eq!(r.status, 403, "{path}");
        let r = app.get(path, None).await;
        assert_eq!(r.status, 401, "{path}");
    }
}

#[tokio::test]
async fn the_outbox_and_audit_endpoints_are_documented() {
    let app = spawn_app().await;
    let r = app.get("/openapi.json", None).await;
    for (method, path) in [
        ("get", "/api/v1/audit"),
        ("get", "/api/v1/audit/verify"),
        ("get", "/api/v1/outbox"),
        ("post", "/api/v1/outbox/{id}/retry"),
    ] {
        assert!(
            r.body["paths"][path][method].is_object(),
            "{method} {path} missing from the OpenAPI document"
        );
    }
    for schema in [
        "AuditEventView",
        "ChainReport",
        "ChainBreak",
        "OutboxMessageView",
        "OutboxStatus",
    ] {
        assert!(
            r.body["components"]["schemas"][schema].is_object(),
            "schema {schema} missing"
        );
    }
}
