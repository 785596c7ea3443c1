-- Production views for Grafana, built on the MES core (0001/0002): every number
-- here comes from mes_kpi(), mes_timeline(), mes_downtime_pareto(),
-- mes_oee_waterfall() and mes_current_state, so Grafana shows what the API,
-- the web pages and the reports show. These functions only choose windows,
-- shape rows for panels and add names.
--
-- Every function takes the dashboard's range and the shift picker's value:
-- 'all' (or anything not a shift id) keeps the range; a shift id replaces it by
-- that shift, cut at now() while the shift runs.
--
-- The KPI panels (line_status, line_kpi_*, loss_waterfall, orders) read the
-- hourly KPI cache: they are defined with it, in 0085-0087; line_counts and
-- micro_stops (0086) read the minute-level *_live functions here for short ranges.

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
CREATE FUNCTION grafana.line_counts_live(p_line text, p_from timestamptz, p_to timestamptz, p_bucket_ms bigint,
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

CREATE FUNCTION grafana.downtime_pareto(p_line text, p_from timestamptz, p_to timestamptz, p_shift text DEFAULT 'all')
RETURNS TABLE (reason text, minutes double precision, events bigint, share double precision, category text,
               loss text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT p.reason_name, p.seconds / 60, p.events, p.share, p.category, p.loss
    FROM grafana.time_window(p_from, p_to, p_shift) w,
         public.mes_downtime_pareto(p_line, w.w_from, least(w.w_to, now())) p
    ORDER BY p.seconds DESC
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
CREATE FUNCTION grafana.micro_stops_live(p_line text, p_from timestamptz, p_to timestamptz, p_bucket_ms bigint,
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
