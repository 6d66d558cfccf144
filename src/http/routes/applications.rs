use actix_web::{get, patch, post, put, web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::auth::{roles, Caller};
use crate::domain::budget::{BudgetCategory, BudgetLineInput, FundedBy};
use crate::domain::lifecycle::ApplicationStatus;
use crate::domain::money::Money;
use crate::domain::violation::Violation;
use crate::http::error::{ApiError, ApiResult, Problem};
use crate::http::extract::ValidJson;
use crate::http::guard::RequireRole;
use crate::http::pagination::{Page, PageRequest};
use crate::http::views::parse_text;
use crate::http::AppState;
use crate::service::applications::{self as svc, ApplicationContent, TeamMember};
use crate::storage::applications::{self, ApplicationFilter};
use crate::storage::models::{ApplicationRow, BudgetLineRow};

impl Validate for ApplicationContent {
    fn validate(&self) -> Result<(), validator::ValidationErrors> {
        Ok(())
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BudgetLineView {
    pub category: BudgetCategory,
    pub description: String,
    #[schema(value_type = String)]
    pub quantity: rust_decimal::Decimal,
    pub unit_cost: Money,
    /// quantity × unit_cost, rounded half-up to the fen.
    pub amount: Money,
    pub funded_by: FundedBy,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BudgetView {
    /// Present on single-application answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<BudgetLineView>>,
    pub total: Money,
    pub personnel: Money,
    pub grant_funded: Money,
    pub self_funded: Money,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationView {
    pub id: Uuid,
    pub round_id: Uuid,
    pub organization_id: Uuid,
    pub status: ApplicationStatus,
    pub title: String,
    pub focus_area: String,
    pub summary: String,
    pub beneficiaries: String,
    pub beneficiary_count: i32,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub requested_grant: Money,
    pub co_funding: Money,
    pub team: Vec<TeamMember>,
    pub party_activity_count: i32,
    pub party_activity_description: String,
    pub red_project: bool,
    pub previous_application_id: Option<Uuid>,
    pub budget: BudgetView,
    pub submitted_at: Option<DateTime<Utc>>,
    pub screening_reason: Option<String>,
    /// The amount awarded, once the round's decision is final.
    pub award_amount: Option<Money>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

use crate::http::views::stored_money as money;

impl ApplicationView {
    pub fn from_row(
        r: ApplicationRow,
        lines: Option<Vec<BudgetLineRow>>,
    ) -> Result<Self, ApiError> {
        let lines = lines
            .map(|ls| {
                ls.into_iter()
                    .map(|l| {
                        Ok(BudgetLineView {
                            category: parse_text(&l.category)?,
                            description: l.description,
                            quantity: l.quantity.normalize(),
                            unit_cost: money(l.unit_cost)?,
                            amount: money(l.amount)?,
                            funded_by: parse_text(&l.funded_by)?,
                        })
                    })
                    .collect::<Result<Vec<_>, ApiError>>()
            })
            .transpose()?;
        Ok(Self {
            id: r.id,
            round_id: r.round_id,
            organization_id: r.organization_id,
            status: parse_text(&r.status)?,
            title: r.title,
            focus_area: r.focus_area,
            summary: r.summary,
            beneficiaries: r.beneficiaries,
            beneficiary_count: r.beneficiary_count,
            start_date: r.start_date,
            end_date: r.end_date,
            requested_grant: money(r.requested_grant)?,
            co_funding: money(r.co_funding)?,
            team: serde_json::from_value(r.team)
                .map_err(|e| ApiError::from(crate::service::Error::Internal(e.into())))?,
            party_activity_count: r.party_activity_count,
            party_activity_description: r.party_activity_description,
            red_project: r.red_project,
            previous_application_id: r.previous_application_id,
            budget: BudgetView {
                lines,
                total: money(r.budget_total)?,
                personnel: money(r.budget_personnel)?,
                grant_funded: money(r.budget_grant)?,
                self_funded: money(r.budget_self)?,
            },
            submitted_at: r.submitted_at,
            screening_reason: r.screening_reason,
            award_amount: r.award_amount.map(money).transpose()?,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

async fn full_view(state: &AppState, row: ApplicationRow) -> ApiResult<ApplicationView> {
    let conn = state.db.conn().await?;
    let lines = applications::budget_lines(&conn, row.id).await?;
    ApplicationView::from_row(row, Some(lines))
}

/// Start a draft application for the caller's organization (applicants only; the round must be open).
#[utoipa::path(post, path = "/api/v1/rounds/{id}/applications", tag = "applications", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "round id")), request_body = ApplicationContent,
    responses((status = 201, body = ApplicationView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "invalid_state: round not open"), (status = 422, body = Problem)))]
#[post("/rounds/{id}/applications", wrap = "RequireRole(roles::APPLICANT)")]
pub async fn create_application(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ValidJson<ApplicationContent>,
) -> ApiResult<HttpResponse> {
    let row = svc::create(&state.db, &caller, path.into_inner(), body.0).await?;
    Ok(HttpResponse::Created().json(full_view(&state, row).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ApplicationListQuery {
    pub round_id: Option<Uuid>,
    pub status: Option<ApplicationStatus>,
    /// Admins only; applicants always see their own organization's.
    pub organization_id: Option<Uuid>,
    pub focus_area: Option<String>,
    /// Page size, 1..200 (default 50).
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// List applications: admins all, applicants their organization's, reviewers none yet.
#[utoipa::path(get, path = "/api/v1/applications", tag = "applications", security(("bearer" = [])), params(ApplicationListQuery),
    responses((status = 200, body = Page<ApplicationView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
#[get(
    "/applications",
    wrap = "RequireRole(roles::ADMIN_APPLICANT_OR_REVIEWER)"
)]
pub async fn list_applications(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ApplicationListQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let scope = caller.application_scope();
    let filter = ApplicationFilter {
        round_id: q.round_id,
        status: q.status.map(|s| s.as_str().into()),
        organization_id: q.organization_id,
        focus_area: q.focus_area,
    };
    let mut conn = state.db.conn().await?;
    let rows = applications::list(&mut conn, scope, &filter, page.after, page.fetch()).await?;
    let views = rows
        .into_iter()
        .map(|r| ApplicationView::from_row(r, None))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(page.page(views, |a| (a.created_at, a.id), |a| a)))
}

/// One application with its budget lines (others' answer 404).
#[utoipa::path(get, path = "/api/v1/applications/{id}", tag = "applications", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = ApplicationView), (status = 401, body = Problem), (status = 404, body = Problem)))]
#[get(
    "/applications/{id}",
    wrap = "RequireRole(roles::ADMIN_APPLICANT_OR_REVIEWER)"
)]
pub async fn get_application(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.db.conn().await?;
    let (row, lines) =
        applications::get_with_budget(&mut conn, caller.application_scope(), path.into_inner())
            .await?;
    drop(conn);
    Ok(HttpResponse::Ok().json(ApplicationView::from_row(row, Some(lines))?))
}

/// Edit a draft (applicants, own organization; 409 once submitted).
#[utoipa::path(patch, path = "/api/v1/applications/{id}", tag = "applications", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = ApplicationContent,
    responses((status = 200, body = ApplicationView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[patch("/applications/{id}", wrap = "RequireRole(roles::APPLICANT)")]
pub async fn update_application(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ValidJson<ApplicationContent>,
) -> ApiResult<HttpResponse> {
    let row = svc::update(&state.db, &caller, path.into_inner(), body.0).await?;
    Ok(HttpResponse::Ok().json(full_view(&state, row).await?))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetInput {
    pub lines: Vec<BudgetLineInput>,
}

/// Replace all budget lines of a draft; amounts and sums are computed by the service.
#[utoipa::path(put, path = "/api/v1/applications/{id}/budget", tag = "applications", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = BudgetInput,
    responses((status = 200, body = ApplicationView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[put("/applications/{id}/budget", wrap = "RequireRole(roles::APPLICANT)")]
pub async fn replace_budget(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ValidJson<BudgetInput>,
) -> ApiResult<HttpResponse> {
    let (row, lines) =
        svc::replace_budget(&state.db, &caller, path.into_inner(), body.0.lines).await?;
    Ok(HttpResponse::Ok().json(ApplicationView::from_row(row, Some(lines))?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ValidationReport {
    /// True when a submission now would pass every rule.
    pub valid: bool,
    pub violations: Vec<Violation>,
}

/// Dry run of every submission rule; changes nothing.
#[utoipa::path(post, path = "/api/v1/applications/{id}/validate", tag = "applications", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = ValidationReport), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[post(
    "/applications/{id}/validate",
    wrap = "RequireRole(roles::ADMIN_OR_APPLICANT)"
)]
pub async fn validate_application(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let violations = svc::validate(&state.db, &caller, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(ValidationReport {
        valid: violations.is_empty(),
        violations,
    }))
}

/// Submit a draft: every rule is checked; 422 `rule_violation` lists all breaches.
#[utoipa::path(post, path = "/api/v1/applications/{id}/submit", tag = "applications", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = ApplicationView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "invalid_state"), (status = 422, body = Problem, description = "rule_violation")))]
#[post("/applications/{id}/submit", wrap = "RequireRole(roles::APPLICANT)")]
pub async fn submit_application(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let (row, lines) = svc::submit(&state.db, &caller, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(ApplicationView::from_row(row, Some(lines))?))
}

/// Withdraw a submitted application before a decision; frees its quota place.
#[utoipa::path(post, path = "/api/v1/applications/{id}/withdraw", tag = "applications", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = ApplicationView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
#[post("/applications/{id}/withdraw", wrap = "RequireRole(roles::APPLICANT)")]
pub async fn withdraw_application(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let row = svc::transition(
        &state.db,
        &caller,
        path.into_inner(),
        ApplicationStatus::Withdrawn,
        None,
    )
    .await?;
    Ok(HttpResponse::Ok().json(full_view(&state, row).await?))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScreeningInput {
    /// true → under_review; false → ineligible (a reason is required).
    pub eligible: bool,
    #[validate(length(max = 2000))]
    pub reason: Option<String>,
}

/// Screen a submitted application (admin only).
#[utoipa::path(post, path = "/api/v1/applications/{id}/screen", tag = "applications", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = ScreeningInput,
    responses((status = 200, body = ApplicationView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/applications/{id}/screen", wrap = "RequireRole(roles::ADMIN)")]
pub async fn screen_application(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ValidJson<ScreeningInput>,
) -> ApiResult<HttpResponse> {
    let b = body.0;
    let reason = b
        .reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if !b.eligible && reason.is_none() {
        return Err(ApiError::invalid(
            Violation::new("required", "an ineligible decision needs a reason").field("reason"),
        ));
    }
    let next = if b.eligible {
        ApplicationStatus::UnderReview
    } else {
        ApplicationStatus::Ineligible
    };
    let row = svc::transition(&state.db, &caller, path.into_inner(), next, reason).await?;
    Ok(HttpResponse::Ok().json(full_view(&state, row).await?))
}
