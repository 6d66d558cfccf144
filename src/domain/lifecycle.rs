//! The state machines of rounds and applications (domain.md, "Life of an application").
//! Every transition the service performs is checked here; anything else is `invalid_state`.

string_enum! {
    pub enum RoundStatus {
        Draft = "draft",
        Open = "open",
        Closed = "closed",
        Reviewing = "reviewing",
        Decided = "decided",
        Archived = "archived",
    }
}

impl RoundStatus {
    /// Rounds move strictly forward, one step at a time.
    pub fn can_become(self, next: RoundStatus) -> bool {
        use RoundStatus::*;
        matches!(
            (self, next),
            (Draft, Open)
                | (Open, Closed)
                | (Closed, Reviewing)
                | (Reviewing, Decided)
                | (Decided, Archived)
        )
    }
}

string_enum! {
    pub enum ApplicationStatus {
        Draft = "draft",
        Submitted = "submitted",
        Withdrawn = "withdrawn",
        Ineligible = "ineligible",
        UnderReview = "under_review",
        Approved = "approved",
        Rejected = "rejected",
        Contracted = "contracted",
        InProgress = "in_progress",
        Completed = "completed",
        Terminated = "terminated",
    }
}

impl ApplicationStatus {
    /// The life cycle of domain.md; no skipping, no going back.
    pub fn can_become(self, next: ApplicationStatus) -> bool {
        use ApplicationStatus::*;
        matches!(
            (self, next),
            (Draft, Submitted)
                | (Submitted, Withdrawn)
                | (Submitted, Ineligible)
                | (Submitted, UnderReview)
                | (UnderReview, Withdrawn)
                | (UnderReview, Approved)
                | (UnderReview, Rejected)
                | (Approved, Contracted)
                | (Contracted, InProgress)
                | (Contracted, Terminated)
                | (InProgress, Completed)
                | (InProgress, Terminated)
        )
    }

    /// Applications that take a place in the per-organization quota (rule 1).
    pub fn counts_toward_quota(self) -> bool {
        !matches!(
            self,
            ApplicationStatus::Draft | ApplicationStatus::Withdrawn
        )
    }

    pub const QUOTA_STATUSES: &'static [ApplicationStatus] = &[
        ApplicationStatus::Submitted,
        ApplicationStatus::Ineligible,
        ApplicationStatus::UnderReview,
        ApplicationStatus::Approved,
        ApplicationStatus::Rejected,
        ApplicationStatus::Contracted,
        ApplicationStatus::InProgress,
        ApplicationStatus::Completed,
        ApplicationStatus::Terminated,
    ];

    /// Applications a round's ranking holds: under review, or decided since.
    pub const RANKED_STATUSES: &'static [ApplicationStatus] = &[
        ApplicationStatus::UnderReview,
        ApplicationStatus::Approved,
        ApplicationStatus::Rejected,
        ApplicationStatus::Contracted,
        ApplicationStatus::InProgress,
        ApplicationStatus::Completed,
        ApplicationStatus::Terminated,
    ];
}

#[cfg(test)]
// Test code: an overflow here fails a test; it never serves a request.
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn rounds_only_move_forward_one_step() {
        for a in RoundStatus::ALL {
            for b in RoundStatus::ALL {
                let forward = RoundStatus::ALL.iter().position(|s| s == b)
                    == RoundStatus::ALL.iter().position(|s| s == a).map(|i| i + 1);
                assert_eq!(a.can_become(*b), forward, "{a} -> {b}");
            }
        }
    }

    #[test]
    fn quota_statuses_match_predicate() {
        for s in ApplicationStatus::ALL {
            assert_eq!(
                s.counts_toward_quota(),
                ApplicationStatus::QUOTA_STATUSES.contains(s),
                "{s}"
            );
        }
    }

    #[test]
    fn no_way_back_to_draft() {
        for s in ApplicationStatus::ALL {
            assert!(!s.can_become(ApplicationStatus::Draft));
        }
        assert!(!ApplicationStatus::Draft.can_become(ApplicationStatus::UnderReview));
    }
}
