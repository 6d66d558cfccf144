//! The one error envelope: every failure leaves the service as RFC 9457 problem+json with a
//! stable snake_case `code`, its `detail` and violation messages in the reader's language.
//! A use case's `service::Error` becomes HTTP here and nowhere else.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::user::Language;
use crate::domain::violation::Violation;
use crate::i18n;
use crate::service;
use crate::storage::StorageError;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// What a JSON API request can fail with: a use case's error, or one of the few failures that
/// only HTTP has (no credentials, a body too large or malformed, an overloaded server).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Service(#[from] service::Error),
    #[error("authentication required")]
    Unauthorized,
    #[error("request body larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 415: an upload that is not multipart, or whose bytes are not of an accepted type.
    #[error("{detail}")]
    UnsupportedMediaType { detail: String },
    /// 503 with `Retry-After`: `request_timeout` (the whole-request deadline passed) or `busy`
    /// (too many expensive requests at once).
    #[error("{detail}")]
    Overloaded {
        code: &'static str,
        detail: String,
        retry_after_secs: u64,
    },
}

/// RFC 9457 problem details, as every error response carries them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type: `urn:gongyi:problem:{code}`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable error code (snake_case).
    pub code: String,
    /// Every violated rule, for `validation_failed` and `rule_violation`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub violations: Option<Vec<Violation>>,
}

impl ApiError {
    pub fn invalid_state(detail: impl Into<String>) -> Self {
        service::Error::invalid_state(detail).into()
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        service::Error::forbidden(detail).into()
    }
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        service::Error::bad_request(code, detail).into()
    }
    /// One validation violation.
    pub fn invalid(violation: Violation) -> Self {
        service::Error::invalid(violation).into()
    }
    pub fn validation(violations: Vec<Violation>) -> Self {
        service::Error::Validation(violations).into()
    }
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        service::Error::Internal(e.into()).into()
    }
    pub fn not_found() -> Self {
        service::Error::NotFound.into()
    }
    pub fn unavailable() -> Self {
        service::Error::Unavailable.into()
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Service(e) => e.code(),
            ApiError::Overloaded { code, .. } => code,
            ApiError::Unauthorized => "unauthorized",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType { .. } => "unsupported_media_type",
        }
    }

    /// The problem document, with `detail` and every violation's `message` in `lang`.
    pub fn problem(&self, lang: Language) -> Problem {
        let status = self.status_code();
        let detail = match self {
            // Never leak internals: the cause chain goes to the log only.
            ApiError::Service(service::Error::Internal(_)) => {
                i18n::text(lang, "an unexpected error occurred; it has been logged")
            }
            ApiError::Service(e) => i18n::text(lang, &e.to_string()),
            other => i18n::text(lang, &other.to_string()),
        };
        let violations = match self {
            ApiError::Service(e) => e.violations().map(|v| {
                v.iter()
                    .map(|v| i18n::localize_violation(lang, v))
                    .collect()
            }),
            _ => None,
        };
        Problem {
            kind: format!("urn:gongyi:problem:{}", self.code()),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail,
            code: self.code().to_string(),
            violations,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Service(e) => status_of(e),
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Service(service::Error::Internal(e)) => {
                tracing::error!(error = ?e, "internal error")
            }
            ApiError::Service(service::Error::Unavailable) => {
                tracing::warn!("answering 503: service unavailable")
            }
            ApiError::Overloaded { code, .. } => tracing::warn!(code, "answering 503"),
            _ => {}
        }
        let mut builder = HttpResponse::build(self.status_code());
        builder.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        match self {
            ApiError::Unauthorized => {
                builder.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            ApiError::Service(service::Error::TooManyRequests { retry_after_secs })
            | ApiError::Overloaded {
                retry_after_secs, ..
            } => {
                builder.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            ApiError::Service(service::Error::Unavailable) => {
                builder.insert_header((header::RETRY_AFTER, "1"));
            }
            _ => {}
        }
        let problem = self.problem(i18n::current());
        builder.body(serde_json::to_string(&problem).unwrap_or_default())
    }
}

/// The HTTP status of a use case's error; the pages use the same one.
pub fn status_of(e: &service::Error) -> StatusCode {
    use service::Error as E;
    match e {
        E::BadRequest { .. } => StatusCode::BAD_REQUEST,
        E::InvalidCredentials => StatusCode::UNAUTHORIZED,
        E::Forbidden { .. } => StatusCode::FORBIDDEN,
        E::NotFound => StatusCode::NOT_FOUND,
        E::Conflict { .. } => StatusCode::CONFLICT,
        E::Validation(_) | E::RuleViolation(_) | E::Unprocessable { .. } => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        E::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
        E::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        E::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        service::Error::from(e).into()
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        service::Error::from(e).into()
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        service::Error::Internal(e).into()
    }
}
