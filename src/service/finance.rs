//! What the finance pages read: the work queue, payouts with their context and history, and a
//! grant with the names of the people who requested and approved its payouts. Finance and
//! admin read everything here; only finance users change anything (through `grants`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::Caller;
use crate::domain::user::Role;
use crate::service::grants::{payout_views, views, GrantView, PayoutView, TrancheView};
use crate::service::Error;
use crate::storage::audit_chain::{self, AuditFilter};
use crate::storage::finance::{self, NamedRow, PayoutLineFilter};
use crate::storage::grants::{self, GrantFilter};
use crate::storage::models::AuditEventRow;
use crate::storage::{Database, Scope};

pub use crate::storage::finance::PayoutLineRow as PayoutLine;

/// Who reads the finance pages.
pub const STAFF: &[Role] = &[Role::Finance, Role::Admin];
/// Who reads grants: staff all, applicants their organization's.
pub const GRANT_READERS: &[Role] = &[Role::Finance, Role::Admin, Role::Applicant];

/// Lines per section of the work queue; the payout list has the rest.
pub const QUEUE_LIMIT: usize = 100;

/// The finance user's work queue.
pub struct FinanceQueue {
    /// Requests by another finance user, for me to approve or reject (for an admin: every
    /// request, read only).
    pub to_decide: Vec<PayoutLine>,
    /// My own requests, awaiting someone else's decision.
    pub mine: Vec<PayoutLine>,
    /// Approved payouts awaiting the bank payment.
    pub to_pay: Vec<PayoutLine>,
    /// Due tranches with money available and no pending request (`amount` = available).
    pub due: Vec<PayoutLine>,
    /// A section was cut at `QUEUE_LIMIT`.
    pub more_requested: bool,
    pub more_approved: bool,
    pub more_due: bool,
}

pub async fn queue(db: &Database, caller: &Caller) -> Result<FinanceQueue, Error> {
    caller.require(STAFF)?;
    let mut conn = db.conn().await?;
    let rows = finance::queue(&mut conn, QUEUE_LIMIT as i64 + 1).await?;
    let mut q = FinanceQueue {
        to_decide: vec![],
        mine: vec![],
        to_pay: vec![],
        due: vec![],
        more_requested: false,
        more_approved: false,
        more_due: false,
    };
    let (mut requested, mut approved, mut due) = (0, 0, 0);
    for r in rows {
        match r.status.as_str() {
            "requested" => {
                requested += 1;
                if requested > QUEUE_LIMIT {
                    q.more_requested = true;
                } else if r.requested_by == Some(caller.user_id) {
                    q.mine.push(r);
                } else {
                    q.to_decide.push(r);
                }
            }
            "approved" => {
                approved += 1;
                if approved > QUEUE_LIMIT {
                    q.more_approved = true;
                } else {
                    q.to_pay.push(r);
                }
            }
            _ => {
                due += 1;
                if due > QUEUE_LIMIT {
                    q.more_due = true;
                } else {
                    q.due.push(r);
                }
            }
        }
    }
    Ok(q)
}

/// One page of payouts and what the list's filters offer.
pub struct PayoutList {
    /// Up to `fetch` lines (one more than shown tells that another page exists).
    pub lines: Vec<PayoutLine>,
    pub rounds: Vec<NamedRow>,
    pub organizations: Vec<NamedRow>,
}

pub async fn payout_list(
    db: &Database,
    caller: &Caller,
    filter: &PayoutLineFilter,
    after: Option<(DateTime<Utc>, Uuid)>,
    fetch: i64,
) -> Result<PayoutList, Error> {
    caller.require(STAFF)?;
    let mut conn = db.conn().await?;
    let lines = finance::payout_lines(&mut conn, filter, after, fetch).await?;
    let rounds = finance::rounds_with_grants(&mut conn).await?;
    let organizations = finance::organizations_with_grants(&mut conn).await?;
    Ok(PayoutList {
        lines,
        rounds,
        organizations,
    })
}

/// One payout with its grant's context, its tranche, the names of everyone involved and its
/// history from the audit trail (oldest first).
pub struct PayoutPage {
    pub line: PayoutLine,
    pub payout: PayoutView,
    pub tranche: TrancheView,
    pub names: HashMap<Uuid, String>,
    pub history: Vec<AuditEventRow>,
}

impl PayoutPage {
    pub fn name_of(&self, id: impl std::borrow::Borrow<Option<Uuid>>) -> String {
        name_in(&self.names, *id.borrow())
    }
    pub fn name(&self, id: impl std::borrow::Borrow<Uuid>) -> String {
        name_in(&self.names, Some(*id.borrow()))
    }
}

/// A user's name, "—" for nobody (or someone the map does not hold).
fn name_in(names: &HashMap<Uuid, String>, id: Option<Uuid>) -> String {
    id.and_then(|i| names.get(&i).cloned())
        .unwrap_or_else(|| "—".into())
}

pub async fn payout_page(db: &Database, caller: &Caller, id: Uuid) -> Result<PayoutPage, Error> {
    caller.require(STAFF)?;
    let mut conn = db.conn().await?;
    let line = finance::payout_line(&mut conn, id).await?;
    let row = grants::payout(&mut conn, id).await?;
    let payout = payout_views(&mut conn, std::slice::from_ref(&row))
        .await?
        .remove(0);
    let tranche = TrancheView::from_row(&grants::tranche(&mut conn, row.tranche_id).await?)?;
    let filter = AuditFilter {
        entity_type: Some("payout".into()),
        entity_id: Some(id),
        ..AuditFilter::default()
    };
    let mut history: Vec<AuditEventRow> = audit_chain::list(&conn, &filter, None, 200)
        .await?
        .into_iter()
        .map(|(e, _)| e)
        .collect();
    history.reverse();
    let mut ids: Vec<Uuid> = [
        Some(row.requested_by),
        row.approved_by,
        row.rejected_by,
        row.paid_by,
    ]
    .into_iter()
    .flatten()
    .chain(history.iter().filter_map(|e| e.actor_id))
    .collect();
    ids.sort();
    ids.dedup();
    let names = names(&mut conn, &ids).await?;
    Ok(PayoutPage {
        line,
        payout,
        tranche,
        names,
        history,
    })
}

/// A grant as its page shows it. Finance and admin also see who requested, approved, rejected
/// and paid each payout, by name; the grantee sees only its payments.
pub struct GrantPage {
    pub grant: GrantView,
    pub round_name: String,
    pub names: HashMap<Uuid, String>,
}

impl GrantPage {
    pub fn name_of(&self, id: impl std::borrow::Borrow<Option<Uuid>>) -> String {
        name_in(&self.names, *id.borrow())
    }
    pub fn name(&self, id: impl std::borrow::Borrow<Uuid>) -> String {
        name_in(&self.names, Some(*id.borrow()))
    }
}

pub async fn grant_page(db: &Database, caller: &Caller, id: Uuid) -> Result<GrantPage, Error> {
    caller.require(GRANT_READERS)?;
    let mut conn = db.conn().await?;
    let row = grants::get(&mut conn, caller.organization_scope(), id).await?;
    let grant = views(&mut conn, vec![row], true).await?.remove(0);
    let round_name = finance::round_names(&mut conn, &[grant.round_id])
        .await?
        .pop()
        .map(|r| r.name)
        .unwrap_or_default();
    let names = if caller.is(Role::Applicant) {
        HashMap::new()
    } else {
        let mut ids: Vec<Uuid> = grant
            .payouts
            .iter()
            .flatten()
            .flat_map(|p| {
                [
                    Some(p.requested_by),
                    p.approved_by,
                    p.rejected_by,
                    p.paid_by,
                ]
            })
            .flatten()
            .collect();
        ids.sort();
        ids.dedup();
        names(&mut conn, &ids).await?
    };
    Ok(GrantPage {
        grant,
        round_name,
        names,
    })
}

/// Users' names by id.
async fn names(
    conn: &mut diesel_async::AsyncPgConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, String>, Error> {
    Ok(finance::user_names(conn, ids)
        .await?
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect())
}

/// One page of grants with their rounds' names, and (for staff) what the filters offer.
pub struct GrantList {
    /// Up to `fetch` grants.
    pub grants: Vec<GrantView>,
    pub round_names: HashMap<Uuid, String>,
    pub rounds: Vec<NamedRow>,
    pub organizations: Vec<NamedRow>,
}

pub async fn grant_list(
    db: &Database,
    caller: &Caller,
    filter: &GrantFilter,
    after: Option<(DateTime<Utc>, Uuid)>,
    fetch: i64,
) -> Result<GrantList, Error> {
    caller.require(GRANT_READERS)?;
    let scope = caller.organization_scope();
    let mut conn = db.conn().await?;
    let rows = grants::list(&mut conn, scope, filter, after, fetch).await?;
    let mut round_ids: Vec<Uuid> = rows.iter().map(|g| g.round_id).collect();
    round_ids.sort();
    round_ids.dedup();
    let grants = views(&mut conn, rows, false).await?;
    let round_names = finance::round_names(&mut conn, &round_ids)
        .await?
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect();
    // Applicants filter nothing: the lists would name other organizations.
    let (rounds, organizations) = if matches!(scope, Scope::All) {
        (
            finance::rounds_with_grants(&mut conn).await?,
            finance::organizations_with_grants(&mut conn).await?,
        )
    } else {
        (vec![], vec![])
    };
    Ok(GrantList {
        grants,
        round_names,
        rounds,
        organizations,
    })
}
