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
