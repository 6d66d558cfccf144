use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::{roles, token, Caller};
use crate::http::error::{ApiError, ApiResult};
use crate::http::AppState;
use crate::ops::metrics::CONTENT_TYPE;
use crate::storage::{operations, tokens};

/// Metrics for a Prometheus scraper (OpenMetrics text): requests by route template, method and
/// status with their latency, connection pools, the email outbox, the audit chain's backlog,
/// live sessions, refused expensive requests, retention. Each metric is described in
/// docs/OPERATIONS.md. Answers an admin's token or the scraper token `metrics.token`; another
/// role gets 403.
#[utoipa::path(get, path = "/metrics", tag = "operations", security(("bearer" = [])),
    responses(
        (status = 200, description = "the metrics", content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String),
        (status = 401, body = crate::http::error::Problem, description = "no or bad token (`unauthorized`)"),
        (status = 403, body = crate::http::error::Problem, description = "the caller is not an admin (`forbidden`)")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    authorize(&state, &req).await?;
    // The request figures are answered even when the database is not: `gongyi_database_up`
    // says whether the database figures could be read.
    let snapshot = async {
        let mut conn = state.db.conn().await?;
        operations::snapshot(&mut conn).await
    }
    .await
    .inspect_err(|e| tracing::warn!(error = %e, "metrics: database figures unavailable"))
    .ok();
    Ok(HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(state.metrics.encode(snapshot.as_ref())))
}

/// The scraper token (compared in constant time, through digests of equal length), else an
/// admin's bearer token. Outside `/api/v1`, so the authentication middleware has not run.
async fn authorize(state: &AppState, req: &HttpRequest) -> Result<(), ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::Unauthorized)?
        .to_str()
        .map_err(|_| ApiError::Unauthorized)?;
    let bearer = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized)?;
    let configured = state.settings.metrics.token.expose_secret();
    if !configured.is_empty()
        && bool::from(
            Sha256::digest(bearer.as_bytes()).ct_eq(&Sha256::digest(configured.as_bytes())),
        )
    {
        return Ok(());
    }
    let mut conn = state.db.conn().await?;
    let row = tokens::find_caller(&mut conn, &token::digest(bearer), chrono::Utc::now())
        .await?
        .ok_or(ApiError::Unauthorized)?;
    drop(conn);
    let caller = Caller::from_row(&row).map_err(ApiError::internal)?;
    tracing::Span::current().record("user_id", tracing::field::display(caller.user_id));
    caller.require(roles::ADMIN)?;
    Ok(())
}
