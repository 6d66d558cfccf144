//! Request extractors: the signed-in caller, JSON bodies that fail cleanly, page parameters.

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::{ready, LocalBoxFuture, Ready};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use super::error::ApiError;
use super::AppState;
use crate::auth::{token, Caller, Forbidden};
use crate::domain::bounds::OutOfBounds;
use crate::domain::violation::Violation;
use crate::storage::tokens;

impl From<Forbidden> for ApiError {
    fn from(e: Forbidden) -> Self {
        ApiError::forbidden(e.to_string())
    }
}

/// Middleware: resolves a bearer token (if any) before any handler or body extractor runs, so an
/// unauthenticated request is answered 401 whatever else is wrong with it.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or_default().to_string());
    if let Some(value) = bearer {
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        let state = req
            .app_data::<web::Data<AppState>>()
            .cloned()
            .ok_or_else(|| {
                ApiError::from(crate::service::Error::Internal(anyhow::anyhow!(
                    "no app state"
                )))
            })?;
        let digest = token::digest(token);
        let mut conn = state.db.conn().await.map_err(ApiError::from)?;
        let row = tokens::find_caller(&mut conn, &digest, chrono::Utc::now())
            .await
            .map_err(ApiError::from)?
            .ok_or(ApiError::Unauthorized)?;
        drop(conn);
        let caller = Caller::from_row(&row).map_err(ApiError::internal)?;
        tracing::Span::current().record("user_id", tracing::field::display(caller.user_id));
        req.extensions_mut().insert(caller);
    }
    next.call(req).await
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<Caller>()
                .cloned()
                .ok_or(ApiError::Unauthorized),
        )
    }
}

/// A JSON body that is size-limited (413), syntax-checked (400 `malformed_json`), type- and
/// field-checked (422 `validation_failed` naming the field), then run through `validator`.
pub struct ValidJson<T>(pub T);

impl<T: DeserializeOwned + Validate + 'static> FromRequest for ValidJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.settings.application.max_body_bytes)
            .unwrap_or(256 * 1024);
        let declared: Option<usize> = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|n| n > limit) {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk =
                    chunk.map_err(|e| ApiError::bad_request("malformed_body", e.to_string()))?;
                if body.len() + chunk.len() > limit {
                    return Err(ApiError::PayloadTooLarge { limit });
                }
                body.extend_from_slice(&chunk);
            }
            let value = parse_json::<T>(&body)?;
            value.validate().map_err(validation_error)?;
            Ok(ValidJson(value))
        })
    }
}

pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let field = if path == "." { String::new() } else { path };
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = strip_position(&inner.to_string());
                // A bounded value's refusal names its rule and limit (`domain::bounds`).
                ApiError::invalid(match OutOfBounds::decode(&message) {
                    Some(b) => b.into_violation(field),
                    None => Violation::new("schema", message).field(field),
                })
            }
            _ => ApiError::bad_request(
                "malformed_json",
                format!("the body is not valid JSON: {inner}"),
            ),
        }
    })?;
    Ok(value)
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Flattens `validator` errors (nested structs and lists included) into violations.
pub fn validation_error(errors: ValidationErrors) -> ApiError {
    let mut out = Vec::new();
    flatten(&errors, String::new(), &mut out);
    ApiError::from(crate::service::Error::Validation(out))
}

fn flatten(errors: &ValidationErrors, prefix: String, out: &mut Vec<Violation>) {
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(errs) => {
                for e in errs {
                    let limit = match (e.params.get("min"), e.params.get("max")) {
                        (Some(min), Some(max)) => Some(format!("{min}..{max}")),
                        (Some(min), None) => Some(format!(">= {min}")),
                        (None, Some(max)) => Some(format!("<= {max}")),
                        _ => None,
                    };
                    let actual = e.params.get("value").map(|v| match v {
                        serde_json::Value::String(s) if e.code == "length" => {
                            format!("{} characters", s.chars().count())
                        }
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    });
                    let message = e
                        .message
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| format!("`{path}` fails the `{}` check", e.code));
                    out.push(Violation {
                        rule: e.code.to_string(),
                        message,
                        limit,
                        actual,
                        field: Some(path.clone()),
                    });
                }
            }
            ValidationErrorsKind::Struct(inner) => flatten(inner, path, out),
            ValidationErrorsKind::List(items) => {
                for (i, inner) in items {
                    flatten(inner, format!("{path}[{i}]"), out);
                }
            }
        }
    }
}
