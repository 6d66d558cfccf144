//! Attachments: metadata rows, and the bytes behind a narrow interface (`blobs`) so that an
//! object store could hold them instead of PostgreSQL. Today the bytes live in
//! `attachment_contents` (bytea), written in the same transaction as their metadata, so backups
//! and replicas carry them with everything else.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::attachments;
use super::StorageResult;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = attachments, check_for_backend(diesel::pg::Pg))]
pub struct AttachmentRow {
    pub id: Uuid,
    pub owner_type: String,
    pub owner_id: Uuid,
    pub organization_id: Uuid,
    pub kind: String,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: Vec<u8>,
    pub uploaded_by: Uuid,
    pub uploaded_at: DateTime<Utc>,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    row: &AttachmentRow,
) -> StorageResult<AttachmentRow> {
    Ok(diesel::insert_into(attachments::table)
        .values(row)
        .returning(AttachmentRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn get(conn: &mut AsyncPgConnection, id: Uuid) -> StorageResult<AttachmentRow> {
    Ok(attachments::table
        .find(id)
        .select(AttachmentRow::as_select())
        .first(conn)
        .await?)
}

pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> StorageResult<AttachmentRow> {
    Ok(attachments::table
        .find(id)
        .select(AttachmentRow::as_select())
        .for_update()
        .first(conn)
        .await?)
}

/// A page of an owner's attachments, oldest first.
pub async fn of_owner(
    conn: &mut AsyncPgConnection,
    owner_type: &str,
    owner_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> StorageResult<Vec<AttachmentRow>> {
    let mut q = attachments::table
        .filter(attachments::owner_type.eq(owner_type.to_string()))
        .filter(attachments::owner_id.eq(owner_id))
        .select(AttachmentRow::as_select())
        .into_boxed();
    if let Some((at, id)) = after {
        q = q.filter(attachments::uploaded_at.ge(at));
        q = q.filter(
            attachments::uploaded_at
                .gt(at)
                .or(attachments::uploaded_at.eq(at).and(attachments::id.gt(id))),
        );
    }
    Ok(q.order((attachments::uploaded_at, attachments::id))
        .limit(limit)
        .load(conn)
        .await?)
}

/// Deletes the metadata and the bytes.
pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> StorageResult<()> {
    blobs::delete(conn, id).await?;
    diesel::delete(attachments::table.find(id))
        .execute(conn)
        .await?;
    Ok(())
}

/// The bytes of attachments, by attachment id: `put`, `get`, `delete`, nothing else. An
/// object-store implementation would replace this module (keyed by the same id, written before
/// the metadata commits and removed after it is deleted).
pub mod blobs {
    use super::*;
    use crate::storage::schema::attachment_contents;

    pub async fn put(conn: &mut AsyncPgConnection, id: Uuid, bytes: &[u8]) -> StorageResult<()> {
        diesel::insert_into(attachment_contents::table)
            .values((
                attachment_contents::attachment_id.eq(id),
                attachment_contents::bytes.eq(bytes),
            ))
            .execute(conn)
            .await?;
        Ok(())
    }

    pub async fn get(conn: &mut AsyncPgConnection, id: Uuid) -> StorageResult<Vec<u8>> {
        Ok(attachment_contents::table
            .find(id)
            .select(attachment_contents::bytes)
            .first(conn)
            .await?)
    }

    pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> StorageResult<()> {
        diesel::delete(attachment_contents::table.find(id))
            .execute(conn)
            .await?;
        Ok(())
    }
}
