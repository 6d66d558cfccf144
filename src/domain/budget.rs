//! Budget lines and their sums. Amounts are computed here, never taken from the client.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::bounds;
use super::money::{round_fen, Money};
use super::violation::Violation;

string_enum! {
    pub enum BudgetCategory {
        /// Staff salaries and wages (rule 2).
        Personnel = "personnel",
        Activities = "activities",
        Materials = "materials",
        Venue = "venue",
        Publicity = "publicity",
        Training = "training",
        Administration = "administration",
        Other = "other",
    }
}

string_enum! {
    pub enum FundedBy {
        Grant = "grant",
        /// 自筹: the organization's own money.
        SelfFunded = "self",
    }
}

pub const MAX_LINES: usize = 200;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetLineInput {
    pub category: BudgetCategory,
    pub description: String,
    /// Above 0, at most 10,000,000, with at most 2 fraction digits, as a string ("12", "1.5").
    #[serde(deserialize_with = "super::bounds::quantity")]
    #[schema(schema_with = super::bounds::quantity_schema)]
    pub quantity: Decimal,
    pub unit_cost: Money,
    pub funded_by: FundedBy,
}

/// A line's amount is below this (one line of a project budget: 100 billion yuan).
pub const MAX_LINE_AMOUNT: Decimal = Decimal::from_parts(1_215_752_192, 23, 0, false, 0);

/// quantity × unit cost, rounded half-up to the fen; `None` when the product overflows (it
/// cannot within `bounds::QUANTITY` and `bounds::MONEY`: below 10^19).
pub fn line_amount(quantity: Decimal, unit_cost: Money) -> Option<Decimal> {
    quantity.checked_mul(unit_cost.amount()).map(round_fen)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BudgetSummary {
    pub total: Decimal,
    pub personnel: Decimal,
    pub grant_funded: Decimal,
    pub self_funded: Decimal,
}

pub fn summarize<'a>(
    lines: impl IntoIterator<Item = (BudgetCategory, FundedBy, Decimal)> + 'a,
) -> BudgetSummary {
    // Saturating: validated lines are each below MAX_LINE_AMOUNT and their total within
    // bounds::MONEY, so a clamp is never reached by them; for anything else the clamped sum
    // is still far past every limit it is compared with, instead of a panic.
    let mut s = BudgetSummary::default();
    for (category, funded_by, amount) in lines {
        s.total = s.total.saturating_add(amount);
        if category == BudgetCategory::Personnel {
            s.personnel = s.personnel.saturating_add(amount);
        }
        match funded_by {
            FundedBy::Grant => s.grant_funded = s.grant_funded.saturating_add(amount),
            FundedBy::SelfFunded => s.self_funded = s.self_funded.saturating_add(amount),
        }
    }
    s
}

pub fn validate_lines(lines: &[BudgetLineInput]) -> Vec<Violation> {
    let mut v = Vec::new();
    if lines.len() > MAX_LINES {
        v.push(
            Violation::new("budget_lines", "a budget has at most 200 lines")
                .limit(MAX_LINES)
                .actual(lines.len())
                .field("lines"),
        );
    }
    let mut total = Decimal::ZERO;
    for (i, l) in lines.iter().enumerate() {
        // Parsing already holds quantities to bounds::QUANTITY; this guards lines built in code.
        if l.quantity <= Decimal::ZERO
            || l.quantity.normalize().scale() > 2
            || l.quantity > Decimal::from(10_000_000)
        {
            v.push(
                Violation::new(
                    "quantity",
                    "quantity is above 0, at most 10,000,000, with at most 2 fraction digits",
                )
                .limit("(0, 10000000]")
                .actual(l.quantity)
                .field(format!("lines[{i}].quantity")),
            );
        }
        let n = l.description.trim().chars().count();
        if n == 0 || n > 500 {
            v.push(
                Violation::new("length", "a description has 1 to 500 characters")
                    .limit("1..500")
                    .actual(n)
                    .field(format!("lines[{i}].description")),
            );
        }
        match line_amount(l.quantity, l.unit_cost) {
            Some(amount) if amount < MAX_LINE_AMOUNT => total = total.saturating_add(amount),
            amount => v.push(
                Violation::new("amount", "a line's amount is below 100,000,000,000")
                    .limit("< 100000000000")
                    .actual(amount.map_or_else(|| "overflow".to_string(), |a| a.to_string()))
                    .field(format!("lines[{i}]")),
            ),
        }
    }
    // The budget total is stored like any amount (NUMERIC(14, 2)).
    if total > bounds::MONEY.max {
        v.push(
            Violation::new("range", "the budget total is below 1,000,000,000,000")
                .limit(bounds::MONEY.range())
                .actual(total)
                .field("lines"),
        );
    }
    v
}

#[cfg(test)]
// Test code: an overflow here fails a test; it never serves a request.
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    #[test]
    fn amounts_round_to_the_fen() {
        assert_eq!(
            line_amount(dec!(3), Money::parse("33.33").unwrap()),
            Some(dec!(99.99))
        );
        assert_eq!(
            line_amount(dec!(0.5), Money::parse("0.05").unwrap()),
            Some(dec!(0.03))
        );
        assert_eq!(
            line_amount(dec!(1.5), Money::parse("0.01").unwrap()),
            Some(dec!(0.02))
        );
        assert_eq!(MAX_LINE_AMOUNT, dec!(100000000000));
    }

    proptest! {
        #[test]
        fn sums_never_depend_on_line_order(
            mut lines in proptest::collection::vec((0usize..8, any::<bool>(), 0i64..10_000_000), 0..40),
            seed in any::<u64>(),
        ) {
            let to = |l: &(usize, bool, i64)| (BudgetCategory::ALL[l.0], if l.1 { FundedBy::Grant } else { FundedBy::SelfFunded }, Decimal::new(l.2, 2));
            let a = summarize(lines.iter().map(to));
            // A deterministic shuffle.
            let n = lines.len();
            for i in 0..n {
                let j = ((seed.wrapping_mul(i as u64 + 7)) % n as u64) as usize;
                lines.swap(i, j);
            }
            let b = summarize(lines.iter().map(to));
            prop_assert_eq!(a, b);
            prop_assert_eq!(a.total, a.grant_funded + a.self_funded);
            prop_assert!(a.personnel <= a.total);
        }
    }
}
