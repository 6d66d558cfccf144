//! The finance work queue and payout decisions (maker-checker).

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::auth::{roles, Caller};
use crate::domain::grant::PayoutStatus;
use crate::http::error::{ApiResult, Problem};
use crate::http::extract::ValidJson;
use crate::http::guard::RequireRole;
use crate::http::pagination::{Page, PageRequest};
use crate::http::routes::grants::{idempotency_key, replayable};
use crate::http::AppState;
use crate::service::grants::{self as svc, Decision, Idempotency, PayoutView};
use crate::storage::grants::{self, PayoutFilter};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PayoutListQuery {
    pub status: Option<PayoutStatus>,
    pub grant_id: Option<Uuid>,
    /// Page size, 1..200 (default 50).
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The payout work queue (finance, admin), oldest request first; `?status=requested` is what
/// awaits approval.
#[utoipa::path(get, path = "/api/v1/payouts", tag = "payouts", security(("bearer" = [])), params(PayoutListQuery),
    responses((status = 200, body = Page<PayoutView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
#[get("/payouts", wrap = "RequireRole(roles::ADMIN_OR_FINANCE)")]
pub async fn list_payouts(
    state: web::Data<AppState>,
    query: web::Query<PayoutListQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let filter = PayoutFilter {
        status: q.status.map(|s| s.as_str().into()),
        grant_id: q.grant_id,
    };
    let mut conn = state.db.conn().await?;
    let rows = grants::list_payouts(&mut conn, &filter, page.after, page.fetch()).await?;
    let views = svc::payout_views(&mut conn, &rows).await?;
    let keyed: Vec<_> = rows.iter().map(|r| r.requested_at).zip(views).collect();
    Ok(HttpResponse::Ok().json(page.page(keyed, |(at, v)| (*at, v.id), |(_, v)| v)))
}

/// The optional `Idempotency-Key` of a decision, digested with what is decided.
fn idem(
    req: &HttpRequest,
    what: &str,
    body: &impl serde::Serialize,
) -> ApiResult<Option<Idempotency>> {
    idempotency_key(req)?
        .map(|k| Idempotency::new(&k, what, body))
        .transpose()
        .map_err(crate::http::error::ApiError::from)
}

/// Approve a requested payout (finance, not the requester: 403 `self_approval_forbidden`).
#[utoipa::path(post, path = "/api/v1/payouts/{id}/approve", tag = "payouts", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, description = "optional: a retry with the same key answers the first answer")),
    responses((status = 200, body = PayoutView), (status = 401, body = Problem), (status = 403, body = Problem, description = "forbidden, self_approval_forbidden"),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "invalid_state"), (status = 422, body = Problem)))]
#[post("/payouts/{id}/approve", wrap = "RequireRole(roles::FINANCE)")]
pub async fn approve_payout(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let idem = idem(&req, &format!("POST /payouts/{id}/approve"), &())?;
    replayable(svc::decide(&state.db, &caller, id, Decision::Approve, idem).await?)
}

#[derive(Debug, Deserialize, serde::Serialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectInput {
    #[validate(length(min = 1, max = 2000))]
    pub reason: String,
}

/// Reject a requested payout with a reason (finance, not the requester).
#[utoipa::path(post, path = "/api/v1/payouts/{id}/reject", tag = "payouts", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, description = "optional: a retry with the same key answers the first answer")),
    request_body = RejectInput,
    responses((status = 200, body = PayoutView), (status = 401, body = Problem), (status = 403, body = Problem, description = "forbidden, self_approval_forbidden"),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "invalid_state"), (status = 422, body = Problem)))]
#[post("/payouts/{id}/reject", wrap = "RequireRole(roles::FINANCE)")]
pub async fn reject_payout(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<Uuid>,
    body: ValidJson<RejectInput>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let idem = idem(&req, &format!("POST /payouts/{id}/reject"), &body.0)?;
    let reason = body.0.reason.trim().to_string();
    if reason.is_empty() {
        return Err(crate::http::error::ApiError::invalid(
            crate::domain::violation::Violation::new("required", "a rejection needs a reason")
                .field("reason"),
        ));
    }
    replayable(svc::decide(&state.db, &caller, id, Decision::Reject { reason }, idem).await?)
}

#[derive(Debug, Deserialize, serde::Serialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaidInput {
    #[validate(length(min = 1, max = 100))]
    pub bank_reference: String,
    pub value_date: NaiveDate,
}

/// Record the bank payment of an approved payout (finance). A tranche is `paid` when its paid
/// payouts add up to it.
#[utoipa::path(post, path = "/api/v1/payouts/{id}/paid", tag = "payouts", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, description = "optional: a retry with the same key answers the first answer")),
    request_body = PaidInput,
    responses((status = 200, body = PayoutView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "invalid_state: not approved"), (status = 422, body = Problem)))]
#[post("/payouts/{id}/paid", wrap = "RequireRole(roles::FINANCE)")]
pub async fn mark_paid(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<Uuid>,
    body: ValidJson<PaidInput>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let idem = idem(&req, &format!("POST /payouts/{id}/paid"), &body.0)?;
    let b = body.0;
    let bank_reference = b.bank_reference.trim().to_string();
    if bank_reference.is_empty() {
        return Err(crate::http::error::ApiError::invalid(
            crate::domain::violation::Violation::new("required", "the bank reference is required")
                .field("bank_reference"),
        ));
    }
    let decision = Decision::Paid {
        bank_reference,
        value_date: b.value_date,
    };
    replayable(svc::decide(&state.db, &caller, id, decision, idem).await?)
}
