//! The tamper-evident audit chain, as pure functions: each sealed audit event gets
//! `hash = SHA-256(prev_hash || canonical(event))`, the first one chained to 32 zero bytes.
//! Changing any sealed event, or any seal, breaks the link at that point and every later one.

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const GENESIS: [u8; 32] = [0u8; 32];

/// The content of an audit event that the chain covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventContent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub actor_role: Option<String>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Uuid,
    /// The JSON document as text (the database's canonical jsonb text).
    pub before: Option<String>,
    pub after: Option<String>,
}

/// An unambiguous byte string for the event: each field is length-prefixed (8 bytes, big
/// endian) and an absent value is distinct from an empty one, so no two different events
/// share a canonical form. Timestamps are RFC 3339 UTC with microseconds.
pub fn canonical(e: &EventContent) -> Vec<u8> {
    fn field(out: &mut Vec<u8>, v: Option<&str>) {
        match v {
            None => out.push(0),
            Some(s) => {
                out.push(1);
                out.extend_from_slice(&(s.len() as u64).to_be_bytes());
                out.extend_from_slice(s.as_bytes());
            }
        }
    }
    let mut out = b"gongyi-audit-v1".to_vec();
    field(&mut out, Some(&e.id.to_string()));
    field(
        &mut out,
        Some(&e.at.to_rfc3339_opts(SecondsFormat::Micros, true)),
    );
    field(&mut out, e.actor_id.map(|u| u.to_string()).as_deref());
    field(&mut out, e.actor_role.as_deref());
    field(&mut out, Some(&e.action));
    field(&mut out, Some(&e.entity_type));
    field(&mut out, Some(&e.entity_id.to_string()));
    field(&mut out, e.before.as_deref());
    field(&mut out, e.after.as_deref());
    out
}

pub fn link_hash(prev_hash: &[u8], event: &EventContent) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev_hash);
    h.update(canonical(event));
    h.finalize().into()
}

/// One stored seal with the event it covers as it is now (None when the row is gone).
#[derive(Debug, Clone)]
pub struct SealedEvent {
    pub seq: i64,
    pub event_id: i64,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
    pub event: Option<EventContent>,
}

/// Where and why the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ChainBreak {
    /// Chain position of the first broken link.
    pub seq: i64,
    /// The audit event sealed at that position.
    pub event_id: i64,
    /// `event_changed`, `event_missing`, `prev_hash_mismatch`, `sequence_gap` or `event_mismatch`.
    pub reason: String,
}

/// Walks seals in order. `expected_seq` and `prev` carry the state across batches: start with
/// `1` and `GENESIS`. Returns the first break, or the state to continue from.
pub fn verify_links<'a>(
    seals: impl IntoIterator<Item = &'a SealedEvent>,
    mut expected_seq: i64,
    mut prev: Vec<u8>,
) -> Result<(i64, Vec<u8>), ChainBreak> {
    for s in seals {
        let brk = |reason: &str| ChainBreak {
            seq: s.seq,
            event_id: s.event_id,
            reason: reason.to_string(),
        };
        if s.seq != expected_seq {
            return Err(ChainBreak {
                seq: expected_seq,
                event_id: s.event_id,
                reason: "sequence_gap".into(),
            });
        }
        if s.prev_hash != prev {
            return Err(brk("prev_hash_mismatch"));
        }
        let Some(event) = &s.event else {
            return Err(brk("event_missing"));
        };
        if event.id != s.event_id {
            return Err(brk("event_mismatch"));
        }
        if link_hash(&prev, event).as_slice() != s.hash.as_slice() {
            return Err(brk("event_changed"));
        }
        prev = s.hash.clone();
        expected_seq = expected_seq.saturating_add(1);
    }
    Ok((expected_seq, prev))
}

#[cfg(test)]
// Test code: an overflow here fails a test; it never serves a request.
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event(id: i64, action: &str, after: Option<&str>) -> EventContent {
        EventContent {
            id,
            at: DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap(),
            actor_id: Some(Uuid::from_u128(7)),
            actor_role: Some("applicant".into()),
            action: action.into(),
            entity_type: "application".into(),
            entity_id: Uuid::from_u128(42),
            before: Some(r#"{"status": "draft"}"#.into()),
            after: after.map(str::to_string),
        }
    }

    fn seal_all(events: &[EventContent]) -> Vec<SealedEvent> {
        let mut prev = GENESIS.to_vec();
        events
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let hash = link_hash(&prev, e).to_vec();
                let s = SealedEvent {
                    seq: i as i64 + 1,
                    event_id: e.id,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                    event: Some(e.clone()),
                };
                prev = hash;
                s
            })
            .collect()
    }

    #[test]
    fn timestamp_is_rfc3339_micros_utc() {
        let c = canonical(&event(1, "a", None));
        let text = String::from_utf8_lossy(&c);
        assert!(text.contains("2025-11-24T16:00:00.123456Z"), "{text}");
    }

    #[test]
    fn absent_and_empty_differ() {
        let a = event(1, "x", None);
        let b = event(1, "x", Some(""));
        assert_ne!(canonical(&a), canonical(&b));
    }

    #[test]
    fn an_intact_chain_verifies() {
        let events: Vec<_> = (1..=5)
            .map(|i| {
                event(
                    i,
                    "application.submitted",
                    Some(r#"{"status": "submitted"}"#),
                )
            })
            .collect();
        let seals = seal_all(&events);
        let (next, head) = verify_links(&seals, 1, GENESIS.to_vec()).unwrap();
        assert_eq!(next, 6);
        assert_eq!(head, seals[4].hash);
    }

    #[test]
    fn a_changed_event_is_named() {
        let events: Vec<_> = (1..=5).map(|i| event(i * 10, "a", None)).collect();
        let mut seals = seal_all(&events);
        seals[2].event.as_mut().unwrap().action = "b".into();
        let b = verify_links(&seals, 1, GENESIS.to_vec()).unwrap_err();
        assert_eq!(
            b,
            ChainBreak {
                seq: 3,
                event_id: 30,
                reason: "event_changed".into()
            }
        );
    }

    #[test]
    fn a_missing_event_a_gap_and_a_forged_link_are_found() {
        let events: Vec<_> = (1..=4).map(|i| event(i, "a", None)).collect();
        let mut s = seal_all(&events);
        s[1].event = None;
        assert_eq!(
            verify_links(&s, 1, GENESIS.to_vec()).unwrap_err().reason,
            "event_missing"
        );
        let mut s = seal_all(&events);
        s.remove(1);
        let b = verify_links(&s, 1, GENESIS.to_vec()).unwrap_err();
        assert_eq!((b.seq, b.reason.as_str()), (2, "sequence_gap"));
        let mut s = seal_all(&events);
        s[3].prev_hash = vec![1; 32];
        assert_eq!(
            verify_links(&s, 1, GENESIS.to_vec()).unwrap_err().reason,
            "prev_hash_mismatch"
        );
    }

    #[test]
    fn batches_continue_where_the_last_one_ended() {
        let events: Vec<_> = (1..=6).map(|i| event(i, "a", None)).collect();
        let seals = seal_all(&events);
        let (n, prev) = verify_links(&seals[..3], 1, GENESIS.to_vec()).unwrap();
        let (n, _) = verify_links(&seals[3..], n, prev).unwrap();
        assert_eq!(n, 7);
    }

    proptest! {
        /// Any change to any field of any sealed event is detected at exactly that link.
        #[test]
        fn any_single_change_is_found_at_its_link(
            n in 1usize..12,
            victim in 0usize..12,
            field in 0usize..6,
            text in "[a-z0-9{}\":, ]{0,12}",
        ) {
            let victim = victim % n;
            let events: Vec<_> = (0..n)
                .map(|i| event(i as i64 + 1, &format!("act{i}"), Some(&format!("{{\"i\": {i}}}"))))
                .collect();
            let mut seals = seal_all(&events);
            let original = seals[victim].event.clone().unwrap();
            let e = seals[victim].event.as_mut().unwrap();
            match field {
                0 => e.action = format!("{}{text}x", e.action),
                1 => e.after = Some(text.clone()),
                2 => e.actor_role = None,
                3 => e.at += chrono::Duration::microseconds(1),
                4 => e.entity_type.push_str(&text),
                _ => e.before = None,
            }
            prop_assume!(*e != original);
            let b = verify_links(&seals, 1, GENESIS.to_vec()).unwrap_err();
            prop_assert_eq!(b.seq, victim as i64 + 1);
            prop_assert_eq!(b.reason, "event_changed");
        }

        #[test]
        fn canonical_is_injective_on_action_and_entity(a in "[a-z.]{0,8}", b in "[a-z.]{0,8}", c in "[a-z.]{0,8}", d in "[a-z.]{0,8}") {
            let mut x = event(1, &a, None);
            x.entity_type = b.clone();
            let mut y = event(1, &c, None);
            y.entity_type = d.clone();
            prop_assert_eq!(canonical(&x) == canonical(&y), a == c && b == d);
        }
    }
}
