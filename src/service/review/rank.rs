//! The round's ranking from the submitted score sheets: trimmed means, ties, calibration.

use std::collections::HashMap;

use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::round_status;
use super::scoring::sheet_from_json;
use crate::domain::lifecycle::{ApplicationStatus, RoundStatus};
use crate::domain::rating::AssessmentResult;
use crate::domain::review::{rank, RankInput, Ranking, ReviewInput};
use crate::service::error::parse_text;
use crate::service::rounds::RoundSpec;
use crate::service::Error;
use crate::storage::models::{RankingSourceRow, RoundRow};
use crate::storage::{review, rounds, Database};

/// What the ranking and the awards show of one application besides its scores.
#[derive(Debug, Clone)]
pub struct RankedApplication {
    pub title: String,
    pub organization_id: Uuid,
    pub organization_name: String,
    pub requested_grant: Decimal,
}

pub struct RoundRanking {
    pub spec: RoundSpec,
    pub ranking: Ranking,
    pub applications: HashMap<Uuid, RankedApplication>,
}

/// The ranked statuses as stored.
fn ranked_statuses() -> Vec<&'static str> {
    ApplicationStatus::RANKED_STATUSES
        .iter()
        .map(|s| s.as_str())
        .collect()
}

/// A round's submitted, non-recused sheets, each as (application, sheet) with its scores in
/// the rubric's criterion order. The filter and the column choice are done in SQL.
async fn submitted_sheets(
    conn: &mut AsyncPgConnection,
    round_id: Uuid,
    spec: &RoundSpec,
) -> Result<Vec<(Uuid, ReviewInput)>, Error> {
    let keys: Vec<&str> = spec
        .rubric
        .criteria
        .iter()
        .map(|c| c.key.as_str())
        .collect();
    let mut sheets = Vec::new();
    review::round_submitted_scores(conn, round_id, |app, reviewer, json| {
        sheets.push((
            app,
            ReviewInput {
                reviewer_id: reviewer,
                scores: sheet_from_json(&keys, json)?,
            },
        ));
        Ok(())
    })
    .await?;
    Ok(sheets)
}

/// Computes the ranking of a round from its under-review (or decided) applications and their
/// submitted, non-recused score sheets, both read on `conn` (inside the caller's transaction,
/// when it has one). Reads only the columns it uses (one join for the applications and their
/// organizations, one query for the sheets), since a round holds thousands of applications.
pub async fn ranking(
    conn: &mut AsyncPgConnection,
    round_row: &RoundRow,
) -> Result<RoundRanking, Error> {
    let spec = RoundSpec::from_row(round_row)?;
    let apps = review::ranking_sources(conn, round_row.id, &ranked_statuses()).await?;
    let sheets = submitted_sheets(conn, round_row.id, &spec).await?;
    assemble(spec, apps, sheets)
}

/// The ranking from its two reads: each sheet goes to its application, and each application's
/// facts become the input of the pure `rank`.
fn assemble(
    spec: RoundSpec,
    apps: Vec<RankingSourceRow>,
    sheets: Vec<(Uuid, ReviewInput)>,
) -> Result<RoundRanking, Error> {
    let index: HashMap<Uuid, usize> = apps.iter().enumerate().map(|(i, a)| (a.id, i)).collect();
    let mut reviews: Vec<Vec<ReviewInput>> = (0..apps.len()).map(|_| Vec::new()).collect();
    for (app, sheet) in sheets {
        // A sheet of an application in another status (withdrawn, say) does not count.
        if let Some(&i) = index.get(&app) {
            reviews[i].push(sheet);
        }
    }
    // The sheets arrive in no particular order; a stable one keeps the answer reproducible.
    for r in &mut reviews {
        r.sort_unstable_by_key(|s| s.reviewer_id);
    }
    let mut inputs = Vec::with_capacity(apps.len());
    let mut info = HashMap::with_capacity(apps.len());
    for (app, reviews) in apps.into_iter().zip(reviews) {
        let assessment: AssessmentResult = parse_text(&app.party_assessment)?;
        inputs.push(RankInput {
            application_id: app.id,
            submitted_at: app.submitted_at.unwrap_or(app.created_at),
            assessment_passed: assessment == AssessmentResult::Passed,
            // The objective party-element points of rule 5, from the declared facts.
            party_objective: spec.party_points.objective_points(
                parse_text(&app.party_building_status)?,
                app.team_has_party_member,
                app.party_activity_count.max(0) as u32,
                app.red_project,
            ),
            reviews,
        });
        info.insert(
            app.id,
            RankedApplication {
                title: app.title,
                organization_id: app.organization_id,
                organization_name: app.organization_name,
                requested_grant: app.requested_grant,
            },
        );
    }
    let ranking = rank(&inputs, &spec.rubric, &spec.rules);
    Ok(RoundRanking {
        spec,
        ranking,
        applications: info,
    })
}

/// The ranking of a closed round, outside any transaction. Its two reads run at once on two
/// connections, so the server produces the sheets while the service decodes the applications
/// (on a 10,000 × 5 round about a third of the time). Each read sees its own snapshot, as two
/// statements on one connection outside a transaction would: a sheet whose application is not
/// among the ranked ones is left out either way.
pub async fn round_ranking(db: &Database, round_id: Uuid) -> Result<RoundRanking, Error> {
    let mut conn = db.conn().await?;
    let round = rounds::get(&conn, round_id, true).await?;
    let status = round_status(&round)?;
    if matches!(status, RoundStatus::Draft | RoundStatus::Open) {
        return Err(Error::invalid_state(format!(
            "a round is ranked once it is closed; this one is {status}"
        )));
    }
    let spec = RoundSpec::from_row(&round)?;
    let mut second = db.conn().await?;
    let statuses = ranked_statuses();
    let (apps, sheets) = futures_util::try_join!(
        async { Ok::<_, Error>(review::ranking_sources(&mut conn, round.id, &statuses).await?) },
        submitted_sheets(&mut second, round.id, &spec),
    )?;
    drop((conn, second));
    assemble(spec, apps, sheets)
}
