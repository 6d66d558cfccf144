//! The program office's pages (role admin): a round with its state, counts and actions, the
//! screening queue, the panel and assignments, the ranking, and the awards. Each form posts to
//! its API action's path without `/api/v1` and ends in the same use case.

use std::borrow::Borrow;

use actix_web::{get, web, HttpResponse};
use askama::Template;
use serde::Deserialize;
use uuid::Uuid;

use actix_web::http::StatusCode;
use actix_web::post;

use crate::auth::roles;
use crate::domain::bounds::MONEY;
use crate::domain::lifecycle::{ApplicationStatus, RoundStatus};
use crate::domain::money::Money;
use crate::domain::review::{AwardOutcome, RankRow, ReviewerCalibration, TRIM_FROM};
use crate::domain::violation::Violation;
use crate::http::AppState;
use crate::service::office::{
    self as svc, AwardsPage, PanelPage, RankingPage, RoundPage, ScreeningQueue,
};
use crate::service::review::{self as review, Adjustment, AssignMode, RankedApplication};
use crate::service::sessions::WebSession;
use crate::service::Error;
use crate::web::error::{WebError, WebResult};
use crate::web::form::PostedForm;
use crate::web::page::PageContext;
use crate::web::pages::{html, html_status, see_other, FieldErrors};
use crate::web::session::Signed;

/// Rows per page of the ranking (a round can hold 10,000 applications).
pub const RANKING_PER_PAGE: usize = 100;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(ranking)
        .service(round)
        .service(open_round)
        .service(close_round)
        .service(screening)
        .service(screen)
        .service(panel)
        .service(add_reviewer)
        .service(assign)
        .service(awards)
        .service(preview_awards)
        .service(publish_awards)
        .service(record_objection)
        .service(finalize_awards);
}

#[derive(Deserialize)]
pub struct RankingQuery {
    pub page: Option<usize>,
    /// The page of the incomplete applications.
    pub ipage: Option<usize>,
}

pub struct RankLine<'a> {
    pub row: &'a RankRow,
    pub info: &'a RankedApplication,
    /// The first row below the pass mark: the line is drawn above it.
    pub line_before: bool,
}

#[derive(Template)]
#[template(path = "ranking.html")]
struct RankingTemplate {
    page: PageContext,
    p: RankingPage,
    page_no: usize,
    ipage_no: usize,
}

fn pages(n: usize) -> usize {
    n.div_ceil(RANKING_PER_PAGE).max(1)
}

impl RankingTemplate {
    fn lines<'a>(&'a self, rows: &'a [RankRow], page: usize) -> Vec<RankLine<'a>> {
        let start = (page - 1) * RANKING_PER_PAGE;
        rows.iter()
            .enumerate()
            .skip(start)
            .take(RANKING_PER_PAGE)
            .filter_map(|(i, row)| {
                let info = self.p.ranking.applications.get(&row.application_id)?;
                let line_before = !row.passes_pass_mark
                    && row.rank.is_some()
                    && (i == 0 || rows[i - 1].passes_pass_mark);
                Some(RankLine {
                    row,
                    info,
                    line_before,
                })
            })
            .collect()
    }
    fn ranked(&self) -> Vec<RankLine<'_>> {
        self.lines(&self.p.ranking.ranking.ranked, self.page_no)
    }
    fn incomplete(&self) -> Vec<RankLine<'_>> {
        self.lines(&self.p.ranking.ranking.incomplete, self.ipage_no)
    }
    fn ranked_pages(&self) -> usize {
        pages(self.p.ranking.ranking.ranked.len())
    }
    fn incomplete_pages(&self) -> usize {
        pages(self.p.ranking.ranking.incomplete.len())
    }
    fn criteria(&self) -> &[crate::domain::round::Criterion] {
        &self.p.ranking.spec.rubric.criteria
    }
    fn columns(&self) -> usize {
        9 + self.criteria().len() + usize::from(self.p.ranking.ranking.normalized)
    }
    fn num(&self, d: &Option<rust_decimal::Decimal>) -> String {
        d.map(|d| format!("{:.2}", d.round_dp(2)))
            .unwrap_or_else(|| "—".into())
    }
    fn dec(&self, d: &rust_decimal::Decimal) -> String {
        format!("{:.2}", d.round_dp(2))
    }
    fn signed(&self, d: &rust_decimal::Decimal) -> String {
        let d = d.round_dp(2);
        if d.is_sign_positive() && !d.is_zero() {
            format!("+{d:.2}")
        } else {
            format!("{d:.2}")
        }
    }
    fn trim_rule(&self) -> String {
        self.page.word(&format!(
            "With {TRIM_FROM} or more submitted scores, the highest and the lowest are dropped before the mean."
        ))
    }
    fn minimum_rule(&self) -> String {
        self.page.word(&format!(
            "An application with fewer than {} submitted scores is not ranked.",
            self.p.ranking.spec.rules.min_reviewers
        ))
    }
    fn reviewer(&self, c: &ReviewerCalibration) -> String {
        match self.p.reviewers.get(&c.reviewer_id) {
            Some((name, email)) => format!("{name} ({email})"),
            None => c.reviewer_id.to_string(),
        }
    }
    fn link(&self, page: impl Borrow<usize>, ipage: impl Borrow<usize>) -> String {
        let (page, ipage) = (*page.borrow(), *ipage.borrow());
        format!(
            "/rounds/{}/ranking?page={page}&ipage={ipage}",
            self.p.round.id
        )
    }
}

#[get("/rounds/{id}/ranking")]
pub async fn ranking(
    state: web::Data<AppState>,
    Signed(s): Signed,
    path: web::Path<Uuid>,
    q: web::Query<RankingQuery>,
) -> WebResult<HttpResponse> {
    s.caller.require(crate::auth::roles::ADMIN)?;
    // As the JSON ranking: one of the few expensive requests served at once.
    let _permit = state
        .expensive_permit()
        .map_err(|_| WebError::Service(Error::Unavailable))?;
    let p = svc::ranking_page(&state.db, &s.caller, path.into_inner()).await?;
    let clamp = |n: Option<usize>, len: usize| n.unwrap_or(1).clamp(1, pages(len));
    let page_no = clamp(q.page, p.ranking.ranking.ranked.len());
    let ipage_no = clamp(q.ipage, p.ranking.ranking.incomplete.len());
    html(&RankingTemplate {
        page: PageContext::new(&s, &state.settings.web.time_zone),
        p,
        page_no,
        ipage_no,
    })
}

fn context(state: &AppState, s: &WebSession) -> PageContext {
    PageContext::new(s, &state.settings.web.time_zone)
}

/// A refused form's errors, or the error page for anything else.
fn form_errors(e: Error) -> WebResult<FieldErrors> {
    FieldErrors::from_error(&e).ok_or(WebError::Service(e))
}

fn status_of(errors: &FieldErrors) -> StatusCode {
    if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

// ---------- a round ----------

#[derive(Template)]
#[template(path = "round.html")]
struct RoundTemplate {
    page: PageContext,
    r: RoundPage,
}

impl RoundTemplate {
    fn is(&self, status: &str) -> bool {
        self.r.round.status == status
    }
    fn count(&self, status: &&str) -> i64 {
        self.r.count(status)
    }
    fn statuses(&self) -> Vec<&'static str> {
        ApplicationStatus::ALL.iter().map(|s| s.as_str()).collect()
    }
    fn percent(&self, d: &rust_decimal::Decimal) -> String {
        format!(
            "{:.2}%",
            (d * rust_decimal::Decimal::ONE_HUNDRED).round_dp(2)
        )
    }
}

#[get("/rounds/{id}")]
pub async fn round(
    state: web::Data<AppState>,
    Signed(s): Signed,
    path: web::Path<Uuid>,
) -> WebResult<HttpResponse> {
    let r = svc::round_page(&state.db, &s.caller, path.into_inner()).await?;
    html(&RoundTemplate {
        page: context(&state, &s),
        r,
    })
}

async fn round_transition(
    state: &AppState,
    s: &WebSession,
    id: Uuid,
    next: RoundStatus,
) -> WebResult<HttpResponse> {
    s.caller.require(roles::ADMIN)?;
    crate::service::rounds::transition(&state.db, id, next, &s.caller).await?;
    Ok(see_other(&format!("/rounds/{id}")))
}

#[post("/rounds/{id}/open")]
pub async fn open_round(
    state: web::Data<AppState>,
    Signed(s): Signed,
    path: web::Path<Uuid>,
    _form: PostedForm,
) -> WebResult<HttpResponse> {
    round_transition(&state, &s, path.into_inner(), RoundStatus::Open).await
}

#[post("/rounds/{id}/close")]
pub async fn close_round(
    state: web::Data<AppState>,
    Signed(s): Signed,
    path: web::Path<Uuid>,
    _form: PostedForm,
) -> WebResult<HttpResponse> {
    round_transition(&state, &s, path.into_inner(), RoundStatus::Closed).await
}

// ---------- screening ----------

#[derive(Template)]
#[template(path = "screening.html")]
struct ScreeningTemplate {
    page: PageContext,
    q: ScreeningQueue,
    /// The application whose form was refused, with its errors and the reason typed.
    refused: Option<(Uuid, FieldErrors, String)>,
}

impl ScreeningTemplate {
    fn errors_of(&self, id: &Uuid, field: &str) -> Vec<&str> {
        match &self.refused {
            Some((a, e, _)) if a == id => e.of(field),
            _ => vec![],
        }
    }
    fn reason_of(&self, id: &Uuid) -> &str {
        match &self.refused {
            Some((a, _, r)) if a == id => r,
            _ => "",
        }
    }
    fn prev_page(&self) -> i64 {
        self.q.page - 1
    }
    fn next_page(&self) -> i64 {
        self.q.page + 1
    }
}

#[get("/rounds/{id}/screening")]
pub async fn screening(
    state: web::Data<AppState>,
    Signed(s): Signed,
    path: web::Path<Uuid>,
    q: web::Query<PageQuery>,
) -> WebResult<HttpResponse> {
    let q =
        svc::screening_queue(&state.db, &s.caller, path.into_inner(), q.page.unwrap_or(1)).await?;
    html(&ScreeningTemplate {
        page: context(&state, &s),
        q,
        refused: None,
    })
}

#[derive(Deserialize)]
pub struct PageQuery {
    pub page: Option<i64>,
}

/// Eligible (to review) or ineligible with a reason; back to the round's queue.
#[post("/applications/{id}/screen")]
pub async fn screen(
    state: web::Data<AppState>,
    Signed(s): Signed,
    path: web::Path<Uuid>,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    s.caller.require(roles::ADMIN)?;
    let id = path.into_inner();
    let eligible = form.get("eligible") == Some("yes");
    let reason = form.text("reason");
    let round_id: Option<Uuid> = form.get("round_id").and_then(|r| r.parse().ok());
    let refusal = if !eligible && reason.is_empty() {
        Some(Error::Validation(vec![Violation::new(
            "required",
            "an ineligible decision needs a reason",
        )
        .field("reason")]))
    } else if reason.chars().count() > 2000 {
        Some(Error::Validation(vec![Violation::new(
            "length",
            "a reason has at most 2000 characters",
        )
        .limit(2000)
        .actual(reason.chars().count())
        .field("reason")]))
    } else {
        let next = if eligible {
            ApplicationStatus::UnderReview
        } else {
            ApplicationStatus::Ineligible
        };
        let reason = (!reason.is_empty()).then(|| reason.clone());
        match crate::service::applications::transition(&state.db, &s.caller, id, next, reason).await
        {
            Ok(row) => {
                return Ok(see_other(&format!("/rounds/{}/screening", row.round_id)));
            }
            Err(e) => Some(e),
        }
    };
    let e = refusal.expect("set above");
    let (Some(round_id), Some(errors)) = (round_id, FieldErrors::from_error(&e)) else {
        return Err(e.into());
    };
    let q = svc::screening_queue(&state.db, &s.caller, round_id, 1).await?;
    html_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        &ScreeningTemplate {
            page: context(&state, &s),
            q,
            refused: Some((id, errors, reason)),
        },
    )
}

// ---------- panel and assignments ----------

#[derive(Template)]
#[template(path = "panel.html")]
struct PanelTemplate {
    page: PageContext,
    p: PanelPage,
    errors: FieldErrors,
    notice: Option<String>,
}

impl PanelTemplate {
    fn field_errors(&self, field: &str) -> Vec<&str> {
        self.errors.of(field)
    }
    /// The manual pair's refusals that concern the reviewer or the pair as a whole.
    fn manual_errors(&self) -> Vec<&str> {
        self.errors
            .by_field
            .iter()
            .filter(|(f, _)| matches!(f.as_str(), "pairs" | "pairs[0]" | "pairs[0].reviewer_id"))
            .map(|(_, m)| m.as_str())
            .collect()
    }
    fn organization(&self, id: &Uuid) -> String {
        self.p
            .organizations
            .iter()
            .find(|(o, _)| o == id)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| id.to_string())
    }
}

#[derive(Deserialize)]
pub struct PanelQuery {
    pub created: Option<usize>,
}

async fn render_panel(
    state: &AppState,
    s: &WebSession,
    id: Uuid,
    errors: FieldErrors,
    notice: Option<String>,
) -> WebResult<HttpResponse> {
    let p = svc::panel_page(&state.db, &s.caller, id).await?;
    html_status(
        status_of(&errors),
        &PanelTemplate {
            page: context(state, s),
            p,
            errors,
            notice,
        },
    )
}

#[get("/rounds/{id}/panel")]
pub async fn panel(
    state: web::Data<AppState>,
    Signed(s): Signed,
    path: web::Path<Uuid>,
    q: web::Query<PanelQuery>,
) -> WebResult<HttpResponse> {
    let notice = q.created.map(|n| {
        let lang = crate::i18n::current();
        crate::i18n::text(lang, &format!("{n} assignments created."))
    });
    render_panel(
        &state,
        &s,
        path.into_inner(),
        FieldErrors::default(),
        notice,
    )
    .await
}

#[post("/rounds/{id}/reviewers")]
pub async fn add_reviewer(
    state: web::Data<AppState>,
    Signed(s): Signed,
    path: web::Path<Uuid>,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    s.caller.require(roles::ADMIN)?;
    let id = path.into_inner();
    let Some(reviewer) = form.get("reviewer_id").and_then(|r| r.parse::<Uuid>().ok()) else {
        let v = Violation::new("required", "choose a reviewer").field("reviewer_id");
        return render_panel(&state, &s, id, FieldErrors::from_violations(&[v]), None).await;
    };
    let affiliations: Vec<Uuid> = form
        .all("affiliations")
        .iter()
        .filter_map(|a| a.parse().ok())
        .collect();
    match review::add_reviewer(&state.db, &s.caller, id, reviewer, affiliations).await {
        Ok(_) => Ok(see_other(&format!("/rounds/{id}/panel"))),
        Err(e) => render_panel(&state, &s, id, form_errors(e)?, None).await,
    }
}

#[post("/rounds/{id}/assignments")]
pub async fn assign(
    state: web::Data<AppState>,
    Signed(s): Signed,
    path: web::Path<Uuid>,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    s.caller.require(roles::ADMIN)?;
    let id = path.into_inner();
    if form.get("mode") == Some("manual") {
        return assign_manually(&state, &s, id, &form).await;
    }
    let k = form.text("reviewers_per_application");
    let per_application = if k.is_empty() {
        None
    } else {
        match k.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                let v = Violation::new("range", "reviewers_per_application is 1 to 50")
                    .limit("1..50")
                    .actual(&k)
                    .field("reviewers_per_application");
                return render_panel(&state, &s, id, FieldErrors::from_violations(&[v]), None)
                    .await;
            }
        }
    };
    match review::assign(
        &state.db,
        &s.caller,
        id,
        AssignMode::Auto { per_application },
    )
    .await
    {
        Ok(out) => Ok(see_other(&format!(
            "/rounds/{id}/panel?created={}",
            out.created.len()
        ))),
        Err(e) => render_panel(&state, &s, id, form_errors(e)?, None).await,
    }
}

/// One (application, reviewer) pair picked by the admin; the affiliation and panel checks are
/// the use case's, shown beside the form.
async fn assign_manually(
    state: &AppState,
    s: &WebSession,
    id: Uuid,
    form: &PostedForm,
) -> WebResult<HttpResponse> {
    let pick = |field: &str, message: &'static str| {
        form.get(field)
            .and_then(|v| v.parse::<Uuid>().ok())
            .ok_or_else(|| Violation::new("required", message).field(format!("pairs[0].{field}")))
    };
    let (application, reviewer) = (
        pick("application_id", "choose an application"),
        pick("reviewer_id", "choose a reviewer"),
    );
    let (application_id, reviewer_id) = match (application, reviewer) {
        (Ok(a), Ok(r)) => (a, r),
        (a, r) => {
            let v: Vec<Violation> = [a.err(), r.err()].into_iter().flatten().collect();
            return render_panel(state, s, id, FieldErrors::from_violations(&v), None).await;
        }
    };
    let pair = review::Pair {
        application_id,
        reviewer_id,
    };
    match review::assign(&state.db, &s.caller, id, AssignMode::Manual(vec![pair])).await {
        Ok(out) => Ok(see_other(&format!(
            "/rounds/{id}/panel?created={}",
            out.created.len()
        ))),
        Err(e) => render_panel(state, s, id, form_errors(e)?, None).await,
    }
}

// ---------- awards ----------

#[derive(Template)]
#[template(path = "awards.html")]
struct AwardsTemplate {
    page: PageContext,
    a: AwardsPage,
    /// Adjusted amounts as typed, by application.
    amounts: std::collections::HashMap<Uuid, String>,
    errors: FieldErrors,
    now: chrono::DateTime<chrono::Utc>,
}

/// One line of the preview, with the names.
pub struct PlanLine<'a> {
    pub application_id: Uuid,
    pub title: &'a str,
    pub organization_name: &'a str,
    pub requested: rust_decimal::Decimal,
    pub amount: rust_decimal::Decimal,
    pub score: Option<rust_decimal::Decimal>,
    pub rank: Option<u32>,
}

impl AwardsTemplate {
    fn plan_lines(&self, outcome: &str) -> Vec<PlanLine<'_>> {
        let Some(p) = &self.a.plan else {
            return vec![];
        };
        let ranks: std::collections::HashMap<Uuid, &RankRow> = p
            .ranking
            .ranking
            .ranked
            .iter()
            .map(|r| (r.application_id, r))
            .collect();
        p.allocation
            .lines
            .iter()
            .filter(|l| l.outcome.as_str() == outcome)
            .filter_map(|l| {
                let info = p.ranking.applications.get(&l.application_id)?;
                let r = ranks.get(&l.application_id);
                Some(PlanLine {
                    application_id: l.application_id,
                    title: &info.title,
                    organization_name: &info.organization_name,
                    requested: l.requested,
                    amount: l.amount,
                    score: r.and_then(|r| r.ranking_score),
                    rank: r.and_then(|r| r.rank),
                })
            })
            .collect()
    }
    fn outcomes(&self) -> Vec<(&'static str, &'static str)> {
        vec![
            (AwardOutcome::Funded.as_str(), "Funded"),
            (
                AwardOutcome::UnfundedPool.as_str(),
                "Unfunded: the pool is spent",
            ),
            (AwardOutcome::BelowPassMark.as_str(), "Below the pass mark"),
            (
                AwardOutcome::Incomplete.as_str(),
                "Incomplete: too few scores",
            ),
        ]
    }
    fn amount_of(&self, id: &Uuid) -> String {
        self.amounts.get(id).cloned().unwrap_or_default()
    }
    fn adjustable(&self, outcome: &str) -> bool {
        outcome == AwardOutcome::Funded.as_str() || outcome == AwardOutcome::UnfundedPool.as_str()
    }
    fn num(&self, d: &Option<rust_decimal::Decimal>) -> String {
        d.map(|d| format!("{:.2}", d.round_dp(2)))
            .unwrap_or_else(|| "—".into())
    }
    fn in_notice(&self) -> bool {
        self.a
            .decision
            .as_ref()
            .is_some_and(|d| d.status == "public_notice")
    }
    fn can_finalize(&self) -> bool {
        self.a
            .decision
            .as_ref()
            .is_some_and(|d| d.status == "public_notice" && d.notice_until <= self.now)
    }
    fn title_of(&self, id: &Option<Uuid>) -> String {
        id.and_then(|id| {
            self.a
                .lines
                .iter()
                .find(|l| l.line.application_id == id)
                .map(|l| l.title.clone())
        })
        .unwrap_or_else(|| "—".into())
    }
}

/// The adjusted amounts posted (`amount.<application id>`): the typed text and the
/// adjustments that parse, or a violation beside each that does not.
fn posted_adjustments(
    a: &AwardsPage,
    form: &PostedForm,
) -> (
    std::collections::HashMap<Uuid, String>,
    Vec<Adjustment>,
    Vec<Violation>,
) {
    let mut typed = std::collections::HashMap::new();
    let mut out = Vec::new();
    let mut v = Vec::new();
    let ids: Vec<Uuid> = a
        .plan
        .as_ref()
        .map(|p| {
            p.allocation
                .lines
                .iter()
                .map(|l| l.application_id)
                .collect()
        })
        .unwrap_or_default();
    for id in ids {
        let field = format!("amount.{id}");
        let text = form.text(&field);
        if text.is_empty() {
            continue;
        }
        match MONEY.parse(&text).map(Money::new) {
            Ok(Ok(m)) => out.push(Adjustment {
                application_id: id,
                amount: m,
            }),
            Ok(Err(e)) => v.push(Violation::new("money_format", e.to_string()).field(&field)),
            Err(e) => v.push(e.into_violation(&field)),
        }
        typed.insert(id, text);
    }
    (typed, out, v)
}

async fn render_awards(
    state: &AppState,
    s: &WebSession,
    id: Uuid,
    adjustments: &[Adjustment],
    amounts: std::collections::HashMap<Uuid, String>,
    errors: FieldErrors,
) -> WebResult<HttpResponse> {
    let (a, errors) = match svc::awards_page(&state.db, &s.caller, id, adjustments).await {
        Ok(a) => (a, errors),
        Err(e) => {
            // Adjustments the rules refuse: the page without them, each refusal beside its field.
            let mut errors = form_errors(e)?;
            errors.by_field = errors
                .by_field
                .into_iter()
                .map(|(f, m)| (adjustment_field(&f, adjustments), m))
                .collect();
            (
                svc::awards_page(&state.db, &s.caller, id, &[]).await?,
                errors,
            )
        }
    };
    html_status(
        status_of(&errors),
        &AwardsTemplate {
            page: context(state, s),
            a,
            amounts,
            errors,
            now: chrono::Utc::now(),
        },
    )
}

/// `adjustments[2].amount` (the use case's field) as the form's `amount.<application id>`.
fn adjustment_field(field: &str, adjustments: &[Adjustment]) -> String {
    let index = field
        .strip_prefix("adjustments[")
        .and_then(|r| r.split_once(']'))
        .and_then(|(i, _)| i.parse::<usize>().ok());
    match index.and_then(|i| adjustments.get(i)) {
        Some(a) => format!("amount.{}", a.application_id),
        None => field.to_string(),
    }
}

#[get("/rounds/{id}/awards")]
pub async fn awards(
    state: web::Data<AppState>,
    Signed(s): Signed,
    path: web::Path<Uuid>,
) -> WebResult<HttpResponse> {
    s.caller.require(roles::ADMIN)?;
    let _permit = state
        .expensive_permit()
        .map_err(|_| WebError::Service(Error::Unavailable))?;
    render_awards(
        &state,
        &s,
        path.into_inner(),
        &[],
        Default::default(),
        FieldErrors::default(),
    )
    .await
}

#[post("/rounds/{id}/awards/preview")]
pub async fn preview_awards(
    state: web::Data<AppState>,
    Signed(s): Signed,
    path: web::Path<Uuid>,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    s.caller.require(roles::ADMIN)?;
    let _permit = state
        .expensive_permit()
        .map_err(|_| WebError::Service(Error::Unavailable))?;
    let id = path.into_inner();
    let base = svc::awards_page(&state.db, &s.caller, id, &[]).await?;
    let (typed, adjustments, v) = posted_adjustments(&base, &form);
    let errors = FieldErrors::from_violations(&v);
    let adjustments = if v.is_empty() { adjustments } else { vec![] };
    render_awards(&state, &s, id, &adjustments, typed, errors).await
}

#[post("/rounds/{id}/awards")]
pub async fn publish_awards(
    state: web::Data<AppState>,
    Signed(s): Signed,
    path: web::Path<Uuid>,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    s.caller.require(roles::ADMIN)?;
    let _permit = state
        .expensive_permit()
        .map_err(|_| WebError::Service(Error::Unavailable))?;
    let id = path.into_inner();
    let base = svc::awards_page(&state.db, &s.caller, id, &[]).await?;
    let (typed, adjustments, v) = posted_adjustments(&base, &form);
    if !v.is_empty() {
        return render_awards(&state, &s, id, &[], typed, FieldErrors::from_violations(&v)).await;
    }
    match review::publish(&state.db, &s.caller, id, adjustments.clone()).await {
        Ok(_) => Ok(see_other(&format!("/rounds/{id}/awards"))),
        Err(e) => {
            let errors = form_errors(e)?;
            render_awards(&state, &s, id, &[], typed, errors).await
        }
    }
}

#[post("/rounds/{id}/awards/objections")]
pub async fn record_objection(
    state: web::Data<AppState>,
    Signed(s): Signed,
    path: web::Path<Uuid>,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    s.caller.require(roles::ADMIN)?;
    let id = path.into_inner();
    let objection = form.text("objection");
    let resolution = form.text("resolution");
    let application_id = form.get("application_id").and_then(|a| a.parse().ok());
    let n = objection.chars().count();
    if n == 0 || n > 5000 || resolution.chars().count() > 5000 {
        let v = Violation::new(
            "length",
            "an objection and its resolution have 1 to 5000 characters",
        )
        .limit("1..5000")
        .actual(n)
        .field("objection");
        return render_awards(
            &state,
            &s,
            id,
            &[],
            Default::default(),
            FieldErrors::from_violations(&[v]),
        )
        .await;
    }
    let resolution = (!resolution.is_empty()).then_some(resolution);
    match review::record_objection(
        &state.db,
        &s.caller,
        id,
        application_id,
        objection,
        resolution,
    )
    .await
    {
        Ok(_) => Ok(see_other(&format!("/rounds/{id}/awards"))),
        Err(e) => {
            let errors = form_errors(e)?;
            render_awards(&state, &s, id, &[], Default::default(), errors).await
        }
    }
}

#[post("/rounds/{id}/awards/finalize")]
pub async fn finalize_awards(
    state: web::Data<AppState>,
    Signed(s): Signed,
    path: web::Path<Uuid>,
    _form: PostedForm,
) -> WebResult<HttpResponse> {
    s.caller.require(roles::ADMIN)?;
    let id = path.into_inner();
    review::finalize(&state.db, &s.caller, id).await?;
    Ok(see_other(&format!("/rounds/{id}/awards")))
}

// ---------- the admin's dashboard ----------

#[derive(Template)]
#[template(path = "home_admin.html")]
struct AdminDashboard {
    page: PageContext,
    rounds: Vec<crate::storage::models::RoundRow>,
}

pub async fn dashboard(state: &AppState, s: &WebSession) -> WebResult<HttpResponse> {
    let rounds = svc::rounds_list(&state.db, &s.caller).await?;
    html(&AdminDashboard {
        page: context(state, s),
        rounds,
    })
}
