//! Checked decimal arithmetic for the rules. `Decimal`'s operators panic on overflow (and `/`
//! on a zero divisor); the domain uses these helpers, or an operator whose operands a bound
//! in `bounds` keeps small, with `#[allow]` and a comment naming that bound.

use rust_decimal::Decimal;

/// The sum, or `None` when it overflows.
pub fn checked_sum(values: impl IntoIterator<Item = Decimal>) -> Option<Decimal> {
    values
        .into_iter()
        .try_fold(Decimal::ZERO, |acc, x| acc.checked_add(x))
}

/// The sum, clamped at `Decimal::MAX` / `MIN` when it overflows: for figures that are only
/// compared against a bound far below the clamp (the comparison then still refuses).
pub fn saturating_sum(values: impl IntoIterator<Item = Decimal>) -> Decimal {
    values
        .into_iter()
        .fold(Decimal::ZERO, |acc, x| acc.saturating_add(x))
}

/// The mean, or `None` for no values or an overflowing sum.
pub fn checked_mean(values: &[Decimal]) -> Option<Decimal> {
    let n = Decimal::from(values.len());
    checked_sum(values.iter().copied())?.checked_div(n)
}

#[cfg(test)]
// Test code: an overflow here fails a test; it never serves a request.
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn overflow_is_none_or_clamped() {
        assert_eq!(checked_sum([Decimal::MAX, Decimal::ONE]), None);
        assert_eq!(saturating_sum([Decimal::MAX, Decimal::ONE]), Decimal::MAX);
        assert_eq!(checked_mean(&[]), None);
        assert_eq!(checked_mean(&[Decimal::MAX, Decimal::MAX]), None);
        assert_eq!(
            checked_mean(&[Decimal::ONE, Decimal::TWO]),
            Some("1.5".parse().unwrap())
        );
    }
}
