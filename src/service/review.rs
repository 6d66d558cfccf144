//! Review panels, assignments, scoring, ranking and awards (domain.md rule 5 and the default
//! round settings). The rules are in `domain::review`; this module loads facts, locks what must
//! not race, writes and audits, one transaction per use case.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Duration, Utc};
use diesel_async::scoped_futures::ScopedFutureExt;
use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::auth::Caller;
use crate::domain::lifecycle::{ApplicationStatus, RoundStatus};
use crate::domain::money::Money;
use crate::domain::rating::AssessmentResult;
use crate::domain::review::{
    allocate, auto_assign, check_scores, judged_total, rank, Allocation, AssignmentStatus,
    AwardCandidate, AwardOutcome, ExistingAssignment, PanelReviewer, RankInput, Ranking,
    ReviewInput, Shortfall,
};
use crate::domain::user::Role;
use crate::domain::violation::Violation;
use crate::service::error::parse_text;
use crate::service::rounds::RoundSpec;
use crate::service::{run_transaction, Error};
use crate::storage::models::{
    ApplicationRow, ApplicationUpdateForm, AssignmentInsertForm, AssignmentRow,
    AssignmentUpdateForm, AwardDecisionRow, AwardObjectionRow, AwardRow, PanelMemberRow, RoundRow,
    RoundUpdateForm,
};
use crate::storage::{applications, organizations, review, rounds, users, Database, Scope};

fn round_status(row: &RoundRow) -> Result<RoundStatus, Error> {
    parse_text(&row.status)
}

/// Adds a reviewer to a round's panel (or replaces its affiliations).
pub async fn add_reviewer(
    db: &Database,
    caller: &Caller,
    round_id: Uuid,
    reviewer_id: Uuid,
    affiliations: Vec<Uuid>,
) -> Result<PanelMemberRow, Error> {
    run_transaction(db, |conn| {
        async move {
            let round = rounds::lock(conn, round_id).await?;
            let status = round_status(&round)?;
            if matches!(
                status,
                RoundStatus::Draft | RoundStatus::Decided | RoundStatus::Archived
            ) {
                return Err(Error::invalid_state(format!(
                    "a panel is formed for an open, closed or reviewing round; this one is {status}"
                )));
            }
            let mut v = Vec::new();
            match users::get(conn, reviewer_id).await {
                Ok(u) if u.role == Role::Reviewer.as_str() && u.active => {}
                Ok(u) => v.push(
                    Violation::new("reviewer_role", "panel members are active reviewer users")
                        .limit("reviewer")
                        .actual(if u.active { u.role } else { "inactive".into() })
                        .field("reviewer_id"),
                ),
                Err(crate::storage::StorageError::Diesel(diesel::result::Error::NotFound)) => v
                    .push(
                        Violation::new("reference", "no such user")
                            .actual(reviewer_id)
                            .field("reviewer_id"),
                    ),
                Err(e) => return Err(e.into()),
            }
            let unique: HashSet<Uuid> = affiliations.iter().copied().collect();
            if affiliations.len() > 100 {
                v.push(
                    Violation::new("range", "at most 100 affiliations")
                        .limit(100)
                        .actual(affiliations.len())
                        .field("affiliations"),
                );
            }
            for (i, org) in affiliations.iter().enumerate() {
                if organizations::get(conn, Scope::All, *org).await.is_err() {
                    v.push(
                        Violation::new("reference", "no such organization")
                            .actual(org)
                            .field(format!("affiliations[{i}]")),
                    );
                }
            }
            if !v.is_empty() {
                return Err(Error::Validation(v));
            }
            let mut affiliations: Vec<Uuid> = unique.into_iter().collect();
            affiliations.sort();
            let row = review::upsert_member(
                conn,
                &PanelMemberRow {
                    round_id,
                    reviewer_id,
                    affiliations: affiliations.clone(),
                    added_by: caller.user_id,
                    added_at: Utc::now(),
                },
            )
            .await?;
            // An affiliation added later must not leave the reviewer on that organization's work.
            let orgs: HashSet<Uuid> = affiliations.iter().copied().collect();
            for a in review::round_assignments(conn, round_id).await? {
                if a.reviewer_id != reviewer_id || a.status == AssignmentStatus::Recused.as_str() {
                    continue;
                }
                let app = applications::get(conn, Scope::All, a.application_id).await?;
                if orgs.contains(&app.organization_id) {
                    return Err(Error::RuleViolation(vec![Violation::new(
                        "reviewer_affiliated",
                        "the reviewer is already assigned to an application of an affiliated organization; recuse it first",
                    )
                    .actual(a.application_id)
                    .field("affiliations")]));
                }
            }
            super::audit(
                conn,
                Some(caller),
                "panel.reviewer_added",
                "round",
                round_id,
                None::<&()>,
                Some(&serde_json::json!({"reviewer_id": reviewer_id, "affiliations": affiliations})),
            )
            .await?;
            Ok(row)
        }
        .scope_boxed()
    })
    .await
}

pub async fn panel(db: &Database, round_id: Uuid) -> Result<Vec<PanelMemberRow>, Error> {
    let mut conn = db.conn().await?;
    rounds::get(&mut conn, round_id, true).await?;
    Ok(review::members(&mut conn, round_id).await?)
}

/// A manual (application, reviewer) pair.
#[derive(Debug, Clone, Copy)]
pub struct Pair {
    pub application_id: Uuid,
    pub reviewer_id: Uuid,
}

pub enum AssignMode {
    /// k reviewers per application (default: the round's minimum).
    Auto {
        per_application: Option<u32>,
    },
    Manual(Vec<Pair>),
}

pub struct AssignOutcome {
    pub created: Vec<AssignmentRow>,
    pub shortfalls: Vec<Shortfall>,
}

/// Assigns reviewers to the round's eligible (`under_review`) applications. The round row is
/// locked, so two admins assigning at once cannot both fill the same gap. A closed round moves
/// to `reviewing` with its first assignments.
pub async fn assign(
    db: &Database,
    caller: &Caller,
    round_id: Uuid,
    mode: AssignMode,
) -> Result<AssignOutcome, Error> {
    run_transaction(db, |conn| {
        async move {
            let round_row = rounds::lock(conn, round_id).await?;
            let status = round_status(&round_row)?;
            if !matches!(status, RoundStatus::Closed | RoundStatus::Reviewing) {
                return Err(Error::invalid_state(format!(
                    "reviewers are assigned once the round is closed; this one is {status}"
                )));
            }
            let spec = RoundSpec::from_row(&round_row)?;
            let apps = review::round_applications(
                conn,
                round_id,
                &[ApplicationStatus::UnderReview.as_str()],
            )
            .await?;
            let members = review::members(conn, round_id).await?;
            let existing = review::round_assignments(conn, round_id).await?;
            let panel: Vec<PanelReviewer> = members
                .iter()
                .map(|m| PanelReviewer {
                    reviewer_id: m.reviewer_id,
                    affiliations: m.affiliations.iter().copied().collect(),
                })
                .collect();
            let (pairs, shortfalls) = match mode {
                AssignMode::Auto { per_application } => {
                    let k = per_application.unwrap_or(spec.rules.min_reviewers);
                    if k == 0 || k > 50 {
                        return Err(Error::invalid(
                            Violation::new("range", "reviewers_per_application is 1 to 50")
                                .limit("1..50")
                                .actual(k)
                                .field("reviewers_per_application"),
                        ));
                    }
                    let ex: Vec<ExistingAssignment> = existing
                        .iter()
                        .map(|a| ExistingAssignment {
                            application_id: a.application_id,
                            reviewer_id: a.reviewer_id,
                            active: a.status != AssignmentStatus::Recused.as_str(),
                        })
                        .collect();
                    let targets: Vec<(Uuid, Uuid)> =
                        apps.iter().map(|a| (a.id, a.organization_id)).collect();
                    auto_assign(&targets, &panel, &ex, k)
                }
                AssignMode::Manual(pairs) => {
                    check_manual(&pairs, &apps, &panel, &existing)?;
                    (
                        pairs
                            .iter()
                            .map(|p| (p.application_id, p.reviewer_id))
                            .collect(),
                        vec![],
                    )
                }
            };
            let forms: Vec<AssignmentInsertForm> = pairs
                .iter()
                .map(|(app, rev)| AssignmentInsertForm {
                    id: Uuid::new_v4(),
                    round_id,
                    application_id: *app,
                    reviewer_id: *rev,
                    assigned_by: caller.user_id,
                })
                .collect();
            let created = review::insert_assignments(conn, &forms).await?;
            if status == RoundStatus::Closed && !created.is_empty() {
                rounds::update(
                    conn,
                    round_id,
                    &RoundUpdateForm {
                        status: Some(RoundStatus::Reviewing.as_str().into()),
                        updated_at: Some(Utc::now()),
                        ..Default::default()
                    },
                )
                .await?;
                super::audit(
                    conn,
                    Some(caller),
                    "round.reviewing",
                    "round",
                    round_id,
                    Some(&serde_json::json!({"status": status})),
                    Some(&serde_json::json!({"status": RoundStatus::Reviewing})),
                )
                .await?;
            }
            let mut per_reviewer: BTreeMap<Uuid, u32> = BTreeMap::new();
            for a in &created {
                *per_reviewer.entry(a.reviewer_id).or_default() += 1;
            }
            super::notices::reviewers_assigned(
                conn,
                &round_row,
                &per_reviewer.into_iter().collect::<Vec<_>>(),
            )
            .await?;
            for a in &created {
                super::audit(
                    conn,
                    Some(caller),
                    "assignment.created",
                    "assignment",
                    a.id,
                    None::<&()>,
                    Some(&serde_json::json!({
                        "application_id": a.application_id, "reviewer_id": a.reviewer_id
                    })),
                )
                .await?;
            }
            Ok(AssignOutcome {
                created,
                shortfalls,
            })
        }
        .scope_boxed()
    })
    .await
}

fn check_manual(
    pairs: &[Pair],
    apps: &[ApplicationRow],
    panel: &[PanelReviewer],
    existing: &[AssignmentRow],
) -> Result<(), Error> {
    let mut v = Vec::new();
    let by_id: HashMap<Uuid, &ApplicationRow> = apps.iter().map(|a| (a.id, a)).collect();
    let taken: HashSet<(Uuid, Uuid)> = existing
        .iter()
        .map(|a| (a.application_id, a.reviewer_id))
        .collect();
    let mut seen = HashSet::new();
    if pairs.is_empty() || pairs.len() > 1000 {
        v.push(
            Violation::new("range", "manual assignment names 1 to 1000 pairs")
                .limit("1..1000")
                .actual(pairs.len())
                .field("pairs"),
        );
    }
    for (i, p) in pairs.iter().enumerate() {
        let field = format!("pairs[{i}]");
        let Some(app) = by_id.get(&p.application_id) else {
            v.push(
                Violation::new(
                    "application_not_eligible",
                    "the application is not one of this round's eligible (under review) applications",
                )
                .actual(p.application_id)
                .field(format!("{field}.application_id")),
            );
            continue;
        };
        let Some(member) = panel.iter().find(|m| m.reviewer_id == p.reviewer_id) else {
            v.push(
                Violation::new("not_on_panel", "the reviewer is not on this round's panel")
                    .actual(p.reviewer_id)
                    .field(format!("{field}.reviewer_id")),
            );
            continue;
        };
        if member.affiliations.contains(&app.organization_id) {
            v.push(
                Violation::new(
                    "reviewer_affiliated",
                    "a reviewer is never assigned to an organization it works for or advises",
                )
                .actual(p.reviewer_id)
                .field(format!("{field}.reviewer_id")),
            );
        }
        if taken.contains(&(p.application_id, p.reviewer_id))
            || !seen.insert((p.application_id, p.reviewer_id))
        {
            v.push(
                Violation::new(
                    "already_assigned",
                    "the reviewer already has (or had, before recusal) this application",
                )
                .actual(p.reviewer_id)
                .field(field),
            );
        }
    }
    if v.is_empty() {
        Ok(())
    } else {
        Err(Error::RuleViolation(v))
    }
}

/// A stored score sheet (`{"criterion": "12.5", ...}`) as scores in the order of `keys` (the
/// rubric's), parsed straight from the JSON text: no JSON tree, map or key string per sheet.
pub fn sheet_from_json(keys: &[&str], json: &[u8]) -> anyhow::Result<Vec<Option<Decimal>>> {
    use serde::de::{DeserializeSeed, Deserializer, Error, MapAccess, Visitor};
    struct Sheet<'k>(&'k [&'k str]);
    impl<'de> DeserializeSeed<'de> for Sheet<'_> {
        type Value = Vec<Option<Decimal>>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
    }
    impl<'de> Visitor<'de> for Sheet<'_> {
        type Value = Vec<Option<Decimal>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a score sheet: an object of decimal strings")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut scores = vec![None; self.0.len()];
            while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
                let Text(value) = map.next_value::<Text<'de>>()?;
                let i = self.0.iter().position(|k| *k == key).ok_or_else(|| {
                    A::Error::custom(format!("criterion `{key}` is not in the rubric"))
                })?;
                scores[i] = Some(value.parse::<Decimal>().map_err(A::Error::custom)?);
            }
            Ok(scores)
        }
    }
    /// A JSON string, borrowed from the input unless it has escapes (serde's own `Cow` always
    /// copies).
    struct Text<'de>(std::borrow::Cow<'de, str>);
    impl<'de> serde::Deserialize<'de> for Text<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Text<'de>;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a string")
                }
                fn visit_borrowed_str<E: Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                    Ok(Text(std::borrow::Cow::Borrowed(v)))
                }
                fn visit_str<E: Error>(self, v: &str) -> Result<Text<'de>, E> {
                    Ok(Text(std::borrow::Cow::Owned(v.to_owned())))
                }
            }
            d.deserialize_str(V)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(json);
    let scores = Sheet(keys)
        .deserialize(&mut de)
        .map_err(|e| anyhow::anyhow!("stored score sheet: {e}"))?;
    de.end()
        .map_err(|e| anyhow::anyhow!("stored score sheet: {e}"))?;
    Ok(scores)
}

pub fn scores_from_json(v: &serde_json::Value) -> Result<BTreeMap<String, Decimal>, Error> {
    let raw = <BTreeMap<String, String> as serde::Deserialize>::deserialize(v)
        .map_err(|e| Error::Internal(e.into()))?;
    raw.into_iter()
        .map(|(k, s)| {
            s.parse::<Decimal>()
                .map(|d| (k, d))
                .map_err(|e| Error::Internal(anyhow::anyhow!("stored score: {e}")))
        })
        .collect()
}

fn scores_to_json(s: &BTreeMap<String, Decimal>) -> serde_json::Value {
    serde_json::Value::Object(
        s.iter()
            .map(|(k, d)| {
                (
                    k.clone(),
                    serde_json::Value::String(d.normalize().to_string()),
                )
            })
            .collect(),
    )
}

/// A reviewer's own assignment, locked, with its round (others' are not found).
async fn own_assignment(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    id: Uuid,
) -> Result<(AssignmentRow, RoundRow), Error> {
    let reviewer = (caller.role == Role::Reviewer).then_some(caller.user_id);
    let visible = review::get_assignment(conn, id, reviewer).await?;
    // One round trip for both (an assignment's round never changes).
    let (round, row) = futures_util::try_join!(
        rounds::get(conn, visible.round_id, true),
        review::lock_assignment(conn, id),
    )?;
    Ok((row, round))
}

fn require_reviewing(round: &RoundRow) -> Result<(), Error> {
    let status = round_status(round)?;
    if status != RoundStatus::Reviewing {
        return Err(Error::invalid_state(format!(
            "scores change only while the round is reviewing; it is {status}"
        )));
    }
    Ok(())
}

/// Saves a draft score sheet (replacing the previous draft). Locked once submitted.
pub async fn save_scores(
    db: &Database,
    caller: &Caller,
    id: Uuid,
    scores: BTreeMap<String, Decimal>,
    comment: Option<String>,
) -> Result<AssignmentRow, Error> {
    run_transaction(db, |conn| {
        async move {
            let (row, round) = own_assignment(conn, caller, id).await?;
            require_reviewing(&round)?;
            let status: AssignmentStatus = parse_text(&row.status)?;
            if status != AssignmentStatus::Assigned {
                return Err(Error::invalid_state(format!(
                    "the assignment is {status}: scores are locked"
                )));
            }
            let spec = RoundSpec::from_row(&round)?;
            let mut v = check_scores(&spec.rubric, &spec.party_points, &scores, false);
            if let Some(c) = &comment {
                let n = c.chars().count();
                if n > 5000 {
                    v.push(
                        Violation::new("length", "a comment has at most 5000 characters")
                            .limit(5000)
                            .actual(n)
                            .field("comment"),
                    );
                }
            }
            if !v.is_empty() {
                return Err(Error::Validation(v));
            }
            let after = scores_to_json(&scores);
            let event = super::audit_event(
                Some(caller),
                "assignment.scores_saved",
                "assignment",
                id,
                Some(&row.scores),
                Some(&after),
            );
            let form = AssignmentUpdateForm {
                scores: Some(after),
                judged_total: Some(Some(judged_total(&scores))),
                comment: comment.map(|c| c.trim().to_string()),
                updated_at: Some(Utc::now()),
                ..Default::default()
            };
            // The update and its audit event in one round trip.
            let (updated, ()) = futures_util::try_join!(
                review::update_assignment(conn, id, &form),
                crate::storage::audit(conn, &event),
            )?;
            Ok(updated)
        }
        .scope_boxed()
    })
    .await
}

/// Submits the score sheet: every criterion must be scored; then it is locked.
pub async fn submit_scores(
    db: &Database,
    caller: &Caller,
    id: Uuid,
) -> Result<AssignmentRow, Error> {
    run_transaction(db, |conn| {
        async move {
            let (row, round) = own_assignment(conn, caller, id).await?;
            require_reviewing(&round)?;
            let status: AssignmentStatus = parse_text(&row.status)?;
            if status != AssignmentStatus::Assigned {
                return Err(Error::invalid_state(format!(
                    "an assignment that is {status} cannot be submitted"
                )));
            }
            let spec = RoundSpec::from_row(&round)?;
            let scores = scores_from_json(&row.scores)?;
            let v = check_scores(&spec.rubric, &spec.party_points, &scores, true);
            if !v.is_empty() {
                return Err(Error::RuleViolation(v));
            }
            let now = Utc::now();
            let updated = review::update_assignment(
                conn,
                id,
                &AssignmentUpdateForm {
                    status: Some(AssignmentStatus::Submitted.as_str().into()),
                    submitted_at: Some(Some(now)),
                    updated_at: Some(now),
                    ..Default::default()
                },
            )
            .await?;
            super::audit(
                conn,
                Some(caller),
                "assignment.submitted",
                "assignment",
                id,
                Some(&serde_json::json!({"status": status})),
                Some(&serde_json::json!({"status": "submitted", "judged_total": updated.judged_total})),
            )
            .await?;
            Ok(updated)
        }
        .scope_boxed()
    })
    .await
}

/// An admin reopens a submitted score sheet (recorded with the reason).
pub async fn reopen(
    db: &Database,
    caller: &Caller,
    id: Uuid,
    reason: String,
) -> Result<AssignmentRow, Error> {
    run_transaction(db, |conn| {
        async move {
            let (row, round) = own_assignment(conn, caller, id).await?;
            require_reviewing(&round)?;
            if row.status != AssignmentStatus::Submitted.as_str() {
                return Err(Error::invalid_state(format!(
                    "only a submitted score sheet can be reopened; this one is {}",
                    row.status
                )));
            }
            let updated = review::update_assignment(
                conn,
                id,
                &AssignmentUpdateForm {
                    status: Some(AssignmentStatus::Assigned.as_str().into()),
                    submitted_at: Some(None),
                    updated_at: Some(Utc::now()),
                    ..Default::default()
                },
            )
            .await?;
            super::audit(
                conn,
                Some(caller),
                "assignment.reopened",
                "assignment",
                id,
                Some(&serde_json::json!({"status": "submitted"})),
                Some(&serde_json::json!({"status": "assigned", "reason": reason})),
            )
            .await?;
            Ok(updated)
        }
        .scope_boxed()
    })
    .await
}

/// A reviewer declares a conflict of interest: the assignment is recused and its score, if
/// any, stops counting. The admin can then assign someone else.
pub async fn declare_conflict(
    db: &Database,
    caller: &Caller,
    id: Uuid,
    reason: String,
) -> Result<AssignmentRow, Error> {
    run_transaction(db, |conn| {
        async move {
            let (row, round) = own_assignment(conn, caller, id).await?;
            let rs = round_status(&round)?;
            if !matches!(rs, RoundStatus::Closed | RoundStatus::Reviewing) {
                return Err(Error::invalid_state(format!(
                    "conflicts are declared while the round is under review; it is {rs}"
                )));
            }
            if row.status == AssignmentStatus::Recused.as_str() {
                return Err(Error::invalid_state("the assignment is already recused"));
            }
            let updated = review::update_assignment(
                conn,
                id,
                &AssignmentUpdateForm {
                    status: Some(AssignmentStatus::Recused.as_str().into()),
                    conflict_reason: Some(Some(reason.clone())),
                    submitted_at: Some(None),
                    updated_at: Some(Utc::now()),
                    ..Default::default()
                },
            )
            .await?;
            super::audit(
                conn,
                Some(caller),
                "assignment.recused",
                "assignment",
                id,
                Some(&serde_json::json!({"status": row.status})),
                Some(&serde_json::json!({"status": "recused", "reason": reason})),
            )
            .await?;
            Ok(updated)
        }
        .scope_boxed()
    })
    .await
}

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

/// Computes the ranking of a round from its under-review (or decided) applications and their
/// submitted, non-recused score sheets. Reads only the columns it uses (one join for the
/// applications and their organizations, one query for the sheets), since a round holds
/// thousands of applications.
pub async fn ranking(
    conn: &mut AsyncPgConnection,
    round_row: &RoundRow,
) -> Result<RoundRanking, Error> {
    let spec = RoundSpec::from_row(round_row)?;
    let statuses = [
        ApplicationStatus::UnderReview,
        ApplicationStatus::Approved,
        ApplicationStatus::Rejected,
        ApplicationStatus::Contracted,
        ApplicationStatus::InProgress,
        ApplicationStatus::Completed,
        ApplicationStatus::Terminated,
    ]
    .map(|s| s.as_str());
    let apps = review::ranking_sources(conn, round_row.id, &statuses).await?;
    let index: HashMap<Uuid, usize> = apps.iter().enumerate().map(|(i, a)| (a.id, i)).collect();
    let mut reviews: Vec<Vec<ReviewInput>> = (0..apps.len()).map(|_| Vec::new()).collect();
    // Only submitted sheets count; the filter and the column choice are done in SQL.
    let keys: Vec<&str> = spec
        .rubric
        .criteria
        .iter()
        .map(|c| c.key.as_str())
        .collect();
    let sheets = review::round_submitted_scores(conn, round_row.id, |app, reviewer, json| {
        // A sheet of an application in another status (withdrawn, say) does not count.
        Ok(match index.get(&app) {
            Some(&i) => Some((
                i,
                ReviewInput {
                    reviewer_id: reviewer,
                    scores: sheet_from_json(&keys, json)?,
                },
            )),
            None => None,
        })
    })
    .await?;
    for (i, review) in sheets.into_iter().flatten() {
        reviews[i].push(review);
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

pub async fn round_ranking(db: &Database, round_id: Uuid) -> Result<RoundRanking, Error> {
    let mut conn = db.conn().await?;
    let round = rounds::get(&mut conn, round_id, true).await?;
    let status = round_status(&round)?;
    if matches!(status, RoundStatus::Draft | RoundStatus::Open) {
        return Err(Error::invalid_state(format!(
            "a round is ranked once it is closed; this one is {status}"
        )));
    }
    ranking(&mut conn, &round).await
}

/// An admin-adjusted award amount for one application.
#[derive(Debug, Clone, Copy)]
pub struct Adjustment {
    pub application_id: Uuid,
    pub amount: Money,
}

pub struct AwardPlan {
    pub ranking: RoundRanking,
    pub allocation: Allocation,
}

fn plan(ranking: RoundRanking, adjustments: &[Adjustment]) -> Result<AwardPlan, Error> {
    let mut v = Vec::new();
    let mut adjusted: HashMap<Uuid, Decimal> = HashMap::new();
    for (i, a) in adjustments.iter().enumerate() {
        let field = format!("adjustments[{i}]");
        match ranking.applications.get(&a.application_id) {
            None => v.push(
                Violation::new(
                    "application_not_ranked",
                    "no such application under review in this round",
                )
                .actual(a.application_id)
                .field(format!("{field}.application_id")),
            ),
            Some(app) => {
                let requested = app.requested_grant;
                if a.amount.amount() > requested || a.amount.amount().is_zero() {
                    v.push(
                        Violation::new(
                            "adjusted_amount",
                            "an adjusted award is above 0 and at most the requested amount",
                        )
                        .limit(format!("0.01..{requested}"))
                        .actual(a.amount)
                        .field(format!("{field}.amount")),
                    );
                }
                if adjusted
                    .insert(a.application_id, a.amount.amount())
                    .is_some()
                {
                    v.push(
                        Violation::new("duplicate", "one adjustment per application")
                            .actual(a.application_id)
                            .field(format!("{field}.application_id")),
                    );
                }
            }
        }
    }
    if !v.is_empty() {
        return Err(Error::Validation(v));
    }
    let candidates: Vec<AwardCandidate> = ranking
        .ranking
        .ranked
        .iter()
        .map(|r| AwardCandidate {
            application_id: r.application_id,
            passes_pass_mark: r.passes_pass_mark,
            requested: ranking.applications[&r.application_id].requested_grant,
            adjusted: adjusted.get(&r.application_id).copied(),
        })
        .collect();
    let incomplete: Vec<Uuid> = ranking
        .ranking
        .incomplete
        .iter()
        .map(|r| r.application_id)
        .collect();
    let allocation = allocate(&candidates, &incomplete, ranking.spec.total_pool.amount());
    Ok(AwardPlan {
        ranking,
        allocation,
    })
}

/// The award walk over the current ranking; changes nothing.
pub async fn preview(
    db: &Database,
    round_id: Uuid,
    adjustments: &[Adjustment],
) -> Result<AwardPlan, Error> {
    plan(round_ranking(db, round_id).await?, adjustments)
}

/// Publishes (or, during the public notice, amends) the award decision. The round row is
/// locked, so concurrent decisions serialize; the database refuses a total above the pool.
pub async fn publish(
    db: &Database,
    caller: &Caller,
    round_id: Uuid,
    adjustments: Vec<Adjustment>,
) -> Result<(AwardDecisionRow, AwardPlan), Error> {
    run_transaction(db, |conn| {
        async move {
            let round = rounds::lock(conn, round_id).await?;
            let status = round_status(&round)?;
            if status != RoundStatus::Reviewing {
                return Err(Error::invalid_state(format!(
                    "awards are decided while the round is reviewing; it is {status}"
                )));
            }
            let previous = review::decision(conn, round_id).await?;
            if previous.as_ref().is_some_and(|d| d.status == "final") {
                return Err(Error::invalid_state("the award decision is already final"));
            }
            let plan = plan(ranking(conn, &round).await?, &adjustments)?;
            let now = Utc::now();
            let rank_of: HashMap<Uuid, (u32, Option<Decimal>)> = plan
                .ranking
                .ranking
                .ranked
                .iter()
                .map(|r| (r.application_id, (r.rank.unwrap_or(0), r.ranking_score)))
                .collect();
            let lines: Vec<AwardRow> = plan
                .allocation
                .lines
                .iter()
                .map(|l| AwardRow {
                    round_id,
                    application_id: l.application_id,
                    rank: rank_of.get(&l.application_id).map(|r| r.0 as i32),
                    final_score: rank_of.get(&l.application_id).and_then(|r| r.1),
                    outcome: l.outcome.as_str().into(),
                    requested: plan.ranking.applications[&l.application_id].requested_grant,
                    amount: l.amount,
                })
                .collect();
            let row = review::save_decision(
                conn,
                &AwardDecisionRow {
                    round_id,
                    status: "public_notice".into(),
                    pool: plan.ranking.spec.total_pool.amount(),
                    total_awarded: plan.allocation.total_awarded,
                    notice_until: now
                        + Duration::days(i64::from(plan.ranking.spec.rules.public_notice_days)),
                    version: 1,
                    published_by: caller.user_id,
                    published_at: now,
                    finalized_by: None,
                    finalized_at: None,
                },
                &lines,
            )
            .await?;
            let orgs: Vec<Uuid> = plan
                .ranking
                .applications
                .values()
                .map(|a| a.organization_id)
                .collect();
            super::notices::public_notice(
                conn,
                &round,
                &orgs,
                lines.iter().filter(|l| l.outcome == "funded").count() as u32,
                row.total_awarded,
                row.notice_until,
            )
            .await?;
            super::audit(
                conn,
                Some(caller),
                if previous.is_some() { "awards.amended" } else { "awards.published" },
                "round",
                round_id,
                previous.as_ref().map(|p| serde_json::json!({"total_awarded": p.total_awarded, "version": p.version})).as_ref(),
                Some(&serde_json::json!({
                    "total_awarded": row.total_awarded,
                    "version": row.version,
                    "notice_until": row.notice_until,
                    "funded": lines.iter().filter(|l| l.outcome == "funded")
                        .map(|l| serde_json::json!({"application_id": l.application_id, "amount": l.amount}))
                        .collect::<Vec<_>>(),
                })),
            )
            .await?;
            Ok((row, plan))
        }
        .scope_boxed()
    })
    .await
}

/// Records an objection raised during the public notice.
pub async fn record_objection(
    db: &Database,
    caller: &Caller,
    round_id: Uuid,
    application_id: Option<Uuid>,
    objection: String,
    resolution: Option<String>,
) -> Result<AwardObjectionRow, Error> {
    run_transaction(db, |conn| {
        async move {
            rounds::lock(conn, round_id).await?;
            let decision = review::decision(conn, round_id).await?;
            if decision.as_ref().map(|d| d.status.as_str()) != Some("public_notice") {
                return Err(Error::invalid_state(
                    "objections are recorded during the public notice of an award decision",
                ));
            }
            if let Some(app) = application_id {
                let a = applications::get(conn, Scope::All, app).await;
                if !a.is_ok_and(|a| a.round_id == round_id) {
                    return Err(Error::invalid(
                        Violation::new("reference", "no such application in this round")
                            .actual(app)
                            .field("application_id"),
                    ));
                }
            }
            let row = review::insert_objection(
                conn,
                &AwardObjectionRow {
                    id: Uuid::new_v4(),
                    round_id,
                    application_id,
                    objection: objection.trim().to_string(),
                    resolution: resolution.map(|r| r.trim().to_string()),
                    recorded_by: caller.user_id,
                    recorded_at: Utc::now(),
                },
            )
            .await?;
            super::audit(
                conn,
                Some(caller),
                "awards.objection_recorded",
                "round",
                round_id,
                None::<&()>,
                Some(
                    &serde_json::json!({"objection_id": row.id, "application_id": application_id}),
                ),
            )
            .await?;
            Ok(row)
        }
        .scope_boxed()
    })
    .await
}

/// Ends the public notice: funded applications become `approved` with their award, the others
/// `rejected`, the round `decided`. One transaction under the round lock; a second admin
/// finalizing at the same time finds the decision final and gets 409.
pub async fn finalize(
    db: &Database,
    caller: &Caller,
    round_id: Uuid,
) -> Result<AwardDecisionRow, Error> {
    run_transaction(db, |conn| {
        async move {
            let round = rounds::lock(conn, round_id).await?;
            let status = round_status(&round)?;
            let decision = review::decision(conn, round_id).await?;
            let Some(decision) = decision.filter(|d| d.status == "public_notice") else {
                return Err(Error::invalid_state(
                    "there is no award decision in public notice to finalize",
                ));
            };
            if status != RoundStatus::Reviewing {
                return Err(Error::invalid_state(format!(
                    "the round is {status}, not reviewing"
                )));
            }
            let now = Utc::now();
            if now < decision.notice_until {
                return Err(Error::invalid_state(format!(
                    "the public notice runs until {}",
                    decision.notice_until.to_rfc3339()
                )));
            }
            let lines = review::award_lines(conn, round_id).await?;
            let total = crate::domain::arith::saturating_sum(lines.iter().map(|l| l.amount));
            if total > round.total_pool || total != decision.total_awarded {
                return Err(Error::Internal(anyhow::anyhow!(
                    "award lines add up to {total}, decision says {}",
                    decision.total_awarded
                )));
            }
            let funded: HashMap<Uuid, Decimal> = lines
                .iter()
                .filter(|l| l.outcome == AwardOutcome::Funded.as_str())
                .map(|l| (l.application_id, l.amount))
                .collect();
            let apps = review::round_applications(
                conn,
                round_id,
                &[ApplicationStatus::UnderReview.as_str()],
            )
            .await?;
            for app in apps {
                let (next, amount) = match funded.get(&app.id) {
                    Some(a) => (ApplicationStatus::Approved, Some(*a)),
                    None => (ApplicationStatus::Rejected, None),
                };
                applications::lock(conn, app.id).await?;
                let updated = applications::update(
                    conn,
                    app.id,
                    &ApplicationUpdateForm {
                        status: Some(next.as_str().into()),
                        award_amount: Some(amount),
                        updated_at: Some(now),
                        ..Default::default()
                    },
                )
                .await?;
                super::audit(
                    conn,
                    Some(caller),
                    &format!("application.{next}"),
                    "application",
                    app.id,
                    Some(&serde_json::json!({"status": "under_review"})),
                    Some(&serde_json::json!({"status": next, "award_amount": amount})),
                )
                .await?;
                if next == ApplicationStatus::Approved {
                    on_approved(conn, caller, &updated, &round).await?;
                }
                super::notices::award_decision(conn, &round, &updated, amount).await?;
            }
            rounds::update(
                conn,
                round_id,
                &RoundUpdateForm {
                    status: Some(RoundStatus::Decided.as_str().into()),
                    updated_at: Some(now),
                    ..Default::default()
                },
            )
            .await?;
            let row = review::finalize_decision(conn, round_id, caller.user_id, now).await?;
            super::audit(
                conn,
                Some(caller),
                "awards.finalized",
                "round",
                round_id,
                Some(&serde_json::json!({"status": "reviewing"})),
                Some(&serde_json::json!({"status": "decided", "total_awarded": row.total_awarded})),
            )
            .await?;
            Ok(row)
        }
        .scope_boxed()
    })
    .await
}

/// What follows an approval inside the finalizing transaction: the grant with its tranches.
async fn on_approved(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    application: &ApplicationRow,
    round: &RoundRow,
) -> Result<(), Error> {
    let spec = RoundSpec::from_row(round)?;
    crate::service::grants::create_for_approved(conn, Some(caller), application, &spec).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::sheet_from_json;
    use rust_decimal_macros::dec;

    const KEYS: &[&str] = &["need_analysis", "capacity", "party_elements"];

    #[test]
    fn a_stored_sheet_parses_into_the_rubric_order() {
        let s =
            sheet_from_json(KEYS, br#"{"party_elements": "4.5", "need_analysis": "12"}"#).unwrap();
        assert_eq!(s, vec![Some(dec!(12)), None, Some(dec!(4.5))]);
        // An escaped key is the same key.
        let s = sheet_from_json(KEYS, br#"{"capacit\u0079": "7"}"#).unwrap();
        assert_eq!(s, vec![None, Some(dec!(7)), None]);
        assert_eq!(
            sheet_from_json(KEYS, b"{}").unwrap(),
            vec![None, None, None]
        );
    }

    #[test]
    fn a_corrupt_stored_sheet_is_an_error_not_a_guess() {
        for bad in [
            &br#"{"nope": "1"}"#[..],
            br#"{"capacity": 7}"#,
            br#"{"capacity": "seven"}"#,
            br#"["capacity"]"#,
            br#"{"capacity": "7"} trailing"#,
        ] {
            assert!(
                sheet_from_json(KEYS, bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
