//! Review panels, assignments, scoring, ranking and awards.

use std::collections::BTreeMap;

use actix_web::{get, post, put, web, HttpResponse};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::auth::{roles, Caller};
use crate::domain::money::Money;
use crate::domain::review::{AssignmentStatus, AwardOutcome, ReviewerCalibration, Shortfall};
use crate::domain::user::Role;
use crate::http::error::{ApiError, ApiResult, Problem};
use crate::http::extract::ValidJson;
use crate::http::pagination::{Page, PageRequest};
use crate::http::views::parse_text;
use crate::http::AppState;
use crate::service::review::{
    self as svc, scores_from_json, Adjustment, AssignMode, AwardPlan, Pair, RoundRanking,
};
use crate::storage::models::{AssignmentRow, AwardDecisionRow, AwardObjectionRow, PanelMemberRow};
use crate::storage::review::{self as store, AssignmentFilter};

use crate::http::views::stored_money as money;

/// Decimal as a JSON string ("12.5"); plain JSON numbers are refused like money, so no float
/// ever carries a score.
fn decimal_str<S: serde::Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&d.normalize())
}
fn opt_decimal_str<S: serde::Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.collect_str(&d.normalize()),
        None => s.serialize_none(),
    }
}

// ---------- panel ----------

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
#[post("/rounds/{id}/reviewers")]
pub async fn add_reviewer(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ValidJson<PanelMemberInput>,
) -> ApiResult<HttpResponse> {
    caller.require(roles::ADMIN)?;
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
#[get("/rounds/{id}/reviewers")]
pub async fn list_reviewers(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    caller.require(roles::ADMIN)?;
    let rows = svc::panel(&state.db, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(
        rows.into_iter()
            .map(PanelMemberView::from)
            .collect::<Vec<_>>(),
    ))
}

// ---------- assignments ----------

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
#[post("/rounds/{id}/assignments")]
pub async fn assign(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ValidJson<AssignInput>,
) -> ApiResult<HttpResponse> {
    caller.require(roles::ADMIN)?;
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
#[get("/assignments")]
pub async fn list_assignments(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<AssignmentListQuery>,
) -> ApiResult<HttpResponse> {
    caller.require(&[Role::Admin, Role::Reviewer])?;
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
#[get("/assignments/{id}")]
pub async fn get_assignment(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    caller.require(&[Role::Admin, Role::Reviewer])?;
    let reviewer = caller.is(Role::Reviewer).then_some(caller.user_id);
    let mut conn = state.db.conn().await?;
    let row = store::get_assignment(&mut conn, path.into_inner(), reviewer).await?;
    Ok(HttpResponse::Ok().json(AssignmentView::from_row(row)?))
}

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
#[put("/assignments/{id}/scores")]
pub async fn save_scores(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ValidJson<ScoresInput>,
) -> ApiResult<HttpResponse> {
    caller.require(roles::REVIEWER)?;
    let b = body.0;
    let row = svc::save_scores(&state.db, &caller, path.into_inner(), b.scores, b.comment).await?;
    Ok(HttpResponse::Ok().json(AssignmentView::from_row(row)?))
}

/// Submit the score sheet: every criterion scored; locked afterwards.
#[utoipa::path(post, path = "/api/v1/assignments/{id}/submit", tag = "review", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = AssignmentView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem, description = "rule_violation: score_missing")))]
#[post("/assignments/{id}/submit")]
pub async fn submit_scores(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    caller.require(roles::REVIEWER)?;
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
#[post("/assignments/{id}/conflict")]
pub async fn declare_conflict(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ValidJson<ReasonInput>,
) -> ApiResult<HttpResponse> {
    caller.require(roles::REVIEWER)?;
    let row = svc::declare_conflict(&state.db, &caller, path.into_inner(), body.0.reason).await?;
    Ok(HttpResponse::Ok().json(AssignmentView::from_row(row)?))
}

/// Reopen a submitted score sheet (admin; recorded with the reason).
#[utoipa::path(post, path = "/api/v1/assignments/{id}/reopen", tag = "review", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = ReasonInput,
    responses((status = 200, body = AssignmentView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/assignments/{id}/reopen")]
pub async fn reopen_scores(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ValidJson<ReasonInput>,
) -> ApiResult<HttpResponse> {
    caller.require(roles::ADMIN)?;
    let row = svc::reopen(&state.db, &caller, path.into_inner(), body.0.reason).await?;
    Ok(HttpResponse::Ok().json(AssignmentView::from_row(row)?))
}

// ---------- ranking ----------

/// The per-criterion means of one ranking row as a JSON object (`{"need_analysis": "12.5"}`),
/// written straight from the ranking's vectors: a round's ranking has tens of thousands of them.
#[derive(Debug)]
pub struct CriterionMeans<'a> {
    criteria: &'a [crate::domain::round::Criterion],
    means: &'a [Option<Decimal>],
}

impl Serialize for CriterionMeans<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        struct Text<'d>(&'d Decimal);
        impl Serialize for Text<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                decimal_str(self.0, s)
            }
        }
        let mut map = s.serialize_map(None)?;
        for (c, m) in self.criteria.iter().zip(self.means) {
            if let Some(m) = m {
                map.serialize_entry(&c.key, &Text(m))?;
            }
        }
        map.end()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RankingRowView<'a> {
    /// 1-based; null for incomplete applications.
    pub rank: Option<u32>,
    pub application_id: Uuid,
    pub title: &'a str,
    pub organization_id: Uuid,
    pub organization_name: &'a str,
    pub requested_grant: Money,
    /// Submitted, non-recused score sheets counted.
    pub score_count: usize,
    /// Mean of the reviewers' totals (highest and lowest dropped from 5 scores), half-up to 2 places.
    #[schema(value_type = Option<String>)]
    #[serde(serialize_with = "opt_decimal_str")]
    pub final_score: Option<Decimal>,
    /// The same over z-score-normalized totals, when the round normalizes.
    #[schema(value_type = Option<String>)]
    #[serde(serialize_with = "opt_decimal_str")]
    pub normalized_score: Option<Decimal>,
    /// Per-criterion mean of the scores given.
    #[schema(value_type = BTreeMap<String, String>)]
    pub criterion_means: CriterionMeans<'a>,
    /// Party-element points computed from facts (rule 5).
    #[schema(value_type = String)]
    #[serde(serialize_with = "decimal_str")]
    pub party_objective: Decimal,
    /// Mean of the reviewers' judged party-element points.
    #[schema(value_type = Option<String>)]
    #[serde(serialize_with = "opt_decimal_str")]
    pub party_judged: Option<Decimal>,
    #[schema(value_type = Option<String>)]
    #[serde(serialize_with = "opt_decimal_str")]
    pub party_element_score: Option<Decimal>,
    /// The organization's party-building assessment passed (wins ties).
    pub party_assessment_passed: bool,
    /// At or above the round's pass mark.
    pub passes_pass_mark: bool,
    pub submitted_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CalibrationView {
    pub reviewer_id: Uuid,
    pub score_count: usize,
    #[schema(value_type = String)]
    #[serde(serialize_with = "decimal_str")]
    pub mean: Decimal,
    /// Population standard deviation of the reviewer's totals.
    #[schema(value_type = String)]
    #[serde(serialize_with = "decimal_str")]
    pub spread: Decimal,
    /// Mean difference from the other totals on the same applications (negative: harsher).
    #[schema(value_type = String)]
    #[serde(serialize_with = "decimal_str")]
    pub deviation_from_panel: Decimal,
}

impl From<&ReviewerCalibration> for CalibrationView {
    fn from(c: &ReviewerCalibration) -> Self {
        Self {
            reviewer_id: c.reviewer_id,
            score_count: c.score_count,
            mean: c.mean,
            spread: c.spread,
            deviation_from_panel: c.deviation_from_panel,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RankingView<'a> {
    pub round_id: Uuid,
    #[schema(value_type = String)]
    #[serde(serialize_with = "decimal_str")]
    pub pass_mark: Decimal,
    pub min_reviewers: u32,
    /// Ranked by normalized scores (raw ones shown too).
    pub normalized: bool,
    pub ranked: Vec<RankingRowView<'a>>,
    /// Fewer submitted scores than the round's minimum: not ranked.
    pub incomplete: Vec<RankingRowView<'a>>,
    pub calibration: Vec<CalibrationView>,
}

fn ranking_view(round_id: Uuid, r: &RoundRanking) -> Result<RankingView<'_>, ApiError> {
    fn row<'a>(
        r: &'a RoundRanking,
        x: &'a crate::domain::review::RankRow,
    ) -> Result<RankingRowView<'a>, ApiError> {
        let info = &r.applications[&x.application_id];
        Ok(RankingRowView {
            rank: x.rank,
            application_id: x.application_id,
            title: &info.title,
            organization_id: info.organization_id,
            organization_name: &info.organization_name,
            requested_grant: money(info.requested_grant)?,
            score_count: x.score_count,
            final_score: x.final_score,
            normalized_score: x.normalized_score,
            criterion_means: CriterionMeans {
                criteria: &r.spec.rubric.criteria,
                means: &x.criterion_means,
            },
            party_objective: x.party_objective,
            party_judged: x.party_judged_mean,
            party_element_score: x.party_element_score,
            party_assessment_passed: x.assessment_passed,
            passes_pass_mark: x.passes_pass_mark,
            submitted_at: x.submitted_at,
        })
    }
    Ok(RankingView {
        round_id,
        pass_mark: r.spec.rules.pass_mark,
        min_reviewers: r.spec.rules.min_reviewers,
        normalized: r.ranking.normalized,
        ranked: r
            .ranking
            .ranked
            .iter()
            .map(|x| row(r, x))
            .collect::<Result<_, _>>()?,
        incomplete: r
            .ranking
            .incomplete
            .iter()
            .map(|x| row(r, x))
            .collect::<Result<_, _>>()?,
        calibration: r.ranking.calibration.iter().map(Into::into).collect(),
    })
}

/// The round's ranking with the score breakdown, both party-element parts and reviewer
/// calibration (admin).
#[utoipa::path(get, path = "/api/v1/rounds/{id}/ranking", tag = "review", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "round id")),
    responses((status = 200, body = RankingView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 503, body = Problem, description = "busy: too many expensive requests at once (`application.max_concurrent_expensive`)")))]
#[get("/rounds/{id}/ranking")]
pub async fn ranking(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    caller.require(roles::ADMIN)?;
    let _permit = state.expensive_permit()?;
    let id = path.into_inner();
    let r = svc::round_ranking(&state.db, id).await?;
    Ok(HttpResponse::Ok().json(ranking_view(id, &r)?))
}

// ---------- awards ----------

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
#[post("/rounds/{id}/awards/preview")]
pub async fn preview_awards(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ValidJson<AwardsInput>,
) -> ApiResult<HttpResponse> {
    caller.require(roles::ADMIN)?;
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
#[post("/rounds/{id}/awards")]
pub async fn publish_awards(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ValidJson<AwardsInput>,
) -> ApiResult<HttpResponse> {
    caller.require(roles::ADMIN)?;
    let id = path.into_inner();
    let (d, _) = svc::publish(&state.db, &caller, id, adjustments(body.0)).await?;
    Ok(HttpResponse::Ok().json(decision_view(&state, id, d).await?))
}

/// The round's award decision with its lines and objections (admin).
#[utoipa::path(get, path = "/api/v1/rounds/{id}/awards", tag = "awards", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "round id")),
    responses((status = 200, body = AwardDecisionView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/rounds/{id}/awards")]
pub async fn get_awards(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    caller.require(roles::ADMIN)?;
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
#[post("/rounds/{id}/awards/objections")]
pub async fn record_objection(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ValidJson<ObjectionInput>,
) -> ApiResult<HttpResponse> {
    caller.require(roles::ADMIN)?;
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
#[post("/rounds/{id}/awards/finalize")]
pub async fn finalize_awards(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    caller.require(roles::ADMIN)?;
    let id = path.into_inner();
    let d = svc::finalize(&state.db, &caller, id).await?;
    Ok(HttpResponse::Ok().json(decision_view(&state, id, d).await?))
}
