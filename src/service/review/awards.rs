//! Award decisions within the pool: preview, publish for public notice, objections, finalize
//! (which creates the grants in the same transaction).

use std::collections::HashMap;

use chrono::{Duration, Utc};
use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::rank::{ranking, round_ranking, RoundRanking};
use super::round_status;
use crate::auth::Caller;
use crate::domain::lifecycle::{ApplicationStatus, RoundStatus};
use crate::domain::money::Money;
use crate::domain::review::{allocate, Allocation, AwardCandidate, AwardOutcome};
use crate::domain::violation::Violation;
use crate::service::rounds::RoundSpec;
use crate::service::{run_transaction, Error};
use crate::storage::models::{
    ApplicationRow, ApplicationUpdateForm, AwardDecisionRow, AwardObjectionRow, AwardRow, RoundRow,
    RoundUpdateForm,
};
use crate::storage::{applications, review, rounds, Database, Scope};

/// An admin-adjusted award amount for one application.
#[derive(Debug, Clone, Copy)]
pub struct Adjustment {
    pub application_id: Uuid,
    pub amount: Money,
}

pub struct AwardPlan {
    pub ranking: RoundRanking,
    pub allocation: Allocation,
}

fn plan(ranking: RoundRanking, adjustments: &[Adjustment]) -> Result<AwardPlan, Error> {
    let mut v = Vec::new();
    let mut adjusted: HashMap<Uuid, Decimal> = HashMap::new();
    for (i, a) in adjustments.iter().enumerate() {
        let field = format!("adjustments[{i}]");
        match ranking.applications.get(&a.application_id) {
            None => v.push(
                Violation::new(
                    "application_not_ranked",
                    "no such application under review in this round",
                )
                .actual(a.application_id)
                .field(format!("{field}.application_id")),
            ),
            Some(app) => {
                let requested = app.requested_grant;
                if a.amount.amount() > requested || a.amount.amount().is_zero() {
                    v.push(
                        Violation::new(
                            "adjusted_amount",
                            "an adjusted award is above 0 and at most the requested amount",
                        )
                        .limit(format!("0.01..{requested}"))
                        .actual(a.amount)
                        .field(format!("{field}.amount")),
                    );
                }
                if adjusted
                    .insert(a.application_id, a.amount.amount())
                    .is_some()
                {
                    v.push(
                        Violation::new("duplicate", "one adjustment per application")
                            .actual(a.application_id)
                            .field(format!("{field}.application_id")),
                    );
                }
            }
        }
    }
    if !v.is_empty() {
        return Err(Error::Validation(v));
    }
    let candidates: Vec<AwardCandidate> = ranking
        .ranking
        .ranked
        .iter()
        .map(|r| AwardCandidate {
            application_id: r.application_id,
            passes_pass_mark: r.passes_pass_mark,
            requested: ranking.applications[&r.application_id].requested_grant,
            adjusted: adjusted.get(&r.application_id).copied(),
        })
        .collect();
    let incomplete: Vec<Uuid> = ranking
        .ranking
        .incomplete
        .iter()
        .map(|r| r.application_id)
        .collect();
    let allocation = allocate(&candidates, &incomplete, ranking.spec.total_pool.amount());
    Ok(AwardPlan {
        ranking,
        allocation,
    })
}

/// The award walk over the current ranking; changes nothing.
pub async fn preview(
    db: &Database,
    round_id: Uuid,
    adjustments: &[Adjustment],
) -> Result<AwardPlan, Error> {
    plan(round_ranking(db, round_id).await?, adjustments)
}

/// Publishes (or, during the public notice, amends) the award decision. The round row is
/// locked, so concurrent decisions serialize; the database refuses a total above the pool.
pub async fn publish(
    db: &Database,
    caller: &Caller,
    round_id: Uuid,
    adjustments: Vec<Adjustment>,
) -> Result<(AwardDecisionRow, AwardPlan), Error> {
    run_transaction(db, async move |conn| {
            let round = rounds::lock(conn, round_id).await?;
            let status = round_status(&round)?;
            if status != RoundStatus::Reviewing {
                return Err(Error::invalid_state(format!(
                    "awards are decided while the round is reviewing; it is {status}"
                )));
            }
            let previous = review::decision(conn, round_id).await?;
            if previous.as_ref().is_some_and(|d| d.status == "final") {
                return Err(Error::invalid_state("the award decision is already final"));
            }
            let plan = plan(ranking(conn, &round).await?, &adjustments)?;
            let now = Utc::now();
            let rank_of: HashMap<Uuid, (u32, Option<Decimal>)> = plan
                .ranking
                .ranking
                .ranked
                .iter()
                .map(|r| (r.application_id, (r.rank.unwrap_or(0), r.ranking_score)))
                .collect();
            let lines: Vec<AwardRow> = plan
                .allocation
                .lines
                .iter()
                .map(|l| AwardRow {
                    round_id,
                    application_id: l.application_id,
                    rank: rank_of.get(&l.application_id).map(|r| r.0 as i32),
                    final_score: rank_of.get(&l.application_id).and_then(|r| r.1),
                    outcome: l.outcome.as_str().into(),
                    requested: plan.ranking.applications[&l.application_id].requested_grant,
                    amount: l.amount,
                })
                .collect();
            let row = review::save_decision(
                conn,
                &AwardDecisionRow {
                    round_id,
                    status: "public_notice".into(),
                    pool: plan.ranking.spec.total_pool.amount(),
                    total_awarded: plan.allocation.total_awarded,
                    notice_until: now
                        + Duration::days(i64::from(plan.ranking.spec.rules.public_notice_days)),
                    version: 1,
                    published_by: caller.user_id,
                    published_at: now,
                    finalized_by: None,
                    finalized_at: None,
                },
                &lines,
            )
            .await?;
            let orgs: Vec<Uuid> = plan
                .ranking
                .applications
                .values()
                .map(|a| a.organization_id)
                .collect();
            crate::service::notices::public_notice(
                conn,
                &round,
                &orgs,
                lines.iter().filter(|l| l.outcome == "funded").count() as u32,
                row.total_awarded,
                row.notice_until,
            )
            .await?;
            crate::service::audit(
                conn,
                Some(caller),
                if previous.is_some() { "awards.amended" } else { "awards.published" },
                "round",
                round_id,
                previous.as_ref().map(|p| serde_json::json!({"total_awarded": p.total_awarded, "version": p.version})).as_ref(),
                Some(&serde_json::json!({
                    "total_awarded": row.total_awarded,
                    "version": row.version,
                    "notice_until": row.notice_until,
                    "funded": lines.iter().filter(|l| l.outcome == "funded")
                        .map(|l| serde_json::json!({"application_id": l.application_id, "amount": l.amount}))
                        .collect::<Vec<_>>(),
                })),
            )
            .await?;
            Ok((row, plan))
        })
    .await
}

/// Records an objection raised during the public notice.
pub async fn record_objection(
    db: &Database,
    caller: &Caller,
    round_id: Uuid,
    application_id: Option<Uuid>,
    objection: String,
    resolution: Option<String>,
) -> Result<AwardObjectionRow, Error> {
    run_transaction(db, async move |conn| {
        rounds::lock(conn, round_id).await?;
        let decision = review::decision(conn, round_id).await?;
        if decision.as_ref().map(|d| d.status.as_str()) != Some("public_notice") {
            return Err(Error::invalid_state(
                "objections are recorded during the public notice of an award decision",
            ));
        }
        if let Some(app) = application_id {
            let a = applications::get(conn, Scope::All, app).await;
            if !a.is_ok_and(|a| a.round_id == round_id) {
                return Err(Error::invalid(
                    Violation::new("reference", "no such application in this round")
                        .actual(app)
                        .field("application_id"),
                ));
            }
        }
        let row = review::insert_objection(
            conn,
            &AwardObjectionRow {
                id: Uuid::new_v4(),
                round_id,
                application_id,
                objection: objection.trim().to_string(),
                resolution: resolution.map(|r| r.trim().to_string()),
                recorded_by: caller.user_id,
                recorded_at: Utc::now(),
            },
        )
        .await?;
        crate::service::audit(
            conn,
            Some(caller),
            "awards.objection_recorded",
            "round",
            round_id,
            None::<&()>,
            Some(&serde_json::json!({"objection_id": row.id, "application_id": application_id})),
        )
        .await?;
        Ok(row)
    })
    .await
}

/// Ends the public notice: funded applications become `approved` with their award, the others
/// `rejected`, the round `decided`. One transaction under the round lock; a second admin
/// finalizing at the same time finds the decision final and gets 409.
pub async fn finalize(
    db: &Database,
    caller: &Caller,
    round_id: Uuid,
) -> Result<AwardDecisionRow, Error> {
    run_transaction(db, async move |conn| {
        let round = rounds::lock(conn, round_id).await?;
        let status = round_status(&round)?;
        let decision = review::decision(conn, round_id).await?;
        let Some(decision) = decision.filter(|d| d.status == "public_notice") else {
            return Err(Error::invalid_state(
                "there is no award decision in public notice to finalize",
            ));
        };
        if status != RoundStatus::Reviewing {
            return Err(Error::invalid_state(format!(
                "the round is {status}, not reviewing"
            )));
        }
        let now = Utc::now();
        if now < decision.notice_until {
            return Err(Error::invalid_state(format!(
                "the public notice runs until {}",
                decision.notice_until.to_rfc3339()
            )));
        }
        let lines = review::award_lines(conn, round_id).await?;
        let total = crate::domain::arith::saturating_sum(lines.iter().map(|l| l.amount));
        if total > round.total_pool || total != decision.total_awarded {
            return Err(Error::Internal(anyhow::anyhow!(
                "award lines add up to {total}, decision says {}",
                decision.total_awarded
            )));
        }
        let funded: HashMap<Uuid, Decimal> = lines
            .iter()
            .filter(|l| l.outcome == AwardOutcome::Funded.as_str())
            .map(|l| (l.application_id, l.amount))
            .collect();
        let apps =
            review::round_applications(conn, round_id, &[ApplicationStatus::UnderReview.as_str()])
                .await?;
        for app in apps {
            let (next, amount) = match funded.get(&app.id) {
                Some(a) => (ApplicationStatus::Approved, Some(*a)),
                None => (ApplicationStatus::Rejected, None),
            };
            applications::lock(conn, app.id).await?;
            let updated = applications::update(
                conn,
                app.id,
                &ApplicationUpdateForm {
                    status: Some(next.as_str().into()),
                    award_amount: Some(amount),
                    updated_at: Some(now),
                    ..Default::default()
                },
            )
            .await?;
            crate::service::audit(
                conn,
                Some(caller),
                &format!("application.{next}"),
                "application",
                app.id,
                Some(&serde_json::json!({"status": "under_review"})),
                Some(&serde_json::json!({"status": next, "award_amount": amount})),
            )
            .await?;
            if next == ApplicationStatus::Approved {
                on_approved(conn, caller, &updated, &round).await?;
            }
            crate::service::notices::award_decision(conn, &round, &updated, amount).await?;
        }
        rounds::update(
            conn,
            round_id,
            &RoundUpdateForm {
                status: Some(RoundStatus::Decided.as_str().into()),
                updated_at: Some(now),
                ..Default::default()
            },
        )
        .await?;
        let row = review::finalize_decision(conn, round_id, caller.user_id, now).await?;
        crate::service::audit(
            conn,
            Some(caller),
            "awards.finalized",
            "round",
            round_id,
            Some(&serde_json::json!({"status": "reviewing"})),
            Some(&serde_json::json!({"status": "decided", "total_awarded": row.total_awarded})),
        )
        .await?;
        Ok(row)
    })
    .await
}

/// What follows an approval inside the finalizing transaction: the grant with its tranches.
async fn on_approved(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    application: &ApplicationRow,
    round: &RoundRow,
) -> Result<(), Error> {
    let spec = RoundSpec::from_row(round)?;
    crate::service::grants::create_for_approved(conn, Some(caller), application, &spec).await?;
    Ok(())
}
