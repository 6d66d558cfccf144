//! spawn_app: the real server on a random port over a database of its own, cloned from a
//! template that is migrated once per migration set. Tests run in parallel safely.

use std::sync::Once;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use gongyi::config::{self, Environment, Settings};
use gongyi::domain::user::{Language, Role};
use gongyi::service;
use gongyi::startup::Application;
use gongyi::storage::{migrate, Database};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;
use uuid::Uuid;

pub const PASSWORD: &str = "a-long-test-password";

static TEMPLATE: OnceCell<String> = OnceCell::const_new();
static TRACING: Once = Once::new();

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: Database,
    pub settings: Settings,
    maintenance_url: String,
    db_name: String,
}

fn base_settings() -> Settings {
    config::load_for(Environment::Test).expect("test configuration loads")
}

fn migrations_hash() -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut entries: Vec<_> = walk(&dir);
    entries.sort();
    let mut h = Sha256::new();
    for p in entries {
        h.update(p.to_string_lossy().as_bytes());
        h.update(std::fs::read(&p).unwrap());
    }
    hex::encode(&h.finalize()[..6])
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn with_database(url: &str, name: &str) -> String {
    let (maintenance, _) = migrate::split_database_url(url).unwrap();
    let (base, query) = maintenance
        .split_once('?')
        .map_or((maintenance.as_str(), None), |(b, q)| (b, Some(q)));
    let server = base.strip_suffix("/postgres").unwrap();
    match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    }
}

async fn ensure_template(server_url: &str) -> String {
    let (maintenance, _) = migrate::split_database_url(server_url).unwrap();
    let name = format!("gongyi_tpl_{}", migrations_hash());
    let mut conn = AsyncPgConnection::establish(&maintenance)
        .await
        .expect("connect to the test Postgres (is DATABASE_URL right?)");
    // Several test processes may start at once: one builds the template, the others wait.
    diesel::sql_query("SELECT pg_advisory_lock(4242)")
        .execute(&mut conn)
        .await
        .unwrap();
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let found: N = diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
        .bind::<diesel::sql_types::Text, _>(&name)
        .get_result(&mut conn)
        .await
        .unwrap();
    if found.n == 0 {
        let building = format!("{name}_building");
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
            .execute(&mut conn)
            .await
            .unwrap();
        diesel::sql_query(format!("CREATE DATABASE {building}"))
            .execute(&mut conn)
            .await
            .unwrap();
        migrate::run_migrations(&with_database(server_url, &building))
            .await
            .expect("migrations apply to the template");
        diesel::sql_query(format!("ALTER DATABASE {building} RENAME TO {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    diesel::sql_query("SELECT pg_advisory_unlock(4242)")
        .execute(&mut conn)
        .await
        .unwrap();
    name
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with_routes(customize, |_| {}).await
}

/// `spawn_app_with`, with more routes in the same App: routes that must never exist in the
/// server itself (`Application::build_with`).
pub async fn spawn_app_with_routes(
    customize: impl FnOnce(&mut Settings),
    extra_routes: fn(&mut actix_web::web::ServiceConfig),
) -> TestApp {
    TRACING.call_once(|| {
        if std::env::var("TEST_LOG").is_ok() {
            gongyi::telemetry::init(&base_settings().log);
        }
    });
    let mut settings = base_settings();
    let server_url = settings.database.url().to_string();
    let template = TEMPLATE
        .get_or_init(|| ensure_template(&server_url))
        .await
        .clone();
    let (maintenance_url, _) = migrate::split_database_url(&server_url).unwrap();
    let db_name = format!("gongyi_test_{}", Uuid::new_v4().simple());
    let mut conn = AsyncPgConnection::establish(&maintenance_url)
        .await
        .unwrap();
    diesel::sql_query(format!("CREATE DATABASE {db_name} TEMPLATE {template}"))
        .execute(&mut conn)
        .await
        .expect("clone the template database");
    settings.database.url = with_database(&server_url, &db_name).into();
    settings.application.port = 0;
    settings.application.host = "127.0.0.1".into();
    customize(&mut settings);
    let db = Database::new(&settings.database).unwrap();
    let app = Application::build_with(settings.clone(), db.clone(), extra_routes).unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        db,
        settings,
        maintenance_url,
        db_name,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let url = self.maintenance_url.clone();
        let name = self.db_name.clone();
        // Drop runs inside the test's runtime: use a thread of its own to finish the cleanup.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut conn) = AsyncPgConnection::establish(&url).await {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut conn)
                            .await;
                }
            });
        })
        .join();
    }
}

pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Resp {
    /// The problem+json `code`.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
    pub fn rules(&self) -> Vec<String> {
        self.body["violations"]
            .as_array()
            .map(|v| {
                v.iter()
                    .map(|x| x["rule"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("/api")
            || path.starts_with("/docs")
            || path.starts_with("/openapi")
            || path.starts_with("/healthz")
            || path.starts_with("/readyz")
            || path.starts_with("/metrics")
        {
            format!("{}{}", self.address, path)
        } else {
            format!("{}/api/v1{}", self.address, path)
        }
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let res = req.send().await.expect("request sent");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status >= 400 {
            let ct = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            assert_eq!(
                ct, "application/problem+json",
                "error answers are problem+json: {body}"
            );
        }
        assert_ne!(status, 500, "a 500 is a bug: {body}");
        Resp {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        let mut r = self.client.get(self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        self.send(r).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.method(reqwest::Method::POST, path, token, body).await
    }

    #[allow(dead_code)] // used by the budget tests
    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.method(reqwest::Method::PUT, path, token, body).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.method(reqwest::Method::PATCH, path, token, body).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Resp {
        let mut r = self.client.delete(self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        self.send(r).await
    }

    pub async fn method(
        &self,
        m: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> Resp {
        let mut r = self.client.request(m, self.url(path)).json(&body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        self.send(r).await
    }

    pub async fn raw_post(
        &self,
        path: &str,
        token: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> Resp {
        let mut r = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        self.send(r).await
    }

    /// Creates a user directly (as `gongyi users add` does) and returns its id.
    pub async fn add_user(&self, email: &str, role: Role, organization: Option<Uuid>) -> Uuid {
        service::users::create(
            &self.db,
            &self.settings.auth,
            service::users::NewUserInput {
                email: email.into(),
                name: format!("{role} user"),
                role,
                organization_id: organization,
                password: PASSWORD.into(),
                language: Language::Zh,
            },
            None,
        )
        .await
        .expect("user created")
        .id
    }

    pub async fn login(&self, email: &str) -> String {
        let r = self
            .post(
                "/auth/login",
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 200, "login {email}: {}", r.body);
        r.body["token"].as_str().unwrap().to_string()
    }

    /// A user of the role, signed in; applicants get an organization of their own.
    pub async fn signed_in(&self, role: Role) -> (Uuid, String) {
        let email = format!("{}-{}@example.org", role, Uuid::new_v4().simple());
        let org = if role == Role::Applicant {
            Some(
                self.add_organization(&format!("机构 {}", Uuid::new_v4().simple()))
                    .await,
            )
        } else {
            None
        };
        let id = self.add_user(&email, role, org).await;
        (id, self.login(&email).await)
    }

    /// An applicant of a given organization, signed in.
    pub async fn applicant_of(&self, organization: Uuid) -> String {
        let email = format!("applicant-{}@example.org", Uuid::new_v4().simple());
        self.add_user(&email, Role::Applicant, Some(organization))
            .await;
        self.login(&email).await
    }

    /// A valid, well-rated organization (3A, independent party branch, registered 2015).
    pub async fn add_organization(&self, name: &str) -> Uuid {
        let facts = organization_facts(name);
        service::organizations::create(&self.db, facts, None)
            .await
            .unwrap()
            .id
    }
}

pub fn organization_facts(name: &str) -> service::organizations::OrganizationFacts {
    use gongyi::domain::credit_code::OrganizationType;
    use gongyi::domain::rating::{AssessmentResult, PartyBuildingStatus, Rating};
    service::organizations::OrganizationFacts {
        name: name.into(),
        credit_code: Some(valid_code("52")),
        org_type: OrganizationType::PrivateNonEnterprise,
        registration_date: chrono::NaiveDate::from_ymd_opt(2015, 1, 1),
        district: "昆山市".into(),
        contact_person: "联系人".into(),
        contact_phone: "0512-1234567".into(),
        contact_email: "contact@example.org".into(),
        rating: Some(Rating::A3),
        rating_valid_until: chrono::NaiveDate::from_ymd_opt(2099, 12, 31),
        party_building_status: PartyBuildingStatus::IndependentBranch,
        party_member_count: 5,
        party_assessment: AssessmentResult::Passed,
        blacklisted_until: None,
        blacklist_reason: None,
    }
}

/// A fresh valid credit code with the given two-character prefix.
pub fn valid_code(prefix: &str) -> String {
    use gongyi::domain::credit_code::{complete_code, org_check_char};
    loop {
        let n = Uuid::new_v4().as_u128();
        let charset: Vec<char> = "0123456789ABCDEFGHJKLMNPQRTUWXY".chars().collect();
        let body: String = (0..8)
            .map(|i| charset[((n >> (i * 5)) % 31) as usize])
            .collect();
        if org_check_char(&body) == 'X' {
            continue;
        }
        return complete_code(&format!("{prefix}320583"), &body);
    }
}

impl TestApp {
    /// (kind, recipient) of every queued or sent email, oldest first.
    #[allow(dead_code)]
    pub async fn outbox(&self) -> Vec<(String, String)> {
        use diesel::QueryDsl;
        use diesel_async::RunQueryDsl;
        use gongyi::storage::schema::email_outbox::dsl as o;
        let mut conn = self.db.conn().await.unwrap();
        o::email_outbox
            .select((o::kind, o::recipient))
            .order(o::id)
            .load(&mut conn)
            .await
            .unwrap()
    }

    /// How many emails of a kind were queued.
    #[allow(dead_code)]
    pub async fn outbox_count(&self, kind: &str) -> usize {
        self.outbox()
            .await
            .iter()
            .filter(|(k, _)| k == kind)
            .count()
    }
}
