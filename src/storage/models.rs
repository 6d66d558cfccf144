//! Diesel row structs, insert forms and update forms, one set per table. They carry database
//! shapes (TEXT for enumerations, JSONB for nested documents); conversion to domain and API types
//! happens at the edges.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::schema::*;

// ---------- organizations ----------

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = organizations, check_for_backend(diesel::pg::Pg))]
pub struct OrganizationRow {
    pub id: Uuid,
    pub name: String,
    pub credit_code: Option<String>,
    pub org_type: String,
    pub registration_date: Option<NaiveDate>,
    pub district: String,
    pub contact_person: String,
    pub contact_phone: String,
    pub contact_email: String,
    pub rating: Option<String>,
    pub rating_valid_until: Option<NaiveDate>,
    pub party_building_status: String,
    pub party_member_count: i32,
    pub party_assessment: String,
    pub blacklisted_until: Option<NaiveDate>,
    pub blacklist_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = organizations)]
pub struct OrganizationInsertForm {
    pub id: Uuid,
    pub name: String,
    pub credit_code: Option<String>,
    pub org_type: String,
    pub registration_date: Option<NaiveDate>,
    pub district: String,
    pub contact_person: String,
    pub contact_phone: String,
    pub contact_email: String,
    pub rating: Option<String>,
    pub rating_valid_until: Option<NaiveDate>,
    pub party_building_status: String,
    pub party_member_count: i32,
    pub party_assessment: String,
    pub blacklisted_until: Option<NaiveDate>,
    pub blacklist_reason: Option<String>,
}

/// `None` leaves a column alone; `Some(None)` clears a nullable one.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = organizations)]
pub struct OrganizationUpdateForm {
    pub name: Option<String>,
    pub credit_code: Option<Option<String>>,
    pub org_type: Option<String>,
    pub registration_date: Option<Option<NaiveDate>>,
    pub district: Option<String>,
    pub contact_person: Option<String>,
    pub contact_phone: Option<String>,
    pub contact_email: Option<String>,
    pub rating: Option<Option<String>>,
    pub rating_valid_until: Option<Option<NaiveDate>>,
    pub party_building_status: Option<String>,
    pub party_member_count: Option<i32>,
    pub party_assessment: Option<String>,
    pub blacklisted_until: Option<Option<NaiveDate>>,
    pub blacklist_reason: Option<Option<String>>,
    pub updated_at: Option<DateTime<Utc>>,
}

// ---------- users and tokens ----------

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: String,
    pub organization_id: Option<Uuid>,
    pub language: String,
    pub password_hash: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct UserInsertForm {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: String,
    pub organization_id: Option<Uuid>,
    pub language: String,
    pub password_hash: String,
    pub active: bool,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserUpdateForm {
    pub name: Option<String>,
    pub language: Option<String>,
    pub password_hash: Option<String>,
    pub active: Option<bool>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = api_tokens, check_for_backend(diesel::pg::Pg))]
pub struct ApiTokenRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: String,
    pub name: String,
    pub digest: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = api_tokens)]
pub struct ApiTokenInsertForm {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: String,
    pub name: String,
    pub digest: Vec<u8>,
    pub expires_at: Option<DateTime<Utc>>,
}

// ---------- rounds ----------

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = rounds, check_for_backend(diesel::pg::Pg))]
pub struct RoundRow {
    pub id: Uuid,
    pub name: String,
    pub year: i32,
    pub kind: String,
    pub status: String,
    pub total_pool: Decimal,
    pub grant_min: Decimal,
    pub grant_max: Decimal,
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    pub project_start: Option<NaiveDate>,
    pub project_end: Option<NaiveDate>,
    pub focus_areas: Vec<String>,
    pub rules: serde_json::Value,
    pub rubric: serde_json::Value,
    pub party_points: serde_json::Value,
    pub tranche_schedule: serde_json::Value,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = rounds)]
pub struct RoundInsertForm {
    pub id: Uuid,
    pub name: String,
    pub year: i32,
    pub kind: String,
    pub status: String,
    pub total_pool: Decimal,
    pub grant_min: Decimal,
    pub grant_max: Decimal,
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    pub project_start: Option<NaiveDate>,
    pub project_end: Option<NaiveDate>,
    pub focus_areas: Vec<String>,
    pub rules: serde_json::Value,
    pub rubric: serde_json::Value,
    pub party_points: serde_json::Value,
    pub tranche_schedule: serde_json::Value,
    pub created_by: Uuid,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = rounds)]
pub struct RoundUpdateForm {
    pub name: Option<String>,
    pub year: Option<i32>,
    pub status: Option<String>,
    pub total_pool: Option<Decimal>,
    pub grant_min: Option<Decimal>,
    pub grant_max: Option<Decimal>,
    pub opens_at: Option<DateTime<Utc>>,
    pub closes_at: Option<DateTime<Utc>>,
    pub project_start: Option<Option<NaiveDate>>,
    pub project_end: Option<Option<NaiveDate>>,
    pub focus_areas: Option<Vec<String>>,
    pub rules: Option<serde_json::Value>,
    pub rubric: Option<serde_json::Value>,
    pub party_points: Option<serde_json::Value>,
    pub tranche_schedule: Option<serde_json::Value>,
    pub updated_at: Option<DateTime<Utc>>,
}

// ---------- applications ----------

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = applications, check_for_backend(diesel::pg::Pg))]
pub struct ApplicationRow {
    pub id: Uuid,
    pub round_id: Uuid,
    pub organization_id: Uuid,
    pub status: String,
    pub title: String,
    pub focus_area: String,
    pub summary: String,
    pub beneficiaries: String,
    pub beneficiary_count: i32,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub requested_grant: Decimal,
    pub co_funding: Decimal,
    pub team: serde_json::Value,
    pub party_activity_count: i32,
    pub party_activity_description: String,
    pub red_project: bool,
    pub previous_application_id: Option<Uuid>,
    pub budget_total: Decimal,
    pub budget_personnel: Decimal,
    pub budget_grant: Decimal,
    pub budget_self: Decimal,
    pub submitted_at: Option<DateTime<Utc>>,
    pub screening_reason: Option<String>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub award_amount: Option<Decimal>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = applications)]
pub struct ApplicationInsertForm {
    pub id: Uuid,
    pub round_id: Uuid,
    pub organization_id: Uuid,
    pub status: String,
    pub title: String,
    pub focus_area: String,
    pub summary: String,
    pub beneficiaries: String,
    pub beneficiary_count: i32,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub requested_grant: Decimal,
    pub co_funding: Decimal,
    pub team: serde_json::Value,
    pub party_activity_count: i32,
    pub party_activity_description: String,
    pub red_project: bool,
    pub previous_application_id: Option<Uuid>,
    pub created_by: Uuid,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = applications)]
pub struct ApplicationUpdateForm {
    pub status: Option<String>,
    pub title: Option<String>,
    pub focus_area: Option<String>,
    pub summary: Option<String>,
    pub beneficiaries: Option<String>,
    pub beneficiary_count: Option<i32>,
    pub start_date: Option<Option<NaiveDate>>,
    pub end_date: Option<Option<NaiveDate>>,
    pub requested_grant: Option<Decimal>,
    pub co_funding: Option<Decimal>,
    pub team: Option<serde_json::Value>,
    pub party_activity_count: Option<i32>,
    pub party_activity_description: Option<String>,
    pub red_project: Option<bool>,
    pub previous_application_id: Option<Option<Uuid>>,
    pub budget_total: Option<Decimal>,
    pub budget_personnel: Option<Decimal>,
    pub budget_grant: Option<Decimal>,
    pub budget_self: Option<Decimal>,
    pub submitted_at: Option<Option<DateTime<Utc>>>,
    pub screening_reason: Option<Option<String>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub award_amount: Option<Option<Decimal>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = budget_lines, check_for_backend(diesel::pg::Pg))]
pub struct BudgetLineRow {
    pub id: Uuid,
    pub application_id: Uuid,
    pub position: i32,
    pub category: String,
    pub description: String,
    pub quantity: Decimal,
    pub unit_cost: Decimal,
    pub amount: Decimal,
    pub funded_by: String,
}

// ---------- review ----------

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = panel_members, check_for_backend(diesel::pg::Pg))]
pub struct PanelMemberRow {
    pub round_id: Uuid,
    pub reviewer_id: Uuid,
    pub affiliations: Vec<Uuid>,
    pub added_by: Uuid,
    pub added_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = assignments, check_for_backend(diesel::pg::Pg))]
pub struct AssignmentRow {
    pub id: Uuid,
    pub round_id: Uuid,
    pub application_id: Uuid,
    pub reviewer_id: Uuid,
    pub status: String,
    pub scores: serde_json::Value,
    pub judged_total: Option<Decimal>,
    pub comment: String,
    pub conflict_reason: Option<String>,
    pub assigned_by: Uuid,
    pub submitted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = assignments)]
pub struct AssignmentInsertForm {
    pub id: Uuid,
    pub round_id: Uuid,
    pub application_id: Uuid,
    pub reviewer_id: Uuid,
    pub assigned_by: Uuid,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = assignments)]
pub struct AssignmentUpdateForm {
    pub status: Option<String>,
    pub scores: Option<serde_json::Value>,
    pub judged_total: Option<Option<Decimal>>,
    pub comment: Option<String>,
    pub conflict_reason: Option<Option<String>>,
    pub submitted_at: Option<Option<DateTime<Utc>>>,
    pub updated_at: Option<DateTime<Utc>>,
}

// ---------- awards ----------

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = award_decisions, check_for_backend(diesel::pg::Pg))]
pub struct AwardDecisionRow {
    pub round_id: Uuid,
    pub status: String,
    pub pool: Decimal,
    pub total_awarded: Decimal,
    pub notice_until: DateTime<Utc>,
    pub version: i32,
    pub published_by: Uuid,
    pub published_at: DateTime<Utc>,
    pub finalized_by: Option<Uuid>,
    pub finalized_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = awards, check_for_backend(diesel::pg::Pg))]
pub struct AwardRow {
    pub round_id: Uuid,
    pub application_id: Uuid,
    pub rank: Option<i32>,
    pub final_score: Option<Decimal>,
    pub outcome: String,
    pub requested: Decimal,
    pub amount: Decimal,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = award_objections, check_for_backend(diesel::pg::Pg))]
pub struct AwardObjectionRow {
    pub id: Uuid,
    pub round_id: Uuid,
    pub application_id: Option<Uuid>,
    pub objection: String,
    pub resolution: Option<String>,
    pub recorded_by: Uuid,
    pub recorded_at: DateTime<Utc>,
}

// ---------- grants and payouts ----------

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, serde::Serialize)]
#[diesel(table_name = grants, check_for_backend(diesel::pg::Pg))]
pub struct GrantRow {
    pub id: Uuid,
    pub application_id: Uuid,
    pub round_id: Uuid,
    pub organization_id: Uuid,
    pub amount: Decimal,
    pub status: String,
    pub previous_grant_id: Option<Uuid>,
    /// Maintained by the database (payouts trigger): requested + approved + paid.
    pub requested_total: Decimal,
    /// Maintained by the database: approved + paid.
    pub committed_total: Decimal,
    /// Maintained by the database: paid.
    pub paid_total: Decimal,
    pub clawback_amount: Option<Decimal>,
    pub terminated_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = grants)]
pub struct GrantInsertForm {
    pub id: Uuid,
    pub application_id: Uuid,
    pub round_id: Uuid,
    pub organization_id: Uuid,
    pub amount: Decimal,
    pub status: String,
    pub previous_grant_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
}

/// The totals are the trigger's, so they are not here.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = grants)]
pub struct GrantUpdateForm {
    pub status: Option<String>,
    pub clawback_amount: Option<Option<Decimal>>,
    pub terminated_at: Option<Option<DateTime<Utc>>>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, serde::Serialize)]
#[diesel(table_name = tranches, check_for_backend(diesel::pg::Pg))]
pub struct TrancheRow {
    pub id: Uuid,
    pub grant_id: Uuid,
    pub number: i32,
    pub percent: Decimal,
    pub amount: Decimal,
    pub milestone: String,
    pub status: String,
    pub requested_total: Decimal,
    pub committed_total: Decimal,
    pub paid_total: Decimal,
    pub due_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = tranches)]
pub struct TrancheInsertForm {
    pub id: Uuid,
    pub grant_id: Uuid,
    pub number: i32,
    pub percent: Decimal,
    pub amount: Decimal,
    pub milestone: String,
    pub status: String,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = tranches)]
pub struct TrancheUpdateForm {
    pub status: Option<String>,
    pub due_at: Option<Option<DateTime<Utc>>>,
    pub paid_at: Option<Option<DateTime<Utc>>>,
    pub cancelled_at: Option<Option<DateTime<Utc>>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = milestone_events, check_for_backend(diesel::pg::Pg))]
pub struct MilestoneEventRow {
    pub id: Uuid,
    pub grant_id: Uuid,
    pub milestone: String,
    pub score: Option<Decimal>,
    pub grade: Option<String>,
    pub passed: bool,
    pub note: String,
    pub recorded_by: Option<Uuid>,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = milestone_events)]
pub struct MilestoneEventInsertForm {
    pub id: Uuid,
    pub grant_id: Uuid,
    pub milestone: String,
    pub score: Option<Decimal>,
    pub grade: Option<String>,
    pub passed: bool,
    pub note: String,
    pub recorded_by: Option<Uuid>,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, serde::Serialize)]
#[diesel(table_name = payouts, check_for_backend(diesel::pg::Pg))]
pub struct PayoutRow {
    pub id: Uuid,
    pub grant_id: Uuid,
    pub tranche_id: Uuid,
    pub amount: Decimal,
    pub status: String,
    pub note: String,
    pub requested_by: Uuid,
    pub requested_at: DateTime<Utc>,
    pub approved_by: Option<Uuid>,
    pub approved_at: Option<DateTime<Utc>>,
    pub rejected_by: Option<Uuid>,
    pub rejected_at: Option<DateTime<Utc>>,
    pub rejected_reason: Option<String>,
    pub paid_by: Option<Uuid>,
    pub paid_at: Option<DateTime<Utc>>,
    pub bank_reference: Option<String>,
    pub value_date: Option<NaiveDate>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = payouts)]
pub struct PayoutInsertForm {
    pub id: Uuid,
    pub grant_id: Uuid,
    pub tranche_id: Uuid,
    pub amount: Decimal,
    pub status: String,
    pub note: String,
    pub requested_by: Uuid,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = payouts)]
pub struct PayoutUpdateForm {
    pub status: Option<String>,
    pub approved_by: Option<Option<Uuid>>,
    pub approved_at: Option<Option<DateTime<Utc>>>,
    pub rejected_by: Option<Option<Uuid>>,
    pub rejected_at: Option<Option<DateTime<Utc>>>,
    pub rejected_reason: Option<Option<String>>,
    pub paid_by: Option<Option<Uuid>>,
    pub paid_at: Option<Option<DateTime<Utc>>>,
    pub bank_reference: Option<Option<String>>,
    pub value_date: Option<Option<NaiveDate>>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = idempotency_keys, check_for_backend(diesel::pg::Pg))]
pub struct IdempotencyKeyRow {
    pub user_id: Uuid,
    pub key: String,
    pub request_hash: Vec<u8>,
    pub response_status: Option<i16>,
    pub response_body: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

// ---------- audit ----------

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_events, check_for_backend(diesel::pg::Pg))]
pub struct AuditEventRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub actor_role: Option<String>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Uuid,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = audit_events)]
pub struct AuditEventInsertForm {
    pub actor_id: Option<Uuid>,
    pub actor_role: Option<String>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Uuid,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_seals, check_for_backend(diesel::pg::Pg))]
pub struct AuditSealRow {
    pub seq: i64,
    pub event_id: i64,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
    pub sealed_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = audit_seals)]
pub struct AuditSealInsertForm {
    pub seq: i64,
    pub event_id: i64,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

// ---------- email outbox ----------

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = email_outbox, check_for_backend(diesel::pg::Pg))]
pub struct OutboxRow {
    pub id: i64,
    pub message_id: Uuid,
    pub recipient: String,
    pub recipient_name: String,
    pub language: String,
    pub kind: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = email_outbox)]
pub struct OutboxInsertForm {
    pub message_id: Uuid,
    pub recipient: String,
    pub recipient_name: String,
    pub language: String,
    pub kind: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
}

/// The sender's bookkeeping after one delivery attempt.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = email_outbox)]
pub struct OutboxUpdateForm {
    pub status: Option<String>,
    pub attempts: Option<i32>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<Option<String>>,
    pub sent_at: Option<Option<DateTime<Utc>>>,
}

// ---------- ranking projections ----------

/// What the ranking reads of one application and its organization: no budgets, long texts or
/// team list (only whether the team has a party member, computed in SQL).
#[derive(Debug, Clone, Queryable)]
pub struct RankingSourceRow {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub title: String,
    pub requested_grant: Decimal,
    pub submitted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub party_activity_count: i32,
    pub red_project: bool,
    pub team_has_party_member: bool,
    pub organization_name: String,
    pub party_building_status: String,
    pub party_assessment: String,
}

/// A `json` value as its text, for callers that decode it themselves (the ranking parses
/// tens of thousands of score sheets straight into decimals, without a JSON tree per sheet).
#[derive(Debug, Clone, PartialEq, diesel::deserialize::FromSqlRow)]
pub struct JsonText(pub Vec<u8>);

impl diesel::deserialize::FromSql<diesel::sql_types::Json, diesel::pg::Pg> for JsonText {
    fn from_sql(value: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
        // Binary `json` is the document's text as stored.
        Ok(JsonText(value.as_bytes().to_vec()))
    }
}
