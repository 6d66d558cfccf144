//! The public notice (公示) of published award decisions, for anyone: no session needed (the
//! handlers never take `Signed`), the same page for a signed-in user with its header. The CSV is
//! the same data for one round.

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use askama::Template;
use serde::Deserialize;
use uuid::Uuid;

use crate::http::AppState;
use crate::service::public_notice::{self as svc, NoticePage};
use crate::web::error::WebResult;
use crate::web::page::PageContext;
use crate::web::pages::html;
use crate::web::session::Signed;
use crate::web::{format, pages};

pub fn configure(cfg: &mut web::ServiceConfig) {
    // The CSV first: `{round_id}` alone would match `….csv` too.
    cfg.service(csv).service(list).service(round);
}

#[derive(Deserialize)]
pub struct PageQuery {
    pub page: Option<i64>,
}

#[derive(Template)]
#[template(path = "notices.html")]
struct NoticesTemplate {
    page: PageContext,
    notices: NoticePage,
    /// `Some` on one round's notice.
    round_id: Option<Uuid>,
    contact: String,
    now: chrono::DateTime<chrono::Utc>,
}

impl NoticesTemplate {
    fn base(&self) -> String {
        match self.round_id {
            Some(id) => format!("/notices/{id}"),
            None => "/notices".into(),
        }
    }
    fn prev_page(&self) -> i64 {
        self.notices.page - 1
    }
    fn next_page(&self) -> i64 {
        self.notices.page + 1
    }
    fn score(&self, s: &Option<rust_decimal::Decimal>) -> String {
        s.map(|s| format!("{:.2}", s.round_dp(2)))
            .unwrap_or_else(|| "—".into())
    }
    fn day(&self, t: &chrono::DateTime<chrono::Utc>) -> String {
        t.with_timezone(&self.page.tz)
            .format("%Y-%m-%d")
            .to_string()
    }
}

/// The header of a signed-in reader, or an anonymous one in the bureau's time zone.
pub fn context(signed: Option<&Signed>, state: &AppState) -> PageContext {
    match signed {
        Some(Signed(s)) => PageContext::new(s, &state.settings.web.time_zone),
        None => {
            let mut p = PageContext::anonymous(crate::i18n::current());
            p.tz = format::zone(&state.settings.web.time_zone);
            p
        }
    }
}

#[get("/notices")]
pub async fn list(
    state: web::Data<AppState>,
    signed: Option<Signed>,
    q: web::Query<PageQuery>,
) -> WebResult<HttpResponse> {
    let notices = svc::list(&state.db, q.page.unwrap_or(1)).await?;
    pages::html(&NoticesTemplate {
        page: context(signed.as_ref(), &state),
        notices,
        round_id: None,
        contact: state.settings.web.notice_contact.clone(),
        now: chrono::Utc::now(),
    })
}

#[get("/notices/{round_id}")]
pub async fn round(
    state: web::Data<AppState>,
    signed: Option<Signed>,
    path: web::Path<Uuid>,
    q: web::Query<PageQuery>,
) -> WebResult<HttpResponse> {
    let round_id = path.into_inner();
    let notices = svc::round(&state.db, round_id, q.page.unwrap_or(1)).await?;
    html(&NoticesTemplate {
        page: context(signed.as_ref(), &state),
        notices,
        round_id: Some(round_id),
        contact: state.settings.web.notice_contact.clone(),
        now: chrono::Utc::now(),
    })
}

#[get("/notices/{round_id}.csv")]
pub async fn csv(state: web::Data<AppState>, path: web::Path<Uuid>) -> WebResult<HttpResponse> {
    let round_id = path.into_inner();
    let d = svc::round_all(&state.db, round_id).await?;
    let body = d.to_csv(
        &state.settings.web.notice_contact,
        format::zone(&state.settings.web.time_zone),
    );
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"notice-{round_id}.csv\""),
        ))
        .body(body))
}
