-- mes_kpi() reads the hourly KPI cache (issue 20: the 30-day one-line KPI under 200 ms).
--
-- mes_kpi() walked a month of timeline on every call (~1 s for 30 days of one line);
-- grafana.kpi() answered from grafana.kpi_hours in ~0.1 s but carried only part of
-- mes_kpi()'s row (no shift grouping, no failures/MTBF/MTTR, NEE, throughput, unknown and
-- unscheduled stop time, first/last time, per-group data-quality window, labels). Now:
--
-- * mes_kpi_parts(unit, from, to, by) is what mes_kpi() summed over the timeline, kept in
--   parts that add up across adjacent windows: sums of seconds and quantities, first and
--   last time (min/max), and the ids of failure events (a stop spanning two hours is one
--   failure, so failures are a count of distinct ids, not a sum).
-- * grafana.kpi_hours keeps every part, for 'period', 'product', 'order' and 'shift'
--   (refreshed as before; hours cached under the old columns are recomputed).
-- * mes_kpi() = the KPI row of the summed parts of the cached whole hours (with the
--   line's current settings, not changed since: grafana._kpi_pieces) and of live
--   mes_kpi_parts() for the rest (window edges, the current hour, hours whose facts
--   changed, a unit that is not a cached line). mes_kpi_live() is the same row from the
--   timeline alone, for checking. Both sum and finish through mes_kpi_of_parts(), and
--   round every summed second, quantity and energy to 1e-6 so the order of summation
--   (one pass or hour by hour) does not show in the figures.
-- * Data-quality events, labels and the unit's minor-stop setting are read at answer time.
-- * A line's cache is also not trusted when its state binding, counter kinds or reasons'
--   time elements changed (they change the timeline), as for PRU and micro-stop settings.

CREATE FUNCTION mes_kpi_parts(p_unit text, p_from timestamptz, p_to timestamptz, p_by text)
RETURNS TABLE (
    group_key             text,
    first_time            timestamptz,
    last_time             timestamptz,
    pot                   double precision,
    pdt                   double precision,
    apt                   double precision,
    adet                  double precision,
    aust                  double precision,
    adot                  double precision,
    no_data_time          double precision,
    unscheduled_stop_time double precision,
    unknown_time          double precision,
    minor_stop_time       double precision,
    minor_stops           bigint,
    failure_ids           bigint[],
    failure_time          double precision,
    aoet                  double precision,
    pq                    double precision,
    gq                    double precision,
    rq                    double precision,
    pq_outside_pbt        double precision,
    pq_no_data            double precision,
    pq_in_orders          double precision,
    pq_total              double precision,
    gq_total              double precision,
    ideal_time            double precision,  -- NULL: units made in PBT without a known PRU
    energy                double precision
) LANGUAGE sql STABLE AS $$
WITH evs AS (
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
    WHERE p_from < p_to
)
SELECT gkey,
       min(seg_start),
       max(seg_end),
       coalesce(sum(seconds) FILTER (WHERE element IS NOT NULL), 0),
       coalesce(sum(seconds) FILTER (WHERE element = 'PDT'), 0),
       coalesce(sum(seconds) FILTER (WHERE element = 'APT'), 0),
       coalesce(sum(seconds) FILTER (WHERE element = 'ADET'), 0),
       coalesce(sum(seconds) FILTER (WHERE element = 'AUST'), 0),
       coalesce(sum(seconds) FILTER (WHERE element = 'ADOT'), 0),
       coalesce(sum(seconds) FILTER (WHERE element = 'NODATA'), 0),
       coalesce(sum(seconds) FILTER (WHERE in_pbt AND (state = 'planned_stop' OR reason_element = 'PDT')), 0),
       coalesce(sum(seconds) FILTER (WHERE element NOT IN ('PDT') AND state IN ('unknown', 'no_data')), 0),
       coalesce(sum(seconds) FILTER (WHERE minor_stop AND element IN ('APT', 'ADET')), 0),
       -- A stop is counted once, in the period where it starts (its time is split).
       count(DISTINCT event_id) FILTER (WHERE minor_stop AND element IN ('APT', 'ADET') AND seconds > 0
                                        AND seg_start = event_start),
       coalesce(array_agg(DISTINCT event_id) FILTER (WHERE element = 'ADET' AND NOT minor_stop
                                                     AND event_kind = 'stop' AND seconds > 0), '{}'),
       coalesce(sum(seconds) FILTER (WHERE element = 'ADET' AND NOT minor_stop AND event_kind = 'stop'), 0),
       coalesce(sum(seconds) FILTER (WHERE order_id IS NOT NULL), 0),
       coalesce(sum(pq) FILTER (WHERE in_pbt), 0),
       coalesce(sum(gq) FILTER (WHERE in_pbt), 0),
       coalesce(sum(rq) FILTER (WHERE in_pbt), 0),
       coalesce(sum(pq) FILTER (WHERE NOT in_pbt), 0),
       coalesce(sum(pq) FILTER (WHERE element = 'NODATA'), 0),
       coalesce(sum(pq) FILTER (WHERE order_id IS NOT NULL), 0),
       coalesce(sum(pq), 0),
       coalesce(sum(gq), 0),
       CASE WHEN bool_or(pru IS NULL) FILTER (WHERE in_pbt AND pq <> 0) THEN NULL
            ELSE coalesce(sum(pq * pru) FILTER (WHERE in_pbt AND pq <> 0), 0) END,
       coalesce(sum(energy), 0)
FROM tl
WHERE gkey IS NOT NULL
GROUP BY gkey
$$;

-- The cache keeps every part; hours cached with the old columns are recomputed.
ALTER TABLE grafana.kpi_hours DROP CONSTRAINT kpi_hours_group_by_check;
ALTER TABLE grafana.kpi_hours ADD CONSTRAINT kpi_hours_group_by_check
    CHECK (group_by IN ('period', 'product', 'order', 'shift'));
ALTER TABLE grafana.kpi_hours
    ADD COLUMN first_time            timestamptz,
    ADD COLUMN last_time             timestamptz,
    ADD COLUMN unscheduled_stop_time double precision NOT NULL DEFAULT 0,
    ADD COLUMN unknown_time          double precision NOT NULL DEFAULT 0,
    ADD COLUMN failure_ids           bigint[]         NOT NULL DEFAULT '{}',
    ADD COLUMN failure_time          double precision NOT NULL DEFAULT 0,
    ADD COLUMN pq_outside_pbt        double precision NOT NULL DEFAULT 0,
    ADD COLUMN pq_in_orders          double precision NOT NULL DEFAULT 0;
DELETE FROM grafana.kpi_hours_done;
DELETE FROM grafana.kpi_hours;

-- A micro-second is the finest time the facts carry: sums rounded to it are the same
-- whichever order they were added in.
CREATE FUNCTION mes_kpi_round(x double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT round(x::numeric, 6)::double precision $$;

-- The KPI rows of a unit over a window, from parts: cached whole hours plus live pieces
-- (p_use_cache), or the live timeline of the whole window.
CREATE FUNCTION mes_kpi_of_parts(p_unit text, p_from timestamptz, p_to timestamptz, p_by text,
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
WITH pieces AS (
    SELECT p.piece_from, p.piece_to, p.cached
    FROM grafana._kpi_pieces(p_unit, p_from, p_to) p
    WHERE p_use_cache AND grafana._kpi_cache_trusted(p_unit)
    UNION ALL
    SELECT p_from, p_to, false
    WHERE p_from < p_to AND NOT (p_use_cache AND grafana._kpi_cache_trusted(p_unit))
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

-- ISO 22400-2 KPIs of a unit over a window, per group: cached whole hours plus live edges.
CREATE OR REPLACE FUNCTION mes_kpi(p_unit text, p_from timestamptz, p_to timestamptz, p_by text DEFAULT 'period')
RETURNS TABLE (
    equipment_id text, group_by text, group_key text, group_label text, first_time timestamptz,
    last_time timestamptz, minor_stop_loss text, pot double precision, pdt double precision, pbt double precision,
    aubt double precision, adot double precision, adet double precision, aust double precision,
    apt double precision, aupt double precision, unknown_time double precision, minor_stop_time double precision,
    minor_stops bigint, failures bigint, failure_time double precision, aoet double precision,
    pq double precision, gq double precision, sq double precision, rq double precision,
    pq_outside_pbt double precision, pq_total double precision, gq_total double precision, pru double precision,
    ideal_time double precision, availability double precision, effectiveness double precision,
    quality_ratio double precision, oee double precision, nee double precision,
    technical_efficiency double precision, setup_rate double precision, allocation_efficiency double precision,
    utilisation_efficiency double precision, scrap_ratio double precision, rework_ratio double precision,
    throughput_per_hour double precision, mtbf double precision, mttr double precision, energy double precision,
    energy_per_unit double precision, energy_per_good_unit double precision, no_data_time double precision,
    unscheduled_stop_time double precision, pq_no_data double precision, data_quality_events bigint,
    plausible boolean, implausible_reasons text[]
) LANGUAGE sql STABLE AS $$
    SELECT * FROM mes_kpi_of_parts(p_unit, p_from, p_to, p_by, true)
$$;

-- The same rows from the live timeline only (no cache): for checking the cache.
CREATE FUNCTION mes_kpi_live(p_unit text, p_from timestamptz, p_to timestamptz, p_by text DEFAULT 'period')
RETURNS TABLE (
    equipment_id text, group_by text, group_key text, group_label text, first_time timestamptz,
    last_time timestamptz, minor_stop_loss text, pot double precision, pdt double precision, pbt double precision,
    aubt double precision, adot double precision, adet double precision, aust double precision,
    apt double precision, aupt double precision, unknown_time double precision, minor_stop_time double precision,
    minor_stops bigint, failures bigint, failure_time double precision, aoet double precision,
    pq double precision, gq double precision, sq double precision, rq double precision,
    pq_outside_pbt double precision, pq_total double precision, gq_total double precision, pru double precision,
    ideal_time double precision, availability double precision, effectiveness double precision,
    quality_ratio double precision, oee double precision, nee double precision,
    technical_efficiency double precision, setup_rate double precision, allocation_efficiency double precision,
    utilisation_efficiency double precision, scrap_ratio double precision, rework_ratio double precision,
    throughput_per_hour double precision, mtbf double precision, mttr double precision, energy double precision,
    energy_per_unit double precision, energy_per_good_unit double precision, no_data_time double precision,
    unscheduled_stop_time double precision, pq_no_data double precision, data_quality_events bigint,
    plausible boolean, implausible_reasons text[]
) LANGUAGE sql STABLE AS $$
    SELECT * FROM mes_kpi_of_parts(p_unit, p_from, p_to, p_by, false)
$$;

-- Cache parts come from the live timeline (mes_kpi() itself would look for them in the cache).
CREATE OR REPLACE FUNCTION grafana._kpi_live(p_line text, p_from timestamptz, p_to timestamptz, p_group text)
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
    FROM public.mes_kpi_live(p_line, p_from, p_to, p_group) k
    WHERE p_from < p_to
$$;

-- What else a line's hours depend on: its settings and cycle times (0085), whether it
-- binds a state tag (no-data time), which counters it binds (PQ and GQ from total or
-- good) and the time element of each of its downtime reasons.
CREATE OR REPLACE FUNCTION grafana._kpi_settings(p_line text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'unit', (SELECT jsonb_build_object('micro_stop_seconds', e.micro_stop_seconds,
                                           'minor_stop_loss', e.minor_stop_loss, 'default_pru', e.default_pru,
                                           'has_state', e.state_tag IS NOT NULL, 'line_id', e.line_id)
                 FROM public.equipment e WHERE e.id = p_line),
        'cycle_times', (SELECT coalesce(jsonb_object_agg(c.product_id, c.ideal_cycle_time), '{}'::jsonb)
                        FROM public.product_cycle_times c WHERE c.line_id = p_line),
        'counters', (SELECT coalesce(jsonb_agg(DISTINCT b.kind), '[]'::jsonb)
                     FROM public.counter_bindings b WHERE b.equipment_id = p_line),
        'reasons', (SELECT coalesce(jsonb_object_agg(r.code, r.time_element), '{}'::jsonb)
                    FROM public.downtime_reasons r WHERE r.line_id = p_line))
$$;

-- Fill the cache as 0085 did, with every part mes_kpi() sums, for every grouping; p_from and
-- p_to, when given, limit it to the whole hours between them (a backfill, a test's day).
DROP FUNCTION grafana.refresh_kpi_hours(integer);
CREATE FUNCTION grafana.refresh_kpi_hours(p_max_hours integer DEFAULT 2000, p_from timestamptz DEFAULT NULL,
                                          p_to timestamptz DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    horizon timestamptz := date_trunc('hour', now() - interval '5 minutes');
    noted bigint;
    line record;
    todo record;
    computed integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(7310442080);
    -- A line whose settings changed is recomputed from scratch.
    FOR line IN SELECT e.id, grafana._kpi_settings(e.id) AS settings
                FROM public.equipment e WHERE e.level = 'line' LOOP
        IF NOT grafana._kpi_cache_trusted(line.id) THEN
            DELETE FROM grafana.kpi_hours_done WHERE line_id = line.id;
            INSERT INTO grafana.kpi_settings_seen (line_id, settings) VALUES (line.id, line.settings)
            ON CONFLICT (line_id) DO UPDATE SET settings = EXCLUDED.settings;
        END IF;
    END LOOP;
    SELECT max(id) INTO noted FROM grafana.kpi_dirty;
    -- Forget cached hours that changed (only what was noted before this refresh began).
    DELETE FROM grafana.kpi_hours_done d
    WHERE EXISTS (SELECT 1 FROM grafana.kpi_dirty x
                  WHERE x.id <= noted AND x.period && tstzrange(d.hour, d.hour + interval '1 hour'));
    DELETE FROM grafana.kpi_dirty WHERE id <= noted;
    FOR todo IN
        SELECT l.id AS line_id, h AS hour
        FROM public.equipment l
        CROSS JOIN LATERAL (SELECT date_trunc('hour', min(lower(s.period))) AS first
                            FROM public.shift_instances s WHERE s.line_id = l.id) f
        CROSS JOIN LATERAL generate_series(f.first, horizon - interval '1 hour', interval '1 hour') h
        WHERE l.level = 'line' AND l.active AND f.first IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM grafana.kpi_hours_done d WHERE d.line_id = l.id AND d.hour = h)
          AND (p_from IS NULL OR h >= p_from) AND (p_to IS NULL OR h + interval '1 hour' <= p_to)
        ORDER BY h DESC
        LIMIT p_max_hours
    LOOP
        DELETE FROM grafana.kpi_hours WHERE line_id = todo.line_id AND hour = todo.hour;
        INSERT INTO grafana.kpi_hours (
            line_id, hour, group_by, group_key, pot, pdt, pbt, aubt, adot, adet, aust, apt, aupt,
            minor_stop_time, minor_stops, aoet, pq, gq, sq, rq, pq_total, gq_total, energy, ideal_time,
            no_data_time, pq_no_data, first_time, last_time, unscheduled_stop_time, unknown_time, failure_ids,
            failure_time, pq_outside_pbt, pq_in_orders)
        SELECT todo.line_id, todo.hour, g.grp, k.group_key, k.pot, k.pdt, k.pot - k.pdt - k.no_data_time,
               k.apt + k.adet + k.aust, k.adot, k.adet, k.aust, k.apt, k.apt + k.aust, k.minor_stop_time,
               k.minor_stops, k.aoet, k.pq, k.gq, k.pq - k.gq - k.rq, k.rq, k.pq_total, k.gq_total, k.energy,
               k.ideal_time, k.no_data_time, k.pq_no_data, k.first_time, k.last_time, k.unscheduled_stop_time,
               k.unknown_time, k.failure_ids, k.failure_time, k.pq_outside_pbt, k.pq_in_orders
        FROM unnest(ARRAY['period', 'product', 'order', 'shift']) g (grp)
        CROSS JOIN LATERAL mes_kpi_parts(todo.line_id, todo.hour, todo.hour + interval '1 hour', g.grp) k;
        INSERT INTO grafana.kpi_hours_done (line_id, hour) VALUES (todo.line_id, todo.hour);
        computed := computed + 1;
    END LOOP;
    RETURN computed;
END $$;
REVOKE EXECUTE ON FUNCTION grafana.refresh_kpi_hours(integer, timestamptz, timestamptz) FROM PUBLIC;
