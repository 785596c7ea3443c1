-- Setpoints and recipes (docs/recipes.md).
--
-- setpoint_tags mirrors the config's writable tags (sync at `run` start and on
-- every config load), so every MES process (`serve`, the CLI) checks roles and
-- limits without the config file; the collector checks the limits again from
-- its own config before it writes.
CREATE TABLE setpoint_tags (
    tag        text PRIMARY KEY,
    unit       text NOT NULL DEFAULT '',
    low        double precision,
    high       double precision,
    roles      text[] NOT NULL DEFAULT '{}',
    tolerance  double precision,
    active     boolean NOT NULL DEFAULT true,
    CHECK (low IS NULL OR high IS NULL OR low < high)
);

-- A recipe is a versioned parameter set for one product on one line or unit.
-- draft → approved → obsolete; approving a version obsoletes the version that
-- was approved before it (one approved version per product and equipment).
CREATE TABLE recipes (
    id               bigserial PRIMARY KEY,
    name             text        NOT NULL,
    product_id       text        NOT NULL REFERENCES products (id),
    equipment_id     text        NOT NULL REFERENCES equipment (id),
    version          integer     NOT NULL CHECK (version >= 1),
    state            text        NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'approved', 'obsolete')),
    second_approval  boolean     NOT NULL DEFAULT false,
    note             text        NOT NULL DEFAULT '',
    created_by       text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    approved_by      text,
    approved_at      timestamptz,
    obsoleted_at     timestamptz,
    UNIQUE (product_id, equipment_id, version),
    CHECK ((state = 'draft') = (approved_by IS NULL) OR state = 'obsolete')
);
CREATE UNIQUE INDEX recipes_one_approved ON recipes (product_id, equipment_id) WHERE state = 'approved';

CREATE TABLE recipe_parameters (
    recipe_id  bigint           NOT NULL REFERENCES recipes (id),
    position   integer          NOT NULL,
    tag        text             NOT NULL,
    value      double precision NOT NULL,
    low        double precision,
    high       double precision,
    unit       text             NOT NULL DEFAULT '',
    PRIMARY KEY (recipe_id, position),
    UNIQUE (recipe_id, tag),
    CHECK (low IS NULL OR high IS NULL OR low <= high)
);

-- One download of a recipe (by hand or at order start) and its per-parameter outcome.
CREATE TABLE recipe_downloads (
    id           bigserial   PRIMARY KEY,
    recipe_id    bigint      NOT NULL REFERENCES recipes (id),
    order_id     bigint      REFERENCES work_orders (id),
    requested_by text        NOT NULL,
    trigger      text        NOT NULL CHECK (trigger IN ('manual', 'order_start')),
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    result       text        CHECK (result IN ('complete', 'partial', 'refused', 'failed')),
    parameters   jsonb       NOT NULL DEFAULT '[]'
);
CREATE INDEX recipe_downloads_order ON recipe_downloads (order_id);
CREATE UNIQUE INDEX recipe_downloads_once_per_order_start ON recipe_downloads (order_id)
    WHERE trigger = 'order_start';

-- A value changed at the device after a download (read ≠ downloaded): the variance watch's events.
CREATE TABLE setpoint_variances (
    id           bigserial        PRIMARY KEY,
    download_id  bigint           NOT NULL REFERENCES recipe_downloads (id),
    equipment_id text             NOT NULL,
    tag          text             NOT NULL,
    expected     double precision NOT NULL,
    actual       double precision,
    detected_at  timestamptz      NOT NULL DEFAULT now(),
    sample_time  timestamptz,
    cleared_at   timestamptz
);
CREATE UNIQUE INDEX setpoint_variances_open ON setpoint_variances (download_id, tag) WHERE cleared_at IS NULL;
