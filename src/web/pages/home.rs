//! `/`: the signed-in user's dashboard, by role.

use actix_web::{get, web, HttpResponse};
use askama::Template;

use crate::domain::user::Role;
use crate::http::AppState;
use crate::service::portal::{self, ApplicantHome};
use crate::web::error::WebResult;
use crate::web::page::PageContext;
use crate::web::pages::html;
use crate::web::session::Signed;

#[derive(Template)]
#[template(path = "home_applicant.html")]
struct ApplicantDashboard {
    page: PageContext,
    home: ApplicantHome,
}

#[get("/")]
pub async fn home(state: web::Data<AppState>, Signed(s): Signed) -> WebResult<HttpResponse> {
    match s.caller.role {
        Role::Applicant => {
            let page = PageContext::new(&s, &state.settings.web.time_zone);
            let home = portal::applicant_home(&state.db, &s.caller).await?;
            html(&ApplicantDashboard { page, home })
        }
        Role::Finance => super::payouts::dashboard(&state, &s).await,
        Role::Admin => crate::web::pages::office::dashboard(&state, &s).await,
        Role::Reviewer => crate::web::pages::assignments::render_list(&state, &s, 1).await,
    }
}

impl ApplicantDashboard {
    /// "2A (三无: at most 2A)": what caps the rating, in the reader's language.
    fn cap_text(&self) -> Option<String> {
        self.home.cap.map(|c| {
            format!(
                "{} {} — {}",
                self.page.t("at most"),
                c.max.as_str(),
                self.page.word(c.explanation)
            )
        })
    }
}
