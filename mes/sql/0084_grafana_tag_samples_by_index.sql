-- Raw samples newest first, read per tag through the (tag_id, time) index and
-- merged: a month of 1 s samples answers from a few index pages instead of a
-- sort of every sample of the chosen tags in the range.
CREATE OR REPLACE FUNCTION grafana.tag_samples(p_tags text[], p_from timestamptz, p_to timestamptz,
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
