-- How the grant money is spent: expenditures against the budget, financial reports that freeze
-- them, budget adjustments between lines; documents attached to applications, grants and
-- expenditures.

-- A report freezes the grant's expenditures recorded so far (those not yet in a report), with
-- a snapshot of the budget execution and of the party elements held against those planned.
CREATE TABLE financial_reports (
    id UUID PRIMARY KEY,
    grant_id UUID NOT NULL REFERENCES grants (id),
    period TEXT NOT NULL CHECK (period IN ('mid_term', 'final')),
    status TEXT NOT NULL DEFAULT 'submitted' CHECK (status IN ('submitted')),
    expenditure_count INTEGER NOT NULL CHECK (expenditure_count >= 0),
    -- Spending this report froze, and all spending of the grant when it was submitted.
    period_total NUMERIC(14, 2) NOT NULL CHECK (period_total >= 0),
    cumulative_total NUMERIC(14, 2) NOT NULL CHECK (cumulative_total >= period_total),
    execution JSONB NOT NULL,
    party_elements JSONB NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    submitted_by UUID NOT NULL REFERENCES users (id),
    submitted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (grant_id, period),
    UNIQUE (id, grant_id)
);

CREATE TABLE expenditures (
    id UUID PRIMARY KEY,
    grant_id UUID NOT NULL REFERENCES grants (id),
    category TEXT NOT NULL CHECK (category IN (
        'personnel', 'activities', 'materials', 'venue', 'publicity', 'training', 'administration', 'other')),
    budget_line_id UUID REFERENCES budget_lines (id),
    description TEXT NOT NULL CHECK (length(btrim(description)) BETWEEN 1 AND 500),
    amount NUMERIC(14, 2) NOT NULL CHECK (amount > 0),
    spent_on DATE NOT NULL,
    payee TEXT NOT NULL CHECK (length(btrim(payee)) BETWEEN 1 AND 200),
    -- Set once, when a financial report freezes it; a report of another grant cannot hold it.
    report_id UUID,
    created_by UUID NOT NULL REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    FOREIGN KEY (report_id, grant_id) REFERENCES financial_reports (id, grant_id)
);
CREATE INDEX expenditures_grant_idx ON expenditures (grant_id, created_at, id);
CREATE INDEX expenditures_report_idx ON expenditures (report_id) WHERE report_id IS NOT NULL;

-- The service refuses to change a reported expenditure (409); this refuses it for any writer.
CREATE FUNCTION expenditures_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.report_id IS NOT NULL THEN
        RAISE EXCEPTION 'expenditure % is in a submitted financial report', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'expenditures_frozen';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER expenditures_frozen BEFORE UPDATE OR DELETE ON expenditures
    FOR EACH ROW EXECUTE FUNCTION expenditures_frozen();

-- Moving amounts between budget lines. An approved adjustment is a new budget version (the
-- application's budget is version 1); every approved version is kept.
CREATE TABLE budget_adjustments (
    id UUID PRIMARY KEY,
    grant_id UUID NOT NULL REFERENCES grants (id),
    status TEXT NOT NULL DEFAULT 'proposed' CHECK (status IN ('proposed', 'approved', 'rejected')),
    reason TEXT NOT NULL CHECK (length(btrim(reason)) BETWEEN 1 AND 2000),
    moves JSONB NOT NULL,
    -- The whole budget after the moves: computed when proposed, recomputed when approved.
    lines JSONB NOT NULL,
    version INTEGER CHECK (version >= 2),
    proposed_by UUID NOT NULL REFERENCES users (id),
    proposed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    decided_by UUID REFERENCES users (id),
    decided_at TIMESTAMPTZ,
    decision_note TEXT,
    UNIQUE (grant_id, version),
    CHECK ((status = 'approved') = (version IS NOT NULL)),
    CHECK ((status = 'proposed') = (decided_at IS NULL AND decided_by IS NULL))
);
CREATE INDEX budget_adjustments_grant_idx ON budget_adjustments (grant_id, proposed_at, id);

-- Attachments: metadata here, the bytes in a table of their own so that listing never reads
-- them. `organization_id` is the owner's organization (visibility is the owner's).
CREATE TABLE attachments (
    id UUID PRIMARY KEY,
    owner_type TEXT NOT NULL CHECK (owner_type IN ('application', 'grant', 'expenditure')),
    owner_id UUID NOT NULL,
    organization_id UUID NOT NULL REFERENCES organizations (id),
    kind TEXT NOT NULL CHECK (kind IN (
        'registration_certificate', 'project_plan', 'commitment_letter', 'receipt', 'evaluation_report', 'other')),
    filename TEXT NOT NULL CHECK (length(filename) BETWEEN 1 AND 255),
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL CHECK (size > 0),
    sha256 BYTEA NOT NULL CHECK (length(sha256) = 32),
    uploaded_by UUID NOT NULL REFERENCES users (id),
    uploaded_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX attachments_owner_idx ON attachments (owner_type, owner_id, uploaded_at, id);

CREATE TABLE attachment_contents (
    attachment_id UUID PRIMARY KEY REFERENCES attachments (id) ON DELETE CASCADE,
    bytes BYTEA NOT NULL
);
-- Already compressed formats (PDF, JPEG, PNG, zip): do not try again.
ALTER TABLE attachment_contents ALTER COLUMN bytes SET STORAGE EXTERNAL;
