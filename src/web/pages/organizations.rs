//! An organization's page: registry facts, rating and what caps it, and, for its own
//! applicants, the contact fields they may correct (nothing else, as in the API). Admins get
//! the registry's edit form instead (`registry::show_organization`).

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use uuid::Uuid;

use crate::auth::roles;
use crate::domain::rating::{rating_cap, RatingCap, RatingCaps};
use crate::domain::user::Role;
use crate::http::AppState;
use crate::service::organizations::{self as svc, OrganizationFacts};
use crate::service::portal;
use crate::storage::models::OrganizationRow;
use crate::web::error::WebResult;
use crate::web::form::PostedForm;
use crate::web::page::PageContext;
use crate::web::pages::{html_status, see_other, FieldErrors};
use crate::web::session::Signed;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(show).service(save_contact);
}

#[derive(Template)]
#[template(path = "organization.html")]
struct OrganizationPage {
    page: PageContext,
    org: OrganizationRow,
    cap: Option<RatingCap>,
    editable: bool,
    contact: (String, String, String),
    errors: FieldErrors,
    saved: bool,
}

impl OrganizationPage {
    fn field_errors(&self, field: &str) -> Vec<&str> {
        self.errors.of(field)
    }
}

async fn render(
    state: &AppState,
    s: &crate::service::sessions::WebSession,
    id: Uuid,
    contact: Option<(String, String, String)>,
    errors: FieldErrors,
    status: StatusCode,
    saved: bool,
) -> WebResult<HttpResponse> {
    let org = portal::organization(&state.db, &s.caller, id).await?;
    let facts = OrganizationFacts::from_row(&org)?;
    let cap = rating_cap(
        facts.party_building_status,
        facts.party_assessment,
        &RatingCaps::default(),
    );
    let editable = s.caller.is(Role::Applicant) && s.caller.organization_id == Some(org.id);
    let contact = contact.unwrap_or_else(|| {
        (
            org.contact_person.clone(),
            org.contact_phone.clone(),
            org.contact_email.clone(),
        )
    });
    html_status(
        status,
        &OrganizationPage {
            page: PageContext::new(s, &state.settings.web.time_zone),
            org,
            cap,
            editable,
            contact,
            errors,
            saved,
        },
    )
}

#[derive(serde::Deserialize)]
pub struct SavedQuery {
    saved: Option<String>,
}

#[get("/organizations/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    Signed(s): Signed,
    path: web::Path<Uuid>,
    q: web::Query<SavedQuery>,
) -> WebResult<HttpResponse> {
    if s.caller.is(Role::Admin) {
        return super::registry::show_organization(
            &state,
            &s,
            path.into_inner(),
            q.saved.is_some(),
        )
        .await;
    }
    render(
        &state,
        &s,
        path.into_inner(),
        None,
        FieldErrors::default(),
        StatusCode::OK,
        q.saved.is_some(),
    )
    .await
}

/// The contact fields of the applicant's own organization.
#[post("/organizations/{id}")]
pub async fn save_contact(
    state: web::Data<AppState>,
    Signed(s): Signed,
    path: web::Path<Uuid>,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    if s.caller.is(Role::Admin) {
        return super::registry::save_organization(&state, &s, path.into_inner(), &form).await;
    }
    s.caller.require(roles::APPLICANT)?;
    let id = path.into_inner();
    let contact = (
        form.text("contact_person"),
        form.text("contact_phone"),
        form.text("contact_email"),
    );
    let (person, phone, email) = contact.clone();
    let result = svc::update(
        &state.db,
        s.caller.organization_scope(),
        id,
        &s.caller,
        move |f| {
            f.contact_person = person;
            f.contact_phone = phone;
            f.contact_email = email;
        },
    )
    .await;
    match result {
        Ok(_) => Ok(see_other(&format!("/organizations/{id}?saved=1"))),
        Err(e) => match FieldErrors::from_error(&e) {
            Some(errors) => {
                render(
                    &state,
                    &s,
                    id,
                    Some(contact),
                    errors,
                    crate::http::error::status_of(&e),
                    false,
                )
                .await
            }
            None => Err(e.into()),
        },
    }
}
