//! Spending against the approved budget: budget execution (per category and per line, the
//! personnel share of what was spent, the flags), budget adjustments between lines, and the
//! party elements held against those planned. Pure functions over exact decimals.
//!
//! Amounts are `Money` (below 10^14) and the rules' shares are within `bounds::RATIO`, so sums
//! over any realistic number of rows stay exact; the arithmetic saturates (or answers `None`)
//! rather than panic on values past those bounds.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::budget::{BudgetCategory, FundedBy};
use super::money::Money;
use super::violation::Violation;

string_enum! {
    pub enum ReportPeriod {
        /// 中期: frozen before the mid-term evaluation.
        MidTerm = "mid_term",
        /// 末期: frozen before the final evaluation.
        Final = "final",
    }
}

/// One line of an approved budget (the application's, or the latest approved adjustment's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BudgetLineAmount {
    /// The application's budget line.
    pub id: Uuid,
    pub position: i32,
    pub category: BudgetCategory,
    pub description: String,
    pub funded_by: FundedBy,
    pub amount: Money,
}

/// One expenditure as the computation needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spend {
    pub category: BudgetCategory,
    pub budget_line: Option<Uuid>,
    pub amount: Decimal,
}

/// What the execution is judged against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecutionRules {
    /// The round's `budget_adjustment_tolerance` ("0.10").
    pub tolerance: Decimal,
    /// The round's `max_personnel_ratio` ("0.50"), applied to actual spending.
    pub max_personnel_ratio: Decimal,
    /// What the bureau has paid out on the grant so far.
    pub paid_in: Decimal,
}

/// An amount that may be negative (an overspent line's remaining budget), two fraction digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SignedAmount(#[serde(with = "rust_decimal::serde::str")] Decimal);

impl SignedAmount {
    pub fn new(d: Decimal) -> Self {
        let mut d = d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        d.rescale(2);
        Self(d)
    }
    pub fn amount(self) -> Decimal {
        self.0
    }
}

impl utoipa::PartialSchema for SignedAmount {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^-?[0-9]{1,14}\.[0-9]{2}$"))
            .description(Some(
                "Yuan with two fraction digits; negative when overspent, e.g. \"-120.00\"",
            ))
            .into()
    }
}
impl utoipa::ToSchema for SignedAmount {}

/// spent / budget as a percentage with two fraction digits ("45.23"); `None` for a zero budget.
pub fn percent(part: Decimal, whole: Decimal) -> Option<Decimal> {
    if whole.is_zero() {
        return None;
    }
    let mut p = part
        .checked_mul(Decimal::ONE_HUNDRED)?
        .checked_div(whole)?
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    p.rescale(2);
    Some(p)
}

/// Over the budget by more than the tolerance: spent > budget × (1 + tolerance), exactly.
/// With a zero budget any spending is over.
pub fn over_tolerance(spent: Decimal, budget: Decimal, tolerance: Decimal) -> bool {
    spent > budget.saturating_mul(Decimal::ONE.saturating_add(tolerance))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CategoryExecution {
    pub category: BudgetCategory,
    pub budget: Money,
    pub spent: Money,
    pub remaining: SignedAmount,
    /// spent / budget × 100, two fraction digits; null for a zero budget.
    #[schema(value_type = Option<String>, example = "45.23")]
    pub percent_spent: Option<Decimal>,
    /// Spent more than budget × (1 + tolerance).
    pub over_tolerance: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LineExecution {
    pub budget_line: Uuid,
    pub position: i32,
    pub category: BudgetCategory,
    pub description: String,
    pub funded_by: FundedBy,
    pub budget: Money,
    /// Expenditures recorded against this line.
    pub spent: Money,
    pub remaining: SignedAmount,
    #[schema(value_type = Option<String>, example = "45.23")]
    pub percent_spent: Option<Decimal>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ExecutionTotals {
    pub budget: Money,
    pub grant_funded_budget: Money,
    pub self_funded_budget: Money,
    pub spent: Money,
    /// Spending recorded without a budget line (counted in its category).
    pub spent_without_line: Money,
    pub remaining: SignedAmount,
    #[schema(value_type = Option<String>, example = "45.23")]
    pub percent_spent: Option<Decimal>,
}

/// Rule 2 applied to what was actually spent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PersonnelShare {
    pub spent: Money,
    /// Personnel spending / all spending × 100; null while nothing is spent.
    #[schema(value_type = Option<String>, example = "48.00")]
    pub percent_of_spent: Option<Decimal>,
    /// The round's `max_personnel_ratio` × 100.
    #[schema(value_type = String, example = "50.00")]
    pub limit_percent: Decimal,
    pub over_limit: bool,
}

/// Money available to spend: what the bureau paid in plus the organization's own share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FundsCheck {
    pub paid_in: Money,
    pub self_funded: Money,
    pub available: Money,
    pub spent: Money,
    pub over_available: bool,
}

/// A finding the program office should look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExecutionFlag {
    /// `category_over_budget`, `personnel_ratio`, `spent_above_funds`.
    pub rule: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<BudgetCategory>,
    pub limit: String,
    pub actual: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Execution {
    /// Every budget category that has a budget or spending, in the categories' order.
    pub categories: Vec<CategoryExecution>,
    /// Every budget line, in position order.
    pub lines: Vec<LineExecution>,
    pub totals: ExecutionTotals,
    pub personnel: PersonnelShare,
    pub funds: FundsCheck,
    /// The round's `budget_adjustment_tolerance` × 100.
    #[schema(value_type = String, example = "10.00")]
    pub tolerance_percent: Decimal,
    pub flags: Vec<ExecutionFlag>,
}

fn m(d: Decimal) -> Money {
    // Sums of non-negative two-digit amounts; clamp only guards a corrupted input.
    Money::new(d.max(Decimal::ZERO)).unwrap_or(Money::ZERO)
}

fn pct(d: Decimal) -> Decimal {
    let mut p = d.saturating_mul(Decimal::ONE_HUNDRED);
    p.rescale(2);
    p
}

/// The budget execution: budget (after approved adjustments) against spending, per category
/// and per line, with totals, the personnel share of spending and the flags.
pub fn execution(
    budget: &[BudgetLineAmount],
    spending: &[Spend],
    rules: ExecutionRules,
) -> Execution {
    let mut by_cat: BTreeMap<BudgetCategory, (Decimal, Decimal)> = BTreeMap::new();
    let mut by_line: BTreeMap<Uuid, Decimal> = BTreeMap::new();
    let (mut total_budget, mut grant_budget, mut self_budget) =
        (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for l in budget {
        let a = l.amount.amount();
        let cat = by_cat.entry(l.category).or_default();
        cat.0 = cat.0.saturating_add(a);
        total_budget = total_budget.saturating_add(a);
        match l.funded_by {
            FundedBy::Grant => grant_budget = grant_budget.saturating_add(a),
            FundedBy::SelfFunded => self_budget = self_budget.saturating_add(a),
        }
    }
    let (mut spent, mut without_line, mut personnel) =
        (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for s in spending {
        let cat = by_cat.entry(s.category).or_default();
        cat.1 = cat.1.saturating_add(s.amount);
        spent = spent.saturating_add(s.amount);
        if s.category == BudgetCategory::Personnel {
            personnel = personnel.saturating_add(s.amount);
        }
        match s.budget_line {
            Some(id) if budget.iter().any(|l| l.id == id) => {
                let line = by_line.entry(id).or_default();
                *line = line.saturating_add(s.amount);
            }
            _ => without_line = without_line.saturating_add(s.amount),
        }
    }
    let mut flags = Vec::new();
    let categories: Vec<CategoryExecution> = by_cat
        .into_iter()
        .map(|(category, (b, s))| {
            let over = over_tolerance(s, b, rules.tolerance);
            if over {
                flags.push(ExecutionFlag {
                    rule: "category_over_budget".into(),
                    message: format!(
                        "{category} spending is over its budget by more than the tolerance, without an approved adjustment"
                    ),
                    category: Some(category),
                    limit: m(b.saturating_mul(Decimal::ONE.saturating_add(rules.tolerance)))
                        .to_string(),
                    actual: m(s).to_string(),
                });
            }
            CategoryExecution {
                category,
                budget: m(b),
                spent: m(s),
                remaining: SignedAmount::new(b.saturating_sub(s)),
                percent_spent: percent(s, b),
                over_tolerance: over,
            }
        })
        .collect();
    let mut lines: Vec<LineExecution> = budget
        .iter()
        .map(|l| {
            let s = by_line.get(&l.id).copied().unwrap_or_default();
            LineExecution {
                budget_line: l.id,
                position: l.position,
                category: l.category,
                description: l.description.clone(),
                funded_by: l.funded_by,
                budget: l.amount,
                spent: m(s),
                remaining: SignedAmount::new(l.amount.amount().saturating_sub(s)),
                percent_spent: percent(s, l.amount.amount()),
            }
        })
        .collect();
    lines.sort_by_key(|l| (l.position, l.budget_line));
    let personnel_over =
        spent > Decimal::ZERO && personnel > rules.max_personnel_ratio.saturating_mul(spent);
    if personnel_over {
        flags.push(ExecutionFlag {
            rule: "personnel_ratio".into(),
            message: "personnel spending exceeds the allowed share of all spending".into(),
            category: Some(BudgetCategory::Personnel),
            limit: format!("{}%", pct(rules.max_personnel_ratio)),
            actual: format!("{}%", percent(personnel, spent).unwrap_or_default()),
        });
    }
    let available = rules.paid_in.saturating_add(self_budget);
    let over_available = spent > available;
    if over_available {
        flags.push(ExecutionFlag {
            rule: "spent_above_funds".into(),
            message: "spending is above what the grant paid in plus the self-funded budget".into(),
            category: None,
            limit: m(available).to_string(),
            actual: m(spent).to_string(),
        });
    }
    Execution {
        categories,
        lines,
        totals: ExecutionTotals {
            budget: m(total_budget),
            grant_funded_budget: m(grant_budget),
            self_funded_budget: m(self_budget),
            spent: m(spent),
            spent_without_line: m(without_line),
            remaining: SignedAmount::new(total_budget.saturating_sub(spent)),
            percent_spent: percent(spent, total_budget),
        },
        personnel: PersonnelShare {
            spent: m(personnel),
            percent_of_spent: percent(personnel, spent),
            limit_percent: pct(rules.max_personnel_ratio),
            over_limit: personnel_over,
        },
        funds: FundsCheck {
            paid_in: m(rules.paid_in),
            self_funded: m(self_budget),
            available: m(available),
            spent: m(spent),
            over_available,
        },
        tolerance_percent: pct(rules.tolerance),
        flags,
    }
}

// ---------------------------------------------------------------- expenditures

/// Today in China (UTC+8, no daylight saving): the day a grantee's receipts are dated in.
pub fn today_in_china(now: chrono::DateTime<chrono::Utc>) -> NaiveDate {
    now.checked_add_signed(chrono::Duration::hours(8))
        .unwrap_or(now)
        .date_naive()
}

/// Checks an expenditure's date: within the project's dates and not after today.
pub fn check_spent_on(
    spent_on: NaiveDate,
    project: (Option<NaiveDate>, Option<NaiveDate>),
    today: NaiveDate,
    field: &str,
) -> Vec<Violation> {
    let mut v = Vec::new();
    if spent_on > today {
        v.push(
            Violation::new(
                "not_in_future",
                "spending is recorded once it happened, not before",
            )
            .limit(format!("<= {today}"))
            .actual(spent_on)
            .field(field),
        );
    }
    let (start, end) = project;
    if start.is_some_and(|s| spent_on < s) || end.is_some_and(|e| spent_on > e) {
        v.push(
            Violation::new("project_dates", "spending falls within the project's dates")
                .limit(format!(
                    "{} .. {}",
                    start.map(|d| d.to_string()).unwrap_or_default(),
                    end.map(|d| d.to_string()).unwrap_or_default()
                ))
                .actual(spent_on)
                .field(field),
        );
    }
    v
}

/// Checks a text field's length after trimming.
pub fn check_text(value: &str, field: &str, max: usize, out: &mut Vec<Violation>) {
    let n = value.trim().chars().count();
    if n == 0 || n > max {
        out.push(
            Violation::new("length", format!("{field} has 1 to {max} characters"))
                .limit(format!("1..{max}"))
                .actual(n)
                .field(field),
        );
    }
}

// ---------------------------------------------------------------- adjustments

/// Moving an amount from one budget line to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetMove {
    /// The line giving the amount (a budget line id of the grant's application).
    pub from_line: Uuid,
    pub to_line: Uuid,
    pub amount: Money,
}

pub const MAX_MOVES: usize = 50;

/// Applies the moves to the budget, or lists every problem: unknown lines, a line moved to
/// itself, a zero amount, a line that would go below zero.
pub fn apply_moves(
    budget: &[BudgetLineAmount],
    moves: &[BudgetMove],
) -> Result<Vec<BudgetLineAmount>, Vec<Violation>> {
    let mut v = Vec::new();
    if moves.is_empty() || moves.len() > MAX_MOVES {
        v.push(
            Violation::new("moves", "an adjustment has 1 to 50 moves")
                .limit(format!("1..{MAX_MOVES}"))
                .actual(moves.len())
                .field("moves"),
        );
    }
    let mut amounts: BTreeMap<Uuid, Decimal> =
        budget.iter().map(|l| (l.id, l.amount.amount())).collect();
    for (i, mv) in moves.iter().enumerate() {
        for (id, f) in [(mv.from_line, "from_line"), (mv.to_line, "to_line")] {
            if !amounts.contains_key(&id) {
                v.push(
                    Violation::new("budget_line", "not a line of this grant's budget")
                        .actual(id)
                        .field(format!("moves[{i}].{f}")),
                );
            }
        }
        if mv.from_line == mv.to_line {
            v.push(
                Violation::new("same_line", "a move goes from one line to another")
                    .field(format!("moves[{i}].to_line")),
            );
        }
        if mv.amount.amount().is_zero() {
            v.push(
                Violation::new("range", "a moved amount is above 0")
                    .limit("> 0")
                    .actual(mv.amount)
                    .field(format!("moves[{i}].amount")),
            );
        }
        if let Some(a) = amounts.get_mut(&mv.from_line) {
            *a = a.saturating_sub(mv.amount.amount());
        }
        if let Some(a) = amounts.get_mut(&mv.to_line) {
            *a = a.saturating_add(mv.amount.amount());
        }
    }
    for l in budget {
        let a = amounts[&l.id];
        if a < Decimal::ZERO {
            v.push(
                Violation::new("line_balance", "a budget line cannot go below zero")
                    .limit("0.00")
                    .actual(SignedAmount::new(a).amount())
                    .field(format!("lines[{}]", l.position)),
            );
        }
    }
    if !v.is_empty() {
        return Err(v);
    }
    Ok(budget
        .iter()
        .map(|l| BudgetLineAmount {
            amount: m(amounts[&l.id]),
            ..l.clone()
        })
        .collect())
}

/// Every rule re-checked on an adjusted budget: the personnel share (rule 2), the total and the
/// grant-funded total unchanged (they change only with the award).
pub fn check_adjusted(
    before: &[BudgetLineAmount],
    after: &[BudgetLineAmount],
    max_personnel_ratio: Decimal,
) -> Vec<Violation> {
    let sums = |ls: &[BudgetLineAmount]| {
        super::budget::summarize(
            ls.iter()
                .map(|l| (l.category, l.funded_by, l.amount.amount())),
        )
    };
    let (b, a) = (sums(before), sums(after));
    let mut v = Vec::new();
    if a.personnel > max_personnel_ratio.saturating_mul(a.total) {
        v.push(
            Violation::new(
                "personnel_ratio",
                "personnel costs exceed the allowed share of the budget total",
            )
            .limit(format!("{}%", pct(max_personnel_ratio)))
            .actual(format!(
                "{}%",
                percent(a.personnel, a.total).unwrap_or_default()
            ))
            .field("moves"),
        );
    }
    if a.total != b.total {
        v.push(
            Violation::new(
                "budget_total_unchanged",
                "an adjustment keeps the budget total",
            )
            .limit(m(b.total))
            .actual(m(a.total))
            .field("moves"),
        );
    }
    if a.grant_funded != b.grant_funded {
        v.push(
            Violation::new(
                "grant_total_unchanged",
                "an adjustment keeps the grant-funded total (it changes only with the award)",
            )
            .limit(m(b.grant_funded))
            .actual(m(a.grant_funded))
            .field("moves"),
        );
    }
    v
}

// ---------------------------------------------------------------- party elements

/// What the application declared (rule 5's facts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PartyPlan {
    pub party_members_on_team: u32,
    pub party_activity_count: u32,
    pub party_activity_description: String,
    pub red_project: bool,
}

/// One party-themed activity held (主题党日, 党员志愿服务…).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeldActivity {
    pub held_on: NaiveDate,
    pub title: String,
    #[serde(default)]
    #[schema(maximum = 10_000_000)]
    pub participants: u32,
}

/// What the grantee reports as held.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartyActual {
    #[serde(default)]
    pub activities_held: Vec<HeldActivity>,
    #[serde(default)]
    #[schema(maximum = 10_000_000)]
    pub party_members_on_team: u32,
    #[serde(default)]
    pub red_project_delivered: bool,
}

/// The most people one count of a report may name: the bound of the application's own counts.
pub const MAX_PEOPLE: u32 = 10_000_000;

impl PartyActual {
    /// Counts beyond any project's size, each named by its field (`party.…`).
    pub fn violations(&self) -> Vec<Violation> {
        // The message names the count, not the path (the field does), so the catalog has it.
        let too_many = |name: &str, field: String, value: u32| {
            (value > MAX_PEOPLE).then(|| {
                Violation::new("range", format!("{name} is at most {MAX_PEOPLE}"))
                    .limit(MAX_PEOPLE)
                    .actual(value)
                    .field(field)
            })
        };
        let mut v: Vec<Violation> = self
            .activities_held
            .iter()
            .enumerate()
            .filter_map(|(i, a)| {
                too_many(
                    "participants",
                    format!("party.activities_held[{i}].participants"),
                    a.participants,
                )
            })
            .collect();
        v.extend(too_many(
            "party_members_on_team",
            "party.party_members_on_team".into(),
            self.party_members_on_team,
        ));
        v
    }
}

/// A planned element that did not happen (as planned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PartyGap {
    /// `party_activities`, `party_members_on_team` or `red_project`.
    pub element: String,
    pub planned: String,
    pub actual: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PartyComparison {
    pub planned: PartyPlan,
    pub actual: PartyActual,
    /// Every planned element that fell short; empty when all happened.
    pub gaps: Vec<PartyGap>,
}

pub const MAX_ACTIVITIES: usize = 100;

/// Checks the reported activities: 1–200 character titles, dates within the project and not
/// after today, at most 100.
pub fn check_actual(
    actual: &PartyActual,
    project: (Option<NaiveDate>, Option<NaiveDate>),
    today: NaiveDate,
) -> Vec<Violation> {
    let mut v = Vec::new();
    if actual.activities_held.len() > MAX_ACTIVITIES {
        v.push(
            Violation::new("length", "at most 100 activities")
                .limit(MAX_ACTIVITIES)
                .actual(actual.activities_held.len())
                .field("party.activities_held"),
        );
    }
    for (i, a) in actual.activities_held.iter().enumerate() {
        check_text(
            &a.title,
            &format!("party.activities_held[{i}].title"),
            200,
            &mut v,
        );
        v.extend(check_spent_on(
            a.held_on,
            project,
            today,
            &format!("party.activities_held[{i}].held_on"),
        ));
    }
    v
}

/// The party elements held against those planned: a gap for each planned element that fell
/// short (fewer activities, no party member left on the team, a red project not delivered).
pub fn compare_party(planned: &PartyPlan, actual: &PartyActual) -> PartyComparison {
    let mut gaps = Vec::new();
    let held = actual.activities_held.len() as u32;
    if held < planned.party_activity_count {
        gaps.push(PartyGap {
            element: "party_activities".into(),
            planned: planned.party_activity_count.to_string(),
            actual: held.to_string(),
        });
    }
    if planned.party_members_on_team > 0 && actual.party_members_on_team == 0 {
        gaps.push(PartyGap {
            element: "party_members_on_team".into(),
            planned: planned.party_members_on_team.to_string(),
            actual: "0".into(),
        });
    }
    if planned.red_project && !actual.red_project_delivered {
        gaps.push(PartyGap {
            element: "red_project".into(),
            planned: "true".into(),
            actual: "false".into(),
        });
    }
    PartyComparison {
        planned: planned.clone(),
        actual: PartyActual {
            activities_held: {
                let mut a = actual.activities_held.clone();
                for x in &mut a {
                    x.title = x.title.trim().to_string();
                }
                a
            },
            ..actual.clone()
        },
        gaps,
    }
}

#[cfg(test)]
// Test code: an overflow here fails a test; it never serves a request.
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn report_counts_beyond_any_project_are_named_by_field() {
        let ok = PartyActual {
            activities_held: vec![HeldActivity {
                held_on: NaiveDate::from_ymd_opt(2027, 3, 1).unwrap(),
                title: "主题党日".into(),
                participants: MAX_PEOPLE,
            }],
            party_members_on_team: MAX_PEOPLE,
            red_project_delivered: false,
        };
        assert!(ok.violations().is_empty());
        let mut bad = ok.clone();
        bad.activities_held[0].participants = MAX_PEOPLE + 1;
        bad.party_members_on_team = 2_147_483_648;
        let v = bad.violations();
        let fields: Vec<_> = v
            .iter()
            .map(|x| x.field.clone().unwrap_or_default())
            .collect();
        assert_eq!(
            fields,
            [
                "party.activities_held[0].participants",
                "party.party_members_on_team"
            ]
        );
        assert!(v.iter().all(|x| x.rule == "range"));
    }
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn line(
        pos: i32,
        category: BudgetCategory,
        funded_by: FundedBy,
        amount: &str,
    ) -> BudgetLineAmount {
        BudgetLineAmount {
            id: Uuid::from_u128(pos as u128 + 1),
            position: pos,
            category,
            description: format!("line {pos}"),
            funded_by,
            amount: Money::parse(amount).unwrap(),
        }
    }

    fn budget() -> Vec<BudgetLineAmount> {
        vec![
            line(0, BudgetCategory::Personnel, FundedBy::Grant, "40000"),
            line(1, BudgetCategory::Activities, FundedBy::Grant, "40000"),
            line(2, BudgetCategory::Materials, FundedBy::SelfFunded, "20000"),
        ]
    }

    fn rules() -> ExecutionRules {
        ExecutionRules {
            tolerance: dec!(0.10),
            max_personnel_ratio: dec!(0.50),
            paid_in: dec!(40000),
        }
    }

    fn spend(category: BudgetCategory, line: Option<i32>, amount: &str) -> Spend {
        Spend {
            category,
            budget_line: line.map(|p| Uuid::from_u128(p as u128 + 1)),
            amount: amount.parse().unwrap(),
        }
    }

    #[test]
    fn tolerance_boundary_is_exact() {
        // 10.00% over: not flagged; 10.01% over: flagged.
        let at = execution(
            &budget(),
            &[spend(BudgetCategory::Activities, Some(1), "44000.00")],
            rules(),
        );
        let c = at
            .categories
            .iter()
            .find(|c| c.category == BudgetCategory::Activities)
            .unwrap();
        assert!(!c.over_tolerance);
        assert_eq!(c.percent_spent, Some(dec!(110.00)));
        assert_eq!(c.remaining.amount(), dec!(-4000.00));
        assert!(at.flags.iter().all(|f| f.rule != "category_over_budget"));
        let over = execution(
            &budget(),
            &[spend(BudgetCategory::Activities, Some(1), "44004.00")],
            rules(),
        );
        let c = over
            .categories
            .iter()
            .find(|c| c.category == BudgetCategory::Activities)
            .unwrap();
        assert!(c.over_tolerance);
        assert_eq!(c.percent_spent, Some(dec!(110.01)));
        let f = over
            .flags
            .iter()
            .find(|f| f.rule == "category_over_budget")
            .unwrap();
        assert_eq!(f.limit, "44000.00");
        assert_eq!(f.actual, "44004.00");
        assert!(
            over_tolerance(dec!(0.01), Decimal::ZERO, dec!(0.10)),
            "no budget: any spending is over"
        );
        assert!(!over_tolerance(Decimal::ZERO, Decimal::ZERO, dec!(0.10)));
    }

    #[test]
    fn personnel_share_of_spending_and_funds() {
        let e = execution(
            &budget(),
            &[
                spend(BudgetCategory::Personnel, Some(0), "5000.00"),
                spend(BudgetCategory::Activities, None, "5000.00"),
            ],
            rules(),
        );
        assert_eq!(e.personnel.percent_of_spent, Some(dec!(50.00)));
        assert!(!e.personnel.over_limit, "50.00% passes");
        assert_eq!(e.totals.spent_without_line.to_string(), "5000.00");
        assert_eq!(
            e.lines[1].spent,
            Money::ZERO,
            "unassigned spending counts in its category only"
        );
        assert_eq!(
            e.categories
                .iter()
                .find(|c| c.category == BudgetCategory::Activities)
                .unwrap()
                .spent
                .to_string(),
            "5000.00"
        );
        let e = execution(
            &budget(),
            &[
                spend(BudgetCategory::Personnel, Some(0), "5001.00"),
                spend(BudgetCategory::Activities, None, "4999.00"),
            ],
            rules(),
        );
        assert!(e.personnel.over_limit, "50.01% fails");
        assert!(e
            .flags
            .iter()
            .any(|f| f.rule == "personnel_ratio" && f.actual == "50.01%"));
        // Paid in 40,000 + self-funded 20,000 = 60,000 available.
        let e = execution(
            &budget(),
            &[spend(BudgetCategory::Activities, Some(1), "60000.00")],
            rules(),
        );
        assert!(!e.funds.over_available);
        let e = execution(
            &budget(),
            &[spend(BudgetCategory::Activities, Some(1), "60000.01")],
            rules(),
        );
        assert!(e.funds.over_available);
        assert!(e.flags.iter().any(|f| f.rule == "spent_above_funds"));
    }

    #[test]
    fn a_category_without_budget_shows_up() {
        let e = execution(
            &budget(),
            &[spend(BudgetCategory::Venue, None, "10.00")],
            rules(),
        );
        let c = e
            .categories
            .iter()
            .find(|c| c.category == BudgetCategory::Venue)
            .unwrap();
        assert_eq!(c.percent_spent, None);
        assert!(c.over_tolerance);
        assert_eq!(e.totals.percent_spent, Some(dec!(0.01)));
    }

    #[test]
    fn moves_are_checked_and_rules_rechecked() {
        let b = budget();
        let mv = |from: i32, to: i32, amount: &str| BudgetMove {
            from_line: b[from as usize].id,
            to_line: b[to as usize].id,
            amount: Money::parse(amount).unwrap(),
        };
        let after = apply_moves(&b, &[mv(1, 0, "10000")]).unwrap();
        assert_eq!(after[0].amount.to_string(), "50000.00");
        assert!(
            check_adjusted(&b, &after, dec!(0.50)).is_empty(),
            "50.00% passes"
        );
        let after = apply_moves(&b, &[mv(1, 0, "10010")]).unwrap();
        let v = check_adjusted(&b, &after, dec!(0.50));
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].rule, "personnel_ratio");
        assert_eq!(v[0].actual.as_deref(), Some("50.01%"));
        // Grant money moved to a self-funded line changes the grant-funded total.
        let after = apply_moves(&b, &[mv(1, 2, "1")]).unwrap();
        let v = check_adjusted(&b, &after, dec!(0.50));
        assert_eq!(
            v.iter().map(|x| x.rule.as_str()).collect::<Vec<_>>(),
            ["grant_total_unchanged"]
        );
        // Every problem at once.
        let e = apply_moves(
            &b,
            &[
                mv(1, 1, "0"),
                BudgetMove {
                    from_line: Uuid::nil(),
                    ..mv(0, 1, "1")
                },
                mv(2, 0, "20000.01"),
            ],
        )
        .unwrap_err();
        let rules: Vec<&str> = e.iter().map(|x| x.rule.as_str()).collect();
        assert_eq!(rules, ["same_line", "range", "budget_line", "line_balance"]);
        assert!(apply_moves(&b, &[]).is_err());
    }

    #[test]
    fn party_gaps() {
        let plan = PartyPlan {
            party_members_on_team: 1,
            party_activity_count: 2,
            party_activity_description: "重温入党誓词".into(),
            red_project: true,
        };
        let held = |n: usize| HeldActivity {
            held_on: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
            title: format!(" 主题党日 {n} "),
            participants: 12,
        };
        let c = compare_party(&plan, &PartyActual::default());
        let els: Vec<&str> = c.gaps.iter().map(|g| g.element.as_str()).collect();
        assert_eq!(
            els,
            ["party_activities", "party_members_on_team", "red_project"]
        );
        let c = compare_party(
            &plan,
            &PartyActual {
                activities_held: vec![held(1), held(2)],
                party_members_on_team: 1,
                red_project_delivered: true,
            },
        );
        assert!(c.gaps.is_empty());
        assert_eq!(c.actual.activities_held[0].title, "主题党日 1");
        let today = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let project = (
            NaiveDate::from_ymd_opt(2026, 9, 1),
            NaiveDate::from_ymd_opt(2027, 8, 31),
        );
        let mut bad = held(1);
        bad.held_on = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        bad.title = " ".into();
        let v = check_actual(
            &PartyActual {
                activities_held: vec![bad],
                ..Default::default()
            },
            project,
            today,
        );
        let rules: Vec<&str> = v.iter().map(|x| x.rule.as_str()).collect();
        assert_eq!(rules, ["length", "not_in_future"]);
    }

    #[test]
    fn spent_on_bounds() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let p = (
            NaiveDate::from_ymd_opt(2026, 9, 1),
            NaiveDate::from_ymd_opt(2027, 8, 31),
        );
        assert!(check_spent_on(today, p, today, "spent_on").is_empty());
        assert!(check_spent_on(p.0.unwrap(), p, today, "spent_on").is_empty());
        let d = |y, mo, da| NaiveDate::from_ymd_opt(y, mo, da).unwrap();
        assert_eq!(
            check_spent_on(d(2026, 8, 31), p, today, "spent_on")[0].rule,
            "project_dates"
        );
        assert_eq!(
            check_spent_on(d(2026, 12, 3), p, today, "spent_on")[0].rule,
            "not_in_future"
        );
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-02T16:30:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            today_in_china(now),
            d(2026, 12, 3),
            "past 16:00 UTC it is tomorrow in Beijing"
        );
    }

    fn arb_budget() -> impl Strategy<Value = Vec<BudgetLineAmount>> {
        proptest::collection::vec((0usize..8, any::<bool>(), 0i64..5_000_000), 1..12).prop_map(
            |ls| {
                ls.into_iter()
                    .enumerate()
                    .map(|(i, (c, g, cents))| BudgetLineAmount {
                        id: Uuid::from_u128(i as u128 + 1),
                        position: i as i32,
                        category: BudgetCategory::ALL[c],
                        description: String::new(),
                        funded_by: if g {
                            FundedBy::Grant
                        } else {
                            FundedBy::SelfFunded
                        },
                        amount: Money::new(Decimal::new(cents, 2)).unwrap(),
                    })
                    .collect()
            },
        )
    }

    proptest! {
        #[test]
        fn execution_adds_up(
            b in arb_budget(),
            spends in proptest::collection::vec((0usize..8, proptest::option::of(0u128..14), 1i64..3_000_000), 0..30),
            tol in 0i64..=100,
        ) {
            let spends: Vec<Spend> = spends.iter().map(|(c, l, cents)| Spend {
                category: BudgetCategory::ALL[*c],
                budget_line: l.map(|x| Uuid::from_u128(x + 1)),
                amount: Decimal::new(*cents, 2),
            }).collect();
            let r = ExecutionRules { tolerance: Decimal::new(tol, 2), max_personnel_ratio: dec!(0.5), paid_in: dec!(1000) };
            let e = execution(&b, &spends, r);
            let total: Decimal = spends.iter().map(|s| s.amount).sum();
            prop_assert_eq!(e.totals.spent.amount(), total);
            let cat_spent: Decimal = e.categories.iter().map(|c| c.spent.amount()).sum();
            prop_assert_eq!(cat_spent, total);
            let cat_budget: Decimal = e.categories.iter().map(|c| c.budget.amount()).sum();
            prop_assert_eq!(cat_budget, e.totals.budget.amount());
            let line_spent: Decimal = e.lines.iter().map(|l| l.spent.amount()).sum();
            prop_assert_eq!(line_spent + e.totals.spent_without_line.amount(), total);
            prop_assert_eq!(e.totals.remaining.amount(), e.totals.budget.amount() - total);
            for c in &e.categories {
                prop_assert_eq!(c.over_tolerance, c.spent.amount() > c.budget.amount() * (Decimal::ONE + r.tolerance));
                prop_assert_eq!(c.over_tolerance, e.flags.iter().any(|f| f.category == Some(c.category) && f.rule == "category_over_budget"));
            }
        }

        #[test]
        fn moves_keep_the_total(b in arb_budget(), moves in proptest::collection::vec((0u128..12, 0u128..12, 1i64..1_000_000), 1..6)) {
            let moves: Vec<BudgetMove> = moves.iter().map(|(f, t, cents)| BudgetMove {
                from_line: Uuid::from_u128(f + 1),
                to_line: Uuid::from_u128(t + 1),
                amount: Money::new(Decimal::new(*cents, 2)).unwrap(),
            }).collect();
            if let Ok(after) = apply_moves(&b, &moves) {
                let sum = |ls: &[BudgetLineAmount]| ls.iter().map(|l| l.amount.amount()).sum::<Decimal>();
                prop_assert_eq!(sum(&after), sum(&b));
                prop_assert!(after.iter().all(|l| l.amount.amount() >= Decimal::ZERO));
                prop_assert!(check_adjusted(&b, &after, Decimal::ONE).iter().all(|v| v.rule != "budget_total_unchanged"));
            }
        }
    }
}
