//! Signing in and staying signed in: the one password check with its throttling (used by
//! `POST /api/v1/auth/login` and the sign-in page), short-lived API session tokens, and browser
//! sessions (cookie value shown once, its digest stored).

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::auth::password::{self, HashParams};
use crate::auth::{token, Caller};
use crate::config::{AuthSettings, WebSettings};
use crate::domain::user::Language;
use crate::service::error::parse_text;
use crate::service::Error;
use crate::storage::models::{ApiTokenInsertForm, UserRow};
use crate::storage::sessions::{self, WebSessionInsertForm, WebSessionRow};
use crate::storage::{tokens, users, Database};

/// Checks an email and password. Unknown email and wrong password are told apart to nobody
/// (the same error, the same hashing work); after `login_max_failures` failures within the
/// window, sign-in is refused for that email until the oldest failure leaves the window.
pub async fn check_credentials(
    db: &Database,
    auth: &AuthSettings,
    email: &str,
    password: String,
) -> Result<UserRow, Error> {
    let email_lower = email.trim().to_lowercase();
    let now = Utc::now();
    let window = Duration::minutes(auth.login_failure_window_minutes);

    let mut conn = db.conn().await?;
    let (failures, oldest) =
        tokens::recent_login_failures(&mut conn, &email_lower, now - window).await?;
    if failures >= auth.login_max_failures {
        let retry = oldest
            .map(|t| (t + window - now).num_seconds().max(1))
            .unwrap_or(60);
        return Err(Error::TooManyRequests {
            retry_after_secs: retry.unsigned_abs(),
        });
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

    let mut conn = db.conn().await?;
    let Some(user) = user.filter(|_| matches) else {
        tokens::record_login_failure(&mut conn, &email_lower).await?;
        return Err(Error::InvalidCredentials);
    };
    tokens::clear_login_failures(&mut conn, &email_lower).await?;
    Ok(user)
}

/// A short-lived bearer token for a signed-in user (`POST /auth/login`).
pub async fn issue_session_token(
    db: &Database,
    auth: &AuthSettings,
    user: &UserRow,
) -> Result<(String, DateTime<Utc>), Error> {
    let issued = token::generate();
    let expires_at = Utc::now() + Duration::minutes(auth.session_ttl_minutes);
    let mut conn = db.conn().await?;
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
    Ok((issued.plaintext, expires_at))
}

/// A browser session that has just begun: the cookie value (shown once) and the stored row.
pub struct NewWebSession {
    pub cookie_value: String,
    pub row: WebSessionRow,
}

/// Opens a browser session for a user who has just signed in.
pub async fn open_web_session(
    db: &Database,
    web: &WebSettings,
    user: &UserRow,
) -> Result<NewWebSession, Error> {
    let issued = token::generate();
    let csrf = token::generate().plaintext;
    let mut conn = db.conn().await?;
    let row = sessions::insert(
        &mut conn,
        &WebSessionInsertForm {
            id: Uuid::new_v4(),
            user_id: user.id,
            digest: issued.digest,
            csrf_token: csrf,
            expires_at: Utc::now() + Duration::hours(web.session_max_hours),
        },
    )
    .await?;
    Ok(NewWebSession {
        cookie_value: issued.plaintext,
        row,
    })
}

/// The signed-in browser user behind a cookie value.
#[derive(Debug, Clone)]
pub struct WebSession {
    pub id: Uuid,
    pub caller: Caller,
    pub language: Language,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// The live session of a cookie value, if any (expired, idle, logged out or deactivated: none).
pub async fn find_web_session(
    db: &Database,
    web: &WebSettings,
    cookie_value: &str,
) -> Result<Option<WebSession>, Error> {
    let now = Utc::now();
    let idle_since = now - Duration::minutes(web.session_idle_minutes);
    let mut conn = db.conn().await?;
    let Some((session, user)) =
        sessions::touch_live(&mut conn, &token::digest(cookie_value), now, idle_since).await?
    else {
        return Ok(None);
    };
    Ok(Some(WebSession {
        id: session.id,
        caller: Caller::from_row(&user)?,
        language: parse_text(&user.language)?,
        csrf_token: session.csrf_token,
        expires_at: session.expires_at,
    }))
}

/// Ends the browser session of a cookie value (logout).
pub async fn close_web_session(db: &Database, cookie_value: &str) -> Result<(), Error> {
    let mut conn = db.conn().await?;
    sessions::delete_by_digest(&mut conn, &token::digest(cookie_value)).await?;
    Ok(())
}
