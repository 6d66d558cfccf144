//! Milestones of a grant: agreement signed, mid-term and final evaluation, and what a failing
//! evaluation does (terminate, cancel unpaid tranches, claw back, blacklist).

use std::collections::HashMap;

use chrono::{NaiveDate, Utc};
use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Caller;
use crate::domain::grant::{
    self, is_evaluation, next_milestone, passes, valid_score, Grade, GrantStatus, PayoutState,
    PayoutStatus, Termination, TrancheState, TrancheStatus,
};
use crate::domain::lifecycle::ApplicationStatus;
use crate::domain::money::Money;
use crate::domain::round::Milestone;
use crate::domain::violation::Violation;
use crate::service::error::parse_text;
use crate::service::rounds::RoundSpec;
use crate::service::{run_transaction, Error};
use crate::storage::models::{
    ApplicationUpdateForm, GrantRow, GrantUpdateForm, MilestoneEventInsertForm,
    OrganizationUpdateForm, PayoutRow, PayoutUpdateForm, TrancheRow, TrancheUpdateForm,
};
use crate::storage::{applications, grants, organizations, rounds, Database, Scope};

use super::views::PayoutView;

use crate::service::error::stored_money as money;

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

/// What recording a milestone would do, computed from the grant as it stands by the same rules
/// for the confirmation page and for the write.
#[derive(Debug, Clone)]
pub struct MilestonePlan {
    pub milestone: Milestone,
    /// Evaluations: the score rounded to the fen of a point, its grade.
    pub score: Option<Decimal>,
    pub grade: Option<Grade>,
    pub passed: bool,
    /// The round's evaluation pass mark.
    pub pass_mark: Decimal,
    /// Passed: the tranches it makes due (number, amount).
    pub released: Vec<(i32, Money)>,
    /// Failed: the termination's consequences.
    pub termination: Option<Termination>,
}

impl MilestonePlan {
    /// A digest of everything the plan would change: the confirmation page carries it and the
    /// confirmed write refuses when the grant has moved on meanwhile.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let body = serde_json::json!({
            "milestone": self.milestone, "score": self.score, "passed": self.passed,
            "released": self.released, "termination": self.termination,
        });
        hex::encode(Sha256::digest(body.to_string().as_bytes()))
    }
}

/// The checks of a milestone (state, order, the round's financial-report rule, which fields go
/// with a failure) and its plan, from rows the caller read (the writer locked them).
#[allow(clippy::too_many_arguments)]
async fn plan_milestone(
    conn: &mut AsyncPgConnection,
    grant_row: &GrantRow,
    blacklisted_until: Option<NaiveDate>,
    round: &RoundSpec,
    tranches: &[TrancheRow],
    payouts: &[PayoutRow],
    input: &MilestoneInput,
    today: NaiveDate,
) -> Result<MilestonePlan, Error> {
    let status: GrantStatus = parse_text(&grant_row.status)?;
    if status != GrantStatus::Active {
        return Err(Error::invalid_state(format!(
            "the grant is {status}; no more milestones"
        )));
    }
    let events = grants::milestones_of(conn, &[grant_row.id]).await?;
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
    crate::service::spending::check_report_for_milestone(
        conn,
        &round.rules,
        grant_row.id,
        input.milestone,
    )
    .await?;
    let score = input.score.map(|s| s.round_dp(2));
    let grade = score.map(grant::grade);
    let pass_mark = round.rules.evaluation_pass_mark;
    let passed = score.is_none_or(|s| passes(s, pass_mark));
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
    let mut released = Vec::new();
    let mut termination = None;
    if passed {
        for t in tranches
            .iter()
            .filter(|t| t.milestone == input.milestone.as_str())
        {
            if parse_text::<TrancheStatus>(&t.status)?.can_become(TrancheStatus::Due) {
                released.push((t.number, money(t.amount)?));
            }
        }
    } else {
        let numbers: HashMap<Uuid, i32> = tranches.iter().map(|t| (t.id, t.number)).collect();
        let ts = tranches
            .iter()
            .map(|t| {
                Ok(TrancheState {
                    number: t.number,
                    status: parse_text(&t.status)?,
                    amount: money(t.amount)?,
                    paid: money(t.paid_total)?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let ps = payouts
            .iter()
            .map(|p| {
                Ok(PayoutState {
                    tranche_number: numbers.get(&p.tranche_id).copied().unwrap_or(0),
                    status: parse_text(&p.status)?,
                    amount: money(p.amount)?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        termination = Some(
            grant::termination(
                &ts,
                &ps,
                money(grant_row.paid_total)?,
                input.clawback_amount,
                input.blacklist_years.unwrap_or(round.rules.blacklist_years),
                today,
                blacklisted_until,
            )
            .map_err(|v| Error::RuleViolation(vec![v]))?,
        );
    }
    Ok(MilestonePlan {
        milestone: input.milestone,
        score,
        grade,
        passed,
        pass_mark,
        released,
        termination,
    })
}

/// A milestone's plan as the confirmation page shows it, before anything is written.
#[derive(Debug, Clone)]
pub struct MilestonePreview {
    pub plan: MilestonePlan,
    /// The payouts the termination withdraws.
    pub withdrawn: Vec<PayoutView>,
    pub organization_name: String,
}

/// What `record_milestone` would do with `input` now (admin), refused for the same reasons,
/// without writing anything.
pub async fn preview_milestone(
    db: &Database,
    caller: &Caller,
    grant_id: Uuid,
    input: &MilestoneInput,
) -> Result<MilestonePreview, Error> {
    caller.require(crate::auth::roles::ADMIN)?;
    input.check_shape()?;
    let mut conn = db.conn().await?;
    let conn = &mut conn;
    let g = grants::get(conn, caller.organization_scope(), grant_id).await?;
    let org = organizations::get(conn, Scope::All, g.organization_id).await?;
    let round = RoundSpec::from_row(&rounds::get(conn, g.round_id, true).await?)?;
    let tranches = grants::tranches_of(conn, &[grant_id]).await?;
    let payouts = grants::payouts_of(conn, &[grant_id]).await?;
    let plan = plan_milestone(
        conn,
        &g,
        org.blacklisted_until,
        &round,
        &tranches,
        &payouts,
        input,
        Utc::now().date_naive(),
    )
    .await?;
    let numbers: HashMap<Uuid, i32> = tranches.iter().map(|t| (t.id, t.number)).collect();
    let withdrawn = plan
        .termination
        .iter()
        .flat_map(|t| t.withdrawn.iter())
        .filter_map(|i| payouts.get(*i))
        .map(|p| PayoutView::from_row(p, numbers.get(&p.tranche_id).copied().unwrap_or(0)))
        .collect::<Result<_, _>>()?;
    Ok(MilestonePreview {
        plan,
        withdrawn,
        organization_name: org.name,
    })
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
    record(db, caller, grant_id, input, None).await
}

/// `record_milestone` as confirmed on a page that showed the plan of `digest`: refused (409
/// `consequences_changed`) when the plan is no longer the one shown.
pub async fn record_confirmed_milestone(
    db: &Database,
    caller: &Caller,
    grant_id: Uuid,
    input: MilestoneInput,
    digest: &str,
) -> Result<GrantRow, Error> {
    record(db, caller, grant_id, input, Some(digest)).await
}

async fn record(
    db: &Database,
    caller: &Caller,
    grant_id: Uuid,
    input: MilestoneInput,
    confirmed: Option<&str>,
) -> Result<GrantRow, Error> {
    input.check_shape()?;
    run_transaction(db, async move |conn| {
            let visible = grants::get(conn, caller.organization_scope(), grant_id).await?;
            // Lock order: grant, organization, application (submission locks organization first too).
            let before = grants::lock(conn, visible.id).await?;
            let org = organizations::lock(conn, before.organization_id).await?;
            let app = applications::lock(conn, before.application_id).await?;
            let round = RoundSpec::from_row(&rounds::get(conn, before.round_id, true).await?)?;
            let tranches = grants::tranches_of(conn, &[grant_id]).await?;
            let payouts = grants::payouts_of(conn, &[grant_id]).await?;
            let now = Utc::now();
            let plan = plan_milestone(
                conn,
                &before,
                org.blacklisted_until,
                &round,
                &tranches,
                &payouts,
                &input,
                now.date_naive(),
            )
            .await?;
            if confirmed.is_some_and(|d| d != plan.digest()) {
                return Err(Error::Conflict {
                    code: "consequences_changed",
                    detail: "the grant changed since its consequences were shown; review them again".into(),
                });
            }
            let (score, grade, passed) = (plan.score, plan.grade, plan.passed);
            let app_status: ApplicationStatus = parse_text(&app.status)?;
            let mut app_form = ApplicationUpdateForm {
                updated_at: Some(now),
                ..Default::default()
            };
            let mut grant_form = GrantUpdateForm {
                updated_at: Some(now),
                ..Default::default()
            };
            let mut changed_tranches = Vec::new();
            let mut rejected_payouts = Vec::new();
            match &plan.termination {
                None => {
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
                        .filter(|t| plan.released.iter().any(|(n, _)| *n == t.number))
                    {
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
                Some(term) => {
                    move_application(&mut app_form, app_status, ApplicationStatus::Terminated)?;
                    grant_form.status = Some(GrantStatus::Terminated.as_str().into());
                    grant_form.terminated_at = Some(Some(now));
                    let reason = format!(
                        "project terminated: {} failed with score {}",
                        input.milestone,
                        score.unwrap_or_default()
                    );
                    for t in tranches
                        .iter()
                        .filter(|t| term.cancelled.iter().any(|(n, _)| *n == t.number))
                    {
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
                        changed_tranches
                            .push(serde_json::json!({"number": t.number, "status": "cancelled"}));
                    }
                    for p in term.withdrawn.iter().filter_map(|i| payouts.get(*i)) {
                        let ps: PayoutStatus = parse_text(&p.status)?;
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
                        crate::service::audit(
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
                    if let Some(claw) = term.clawback {
                        grant_form.clawback_amount = Some(Some(claw.amount()));
                    }
                    if let Some(until) = term.blacklisted_until {
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
                        crate::service::audit(
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
                    crate::service::notices::termination(conn, grant_id, reason.clone(), now.date_naive()).await?;
                }
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
                crate::service::notices::evaluation_result(
                    conn,
                    grant_id,
                    input.milestone,
                    passed,
                    input.note.clone(),
                )
                .await?;
            }
            crate::service::audit(
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
        })
    .await
}
