-- Job shops (issue 23): work centres, routings per product (versions, operations in sequence
-- or in parallel branches that join), orders that carry a routing with one operation order
-- per step, bundles with tickets, operation reports (scans, counters, PLC, manual), operator
-- attendance for piece-rate output, and read-only share links of an order's tracking page.
-- Quantities in, WIP and status per operation are computed from the reports (mes/routing/).

-- A place an operation is done: a line, a cell, or a manual station with no machine data.
-- It follows the shift calendar of ``line_id``; ``equipment_id`` names its machine data, if any.
CREATE TABLE work_centres (
    id           text PRIMARY KEY CHECK (id ~ '^\S(.*\S)?$'),
    name         text    NOT NULL DEFAULT '',
    kind         text    NOT NULL CHECK (kind IN ('line', 'cell', 'manual')),
    line_id      text    NOT NULL REFERENCES equipment (id),
    equipment_id text REFERENCES equipment (id),
    active       boolean NOT NULL DEFAULT true,
    CHECK (kind = 'manual' OR equipment_id IS NOT NULL)
);

-- A product's routing; a change is a new version, so the orders made on an old one keep it.
CREATE TABLE routings (
    id         bigserial PRIMARY KEY,
    product_id text        NOT NULL REFERENCES products (id),
    version    integer     NOT NULL CHECK (version > 0),
    note       text        NOT NULL DEFAULT '',
    created_by text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (product_id, version)
);

-- Operations by number (10, 20, ...); ``after_seqs`` are the operations that must be done
-- first (several: branches that join here; none: a first operation). SAM = standard allowed
-- minutes per piece; setup minutes once per order.
CREATE TABLE routing_operations (
    routing_id     bigint           NOT NULL REFERENCES routings (id),
    seq            integer          NOT NULL CHECK (seq > 0),
    name           text             NOT NULL,
    work_centre_id text             NOT NULL REFERENCES work_centres (id),
    sam_minutes    double precision NOT NULL CHECK (sam_minutes >= 0 AND sam_minutes <= 10000),
    setup_minutes  double precision NOT NULL DEFAULT 0 CHECK (setup_minutes >= 0 AND setup_minutes <= 100000),
    after_seqs     integer[]        NOT NULL DEFAULT '{}',
    PRIMARY KEY (routing_id, seq)
);

ALTER TABLE work_orders ADD COLUMN routing_id bigint REFERENCES routings (id);

-- One operation order per routing step of an order, copied from the routing when the order
-- was made (what the order was planned with stays its record).
CREATE TABLE operation_orders (
    id             bigserial PRIMARY KEY,
    order_id       bigint           NOT NULL REFERENCES work_orders (id),
    seq            integer          NOT NULL,
    name           text             NOT NULL,
    work_centre_id text             NOT NULL REFERENCES work_centres (id),
    sam_minutes    double precision NOT NULL,
    setup_minutes  double precision NOT NULL,
    after_seqs     integer[]        NOT NULL,
    UNIQUE (order_id, seq)
);

-- Cut bundles: pieces of one size and colour with a ticket whose barcode is ``code``.
CREATE TABLE bundles (
    id         bigserial PRIMARY KEY,
    order_id   bigint      NOT NULL REFERENCES work_orders (id),
    code       text        NOT NULL UNIQUE CHECK (code ~ '^\S(.*\S)?$'),
    quantity   integer     NOT NULL CHECK (quantity > 0),
    size       text        NOT NULL DEFAULT '',
    colour     text        NOT NULL DEFAULT '',
    created_by text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bundles_order ON bundles (order_id);

-- What left an operation: good pieces on to the next operation, scrap, and how many of the
-- good ones were reworked first. ``quantity_in`` is what had entered (for a bundle: what its
-- earlier operations passed on), so good + scrap can never exceed it. One report per bundle
-- and operation (a second scan is the same report); counter and PLC bookings are keyed by
-- their source (``source_key``) so booking the same counts twice books them once.
CREATE TABLE operation_reports (
    id              bigserial PRIMARY KEY,
    operation_id    bigint           NOT NULL REFERENCES operation_orders (id),
    bundle_id       bigint REFERENCES bundles (id),
    source          text             NOT NULL CHECK (source IN ('scan', 'counter', 'plc', 'manual')),
    at              timestamptz      NOT NULL,
    operator        text,
    quantity_in     double precision NOT NULL CHECK (quantity_in >= 0),
    good            double precision NOT NULL CHECK (good >= 0),
    scrap           double precision NOT NULL DEFAULT 0 CHECK (scrap >= 0),
    rework          double precision NOT NULL DEFAULT 0 CHECK (rework >= 0),
    out_of_sequence boolean          NOT NULL DEFAULT false,
    source_key      text UNIQUE,
    by_user         text             NOT NULL,
    recorded_at     timestamptz      NOT NULL DEFAULT now(),
    UNIQUE (operation_id, bundle_id),
    CHECK (good + scrap <= quantity_in),
    CHECK (rework <= good)
);
CREATE INDEX operation_reports_operation_at ON operation_reports (operation_id, at);
CREATE INDEX operation_reports_operator_at ON operation_reports (operator, at) WHERE operator IS NOT NULL;

-- When an operator was at work (clocked in to out) on a line's calendar; efficiency divides
-- earned standard minutes by these minutes inside the shift, less its breaks.
CREATE TABLE operator_attendance (
    id          bigserial PRIMARY KEY,
    operator    text        NOT NULL CHECK (operator ~ '^\S(.*\S)?$'),
    line_id     text        NOT NULL REFERENCES equipment (id),
    period      tstzrange   NOT NULL CHECK (NOT isempty(period) AND NOT upper_inf(period)),
    by_user     text        NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    EXCLUDE USING gist (operator WITH =, period WITH &&)
);

-- Read-only links to one order's tracking page (for a customer or a sales colleague): only the
-- token's SHA-256 is kept; a revoked link shows nothing.
CREATE TABLE order_share_links (
    id         bigserial PRIMARY KEY,
    order_id   bigint      NOT NULL REFERENCES work_orders (id),
    token_hash text        NOT NULL UNIQUE,
    created_by text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_by text,
    revoked_at timestamptz
);
