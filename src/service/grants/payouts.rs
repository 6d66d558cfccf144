//! Payouts, tranche by tranche: request (idempotent), approve or reject by another finance user,
//! record the bank payment.

use chrono::{NaiveDate, Utc};
use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Caller;
use crate::domain::grant::{fits, remaining, GrantStatus, PayoutStatus, TrancheStatus};
use crate::domain::money::Money;
use crate::domain::violation::Violation;
use crate::service::error::parse_text;
use crate::service::{run_transaction, Error};
use crate::storage::models::{PayoutInsertForm, PayoutUpdateForm, TrancheUpdateForm};
use crate::storage::{grants, Database};

use crate::service::error::stored_money as money;

use super::views::PayoutView;

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayoutInput {
    /// Which tranche of the grant (1-based, as in `tranches[].number`).
    #[schema(minimum = 1, maximum = 3)]
    pub tranche_number: u32,
    pub amount: Money,
    pub note: Option<String>,
}

/// An `Idempotency-Key` and the digest of the request it came with.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: String,
    pub request_hash: Vec<u8>,
}

impl Idempotency {
    /// Checks the key (1–200 visible ASCII characters) and digests the request: method, path
    /// and the parsed body in canonical form, so `"5000"` and `"5000.00"` are the same request.
    pub fn new(key: &str, what: &str, body: &impl Serialize) -> Result<Self, Error> {
        use sha2::{Digest, Sha256};
        let k = key.trim();
        if k.is_empty() || k.len() > 200 || !k.chars().all(|c| c.is_ascii_graphic()) {
            return Err(Error::bad_request(
                "invalid_idempotency_key",
                "Idempotency-Key has 1 to 200 visible ASCII characters",
            ));
        }
        let mut h = Sha256::new();
        h.update(what.as_bytes());
        h.update(b"\n");
        h.update(serde_json::to_vec(body).map_err(|e| Error::Internal(e.into()))?);
        Ok(Self {
            key: k.to_string(),
            request_hash: h.finalize().to_vec(),
        })
    }
}

/// The answer to a payout request: the status and body to send, and whether it is a replay
/// of the first answer to the same key.
#[derive(Debug, Clone)]
pub struct Replayable {
    pub status: u16,
    pub body: serde_json::Value,
    pub replayed: bool,
}

/// Claims the key for this transaction (`None`: go ahead, then `store` the answer), or returns
/// the stored answer of the same request (422 `idempotency_key_reused` for another request).
/// A concurrent twin waits on the key row until the first transaction ends; only successful
/// answers are stored (a failed transaction rolls its key back).
pub(crate) async fn claim_or_replay(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    idem: &Idempotency,
) -> Result<Option<Replayable>, Error> {
    if grants::claim_key(conn, caller.user_id, &idem.key, &idem.request_hash).await? {
        return Ok(None);
    }
    let stored = grants::find_key(conn, caller.user_id, &idem.key).await?;
    if stored.request_hash != idem.request_hash {
        return Err(Error::Unprocessable {
            code: "idempotency_key_reused",
            detail: "this Idempotency-Key was used with another request".into(),
        });
    }
    match (stored.response_status, stored.response_body) {
        (Some(status), Some(body)) => Ok(Some(Replayable {
            status: status as u16,
            body,
            replayed: true,
        })),
        _ => Err(Error::Internal(anyhow::anyhow!(
            "idempotency key without a stored response"
        ))),
    }
}

/// Requests a payout of a due tranche (finance). With the same key and body the first answer
/// is returned; with the same key and another body, 422 `idempotency_key_reused`.
pub async fn request_payout(
    db: &Database,
    caller: &Caller,
    grant_id: Uuid,
    input: PayoutInput,
    idem: Idempotency,
) -> Result<Replayable, Error> {
    if input.amount.amount() <= Decimal::ZERO {
        return Err(Error::invalid(
            Violation::new("range", "a payout is above 0")
                .limit("> 0")
                .actual(input.amount)
                .field("amount"),
        ));
    }
    let note = input.note.clone().unwrap_or_default().trim().to_string();
    if note.chars().count() > 2000 {
        return Err(Error::invalid(
            Violation::new("length", "note has at most 2000 characters")
                .limit(2000)
                .actual(note.chars().count())
                .field("note"),
        ));
    }
    run_transaction(db, async move |conn| {
        // The key first: a concurrent twin waits here until this transaction ends.
        if let Some(replay) = claim_or_replay(conn, caller, &idem).await? {
            return Ok(replay);
        }
        let visible = grants::get(conn, caller.organization_scope(), grant_id).await?;
        let grant = grants::lock(conn, visible.id).await?;
        if grant.status == GrantStatus::Terminated.as_str() {
            return Err(Error::invalid_state("the grant is terminated"));
        }
        let tranches = grants::tranches_of(conn, &[grant_id]).await?;
        let tranche = tranches
            .iter()
            .find(|t| t.number == input.tranche_number as i32)
            .ok_or_else(|| {
                Error::invalid(
                    Violation::new("tranche", "the grant has no tranche with this number")
                        .limit(format!("1..{}", tranches.len()))
                        .actual(input.tranche_number)
                        .field("tranche_number"),
                )
            })?;
        if tranche.status != TrancheStatus::Due.as_str() {
            return Err(Error::invalid_state(format!(
                "tranche {} is {}; only a due tranche can be paid out",
                tranche.number, tranche.status
            )));
        }
        let mut v = Vec::new();
        let held = money(tranche.requested_total)?;
        let limit = money(tranche.amount)?;
        if !fits(held, limit, input.amount) {
            v.push(
                Violation::new(
                    "tranche_limit",
                    "requested, approved and paid payouts of a tranche never exceed it",
                )
                .limit(remaining(held, limit))
                .actual(input.amount)
                .field("amount"),
            );
        }
        let (g_held, g_limit) = (money(grant.requested_total)?, money(grant.amount)?);
        if !fits(g_held, g_limit, input.amount) {
            v.push(
                Violation::new("award_limit", "payouts of a grant never exceed the award")
                    .limit(remaining(g_held, g_limit))
                    .actual(input.amount)
                    .field("amount"),
            );
        }
        if !v.is_empty() {
            return Err(Error::RuleViolation(v));
        }
        let row = grants::insert_payout(
            conn,
            &PayoutInsertForm {
                id: Uuid::new_v4(),
                grant_id,
                tranche_id: tranche.id,
                amount: input.amount.amount(),
                status: PayoutStatus::Requested.as_str().into(),
                note,
                requested_by: caller.user_id,
            },
        )
        .await?;
        let view = PayoutView::from_row(&row, tranche.number)?;
        crate::service::audit(
            conn,
            Some(caller),
            "payout.requested",
            "payout",
            row.id,
            None::<&()>,
            Some(&view),
        )
        .await?;
        crate::service::notices::payout_awaiting_approval(
            conn,
            caller,
            row.id,
            grant_id,
            tranche.number,
            row.amount,
        )
        .await?;
        let body = serde_json::to_value(&view).map_err(|e| Error::Internal(e.into()))?;
        grants::save_response(conn, caller.user_id, &idem.key, 201, &body).await?;
        Ok(Replayable {
            status: 201,
            body,
            replayed: false,
        })
    })
    .await
}

/// What a finance user decides about a request.
#[derive(Debug, Clone)]
pub enum Decision {
    Approve,
    Reject {
        reason: String,
    },
    Paid {
        bank_reference: String,
        value_date: NaiveDate,
    },
}

/// Approves, rejects or records the payment of a payout (finance). Approval and rejection are
/// by a finance user other than the requester (403 `self_approval_forbidden`; a CHECK in the
/// database too); approval re-checks that approved + paid stays within the tranche. With an
/// `Idempotency-Key` a retried decision answers the first answer instead of 409.
pub async fn decide(
    db: &Database,
    caller: &Caller,
    payout_id: Uuid,
    decision: Decision,
    idem: Option<Idempotency>,
) -> Result<Replayable, Error> {
    if let Decision::Paid { value_date, .. } = &decision {
        // A payment already made: its value date is not later than tomorrow (UTC+8 runs ahead).
        let latest = Utc::now().date_naive() + chrono::Days::new(1);
        if *value_date > latest {
            return Err(Error::invalid(
                Violation::new(
                    "range",
                    "the value date of a recorded payment is not in the future",
                )
                .limit(format!("<= {latest}"))
                .actual(value_date)
                .field("value_date"),
            ));
        }
    }
    run_transaction(db, async move |conn| {
            if let Some(idem) = &idem {
                if let Some(replay) = claim_or_replay(conn, caller, idem).await? {
                    return Ok(replay);
                }
            }
            let seen = grants::payout(conn, payout_id).await?;
            let grant = grants::lock(conn, seen.grant_id).await?;
            let p = grants::lock_payout(conn, payout_id).await?;
            let status: PayoutStatus = parse_text(&p.status)?;
            let next = match decision {
                Decision::Approve => PayoutStatus::Approved,
                Decision::Reject { .. } => PayoutStatus::Rejected,
                Decision::Paid { .. } => PayoutStatus::Paid,
            };
            if !status.can_become(next) {
                return Err(Error::invalid_state(format!(
                    "a payout that is {status} cannot become {next}"
                )));
            }
            if next != PayoutStatus::Paid && p.requested_by == caller.user_id {
                return Err(Error::Forbidden {
                    code: "self_approval_forbidden",
                    detail: "a payout is approved or rejected by a finance user other than the one who requested it".into(),
                });
            }
            let tranche = grants::tranche(conn, p.tranche_id).await?;
            let now = Utc::now();
            let mut form = PayoutUpdateForm {
                status: Some(next.as_str().into()),
                updated_at: Some(now),
                ..Default::default()
            };
            match &decision {
                Decision::Approve => {
                    if grant.status == GrantStatus::Terminated.as_str()
                        || tranche.status != TrancheStatus::Due.as_str()
                    {
                        return Err(Error::invalid_state(format!(
                            "tranche {} is {}; only payouts of a due tranche are approved",
                            tranche.number, tranche.status
                        )));
                    }
                    // Approved + paid, with this one, within the tranche and the award.
                    let amount = money(p.amount)?;
                    if !fits(money(tranche.committed_total)?, money(tranche.amount)?, amount)
                        || !fits(money(grant.committed_total)?, money(grant.amount)?, amount)
                    {
                        return Err(Error::RuleViolation(vec![Violation::new(
                            "tranche_limit",
                            "approved and paid payouts of a tranche never exceed it",
                        )
                        .limit(remaining(money(tranche.committed_total)?, money(tranche.amount)?))
                        .actual(amount)]));
                    }
                    form.approved_by = Some(Some(caller.user_id));
                    form.approved_at = Some(Some(now));
                }
                Decision::Reject { reason } => {
                    form.rejected_by = Some(Some(caller.user_id));
                    form.rejected_at = Some(Some(now));
                    form.rejected_reason = Some(Some(reason.clone()));
                }
                Decision::Paid {
                    bank_reference,
                    value_date,
                } => {
                    form.paid_by = Some(Some(caller.user_id));
                    form.paid_at = Some(Some(now));
                    form.bank_reference = Some(Some(bank_reference.clone()));
                    form.value_date = Some(Some(*value_date));
                }
            }
            let row = grants::update_payout(conn, payout_id, &form).await?;
            let mut tranche_after = None;
            if next == PayoutStatus::Paid {
                let t = grants::tranche(conn, p.tranche_id).await?;
                if t.paid_total == t.amount && t.status == TrancheStatus::Due.as_str() {
                    grants::update_tranche(
                        conn,
                        t.id,
                        &TrancheUpdateForm {
                            status: Some(TrancheStatus::Paid.as_str().into()),
                            paid_at: Some(Some(now)),
                            ..Default::default()
                        },
                    )
                    .await?;
                    tranche_after = Some(serde_json::json!({"number": t.number, "status": "paid"}));
                }
                let t = grants::tranche(conn, row.tranche_id).await?;
                crate::service::notices::payout_paid(
                    conn,
                    row.id,
                    row.grant_id,
                    t.number,
                    row.amount,
                    row.value_date.unwrap_or_else(|| now.date_naive()),
                )
                .await?;
            }
            crate::service::audit(
                conn,
                Some(caller),
                &format!("payout.{next}"),
                "payout",
                payout_id,
                Some(&serde_json::json!({"status": status, "amount": p.amount})),
                Some(&serde_json::json!({
                    "status": next, "amount": row.amount,
                    "approved_by": row.approved_by, "rejected_reason": row.rejected_reason,
                    "bank_reference": row.bank_reference, "value_date": row.value_date,
                    "tranche": tranche_after,
                })),
            )
            .await?;
            let view = PayoutView::from_row(&row, tranche.number)?;
            let body = serde_json::to_value(&view).map_err(|e| Error::Internal(e.into()))?;
            if let Some(idem) = &idem {
                grants::save_response(conn, caller.user_id, &idem.key, 200, &body).await?;
            }
            Ok(Replayable {
                status: 200,
                body,
                replayed: false,
            })
        })
    .await
}
