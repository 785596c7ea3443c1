-- Overflow-safe rollups on TimescaleDB, as 0004 made them on plain PostgreSQL. avg() of a
-- double keeps the sum of squares, which overflows (an error, not infinity) from about
-- 1.34e154: one such Good row in samples made every refresh of the continuous aggregates
-- fail for its range, forever. The store flags values above 1e150 Bad (value NULL); rows
-- above that magnitude already in the table (written before, or by another tool) are left
-- out of the aggregates here, the same rule as the plain refresh.
--
-- A continuous aggregate's query cannot be altered, so both are made again with the filter,
-- with the same names, columns, real-time aggregation and refresh policies as in 0003.
-- Nothing is materialised yet: the range recorded below covers every stored sample, so the
-- next rollup refresh (collectors/store/rollups.py: a collector within 30 s of starting, an
-- import at its end) materialises it all again; until then real-time aggregation covers only
-- what lies above the refresh policies' watermark.
DROP MATERIALIZED VIEW samples_1h;
DROP MATERIALIZED VIEW samples_1m;

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
WHERE status < 1073741824 AND value IS NOT NULL AND abs(value) <= 1e150
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
WHERE status < 1073741824 AND value IS NOT NULL AND abs(value) <= 1e150
GROUP BY 1, 2
WITH NO DATA;

SELECT add_continuous_aggregate_policy('samples_1m',
    start_offset => INTERVAL '3 hours', end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute');
SELECT add_continuous_aggregate_policy('samples_1h',
    start_offset => INTERVAL '3 days', end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '30 minutes');

INSERT INTO sample_rollup_pending (first_time, last_time)
SELECT min(time), max(time) FROM samples HAVING count(*) > 0;
