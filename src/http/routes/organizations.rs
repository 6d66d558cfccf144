use actix_web::{get, patch, post, web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::auth::{roles, Caller};
use crate::domain::credit_code::OrganizationType;
use crate::domain::rating::{AssessmentResult, PartyBuildingStatus, Rating};
use crate::domain::user::Role;
use crate::http::error::{ApiError, ApiResult, Problem};
use crate::http::extract::ValidJson;
use crate::http::guard::RequireRole;
use crate::http::pagination::{Page, PageRequest};
use crate::http::views::parse_text;
use crate::http::AppState;
use crate::service::organizations::{self as svc, OrganizationFacts};
use crate::storage::models::OrganizationRow;
use crate::storage::organizations::{self, OrganizationFilter};

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
pub(crate) use crate::domain::patch::double_option;

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrganization {
    pub name: String,
    /// 18-character unified social credit code; only `community_organization` may omit it.
    #[schema(example = "51320583MJ0000018Y")]
    pub credit_code: Option<String>,
    pub org_type: OrganizationType,
    pub registration_date: Option<NaiveDate>,
    #[serde(default)]
    pub district: String,
    #[serde(default)]
    pub contact_person: String,
    #[serde(default)]
    pub contact_phone: String,
    #[serde(default)]
    pub contact_email: String,
    pub rating: Option<Rating>,
    pub rating_valid_until: Option<NaiveDate>,
    pub party_building_status: Option<PartyBuildingStatus>,
    #[schema(minimum = 0, maximum = 1000000)]
    pub party_member_count: Option<i32>,
    pub party_assessment: Option<AssessmentResult>,
}

/// Fields to change; absent fields stay, `null` clears a clearable one. Applicants may change
/// only the contact fields of their own organization.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationPatch {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub credit_code: Option<Option<String>>,
    pub org_type: Option<OrganizationType>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub registration_date: Option<Option<NaiveDate>>,
    pub district: Option<String>,
    pub contact_person: Option<String>,
    pub contact_phone: Option<String>,
    pub contact_email: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Rating>)]
    pub rating: Option<Option<Rating>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub rating_valid_until: Option<Option<NaiveDate>>,
    pub party_building_status: Option<PartyBuildingStatus>,
    #[schema(minimum = 0, maximum = 1000000)]
    pub party_member_count: Option<i32>,
    pub party_assessment: Option<AssessmentResult>,
    /// Admin only: refuse the organization's submissions until this date (inclusive).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub blacklisted_until: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub blacklist_reason: Option<Option<String>>,
}

impl OrganizationPatch {
    /// Names of the fields set that are not contact fields.
    fn restricted_fields(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        macro_rules! check { ($($f:ident),*) => { $( if self.$f.is_some() { out.push(stringify!($f)); } )* } }
        check!(
            name,
            credit_code,
            org_type,
            registration_date,
            district,
            rating,
            rating_valid_until,
            party_building_status,
            party_member_count,
            party_assessment,
            blacklisted_until,
            blacklist_reason
        );
        out
    }

    fn apply(self, f: &mut OrganizationFacts) {
        macro_rules! set { ($($x:ident),*) => { $( if let Some(v) = self.$x { f.$x = v; } )* } }
        set!(
            name,
            credit_code,
            org_type,
            registration_date,
            district,
            contact_person,
            contact_phone,
            contact_email,
            rating,
            rating_valid_until,
            party_building_status,
            party_member_count,
            party_assessment,
            blacklisted_until,
            blacklist_reason
        );
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationView {
    pub id: Uuid,
    pub name: String,
    pub credit_code: Option<String>,
    pub org_type: OrganizationType,
    pub registration_date: Option<NaiveDate>,
    pub district: String,
    pub contact_person: String,
    pub contact_phone: String,
    pub contact_email: String,
    pub rating: Option<Rating>,
    pub rating_valid_until: Option<NaiveDate>,
    pub party_building_status: PartyBuildingStatus,
    pub party_member_count: i32,
    pub party_assessment: AssessmentResult,
    /// Shown to admins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blacklisted_until: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blacklist_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl OrganizationView {
    pub fn from_row(r: OrganizationRow, caller: &Caller) -> Result<Self, ApiError> {
        let admin = caller.is(Role::Admin);
        Ok(Self {
            id: r.id,
            org_type: parse_text(&r.org_type)?,
            rating: r.rating.as_deref().map(parse_text).transpose()?,
            party_building_status: parse_text(&r.party_building_status)?,
            party_assessment: parse_text(&r.party_assessment)?,
            name: r.name,
            credit_code: r.credit_code,
            registration_date: r.registration_date,
            district: r.district,
            contact_person: r.contact_person,
            contact_phone: r.contact_phone,
            contact_email: r.contact_email,
            rating_valid_until: r.rating_valid_until,
            party_member_count: r.party_member_count,
            blacklisted_until: r.blacklisted_until.filter(|_| admin),
            blacklist_reason: r.blacklist_reason.filter(|_| admin),
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// Register an organization (admin only).
#[utoipa::path(post, path = "/api/v1/organizations", tag = "organizations", security(("bearer" = [])),
    request_body = NewOrganization,
    responses((status = 201, body = OrganizationView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "credit_code_taken"),
        (status = 422, body = Problem, description = "validation_failed, or rule_violation (rating_cap)")))]
#[post("/organizations", wrap = "RequireRole(roles::ADMIN)")]
pub async fn create_organization(
    state: web::Data<AppState>,
    caller: Caller,
    body: ValidJson<NewOrganization>,
) -> ApiResult<HttpResponse> {
    let b = body.0;
    let facts = OrganizationFacts {
        name: b.name,
        credit_code: b.credit_code.map(|c| c.trim().to_string()),
        org_type: b.org_type,
        registration_date: b.registration_date,
        district: b.district,
        contact_person: b.contact_person,
        contact_phone: b.contact_phone,
        contact_email: b.contact_email,
        rating: b.rating,
        rating_valid_until: b.rating_valid_until,
        party_building_status: b.party_building_status.unwrap_or(PartyBuildingStatus::None),
        party_member_count: b.party_member_count.unwrap_or(0),
        party_assessment: b.party_assessment.unwrap_or(AssessmentResult::NotAssessed),
        blacklisted_until: None,
        blacklist_reason: None,
    };
    let row = svc::create(&state.db, facts, Some(&caller)).await?;
    Ok(HttpResponse::Created().json(OrganizationView::from_row(row, &caller)?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OrganizationListQuery {
    /// Part of the name, any case.
    pub name: Option<String>,
    pub org_type: Option<OrganizationType>,
    pub rating: Option<Rating>,
    pub district: Option<String>,
    /// Page size, 1..200 (default 50).
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// List organizations: admins and finance see all, an applicant its own.
#[utoipa::path(get, path = "/api/v1/organizations", tag = "organizations", security(("bearer" = [])),
    params(OrganizationListQuery),
    responses((status = 200, body = Page<OrganizationView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
#[get(
    "/organizations",
    wrap = "RequireRole(roles::ADMIN_APPLICANT_OR_FINANCE)"
)]
pub async fn list_organizations(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<OrganizationListQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let filter = OrganizationFilter {
        name: q.name,
        org_type: q.org_type.map(|t| t.as_str().into()),
        rating: q.rating.map(|r| r.as_str().into()),
        district: q.district,
        name_or_code: None,
    };
    let mut conn = state.db.conn().await?;
    let rows = organizations::list(
        &mut conn,
        caller.organization_scope(),
        &filter,
        page.after,
        page.fetch(),
    )
    .await?;
    let views = rows
        .into_iter()
        .map(|r| OrganizationView::from_row(r, &caller))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(page.page(views, |o| (o.created_at, o.id), |o| o)))
}

/// One organization (an applicant may read its own only; others answer 404).
#[utoipa::path(get, path = "/api/v1/organizations/{id}", tag = "organizations", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = OrganizationView), (status = 401, body = Problem), (status = 404, body = Problem)))]
#[get(
    "/organizations/{id}",
    wrap = "RequireRole(roles::ADMIN_APPLICANT_OR_FINANCE)"
)]
pub async fn get_organization(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.db.conn().await?;
    let row = organizations::get(&mut conn, caller.organization_scope(), path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(OrganizationView::from_row(row, &caller)?))
}

/// Change an organization. Admins: every field (every rule re-checked, rating cap included).
/// Applicants: the contact fields of their own organization only (403 `field_not_allowed`).
#[utoipa::path(patch, path = "/api/v1/organizations/{id}", tag = "organizations", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = OrganizationPatch,
    responses((status = 200, body = OrganizationView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[patch("/organizations/{id}", wrap = "RequireRole(roles::ADMIN_OR_APPLICANT)")]
pub async fn update_organization(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ValidJson<OrganizationPatch>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let patch = body.0;
    if caller.is(Role::Applicant) {
        let restricted = patch.restricted_fields();
        if !restricted.is_empty() {
            // Say nothing about an organization that is not theirs.
            let mut conn = state.db.conn().await?;
            organizations::get(&mut conn, caller.organization_scope(), id).await?;
            return Err(ApiError::from(crate::service::Error::Forbidden {
                code: "field_not_allowed",
                detail: format!(
                    "applicants may change contact fields only, not: {}",
                    restricted.join(", ")
                ),
            }));
        }
    }
    let row = svc::update(
        &state.db,
        caller.organization_scope(),
        id,
        &caller,
        move |f| patch.apply(f),
    )
    .await?;
    Ok(HttpResponse::Ok().json(OrganizationView::from_row(row, &caller)?))
}
