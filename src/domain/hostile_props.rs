//! Property tests of the pure rules over values at and far beyond the bounds of `bounds`:
//! `Decimal::MAX`, `Decimal::MIN`, 28 fraction digits, negatives, zero divisors. Whatever the
//! rules are fed, they answer (a value or a refusal) and never panic; within the bounds the
//! answers are the exact ones.

// Test code: an overflow here fails a test; it never serves a request.
#![allow(clippy::arithmetic_side_effects)]

use chrono::{NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::bounds::{self, DecimalBound};
use super::budget::{
    line_amount, summarize, validate_lines, BudgetCategory, BudgetLineInput, FundedBy,
};
use super::eligibility::{check_submission, SubmissionFacts};
use super::grant::{fits, remaining, split_tranches};
use super::money::Money;
use super::rating::{AssessmentResult, PartyBuildingStatus, Rating};
use super::review::{
    allocate, check_scores, rank, trimmed_mean, AwardCandidate, AwardOutcome, RankInput,
    ReviewInput,
};
use super::round::{
    validate_rubric, validate_tranches, Criterion, Milestone, PartyPointsTable, RoundKind,
    RoundRules, Rubric, TrancheSpec,
};

const ALL_BOUNDS: [DecimalBound; 8] = [
    bounds::MONEY,
    bounds::QUANTITY,
    bounds::RATIO,
    bounds::PERCENT,
    bounds::RUBRIC_POINTS,
    bounds::SCORE_STEP,
    bounds::PARTY_POINTS,
    bounds::EVALUATION_SCORE,
];

/// Any decimal, weighted towards the edges: the bounds and one step past them, the limits of
/// `Decimal`, the smallest fractions, and arbitrary bit patterns at any scale.
fn hostile() -> impl Strategy<Value = Decimal> {
    let step = Decimal::new(1, 2);
    let edges: Vec<Decimal> = ALL_BOUNDS
        .iter()
        .flat_map(|b| [b.min, b.max, b.max + step, b.min - step])
        .chain([
            Decimal::MAX,
            Decimal::MIN,
            Decimal::ZERO,
            Decimal::ONE,
            Decimal::NEGATIVE_ONE,
            Decimal::new(1, 28),
            Decimal::MAX / Decimal::TWO,
        ])
        .collect();
    prop_oneof![
        2 => proptest::sample::select(edges),
        1 => (any::<u32>(), any::<u32>(), any::<u32>(), any::<bool>(), 0u32..=28)
            .prop_map(|(lo, mid, hi, neg, scale)| Decimal::from_parts(lo, mid, hi, neg, scale)),
        1 => (0i64..100_000_000_000_000, 0u32..=4).prop_map(|(n, s)| Decimal::new(n, s)),
    ]
}

/// A decimal within `bound` (at its edges often).
fn within(bound: DecimalBound) -> impl Strategy<Value = Decimal> {
    let cents = bound.max * Decimal::ONE_HUNDRED;
    let top = i64::try_from(cents.mantissa() / 10i128.pow(cents.scale())).unwrap();
    prop_oneof![
        1 => Just(bound.max),
        3 => (0..=top).prop_map(|c| Decimal::new(c, 2)),
    ]
    .prop_filter("above an exclusive minimum", move |d| {
        bound.min_inclusive || *d > bound.min
    })
}

fn any_money() -> impl Strategy<Value = Money> {
    hostile().prop_filter_map("representable as Money", |d| Money::new(d.round_dp(2)).ok())
}

fn category() -> impl Strategy<Value = BudgetCategory> {
    proptest::sample::select(BudgetCategory::ALL.to_vec())
}

fn line(
    quantity: impl Strategy<Value = Decimal>,
    cost: impl Strategy<Value = Money>,
) -> impl Strategy<Value = BudgetLineInput> {
    (category(), any::<bool>(), quantity, cost).prop_map(
        |(category, grant, quantity, unit_cost)| BudgetLineInput {
            category,
            description: "x".into(),
            quantity,
            unit_cost,
            funded_by: if grant {
                FundedBy::Grant
            } else {
                FundedBy::SelfFunded
            },
        },
    )
}

fn candidates(reqs: &[(Decimal, Option<Decimal>, bool)]) -> Vec<AwardCandidate> {
    reqs.iter()
        .enumerate()
        .map(|(i, (requested, adjusted, pass))| AwardCandidate {
            application_id: Uuid::from_u128(i as u128),
            passes_pass_mark: *pass,
            requested: *requested,
            adjusted: *adjusted,
        })
        .collect()
}

fn facts() -> SubmissionFacts {
    SubmissionFacts {
        now: Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap(),
        today: NaiveDate::from_ymd_opt(2026, 5, 1).unwrap(),
        opens_at: Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap(),
        closes_at: Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap(),
        grant_min: Decimal::ZERO,
        grant_max: Decimal::MAX,
        project_period: None,
        other_active_applications: u32::MAX,
        budget: Default::default(),
        budget_lines: 1,
        requested_grant: Decimal::ZERO,
        co_funding: Decimal::ZERO,
        start_date: NaiveDate::from_ymd_opt(2026, 7, 1),
        end_date: NaiveDate::from_ymd_opt(2027, 6, 30),
        rating: Some(Rating::A5),
        rating_valid_until: NaiveDate::from_ymd_opt(2099, 1, 1),
        registration_date: NaiveDate::from_ymd_opt(2000, 1, 1),
        blacklisted_until: None,
        party_assessment: AssessmentResult::Passed,
    }
}

fn rubric_of(maxima: &[Decimal], step: Decimal) -> Rubric {
    Rubric {
        total: maxima
            .iter()
            .fold(Decimal::ZERO, |a, m| a.saturating_add(*m)),
        score_step: step,
        criteria: maxima
            .iter()
            .enumerate()
            .map(|(i, m)| Criterion {
                key: format!("c{i}"),
                name: format!("C{i}"),
                max: *m,
                party_element: i == 0,
            })
            .collect(),
    }
}

fn table(v: &[Decimal; 8]) -> PartyPointsTable {
    PartyPointsTable {
        independent_branch: v[0],
        joint_branch: v[1],
        instructor_only: v[2],
        none: v[3],
        party_member_on_team: v[4],
        party_activity_planned: v[5],
        red_project: v[6],
        max_objective: v[7],
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn budgets_beyond_the_bounds_are_refused_never_a_panic(
        lines in proptest::collection::vec(line(hostile(), any_money()), 0..30),
    ) {
        let v = validate_lines(&lines);
        for (i, l) in lines.iter().enumerate() {
            // The value, not its text: 533253.410 is the quantity 533253.41, within the bound.
            if bounds::QUANTITY.parse(&l.quantity.normalize().to_string()).is_err() {
                let field = format!("lines[{i}].quantity");
                prop_assert!(v.iter().any(|x| x.field.as_deref() == Some(field.as_str())), "{field} not refused: {v:?}");
            }
        }
        let amounts: Vec<_> = lines.iter().map(|l| line_amount(l.quantity, l.unit_cost)).collect();
        let s = summarize(lines.iter().zip(&amounts).map(|(l, a)| (l.category, l.funded_by, a.unwrap_or(Decimal::MAX))));
        if v.is_empty() {
            // Accepted: every amount fits, and the total within the money bound.
            prop_assert!(amounts.iter().all(Option::is_some));
            prop_assert!(s.total <= bounds::MONEY.max);
            prop_assert_eq!(s.total, s.grant_funded + s.self_funded);
            prop_assert!(s.personnel <= s.total);
        }
    }

    #[test]
    fn budgets_within_the_bounds_never_overflow(
        lines in proptest::collection::vec(line(within(bounds::QUANTITY), within(bounds::MONEY).prop_map(|d| Money::new(d).unwrap())), 1..200),
    ) {
        // Within the bounds of each value, the product is exact (below 10^19).
        for l in &lines {
            prop_assert!(line_amount(l.quantity, l.unit_cost).is_some());
        }
        let _ = validate_lines(&lines);
    }

    #[test]
    fn eligibility_answers_whatever_the_figures(
        total in hostile(), personnel in hostile(), grant in hostile(), own in hostile(),
        requested in hostile(), co in hostile(), ratio in hostile(), co_ratio in hostile(),
        quota in any::<u32>(), age in any::<u32>(),
    ) {
        let mut f = facts();
        f.budget.total = total;
        f.budget.personnel = personnel;
        f.budget.grant_funded = grant;
        f.budget.self_funded = own;
        f.requested_grant = requested;
        f.co_funding = co;
        let rules = RoundRules {
            max_personnel_ratio: ratio,
            min_co_funding_ratio: co_ratio,
            max_applications_per_organization: quota,
            min_organization_age_months: age,
            ..RoundRules::defaults_for(RoundKind::VenturePhilanthropy)
        };
        let v = check_submission(&f, &rules);
        // other_active_applications is u32::MAX: the quota is always breached, never overflowed.
        prop_assert!(v.iter().any(|x| x.rule == "application_quota"));
        let breached = v.iter().any(|x| x.rule == "personnel_ratio");
        if let Some(cap) = ratio.checked_mul(total) {
            prop_assert_eq!(breached, personnel > cap);
        }
        let mut out = Vec::new();
        rules.validate(&mut out);
        if bounds::RATIO.parse(&ratio.to_string()).is_err() || ratio.is_zero() {
            prop_assert!(out.iter().any(|x| x.field.as_deref() == Some("rules.max_personnel_ratio")));
        }
        if quota == 0 || quota > 100 {
            prop_assert!(out.iter().any(|x| x.field.as_deref() == Some("rules.max_applications_per_organization")));
        }
    }

    #[test]
    fn party_points_are_capped_whatever_the_table(
        values in proptest::array::uniform8(hostile()),
        status in proptest::sample::select(PartyBuildingStatus::ALL.to_vec()),
        member in any::<bool>(), activities in any::<u32>(), red in any::<bool>(),
    ) {
        let t = table(&values);
        let p = t.objective_points(status, member, activities, red);
        prop_assert!(p <= t.max_objective);
    }

    #[test]
    fn party_points_within_the_bounds_are_exact(
        values in proptest::array::uniform8(within(bounds::PARTY_POINTS)),
        member in any::<bool>(), activities in 0u32..3, red in any::<bool>(),
    ) {
        let t = table(&values);
        let p = t.objective_points(PartyBuildingStatus::JointBranch, member, activities, red);
        let mut exact = t.joint_branch;
        if member { exact += t.party_member_on_team; }
        if activities > 0 { exact += t.party_activity_planned; }
        if red { exact += t.red_project; }
        prop_assert_eq!(p, exact.min(t.max_objective));
    }

    #[test]
    fn scoring_answers_whatever_the_rubric_and_scores(
        maxima in proptest::collection::vec(hostile(), 1..8),
        step in hostile(),
        scores in proptest::collection::vec(hostile(), 0..8),
        objective in hostile(),
    ) {
        let r = rubric_of(&maxima, step);
        let points = PartyPointsTable { max_objective: objective, ..Default::default() };
        let mut out = Vec::new();
        validate_rubric(&r, &points, &mut out);
        for (i, m) in maxima.iter().enumerate() {
            if *m <= Decimal::ZERO {
                let field = format!("rubric.criteria[{i}].max");
                prop_assert!(out.iter().any(|x| x.field.as_deref() == Some(field.as_str())));
            }
        }
        let sheet = scores.iter().enumerate().map(|(i, s)| (format!("c{i}"), *s)).collect();
        let v = check_scores(&r, &points, &sheet, true);
        for (i, s) in scores.iter().enumerate().take(maxima.len()) {
            if *s < Decimal::ZERO {
                let field = format!("scores.c{i}");
                prop_assert!(v.iter().any(|x| x.rule == "score_range" && x.field.as_deref() == Some(field.as_str())));
            }
        }
        let _ = trimmed_mean(&scores);
    }

    #[test]
    fn trimmed_mean_within_the_bounds_is_exact(
        totals in proptest::collection::vec(within(bounds::RUBRIC_POINTS), 1..40),
    ) {
        let m = trimmed_mean(&totals).expect("within the bounds the mean exists");
        let lo = totals.iter().min().unwrap();
        let hi = totals.iter().max().unwrap();
        prop_assert!(m >= *lo && m <= *hi);
    }

    #[test]
    fn ranking_and_normalization_answer_whatever_the_scores(
        apps in proptest::collection::vec(
            (hostile(), proptest::collection::vec(proptest::collection::vec(proptest::option::of(hostile()), 0..3), 0..6)),
            0..6),
        normalize in any::<bool>(),
        min_reviewers in 0u32..4,
    ) {
        let rubric = rubric_of(&[Decimal::TEN, Decimal::TEN, Decimal::TEN], Decimal::ONE);
        let inputs: Vec<RankInput> = apps.iter().enumerate().map(|(i, (objective, reviews))| RankInput {
            application_id: Uuid::from_u128(i as u128),
            submitted_at: Utc.timestamp_opt(1_700_000_000 + i as i64, 0).unwrap(),
            assessment_passed: i % 2 == 0,
            party_objective: *objective,
            reviews: reviews.iter().enumerate().map(|(j, scores)| ReviewInput {
                reviewer_id: Uuid::from_u128(100 + j as u128),
                scores: scores.clone(),
            }).collect(),
        }).collect();
        let rules = RoundRules {
            score_normalization: normalize,
            min_reviewers,
            ..RoundRules::defaults_for(RoundKind::VenturePhilanthropy)
        };
        let ranking = rank(&inputs, &rubric, &rules);
        prop_assert_eq!(ranking.ranked.len() + ranking.incomplete.len(), inputs.len());
    }

    #[test]
    fn tranches_add_up_whatever_the_schedule(
        award in any_money(),
        percents in proptest::collection::vec(hostile(), 1..=3),
    ) {
        let schedule: Vec<TrancheSpec> = percents.iter().zip([Milestone::AgreementSigned, Milestone::MidTermEvaluation, Milestone::FinalEvaluation])
            .map(|(p, m)| TrancheSpec { percent: *p, milestone: m }).collect();
        let mut out = Vec::new();
        validate_tranches(&schedule, &mut out);
        if percents.iter().any(|p| bounds::PERCENT.parse(&p.to_string()).is_err()) {
            prop_assert!(!out.is_empty(), "{percents:?} accepted");
        }
        let parts = split_tranches(award, &schedule);
        prop_assert_eq!(parts.len(), schedule.len());
        let sum: Decimal = parts.iter().map(|p| p.amount()).sum();
        prop_assert_eq!(sum, award.amount());
    }

    #[test]
    fn payout_limits_answer_for_any_amounts(held in any_money(), limit in any_money(), new in any_money()) {
        let ok = fits(held, limit, new);
        prop_assert_eq!(ok, held.amount() + new.amount() <= limit.amount());
        prop_assert!(remaining(held, limit).amount() >= Decimal::ZERO);
    }

    #[test]
    fn allocation_answers_whatever_the_requests(
        reqs in proptest::collection::vec((hostile(), proptest::option::of(hostile()), any::<bool>()), 0..12),
        pool in hostile(),
    ) {
        let a = allocate(&candidates(&reqs), &[], pool);
        // Beyond the bounds, 28 significant digits cannot hold every difference exactly; what
        // holds is that the walk answers and funds only positive amounts.
        prop_assert!(a.lines.iter().filter(|l| l.outcome == AwardOutcome::Funded).all(|l| l.amount > Decimal::ZERO));
    }

    #[test]
    fn allocation_within_the_bounds_is_exact_and_within_the_pool(
        reqs in proptest::collection::vec((within(bounds::MONEY), proptest::option::of(within(bounds::MONEY)), any::<bool>()), 0..40),
        pool in within(bounds::MONEY),
    ) {
        let a = allocate(&candidates(&reqs), &[], pool);
        let funded: Decimal = a.lines.iter().filter(|l| l.outcome == AwardOutcome::Funded).map(|l| l.amount).sum();
        prop_assert!(funded <= pool);
        prop_assert_eq!(funded, a.total_awarded);
        prop_assert_eq!(a.total_awarded + a.remaining_pool, pool);
    }

    #[test]
    fn parsed_rounds_hold_only_bounded_values(texts in proptest::collection::vec(
        prop_oneof![
            hostile().prop_map(|d| d.to_string()),
            "[ +\\-0-9.eE_]{0,32}",
        ], 8)) {
        let json = serde_json::json!({
            "independent_branch": texts[0], "joint_branch": texts[1], "instructor_only": texts[2],
            "none": texts[3], "party_member_on_team": texts[4], "party_activity_planned": texts[5],
            "red_project": texts[6], "max_objective": texts[7],
        });
        if let Ok(t) = serde_json::from_value::<PartyPointsTable>(json) {
            for v in [t.independent_branch, t.joint_branch, t.instructor_only, t.none,
                      t.party_member_on_team, t.party_activity_planned, t.red_project, t.max_objective] {
                prop_assert!(v >= Decimal::ZERO && v <= bounds::PARTY_POINTS.max);
            }
        }
        let c = serde_json::json!({"key": "a", "name": "A", "max": texts[0]});
        if let Ok(c) = serde_json::from_value::<Criterion>(c) {
            prop_assert!(c.max <= bounds::RUBRIC_POINTS.max);
        }
    }
}
