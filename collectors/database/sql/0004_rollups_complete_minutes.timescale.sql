-- Same signature as on plain PostgreSQL (see 0004_rollups_complete_minutes.plain.sql);
-- TimescaleDB's policies refresh the continuous aggregates.
DROP FUNCTION refresh_sample_rollups();

CREATE FUNCTION refresh_sample_rollups(through timestamptz DEFAULT NULL)
RETURNS integer LANGUAGE sql AS $$ SELECT 0 $$;
