-- Quality specifications: what a product must meet, per characteristic, optionally
-- per line, plus optional process limits on a bound tag (e.g. curing temperature
-- 180–190 °C while an order of the product runs). Rows are never deleted; a
-- replaced spec is deactivated so old inspections still point at what applied.
CREATE TABLE quality_specs (
    id               serial PRIMARY KEY,
    product_id       text             NOT NULL REFERENCES products (id),
    line_id          text             REFERENCES equipment (id),   -- NULL: every line
    characteristic   text             NOT NULL,
    kind             text             NOT NULL DEFAULT 'measured' CHECK (kind IN ('measured', 'attribute')),
    unit             text             NOT NULL DEFAULT '',
    target           double precision,
    lsl              double precision,
    usl              double precision,
    tag              text,                                 -- bound tag (tags.name) for process checks / SPC
    process_low      double precision,
    process_high     double precision,
    min_duration_s   double precision NOT NULL DEFAULT 0 CHECK (min_duration_s >= 0),
    active           boolean          NOT NULL DEFAULT true,
    created_at       timestamptz      NOT NULL DEFAULT now(),
    created_by       text             NOT NULL DEFAULT '',
    CHECK (lsl IS NULL OR usl IS NULL OR lsl < usl),
    CHECK (process_low IS NULL OR process_high IS NULL OR process_low < process_high),
    CHECK ((process_low IS NULL AND process_high IS NULL) OR tag IS NOT NULL)
);

-- One active spec per product, line and characteristic.
CREATE UNIQUE INDEX quality_specs_active_key
    ON quality_specs (product_id, coalesce(line_id, ''), characteristic) WHERE active;

-- Quality events: SPC rule violations, process excursions, nonconformances and
-- overdue inspections, in one append-only stream the alarm system reads
-- (poll by id, or LISTEN quality_events for a wake-up).
CREATE TABLE quality_events (
    id           bigserial   PRIMARY KEY,
    time         timestamptz NOT NULL DEFAULT now(),
    kind         text        NOT NULL CHECK (kind IN ('spc_violation', 'excursion', 'nonconformance',
                                                      'inspection_overdue')),
    severity     text        NOT NULL DEFAULT 'medium' CHECK (severity IN ('low', 'medium', 'high')),
    line_id      text,
    work_order_id bigint,
    source_id    bigint,                     -- id in the table named by kind
    rule         text,                       -- SPC rule code (nelson1, we2, ...)
    message      text        NOT NULL,
    details      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quality_events_time ON quality_events (time);
CREATE UNIQUE INDEX quality_events_once ON quality_events (kind, source_id, coalesce(rule, ''))
    WHERE source_id IS NOT NULL;

CREATE FUNCTION quality_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('quality_events', NEW.id::text);
    RETURN NEW;
END $$;

CREATE TRIGGER quality_events_notify AFTER INSERT ON quality_events
    FOR EACH ROW EXECUTE FUNCTION quality_events_notify();
