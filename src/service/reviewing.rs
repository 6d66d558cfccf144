//! What the reviewers' pages show: a reviewer's own assignments by round, and one assignment
//! with the application (read-only, with its budget), the rubric as the reviewer scores it
//! (the party-element criterion's objective part computed from facts, only the judged part
//! entered) and the draft sheet. Another reviewer's assignment is not found.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use uuid::Uuid;

use crate::auth::{roles, Caller};
use crate::domain::rating::PartyBuildingStatus;
use crate::domain::review::{judged_max, AssignmentStatus};
use crate::service::applications::TeamMember;
use crate::service::error::parse_text;
use crate::service::review::scores_from_json;
use crate::service::rounds::RoundSpec;
use crate::service::Error;
use crate::storage::models::{
    ApplicationRow, AssignmentRow, BudgetLineRow, OrganizationRow, RoundRow,
};
use crate::storage::office::{self, AssignmentListRow};
use crate::storage::{applications, organizations, review, rounds, Database, Scope};

/// Assignments per page of `/assignments`.
pub const ASSIGNMENTS_PER_PAGE: i64 = 200;

pub struct RoundAssignments {
    pub round_id: Uuid,
    pub round_name: String,
    pub round_status: String,
    pub items: Vec<AssignmentListRow>,
}

impl RoundAssignments {
    /// (submitted, recused, still to score) on this page.
    pub fn counts(&self) -> (usize, usize, usize) {
        let of = |s: AssignmentStatus| {
            self.items
                .iter()
                .filter(|i| i.assignment.status == s.as_str())
                .count()
        };
        (
            of(AssignmentStatus::Submitted),
            of(AssignmentStatus::Recused),
            of(AssignmentStatus::Assigned),
        )
    }
}

pub struct MyAssignments {
    pub rounds: Vec<RoundAssignments>,
    pub page: i64,
    pub has_next: bool,
}

/// The caller's own assignments, grouped by round (newest round first).
pub async fn my_assignments(
    db: &Database,
    caller: &Caller,
    page: i64,
) -> Result<MyAssignments, Error> {
    caller.require(roles::REVIEWER)?;
    let page = page.clamp(1, 1_000_000);
    let mut conn = db.conn().await?;
    let mut rows = office::reviewer_assignments(
        &mut conn,
        caller.user_id,
        (page - 1) * ASSIGNMENTS_PER_PAGE,
        ASSIGNMENTS_PER_PAGE + 1,
    )
    .await?;
    let has_next = rows.len() as i64 > ASSIGNMENTS_PER_PAGE;
    rows.truncate(ASSIGNMENTS_PER_PAGE as usize);
    let mut groups: Vec<RoundAssignments> = Vec::new();
    for row in rows {
        match groups.last_mut() {
            Some(g) if g.round_id == row.assignment.round_id => g.items.push(row),
            _ => groups.push(RoundAssignments {
                round_id: row.assignment.round_id,
                round_name: row.round_name.clone(),
                round_status: row.round_status.clone(),
                items: vec![row],
            }),
        }
    }
    Ok(MyAssignments {
        rounds: groups,
        page,
        has_next,
    })
}

/// One line of the objective party-element points: what it is for, its points, and whether
/// the application's facts earn them.
pub struct ObjectivePart {
    pub what: &'static str,
    pub points: Decimal,
    pub earned: bool,
}

/// The application as the reviewer reads it.
pub struct ReviewedApplication {
    pub application: ApplicationRow,
    pub lines: Vec<BudgetLineRow>,
    pub organization: OrganizationRow,
    pub team: Vec<TeamMember>,
}

/// One criterion as the reviewer scores it.
pub struct ScoredCriterion {
    pub key: String,
    pub name: String,
    /// The criterion's maximum in the rubric.
    pub max: Decimal,
    /// The most the reviewer may give (the party-element criterion: less the objective part).
    pub judged_max: Decimal,
    pub party_element: bool,
    pub score: Option<Decimal>,
}

pub struct AssignmentPage {
    pub assignment: AssignmentRow,
    pub status: AssignmentStatus,
    pub round: RoundRow,
    pub spec: RoundSpec,
    /// `None` once recused: the reviewer no longer reads the application.
    pub application: Option<ReviewedApplication>,
    pub criteria: Vec<ScoredCriterion>,
    /// The party-element criterion's objective part (capped), computed from facts.
    pub objective: Decimal,
    pub objective_parts: Vec<ObjectivePart>,
}

impl AssignmentPage {
    /// Scores may change: assigned, and the round under review.
    pub fn editable(&self) -> bool {
        self.status == AssignmentStatus::Assigned && self.round.status == "reviewing"
    }

    pub fn can_declare_conflict(&self) -> bool {
        self.status != AssignmentStatus::Recused
            && matches!(self.round.status.as_str(), "closed" | "reviewing")
    }

    /// The judged part entered so far plus the objective part.
    pub fn total(&self) -> Decimal {
        self.criteria
            .iter()
            .filter_map(|c| c.score)
            .sum::<Decimal>()
            + self.objective
    }
}

/// The caller's own assignment with what its page shows (another reviewer's: not found).
pub async fn assignment_page(
    db: &Database,
    caller: &Caller,
    id: Uuid,
) -> Result<AssignmentPage, Error> {
    caller.require(roles::REVIEWER)?;
    let mut conn = db.conn().await?;
    let assignment = review::get_assignment(&mut conn, id, Some(caller.user_id)).await?;
    let status: AssignmentStatus = parse_text(&assignment.status)?;
    let round = rounds::get(&conn, assignment.round_id, true).await?;
    let spec = RoundSpec::from_row(&round)?;
    let (application, lines) =
        applications::get_with_budget(&mut conn, Scope::All, assignment.application_id).await?;
    let organization =
        organizations::get(&mut conn, Scope::All, application.organization_id).await?;
    let team: Vec<TeamMember> = serde_json::from_value(application.team.clone())
        .map_err(|e| Error::Internal(anyhow::anyhow!("stored team: {e}")))?;
    let party_status: PartyBuildingStatus = parse_text(&organization.party_building_status)?;
    let pts = &spec.party_points;
    let objective = pts.objective_points(
        party_status,
        team.iter().any(|m| m.party_member),
        application.party_activity_count.max(0) as u32,
        application.red_project,
    );
    let base = |s: PartyBuildingStatus| match s {
        PartyBuildingStatus::IndependentBranch => pts.independent_branch,
        PartyBuildingStatus::JointBranch => pts.joint_branch,
        PartyBuildingStatus::InstructorOnly => pts.instructor_only,
        PartyBuildingStatus::None => pts.none,
    };
    let objective_parts = vec![
        ObjectivePart {
            what: party_status.as_str(),
            points: base(party_status),
            earned: true,
        },
        ObjectivePart {
            what: "a party member on the project team",
            points: pts.party_member_on_team,
            earned: team.iter().any(|m| m.party_member),
        },
        ObjectivePart {
            what: "a party-themed activity planned",
            points: pts.party_activity_planned,
            earned: application.party_activity_count > 0,
        },
        ObjectivePart {
            what: "a red public-benefit project",
            points: pts.red_project,
            earned: application.red_project,
        },
    ];
    let scores: BTreeMap<String, Decimal> = scores_from_json(&assignment.scores)?;
    let criteria = spec
        .rubric
        .criteria
        .iter()
        .map(|c| ScoredCriterion {
            key: c.key.clone(),
            name: c.name.clone(),
            max: c.max,
            judged_max: judged_max(&spec.rubric, pts, &c.key).unwrap_or(c.max),
            party_element: c.party_element,
            score: scores.get(&c.key).copied(),
        })
        .collect();
    let application = (status != AssignmentStatus::Recused).then_some(ReviewedApplication {
        application,
        lines,
        organization,
        team,
    });
    Ok(AssignmentPage {
        assignment,
        status,
        round,
        spec,
        application,
        criteria,
        objective,
        objective_parts,
    })
}
