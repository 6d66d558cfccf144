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
    let round = rounds::get(&mut conn, round_id, true).await?;
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
    let round = rounds::get(&mut conn, round_id, true).await?;
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
