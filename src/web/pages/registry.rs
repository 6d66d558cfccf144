//! The program office's registry pages (role admin): organizations (list with search, new,
//! the admin's edit form with the rating cap that the party-building facts allow, previewed as
//! they change) and users (list, new, deactivate). Every change goes through the same use case
//! as the API (`service::organizations`, `service::users`).

use std::str::FromStr;

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::roles;
use crate::domain::credit_code::OrganizationType;
use crate::domain::rating::{
    rating_cap, AssessmentResult, PartyBuildingStatus, Rating, RatingCap, RatingCaps,
};
use crate::domain::user::{Language, Role};
use crate::domain::violation::Violation;
use crate::http::pagination::{decode_cursor, encode_cursor};
use crate::http::AppState;
use crate::service::organizations::{self as orgs, OrganizationFacts};
use crate::service::registry::{self as svc, After, UserLine};
use crate::service::sessions::WebSession;
use crate::service::Error;
use crate::storage::models::{OrganizationRow, UserUpdateForm};
use crate::web::error::{WebError, WebResult};
use crate::web::form::PostedForm;
use crate::web::page::PageContext;
use crate::web::pages::form_fields::Fields;
use crate::web::pages::{html, html_status, see_other, FieldErrors};
use crate::web::session::Signed;

/// Registered before `organizations::configure`, so `/organizations/new` is not taken for an id.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(organizations_list)
        .service(new_organization)
        .service(rating_cap_preview)
        .service(create_organization)
        .service(users_list)
        .service(new_user)
        .service(create_user)
        .service(update_user);
}

fn context(state: &AppState, s: &WebSession) -> PageContext {
    PageContext::new(s, &state.settings.web.time_zone)
}

fn after(cursor: &Option<String>) -> After {
    cursor.as_deref().and_then(|c| decode_cursor(c).ok())
}

/// A refused form's errors: violations by field, a duplicate beside the field it repeats;
/// anything else is the error page.
fn refusal(e: Error, duplicate_field: &str) -> WebResult<FieldErrors> {
    if let Error::Conflict { code, detail } = &e {
        if *code == "credit_code_taken" || *code == "email_taken" {
            let lang = crate::i18n::current();
            let mut errors = FieldErrors::default();
            errors
                .by_field
                .push((duplicate_field.to_string(), crate::i18n::text(lang, detail)));
            return Ok(errors);
        }
    }
    FieldErrors::from_error(&e).ok_or(WebError::Service(e))
}

// ---------- organizations ----------

#[derive(Deserialize)]
pub struct ListQuery {
    pub q: Option<String>,
    pub role: Option<String>,
    pub after: Option<String>,
    pub created: Option<Uuid>,
}

#[derive(Template)]
#[template(path = "organizations.html")]
struct OrganizationsTemplate {
    page: PageContext,
    search: String,
    rows: Vec<OrganizationRow>,
    next: Option<String>,
}

impl OrganizationsTemplate {
    fn next_link(&self, cursor: &str) -> String {
        format!(
            "/organizations?q={}&after={}",
            crate::web::error::urlencode(&self.search),
            crate::web::error::urlencode(cursor)
        )
    }
}

#[get("/organizations")]
pub async fn organizations_list(
    state: web::Data<AppState>,
    Signed(s): Signed,
    q: web::Query<ListQuery>,
) -> WebResult<HttpResponse> {
    let search = q.q.clone().unwrap_or_default();
    let listed =
        svc::organizations(&state.db, &s.caller, Some(search.clone()), after(&q.after)).await?;
    html(&OrganizationsTemplate {
        page: context(&state, &s),
        search,
        rows: listed.rows,
        next: listed.next.map(encode_cursor),
    })
}

/// The organization form's fields as typed.
#[derive(Default, Clone)]
pub struct OrgForm {
    pub name: String,
    pub credit_code: String,
    pub org_type: String,
    pub registration_date: String,
    pub district: String,
    pub contact_person: String,
    pub contact_phone: String,
    pub contact_email: String,
    pub rating: String,
    pub rating_valid_until: String,
    pub party_building_status: String,
    pub party_member_count: String,
    pub party_assessment: String,
    pub blacklisted_until: String,
    pub blacklist_reason: String,
}

fn date_text(d: Option<chrono::NaiveDate>) -> String {
    d.map(crate::web::format::date).unwrap_or_default()
}

impl OrgForm {
    fn blank() -> Self {
        Self {
            org_type: OrganizationType::SocialGroup.as_str().into(),
            party_building_status: PartyBuildingStatus::None.as_str().into(),
            party_member_count: "0".into(),
            party_assessment: AssessmentResult::NotAssessed.as_str().into(),
            ..Default::default()
        }
    }

    fn of(r: &OrganizationRow) -> Self {
        Self {
            name: r.name.clone(),
            credit_code: r.credit_code.clone().unwrap_or_default(),
            org_type: r.org_type.clone(),
            registration_date: date_text(r.registration_date),
            district: r.district.clone(),
            contact_person: r.contact_person.clone(),
            contact_phone: r.contact_phone.clone(),
            contact_email: r.contact_email.clone(),
            rating: r.rating.clone().unwrap_or_default(),
            rating_valid_until: date_text(r.rating_valid_until),
            party_building_status: r.party_building_status.clone(),
            party_member_count: r.party_member_count.to_string(),
            party_assessment: r.party_assessment.clone(),
            blacklisted_until: date_text(r.blacklisted_until),
            blacklist_reason: r.blacklist_reason.clone().unwrap_or_default(),
        }
    }

    fn posted(form: &PostedForm) -> Self {
        Self {
            name: form.text("name"),
            credit_code: form.text("credit_code").to_uppercase(),
            org_type: form.text("org_type"),
            registration_date: form.text("registration_date"),
            district: form.text("district"),
            contact_person: form.text("contact_person"),
            contact_phone: form.text("contact_phone"),
            contact_email: form.text("contact_email"),
            rating: form.text("rating"),
            rating_valid_until: form.text("rating_valid_until"),
            party_building_status: form.text("party_building_status"),
            party_member_count: form.text("party_member_count"),
            party_assessment: form.text("party_assessment"),
            blacklisted_until: form.text("blacklisted_until"),
            blacklist_reason: form.text("blacklist_reason"),
        }
    }
}

/// The typed facts of a posted form, or every field that could not be read.
fn facts_of(form: &PostedForm, with_blacklist: bool) -> Result<OrganizationFacts, Vec<Violation>> {
    let mut f = Fields::new(form);
    let org_type = f.choice::<OrganizationType>("org_type");
    let registration_date = f.date("registration_date");
    let rating = f.optional_choice::<Rating>("rating");
    let rating_valid_until = f.date("rating_valid_until");
    let party_building_status = f.choice::<PartyBuildingStatus>("party_building_status");
    let party_member_count = if form.text("party_member_count").is_empty() {
        Some(0)
    } else {
        f.whole::<i32>("party_member_count")
    };
    let party_assessment = f.choice::<AssessmentResult>("party_assessment");
    let (blacklisted_until, blacklist_reason) = if with_blacklist {
        let reason = form.text("blacklist_reason");
        (
            f.date("blacklisted_until"),
            (!reason.is_empty()).then_some(reason),
        )
    } else {
        (Some(None), None)
    };
    let code = form.text("credit_code").to_uppercase();
    match (
        org_type,
        registration_date,
        rating,
        rating_valid_until,
        party_building_status,
        party_member_count,
        party_assessment,
        blacklisted_until,
    ) {
        (Some(t), Some(rd), Some(r), Some(rv), Some(pb), Some(pm), Some(pa), Some(bl))
            if f.violations.is_empty() =>
        {
            Ok(OrganizationFacts {
                name: form.text("name"),
                credit_code: (!code.is_empty()).then_some(code),
                org_type: t,
                registration_date: rd,
                district: form.text("district"),
                contact_person: form.text("contact_person"),
                contact_phone: form.text("contact_phone"),
                contact_email: form.text("contact_email"),
                rating: r,
                rating_valid_until: rv,
                party_building_status: pb,
                party_member_count: pm,
                party_assessment: pa,
                blacklisted_until: bl,
                blacklist_reason,
            })
        }
        _ => Err(f.violations),
    }
}

/// The cap the party-building facts allow, and whether the chosen rating is above it.
pub struct CapPreview {
    pub cap: Option<RatingCap>,
    pub rating: Option<Rating>,
    pub exceeds: bool,
}

impl CapPreview {
    fn of(status: &str, assessment: &str, rating: &str) -> Self {
        let status = PartyBuildingStatus::from_str(status).unwrap_or(PartyBuildingStatus::None);
        let assessment =
            AssessmentResult::from_str(assessment).unwrap_or(AssessmentResult::NotAssessed);
        let rating = Rating::from_str(rating).ok();
        let cap = rating_cap(status, assessment, &RatingCaps::default());
        let exceeds = matches!((rating, cap), (Some(r), Some(c)) if r > c.max);
        Self {
            cap,
            rating,
            exceeds,
        }
    }

    fn of_form(f: &OrgForm) -> Self {
        Self::of(&f.party_building_status, &f.party_assessment, &f.rating)
    }
}

#[derive(Template)]
#[template(path = "organization_form.html")]
struct OrganizationFormTemplate {
    page: PageContext,
    /// `None` for a new organization.
    org: Option<OrganizationRow>,
    f: OrgForm,
    cap: CapPreview,
    errors: FieldErrors,
    saved: bool,
}

impl OrganizationFormTemplate {
    fn field_errors(&self, field: &str) -> Vec<&str> {
        self.errors.of(field)
    }
    fn org_types(&self) -> Vec<&'static str> {
        OrganizationType::ALL.iter().map(|t| t.as_str()).collect()
    }
    fn ratings(&self) -> Vec<&'static str> {
        Rating::ALL.iter().map(|t| t.as_str()).collect()
    }
    fn statuses(&self) -> Vec<&'static str> {
        PartyBuildingStatus::ALL
            .iter()
            .map(|t| t.as_str())
            .collect()
    }
    fn assessments(&self) -> Vec<&'static str> {
        AssessmentResult::ALL.iter().map(|t| t.as_str()).collect()
    }
    /// Party-building words, unambiguous out of context ("none" is "三无" here).
    fn status_label(&self, t: &str) -> String {
        match t {
            "none" => self.page.t("no party organization (三无)").into_owned(),
            other => self.page.word(other),
        }
    }
    fn assessment_label(&self, t: &str) -> String {
        match t {
            "passed" => self.page.t("assessment passed").into_owned(),
            "failed" => self.page.t("assessment failed").into_owned(),
            _ => self.page.t("assessment not done").into_owned(),
        }
    }
    fn action(&self) -> String {
        match &self.org {
            Some(o) => format!("/organizations/{}", o.id),
            None => "/organizations".into(),
        }
    }
}

fn render_form(
    state: &AppState,
    s: &WebSession,
    org: Option<OrganizationRow>,
    f: OrgForm,
    errors: FieldErrors,
    saved: bool,
) -> WebResult<HttpResponse> {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    html_status(
        status,
        &OrganizationFormTemplate {
            page: context(state, s),
            org,
            cap: CapPreview::of_form(&f),
            f,
            errors,
            saved,
        },
    )
}

#[get("/organizations/new")]
pub async fn new_organization(
    state: web::Data<AppState>,
    Signed(s): Signed,
) -> WebResult<HttpResponse> {
    s.caller.require(roles::ADMIN)?;
    render_form(
        &state,
        &s,
        None,
        OrgForm::blank(),
        FieldErrors::default(),
        false,
    )
}

#[derive(Deserialize)]
pub struct CapQuery {
    pub party_building_status: Option<String>,
    pub party_assessment: Option<String>,
    pub rating: Option<String>,
}

#[derive(Template)]
#[template(path = "rating_cap.html")]
struct RatingCapTemplate {
    page: PageContext,
    cap: CapPreview,
}

/// The htmx partial beside the rating: the cap the facts being typed allow (rule 4, computed
/// by the same pure function the use case checks with).
#[get("/organizations/rating-cap")]
pub async fn rating_cap_preview(
    state: web::Data<AppState>,
    Signed(s): Signed,
    q: web::Query<CapQuery>,
) -> WebResult<HttpResponse> {
    s.caller.require(roles::ADMIN)?;
    let cap = CapPreview::of(
        q.party_building_status.as_deref().unwrap_or_default(),
        q.party_assessment.as_deref().unwrap_or_default(),
        q.rating.as_deref().unwrap_or_default(),
    );
    html(&RatingCapTemplate {
        page: context(&state, &s),
        cap,
    })
}

#[post("/organizations")]
pub async fn create_organization(
    state: web::Data<AppState>,
    Signed(s): Signed,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    s.caller.require(roles::ADMIN)?;
    let typed = OrgForm::posted(&form);
    let facts = match facts_of(&form, false) {
        Ok(f) => f,
        Err(v) => {
            return render_form(
                &state,
                &s,
                None,
                typed,
                FieldErrors::from_violations(&v),
                false,
            )
        }
    };
    match orgs::create(&state.db, facts, Some(&s.caller)).await {
        Ok(row) => Ok(see_other(&format!("/organizations/{}?saved=1", row.id))),
        Err(e) => render_form(&state, &s, None, typed, refusal(e, "credit_code")?, false),
    }
}

/// The admin's view of `/organizations/{id}`: every field in the edit form.
pub async fn show_organization(
    state: &AppState,
    s: &WebSession,
    id: Uuid,
    saved: bool,
) -> WebResult<HttpResponse> {
    let org = svc::organization(&state.db, &s.caller, id).await?;
    let f = OrgForm::of(&org);
    render_form(state, s, Some(org), f, FieldErrors::default(), saved)
}

/// The admin's save of `/organizations/{id}` (the API's PATCH): every rule re-checked, the
/// rating cap included.
pub async fn save_organization(
    state: &AppState,
    s: &WebSession,
    id: Uuid,
    form: &PostedForm,
) -> WebResult<HttpResponse> {
    s.caller.require(roles::ADMIN)?;
    let org = svc::organization(&state.db, &s.caller, id).await?;
    let typed = OrgForm::posted(form);
    let facts = match facts_of(form, true) {
        Ok(f) => f,
        Err(v) => {
            return render_form(
                state,
                s,
                Some(org),
                typed,
                FieldErrors::from_violations(&v),
                false,
            )
        }
    };
    match orgs::update(
        &state.db,
        s.caller.organization_scope(),
        id,
        &s.caller,
        move |f| *f = facts,
    )
    .await
    {
        Ok(_) => Ok(see_other(&format!("/organizations/{id}?saved=1"))),
        Err(e) => render_form(
            state,
            s,
            Some(org),
            typed,
            refusal(e, "credit_code")?,
            false,
        ),
    }
}

// ---------- users ----------

#[derive(Template)]
#[template(path = "users.html")]
struct UsersTemplate {
    page: PageContext,
    role: String,
    lines: Vec<UserLine>,
    next: Option<String>,
    created: Option<Uuid>,
}

impl UsersTemplate {
    fn roles(&self) -> Vec<&'static str> {
        Role::ALL.iter().map(|r| r.as_str()).collect()
    }
    fn next_link(&self, cursor: &str) -> String {
        format!(
            "/users?role={}&after={}",
            crate::web::error::urlencode(&self.role),
            crate::web::error::urlencode(cursor)
        )
    }
    fn created_email(&self) -> Option<&str> {
        let id = self.created?;
        self.lines
            .iter()
            .find(|l| l.user.id == id)
            .map(|l| l.user.email.as_str())
    }
}

#[get("/users")]
pub async fn users_list(
    state: web::Data<AppState>,
    Signed(s): Signed,
    q: web::Query<ListQuery>,
) -> WebResult<HttpResponse> {
    let role = q
        .role
        .clone()
        .filter(|r| Role::from_str(r).is_ok())
        .unwrap_or_default();
    let listed = svc::users(
        &state.db,
        &s.caller,
        (!role.is_empty()).then(|| role.clone()),
        after(&q.after),
    )
    .await?;
    html(&UsersTemplate {
        page: context(&state, &s),
        role,
        lines: listed.rows,
        next: listed.next.map(encode_cursor),
        created: q.created,
    })
}

#[derive(Default)]
pub struct UserForm {
    pub email: String,
    pub name: String,
    pub role: String,
    pub organization_id: String,
    pub password: String,
    pub language: String,
}

#[derive(Template)]
#[template(path = "user_form.html")]
struct UserFormTemplate {
    page: PageContext,
    f: UserForm,
    organizations: Vec<(Uuid, String)>,
    errors: FieldErrors,
}

impl UserFormTemplate {
    fn field_errors(&self, field: &str) -> Vec<&str> {
        self.errors.of(field)
    }
    fn roles(&self) -> Vec<&'static str> {
        Role::ALL.iter().map(|r| r.as_str()).collect()
    }
    fn selected_org(&self, id: &Uuid) -> bool {
        self.f.organization_id == id.to_string()
    }
}

/// An initial password for the admin to hand over (the API's flow: the admin sets it, the
/// user signs in with it); 16 characters from an alphabet without look-alikes.
fn initial_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..16)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

async fn render_user_form(
    state: &AppState,
    s: &WebSession,
    f: UserForm,
    errors: FieldErrors,
) -> WebResult<HttpResponse> {
    let organizations = svc::organization_choices(&state.db, &s.caller).await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    html_status(
        status,
        &UserFormTemplate {
            page: context(state, s),
            f,
            organizations,
            errors,
        },
    )
}

#[derive(Deserialize)]
pub struct NewUserQuery {
    pub organization_id: Option<Uuid>,
    pub role: Option<String>,
}

#[get("/users/new")]
pub async fn new_user(
    state: web::Data<AppState>,
    Signed(s): Signed,
    q: web::Query<NewUserQuery>,
) -> WebResult<HttpResponse> {
    s.caller.require(roles::ADMIN)?;
    let role = q
        .role
        .clone()
        .filter(|r| Role::from_str(r).is_ok())
        .unwrap_or_else(|| Role::Applicant.as_str().into());
    let f = UserForm {
        role,
        organization_id: q.organization_id.map(|o| o.to_string()).unwrap_or_default(),
        password: initial_password(),
        language: Language::Zh.as_str().into(),
        ..Default::default()
    };
    render_user_form(&state, &s, f, FieldErrors::default()).await
}

#[post("/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    Signed(s): Signed,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    s.caller.require(roles::ADMIN)?;
    let typed = UserForm {
        email: form.text("email"),
        name: form.text("name"),
        role: form.text("role"),
        organization_id: form.text("organization_id"),
        password: form.text("password"),
        language: form.text("language"),
    };
    let mut fields = Fields::new(&form);
    let role = fields.choice::<Role>("role");
    let language = fields
        .optional_choice::<Language>("language")
        .map(|l| l.unwrap_or(Language::Zh));
    // Only applicants belong to an organization: the choice is ignored for the other roles,
    // since the form keeps one select for all.
    let organization_id = match role {
        Some(Role::Applicant) if !typed.organization_id.is_empty() => {
            match typed.organization_id.parse::<Uuid>() {
                Ok(id) => Some(Some(id)),
                Err(_) => {
                    fields.refuse(
                        "organization_id",
                        "choice",
                        "choose one of the options",
                        &typed.organization_id,
                    );
                    None
                }
            }
        }
        _ => Some(None),
    };
    let (Some(role), Some(language), Some(organization_id)) = (role, language, organization_id)
    else {
        let errors = FieldErrors::from_violations(&fields.violations);
        return render_user_form(&state, &s, typed, errors).await;
    };
    let input = crate::service::users::NewUserInput {
        email: typed.email.clone(),
        name: typed.name.clone(),
        role,
        organization_id,
        password: form.get("password").unwrap_or_default().to_string(),
        language,
    };
    match crate::service::users::create(&state.db, &state.settings.auth, input, Some(&s.caller))
        .await
    {
        Ok(row) => Ok(see_other(&format!("/users?created={}", row.id))),
        Err(e) => {
            let errors = refusal(e, "email")?;
            render_user_form(&state, &s, typed, errors).await
        }
    }
}

/// Deactivates (`active=false`) or reactivates a user, as the API's PATCH does: a deactivated
/// user's sessions and tokens stop working at once.
#[post("/users/{id}")]
pub async fn update_user(
    state: web::Data<AppState>,
    Signed(s): Signed,
    path: web::Path<Uuid>,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    s.caller.require(roles::ADMIN)?;
    let active = match form.get("active") {
        Some("true") => true,
        Some("false") => false,
        other => {
            return Err(Error::invalid(
                Violation::new("choice", "choose one of the options")
                    .actual(other.unwrap_or_default())
                    .field("active"),
            )
            .into())
        }
    };
    let update = UserUpdateForm {
        active: Some(active),
        updated_at: Some(chrono::Utc::now()),
        ..Default::default()
    };
    crate::service::users::update(&state.db, path.into_inner(), update, &s.caller).await?;
    Ok(see_other("/users"))
}
