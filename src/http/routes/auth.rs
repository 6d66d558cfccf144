use actix_web::{post, web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::http::error::{ApiResult, Problem};
use crate::http::extract::ValidJson;
use crate::http::views::UserView;
use crate::http::AppState;
use crate::service::sessions;

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
    let auth = &state.settings.auth;
    let user = sessions::check_credentials(&state.db, auth, &email, password).await?;
    let (token, expires_at) = sessions::issue_session_token(&state.db, auth, &user).await?;
    tracing::info!(user_id = %user.id, "signed in");
    Ok(HttpResponse::Ok().json(LoginResponse {
        token,
        token_type: "Bearer",
        expires_at,
        user: UserView::from_row(user)?,
    }))
}
