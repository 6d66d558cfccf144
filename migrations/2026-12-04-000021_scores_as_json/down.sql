ALTER TABLE assignments ALTER COLUMN scores DROP DEFAULT;
ALTER TABLE assignments ALTER COLUMN scores TYPE jsonb USING scores::jsonb;
ALTER TABLE assignments ALTER COLUMN scores SET DEFAULT '{}'::jsonb;
