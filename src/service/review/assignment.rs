//! Assigning reviewers to applications, automatically (k per application, least-loaded, never
//! affiliated) or by hand.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::Utc;
use uuid::Uuid;

use super::round_status;
use crate::auth::Caller;
use crate::domain::lifecycle::{ApplicationStatus, RoundStatus};
use crate::domain::review::{
    auto_assign, AssignmentStatus, ExistingAssignment, PanelReviewer, Shortfall,
};
use crate::domain::violation::Violation;
use crate::service::rounds::RoundSpec;
use crate::service::{run_transaction, Error};
use crate::storage::models::{
    ApplicationRow, AssignmentInsertForm, AssignmentRow, RoundUpdateForm,
};
use crate::storage::{review, rounds, Database};

/// A manual (application, reviewer) pair.
#[derive(Debug, Clone, Copy)]
pub struct Pair {
    pub application_id: Uuid,
    pub reviewer_id: Uuid,
}

pub enum AssignMode {
    /// k reviewers per application (default: the round's minimum).
    Auto {
        per_application: Option<u32>,
    },
    Manual(Vec<Pair>),
}

pub struct AssignOutcome {
    pub created: Vec<AssignmentRow>,
    pub shortfalls: Vec<Shortfall>,
}

/// Assigns reviewers to the round's eligible (`under_review`) applications. The round row is
/// locked, so two admins assigning at once cannot both fill the same gap. A closed round moves
/// to `reviewing` with its first assignments.
pub async fn assign(
    db: &Database,
    caller: &Caller,
    round_id: Uuid,
    mode: AssignMode,
) -> Result<AssignOutcome, Error> {
    run_transaction(db, async move |conn| {
        let round_row = rounds::lock(conn, round_id).await?;
        let status = round_status(&round_row)?;
        if !matches!(status, RoundStatus::Closed | RoundStatus::Reviewing) {
            return Err(Error::invalid_state(format!(
                "reviewers are assigned once the round is closed; this one is {status}"
            )));
        }
        let spec = RoundSpec::from_row(&round_row)?;
        let apps =
            review::round_applications(conn, round_id, &[ApplicationStatus::UnderReview.as_str()])
                .await?;
        let members = review::members(conn, round_id).await?;
        let existing = review::round_assignments(conn, round_id).await?;
        let panel: Vec<PanelReviewer> = members
            .iter()
            .map(|m| PanelReviewer {
                reviewer_id: m.reviewer_id,
                affiliations: m.affiliations.iter().copied().collect(),
            })
            .collect();
        let (pairs, shortfalls) = match mode {
            AssignMode::Auto { per_application } => {
                let k = per_application.unwrap_or(spec.rules.min_reviewers);
                if k == 0 || k > 50 {
                    return Err(Error::invalid(
                        Violation::new("range", "reviewers_per_application is 1 to 50")
                            .limit("1..50")
                            .actual(k)
                            .field("reviewers_per_application"),
                    ));
                }
                let ex: Vec<ExistingAssignment> = existing
                    .iter()
                    .map(|a| ExistingAssignment {
                        application_id: a.application_id,
                        reviewer_id: a.reviewer_id,
                        active: a.status != AssignmentStatus::Recused.as_str(),
                    })
                    .collect();
                let targets: Vec<(Uuid, Uuid)> =
                    apps.iter().map(|a| (a.id, a.organization_id)).collect();
                auto_assign(&targets, &panel, &ex, k)
            }
            AssignMode::Manual(pairs) => {
                check_manual(&pairs, &apps, &panel, &existing)?;
                (
                    pairs
                        .iter()
                        .map(|p| (p.application_id, p.reviewer_id))
                        .collect(),
                    vec![],
                )
            }
        };
        let forms: Vec<AssignmentInsertForm> = pairs
            .iter()
            .map(|(app, rev)| AssignmentInsertForm {
                id: Uuid::new_v4(),
                round_id,
                application_id: *app,
                reviewer_id: *rev,
                assigned_by: caller.user_id,
            })
            .collect();
        let created = review::insert_assignments(conn, &forms).await?;
        if status == RoundStatus::Closed && !created.is_empty() {
            rounds::update(
                conn,
                round_id,
                &RoundUpdateForm {
                    status: Some(RoundStatus::Reviewing.as_str().into()),
                    updated_at: Some(Utc::now()),
                    ..Default::default()
                },
            )
            .await?;
            crate::service::audit(
                conn,
                Some(caller),
                "round.reviewing",
                "round",
                round_id,
                Some(&serde_json::json!({"status": status})),
                Some(&serde_json::json!({"status": RoundStatus::Reviewing})),
            )
            .await?;
        }
        let mut per_reviewer: BTreeMap<Uuid, u32> = BTreeMap::new();
        for a in &created {
            *per_reviewer.entry(a.reviewer_id).or_default() += 1;
        }
        crate::service::notices::reviewers_assigned(
            conn,
            &round_row,
            &per_reviewer.into_iter().collect::<Vec<_>>(),
        )
        .await?;
        for a in &created {
            crate::service::audit(
                conn,
                Some(caller),
                "assignment.created",
                "assignment",
                a.id,
                None::<&()>,
                Some(&serde_json::json!({
                    "application_id": a.application_id, "reviewer_id": a.reviewer_id
                })),
            )
            .await?;
        }
        Ok(AssignOutcome {
            created,
            shortfalls,
        })
    })
    .await
}

fn check_manual(
    pairs: &[Pair],
    apps: &[ApplicationRow],
    panel: &[PanelReviewer],
    existing: &[AssignmentRow],
) -> Result<(), Error> {
    let mut v = Vec::new();
    let by_id: HashMap<Uuid, &ApplicationRow> = apps.iter().map(|a| (a.id, a)).collect();
    let taken: HashSet<(Uuid, Uuid)> = existing
        .iter()
        .map(|a| (a.application_id, a.reviewer_id))
        .collect();
    let mut seen = HashSet::new();
    if pairs.is_empty() || pairs.len() > 1000 {
        v.push(
            Violation::new("range", "manual assignment names 1 to 1000 pairs")
                .limit("1..1000")
                .actual(pairs.len())
                .field("pairs"),
        );
    }
    for (i, p) in pairs.iter().enumerate() {
        let field = format!("pairs[{i}]");
        let Some(app) = by_id.get(&p.application_id) else {
            v.push(
                Violation::new(
                    "application_not_eligible",
                    "the application is not one of this round's eligible (under review) applications",
                )
                .actual(p.application_id)
                .field(format!("{field}.application_id")),
            );
            continue;
        };
        let Some(member) = panel.iter().find(|m| m.reviewer_id == p.reviewer_id) else {
            v.push(
                Violation::new("not_on_panel", "the reviewer is not on this round's panel")
                    .actual(p.reviewer_id)
                    .field(format!("{field}.reviewer_id")),
            );
            continue;
        };
        if member.affiliations.contains(&app.organization_id) {
            v.push(
                Violation::new(
                    "reviewer_affiliated",
                    "a reviewer is never assigned to an organization it works for or advises",
                )
                .actual(p.reviewer_id)
                .field(format!("{field}.reviewer_id")),
            );
        }
        if taken.contains(&(p.application_id, p.reviewer_id))
            || !seen.insert((p.application_id, p.reviewer_id))
        {
            v.push(
                Violation::new(
                    "already_assigned",
                    "the reviewer already has (or had, before recusal) this application",
                )
                .actual(p.reviewer_id)
                .field(field),
            );
        }
    }
    if v.is_empty() {
        Ok(())
    } else {
        Err(Error::RuleViolation(v))
    }
}
