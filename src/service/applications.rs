use chrono::Utc;
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Caller;
use crate::domain::budget::{line_amount, summarize, validate_lines, BudgetLineInput};
use crate::domain::eligibility::{check_submission, SubmissionFacts};
use crate::domain::lifecycle::{ApplicationStatus, RoundStatus};
use crate::domain::violation::Violation;
use crate::notify;
use crate::service::error::parse_text;
use crate::service::organizations::OrganizationFacts;
use crate::service::rounds::RoundSpec;
use crate::service::{run_transaction, Error};
use crate::storage::models::{
    ApplicationInsertForm, ApplicationRow, ApplicationUpdateForm, BudgetLineRow, OrganizationRow,
    RoundRow,
};
use crate::storage::{applications, organizations, rounds, Database, Scope};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamMember {
    pub name: String,
    pub role: String,
    /// 党员
    #[serde(default)]
    pub party_member: bool,
}

/// The editable content of an application; every field optional so it serves create and patch.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationContent {
    pub title: Option<String>,
    /// One of the round's focus areas.
    pub focus_area: Option<String>,
    pub summary: Option<String>,
    /// Who the project serves.
    pub beneficiaries: Option<String>,
    #[schema(maximum = 10000000)]
    pub beneficiary_count: Option<u32>,
    #[serde(default, deserialize_with = "crate::domain::patch::double_option")]
    #[schema(value_type = Option<chrono::NaiveDate>)]
    pub start_date: Option<Option<chrono::NaiveDate>>,
    #[serde(default, deserialize_with = "crate::domain::patch::double_option")]
    #[schema(value_type = Option<chrono::NaiveDate>)]
    pub end_date: Option<Option<chrono::NaiveDate>>,
    pub requested_grant: Option<crate::domain::money::Money>,
    /// Self-raised co-funding (自筹).
    pub co_funding: Option<crate::domain::money::Money>,
    pub team: Option<Vec<TeamMember>>,
    #[schema(maximum = 10000000)]
    pub party_activity_count: Option<u32>,
    pub party_activity_description: Option<String>,
    /// Declared red public-benefit project (红色公益项目).
    pub red_project: Option<bool>,
    /// Second-year continuation: the same organization's funded application of an earlier round.
    #[serde(default, deserialize_with = "crate::domain::patch::double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub previous_application_id: Option<Option<Uuid>>,
}

impl ApplicationContent {
    fn apply(self, f: &mut ApplicationUpdateForm) -> Vec<Violation> {
        let mut v = Vec::new();
        let mut text =
            |field: &str, value: Option<String>, min: usize, max: usize| -> Option<String> {
                let value = value?;
                let n = value.trim().chars().count();
                if n < min || n > max {
                    v.push(
                        Violation::new("length", format!("{field} has {min} to {max} characters"))
                            .limit(format!("{min}..{max}"))
                            .actual(n)
                            .field(field),
                    );
                }
                Some(value.trim().to_string())
            };
        f.title = text("title", self.title, 1, 200);
        f.focus_area = text("focus_area", self.focus_area, 1, 100);
        f.summary = text("summary", self.summary, 0, 5000);
        f.beneficiaries = text("beneficiaries", self.beneficiaries, 0, 1000);
        f.party_activity_description = text(
            "party_activity_description",
            self.party_activity_description,
            0,
            2000,
        );
        let mut count = |field: &str, value: Option<u32>| -> Option<i32> {
            let value = value?;
            if value > 10_000_000 {
                v.push(
                    Violation::new("range", format!("{field} is at most 10000000"))
                        .limit(10_000_000)
                        .actual(value)
                        .field(field),
                );
            }
            Some(value.min(10_000_000) as i32)
        };
        f.beneficiary_count = count("beneficiary_count", self.beneficiary_count);
        f.party_activity_count = count("party_activity_count", self.party_activity_count);
        f.start_date = self.start_date;
        f.end_date = self.end_date;
        f.requested_grant = self.requested_grant.map(|m| m.amount());
        f.co_funding = self.co_funding.map(|m| m.amount());
        f.red_project = self.red_project;
        f.previous_application_id = self.previous_application_id;
        if let Some(team) = self.team {
            if team.len() > 100 {
                v.push(
                    Violation::new("team", "a team has at most 100 members")
                        .limit(100)
                        .actual(team.len())
                        .field("team"),
                );
            }
            for (i, m) in team.iter().enumerate() {
                if m.name.trim().is_empty()
                    || m.name.chars().count() > 100
                    || m.role.chars().count() > 100
                {
                    v.push(
                        Violation::new(
                            "length",
                            "a member has a name (1 to 100 characters) and a role (at most 100)",
                        )
                        .field(format!("team[{i}]")),
                    );
                }
            }
            f.team = Some(serde_json::to_value(team).expect("team serializes"));
        }
        v
    }
}

fn locked_draft(row: &ApplicationRow) -> Result<(), Error> {
    if row.status != ApplicationStatus::Draft.as_str() {
        return Err(Error::invalid_state(format!(
            "only a draft can be edited; this application is {}",
            row.status
        )));
    }
    Ok(())
}

/// Checks the content against the round: focus area, continuation link.
async fn check_content(
    conn: &mut AsyncPgConnection,
    row: &ApplicationRow,
    round: &RoundSpec,
) -> Result<(), Error> {
    let mut v = Vec::new();
    if !round.focus_areas.iter().any(|a| a == &row.focus_area) {
        v.push(
            Violation::new("focus_area", "the focus area must be one of the round's")
                .limit(round.focus_areas.join(", "))
                .actual(&row.focus_area)
                .field("focus_area"),
        );
    }
    if let Some(prev) = row.previous_application_id {
        // Rule 7: a funded project of the same organization in another round.
        let funded = ["approved", "contracted", "in_progress", "completed"];
        let ok = match applications::get(conn, Scope::Organization(row.organization_id), prev).await
        {
            Ok(p) => p.round_id != row.round_id && funded.contains(&p.status.as_str()),
            Err(crate::storage::StorageError::Diesel(diesel::result::Error::NotFound)) => false,
            Err(e) => return Err(e.into()),
        };
        if !ok {
            v.push(Violation::new("continuation", "previous_application_id must name a funded project of the same organization in an earlier round").actual(prev).field("previous_application_id"));
        }
    }
    if v.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(v))
    }
}

pub async fn create(
    db: &Database,
    caller: &Caller,
    round_id: Uuid,
    content: ApplicationContent,
) -> Result<ApplicationRow, Error> {
    let org = caller.organization_id.ok_or_else(|| {
        Error::forbidden("only applicants of an organization create applications")
    })?;
    let mut missing = Vec::new();
    if content.title.is_none() {
        missing.push(Violation::new("required", "title is required").field("title"));
    }
    if content.focus_area.is_none() {
        missing.push(Violation::new("required", "focus_area is required").field("focus_area"));
    }
    if !missing.is_empty() {
        return Err(Error::Validation(missing));
    }
    run_transaction(db, async move |conn| {
        let round_row = rounds::get(conn, round_id, false).await?;
        if round_row.status != RoundStatus::Open.as_str() {
            return Err(Error::invalid_state(format!(
                "the round is {}, not open",
                round_row.status
            )));
        }
        let round = RoundSpec::from_row(&round_row)?;
        let id = Uuid::new_v4();
        let mut form = ApplicationUpdateForm::default();
        let v = content.apply(&mut form);
        if !v.is_empty() {
            return Err(Error::Validation(v));
        }
        let insert = ApplicationInsertForm {
            id,
            round_id,
            organization_id: org,
            status: ApplicationStatus::Draft.as_str().into(),
            title: form.title.unwrap_or_default(),
            focus_area: form.focus_area.unwrap_or_default(),
            summary: form.summary.unwrap_or_default(),
            beneficiaries: form.beneficiaries.unwrap_or_default(),
            beneficiary_count: form.beneficiary_count.unwrap_or(0),
            start_date: form.start_date.flatten(),
            end_date: form.end_date.flatten(),
            requested_grant: form.requested_grant.unwrap_or_default(),
            co_funding: form.co_funding.unwrap_or_default(),
            team: form.team.unwrap_or_else(|| serde_json::json!([])),
            party_activity_count: form.party_activity_count.unwrap_or(0),
            party_activity_description: form.party_activity_description.unwrap_or_default(),
            red_project: form.red_project.unwrap_or(false),
            previous_application_id: form.previous_application_id.flatten(),
            created_by: caller.user_id,
        };
        let row = applications::insert(conn, &insert).await?;
        check_content(conn, &row, &round).await?;
        super::audit(
            conn,
            Some(caller),
            "application.created",
            "application",
            row.id,
            None::<&()>,
            Some(&serde_json::json!({"title": row.title, "round_id": round_id})),
        )
        .await?;
        Ok(row)
    })
    .await
}

pub async fn update(
    db: &Database,
    caller: &Caller,
    id: Uuid,
    content: ApplicationContent,
) -> Result<ApplicationRow, Error> {
    run_transaction(db, async move |conn| {
        applications::get(conn, caller.organization_scope(), id).await?;
        let before = applications::lock(conn, id).await?;
        locked_draft(&before)?;
        let mut form = ApplicationUpdateForm::default();
        let v = content.apply(&mut form);
        if !v.is_empty() {
            return Err(Error::Validation(v));
        }
        form.updated_at = Some(Utc::now());
        let row = applications::update(conn, id, &form).await?;
        let round = RoundSpec::from_row(&rounds::get(conn, row.round_id, true).await?)?;
        check_content(conn, &row, &round).await?;
        super::audit(
            conn,
            Some(caller),
            "application.updated",
            "application",
            id,
            None::<&()>,
            Some(&serde_json::json!({"title": row.title})),
        )
        .await?;
        Ok(row)
    })
    .await
}

/// Replaces all budget lines of a draft; amounts and sums are computed here.
pub async fn replace_budget(
    db: &Database,
    caller: &Caller,
    id: Uuid,
    lines: Vec<BudgetLineInput>,
) -> Result<(ApplicationRow, Vec<BudgetLineRow>), Error> {
    let v = validate_lines(&lines);
    if !v.is_empty() {
        return Err(Error::Validation(v));
    }
    // validate_lines has refused every line whose amount overflows or passes its bound.
    let amounts = lines
        .iter()
        .map(|l| line_amount(l.quantity, l.unit_cost))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("a validated budget line overflowed")))?;
    let rows: Vec<BudgetLineRow> = lines
        .iter()
        .zip(amounts)
        .enumerate()
        .map(|(i, (l, amount))| BudgetLineRow {
            id: Uuid::new_v4(),
            application_id: id,
            position: i as i32,
            category: l.category.as_str().into(),
            description: l.description.trim().to_string(),
            quantity: l.quantity,
            unit_cost: l.unit_cost.amount(),
            amount,
            funded_by: l.funded_by.as_str().into(),
        })
        .collect();
    let sums = summarize(
        lines
            .iter()
            .zip(&rows)
            .map(|(l, r)| (l.category, l.funded_by, r.amount)),
    );
    run_transaction(db, async move |conn| {
        applications::get(conn, caller.organization_scope(), id).await?;
        let before = applications::lock(conn, id).await?;
        locked_draft(&before)?;
        applications::replace_budget(conn, id, &rows).await?;
        let row = applications::update(
            conn,
            id,
            &ApplicationUpdateForm {
                budget_total: Some(sums.total),
                budget_personnel: Some(sums.personnel),
                budget_grant: Some(sums.grant_funded),
                budget_self: Some(sums.self_funded),
                updated_at: Some(Utc::now()),
                ..Default::default()
            },
        )
        .await?;
        super::audit(
            conn,
            Some(caller),
            "application.budget_replaced",
            "application",
            id,
            Some(&serde_json::json!({"total": before.budget_total})),
            Some(&serde_json::json!({"total": sums.total, "lines": rows.len()})),
        )
        .await?;
        Ok((row, rows))
    })
    .await
}

/// Every submission rule over the current state; `conn` may hold the quota lock.
async fn violations(
    conn: &mut AsyncPgConnection,
    row: &ApplicationRow,
) -> Result<Vec<Violation>, Error> {
    let round_row = rounds::get(conn, row.round_id, true).await?;
    let org_row = organizations::get(conn, Scope::All, row.organization_id).await?;
    violations_of(conn, row, &round_row, &org_row).await
}

/// The statuses that take a quota place, as stored.
fn quota_statuses() -> Vec<&'static str> {
    ApplicationStatus::QUOTA_STATUSES
        .iter()
        .map(|s| s.as_str())
        .collect()
}

/// The rules over rows the caller has already read in this transaction.
async fn violations_of(
    conn: &mut AsyncPgConnection,
    row: &ApplicationRow,
    round_row: &RoundRow,
    org_row: &OrganizationRow,
) -> Result<Vec<Violation>, Error> {
    let statuses = quota_statuses();
    let (others, lines) = futures_util::try_join!(
        applications::count_active(conn, row.organization_id, row.round_id, row.id, &statuses),
        applications::budget_lines(conn, row.id),
    )?;
    violations_from(row, round_row, org_row, others, lines.len())
}

/// The rules over what was read: `others` applications of the organization taking a quota
/// place in the round, `budget_lines` lines in this one's budget.
fn violations_from(
    row: &ApplicationRow,
    round_row: &RoundRow,
    org_row: &OrganizationRow,
    others: i64,
    budget_lines: usize,
) -> Result<Vec<Violation>, Error> {
    let round = RoundSpec::from_row(round_row)?;
    let org = OrganizationFacts::from_row(org_row)?;
    let now = Utc::now();
    let facts = SubmissionFacts {
        now,
        today: now.date_naive(),
        opens_at: round.opens_at,
        closes_at: round.closes_at,
        grant_min: round.grant_min.amount(),
        grant_max: round.grant_max.amount(),
        project_period: Some((round.project_start, round.project_end)),
        other_active_applications: others as u32,
        budget: crate::domain::budget::BudgetSummary {
            total: row.budget_total,
            personnel: row.budget_personnel,
            grant_funded: row.budget_grant,
            self_funded: row.budget_self,
        },
        budget_lines,
        requested_grant: row.requested_grant,
        co_funding: row.co_funding,
        start_date: row.start_date,
        end_date: row.end_date,
        rating: org.rating,
        rating_valid_until: org.rating_valid_until,
        registration_date: org.registration_date,
        blacklisted_until: org.blacklisted_until,
        party_assessment: org.party_assessment,
    };
    let mut v = check_submission(&facts, &round.rules);
    let round_status: RoundStatus = parse_text(&round_row.status)?;
    if round_status != RoundStatus::Open {
        v.insert(
            0,
            Violation::new("round_open", "the round is not open for submissions")
                .limit("open")
                .actual(round_status),
        );
    }
    Ok(v)
}

/// Dry run: every rule, nothing changed.
pub async fn validate(db: &Database, caller: &Caller, id: Uuid) -> Result<Vec<Violation>, Error> {
    let mut conn = db.conn().await?;
    let row = applications::get(&mut conn, caller.organization_scope(), id).await?;
    violations(&mut conn, &row).await
}

/// Submits a draft. The organization's row is locked first, so concurrent submissions of one
/// organization are serialized and the quota count cannot be raced past. Returns the submitted
/// application with its budget lines.
pub async fn submit(
    db: &Database,
    caller: &Caller,
    id: Uuid,
) -> Result<(ApplicationRow, Vec<BudgetLineRow>), Error> {
    let statuses = quota_statuses();
    let statuses = &statuses;
    run_transaction(db, async move |conn| {
        let visible = applications::get(conn, caller.organization_scope(), id).await?;
        // One round trip, run by the server in this order: the quota lock (the
        // organization's row), the application's lock, then what the rules read, so the
        // count and the lines are read under both locks. An application's round and
        // organization never change, so the visible row names them.
        let (org_row, row, round_row, others, lines) = futures_util::try_join!(
            organizations::lock(conn, visible.organization_id),
            applications::lock(conn, id),
            rounds::get(conn, visible.round_id, true),
            applications::count_active(
                conn,
                visible.organization_id,
                visible.round_id,
                id,
                statuses
            ),
            applications::budget_lines(conn, id),
        )?;
        let status: ApplicationStatus = parse_text(&row.status)?;
        if !status.can_become(ApplicationStatus::Submitted) {
            return Err(Error::invalid_state(format!(
                "an application that is {status} cannot be submitted"
            )));
        }
        let v = violations_from(&row, &round_row, &org_row, others, lines.len())?;
        if !v.is_empty() {
            return Err(Error::RuleViolation(v));
        }
        let now = Utc::now();
        let form = ApplicationUpdateForm {
            status: Some(ApplicationStatus::Submitted.as_str().into()),
            submitted_at: Some(Some(now)),
            updated_at: Some(now),
            ..Default::default()
        };
        let event = super::audit_event(
            Some(caller),
            "application.submitted",
            "application",
            id,
            Some(&serde_json::json!({"status": status})),
            Some(&serde_json::json!({"status": "submitted"})),
        );
        // Another round trip for the update, its audit event and the email's recipients.
        let (updated, (), to) = futures_util::try_join!(
            applications::update(conn, id, &form),
            crate::storage::audit(conn, &event),
            notify::recipients_of_organization(conn, row.organization_id),
        )?;
        notify_received(conn, &to, &updated, &org_row, &round_row).await?;
        Ok((updated, lines))
    })
    .await
}

/// Moves an application along its life cycle, checked; `reason` is stored for screening.
pub async fn transition(
    db: &Database,
    caller: &Caller,
    id: Uuid,
    next: ApplicationStatus,
    reason: Option<String>,
) -> Result<ApplicationRow, Error> {
    run_transaction(db, async move |conn| {
        applications::get(conn, caller.organization_scope(), id).await?;
        let row = applications::lock(conn, id).await?;
        let status: ApplicationStatus = parse_text(&row.status)?;
        if !status.can_become(next) {
            return Err(Error::invalid_state(format!(
                "an application that is {status} cannot become {next}"
            )));
        }
        let updated = applications::update(
            conn,
            id,
            &ApplicationUpdateForm {
                status: Some(next.as_str().into()),
                screening_reason: reason.clone().map(Some),
                updated_at: Some(Utc::now()),
                ..Default::default()
            },
        )
        .await?;
        super::audit(
            conn,
            Some(caller),
            &format!("application.{next}"),
            "application",
            id,
            Some(&serde_json::json!({"status": status})),
            Some(&serde_json::json!({"status": next, "reason": reason})),
        )
        .await?;
        if status == ApplicationStatus::Submitted
            && matches!(
                next,
                ApplicationStatus::UnderReview | ApplicationStatus::Ineligible
            )
        {
            notify_screening(conn, &updated, next == ApplicationStatus::UnderReview).await?;
        }
        Ok(updated)
    })
    .await
}

/// Queues "application received" to the organization's contact and applicant users, in the
/// submitting transaction.
async fn notify_received(
    conn: &mut AsyncPgConnection,
    to: &[notify::Recipient],
    row: &ApplicationRow,
    org: &OrganizationRow,
    round: &RoundRow,
) -> Result<(), Error> {
    let event = notify::Event::ApplicationReceived {
        application_id: row.id,
        title: row.title.clone(),
        organization_name: org.name.clone(),
        round_name: round.name.clone(),
        requested_grant: crate::domain::money::Money::new(row.requested_grant)
            .map_err(|e| Error::Internal(anyhow::anyhow!("stored amount: {e}")))?,
        submitted_at: row.submitted_at.unwrap_or_else(Utc::now),
    };
    notify::enqueue(conn, to, &event).await?;
    Ok(())
}

/// Queues the screening result (eligible → under review, or ineligible with the reason).
async fn notify_screening(
    conn: &mut AsyncPgConnection,
    row: &ApplicationRow,
    eligible: bool,
) -> Result<(), Error> {
    let org = organizations::get(conn, Scope::All, row.organization_id).await?;
    let to = notify::recipients_of_organization(conn, row.organization_id).await?;
    let event = notify::Event::ScreeningResult {
        application_id: row.id,
        title: row.title.clone(),
        organization_name: org.name,
        eligible,
        reason: row.screening_reason.clone(),
    };
    notify::enqueue(conn, &to, &event).await?;
    Ok(())
}
