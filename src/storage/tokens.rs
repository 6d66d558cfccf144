use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::models::{ApiTokenInsertForm, ApiTokenRow, UserRow};
use super::schema::{api_tokens, login_failures, users};
use super::StorageResult;

pub async fn insert(
    conn: &mut AsyncPgConnection,
    form: &ApiTokenInsertForm,
) -> StorageResult<ApiTokenRow> {
    Ok(diesel::insert_into(api_tokens::table)
        .values(form)
        .returning(ApiTokenRow::as_returning())
        .get_result(conn)
        .await?)
}

/// The user behind a bearer token, in one query: the token must be live and the user active,
/// so deactivating a user or revoking a token takes effect on the very next request.
pub async fn find_caller(
    conn: &mut AsyncPgConnection,
    digest: &[u8],
    now: DateTime<Utc>,
) -> StorageResult<Option<UserRow>> {
    Ok(api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::digest.eq(digest))
        .filter(api_tokens::revoked_at.is_null())
        .filter(
            api_tokens::expires_at
                .is_null()
                .or(api_tokens::expires_at.gt(now)),
        )
        .filter(users::active.eq(true))
        .select(UserRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Live API tokens of a user (sessions are not listed).
pub async fn list_api_tokens(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
) -> StorageResult<Vec<ApiTokenRow>> {
    Ok(api_tokens::table
        .filter(api_tokens::user_id.eq(user_id))
        .filter(api_tokens::kind.eq("api"))
        .filter(api_tokens::revoked_at.is_null())
        .select(ApiTokenRow::as_select())
        .order((api_tokens::created_at, api_tokens::id))
        .load(conn)
        .await?)
}

/// Revokes one of the user's tokens; false when there is no such live token of theirs.
pub async fn revoke(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    token_id: Uuid,
    now: DateTime<Utc>,
) -> StorageResult<bool> {
    let n = diesel::update(
        api_tokens::table
            .filter(api_tokens::id.eq(token_id))
            .filter(api_tokens::user_id.eq(user_id))
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(now))
    .execute(conn)
    .await?;
    Ok(n == 1)
}

pub async fn record_login_failure(
    conn: &mut AsyncPgConnection,
    email_lower: &str,
) -> StorageResult<()> {
    diesel::insert_into(login_failures::table)
        .values(login_failures::email_lower.eq(email_lower))
        .execute(conn)
        .await?;
    Ok(())
}

/// Failures since `since`, and the oldest of them (to tell the client when to retry).
pub async fn recent_login_failures(
    conn: &mut AsyncPgConnection,
    email_lower: &str,
    since: DateTime<Utc>,
) -> StorageResult<(i64, Option<DateTime<Utc>>)> {
    Ok(login_failures::table
        .filter(login_failures::email_lower.eq(email_lower))
        .filter(login_failures::failed_at.gt(since))
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::min(login_failures::failed_at),
        ))
        .first(conn)
        .await?)
}

pub async fn clear_login_failures(
    conn: &mut AsyncPgConnection,
    email_lower: &str,
) -> StorageResult<()> {
    diesel::delete(login_failures::table.filter(login_failures::email_lower.eq(email_lower)))
        .execute(conn)
        .await?;
    Ok(())
}
