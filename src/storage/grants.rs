//! Grants, tranches, milestone events, payouts and idempotency keys.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::models::{
    GrantInsertForm, GrantRow, GrantUpdateForm, IdempotencyKeyRow, MilestoneEventInsertForm,
    MilestoneEventRow, PayoutInsertForm, PayoutRow, PayoutUpdateForm, TrancheInsertForm,
    TrancheRow, TrancheUpdateForm,
};
use super::schema::{grants, idempotency_keys, milestone_events, payouts, tranches};
use super::{Scope, StorageResult};

pub async fn insert(
    conn: &mut AsyncPgConnection,
    form: &GrantInsertForm,
) -> StorageResult<GrantRow> {
    Ok(diesel::insert_into(grants::table)
        .values(form)
        .returning(GrantRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn insert_tranches(
    conn: &mut AsyncPgConnection,
    forms: &[TrancheInsertForm],
) -> StorageResult<Vec<TrancheRow>> {
    Ok(diesel::insert_into(tranches::table)
        .values(forms)
        .returning(TrancheRow::as_returning())
        .get_results(conn)
        .await?)
}

/// One grant within the caller's scope (others are not found).
pub async fn get(conn: &mut AsyncPgConnection, scope: Scope, id: Uuid) -> StorageResult<GrantRow> {
    let mut q = grants::table
        .find(id)
        .select(GrantRow::as_select())
        .into_boxed();
    match scope {
        Scope::All => {}
        Scope::Organization(org) => q = q.filter(grants::organization_id.eq(org)),
        Scope::Nothing | Scope::Assigned(_) => return Err(diesel::result::Error::NotFound.into()),
    }
    Ok(q.first(conn).await?)
}

/// Locks the grant row: every money movement and milestone of a grant is serialized on it.
pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> StorageResult<GrantRow> {
    Ok(grants::table
        .find(id)
        .select(GrantRow::as_select())
        .for_update()
        .first(conn)
        .await?)
}

pub async fn by_application(
    conn: &mut AsyncPgConnection,
    application_id: Uuid,
) -> StorageResult<Option<GrantRow>> {
    Ok(grants::table
        .filter(grants::application_id.eq(application_id))
        .select(GrantRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    form: &GrantUpdateForm,
) -> StorageResult<GrantRow> {
    Ok(diesel::update(grants::table.find(id))
        .set(form)
        .returning(GrantRow::as_returning())
        .get_result(conn)
        .await?)
}

#[derive(Debug, Default)]
pub struct GrantFilter {
    pub round_id: Option<Uuid>,
    pub status: Option<String>,
    pub organization_id: Option<Uuid>,
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    scope: Scope,
    filter: &GrantFilter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> StorageResult<Vec<GrantRow>> {
    let mut q = grants::table.select(GrantRow::as_select()).into_boxed();
    match scope {
        Scope::All => {}
        Scope::Organization(org) => q = q.filter(grants::organization_id.eq(org)),
        Scope::Nothing | Scope::Assigned(_) => return Ok(vec![]),
    }
    if let Some(r) = filter.round_id {
        q = q.filter(grants::round_id.eq(r));
    }
    if let Some(s) = &filter.status {
        q = q.filter(grants::status.eq(s.clone()));
    }
    if let Some(o) = filter.organization_id {
        q = q.filter(grants::organization_id.eq(o));
    }
    if let Some((at, id)) = after {
        // Implied by the next filter, but sargable: the index range starts at the cursor
        // instead of the planner filtering every earlier row (flat pages at any depth).
        q = q.filter(grants::created_at.ge(at));
        q = q.filter(
            grants::created_at
                .gt(at)
                .or(grants::created_at.eq(at).and(grants::id.gt(id))),
        );
    }
    Ok(q.order((grants::created_at, grants::id))
        .limit(limit)
        .load(conn)
        .await?)
}

/// Every grant of a round, oldest first (for the ledger).
pub async fn of_round(
    conn: &mut AsyncPgConnection,
    round_id: Uuid,
) -> StorageResult<Vec<GrantRow>> {
    Ok(grants::table
        .filter(grants::round_id.eq(round_id))
        .select(GrantRow::as_select())
        .order((grants::created_at, grants::id))
        .load(conn)
        .await?)
}

/// The tranches of the grants, by grant then number.
pub async fn tranches_of(
    conn: &mut AsyncPgConnection,
    grant_ids: &[Uuid],
) -> StorageResult<Vec<TrancheRow>> {
    Ok(tranches::table
        .filter(tranches::grant_id.eq_any(grant_ids))
        .select(TrancheRow::as_select())
        .order((tranches::grant_id, tranches::number))
        .load(conn)
        .await?)
}

pub async fn update_tranche(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    form: &TrancheUpdateForm,
) -> StorageResult<TrancheRow> {
    Ok(diesel::update(tranches::table.find(id))
        .set(form)
        .returning(TrancheRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn tranche(conn: &mut AsyncPgConnection, id: Uuid) -> StorageResult<TrancheRow> {
    Ok(tranches::table
        .find(id)
        .select(TrancheRow::as_select())
        .first(conn)
        .await?)
}

pub async fn milestones_of(
    conn: &mut AsyncPgConnection,
    grant_ids: &[Uuid],
) -> StorageResult<Vec<MilestoneEventRow>> {
    Ok(milestone_events::table
        .filter(milestone_events::grant_id.eq_any(grant_ids))
        .select(MilestoneEventRow::as_select())
        .order((milestone_events::grant_id, milestone_events::recorded_at))
        .load(conn)
        .await?)
}

pub async fn insert_milestone(
    conn: &mut AsyncPgConnection,
    form: &MilestoneEventInsertForm,
) -> StorageResult<MilestoneEventRow> {
    Ok(diesel::insert_into(milestone_events::table)
        .values(form)
        .returning(MilestoneEventRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn insert_payout(
    conn: &mut AsyncPgConnection,
    form: &PayoutInsertForm,
) -> StorageResult<PayoutRow> {
    Ok(diesel::insert_into(payouts::table)
        .values(form)
        .returning(PayoutRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn payout(conn: &mut AsyncPgConnection, id: Uuid) -> StorageResult<PayoutRow> {
    Ok(payouts::table
        .find(id)
        .select(PayoutRow::as_select())
        .first(conn)
        .await?)
}

pub async fn lock_payout(conn: &mut AsyncPgConnection, id: Uuid) -> StorageResult<PayoutRow> {
    Ok(payouts::table
        .find(id)
        .select(PayoutRow::as_select())
        .for_update()
        .first(conn)
        .await?)
}

pub async fn update_payout(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    form: &PayoutUpdateForm,
) -> StorageResult<PayoutRow> {
    Ok(diesel::update(payouts::table.find(id))
        .set(form)
        .returning(PayoutRow::as_returning())
        .get_result(conn)
        .await?)
}

/// The payouts of the grants, oldest first.
pub async fn payouts_of(
    conn: &mut AsyncPgConnection,
    grant_ids: &[Uuid],
) -> StorageResult<Vec<PayoutRow>> {
    Ok(payouts::table
        .filter(payouts::grant_id.eq_any(grant_ids))
        .select(PayoutRow::as_select())
        .order((payouts::requested_at, payouts::id))
        .load(conn)
        .await?)
}

#[derive(Debug, Default)]
pub struct PayoutFilter {
    pub status: Option<String>,
    pub grant_id: Option<Uuid>,
}

pub async fn list_payouts(
    conn: &mut AsyncPgConnection,
    filter: &PayoutFilter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> StorageResult<Vec<PayoutRow>> {
    let mut q = payouts::table.select(PayoutRow::as_select()).into_boxed();
    if let Some(s) = &filter.status {
        q = q.filter(payouts::status.eq(s.clone()));
    }
    if let Some(g) = filter.grant_id {
        q = q.filter(payouts::grant_id.eq(g));
    }
    if let Some((at, id)) = after {
        // Implied by the next filter, but sargable: the index range starts at the cursor
        // instead of the planner filtering every earlier row (flat pages at any depth).
        q = q.filter(payouts::requested_at.ge(at));
        q = q.filter(
            payouts::requested_at
                .gt(at)
                .or(payouts::requested_at.eq(at).and(payouts::id.gt(id))),
        );
    }
    Ok(q.order((payouts::requested_at, payouts::id))
        .limit(limit)
        .load(conn)
        .await?)
}

/// Claims an idempotency key for this transaction. `true`: the key is new and now ours (held
/// until commit); `false`: it was already used (a concurrent holder has finished by now).
pub async fn claim_key(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    key: &str,
    request_hash: &[u8],
) -> StorageResult<bool> {
    let n = diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::user_id.eq(user_id),
            idempotency_keys::key.eq(key),
            idempotency_keys::request_hash.eq(request_hash),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(n == 1)
}

pub async fn find_key(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    key: &str,
) -> StorageResult<IdempotencyKeyRow> {
    Ok(idempotency_keys::table
        .find((user_id, key))
        .select(IdempotencyKeyRow::as_select())
        .first(conn)
        .await?)
}

pub async fn save_response(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    key: &str,
    status: i16,
    body: &serde_json::Value,
) -> StorageResult<()> {
    diesel::update(idempotency_keys::table.find((user_id, key)))
        .set((
            idempotency_keys::response_status.eq(status),
            idempotency_keys::response_body.eq(body),
        ))
        .execute(conn)
        .await?;
    Ok(())
}
