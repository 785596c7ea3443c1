-- The manager OEE page put every active line side by side with one grafana.kpi() call per
-- line: with 21 lines the per-call planning and the per-line cache lookups took most of the
-- page's time (bench/pages.py). grafana.lines_kpi() is grafana.kpi(line, from, to, 'period')
-- for many lines in one statement: the same pieces (whole hours cached with the line's current
-- settings, not done and not dirty are read from grafana.kpi_hours; the rest is live mes_kpi()),
-- the dirty check once per hour for all lines, the same sums, ratios and plausibility.
CREATE FUNCTION grafana.lines_kpi(p_lines text[], p_from timestamptz, p_to timestamptz)
RETURNS TABLE (line_id text, group_key text, pot double precision, pdt double precision, pbt double precision,
               adet double precision, aust double precision, adot double precision, apt double precision,
               aupt double precision, minor_stops bigint, minor_stop_time double precision, aoet double precision,
               pq double precision, gq double precision, sq double precision, rq double precision,
               pq_total double precision, gq_total double precision, ideal_time double precision,
               availability double precision, effectiveness double precision, quality_ratio double precision,
               oee double precision, scrap_ratio double precision, rework_ratio double precision,
               first_pass_yield double precision, no_data_time double precision, pq_no_data double precision,
               data_quality_events bigint, plausible boolean, implausible_reasons text[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH lines AS (
        SELECT DISTINCT l AS line_id, grafana._kpi_cache_trusted(l) AS trusted FROM unnest(p_lines) l
    ),
    -- The window's hours, as grafana._kpi_slots() cuts them, with whether facts changed in them.
    hours AS (
        SELECT h, NOT EXISTS (SELECT 1 FROM grafana.kpi_dirty x
                              WHERE x.period && tstzrange(h, h + interval '1 hour')) AS clean
        FROM generate_series(date_trunc('hour', p_from), p_to - interval '1 microsecond', interval '1 hour') h
        WHERE p_from < p_to
    ),
    slots AS (
        SELECT l.line_id, greatest(hr.h, p_from) AS s, least(hr.h + interval '1 hour', p_to) AS e,
               l.trusted AND hr.h >= p_from AND hr.h + interval '1 hour' <= p_to AND hr.clean
               AND d.hour IS NOT NULL AS cached
        FROM lines l CROSS JOIN hours hr
        LEFT JOIN grafana.kpi_hours_done d ON d.line_id = l.line_id AND d.hour = hr.h
    ),
    -- grafana._kpi_pieces() per line: runs of cached hours and the uncached stretches between.
    islands AS (
        SELECT line_id, s, e, cached, sum(changed) OVER (PARTITION BY line_id ORDER BY s) AS island
        FROM (SELECT *, CASE WHEN cached IS DISTINCT FROM lag(cached) OVER (PARTITION BY line_id ORDER BY s)
                             THEN 1 ELSE 0 END AS changed
              FROM slots) marked
    ),
    pieces AS (
        SELECT line_id, min(s) AS piece_from, max(e) AS piece_to, bool_and(cached) AS cached
        FROM islands GROUP BY line_id, island, cached
    ),
    parts AS (
        SELECT p.line_id, h.group_key, h.pot, h.pdt, h.pbt, h.adet, h.aust, h.adot, h.apt, h.aupt, h.minor_stops,
               h.minor_stop_time, h.aoet, h.pq, h.gq, h.sq, h.rq, h.pq_total, h.gq_total, h.ideal_time,
               h.no_data_time, h.pq_no_data
        FROM pieces p JOIN grafana.kpi_hours h
          ON p.cached AND h.line_id = p.line_id AND h.group_by = 'period'
         AND h.hour >= p.piece_from AND h.hour < p.piece_to
        UNION ALL
        SELECT p.line_id, l.group_key, l.pot, l.pdt, l.pbt, l.adet, l.aust, l.adot, l.apt, l.aupt, l.minor_stops,
               l.minor_stop_time, l.aoet, l.pq, l.gq, l.sq, l.rq, l.pq_total, l.gq_total, l.ideal_time,
               l.no_data_time, l.pq_no_data
        FROM pieces p CROSS JOIN LATERAL grafana._kpi_live(p.line_id, p.piece_from, p.piece_to, 'period') l
        WHERE NOT p.cached
    ),
    s AS (
        SELECT line_id, group_key, sum(pot) AS pot, sum(pdt) AS pdt, sum(pbt) AS pbt, sum(adet) AS adet,
               sum(aust) AS aust, sum(adot) AS adot, sum(apt) AS apt, sum(aupt) AS aupt,
               sum(minor_stops)::bigint AS minor_stops, sum(minor_stop_time) AS minor_stop_time, sum(aoet) AS aoet,
               sum(pq) AS pq, sum(gq) AS gq, sum(sq) AS sq, sum(rq) AS rq, sum(pq_total) AS pq_total,
               sum(gq_total) AS gq_total, CASE WHEN bool_or(ideal_time IS NULL) THEN NULL ELSE sum(ideal_time) END AS ideal,
               sum(no_data_time) AS no_data_time, sum(pq_no_data) AS pq_no_data
        FROM parts GROUP BY line_id, group_key
    ),
    flagged AS (
        SELECT s.*, q.dq,
               public.mes_kpi_implausible(s.pot, s.pbt, s.apt, s.pq, s.gq, s.rq, s.pq_total, s.ideal, s.pq_no_data,
                                          q.dq) AS reasons
        FROM s CROSS JOIN LATERAL (SELECT grafana._data_quality_events(s.line_id, p_from, p_to) AS dq) q
    )
    SELECT f.line_id, f.group_key, f.pot, f.pdt, f.pbt, f.adet, f.aust, f.adot, f.apt, f.aupt, f.minor_stops,
           f.minor_stop_time, f.aoet, f.pq, f.gq, f.sq, f.rq, f.pq_total, f.gq_total, f.ideal,
           r.availability, r.effectiveness, r.quality_ratio, r.oee, r.scrap_ratio, r.rework_ratio,
           r.first_pass_yield, f.no_data_time, f.pq_no_data, f.dq, cardinality(f.reasons) = 0, f.reasons
    FROM flagged f CROSS JOIN LATERAL grafana._kpi_ratios(f.pbt, f.apt, f.ideal, f.pq, f.gq, f.sq, f.rq) r
$$;
