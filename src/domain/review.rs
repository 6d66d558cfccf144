//! Review rules (domain.md rule 5 and the default round settings): score sheets checked against
//! the rubric, the party-element score in two parts, the trimmed mean, the ranking order,
//! reviewer calibration, award allocation within the pool, and automatic assignment.
//! Plain functions over plain values: the service feeds them rows, the tests feed them anything.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, MathematicalOps};
use serde::Serialize;
use uuid::Uuid;

use super::arith::{checked_mean, saturating_sum};
use super::money::round_fen;
use super::round::{PartyPointsTable, RoundRules, Rubric};
use super::violation::Violation;

string_enum! {
    /// A reviewer's assignment: scoring (draft), submitted (locked), or recused (conflict).
    pub enum AssignmentStatus {
        Assigned = "assigned",
        Submitted = "submitted",
        Recused = "recused",
    }
}

/// With this many scores or more, the highest and the lowest are dropped (去掉一个最高分和一个最低分).
pub const TRIM_FROM: usize = 5;

/// The most a reviewer may give for a criterion: its maximum, less the objective points of the
/// party-element criterion, which the service computes from facts (rule 5).
pub fn judged_max(rubric: &Rubric, points: &PartyPointsTable, key: &str) -> Option<Decimal> {
    rubric.criteria.iter().find(|c| c.key == key).map(|c| {
        if c.party_element {
            c.max
                .saturating_sub(points.max_objective)
                .max(Decimal::ZERO)
        } else {
            c.max
        }
    })
}

/// Checks a score sheet: every key a criterion, every score within 0..max in the round's steps;
/// with `complete`, every criterion scored. Reports every problem at once.
pub fn check_scores(
    rubric: &Rubric,
    points: &PartyPointsTable,
    scores: &BTreeMap<String, Decimal>,
    complete: bool,
) -> Vec<Violation> {
    let mut v = Vec::new();
    for (key, score) in scores {
        let field = format!("scores.{key}");
        let Some(max) = judged_max(rubric, points, key) else {
            v.push(
                Violation::new(
                    "unknown_criterion",
                    "no such criterion in the round's rubric",
                )
                .limit(
                    rubric
                        .criteria
                        .iter()
                        .map(|c| c.key.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                )
                .actual(key)
                .field(field),
            );
            continue;
        };
        if *score < Decimal::ZERO || *score > max {
            v.push(
                Violation::new(
                    "score_range",
                    "a score is between 0 and the criterion's maximum",
                )
                .limit(format!("0..{}", max.normalize()))
                .actual(score.normalize())
                .field(field.clone()),
            );
        }
        let off_step = score
            .checked_rem(rubric.score_step)
            .is_none_or(|r| !r.is_zero());
        if !rubric.score_step.is_zero() && off_step {
            v.push(
                Violation::new("score_step", "scores are multiples of the round's step")
                    .limit(rubric.score_step.normalize())
                    .actual(score.normalize())
                    .field(field),
            );
        }
    }
    if complete {
        for c in &rubric.criteria {
            if !scores.contains_key(&c.key) {
                v.push(
                    Violation::new("score_missing", "every criterion must be scored to submit")
                        .limit(&c.key)
                        .field(format!("scores.{}", c.key)),
                );
            }
        }
    }
    v
}

/// The sum of a reviewer's scores (the judged part of its total).
pub fn judged_total(scores: &BTreeMap<String, Decimal>) -> Decimal {
    saturating_sum(scores.values().copied())
}

/// The mean of the totals, the highest and lowest dropped first when there are 5 or more.
/// Unrounded: rounding happens once, at the end.
pub fn trimmed_mean(totals: &[Decimal]) -> Option<Decimal> {
    if totals.is_empty() {
        return None;
    }
    let mut sorted = totals.to_vec();
    sorted.sort();
    let kept = if sorted.len() >= TRIM_FROM {
        // At least 5 scores: the slice keeps 3 or more.
        &sorted[1..sorted.len().saturating_sub(1)]
    } else {
        &sorted[..]
    };
    // `None` on an overflowing sum, which totals within bounds::RUBRIC_POINTS never reach.
    checked_mean(kept)
}

fn mean(xs: &[Decimal]) -> Option<Decimal> {
    checked_mean(xs)
}

/// Population standard deviation (`None` for no values, or squares past Decimal::MAX).
fn spread(xs: &[Decimal]) -> Option<Decimal> {
    let m = mean(xs)?;
    let squares = xs
        .iter()
        .map(|x| {
            let d = x.checked_sub(m)?;
            d.checked_mul(d)
        })
        .collect::<Option<Vec<Decimal>>>()?;
    checked_mean(&squares)?.sqrt()
}

/// Two places, half-up (四舍五入).
pub fn round2(d: Decimal) -> Decimal {
    round_fen(d)
}

/// One counted review: submitted and not recused. `scores[i]` is the score given on the
/// rubric's i-th criterion: a ranking reads tens of thousands of sheets, so they are kept as
/// plain vectors rather than one map (and its keys) per sheet.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewInput {
    pub reviewer_id: Uuid,
    pub scores: Vec<Option<Decimal>>,
}

impl ReviewInput {
    /// From a sheet keyed by criterion; a key outside the rubric is not part of the ranking.
    pub fn from_sheet(
        reviewer_id: Uuid,
        rubric: &Rubric,
        sheet: &BTreeMap<String, Decimal>,
    ) -> Self {
        Self {
            reviewer_id,
            scores: rubric
                .criteria
                .iter()
                .map(|c| sheet.get(&c.key).copied())
                .collect(),
        }
    }

    /// The judged part of this reviewer's total.
    pub fn judged_total(&self) -> Decimal {
        saturating_sum(self.scores.iter().flatten().copied())
    }
}

/// What the ranking needs to know of one application.
#[derive(Debug, Clone, PartialEq)]
pub struct RankInput {
    pub application_id: Uuid,
    pub submitted_at: DateTime<Utc>,
    /// The organization's party-building assessment passed (ties: no priority for failed, seed 000).
    pub assessment_passed: bool,
    /// The objective party-element points computed from facts.
    pub party_objective: Decimal,
    pub reviews: Vec<ReviewInput>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankRow {
    pub application_id: Uuid,
    /// 1-based; `None` for incomplete applications.
    pub rank: Option<u32>,
    pub score_count: usize,
    /// Trimmed mean of the raw totals, two places, half-up.
    pub final_score: Option<Decimal>,
    /// The same over z-score-normalized totals, when the round normalizes.
    pub normalized_score: Option<Decimal>,
    /// The score the order uses: normalized when the round normalizes, else raw.
    pub ranking_score: Option<Decimal>,
    /// Mean per rubric criterion, in the rubric's order (`None`: nobody scored it).
    pub criterion_means: Vec<Option<Decimal>>,
    pub party_objective: Decimal,
    pub party_judged_mean: Option<Decimal>,
    pub party_element_score: Option<Decimal>,
    pub assessment_passed: bool,
    pub passes_pass_mark: bool,
    pub submitted_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewerCalibration {
    pub reviewer_id: Uuid,
    pub score_count: usize,
    /// Mean of this reviewer's totals.
    pub mean: Decimal,
    /// Population standard deviation of its totals.
    pub spread: Decimal,
    /// Mean of (its total − the mean of all totals on the same application): how much harsher
    /// (negative) or more lenient (positive) than its panel.
    pub deviation_from_panel: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranking {
    /// Ranked applications, best first.
    pub ranked: Vec<RankRow>,
    /// Fewer scores than the round's minimum: not ranked.
    pub incomplete: Vec<RankRow>,
    pub calibration: Vec<ReviewerCalibration>,
    pub normalized: bool,
}

/// The ranking order: score, then passed party-building assessment, then higher party-element
/// score, then earlier submission (then id, so the order is total and stable).
pub fn rank_order(a: &RankRow, b: &RankRow) -> Ordering {
    b.ranking_score
        .cmp(&a.ranking_score)
        .then(b.assessment_passed.cmp(&a.assessment_passed))
        .then(b.party_element_score.cmp(&a.party_element_score))
        .then(a.submitted_at.cmp(&b.submitted_at))
        .then(a.application_id.cmp(&b.application_id))
}

/// Ranks the applications of a round.
pub fn rank(inputs: &[RankInput], rubric: &Rubric, rules: &RoundRules) -> Ranking {
    let party_index = rubric.criteria.iter().position(|c| c.party_element);

    // Every counted total, computed once: per application (in review order) and per reviewer
    // (with the application's index), for the scores, calibration and normalization.
    let totals: Vec<Vec<Decimal>> = inputs
        .iter()
        .map(|input| {
            input
                .reviews
                .iter()
                .map(|r| r.judged_total().saturating_add(input.party_objective))
                .collect()
        })
        .collect();
    let mut by_reviewer: HashMap<Uuid, Vec<(usize, Decimal)>> = HashMap::new();
    for (i, input) in inputs.iter().enumerate() {
        for (r, t) in input.reviews.iter().zip(&totals[i]) {
            by_reviewer.entry(r.reviewer_id).or_default().push((i, *t));
        }
    }
    let stats: HashMap<Uuid, (Decimal, Decimal)> = by_reviewer
        .iter()
        .map(|(id, ts)| {
            let xs: Vec<Decimal> = ts.iter().map(|(_, t)| *t).collect();
            (
                *id,
                (
                    mean(&xs).unwrap_or_default(),
                    spread(&xs).unwrap_or_default(),
                ),
            )
        })
        .collect();
    // z-score onto the panel's scale; a reviewer with no spread keeps its offset only. Only
    // computed when the round normalizes.
    let panel = rules.score_normalization.then(|| {
        let all: Vec<Decimal> = totals.iter().flatten().copied().collect();
        (
            mean(&all).unwrap_or_default(),
            spread(&all).unwrap_or_default(),
        )
    });
    let normalize = |reviewer: Uuid, t: Decimal, (panel_mean, panel_spread): (Decimal, Decimal)| {
        let (m, s) = stats[&reviewer];
        // Saturating and checked: within bounds::RUBRIC_POINTS totals, means and spreads are
        // below 10^5 and z-scores below the square root of the count, far from any limit.
        let offset = t.saturating_sub(m);
        let scaled = if s.is_zero() {
            Some(offset)
        } else {
            offset
                .checked_div(s)
                .map(|z| z.saturating_mul(panel_spread))
        };
        panel_mean.saturating_add(scaled.unwrap_or_default())
    };

    let min = rules.min_reviewers as usize;
    let mut ranked = Vec::new();
    let mut incomplete = Vec::new();
    let mut column: Vec<Decimal> = Vec::new();
    let mean_of_criterion = |input: &RankInput, k: usize, column: &mut Vec<Decimal>| {
        column.clear();
        column.extend(
            input
                .reviews
                .iter()
                .filter_map(|r| r.scores.get(k).copied().flatten()),
        );
        mean(column)
    };
    for (i, input) in inputs.iter().enumerate() {
        let totals = &totals[i];
        let criterion_means = (0..rubric.criteria.len())
            .map(|k| mean_of_criterion(input, k, &mut column).map(round2))
            .collect();
        let party_judged_raw = party_index.and_then(|k| mean_of_criterion(input, k, &mut column));
        let complete = input.reviews.len() >= min && !input.reviews.is_empty();
        let final_score = complete.then(|| trimmed_mean(totals).map(round2)).flatten();
        let normalized_score = match panel {
            Some(p) if complete => {
                let normalized: Vec<Decimal> = input
                    .reviews
                    .iter()
                    .zip(totals)
                    .map(|(r, t)| normalize(r.reviewer_id, *t, p))
                    .collect();
                trimmed_mean(&normalized).map(round2)
            }
            _ => None,
        };
        let ranking_score = if rules.score_normalization {
            normalized_score
        } else {
            final_score
        };
        let row = RankRow {
            application_id: input.application_id,
            rank: None,
            score_count: input.reviews.len(),
            final_score,
            normalized_score,
            ranking_score,
            criterion_means,
            party_objective: input.party_objective,
            party_judged_mean: party_judged_raw.map(round2),
            party_element_score: Some(round2(
                input
                    .party_objective
                    .saturating_add(party_judged_raw.unwrap_or_default()),
            )),
            assessment_passed: input.assessment_passed,
            passes_pass_mark: ranking_score.is_some_and(|s| s >= rules.pass_mark),
            submitted_at: input.submitted_at,
        };
        if complete {
            ranked.push(row);
        } else {
            incomplete.push(row);
        }
    }
    ranked.sort_by(rank_order);
    for (i, r) in ranked.iter_mut().enumerate() {
        r.rank = Some(u32::try_from(i).unwrap_or(u32::MAX).saturating_add(1));
    }
    incomplete.sort_by_key(|a| a.submitted_at);

    // Calibration: per reviewer, its mean, spread and deviation from the panel.
    let app_means: Vec<Option<Decimal>> = totals.iter().map(|ts| mean(ts)).collect();
    let mut calibration: Vec<ReviewerCalibration> = by_reviewer
        .iter()
        .map(|(id, ts)| {
            let (m, s) = stats[id];
            let devs: Vec<Decimal> = ts
                .iter()
                .map(|(i, t)| t.saturating_sub(app_means[*i].unwrap_or(*t)))
                .collect();
            ReviewerCalibration {
                reviewer_id: *id,
                score_count: ts.len(),
                mean: round2(m),
                spread: round2(s),
                deviation_from_panel: round2(mean(&devs).unwrap_or_default()),
            }
        })
        .collect();
    calibration.sort_by_key(|c| c.reviewer_id);
    Ranking {
        ranked,
        incomplete,
        calibration,
        normalized: rules.score_normalization,
    }
}

string_enum! {
    /// What the award walk decided for one application.
    pub enum AwardOutcome {
        Funded = "funded",
        UnfundedPool = "unfunded_pool",
        BelowPassMark = "below_pass_mark",
        Incomplete = "incomplete",
    }
}

/// One ranked application as the award walk sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct AwardCandidate {
    pub application_id: Uuid,
    pub passes_pass_mark: bool,
    pub requested: Decimal,
    /// An admin-adjusted lower amount, if any.
    pub adjusted: Option<Decimal>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AwardLine {
    pub application_id: Uuid,
    pub outcome: AwardOutcome,
    pub requested: Decimal,
    pub amount: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Allocation {
    pub lines: Vec<AwardLine>,
    pub total_awarded: Decimal,
    pub remaining_pool: Decimal,
}

/// Walks the ranking from the top: funds each application at or above the pass mark at its
/// requested (or adjusted) amount while the pool lasts. The pool is never over-committed: an
/// application that does not fit is unfunded, and the walk goes on (a smaller one below may fit).
pub fn allocate(ranked: &[AwardCandidate], incomplete: &[Uuid], pool: Decimal) -> Allocation {
    let mut remaining = pool;
    let mut lines = Vec::with_capacity(ranked.len().saturating_add(incomplete.len()));
    for c in ranked {
        let amount = c.adjusted.unwrap_or(c.requested);
        let (outcome, amount) = if !c.passes_pass_mark {
            (AwardOutcome::BelowPassMark, Decimal::ZERO)
        } else if amount > Decimal::ZERO && amount <= remaining {
            // 0 < amount <= remaining: the difference is exact.
            remaining = remaining.saturating_sub(amount);
            (AwardOutcome::Funded, amount)
        } else {
            (AwardOutcome::UnfundedPool, Decimal::ZERO)
        };
        lines.push(AwardLine {
            application_id: c.application_id,
            outcome,
            requested: c.requested,
            amount,
        });
    }
    for id in incomplete {
        lines.push(AwardLine {
            application_id: *id,
            outcome: AwardOutcome::Incomplete,
            requested: Decimal::ZERO,
            amount: Decimal::ZERO,
        });
    }
    Allocation {
        lines,
        // remaining only ever decreases from the pool by funded amounts: exact.
        total_awarded: pool.saturating_sub(remaining),
        remaining_pool: remaining,
    }
}

/// A panel member as automatic assignment sees it.
#[derive(Debug, Clone)]
pub struct PanelReviewer {
    pub reviewer_id: Uuid,
    pub affiliations: HashSet<Uuid>,
}

/// An existing assignment: `active` unless recused. A reviewer is never assigned twice to one
/// application (a recused one not again either).
#[derive(Debug, Clone, Copy)]
pub struct ExistingAssignment {
    pub application_id: Uuid,
    pub reviewer_id: Uuid,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shortfall {
    pub application_id: Uuid,
    pub missing: u32,
}

/// Gives each application `k` active reviewers, filling gaps only: never a reviewer affiliated
/// with the applying organization, never one already on it, always the least-loaded eligible
/// reviewer (ties by id), so the load spreads evenly. Applications are `(id, organization)`.
pub fn auto_assign(
    applications: &[(Uuid, Uuid)],
    panel: &[PanelReviewer],
    existing: &[ExistingAssignment],
    k: u32,
) -> (Vec<(Uuid, Uuid)>, Vec<Shortfall>) {
    let mut load: HashMap<Uuid, usize> = panel.iter().map(|r| (r.reviewer_id, 0)).collect();
    let mut taken: HashSet<(Uuid, Uuid)> = HashSet::new();
    let mut active: HashMap<Uuid, u32> = HashMap::new();
    for e in existing {
        taken.insert((e.application_id, e.reviewer_id));
        if e.active {
            let n = active.entry(e.application_id).or_default();
            *n = n.saturating_add(1);
            if let Some(l) = load.get_mut(&e.reviewer_id) {
                *l = l.saturating_add(1);
            }
        }
    }
    let mut new = Vec::new();
    let mut short = Vec::new();
    for (app, org) in applications {
        let have = active.get(app).copied().unwrap_or(0);
        let mut need = k.saturating_sub(have);
        while need > 0 {
            let pick = panel
                .iter()
                .filter(|r| {
                    !r.affiliations.contains(org) && !taken.contains(&(*app, r.reviewer_id))
                })
                .min_by_key(|r| (load[&r.reviewer_id], r.reviewer_id));
            let Some(r) = pick else { break };
            taken.insert((*app, r.reviewer_id));
            if let Some(l) = load.get_mut(&r.reviewer_id) {
                *l = l.saturating_add(1);
            }
            new.push((*app, r.reviewer_id));
            need = need.saturating_sub(1);
        }
        if need > 0 {
            short.push(Shortfall {
                application_id: *app,
                missing: need,
            });
        }
    }
    (new, short)
}

#[cfg(test)]
// Test code: an overflow here fails a test; it never serves a request.
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use crate::domain::round::RoundKind;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn sheet(pairs: &[(&str, &str)]) -> BTreeMap<String, Decimal> {
        pairs.iter().map(|(k, v)| (k.to_string(), d(v))).collect()
    }

    fn full_sheet(total_without_party: Decimal, party: Decimal) -> BTreeMap<String, Decimal> {
        // Spread the non-party total over need_analysis first, then the others, within maxima.
        let maxima = [
            ("need_analysis", dec!(15)),
            ("project_design", dec!(20)),
            ("capacity", dec!(15)),
            ("budget", dec!(15)),
            ("outcomes", dec!(15)),
        ];
        let mut left = total_without_party;
        let mut m = BTreeMap::new();
        for (k, max) in maxima {
            let x = left.min(max);
            m.insert(k.to_string(), x);
            left -= x;
        }
        m.insert("party_elements".into(), party);
        m
    }

    #[test]
    fn bounds_steps_and_completeness() {
        let r = Rubric::default();
        let p = PartyPointsTable::default();
        assert!(check_scores(&r, &p, &sheet(&[("need_analysis", "15")]), false).is_empty());
        let v = check_scores(
            &r,
            &p,
            &sheet(&[
                ("need_analysis", "15.5"),
                ("capacity", "7.25"),
                ("party_elements", "10.5"),
                ("nope", "1"),
            ]),
            true,
        );
        let rules: Vec<_> = v.iter().map(|x| x.rule.as_str()).collect();
        assert!(rules.contains(&"score_range"), "{rules:?}");
        assert!(rules.contains(&"score_step"), "{rules:?}");
        assert!(rules.contains(&"unknown_criterion"), "{rules:?}");
        assert!(rules.contains(&"score_missing"), "{rules:?}");
        // The party criterion's judged part is its max less the objective points: 20 − 10.
        let party = v
            .iter()
            .find(|x| x.field.as_deref() == Some("scores.party_elements"))
            .unwrap();
        assert_eq!(party.limit.as_deref(), Some("0..10"));
        assert_eq!(party.actual.as_deref(), Some("10.5"));
        assert!(
            check_scores(&r, &p, &sheet(&[("need_analysis", "-0.5")]), false)
                .iter()
                .any(|x| x.rule == "score_range")
        );
        assert!(check_scores(&r, &p, &full_sheet(dec!(80), dec!(10)), true).is_empty());
    }

    #[test]
    fn a_review_keeps_the_rubric_order_and_only_its_criteria() {
        let r = Rubric::default();
        let input = ReviewInput::from_sheet(
            Uuid::from_u128(1),
            &r,
            &sheet(&[("capacity", "7.5"), ("need_analysis", "12"), ("nope", "99")]),
        );
        assert_eq!(input.scores.len(), r.criteria.len());
        let at = |key: &str| input.scores[r.criteria.iter().position(|c| c.key == key).unwrap()];
        assert_eq!(at("need_analysis"), Some(d("12")));
        assert_eq!(at("capacity"), Some(d("7.5")));
        assert_eq!(at("budget"), None);
        // A key outside the rubric is not part of the total.
        assert_eq!(input.judged_total(), d("19.5"));
    }

    #[test]
    fn trimmed_mean_drops_extremes_from_five() {
        assert_eq!(trimmed_mean(&[]), None);
        assert_eq!(trimmed_mean(&[d("80"), d("90"), d("70")]), Some(d("80")));
        assert_eq!(
            trimmed_mean(&[d("80"), d("90"), d("70"), d("60")]),
            Some(d("75"))
        );
        // 5 scores: 100 and 10 dropped → mean of 80, 70, 60.
        assert_eq!(
            trimmed_mean(&[d("100"), d("80"), d("70"), d("60"), d("10")]),
            Some(d("70"))
        );
        // Rounded once, at the end, half-up: 80, 80.5, 80.5 → 80.3333 → 80.33.
        assert_eq!(
            round2(trimmed_mean(&[d("80"), d("80.5"), d("80.5")]).unwrap()),
            d("80.33")
        );
        assert_eq!(round2(d("80.335")), d("80.34"));
    }

    fn input(
        id: u128,
        minute: u32,
        passed: bool,
        objective: Decimal,
        totals: &[(u128, Decimal, Decimal)],
    ) -> RankInput {
        RankInput {
            application_id: Uuid::from_u128(id),
            submitted_at: DateTime::from_timestamp(1_700_000_000 + i64::from(minute) * 60, 0)
                .unwrap(),
            assessment_passed: passed,
            party_objective: objective,
            reviews: totals
                .iter()
                .map(|(rev, rest, party)| {
                    ReviewInput::from_sheet(
                        Uuid::from_u128(*rev),
                        &Rubric::default(),
                        &full_sheet(*rest, *party),
                    )
                })
                .collect(),
        }
    }

    fn rules() -> RoundRules {
        RoundRules::defaults_for(RoundKind::VenturePhilanthropy)
    }

    #[test]
    fn ties_break_by_assessment_then_party_then_submission() {
        let r = Rubric::default();
        // All three total 80: 65 + 5 judged + 10 objective, or 66 + 4 + 10.
        let a = input(
            1,
            3,
            false,
            dec!(10),
            &[
                (9, dec!(65), dec!(5)),
                (8, dec!(65), dec!(5)),
                (7, dec!(65), dec!(5)),
            ],
        );
        let b = input(
            2,
            2,
            true,
            dec!(10),
            &[
                (9, dec!(66), dec!(4)),
                (8, dec!(66), dec!(4)),
                (7, dec!(66), dec!(4)),
            ],
        );
        let c = input(
            3,
            1,
            true,
            dec!(10),
            &[
                (9, dec!(65), dec!(5)),
                (8, dec!(65), dec!(5)),
                (7, dec!(65), dec!(5)),
            ],
        );
        let e = input(
            4,
            0,
            true,
            dec!(10),
            &[
                (9, dec!(65), dec!(5)),
                (8, dec!(65), dec!(5)),
                (7, dec!(65), dec!(5)),
            ],
        );
        let ranking = rank(&[a, b, c, e], &r, &rules());
        let order: Vec<u128> = ranking
            .ranked
            .iter()
            .map(|x| x.application_id.as_u128())
            .collect();
        // passed first; among passed, higher party score (c, e: 15 > b: 14); then earlier (e before c).
        assert_eq!(order, vec![4, 3, 2, 1]);
        assert!(ranking
            .ranked
            .iter()
            .all(|x| x.final_score == Some(dec!(80))));
        assert_eq!(ranking.ranked[0].party_element_score, Some(dec!(15)));
        assert_eq!(ranking.ranked[0].party_judged_mean, Some(dec!(5)));
        assert_eq!(ranking.ranked[0].rank, Some(1));
    }

    #[test]
    fn too_few_scores_are_incomplete_and_pass_mark_is_reported() {
        let r = Rubric::default();
        let a = input(
            1,
            0,
            true,
            dec!(2),
            &[(9, dec!(40), dec!(5)), (8, dec!(40), dec!(5))],
        );
        let b = input(
            2,
            0,
            true,
            dec!(2),
            &[
                (9, dec!(50), dec!(5)),
                (8, dec!(50), dec!(5)),
                (7, dec!(50), dec!(5)),
            ],
        );
        let ranking = rank(&[a, b], &r, &rules());
        assert_eq!(ranking.ranked.len(), 1);
        assert_eq!(ranking.incomplete.len(), 1);
        assert_eq!(ranking.incomplete[0].final_score, None);
        assert_eq!(ranking.incomplete[0].rank, None);
        assert_eq!(ranking.ranked[0].final_score, Some(dec!(57)));
        assert!(!ranking.ranked[0].passes_pass_mark);
    }

    #[test]
    fn calibration_and_normalization() {
        let r = Rubric::default();
        let mut rl = rules();
        rl.score_normalization = true;
        // Reviewer 9 is 10 points harsher than 8 and 7 on every application.
        let apps: Vec<RankInput> = (0..4)
            .map(|i| {
                let base = dec!(50) + Decimal::from(i * 5);
                input(
                    i as u128 + 1,
                    i,
                    true,
                    dec!(0),
                    &[
                        (9, base - dec!(10), dec!(0)),
                        (8, base, dec!(0)),
                        (7, base, dec!(0)),
                    ],
                )
            })
            .collect();
        let ranking = rank(&apps, &r, &rl);
        let harsh = ranking
            .calibration
            .iter()
            .find(|c| c.reviewer_id == Uuid::from_u128(9))
            .unwrap();
        assert!(harsh.deviation_from_panel < dec!(-6), "{harsh:?}");
        assert_eq!(harsh.score_count, 4);
        // Normalization removes reviewer 9's offset: normalized scores keep the order and
        // differ from raw ones.
        assert!(ranking.normalized);
        let first = &ranking.ranked[0];
        assert_eq!(first.application_id, Uuid::from_u128(4));
        assert!(first.normalized_score.is_some());
        assert_ne!(first.normalized_score, first.final_score);
        assert_eq!(first.ranking_score, first.normalized_score);
    }

    #[test]
    fn allocation_fills_in_order_and_never_exceeds_the_pool() {
        let c = |id: u128, pass: bool, req: &str, adj: Option<&str>| AwardCandidate {
            application_id: Uuid::from_u128(id),
            passes_pass_mark: pass,
            requested: d(req),
            adjusted: adj.map(d),
        };
        let a = allocate(
            &[
                c(1, true, "60000", None),
                c(2, true, "50000", Some("30000")),
                c(3, true, "20000", None),
                c(4, true, "5000", None),
                c(5, false, "1000", None),
            ],
            &[Uuid::from_u128(6)],
            d("100000"),
        );
        let outcomes: Vec<AwardOutcome> = a.lines.iter().map(|l| l.outcome).collect();
        use AwardOutcome::*;
        assert_eq!(
            outcomes,
            vec![
                Funded,
                Funded,
                UnfundedPool,
                Funded,
                BelowPassMark,
                Incomplete
            ]
        );
        assert_eq!(a.total_awarded, d("95000"));
        assert_eq!(a.remaining_pool, d("5000"));
    }

    #[test]
    fn auto_assign_spreads_and_respects_affiliation() {
        let org_a = Uuid::from_u128(100);
        let org_b = Uuid::from_u128(200);
        let panel: Vec<PanelReviewer> = (1..=5)
            .map(|i| PanelReviewer {
                reviewer_id: Uuid::from_u128(i),
                affiliations: if i == 1 {
                    [org_a].into()
                } else {
                    HashSet::new()
                },
            })
            .collect();
        let apps: Vec<(Uuid, Uuid)> = (0..6)
            .map(|i| {
                (
                    Uuid::from_u128(1000 + i),
                    if i % 2 == 0 { org_a } else { org_b },
                )
            })
            .collect();
        let (new, short) = auto_assign(&apps, &panel, &[], 3);
        assert!(short.is_empty());
        assert_eq!(new.len(), 18);
        assert!(!new.iter().any(|(app, rev)| *rev == Uuid::from_u128(1)
            && apps.iter().find(|(a, _)| a == app).unwrap().1 == org_a));
        let mut load: HashMap<Uuid, usize> = HashMap::new();
        for (_, r) in &new {
            *load.entry(*r).or_default() += 1;
        }
        let (lo, hi) = (load.values().min().unwrap(), load.values().max().unwrap());
        assert!(
            hi - lo <= 1 || (load[&Uuid::from_u128(1)] < *hi),
            "{load:?}"
        );
        // Re-running fills gaps only: nothing new.
        let existing: Vec<ExistingAssignment> = new
            .iter()
            .map(|(a, r)| ExistingAssignment {
                application_id: *a,
                reviewer_id: *r,
                active: true,
            })
            .collect();
        let (again, _) = auto_assign(&apps, &panel, &existing, 3);
        assert!(again.is_empty());
        // A recusal leaves a gap that a re-run fills with someone else.
        let mut with_recusal = existing.clone();
        with_recusal[0].active = false;
        let (fill, _) = auto_assign(&apps, &panel, &with_recusal, 3);
        assert_eq!(fill.len(), 1);
        assert_eq!(fill[0].0, with_recusal[0].application_id);
        assert_ne!(fill[0].1, with_recusal[0].reviewer_id);
    }

    proptest! {
        #[test]
        fn trimmed_mean_lies_within_kept_scores(xs in proptest::collection::vec(0u32..=200, 1..12)) {
            let ds: Vec<Decimal> = xs.iter().map(|x| Decimal::new(i64::from(*x), 1) * dec!(5)).collect();
            let m = trimmed_mean(&ds).unwrap();
            let mut sorted = ds.clone();
            sorted.sort();
            prop_assert!(m >= sorted[0] && m <= sorted[sorted.len() - 1]);
            if ds.len() >= TRIM_FROM {
                // Moving the extremes further out changes nothing.
                let mut moved = sorted.clone();
                moved[0] = Decimal::ZERO - dec!(1000);
                let last = moved.len() - 1;
                moved[last] = dec!(10000);
                prop_assert_eq!(trimmed_mean(&moved).unwrap(), m);
            }
        }

        #[test]
        fn ranking_is_sorted_and_complete(
            apps in proptest::collection::vec((0u32..70, 0u32..=10, any::<bool>(), 0u32..=10, 0usize..6), 1..15)
        ) {
            let r = Rubric::default();
            let inputs: Vec<RankInput> = apps.iter().enumerate().map(|(i, (rest, party, passed, obj, n))| {
                let reviews: Vec<(u128, Decimal, Decimal)> = (0..*n).map(|j| (j as u128 + 1, Decimal::from(*rest + j as u32), Decimal::from(*party))).collect();
                input(i as u128 + 1, i as u32, *passed, Decimal::from(*obj), &reviews)
            }).collect();
            let ranking = rank(&inputs, &r, &rules());
            prop_assert_eq!(ranking.ranked.len() + ranking.incomplete.len(), inputs.len());
            for w in ranking.ranked.windows(2) {
                prop_assert_ne!(rank_order(&w[0], &w[1]), Ordering::Greater);
            }
            for row in &ranking.ranked {
                prop_assert!(row.score_count >= 3);
                prop_assert_eq!(row.final_score.unwrap().scale() <= 2, true);
            }
        }

        #[test]
        fn the_order_of_an_applications_sheets_does_not_change_the_ranking(
            apps in proptest::collection::vec((0u32..70, 0u32..=10, 0u32..=10, 0usize..7), 1..12)
        ) {
            // The ranking reads sheets in no particular order from the database.
            let r = Rubric::default();
            let inputs: Vec<RankInput> = apps.iter().enumerate().map(|(i, (rest, party, obj, n))| {
                let reviews: Vec<(u128, Decimal, Decimal)> = (0..*n).map(|j| (j as u128 + 1, Decimal::from(*rest + 7 * j as u32 % 23), Decimal::from((*party + j as u32) % 11))).collect();
                input(i as u128 + 1, i as u32, true, Decimal::from(*obj), &reviews)
            }).collect();
            let mut reversed = inputs.clone();
            for a in &mut reversed {
                a.reviews.reverse();
            }
            prop_assert_eq!(rank(&inputs, &r, &rules()), rank(&reversed, &r, &rules()));
        }

        #[test]
        fn allocation_never_exceeds_pool(
            reqs in proptest::collection::vec((1u64..10_000_000, any::<bool>()), 0..30),
            pool in 1u64..50_000_000
        ) {
            let cands: Vec<AwardCandidate> = reqs.iter().enumerate().map(|(i, (cents, pass))| AwardCandidate {
                application_id: Uuid::from_u128(i as u128),
                passes_pass_mark: *pass,
                requested: Decimal::new(*cents as i64, 2),
                adjusted: None,
            }).collect();
            let pool = Decimal::new(pool as i64, 2);
            let a = allocate(&cands, &[], pool);
            let funded: Decimal = a.lines.iter().map(|l| l.amount).sum();
            prop_assert!(funded <= pool);
            prop_assert_eq!(funded, a.total_awarded);
            prop_assert_eq!(a.remaining_pool, pool - funded);
            for (l, c) in a.lines.iter().zip(&cands) {
                if l.outcome == AwardOutcome::Funded { prop_assert!(c.passes_pass_mark); }
                if l.outcome == AwardOutcome::UnfundedPool { prop_assert!(c.requested > a.remaining_pool); }
            }
        }
    }
}
