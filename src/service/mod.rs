//! Use cases shared by the HTTP handlers and the command line: each runs its checks, its
//! writes and its audit record in one transaction.

pub mod applications;
pub mod attachments;
pub mod audit_trail;
pub mod demo;
pub mod error;
pub mod finance;
pub mod grants;
pub mod ledger;
pub mod notices;
pub mod office;
pub mod organizations;
pub mod outbox;
pub mod portal;
pub mod public_notice;
pub mod registry;
pub mod review;
pub mod reviewing;
pub mod rounds;
pub mod sessions;
pub mod spending;
pub mod spending_overview;
pub mod users;

use std::future::Future;

use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::Serialize;
use uuid::Uuid;

pub use error::{Error, Result};

use crate::auth::Caller;
use crate::storage::models::AuditEventInsertForm;
use crate::storage::Database;

/// A transaction's work: an async closure on the connection (`async move |conn| { … }`).
///
/// `AsyncFnOnce` alone cannot say that the future it returns is `Send` (actix and tokio need
/// that); naming the future as this trait's `Fut` can, as diesel-async's own bound does.
pub trait TransactionWork<C, R>:
    AsyncFnOnce(C) -> R + FnOnce(C) -> <Self as TransactionWork<C, R>>::Fut
{
    type Fut: Future<Output = R>;
}

impl<F, C, Fut, R> TransactionWork<C, R> for F
where
    F: AsyncFnOnce(C) -> R + FnOnce(C) -> Fut,
    Fut: Future<Output = R>,
{
    type Fut = Fut;
}

/// Runs `work` in one transaction on a pooled connection: committed when it returns `Ok`, rolled
/// back on any error, so a refusal never leaves half a change behind. It waits for one of the
/// pool's transaction turns (`Database::transaction_conn`).
pub async fn run_transaction<T, F>(db: &Database, work: F) -> Result<T>
where
    F: for<'r> AsyncFnOnce(&'r mut AsyncPgConnection) -> Result<T>
        + for<'r> TransactionWork<&'r mut AsyncPgConnection, Result<T>, Fut: Send>
        + Send,
    T: Send,
{
    let mut turn = db.transaction_conn().await?;
    let conn: &mut AsyncPgConnection = &mut turn;
    conn.transaction::<T, Error, F>(work).await
}

/// Appends an audit event in the current transaction.
pub async fn audit<B: Serialize, A: Serialize>(
    conn: &mut AsyncPgConnection,
    actor: Option<&Caller>,
    action: &str,
    entity_type: &str,
    entity_id: Uuid,
    before: Option<&B>,
    after: Option<&A>,
) -> Result<(), Error> {
    let event = audit_event(actor, action, entity_type, entity_id, before, after);
    crate::storage::audit(conn, &event).await?;
    Ok(())
}

/// The audit event `audit` appends, for a caller that pipelines its insert.
pub fn audit_event<B: Serialize, A: Serialize>(
    actor: Option<&Caller>,
    action: &str,
    entity_type: &str,
    entity_id: Uuid,
    before: Option<&B>,
    after: Option<&A>,
) -> AuditEventInsertForm {
    let to_json = |v: &dyn erased::Json| v.json();
    AuditEventInsertForm {
        actor_id: actor.map(|c| c.user_id),
        actor_role: actor.map(|c| c.role.as_str().to_string()),
        action: action.to_string(),
        entity_type: entity_type.to_string(),
        entity_id,
        before: before.map(|b| to_json(b)),
        after: after.map(|a| to_json(a)),
    }
}

mod erased {
    pub trait Json {
        fn json(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
        }
    }
}
