//! Grants: list and detail, milestones, payout requests, ledger exports (issue #5).

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::auth::{roles, Caller};
use crate::domain::grant::GrantStatus;
use crate::http::error::{ApiError, ApiResult, Problem};
use crate::http::extract::ValidJson;
use crate::http::guard::RequireRole;
use crate::http::pagination::{Page, PageRequest};
use crate::http::AppState;
use crate::service::grants::{
    self as svc, GrantView, Idempotency, MilestoneInput, PayoutInput, PayoutView,
};
use crate::service::ledger::{self, LedgerOf};
use crate::storage::grants::{self, GrantFilter};

impl validator::Validate for MilestoneInput {
    fn validate(&self) -> Result<(), validator::ValidationErrors> {
        Ok(())
    }
}

impl validator::Validate for PayoutInput {
    fn validate(&self) -> Result<(), validator::ValidationErrors> {
        Ok(())
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct GrantListQuery {
    pub round_id: Option<Uuid>,
    pub status: Option<GrantStatus>,
    /// Admin and finance; applicants always see their own organization's.
    pub organization_id: Option<Uuid>,
    /// Page size, 1..200 (default 50).
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// List grants with tranches, milestones and balance (payouts on the single-grant answer).
/// Admin and finance see all, applicants their organization's; reviewers are refused.
#[utoipa::path(get, path = "/api/v1/grants", tag = "grants", security(("bearer" = [])), params(GrantListQuery),
    responses((status = 200, body = Page<GrantView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
#[get("/grants", wrap = "RequireRole(roles::ADMIN_APPLICANT_OR_FINANCE)")]
pub async fn list_grants(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<GrantListQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let filter = GrantFilter {
        round_id: q.round_id,
        status: q.status.map(|s| s.as_str().into()),
        organization_id: q.organization_id,
    };
    let mut conn = state.db.conn().await?;
    let rows = grants::list(
        &mut conn,
        caller.organization_scope(),
        &filter,
        page.after,
        page.fetch(),
    )
    .await?;
    let views = svc::views(&mut conn, rows, false).await?;
    Ok(HttpResponse::Ok().json(page.page(views, |g| (g.created_at, g.id), |g| g)))
}

/// One grant: award, tranches with status, milestones, payouts, paid and outstanding balance.
#[utoipa::path(get, path = "/api/v1/grants/{id}", tag = "grants", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = GrantView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get(
    "/grants/{id}",
    wrap = "RequireRole(roles::ADMIN_APPLICANT_OR_FINANCE)"
)]
pub async fn get_grant(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let view = svc::view(&state.db, caller.organization_scope(), path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Record a milestone (admin), in order: `agreement_signed` (application contracted, first
/// tranche due), `mid_term_evaluation` (passed: in progress, its tranche due) and
/// `final_evaluation` (passed: completed, last tranche due), each evaluation with a score 0–100
/// (grade A ≥ 85, B ≥ 60, C; pass at the round's `evaluation_pass_mark`). A failed evaluation
/// terminates the project: remaining tranches cancelled, unpaid payouts rejected, optional
/// clawback recorded, the organization blacklisted for `blacklist_years` (default the round's).
/// Out of order: 409 `invalid_state`.
#[utoipa::path(post, path = "/api/v1/grants/{id}/milestones", tag = "grants", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = MilestoneInput,
    responses((status = 200, body = GrantView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "invalid_state: out of order, or the grant is finished"),
        (status = 422, body = Problem, description = "validation_failed; rule_violation `clawback_limit`")))]
#[post("/grants/{id}/milestones", wrap = "RequireRole(roles::ADMIN)")]
pub async fn record_milestone(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ValidJson<MilestoneInput>,
) -> ApiResult<HttpResponse> {
    let row = svc::record_milestone(&state.db, &caller, path.into_inner(), body.0).await?;
    let view = svc::view(&state.db, caller.organization_scope(), row.id).await?;
    Ok(HttpResponse::Ok().json(view))
}

pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// Request a payout of a due tranche (finance). Requires an `Idempotency-Key` header (400
/// `idempotency_key_required`): the same key and body answer the first result again (with
/// `Idempotent-Replayed: true`), another body 422 `idempotency_key_reused`. Requested, approved
/// and paid payouts of a tranche never exceed it (422 `rule_violation` `tranche_limit`).
#[utoipa::path(post, path = "/api/v1/grants/{id}/payouts", tag = "payouts", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("Idempotency-Key" = String, Header, description = "1–200 visible ASCII characters, unique per request you mean")),
    request_body = PayoutInput,
    responses((status = 201, body = PayoutView), (status = 400, body = Problem, description = "idempotency_key_required, invalid_idempotency_key"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "invalid_state: the tranche is not due, or the grant is terminated"),
        (status = 422, body = Problem, description = "rule_violation (`tranche_limit`, `award_limit`), idempotency_key_reused, validation_failed")))]
#[post("/grants/{id}/payouts", wrap = "RequireRole(roles::FINANCE)")]
pub async fn request_payout(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<Uuid>,
    body: ValidJson<PayoutInput>,
) -> ApiResult<HttpResponse> {
    let grant_id = path.into_inner();
    let key = idempotency_key(&req)?.ok_or_else(|| {
        ApiError::bad_request(
            "idempotency_key_required",
            "a payout request needs an Idempotency-Key header",
        )
    })?;
    let idem = Idempotency::new(&key, &format!("POST /grants/{grant_id}/payouts"), &body.0)?;
    let out = svc::request_payout(&state.db, &caller, grant_id, body.0, idem).await?;
    replayable(out)
}

/// The `Idempotency-Key` header, if any.
pub(crate) fn idempotency_key(req: &HttpRequest) -> ApiResult<Option<String>> {
    req.headers()
        .get(IDEMPOTENCY_KEY)
        .map(|v| {
            v.to_str().map(str::to_string).map_err(|_| {
                ApiError::bad_request(
                    "invalid_idempotency_key",
                    "Idempotency-Key has 1 to 200 visible ASCII characters",
                )
            })
        })
        .transpose()
}

/// Sends a (possibly replayed) answer; a replay says so in `Idempotent-Replayed: true`.
pub(crate) fn replayable(out: svc::Replayable) -> ApiResult<HttpResponse> {
    let status = actix_web::http::StatusCode::from_u16(out.status)
        .map_err(|e| ApiError::from(crate::service::Error::Internal(e.into())))?;
    let mut res = HttpResponse::build(status);
    if out.replayed {
        res.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(res.json(out.body))
}

fn csv(body: Vec<u8>, name: &str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}.csv\""),
        ))
        .body(body)
}

fn xlsx(body: Vec<u8>, name: &str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}.xlsx\""),
        ))
        .body(body)
}

/// The grant's ledger as CSV (UTF-8 with BOM): one line per approved or paid payout, then
/// `合计 Total` rows (awarded, paid, approved, pending, outstanding, cancelled) equal to the
/// grant's `balance`. Finance and admin.
#[utoipa::path(get, path = "/api/v1/grants/{id}/ledger.csv", tag = "ledger", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, content_type = "text/csv", body = String), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 503, body = Problem, description = "busy: too many expensive requests at once (`application.max_concurrent_expensive`)")))]
#[get(
    "/grants/{id}/ledger.csv",
    wrap = "RequireRole(roles::ADMIN_OR_FINANCE)"
)]
pub async fn grant_ledger_csv(
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let _permit = state.expensive_permit()?;
    let id = path.into_inner();
    let l = ledger::build(&state.db, LedgerOf::Grant(id)).await?;
    Ok(csv(l.to_csv(), &format!("ledger-grant-{id}")))
}

/// The grant's ledger as XLSX (same lines and totals as the CSV).
#[utoipa::path(get, path = "/api/v1/grants/{id}/ledger.xlsx", tag = "ledger", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 503, body = Problem, description = "busy: too many expensive requests at once (`application.max_concurrent_expensive`)")))]
#[get(
    "/grants/{id}/ledger.xlsx",
    wrap = "RequireRole(roles::ADMIN_OR_FINANCE)"
)]
pub async fn grant_ledger_xlsx(
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let _permit = state.expensive_permit()?;
    let id = path.into_inner();
    let l = ledger::build(&state.db, LedgerOf::Grant(id)).await?;
    Ok(xlsx(l.to_xlsx()?, &format!("ledger-grant-{id}")))
}

/// The round's ledger as CSV: every grant of the round, totals equal to the sums of their
/// `balance`.
#[utoipa::path(get, path = "/api/v1/rounds/{id}/ledger.csv", tag = "ledger", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, content_type = "text/csv", body = String), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 503, body = Problem, description = "busy: too many expensive requests at once (`application.max_concurrent_expensive`)")))]
#[get(
    "/rounds/{id}/ledger.csv",
    wrap = "RequireRole(roles::ADMIN_OR_FINANCE)"
)]
pub async fn round_ledger_csv(
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let _permit = state.expensive_permit()?;
    let id = path.into_inner();
    let l = ledger::build(&state.db, LedgerOf::Round(id)).await?;
    Ok(csv(l.to_csv(), &format!("ledger-round-{id}")))
}

/// The round's ledger as XLSX.
#[utoipa::path(get, path = "/api/v1/rounds/{id}/ledger.xlsx", tag = "ledger", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 503, body = Problem, description = "busy: too many expensive requests at once (`application.max_concurrent_expensive`)")))]
#[get(
    "/rounds/{id}/ledger.xlsx",
    wrap = "RequireRole(roles::ADMIN_OR_FINANCE)"
)]
pub async fn round_ledger_xlsx(
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let _permit = state.expensive_permit()?;
    let id = path.into_inner();
    let l = ledger::build(&state.db, LedgerOf::Round(id)).await?;
    Ok(xlsx(l.to_xlsx()?, &format!("ledger-round-{id}")))
}
