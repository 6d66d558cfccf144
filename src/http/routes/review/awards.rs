//! `/rounds/{id}/awards…`: preview, publish, objections, finalize.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::auth::{roles, Caller};
use crate::domain::money::Money;
use crate::domain::review::AwardOutcome;
use crate::http::error::{ApiError, ApiResult, Problem};
use crate::http::extract::ValidJson;
use crate::http::guard::RequireRole;
use crate::http::views::parse_text;
use crate::http::AppState;
use crate::service::review::{self as svc, Adjustment, AwardPlan};
use crate::storage::models::{AwardDecisionRow, AwardObjectionRow};
use crate::storage::review::{self as store};

use super::opt_decimal_str;
use crate::http::views::stored_money as money;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentInput {
    pub application_id: Uuid,
    /// A lower amount than requested.
    pub amount: Money,
}

#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AwardsInput {
    #[serde(default)]
    pub adjustments: Vec<AdjustmentInput>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AwardLineView {
    pub application_id: Uuid,
    pub title: String,
    pub organization_name: String,
    pub rank: Option<u32>,
    #[schema(value_type = Option<String>)]
    #[serde(serialize_with = "opt_decimal_str")]
    pub final_score: Option<Decimal>,
    pub outcome: AwardOutcome,
    pub requested: Money,
    pub amount: Money,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AwardPlanView {
    pub round_id: Uuid,
    pub pool: Money,
    pub total_awarded: Money,
    pub remaining_pool: Money,
    pub funded: Vec<AwardLineView>,
    /// At or above the pass mark, but the pool ran out.
    pub unfunded_for_lack_of_pool: Vec<AwardLineView>,
    pub below_pass_mark: Vec<AwardLineView>,
    /// Too few scores to be ranked.
    pub incomplete: Vec<AwardLineView>,
}

fn plan_view(round_id: Uuid, p: &AwardPlan) -> Result<AwardPlanView, ApiError> {
    let ranks: std::collections::HashMap<Uuid, &crate::domain::review::RankRow> = p
        .ranking
        .ranking
        .ranked
        .iter()
        .map(|r| (r.application_id, r))
        .collect();
    let mut out = AwardPlanView {
        round_id,
        pool: p.ranking.spec.total_pool,
        total_awarded: money(p.allocation.total_awarded)?,
        remaining_pool: money(p.allocation.remaining_pool)?,
        funded: vec![],
        unfunded_for_lack_of_pool: vec![],
        below_pass_mark: vec![],
        incomplete: vec![],
    };
    for l in &p.allocation.lines {
        let info = &p.ranking.applications[&l.application_id];
        let view = AwardLineView {
            application_id: l.application_id,
            title: info.title.clone(),
            organization_name: info.organization_name.clone(),
            rank: ranks.get(&l.application_id).and_then(|r| r.rank),
            final_score: ranks.get(&l.application_id).and_then(|r| r.ranking_score),
            outcome: l.outcome,
            requested: money(info.requested_grant)?,
            amount: money(l.amount)?,
        };
        match l.outcome {
            AwardOutcome::Funded => out.funded.push(view),
            AwardOutcome::UnfundedPool => out.unfunded_for_lack_of_pool.push(view),
            AwardOutcome::BelowPassMark => out.below_pass_mark.push(view),
            AwardOutcome::Incomplete => out.incomplete.push(view),
        }
    }
    Ok(out)
}

fn adjustments(input: AwardsInput) -> Vec<Adjustment> {
    input
        .adjustments
        .into_iter()
        .map(|a| Adjustment {
            application_id: a.application_id,
            amount: a.amount,
        })
        .collect()
}

/// Preview the award walk: ranking order, pass mark, pool; changes nothing (admin).
#[utoipa::path(post, path = "/api/v1/rounds/{id}/awards/preview", tag = "awards", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "round id")), request_body = AwardsInput,
    responses((status = 200, body = AwardPlanView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem, description = "busy: too many expensive requests at once (`application.max_concurrent_expensive`)")))]
#[post("/rounds/{id}/awards/preview", wrap = "RequireRole(roles::ADMIN)")]
pub async fn preview_awards(
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
    body: ValidJson<AwardsInput>,
) -> ApiResult<HttpResponse> {
    let _permit = state.expensive_permit()?;
    let id = path.into_inner();
    let p = svc::preview(&state.db, id, &adjustments(body.0)).await?;
    Ok(HttpResponse::Ok().json(plan_view(id, &p)?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectionView {
    pub id: Uuid,
    pub application_id: Option<Uuid>,
    pub objection: String,
    pub resolution: Option<String>,
    pub recorded_by: Uuid,
    pub recorded_at: DateTime<Utc>,
}

impl From<AwardObjectionRow> for ObjectionView {
    fn from(r: AwardObjectionRow) -> Self {
        Self {
            id: r.id,
            application_id: r.application_id,
            objection: r.objection,
            resolution: r.resolution,
            recorded_by: r.recorded_by,
            recorded_at: r.recorded_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AwardDecisionView {
    pub round_id: Uuid,
    /// `public_notice` (公示: objections may be recorded, the decision amended) or `final`.
    pub status: String,
    pub pool: Money,
    pub total_awarded: Money,
    pub notice_until: DateTime<Utc>,
    /// Bumped by every amendment.
    pub version: i32,
    pub published_at: DateTime<Utc>,
    pub finalized_at: Option<DateTime<Utc>>,
    pub lines: Vec<AwardLineView>,
    pub objections: Vec<ObjectionView>,
}

async fn decision_view(
    state: &AppState,
    round_id: Uuid,
    d: AwardDecisionRow,
) -> ApiResult<AwardDecisionView> {
    let mut conn = state.db.conn().await?;
    let lines = store::award_lines(&mut conn, round_id).await?;
    let objections = store::objections(&mut conn, round_id).await?;
    // Two queries for all lines, not two per line.
    let ids: Vec<Uuid> = lines.iter().map(|l| l.application_id).collect();
    let apps: std::collections::HashMap<Uuid, _> =
        crate::storage::applications::by_ids(&mut conn, &ids)
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect();
    let org_ids: Vec<Uuid> = apps.values().map(|a| a.organization_id).collect();
    let orgs: std::collections::HashMap<Uuid, String> =
        crate::storage::organizations::by_ids(&mut conn, &org_ids)
            .await?
            .into_iter()
            .map(|o| (o.id, o.name))
            .collect();
    let mut views = Vec::with_capacity(lines.len());
    for l in lines {
        let app = apps.get(&l.application_id).ok_or_else(|| {
            ApiError::from(crate::service::Error::Internal(anyhow::anyhow!(
                "award line without its application"
            )))
        })?;
        views.push(AwardLineView {
            application_id: l.application_id,
            title: app.title.clone(),
            organization_name: orgs.get(&app.organization_id).cloned().unwrap_or_default(),
            rank: l.rank.map(|r| r as u32),
            final_score: l.final_score,
            outcome: parse_text(&l.outcome)?,
            requested: money(l.requested)?,
            amount: money(l.amount)?,
        });
    }
    Ok(AwardDecisionView {
        round_id,
        status: d.status,
        pool: money(d.pool)?,
        total_awarded: money(d.total_awarded)?,
        notice_until: d.notice_until,
        version: d.version,
        published_at: d.published_at,
        finalized_at: d.finalized_at,
        lines: views,
        objections: objections.into_iter().map(Into::into).collect(),
    })
}

/// Publish the award decision for public notice (公示), or amend it during the notice (admin).
/// The round row is locked and the database refuses a total above the pool.
#[utoipa::path(post, path = "/api/v1/rounds/{id}/awards", tag = "awards", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "round id")), request_body = AwardsInput,
    responses((status = 200, body = AwardDecisionView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/rounds/{id}/awards", wrap = "RequireRole(roles::ADMIN)")]
pub async fn publish_awards(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ValidJson<AwardsInput>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let (d, _) = svc::publish(&state.db, &caller, id, adjustments(body.0)).await?;
    Ok(HttpResponse::Ok().json(decision_view(&state, id, d).await?))
}

/// The round's award decision with its lines and objections (admin).
#[utoipa::path(get, path = "/api/v1/rounds/{id}/awards", tag = "awards", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "round id")),
    responses((status = 200, body = AwardDecisionView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/rounds/{id}/awards", wrap = "RequireRole(roles::ADMIN)")]
pub async fn get_awards(
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let mut conn = state.db.conn().await?;
    let d = store::decision(&mut conn, id)
        .await?
        .ok_or(ApiError::from(crate::service::Error::NotFound))?;
    drop(conn);
    Ok(HttpResponse::Ok().json(decision_view(&state, id, d).await?))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectionInput {
    /// The application objected to, if one.
    pub application_id: Option<Uuid>,
    #[validate(length(min = 1, max = 5000))]
    pub objection: String,
    #[validate(length(max = 5000))]
    pub resolution: Option<String>,
}

/// Record an objection raised during the public notice (admin).
#[utoipa::path(post, path = "/api/v1/rounds/{id}/awards/objections", tag = "awards", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "round id")), request_body = ObjectionInput,
    responses((status = 201, body = ObjectionView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/rounds/{id}/awards/objections", wrap = "RequireRole(roles::ADMIN)")]
pub async fn record_objection(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ValidJson<ObjectionInput>,
) -> ApiResult<HttpResponse> {
    let b = body.0;
    let row = svc::record_objection(
        &state.db,
        &caller,
        path.into_inner(),
        b.application_id,
        b.objection,
        b.resolution,
    )
    .await?;
    Ok(HttpResponse::Created().json(ObjectionView::from(row)))
}

/// Finalize the decision once the public notice has run: funded applications become
/// `approved` with their award, the others `rejected`, the round `decided` (admin).
#[utoipa::path(post, path = "/api/v1/rounds/{id}/awards/finalize", tag = "awards", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "round id")),
    responses((status = 200, body = AwardDecisionView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
#[post("/rounds/{id}/awards/finalize", wrap = "RequireRole(roles::ADMIN)")]
pub async fn finalize_awards(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let d = svc::finalize(&state.db, &caller, id).await?;
    Ok(HttpResponse::Ok().json(decision_view(&state, id, d).await?))
}
