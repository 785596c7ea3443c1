-- A line's settings (micro-stop threshold and loss, default PRU) and its cycle
-- times change every hour's KPIs, but the config sync rewrites them on every
-- start (cycle times are deleted and inserted again), so row triggers would
-- throw the whole cache away each time. Instead the cache remembers the settings
-- it was computed with: while they differ from the current ones every hour of
-- that line is computed live, and the next refresh recomputes the line.
DROP TRIGGER grafana_kpi_dirty ON public.product_cycle_times;
DROP TRIGGER grafana_kpi_dirty ON public.equipment;

CREATE TABLE grafana.kpi_settings_seen (
    line_id  text  PRIMARY KEY,
    settings jsonb NOT NULL
);

CREATE FUNCTION grafana._kpi_settings(p_line text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'unit', (SELECT jsonb_build_object('micro_stop_seconds', e.micro_stop_seconds,
                                           'minor_stop_loss', e.minor_stop_loss, 'default_pru', e.default_pru)
                 FROM public.equipment e WHERE e.id = p_line),
        'cycle_times', (SELECT coalesce(jsonb_object_agg(c.product_id, c.ideal_cycle_time), '{}'::jsonb)
                        FROM public.product_cycle_times c WHERE c.line_id = p_line))
$$;

-- True when the line's cached hours were computed with its current settings.
CREATE FUNCTION grafana._kpi_cache_trusted(p_line text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT s.settings = grafana._kpi_settings(p_line)
                     FROM grafana.kpi_settings_seen s WHERE s.line_id = p_line), false)
$$;

CREATE OR REPLACE FUNCTION grafana._kpi_pieces(p_line text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (piece_from timestamptz, piece_to timestamptz, cached boolean)
LANGUAGE sql STABLE AS $$
    WITH trusted AS (SELECT grafana._kpi_cache_trusted(p_line) AS ok),
    slots AS (
        SELECT greatest(h, p_from) AS s, least(h + interval '1 hour', p_to) AS e,
               trusted.ok AND h >= p_from AND h + interval '1 hour' <= p_to
               AND EXISTS (SELECT 1 FROM grafana.kpi_hours_done d WHERE d.line_id = p_line AND d.hour = h)
               AND NOT EXISTS (SELECT 1 FROM grafana.kpi_dirty x
                               WHERE x.period && tstzrange(h, h + interval '1 hour')) AS cached
        FROM trusted,
             generate_series(date_trunc('hour', p_from), p_to - interval '1 microsecond', interval '1 hour') h
        WHERE p_from < p_to
    ), islands AS (
        SELECT s, e, cached, sum(changed) OVER (ORDER BY s) AS island
        FROM (SELECT *, CASE WHEN cached IS DISTINCT FROM lag(cached) OVER (ORDER BY s) THEN 1 ELSE 0 END AS changed
              FROM slots) marked
    )
    SELECT min(s), max(e), bool_and(cached) FROM islands GROUP BY island, cached ORDER BY 1
$$;

CREATE OR REPLACE FUNCTION grafana.kpi_series(p_line text, p_from timestamptz, p_to timestamptz, p_step interval,
                                              p_group text DEFAULT 'period')
RETURNS TABLE ("time" timestamptz, group_key text, pbt double precision, apt double precision,
               minor_stops bigint, minor_stop_time double precision, pq double precision, gq double precision,
               sq double precision, rq double precision, ideal_time double precision,
               availability double precision, effectiveness double precision, quality_ratio double precision,
               oee double precision, scrap_ratio double precision, rework_ratio double precision,
               first_pass_yield double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH trusted AS (SELECT grafana._kpi_cache_trusted(p_line) AS ok),
    slots AS (
        SELECT greatest(h, p_from) AS s, least(h + interval '1 hour', p_to) AS e, h,
               trusted.ok AND h >= p_from AND h + interval '1 hour' <= p_to
               AND EXISTS (SELECT 1 FROM grafana.kpi_hours_done d WHERE d.line_id = p_line AND d.hour = h)
               AND NOT EXISTS (SELECT 1 FROM grafana.kpi_dirty x
                               WHERE x.period && tstzrange(h, h + interval '1 hour')) AS cached
        FROM trusted,
             generate_series(date_trunc('hour', p_from), p_to - interval '1 microsecond', interval '1 hour') h
        WHERE p_from < p_to
    ),
    parts AS (
        SELECT sl.h, k.group_key, k.pbt, k.apt, k.minor_stops, k.minor_stop_time, k.pq, k.gq, k.sq, k.rq,
               k.ideal_time
        FROM slots sl JOIN grafana.kpi_hours k
          ON sl.cached AND k.line_id = p_line AND k.group_by = p_group AND k.hour = sl.h
        UNION ALL
        SELECT sl.h, l.group_key, l.pbt, l.apt, l.minor_stops, l.minor_stop_time, l.pq, l.gq, l.sq, l.rq,
               l.ideal_time
        FROM slots sl CROSS JOIN LATERAL grafana._kpi_live(p_line, sl.s, sl.e, p_group) l
        WHERE NOT sl.cached
    ),
    summed AS (
        SELECT greatest(date_bin(p_step, p.h, timestamptz '2000-01-01'), p_from) AS b, p.group_key,
               sum(p.pbt) AS pbt, sum(p.apt) AS apt, sum(p.minor_stops)::bigint AS minor_stops,
               sum(p.minor_stop_time) AS minor_stop_time, sum(p.pq) AS pq, sum(p.gq) AS gq, sum(p.sq) AS sq,
               sum(p.rq) AS rq, CASE WHEN bool_or(p.ideal_time IS NULL) THEN NULL ELSE sum(p.ideal_time) END AS ideal
        FROM parts p GROUP BY 1, 2
    )
    SELECT s.b, s.group_key, s.pbt, s.apt, s.minor_stops, s.minor_stop_time, s.pq, s.gq, s.sq, s.rq, s.ideal,
           r.availability, r.effectiveness, r.quality_ratio, r.oee, r.scrap_ratio, r.rework_ratio, r.first_pass_yield
    FROM summed s CROSS JOIN LATERAL grafana._kpi_ratios(s.pbt, s.apt, s.ideal, s.pq, s.gq, s.sq, s.rq) r
    ORDER BY 1, 2
$$;

CREATE OR REPLACE FUNCTION grafana.refresh_kpi_hours(p_max_hours integer DEFAULT 2000) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    horizon timestamptz := date_trunc('hour', now() - interval '5 minutes');
    noted bigint;
    line record;
    todo record;
    computed integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(7310442080);
    -- A line whose settings changed is recomputed from scratch.
    FOR line IN SELECT e.id, grafana._kpi_settings(e.id) AS settings
                FROM public.equipment e WHERE e.level = 'line' LOOP
        IF NOT grafana._kpi_cache_trusted(line.id) THEN
            DELETE FROM grafana.kpi_hours_done WHERE line_id = line.id;
            INSERT INTO grafana.kpi_settings_seen (line_id, settings) VALUES (line.id, line.settings)
            ON CONFLICT (line_id) DO UPDATE SET settings = EXCLUDED.settings;
        END IF;
    END LOOP;
    SELECT max(id) INTO noted FROM grafana.kpi_dirty;
    -- Forget cached hours that changed (only what was noted before this refresh began).
    DELETE FROM grafana.kpi_hours_done d
    WHERE EXISTS (SELECT 1 FROM grafana.kpi_dirty x
                  WHERE x.id <= noted AND x.period && tstzrange(d.hour, d.hour + interval '1 hour'));
    DELETE FROM grafana.kpi_dirty WHERE id <= noted;
    FOR todo IN
        SELECT l.id AS line_id, h AS hour
        FROM public.equipment l
        CROSS JOIN LATERAL (SELECT date_trunc('hour', min(lower(s.period))) AS first
                            FROM public.shift_instances s WHERE s.line_id = l.id) f
        CROSS JOIN LATERAL generate_series(f.first, horizon - interval '1 hour', interval '1 hour') h
        WHERE l.level = 'line' AND l.active AND f.first IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM grafana.kpi_hours_done d WHERE d.line_id = l.id AND d.hour = h)
        ORDER BY h DESC
        LIMIT p_max_hours
    LOOP
        DELETE FROM grafana.kpi_hours WHERE line_id = todo.line_id AND hour = todo.hour;
        INSERT INTO grafana.kpi_hours
        SELECT todo.line_id, todo.hour, g.grp, k.*
        FROM unnest(ARRAY['period', 'product', 'order']) g (grp)
        CROSS JOIN LATERAL grafana._kpi_live(todo.line_id, todo.hour, todo.hour + interval '1 hour', g.grp) k
        WHERE k.group_key IS NOT NULL;
        INSERT INTO grafana.kpi_hours_done (line_id, hour) VALUES (todo.line_id, todo.hour);
        computed := computed + 1;
    END LOOP;
    RETURN computed;
END $$;
REVOKE EXECUTE ON FUNCTION grafana.refresh_kpi_hours(integer) FROM PUBLIC;
