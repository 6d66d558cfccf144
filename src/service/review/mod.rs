//! Review panels, assignments, scoring, ranking and awards (domain.md rule 5 and the default
//! round settings). The rules are in `domain::review`; this module loads facts, locks what must
//! not race, writes and audits, one transaction per use case. One workflow per file: `panel`,
//! `assignment`, `scoring`, `rank` (the ranking) and `awards`.

use crate::domain::lifecycle::RoundStatus;
use crate::service::error::parse_text;
use crate::service::Error;
use crate::storage::models::RoundRow;

mod assignment;
mod awards;
mod panel;
mod rank;
mod scoring;

pub use assignment::*;
pub use awards::*;
pub use panel::*;
pub use rank::*;
pub use scoring::*;

fn round_status(row: &RoundRow) -> Result<RoundStatus, Error> {
    parse_text(&row.status)
}
