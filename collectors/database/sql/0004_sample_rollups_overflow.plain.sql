-- Overflow-safe rollups on plain PostgreSQL. avg() of a double keeps the sum of
-- squares, which overflows (an error, not infinity) from about 1.34e154: one
-- such Good row made every refresh fail forever. The store now flags values
-- above 1e150 Bad (value NULL), and the refresh leaves out any row above that
-- magnitude already in the table (written before, or by another tool), so the
-- rollups stay computable. Otherwise the same function as in 0003.
CREATE OR REPLACE FUNCTION refresh_sample_rollups(through timestamptz DEFAULT NULL) RETURNS integer LANGUAGE plpgsql AS $$
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
          AND abs(value) <= 1e150
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
