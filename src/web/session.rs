//! Browser sessions: the middleware that turns the session cookie into a `WebSession` (and
//! refuses unsafe requests from other sites before anything runs), the extractor page handlers
//! take, and the cookies themselves.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::{ready, Ready};

use crate::domain::user::Language;
use crate::http::AppState;
use crate::i18n;
use crate::service::sessions::{self, WebSession};
use crate::web::error::WebError;

pub const SESSION_COOKIE: &str = "gongyi_session";
/// The sign-in form's CSRF token (double-submit: cookie and hidden field must match).
pub const LOGIN_CSRF_COOKIE: &str = "gongyi_login_csrf";

/// Middleware over every page: refuses cross-site unsafe requests (403, nothing runs), loads the
/// session of the cookie, and renders the page in the reader's language: English when the
/// user chose it or the browser asks for it, Chinese otherwise.
pub async fn load(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let asked = i18n::negotiate(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let Some(state) = state else {
        return Err(actix_web::error::ErrorInternalServerError("no app state"));
    };
    let unsafe_method = !req.method().is_safe();
    if unsafe_method && is_cross_site(&req, &state.settings.application.base_url) {
        let lang = asked.unwrap_or(Language::Zh);
        let res = i18n::scope(lang, async {
            actix_web::ResponseError::error_response(&WebError::Forgery)
        })
        .await;
        return Ok(req.into_response(res));
    }
    let session = match req.cookie(SESSION_COOKIE) {
        Some(c) => {
            match sessions::find_web_session(&state.db, &state.settings.web, c.value()).await {
                Ok(s) => s,
                Err(e) => {
                    let lang = asked.unwrap_or(Language::Zh);
                    let res = i18n::scope(lang, async {
                        actix_web::ResponseError::error_response(&WebError::Service(e))
                    })
                    .await;
                    return Ok(req.into_response(res));
                }
            }
        }
        None => None,
    };
    let lang = match (&session, asked) {
        (Some(s), _) if s.language == Language::En => Language::En,
        (_, Some(l)) => l,
        _ => Language::Zh,
    };
    if let Some(s) = session {
        tracing::Span::current().record("user_id", tracing::field::display(s.caller.user_id));
        req.extensions_mut().insert(s);
    }
    crate::http::call_in_language(lang, req, next).await
}

/// An unsafe request another site made the browser send: `Sec-Fetch-Site: cross-site`, or an
/// `Origin` that is neither this server's nor `base_url`'s.
fn is_cross_site(req: &ServiceRequest, base_url: &str) -> bool {
    let h = req.headers();
    if h.get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
    {
        return true;
    }
    let Some(origin) = h.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let info = req.connection_info();
    let own = format!("{}://{}", info.scheme(), info.host());
    let base = base_url.trim_end_matches('/');
    let base_origin = match base.find("://") {
        Some(i) => match base[i + 3..].find('/') {
            Some(j) => &base[..i + 3 + j],
            None => base,
        },
        None => base,
    };
    !(origin.eq_ignore_ascii_case(&own) || origin.eq_ignore_ascii_case(base_origin))
}

/// The signed-in browser user of a page; without a live session, a redirect to sign in.
pub struct Signed(pub WebSession);

impl FromRequest for Signed {
    type Error = WebError;
    type Future = Ready<Result<Self, WebError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match req.extensions().get::<WebSession>() {
            Some(s) => Ok(Signed(s.clone())),
            None => Err(WebError::SignIn {
                next: safe_next(
                    req.uri()
                        .path_and_query()
                        .map(|p| p.as_str())
                        .unwrap_or("/"),
                ),
            }),
        })
    }
}

/// A place to return to after sign-in: a path on this site only (never `//host` or a URL).
pub fn safe_next(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next.to_string()
    } else {
        "/".to_string()
    }
}

fn secure(base_url: &str) -> bool {
    base_url.starts_with("https://")
}

pub fn session_cookie(value: &str, base_url: &str) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value.to_string())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure(base_url))
        .finish()
}

pub fn login_csrf_cookie(value: &str, base_url: &str) -> Cookie<'static> {
    Cookie::build(LOGIN_CSRF_COOKIE, value.to_string())
        .path("/login")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure(base_url))
        .finish()
}

/// A cookie that tells the browser to forget `name`.
pub fn removal(name: &'static str, path: &'static str) -> Cookie<'static> {
    let mut c = Cookie::build(name, "").path(path).finish();
    c.make_removal();
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next("/applications/1?x=2"), "/applications/1?x=2");
        assert_eq!(safe_next("//evil.example/"), "/");
        assert_eq!(safe_next("https://evil.example/"), "/");
        assert_eq!(safe_next("/\\evil"), "/");
    }
}
