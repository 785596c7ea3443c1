-- SPC subgroups with time bounds the planner can use (TimescaleDB: chunk exclusion).
--
-- 0083's grafana._spc_groups joined the chart to its tag and samples in one query, so
-- the lower time bound of a tag chart with subgroup_seconds (the last 1000 subgroups)
-- and the tag id came through that join: TimescaleDB could not exclude a chunk, and
-- decompressed every compressed chunk of the window for every tag — 10 s for 30 days of
-- one line's samples (docs/performance.md), where plain PostgreSQL took 4 ms through its
-- (tag_id, time) index. Here the chart is read first; the tag id and the bounds are
-- values when the sample queries run, so only the chunks of the subgroups' window are
-- read (at plan time, or at executor start-up with a generic plan), and on plain
-- PostgreSQL the partitions outside it are pruned the same way. Same subgroups as 0083.
CREATE OR REPLACE FUNCTION grafana._spc_groups(p_chart integer, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (t timestamptz, vals double precision[], n double precision, k double precision)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    c public.spc_charts;
    v_size integer;
    v_tag integer;
    v_since timestamptz;
BEGIN
    SELECT * INTO c FROM public.spc_charts WHERE id = p_chart;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    v_size := coalesce(c.subgroup_size, 1);
    IF c.source = 'inspections' THEN
        RETURN QUERY
        SELECT r.time, r.measurements, r.sample_size::double precision,
               CASE WHEN c.chart_type IN ('p', 'np') THEN r.nonconforming::double precision
                    ELSE coalesce((SELECT sum(d.count) FROM public.inspection_defects d WHERE d.record_id = r.id), 0)
               END
        FROM public.inspection_records r
        WHERE r.spec_id = c.spec_id AND r.time >= p_from AND r.time < p_to;
        RETURN;
    END IF;
    IF c.source <> 'tag' THEN
        RETURN;
    END IF;
    SELECT id INTO v_tag FROM public.tags WHERE name = c.tag;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF c.subgroup_seconds IS NOT NULL THEN
        v_since := greatest(p_from, p_to - make_interval(secs => c.subgroup_seconds * 1000));
        RETURN QUERY
        SELECT min(x.time),
               CASE WHEN c.chart_type = 'imr' THEN ARRAY[avg(x.value)]
                    ELSE (array_agg(x.value ORDER BY x.time))[1:v_size] END,
               count(*)::double precision, NULL::double precision
        FROM public.samples x
        WHERE x.tag_id = v_tag AND x.status < 1073741824 AND x.value IS NOT NULL
          AND x.time >= v_since AND x.time < p_to
        GROUP BY floor(extract(epoch FROM x.time) / c.subgroup_seconds)
        HAVING c.chart_type = 'imr' OR count(*) >= v_size;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT min(g.time), array_agg(g.value ORDER BY g.time), count(*)::double precision, NULL::double precision
    FROM (
        SELECT l.time, l.value, (row_number() OVER (ORDER BY l.time) - 1) / v_size AS grp
        FROM (SELECT x.time, x.value
              FROM public.samples x
              WHERE x.tag_id = v_tag AND x.status < 1073741824 AND x.value IS NOT NULL
                AND x.time >= p_from AND x.time < p_to
              ORDER BY x.time DESC LIMIT 1000 * v_size) l
    ) g GROUP BY g.grp HAVING count(*) = v_size;
END $$;
