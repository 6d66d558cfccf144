//! `/rounds/{id}/reviewers`: a round's review panel.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::auth::{roles, Caller};
use crate::http::error::{ApiResult, Problem};
use crate::http::extract::ValidJson;
use crate::http::guard::RequireRole;
use crate::http::AppState;
use crate::service::review::{self as svc};
use crate::storage::models::PanelMemberRow;

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PanelMemberInput {
    /// A user with the `reviewer` role.
    pub reviewer_id: Uuid,
    /// Organizations the reviewer works for or advises: never assigned to their applications.
    #[serde(default)]
    pub affiliations: Vec<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PanelMemberView {
    pub round_id: Uuid,
    pub reviewer_id: Uuid,
    pub affiliations: Vec<Uuid>,
    pub added_at: DateTime<Utc>,
}

impl From<PanelMemberRow> for PanelMemberView {
    fn from(r: PanelMemberRow) -> Self {
        Self {
            round_id: r.round_id,
            reviewer_id: r.reviewer_id,
            affiliations: r.affiliations,
            added_at: r.added_at,
        }
    }
}

/// Add a reviewer to the round's panel, or replace its affiliations (admin).
#[utoipa::path(post, path = "/api/v1/rounds/{id}/reviewers", tag = "review", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "round id")), request_body = PanelMemberInput,
    responses((status = 200, body = PanelMemberView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/rounds/{id}/reviewers", wrap = "RequireRole(roles::ADMIN)")]
pub async fn add_reviewer(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ValidJson<PanelMemberInput>,
) -> ApiResult<HttpResponse> {
    let b = body.0;
    let row = svc::add_reviewer(
        &state.db,
        &caller,
        path.into_inner(),
        b.reviewer_id,
        b.affiliations,
    )
    .await?;
    Ok(HttpResponse::Ok().json(PanelMemberView::from(row)))
}

/// The round's panel (admin).
#[utoipa::path(get, path = "/api/v1/rounds/{id}/reviewers", tag = "review", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "round id")),
    responses((status = 200, body = Vec<PanelMemberView>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/rounds/{id}/reviewers", wrap = "RequireRole(roles::ADMIN)")]
pub async fn list_reviewers(
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let rows = svc::panel(&state.db, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(
        rows.into_iter()
            .map(PanelMemberView::from)
            .collect::<Vec<_>>(),
    ))
}
