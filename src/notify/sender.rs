//! The background sender: delivers due outbox rows, retrying with exponential backoff.
//!
//! Each message is handled in a transaction of its own: claim the oldest due `pending` row with
//! `FOR UPDATE SKIP LOCKED`, send it, record the outcome, commit. Several senders (replicas, or
//! two calls of [`run_once`]) therefore never hold the same row, and a message is sent by one of
//! them only.
//!
//! The honest trade-off: the row lock is held across the SMTP conversation, which is what stops
//! a second sender from taking the message while it is being sent. If the process dies (or the
//! database connection is lost) after the SMTP server accepted the message but before the
//! commit, the row is still `pending` and will be sent again: delivery is at-least-once, not
//! exactly-once, in that window. The stable `Message-ID` (`<message_id@gongyi>`) lets receiving
//! systems drop such a duplicate. Nothing is ever lost: a row leaves `pending` only by a commit
//! that records `sent` or `failed`.

use std::time::Duration;

use diesel_async::AsyncConnection;

use super::transport::Mailer;
use crate::config::{EmailSettings, Settings};
use crate::storage::{outbox, Database, StorageError};

/// Wait before the next try after `attempts` failed tries (1 = the first failure): the initial
/// delay doubled per further failure, capped at `max_ms`.
pub fn backoff_ms(attempts: u32, initial_ms: u64, max_ms: u64) -> u64 {
    let doublings = attempts.saturating_sub(1).min(62);
    initial_ms
        .saturating_mul(1u64 << doublings)
        .min(max_ms)
        .max(initial_ms.min(max_ms))
}

/// What one attempt leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    RetryIn(u64),
    GiveUp,
}

/// After a failed try (`attempts_before` tries had failed before it): retry later, or give up
/// because the error is permanent or the tries are used up.
pub fn after_failure(attempts_before: u32, permanent: bool, s: &EmailSettings) -> Outcome {
    let attempts = attempts_before + 1;
    if permanent || attempts >= s.max_attempts.max(1) {
        Outcome::GiveUp
    } else {
        Outcome::RetryIn(backoff_ms(attempts, s.retry_initial_ms, s.retry_max_ms))
    }
}

/// Delivers up to `email.batch_size` due messages, one transaction each. Returns how many were
/// sent; failures are recorded on their rows (and logged), not returned.
pub async fn run_once(db: &Database, settings: &Settings) -> Result<usize, StorageError> {
    let mailer = Mailer::from_settings(&settings.email)?;
    run_once_with(db, &settings.email, &mailer).await
}

pub async fn run_once_with(
    db: &Database,
    email: &EmailSettings,
    mailer: &Mailer,
) -> Result<usize, StorageError> {
    let mut conn = db.conn().await?;
    let mut sent = 0;
    // Each pass walks the due messages once, in id order.
    let mut last_id = 0i64;
    for _ in 0..email.batch_size.max(1) {
        let outcome = conn
            .transaction::<_, StorageError, _>(async move |conn| {
                    let Some(row) = outbox::claim_due(conn, last_id).await? else {
                        return Ok(None);
                    };
                    let id = row.id;
                    let outcome = match mailer.send(&email.from, &row).await {
                        Ok(()) => {
                            outbox::mark_sent(conn, row.id).await?;
                            Outcome::Sent
                        }
                        Err(e) => {
                            let outcome = after_failure(row.attempts as u32, e.permanent, email);
                            let (retry_ms, give_up) = match outcome {
                                Outcome::RetryIn(ms) => (ms as i64, false),
                                _ => (0, true),
                            };
                            let level_msg = truncate(&e.message, 2000);
                            if give_up {
                                tracing::error!(outbox_id = row.id, recipient = %row.recipient, attempts = row.attempts + 1, error = %level_msg, "email delivery failed for good");
                            } else {
                                tracing::warn!(outbox_id = row.id, attempts = row.attempts + 1, retry_in_ms = retry_ms, error = %level_msg, "email delivery failed; will retry");
                            }
                            outbox::mark_attempt_failed(conn, row.id, &level_msg, retry_ms, give_up)
                                .await?;
                            outcome
                        }
                    };
                    Ok(Some((id, outcome)))
                })
            .await?;
        match outcome {
            None => break,
            Some((id, o)) => {
                last_id = id;
                if o == Outcome::Sent {
                    sent += 1;
                }
            }
        }
    }
    Ok(sent)
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// The sender loop for `serve`: a pass every `email.poll_interval_ms` until the task is dropped.
pub async fn run(db: Database, settings: std::sync::Arc<Settings>) {
    let mailer = match Mailer::from_settings(&settings.email) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "email sender not started: bad email settings");
            return;
        }
    };
    let mut tick = tokio::time::interval(settings.email.poll_interval());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match run_once_with(&db, &settings.email, &mailer).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sent = n, "emails sent"),
            Err(e) => {
                tracing::warn!(error = %e, "email sender pass failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn settings(max_attempts: u32) -> EmailSettings {
        let mut s = crate::config::load_for(crate::config::Environment::Test)
            .expect("test settings")
            .email;
        s.max_attempts = max_attempts;
        s.retry_initial_ms = 1000;
        s.retry_max_ms = 60_000;
        s
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff_ms(1, 1000, 60_000), 1000);
        assert_eq!(backoff_ms(2, 1000, 60_000), 2000);
        assert_eq!(backoff_ms(3, 1000, 60_000), 4000);
        assert_eq!(backoff_ms(7, 1000, 60_000), 60_000);
        assert_eq!(backoff_ms(500, 1000, 60_000), 60_000);
    }

    #[test]
    fn gives_up_after_max_attempts_or_a_permanent_error() {
        let s = settings(3);
        assert_eq!(after_failure(0, false, &s), Outcome::RetryIn(1000));
        assert_eq!(after_failure(1, false, &s), Outcome::RetryIn(2000));
        assert_eq!(after_failure(2, false, &s), Outcome::GiveUp);
        assert_eq!(after_failure(0, true, &s), Outcome::GiveUp);
    }

    proptest! {
        #[test]
        fn backoff_is_monotonic_and_bounded(a in 1u32..100, initial in 1u64..100_000, extra in 0u64..10_000_000) {
            let max = initial + extra;
            let x = backoff_ms(a, initial, max);
            let y = backoff_ms(a + 1, initial, max);
            prop_assert!(x <= y);
            prop_assert!(x >= initial && x <= max);
        }

        #[test]
        fn a_message_is_tried_exactly_max_attempts_times(max in 1u32..20) {
            let s = settings(max);
            let mut attempts = 0;
            loop {
                let o = after_failure(attempts, false, &s);
                attempts += 1;
                if o == Outcome::GiveUp { break; }
            }
            prop_assert_eq!(attempts, max);
        }
    }
}
