-- Narrow samples table as a TimescaleDB hypertable (TimescaleDB 2.x API):
-- daily chunks, compression segmented by tag, retention set from the config
-- through apply_sample_retention().
CREATE EXTENSION IF NOT EXISTS timescaledb;

CREATE TABLE samples (
    time          timestamptz      NOT NULL,
    tag_id        integer          NOT NULL,
    value         double precision,
    text_value    text,
    status        bigint           NOT NULL DEFAULT 0,
    server_time   timestamptz,
    received_time timestamptz
);

SELECT create_hypertable('samples', by_range('time', INTERVAL '1 day'));
CREATE INDEX samples_tag_time ON samples (tag_id, time DESC);

ALTER TABLE samples SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'tag_id',
    timescaledb.compress_orderby = 'time DESC'
);
SELECT add_compression_policy('samples', INTERVAL '7 days');

-- Chunks are created by TimescaleDB itself; kept so the store's code is the same on both.
CREATE FUNCTION ensure_sample_partitions(from_time timestamptz, to_time timestamptz)
RETURNS integer LANGUAGE sql AS $$ SELECT 0 $$;

CREATE FUNCTION apply_sample_retention(keep_days integer)
RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
    PERFORM remove_retention_policy('samples', if_exists => true);
    PERFORM add_retention_policy('samples', make_interval(days => keep_days));
    RETURN 0;
END $$;
