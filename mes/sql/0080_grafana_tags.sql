-- The grafana schema: every Grafana panel reads only these views and functions,
-- so the dashboards never depend on table layouts and the read-only role needs
-- no rights outside this schema. Views run with their owner's rights; functions
-- are SECURITY DEFINER with a fixed search_path for the same reason.
CREATE SCHEMA grafana;
COMMENT ON SCHEMA grafana IS 'LineBrain: read-only views and functions behind the Grafana dashboards';

-- OPC UA StatusCode severity (top two bits): the quality every protocol's samples carry.
CREATE FUNCTION grafana.quality(status bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE (status >> 30) & 3 WHEN 0 THEN 'good' WHEN 1 THEN 'uncertain' ELSE 'bad' END
$$;

CREATE VIEW grafana.tags AS
SELECT id AS tag_id, name AS tag, connection, data_type, unit, description, eng_low, eng_high, address, active
FROM public.tags;

CREATE VIEW grafana.connections AS
SELECT DISTINCT connection FROM public.tags;

-- Latest sample of every tag: one backward index probe per tag, not a scan.
CREATE VIEW grafana.tag_latest AS
SELECT t.name AS tag, t.connection, t.unit, s.time, s.value, s.text_value,
       grafana.quality(s.status) AS quality, s.status, s.received_time - s.time AS age_at_receipt
FROM public.tags t
LEFT JOIN LATERAL (
    SELECT time, value, text_value, status, received_time
    FROM public.samples WHERE tag_id = t.id ORDER BY time DESC LIMIT 1
) s ON true;

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
CREATE FUNCTION grafana.sample_source(p_bucket_ms bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN p_bucket_ms >= 3600000 AND p_bucket_ms % 3600000 = 0 THEN 'samples_1h'
        WHEN p_bucket_ms >= 60000 AND p_bucket_ms % 60000 = 0 THEN 'samples_1m'
        ELSE 'samples'
    END
$$;

-- Values of the chosen tags per bucket, with how many samples were good, uncertain or bad.
CREATE FUNCTION grafana.tag_values(p_tags text[], p_from timestamptz, p_to timestamptz, p_bucket_ms bigint)
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

-- Raw samples with their quality, newest first, capped (a table panel, not a
-- chart): read per tag through the (tag_id, time) index and merged, so a month of
-- 1 s samples answers from a few index pages instead of a sort of every sample of
-- the chosen tags in the range.
CREATE FUNCTION grafana.tag_samples(p_tags text[], p_from timestamptz, p_to timestamptz,
                                    p_limit integer DEFAULT 500)
RETURNS TABLE (
    "time" timestamptz, tag text, value double precision, text_value text, quality text, status text,
    server_time timestamptz, received_time timestamptz
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT s.time, t.name, s.value, s.text_value, grafana.quality(s.status),
           '0x' || lpad(to_hex(s.status), 8, '0'), s.server_time, s.received_time
    FROM public.tags t
    CROSS JOIN LATERAL (
        SELECT x.time, x.value, x.text_value, x.status, x.server_time, x.received_time
        FROM public.samples x
        WHERE x.tag_id = t.id AND x.time >= p_from AND x.time < p_to
        ORDER BY x.time DESC
        LIMIT p_limit
    ) s
    WHERE t.name = ANY (p_tags)
    ORDER BY s.time DESC, t.name
    LIMIT p_limit
$$;

-- Store throughput: rows committed per second, per store source, from the exactly-once ledger.
CREATE FUNCTION grafana.store_throughput(p_from timestamptz, p_to timestamptz, p_bucket_ms bigint)
RETURNS TABLE ("time" timestamptz, source text, samples_per_second double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT date_bin(make_interval(secs => greatest(p_bucket_ms, 1000) / 1000.0), b.committed_at,
                    timestamptz '2000-01-01'),
           coalesce(nullif(b.source, ''), 'store'),
           sum(b.rows) / (greatest(p_bucket_ms, 1000) / 1000.0)
    FROM public.store_batches b
    WHERE b.committed_at >= p_from AND b.committed_at < p_to
    GROUP BY 1, 2
    ORDER BY 1, 2
$$;

-- Store latency: how old the newest sample of a batch was when the batch committed.
CREATE FUNCTION grafana.store_latency(p_from timestamptz, p_to timestamptz, p_bucket_ms bigint)
RETURNS TABLE ("time" timestamptz, avg_latency double precision, max_latency double precision, batches bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT date_bin(make_interval(secs => greatest(p_bucket_ms, 1000) / 1000.0), b.committed_at,
                    timestamptz '2000-01-01'),
           avg(extract(epoch FROM b.committed_at - b.last_time))::double precision,
           max(extract(epoch FROM b.committed_at - b.last_time))::double precision,
           count(*)
    FROM public.store_batches b
    WHERE b.committed_at >= p_from AND b.committed_at < p_to AND b.last_time IS NOT NULL
    GROUP BY 1
    ORDER BY 1
$$;

-- Samples per connection and quality per bucket: errors show up as bad samples.
CREATE FUNCTION grafana.connection_quality(p_connections text[], p_from timestamptz, p_to timestamptz,
                                           p_bucket_ms bigint)
RETURNS TABLE ("time" timestamptz, connection text, good bigint, uncertain bigint, bad bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT v.time, t.connection, sum(v.good)::bigint, sum(v.uncertain)::bigint, sum(v.bad)::bigint
    FROM grafana.tag_values(
        ARRAY(SELECT name FROM public.tags WHERE connection = ANY (p_connections)), p_from, p_to, p_bucket_ms
    ) v JOIN public.tags t ON t.name = v.tag
    GROUP BY 1, 2
    ORDER BY 1, 2
$$;

CREATE VIEW grafana.store_batches AS
SELECT batch_id, coalesce(nullif(source, ''), 'store') AS source, rows, first_time, last_time, committed_at,
       extract(epoch FROM committed_at - last_time)::double precision AS latency
FROM public.store_batches;
