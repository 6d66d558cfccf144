//! What the API, the pages and the ledger show of a grant: tranches, payouts, milestones and the
//! balance.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::grant::{
    next_milestone, remaining, Grade, GrantStatus, PayoutStatus, TrancheStatus,
};
use crate::domain::money::Money;
use crate::domain::round::Milestone;
use crate::service::error::parse_text;
use crate::service::Error;
use crate::storage::models::{GrantRow, MilestoneEventRow, PayoutRow, TrancheRow};
use crate::storage::schema;
use crate::storage::{grants, Database, Scope};

use crate::service::error::stored_money as money;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TrancheView {
    pub id: Uuid,
    pub number: i32,
    /// Share of the award, e.g. "50".
    #[schema(value_type = String, example = "50")]
    pub percent: Decimal,
    pub amount: Money,
    /// The milestone that makes it due.
    pub milestone: Milestone,
    pub status: TrancheStatus,
    /// Requested, awaiting approval.
    pub pending: Money,
    /// Approved, not yet paid.
    pub approved: Money,
    pub paid: Money,
    /// What a payout request may still ask for once due (amount − requested − approved −
    /// paid); 0 for a paid or cancelled tranche.
    pub available: Money,
    pub due_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

impl TrancheView {
    pub fn from_row(t: &TrancheRow) -> Result<Self, Error> {
        Ok(Self {
            id: t.id,
            number: t.number,
            percent: t.percent.normalize(),
            amount: money(t.amount)?,
            milestone: parse_text(&t.milestone)?,
            status: parse_text(&t.status)?,
            pending: money(t.requested_total - t.committed_total)?,
            approved: money(t.committed_total - t.paid_total)?,
            paid: money(t.paid_total)?,
            available: match parse_text::<TrancheStatus>(&t.status)? {
                TrancheStatus::Scheduled | TrancheStatus::Due => {
                    remaining(money(t.requested_total)?, money(t.amount)?)
                }
                TrancheStatus::Paid | TrancheStatus::Cancelled => Money::ZERO,
            },
            due_at: t.due_at,
            paid_at: t.paid_at,
            cancelled_at: t.cancelled_at,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PayoutView {
    pub id: Uuid,
    pub grant_id: Uuid,
    pub tranche_id: Uuid,
    pub tranche_number: i32,
    pub amount: Money,
    pub status: PayoutStatus,
    pub note: String,
    pub requested_by: Uuid,
    pub requested_at: DateTime<Utc>,
    pub approved_by: Option<Uuid>,
    pub approved_at: Option<DateTime<Utc>>,
    pub rejected_by: Option<Uuid>,
    pub rejected_at: Option<DateTime<Utc>>,
    pub rejected_reason: Option<String>,
    pub paid_by: Option<Uuid>,
    pub paid_at: Option<DateTime<Utc>>,
    pub bank_reference: Option<String>,
    pub value_date: Option<NaiveDate>,
}

impl PayoutView {
    pub fn from_row(p: &PayoutRow, tranche_number: i32) -> Result<Self, Error> {
        Ok(Self {
            id: p.id,
            grant_id: p.grant_id,
            tranche_id: p.tranche_id,
            tranche_number,
            amount: money(p.amount)?,
            status: parse_text(&p.status)?,
            note: p.note.clone(),
            requested_by: p.requested_by,
            requested_at: p.requested_at,
            approved_by: p.approved_by,
            approved_at: p.approved_at,
            rejected_by: p.rejected_by,
            rejected_at: p.rejected_at,
            rejected_reason: p.rejected_reason.clone(),
            paid_by: p.paid_by,
            paid_at: p.paid_at,
            bank_reference: p.bank_reference.clone(),
            value_date: p.value_date,
        })
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MilestoneView {
    pub milestone: Milestone,
    /// Evaluations only, 0–100.
    #[schema(value_type = Option<String>, example = "78.5")]
    pub score: Option<Decimal>,
    pub grade: Option<Grade>,
    pub passed: bool,
    pub note: String,
    pub recorded_by: Option<Uuid>,
    pub recorded_at: DateTime<Utc>,
}

impl MilestoneView {
    fn from_row(m: &MilestoneEventRow) -> Result<Self, Error> {
        Ok(Self {
            milestone: parse_text(&m.milestone)?,
            score: m.score.map(|s| s.normalize()),
            grade: m.grade.as_deref().map(parse_text).transpose()?,
            passed: m.passed,
            note: m.note.clone(),
            recorded_by: m.recorded_by,
            recorded_at: m.recorded_at,
        })
    }
}

/// Where the award stands: awarded = paid + outstanding + cancelled.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BalanceView {
    pub awarded: Money,
    /// Requested, awaiting approval.
    pub pending: Money,
    /// Approved, not yet paid.
    pub approved: Money,
    pub paid: Money,
    /// Still to be paid on tranches that are not cancelled.
    pub outstanding: Money,
    /// Not paid and never to be: the unpaid part of cancelled tranches.
    pub cancelled: Money,
    /// Recorded on termination: to be paid back.
    pub clawback: Option<Money>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GrantView {
    pub id: Uuid,
    pub application_id: Uuid,
    pub application_title: String,
    pub round_id: Uuid,
    pub organization_id: Uuid,
    pub organization_name: String,
    pub amount: Money,
    pub status: GrantStatus,
    /// Multi-year continuation: the first year's grant, and its application.
    pub previous_grant_id: Option<Uuid>,
    pub previous_application_id: Option<Uuid>,
    /// The milestone that may be recorded next (none once finished or terminated).
    pub next_milestone: Option<Milestone>,
    pub balance: BalanceView,
    pub tranches: Vec<TrancheView>,
    pub milestones: Vec<MilestoneView>,
    /// On single-grant answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payouts: Option<Vec<PayoutView>>,
    pub terminated_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Builds the views of the grants with a handful of queries whatever their number.
pub async fn views(
    conn: &mut AsyncPgConnection,
    rows: Vec<GrantRow>,
    with_payouts: bool,
) -> Result<Vec<GrantView>, Error> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let ids: Vec<Uuid> = rows.iter().map(|g| g.id).collect();
    let app_ids: Vec<Uuid> = rows.iter().map(|g| g.application_id).collect();
    let org_ids: Vec<Uuid> = rows.iter().map(|g| g.organization_id).collect();
    let apps: HashMap<Uuid, (String, Option<Uuid>)> = schema::applications::table
        .filter(schema::applications::id.eq_any(&app_ids))
        .select((
            schema::applications::id,
            schema::applications::title,
            schema::applications::previous_application_id,
        ))
        .load::<(Uuid, String, Option<Uuid>)>(conn)
        .await?
        .into_iter()
        .map(|(id, t, p)| (id, (t, p)))
        .collect();
    let orgs: HashMap<Uuid, String> = schema::organizations::table
        .filter(schema::organizations::id.eq_any(&org_ids))
        .select((schema::organizations::id, schema::organizations::name))
        .load::<(Uuid, String)>(conn)
        .await?
        .into_iter()
        .collect();
    let mut tranches: HashMap<Uuid, Vec<TrancheRow>> = HashMap::new();
    for t in grants::tranches_of(conn, &ids).await? {
        tranches.entry(t.grant_id).or_default().push(t);
    }
    let mut events: HashMap<Uuid, Vec<MilestoneEventRow>> = HashMap::new();
    for m in grants::milestones_of(conn, &ids).await? {
        events.entry(m.grant_id).or_default().push(m);
    }
    let mut payouts: HashMap<Uuid, Vec<PayoutRow>> = HashMap::new();
    if with_payouts {
        for p in grants::payouts_of(conn, &ids).await? {
            payouts.entry(p.grant_id).or_default().push(p);
        }
    }
    rows.into_iter()
        .map(|g| {
            let ts = tranches.remove(&g.id).unwrap_or_default();
            let ms = events.remove(&g.id).unwrap_or_default();
            let status: GrantStatus = parse_text(&g.status)?;
            let recorded: Vec<Milestone> = ms
                .iter()
                .map(|m| parse_text(&m.milestone))
                .collect::<Result<_, _>>()?;
            let numbers: HashMap<Uuid, i32> = ts.iter().map(|t| (t.id, t.number)).collect();
            let mut outstanding = Decimal::ZERO;
            let mut cancelled = Decimal::ZERO;
            for t in &ts {
                if t.status == TrancheStatus::Cancelled.as_str() {
                    cancelled += t.amount - t.paid_total;
                } else {
                    outstanding += t.amount - t.paid_total;
                }
            }
            let payout_views = if with_payouts {
                Some(
                    payouts
                        .remove(&g.id)
                        .unwrap_or_default()
                        .iter()
                        .map(|p| {
                            PayoutView::from_row(
                                p,
                                numbers.get(&p.tranche_id).copied().unwrap_or(0),
                            )
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                )
            } else {
                None
            };
            let (title, previous_application_id) =
                apps.get(&g.application_id).cloned().unwrap_or_default();
            Ok(GrantView {
                id: g.id,
                application_id: g.application_id,
                application_title: title,
                round_id: g.round_id,
                organization_id: g.organization_id,
                organization_name: orgs.get(&g.organization_id).cloned().unwrap_or_default(),
                amount: money(g.amount)?,
                status,
                previous_grant_id: g.previous_grant_id,
                previous_application_id,
                next_milestone: if status == GrantStatus::Active {
                    next_milestone(&recorded)
                } else {
                    None
                },
                balance: BalanceView {
                    awarded: money(g.amount)?,
                    pending: money(g.requested_total - g.committed_total)?,
                    approved: money(g.committed_total - g.paid_total)?,
                    paid: money(g.paid_total)?,
                    outstanding: money(outstanding)?,
                    cancelled: money(cancelled)?,
                    clawback: g.clawback_amount.map(money).transpose()?,
                },
                tranches: ts
                    .iter()
                    .map(TrancheView::from_row)
                    .collect::<Result<_, _>>()?,
                milestones: ms
                    .iter()
                    .map(MilestoneView::from_row)
                    .collect::<Result<_, _>>()?,
                payouts: payout_views,
                terminated_at: g.terminated_at,
                created_at: g.created_at,
                updated_at: g.updated_at,
            })
        })
        .collect()
}

/// One grant as the caller may see it (others' are 404).
pub async fn view(db: &Database, scope: Scope, id: Uuid) -> Result<GrantView, Error> {
    let mut conn = db.conn().await?;
    let row = grants::get(&mut conn, scope, id).await?;
    Ok(views(&mut conn, vec![row], true).await?.remove(0))
}

/// Payouts' views, with their tranche numbers (one query for all).
pub async fn payout_views(
    conn: &mut AsyncPgConnection,
    rows: &[PayoutRow],
) -> Result<Vec<PayoutView>, Error> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let ids: Vec<Uuid> = rows.iter().map(|p| p.tranche_id).collect();
    let numbers: HashMap<Uuid, i32> = schema::tranches::table
        .filter(schema::tranches::id.eq_any(&ids))
        .select((schema::tranches::id, schema::tranches::number))
        .load::<(Uuid, i32)>(conn)
        .await?
        .into_iter()
        .collect();
    rows.iter()
        .map(|p| PayoutView::from_row(p, numbers.get(&p.tranche_id).copied().unwrap_or(0)))
        .collect()
}
