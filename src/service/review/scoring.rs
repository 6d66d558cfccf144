//! A reviewer's score sheet: save, submit, reopen (admin), declare a conflict of interest; and
//! stored sheets read back in the rubric's order.

use std::collections::BTreeMap;

use chrono::Utc;
use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::round_status;
use crate::auth::Caller;
use crate::domain::lifecycle::RoundStatus;
use crate::domain::review::{check_scores, judged_total, AssignmentStatus};
use crate::domain::user::Role;
use crate::domain::violation::Violation;
use crate::service::error::parse_text;
use crate::service::rounds::RoundSpec;
use crate::service::{run_transaction, Error};
use crate::storage::models::{AssignmentRow, AssignmentUpdateForm, RoundRow};
use crate::storage::{review, rounds, Database};

/// A stored score sheet (`{"criterion": "12.5", ...}`) as scores in the order of `keys` (the
/// rubric's), parsed straight from the JSON text: no JSON tree, map or key string per sheet.
/// A ranking reads 50,000 of them: the plain form the service writes is scanned directly (a
/// third of serde's time), anything else goes through serde_json, which also names the error.
pub fn sheet_from_json(keys: &[&str], json: &[u8]) -> anyhow::Result<Vec<Option<Decimal>>> {
    match plain_sheet(keys, json) {
        Some(scores) => Ok(scores),
        None => serde_sheet(keys, json),
    }
}

/// The common case of [`sheet_from_json`]: one flat object of known keys and decimal strings
/// without escapes. None for anything else, left to the full parser to read or refuse.
fn plain_sheet(keys: &[&str], json: &[u8]) -> Option<Vec<Option<Decimal>>> {
    let mut p = Plain { s: json, i: 0 };
    let mut scores = vec![None; keys.len()];
    p.ws();
    p.eat(b'{')?;
    p.ws();
    if p.eat(b'}').is_none() {
        loop {
            let key = p.string()?;
            p.ws();
            p.eat(b':')?;
            p.ws();
            let value = p.string()?;
            let i = keys.iter().position(|k| k.as_bytes() == key)?;
            scores[i] = Some(std::str::from_utf8(value).ok()?.parse::<Decimal>().ok()?);
            p.ws();
            if p.eat(b',').is_some() {
                p.ws();
                continue;
            }
            p.eat(b'}')?;
            break;
        }
    }
    p.ws();
    (p.i == json.len()).then_some(scores)
}

/// A cursor over JSON text for [`plain_sheet`].
struct Plain<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Plain<'a> {
    fn ws(&mut self) {
        while matches!(self.s.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        (self.s.get(self.i) == Some(&b)).then(|| self.i += 1)
    }

    /// A string's contents, when it has no escape or control character.
    fn string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let rest = self.s.get(self.i..)?;
        let len = rest
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        if rest[len] != b'"' {
            return None;
        }
        self.i += len + 1;
        Some(&rest[..len])
    }
}

fn serde_sheet(keys: &[&str], json: &[u8]) -> anyhow::Result<Vec<Option<Decimal>>> {
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
    run_transaction(db, async move |conn| {
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
        let event = crate::service::audit_event(
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
    })
    .await
}

/// Submits the score sheet: every criterion must be scored; then it is locked.
pub async fn submit_scores(
    db: &Database,
    caller: &Caller,
    id: Uuid,
) -> Result<AssignmentRow, Error> {
    run_transaction(db, async move |conn| {
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
        crate::service::audit(
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
    run_transaction(db, async move |conn| {
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
        crate::service::audit(
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
    run_transaction(db, async move |conn| {
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
        crate::service::audit(
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
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::{plain_sheet, serde_sheet, sheet_from_json};
    use proptest::prelude::*;
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
        // The forms stored (serde_json's compact one, Postgres's spaced one) take the plain scan.
        for text in [
            &br#"{"need_analysis":"12","capacity":"7.5"}"#[..],
            br#"{"need_analysis": "12", "capacity": "7.5"}"#,
        ] {
            assert_eq!(
                plain_sheet(KEYS, text),
                Some(vec![Some(dec!(12)), Some(dec!(7.5)), None])
            );
        }
        assert_eq!(plain_sheet(KEYS, br#"{"capacit\u0079": "7"}"#), None);
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

    /// Sheets as stored (compact or spaced), and near misses: unknown keys, escapes, numbers,
    /// bad decimals, trailing text, broken syntax.
    fn sheet_text() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            Just("need_analysis".to_string()),
            Just("capacity".to_string()),
            Just("party_elements".to_string()),
            Just("capacit\\u0079".to_string()),
            "[a-z_]{1,8}",
        ];
        let value = prop_oneof![
            "\"[0-9]{1,2}(\\.[05])?\"",
            Just("\"12.50\"".to_string()),
            Just("7".to_string()),
            Just("\"seven\"".to_string()),
            Just("\"1\\u0032\"".to_string()),
            Just("\"\"".to_string()),
        ];
        let ws = prop_oneof![Just(""), Just(" "), Just("\n  ")];
        (
            proptest::collection::vec((key, value, ws.clone()), 0..5),
            ws,
            prop_oneof![Just(""), Just("}"), Just(" x"), Just(",")],
        )
            .prop_map(|(pairs, ws, tail)| {
                let body: Vec<String> = pairs
                    .iter()
                    .map(|(k, v, w)| format!("{w}\"{k}\"{w}:{w}{v}"))
                    .collect();
                format!("{ws}{{{}{ws}}}{tail}", body.join(","))
            })
    }

    proptest! {
        #[test]
        fn the_plain_scan_agrees_with_serde(text in sheet_text()) {
            let fast = sheet_from_json(KEYS, text.as_bytes());
            let full = serde_sheet(KEYS, text.as_bytes());
            match (fast, full) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
                (Err(_), Err(_)) => {}
                (a, b) => prop_assert!(false, "{text}: {a:?} vs {b:?}"),
            }
        }
    }
}
