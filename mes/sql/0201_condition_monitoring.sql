-- Condition monitoring (ISO 20816-3): trend forecasts per asset, and maintenance work orders
-- opened from "maintenance due" alarms (or by hand) and closed with the repair. MTBF and MTTR
-- per asset are computed from these orders and from the fault stops of the asset's equipment.

CREATE TABLE condition_forecasts (
    id        bigserial        PRIMARY KEY,
    asset     text             NOT NULL,
    point_id  bigint           REFERENCES alarm_points (id),
    at        timestamptz      NOT NULL,
    velocity  double precision NOT NULL,          -- the bucket's mean velocity RMS, mm/s
    zone      text             NOT NULL CHECK (zone IN ('A', 'B', 'C', 'D')),
    model     text             CHECK (model IN ('linear', 'exponential')),  -- NULL: no rising trend
    fit       double precision,
    rate      double precision,
    eta_c     timestamptz,
    eta_d     timestamptz
);
CREATE INDEX condition_forecasts_asset ON condition_forecasts (asset, at DESC);

CREATE TABLE maintenance_orders (
    id             bigserial   PRIMARY KEY,
    asset          text        NOT NULL,
    kind           text        NOT NULL CHECK (kind IN ('predictive', 'breakdown', 'preventive')),
    occurrence_id  bigint      REFERENCES alarm_occurrences (id),
    reason         text        NOT NULL,
    forecast_d_at  timestamptz,
    opened_at      timestamptz NOT NULL,
    opened_by      text        NOT NULL,
    started_at     timestamptz,
    closed_at      timestamptz,
    closed_by      text,
    repair         text,
    failure        boolean     NOT NULL DEFAULT false,   -- the asset had failed (counts for MTBF/MTTR)
    CHECK (closed_at IS NULL OR (repair <> '' AND started_at IS NOT NULL AND started_at <= closed_at))
);
CREATE UNIQUE INDEX maintenance_orders_per_alarm ON maintenance_orders (occurrence_id) WHERE occurrence_id IS NOT NULL;
CREATE INDEX maintenance_orders_asset ON maintenance_orders (asset, opened_at);
