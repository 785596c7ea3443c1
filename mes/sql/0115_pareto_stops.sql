-- Downtime Pareto drill-down: the stops behind one bar of mes_downtime_pareto().
-- The same timeline and the same classification as the Pareto (minor stops apart,
-- unassigned stops by their state, no-data time as its own bar), so the seconds of
-- the rows add up to the bar. One row per downtime event (time without an event,
-- e.g. no data before the first sample, is one row with a NULL event).
CREATE FUNCTION mes_downtime_pareto_stops(p_unit text, p_from timestamptz, p_to timestamptz, p_code text)
RETURNS TABLE (
    event_id     bigint,
    event_start  timestamptz,
    event_end    timestamptz,
    state        text,
    fault_code   bigint,
    reason_code  text,
    reason_name  text,
    assigned_by  text,
    automatic    boolean,
    seconds      double precision
) LANGUAGE sql STABLE AS $$
WITH lost AS (
    SELECT t.event_id, t.seconds, t.seg_start, t.seg_end,
           CASE
               WHEN t.minor_stop THEN 'minor_stop'
               WHEN t.reason_code IS NOT NULL THEN t.reason_code
               WHEN t.element = 'NODATA' OR t.state IN ('unknown', 'no_data') THEN 'no_data'
               ELSE 'unassigned:' || t.state
           END AS code
    FROM mes_timeline_core(p_unit, p_from, p_to, true) t
    WHERE t.seconds > 0
      AND (t.element IN ('ADET', 'AUST', 'ADOT', 'NODATA') OR (t.element = 'APT' AND t.minor_stop))
),
picked AS (
    SELECT l.event_id, sum(l.seconds) AS seconds, min(l.seg_start) AS first_start, max(l.seg_end) AS last_end
    FROM lost l WHERE l.code = p_code GROUP BY l.event_id
)
SELECT p.event_id, coalesce(lower(d.period), p.first_start), coalesce(upper(d.period), p.last_end), d.state,
       d.fault_code, d.reason_code, d.reason_name, d.assigned_by, d.automatic, p.seconds
FROM picked p
LEFT JOIN mes_downtime_current d ON d.event_id = p.event_id
ORDER BY 2, 1
$$;
