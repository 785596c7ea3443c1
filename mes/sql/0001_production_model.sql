-- MES production model: equipment (ISA-95 levels), products, work orders and their
-- runs, the shift calendar, derived machine states, downtime events with their
-- reasons and corrections, counts, and the derivation watermarks.
-- Times are timestamptz (UTC); the plant time zone is kept on each equipment row
-- so shift calendars and reports can be computed in local time.
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- --------------------------------------------------------------------------- equipment

-- One row per enterprise/site/area/line/work cell. Lines and work cells that have
-- tag bindings are "work units": states and counts are derived for them. A work
-- cell inherits its line's calendar and orders (line_id points at the line).
CREATE TABLE equipment (
    id                  text PRIMARY KEY,
    parent_id           text REFERENCES equipment (id),
    level               text NOT NULL CHECK (level IN ('enterprise', 'site', 'area', 'line', 'work_cell')),
    name                text NOT NULL DEFAULT '',
    line_id             text,
    timezone            text NOT NULL DEFAULT 'UTC',
    active              boolean NOT NULL DEFAULT true,
    shift_pattern       text,
    micro_stop_seconds  double precision NOT NULL DEFAULT 30 CHECK (micro_stop_seconds >= 0),
    minor_stop_loss     text NOT NULL DEFAULT 'performance' CHECK (minor_stop_loss IN ('performance', 'availability')),
    state_tag           text,
    fault_code_tag      text,
    state_default       text NOT NULL DEFAULT 'unknown',
    state_stale_seconds double precision NOT NULL DEFAULT 130 CHECK (state_stale_seconds > 0),
    order_number_tag    text,
    default_pru         double precision CHECK (default_pru > 0),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- Raw PLC state code -> machine state, per work unit.
CREATE TABLE state_codes (
    equipment_id text   NOT NULL REFERENCES equipment (id),
    code         bigint NOT NULL,
    state        text   NOT NULL CHECK (state IN ('running', 'idle', 'starved', 'blocked', 'fault', 'changeover',
                                                  'planned_stop', 'unknown')),
    PRIMARY KEY (equipment_id, code)
);

-- Counter tags per work unit: good, reject, total counts and the energy meter.
CREATE TABLE counter_bindings (
    equipment_id    text             NOT NULL REFERENCES equipment (id),
    kind            text             NOT NULL CHECK (kind IN ('good', 'reject', 'total', 'energy')),
    tag             text             NOT NULL,
    bits            integer          NOT NULL CHECK (bits IN (16, 32, 64)),
    reset_threshold double precision NOT NULL DEFAULT 0.5,
    PRIMARY KEY (equipment_id, kind)
);

-- Reason tree per line: category -> reason, each with its ISO 22400 time element
-- and one of the six big losses; PLC fault codes that map to it automatically.
CREATE TABLE downtime_reasons (
    line_id      text     NOT NULL REFERENCES equipment (id),
    code         text     NOT NULL,
    name         text     NOT NULL,
    category     text     NOT NULL,
    time_element text     NOT NULL CHECK (time_element IN ('ADET', 'AUST', 'PDT', 'ADOT')),
    loss         text     NOT NULL CHECK (loss IN ('breakdown', 'setup', 'minor_stop', 'reduced_speed',
                                                   'startup_reject', 'production_reject', 'planned')),
    fault_codes  bigint[] NOT NULL DEFAULT '{}',
    active       boolean  NOT NULL DEFAULT true,
    PRIMARY KEY (line_id, code)
);

-- --------------------------------------------------------------------------- products, orders

CREATE TABLE products (
    id     text PRIMARY KEY,
    name   text NOT NULL DEFAULT '',
    unit   text NOT NULL DEFAULT 'pcs',
    active boolean NOT NULL DEFAULT true
);

-- PRU, the planned run time per unit (ideal cycle time), per product and line.
CREATE TABLE product_cycle_times (
    product_id       text             NOT NULL REFERENCES products (id),
    line_id          text             NOT NULL REFERENCES equipment (id),
    ideal_cycle_time double precision NOT NULL CHECK (ideal_cycle_time > 0),
    PRIMARY KEY (product_id, line_id)
);

CREATE TABLE work_orders (
    id               bigserial PRIMARY KEY,
    number           text NOT NULL UNIQUE,
    line_id          text NOT NULL REFERENCES equipment (id),
    product_id       text NOT NULL REFERENCES products (id),
    planned_quantity double precision NOT NULL CHECK (planned_quantity > 0),
    due_at           timestamptz,
    status           text NOT NULL DEFAULT 'planned'
                     CHECK (status IN ('planned', 'released', 'running', 'paused', 'completed', 'cancelled')),
    note             text NOT NULL DEFAULT '',
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX work_orders_one_running_per_line ON work_orders (line_id) WHERE status = 'running';
CREATE INDEX work_orders_line_status ON work_orders (line_id, status);

-- Every lifecycle transition, with who and when (the order's status is its projection).
CREATE TABLE work_order_transitions (
    id          bigserial PRIMARY KEY,
    order_id    bigint      NOT NULL REFERENCES work_orders (id),
    from_status text,
    to_status   text        NOT NULL,
    at          timestamptz NOT NULL,
    by_user     text        NOT NULL,
    note        text        NOT NULL DEFAULT '',
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX work_order_transitions_order ON work_order_transitions (order_id, id);

-- The periods an order was running (start/resume to pause/complete). The exclusion
-- constraint is the database's guarantee: at most one running order per line.
CREATE TABLE order_runs (
    id       bigserial PRIMARY KEY,
    order_id bigint    NOT NULL REFERENCES work_orders (id),
    line_id  text      NOT NULL REFERENCES equipment (id),
    period   tstzrange NOT NULL CHECK (NOT isempty(period)),
    EXCLUDE USING gist (line_id WITH =, period WITH &&)
);
CREATE INDEX order_runs_order ON order_runs (order_id);

-- --------------------------------------------------------------------------- shift calendar

-- Shift instances, materialised from the line's pattern in the plant time zone
-- (source 'pattern') or added by hand (source 'override'). POT is their union.
CREATE TABLE shift_instances (
    id         bigserial PRIMARY KEY,
    line_id    text      NOT NULL REFERENCES equipment (id),
    name       text      NOT NULL,
    local_date date      NOT NULL,
    period     tstzrange NOT NULL CHECK (NOT isempty(period)),
    source     text      NOT NULL DEFAULT 'pattern' CHECK (source IN ('pattern', 'override')),
    EXCLUDE USING gist (line_id WITH =, period WITH &&)
);

-- Planned downtime inside shifts: pattern breaks, planned maintenance, meetings.
CREATE TABLE planned_downtime (
    id         bigserial PRIMARY KEY,
    line_id    text        NOT NULL REFERENCES equipment (id),
    period     tstzrange   NOT NULL CHECK (NOT isempty(period)),
    kind       text        NOT NULL DEFAULT 'maintenance',
    source     text        NOT NULL DEFAULT 'manual' CHECK (source IN ('pattern', 'manual')),
    note       text        NOT NULL DEFAULT '',
    created_by text        NOT NULL DEFAULT 'system',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX planned_downtime_line_period ON planned_downtime USING gist (line_id, period);

-- Days without shifts, for every line (line_id NULL) or one line.
CREATE TABLE calendar_holidays (
    id         bigserial PRIMARY KEY,
    day        date        NOT NULL,
    line_id    text REFERENCES equipment (id),
    name       text        NOT NULL DEFAULT '',
    created_by text        NOT NULL DEFAULT 'system',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX calendar_holidays_day_line ON calendar_holidays (day, coalesce(line_id, ''));

-- --------------------------------------------------------------------------- derived states

-- Machine state intervals derived from the state tag through the code map. They
-- tile time from the first sample on; no data / bad quality is 'unknown'.
CREATE TABLE state_intervals (
    id           bigserial PRIMARY KEY,
    equipment_id text      NOT NULL REFERENCES equipment (id),
    period       tstzrange NOT NULL CHECK (NOT isempty(period)),
    state        text      NOT NULL,
    raw_code     bigint,
    fault_code   bigint,
    EXCLUDE USING gist (equipment_id WITH =, period WITH &&)
);

-- --------------------------------------------------------------------------- downtime

-- A split or merge made by a person: who, when, why.
CREATE TABLE downtime_corrections (
    id      bigserial PRIMARY KEY,
    kind    text        NOT NULL CHECK (kind IN ('split', 'merge')),
    by_user text        NOT NULL,
    at      timestamptz NOT NULL DEFAULT now(),
    why     text        NOT NULL DEFAULT ''
);

-- Stops: maximal periods of not running ('stop'), or of no data ('no_data').
-- Derived events are keyed by their start; a split/merge supersedes them with new
-- rows (superseded_by), so the original stays readable.
CREATE TABLE downtime_events (
    id                    bigserial PRIMARY KEY,
    equipment_id          text      NOT NULL REFERENCES equipment (id),
    line_id               text      NOT NULL REFERENCES equipment (id),
    period                tstzrange NOT NULL CHECK (NOT isempty(period)),
    kind                  text      NOT NULL CHECK (kind IN ('stop', 'no_data')),
    state                 text      NOT NULL,
    fault_code            bigint,
    source                text      NOT NULL DEFAULT 'derived' CHECK (source IN ('derived', 'split', 'merge')),
    created_by_correction bigint REFERENCES downtime_corrections (id),
    superseded_by         bigint REFERENCES downtime_corrections (id)
);
CREATE UNIQUE INDEX downtime_events_derived_start ON downtime_events (equipment_id, lower(period))
    WHERE source = 'derived';
CREATE INDEX downtime_events_active ON downtime_events USING gist (equipment_id, period) WHERE superseded_by IS NULL;

-- Reason assignments; the latest one per event is in effect, earlier ones stay as history.
CREATE TABLE downtime_assignments (
    id          bigserial PRIMARY KEY,
    event_id    bigint      NOT NULL REFERENCES downtime_events (id),
    line_id     text        NOT NULL,
    reason_code text        NOT NULL,
    automatic   boolean     NOT NULL DEFAULT false,
    by_user     text        NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    why         text        NOT NULL DEFAULT '',
    FOREIGN KEY (line_id, reason_code) REFERENCES downtime_reasons (line_id, code)
);
CREATE INDEX downtime_assignments_event ON downtime_assignments (event_id, id DESC);

-- --------------------------------------------------------------------------- counts

-- Counter deltas summed per (work unit, cut). A cut ends at a whole minute or at a
-- shift/break/order boundary known when the samples were derived, so every delta
-- in it belongs to the same shift and order. A delta observed at sample time t
-- covers (previous sample, t] and is attributed to the period containing t.
CREATE TABLE count_buckets (
    equipment_id text             NOT NULL REFERENCES equipment (id),
    cut_end      timestamptz      NOT NULL,
    good         double precision NOT NULL DEFAULT 0,
    reject       double precision NOT NULL DEFAULT 0,
    total        double precision NOT NULL DEFAULT 0,
    energy       double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (equipment_id, cut_end)
);

-- Manual count corrections (signed), with who/when/why. A void is a negative row.
CREATE TABLE count_adjustments (
    id           bigserial PRIMARY KEY,
    equipment_id text             NOT NULL REFERENCES equipment (id),
    kind         text             NOT NULL CHECK (kind IN ('good', 'reject', 'total', 'rework')),
    at           timestamptz      NOT NULL,
    quantity     double precision NOT NULL,
    why          text             NOT NULL,
    by_user      text             NOT NULL,
    recorded_at  timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX count_adjustments_unit_at ON count_adjustments (equipment_id, at);

-- --------------------------------------------------------------------------- derivation

-- The last sample processed per work unit and stream: derivation resumes after it.
CREATE TABLE derive_watermarks (
    equipment_id text        NOT NULL REFERENCES equipment (id),
    stream       text        NOT NULL,
    last_time    timestamptz NOT NULL,
    last_value   double precision,
    last_text    text,
    last_usable  boolean     NOT NULL DEFAULT true,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (equipment_id, stream)
);
