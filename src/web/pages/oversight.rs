//! The program office's oversight pages (role admin): recording a grant's milestones (a failing
//! evaluation first shows exactly what it will do, and only the confirmed post records it), the
//! audit trail with its filters and the verification of its hash chain, and the email outbox
//! with a retry of failed messages. Each form posts to its API action's path without `/api/v1`
//! and ends in the same use case as the API (`service::grants`, `service::audit_trail`,
//! `service::outbox`).

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::roles;
use crate::domain::bounds::EVALUATION_SCORE;
use crate::domain::money::Money;
use crate::domain::round::Milestone;
use crate::domain::violation::Violation;
use crate::http::AppState;
use crate::i18n;
use crate::service::grants::{self as svc, GrantView, MilestoneInput, MilestonePreview};
use crate::service::{audit_trail, outbox, Error};
use crate::storage::audit_chain::{AuditFilter, ChainReport};
use crate::storage::models::{AuditEventRow, OutboxRow};
use crate::web::error::{urlencode, WebResult};
use crate::web::form::PostedForm;
use crate::web::page::PageContext;
use crate::web::pages::{html, html_status, see_other, FieldErrors};
use crate::web::session::Signed;

/// Rows per page of the audit trail and of each outbox section.
pub const PER_PAGE: i64 = 50;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(record_milestone)
        .service(audit)
        .service(verify)
        .service(outbox_page)
        .service(retry);
}

// ---------------------------------------------------------------- milestones

/// What the milestone form shows: the values posted (empty on the grant page) and the
/// refusals beside their fields.
#[derive(Default)]
pub struct MilestoneForm {
    pub score: String,
    pub note: String,
    pub clawback_amount: String,
    pub blacklist_years: String,
    pub errors: FieldErrors,
}

impl MilestoneForm {
    /// The empty form of the grant page.
    pub fn blank() -> Self {
        Self::default()
    }

    fn posted(form: &PostedForm) -> Self {
        Self {
            score: form.text("score"),
            note: form.text("note"),
            clawback_amount: form.text("clawback_amount"),
            blacklist_years: form.text("blacklist_years"),
            errors: FieldErrors::default(),
        }
    }

    /// Whether the fields of a failed evaluation have something to show (the section opens).
    pub fn failure_fields_used(&self) -> bool {
        !self.clawback_amount.is_empty()
            || !self.blacklist_years.is_empty()
            || !self.errors.of("clawback_amount").is_empty()
            || !self.errors.of("blacklist_years").is_empty()
    }

    /// Refusals for no field the form shows.
    pub fn other_errors(&self) -> Vec<&str> {
        const SHOWN: [&str; 5] = [
            "milestone",
            "score",
            "note",
            "clawback_amount",
            "blacklist_years",
        ];
        self.errors
            .general
            .iter()
            .map(String::as_str)
            .chain(
                self.errors
                    .by_field
                    .iter()
                    .filter(|(f, _)| !SHOWN.contains(&f.as_str()))
                    .map(|(_, m)| m.as_str()),
            )
            .collect()
    }
}

/// `5000`, `5,000.00` and `¥5000` are the same amount; anything else is for `Money` to judge.
fn parse_money(text: &str, field: &str) -> Result<Money, Violation> {
    let cleaned: String = text
        .chars()
        .filter(|c| !matches!(c, ',' | '，' | '¥' | '￥') && !c.is_whitespace())
        .collect();
    Money::parse(&cleaned).map_err(|_| {
        Violation::new(
            "schema",
            "an amount in yuan with at most two decimals, like 5000.00",
        )
        .actual(text)
        .field(field)
    })
}

/// The posted form as the API's milestone body, or every field's refusal.
fn milestone_input(form: &PostedForm) -> Result<MilestoneInput, Vec<Violation>> {
    let mut v = Vec::new();
    let milestone = form
        .get("milestone")
        .and_then(|m| m.parse::<Milestone>().ok());
    if milestone.is_none() {
        v.push(Violation::new("schema", "the form names no milestone").field("milestone"));
    }
    let score = match form.get("score").filter(|s| !s.is_empty()) {
        Some(s) => match EVALUATION_SCORE.parse(s) {
            Ok(d) => Some(d),
            Err(e) => {
                v.push(e.into_violation("score"));
                None
            }
        },
        None => None,
    };
    let clawback_amount = match form.get("clawback_amount").filter(|s| !s.is_empty()) {
        Some(s) => match parse_money(s, "clawback_amount") {
            Ok(m) => Some(m),
            Err(e) => {
                v.push(e);
                None
            }
        },
        None => None,
    };
    let blacklist_years = match form.get("blacklist_years").filter(|s| !s.is_empty()) {
        Some(s) => match s.parse::<u32>() {
            Ok(y) => Some(y),
            Err(_) => {
                v.push(
                    Violation::new("schema", "blacklist_years is a whole number of years")
                        .actual(s)
                        .field("blacklist_years"),
                );
                None
            }
        },
        None => None,
    };
    match milestone {
        Some(milestone) if v.is_empty() => Ok(MilestoneInput {
            milestone,
            score,
            note: form
                .get("note")
                .filter(|n| !n.is_empty())
                .map(str::to_string),
            clawback_amount,
            blacklist_years,
        }),
        _ => Err(v),
    }
}

#[derive(Template)]
#[template(path = "milestone.html")]
struct MilestonePage {
    page: PageContext,
    g: GrantView,
    mf: MilestoneForm,
}

#[derive(Template)]
#[template(path = "milestone_confirm.html")]
struct ConfirmPage {
    page: PageContext,
    g: GrantView,
    mf: MilestoneForm,
    milestone: Milestone,
    preview: MilestonePreview,
    digest: String,
    /// The grant changed between the confirmation page and the confirmed post.
    changed: bool,
}

impl ConfirmPage {
    fn unpaid_total(&self) -> Money {
        let sum = self
            .preview
            .plan
            .termination
            .iter()
            .flat_map(|t| t.cancelled.iter())
            .fold(rust_decimal::Decimal::ZERO, |acc, (_, m)| {
                acc.saturating_add(m.amount())
            });
        Money::new(sum).unwrap_or(Money::ZERO)
    }

    fn milestone_of(&self, number: &i32) -> String {
        self.g
            .tranches
            .iter()
            .find(|t| t.number == *number)
            .map(|t| self.page.word(t.milestone.as_str()))
            .unwrap_or_default()
    }
}

/// A refusal the admin can correct: the form again with the message beside its field (a
/// milestone out of order or the grant finished is put beside the milestone); anything else
/// is the error page.
async fn refused(
    state: &AppState,
    s: &Signed,
    id: Uuid,
    mut mf: MilestoneForm,
    e: Error,
) -> WebResult<HttpResponse> {
    let status = crate::http::error::status_of(&e);
    mf.errors = match (&e, FieldErrors::from_error(&e)) {
        (_, Some(errors)) => errors,
        (
            Error::Conflict {
                code: "invalid_state",
                ..
            },
            None,
        ) => FieldErrors {
            by_field: vec![(
                "milestone".into(),
                i18n::text(i18n::current(), &e.to_string()),
            )],
            general: vec![],
        },
        _ => return Err(e.into()),
    };
    let g = svc::view(&state.db, s.0.caller.organization_scope(), id).await?;
    html_status(
        status,
        &MilestonePage {
            page: PageContext::new(&s.0, &state.settings.web.time_zone),
            g,
            mf,
        },
    )
}

fn recorded(id: Uuid) -> HttpResponse {
    see_other(&format!("/grants/{id}#milestones"))
}

/// The milestone form of the grant page (admin). A passing milestone is recorded at once; a
/// failing evaluation answers a confirmation page listing its consequences, and only its
/// confirmed post (carrying the digest of what was shown) records it.
#[post("/grants/{id}/milestones")]
pub async fn record_milestone(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    let caller = &s.0.caller;
    caller.require(roles::ADMIN)?;
    let id = path.into_inner();
    let mf = MilestoneForm::posted(&form);
    let input = match milestone_input(&form) {
        Ok(i) => i,
        Err(vs) => {
            let mut mf = mf;
            mf.errors = FieldErrors::from_violations(&vs);
            let g = svc::view(&state.db, caller.organization_scope(), id).await?;
            return html_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &MilestonePage {
                    page: PageContext::new(&s.0, &state.settings.web.time_zone),
                    g,
                    mf,
                },
            );
        }
    };
    let mut changed = false;
    if let Some(digest) = form
        .get("confirm_digest")
        .filter(|d| !d.is_empty())
        .map(str::to_string)
    {
        match svc::record_confirmed_milestone(&state.db, caller, id, input.clone(), &digest).await {
            Ok(_) => return Ok(recorded(id)),
            // Shown again with what it would do now.
            Err(Error::Conflict {
                code: "consequences_changed",
                ..
            }) => changed = true,
            Err(e) => return refused(&state, &s, id, mf, e).await,
        }
    }
    let preview = match svc::preview_milestone(&state.db, caller, id, &input).await {
        Ok(p) => p,
        Err(e) => return refused(&state, &s, id, mf, e).await,
    };
    if preview.plan.passed {
        return match svc::record_milestone(&state.db, caller, id, input).await {
            Ok(_) => Ok(recorded(id)),
            Err(e) => refused(&state, &s, id, mf, e).await,
        };
    }
    let g = svc::view(&state.db, caller.organization_scope(), id).await?;
    html(&ConfirmPage {
        page: PageContext::new(&s.0, &state.settings.web.time_zone),
        g,
        mf,
        milestone: input.milestone,
        digest: preview.plan.digest(),
        preview,
        changed,
    })
}

// ---------------------------------------------------------------- audit trail

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    entity_type: Option<String>,
    entity_id: Option<String>,
    actor_id: Option<String>,
    action: Option<String>,
    /// Dates in the bureau's time zone, both included.
    from: Option<String>,
    to: Option<String>,
    /// Events older than this id (the next page).
    before: Option<String>,
}

fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn uuid_field(v: &Option<String>, field: &str, errors: &mut Vec<Violation>) -> Option<Uuid> {
    let s = nonempty(v)?;
    match Uuid::parse_str(s) {
        Ok(u) => Some(u),
        Err(_) => {
            errors.push(
                Violation::new("schema", "not a valid id")
                    .actual(s)
                    .field(field),
            );
            None
        }
    }
}

fn date_field(v: &Option<String>, field: &str, errors: &mut Vec<Violation>) -> Option<NaiveDate> {
    let s = nonempty(v)?;
    match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        Ok(d) => Some(d),
        Err(_) => {
            errors.push(
                Violation::new("schema", "a date like 2026-12-03")
                    .actual(s)
                    .field(field),
            );
            None
        }
    }
}

/// The start of a day in the bureau's zone.
fn start_of(d: NaiveDate, tz: chrono_tz::Tz) -> DateTime<Utc> {
    let midnight = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| midnight.and_utc())
}

pub struct AuditLine {
    pub event: AuditEventRow,
    pub seq: Option<i64>,
    pub actor: String,
}

impl AuditLine {
    pub fn before_json(&self) -> String {
        self.event
            .before
            .as_ref()
            .map(|v| v.to_string())
            .unwrap_or_default()
    }
    pub fn after_json(&self) -> String {
        self.event
            .after
            .as_ref()
            .map(|v| v.to_string())
            .unwrap_or_default()
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditTemplate {
    page: PageContext,
    lines: Vec<AuditLine>,
    entity_type: String,
    entity_id: String,
    actor_id: String,
    action: String,
    from: String,
    to: String,
    errors: FieldErrors,
    next: Option<String>,
}

impl AuditTemplate {
    fn field_errors(&self, field: &str) -> Vec<&str> {
        self.errors.of(field)
    }
}

/// The audit trail, newest first, filtered by entity, actor and dates (admin).
#[get("/audit")]
pub async fn audit(
    state: web::Data<AppState>,
    s: Signed,
    q: web::Query<AuditQuery>,
) -> WebResult<HttpResponse> {
    let caller = &s.0.caller;
    caller.require(roles::ADMIN)?;
    let q = q.into_inner();
    let page = PageContext::new(&s.0, &state.settings.web.time_zone);
    let mut v = Vec::new();
    let entity_id = uuid_field(&q.entity_id, "entity_id", &mut v);
    let actor_id = uuid_field(&q.actor_id, "actor_id", &mut v);
    let from = date_field(&q.from, "from", &mut v);
    let to = date_field(&q.to, "to", &mut v);
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            v.push(Violation::new("time_range", "from must not be after to").field("from"));
        }
    }
    let before = match nonempty(&q.before).map(str::parse::<i64>) {
        Some(Ok(b)) => Some(b),
        Some(Err(_)) => {
            v.push(Violation::new("schema", "not a valid id").field("before"));
            None
        }
        None => None,
    };
    let mut t = AuditTemplate {
        entity_type: nonempty(&q.entity_type).unwrap_or_default().to_string(),
        entity_id: nonempty(&q.entity_id).unwrap_or_default().to_string(),
        actor_id: nonempty(&q.actor_id).unwrap_or_default().to_string(),
        action: nonempty(&q.action).unwrap_or_default().to_string(),
        from: nonempty(&q.from).unwrap_or_default().to_string(),
        to: nonempty(&q.to).unwrap_or_default().to_string(),
        errors: FieldErrors::default(),
        lines: vec![],
        next: None,
        page,
    };
    if !v.is_empty() {
        t.errors = FieldErrors::from_violations(&v);
        return html_status(StatusCode::UNPROCESSABLE_ENTITY, &t);
    }
    let filter = AuditFilter {
        entity_type: (!t.entity_type.is_empty()).then(|| t.entity_type.clone()),
        entity_id,
        actor_id,
        action: (!t.action.is_empty()).then(|| t.action.clone()),
        from: from.map(|d| start_of(d, t.page.tz)),
        // The whole last day: before the start of the next one.
        to: to
            .and_then(|d| d.succ_opt())
            .map(|d| start_of(d, t.page.tz)),
    };
    let mut p = audit_trail::page(&state.db, caller, &filter, before, PER_PAGE + 1).await?;
    if p.events.len() as i64 > PER_PAGE {
        p.events.truncate(PER_PAGE as usize);
        if let Some((last, _)) = p.events.last() {
            let mut params: Vec<String> = [
                ("entity_type", &t.entity_type),
                ("entity_id", &t.entity_id),
                ("actor_id", &t.actor_id),
                ("action", &t.action),
                ("from", &t.from),
                ("to", &t.to),
            ]
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect();
            params.push(format!("before={}", last.id));
            t.next = Some(format!("/audit?{}", params.join("&")));
        }
    }
    t.lines = p
        .events
        .into_iter()
        .map(|(event, seq)| AuditLine {
            actor: match event.actor_id {
                Some(a) => p.names.get(&a).cloned().unwrap_or_else(|| a.to_string()),
                None => t.page.t("the system").into_owned(),
            },
            event,
            seq,
        })
        .collect();
    html(&t)
}

#[derive(Template)]
#[template(path = "audit_verify.html")]
struct VerifyTemplate {
    page: PageContext,
    report: ChainReport,
}

impl VerifyTemplate {
    /// The result in one sentence of the reader's language.
    fn summary(&self) -> String {
        let r = &self.report;
        let text = match &r.first_break {
            None if r.checked == 0 => "No event is sealed yet".to_string(),
            None => format!("The chain is intact up to seal {}", r.checked),
            Some(b) => format!(
                "The chain is broken at seal {} (audit event {})",
                b.seq, b.event_id
            ),
        };
        i18n::text(self.page.lang, &text)
    }
}

/// Recomputes the whole hash chain and says where it holds or first breaks (admin).
#[get("/audit/verify")]
pub async fn verify(state: web::Data<AppState>, s: Signed) -> WebResult<HttpResponse> {
    s.0.caller.require(roles::ADMIN)?;
    let report = audit_trail::verify(&state.db).await?;
    html(&VerifyTemplate {
        page: PageContext::new(&s.0, &state.settings.web.time_zone),
        report,
    })
}

// ---------------------------------------------------------------- outbox

#[derive(Debug, Default, Deserialize)]
pub struct OutboxQuery {
    /// `failed` or `pending`: that section only (its next pages).
    status: Option<String>,
    before: Option<String>,
    /// The message just put back in the queue.
    retried: Option<String>,
}

pub struct OutboxSection {
    pub status: &'static str,
    pub rows: Vec<OutboxRow>,
    pub next: Option<String>,
}

#[derive(Template)]
#[template(path = "outbox.html")]
struct OutboxTemplate {
    page: PageContext,
    sections: Vec<OutboxSection>,
    retried: Option<i64>,
    now: DateTime<Utc>,
}

impl OutboxTemplate {
    /// "2 days 3 hours" since the message was queued.
    fn age(&self, at: &DateTime<Utc>) -> String {
        let mins = (self.now - *at).num_minutes().max(0);
        let (d, h, m) = (mins / 1440, (mins % 1440) / 60, mins % 60);
        let unit = |n: i64, en: &'static str| format!("{n} {}", self.page.t(en));
        match (d, h) {
            (0, 0) => unit(m, "minutes"),
            (0, _) => format!("{} {}", unit(h, "hours"), unit(m, "minutes")),
            _ => format!("{} {}", unit(d, "days"), unit(h, "hours")),
        }
    }
}

/// Pending and failed email messages with a retry for the failed ones (admin).
#[get("/outbox")]
pub async fn outbox_page(
    state: web::Data<AppState>,
    s: Signed,
    q: web::Query<OutboxQuery>,
) -> WebResult<HttpResponse> {
    let caller = &s.0.caller;
    caller.require(roles::ADMIN)?;
    let q = q.into_inner();
    let only = match nonempty(&q.status) {
        None => None,
        Some(st @ ("failed" | "pending")) => Some(st),
        Some(_) => {
            return Err(Error::invalid(
                Violation::new("schema", "not a message status").field("status"),
            )
            .into())
        }
    };
    let before = nonempty(&q.before)
        .map(|b| {
            b.parse::<i64>().map_err(|_| {
                Error::invalid(Violation::new("schema", "not a valid id").field("before"))
            })
        })
        .transpose()?;
    let mut sections = Vec::new();
    for status in ["failed", "pending"] {
        if only.is_some_and(|o| o != status) {
            continue;
        }
        let mut rows = outbox::list(
            &state.db,
            caller,
            Some(status),
            before.filter(|_| only.is_some()),
            PER_PAGE + 1,
        )
        .await?;
        let mut next = None;
        if rows.len() as i64 > PER_PAGE {
            rows.truncate(PER_PAGE as usize);
            next = rows
                .last()
                .map(|r| format!("/outbox?status={status}&before={}", r.id));
        }
        sections.push(OutboxSection { status, rows, next });
    }
    html(&OutboxTemplate {
        page: PageContext::new(&s.0, &state.settings.web.time_zone),
        sections,
        retried: nonempty(&q.retried).and_then(|r| r.parse().ok()),
        now: Utc::now(),
    })
}

/// Puts a failed message back in the queue (admin), as `POST /api/v1/outbox/{id}/retry`.
#[post("/outbox/{id}/retry")]
pub async fn retry(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<i64>,
    _form: PostedForm,
) -> WebResult<HttpResponse> {
    s.0.caller.require(roles::ADMIN)?;
    let row = outbox::retry(&state.db, &s.0.caller, path.into_inner()).await?;
    Ok(see_other(&format!("/outbox?retried={}", row.id)))
}
