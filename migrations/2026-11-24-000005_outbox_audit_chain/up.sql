-- Email outbox (issue #6): written in the same transaction as the change that causes it, sent
-- by a background sender that claims due rows with FOR UPDATE SKIP LOCKED.
CREATE TABLE email_outbox (
    id BIGSERIAL PRIMARY KEY,
    -- Stable across retries; sent as the Message-ID so receivers can drop a duplicate.
    message_id UUID NOT NULL UNIQUE,
    recipient TEXT NOT NULL CHECK (length(recipient) BETWEEN 3 AND 254),
    recipient_name TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL CHECK (language IN ('zh', 'en')),
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at TIMESTAMPTZ,
    CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);
CREATE INDEX email_outbox_due_idx ON email_outbox (status, next_attempt_at, id);

-- Audit chain. audit_events stays insert-only; the hash chain lives in audit_seals, appended by
-- one sealer at a time, so writers never wait on the chain.
-- The writing transaction's id tells the sealer when every earlier writer has finished.
ALTER TABLE audit_events ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();

CREATE TABLE audit_seals (
    -- Position in the chain, 1, 2, 3, ... without gaps.
    seq BIGINT PRIMARY KEY CHECK (seq >= 1),
    event_id BIGINT NOT NULL UNIQUE REFERENCES audit_events (id),
    prev_hash BYTEA NOT NULL CHECK (length(prev_hash) = 32),
    hash BYTEA NOT NULL CHECK (length(hash) = 32),
    sealed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Append-only, enforced by the database: UPDATE, DELETE and TRUNCATE are refused.
CREATE FUNCTION gongyi_refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit records are append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION gongyi_refuse_audit_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION gongyi_refuse_audit_change();
CREATE TRIGGER audit_seals_append_only BEFORE UPDATE OR DELETE ON audit_seals
    FOR EACH ROW EXECUTE FUNCTION gongyi_refuse_audit_change();
CREATE TRIGGER audit_seals_no_truncate BEFORE TRUNCATE ON audit_seals
    FOR EACH STATEMENT EXECUTE FUNCTION gongyi_refuse_audit_change();

CREATE INDEX audit_events_at_idx ON audit_events (at, id);
CREATE INDEX audit_events_txid_idx ON audit_events (txid);

-- The sealer's progress: every audit event whose txid is below `horizon` is sealed, so each pass
-- looks only at newer transactions (an index range on txid), not the whole table.
CREATE TABLE audit_sealer_state (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    horizon xid8 NOT NULL
);
INSERT INTO audit_sealer_state (horizon) VALUES ('0');
