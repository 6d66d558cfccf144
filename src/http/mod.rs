//! HTTP: routing, extractors, the error envelope, OpenAPI. Handlers stay thin: parse, authorize,
//! call storage and domain rules, shape the answer.

pub mod error;
pub mod extract;
pub mod openapi;
pub mod pagination;
pub mod routes;
pub mod views;

use std::sync::Arc;

use actix_web::web;

use crate::config::Settings;
use crate::storage::Database;
use error::ApiError;

pub struct AppState {
    pub db: Database,
    pub settings: Arc<Settings>,
    /// Permits for expensive requests (`application.max_concurrent_expensive`).
    pub expensive: Arc<tokio::sync::Semaphore>,
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
        }
    }

    /// A permit for an expensive request (ranking, award preview, ledger export), held until
    /// the answer is built; none free → 503 `busy` with `Retry-After`, never a queue.
    pub fn expensive_permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        self.expensive
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::Overloaded {
                code: "busy",
                detail: format!(
                    "too many expensive requests (at most {} at once); retry shortly",
                    self.settings.application.max_concurrent_expensive
                ),
                retry_after_secs: 1,
            })
    }
}

/// Error handlers for the built-in extractors, so their failures are problem+json too.
pub fn extractor_configs(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::QueryConfig::default()
            .error_handler(|err, _| ApiError::bad_request("invalid_query", err.to_string()).into()),
    )
    .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()))
    .app_data(
        web::JsonConfig::default().error_handler(|err, _| {
            ApiError::bad_request("malformed_json", err.to_string()).into()
        }),
    );
}
