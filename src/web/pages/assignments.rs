//! A reviewer's pages: my assignments by round, and one assignment with the application
//! (read-only, with its budget), the scoring form (the party-element objective part shown and
//! computed, only the judged part entered), save, submit and the declaration of a conflict of
//! interest. Each form posts to its API action's path without `/api/v1`.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use rust_decimal::Decimal;
use serde::Deserialize;
use uuid::Uuid;

use crate::domain::bounds::RUBRIC_POINTS;
use crate::domain::violation::Violation;
use crate::http::AppState;
use crate::service::review as svc;
use crate::service::reviewing::{self, AssignmentPage, MyAssignments};
use crate::service::sessions::WebSession;
use crate::web::error::WebResult;
use crate::web::form::PostedForm;
use crate::web::page::PageContext;
use crate::web::pages::{html, html_status, see_other, FieldErrors};
use crate::web::session::Signed;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(show)
        .service(save)
        .service(submit)
        .service(conflict);
}

#[derive(Deserialize)]
pub struct ListQuery {
    pub page: Option<i64>,
}

#[derive(Template)]
#[template(path = "assignments.html")]
struct ListTemplate {
    page: PageContext,
    mine: MyAssignments,
}

impl ListTemplate {
    fn prev_page(&self) -> i64 {
        self.mine.page - 1
    }
    fn next_page(&self) -> i64 {
        self.mine.page + 1
    }
}

/// The reviewer's dashboard and `/assignments`: the same list.
pub async fn render_list(state: &AppState, s: &WebSession, page: i64) -> WebResult<HttpResponse> {
    let mine = reviewing::my_assignments(&state.db, &s.caller, page).await?;
    html(&ListTemplate {
        page: PageContext::new(s, &state.settings.web.time_zone),
        mine,
    })
}

#[get("/assignments")]
pub async fn list(
    state: web::Data<AppState>,
    Signed(s): Signed,
    q: web::Query<ListQuery>,
) -> WebResult<HttpResponse> {
    render_list(&state, &s, q.page.unwrap_or(1)).await
}

#[derive(Template)]
#[template(path = "assignment.html")]
struct AssignmentTemplate {
    page: PageContext,
    a: AssignmentPage,
    /// What was posted, shown again beside its errors.
    posted: Option<BTreeMap<String, String>>,
    comment: String,
    reason: String,
    errors: FieldErrors,
    notice: Option<String>,
}

impl AssignmentTemplate {
    fn value(&self, key: &str) -> String {
        if let Some(p) = &self.posted {
            return p.get(key).cloned().unwrap_or_default();
        }
        self.a
            .criteria
            .iter()
            .find(|c| c.key == key)
            .and_then(|c| c.score)
            .map(|s| s.normalize().to_string())
            .unwrap_or_default()
    }
    fn field_errors(&self, field: &str) -> Vec<&str> {
        self.errors.of(field)
    }
    fn score_field(&self, key: &str) -> String {
        format!("scores.{key}")
    }
    fn points(&self, d: impl std::borrow::Borrow<Decimal>) -> String {
        d.borrow().normalize().to_string()
    }
    fn step(&self) -> String {
        self.a.spec.rubric.score_step.normalize().to_string()
    }
    fn personnel_share(&self) -> String {
        match &self.a.application {
            Some(r) if !r.application.budget_total.is_zero() => {
                let a = &r.application;
                let share =
                    (a.budget_personnel * Decimal::ONE_HUNDRED / a.budget_total).round_dp(2);
                format!("{share:.2}%")
            }
            _ => "0.00%".into(),
        }
    }
}

#[derive(Deserialize)]
pub struct ShowQuery {
    pub saved: Option<String>,
}

/// What a page shows besides the stored assignment.
#[derive(Default)]
struct Shown {
    /// 200 unless a form is shown again (422).
    refused: bool,
    /// The posted sheet (criterion → text) and comment.
    posted: Option<(BTreeMap<String, String>, String)>,
    reason: String,
    errors: FieldErrors,
    notice: Option<String>,
}

impl Shown {
    fn refused(errors: FieldErrors) -> Self {
        Self {
            refused: true,
            errors,
            ..Default::default()
        }
    }
}

async fn render(
    state: &AppState,
    s: &WebSession,
    id: Uuid,
    shown: Shown,
) -> WebResult<HttpResponse> {
    let a = reviewing::assignment_page(&state.db, &s.caller, id).await?;
    let Shown {
        refused,
        posted,
        reason,
        errors,
        notice,
    } = shown;
    let status = if refused {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let (posted, comment) = match posted {
        Some((p, c)) => (Some(p), c),
        None => (None, a.assignment.comment.clone()),
    };
    html_status(
        status,
        &AssignmentTemplate {
            page: PageContext::new(s, &state.settings.web.time_zone),
            a,
            posted,
            comment,
            reason,
            errors,
            notice,
        },
    )
}

#[get("/assignments/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    Signed(s): Signed,
    path: web::Path<Uuid>,
    q: web::Query<ShowQuery>,
) -> WebResult<HttpResponse> {
    let lang = crate::i18n::current();
    let notice = match q.saved.as_deref() {
        Some("draft") => Some(crate::i18n::text(lang, "The draft score sheet is saved.")),
        Some("submitted") => Some(crate::i18n::text(
            lang,
            "The score sheet is submitted and locked.",
        )),
        Some("recused") => Some(crate::i18n::text(
            lang,
            "The conflict of interest is recorded; this application is no longer yours to score.",
        )),
        _ => None,
    };
    render(
        &state,
        &s,
        path.into_inner(),
        Shown {
            notice,
            ..Default::default()
        },
    )
    .await
}

/// The posted sheet: each criterion's field as text, the scores that parse, and a violation
/// for each that does not. An empty field is a criterion not scored yet.
fn parse_sheet(
    page: &AssignmentPage,
    form: &PostedForm,
) -> (
    BTreeMap<String, String>,
    BTreeMap<String, Decimal>,
    Vec<Violation>,
) {
    let mut texts = BTreeMap::new();
    let mut scores = BTreeMap::new();
    let mut v = Vec::new();
    for c in &page.criteria {
        let field = format!("scores.{}", c.key);
        let text = form.text(&field);
        if !text.is_empty() {
            match RUBRIC_POINTS.parse(&text) {
                Ok(d) => {
                    scores.insert(c.key.clone(), d);
                }
                Err(e) => v.push(e.into_violation(field)),
            }
        }
        texts.insert(c.key.clone(), text);
    }
    (texts, scores, v)
}

/// Saves the posted sheet; `Err` is the page to show again (errors beside their fields).
async fn save_posted(
    state: &AppState,
    s: &WebSession,
    id: Uuid,
    form: &PostedForm,
) -> WebResult<Result<(), HttpResponse>> {
    let page = reviewing::assignment_page(&state.db, &s.caller, id).await?;
    let (texts, scores, mut v) = parse_sheet(&page, form);
    let comment = form.text("comment");
    if !v.is_empty() {
        // The rules' own checks too, so every problem is listed at once.
        v.extend(crate::domain::review::check_scores(
            &page.spec.rubric,
            &page.spec.party_points,
            &scores,
            false,
        ));
        let errors = FieldErrors::from_violations(&v);
        let res = render(
            state,
            s,
            id,
            Shown {
                posted: Some((texts, comment)),
                ..Shown::refused(errors)
            },
        )
        .await?;
        return Ok(Err(res));
    }
    match svc::save_scores(&state.db, &s.caller, id, scores, Some(comment.clone())).await {
        Ok(_) => Ok(Ok(())),
        Err(e) => match FieldErrors::from_error(&e) {
            Some(errors) => Ok(Err(render(
                state,
                s,
                id,
                Shown {
                    posted: Some((texts, comment)),
                    ..Shown::refused(errors)
                },
            )
            .await?)),
            None => Err(e.into()),
        },
    }
}

#[post("/assignments/{id}/scores")]
pub async fn save(
    state: web::Data<AppState>,
    Signed(s): Signed,
    path: web::Path<Uuid>,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    let id = path.into_inner();
    match save_posted(&state, &s, id, &form).await? {
        Ok(()) => Ok(see_other(&format!("/assignments/{id}?saved=draft"))),
        Err(page) => Ok(page),
    }
}

/// Submits the sheet: what the form holds is saved first, then the sheet is checked complete
/// and locked.
#[post("/assignments/{id}/submit")]
pub async fn submit(
    state: web::Data<AppState>,
    Signed(s): Signed,
    path: web::Path<Uuid>,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    let id = path.into_inner();
    // The scoring form always carries its comment field; a bare submit button does not.
    if form.get("comment").is_some() {
        if let Err(page) = save_posted(&state, &s, id, &form).await? {
            return Ok(page);
        }
    }
    match svc::submit_scores(&state.db, &s.caller, id).await {
        Ok(_) => Ok(see_other(&format!("/assignments/{id}?saved=submitted"))),
        Err(e) => match FieldErrors::from_error(&e) {
            Some(errors) => render(&state, &s, id, Shown::refused(errors)).await,
            None => Err(e.into()),
        },
    }
}

#[post("/assignments/{id}/conflict")]
pub async fn conflict(
    state: web::Data<AppState>,
    Signed(s): Signed,
    path: web::Path<Uuid>,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    let id = path.into_inner();
    let reason = form.text("reason");
    let n = reason.chars().count();
    if n == 0 || n > 2000 {
        let v = Violation::new(
            "length",
            "state the conflict of interest in 1 to 2000 characters",
        )
        .limit("1..2000")
        .actual(n)
        .field("reason");
        return render(
            &state,
            &s,
            id,
            Shown {
                reason,
                ..Shown::refused(FieldErrors::from_violations(&[v]))
            },
        )
        .await;
    }
    match svc::declare_conflict(&state.db, &s.caller, id, reason).await {
        Ok(_) => Ok(see_other(&format!("/assignments/{id}?saved=recused"))),
        Err(e) => Err(e.into()),
    }
}
