use std::future::Future;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::models::{ApplicationInsertForm, ApplicationRow, ApplicationUpdateForm, BudgetLineRow};
use super::schema::{applications, assignments, budget_lines, grants, organizations, rounds};
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

type ScopedOne<'a> = applications::BoxedQuery<
    'a,
    diesel::pg::Pg,
    diesel::dsl::SqlTypeOf<diesel::dsl::AsSelect<ApplicationRow, diesel::pg::Pg>>,
>;

/// The query for one application within a scope; `None` when the scope sees nothing.
fn scoped_one(scope: Scope, id: Uuid) -> Option<ScopedOne<'static>> {
    let q = applications::table
        .find(id)
        .select(ApplicationRow::as_select())
        .into_boxed();
    Some(match scope {
        Scope::All => q,
        Scope::Organization(org) => q.filter(applications::organization_id.eq(org)),
        Scope::Assigned(reviewer) => q.filter(applications::id.eq_any(assigned_to(reviewer))),
        Scope::Nothing => return None,
    })
}

/// One application within the caller's scope (others are not found).
pub async fn get(
    conn: &mut AsyncPgConnection,
    scope: Scope,
    id: Uuid,
) -> StorageResult<ApplicationRow> {
    let q = scoped_one(scope, id).ok_or(diesel::result::Error::NotFound)?;
    Ok(q.first(conn).await?)
}

/// One application within the caller's scope with its budget lines. The two queries are
/// pipelined on the connection (one round trip); the lines of an application outside the scope
/// are read but never returned, since the application itself is then not found.
pub async fn get_with_budget(
    conn: &mut AsyncPgConnection,
    scope: Scope,
    id: Uuid,
) -> StorageResult<(ApplicationRow, Vec<BudgetLineRow>)> {
    let q = scoped_one(scope, id).ok_or(diesel::result::Error::NotFound)?;
    let mut shared = &*conn;
    let row = q.first::<ApplicationRow>(&mut shared);
    let row = async move { Ok::<_, super::StorageError>(row.await?) };
    futures_util::try_join!(row, budget_lines(shared, id))
}

/// What an application's page shows of its round, organization and grant besides the
/// application itself: the few columns it uses, not their whole rows (each column costs the
/// server its output and the service its decoding, per page view).
#[derive(Debug, Clone, Queryable)]
pub struct ApplicationContext {
    pub round_name: String,
    pub focus_areas: Vec<String>,
    /// The round's rules as stored (`RoundRules` in JSON).
    pub rules: serde_json::Value,
    pub organization_name: String,
    pub grant_id: Option<Uuid>,
}

/// An application within the caller's scope with its context (round, organization, grant if
/// any), in one statement. Borrows `conn` shared, so it can be pipelined with the reads of the
/// application's other parts (`try_join!`).
pub fn with_context<'c>(
    mut conn: &'c AsyncPgConnection,
    scope: Scope,
    id: Uuid,
) -> impl Future<Output = StorageResult<(ApplicationRow, ApplicationContext)>> + Send + use<'c> {
    let mut q = applications::table
        .inner_join(rounds::table)
        .inner_join(organizations::table)
        .left_join(grants::table.on(grants::application_id.eq(applications::id)))
        .filter(applications::id.eq(id))
        .select((
            ApplicationRow::as_select(),
            (
                rounds::name,
                rounds::focus_areas,
                rounds::rules,
                organizations::name,
                grants::id.nullable(),
            ),
        ))
        .into_boxed::<diesel::pg::Pg>();
    let visible = match scope {
        Scope::All => true,
        Scope::Organization(org) => {
            q = q.filter(applications::organization_id.eq(org));
            true
        }
        Scope::Assigned(reviewer) => {
            q = q.filter(applications::id.eq_any(assigned_to(reviewer)));
            true
        }
        Scope::Nothing => false,
    };
    let q = visible.then(|| q.first::<(ApplicationRow, ApplicationContext)>(&mut conn));
    async move {
        match q {
            Some(q) => Ok(q.await?),
            None => Err(diesel::result::Error::NotFound.into()),
        }
    }
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

// Borrows `conn` shared: several such futures can be awaited together
// (`try_join!`), pipelined in one round trip and run by the server in the order written.
pub fn lock<'c>(
    mut conn: &'c AsyncPgConnection,
    id: Uuid,
) -> impl Future<Output = StorageResult<ApplicationRow>> + Send + use<'c> {
    let q = applications::table
        .find(id)
        .select(ApplicationRow::as_select())
        .for_update()
        .first(&mut conn);
    async move { Ok(q.await?) }
}

// Borrows `conn` shared: several such futures can be awaited together
// (`try_join!`), pipelined in one round trip and run by the server in the order written.
pub fn update<'c, 'f>(
    mut conn: &'c AsyncPgConnection,
    id: Uuid,
    form: &'f ApplicationUpdateForm,
) -> impl Future<Output = StorageResult<ApplicationRow>> + Send + use<'c, 'f> {
    let q = diesel::update(applications::table.find(id))
        .set(form)
        .returning(ApplicationRow::as_returning())
        .get_result(&mut conn);
    async move { Ok(q.await?) }
}

/// Applications of the organization in the round that take a quota place, `except` excluded.
// Borrows `conn` shared: several such futures can be awaited together
// (`try_join!`), pipelined in one round trip and run by the server in the order written.
pub fn count_active<'c, 's>(
    mut conn: &'c AsyncPgConnection,
    organization_id: Uuid,
    round_id: Uuid,
    except: Uuid,
    statuses: &'s [&'s str],
) -> impl Future<Output = StorageResult<i64>> + Send + use<'c, 's> {
    let q = applications::table
        .filter(applications::organization_id.eq(organization_id))
        .filter(applications::round_id.eq(round_id))
        .filter(applications::id.ne(except))
        .filter(applications::status.eq_any(statuses))
        .count()
        .get_result(&mut conn);
    async move { Ok(q.await?) }
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

// Borrows `conn` shared: several such futures can be awaited together
// (`try_join!`), pipelined in one round trip and run by the server in the order written.
pub fn budget_lines<'c>(
    mut conn: &'c AsyncPgConnection,
    application_id: Uuid,
) -> impl Future<Output = StorageResult<Vec<BudgetLineRow>>> + Send + use<'c> {
    let q = budget_lines::table
        .filter(budget_lines::application_id.eq(application_id))
        .select(BudgetLineRow::as_select())
        .order(budget_lines::position)
        .load(&mut conn);
    async move { Ok(q.await?) }
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
