-- The Grafana tag views read when a sample was received from either place it is kept
-- (collectors 0022): the exact `received_time` of rows written before that migration or
-- received too late for an integer delay, otherwise `time` plus `receive_delay_ms`.
-- Same names, columns and types as 0080: the dashboards do not change.
CREATE OR REPLACE VIEW grafana.tag_latest AS
SELECT t.name AS tag, t.connection, t.unit, s.time, s.value, s.text_value,
       grafana.quality(s.status) AS quality, s.status, s.received - s.time AS age_at_receipt
FROM public.tags t
LEFT JOIN LATERAL (
    SELECT time, value, text_value, status,
           coalesce(received_time, time + receive_delay_ms * interval '1 millisecond') AS received
    FROM public.samples WHERE tag_id = t.id ORDER BY time DESC LIMIT 1
) s ON true;

CREATE OR REPLACE FUNCTION grafana.tag_samples(p_tags text[], p_from timestamptz, p_to timestamptz,
                                               p_limit integer DEFAULT 500)
RETURNS TABLE (
    "time" timestamptz, tag text, value double precision, text_value text, quality text, status text,
    server_time timestamptz, received_time timestamptz
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT s.time, t.name, s.value, s.text_value, grafana.quality(s.status),
           '0x' || lpad(to_hex(s.status), 8, '0'), s.server_time, s.received
    FROM public.tags t
    CROSS JOIN LATERAL (
        SELECT x.time, x.value, x.text_value, x.status, x.server_time,
               coalesce(x.received_time, x.time + x.receive_delay_ms * interval '1 millisecond') AS received
        FROM public.samples x
        WHERE x.tag_id = t.id AND x.time >= p_from AND x.time < p_to
        ORDER BY x.time DESC
        LIMIT p_limit
    ) s
    WHERE t.name = ANY (p_tags)
    ORDER BY s.time DESC, t.name
    LIMIT p_limit
$$;
