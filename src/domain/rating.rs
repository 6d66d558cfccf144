//! Organization ratings (等级评估 1A–5A) and the caps party building puts on them (rule 4).

use serde::{Deserialize, Serialize};

string_enum! {
    /// Assessed grade, ordered 1A < … < 5A.
    pub enum Rating {
        A1 = "1A",
        A2 = "2A",
        A3 = "3A",
        A4 = "4A",
        A5 = "5A",
    }
}

string_enum! {
    /// 党建 status of an organization.
    pub enum PartyBuildingStatus {
        /// 单独建立党组织
        IndependentBranch = "independent_branch",
        /// 联合党支部
        JointBranch = "joint_branch",
        /// No party organization yet, a party-building instructor assigned.
        InstructorOnly = "instructor_only",
        /// "三无": no organization, no members, no coverage.
        None = "none",
    }
}

string_enum! {
    /// This year's party-building assessment.
    pub enum AssessmentResult {
        Passed = "passed",
        Failed = "failed",
        NotAssessed = "not_assessed",
    }
}

/// The caps of rule 4, a setting with these defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingCaps {
    /// "三无" organizations may not be rated above this (004: 不能评为3A以上 → 2A).
    pub no_party_building_max: Rating,
    /// A failed party-building assessment caps at this (000: 不得評定4A以上 → 3A).
    pub failed_assessment_max: Rating,
}

impl Default for RatingCaps {
    fn default() -> Self {
        Self {
            no_party_building_max: Rating::A2,
            failed_assessment_max: Rating::A3,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatingCap {
    pub max: Rating,
    /// Stable machine name of the reason.
    pub reason: &'static str,
    pub explanation: &'static str,
}

/// The strictest cap the party-building facts impose, if any.
pub fn rating_cap(
    status: PartyBuildingStatus,
    assessment: AssessmentResult,
    caps: &RatingCaps,
) -> Option<RatingCap> {
    let mut found: Option<RatingCap> = None;
    let mut consider = |cap: RatingCap| {
        if found.is_none_or(|f| cap.max < f.max) {
            found = Some(cap);
        }
    };
    if status == PartyBuildingStatus::None {
        consider(RatingCap {
            max: caps.no_party_building_max,
            reason: "no_party_building",
            explanation: "an organization with no party organization, no members and no coverage (三无) may not be rated above this",
        });
    }
    if assessment == AssessmentResult::Failed {
        consider(RatingCap {
            max: caps.failed_assessment_max,
            reason: "party_building_assessment_failed",
            explanation:
                "an organization whose party-building assessment failed may not be rated above this",
        });
    }
    found
}

/// Refuses a rating above the cap, naming the cap and why.
pub fn check_rating(
    rating: Option<Rating>,
    status: PartyBuildingStatus,
    assessment: AssessmentResult,
    caps: &RatingCaps,
) -> Result<(), (RatingCap, Rating)> {
    match (rating, rating_cap(status, assessment, caps)) {
        (Some(r), Some(cap)) if r > cap.max => Err((cap, r)),
        _ => Ok(()),
    }
}

#[cfg(test)]
// Test code: an overflow here fails a test; it never serves a request.
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use AssessmentResult as Ar;
    use PartyBuildingStatus as Pb;

    #[test]
    fn ratings_are_ordered() {
        assert!(Rating::A1 < Rating::A3 && Rating::A3 < Rating::A5);
        assert_eq!("3A".parse::<Rating>().unwrap(), Rating::A3);
    }

    #[test]
    fn caps_follow_rule_4() {
        let caps = RatingCaps::default();
        assert!(check_rating(Some(Rating::A2), Pb::None, Ar::NotAssessed, &caps).is_ok());
        let (cap, _) =
            check_rating(Some(Rating::A3), Pb::None, Ar::NotAssessed, &caps).unwrap_err();
        assert_eq!((cap.max, cap.reason), (Rating::A2, "no_party_building"));
        assert!(check_rating(Some(Rating::A3), Pb::JointBranch, Ar::Failed, &caps).is_ok());
        let (cap, _) =
            check_rating(Some(Rating::A4), Pb::JointBranch, Ar::Failed, &caps).unwrap_err();
        assert_eq!(cap.reason, "party_building_assessment_failed");
        // Both apply: the stricter one is named.
        let (cap, _) = check_rating(Some(Rating::A4), Pb::None, Ar::Failed, &caps).unwrap_err();
        assert_eq!(cap.max, Rating::A2);
        assert!(check_rating(Some(Rating::A5), Pb::IndependentBranch, Ar::Passed, &caps).is_ok());
        assert!(check_rating(None, Pb::None, Ar::Failed, &caps).is_ok());
    }
}
