//! The audit trail (admin): filtered, paginated, each record showing whether it is sealed into
//! the hash chain; and a verification of the whole chain.

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{roles, Caller};
use crate::domain::violation::Violation;
use crate::http::error::{ApiError, ApiResult, Problem};
use crate::http::guard::RequireRole;
use crate::http::pagination::{IdPageRequest, Page};
use crate::http::AppState;
use crate::service;
use crate::storage::audit_chain::{AuditFilter, ChainReport};
use crate::storage::models::AuditEventRow;

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// The user who acted; absent for the system and the command line.
    pub actor_id: Option<Uuid>,
    pub actor_role: Option<String>,
    /// e.g. `application.submitted`.
    pub action: String,
    pub entity_type: String,
    pub entity_id: Uuid,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    /// Whether the record is in the hash chain yet (the sealer adds finished records shortly
    /// after they commit).
    pub sealed: bool,
    /// Its position in the chain, once sealed.
    pub seal_seq: Option<i64>,
}

impl AuditEventView {
    fn from_row((r, seq): (AuditEventRow, Option<i64>)) -> Self {
        Self {
            id: r.id,
            at: r.at,
            actor_id: r.actor_id,
            actor_role: r.actor_role,
            action: r.action,
            entity_type: r.entity_type,
            entity_id: r.entity_id,
            before: r.before,
            after: r.after,
            sealed: seq.is_some(),
            seal_seq: seq,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// e.g. `application`, `organization`, `user`.
    pub entity_type: Option<String>,
    pub entity_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    /// e.g. `payout.approve`, `application.submit`.
    pub action: Option<String>,
    /// Records at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Records before this time (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Page size, 1..200 (default 50).
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The audit trail, newest first (admin only).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = Page<AuditEventView>), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem, description = "from is after to")))]
#[get("/audit", wrap = "RequireRole(roles::ADMIN)")]
pub async fn list_audit(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<AuditQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let page = IdPageRequest::parse(q.limit, q.cursor.as_deref())?;
    if let (Some(from), Some(to)) = (q.from, q.to) {
        if from > to {
            return Err(ApiError::invalid(
                Violation::new("time_range", "from must not be after to").field("from"),
            ));
        }
    }
    let filter = AuditFilter {
        entity_type: q.entity_type,
        entity_id: q.entity_id,
        actor_id: q.actor_id,
        action: q.action,
        from: q.from,
        to: q.to,
    };
    let rows =
        service::audit_trail::list(&state.db, &caller, &filter, page.before, page.fetch()).await?;
    Ok(HttpResponse::Ok().json(page.page(rows, |r| r.0.id, AuditEventView::from_row)))
}

/// Verify the hash chain from the current rows; names the first broken link (admin only).
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit", security(("bearer" = [])),
    responses((status = 200, body = ChainReport, description = "`intact` false and `first_break` set when a sealed record or seal was altered"),
        (status = 401, body = Problem), (status = 403, body = Problem)))]
#[get("/audit/verify", wrap = "RequireRole(roles::ADMIN)")]
pub async fn verify_audit(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let report = service::audit_trail::verify(&state.db).await?;
    Ok(HttpResponse::Ok().json(report))
}
