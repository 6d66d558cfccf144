use chrono::{NaiveDate, Utc};
use uuid::Uuid;

use crate::auth::Caller;
use crate::domain::credit_code::{check_code_matches_type, CreditCode, OrganizationType};
use crate::domain::rating::{
    check_rating, AssessmentResult, PartyBuildingStatus, Rating, RatingCaps,
};
use crate::domain::violation::Violation;
use crate::service::{run_transaction, Error};
use crate::storage::models::{OrganizationInsertForm, OrganizationRow, OrganizationUpdateForm};
use crate::storage::{organizations, Database, Scope};

/// An organization's registry facts, complete, as the rules check them.
#[derive(Debug, Clone)]
pub struct OrganizationFacts {
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
    pub blacklisted_until: Option<NaiveDate>,
    pub blacklist_reason: Option<String>,
}

impl OrganizationFacts {
    pub fn from_row(r: &OrganizationRow) -> Result<Self, Error> {
        use crate::service::error::parse_text;
        Ok(Self {
            name: r.name.clone(),
            credit_code: r.credit_code.clone(),
            org_type: parse_text(&r.org_type)?,
            registration_date: r.registration_date,
            district: r.district.clone(),
            contact_person: r.contact_person.clone(),
            contact_phone: r.contact_phone.clone(),
            contact_email: r.contact_email.clone(),
            rating: r.rating.as_deref().map(parse_text).transpose()?,
            rating_valid_until: r.rating_valid_until,
            party_building_status: parse_text(&r.party_building_status)?,
            party_member_count: r.party_member_count,
            party_assessment: parse_text(&r.party_assessment)?,
            blacklisted_until: r.blacklisted_until,
            blacklist_reason: r.blacklist_reason.clone(),
        })
    }

    /// Every registry rule at once: validation problems (422 `validation_failed`) first, then
    /// the rating cap of rule 4 (422 `rule_violation`).
    pub fn check(&self, caps: &RatingCaps) -> Result<(), Error> {
        let mut v = Vec::new();
        if self.name.trim().is_empty() || self.name.chars().count() > 200 {
            v.push(
                Violation::new("length", "name has 1 to 200 characters")
                    .limit("1..200")
                    .field("name"),
            );
        }
        let code = match self.credit_code.as_deref() {
            Some(raw) => match CreditCode::parse(raw) {
                Ok(c) => Some(c),
                Err(e) => {
                    v.push(
                        Violation::new("credit_code", e.to_string())
                            .actual(raw)
                            .field("credit_code"),
                    );
                    None
                }
            },
            None => None,
        };
        if code.is_some() || self.credit_code.is_none() {
            if let Err(e) = check_code_matches_type(code.as_ref(), self.org_type) {
                v.push(
                    Violation::new("credit_code_type", e.to_string())
                        .limit(self.org_type.code_prefix())
                        .field("credit_code"),
                );
            }
        }
        if self.rating.is_some() != self.rating_valid_until.is_some() {
            v.push(
                Violation::new(
                    "rating_validity",
                    "a rating needs the date it is valid until, and that date needs a rating",
                )
                .field("rating_valid_until"),
            );
        }
        if !(0..=1_000_000).contains(&self.party_member_count) {
            v.push(
                Violation::new("range", "party_member_count is 0 to 1,000,000")
                    .limit("0..1000000")
                    .actual(self.party_member_count)
                    .field("party_member_count"),
            );
        }
        if self.party_building_status == PartyBuildingStatus::None && self.party_member_count > 0 {
            // "三无" means no members either; the facts would contradict each other.
            v.push(
                Violation::new(
                    "party_building_consistency",
                    "status `none` means no party members; set a status or a member count of 0",
                )
                .actual(self.party_member_count)
                .field("party_member_count"),
            );
        }
        if self.contact_email.len() > 254
            || (!self.contact_email.is_empty()
                && !validator::ValidateEmail::validate_email(&self.contact_email))
        {
            v.push(
                Violation::new("email", "contact_email is not an email address")
                    .actual(&self.contact_email)
                    .field("contact_email"),
            );
        }
        for (field, value, max) in [
            ("district", &self.district, 100),
            ("contact_person", &self.contact_person, 100),
            ("contact_phone", &self.contact_phone, 40),
        ] {
            if value.chars().count() > max {
                v.push(
                    Violation::new("length", format!("{field} has at most {max} characters"))
                        .limit(max)
                        .actual(value.chars().count())
                        .field(field),
                );
            }
        }
        if self.blacklisted_until.is_some()
            && self
                .blacklist_reason
                .as_deref()
                .is_none_or(|r| r.trim().is_empty())
        {
            v.push(
                Violation::new("blacklist_reason", "blacklisting needs a reason")
                    .field("blacklist_reason"),
            );
        }
        if !v.is_empty() {
            return Err(Error::Validation(v));
        }
        if let Err((cap, requested)) = check_rating(
            self.rating,
            self.party_building_status,
            self.party_assessment,
            caps,
        ) {
            return Err(Error::RuleViolation(vec![Violation::new(
                "rating_cap",
                format!(
                    "rating {requested} is above the cap {}: {}",
                    cap.max, cap.explanation
                ),
            )
            .limit(format!("{} ({})", cap.max, cap.reason))
            .actual(requested)
            .field("rating")]));
        }
        Ok(())
    }

    fn insert_form(&self) -> OrganizationInsertForm {
        OrganizationInsertForm {
            id: Uuid::new_v4(),
            name: self.name.trim().to_string(),
            credit_code: self.credit_code.clone(),
            org_type: self.org_type.as_str().into(),
            registration_date: self.registration_date,
            district: self.district.trim().to_string(),
            contact_person: self.contact_person.trim().to_string(),
            contact_phone: self.contact_phone.trim().to_string(),
            contact_email: self.contact_email.trim().to_string(),
            rating: self.rating.map(|r| r.as_str().into()),
            rating_valid_until: self.rating_valid_until,
            party_building_status: self.party_building_status.as_str().into(),
            party_member_count: self.party_member_count,
            party_assessment: self.party_assessment.as_str().into(),
            blacklisted_until: self.blacklisted_until,
            blacklist_reason: self.blacklist_reason.clone(),
        }
    }

    fn update_form(&self) -> OrganizationUpdateForm {
        let f = self.insert_form();
        OrganizationUpdateForm {
            name: Some(f.name),
            credit_code: Some(f.credit_code),
            org_type: Some(f.org_type),
            registration_date: Some(f.registration_date),
            district: Some(f.district),
            contact_person: Some(f.contact_person),
            contact_phone: Some(f.contact_phone),
            contact_email: Some(f.contact_email),
            rating: Some(f.rating),
            rating_valid_until: Some(f.rating_valid_until),
            party_building_status: Some(f.party_building_status),
            party_member_count: Some(f.party_member_count),
            party_assessment: Some(f.party_assessment),
            blacklisted_until: Some(f.blacklisted_until),
            blacklist_reason: Some(f.blacklist_reason),
            updated_at: Some(Utc::now()),
        }
    }
}

pub fn audit_view(r: &OrganizationRow) -> serde_json::Value {
    serde_json::json!({
        "name": r.name, "credit_code": r.credit_code, "org_type": r.org_type,
        "rating": r.rating, "rating_valid_until": r.rating_valid_until,
        "party_building_status": r.party_building_status, "party_member_count": r.party_member_count,
        "party_assessment": r.party_assessment, "blacklisted_until": r.blacklisted_until,
        "blacklist_reason": r.blacklist_reason, "contact_person": r.contact_person,
        "contact_phone": r.contact_phone, "contact_email": r.contact_email,
    })
}

pub async fn create(
    db: &Database,
    facts: OrganizationFacts,
    actor: Option<&Caller>,
) -> Result<OrganizationRow, Error> {
    facts.check(&RatingCaps::default())?;
    let form = facts.insert_form();
    run_transaction(db, async move |conn| {
        let row = organizations::insert(conn, &form).await?;
        super::audit(
            conn,
            actor,
            "organization.created",
            "organization",
            row.id,
            None::<&()>,
            Some(&audit_view(&row)),
        )
        .await?;
        Ok(row)
    })
    .await
}

/// Applies `change` to the current facts under a row lock, re-checks every rule on the result.
pub async fn update(
    db: &Database,
    scope: Scope,
    id: Uuid,
    actor: &Caller,
    change: impl FnOnce(&mut OrganizationFacts) + Send,
) -> Result<OrganizationRow, Error> {
    run_transaction(db, async move |conn| {
        // Visibility first (404 for others' organizations), then lock for the update.
        organizations::get(conn, scope, id).await?;
        let before = organizations::lock(conn, id).await?;
        let mut facts = OrganizationFacts::from_row(&before)?;
        change(&mut facts);
        facts.check(&RatingCaps::default())?;
        let row = organizations::update(conn, id, &facts.update_form()).await?;
        super::audit(
            conn,
            Some(actor),
            "organization.updated",
            "organization",
            id,
            Some(&audit_view(&before)),
            Some(&audit_view(&row)),
        )
        .await?;
        Ok(row)
    })
    .await
}
