-- Narrow samples table on plain PostgreSQL: monthly range partitions created on
-- demand by ensure_sample_partitions(), a BRIN index on time (tiny, cheap to
-- maintain at high ingest) and a btree on (tag_id, time) for per-tag queries.
-- Append-only: no primary key, no foreign key (both would slow COPY); exactly-once
-- is guaranteed by store_batches.
CREATE TABLE samples (
    time          timestamptz      NOT NULL,
    tag_id        integer          NOT NULL,
    value         double precision,
    text_value    text,
    status        bigint           NOT NULL DEFAULT 0,
    server_time   timestamptz,
    received_time timestamptz
) PARTITION BY RANGE (time);

CREATE INDEX samples_tag_time ON samples (tag_id, time);
CREATE INDEX samples_time_brin ON samples USING brin (time);

CREATE FUNCTION ensure_sample_partitions(from_time timestamptz, to_time timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    month_start timestamptz := date_trunc('month', from_time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    created integer := 0;
    part_name text;
BEGIN
    PERFORM pg_advisory_xact_lock(7310442002);
    WHILE month_start <= to_time LOOP
        part_name := 'samples_' || to_char(month_start AT TIME ZONE 'UTC', 'YYYY_MM');
        IF to_regclass(part_name) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF samples FOR VALUES FROM (%L) TO (%L)',
                part_name, month_start, month_start + interval '1 month');
            created := created + 1;
        END IF;
        month_start := month_start + interval '1 month';
    END LOOP;
    RETURN created;
END $$;

-- Retention on plain PostgreSQL: drop whole partitions older than keep_days.
CREATE FUNCTION apply_sample_retention(keep_days integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    part record;
    dropped integer := 0;
BEGIN
    FOR part IN
        SELECT c.relname
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'samples'::regclass
          AND c.relname ~ '^samples_\d{4}_\d{2}$'
          AND to_date(substr(c.relname, 9), 'YYYY_MM') + interval '1 month'
              < now() - make_interval(days => keep_days)
    LOOP
        EXECUTE format('DROP TABLE %I', part.relname);
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END $$;
