//! Response bodies built from storage rows. Unknown enum text in a row is a bug (the database
//! CHECKs forbid it), so it surfaces as a logged 500, never as bad data.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::user::{Language, Role};
use crate::http::error::ApiError;
use crate::storage::models::UserRow;

pub(crate) fn parse_text<T: std::str::FromStr>(value: &str) -> Result<T, ApiError>
where
    T::Err: std::fmt::Display,
{
    value.parse().map_err(|e: T::Err| {
        ApiError::from(crate::service::Error::Internal(anyhow::anyhow!(
            "stored value: {e}"
        )))
    })
}

/// An amount read from a NUMERIC column as `Money`; the column CHECKs make a failure a bug (500).
pub(crate) fn stored_money(
    d: rust_decimal::Decimal,
) -> Result<crate::domain::money::Money, ApiError> {
    crate::domain::money::Money::new(d).map_err(|e| {
        ApiError::from(crate::service::Error::Internal(anyhow::anyhow!(
            "stored amount: {e}"
        )))
    })
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub organization_id: Option<Uuid>,
    pub language: Language,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl UserView {
    pub fn from_row(r: UserRow) -> Result<Self, ApiError> {
        Ok(Self {
            id: r.id,
            email: r.email,
            name: r.name,
            role: parse_text(&r.role)?,
            organization_id: r.organization_id,
            language: parse_text(&r.language)?,
            active: r.active,
            created_at: r.created_at,
        })
    }
}
