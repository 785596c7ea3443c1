-- Whether a stop is a minor stop depends on its whole duration (shorter than the line's
-- micro_stop_seconds), so when a stop's end moves across that threshold (a provisional tail
-- growing, derivation catching up after a lag) every hour it covers changes, not only the
-- stretch between the old and the new end that 0085 notes for a moved end. The cache (read by
-- mes_kpi since 0120) would keep counting it as a minor stop in its first, cached hour.
CREATE OR REPLACE FUNCTION grafana.note_changed_period() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    old_row jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
    new_row jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
    old_span tstzrange;
    new_span tstzrange;
    threshold double precision;
BEGIN
    IF old_row IS NOT NULL AND new_row IS NOT NULL AND old_row ? 'period'
       AND old_row - 'period' = new_row - 'period'
       AND lower((old_row ->> 'period')::tstzrange) = lower((new_row ->> 'period')::tstzrange) THEN
        old_span := (old_row ->> 'period')::tstzrange;
        new_span := (new_row ->> 'period')::tstzrange;
        IF TG_TABLE_NAME = 'downtime_events' THEN
            SELECT e.micro_stop_seconds INTO threshold
            FROM public.equipment e WHERE e.id = new_row ->> 'equipment_id';
            IF (upper(old_span) IS NOT NULL AND extract(epoch FROM upper(old_span) - lower(old_span)) < threshold)
               IS DISTINCT FROM
               (upper(new_span) IS NOT NULL AND extract(epoch FROM upper(new_span) - lower(new_span)) < threshold) THEN
                INSERT INTO grafana.kpi_dirty (period)
                VALUES (tstzrange(lower(new_span), greatest(coalesce(upper(old_span), 'infinity'),
                                                            coalesce(upper(new_span), 'infinity')), '[]'));
                RETURN NULL;
            END IF;
        END IF;
        INSERT INTO grafana.kpi_dirty (period)
        SELECT tstzrange(least(coalesce(upper(old_span), 'infinity'), coalesce(upper(new_span), 'infinity')),
                         greatest(coalesce(upper(old_span), 'infinity'), coalesce(upper(new_span), 'infinity')), '[]')
        WHERE upper(old_span) IS DISTINCT FROM upper(new_span);
        RETURN NULL;
    END IF;
    INSERT INTO grafana.kpi_dirty (period)
    SELECT span FROM (VALUES (grafana._changed_span(TG_TABLE_NAME, old_row)),
                             (grafana._changed_span(TG_TABLE_NAME, new_row))) v (span)
    WHERE span IS NOT NULL AND NOT isempty(span);
    RETURN NULL;
END $$;
REVOKE EXECUTE ON FUNCTION grafana.note_changed_period() FROM PUBLIC;
