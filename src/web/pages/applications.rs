//! An application in the browser: its page, the draft's content and budget forms, the dry run
//! ("检查"), submission with a confirmation step, and withdrawal. Each form posts to the same
//! path as its API action, without `/api/v1`.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::domain::budget::{BudgetCategory, FundedBy};
use crate::domain::lifecycle::ApplicationStatus;
use crate::domain::user::{Language, Role};
use crate::domain::violation::Violation;
use crate::http::AppState;
use crate::service::applications::{self as svc, ApplicationContent};
use crate::service::portal::{self, ApplicationPage};
use crate::service::{self, Error};
use crate::web::error::{WebError, WebResult};
use crate::web::form::PostedForm;
use crate::web::page::PageContext;
use crate::web::pages::{html, html_status, see_other, FieldErrors};
use crate::web::session::Signed;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(show)
        .service(create)
        .service(save_content)
        .service(save_budget)
        .service(validate)
        .service(submit)
        .service(withdraw);
}

/// The content form's fields as text, from the stored row or from what was posted.
pub struct ContentFields {
    pub title: String,
    pub focus_area: String,
    pub summary: String,
    pub beneficiaries: String,
    pub beneficiary_count: String,
    pub start_date: String,
    pub end_date: String,
    pub requested_grant: String,
    pub co_funding: String,
    /// (name, role, party member)
    pub team: Vec<(String, String, bool)>,
    pub party_activity_count: String,
    pub party_activity_description: String,
    pub red_project: bool,
}

/// One row of the budget editor, as text.
pub struct LineFields {
    pub category: String,
    pub description: String,
    pub quantity: String,
    pub unit_cost: String,
    pub funded_by: String,
    pub amount: String,
}

#[derive(Template)]
#[template(path = "application.html")]
struct ApplicationTemplate {
    page: PageContext,
    p: ApplicationPage,
    editable: bool,
    can_withdraw: bool,
    content: ContentFields,
    lines: Vec<LineFields>,
    errors: FieldErrors,
    /// The outcome line shown at the top ("已提交", "检查通过").
    notice: Option<String>,
    confirm_submit: bool,
    checked: bool,
}

#[derive(Template)]
#[template(path = "violations.html")]
struct ViolationsFragment {
    page: PageContext,
    errors: FieldErrors,
    checked: bool,
}

impl ApplicationTemplate {
    fn field_errors(&self, field: &str) -> Vec<&str> {
        self.errors.of(field)
    }
    fn categories(&self) -> Vec<&'static str> {
        BudgetCategory::ALL.iter().map(|c| c.as_str()).collect()
    }
    fn sources(&self) -> Vec<&'static str> {
        FundedBy::ALL.iter().map(|c| c.as_str()).collect()
    }
    fn focus_areas(&self) -> &[String] {
        &self.p.focus_areas
    }
    fn personnel_share(&self) -> String {
        let a = &self.p.application;
        if a.budget_total.is_zero() {
            return "0.00%".into();
        }
        let share = (a.budget_personnel * Decimal::ONE_HUNDRED / a.budget_total).round_dp(2);
        format!("{share:.2}%")
    }
    fn personnel_limit(&self) -> String {
        let r = self.p.rules.max_personnel_ratio * Decimal::ONE_HUNDRED;
        format!("{:.2}%", r.round_dp(2))
    }
    fn ratio_basis_points(&self) -> String {
        (self.p.rules.max_personnel_ratio * Decimal::from(10_000))
            .trunc()
            .to_string()
    }
    /// What an event of the history did, in the reader's words, with the status it led to when
    /// it changed one.
    fn action(&self, event: &portal::HistoryEntry) -> String {
        let what = match event.action.as_str() {
            "application.created" => "Draft created",
            "application.updated" => "Content edited",
            "application.budget_replaced" => "Budget edited",
            "application.submitted" => "Submitted for review",
            // The review and award steps: `application.<status>`.
            _ => "Status changed",
        };
        let what = self.page.word(what);
        match (event.from_status.as_deref(), event.to_status.as_deref()) {
            (Some(from), Some(to)) if from != to => {
                let colon = match self.page.lang {
                    Language::En => ": ",
                    Language::Zh => "：",
                };
                format!(
                    "{what}{colon}{} → {}",
                    self.page.word(from),
                    self.page.word(to)
                )
            }
            _ => what,
        }
    }
}

fn content_from_row(p: &ApplicationPage) -> ContentFields {
    let a = &p.application;
    let team: Vec<crate::service::applications::TeamMember> =
        serde_json::from_value(a.team.clone()).unwrap_or_default();
    ContentFields {
        title: a.title.clone(),
        focus_area: a.focus_area.clone(),
        summary: a.summary.clone(),
        beneficiaries: a.beneficiaries.clone(),
        beneficiary_count: a.beneficiary_count.to_string(),
        start_date: a.start_date.map(|d| d.to_string()).unwrap_or_default(),
        end_date: a.end_date.map(|d| d.to_string()).unwrap_or_default(),
        requested_grant: format!("{:.2}", a.requested_grant),
        co_funding: format!("{:.2}", a.co_funding),
        team: team
            .into_iter()
            .map(|m| (m.name, m.role, m.party_member))
            .collect(),
        party_activity_count: a.party_activity_count.to_string(),
        party_activity_description: a.party_activity_description.clone(),
        red_project: a.red_project,
    }
}

fn content_from_form(f: &PostedForm) -> ContentFields {
    let names = f.all("team_name");
    let roles = f.all("team_role");
    let party = f.all("team_party");
    ContentFields {
        title: f.text("title"),
        focus_area: f.text("focus_area"),
        summary: f.text("summary"),
        beneficiaries: f.text("beneficiaries"),
        beneficiary_count: f.text("beneficiary_count"),
        start_date: f.text("start_date"),
        end_date: f.text("end_date"),
        requested_grant: f.text("requested_grant"),
        co_funding: f.text("co_funding"),
        team: names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                (
                    n.trim().to_string(),
                    roles
                        .get(i)
                        .map(|r| r.trim().to_string())
                        .unwrap_or_default(),
                    party.get(i).is_some_and(|v| *v == "yes"),
                )
            })
            .collect(),
        party_activity_count: f.text("party_activity_count"),
        party_activity_description: f.text("party_activity_description"),
        red_project: f.checked("red_project"),
    }
}

fn lines_from_rows(p: &ApplicationPage) -> Vec<LineFields> {
    p.lines
        .iter()
        .map(|l| LineFields {
            category: l.category.clone(),
            description: l.description.clone(),
            quantity: l.quantity.normalize().to_string(),
            unit_cost: format!("{:.2}", l.unit_cost),
            funded_by: l.funded_by.clone(),
            amount: format!("{:.2}", l.amount),
        })
        .collect()
}

fn lines_from_form(f: &PostedForm) -> Vec<LineFields> {
    let cat = f.all("category");
    let desc = f.all("description");
    let qty = f.all("quantity");
    let cost = f.all("unit_cost");
    let by = f.all("funded_by");
    (0..cat.len())
        .map(|i| LineFields {
            category: cat[i].to_string(),
            description: desc.get(i).unwrap_or(&"").trim().to_string(),
            quantity: qty.get(i).unwrap_or(&"").trim().to_string(),
            unit_cost: cost.get(i).unwrap_or(&"").trim().to_string(),
            funded_by: by.get(i).unwrap_or(&"grant").to_string(),
            amount: String::new(),
        })
        // A row left blank is not a line.
        .filter(|l| !(l.description.is_empty() && l.quantity.is_empty() && l.unit_cost.is_empty()))
        .collect()
}

/// Parses a JSON document the way the API does, each error a violation naming its field.
fn from_json<T: serde::de::DeserializeOwned>(v: Value, prefix: &str) -> Result<T, Vec<Violation>> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            prefix.to_string()
        } else if prefix.is_empty() {
            path
        } else {
            format!("{prefix}{path}")
        };
        let msg = e.into_inner().to_string();
        vec![Violation::new("schema", msg).field(field)]
    })
}

fn content_json(c: &ContentFields) -> Result<Value, Vec<Violation>> {
    let mut v = Vec::new();
    let mut m = Map::new();
    let whole = |name: &str, s: &str, v: &mut Vec<Violation>| -> Option<u32> {
        if s.is_empty() {
            return Some(0);
        }
        match s.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                v.push(
                    Violation::new("schema", "a whole number of 0 or more is expected").field(name),
                );
                None
            }
        }
    };
    m.insert("title".into(), json!(c.title));
    m.insert("focus_area".into(), json!(c.focus_area));
    m.insert("summary".into(), json!(c.summary));
    m.insert("beneficiaries".into(), json!(c.beneficiaries));
    if let Some(n) = whole("beneficiary_count", &c.beneficiary_count, &mut v) {
        m.insert("beneficiary_count".into(), json!(n));
    }
    let date = |s: &str| if s.is_empty() { Value::Null } else { json!(s) };
    m.insert("start_date".into(), date(&c.start_date));
    m.insert("end_date".into(), date(&c.end_date));
    m.insert(
        "requested_grant".into(),
        json!(if c.requested_grant.is_empty() {
            "0.00"
        } else {
            &c.requested_grant
        }),
    );
    m.insert(
        "co_funding".into(),
        json!(if c.co_funding.is_empty() {
            "0.00"
        } else {
            &c.co_funding
        }),
    );
    let team: Vec<Value> = c
        .team
        .iter()
        .filter(|(n, r, _)| !(n.is_empty() && r.is_empty()))
        .map(|(n, r, p)| json!({"name": n, "role": r, "party_member": p}))
        .collect();
    m.insert("team".into(), Value::Array(team));
    if let Some(n) = whole("party_activity_count", &c.party_activity_count, &mut v) {
        m.insert("party_activity_count".into(), json!(n));
    }
    m.insert(
        "party_activity_description".into(),
        json!(c.party_activity_description),
    );
    m.insert("red_project".into(), json!(c.red_project));
    if v.is_empty() {
        Ok(Value::Object(m))
    } else {
        Err(v)
    }
}

fn lines_json(lines: &[LineFields]) -> Value {
    Value::Array(
        lines
            .iter()
            .map(|l| {
                json!({
                    "category": l.category,
                    "description": l.description,
                    "quantity": l.quantity,
                    "unit_cost": l.unit_cost,
                    "funded_by": l.funded_by,
                })
            })
            .collect(),
    )
}

struct View {
    content: Option<ContentFields>,
    lines: Option<Vec<LineFields>>,
    errors: FieldErrors,
    notice: Option<String>,
    confirm_submit: bool,
    checked: bool,
    status: StatusCode,
}

impl Default for View {
    fn default() -> Self {
        Self {
            content: None,
            lines: None,
            errors: FieldErrors::default(),
            notice: None,
            confirm_submit: false,
            checked: false,
            status: StatusCode::OK,
        }
    }
}

async fn render(state: &AppState, s: &Signed, id: Uuid, view: View) -> WebResult<HttpResponse> {
    let caller = &s.0.caller;
    let p = portal::application_page(&state.db, caller, id).await?;
    let status: ApplicationStatus = service::error::parse_text(&p.application.status)?;
    let own =
        caller.is(Role::Applicant) && caller.organization_id == Some(p.application.organization_id);
    let editable = own && status == ApplicationStatus::Draft;
    let can_withdraw = own && status.can_become(ApplicationStatus::Withdrawn);
    let content = view.content.unwrap_or_else(|| content_from_row(&p));
    let lines = view.lines.unwrap_or_else(|| lines_from_rows(&p));
    let t = ApplicationTemplate {
        page: PageContext::new(&s.0, &state.settings.web.time_zone),
        p,
        editable,
        can_withdraw,
        content,
        lines,
        errors: view.errors,
        notice: view.notice,
        confirm_submit: view.confirm_submit,
        checked: view.checked,
    };
    html_status(view.status, &t)
}

/// A refusal the page can show: the page again, each message beside its field, with the
/// status the API gives; any other error is the error page.
async fn refused(
    state: &AppState,
    s: &Signed,
    id: Uuid,
    e: Error,
    view: View,
) -> WebResult<HttpResponse> {
    match FieldErrors::from_error(&e) {
        Some(errors) => {
            let status = crate::http::error::status_of(&e);
            render(
                state,
                s,
                id,
                View {
                    errors,
                    status,
                    ..view
                },
            )
            .await
        }
        None => Err(e.into()),
    }
}

#[derive(serde::Deserialize)]
pub struct OutcomeQuery {
    saved: Option<String>,
    done: Option<String>,
}

#[get("/applications/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
    q: web::Query<OutcomeQuery>,
) -> WebResult<HttpResponse> {
    let lang = crate::i18n::current();
    let notice = match (q.saved.as_deref(), q.done.as_deref()) {
        (Some(_), _) => Some(crate::i18n::text(lang, "Saved.")),
        (_, Some("submitted")) => Some(crate::i18n::text(
            lang,
            "Submitted. The program office will screen it after the round closes.",
        )),
        (_, Some("withdrawn")) => Some(crate::i18n::text(lang, "Withdrawn.")),
        _ => None,
    };
    render(
        &state,
        &s,
        path.into_inner(),
        View {
            notice,
            ..View::default()
        },
    )
    .await
}

/// A new draft in an open round, from the dashboard (title and focus area).
#[post("/rounds/{id}/applications")]
pub async fn create(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    s.0.caller.require(crate::auth::roles::APPLICANT)?;
    let content = ApplicationContent {
        title: Some(form.text("title")),
        focus_area: Some(form.text("focus_area")),
        ..ApplicationContent::default()
    };
    match svc::create(&state.db, &s.0.caller, path.into_inner(), content).await {
        Ok(row) => Ok(see_other(&format!("/applications/{}", row.id))),
        Err(e @ (Error::Validation(_) | Error::RuleViolation(_))) => {
            // Back on the dashboard would lose the message: show it on an error page instead.
            Err(WebError::Service(e))
        }
        Err(e) => Err(e.into()),
    }
}

#[post("/applications/{id}")]
pub async fn save_content(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    s.0.caller.require(crate::auth::roles::APPLICANT)?;
    let id = path.into_inner();
    let fields = content_from_form(&form);
    let parsed = content_json(&fields).and_then(|v| from_json::<ApplicationContent>(v, ""));
    let result = match parsed {
        Ok(content) => svc::update(&state.db, &s.0.caller, id, content)
            .await
            .map(|_| ()),
        Err(v) => Err(Error::Validation(v)),
    };
    match result {
        Ok(()) => Ok(see_other(&format!("/applications/{id}?saved=content"))),
        Err(e) => {
            refused(
                &state,
                &s,
                id,
                e,
                View {
                    content: Some(fields),
                    ..View::default()
                },
            )
            .await
        }
    }
}

#[post("/applications/{id}/budget")]
pub async fn save_budget(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    s.0.caller.require(crate::auth::roles::APPLICANT)?;
    let id = path.into_inner();
    let lines = lines_from_form(&form);
    let parsed = from_json(lines_json(&lines), "budget");
    let result = match parsed {
        Ok(input) => svc::replace_budget(&state.db, &s.0.caller, id, input)
            .await
            .map(|_| ()),
        Err(v) => Err(Error::Validation(v)),
    };
    match result {
        Ok(()) => Ok(see_other(&format!(
            "/applications/{id}?saved=budget#budget"
        ))),
        Err(e) => {
            refused(
                &state,
                &s,
                id,
                e,
                View {
                    lines: Some(lines),
                    ..View::default()
                },
            )
            .await
        }
    }
}

/// The dry run: every rule checked, nothing changed. With htmx only the list is sent back.
#[post("/applications/{id}/validate")]
pub async fn validate(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
    _form: PostedForm,
) -> WebResult<HttpResponse> {
    let id = path.into_inner();
    let violations = svc::validate(&state.db, &s.0.caller, id).await?;
    let errors = FieldErrors::from_violations(&violations);
    if req.headers().contains_key("hx-request") {
        return html(&ViolationsFragment {
            page: PageContext::new(&s.0, &state.settings.web.time_zone),
            errors,
            checked: true,
        });
    }
    render(
        &state,
        &s,
        id,
        View {
            errors,
            checked: true,
            ..View::default()
        },
    )
    .await
}

/// Submission asks first: without `confirmed=yes` the page comes back with a confirmation box.
#[post("/applications/{id}/submit")]
pub async fn submit(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    s.0.caller.require(crate::auth::roles::APPLICANT)?;
    let id = path.into_inner();
    if form.get("confirmed") != Some("yes") {
        return render(
            &state,
            &s,
            id,
            View {
                confirm_submit: true,
                ..View::default()
            },
        )
        .await;
    }
    match svc::submit(&state.db, &s.0.caller, id).await {
        Ok(_) => Ok(see_other(&format!("/applications/{id}?done=submitted"))),
        Err(e) => {
            refused(
                &state,
                &s,
                id,
                e,
                View {
                    checked: true,
                    ..View::default()
                },
            )
            .await
        }
    }
}

#[post("/applications/{id}/withdraw")]
pub async fn withdraw(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
    _form: PostedForm,
) -> WebResult<HttpResponse> {
    s.0.caller.require(crate::auth::roles::APPLICANT)?;
    let id = path.into_inner();
    svc::transition(
        &state.db,
        &s.0.caller,
        id,
        ApplicationStatus::Withdrawn,
        None,
    )
    .await?;
    Ok(see_other(&format!("/applications/{id}?done=withdrawn")))
}
