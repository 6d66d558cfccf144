//! The program office's pages (role admin): a round with its state, counts and actions, the
//! screening queue, the panel and assignments, the ranking, and the awards. Each form posts to
//! its API action's path without `/api/v1` and ends in the same use case.

use std::borrow::Borrow;

use actix_web::{get, web, HttpResponse};
use askama::Template;
use serde::Deserialize;
use uuid::Uuid;

use crate::domain::review::{RankRow, ReviewerCalibration, TRIM_FROM};
use crate::http::AppState;
use crate::service::office::{self as svc, RankingPage};
use crate::service::review::RankedApplication;
use crate::service::Error;
use crate::web::error::{WebError, WebResult};
use crate::web::page::PageContext;
use crate::web::pages::html;
use crate::web::session::Signed;

/// Rows per page of the ranking (a round can hold 10,000 applications).
pub const RANKING_PER_PAGE: usize = 100;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(ranking);
}

#[derive(Deserialize)]
pub struct RankingQuery {
    pub page: Option<usize>,
    /// The page of the incomplete applications.
    pub ipage: Option<usize>,
}

pub struct RankLine<'a> {
    pub row: &'a RankRow,
    pub info: &'a RankedApplication,
    /// The first row below the pass mark: the line is drawn above it.
    pub line_before: bool,
}

#[derive(Template)]
#[template(path = "ranking.html")]
struct RankingTemplate {
    page: PageContext,
    p: RankingPage,
    page_no: usize,
    ipage_no: usize,
}

fn pages(n: usize) -> usize {
    n.div_ceil(RANKING_PER_PAGE).max(1)
}

impl RankingTemplate {
    fn lines<'a>(&'a self, rows: &'a [RankRow], page: usize) -> Vec<RankLine<'a>> {
        let start = (page - 1) * RANKING_PER_PAGE;
        rows.iter()
            .enumerate()
            .skip(start)
            .take(RANKING_PER_PAGE)
            .filter_map(|(i, row)| {
                let info = self.p.ranking.applications.get(&row.application_id)?;
                let line_before = !row.passes_pass_mark
                    && row.rank.is_some()
                    && (i == 0 || rows[i - 1].passes_pass_mark);
                Some(RankLine {
                    row,
                    info,
                    line_before,
                })
            })
            .collect()
    }
    fn ranked(&self) -> Vec<RankLine<'_>> {
        self.lines(&self.p.ranking.ranking.ranked, self.page_no)
    }
    fn incomplete(&self) -> Vec<RankLine<'_>> {
        self.lines(&self.p.ranking.ranking.incomplete, self.ipage_no)
    }
    fn ranked_pages(&self) -> usize {
        pages(self.p.ranking.ranking.ranked.len())
    }
    fn incomplete_pages(&self) -> usize {
        pages(self.p.ranking.ranking.incomplete.len())
    }
    fn criteria(&self) -> &[crate::domain::round::Criterion] {
        &self.p.ranking.spec.rubric.criteria
    }
    fn columns(&self) -> usize {
        9 + self.criteria().len() + usize::from(self.p.ranking.ranking.normalized)
    }
    fn num(&self, d: &Option<rust_decimal::Decimal>) -> String {
        d.map(|d| format!("{:.2}", d.round_dp(2)))
            .unwrap_or_else(|| "—".into())
    }
    fn dec(&self, d: &rust_decimal::Decimal) -> String {
        format!("{:.2}", d.round_dp(2))
    }
    fn signed(&self, d: &rust_decimal::Decimal) -> String {
        let d = d.round_dp(2);
        if d.is_sign_positive() && !d.is_zero() {
            format!("+{d:.2}")
        } else {
            format!("{d:.2}")
        }
    }
    fn trim_rule(&self) -> String {
        self.page.word(&format!(
            "With {TRIM_FROM} or more submitted scores, the highest and the lowest are dropped before the mean."
        ))
    }
    fn minimum_rule(&self) -> String {
        self.page.word(&format!(
            "An application with fewer than {} submitted scores is not ranked.",
            self.p.ranking.spec.rules.min_reviewers
        ))
    }
    fn reviewer(&self, c: &ReviewerCalibration) -> String {
        match self.p.reviewers.get(&c.reviewer_id) {
            Some((name, email)) => format!("{name} ({email})"),
            None => c.reviewer_id.to_string(),
        }
    }
    fn link(&self, page: impl Borrow<usize>, ipage: impl Borrow<usize>) -> String {
        let (page, ipage) = (*page.borrow(), *ipage.borrow());
        format!(
            "/rounds/{}/ranking?page={page}&ipage={ipage}",
            self.p.round.id
        )
    }
}

#[get("/rounds/{id}/ranking")]
pub async fn ranking(
    state: web::Data<AppState>,
    Signed(s): Signed,
    path: web::Path<Uuid>,
    q: web::Query<RankingQuery>,
) -> WebResult<HttpResponse> {
    s.caller.require(crate::auth::roles::ADMIN)?;
    // As the JSON ranking: one of the few expensive requests served at once.
    let _permit = state
        .expensive_permit()
        .map_err(|_| WebError::Service(Error::Unavailable))?;
    let p = svc::ranking_page(&state.db, &s.caller, path.into_inner()).await?;
    let clamp = |n: Option<usize>, len: usize| n.unwrap_or(1).clamp(1, pages(len));
    let page_no = clamp(q.page, p.ranking.ranking.ranked.len());
    let ipage_no = clamp(q.ipage, p.ranking.ranking.incomplete.len());
    html(&RankingTemplate {
        page: PageContext::new(&s, &state.settings.web.time_zone),
        p,
        page_no,
        ipage_no,
    })
}
