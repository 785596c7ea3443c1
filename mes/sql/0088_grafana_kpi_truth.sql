-- The Grafana KPI layer follows the KPI-truth rules of 0020_kpi_truth.sql:
-- no-data time apart from PBT, rework out of good quantity, OEE = availability x
-- effectiveness x quality ratio always, every KPI row with its plausibility, and
-- a minor stop counted once (in the hour, and the bucket, where it starts) so the
-- hourly cache adds up to the live timeline.

-- The cache keeps the new elements; hours cached under the old rules are recomputed.
ALTER TABLE grafana.kpi_hours ADD COLUMN no_data_time double precision NOT NULL DEFAULT 0;
ALTER TABLE grafana.kpi_hours ADD COLUMN pq_no_data double precision NOT NULL DEFAULT 0;
DELETE FROM grafana.kpi_hours_done;
DELETE FROM grafana.kpi_hours;

-- mes_kpi() of one window as cache-shaped rows (same column order as grafana.kpi_hours).
DROP FUNCTION grafana._kpi_live(text, timestamptz, timestamptz, text);
CREATE FUNCTION grafana._kpi_live(p_line text, p_from timestamptz, p_to timestamptz, p_group text)
RETURNS TABLE (group_key text, pot double precision, pdt double precision, pbt double precision,
               aubt double precision, adot double precision, adet double precision, aust double precision,
               apt double precision, aupt double precision, minor_stop_time double precision, minor_stops bigint,
               aoet double precision, pq double precision, gq double precision, sq double precision,
               rq double precision, pq_total double precision, gq_total double precision, energy double precision,
               ideal_time double precision, no_data_time double precision, pq_no_data double precision)
LANGUAGE sql STABLE AS $$
    SELECT k.group_key, k.pot, k.pdt, k.pbt, k.aubt, k.adot, k.adet, k.aust, k.apt, k.aupt, k.minor_stop_time,
           k.minor_stops, k.aoet, k.pq, k.gq, k.sq, k.rq, k.pq_total, k.gq_total, k.energy, k.ideal_time,
           k.no_data_time, k.pq_no_data
    FROM public.mes_kpi(p_line, p_from, p_to, p_group) k
    WHERE p_from < p_to
$$;

-- The ISO 22400-2 ratios from summed elements, as mes_kpi() computes them.
CREATE OR REPLACE FUNCTION grafana._kpi_ratios(pbt double precision, apt double precision, ideal double precision,
                                               pq double precision, gq double precision, sq double precision,
                                               rq double precision)
RETURNS TABLE (availability double precision, effectiveness double precision, quality_ratio double precision,
               oee double precision, scrap_ratio double precision, rework_ratio double precision,
               first_pass_yield double precision)
LANGUAGE sql IMMUTABLE AS $$
    SELECT apt / nullif(pbt, 0), ideal / nullif(apt, 0), gq / nullif(pq, 0),
           CASE WHEN pbt > 0 THEN CASE WHEN apt > 0 AND pq > 0
                                       THEN (apt / pbt) * (ideal / apt) * (gq / pq) ELSE 0 END END,
           sq / nullif(pq, 0), rq / nullif(pq, 0), (pq - sq - rq) / nullif(pq, 0)
$$;

-- Data-quality events of a line in (p_from, p_to], as mes_kpi() counts them.
CREATE FUNCTION grafana._data_quality_events(p_line text, p_from timestamptz, p_to timestamptz) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT count(*) FROM public.data_quality_events q
    WHERE q.equipment_id = p_line AND q.kind <> 'counter_reset' AND q.at > p_from AND q.at <= p_to
$$;

-- KPI elements, ISO 22400-2 ratios and plausibility of a line over a window, per
-- group ('period', 'product' or 'order'), from cached hours plus live mes_kpi().
DROP FUNCTION grafana.kpi(text, timestamptz, timestamptz, text);
CREATE FUNCTION grafana.kpi(p_line text, p_from timestamptz, p_to timestamptz, p_group text DEFAULT 'period')
RETURNS TABLE (group_key text, pot double precision, pdt double precision, pbt double precision,
               adet double precision, aust double precision, adot double precision, apt double precision,
               aupt double precision, minor_stops bigint, minor_stop_time double precision, aoet double precision,
               pq double precision, gq double precision, sq double precision, rq double precision,
               pq_total double precision, gq_total double precision, ideal_time double precision,
               availability double precision, effectiveness double precision, quality_ratio double precision,
               oee double precision, scrap_ratio double precision, rework_ratio double precision,
               first_pass_yield double precision, no_data_time double precision, pq_no_data double precision,
               data_quality_events bigint, plausible boolean, implausible_reasons text[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH pieces AS (SELECT * FROM grafana._kpi_pieces(p_line, p_from, p_to)),
    parts AS (
        SELECT h.group_key, h.pot, h.pdt, h.pbt, h.adet, h.aust, h.adot, h.apt, h.aupt, h.minor_stops,
               h.minor_stop_time, h.aoet, h.pq, h.gq, h.sq, h.rq, h.pq_total, h.gq_total, h.ideal_time,
               h.no_data_time, h.pq_no_data
        FROM pieces p JOIN grafana.kpi_hours h
          ON p.cached AND h.line_id = p_line AND h.group_by = p_group
         AND h.hour >= p.piece_from AND h.hour < p.piece_to
        UNION ALL
        SELECT l.group_key, l.pot, l.pdt, l.pbt, l.adet, l.aust, l.adot, l.apt, l.aupt, l.minor_stops,
               l.minor_stop_time, l.aoet, l.pq, l.gq, l.sq, l.rq, l.pq_total, l.gq_total, l.ideal_time,
               l.no_data_time, l.pq_no_data
        FROM pieces p CROSS JOIN LATERAL grafana._kpi_live(p_line, p.piece_from, p.piece_to, p_group) l
        WHERE NOT p.cached
    ),
    s AS (
        SELECT group_key, sum(pot) AS pot, sum(pdt) AS pdt, sum(pbt) AS pbt, sum(adet) AS adet, sum(aust) AS aust,
               sum(adot) AS adot, sum(apt) AS apt, sum(aupt) AS aupt, sum(minor_stops)::bigint AS minor_stops,
               sum(minor_stop_time) AS minor_stop_time, sum(aoet) AS aoet, sum(pq) AS pq, sum(gq) AS gq,
               sum(sq) AS sq, sum(rq) AS rq, sum(pq_total) AS pq_total, sum(gq_total) AS gq_total,
               CASE WHEN bool_or(ideal_time IS NULL) THEN NULL ELSE sum(ideal_time) END AS ideal,
               sum(no_data_time) AS no_data_time, sum(pq_no_data) AS pq_no_data
        FROM parts GROUP BY group_key
    ),
    flagged AS (
        SELECT s.*, grafana._data_quality_events(p_line, p_from, p_to) AS dq,
               public.mes_kpi_implausible(s.pot, s.pbt, s.apt, s.pq, s.gq, s.rq, s.pq_total, s.ideal, s.pq_no_data,
                                          grafana._data_quality_events(p_line, p_from, p_to)) AS reasons
        FROM s
    )
    SELECT f.group_key, f.pot, f.pdt, f.pbt, f.adet, f.aust, f.adot, f.apt, f.aupt, f.minor_stops, f.minor_stop_time,
           f.aoet, f.pq, f.gq, f.sq, f.rq, f.pq_total, f.gq_total, f.ideal,
           r.availability, r.effectiveness, r.quality_ratio, r.oee, r.scrap_ratio, r.rework_ratio,
           r.first_pass_yield, f.no_data_time, f.pq_no_data, f.dq, cardinality(f.reasons) = 0, f.reasons
    FROM flagged f CROSS JOIN LATERAL grafana._kpi_ratios(f.pbt, f.apt, f.ideal, f.pq, f.gq, f.sq, f.rq) r
$$;

-- KPIs per shift, with each shift's bounds in epoch ms for the "show this shift" link,
-- and whether the row is plausible.
DROP FUNCTION grafana.line_kpi_by_shift(text, timestamptz, timestamptz);
CREATE FUNCTION grafana.line_kpi_by_shift(p_line text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (shift text, start_time timestamptz, from_ms bigint, to_ms bigint, oee double precision,
               availability double precision, effectiveness double precision, quality_ratio double precision,
               good double precision, scrap double precision, minor_stops bigint, plausible boolean,
               implausible_reasons text[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT s.label, s.start_time,
           (extract(epoch FROM s.start_time) * 1000)::bigint, (extract(epoch FROM s.end_time) * 1000)::bigint,
           k.oee, k.availability, k.effectiveness, k.quality_ratio, k.gq, k.sq, k.minor_stops, k.plausible,
           k.implausible_reasons
    FROM grafana.shifts s
    CROSS JOIN LATERAL grafana.kpi(p_line, greatest(s.start_time, p_from), least(s.end_time, p_to, now()),
                                   'period') k
    WHERE s.line_id = p_line AND s.start_time < least(p_to, now()) AND s.end_time > p_from
    ORDER BY s.start_time DESC
$$;

-- The waterfall mes_oee_waterfall() draws, from the same elements, with the period's plausibility.
DROP FUNCTION grafana.loss_waterfall(text, timestamptz, timestamptz, text);
CREATE FUNCTION grafana.loss_waterfall(p_line text, p_from timestamptz, p_to timestamptz,
                                       p_shift text DEFAULT 'all')
RETURNS TABLE (step text, base double precision, time_hours double precision, loss_hours double precision,
               plausible boolean, implausible_reasons text[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH k AS (
        SELECT k.* FROM grafana.time_window(p_from, p_to, p_shift) w
        CROSS JOIN LATERAL grafana.kpi(p_line, w.w_from, least(w.w_to, now()), 'period') k
    ),
    f AS (
        SELECT v.step, v.name, v.kind, coalesce(v.seconds, 0) / 3600 AS hours, k.plausible, k.implausible_reasons
        FROM k, LATERAL (VALUES
            (1, 'planned_busy_time', 'total', k.pbt),
            (2, 'availability_loss', 'loss', k.pbt - k.apt),
            (3, 'actual_production_time', 'total', k.apt),
            (4, 'performance_loss', 'loss', k.apt - k.ideal_time),
            (5, 'net_production_time', 'total', k.ideal_time),
            (6, 'quality_loss', 'loss', k.ideal_time - k.ideal_time / nullif(k.pq, 0) * k.gq),
            (7, 'fully_productive_time', 'total', k.ideal_time / nullif(k.pq, 0) * k.gq)
        ) v (step, name, kind, seconds)
    )
    SELECT initcap(replace(f.name, '_', ' ')),
           CASE WHEN f.kind = 'loss' THEN lead(f.hours) OVER (ORDER BY f.step) ELSE 0 END,
           CASE WHEN f.kind = 'total' THEN f.hours ELSE 0 END,
           CASE WHEN f.kind = 'loss' THEN f.hours ELSE 0 END,
           f.plausible, f.implausible_reasons
    FROM f ORDER BY f.step
$$;

-- An order's KPIs over whole hours around its runs (see 0087), with its plausibility.
DROP FUNCTION grafana.order_kpi(bigint);
CREATE FUNCTION grafana.order_kpi(p_order bigint)
RETURNS TABLE (pq_total double precision, gq_total double precision, aoet double precision,
               oee double precision, availability double precision, effectiveness double precision,
               quality_ratio double precision, implausible_reasons text[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT k.pq_total, k.gq_total, k.aoet, k.oee, k.availability, k.effectiveness, k.quality_ratio,
           k.implausible_reasons
    FROM public.work_orders wo
    CROSS JOIN LATERAL (
        SELECT date_trunc('hour', min(lower(period))) AS first_hour,
               least(date_trunc('hour', max(coalesce(upper(period), now()))) + interval '1 hour', now()) AS last
        FROM public.order_runs WHERE order_id = wo.id
    ) r
    CROSS JOIN LATERAL grafana.kpi(wo.line_id, r.first_hour, r.last, 'order') k
    WHERE wo.id = p_order AND r.first_hour IS NOT NULL AND k.group_key = wo.id::text
$$;

-- Orders that ran in the window or are still open (see 0087), each with whether its
-- numbers are plausible: its KPI row's reasons, and good units above 150% of plan.
DROP FUNCTION grafana.orders(text[], text[], timestamptz, timestamptz);
CREATE FUNCTION grafana.orders(p_lines text[], p_products text[], p_from timestamptz, p_to timestamptz)
RETURNS TABLE (order_number text, line text, product text, status text, planned double precision,
               produced double precision, good double precision, scrap double precision, progress double precision,
               good_per_hour double precision, started timestamptz, projected_finish timestamptz,
               due_at timestamptz, late boolean, oee double precision, availability double precision,
               effectiveness double precision, quality_ratio double precision, plausible boolean,
               implausible_reasons text[])
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
        SELECT c.*, k.pq_total, k.gq_total, k.aoet, k.oee, k.availability, k.effectiveness, k.quality_ratio,
               k.implausible_reasons
        FROM chosen c LEFT JOIN LATERAL grafana.order_kpi(c.id) k ON true
    ),
    paced AS (
        SELECT m.*, coalesce(m.gq_total, 0) AS good_q,
               greatest(m.planned_quantity - coalesce(m.gq_total, 0), 0) AS remaining,
               coalesce(m.gq_total, 0) / nullif(m.aoet, 0) AS rate,
               coalesce(m.implausible_reasons, '{}'::text[])
               || CASE WHEN coalesce(m.gq_total, 0) > 1.5 * m.planned_quantity
                       THEN ARRAY['far_over_plan'] ELSE '{}'::text[] END AS reasons
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
           p.oee, p.availability, p.effectiveness, p.quality_ratio, cardinality(p.reasons) = 0, p.reasons
    FROM paced p
    ORDER BY p.status = 'running' DESC, p.first_start DESC NULLS LAST, p.number
$$;

-- Minor stops per bucket from the live timeline: each stop counted once, in the
-- bucket where it starts (its lost seconds fall where they happen).
CREATE OR REPLACE FUNCTION grafana.micro_stops_live(p_line text, p_from timestamptz, p_to timestamptz,
                                                    p_bucket_ms bigint, p_shift text DEFAULT 'all')
RETURNS TABLE ("time" timestamptz, stops bigint, lost_seconds double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT date_bin(make_interval(secs => greatest(p_bucket_ms, 60000) / 1000.0), t.seg_start,
                    timestamptz '2000-01-01'),
           count(DISTINCT t.event_id) FILTER (WHERE t.seg_start = lower(ev.period)), sum(t.seconds)
    FROM grafana.time_window(p_from, p_to, p_shift) w
    CROSS JOIN LATERAL public.mes_timeline(p_line, w.w_from, least(w.w_to, now())) t
    LEFT JOIN public.downtime_events ev ON ev.id = t.event_id
    WHERE t.minor_stop AND t.seconds > 0 AND t.element IN ('APT', 'ADET')
    GROUP BY 1 ORDER BY 1
$$;

-- Counts against plan by the minute: the plan covers planned busy time, which no-data
-- time is not part of (as in the hourly cache).
CREATE OR REPLACE FUNCTION grafana.line_counts_live(p_line text, p_from timestamptz, p_to timestamptz, p_bucket_ms bigint,
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
        WHERE tl.seconds > 0 AND tl.element IS NOT NULL AND tl.element NOT IN ('PDT', 'NODATA') AND tl.pru > 0
        GROUP BY 1
    ),
    per_bucket AS (
        SELECT b, sum(good) AS good, sum(reject) AS reject, sum(plan) AS plan
        FROM (SELECT * FROM counted UNION ALL SELECT * FROM planned) u GROUP BY b
    )
    SELECT b, good, reject, plan, sum(good) OVER (ORDER BY b), sum(plan) OVER (ORDER BY b)
    FROM per_bucket ORDER BY b
$$;
