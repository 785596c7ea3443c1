-- Line root cause for Grafana (issue 25): the line's lost time by the machine and fault code
-- that caused it, from mes_root_cause_pareto() (0600), for the dashboard's range or shift.
CREATE FUNCTION grafana.root_cause_pareto(p_line text, p_from timestamptz, p_to timestamptz,
                                          p_shift text DEFAULT 'all')
RETURNS TABLE (cause text, minutes double precision, share double precision, machine text, fault_code bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT coalesce(nullif(p.machine_name, ''), p.machine, 'unknown')
               || coalesce(' · ' || p.fault_code::text, ''),
           p.seconds / 60, p.share, p.machine, p.fault_code
    FROM grafana.time_window(p_from, p_to, p_shift) w,
         public.mes_root_cause_pareto(p_line, w.w_from, least(w.w_to, now()), 'fault') p
    ORDER BY p.seconds DESC
$$;
