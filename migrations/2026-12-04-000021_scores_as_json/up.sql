-- Score sheets are stored as `json` (their text as written), not `jsonb`: the ranking reads every
-- sheet of a round (50,000 in a 10,000 x 5 round) and turning jsonb back into text cost the
-- server about 60 ms of that read, while nothing queries inside a sheet in SQL.
ALTER TABLE assignments ALTER COLUMN scores DROP DEFAULT;
ALTER TABLE assignments ALTER COLUMN scores TYPE json USING scores::json;
ALTER TABLE assignments ALTER COLUMN scores SET DEFAULT '{}'::json;
