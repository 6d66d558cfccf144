//! Keyset pagination: `?limit=` (default 50, max 200) and an opaque `?cursor=`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::ApiError;
use crate::domain::violation::Violation;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `?cursor=` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

pub struct PageRequest {
    pub limit: i64,
    pub after: Option<(DateTime<Utc>, Uuid)>,
}

impl PageRequest {
    pub fn parse(limit: Option<i64>, cursor: Option<&str>) -> Result<Self, ApiError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::invalid(
                Violation::new("page_size", "limit must be between 1 and 200")
                    .limit(format!("1..{MAX_LIMIT}"))
                    .actual(limit)
                    .field("limit"),
            ));
        }
        let after = cursor.map(decode_cursor).transpose()?;
        Ok(Self { limit, after })
    }

    /// Rows to fetch: one more than shown, to know whether another page exists.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    pub fn page<R, T: ToSchema>(
        &self,
        mut rows: Vec<R>,
        key: impl Fn(&R) -> (DateTime<Utc>, Uuid),
        view: impl Fn(R) -> T,
    ) -> Page<T> {
        let has_more = rows.len() as i64 > self.limit;
        rows.truncate(self.limit as usize);
        let next_cursor = if has_more {
            rows.last().map(|r| encode_cursor(key(r)))
        } else {
            None
        };
        Page {
            items: rows.into_iter().map(view).collect(),
            next_cursor,
            has_more,
        }
    }
}

pub fn encode_cursor((at, id): (DateTime<Utc>, Uuid)) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}", at.timestamp_micros(), id))
}

pub fn decode_cursor(s: &str) -> Result<(DateTime<Utc>, Uuid), ApiError> {
    let bad = || {
        ApiError::bad_request(
            "invalid_cursor",
            "the cursor is not one this service issued",
        )
    };
    let raw = URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (micros, id) = text.split_once('|').ok_or_else(bad)?;
    let at = DateTime::from_timestamp_micros(micros.parse().map_err(|_| bad())?).ok_or_else(bad)?;
    Ok((at, id.parse().map_err(|_| bad())?))
}

/// A page request over rows keyed by a growing integer id, listed newest first (audit trail,
/// outbox). The cursor is opaque to clients like the other one.
pub struct IdPageRequest {
    pub limit: i64,
    /// Only rows with a smaller id.
    pub before: Option<i64>,
}

impl IdPageRequest {
    pub fn parse(limit: Option<i64>, cursor: Option<&str>) -> Result<Self, ApiError> {
        let p = PageRequest::parse(limit, None)?;
        let before = cursor
            .map(|c| {
                let bad = || {
                    ApiError::bad_request(
                        "invalid_cursor",
                        "the cursor is not one this service issued",
                    )
                };
                let raw = URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?;
                let text = String::from_utf8(raw).map_err(|_| bad())?;
                text.strip_prefix("id:")
                    .and_then(|n| n.parse::<i64>().ok())
                    .ok_or_else(bad)
            })
            .transpose()?;
        Ok(Self {
            limit: p.limit,
            before,
        })
    }

    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    pub fn page<R, T: ToSchema>(
        &self,
        mut rows: Vec<R>,
        key: impl Fn(&R) -> i64,
        view: impl Fn(R) -> T,
    ) -> Page<T> {
        let has_more = rows.len() as i64 > self.limit;
        rows.truncate(self.limit as usize);
        let next_cursor = if has_more {
            rows.last()
                .map(|r| URL_SAFE_NO_PAD.encode(format!("id:{}", key(r))))
        } else {
            None
        };
        Page {
            items: rows.into_iter().map(view).collect(),
            next_cursor,
            has_more,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip() {
        let at = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        let id = Uuid::new_v4();
        assert_eq!(decode_cursor(&encode_cursor((at, id))).unwrap(), (at, id));
        assert!(decode_cursor("garbage!").is_err());
    }

    #[test]
    fn id_cursor_round_trip() {
        let p = IdPageRequest::parse(Some(2), None).unwrap();
        let page = p.page(vec![9i64, 8, 7], |r| *r, |r| r.to_string());
        assert!(page.has_more);
        assert_eq!(page.items, vec!["9", "8"]);
        let next = IdPageRequest::parse(Some(2), page.next_cursor.as_deref()).unwrap();
        assert_eq!(next.before, Some(8));
        assert!(IdPageRequest::parse(None, Some("garbage!")).is_err());
    }

    #[test]
    fn limit_bounds() {
        assert!(PageRequest::parse(Some(0), None).is_err());
        assert!(PageRequest::parse(Some(201), None).is_err());
        assert_eq!(PageRequest::parse(None, None).unwrap().limit, 50);
    }
}
