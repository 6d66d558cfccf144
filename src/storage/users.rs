use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::models::{UserInsertForm, UserRow, UserUpdateForm};
use super::schema::users;
use super::StorageResult;

pub async fn insert(conn: &mut AsyncPgConnection, form: &UserInsertForm) -> StorageResult<UserRow> {
    Ok(diesel::insert_into(users::table)
        .values(form)
        .returning(UserRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn find_by_email(
    conn: &mut AsyncPgConnection,
    email_lower: &str,
) -> StorageResult<Option<UserRow>> {
    Ok(users::table
        .filter(diesel::dsl::sql::<diesel::sql_types::Text>("lower(email)").eq(email_lower))
        .select(UserRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

pub async fn get(conn: &mut AsyncPgConnection, id: Uuid) -> StorageResult<UserRow> {
    Ok(users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .await?)
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    form: &UserUpdateForm,
) -> StorageResult<UserRow> {
    Ok(diesel::update(users::table.find(id))
        .set(form)
        .returning(UserRow::as_returning())
        .get_result(conn)
        .await?)
}

pub struct UserFilter {
    pub role: Option<String>,
    pub organization_id: Option<Uuid>,
}

/// Keyset page ordered by (created_at, id).
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &UserFilter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> StorageResult<Vec<UserRow>> {
    let mut q = users::table.select(UserRow::as_select()).into_boxed();
    if let Some(role) = &filter.role {
        q = q.filter(users::role.eq(role.clone()));
    }
    if let Some(org) = filter.organization_id {
        q = q.filter(users::organization_id.eq(org));
    }
    if let Some((at, id)) = after {
        // Implied by the next filter, but sargable: the index range starts at the cursor
        // instead of the planner filtering every earlier row (flat pages at any depth).
        q = q.filter(users::created_at.ge(at));
        q = q.filter(
            users::created_at
                .gt(at)
                .or(users::created_at.eq(at).and(users::id.gt(id))),
        );
    }
    Ok(q.order((users::created_at, users::id))
        .limit(limit)
        .load(conn)
        .await?)
}

/// Email addresses of the active applicant users of an organization (notifications).
pub async fn applicant_emails(
    conn: &mut AsyncPgConnection,
    organization_id: Uuid,
) -> StorageResult<Vec<(String, String, String)>> {
    Ok(users::table
        .filter(users::organization_id.eq(organization_id))
        .filter(users::active.eq(true))
        .select((users::email, users::name, users::language))
        .load(conn)
        .await?)
}
