-- Grants, milestone-gated tranches, payouts with maker-checker, idempotency keys (issue #5, rule 8).

-- One grant per approved application: the award and its schedule.
CREATE TABLE grants (
    id UUID PRIMARY KEY,
    application_id UUID NOT NULL UNIQUE REFERENCES applications (id),
    round_id UUID NOT NULL REFERENCES rounds (id),
    organization_id UUID NOT NULL REFERENCES organizations (id),
    amount NUMERIC(14, 2) NOT NULL CHECK (amount > 0),
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'completed', 'terminated')),
    -- Multi-year continuation (rule 7): the grant of the application this one continues.
    previous_grant_id UUID REFERENCES grants (id),
    -- Maintained by the payouts trigger below, never by hand: money held by payouts that are
    -- requested, approved or paid; approved or paid; paid.
    requested_total NUMERIC(14, 2) NOT NULL DEFAULT 0,
    committed_total NUMERIC(14, 2) NOT NULL DEFAULT 0,
    paid_total NUMERIC(14, 2) NOT NULL DEFAULT 0,
    clawback_amount NUMERIC(14, 2) CHECK (clawback_amount >= 0),
    terminated_at TIMESTAMPTZ,
    created_by UUID REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Never a fen over the award, whatever races.
    CONSTRAINT grants_within_award CHECK (
        0 <= paid_total AND paid_total <= committed_total
        AND committed_total <= requested_total AND requested_total <= amount),
    CONSTRAINT grants_clawback_paid CHECK (clawback_amount IS NULL OR clawback_amount <= paid_total),
    CHECK ((status = 'terminated') = (terminated_at IS NOT NULL))
);
CREATE INDEX grants_round_idx ON grants (round_id, created_at, id);
CREATE INDEX grants_org_idx ON grants (organization_id, created_at, id);
CREATE INDEX grants_list_idx ON grants (created_at, id);

CREATE TABLE tranches (
    id UUID PRIMARY KEY,
    grant_id UUID NOT NULL REFERENCES grants (id),
    number INTEGER NOT NULL CHECK (number >= 1),
    percent NUMERIC(5, 2) NOT NULL CHECK (percent > 0 AND percent <= 100),
    amount NUMERIC(14, 2) NOT NULL CHECK (amount >= 0),
    milestone TEXT NOT NULL CHECK (milestone IN ('agreement_signed', 'mid_term_evaluation', 'final_evaluation')),
    status TEXT NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'due', 'paid', 'cancelled')),
    -- Maintained by the payouts trigger, as on grants.
    requested_total NUMERIC(14, 2) NOT NULL DEFAULT 0,
    committed_total NUMERIC(14, 2) NOT NULL DEFAULT 0,
    paid_total NUMERIC(14, 2) NOT NULL DEFAULT 0,
    due_at TIMESTAMPTZ,
    paid_at TIMESTAMPTZ,
    cancelled_at TIMESTAMPTZ,
    UNIQUE (grant_id, number),
    UNIQUE (grant_id, milestone),
    UNIQUE (id, grant_id),
    -- Never a fen over the tranche: pending requests count too.
    CONSTRAINT tranches_within_amount CHECK (
        0 <= paid_total AND paid_total <= committed_total
        AND committed_total <= requested_total AND requested_total <= amount),
    CHECK ((status = 'paid') = (paid_at IS NOT NULL)),
    CHECK (status <> 'paid' OR paid_total = amount),
    CHECK ((status IN ('due', 'paid')) <= (due_at IS NOT NULL))
);

-- What happened to a grant, in order; each milestone once.
CREATE TABLE milestone_events (
    id UUID PRIMARY KEY,
    grant_id UUID NOT NULL REFERENCES grants (id),
    milestone TEXT NOT NULL CHECK (milestone IN ('agreement_signed', 'mid_term_evaluation', 'final_evaluation')),
    score NUMERIC(5, 2) CHECK (score BETWEEN 0 AND 100),
    grade TEXT CHECK (grade IN ('A', 'B', 'C')),
    passed BOOLEAN NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    recorded_by UUID REFERENCES users (id),
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (grant_id, milestone),
    CHECK ((milestone = 'agreement_signed') = (score IS NULL)),
    CHECK ((score IS NULL) = (grade IS NULL))
);

CREATE TABLE payouts (
    id UUID PRIMARY KEY,
    grant_id UUID NOT NULL REFERENCES grants (id),
    tranche_id UUID NOT NULL,
    amount NUMERIC(14, 2) NOT NULL CHECK (amount > 0),
    status TEXT NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'approved', 'rejected', 'paid')),
    note TEXT NOT NULL DEFAULT '',
    requested_by UUID NOT NULL REFERENCES users (id),
    requested_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    approved_by UUID REFERENCES users (id),
    approved_at TIMESTAMPTZ,
    rejected_by UUID REFERENCES users (id),
    rejected_at TIMESTAMPTZ,
    rejected_reason TEXT,
    paid_by UUID REFERENCES users (id),
    paid_at TIMESTAMPTZ,
    bank_reference TEXT,
    value_date DATE,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    FOREIGN KEY (tranche_id, grant_id) REFERENCES tranches (id, grant_id),
    -- Maker-checker, in the database too: nobody approves or rejects their own request.
    CONSTRAINT payouts_maker_checker CHECK (
        (approved_by IS NULL OR approved_by <> requested_by)
        AND (rejected_by IS NULL OR rejected_by <> requested_by)),
    CHECK ((status IN ('approved', 'paid')) = (approved_at IS NOT NULL AND approved_by IS NOT NULL)),
    CHECK ((status = 'rejected') = (rejected_at IS NOT NULL AND rejected_reason IS NOT NULL)),
    CHECK ((status = 'paid') = (paid_at IS NOT NULL AND bank_reference IS NOT NULL AND value_date IS NOT NULL))
);
CREATE INDEX payouts_grant_idx ON payouts (grant_id, requested_at, id);
CREATE INDEX payouts_status_idx ON payouts (status, requested_at, id);
CREATE INDEX payouts_list_idx ON payouts (requested_at, id);

-- Keeps the totals of tranches and grants in step with their payouts, in the same statement.
-- With the CHECKs above this is the last line of defence: an UPDATE of the tranche row takes its
-- row lock, so concurrent writers are serialized and none can push the sums past the limits.
CREATE FUNCTION payouts_maintain_totals() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r NUMERIC(14, 2);
    c NUMERIC(14, 2);
    p NUMERIC(14, 2);
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        r := CASE WHEN OLD.status IN ('requested', 'approved', 'paid') THEN OLD.amount ELSE 0 END;
        c := CASE WHEN OLD.status IN ('approved', 'paid') THEN OLD.amount ELSE 0 END;
        p := CASE WHEN OLD.status = 'paid' THEN OLD.amount ELSE 0 END;
        UPDATE tranches SET requested_total = requested_total - r, committed_total = committed_total - c,
            paid_total = paid_total - p WHERE id = OLD.tranche_id;
        UPDATE grants SET requested_total = requested_total - r, committed_total = committed_total - c,
            paid_total = paid_total - p WHERE id = OLD.grant_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        r := CASE WHEN NEW.status IN ('requested', 'approved', 'paid') THEN NEW.amount ELSE 0 END;
        c := CASE WHEN NEW.status IN ('approved', 'paid') THEN NEW.amount ELSE 0 END;
        p := CASE WHEN NEW.status = 'paid' THEN NEW.amount ELSE 0 END;
        UPDATE tranches SET requested_total = requested_total + r, committed_total = committed_total + c,
            paid_total = paid_total + p WHERE id = NEW.tranche_id;
        UPDATE grants SET requested_total = requested_total + r, committed_total = committed_total + c,
            paid_total = paid_total + p WHERE id = NEW.grant_id;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER payouts_totals AFTER INSERT OR UPDATE OR DELETE ON payouts
    FOR EACH ROW EXECUTE FUNCTION payouts_maintain_totals();

-- Money moves with an Idempotency-Key: the first successful answer is kept and replayed.
CREATE TABLE idempotency_keys (
    user_id UUID NOT NULL REFERENCES users (id),
    key TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    request_hash BYTEA NOT NULL,
    response_status SMALLINT,
    response_body JSONB,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
