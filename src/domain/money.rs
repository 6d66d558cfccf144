//! Money: a non-negative yuan amount with at most two fraction digits (fen). Travels as a JSON
//! string like "12345.67"; a JSON number is refused so no float ever touches an amount.

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(Decimal);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("`{0}` is not a decimal amount like \"12345.67\"")]
    Format(String),
    #[error("amounts cannot be negative")]
    Negative,
    #[error("amounts have at most 2 fraction digits (fen)")]
    TooPrecise,
    #[error("amounts have at most 14 integer digits")]
    TooLarge,
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

    pub fn parse(s: &str) -> Result<Self, MoneyError> {
        let t = s.trim();
        let valid_shape = !t.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
            && t.matches('.').count() <= 1;
        if !valid_shape {
            return Err(MoneyError::Format(s.to_string()));
        }
        let d: Decimal = t.parse().map_err(|_| MoneyError::Format(s.to_string()))?;
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
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Money;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("money as a decimal string like \"12345.67\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Money, E> {
                Money::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

impl utoipa::PartialSchema for Money {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^[0-9]{1,14}(\.[0-9]{1,2})?$"))
            .description(Some(
                "Yuan as a decimal string with at most 2 fraction digits, e.g. \"150000.00\"",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Money {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_refuses() {
        assert_eq!(Money::parse("150000").unwrap().to_string(), "150000.00");
        assert_eq!(Money::parse("12345.6").unwrap().to_string(), "12345.60");
        assert_eq!(Money::parse("0.01").unwrap().to_string(), "0.01");
        assert_eq!(Money::parse("-1").unwrap_err(), MoneyError::Negative);
        assert_eq!(Money::parse("1.001").unwrap_err(), MoneyError::TooPrecise);
        assert!(matches!(
            Money::parse("1e5").unwrap_err(),
            MoneyError::Format(_)
        ));
        assert!(matches!(
            Money::parse("").unwrap_err(),
            MoneyError::Format(_)
        ));
        assert!(Money::parse("100000000000000").is_err());
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
        fn display_parse_round_trip(cents in 0i64..10_000_000_000_000) {
            let m = Money::new(Decimal::new(cents, 2)).unwrap();
            prop_assert_eq!(Money::parse(&m.to_string()).unwrap(), m);
        }
    }
}
