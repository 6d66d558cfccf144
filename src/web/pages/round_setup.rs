//! Setting up a funding round (role admin): the list of rounds, a new round's form filled in
//! with its kind's defaults (rules, rubric, party-element points, tranche schedule: the same
//! `domain::round` defaults the API applies), and the same form to change a draft. The round
//! page itself (`/rounds/{id}`, with open and close) is in `office`.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::roles;
use crate::domain::bounds::{PARTY_POINTS, PERCENT, RATIO, RUBRIC_POINTS, SCORE_STEP};
use crate::domain::lifecycle::RoundStatus;
use crate::domain::money::Money;
use crate::domain::rating::Rating;
use crate::domain::round::{
    default_tranches, Criterion, Milestone, PartyPointsTable, RoundKind, RoundRules, Rubric,
    TrancheSpec,
};
use crate::http::AppState;
use crate::service::rounds::{self as svc, RoundSpec};
use crate::service::sessions::WebSession;
use crate::service::Error;
use crate::storage::models::RoundRow;
use crate::web::error::{WebError, WebResult};
use crate::web::form::PostedForm;
use crate::web::page::PageContext;
use crate::web::pages::form_fields::Fields;
use crate::web::pages::{html, html_status, see_other, FieldErrors};
use crate::web::session::Signed;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(rounds_list)
        .service(new_round)
        .service(create_round)
        .service(edit_round)
        .service(update_round);
}

fn context(state: &AppState, s: &WebSession) -> PageContext {
    PageContext::new(s, &state.settings.web.time_zone)
}

// ---------- the list ----------

#[derive(Template)]
#[template(path = "rounds.html")]
struct RoundsTemplate {
    page: PageContext,
    rounds: Vec<RoundRow>,
}

#[get("/rounds")]
pub async fn rounds_list(state: web::Data<AppState>, Signed(s): Signed) -> WebResult<HttpResponse> {
    let rounds = crate::service::office::rounds_list(&state.db, &s.caller).await?;
    html(&RoundsTemplate {
        page: context(&state, &s),
        rounds,
    })
}

// ---------- the form ----------

/// The round form's fields as typed.
#[derive(Default)]
pub struct RoundForm {
    pub name: String,
    pub year: String,
    pub kind: String,
    pub total_pool: String,
    pub grant_min: String,
    pub grant_max: String,
    pub opens_at: String,
    pub closes_at: String,
    pub project_start: String,
    pub project_end: String,
    pub focus_areas: String,
    /// (input name, value) of the rules shown.
    pub rules: Vec<(&'static str, String)>,
    pub min_rating: String,
    pub require_passed_assessment: bool,
    pub score_normalization: bool,
    pub rubric_total: String,
    pub score_step: String,
    /// key, name, max, party element.
    pub criteria: Vec<(String, String, String, bool)>,
    pub party_points: Vec<(&'static str, String)>,
    /// percent, milestone.
    pub tranches: Vec<(String, String)>,
}

/// The rules the form shows as numbers: (name under `rules.`, label).
const NUMBER_RULES: &[(&str, &str)] = &[
    (
        "max_applications_per_organization",
        "Applications per organization",
    ),
    (
        "max_personnel_ratio",
        "Personnel cost at most (share of the budget)",
    ),
    (
        "min_organization_age_months",
        "Minimum organization age (months)",
    ),
    (
        "min_co_funding_ratio",
        "Minimum co-funding (share of the budget)",
    ),
    ("min_reviewers", "Reviewers per application"),
    ("pass_mark", "Pass mark"),
    ("public_notice_days", "Public notice (days)"),
];

/// The party-element points table: (name under `party_points.`, label).
const POINTS: &[(&str, &str)] = &[
    ("independent_branch", "independent_branch"),
    ("joint_branch", "joint_branch"),
    ("instructor_only", "instructor_only"),
    ("none", "no party organization (三无)"),
    ("party_member_on_team", "Party member on the project team"),
    ("party_activity_planned", "Party-themed activity planned"),
    ("red_project", "Red public-benefit project"),
    ("max_objective", "Objective points at most"),
];

fn local(t: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%dT%H:%M").to_string()
}

fn rule_text(r: &RoundRules, name: &str) -> String {
    match name {
        "max_applications_per_organization" => r.max_applications_per_organization.to_string(),
        "max_personnel_ratio" => r.max_personnel_ratio.to_string(),
        "min_organization_age_months" => r.min_organization_age_months.to_string(),
        "min_co_funding_ratio" => r.min_co_funding_ratio.to_string(),
        "min_reviewers" => r.min_reviewers.to_string(),
        "pass_mark" => r.pass_mark.to_string(),
        "public_notice_days" => r.public_notice_days.to_string(),
        _ => String::new(),
    }
}

fn points_text(p: &PartyPointsTable, name: &str) -> String {
    match name {
        "independent_branch" => p.independent_branch,
        "joint_branch" => p.joint_branch,
        "instructor_only" => p.instructor_only,
        "none" => p.none,
        "party_member_on_team" => p.party_member_on_team,
        "party_activity_planned" => p.party_activity_planned,
        "red_project" => p.red_project,
        _ => p.max_objective,
    }
    .to_string()
}

impl RoundForm {
    fn of(spec: &RoundSpec, tz: chrono_tz::Tz) -> Self {
        let d = |d: Option<chrono::NaiveDate>| d.map(crate::web::format::date).unwrap_or_default();
        Self {
            name: spec.name.clone(),
            year: spec.year.to_string(),
            kind: spec.kind.as_str().into(),
            total_pool: spec.total_pool.amount().to_string(),
            grant_min: spec.grant_min.amount().to_string(),
            grant_max: spec.grant_max.amount().to_string(),
            opens_at: local(spec.opens_at, tz),
            closes_at: local(spec.closes_at, tz),
            project_start: d(spec.project_start),
            project_end: d(spec.project_end),
            focus_areas: spec.focus_areas.join("\n"),
            rules: NUMBER_RULES
                .iter()
                .map(|(n, _)| (*n, rule_text(&spec.rules, n)))
                .collect(),
            min_rating: spec
                .rules
                .min_rating
                .map(|r| r.as_str().to_string())
                .unwrap_or_default(),
            require_passed_assessment: spec.rules.require_passed_assessment,
            score_normalization: spec.rules.score_normalization,
            rubric_total: spec.rubric.total.to_string(),
            score_step: spec.rubric.score_step.to_string(),
            criteria: spec
                .rubric
                .criteria
                .iter()
                .map(|c| {
                    (
                        c.key.clone(),
                        c.name.clone(),
                        c.max.to_string(),
                        c.party_element,
                    )
                })
                .collect(),
            party_points: POINTS
                .iter()
                .map(|(n, _)| (*n, points_text(&spec.party_points, n)))
                .collect(),
            tranches: spec
                .tranche_schedule
                .iter()
                .map(|t| (t.percent.to_string(), t.milestone.as_str().to_string()))
                .collect(),
        }
    }

    fn posted(form: &PostedForm) -> Self {
        let rows = |a: &str| form.all(a).into_iter().map(|v| v.trim().to_string());
        let criteria = rows("criterion_key")
            .zip(rows("criterion_name"))
            .zip(rows("criterion_max"))
            .zip(rows("criterion_party"))
            .map(|(((k, n), m), p)| (k, n, m, p == "yes"))
            .collect();
        Self {
            name: form.text("name"),
            year: form.text("year"),
            kind: form.text("kind"),
            total_pool: form.text("total_pool"),
            grant_min: form.text("grant_min"),
            grant_max: form.text("grant_max"),
            opens_at: form.text("opens_at"),
            closes_at: form.text("closes_at"),
            project_start: form.text("project_start"),
            project_end: form.text("project_end"),
            focus_areas: form.text("focus_areas"),
            rules: NUMBER_RULES
                .iter()
                .map(|(n, _)| (*n, form.text(&format!("rules.{n}"))))
                .collect(),
            min_rating: form.text("rules.min_rating"),
            require_passed_assessment: form.checked("rules.require_passed_assessment"),
            score_normalization: form.checked("rules.score_normalization"),
            rubric_total: form.text("rubric.total"),
            score_step: form.text("rubric.score_step"),
            criteria,
            party_points: POINTS
                .iter()
                .map(|(n, _)| (*n, form.text(&format!("party_points.{n}"))))
                .collect(),
            tranches: rows("tranche_percent")
                .zip(rows("tranche_milestone"))
                .collect(),
        }
    }
}

/// `base` with every field the form shows replaced by what was posted; the rules the form
/// does not show keep `base`'s values.
fn spec_of(
    form: &PostedForm,
    mut spec: RoundSpec,
    tz: chrono_tz::Tz,
) -> Result<RoundSpec, FieldErrors> {
    let typed = RoundForm::posted(form);
    let mut f = Fields::new(form);
    macro_rules! set {
        ($target:expr, $value:expr) => {
            if let Some(v) = $value {
                $target = v;
            }
        };
    }
    spec.name = typed.name.clone();
    set!(spec.year, f.whole::<i32>("year"));
    set!(spec.total_pool, f.money("total_pool"));
    set!(spec.grant_min, f.money("grant_min"));
    set!(spec.grant_max, f.money("grant_max"));
    set!(spec.opens_at, f.time("opens_at", tz));
    set!(spec.closes_at, f.time("closes_at", tz));
    set!(spec.project_start, f.date("project_start"));
    set!(spec.project_end, f.date("project_end"));
    spec.focus_areas = typed
        .focus_areas
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let r = &mut spec.rules;
    set!(
        r.max_applications_per_organization,
        f.whole("rules.max_applications_per_organization")
    );
    set!(
        r.max_personnel_ratio,
        f.decimal("rules.max_personnel_ratio", &RATIO)
    );
    set!(
        r.min_organization_age_months,
        f.whole("rules.min_organization_age_months")
    );
    set!(
        r.min_co_funding_ratio,
        f.decimal("rules.min_co_funding_ratio", &RATIO)
    );
    set!(r.min_reviewers, f.whole("rules.min_reviewers"));
    set!(r.pass_mark, f.decimal("rules.pass_mark", &RUBRIC_POINTS));
    set!(r.public_notice_days, f.whole("rules.public_notice_days"));
    set!(
        r.min_rating,
        f.optional_choice::<Rating>("rules.min_rating")
    );
    r.require_passed_assessment = typed.require_passed_assessment;
    r.score_normalization = typed.score_normalization;
    set!(spec.rubric.total, f.decimal("rubric.total", &RUBRIC_POINTS));
    set!(
        spec.rubric.score_step,
        f.decimal("rubric.score_step", &SCORE_STEP)
    );
    let mut criteria = Vec::new();
    for (key, name, max, party) in typed.criteria.iter().filter(|(k, n, m, _)| {
        // Blank rows are the form's spare lines.
        !(k.is_empty() && n.is_empty() && m.is_empty())
    }) {
        let i = criteria.len();
        let max = f.decimal_text(&format!("rubric.criteria[{i}].max"), max, &RUBRIC_POINTS);
        criteria.push(Criterion {
            key: key.clone(),
            name: name.clone(),
            max: max.unwrap_or_default(),
            party_element: *party,
        });
    }
    spec.rubric.criteria = criteria;
    let p = &mut spec.party_points;
    for (name, _) in POINTS {
        let value = f.decimal(&format!("party_points.{name}"), &PARTY_POINTS);
        let slot = match *name {
            "independent_branch" => &mut p.independent_branch,
            "joint_branch" => &mut p.joint_branch,
            "instructor_only" => &mut p.instructor_only,
            "none" => &mut p.none,
            "party_member_on_team" => &mut p.party_member_on_team,
            "party_activity_planned" => &mut p.party_activity_planned,
            "red_project" => &mut p.red_project,
            _ => &mut p.max_objective,
        };
        set!(*slot, value);
    }
    let mut tranches = Vec::new();
    for (percent, milestone) in typed.tranches.iter().filter(|(p, _)| !p.is_empty()) {
        let i = tranches.len();
        let percent = f.decimal_text(&format!("tranche_schedule[{i}].percent"), percent, &PERCENT);
        let milestone = milestone.parse::<Milestone>().ok();
        if milestone.is_none() {
            f.refuse(
                &format!("tranche_schedule[{i}].milestone"),
                "choice",
                "choose one of the options",
                "",
            );
        }
        tranches.push(TrancheSpec {
            percent: percent.unwrap_or_default(),
            milestone: milestone.unwrap_or(Milestone::FinalEvaluation),
        });
    }
    spec.tranche_schedule = tranches;
    if f.violations.is_empty() {
        Ok(spec)
    } else {
        Err(FieldErrors::from_violations(&f.violations))
    }
}

/// A new round of `kind` with the domain's defaults and a window from now for 30 days.
fn defaults(kind: RoundKind) -> RoundSpec {
    let now = Utc::now();
    let opens = now
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now);
    RoundSpec {
        name: String::new(),
        year: now.year(),
        kind,
        total_pool: Money::ZERO,
        grant_min: Money::ZERO,
        grant_max: Money::ZERO,
        opens_at: opens,
        closes_at: opens + Duration::days(30),
        project_start: None,
        project_end: None,
        focus_areas: vec![],
        rules: RoundRules::defaults_for(kind),
        rubric: Rubric::default(),
        party_points: PartyPointsTable::default(),
        tranche_schedule: default_tranches(),
    }
}

#[derive(Template)]
#[template(path = "round_form.html")]
struct RoundFormTemplate {
    page: PageContext,
    /// `None` for a new round.
    round: Option<RoundRow>,
    f: RoundForm,
    errors: FieldErrors,
}

impl RoundFormTemplate {
    fn field_errors(&self, field: &str) -> Vec<&str> {
        self.errors.of(field)
    }
    fn rule_errors(&self, name: &str) -> Vec<&str> {
        self.errors.of(&format!("rules.{name}"))
    }
    fn kinds(&self) -> Vec<&'static str> {
        RoundKind::ALL.iter().map(|k| k.as_str()).collect()
    }
    fn ratings(&self) -> Vec<&'static str> {
        Rating::ALL.iter().map(|r| r.as_str()).collect()
    }
    fn milestones(&self) -> Vec<&'static str> {
        Milestone::ALL.iter().map(|m| m.as_str()).collect()
    }
    fn rule_label(&self, name: &str) -> String {
        let en = NUMBER_RULES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, l)| *l)
            .unwrap_or(name);
        self.page.word(en)
    }
    fn points_label(&self, name: &str) -> String {
        let en = POINTS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, l)| *l)
            .unwrap_or(name);
        self.page.word(en)
    }
    /// The criteria with two spare lines to add one without a script.
    fn criteria_rows(&self) -> Vec<(String, String, String, bool)> {
        let mut rows = self.f.criteria.clone();
        rows.extend(std::iter::repeat_n(Default::default(), 2));
        rows
    }
    fn tranche_rows(&self) -> Vec<(String, String)> {
        let mut rows = self.f.tranches.clone();
        rows.push(Default::default());
        rows
    }
    fn action(&self) -> String {
        match &self.round {
            Some(r) => format!("/rounds/{}", r.id),
            None => "/rounds".into(),
        }
    }
}

fn render_form(
    state: &AppState,
    s: &WebSession,
    round: Option<RoundRow>,
    f: RoundForm,
    errors: FieldErrors,
) -> WebResult<HttpResponse> {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    html_status(
        status,
        &RoundFormTemplate {
            page: context(state, s),
            round,
            f,
            errors,
        },
    )
}

#[derive(Deserialize)]
pub struct NewRoundQuery {
    pub kind: Option<String>,
}

#[get("/rounds/new")]
pub async fn new_round(
    state: web::Data<AppState>,
    Signed(s): Signed,
    q: web::Query<NewRoundQuery>,
) -> WebResult<HttpResponse> {
    s.caller.require(roles::ADMIN)?;
    let kind = q
        .kind
        .as_deref()
        .and_then(|k| k.parse().ok())
        .unwrap_or(RoundKind::VenturePhilanthropy);
    let tz = crate::web::format::zone(&state.settings.web.time_zone);
    let f = RoundForm::of(&defaults(kind), tz);
    render_form(&state, &s, None, f, FieldErrors::default())
}

fn refused(e: Error) -> WebResult<FieldErrors> {
    FieldErrors::from_error(&e).ok_or(WebError::Service(e))
}

#[post("/rounds")]
pub async fn create_round(
    state: web::Data<AppState>,
    Signed(s): Signed,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    s.caller.require(roles::ADMIN)?;
    let tz = crate::web::format::zone(&state.settings.web.time_zone);
    let Ok(kind) = form.text("kind").parse::<RoundKind>() else {
        let v = crate::domain::violation::Violation::new("choice", "choose one of the options")
            .field("kind");
        return render_form(
            &state,
            &s,
            None,
            RoundForm::posted(&form),
            FieldErrors::from_violations(&[v]),
        );
    };
    let spec = match spec_of(&form, defaults(kind), tz) {
        Ok(spec) => spec,
        Err(errors) => return render_form(&state, &s, None, RoundForm::posted(&form), errors),
    };
    match svc::create(&state.db, spec, &s.caller).await {
        Ok(row) => Ok(see_other(&format!("/rounds/{}", row.id))),
        Err(e) => render_form(&state, &s, None, RoundForm::posted(&form), refused(e)?),
    }
}

/// A draft's form; a round past its draft answers 409 (its rules are frozen once open).
async fn draft(state: &AppState, s: &WebSession, id: Uuid) -> WebResult<RoundRow> {
    let r = crate::service::office::round_page(&state.db, &s.caller, id).await?;
    if r.round.status != RoundStatus::Draft.as_str() {
        return Err(Error::invalid_state(format!(
            "a round can be changed only as a draft; this one is {}",
            r.round.status
        ))
        .into());
    }
    Ok(r.round)
}

#[get("/rounds/{id}/edit")]
pub async fn edit_round(
    state: web::Data<AppState>,
    Signed(s): Signed,
    path: web::Path<Uuid>,
) -> WebResult<HttpResponse> {
    s.caller.require(roles::ADMIN)?;
    let round = draft(&state, &s, path.into_inner()).await?;
    let tz = crate::web::format::zone(&state.settings.web.time_zone);
    let f = RoundForm::of(&RoundSpec::from_row(&round)?, tz);
    render_form(&state, &s, Some(round), f, FieldErrors::default())
}

/// The draft's changes (the API's PATCH), every rule re-checked by the use case.
#[post("/rounds/{id}")]
pub async fn update_round(
    state: web::Data<AppState>,
    Signed(s): Signed,
    path: web::Path<Uuid>,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    s.caller.require(roles::ADMIN)?;
    let id = path.into_inner();
    let round = draft(&state, &s, id).await?;
    let tz = crate::web::format::zone(&state.settings.web.time_zone);
    let spec = match spec_of(&form, RoundSpec::from_row(&round)?, tz) {
        Ok(spec) => spec,
        Err(errors) => {
            return render_form(&state, &s, Some(round), RoundForm::posted(&form), errors)
        }
    };
    match svc::update(&state.db, id, &s.caller, move |current| {
        // The kind stays what it was created as.
        let kind = current.kind;
        *current = spec;
        current.kind = kind;
        Ok(())
    })
    .await
    {
        Ok(_) => Ok(see_other(&format!("/rounds/{id}"))),
        Err(e) => render_form(
            &state,
            &s,
            Some(round),
            RoundForm::posted(&form),
            refused(e)?,
        ),
    }
}
