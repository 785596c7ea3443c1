-- Inspection plans say what to check, on how many units, and when: every N
-- units, every T minutes, at order start or end, after a changeover. The
-- scheduler turns them into due inspections on the line's to-do list; a record
-- (values, pass/fail, defect codes with counts) closes a due inspection.
CREATE TABLE inspection_plans (
    id             serial           PRIMARY KEY,
    name           text             NOT NULL,
    spec_id        integer          NOT NULL REFERENCES quality_specs (id),
    line_id        text             REFERENCES equipment (id),  -- NULL: every line running the product
    sample_size    integer          NOT NULL DEFAULT 1 CHECK (sample_size >= 1),
    trigger        text             NOT NULL
                   CHECK (trigger IN ('every_units', 'every_minutes', 'order_start', 'order_end', 'changeover')),
    interval_value double precision CHECK (interval_value IS NULL OR interval_value > 0),
    grace_minutes  double precision NOT NULL DEFAULT 15 CHECK (grace_minutes >= 0),
    active         boolean          NOT NULL DEFAULT true,
    created_at     timestamptz      NOT NULL DEFAULT now(),
    CHECK ((trigger IN ('every_units', 'every_minutes')) = (interval_value IS NOT NULL))
);

CREATE TABLE inspections_due (
    id             bigserial   PRIMARY KEY,
    plan_id        integer     NOT NULL REFERENCES inspection_plans (id),
    line_id        text        NOT NULL REFERENCES equipment (id),
    work_order_id  bigint      REFERENCES work_orders (id),
    trigger_key    text        NOT NULL,      -- what made it due (e.g. 'units:200'), one row per key
    due_at         timestamptz NOT NULL,
    status         text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'skipped')),
    done_at        timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (plan_id, work_order_id, trigger_key)
);
CREATE INDEX inspections_due_open ON inspections_due (line_id, due_at) WHERE status = 'open';

CREATE TABLE inspection_records (
    id              bigserial        PRIMARY KEY,
    spec_id         integer          NOT NULL REFERENCES quality_specs (id),
    plan_id         integer          REFERENCES inspection_plans (id),
    due_id          bigint           REFERENCES inspections_due (id),
    work_order_id   bigint           REFERENCES work_orders (id),
    lot_id          bigint           REFERENCES lots (id),
    line_id         text             REFERENCES equipment (id),
    time            timestamptz      NOT NULL DEFAULT now(),
    inspector       text             NOT NULL DEFAULT '',
    source          text             NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'tag')),
    measurements    double precision[] NOT NULL DEFAULT '{}',
    sample_size     integer          NOT NULL CHECK (sample_size >= 1),
    nonconforming   integer          NOT NULL DEFAULT 0 CHECK (nonconforming >= 0),
    passed          boolean          NOT NULL,
    note            text             NOT NULL DEFAULT '',
    created_at      timestamptz      NOT NULL DEFAULT now(),
    CHECK (nonconforming <= sample_size)
);
CREATE INDEX inspection_records_spec_time ON inspection_records (spec_id, time);

CREATE TABLE inspection_defects (
    record_id    bigint  NOT NULL REFERENCES inspection_records (id),
    defect_code  text    NOT NULL,
    count        integer NOT NULL CHECK (count > 0),
    PRIMARY KEY (record_id, defect_code)
);
