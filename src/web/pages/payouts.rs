//! Payouts in the browser (finance; admin reads): the work queue on the dashboard, the list
//! with its filters, one payout with its history, and the maker-checker forms (approve, reject
//! with a reason, record the bank payment), posting to the API's action paths. Each decision
//! form carries its own idempotency key, so a double click answers the first result instead of
//! a conflict.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::{roles, Caller};
use crate::domain::grant::PayoutStatus;
use crate::domain::violation::Violation;
use crate::http::pagination::{decode_cursor, encode_cursor, DEFAULT_LIMIT};
use crate::http::AppState;
use crate::service::finance::{self, FinanceQueue, PayoutLine, PayoutList, PayoutPage};
use crate::service::grants::{self as grants_svc, Decision, Idempotency, Replayable};
use crate::service::{self, Error};
use crate::storage::finance::PayoutLineFilter;
use crate::storage::models::AuditEventRow;
use crate::web::error::{WebError, WebResult};
use crate::web::form::PostedForm;
use crate::web::page::PageContext;
use crate::web::pages::{html, html_status, see_other, FieldErrors};
use crate::web::session::Signed;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(show)
        .service(approve)
        .service(reject)
        .service(paid);
}

/// A fresh key for one rendering of a form that moves money.
pub fn fresh_key() -> String {
    format!("web-{}", Uuid::new_v4().simple())
}

/// The idempotency of a posted form: its hidden `idempotency_key`, digested with the request
/// as the API digests it (`what` is method and path).
pub fn posted_idempotency(
    form: &PostedForm,
    what: &str,
    body: &impl serde::Serialize,
) -> Result<Option<Idempotency>, Error> {
    form.get("idempotency_key")
        .filter(|k| !k.is_empty())
        .map(|k| Idempotency::new(k, what, body))
        .transpose()
}

// ---------------------------------------------------------------- the work queue

pub struct Section<'a> {
    pub id: &'static str,
    pub title: &'static str,
    pub empty: &'static str,
    pub lines: &'a [PayoutLine],
    /// Where the rest is when the section was cut.
    pub more: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "home_finance.html")]
pub struct FinanceDashboard {
    pub page: PageContext,
    pub q: FinanceQueue,
}

impl FinanceDashboard {
    fn sections(&self) -> Vec<Section<'_>> {
        let q = &self.q;
        let admin = self.page.is("admin");
        let mut out = vec![Section {
            id: "to-decide",
            title: if admin {
                "Requests awaiting a decision"
            } else {
                "Requests awaiting my decision"
            },
            empty: "Nothing awaits a decision.",
            lines: &q.to_decide,
            more: q.more_requested.then_some("/payouts?status=requested"),
        }];
        if !admin {
            out.push(Section {
                id: "mine",
                title: "My requests awaiting another finance user",
                empty: "None of your requests is waiting.",
                lines: &q.mine,
                more: q.more_requested.then_some("/payouts?status=requested"),
            });
        }
        out.push(Section {
            id: "to-pay",
            title: "Approved, awaiting the bank payment",
            empty: "No approved payout awaits payment.",
            lines: &q.to_pay,
            more: q.more_approved.then_some("/payouts?status=approved"),
        });
        out.push(Section {
            id: "due",
            title: "Due tranches without a request",
            empty: "No due tranche is waiting for a request.",
            lines: &q.due,
            more: q.more_due.then_some("/grants"),
        });
        out
    }
}

/// The dashboard of finance users.
pub async fn dashboard(
    state: &AppState,
    s: &crate::service::sessions::WebSession,
) -> WebResult<HttpResponse> {
    let q = finance::queue(&state.db, &s.caller).await?;
    html(&FinanceDashboard {
        page: PageContext::new(s, &state.settings.web.time_zone),
        q,
    })
}

// ---------------------------------------------------------------- the list

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    round_id: Option<String>,
    organization_id: Option<String>,
    cursor: Option<String>,
}

fn opt_text(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn opt_uuid(v: &Option<String>, field: &str) -> Result<Option<Uuid>, Error> {
    opt_text(v)
        .map(|s| {
            Uuid::parse_str(s).map_err(|_| {
                Error::invalid(Violation::new("schema", "not a valid id").field(field))
            })
        })
        .transpose()
}

pub fn page_cursor(cursor: Option<&str>) -> Result<Option<(chrono::DateTime<Utc>, Uuid)>, Error> {
    cursor
        .map(|c| {
            decode_cursor(c).map_err(|_| {
                Error::bad_request(
                    "invalid_cursor",
                    "the cursor is not one this service issued",
                )
            })
        })
        .transpose()
}

#[derive(Template)]
#[template(path = "payouts.html")]
struct PayoutsPage {
    page: PageContext,
    list: PayoutList,
    status: String,
    round_id: String,
    organization_id: String,
    next: Option<String>,
}

impl PayoutsPage {
    fn statuses(&self) -> Vec<&'static str> {
        PayoutStatus::ALL.iter().map(|s| s.as_str()).collect()
    }
}

#[get("/payouts")]
pub async fn list(
    state: web::Data<AppState>,
    s: Signed,
    q: web::Query<ListQuery>,
) -> WebResult<HttpResponse> {
    let q = q.into_inner();
    let status = match opt_text(&q.status) {
        Some(st) => Some(
            st.parse::<PayoutStatus>()
                .map_err(|_| {
                    Error::invalid(Violation::new("schema", "not a payout status").field("status"))
                })?
                .as_str()
                .to_string(),
        ),
        None => None,
    };
    let filter = PayoutLineFilter {
        status,
        round_id: opt_uuid(&q.round_id, "round_id")?,
        organization_id: opt_uuid(&q.organization_id, "organization_id")?,
        grant_id: None,
    };
    let after = page_cursor(opt_text(&q.cursor))?;
    let mut list =
        finance::payout_list(&state.db, &s.0.caller, &filter, after, DEFAULT_LIMIT + 1).await?;
    let next = if list.lines.len() as i64 > DEFAULT_LIMIT {
        list.lines.truncate(DEFAULT_LIMIT as usize);
        list.lines.last().map(|l| {
            let key = (l.requested_at, l.payout_id.unwrap_or_default());
            let mut params = vec![];
            for (k, v) in [
                ("status", &filter.status),
                ("round_id", &filter.round_id.map(|u| u.to_string())),
                (
                    "organization_id",
                    &filter.organization_id.map(|u| u.to_string()),
                ),
            ] {
                if let Some(v) = v {
                    params.push(format!("{k}={v}"));
                }
            }
            params.push(format!("cursor={}", encode_cursor(key)));
            format!("/payouts?{}", params.join("&"))
        })
    } else {
        None
    };
    html(&PayoutsPage {
        page: PageContext::new(&s.0, &state.settings.web.time_zone),
        list,
        status: filter.status.clone().unwrap_or_default(),
        round_id: filter.round_id.map(|u| u.to_string()).unwrap_or_default(),
        organization_id: filter
            .organization_id
            .map(|u| u.to_string())
            .unwrap_or_default(),
        next,
    })
}

// ---------------------------------------------------------------- one payout

#[derive(Template)]
#[template(path = "payout.html")]
struct PayoutTemplate {
    page: PageContext,
    p: PayoutPage,
    /// A finance user other than the requester, on a requested payout.
    can_decide: bool,
    /// The caller requested it and it awaits someone else.
    own_request: bool,
    can_pay: bool,
    errors: FieldErrors,
    reason: String,
    bank_reference: String,
    value_date: String,
    notice: Option<String>,
    /// One key per form, fresh with each rendering.
    approve_key: String,
    reject_key: String,
    paid_key: String,
}

impl PayoutTemplate {
    fn field_errors(&self, field: &str) -> Vec<&str> {
        self.errors.of(field)
    }
    fn actor(&self, e: &AuditEventRow) -> String {
        self.p.name_of(e.actor_id)
    }
    fn action(&self, e: &AuditEventRow) -> String {
        self.page.word(&e.action)
    }
}

#[derive(Default)]
struct Form {
    errors: FieldErrors,
    reason: String,
    bank_reference: String,
    value_date: String,
    notice: Option<String>,
}

async fn render(
    state: &AppState,
    s: &Signed,
    id: Uuid,
    form: Form,
    status: StatusCode,
) -> WebResult<HttpResponse> {
    let caller: &Caller = &s.0.caller;
    let p = finance::payout_page(&state.db, caller, id).await?;
    let finance_user = caller.is(crate::domain::user::Role::Finance);
    let own = p.payout.requested_by == caller.user_id;
    let requested = p.payout.status == PayoutStatus::Requested;
    let page = PageContext::new(&s.0, &state.settings.web.time_zone);
    let today = Utc::now().with_timezone(&page.tz).date_naive().to_string();
    html_status(
        status,
        &PayoutTemplate {
            can_decide: finance_user && requested && !own,
            own_request: finance_user && requested && own,
            can_pay: finance_user && p.payout.status == PayoutStatus::Approved,
            p,
            errors: form.errors,
            reason: form.reason,
            bank_reference: form.bank_reference,
            value_date: if form.value_date.is_empty() {
                today
            } else {
                form.value_date
            },
            notice: form.notice,
            approve_key: fresh_key(),
            reject_key: fresh_key(),
            paid_key: fresh_key(),
            page,
        },
    )
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

#[get("/payouts/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
    q: web::Query<DoneQuery>,
) -> WebResult<HttpResponse> {
    let lang = crate::i18n::current();
    let notice = q.done.as_deref().and_then(|d| {
        let en = match d {
            "requested" => "Payout requested. Another finance user approves or rejects it.",
            "replayed" => {
                "This form had already been sent; this is its result. Nothing new was recorded."
            }
            "approved" => "Approved.",
            "rejected" => "Rejected.",
            "paid" => "Bank payment recorded.",
            _ => return None,
        };
        Some(crate::i18n::text(lang, en))
    });
    render(
        &state,
        &s,
        path.into_inner(),
        Form {
            notice,
            ..Form::default()
        },
        StatusCode::OK,
    )
    .await
}

/// After a decision: to the payout's page, saying whether it was a replay.
fn decided(id: Uuid, out: &Replayable, done: &str) -> HttpResponse {
    let done = if out.replayed { "replayed" } else { done };
    see_other(&format!("/payouts/{id}?done={done}"))
}

/// A refusal that a person can correct comes back on the page (422 with the messages beside
/// the fields); any other refusal (403 self-approval, 409 state) is the error page.
async fn refused(
    state: &AppState,
    s: &Signed,
    id: Uuid,
    e: Error,
    mut form: Form,
) -> WebResult<HttpResponse> {
    match FieldErrors::from_error(&e) {
        Some(errors) => {
            form.errors = errors;
            render(state, s, id, form, crate::http::error::status_of(&e)).await
        }
        None => Err(WebError::Service(e)),
    }
}

#[post("/payouts/{id}/approve")]
pub async fn approve(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    s.0.caller.require(roles::FINANCE)?;
    let id = path.into_inner();
    let idem = posted_idempotency(&form, &format!("POST /payouts/{id}/approve"), &())?;
    match grants_svc::decide(&state.db, &s.0.caller, id, Decision::Approve, idem).await {
        Ok(out) => Ok(decided(id, &out, "approved")),
        Err(e) => refused(&state, &s, id, e, Form::default()).await,
    }
}

#[post("/payouts/{id}/reject")]
pub async fn reject(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    s.0.caller.require(roles::FINANCE)?;
    let id = path.into_inner();
    let reason = form.text("reason");
    let kept = Form {
        reason: reason.clone(),
        ..Form::default()
    };
    if reason.is_empty() || reason.chars().count() > 2000 {
        let e = Error::invalid(
            Violation::new(
                "required",
                "a rejection needs a reason (at most 2000 characters)",
            )
            .field("reason"),
        );
        return refused(&state, &s, id, e, kept).await;
    }
    let body = serde_json::json!({ "reason": reason });
    let idem = posted_idempotency(&form, &format!("POST /payouts/{id}/reject"), &body)?;
    match grants_svc::decide(
        &state.db,
        &s.0.caller,
        id,
        Decision::Reject { reason },
        idem,
    )
    .await
    {
        Ok(out) => Ok(decided(id, &out, "rejected")),
        Err(e) => refused(&state, &s, id, e, kept).await,
    }
}

#[post("/payouts/{id}/paid")]
pub async fn paid(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    s.0.caller.require(roles::FINANCE)?;
    let id = path.into_inner();
    let bank_reference = form.text("bank_reference");
    let value_date = form.text("value_date");
    let kept = Form {
        bank_reference: bank_reference.clone(),
        value_date: value_date.clone(),
        ..Form::default()
    };
    let mut v = Vec::new();
    if bank_reference.is_empty() || bank_reference.chars().count() > 100 {
        v.push(
            Violation::new(
                "required",
                "the bank reference is required (at most 100 characters)",
            )
            .field("bank_reference"),
        );
    }
    let date = NaiveDate::parse_from_str(&value_date, "%Y-%m-%d");
    if date.is_err() {
        v.push(Violation::new("schema", "a date like 2026-12-01").field("value_date"));
    }
    let date = match (v.is_empty(), date) {
        (true, Ok(d)) => d,
        _ => return refused(&state, &s, id, Error::Validation(v), kept).await,
    };
    let body = serde_json::json!({ "bank_reference": bank_reference, "value_date": date });
    let idem = posted_idempotency(&form, &format!("POST /payouts/{id}/paid"), &body)?;
    let decision = Decision::Paid {
        bank_reference,
        value_date: date,
    };
    match grants_svc::decide(&state.db, &s.0.caller, id, decision, idem).await {
        Ok(out) => Ok(decided(id, &out, "paid")),
        Err(e) => refused(&state, &s, id, e, kept).await,
    }
}

/// A payout id from a (possibly replayed) answer of the service.
pub fn payout_id_of(out: &Replayable) -> Result<Uuid, Error> {
    out.body
        .get("id")
        .and_then(|v| v.as_str())
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| service::Error::Internal(anyhow::anyhow!("a payout answer without an id")))
}
