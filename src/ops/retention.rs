//! The retention job: deletes operational rows that have served their purpose, so that tables
//! do not grow for ever. It never touches the audit trail (`audit_events`, `audit_seals`: they
//! are append-only, and the database refuses deletes on them anyway) nor business records.
//!
//! Each rule deletes in batches of `retention.batch_size`, one short transaction per batch, each
//! under a transaction-level advisory lock taken with `pg_try_advisory_xact_lock`: when another
//! replica holds it, this pass stops at once and leaves the work to that one. (A session-level
//! lock would outlive a pass cancelled at shutdown on its pooled connection.) Deleting is
//! idempotent, so two replicas alternating between batches would be harmless anyway.
//!
//! To retain something new, add a [`Rule`] to [`RULES`]: a table, the SQL condition of the rows
//! to delete (with `$1` the cutoff time) and the setting that says how long they are kept.

use std::sync::Arc;

use chrono::{Duration, Utc};
use diesel_async::AsyncConnection;

use super::metrics::Metrics;
use crate::config::Settings;
use crate::storage::operations;
use crate::storage::{Database, StorageError};

/// Advisory lock key of the retention job ("gongyi r" in ASCII).
pub const RETENTION_LOCK: i64 = 0x676f_6e67_7969_2072;

pub struct Rule {
    /// In logs and in `gongyi_retention_deleted_rows_total{rule}`.
    pub name: &'static str,
    pub table: &'static str,
    /// Which rows go: SQL over `table`'s columns, `$1` the cutoff (now − `keep`).
    pub condition: &'static str,
    /// How long a row is kept (from the time the condition compares with the cutoff).
    pub keep: fn(&Settings) -> Duration,
}

fn outbox_sent(s: &Settings) -> Duration {
    Duration::days(s.retention.outbox_sent_days)
}

fn idempotency_keys(s: &Settings) -> Duration {
    Duration::hours(s.retention.idempotency_key_hours)
}

fn expired_tokens(s: &Settings) -> Duration {
    Duration::days(s.retention.expired_token_days)
}

/// Never shorter than the sign-in throttle's window, which counts these rows.
fn login_failures(s: &Settings) -> Duration {
    Duration::days(s.retention.login_failure_days)
        .max(Duration::minutes(s.auth.login_failure_window_minutes))
}

/// Every retention rule, in the order a pass applies them.
pub const RULES: &[Rule] = &[
    // Sent emails; `pending` and `failed` ones stay (an admin may retry a failed one).
    Rule {
        name: "outbox_sent",
        table: "email_outbox",
        condition: "status = 'sent' AND sent_at < $1",
        keep: outbox_sent,
    },
    // A key older than this no longer replays its first answer: a client retrying later
    // would be treated as a new request (payout limits still hold in the database).
    Rule {
        name: "idempotency_keys",
        table: "idempotency_keys",
        condition: "created_at < $1",
        keep: idempotency_keys,
    },
    // Sign-in sessions and API tokens that expired or were revoked that long ago: they can
    // no longer authenticate, and `GET /me/tokens` no longer lists them.
    Rule {
        name: "expired_tokens",
        table: "api_tokens",
        condition: "(expires_at < $1 OR revoked_at < $1)",
        keep: expired_tokens,
    },
    Rule {
        name: "login_failures",
        table: "login_failures",
        condition: "failed_at < $1",
        keep: login_failures,
    },
    // Browser sessions past their absolute expiry (idle ones are refused at once, and go here
    // at the latest `web.session_max_hours` after sign-in).
    Rule {
        name: "web_sessions",
        table: "web_sessions",
        condition: "expires_at < $1",
        keep: expired_tokens,
    },
];

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Rows deleted per rule applied.
    pub deleted: Vec<(&'static str, usize)>,
    /// Another replica held the lock: this pass stopped there.
    pub yielded: bool,
}

impl Report {
    pub fn total(&self) -> usize {
        self.deleted.iter().map(|(_, n)| n).sum()
    }

    pub fn deleted(&self, rule: &str) -> usize {
        self.deleted
            .iter()
            .filter(|(r, _)| *r == rule)
            .map(|(_, n)| n)
            .sum()
    }
}

/// One retention pass over every rule.
pub async fn run_once(
    db: &Database,
    settings: &Settings,
    metrics: Option<&Metrics>,
) -> Result<Report, StorageError> {
    let mut conn = db.conn().await?;
    let now = Utc::now();
    let batch = settings.retention.batch_size.max(1);
    let mut report = Report::default();
    for rule in RULES {
        let cutoff = now - (rule.keep)(settings);
        let mut total = 0;
        loop {
            let n = conn
                .transaction::<_, StorageError, _>(async move |conn| {
                    if !operations::try_xact_lock(conn, RETENTION_LOCK).await? {
                        return Ok(None);
                    }
                    operations::delete_older(conn, rule.table, rule.condition, cutoff, batch)
                        .await
                        .map(Some)
                })
                .await?;
            match n {
                None => {
                    report.yielded = true;
                    break;
                }
                Some(n) => {
                    total += n;
                    if (n as i64) < batch {
                        break;
                    }
                }
            }
        }
        if let Some(m) = metrics {
            m.retention_deleted(rule.name, total);
        }
        report.deleted.push((rule.name, total));
        if report.yielded {
            return Ok(report);
        }
    }
    if let Some(m) = metrics {
        m.retention_ran();
    }
    Ok(report)
}

/// The job for `serve`: a pass every `retention.interval_secs` until the task is dropped.
pub async fn run(db: Database, settings: Arc<Settings>, metrics: Arc<Metrics>) {
    let mut tick = tokio::time::interval(settings.retention.interval());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match run_once(&db, &settings, Some(&metrics)).await {
            Ok(r) if r.yielded => {
                tracing::debug!("retention pass left to another replica")
            }
            Ok(r) if r.total() > 0 => {
                tracing::info!(deleted = ?r.deleted, "retention pass deleted expired rows")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "retention pass failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_rule_touches_the_audit_trail() {
        for r in RULES {
            assert!(!r.table.starts_with("audit"), "{}", r.name);
            assert!(r.condition.contains("$1"), "{}: no cutoff", r.name);
        }
    }

    #[test]
    fn login_failures_are_kept_at_least_for_the_throttle_window() {
        let mut s = crate::config::load_for(crate::config::Environment::Test).unwrap();
        s.retention.login_failure_days = 0;
        s.auth.login_failure_window_minutes = 15;
        assert_eq!(login_failures(&s), Duration::minutes(15));
        s.retention.login_failure_days = 2;
        assert_eq!(login_failures(&s), Duration::days(2));
    }
}
