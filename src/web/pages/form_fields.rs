//! Typed values from a posted form, each refusal a violation naming its field (shown beside
//! it): decimals strictly by their `domain::bounds`, dates as `2026-09-01`, times as the
//! bureau's local `2026-09-01T09:00`, whole numbers, and choices among a type's names.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use rust_decimal::Decimal;

use crate::domain::bounds::DecimalBound;
use crate::domain::money::Money;
use crate::domain::violation::Violation;
use crate::web::form::PostedForm;

pub struct Fields<'a> {
    pub form: &'a PostedForm,
    pub violations: Vec<Violation>,
}

impl<'a> Fields<'a> {
    pub fn new(form: &'a PostedForm) -> Self {
        Self {
            form,
            violations: Vec::new(),
        }
    }

    pub fn refuse(&mut self, field: &str, rule: &'static str, message: &'static str, actual: &str) {
        self.violations
            .push(Violation::new(rule, message).actual(actual).field(field));
    }

    pub fn decimal_text(
        &mut self,
        field: &str,
        text: &str,
        bound: &DecimalBound,
    ) -> Option<Decimal> {
        match bound.parse(text) {
            Ok(d) => Some(d),
            Err(e) => {
                self.violations.push(e.into_violation(field));
                None
            }
        }
    }

    pub fn decimal(&mut self, field: &str, bound: &DecimalBound) -> Option<Decimal> {
        let text = self.form.text(field);
        self.decimal_text(field, &text, bound)
    }

    pub fn money(&mut self, field: &str) -> Option<Money> {
        let d = self.decimal(field, &crate::domain::bounds::MONEY)?;
        match Money::new(d) {
            Ok(m) => Some(m),
            Err(e) => {
                self.violations
                    .push(Violation::new("money_format", e.to_string()).field(field));
                None
            }
        }
    }

    /// An optional date: empty is `None`.
    pub fn date(&mut self, field: &str) -> Option<Option<NaiveDate>> {
        let text = self.form.text(field);
        if text.is_empty() {
            return Some(None);
        }
        match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(d) => Some(Some(d)),
            Err(_) => {
                self.refuse(field, "date_format", "write a date like 2026-09-01", &text);
                None
            }
        }
    }

    /// A local date and time in `tz` (`datetime-local`: `2026-09-01T09:00`), as UTC.
    pub fn time(&mut self, field: &str, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
        let text = self.form.text(field);
        let parsed = NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M")
            .or_else(|_| NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S"))
            .or_else(|_| NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M"));
        match parsed
            .ok()
            .and_then(|t| tz.from_local_datetime(&t).earliest())
        {
            Some(t) => Some(t.with_timezone(&Utc)),
            None => {
                self.refuse(
                    field,
                    "time_format",
                    "write a date and time like 2026-09-01 09:00",
                    &text,
                );
                None
            }
        }
    }

    pub fn whole<T: FromStr>(&mut self, field: &str) -> Option<T> {
        let text = self.form.text(field);
        match text.parse::<T>() {
            Ok(n) => Some(n),
            Err(_) => {
                self.refuse(field, "integer_format", "write a whole number", &text);
                None
            }
        }
    }

    /// One of a type's names (an enum's `as_str`).
    pub fn choice<T: FromStr>(&mut self, field: &str) -> Option<T> {
        let text = self.form.text(field);
        match text.parse::<T>() {
            Ok(v) => Some(v),
            Err(_) => {
                self.refuse(field, "choice", "choose one of the options", &text);
                None
            }
        }
    }

    /// A choice that may be left empty (`None`).
    pub fn optional_choice<T: FromStr>(&mut self, field: &str) -> Option<Option<T>> {
        if self.form.text(field).is_empty() {
            Some(None)
        } else {
            self.choice(field).map(Some)
        }
    }
}
