//! A round's review panel: who reviews it, with which affiliations.

use std::collections::HashSet;

use chrono::Utc;
use uuid::Uuid;

use super::round_status;
use crate::auth::Caller;
use crate::domain::lifecycle::RoundStatus;
use crate::domain::review::AssignmentStatus;
use crate::domain::user::Role;
use crate::domain::violation::Violation;
use crate::service::{run_transaction, Error};
use crate::storage::models::PanelMemberRow;
use crate::storage::{applications, organizations, review, rounds, users, Database, Scope};

/// Adds a reviewer to a round's panel (or replaces its affiliations).
pub async fn add_reviewer(
    db: &Database,
    caller: &Caller,
    round_id: Uuid,
    reviewer_id: Uuid,
    affiliations: Vec<Uuid>,
) -> Result<PanelMemberRow, Error> {
    run_transaction(db, async move |conn| {
            let round = rounds::lock(conn, round_id).await?;
            let status = round_status(&round)?;
            if matches!(
                status,
                RoundStatus::Draft | RoundStatus::Decided | RoundStatus::Archived
            ) {
                return Err(Error::invalid_state(format!(
                    "a panel is formed for an open, closed or reviewing round; this one is {status}"
                )));
            }
            let mut v = Vec::new();
            match users::get(conn, reviewer_id).await {
                Ok(u) if u.role == Role::Reviewer.as_str() && u.active => {}
                Ok(u) => v.push(
                    Violation::new("reviewer_role", "panel members are active reviewer users")
                        .limit("reviewer")
                        .actual(if u.active { u.role } else { "inactive".into() })
                        .field("reviewer_id"),
                ),
                Err(crate::storage::StorageError::Diesel(diesel::result::Error::NotFound)) => v
                    .push(
                        Violation::new("reference", "no such user")
                            .actual(reviewer_id)
                            .field("reviewer_id"),
                    ),
                Err(e) => return Err(e.into()),
            }
            let unique: HashSet<Uuid> = affiliations.iter().copied().collect();
            if affiliations.len() > 100 {
                v.push(
                    Violation::new("range", "at most 100 affiliations")
                        .limit(100)
                        .actual(affiliations.len())
                        .field("affiliations"),
                );
            }
            for (i, org) in affiliations.iter().enumerate() {
                if organizations::get(conn, Scope::All, *org).await.is_err() {
                    v.push(
                        Violation::new("reference", "no such organization")
                            .actual(org)
                            .field(format!("affiliations[{i}]")),
                    );
                }
            }
            if !v.is_empty() {
                return Err(Error::Validation(v));
            }
            let mut affiliations: Vec<Uuid> = unique.into_iter().collect();
            affiliations.sort();
            let row = review::upsert_member(
                conn,
                &PanelMemberRow {
                    round_id,
                    reviewer_id,
                    affiliations: affiliations.clone(),
                    added_by: caller.user_id,
                    added_at: Utc::now(),
                },
            )
            .await?;
            // An affiliation added later must not leave the reviewer on that organization's work.
            let orgs: HashSet<Uuid> = affiliations.iter().copied().collect();
            for a in review::round_assignments(conn, round_id).await? {
                if a.reviewer_id != reviewer_id || a.status == AssignmentStatus::Recused.as_str() {
                    continue;
                }
                let app = applications::get(conn, Scope::All, a.application_id).await?;
                if orgs.contains(&app.organization_id) {
                    return Err(Error::RuleViolation(vec![Violation::new(
                        "reviewer_affiliated",
                        "the reviewer is already assigned to an application of an affiliated organization; recuse it first",
                    )
                    .actual(a.application_id)
                    .field("affiliations")]));
                }
            }
            crate::service::audit(
                conn,
                Some(caller),
                "panel.reviewer_added",
                "round",
                round_id,
                None::<&()>,
                Some(&serde_json::json!({"reviewer_id": reviewer_id, "affiliations": affiliations})),
            )
            .await?;
            Ok(row)
        })
    .await
}

pub async fn panel(db: &Database, round_id: Uuid) -> Result<Vec<PanelMemberRow>, Error> {
    let mut conn = db.conn().await?;
    rounds::get(&conn, round_id, true).await?;
    Ok(review::members(&mut conn, round_id).await?)
}
