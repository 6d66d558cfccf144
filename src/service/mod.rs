//! Use cases shared by the HTTP handlers and the command line: each runs its checks, its
//! writes and its audit record in one transaction.

pub mod applications;
pub mod attachments;
pub mod audit_trail;
pub mod demo;
pub mod grants;
pub mod ledger;
pub mod notices;
pub mod organizations;
pub mod outbox;
pub mod review;
pub mod rounds;
pub mod spending;
pub mod users;

use diesel_async::AsyncPgConnection;
use serde::Serialize;
use uuid::Uuid;

use crate::auth::Caller;
use crate::http::error::ApiError;
use crate::storage::models::AuditEventInsertForm;

/// Appends an audit event in the current transaction.
pub async fn audit<B: Serialize, A: Serialize>(
    conn: &mut AsyncPgConnection,
    actor: Option<&Caller>,
    action: &str,
    entity_type: &str,
    entity_id: Uuid,
    before: Option<&B>,
    after: Option<&A>,
) -> Result<(), ApiError> {
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
