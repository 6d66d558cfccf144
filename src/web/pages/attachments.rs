//! Attachments in the browser: the documents of an application (registration certificate,
//! project plan, commitment letter, while it is a draft) and of a grant (evaluation reports,
//! while it is active) on their own pages, the receipts of an expenditure on its page; the
//! upload forms (multipart, CSRF-checked by `web::upload`), the download and the deletion.
//! Visibility and who may add are the service's (`service::attachments`), as for the API.

use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;
use uuid::Uuid;

use crate::http::AppState;
use crate::i18n;
use crate::service::attachments::{
    self as svc, content_disposition, AttachmentKind, AttachmentView, CheckedFile, FileRefusal,
    Owner, OwnerType,
};
use crate::service::{finance, portal};
use crate::web::error::{WebError, WebResult};
use crate::web::form::PostedForm;
use crate::web::page::PageContext;
use crate::web::pages::{html_status, see_other};
use crate::web::session::{safe_next, Signed};
use crate::web::upload::{self, UploadRefusal};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(application_page)
        .service(grant_page)
        .service(upload_to_application)
        .service(upload_to_grant)
        .service(upload_to_expenditure)
        .service(download)
        .service(delete);
}

/// The attachment list and upload form of one owner, as a section of its page
/// (`attachments_section.html`).
pub struct AttachmentsSection {
    pub owner_path: String,
    pub list: Vec<AttachmentView>,
    pub can_upload: bool,
    pub kinds: &'static [AttachmentKind],
    pub error: Option<String>,
    pub max_mb: String,
}

impl AttachmentsSection {
    pub fn kind_names(&self) -> Vec<&'static str> {
        self.kinds.iter().map(|k| k.as_str()).collect()
    }
    pub fn size_text(&self, a: &AttachmentView) -> String {
        if a.size >= 1024 * 1024 {
            format!("{:.1} MB", a.size as f64 / (1024.0 * 1024.0))
        } else {
            format!("{:.1} KB", a.size as f64 / 1024.0)
        }
    }
}

fn kinds_of(owner: OwnerType) -> &'static [AttachmentKind] {
    match owner {
        OwnerType::Application => &[
            AttachmentKind::RegistrationCertificate,
            AttachmentKind::ProjectPlan,
            AttachmentKind::CommitmentLetter,
            AttachmentKind::Other,
        ],
        OwnerType::Grant => &[
            AttachmentKind::EvaluationReport,
            AttachmentKind::CommitmentLetter,
            AttachmentKind::Other,
        ],
        OwnerType::Expenditure => &[AttachmentKind::Receipt, AttachmentKind::Other],
    }
}

fn owner_path(owner: Owner) -> String {
    let base = match owner.kind {
        OwnerType::Application => "applications",
        OwnerType::Grant => "grants",
        OwnerType::Expenditure => "expenditures",
    };
    format!("/{base}/{}", owner.id)
}

/// The section of an owner the caller can see (404 otherwise); `error` is a refused upload.
pub async fn section(
    state: &AppState,
    s: &Signed,
    owner: Owner,
    error: Option<String>,
) -> WebResult<AttachmentsSection> {
    let caller = &s.0.caller;
    let list = svc::list(&state.db, caller, owner, None, 200).await?;
    let can_upload = svc::authorize_upload(&state.db, caller, owner)
        .await
        .is_ok();
    Ok(AttachmentsSection {
        owner_path: owner_path(owner),
        list,
        can_upload,
        kinds: kinds_of(owner.kind),
        error,
        max_mb: format!(
            "{:.0}",
            state.settings.attachments.max_bytes as f64 / (1024.0 * 1024.0)
        ),
    })
}

#[derive(Template)]
#[template(path = "attachments.html")]
struct AttachmentsPage {
    page: PageContext,
    title: String,
    /// Where the owner's own page is.
    back: String,
    owner_is_application: bool,
    att: AttachmentsSection,
    notice: Option<String>,
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

pub fn done_notice(done: Option<&str>) -> Option<String> {
    let en = match done? {
        "uploaded" => "The file was uploaded.",
        "attachment_deleted" => "The file was deleted.",
        _ => return None,
    };
    Some(i18n::text(i18n::current(), en))
}

async fn render_owner_page(
    state: &AppState,
    s: &Signed,
    owner: Owner,
    error: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> WebResult<HttpResponse> {
    let caller = &s.0.caller;
    let title = match owner.kind {
        OwnerType::Application => {
            portal::application_page(&state.db, caller, owner.id)
                .await?
                .application
                .title
        }
        OwnerType::Grant => {
            finance::grant_page(&state.db, caller, owner.id)
                .await?
                .grant
                .application_title
        }
        OwnerType::Expenditure => {
            return crate::web::pages::spending::render_expenditure(
                state, s, owner.id, error, notice, status,
            )
            .await
        }
    };
    let att = section(state, s, owner, error).await?;
    html_status(
        status,
        &AttachmentsPage {
            page: PageContext::new(&s.0, &state.settings.web.time_zone),
            title,
            back: owner_path(owner),
            owner_is_application: owner.kind == OwnerType::Application,
            att,
            notice,
        },
    )
}

#[get("/applications/{id}/attachments")]
pub async fn application_page(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
    q: web::Query<DoneQuery>,
) -> WebResult<HttpResponse> {
    let owner = Owner {
        kind: OwnerType::Application,
        id: path.into_inner(),
    };
    let notice = done_notice(q.done.as_deref());
    render_owner_page(&state, &s, owner, None, notice, StatusCode::OK).await
}

#[get("/grants/{id}/attachments")]
pub async fn grant_page(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
    q: web::Query<DoneQuery>,
) -> WebResult<HttpResponse> {
    let owner = Owner {
        kind: OwnerType::Grant,
        id: path.into_inner(),
    };
    let notice = done_notice(q.done.as_deref());
    render_owner_page(&state, &s, owner, None, notice, StatusCode::OK).await
}

/// The page of the owner after an upload: where it was posted from, with the outcome.
fn after_upload(owner: Owner) -> String {
    match owner.kind {
        OwnerType::Expenditure => format!("{}?done=uploaded", owner_path(owner)),
        _ => format!("{}/attachments?done=uploaded", owner_path(owner)),
    }
}

async fn upload(
    state: &AppState,
    s: Signed,
    req: HttpRequest,
    payload: web::Payload,
    owner: Owner,
) -> WebResult<HttpResponse> {
    let lang = i18n::current();
    // Before a byte of the body is read: may this caller add to this owner now? (404, 403 or
    // 409 as in the API.)
    svc::authorize_upload(&state.db, &s.0.caller, owner).await?;
    let max = state.settings.attachments.max_bytes;
    let refused = |status: StatusCode, message: String| (status, message);
    let outcome = match upload::read(&req, payload, max).await? {
        Ok(file) => match CheckedFile::check(file) {
            Ok(checked) => match svc::upload(&state.db, &s.0.caller, owner, checked).await {
                Ok(_) => return Ok(see_other(&after_upload(owner))),
                Err(e) => match e.violations() {
                    Some(vs) => refused(
                        crate::http::error::status_of(&e),
                        vs.iter()
                            .map(|v| i18n::localize_violation(lang, v).message)
                            .collect::<Vec<_>>()
                            .join(" "),
                    ),
                    None => return Err(WebError::Service(e)),
                },
            },
            Err(FileRefusal::Empty) => refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                i18n::text(lang, "the file is empty"),
            ),
            Err(FileRefusal::UnsupportedType) => refused(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                i18n::text(
                    lang,
                    "only PDF, JPEG, PNG, XLSX and DOCX files are accepted (decided by their content)",
                ),
            ),
        },
        Err(UploadRefusal::TooLarge { limit }) => refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            i18n::text(
                lang,
                &format!(
                    "the file is larger than {} MB",
                    (limit as f64 / (1024.0 * 1024.0) * 100.0).round() / 100.0
                ),
            ),
        ),
        Err(UploadRefusal::Invalid(why)) => {
            refused(StatusCode::UNPROCESSABLE_ENTITY, i18n::text(lang, why))
        }
    };
    let (status, message) = outcome;
    render_owner_page(state, &s, owner, Some(message), None, status).await
}

#[post("/applications/{id}/attachments")]
pub async fn upload_to_application(
    state: web::Data<AppState>,
    s: Signed,
    req: HttpRequest,
    payload: web::Payload,
    path: web::Path<Uuid>,
) -> WebResult<HttpResponse> {
    let owner = Owner {
        kind: OwnerType::Application,
        id: path.into_inner(),
    };
    upload(&state, s, req, payload, owner).await
}

#[post("/grants/{id}/attachments")]
pub async fn upload_to_grant(
    state: web::Data<AppState>,
    s: Signed,
    req: HttpRequest,
    payload: web::Payload,
    path: web::Path<Uuid>,
) -> WebResult<HttpResponse> {
    let owner = Owner {
        kind: OwnerType::Grant,
        id: path.into_inner(),
    };
    upload(&state, s, req, payload, owner).await
}

#[post("/expenditures/{id}/attachments")]
pub async fn upload_to_expenditure(
    state: web::Data<AppState>,
    s: Signed,
    req: HttpRequest,
    payload: web::Payload,
    path: web::Path<Uuid>,
) -> WebResult<HttpResponse> {
    let owner = Owner {
        kind: OwnerType::Expenditure,
        id: path.into_inner(),
    };
    upload(&state, s, req, payload, owner).await
}

/// The bytes as stored, with the API's headers: the detected type, `attachment` with the name
/// (Chinese kept in `filename*`), nosniff, never cached. 404 for anyone who may not see it.
#[get("/attachments/{id}")]
pub async fn download(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
) -> WebResult<HttpResponse> {
    let (meta, bytes) = svc::download(&state.db, &s.0.caller, path.into_inner()).await?;
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

/// Deletes an attachment while its owner is editable; back to the page it was deleted from.
#[post("/attachments/{id}/delete")]
pub async fn delete(
    state: web::Data<AppState>,
    s: Signed,
    path: web::Path<Uuid>,
    form: PostedForm,
) -> WebResult<HttpResponse> {
    svc::delete(&state.db, &s.0.caller, path.into_inner()).await?;
    let back = safe_next(form.get("back").unwrap_or("/"));
    let sep = if back.contains('?') { '&' } else { '?' };
    Ok(see_other(&format!("{back}{sep}done=attachment_deleted")))
}
