//! `/rounds/{id}/assignments` and `/assignments`: assigning reviewers, and listing and reading
//! assignments (a reviewer sees only their own).

use std::collections::BTreeMap;

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::auth::{roles, Caller};
use crate::domain::review::{AssignmentStatus, Shortfall};
use crate::domain::user::Role;
use crate::http::error::{ApiError, ApiResult, Problem};
use crate::http::extract::ValidJson;
use crate::http::guard::RequireRole;
use crate::http::pagination::{Page, PageRequest};
use crate::http::views::parse_text;
use crate::http::AppState;
use crate::service::review::{self as svc, scores_from_json, AssignMode, Pair};
use crate::storage::models::AssignmentRow;
use crate::storage::review::{self as store, AssignmentFilter};

use super::opt_decimal_str;

#[derive(Debug, Clone, Copy, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AssignModeName {
    Auto,
    Manual,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PairInput {
    pub application_id: Uuid,
    pub reviewer_id: Uuid,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignInput {
    /// `auto`: k reviewers per eligible application, filling gaps only; `manual`: the given pairs.
    pub mode: AssignModeName,
    /// For `auto`, 1 to 50; default: the round's `rules.min_reviewers`.
    #[schema(minimum = 1, maximum = 50)]
    pub reviewers_per_application: Option<u32>,
    /// For `manual`.
    #[serde(default)]
    pub pairs: Vec<PairInput>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AssignmentView {
    pub id: Uuid,
    pub round_id: Uuid,
    pub application_id: Uuid,
    pub reviewer_id: Uuid,
    pub status: AssignmentStatus,
    /// Criterion key → score, as decimal strings.
    #[schema(value_type = BTreeMap<String, String>)]
    pub scores: BTreeMap<String, String>,
    /// Sum of the scores given (the judged part; the objective party points come on top).
    #[schema(value_type = Option<String>)]
    #[serde(serialize_with = "opt_decimal_str")]
    pub judged_total: Option<Decimal>,
    pub comment: String,
    pub conflict_reason: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl AssignmentView {
    pub fn from_row(r: AssignmentRow) -> Result<Self, ApiError> {
        Ok(Self {
            id: r.id,
            round_id: r.round_id,
            application_id: r.application_id,
            reviewer_id: r.reviewer_id,
            status: parse_text(&r.status)?,
            scores: scores_from_json(&r.scores)?
                .into_iter()
                .map(|(k, v)| (k, v.normalize().to_string()))
                .collect(),
            judged_total: r.judged_total,
            comment: r.comment,
            conflict_reason: r.conflict_reason,
            submitted_at: r.submitted_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AssignResult {
    pub created: Vec<AssignmentView>,
    /// Applications still short of reviewers (not enough eligible panel members).
    #[schema(value_type = Vec<Object>)]
    pub shortfalls: Vec<Shortfall>,
}

/// Assign reviewers to the round's eligible applications (admin): automatically (k per
/// application, load spread evenly, never an affiliated reviewer; re-running fills gaps only)
/// or manually. A closed round becomes `reviewing`.
#[utoipa::path(post, path = "/api/v1/rounds/{id}/assignments", tag = "review", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "round id")), request_body = AssignInput,
    responses((status = 200, body = AssignResult), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/rounds/{id}/assignments", wrap = "RequireRole(roles::ADMIN)")]
pub async fn assign(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ValidJson<AssignInput>,
) -> ApiResult<HttpResponse> {
    let b = body.0;
    let mode = match b.mode {
        AssignModeName::Auto => AssignMode::Auto {
            per_application: b.reviewers_per_application,
        },
        AssignModeName::Manual => AssignMode::Manual(
            b.pairs
                .into_iter()
                .map(|p| Pair {
                    application_id: p.application_id,
                    reviewer_id: p.reviewer_id,
                })
                .collect(),
        ),
    };
    let out = svc::assign(&state.db, &caller, path.into_inner(), mode).await?;
    Ok(HttpResponse::Ok().json(AssignResult {
        created: out
            .created
            .into_iter()
            .map(AssignmentView::from_row)
            .collect::<Result<_, _>>()?,
        shortfalls: out.shortfalls,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AssignmentListQuery {
    pub round_id: Option<Uuid>,
    pub application_id: Option<Uuid>,
    pub status: Option<AssignmentStatus>,
    /// Admins only; reviewers always see their own.
    pub reviewer_id: Option<Uuid>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Assignments: a reviewer's own (never another reviewer's); admins all.
#[utoipa::path(get, path = "/api/v1/assignments", tag = "review", security(("bearer" = [])), params(AssignmentListQuery),
    responses((status = 200, body = Page<AssignmentView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
#[get("/assignments", wrap = "RequireRole(roles::ADMIN_OR_REVIEWER)")]
pub async fn list_assignments(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<AssignmentListQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let filter = AssignmentFilter {
        reviewer_id: if caller.is(Role::Reviewer) {
            Some(caller.user_id)
        } else {
            q.reviewer_id
        },
        round_id: q.round_id,
        application_id: q.application_id,
        status: q.status.map(|s| s.as_str().into()),
    };
    let mut conn = state.db.conn().await?;
    let rows = store::list_assignments(&mut conn, &filter, page.after, page.fetch()).await?;
    let views = rows
        .into_iter()
        .map(AssignmentView::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(page.page(views, |a| (a.created_at, a.id), |a| a)))
}

/// One assignment (a reviewer's own; admins any).
#[utoipa::path(get, path = "/api/v1/assignments/{id}", tag = "review", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = AssignmentView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/assignments/{id}", wrap = "RequireRole(roles::ADMIN_OR_REVIEWER)")]
pub async fn get_assignment(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let reviewer = caller.is(Role::Reviewer).then_some(caller.user_id);
    let mut conn = state.db.conn().await?;
    let row = store::get_assignment(&mut conn, path.into_inner(), reviewer).await?;
    Ok(HttpResponse::Ok().json(AssignmentView::from_row(row)?))
}
