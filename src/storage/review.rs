//! Panels, assignments and award decisions.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::models::{
    AssignmentInsertForm, AssignmentRow, AssignmentUpdateForm, AwardDecisionRow, AwardObjectionRow,
    AwardRow, PanelMemberRow,
};
use super::prepared::PrepareExt;
use super::schema::{
    applications, assignments, award_decisions, award_objections, awards, panel_members,
};
use super::StorageResult;

/// Adds a reviewer to a round's panel, or replaces its affiliations.
pub async fn upsert_member(
    conn: &mut AsyncPgConnection,
    row: &PanelMemberRow,
) -> StorageResult<PanelMemberRow> {
    Ok(diesel::insert_into(panel_members::table)
        .values(row)
        .on_conflict((panel_members::round_id, panel_members::reviewer_id))
        .do_update()
        .set(panel_members::affiliations.eq(excluded(panel_members::affiliations)))
        .returning(PanelMemberRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn members(
    conn: &mut AsyncPgConnection,
    round_id: Uuid,
) -> StorageResult<Vec<PanelMemberRow>> {
    Ok(panel_members::table
        .filter(panel_members::round_id.eq(round_id))
        .select(PanelMemberRow::as_select())
        .order(panel_members::reviewer_id)
        .load(conn)
        .await?)
}

pub async fn insert_assignments(
    conn: &mut AsyncPgConnection,
    forms: &[AssignmentInsertForm],
) -> StorageResult<Vec<AssignmentRow>> {
    if forms.is_empty() {
        return Ok(vec![]);
    }
    Ok(diesel::insert_into(assignments::table)
        .values(forms)
        .returning(AssignmentRow::as_returning())
        .get_results(conn)
        .await?)
}

/// One assignment; a reviewer sees only its own (others are not found).
pub async fn get_assignment(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    reviewer: Option<Uuid>,
) -> StorageResult<AssignmentRow> {
    let mut q = assignments::table
        .find(id)
        .select(AssignmentRow::as_select())
        .into_boxed();
    if let Some(r) = reviewer {
        q = q.filter(assignments::reviewer_id.eq(r));
    }
    Ok(q.first(conn).await?)
}

// Borrows `conn` shared: several such futures can be awaited together
// (`try_join!`), pipelined in one round trip and run by the server in the order written.
pub fn lock_assignment<'c>(
    mut conn: &'c AsyncPgConnection,
    id: Uuid,
) -> impl std::future::Future<Output = StorageResult<AssignmentRow>> + Send + use<'c> {
    let q = assignments::table
        .find(id)
        .select(AssignmentRow::as_select())
        .for_update()
        .first(&mut conn);
    async move { Ok(q.await?) }
}

// Borrows `conn` shared: several such futures can be awaited together
// (`try_join!`), pipelined in one round trip and run by the server in the order written.
pub fn update_assignment<'c, 'f>(
    mut conn: &'c AsyncPgConnection,
    id: Uuid,
    form: &'f AssignmentUpdateForm,
) -> impl std::future::Future<Output = StorageResult<AssignmentRow>> + Send + use<'c, 'f> {
    // Prepared: each caller sets fixed fields (saving with or without a comment, submitting,
    // recusing), so the texts are few.
    let q = diesel::update(assignments::table.find(id))
        .set(form)
        .returning(AssignmentRow::as_returning())
        .prepared()
        .get_result(&mut conn);
    async move { Ok(q.await?) }
}

#[derive(Debug, Default)]
pub struct AssignmentFilter {
    pub reviewer_id: Option<Uuid>,
    pub round_id: Option<Uuid>,
    pub application_id: Option<Uuid>,
    pub status: Option<String>,
}

pub async fn list_assignments(
    conn: &mut AsyncPgConnection,
    filter: &AssignmentFilter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> StorageResult<Vec<AssignmentRow>> {
    let mut q = assignments::table
        .select(AssignmentRow::as_select())
        .into_boxed();
    if let Some(r) = filter.reviewer_id {
        q = q.filter(assignments::reviewer_id.eq(r));
    }
    if let Some(r) = filter.round_id {
        q = q.filter(assignments::round_id.eq(r));
    }
    if let Some(a) = filter.application_id {
        q = q.filter(assignments::application_id.eq(a));
    }
    if let Some(s) = &filter.status {
        q = q.filter(assignments::status.eq(s.clone()));
    }
    if let Some((at, id)) = after {
        // Implied by the next filter, but sargable: the index range starts at the cursor
        // instead of the planner filtering every earlier row (flat pages at any depth).
        q = q.filter(assignments::created_at.ge(at));
        q = q.filter(
            assignments::created_at
                .gt(at)
                .or(assignments::created_at.eq(at).and(assignments::id.gt(id))),
        );
    }
    Ok(q.order((assignments::created_at, assignments::id))
        .limit(limit)
        .load(conn)
        .await?)
}

/// Every assignment of a round (for automatic assignment and the ranking).
pub async fn round_assignments(
    conn: &mut AsyncPgConnection,
    round_id: Uuid,
) -> StorageResult<Vec<AssignmentRow>> {
    Ok(assignments::table
        .filter(assignments::round_id.eq(round_id))
        .select(AssignmentRow::as_select())
        .order((assignments::application_id, assignments::reviewer_id))
        .load(conn)
        .await?)
}

/// Ids of the applications a reviewer is assigned to and not recused from.
pub async fn assigned_application_ids(
    conn: &mut AsyncPgConnection,
    reviewer_id: Uuid,
) -> StorageResult<Vec<Uuid>> {
    Ok(assignments::table
        .filter(assignments::reviewer_id.eq(reviewer_id))
        .filter(assignments::status.ne("recused"))
        .select(assignments::application_id)
        .load(conn)
        .await?)
}

pub async fn is_assigned(
    conn: &mut AsyncPgConnection,
    reviewer_id: Uuid,
    application_id: Uuid,
) -> StorageResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        assignments::table
            .filter(assignments::reviewer_id.eq(reviewer_id))
            .filter(assignments::application_id.eq(application_id))
            .filter(assignments::status.ne("recused")),
    ))
    .get_result(conn)
    .await?)
}

/// The submitted score sheets of a round, each handed to `decode(application, reviewer, scores
/// JSON)` in no particular order as it arrives: a round's sheets are never all held as rows.
pub async fn round_submitted_scores(
    conn: &mut AsyncPgConnection,
    round_id: Uuid,
    mut decode: impl FnMut(Uuid, Uuid, &[u8]) -> anyhow::Result<()>,
) -> StorageResult<()> {
    use futures_util::TryStreamExt;
    let mut rows = assignments::table
        .filter(assignments::round_id.eq(round_id))
        .filter(assignments::status.eq("submitted"))
        .select((
            assignments::application_id,
            assignments::reviewer_id,
            assignments::scores,
        ))
        // No ORDER BY: sorting 50,000 rows cost the server more than reading them; the caller
        // orders each application's few sheets itself.
        .load_stream::<(Uuid, Uuid, super::models::JsonText)>(conn)
        .await?;
    while let Some((application_id, reviewer_id, scores)) = rows.try_next().await? {
        decode(application_id, reviewer_id, &scores.0)?;
    }
    Ok(())
}

pub async fn round_applications(
    conn: &mut AsyncPgConnection,
    round_id: Uuid,
    statuses: &[&str],
) -> StorageResult<Vec<super::models::ApplicationRow>> {
    Ok(applications::table
        .filter(applications::round_id.eq(round_id))
        .filter(applications::status.eq_any(statuses))
        .select(super::models::ApplicationRow::as_select())
        .order((applications::submitted_at, applications::id))
        .load(conn)
        .await?)
}

/// The applications of a round in the given statuses, with what the ranking needs of their
/// organizations, in one join.
pub async fn ranking_sources(
    conn: &mut AsyncPgConnection,
    round_id: Uuid,
    statuses: &[&str],
) -> StorageResult<Vec<super::models::RankingSourceRow>> {
    use super::schema::organizations;
    // `@>`: some team member has `"party_member": true` (the stored team is a list of members).
    let party_member_on_team: serde_json::Value = serde_json::json!([{ "party_member": true }]);
    Ok(applications::table
        .inner_join(organizations::table)
        .filter(applications::round_id.eq(round_id))
        .filter(applications::status.eq_any(statuses))
        .select((
            applications::id,
            applications::organization_id,
            applications::title,
            applications::requested_grant,
            applications::submitted_at,
            applications::created_at,
            applications::party_activity_count,
            applications::red_project,
            applications::team.contains(party_member_on_team),
            organizations::name,
            organizations::party_building_status,
            organizations::party_assessment,
        ))
        .order((applications::submitted_at, applications::id))
        .load(conn)
        .await?)
}

// ---------- award decisions ----------

pub async fn decision(
    conn: &mut AsyncPgConnection,
    round_id: Uuid,
) -> StorageResult<Option<AwardDecisionRow>> {
    Ok(award_decisions::table
        .find(round_id)
        .select(AwardDecisionRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Writes the decision and replaces its award lines.
pub async fn save_decision(
    conn: &mut AsyncPgConnection,
    row: &AwardDecisionRow,
    lines: &[AwardRow],
) -> StorageResult<AwardDecisionRow> {
    let saved = diesel::insert_into(award_decisions::table)
        .values(row)
        .on_conflict(award_decisions::round_id)
        .do_update()
        .set((
            award_decisions::status.eq(&row.status),
            award_decisions::total_awarded.eq(row.total_awarded),
            award_decisions::pool.eq(row.pool),
            award_decisions::notice_until.eq(row.notice_until),
            award_decisions::version.eq(award_decisions::version + 1),
            award_decisions::published_by.eq(row.published_by),
            award_decisions::published_at.eq(row.published_at),
        ))
        .returning(AwardDecisionRow::as_returning())
        .get_result(conn)
        .await?;
    diesel::delete(awards::table.filter(awards::round_id.eq(row.round_id)))
        .execute(conn)
        .await?;
    if !lines.is_empty() {
        diesel::insert_into(awards::table)
            .values(lines)
            .execute(conn)
            .await?;
    }
    Ok(saved)
}

pub async fn finalize_decision(
    conn: &mut AsyncPgConnection,
    round_id: Uuid,
    by: Uuid,
    at: DateTime<Utc>,
) -> StorageResult<AwardDecisionRow> {
    Ok(diesel::update(award_decisions::table.find(round_id))
        .set((
            award_decisions::status.eq("final"),
            award_decisions::finalized_by.eq(Some(by)),
            award_decisions::finalized_at.eq(Some(at)),
        ))
        .returning(AwardDecisionRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn award_lines(
    conn: &mut AsyncPgConnection,
    round_id: Uuid,
) -> StorageResult<Vec<AwardRow>> {
    Ok(awards::table
        .filter(awards::round_id.eq(round_id))
        .select(AwardRow::as_select())
        .order((awards::rank.asc().nulls_last(), awards::application_id))
        .load(conn)
        .await?)
}

pub async fn insert_objection(
    conn: &mut AsyncPgConnection,
    row: &AwardObjectionRow,
) -> StorageResult<AwardObjectionRow> {
    Ok(diesel::insert_into(award_objections::table)
        .values(row)
        .returning(AwardObjectionRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn objections(
    conn: &mut AsyncPgConnection,
    round_id: Uuid,
) -> StorageResult<Vec<AwardObjectionRow>> {
    Ok(award_objections::table
        .filter(award_objections::round_id.eq(round_id))
        .select(AwardObjectionRow::as_select())
        .order((award_objections::recorded_at, award_objections::id))
        .load(conn)
        .await?)
}
