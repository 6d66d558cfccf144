use actix_web::{delete, get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::auth::{token, Caller};
use crate::http::error::{ApiError, ApiResult, Problem};
use crate::http::extract::ValidJson;
use crate::http::views::UserView;
use crate::http::AppState;
use crate::storage::models::{ApiTokenInsertForm, ApiTokenRow};
use crate::storage::{tokens, users};

/// Who am I.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = Problem)))]
#[get("/me")]
pub async fn me(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let mut conn = state.db.conn().await?;
    let row = users::get(&mut conn, caller.user_id).await?;
    Ok(HttpResponse::Ok().json(UserView::from_row(row)?))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiToken {
    /// A name to recognise the token by, e.g. "panel scoring script".
    #[validate(length(min = 1, max = 100))]
    pub name: String,
    /// Optional expiry; without it the token lives until revoked.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiTokenView {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<ApiTokenRow> for ApiTokenView {
    fn from(r: ApiTokenRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            created_at: r.created_at,
            expires_at: r.expires_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiToken {
    #[serde(flatten)]
    pub token_info: ApiTokenView,
    /// The secret: shown this once, only its digest is stored.
    pub token: String,
}

/// Create a named, long-lived API token (for scripts and API clients).
#[utoipa::path(post, path = "/api/v1/me/tokens", tag = "auth", security(("bearer" = [])),
    request_body = NewApiToken,
    responses((status = 201, body = CreatedApiToken), (status = 401, body = Problem), (status = 422, body = Problem)))]
#[post("/me/tokens")]
pub async fn create_token(
    state: web::Data<AppState>,
    caller: Caller,
    body: ValidJson<NewApiToken>,
) -> ApiResult<HttpResponse> {
    let body = body.0;
    if body.expires_at.is_some_and(|t| t <= Utc::now()) {
        return Err(ApiError::invalid(
            crate::domain::violation::Violation::new(
                "future_date",
                "expires_at must be in the future",
            )
            .field("expires_at"),
        ));
    }
    let issued = token::generate();
    let mut conn = state.db.conn().await?;
    let row = tokens::insert(
        &mut conn,
        &ApiTokenInsertForm {
            id: Uuid::new_v4(),
            user_id: caller.user_id,
            kind: "api".into(),
            name: body.name.trim().to_string(),
            digest: issued.digest,
            expires_at: body.expires_at,
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(CreatedApiToken {
        token_info: row.into(),
        token: issued.plaintext,
    }))
}

/// List my live API tokens (never their secrets).
#[utoipa::path(get, path = "/api/v1/me/tokens", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Vec<ApiTokenView>), (status = 401, body = Problem)))]
#[get("/me/tokens")]
pub async fn list_tokens(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let mut conn = state.db.conn().await?;
    let rows = tokens::list_api_tokens(&mut conn, caller.user_id).await?;
    let views: Vec<ApiTokenView> = rows.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(views))
}

/// Revoke one of my tokens; it stops working at once.
#[utoipa::path(delete, path = "/api/v1/me/tokens/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 404, body = Problem)))]
#[delete("/me/tokens/{id}")]
pub async fn revoke_token(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.db.conn().await?;
    if tokens::revoke(&mut conn, caller.user_id, path.into_inner(), Utc::now()).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::from(crate::service::Error::NotFound))
    }
}
