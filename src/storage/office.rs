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
