//! Email templates: pure functions from a typed event to a subject, a plain-text body and an HTML
//! body, in Chinese (default) or English. No I/O; the outbox stores what they render, so a later
//! template change never alters mail already queued.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use uuid::Uuid;

use crate::domain::money::Money;
use crate::domain::user::Language;

crate::string_enum! {
    /// Which evaluation a result is for (中期评估 / 末期评估).
    pub enum EvaluationStage {
        MidTerm = "mid_term",
        Final = "final",
    }
}

/// Something a person must be told about, with what the message needs to say it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// To the organization's contact and applicant users when an application is submitted.
    ApplicationReceived {
        application_id: Uuid,
        title: String,
        organization_name: String,
        round_name: String,
        requested_grant: Money,
        submitted_at: DateTime<Utc>,
    },
    /// To the organization when screening finds the application eligible or not.
    ScreeningResult {
        application_id: Uuid,
        title: String,
        organization_name: String,
        eligible: bool,
        reason: Option<String>,
    },
    /// To a reviewer given applications to score.
    ReviewerAssigned {
        round_id: Uuid,
        round_name: String,
        application_count: u32,
        due_on: Option<NaiveDate>,
    },
    /// To the organization: funded (with the amount) or not.
    AwardDecision {
        application_id: Uuid,
        title: String,
        organization_name: String,
        round_name: String,
        approved: bool,
        amount: Option<Money>,
        reason: Option<String>,
    },
    /// To the organizations of a round when its award list is published for public notice (公示).
    PublicNoticePublished {
        round_id: Uuid,
        round_name: String,
        funded_count: u32,
        total_amount: Money,
        notice_until: Option<NaiveDate>,
    },
    /// To the other finance users: a payout someone prepared waits for their approval.
    PayoutAwaitingApproval {
        payout_id: Uuid,
        grant_id: Uuid,
        project_title: String,
        organization_name: String,
        /// 1-based tranche number.
        tranche_no: u32,
        amount: Money,
        requested_by: String,
    },
    /// To the organization when a payout has been paid.
    PayoutPaid {
        payout_id: Uuid,
        grant_id: Uuid,
        project_title: String,
        organization_name: String,
        tranche_no: u32,
        amount: Money,
        paid_on: NaiveDate,
    },
    /// To the organization: mid-term or final evaluation passed or failed.
    EvaluationResult {
        grant_id: Uuid,
        project_title: String,
        organization_name: String,
        stage: EvaluationStage,
        passed: bool,
        comment: Option<String>,
    },
    /// To the organization when its project is terminated.
    Termination {
        application_id: Uuid,
        project_title: String,
        organization_name: String,
        reason: String,
        effective_on: NaiveDate,
    },
}

impl Event {
    /// Stable name stored with each outbox row.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::ApplicationReceived { .. } => "application_received",
            Event::ScreeningResult { .. } => "screening_result",
            Event::ReviewerAssigned { .. } => "reviewer_assigned",
            Event::AwardDecision { .. } => "award_decision",
            Event::PublicNoticePublished { .. } => "public_notice_published",
            Event::PayoutAwaitingApproval { .. } => "payout_awaiting_approval",
            Event::PayoutPaid { .. } => "payout_paid",
            Event::EvaluationResult { .. } => "evaluation_result",
            Event::Termination { .. } => "termination",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// `¥1,234,567.89`: thousands grouped, always two fraction digits.
pub fn format_yuan(m: Money) -> String {
    let s = m.to_string();
    let (int, frac) = s.split_once('.').unwrap_or((&s, "00"));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("¥{grouped}.{frac}")
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Times are shown in China Standard Time (UTC+8), where the program runs.
fn beijing(t: DateTime<Utc>, lang: Language) -> String {
    let cst = FixedOffset::east_opt(8 * 3600).expect("valid offset");
    let local = t.with_timezone(&cst).format("%Y-%m-%d %H:%M");
    match lang {
        Language::Zh => format!("{local}（北京时间）"),
        Language::En => format!("{local} (UTC+8)"),
    }
}

fn tranche(n: u32, lang: Language) -> String {
    match lang {
        Language::Zh => format!("第{n}期"),
        Language::En => format!("tranche {n}"),
    }
}

/// The parts every message has: subject, paragraphs and one link.
struct Draft {
    subject: String,
    paragraphs: Vec<String>,
    link: (String, String),
}

fn draft(event: &Event, lang: Language, base: &str) -> Draft {
    use Language::{En, Zh};
    let base = base.trim_end_matches('/');
    // Links open the web pages (a person has no bearer token for the JSON address).
    let url = |path: String| format!("{base}/{path}");
    match event {
        Event::ApplicationReceived {
            application_id,
            title,
            organization_name,
            round_name,
            requested_grant,
            submitted_at,
        } => {
            let amount = format_yuan(*requested_grant);
            let at = beijing(*submitted_at, lang);
            let link = url(format!("applications/{application_id}"));
            match lang {
                Zh => Draft {
                    subject: format!("申报已受理：{title}"),
                    paragraphs: vec![
                        format!("{organization_name}申报的项目《{title}》已于 {at} 提交至「{round_name}」，申请资助金额 {amount}。"),
                        "接下来将进行资格审查，结果将另行通知。".into(),
                    ],
                    link: ("查看申报".into(), link),
                },
                En => Draft {
                    subject: format!("Application received: {title}"),
                    paragraphs: vec![
                        format!("The application \"{title}\" from {organization_name} was submitted to {round_name} at {at}, requesting {amount}."),
                        "It will now be screened for eligibility; you will be told the result.".into(),
                    ],
                    link: ("View the application".into(), link),
                },
            }
        }
        Event::ScreeningResult {
            application_id,
            title,
            organization_name,
            eligible,
            reason,
        } => {
            let link = url(format!("applications/{application_id}"));
            let reason = reason.as_deref().filter(|r| !r.trim().is_empty());
            match (lang, eligible) {
                (Zh, true) => Draft {
                    subject: format!("资格审查通过：{title}"),
                    paragraphs: vec![format!(
                        "{organization_name}申报的项目《{title}》已通过资格审查，进入专家评审阶段。"
                    )],
                    link: ("查看申报".into(), link),
                },
                (Zh, false) => Draft {
                    subject: format!("资格审查未通过：{title}"),
                    paragraphs: vec![
                        format!("很遗憾，{organization_name}申报的项目《{title}》未通过资格审查。"),
                        format!("原因：{}", reason.unwrap_or("未注明")),
                    ],
                    link: ("查看申报".into(), link),
                },
                (En, true) => Draft {
                    subject: format!("Eligible: {title}"),
                    paragraphs: vec![format!(
                        "The application \"{title}\" from {organization_name} passed eligibility screening and goes on to expert review."
                    )],
                    link: ("View the application".into(), link),
                },
                (En, false) => Draft {
                    subject: format!("Not eligible: {title}"),
                    paragraphs: vec![
                        format!("We are sorry: the application \"{title}\" from {organization_name} did not pass eligibility screening."),
                        format!("Reason: {}", reason.unwrap_or("not given")),
                    ],
                    link: ("View the application".into(), link),
                },
            }
        }
        Event::ReviewerAssigned {
            round_id: _,
            round_name,
            application_count,
            due_on,
        } => {
            let link = url("assignments".into());
            match lang {
                Zh => {
                    let due = due_on.map_or(String::new(), |d| format!("，请于 {d} 前提交评分"));
                    Draft {
                        subject: format!("评审任务：{round_name}"),
                        paragraphs: vec![
                            format!("您已被分配「{round_name}」的 {application_count} 个申报项目进行评审{due}。"),
                            "如与任何申报机构存在利益关系，请在评分前申报回避。".into(),
                        ],
                        link: ("查看我的评审任务".into(), link),
                    }
                }
                En => {
                    let due = due_on.map_or(String::new(), |d| {
                        format!("; please submit your scores by {d}")
                    });
                    Draft {
                        subject: format!("Review assignments: {round_name}"),
                        paragraphs: vec![
                            format!("You have been assigned {application_count} application(s) of {round_name} to review{due}."),
                            "If you have a conflict of interest with any applicant, declare it before scoring.".into(),
                        ],
                        link: ("View my assignments".into(), link),
                    }
                }
            }
        }
        Event::AwardDecision {
            application_id,
            title,
            organization_name,
            round_name,
            approved,
            amount,
            reason,
        } => {
            let link = url(format!("applications/{application_id}"));
            let amount = amount.map(format_yuan);
            let reason = reason.as_deref().filter(|r| !r.trim().is_empty());
            match (lang, approved) {
                (Zh, true) => Draft {
                    subject: format!("立项通知：{title}"),
                    paragraphs: vec![
                        format!("恭喜！{organization_name}的项目《{title}》在「{round_name}」中获准立项，资助金额 {}。", amount.unwrap_or_else(|| "待定".into())),
                        "后续将签订资助协议，资金按节点分期拨付。".into(),
                    ],
                    link: ("查看项目".into(), link),
                },
                (Zh, false) => Draft {
                    subject: format!("评审结果：{title}"),
                    paragraphs: vec![
                        format!("很遗憾，{organization_name}的项目《{title}》未在「{round_name}」中获准立项。"),
                        reason.map_or("感谢您的参与。".into(), |r| format!("说明：{r}")),
                    ],
                    link: ("查看项目".into(), link),
                },
                (En, true) => Draft {
                    subject: format!("Funded: {title}"),
                    paragraphs: vec![
                        format!("Congratulations: the project \"{title}\" of {organization_name} is funded in {round_name} with {}.", amount.unwrap_or_else(|| "an amount to be confirmed".into())),
                        "A grant agreement follows; the money is paid in tranches, each behind a milestone.".into(),
                    ],
                    link: ("View the project".into(), link),
                },
                (En, false) => Draft {
                    subject: format!("Review result: {title}"),
                    paragraphs: vec![
                        format!("We are sorry: the project \"{title}\" of {organization_name} was not funded in {round_name}."),
                        reason.map_or("Thank you for taking part.".into(), |r| format!("Note: {r}")),
                    ],
                    link: ("View the project".into(), link),
                },
            }
        }
        Event::PublicNoticePublished {
            round_id,
            round_name,
            funded_count,
            total_amount,
            notice_until,
        } => {
            let link = url(format!("notices/{round_id}"));
            let total = format_yuan(*total_amount);
            match lang {
                Zh => Draft {
                    subject: format!("立项公示：{round_name}"),
                    paragraphs: vec![
                        format!("「{round_name}」拟立项名单已公示：共 {funded_count} 个项目，资助总额 {total}。"),
                        notice_until.map_or("如有异议，请在公示期内提出。".into(), |d| format!("公示期至 {d}，如有异议请在此之前提出。")),
                    ],
                    link: ("查看活动".into(), link),
                },
                En => Draft {
                    subject: format!("Award list published: {round_name}"),
                    paragraphs: vec![
                        format!("The proposed award list of {round_name} is published for public notice: {funded_count} project(s), {total} in total."),
                        notice_until.map_or("Objections may be raised during the notice period.".into(), |d| format!("The notice period ends on {d}; raise any objection before then.")),
                    ],
                    link: ("View the round".into(), link),
                },
            }
        }
        Event::PayoutAwaitingApproval {
            payout_id,
            grant_id: _,
            project_title,
            organization_name,
            tranche_no,
            amount,
            requested_by,
        } => {
            let link = url(format!("payouts/{payout_id}"));
            let amount = format_yuan(*amount);
            let t = tranche(*tranche_no, lang);
            match lang {
                Zh => Draft {
                    subject: format!("拨付待审批：{project_title} {amount}"),
                    paragraphs: vec![
                        format!("{requested_by} 提交了一笔拨付申请，等待审批：{organization_name}的项目《{project_title}》{t}，金额 {amount}。"),
                        "审批人须与申请人不同。".into(),
                    ],
                    link: ("审批拨付".into(), link),
                },
                En => Draft {
                    subject: format!("Payout awaiting approval: {project_title} {amount}"),
                    paragraphs: vec![
                        format!("{requested_by} requested a payout that awaits approval: {t} of \"{project_title}\" ({organization_name}), {amount}."),
                        "The approver must be someone other than the requester.".into(),
                    ],
                    link: ("Review the payout".into(), link),
                },
            }
        }
        Event::PayoutPaid {
            payout_id: _,
            grant_id,
            project_title,
            organization_name,
            tranche_no,
            amount,
            paid_on,
        } => {
            let link = url(format!("grants/{grant_id}"));
            let amount = format_yuan(*amount);
            let t = tranche(*tranche_no, lang);
            match lang {
                Zh => Draft {
                    subject: format!("资金已拨付：{project_title} {amount}"),
                    paragraphs: vec![format!(
                        "{organization_name}的项目《{project_title}》{t}资金 {amount} 已于 {paid_on} 拨付，请注意查收，并按资助协议使用。"
                    )],
                    link: ("查看资助".into(), link),
                },
                En => Draft {
                    subject: format!("Payout paid: {project_title} {amount}"),
                    paragraphs: vec![format!(
                        "{t} of \"{project_title}\" ({organization_name}), {amount}, was paid on {paid_on}. Please use it as the grant agreement says."
                    )],
                    link: ("View the grant".into(), link),
                },
            }
        }
        Event::EvaluationResult {
            grant_id,
            project_title,
            organization_name,
            stage,
            passed,
            comment,
        } => {
            let link = url(format!("grants/{grant_id}"));
            let comment = comment.as_deref().filter(|c| !c.trim().is_empty());
            match lang {
                Zh => {
                    let s = match stage {
                        EvaluationStage::MidTerm => "中期评估",
                        EvaluationStage::Final => "末期评估",
                    };
                    let verdict = if *passed { "已通过" } else { "未通过" };
                    let mut paragraphs = vec![format!(
                        "{organization_name}的项目《{project_title}》{verdict}{s}。"
                    )];
                    if let Some(c) = comment {
                        paragraphs.push(format!("评估意见：{c}"));
                    }
                    Draft {
                        subject: format!("{s}结果：{project_title}"),
                        paragraphs,
                        link: ("查看资助".into(), link),
                    }
                }
                En => {
                    let s = match stage {
                        EvaluationStage::MidTerm => "mid-term evaluation",
                        EvaluationStage::Final => "final evaluation",
                    };
                    let verdict = if *passed { "passed" } else { "did not pass" };
                    let mut paragraphs = vec![format!(
                        "The project \"{project_title}\" of {organization_name} {verdict} its {s}."
                    )];
                    if let Some(c) = comment {
                        paragraphs.push(format!("Comments: {c}"));
                    }
                    let cap = match stage {
                        EvaluationStage::MidTerm => "Mid-term evaluation",
                        EvaluationStage::Final => "Final evaluation",
                    };
                    Draft {
                        subject: format!("{cap} result: {project_title}"),
                        paragraphs,
                        link: ("View the grant".into(), link),
                    }
                }
            }
        }
        Event::Termination {
            application_id,
            project_title,
            organization_name,
            reason,
            effective_on,
        } => {
            let link = url(format!("applications/{application_id}"));
            match lang {
                Zh => Draft {
                    subject: format!("项目终止通知：{project_title}"),
                    paragraphs: vec![
                        format!("{organization_name}的项目《{project_title}》自 {effective_on} 起终止。"),
                        format!("原因：{reason}"),
                        "尚未拨付的资金不再拨付。如有疑问，请联系项目办公室。".into(),
                    ],
                    link: ("查看项目".into(), link),
                },
                En => Draft {
                    subject: format!("Project terminated: {project_title}"),
                    paragraphs: vec![
                        format!("The project \"{project_title}\" of {organization_name} is terminated as of {effective_on}."),
                        format!("Reason: {reason}"),
                        "Tranches not yet paid will not be paid. Please contact the program office with any question.".into(),
                    ],
                    link: ("View the project".into(), link),
                },
            }
        }
    }
}

/// Renders the message for one recipient.
pub fn render(event: &Event, recipient_name: &str, lang: Language, base_url: &str) -> Rendered {
    let d = draft(event, lang, base_url);
    let name = recipient_name.trim();
    let (greeting, footer) = match lang {
        Language::Zh => (
            if name.is_empty() {
                "您好：".to_string()
            } else {
                format!("{name}，您好：")
            },
            "此邮件由公益创投管理系统自动发送，请勿直接回复。",
        ),
        Language::En => (
            if name.is_empty() {
                "Hello,".to_string()
            } else {
                format!("Dear {name},")
            },
            "This message was sent automatically by the gongyi grant-management service; please do not reply to it.",
        ),
    };
    let (label, link) = &d.link;
    let mut text = format!("{greeting}\n\n");
    for p in &d.paragraphs {
        text.push_str(p);
        text.push_str("\n\n");
    }
    let colon = match lang {
        Language::Zh => "：",
        Language::En => ": ",
    };
    text.push_str(&format!("{label}{colon}{link}\n\n-- \n{footer}\n"));
    let lang_attr = match lang {
        Language::Zh => "zh-CN",
        Language::En => "en",
    };
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"{lang_attr}\">\n<head><meta charset=\"utf-8\"><title>{}</title></head>\n<body>\n<p>{}</p>\n",
        escape_html(&d.subject),
        escape_html(&greeting)
    );
    for p in &d.paragraphs {
        html.push_str(&format!("<p>{}</p>\n", escape_html(p)));
    }
    html.push_str(&format!(
        "<p><a href=\"{}\">{}</a></p>\n<hr>\n<p><small>{}</small></p>\n</body>\n</html>\n",
        escape_html(link),
        escape_html(label),
        escape_html(footer)
    ));
    Rendered {
        subject: d.subject.replace(['\r', '\n'], " "),
        text,
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    const BASE: &str = "https://gongyi.example.org/";

    fn money(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn all_events() -> Vec<Event> {
        let d = NaiveDate::from_ymd_opt(2027, 3, 31).unwrap();
        vec![
            Event::ApplicationReceived {
                application_id: id(1),
                title: "银龄助餐".into(),
                organization_name: "玉山镇社工站".into(),
                round_name: "第五届公益创投".into(),
                requested_grant: money("80000.00"),
                submitted_at: DateTime::from_timestamp(1_764_000_000, 0).unwrap(),
            },
            Event::ScreeningResult {
                application_id: id(1),
                title: "银龄助餐".into(),
                organization_name: "玉山镇社工站".into(),
                eligible: false,
                reason: Some("评估等级已过期".into()),
            },
            Event::ReviewerAssigned {
                round_id: id(2),
                round_name: "第五届公益创投".into(),
                application_count: 7,
                due_on: Some(d),
            },
            Event::AwardDecision {
                application_id: id(1),
                title: "银龄助餐".into(),
                organization_name: "玉山镇社工站".into(),
                round_name: "第五届公益创投".into(),
                approved: true,
                amount: Some(money("150000.00")),
                reason: None,
            },
            Event::PublicNoticePublished {
                round_id: id(2),
                round_name: "第五届公益创投".into(),
                funded_count: 12,
                total_amount: money("1234567.80"),
                notice_until: Some(d),
            },
            Event::PayoutAwaitingApproval {
                payout_id: id(3),
                grant_id: id(4),
                project_title: "银龄助餐".into(),
                organization_name: "玉山镇社工站".into(),
                tranche_no: 2,
                amount: money("45000.00"),
                requested_by: "李会计".into(),
            },
            Event::PayoutPaid {
                payout_id: id(3),
                grant_id: id(4),
                project_title: "银龄助餐".into(),
                organization_name: "玉山镇社工站".into(),
                tranche_no: 1,
                amount: money("75000.00"),
                paid_on: d,
            },
            Event::EvaluationResult {
                grant_id: id(4),
                project_title: "银龄助餐".into(),
                organization_name: "玉山镇社工站".into(),
                stage: EvaluationStage::MidTerm,
                passed: true,
                comment: Some("执行规范".into()),
            },
            Event::Termination {
                application_id: id(1),
                project_title: "银龄助餐".into(),
                organization_name: "玉山镇社工站".into(),
                reason: "连续两次评估不合格".into(),
                effective_on: d,
            },
        ]
    }

    #[test]
    fn yuan_is_grouped_with_two_decimals() {
        assert_eq!(format_yuan(money("0")), "¥0.00");
        assert_eq!(format_yuan(money("999.5")), "¥999.50");
        assert_eq!(format_yuan(money("1000")), "¥1,000.00");
        assert_eq!(format_yuan(money("1234567.89")), "¥1,234,567.89");
        assert_eq!(
            format_yuan(Money::new(dec!(150000)).unwrap()),
            "¥150,000.00"
        );
    }

    #[test]
    fn every_event_renders_in_both_languages_with_its_link() {
        let kinds: std::collections::BTreeSet<_> = all_events().iter().map(Event::kind).collect();
        assert_eq!(kinds.len(), 9, "one distinct kind per event");
        for e in all_events() {
            let zh = render(&e, "王芳", Language::Zh, BASE);
            let en = render(&e, "Wang Fang", Language::En, BASE);
            assert_ne!(zh.subject, en.subject, "{}", e.kind());
            assert!(zh.text.starts_with("王芳，您好："), "{}", zh.text);
            assert!(en.text.starts_with("Dear Wang Fang,"), "{}", en.text);
            for r in [&zh, &en] {
                assert!(
                    r.text.contains("https://gongyi.example.org/") && !r.text.contains("/api/v1/"),
                    "{}",
                    r.text
                );
                assert!(!r.text.contains("org//api"), "base url slash is trimmed");
                assert!(r.html.contains("<a href=\"https://gongyi.example.org/"));
                assert!(!r.subject.is_empty() && !r.subject.contains('\n'));
            }
        }
    }

    #[test]
    fn the_reader_gets_names_amounts_and_ids() {
        let e = &all_events();
        let r = render(&e[0], "王芳", Language::Zh, BASE);
        assert_eq!(r.subject, "申报已受理：银龄助餐");
        assert!(r.text.contains("玉山镇社工站申报的项目《银龄助餐》"));
        assert!(r.text.contains("¥80,000.00"));
        // 1_764_000_000 = 2025-11-24T16:00:00Z = 2025-11-25 00:00 Beijing time.
        assert!(
            r.text.contains("2025-11-25 00:00（北京时间）"),
            "{}",
            r.text
        );
        assert!(r.text.contains(&format!("applications/{}", id(1))));
        let r = render(&e[1], "", Language::En, BASE);
        assert_eq!(r.subject, "Not eligible: 银龄助餐");
        assert!(r.text.starts_with("Hello,"));
        assert!(r.text.contains("Reason: 评估等级已过期"));
        let r = render(&e[3], "x", Language::Zh, BASE);
        assert!(r.text.contains("资助金额 ¥150,000.00"));
        let r = render(&e[4], "x", Language::En, BASE);
        assert!(r.text.contains("12 project(s), ¥1,234,567.80 in total"));
        assert!(r.text.contains("2027-03-31"));
        let r = render(&e[5], "x", Language::Zh, BASE);
        assert!(
            r.text.contains("李会计") && r.text.contains("第2期") && r.text.contains("¥45,000.00")
        );
        assert!(r.text.contains(&format!("payouts/{}", id(3))));
        let r = render(&e[6], "x", Language::En, BASE);
        assert!(r.text.contains("tranche 1") && r.text.contains(&format!("grants/{}", id(4))));
        let r = render(&e[7], "x", Language::Zh, BASE);
        assert_eq!(r.subject, "中期评估结果：银龄助餐");
        assert!(r.text.contains("已通过中期评估") && r.text.contains("执行规范"));
        let r = render(&e[8], "x", Language::En, BASE);
        assert!(r.text.contains("Reason: 连续两次评估不合格"));
    }

    #[test]
    fn html_escapes_what_people_typed() {
        let e = Event::ScreeningResult {
            application_id: id(1),
            title: "<script>alert(1)</script> & \"co\"".into(),
            organization_name: "O'Brien <b>".into(),
            eligible: true,
            reason: None,
        };
        let r = render(&e, "<i>x</i>", Language::En, BASE);
        assert!(!r.html.contains("<script>"));
        assert!(!r.html.contains("<b>") && !r.html.contains("<i>"));
        assert!(r
            .html
            .contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;co&quot;"));
        assert!(r.html.contains("O&#39;Brien &lt;b&gt;"));
        // The plain text keeps it verbatim.
        assert!(r.text.contains("<script>alert(1)</script>"));
    }

    #[test]
    fn a_subject_never_carries_a_line_break() {
        let e = Event::ScreeningResult {
            application_id: id(1),
            title: "a\r\nBcc: evil@example.org".into(),
            organization_name: "o".into(),
            eligible: true,
            reason: None,
        };
        let r = render(&e, "x", Language::Zh, BASE);
        assert!(!r.subject.contains('\n') && !r.subject.contains('\r'));
    }

    proptest! {
        #[test]
        fn grouping_keeps_the_amount(cents in 0i64..1_000_000_000_000) {
            let m = Money::new(rust_decimal::Decimal::new(cents, 2)).unwrap();
            let f = format_yuan(m);
            prop_assert!(f.starts_with('¥'));
            prop_assert_eq!(f.trim_start_matches('¥').replace(',', ""), m.to_string());
            let int = f.trim_start_matches('¥').split('.').next().unwrap().to_string();
            for group in int.split(',').skip(1) {
                prop_assert_eq!(group.len(), 3);
            }
        }

        #[test]
        fn escaped_html_has_no_markup(s in ".{0,40}") {
            let e = escape_html(&s);
            prop_assert!(!e.contains('<') && !e.contains('>') && !e.contains('"') && !e.contains('\''));
        }

        #[test]
        fn any_title_appears_in_the_text(title in "[^\r\n]{1,60}", en in any::<bool>()) {
            let lang = if en { Language::En } else { Language::Zh };
            let e = Event::ApplicationReceived {
                application_id: id(9),
                title: title.clone(),
                organization_name: "o".into(),
                round_name: "r".into(),
                requested_grant: money("1.00"),
                submitted_at: DateTime::from_timestamp(0, 0).unwrap(),
            };
            let r = render(&e, "n", lang, BASE);
            prop_assert!(r.text.contains(&title));
            prop_assert!(r.subject.contains(&title));
            prop_assert!(r.html.contains(&escape_html(&title)));
        }
    }
}
