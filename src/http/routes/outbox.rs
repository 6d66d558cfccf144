//! Admin view of the email outbox: what is queued, sent, or failed for good, and a retry.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{roles, Caller};
use crate::domain::user::Language;
use crate::http::error::{ApiError, ApiResult, Problem};
use crate::http::guard::RequireRole;
use crate::http::pagination::{IdPageRequest, Page};
use crate::http::views::parse_text;
use crate::http::AppState;
use crate::notify::OutboxStatus;
use crate::service;
use crate::storage::models::OutboxRow;

#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxMessageView {
    pub id: i64,
    /// Sent as the Message-ID `<message_id@gongyi>`, the same on every try.
    pub message_id: Uuid,
    pub recipient: String,
    pub recipient_name: String,
    pub language: Language,
    /// The event that caused it, e.g. `application_received`.
    pub kind: String,
    pub subject: String,
    pub status: OutboxStatus,
    pub attempts: i32,
    /// When a pending message is tried next.
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl OutboxMessageView {
    pub fn from_row(r: OutboxRow) -> Result<Self, ApiError> {
        Ok(Self {
            id: r.id,
            message_id: r.message_id,
            recipient: r.recipient,
            recipient_name: r.recipient_name,
            language: parse_text(&r.language)?,
            kind: r.kind,
            subject: r.subject,
            status: parse_text(&r.status)?,
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at,
            last_error: r.last_error,
            created_at: r.created_at,
            sent_at: r.sent_at,
        })
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    pub status: Option<OutboxStatus>,
    /// Page size, 1..200 (default 50).
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// List outbox messages, newest first (admin only); `?status=failed` shows what was given up on.
#[utoipa::path(get, path = "/api/v1/outbox", tag = "notifications", security(("bearer" = [])), params(OutboxQuery),
    responses((status = 200, body = Page<OutboxMessageView>), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
#[get("/outbox", wrap = "RequireRole(roles::ADMIN)")]
pub async fn list_outbox(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<OutboxQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let page = IdPageRequest::parse(q.limit, q.cursor.as_deref())?;
    let rows = service::outbox::list(
        &state.db,
        &caller,
        q.status.map(|s| s.as_str()),
        page.before,
        page.fetch(),
    )
    .await?;
    let views = rows
        .into_iter()
        .map(OutboxMessageView::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(page.page(views, |v| v.id, |v| v)))
}

/// Put a failed message back in the queue, due now, with its attempts reset (admin only).
#[utoipa::path(post, path = "/api/v1/outbox/{id}/retry", tag = "notifications", security(("bearer" = [])),
    params(("id" = i64, Path, description = "outbox message id")),
    responses((status = 200, body = OutboxMessageView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "invalid_state: the message is not failed")))]
#[post("/outbox/{id}/retry", wrap = "RequireRole(roles::ADMIN)")]
pub async fn retry_outbox_message(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let row = service::outbox::retry(&state.db, &caller, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(OutboxMessageView::from_row(row)?))
}
