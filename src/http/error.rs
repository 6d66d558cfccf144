//! The one error envelope: every failure leaves the service as RFC 9457 problem+json with a
//! stable snake_case `code`. Storage errors become HTTP errors here and nowhere else.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::violation::Violation;
use crate::storage::StorageError;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    #[error("authentication required")]
    Unauthorized,
    #[error("unknown email or wrong password")]
    InvalidCredentials,
    #[error("{detail}")]
    Forbidden { code: &'static str, detail: String },
    #[error("not found")]
    NotFound,
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("request body larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 415: an upload whose bytes are not of an accepted type.
    #[error("{detail}")]
    UnsupportedMediaType { detail: String },
    #[error("the request is not valid")]
    Validation(Vec<Violation>),
    #[error("the request breaks one or more rules")]
    RuleViolation(Vec<Violation>),
    #[error("{detail}")]
    Unprocessable { code: &'static str, detail: String },
    #[error("too many attempts")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("service temporarily unavailable")]
    Unavailable,
    /// 503 with `Retry-After`: `request_timeout` (the whole-request deadline passed) or `busy`
    /// (too many expensive requests at once).
    #[error("{detail}")]
    Overloaded {
        code: &'static str,
        detail: String,
        retry_after_secs: u64,
    },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
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
        ApiError::Conflict {
            code: "invalid_state",
            detail: detail.into(),
        }
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        ApiError::Forbidden {
            code: "forbidden",
            detail: detail.into(),
        }
    }
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            detail: detail.into(),
        }
    }
    /// One validation violation (most handlers collect several and use `Validation`).
    pub fn invalid(violation: Violation) -> Self {
        ApiError::Validation(vec![violation])
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. }
            | ApiError::Forbidden { code, .. }
            | ApiError::Conflict { code, .. }
            | ApiError::Unprocessable { code, .. }
            | ApiError::Overloaded { code, .. } => code,
            ApiError::Unauthorized => "unauthorized",
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::NotFound => "not_found",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType { .. } => "unsupported_media_type",
            ApiError::Validation(_) => "validation_failed",
            ApiError::RuleViolation(_) => "rule_violation",
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::Unavailable => "service_unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }

    pub fn problem(&self) -> Problem {
        let status = self.status_code();
        let detail = match self {
            // Never leak internals: the cause chain goes to the log only.
            ApiError::Internal(_) => "an unexpected error occurred; it has been logged".to_string(),
            ApiError::NotFound => "no such resource, or not one you may see".to_string(),
            ApiError::Unavailable => {
                "the service is temporarily unavailable; retry shortly".to_string()
            }
            other => other.to_string(),
        };
        let violations = match self {
            ApiError::Validation(v) | ApiError::RuleViolation(v) => Some(v.clone()),
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
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized | ApiError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_)
            | ApiError::RuleViolation(_)
            | ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable | ApiError::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Internal(e) => tracing::error!(error = ?e, "internal error"),
            ApiError::Unavailable => tracing::warn!("answering 503: service unavailable"),
            ApiError::Overloaded { code, .. } => tracing::warn!(code, "answering 503"),
            _ => {}
        }
        let mut builder = HttpResponse::build(self.status_code());
        builder.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        match self {
            ApiError::Unauthorized => {
                builder.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            ApiError::TooManyRequests { retry_after_secs }
            | ApiError::Overloaded {
                retry_after_secs, ..
            } => {
                builder.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            ApiError::Unavailable => {
                builder.insert_header((header::RETRY_AFTER, "1"));
            }
            _ => {}
        }
        builder.body(serde_json::to_string(&self.problem()).unwrap_or_default())
    }
}

/// Storage failures mapped once: missing rows are 404, broken constraints are conflicts or
/// validation errors with stable codes, an exhausted pool or a lost database is 503.
impl From<StorageError> for ApiError {
    fn from(err: StorageError) -> Self {
        use diesel::result::{DatabaseErrorKind as K, Error as D};
        match err {
            StorageError::PoolTimeout | StorageError::Unavailable(_) => ApiError::Unavailable,
            StorageError::Diesel(D::NotFound) => ApiError::NotFound,
            StorageError::Diesel(D::DatabaseError(kind, info)) => {
                let constraint = info.constraint_name().unwrap_or_default().to_string();
                match kind {
                    K::UniqueViolation => ApiError::Conflict {
                        code: unique_code(&constraint),
                        detail: format!(
                            "a record with the same {} already exists",
                            unique_field(&constraint)
                        ),
                    },
                    K::ForeignKeyViolation => ApiError::Unprocessable {
                        code: "reference_not_found",
                        detail: "a referenced record does not exist".to_string(),
                    },
                    K::CheckViolation if constraint == "payouts_maker_checker" => {
                        ApiError::Forbidden {
                            code: "self_approval_forbidden",
                            detail: "a payout is approved or rejected by a finance user other than the one who requested it".to_string(),
                        }
                    }
                    K::CheckViolation
                        if constraint == "tranches_within_amount"
                            || constraint == "grants_within_award" =>
                    {
                        ApiError::RuleViolation(vec![Violation::new(
                            if constraint == "grants_within_award" {
                                "award_limit"
                            } else {
                                "tranche_limit"
                            },
                            "payouts never exceed their tranche or the award",
                        )])
                    }
                    K::CheckViolation | K::NotNullViolation => ApiError::Unprocessable {
                        code: "constraint_violation",
                        detail: format!("the data breaks the rule `{constraint}`"),
                    },
                    K::SerializationFailure => ApiError::Conflict {
                        code: "concurrent_update",
                        detail: "another request changed this at the same time; retry".to_string(),
                    },
                    K::ClosedConnection => ApiError::Unavailable,
                    _ if is_unavailable_message(info.message()) => ApiError::Unavailable,
                    // Postgres TEXT cannot hold U+0000; a JSON "\u0000" in any string reached
                    // the database and answered 500 (found by scripts/fuzz.sh). It is bad input.
                    _ if info.message().contains("0x00") && info.message().contains("invalid byte sequence") => {
                        ApiError::invalid(Violation::new(
                            "text_encoding",
                            "text must not contain the NUL character (U+0000)",
                        ))
                    }
                    _ => ApiError::Internal(anyhow::anyhow!(
                        "database error {kind:?}: {} (constraint {constraint})",
                        info.message()
                    )),
                }
            }
            StorageError::Diesel(e) => ApiError::Internal(anyhow::Error::new(e)),
            StorageError::Other(e) => ApiError::Internal(e),
        }
    }
}

fn is_unavailable_message(msg: &str) -> bool {
    // Statement timeout and server shutdown are outages, not bugs. A pooled connection that the
    // server dropped (restart, failover) fails its next command with "connection closed"
    // (kind UnableToSendCommand): also an outage, found by scripts/faults.sh.
    msg.contains("canceling statement due to statement timeout")
        || msg.contains("terminating connection")
        || msg.contains("the database system is")
        || msg.contains("connection closed")
        || msg.contains("server closed the connection")
}

fn unique_code(constraint: &str) -> &'static str {
    match constraint {
        "users_email_lower_key" => "email_taken",
        "organizations_credit_code_key" => "credit_code_taken",
        "api_tokens_user_name_key" => "token_name_taken",
        "grants_application_id_key" => "grant_exists",
        _ => "duplicate",
    }
}

fn unique_field(constraint: &str) -> &'static str {
    match constraint {
        "users_email_lower_key" => "email",
        "organizations_credit_code_key" => "credit code",
        "api_tokens_user_name_key" => "token name",
        "grants_application_id_key" => "application (a grant exists for it)",
        _ => "key",
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        StorageError::Diesel(e).into()
    }
}

#[cfg(test)]
mod outage_tests {
    use super::*;
    use diesel::result::{DatabaseErrorKind as K, Error as D};

    fn mapped(kind: K, message: &str) -> ApiError {
        StorageError::Diesel(D::DatabaseError(kind, Box::new(message.to_string()))).into()
    }

    #[test]
    fn a_connection_the_server_dropped_is_an_outage_not_a_bug() {
        assert!(matches!(
            mapped(K::UnableToSendCommand, "connection closed"),
            ApiError::Unavailable
        ));
        assert!(matches!(
            mapped(
                K::Unknown,
                "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally"
            ),
            ApiError::Unavailable
        ));
        assert!(matches!(
            mapped(
                K::Unknown,
                "terminating connection due to administrator command"
            ),
            ApiError::Unavailable
        ));
    }

    #[test]
    fn a_nul_character_in_text_is_a_validation_error() {
        let e = mapped(
            K::Unknown,
            "invalid byte sequence for encoding \"UTF8\": 0x00",
        );
        assert_eq!(e.status_code(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.code(), "validation_failed");
    }

    #[test]
    fn other_database_errors_stay_internal() {
        assert!(matches!(
            mapped(K::UnableToSendCommand, "bind message supplies 3 parameters"),
            ApiError::Internal(_)
        ));
    }
}
