-- Process excursions: a bound tag outside the product's process limits for at
-- least the spec's minimum duration while an order ran. Open while end_time is NULL.
CREATE TABLE process_excursions (
    id             bigserial        PRIMARY KEY,
    spec_id        integer          NOT NULL REFERENCES quality_specs (id),
    tag            text             NOT NULL,
    line_id        text             REFERENCES equipment (id),
    work_order_id  bigint           REFERENCES work_orders (id),
    lot_id         bigint           REFERENCES lots (id),
    start_time     timestamptz      NOT NULL,
    end_time       timestamptz,
    direction      text             NOT NULL CHECK (direction IN ('high', 'low')),
    limit_value    double precision NOT NULL,
    worst_value    double precision NOT NULL,
    created_at     timestamptz      NOT NULL DEFAULT now(),
    UNIQUE (spec_id, work_order_id, start_time)
);
CREATE INDEX process_excursions_line_time ON process_excursions (line_id, start_time);

-- How far each (spec, order) has been checked, so checks are incremental.
CREATE TABLE process_check_progress (
    spec_id        integer     NOT NULL REFERENCES quality_specs (id),
    work_order_id  bigint      NOT NULL REFERENCES work_orders (id),
    checked_until  timestamptz NOT NULL,
    PRIMARY KEY (spec_id, work_order_id)
);

-- SPC charts: their source, subgrouping and rules; Phase I limits are stored in
-- `limits` and frozen (Phase II) with who and when.
CREATE TABLE spc_charts (
    id               serial      PRIMARY KEY,
    name             text        NOT NULL UNIQUE,
    spec_id          integer     REFERENCES quality_specs (id),
    chart_type       text        NOT NULL CHECK (chart_type IN ('xbar_r', 'xbar_s', 'imr', 'p', 'np', 'c', 'u')),
    source           text        NOT NULL CHECK (source IN ('inspections', 'tag')),
    tag              text,
    subgroup_size    integer     CHECK (subgroup_size IS NULL OR subgroup_size >= 1),
    subgroup_seconds double precision CHECK (subgroup_seconds IS NULL OR subgroup_seconds > 0),
    rule_set         text        NOT NULL DEFAULT 'nelson' CHECK (rule_set IN ('nelson', 'western_electric')),
    rules            text[],                -- NULL: the rule set's defaults for the chart type
    phase            text        NOT NULL DEFAULT 'phase1' CHECK (phase IN ('phase1', 'phase2')),
    limits           jsonb,
    frozen_at        timestamptz,
    frozen_by        text,
    checked_until    timestamptz,           -- Phase II points up to here have been judged
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (source <> 'tag' OR tag IS NOT NULL),
    CHECK (phase = 'phase1' OR (limits IS NOT NULL AND frozen_at IS NOT NULL))
);

CREATE TABLE spc_violations (
    id           bigserial        PRIMARY KEY,
    chart_id     integer          NOT NULL REFERENCES spc_charts (id),
    rule         text             NOT NULL,
    chart_part   text             NOT NULL DEFAULT 'primary' CHECK (chart_part IN ('primary', 'secondary')),
    point_time   timestamptz      NOT NULL,
    value        double precision NOT NULL,
    description  text             NOT NULL,
    created_at   timestamptz      NOT NULL DEFAULT now(),
    UNIQUE (chart_id, rule, chart_part, point_time)
);
