//! Grants (issue #5, domain.md rule 8): creation from an approved application, milestones,
//! payouts with maker-checker and idempotency, and the views the API and the ledger show.
//!
//! Concurrency: every milestone and every payout change locks the grant row first
//! (`SELECT … FOR UPDATE`), so all money movements of one grant are serialized. The limits are
//! checked by the domain rules after that lock, and the database keeps a backstop: a trigger on
//! `payouts` maintains the tranche and grant totals with CHECKs (`requested ≤ tranche amount`,
//! `requested ≤ award`). Pending requests count toward the limit (requested + approved + paid ≤
//! tranche), so a request that could never be approved is refused up front.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel_async::scoped_futures::ScopedFutureExt;
use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Caller;
use crate::domain::grant::{
    self, blacklist_until, fits, is_evaluation, next_milestone, passes, remaining, split_tranches,
    valid_score, Grade, GrantStatus, PayoutStatus, TrancheStatus,
};
use crate::domain::lifecycle::ApplicationStatus;
use crate::domain::money::Money;
use crate::domain::round::Milestone;
use crate::domain::violation::Violation;
use crate::service::error::parse_text;
use crate::service::rounds::RoundSpec;
use crate::service::{run_transaction, Error};
use crate::storage::models::{
    ApplicationRow, ApplicationUpdateForm, GrantInsertForm, GrantRow, GrantUpdateForm,
    MilestoneEventInsertForm, MilestoneEventRow, OrganizationUpdateForm, PayoutInsertForm,
    PayoutRow, PayoutUpdateForm, TrancheInsertForm, TrancheRow, TrancheUpdateForm,
};
use crate::storage::schema;
use crate::storage::{applications, grants, organizations, rounds, Database, Scope};

use crate::service::error::stored_money as money;

// ---------------------------------------------------------------- views

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

// ---------------------------------------------------------------- creation

/// Creates the grant of an approved application (amount = its `award_amount`) and its tranches
/// from the round's schedule, in the caller's transaction, audited. Called by the award
/// finalization for each funded application.
pub async fn create_for_approved(
    conn: &mut AsyncPgConnection,
    actor: Option<&Caller>,
    application: &ApplicationRow,
    round: &RoundSpec,
) -> Result<GrantRow, Error> {
    if application.status != ApplicationStatus::Approved.as_str() {
        return Err(Error::invalid_state(format!(
            "only an approved application gets a grant; this one is {}",
            application.status
        )));
    }
    let award = application
        .award_amount
        .ok_or_else(|| Error::invalid_state("the application has no award amount"))?;
    let award = money(award)?;
    if award.amount() <= Decimal::ZERO {
        return Err(Error::invalid_state("the award amount is zero"));
    }
    let mut check = Vec::new();
    crate::domain::round::validate_tranches(&round.tranche_schedule, &mut check);
    if !check.is_empty() {
        return Err(Error::RuleViolation(check));
    }
    let previous_grant_id = match application.previous_application_id {
        Some(prev) => grants::by_application(conn, prev).await?.map(|g| g.id),
        None => None,
    };
    let id = Uuid::new_v4();
    let row = grants::insert(
        conn,
        &GrantInsertForm {
            id,
            application_id: application.id,
            round_id: application.round_id,
            organization_id: application.organization_id,
            amount: award.amount(),
            status: GrantStatus::Active.as_str().into(),
            previous_grant_id,
            created_by: actor.map(|c| c.user_id),
        },
    )
    .await?;
    let amounts = split_tranches(award, &round.tranche_schedule);
    let forms: Vec<TrancheInsertForm> = round
        .tranche_schedule
        .iter()
        .zip(&amounts)
        .enumerate()
        .map(|(i, (spec, amount))| TrancheInsertForm {
            id: Uuid::new_v4(),
            grant_id: id,
            number: i as i32 + 1,
            percent: spec.percent,
            amount: amount.amount(),
            milestone: spec.milestone.as_str().into(),
            status: TrancheStatus::Scheduled.as_str().into(),
        })
        .collect();
    let tranches = grants::insert_tranches(conn, &forms).await?;
    super::audit(
        conn,
        actor,
        "grant.created",
        "grant",
        id,
        None::<&()>,
        Some(&serde_json::json!({
            "application_id": application.id,
            "amount": award,
            "previous_grant_id": previous_grant_id,
            "tranches": tranches.iter().map(|t| serde_json::json!({
                "number": t.number, "percent": t.percent, "amount": t.amount, "milestone": t.milestone
            })).collect::<Vec<_>>(),
        })),
    )
    .await?;
    Ok(row)
}

// ---------------------------------------------------------------- milestones

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MilestoneInput {
    pub milestone: Milestone,
    /// Evaluations only: 0–100, at most two fraction digits, as a string ("78.5").
    #[serde(
        default,
        deserialize_with = "crate::domain::bounds::opt_evaluation_score"
    )]
    #[schema(schema_with = crate::domain::bounds::evaluation_score_schema)]
    pub score: Option<Decimal>,
    pub note: Option<String>,
    /// Failed evaluations only: an amount to claw back, at most what was paid.
    pub clawback_amount: Option<Money>,
    /// Failed evaluations only: years the organization is blacklisted (default: the round's
    /// `blacklist_years`, 3); 0 for none.
    #[schema(maximum = 10)]
    pub blacklist_years: Option<u32>,
}

impl MilestoneInput {
    fn check_shape(&self) -> Result<(), Error> {
        let mut v = Vec::new();
        match (is_evaluation(self.milestone), self.score) {
            (true, None) => {
                v.push(Violation::new("required", "an evaluation needs a score").field("score"))
            }
            (false, Some(_)) => v.push(
                Violation::new("not_allowed", "signing the agreement has no score").field("score"),
            ),
            (true, Some(s)) if !valid_score(s) => v.push(
                Violation::new(
                    "range",
                    "a score is 0 to 100 with at most two fraction digits",
                )
                .limit("0..100")
                .actual(s)
                .field("score"),
            ),
            _ => {}
        }
        if let Some(n) = &self.note {
            if n.chars().count() > 2000 {
                v.push(
                    Violation::new("length", "note has at most 2000 characters")
                        .limit(2000)
                        .actual(n.chars().count())
                        .field("note"),
                );
            }
        }
        if let Some(y) = self.blacklist_years {
            if y > 10 {
                v.push(
                    Violation::new("range", "blacklist_years is at most 10")
                        .limit("0..10")
                        .actual(y)
                        .field("blacklist_years"),
                );
            }
        }
        if v.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(v))
        }
    }
}

fn move_application(
    form: &mut ApplicationUpdateForm,
    from: ApplicationStatus,
    to: ApplicationStatus,
) -> Result<(), Error> {
    if !from.can_become(to) {
        return Err(Error::invalid_state(format!(
            "the application is {from} and cannot become {to}"
        )));
    }
    form.status = Some(to.as_str().into());
    Ok(())
}

/// Records a milestone (admin). Milestones come in order; a passed one makes its tranches due,
/// a failed evaluation terminates the project (remaining tranches cancelled, unpaid payouts
/// rejected, clawback recorded, organization blacklisted).
pub async fn record_milestone(
    db: &Database,
    caller: &Caller,
    grant_id: Uuid,
    input: MilestoneInput,
) -> Result<GrantRow, Error> {
    input.check_shape()?;
    run_transaction(db, |conn| {
        async move {
            let visible = grants::get(conn, caller.organization_scope(), grant_id).await?;
            // Lock order: grant, organization, application (submission locks organization first too).
            let before = grants::lock(conn, visible.id).await?;
            let org = organizations::lock(conn, before.organization_id).await?;
            let app = applications::lock(conn, before.application_id).await?;
            let round = RoundSpec::from_row(&rounds::get(conn, before.round_id, true).await?)?;
            let status: GrantStatus = parse_text(&before.status)?;
            if status != GrantStatus::Active {
                return Err(Error::invalid_state(format!(
                    "the grant is {status}; no more milestones"
                )));
            }
            let events = grants::milestones_of(conn, &[grant_id]).await?;
            let recorded: Vec<Milestone> = events
                .iter()
                .map(|m| parse_text(&m.milestone))
                .collect::<Result<_, _>>()?;
            let expected = next_milestone(&recorded);
            if expected != Some(input.milestone) {
                return Err(Error::invalid_state(match expected {
                    Some(e) => format!(
                        "milestones happen in order: {e} comes next, not {}",
                        input.milestone
                    ),
                    None => "every milestone has been recorded".to_string(),
                }));
            }
            super::spending::check_report_for_milestone(conn, &round.rules, grant_id, input.milestone)
                .await?;
            let score = input.score.map(|s| s.round_dp(2));
            let grade = score.map(grant::grade);
            let passed = score.is_none_or(|s| passes(s, round.rules.evaluation_pass_mark));
            if passed && (input.clawback_amount.is_some() || input.blacklist_years.is_some()) {
                return Err(Error::invalid(
                    Violation::new(
                        "not_allowed",
                        "clawback_amount and blacklist_years go with a failed evaluation only",
                    )
                    .field(if input.clawback_amount.is_some() {
                        "clawback_amount"
                    } else {
                        "blacklist_years"
                    }),
                ));
            }
            let app_status: ApplicationStatus = parse_text(&app.status)?;
            let now = Utc::now();
            let mut app_form = ApplicationUpdateForm {
                updated_at: Some(now),
                ..Default::default()
            };
            let mut grant_form = GrantUpdateForm {
                updated_at: Some(now),
                ..Default::default()
            };
            let tranches = grants::tranches_of(conn, &[grant_id]).await?;
            let mut changed_tranches = Vec::new();
            let mut rejected_payouts = Vec::new();
            if passed {
                match input.milestone {
                    Milestone::AgreementSigned => move_application(
                        &mut app_form,
                        app_status,
                        ApplicationStatus::Contracted,
                    )?,
                    Milestone::MidTermEvaluation => move_application(
                        &mut app_form,
                        app_status,
                        ApplicationStatus::InProgress,
                    )?,
                    Milestone::FinalEvaluation => {
                        move_application(&mut app_form, app_status, ApplicationStatus::Completed)?;
                        grant_form.status = Some(GrantStatus::Completed.as_str().into());
                    }
                }
                for t in tranches
                    .iter()
                    .filter(|t| t.milestone == input.milestone.as_str())
                {
                    let ts: TrancheStatus = parse_text(&t.status)?;
                    if ts.can_become(TrancheStatus::Due) {
                        // A tranche of 0.00 (a tiny award split) has nothing to pay: settled at once.
                        let settled = t.amount.is_zero();
                        let next = if settled {
                            TrancheStatus::Paid
                        } else {
                            TrancheStatus::Due
                        };
                        grants::update_tranche(
                            conn,
                            t.id,
                            &TrancheUpdateForm {
                                status: Some(next.as_str().into()),
                                due_at: Some(Some(now)),
                                paid_at: settled.then_some(Some(now)),
                                ..Default::default()
                            },
                        )
                        .await?;
                        changed_tranches
                            .push(serde_json::json!({"number": t.number, "status": next}));
                    }
                }
            } else {
                move_application(&mut app_form, app_status, ApplicationStatus::Terminated)?;
                grant_form.status = Some(GrantStatus::Terminated.as_str().into());
                grant_form.terminated_at = Some(Some(now));
                let reason = format!(
                    "project terminated: {} failed with score {}",
                    input.milestone,
                    score.unwrap_or_default()
                );
                let mut cancelled = Vec::new();
                for t in &tranches {
                    let ts: TrancheStatus = parse_text(&t.status)?;
                    if ts.can_become(TrancheStatus::Cancelled) {
                        grants::update_tranche(
                            conn,
                            t.id,
                            &TrancheUpdateForm {
                                status: Some(TrancheStatus::Cancelled.as_str().into()),
                                cancelled_at: Some(Some(now)),
                                ..Default::default()
                            },
                        )
                        .await?;
                        cancelled.push(t.id);
                        changed_tranches
                            .push(serde_json::json!({"number": t.number, "status": "cancelled"}));
                    }
                }
                for p in grants::payouts_of(conn, &[grant_id]).await? {
                    let ps: PayoutStatus = parse_text(&p.status)?;
                    if cancelled.contains(&p.tranche_id) && ps.withdrawn_on_termination() {
                        grants::update_payout(
                            conn,
                            p.id,
                            &PayoutUpdateForm {
                                status: Some(PayoutStatus::Rejected.as_str().into()),
                                approved_by: Some(None),
                                approved_at: Some(None),
                                rejected_by: Some(Some(caller.user_id)),
                                rejected_at: Some(Some(now)),
                                rejected_reason: Some(Some(reason.clone())),
                                updated_at: Some(now),
                                ..Default::default()
                            },
                        )
                        .await?;
                        super::audit(
                            conn,
                            Some(caller),
                            "payout.rejected",
                            "payout",
                            p.id,
                            Some(&serde_json::json!({"status": ps, "amount": p.amount, "approved_by": p.approved_by, "approved_at": p.approved_at})),
                            Some(&serde_json::json!({"status": "rejected", "reason": reason})),
                        )
                        .await?;
                        rejected_payouts.push(p.id);
                    }
                }
                if let Some(claw) = input.clawback_amount {
                    if claw.amount() > before.paid_total {
                        return Err(Error::RuleViolation(vec![Violation::new(
                            "clawback_limit",
                            "the clawback cannot exceed what was paid",
                        )
                        .limit(money(before.paid_total)?)
                        .actual(claw)
                        .field("clawback_amount")]));
                    }
                    grant_form.clawback_amount = Some(Some(claw.amount()));
                }
                let years = input.blacklist_years.unwrap_or(round.rules.blacklist_years);
                if years > 0 {
                    let until = blacklist_until(now.date_naive(), years);
                    let until = org.blacklisted_until.map_or(until, |d| d.max(until));
                    let why = format!("{reason} (grant {grant_id})");
                    organizations::update(
                        conn,
                        org.id,
                        &OrganizationUpdateForm {
                            blacklisted_until: Some(Some(until)),
                            blacklist_reason: Some(Some(why.clone())),
                            updated_at: Some(now),
                            ..Default::default()
                        },
                    )
                    .await?;
                    super::audit(
                        conn,
                        Some(caller),
                        "organization.blacklisted",
                        "organization",
                        org.id,
                        Some(&serde_json::json!({"blacklisted_until": org.blacklisted_until, "blacklist_reason": org.blacklist_reason})),
                        Some(&serde_json::json!({"blacklisted_until": until, "blacklist_reason": why})),
                    )
                    .await?;
                }
                super::notices::termination(conn, grant_id, reason.clone(), now.date_naive()).await?;
            }
            applications::update(conn, app.id, &app_form).await?;
            let after = grants::update(conn, grant_id, &grant_form).await?;
            grants::insert_milestone(
                conn,
                &MilestoneEventInsertForm {
                    id: Uuid::new_v4(),
                    grant_id,
                    milestone: input.milestone.as_str().into(),
                    score,
                    grade: grade.map(|g| g.as_str().into()),
                    passed,
                    note: input.note.clone().unwrap_or_default().trim().to_string(),
                    recorded_by: Some(caller.user_id),
                },
            )
            .await?;
            if is_evaluation(input.milestone) {
                super::notices::evaluation_result(
                    conn,
                    grant_id,
                    input.milestone,
                    passed,
                    input.note.clone(),
                )
                .await?;
            }
            super::audit(
                conn,
                Some(caller),
                &format!("grant.{}", input.milestone),
                "grant",
                grant_id,
                Some(&serde_json::json!({
                    "status": before.status, "application_status": app.status,
                    "clawback_amount": before.clawback_amount,
                })),
                Some(&serde_json::json!({
                    "status": after.status,
                    "application_status": app_form.status.clone().unwrap_or(app.status.clone()),
                    "milestone": input.milestone, "score": score, "grade": grade, "passed": passed,
                    "note": input.note, "clawback_amount": after.clawback_amount,
                    "tranches": changed_tranches, "rejected_payouts": rejected_payouts,
                })),
            )
            .await?;
            Ok(after)
        }
        .scope_boxed()
    })
    .await
}

// ---------------------------------------------------------------- payouts

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayoutInput {
    /// Which tranche of the grant (1-based, as in `tranches[].number`).
    #[schema(minimum = 1, maximum = 3)]
    pub tranche_number: u32,
    pub amount: Money,
    pub note: Option<String>,
}

/// An `Idempotency-Key` and the digest of the request it came with.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: String,
    pub request_hash: Vec<u8>,
}

impl Idempotency {
    /// Checks the key (1–200 visible ASCII characters) and digests the request: method, path
    /// and the parsed body in canonical form, so `"5000"` and `"5000.00"` are the same request.
    pub fn new(key: &str, what: &str, body: &impl Serialize) -> Result<Self, Error> {
        use sha2::{Digest, Sha256};
        let k = key.trim();
        if k.is_empty() || k.len() > 200 || !k.chars().all(|c| c.is_ascii_graphic()) {
            return Err(Error::bad_request(
                "invalid_idempotency_key",
                "Idempotency-Key has 1 to 200 visible ASCII characters",
            ));
        }
        let mut h = Sha256::new();
        h.update(what.as_bytes());
        h.update(b"\n");
        h.update(serde_json::to_vec(body).map_err(|e| Error::Internal(e.into()))?);
        Ok(Self {
            key: k.to_string(),
            request_hash: h.finalize().to_vec(),
        })
    }
}

/// The answer to a payout request: the status and body to send, and whether it is a replay
/// of the first answer to the same key.
#[derive(Debug, Clone)]
pub struct Replayable {
    pub status: u16,
    pub body: serde_json::Value,
    pub replayed: bool,
}

/// Claims the key for this transaction (`None`: go ahead, then `store` the answer), or returns
/// the stored answer of the same request (422 `idempotency_key_reused` for another request).
/// A concurrent twin waits on the key row until the first transaction ends; only successful
/// answers are stored (a failed transaction rolls its key back).
async fn claim_or_replay(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    idem: &Idempotency,
) -> Result<Option<Replayable>, Error> {
    if grants::claim_key(conn, caller.user_id, &idem.key, &idem.request_hash).await? {
        return Ok(None);
    }
    let stored = grants::find_key(conn, caller.user_id, &idem.key).await?;
    if stored.request_hash != idem.request_hash {
        return Err(Error::Unprocessable {
            code: "idempotency_key_reused",
            detail: "this Idempotency-Key was used with another request".into(),
        });
    }
    match (stored.response_status, stored.response_body) {
        (Some(status), Some(body)) => Ok(Some(Replayable {
            status: status as u16,
            body,
            replayed: true,
        })),
        _ => Err(Error::Internal(anyhow::anyhow!(
            "idempotency key without a stored response"
        ))),
    }
}

/// Requests a payout of a due tranche (finance). With the same key and body the first answer
/// is returned; with the same key and another body, 422 `idempotency_key_reused`.
pub async fn request_payout(
    db: &Database,
    caller: &Caller,
    grant_id: Uuid,
    input: PayoutInput,
    idem: Idempotency,
) -> Result<Replayable, Error> {
    if input.amount.amount() <= Decimal::ZERO {
        return Err(Error::invalid(
            Violation::new("range", "a payout is above 0")
                .limit("> 0")
                .actual(input.amount)
                .field("amount"),
        ));
    }
    let note = input.note.clone().unwrap_or_default().trim().to_string();
    if note.chars().count() > 2000 {
        return Err(Error::invalid(
            Violation::new("length", "note has at most 2000 characters")
                .limit(2000)
                .actual(note.chars().count())
                .field("note"),
        ));
    }
    run_transaction(db, |conn| {
        async move {
            // The key first: a concurrent twin waits here until this transaction ends.
            if let Some(replay) = claim_or_replay(conn, caller, &idem).await? {
                return Ok(replay);
            }
            let visible = grants::get(conn, caller.organization_scope(), grant_id).await?;
            let grant = grants::lock(conn, visible.id).await?;
            if grant.status == GrantStatus::Terminated.as_str() {
                return Err(Error::invalid_state("the grant is terminated"));
            }
            let tranches = grants::tranches_of(conn, &[grant_id]).await?;
            let tranche = tranches
                .iter()
                .find(|t| t.number == input.tranche_number as i32)
                .ok_or_else(|| {
                    Error::invalid(
                        Violation::new("tranche", "the grant has no tranche with this number")
                            .limit(format!("1..{}", tranches.len()))
                            .actual(input.tranche_number)
                            .field("tranche_number"),
                    )
                })?;
            if tranche.status != TrancheStatus::Due.as_str() {
                return Err(Error::invalid_state(format!(
                    "tranche {} is {}; only a due tranche can be paid out",
                    tranche.number, tranche.status
                )));
            }
            let mut v = Vec::new();
            let held = money(tranche.requested_total)?;
            let limit = money(tranche.amount)?;
            if !fits(held, limit, input.amount) {
                v.push(
                    Violation::new(
                        "tranche_limit",
                        "requested, approved and paid payouts of a tranche never exceed it",
                    )
                    .limit(remaining(held, limit))
                    .actual(input.amount)
                    .field("amount"),
                );
            }
            let (g_held, g_limit) = (money(grant.requested_total)?, money(grant.amount)?);
            if !fits(g_held, g_limit, input.amount) {
                v.push(
                    Violation::new("award_limit", "payouts of a grant never exceed the award")
                        .limit(remaining(g_held, g_limit))
                        .actual(input.amount)
                        .field("amount"),
                );
            }
            if !v.is_empty() {
                return Err(Error::RuleViolation(v));
            }
            let row = grants::insert_payout(
                conn,
                &PayoutInsertForm {
                    id: Uuid::new_v4(),
                    grant_id,
                    tranche_id: tranche.id,
                    amount: input.amount.amount(),
                    status: PayoutStatus::Requested.as_str().into(),
                    note,
                    requested_by: caller.user_id,
                },
            )
            .await?;
            let view = PayoutView::from_row(&row, tranche.number)?;
            super::audit(
                conn,
                Some(caller),
                "payout.requested",
                "payout",
                row.id,
                None::<&()>,
                Some(&view),
            )
            .await?;
            super::notices::payout_awaiting_approval(
                conn,
                caller,
                row.id,
                grant_id,
                tranche.number,
                row.amount,
            )
            .await?;
            let body = serde_json::to_value(&view).map_err(|e| Error::Internal(e.into()))?;
            grants::save_response(conn, caller.user_id, &idem.key, 201, &body).await?;
            Ok(Replayable {
                status: 201,
                body,
                replayed: false,
            })
        }
        .scope_boxed()
    })
    .await
}

/// What a finance user decides about a request.
#[derive(Debug, Clone)]
pub enum Decision {
    Approve,
    Reject {
        reason: String,
    },
    Paid {
        bank_reference: String,
        value_date: NaiveDate,
    },
}

/// Approves, rejects or records the payment of a payout (finance). Approval and rejection are
/// by a finance user other than the requester (403 `self_approval_forbidden`; a CHECK in the
/// database too); approval re-checks that approved + paid stays within the tranche. With an
/// `Idempotency-Key` a retried decision answers the first answer instead of 409.
pub async fn decide(
    db: &Database,
    caller: &Caller,
    payout_id: Uuid,
    decision: Decision,
    idem: Option<Idempotency>,
) -> Result<Replayable, Error> {
    if let Decision::Paid { value_date, .. } = &decision {
        // A payment already made: its value date is not later than tomorrow (UTC+8 runs ahead).
        let latest = Utc::now().date_naive() + chrono::Days::new(1);
        if *value_date > latest {
            return Err(Error::invalid(
                Violation::new(
                    "range",
                    "the value date of a recorded payment is not in the future",
                )
                .limit(format!("<= {latest}"))
                .actual(value_date)
                .field("value_date"),
            ));
        }
    }
    run_transaction(db, |conn| {
        async move {
            if let Some(idem) = &idem {
                if let Some(replay) = claim_or_replay(conn, caller, idem).await? {
                    return Ok(replay);
                }
            }
            let seen = grants::payout(conn, payout_id).await?;
            let grant = grants::lock(conn, seen.grant_id).await?;
            let p = grants::lock_payout(conn, payout_id).await?;
            let status: PayoutStatus = parse_text(&p.status)?;
            let next = match decision {
                Decision::Approve => PayoutStatus::Approved,
                Decision::Reject { .. } => PayoutStatus::Rejected,
                Decision::Paid { .. } => PayoutStatus::Paid,
            };
            if !status.can_become(next) {
                return Err(Error::invalid_state(format!(
                    "a payout that is {status} cannot become {next}"
                )));
            }
            if next != PayoutStatus::Paid && p.requested_by == caller.user_id {
                return Err(Error::Forbidden {
                    code: "self_approval_forbidden",
                    detail: "a payout is approved or rejected by a finance user other than the one who requested it".into(),
                });
            }
            let tranche = grants::tranche(conn, p.tranche_id).await?;
            let now = Utc::now();
            let mut form = PayoutUpdateForm {
                status: Some(next.as_str().into()),
                updated_at: Some(now),
                ..Default::default()
            };
            match &decision {
                Decision::Approve => {
                    if grant.status == GrantStatus::Terminated.as_str()
                        || tranche.status != TrancheStatus::Due.as_str()
                    {
                        return Err(Error::invalid_state(format!(
                            "tranche {} is {}; only payouts of a due tranche are approved",
                            tranche.number, tranche.status
                        )));
                    }
                    // Approved + paid, with this one, within the tranche and the award.
                    let amount = money(p.amount)?;
                    if !fits(money(tranche.committed_total)?, money(tranche.amount)?, amount)
                        || !fits(money(grant.committed_total)?, money(grant.amount)?, amount)
                    {
                        return Err(Error::RuleViolation(vec![Violation::new(
                            "tranche_limit",
                            "approved and paid payouts of a tranche never exceed it",
                        )
                        .limit(remaining(money(tranche.committed_total)?, money(tranche.amount)?))
                        .actual(amount)]));
                    }
                    form.approved_by = Some(Some(caller.user_id));
                    form.approved_at = Some(Some(now));
                }
                Decision::Reject { reason } => {
                    form.rejected_by = Some(Some(caller.user_id));
                    form.rejected_at = Some(Some(now));
                    form.rejected_reason = Some(Some(reason.clone()));
                }
                Decision::Paid {
                    bank_reference,
                    value_date,
                } => {
                    form.paid_by = Some(Some(caller.user_id));
                    form.paid_at = Some(Some(now));
                    form.bank_reference = Some(Some(bank_reference.clone()));
                    form.value_date = Some(Some(*value_date));
                }
            }
            let row = grants::update_payout(conn, payout_id, &form).await?;
            let mut tranche_after = None;
            if next == PayoutStatus::Paid {
                let t = grants::tranche(conn, p.tranche_id).await?;
                if t.paid_total == t.amount && t.status == TrancheStatus::Due.as_str() {
                    grants::update_tranche(
                        conn,
                        t.id,
                        &TrancheUpdateForm {
                            status: Some(TrancheStatus::Paid.as_str().into()),
                            paid_at: Some(Some(now)),
                            ..Default::default()
                        },
                    )
                    .await?;
                    tranche_after = Some(serde_json::json!({"number": t.number, "status": "paid"}));
                }
                let t = grants::tranche(conn, row.tranche_id).await?;
                super::notices::payout_paid(
                    conn,
                    row.id,
                    row.grant_id,
                    t.number,
                    row.amount,
                    row.value_date.unwrap_or_else(|| now.date_naive()),
                )
                .await?;
            }
            super::audit(
                conn,
                Some(caller),
                &format!("payout.{next}"),
                "payout",
                payout_id,
                Some(&serde_json::json!({"status": status, "amount": p.amount})),
                Some(&serde_json::json!({
                    "status": next, "amount": row.amount,
                    "approved_by": row.approved_by, "rejected_reason": row.rejected_reason,
                    "bank_reference": row.bank_reference, "value_date": row.value_date,
                    "tranche": tranche_after,
                })),
            )
            .await?;
            let view = PayoutView::from_row(&row, tranche.number)?;
            let body = serde_json::to_value(&view).map_err(|e| Error::Internal(e.into()))?;
            if let Some(idem) = &idem {
                grants::save_response(conn, caller.user_id, &idem.key, 200, &body).await?;
            }
            Ok(Replayable {
                status: 200,
                body,
                replayed: false,
            })
        }
        .scope_boxed()
    })
    .await
}
