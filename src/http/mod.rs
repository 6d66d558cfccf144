//! HTTP: routing, extractors, the error envelope, OpenAPI. Handlers stay thin: parse, authorize,
//! call storage and domain rules, shape the answer.

pub mod contain_panic;
pub mod error;
pub mod extract;
pub mod guard;
pub mod openapi;
pub mod pagination;
pub mod routes;
pub mod views;

use std::sync::Arc;

use actix_web::web;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;

use crate::config::Settings;
use crate::domain::user::Language;
use crate::i18n;
use crate::ops::metrics::Metrics;
use crate::storage::Database;
use error::ApiError;

/// Middleware: everything a request renders for people (problem `detail`, violation messages,
/// pages) is in the language its `Accept-Language` prefers, Chinese unless it asks for English.
/// Errors are rendered inside the scope, so they are localized too.
pub async fn language(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let lang = i18n::negotiate(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
    .unwrap_or(Language::Zh);
    call_in_language(lang, req, next).await
}

/// Calls the rest of the chain with `lang` as the request's language. An error is rendered
/// into its response inside the scope (the outer layers pass the finished response on), so it
/// is localized too.
pub async fn call_in_language(
    lang: Language,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    i18n::scope(lang, async move {
        match next.call(req).await {
            Ok(res) => Ok(res.map_into_boxed_body()),
            Err(e) => {
                let res = e.error_response();
                Err(actix_web::error::InternalError::from_response(e.to_string(), res).into())
            }
        }
    })
    .await
}

pub struct AppState {
    pub db: Database,
    pub settings: Arc<Settings>,
    /// Permits for expensive requests (`application.max_concurrent_expensive`).
    pub expensive: Arc<tokio::sync::Semaphore>,
    /// The process's metrics (`GET /metrics`), shared by every worker.
    pub metrics: Arc<Metrics>,
}

impl AppState {
    pub fn new(db: Database, settings: Settings) -> Self {
        let expensive = Arc::new(tokio::sync::Semaphore::new(
            settings.application.max_concurrent_expensive,
        ));
        Self {
            db,
            settings: Arc::new(settings),
            expensive,
            metrics: Arc::default(),
        }
    }

    /// The same state over another pool (each HTTP worker has its own; see `startup::run`).
    pub fn with_db(&self, db: Database) -> Self {
        Self {
            db,
            settings: self.settings.clone(),
            expensive: self.expensive.clone(),
            metrics: self.metrics.clone(),
        }
    }

    /// The same state reporting into `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// A permit for an expensive request (ranking, award preview, ledger export), held until
    /// the answer is built; none free → 503 `busy` with `Retry-After`, never a queue.
    pub fn expensive_permit(&self) -> Result<ExpensivePermit, ApiError> {
        self.expensive
            .clone()
            .try_acquire_owned()
            .map(|permit| {
                // Start from what is live, not from what earlier requests left in the arenas.
                crate::memory::release_freed_memory();
                ExpensivePermit(permit)
            })
            .map_err(|_| {
                self.metrics.expensive_refused();
                ApiError::Overloaded {
                    code: "busy",
                    detail: format!(
                        "too many expensive requests (at most {} at once); retry shortly",
                        self.settings.application.max_concurrent_expensive
                    ),
                    retry_after_secs: 1,
                }
            })
    }
}

/// Held by an expensive request while it builds its answer. Taken and released, it hands freed
/// memory back to the operating system: glibc keeps freed memory in the arena of the
/// worker thread that used it, so after rankings on each of the workers the process would hold
/// one ranking's peak per worker (docs/PERFORMANCE.md, memory).
pub struct ExpensivePermit(#[allow(dead_code)] tokio::sync::OwnedSemaphorePermit);

impl Drop for ExpensivePermit {
    fn drop(&mut self) {
        crate::memory::release_freed_memory();
    }
}

/// Error handlers for the built-in extractors, so their failures are problem+json too.
pub fn extractor_configs(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::QueryConfig::default()
            .error_handler(|err, _| ApiError::bad_request("invalid_query", err.to_string()).into()),
    )
    .app_data(
        web::PathConfig::default()
            .error_handler(|_, _| ApiError::from(crate::service::Error::NotFound).into()),
    )
    .app_data(
        web::JsonConfig::default().error_handler(|err, _| {
            ApiError::bad_request("malformed_json", err.to_string()).into()
        }),
    );
}
