use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::auth::Caller;
use crate::domain::lifecycle::RoundStatus;
use crate::domain::money::Money;
use crate::domain::round::{
    validate_rubric, validate_tranches, PartyPointsTable, RoundKind, RoundRules, Rubric,
    TrancheSpec,
};
use crate::domain::violation::Violation;
use crate::service::error::parse_text;
use crate::service::{run_transaction, Error};
use crate::storage::models::{RoundInsertForm, RoundRow, RoundUpdateForm};
use crate::storage::{rounds, Database};

/// A round's whole definition, typed, as the rules check it.
#[derive(Debug, Clone, Serialize)]
pub struct RoundSpec {
    pub name: String,
    pub year: i32,
    pub kind: RoundKind,
    pub total_pool: Money,
    pub grant_min: Money,
    pub grant_max: Money,
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    pub project_start: Option<NaiveDate>,
    pub project_end: Option<NaiveDate>,
    pub focus_areas: Vec<String>,
    pub rules: RoundRules,
    pub rubric: Rubric,
    pub party_points: PartyPointsTable,
    pub tranche_schedule: Vec<TrancheSpec>,
}

/// A document of a stored round (rules, rubric, …); one that does not parse is a bug, not input.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(v: &serde_json::Value) -> Result<T, Error> {
    serde_json::from_value(v.clone())
        .map_err(|e| Error::Internal(anyhow::anyhow!("stored round document: {e}")))
}

use crate::service::error::stored_money as money;

impl RoundSpec {
    pub fn from_row(r: &RoundRow) -> Result<Self, Error> {
        Ok(Self {
            name: r.name.clone(),
            year: r.year,
            kind: parse_text(&r.kind)?,
            total_pool: money(r.total_pool)?,
            grant_min: money(r.grant_min)?,
            grant_max: money(r.grant_max)?,
            opens_at: r.opens_at,
            closes_at: r.closes_at,
            project_start: r.project_start,
            project_end: r.project_end,
            focus_areas: r.focus_areas.clone(),
            rules: from_json(&r.rules)?,
            rubric: from_json(&r.rubric)?,
            party_points: from_json(&r.party_points)?,
            tranche_schedule: from_json(&r.tranche_schedule)?,
        })
    }

    pub fn validate(&self) -> Result<(), Error> {
        let mut v = Vec::new();
        let n = self.name.trim().chars().count();
        if n == 0 || n > 200 {
            v.push(
                Violation::new("length", "name has 1 to 200 characters")
                    .limit("1..200")
                    .actual(n)
                    .field("name"),
            );
        }
        if !(2000..=2100).contains(&self.year) {
            v.push(
                Violation::new("range", "year is between 2000 and 2100")
                    .limit("2000..2100")
                    .actual(self.year)
                    .field("year"),
            );
        }
        if self.total_pool.amount().is_zero() {
            v.push(
                Violation::new("range", "the pool is above 0")
                    .limit("> 0")
                    .actual(self.total_pool)
                    .field("total_pool"),
            );
        }
        if self.grant_min > self.grant_max || self.grant_max > self.total_pool {
            v.push(
                Violation::new("grant_range", "grant_min <= grant_max <= total_pool")
                    .limit(format!("grant_max <= {}", self.total_pool))
                    .actual(format!("{} .. {}", self.grant_min, self.grant_max))
                    .field("grant_max"),
            );
        }
        if self.opens_at >= self.closes_at {
            v.push(
                Violation::new("window", "the window opens before it closes")
                    .actual(format!("{} .. {}", self.opens_at, self.closes_at))
                    .field("closes_at"),
            );
        }
        if let (Some(s), Some(e)) = (self.project_start, self.project_end) {
            if s >= e {
                v.push(
                    Violation::new("project_period", "the project period starts before it ends")
                        .actual(format!("{s} .. {e}"))
                        .field("project_end"),
                );
            }
        }
        let mut seen = std::collections::HashSet::new();
        if self.focus_areas.is_empty() || self.focus_areas.len() > 50 {
            v.push(
                Violation::new("focus_areas", "a round has 1 to 50 focus areas")
                    .limit("1..50")
                    .actual(self.focus_areas.len())
                    .field("focus_areas"),
            );
        }
        for (i, a) in self.focus_areas.iter().enumerate() {
            let n = a.trim().chars().count();
            if n == 0 || n > 100 || !seen.insert(a.trim()) {
                v.push(
                    Violation::new(
                        "focus_areas",
                        "focus areas are distinct and have 1 to 100 characters",
                    )
                    .actual(a)
                    .field(format!("focus_areas[{i}]")),
                );
            }
        }
        self.rules.validate(&mut v);
        validate_rubric(&self.rubric, &self.party_points, &mut v);
        validate_tranches(&self.tranche_schedule, &mut v);
        if v.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(v))
        }
    }

    fn json<T: Serialize>(t: &T) -> serde_json::Value {
        serde_json::to_value(t).expect("round documents serialize")
    }

    fn update_form(&self) -> RoundUpdateForm {
        RoundUpdateForm {
            name: Some(self.name.trim().to_string()),
            year: Some(self.year),
            total_pool: Some(self.total_pool.amount()),
            grant_min: Some(self.grant_min.amount()),
            grant_max: Some(self.grant_max.amount()),
            opens_at: Some(self.opens_at),
            closes_at: Some(self.closes_at),
            project_start: Some(self.project_start),
            project_end: Some(self.project_end),
            focus_areas: Some(
                self.focus_areas
                    .iter()
                    .map(|a| a.trim().to_string())
                    .collect(),
            ),
            rules: Some(Self::json(&self.rules)),
            rubric: Some(Self::json(&self.rubric)),
            party_points: Some(Self::json(&self.party_points)),
            tranche_schedule: Some(Self::json(&self.tranche_schedule)),
            updated_at: Some(Utc::now()),
            status: None,
        }
    }
}

pub async fn create(db: &Database, spec: RoundSpec, actor: &Caller) -> Result<RoundRow, Error> {
    spec.validate()?;
    let form = RoundInsertForm {
        id: Uuid::new_v4(),
        name: spec.name.trim().to_string(),
        year: spec.year,
        kind: spec.kind.as_str().into(),
        status: RoundStatus::Draft.as_str().into(),
        total_pool: spec.total_pool.amount(),
        grant_min: spec.grant_min.amount(),
        grant_max: spec.grant_max.amount(),
        opens_at: spec.opens_at,
        closes_at: spec.closes_at,
        project_start: spec.project_start,
        project_end: spec.project_end,
        focus_areas: spec
            .focus_areas
            .iter()
            .map(|a| a.trim().to_string())
            .collect(),
        rules: RoundSpec::json(&spec.rules),
        rubric: RoundSpec::json(&spec.rubric),
        party_points: RoundSpec::json(&spec.party_points),
        tranche_schedule: RoundSpec::json(&spec.tranche_schedule),
        created_by: actor.user_id,
    };
    run_transaction(db, async move |conn| {
        let row = rounds::insert(conn, &form).await?;
        super::audit(
            conn,
            Some(actor),
            "round.created",
            "round",
            row.id,
            None::<&()>,
            Some(&spec),
        )
        .await?;
        Ok(row)
    })
    .await
}

/// Changes a draft round; anything but a draft answers 409 `invalid_state`.
pub async fn update(
    db: &Database,
    id: Uuid,
    actor: &Caller,
    change: impl FnOnce(&mut RoundSpec) -> Result<(), Error> + Send,
) -> Result<RoundRow, Error> {
    run_transaction(db, async move |conn| {
        let before = rounds::lock(conn, id).await?;
        if before.status != RoundStatus::Draft.as_str() {
            return Err(Error::invalid_state(format!(
                "a round can be changed only as a draft; this one is {}",
                before.status
            )));
        }
        let old = RoundSpec::from_row(&before)?;
        let mut spec = old.clone();
        change(&mut spec)?;
        spec.validate()?;
        let row = rounds::update(conn, id, &spec.update_form()).await?;
        super::audit(
            conn,
            Some(actor),
            "round.updated",
            "round",
            id,
            Some(&old),
            Some(&spec),
        )
        .await?;
        Ok(row)
    })
    .await
}

pub async fn transition(
    db: &Database,
    id: Uuid,
    next: RoundStatus,
    actor: &Caller,
) -> Result<RoundRow, Error> {
    run_transaction(db, async move |conn| {
        let before = rounds::lock(conn, id).await?;
        let current: RoundStatus = parse_text(&before.status)?;
        if !current.can_become(next) {
            return Err(Error::invalid_state(format!(
                "a round that is {current} cannot become {next}"
            )));
        }
        if next == RoundStatus::Open {
            RoundSpec::from_row(&before)?.validate()?;
        }
        let row = rounds::update(
            conn,
            id,
            &RoundUpdateForm {
                status: Some(next.as_str().into()),
                updated_at: Some(Utc::now()),
                ..Default::default()
            },
        )
        .await?;
        super::audit(
            conn,
            Some(actor),
            &format!("round.{next}"),
            "round",
            id,
            Some(&serde_json::json!({"status": current})),
            Some(&serde_json::json!({"status": next})),
        )
        .await?;
        Ok(row)
    })
    .await
}
