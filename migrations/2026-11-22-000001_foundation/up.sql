-- Foundation: organizations, users, tokens, login throttling.
-- Enumerations are TEXT with CHECK constraints: readable in psql, cheap to extend by migration.

CREATE TABLE organizations (
    id UUID PRIMARY KEY,
    name TEXT NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    credit_code TEXT UNIQUE CHECK (credit_code ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'),
    org_type TEXT NOT NULL CHECK (org_type IN ('social_group', 'private_non_enterprise', 'foundation', 'community_organization')),
    registration_date DATE,
    district TEXT NOT NULL DEFAULT '',
    contact_person TEXT NOT NULL DEFAULT '',
    contact_phone TEXT NOT NULL DEFAULT '',
    contact_email TEXT NOT NULL DEFAULT '',
    rating TEXT CHECK (rating IN ('1A', '2A', '3A', '4A', '5A')),
    rating_valid_until DATE,
    party_building_status TEXT NOT NULL DEFAULT 'none'
        CHECK (party_building_status IN ('independent_branch', 'joint_branch', 'instructor_only', 'none')),
    party_member_count INTEGER NOT NULL DEFAULT 0 CHECK (party_member_count >= 0),
    party_assessment TEXT NOT NULL DEFAULT 'not_assessed'
        CHECK (party_assessment IN ('passed', 'failed', 'not_assessed')),
    blacklisted_until DATE,
    blacklist_reason TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- A rating without an expiry date (or the other way round) is meaningless.
    CHECK ((rating IS NULL) = (rating_valid_until IS NULL))
);
CREATE INDEX organizations_name_idx ON organizations (lower(name), id);
CREATE INDEX organizations_district_idx ON organizations (district, id);

CREATE TABLE users (
    id UUID PRIMARY KEY,
    email TEXT NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    name TEXT NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
    role TEXT NOT NULL CHECK (role IN ('admin', 'applicant', 'reviewer', 'finance')),
    organization_id UUID REFERENCES organizations (id),
    language TEXT NOT NULL DEFAULT 'zh' CHECK (language IN ('zh', 'en')),
    password_hash TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Applicants act for exactly one organization; staff roles act for none.
    CONSTRAINT users_applicant_has_organization CHECK ((role = 'applicant') = (organization_id IS NOT NULL))
);
-- Email is unique regardless of case.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
CREATE INDEX users_organization_idx ON users (organization_id) WHERE organization_id IS NOT NULL;

-- Bearer tokens, both short-lived sessions and long-lived API tokens. Only a SHA-256 digest is kept.
CREATE TABLE api_tokens (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('session', 'api')),
    name TEXT NOT NULL,
    digest BYTEA NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id, created_at);

-- Failed sign-ins, counted per email over a sliding window (works across replicas).
CREATE TABLE login_failures (
    id BIGSERIAL PRIMARY KEY,
    email_lower TEXT NOT NULL,
    failed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_email_idx ON login_failures (email_lower, failed_at);
