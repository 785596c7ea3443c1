-- KPI series for long ranges from the hourly cache, set-based: one pass over the
-- range's hours (cached ones read, the few uncached ones computed by mes_kpi()),
-- summed per bucket of whole hours. A month of OEE, counts against plan or
-- micro-stops costs one read of ~720 cached hours instead of 200 KPI runs or a
-- month of timeline.

-- The ISO 22400-2 ratios from summed elements, as mes_kpi() computes them.
CREATE FUNCTION grafana._kpi_ratios(pbt double precision, apt double precision, ideal double precision,
                                    pq double precision, gq double precision, sq double precision,
                                    rq double precision)
RETURNS TABLE (availability double precision, effectiveness double precision, quality_ratio double precision,
               oee double precision, scrap_ratio double precision, rework_ratio double precision,
               first_pass_yield double precision)
LANGUAGE sql IMMUTABLE AS $$
    SELECT apt / nullif(pbt, 0), ideal / nullif(apt, 0), gq / nullif(pq, 0),
           CASE WHEN pbt > 0 THEN CASE WHEN pq > 0 THEN ideal * gq / pq / pbt ELSE 0 END END,
           (pq - gq) / nullif(pq, 0), rq / nullif(pq, 0), (pq - sq - rq) / nullif(pq, 0)
$$;

-- A bucket width for a panel: the panel's interval, at least an hour, at most
-- 400 buckets over the window, rounded up to whole hours so buckets are made of
-- cached hours.
CREATE FUNCTION grafana._hour_step(p_from timestamptz, p_to timestamptz, p_bucket_ms bigint) RETURNS interval
LANGUAGE sql IMMUTABLE AS $$
    SELECT make_interval(hours => ceil(greatest(p_bucket_ms / 3600000.0, 1,
                                                extract(epoch FROM p_to - p_from) / 3600 / 400))::integer)
$$;

-- Summed KPI elements per bucket (whole hours; the first and last bucket may be
-- cut by the window) and group.
CREATE FUNCTION grafana.kpi_series(p_line text, p_from timestamptz, p_to timestamptz, p_step interval,
                                   p_group text DEFAULT 'period')
RETURNS TABLE ("time" timestamptz, group_key text, pbt double precision, apt double precision,
               minor_stops bigint, minor_stop_time double precision, pq double precision, gq double precision,
               sq double precision, rq double precision, ideal_time double precision,
               availability double precision, effectiveness double precision, quality_ratio double precision,
               oee double precision, scrap_ratio double precision, rework_ratio double precision,
               first_pass_yield double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH slots AS (
        SELECT k.slot_from AS s, k.slot_to AS e, k.hour AS h, k.cached FROM grafana._kpi_slots(p_line, p_from, p_to) k
    ),
    parts AS (
        SELECT sl.h, k.group_key, k.pbt, k.apt, k.minor_stops, k.minor_stop_time, k.pq, k.gq, k.sq, k.rq,
               k.ideal_time
        FROM slots sl JOIN grafana.kpi_hours k
          ON sl.cached AND k.line_id = p_line AND k.group_by = p_group AND k.hour = sl.h
        UNION ALL
        SELECT sl.h, l.group_key, l.pbt, l.apt, l.minor_stops, l.minor_stop_time, l.pq, l.gq, l.sq, l.rq,
               l.ideal_time
        FROM slots sl CROSS JOIN LATERAL grafana._kpi_live(p_line, sl.s, sl.e, p_group) l
        WHERE NOT sl.cached
    ),
    summed AS (
        SELECT greatest(date_bin(p_step, p.h, timestamptz '2000-01-01'), p_from) AS b, p.group_key,
               sum(p.pbt) AS pbt, sum(p.apt) AS apt, sum(p.minor_stops)::bigint AS minor_stops,
               sum(p.minor_stop_time) AS minor_stop_time, sum(p.pq) AS pq, sum(p.gq) AS gq, sum(p.sq) AS sq,
               sum(p.rq) AS rq, CASE WHEN bool_or(p.ideal_time IS NULL) THEN NULL ELSE sum(p.ideal_time) END AS ideal
        FROM parts p GROUP BY 1, 2
    )
    SELECT s.b, s.group_key, s.pbt, s.apt, s.minor_stops, s.minor_stop_time, s.pq, s.gq, s.sq, s.rq, s.ideal,
           r.availability, r.effectiveness, r.quality_ratio, r.oee, r.scrap_ratio, r.rework_ratio, r.first_pass_yield
    FROM summed s CROSS JOIN LATERAL grafana._kpi_ratios(s.pbt, s.apt, s.ideal, s.pq, s.gq, s.sq, s.rq) r
    ORDER BY 1, 2
$$;

-- OEE and its three factors per bucket of whole hours, from the hourly cache.
CREATE FUNCTION grafana.line_kpi_trend(p_line text, p_from timestamptz, p_to timestamptz,
                                       p_bucket_ms bigint, p_shift text DEFAULT 'all')
RETURNS TABLE ("time" timestamptz, oee double precision, availability double precision,
               effectiveness double precision, quality_ratio double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT k.time, k.oee, k.availability, k.effectiveness, k.quality_ratio
    FROM grafana.time_window(p_from, p_to, p_shift) w
    CROSS JOIN LATERAL grafana.kpi_series(p_line, w.w_from, least(w.w_to, now()),
                                          grafana._hour_step(w.w_from, least(w.w_to, now()), p_bucket_ms)) k
    WHERE k.pbt > 0
    ORDER BY 1
$$;

-- Yield, scrap and first pass yield per bucket of whole hours, from the hourly cache.
CREATE FUNCTION grafana.line_quality_trend(p_line text, p_from timestamptz, p_to timestamptz,
                                           p_bucket_ms bigint, p_shift text DEFAULT 'all')
RETURNS TABLE ("time" timestamptz, yield double precision, scrap_ratio double precision,
               first_pass_yield double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT k.time, k.quality_ratio, k.scrap_ratio, k.first_pass_yield
    FROM grafana.time_window(p_from, p_to, p_shift) w
    CROSS JOIN LATERAL grafana.kpi_series(p_line, w.w_from, least(w.w_to, now()),
                                          grafana._hour_step(w.w_from, least(w.w_to, now()), p_bucket_ms)) k
    WHERE k.pq > 0
    ORDER BY 1
$$;

-- Counts against plan: over two days, hourly buckets from the cache, the plan
-- being each product's planned busy time over its ideal cycle time (and the
-- line's default PRU for time without an order), as mes_timeline() paces it;
-- up to two days, grafana.line_counts_live (0082) by the minute.
CREATE FUNCTION grafana.line_counts(p_line text, p_from timestamptz, p_to timestamptz, p_bucket_ms bigint,
                                    p_shift text DEFAULT 'all')
RETURNS TABLE ("time" timestamptz, good double precision, reject double precision, plan double precision,
               good_cumulative double precision, plan_cumulative double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH w AS (SELECT w_from, least(w_to, now()) AS w_to FROM grafana.time_window(p_from, p_to, p_shift)),
    live AS (
        SELECT c.* FROM w CROSS JOIN LATERAL grafana.line_counts_live(p_line, p_from, p_to, p_bucket_ms, p_shift) c
        WHERE w.w_to - w.w_from <= interval '2 days'
    ),
    step AS (SELECT grafana._hour_step(w.w_from, w.w_to, p_bucket_ms) AS s FROM w
             WHERE w.w_to - w.w_from > interval '2 days'),
    totals AS (
        SELECT k.time, k.gq, k.pq - k.gq AS reject, k.pbt
        FROM w, step, grafana.kpi_series(p_line, w.w_from, w.w_to, step.s, 'period') k
    ),
    by_product AS (
        SELECT k.time, sum(k.pbt) AS pbt, sum(k.pbt / ct.ideal_cycle_time) AS plan
        FROM w, step, grafana.kpi_series(p_line, w.w_from, w.w_to, step.s, 'product') k
        JOIN public.product_cycle_times ct ON ct.product_id = k.group_key AND ct.line_id = p_line
        GROUP BY k.time
    ),
    cached AS (
        SELECT t.time, t.gq AS good, t.reject,
               coalesce(p.plan, 0) + coalesce(greatest(t.pbt - coalesce(p.pbt, 0), 0) / e.default_pru, 0) AS plan
        FROM totals t LEFT JOIN by_product p ON p.time = t.time
        CROSS JOIN (SELECT default_pru FROM public.equipment WHERE id = p_line) e
    )
    SELECT * FROM live
    UNION ALL
    SELECT c.time, c.good, c.reject, c.plan, sum(c.good) OVER (ORDER BY c.time), sum(c.plan) OVER (ORDER BY c.time)
    FROM cached c
    ORDER BY 1
$$;

-- Minor stops per bucket: up to two days grafana.micro_stops_live (0082), beyond
-- that from the hourly cache.
CREATE FUNCTION grafana.micro_stops(p_line text, p_from timestamptz, p_to timestamptz, p_bucket_ms bigint,
                                    p_shift text DEFAULT 'all')
RETURNS TABLE ("time" timestamptz, stops bigint, lost_seconds double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH w AS (SELECT w_from, least(w_to, now()) AS w_to FROM grafana.time_window(p_from, p_to, p_shift))
    SELECT m.* FROM w CROSS JOIN LATERAL grafana.micro_stops_live(p_line, p_from, p_to, p_bucket_ms, p_shift) m
    WHERE w.w_to - w.w_from <= interval '2 days'
    UNION ALL
    SELECT k.time, k.minor_stops, k.minor_stop_time
    FROM w CROSS JOIN LATERAL grafana.kpi_series(p_line, w.w_from, w.w_to,
                                                 grafana._hour_step(w.w_from, w.w_to, p_bucket_ms)) k
    WHERE w.w_to - w.w_from > interval '2 days' AND k.minor_stops > 0
    ORDER BY 1
$$;
