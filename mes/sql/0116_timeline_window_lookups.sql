-- mes_timeline_core() read every state interval and every order run of the unit's whole
-- history to look up the few that the window's segments point at (hash joins over the
-- unit's rows): with a year of data most of a shift KPI's time went there (bench/pages.py).
-- The same function, the lookups bounded by the window: state intervals overlapping it,
-- and the window's order runs with their orders fetched by primary key. Results unchanged.
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
-- The window's order runs with their order's product: the orders by primary key, not a scan of
-- every order the line ever ran.
runs AS (
    SELECT o.id, o.order_id FROM win, order_runs o
    WHERE o.line_id = (SELECT line_id FROM unit) AND o.period && win.r
),
run_orders AS (
    SELECT r.id, wo.id AS order_id, wo.product_id
    FROM runs r JOIN work_orders wo ON wo.id = r.order_id
    WHERE wo.id = ANY (ARRAY(SELECT order_id FROM runs))
),
joined AS (
    SELECT p.*, si.state, wo.order_id, wo.product_id, ev.kind AS event_kind, ev.reason_code,
           ev.time_element AS reason_element, coalesce(ev.minor, false) AS minor,
           coalesce(ct.ideal_cycle_time, unit.default_pru) AS pru,
           unit.minor_stop_loss, unit.has_total, unit.has_good, unit.has_state
    FROM pieces p
    CROSS JOIN unit
    LEFT JOIN state_intervals si ON si.id = p.state_id AND si.equipment_id = p_unit
                                 AND si.period && tstzrange(p_from, p_to)
    LEFT JOIN run_orders wo ON wo.id = p.run_id
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

