//! The error every use case returns. It says what went wrong in domain terms (not found, a
//! broken rule, a conflict of state); the JSON API renders it as problem+json (`http::error`)
//! and the pages as HTML (`web::error`). Storage errors become service errors here and nowhere
//! else.

use crate::domain::violation::Violation;
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such record, or one the caller may not see (the two are never told apart).
    #[error("no such resource, or not one you may see")]
    NotFound,
    #[error("{detail}")]
    Forbidden { code: &'static str, detail: String },
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    /// Input that is malformed in a way the use case itself detects (a bad header value).
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    #[error("the request is not valid")]
    Validation(Vec<Violation>),
    #[error("the request breaks one or more rules")]
    RuleViolation(Vec<Violation>),
    #[error("{detail}")]
    Unprocessable { code: &'static str, detail: String },
    #[error("unknown email or wrong password")]
    InvalidCredentials,
    /// Sign-in throttled after too many failures.
    #[error("too many attempts")]
    TooManyRequests { retry_after_secs: u64 },
    /// The database is unreachable, the pool exhausted, a statement timed out.
    #[error("the service is temporarily unavailable; retry shortly")]
    Unavailable,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid_state(detail: impl Into<String>) -> Self {
        Error::Conflict {
            code: "invalid_state",
            detail: detail.into(),
        }
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Error::Forbidden {
            code: "forbidden",
            detail: detail.into(),
        }
    }
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Error::BadRequest {
            code,
            detail: detail.into(),
        }
    }
    /// One validation violation (most use cases collect several and use `Validation`).
    pub fn invalid(violation: Violation) -> Self {
        Error::Validation(vec![violation])
    }

    /// The stable snake_case code clients and pages rely on.
    pub fn code(&self) -> &'static str {
        match self {
            Error::BadRequest { code, .. }
            | Error::Forbidden { code, .. }
            | Error::Conflict { code, .. }
            | Error::Unprocessable { code, .. } => code,
            Error::InvalidCredentials => "invalid_credentials",
            Error::NotFound => "not_found",
            Error::Validation(_) => "validation_failed",
            Error::RuleViolation(_) => "rule_violation",
            Error::TooManyRequests { .. } => "too_many_requests",
            Error::Unavailable => "service_unavailable",
            Error::Internal(_) => "internal_error",
        }
    }

    /// The violations of `validation_failed` and `rule_violation`.
    pub fn violations(&self) -> Option<&[Violation]> {
        match self {
            Error::Validation(v) | Error::RuleViolation(v) => Some(v),
            _ => None,
        }
    }
}

/// Storage failures mapped once: missing rows are not found, broken constraints are conflicts or
/// validation errors with stable codes, an exhausted pool or a lost database is unavailable.
impl From<StorageError> for Error {
    fn from(err: StorageError) -> Self {
        use diesel::result::{DatabaseErrorKind as K, Error as D};
        match err {
            StorageError::PoolTimeout | StorageError::Unavailable(_) => Error::Unavailable,
            StorageError::Diesel(D::NotFound) => Error::NotFound,
            StorageError::Diesel(D::DatabaseError(kind, info)) => {
                let constraint = info.constraint_name().unwrap_or_default().to_string();
                match kind {
                    K::UniqueViolation => Error::Conflict {
                        code: unique_code(&constraint),
                        detail: format!(
                            "a record with the same {} already exists",
                            unique_field(&constraint)
                        ),
                    },
                    K::ForeignKeyViolation => Error::Unprocessable {
                        code: "reference_not_found",
                        detail: "a referenced record does not exist".to_string(),
                    },
                    K::CheckViolation if constraint == "payouts_maker_checker" => {
                        Error::Forbidden {
                            code: "self_approval_forbidden",
                            detail: "a payout is approved or rejected by a finance user other than the one who requested it".to_string(),
                        }
                    }
                    K::CheckViolation
                        if constraint == "tranches_within_amount"
                            || constraint == "grants_within_award" =>
                    {
                        Error::RuleViolation(vec![Violation::new(
                            if constraint == "grants_within_award" {
                                "award_limit"
                            } else {
                                "tranche_limit"
                            },
                            "payouts never exceed their tranche or the award",
                        )])
                    }
                    K::CheckViolation | K::NotNullViolation => Error::Unprocessable {
                        code: "constraint_violation",
                        detail: format!("the data breaks the rule `{constraint}`"),
                    },
                    K::SerializationFailure => Error::Conflict {
                        code: "concurrent_update",
                        detail: "another request changed this at the same time; retry".to_string(),
                    },
                    K::ClosedConnection => Error::Unavailable,
                    _ if is_unavailable_message(info.message()) => Error::Unavailable,
                    // Postgres TEXT cannot hold U+0000; a JSON "\u0000" in any string reached
                    // the database and answered 500 (found by scripts/fuzz.sh). It is bad input.
                    _ if info.message().contains("0x00")
                        && info.message().contains("invalid byte sequence") =>
                    {
                        Error::invalid(Violation::new(
                            "text_encoding",
                            "text must not contain the NUL character (U+0000)",
                        ))
                    }
                    _ => Error::Internal(anyhow::anyhow!(
                        "database error {kind:?}: {} (constraint {constraint})",
                        info.message()
                    )),
                }
            }
            StorageError::Diesel(e) => Error::Internal(anyhow::Error::new(e)),
            StorageError::Other(e) => Error::Internal(e),
        }
    }
}

impl From<diesel::result::Error> for Error {
    fn from(e: diesel::result::Error) -> Self {
        StorageError::Diesel(e).into()
    }
}

impl From<crate::auth::Forbidden> for Error {
    fn from(e: crate::auth::Forbidden) -> Self {
        Error::forbidden(e.to_string())
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

/// A value read back from a text column as its typed form; the column CHECKs make a failure a
/// bug (500), never bad data shown to a user.
pub(crate) fn parse_text<T: std::str::FromStr>(value: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    value
        .parse()
        .map_err(|e: T::Err| Error::Internal(anyhow::anyhow!("stored value: {e}")))
}

/// An amount read from a NUMERIC column as `Money`; the column CHECKs make a failure a bug (500).
pub(crate) fn stored_money(d: rust_decimal::Decimal) -> Result<crate::domain::money::Money> {
    crate::domain::money::Money::new(d)
        .map_err(|e| Error::Internal(anyhow::anyhow!("stored amount: {e}")))
}

#[cfg(test)]
mod outage_tests {
    use super::*;
    use diesel::result::{DatabaseErrorKind as K, Error as D};

    fn mapped(kind: K, message: &str) -> Error {
        StorageError::Diesel(D::DatabaseError(kind, Box::new(message.to_string()))).into()
    }

    #[test]
    fn a_connection_the_server_dropped_is_an_outage_not_a_bug() {
        assert!(matches!(
            mapped(K::UnableToSendCommand, "connection closed"),
            Error::Unavailable
        ));
        assert!(matches!(
            mapped(
                K::Unknown,
                "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally"
            ),
            Error::Unavailable
        ));
        assert!(matches!(
            mapped(
                K::Unknown,
                "terminating connection due to administrator command"
            ),
            Error::Unavailable
        ));
    }

    #[test]
    fn a_nul_character_in_text_is_a_validation_error() {
        let e = mapped(
            K::Unknown,
            "invalid byte sequence for encoding \"UTF8\": 0x00",
        );
        assert_eq!(e.code(), "validation_failed");
    }

    #[test]
    fn other_database_errors_stay_internal() {
        assert!(matches!(
            mapped(K::UnableToSendCommand, "bind message supplies 3 parameters"),
            Error::Internal(_)
        ));
    }
}
