//! Money: a non-negative yuan amount with at most two fraction digits (fen). Travels as a JSON
//! string like "12345.67"; a JSON number is refused so no float ever touches an amount. A
//! request's amount is below 10^12 yuan (`bounds::MONEY`); computed sums may be larger, up to
//! the representation limit of `Money::new`.

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::bounds;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(Decimal);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amounts cannot be negative")]
    Negative,
    #[error("amounts have at most 2 fraction digits (fen)")]
    TooPrecise,
    #[error("amounts have at most 14 integer digits")]
    TooLarge,
    #[error("{0}")]
    Bound(bounds::OutOfBounds),
}

/// Rounds to the fen, half away from zero (the usual 四舍五入).
pub fn round_fen(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

impl Money {
    pub const ZERO: Money = Money(Decimal::ZERO);

    pub fn new(d: Decimal) -> Result<Self, MoneyError> {
        if d.is_sign_negative() && !d.is_zero() {
            return Err(MoneyError::Negative);
        }
        if d.normalize().scale() > 2 {
            return Err(MoneyError::TooPrecise);
        }
        if d.trunc() >= Decimal::from(100_000_000_000_000i64) {
            return Err(MoneyError::TooLarge);
        }
        let mut d = d;
        d.rescale(2);
        Ok(Money(d))
    }

    /// Parses money as a request carries it: strictly `bounds::MONEY` (no spaces, sign,
    /// exponent or third fraction digit; below 10^12 yuan).
    pub fn parse(s: &str) -> Result<Self, MoneyError> {
        let d = bounds::MONEY.parse(s).map_err(MoneyError::Bound)?;
        Money::new(d)
    }

    pub fn amount(self) -> Decimal {
        self.0
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}", self.0)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Display straight into the output: the same text as `to_string`, without the copy.
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let amount = bounds::deserialize(&bounds::MONEY, d)?;
        // Within MONEY every value is a valid Money; the error arm is for form's sake.
        Money::new(amount).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Money {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        bounds::schema(&bounds::MONEY)
    }
}

impl utoipa::ToSchema for Money {}

#[cfg(test)]
// Test code: an overflow here fails a test; it never serves a request.
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_refuses() {
        assert_eq!(Money::parse("150000").unwrap().to_string(), "150000.00");
        assert_eq!(Money::parse("12345.6").unwrap().to_string(), "12345.60");
        assert_eq!(Money::parse("0.01").unwrap().to_string(), "0.01");
        let rule = |s: &str| match Money::parse(s).unwrap_err() {
            MoneyError::Bound(b) => b.rule,
            other => panic!("{other:?}"),
        };
        assert_eq!(rule("-1"), "money_format");
        assert_eq!(rule("1.001"), "money_format");
        assert_eq!(rule("1e5"), "money_format");
        assert_eq!(rule(""), "money_format");
        assert_eq!(rule(" 100.00"), "money_format");
        assert_eq!(rule("100.00 "), "money_format");
        assert_eq!(rule("1000000000000"), "range");
        assert_eq!(Money::new(Decimal::NEGATIVE_ONE), Err(MoneyError::Negative));
        assert_eq!(
            Money::new("1.001".parse().unwrap()),
            Err(MoneyError::TooPrecise)
        );
        assert!(
            serde_json::from_str::<Money>("12.5").is_err(),
            "numbers are refused"
        );
        assert_eq!(
            serde_json::from_str::<Money>("\"12.5\"")
                .unwrap()
                .to_string(),
            "12.50"
        );
        assert_eq!(
            serde_json::to_string(&Money::parse("7").unwrap()).unwrap(),
            "\"7.00\""
        );
    }

    #[test]
    fn rounds_half_up() {
        assert_eq!(round_fen("0.005".parse().unwrap()).to_string(), "0.01");
        assert_eq!(round_fen("0.004".parse().unwrap()).to_string(), "0.00");
        assert_eq!(round_fen("2.675".parse().unwrap()).to_string(), "2.68");
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(cents in 0i64..100_000_000_000_000) {
            let m = Money::new(Decimal::new(cents, 2)).unwrap();
            prop_assert_eq!(Money::parse(&m.to_string()).unwrap(), m);
        }
    }
}
