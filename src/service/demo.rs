//! `seed-demo`: organizations and users drawn from the seed articles (Kunshan, Suzhou, Wuxi
//! Binhu, Chengdu Jinjiang). Running it twice changes nothing the second time.

use chrono::NaiveDate;

use crate::config::Settings;
use crate::domain::credit_code::{complete_code, OrganizationType};
use crate::domain::rating::{AssessmentResult, PartyBuildingStatus, Rating};
use crate::domain::user::{Language, Role};
use crate::service::organizations::OrganizationFacts;
use crate::storage::{organizations, users, Database, Scope};

pub const DEMO_PASSWORD: &str = "demo-password-2026";

struct DemoOrg {
    name: &'static str,
    org_type: OrganizationType,
    head: &'static str,
    body: &'static str,
    district: &'static str,
    rating: Option<Rating>,
    party: PartyBuildingStatus,
    members: i32,
    assessment: AssessmentResult,
    registered: (i32, u32, u32),
    contact: &'static str,
}

const ORGS: &[DemoOrg] = &[
    DemoOrg {
        name: "昆山市玉山镇阳光助老服务中心",
        org_type: OrganizationType::PrivateNonEnterprise,
        head: "52320583",
        body: "MJ5A0001",
        district: "昆山市玉山镇",
        rating: Some(Rating::A4),
        party: PartyBuildingStatus::IndependentBranch,
        members: 7,
        assessment: AssessmentResult::Passed,
        registered: (2016, 3, 1),
        contact: "yangguang@example.org",
    },
    DemoOrg {
        name: "苏州市姑苏区妇女儿童关爱协会",
        org_type: OrganizationType::SocialGroup,
        head: "51320508",
        body: "MJ5B0002",
        district: "苏州市姑苏区",
        rating: Some(Rating::A3),
        party: PartyBuildingStatus::JointBranch,
        members: 3,
        assessment: AssessmentResult::Passed,
        registered: (2014, 9, 15),
        contact: "guanai@example.org",
    },
    DemoOrg {
        name: "无锡市滨湖区绿色家园垃圾分类促进会",
        org_type: OrganizationType::SocialGroup,
        head: "51320211",
        body: "MJ5C0003",
        district: "无锡市滨湖区",
        rating: Some(Rating::A2),
        party: PartyBuildingStatus::InstructorOnly,
        members: 0,
        assessment: AssessmentResult::NotAssessed,
        registered: (2019, 6, 20),
        contact: "lvse@example.org",
    },
    DemoOrg {
        name: "成都市锦江区爱有戏社区发展中心",
        org_type: OrganizationType::PrivateNonEnterprise,
        head: "52510104",
        body: "MJ5D0004",
        district: "成都市锦江区",
        rating: Some(Rating::A5),
        party: PartyBuildingStatus::IndependentBranch,
        members: 12,
        assessment: AssessmentResult::Passed,
        registered: (2009, 4, 8),
        contact: "aiyouxi@example.org",
    },
    DemoOrg {
        name: "昆山市周市镇邻里互助睦邻社",
        org_type: OrganizationType::CommunityOrganization,
        head: "",
        body: "",
        district: "昆山市周市镇",
        rating: None,
        party: PartyBuildingStatus::None,
        members: 0,
        assessment: AssessmentResult::NotAssessed,
        registered: (2025, 11, 1),
        contact: "mulin@example.org",
    },
];

pub async fn seed(db: &Database, settings: &Settings) -> anyhow::Result<()> {
    let mut conn = db.conn().await?;
    let existing =
        organizations::list(&mut conn, Scope::All, &Default::default(), None, 1000).await?;
    drop(conn);
    let mut org_ids = Vec::new();
    for o in ORGS {
        if let Some(found) = existing.iter().find(|e| e.name == o.name) {
            org_ids.push(found.id);
            continue;
        }
        let (y, m, d) = o.registered;
        let facts = OrganizationFacts {
            name: o.name.into(),
            credit_code: (!o.head.is_empty()).then(|| complete_code(o.head, o.body)),
            org_type: o.org_type,
            registration_date: NaiveDate::from_ymd_opt(y, m, d),
            district: o.district.into(),
            contact_person: "联系人".into(),
            contact_phone: "0512-00000000".into(),
            contact_email: o.contact.into(),
            rating: o.rating,
            rating_valid_until: o.rating.and(NaiveDate::from_ymd_opt(2028, 12, 31)),
            party_building_status: o.party,
            party_member_count: o.members,
            party_assessment: o.assessment,
            blacklisted_until: None,
            blacklist_reason: None,
        };
        let row = super::organizations::create(db, facts, None)
            .await
            .map_err(|e| anyhow::anyhow!("demo organization {}: {e}", o.name))?;
        org_ids.push(row.id);
    }
    let people: Vec<(&str, &str, Role, Option<uuid::Uuid>)> = vec![
        ("admin@demo.gongyi", "民政局项目办", Role::Admin, None),
        ("finance1@demo.gongyi", "财务 张会计", Role::Finance, None),
        ("finance2@demo.gongyi", "财务 李出纳", Role::Finance, None),
        ("reviewer1@demo.gongyi", "评审专家 王", Role::Reviewer, None),
        ("reviewer2@demo.gongyi", "评审专家 赵", Role::Reviewer, None),
        ("reviewer3@demo.gongyi", "评审专家 陈", Role::Reviewer, None),
        (
            "applicant1@demo.gongyi",
            "阳光助老 申报人",
            Role::Applicant,
            Some(org_ids[0]),
        ),
        (
            "applicant2@demo.gongyi",
            "妇女儿童关爱 申报人",
            Role::Applicant,
            Some(org_ids[1]),
        ),
        (
            "applicant3@demo.gongyi",
            "绿色家园 申报人",
            Role::Applicant,
            Some(org_ids[2]),
        ),
    ];
    for (email, name, role, org) in people {
        let mut conn = db.conn().await?;
        if users::find_by_email(&mut conn, email).await?.is_some() {
            continue;
        }
        drop(conn);
        super::users::create(
            db,
            &settings.auth,
            super::users::NewUserInput {
                email: email.into(),
                name: name.into(),
                role,
                organization_id: org,
                password: DEMO_PASSWORD.into(),
                language: Language::Zh,
            },
            None,
        )
        .await
        .map_err(|e| anyhow::anyhow!("demo user {email}: {e}"))?;
    }
    seed_round(db).await?;
    seed_funded_round(db).await?;
    eprintln!("demo data ready: users *@demo.gongyi (admin, finance1, finance2, reviewer1-3, applicant1-3), password `{DEMO_PASSWORD}`");
    Ok(())
}

const DEMO_ROUND: &str = "昆山市第七届公益创投（演示）";

/// An open venture-philanthropy round with a few submitted applications (seed 002: 昆山).
async fn seed_round(db: &Database) -> anyhow::Result<()> {
    let mut conn = db.conn().await?;
    let existing = crate::storage::rounds::list(&mut conn, true, None, None, 1000).await?;
    drop(conn);
    if existing.iter().any(|r| r.name == DEMO_ROUND) {
        return Ok(());
    }
    let admin = demo_caller(db, "admin@demo.gongyi").await?;
    let now = chrono::Utc::now();
    let spec = venture_spec(
        DEMO_ROUND,
        now - chrono::Duration::days(7),
        now + chrono::Duration::days(60),
    );
    let round = super::rounds::create(db, spec, &admin)
        .await
        .map_err(|e| anyhow::anyhow!("demo round: {e}"))?;
    super::rounds::transition(
        db,
        round.id,
        crate::domain::lifecycle::RoundStatus::Open,
        &admin,
    )
    .await
    .map_err(|e| anyhow::anyhow!("opening the demo round: {e}"))?;

    let projects = [
        (
            "applicant1@demo.gongyi",
            "“银龄助餐”社区老年食堂",
            "elderly",
            "60000",
            "120000",
            "30000",
        ),
        (
            "applicant2@demo.gongyi",
            "“红色童心”留守儿童陪伴计划",
            "children",
            "40000",
            "90000",
            "20000",
        ),
        (
            "applicant3@demo.gongyi",
            "“绿色家园”垃圾分类入户督导",
            "waste_sorting",
            "30000",
            "70000",
            "10000",
        ),
    ];
    for p in projects {
        submit_project(db, round.id, p, None).await?;
    }
    Ok(())
}

/// (applicant email, title, focus area, personnel cost, requested grant, own funds)
type DemoProject = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

/// A draft with a three-line budget, submitted by the organization's applicant; the project
/// runs through 2027 unless `dates` say otherwise.
async fn submit_project(
    db: &Database,
    round_id: uuid::Uuid,
    (email, title, area, personnel, grant, own): DemoProject,
    dates: Option<(NaiveDate, NaiveDate)>,
) -> anyhow::Result<uuid::Uuid> {
    use crate::domain::budget::{BudgetCategory, BudgetLineInput, FundedBy};
    use crate::domain::money::Money;
    use crate::service::applications::{ApplicationContent, TeamMember};
    let money = |s: &str| Money::parse(s).expect("demo amounts are valid");
    let mut conn = db.conn().await?;
    let user = users::find_by_email(&mut conn, email)
        .await?
        .ok_or_else(|| anyhow::anyhow!("{email} not found"))?;
    drop(conn);
    let caller = crate::auth::Caller::from_row(&user)?;
    let content = ApplicationContent {
        title: Some(title.into()),
        focus_area: Some(area.into()),
        summary: Some("演示项目：依据昆山市公益创投申报要求编制".into()),
        beneficiaries: Some("社区居民".into()),
        beneficiary_count: Some(200),
        start_date: Some(dates.map(|d| d.0).or(NaiveDate::from_ymd_opt(2027, 1, 1))),
        end_date: Some(dates.map(|d| d.1).or(NaiveDate::from_ymd_opt(2027, 12, 31))),
        requested_grant: Some(money(grant)),
        co_funding: Some(money(own)),
        team: Some(vec![TeamMember {
            name: "项目负责人".into(),
            role: "负责人".into(),
            party_member: true,
        }]),
        party_activity_count: Some(2),
        party_activity_description: Some("党员志愿服务日".into()),
        red_project: Some(true),
        previous_application_id: None,
    };
    let app = super::applications::create(db, &caller, round_id, content)
        .await
        .map_err(|e| anyhow::anyhow!("demo application: {e}"))?;
    let other = (money(grant).amount() - money(personnel).amount()).to_string();
    let lines = vec![
        BudgetLineInput {
            category: BudgetCategory::Personnel,
            description: "专职社工薪酬".into(),
            quantity: 1.into(),
            unit_cost: money(personnel),
            funded_by: FundedBy::Grant,
        },
        BudgetLineInput {
            category: BudgetCategory::Activities,
            description: "活动开展".into(),
            quantity: 1.into(),
            unit_cost: money(&other),
            funded_by: FundedBy::Grant,
        },
        BudgetLineInput {
            category: BudgetCategory::Materials,
            description: "物资（自筹）".into(),
            quantity: 1.into(),
            unit_cost: money(own),
            funded_by: FundedBy::SelfFunded,
        },
    ];
    super::applications::replace_budget(db, &caller, app.id, lines)
        .await
        .map_err(|e| anyhow::anyhow!("demo budget: {e}"))?;
    super::applications::submit(db, &caller, app.id)
        .await
        .map_err(|e| anyhow::anyhow!("demo submission `{title}`: {e:?}"))?;
    Ok(app.id)
}

/// A venture-philanthropy round of the demo with the default rules, rubric and tranches.
fn venture_spec(
    name: &str,
    opens_at: chrono::DateTime<chrono::Utc>,
    closes_at: chrono::DateTime<chrono::Utc>,
) -> crate::service::rounds::RoundSpec {
    use crate::domain::money::Money;
    use crate::domain::round::{default_tranches, PartyPointsTable, RoundKind, RoundRules, Rubric};
    let money = |s: &str| Money::parse(s).expect("demo amounts are valid");
    crate::service::rounds::RoundSpec {
        name: name.into(),
        year: 2026,
        kind: RoundKind::VenturePhilanthropy,
        total_pool: money("3000000"),
        grant_min: money("20000"),
        grant_max: money("300000"),
        opens_at,
        closes_at,
        project_start: None,
        project_end: None,
        focus_areas: [
            "elderly",
            "women",
            "children",
            "disabled",
            "community_governance",
            "rural_revitalization",
            "waste_sorting",
        ]
        .map(String::from)
        .to_vec(),
        rules: RoundRules::defaults_for(RoundKind::VenturePhilanthropy),
        rubric: Rubric::default(),
        party_points: PartyPointsTable::default(),
        tranche_schedule: default_tranches(),
    }
}

const FUNDED_ROUND: &str = "苏州市第六届公益创投（演示·已立项）";

async fn demo_caller(db: &Database, email: &str) -> anyhow::Result<crate::auth::Caller> {
    let mut conn = db.conn().await?;
    let user = users::find_by_email(&mut conn, email)
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo user {email} not found"))?;
    crate::auth::Caller::from_row(&user)
}

/// A decided round whose grants have their agreements signed, so the first tranche of each is
/// due and the finance users have payouts to request and approve. It walks the real use cases:
/// submission, screening, the panel and its scores, the award decision (a notice period of
/// zero days, so it can be finalized at once) and the milestone.
async fn seed_funded_round(db: &Database) -> anyhow::Result<()> {
    use crate::domain::lifecycle::{ApplicationStatus, RoundStatus};
    use crate::domain::review::judged_max;
    use crate::domain::round::Milestone;
    use crate::service::grants::MilestoneInput;
    use crate::service::review::{self, AssignMode};

    let mut conn = db.conn().await?;
    let existing = crate::storage::rounds::list(&mut conn, true, None, None, 1000).await?;
    drop(conn);
    if existing.iter().any(|r| r.name == FUNDED_ROUND) {
        return Ok(());
    }
    let admin = demo_caller(db, "admin@demo.gongyi").await?;
    let fail = |what: &'static str| move |e: super::Error| anyhow::anyhow!("{what}: {e:?}");
    let now = chrono::Utc::now();
    let mut spec = venture_spec(
        FUNDED_ROUND,
        now - chrono::Duration::days(60),
        now + chrono::Duration::days(1),
    );
    spec.rules.public_notice_days = 0;
    let (rubric, points) = (spec.rubric.clone(), spec.party_points.clone());
    let round = super::rounds::create(db, spec, &admin)
        .await
        .map_err(fail("funded demo round"))?;
    super::rounds::transition(db, round.id, RoundStatus::Open, &admin)
        .await
        .map_err(fail("opening the funded demo round"))?;
    let projects: [DemoProject; 2] = [
        (
            "applicant1@demo.gongyi",
            "“邻里守望”高龄独居老人关爱服务",
            "elderly",
            "50000",
            "100000",
            "20000",
        ),
        (
            "applicant2@demo.gongyi",
            "“巾帼微家”妇女就业技能培训",
            "women",
            "30000",
            "80000",
            "20000",
        ),
    ];
    let mut apps = Vec::new();
    for p in projects {
        // Projects that started two months ago, so their grantees have spending to record.
        let start = crate::domain::spending::today_in_china(now) - chrono::Duration::days(60);
        let dates = (start, start + chrono::Duration::days(364));
        apps.push(submit_project(db, round.id, p, Some(dates)).await?);
    }
    super::rounds::transition(db, round.id, RoundStatus::Closed, &admin)
        .await
        .map_err(fail("closing the funded demo round"))?;
    for id in &apps {
        super::applications::transition(db, &admin, *id, ApplicationStatus::UnderReview, None)
            .await
            .map_err(fail("screening a demo application"))?;
    }
    let mut reviewers = Vec::new();
    for email in [
        "reviewer1@demo.gongyi",
        "reviewer2@demo.gongyi",
        "reviewer3@demo.gongyi",
    ] {
        let r = demo_caller(db, email).await?;
        review::add_reviewer(db, &admin, round.id, r.user_id, vec![])
            .await
            .map_err(fail("demo panel"))?;
        reviewers.push(r);
    }
    let assigned = review::assign(
        db,
        &admin,
        round.id,
        AssignMode::Auto {
            per_application: Some(3),
        },
    )
    .await
    .map_err(fail("demo assignments"))?;
    // Each reviewer gives 80% of each criterion's judged maximum, in steps of 0.5.
    let scores: std::collections::BTreeMap<String, rust_decimal::Decimal> = rubric
        .criteria
        .iter()
        .map(|c| {
            let max = judged_max(&rubric, &points, &c.key).unwrap_or(c.max);
            let score =
                (max * rust_decimal::Decimal::new(16, 1)).round() / rust_decimal::Decimal::TWO;
            (c.key.clone(), score)
        })
        .collect();
    for a in &assigned.created {
        let reviewer = reviewers
            .iter()
            .find(|r| r.user_id == a.reviewer_id)
            .ok_or_else(|| anyhow::anyhow!("an assignment outside the demo panel"))?;
        review::save_scores(db, reviewer, a.id, scores.clone(), Some("演示评分".into()))
            .await
            .map_err(fail("demo scores"))?;
        review::submit_scores(db, reviewer, a.id)
            .await
            .map_err(fail("submitting demo scores"))?;
    }
    review::publish(db, &admin, round.id, vec![])
        .await
        .map_err(fail("publishing the demo awards"))?;
    review::finalize(db, &admin, round.id)
        .await
        .map_err(fail("finalizing the demo awards"))?;
    let mut conn = db.conn().await?;
    let grants = crate::storage::grants::of_round(&mut conn, round.id).await?;
    drop(conn);
    for g in grants {
        super::grants::record_milestone(
            db,
            &admin,
            g.id,
            MilestoneInput {
                milestone: Milestone::AgreementSigned,
                score: None,
                note: Some("协议已签订（演示）".into()),
                clawback_amount: None,
                blacklist_years: None,
            },
        )
        .await
        .map_err(fail("signing a demo agreement"))?;
    }
    seed_spending(db, round.id).await
}

/// A month of spending of the first demo grantee (昆山 阳光助老, applicant1): four
/// expenditures of last month, a receipt (a small PDF made here) on the first, and the
/// mid-term financial report with one party-themed activity held.
async fn seed_spending(db: &Database, round_id: uuid::Uuid) -> anyhow::Result<()> {
    use crate::domain::budget::BudgetCategory;
    use crate::domain::money::Money;
    use crate::domain::spending::{HeldActivity, PartyActual, ReportPeriod};
    use crate::service::attachments::{AttachmentKind, CheckedFile, Owner, OwnerType, Upload};
    use crate::service::spending::{ExpenditureInput, ReportInput};

    let grantee = demo_caller(db, "applicant1@demo.gongyi").await?;
    let fail = |what: &'static str| move |e: super::Error| anyhow::anyhow!("{what}: {e:?}");
    let mut conn = db.conn().await?;
    let grant = crate::storage::grants::of_round(&mut conn, round_id)
        .await?
        .into_iter()
        .find(|g| Some(g.organization_id) == grantee.organization_id)
        .ok_or_else(|| anyhow::anyhow!("the first demo grantee has no grant"))?;
    drop(conn);
    let execution = super::spending::budget_execution(db, &grantee, grant.id)
        .await
        .map_err(fail("the demo budget"))?;
    let line = |c: BudgetCategory| {
        execution
            .execution
            .lines
            .iter()
            .find(|l| l.category == c)
            .map(|l| l.budget_line)
    };
    let today = crate::domain::spending::today_in_china(chrono::Utc::now());
    let day = |n: i64| today - chrono::Duration::days(n);
    let items = [
        (
            BudgetCategory::Personnel,
            "专职社工上月薪酬",
            "3200.00",
            day(20),
            "项目社工 王某某",
        ),
        (
            BudgetCategory::Activities,
            "重阳节敬老活动物资（米、油、慰问品）",
            "1860.50",
            day(28),
            "昆山市玉山镇某超市",
        ),
        (
            BudgetCategory::Activities,
            "高龄独居老人入户探访交通补贴",
            "640.00",
            day(15),
            "志愿者交通补贴（12人次）",
        ),
        (
            BudgetCategory::Activities,
            "党员志愿服务日活动场地布置",
            "980.00",
            day(9),
            "昆山市某广告制作部",
        ),
    ];
    let mut first = None;
    for (category, description, amount, spent_on, payee) in items {
        let e = super::spending::create_expenditure(
            db,
            &grantee,
            grant.id,
            ExpenditureInput {
                category,
                description: description.into(),
                amount: Money::parse(amount).expect("demo amounts are valid"),
                spent_on,
                payee: payee.into(),
                budget_line: line(category),
            },
        )
        .await
        .map_err(fail("a demo expenditure"))?;
        first.get_or_insert(e.id);
    }
    if let Some(id) = first {
        let file = CheckedFile::check(Upload {
            filename: "重阳节物资发票.pdf".into(),
            kind: AttachmentKind::Receipt,
            bytes: demo_receipt_pdf(),
        })
        .map_err(|_| anyhow::anyhow!("the demo receipt is not a PDF"))?;
        let owner = Owner {
            kind: OwnerType::Expenditure,
            id,
        };
        super::attachments::upload(db, &grantee, owner, file)
            .await
            .map_err(fail("the demo receipt"))?;
    }
    super::spending::submit_report(
        db,
        &grantee,
        grant.id,
        ReportInput {
            period: ReportPeriod::MidTerm,
            note: Some("中期财务报告（演示）：按计划开展入户探访和重阳节活动".into()),
            party: PartyActual {
                activities_held: vec![HeldActivity {
                    held_on: day(9),
                    title: "党员志愿服务日：为高龄老人送温暖".into(),
                    participants: 18,
                }],
                party_members_on_team: 1,
                red_project_delivered: true,
            },
        },
    )
    .await
    .map_err(fail("the demo mid-term report"))?;
    Ok(())
}

/// A one-page PDF (a receipt's stand-in) with a valid cross-reference table.
pub fn demo_receipt_pdf() -> Vec<u8> {
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 420 297] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        "<< /Length 57 >>\nstream\nBT /F1 18 Tf 40 240 Td (Receipt 1860.50 CNY - demo) Tj ET\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}
