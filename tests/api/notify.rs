//! Email notifications: written to the outbox in the changing transaction, delivered to a real
//! SMTP listener by the sender, never lost during an outage, never sent twice by two senders.

use std::collections::HashSet;
use std::time::Duration;

use diesel_async::AsyncConnection;
use gongyi::domain::money::Money;
use gongyi::domain::user::{Language, Role};
use gongyi::notify::{self, sender, Event, Recipient};
use gongyi::storage::StorageError;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::applications::ready_draft;
use crate::helpers::{spawn_app_with, TestApp};
use crate::rounds::{open_round, round_body};
use crate::smtp::SmtpServer;

async fn app_with_smtp(
    smtp: &SmtpServer,
    customize: impl FnOnce(&mut gongyi::config::Settings),
) -> TestApp {
    let port = smtp.port;
    spawn_app_with(move |s| {
        s.email.smtp_port = port;
        customize(s);
    })
    .await
}

async fn outbox(app: &TestApp, admin: &str, query: &str) -> Vec<Value> {
    let r = app.get(&format!("/outbox{query}"), Some(admin)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

fn event(title: &str) -> Event {
    Event::ApplicationReceived {
        application_id: Uuid::new_v4(),
        title: title.into(),
        organization_name: "玉山镇社工站".into(),
        round_name: "第七届公益创投".into(),
        requested_grant: Money::parse("1000.00").unwrap(),
        submitted_at: chrono::Utc::now(),
    }
}

/// Queues `n` messages (one recipient each) in one committed transaction.
async fn enqueue_many(app: &TestApp, n: usize) -> Vec<String> {
    let to: Vec<Recipient> = (0..n)
        .map(|i| Recipient {
            email: format!("r{i}-{}@example.org", Uuid::new_v4().simple()),
            name: format!("收件人{i}"),
            language: if i % 2 == 0 {
                Language::Zh
            } else {
                Language::En
            },
        })
        .collect();
    let mut conn = app.db.conn().await.unwrap();
    let to2 = to.clone();
    let queued = conn
        .transaction::<_, StorageError, _>(async move |conn| {
            notify::enqueue(conn, &to2, &event("批量通知")).await
        })
        .await
        .unwrap();
    assert_eq!(queued, n);
    to.into_iter().map(|r| r.email).collect()
}

/// Each Message-ID at most once; returns the set.
fn distinct_ids(smtp: &SmtpServer) -> HashSet<String> {
    let msgs = smtp.messages();
    let ids: HashSet<String> = msgs.iter().map(|m| m.message_id()).collect();
    assert_eq!(ids.len(), msgs.len(), "a message arrived twice");
    ids
}

#[tokio::test]
async fn a_submission_emails_the_organization_and_screening_tells_the_result() {
    let smtp = SmtpServer::start().await;
    let app = app_with_smtp(&smtp, |_| {}).await;
    let (round, admin) = open_round(&app, round_body("venture_philanthropy")).await;
    let (applicant_id, applicant) = app.signed_in(Role::Applicant).await;
    let id = ready_draft(&app, &applicant, &round, "银龄助餐暖心行动").await;
    let r = app
        .post(
            &format!("/applications/{id}/submit"),
            Some(&applicant),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Queued in the submitting transaction, nothing sent yet.
    let queued = outbox(&app, &admin, "?status=pending").await;
    assert_eq!(
        queued.len(),
        2,
        "the applicant user and the contact: {queued:?}"
    );
    assert!(queued.iter().all(|m| m["kind"] == "application_received"));
    assert!(smtp.messages().is_empty());

    assert_eq!(sender::run_once(&app.db, &app.settings).await.unwrap(), 2);
    let msgs = smtp.messages();
    assert_eq!(msgs.len(), 2);
    let contact = msgs
        .iter()
        .find(|m| m.rcpt_to == vec!["contact@example.org".to_string()])
        .expect("the organization's contact got it");
    assert_eq!(contact.subject(), "申报已受理：银龄助餐暖心行动");
    assert!(
        contact.mail_from.contains("noreply@gongyi.local"),
        "{}",
        contact.mail_from
    );
    let text = contact.text();
    assert!(text.contains("《银龄助餐暖心行动》"), "{text}");
    assert!(text.contains("¥80,000.00"));
    // The link opens the page, not the JSON address.
    assert!(text.contains(&format!("/applications/{id}")) && !text.contains("/api/v1/"));
    assert!(text.contains("<a href="), "the HTML part: {text}");
    assert!(contact.data.contains("multipart/alternative"));
    assert!(contact.data.contains("text/html"));
    assert!(msgs.iter().any(|m| m.rcpt_to[0].starts_with("applicant-")));
    assert_eq!(outbox(&app, &admin, "?status=sent").await.len(), 2);
    // Nothing is sent twice.
    assert_eq!(sender::run_once(&app.db, &app.settings).await.unwrap(), 0);

    // The audit trail shows the submission with its actor.
    let r = app
        .get(
            &format!("/audit?entity_type=application&entity_id={id}"),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let submitted = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "application.submitted")
        .expect("submission audited")
        .clone();
    assert_eq!(submitted["actor_id"], json!(applicant_id));
    assert_eq!(submitted["actor_role"], "applicant");
    assert_eq!(submitted["after"]["status"], "submitted");

    // Screening: ineligible with a reason reaches the organization too.
    let r = app
        .post(
            &format!("/applications/{id}/screen"),
            Some(&admin),
            json!({"eligible": false, "reason": "评估等级已过期"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(sender::run_once(&app.db, &app.settings).await.unwrap(), 2);
    let msgs = smtp.messages();
    assert_eq!(msgs.len(), 4);
    assert!(msgs[2..]
        .iter()
        .all(|m| m.text().contains("未通过资格审查") && m.text().contains("评估等级已过期")));
    distinct_ids(&smtp);
}

#[tokio::test]
async fn a_change_that_rolls_back_sends_nothing() {
    let smtp = SmtpServer::start().await;
    let app = app_with_smtp(&smtp, |_| {}).await;
    let (round, admin) = open_round(&app, round_body("venture_philanthropy")).await;
    let (_, applicant) = app.signed_in(Role::Applicant).await;
    // A draft without a budget: the submission is refused by the rules.
    let r = app
        .post(
            &format!("/rounds/{round}/applications"),
            Some(&applicant),
            crate::applications::content("没有预算的申报"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/applications/{id}/submit"),
            Some(&applicant),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);

    // A transaction that queued mail and then failed.
    let mut conn = app.db.conn().await.unwrap();
    let result = conn
        .transaction::<(), StorageError, _>(async move |conn| {
            let to = vec![Recipient {
                email: "rollback@example.org".into(),
                name: "x".into(),
                language: Language::Zh,
            }];
            assert_eq!(notify::enqueue(conn, &to, &event("回滚")).await?, 1);
            Err(StorageError::Other(anyhow::anyhow!("the change failed")))
        })
        .await;
    assert!(result.is_err());

    assert!(outbox(&app, &admin, "").await.is_empty());
    assert_eq!(sender::run_once(&app.db, &app.settings).await.unwrap(), 0);
    assert!(smtp.messages().is_empty());
}

#[tokio::test]
async fn an_outage_loses_nothing_and_each_email_arrives_exactly_once() {
    let mut smtp = SmtpServer::start().await;
    let app = app_with_smtp(&smtp, |_| {}).await;
    let (round, admin) = open_round(&app, round_body("venture_philanthropy")).await;
    let (_, applicant) = app.signed_in(Role::Applicant).await;
    let id = ready_draft(&app, &applicant, &round, "停电期间的申报").await;

    smtp.stop().await;
    // Changes made while the mail server is down.
    let r = app
        .post(
            &format!("/applications/{id}/submit"),
            Some(&applicant),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    enqueue_many(&app, 5).await;
    assert_eq!(sender::run_once(&app.db, &app.settings).await.unwrap(), 0);
    let pending = outbox(&app, &admin, "?status=pending").await;
    assert_eq!(pending.len(), 7);
    for m in &pending {
        assert_eq!(m["attempts"], 1, "{m}");
        assert!(
            m["last_error"].as_str().unwrap().starts_with("smtp:"),
            "{m}"
        );
    }
    // A second pass during the outage (after the short test backoff) fails again.
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(sender::run_once(&app.db, &app.settings).await.unwrap(), 0);
    assert!(outbox(&app, &admin, "?status=pending")
        .await
        .iter()
        .all(|m| m["attempts"] == 2));

    smtp.restart().await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(sender::run_once(&app.db, &app.settings).await.unwrap(), 7);
    assert_eq!(sender::run_once(&app.db, &app.settings).await.unwrap(), 0);
    let ids = distinct_ids(&smtp);
    assert_eq!(ids.len(), 7);
    let sent = outbox(&app, &admin, "?status=sent").await;
    let expected: HashSet<String> = sent
        .iter()
        .map(|m| format!("<{}@gongyi>", m["message_id"].as_str().unwrap()))
        .collect();
    assert_eq!(ids, expected, "every queued message arrived, each once");
    assert!(smtp
        .messages()
        .iter()
        .any(|m| m.text().contains("《停电期间的申报》")));
}

#[tokio::test]
async fn two_senders_at_once_send_each_message_once() {
    let smtp = SmtpServer::start().await;
    let app = app_with_smtp(&smtp, |s| s.email.batch_size = 100).await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let mut recipients = enqueue_many(&app, 40).await;
    let (a, b) = tokio::join!(
        sender::run_once(&app.db, &app.settings),
        sender::run_once(&app.db, &app.settings)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a + b, 40, "together they sent everything ({a} + {b})");
    assert_eq!(distinct_ids(&smtp).len(), 40);
    let mut got: Vec<String> = smtp
        .messages()
        .into_iter()
        .flat_map(|m| m.rcpt_to)
        .collect();
    got.sort();
    recipients.sort();
    assert_eq!(got, recipients);
    assert!(outbox(&app, &admin, "?status=pending").await.is_empty());
}

#[tokio::test]
async fn giving_up_after_max_attempts_is_visible_and_an_admin_can_retry() {
    let mut smtp = SmtpServer::start().await;
    smtp.stop().await;
    let app = app_with_smtp(&smtp, |s| s.email.max_attempts = 2).await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let (_, finance) = app.signed_in(Role::Finance).await;
    enqueue_many(&app, 1).await;
    assert_eq!(sender::run_once(&app.db, &app.settings).await.unwrap(), 0);
    assert!(outbox(&app, &admin, "?status=failed").await.is_empty());
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(sender::run_once(&app.db, &app.settings).await.unwrap(), 0);
    let failed = outbox(&app, &admin, "?status=failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["attempts"], 2);
    assert!(failed[0]["last_error"].as_str().unwrap().contains("smtp"));
    // Given up: no further tries.
    tokio::time::sleep(Duration::from_millis(20)).await;
    smtp.restart().await;
    assert_eq!(sender::run_once(&app.db, &app.settings).await.unwrap(), 0);
    assert!(smtp.messages().is_empty());

    let id = failed[0]["id"].as_i64().unwrap();
    let r = app
        .post(&format!("/outbox/{id}/retry"), Some(&finance), json!({}))
        .await;
    assert_eq!(r.status, 403);
    let r = app.get("/outbox", Some(&finance)).await;
    assert_eq!(r.status, 403);
    let r = app
        .post(&format!("/outbox/{id}/retry"), Some(&admin), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.body["status"].as_str(), r.body["attempts"].as_i64()),
        (Some("pending"), Some(0))
    );
    let r = app
        .post(&format!("/outbox/{id}/retry"), Some(&admin), json!({}))
        .await;
    assert_eq!((r.status, r.code()), (409, "invalid_state"));
    let r = app
        .post("/outbox/999999/retry", Some(&admin), json!({}))
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(sender::run_once(&app.db, &app.settings).await.unwrap(), 1);
    assert_eq!(smtp.messages().len(), 1);
    // The retry is in the audit trail.
    let r = app.get("/audit?entity_type=email", Some(&admin)).await;
    assert_eq!(r.body["items"][0]["action"], "email.retried", "{}", r.body);
}

#[tokio::test]
async fn the_background_sender_delivers_while_serving() {
    let smtp = SmtpServer::start().await;
    let app = app_with_smtp(&smtp, |s| {
        s.email.sender_enabled = true;
        s.email.poll_interval_ms = 50;
    })
    .await;
    enqueue_many(&app, 3).await;
    let got = smtp.wait_for(3, 15).await;
    assert_eq!(got.len(), 3);
    distinct_ids(&smtp);
}

#[tokio::test]
async fn the_file_transport_writes_readable_messages() {
    let dir = std::env::temp_dir().join(format!("gongyi-mail-{}", Uuid::new_v4().simple()));
    let d = dir.clone();
    let app = spawn_app_with(move |s| {
        s.email.transport = gongyi::config::EmailTransportKind::File;
        s.email.file_dir = d;
    })
    .await;
    enqueue_many(&app, 2).await;
    assert_eq!(sender::run_once(&app.db, &app.settings).await.unwrap(), 2);
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(
        files.len(),
        4,
        "an .eml and a readable .txt per message: {files:?}"
    );
    let read = |ext: &str| -> Vec<String> {
        files
            .iter()
            .filter(|p| p.extension().unwrap() == ext)
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    };
    let text = read("txt");
    assert!(
        text.iter()
            .any(|t| t.contains("Subject: 申报已受理：批量通知")
                && t.contains("申报的项目《批量通知》")),
        "{text:?}"
    );
    assert!(text
        .iter()
        .any(|t| t.contains("The application \"批量通知\"")));
    assert!(read("eml")
        .iter()
        .all(|m| m.contains("multipart/alternative")));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn recipients_are_resolved_deduplicated_and_in_their_own_language() {
    use gongyi::service;
    let app = crate::helpers::spawn_app().await;
    let mut facts = crate::helpers::organization_facts("去重测试机构");
    facts.contact_email = "Shared@Example.org".into();
    let org = service::organizations::create(&app.db, facts, None)
        .await
        .unwrap()
        .id;
    service::users::create(
        &app.db,
        &app.settings.auth,
        service::users::NewUserInput {
            email: "shared@example.org".into(),
            name: "Alice".into(),
            role: Role::Applicant,
            organization_id: Some(org),
            password: crate::helpers::PASSWORD.into(),
            language: Language::En,
        },
        None,
    )
    .await
    .unwrap();
    app.add_user("second@example.org", Role::Applicant, Some(org))
        .await;
    let other_org = app.add_organization("别的机构").await;
    app.add_user("elsewhere@example.org", Role::Applicant, Some(other_org))
        .await;
    let f1 = app.add_user("f1@example.org", Role::Finance, None).await;
    let f2 = app.add_user("f2@example.org", Role::Finance, None).await;

    let mut conn = app.db.conn().await.unwrap();
    let to = notify::recipients_of_organization(&conn, org)
        .await
        .unwrap();
    let got: Vec<(&str, Language)> = to.iter().map(|r| (r.email.as_str(), r.language)).collect();
    assert_eq!(
        got,
        vec![
            ("shared@example.org", Language::En),
            ("second@example.org", Language::Zh)
        ],
        "the contact address is the first user's: one message, in the user's language"
    );

    let finance = notify::recipients_with_role(&mut conn, Role::Finance, Some(f1))
        .await
        .unwrap();
    assert_eq!(
        finance.iter().map(|r| r.email.as_str()).collect::<Vec<_>>(),
        vec!["f2@example.org"],
        "the preparer is left out"
    );
    assert_eq!(
        notify::recipient_user(&mut conn, f2)
            .await
            .unwrap()
            .map(|r| r.email),
        Some("f2@example.org".to_string())
    );
    gongyi::storage::users::update(
        &mut conn,
        f2,
        &gongyi::storage::models::UserUpdateForm {
            active: Some(false),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(notify::recipient_user(&mut conn, f2).await.unwrap(), None);
    assert!(
        notify::recipients_with_role(&mut conn, Role::Finance, Some(f1))
            .await
            .unwrap()
            .is_empty(),
        "inactive users get no mail"
    );

    // An undeliverable address is skipped, a duplicate is queued once.
    let mut bad = to.clone();
    bad.push(Recipient {
        email: "not an address".into(),
        name: "x".into(),
        language: Language::Zh,
    });
    bad.push(Recipient {
        email: "SECOND@example.org".into(),
        name: "dup".into(),
        language: Language::Zh,
    });
    assert_eq!(
        notify::enqueue(&mut conn, &bad, &event("去重"))
            .await
            .unwrap(),
        2
    );
}
