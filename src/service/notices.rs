//! The emails the review, award and grant workflows queue, each inside the transaction of the
//! change that causes it (so a rolled-back change sends nothing). They look up the names a
//! reader needs; `notify` renders and queues.

use chrono::{DateTime, NaiveDate, Utc};
use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::auth::Caller;
use crate::domain::round::Milestone;
use crate::domain::user::Role;
use crate::notify::{self, EvaluationStage, Event};
use crate::service::Error;
use crate::storage::models::{ApplicationRow, GrantRow, RoundRow};
use crate::storage::{applications, grants, organizations, Scope};

use crate::service::error::stored_money as money;

/// The grant's project title and organization name.
async fn grant_names(
    conn: &mut AsyncPgConnection,
    grant: &GrantRow,
) -> Result<(String, String), Error> {
    let app = applications::get(conn, Scope::All, grant.application_id).await?;
    let org = organizations::get(conn, Scope::All, grant.organization_id).await?;
    Ok((app.title, org.name))
}

/// To each reviewer given new applications to score: how many, in which round.
pub async fn reviewers_assigned(
    conn: &mut AsyncPgConnection,
    round: &RoundRow,
    per_reviewer: &[(Uuid, u32)],
) -> Result<(), Error> {
    for (reviewer, count) in per_reviewer {
        if let Some(to) = notify::recipient_user(conn, *reviewer).await? {
            notify::enqueue(
                conn,
                &[to],
                &Event::ReviewerAssigned {
                    round_id: round.id,
                    round_name: round.name.clone(),
                    application_count: *count,
                    due_on: None,
                },
            )
            .await?;
        }
    }
    Ok(())
}

/// To every organization of the round's reviewed applications: the award list is published.
pub async fn public_notice(
    conn: &mut AsyncPgConnection,
    round: &RoundRow,
    organization_ids: &[Uuid],
    funded_count: u32,
    total: Decimal,
    notice_until: DateTime<Utc>,
) -> Result<(), Error> {
    let mut seen = std::collections::HashSet::new();
    for org in organization_ids {
        if !seen.insert(*org) {
            continue;
        }
        let to = notify::recipients_of_organization(conn, *org).await?;
        notify::enqueue(
            conn,
            &to,
            &Event::PublicNoticePublished {
                round_id: round.id,
                round_name: round.name.clone(),
                funded_count,
                total_amount: money(total)?,
                notice_until: Some(notice_until.date_naive()),
            },
        )
        .await?;
    }
    Ok(())
}

/// To the organization: funded (with the amount) or not.
pub async fn award_decision(
    conn: &mut AsyncPgConnection,
    round: &RoundRow,
    app: &ApplicationRow,
    amount: Option<Decimal>,
) -> Result<(), Error> {
    let org = organizations::get(conn, Scope::All, app.organization_id).await?;
    let to = notify::recipients_of_organization(conn, app.organization_id).await?;
    notify::enqueue(
        conn,
        &to,
        &Event::AwardDecision {
            application_id: app.id,
            title: app.title.clone(),
            organization_name: org.name,
            round_name: round.name.clone(),
            approved: amount.is_some(),
            amount: amount.map(money).transpose()?,
            reason: None,
        },
    )
    .await?;
    Ok(())
}

/// To the other finance users: a payout waits for their approval.
pub async fn payout_awaiting_approval(
    conn: &mut AsyncPgConnection,
    requester: &Caller,
    payout_id: Uuid,
    grant_id: Uuid,
    tranche_no: i32,
    amount: Decimal,
) -> Result<(), Error> {
    let grant = grants::get(conn, Scope::All, grant_id).await?;
    let (title, org) = grant_names(conn, &grant).await?;
    let to = notify::recipients_with_role(conn, Role::Finance, Some(requester.user_id)).await?;
    notify::enqueue(
        conn,
        &to,
        &Event::PayoutAwaitingApproval {
            payout_id,
            grant_id,
            project_title: title,
            organization_name: org,
            tranche_no: tranche_no.max(0) as u32,
            amount: money(amount)?,
            requested_by: requester.name.clone(),
        },
    )
    .await?;
    Ok(())
}

/// To the organization: a payout has been paid.
pub async fn payout_paid(
    conn: &mut AsyncPgConnection,
    payout_id: Uuid,
    grant_id: Uuid,
    tranche_no: i32,
    amount: Decimal,
    paid_on: NaiveDate,
) -> Result<(), Error> {
    let grant = grants::get(conn, Scope::All, grant_id).await?;
    let (title, org) = grant_names(conn, &grant).await?;
    let to = notify::recipients_of_organization(conn, grant.organization_id).await?;
    notify::enqueue(
        conn,
        &to,
        &Event::PayoutPaid {
            payout_id,
            grant_id,
            project_title: title,
            organization_name: org,
            tranche_no: tranche_no.max(0) as u32,
            amount: money(amount)?,
            paid_on,
        },
    )
    .await?;
    Ok(())
}

/// To the organization: a mid-term or final evaluation's result.
pub async fn evaluation_result(
    conn: &mut AsyncPgConnection,
    grant_id: Uuid,
    milestone: Milestone,
    passed: bool,
    comment: Option<String>,
) -> Result<(), Error> {
    let stage = match milestone {
        Milestone::MidTermEvaluation => EvaluationStage::MidTerm,
        Milestone::FinalEvaluation => EvaluationStage::Final,
        Milestone::AgreementSigned => return Ok(()),
    };
    let grant = grants::get(conn, Scope::All, grant_id).await?;
    let (title, org) = grant_names(conn, &grant).await?;
    let to = notify::recipients_of_organization(conn, grant.organization_id).await?;
    notify::enqueue(
        conn,
        &to,
        &Event::EvaluationResult {
            grant_id,
            project_title: title,
            organization_name: org,
            stage,
            passed,
            comment: comment.filter(|c| !c.trim().is_empty()),
        },
    )
    .await?;
    Ok(())
}

/// To the organization and the admins: the project is terminated.
pub async fn termination(
    conn: &mut AsyncPgConnection,
    grant_id: Uuid,
    reason: String,
    effective_on: NaiveDate,
) -> Result<(), Error> {
    let grant = grants::get(conn, Scope::All, grant_id).await?;
    let (title, org) = grant_names(conn, &grant).await?;
    let mut to = notify::recipients_of_organization(conn, grant.organization_id).await?;
    to.extend(notify::recipients_with_role(conn, Role::Admin, None).await?);
    notify::enqueue(
        conn,
        &to,
        &Event::Termination {
            application_id: grant.application_id,
            project_title: title,
            organization_name: org,
            reason,
            effective_on,
        },
    )
    .await?;
    Ok(())
}
