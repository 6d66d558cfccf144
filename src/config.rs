//! Layered settings: `config/default.toml`, then `config/{environment}.toml`, then environment
//! variables (`GONGYI__SECTION__KEY`), then the plain `DATABASE_URL`. Unknown keys are an error.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Test,
    Production,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Test => "test",
            Environment::Production => "production",
        }
    }
}

impl TryFrom<String> for Environment {
    type Error = anyhow::Error;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        match s.to_lowercase().as_str() {
            "development" | "dev" => Ok(Self::Development),
            "test" => Ok(Self::Test),
            "production" | "prod" => Ok(Self::Production),
            other => {
                anyhow::bail!("unknown environment `{other}`: use development, test or production")
            }
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub application: ApplicationSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub log: LogSettings,
    pub email: EmailSettings,
    pub audit: AuditSettings,
    pub metrics: MetricsSettings,
    pub retention: RetentionSettings,
    pub web: WebSettings,
    #[serde(default)]
    pub attachments: AttachmentSettings,
}

/// The web pages: browser sessions and how times are shown.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSettings {
    /// A browser session ends after this long without a request.
    pub session_idle_minutes: i64,
    /// … and this long after sign-in, whatever happens.
    pub session_max_hours: i64,
    /// The bureau's time zone (IANA name), in which pages show times.
    pub time_zone: String,
    /// How to object to a published award decision (shown on the public notice).
    pub notice_contact: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentSettings {
    /// Largest attachment accepted, in bytes; a larger upload answers 413 as soon as it passes
    /// the limit, without the rest being read.
    pub max_bytes: usize,
}

impl Default for AttachmentSettings {
    fn default() -> Self {
        Self {
            max_bytes: 20 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationSettings {
    pub host: String,
    pub port: u16,
    /// Public address, used for links in emails.
    pub base_url: String,
    /// HTTP worker threads; 0 means one per CPU core.
    pub workers: usize,
    /// Largest request body accepted, in bytes; larger ones get 413.
    pub max_body_bytes: usize,
    /// Whole-request deadline; slower requests get 503.
    pub request_timeout_ms: u64,
    /// Expensive requests (ranking, award previews, ledger exports) served at once; more get
    /// 503 `busy` with `Retry-After`.
    pub max_concurrent_expensive: usize,
    /// Seconds given to in-flight requests on shutdown.
    pub shutdown_timeout_secs: u64,
    /// Apply pending migrations when `serve` starts.
    pub run_migrations: bool,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// Full connection URL; may carry a password, so it is kept secret.
    pub url: SecretString,
    pub pool_max_size: usize,
    /// Transactions running at once, shared out between the workers like the pool; one more
    /// waits for a turn before it takes a connection, so reads keep the rest of the pool.
    pub write_concurrency: usize,
    /// How long a request waits for a free connection before it gets 503.
    pub pool_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    /// Server-side cap on any one statement.
    pub statement_timeout_ms: u64,
    /// A pooled connection unused for longer than this is checked with `SELECT 1` before it is
    /// handed out; a busy connection is reused without that extra round trip.
    pub verify_idle_after_ms: u64,
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &"[redacted]")
            .field("pool_max_size", &self.pool_max_size)
            .field("write_concurrency", &self.write_concurrency)
            .field("pool_timeout_ms", &self.pool_timeout_ms)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("statement_timeout_ms", &self.statement_timeout_ms)
            .field("verify_idle_after_ms", &self.verify_idle_after_ms)
            .finish()
    }
}

impl DatabaseSettings {
    pub fn url(&self) -> &str {
        self.url.expose_secret()
    }
    pub fn pool_timeout(&self) -> Duration {
        Duration::from_millis(self.pool_timeout_ms)
    }
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Lifetime of the token `POST /auth/login` returns.
    pub session_ttl_minutes: i64,
    /// Failed sign-ins per email within the window before 429.
    pub login_max_failures: i64,
    pub login_failure_window_minutes: i64,
    /// Argon2id memory in KiB, iterations and lanes (OWASP: 19456, 2, 1).
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `pretty` for people, `json` for log collectors.
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `gongyi=debug,info`; `RUST_LOG` wins when set.
    pub level: String,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    /// `smtp` sends; `file` writes each message to `file_dir` (development).
    pub transport: EmailTransportKind,
    pub from: String,
    pub smtp_host: String,
    pub smtp_port: u16,
    /// `none`, `starttls` or `tls`.
    pub smtp_tls: SmtpTls,
    pub smtp_username: String,
    pub smtp_password: SecretString,
    pub file_dir: PathBuf,
    /// Run the background sender in `serve` (turn off on replicas that should not send).
    pub sender_enabled: bool,
    /// How often the sender looks for due messages.
    pub poll_interval_ms: u64,
    /// Most messages one sender pass delivers.
    pub batch_size: u32,
    /// Tries before a message is marked `failed` (visible in `GET /outbox?status=failed`).
    pub max_attempts: u32,
    /// Wait after the first failed try; doubled after each further one, up to `retry_max_ms`.
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
    /// SMTP connection and command timeout.
    pub smtp_timeout_ms: u64,
}

impl EmailSettings {
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms.max(10))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// Run the background sealer in `serve`.
    pub seal_enabled: bool,
    /// How often the sealer appends finished audit events to the hash chain.
    pub seal_interval_ms: u64,
    /// Most events sealed per transaction.
    pub seal_batch_size: i64,
}

impl AuditSettings {
    pub fn seal_interval(&self) -> Duration {
        Duration::from_millis(self.seal_interval_ms.max(10))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// A bearer token a Prometheus scraper may use on `GET /metrics` (besides an admin's
    /// token); empty = none. At least 32 characters when set.
    pub token: SecretString,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    /// Run the retention job in `serve`.
    pub enabled: bool,
    /// Time between passes.
    pub interval_secs: u64,
    /// Most rows deleted per transaction.
    pub batch_size: i64,
    /// Sent emails are deleted this many days after they were sent.
    pub outbox_sent_days: i64,
    /// Idempotency keys (and the answers they replay) are deleted this many hours after use.
    pub idempotency_key_hours: i64,
    /// Tokens (sign-in sessions, API tokens, browser sessions) are deleted this many days after
    /// they expired or were revoked.
    pub expired_token_days: i64,
    /// Failed sign-in records are deleted after this many days (never before the throttle's
    /// window, `auth.login_failure_window_minutes`, has passed).
    pub login_failure_days: i64,
}

impl RetentionSettings {
    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.interval_secs.max(1))
    }
}

impl std::fmt::Debug for EmailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailSettings")
            .field("transport", &self.transport)
            .field("from", &self.from)
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_tls", &self.smtp_tls)
            .field("smtp_username", &self.smtp_username)
            .field("smtp_password", &"[redacted]")
            .field("file_dir", &self.file_dir)
            .field("sender_enabled", &self.sender_enabled)
            .field("poll_interval_ms", &self.poll_interval_ms)
            .field("batch_size", &self.batch_size)
            .field("max_attempts", &self.max_attempts)
            .field("retry_initial_ms", &self.retry_initial_ms)
            .field("retry_max_ms", &self.retry_max_ms)
            .field("smtp_timeout_ms", &self.smtp_timeout_ms)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EmailTransportKind {
    Smtp,
    File,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    None,
    Starttls,
    Tls,
}

/// The environment picked by `GONGYI_ENV` (default: development).
pub fn current_environment() -> anyhow::Result<Environment> {
    std::env::var("GONGYI_ENV")
        .unwrap_or_else(|_| "development".into())
        .try_into()
}

/// Where the `config/` folder is: `GONGYI_CONFIG_DIR`, else `./config`, else the crate's own.
fn config_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("GONGYI_CONFIG_DIR") {
        return PathBuf::from(dir);
    }
    let local = Path::new("config");
    if local.join("default.toml").exists() {
        return local.to_path_buf();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
}

pub fn load() -> anyhow::Result<Settings> {
    load_for(current_environment()?)
}

pub fn load_for(environment: Environment) -> anyhow::Result<Settings> {
    let dir = config_dir();
    let mut builder = config::Config::builder()
        .add_source(config::File::from(dir.join("default.toml")))
        .add_source(config::File::from(
            dir.join(format!("{}.toml", environment.as_str())),
        ))
        .add_source(
            config::Environment::with_prefix("GONGYI")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true),
        );
    // The conventional variable wins over the files, so tools and scripts can share it.
    if let Ok(url) = std::env::var("DATABASE_URL") {
        builder = builder.set_override("database.url", url)?;
    }
    let settings: Settings = builder
        .build()
        .and_then(|c| c.try_deserialize())
        .map_err(|e| anyhow::anyhow!("invalid configuration ({}): {e}", dir.display()))?;
    Ok(settings)
}
