use chrono::{DateTime, Utc};
use std::future::Future;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::models::{RoundInsertForm, RoundRow, RoundUpdateForm};
use super::schema::rounds;
use super::StorageResult;

pub async fn insert(
    conn: &mut AsyncPgConnection,
    form: &RoundInsertForm,
) -> StorageResult<RoundRow> {
    Ok(diesel::insert_into(rounds::table)
        .values(form)
        .returning(RoundRow::as_returning())
        .get_result(conn)
        .await?)
}

/// A round; `include_drafts` false hides drafts (they are not found).
// Borrows `conn` shared: several such futures can be awaited together
// (`try_join!`), pipelined in one round trip and run by the server in the order written.
pub fn get<'c>(
    mut conn: &'c AsyncPgConnection,
    id: Uuid,
    include_drafts: bool,
) -> impl Future<Output = StorageResult<RoundRow>> + Send + use<'c> {
    let mut q = rounds::table
        .find(id)
        .select(RoundRow::as_select())
        .into_boxed();
    if !include_drafts {
        q = q.filter(rounds::status.ne("draft"));
    }
    let q = q.first(&mut conn);
    async move { Ok(q.await?) }
}

pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> StorageResult<RoundRow> {
    Ok(rounds::table
        .find(id)
        .select(RoundRow::as_select())
        .for_update()
        .first(conn)
        .await?)
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    form: &RoundUpdateForm,
) -> StorageResult<RoundRow> {
    Ok(diesel::update(rounds::table.find(id))
        .set(form)
        .returning(RoundRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    include_drafts: bool,
    status: Option<&str>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> StorageResult<Vec<RoundRow>> {
    let mut q = rounds::table.select(RoundRow::as_select()).into_boxed();
    if !include_drafts {
        q = q.filter(rounds::status.ne("draft"));
    }
    if let Some(s) = status {
        q = q.filter(rounds::status.eq(s.to_string()));
    }
    if let Some((at, id)) = after {
        // Implied by the next filter, but sargable: the index range starts at the cursor
        // instead of the planner filtering every earlier row (flat pages at any depth).
        q = q.filter(rounds::created_at.ge(at));
        q = q.filter(
            rounds::created_at
                .gt(at)
                .or(rounds::created_at.eq(at).and(rounds::id.gt(id))),
        );
    }
    Ok(q.order((rounds::created_at, rounds::id))
        .limit(limit)
        .load(conn)
        .await?)
}
