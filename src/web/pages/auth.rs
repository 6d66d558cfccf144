//! Sign in and out in the browser: the same password check and throttling as the API, a
//! session cookie instead of a bearer token.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpMessage, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::auth::token;
use crate::http::AppState;
use crate::i18n;
use crate::service::sessions::WebSession;
use crate::service::{self, sessions};
use crate::web::error::WebResult;
use crate::web::form::PostedForm;
use crate::web::page::PageContext;
use crate::web::pages::{html_status, see_other};
use crate::web::session::{self, safe_next, SESSION_COOKIE};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    page: PageContext,
    email: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

fn render_login(
    state: &AppState,
    status: StatusCode,
    email: String,
    next: String,
    error: Option<String>,
) -> WebResult<HttpResponse> {
    let csrf = token::generate().plaintext;
    let mut page = PageContext::anonymous(i18n::current());
    page.csrf = csrf.clone();
    let mut res = html_status(
        status,
        &LoginPage {
            page,
            email,
            next,
            error,
        },
    )?;
    res.add_cookie(&session::login_csrf_cookie(
        &csrf,
        &state.settings.application.base_url,
    ))
    .ok();
    Ok(res)
}

#[get("/login")]
pub async fn login_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<NextQuery>,
) -> WebResult<HttpResponse> {
    let next = safe_next(q.next.as_deref().unwrap_or("/"));
    if req.extensions().get::<WebSession>().is_some() {
        return Ok(see_other(&next));
    }
    render_login(&state, StatusCode::OK, String::new(), next, None)
}

#[post("/login")]
pub async fn login(state: web::Data<AppState>, form: PostedForm) -> WebResult<HttpResponse> {
    let email = form.text("email");
    let password = form.get("password").unwrap_or_default().to_string();
    let next = safe_next(form.get("next").unwrap_or("/"));
    let lang = i18n::current();
    match sessions::check_credentials(&state.db, &state.settings.auth, &email, password).await {
        Ok(user) => {
            let opened = sessions::open_web_session(&state.db, &state.settings.web, &user).await?;
            tracing::info!(user_id = %user.id, "signed in (browser)");
            let mut res = see_other(&next);
            let base = &state.settings.application.base_url;
            res.add_cookie(&session::session_cookie(&opened.cookie_value, base))
                .ok();
            res.add_cookie(&session::removal(session::LOGIN_CSRF_COOKIE, "/login"))
                .ok();
            Ok(res)
        }
        Err(e @ service::Error::InvalidCredentials) => render_login(
            &state,
            StatusCode::UNAUTHORIZED,
            email,
            next,
            Some(i18n::text(lang, &e.to_string())),
        ),
        Err(e @ service::Error::TooManyRequests { .. }) => {
            let mut res = render_login(
                &state,
                StatusCode::TOO_MANY_REQUESTS,
                email,
                next,
                Some(i18n::text(
                    lang,
                    "too many failed sign-ins for this email; wait a few minutes and try again",
                )),
            )?;
            if let service::Error::TooManyRequests { retry_after_secs } = e {
                res.headers_mut().insert(
                    actix_web::http::header::RETRY_AFTER,
                    actix_web::http::header::HeaderValue::from(retry_after_secs),
                );
            }
            Ok(res)
        }
        Err(e) => Err(e.into()),
    }
}

#[post("/logout")]
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    _form: PostedForm,
) -> WebResult<HttpResponse> {
    if let Some(c) = req.cookie(SESSION_COOKIE) {
        sessions::close_web_session(&state.db, c.value()).await?;
    }
    let mut res = see_other("/login");
    res.add_cookie(&session::removal(SESSION_COOKIE, "/")).ok();
    Ok(res)
}
