use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::models::{ApplicationInsertForm, ApplicationRow, ApplicationUpdateForm, BudgetLineRow};
use super::schema::{applications, assignments, budget_lines};
use super::{Scope, StorageResult};

pub async fn insert(
    conn: &mut AsyncPgConnection,
    form: &ApplicationInsertForm,
) -> StorageResult<ApplicationRow> {
    Ok(diesel::insert_into(applications::table)
        .values(form)
        .returning(ApplicationRow::as_returning())
        .get_result(conn)
        .await?)
}

/// One application within the caller's scope (others are not found).
pub async fn get(
    conn: &mut AsyncPgConnection,
    scope: Scope,
    id: Uuid,
) -> StorageResult<ApplicationRow> {
    let mut q = applications::table
        .find(id)
        .select(ApplicationRow::as_select())
        .into_boxed();
    match scope {
        Scope::All => {}
        Scope::Organization(org) => q = q.filter(applications::organization_id.eq(org)),
        Scope::Assigned(reviewer) => q = q.filter(applications::id.eq_any(assigned_to(reviewer))),
        Scope::Nothing => return Err(diesel::result::Error::NotFound.into()),
    }
    Ok(q.first(conn).await?)
}

type ByReviewer =
    diesel::dsl::Filter<assignments::table, diesel::dsl::Eq<assignments::reviewer_id, Uuid>>;
type AssignedTo = diesel::dsl::Select<
    diesel::dsl::Filter<ByReviewer, diesel::dsl::NotEq<assignments::status, &'static str>>,
    assignments::application_id,
>;

/// The applications a reviewer may read: assigned to it and not recused.
fn assigned_to(reviewer: Uuid) -> AssignedTo {
    assignments::table
        .filter(assignments::reviewer_id.eq(reviewer))
        .filter(assignments::status.ne("recused"))
        .select(assignments::application_id)
}

pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> StorageResult<ApplicationRow> {
    Ok(applications::table
        .find(id)
        .select(ApplicationRow::as_select())
        .for_update()
        .first(conn)
        .await?)
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    form: &ApplicationUpdateForm,
) -> StorageResult<ApplicationRow> {
    Ok(diesel::update(applications::table.find(id))
        .set(form)
        .returning(ApplicationRow::as_returning())
        .get_result(conn)
        .await?)
}

/// Applications of the organization in the round that take a quota place, `except` excluded.
pub async fn count_active(
    conn: &mut AsyncPgConnection,
    organization_id: Uuid,
    round_id: Uuid,
    except: Uuid,
    statuses: &[&str],
) -> StorageResult<i64> {
    Ok(applications::table
        .filter(applications::organization_id.eq(organization_id))
        .filter(applications::round_id.eq(round_id))
        .filter(applications::id.ne(except))
        .filter(applications::status.eq_any(statuses))
        .count()
        .get_result(conn)
        .await?)
}

#[derive(Debug, Default)]
pub struct ApplicationFilter {
    pub round_id: Option<Uuid>,
    pub status: Option<String>,
    pub organization_id: Option<Uuid>,
    pub focus_area: Option<String>,
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    scope: Scope,
    filter: &ApplicationFilter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> StorageResult<Vec<ApplicationRow>> {
    let mut q = applications::table
        .select(ApplicationRow::as_select())
        .into_boxed();
    match scope {
        Scope::All => {}
        Scope::Organization(org) => q = q.filter(applications::organization_id.eq(org)),
        Scope::Assigned(reviewer) => q = q.filter(applications::id.eq_any(assigned_to(reviewer))),
        Scope::Nothing => return Ok(vec![]),
    }
    if let Some(r) = filter.round_id {
        q = q.filter(applications::round_id.eq(r));
    }
    if let Some(s) = &filter.status {
        q = q.filter(applications::status.eq(s.clone()));
    }
    if let Some(o) = filter.organization_id {
        q = q.filter(applications::organization_id.eq(o));
    }
    if let Some(f) = &filter.focus_area {
        q = q.filter(applications::focus_area.eq(f.clone()));
    }
    if let Some((at, id)) = after {
        // Implied by the next filter, but sargable: the index range starts at the cursor
        // instead of the planner filtering every earlier row (flat pages at any depth).
        q = q.filter(applications::created_at.ge(at));
        q = q.filter(
            applications::created_at
                .gt(at)
                .or(applications::created_at.eq(at).and(applications::id.gt(id))),
        );
    }
    Ok(q.order((applications::created_at, applications::id))
        .limit(limit)
        .load(conn)
        .await?)
}

pub async fn budget_lines(
    conn: &mut AsyncPgConnection,
    application_id: Uuid,
) -> StorageResult<Vec<BudgetLineRow>> {
    Ok(budget_lines::table
        .filter(budget_lines::application_id.eq(application_id))
        .select(BudgetLineRow::as_select())
        .order(budget_lines::position)
        .load(conn)
        .await?)
}

pub async fn replace_budget(
    conn: &mut AsyncPgConnection,
    application_id: Uuid,
    lines: &[BudgetLineRow],
) -> StorageResult<()> {
    diesel::delete(budget_lines::table.filter(budget_lines::application_id.eq(application_id)))
        .execute(conn)
        .await?;
    if !lines.is_empty() {
        diesel::insert_into(budget_lines::table)
            .values(lines)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Several applications at once (award lines, ranking views).
pub async fn by_ids(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> StorageResult<Vec<ApplicationRow>> {
    Ok(applications::table
        .filter(applications::id.eq_any(ids))
        .select(ApplicationRow::as_select())
        .load(conn)
        .await?)
}
