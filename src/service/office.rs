//! What the program office's pages show: a round with its counts, its ranking with names, its
//! panel with each reviewer's progress. Reads only; the changes go through the same use cases
//! as the API (`rounds`, `applications`, `review`).

use std::collections::{BTreeMap, HashMap};

use uuid::Uuid;

use crate::auth::{roles, Caller};
use crate::service::review::{self, RoundRanking};
use crate::service::rounds::RoundSpec;
use crate::service::Error;
use crate::storage::models::RoundRow;
use crate::storage::office;
use crate::storage::{rounds, Database};

/// (name, email) by user id.
pub type Names = HashMap<Uuid, (String, String)>;

async fn names(conn: &mut diesel_async::AsyncPgConnection, ids: &[Uuid]) -> Result<Names, Error> {
    Ok(office::user_names(conn, ids)
        .await?
        .into_iter()
        .map(|(id, n, e)| (id, (n, e)))
        .collect())
}

pub struct RankingPage {
    pub round: RoundRow,
    pub ranking: RoundRanking,
    pub reviewers: Names,
}

/// The round's ranking as the JSON API computes it, with the reviewers' names (admin).
pub async fn ranking_page(
    db: &Database,
    caller: &Caller,
    round_id: Uuid,
) -> Result<RankingPage, Error> {
    caller.require(roles::ADMIN)?;
    let ranking = review::round_ranking(db, round_id).await?;
    let mut conn = db.conn().await?;
    let round = rounds::get(&conn, round_id, true).await?;
    let ids: Vec<Uuid> = ranking
        .ranking
        .calibration
        .iter()
        .map(|c| c.reviewer_id)
        .collect();
    let reviewers = names(&mut conn, &ids).await?;
    Ok(RankingPage {
        round,
        ranking,
        reviewers,
    })
}

/// A panel member with its scoring progress.
pub struct PanelRow {
    pub reviewer_id: Uuid,
    pub name: String,
    pub email: String,
    pub affiliations: Vec<Uuid>,
    /// Assignment status → count.
    pub progress: BTreeMap<String, i64>,
}

impl PanelRow {
    pub fn count(&self, status: &str) -> i64 {
        self.progress.get(status).copied().unwrap_or(0)
    }
}

pub struct RoundPage {
    pub round: RoundRow,
    pub spec: RoundSpec,
    /// Application status → count.
    pub counts: BTreeMap<String, i64>,
    pub panel: Vec<PanelRow>,
    pub decision: Option<crate::storage::models::AwardDecisionRow>,
}

impl RoundPage {
    pub fn count(&self, status: &str) -> i64 {
        self.counts.get(status).copied().unwrap_or(0)
    }
    pub fn total(&self) -> i64 {
        self.counts.values().sum()
    }
}

/// A round with its application counts, its panel and each reviewer's progress (admin).
pub async fn round_page(
    db: &Database,
    caller: &Caller,
    round_id: Uuid,
) -> Result<RoundPage, Error> {
    caller.require(roles::ADMIN)?;
    let mut conn = db.conn().await?;
    let round = rounds::get(&conn, round_id, true).await?;
    let spec = RoundSpec::from_row(&round)?;
    let counts = office::application_counts(&mut conn, round_id)
        .await?
        .into_iter()
        .collect();
    let members = crate::storage::review::members(&mut conn, round_id).await?;
    let ids: Vec<Uuid> = members.iter().map(|m| m.reviewer_id).collect();
    let who = names(&mut conn, &ids).await?;
    let mut progress: HashMap<Uuid, BTreeMap<String, i64>> = HashMap::new();
    for (reviewer, status, n) in office::assignment_progress(&mut conn, round_id).await? {
        progress.entry(reviewer).or_default().insert(status, n);
    }
    let panel = members
        .into_iter()
        .map(|m| {
            let (name, email) = who.get(&m.reviewer_id).cloned().unwrap_or_default();
            PanelRow {
                reviewer_id: m.reviewer_id,
                name,
                email,
                affiliations: m.affiliations,
                progress: progress.remove(&m.reviewer_id).unwrap_or_default(),
            }
        })
        .collect();
    let decision = crate::storage::review::decision(&mut conn, round_id).await?;
    Ok(RoundPage {
        round,
        spec,
        counts,
        panel,
        decision,
    })
}

/// The admin's dashboard: every round, newest first.
pub async fn rounds_list(db: &Database, caller: &Caller) -> Result<Vec<RoundRow>, Error> {
    caller.require(roles::ADMIN)?;
    let mut conn = db.conn().await?;
    let mut rows = rounds::list(&mut conn, true, None, None, 200).await?;
    rows.reverse();
    Ok(rows)
}

/// Applications per page of the screening queue.
pub const QUEUE_PER_PAGE: i64 = 100;

pub struct ScreeningQueue {
    pub round: RoundRow,
    /// Submitted applications waiting for screening, with their organizations' names.
    pub waiting: Vec<(crate::storage::models::ApplicationRow, String)>,
    pub page: i64,
    pub has_next: bool,
    pub counts: BTreeMap<String, i64>,
}

/// The round's submitted applications, oldest submission first (admin).
pub async fn screening_queue(
    db: &Database,
    caller: &Caller,
    round_id: Uuid,
    page: i64,
) -> Result<ScreeningQueue, Error> {
    caller.require(roles::ADMIN)?;
    let page = page.clamp(1, 1_000_000);
    let mut conn = db.conn().await?;
    let round = rounds::get(&conn, round_id, true).await?;
    let mut waiting = office::round_applications_named(
        &mut conn,
        round_id,
        &["submitted"],
        (page - 1) * QUEUE_PER_PAGE,
        QUEUE_PER_PAGE + 1,
    )
    .await?;
    let has_next = waiting.len() as i64 > QUEUE_PER_PAGE;
    waiting.truncate(QUEUE_PER_PAGE as usize);
    let counts = office::application_counts(&mut conn, round_id)
        .await?
        .into_iter()
        .collect();
    Ok(ScreeningQueue {
        round,
        waiting,
        page,
        has_next,
        counts,
    })
}

pub struct PanelPage {
    pub round: RoundPage,
    /// Active reviewers not yet on the panel: (id, name, email).
    pub candidates: Vec<(Uuid, String, String)>,
    /// Organizations with an application in the round: (id, name).
    pub organizations: Vec<(Uuid, String)>,
    /// Under-review applications short of the round's minimum of reviewers:
    /// (application, title, active assignments).
    pub gaps: Vec<(Uuid, String, i64)>,
    /// Under-review applications, for a manual assignment: (application, title, organization).
    pub eligible: Vec<(Uuid, String, String)>,
}

/// Applications listed for a manual assignment, at most.
pub const MANUAL_CHOICES: i64 = 1000;

/// The panel with each reviewer's progress, who could join, and the assignment gaps (admin).
pub async fn panel_page(
    db: &Database,
    caller: &Caller,
    round_id: Uuid,
) -> Result<PanelPage, Error> {
    let round = round_page(db, caller, round_id).await?;
    let mut conn = db.conn().await?;
    let on_panel: std::collections::HashSet<Uuid> =
        round.panel.iter().map(|p| p.reviewer_id).collect();
    let candidates = office::active_reviewers(&mut conn)
        .await?
        .into_iter()
        .filter(|(id, _, _)| !on_panel.contains(id))
        .collect();
    let organizations = office::round_organizations(&mut conn, round_id).await?;
    let k = i64::from(round.spec.rules.min_reviewers);
    let gaps = office::assignment_gaps(&mut conn, round_id, k).await?;
    let eligible =
        office::round_applications_named(&mut conn, round_id, &["under_review"], 0, MANUAL_CHOICES)
            .await?
            .into_iter()
            .map(|(a, org)| (a.id, a.title, org))
            .collect();
    Ok(PanelPage {
        round,
        candidates,
        organizations,
        gaps,
        eligible,
    })
}

/// One line of a published decision, with the names the page shows.
pub struct DecisionLine {
    pub line: crate::storage::models::AwardRow,
    pub title: String,
    pub organization_name: String,
}

pub struct AwardsPage {
    pub round: RoundRow,
    pub decision: Option<crate::storage::models::AwardDecisionRow>,
    pub lines: Vec<DecisionLine>,
    pub objections: Vec<crate::storage::models::AwardObjectionRow>,
    /// The allocation over the current ranking (with the adjustments asked for), while the
    /// round is reviewing and the decision is not final.
    pub plan: Option<review::AwardPlan>,
    /// Why there is no preview (the round is not reviewing yet, say).
    pub plan_refusal: Option<String>,
}

/// The round's award decision, its objections, and a preview of the allocation (admin).
pub async fn awards_page(
    db: &Database,
    caller: &Caller,
    round_id: Uuid,
    adjustments: &[review::Adjustment],
) -> Result<AwardsPage, Error> {
    caller.require(roles::ADMIN)?;
    let mut conn = db.conn().await?;
    let round = rounds::get(&conn, round_id, true).await?;
    let decision = crate::storage::review::decision(&mut conn, round_id).await?;
    let mut lines = Vec::new();
    let mut objections = Vec::new();
    if decision.is_some() {
        let rows = crate::storage::review::award_lines(&mut conn, round_id).await?;
        let named: HashMap<Uuid, (String, String)> = office::round_applications_named(
            &mut conn,
            round_id,
            &[
                "under_review",
                "approved",
                "rejected",
                "contracted",
                "in_progress",
                "completed",
                "terminated",
            ],
            0,
            i64::MAX,
        )
        .await?
        .into_iter()
        .map(|(a, org)| (a.id, (a.title, org)))
        .collect();
        for line in rows {
            let (title, organization_name) =
                named.get(&line.application_id).cloned().unwrap_or_default();
            lines.push(DecisionLine {
                line,
                title,
                organization_name,
            });
        }
        objections = crate::storage::review::objections(&mut conn, round_id).await?;
    }
    drop(conn);
    let final_ = decision.as_ref().is_some_and(|d| d.status == "final");
    let (plan, plan_refusal) = if final_ {
        (None, None)
    } else {
        match review::preview(db, round_id, adjustments).await {
            Ok(p) => (Some(p), None),
            Err(e @ Error::Conflict { .. }) => (None, Some(e.to_string())),
            Err(e) => return Err(e),
        }
    };
    Ok(AwardsPage {
        round,
        decision,
        lines,
        objections,
        plan,
        plan_refusal,
    })
}
