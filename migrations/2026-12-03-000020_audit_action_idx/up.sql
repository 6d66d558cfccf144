-- The audit trail filtered by action ("every payout.approve"), newest first.
CREATE INDEX audit_events_action_idx ON audit_events (action, id);
