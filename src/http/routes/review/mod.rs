//! Review panels, assignments, scoring, ranking and awards: one workflow per file, with its
//! request and response types beside its handlers.

use rust_decimal::Decimal;

mod assignments;
mod awards;
mod panel;
mod rank;
mod scoring;

pub use assignments::*;
pub use awards::*;
pub use panel::*;
pub use rank::*;
pub use scoring::*;

/// Decimal as a JSON string ("12.5"); plain JSON numbers are refused like money, so no float
/// ever carries a score.
fn decimal_str<S: serde::Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&d.normalize())
}
fn opt_decimal_str<S: serde::Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.collect_str(&d.normalize()),
        None => s.serialize_none(),
    }
}
