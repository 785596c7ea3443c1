-- 1-minute and 1-hour rollups of good numeric samples, per tag, maintained by
-- LineBrain on plain PostgreSQL under the same names and columns as the
-- TimescaleDB continuous aggregates, so dashboards query samples_1m / samples_1h
-- on both.
--
-- Maintenance works like a continuous aggregate's invalidation log: every batch
-- the store commits leaves its time range in sample_rollup_pending (a trigger on
-- the store_batches ledger, so it commits with the batch), and
-- refresh_sample_rollups() recomputes exactly the touched minutes from samples
-- and the touched hours from samples_1m. Recomputing (not adding up) makes a
-- refresh idempotent and late or replayed data correct.
CREATE TABLE samples_1m (
    bucket        timestamptz      NOT NULL,
    tag_id        integer          NOT NULL,
    min_value     double precision,
    max_value     double precision,
    avg_value     double precision,
    last_value    double precision,
    last_time     timestamptz,
    sample_count  bigint           NOT NULL,
    PRIMARY KEY (tag_id, bucket)
);
CREATE INDEX samples_1m_bucket ON samples_1m (bucket);

CREATE TABLE samples_1h (LIKE samples_1m INCLUDING ALL);

CREATE TABLE sample_rollup_pending (
    first_time timestamptz NOT NULL,
    last_time  timestamptz NOT NULL
);

CREATE FUNCTION store_batches_to_rollup_pending() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sample_rollup_pending (first_time, last_time) VALUES (NEW.first_time, NEW.last_time);
    RETURN NULL;
END $$;

CREATE TRIGGER store_batches_rollup AFTER INSERT ON store_batches
FOR EACH ROW WHEN (NEW.first_time IS NOT NULL AND NEW.rows > 0)
EXECUTE FUNCTION store_batches_to_rollup_pending();

-- Recompute the rollups of every minute touched since the last refresh, but only
-- complete minutes (before ``through``, default the start of the current minute), so a
-- collector refreshing every 30 s computes each minute about once instead of rescanning
-- the open minute every time. Imports and tests pass 'infinity' to include everything now.
-- Returns the number of merged time ranges processed. Serialised by a lock.
CREATE FUNCTION refresh_sample_rollups(through timestamptz DEFAULT NULL) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    span record;
    spans integer := 0;
    cutoff timestamptz := coalesce(through, date_trunc('minute', now()));
    upper_end timestamptz;
BEGIN
    PERFORM pg_advisory_xact_lock(7310442003);
    FOR span IN
        WITH gone AS (
            DELETE FROM sample_rollup_pending RETURNING first_time, last_time
        ), minutes AS (
            SELECT date_trunc('minute', first_time) AS lo,
                   date_trunc('minute', last_time) + interval '1 minute' AS hi
            FROM gone
        ), ordered AS (
            SELECT lo, hi, max(hi) OVER (ORDER BY lo, hi ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_hi
            FROM minutes
        ), grouped AS (
            SELECT lo, hi, sum(CASE WHEN prev_hi >= lo THEN 0 ELSE 1 END) OVER (ORDER BY lo, hi) AS island
            FROM ordered
        )
        SELECT min(lo) AS lo, max(hi) AS hi FROM grouped GROUP BY island ORDER BY 1
    LOOP
        upper_end := span.hi;
        IF span.hi > cutoff THEN
            -- The minute still open is left for a later refresh (once, when it is complete),
            -- like a continuous aggregate's end offset: it is not recomputed on every call.
            INSERT INTO sample_rollup_pending (first_time, last_time)
            VALUES (greatest(span.lo, cutoff), span.hi - interval '1 microsecond');
            upper_end := cutoff;
        END IF;
        CONTINUE WHEN span.lo >= upper_end;
        span.hi := upper_end;
        DELETE FROM samples_1m WHERE bucket >= span.lo AND bucket < span.hi;
        INSERT INTO samples_1m
        SELECT date_trunc('minute', time), tag_id, min(value), max(value), avg(value),
               (array_agg(value ORDER BY time DESC))[1], max(time), count(*)
        FROM samples
        WHERE time >= span.lo AND time < span.hi AND status < 1073741824 AND value IS NOT NULL
        GROUP BY 1, 2;

        DELETE FROM samples_1h
        WHERE bucket >= date_trunc('hour', span.lo) AND bucket < date_trunc('hour', span.hi - interval '1 microsecond') + interval '1 hour';
        INSERT INTO samples_1h
        SELECT date_trunc('hour', bucket), tag_id, min(min_value), max(max_value),
               sum(avg_value * sample_count) / sum(sample_count),
               (array_agg(last_value ORDER BY last_time DESC))[1], max(last_time), sum(sample_count)
        FROM samples_1m
        WHERE bucket >= date_trunc('hour', span.lo)
          AND bucket < date_trunc('hour', span.hi - interval '1 microsecond') + interval '1 hour'
        GROUP BY 1, 2;
        spans := spans + 1;
    END LOOP;
    RETURN spans;
END $$;
