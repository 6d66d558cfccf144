-- Review panels, assignments with scores, and award decisions (issue: review and awards).

-- A round's review panel. Affiliations are the organizations a reviewer works for or advises:
-- never assigned to their applications.
CREATE TABLE panel_members (
    round_id UUID NOT NULL REFERENCES rounds (id),
    reviewer_id UUID NOT NULL REFERENCES users (id),
    affiliations UUID[] NOT NULL DEFAULT '{}',
    added_by UUID NOT NULL REFERENCES users (id),
    added_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (round_id, reviewer_id)
);
CREATE INDEX panel_members_reviewer_idx ON panel_members (reviewer_id);

-- One reviewer on one application. Scores are a JSON object criterion key -> decimal string
-- (validated against the rubric by the domain layer); `judged_total` is their sum.
CREATE TABLE assignments (
    id UUID PRIMARY KEY,
    round_id UUID NOT NULL REFERENCES rounds (id),
    application_id UUID NOT NULL REFERENCES applications (id),
    reviewer_id UUID NOT NULL REFERENCES users (id),
    status TEXT NOT NULL DEFAULT 'assigned' CHECK (status IN ('assigned', 'submitted', 'recused')),
    scores JSONB NOT NULL DEFAULT '{}',
    judged_total NUMERIC(7, 2),
    comment TEXT NOT NULL DEFAULT '',
    conflict_reason TEXT,
    assigned_by UUID NOT NULL REFERENCES users (id),
    submitted_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- A reviewer reviews an application at most once (a recused one is never re-assigned to it).
    UNIQUE (application_id, reviewer_id),
    FOREIGN KEY (round_id, reviewer_id) REFERENCES panel_members (round_id, reviewer_id),
    CHECK ((status = 'submitted') = (submitted_at IS NOT NULL))
);
CREATE INDEX assignments_reviewer_idx ON assignments (reviewer_id, created_at, id);
CREATE INDEX assignments_round_idx ON assignments (round_id, application_id);

-- The award decision of a round: published for public notice (公示), then final.
CREATE TABLE award_decisions (
    round_id UUID PRIMARY KEY REFERENCES rounds (id),
    status TEXT NOT NULL CHECK (status IN ('public_notice', 'final')),
    pool NUMERIC(14, 2) NOT NULL,
    total_awarded NUMERIC(14, 2) NOT NULL CHECK (total_awarded >= 0),
    notice_until TIMESTAMPTZ NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    published_by UUID NOT NULL REFERENCES users (id),
    published_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    finalized_by UUID REFERENCES users (id),
    finalized_at TIMESTAMPTZ,
    -- The last line of defence against over-committing the pool.
    CHECK (total_awarded <= pool),
    CHECK ((status = 'final') = (finalized_at IS NOT NULL))
);

CREATE TABLE awards (
    round_id UUID NOT NULL REFERENCES award_decisions (round_id),
    application_id UUID NOT NULL REFERENCES applications (id),
    rank INTEGER,
    final_score NUMERIC(7, 2),
    outcome TEXT NOT NULL CHECK (outcome IN ('funded', 'unfunded_pool', 'below_pass_mark', 'incomplete')),
    requested NUMERIC(14, 2) NOT NULL,
    amount NUMERIC(14, 2) NOT NULL DEFAULT 0 CHECK (amount >= 0),
    PRIMARY KEY (round_id, application_id),
    CHECK ((outcome = 'funded') = (amount > 0))
);

-- Objections raised during the public notice, and how the office answered them.
CREATE TABLE award_objections (
    id UUID PRIMARY KEY,
    round_id UUID NOT NULL REFERENCES award_decisions (round_id),
    application_id UUID REFERENCES applications (id),
    objection TEXT NOT NULL CHECK (length(btrim(objection)) BETWEEN 1 AND 5000),
    resolution TEXT,
    recorded_by UUID NOT NULL REFERENCES users (id),
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX award_objections_round_idx ON award_objections (round_id, recorded_at);

-- The amount awarded, set when the decision becomes final (status approved).
ALTER TABLE applications ADD COLUMN award_amount NUMERIC(14, 2) CHECK (award_amount > 0);
