//! `/assignments/{id}/…`: a reviewer's score sheet (save, submit, conflict of interest) and the
//! admin's reopen.

use std::collections::BTreeMap;

use actix_web::{post, put, web, HttpResponse};
use rust_decimal::Decimal;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::auth::{roles, Caller};
use crate::http::error::{ApiResult, Problem};
use crate::http::extract::ValidJson;
use crate::http::guard::RequireRole;
use crate::http::AppState;
use crate::service::review::{self as svc};

use super::assignments::AssignmentView;

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoresInput {
    /// Criterion key → score as a decimal string ("12.5"), within 0..max in the round's steps.
    /// The party-element criterion takes only the judged part (its max less the objective points).
    #[serde(deserialize_with = "crate::domain::bounds::score_sheet")]
    #[schema(schema_with = crate::domain::bounds::score_sheet_schema)]
    pub scores: BTreeMap<String, Decimal>,
    #[validate(length(max = 5000))]
    pub comment: Option<String>,
}

/// Save the score sheet as a draft (the reviewer's own assignment; replaces the draft).
#[utoipa::path(put, path = "/api/v1/assignments/{id}/scores", tag = "review", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = ScoresInput,
    responses((status = 200, body = AssignmentView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "invalid_state: submitted, recused, or round not reviewing"), (status = 422, body = Problem)))]
#[put("/assignments/{id}/scores", wrap = "RequireRole(roles::REVIEWER)")]
pub async fn save_scores(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ValidJson<ScoresInput>,
) -> ApiResult<HttpResponse> {
    let b = body.0;
    let row = svc::save_scores(&state.db, &caller, path.into_inner(), b.scores, b.comment).await?;
    Ok(HttpResponse::Ok().json(AssignmentView::from_row(row)?))
}

/// Submit the score sheet: every criterion scored; locked afterwards.
#[utoipa::path(post, path = "/api/v1/assignments/{id}/submit", tag = "review", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = AssignmentView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem, description = "rule_violation: score_missing")))]
#[post("/assignments/{id}/submit", wrap = "RequireRole(roles::REVIEWER)")]
pub async fn submit_scores(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let row = svc::submit_scores(&state.db, &caller, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(AssignmentView::from_row(row)?))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonInput {
    #[validate(length(min = 1, max = 2000))]
    pub reason: String,
}

/// Declare a conflict of interest: the assignment is recused, its score stops counting.
#[utoipa::path(post, path = "/api/v1/assignments/{id}/conflict", tag = "review", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = ReasonInput,
    responses((status = 200, body = AssignmentView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/assignments/{id}/conflict", wrap = "RequireRole(roles::REVIEWER)")]
pub async fn declare_conflict(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ValidJson<ReasonInput>,
) -> ApiResult<HttpResponse> {
    let row = svc::declare_conflict(&state.db, &caller, path.into_inner(), body.0.reason).await?;
    Ok(HttpResponse::Ok().json(AssignmentView::from_row(row)?))
}

/// Reopen a submitted score sheet (admin; recorded with the reason).
#[utoipa::path(post, path = "/api/v1/assignments/{id}/reopen", tag = "review", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = ReasonInput,
    responses((status = 200, body = AssignmentView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/assignments/{id}/reopen", wrap = "RequireRole(roles::ADMIN)")]
pub async fn reopen_scores(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ValidJson<ReasonInput>,
) -> ApiResult<HttpResponse> {
    let row = svc::reopen(&state.db, &caller, path.into_inner(), body.0.reason).await?;
    Ok(HttpResponse::Ok().json(AssignmentView::from_row(row)?))
}
