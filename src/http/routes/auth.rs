use actix_web::{post, web, HttpResponse};
use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::auth::password::{self, HashParams};
use crate::auth::token;
use crate::http::error::{ApiError, ApiResult, Problem};
use crate::http::extract::ValidJson;
use crate::http::views::UserView;
use crate::http::AppState;
use crate::storage::models::ApiTokenInsertForm;
use crate::storage::{tokens, users};

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[validate(length(min = 1, max = 254))]
    pub email: String,
    #[validate(length(min = 1, max = 1024))]
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub token_type: &'static str,
    pub expires_at: chrono::DateTime<Utc>,
    pub user: UserView,
}

/// Sign in with email and password; returns a short-lived bearer token.
///
/// An unknown email and a wrong password answer alike (401 `invalid_credentials`). After
/// `auth.login_max_failures` failures for one email within the window, 429 with `Retry-After`.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 401, body = Problem, description = "invalid_credentials"),
        (status = 422, body = Problem),
        (status = 429, body = Problem, description = "too_many_requests"),
    ))]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    body: ValidJson<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let LoginRequest { email, password } = body.0;
    let email_lower = email.trim().to_lowercase();
    let auth = &state.settings.auth;
    let now = Utc::now();
    let window = Duration::minutes(auth.login_failure_window_minutes);

    let mut conn = state.db.conn().await?;
    let (failures, oldest) =
        tokens::recent_login_failures(&mut conn, &email_lower, now - window).await?;
    if failures >= auth.login_max_failures {
        let retry = oldest
            .map(|t| (t + window - now).num_seconds().max(1))
            .unwrap_or(60);
        return Err(ApiError::from(crate::service::Error::TooManyRequests {
            retry_after_secs: retry as u64,
        }));
    }
    let user = users::find_by_email(&mut conn, &email_lower)
        .await?
        .filter(|u| u.active);
    // Release the connection while hashing; nobody else should wait on our CPU work.
    drop(conn);

    let params = HashParams::from(auth);
    let stored = match &user {
        Some(u) => u.password_hash.clone(),
        None => password::dummy_hash(params).to_string(),
    };
    let matches = password::verify(password, stored).await? && user.is_some();

    let mut conn = state.db.conn().await?;
    let Some(user) = user.filter(|_| matches) else {
        tokens::record_login_failure(&mut conn, &email_lower).await?;
        return Err(ApiError::from(crate::service::Error::InvalidCredentials));
    };
    tokens::clear_login_failures(&mut conn, &email_lower).await?;
    let issued = token::generate();
    let expires_at = now + Duration::minutes(auth.session_ttl_minutes);
    tokens::insert(
        &mut conn,
        &ApiTokenInsertForm {
            id: Uuid::new_v4(),
            user_id: user.id,
            kind: "session".into(),
            name: "session".into(),
            digest: issued.digest,
            expires_at: Some(expires_at),
        },
    )
    .await?;
    tracing::info!(user_id = %user.id, "signed in");
    Ok(HttpResponse::Ok().json(LoginResponse {
        token: issued.plaintext,
        token_type: "Bearer",
        expires_at,
        user: UserView::from_row(user)?,
    }))
}
