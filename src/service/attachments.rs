//! Attachments of applications, grants and expenditures: the registration certificate, the
//! project plan, the stamped commitment letter (承诺书), receipts (票据), evaluation reports.
//!
//! An attachment is visible exactly to those who can see its owner (404 otherwise) and is
//! added or deleted by those who may edit the owner while it is editable: an application's by
//! its organization's applicants while it is a draft; a grant's by its grantee's applicants or
//! an admin while it is active; an expenditure's by the grantee's applicants while it is not in
//! a report. The type is decided by the bytes (magic numbers; XLSX and DOCX by the entries of
//! their zip), never by the name or the declared content type.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Caller;
use crate::domain::grant::GrantStatus;
use crate::domain::lifecycle::ApplicationStatus;
use crate::domain::user::Role;
use crate::domain::violation::Violation;
use crate::service::error::parse_text;
use crate::service::{run_transaction, Error};
use crate::storage::attachments::{self as store, blobs, AttachmentRow};
use crate::storage::{applications, grants, spending, Database};

crate::string_enum! {
    pub enum AttachmentKind {
        /// 登记证书
        RegistrationCertificate = "registration_certificate",
        /// 项目计划书
        ProjectPlan = "project_plan",
        /// 承诺书 (stamped)
        CommitmentLetter = "commitment_letter",
        /// 票据
        Receipt = "receipt",
        /// 评估报告
        EvaluationReport = "evaluation_report",
        Other = "other",
    }
}

crate::string_enum! {
    pub enum OwnerType {
        Application = "application",
        Grant = "grant",
        Expenditure = "expenditure",
    }
}

/// What an attachment belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub kind: OwnerType,
    pub id: Uuid,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttachmentView {
    pub id: Uuid,
    pub owner_type: OwnerType,
    pub owner_id: Uuid,
    pub filename: String,
    pub kind: AttachmentKind,
    /// Decided from the bytes.
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    pub uploaded_by: Uuid,
    pub uploaded_at: DateTime<Utc>,
}

impl AttachmentView {
    pub fn from_row(r: &AttachmentRow) -> Result<Self, Error> {
        Ok(Self {
            id: r.id,
            owner_type: parse_text(&r.owner_type)?,
            owner_id: r.owner_id,
            filename: r.filename.clone(),
            kind: parse_text(&r.kind)?,
            content_type: r.content_type.clone(),
            size: r.size,
            sha256: hex::encode(&r.sha256),
            uploaded_by: r.uploaded_by,
            uploaded_at: r.uploaded_at,
        })
    }
}

// ---------------------------------------------------------------- the bytes

/// An accepted file type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    Pdf,
    Jpeg,
    Png,
    Xlsx,
    Docx,
}

impl FileType {
    pub fn content_type(self) -> &'static str {
        match self {
            FileType::Pdf => "application/pdf",
            FileType::Jpeg => "image/jpeg",
            FileType::Png => "image/png",
            FileType::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            FileType::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
        }
    }

    /// File name extensions that fit the type; the first is added to a name without one.
    fn extensions(self) -> &'static [&'static str] {
        match self {
            FileType::Pdf => &["pdf"],
            FileType::Jpeg => &["jpg", "jpeg"],
            FileType::Png => &["png"],
            FileType::Xlsx => &["xlsx"],
            FileType::Docx => &["docx"],
        }
    }
}

/// The type of a file from its bytes: PDF, JPEG and PNG by their magic numbers; a zip is XLSX
/// or DOCX only when it holds `[Content_Types].xml` and the workbook or the document part.
pub fn detect(bytes: &[u8]) -> Option<FileType> {
    if bytes.starts_with(b"%PDF-") {
        return Some(FileType::Pdf);
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(FileType::Jpeg);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(FileType::Png);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        let zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).ok()?;
        let has = |name: &str| zip.index_for_name(name).is_some();
        if !has("[Content_Types].xml") {
            return None;
        }
        if has("xl/workbook.xml") {
            return Some(FileType::Xlsx);
        }
        if has("word/document.xml") {
            return Some(FileType::Docx);
        }
    }
    None
}

pub const MAX_FILENAME_CHARS: usize = 255;

/// The name to keep: the last path segment, without control characters, characters that are
/// unsafe in file names, or leading dots; an extension that fits the type added when missing.
pub fn sanitize_filename(raw: &str, ty: FileType) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '<' | '>' | ':' | '|' | '?' | '*'))
        .collect();
    let mut name = cleaned.trim().trim_start_matches('.').trim().to_string();
    if name.is_empty() {
        name = "attachment".into();
    }
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let suffix = if ty.extensions().contains(&ext.as_str()) {
        String::new()
    } else {
        format!(".{}", ty.extensions()[0])
    };
    let keep = MAX_FILENAME_CHARS - suffix.chars().count();
    let mut out: String = name.chars().take(keep).collect();
    out.push_str(&suffix);
    out
}

/// `Content-Disposition: attachment` with an ASCII fallback name and the real one in
/// `filename*` (RFC 6266 / RFC 8187), so Chinese names survive.
pub fn content_disposition(filename: &str) -> String {
    let fallback: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in filename.as_bytes() {
        let c = *b as char;
        if c.is_ascii_alphanumeric() || "!#$&+-.^_`|~".contains(c) {
            encoded.push(c);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

// ---------------------------------------------------------------- owners

/// What the caller may do with an owner it can see.
enum Writable {
    Yes,
    Forbidden(&'static str),
    NotNow(String),
}

struct OwnerState {
    organization_id: Uuid,
    writable: Writable,
}

impl OwnerState {
    fn require_writable(&self) -> Result<(), Error> {
        match &self.writable {
            Writable::Yes => Ok(()),
            Writable::Forbidden(why) => Err(Error::forbidden(*why)),
            Writable::NotNow(why) => Err(Error::invalid_state(why.clone())),
        }
    }
}

/// The owner as the caller may see it (404 otherwise), locked when `lock` (grant before
/// expenditure, the order the spending service locks in).
async fn owner_state(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    owner: Owner,
    lock: bool,
) -> Result<OwnerState, Error> {
    match owner.kind {
        OwnerType::Application => {
            let mut a = applications::get(conn, caller.application_scope(), owner.id).await?;
            if lock {
                a = applications::lock(conn, a.id).await?;
            }
            let status: ApplicationStatus = parse_text(&a.status)?;
            let writable = if caller.role != Role::Applicant {
                Writable::Forbidden("an application's documents are added by its organization")
            } else if status != ApplicationStatus::Draft {
                Writable::NotNow(format!(
                    "the application is {status}; its documents are fixed once it is submitted"
                ))
            } else {
                Writable::Yes
            };
            Ok(OwnerState {
                organization_id: a.organization_id,
                writable,
            })
        }
        OwnerType::Grant => {
            let mut g = grants::get(conn, caller.organization_scope(), owner.id).await?;
            if lock {
                g = grants::lock(conn, g.id).await?;
            }
            let writable = if !matches!(caller.role, Role::Applicant | Role::Admin) {
                Writable::Forbidden("a grant's documents are added by the grantee or an admin")
            } else if g.status != GrantStatus::Active.as_str() {
                Writable::NotNow(format!(
                    "the grant is {}; its documents are closed",
                    g.status
                ))
            } else {
                Writable::Yes
            };
            Ok(OwnerState {
                organization_id: g.organization_id,
                writable,
            })
        }
        OwnerType::Expenditure => {
            let mut e = spending::expenditure(conn, owner.id).await?;
            let mut g = grants::get(conn, caller.organization_scope(), e.grant_id).await?;
            if lock {
                g = grants::lock(conn, g.id).await?;
                e = spending::lock_expenditure(conn, e.id).await?;
            }
            let writable = if caller.role != Role::Applicant {
                Writable::Forbidden("an expenditure's receipts are added by the grantee")
            } else if g.status != GrantStatus::Active.as_str() {
                Writable::NotNow(format!("the grant is {}; its spending is closed", g.status))
            } else if e.report_id.is_some() {
                Writable::NotNow(
                    "the expenditure is in a submitted financial report; its receipts are fixed"
                        .into(),
                )
            } else {
                Writable::Yes
            };
            Ok(OwnerState {
                organization_id: g.organization_id,
                writable,
            })
        }
    }
}

/// Checks, before the body is read, that the caller may add attachments to the owner now.
pub async fn authorize_upload(db: &Database, caller: &Caller, owner: Owner) -> Result<(), Error> {
    let mut conn = db.conn().await?;
    owner_state(&mut conn, caller, owner, false)
        .await?
        .require_writable()
}

/// A file as received.
pub struct Upload {
    pub filename: String,
    pub kind: AttachmentKind,
    pub bytes: Vec<u8>,
}

/// Why a received file is refused before anything is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRefusal {
    /// No bytes (the JSON API answers 422).
    Empty,
    /// Not PDF, JPEG, PNG, XLSX or DOCX by its content (415).
    UnsupportedType,
}

/// A received file whose type was decided from its bytes; only `check` makes one.
pub struct CheckedFile {
    upload: Upload,
    ty: FileType,
}

impl CheckedFile {
    pub fn check(upload: Upload) -> Result<Self, FileRefusal> {
        if upload.bytes.is_empty() {
            return Err(FileRefusal::Empty);
        }
        let ty = detect(&upload.bytes).ok_or(FileRefusal::UnsupportedType)?;
        Ok(Self { upload, ty })
    }

    pub fn file_type(&self) -> FileType {
        self.ty
    }
}

/// The validation error of an empty file.
pub fn empty_file() -> Error {
    Error::invalid(
        Violation::new("empty_file", "the file is empty")
            .limit(">= 1 byte")
            .actual(0)
            .field("file"),
    )
}

/// Stores a checked attachment (the owner re-checked under its lock).
pub async fn upload(
    db: &Database,
    caller: &Caller,
    owner: Owner,
    checked: CheckedFile,
) -> Result<AttachmentView, Error> {
    let CheckedFile { upload: file, ty } = checked;
    let filename = sanitize_filename(&file.filename, ty);
    let sha256 = Sha256::digest(&file.bytes).to_vec();
    run_transaction(db, async move |conn| {
        let state = owner_state(conn, caller, owner, true).await?;
        state.require_writable()?;
        let row = store::insert(
            conn,
            &AttachmentRow {
                id: Uuid::new_v4(),
                owner_type: owner.kind.as_str().into(),
                owner_id: owner.id,
                organization_id: state.organization_id,
                kind: file.kind.as_str().into(),
                filename,
                content_type: ty.content_type().into(),
                size: file.bytes.len() as i64,
                sha256,
                uploaded_by: caller.user_id,
                uploaded_at: Utc::now(),
            },
        )
        .await?;
        blobs::put(conn, row.id, &file.bytes).await?;
        let view = AttachmentView::from_row(&row)?;
        super::audit(
            conn,
            Some(caller),
            "attachment.uploaded",
            owner.kind.as_str(),
            owner.id,
            None::<&()>,
            Some(&view),
        )
        .await?;
        Ok(view)
    })
    .await
}

/// The owner of a stored attachment.
fn owner_of(row: &AttachmentRow) -> Result<Owner, Error> {
    Ok(Owner {
        kind: parse_text(&row.owner_type)?,
        id: row.owner_id,
    })
}

/// The attachment and its bytes, for whoever can see its owner (404 otherwise).
pub async fn download(
    db: &Database,
    caller: &Caller,
    id: Uuid,
) -> Result<(AttachmentView, Vec<u8>), Error> {
    let mut conn = db.conn().await?;
    let row = store::get(&mut conn, id).await?;
    owner_state(&mut conn, caller, owner_of(&row)?, false).await?;
    let bytes = blobs::get(&mut conn, id).await?;
    Ok((AttachmentView::from_row(&row)?, bytes))
}

/// A page of the owner's attachments (metadata only).
pub async fn list(
    db: &Database,
    caller: &Caller,
    owner: Owner,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<AttachmentView>, Error> {
    let mut conn = db.conn().await?;
    owner_state(&mut conn, caller, owner, false).await?;
    store::of_owner(&mut conn, owner.kind.as_str(), owner.id, after, limit)
        .await?
        .iter()
        .map(AttachmentView::from_row)
        .collect()
}

/// Deletes an attachment while its owner is editable by the caller.
pub async fn delete(db: &Database, caller: &Caller, id: Uuid) -> Result<(), Error> {
    run_transaction(db, async move |conn| {
        let seen = store::get(conn, id).await?;
        let owner = owner_of(&seen)?;
        owner_state(conn, caller, owner, true)
            .await?
            .require_writable()?;
        let row = store::lock(conn, id).await?;
        store::delete(conn, id).await?;
        super::audit(
            conn,
            Some(caller),
            "attachment.deleted",
            owner.kind.as_str(),
            owner.id,
            Some(&AttachmentView::from_row(&row)?),
            None::<&()>,
        )
        .await?;
        Ok(())
    })
    .await
}

/// Deletes every attachment of an owner that is itself being deleted, in the caller's
/// transaction (the owner already locked and checked).
pub async fn delete_all_of(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    owner_type: &str,
    owner_id: Uuid,
) -> Result<(), Error> {
    for row in store::of_owner(conn, owner_type, owner_id, None, i64::MAX).await? {
        store::delete(conn, row.id).await?;
        super::audit(
            conn,
            Some(caller),
            "attachment.deleted",
            owner_type,
            owner_id,
            Some(&AttachmentView::from_row(&row)?),
            None::<&()>,
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_with(names: &[&str]) -> Vec<u8> {
        use std::io::Write;
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for n in names {
            w.start_file(
                *n,
                zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Stored),
            )
            .unwrap();
            w.write_all(b"<x/>").unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(detect(b"%PDF-1.7\n..."), Some(FileType::Pdf));
        assert_eq!(
            detect(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]),
            Some(FileType::Jpeg)
        );
        assert_eq!(
            detect(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some(FileType::Png)
        );
        assert_eq!(
            detect(&zip_with(&["[Content_Types].xml", "xl/workbook.xml"])),
            Some(FileType::Xlsx)
        );
        assert_eq!(
            detect(&zip_with(&["[Content_Types].xml", "word/document.xml"])),
            Some(FileType::Docx)
        );
        assert_eq!(
            detect(&zip_with(&["word/document.xml"])),
            None,
            "a plain zip"
        );
        assert_eq!(
            detect(&zip_with(&["[Content_Types].xml", "ppt/presentation.xml"])),
            None
        );
        assert_eq!(detect(b"PK\x03\x04 not really a zip"), None);
        assert_eq!(detect(b"GIF89a"), None);
        assert_eq!(detect(b"<html>%PDF-"), None);
        assert_eq!(detect(b""), None);
    }

    #[test]
    fn names_lose_their_paths() {
        assert_eq!(
            sanitize_filename("../../etc/passwd", FileType::Pdf),
            "passwd.pdf"
        );
        assert_eq!(
            sanitize_filename("C:\\Users\\王\\收据 2026.pdf", FileType::Pdf),
            "收据 2026.pdf"
        );
        assert_eq!(sanitize_filename("..", FileType::Png), "attachment.png");
        assert_eq!(
            sanitize_filename("a\u{0}b\r\n<c>.JPEG", FileType::Jpeg),
            "abc.JPEG"
        );
        assert_eq!(
            sanitize_filename(".hidden.docx", FileType::Docx),
            "hidden.docx"
        );
        assert_eq!(sanitize_filename("", FileType::Xlsx), "attachment.xlsx");
        let long = "长".repeat(400);
        let s = sanitize_filename(&long, FileType::Pdf);
        assert_eq!(s.chars().count(), MAX_FILENAME_CHARS);
        assert!(s.ends_with(".pdf"));
    }

    #[test]
    fn chinese_names_survive_content_disposition() {
        assert_eq!(
            content_disposition("收据 1.pdf"),
            "attachment; filename=\"__ 1.pdf\"; filename*=UTF-8''%E6%94%B6%E6%8D%AE%201.pdf"
        );
        assert_eq!(
            content_disposition("a\"b.pdf"),
            "attachment; filename=\"a_b.pdf\"; filename*=UTF-8''a%22b.pdf"
        );
    }
}
