//! Attachments of applications, grants and expenditures: multipart upload (streamed, refused
//! as soon as it passes `attachments.max_bytes`), listing, download, deletion.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{roles, Caller};
use crate::domain::violation::Violation;
use crate::http::error::{ApiError, ApiResult, Problem};
use crate::http::guard::RequireRole;
use crate::http::pagination::{Page, PageRequest};
use crate::http::AppState;
use crate::service::attachments::{
    self as svc, content_disposition, AttachmentKind, AttachmentView, CheckedFile, FileRefusal,
    Owner, OwnerType, Upload,
};

/// Room for the multipart framing (boundaries, part headers, the `kind` field) on top of the
/// file itself, when judging a declared Content-Length.
const FORM_OVERHEAD: usize = 64 * 1024;
const MAX_KIND_BYTES: usize = 64;

/// The multipart form of an upload.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AttachmentUpload {
    /// The file: PDF, JPEG, PNG, XLSX or DOCX (decided by its bytes), at most
    /// `attachments.max_bytes` (20 MB by default). Its name is kept without path characters.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// Default `other`.
    kind: Option<AttachmentKind>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AttachmentListQuery {
    /// Page size, 1..200 (default 50).
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

fn malformed(e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(
        "malformed_multipart",
        format!("the form cannot be read: {e}"),
    )
}

/// Reads the form: one `file` part (streamed, 413 once it passes `max`) and an optional `kind`.
async fn read_form(req: &HttpRequest, payload: web::Payload, max: usize) -> ApiResult<Upload> {
    let declared: Option<usize> = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    if declared.is_some_and(|n| n > max.saturating_add(FORM_OVERHEAD)) {
        return Err(ApiError::PayloadTooLarge { limit: max });
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !is_form {
        return Err(ApiError::UnsupportedMediaType {
            detail: "an upload is multipart/form-data with a `file` field".into(),
        });
    }
    let mut form = Multipart::new(req.headers(), payload);
    let mut file: Option<(String, Vec<u8>)> = None;
    let mut kind: Option<String> = None;
    while let Some(part) = form.next().await {
        let mut part = part.map_err(malformed)?;
        match part.name().unwrap_or_default() {
            "file" => {
                if file.is_some() {
                    return Err(ApiError::invalid(
                        Violation::new("one_file", "an upload carries one file").field("file"),
                    ));
                }
                let name = part
                    .content_disposition()
                    .and_then(|cd| {
                        cd.get_filename_ext()
                            .map(|x| String::from_utf8_lossy(&x.value).into_owned())
                            .or_else(|| cd.get_filename().map(str::to_string))
                    })
                    .unwrap_or_default();
                let mut bytes = Vec::new();
                while let Some(chunk) = part.next().await {
                    let chunk = chunk.map_err(malformed)?;
                    if bytes.len() + chunk.len() > max {
                        // Answer now: the rest of the body is never read.
                        return Err(ApiError::PayloadTooLarge { limit: max });
                    }
                    bytes.extend_from_slice(&chunk);
                }
                file = Some((name, bytes));
            }
            "kind" => {
                let mut bytes = Vec::new();
                while let Some(chunk) = part.next().await {
                    let chunk = chunk.map_err(malformed)?;
                    if bytes.len() + chunk.len() > MAX_KIND_BYTES {
                        return Err(ApiError::invalid(
                            Violation::new("kind", "not a kind of attachment").field("kind"),
                        ));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                kind = Some(String::from_utf8_lossy(&bytes).trim().to_string());
            }
            other => {
                return Err(ApiError::invalid(
                    Violation::new("unknown_field", "the form has the fields `file` and `kind`")
                        .actual(other)
                        .field(other.to_string()),
                ))
            }
        }
    }
    let kind = match kind.as_deref() {
        None | Some("") => AttachmentKind::Other,
        Some(k) => k.parse().map_err(|_| {
            ApiError::invalid(
                Violation::new("kind", "not a kind of attachment")
                    .limit(
                        AttachmentKind::ALL
                            .iter()
                            .map(|k| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    )
                    .actual(k)
                    .field("kind"),
            )
        })?,
    };
    let (filename, bytes) = file.ok_or_else(|| {
        ApiError::invalid(Violation::new("required", "the form has no `file`").field("file"))
    })?;
    Ok(Upload {
        filename,
        kind,
        bytes,
    })
}

async fn upload(
    state: &AppState,
    caller: &Caller,
    req: &HttpRequest,
    payload: web::Payload,
    owner: Owner,
) -> ApiResult<HttpResponse> {
    // Before a byte of the body is read: may this caller add to this owner now?
    svc::authorize_upload(&state.db, caller, owner).await?;
    let file = read_form(req, payload, state.settings.attachments.max_bytes).await?;
    let checked = CheckedFile::check(file).map_err(|r| match r {
        FileRefusal::Empty => ApiError::from(svc::empty_file()),
        FileRefusal::UnsupportedType => ApiError::UnsupportedMediaType {
            detail:
                "only PDF, JPEG, PNG, XLSX and DOCX files are accepted (decided by their content)"
                    .into(),
        },
    })?;
    let view = svc::upload(&state.db, caller, owner, checked).await?;
    Ok(HttpResponse::Created().json(view))
}

async fn list(
    state: &AppState,
    caller: &Caller,
    owner: Owner,
    q: AttachmentListQuery,
) -> ApiResult<HttpResponse> {
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let rows = svc::list(&state.db, caller, owner, page.after, page.fetch()).await?;
    Ok(HttpResponse::Ok().json(page.page(rows, |a| (a.uploaded_at, a.id), |a| a)))
}

/// Attach a document to a draft application (its organization's applicants): multipart
/// field `file` and optional `kind`. 415 for anything but PDF, JPEG, PNG, XLSX, DOCX (by the
/// bytes), 413 over `attachments.max_bytes`, 422 for an empty file.
#[utoipa::path(post, path = "/api/v1/applications/{id}/attachments", tag = "attachments", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body(content = AttachmentUpload, content_type = "multipart/form-data"),
    responses((status = 201, body = AttachmentView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "invalid_state: the application is no longer a draft"),
        (status = 413, body = Problem), (status = 415, body = Problem, description = "unsupported_media_type"), (status = 422, body = Problem)))]
#[post(
    "/applications/{id}/attachments",
    wrap = "RequireRole(roles::APPLICANT)"
)]
pub async fn upload_application_attachment(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<Uuid>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let owner = Owner {
        kind: OwnerType::Application,
        id: path.into_inner(),
    };
    upload(&state, &caller, &req, payload, owner).await
}

/// The application's attachments (whoever may see the application).
#[utoipa::path(get, path = "/api/v1/applications/{id}/attachments", tag = "attachments", security(("bearer" = [])), params(("id" = Uuid, Path), AttachmentListQuery),
    responses((status = 200, body = Page<AttachmentView>), (status = 401, body = Problem), (status = 404, body = Problem)))]
#[get("/applications/{id}/attachments")]
pub async fn list_application_attachments(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    query: web::Query<AttachmentListQuery>,
) -> ApiResult<HttpResponse> {
    let owner = Owner {
        kind: OwnerType::Application,
        id: path.into_inner(),
    };
    list(&state, &caller, owner, query.into_inner()).await
}

/// Attach a document to an active grant (the grantee's applicants, or an admin, e.g. an
/// evaluation report). Same form and refusals as for applications.
#[utoipa::path(post, path = "/api/v1/grants/{id}/attachments", tag = "attachments", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body(content = AttachmentUpload, content_type = "multipart/form-data"),
    responses((status = 201, body = AttachmentView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "invalid_state: the grant is not active"),
        (status = 413, body = Problem), (status = 415, body = Problem, description = "unsupported_media_type"), (status = 422, body = Problem)))]
#[post(
    "/grants/{id}/attachments",
    wrap = "RequireRole(roles::ADMIN_OR_APPLICANT)"
)]
pub async fn upload_grant_attachment(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<Uuid>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let owner = Owner {
        kind: OwnerType::Grant,
        id: path.into_inner(),
    };
    upload(&state, &caller, &req, payload, owner).await
}

/// The grant's attachments (admin, finance, the grantee).
#[utoipa::path(get, path = "/api/v1/grants/{id}/attachments", tag = "attachments", security(("bearer" = [])), params(("id" = Uuid, Path), AttachmentListQuery),
    responses((status = 200, body = Page<AttachmentView>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get(
    "/grants/{id}/attachments",
    wrap = "RequireRole(roles::ADMIN_APPLICANT_OR_FINANCE)"
)]
pub async fn list_grant_attachments(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    query: web::Query<AttachmentListQuery>,
) -> ApiResult<HttpResponse> {
    let owner = Owner {
        kind: OwnerType::Grant,
        id: path.into_inner(),
    };
    list(&state, &caller, owner, query.into_inner()).await
}

/// Attach a receipt (or another document) to a draft expenditure (the grantee's applicants).
#[utoipa::path(post, path = "/api/v1/expenditures/{id}/attachments", tag = "attachments", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body(content = AttachmentUpload, content_type = "multipart/form-data"),
    responses((status = 201, body = AttachmentView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "invalid_state: the expenditure is in a submitted report"),
        (status = 413, body = Problem), (status = 415, body = Problem, description = "unsupported_media_type"), (status = 422, body = Problem)))]
#[post(
    "/expenditures/{id}/attachments",
    wrap = "RequireRole(roles::APPLICANT)"
)]
pub async fn upload_expenditure_attachment(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<Uuid>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let owner = Owner {
        kind: OwnerType::Expenditure,
        id: path.into_inner(),
    };
    upload(&state, &caller, &req, payload, owner).await
}

/// The expenditure's attachments (admin, finance, the grantee).
#[utoipa::path(get, path = "/api/v1/expenditures/{id}/attachments", tag = "attachments", security(("bearer" = [])), params(("id" = Uuid, Path), AttachmentListQuery),
    responses((status = 200, body = Page<AttachmentView>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get(
    "/expenditures/{id}/attachments",
    wrap = "RequireRole(roles::ADMIN_APPLICANT_OR_FINANCE)"
)]
pub async fn list_expenditure_attachments(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    query: web::Query<AttachmentListQuery>,
) -> ApiResult<HttpResponse> {
    let owner = Owner {
        kind: OwnerType::Expenditure,
        id: path.into_inner(),
    };
    list(&state, &caller, owner, query.into_inner()).await
}

/// Download an attachment: the bytes as stored, `Content-Disposition: attachment` with the
/// name (Chinese kept in `filename*`), `X-Content-Type-Options: nosniff`. Visible exactly to
/// whoever may see its owner (404 otherwise).
#[utoipa::path(get, path = "/api/v1/attachments/{id}", tag = "attachments", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>, description = "the bytes; Content-Type as detected at upload"),
        (status = 401, body = Problem), (status = 404, body = Problem)))]
#[get("/attachments/{id}")]
pub async fn download_attachment(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let (meta, bytes) = svc::download(&state.db, &caller, path.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, meta.content_type.clone()))
        .insert_header((
            header::CONTENT_DISPOSITION,
            content_disposition(&meta.filename),
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header(("X-Checksum-SHA256", meta.sha256.clone()))
        .body(bytes))
}

/// Delete an attachment while its owner is still editable by the caller (a draft
/// application, an active grant, an expenditure not in a report).
#[utoipa::path(delete, path = "/api/v1/attachments/{id}", tag = "attachments", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "invalid_state: the owner is no longer editable")))]
#[delete("/attachments/{id}", wrap = "RequireRole(roles::ADMIN_OR_APPLICANT)")]
pub async fn delete_attachment(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    svc::delete(&state.db, &caller, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
