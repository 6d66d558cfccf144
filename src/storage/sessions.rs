//! Browser sessions (`web_sessions`): created at sign-in, found by the digest of the cookie
//! value, touched as they are used, deleted at logout and when their user is deactivated.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::models::UserRow;
use super::schema::{users, web_sessions};
use super::StorageResult;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = web_sessions)]
pub struct WebSessionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub digest: Vec<u8>,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = web_sessions)]
pub struct WebSessionInsertForm {
    pub id: Uuid,
    pub user_id: Uuid,
    pub digest: Vec<u8>,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    form: &WebSessionInsertForm,
) -> StorageResult<WebSessionRow> {
    Ok(diesel::insert_into(web_sessions::table)
        .values(form)
        .returning(WebSessionRow::as_returning())
        .get_result(conn)
        .await?)
}

/// The live session of a cookie and its active user, touched in the same statement: a session
/// idle since before `idle_since` or past its expiry is not found, nor one of a deactivated
/// user. `last_seen_at` moves at most once a minute, so reading pages writes little.
pub async fn touch_live(
    conn: &mut AsyncPgConnection,
    digest: &[u8],
    now: DateTime<Utc>,
    idle_since: DateTime<Utc>,
) -> StorageResult<Option<(WebSessionRow, UserRow)>> {
    let found: Option<(WebSessionRow, UserRow)> = web_sessions::table
        .inner_join(users::table)
        .filter(web_sessions::digest.eq(digest))
        .filter(web_sessions::expires_at.gt(now))
        .filter(web_sessions::last_seen_at.gt(idle_since))
        .filter(users::active.eq(true))
        .select((WebSessionRow::as_select(), UserRow::as_select()))
        .first(conn)
        .await
        .optional()?;
    if let Some((session, _)) = &found {
        if now - session.last_seen_at > chrono::Duration::minutes(1) {
            diesel::update(web_sessions::table.find(session.id))
                .set(web_sessions::last_seen_at.eq(now))
                .execute(conn)
                .await?;
        }
    }
    Ok(found)
}

pub async fn delete_by_digest(conn: &mut AsyncPgConnection, digest: &[u8]) -> StorageResult<usize> {
    Ok(
        diesel::delete(web_sessions::table.filter(web_sessions::digest.eq(digest)))
            .execute(conn)
            .await?,
    )
}

/// Ends every session of a user (deactivation).
pub async fn delete_for_user(conn: &mut AsyncPgConnection, user_id: Uuid) -> StorageResult<usize> {
    Ok(
        diesel::delete(web_sessions::table.filter(web_sessions::user_id.eq(user_id)))
            .execute(conn)
            .await?,
    )
}

/// Live sessions, for the metrics gauge.
pub async fn count_live(conn: &mut AsyncPgConnection, now: DateTime<Utc>) -> StorageResult<i64> {
    Ok(web_sessions::table
        .filter(web_sessions::expires_at.gt(now))
        .count()
        .get_result(conn)
        .await?)
}
