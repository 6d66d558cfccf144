//! Posted forms: the url-encoded body as name/value pairs (repeated names kept, as a budget
//! table posts them), accepted only with the right `csrf_token`.

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;

use crate::service::sessions::WebSession;
use crate::web::error::WebError;
use crate::web::session::LOGIN_CSRF_COOKIE;

/// Largest form accepted (a long budget fits many times over).
const MAX_FORM_BYTES: usize = 256 * 1024;

pub struct PostedForm {
    pairs: Vec<(String, String)>,
}

impl PostedForm {
    pub fn parse(body: &[u8]) -> Self {
        let pairs = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default();
        Self { pairs }
    }

    /// The first value of a field, trimmed; `None` when absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
    }

    /// The first value, or "" when absent.
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_string()
    }

    /// Every value of a repeated field, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn checked(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| !v.is_empty() && v != "false")
    }
}

/// Compares without an early exit, so timing does not reveal a prefix of the token.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl FromRequest for PostedForm {
    type Error = WebError;
    type Future = LocalBoxFuture<'static, Result<Self, WebError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let expected = match req.extensions().get::<WebSession>() {
            Some(s) => Some(s.csrf_token.clone()),
            // Only the sign-in form is posted without a session.
            None => req.cookie(LOGIN_CSRF_COOKIE).map(|c| c.value().to_string()),
        };
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let body = body.await.map_err(|_| WebError::Forgery)?;
            if body.len() > MAX_FORM_BYTES {
                return Err(WebError::Forgery);
            }
            let form = PostedForm::parse(&body);
            match (expected, form.get("csrf_token")) {
                (Some(e), Some(got)) if !e.is_empty() && same(&e, got) => Ok(form),
                _ => Err(WebError::Forgery),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_keep_their_order() {
        let f = PostedForm::parse(b"a=1&b=x&a=2&a=&c=%E4%BA%BA");
        assert_eq!(f.all("a"), vec!["1", "2", ""]);
        assert_eq!(f.get("c"), Some("人"));
        assert_eq!(f.get("z"), None);
    }

    #[test]
    fn tokens_compare_exactly() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}
