//! Admin actions on the email outbox.

use crate::auth::{roles, Caller};
use crate::service::{run_transaction, Error};
use crate::storage::models::OutboxRow;
use crate::storage::{outbox, Database};

/// Up to `fetch` messages, newest first, below `before` (an outbox id), of one status or all
/// (admin).
pub async fn list(
    db: &Database,
    caller: &Caller,
    status: Option<&str>,
    before: Option<i64>,
    fetch: i64,
) -> Result<Vec<OutboxRow>, Error> {
    caller.require(roles::ADMIN)?;
    let mut conn = db.conn().await?;
    Ok(outbox::list(&mut conn, status, before, fetch).await?)
}

/// Puts a `failed` message back in the queue (due now, attempts reset), audited.
pub async fn retry(db: &Database, caller: &Caller, id: i64) -> Result<OutboxRow, Error> {
    run_transaction(db, async move |conn| {
            let before = outbox::lock(conn, id).await?;
            if before.status != "failed" {
                return Err(Error::invalid_state(format!(
                    "only a failed message can be retried; this one is {}",
                    before.status
                )));
            }
            let row = outbox::requeue(conn, id).await?;
            super::audit(
                conn,
                Some(caller),
                "email.retried",
                "email",
                row.message_id,
                Some(&serde_json::json!({"status": before.status, "attempts": before.attempts, "last_error": before.last_error})),
                Some(&serde_json::json!({"status": row.status, "outbox_id": row.id})),
            )
            .await?;
            Ok(row)
        })
    .await
}
