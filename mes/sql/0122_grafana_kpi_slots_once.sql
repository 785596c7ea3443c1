-- grafana._kpi_slots() (0085: what grafana.kpi(), grafana.kpi_series() and the panels on them
-- read to know which hours are cached) works out the window's cached hours as mes_kpi() does
-- since 0121: the line's trust read once, the noted changes in one scan of grafana.kpi_dirty
-- expanded to their hours, instead of the settings and an index probe for each hour of the window.
CREATE OR REPLACE FUNCTION grafana._kpi_slots(p_line text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (slot_from timestamptz, slot_to timestamptz, hour timestamptz, cached boolean)
LANGUAGE sql STABLE AS $$
    WITH trusted AS MATERIALIZED (
        SELECT p_from < p_to AND grafana._kpi_cache_trusted(p_line) AS ok
    ),
    dirty_hours AS MATERIALIZED (
        SELECT DISTINCT g.h
        FROM trusted, grafana.kpi_dirty x,
             LATERAL generate_series(date_trunc('hour', greatest(lower(x.period), p_from)),
                                     least(coalesce(upper(x.period), 'infinity'), p_to), interval '1 hour') g (h)
        WHERE trusted.ok AND x.period && tstzrange(p_from, p_to, '[]')
    )
    SELECT greatest(hr.h, p_from), least(hr.h + interval '1 hour', p_to), hr.h,
           trusted.ok AND hr.h >= p_from AND hr.h + interval '1 hour' <= p_to AND d.hour IS NOT NULL
           AND dh.h IS NULL
    FROM trusted
    CROSS JOIN generate_series(date_trunc('hour', p_from), p_to - interval '1 microsecond', interval '1 hour') hr (h)
    LEFT JOIN grafana.kpi_hours_done d ON d.line_id = p_line AND d.hour = hr.h
    LEFT JOIN dirty_hours dh ON dh.h = hr.h
    WHERE p_from < p_to
$$;
