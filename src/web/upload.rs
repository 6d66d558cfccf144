//! Uploads from page forms: the multipart counterpart of `PostedForm`. The session's CSRF
//! token must come first, as the hidden `csrf_token` field before the file (browsers send the
//! fields in the form's order) or as an `X-CSRF-Token` header: a file part before a valid
//! token is refused (403) without reading a byte of it. The file is read in chunks and
//! refused once it passes `attachments.max_bytes`, as the API does.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{web, HttpMessage, HttpRequest};
use futures_util::StreamExt;

use crate::service::attachments::{AttachmentKind, Upload};
use crate::service::sessions::WebSession;
use crate::web::error::WebError;

/// Room for the multipart framing on top of the file when judging a declared length.
const FORM_OVERHEAD: usize = 64 * 1024;
const MAX_FIELD_BYTES: usize = 256;
/// A refused upload up to this size is read to its end before the answer, so the browser
/// shows the page that says why (a connection closed mid-upload shows nothing useful).
const DRAIN_LIMIT: usize = 128 * 1024 * 1024;

/// Why an upload form was refused, besides a forgery.
#[derive(Debug)]
pub enum UploadRefusal {
    TooLarge {
        limit: usize,
    },
    /// Not `multipart/form-data`, a form that cannot be read, no file, two files, an unknown
    /// kind: the message says which.
    Invalid(&'static str),
}

/// Compares without an early exit.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

async fn drain(mut form: Multipart, mut read: usize) {
    while let Some(Ok(mut part)) = form.next().await {
        while let Some(Ok(chunk)) = part.next().await {
            read = read.saturating_add(chunk.len());
            if read > DRAIN_LIMIT {
                return;
            }
        }
    }
}

async fn field_text(part: &mut actix_multipart::Field) -> Result<String, UploadRefusal> {
    let mut bytes = Vec::new();
    while let Some(chunk) = part.next().await {
        let chunk = chunk.map_err(|_| UploadRefusal::Invalid("the form cannot be read"))?;
        if bytes.len() + chunk.len() > MAX_FIELD_BYTES {
            return Err(UploadRefusal::Invalid("the form cannot be read"));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&bytes).trim().to_string())
}

/// Reads an upload form posted by a page: `csrf_token` (or the header), `file`, `kind`.
/// `Err(Err(Forgery))` without this session's token; `Ok(Err(refusal))` for a form the page
/// shows again with the reason.
pub async fn read(
    req: &HttpRequest,
    payload: web::Payload,
    max: usize,
) -> Result<Result<Upload, UploadRefusal>, WebError> {
    let expected = req
        .extensions()
        .get::<WebSession>()
        .map(|s| s.csrf_token.clone())
        .filter(|t| !t.is_empty())
        .ok_or(WebError::Forgery)?;
    let mut verified = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| same(t, &expected));
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !is_form {
        return Ok(Err(UploadRefusal::Invalid(
            "an upload is multipart/form-data with a `file` field",
        )));
    }
    let declared: Option<usize> = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let mut form = Multipart::new(req.headers(), payload);
    let too_large = UploadRefusal::TooLarge { limit: max };
    if declared.is_some_and(|n| n > max.saturating_add(FORM_OVERHEAD)) {
        if declared.is_some_and(|n| n <= DRAIN_LIMIT) {
            drain(form, 0).await;
        }
        // The token is not read: nothing is stored either way.
        return Ok(Err(too_large));
    }
    let mut file: Option<(String, Vec<u8>)> = None;
    let mut kind: Option<String> = None;
    while let Some(part) = form.next().await {
        let Ok(mut part) = part else {
            return Ok(Err(UploadRefusal::Invalid("the form cannot be read")));
        };
        match part.name().unwrap_or_default() {
            "csrf_token" => {
                let got = match field_text(&mut part).await {
                    Ok(t) => t,
                    Err(_) => return Err(WebError::Forgery),
                };
                if !same(&got, &expected) {
                    return Err(WebError::Forgery);
                }
                verified = true;
            }
            "file" => {
                if !verified {
                    return Err(WebError::Forgery);
                }
                if file.is_some() {
                    return Ok(Err(UploadRefusal::Invalid("an upload carries one file")));
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
                    let Ok(chunk) = chunk else {
                        return Ok(Err(UploadRefusal::Invalid("the form cannot be read")));
                    };
                    if bytes.len() + chunk.len() > max {
                        let read = bytes.len() + chunk.len();
                        drop(part);
                        drain(form, read).await;
                        return Ok(Err(too_large));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                file = Some((name, bytes));
            }
            "kind" => match field_text(&mut part).await {
                Ok(k) => kind = Some(k),
                Err(r) => return Ok(Err(r)),
            },
            // Other fields of a page form (a submit button's name) mean nothing here.
            _ => {
                if field_text(&mut part).await.is_err() {
                    return Ok(Err(UploadRefusal::Invalid("the form cannot be read")));
                }
            }
        }
    }
    if !verified {
        return Err(WebError::Forgery);
    }
    let kind = match kind.as_deref() {
        None | Some("") => AttachmentKind::Other,
        Some(k) => match k.parse() {
            Ok(k) => k,
            Err(_) => return Ok(Err(UploadRefusal::Invalid("not a kind of attachment"))),
        },
    };
    let Some((filename, bytes)) = file else {
        return Ok(Err(UploadRefusal::Invalid("choose a file to upload")));
    };
    Ok(Ok(Upload {
        filename,
        kind,
        bytes,
    }))
}
