//! Grants, tranches, milestones and payouts (domain.md rule 8): the pure rules. Money goes out
//! in tranches, each released by a milestone, never more than awarded; a payout is prepared by
//! one finance user and approved by another.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use super::money::{round_fen, Money};
use super::round::{Milestone, TrancheSpec};

string_enum! {
    pub enum GrantStatus {
        Active = "active",
        Completed = "completed",
        Terminated = "terminated",
    }
}

string_enum! {
    /// `scheduled` until its milestone is met, then `due`; `paid` when its payouts add up to it;
    /// `cancelled` when the project is terminated first.
    pub enum TrancheStatus {
        Scheduled = "scheduled",
        Due = "due",
        Paid = "paid",
        Cancelled = "cancelled",
    }
}

impl TrancheStatus {
    pub fn can_become(self, next: TrancheStatus) -> bool {
        use TrancheStatus::*;
        matches!(
            (self, next),
            (Scheduled, Due) | (Due, Paid) | (Scheduled, Cancelled) | (Due, Cancelled)
        )
    }
}

string_enum! {
    pub enum PayoutStatus {
        Requested = "requested",
        Approved = "approved",
        Rejected = "rejected",
        Paid = "paid",
    }
}

impl PayoutStatus {
    /// requested → approved → paid, requested → rejected. Termination of the project also
    /// withdraws approved-but-unpaid payouts (see `withdrawn_on_termination`).
    pub fn can_become(self, next: PayoutStatus) -> bool {
        use PayoutStatus::*;
        matches!(
            (self, next),
            (Requested, Approved) | (Approved, Paid) | (Requested, Rejected)
        )
    }

    /// Payouts whose money has not left yet: a termination rejects them.
    pub fn withdrawn_on_termination(self) -> bool {
        matches!(self, PayoutStatus::Requested | PayoutStatus::Approved)
    }

    /// Payouts that hold part of a tranche: a new request must fit beside them.
    pub fn holds_tranche(self) -> bool {
        !matches!(self, PayoutStatus::Rejected)
    }
}

string_enum! {
    pub enum Grade {
        A = "A",
        B = "B",
        C = "C",
    }
}

/// A ≥ 85, B 60–84.99, C < 60.
pub fn grade(score: Decimal) -> Grade {
    if score >= dec!(85) {
        Grade::A
    } else if score >= dec!(60) {
        Grade::B
    } else {
        Grade::C
    }
}

/// An evaluation passes at or above the round's pass mark (default 60).
pub fn passes(score: Decimal, pass_mark: Decimal) -> bool {
    score >= pass_mark
}

/// Evaluation scores are 0–100 with at most two fraction digits.
pub fn valid_score(score: Decimal) -> bool {
    score >= Decimal::ZERO && score <= dec!(100) && score.normalize().scale() <= 2
}

/// Splits an award by the schedule: each tranche is its share rounded half-up to the fen, the
/// last takes the remainder, so the tranches always add up to the award exactly.
/// The schedule is assumed valid (percentages > 0 adding up to 100; `round::validate_tranches`).
pub fn split_tranches(award: Money, schedule: &[TrancheSpec]) -> Vec<Money> {
    let total = award.amount();
    let last = schedule.len().saturating_sub(1);
    let mut out = Vec::with_capacity(schedule.len());
    // 0 <= allotted <= total throughout: each tranche is clamped to what is left.
    let mut allotted = Decimal::ZERO;
    for (i, spec) in schedule.iter().enumerate() {
        let left = total.saturating_sub(allotted);
        let amount = if i == last {
            left
        } else {
            // Saturating: a share past Decimal::MAX (a percentage far beyond
            // bounds::PERCENT) is more than what is left, and is clamped to it.
            let share = total
                .saturating_mul(spec.percent)
                .checked_div(Decimal::ONE_HUNDRED)
                .map_or(left, round_fen);
            // Never more than what is left, so no tranche (the last included) goes negative.
            share.max(Decimal::ZERO).min(left)
        };
        allotted = allotted.saturating_add(amount);
        out.push(Money::new(amount).unwrap_or(Money::ZERO));
    }
    out
}

/// Milestones happen in this order, each once.
pub const MILESTONE_ORDER: [Milestone; 3] = [
    Milestone::AgreementSigned,
    Milestone::MidTermEvaluation,
    Milestone::FinalEvaluation,
];

/// The milestone that may be recorded now, given those recorded so far (in any order); `None`
/// once all are recorded.
pub fn next_milestone(recorded: &[Milestone]) -> Option<Milestone> {
    MILESTONE_ORDER
        .iter()
        .copied()
        .find(|m| !recorded.contains(m))
}

/// Milestones that carry a score (evaluations).
pub fn is_evaluation(m: Milestone) -> bool {
    m != Milestone::AgreementSigned
}

/// Whether `new_amount` fits beside what already holds the limit: `held + new ≤ limit`.
pub fn fits(held: Money, limit: Money, new_amount: Money) -> bool {
    held.amount()
        .checked_add(new_amount.amount())
        .is_some_and(|sum| sum <= limit.amount())
}

/// What is left of a limit after what holds it (never negative).
pub fn remaining(held: Money, limit: Money) -> Money {
    Money::new(
        limit
            .amount()
            .saturating_sub(held.amount())
            .max(Decimal::ZERO),
    )
    .unwrap_or(Money::ZERO)
}

/// The date a blacklisting ends: `years` after `from` (29 February becomes 28 February).
pub fn blacklist_until(from: chrono::NaiveDate, years: u32) -> chrono::NaiveDate {
    years
        .checked_mul(12)
        .and_then(|months| from.checked_add_months(chrono::Months::new(months)))
        .unwrap_or(chrono::NaiveDate::MAX)
}

/// A tranche as the termination rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrancheState {
    pub number: i32,
    pub status: TrancheStatus,
    pub amount: Money,
    pub paid: Money,
}

/// A payout as the termination rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayoutState {
    pub tranche_number: i32,
    pub status: PayoutStatus,
    pub amount: Money,
}

/// What a failed evaluation does to a grant, computed before anything is written, so that the
/// program office can be shown exactly this before it confirms, and the write does exactly this.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Termination {
    /// Tranches cancelled (scheduled or due ones), with the unpaid amount each leaves.
    pub cancelled: Vec<(i32, Money)>,
    /// Indices (into the payouts given) of the requested or approved payouts of those tranches:
    /// rejected, their money never leaves.
    pub withdrawn: Vec<usize>,
    /// To be repaid, at most what was paid.
    pub clawback: Option<Money>,
    /// The organization's blacklisting ends then (never earlier than one already recorded);
    /// `None` for no blacklisting (0 years).
    pub blacklisted_until: Option<chrono::NaiveDate>,
}

/// The consequences of a failed evaluation: every tranche that can still be cancelled is, the
/// unpaid payouts of those tranches are withdrawn, the clawback (at most `paid_total`, else the
/// `clawback_limit` violation) is recorded and the organization is blacklisted for `years` from
/// `today` (kept when an existing blacklisting lasts longer).
pub fn termination(
    tranches: &[TrancheState],
    payouts: &[PayoutState],
    paid_total: Money,
    clawback: Option<Money>,
    years: u32,
    today: chrono::NaiveDate,
    blacklisted_until: Option<chrono::NaiveDate>,
) -> Result<Termination, super::violation::Violation> {
    if let Some(claw) = clawback {
        if claw > paid_total {
            return Err(super::violation::Violation::new(
                "clawback_limit",
                "the clawback cannot exceed what was paid",
            )
            .limit(paid_total)
            .actual(claw)
            .field("clawback_amount"));
        }
    }
    let cancelled: Vec<(i32, Money)> = tranches
        .iter()
        .filter(|t| t.status.can_become(TrancheStatus::Cancelled))
        .map(|t| (t.number, remaining(t.paid, t.amount)))
        .collect();
    let withdrawn = payouts
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            p.status.withdrawn_on_termination()
                && cancelled.iter().any(|(n, _)| *n == p.tranche_number)
        })
        .map(|(i, _)| i)
        .collect();
    let blacklisted_until = (years > 0).then(|| {
        let until = blacklist_until(today, years);
        blacklisted_until.map_or(until, |d| d.max(until))
    });
    Ok(Termination {
        cancelled,
        withdrawn,
        clawback,
        blacklisted_until,
    })
}

#[cfg(test)]
// Test code: an overflow here fails a test; it never serves a request.
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use crate::domain::round::default_tranches;
    use proptest::prelude::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn default_split_is_fifty_thirty_twenty() {
        let parts = split_tranches(m("100000"), &default_tranches());
        assert_eq!(parts, vec![m("50000"), m("30000"), m("20000")]);
        // 33333.33 × 50% = 16666.665 → 16666.67 (half-up); 30% = 9999.999 → 10000.00;
        // the last takes the remainder 6666.66.
        let parts = split_tranches(m("33333.33"), &default_tranches());
        assert_eq!(parts, vec![m("16666.67"), m("10000.00"), m("6666.66")]);
        let parts = split_tranches(m("0.01"), &default_tranches());
        assert_eq!(parts, vec![m("0.01"), m("0"), m("0")]);
    }

    #[test]
    fn thirds_leave_the_remainder_to_the_last() {
        let schedule: Vec<TrancheSpec> = [
            Milestone::AgreementSigned,
            Milestone::MidTermEvaluation,
            Milestone::FinalEvaluation,
        ]
        .iter()
        .zip([dec!(33.33), dec!(33.33), dec!(33.34)])
        .map(|(ms, p)| TrancheSpec {
            percent: p,
            milestone: *ms,
        })
        .collect();
        let parts = split_tranches(m("100.00"), &schedule);
        assert_eq!(parts, vec![m("33.33"), m("33.33"), m("33.34")]);
    }

    #[test]
    fn grades_and_pass_marks() {
        assert_eq!(grade(dec!(85)), Grade::A);
        assert_eq!(grade(dec!(84.99)), Grade::B);
        assert_eq!(grade(dec!(60)), Grade::B);
        assert_eq!(grade(dec!(59.99)), Grade::C);
        assert_eq!(grade(dec!(0)), Grade::C);
        assert!(passes(dec!(60), dec!(60)));
        assert!(!passes(dec!(59.99), dec!(60)));
        assert!(!passes(dec!(65), dec!(70)), "the round's pass mark decides");
        assert!(valid_score(dec!(100)) && valid_score(dec!(0)) && valid_score(dec!(72.5)));
        assert!(!valid_score(dec!(100.01)) && !valid_score(dec!(-1)) && !valid_score(dec!(1.001)));
    }

    #[test]
    fn milestones_come_in_order() {
        assert_eq!(next_milestone(&[]), Some(Milestone::AgreementSigned));
        assert_eq!(
            next_milestone(&[Milestone::AgreementSigned]),
            Some(Milestone::MidTermEvaluation)
        );
        assert_eq!(
            next_milestone(&[Milestone::MidTermEvaluation, Milestone::AgreementSigned]),
            Some(Milestone::FinalEvaluation)
        );
        assert_eq!(next_milestone(&MILESTONE_ORDER), None);
        assert!(!is_evaluation(Milestone::AgreementSigned));
        assert!(is_evaluation(Milestone::FinalEvaluation));
    }

    #[test]
    fn state_machines() {
        use PayoutStatus as P;
        use TrancheStatus as T;
        assert!(T::Scheduled.can_become(T::Due));
        assert!(T::Due.can_become(T::Paid));
        assert!(
            !T::Scheduled.can_become(T::Paid),
            "no payment before the milestone"
        );
        assert!(!T::Paid.can_become(T::Cancelled), "paid money stays paid");
        assert!(!T::Cancelled.can_become(T::Due));
        assert!(P::Requested.can_become(P::Approved));
        assert!(P::Approved.can_become(P::Paid));
        assert!(P::Requested.can_become(P::Rejected));
        assert!(
            !P::Requested.can_become(P::Paid),
            "no payment without approval"
        );
        assert!(!P::Paid.can_become(P::Rejected));
        assert!(!P::Rejected.can_become(P::Approved));
        for s in P::ALL {
            assert!(!s.can_become(P::Requested));
        }
        assert!(P::Approved.withdrawn_on_termination());
        assert!(!P::Paid.withdrawn_on_termination());
        assert!(!P::Rejected.holds_tranche() && P::Requested.holds_tranche());
    }

    #[test]
    fn limits() {
        assert!(fits(m("40000"), m("50000"), m("10000")));
        assert!(!fits(m("40000"), m("50000"), m("10000.01")));
        assert_eq!(remaining(m("40000"), m("50000")), m("10000"));
        assert_eq!(remaining(m("60000"), m("50000")), Money::ZERO);
    }

    #[test]
    fn a_failed_evaluation_cancels_what_is_unpaid_and_blacklists() {
        let d = |y, mo, da| chrono::NaiveDate::from_ymd_opt(y, mo, da).unwrap();
        let t = |number, status, amount: &str, paid: &str| TrancheState {
            number,
            status,
            amount: m(amount),
            paid: m(paid),
        };
        let tranches = [
            t(1, TrancheStatus::Paid, "50000", "50000"),
            t(2, TrancheStatus::Due, "30000", "10000"),
            t(3, TrancheStatus::Scheduled, "20000", "0"),
        ];
        let p = |tranche_number, status, amount: &str| PayoutState {
            tranche_number,
            status,
            amount: m(amount),
        };
        let payouts = [
            p(1, PayoutStatus::Paid, "50000"),
            p(2, PayoutStatus::Paid, "10000"),
            p(2, PayoutStatus::Approved, "5000"),
            p(2, PayoutStatus::Requested, "1000"),
            p(2, PayoutStatus::Rejected, "700"),
        ];
        let today = d(2026, 12, 3);
        let out = termination(
            &tranches,
            &payouts,
            m("60000"),
            Some(m("60000")),
            3,
            today,
            None,
        )
        .unwrap();
        assert_eq!(out.cancelled, vec![(2, m("20000")), (3, m("20000"))]);
        assert_eq!(
            out.withdrawn,
            vec![2, 3],
            "approved and requested, not paid or rejected"
        );
        assert_eq!(out.clawback, Some(m("60000")));
        assert_eq!(out.blacklisted_until, Some(d(2029, 12, 3)));

        // A longer blacklisting already recorded is kept; 0 years blacklists nobody.
        let later = d(2031, 1, 1);
        let out =
            termination(&tranches, &payouts, m("60000"), None, 3, today, Some(later)).unwrap();
        assert_eq!(out.blacklisted_until, Some(later));
        assert_eq!(out.clawback, None);
        let out =
            termination(&tranches, &payouts, m("60000"), None, 0, today, Some(later)).unwrap();
        assert_eq!(out.blacklisted_until, None);

        // Never more clawed back than paid, by a fen.
        let err = termination(
            &tranches,
            &payouts,
            m("60000"),
            Some(m("60000.01")),
            3,
            today,
            None,
        )
        .unwrap_err();
        assert_eq!(err.rule, "clawback_limit");
        assert_eq!(err.field.as_deref(), Some("clawback_amount"));
    }

    #[test]
    fn blacklisting_lasts_whole_years() {
        let d = |y, mo, da| chrono::NaiveDate::from_ymd_opt(y, mo, da).unwrap();
        assert_eq!(blacklist_until(d(2026, 11, 24), 3), d(2029, 11, 24));
        assert_eq!(blacklist_until(d(2028, 2, 29), 1), d(2029, 2, 28));
        assert_eq!(blacklist_until(d(2026, 1, 1), 0), d(2026, 1, 1));
    }

    /// A valid schedule: 1 to 3 tranches over the milestones in order, positive percentages
    /// with up to two fraction digits that add up to 100.
    fn schedule() -> impl Strategy<Value = Vec<TrancheSpec>> {
        (1usize..=3)
            .prop_flat_map(|n| (Just(n), proptest::collection::vec(1i64..=9_800, n - 1)))
            .prop_filter_map("parts leave room for the last", |(n, cuts)| {
                let sum: i64 = cuts.iter().sum();
                if sum >= 10_000 {
                    return None;
                }
                let mut pcts: Vec<Decimal> = cuts.iter().map(|c| Decimal::new(*c, 2)).collect();
                pcts.push(Decimal::new(10_000 - sum, 2));
                let milestones = match n {
                    1 => vec![Milestone::FinalEvaluation],
                    2 => vec![Milestone::AgreementSigned, Milestone::FinalEvaluation],
                    _ => MILESTONE_ORDER.to_vec(),
                };
                Some(
                    pcts.into_iter()
                        .zip(milestones)
                        .map(|(percent, milestone)| TrancheSpec { percent, milestone })
                        .collect(),
                )
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn split_adds_up_exactly(cents in 1i64..10_000_000_000_000, schedule in schedule()) {
            let award = Money::new(Decimal::new(cents, 2)).unwrap();
            let parts = split_tranches(award, &schedule);
            prop_assert_eq!(parts.len(), schedule.len());
            let sum: Decimal = parts.iter().map(|p| p.amount()).sum();
            prop_assert_eq!(sum, award.amount());
            let n = Decimal::from(parts.len() as i64);
            for (p, spec) in parts.iter().zip(&schedule) {
                prop_assert!(p.amount() >= Decimal::ZERO);
                prop_assert!(p.amount().scale() <= 2);
                let exact = award.amount() * spec.percent / dec!(100);
                prop_assert!((p.amount() - exact).abs() <= dec!(0.01) * n,
                    "tranche {} is too far from its exact share {}", p, exact);
            }
        }

        #[test]
        fn grade_is_monotone(a in 0i64..=10_000, b in 0i64..=10_000) {
            let (lo, hi) = (a.min(b), a.max(b));
            prop_assert!(grade(Decimal::new(lo, 2)) >= grade(Decimal::new(hi, 2)));
        }

        #[test]
        fn fits_never_lets_the_sum_pass_the_limit(held in 0i64..1_000_000, limit in 0i64..1_000_000, new in 1i64..1_000_000) {
            let (held, limit, new) = (Money::new(Decimal::new(held, 2)).unwrap(), Money::new(Decimal::new(limit, 2)).unwrap(), Money::new(Decimal::new(new, 2)).unwrap());
            prop_assert_eq!(fits(held, limit, new), held.amount() + new.amount() <= limit.amount());
            if fits(held, limit, new) {
                prop_assert!(new <= remaining(held, limit));
            }
        }
    }
}
