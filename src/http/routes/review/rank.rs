//! `/rounds/{id}/ranking`: the ranking written straight from the computed vectors.

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::roles;
use crate::domain::money::Money;
use crate::domain::review::ReviewerCalibration;
use crate::http::error::{ApiError, ApiResult, Problem};
use crate::http::guard::RequireRole;
use crate::http::AppState;
use crate::service::review::{self as svc, RoundRanking};

use super::{decimal_str, opt_decimal_str};
use crate::http::views::stored_money as money;

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
#[get("/rounds/{id}/ranking", wrap = "RequireRole(roles::ADMIN)")]
pub async fn ranking(state: web::Data<AppState>, path: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let _permit = state.expensive_permit()?;
    let id = path.into_inner();
    let r = svc::round_ranking(&state.db, id).await?;
    Ok(HttpResponse::Ok().json(ranking_view(id, &r)?))
}
