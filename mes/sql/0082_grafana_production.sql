-- Production views for Grafana, built on the MES core (0001/0002): every number
-- here comes from mes_kpi(), mes_timeline(), mes_downtime_pareto(),
-- mes_oee_waterfall() and mes_current_state, so Grafana shows what the API,
-- the web pages and the reports show. These functions only choose windows,
-- shape rows for panels and add names.
--
-- Every function takes the dashboard's range and the shift picker's value:
-- 'all' (or anything not a shift id) keeps the range; a shift id replaces it by
-- that shift, cut at now() while the shift runs.

CREATE VIEW grafana.lines AS
SELECT l.id AS line_id, coalesce(nullif(l.name, ''), l.id) AS line_name,
       a.id AS area_id, coalesce(nullif(a.name, ''), a.id) AS area_name,
       s.id AS site_id, coalesce(nullif(s.name, ''), s.id) AS site_name,
       l.timezone
FROM public.equipment l
LEFT JOIN public.equipment a ON a.id = l.parent_id AND a.level = 'area'
LEFT JOIN public.equipment s ON s.id = a.parent_id AND s.level = 'site'
WHERE l.level = 'line' AND l.active;

CREATE VIEW grafana.products AS
SELECT id AS product_id, coalesce(nullif(name, ''), id) AS product_name, unit
FROM public.products WHERE active;

CREATE VIEW grafana.shifts AS
SELECT s.id AS shift_id, s.line_id, s.name, s.local_date, lower(s.period) AS start_time, upper(s.period) AS end_time,
       s.name || ' · ' || to_char(lower(s.period) AT TIME ZONE e.timezone, 'Dy DD Mon HH24:MI') AS label
FROM public.shift_instances s JOIN public.equipment e ON e.id = s.line_id;

-- The shift picker's choices: the whole range first, then the shifts of the lines
-- that overlap the range, newest first.
CREATE FUNCTION grafana.shift_choices(p_lines text[], p_from timestamptz, p_to timestamptz)
RETURNS TABLE (__value text, __text text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT v, t FROM (
        SELECT 'all' AS v, 'Whole time range' AS t, 'infinity'::timestamptz AS k
        UNION ALL
        SELECT DISTINCT ON (s.shift_id) s.shift_id::text,
               s.label || CASE WHEN cardinality(p_lines) > 1 THEN ' · ' || s.line_id ELSE '' END, s.start_time
        FROM grafana.shifts s
        WHERE s.line_id = ANY (p_lines) AND s.start_time < least(p_to, now()) AND s.end_time > p_from
    ) c ORDER BY k DESC, t
$$;

CREATE FUNCTION grafana.time_window(p_from timestamptz, p_to timestamptz, p_shift text DEFAULT 'all')
RETURNS TABLE (w_from timestamptz, w_to timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT coalesce(lower(s.period), p_from), coalesce(least(upper(s.period), now()), p_to)
    FROM (SELECT 1) one
    LEFT JOIN public.shift_instances s ON s.id::text = p_shift  -- text: 'all' must not fail a cast
$$;

-- KPIs of one line over the window, with its state now and its running order.
CREATE FUNCTION grafana.line_status(p_lines text[], p_from timestamptz, p_to timestamptz, p_shift text DEFAULT 'all')
RETURNS TABLE (
    line_id text, line_name text, state text, state_since timestamptz, oee double precision,
    availability double precision, effectiveness double precision, quality_ratio double precision,
    good double precision, scrap double precision, order_number text, product text, order_progress double precision
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT l.line_id, l.line_name, coalesce(cs.state, 'unknown'), cs.since,
           k.oee, k.availability, k.effectiveness, k.quality_ratio, k.gq_total, k.pq_total - k.gq_total,
           o.number, o.product_id, o.good / o.planned_quantity
    FROM grafana.lines l
    CROSS JOIN grafana.time_window(p_from, p_to, p_shift) w
    LEFT JOIN public.mes_current_state cs ON cs.equipment_id = l.line_id
    LEFT JOIN LATERAL public.mes_kpi(l.line_id, w.w_from, w.w_to, 'period') k ON true
    LEFT JOIN LATERAL (
        SELECT wo.number, wo.product_id, wo.planned_quantity,
               (SELECT ok.gq_total FROM public.mes_kpi(wo.line_id, r.first_start, now(), 'order') ok
                WHERE ok.group_key = wo.id::text) AS good
        FROM public.work_orders wo
        CROSS JOIN LATERAL (SELECT min(lower(period)) AS first_start FROM public.order_runs WHERE order_id = wo.id) r
        WHERE wo.line_id = l.line_id AND wo.status = 'running'
    ) o ON true
    WHERE l.line_id = ANY (p_lines)
    ORDER BY l.line_name
$$;

-- State intervals as (time, state) rows for a state timeline; the last row closes the range.
CREATE FUNCTION grafana.state_timeline(p_line text, p_from timestamptz, p_to timestamptz, p_shift text DEFAULT 'all')
RETURNS TABLE ("time" timestamptz, state text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH w AS (SELECT * FROM grafana.time_window(p_from, p_to, p_shift))
    SELECT t, st FROM (
        SELECT greatest(lower(si.period), w.w_from) AS t, si.state AS st
        FROM public.state_intervals si, w
        WHERE si.equipment_id = p_line AND si.period && tstzrange(w.w_from, w.w_to)
        UNION ALL
        SELECT least(w.w_to, now()), NULL FROM w
    ) rows ORDER BY 1
$$;

-- Counts per bucket from the MES timeline, against plan: the PRU-paced quantity
-- the planned busy time allowed (PBT / PRU), plus both cumulated over the window.
CREATE FUNCTION grafana.line_counts(p_line text, p_from timestamptz, p_to timestamptz, p_bucket_ms bigint,
                                    p_shift text DEFAULT 'all')
RETURNS TABLE ("time" timestamptz, good double precision, reject double precision, plan double precision,
               good_cumulative double precision, plan_cumulative double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH w AS (SELECT w_from, least(w_to, now()) AS w_to FROM grafana.time_window(p_from, p_to, p_shift)),
    step AS (SELECT make_interval(secs => greatest(p_bucket_ms, 60000) / 1000.0) AS s),
    tl AS MATERIALIZED (SELECT t.* FROM w, public.mes_timeline(p_line, w.w_from, w.w_to) t),
    counted AS (
        SELECT date_bin(step.s, tl.seg_start, timestamptz '2000-01-01') AS b,
               sum(tl.gq) AS good, sum(tl.pq - tl.gq) AS reject, 0::double precision AS plan
        FROM tl, step WHERE tl.is_count GROUP BY 1
    ),
    -- A segment of planned busy time spreads its plan over the buckets it spans.
    planned AS (
        SELECT g AS b, 0::double precision AS good, 0::double precision AS reject,
               sum(extract(epoch FROM least(tl.seg_end, g + step.s) - greatest(tl.seg_start, g)) / tl.pru) AS plan
        FROM tl, step,
             generate_series(date_bin(step.s, tl.seg_start, timestamptz '2000-01-01'),
                             tl.seg_end - interval '1 microsecond', step.s) g
        WHERE tl.seconds > 0 AND tl.element IS NOT NULL AND tl.element <> 'PDT' AND tl.pru > 0
        GROUP BY 1
    ),
    per_bucket AS (
        SELECT b, sum(good) AS good, sum(reject) AS reject, sum(plan) AS plan
        FROM (SELECT * FROM counted UNION ALL SELECT * FROM planned) u GROUP BY b
    )
    SELECT b, good, reject, plan, sum(good) OVER (ORDER BY b), sum(plan) OVER (ORDER BY b)
    FROM per_bucket ORDER BY b
$$;

-- OEE and its three factors per bucket: mes_kpi() over each bucket (at least an
-- hour, at most 200 buckets, so a month costs 200 KPI evaluations, not 43 200).
CREATE FUNCTION grafana.line_kpi_trend(p_line text, p_from timestamptz, p_to timestamptz, p_bucket_ms bigint,
                                       p_shift text DEFAULT 'all')
RETURNS TABLE ("time" timestamptz, oee double precision, availability double precision,
               effectiveness double precision, quality_ratio double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH w AS (SELECT w_from, least(w_to, now()) AS w_to FROM grafana.time_window(p_from, p_to, p_shift)),
    step AS (
        SELECT make_interval(secs => greatest(p_bucket_ms / 1000.0, 3600,
                                              extract(epoch FROM w.w_to - w.w_from) / 200)) AS s
        FROM w
    ),
    buckets AS (
        SELECT b, least(b + step.s, w.w_to) AS e
        FROM w, step, generate_series(date_bin(step.s, w.w_from, timestamptz '2000-01-01'), w.w_to, step.s) b
        WHERE b < w.w_to
    )
    SELECT greatest(bk.b, w.w_from), k.oee, k.availability, k.effectiveness, k.quality_ratio
    FROM buckets bk CROSS JOIN w
    CROSS JOIN LATERAL public.mes_kpi(p_line, greatest(bk.b, w.w_from), bk.e, 'period') k
    WHERE k.pbt > 0
    ORDER BY 1
$$;

-- KPIs per shift, with each shift's bounds in epoch ms for the "show this shift" link.
CREATE FUNCTION grafana.line_kpi_by_shift(p_line text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (shift text, start_time timestamptz, from_ms bigint, to_ms bigint, oee double precision,
               availability double precision, effectiveness double precision, quality_ratio double precision,
               good double precision, scrap double precision, minor_stops bigint, failures bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT s.label, s.start_time,
           (extract(epoch FROM s.start_time) * 1000)::bigint, (extract(epoch FROM s.end_time) * 1000)::bigint,
           k.oee, k.availability, k.effectiveness, k.quality_ratio, k.gq, k.sq, k.minor_stops, k.failures
    FROM public.mes_kpi(p_line, p_from, least(p_to, now()), 'shift') k
    JOIN grafana.shifts s ON s.shift_id = k.group_key::bigint
    ORDER BY s.start_time DESC
$$;

-- KPIs per product made on the line in the window.
CREATE FUNCTION grafana.line_kpi_by_product(p_line text, p_products text[], p_from timestamptz, p_to timestamptz,
                                            p_shift text DEFAULT 'all')
RETURNS TABLE (product text, oee double precision, availability double precision, effectiveness double precision,
               quality_ratio double precision, produced double precision, good double precision,
               pru double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT k.group_label, k.oee, k.availability, k.effectiveness, k.quality_ratio, k.pq, k.gq, k.pru
    FROM grafana.time_window(p_from, p_to, p_shift) w,
         public.mes_kpi(p_line, w.w_from, least(w.w_to, now()), 'product') k
    WHERE k.group_key = ANY (p_products)
    ORDER BY k.pq DESC
$$;

CREATE FUNCTION grafana.downtime_pareto(p_line text, p_from timestamptz, p_to timestamptz, p_shift text DEFAULT 'all')
RETURNS TABLE (reason text, minutes double precision, events bigint, share double precision, category text,
               loss text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT p.reason_name, p.seconds / 60, p.events, p.share, p.category, p.loss
    FROM grafana.time_window(p_from, p_to, p_shift) w,
         public.mes_downtime_pareto(p_line, w.w_from, least(w.w_to, now())) p
    ORDER BY p.seconds DESC
$$;

-- The OEE loss waterfall as stacked bars: an invisible base plus the visible part.
CREATE FUNCTION grafana.loss_waterfall(p_line text, p_from timestamptz, p_to timestamptz, p_shift text DEFAULT 'all')
RETURNS TABLE (step text, base double precision, time_hours double precision, loss_hours double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH f AS (
        SELECT s.step, s.name, s.kind, coalesce(s.seconds, 0) / 3600 AS hours
        FROM grafana.time_window(p_from, p_to, p_shift) w,
             public.mes_oee_waterfall(p_line, w.w_from, least(w.w_to, now())) s
    )
    SELECT initcap(replace(f.name, '_', ' ')),
           CASE WHEN f.kind = 'loss' THEN lead(f.hours) OVER (ORDER BY f.step) ELSE 0 END,
           CASE WHEN f.kind = 'total' THEN f.hours ELSE 0 END,
           CASE WHEN f.kind = 'loss' THEN f.hours ELSE 0 END
    FROM f ORDER BY f.step
$$;

-- Stops, newest first, with their reasons; minor stops flagged by the line's threshold.
CREATE FUNCTION grafana.downtime_events(p_line text, p_from timestamptz, p_to timestamptz, p_shift text DEFAULT 'all')
RETURNS TABLE (start_time timestamptz, end_time timestamptz, seconds double precision, state text, reason text,
               category text, minor_stop boolean, fault_code bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT lower(d.period), upper(d.period),
           extract(epoch FROM coalesce(upper(d.period), now()) - lower(d.period))::double precision,
           d.state, coalesce(d.reason_name, 'unassigned'), d.category,
           d.kind = 'stop' AND upper(d.period) IS NOT NULL
               AND extract(epoch FROM upper(d.period) - lower(d.period)) < e.micro_stop_seconds,
           d.fault_code
    FROM grafana.time_window(p_from, p_to, p_shift) w, public.mes_downtime_current d
    JOIN public.equipment e ON e.id = d.equipment_id
    WHERE d.equipment_id = p_line AND d.period && tstzrange(w.w_from, w.w_to)
    ORDER BY lower(d.period) DESC
$$;

-- Minor stops per bucket, as the MES timeline classifies them.
CREATE FUNCTION grafana.micro_stops(p_line text, p_from timestamptz, p_to timestamptz, p_bucket_ms bigint,
                                   p_shift text DEFAULT 'all')
RETURNS TABLE ("time" timestamptz, stops bigint, lost_seconds double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT date_bin(make_interval(secs => greatest(p_bucket_ms, 60000) / 1000.0), t.seg_start,
                    timestamptz '2000-01-01'),
           count(DISTINCT t.event_id), sum(t.seconds)
    FROM grafana.time_window(p_from, p_to, p_shift) w,
         public.mes_timeline(p_line, w.w_from, least(w.w_to, now())) t
    WHERE t.minor_stop AND t.seconds > 0
    GROUP BY 1 ORDER BY 1
$$;

-- Orders that ran in the window or are still open, with progress, projected finish
-- (good rate over the order's run time, as mes.orders.order_progress) and KPIs.
CREATE FUNCTION grafana.orders(p_lines text[], p_products text[], p_from timestamptz, p_to timestamptz)
RETURNS TABLE (order_number text, line text, product text, status text, planned double precision,
               produced double precision, good double precision, scrap double precision, progress double precision,
               good_per_hour double precision, started timestamptz, projected_finish timestamptz,
               due_at timestamptz, late boolean, oee double precision, availability double precision,
               effectiveness double precision, quality_ratio double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH chosen AS (
        SELECT wo.*, r.first_start, r.last_end
        FROM public.work_orders wo
        LEFT JOIN LATERAL (
            SELECT min(lower(period)) AS first_start, max(coalesce(upper(period), now())) AS last_end
            FROM public.order_runs WHERE order_id = wo.id
        ) r ON true
        WHERE wo.line_id = ANY (p_lines) AND wo.product_id = ANY (p_products) AND wo.status <> 'cancelled'
          AND (wo.status IN ('planned', 'released', 'running', 'paused')
               OR (r.first_start < p_to AND r.last_end > p_from))
    ),
    measured AS (
        SELECT c.*, k.pq_total, k.gq_total, k.aoet, k.oee, k.availability, k.effectiveness, k.quality_ratio
        FROM chosen c
        LEFT JOIN LATERAL public.mes_kpi(c.line_id, c.first_start, c.last_end, 'order') k
            ON c.first_start IS NOT NULL AND k.group_key = c.id::text
    ),
    paced AS (
        SELECT m.*, coalesce(m.gq_total, 0) AS good_q,
               greatest(m.planned_quantity - coalesce(m.gq_total, 0), 0) AS remaining,
               coalesce(m.gq_total, 0) / nullif(m.aoet, 0) AS rate
        FROM measured m
    )
    SELECT p.number, p.line_id, p.product_id, p.status, p.planned_quantity, coalesce(p.pq_total, 0), p.good_q,
           coalesce(p.pq_total, 0) - p.good_q, p.good_q / p.planned_quantity, p.rate * 3600, p.first_start,
           CASE WHEN p.remaining = 0 THEN p.last_end
                WHEN p.rate > 0 AND p.status <> 'completed' THEN now() + make_interval(secs => p.remaining / p.rate)
           END AS projected,
           p.due_at,
           coalesce(p.remaining > 0 AND p.rate > 0 AND p.status <> 'completed'
                    AND now() + make_interval(secs => p.remaining / p.rate) > p.due_at, false),
           p.oee, p.availability, p.effectiveness, p.quality_ratio
    FROM paced p
    ORDER BY p.status = 'running' DESC, p.first_start DESC NULLS LAST, p.number
$$;
