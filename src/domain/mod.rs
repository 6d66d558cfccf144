//! Domain rules as plain values and functions: no actix, no diesel. Everything here can be
//! unit- and property-tested without a server or a database.
//!
//! Arithmetic here cannot panic: `clippy::arithmetic_side_effects` is denied, so every operator
//! on a `Decimal` or an integer is either a checked call (`arith`) or allowed where a comment
//! names the bound (`bounds`) that keeps it far from overflow.
#![deny(clippy::arithmetic_side_effects)]

#[macro_use]
pub mod macros;
pub mod arith;
pub mod audit_chain;
pub mod bounds;
pub mod budget;
pub mod credit_code;
pub mod eligibility;
pub mod grant;
#[cfg(test)]
mod hostile_props;
pub mod lifecycle;
pub mod money;
pub mod patch;
pub mod rating;
pub mod review;
pub mod round;
pub mod spending;
pub mod user;
pub mod violation;

/// A name outside a closed set (`string_enum!`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {kind}")]
pub struct UnknownName {
    pub kind: &'static str,
    pub value: String,
}
