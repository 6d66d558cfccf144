use actix_web::{get, patch, post, web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::auth::{roles, Caller};
use crate::domain::lifecycle::RoundStatus;
use crate::domain::money::Money;
use crate::domain::round::{
    default_tranches, PartyPointsTable, RoundKind, RoundRules, Rubric, TrancheSpec,
};
use crate::domain::user::Role;
use crate::domain::violation::Violation;
use crate::http::error::{ApiError, ApiResult, Problem};
use crate::http::extract::ValidJson;
use crate::http::guard::RequireRole;
use crate::http::pagination::{Page, PageRequest};
use crate::http::views::parse_text;
use crate::http::AppState;
use crate::service::rounds::{self as svc, RoundSpec};
use crate::storage::models::RoundRow;
use crate::storage::rounds;

/// A new round. `rules` may name only the settings to change: the rest take the defaults of
/// the round's kind (domain.md). `rubric`, `party_points` and `tranche_schedule` default too.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRound {
    #[schema(example = "昆山市第七届公益创投")]
    pub name: String,
    #[schema(minimum = 2000, maximum = 2100)]
    pub year: i32,
    pub kind: RoundKind,
    pub total_pool: Money,
    pub grant_min: Money,
    pub grant_max: Money,
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    pub project_start: Option<NaiveDate>,
    pub project_end: Option<NaiveDate>,
    #[schema(example = json!(["elderly", "children", "community_governance"]))]
    pub focus_areas: Vec<String>,
    #[schema(value_type = Option<RoundRules>)]
    pub rules: Option<serde_json::Value>,
    pub rubric: Option<Rubric>,
    pub party_points: Option<PartyPointsTable>,
    pub tranche_schedule: Option<Vec<TrancheSpec>>,
}

/// Changes to a draft round; absent fields stay. `rules` may name only the settings to change.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoundPatch {
    pub name: Option<String>,
    #[schema(minimum = 2000, maximum = 2100)]
    pub year: Option<i32>,
    pub total_pool: Option<Money>,
    pub grant_min: Option<Money>,
    pub grant_max: Option<Money>,
    pub opens_at: Option<DateTime<Utc>>,
    pub closes_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "super::organizations::double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub project_start: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "super::organizations::double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub project_end: Option<Option<NaiveDate>>,
    pub focus_areas: Option<Vec<String>>,
    #[schema(value_type = Option<RoundRules>)]
    pub rules: Option<serde_json::Value>,
    pub rubric: Option<Rubric>,
    pub party_points: Option<PartyPointsTable>,
    pub tranche_schedule: Option<Vec<TrancheSpec>>,
}

/// Merges a partial rules object onto a base, refusing unknown settings.
fn merge_rules(
    base: &RoundRules,
    partial: Option<serde_json::Value>,
) -> Result<RoundRules, crate::service::Error> {
    use crate::service::Error;
    let Some(partial) = partial else {
        return Ok(base.clone());
    };
    let serde_json::Value::Object(changes) = partial else {
        return Err(Error::invalid(
            Violation::new("schema", "rules is an object").field("rules"),
        ));
    };
    let mut merged = serde_json::to_value(base).expect("rules serialize");
    for (k, v) in changes {
        merged[k] = v;
    }
    crate::http::extract::parse_json::<RoundRules>(merged.to_string().as_bytes()).map_err(|e| {
        match e {
            ApiError::Service(Error::Validation(mut v)) => {
                for x in &mut v {
                    x.field = Some(
                        format!("rules.{}", x.field.take().unwrap_or_default())
                            .trim_end_matches('.')
                            .to_string(),
                    );
                }
                Error::Validation(v)
            }
            ApiError::Service(other) => other,
            other => Error::Internal(anyhow::anyhow!("merging rules: {other}")),
        }
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoundView {
    pub id: Uuid,
    pub name: String,
    pub year: i32,
    pub kind: RoundKind,
    pub status: RoundStatus,
    pub total_pool: Money,
    pub grant_min: Money,
    pub grant_max: Money,
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    /// Open and inside its window right now.
    pub accepting_submissions: bool,
    pub project_start: Option<NaiveDate>,
    pub project_end: Option<NaiveDate>,
    pub focus_areas: Vec<String>,
    pub rules: RoundRules,
    pub rubric: Rubric,
    pub party_points: PartyPointsTable,
    pub tranche_schedule: Vec<TrancheSpec>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RoundView {
    pub fn from_row(r: RoundRow) -> Result<Self, ApiError> {
        let spec = RoundSpec::from_row(&r)?;
        let status: RoundStatus = parse_text(&r.status)?;
        let now = Utc::now();
        Ok(Self {
            id: r.id,
            accepting_submissions: status == RoundStatus::Open
                && spec.opens_at <= now
                && now < spec.closes_at,
            name: spec.name,
            year: spec.year,
            kind: spec.kind,
            status,
            total_pool: spec.total_pool,
            grant_min: spec.grant_min,
            grant_max: spec.grant_max,
            opens_at: spec.opens_at,
            closes_at: spec.closes_at,
            project_start: spec.project_start,
            project_end: spec.project_end,
            focus_areas: spec.focus_areas,
            rules: spec.rules,
            rubric: spec.rubric,
            party_points: spec.party_points,
            tranche_schedule: spec.tranche_schedule,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// Create a funding round as a draft (admin only).
#[utoipa::path(post, path = "/api/v1/rounds", tag = "rounds", security(("bearer" = [])), request_body = NewRound,
    responses((status = 201, body = RoundView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
#[post("/rounds", wrap = "RequireRole(roles::ADMIN)")]
pub async fn create_round(
    state: web::Data<AppState>,
    caller: Caller,
    body: ValidJson<NewRound>,
) -> ApiResult<HttpResponse> {
    let b = body.0;
    let spec = RoundSpec {
        rules: merge_rules(&RoundRules::defaults_for(b.kind), b.rules)?,
        name: b.name,
        year: b.year,
        kind: b.kind,
        total_pool: b.total_pool,
        grant_min: b.grant_min,
        grant_max: b.grant_max,
        opens_at: b.opens_at,
        closes_at: b.closes_at,
        project_start: b.project_start,
        project_end: b.project_end,
        focus_areas: b.focus_areas,
        rubric: b.rubric.unwrap_or_default(),
        party_points: b.party_points.unwrap_or_default(),
        tranche_schedule: b.tranche_schedule.unwrap_or_else(default_tranches),
    };
    let row = svc::create(&state.db, spec, &caller).await?;
    Ok(HttpResponse::Created().json(RoundView::from_row(row)?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RoundListQuery {
    pub status: Option<RoundStatus>,
    /// Page size, 1..200 (default 50).
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// List rounds: admins see all, everyone else every round but drafts.
#[utoipa::path(get, path = "/api/v1/rounds", tag = "rounds", security(("bearer" = [])), params(RoundListQuery),
    responses((status = 200, body = Page<RoundView>), (status = 401, body = Problem)))]
#[get("/rounds")]
pub async fn list_rounds(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<RoundListQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let mut conn = state.db.conn().await?;
    let rows = rounds::list(
        &mut conn,
        caller.is(Role::Admin),
        q.status.map(|s| s.as_str()),
        page.after,
        page.fetch(),
    )
    .await?;
    let views = rows
        .into_iter()
        .map(RoundView::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(page.page(views, |r| (r.created_at, r.id), |r| r)))
}

/// One round (drafts: admins only; others get 404).
#[utoipa::path(get, path = "/api/v1/rounds/{id}", tag = "rounds", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = RoundView), (status = 401, body = Problem), (status = 404, body = Problem)))]
#[get("/rounds/{id}")]
pub async fn get_round(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let conn = state.db.conn().await?;
    let row = rounds::get(&conn, path.into_inner(), caller.is(Role::Admin)).await?;
    Ok(HttpResponse::Ok().json(RoundView::from_row(row)?))
}

/// Change a draft round (admin only); rules and rubric are frozen once it opens (409).
#[utoipa::path(patch, path = "/api/v1/rounds/{id}", tag = "rounds", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = RoundPatch,
    responses((status = 200, body = RoundView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "invalid_state"), (status = 422, body = Problem)))]
#[patch("/rounds/{id}", wrap = "RequireRole(roles::ADMIN)")]
pub async fn update_round(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ValidJson<RoundPatch>,
) -> ApiResult<HttpResponse> {
    let p = body.0;
    let row = svc::update(&state.db, path.into_inner(), &caller, move |s| {
        macro_rules! set { ($($f:ident),*) => { $( if let Some(v) = p.$f { s.$f = v; } )* } }
        set!(
            name,
            year,
            total_pool,
            grant_min,
            grant_max,
            opens_at,
            closes_at,
            project_start,
            project_end,
            focus_areas,
            rubric,
            party_points,
            tranche_schedule
        );
        s.rules = merge_rules(&s.rules, p.rules)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::Ok().json(RoundView::from_row(row)?))
}

/// Open a draft round for applications (admin only).
#[utoipa::path(post, path = "/api/v1/rounds/{id}/open", tag = "rounds", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = RoundView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
#[post("/rounds/{id}/open", wrap = "RequireRole(roles::ADMIN)")]
pub async fn open_round(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let row = svc::transition(&state.db, path.into_inner(), RoundStatus::Open, &caller).await?;
    Ok(HttpResponse::Ok().json(RoundView::from_row(row)?))
}

/// Close an open round (admin only).
#[utoipa::path(post, path = "/api/v1/rounds/{id}/close", tag = "rounds", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = RoundView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
#[post("/rounds/{id}/close", wrap = "RequireRole(roles::ADMIN)")]
pub async fn close_round(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let row = svc::transition(&state.db, path.into_inner(), RoundStatus::Closed, &caller).await?;
    Ok(HttpResponse::Ok().json(RoundView::from_row(row)?))
}
