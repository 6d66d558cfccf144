//! Spending of a grant: expenditures, the budget execution, financial reports and budget
//! adjustments.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::auth::{roles, Caller};
use crate::domain::budget::BudgetCategory;
use crate::http::error::{ApiResult, Problem};
use crate::http::extract::ValidJson;
use crate::http::guard::RequireRole;
use crate::http::pagination::{Page, PageRequest};
use crate::http::AppState;
use crate::service::spending::{
    self as svc, AdjustmentDecision, AdjustmentInput, AdjustmentStatus, AdjustmentView,
    BudgetExecutionView, ExpenditureInput, ExpenditurePatch, ExpenditureStatus, ExpenditureView,
    FinancialReportView, ReportInput,
};
use crate::storage::spending::ExpenditureFilter;

macro_rules! no_derive_validation {
    ($($t:ty),*) => {$(
        impl validator::Validate for $t {
            fn validate(&self) -> Result<(), validator::ValidationErrors> {
                Ok(())
            }
        }
    )*};
}
no_derive_validation!(
    ExpenditureInput,
    ExpenditurePatch,
    ReportInput,
    AdjustmentInput,
    AdjustmentDecision
);

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExpenditureQuery {
    pub category: Option<BudgetCategory>,
    pub budget_line_id: Option<Uuid>,
    /// `draft` (not yet in a report) or `reported`.
    pub status: Option<ExpenditureStatus>,
    pub report_id: Option<Uuid>,
    /// Spent on or after this day.
    pub spent_from: Option<NaiveDate>,
    /// Spent on or before this day.
    pub spent_to: Option<NaiveDate>,
    /// Page size, 1..200 (default 50).
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Record an expenditure (the grantee organization's applicants, while the grant is active):
/// `category` one of the budget categories, `amount` a money string above 0, `spent_on` within
/// the project's dates and not after today (China time), `budget_line` (optional) a line of
/// the approved budget of the same category.
#[utoipa::path(post, path = "/api/v1/grants/{id}/expenditures", tag = "spending", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = ExpenditureInput,
    responses((status = 201, body = ExpenditureView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "invalid_state: the grant is not active"),
        (status = 422, body = Problem, description = "validation_failed: amount, dates, budget line")))]
#[post("/grants/{id}/expenditures", wrap = "RequireRole(roles::APPLICANT)")]
pub async fn create_expenditure(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ValidJson<ExpenditureInput>,
) -> ApiResult<HttpResponse> {
    let view = svc::create_expenditure(&state.db, &caller, path.into_inner(), body.0).await?;
    Ok(HttpResponse::Created().json(view))
}

/// The grant's expenditures, oldest recorded first (admin, finance, the grantee).
#[utoipa::path(get, path = "/api/v1/grants/{id}/expenditures", tag = "spending", security(("bearer" = [])), params(("id" = Uuid, Path), ExpenditureQuery),
    responses((status = 200, body = Page<ExpenditureView>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get(
    "/grants/{id}/expenditures",
    wrap = "RequireRole(roles::ADMIN_APPLICANT_OR_FINANCE)"
)]
pub async fn list_expenditures(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    query: web::Query<ExpenditureQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let filter = ExpenditureFilter {
        category: q.category.map(|c| c.as_str().into()),
        budget_line_id: q.budget_line_id,
        reported: q.status.map(|s| s == ExpenditureStatus::Reported),
        report_id: q.report_id,
        spent_from: q.spent_from,
        spent_to: q.spent_to,
    };
    let rows = svc::list_expenditures(
        &state.db,
        &caller,
        path.into_inner(),
        &filter,
        page.after,
        page.fetch(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(page.page(rows, |e| (e.created_at, e.id), |e| e)))
}

/// One expenditure.
#[utoipa::path(get, path = "/api/v1/expenditures/{id}", tag = "spending", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = ExpenditureView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get(
    "/expenditures/{id}",
    wrap = "RequireRole(roles::ADMIN_APPLICANT_OR_FINANCE)"
)]
pub async fn get_expenditure(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let view = svc::get_expenditure(&state.db, &caller, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Correct a draft expenditure (the grantee); absent fields stay, `budget_line: null` clears
/// it. One in a submitted financial report answers 409 `invalid_state`.
#[utoipa::path(patch, path = "/api/v1/expenditures/{id}", tag = "spending", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = ExpenditurePatch,
    responses((status = 200, body = ExpenditureView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "invalid_state: in a submitted report, or the grant is not active"),
        (status = 422, body = Problem)))]
#[patch("/expenditures/{id}", wrap = "RequireRole(roles::APPLICANT)")]
pub async fn update_expenditure(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ValidJson<ExpenditurePatch>,
) -> ApiResult<HttpResponse> {
    let view = svc::update_expenditure(&state.db, &caller, path.into_inner(), body.0).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Delete a draft expenditure and its attachments (the grantee); 409 once it is in a
/// submitted report.
#[utoipa::path(delete, path = "/api/v1/expenditures/{id}", tag = "spending", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "invalid_state: in a submitted report, or the grant is not active")))]
#[delete("/expenditures/{id}", wrap = "RequireRole(roles::APPLICANT)")]
pub async fn delete_expenditure(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    svc::delete_expenditure(&state.db, &caller, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The budget execution: per category and per budget line the approved budget (after
/// approved adjustments), spent, remaining and percent spent; totals; the personnel share of
/// spending (rule 2); flags `category_over_budget` (over by more than the round's
/// `budget_adjustment_tolerance`), `personnel_ratio`, `spent_above_funds` (above what the grant
/// paid in plus the self-funded budget).
#[utoipa::path(get, path = "/api/v1/grants/{id}/budget-execution", tag = "spending", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = BudgetExecutionView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get(
    "/grants/{id}/budget-execution",
    wrap = "RequireRole(roles::ADMIN_APPLICANT_OR_FINANCE)"
)]
pub async fn budget_execution(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let view = svc::budget_execution(&state.db, &caller, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Submit the financial report of a period (the grantee): every expenditure not yet in a
/// report is frozen into it (no longer editable), with the budget execution as of now and the
/// party-themed activities held against those planned at application. One report per period
/// (409 `invalid_state` for a second, or for a mid-term report after the final one).
#[utoipa::path(post, path = "/api/v1/grants/{id}/financial-reports", tag = "spending", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = ReportInput,
    responses((status = 201, body = FinancialReportView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "invalid_state: already submitted, or the grant is not active"),
        (status = 422, body = Problem)))]
#[post(
    "/grants/{id}/financial-reports",
    wrap = "RequireRole(roles::APPLICANT)"
)]
pub async fn submit_report(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ValidJson<ReportInput>,
) -> ApiResult<HttpResponse> {
    let view = svc::submit_report(&state.db, &caller, path.into_inner(), body.0).await?;
    Ok(HttpResponse::Created().json(view))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReportListQuery {
    /// Page size, 1..200 (default 50); a grant has at most two reports.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The grant's financial reports, oldest first (admin, finance, the grantee).
#[utoipa::path(get, path = "/api/v1/grants/{id}/financial-reports", tag = "spending", security(("bearer" = [])), params(("id" = Uuid, Path), ReportListQuery),
    responses((status = 200, body = Page<FinancialReportView>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get(
    "/grants/{id}/financial-reports",
    wrap = "RequireRole(roles::ADMIN_APPLICANT_OR_FINANCE)"
)]
pub async fn list_reports(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    query: web::Query<ReportListQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let rows: Vec<FinancialReportView> = svc::list_reports(&state.db, &caller, path.into_inner())
        .await?
        .into_iter()
        .filter(|r| {
            page.after
                .is_none_or(|(at, id)| (r.submitted_at, r.id) > (at, id))
        })
        .take(page.fetch() as usize)
        .collect();
    Ok(HttpResponse::Ok().json(page.page(rows, |r| (r.submitted_at, r.id), |r| r)))
}

/// One financial report with the expenditures it froze.
#[utoipa::path(get, path = "/api/v1/financial-reports/{id}", tag = "spending", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = FinancialReportView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get(
    "/financial-reports/{id}",
    wrap = "RequireRole(roles::ADMIN_APPLICANT_OR_FINANCE)"
)]
pub async fn get_report(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let view = svc::get_report(&state.db, &caller, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Propose a budget adjustment: moves between the lines of the approved budget, with a
/// reason (the grantee's applicants, or an admin). Every rule is checked on the adjusted
/// budget: lines stay ≥ 0 (422 `validation_failed`), personnel within the round's ratio, the
/// total and the grant-funded total unchanged (422 `rule_violation`).
#[utoipa::path(post, path = "/api/v1/grants/{id}/budget-adjustments", tag = "spending", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = AdjustmentInput,
    responses((status = 201, body = AdjustmentView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "invalid_state: the grant is not active"),
        (status = 422, body = Problem, description = "validation_failed; rule_violation `personnel_ratio`, `budget_total_unchanged`, `grant_total_unchanged`")))]
#[post(
    "/grants/{id}/budget-adjustments",
    wrap = "RequireRole(roles::ADMIN_OR_APPLICANT)"
)]
pub async fn propose_adjustment(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ValidJson<AdjustmentInput>,
) -> ApiResult<HttpResponse> {
    let view = svc::propose_adjustment(&state.db, &caller, path.into_inner(), body.0).await?;
    Ok(HttpResponse::Created().json(view))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentQuery {
    pub status: Option<AdjustmentStatus>,
    /// Page size, 1..200 (default 50).
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The grant's budget adjustments, oldest first; approved ones carry their budget `version`.
#[utoipa::path(get, path = "/api/v1/grants/{id}/budget-adjustments", tag = "spending", security(("bearer" = [])), params(("id" = Uuid, Path), AdjustmentQuery),
    responses((status = 200, body = Page<AdjustmentView>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get(
    "/grants/{id}/budget-adjustments",
    wrap = "RequireRole(roles::ADMIN_APPLICANT_OR_FINANCE)"
)]
pub async fn list_adjustments(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    query: web::Query<AdjustmentQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let rows = svc::list_adjustments(
        &state.db,
        &caller,
        path.into_inner(),
        q.status,
        page.after,
        page.fetch(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(page.page(rows, |a| (a.proposed_at, a.id), |a| a)))
}

/// Approve a proposed adjustment (admin): re-checked on the budget as it is now, it becomes
/// the next budget version. With the round's `adjustment_needs_other_admin` (default) an
/// admin cannot decide an adjustment they proposed (403 `self_approval_forbidden`).
#[utoipa::path(post, path = "/api/v1/budget-adjustments/{id}/approve", tag = "spending", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = AdjustmentDecision,
    responses((status = 200, body = AdjustmentView), (status = 401, body = Problem), (status = 403, body = Problem, description = "forbidden, self_approval_forbidden"), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "invalid_state: already decided, or the grant is not active"),
        (status = 422, body = Problem, description = "rule_violation: the moves no longer fit the budget")))]
#[post("/budget-adjustments/{id}/approve", wrap = "RequireRole(roles::ADMIN)")]
pub async fn approve_adjustment(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ValidJson<AdjustmentDecision>,
) -> ApiResult<HttpResponse> {
    let view = svc::decide_adjustment(&state.db, &caller, path.into_inner(), true, body.0).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Reject a proposed adjustment (admin), with the reason in `note`.
#[utoipa::path(post, path = "/api/v1/budget-adjustments/{id}/reject", tag = "spending", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = AdjustmentDecision,
    responses((status = 200, body = AdjustmentView), (status = 401, body = Problem), (status = 403, body = Problem, description = "forbidden, self_approval_forbidden"), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "invalid_state: already decided"),
        (status = 422, body = Problem)))]
#[post("/budget-adjustments/{id}/reject", wrap = "RequireRole(roles::ADMIN)")]
pub async fn reject_adjustment(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ValidJson<AdjustmentDecision>,
) -> ApiResult<HttpResponse> {
    let view = svc::decide_adjustment(&state.db, &caller, path.into_inner(), false, body.0).await?;
    Ok(HttpResponse::Ok().json(view))
}
