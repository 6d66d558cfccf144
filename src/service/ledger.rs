//! Ledger exports (拨付台账) of a grant or of a round: one line per approved or paid payout and
//! totals taken from the same grant views the API answers with, as CSV (UTF-8 with a BOM, so
//! Excel opens Chinese text) and XLSX. After them, the spending side: per grant and category
//! the approved budget, what was spent and what remains, and per grant what the bureau paid in
//! against all spending (a second section in the CSV after an empty line, a second worksheet in
//! the XLSX).

use std::collections::HashMap;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::domain::grant::PayoutStatus;
use crate::domain::money::Money;
use crate::service::grants::{views, GrantView};
use crate::service::Error;
use crate::storage::{grants, rounds, Database, Scope};

pub const HEADER: [&str; 14] = [
    "序号 No.",
    "活动 Round",
    "社会组织 Organization",
    "项目 Project",
    "协议 Grant",
    "期次 Tranche",
    "里程碑 Milestone",
    "拨付单 Payout",
    "状态 Status",
    "金额 Amount",
    "申请 Requested by",
    "审批 Approved by",
    "银行流水 Bank reference",
    "起息日 Value date",
];
/// The column that holds amounts, in lines and totals.
pub const AMOUNT_COLUMN: usize = 9;

pub struct LedgerLine {
    pub cells: Vec<String>,
    pub amount: Money,
}

/// Totals, the same as the sums of the grants' `balance` in the API.
pub struct LedgerTotals {
    pub awarded: Money,
    pub paid: Money,
    pub approved: Money,
    pub pending: Money,
    pub outstanding: Money,
    pub cancelled: Money,
}

pub const SPENDING_HEADER: [&str; 9] = [
    "支出 Spending",
    "社会组织 Organization",
    "项目 Project",
    "协议 Grant",
    "类别 Category",
    "预算 Budget",
    "已拨入 Paid in",
    "已支出 Spent",
    "结余 Remaining",
];
/// The spending columns that hold amounts.
pub const SPENDING_AMOUNTS: std::ops::RangeInclusive<usize> = 5..=8;

/// One row of the spending side: a category of a grant, or (first cell `合计 Total`) the
/// grant's paid in against all its spending.
pub struct SpendingLine {
    pub cells: Vec<String>,
}

pub struct Ledger {
    pub title: String,
    pub lines: Vec<LedgerLine>,
    pub totals: LedgerTotals,
    pub spending: Vec<SpendingLine>,
}

pub enum LedgerOf {
    Grant(Uuid),
    Round(Uuid),
}

fn sum(vs: &[GrantView], f: impl Fn(&GrantView) -> Money) -> Result<Money, Error> {
    // Saturating: a total past Decimal::MAX is refused by Money::new below, not a panic.
    let total: Decimal = crate::domain::arith::saturating_sum(vs.iter().map(|v| f(v).amount()));
    Money::new(total).map_err(|e| Error::Internal(anyhow::anyhow!("ledger total: {e}")))
}

/// Builds the ledger (finance and admin see every grant).
pub async fn build(db: &Database, of: LedgerOf) -> Result<Ledger, Error> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let mut conn = db.conn().await?;
    let (rows, round_id) = match of {
        LedgerOf::Grant(id) => {
            let g = grants::get(&mut conn, Scope::All, id).await?;
            let r = g.round_id;
            (vec![g], r)
        }
        LedgerOf::Round(id) => (grants::of_round(&mut conn, id).await?, id),
    };
    let round = rounds::get(&conn, round_id, true).await?;
    let executions = super::spending::executions(&mut conn, &rows).await?;
    let vs = views(&mut conn, rows, true).await?;
    let user_ids: Vec<Uuid> = vs
        .iter()
        .flat_map(|v| v.payouts.iter().flatten())
        .flat_map(|p| [Some(p.requested_by), p.approved_by])
        .flatten()
        .collect();
    let names: HashMap<Uuid, String> = crate::storage::schema::users::table
        .filter(crate::storage::schema::users::id.eq_any(&user_ids))
        .select((
            crate::storage::schema::users::id,
            crate::storage::schema::users::name,
        ))
        .load::<(Uuid, String)>(&mut conn)
        .await?
        .into_iter()
        .collect();
    let name = |id: Option<Uuid>| {
        id.map(|id| names.get(&id).cloned().unwrap_or_else(|| id.to_string()))
            .unwrap_or_default()
    };
    let mut lines = Vec::new();
    for v in &vs {
        for p in v.payouts.iter().flatten() {
            if !matches!(p.status, PayoutStatus::Approved | PayoutStatus::Paid) {
                continue;
            }
            let milestone = v
                .tranches
                .iter()
                .find(|t| t.id == p.tranche_id)
                .map(|t| t.milestone.as_str())
                .unwrap_or_default();
            lines.push(LedgerLine {
                cells: vec![
                    (lines.len() + 1).to_string(),
                    round.name.clone(),
                    v.organization_name.clone(),
                    v.application_title.clone(),
                    v.id.to_string(),
                    p.tranche_number.to_string(),
                    milestone.to_string(),
                    p.id.to_string(),
                    p.status.to_string(),
                    p.amount.to_string(),
                    name(Some(p.requested_by)),
                    name(p.approved_by),
                    p.bank_reference.clone().unwrap_or_default(),
                    p.value_date.map(|d| d.to_string()).unwrap_or_default(),
                ],
                amount: p.amount,
            });
        }
    }
    let totals = LedgerTotals {
        awarded: sum(&vs, |v| v.balance.awarded)?,
        paid: sum(&vs, |v| v.balance.paid)?,
        approved: sum(&vs, |v| v.balance.approved)?,
        pending: sum(&vs, |v| v.balance.pending)?,
        outstanding: sum(&vs, |v| v.balance.outstanding)?,
        cancelled: sum(&vs, |v| v.balance.cancelled)?,
    };
    let mut spending = Vec::new();
    for v in &vs {
        let Some(e) = executions.get(&v.id) else {
            continue;
        };
        let who = [
            v.organization_name.clone(),
            v.application_title.clone(),
            v.id.to_string(),
        ];
        for c in &e.categories {
            let mut cells = vec![String::new()];
            cells.extend(who.iter().cloned());
            cells.extend([
                c.category.to_string(),
                c.budget.to_string(),
                String::new(),
                c.spent.to_string(),
                c.remaining.amount().to_string(),
            ]);
            spending.push(SpendingLine { cells });
        }
        let mut cells = vec!["合计 Total".to_string()];
        cells.extend(who.iter().cloned());
        cells.extend([
            "all 全部".to_string(),
            e.totals.budget.to_string(),
            v.balance.paid.to_string(),
            e.totals.spent.to_string(),
            e.totals.remaining.amount().to_string(),
        ]);
        spending.push(SpendingLine { cells });
    }
    let title = match of {
        LedgerOf::Grant(id) => format!("{} — grant {id}", round.name),
        LedgerOf::Round(_) => round.name.clone(),
    };
    Ok(Ledger {
        title,
        lines,
        totals,
        spending,
    })
}

impl Ledger {
    /// The totals rows: `合计` in the first column, what in the second, the amount in
    /// `AMOUNT_COLUMN`.
    pub fn total_rows(&self) -> Vec<(&'static str, Money)> {
        let t = &self.totals;
        vec![
            ("awarded 立项金额", t.awarded),
            ("paid 已拨付", t.paid),
            ("approved 已审批未拨付", t.approved),
            ("pending 待审批", t.pending),
            ("outstanding 未拨付", t.outstanding),
            ("cancelled 已取消", t.cancelled),
        ]
    }

    pub fn to_csv(&self) -> Vec<u8> {
        let mut out = String::from("\u{feff}");
        push_row(&mut out, HEADER.iter().map(|s| s.to_string()));
        for l in &self.lines {
            push_row(&mut out, l.cells.iter().cloned());
        }
        for (what, amount) in self.total_rows() {
            let mut cells = vec![String::new(); HEADER.len()];
            cells[0] = "合计 Total".into();
            cells[1] = what.into();
            cells[AMOUNT_COLUMN] = amount.to_string();
            push_row(&mut out, cells.into_iter());
        }
        out.push_str("\r\n");
        push_row(&mut out, SPENDING_HEADER.iter().map(|s| s.to_string()));
        for l in &self.spending {
            push_row(&mut out, l.cells.iter().cloned());
        }
        out.into_bytes()
    }

    /// XLSX: amounts as numbers with two decimals (display only; the totals are computed
    /// exactly in decimal, not by spreadsheet formulas).
    pub fn to_xlsx(&self) -> Result<Vec<u8>, Error> {
        use rust_xlsxwriter::{Format, Workbook};
        let err = |e: rust_xlsxwriter::XlsxError| Error::Internal(anyhow::anyhow!("xlsx: {e}"));
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        ws.set_name("ledger").map_err(err)?;
        let bold = Format::new().set_bold();
        let num = Format::new().set_num_format("#,##0.00");
        let bold_num = Format::new().set_bold().set_num_format("#,##0.00");
        for (c, h) in HEADER.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, *h, &bold)
                .map_err(err)?;
            ws.set_column_width(c as u16, if c == 0 { 8 } else { 20 })
                .map_err(err)?;
        }
        let mut row = 1u32;
        for l in &self.lines {
            for (c, cell) in l.cells.iter().enumerate() {
                if c == AMOUNT_COLUMN {
                    ws.write_number_with_format(row, c as u16, to_f64(l.amount), &num)
                        .map_err(err)?;
                } else {
                    ws.write_string(row, c as u16, cell).map_err(err)?;
                }
            }
            row += 1;
        }
        for (what, amount) in self.total_rows() {
            ws.write_string_with_format(row, 0, "合计 Total", &bold)
                .map_err(err)?;
            ws.write_string_with_format(row, 1, what, &bold)
                .map_err(err)?;
            ws.write_number_with_format(row, AMOUNT_COLUMN as u16, to_f64(amount), &bold_num)
                .map_err(err)?;
            row += 1;
        }
        let ws = wb.add_worksheet();
        ws.set_name("spending").map_err(err)?;
        for (c, h) in SPENDING_HEADER.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, *h, &bold)
                .map_err(err)?;
            ws.set_column_width(c as u16, 20).map_err(err)?;
        }
        for (r, l) in self.spending.iter().enumerate() {
            let r = r as u32 + 1;
            for (c, cell) in l.cells.iter().enumerate() {
                match cell.parse::<Decimal>() {
                    Ok(d) if SPENDING_AMOUNTS.contains(&c) => {
                        ws.write_number_with_format(r, c as u16, d.to_f64().unwrap_or(0.0), &num)
                            .map_err(err)?;
                    }
                    _ => {
                        ws.write_string(r, c as u16, cell).map_err(err)?;
                    }
                }
            }
        }
        wb.save_to_buffer().map_err(err)
    }
}

fn to_f64(m: Money) -> f64 {
    m.amount().to_f64().unwrap_or(0.0)
}

/// RFC 4180 quoting; a cell that a spreadsheet would run as a formula gets a leading `'`.
pub(crate) fn push_row(out: &mut String, cells: impl Iterator<Item = String>) {
    let mut first = true;
    for cell in cells {
        if !first {
            out.push(',');
        }
        first = false;
        let cell = if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{cell}")
        } else {
            cell
        };
        if cell.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&cell.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&cell);
        }
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let mut s = String::new();
        push_row(
            &mut s,
            ["a,b", "say \"hi\"", "=1+1", "普通", "12.50"]
                .iter()
                .map(|s| s.to_string()),
        );
        assert_eq!(s, "\"a,b\",\"say \"\"hi\"\"\",'=1+1,普通,12.50\r\n");
    }

    #[test]
    fn csv_starts_with_a_bom_and_ends_with_totals() {
        let m = |s: &str| Money::parse(s).unwrap();
        let ledger = Ledger {
            title: "t".into(),
            lines: vec![],
            totals: LedgerTotals {
                awarded: m("100"),
                paid: m("50"),
                approved: m("0"),
                pending: m("0"),
                outstanding: m("50"),
                cancelled: m("0"),
            },
            spending: vec![SpendingLine {
                cells: [
                    "合计 Total",
                    "机构",
                    "项目",
                    "g",
                    "all 全部",
                    "100.00",
                    "50.00",
                    "20.00",
                    "80.00",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            }],
        };
        let csv = String::from_utf8(ledger.to_csv()).unwrap();
        assert!(csv.starts_with('\u{feff}'));
        assert!(csv.contains("合计 Total,paid 已拨付,,,,,,,,50.00,"));
        assert!(
            csv.contains("\r\n\r\n支出 Spending,"),
            "the spending side follows an empty line"
        );
        assert!(csv.ends_with("合计 Total,机构,项目,g,all 全部,100.00,50.00,20.00,80.00\r\n"));
        let xlsx = ledger.to_xlsx().unwrap();
        assert_eq!(&xlsx[..2], b"PK", "an xlsx is a zip");
    }
}
