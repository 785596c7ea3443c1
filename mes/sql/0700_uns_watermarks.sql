-- How far the MES events have been published to the MQTT unified namespace (mes/uns/), per stream:
-- the last published row id (state changes, order transitions) or time (shift ends).
CREATE TABLE uns_watermarks (
    stream    text PRIMARY KEY,
    last_id   bigint      NOT NULL DEFAULT 0,
    last_time timestamptz
);
