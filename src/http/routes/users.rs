use actix_web::{get, patch, post, web, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::auth::{roles, Caller};
use crate::domain::user::{Language, Role};
use crate::http::error::{ApiResult, Problem};
use crate::http::extract::ValidJson;
use crate::http::guard::RequireRole;
use crate::http::pagination::{Page, PageRequest};
use crate::http::views::UserView;
use crate::http::AppState;
use crate::service;
use crate::storage::models::UserUpdateForm;
use crate::storage::users::{self, UserFilter};

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub email: String,
    #[validate(length(min = 1, max = 100))]
    pub name: String,
    pub role: Role,
    /// Required for `applicant` users, refused for the others.
    pub organization_id: Option<Uuid>,
    /// At least 10 characters.
    pub password: String,
    pub language: Option<Language>,
}

/// Create a user with a role (admin only).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])),
    request_body = NewUser,
    responses((status = 201, body = UserView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "email_taken"), (status = 422, body = Problem)))]
#[post("/users", wrap = "RequireRole(roles::ADMIN)")]
pub async fn create_user(
    state: web::Data<AppState>,
    caller: Caller,
    body: ValidJson<NewUser>,
) -> ApiResult<HttpResponse> {
    let b = body.0;
    let row = service::users::create(
        &state.db,
        &state.settings.auth,
        service::users::NewUserInput {
            email: b.email,
            name: b.name,
            role: b.role,
            organization_id: b.organization_id,
            password: b.password,
            language: b.language.unwrap_or(Language::Zh),
        },
        Some(&caller),
    )
    .await?;
    Ok(HttpResponse::Created().json(UserView::from_row(row)?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UserListQuery {
    pub role: Option<Role>,
    pub organization_id: Option<Uuid>,
    /// Page size, 1..200 (default 50).
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// List users (admin only).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])),
    params(UserListQuery),
    responses((status = 200, body = Page<UserView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
#[get("/users", wrap = "RequireRole(roles::ADMIN)")]
pub async fn list_users(
    state: web::Data<AppState>,
    query: web::Query<UserListQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let filter = UserFilter {
        role: q.role.map(|r| r.as_str().to_string()),
        organization_id: q.organization_id,
    };
    let mut conn = state.db.conn().await?;
    let rows = users::list(&mut conn, &filter, page.after, page.fetch()).await?;
    let views: Vec<UserView> = rows
        .into_iter()
        .map(UserView::from_row)
        .collect::<Result<_, _>>()?;
    Ok(HttpResponse::Ok().json(page.page(views, |u| (u.created_at, u.id), |u| u)))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[validate(length(min = 1, max = 100))]
    pub name: Option<String>,
    pub language: Option<Language>,
    /// `false` deactivates the user: every token of theirs stops working at once.
    pub active: Option<bool>,
}

/// Change a user's name, language or active flag (admin only).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UserPatch,
    responses((status = 200, body = UserView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[patch("/users/{id}", wrap = "RequireRole(roles::ADMIN)")]
pub async fn update_user(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ValidJson<UserPatch>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let b = body.0;
    let form = UserUpdateForm {
        name: b.name.map(|n| n.trim().to_string()),
        language: b.language.map(|l| l.as_str().to_string()),
        active: b.active,
        updated_at: Some(chrono::Utc::now()),
        ..Default::default()
    };
    let row = service::users::update(&state.db, id, form, &caller).await?;
    Ok(HttpResponse::Ok().json(UserView::from_row(row)?))
}
