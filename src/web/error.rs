//! How a page fails: a use case's `service::Error` (rendered as an HTML page with the status
//! the API would give it), a missing session (a redirect to sign in), or a refused forgery.
//! Forms that can be corrected do not come here: their handlers show the form again with each
//! message beside its field.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::i18n;
use crate::service;
use crate::web::page::PageContext;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error(transparent)]
    Service(#[from] service::Error),
    /// No live session: sign in first, then come back to `next`.
    #[error("sign in first")]
    SignIn { next: String },
    /// An unsafe request from another site (Origin / Sec-Fetch-Site), or a form without this
    /// session's CSRF token.
    #[error("the form could not be verified; reload the page and try again")]
    Forgery,
}

pub type WebResult<T> = Result<T, WebError>;

impl From<crate::storage::StorageError> for WebError {
    fn from(e: crate::storage::StorageError) -> Self {
        WebError::Service(e.into())
    }
}

impl From<crate::auth::Forbidden> for WebError {
    fn from(e: crate::auth::Forbidden) -> Self {
        WebError::Service(e.into())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    page: PageContext,
    status: u16,
    title: &'static str,
    message: String,
    violations: Vec<String>,
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::Service(e) => crate::http::error::status_of(e),
            WebError::SignIn { .. } => StatusCode::SEE_OTHER,
            WebError::Forgery => StatusCode::FORBIDDEN,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let lang = i18n::current();
        if let WebError::SignIn { next } = self {
            let target = format!("/login?next={}", urlencode(next));
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, target))
                .finish();
        }
        let status = self.status_code();
        let (title, message, violations) = match self {
            WebError::Service(service::Error::NotFound) => (
                "Not found",
                i18n::text(lang, "no such resource, or not one you may see"),
                vec![],
            ),
            WebError::Service(service::Error::Internal(e)) => {
                tracing::error!(error = ?e, "internal error on a page");
                (
                    "Something went wrong",
                    i18n::text(lang, "an unexpected error occurred; it has been logged"),
                    vec![],
                )
            }
            WebError::Service(e @ service::Error::Forbidden { .. }) => {
                ("Forbidden", i18n::text(lang, &e.to_string()), vec![])
            }
            WebError::Service(e) => (
                "The request was refused",
                i18n::text(lang, &e.to_string()),
                e.violations()
                    .unwrap_or_default()
                    .iter()
                    .map(|v| i18n::localize_violation(lang, v).message)
                    .collect(),
            ),
            WebError::Forgery => ("Forbidden", i18n::text(lang, &self.to_string()), vec![]),
            WebError::SignIn { .. } => unreachable!("handled above"),
        };
        let body = ErrorPage {
            page: PageContext::anonymous(lang),
            status: status.as_u16(),
            title,
            message,
            violations,
        }
        .render()
        .unwrap_or_else(|_| "error".to_string());
        let mut res = HttpResponse::build(status);
        res.insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"));
        res.insert_header((header::CACHE_CONTROL, "no-store"));
        if let WebError::Service(service::Error::TooManyRequests { retry_after_secs }) = self {
            res.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        res.body(body)
    }
}

/// Percent-encodes a path for a query parameter.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
