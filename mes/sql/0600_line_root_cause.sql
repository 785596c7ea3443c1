-- Line root cause (issue 25): which machine's own stop cost the line's constraint its time.
--
-- A line lists its machines from upstream to downstream (equipment.flow_position of
-- its work cells, buffers between neighbours) and names one of them its constraint
-- (equipment.constraint_id of the line). For every interval in which the constraint
-- does not run, line_root_causes holds the machine that caused it: the constraint
-- itself (rule 'own'), the nearest upstream machine down for its own reason when the
-- constraint is starved ('upstream', through further starved machines), the nearest
-- downstream one when it is blocked ('downstream'), or nobody ('unknown', with a
-- reason code) when the data cannot tell. Rows are derived from state_intervals and
-- re-derived with them (mes/production/root_cause.py); docs/mes.md has the rules
-- with worked examples.

ALTER TABLE equipment ADD COLUMN constraint_id text REFERENCES equipment (id);
ALTER TABLE equipment ADD COLUMN flow_position integer CHECK (flow_position >= 0);

CREATE TABLE line_root_causes (
    id               bigserial PRIMARY KEY,
    line_id          text      NOT NULL REFERENCES equipment (id),
    period           tstzrange NOT NULL CHECK (NOT isempty(period)),
    constraint_state text      NOT NULL,
    -- The cause; for an unknown row the machine where the search stopped (NULL: none).
    machine_id       text REFERENCES equipment (id),
    machine_state    text,
    fault_code       bigint,
    rule             text      NOT NULL CHECK (rule IN ('own', 'upstream', 'downstream', 'unknown')),
    unknown_reason   text CHECK ((rule = 'unknown') = (unknown_reason IS NOT NULL)),
    EXCLUDE USING gist (line_id WITH =, period WITH &&)
);

-- Seconds of each attribution of p_line inside [p_from, p_to), inside its shifts and
-- outside scheduled planned downtime: the lost time the line's downtime Pareto counts.
CREATE FUNCTION mes_root_cause_time(p_line text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (root_cause_id bigint, seconds double precision) LANGUAGE sql STABLE AS $$
    WITH win AS (SELECT tstzrange(p_from, p_to) AS r),
    pot AS (
        SELECT coalesce(range_agg(s.period * win.r), '{}'::tstzmultirange) AS m
        FROM win, shift_instances s WHERE s.line_id = p_line AND s.period && win.r
    ),
    pdt AS (
        SELECT coalesce(range_agg(d.period), '{}'::tstzmultirange) AS m
        FROM win, planned_downtime d WHERE d.line_id = p_line AND d.period && win.r
    )
    SELECT rc.id,
           (SELECT coalesce(sum(extract(epoch FROM upper(x) - lower(x))), 0)::double precision
            FROM unnest(rc.period::tstzmultirange * pot.m - pdt.m) x)
    FROM win, pot, pdt, line_root_causes rc
    WHERE rc.line_id = p_line AND rc.period && win.r
$$;

-- Lost time of the line by cause: per machine (p_by 'machine') or per machine and
-- fault code ('fault'), largest first, with each one's share. Unknown causes are
-- one row with machine NULL.
CREATE FUNCTION mes_root_cause_pareto(p_line text, p_from timestamptz, p_to timestamptz,
                                      p_by text DEFAULT 'machine')
RETURNS TABLE (machine_id text, machine text, machine_name text, fault_code bigint, seconds double precision,
               intervals bigint, share double precision)
LANGUAGE sql STABLE AS $$
    WITH timed AS (
        SELECT CASE WHEN rc.rule = 'unknown' THEN NULL ELSE rc.machine_id END AS machine_id,
               CASE WHEN rc.rule = 'unknown' OR p_by <> 'fault' THEN NULL ELSE rc.fault_code END AS fault_code,
               t.seconds
        FROM mes_root_cause_time(p_line, p_from, p_to) t JOIN line_root_causes rc ON rc.id = t.root_cause_id
        WHERE t.seconds > 0
    ),
    grouped AS (
        SELECT machine_id, fault_code, sum(seconds) AS seconds, count(*) AS intervals FROM timed GROUP BY 1, 2
    )
    SELECT g.machine_id, substr(g.machine_id, length(p_line) + 2), e.name, g.fault_code, g.seconds, g.intervals,
           g.seconds / nullif(sum(g.seconds) OVER (), 0)
    FROM grouped g LEFT JOIN equipment e ON e.id = g.machine_id
    ORDER BY g.seconds DESC, g.machine_id NULLS LAST, g.fault_code NULLS LAST
$$;
