//! Queries for operators: the figures `/metrics` reports and the retention job's deletes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::StorageResult;

/// What the database says at scrape time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub outbox_pending: i64,
    pub outbox_failed: i64,
    /// Age of the oldest pending message (0 when none).
    pub outbox_oldest_pending_secs: f64,
    pub audit_unsealed: i64,
    /// Age of the oldest audit event not yet sealed (0 when none).
    pub audit_seal_lag_secs: f64,
    /// Live bearer tokens by kind (`session` from sign-in, `api` from `/me/tokens`).
    pub live_tokens: Vec<(String, i64)>,
    /// Browser sessions not yet expired.
    pub web_sessions: i64,
}

#[derive(QueryableByName)]
struct OutboxFigures {
    #[diesel(sql_type = BigInt)]
    pending: i64,
    #[diesel(sql_type = BigInt)]
    failed: i64,
    #[diesel(sql_type = Double)]
    oldest: f64,
}

#[derive(QueryableByName)]
struct AuditFigures {
    #[diesel(sql_type = BigInt)]
    unsealed: i64,
    #[diesel(sql_type = Double)]
    lag: f64,
}

#[derive(QueryableByName)]
struct KindCount {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Every query reads an index range, not a whole table: pending/failed outbox rows through
/// `email_outbox_due_idx` (sent rows are the bulk and are skipped), unsealed audit events
/// through the sealer's horizon (events below it are all sealed) and `audit_events_txid_idx`.
pub async fn snapshot(conn: &mut AsyncPgConnection) -> StorageResult<Snapshot> {
    let outbox: OutboxFigures = diesel::sql_query(
        "SELECT count(*) FILTER (WHERE status = 'pending') AS pending, \
                count(*) FILTER (WHERE status = 'failed') AS failed, \
                coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE status = 'pending')), 0)::float8 AS oldest \
         FROM email_outbox WHERE status IN ('pending', 'failed')",
    )
    .get_result(conn)
    .await?;
    let audit: AuditFigures = diesel::sql_query(
        "SELECT count(*) AS unsealed, coalesce(extract(epoch FROM now() - min(e.at)), 0)::float8 AS lag \
         FROM audit_events e, audit_sealer_state st \
         WHERE e.txid >= st.horizon \
           AND NOT EXISTS (SELECT 1 FROM audit_seals s WHERE s.event_id = e.id)",
    )
    .get_result(conn)
    .await?;
    let tokens: Vec<KindCount> = diesel::sql_query(
        "SELECT kind, count(*) AS n FROM api_tokens \
         WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()) GROUP BY kind",
    )
    .load(conn)
    .await?;
    let web_sessions = super::sessions::count_live(conn, chrono::Utc::now()).await?;
    Ok(Snapshot {
        outbox_pending: outbox.pending,
        outbox_failed: outbox.failed,
        outbox_oldest_pending_secs: outbox.oldest.max(0.0),
        audit_unsealed: audit.unsealed,
        audit_seal_lag_secs: audit.lag.max(0.0),
        live_tokens: tokens.into_iter().map(|k| (k.kind, k.n)).collect(),
        web_sessions,
    })
}

/// Takes the transaction-level advisory lock `key` if no one holds it (released at commit).
pub async fn try_xact_lock(conn: &mut AsyncPgConnection, key: i64) -> StorageResult<bool> {
    #[derive(QueryableByName)]
    struct Got {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        got: bool,
    }
    let g: Got = diesel::sql_query("SELECT pg_try_advisory_xact_lock($1) AS got")
        .bind::<BigInt, _>(key)
        .get_result(conn)
        .await?;
    Ok(g.got)
}

/// Deletes up to `limit` rows of `table` matching `condition` (SQL in which `$1` is the cutoff
/// time). Both come from the retention rules in the code, never from input.
pub async fn delete_older(
    conn: &mut AsyncPgConnection,
    table: &str,
    condition: &str,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> StorageResult<usize> {
    // ctid: one statement, no knowledge of each table's key; LIMIT keeps each transaction short.
    let sql = format!(
        "DELETE FROM {table} WHERE ctid = ANY(ARRAY(\
             SELECT ctid FROM {table} WHERE {condition} LIMIT $2))"
    );
    Ok(diesel::sql_query(sql)
        .bind::<Timestamptz, _>(cutoff)
        .bind::<BigInt, _>(limit)
        .execute(conn)
        .await?)
}
