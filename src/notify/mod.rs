//! Email notifications that are never lost (issue #6).
//!
//! A service that changes something a person must know about calls [`enqueue`] inside its own
//! transaction: the message is rendered there and written to `email_outbox`, so it exists if and
//! only if the change commits. [`sender`] delivers due rows in the background (or when a test
//! calls [`sender::run_once`]), retrying with exponential backoff and marking a message `failed`
//! after `email.max_attempts`; admins see those in `GET /api/v1/outbox?status=failed` and can
//! retry them.
//!
//! ```ignore
//! let to = notify::recipients_of_organization(conn, app.organization_id).await?;
//! notify::enqueue(conn, &to, &notify::Event::ApplicationReceived { .. }).await?;
//! ```

pub mod sender;
pub mod templates;
pub mod transport;

use std::collections::HashSet;
use std::sync::RwLock;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::FutureExt;
use uuid::Uuid;

pub use templates::{EvaluationStage, Event, Rendered};

use crate::domain::user::{Language, Role};
use crate::storage::models::OutboxInsertForm;
use crate::storage::schema::{organizations, users};
use crate::storage::{outbox, StorageResult};

/// Who receives a message, and in which language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub email: String,
    pub name: String,
    pub language: Language,
}

static BASE_URL: RwLock<Option<String>> = RwLock::new(None);
const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8080";

/// Sets the public address used for links in emails (`application.base_url`). `serve` and the
/// command line call it once at start; it is process-wide because links are.
pub fn set_base_url(url: &str) {
    if let Ok(mut b) = BASE_URL.write() {
        *b = Some(url.trim_end_matches('/').to_string());
    }
}

pub fn base_url() -> String {
    BASE_URL
        .read()
        .ok()
        .and_then(|b| b.clone())
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_string())
}

/// Whether lettre (and so an SMTP server) will take the address.
fn deliverable(email: &str) -> bool {
    email.parse::<lettre::Address>().is_ok()
}

/// Renders `event` for each recipient and writes the messages to the outbox, in the caller's
/// transaction. Recipients are deduplicated by address (case-insensitive); an address that is
/// not deliverable is skipped with a warning rather than failing the business change.
/// Returns how many messages were queued.
pub async fn enqueue(
    conn: &mut AsyncPgConnection,
    to: &[Recipient],
    event: &Event,
) -> StorageResult<usize> {
    let base = base_url();
    let mut seen = HashSet::new();
    let mut forms = Vec::new();
    for r in to {
        let email = r.email.trim();
        if !seen.insert(email.to_lowercase()) {
            continue;
        }
        if !deliverable(email) {
            tracing::warn!(kind = event.kind(), recipient = %email, "not queueing an email to an undeliverable address");
            continue;
        }
        let m = templates::render(event, &r.name, r.language, &base);
        forms.push(OutboxInsertForm {
            message_id: Uuid::new_v4(),
            recipient: email.to_string(),
            recipient_name: r.name.clone(),
            language: r.language.as_str().to_string(),
            kind: event.kind().to_string(),
            subject: m.subject,
            body_text: m.text,
            body_html: m.html,
        });
    }
    outbox::insert(conn, &forms).await?;
    Ok(forms.len())
}

fn language(text: &str) -> Language {
    text.parse().unwrap_or(Language::Zh)
}

fn dedupe(list: Vec<Recipient>) -> Vec<Recipient> {
    let mut seen = HashSet::new();
    list.into_iter()
        .filter(|r| !r.email.trim().is_empty() && seen.insert(r.email.trim().to_lowercase()))
        .collect()
}

/// The organization's active applicant users (in their own language) and its contact email
/// (Chinese), deduplicated by address, users first.
// Both queries are pipelined, and the future borrows `conn` only shared, so it can be pipelined
// with the statements of the transaction that queues the email.
pub fn recipients_of_organization<'c>(
    mut conn: &'c AsyncPgConnection,
    organization_id: Uuid,
) -> impl std::future::Future<Output = StorageResult<Vec<Recipient>>> + Send + use<'c> {
    let people = users::table
        .filter(users::organization_id.eq(organization_id))
        .filter(users::role.eq(Role::Applicant.as_str()))
        .filter(users::active.eq(true))
        .order(users::created_at)
        .select((users::email, users::name, users::language))
        .load::<(String, String, String)>(&mut conn)
        .boxed();
    let contact = organizations::table
        .find(organization_id)
        .select((
            organizations::contact_email,
            organizations::contact_person,
            organizations::name,
        ))
        .first::<(String, String, String)>(&mut conn)
        .boxed();
    // (Boxed: rustc cannot prove the joined diesel futures `Send` for every lifetime.)
    async move {
        let (people, contact) = futures_util::join!(people, contact);
        let (people, contact) = (people?, contact.optional()?);
        recipients_from(people, contact)
    }
}

fn recipients_from(
    people: Vec<(String, String, String)>,
    contact: Option<(String, String, String)>,
) -> StorageResult<Vec<Recipient>> {
    let mut list: Vec<Recipient> = people
        .into_iter()
        .map(|(email, name, lang)| Recipient {
            email,
            name,
            language: language(&lang),
        })
        .collect();
    if let Some((email, person, org_name)) = contact {
        list.push(Recipient {
            email,
            name: if person.trim().is_empty() {
                org_name
            } else {
                person
            },
            language: Language::Zh,
        });
    }
    Ok(dedupe(list))
}

/// Active users with the role, except one (e.g. the finance user who prepared a payout).
pub async fn recipients_with_role(
    conn: &mut AsyncPgConnection,
    role: Role,
    except_user: Option<Uuid>,
) -> StorageResult<Vec<Recipient>> {
    let mut q = users::table
        .filter(users::role.eq(role.as_str()))
        .filter(users::active.eq(true))
        .select((users::email, users::name, users::language))
        .order(users::created_at)
        .into_boxed();
    if let Some(u) = except_user {
        q = q.filter(users::id.ne(u));
    }
    let rows: Vec<(String, String, String)> = q.load(conn).await?;
    Ok(dedupe(
        rows.into_iter()
            .map(|(email, name, lang)| Recipient {
                email,
                name,
                language: language(&lang),
            })
            .collect(),
    ))
}

/// One user, if active (an inactive user gets no mail).
pub async fn recipient_user(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
) -> StorageResult<Option<Recipient>> {
    let row: Option<(String, String, String)> = users::table
        .find(user_id)
        .filter(users::active.eq(true))
        .select((users::email, users::name, users::language))
        .first(conn)
        .await
        .optional()?;
    Ok(row.map(|(email, name, lang)| Recipient {
        email,
        name,
        language: language(&lang),
    }))
}

crate::string_enum! {
    /// Where an outbox message stands.
    pub enum OutboxStatus {
        Pending = "pending",
        Sent = "sent",
        Failed = "failed",
    }
}
