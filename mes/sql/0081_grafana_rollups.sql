-- Long time ranges read the rollups (samples_1m / samples_1h, collectors 0003),
-- so a 30-day panel reads ~43k minute rows per tag instead of 2.6M samples.
--
-- The rollups hold good numeric samples only. Uncertain and bad samples are
-- counted from samples through a partial index: non-good samples are rare, so
-- the index is small and cheap to keep at full ingest rate, and a month of
-- quality counts costs a few index pages, not a scan.
CREATE INDEX samples_not_good ON public.samples (tag_id, time) WHERE status >= 1073741824;

-- A rollup answers a bucket only when its width divides the bucket (1 h buckets
-- of 1 h rollups, 5 min buckets of 1 min rollups); anything finer reads samples.
CREATE OR REPLACE FUNCTION grafana.sample_source(p_bucket_ms bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN p_bucket_ms >= 3600000 AND p_bucket_ms % 3600000 = 0 THEN 'samples_1h'
        WHEN p_bucket_ms >= 60000 AND p_bucket_ms % 60000 = 0 THEN 'samples_1m'
        ELSE 'samples'
    END
$$;

CREATE OR REPLACE FUNCTION grafana.tag_values(p_tags text[], p_from timestamptz, p_to timestamptz, p_bucket_ms bigint)
RETURNS TABLE (
    "time" timestamptz, tag text, avg double precision, min double precision, max double precision,
    last double precision, good bigint, uncertain bigint, bad bigint
)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    bucket interval := make_interval(secs => greatest(p_bucket_ms, 1000) / 1000.0);
    source text := grafana.sample_source(greatest(p_bucket_ms, 1000));
    ids integer[] := ARRAY(SELECT id FROM public.tags WHERE name = ANY (p_tags));
BEGIN
    IF source = 'samples' THEN
        RETURN QUERY
        SELECT date_bin(bucket, s.time, timestamptz '2000-01-01') AS "time", t.name,
               avg(s.value) FILTER (WHERE s.status < 1073741824),
               min(s.value) FILTER (WHERE s.status < 1073741824),
               max(s.value) FILTER (WHERE s.status < 1073741824),
               (array_agg(s.value ORDER BY s.time DESC))[1],
               count(*) FILTER (WHERE s.status < 1073741824),
               count(*) FILTER (WHERE s.status >= 1073741824 AND s.status < 2147483648),
               count(*) FILTER (WHERE s.status >= 2147483648)
        FROM public.samples s JOIN public.tags t ON t.id = s.tag_id
        WHERE s.tag_id = ANY (ids) AND s.time >= p_from AND s.time < p_to
        GROUP BY 1, 2
        ORDER BY 1, 2;
        RETURN;
    END IF;
    RETURN QUERY EXECUTE format($q$
        WITH rolled AS (
            SELECT date_bin($1, r.bucket, timestamptz '2000-01-01') AS b, r.tag_id,
                   min(r.min_value) AS mn, max(r.max_value) AS mx,
                   sum(r.avg_value * r.sample_count) / nullif(sum(r.sample_count), 0) AS av,
                   (array_agg(r.last_value ORDER BY r.last_time DESC))[1] AS lv,
                   sum(r.sample_count)::bigint AS good
            FROM public.%I r
            WHERE r.tag_id = ANY ($2) AND r.bucket >= date_bin($1, $3, timestamptz '2000-01-01') AND r.bucket < $4
            GROUP BY 1, 2
        ), flagged AS (
            SELECT date_bin($1, s.time, timestamptz '2000-01-01') AS b, s.tag_id,
                   count(*) FILTER (WHERE s.status < 2147483648) AS uncertain,
                   count(*) FILTER (WHERE s.status >= 2147483648) AS bad
            FROM public.samples s
            WHERE s.tag_id = ANY ($2) AND s.status >= 1073741824 AND s.time >= $3 AND s.time < $4
            GROUP BY 1, 2
        )
        SELECT coalesce(r.b, f.b), t.name, r.av, r.mn, r.mx, r.lv,
               coalesce(r.good, 0), coalesce(f.uncertain, 0), coalesce(f.bad, 0)
        FROM rolled r FULL JOIN flagged f ON f.b = r.b AND f.tag_id = r.tag_id
        JOIN public.tags t ON t.id = coalesce(r.tag_id, f.tag_id)
        ORDER BY 1, 2
    $q$, source) USING bucket, ids, p_from, p_to;
END $$;
