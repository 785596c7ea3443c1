-- Nonconformances: what was wrong, how many, where it was found, on which order,
-- lot and equipment; then dispositions (scrap, rework, use as is, return to
-- supplier), each approved by someone, until the record is closed. Every change
-- is a history row: who, when, what.
CREATE TABLE nonconformances (
    id              bigserial        PRIMARY KEY,
    description     text             NOT NULL,
    quantity        double precision NOT NULL CHECK (quantity > 0),
    found_at        text             NOT NULL DEFAULT '',    -- where found: station, inspection, customer
    work_order_id   bigint           REFERENCES work_orders (id),
    lot_id          bigint           REFERENCES lots (id),
    line_id         text             REFERENCES equipment (id),
    equipment_id    text             REFERENCES equipment (id),
    product_id      text             REFERENCES products (id),
    defect_code     text,
    spec_id         integer          REFERENCES quality_specs (id),
    source          text             NOT NULL DEFAULT 'manual'
                    CHECK (source IN ('manual', 'inspection', 'excursion', 'spc')),
    source_id       bigint,
    status          text             NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'dispositioned', 'closed')),
    reported_by     text             NOT NULL DEFAULT '',
    time            timestamptz      NOT NULL DEFAULT now(),
    closed_at       timestamptz,
    closed_by       text
);
CREATE INDEX nonconformances_order ON nonconformances (work_order_id);
CREATE INDEX nonconformances_lot ON nonconformances (lot_id);
CREATE UNIQUE INDEX nonconformances_once_per_source ON nonconformances (source, source_id)
    WHERE source <> 'manual' AND source_id IS NOT NULL;

CREATE TABLE nonconformance_dispositions (
    id                 bigserial        PRIMARY KEY,
    nonconformance_id  bigint           NOT NULL REFERENCES nonconformances (id),
    disposition        text             NOT NULL
                       CHECK (disposition IN ('scrap', 'rework', 'use_as_is', 'return_to_supplier')),
    quantity           double precision NOT NULL CHECK (quantity > 0),
    approved_by        text             NOT NULL CHECK (approved_by <> ''),
    note               text             NOT NULL DEFAULT '',
    time               timestamptz      NOT NULL DEFAULT now(),
    count_correction_id bigint           -- the production-count correction it booked, if any
);
CREATE INDEX nonconformance_dispositions_nc ON nonconformance_dispositions (nonconformance_id);

CREATE TABLE nonconformance_history (
    id                 bigserial   PRIMARY KEY,
    nonconformance_id  bigint      NOT NULL REFERENCES nonconformances (id),
    time               timestamptz NOT NULL DEFAULT now(),
    actor              text        NOT NULL DEFAULT '',
    action             text        NOT NULL,
    from_status        text,
    to_status          text,
    note               text        NOT NULL DEFAULT ''
);
