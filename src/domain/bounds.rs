//! Bounds on every decimal a request carries, checked where it is parsed (serde), so nothing
//! past them reaches a rule, a sum or the database. Each bound comes from the domain and from
//! the column that stores the value; docs/API.md lists them with their reasons.
//!
//! Decimals travel as JSON strings and are parsed strictly: ASCII digits, at most one `.`, a
//! bounded number of digits on each side. No sign, no spaces, no exponent, no `_` (which
//! `Decimal::from_str` would skip), no JSON number. A refusal carries its rule, limit and the
//! value seen; `http::extract::parse_json` turns it into a violation naming the field.

use std::fmt;

use rust_decimal::Decimal;
use serde::de::{self, Deserializer, Visitor};

use super::violation::Violation;

/// The bound of one kind of decimal field.
#[derive(Debug, Clone, Copy)]
pub struct DecimalBound {
    /// What the value is, for messages ("an amount", "a quantity").
    pub what: &'static str,
    /// The rule a badly written value breaks (`money_format`, `decimal_format`).
    pub format_rule: &'static str,
    /// Digits before the point, at most.
    pub integer_digits: u32,
    /// Digits after the point, at most.
    pub fraction_digits: u32,
    pub min: Decimal,
    /// Whether `min` itself is allowed (`false`: the value is above it).
    pub min_inclusive: bool,
    pub max: Decimal,
    /// An accepted value, for the OpenAPI document.
    pub example: &'static str,
}

/// Yuan: below 10^12 (the NUMERIC(14, 2) money columns), in fen.
pub const MONEY: DecimalBound = DecimalBound {
    what: "an amount",
    format_rule: "money_format",
    integer_digits: 12,
    fraction_digits: 2,
    min: Decimal::ZERO,
    min_inclusive: true,
    max: Decimal::from_parts(276_447_231, 23_283, 0, false, 2), // 999999999999.99
    example: "150000.00",
};

/// A budget line's quantity: above 0, at most 10,000,000, in hundredths.
pub const QUANTITY: DecimalBound = DecimalBound {
    what: "a quantity",
    format_rule: "decimal_format",
    integer_digits: 8,
    fraction_digits: 2,
    min: Decimal::ZERO,
    min_inclusive: false,
    max: Decimal::from_parts(10_000_000, 0, 0, false, 0),
    example: "12",
};

/// A share of a whole (personnel, co-funding): 0 to 1, to 0.01%.
pub const RATIO: DecimalBound = DecimalBound {
    what: "a ratio",
    format_rule: "decimal_format",
    integer_digits: 1,
    fraction_digits: 4,
    min: Decimal::ZERO,
    min_inclusive: true,
    max: Decimal::ONE,
    example: "0.50",
};

/// A tranche's percentage of the award: above 0, at most 100 (NUMERIC(5, 2)).
pub const PERCENT: DecimalBound = DecimalBound {
    what: "a percentage",
    format_rule: "decimal_format",
    integer_digits: 3,
    fraction_digits: 2,
    min: Decimal::ZERO,
    min_inclusive: false,
    max: Decimal::ONE_HUNDRED,
    example: "50",
};

/// Rubric points (the total, a criterion's maximum, the pass mark) and reviewer scores:
/// 0 to 1000; the default rubric has 100. A reviewer's total then fits NUMERIC(7, 2).
pub const RUBRIC_POINTS: DecimalBound = DecimalBound {
    what: "a number of points",
    format_rule: "decimal_format",
    integer_digits: 4,
    fraction_digits: 2,
    min: Decimal::ZERO,
    min_inclusive: true,
    max: Decimal::ONE_THOUSAND,
    example: "15",
};

/// The rubric's score step: above 0, at most 100.
pub const SCORE_STEP: DecimalBound = DecimalBound {
    what: "a score step",
    format_rule: "decimal_format",
    integer_digits: 3,
    fraction_digits: 2,
    min: Decimal::ZERO,
    min_inclusive: false,
    max: Decimal::ONE_HUNDRED,
    example: "0.5",
};

/// Objective party-element points (each entry of the table and its cap): 0 to 100, so the
/// sum of a whole table stays below 1000.
pub const PARTY_POINTS: DecimalBound = DecimalBound {
    what: "a number of points",
    format_rule: "decimal_format",
    integer_digits: 3,
    fraction_digits: 2,
    min: Decimal::ZERO,
    min_inclusive: true,
    max: Decimal::ONE_HUNDRED,
    example: "5",
};

/// Mid-term and final evaluation scores and their pass mark: 0 to 100 (NUMERIC(5, 2)).
pub const EVALUATION_SCORE: DecimalBound = DecimalBound {
    what: "an evaluation score",
    format_rule: "decimal_format",
    integer_digits: 3,
    fraction_digits: 2,
    min: Decimal::ZERO,
    min_inclusive: true,
    max: Decimal::ONE_HUNDRED,
    example: "78.5",
};

/// Values longer than this are not even looked at (and not echoed back whole).
const ECHO_CHARS: usize = 40;

/// A value outside its bound, as a refusal: a violation without its field (the parser knows it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfBounds {
    pub rule: &'static str,
    pub message: String,
    pub limit: String,
    pub actual: String,
}

impl fmt::Display for OutOfBounds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (limit: {})", self.message, self.limit)
    }
}

impl std::error::Error for OutOfBounds {}

/// Separates the parts of an `OutOfBounds` inside a serde error message, which is only text.
const SEP: char = '\u{1f}';

impl OutOfBounds {
    /// As a serde error: the parts survive serde's text-only errors and `decode` finds them.
    pub fn into_serde<E: de::Error>(self) -> E {
        E::custom(format_args!(
            "{SEP}{}{SEP}{}{SEP}{}{SEP}{}",
            self.rule, self.limit, self.message, self.actual
        ))
    }

    /// The refusal inside a serde error message written by `into_serde`, if it is one.
    pub fn decode(message: &str) -> Option<OutOfBounds> {
        let rest = message.strip_prefix(SEP)?;
        let mut parts = rest.splitn(4, SEP);
        let rule = parts.next()?;
        let limit = parts.next()?;
        let message = parts.next()?;
        let actual = parts.next()?;
        let rule = KNOWN_RULES.iter().find(|r| **r == rule)?;
        Some(OutOfBounds {
            rule,
            message: message.to_string(),
            limit: limit.to_string(),
            actual: actual.to_string(),
        })
    }

    pub fn into_violation(self, field: impl Into<String>) -> Violation {
        Violation::new(self.rule, self.message)
            .limit(self.limit)
            .actual(self.actual)
            .field(field)
    }
}

const KNOWN_RULES: &[&str] = &["money_format", "decimal_format", "range"];

fn echo(s: &str) -> String {
    if s.chars().count() > ECHO_CHARS {
        let head: String = s.chars().take(ECHO_CHARS).collect();
        format!("{head}…")
    } else {
        s.to_string()
    }
}

impl DecimalBound {
    /// The regular expression of the accepted text (also in the OpenAPI document).
    pub fn pattern(&self) -> String {
        format!(
            r"^[0-9]{{1,{}}}(\.[0-9]{{1,{}}})?$",
            self.integer_digits, self.fraction_digits
        )
    }

    /// The longest accepted text.
    pub fn max_length(&self) -> usize {
        self.integer_digits
            .saturating_add(1)
            .saturating_add(self.fraction_digits) as usize
    }

    /// Whether a value (built in code, not parsed) is within the bound: range and digits.
    pub fn contains(&self, d: Decimal) -> bool {
        let above_min = if self.min_inclusive {
            d >= self.min
        } else {
            d > self.min
        };
        above_min && d <= self.max && d.normalize().scale() <= self.fraction_digits
    }

    /// The accepted range, as clients read it: `0..1000`, `(0, 100]`.
    pub fn range(&self) -> String {
        if self.min_inclusive {
            format!("{}..{}", self.min, self.max)
        } else {
            format!("({}, {}]", self.min, self.max)
        }
    }

    /// A sentence for the OpenAPI document.
    pub fn describe(&self) -> String {
        let low = if self.min_inclusive { "from" } else { "above" };
        format!(
            "A decimal string, {low} {} up to {} inclusive, with at most {} fraction digits \
             (pattern `{}`); a JSON number is refused.",
            self.min,
            self.max,
            self.fraction_digits,
            self.pattern()
        )
    }

    fn format_error(&self, s: &str, why: &str) -> OutOfBounds {
        OutOfBounds {
            rule: self.format_rule,
            message: format!("{} is a decimal string like \"12.5\": {why}", self.what),
            limit: self.pattern(),
            actual: echo(s),
        }
    }

    /// Parses the text of a value: strict shape first, then the range.
    pub fn parse(&self, s: &str) -> Result<Decimal, OutOfBounds> {
        if s.starts_with('-') {
            return Err(self.format_error(s, "it cannot be negative"));
        }
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (s, None),
        };
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) || !frac.is_none_or(digits) {
            return Err(self.format_error(
                s,
                "digits with at most one point, no sign, spaces or exponent",
            ));
        }
        if let Some(f) = frac {
            if f.len() > self.fraction_digits as usize {
                return Err(self.format_error(
                    s,
                    &format!("at most {} fraction digits", self.fraction_digits),
                ));
            }
        }
        if int.len() > self.integer_digits as usize {
            // Too large, or padded with more zeros than the pattern allows.
            return Err(
                if int.trim_start_matches('0').len() > self.integer_digits as usize {
                    self.out_of_range(s)
                } else {
                    self.format_error(
                        s,
                        &format!("at most {} integer digits", self.integer_digits),
                    )
                },
            );
        }
        // At most 4 + 14 characters of plain digits: always a valid Decimal.
        let value: Decimal = s.parse().map_err(|_| self.format_error(s, "unreadable"))?;
        let above_min = if self.min_inclusive {
            value >= self.min
        } else {
            value > self.min
        };
        if !above_min || value > self.max {
            return Err(self.out_of_range(s));
        }
        Ok(value)
    }

    fn out_of_range(&self, s: &str) -> OutOfBounds {
        OutOfBounds {
            rule: "range",
            message: format!("{} is in {}", self.what, self.range()),
            limit: self.range(),
            actual: echo(s),
        }
    }

    /// A serde visitor over this bound: strings only.
    pub fn visitor(&'static self) -> BoundVisitor {
        BoundVisitor(self)
    }
}

/// Deserializes a decimal string within a bound; JSON numbers and other types are refused
/// with the bound's format rule.
pub struct BoundVisitor(&'static DecimalBound);

impl BoundVisitor {
    fn number<E: de::Error>(&self, n: impl fmt::Display) -> E {
        self.0
            .format_error(&n.to_string(), "send it as a string, not a JSON number")
            .into_serde()
    }
}

impl Visitor<'_> for BoundVisitor {
    type Value = Decimal;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{} as a decimal string", self.0.what)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
        self.0.parse(v).map_err(OutOfBounds::into_serde)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
        Err(self.number(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
        Err(self.number(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
        Err(self.number(v))
    }
}

/// Deserializes within `bound` (use through the functions below, in `deserialize_with`).
pub fn deserialize<'de, D: Deserializer<'de>>(
    bound: &'static DecimalBound,
    d: D,
) -> Result<Decimal, D::Error> {
    d.deserialize_any(bound.visitor())
}

/// The OpenAPI schema of a string within `bound`.
pub fn schema(bound: &DecimalBound) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(bound.pattern()))
        .max_length(Some(bound.max_length()))
        .description(Some(bound.describe()))
        .examples([bound.example])
        .into()
}

/// A map of keys to decimal strings within `bound` (a reviewer's score sheet); a refusal
/// names its key (`scores.need_analysis`).
pub fn deserialize_map<'de, D: Deserializer<'de>>(
    bound: &'static DecimalBound,
    d: D,
) -> Result<std::collections::BTreeMap<String, Decimal>, D::Error> {
    struct Seed(&'static DecimalBound);
    impl<'de> de::DeserializeSeed<'de> for Seed {
        type Value = Decimal;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Decimal, D::Error> {
            deserialize(self.0, d)
        }
    }
    struct Map(&'static DecimalBound);
    impl<'de> Visitor<'de> for Map {
        type Value = std::collections::BTreeMap<String, Decimal>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "an object of decimal strings")
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = std::collections::BTreeMap::new();
            while let Some(key) = map.next_key::<String>()? {
                let value = map.next_value_seed(Seed(self.0))?;
                out.insert(key, value);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Map(bound))
}

/// A score sheet: criterion key → a score within `RUBRIC_POINTS`.
pub fn score_sheet<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<std::collections::BTreeMap<String, Decimal>, D::Error> {
    deserialize_map(&RUBRIC_POINTS, d)
}

pub fn score_sheet_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Object)
        .additional_properties(Some(schema(&RUBRIC_POINTS)))
        .description(Some(
            "Criterion key → score as a decimal string (\"12.5\").",
        ))
        .into()
}

/// `deserialize_with` / `schema_with` functions for each bound, plain and optional.
macro_rules! bound_fields {
    ($($bound:ident: $plain:ident, $opt:ident, $schema:ident;)*) => {
        $(
            pub fn $plain<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
                deserialize(&$bound, d)
            }
            pub fn $opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
                struct Opt;
                impl<'de> Visitor<'de> for Opt {
                    type Value = Option<Decimal>;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("null or a decimal string")
                    }
                    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                        Ok(None)
                    }
                    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                        Ok(None)
                    }
                    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                        deserialize(&$bound, d).map(Some)
                    }
                }
                d.deserialize_option(Opt)
            }
            pub fn $schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                schema(&$bound)
            }
        )*
    };
}

bound_fields! {
    QUANTITY: quantity, opt_quantity, quantity_schema;
    RATIO: ratio, opt_ratio, ratio_schema;
    PERCENT: percent, opt_percent, percent_schema;
    RUBRIC_POINTS: rubric_points, opt_rubric_points, rubric_points_schema;
    SCORE_STEP: score_step, opt_score_step, score_step_schema;
    PARTY_POINTS: party_points, opt_party_points, party_points_schema;
    EVALUATION_SCORE: evaluation_score, opt_evaluation_score, evaluation_score_schema;
}

#[cfg(test)]
// Test code: an overflow here fails a test; it never serves a request.
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    #[test]
    fn money_max_is_the_column_max() {
        assert_eq!(MONEY.max, dec!(999999999999.99));
        assert_eq!(MONEY.max_length(), 15);
    }

    #[test]
    fn strict_shapes() {
        for bad in [
            "", " 1", "1 ", "+1", "-1", "1e5", "1E5", "1_000", ".5", "5.", "1.2.3", "0x10", "１",
            "NaN", "inf",
        ] {
            let e = QUANTITY.parse(bad).unwrap_err();
            assert_eq!(e.rule, "decimal_format", "{bad:?}");
        }
        assert_eq!(MONEY.parse("1.001").unwrap_err().rule, "money_format");
        assert_eq!(MONEY.parse("-0").unwrap_err().rule, "money_format");
        assert_eq!(MONEY.parse("999999999999.99").unwrap(), MONEY.max);
        assert_eq!(MONEY.parse("1000000000000").unwrap_err().rule, "range");
        assert_eq!(MONEY.parse("0001.5").unwrap(), dec!(1.5));
        assert_eq!(
            MONEY.parse("0000000000001").unwrap_err().rule,
            "money_format"
        );
        assert_eq!(QUANTITY.parse("0").unwrap_err().rule, "range");
        assert_eq!(QUANTITY.parse("10000000").unwrap(), dec!(10000000));
        assert_eq!(QUANTITY.parse("10000000.01").unwrap_err().rule, "range");
        assert_eq!(
            QUANTITY.parse("99999999999999999999").unwrap_err().rule,
            "range"
        );
        assert_eq!(
            RUBRIC_POINTS
                .parse("79228162514264337593543950335")
                .unwrap_err()
                .rule,
            "range"
        );
        assert_eq!(RATIO.parse("1.0001").unwrap_err().rule, "range");
        assert_eq!(RATIO.parse("0.5555").unwrap(), dec!(0.5555));
        assert_eq!(PERCENT.parse("0").unwrap_err().rule, "range");
    }

    #[test]
    fn refusals_survive_serde_and_name_the_bound() {
        #[derive(serde::Deserialize, Debug)]
        struct T {
            #[serde(deserialize_with = "quantity")]
            #[allow(dead_code)]
            q: Decimal,
        }
        let e = serde_json::from_str::<T>(r#"{"q": "99999999999999999999"}"#).unwrap_err();
        let msg = e.to_string();
        let msg = &msg[..msg.rfind(" at line ").unwrap()];
        let b = OutOfBounds::decode(msg).expect("decodes");
        assert_eq!(b.rule, "range");
        assert_eq!(b.limit, "(0, 10000000]");
        assert_eq!(b.actual, "99999999999999999999");
        let e = serde_json::from_str::<T>(r#"{"q": 12.5}"#).unwrap_err();
        let msg = e.to_string();
        let b = OutOfBounds::decode(&msg[..msg.rfind(" at line ").unwrap()]).unwrap();
        assert_eq!(b.rule, "decimal_format");
        assert!(OutOfBounds::decode("plain text").is_none());
    }

    #[test]
    fn the_pattern_accepts_what_the_parser_reads() {
        assert_eq!(MONEY.pattern(), r"^[0-9]{1,12}(\.[0-9]{1,2})?$");
    }

    proptest! {
        #[test]
        fn any_text_is_parsed_or_refused_never_a_panic(s in "\\PC{0,40}") {
            for b in [MONEY, QUANTITY, RATIO, PERCENT, RUBRIC_POINTS, SCORE_STEP, PARTY_POINTS, EVALUATION_SCORE] {
                if let Ok(d) = b.parse(&s) {
                    prop_assert!(d <= b.max && d >= b.min);
                    prop_assert!(d.scale() <= b.fraction_digits);
                    prop_assert!(s.len() <= b.max_length() + 40);
                }
            }
        }

        #[test]
        fn digit_strings_within_the_bound_are_accepted(int in "[0-9]{1,16}", frac in proptest::option::of("[0-9]{1,4}")) {
            let s = match &frac { Some(f) => format!("{int}.{f}"), None => int.clone() };
            for b in [MONEY, QUANTITY, RATIO, PERCENT, RUBRIC_POINTS] {
                match b.parse(&s) {
                    Ok(d) => prop_assert!(d <= b.max),
                    Err(e) => {
                        let exact: Decimal = s.parse().unwrap_or(Decimal::MAX);
                        let too_precise = frac.as_ref().is_some_and(|f| f.len() > b.fraction_digits as usize);
                        let too_long = int.len() > b.integer_digits as usize;
                        prop_assert!(too_precise || too_long || exact > b.max || exact <= b.min && !b.min_inclusive, "{s} refused: {e}");
                    }
                }
            }
        }
    }
}
