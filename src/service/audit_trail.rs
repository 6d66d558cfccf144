//! The audit chain's sealer and verifier, shared by `serve` (background), the command line
//! (`gongyi audit seal|verify`) and the admin endpoints; and the trail's listing for the API
//! and the audit page.

use std::collections::HashMap;
use std::sync::Arc;

use diesel_async::AsyncConnection;

use uuid::Uuid;

use crate::auth::{roles, Caller};
use crate::config::Settings;
use crate::service::Error;
use crate::storage::audit_chain::{self, AuditFilter, ChainReport};
use crate::storage::models::AuditEventRow;
use crate::storage::{finance, Database, StorageError};

/// Up to `fetch` events, newest first, below `before` (an event id), each with its seal
/// position once sealed (admin).
pub async fn list(
    db: &Database,
    caller: &Caller,
    filter: &AuditFilter,
    before: Option<i64>,
    fetch: i64,
) -> Result<Vec<(AuditEventRow, Option<i64>)>, Error> {
    caller.require(roles::ADMIN)?;
    let conn = db.conn().await?;
    Ok(audit_chain::list(&conn, filter, before, fetch).await?)
}

/// A page of the trail with the names of the users who acted.
pub struct AuditPage {
    pub events: Vec<(AuditEventRow, Option<i64>)>,
    pub names: HashMap<Uuid, String>,
}

pub async fn page(
    db: &Database,
    caller: &Caller,
    filter: &AuditFilter,
    before: Option<i64>,
    fetch: i64,
) -> Result<AuditPage, Error> {
    let events = list(db, caller, filter, before, fetch).await?;
    let mut ids: Vec<Uuid> = events.iter().filter_map(|(e, _)| e.actor_id).collect();
    ids.sort();
    ids.dedup();
    let mut conn = db.conn().await?;
    let names = finance::user_names(&mut conn, &ids)
        .await?
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect();
    Ok(AuditPage { events, names })
}

/// Seals every finished, unsealed audit event, `batch` per transaction. Returns how many.
pub async fn seal(db: &Database, batch: i64) -> Result<usize, StorageError> {
    let batch = batch.max(1);
    let mut conn = db.conn().await?;
    let mut total = 0;
    loop {
        let n = conn
            .transaction::<_, StorageError, _>(async move |conn| {
                audit_chain::seal_batch(conn, batch).await
            })
            .await?;
        total += n;
        if (n as i64) < batch {
            return Ok(total);
        }
    }
}

/// Recomputes the whole chain from the current rows and names the first broken link.
pub async fn verify(db: &Database) -> Result<ChainReport, StorageError> {
    let mut conn = db.conn().await?;
    // One snapshot for the whole walk, so seals added meanwhile do not mix in.
    conn.build_transaction()
        .read_only()
        .repeatable_read()
        .run::<_, StorageError, _>(async move |conn| audit_chain::verify(conn).await)
        .await
}

/// The sealer loop for `serve`: a pass every `audit.seal_interval_ms` until the task is dropped.
pub async fn run_sealer(db: Database, settings: Arc<Settings>) {
    let mut tick = tokio::time::interval(settings.audit.seal_interval());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match seal(&db, settings.audit.seal_batch_size).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(sealed = n, "audit events sealed"),
            Err(e) => tracing::warn!(error = %e, "audit sealer pass failed"),
        }
    }
}
