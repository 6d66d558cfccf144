//! Funding rounds: kinds, rules, rubric, party-element points table and tranche schedule,
//! with the defaults of domain.md and validation that reports every problem at once.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::arith::saturating_sum;
use super::bounds;
use super::rating::{PartyBuildingStatus, Rating};
use super::violation::Violation;

string_enum! {
    pub enum RoundKind {
        VenturePhilanthropy = "venture_philanthropy",
        GovernmentPurchase = "government_purchase",
        StartupSupport = "startup_support",
    }
}

/// The eligibility rules of a round (domain.md rules 1, 2, 3, 6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoundRules {
    /// Submitted-or-later applications one organization may have in the round (rule 1).
    #[schema(minimum = 1, maximum = 100)]
    pub max_applications_per_organization: u32,
    /// Personnel lines / budget total, at most (rule 2), e.g. "0.50".
    #[serde(deserialize_with = "super::bounds::ratio")]
    #[schema(schema_with = super::bounds::ratio_schema)]
    pub max_personnel_ratio: Decimal,
    /// Lowest rating accepted, valid on the submission date (rule 3).
    pub min_rating: Option<Rating>,
    /// Months since registration (rule 6).
    #[schema(maximum = 1200)]
    pub min_organization_age_months: u32,
    /// Self-raised co-funding / budget total, at least.
    #[serde(deserialize_with = "super::bounds::ratio")]
    #[schema(schema_with = super::bounds::ratio_schema)]
    pub min_co_funding_ratio: Decimal,
    /// The party-building assessment must have passed (rule 6, seed 004: 考核合格).
    pub require_passed_assessment: bool,
    /// Reviewers per application.
    #[schema(minimum = 1, maximum = 50)]
    pub min_reviewers: u32,
    /// Final score needed for an award.
    #[serde(deserialize_with = "super::bounds::rubric_points")]
    #[schema(schema_with = super::bounds::rubric_points_schema)]
    pub pass_mark: Decimal,
    /// Rank by z-score-normalized reviewer totals (raw totals are shown too).
    #[serde(default)]
    pub score_normalization: bool,
    /// Length of the public notice (公示) of an award decision, in days.
    #[serde(default = "default_public_notice_days")]
    #[schema(maximum = 60)]
    pub public_notice_days: u32,
    /// Mid-term and final evaluation scores at or above this pass.
    #[serde(
        default = "default_evaluation_pass_mark",
        deserialize_with = "super::bounds::evaluation_score"
    )]
    #[schema(schema_with = super::bounds::evaluation_score_schema)]
    pub evaluation_pass_mark: Decimal,
    /// Years an organization is blacklisted after a failed evaluation, by default.
    #[serde(default = "default_blacklist_years")]
    #[schema(maximum = 10)]
    pub blacklist_years: u32,
    /// A category may be overspent by this share of its budget before it is flagged (预算调整):
    /// "0.10" flags 10.01% over, not 10.00%.
    #[serde(
        default = "default_budget_adjustment_tolerance",
        deserialize_with = "super::bounds::ratio"
    )]
    #[schema(schema_with = super::bounds::ratio_schema)]
    pub budget_adjustment_tolerance: Decimal,
    /// The mid-term and final evaluations are recorded only after the grantee submitted the
    /// financial report of that period.
    #[serde(default)]
    pub require_financial_report: bool,
    /// A budget adjustment proposed by an admin is decided by another admin.
    #[serde(default = "default_true")]
    pub adjustment_needs_other_admin: bool,
}

fn default_budget_adjustment_tolerance() -> Decimal {
    dec!(0.10)
}
fn default_true() -> bool {
    true
}

/// A round can let one organization hold at most this many applications.
pub const MAX_APPLICATIONS_PER_ORGANIZATION: u32 = 100;
/// The longest registration age a round can ask for: 100 years.
pub const MAX_ORGANIZATION_AGE_MONTHS: u32 = 1200;
/// Criteria in a rubric, at most.
pub const MAX_CRITERIA: usize = 50;

fn default_public_notice_days() -> u32 {
    7
}
fn default_evaluation_pass_mark() -> Decimal {
    dec!(60)
}
fn default_blacklist_years() -> u32 {
    3
}

impl RoundRules {
    pub fn defaults_for(kind: RoundKind) -> Self {
        Self {
            max_applications_per_organization: 3,
            max_personnel_ratio: dec!(0.50),
            min_rating: (kind == RoundKind::GovernmentPurchase).then_some(Rating::A3),
            min_organization_age_months: if kind == RoundKind::StartupSupport {
                12
            } else {
                0
            },
            min_co_funding_ratio: Decimal::ZERO,
            require_passed_assessment: kind == RoundKind::StartupSupport,
            min_reviewers: 3,
            pass_mark: dec!(60),
            score_normalization: false,
            public_notice_days: default_public_notice_days(),
            evaluation_pass_mark: default_evaluation_pass_mark(),
            blacklist_years: default_blacklist_years(),
            budget_adjustment_tolerance: default_budget_adjustment_tolerance(),
            require_financial_report: false,
            adjustment_needs_other_admin: true,
        }
    }

    pub fn validate(&self, out: &mut Vec<Violation>) {
        if !(1..=MAX_APPLICATIONS_PER_ORGANIZATION)
            .contains(&self.max_applications_per_organization)
        {
            out.push(
                Violation::new(
                    "range",
                    "max_applications_per_organization is between 1 and 100",
                )
                .limit("1..100")
                .actual(self.max_applications_per_organization)
                .field("rules.max_applications_per_organization"),
            );
        }
        if self.min_organization_age_months > MAX_ORGANIZATION_AGE_MONTHS {
            out.push(
                Violation::new(
                    "range",
                    "min_organization_age_months is at most 1200 (100 years)",
                )
                .limit("0..1200")
                .actual(self.min_organization_age_months)
                .field("rules.min_organization_age_months"),
            );
        }
        // Parsing already holds these to `bounds`; this also covers rules built in code.
        let ratio_ok = |r: Decimal| bounds::RATIO.contains(r);
        if !ratio_ok(self.max_personnel_ratio) || self.max_personnel_ratio.is_zero() {
            out.push(
                Violation::new(
                    "range",
                    "max_personnel_ratio is above 0 and at most 1, to 4 fraction digits",
                )
                .limit("(0, 1]")
                .actual(self.max_personnel_ratio)
                .field("rules.max_personnel_ratio"),
            );
        }
        if !ratio_ok(self.min_co_funding_ratio) {
            out.push(
                Violation::new(
                    "range",
                    "min_co_funding_ratio is between 0 and 1, to 4 fraction digits",
                )
                .limit("[0, 1]")
                .actual(self.min_co_funding_ratio)
                .field("rules.min_co_funding_ratio"),
            );
        }
        if self.min_reviewers == 0 || self.min_reviewers > 50 {
            out.push(
                Violation::new("range", "min_reviewers is between 1 and 50")
                    .limit("1..50")
                    .actual(self.min_reviewers)
                    .field("rules.min_reviewers"),
            );
        }
        if self.public_notice_days > 60 {
            out.push(
                Violation::new("range", "public_notice_days is at most 60")
                    .limit("0..60")
                    .actual(self.public_notice_days)
                    .field("rules.public_notice_days"),
            );
        }
        if !bounds::EVALUATION_SCORE.contains(self.evaluation_pass_mark) {
            out.push(
                Violation::new("range", "evaluation_pass_mark is between 0 and 100")
                    .limit("0..100")
                    .actual(self.evaluation_pass_mark)
                    .field("rules.evaluation_pass_mark"),
            );
        }
        if self.blacklist_years > 10 {
            out.push(
                Violation::new("range", "blacklist_years is at most 10")
                    .limit("0..10")
                    .actual(self.blacklist_years)
                    .field("rules.blacklist_years"),
            );
        }
        if !bounds::RATIO.contains(self.budget_adjustment_tolerance) {
            out.push(
                Violation::new(
                    "range",
                    "budget_adjustment_tolerance is between 0 and 1, to 4 fraction digits",
                )
                .limit("[0, 1]")
                .actual(self.budget_adjustment_tolerance)
                .field("rules.budget_adjustment_tolerance"),
            );
        }
        if !bounds::RUBRIC_POINTS.contains(self.pass_mark) {
            out.push(
                Violation::new("range", "pass_mark is between 0 and 1000")
                    .limit("0..1000")
                    .actual(self.pass_mark)
                    .field("rules.pass_mark"),
            );
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    /// Stable key, e.g. `need_analysis`.
    pub key: String,
    pub name: String,
    #[serde(deserialize_with = "super::bounds::rubric_points")]
    #[schema(schema_with = super::bounds::rubric_points_schema)]
    pub max: Decimal,
    /// The one party-element criterion (rule 5).
    #[serde(default)]
    pub party_element: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rubric {
    #[serde(deserialize_with = "super::bounds::rubric_points")]
    #[schema(schema_with = super::bounds::rubric_points_schema)]
    pub total: Decimal,
    /// Scores are multiples of this step.
    #[serde(deserialize_with = "super::bounds::score_step")]
    #[schema(schema_with = super::bounds::score_step_schema)]
    pub score_step: Decimal,
    pub criteria: Vec<Criterion>,
}

impl Default for Rubric {
    fn default() -> Self {
        let c = |key: &str, name: &str, max: Decimal, party: bool| Criterion {
            key: key.into(),
            name: name.into(),
            max,
            party_element: party,
        };
        Self {
            total: dec!(100),
            score_step: dec!(0.5),
            criteria: vec![
                c("need_analysis", "需求分析 Need analysis", dec!(15), false),
                c("project_design", "项目设计 Project design", dec!(20), false),
                c(
                    "capacity",
                    "执行能力 Capacity and feasibility",
                    dec!(15),
                    false,
                ),
                c(
                    "budget",
                    "预算合理性 Budget reasonableness",
                    dec!(15),
                    false,
                ),
                c(
                    "outcomes",
                    "预期成效 Expected outcomes and sustainability",
                    dec!(15),
                    false,
                ),
                c("party_elements", "党建元素 Party elements", dec!(20), true),
            ],
        }
    }
}

/// Objective party-element points (domain.md defaults; at most `max_objective`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartyPointsTable {
    #[serde(deserialize_with = "super::bounds::party_points")]
    #[schema(schema_with = super::bounds::party_points_schema)]
    pub independent_branch: Decimal,
    #[serde(deserialize_with = "super::bounds::party_points")]
    #[schema(schema_with = super::bounds::party_points_schema)]
    pub joint_branch: Decimal,
    #[serde(deserialize_with = "super::bounds::party_points")]
    #[schema(schema_with = super::bounds::party_points_schema)]
    pub instructor_only: Decimal,
    #[serde(deserialize_with = "super::bounds::party_points")]
    #[schema(schema_with = super::bounds::party_points_schema)]
    pub none: Decimal,
    #[serde(deserialize_with = "super::bounds::party_points")]
    #[schema(schema_with = super::bounds::party_points_schema)]
    pub party_member_on_team: Decimal,
    #[serde(deserialize_with = "super::bounds::party_points")]
    #[schema(schema_with = super::bounds::party_points_schema)]
    pub party_activity_planned: Decimal,
    #[serde(deserialize_with = "super::bounds::party_points")]
    #[schema(schema_with = super::bounds::party_points_schema)]
    pub red_project: Decimal,
    #[serde(deserialize_with = "super::bounds::party_points")]
    #[schema(schema_with = super::bounds::party_points_schema)]
    pub max_objective: Decimal,
}

impl Default for PartyPointsTable {
    fn default() -> Self {
        Self {
            independent_branch: dec!(5),
            joint_branch: dec!(4),
            instructor_only: dec!(2),
            none: dec!(0),
            party_member_on_team: dec!(2),
            party_activity_planned: dec!(2),
            red_project: dec!(1),
            max_objective: dec!(10),
        }
    }
}

impl PartyPointsTable {
    /// The objective part of the party-element score, from facts, capped (rule 5).
    pub fn objective_points(
        &self,
        status: PartyBuildingStatus,
        party_member_on_team: bool,
        party_activities: u32,
        red_project: bool,
    ) -> Decimal {
        let base = match status {
            PartyBuildingStatus::IndependentBranch => self.independent_branch,
            PartyBuildingStatus::JointBranch => self.joint_branch,
            PartyBuildingStatus::InstructorOnly => self.instructor_only,
            PartyBuildingStatus::None => self.none,
        };
        let extras = [
            (party_member_on_team, self.party_member_on_team),
            (party_activities > 0, self.party_activity_planned),
            (red_project, self.red_project),
        ];
        // Saturating: the result is capped at `max_objective` anyway, so a table past the
        // bounds (entries above `bounds::PARTY_POINTS`, built in code) still cannot overflow.
        let total = saturating_sum(
            std::iter::once(base).chain(extras.iter().filter(|(on, _)| *on).map(|(_, p)| *p)),
        );
        total.min(self.max_objective)
    }
}

string_enum! {
    /// What releases a tranche.
    pub enum Milestone {
        AgreementSigned = "agreement_signed",
        MidTermEvaluation = "mid_term_evaluation",
        FinalEvaluation = "final_evaluation",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrancheSpec {
    #[serde(deserialize_with = "super::bounds::percent")]
    #[schema(schema_with = super::bounds::percent_schema)]
    pub percent: Decimal,
    pub milestone: Milestone,
}

pub fn default_tranches() -> Vec<TrancheSpec> {
    vec![
        TrancheSpec {
            percent: dec!(50),
            milestone: Milestone::AgreementSigned,
        },
        TrancheSpec {
            percent: dec!(30),
            milestone: Milestone::MidTermEvaluation,
        },
        TrancheSpec {
            percent: dec!(20),
            milestone: Milestone::FinalEvaluation,
        },
    ]
}

pub fn validate_rubric(r: &Rubric, points: &PartyPointsTable, out: &mut Vec<Violation>) {
    if r.criteria.len() > MAX_CRITERIA {
        out.push(
            Violation::new("range", "a rubric has at most 50 criteria")
                .limit(MAX_CRITERIA)
                .actual(r.criteria.len())
                .field("rubric.criteria"),
        );
    }
    // Saturating: a sum past Decimal::MAX differs from any total, so it is refused all the same.
    let sum = saturating_sum(r.criteria.iter().map(|c| c.max));
    if sum != r.total {
        out.push(
            Violation::new(
                "rubric_total",
                "criteria maxima must add up to the rubric total",
            )
            .limit(r.total)
            .actual(sum)
            .field("rubric.criteria"),
        );
    }
    let party: Vec<&Criterion> = r.criteria.iter().filter(|c| c.party_element).collect();
    if party.len() != 1 {
        out.push(
            Violation::new(
                "rubric_party_element",
                "the rubric has exactly one party-element criterion (rule 5)",
            )
            .limit(1)
            .actual(party.len())
            .field("rubric.criteria"),
        );
    }
    if let Some(p) = party.first() {
        if p.max < points.max_objective {
            out.push(
                Violation::new(
                    "rubric_party_element",
                    "the party-element criterion's maximum must hold the objective points",
                )
                .limit(format!(">= {}", points.max_objective))
                .actual(p.max)
                .field("rubric.criteria"),
            );
        }
    }
    let mut keys = std::collections::HashSet::new();
    for (i, c) in r.criteria.iter().enumerate() {
        if c.key.trim().is_empty() || !keys.insert(c.key.as_str()) {
            out.push(
                Violation::new("rubric_key", "criterion keys are non-empty and unique")
                    .actual(&c.key)
                    .field(format!("rubric.criteria[{i}].key")),
            );
        }
        if c.max <= Decimal::ZERO || !bounds::RUBRIC_POINTS.contains(c.max) {
            out.push(
                Violation::new("range", "a criterion's maximum is above 0 and at most 1000")
                    .limit("(0, 1000]")
                    .actual(c.max)
                    .field(format!("rubric.criteria[{i}].max")),
            );
        }
    }
    if r.score_step <= Decimal::ZERO {
        out.push(
            Violation::new("range", "score_step is above 0")
                .limit("> 0")
                .actual(r.score_step)
                .field("rubric.score_step"),
        );
    }
    if points.max_objective < Decimal::ZERO {
        out.push(
            Violation::new("range", "max_objective cannot be negative")
                .limit(">= 0")
                .actual(points.max_objective)
                .field("party_points.max_objective"),
        );
    }
}

pub fn validate_tranches(t: &[TrancheSpec], out: &mut Vec<Violation>) {
    let sum = saturating_sum(t.iter().map(|s| s.percent));
    if sum != dec!(100) {
        out.push(
            Violation::new("tranche_total", "tranche percentages add up to 100")
                .limit(100)
                .actual(sum)
                .field("tranche_schedule"),
        );
    }
    for (i, s) in t.iter().enumerate() {
        if !bounds::PERCENT.contains(s.percent) {
            out.push(
                Violation::new(
                    "range",
                    "a tranche percentage is above 0 and at most 100, to 2 fraction digits",
                )
                .limit(bounds::PERCENT.range())
                .actual(s.percent)
                .field(format!("tranche_schedule[{i}].percent")),
            );
        }
    }
    if t.windows(2).any(|w| w[0].milestone >= w[1].milestone) {
        out.push(
            Violation::new(
                "tranche_order",
                "tranches follow the milestones in order, each at most once",
            )
            .field("tranche_schedule"),
        );
    }
}

#[cfg(test)]
// Test code: an overflow here fails a test; it never serves a request.
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_follow_the_kind() {
        let mut v = vec![];
        validate_rubric(&Rubric::default(), &PartyPointsTable::default(), &mut v);
        validate_tranches(&default_tranches(), &mut v);
        RoundRules::defaults_for(RoundKind::VenturePhilanthropy).validate(&mut v);
        assert!(v.is_empty(), "{v:?}");
        assert_eq!(
            RoundRules::defaults_for(RoundKind::GovernmentPurchase).min_rating,
            Some(Rating::A3)
        );
        assert_eq!(
            RoundRules::defaults_for(RoundKind::StartupSupport).min_organization_age_months,
            12
        );
    }

    #[test]
    fn rubric_and_tranche_errors_are_all_reported() {
        let mut r = Rubric::default();
        r.criteria[5].party_element = false;
        r.criteria[0].max = dec!(16);
        let mut v = vec![];
        validate_rubric(&r, &PartyPointsTable::default(), &mut v);
        let rules: Vec<_> = v.iter().map(|x| x.rule.as_str()).collect();
        assert!(
            rules.contains(&"rubric_total") && rules.contains(&"rubric_party_element"),
            "{rules:?}"
        );
        let mut v = vec![];
        let mut t = default_tranches();
        t[2].percent = dec!(19.99);
        validate_tranches(&t, &mut v);
        assert_eq!(v[0].actual.as_deref(), Some("99.99"));
    }

    #[test]
    fn objective_points_follow_the_table_and_cap() {
        let t = PartyPointsTable::default();
        assert_eq!(
            t.objective_points(PartyBuildingStatus::IndependentBranch, true, 2, true),
            dec!(10)
        );
        assert_eq!(
            t.objective_points(PartyBuildingStatus::JointBranch, true, 1, true),
            dec!(9)
        );
        assert_eq!(
            t.objective_points(PartyBuildingStatus::None, false, 0, true),
            dec!(1)
        );
        let mut small = t.clone();
        small.max_objective = dec!(6);
        assert_eq!(
            small.objective_points(PartyBuildingStatus::IndependentBranch, true, 1, false),
            dec!(6)
        );
    }
}
