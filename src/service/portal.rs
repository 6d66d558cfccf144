//! What the pages show, read in the caller's scope: a signed-in user's home (dashboard) and the
//! pages of one application. The JSON API reads the same rows through its own routes; these
//! reads gather what one page needs in one place, so a page handler never touches storage.

use uuid::Uuid;

use crate::auth::Caller;
use crate::domain::lifecycle::{ApplicationStatus, RoundStatus};
use crate::domain::rating::{rating_cap, RatingCap, RatingCaps};
use crate::domain::round::RoundRules;
use crate::domain::user::Role;
use crate::service::organizations::OrganizationFacts;
use crate::service::rounds::RoundSpec;
use crate::service::Error;
use crate::storage::applications::{self, ApplicationFilter};
use crate::storage::audit_chain;
pub use crate::storage::audit_chain::HistoryEntry;
use crate::storage::grants::{self, GrantFilter};
use crate::storage::models::{ApplicationRow, BudgetLineRow, GrantRow, OrganizationRow, RoundRow};
use crate::storage::{organizations, rounds, Database};

/// An open round as an applicant sees it, with the places its organization has used.
pub struct OpenRound {
    pub row: RoundRow,
    pub spec: RoundSpec,
    /// Applications of the caller's organization that take a quota place (rule 1).
    pub used: usize,
}

pub struct ApplicantHome {
    pub organization: OrganizationRow,
    pub facts: OrganizationFacts,
    /// What the party-building facts allow as the highest rating (rule 4), if they cap it.
    pub cap: Option<RatingCap>,
    pub rounds: Vec<OpenRound>,
    /// The organization's applications, newest first, each with its round's name.
    pub applications: Vec<(ApplicationRow, String)>,
    pub grants: Vec<GrantRow>,
}

/// The dashboard of an applicant: own organization, open rounds, own applications.
pub async fn applicant_home(db: &Database, caller: &Caller) -> Result<ApplicantHome, Error> {
    let Some(org_id) = caller
        .organization_id
        .filter(|_| caller.is(Role::Applicant))
    else {
        return Err(Error::NotFound);
    };
    let scope = caller.organization_scope();
    let mut conn = db.conn().await?;
    let organization = organizations::get(&mut conn, scope, org_id).await?;
    let facts = OrganizationFacts::from_row(&organization)?;
    let cap = rating_cap(
        facts.party_building_status,
        facts.party_assessment,
        &RatingCaps::default(),
    );
    let round_rows = rounds::list(&mut conn, false, None, None, 200).await?;
    let apps =
        applications::list(&mut conn, scope, &ApplicationFilter::default(), None, 200).await?;
    let grant_rows = grants::list(&mut conn, scope, &GrantFilter::default(), None, 200).await?;
    let mut open = Vec::new();
    for row in &round_rows {
        if row.status != RoundStatus::Open.as_str() {
            continue;
        }
        let used = apps
            .iter()
            .filter(|a| a.round_id == row.id)
            .filter(|a| {
                ApplicationStatus::QUOTA_STATUSES
                    .iter()
                    .any(|s| s.as_str() == a.status)
            })
            .count();
        open.push(OpenRound {
            spec: RoundSpec::from_row(row)?,
            row: row.clone(),
            used,
        });
    }
    let round_name = |id: Uuid| {
        round_rows
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.name.clone())
            .unwrap_or_default()
    };
    let applications = apps
        .into_iter()
        .map(|a| {
            let name = round_name(a.round_id);
            (a, name)
        })
        .collect();
    Ok(ApplicantHome {
        organization,
        facts,
        cap,
        rounds: open,
        applications,
        grants: grant_rows,
    })
}

/// One application with everything its page shows.
pub struct ApplicationPage {
    pub application: ApplicationRow,
    pub lines: Vec<BudgetLineRow>,
    pub round_name: String,
    /// The round's focus areas (the choices of the editor's field).
    pub focus_areas: Vec<String>,
    pub rules: RoundRules,
    pub organization_name: String,
    /// Changes of state, oldest first (from the audit trail).
    pub history: Vec<HistoryEntry>,
    pub grant_id: Option<Uuid>,
}

/// The application if the caller may see it (another organization's: not found).
pub async fn application_page(
    db: &Database,
    caller: &Caller,
    id: Uuid,
) -> Result<ApplicationPage, Error> {
    // As in the API: finance works on grants, not applications.
    caller.require(&[Role::Admin, Role::Applicant, Role::Reviewer])?;
    let conn = db.conn().await?;
    // One round trip. The lines and history of an application outside the caller's scope are
    // read but never returned: the application itself is then not found.
    let ((application, context), lines, mut history) = futures_util::try_join!(
        applications::with_context(&conn, caller.application_scope(), id),
        applications::budget_lines(&conn, id),
        audit_chain::history(&conn, "application", id, 200),
    )?;
    drop(conn);
    history.reverse();
    Ok(ApplicationPage {
        application,
        lines,
        round_name: context.round_name,
        focus_areas: context.focus_areas,
        rules: crate::service::rounds::from_json(&context.rules)?,
        organization_name: context.organization_name,
        history,
        grant_id: context.grant_id,
    })
}

/// The caller's own organization (applicants; others are not found).
pub async fn own_organization(db: &Database, caller: &Caller) -> Result<OrganizationRow, Error> {
    let id = caller.organization_id.ok_or(Error::NotFound)?;
    let mut conn = db.conn().await?;
    Ok(organizations::get(&mut conn, caller.organization_scope(), id).await?)
}

/// An organization the caller may see.
pub async fn organization(
    db: &Database,
    caller: &Caller,
    id: Uuid,
) -> Result<OrganizationRow, Error> {
    let mut conn = db.conn().await?;
    Ok(organizations::get(&mut conn, caller.organization_scope(), id).await?)
}

/// A round the caller may see (drafts only for admins).
pub async fn round(db: &Database, caller: &Caller, id: Uuid) -> Result<RoundRow, Error> {
    let conn = db.conn().await?;
    Ok(rounds::get(&conn, id, caller.is(Role::Admin)).await?)
}
