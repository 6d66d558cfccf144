DROP INDEX IF EXISTS audit_events_at_idx;
DROP TRIGGER IF EXISTS audit_seals_no_truncate ON audit_seals;
DROP TRIGGER IF EXISTS audit_seals_append_only ON audit_seals;
DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events;
DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events;
DROP FUNCTION IF EXISTS gongyi_refuse_audit_change();
DROP TABLE IF EXISTS audit_seals;
ALTER TABLE audit_events DROP COLUMN IF EXISTS txid;
DROP TABLE IF EXISTS email_outbox;
