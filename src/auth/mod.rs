//! Authentication (who is calling) and authorization (what they may do), in one place.

pub mod password;
pub mod token;

use uuid::Uuid;

use crate::domain::user::Role;
use crate::storage::models::UserRow;
use crate::storage::Scope;

/// The signed-in user of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: Uuid,
    pub role: Role,
    pub organization_id: Option<Uuid>,
    pub email: String,
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
#[error("the `{role}` role may not do this")]
pub struct Forbidden {
    pub role: Role,
}

impl Caller {
    pub fn from_row(row: &UserRow) -> anyhow::Result<Self> {
        Ok(Self {
            user_id: row.id,
            role: row
                .role
                .parse()
                .map_err(|e| anyhow::anyhow!("user {}: {e}", row.id))?,
            organization_id: row.organization_id,
            email: row.email.clone(),
            name: row.name.clone(),
        })
    }

    /// Whether the caller's role is one of `allowed`. The API's routes state this through
    /// their guard (`http::guard::RequireRole`), before the body is read; services and pages
    /// call it directly.
    pub fn require(&self, allowed: &[Role]) -> Result<(), Forbidden> {
        if allowed.contains(&self.role) {
            Ok(())
        } else {
            Err(Forbidden { role: self.role })
        }
    }

    pub fn is(&self, role: Role) -> bool {
        self.role == role
    }

    /// Which applications this caller may read: reviewers see those assigned to them.
    pub fn application_scope(&self) -> Scope {
        match self.role {
            Role::Reviewer => Scope::Assigned(self.user_id),
            _ => self.organization_scope(),
        }
    }

    /// Which organizations' records this caller may see.
    pub fn organization_scope(&self) -> Scope {
        match (self.role, self.organization_id) {
            (Role::Admin | Role::Finance, _) => Scope::All,
            (Role::Applicant, Some(org)) => Scope::Organization(org),
            _ => Scope::Nothing,
        }
    }
}

/// Role sets used across the routes.
pub mod roles {
    use crate::domain::user::Role;
    pub const ADMIN: &[Role] = &[Role::Admin];
    pub const APPLICANT: &[Role] = &[Role::Applicant];
    pub const ADMIN_OR_APPLICANT: &[Role] = &[Role::Admin, Role::Applicant];
    pub const ADMIN_OR_REVIEWER: &[Role] = &[Role::Admin, Role::Reviewer];
    pub const ADMIN_OR_FINANCE: &[Role] = &[Role::Admin, Role::Finance];
    /// Who may read applications (reviewers only those assigned to them).
    pub const ADMIN_APPLICANT_OR_REVIEWER: &[Role] =
        &[Role::Admin, Role::Applicant, Role::Reviewer];
    /// Who may read organizations, grants and their money (applicants only their own).
    pub const ADMIN_APPLICANT_OR_FINANCE: &[Role] = &[Role::Admin, Role::Applicant, Role::Finance];
    pub const REVIEWER: &[Role] = &[Role::Reviewer];
    pub const FINANCE: &[Role] = &[Role::Finance];
}
