-- Alarm figures for Grafana (EEMUA 191 / ISA-18.2), read by Grafana's read-only role through
-- the grafana schema like every other panel: annunciated alarms with their point, and the
-- 10-minute windows of a period with their alarm counts (flood: more than 10).

CREATE VIEW grafana.alarm_annunciations AS
SELECT o.id, o.annunciated_at, o.raised_at, o.cleared_at, o.ended_at, o.acknowledged_at, o.state, o.priority,
       o.value, p.rule, p.tag, p.area, p.line, p.message, p.rule || ':' || p.tag AS alarm
FROM public.alarm_occurrences o JOIN public.alarm_points p ON p.id = o.point_id
WHERE o.annunciated_at IS NOT NULL;

CREATE FUNCTION grafana.alarm_windows(p_from timestamptz, p_to timestamptz)
RETURNS TABLE ("time" timestamptz, alarms bigint, flood boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT w.start, count(a.id), count(a.id) > 10
    FROM generate_series(p_from, p_to - interval '1 microsecond', interval '10 minutes') AS w(start)
    LEFT JOIN public.alarm_occurrences a
           ON a.annunciated_at >= w.start AND a.annunciated_at < least(w.start + interval '10 minutes', p_to)
    GROUP BY w.start ORDER BY w.start
$$;
