//! The email outbox: rows written inside business transactions, claimed by the sender.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::models::{OutboxInsertForm, OutboxRow};
use super::prepared::PrepareExt;
use super::schema::email_outbox;
use super::StorageResult;

pub async fn insert(conn: &mut AsyncPgConnection, forms: &[OutboxInsertForm]) -> StorageResult<()> {
    if forms.is_empty() {
        return Ok(());
    }
    // Prepared: one text per number of recipients; an event goes to an organization's applicants
    // and contact, or to the bureau's admins or finance staff, so a few dozen texts at most.
    diesel::insert_into(email_outbox::table)
        .values(forms)
        .prepared()
        .execute(conn)
        .await?;
    Ok(())
}

/// Claims the oldest due pending message with an id above `after`, locking its row until the
/// transaction ends. Rows other senders hold are skipped, so concurrent senders never take the
/// same message; `after` keeps one pass from trying a message twice.
pub async fn claim_due(
    conn: &mut AsyncPgConnection,
    after: i64,
) -> StorageResult<Option<OutboxRow>> {
    Ok(email_outbox::table
        .filter(email_outbox::status.eq("pending"))
        .filter(email_outbox::id.gt(after))
        .filter(email_outbox::next_attempt_at.le(diesel::dsl::now))
        .order(email_outbox::id)
        .select(OutboxRow::as_select())
        .for_update()
        .skip_locked()
        .first(conn)
        .await
        .optional()?)
}

pub async fn mark_sent(conn: &mut AsyncPgConnection, id: i64) -> StorageResult<()> {
    diesel::sql_query(
        "UPDATE email_outbox SET status = 'sent', attempts = attempts + 1, sent_at = now(), \
         last_error = NULL WHERE id = $1",
    )
    .bind::<BigInt, _>(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a failed attempt: back to pending with the next try `retry_in_ms` from now, or
/// `failed` when `give_up`.
pub async fn mark_attempt_failed(
    conn: &mut AsyncPgConnection,
    id: i64,
    error: &str,
    retry_in_ms: i64,
    give_up: bool,
) -> StorageResult<()> {
    diesel::sql_query(
        "UPDATE email_outbox SET attempts = attempts + 1, last_error = $2, \
         status = CASE WHEN $4 = 1 THEN 'failed' ELSE 'pending' END, \
         next_attempt_at = now() + ($3 * interval '1 millisecond') WHERE id = $1",
    )
    .bind::<BigInt, _>(id)
    .bind::<Text, _>(error)
    .bind::<BigInt, _>(retry_in_ms)
    .bind::<Integer, _>(give_up as i32)
    .execute(conn)
    .await?;
    Ok(())
}

/// Keyset page, newest first (by id).
pub async fn list(
    conn: &mut AsyncPgConnection,
    status: Option<&str>,
    before_id: Option<i64>,
    limit: i64,
) -> StorageResult<Vec<OutboxRow>> {
    let mut q = email_outbox::table
        .select(OutboxRow::as_select())
        .into_boxed();
    if let Some(s) = status {
        q = q.filter(email_outbox::status.eq(s.to_string()));
    }
    if let Some(id) = before_id {
        q = q.filter(email_outbox::id.lt(id));
    }
    Ok(q.order(email_outbox::id.desc())
        .limit(limit)
        .load(conn)
        .await?)
}

pub async fn lock(conn: &mut AsyncPgConnection, id: i64) -> StorageResult<OutboxRow> {
    Ok(email_outbox::table
        .find(id)
        .select(OutboxRow::as_select())
        .for_update()
        .first(conn)
        .await?)
}

/// A failed message goes back to the queue, due now, with a fresh count of attempts.
pub async fn requeue(conn: &mut AsyncPgConnection, id: i64) -> StorageResult<OutboxRow> {
    Ok(diesel::update(email_outbox::table.find(id))
        .set((
            email_outbox::status.eq("pending"),
            email_outbox::attempts.eq(0),
            email_outbox::next_attempt_at.eq(diesel::dsl::now),
        ))
        .returning(OutboxRow::as_returning())
        .get_result(conn)
        .await?)
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// How many messages are in each state (for logs and tests).
pub async fn count_status(conn: &mut AsyncPgConnection, status: &str) -> StorageResult<i64> {
    let c: Count = diesel::sql_query("SELECT count(*) AS n FROM email_outbox WHERE status = $1")
        .bind::<Text, _>(status)
        .get_result(conn)
        .await?;
    Ok(c.n)
}
