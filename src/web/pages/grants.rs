//! Grants in the browser. The grantee organization sees the award, tranches, milestones and
//! the payments received (never who in finance prepared or approved them). Finance and admin
//! also see every payout with the names of who requested, approved and paid it, the ledger
//! downloads, and (finance) the request form of each due tranche: prefilled with what is
//! available, the limit shown, and a fresh idempotency key in every rendering, so a double
//! click, a reload or the back button never makes a second payout.

use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::roles;
use crate::domain::grant::{GrantStatus, TrancheStatus};
use crate::domain::money::Money;
use crate::domain::user::Role;
use crate::domain::violation::Violation;
use crate::http::pagination::{encode_cursor, DEFAULT_LIMIT};
use crate::http::AppState;
use crate::service::finance::{self, GrantList, GrantPage, STAFF};
use crate::service::grants::{self as svc, Idempotency, PayoutInput};
use crate::service::ledger::{self, LedgerOf};
use crate::service::Error;
use crate::storage::grants::GrantFilter;
use crate::web::error::{WebError, WebResult};
use crate::web::form::PostedForm;
use crate::web::page::PageContext;
use crate::web::pages::payouts::{fresh_key, page_cursor, payout_id_of};
use crate::web::pages::{html, html_status, see_other, FieldErrors};
use crate::web::session::Signed;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(show)
        .service(request_payout)
        .service(grant_ledger_csv)
        .service(grant_ledger_xlsx)
        .service(round_ledger_csv)
        .service(round_ledger_xlsx);
}

// ---------------------------------------------------------------- the list

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    round_id: Option<String>,
    organization_id: Option<String>,
    cursor: Option<String>,
}

fn opt_uuid(v: &Option<String>, field: &str) -> Result<Option<Uuid>, Error> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            Uuid::parse_str(s).map_err(|_| {
                Error::invalid(Violation::new("schema", "not a valid id").field(field))
            })
        })
        .transpose()
}

#[derive(Template)]
#[template(path = "grants.html")]
struct GrantsPage {
    page: PageContext,
    list: GrantList,
    status: String,
    round_id: String,
    organization_id: String,
    next: Option<String>,
}

impl GrantsPage {
    fn statuses(&self) -> Vec<&'static str> {
        GrantStatus::ALL.iter().map(|s| s.as_str()).collect()
    }
    fn round_name(&self, id: &Uuid) -> &str {
        self.list
            .round_names
            .get(id)
            .map(String::as_str)
            .unwrap_or("")
    }
    fn staff(&self) -> bool {
        self.page.is("finance") || self.page.is("admin")
    }
}

#[get("/grants")]
pub async fn list(
    state: web::Data<AppState>,
    s: Signed,
    q: web::Query<ListQuery>,
) -> WebResult<HttpResponse> {
    let q = q.into_inner();
    let status = match q.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(st) => Some(
            st.parse::<GrantStatus>()
                .map_err(|_| {
                    Error::invalid(Violation::new("schema", "not a grant status").field("status"))
                })?
                .as_str()
                .to_string(),
        ),
        None => None,
    };
    let filter = GrantFilter {
        round_id: opt_uuid(&q.round_id, "round_id")?,
        status,
        organization_id: opt_uuid(&q.organization_id, "organization_id")?,
    };
    let after = page_cursor(q.cursor.as_deref().filter(|c| !c.is_empty()))?;
    let mut list =
        finance::grant_list(&state.db, &s.0.caller, &filter, after, DEFAULT_LIMIT + 1).await?;
    let next = if list.grants.len() as i64 > DEFAULT_LIMIT {
        list.grants.truncate(DEFAULT_LIMIT as usize);
        list.grants.last().map(|g| {
            let mut params = vec![];
            if let Some(s) = &filter.status {
                params.push(format!("status={s}"));
            }
            if let Some(r) = filter.round_id {
                params.push(format!("round_id={r}"));
            }
            if let Some(o) = filter.organization_id {
                params.push(format!("organization_id={o}"));
            }
            params.push(format!("cursor={}", encode_cursor((g.created_at, g.id))));
            format!("/grants?{}", params.join("&"))
        })
    } else {
        None
    };
    html(&GrantsPage {
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

// ---------------------------------------------------------------- one grant

/// The request form of one due tranche.
pub struct RequestForm {
    pub number: i32,
    pub available: Money,
    /// What the amount field shows: what is available, or what was posted.
    pub amount: String,
    pub note: String,
    /// Fresh with every rendering.
    pub key: String,
    pub errors: Vec<String>,
}

#[derive(Template)]
#[template(path = "grant.html")]
struct GrantTemplate {
    page: PageContext,
    p: GrantPage,
    /// Finance and admin: payouts with names, ledgers.
    staff: bool,
    forms: Vec<RequestForm>,
    notice: Option<String>,
}

impl GrantTemplate {
    fn form_of(&self, number: &i32) -> Option<&RequestForm> {
        self.forms.iter().find(|f| f.number == *number)
    }
}

/// What a refused request post brings back to the page.
struct Posted {
    tranche_number: i32,
    amount: String,
    note: String,
    errors: FieldErrors,
}

async fn render(
    state: &AppState,
    s: &Signed,
    id: Uuid,
    posted: Option<Posted>,
    notice: Option<String>,
    status: StatusCode,
) -> WebResult<HttpResponse> {
    let caller = &s.0.caller;
    let p = finance::grant_page(&state.db, caller, id).await?;
    let staff = caller.require(STAFF).is_ok();
    let mut forms = Vec::new();
    let mut general = Vec::new();
    if caller.is(Role::Finance) && p.grant.status != GrantStatus::Terminated {
        for t in &p.grant.tranches {
            if t.status != TrancheStatus::Due || t.available.amount().is_zero() {
                continue;
            }
            let mut f = RequestForm {
                number: t.number,
                available: t.available,
                amount: format!("{:.2}", t.available.amount()),
                note: String::new(),
                key: fresh_key(),
                errors: vec![],
            };
            if let Some(posted) = posted.as_ref().filter(|x| x.tranche_number == t.number) {
                f.amount = posted.amount.clone();
                f.note = posted.note.clone();
                f.errors = posted.errors.all().into_iter().map(String::from).collect();
            }
            forms.push(f);
        }
    }
    // A refusal for a tranche that no longer has a form (paid meanwhile) is shown on top.
    if let Some(posted) = &posted {
        if !forms.iter().any(|f| f.number == posted.tranche_number) {
            general.extend(posted.errors.all().into_iter().map(String::from));
        }
    }
    let notice = match (notice, general.is_empty()) {
        (n, true) => n,
        (_, false) => Some(general.join(" ")),
    };
    html_status(
        status,
        &GrantTemplate {
            page: PageContext::new(&s.0, &state.settings.web.time_zone),
            p,
            staff,
            forms,
            notice,
        },
    )
}

#[get("/grants/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
) -> WebResult<HttpResponse> {
    render(&state, &s, path.into_inner(), None, None, StatusCode::OK).await
}

/// `5000`, `5,000.00` and `¥5000` are the same amount; anything else is for `Money` to judge.
fn parse_amount(text: &str) -> Result<Money, Violation> {
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
        .field("amount")
    })
}

/// A payout request from the form of a due tranche (finance). The form's idempotency key
/// makes a second post of the same rendering answer the first result.
#[post("/grants/{id}/payouts")]
pub async fn request_payout(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    s.0.caller.require(roles::FINANCE)?;
    let id = path.into_inner();
    let tranche: Option<u32> = form.get("tranche_number").and_then(|t| t.parse().ok());
    let amount_text = form.text("amount");
    let note = form.text("note");
    let Some(tranche_number) = tranche.filter(|t| *t >= 1) else {
        return Err(WebError::Service(Error::invalid(
            Violation::new("schema", "the form names no tranche").field("tranche_number"),
        )));
    };
    let refused = |errors: FieldErrors| Posted {
        tranche_number: tranche_number as i32,
        amount: amount_text.clone(),
        note: note.clone(),
        errors,
    };
    let amount = match parse_amount(&amount_text) {
        Ok(a) => a,
        Err(v) => {
            let posted = refused(FieldErrors::from_violations(&[v]));
            return render(
                &state,
                &s,
                id,
                Some(posted),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let input = PayoutInput {
        tranche_number,
        amount,
        note: (!note.is_empty()).then(|| note.clone()),
    };
    let key = form
        .get("idempotency_key")
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            Error::bad_request(
                "idempotency_key_required",
                "the form has no idempotency key; reload the page",
            )
        })?;
    let idem = Idempotency::new(key, &format!("POST /grants/{id}/payouts"), &input)?;
    match svc::request_payout(&state.db, &s.0.caller, id, input, idem).await {
        Ok(out) => {
            let pid = payout_id_of(&out)?;
            let done = if out.replayed {
                "replayed"
            } else {
                "requested"
            };
            Ok(see_other(&format!("/payouts/{pid}?done={done}")))
        }
        Err(e) => match FieldErrors::from_error(&e) {
            Some(errors) => {
                let status = crate::http::error::status_of(&e);
                render(&state, &s, id, Some(refused(errors)), None, status).await
            }
            None => Err(e.into()),
        },
    }
}

// ---------------------------------------------------------------- ledgers

fn download(body: Vec<u8>, content_type: &str, name: &str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type.to_string()))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(body)
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const CSV: &str = "text/csv; charset=utf-8";

async fn ledger_of(state: &AppState, s: &Signed, of: LedgerOf) -> WebResult<ledger::Ledger> {
    s.0.caller.require(STAFF)?;
    // Exports are expensive: the same limit as the API's, a 503 page beyond it.
    let _permit = state
        .expensive_permit()
        .map_err(|_| WebError::Service(Error::Unavailable))?;
    Ok(ledger::build(&state.db, of).await?)
}

#[get("/grants/{id}/ledger.csv")]
pub async fn grant_ledger_csv(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
) -> WebResult<HttpResponse> {
    let id = path.into_inner();
    let l = ledger_of(&state, &s, LedgerOf::Grant(id)).await?;
    Ok(download(l.to_csv(), CSV, &format!("ledger-grant-{id}.csv")))
}

#[get("/grants/{id}/ledger.xlsx")]
pub async fn grant_ledger_xlsx(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
) -> WebResult<HttpResponse> {
    let id = path.into_inner();
    let l = ledger_of(&state, &s, LedgerOf::Grant(id)).await?;
    Ok(download(
        l.to_xlsx()?,
        XLSX,
        &format!("ledger-grant-{id}.xlsx"),
    ))
}

#[get("/rounds/{id}/ledger.csv")]
pub async fn round_ledger_csv(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
) -> WebResult<HttpResponse> {
    let id = path.into_inner();
    let l = ledger_of(&state, &s, LedgerOf::Round(id)).await?;
    Ok(download(l.to_csv(), CSV, &format!("ledger-round-{id}.csv")))
}

#[get("/rounds/{id}/ledger.xlsx")]
pub async fn round_ledger_xlsx(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
) -> WebResult<HttpResponse> {
    let id = path.into_inner();
    let l = ledger_of(&state, &s, LedgerOf::Round(id)).await?;
    Ok(download(
        l.to_xlsx()?,
        XLSX,
        &format!("ledger-round-{id}.xlsx"),
    ))
}
