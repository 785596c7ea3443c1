-- Hourly KPI elements for long Grafana ranges.
--
-- mes_kpi() over 30 days walks a month of timeline (~0.3–0.5 s per line here),
-- so an overview of ten lines, or a trend of 200 points, would take seconds.
-- The time elements and quantities mes_kpi() returns are sums over the
-- timeline's segments, so they add up across adjacent windows: this table keeps
-- mes_kpi(line, hour, hour + 1 h, group) for whole past hours (by period, product
-- and order), and grafana.kpi() adds cached hours to live mes_kpi() calls for
-- what is not cached (range edges, the current hour, hours changed since), then
-- applies the ISO 22400-2 ratios exactly as mes_kpi() does. Correct whether or not
-- the cache is filled; fast once `linebrain run` (or `linebrain grafana refresh`)
-- has filled it.

CREATE TABLE grafana.kpi_hours (
    line_id         text             NOT NULL,
    hour            timestamptz      NOT NULL,
    group_by        text             NOT NULL CHECK (group_by IN ('period', 'product', 'order')),
    group_key       text             NOT NULL,
    pot             double precision NOT NULL,
    pdt             double precision NOT NULL,
    pbt             double precision NOT NULL,
    aubt            double precision NOT NULL,
    adot            double precision NOT NULL,
    adet            double precision NOT NULL,
    aust            double precision NOT NULL,
    apt             double precision NOT NULL,
    aupt            double precision NOT NULL,
    minor_stop_time double precision NOT NULL,
    minor_stops     bigint           NOT NULL,
    aoet            double precision NOT NULL,
    pq              double precision NOT NULL,
    gq              double precision NOT NULL,
    sq              double precision NOT NULL,
    rq              double precision NOT NULL,
    pq_total        double precision NOT NULL,
    gq_total        double precision NOT NULL,
    energy          double precision NOT NULL,
    ideal_time      double precision,  -- NULL: units made without a known PRU
    PRIMARY KEY (line_id, group_by, hour, group_key)
);

-- Which (line, hour) are cached; an hour with no order has no 'order' rows but is cached.
CREATE TABLE grafana.kpi_hours_done (
    line_id     text        NOT NULL,
    hour        timestamptz NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (line_id, hour)
);

-- Time ranges whose facts changed since they were cached (written by triggers on
-- the MES tables below). A cached hour overlapping one is not trusted.
CREATE TABLE grafana.kpi_dirty (
    id        bigserial   PRIMARY KEY,
    period    tstzrange   NOT NULL,
    noted_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX kpi_dirty_period ON grafana.kpi_dirty USING gist (period);

CREATE FUNCTION grafana._changed_span(p_table text, p_row jsonb) RETURNS tstzrange
LANGUAGE sql STABLE SET search_path = pg_catalog, public AS $$
    SELECT CASE p_table
        WHEN 'count_buckets' THEN tstzrange((p_row ->> 'cut_end')::timestamptz - interval '1 minute',
                                            (p_row ->> 'cut_end')::timestamptz, '[]')
        WHEN 'count_adjustments' THEN tstzrange((p_row ->> 'at')::timestamptz, (p_row ->> 'at')::timestamptz, '[]')
        WHEN 'downtime_assignments' THEN
            (SELECT e.period FROM public.downtime_events e WHERE e.id = (p_row ->> 'event_id')::bigint)
        WHEN 'work_orders' THEN
            (SELECT tstzrange(min(lower(r.period)), max(coalesce(upper(r.period), 'infinity')))
             FROM public.order_runs r WHERE r.order_id = (p_row ->> 'id')::bigint)
        ELSE (p_row ->> 'period')::tstzrange
    END
$$;

-- Notes the time a changed MES row covers. When only the end of a period moved
-- (the provisional tail of a state or stop growing), only the stretch between
-- the old and the new end changed.
CREATE FUNCTION grafana.note_changed_period() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    old_row jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
    new_row jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
    old_span tstzrange;
    new_span tstzrange;
BEGIN
    IF old_row IS NOT NULL AND new_row IS NOT NULL AND old_row ? 'period'
       AND old_row - 'period' = new_row - 'period'
       AND lower((old_row ->> 'period')::tstzrange) = lower((new_row ->> 'period')::tstzrange) THEN
        old_span := (old_row ->> 'period')::tstzrange;
        new_span := (new_row ->> 'period')::tstzrange;
        INSERT INTO grafana.kpi_dirty (period)
        SELECT tstzrange(least(coalesce(upper(old_span), 'infinity'), coalesce(upper(new_span), 'infinity')),
                         greatest(coalesce(upper(old_span), 'infinity'), coalesce(upper(new_span), 'infinity')), '[]')
        WHERE upper(old_span) IS DISTINCT FROM upper(new_span);
        RETURN NULL;
    END IF;
    INSERT INTO grafana.kpi_dirty (period)
    SELECT span FROM (VALUES (grafana._changed_span(TG_TABLE_NAME, old_row)),
                             (grafana._changed_span(TG_TABLE_NAME, new_row))) v (span)
    WHERE span IS NOT NULL AND NOT isempty(span);
    RETURN NULL;
END $$;

CREATE TRIGGER grafana_kpi_dirty AFTER INSERT OR UPDATE OR DELETE ON public.state_intervals
    FOR EACH ROW EXECUTE FUNCTION grafana.note_changed_period();
CREATE TRIGGER grafana_kpi_dirty AFTER INSERT OR UPDATE OR DELETE ON public.count_buckets
    FOR EACH ROW EXECUTE FUNCTION grafana.note_changed_period();
CREATE TRIGGER grafana_kpi_dirty AFTER INSERT OR UPDATE OR DELETE ON public.count_adjustments
    FOR EACH ROW EXECUTE FUNCTION grafana.note_changed_period();
CREATE TRIGGER grafana_kpi_dirty AFTER INSERT OR UPDATE OR DELETE ON public.downtime_events
    FOR EACH ROW EXECUTE FUNCTION grafana.note_changed_period();
CREATE TRIGGER grafana_kpi_dirty AFTER INSERT OR UPDATE ON public.downtime_assignments
    FOR EACH ROW EXECUTE FUNCTION grafana.note_changed_period();
CREATE TRIGGER grafana_kpi_dirty AFTER INSERT OR UPDATE OR DELETE ON public.order_runs
    FOR EACH ROW EXECUTE FUNCTION grafana.note_changed_period();
CREATE TRIGGER grafana_kpi_dirty AFTER UPDATE OF product_id, line_id ON public.work_orders
    FOR EACH ROW EXECUTE FUNCTION grafana.note_changed_period();
CREATE TRIGGER grafana_kpi_dirty AFTER INSERT OR UPDATE OR DELETE ON public.planned_downtime
    FOR EACH ROW EXECUTE FUNCTION grafana.note_changed_period();
CREATE TRIGGER grafana_kpi_dirty AFTER INSERT OR UPDATE OR DELETE ON public.shift_instances
    FOR EACH ROW EXECUTE FUNCTION grafana.note_changed_period();

-- mes_kpi() of one window as cache-shaped rows.
CREATE FUNCTION grafana._kpi_live(p_line text, p_from timestamptz, p_to timestamptz, p_group text)
RETURNS TABLE (group_key text, pot double precision, pdt double precision, pbt double precision,
               aubt double precision, adot double precision, adet double precision, aust double precision,
               apt double precision, aupt double precision, minor_stop_time double precision, minor_stops bigint,
               aoet double precision, pq double precision, gq double precision, sq double precision,
               rq double precision, pq_total double precision, gq_total double precision, energy double precision,
               ideal_time double precision)
LANGUAGE sql STABLE AS $$
    SELECT k.group_key, k.pot, k.pdt, k.pbt, k.aubt, k.adot, k.adet, k.aust, k.apt, k.aupt, k.minor_stop_time,
           k.minor_stops, k.aoet, k.pq, k.gq, k.sq, k.rq, k.pq_total, k.gq_total, k.energy, k.ideal_time
    FROM public.mes_kpi(p_line, p_from, p_to, p_group) k
    WHERE p_from < p_to
$$;

-- A line's settings (micro-stop threshold and loss, default PRU) and its cycle
-- times change every hour's KPIs, but the config sync rewrites them on every
-- start (cycle times are deleted and inserted again), so row triggers would
-- throw the whole cache away each time. Instead the cache remembers the settings
-- it was computed with: while they differ from the current ones every hour of
-- that line is computed live, and the next refresh recomputes the line.
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

-- The hours of [p_from, p_to), cut by the window, each with whether it is read
-- from the cache: a whole hour, cached with the line's current settings and not
-- changed since.
CREATE FUNCTION grafana._kpi_slots(p_line text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (slot_from timestamptz, slot_to timestamptz, hour timestamptz, cached boolean)
LANGUAGE sql STABLE AS $$
    WITH trusted AS (SELECT grafana._kpi_cache_trusted(p_line) AS ok)
    SELECT greatest(h, p_from), least(h + interval '1 hour', p_to), h,
           trusted.ok AND h >= p_from AND h + interval '1 hour' <= p_to
           AND EXISTS (SELECT 1 FROM grafana.kpi_hours_done d WHERE d.line_id = p_line AND d.hour = h)
           AND NOT EXISTS (SELECT 1 FROM grafana.kpi_dirty x
                           WHERE x.period && tstzrange(h, h + interval '1 hour'))
    FROM trusted,
         generate_series(date_trunc('hour', p_from), p_to - interval '1 microsecond', interval '1 hour') h
    WHERE p_from < p_to
$$;

-- The pieces of [p_from, p_to): whole cached hours, and the uncached stretches between them.
CREATE FUNCTION grafana._kpi_pieces(p_line text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (piece_from timestamptz, piece_to timestamptz, cached boolean)
LANGUAGE sql STABLE AS $$
    WITH slots AS (
        SELECT k.slot_from AS s, k.slot_to AS e, k.cached FROM grafana._kpi_slots(p_line, p_from, p_to) k
    ), islands AS (
        SELECT s, e, cached, sum(changed) OVER (ORDER BY s) AS island
        FROM (SELECT *, CASE WHEN cached IS DISTINCT FROM lag(cached) OVER (ORDER BY s) THEN 1 ELSE 0 END AS changed
              FROM slots) marked
    )
    SELECT min(s), max(e), bool_and(cached) FROM islands GROUP BY island, cached ORDER BY 1
$$;

-- KPI elements and ISO 22400-2 ratios of a line over a window, per group ('period',
-- 'product' or 'order'), from cached hours plus live mes_kpi() for the rest.
CREATE FUNCTION grafana.kpi(p_line text, p_from timestamptz, p_to timestamptz, p_group text DEFAULT 'period')
RETURNS TABLE (group_key text, pot double precision, pdt double precision, pbt double precision,
               adet double precision, aust double precision, adot double precision, apt double precision,
               aupt double precision, minor_stops bigint, minor_stop_time double precision, aoet double precision,
               pq double precision, gq double precision, sq double precision, rq double precision,
               pq_total double precision, gq_total double precision, ideal_time double precision,
               availability double precision, effectiveness double precision, quality_ratio double precision,
               oee double precision, scrap_ratio double precision, rework_ratio double precision,
               first_pass_yield double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH pieces AS (SELECT * FROM grafana._kpi_pieces(p_line, p_from, p_to)),
    parts AS (
        SELECT h.group_key, h.pot, h.pdt, h.pbt, h.adet, h.aust, h.adot, h.apt, h.aupt, h.minor_stops,
               h.minor_stop_time, h.aoet, h.pq, h.gq, h.sq, h.rq, h.pq_total, h.gq_total, h.ideal_time
        FROM pieces p JOIN grafana.kpi_hours h
          ON p.cached AND h.line_id = p_line AND h.group_by = p_group
         AND h.hour >= p.piece_from AND h.hour < p.piece_to
        UNION ALL
        SELECT l.group_key, l.pot, l.pdt, l.pbt, l.adet, l.aust, l.adot, l.apt, l.aupt, l.minor_stops,
               l.minor_stop_time, l.aoet, l.pq, l.gq, l.sq, l.rq, l.pq_total, l.gq_total, l.ideal_time
        FROM pieces p CROSS JOIN LATERAL grafana._kpi_live(p_line, p.piece_from, p.piece_to, p_group) l
        WHERE NOT p.cached
    ),
    s AS (
        SELECT group_key, sum(pot) AS pot, sum(pdt) AS pdt, sum(pbt) AS pbt, sum(adet) AS adet, sum(aust) AS aust,
               sum(adot) AS adot, sum(apt) AS apt, sum(aupt) AS aupt, sum(minor_stops)::bigint AS minor_stops,
               sum(minor_stop_time) AS minor_stop_time, sum(aoet) AS aoet, sum(pq) AS pq, sum(gq) AS gq,
               sum(sq) AS sq, sum(rq) AS rq, sum(pq_total) AS pq_total, sum(gq_total) AS gq_total,
               CASE WHEN bool_or(ideal_time IS NULL) THEN NULL ELSE sum(ideal_time) END AS ideal
        FROM parts GROUP BY group_key
    )
    -- The ratios as mes_kpi() computes them (0002_kpi_functions.sql), from the summed elements.
    SELECT s.group_key, s.pot, s.pdt, s.pbt, s.adet, s.aust, s.adot, s.apt, s.aupt, s.minor_stops, s.minor_stop_time,
           s.aoet, s.pq, s.gq, s.sq, s.rq, s.pq_total, s.gq_total, s.ideal,
           s.apt / nullif(s.pbt, 0),
           s.ideal / nullif(s.apt, 0),
           s.gq / nullif(s.pq, 0),
           CASE WHEN s.pbt > 0 THEN CASE WHEN s.pq > 0 THEN s.ideal * s.gq / s.pq / s.pbt ELSE 0 END END,
           (s.pq - s.gq) / nullif(s.pq, 0),
           s.rq / nullif(s.pq, 0),
           (s.pq - s.sq - s.rq) / nullif(s.pq, 0)
    FROM s
$$;

-- Fill the cache: every past whole hour of every line not cached yet (from the
-- line's first shift, at most p_max_hours per call, newest first) and every
-- cached hour whose facts changed. Hours ending less than 5 minutes ago wait:
-- derivation may still revise them. Returns the hours computed.
CREATE FUNCTION grafana.refresh_kpi_hours(p_max_hours integer DEFAULT 2000) RETURNS integer
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
-- ------------------------------------------------------------------ panels on grafana.kpi()

-- KPIs per shift, with each shift's bounds in epoch ms for the "show this shift" link.
CREATE FUNCTION grafana.line_kpi_by_shift(p_line text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (shift text, start_time timestamptz, from_ms bigint, to_ms bigint, oee double precision,
               availability double precision, effectiveness double precision, quality_ratio double precision,
               good double precision, scrap double precision, minor_stops bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT s.label, s.start_time,
           (extract(epoch FROM s.start_time) * 1000)::bigint, (extract(epoch FROM s.end_time) * 1000)::bigint,
           k.oee, k.availability, k.effectiveness, k.quality_ratio, k.gq, k.sq, k.minor_stops
    FROM grafana.shifts s
    CROSS JOIN LATERAL grafana.kpi(p_line, greatest(s.start_time, p_from), least(s.end_time, p_to, now()),
                                   'period') k
    WHERE s.line_id = p_line AND s.start_time < least(p_to, now()) AND s.end_time > p_from
    ORDER BY s.start_time DESC
$$;

-- KPIs per product made on the line in the window.
CREATE FUNCTION grafana.line_kpi_by_product(p_line text, p_products text[], p_from timestamptz,
                                            p_to timestamptz, p_shift text DEFAULT 'all')
RETURNS TABLE (product text, oee double precision, availability double precision, effectiveness double precision,
               quality_ratio double precision, produced double precision, good double precision,
               pru double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT coalesce(nullif(pr.name, ''), k.group_key), k.oee, k.availability, k.effectiveness, k.quality_ratio,
           k.pq, k.gq, k.ideal_time / nullif(k.pq, 0)
    FROM grafana.time_window(p_from, p_to, p_shift) w
    CROSS JOIN LATERAL grafana.kpi(p_line, w.w_from, least(w.w_to, now()), 'product') k
    LEFT JOIN public.products pr ON pr.id = k.group_key
    WHERE k.group_key = ANY (p_products)
    ORDER BY k.pq DESC
$$;

-- The waterfall mes_oee_waterfall() draws, from the same elements.
CREATE FUNCTION grafana.loss_waterfall(p_line text, p_from timestamptz, p_to timestamptz,
                                       p_shift text DEFAULT 'all')
RETURNS TABLE (step text, base double precision, time_hours double precision, loss_hours double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH k AS (
        SELECT k.* FROM grafana.time_window(p_from, p_to, p_shift) w
        CROSS JOIN LATERAL grafana.kpi(p_line, w.w_from, least(w.w_to, now()), 'period') k
    ),
    f AS (
        SELECT v.step, v.name, v.kind, coalesce(v.seconds, 0) / 3600 AS hours
        FROM k, LATERAL (VALUES
            (1, 'planned_busy_time', 'total', k.pbt),
            (2, 'availability_loss', 'loss', k.pbt - k.apt),
            (3, 'actual_production_time', 'total', k.apt),
            (4, 'performance_loss', 'loss', k.apt - k.ideal_time),
            (5, 'net_production_time', 'total', k.ideal_time),
            (6, 'quality_loss', 'loss', k.ideal_time - k.ideal_time / nullif(k.pq, 0) * k.gq),
            (7, 'fully_productive_time', 'total', k.ideal_time / nullif(k.pq, 0) * k.gq)
        ) v (step, name, kind, seconds)
    )
    SELECT initcap(replace(f.name, '_', ' ')),
           CASE WHEN f.kind = 'loss' THEN lead(f.hours) OVER (ORDER BY f.step) ELSE 0 END,
           CASE WHEN f.kind = 'total' THEN f.hours ELSE 0 END,
           CASE WHEN f.kind = 'loss' THEN f.hours ELSE 0 END
    FROM f ORDER BY f.step
$$;

-- Yield, scrap and first pass yield of a line over the window.
CREATE FUNCTION grafana.line_quality(p_line text, p_from timestamptz, p_to timestamptz,
                                     p_shift text DEFAULT 'all')
RETURNS TABLE (produced double precision, good double precision, scrap double precision, rework double precision,
               yield double precision, scrap_ratio double precision, rework_ratio double precision,
               first_pass_yield double precision, open_nonconformances bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT k.pq, k.gq, k.sq, k.rq, k.quality_ratio, k.scrap_ratio, k.rework_ratio, k.first_pass_yield,
           (SELECT count(*) FROM public.nonconformances n WHERE n.line_id = p_line AND n.status <> 'closed')
    FROM grafana.time_window(p_from, p_to, p_shift) w
    CROSS JOIN LATERAL grafana.kpi(p_line, w.w_from, least(w.w_to, now()), 'period') k
$$;

-- Only LineBrain's own jobs fill the cache; Grafana's role reads.
REVOKE EXECUTE ON FUNCTION grafana.refresh_kpi_hours(integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION grafana.note_changed_period() FROM PUBLIC;
