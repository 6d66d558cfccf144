//! How pages write amounts and times: `¥12,345.67` with the exact fen, times in the bureau's
//! time zone.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

/// `¥12,345.67`: grouped by thousands, always two fraction digits, never rounded through a float.
pub fn yuan(amount: Decimal) -> String {
    let negative = amount.is_sign_negative() && !amount.is_zero();
    let fixed = format!("{:.2}", amount.abs().round_dp(2));
    let (int, frac) = fixed.split_once('.').unwrap_or((&fixed, "00"));
    let mut grouped = String::with_capacity(int.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{}¥{grouped}.{frac}", if negative { "-" } else { "" })
}

/// An amount as integer fen, for the browser's arithmetic (never a float there either).
pub fn fen(amount: Decimal) -> String {
    (amount.round_dp(2) * Decimal::ONE_HUNDRED)
        .trunc()
        .to_string()
}

/// A zone from its IANA name; Asia/Shanghai when the name is unknown (checked at start-up).
pub fn zone(name: &str) -> chrono_tz::Tz {
    name.parse().unwrap_or(chrono_tz::Asia::Shanghai)
}

/// `2026-12-02 18:05` in the zone.
pub fn local_time(t: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

pub fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn yuan_groups_thousands_and_keeps_the_fen() {
        assert_eq!(yuan(dec!(12345.67)), "¥12,345.67");
        assert_eq!(yuan(dec!(5000.01)), "¥5,000.01");
        assert_eq!(yuan(dec!(0)), "¥0.00");
        assert_eq!(yuan(dec!(999)), "¥999.00");
        assert_eq!(yuan(dec!(1000)), "¥1,000.00");
        assert_eq!(yuan(dec!(1234567890.5)), "¥1,234,567,890.50");
        assert_eq!(yuan(dec!(-1500)), "-¥1,500.00");
    }

    #[test]
    fn fen_is_an_integer() {
        assert_eq!(fen(dec!(12345.67)), "1234567");
        assert_eq!(fen(dec!(0.1)), "10");
    }

    #[test]
    fn times_are_shown_in_the_bureau_zone() {
        let t = DateTime::parse_from_rfc3339("2026-12-02T16:30:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(local_time(t, zone("Asia/Shanghai")), "2026-12-03 00:30");
        assert_eq!(zone("Not/AZone"), chrono_tz::Asia::Shanghai);
    }
}
