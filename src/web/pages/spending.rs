//! A grant's spending in the browser: the budget execution (per category and per budget line,
//! totals, the personnel share and the flags), the expenditures with their filters, the
//! grantee's forms (record an expenditure, correct or delete a draft, upload its receipts,
//! submit a financial report, propose a budget adjustment), the admin's decision on an
//! adjustment, a frozen report, and the round's spending for the program office and finance.
//! Every form posts to its API action's path without `/api/v1` and calls the same
//! `service::spending` use case; the expenditure form carries an idempotency key, so sending
//! it twice records one expenditure.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use chrono::{NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use uuid::Uuid;

use crate::domain::budget::BudgetCategory;
use crate::domain::grant::GrantStatus;
use crate::domain::money::Money;
use crate::domain::spending::{
    BudgetMove, ExecutionFlag, HeldActivity, PartyActual, PartyComparison, ReportPeriod,
};
use crate::domain::user::Role;
use crate::domain::violation::Violation;
use crate::http::pagination::{encode_cursor, DEFAULT_LIMIT};
use crate::http::AppState;
use crate::i18n;
use crate::service::attachments::{Owner, OwnerType};
use crate::service::finance;
use crate::service::grants::{GrantView, Idempotency};
use crate::service::spending::{
    self as svc, AdjustmentDecision, AdjustmentInput, AdjustmentStatus, AdjustmentView,
    BudgetExecutionView, ExpenditureInput, ExpenditurePatch, ExpenditureStatus, ExpenditureView,
    FinancialReportView, ReportInput,
};
use crate::service::spending_overview::{self, RoundSpending};
use crate::service::Error;
use crate::storage::spending::ExpenditureFilter;
use crate::web::error::{WebError, WebResult};
use crate::web::form::PostedForm;
use crate::web::page::PageContext;
use crate::web::pages::attachments::{self, AttachmentsSection};
use crate::web::pages::payouts::{fresh_key, page_cursor};
use crate::web::pages::{html, html_status, see_other, FieldErrors};
use crate::web::session::Signed;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(show)
        .service(create_expenditure)
        .service(expenditure_page)
        .service(update_expenditure)
        .service(delete_expenditure)
        .service(submit_report)
        .service(report_page)
        .service(propose_adjustment)
        .service(approve_adjustment)
        .service(reject_adjustment)
        .service(round_page);
}

// ---------------------------------------------------------------- shared helpers

fn percent(p: &Option<Decimal>) -> String {
    p.map(|p| format!("{p:.2}%")).unwrap_or_else(|| "—".into())
}

/// `5000`, `5,000.00` and `¥5000` are the same amount; anything else is for `Money` to judge.
fn parse_amount(text: &str, field: &str) -> Result<Money, Violation> {
    let cleaned: String = text
        .chars()
        .filter(|c| !matches!(c, ',' | '，' | '¥' | '￥') && !c.is_whitespace())
        .collect();
    Money::parse(&cleaned).map_err(|_| {
        Violation::new(
            "schema",
            "an amount in yuan with at most two decimals, like 5000.00",
        )
        .actual(text)
        .field(field)
    })
}

fn parse_date(text: &str, field: &str) -> Result<NaiveDate, Violation> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| Violation::new("schema", "a date like 2026-12-01").field(field))
}

fn opt_uuid(text: &str, field: &str) -> Result<Option<Uuid>, Violation> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    Uuid::parse_str(t)
        .map(Some)
        .map_err(|_| Violation::new("schema", "not a valid id").field(field))
}

/// A flag of the execution in the reader's language, with its numbers.
fn flag_text(page: &PageContext, f: &ExecutionFlag) -> String {
    let yuan = |s: &str| {
        s.parse::<Decimal>()
            .map(crate::web::format::yuan)
            .unwrap_or_else(|_| s.to_string())
    };
    match f.rule.as_str() {
        "category_over_budget" => format!(
            "{}：{}（{} {}，{} {}）",
            f.category
                .map(|c| page.word(c.as_str()))
                .unwrap_or_default(),
            page.t("spending is over its budget by more than the tolerance"),
            page.t("allowed"),
            yuan(&f.limit),
            page.t("spent"),
            yuan(&f.actual),
        ),
        "personnel_ratio" => format!(
            "{}（{} {}，{} {}）",
            page.t("personnel spending exceeds the allowed share of all spending"),
            page.t("allowed"),
            f.limit,
            page.t("actual"),
            f.actual,
        ),
        "spent_above_funds" => format!(
            "{}（{} {}，{} {}）",
            page.t("spending is above what was paid in plus the self-funded budget"),
            page.t("available"),
            yuan(&f.limit),
            page.t("spent"),
            yuan(&f.actual),
        ),
        _ => page.word(&f.message),
    }
}

fn flag_short(page: &PageContext, f: &ExecutionFlag) -> String {
    match f.rule.as_str() {
        "category_over_budget" => format!(
            "{}{}",
            f.category
                .map(|c| page.word(c.as_str()))
                .unwrap_or_default(),
            page.t(" over budget")
        ),
        "personnel_ratio" => page.t("personnel share over the limit").into_owned(),
        "spent_above_funds" => page.t("spent above funds").into_owned(),
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------- the grant's spending page

/// The expenditure form's fields as text.
#[derive(Default, Clone)]
pub struct ExpenditureFields {
    pub category: String,
    pub description: String,
    pub amount: String,
    pub spent_on: String,
    pub payee: String,
    pub budget_line: String,
}

impl ExpenditureFields {
    fn from_form(f: &PostedForm) -> Self {
        Self {
            category: f.text("category"),
            description: f.text("description"),
            amount: f.text("amount"),
            spent_on: f.text("spent_on"),
            payee: f.text("payee"),
            budget_line: f.text("budget_line"),
        }
    }

    fn from_view(e: &ExpenditureView) -> Self {
        Self {
            category: e.category.as_str().into(),
            description: e.description.clone(),
            amount: format!("{:.2}", e.amount.amount()),
            spent_on: e.spent_on.to_string(),
            payee: e.payee.clone(),
            budget_line: e.budget_line.map(|l| l.to_string()).unwrap_or_default(),
        }
    }

    /// The input, or every field's problem at once.
    fn parse(&self) -> Result<ExpenditureInput, Vec<Violation>> {
        let mut v = Vec::new();
        let category = self
            .category
            .parse::<BudgetCategory>()
            .map_err(|_| Violation::new("schema", "choose a budget category").field("category"));
        let amount = parse_amount(&self.amount, "amount");
        let spent_on = parse_date(&self.spent_on, "spent_on");
        let line = opt_uuid(&self.budget_line, "budget_line");
        for e in [
            category.as_ref().err(),
            amount.as_ref().err(),
            spent_on.as_ref().err(),
            line.as_ref().err(),
        ]
        .into_iter()
        .flatten()
        {
            v.push(e.clone());
        }
        match (category, amount, spent_on, line) {
            (Ok(category), Ok(amount), Ok(spent_on), Ok(budget_line)) if v.is_empty() => {
                Ok(ExpenditureInput {
                    category,
                    description: self.description.clone(),
                    amount,
                    spent_on,
                    payee: self.payee.clone(),
                    budget_line,
                })
            }
            _ => Err(v),
        }
    }
}

/// The report form's fields as text: up to `ACTIVITY_ROWS` activities held.
#[derive(Default, Clone)]
pub struct ReportFields {
    pub period: String,
    pub note: String,
    /// (held_on, title, participants)
    pub activities: Vec<(String, String, String)>,
    pub party_members_on_team: String,
    pub red_project_delivered: bool,
}

const ACTIVITY_ROWS: usize = 3;
const MOVE_ROWS: usize = 3;

impl ReportFields {
    fn blank() -> Self {
        Self {
            activities: vec![Default::default(); ACTIVITY_ROWS],
            party_members_on_team: "0".into(),
            ..Default::default()
        }
    }

    fn from_form(f: &PostedForm) -> Self {
        let (dates, titles, people) = (
            f.all("held_on"),
            f.all("activity_title"),
            f.all("participants"),
        );
        let mut activities: Vec<(String, String, String)> = (0..dates.len().max(titles.len()))
            .map(|i| {
                let at = |v: &Vec<&str>| v.get(i).map(|s| s.trim().to_string()).unwrap_or_default();
                (at(&dates), at(&titles), at(&people))
            })
            .collect();
        while activities.len() < ACTIVITY_ROWS {
            activities.push(Default::default());
        }
        Self {
            period: f.text("period"),
            note: f.text("note"),
            activities,
            party_members_on_team: f.text("party_members_on_team"),
            red_project_delivered: f.checked("red_project_delivered"),
        }
    }

    fn parse(&self) -> Result<ReportInput, Vec<Violation>> {
        let mut v = Vec::new();
        let period = self
            .period
            .parse::<ReportPeriod>()
            .map_err(|_| Violation::new("schema", "choose the report's period").field("period"));
        if let Err(e) = &period {
            v.push(e.clone());
        }
        let mut held = Vec::new();
        for (i, (date, title, people)) in self.activities.iter().enumerate() {
            if date.is_empty() && title.is_empty() && people.is_empty() {
                continue;
            }
            let field = format!("party.activities_held[{i}]");
            let held_on = parse_date(date, &format!("{field}.held_on"));
            let participants = if people.is_empty() {
                Ok(0)
            } else {
                people.parse::<u32>().map_err(|_| {
                    Violation::new("schema", "a whole number of people")
                        .field(format!("{field}.participants"))
                })
            };
            match (held_on, participants) {
                (Ok(held_on), Ok(participants)) => held.push(HeldActivity {
                    held_on,
                    title: title.clone(),
                    participants,
                }),
                (a, b) => {
                    v.extend(a.err());
                    v.extend(b.err());
                }
            }
        }
        let members = if self.party_members_on_team.trim().is_empty() {
            Ok(0)
        } else {
            self.party_members_on_team
                .trim()
                .parse::<u32>()
                .map_err(|_| {
                    Violation::new("schema", "a whole number of people")
                        .field("party.party_members_on_team")
                })
        };
        if let Err(e) = &members {
            v.push(e.clone());
        }
        match (period, members) {
            (Ok(period), Ok(members)) if v.is_empty() => Ok(ReportInput {
                period,
                note: (!self.note.is_empty()).then(|| self.note.clone()),
                party: PartyActual {
                    activities_held: held,
                    party_members_on_team: members,
                    red_project_delivered: self.red_project_delivered,
                },
            }),
            _ => Err(v),
        }
    }
}

/// The adjustment form's fields as text.
#[derive(Default, Clone)]
pub struct AdjustmentFields {
    pub reason: String,
    /// (from_line, to_line, amount)
    pub moves: Vec<(String, String, String)>,
}

impl AdjustmentFields {
    fn blank() -> Self {
        Self {
            reason: String::new(),
            moves: vec![Default::default(); MOVE_ROWS],
        }
    }

    fn from_form(f: &PostedForm) -> Self {
        let (from, to, amounts) = (f.all("from_line"), f.all("to_line"), f.all("move_amount"));
        let n = from.len().max(to.len()).max(amounts.len());
        let mut moves: Vec<(String, String, String)> = (0..n)
            .map(|i| {
                let at = |v: &Vec<&str>| v.get(i).map(|s| s.trim().to_string()).unwrap_or_default();
                (at(&from), at(&to), at(&amounts))
            })
            .collect();
        while moves.len() < MOVE_ROWS {
            moves.push(Default::default());
        }
        Self {
            reason: f.text("reason"),
            moves,
        }
    }

    fn parse(&self) -> Result<AdjustmentInput, Vec<Violation>> {
        let mut v = Vec::new();
        let mut moves = Vec::new();
        for (i, (from, to, amount)) in self.moves.iter().enumerate() {
            if from.is_empty() && to.is_empty() && amount.is_empty() {
                continue;
            }
            let f = opt_uuid(from, &format!("moves[{i}].from_line"));
            let t = opt_uuid(to, &format!("moves[{i}].to_line"));
            let a = parse_amount(amount, &format!("moves[{i}].amount"));
            match (f, t, a) {
                (Ok(Some(from_line)), Ok(Some(to_line)), Ok(amount)) => moves.push(BudgetMove {
                    from_line,
                    to_line,
                    amount,
                }),
                (f, t, a) => {
                    let missing = |r: Result<Option<Uuid>, Violation>, field: &str| match r {
                        Ok(Some(_)) => None,
                        Ok(None) => Some(
                            Violation::new("required", "choose a budget line")
                                .field(format!("moves[{i}].{field}")),
                        ),
                        Err(e) => Some(e),
                    };
                    v.extend(missing(f, "from_line"));
                    v.extend(missing(t, "to_line"));
                    v.extend(a.err());
                }
            }
        }
        if moves.is_empty() && v.is_empty() {
            v.push(Violation::new("required", "an adjustment has 1 to 50 moves").field("moves"));
        }
        if v.is_empty() {
            Ok(AdjustmentInput {
                reason: self.reason.clone(),
                moves,
            })
        } else {
            Err(v)
        }
    }
}

/// Which form a refusal belongs to.
#[derive(Default, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    #[default]
    None,
    Expenditure,
    Report,
    Adjustment,
    Decision(Uuid),
}

#[derive(Default)]
struct Posted {
    failed: Failed,
    errors: FieldErrors,
    expenditure: Option<ExpenditureFields>,
    report: Option<ReportFields>,
    adjustment: Option<AdjustmentFields>,
    decision_note: String,
    notice: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct SpendingQuery {
    category: Option<String>,
    status: Option<String>,
    cursor: Option<String>,
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "spending.html")]
struct SpendingTemplate {
    page: PageContext,
    g: GrantView,
    round_name: String,
    ex: BudgetExecutionView,
    expenditures: Vec<ExpenditureView>,
    next: Option<String>,
    filter_category: String,
    filter_status: String,
    reports: Vec<FinancialReportView>,
    adjustments: Vec<AdjustmentView>,
    /// The grantee's applicant on an active grant: the forms that record and report.
    grantee: bool,
    /// An admin on an active grant: proposes on the grantee's behalf and decides.
    admin: bool,
    staff: bool,
    failed: Failed,
    errors: FieldErrors,
    expenditure: ExpenditureFields,
    report: ReportFields,
    adjustment: AdjustmentFields,
    decision_note: String,
    /// The expenditure form's key, fresh with every rendering.
    key: String,
    notice: Option<String>,
    today: String,
}

impl SpendingTemplate {
    /// Whether the refusal being shown belongs to this form.
    fn mine(&self, form: &str) -> bool {
        matches!(
            (form, self.failed),
            ("expenditure", Failed::Expenditure)
                | ("report", Failed::Report)
                | ("adjustment", Failed::Adjustment)
        )
    }
    fn errs(&self, form: &str, field: &str) -> Vec<&str> {
        if self.mine(form) {
            self.errors.of(field)
        } else {
            vec![]
        }
    }
    /// Everything refused in a form that has no field of its own on it.
    fn general(&self, form: &str) -> Vec<&str> {
        if !self.mine(form) {
            return vec![];
        }
        let shown: &[&str] = match form {
            "expenditure" => &[
                "category",
                "description",
                "amount",
                "spent_on",
                "payee",
                "budget_line",
            ],
            "report" => &["period", "note"],
            _ => &["reason"],
        };
        self.errors
            .general
            .iter()
            .map(String::as_str)
            .chain(
                self.errors
                    .by_field
                    .iter()
                    .filter(|(f, _)| !shown.contains(&f.as_str()))
                    .map(|(_, m)| m.as_str()),
            )
            .collect()
    }
    fn decision_errors(&self, id: &Uuid) -> Vec<&str> {
        if self.failed == Failed::Decision(*id) {
            self.errors.all()
        } else {
            vec![]
        }
    }
    fn categories(&self) -> Vec<&'static str> {
        BudgetCategory::ALL.iter().map(|c| c.as_str()).collect()
    }
    fn statuses(&self) -> Vec<&'static str> {
        ExpenditureStatus::ALL.iter().map(|s| s.as_str()).collect()
    }
    fn periods_open(&self) -> Vec<&'static str> {
        let done: Vec<ReportPeriod> = self.reports.iter().map(|r| r.period).collect();
        if done.contains(&ReportPeriod::Final) {
            return vec![];
        }
        ReportPeriod::ALL
            .iter()
            .filter(|p| !done.contains(p))
            .map(|p| p.as_str())
            .collect()
    }
    fn line_label(&self, id: &Option<Uuid>) -> String {
        match id {
            None => "—".into(),
            Some(id) => self
                .ex
                .execution
                .lines
                .iter()
                .find(|l| l.budget_line == *id)
                .map(|l| format!("{}. {}", l.position + 1, l.description))
                .unwrap_or_else(|| "—".into()),
        }
    }
    fn line_options(&self) -> Vec<(String, String)> {
        self.ex
            .execution
            .lines
            .iter()
            .map(|l| {
                (
                    l.budget_line.to_string(),
                    format!(
                        "{}. {} · {} · {}",
                        l.position + 1,
                        self.page.word(l.category.as_str()),
                        l.description,
                        self.page.yuan(l.budget)
                    ),
                )
            })
            .collect()
    }
    fn pct(&self, p: &Option<Decimal>) -> String {
        percent(p)
    }
    fn flag(&self, f: &ExecutionFlag) -> String {
        flag_text(&self.page, f)
    }
    fn move_text(&self, m: &BudgetMove) -> String {
        format!(
            "{} → {} · {}",
            self.line_label(&Some(m.from_line)),
            self.line_label(&Some(m.to_line)),
            self.page.yuan(m.amount)
        )
    }
    fn is_proposed(&self, a: &AdjustmentView) -> bool {
        a.status == AdjustmentStatus::Proposed
    }
}

fn spending_notice(done: Option<&str>) -> Option<String> {
    let en = match done? {
        "recorded" => "Expenditure recorded.",
        "replayed" => {
            "This form had already been sent; this is its result. Nothing new was recorded."
        }
        "updated" => "Expenditure corrected.",
        "deleted" => "Expenditure deleted.",
        "reported" => "Financial report submitted. The expenditures in it are frozen.",
        "proposed" => "Budget adjustment proposed. An admin decides it.",
        "approved" => "Budget adjustment approved: the budget is updated.",
        "rejected" => "Budget adjustment rejected.",
        other => return attachments::done_notice(Some(other)),
    };
    Some(i18n::text(i18n::current(), en))
}

async fn render_spending(
    state: &AppState,
    s: &Signed,
    id: Uuid,
    q: &SpendingQuery,
    posted: Posted,
    status: StatusCode,
) -> WebResult<HttpResponse> {
    let caller = &s.0.caller;
    let gp = finance::grant_page(&state.db, caller, id).await?;
    let ex = svc::budget_execution(&state.db, caller, id).await?;
    let text = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
    };
    let category = match text(&q.category) {
        Some(c) => Some(
            c.parse::<BudgetCategory>()
                .map_err(|_| {
                    Error::invalid(
                        Violation::new("schema", "choose a budget category").field("category"),
                    )
                })?
                .as_str()
                .to_string(),
        ),
        None => None,
    };
    let ex_status = match text(&q.status) {
        Some(st) => Some(st.parse::<ExpenditureStatus>().map_err(|_| {
            Error::invalid(Violation::new("schema", "not an expenditure status").field("status"))
        })?),
        None => None,
    };
    let filter = ExpenditureFilter {
        category: category.clone(),
        reported: ex_status.map(|s| s == ExpenditureStatus::Reported),
        ..Default::default()
    };
    let after = page_cursor(text(&q.cursor).as_deref())?;
    let mut expenditures =
        svc::list_expenditures(&state.db, caller, id, &filter, after, DEFAULT_LIMIT + 1).await?;
    let next = if expenditures.len() as i64 > DEFAULT_LIMIT {
        expenditures.truncate(DEFAULT_LIMIT as usize);
        expenditures.last().map(|e| {
            let mut params = vec![];
            if let Some(c) = &category {
                params.push(format!("category={c}"));
            }
            if let Some(st) = ex_status {
                params.push(format!("status={st}"));
            }
            params.push(format!("cursor={}", encode_cursor((e.created_at, e.id))));
            format!("/grants/{id}/spending?{}#expenditures", params.join("&"))
        })
    } else {
        None
    };
    let reports = svc::list_reports(&state.db, caller, id).await?;
    let adjustments = svc::list_adjustments(&state.db, caller, id, None, None, 200).await?;
    let active = gp.grant.status == GrantStatus::Active;
    let page = PageContext::new(&s.0, &state.settings.web.time_zone);
    let today = Utc::now().with_timezone(&page.tz).date_naive().to_string();
    let notice = posted
        .notice
        .clone()
        .or_else(|| spending_notice(q.done.as_deref()));
    html_status(
        status,
        &SpendingTemplate {
            round_name: gp.round_name,
            g: gp.grant,
            ex,
            expenditures,
            next,
            filter_category: category.unwrap_or_default(),
            filter_status: ex_status
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            reports,
            adjustments,
            grantee: active && caller.is(Role::Applicant),
            admin: active && caller.is(Role::Admin),
            staff: caller.is(Role::Admin) || caller.is(Role::Finance),
            failed: posted.failed,
            errors: posted.errors,
            expenditure: posted.expenditure.unwrap_or_else(|| ExpenditureFields {
                spent_on: today.clone(),
                ..Default::default()
            }),
            report: posted.report.unwrap_or_else(ReportFields::blank),
            adjustment: posted.adjustment.unwrap_or_else(AdjustmentFields::blank),
            decision_note: posted.decision_note,
            key: fresh_key(),
            notice,
            today,
            page,
        },
    )
}

#[get("/grants/{id}/spending")]
pub async fn show(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
    q: web::Query<SpendingQuery>,
) -> WebResult<HttpResponse> {
    render_spending(
        &state,
        &s,
        path.into_inner(),
        &q,
        Posted::default(),
        StatusCode::OK,
    )
    .await
}

/// A refusal someone can correct comes back beside the form's fields; others (403, 404,
/// 409) are the error page.
async fn refused_on_spending(
    state: &AppState,
    s: &Signed,
    id: Uuid,
    e: Error,
    mut posted: Posted,
) -> WebResult<HttpResponse> {
    match FieldErrors::from_error(&e) {
        Some(errors) => {
            posted.errors = errors;
            let status = crate::http::error::status_of(&e);
            render_spending(state, s, id, &SpendingQuery::default(), posted, status).await
        }
        None => Err(WebError::Service(e)),
    }
}

#[post("/grants/{id}/expenditures")]
pub async fn create_expenditure(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    s.0.caller.require(crate::auth::roles::APPLICANT)?;
    let id = path.into_inner();
    let fields = ExpenditureFields::from_form(&form);
    let posted = |fields: &ExpenditureFields| Posted {
        failed: Failed::Expenditure,
        expenditure: Some(fields.clone()),
        ..Default::default()
    };
    let input = match fields.parse() {
        Ok(i) => i,
        Err(v) => {
            return refused_on_spending(&state, &s, id, Error::Validation(v), posted(&fields)).await
        }
    };
    let key = form
        .get("idempotency_key")
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            Error::bad_request(
                "idempotency_key_required",
                "the form has no idempotency key; reload the page",
            )
        })?;
    let idem = Idempotency::new(key, &format!("POST /grants/{id}/expenditures"), &input)?;
    match svc::create_expenditure_once(&state.db, &s.0.caller, id, input, idem).await {
        Ok((view, replayed)) => {
            let done = if replayed { "replayed" } else { "recorded" };
            Ok(see_other(&format!("/expenditures/{}?done={done}", view.id)))
        }
        Err(e) => refused_on_spending(&state, &s, id, e, posted(&fields)).await,
    }
}

#[post("/grants/{id}/financial-reports")]
pub async fn submit_report(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    s.0.caller.require(crate::auth::roles::APPLICANT)?;
    let id = path.into_inner();
    let fields = ReportFields::from_form(&form);
    let posted = Posted {
        failed: Failed::Report,
        report: Some(fields.clone()),
        ..Default::default()
    };
    let input = match fields.parse() {
        Ok(i) => i,
        Err(v) => return refused_on_spending(&state, &s, id, Error::Validation(v), posted).await,
    };
    match svc::submit_report(&state.db, &s.0.caller, id, input).await {
        Ok(r) => Ok(see_other(&format!(
            "/financial-reports/{}?done=reported",
            r.id
        ))),
        Err(e) => refused_on_spending(&state, &s, id, e, posted).await,
    }
}

#[post("/grants/{id}/budget-adjustments")]
pub async fn propose_adjustment(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    s.0.caller.require(crate::auth::roles::ADMIN_OR_APPLICANT)?;
    let id = path.into_inner();
    let fields = AdjustmentFields::from_form(&form);
    let posted = Posted {
        failed: Failed::Adjustment,
        adjustment: Some(fields.clone()),
        ..Default::default()
    };
    let input = match fields.parse() {
        Ok(i) => i,
        Err(v) => return refused_on_spending(&state, &s, id, Error::Validation(v), posted).await,
    };
    match svc::propose_adjustment(&state.db, &s.0.caller, id, input).await {
        Ok(_) => Ok(see_other(&format!(
            "/grants/{id}/spending?done=proposed#adjustments"
        ))),
        Err(e) => refused_on_spending(&state, &s, id, e, posted).await,
    }
}

async fn decide(
    state: &AppState,
    s: &Signed,
    id: Uuid,
    approve: bool,
    form: &PostedForm,
) -> WebResult<HttpResponse> {
    s.0.caller.require(crate::auth::roles::ADMIN)?;
    let note = form.text("note");
    let decision = AdjustmentDecision {
        note: (!note.is_empty()).then(|| note.clone()),
    };
    // The grant of the adjustment, for the page to go back to (404 when not visible).
    let grant_id = form
        .get("grant_id")
        .and_then(|g| Uuid::parse_str(g).ok())
        .ok_or(WebError::Service(Error::NotFound))?;
    match svc::decide_adjustment(&state.db, &s.0.caller, id, approve, decision).await {
        Ok(a) => {
            let done = if approve { "approved" } else { "rejected" };
            Ok(see_other(&format!(
                "/grants/{}/spending?done={done}#adjustments",
                a.grant_id
            )))
        }
        Err(e) => {
            let lang = i18n::current();
            let status = crate::http::error::status_of(&e);
            let errors = match (&e, FieldErrors::from_error(&e)) {
                (_, Some(errors)) => errors,
                // Self-approval and a decided adjustment: said beside its form too.
                (Error::Forbidden { .. } | Error::Conflict { .. }, None) => FieldErrors {
                    general: vec![i18n::text(lang, &e.to_string())],
                    ..Default::default()
                },
                _ => return Err(WebError::Service(e)),
            };
            let posted = Posted {
                failed: Failed::Decision(id),
                errors,
                decision_note: note,
                ..Default::default()
            };
            render_spending(
                state,
                s,
                grant_id,
                &SpendingQuery::default(),
                posted,
                status,
            )
            .await
        }
    }
}

#[post("/budget-adjustments/{id}/approve")]
pub async fn approve_adjustment(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    decide(&state, &s, path.into_inner(), true, &form).await
}

#[post("/budget-adjustments/{id}/reject")]
pub async fn reject_adjustment(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    decide(&state, &s, path.into_inner(), false, &form).await
}

// ---------------------------------------------------------------- one expenditure

#[derive(Template)]
#[template(path = "expenditure.html")]
struct ExpenditureTemplate {
    page: PageContext,
    e: ExpenditureView,
    g: GrantView,
    ex: BudgetExecutionView,
    /// The grantee on a draft of an active grant.
    editable: bool,
    form: ExpenditureFields,
    errors: FieldErrors,
    att: AttachmentsSection,
    notice: Option<String>,
}

impl ExpenditureTemplate {
    fn field_errors(&self, field: &str) -> Vec<&str> {
        self.errors.of(field)
    }
    fn categories(&self) -> Vec<&'static str> {
        BudgetCategory::ALL.iter().map(|c| c.as_str()).collect()
    }
    fn line_options(&self) -> Vec<(String, String)> {
        self.ex
            .execution
            .lines
            .iter()
            .map(|l| {
                (
                    l.budget_line.to_string(),
                    format!(
                        "{}. {} · {}",
                        l.position + 1,
                        self.page.word(l.category.as_str()),
                        l.description
                    ),
                )
            })
            .collect()
    }
    fn line_label(&self) -> String {
        self.e
            .budget_line
            .and_then(|id| self.ex.execution.lines.iter().find(|l| l.budget_line == id))
            .map(|l| format!("{}. {}", l.position + 1, l.description))
            .unwrap_or_else(|| "—".into())
    }
}

/// The page of one expenditure; `upload_error` is a refused receipt upload.
pub async fn render_expenditure(
    state: &AppState,
    s: &Signed,
    id: Uuid,
    upload_error: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> WebResult<HttpResponse> {
    render_expenditure_with(
        state,
        s,
        id,
        None,
        FieldErrors::default(),
        upload_error,
        notice,
        status,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn render_expenditure_with(
    state: &AppState,
    s: &Signed,
    id: Uuid,
    form: Option<ExpenditureFields>,
    errors: FieldErrors,
    upload_error: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> WebResult<HttpResponse> {
    let caller = &s.0.caller;
    let e = svc::get_expenditure(&state.db, caller, id).await?;
    let gp = finance::grant_page(&state.db, caller, e.grant_id).await?;
    let ex = svc::budget_execution(&state.db, caller, e.grant_id).await?;
    let owner = Owner {
        kind: OwnerType::Expenditure,
        id,
    };
    let att = attachments::section(state, s, owner, upload_error).await?;
    let editable = caller.is(Role::Applicant)
        && gp.grant.status == GrantStatus::Active
        && e.status == ExpenditureStatus::Draft;
    html_status(
        status,
        &ExpenditureTemplate {
            page: PageContext::new(&s.0, &state.settings.web.time_zone),
            form: form.unwrap_or_else(|| ExpenditureFields::from_view(&e)),
            e,
            g: gp.grant,
            ex,
            editable,
            errors,
            att,
            notice,
        },
    )
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

#[get("/expenditures/{id}")]
pub async fn expenditure_page(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
    q: web::Query<DoneQuery>,
) -> WebResult<HttpResponse> {
    let notice = spending_notice(q.done.as_deref());
    render_expenditure(&state, &s, path.into_inner(), None, notice, StatusCode::OK).await
}

/// Corrects a draft expenditure: every field of the form replaces the stored one.
#[post("/expenditures/{id}")]
pub async fn update_expenditure(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    s.0.caller.require(crate::auth::roles::APPLICANT)?;
    let id = path.into_inner();
    let fields = ExpenditureFields::from_form(&form);
    let result = match fields.parse() {
        Ok(i) => {
            let patch = ExpenditurePatch {
                category: Some(i.category),
                description: Some(i.description),
                amount: Some(i.amount),
                spent_on: Some(i.spent_on),
                payee: Some(i.payee),
                budget_line: Some(i.budget_line),
            };
            svc::update_expenditure(&state.db, &s.0.caller, id, patch)
                .await
                .map(|_| ())
        }
        Err(v) => Err(Error::Validation(v)),
    };
    match result {
        Ok(()) => Ok(see_other(&format!("/expenditures/{id}?done=updated"))),
        Err(e) => match FieldErrors::from_error(&e) {
            Some(errors) => {
                let status = crate::http::error::status_of(&e);
                render_expenditure_with(&state, &s, id, Some(fields), errors, None, None, status)
                    .await
            }
            None => Err(e.into()),
        },
    }
}

#[post("/expenditures/{id}/delete")]
pub async fn delete_expenditure(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
    _form: PostedForm,
) -> WebResult<HttpResponse> {
    s.0.caller.require(crate::auth::roles::APPLICANT)?;
    let id = path.into_inner();
    let e = svc::get_expenditure(&state.db, &s.0.caller, id).await?;
    svc::delete_expenditure(&state.db, &s.0.caller, id).await?;
    Ok(see_other(&format!(
        "/grants/{}/spending?done=deleted#expenditures",
        e.grant_id
    )))
}

// ---------------------------------------------------------------- a frozen report

/// One category of a report's execution as it was when submitted.
pub struct FrozenCategory {
    pub category: String,
    pub budget: String,
    pub spent: String,
    pub remaining: String,
    pub percent_spent: String,
}

#[derive(Template)]
#[template(path = "financial_report.html")]
struct ReportTemplate {
    page: PageContext,
    r: FinancialReportView,
    g: GrantView,
    categories: Vec<FrozenCategory>,
    flags: Vec<String>,
    party: Option<PartyComparison>,
    notice: Option<String>,
}

impl ReportTemplate {
    fn expenditures(&self) -> &[ExpenditureView] {
        self.r.expenditures.as_deref().unwrap_or_default()
    }
    fn gap_text(&self, element: &str) -> String {
        match element {
            "party_activities" => self.page.t("fewer party-themed activities than planned"),
            "party_members_on_team" => self.page.t("fewer party members on the team than planned"),
            "red_project" => self.page.t("the declared red project was not delivered"),
            _ => std::borrow::Cow::Owned(element.to_string()),
        }
        .into_owned()
    }
}

fn frozen_categories(page: &PageContext, execution: &serde_json::Value) -> Vec<FrozenCategory> {
    let money = |v: &serde_json::Value| {
        v.as_str()
            .and_then(|s| s.parse::<Decimal>().ok())
            .map(crate::web::format::yuan)
            .unwrap_or_else(|| "—".into())
    };
    execution["categories"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| FrozenCategory {
                    category: page.word(c["category"].as_str().unwrap_or_default()),
                    budget: money(&c["budget"]),
                    spent: money(&c["spent"]),
                    remaining: money(&c["remaining"]),
                    percent_spent: c["percent_spent"]
                        .as_str()
                        .map(|p| format!("{p}%"))
                        .unwrap_or_else(|| "—".into()),
                })
                .collect()
        })
        .unwrap_or_default()
}

#[get("/financial-reports/{id}")]
pub async fn report_page(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
    q: web::Query<DoneQuery>,
) -> WebResult<HttpResponse> {
    let caller = &s.0.caller;
    let r = svc::get_report(&state.db, caller, path.into_inner()).await?;
    let gp = finance::grant_page(&state.db, caller, r.grant_id).await?;
    let page = PageContext::new(&s.0, &state.settings.web.time_zone);
    let categories = frozen_categories(&page, &r.execution);
    let flags = serde_json::from_value::<Vec<ExecutionFlag>>(r.execution["flags"].clone())
        .unwrap_or_default()
        .iter()
        .map(|f| flag_text(&page, f))
        .collect();
    let party = serde_json::from_value(r.party_elements.clone()).ok();
    html(&ReportTemplate {
        notice: spending_notice(q.done.as_deref()),
        page,
        g: gp.grant,
        categories,
        flags,
        party,
        r,
    })
}

// ---------------------------------------------------------------- the round's spending

#[derive(Template)]
#[template(path = "round_spending.html")]
struct RoundSpendingTemplate {
    page: PageContext,
    r: RoundSpending,
}

impl RoundSpendingTemplate {
    fn pct(&self, p: &Option<Decimal>) -> String {
        percent(p)
    }
    fn flags(&self, fs: &[ExecutionFlag]) -> Vec<String> {
        fs.iter().map(|f| flag_short(&self.page, f)).collect()
    }
    fn flag_titles(&self, fs: &[ExecutionFlag]) -> String {
        fs.iter()
            .map(|f| flag_text(&self.page, f))
            .collect::<Vec<_>>()
            .join("；")
    }
    fn total(&self, what: &str) -> Decimal {
        self.r
            .grants
            .iter()
            .map(|x| match what {
                "awarded" => x.grant.amount.amount(),
                "paid" => x.grant.balance.paid.amount(),
                "budget" => x.execution.totals.budget.amount(),
                _ => x.execution.totals.spent.amount(),
            })
            .sum()
    }
    fn flagged(&self) -> usize {
        self.r
            .grants
            .iter()
            .filter(|x| !x.execution.flags.is_empty())
            .count()
    }
}

#[get("/rounds/{id}/spending")]
pub async fn round_page(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
) -> WebResult<HttpResponse> {
    let r = spending_overview::round_spending(&state.db, &s.0.caller, path.into_inner()).await?;
    html(&RoundSpendingTemplate {
        page: PageContext::new(&s.0, &state.settings.web.time_zone),
        r,
    })
}
