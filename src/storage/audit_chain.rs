//! Sealing audit events into the hash chain, verifying it, and reading the trail.
//!
//! Writers only INSERT into `audit_events`; they never touch the chain, so no business
//! transaction waits on it. The sealer runs apart (a background task, `gongyi audit seal`):
//! under a transaction-level advisory lock (one sealer at a time across replicas) it takes the
//! unsealed events whose writing transaction is older than the oldest transaction still running
//! (`txid < pg_snapshot_xmin(pg_current_snapshot())`). Those transactions have all ended, so no
//! event can still appear among them: the chain order (by id, within what each run sees) is final
//! once written. `audit_sealer_state.horizon` records how far that is done, so a pass reads only
//! events of newer transactions (an index range on `txid`) instead of the whole table.

use std::future::Future;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bytea, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::models::{AuditEventRow, AuditSealInsertForm};
use super::schema::{audit_events, audit_seals};
use super::StorageResult;
use crate::domain::audit_chain::{self, ChainBreak, EventContent, SealedEvent, GENESIS};

/// Advisory lock key of the sealer ("gongyi audit" in ASCII, truncated).
const SEALER_LOCK: i64 = 0x676f_6e67_7969_6175;

#[derive(QueryableByName)]
struct EventText {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Timestamptz)]
    at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    actor_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    actor_role: Option<String>,
    #[diesel(sql_type = Text)]
    action: String,
    #[diesel(sql_type = Text)]
    entity_type: String,
    #[diesel(sql_type = SqlUuid)]
    entity_id: Uuid,
    #[diesel(sql_type = Nullable<Text>)]
    before: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    after: Option<String>,
}

impl From<EventText> for EventContent {
    fn from(e: EventText) -> Self {
        EventContent {
            id: e.id,
            at: e.at,
            actor_id: e.actor_id,
            actor_role: e.actor_role,
            action: e.action,
            entity_type: e.entity_type,
            entity_id: e.entity_id,
            before: e.before,
            after: e.after,
        }
    }
}

#[derive(QueryableByName)]
struct Bounds {
    #[diesel(sql_type = Text)]
    low: String,
    #[diesel(sql_type = Text)]
    high: String,
}

#[derive(QueryableByName)]
struct Head {
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Bytea)]
    hash: Vec<u8>,
}

/// Seals up to `batch` finished, unsealed events, in id order. Must run inside a transaction
/// (the advisory lock is released at its end). Returns how many were sealed.
pub async fn seal_batch(conn: &mut AsyncPgConnection, batch: i64) -> StorageResult<usize> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<BigInt, _>(SEALER_LOCK)
        .execute(conn)
        .await?;
    // Fresh statements after the lock see every seal the previous holder committed. The horizon
    // is read once: transactions below it have all ended, and stay ended.
    let bounds: Bounds = diesel::sql_query(
        "SELECT horizon::text AS low, pg_snapshot_xmin(pg_current_snapshot())::text AS high \
         FROM audit_sealer_state",
    )
    .get_result(conn)
    .await?;
    let events: Vec<EventText> = diesel::sql_query(
        "SELECT e.id, e.at, e.actor_id, e.actor_role, e.action, e.entity_type, e.entity_id, \
                e.before::text AS before, e.after::text AS after \
         FROM audit_events e \
         WHERE e.txid >= $2::xid8 AND e.txid < $3::xid8 \
           AND NOT EXISTS (SELECT 1 FROM audit_seals s WHERE s.event_id = e.id) \
         ORDER BY e.id LIMIT $1",
    )
    .bind::<BigInt, _>(batch)
    .bind::<Text, _>(&bounds.low)
    .bind::<Text, _>(&bounds.high)
    .load(conn)
    .await?;
    if (events.len() as i64) < batch {
        // Everything below the new horizon is (about to be) sealed in this transaction.
        diesel::sql_query("UPDATE audit_sealer_state SET horizon = $1::xid8")
            .bind::<Text, _>(&bounds.high)
            .execute(conn)
            .await?;
    }
    if events.is_empty() {
        return Ok(0);
    }
    let head: Option<Head> =
        diesel::sql_query("SELECT seq, hash FROM audit_seals ORDER BY seq DESC LIMIT 1")
            .get_result(conn)
            .await
            .optional()?;
    let (mut seq, mut prev) = head.map_or((0, GENESIS.to_vec()), |h| (h.seq, h.hash));
    let mut forms = Vec::with_capacity(events.len());
    for e in events {
        let content: EventContent = e.into();
        let hash = audit_chain::link_hash(&prev, &content).to_vec();
        seq += 1;
        forms.push(AuditSealInsertForm {
            seq,
            event_id: content.id,
            prev_hash: std::mem::replace(&mut prev, hash.clone()),
            hash,
        });
    }
    let n = forms.len();
    for chunk in forms.chunks(1000) {
        diesel::insert_into(audit_seals::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    Ok(n)
}

#[derive(QueryableByName)]
struct SealText {
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = BigInt)]
    event_id: i64,
    #[diesel(sql_type = Bytea)]
    prev_hash: Vec<u8>,
    #[diesel(sql_type = Bytea)]
    hash: Vec<u8>,
    #[diesel(sql_type = Nullable<BigInt>)]
    id: Option<i64>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    actor_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    actor_role: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    action: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    entity_type: Option<String>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    entity_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    before: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    after: Option<String>,
}

impl From<SealText> for SealedEvent {
    fn from(s: SealText) -> Self {
        let event = match (s.id, s.at, s.action, s.entity_type, s.entity_id) {
            (Some(id), Some(at), Some(action), Some(entity_type), Some(entity_id)) => {
                Some(EventContent {
                    id,
                    at,
                    actor_id: s.actor_id,
                    actor_role: s.actor_role,
                    action,
                    entity_type,
                    entity_id,
                    before: s.before,
                    after: s.after,
                })
            }
            _ => None,
        };
        SealedEvent {
            seq: s.seq,
            event_id: s.event_id,
            prev_hash: s.prev_hash,
            hash: s.hash,
            event,
        }
    }
}

/// What `verify` found.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ChainReport {
    /// True when every sealed link recomputes to its stored hash.
    pub intact: bool,
    /// Seals checked (up to the first break).
    pub checked: i64,
    pub sealed: i64,
    /// Events not sealed yet (written recently, or their writers are still running).
    pub unsealed: i64,
    /// Hex SHA-256 of the last verified link: publish it to anchor the chain outside the database.
    pub head_hash: Option<String>,
    /// The first broken link, when there is one.
    pub first_break: Option<ChainBreak>,
}

#[derive(QueryableByName)]
struct Counts {
    #[diesel(sql_type = BigInt)]
    sealed: i64,
    #[diesel(sql_type = BigInt)]
    total: i64,
}

/// Walks the whole chain in seq order, recomputing each hash from the event row as it is now.
pub async fn verify(conn: &mut AsyncPgConnection) -> StorageResult<ChainReport> {
    const BATCH: i64 = 2000;
    let counts: Counts = diesel::sql_query(
        "SELECT (SELECT count(*) FROM audit_seals) AS sealed, (SELECT count(*) FROM audit_events) AS total",
    )
    .get_result(conn)
    .await?;
    let mut expected = 1i64;
    let mut prev = GENESIS.to_vec();
    let mut last_seq = 0i64;
    let mut first_break = None;
    loop {
        let rows: Vec<SealText> = diesel::sql_query(
            "SELECT s.seq, s.event_id, s.prev_hash, s.hash, e.id, e.at, e.actor_id, e.actor_role, \
                    e.action, e.entity_type, e.entity_id, e.before::text AS before, e.after::text AS after \
             FROM audit_seals s LEFT JOIN audit_events e ON e.id = s.event_id \
             WHERE s.seq > $1 ORDER BY s.seq LIMIT $2",
        )
        .bind::<BigInt, _>(last_seq)
        .bind::<BigInt, _>(BATCH)
        .load(conn)
        .await?;
        let Some(last) = rows.last() else { break };
        last_seq = last.seq;
        let n = rows.len() as i64;
        let seals: Vec<SealedEvent> = rows.into_iter().map(Into::into).collect();
        match audit_chain::verify_links(&seals, expected, prev.clone()) {
            Ok((next, head)) => {
                expected = next;
                prev = head;
            }
            Err(b) => {
                first_break = Some(b);
                break;
            }
        }
        if n < BATCH {
            break;
        }
    }
    let checked = match &first_break {
        Some(b) => b.seq - 1,
        None => expected - 1,
    };
    Ok(ChainReport {
        intact: first_break.is_none(),
        checked,
        sealed: counts.sealed,
        unsealed: counts.total - counts.sealed,
        // The last link known good (within the batch that broke, the one before the break is
        // not tracked, so no head is reported then).
        head_hash: (first_break.is_none() && checked > 0).then(|| hex::encode(&prev)),
        first_break,
    })
}

#[derive(Debug, Default)]
pub struct AuditFilter {
    pub entity_type: Option<String>,
    pub entity_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    /// e.g. `payout.approve`.
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Keyset page of the trail, newest first (by id), each event with its seal position if sealed.
// Borrows `conn` shared, so it can be pipelined with other reads (`try_join!`).
pub fn list<'c>(
    mut conn: &'c AsyncPgConnection,
    filter: &AuditFilter,
    before_id: Option<i64>,
    limit: i64,
) -> impl Future<Output = StorageResult<Vec<(AuditEventRow, Option<i64>)>>> + Send + use<'c> {
    let mut q = audit_events::table
        .left_join(audit_seals::table)
        .select((AuditEventRow::as_select(), audit_seals::seq.nullable()))
        .into_boxed();
    if let Some(t) = &filter.entity_type {
        q = q.filter(audit_events::entity_type.eq(t.clone()));
    }
    if let Some(id) = filter.entity_id {
        q = q.filter(audit_events::entity_id.eq(id));
    }
    if let Some(a) = filter.actor_id {
        q = q.filter(audit_events::actor_id.eq(a));
    }
    if let Some(a) = &filter.action {
        q = q.filter(audit_events::action.eq(a.clone()));
    }
    if let Some(from) = filter.from {
        q = q.filter(audit_events::at.ge(from));
    }
    if let Some(to) = filter.to {
        q = q.filter(audit_events::at.lt(to));
    }
    if let Some(id) = before_id {
        q = q.filter(audit_events::id.lt(id));
    }
    let q = q
        .order(audit_events::id.desc())
        .limit(limit)
        .load(&mut conn);
    async move { Ok(q.await?) }
}

/// One change in an entity's history as a page lists it: when, what, and the `status` of the
/// event's `before` and `after` (where they have one).
#[derive(Debug, Clone, Queryable)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
}

/// The newest `limit` events of one entity, newest first: only the values a history shows,
/// since an event's `before` and `after` may hold a whole application, and no seal join. Borrows
/// `conn` shared, so it can be pipelined with other reads (`try_join!`).
pub fn history<'c>(
    mut conn: &'c AsyncPgConnection,
    entity_type: &'static str,
    entity_id: Uuid,
    limit: i64,
) -> impl Future<Output = StorageResult<Vec<HistoryEntry>>> + Send + use<'c> {
    let q = audit_events::table
        .filter(audit_events::entity_type.eq(entity_type))
        .filter(audit_events::entity_id.eq(entity_id))
        .select((
            audit_events::at,
            audit_events::action,
            audit_events::before.retrieve_as_text("status"),
            audit_events::after.retrieve_as_text("status"),
        ))
        .order(audit_events::id.desc())
        .limit(limit)
        .load::<HistoryEntry>(&mut conn);
    async move { Ok(q.await?) }
}
