//! The public notice (公示): published award decisions and their funded lines, with only the
//! columns the public may see (no reviewer, no score sheet, no contact data).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::schema::{applications, award_decisions, awards, organizations, rounds};
use super::StorageResult;

/// A published decision (every row of `award_decisions` is one: previews are never stored).
#[derive(Debug, Clone, Queryable)]
pub struct NoticeDecisionRow {
    pub round_id: Uuid,
    pub round_name: String,
    pub year: i32,
    pub status: String,
    pub total_awarded: Decimal,
    pub published_at: DateTime<Utc>,
    pub notice_until: DateTime<Utc>,
    pub finalized_at: Option<DateTime<Utc>>,
}

/// One funded project of a decision.
#[derive(Debug, Clone, Queryable)]
pub struct NoticeLineRow {
    pub round_id: Uuid,
    pub rank: Option<i32>,
    pub organization_name: String,
    pub title: String,
    pub final_score: Option<Decimal>,
    pub amount: Decimal,
}

/// Published decisions, newest first; `round` picks one.
pub async fn decisions(
    conn: &mut AsyncPgConnection,
    round: Option<Uuid>,
    offset: i64,
    limit: i64,
) -> StorageResult<Vec<NoticeDecisionRow>> {
    let mut q = award_decisions::table
        .inner_join(rounds::table.on(rounds::id.eq(award_decisions::round_id)))
        .select((
            award_decisions::round_id,
            rounds::name,
            rounds::year,
            award_decisions::status,
            award_decisions::total_awarded,
            award_decisions::published_at,
            award_decisions::notice_until,
            award_decisions::finalized_at,
        ))
        .into_boxed();
    if let Some(r) = round {
        q = q.filter(award_decisions::round_id.eq(r));
    }
    Ok(q.order((
        award_decisions::published_at.desc(),
        award_decisions::round_id,
    ))
    .offset(offset)
    .limit(limit)
    .load(conn)
    .await?)
}

/// How many projects each of these decisions funds.
pub async fn funded_counts(
    conn: &mut AsyncPgConnection,
    round_ids: &[Uuid],
) -> StorageResult<Vec<(Uuid, i64)>> {
    Ok(awards::table
        .filter(awards::round_id.eq_any(round_ids))
        .filter(awards::outcome.eq("funded"))
        .group_by(awards::round_id)
        .select((awards::round_id, diesel::dsl::count_star()))
        .load(conn)
        .await?)
}

/// Funded lines of one decision in rank order, a page at a time (the primary key's range).
pub async fn funded_lines(
    conn: &mut AsyncPgConnection,
    round_id: Uuid,
    offset: i64,
    limit: i64,
) -> StorageResult<Vec<NoticeLineRow>> {
    Ok(awards::table
        .inner_join(applications::table.on(applications::id.eq(awards::application_id)))
        .inner_join(organizations::table.on(organizations::id.eq(applications::organization_id)))
        .filter(awards::round_id.eq(round_id))
        .filter(awards::outcome.eq("funded"))
        .select((
            awards::round_id,
            awards::rank,
            organizations::name,
            applications::title,
            awards::final_score,
            awards::amount,
        ))
        .order((awards::rank.asc().nulls_last(), awards::application_id))
        .offset(offset)
        .limit(limit)
        .load(conn)
        .await?)
}
