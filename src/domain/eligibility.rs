//! The submission rules (domain.md rules 1, 2, 3, 6 and the round's window), as one pure
//! function over plain facts that lists every breach.

use chrono::{DateTime, Months, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::budget::BudgetSummary;
use super::rating::{AssessmentResult, Rating};
use super::round::RoundRules;
use super::violation::Violation;

#[derive(Debug, Clone)]
pub struct SubmissionFacts {
    pub now: DateTime<Utc>,
    pub today: NaiveDate,
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    pub grant_min: Decimal,
    pub grant_max: Decimal,
    pub project_period: Option<(Option<NaiveDate>, Option<NaiveDate>)>,
    /// Submitted-or-later applications of the organization in the round, this one excluded.
    pub other_active_applications: u32,
    pub budget: BudgetSummary,
    pub budget_lines: usize,
    pub requested_grant: Decimal,
    pub co_funding: Decimal,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub rating: Option<Rating>,
    pub rating_valid_until: Option<NaiveDate>,
    pub registration_date: Option<NaiveDate>,
    pub blacklisted_until: Option<NaiveDate>,
    pub party_assessment: AssessmentResult,
}

/// A share as a percentage with two decimals, rounded in `strategy`'s direction so that a
/// breach never prints as equal to its limit (50.004% over a 50% cap shows "50.01%").
fn pct_rounded(part: Decimal, total: Decimal, strategy: rust_decimal::RoundingStrategy) -> String {
    if total.is_zero() {
        return "n/a".into();
    }
    let Some(share) = part
        .checked_mul(Decimal::ONE_HUNDRED)
        .and_then(|p| p.checked_div(total))
    else {
        return "n/a".into();
    };
    let mut share = share.round_dp_with_strategy(2, strategy);
    share.rescale(2);
    format!("{share}%")
}

fn pct(part: Decimal, total: Decimal) -> String {
    pct_rounded(
        part,
        total,
        rust_decimal::RoundingStrategy::MidpointAwayFromZero,
    )
}

pub fn check_submission(f: &SubmissionFacts, rules: &RoundRules) -> Vec<Violation> {
    let mut v = Vec::new();
    if !(f.opens_at <= f.now && f.now < f.closes_at) {
        v.push(
            Violation::new(
                "window_open",
                "the round accepts submissions only inside its application window",
            )
            .limit(format!(
                "{} .. {}",
                f.opens_at.to_rfc3339(),
                f.closes_at.to_rfc3339()
            ))
            .actual(f.now.to_rfc3339()),
        );
    }
    // In u64, so the count plus this one is exact for any u32.
    let would_be = u64::from(f.other_active_applications).saturating_add(1);
    if would_be > u64::from(rules.max_applications_per_organization) {
        v.push(
            Violation::new(
                "application_quota",
                format!(
                    "an organization may have at most {} applications in this round",
                    rules.max_applications_per_organization
                ),
            )
            .limit(rules.max_applications_per_organization)
            .actual(would_be),
        );
    }
    if f.budget_lines == 0 {
        v.push(
            Violation::new("budget_not_empty", "the budget has no lines")
                .limit(">= 1 line")
                .actual(0)
                .field("budget"),
        );
    }
    // Compared without division: personnel <= ratio × total, exact. Saturating: a product
    // past Decimal::MAX (impossible within bounds::RATIO and bounds::MONEY) is a cap nothing
    // exceeds, which is what the exact product would be.
    if f.budget.personnel > rules.max_personnel_ratio.saturating_mul(f.budget.total) {
        v.push(
            Violation::new(
                "personnel_ratio",
                "personnel costs exceed the allowed share of the budget total",
            )
            .limit(pct(rules.max_personnel_ratio, Decimal::ONE))
            .actual(pct_rounded(
                f.budget.personnel,
                f.budget.total,
                rust_decimal::RoundingStrategy::AwayFromZero,
            ))
            .field("budget"),
        );
    }
    if f.requested_grant < f.grant_min || f.requested_grant > f.grant_max {
        v.push(
            Violation::new(
                "grant_range",
                "the requested grant is outside the round's range",
            )
            .limit(format!("{:.2} .. {:.2}", f.grant_min, f.grant_max))
            .actual(format!("{:.2}", f.requested_grant))
            .field("requested_grant"),
        );
    }
    if f.requested_grant != f.budget.grant_funded {
        v.push(
            Violation::new(
                "grant_matches_budget",
                "the requested grant must equal the sum of grant-funded budget lines",
            )
            .limit(format!("{:.2}", f.budget.grant_funded))
            .actual(format!("{:.2}", f.requested_grant))
            .field("requested_grant"),
        );
    }
    if f.co_funding != f.budget.self_funded {
        v.push(
            Violation::new(
                "co_funding_matches_budget",
                "the co-funding must equal the sum of self-funded budget lines",
            )
            .limit(format!("{:.2}", f.budget.self_funded))
            .actual(format!("{:.2}", f.co_funding))
            .field("co_funding"),
        );
    }
    if f.co_funding < rules.min_co_funding_ratio.saturating_mul(f.budget.total) {
        v.push(
            Violation::new(
                "min_co_funding_ratio",
                "the co-funding is below the round's minimum share of the budget",
            )
            .limit(pct(rules.min_co_funding_ratio, Decimal::ONE))
            .actual(pct_rounded(
                f.co_funding,
                f.budget.total,
                rust_decimal::RoundingStrategy::ToZero,
            ))
            .field("co_funding"),
        );
    }
    if let Some(min) = rules.min_rating {
        let valid = f.rating_valid_until.is_some_and(|d| d >= f.today);
        match f.rating {
            Some(r) if r >= min && valid => {}
            Some(r) if r >= min => v.push(
                Violation::new("min_rating", "the organization's rating has expired")
                    .limit(format!("{min} valid on {}", f.today))
                    .actual(format!(
                        "{r} valid until {}",
                        f.rating_valid_until
                            .map(|d| d.to_string())
                            .unwrap_or_default()
                    )),
            ),
            other => v.push(
                Violation::new(
                    "min_rating",
                    format!("the round requires a rating of at least {min}"),
                )
                .limit(min)
                .actual(
                    other
                        .map(|r| r.to_string())
                        .unwrap_or_else(|| "none".into()),
                ),
            ),
        }
    }
    if rules.min_organization_age_months > 0 {
        let old_enough = f
            .registration_date
            .and_then(|d| d.checked_add_months(Months::new(rules.min_organization_age_months)))
            .is_some_and(|d| d <= f.today);
        if !old_enough {
            v.push(
                Violation::new(
                    "organization_age",
                    format!(
                        "the organization must have been registered for at least {} months",
                        rules.min_organization_age_months
                    ),
                )
                .limit(format!("{} months", rules.min_organization_age_months))
                .actual(
                    f.registration_date
                        .map(|d| format!("registered {d}"))
                        .unwrap_or_else(|| "no registration date".into()),
                ),
            );
        }
    }
    if rules.require_passed_assessment && f.party_assessment != AssessmentResult::Passed {
        v.push(
            Violation::new(
                "assessment_passed",
                "the round requires a passed assessment",
            )
            .limit("passed")
            .actual(f.party_assessment),
        );
    }
    if let Some(until) = f.blacklisted_until.filter(|u| *u >= f.today) {
        v.push(
            Violation::new(
                "not_blacklisted",
                "the organization is barred from applying",
            )
            .limit(format!("after {until}"))
            .actual(f.today),
        );
    }
    match (f.start_date, f.end_date) {
        (Some(s), Some(e)) => {
            if s >= e {
                v.push(
                    Violation::new("project_dates", "the project starts before it ends")
                        .actual(format!("{s} .. {e}"))
                        .field("start_date"),
                );
            }
            if let Some((ps, pe)) = f.project_period {
                if ps.is_some_and(|ps| s < ps) || pe.is_some_and(|pe| e > pe) {
                    v.push(
                        Violation::new(
                            "project_dates",
                            "the project lies inside the round's project period",
                        )
                        .limit(format!(
                            "{} .. {}",
                            ps.map(|d| d.to_string()).unwrap_or_default(),
                            pe.map(|d| d.to_string()).unwrap_or_default()
                        ))
                        .actual(format!("{s} .. {e}"))
                        .field("start_date"),
                    );
                }
            }
        }
        _ => v.push(
            Violation::new("project_dates", "the project needs a start and an end date")
                .field("start_date"),
        ),
    }
    v
}

#[cfg(test)]
// Test code: an overflow here fails a test; it never serves a request.
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use crate::domain::round::{RoundKind, RoundRules};
    use chrono::TimeZone;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn facts() -> SubmissionFacts {
        SubmissionFacts {
            now: Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap(),
            today: NaiveDate::from_ymd_opt(2026, 5, 1).unwrap(),
            opens_at: Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap(),
            closes_at: Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap(),
            grant_min: dec!(10000),
            grant_max: dec!(200000),
            project_period: None,
            other_active_applications: 0,
            budget: BudgetSummary {
                total: dec!(100000),
                personnel: dec!(50000),
                grant_funded: dec!(80000),
                self_funded: dec!(20000),
            },
            budget_lines: 3,
            requested_grant: dec!(80000),
            co_funding: dec!(20000),
            start_date: NaiveDate::from_ymd_opt(2026, 7, 1),
            end_date: NaiveDate::from_ymd_opt(2027, 6, 30),
            rating: Some(Rating::A3),
            rating_valid_until: NaiveDate::from_ymd_opt(2026, 5, 1),
            registration_date: NaiveDate::from_ymd_opt(2025, 5, 1),
            blacklisted_until: None,
            party_assessment: AssessmentResult::Passed,
        }
    }

    fn rules_of(f: &SubmissionFacts, r: &RoundRules) -> Vec<String> {
        check_submission(f, r).into_iter().map(|v| v.rule).collect()
    }

    #[test]
    fn a_valid_submission_passes() {
        let r = RoundRules::defaults_for(RoundKind::StartupSupport);
        assert!(
            rules_of(&facts(), &r).is_empty(),
            "{:?}",
            check_submission(&facts(), &r)
        );
    }

    #[test]
    fn personnel_boundary_is_exact() {
        let r = RoundRules::defaults_for(RoundKind::VenturePhilanthropy);
        let mut f = facts();
        f.budget.personnel = dec!(50000.00);
        assert!(rules_of(&f, &r).is_empty());
        f.budget.personnel = dec!(50010.00);
        let v = check_submission(&f, &r);
        assert_eq!(v[0].rule, "personnel_ratio");
        assert_eq!(v[0].actual.as_deref(), Some("50.01%"));
        assert_eq!(v[0].limit.as_deref(), Some("50.00%"));
        // A breach by a hair never prints as the limit itself.
        f.budget.personnel = dec!(50000.01);
        assert_eq!(
            check_submission(&f, &r)[0].actual.as_deref(),
            Some("50.01%")
        );
    }

    #[test]
    fn quota_third_passes_fourth_fails() {
        let r = RoundRules::defaults_for(RoundKind::VenturePhilanthropy);
        let mut f = facts();
        f.other_active_applications = 2;
        assert!(rules_of(&f, &r).is_empty());
        f.other_active_applications = 3;
        assert_eq!(rules_of(&f, &r), vec!["application_quota"]);
    }

    #[test]
    fn rating_must_be_high_enough_and_valid_on_the_day() {
        let r = RoundRules::defaults_for(RoundKind::GovernmentPurchase);
        let mut f = facts();
        assert!(rules_of(&f, &r).is_empty(), "valid through today");
        f.rating_valid_until = NaiveDate::from_ymd_opt(2026, 4, 30);
        assert_eq!(rules_of(&f, &r), vec!["min_rating"]);
        f.rating_valid_until = NaiveDate::from_ymd_opt(2027, 1, 1);
        f.rating = Some(Rating::A2);
        assert_eq!(rules_of(&f, &r), vec!["min_rating"]);
        f.rating = None;
        assert_eq!(rules_of(&f, &r), vec!["min_rating"]);
    }

    #[test]
    fn startup_rounds_check_age_and_assessment() {
        let r = RoundRules::defaults_for(RoundKind::StartupSupport);
        let mut f = facts();
        f.registration_date = NaiveDate::from_ymd_opt(2025, 5, 2);
        f.party_assessment = AssessmentResult::NotAssessed;
        assert_eq!(
            rules_of(&f, &r),
            vec!["organization_age", "assessment_passed"]
        );
    }

    #[test]
    fn every_breach_is_listed_at_once() {
        let r = RoundRules::defaults_for(RoundKind::GovernmentPurchase);
        let mut f = facts();
        f.now = f.closes_at;
        f.other_active_applications = 3;
        f.budget_lines = 0;
        f.requested_grant = dec!(5);
        f.co_funding = dec!(1);
        f.rating = None;
        f.blacklisted_until = Some(f.today);
        f.end_date = f.start_date;
        let got = rules_of(&f, &r);
        for rule in [
            "window_open",
            "application_quota",
            "budget_not_empty",
            "grant_range",
            "grant_matches_budget",
            "co_funding_matches_budget",
            "min_rating",
            "not_blacklisted",
            "project_dates",
        ] {
            assert!(
                got.contains(&rule.to_string()),
                "{rule} missing from {got:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn personnel_rule_is_exactly_the_ratio(total_cents in 1i64..1_000_000_000, personnel_cents in 0i64..1_000_000_000, ratio_pct in 1u32..=100) {
            let r = RoundRules { max_personnel_ratio: Decimal::new(ratio_pct as i64, 2), ..RoundRules::defaults_for(RoundKind::VenturePhilanthropy) };
            let mut f = facts();
            let total = Decimal::new(total_cents.max(personnel_cents), 2);
            let personnel = Decimal::new(personnel_cents, 2);
            f.budget = BudgetSummary { total, personnel, grant_funded: total, self_funded: Decimal::ZERO };
            let breached = rules_of(&f, &r).contains(&"personnel_ratio".to_string());
            prop_assert_eq!(breached, personnel * Decimal::from(100) > Decimal::from(ratio_pct) * total);
        }
    }
}
