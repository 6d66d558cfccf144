DROP TABLE idempotency_keys;
DROP TRIGGER payouts_totals ON payouts;
DROP FUNCTION payouts_maintain_totals();
DROP TABLE payouts;
DROP TABLE milestone_events;
DROP TABLE tranches;
DROP TABLE grants;
