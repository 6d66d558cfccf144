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

/// The round's applications in these statuses with their organizations' names, oldest
/// submission first, a page at a time.
pub async fn round_applications_named(
    conn: &mut AsyncPgConnection,
    round_id: Uuid,
    statuses: &[&str],
    offset: i64,
    limit: i64,
) -> StorageResult<Vec<(super::models::ApplicationRow, String)>> {
    Ok(applications::table
        .inner_join(organizations::table.on(organizations::id.eq(applications::organization_id)))
        .filter(applications::round_id.eq(round_id))
        .filter(applications::status.eq_any(statuses))
        .select((
            super::models::ApplicationRow::as_select(),
            organizations::name,
        ))
        .order((applications::submitted_at, applications::id))
        .offset(offset)
        .limit(limit)
        .load(conn)
        .await?)
}

/// Organizations with an application in the round (the affiliations a panel member may have).
pub async fn round_organizations(
    conn: &mut AsyncPgConnection,
    round_id: Uuid,
) -> StorageResult<Vec<(Uuid, String)>> {
    Ok(organizations::table
        .filter(
            organizations::id.eq_any(
                applications::table
                    .filter(applications::round_id.eq(round_id))
                    .select(applications::organization_id),
            ),
        )
        .select((organizations::id, organizations::name))
        .order(organizations::name)
        .load(conn)
        .await?)
}

/// Active reviewer users: (id, name, email).
pub async fn active_reviewers(
    conn: &mut AsyncPgConnection,
) -> StorageResult<Vec<(Uuid, String, String)>> {
    use super::schema::users;
    Ok(users::table
        .filter(users::role.eq("reviewer"))
        .filter(users::active.eq(true))
        .select((users::id, users::name, users::email))
        .order(users::name)
        .limit(1000)
        .load(conn)
        .await?)
}

/// Under-review applications of the round with fewer than `k` active (not recused)
/// assignments: (application, title, how many it has).
pub async fn assignment_gaps(
    conn: &mut AsyncPgConnection,
    round_id: Uuid,
    k: i64,
) -> StorageResult<Vec<(Uuid, String, i64)>> {
    let rows: Vec<(Uuid, String, i64)> = applications::table
        .left_join(
            assignments::table.on(assignments::application_id
                .eq(applications::id)
                .and(assignments::status.ne("recused"))),
        )
        .filter(applications::round_id.eq(round_id))
        .filter(applications::status.eq("under_review"))
        .group_by((applications::id, applications::title))
        .select((
            applications::id,
            applications::title,
            diesel::dsl::count(assignments::id.nullable()),
        ))
        .load(conn)
        .await?;
    Ok(rows.into_iter().filter(|r| r.2 < k).collect())
}
