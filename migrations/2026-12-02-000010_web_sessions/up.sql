-- Browser sessions: only a digest of the cookie value is stored. A session ends at its
-- absolute expiry, after `idle` without a request, at logout, or when its user is deactivated.
CREATE TABLE web_sessions (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest BYTEA NOT NULL UNIQUE,
    -- The synchronizer token every state-changing form of this session carries.
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX web_sessions_user_idx ON web_sessions (user_id);
CREATE INDEX web_sessions_expires_idx ON web_sessions (expires_at);
