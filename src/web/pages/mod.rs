//! Page handlers, one file per area. Each parses the request, calls a `service` use case and
//! renders a template; nothing else.

pub mod applications;
pub mod assignments;
pub mod attachments;
pub mod auth;
pub mod form_fields;
pub mod grants;
pub mod home;
pub mod notices;
pub mod office;
pub mod organizations;
pub mod oversight;
pub mod payouts;
pub mod registry;
pub mod round_setup;
pub mod spending;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use askama::Template;

use crate::service;
use crate::web::error::{WebError, WebResult};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(auth::login_form)
        .service(auth::login)
        .service(auth::logout)
        .service(home::home)
        .configure(applications::configure)
        .configure(grants::configure)
        // Before the `{id}` routes of organizations and office: `/organizations/new`,
        // `/rounds/new`.
        .configure(registry::configure)
        .configure(round_setup::configure)
        .configure(organizations::configure)
        .configure(payouts::configure)
        .configure(notices::configure)
        .configure(assignments::configure)
        .configure(office::configure)
        .configure(oversight::configure)
        .configure(spending::configure)
        .configure(attachments::configure);
}

/// Any path no page has: the 404 page (the same one a page shows for another organization's
/// record, so the two cannot be told apart).
pub async fn not_found() -> WebResult<HttpResponse> {
    Err(WebError::Service(service::Error::NotFound))
}

/// A rendered template as an HTML answer that no cache keeps (pages show private data).
pub fn html(t: &impl Template) -> WebResult<HttpResponse> {
    html_status(actix_web::http::StatusCode::OK, t)
}

pub fn html_status(
    status: actix_web::http::StatusCode,
    t: &impl Template,
) -> WebResult<HttpResponse> {
    let body = t
        .render()
        .map_err(|e| WebError::Service(service::Error::Internal(e.into())))?;
    Ok(HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

/// After a successful post: go to `to` (303, so a reload does not post again).
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_string()))
        .finish()
}

/// Violations by field, for the messages printed beside each field.
#[derive(Default)]
pub struct FieldErrors {
    pub by_field: Vec<(String, String)>,
    /// Violations without a field (or a field the form does not show).
    pub general: Vec<String>,
}

impl FieldErrors {
    pub fn from_error(e: &service::Error) -> Option<Self> {
        let lang = crate::i18n::current();
        let vs = e.violations()?;
        let mut out = FieldErrors::default();
        for v in vs {
            let v = crate::i18n::localize_violation(lang, v);
            match v.field {
                Some(f) if !f.is_empty() => out.by_field.push((f, v.message)),
                _ => out.general.push(v.message),
            }
        }
        Some(out)
    }

    pub fn from_violations(vs: &[crate::domain::violation::Violation]) -> Self {
        Self::from_error(&service::Error::Validation(vs.to_vec())).unwrap_or_default()
    }

    /// Messages for one field (and, with `prefix`, every field below it: `budget[0].amount`).
    pub fn of(&self, field: &str) -> Vec<&str> {
        self.by_field
            .iter()
            .filter(|(f, _)| {
                f == field
                    || f.strip_prefix(field)
                        .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
            })
            .map(|(_, m)| m.as_str())
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.by_field.is_empty() && self.general.is_empty()
    }

    pub fn all(&self) -> Vec<&str> {
        self.general
            .iter()
            .map(String::as_str)
            .chain(self.by_field.iter().map(|(_, m)| m.as_str()))
            .collect()
    }
}
