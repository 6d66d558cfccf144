//! Grants (domain.md rule 8), one workflow per file: `creation` from an approved application,
//! `milestones`, `payouts` with maker-checker and idempotency, and the `views` the API, the pages
//! and the ledger show.
//!
//! Concurrency: every milestone and every payout change locks the grant row first
//! (`SELECT … FOR UPDATE`), so all money movements of one grant are serialized. The limits are
//! checked by the domain rules after that lock, and the database keeps a backstop: a trigger on
//! `payouts` maintains the tranche and grant totals with CHECKs (`requested ≤ tranche amount`,
//! `requested ≤ award`). Pending requests count toward the limit (requested + approved + paid ≤
//! tranche), so a request that could never be approved is refused up front.

mod creation;
mod milestones;
mod payouts;
mod views;

pub use creation::*;
pub use milestones::*;
pub use payouts::*;
pub use views::*;
