//! Expenditures, financial reports and budget adjustments of grants: rows, forms, queries.
//! Visibility is the grant's: callers fetch the grant within their scope first.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::schema::{budget_adjustments, expenditures, financial_reports};
use super::StorageResult;

// ---------------------------------------------------------------- expenditures

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = expenditures, check_for_backend(diesel::pg::Pg))]
pub struct ExpenditureRow {
    pub id: Uuid,
    pub grant_id: Uuid,
    pub category: String,
    pub budget_line_id: Option<Uuid>,
    pub description: String,
    pub amount: Decimal,
    pub spent_on: NaiveDate,
    pub payee: String,
    pub report_id: Option<Uuid>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = expenditures)]
pub struct ExpenditureInsertForm {
    pub id: Uuid,
    pub grant_id: Uuid,
    pub category: String,
    pub budget_line_id: Option<Uuid>,
    pub description: String,
    pub amount: Decimal,
    pub spent_on: NaiveDate,
    pub payee: String,
    pub created_by: Uuid,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = expenditures)]
pub struct ExpenditureUpdateForm {
    pub category: Option<String>,
    pub budget_line_id: Option<Option<Uuid>>,
    pub description: Option<String>,
    pub amount: Option<Decimal>,
    pub spent_on: Option<NaiveDate>,
    pub payee: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

pub async fn insert_expenditure(
    conn: &mut AsyncPgConnection,
    form: &ExpenditureInsertForm,
) -> StorageResult<ExpenditureRow> {
    Ok(diesel::insert_into(expenditures::table)
        .values(form)
        .returning(ExpenditureRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn expenditure(conn: &mut AsyncPgConnection, id: Uuid) -> StorageResult<ExpenditureRow> {
    Ok(expenditures::table
        .find(id)
        .select(ExpenditureRow::as_select())
        .first(conn)
        .await?)
}

pub async fn lock_expenditure(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> StorageResult<ExpenditureRow> {
    Ok(expenditures::table
        .find(id)
        .select(ExpenditureRow::as_select())
        .for_update()
        .first(conn)
        .await?)
}

pub async fn update_expenditure(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    form: &ExpenditureUpdateForm,
) -> StorageResult<ExpenditureRow> {
    Ok(diesel::update(expenditures::table.find(id))
        .set(form)
        .returning(ExpenditureRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn delete_expenditure(conn: &mut AsyncPgConnection, id: Uuid) -> StorageResult<()> {
    diesel::delete(expenditures::table.find(id))
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Debug, Default)]
pub struct ExpenditureFilter {
    pub category: Option<String>,
    pub budget_line_id: Option<Uuid>,
    /// `Some(true)`: only those in a report; `Some(false)`: only drafts.
    pub reported: Option<bool>,
    pub report_id: Option<Uuid>,
    pub spent_from: Option<NaiveDate>,
    pub spent_to: Option<NaiveDate>,
}

/// A page of a grant's expenditures, oldest recorded first.
pub async fn list_expenditures(
    conn: &mut AsyncPgConnection,
    grant_id: Uuid,
    filter: &ExpenditureFilter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> StorageResult<Vec<ExpenditureRow>> {
    let mut q = expenditures::table
        .filter(expenditures::grant_id.eq(grant_id))
        .select(ExpenditureRow::as_select())
        .into_boxed();
    if let Some(c) = &filter.category {
        q = q.filter(expenditures::category.eq(c.clone()));
    }
    if let Some(l) = filter.budget_line_id {
        q = q.filter(expenditures::budget_line_id.eq(l));
    }
    match filter.reported {
        Some(true) => q = q.filter(expenditures::report_id.is_not_null()),
        Some(false) => q = q.filter(expenditures::report_id.is_null()),
        None => {}
    }
    if let Some(r) = filter.report_id {
        q = q.filter(expenditures::report_id.eq(r));
    }
    if let Some(d) = filter.spent_from {
        q = q.filter(expenditures::spent_on.ge(d));
    }
    if let Some(d) = filter.spent_to {
        q = q.filter(expenditures::spent_on.le(d));
    }
    if let Some((at, id)) = after {
        q = q.filter(expenditures::created_at.ge(at));
        q = q.filter(
            expenditures::created_at
                .gt(at)
                .or(expenditures::created_at.eq(at).and(expenditures::id.gt(id))),
        );
    }
    Ok(q.order((expenditures::created_at, expenditures::id))
        .limit(limit)
        .load(conn)
        .await?)
}

/// (grant, category, budget line, amount) of an expenditure.
pub type SpendRow = (Uuid, String, Option<Uuid>, Decimal);

/// Every expenditure of the grants as the execution needs it.
pub async fn spending_of(
    conn: &mut AsyncPgConnection,
    grant_ids: &[Uuid],
) -> StorageResult<Vec<SpendRow>> {
    Ok(expenditures::table
        .filter(expenditures::grant_id.eq_any(grant_ids))
        .select((
            expenditures::grant_id,
            expenditures::category,
            expenditures::budget_line_id,
            expenditures::amount,
        ))
        .load(conn)
        .await?)
}

/// Freezes every expenditure of the grant not yet in a report into this one; returns them.
pub async fn freeze_into(
    conn: &mut AsyncPgConnection,
    grant_id: Uuid,
    report_id: Uuid,
) -> StorageResult<Vec<ExpenditureRow>> {
    Ok(diesel::update(
        expenditures::table
            .filter(expenditures::grant_id.eq(grant_id))
            .filter(expenditures::report_id.is_null()),
    )
    .set(expenditures::report_id.eq(report_id))
    .returning(ExpenditureRow::as_returning())
    .get_results(conn)
    .await?)
}

// ---------------------------------------------------------------- financial reports

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = financial_reports, check_for_backend(diesel::pg::Pg))]
pub struct FinancialReportRow {
    pub id: Uuid,
    pub grant_id: Uuid,
    pub period: String,
    pub status: String,
    pub expenditure_count: i32,
    pub period_total: Decimal,
    pub cumulative_total: Decimal,
    pub execution: serde_json::Value,
    pub party_elements: serde_json::Value,
    pub note: String,
    pub submitted_by: Uuid,
    pub submitted_at: DateTime<Utc>,
}

pub async fn insert_report(
    conn: &mut AsyncPgConnection,
    row: &FinancialReportRow,
) -> StorageResult<FinancialReportRow> {
    Ok(diesel::insert_into(financial_reports::table)
        .values(row)
        .returning(FinancialReportRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn reports_of(
    conn: &mut AsyncPgConnection,
    grant_id: Uuid,
) -> StorageResult<Vec<FinancialReportRow>> {
    Ok(financial_reports::table
        .filter(financial_reports::grant_id.eq(grant_id))
        .select(FinancialReportRow::as_select())
        .order((financial_reports::submitted_at, financial_reports::id))
        .load(conn)
        .await?)
}

pub async fn report(conn: &mut AsyncPgConnection, id: Uuid) -> StorageResult<FinancialReportRow> {
    Ok(financial_reports::table
        .find(id)
        .select(FinancialReportRow::as_select())
        .first(conn)
        .await?)
}

/// Whether the grant has a submitted report of the period.
pub async fn has_report(
    conn: &mut AsyncPgConnection,
    grant_id: Uuid,
    period: &str,
) -> StorageResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        financial_reports::table
            .filter(financial_reports::grant_id.eq(grant_id))
            .filter(financial_reports::period.eq(period))
            .filter(financial_reports::status.eq("submitted")),
    ))
    .get_result(conn)
    .await?)
}

// ---------------------------------------------------------------- budget adjustments

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = budget_adjustments, check_for_backend(diesel::pg::Pg))]
pub struct BudgetAdjustmentRow {
    pub id: Uuid,
    pub grant_id: Uuid,
    pub status: String,
    pub reason: String,
    pub moves: serde_json::Value,
    pub lines: serde_json::Value,
    pub version: Option<i32>,
    pub proposed_by: Uuid,
    pub proposed_at: DateTime<Utc>,
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = budget_adjustments)]
pub struct BudgetAdjustmentUpdateForm {
    pub status: Option<String>,
    pub lines: Option<serde_json::Value>,
    pub version: Option<Option<i32>>,
    pub decided_by: Option<Option<Uuid>>,
    pub decided_at: Option<Option<DateTime<Utc>>>,
    pub decision_note: Option<Option<String>>,
}

pub async fn insert_adjustment(
    conn: &mut AsyncPgConnection,
    row: &BudgetAdjustmentRow,
) -> StorageResult<BudgetAdjustmentRow> {
    Ok(diesel::insert_into(budget_adjustments::table)
        .values(row)
        .returning(BudgetAdjustmentRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn adjustment(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> StorageResult<BudgetAdjustmentRow> {
    Ok(budget_adjustments::table
        .find(id)
        .select(BudgetAdjustmentRow::as_select())
        .first(conn)
        .await?)
}

pub async fn update_adjustment(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    form: &BudgetAdjustmentUpdateForm,
) -> StorageResult<BudgetAdjustmentRow> {
    Ok(diesel::update(budget_adjustments::table.find(id))
        .set(form)
        .returning(BudgetAdjustmentRow::as_returning())
        .get_result(conn)
        .await?)
}

/// A page of a grant's adjustments, oldest first.
pub async fn list_adjustments(
    conn: &mut AsyncPgConnection,
    grant_id: Uuid,
    status: Option<&str>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> StorageResult<Vec<BudgetAdjustmentRow>> {
    let mut q = budget_adjustments::table
        .filter(budget_adjustments::grant_id.eq(grant_id))
        .select(BudgetAdjustmentRow::as_select())
        .into_boxed();
    if let Some(s) = status {
        q = q.filter(budget_adjustments::status.eq(s.to_string()));
    }
    if let Some((at, id)) = after {
        q = q.filter(budget_adjustments::proposed_at.ge(at));
        q = q.filter(
            budget_adjustments::proposed_at
                .gt(at)
                .or(budget_adjustments::proposed_at
                    .eq(at)
                    .and(budget_adjustments::id.gt(id))),
        );
    }
    Ok(
        q.order((budget_adjustments::proposed_at, budget_adjustments::id))
            .limit(limit)
            .load(conn)
            .await?,
    )
}

/// The latest approved adjustment of each grant (its `lines` are the approved budget).
pub async fn latest_approved(
    conn: &mut AsyncPgConnection,
    grant_ids: &[Uuid],
) -> StorageResult<Vec<BudgetAdjustmentRow>> {
    Ok(budget_adjustments::table
        .filter(budget_adjustments::grant_id.eq_any(grant_ids))
        .filter(budget_adjustments::status.eq("approved"))
        .distinct_on(budget_adjustments::grant_id)
        .select(BudgetAdjustmentRow::as_select())
        .order((
            budget_adjustments::grant_id,
            budget_adjustments::version.desc(),
        ))
        .load(conn)
        .await?)
}
