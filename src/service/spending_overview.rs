//! What the program office and finance see of a round's spending on one page: each grant with
//! its award, what was paid in, its approved budget, what was spent and the execution's flags.
//! Reads only; the numbers come from the same `spending::executions` as the ledger's.

use uuid::Uuid;

use crate::auth::Caller;
use crate::domain::spending::Execution;
use crate::service::finance::STAFF;
use crate::service::grants::GrantView;
use crate::service::Error;
use crate::storage::{grants, rounds, Database};

/// One grant of the round with its execution.
pub struct RoundGrantSpending {
    pub grant: GrantView,
    pub execution: Execution,
}

pub struct RoundSpending {
    pub round_id: Uuid,
    pub round_name: String,
    pub grants: Vec<RoundGrantSpending>,
}

/// Every grant of the round against its budget (admin and finance; others 403, an unknown
/// round 404).
pub async fn round_spending(
    db: &Database,
    caller: &Caller,
    round_id: Uuid,
) -> Result<RoundSpending, Error> {
    caller.require(STAFF)?;
    let mut conn = db.conn().await?;
    let round = rounds::get(&conn, round_id, true).await?;
    let rows = grants::of_round(&mut conn, round_id).await?;
    let mut executions = super::spending::executions(&mut conn, &rows).await?;
    let views = super::grants::views(&mut conn, rows, false).await?;
    let grants = views
        .into_iter()
        .filter_map(|g| {
            executions
                .remove(&g.id)
                .map(|execution| RoundGrantSpending {
                    grant: g,
                    execution,
                })
        })
        .collect();
    Ok(RoundSpending {
        round_id,
        round_name: round.name,
        grants,
    })
}
