-- mes_kpi() from the hour cache, faster (bench/kpi_cache.py): which hours of a window are
-- cached is worked out once per call. grafana._kpi_pieces() (0085) asked the line's settings
-- (grafana._kpi_cache_trusted) and probed grafana.kpi_dirty once per hour: 720 probes for a
-- month, slow while the table holds the dead rows of noted-and-refreshed changes until it is
-- vacuumed (0.5 s for a month right after a bulk derivation). Now the trust is read once and
-- the noted ranges in one index scan, expanded to their hours and anti-joined.

CREATE OR REPLACE FUNCTION mes_kpi_of_parts(p_unit text, p_from timestamptz, p_to timestamptz, p_by text,
                                 p_use_cache boolean)
RETURNS TABLE (
    equipment_id           text,
    group_by               text,
    group_key              text,
    group_label            text,
    first_time             timestamptz,
    last_time              timestamptz,
    minor_stop_loss        text,
    pot                    double precision,
    pdt                    double precision,
    pbt                    double precision,
    aubt                   double precision,
    adot                   double precision,
    adet                   double precision,
    aust                   double precision,
    apt                    double precision,
    aupt                   double precision,
    unknown_time           double precision,
    minor_stop_time        double precision,
    minor_stops            bigint,
    failures               bigint,
    failure_time           double precision,
    aoet                   double precision,
    pq                     double precision,
    gq                     double precision,
    sq                     double precision,
    rq                     double precision,
    pq_outside_pbt         double precision,
    pq_total               double precision,
    gq_total               double precision,
    pru                    double precision,
    ideal_time             double precision,
    availability           double precision,
    effectiveness          double precision,
    quality_ratio          double precision,
    oee                    double precision,
    nee                    double precision,
    technical_efficiency   double precision,
    setup_rate             double precision,
    allocation_efficiency  double precision,
    utilisation_efficiency double precision,
    scrap_ratio            double precision,
    rework_ratio           double precision,
    throughput_per_hour    double precision,
    mtbf                   double precision,
    mttr                   double precision,
    energy                 double precision,
    energy_per_unit        double precision,
    energy_per_good_unit   double precision,
    no_data_time           double precision,
    unscheduled_stop_time  double precision,
    pq_no_data             double precision,
    data_quality_events    bigint,
    plausible              boolean,
    implausible_reasons    text[]
) LANGUAGE sql STABLE AS $$
WITH trusted AS MATERIALIZED (
    SELECT p_use_cache AND p_from < p_to AND grafana._kpi_cache_trusted(p_unit) AS ok
),
-- Hours whose facts changed since they were cached, from one scan of the noted ranges
-- (a range's hours are taken generously: a range ending exactly on an hour marks it too).
dirty_hours AS MATERIALIZED (
    SELECT DISTINCT g.h
    FROM trusted, grafana.kpi_dirty x,
         LATERAL generate_series(date_trunc('hour', greatest(lower(x.period), p_from)),
                                 least(coalesce(upper(x.period), 'infinity'), p_to), interval '1 hour') g (h)
    WHERE trusted.ok AND x.period && tstzrange(p_from, p_to, '[]')
),
-- The window's hours (cut by it), each read from the cache when whole, done and unchanged.
slots AS (
    SELECT greatest(hr.h, p_from) AS s, least(hr.h + interval '1 hour', p_to) AS e,
           hr.h >= p_from AND hr.h + interval '1 hour' <= p_to AND d.hour IS NOT NULL AND dh.h IS NULL AS cached
    FROM trusted
    CROSS JOIN generate_series(date_trunc('hour', p_from), p_to - interval '1 microsecond', interval '1 hour') hr (h)
    LEFT JOIN grafana.kpi_hours_done d ON d.line_id = p_unit AND d.hour = hr.h
    LEFT JOIN dirty_hours dh ON dh.h = hr.h
    WHERE trusted.ok
),
islands AS (
    SELECT s, e, cached, sum(changed) OVER (ORDER BY s) AS island
    FROM (SELECT *, CASE WHEN cached IS DISTINCT FROM lag(cached) OVER (ORDER BY s) THEN 1 ELSE 0 END AS changed
          FROM slots) marked
),
-- Runs of cached hours and the stretches between them; the whole window when not cached.
pieces AS MATERIALIZED (
    SELECT min(s) AS piece_from, max(e) AS piece_to, bool_and(cached) AS cached
    FROM islands GROUP BY island, cached
    UNION ALL
    SELECT p_from, p_to, false FROM trusted WHERE NOT trusted.ok AND p_from < p_to
),
parts AS (
    SELECT h.group_key, h.first_time, h.last_time, h.pot, h.pdt, h.apt, h.adet, h.aust, h.adot, h.no_data_time,
           h.unscheduled_stop_time, h.unknown_time, h.minor_stop_time, h.minor_stops, h.failure_ids,
           h.failure_time, h.aoet, h.pq, h.gq, h.rq, h.pq_outside_pbt, h.pq_no_data, h.pq_in_orders, h.pq_total,
           h.gq_total, h.ideal_time, h.energy
    FROM pieces p JOIN grafana.kpi_hours h
      ON p.cached AND h.line_id = p_unit AND h.group_by = p_by
     AND h.hour >= p.piece_from AND h.hour < p.piece_to
    UNION ALL
    SELECT l.*
    FROM pieces p CROSS JOIN LATERAL mes_kpi_parts(p_unit, p.piece_from, p.piece_to, p_by) l
    WHERE NOT p.cached
),
failed AS (
    SELECT x.group_key, count(DISTINCT f.id) AS failures
    FROM parts x CROSS JOIN LATERAL unnest(x.failure_ids) f (id)
    GROUP BY x.group_key
),
agg AS (
    SELECT x.group_key AS gkey, min(x.first_time) AS first_time, max(x.last_time) AS last_time,
           mes_kpi_round(sum(x.pot)) AS pot, mes_kpi_round(sum(x.pdt)) AS pdt, mes_kpi_round(sum(x.apt)) AS apt,
           mes_kpi_round(sum(x.adet)) AS adet, mes_kpi_round(sum(x.aust)) AS aust,
           mes_kpi_round(sum(x.adot)) AS adot, mes_kpi_round(sum(x.no_data_time)) AS no_data_time,
           mes_kpi_round(sum(x.unscheduled_stop_time)) AS unscheduled_stop_time,
           mes_kpi_round(sum(x.unknown_time)) AS unknown_time,
           mes_kpi_round(sum(x.minor_stop_time)) AS minor_stop_time, sum(x.minor_stops)::bigint AS minor_stops,
           mes_kpi_round(sum(x.failure_time)) AS failure_time, mes_kpi_round(sum(x.aoet)) AS aoet,
           mes_kpi_round(sum(x.pq)) AS pq, mes_kpi_round(sum(x.gq)) AS gq, mes_kpi_round(sum(x.rq)) AS rq,
           mes_kpi_round(sum(x.pq_outside_pbt)) AS pq_outside_pbt, mes_kpi_round(sum(x.pq_no_data)) AS pq_no_data,
           mes_kpi_round(sum(x.pq_in_orders)) AS pq_in_orders, mes_kpi_round(sum(x.pq_total)) AS pq_all,
           mes_kpi_round(sum(x.gq_total)) AS gq_all,
           CASE WHEN bool_or(x.ideal_time IS NULL) THEN NULL ELSE mes_kpi_round(sum(x.ideal_time)) END AS ideal,
           mes_kpi_round(sum(x.energy)) AS energy
    FROM parts x
    GROUP BY x.group_key
),
k AS (
    SELECT a.*, coalesce(f.failures, 0) AS failures,
           a.pot - a.pdt - a.no_data_time AS pbt,
           a.apt + a.adet + a.aust AS aubt,
           a.apt + a.aust AS aupt,
           -- Readings derivation refused or doubted (a reset is ordinary PLC behaviour: not counted).
           (SELECT count(*) FROM data_quality_events q
            WHERE q.equipment_id = p_unit AND q.kind <> 'counter_reset'
              AND q.at > greatest(a.first_time, p_from) AND q.at <= least(a.last_time, p_to)) AS dq_events
    FROM agg a LEFT JOIN failed f ON f.group_key = a.gkey
),
r AS (
    SELECT k.*, mes_kpi_implausible(k.pot, k.pbt, k.apt, k.pq, k.gq, k.rq, k.pq_all, k.ideal, k.pq_no_data,
                                    k.dq_events) AS reasons
    FROM k
)
SELECT p_unit,
       p_by,
       k.gkey,
       CASE p_by
           WHEN 'shift' THEN (SELECT s.name || ' ' || s.local_date FROM shift_instances s WHERE s.id = k.gkey::bigint)
           WHEN 'order' THEN (SELECT o.number FROM work_orders o WHERE o.id = k.gkey::bigint)
           WHEN 'product' THEN (SELECT coalesce(nullif(pr.name, ''), pr.id) FROM products pr WHERE pr.id = k.gkey)
           ELSE p_unit
       END,
       k.first_time, k.last_time,
       (SELECT e.minor_stop_loss FROM equipment e WHERE e.id = p_unit),
       k.pot, k.pdt, k.pbt, k.aubt, k.adot, k.adet, k.aust, k.apt, k.aupt,
       k.unknown_time, k.minor_stop_time, k.minor_stops, k.failures, k.failure_time, k.aoet,
       k.pq, k.gq, k.pq - k.gq - k.rq, k.rq, k.pq_outside_pbt, k.pq_all, k.gq_all,
       k.ideal / nullif(k.pq, 0),
       k.ideal,
       k.apt / nullif(k.pbt, 0),
       k.ideal / nullif(k.apt, 0),
       k.gq / nullif(k.pq, 0),
       -- OEE = availability x effectiveness x quality ratio, always: no production time is OEE 0.
       CASE WHEN k.pbt > 0 THEN CASE WHEN k.apt > 0 AND k.pq > 0
                                     THEN (k.apt / k.pbt) * (k.ideal / k.apt) * (k.gq / k.pq) ELSE 0 END END,
       CASE WHEN k.pbt > 0 THEN CASE WHEN k.apt > 0 AND k.pq > 0
                                     THEN k.aupt / k.pbt * (k.ideal / k.apt) * (k.gq / k.pq) ELSE 0 END END,
       k.apt / nullif(k.apt + k.adet, 0),
       k.aust / nullif(k.aupt, 0),
       k.aubt / nullif(k.pbt, 0),
       k.apt / nullif(k.aubt, 0),
       (k.pq - k.gq - k.rq) / nullif(k.pq, 0),
       k.rq / nullif(k.pq, 0),
       k.pq_in_orders / nullif(k.aoet, 0) * 3600,
       k.apt / nullif(k.failures, 0),
       k.failure_time / nullif(k.failures, 0),
       k.energy,
       k.energy / nullif(k.pq_all, 0),
       k.energy / nullif(k.gq_all, 0),
       k.no_data_time,
       k.unscheduled_stop_time,
       k.pq_no_data,
       k.dq_events,
       cardinality(k.reasons) = 0,
       k.reasons
FROM r k
ORDER BY k.first_time
$$;

