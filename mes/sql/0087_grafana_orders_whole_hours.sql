-- An order's KPIs read whole hours around its runs: mes_kpi(..., 'order') keeps
-- other orders apart by group key, so widening the window to whole hours changes
-- nothing but lets every hour come from the cache (no live edges per order).
CREATE FUNCTION grafana.order_kpi(p_order bigint)
RETURNS TABLE (pq_total double precision, gq_total double precision, aoet double precision,
               oee double precision, availability double precision, effectiveness double precision,
               quality_ratio double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT k.pq_total, k.gq_total, k.aoet, k.oee, k.availability, k.effectiveness, k.quality_ratio
    FROM public.work_orders wo
    CROSS JOIN LATERAL (
        SELECT date_trunc('hour', min(lower(period))) AS first_hour,
               least(date_trunc('hour', max(coalesce(upper(period), now()))) + interval '1 hour', now()) AS last
        FROM public.order_runs WHERE order_id = wo.id
    ) r
    CROSS JOIN LATERAL grafana.kpi(wo.line_id, r.first_hour, r.last, 'order') k
    WHERE wo.id = p_order AND r.first_hour IS NOT NULL AND k.group_key = wo.id::text
$$;

-- KPIs of one line over the window, with its state now and its running order.
CREATE FUNCTION grafana.line_status(p_lines text[], p_from timestamptz, p_to timestamptz,
                                    p_shift text DEFAULT 'all')
RETURNS TABLE (
    line_id text, line_name text, state text, state_since timestamptz, oee double precision,
    availability double precision, effectiveness double precision, quality_ratio double precision,
    good double precision, scrap double precision, order_number text, product text, order_progress double precision
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT l.line_id, l.line_name, coalesce(cs.state, 'unknown'), cs.since,
           k.oee, k.availability, k.effectiveness, k.quality_ratio, k.gq_total, k.pq_total - k.gq_total,
           o.number, o.product_id, o.good / o.planned_quantity
    FROM grafana.lines l
    CROSS JOIN grafana.time_window(p_from, p_to, p_shift) w
    LEFT JOIN LATERAL (
        SELECT si.state, lower(si.period) AS since FROM public.state_intervals si
        WHERE si.equipment_id = l.line_id ORDER BY lower(si.period) DESC LIMIT 1
    ) cs ON true
    LEFT JOIN LATERAL grafana.kpi(l.line_id, w.w_from, least(w.w_to, now()), 'period') k ON true
    LEFT JOIN LATERAL (
        SELECT wo.number, wo.product_id, wo.planned_quantity, (SELECT ok.gq_total FROM grafana.order_kpi(wo.id) ok) AS good
        FROM public.work_orders wo
        WHERE wo.line_id = l.line_id AND wo.status = 'running'
    ) o ON true
    WHERE l.line_id = ANY (p_lines)
    ORDER BY l.line_name
$$;

-- Orders that ran in the window or are still open, with progress, projected finish
-- (good rate over the order's run time, as mes.production.orders.order_progress) and KPIs.
CREATE FUNCTION grafana.orders(p_lines text[], p_products text[], p_from timestamptz, p_to timestamptz)
RETURNS TABLE (order_number text, line text, product text, status text, planned double precision,
               produced double precision, good double precision, scrap double precision, progress double precision,
               good_per_hour double precision, started timestamptz, projected_finish timestamptz,
               due_at timestamptz, late boolean, oee double precision, availability double precision,
               effectiveness double precision, quality_ratio double precision)
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
        SELECT c.*, k.pq_total, k.gq_total, k.aoet, k.oee, k.availability, k.effectiveness, k.quality_ratio
        FROM chosen c LEFT JOIN LATERAL grafana.order_kpi(c.id) k ON true
    ),
    paced AS (
        SELECT m.*, coalesce(m.gq_total, 0) AS good_q,
               greatest(m.planned_quantity - coalesce(m.gq_total, 0), 0) AS remaining,
               coalesce(m.gq_total, 0) / nullif(m.aoet, 0) AS rate
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
           p.oee, p.availability, p.effectiveness, p.quality_ratio
    FROM paced p
    ORDER BY p.status = 'running' DESC, p.first_start DESC NULLS LAST, p.number
$$;
