//! Reads for the reviewers' and the program office's pages: a row plus the names a page shows
//! beside it, in one join.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::models::AssignmentRow;
use super::schema::{applications, assignments, organizations, rounds};
use super::StorageResult;

/// An assignment with its application's title, organization and round.
#[derive(Debug, Clone, Queryable)]
pub struct AssignmentListRow {
    #[diesel(embed)]
    pub assignment: AssignmentRow,
    pub title: String,
    pub organization_name: String,
    pub round_name: String,
    pub round_status: String,
}

/// A reviewer's assignments, newest round first, then by application title.
pub async fn reviewer_assignments(
    conn: &mut AsyncPgConnection,
    reviewer_id: Uuid,
    offset: i64,
    limit: i64,
) -> StorageResult<Vec<AssignmentListRow>> {
    Ok(assignments::table
        .inner_join(applications::table.on(applications::id.eq(assignments::application_id)))
        .inner_join(organizations::table.on(organizations::id.eq(applications::organization_id)))
        .inner_join(rounds::table.on(rounds::id.eq(assignments::round_id)))
        .filter(assignments::reviewer_id.eq(reviewer_id))
        .select((
            AssignmentRow::as_select(),
            applications::title,
            organizations::name,
            rounds::name,
            rounds::status,
        ))
        .order((
            rounds::created_at.desc(),
            rounds::id,
            applications::title,
            assignments::id,
        ))
        .offset(offset)
        .limit(limit)
        .load(conn)
        .await?)
}

/// (id, name, email) of these users.
pub async fn user_names(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> StorageResult<Vec<(Uuid, String, String)>> {
    use super::schema::users;
    Ok(users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::name, users::email))
        .load(conn)
        .await?)
}

/// How many of the round's applications are in each status.
pub async fn application_counts(
    conn: &mut AsyncPgConnection,
    round_id: Uuid,
) -> StorageResult<Vec<(String, i64)>> {
    Ok(applications::table
        .filter(applications::round_id.eq(round_id))
        .group_by(applications::status)
        .select((applications::status, diesel::dsl::count_star()))
        .load(conn)
        .await?)
}

/// How many assignments each reviewer of the round has in each status.
pub async fn assignment_progress(
    conn: &mut AsyncPgConnection,
    round_id: Uuid,
) -> StorageResult<Vec<(Uuid, String, i64)>> {
    Ok(assignments::table
        .filter(assignments::round_id.eq(round_id))
        .group_by((assignments::reviewer_id, assignments::status))
        .select((
            assignments::reviewer_id,
            assignments::status,
            diesel::dsl::count_star(),
        ))
        .load(conn)
        .await?)
}
