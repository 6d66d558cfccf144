//! The public notice (公示) of award decisions, for anyone, signed in or not: every published
//! decision (during its notice period and after it is final), newest first, with its funded
//! projects (拟资助项目一览表). Nothing is shown before publication, and nothing of the review
//! itself: no reviewer, no score sheet, only each project's final score.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::service::Error;
use crate::storage::notices::{self, NoticeDecisionRow, NoticeLineRow};
use crate::storage::Database;

/// Decisions per page of `/notices`.
pub const DECISIONS_PER_PAGE: i64 = 10;
/// Projects shown per decision on `/notices` (the round's own notice shows them all, paged).
pub const LINES_ON_LIST: i64 = 10;
/// Projects per page of `/notices/{round_id}`.
pub const LINES_PER_PAGE: i64 = 100;

pub struct NoticeDecision {
    pub row: NoticeDecisionRow,
    pub funded_count: i64,
    pub lines: Vec<NoticeLineRow>,
}

impl NoticeDecision {
    /// During the notice period (objections still possible) rather than after it.
    pub fn in_notice_period(&self, now: DateTime<Utc>) -> bool {
        self.row.status == "public_notice" && now < self.row.notice_until
    }

    pub fn is_final(&self) -> bool {
        self.row.status == "final"
    }

    pub fn total(&self) -> Decimal {
        self.row.total_awarded
    }
}

pub struct NoticePage {
    pub decisions: Vec<NoticeDecision>,
    /// 1-based page number.
    pub page: i64,
    pub has_next: bool,
}

/// A page of published decisions, newest first, each with its first projects.
pub async fn list(db: &Database, page: i64) -> Result<NoticePage, Error> {
    let page = page.clamp(1, 1_000_000);
    let mut conn = db.conn().await?;
    let mut rows = notices::decisions(
        &mut conn,
        None,
        (page - 1) * DECISIONS_PER_PAGE,
        DECISIONS_PER_PAGE + 1,
    )
    .await?;
    let has_next = rows.len() as i64 > DECISIONS_PER_PAGE;
    rows.truncate(DECISIONS_PER_PAGE as usize);
    let ids: Vec<Uuid> = rows.iter().map(|r| r.round_id).collect();
    let counts: HashMap<Uuid, i64> = notices::funded_counts(&mut conn, &ids)
        .await?
        .into_iter()
        .collect();
    let mut decisions = Vec::with_capacity(rows.len());
    for row in rows {
        let lines = notices::funded_lines(&mut conn, row.round_id, 0, LINES_ON_LIST).await?;
        decisions.push(NoticeDecision {
            funded_count: counts.get(&row.round_id).copied().unwrap_or(0),
            row,
            lines,
        });
    }
    Ok(NoticePage {
        decisions,
        page,
        has_next,
    })
}

/// One round's published decision with a page of its projects; not found until published.
pub async fn round(db: &Database, round_id: Uuid, page: i64) -> Result<NoticePage, Error> {
    let page = page.clamp(1, 1_000_000);
    let mut conn = db.conn().await?;
    let row = notices::decisions(&mut conn, Some(round_id), 0, 1)
        .await?
        .into_iter()
        .next()
        .ok_or(Error::NotFound)?;
    let count = notices::funded_counts(&mut conn, &[round_id])
        .await?
        .first()
        .map(|c| c.1)
        .unwrap_or(0);
    let mut lines = notices::funded_lines(
        &mut conn,
        round_id,
        (page - 1) * LINES_PER_PAGE,
        LINES_PER_PAGE + 1,
    )
    .await?;
    let has_next = lines.len() as i64 > LINES_PER_PAGE;
    lines.truncate(LINES_PER_PAGE as usize);
    Ok(NoticePage {
        decisions: vec![NoticeDecision {
            row,
            funded_count: count,
            lines,
        }],
        page,
        has_next,
    })
}

/// One round's whole published decision (every funded project), for the CSV.
pub async fn round_all(db: &Database, round_id: Uuid) -> Result<NoticeDecision, Error> {
    let mut conn = db.conn().await?;
    let row = notices::decisions(&mut conn, Some(round_id), 0, 1)
        .await?
        .into_iter()
        .next()
        .ok_or(Error::NotFound)?;
    let lines = notices::funded_lines(&mut conn, round_id, 0, i64::MAX).await?;
    Ok(NoticeDecision {
        row,
        funded_count: lines.len() as i64,
        lines,
    })
}

impl NoticeDecision {
    /// The decision as CSV (UTF-8 with a BOM, so spreadsheets read the Chinese): one row per
    /// funded project, the notice period and the contact for objections at the end.
    pub fn to_csv(&self, contact: &str, tz: chrono_tz::Tz) -> Vec<u8> {
        use crate::service::ledger::push_row;
        let date = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d").to_string();
        let mut out = String::from("\u{feff}");
        push_row(
            &mut out,
            [
                "排名 Rank",
                "创投活动 Round",
                "社会组织 Organization",
                "项目名称 Project",
                "最终得分 Final score",
                "拟资助金额 Award amount",
            ]
            .into_iter()
            .map(String::from),
        );
        for l in &self.lines {
            push_row(
                &mut out,
                [
                    l.rank.map(|r| r.to_string()).unwrap_or_default(),
                    self.row.round_name.clone(),
                    l.organization_name.clone(),
                    l.title.clone(),
                    l.final_score
                        .map(|s| format!("{:.2}", s.round_dp(2)))
                        .unwrap_or_default(),
                    format!("{:.2}", l.amount.round_dp(2)),
                ]
                .into_iter(),
            );
        }
        push_row(
            &mut out,
            [
                "合计 Total".to_string(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                format!("{:.2}", self.row.total_awarded.round_dp(2)),
            ]
            .into_iter(),
        );
        out.push_str("\r\n");
        push_row(
            &mut out,
            [
                "公示期 Notice period".to_string(),
                format!(
                    "{} — {}",
                    date(self.row.published_at),
                    date(self.row.notice_until)
                ),
            ]
            .into_iter(),
        );
        push_row(
            &mut out,
            ["异议 Objections".to_string(), contact.to_string()].into_iter(),
        );
        out.into_bytes()
    }
}
