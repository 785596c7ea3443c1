-- TimescaleDB storage driven by the config, and rollups refreshed from the batches committed.
--
-- 1. sample_rollup_pending as on plain PostgreSQL (0003): every committed batch leaves its
--    time range there, in its own transaction. A continuous aggregate's real-time part only
--    covers what lies above its watermark; samples arriving late (a spool replayed after an
--    outage, an import, a backfill into a compressed chunk) land below it and would stay
--    invisible in samples_1m / samples_1h until a policy happened to refresh that range —
--    and the policies only look back 3 hours / 3 days. collectors/store/rollups.py takes the
--    pending ranges with take_sample_rollup_pending() and refreshes exactly those
--    (refresh_continuous_aggregate cannot run inside a function's transaction).
-- 2. The chunk interval follows the plant's expected sample rate: a chunk should hold about
--    25 million rows, ~2.5 GB with its index uncompressed (≈ 100 B a row), so the chunk being
--    written and its index stay in memory on a modest server (TimescaleDB's advice: a quarter
--    of RAM). 1,000 samples/s (the default) gives 6-hour chunks, 10,000/s 1-hour chunks.
-- 3. Compression and retention policies from the config (storage.compress_after_days,
--    storage.retention_days), set by configure_sample_storage() when a collector starts.
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

-- Take the pending ranges, merged into disjoint whole-minute spans, up to ``through``
-- (default: the start of the current minute, so the open minute waits for a later call,
-- like refresh_sample_rollups() on plain PostgreSQL). What lies beyond stays pending.
CREATE FUNCTION take_sample_rollup_pending(through timestamptz DEFAULT NULL)
RETURNS TABLE (span_from timestamptz, span_to timestamptz) LANGUAGE plpgsql AS $$
DECLARE
    span record;
    cutoff timestamptz := coalesce(through, date_trunc('minute', now()));
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
        IF span.hi > cutoff THEN
            INSERT INTO sample_rollup_pending (first_time, last_time)
            VALUES (greatest(span.lo, cutoff), span.hi - interval '1 microsecond');
            span.hi := cutoff;
        END IF;
        CONTINUE WHEN span.lo >= span.hi;
        span_from := span.lo;
        span_to := span.hi;
        RETURN NEXT;
    END LOOP;
END $$;

CREATE FUNCTION sample_chunk_interval(samples_per_second double precision)
RETURNS interval LANGUAGE sql IMMUTABLE AS $$
    -- The largest of 1, 2, 3, 4, 6, 8, 12 hours or 1..7 days holding at most 25 M rows
    -- (whole divisors of a day keep chunk boundaries on the same clock hours every day).
    SELECT coalesce(max(step), interval '1 hour')
    FROM unnest(ARRAY[1, 2, 3, 4, 6, 8, 12, 24, 48, 72, 96, 120, 144, 168]) AS hours,
         LATERAL (SELECT make_interval(hours => hours) AS step) s
    WHERE hours * 3600 * greatest(samples_per_second, 0.001) <= 25000000
$$;

SELECT set_chunk_time_interval('samples', sample_chunk_interval(1000));

CREATE FUNCTION configure_sample_storage(retention_days integer, compress_after_days integer,
                                         samples_per_second double precision)
RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_chunk_time_interval('samples', sample_chunk_interval(samples_per_second));
    PERFORM remove_compression_policy('samples', if_exists => true);
    PERFORM add_compression_policy('samples', make_interval(days => compress_after_days));
    RETURN apply_sample_retention(retention_days);
END $$;
