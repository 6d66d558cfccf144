-- Funding rounds, applications, budget lines, and the state-change trail.

CREATE TABLE rounds (
    id UUID PRIMARY KEY,
    name TEXT NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    year INTEGER NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    kind TEXT NOT NULL CHECK (kind IN ('venture_philanthropy', 'government_purchase', 'startup_support')),
    status TEXT NOT NULL DEFAULT 'draft'
        CHECK (status IN ('draft', 'open', 'closed', 'reviewing', 'decided', 'archived')),
    total_pool NUMERIC(14, 2) NOT NULL CHECK (total_pool > 0),
    grant_min NUMERIC(14, 2) NOT NULL CHECK (grant_min >= 0),
    grant_max NUMERIC(14, 2) NOT NULL,
    opens_at TIMESTAMPTZ NOT NULL,
    closes_at TIMESTAMPTZ NOT NULL,
    project_start DATE,
    project_end DATE,
    focus_areas TEXT[] NOT NULL,
    -- Rules, rubric, party points table and tranche schedule are read and written as a whole
    -- and validated by the domain layer before they get here.
    rules JSONB NOT NULL,
    rubric JSONB NOT NULL,
    party_points JSONB NOT NULL,
    tranche_schedule JSONB NOT NULL,
    created_by UUID NOT NULL REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (grant_min <= grant_max AND grant_max <= total_pool),
    CHECK (opens_at < closes_at),
    CHECK (project_start IS NULL OR project_end IS NULL OR project_start < project_end)
);
CREATE INDEX rounds_status_idx ON rounds (status, created_at DESC, id);

CREATE TABLE applications (
    id UUID PRIMARY KEY,
    round_id UUID NOT NULL REFERENCES rounds (id),
    organization_id UUID NOT NULL REFERENCES organizations (id),
    status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN (
        'draft', 'submitted', 'withdrawn', 'ineligible', 'under_review', 'approved', 'rejected',
        'contracted', 'in_progress', 'completed', 'terminated')),
    title TEXT NOT NULL,
    focus_area TEXT NOT NULL,
    summary TEXT NOT NULL DEFAULT '',
    beneficiaries TEXT NOT NULL DEFAULT '',
    beneficiary_count INTEGER NOT NULL DEFAULT 0 CHECK (beneficiary_count >= 0),
    start_date DATE,
    end_date DATE,
    requested_grant NUMERIC(14, 2) NOT NULL DEFAULT 0 CHECK (requested_grant >= 0),
    co_funding NUMERIC(14, 2) NOT NULL DEFAULT 0 CHECK (co_funding >= 0),
    team JSONB NOT NULL DEFAULT '[]',
    party_activity_count INTEGER NOT NULL DEFAULT 0 CHECK (party_activity_count >= 0),
    party_activity_description TEXT NOT NULL DEFAULT '',
    red_project BOOLEAN NOT NULL DEFAULT FALSE,
    previous_application_id UUID REFERENCES applications (id),
    -- Sums of the budget lines, computed by the service whenever the budget is replaced.
    budget_total NUMERIC(14, 2) NOT NULL DEFAULT 0,
    budget_personnel NUMERIC(14, 2) NOT NULL DEFAULT 0,
    budget_grant NUMERIC(14, 2) NOT NULL DEFAULT 0,
    budget_self NUMERIC(14, 2) NOT NULL DEFAULT 0,
    submitted_at TIMESTAMPTZ,
    screening_reason TEXT,
    created_by UUID NOT NULL REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Keyset pagination orders by (created_at, id); the quota count filters by org and round.
CREATE INDEX applications_org_round_idx ON applications (organization_id, round_id, status);
CREATE INDEX applications_round_idx ON applications (round_id, created_at, id);
CREATE INDEX applications_list_idx ON applications (created_at, id);

CREATE TABLE budget_lines (
    id UUID PRIMARY KEY,
    application_id UUID NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    category TEXT NOT NULL CHECK (category IN (
        'personnel', 'activities', 'materials', 'venue', 'publicity', 'training', 'administration', 'other')),
    description TEXT NOT NULL,
    quantity NUMERIC(12, 2) NOT NULL CHECK (quantity > 0),
    unit_cost NUMERIC(14, 2) NOT NULL CHECK (unit_cost >= 0),
    amount NUMERIC(14, 2) NOT NULL CHECK (amount >= 0),
    funded_by TEXT NOT NULL CHECK (funded_by IN ('grant', 'self')),
    UNIQUE (application_id, position)
);

-- Who changed what, when: every state change and every money movement appends a row.
CREATE TABLE audit_events (
    id BIGSERIAL PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor_id UUID,
    actor_role TEXT,
    action TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id UUID NOT NULL,
    before JSONB,
    after JSONB
);
CREATE INDEX audit_events_entity_idx ON audit_events (entity_type, entity_id, id);
CREATE INDEX audit_events_actor_idx ON audit_events (actor_id, id);
