//! What the program office's registry pages read: organizations (searched by name or credit
//! code), users with their organizations' names, and the organizations an applicant user can
//! belong to. Reads only, admins only; the changes go through `organizations`, `users` and
//! `rounds` as the API's do.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::{roles, Caller};
use crate::service::Error;
use crate::storage::models::{OrganizationRow, UserRow};
use crate::storage::organizations::{self, OrganizationFilter};
use crate::storage::users::{self, UserFilter};
use crate::storage::{Database, Scope};

/// Rows of a registry list page.
pub const PER_PAGE: i64 = 50;

/// Keyset position of a list: the last row's (created_at, id).
pub type After = Option<(DateTime<Utc>, Uuid)>;

pub struct Listed<T> {
    pub rows: Vec<T>,
    /// The position after the last row, when there is another page.
    pub next: After,
}

fn listed<T>(mut rows: Vec<T>, key: impl Fn(&T) -> (DateTime<Utc>, Uuid)) -> Listed<T> {
    let more = rows.len() as i64 > PER_PAGE;
    rows.truncate(PER_PAGE as usize);
    let next = if more { rows.last().map(key) } else { None };
    Listed { rows, next }
}

/// Organizations whose name contains `search` or whose credit code starts with it (admin).
pub async fn organizations(
    db: &Database,
    caller: &Caller,
    search: Option<String>,
    after: After,
) -> Result<Listed<OrganizationRow>, Error> {
    caller.require(roles::ADMIN)?;
    let mut conn = db.conn().await?;
    let filter = OrganizationFilter {
        name_or_code: search
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.trim().to_string()),
        ..Default::default()
    };
    let rows = organizations::list(&mut conn, Scope::All, &filter, after, PER_PAGE + 1).await?;
    Ok(listed(rows, |o| (o.created_at, o.id)))
}

/// One organization with every field, blacklisting included (admin).
pub async fn organization(
    db: &Database,
    caller: &Caller,
    id: Uuid,
) -> Result<OrganizationRow, Error> {
    caller.require(roles::ADMIN)?;
    let mut conn = db.conn().await?;
    Ok(organizations::get(&mut conn, Scope::All, id).await?)
}

/// Organizations an applicant user may be created for: (id, name), by name (admin).
pub async fn organization_choices(
    db: &Database,
    caller: &Caller,
) -> Result<Vec<(Uuid, String)>, Error> {
    caller.require(roles::ADMIN)?;
    let mut conn = db.conn().await?;
    let rows = organizations::list(
        &mut conn,
        Scope::All,
        &OrganizationFilter::default(),
        None,
        2000,
    )
    .await?;
    let mut out: Vec<(Uuid, String)> = rows.into_iter().map(|o| (o.id, o.name)).collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

pub struct UserLine {
    pub user: UserRow,
    pub organization_name: Option<String>,
}

/// Users, optionally of one role, with their organizations' names (admin).
pub async fn users(
    db: &Database,
    caller: &Caller,
    role: Option<String>,
    after: After,
) -> Result<Listed<UserLine>, Error> {
    caller.require(roles::ADMIN)?;
    let mut conn = db.conn().await?;
    let filter = UserFilter {
        role,
        organization_id: None,
    };
    let rows = users::list(&mut conn, &filter, after, PER_PAGE + 1).await?;
    let ids: Vec<Uuid> = rows.iter().filter_map(|u| u.organization_id).collect();
    let names: HashMap<Uuid, String> = organizations::by_ids(&mut conn, &ids)
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    let lines = rows
        .into_iter()
        .map(|u| UserLine {
            organization_name: u.organization_id.and_then(|o| names.get(&o).cloned()),
            user: u,
        })
        .collect();
    Ok(listed(lines, |l| (l.user.created_at, l.user.id)))
}
