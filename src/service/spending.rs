//! How a grant's money is spent: expenditures against the approved budget, the budget
//! execution, financial reports that freeze the spending so far, and budget adjustments.
//!
//! Concurrency: every write here (an expenditure recorded, corrected or deleted, a report
//! submitted, an adjustment proposed or decided) locks the grant row first, as the payouts and
//! milestones of `service::grants` do. So a report's submission and the expenditure writes of
//! the same grant are serialized: an expenditure is either frozen into the report with the
//! amount the report counted, or written after it and left for the next one. A trigger refuses
//! any change of a frozen expenditure as a backstop.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Caller;
use crate::domain::budget::BudgetCategory;
use crate::domain::grant::GrantStatus;
use crate::domain::money::Money;
use crate::domain::round::{Milestone, RoundRules};
use crate::domain::spending::{
    self, apply_moves, check_adjusted, check_spent_on, check_text, compare_party, execution,
    today_in_china, BudgetLineAmount, BudgetMove, Execution, ExecutionRules, PartyActual,
    PartyComparison, PartyPlan, ReportPeriod, Spend,
};
use crate::domain::user::Role;
use crate::domain::violation::Violation;
use crate::service::error::{parse_text, stored_money as money};
use crate::service::rounds::RoundSpec;
use crate::service::{run_transaction, Error};
use crate::storage::models::{ApplicationRow, BudgetLineRow, GrantRow};
use crate::storage::spending::{
    self as store, BudgetAdjustmentRow, BudgetAdjustmentUpdateForm, ExpenditureFilter,
    ExpenditureInsertForm, ExpenditureRow, ExpenditureUpdateForm, FinancialReportRow, SpendRow,
};
use crate::storage::{applications, grants, rounds, Database, Scope};

fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(anyhow::anyhow!("{e}"))
}

fn json<T: Serialize>(v: &T) -> Result<serde_json::Value, Error> {
    serde_json::to_value(v).map_err(internal)
}

// ---------------------------------------------------------------- the grant and its budget

/// A grant with what its spending is judged against.
pub struct GrantContext {
    pub grant: GrantRow,
    pub application: ApplicationRow,
    pub rules: RoundRules,
    /// The approved budget: the latest approved adjustment's, else the application's.
    pub budget: Vec<BudgetLineAmount>,
    /// 1 for the application's budget; each approved adjustment adds one.
    pub budget_version: i32,
}

impl GrantContext {
    pub fn project_dates(&self) -> (Option<NaiveDate>, Option<NaiveDate>) {
        (self.application.start_date, self.application.end_date)
    }

    fn execution_rules(&self) -> ExecutionRules {
        ExecutionRules {
            tolerance: self.rules.budget_adjustment_tolerance,
            max_personnel_ratio: self.rules.max_personnel_ratio,
            paid_in: self.grant.paid_total,
        }
    }

    fn line(&self, id: Uuid) -> Option<&BudgetLineAmount> {
        self.budget.iter().find(|l| l.id == id)
    }
}

fn application_budget(lines: &[BudgetLineRow]) -> Result<Vec<BudgetLineAmount>, Error> {
    lines
        .iter()
        .map(|l| {
            Ok(BudgetLineAmount {
                id: l.id,
                position: l.position,
                category: parse_text(&l.category)?,
                description: l.description.clone(),
                funded_by: parse_text(&l.funded_by)?,
                amount: money(l.amount)?,
            })
        })
        .collect()
}

fn adjusted_budget(row: &BudgetAdjustmentRow) -> Result<Vec<BudgetLineAmount>, Error> {
    serde_json::from_value(row.lines.clone()).map_err(internal)
}

pub async fn context(conn: &mut AsyncPgConnection, grant: GrantRow) -> Result<GrantContext, Error> {
    let application = applications::get(conn, Scope::All, grant.application_id).await?;
    let lines = applications::budget_lines(conn, application.id).await?;
    let round = RoundSpec::from_row(&rounds::get(conn, grant.round_id, true).await?)?;
    let latest = store::latest_approved(conn, &[grant.id]).await?;
    let (budget, budget_version) = match latest.first() {
        Some(a) => (adjusted_budget(a)?, a.version.unwrap_or(1)),
        None => (application_budget(&lines)?, 1),
    };
    Ok(GrantContext {
        grant,
        application,
        rules: round.rules,
        budget,
        budget_version,
    })
}

/// The grant as the caller may see it (404 otherwise).
async fn visible_grant(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    grant_id: Uuid,
) -> Result<GrantRow, Error> {
    Ok(grants::get(conn, caller.organization_scope(), grant_id).await?)
}

/// The grant locked for a write by its grantee: visible, an applicant of its organization,
/// and active.
async fn lock_for_grantee(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    grant_id: Uuid,
) -> Result<GrantRow, Error> {
    let visible = visible_grant(conn, caller, grant_id).await?;
    if caller.role != Role::Applicant {
        return Err(Error::forbidden(
            "only the grantee organization's applicants record its spending",
        ));
    }
    let grant = grants::lock(conn, visible.id).await?;
    require_active(&grant)?;
    Ok(grant)
}

fn require_active(grant: &GrantRow) -> Result<(), Error> {
    let status: GrantStatus = parse_text(&grant.status)?;
    if status != GrantStatus::Active {
        return Err(Error::invalid_state(format!(
            "the grant is {status}; its spending and budget are closed"
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------- expenditures

crate::string_enum! {
    pub enum ExpenditureStatus {
        /// Not yet in a report: can be corrected or deleted.
        Draft = "draft",
        /// Frozen in a submitted financial report.
        Reported = "reported",
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExpenditureView {
    pub id: Uuid,
    pub grant_id: Uuid,
    pub category: BudgetCategory,
    /// The budget line it is charged to, if any.
    pub budget_line: Option<Uuid>,
    pub description: String,
    pub amount: Money,
    pub spent_on: NaiveDate,
    pub payee: String,
    pub status: ExpenditureStatus,
    pub report_id: Option<Uuid>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ExpenditureView {
    pub fn from_row(r: &ExpenditureRow) -> Result<Self, Error> {
        Ok(Self {
            id: r.id,
            grant_id: r.grant_id,
            category: parse_text(&r.category)?,
            budget_line: r.budget_line_id,
            description: r.description.clone(),
            amount: money(r.amount)?,
            spent_on: r.spent_on,
            payee: r.payee.clone(),
            status: if r.report_id.is_some() {
                ExpenditureStatus::Reported
            } else {
                ExpenditureStatus::Draft
            },
            report_id: r.report_id,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// A new expenditure. `amount` is a money string above 0; `spent_on` lies within the
/// project's dates and not after today (China time); `budget_line`, when given, is a line of
/// the grant's budget of the same category.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpenditureInput {
    pub category: BudgetCategory,
    pub description: String,
    pub amount: Money,
    pub spent_on: NaiveDate,
    /// Who was paid (收款方).
    pub payee: String,
    pub budget_line: Option<Uuid>,
}

/// A correction of a draft expenditure: absent fields stay; `budget_line: null` clears it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpenditurePatch {
    pub category: Option<BudgetCategory>,
    pub description: Option<String>,
    pub amount: Option<Money>,
    pub spent_on: Option<NaiveDate>,
    pub payee: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub budget_line: Option<Option<Uuid>>,
}

/// Every check of an expenditure's content, against its grant, all problems at once.
fn check_expenditure(ctx: &GrantContext, e: &ExpenditureInput) -> Result<(), Error> {
    let mut v = Vec::new();
    // NUMERIC(14, 2) holds twelve integer digits; `Money` allows more.
    let max = Decimal::new(99_999_999_999_999, 2);
    if e.amount.amount().is_zero() || e.amount.amount() > max {
        v.push(
            Violation::new(
                "range",
                "an expenditure is above 0 and below 1,000,000,000,000",
            )
            .limit(format!("(0, {max}]"))
            .actual(e.amount)
            .field("amount"),
        );
    }
    check_text(&e.description, "description", 500, &mut v);
    check_text(&e.payee, "payee", 200, &mut v);
    v.extend(check_spent_on(
        e.spent_on,
        ctx.project_dates(),
        today_in_china(Utc::now()),
        "spent_on",
    ));
    if let Some(id) = e.budget_line {
        match ctx.line(id) {
            None => v.push(
                Violation::new("budget_line", "not a line of this grant's budget")
                    .actual(id)
                    .field("budget_line"),
            ),
            Some(l) if l.category != e.category => v.push(
                Violation::new(
                    "budget_line_category",
                    "the expenditure's category is its budget line's",
                )
                .limit(l.category)
                .actual(e.category)
                .field("category"),
            ),
            Some(_) => {}
        }
    }
    if v.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(v))
    }
}

/// Records an expenditure (the grantee's applicants, while the grant is active).
pub async fn create_expenditure(
    db: &Database,
    caller: &Caller,
    grant_id: Uuid,
    input: ExpenditureInput,
) -> Result<ExpenditureView, Error> {
    run_transaction(db, async move |conn| {
        insert_expenditure(conn, caller, grant_id, &input).await
    })
    .await
}

/// Records an expenditure once per idempotency key (the page's form carries one): the same
/// key with the same input answers the first expenditure (`true`: a replay) instead of a
/// second record; with another input, 422 `idempotency_key_reused`.
pub async fn create_expenditure_once(
    db: &Database,
    caller: &Caller,
    grant_id: Uuid,
    input: ExpenditureInput,
    idem: super::grants::Idempotency,
) -> Result<(ExpenditureView, bool), Error> {
    run_transaction(db, async move |conn| {
        // The key first: a concurrent twin waits here until this transaction ends.
        if let Some(replay) = super::grants::claim_or_replay(conn, caller, &idem).await? {
            let view: ExpenditureView = serde_json::from_value(replay.body).map_err(internal)?;
            return Ok((view, true));
        }
        let view = insert_expenditure(conn, caller, grant_id, &input).await?;
        grants::save_response(conn, caller.user_id, &idem.key, 201, &json(&view)?).await?;
        Ok((view, false))
    })
    .await
}

async fn insert_expenditure(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    grant_id: Uuid,
    input: &ExpenditureInput,
) -> Result<ExpenditureView, Error> {
    let grant = lock_for_grantee(conn, caller, grant_id).await?;
    let ctx = context(conn, grant).await?;
    check_expenditure(&ctx, input)?;
    let row = store::insert_expenditure(
        conn,
        &ExpenditureInsertForm {
            id: Uuid::new_v4(),
            grant_id,
            category: input.category.as_str().into(),
            budget_line_id: input.budget_line,
            description: input.description.trim().to_string(),
            amount: input.amount.amount(),
            spent_on: input.spent_on,
            payee: input.payee.trim().to_string(),
            created_by: caller.user_id,
        },
    )
    .await?;
    let view = ExpenditureView::from_row(&row)?;
    super::audit(
        conn,
        Some(caller),
        "expenditure.created",
        "expenditure",
        row.id,
        None::<&()>,
        Some(&view),
    )
    .await?;
    Ok(view)
}

/// The expenditure and its grant, as the caller may see them (404 otherwise).
async fn visible_expenditure(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    id: Uuid,
) -> Result<(ExpenditureRow, GrantRow), Error> {
    let e = store::expenditure(conn, id).await?;
    let g = visible_grant(conn, caller, e.grant_id).await?;
    Ok((e, g))
}

pub async fn get_expenditure(
    db: &Database,
    caller: &Caller,
    id: Uuid,
) -> Result<ExpenditureView, Error> {
    let mut conn = db.conn().await?;
    let (e, _) = visible_expenditure(&mut conn, caller, id).await?;
    ExpenditureView::from_row(&e)
}

/// Locks the grant then the expenditure for a change by the grantee; a frozen one is 409.
async fn lock_draft_expenditure(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    id: Uuid,
) -> Result<(ExpenditureRow, GrantRow), Error> {
    let (seen, _) = visible_expenditure(conn, caller, id).await?;
    let grant = lock_for_grantee(conn, caller, seen.grant_id).await?;
    let e = store::lock_expenditure(conn, id).await?;
    if let Some(report) = e.report_id {
        return Err(Error::invalid_state(format!(
            "the expenditure is in the submitted financial report {report}; it cannot change"
        )));
    }
    Ok((e, grant))
}

/// Corrects a draft expenditure (409 once it is in a submitted report).
pub async fn update_expenditure(
    db: &Database,
    caller: &Caller,
    id: Uuid,
    patch: ExpenditurePatch,
) -> Result<ExpenditureView, Error> {
    run_transaction(db, async move |conn| {
        let (before, grant) = lock_draft_expenditure(conn, caller, id).await?;
        let ctx = context(conn, grant).await?;
        let old = ExpenditureView::from_row(&before)?;
        let merged = ExpenditureInput {
            category: patch.category.unwrap_or(old.category),
            description: patch.description.clone().unwrap_or(old.description.clone()),
            amount: patch.amount.unwrap_or(old.amount),
            spent_on: patch.spent_on.unwrap_or(old.spent_on),
            payee: patch.payee.clone().unwrap_or(old.payee.clone()),
            budget_line: patch.budget_line.unwrap_or(old.budget_line),
        };
        check_expenditure(&ctx, &merged)?;
        let row = store::update_expenditure(
            conn,
            id,
            &ExpenditureUpdateForm {
                category: Some(merged.category.as_str().into()),
                budget_line_id: Some(merged.budget_line),
                description: Some(merged.description.trim().to_string()),
                amount: Some(merged.amount.amount()),
                spent_on: Some(merged.spent_on),
                payee: Some(merged.payee.trim().to_string()),
                updated_at: Some(Utc::now()),
            },
        )
        .await?;
        let view = ExpenditureView::from_row(&row)?;
        super::audit(
            conn,
            Some(caller),
            "expenditure.updated",
            "expenditure",
            id,
            Some(&old),
            Some(&view),
        )
        .await?;
        Ok(view)
    })
    .await
}

/// Deletes a draft expenditure and its attachments (409 once it is in a submitted report).
pub async fn delete_expenditure(db: &Database, caller: &Caller, id: Uuid) -> Result<(), Error> {
    run_transaction(db, async move |conn| {
        let (before, _) = lock_draft_expenditure(conn, caller, id).await?;
        super::attachments::delete_all_of(conn, caller, "expenditure", id).await?;
        store::delete_expenditure(conn, id).await?;
        super::audit(
            conn,
            Some(caller),
            "expenditure.deleted",
            "expenditure",
            id,
            Some(&ExpenditureView::from_row(&before)?),
            None::<&()>,
        )
        .await?;
        Ok(())
    })
    .await
}

/// A page of the grant's expenditures (the grant as the caller may see it).
pub async fn list_expenditures(
    db: &Database,
    caller: &Caller,
    grant_id: Uuid,
    filter: &ExpenditureFilter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<ExpenditureView>, Error> {
    let mut conn = db.conn().await?;
    let grant = visible_grant(&mut conn, caller, grant_id).await?;
    let rows = store::list_expenditures(&mut conn, grant.id, filter, after, limit).await?;
    rows.iter().map(ExpenditureView::from_row).collect()
}

// ---------------------------------------------------------------- budget execution

/// The budget execution of a grant as of a moment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BudgetExecutionView {
    pub grant_id: Uuid,
    /// Which approved budget it is judged against (1: the application's).
    pub budget_version: i32,
    pub as_of: DateTime<Utc>,
    #[serde(flatten)]
    pub execution: Execution,
}

fn spends(rows: &[SpendRow]) -> Result<Vec<Spend>, Error> {
    rows.iter()
        .map(|(_, c, l, a)| {
            Ok(Spend {
                category: parse_text(c)?,
                budget_line: *l,
                amount: *a,
            })
        })
        .collect()
}

async fn execution_of(
    conn: &mut AsyncPgConnection,
    ctx: &GrantContext,
) -> Result<BudgetExecutionView, Error> {
    let rows = store::spending_of(conn, &[ctx.grant.id]).await?;
    Ok(BudgetExecutionView {
        grant_id: ctx.grant.id,
        budget_version: ctx.budget_version,
        as_of: Utc::now(),
        execution: execution(&ctx.budget, &spends(&rows)?, ctx.execution_rules()),
    })
}

/// Budget against spending for the grant (admin, finance, the grantee).
pub async fn budget_execution(
    db: &Database,
    caller: &Caller,
    grant_id: Uuid,
) -> Result<BudgetExecutionView, Error> {
    let mut conn = db.conn().await?;
    let grant = visible_grant(&mut conn, caller, grant_id).await?;
    let ctx = context(&mut conn, grant).await?;
    execution_of(&mut conn, &ctx).await
}

/// The execution of each grant (for the ledger): budget per category against spending.
pub async fn executions(
    conn: &mut AsyncPgConnection,
    grant_rows: &[GrantRow],
) -> Result<HashMap<Uuid, Execution>, Error> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let ids: Vec<Uuid> = grant_rows.iter().map(|g| g.id).collect();
    let app_ids: Vec<Uuid> = grant_rows.iter().map(|g| g.application_id).collect();
    let mut lines: HashMap<Uuid, Vec<BudgetLineRow>> = HashMap::new();
    for l in crate::storage::schema::budget_lines::table
        .filter(crate::storage::schema::budget_lines::application_id.eq_any(&app_ids))
        .select(BudgetLineRow::as_select())
        .order(crate::storage::schema::budget_lines::position)
        .load::<BudgetLineRow>(conn)
        .await?
    {
        lines.entry(l.application_id).or_default().push(l);
    }
    let adjusted: HashMap<Uuid, BudgetAdjustmentRow> = store::latest_approved(conn, &ids)
        .await?
        .into_iter()
        .map(|a| (a.grant_id, a))
        .collect();
    let mut spending: HashMap<Uuid, Vec<SpendRow>> = HashMap::new();
    for s in store::spending_of(conn, &ids).await? {
        spending.entry(s.0).or_default().push(s);
    }
    let mut rules: HashMap<Uuid, RoundRules> = HashMap::new();
    let mut out = HashMap::new();
    for g in grant_rows {
        if let std::collections::hash_map::Entry::Vacant(e) = rules.entry(g.round_id) {
            let spec = RoundSpec::from_row(&rounds::get(conn, g.round_id, true).await?)?;
            e.insert(spec.rules);
        }
        let r = &rules[&g.round_id];
        let budget = match adjusted.get(&g.id) {
            Some(a) => adjusted_budget(a)?,
            None => application_budget(lines.get(&g.application_id).map_or(&[][..], |v| v))?,
        };
        let s = spends(spending.get(&g.id).map_or(&[][..], |v| v))?;
        out.insert(
            g.id,
            execution(
                &budget,
                &s,
                ExecutionRules {
                    tolerance: r.budget_adjustment_tolerance,
                    max_personnel_ratio: r.max_personnel_ratio,
                    paid_in: g.paid_total,
                },
            ),
        );
    }
    Ok(out)
}

// ---------------------------------------------------------------- financial reports

/// A report's party section: the activities held, the party members on the team now, whether
/// the declared red project was delivered. Absent fields count as none.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportInput {
    pub period: ReportPeriod,
    pub note: Option<String>,
    #[serde(default)]
    pub party: PartyActual,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FinancialReportView {
    pub id: Uuid,
    pub grant_id: Uuid,
    pub period: ReportPeriod,
    pub status: String,
    /// Expenditures this report froze.
    pub expenditure_count: i32,
    pub period_total: Money,
    /// All spending of the grant when the report was submitted.
    pub cumulative_total: Money,
    /// The budget execution when the report was submitted.
    #[schema(value_type = BudgetExecutionView)]
    pub execution: serde_json::Value,
    /// Party elements held against those planned at application (rule 5).
    #[schema(value_type = PartyComparison)]
    pub party_elements: serde_json::Value,
    pub note: String,
    pub submitted_by: Uuid,
    pub submitted_at: DateTime<Utc>,
    /// On single-report answers: the expenditures it froze.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expenditures: Option<Vec<ExpenditureView>>,
}

impl FinancialReportView {
    pub fn from_row(r: &FinancialReportRow) -> Result<Self, Error> {
        Ok(Self {
            id: r.id,
            grant_id: r.grant_id,
            period: parse_text(&r.period)?,
            status: r.status.clone(),
            expenditure_count: r.expenditure_count,
            period_total: money(r.period_total)?,
            cumulative_total: money(r.cumulative_total)?,
            execution: r.execution.clone(),
            party_elements: r.party_elements.clone(),
            note: r.note.clone(),
            submitted_by: r.submitted_by,
            submitted_at: r.submitted_at,
            expenditures: None,
        })
    }
}

/// The party facts declared at application.
fn party_plan(app: &ApplicationRow) -> PartyPlan {
    let members = app
        .team
        .as_array()
        .map(|t| {
            t.iter()
                .filter(|m| m.get("party_member").and_then(|p| p.as_bool()) == Some(true))
                .count()
        })
        .unwrap_or(0);
    PartyPlan {
        party_members_on_team: members as u32,
        party_activity_count: app.party_activity_count.max(0) as u32,
        party_activity_description: app.party_activity_description.clone(),
        red_project: app.red_project,
    }
}

/// Submits the financial report of a period (the grantee): freezes every expenditure not yet
/// in a report, records the execution and the party elements held against those planned.
/// One report per period; none after the final one.
pub async fn submit_report(
    db: &Database,
    caller: &Caller,
    grant_id: Uuid,
    input: ReportInput,
) -> Result<FinancialReportView, Error> {
    let note = input.note.clone().unwrap_or_default().trim().to_string();
    let mut v = input.party.violations();
    if note.chars().count() > 2000 {
        v.push(
            Violation::new("length", "note has at most 2000 characters")
                .limit(2000)
                .actual(note.chars().count())
                .field("note"),
        );
    }
    if !v.is_empty() {
        return Err(Error::Validation(v));
    }
    run_transaction(db, async move |conn| {
        let grant = lock_for_grantee(conn, caller, grant_id).await?;
        let ctx = context(conn, grant).await?;
        let existing = store::reports_of(conn, grant_id).await?;
        if let Some(r) = existing.iter().find(|r| r.period == input.period.as_str()) {
            return Err(Error::invalid_state(format!(
                "the {} report was submitted at {}",
                input.period, r.submitted_at
            )));
        }
        if input.period == ReportPeriod::MidTerm
            && existing
                .iter()
                .any(|r| r.period == ReportPeriod::Final.as_str())
        {
            return Err(Error::invalid_state(
                "the final report is in; a mid-term report comes before it",
            ));
        }
        let v = spending::check_actual(
            &input.party,
            ctx.project_dates(),
            today_in_china(Utc::now()),
        );
        if !v.is_empty() {
            return Err(Error::Validation(v));
        }
        // Under the grant lock nobody else writes this grant's expenditures, so what is
        // counted here is exactly what is frozen below.
        let snapshot = execution_of(conn, &ctx).await?;
        let drafts = store::list_expenditures(
            conn,
            grant_id,
            &ExpenditureFilter {
                reported: Some(false),
                ..Default::default()
            },
            None,
            i64::MAX,
        )
        .await?;
        let period_total: Decimal = drafts.iter().map(|e| e.amount).sum();
        let party = compare_party(&party_plan(&ctx.application), &input.party);
        let id = Uuid::new_v4();
        let row = store::insert_report(
            conn,
            &FinancialReportRow {
                id,
                grant_id,
                period: input.period.as_str().into(),
                status: "submitted".into(),
                expenditure_count: drafts.len() as i32,
                period_total,
                cumulative_total: snapshot.execution.totals.spent.amount(),
                execution: json(&snapshot)?,
                party_elements: json(&party)?,
                note,
                submitted_by: caller.user_id,
                submitted_at: Utc::now(),
            },
        )
        .await?;
        let frozen = store::freeze_into(conn, grant_id, id).await?;
        if frozen.len() != drafts.len() {
            return Err(internal(format!(
                "report {id}: counted {} expenditures, froze {}",
                drafts.len(),
                frozen.len()
            )));
        }
        let view = FinancialReportView::from_row(&row)?;
        super::audit(
            conn,
            Some(caller),
            "financial_report.submitted",
            "grant",
            grant_id,
            None::<&()>,
            Some(&serde_json::json!({
                "report_id": id, "period": input.period,
                "expenditure_count": row.expenditure_count,
                "period_total": view.period_total, "cumulative_total": view.cumulative_total,
                "expenditures": frozen.iter().map(|e| e.id).collect::<Vec<_>>(),
                "flags": snapshot.execution.flags.iter().map(|f| &f.rule).collect::<Vec<_>>(),
                "party_gaps": party.gaps,
            })),
        )
        .await?;
        Ok(view)
    })
    .await
}

pub async fn list_reports(
    db: &Database,
    caller: &Caller,
    grant_id: Uuid,
) -> Result<Vec<FinancialReportView>, Error> {
    let mut conn = db.conn().await?;
    let grant = visible_grant(&mut conn, caller, grant_id).await?;
    store::reports_of(&mut conn, grant.id)
        .await?
        .iter()
        .map(FinancialReportView::from_row)
        .collect()
}

/// One report with the expenditures it froze.
pub async fn get_report(
    db: &Database,
    caller: &Caller,
    id: Uuid,
) -> Result<FinancialReportView, Error> {
    let mut conn = db.conn().await?;
    let row = store::report(&mut conn, id).await?;
    visible_grant(&mut conn, caller, row.grant_id).await?;
    let items = store::list_expenditures(
        &mut conn,
        row.grant_id,
        &ExpenditureFilter {
            report_id: Some(id),
            ..Default::default()
        },
        None,
        i64::MAX,
    )
    .await?;
    let mut view = FinancialReportView::from_row(&row)?;
    view.expenditures = Some(
        items
            .iter()
            .map(ExpenditureView::from_row)
            .collect::<Result<_, _>>()?,
    );
    Ok(view)
}

/// With the round's `require_financial_report`, an evaluation milestone needs the submitted
/// report of its period (422 `financial_report_required`). Called by
/// `service::grants::record_milestone` under the grant lock.
pub async fn check_report_for_milestone(
    conn: &mut AsyncPgConnection,
    rules: &RoundRules,
    grant_id: Uuid,
    milestone: Milestone,
) -> Result<(), Error> {
    if !rules.require_financial_report {
        return Ok(());
    }
    let period = match milestone {
        Milestone::MidTermEvaluation => ReportPeriod::MidTerm,
        Milestone::FinalEvaluation => ReportPeriod::Final,
        Milestone::AgreementSigned => return Ok(()),
    };
    if store::has_report(conn, grant_id, period.as_str()).await? {
        return Ok(());
    }
    Err(Error::RuleViolation(vec![Violation::new(
        "financial_report_required",
        format!("the round requires the grantee's submitted {period} financial report before this evaluation"),
    )
    .limit(format!("a submitted {period} report"))
    .actual("none")
    .field("milestone")]))
}

// ---------------------------------------------------------------- budget adjustments

crate::string_enum! {
    pub enum AdjustmentStatus {
        Proposed = "proposed",
        Approved = "approved",
        Rejected = "rejected",
    }
}

/// Moving amounts between the grant's budget lines, with a reason.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentInput {
    pub reason: String,
    pub moves: Vec<BudgetMove>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentDecision {
    /// Required to reject; optional to approve.
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdjustmentView {
    pub id: Uuid,
    pub grant_id: Uuid,
    pub status: AdjustmentStatus,
    pub reason: String,
    pub moves: Vec<BudgetMove>,
    /// The whole budget after the moves (recomputed on approval).
    pub lines: Vec<BudgetLineAmount>,
    /// The budget version an approval made (2 for the first).
    pub version: Option<i32>,
    pub proposed_by: Uuid,
    pub proposed_at: DateTime<Utc>,
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
}

impl AdjustmentView {
    pub fn from_row(r: &BudgetAdjustmentRow) -> Result<Self, Error> {
        Ok(Self {
            id: r.id,
            grant_id: r.grant_id,
            status: parse_text(&r.status)?,
            reason: r.reason.clone(),
            moves: serde_json::from_value(r.moves.clone()).map_err(internal)?,
            lines: adjusted_budget(r)?,
            version: r.version,
            proposed_by: r.proposed_by,
            proposed_at: r.proposed_at,
            decided_by: r.decided_by,
            decided_at: r.decided_at,
            decision_note: r.decision_note.clone(),
        })
    }
}

/// The budget after the moves, with every rule re-checked: the moves themselves (422
/// `validation_failed`), then the personnel share and the unchanged totals (422
/// `rule_violation`).
fn adjusted(ctx: &GrantContext, moves: &[BudgetMove]) -> Result<Vec<BudgetLineAmount>, Error> {
    let after = apply_moves(&ctx.budget, moves).map_err(Error::Validation)?;
    let v = check_adjusted(&ctx.budget, &after, ctx.rules.max_personnel_ratio);
    if !v.is_empty() {
        return Err(Error::RuleViolation(v));
    }
    Ok(after)
}

/// Proposes an adjustment: the grantee's applicants, or an admin on their behalf.
pub async fn propose_adjustment(
    db: &Database,
    caller: &Caller,
    grant_id: Uuid,
    input: AdjustmentInput,
) -> Result<AdjustmentView, Error> {
    let mut v = Vec::new();
    check_text(&input.reason, "reason", 2000, &mut v);
    if !v.is_empty() {
        return Err(Error::Validation(v));
    }
    run_transaction(db, async move |conn| {
        let visible = visible_grant(conn, caller, grant_id).await?;
        if !matches!(caller.role, Role::Applicant | Role::Admin) {
            return Err(Error::forbidden(
                "budget adjustments are proposed by the grantee or an admin",
            ));
        }
        let grant = grants::lock(conn, visible.id).await?;
        require_active(&grant)?;
        let ctx = context(conn, grant).await?;
        let after = adjusted(&ctx, &input.moves)?;
        let row = store::insert_adjustment(
            conn,
            &BudgetAdjustmentRow {
                id: Uuid::new_v4(),
                grant_id,
                status: AdjustmentStatus::Proposed.as_str().into(),
                reason: input.reason.trim().to_string(),
                moves: json(&input.moves)?,
                lines: json(&after)?,
                version: None,
                proposed_by: caller.user_id,
                proposed_at: Utc::now(),
                decided_by: None,
                decided_at: None,
                decision_note: None,
            },
        )
        .await?;
        let view = AdjustmentView::from_row(&row)?;
        super::audit(
            conn,
            Some(caller),
            "budget_adjustment.proposed",
            "budget_adjustment",
            row.id,
            Some(&serde_json::json!({"budget_version": ctx.budget_version, "lines": ctx.budget})),
            Some(&view),
        )
        .await?;
        Ok(view)
    })
    .await
}

/// Approves (a new budget version, every rule re-checked on the budget as it is now) or
/// rejects (with a reason) a proposed adjustment. Admins only; with the round's
/// `adjustment_needs_other_admin` (default) an admin does not decide an adjustment they
/// proposed themselves (403 `self_approval_forbidden`).
pub async fn decide_adjustment(
    db: &Database,
    caller: &Caller,
    id: Uuid,
    approve: bool,
    decision: AdjustmentDecision,
) -> Result<AdjustmentView, Error> {
    let note = decision
        .note
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    let mut v = Vec::new();
    match &note {
        None if !approve => {
            v.push(Violation::new("required", "a rejection gives its reason").field("note"))
        }
        Some(n) => check_text(n, "note", 2000, &mut v),
        None => {}
    }
    if !v.is_empty() {
        return Err(Error::Validation(v));
    }
    run_transaction(db, async move |conn| {
        let seen = store::adjustment(conn, id).await?;
        let visible = visible_grant(conn, caller, seen.grant_id).await?;
        if caller.role != Role::Admin {
            return Err(Error::forbidden(
                "budget adjustments are decided by an admin",
            ));
        }
        // The grant lock serializes every adjustment and expenditure of the grant.
        let grant = grants::lock(conn, visible.id).await?;
        let adj = store::adjustment(conn, id).await?;
        let status: AdjustmentStatus = parse_text(&adj.status)?;
        if status != AdjustmentStatus::Proposed {
            return Err(Error::invalid_state(format!(
                "the adjustment is {status}; only a proposed one is decided"
            )));
        }
        let ctx = context(conn, grant).await?;
        if ctx.rules.adjustment_needs_other_admin && adj.proposed_by == caller.user_id {
            return Err(Error::Forbidden {
                code: "self_approval_forbidden",
                detail: "an adjustment an admin proposed is decided by another admin".into(),
            });
        }
        let now = Utc::now();
        let mut form = BudgetAdjustmentUpdateForm {
            decided_by: Some(Some(caller.user_id)),
            decided_at: Some(Some(now)),
            decision_note: Some(note.clone()),
            ..Default::default()
        };
        if approve {
            require_active(&ctx.grant)?;
            let moves: Vec<BudgetMove> =
                serde_json::from_value(adj.moves.clone()).map_err(internal)?;
            // Re-checked on the budget as it is now: another adjustment may have been
            // approved since this one was proposed.
            let after = match adjusted(&ctx, &moves) {
                Ok(a) => a,
                Err(Error::Validation(v)) => return Err(Error::RuleViolation(v)),
                Err(e) => return Err(e),
            };
            form.status = Some(AdjustmentStatus::Approved.as_str().into());
            form.lines = Some(json(&after)?);
            form.version = Some(Some(ctx.budget_version + 1));
        } else {
            form.status = Some(AdjustmentStatus::Rejected.as_str().into());
        }
        let row = store::update_adjustment(conn, id, &form).await?;
        let view = AdjustmentView::from_row(&row)?;
        super::audit(
            conn,
            Some(caller),
            if approve {
                "budget_adjustment.approved"
            } else {
                "budget_adjustment.rejected"
            },
            "budget_adjustment",
            id,
            Some(&serde_json::json!({
                "status": status, "budget_version": ctx.budget_version, "lines": ctx.budget,
            })),
            Some(&view),
        )
        .await?;
        Ok(view)
    })
    .await
}

pub async fn list_adjustments(
    db: &Database,
    caller: &Caller,
    grant_id: Uuid,
    status: Option<AdjustmentStatus>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<AdjustmentView>, Error> {
    let mut conn = db.conn().await?;
    let grant = visible_grant(&mut conn, caller, grant_id).await?;
    store::list_adjustments(
        &mut conn,
        grant.id,
        status.map(|s| s.as_str()),
        after,
        limit,
    )
    .await?
    .iter()
    .map(AdjustmentView::from_row)
    .collect()
}
