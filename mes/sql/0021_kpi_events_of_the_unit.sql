-- mes_kpi() of 0020_kpi_truth.sql reads each segment's event start and reason element
-- from the unit's events in the window only, not from every event of the plant.

-- KPIs and the Pareto read the timeline with counts summed per segment.
CREATE OR REPLACE FUNCTION mes_kpi(p_unit text, p_from timestamptz, p_to timestamptz, p_by text DEFAULT 'period')
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
WITH evs AS (
    -- The unit's events in the window with their start and reason element, joined by id (hash).
    SELECT dc.event_id, lower(dc.period) AS event_start, dc.time_element
    FROM mes_downtime_current dc
    WHERE dc.equipment_id = p_unit AND dc.period && tstzrange(p_from, p_to)
),
tl AS (
    SELECT t.*,
           CASE p_by
               WHEN 'shift' THEN t.shift_id::text
               WHEN 'order' THEN t.order_id::text
               WHEN 'product' THEN t.product_id
               ELSE 'all'
           END AS gkey,
           t.element IS NOT NULL AND t.element NOT IN ('PDT', 'NODATA') AS in_pbt,
           ev.event_start, ev.time_element AS reason_element
    FROM mes_timeline_core(p_unit, p_from, p_to, true) t
    LEFT JOIN evs ev ON ev.event_id = t.event_id
),
agg AS (
    SELECT gkey,
           min(seg_start) AS first_time,
           max(seg_end) AS last_time,
           coalesce(sum(seconds) FILTER (WHERE element IS NOT NULL), 0) AS pot,
           coalesce(sum(seconds) FILTER (WHERE element = 'PDT'), 0) AS pdt,
           coalesce(sum(seconds) FILTER (WHERE element = 'APT'), 0) AS apt,
           coalesce(sum(seconds) FILTER (WHERE element = 'ADET'), 0) AS adet,
           coalesce(sum(seconds) FILTER (WHERE element = 'AUST'), 0) AS aust,
           coalesce(sum(seconds) FILTER (WHERE element = 'ADOT'), 0) AS adot,
           coalesce(sum(seconds) FILTER (WHERE element = 'NODATA'), 0) AS no_data_time,
           coalesce(sum(seconds) FILTER (WHERE in_pbt AND (state = 'planned_stop' OR reason_element = 'PDT')), 0)
               AS unscheduled_stop_time,
           coalesce(sum(seconds) FILTER (WHERE element NOT IN ('PDT') AND state IN ('unknown', 'no_data')), 0)
               AS unknown_time,
           coalesce(sum(seconds) FILTER (WHERE minor_stop AND element IN ('APT', 'ADET')), 0) AS minor_stop_time,
           -- A stop is counted once, in the period where it starts (its time is split).
           count(DISTINCT event_id) FILTER (WHERE minor_stop AND element IN ('APT', 'ADET') AND seconds > 0
                                            AND seg_start = event_start) AS minor_stops,
           count(DISTINCT event_id) FILTER (WHERE element = 'ADET' AND NOT minor_stop AND event_kind = 'stop'
                                            AND seconds > 0) AS failures,
           coalesce(sum(seconds) FILTER (WHERE element = 'ADET' AND NOT minor_stop AND event_kind = 'stop'), 0)
               AS failure_time,
           coalesce(sum(seconds) FILTER (WHERE order_id IS NOT NULL), 0) AS aoet,
           coalesce(sum(pq) FILTER (WHERE in_pbt), 0) AS pq,
           coalesce(sum(gq) FILTER (WHERE in_pbt), 0) AS gq,
           coalesce(sum(rq) FILTER (WHERE in_pbt), 0) AS rq,
           coalesce(sum(pq) FILTER (WHERE NOT in_pbt), 0) AS pq_outside_pbt,
           coalesce(sum(pq) FILTER (WHERE element = 'NODATA'), 0) AS pq_no_data,
           coalesce(sum(pq) FILTER (WHERE order_id IS NOT NULL), 0) AS pq_in_orders,
           coalesce(sum(pq), 0) AS pq_all,
           coalesce(sum(gq), 0) AS gq_all,
           sum(pq * pru) FILTER (WHERE in_pbt AND pq <> 0) AS ideal_pq,
           bool_or(pru IS NULL) FILTER (WHERE in_pbt AND pq <> 0) AS pru_missing,
           coalesce(sum(energy), 0) AS energy
    FROM tl
    WHERE gkey IS NOT NULL
    GROUP BY gkey
),
k AS (
    SELECT a.*,
           a.pot - a.pdt - a.no_data_time AS pbt,
           a.apt + a.adet + a.aust AS aubt,
           a.apt + a.aust AS aupt,
           CASE WHEN a.pru_missing THEN NULL ELSE coalesce(a.ideal_pq, 0) END AS ideal,
           -- Readings derivation refused or doubted (a reset is ordinary PLC behaviour: not counted).
           (SELECT count(*) FROM data_quality_events q
            WHERE q.equipment_id = p_unit AND q.kind <> 'counter_reset'
              AND q.at > greatest(a.first_time, p_from) AND q.at <= least(a.last_time, p_to)) AS dq_events
    FROM agg a
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
