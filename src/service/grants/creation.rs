//! A grant and its tranches, created from an approved application when the awards are finalized.

use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::auth::Caller;
use crate::domain::grant::{split_tranches, GrantStatus, TrancheStatus};
use crate::domain::lifecycle::ApplicationStatus;
use crate::service::rounds::RoundSpec;
use crate::service::Error;
use crate::storage::grants;
use crate::storage::models::{ApplicationRow, GrantInsertForm, GrantRow, TrancheInsertForm};

use crate::service::error::stored_money as money;

/// Creates the grant of an approved application (amount = its `award_amount`) and its tranches
/// from the round's schedule, in the caller's transaction, audited. Called by the award
/// finalization for each funded application.
pub async fn create_for_approved(
    conn: &mut AsyncPgConnection,
    actor: Option<&Caller>,
    application: &ApplicationRow,
    round: &RoundSpec,
) -> Result<GrantRow, Error> {
    if application.status != ApplicationStatus::Approved.as_str() {
        return Err(Error::invalid_state(format!(
            "only an approved application gets a grant; this one is {}",
            application.status
        )));
    }
    let award = application
        .award_amount
        .ok_or_else(|| Error::invalid_state("the application has no award amount"))?;
    let award = money(award)?;
    if award.amount() <= Decimal::ZERO {
        return Err(Error::invalid_state("the award amount is zero"));
    }
    let mut check = Vec::new();
    crate::domain::round::validate_tranches(&round.tranche_schedule, &mut check);
    if !check.is_empty() {
        return Err(Error::RuleViolation(check));
    }
    let previous_grant_id = match application.previous_application_id {
        Some(prev) => grants::by_application(conn, prev).await?.map(|g| g.id),
        None => None,
    };
    let id = Uuid::new_v4();
    let row = grants::insert(
        conn,
        &GrantInsertForm {
            id,
            application_id: application.id,
            round_id: application.round_id,
            organization_id: application.organization_id,
            amount: award.amount(),
            status: GrantStatus::Active.as_str().into(),
            previous_grant_id,
            created_by: actor.map(|c| c.user_id),
        },
    )
    .await?;
    let amounts = split_tranches(award, &round.tranche_schedule);
    let forms: Vec<TrancheInsertForm> = round
        .tranche_schedule
        .iter()
        .zip(&amounts)
        .enumerate()
        .map(|(i, (spec, amount))| TrancheInsertForm {
            id: Uuid::new_v4(),
            grant_id: id,
            number: i as i32 + 1,
            percent: spec.percent,
            amount: amount.amount(),
            milestone: spec.milestone.as_str().into(),
            status: TrancheStatus::Scheduled.as_str().into(),
        })
        .collect();
    let tranches = grants::insert_tranches(conn, &forms).await?;
    crate::service::audit(
        conn,
        actor,
        "grant.created",
        "grant",
        id,
        None::<&()>,
        Some(&serde_json::json!({
            "application_id": application.id,
            "amount": award,
            "previous_grant_id": previous_grant_id,
            "tranches": tranches.iter().map(|t| serde_json::json!({
                "number": t.number, "percent": t.percent, "amount": t.amount, "milestone": t.milestone
            })).collect::<Vec<_>>(),
        })),
    )
    .await?;
    Ok(row)
}
