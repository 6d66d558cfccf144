//! A grant as its organization sees it: the award, tranches and their status, milestones, and
//! the payouts received (never who in finance prepared or approved them).

use actix_web::{get, web, HttpResponse};
use askama::Template;
use uuid::Uuid;

use crate::http::AppState;
use crate::service::grants::{self as svc, GrantView};
use crate::web::error::WebResult;
use crate::web::page::PageContext;
use crate::web::pages::html;
use crate::web::session::Signed;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(show);
}

#[derive(Template)]
#[template(path = "grant.html")]
struct GrantPage {
    page: PageContext,
    g: GrantView,
}

#[get("/grants/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    Signed(s): Signed,
    path: web::Path<Uuid>,
) -> WebResult<HttpResponse> {
    let g = svc::view(&state.db, s.caller.organization_scope(), path.into_inner()).await?;
    html(&GrantPage {
        page: PageContext::new(&s, &state.settings.web.time_zone),
        g,
    })
}
