use chrono::{DateTime, Utc};
use std::future::Future;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::models::{OrganizationInsertForm, OrganizationRow, OrganizationUpdateForm};
use super::schema::organizations;
use super::{Scope, StorageResult};

pub async fn insert(
    conn: &mut AsyncPgConnection,
    form: &OrganizationInsertForm,
) -> StorageResult<OrganizationRow> {
    Ok(diesel::insert_into(organizations::table)
        .values(form)
        .returning(OrganizationRow::as_returning())
        .get_result(conn)
        .await?)
}

/// One organization, if the scope lets the caller see it (otherwise `NotFound`, never 403).
pub async fn get(
    conn: &mut AsyncPgConnection,
    scope: Scope,
    id: Uuid,
) -> StorageResult<OrganizationRow> {
    let mut q = organizations::table
        .filter(organizations::id.eq(id))
        .select(OrganizationRow::as_select())
        .into_boxed();
    match scope {
        Scope::All => {}
        Scope::Organization(own) => q = q.filter(organizations::id.eq(own)),
        Scope::Nothing | Scope::Assigned(_) => return Err(diesel::result::Error::NotFound.into()),
    }
    Ok(q.first(conn).await?)
}

/// Locks the row for the rest of the transaction (serializes quota checks per organization).
// Borrows `conn` shared: several such futures can be awaited together
// (`try_join!`), pipelined in one round trip and run by the server in the order written.
pub fn lock<'c>(
    mut conn: &'c AsyncPgConnection,
    id: Uuid,
) -> impl Future<Output = StorageResult<OrganizationRow>> + Send + use<'c> {
    let q = organizations::table
        .find(id)
        .select(OrganizationRow::as_select())
        .for_update()
        .first(&mut conn);
    async move { Ok(q.await?) }
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    form: &OrganizationUpdateForm,
) -> StorageResult<OrganizationRow> {
    Ok(diesel::update(organizations::table.find(id))
        .set(form)
        .returning(OrganizationRow::as_returning())
        .get_result(conn)
        .await?)
}

#[derive(Debug, Default)]
pub struct OrganizationFilter {
    pub name: Option<String>,
    pub org_type: Option<String>,
    pub rating: Option<String>,
    pub district: Option<String>,
    /// Part of the name (any case), or the start of the credit code (the registry's search).
    pub name_or_code: Option<String>,
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    scope: Scope,
    filter: &OrganizationFilter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> StorageResult<Vec<OrganizationRow>> {
    let mut q = organizations::table
        .select(OrganizationRow::as_select())
        .into_boxed();
    match scope {
        Scope::All => {}
        Scope::Organization(own) => q = q.filter(organizations::id.eq(own)),
        Scope::Nothing | Scope::Assigned(_) => return Ok(vec![]),
    }
    if let Some(name) = &filter.name {
        let pattern = format!("%{}%", escape_like(name));
        q = q.filter(organizations::name.ilike(pattern));
    }
    if let Some(text) = &filter.name_or_code {
        let escaped = escape_like(text);
        q = q.filter(
            organizations::name
                .ilike(format!("%{escaped}%"))
                .or(organizations::credit_code.like(format!("{}%", escaped.to_uppercase()))),
        );
    }
    if let Some(t) = &filter.org_type {
        q = q.filter(organizations::org_type.eq(t.clone()));
    }
    if let Some(r) = &filter.rating {
        q = q.filter(organizations::rating.eq(r.clone()));
    }
    if let Some(d) = &filter.district {
        q = q.filter(organizations::district.eq(d.clone()));
    }
    if let Some((at, id)) = after {
        // Implied by the next filter, but sargable: the index range starts at the cursor
        // instead of the planner filtering every earlier row (flat pages at any depth).
        q = q.filter(organizations::created_at.ge(at));
        q = q.filter(
            organizations::created_at
                .gt(at)
                .or(organizations::created_at
                    .eq(at)
                    .and(organizations::id.gt(id))),
        );
    }
    Ok(q.order((organizations::created_at, organizations::id))
        .limit(limit)
        .load(conn)
        .await?)
}

/// Escapes LIKE wildcards so a search for `50%` means the text `50%`.
pub fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Several organizations at once (for the ranking).
pub async fn by_ids(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> StorageResult<Vec<OrganizationRow>> {
    Ok(organizations::table
        .filter(organizations::id.eq_any(ids))
        .select(OrganizationRow::as_select())
        .load(conn)
        .await?)
}
