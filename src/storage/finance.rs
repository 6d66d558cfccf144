//! Reads for the finance pages: payouts and due tranches with the names a person needs beside
//! them (round, organization, project, requester, approver), each list in one statement.

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::prepared::PrepareExt;
use super::StorageResult;

/// A payout (or, with `payout_id` none and status `due`, a due tranche without a pending
/// request) with its context.
#[derive(Debug, Clone, QueryableByName)]
pub struct PayoutLineRow {
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub payout_id: Option<Uuid>,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = SqlUuid)]
    pub grant_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Int4)]
    pub tranche_number: i32,
    #[diesel(sql_type = SqlUuid)]
    pub round_id: Uuid,
    #[diesel(sql_type = Text)]
    pub round_name: String,
    #[diesel(sql_type = SqlUuid)]
    pub organization_id: Uuid,
    #[diesel(sql_type = Text)]
    pub organization_name: String,
    #[diesel(sql_type = Text)]
    pub project_title: String,
    /// The payout's amount; for a due tranche, what is still available.
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub amount: Decimal,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub requested_by: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    pub requester_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub approver_name: Option<String>,
    /// Since when the line waits: requested (requests), approved (payments), due (tranches).
    #[diesel(sql_type = Timestamptz)]
    pub since: DateTime<Utc>,
    /// The list's order and cursor key (the request time; the due time for tranches).
    #[diesel(sql_type = Timestamptz)]
    pub requested_at: DateTime<Utc>,
}

const PAYOUT_COLUMNS: &str = "p.id AS payout_id, p.status, p.grant_id, t.number AS tranche_number,
    g.round_id, r.name AS round_name, g.organization_id, o.name AS organization_name,
    a.title AS project_title, p.amount, p.requested_by, rq.name AS requester_name,
    ap.name AS approver_name,
    CASE WHEN p.status = 'approved' THEN COALESCE(p.approved_at, p.requested_at)
         ELSE p.requested_at END AS since,
    p.requested_at";

const PAYOUT_JOINS: &str = "FROM payouts p
    JOIN tranches t ON t.id = p.tranche_id
    JOIN grants g ON g.id = p.grant_id
    JOIN rounds r ON r.id = g.round_id
    JOIN organizations o ON o.id = g.organization_id
    JOIN applications a ON a.id = g.application_id
    JOIN users rq ON rq.id = p.requested_by
    LEFT JOIN users ap ON ap.id = p.approved_by";

/// The work queue in one round trip: requested payouts, approved ones awaiting the bank
/// payment (each oldest first, at most `limit` of each), and due tranches with money still
/// available and no pending request (oldest due first, at most `limit`).
pub async fn queue(conn: &mut AsyncPgConnection, limit: i64) -> StorageResult<Vec<PayoutLineRow>> {
    let sql = format!(
        "(SELECT {PAYOUT_COLUMNS} {PAYOUT_JOINS}
           WHERE p.status = 'requested' ORDER BY p.requested_at, p.id LIMIT $1)
         UNION ALL
         (SELECT {PAYOUT_COLUMNS} {PAYOUT_JOINS}
           WHERE p.status = 'approved' ORDER BY p.requested_at, p.id LIMIT $1)
         UNION ALL
         (SELECT NULL::uuid, 'due', t.grant_id, t.number, g.round_id, r.name, g.organization_id,
                 o.name, a.title, t.amount - t.requested_total, NULL::uuid, NULL::text, NULL::text,
                 COALESCE(t.due_at, g.created_at), COALESCE(t.due_at, g.created_at)
            FROM tranches t
            JOIN grants g ON g.id = t.grant_id
            JOIN rounds r ON r.id = g.round_id
            JOIN organizations o ON o.id = g.organization_id
            JOIN applications a ON a.id = g.application_id
           WHERE t.status = 'due' AND t.requested_total < t.amount
             AND g.status <> 'terminated'
             AND NOT EXISTS (SELECT 1 FROM payouts p
                              WHERE p.tranche_id = t.id AND p.status = 'requested')
           ORDER BY t.due_at, t.id LIMIT $1)"
    );
    Ok(diesel::sql_query(sql)
        .bind::<BigInt, _>(limit)
        .prepared()
        .load(conn)
        .await?)
}

#[derive(Debug, Default, Clone)]
pub struct PayoutLineFilter {
    pub status: Option<String>,
    pub round_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    pub grant_id: Option<Uuid>,
}

/// Payouts with their context, oldest request first, after the keyset cursor.
pub async fn payout_lines(
    conn: &mut AsyncPgConnection,
    filter: &PayoutLineFilter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> StorageResult<Vec<PayoutLineRow>> {
    let sql = format!(
        "SELECT {PAYOUT_COLUMNS} {PAYOUT_JOINS}
          WHERE ($1::text IS NULL OR p.status = $1)
            AND ($2::uuid IS NULL OR g.round_id = $2)
            AND ($3::uuid IS NULL OR g.organization_id = $3)
            AND ($4::uuid IS NULL OR p.grant_id = $4)
            AND ($5::timestamptz IS NULL OR (p.requested_at, p.id) > ($5, $6))
          ORDER BY p.requested_at, p.id
          LIMIT $7"
    );
    let (at, id) = match after {
        Some((at, id)) => (Some(at), Some(id)),
        None => (None, None),
    };
    Ok(diesel::sql_query(sql)
        .bind::<Nullable<Text>, _>(filter.status.clone())
        .bind::<Nullable<SqlUuid>, _>(filter.round_id)
        .bind::<Nullable<SqlUuid>, _>(filter.organization_id)
        .bind::<Nullable<SqlUuid>, _>(filter.grant_id)
        .bind::<Nullable<Timestamptz>, _>(at)
        .bind::<Nullable<SqlUuid>, _>(id)
        .bind::<BigInt, _>(limit)
        .prepared()
        .load(conn)
        .await?)
}

/// One payout with its context.
pub async fn payout_line(conn: &mut AsyncPgConnection, id: Uuid) -> StorageResult<PayoutLineRow> {
    let sql = format!("SELECT {PAYOUT_COLUMNS} {PAYOUT_JOINS} WHERE p.id = $1");
    Ok(diesel::sql_query(sql)
        .bind::<SqlUuid, _>(id)
        .prepared()
        .get_result(conn)
        .await?)
}

#[derive(Debug, Clone, QueryableByName)]
pub struct NamedRow {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub name: String,
}

/// Rounds that have grants, newest first (the filters of the payout list).
pub async fn rounds_with_grants(conn: &mut AsyncPgConnection) -> StorageResult<Vec<NamedRow>> {
    Ok(diesel::sql_query(
        "SELECT r.id, r.name FROM rounds r
          WHERE EXISTS (SELECT 1 FROM grants g WHERE g.round_id = r.id)
          ORDER BY r.created_at DESC, r.id",
    )
    .prepared()
    .load(conn)
    .await?)
}

/// Organizations that have grants, by name.
pub async fn organizations_with_grants(
    conn: &mut AsyncPgConnection,
) -> StorageResult<Vec<NamedRow>> {
    Ok(diesel::sql_query(
        "SELECT o.id, o.name FROM organizations o
          WHERE EXISTS (SELECT 1 FROM grants g WHERE g.organization_id = o.id)
          ORDER BY o.name, o.id",
    )
    .prepared()
    .load(conn)
    .await?)
}

/// The names of users by id (for lines that show who).
pub async fn user_names(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> StorageResult<Vec<NamedRow>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    Ok(
        diesel::sql_query("SELECT id, name FROM users WHERE id = ANY($1)")
            .bind::<diesel::sql_types::Array<SqlUuid>, _>(ids)
            .prepared()
            .load(conn)
            .await?,
    )
}

pub async fn round_names(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> StorageResult<Vec<NamedRow>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    Ok(
        diesel::sql_query("SELECT id, name FROM rounds WHERE id = ANY($1)")
            .bind::<diesel::sql_types::Array<SqlUuid>, _>(ids)
            .prepared()
            .load(conn)
            .await?,
    )
}
