-- Quality views for Grafana, on the quality records (0050–0054) and the KPI core:
-- yield and scrap come from mes_kpi() (the one KPI implementation), first pass
-- yield as mes.quality.summary defines it ((PQ − SQ − RQ) / PQ); SPC points are
-- plotted against the limits stored on the chart (frozen in Phase II) exactly as
-- mes.quality.charts.plot() plots them.
--
-- line_quality and line_quality_trend read the hourly KPI cache: they are
-- defined with it (0085, 0086).

CREATE VIEW grafana.spc_charts AS
SELECT c.id AS chart_id, c.name, c.chart_type, c.source, coalesce(c.tag, s.tag) AS tag, s.characteristic,
       s.product_id, s.line_id, s.unit, c.phase, c.subgroup_size, c.subgroup_seconds,
       (c.limits -> 'primary' ->> 'center')::double precision AS center,
       (c.limits -> 'primary' ->> 'lcl')::double precision AS lcl,
       (c.limits -> 'primary' ->> 'ucl')::double precision AS ucl,
       s.lsl, s.usl
FROM public.spc_charts c LEFT JOIN public.quality_specs s ON s.id = c.spec_id;

-- Charts a line's quality dashboard offers: charts of its specs, of specs for every
-- line, and charts of a tag (which belong to no spec).
CREATE FUNCTION grafana.spc_chart_choices(p_line text)
RETURNS TABLE (__value text, __text text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT chart_id::text, name || ' (' || replace(chart_type, '_', '-') || ')'
    FROM grafana.spc_charts WHERE line_id IS NULL OR line_id = p_line ORDER BY name
$$;

CREATE FUNCTION grafana._spc_limits(p_limits jsonb)
RETURNS TABLE (pc double precision, pl double precision, pu double precision,
               sc double precision, sl double precision, su double precision)
LANGUAGE sql IMMUTABLE AS $$
    SELECT (p_limits #>> '{primary,center}')::double precision, (p_limits #>> '{primary,lcl}')::double precision,
           (p_limits #>> '{primary,ucl}')::double precision, (p_limits #>> '{secondary,center}')::double precision,
           (p_limits #>> '{secondary,lcl}')::double precision, (p_limits #>> '{secondary,ucl}')::double precision
$$;

-- An SPC chart's subgroups in the window, as mes.quality.spc.chart_data() forms
-- them: inspection records, or a tag's good samples per subgroup_seconds bucket
-- (X̄ charts: the first n values; I-MR: the bucket mean), or in consecutive runs
-- of n. Tag charts read at most the last 1000 subgroups, so a month stays cheap.
CREATE FUNCTION grafana._spc_groups(p_chart integer, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (t timestamptz, vals double precision[], n double precision, k double precision)
LANGUAGE sql STABLE AS $$
    WITH c AS (SELECT *, coalesce(subgroup_size, 1) AS size FROM public.spc_charts WHERE id = p_chart)
    SELECT r.time, r.measurements, r.sample_size::double precision,
           CASE WHEN c.chart_type IN ('p', 'np') THEN r.nonconforming::double precision
                ELSE coalesce((SELECT sum(d.count) FROM public.inspection_defects d WHERE d.record_id = r.id), 0)
           END
    FROM c JOIN public.inspection_records r ON r.spec_id = c.spec_id
    WHERE c.source = 'inspections' AND r.time >= p_from AND r.time < p_to
    UNION ALL
    SELECT min(x.time),
           CASE WHEN c.chart_type = 'imr' THEN ARRAY[avg(x.value)]
                ELSE (array_agg(x.value ORDER BY x.time))[1:c.size] END,
           count(*), NULL
    FROM c JOIN public.tags t ON t.name = c.tag JOIN public.samples x ON x.tag_id = t.id
    WHERE c.source = 'tag' AND c.subgroup_seconds IS NOT NULL AND x.status < 1073741824 AND x.value IS NOT NULL
      AND x.time >= greatest(p_from, p_to - make_interval(secs => c.subgroup_seconds * 1000)) AND x.time < p_to
    GROUP BY floor(extract(epoch FROM x.time) / c.subgroup_seconds), c.chart_type, c.size
    HAVING c.chart_type = 'imr' OR count(*) >= c.size
    UNION ALL
    SELECT min(g.time), array_agg(g.value ORDER BY g.time), count(*), NULL
    FROM (
        SELECT l.time, l.value, (row_number() OVER (ORDER BY l.time) - 1) / l.size AS grp, l.size
        FROM (SELECT x.time, x.value, c.size
              FROM c JOIN public.tags t ON t.name = c.tag JOIN public.samples x ON x.tag_id = t.id
              WHERE c.source = 'tag' AND c.subgroup_seconds IS NULL AND x.status < 1073741824
                AND x.value IS NOT NULL AND x.time >= p_from AND x.time < p_to
              ORDER BY x.time DESC LIMIT 1000 * (SELECT size FROM c)) l
    ) g GROUP BY g.grp, g.size HAVING count(*) = g.size
$$;

-- The plotted statistics of an SPC chart: 'primary' (X̄, X, p, np, c, u) and
-- 'secondary' (R, S, MR), each with the limits that apply to the point.
CREATE FUNCTION grafana.spc_points(p_chart integer, p_from timestamptz, p_to timestamptz)
RETURNS TABLE ("time" timestamptz, part text, value double precision, center double precision,
               lcl double precision, ucl double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH c AS (SELECT *, coalesce(subgroup_size, 1) AS size FROM public.spc_charts WHERE id = p_chart),
    l AS (SELECT lim.* FROM c, grafana._spc_limits(c.limits) lim),
    g AS (SELECT * FROM grafana._spc_groups(p_chart, p_from, p_to)),
    xbar AS (
        SELECT g.t, (SELECT avg(v) FROM unnest(g.vals) v) AS mean,
               CASE WHEN c.chart_type = 'xbar_r' THEN (SELECT max(v) - min(v) FROM unnest(g.vals) v)
                    ELSE (SELECT stddev_samp(v) FROM unnest(g.vals) v) END AS spread
        FROM g, c WHERE c.chart_type IN ('xbar_r', 'xbar_s') AND cardinality(g.vals) = c.size
    ),
    individuals AS (
        SELECT g.t, v.value, row_number() OVER (ORDER BY g.t, v.ord) AS i
        FROM g, c, unnest(g.vals) WITH ORDINALITY v (value, ord) WHERE c.chart_type = 'imr'
    )
    SELECT x.t, 'primary', x.mean, l.pc, l.pl, l.pu FROM xbar x, l
    UNION ALL
    SELECT x.t, 'secondary', x.spread, l.sc, l.sl, l.su FROM xbar x, l
    UNION ALL
    SELECT i.t, 'primary', i.value, l.pc, l.pl, l.pu FROM individuals i, l
    UNION ALL
    SELECT m.t, 'secondary', m.mr, l.sc, l.sl, l.su
    FROM (SELECT i.t, abs(i.value - lag(i.value) OVER (ORDER BY i.i)) AS mr FROM individuals i) m, l
    WHERE m.mr IS NOT NULL
    UNION ALL
    SELECT g.t, 'primary',
           CASE WHEN c.chart_type IN ('p', 'u') THEN g.k / g.n ELSE g.k END,
           l.pc,
           CASE c.chart_type
               WHEN 'p' THEN greatest(0, l.pc - 3 * sqrt(l.pc * (1 - l.pc) / g.n))
               WHEN 'u' THEN greatest(0, l.pc - 3 * sqrt(l.pc / g.n))
               ELSE l.pl END,
           CASE c.chart_type
               WHEN 'p' THEN least(1, l.pc + 3 * sqrt(l.pc * (1 - l.pc) / g.n))
               WHEN 'u' THEN l.pc + 3 * sqrt(l.pc / g.n)
               ELSE l.pu END
    FROM g, c, l WHERE c.chart_type IN ('p', 'np', 'c', 'u')
$$;

CREATE FUNCTION grafana.spc_violations(p_chart integer, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (point_time timestamptz, rule text, chart_part text, value double precision, description text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT v.point_time, v.rule, v.chart_part, v.value, v.description
    FROM public.spc_violations v
    WHERE v.chart_id = p_chart AND v.point_time >= p_from AND v.point_time < p_to
    ORDER BY v.point_time DESC
$$;

CREATE FUNCTION grafana.excursions(p_line text, p_products text[], p_from timestamptz, p_to timestamptz)
RETURNS TABLE (start_time timestamptz, end_time timestamptz, seconds double precision, tag text,
               characteristic text, direction text, limit_value double precision, worst_value double precision,
               order_number text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT e.start_time, e.end_time,
           extract(epoch FROM coalesce(e.end_time, now()) - e.start_time)::double precision,
           e.tag, s.characteristic, e.direction, e.limit_value, e.worst_value, o.number
    FROM public.process_excursions e
    JOIN public.quality_specs s ON s.id = e.spec_id
    LEFT JOIN public.work_orders o ON o.id = e.work_order_id
    WHERE e.line_id = p_line AND s.product_id = ANY (p_products)
      AND e.start_time < p_to AND coalesce(e.end_time, 'infinity') > p_from
    ORDER BY e.start_time DESC
$$;

CREATE FUNCTION grafana.nonconformances(p_line text, p_products text[], p_from timestamptz, p_to timestamptz)
RETURNS TABLE ("time" timestamptz, description text, quantity double precision, status text, defect_code text,
               source text, order_number text, dispositions text, found_at text, reported_by text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT n.time, n.description, n.quantity, n.status, n.defect_code, n.source, o.number,
           (SELECT string_agg(d.disposition || ' ' || d.quantity, ', ' ORDER BY d.id)
            FROM public.nonconformance_dispositions d WHERE d.nonconformance_id = n.id),
           n.found_at, n.reported_by
    FROM public.nonconformances n
    LEFT JOIN public.work_orders o ON o.id = n.work_order_id
    WHERE n.line_id = p_line AND (n.product_id IS NULL OR n.product_id = ANY (p_products))
      AND (n.time >= p_from AND n.time < p_to OR n.status <> 'closed')
    ORDER BY n.time DESC
$$;

-- Defects by code: counted defects of inspections plus nonconforming quantities.
CREATE FUNCTION grafana.defect_pareto(p_line text, p_products text[], p_from timestamptz, p_to timestamptz)
RETURNS TABLE (defect text, quantity double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT code, sum(q) FROM (
        SELECT d.defect_code AS code, d.count::double precision AS q
        FROM public.inspection_records r
        JOIN public.inspection_defects d ON d.record_id = r.id
        JOIN public.quality_specs s ON s.id = r.spec_id
        WHERE r.line_id = p_line AND s.product_id = ANY (p_products) AND r.time >= p_from AND r.time < p_to
        UNION ALL
        SELECT coalesce(n.defect_code, 'unspecified'), n.quantity
        FROM public.nonconformances n
        WHERE n.line_id = p_line AND (n.product_id IS NULL OR n.product_id = ANY (p_products))
          AND n.source = 'manual' AND n.time >= p_from AND n.time < p_to
    ) all_defects
    GROUP BY code ORDER BY 2 DESC
$$;

-- Quality events (SPC violations, excursions, nonconformances, overdue inspections) per bucket.
CREATE FUNCTION grafana.quality_events(p_line text, p_from timestamptz, p_to timestamptz, p_bucket_ms bigint)
RETURNS TABLE ("time" timestamptz, kind text, events bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT date_bin(make_interval(secs => greatest(p_bucket_ms, 60000) / 1000.0), e.time, timestamptz '2000-01-01'),
           e.kind, count(*)
    FROM public.quality_events e
    WHERE (e.line_id = p_line OR e.line_id IS NULL) AND e.time >= p_from AND e.time < p_to
    GROUP BY 1, 2 ORDER BY 1, 2
$$;
