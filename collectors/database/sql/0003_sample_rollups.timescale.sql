-- 1-minute and 1-hour continuous aggregates of good numeric samples, per tag.
-- Same names and columns as the tables LineBrain maintains on plain PostgreSQL
-- (see 0003_sample_rollups.plain.sql), so dashboards query samples_1m /
-- samples_1h on both. Real-time aggregation (materialized_only = false) makes
-- the newest minutes visible before a policy refresh materialises them.
CREATE MATERIALIZED VIEW samples_1m
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 minute', time) AS bucket,
       tag_id,
       min(value) AS min_value,
       max(value) AS max_value,
       avg(value) AS avg_value,
       last(value, time) AS last_value,
       max(time) AS last_time,
       count(*) AS sample_count
FROM samples
WHERE status < 1073741824 AND value IS NOT NULL
GROUP BY 1, 2
WITH NO DATA;

CREATE MATERIALIZED VIEW samples_1h
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 hour', time) AS bucket,
       tag_id,
       min(value) AS min_value,
       max(value) AS max_value,
       avg(value) AS avg_value,
       last(value, time) AS last_value,
       max(time) AS last_time,
       count(*) AS sample_count
FROM samples
WHERE status < 1073741824 AND value IS NOT NULL
GROUP BY 1, 2
WITH NO DATA;

SELECT add_continuous_aggregate_policy('samples_1m',
    start_offset => INTERVAL '3 hours', end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute');
SELECT add_continuous_aggregate_policy('samples_1h',
    start_offset => INTERVAL '3 days', end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '30 minutes');

-- TimescaleDB refreshes through its policies (and a refresh cannot run inside a
-- function's transaction); kept so the store's code is the same on both.
CREATE FUNCTION refresh_sample_rollups(through timestamptz DEFAULT NULL)
RETURNS integer LANGUAGE sql AS $$ SELECT 0 $$;
