-- Counter truth (issues 13 and 27): a rework counter, a per-unit maximum rate for the
-- plausibility rule, and the data-quality events the derivation records when a
-- counter reading is not production (a jump, a glitch read, a reset).

-- A rework counter binding feeds RQ; its deltas land in count_buckets.rework.
ALTER TABLE counter_bindings DROP CONSTRAINT counter_bindings_kind_check;
ALTER TABLE counter_bindings ADD CONSTRAINT counter_bindings_kind_check
    CHECK (kind IN ('good', 'reject', 'total', 'rework', 'energy'));
ALTER TABLE count_buckets ADD COLUMN rework double precision NOT NULL DEFAULT 0;

-- Units per second a work unit can make at most (config `max_rate`, else twice its
-- fastest ideal rate); NULL: unknown, rises are not judged.
ALTER TABLE equipment ADD COLUMN max_rate double precision CHECK (max_rate > 0);

-- Readings the derivation did not take as production, per work unit and counter.
-- kind: 'counter_jump'   a rise (or reset reading) larger than max rate x elapsed + slack:
--                        not counted (quantity = the units refused), the counter goes on
--                        from the new reading;
--       'counter_glitch' a single bad reading between two good ones (40,000 -> 0 -> 40,100):
--                        counted as the rise across it; recorded at the bad reading
--                        (quantity = units a step-by-step reading would have added on top);
--       'counter_reset'  the counter restarted from zero (quantity = the new reading,
--                        counted).
-- Rows are derived: re-derivation replaces those in its window.
CREATE TABLE data_quality_events (
    id             bigserial PRIMARY KEY,
    equipment_id   text             NOT NULL REFERENCES equipment (id),
    stream         text             NOT NULL,
    at             timestamptz      NOT NULL,
    kind           text             NOT NULL CHECK (kind IN ('counter_jump', 'counter_glitch', 'counter_reset')),
    previous_value double precision,
    value          double precision,
    quantity       double precision NOT NULL DEFAULT 0,
    detail         text             NOT NULL DEFAULT '',
    UNIQUE (equipment_id, stream, at, kind)
);
CREATE INDEX data_quality_events_unit_at ON data_quality_events (equipment_id, at);

-- Orders from the PLC (config `orders`): an unknown order number the PLC shows is
-- created (and started) when auto_create is on, for this product and quantity.
ALTER TABLE equipment ADD COLUMN auto_create_orders boolean NOT NULL DEFAULT false;
ALTER TABLE equipment ADD COLUMN auto_create_product text;
ALTER TABLE equipment ADD COLUMN auto_create_quantity double precision CHECK (auto_create_quantity > 0);
