-- KPI truth (issues 13 and 27): bounded, explained KPIs over messy plant data.
--
-- * No data is its own time element (NODATA): before a unit's first state sample,
--   and while its state is stale, bad or unknown, for a unit that binds a state
--   tag. It is shown, excluded from PBT (PBT = POT - PDT - no data), and the units
--   counted in it are reported apart (pq_no_data, part of pq_outside_pbt).
-- * Rework (ISO 22400-2: PQ = GQ + SQ + RQ): reworked units, from the rework
--   counter (count_buckets.rework) or rework adjustments, leave good quantity.
--   SQ = PQ - GQ - RQ is unchanged by rework. (count_buckets.rework and
--   data_quality_events come from 0010_counts_rework_and_data_quality.sql.)
-- * OEE = availability x effectiveness x quality ratio, always: no APT is OEE 0.
-- * Every KPI row says whether it is plausible and why not (implausible_reasons).
-- * A minor stop is counted once, in the period where it starts.
-- * Planned downtime (PDT) comes from the schedule only: a PDT reason given to a
--   stop afterwards, or a PLC 'planned stop' state, stays in PBT (ADET inside an
--   order, ADOT outside) and is reported as unscheduled_stop_time.
-- See docs/mes.md for the rules with worked examples.

-- Why a KPI row cannot be taken at face value (empty: plausible). Codes, so every
-- face words them in its language: effectiveness_above_1, quality_above_1,
-- negative_quantity, units_without_pot, units_without_apt, units_in_no_data,
-- data_quality_events.
CREATE FUNCTION mes_kpi_implausible(pot double precision, pbt double precision, apt double precision,
                                    pq double precision, gq double precision, rq double precision,
                                    pq_total double precision, ideal double precision, pq_no_data double precision,
                                    dq_events bigint)
RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT array_remove(ARRAY[
        CASE WHEN apt > 0 AND ideal > apt * (1 + 1e-9) THEN 'effectiveness_above_1' END,
        CASE WHEN gq > pq * (1 + 1e-9) THEN 'quality_above_1' END,
        CASE WHEN least(pq, gq, pq - gq - rq, rq, pq_total) < 0 THEN 'negative_quantity' END,
        CASE WHEN pot = 0 AND pq_total <> 0 THEN 'units_without_pot' END,
        CASE WHEN pbt > 0 AND apt = 0 AND pq > 0 THEN 'units_without_apt' END,
        CASE WHEN pq_no_data > 0 THEN 'units_in_no_data' END,
        CASE WHEN dq_events > 0 THEN 'data_quality_events' END
    ]::text[], NULL)
$$;

CREATE OR REPLACE FUNCTION mes_timeline_core(p_unit text, p_from timestamptz, p_to timestamptz, p_group_counts boolean)
RETURNS TABLE (
    seg_start      timestamptz,
    seg_end        timestamptz,
    seconds        double precision,
    is_count       boolean,
    shift_id       bigint,
    in_pdt         boolean,
    state          text,
    order_id       bigint,
    product_id     text,
    event_id       bigint,
    event_kind     text,
    reason_code    text,
    minor_stop     boolean,
    element        text,
    pq             double precision,
    gq             double precision,
    rq             double precision,
    energy         double precision,
    pru            double precision
) LANGUAGE sql STABLE
-- Joins here are by id over thousands of rows: hash joins, never a nested loop on a
-- misestimated row count (that made 30 days take seconds instead of milliseconds).
SET enable_nestloop = off
AS $$
WITH unit AS (
    SELECT e.id, coalesce(e.line_id, e.id) AS line_id, e.micro_stop_seconds, e.minor_stop_loss, e.default_pru,
           EXISTS (SELECT 1 FROM counter_bindings b WHERE b.equipment_id = e.id AND b.kind = 'total') AS has_total,
           EXISTS (SELECT 1 FROM counter_bindings b WHERE b.equipment_id = e.id AND b.kind = 'good') AS has_good,
           e.state_tag IS NOT NULL AS has_state
    FROM equipment e WHERE e.id = p_unit
),
win AS (SELECT tstzrange(p_from, p_to) AS r),
-- kind: 0 window, 1 shift, 2 planned downtime, 3 state, 4 order run, 5 event, 6 counts.
-- cls orders marks at one instant: counts first (they belong to the period ending
-- there), then ends, then starts.
period_marks AS (
    SELECT p_from AS t, 0 AS kind, 2 AS cls, 0::bigint AS val,
           NULL::double precision AS good, NULL::double precision AS reject, NULL::double precision AS total,
           NULL::double precision AS rework, NULL::double precision AS energy
    UNION ALL SELECT p_to, 0, 1, 0, NULL, NULL, NULL, NULL, NULL
    UNION ALL
    SELECT v.t, 1, v.cls, CASE WHEN v.cls = 2 THEN s.id ELSE 0 END, NULL, NULL, NULL, NULL, NULL
    FROM win, shift_instances s,
         LATERAL (VALUES (greatest(lower(s.period), p_from), 2),
                         (least(coalesce(upper(s.period), 'infinity'), p_to), 1)) v (t, cls)
    WHERE s.line_id = (SELECT line_id FROM unit) AND s.period && win.r
    UNION ALL
    SELECT v.t, 2, v.cls, CASE WHEN v.cls = 2 THEN d.id ELSE 0 END, NULL, NULL, NULL, NULL, NULL
    FROM win, planned_downtime d,
         LATERAL (VALUES (greatest(lower(d.period), p_from), 2),
                         (least(coalesce(upper(d.period), 'infinity'), p_to), 1)) v (t, cls)
    WHERE d.line_id = (SELECT line_id FROM unit) AND d.period && win.r
    UNION ALL
    -- State intervals tile time: an end mark only where no interval follows at once.
    SELECT v.t, 3, v.cls, CASE WHEN v.cls = 2 THEN si.id ELSE 0 END, NULL, NULL, NULL, NULL, NULL
    FROM (SELECT s2.id, s2.period, lead(lower(s2.period)) OVER (ORDER BY lower(s2.period)) AS next_start
          FROM win, state_intervals s2
          WHERE s2.equipment_id = p_unit AND s2.period && win.r) si,
         LATERAL (VALUES (greatest(lower(si.period), p_from), 2),
                         (least(coalesce(upper(si.period), 'infinity'), p_to), 1)) v (t, cls)
    WHERE v.cls = 2 OR si.next_start IS DISTINCT FROM upper(si.period)
    UNION ALL
    SELECT v.t, 4, v.cls, CASE WHEN v.cls = 2 THEN o.id ELSE 0 END, NULL, NULL, NULL, NULL, NULL
    FROM win, order_runs o,
         LATERAL (VALUES (greatest(lower(o.period), p_from), 2),
                         (least(coalesce(upper(o.period), 'infinity'), p_to), 1)) v (t, cls)
    WHERE o.line_id = (SELECT line_id FROM unit) AND o.period && win.r
    UNION ALL
    SELECT v.t, 5, v.cls, CASE WHEN v.cls = 2 THEN ev.id ELSE 0 END, NULL, NULL, NULL, NULL, NULL
    FROM win, downtime_events ev,
         LATERAL (VALUES (greatest(lower(ev.period), p_from), 2),
                         (least(coalesce(upper(ev.period), 'infinity'), p_to), 1)) v (t, cls)
    WHERE ev.equipment_id = p_unit AND ev.superseded_by IS NULL AND ev.period && win.r
),
-- Count rows: per bucket (a chart wants them at their time), or, for KPIs, summed per
-- segment and placed at the segment's end, where they are attributed all the same
-- (a count at t belongs to the segment (start, end] containing t). Months of minute
-- buckets then cost a binary search each instead of a place in the sort.
bnd AS (SELECT array_agg(DISTINCT m.t ORDER BY m.t) AS b FROM period_marks m),
raw_counts AS (
    SELECT c.cut_end AS t, c.good, c.reject, c.total, c.rework, c.energy
    FROM count_buckets c
    WHERE c.equipment_id = p_unit AND c.cut_end > p_from AND c.cut_end <= p_to
    UNION ALL
    SELECT a.at,
           CASE WHEN a.kind = 'good' THEN a.quantity ELSE 0 END,
           CASE WHEN a.kind = 'reject' THEN a.quantity ELSE 0 END,
           CASE WHEN a.kind = 'total' THEN a.quantity ELSE 0 END,
           CASE WHEN a.kind = 'rework' THEN a.quantity ELSE 0 END, 0
    FROM count_adjustments a
    WHERE a.equipment_id = p_unit AND a.at > p_from AND a.at <= p_to
),
count_marks AS (
    SELECT CASE WHEN NOT p_group_counts THEN rc.t
                WHEN bnd.b[wb.i] = rc.t THEN rc.t
                ELSE bnd.b[wb.i + 1] END AS t,
           6 AS kind, 0 AS cls, 0::bigint AS val,
           sum(rc.good) AS good, sum(rc.reject) AS reject, sum(rc.total) AS total, sum(rc.rework) AS rework,
           sum(rc.energy) AS energy
    FROM raw_counts rc, bnd, LATERAL (SELECT width_bucket(rc.t, bnd.b) AS i) wb
    GROUP BY 1
),
marks AS (
    SELECT * FROM period_marks
    UNION ALL
    SELECT * FROM count_marks
),
-- Carry the id of the latest start of each kind forward (an end carries 0), in one
-- sort: each mark's position (time in microseconds, then cls, then kind) is unique and
-- ordered, so the max of position * 2^32 + id over the rows so far is the latest mark
-- of that kind, and its low 32 bits are the id.
ordered AS (
    SELECT m.*,
           ((floor(extract(epoch FROM m.t) * 1000000)::numeric * 4 + m.cls) * 8 + m.kind) * 4294967296 AS pos
    FROM marks m
),
carried AS (
    SELECT o.t, o.kind, o.good, o.reject, o.total, o.rework, o.energy,
           lead(o.t) OVER w AS t_next,
           nullif((max(CASE WHEN o.kind = 1 THEN o.pos + o.val END) OVER w % 4294967296)::bigint, 0) AS shift_id,
           sum(CASE WHEN o.kind = 2 THEN CASE WHEN o.cls = 2 THEN 1 ELSE -1 END ELSE 0 END) OVER w AS pdt_depth,
           nullif((max(CASE WHEN o.kind = 3 THEN o.pos + o.val END) OVER w % 4294967296)::bigint, 0) AS state_id,
           nullif((max(CASE WHEN o.kind = 4 THEN o.pos + o.val END) OVER w % 4294967296)::bigint, 0) AS run_id,
           nullif((max(CASE WHEN o.kind = 5 THEN o.pos + o.val END) OVER w % 4294967296)::bigint, 0) AS event_id
    FROM ordered o
    WINDOW w AS (ORDER BY o.t, o.cls, o.kind ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
pieces AS (
    -- A count row is also the start of a segment (with unchanged values) when no other
    -- mark follows at the same instant.
    SELECT c.*, (c.t_next > c.t AND c.t >= p_from AND c.t < p_to) AS is_segment FROM carried c
    WHERE c.kind = 6 OR (c.t_next > c.t AND c.t >= p_from AND c.t < p_to)
),
events AS (
    SELECT dc.event_id, dc.kind, dc.state, dc.reason_code, dc.time_element,
           (dc.kind = 'stop'
            AND upper(dc.period) IS NOT NULL
            AND extract(epoch FROM upper(dc.period) - lower(dc.period)) < unit.micro_stop_seconds
            AND coalesce(dc.time_element, 'ADET') = 'ADET'
            AND dc.state NOT IN ('changeover', 'planned_stop')) AS minor
    FROM unit, win, mes_downtime_current dc
    WHERE dc.equipment_id = p_unit AND dc.period && win.r
),
joined AS (
    SELECT p.*, si.state, wo.id AS order_id, wo.product_id, ev.kind AS event_kind, ev.reason_code,
           ev.time_element AS reason_element, coalesce(ev.minor, false) AS minor,
           coalesce(ct.ideal_cycle_time, unit.default_pru) AS pru,
           unit.minor_stop_loss, unit.has_total, unit.has_good, unit.has_state
    FROM pieces p
    CROSS JOIN unit
    LEFT JOIN state_intervals si ON si.id = p.state_id AND si.equipment_id = p_unit
    LEFT JOIN order_runs r ON r.id = p.run_id AND r.line_id = unit.line_id
    LEFT JOIN work_orders wo ON wo.id = r.order_id
    LEFT JOIN product_cycle_times ct ON ct.product_id = wo.product_id AND ct.line_id = unit.line_id
    LEFT JOIN events ev ON ev.event_id = p.event_id
)
SELECT j.t,
       CASE WHEN j.is_segment THEN j.t_next ELSE j.t END,
       CASE WHEN j.is_segment THEN extract(epoch FROM j.t_next - j.t)::double precision ELSE 0 END,
       j.kind = 6,
       j.shift_id,
       j.pdt_depth > 0,
       coalesce(j.state, 'no_data'),
       j.order_id,
       j.product_id,
       j.event_id,
       j.event_kind,
       j.reason_code,
       j.minor,
       CASE
           WHEN j.shift_id IS NULL THEN NULL
           WHEN j.pdt_depth > 0 THEN 'PDT'
           WHEN j.state = 'running' THEN 'APT'
           -- No data (before the first sample, stale, bad or unknown state): its own element,
           -- outside PBT, unless a person gave the event a reason with a time element.
           WHEN j.has_state AND coalesce(j.state, 'no_data') IN ('no_data', 'unknown') AND j.reason_element IS NULL
               THEN 'NODATA'
           WHEN j.minor AND j.order_id IS NOT NULL AND j.minor_stop_loss = 'performance' THEN 'APT'
           -- Planned downtime comes from the schedule only: a PDT reason given afterwards or a
           -- PLC 'planned stop' state stays inside PBT (mes_kpi reports it apart).
           WHEN j.reason_element IS NOT NULL AND j.reason_element <> 'PDT' THEN j.reason_element
           WHEN j.state = 'changeover' THEN 'AUST'
           WHEN j.order_id IS NULL THEN 'ADOT'
           ELSE 'ADET'
       END,
       CASE WHEN j.kind = 6 THEN CASE WHEN j.has_total THEN j.total ELSE j.good + j.reject END END,
       -- Reworked units leave good quantity (ISO 22400-2: PQ = GQ + SQ + RQ).
       CASE WHEN j.kind = 6 THEN CASE WHEN j.has_good THEN j.good ELSE j.total - j.reject END - j.rework END,
       CASE WHEN j.kind = 6 THEN j.rework END,
       CASE WHEN j.kind = 6 THEN j.energy END,
       j.pru
FROM joined j
$$;

-- KPIs and the Pareto read the timeline with counts summed per segment.
DROP FUNCTION mes_kpi(text, timestamptz, timestamptz, text);
CREATE FUNCTION mes_kpi(p_unit text, p_from timestamptz, p_to timestamptz, p_by text DEFAULT 'period')
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

-- Downtime Pareto: lost time inside PBT by reason (unassigned stops by their state,
-- minor stops apart), largest first; no-data time as its own row.
CREATE OR REPLACE FUNCTION mes_downtime_pareto(p_unit text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (
    reason_code  text,
    reason_name  text,
    category     text,
    loss         text,
    time_element text,
    events       bigint,
    seconds      double precision,
    share        double precision
) LANGUAGE sql STABLE AS $$
WITH lost AS (
    SELECT t.event_id, t.seconds, t.element,
           CASE
               WHEN t.minor_stop THEN 'minor_stop'
               WHEN t.reason_code IS NOT NULL THEN t.reason_code
               WHEN t.element = 'NODATA' OR t.state IN ('unknown', 'no_data') THEN 'no_data'
               ELSE 'unassigned:' || t.state
           END AS code,
           t.reason_code IS NOT NULL AND NOT t.minor_stop AS assigned
    FROM mes_timeline_core(p_unit, p_from, p_to, true) t
    WHERE t.seconds > 0
      AND (t.element IN ('ADET', 'AUST', 'ADOT', 'NODATA') OR (t.element = 'APT' AND t.minor_stop))
),
grouped AS (
    SELECT l.code, bool_or(l.assigned) AS assigned, count(DISTINCT l.event_id) AS events, sum(l.seconds) AS seconds
    FROM lost l GROUP BY l.code
)
SELECT g.code,
       coalesce(r.name, CASE WHEN g.code = 'minor_stop' THEN 'Minor stops'
                             WHEN g.code = 'no_data' THEN 'No data'
                             ELSE 'Unassigned (' || substr(g.code, 12) || ')' END),
       coalesce(r.category, CASE WHEN g.code LIKE 'unassigned:%' THEN 'unassigned' ELSE 'derived' END),
       coalesce(r.loss, CASE WHEN g.code = 'minor_stop' THEN 'minor_stop' ELSE NULL END),
       coalesce(r.time_element, CASE WHEN g.code = 'no_data' THEN 'NODATA' END),
       g.events,
       g.seconds,
       g.seconds / nullif(sum(g.seconds) OVER (), 0)
FROM grouped g
LEFT JOIN equipment e ON e.id = p_unit
LEFT JOIN downtime_reasons r ON g.assigned AND r.line_id = coalesce(e.line_id, e.id) AND r.code = g.code
ORDER BY g.seconds DESC, g.code
$$;

-- OEE loss waterfall: PBT -> availability losses -> performance losses -> quality
-- losses -> fully productive time (PRU x GQ); every step carries the period's
-- plausibility (a negative performance loss is effectiveness above 1).
DROP FUNCTION mes_oee_waterfall(text, timestamptz, timestamptz);
CREATE FUNCTION mes_oee_waterfall(p_unit text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (step integer, name text, kind text, seconds double precision, plausible boolean,
               implausible_reasons text[])
LANGUAGE sql STABLE AS $$
WITH k AS (SELECT * FROM mes_kpi(p_unit, p_from, p_to, 'period'))
SELECT v.step, v.name, v.kind, v.seconds, k.plausible, k.implausible_reasons
FROM k, LATERAL (VALUES
    (1, 'planned_busy_time', 'total', k.pbt),
    (2, 'availability_loss', 'loss', k.pbt - k.apt),
    (3, 'actual_production_time', 'total', k.apt),
    (4, 'performance_loss', 'loss', k.apt - k.ideal_time),
    (5, 'net_production_time', 'total', k.ideal_time),
    (6, 'quality_loss', 'loss', k.ideal_time - k.pru * k.gq),
    (7, 'fully_productive_time', 'total', k.pru * k.gq)
) v (step, name, kind, seconds)
ORDER BY v.step
$$;
