//! End-to-end tests in a real headless Chromium (Debian's `chromium` and `chromedriver`),
//! driven over WebDriver with thirtyfour. Each test starts its own chromedriver on a free
//! port; at most two browsers run at once (the machines have two cores). Without the browser
//! the tests fail, unless `GONGYI_SKIP_BROWSER=1` says to skip them, which they then print.
//! Screenshots of the main pages go to `target/screenshots/`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gongyi::domain::user::Role;
use serde_json::json;
use thirtyfour::prelude::*;
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::applications::ready_draft;
use crate::helpers::{spawn_app, TestApp, PASSWORD};
use crate::rounds::{open_round, round_body};

static BROWSERS: Semaphore = Semaphore::const_new(2);

pub struct Browser {
    pub driver: WebDriver,
    pub base: String,
    chromedriver: Child,
    _permit: tokio::sync::SemaphorePermit<'static>,
    profile: std::path::PathBuf,
}

/// A browser for the app, or `None` when told to skip (`GONGYI_SKIP_BROWSER=1`).
pub async fn browser(app: &TestApp) -> Option<Browser> {
    if std::env::var("GONGYI_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!("SKIPPED: browser test (GONGYI_SKIP_BROWSER=1)");
        return None;
    }
    let driver_bin =
        std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&driver_bin).exists() && std::path::Path::new(&chromium).exists(),
        "browser tests need Debian's chromium and chromium-driver ({chromium}, {driver_bin}); \
         scripts/test.sh installs them, or set GONGYI_SKIP_BROWSER=1 to skip on purpose"
    );
    let permit = BROWSERS.acquire().await.unwrap();
    if std::env::var("BROWSER_TRACE").is_ok() {
        eprintln!("{:?} starting chromedriver", std::time::SystemTime::now());
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let chromedriver = Command::new(&driver_bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let server = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if reqwest::get(format!("{server}/status")).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let profile = std::env::temp_dir().join(format!("gongyi-chromium-{}", Uuid::new_v4().simple()));
    let mut caps = DesiredCapabilities::chrome();
    caps.set_binary(&chromium).unwrap();
    for arg in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1700",
        "--lang=zh-CN",
        "--accept-lang=zh-CN,zh",
        &format!("--user-data-dir={}", profile.display()),
    ] {
        caps.add_arg(arg).unwrap();
    }
    // The browser asks for Chinese, as the bureau's staff's browsers do.
    caps.add_experimental_option("prefs", json!({"intl.accept_languages": "zh-CN,zh"}))
        .unwrap();
    let driver = WebDriver::new(server, caps)
        .await
        .expect("a Chromium session");
    Some(Browser {
        driver,
        base: app.address.clone(),
        chromedriver,
        _permit: permit,
        profile,
    })
}

impl Browser {
    pub async fn open(&self, path: &str) {
        self.driver
            .goto(format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    /// Waits (up to 10 s) for an element whose text contains `text` ("" for any).
    pub async fn wait_text(&self, css: &str, text: &str) -> WebElement {
        if std::env::var("BROWSER_TRACE").is_ok() {
            eprintln!("{:?} wait {css} {text}", std::time::SystemTime::now());
        }
        for _ in 0..100 {
            if let Ok(e) = self.driver.find(By::Css(css)).await {
                if text.is_empty() || e.text().await.unwrap_or_default().contains(text) {
                    return e;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let src = self.driver.source().await.unwrap_or_default();
        panic!("no `{css}` with text `{text}` in:\n{src}");
    }

    /// Fills the field once it is there (a dialog or an htmx swap may still be bringing it in
    /// when the suite loads both cores).
    pub async fn fill(&self, css: &str, value: &str) {
        let e = self.wait_text(css, "").await;
        e.clear().await.unwrap();
        e.send_keys(value).await.unwrap();
    }

    /// Clicks the element once it is there (as `fill`).
    pub async fn click(&self, css: &str) {
        self.wait_text(css, "").await.click().await.unwrap();
    }

    /// Sets form values by script (date inputs take keys in the browser's locale format).
    pub async fn set(&self, css: &str, value: &str) {
        self.driver
            .execute(
                "document.querySelector(arguments[0]).value = arguments[1];",
                vec![json!(css), json!(value)],
            )
            .await
            .unwrap();
    }

    pub async fn sign_in(&self, email: &str) {
        self.open("/login").await;
        self.fill("input[name=email]", email).await;
        self.fill("input[name=password]", PASSWORD).await;
        self.click("#sign-in").await;
        self.wait_text("nav .who", "").await;
    }

    pub async fn screenshot(&self, name: &str) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        self.driver
            .screenshot(&dir.join(format!("{name}.png")))
            .await
            .unwrap();
    }

    pub async fn quit(self) {
        if std::env::var("BROWSER_TRACE").is_ok() {
            eprintln!("{:?} quitting", std::time::SystemTime::now());
        }
        let _ = self.driver.clone().quit().await;
    }
}

/// Also when a test fails half-way: no chromedriver or profile is left behind.
impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

async fn applicant(app: &TestApp, org_name: &str) -> String {
    let email = format!("applicant-{}@example.org", Uuid::new_v4().simple());
    let org = app.add_organization(org_name).await;
    app.add_user(&email, Role::Applicant, Some(org)).await;
    email
}

/// One line of the budget editor (the row's inputs by position).
async fn budget_row(
    b: &Browser,
    row: usize,
    category: &str,
    desc: &str,
    qty: &str,
    cost: &str,
    by: &str,
) {
    let sel = format!("#budget-editor tbody tr.line:nth-child({row})");
    b.set(&format!("{sel} select[name=category]"), category)
        .await;
    b.fill(&format!("{sel} input[name=description]"), desc)
        .await;
    b.fill(&format!("{sel} input[name=quantity]"), qty).await;
    b.fill(&format!("{sel} input[name=unit_cost]"), cost).await;
    b.set(&format!("{sel} select[name=funded_by]"), by).await;
}

#[tokio::test]
async fn an_applicant_submits_in_the_browser_and_sees_the_rules_in_chinese() {
    let app = spawn_app().await;
    let (round, _) = open_round(&app, round_body("venture_philanthropy")).await;
    let email = applicant(&app, "昆山市玉山镇社区养老服务社").await;
    let Some(b) = browser(&app).await else { return };

    b.sign_in(&email).await;
    b.wait_text("main h1", "昆山市玉山镇社区养老服务社").await;
    b.wait_text(".quota", "0 / 3").await;
    b.screenshot("applicant-dashboard").await;

    // A new draft from the open round's card.
    b.fill(
        &format!("#round-{round} input[name=title]"),
        "银龄助餐暖心行动",
    )
    .await;
    b.click(&format!("#round-{round} button[type=submit]"))
        .await;
    b.wait_text("#app-status", "草稿").await;

    // Content.
    b.fill(
        "textarea[name=summary]",
        "为社区独居老人提供助餐、陪伴与健康监测服务",
    )
    .await;
    b.fill("input[name=beneficiaries]", "玉山镇独居老人").await;
    b.fill("input[name=beneficiary_count]", "120").await;
    b.set("input[name=start_date]", "2026-09-01").await;
    b.set("input[name=end_date]", "2027-08-31").await;
    b.fill("input[name=requested_grant]", "80000.00").await;
    b.fill("input[name=co_funding]", "20000.00").await;
    b.fill("#team tbody tr:nth-child(1) input[name=team_name]", "王芳")
        .await;
    b.fill(
        "#team tbody tr:nth-child(1) input[name=team_role]",
        "项目负责人",
    )
    .await;
    b.click("#save-content").await;
    b.wait_text("#notice", "已保存").await;

    // A budget at 50.01% personnel: the live totals compute it in the browser as one types.
    b.click("#add-line").await;
    budget_row(&b, 1, "personnel", "社工薪酬", "1", "50010.00", "grant").await;
    budget_row(&b, 2, "activities", "助餐活动", "1", "29990.00", "grant").await;
    budget_row(&b, 3, "materials", "健康监测设备", "4", "5000", "self").await;
    b.wait_text("#live-totals [data-total]", "¥100,000.00")
        .await;
    b.wait_text("#live-totals [data-share]", "50.01%").await;
    b.screenshot("budget-editor").await;
    b.click("#save-budget").await;
    b.wait_text("#personnel-share", "50.01%").await;

    // "检查" lists the breach in Chinese (through htmx, without reloading the page).
    b.click("#validate-button").await;
    b.wait_text("#violations", "人员经费占预算总额 50.01%，超过上限 50.00%")
        .await;
    b.screenshot("application-check").await;

    // Fixed to exactly 50.00%, checked, submitted after the confirmation.
    budget_row(&b, 1, "personnel", "社工薪酬", "1", "50000.00", "grant").await;
    budget_row(&b, 2, "activities", "助餐活动", "1", "30000.00", "grant").await;
    b.wait_text("#live-totals [data-share]", "50.00%").await;
    b.click("#save-budget").await;
    b.wait_text("#personnel-share", "50.00%").await;
    b.click("#validate-button").await;
    b.wait_text("#check-ok", "").await;
    b.click("#submit-button").await;
    b.wait_text("#confirm-submit", "确认提交").await;
    b.click("#confirm-submit-button").await;
    b.wait_text("#app-status", "已提交").await;
    b.screenshot("application-submitted").await;
    b.open("/").await;
    b.wait_text(".quota", "1 / 3").await;

    // Two more submitted through the API; the fourth, in the browser, shows the quota rule.
    let token = app.login(&email).await;
    for i in 0..2 {
        let id = ready_draft(&app, &token, &round, &format!("项目 {i}")).await;
        let r = app
            .post(
                &format!("/applications/{id}/submit"),
                Some(&token),
                json!({}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let fourth = ready_draft(&app, &token, &round, "第四个项目").await;
    b.open(&format!("/applications/{fourth}")).await;
    b.click("#submit-button").await;
    b.click("#confirm-submit-button").await;
    b.wait_text("#violations", "每个社会组织在本轮最多可申报 3 个项目")
        .await;
    b.screenshot("quota-refused").await;

    // Another organization's application is the plain 404 page.
    let other = applicant(&app, "别的社会组织").await;
    let other_token = app.login(&other).await;
    let theirs = ready_draft(&app, &other_token, &round, "别人的项目").await;
    b.open(&format!("/applications/{theirs}")).await;
    let page = b.wait_text("#error-page", "").await;
    assert_eq!(
        page.attr("data-status").await.unwrap().as_deref(),
        Some("404")
    );
    assert!(!b.driver.source().await.unwrap().contains("别人的项目"));
    b.quit().await;
}
